"""VM004: a closure warning is for persistent no-shows only."""

from __future__ import annotations

import pandas as pd

from auditkit.columns import on_the_clock
from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    rules = ctx.policy.missed_session
    warnings = subjects(ctx.closure_warnings, "contact_id", "started_at")
    history = warnings.reset_index(names="warning").merge(
        ctx.no_shows[["client_id", "scheduled_start"]], on="client_id"
    )
    # Calendar days on the clinic's clock: 13:00 ninety days back is in the look-back whether
    # or not a change of the clocks lies between (24-hour days would put it an hour out).
    at = history["at"]
    since = on_the_clock(at.dt.tz_localize(None) - pd.Timedelta(days=rules.lookback_days), at.dt.tz)
    recent = history[(history["scheduled_start"] >= since) & (history["scheduled_start"] <= at)]
    counts = recent.groupby("warning").size().reindex(warnings.index, fill_value=0)
    premature = counts < rules.persistent_no_shows
    evidence = (  # the warning's words quoted, as VM003 quotes them
        quote(ctx.closure_warnings["evidence"].reset_index(drop=True))
        + "; "
        + counts.astype(str)
        + f" no-show(s) in the {rules.lookback_days} days up to the warning; the policy asks for "
        + f"{rules.persistent_no_shows}"
    )
    summary = "The client was warned about closure before a persistent pattern of no-shows."
    return Checked(warnings, found(warnings[premature], summary, evidence[premature]))


RULE = Rule(
    code="VM004",
    name="closure-warning-premature",
    severity="low",
    subject="contact",
    policy="If the client has persistently not shown then you you [sic] might add the followig "
    "[sic] [closure warning]\u2026",
    why="Threatening closure after a single miss can push away a client who would have come back; "
    "the warning is meant for a pattern.",
    examines="closure warnings",
    violating="A closure warning after the client's first no-show in three months.",
    compliant="A closure warning after the client's second no-show in three months.",
    check=check,
    settings=("missed_session.persistent_no_shows", "missed_session.lookback_days"),
)
