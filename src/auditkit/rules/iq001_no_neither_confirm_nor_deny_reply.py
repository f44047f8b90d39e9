"""IQ001: someone asking about a client is neither confirmed nor denied."""

from __future__ import annotations

import pandas as pd

from auditkit.columns import is_in
from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext, pairs_within

_TOLD = ("confirm_or_deny", "client_disclosure")
# A reply logged on its own (an email answered) within this long after an inquiry is its reply.
REPLY_WITHIN = pd.Timedelta(days=14)


def exchanges(ctx: AuditContext) -> pd.DataFrame:
    """The contacts whose words are the clinic's answer to someone asking about a client.

    Inquiries come from anyone but the client (a third party, a caller who would not say, or
    a party not logged), and an inbound one's message is the exchange as logged: the call's
    summary, or the reply written back. A written inquiry (an email, a text) answered by a
    reply logged as a contact of its own, on the same channel, is judged by that reply (the
    inquiry's words are then the asker's); a call's summary is always the clinic's words.
    """
    contacts = ctx.contacts
    asked = (contacts["purpose"] == "inquiry") & (contacts["party"] != "client")
    inbound = contacts["direction"] == "inbound"
    inquiries, replies = contacts[asked & inbound], contacts[asked & ~inbound]
    written = inquiries[inquiries["channel"] != "phone"]
    answered = pairs_within(
        _by_thread(written),
        _by_thread(replies),
        "thread",
        "started_at",
        "started_at",
        REPLY_WITHIN,
        suffixes=("", "_reply"),
    )["contact_id"]
    unanswered = inquiries[~is_in(inquiries["contact_id"], answered)]
    return pd.concat([unanswered, replies]).sort_index()


def _by_thread(contacts: pd.DataFrame) -> pd.DataFrame:
    """Contacts keyed by their thread: the client asked about, on one channel."""
    thread = contacts["client_id"] + " " + contacts["channel"]
    return contacts[["contact_id", "started_at"]].assign(thread=thread)


def check(ctx: AuditContext) -> Checked:
    answers = exchanges(ctx)
    # Names marked: "Yes, Eli is" counts as "Yes, he is" does (a name is any client's, since a
    # caller may ask about anyone); the quote keeps the name, which the audit masks.
    told = ctx.phrases_each(_TOLD, rows=answers.index, names=True)
    confirmed, disclosed = told["confirm_or_deny"], told["client_disclosure"]
    statement = ctx.phrases("ncnd_statement", rows=answers.index)
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
    opportunities = subjects(answers, "contact_id", "started_at")
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
    examines="inquiries about a client from anyone but the client (inbound; an email or text "
    "answered by a reply logged on its own within 14 days is judged by that reply) and such "
    "replies",
    violating="\u201cYes, she comes here on Tuesdays.\u201d",
    compliant="\u201cI cannot confirm that someone is or is not a client in the clinic\u2026\u201d",
    check=check,
)
