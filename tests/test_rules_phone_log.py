"""LG001–LG002 and reconciliation: the phone system's call log against the contact log."""

import pandas as pd
from rule_fixtures import CLIENTS, POLICY, STAFF, build_bundle, findings, opportunities

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
    """R1 is K1's, C4's call; nothing shows whose R2 was, C3's or C4's: charged to neither,
    but to T2, the clinician of both, whose report may name them."""
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
        "contact with the client logged within 10 min of it; the number is on file for clients "
        "C3 and C4, both this clinician's, and nothing in the records shows which of them the "
        "call was with"
    }
    assert opportunities(bundle, "LG001") == ["R1", "R2"]  # R3 is no client's number
    # R1 is K1's client's, not the first with the number's
    assert lg001_subjects(bundle) == [["R1", "C4", "T2"], ["R2", "", "T2"]]
    found = audit(bundle).findings.set_index("rule").loc["LG001"]
    assert (pd.isna(found["client_id"]), found["staff_id"]) == (True, "T2")


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


# --- LG001: whose a shared number's call is ------------------------------------------------------

# A household's phone on file for C3 (T2's client) and C5 (T1's); the staff's own lines.
HOUSEHOLD = [
    *CLIENTS,
    {**SIBLINGS[2], "intake_date": "2026-03-04"},
    {**SIBLINGS[3], "client_id": "C5", "therapist_id": "T1", "intake_date": "2026-01-05"},
]
LINES = [
    {**STAFF[0], "phone": "(805) 555-0110"},  # T1
    {**STAFF[1], "phone": "805-555-0111 / 805-555-0112"},  # T2: a desk line and a cell
    *STAFF[2:],  # SUP, DIR and ADM without one of their own
]
TO_HOUSEHOLD = {"client_id": "", "to_number": "747.555.0185"}
HEAD = "RingCentral: outbound call at {}, connected; no phone contact with the client logged "


def household_bundle(path, calls: list[dict], clients: list[dict] = HOUSEHOLD, **rows):
    """A bundle of the household's calls, the staff with their lines."""
    return build_bundle(path, clients=clients, staff=LINES, calls=calls, **rows)


def from_household(at: str, to_number: str, **fields) -> dict:
    """An inbound call from the household's phone, to `to_number`."""
    number = {"client_id": "", "from_number": "(747) 555-0185", "to_number": to_number}
    return placed(at, direction="inbound", **number, **fields)


def lg001_subjects(bundle, **narrowed) -> list[list[str]]:
    """LG001's examined calls, as [call, client, clinician], blank where charged to none."""
    result = audit(bundle, **narrowed)
    examined = result.opportunities[result.opportunities["rule"] == "LG001"]
    columns = ["subject_id", "client_id", "staff_id"]
    return examined[columns].astype("object").fillna("").values.tolist()


def test_lg001_charges_a_shared_number_s_call_to_the_client_already_taken_in(tmp_path):
    """R1, on 2 March, is before C3's intake (the 4th, in the clinic's zone): it was C5's, even
    placed from T2's line. R2, at 23:59 on the 3rd (07:59 on the 4th in UTC), still is."""
    bundle = household_bundle(
        tmp_path,
        [
            placed("2026-03-02T09:00:00-08:00", from_number="+18055550111", **TO_HOUSEHOLD),
            placed("2026-03-04T07:59:00Z", **TO_HOUSEHOLD),
        ],
    )
    assert findings(bundle, "LG001") == {
        "R1": HEAD.format("Mon 2 Mar 2026 09:00:00") + "within 10 min of it",
        "R2": HEAD.format("Tue 3 Mar 2026 23:59:00") + "within 10 min of it",
    }
    assert lg001_subjects(bundle) == [["R1", "C5", "T1"], ["R2", "C5", "T1"]]
    assert lg001_subjects(bundle, clinicians=["T2"]) == []


def test_lg001_a_shared_number_s_call_is_charged_by_the_clinician_s_line(tmp_path):
    """Both clients had come by 5 March: R1 was placed from T2's cell, R2 from T1's line, and
    R3 came in on T2's desk line. Where neither had come yet (C3 on the 4th, C5 on the 10th),
    the line still settles a call of the 2nd: both could be the one it was with."""
    later = [*HOUSEHOLD[:3], {**HOUSEHOLD[3], "intake_date": "2026-03-10"}]
    bundle = household_bundle(
        tmp_path,
        [
            placed("2026-03-05T09:00:00-08:00", from_number="805.555.0112", **TO_HOUSEHOLD),
            placed("2026-03-05T10:00:00-08:00", from_number="+18055550110", **TO_HOUSEHOLD),
            from_household("2026-03-05T11:00:00-08:00", "+18055550111"),
        ],
    )
    on_line = (
        "within 10 min of it; the number is on file for 2 clients, and the call was on this "
        "client's clinician's line"
    )
    assert findings(bundle, "LG001") == {
        "R1": HEAD.format("Thu 5 Mar 2026 09:00:00") + on_line,
        "R2": HEAD.format("Thu 5 Mar 2026 10:00:00") + on_line,
        "R3": HEAD.format("Thu 5 Mar 2026 11:00:00").replace("outbound", "inbound") + on_line,
    }
    assert lg001_subjects(bundle) == [["R1", "C3", "T2"], ["R2", "C5", "T1"], ["R3", "C3", "T2"]]
    before_both = household_bundle(
        tmp_path / "before",
        [placed("2026-03-02T09:00:00-08:00", from_number="+18055550111", **TO_HOUSEHOLD)],
        clients=later,
    )
    assert findings(before_both, "LG001") == {
        "R1": HEAD.format("Mon 2 Mar 2026 09:00:00") + on_line
    }
    assert lg001_subjects(before_both) == [["R1", "C3", "T2"]]


def test_lg001_a_shared_number_s_call_nothing_settles_is_charged_to_no_clinician(tmp_path):
    """R1 came from the admin's phone and R2 in on the clinic's main number: either was C3's
    (T2's) or C5's (T1's). Each is examined under no client and no clinician, naming both
    clients: no clinician's report holds it, and their figures are not lowered by it. R3 is
    K1's, C5's, whatever line it was on."""
    bundle = household_bundle(
        tmp_path,
        [
            placed("2026-03-05T09:00:00-08:00", from_number="+18055550199", **TO_HOUSEHOLD),
            from_household("2026-03-05T10:00:00-08:00", "+18055550100", result="voicemail"),
            placed("2026-03-05T12:01:00-08:00", from_number="+18055550111", **TO_HOUSEHOLD),
        ],
        contacts=[logged("2026-03-05T12:00:00-08:00", client_id="C5")],
    )
    unsettled = (
        "within 10 min of it; the number is on file for clients C3 and C5, and nothing in the "
        "records shows which of them the call was with: it is charged to no clinician"
    )
    assert findings(bundle, "LG001") == {
        "R1": HEAD.format("Thu 5 Mar 2026 09:00:00") + unsettled,
        "R2": HEAD.format("Thu 5 Mar 2026 10:00:00")
        .replace("outbound", "inbound")
        .replace("connected", "voicemail")
        + unsettled,
    }
    assert lg001_subjects(bundle) == [["R1", "", ""], ["R2", "", ""], ["R3", "C5", "T1"]]
    assert lg001_subjects(bundle, clinicians=["T1"]) == [["R3", "C5", "T1"]]
    assert lg001_subjects(bundle, clinicians=["T2"]) == []
    found = audit(bundle).findings
    lg001 = found[found["rule"] == "LG001"]
    assert lg001["client_id"].isna().all() and lg001["staff_id"].isna().all()


def test_lg001_names_three_clients_a_call_is_open_between(tmp_path):
    """With no staff line on file, three clients taken in by the call: named in order."""
    three = [*HOUSEHOLD[:3], {**HOUSEHOLD[3], "client_id": "C6"}, HOUSEHOLD[3]]
    bundle = build_bundle(
        tmp_path,
        clients=[{**c, "intake_date": "2026-01-05"} for c in three],
        calls=[placed("2026-03-05T09:00:00-08:00", **TO_HOUSEHOLD)],
    )
    assert findings(bundle, "LG001") == {
        "R1": HEAD.format("Thu 5 Mar 2026 09:00:00")
        + "within 10 min of it; the number is on file for clients C3, C5 and C6, and nothing in "
        "the records shows which of them the call was with: it is charged to no clinician"
    }


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
