"""IQ001: someone asking about a client is neither confirmed nor denied."""

from __future__ import annotations

import pandas as pd

from auditkit import text
from auditkit.privacy import client_marker
from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext

_TOLD = ("confirm_or_deny", "client_disclosure")


def _told(ctx: AuditContext, rows: pd.Index) -> dict[str, pd.Series]:
    """The words of each reply that confirm or deny, and that disclose (NA where none).

    The phrases are read as every rule reads them (once per audit, policy extras included);
    replies they leave without a quote are read again with client names marked
    (privacy.client_marker), where "Eli has been doing better" counts as "he has been doing
    better" does: a name is any client's, since a caller may ask about anyone. The quote keeps
    the reply's own words, name included, which the audit masks as [client] unless show_names.
    The neither-confirm-nor-deny statement needs no second reading: any word may be its subject.
    """
    told = ctx.phrases_each(_TOLD, rows=rows)
    unquoted = rows[(told[_TOLD[0]].isna() | told[_TOLD[1]].isna()).to_numpy()]
    if not len(unquoted):
        return told
    messages = ctx.bundle.tables["contacts"]["message"].loc[unquoted]
    extras = {category: ctx.policy.phrases.get(category, ()) for category in _TOLD}
    again = text.find_each(_TOLD, messages, extras, mark=client_marker(ctx.bundle))
    return {
        category: told[category].fillna(
            again[category].str.replace(text.NAME_MARK, "", regex=False)
        )
        for category in _TOLD
    }


def check(ctx: AuditContext) -> Checked:
    contacts = ctx.contacts
    inquiries = contacts[
        (contacts["direction"] == "inbound")
        & (contacts["party"] == "third_party")
        & (contacts["purpose"] == "inquiry")
    ]
    told = _told(ctx, inquiries.index)
    confirmed, disclosed = told["confirm_or_deny"], told["client_disclosure"]
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
    name="no-neither-confirm-nor-deny-reply",
    severity="high",
    subject="contact",
    policy="I hear your concern, I cannot confirm that someone is or is not a client in the "
    "clinic and so I cannot respond to your questions. If you are concerned for safety, then I can "
    "provide general recommendations.",
    why="Even confirming that someone is a client discloses protected health information.",
    examines="inbound inquiries about a client from a third party",
    violating="\u201cYes, she comes here on Tuesdays.\u201d",
    compliant="\u201cI cannot confirm that someone is or is not a client in the clinic\u2026\u201d",
    check=check,
)
