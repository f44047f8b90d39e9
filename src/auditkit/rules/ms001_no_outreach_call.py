"""MS001: every missed session gets an outreach call within the call deadline."""

from __future__ import annotations

from auditkit.columns import is_in
from auditkit.rules.base import Checked, Rule, clock, found, judged_by, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    no_shows = subjects(ctx.no_shows, "appointment_id", "scheduled_start")
    uncalled = ~is_in(no_shows["subject_id"], ctx.window_calls["appointment_id"])
    no_shows, uncalled, pending = judged_by(ctx, no_shows, uncalled, ctx.call_deadline)
    missed = no_shows[uncalled.to_numpy()]
    hours = ctx.policy.missed_session.call_within_hours
    evidence = (
        "no outbound call to the client between the start, "
        + clock(missed["at"])
        + ", and "
        + clock(missed["at"] + ctx.call_deadline)
    )
    # The contact log, not the phone system's: a call placed but never logged is LG001's.
    summary = (
        f"The client missed this session and the contact log has no call to them within "
        f"{hours} hours."
    )
    return Checked(no_shows, found(missed, summary, evidence), pending)


RULE = Rule(
    code="MS001",
    name="no-outreach-call",
    severity="high",
    subject="appointment",
    policy="If a client misses a session then call the client and leave a voicemail after "
    "20-minutes of waiting.",
    why="A client who no-shows and hears nothing may drop out of treatment unnoticed; the call "
    "is also how they learn about the fee before their next visit.",
    examines="no-shows",
    violating="A no-show at 13:00 Monday; the next call to the client is Wednesday.",
    compliant="A no-show at 13:00; the therapist calls at 13:25 and leaves a voicemail.",
    check=check,
    settings=("missed_session.call_within_hours", "calls.match_minutes"),
)
