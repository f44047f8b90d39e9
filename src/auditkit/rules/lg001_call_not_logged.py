"""LG001: every call the phone system has with a client's number is in the contact log."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.columns import day_start, looked_up, positions_in
from auditkit.rules.base import Checked, Rule, clock, found, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    pairs, log = ctx.call_clients, ctx.bundle.calls
    therapist = ctx.bundle.clients.set_index("client_id")["therapist_id"]
    # A shared number's call is examined once, under the first of its clients. Integer codes
    # are sorted, not a million Arrow strings; order by client as sorting the ids would give.
    client = pd.factorize(pairs["client_id"], sort=True)[0]
    call = pairs["call"].to_numpy()
    # (every pair names a client; as the smallest unsigned integers that hold the codes, as
    # numpy radix-sorts up to 16 bits: six times faster for a clinic of under 65,536 clients)
    by_client = np.argsort(client.astype(np.min_scalar_type(client.max(initial=0))), kind="stable")
    _, first = np.unique(call[by_client], return_index=True)
    examined = by_client[np.sort(first)]
    examined_calls = call[examined]
    # The columns the evidence reads: not the numbers, the largest text in the log.
    read = ["call_id", "started_at", "direction", "result", "duration_seconds", "source"]
    calls = log[read].iloc[examined_calls].reset_index(drop=True)
    calls["client_id"] = pairs["client_id"].array.take(examined)
    calls["staff_id"] = looked_up(therapist, calls["client_id"])
    unlogged = ~ctx.matched("calls")[examined_calls]
    missing = calls[unlogged]
    # How many clients had the number when the call was made, for the calls found only: the
    # finding's own client, and each other client with it on file whose intake was on or before
    # the call's day (or who has no intake date). A count, not their ids: a report cut to one
    # clinician would name another's client and a household link; and a client who came later
    # was no one the call could have been with.
    shared = np.bincount(call, minlength=len(log)) > 1  # shared numbers' calls
    shared[examined_calls[~unlogged]] = False
    rows = np.flatnonzero(shared[call])
    clients = ctx.bundle.clients
    intake = day_start(clients["intake_date"]).array
    came = intake.take(positions_in(pairs["client_id"].iloc[rows], clients["client_id"]))
    counted = pd.isna(came) | (came <= log["started_at"].array.take(call[rows]))
    own = np.zeros(len(pairs), dtype=bool)
    own[examined] = True
    counted |= own[rows]  # the finding's own client, whenever they came
    had = np.bincount(call[rows], weights=counted, minlength=len(log)).astype(np.int64)
    many = pd.Series(had[examined_calls[unlogged]], index=missing.index)
    on_file = ("; the number is on file for " + many.astype("str") + " clients").where(many > 1, "")
    minutes = ctx.policy.calls.match_minutes
    evidence = (
        missing["source"].fillna("phone system")
        + ": "
        + missing["direction"]
        + " call at "
        + clock(missing["started_at"], seconds=True)
        + (", " + missing["duration_seconds"].astype("str") + " s").where(
            missing["duration_seconds"].notna(), ""
        )
        + (", " + missing["result"]).fillna("")
        + f"; no phone contact with the client logged within {minutes} min of it"
        + on_file
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
    written=False,
    why="A call the log doesn't show can't be reviewed: what was said to the client, or left on "
    "their voicemail, is unknown, and the outreach record of a missed session is incomplete.",
    examines="phone-system calls to or from a client's number (the phone system's log, when "
    "the bundle has one)",
    violating="The phone system shows a 2-minute outbound call to the client's number at 13:26; "
    "the contact log has nothing that day.",
    compliant="The same call, and the clinician's log entry of a voicemail left at 13:25.",
    check=check,
    settings=("calls.match_minutes",),
    needs_call_log=True,
)
