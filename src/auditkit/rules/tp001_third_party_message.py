"""TP001: a third party who answers gets no message and learns nothing."""

from __future__ import annotations

from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    calls = ctx.outbound_calls
    # Someone the caller could not tell was the client gets the third party's script as well:
    # "Is <client name> there?" comes before anything else is said.
    unsure = (calls["party"] == "unknown") & (calls["outcome"] == "answered")
    answered_by_other = calls[(calls["party"] == "third_party") | unsure]
    rows = answered_by_other.index
    # Names marked: "tell Ana to call me" is a message as "tell her to call me" is.
    told = ctx.phrases_each(["message_left", "caller_disclosure"], rows=rows, names=True)
    named = ctx.phrases("clinic_name", rows=rows)
    evidence = (
        ("left a message: " + quote(told["message_left"]))
        .fillna("disclosed: " + quote(told["caller_disclosure"]))
        .fillna("named the clinic: " + quote(named))
    )
    breach = evidence.notna()
    who = answered_by_other.loc[breach, "party"].map(
        {"third_party": "A third party", "unknown": "Someone not known to be the client"}
    )
    summary = who + " answered and was given a message or told who was calling."
    opportunities = subjects(answered_by_other, "contact_id", "started_at")
    return Checked(
        opportunities, found(opportunities[breach.to_numpy()], summary, evidence[breach])
    )


RULE = Rule(
    code="TP001",
    name="third-party-told",
    severity="high",
    subject="contact",
    policy="Hi. Is <client name> there? No, no message. I'll try again. I can't say who "
    "this is but thank you. I'll try again.",
    why="Whoever picks up may not know the client is in therapy; a message or a name tells them.",
    examines="outbound calls answered by a third party, or by someone not known to be the client",
    violating="\u201cCould you tell her that her therapist called about her appointment?\u201d",
    compliant="\u201cIs Alex there? No, no message. I'll try again. I can't say who this is but "
    "thank you.\u201d",
    check=check,
    settings=("clinic.name", "clinic.aliases", "calls.match_minutes"),
)
