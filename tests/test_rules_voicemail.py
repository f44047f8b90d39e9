"""VM001–VM004: what a voicemail may say."""

from rule_fixtures import DEFAULT_VOICEMAIL, build_bundle, findings, opportunities

NO_SHOW = {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"}
CLOSURE = (
    "Please call to confirm your next appointment by Friday at 5PM. If I don't hear from you by "
    "that time then I'll assume you are no longer interested in treatment and I'll close your file."
)


def voicemail(message: str, at: str = "2026-03-02T13:25:00-08:00", **fields) -> dict:
    return {"started_at": at, "appointment_id": "A1", "message": message, **fields}


# --- VM001 clinic-named-without-consent ---------------------------------------------------------


def test_vm001_fires_for_each_spelling_of_the_clinic_without_consent(tmp_path):
    messages = [
        "Hi, this is Robin from Riverside Psychology Clinic calling about today.",
        "hi this is robin at riverside psychology clinic.",
        "This is Robin with R.P.C., please call back.",
        "This is Robin from River side Psychology Clinic.",
        "This is Robin from Riversid Psychology Clinic.",
    ]
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], contacts=[voicemail(m) for m in messages]
    )
    never = "; consent to naming the clinic was never recorded"
    assert findings(bundle, "VM001") == {
        "K1": "\u201cRiverside Psychology Clinic\u201d" + never,
        "K2": "\u201criverside psychology clinic\u201d" + never,
        "K3": "\u201cR.P.C.\u201d" + never,
        "K4": "\u201cRiver side Psychology Clinic\u201d" + never,
        "K5": "\u201cRiversid Psychology Clinic\u201d" + never,
    }


def test_vm001_compliant_with_consent_and_with_the_default_script(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[
            voicemail("This is Robin from Riverside Clinic.", client_id="C2"),
            voicemail(DEFAULT_VOICEMAIL),
            voicemail("Named, but only a no_answer.", outcome="no_answer"),
        ],
    )
    assert findings(bundle, "VM001") == {}
    assert opportunities(bundle, "VM001") == ["K1", "K2"]


def test_vm001_reads_a_log_of_what_the_message_left_out(tmp_path):
    messages = [
        "LVM re missed session and fee; did not mention Riverside Psychology Clinic.",
        "LVM, did not mention the clinic. This is Robin from Riverside Clinic.",
    ]
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], contacts=[voicemail(m) for m in messages]
    )
    assert findings(bundle, "VM001") == {
        "K2": "\u201cRiverside Clinic\u201d; consent to naming the clinic was never recorded"
    }


def test_vm001_consent_recorded_after_the_call_does_not_count(tmp_path):
    clients = [
        {
            "client_id": "C1",
            "intake_date": "2026-01-05",
            "may_name_clinic": "Yes",
            "consent_recorded_at": "2026-03-10T09:00:00-07:00",
        }
    ]
    bundle = build_bundle(
        tmp_path,
        clients=clients,
        appointments=[NO_SHOW],
        contacts=[voicemail("This is Robin from Riverside Clinic.")],
    )
    assert findings(bundle, "VM001") == {
        "K1": "\u201cRiverside Clinic\u201d; consent to naming the clinic was recorded later, on "
        "2026-03-10 09:00"
    }


# --- VM002 no-fee-notice ------------------------------------------------------------------------


def test_vm002_fires_for_an_outreach_voicemail_without_the_fee(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[voicemail("Hi, it's Robin, we missed you today. Call me back.")],
    )
    assert findings(bundle, "VM002") == {
        "K1": "voicemail at 13:25 after the missed session of Mon 2 Mar 2026 13:00 says nothing "
        "about the missed-session charge"
    }


def test_vm002_ignores_a_reminder_voicemail_about_the_next_session(tmp_path):
    """The next morning's reminder of Wednesday's group is not the missed session's outreach:
    only the outreach voicemail owes the fee notice."""
    group = {"scheduled_start": "2026-03-04T13:00:00-08:00", "status": "attended"}
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, group],
        contacts=[
            voicemail(DEFAULT_VOICEMAIL),
            voicemail(
                "Reminder of group on Wednesday at 1.",
                at="2026-03-03T09:00:00-08:00",
                appointment_id="A2",
                purpose="scheduling",
            ),
        ],
    )
    assert findings(bundle, "VM002") == {}
    assert opportunities(bundle, "VM002") == ["K1"]


def test_vm002_writes_a_voicemail_in_the_repeated_autumn_hour_with_its_zone(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[{**NO_SHOW, "scheduled_start": "2026-10-31T13:00:00-07:00"}],
        contacts=[voicemail("Call me back.", at="2026-11-01T01:38:00-08:00")],
    )
    assert findings(bundle, "VM002") == {
        "K1": "voicemail at 01:38 PST after the missed session of Sat 31 Oct 2026 13:00 says "
        "nothing about the missed-session charge"
    }


def test_vm002_compliant_with_the_script_or_mojibake_repaired_text(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[
            voicemail(DEFAULT_VOICEMAIL),
            voicemail(
                "I didnâ€™t see you today; youâ€™ll be charged for the missed session.",
                at="2026-03-02T14:00:00-08:00",
            ),
            # not outreach: a voicemail to confirm next week, two days later
            voicemail("Confirming Tuesday.", at="2026-03-04T14:00:00-08:00"),
        ],
    )
    assert findings(bundle, "VM002") == {}
    assert opportunities(bundle, "VM002") == ["K1", "K2"]


# --- VM003 closure-warning-unapproved -----------------------------------------------------------

WARNING_AT = "2026-03-10T13:25:00-07:00"
TWO_NO_SHOWS = [
    {"appointment_id": "A1", "scheduled_start": "2026-03-03T13:00:00-08:00"},
    {"appointment_id": "A2", "scheduled_start": "2026-03-10T13:00:00-07:00"},
]


def closure(**fields) -> dict:
    return voicemail(CLOSURE, **{"at": WARNING_AT, "appointment_id": "A2", **fields})


def approval(**fields) -> dict:
    return {
        "kind": "closure_warning",
        "client_id": "C1",
        "approved_at": "2026-03-09T10:00:00-07:00",
        **fields,
    }


def test_vm003_examines_a_warning_left_on_a_mailbox_not_known_to_be_the_clients(tmp_path):
    """Whoever's mailbox it was, the supervisor approves the warning first; one told to a third
    party is TP001's."""
    bundle = build_bundle(
        tmp_path,
        appointments=TWO_NO_SHOWS,
        contacts=[closure(party="unknown"), closure(party="third_party", outcome="answered")],
    )
    assert findings(bundle, "VM003") == {
        "K1": "\u201cassume you are no longer interested in treatment\u201d; no closure warning "
        "approval"
    }
    assert opportunities(bundle, "VM003") == ["K1"]


def test_vm003_compliant_with_a_supervisors_prior_approval(tmp_path):
    bundle = build_bundle(
        tmp_path, appointments=TWO_NO_SHOWS, contacts=[closure()], approvals=[approval()]
    )
    assert findings(bundle, "VM003") == {}
    assert opportunities(bundle, "VM003") == ["K1"]


def test_vm003_blanket_approval_for_all_the_therapists_clients_counts(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=TWO_NO_SHOWS,
        contacts=[closure()],
        approvals=[approval(client_id="")],
    )
    assert findings(bundle, "VM003") == {}


def test_vm003_each_kind_of_invalid_approval(tmp_path):
    cases = {
        "none": [],
        "late": [approval(approved_at="2026-03-11T10:00:00-07:00")],
        "wrong role": [approval(approved_by="T2")],
        "expired": [
            approval(
                approved_at="2026-01-09T10:00:00-08:00", expires_at="2026-02-09T10:00:00-08:00"
            )
        ],
        "other client": [approval(client_id="C2")],
        "other therapist": [approval(staff_id="T2")],
    }
    evidence = {}
    for name, approvals in cases.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        bundle = build_bundle(
            folder, appointments=TWO_NO_SHOWS, contacts=[closure()], approvals=approvals
        )
        found = findings(bundle, "VM003")
        assert list(found) == ["K1"], name
        evidence[name] = found["K1"].split("; ")[-1]
    assert evidence == {
        "none": "no closure warning approval",
        "late": "approval P1 was given later, on 2026-03-11 10:00",
        "wrong role": "approval P1 was given by T2, a therapist (needs: supervisor)",
        "expired": "approval P1 expired on 2026-02-09 10:00",
        "other client": "no closure warning approval",
        "other therapist": "no closure warning approval",
    }


def test_consent_and_approval_times_in_the_repeated_autumn_hour_are_written_with_their_zone(
    tmp_path,
):
    """01:30 happens twice on 1 Nov 2026: a time the evidence quotes from then says which."""
    at = "2026-11-01T01:10:00-08:00"  # the second 01:10, PST
    consent = {"may_name_clinic": "yes", "consent_recorded_at": "2026-11-01T01:30:00-08:00"}
    bundle = build_bundle(
        tmp_path / "consent",
        clients=[{"client_id": "C1", "intake_date": "2026-01-05", **consent}],
        contacts=[voicemail("This is Robin from Riverside Clinic.", at=at, appointment_id="")],
    )
    assert findings(bundle, "VM001") == {
        "K1": "\u201cRiverside Clinic\u201d; consent to naming the clinic was recorded later, on "
        "2026-11-01 01:30 PST"
    }
    evidence = {}
    for name, given in {
        "late": approval(approved_at="2026-11-01T01:30:00-08:00"),
        "expired": approval(expires_at="2026-11-01T01:05:00-07:00"),  # the first 01:05, PDT
    }.items():
        warning = closure(at=at, appointment_id="")
        bundle = build_bundle(tmp_path / name, contacts=[warning], approvals=[given])
        evidence[name] = findings(bundle, "VM003")["K1"].split("; ")[-1]
    assert evidence == {
        "late": "approval P1 was given later, on 2026-11-01 01:30 PST",
        "expired": "approval P1 expired on 2026-11-01 01:05 PDT",
    }


# --- VM004 closure-warning-premature ------------------------------------------------------------


def test_vm004_fires_after_a_single_no_show(tmp_path):
    bundle = build_bundle(
        tmp_path, appointments=TWO_NO_SHOWS[1:], contacts=[closure()], approvals=[approval()]
    )
    assert findings(bundle, "VM004") == {  # the warning quoted, for the reviewer to see
        "K1": "\u201cassume you are no longer interested in treatment\u201d; 1 no-show(s) in "
        "the 90 days up to the warning; the policy asks for 2"
    }


def test_vm004_compliant_after_two_no_shows_and_counts_only_the_lookback(tmp_path):
    old = {"appointment_id": "A0", "scheduled_start": "2025-10-01T13:00:00-07:00"}
    bundle = build_bundle(
        tmp_path,
        appointments=[old, *TWO_NO_SHOWS],
        contacts=[
            closure(),
            closure(client_id="C1", at="2026-03-10T15:00:00-07:00", appointment_id=""),
        ],
        approvals=[approval()],
    )
    assert findings(bundle, "VM004") == {}
    policy = {"missed_session": {"persistent_no_shows": 3}}
    strict = build_bundle(
        tmp_path / "strict",
        appointments=[old, *TWO_NO_SHOWS],
        contacts=[closure()],
        approvals=[approval()],
        policy=policy,
    )
    assert list(findings(strict, "VM004")) == ["K1"]


def test_vm004_counts_the_look_back_in_the_clinics_calendar_days(tmp_path):
    """Ninety days before 13:00 on 1 November is 13:00 on 3 August, though the clocks went
    back an hour between: that no-show is in the look-back, as its twin across the March change
    is (in 24-hour days, one fell an hour outside and the warning was premature)."""
    no_shows = [
        ("A1", "2026-08-03T13:00:00-07:00"),
        ("A2", "2026-11-01T12:00:00-08:00"),
        ("A3", "2026-01-09T13:00:00-08:00"),
        ("A4", "2026-04-09T12:00:00-07:00"),
    ]
    bundle = build_bundle(
        tmp_path,
        appointments=[
            {"appointment_id": a, "scheduled_start": at, "client_id": c}
            for (a, at), c in zip(no_shows, ["C1", "C1", "C2", "C2"], strict=True)
        ],
        contacts=[
            closure(at="2026-11-01T13:00:00-08:00", appointment_id="A2"),
            closure(at="2026-04-09T13:00:00-07:00", appointment_id="A4", client_id="C2"),
        ],
        approvals=[
            approval(approved_at="2026-01-01"),
            approval(approved_at="2026-01-01", client_id="C2"),
        ],
    )
    assert findings(bundle, "VM004") == {}
    assert opportunities(bundle, "VM004") == ["K1", "K2"]


def test_vm002_policy_phrases_extend_the_fee_notice(tmp_path):
    message = "Hi, it's Robin. Heads up: the attendance agreement you signed applies today."
    plain = build_bundle(tmp_path / "plain", appointments=[NO_SHOW], contacts=[voicemail(message)])
    assert list(findings(plain, "VM002")) == ["K1"]
    extended_policy = {"phrases": {"fee_notice": [r"attendance agreement you signed applies"]}}
    extended = build_bundle(
        tmp_path / "extended",
        appointments=[NO_SHOW],
        contacts=[voicemail(message)],
        policy=extended_policy,
    )
    assert findings(extended, "VM002") == {}
