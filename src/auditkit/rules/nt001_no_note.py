"""NT001: every missed session is documented in a note within the deadline."""

from __future__ import annotations

from auditkit.columns import is_in
from auditkit.rules.base import Checked, Rule, clock, found, judged_by, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    no_shows = subjects(ctx.no_shows, "appointment_id", "scheduled_start")
    undocumented = ~is_in(no_shows["subject_id"], ctx.documenting_notes["appointment_id"])
    no_shows, undocumented, pending = judged_by(ctx, no_shows, undocumented, ctx.note_deadline)
    missing = no_shows[undocumented.to_numpy()]
    hours = ctx.policy.missed_session.note_within_hours
    evidence = (
        "no note linked to this appointment or describing the missed session between "
        + clock(missing["at"])
        + " and "
        + clock(missing["at"] + ctx.note_deadline)
    )
    summary = f"The missed session was not documented in a note within {hours} hours."
    return Checked(no_shows, found(missing, summary, evidence), pending)


RULE = Rule(
    code="NT001",
    name="missed-session-undocumented",
    severity="high",
    subject="appointment",
    policy="Write a note!",
    why="The note is the clinical and billing record of the missed session and of the outreach; "
    "without it the fee and any later closure have nothing to stand on.",
    examines="no-shows",
    violating="A no-show on Monday; the only note about it is written the next week.",
    compliant="\u201cClient did not show for individual appointment. Therapist called client and "
    "left a message\u2026\u201d written the same afternoon.",
    check=check,
    settings=("missed_session.note_within_hours",),
)
