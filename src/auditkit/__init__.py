"""auditkit: audit a clinic's phone contacts against its phone-contact policy.

The pipeline is four plain functions over frames: ``load`` (read and validate a bundle),
``audit`` (run every policy rule), then a report or a dashboard over the result.

The names below are imported on first use, so the `auditkit` command can decide what its
process imports before pandas, pandera and altair come in (see cli.run).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditkit.auditing import AuditResult, audit
    from auditkit.policy import Policy, load_policy
    from auditkit.validation import Bundle, load

_HOMES = {
    "AuditResult": "auditkit.auditing",
    "audit": "auditkit.auditing",
    "Policy": "auditkit.policy",
    "load_policy": "auditkit.policy",
    "Bundle": "auditkit.validation",
    "load": "auditkit.validation",
}
__all__ = ["AuditResult", "Bundle", "Policy", "audit", "load", "load_policy"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
