"""MS003: outreach leaves a voicemail; calls that all rang out, or that only a third party
answered, left the client uninformed."""

from __future__ import annotations

import pandas as pd

from auditkit.columns import positions_in
from auditkit.rules.base import (
    SUBJECT_COLUMNS,
    Checked,
    Rule,
    clock,
    found,
    judged_by,
    subjects,
)
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    calls = ctx.window_calls
    # A third party who answers is told nothing (TP001), so the client hears no more than from
    # a call that rang out: the policy's script for them ends "I'll try again".
    to_other = calls["party"] == "third_party"
    calls = calls.assign(rang_out=(calls["outcome"] == "no_answer") & ~to_other, to_other=to_other)
    per_no_show = calls.groupby("appointment_id").agg(
        calls=("contact_id", "size"),
        rang_out=("rang_out", "sum"),
        to_other=("to_other", "sum"),
        first=("started_at", "min"),
        last=("started_at", "max"),
    )
    no_shows = ctx.no_shows
    # The no-shows called (window_calls pairs calls with no-shows: each is one), in
    # per_no_show's order (by id), found by Arrow's hash rather than an index of id strings.
    tried = no_shows.iloc[positions_in(per_no_show.index.to_series(), no_shows["appointment_id"])]
    stats = per_no_show.reset_index(drop=True)
    tried = subjects(tried, "appointment_id", "scheduled_start").join(stats)
    # Another call may yet leave the voicemail while the call deadline runs.
    unreached = stats["rang_out"] + stats["to_other"] == stats["calls"]
    tried, unreached, pending = judged_by(ctx, tried, unreached, ctx.call_deadline)
    stats = tried[unreached.to_numpy()]  # words for the findings only
    ended = (
        stats["rang_out"].astype(str)
        + " ended no_answer and "
        + stats["to_other"].astype(str)
        + " reached a third party"
    )
    ended = ended.mask(stats["to_other"] == 0, "every one ended no_answer")
    ended = ended.mask(stats["rang_out"] == 0, "every one reached a third party")
    several = (
        stats["calls"].astype(str)
        + " calls between "
        + clock(stats["first"])
        + " and "
        + clock(stats["last"])
        + ", "
        + ended
    )
    one = ("1 call, at " + clock(stats["first"]) + ", ").str.cat(
        ended.str.replace("every one ", "", regex=False)
    )
    evidence = several.where(stats["calls"] > 1, one) + ": no voicemail was left"
    summary = pd.Series(
        "Every outreach call for this missed session rang out; no voicemail was left.", stats.index
    ).mask(
        stats["to_other"] > 0,
        "No outreach call for this missed session reached the client or their voicemail: each "
        "rang out or reached a third party.",
    )
    return Checked(tried[SUBJECT_COLUMNS], found(stats, summary, evidence), pending)


RULE = Rule(
    code="MS003",
    name="no-voicemail-left",
    severity="medium",
    subject="appointment",
    policy="If a client misses a session then call the client and leave a voicemail after "
    "20-minutes of waiting.",
    why="A call that rings out, or that someone else answers, tells the client nothing: they "
    "don't hear about the fee or how to confirm their next appointment. A full mailbox or wrong "
    "number is a different problem.",
    examines="no-shows with at least one outreach call",
    violating="Two calls after a no-show: one ended no_answer, a parent answered the other "
    "and was told nothing, and no call after them.",
    compliant="A no_answer call, then a second call that left a voicemail.",
    check=check,
    settings=("missed_session.call_within_hours", "calls.match_minutes"),
)
