"""VM001: a voicemail names the clinic only with the client's recorded consent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditkit.columns import looked_up
from auditkit.rules.base import Checked, Rule, dated, found, quote, subjects
from auditkit.rules.context import AuditContext

if TYPE_CHECKING:
    from auditkit.policy import Policy


def check(ctx: AuditContext) -> Checked:
    calls = ctx.outbound_calls
    voicemails = calls[calls["outcome"] == "voicemail"]
    consent = looked_up(ctx.consent_time, voicemails["client_id"])
    no_consent = consent.isna() | (consent > voicemails["started_at"])
    # The clinic's name is looked for (the costly part: fuzzy matching) only where naming it
    # would break the policy.
    unconsented = voicemails.index[no_consent.to_numpy()]
    named = ctx.phrases("clinic_name", rows=unconsented).reindex(voicemails.index)
    breach = named.notna() & no_consent
    recorded = dated(consent[breach])  # words for the findings only
    consent_words = ("consent to naming the clinic was recorded later, on " + recorded).fillna(
        "consent to naming the clinic was never recorded"
    )
    evidence = quote(named[breach]) + "; " + consent_words
    summary = "The voicemail named the clinic, but the client had not agreed to that."
    hits = subjects(voicemails[breach], "contact_id", "started_at")
    return Checked(subjects(voicemails, "contact_id", "started_at"), found(hits, summary, evidence))


def cannot_check(policy: Policy) -> str | None:
    """With no name or alias to listen for, no voicemail could ever be found naming the
    clinic: every one would pass unheard."""
    clinic = policy.clinic
    if any(form.strip() for form in (clinic.name, *clinic.aliases)):
        return None
    return "the policy names no clinic (clinic.name in policy.toml)"


RULE = Rule(
    code="VM001",
    name="clinic-named-without-consent",
    severity="high",
    subject="contact",
    policy="Do not say the name of the clinic in the phone message unless the client confirmed "
    "that it's okay to do so at the initial meeting.",
    why="Anyone who hears the voicemail learns the client is in psychological treatment; that "
    "is the client's to disclose, not the clinic's.",
    examines="voicemails left (outbound calls with outcome voicemail)",
    violating="\u201cHi, this is Sam from Riverside Psychology Clinic…\u201d to a client who "
    "never consented.",
    compliant="\u201cThis is Sam calling. We had an appointment at 11:00…\u201d",
    check=check,
    settings=("clinic.name", "clinic.aliases", "calls.match_minutes"),
    cannot_check=cannot_check,
)
