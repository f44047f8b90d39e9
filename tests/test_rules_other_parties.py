"""TP001, IQ001, PC001: third parties, inquiries, and the phone beyond scheduling."""

import shutil

from paths import SAMPLE
from rule_fixtures import CLIENTS, build_bundle, findings, opportunities

from auditkit import audit, load
from auditkit.rules import RULES
from auditkit.rules.context import AuditContext

POLICY_SCRIPT = (
    "Hi. Is Alex there? No, no message. I'll try again. I can't say who this is but thank you. "
    "I'll try again."
)
NCND = (
    "I hear your concern, I cannot confirm that someone is or is not a client in the clinic and "
    "so I cannot respond to your questions. If you are concerned for safety, then I can provide "
    "general recommendations."
)


def third_party_call(message: str, **fields) -> dict:
    return {
        "started_at": "2026-03-02T13:25:00-08:00",
        "party": "third_party",
        "outcome": "answered",
        "message": message,
        **fields,
    }


def inquiry(message: str, **fields) -> dict:
    return {
        "started_at": "2026-03-04T10:00:00-08:00",
        "direction": "inbound",
        "party": "third_party",
        "outcome": "received",
        "purpose": "inquiry",
        "message": message,
        **fields,
    }


def phone_call(message: str, purpose: str = "scheduling", **fields) -> dict:
    return {
        "started_at": "2026-03-04T16:00:00-08:00",
        "outcome": "answered",
        "purpose": purpose,
        "message": message,
        **fields,
    }


# --- TP001 third-party-told ---------------------------------------------------------------------


def test_tp001_compliant_with_the_policys_own_script(tmp_path):
    bundle = build_bundle(tmp_path, contacts=[third_party_call(POLICY_SCRIPT)])
    assert findings(bundle, "TP001") == {}
    assert opportunities(bundle, "TP001") == ["K1"]


def test_tp001_fires_for_a_message_or_a_disclosure(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            third_party_call("Is Alex there? Could you ask her to call me back at 555-0199?"),
            third_party_call("Hi, this is her therapist, is Alex home?"),
            third_party_call("Is Alex there? Okay, I'll call later.", party="client"),
        ],
    )
    found = findings(bundle, "TP001")
    assert sorted(found) == ["K1", "K2"]
    assert found["K1"].startswith("left a message: \u201c")
    assert found["K2"].startswith("disclosed: \u201c")
    assert "therapist" in found["K2"]


def test_tp001_holds_someone_not_known_to_be_the_client_to_the_same_script(tmp_path):
    """Whoever answers before the caller knows it is the client hears only "Is Alex there?";
    a voicemail (VM001's) and a call that rang out are not someone answering."""
    message = "Please tell her that her therapist from Riverside Psychology Clinic called."
    bundle = build_bundle(
        tmp_path,
        contacts=[
            third_party_call(message, party="unknown"),
            third_party_call(POLICY_SCRIPT, party="unknown"),
            third_party_call(message, party="unknown", outcome="voicemail"),
            third_party_call(message, party="unknown", outcome="no_answer"),
        ],
    )
    assert opportunities(bundle, "TP001") == ["K1", "K2"]
    checked = RULES["TP001"].check(AuditContext(bundle)).findings
    assert checked[["subject_id", "summary", "evidence"]].to_dict("records") == [
        {
            "subject_id": "K1",
            "summary": "Someone not known to be the client answered and was given a message or "
            "told who was calling.",
            "evidence": "left a message: \u201ctell her that\u201d",
        }
    ]


def test_tp001_fires_for_a_message_naming_the_client_or_the_clinic_named(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            third_party_call("Could you tell Alex to call me back?"),
            third_party_call("Have Alex Sample call me back please."),
            third_party_call("Hi, it's RPC calling. No message, I'll try again."),
            third_party_call(POLICY_SCRIPT),  # names the client only to ask for them
        ],
    )
    assert findings(bundle, "TP001") == {
        "K1": "left a message: \u201cCould you tell Alex to call me back\u201d",
        "K2": "left a message: \u201cHave Alex Sample call me back\u201d",
        "K3": "named the clinic: \u201cRPC\u201d",
    }
    masked = audit(bundle).findings.set_index("subject_id")["evidence"]
    assert masked["K2"] == "left a message: \u201cHave [client] [client] call me back\u201d"


def test_tp001_quotes_the_words_before_a_bare_number(tmp_path):
    # Masked, a number alone would read “[phone]”: the reviewer needs what was said with it.
    bundle = build_bundle(
        tmp_path,
        contacts=[
            third_party_call("Is Alex there? Okay, tell her 555-201-3344, thanks."),
            third_party_call("555-201-3344 is the number."),
        ],
    )
    assert findings(bundle, "TP001") == {
        "K1": "left a message: \u201ctell her 555-201-3344\u201d",
        "K2": "left a message: \u201c555-201-3344\u201d",
    }
    masked = audit(bundle).findings.set_index("subject_id")["evidence"]
    assert masked["K1"] == "left a message: \u201ctell her [phone]\u201d"


# --- IQ001 no-neither-confirm-nor-deny-reply ---------------------------------------------------


def test_iq001_compliant_with_the_ncnd_statement_on_any_channel(tmp_path):
    bundle = build_bundle(tmp_path, contacts=[inquiry(NCND), inquiry(NCND, channel="email")])
    assert findings(bundle, "IQ001") == {}
    assert opportunities(bundle, "IQ001") == ["K1", "K2"]


def test_iq001_fires_on_confirming_disclosing_or_omitting_the_statement(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry("Yes, she is a client here. " + NCND),
            inquiry("I'm sorry, I can't talk about that. Goodbye."),
        ],
    )
    found = findings(bundle, "IQ001")
    assert sorted(found) == ["K1", "K2"]
    assert found["K1"].startswith("confirmed or denied: \u201c")
    assert found["K2"] == "the reply has no neither-confirm-nor-deny statement"


def test_iq001_judges_a_reply_logged_on_its_own_not_the_askers_words(tmp_path):
    """An email answered by email: the inquiry holds the asker's words ("Alex's therapist"),
    the reply the clinic's. The reply is judged; the inquiry it answers is not."""
    asked = "Is Alex seeing a therapist at your clinic? I'm worried about her."
    reply = {"direction": "outbound", "channel": "email", "outcome": "sent"}
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry(asked, channel="email"),
            inquiry(NCND, started_at="2026-03-05T09:00:00-08:00", **reply),
            inquiry(asked, channel="email", client_id="C2"),
            inquiry(
                "Yes, Blair is one of our clients.",
                started_at="2026-03-05T09:00:00-08:00",
                client_id="C2",
                **reply,
            ),
            # Asked and not answered within 14 days: the inquiry is all there is to judge.
            inquiry(NCND, started_at="2026-02-01T10:00:00-08:00"),
        ],
    )
    assert findings(bundle, "IQ001") == {"K4": "confirmed or denied: \u201cYes, Blair is\u201d"}
    assert opportunities(bundle, "IQ001") == ["K2", "K4", "K5"]


def test_iq001_a_later_reply_never_hides_what_a_call_told(tmp_path):
    """A call's summary is the clinic's words: a reply sent later (to another asker, or a call
    returned) does not stand in for it. Nor does a reply on another channel for an email."""
    reply = {"direction": "outbound", "channel": "email", "outcome": "sent"}
    later = "2026-03-06T09:00:00-08:00"
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry("Mother called about Alex. Told her yes, she is a client here."),
            inquiry(NCND, started_at=later, **reply),
            inquiry("Yes, she is one of our clients.", client_id="C2", channel="text"),
            inquiry(NCND, started_at=later, client_id="C2", **reply),
            inquiry("Yes, she is.", party=""),  # a party not logged: still someone asking
        ],
    )
    assert findings(bundle, "IQ001") == {
        "K1": "confirmed or denied: \u201cyes, she is a client here\u201d",
        "K3": "confirmed or denied: \u201cYes, she is\u201d",
        "K5": "confirmed or denied: \u201cYes, she is\u201d",
    }


def test_iq001_a_name_that_is_a_word_is_a_name_only_as_one(tmp_path):
    """A client called May Will: "may" and "will" in lower case are words, not her."""
    clients = [{**CLIENTS[0], "first_name": "May", "last_name": "Will"}, CLIENTS[1]]
    bundle = build_bundle(
        tmp_path,
        clients=clients,
        contacts=[
            inquiry(NCND + " Any family member may see a therapist of their own."),
            inquiry(NCND + " We will see you through this."),
            inquiry("Yes, May is a client here."),
        ],
    )
    assert findings(bundle, "IQ001") == {
        "K3": "confirmed or denied: \u201cYes, May is a client here\u201d"
    }


def test_iq001_examines_a_caller_who_would_not_say_who_they_are(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry("Yes, she is one of our clients.", party="unknown"),
            inquiry("Is Alex there? Thanks.", party="client"),  # the client: no inquiry
        ],
    )
    assert findings(bundle, "IQ001") == {"K1": "confirmed or denied: \u201cYes, she is\u201d"}
    assert opportunities(bundle, "IQ001") == ["K1"]


def test_iq001_fires_on_a_disclosure_or_confirmation_naming_the_client(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry(NCND + " That said, Alex has been doing better lately."),
            inquiry("Alex comes here on Tuesdays, but I can't share anything else."),
            inquiry("No, Blair isn't. " + NCND),
            inquiry("Honestly, alex sample has missed three sessions. " + NCND),
            inquiry(NCND + " Alex’s therapist will call you back."),
            inquiry("Never heard of Blair Sample."),
        ],
    )
    assert findings(bundle, "IQ001") == {
        "K1": "disclosed: \u201cAlex has been doing better\u201d",
        "K2": "confirmed or denied: \u201cAlex comes here\u201d",
        "K3": "confirmed or denied: \u201cNo, Blair isn't\u201d",
        "K4": "disclosed: \u201calex sample has missed three sessions\u201d",
        "K5": "disclosed: \u201cAlex\u2019s therapist\u201d",
        "K6": "confirmed or denied: \u201cNever heard of Blair Sample\u201d",
    }


def test_iq001_reads_a_name_with_or_without_its_accents(tmp_path):
    clients = [{**CLIENTS[0], "first_name": "José", "last_name": "Peña"}, CLIENTS[1]]
    bundle = build_bundle(
        tmp_path,
        clients=clients,
        contacts=[
            inquiry(NCND + " That said, Jose has been doing better."),
            inquiry(NCND + " That said, PEÑA has been doing better."),
        ],
    )
    assert findings(bundle, "IQ001") == {
        "K1": "disclosed: \u201cJose has been doing better\u201d",
        "K2": "disclosed: \u201cPEÑA has been doing better\u201d",
    }


def test_iq001_compliant_when_the_reply_names_the_client_without_telling(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            inquiry(NCND.replace("someone", "Alex")),
            inquiry("I can't say whether Alex is a client here."),
            inquiry("Thank you for asking about Alex Sample. " + NCND),
            # a word that is no client's name is no subject: business is not a client
            inquiry(NCND + " That said, business has been doing better lately."),
        ],
    )
    assert findings(bundle, "IQ001") == {}
    assert opportunities(bundle, "IQ001") == ["K1", "K2", "K3", "K4"]


def test_iq001_counts_the_policys_extra_phrases(tmp_path):
    policy = {"phrases": {"client_disclosure": ["is thriving"]}}
    bundle = build_bundle(tmp_path, contacts=[inquiry(NCND + " Alex is thriving.")], policy=policy)
    assert findings(bundle, "IQ001") == {"K1": "disclosed: \u201cis thriving\u201d"}


def test_iq001_in_the_sample_a_disclosure_naming_the_client_is_quoted_and_masked(tmp_path):
    # CT000565 answers with the statement, then "That said, he has been doing better lately."
    bundle = tmp_path / "sample"
    shutil.copytree(SAMPLE, bundle)
    contacts = bundle / "contacts.csv"
    original = contacts.read_text(encoding="utf-8")
    assert original.count("That said, he has been") == 1
    contacts.write_text(
        original.replace("That said, he has been", "That said, Eli has been"), encoding="utf-8"
    )
    loaded = load(bundle)
    assert findings(loaded, "IQ001")["CT000565"] == (
        "disclosed: \u201cEli has been doing better\u201d"
    )
    for show_names, quoted in [(False, "[client]"), (True, "Eli")]:
        result = audit(loaded, show_names=show_names).findings
        assert result.loc[result["subject_id"] == "CT000565", "evidence"].tolist() == [
            f"disclosed: \u201c{quoted} has been doing better\u201d"
        ]


# --- PC001 phone-beyond-scheduling -------------------------------------------------------------

COACHING = "Coached the client through urges using distress tolerance skills."


def coaching_approval(**fields) -> dict:
    return {
        "kind": "phone_coaching",
        "client_id": "",
        "approved_by": "DIR",
        "approved_at": "2026-01-15T09:00:00-08:00",
        **fields,
    }


def test_pc001_scheduling_calls_are_always_fine(tmp_path):
    bundle = build_bundle(
        tmp_path, contacts=[phone_call("Moved Tuesday's session to Thursday at 3.")]
    )
    assert findings(bundle, "PC001") == {}
    assert opportunities(bundle, "PC001") == ["K1"]


def test_pc001_fires_for_coaching_without_approval(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            phone_call(COACHING),
            phone_call("Talked for a while.", purpose="other"),
            phone_call("", purpose="coaching", direction="inbound", outcome="received"),
        ],
    )
    found = findings(bundle, "PC001")
    assert sorted(found) == ["K1", "K2", "K3"]
    assert found["K1"].startswith("coaching content: \u201c")
    assert found["K2"] == "purpose other; no phone coaching approval"
    assert found["K3"] == "purpose coaching; no phone coaching approval"


def test_pc001_coaching_by_text_is_phone_coaching(tmp_path):
    text = {"channel": "text", "outcome": "sent"}
    bundle = build_bundle(
        tmp_path,
        contacts=[
            phone_call("Coached her through TIPP skills by text for 30 min.", **text),
            phone_call("Moved Tuesday's session to Thursday at 3.", **text),
            phone_call(COACHING, channel="email", outcome="sent"),  # not the phone
            # a text received is the client's words, not coaching given
            phone_call(
                "Having urges to self-harm, can I come in earlier?", **text, direction="inbound"
            ),
            phone_call("DBT skills training group Thursday at 6pm, bring your diary card.", **text),
        ],
    )
    assert findings(bundle, "PC001") == {
        "K1": "coaching content: \u201cCoached\u201d; no phone coaching approval"
    }
    assert opportunities(bundle, "PC001") == ["K1", "K2", "K5"]


def test_pc001_blanket_and_per_client_approvals_from_the_director_count(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            phone_call(COACHING),
            phone_call(COACHING, staff_id="T2"),
        ],
        approvals=[coaching_approval(), coaching_approval(staff_id="T2", client_id="C1")],
    )
    assert findings(bundle, "PC001") == {}


def test_pc001_an_approval_expiring_on_a_date_covers_that_whole_day(tmp_path):
    """ "Expires 3/4" is read as clinicians read it: through the 4th, not from its midnight."""
    bundle = build_bundle(
        tmp_path,
        contacts=[
            phone_call(COACHING, purpose="coaching"),  # 16:00 on the 4th
            phone_call(COACHING, purpose="coaching", started_at="2026-03-05T00:00:00-08:00"),
        ],
        approvals=[coaching_approval(expires_at="2026-03-04")],
    )
    assert findings(bundle, "PC001") == {
        "K2": "purpose coaching; approval P1 expired at the end of 2026-03-04"
    }


def test_pc001_an_expiry_written_as_a_time_is_that_moment_even_at_midnight(tmp_path):
    """Only a date written alone covers its day: midnight written as a time (00:00 with its
    offset, or the same instant in UTC) is when the approval ended."""
    bundle = build_bundle(
        tmp_path,
        contacts=[phone_call(COACHING, purpose="coaching", client_id=c) for c in ("C1", "C2")],
        approvals=[
            coaching_approval(client_id="C1", expires_at="2026-03-04T00:00:00-08:00"),
            coaching_approval(client_id="C2", expires_at="2026-03-04T08:00:00Z"),
        ],
    )
    assert findings(bundle, "PC001") == {
        "K1": "purpose coaching; approval P1 expired at the end of 2026-03-03",
        "K2": "purpose coaching; approval P2 expired at the end of 2026-03-03",
    }


def test_pc001_in_a_zone_whose_clock_skips_midnight(tmp_path):
    """Santiago's clock goes from 23:59:59 on 5 September 2026 to 01:00 on the 6th: that day
    starts at 01:00, and an approval through the 5th ends then (it stopped the audit with a
    traceback, asking for the 6th's midnight)."""
    santiago = {"clinic": {"name": "Riverside Psychology Clinic", "timezone": "America/Santiago"}}
    bundle = build_bundle(
        tmp_path,
        policy=santiago,
        contacts=[
            phone_call(COACHING, purpose="coaching", started_at=at, client_id=client)
            for at, client in [("2026-09-05 23:30", "C1"), ("2026-09-06 01:10", "C2")]
        ],
        approvals=[coaching_approval(expires_at="2026-09-05")],
    )
    assert findings(bundle, "PC001") == {
        "K2": "purpose coaching; approval P1 expired at the end of 2026-09-05"
    }


def test_pc001_expired_or_wrong_approver_does_not_count(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            phone_call(COACHING, purpose="coaching"),
            phone_call(COACHING, purpose="coaching", staff_id="T2"),
        ],
        approvals=[
            coaching_approval(expires_at="2026-03-01"),
            coaching_approval(staff_id="T2", approved_by="SUP"),
        ],
    )
    assert findings(bundle, "PC001") == {
        "K1": "purpose coaching; approval P1 expired at the end of 2026-03-01",
        "K2": "purpose coaching; approval P2 was given by SUP, a supervisor "
        "(needs: program director)",
    }
