"""LG001–LG002 and reconciliation: the phone system's call log against the contact log."""

import pandas as pd
from rule_fixtures import CLIENTS, POLICY, build_bundle, findings, opportunities

from auditkit import audit
from auditkit.rules import RULES
from auditkit.rules.context import AuditContext

NO_SHOW = {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"}
# C3 and C4 are siblings: the clinic has their parent's phone for both.
SIBLINGS = [
    *CLIENTS,
    {"client_id": "C3", "phone": "(747) 555-0185", "may_name_clinic": "no", "therapist_id": "T2"},
    {"client_id": "C4", "phone": "+1 747 555 0185", "may_name_clinic": "no", "therapist_id": "T2"},
]


def logged(at: str, **fields) -> dict:
    """A logged outbound phone call to C1 (the contact log's side)."""
    return {"started_at": at, "outcome": "voicemail", "purpose": "scheduling", **fields}


def placed(at: str, **fields) -> dict:
    """An outbound call to C1's number in the phone system's log."""
    return {"started_at": at, "client_id": "C1", **fields}


def matches(bundle) -> dict[str, str]:
    pairs = AuditContext(bundle).call_matches
    return dict(zip(pairs["contact_id"], pairs["call_id"], strict=True))


# --- LG001 call-not-logged -------------------------------------------------------------------


def test_lg001_fires_for_a_call_nobody_logged(tmp_path):
    bundle = build_bundle(
        tmp_path, calls=[placed("2026-03-02T21:26:10.354Z", duration_seconds="95")]
    )
    assert findings(bundle, "LG001") == {
        "R1": "RingCentral: outbound call at Mon 2 Mar 2026 13:26:10, 95 s, connected; no phone "
        "contact with the client logged within 10 min of it"
    }
    found = audit(bundle).findings.set_index("rule").loc["LG001"]
    assert (found["subject_type"], found["client_id"], found["staff_id"]) == ("call", "C1", "T1")
    assert found["severity"] == "medium"


def test_lg001_compliant_when_the_call_is_in_the_log(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00")],
        calls=[placed("2026-03-02T21:26:10Z")],
    )
    assert findings(bundle, "LG001") == {}
    assert opportunities(bundle, "LG001") == ["R1"]
    assert matches(bundle) == {"K1": "R1"}


def test_lg001_tolerance_is_inclusive_to_the_second(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            logged("2026-03-02T13:25:00-08:00"),
            logged("2026-03-02T13:25:00-08:00", client_id="C2"),
        ],
        calls=[
            placed("2026-03-02T13:35:00-08:00"),  # 10 min after the log: the same call
            placed("2026-03-02T13:35:01-08:00", client_id="C2"),  # 1 s more: another
        ],
    )
    assert matches(bundle) == {"K1": "R1"}
    assert list(findings(bundle, "LG001")) == ["R2"]
    assert list(findings(bundle, "LG002")) == ["K2"]


def test_lg001_tolerance_follows_the_policy(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00")],
        calls=[placed("2026-03-02T13:31:00-08:00")],
        policy={"calls": {"match_minutes": 5}},
    )
    assert findings(bundle, "LG001") == {
        "R1": "RingCentral: outbound call at Mon 2 Mar 2026 13:31:00, connected; no phone "
        "contact with the client logged within 5 min of it"
    }


def test_lg001_a_call_matches_only_a_contact_of_its_direction(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00", direction="inbound")],
        calls=[placed("2026-03-02T13:25:30-08:00", result="no_answer", source="")],
    )
    assert findings(bundle, "LG001") == {
        "R1": "phone system: outbound call at Mon 2 Mar 2026 13:25:30, no_answer; no phone "
        "contact with the client logged within 10 min of it"
    }
    assert list(findings(bundle, "LG002")) == ["K1"]


def test_lg001_pairs_calls_one_to_one_nearest_first(tmp_path):
    # Both log entries are nearest to R1; R1 keeps K2 (1 min off), and K1 then takes R2.
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00"), logged("2026-03-02T13:30:00-08:00")],
        calls=[placed("2026-03-02T13:29:00-08:00"), placed("2026-03-02T13:31:30-08:00")],
    )
    assert matches(bundle) == {"K2": "R1", "K1": "R2"}
    assert findings(bundle, "LG001") == {}
    assert findings(bundle, "LG002") == {}


def test_lg001_one_call_cannot_stand_for_two_log_entries(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00"), logged("2026-03-02T13:28:00-08:00")],
        calls=[placed("2026-03-02T13:27:00-08:00")],
    )
    assert matches(bundle) == {"K2": "R1"}
    assert list(findings(bundle, "LG002")) == ["K1"]


def test_matched_rows_are_found_by_position_in_each_log(tmp_path):
    """Rules look a pair up by its rows in the logs, not by hashing ids: K2 and R1 are paired,
    K1 and R2 are not, whatever the frames' index labels."""
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00"), logged("2026-03-02T13:30:00-08:00")],
        calls=[placed("2026-03-02T13:29:00-08:00"), placed("2026-03-02T15:00:00-08:00")],
    )
    bundle.tables["contacts"].index = [7, 3]  # labels that are not positions
    context = AuditContext(bundle)
    pairs = context.call_matches
    assert pairs[["contact_id", "call_id", "contact_row", "call"]].values.tolist() == [
        ["K2", "R1", 1, 0]
    ]
    assert context.matched("contacts").tolist() == [False, True]
    assert context.matched("calls").tolist() == [True, False]
    assert list(findings(bundle, "LG002")) == ["K1"]
    assert list(findings(bundle, "LG001")) == ["R2"]


def test_lg001_matches_a_shared_number_to_either_sibling(tmp_path):
    to_siblings = {"client_id": "", "to_number": "747.555.0185"}
    bundle = build_bundle(
        tmp_path,
        clients=SIBLINGS,
        contacts=[logged("2026-03-02T13:25:00-08:00", client_id="C4", staff_id="T2")],
        calls=[
            placed("2026-03-02T13:26:00-08:00", **to_siblings),
            placed("2026-03-03T09:00:00-08:00", **to_siblings),
            placed("2026-03-03T09:30:00-08:00", client_id="", to_number="(213) 555-0199"),
        ],
    )
    assert matches(bundle) == {"K1": "R1"}
    assert findings(bundle, "LG001") == {
        "R2": "RingCentral: outbound call at Tue 3 Mar 2026 09:00:00, connected; no phone "
        "contact with the client logged within 10 min of it; the number is on file for 2 clients"
    }
    assert opportunities(bundle, "LG001") == ["R1", "R2"]  # R3 is no client's number
    found = audit(bundle).findings.set_index("rule").loc["LG001"]
    assert (found["client_id"], found["staff_id"]) == ("C3", "T2")


def test_a_client_with_two_numbers_in_one_cell_is_matched_by_either(tmp_path):
    """'(747) 555-0185 / 805-555-0199' was no number at all: a call to either was no client's,
    and the contact logged for it found no call (LG002)."""
    two = {**SIBLINGS[2], "phone": "(747) 555-0185 / 805-555-0199"}
    bundle = build_bundle(
        tmp_path,
        clients=[*CLIENTS, two],
        contacts=[
            logged("2026-03-02T13:25:00-08:00", client_id="C3", staff_id="T2"),
            logged("2026-03-03T09:00:00-08:00", client_id="C3", staff_id="T2"),
        ],
        calls=[
            placed("2026-03-02T13:26:00-08:00", client_id="", to_number="747.555.0185"),
            placed("2026-03-03T09:01:00-08:00", client_id="", to_number="+1 805 555 0199"),
        ],
    )
    assert matches(bundle) == {"K1": "R1", "K2": "R2"}
    assert findings(bundle, "LG001") == {}
    assert findings(bundle, "LG002") == {}


def test_lg001_counts_the_clients_who_had_a_shared_number_by_the_call_naming_none(tmp_path):
    """A report cut to one clinician must not name a sibling (another's client) nor reveal who
    shares a phone: the evidence counts. C5 came after the first call, so it had only C3's
    client-to-be and C4; C3, the finding's own client, counts whenever C3 came."""
    to_household = {"client_id": "", "to_number": "747.555.0185"}
    household = [
        {**SIBLINGS[2], "intake_date": "2026-03-04"},  # C3: after the first call
        {**SIBLINGS[3], "intake_date": "2026-03-02"},  # C4: the day of the first call
        {**SIBLINGS[3], "client_id": "C5", "therapist_id": "T1", "intake_date": "2026-03-05"},
    ]
    bundle = build_bundle(
        tmp_path,
        clients=[*CLIENTS, *household],
        calls=[
            placed("2026-03-02T09:00:00-08:00", **to_household),
            placed("2026-03-05T09:00:00-08:00", **to_household),
        ],
    )
    head = "RingCentral: outbound call at {}, connected; no phone contact with the client logged "
    assert findings(bundle, "LG001") == {
        "R1": head.format("Mon 2 Mar 2026 09:00:00")
        + "within 10 min of it; the number is on file for 2 clients",
        "R2": head.format("Thu 5 Mar 2026 09:00:00")
        + "within 10 min of it; the number is on file for 3 clients",
    }
    found = audit(bundle).findings
    assert found.loc[found["rule"] == "LG001", "client_id"].tolist() == ["C3", "C3"]


def test_lg001_a_sibling_who_came_after_the_call_leaves_the_number_unshared(tmp_path):
    later = [SIBLINGS[2], {**SIBLINGS[3], "intake_date": "2026-03-04"}]  # C4 came after R1
    bundle = build_bundle(
        tmp_path,
        clients=[*CLIENTS, *later],
        calls=[placed("2026-03-03T09:00:00-08:00", client_id="", to_number="747.555.0185")],
    )
    assert findings(bundle, "LG001") == {
        "R1": "RingCentral: outbound call at Tue 3 Mar 2026 09:00:00, connected; no phone "
        "contact with the client logged within 10 min of it"
    }


def test_lg001_an_inbound_call_is_matched_by_the_caller_s_number(tmp_path):
    bundle = build_bundle(
        tmp_path,
        clients=SIBLINGS,
        contacts=[logged("2026-03-02T10:02:00-08:00", client_id="C3", direction="inbound")],
        calls=[
            placed(
                "2026-03-02T18:01:00Z",
                client_id="",
                direction="inbound",
                from_number="+17475550185",
                to_number="+18055550100",
            )
        ],
    )
    assert matches(bundle) == {"K1": "R1"}


def test_lg001_compares_real_time_across_the_november_change(tmp_path):
    # 01:30 happens twice on 1 Nov; a log entry without an offset is the first (PDT, 08:30Z),
    # so the phone system's 09:35Z call (01:35 PST) is an hour and five minutes later.
    bundle = build_bundle(
        tmp_path,
        contacts=[
            logged("2026-11-01 01:30"),
            logged("2026-03-08 03:05", client_id="C2"),  # PDT, 10:05Z
        ],
        calls=[
            placed("2026-11-01T09:35:00Z"),
            placed("2026-03-08T10:04:30Z", client_id="C2"),  # 30 s before: the same call
        ],
    )
    assert matches(bundle) == {"K2": "R2"}
    assert findings(bundle, "LG001") == {
        "R1": "RingCentral: outbound call at Sun 1 Nov 2026 01:35:00 PST, connected; no phone "
        "contact with the client logged within 10 min of it"
    }
    assert list(findings(bundle, "LG002")) == ["K1"]


# --- LG002 logged-call-not-placed ------------------------------------------------------------


def test_lg002_fires_for_a_logged_call_the_phone_system_never_carried(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00")],
        calls=[placed("2026-03-02T09:00:00-08:00"), placed("2026-03-09T09:00:00-07:00")],
    )
    assert findings(bundle, "LG002") == {
        "K1": "logged outbound phone call at Mon 2 Mar 2026 13:25, outcome voicemail; the phone "
        "system's log (Mon 2 Mar 2026 to Mon 9 Mar 2026) has no outbound call with the client's "
        "number within 10 min of it"
    }
    found = audit(bundle).findings.set_index("rule").loc["LG002"]
    assert (found["subject_type"], found["client_id"], found["staff_id"]) == ("contact", "C1", "T1")


def test_lg002_examines_nothing_without_a_phone_system_log(tmp_path):
    contacts = [logged("2026-03-02T13:25:00-08:00")]
    assert opportunities(build_bundle(tmp_path / "none", contacts=contacts), "LG002") == []
    empty = build_bundle(tmp_path / "empty", contacts=contacts, calls=[])
    assert opportunities(empty, "LG002") == []
    assert opportunities(empty, "LG001") == []


def test_lg002_examines_only_phone_contacts_within_the_log_s_span(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[
            logged("2026-02-23T13:25:00-08:00"),  # a week before the log starts
            logged("2026-03-02T09:51:00-08:00"),  # 9 min before its first call: covered
            logged("2026-03-02T09:55:00-08:00", channel="text", outcome="sent"),
            logged("2026-03-05T17:11:00-08:00"),  # 11 min after its last call: not covered
        ],
        calls=[placed("2026-03-02T10:00:00-08:00"), placed("2026-03-05T17:00:00-08:00")],
    )
    assert opportunities(bundle, "LG002") == ["K2"]
    assert matches(bundle) == {"K2": "R1"}


# --- reconciliation: the phone system's time is the one the timing rules use -------------------


def test_ms002_uses_the_phone_system_s_time_over_the_log_s(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[logged("2026-03-02T13:25:00-08:00", appointment_id="A1")],
        calls=[placed("2026-03-02T21:15:30Z")],  # 13:15:30: the log rounded it up
    )
    assert findings(bundle, "MS002") == {
        "K1": "called 13:15, 15 min after the 13:00 start of the missed session on Mon 2 Mar 2026"
    }
    found = audit(bundle).findings.set_index("rule").loc["MS002"]
    assert found["at"] == pd.Timestamp("2026-03-02T13:15:30-08:00")


def test_ms002_compliant_when_the_phone_system_shows_the_wait_was_kept(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[logged("2026-03-02T13:15:00-08:00", appointment_id="A1")],
        calls=[placed("2026-03-02T13:21:00-08:00")],
    )
    assert findings(bundle, "MS002") == {}
    # Without the phone system's log, the clinician's 13:15 is all there is.
    unlogged = build_bundle(
        tmp_path / "no-log",
        appointments=[NO_SHOW],
        contacts=[logged("2026-03-02T13:15:00-08:00", appointment_id="A1")],
    )
    assert list(findings(unlogged, "MS002")) == ["K1"]


def test_ms001_deadline_is_measured_to_the_phone_system_s_time(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[logged("2026-03-03T12:55:00-08:00", appointment_id="A1")],
        calls=[placed("2026-03-03T13:04:00-08:00")],  # 24 h 4 min after the start
    )
    assert list(findings(bundle, "MS001")) == ["A1"]


def test_vm001_judges_consent_by_the_phone_system_s_time(tmp_path):
    """Consent recorded at 13:27, between the phone system's 13:24 and the log's 13:30: the
    match window decides which time counts, so VM001 names calls.match_minutes."""
    consented = [
        {**CLIENTS[0], "may_name_clinic": "yes", "consent_recorded_at": "2026-03-02T13:27"}
    ]
    rows = {
        "clients": consented,
        "contacts": [logged("2026-03-02T13:30:00-08:00", message="Robin at Riverside Clinic.")],
        "calls": [placed("2026-03-02T13:24:00-08:00")],
    }
    bundle = build_bundle(tmp_path / "10", **rows)
    assert findings(bundle, "VM001") == {
        "K1": "\u201cRiverside Clinic\u201d; consent to naming the clinic was recorded later, on "
        "2026-03-02 13:27"
    }
    five = {**POLICY, "calls": {"match_minutes": 5}}
    assert findings(build_bundle(tmp_path / "5", policy=five, **rows), "VM001") == {}
    assert RULES["VM001"].settings == ("clinic.name", "clinic.aliases", "calls.match_minutes")


def test_tp001_dates_a_finding_by_the_phone_system_s_time(tmp_path):
    """A third party told, logged at 00:05 on 1 March, and the phone system's call at 23:58 the
    day before: the match window decides the finding's month, so TP001 names calls.match_minutes."""
    told = logged(
        "2026-03-01T00:05:00-08:00",
        party="third_party",
        outcome="answered",
        message="Could you tell her that her therapist called?",
    )
    rows = {"contacts": [told], "calls": [placed("2026-02-28T23:58:00-08:00")]}
    found = audit(build_bundle(tmp_path / "10", **rows)).findings.set_index("rule")
    assert found.loc["TP001", "at"] == pd.Timestamp("2026-02-28T23:58:00-08:00")
    five = {**POLICY, "calls": {"match_minutes": 5}}
    found = audit(build_bundle(tmp_path / "5", policy=five, **rows)).findings.set_index("rule")
    assert found.loc["TP001", "at"] == pd.Timestamp("2026-03-01T00:05:00-08:00")
    assert RULES["TP001"].settings == ("clinic.name", "clinic.aliases", "calls.match_minutes")


def test_a_review_of_a_call_that_is_now_logged_is_stale(tmp_path):
    bundle = build_bundle(
        tmp_path,
        contacts=[logged("2026-03-02T13:25:00-08:00")],
        calls=[placed("2026-03-02T13:26:00-08:00")],
    )
    (bundle.path / "reviews.csv").write_text(
        "rule,subject_id,decision,reviewer,reviewed_at,comment\n"
        "LG001,R1,confirmed,Jordan,2026-03-04 09:00,\n"
    )
    stale = audit(bundle).stale_reviews
    assert stale[["subject_id", "at", "reason"]].to_dict("records") == [
        {
            "subject_id": "R1",
            "at": pd.Timestamp("2026-03-02T13:26:00-08:00"),
            "reason": "LG001 no longer finds a problem with call R1",
        }
    ]
