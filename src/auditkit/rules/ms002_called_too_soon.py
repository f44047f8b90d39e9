"""MS002: the outreach call waits the policy's minutes after the scheduled start."""

from __future__ import annotations

from auditkit.rules.base import (
    Checked,
    Rule,
    day_of,
    found,
    hours_minutes,
    subjects,
    wall_time,
)
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    calls = ctx.outreach_calls
    early = calls[calls["after"] < ctx.wait]
    wait = ctx.policy.missed_session.wait_minutes
    evidence = (
        "called "
        + wall_time(early["started_at"])
        + ", "
        + hours_minutes(early["after"])
        + " after the "
        + wall_time(early["scheduled_start"])
        + " start of the missed session on "
        + day_of(early["scheduled_start"])
    )
    summary = f"The client was called before the policy's {wait}-minute wait had passed."
    opportunities = subjects(calls, "contact_id", "started_at", "staff_id_caller")
    findings = found(
        subjects(early, "contact_id", "started_at", "staff_id_caller"), summary, evidence
    )
    return Checked(opportunities, findings)


RULE = Rule(
    code="MS002",
    name="called-too-soon",
    severity="medium",
    subject="contact",
    policy="If a client misses a session then call the client and leave a voicemail after "
    "20-minutes of waiting.",
    why="A client running late may still arrive; calling before the wait is over can feel like "
    "pressure and mislabels a late arrival as a no-show.",
    examines="outreach calls (outbound calls within the call deadline of a no-show, each "
    "judged from the latest no-show it may answer)",
    violating="A 13:00 session; the therapist calls at 13:08.",
    compliant="A 13:00 session; the therapist calls at 13:25.",
    check=check,
    settings=(
        "missed_session.wait_minutes",
        "missed_session.call_within_hours",
        "calls.match_minutes",
    ),
)
