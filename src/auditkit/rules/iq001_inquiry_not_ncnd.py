"""IQ001: someone asking about a client is neither confirmed nor denied."""

from __future__ import annotations

from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    contacts = ctx.contacts
    inquiries = contacts[
        (contacts["direction"] == "inbound")
        & (contacts["party"] == "third_party")
        & (contacts["purpose"] == "inquiry")
    ]
    confirmed = ctx.phrases("confirm_or_deny", rows=inquiries.index)
    disclosed = ctx.phrases("client_disclosure", rows=inquiries.index)
    statement = ctx.phrases("ncnd_statement", rows=inquiries.index)
    evidence = (
        ("confirmed or denied: " + quote(confirmed))
        .fillna("disclosed: " + quote(disclosed))
        .mask(
            confirmed.isna() & disclosed.isna() & statement.isna(),
            "the reply has no neither-confirm-nor-deny statement",
        )
    )
    breach = evidence.notna()
    summary = "An inquiry about a client was not met with the neither-confirm-nor-deny reply."
    opportunities = subjects(inquiries, "contact_id", "started_at")
    return Checked(
        opportunities, found(opportunities[breach.to_numpy()], summary, evidence[breach])
    )


RULE = Rule(
    code="IQ001",
    name="inquiry-not-neither-confirm-nor-deny",
    severity="high",
    subject="contact",
    policy="I hear your concern, I cannot confirm that someone is or is not a client in the "
    "clinic and so I cannot respond to your questions. If you are concerned for safety, then I can "
    "provide general recommendations.",
    why="Even confirming that someone is a client discloses protected health information.",
    opportunities="inbound inquiries about a client from a third party",
    violating="\u201cYes, she comes here on Tuesdays.\u201d",
    compliant="\u201cI cannot confirm that someone is or is not a client in the clinic\u2026\u201d",
    check=check,
)
