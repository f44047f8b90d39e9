"""VM003: a closure warning needs the supervisor's approval first."""

from __future__ import annotations

from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    warnings = subjects(ctx.closure_warnings, "contact_id", "started_at")
    status = ctx.approval_status("closure_warning", warnings)
    evidence = (
        quote(ctx.closure_warnings["evidence"].reset_index(drop=True)) + "; " + status["problem"]
    )
    unapproved = ~status["valid"]
    summary = "The client was warned their file would be closed without a valid approval."
    return Checked(warnings, found(warnings[unapproved], summary, evidence[unapproved]))


RULE = Rule(
    code="VM003",
    name="closure-warning-unapproved",
    severity="high",
    subject="contact",
    policy="If the client has persistently not shown then you you [sic] might add the followig "
    "[sic] but check with [the supervisor] first: \u2018\u2026If I don't hear from you by that "
    "time then I'll assume you are no longer interested in treatment and I'll close your "
    "file.\u2019",
    why="Ending treatment is a clinical decision with risk attached; a trainee must not make it "
    "alone, and the approval is the record that someone senior did.",
    examines="closure warnings (outbound messages to the client warning the file will close)",
    violating="A warning left on Tuesday; the supervisor's approval is dated Thursday.",
    compliant="A supervisor approves on Monday; the warning is left on Tuesday.",
    check=check,
    settings=("approvals.closure_warning",),
)
