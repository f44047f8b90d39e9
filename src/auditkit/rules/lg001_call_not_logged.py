"""LG001: every call the phone system has with a client's number is in the contact log."""

from __future__ import annotations

from auditkit.columns import is_in
from auditkit.rules.base import Checked, Rule, found, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    pairs = ctx.call_clients
    therapist = ctx.bundle.clients.set_index("client_id")["therapist_id"]
    # A shared number's call is examined once, under the first of its clients.
    calls = pairs.sort_values("client_id", kind="stable").drop_duplicates("call_id")
    calls = calls.assign(staff_id=calls["client_id"].map(therapist))
    missing = calls[~is_in(calls["call_id"], ctx.call_matches["call_id"])]
    shared = pairs[pairs.duplicated("call_id", keep=False)].sort_values("client_id")
    sharers = shared.groupby("call_id")["client_id"].agg(", ".join)
    on_file = "; the number is on file for " + missing["call_id"].map(sharers).astype("str")
    minutes = ctx.policy.calls.match_minutes
    evidence = (
        missing["source"].fillna("phone system")
        + ": "
        + missing["direction"]
        + " call at "
        + missing["started_at"].dt.strftime("%a %-d %b %Y %H:%M:%S")
        + (", " + missing["duration_seconds"].astype("str") + " s").where(
            missing["duration_seconds"].notna(), ""
        )
        + (", " + missing["result"]).fillna("")
        + f"; no phone contact with the client logged within {minutes} min of it"
        + on_file.fillna("")
    )
    summary = "The phone system has a call with the client's number that nobody logged."
    return Checked(
        subjects(calls, "call_id", "started_at"),
        found(subjects(missing, "call_id", "started_at"), summary, evidence),
    )


RULE = Rule(
    code="LG001",
    name="call-not-logged",
    severity="medium",
    subject="call",
    policy="The contact log holds every call, voicemail, text and email with or about a client.",
    why="A call the log doesn't show can't be reviewed: what was said to the client, or left on "
    "their voicemail, is unknown, and the outreach record of a missed session is incomplete.",
    opportunities="phone-system calls to or from a client's number (the phone system's log, when "
    "the bundle has one)",
    violating="The phone system shows a 2-minute outbound call to the client's number at 13:26; "
    "the contact log has nothing that day.",
    compliant="The same call, and the clinician's log entry of a voicemail left at 13:25.",
    check=check,
)
