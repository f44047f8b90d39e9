"""NT002: the missed-session note carries every element of the policy's example note."""

from __future__ import annotations

import pandas as pd

from auditkit.columns import is_in
from auditkit.rules.base import Checked, Rule, found, subjects
from auditkit.rules.context import AuditContext, pairs_within

# Note element category -> how a finding names it when it is missing.
ELEMENTS = {
    "note_no_show": "that the client did not show",
    "note_outreach": "the outreach call or message",
    "note_fee": "the missed-session fee",
    "note_next_appointment": "the next appointment with its date",
}
CONFIRM_BY = "the date by which the client must confirm"


def check(ctx: AuditContext) -> Checked:
    documenting = ctx.documenting_notes.drop_duplicates("note_id").reset_index(drop=True)
    notes = ctx.notes
    rows = notes.index[documenting["note_row"].to_numpy()]
    shows = ctx.phrases_each([*ELEMENTS, "note_confirm_by"], "notes", rows, words=False)
    absent = pd.DataFrame(
        {label: ~shows[category].to_numpy() for category, label in ELEMENTS.items()}
    )
    warned_pairs = pairs_within(
        documenting[["appointment_id", "client_id", "scheduled_start"]],
        ctx.closure_warnings[["client_id", "started_at"]],
        "client_id",
        "scheduled_start",
        "started_at",
        ctx.call_deadline,
    )
    warned = is_in(documenting["appointment_id"], warned_pairs["appointment_id"])
    absent[CONFIRM_BY] = warned.to_numpy() & ~shows["note_confirm_by"].to_numpy()
    incomplete = absent.any(axis=1)
    missing_words = pd.Series("", index=absent.index)
    for label in absent.columns:
        missing_words += absent[label].map({True: label + "; ", False: ""})
    evidence = "the note lacks " + missing_words.str.removesuffix("; ")
    documenting["staff_id"] = notes.loc[rows, "staff_id"].to_numpy()
    opportunities = subjects(documenting, "note_id", "written_at")
    summary = "The missed-session note leaves out something the policy's note includes."
    return Checked(opportunities, found(opportunities[incomplete], summary, evidence[incomplete]))


RULE = Rule(
    code="NT002",
    name="missed-session-note-incomplete",
    severity="medium",
    subject="note",
    policy="Client did not show for individual appointment. Therapist called client and left a "
    "message for client to call and confirm the next appointment. Therapist also informed client "
    "in message of late fee charged. Next appoint is on DATE. Client was asked to call therapist "
    "by DATE at 5:PM to confirm next appointment to avoid any additional charges.",
    why="Whoever reads the chart next (a supervisor, billing, the next trainee) needs to know what "
    "the client was told and when they are expected back.",
    examines="notes documenting a no-show",
    violating="\u201cPt FTA. LVM.\u201d (no fee, no next appointment)",
    compliant="\u201cPt FTA for indiv appt. T called pt, LVM re late fee. "
    "Next appt 3/14/2026.\u201d",
    check=check,
    settings=("missed_session.note_within_hours", "missed_session.call_within_hours"),
)
