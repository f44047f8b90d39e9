"""LG002: every logged phone call is one the phone system has."""

from __future__ import annotations

import numpy as np

from auditkit.rules.base import Checked, Rule, clock, found, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    contacts, calls = ctx.contacts, ctx.bundle.calls
    first, last = calls["started_at"].min(), calls["started_at"].max()
    # Only where the phone system's log says anything (without one, no contact is examined):
    # from its first call to its last, give or take the minutes a log entry may be off.
    window = contacts["started_at"].between(first - ctx.match_window, last + ctx.match_window)
    examined = ((contacts["channel"] == "phone") & window).to_numpy()
    covered = contacts.loc[
        examined, ["contact_id", "client_id", "staff_id", "started_at", "direction", "outcome"]
    ]
    opportunities = subjects(covered, "contact_id", "started_at")
    missing = ~ctx.matched("contacts")[np.flatnonzero(examined)]
    unmatched = covered[missing]
    span = f"{first:%a %-d %b %Y} to {last:%a %-d %b %Y}" if len(unmatched) else ""
    minutes = ctx.policy.calls.match_minutes
    evidence = (
        "logged "
        + unmatched["direction"]
        + " phone call at "
        + clock(unmatched["started_at"])
        + (", outcome " + unmatched["outcome"]).fillna("")
        + f"; the phone system's log ({span}) has no "
        + unmatched["direction"]
        + f" call with the client's number within {minutes} min of it"
    )
    summary = "The contact log has a phone call the phone system has no record of."
    return Checked(opportunities, found(opportunities[missing], summary, evidence))


RULE = Rule(
    code="LG002",
    name="logged-call-not-placed",
    severity="medium",
    subject="contact",
    policy="The contact log holds every call, voicemail, text and email with or about a client.",
    written=False,
    why="A logged call the phone system never carried was made from another phone (a personal "
    "cell the clinic can't audit), logged against the wrong client, or not made at all.",
    examines="logged phone contacts within the time span of the phone system's log (from "
    "its first call to its last, give or take the match minutes)",
    violating="The log says the therapist called the client at 13:25 and left a voicemail; the "
    "phone system has no call to the client's number that afternoon.",
    compliant="The same log entry, and the phone system's outbound call to the client's number "
    "at 13:24:40.",
    check=check,
    settings=("calls.match_minutes",),
    needs_call_log=True,
)
