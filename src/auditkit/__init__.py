"""auditkit: audit a clinic's phone contacts against its phone-contact policy.

The pipeline is four plain functions over frames: ``load`` (read and validate a bundle),
``audit`` (run every policy rule), then a report or a dashboard over the result.
"""

from auditkit.auditing import AuditResult, audit
from auditkit.policy import Policy, load_policy
from auditkit.validation import Bundle, load

__all__ = ["AuditResult", "Bundle", "Policy", "audit", "load", "load_policy"]
