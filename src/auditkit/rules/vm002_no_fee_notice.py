"""VM002: the outreach voicemail tells the client about the missed-session charge."""

from __future__ import annotations

import pandas as pd

from auditkit.rules.base import Checked, Rule, clock, found, subjects, wall_time
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    outreach = ctx.outreach_calls[ctx.outreach_calls["outcome"] == "voicemail"]
    rows = pd.Index(outreach["contact_row"])
    told = ctx.phrases_each(["fee_notice"], rows=rows, words=False)["fee_notice"]
    missing = outreach[~told.to_numpy()]
    evidence = (
        "voicemail at "
        + wall_time(missing["started_at"])
        + " after the missed session of "
        + clock(missing["scheduled_start"])
        + " says nothing about the missed-session charge"
    )
    summary = "The outreach voicemail did not tell the client about the missed-session fee."
    opportunities = subjects(outreach, "contact_id", "started_at", "staff_id_caller")
    hits = subjects(missing, "contact_id", "started_at", "staff_id_caller")
    return Checked(opportunities, found(hits, summary, evidence))


RULE = Rule(
    code="VM002",
    name="no-fee-notice",
    severity="low",
    subject="contact",
    policy="Since I didn't hear from you in 24-hours, I wanted to remind you that you'll be "
    "charged for the missed session.",
    why="A client who is not told of the fee is surprised at the next visit; the policy's script "
    "exists so the charge never comes unannounced.",
    examines="outreach voicemails (voicemails within the call deadline of a no-show)",
    violating="\u201cHi, it's Sam, we missed you today, call me back.\u201d",
    compliant="\u201c…I wanted to remind you that you'll be charged for the missed session.\u201d",
    check=check,
    settings=("missed_session.call_within_hours", "calls.match_minutes"),
)
