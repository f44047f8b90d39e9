"""PC001: the phone is for scheduling, unless phone coaching was approved."""

from __future__ import annotations

from auditkit.rules.base import Checked, Rule, found, quote, subjects
from auditkit.rules.context import AuditContext


def check(ctx: AuditContext) -> Checked:
    contacts = ctx.contacts
    # A text from the clinic's phone is the phone too: coaching by text is phone coaching. A
    # text received is the client's own words, where a call's log sums up both sides.
    sent_text = (contacts["channel"] == "text") & (contacts["direction"] == "outbound")
    with_client = contacts.loc[
        ((contacts["channel"] == "phone") | sent_text) & (contacts["party"] == "client"),
        ["contact_id", "client_id", "staff_id", "started_at", "purpose"],
    ]
    content = ctx.phrases("coaching_content", rows=with_client.index)
    purpose = with_client["purpose"]
    beyond = ("purpose " + purpose.where(purpose.isin(["coaching", "other"]))).fillna(
        "coaching content: " + quote(content)
    )
    opportunities = subjects(with_client, "contact_id", "started_at")
    # Only calls beyond scheduling need an approval: most calls, paired with every approval
    # their clinician holds, would be millions of pairs for nothing.
    beyond_scheduling = opportunities[beyond.notna().to_numpy()]
    status = ctx.approval_status("phone_coaching", beyond_scheduling)
    breach = ~status["valid"]
    evidence = beyond.dropna().set_axis(status.index) + "; " + status["problem"]
    summary = "The phone was used for more than scheduling without phone-coaching approval."
    return Checked(opportunities, found(beyond_scheduling[breach], summary, evidence[breach]))


RULE = Rule(
    code="PC001",
    name="phone-beyond-scheduling",
    severity="high",
    subject="contact",
    policy="Unless you have approval by [the DBT program director] for phone coaching in DBT, then "
    "you do not use the phone for anything but scheduling with your client.",
    why="Phone coaching is a clinical intervention with its own training and supervision; done "
    "without approval it is unsupervised treatment.",
    examines="phone calls with a client and texts sent to one",
    violating="A trainee without approval talks a client through urges on the phone.",
    compliant="A call to move Tuesday's session to Thursday at 3.",
    check=check,
    settings=("approvals.phone_coaching",),
)
