"""LG001: every call the phone system has with a client's number is in the contact log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.columns import day_start, join_text, looked_up, positions_in
from auditkit.phones import CLIENT_NUMBER_READS, clinic_numbers, numbers_on_file
from auditkit.rules.base import Checked, Rule, clock, found, subjects
from auditkit.rules.context import AuditContext


@dataclass(frozen=True)
class Whose:
    """Whose each call of the phone system's log is, a call per client it can be for (see
    `whose`): `call` its row in the log, `client_id` and `staff_id` whom it is charged to (NA
    where the records leave it open), and per call of the log, `holders` (how many clients it
    could be for by their intake) and `left` (how many the line left)."""

    call: np.ndarray
    client_id: pd.Series
    staff_id: pd.Series
    holders: np.ndarray
    left: np.ndarray
    kept: np.ndarray  # of call_clients' pairs, those still open for their call


def _narrowed(kept: np.ndarray, preferred: np.ndarray, call: np.ndarray, calls: int) -> np.ndarray:
    """Of each call's kept rows, the preferred ones, where it has any; else all it kept."""
    some = np.bincount(call, weights=kept & preferred, minlength=calls) > 0
    return kept & (preferred | ~some[call])


def whose(ctx: AuditContext) -> Whose:
    """Each call with a client's number, charged to one client: the one the log names, or the
    one whose logged call it was matched to; else, of the clients with the number on file
    (siblings share a parent's phone), those whose intake was by the call's day (none had come:
    all of them, as the one client of a number is whenever they came), and of those, the ones
    whose clinician's own line (staff.phone) the call was on. Where several are left, it is
    charged to no client, and to their clinician only if they have the same one."""
    pairs, log = ctx.call_clients, ctx.bundle.calls
    clients, staff = ctx.bundle.clients, ctx.bundle.staff
    calls = len(log)
    call = pairs["call"].to_numpy()
    kept = np.ones(len(pairs), dtype=bool)
    # Only a shared number's calls have a choice: a row per client with the number.
    rows = np.flatnonzero(np.bincount(call, minlength=calls)[call] > 1)
    their_call = call[rows]
    client = positions_in(pairs["client_id"].iloc[rows], clients["client_id"])
    matches = ctx.call_matches
    matched_to = np.full(calls, -1, dtype=np.int64)
    matched_to[matches["call"].to_numpy()] = matches["client"].to_numpy()
    intake = day_start(clients["intake_date"]).array.take(client)
    came = pd.isna(intake) | (intake <= log["started_at"].array.take(their_call))
    therapist = clients["therapist_id"].iloc[client].reset_index(drop=True)
    ends = log[list(CLIENT_NUMBER_READS)].iloc[their_call]
    lines = pd.DataFrame(
        {"number": clinic_numbers(ends).to_numpy(), "staff_id": therapist.to_numpy()}
    ).merge(numbers_on_file(staff, "staff_id").assign(on_line=True), how="left")
    logged_for = matched_to[their_call] == client
    chosen = _narrowed(np.ones(len(rows), dtype=bool), logged_for, their_call, calls)
    chosen = _narrowed(chosen, np.asarray(came, dtype=bool), their_call, calls)
    holders = np.bincount(their_call, weights=chosen, minlength=calls).astype(np.int64)
    chosen = _narrowed(chosen, lines["on_line"].notna().to_numpy(), their_call, calls)
    left = np.bincount(their_call, weights=chosen, minlength=calls).astype(np.int64)
    kept[rows] = chosen
    # Their clinician, where every client left has the same one: codes compared, -1 none.
    code = np.full(len(rows), -1, dtype=np.int64)
    code[chosen] = pd.factorize(therapist[chosen])[0]
    lowest, highest = np.full(calls, np.iinfo(np.int64).max), np.full(calls, -1)
    np.minimum.at(lowest, their_call[chosen], code[chosen])
    np.maximum.at(highest, their_call[chosen], code[chosen])
    one_clinician = (lowest == highest) & (highest >= 0)
    # Each call once, under the first pair kept for it, in the log's order.
    order = np.flatnonzero(kept)
    _, first = np.unique(call[order], return_index=True)
    examined = order[first]
    examined_calls = call[examined]
    therapists = clients.set_index("client_id")["therapist_id"]
    client_id = pd.Series(pairs["client_id"].array.take(examined))
    staff_id = looked_up(therapists, client_id)
    open_ = left[examined_calls] > 1
    return Whose(
        examined_calls,
        client_id.mask(open_),
        staff_id.mask(open_ & ~one_clinician[examined_calls]),
        holders,
        left,
        kept,
    )


def _open_clients(ctx: AuditContext, held: Whose, calls: np.ndarray) -> pd.Series:
    """For each of `calls` (rows in the log, in order), the clients it is still open between,
    by id in order: 'C3 and C4', 'C3, C4 and C5'."""
    pairs = ctx.call_clients
    wanted = np.zeros(len(held.left), dtype=bool)
    wanted[calls] = True
    rows = np.flatnonzero(held.kept & wanted[pairs["call"].to_numpy()])
    named = pd.DataFrame(
        {"call": pairs["call"].to_numpy()[rows], "client_id": pairs["client_id"].array.take(rows)}
    ).sort_values(["call", "client_id"], ignore_index=True)
    group = np.searchsorted(calls, named["call"].to_numpy())  # (calls are in order)
    sizes = np.bincount(group, minlength=len(calls))
    starts = np.cumsum(sizes) - sizes
    place = np.arange(len(named)) - starts[group]
    last = (place == sizes[group] - 1) & (place > 0)
    before = pd.Series(np.where(last, " and ", np.where(place > 0, ", ", "")), index=named.index)
    words = join_text([before, named["client_id"]], named.index)
    offsets = pa.array(np.append(starts, len(named)), pa.int32())
    listed = pa.ListArray.from_arrays(offsets, pa.array(words, pa.large_string()))
    return pd.Series(pc.binary_join(listed, pa.scalar("", pa.large_string())), dtype="str")


def check(ctx: AuditContext) -> Checked:
    log = ctx.bundle.calls
    held = whose(ctx)
    # The columns the evidence reads: not the numbers, the largest text in the log.
    read = ["call_id", "started_at", "direction", "result", "duration_seconds", "source"]
    calls = log[read].iloc[held.call].reset_index(drop=True)
    calls["client_id"] = held.client_id.array
    calls["staff_id"] = held.staff_id.array
    unlogged = ~ctx.matched("calls")[held.call]
    missing = calls[unlogged]
    found_calls = held.call[unlogged]
    # A shared number is told of only for the calls found. A count, not the clients' ids, where
    # the call is charged to one of them: a report cut to one clinician would name another's
    # client and a household link; and a client who came later was no one the call could have
    # been with. Where it is charged to none, the clients it can have been with, for the QA
    # reviewer to settle: their clinician's report holds it only if all are theirs.
    holders = pd.Series(held.holders[found_calls], index=missing.index)
    left = held.left[found_calls]
    by_line = (
        "; the number is on file for "
        + holders.astype("str")
        + " clients, and the call was on this client's clinician's line"
    ).where((holders > 1) & (left == 1), "")
    open_ = left > 1
    between = pd.Series(pd.NA, index=missing.index, dtype="str")
    if open_.any():
        between[open_] = _open_clients(ctx, held, found_calls[open_]).to_numpy()
    theirs = pd.Series(
        np.where(left > 2, ", all this clinician's", ", both this clinician's"), index=missing.index
    ).where(missing["staff_id"].notna(), "")
    unsettled = (
        "; the number is on file for clients "
        + between
        + theirs
        + ", and nothing in the records shows which of them the call was with"
        + pd.Series(": it is charged to no clinician", index=missing.index).where(
            missing["staff_id"].isna(), ""
        )
    )
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
        + unsettled.where(open_, by_line)
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
    "the bundle has one), each once: a call to a number several clients share under the client "
    "it was logged for, else the one it can be for (taken in by the call's day; then the one "
    "whose clinician's own line, staff.phone, it was on), else under no client, and under no "
    "clinician unless those clients all have the same one",
    violating="The phone system shows a 2-minute outbound call to the client's number at 13:26; "
    "the contact log has nothing that day.",
    compliant="The same call, and the clinician's log entry of a voicemail left at 13:25.",
    check=check,
    settings=("calls.match_minutes",),
    needs_call_log=True,
)
