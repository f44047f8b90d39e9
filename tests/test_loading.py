"""Loading a bundle (issue 2): every rule of input format v1, with exact expected values.

Cases are small hand-written files in tests/fixtures/bundles/<case>/, laid over the minimal
valid bundle in tests/fixtures/bundles/base by the `make_bundle` fixture (see conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import python_calamine
from hypothesis import given, settings
from hypothesis import strategies as st
from loading_cases import FATAL_CASES, UNREADABLE_CASES, build_fatal

from auditkit import load, loading, validation, workbooks
from auditkit.errors import BundleError
from auditkit.loading import _check_utf8, _scan, decode
from auditkit.pieces import csv_cuts, parquet_pieces, read_piece
from auditkit.tables import REJECTED_COLUMNS
from auditkit.validation import COVERAGE_COLUMNS

BUNDLES = Path(__file__).parent / "fixtures" / "bundles"
LA = "America/Los_Angeles"
TZ_DTYPE = f"datetime64[us, {LA}]"
TABLE_FILES = ["staff", "clients", "appointments", "contacts", "notes", "approvals"]

STATUSES = "attended, no_show, late_cancel, cancelled, rescheduled"
NOT_A_TIME = "is not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"


def at(iso: str) -> pd.Timestamp:
    """An instant written with its offset, seen on the clinic's clock."""
    return pd.Timestamp(iso).tz_convert(LA)


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rejected rows as plain tuples (file, line, record_id, column, reason)."""
    return [tuple(r) for r in frame[REJECTED_COLUMNS].itertuples(index=False, name=None)]


def coverage_of(bundle) -> dict[str, tuple]:
    cov = bundle.coverage.set_index("table")
    return {t: tuple(r) for t, r in cov[COVERAGE_COLUMNS[1:]].iterrows()}


def by_id(frame: pd.DataFrame, column: str) -> dict:
    return dict(zip(frame.iloc[:, 0], frame[column], strict=True))


# --- the base bundle -------------------------------------------------------------------------


def test_base_bundle_loads_every_row_typed(load_case):
    bundle = load_case(None)

    assert list(bundle.coverage.columns) == COVERAGE_COLUMNS
    assert coverage_of(bundle) == {
        "staff": ("staff.csv", "utf-8", 3, 3, 0),
        "clients": ("clients.csv", "utf-8", 2, 2, 0),
        "appointments": ("appointments.csv", "utf-8", 3, 3, 0),
        "contacts": ("contacts.csv", "utf-8", 2, 2, 0),
        "notes": ("notes.csv", "utf-8", 2, 2, 0),
        "approvals": ("approvals.csv", "utf-8", 1, 1, 0),
    }
    assert list(bundle.rejected.columns) == REJECTED_COLUMNS
    assert rows(bundle.rejected) == []

    assert by_id(bundle.staff, "role") == {
        "S1": "therapist",
        "S2": "supervisor",
        "S3": "program_director",
    }
    assert by_id(bundle.clients, "may_name_clinic") == {"C1": True, "C2": False}
    assert by_id(bundle.clients, "intake_date") == {
        "C1": at("2026-01-05T00:00:00-08:00"),
        "C2": at("2026-02-10T00:00:00-08:00"),
    }
    assert str(bundle.appointments["scheduled_start"].dtype) == TZ_DTYPE
    # 2026-03-08 is the March change: the 2nd is PST, the 9th and 10th PDT.
    assert by_id(bundle.appointments, "scheduled_start") == {
        "A1": at("2026-03-02T13:00:00-08:00"),
        "A2": at("2026-03-09T13:00:00-07:00"),
        "A3": at("2026-03-10T10:00:00-07:00"),
    }
    assert str(bundle.appointments["duration_minutes"].dtype) == "Int64"
    assert bundle.appointments["duration_minutes"].tolist() == [50, 50, 50]
    assert by_id(bundle.contacts, "duration_seconds") == {"K1": 45, "K2": 120}
    assert bundle.contacts["appointment_id"].isna().tolist() == [False, True]
    # Written as a date alone, 2026-06-01: the approval applies through that day.
    assert by_id(bundle.approvals, "expires_at") == {"P1": at("2026-06-02T00:00:00-07:00")}
    for name in TABLE_FILES:
        assert bundle.tables[name]["source_line"].tolist() == list(
            range(2, 2 + len(bundle.tables[name]))
        )


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "signature", "encoding"),
    [
        ("encoding_utf8", b"Ren\xc3\xa9e,O\xe2\x80\x99Neil", "utf-8"),
        ("encoding_utf8_bom", b"Ren\xc3\xa9e,O\xe2\x80\x99Neil", "utf-8-sig"),
        ("encoding_windows1252", b"Ren\xe9e,O\x92Neil", "windows-1252"),
    ],
)
def test_each_encoding_decodes_to_the_same_text(load_case, case, signature, encoding):
    raw = (BUNDLES / case / "clients.csv").read_bytes()
    assert signature in raw  # the fixture really holds those bytes
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")

    bundle = load_case(case)

    assert coverage_of(bundle)["clients"] == ("clients.csv", encoding, 2, 2, 0)
    # The BOM is not glued to the first column's name: client_id is found and read.
    assert bundle.clients["client_id"].tolist() == ["C1", "C2"]
    assert bundle.clients["first_name"].tolist() == ["Renée", "Eli"]
    assert bundle.clients["last_name"].tolist() == ["O’Neil", "Park"]
    assert bundle.clients["source_line"].tolist() == [2, 3]  # CRLF line endings
    assert rows(bundle.rejected) == []


def test_windows1252_bytes_with_no_character_are_kept_not_fatal(make_bundle):
    # 0x81 has no Windows-1252 character; it must not stop the load or lose the row.
    data = (BUNDLES / "encoding_windows1252" / "clients.csv").read_bytes()
    bundle = load(make_bundle(files={"clients.csv": data.replace(b"Park", b"Pa\x81rk")}))

    assert coverage_of(bundle)["clients"] == ("clients.csv", "windows-1252", 2, 2, 0)
    assert bundle.clients["last_name"].tolist() == ["O’Neil", "Pa\x81rk"]


# --- column names ----------------------------------------------------------------------------


def test_column_names_match_ignoring_case_spaces_and_hyphens(load_case):
    bundle = load_case("column_names")

    assert rows(bundle.rejected) == []
    assert list(bundle.clients.columns) == [
        "client_id",
        "first_name",
        "last_name",
        "phone",
        "intake_date",
        "may_name_clinic",
        "consent_recorded_at",
        "therapist_id",
        "preferred_pronouns",  # an extra column: kept, under its normalised name
        "source_line",
    ]
    assert bundle.clients["client_id"].tolist() == ["C1", "C2"]
    assert bundle.clients["preferred_pronouns"].tolist()[0] == "she/her"
    assert pd.isna(bundle.clients["preferred_pronouns"].tolist()[1])
    assert bundle.clients["may_name_clinic"].tolist() == [True, False]

    contacts = bundle.contacts
    assert list(contacts.columns[:12]) == [
        "contact_id",
        "client_id",
        "staff_id",
        "direction",
        "channel",
        "started_at",
        "duration_seconds",
        "party",
        "outcome",
        "purpose",
        "appointment_id",
        "message",
    ]
    assert list(contacts.columns[12:]) == ["call_queue", "source_line"]
    assert contacts["call_queue"].tolist()[0] == "Front desk"
    assert contacts["client_id"].tolist() == ["C1", "C2"]
    assert contacts["started_at"].tolist() == [
        at("2026-03-09T13:25:00-07:00"),
        at("2026-03-08T09:00:00-07:00"),  # the March change day, after 02:00
    ]
    # Contact vocabularies match forgivingly too, with their exported synonyms.
    assert contacts["direction"].tolist() == ["outbound", "outbound"]
    assert contacts["channel"].tolist() == ["phone", "phone"]
    assert contacts["party"].tolist() == ["client", "third_party"]
    assert contacts["outcome"].tolist() == ["voicemail", "answered"]
    assert contacts["purpose"].tolist() == ["missed_session", "scheduling"]


# --- vocabularies and flags ------------------------------------------------------------------


def test_status_synonyms_map_to_the_vocabulary(load_case):
    bundle = load_case("synonyms")

    assert by_id(bundle.appointments, "status") == {
        "A1": "attended",  # Show
        "A2": "no_show",  # No Show
        "A3": "no_show",  # no-show
        "A4": "no_show",  # NO_SHOW
        "A5": "no_show",  # Missed
        "A6": "no_show",  # DNA
        "A7": "no_show",  # Did not attend
        "A8": "no_show",  # FTA
        "A9": "attended",  # Kept
        "A10": "late_cancel",  # Late canceled
        "A11": "late_cancel",  # Late cancelled
        "A12": "cancelled",  # Canceled
        "A13": "cancelled",  # Cancelled
        "A14": "cancelled",  # Clinician canceled
        "A15": "late_cancel",  # Late-Cancel
        "A16": "attended",  # "  Attended  "
        "A17": "rescheduled",  # RESCHEDULED
    }
    assert rows(bundle.rejected) == [
        (
            "appointments.csv",
            19,
            "A18",
            "status",
            f"status 'Walked out' is not one of: {STATUSES}",
        )
    ]
    assert coverage_of(bundle)["appointments"] == ("appointments.csv", "utf-8", 18, 17, 1)


def test_flags_read_yes_no_forms_and_blank_as_no(load_case):
    bundle = load_case("flags")

    assert by_id(bundle.clients, "may_name_clinic") == {
        "C1": True,  # yes
        "C2": False,  # no
        "C3": True,  # TRUE
        "C4": False,  # false
        "C5": True,  # Y
        "C6": False,  # n
        "C7": True,  # 1
        "C8": False,  # 0
        "C9": False,  # blank
        "C10": True,  # " Yes "
    }
    assert bundle.clients["may_name_clinic"].dtype == bool
    assert rows(bundle.rejected) == [
        ("clients.csv", 12, "C11", "may_name_clinic", "may_name_clinic 'maybe' is not yes or no")
    ]


# --- timestamps ------------------------------------------------------------------------------

EXPECTED_STARTS = {
    "K1": at("2026-11-01T01:30:00-07:00"),  # 08:30Z: the first 01:30, still PDT
    "K2": at("2026-11-01T01:30:00-08:00"),  # 09:30Z: the second 01:30, now PST
    "K3": at("2026-11-01T01:30:00-07:00"),
    "K4": at("2026-11-01T01:30:00-08:00"),
    "K5": at("2026-11-01T01:30:00-08:00"),  # 04:30-05:00 is 09:30Z
    "K6": at("2026-11-01T01:30:00-08:00"),
    "K7": at("2026-10-31T18:00:00-07:00"),  # naive: clinic-local, before the change
    "K8": at("2026-11-02T18:00:00-08:00"),  # naive: clinic-local, after it
    "K9": at("2026-11-01T01:30:00-07:00"),  # a wall time that happens twice: the first
    "K10": at("2026-11-02T21:05:00-08:00"),
    "K11": at("2026-10-30T12:15:00-07:00"),
    "K12": at("2026-03-09T00:00:00-07:00"),  # 12:00 AM is midnight, written so
    "K15": at("2026-03-08T03:30:00-07:00"),  # 02:30 never happened: an hour on
}
# A call's time, written as a date alone, is no time: set aside, not read as midnight.
NO_TIME_OF_DAY = (
    "' is a date without a time of day: not read as midnight, since a missed session's call "
    "and note deadlines are counted from such times to the minute. Export it with its time "
    "(2026-03-02 13:05)"
)


def test_timestamps_iso_utc_offsets_us_and_dates_across_dst(load_case):
    bundle = load_case("timestamps")
    starts = bundle.contacts.set_index("contact_id")["started_at"]

    assert rows(bundle.rejected) == [
        ("contacts.csv", 14, "K13", "started_at", "started_at '2026-11-01" + NO_TIME_OF_DAY),
        ("contacts.csv", 15, "K14", "started_at", "started_at '11/3/2026" + NO_TIME_OF_DAY),
    ]
    assert str(starts.dtype) == TZ_DTYPE
    assert starts.to_dict() == EXPECTED_STARTS
    # Exact wall clocks and offsets, not just equal instants.
    assert starts["K1"].isoformat() == "2026-11-01T01:30:00-07:00"
    assert starts["K2"].isoformat() == "2026-11-01T01:30:00-08:00"
    assert starts["K2"] - starts["K1"] == pd.Timedelta(hours=1)
    assert starts["K9"].isoformat() == "2026-11-01T01:30:00-07:00"
    assert starts["K8"].isoformat() == "2026-11-02T18:00:00-08:00"
    assert starts["K15"].isoformat() == "2026-03-08T03:30:00-07:00"


# --- text: mojibake and multi-line fields ----------------------------------------------------


def test_mojibake_is_repaired_and_clean_text_left_alone(load_case):
    bundle = load_case("mojibake")

    assert by_id(bundle.contacts, "message") == {
        "K1": "Sorry you didn’t make it today.",
        "K2": "I’ll see you Tuesday — café room.",
        "K3": "Zoë’s résumé – naïve “quotes” stay as they are.",
    }
    assert by_id(bundle.notes, "text") == {
        "N1": "Client didn’t attend; LVM.",
        "N2": "Attended session.",
    }
    assert rows(bundle.rejected) == []


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_multiline_fields_kept_whole_and_later_lines_physical(make_bundle, newline):
    data = (BUNDLES / "multiline" / "notes.csv").read_bytes().replace(b"\n", newline)
    bundle = load(make_bundle("multiline", files={"notes.csv": data}))
    notes = bundle.notes.set_index("note_id")

    # Header = line 1; N1 spans lines 2-4; line 6 is blank; N4 spans 8-9.
    assert notes["source_line"].to_dict() == {"N1": 2, "N2": 5, "N4": 8, "N6": 11}
    assert notes.loc["N1", "text"].splitlines() == [
        "Client did not attend.",
        "Called at 1:25 PM, left a voicemail.",
        "Next appointment 3/16.",
    ]
    assert notes.loc["N2", "text"] == 'She said "see you next week", then left.'
    assert notes.loc["N4", "text"].splitlines() == ["Two-line", "note, with a comma."]
    assert notes.loc["N6", "text"] == "Last note."
    assert rows(bundle.rejected) == [
        ("notes.csv", 7, "N3", "written_at", f"written_at 'not a date' {NOT_A_TIME}"),
        ("notes.csv", 10, "N5", "", "has 7 fields; the header has 6"),
    ]
    assert coverage_of(bundle)["notes"] == ("notes.csv", "utf-8", 6, 4, 2)


# --- bad rows: set aside with file, line, record id, column and reason -----------------------

BAD_ROWS = {
    "unknown vocabulary value": (
        "staff.csv",
        5,
        "S4",
        "role",
        "role 'janitor' is not one of: therapist, supervisor, program_director, admin",
    ),
    "duplicate id names the first line": (
        "staff.csv",
        6,
        "S1",
        "staff_id",
        "duplicate staff_id 'S1' (first on line 2)",
    ),
    "blank required vocabulary": ("staff.csv", 7, "S5", "role", "role is blank but required"),
    "bad flag": (
        "clients.csv",
        4,
        "C3",
        "may_name_clinic",
        "may_name_clinic 'maybe' is not yes or no",
    ),
    "reference to a staff row set aside": (
        "clients.csv",
        5,
        "C4",
        "therapist_id",
        "therapist_id 'S4' refers to a row set aside (staff.csv line 5)",
    ),
    "unparseable timestamp": (
        "appointments.csv",
        5,
        "A4",
        "scheduled_start",
        f"scheduled_start 'next Tuesday' {NOT_A_TIME}",
    ),
    "non-integer count": (
        "appointments.csv",
        6,
        "A5",
        "duration_minutes",
        "duration_minutes '50 min' is not a whole number",
    ),
    "reference to a client row set aside": (
        "appointments.csv",
        7,
        "A6",
        "client_id",
        "client_id 'C3' refers to a row set aside (clients.csv line 4)",
    ),
    "dangling reference": (
        "appointments.csv",
        8,
        "A7",
        "client_id",
        "client_id 'C9' matches no clients record",
    ),
    "unknown status": (
        "appointments.csv",
        9,
        "A8",
        "status",
        f"status 'Walked out' is not one of: {STATUSES}",
    ),
    "too few fields": ("appointments.csv", 10, "A9", "", "has 6 fields; the header has 7"),
    "negative count": (
        "appointments.csv",
        11,
        "A10",
        "duration_minutes",
        "duration_minutes -5 is negative",
    ),
    "impossible US date": (
        "appointments.csv",
        12,
        "A11",
        "scheduled_start",
        f"scheduled_start '13/40/2026 1:00 PM' {NOT_A_TIME}",
    ),
    "second problem on the same row": (
        "appointments.csv",
        12,
        "A11",
        "status",
        f"status 'tentative' is not one of: {STATUSES}",
    ),
    "dangling staff reference": (
        "approvals.csv",
        3,
        "P2",
        "approved_by",
        "approved_by 'S9' matches no staff record",
    ),
    "unparseable optional timestamp": (
        "approvals.csv",
        4,
        "P3",
        "expires_at",
        f"expires_at 'soon' {NOT_A_TIME}",
    ),
    "unknown approval kind": (
        "approvals.csv",
        5,
        "P4",
        "kind",
        "kind 'sign_off' is not one of: closure_warning, phone_coaching",
    ),
    "blank required timestamp": (
        "contacts.csv",
        4,
        "K3",
        "started_at",
        "started_at is blank but required",
    ),
    "unknown direction": (
        "contacts.csv",
        5,
        "K4",
        "direction",
        "direction 'sideways' is not one of: outbound, inbound",
    ),
    "reference to an appointment row set aside": (
        "contacts.csv",
        6,
        "K5",
        "appointment_id",
        "appointment_id 'A4' refers to a row set aside (appointments.csv line 5)",
    ),
    "too many fields, in a multi-line record": (
        "contacts.csv",
        7,
        "K6",
        "",
        "has 13 fields; the header has 12",
    ),
    "blank required text": ("notes.csv", 4, "N3", "text", "text is blank but required"),
    "duplicate note id": (
        "notes.csv",
        5,
        "N1",
        "note_id",
        "duplicate note_id 'N1' (first on line 2)",
    ),
    "reference to a blank-role staff row set aside": (
        "notes.csv",
        6,
        "N4",
        "staff_id",
        "staff_id 'S5' refers to a row set aside (staff.csv line 7)",
    ),
}


@pytest.fixture
def bad_bundle(load_case):
    return load_case("bad_rows")


def test_bad_rows_are_all_set_aside_exactly(bad_bundle):
    expected = sorted(BAD_ROWS.values(), key=lambda r: (r[0], r[1]))
    assert rows(bad_bundle.rejected) == expected
    assert coverage_of(bad_bundle) == {
        "staff": ("staff.csv", "utf-8", 6, 3, 3),
        "clients": ("clients.csv", "utf-8", 4, 2, 2),
        "appointments": ("appointments.csv", "utf-8", 11, 3, 8),
        "contacts": ("contacts.csv", "utf-8", 6, 2, 4),
        "notes": ("notes.csv", "utf-8", 5, 2, 3),
        "approvals": ("approvals.csv", "utf-8", 4, 1, 3),
    }


def test_bad_rows_leave_only_good_rows_accepted(bad_bundle):
    accepted = {name: frame.iloc[:, 0].tolist() for name, frame in bad_bundle.tables.items()}
    assert accepted == {
        "staff": ["S1", "S2", "S3"],
        "clients": ["C1", "C2"],
        "appointments": ["A1", "A2", "A3"],
        "contacts": ["K1", "K2"],
        "notes": ["N1", "N2"],
        "approvals": ["P1"],
    }
    # The first S1 and N1 stay; their repeats are the ones set aside.
    assert bad_bundle.staff.loc[0, "last_name"] == "Reyes"
    assert bad_bundle.notes.loc[0, "source_line"] == 2


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_each_kind_of_bad_row(bad_bundle, kind):
    file, line, record_id, column, reason = BAD_ROWS[kind]
    assert (file, line, record_id, column, reason) in rows(bad_bundle.rejected)
    table = bad_bundle.tables[file.removesuffix(".csv")]
    assert line not in table["source_line"].tolist()


def test_a_dangling_reference_into_a_clean_table_is_set_aside(make_bundle):
    # Nothing else is set aside anywhere: the most common case of a bad reference.
    contacts = (BUNDLES / "base" / "contacts.csv").read_bytes() + (
        b"K3,C9,S1,inbound,email,2026-03-10T08:00:00,,client,received,other,,Hello\n"
    )
    bundle = load(make_bundle(files={"contacts.csv": contacts}))

    assert rows(bundle.rejected) == [
        ("contacts.csv", 4, "K3", "client_id", "client_id 'C9' matches no clients record"),
    ]
    assert coverage_of(bundle)["contacts"] == ("contacts.csv", "utf-8", 3, 2, 1)


def test_references_to_rejected_rows_compare_within_their_table(make_bundle):
    # Exports often number every table from 1: a staff row '1' set aside is not client '1'.
    staff = b"staff_id,first_name,last_name,role\nS1,Ana,Reyes,therapist\n1,Xan,Yu,janitor\n"
    clients = (
        b"client_id,first_name,last_name,phone,intake_date,may_name_clinic,consent_recorded_at,"
        b"therapist_id\nC1,Dana,Ortiz,555-0101,2026-01-05,yes,,S1\n"
        b"1,Eli,Park,555-0102,2026-02-10,maybe,,S1\n"
    )
    contacts = (
        b"contact_id,client_id,staff_id,direction,channel,started_at\n"
        b"K1,1,S1,outbound,phone,2026-03-09T13:25:00\n"
        b"K2,2,S1,outbound,phone,2026-03-09T13:30:00\n"
        b"K3,C1,S1,outbound,phone,2026-03-09T13:35:00\n"  # one kept: not a file of nothing
    )
    bundle = load(
        make_bundle(
            drop=["approvals.csv"],
            files={"staff.csv": staff, "clients.csv": clients, "contacts.csv": contacts},
        )
    )
    assert [r for r in rows(bundle.rejected) if r[0] == "contacts.csv"] == [
        ("contacts.csv", 2, "K1", "client_id", "client_id '1' refers to a row set aside "
         "(clients.csv line 3)"),
        ("contacts.csv", 3, "K2", "client_id", "client_id '2' matches no clients record"),
    ]  # fmt: skip


APPOINTMENT_SET_ASIDE_TWICE = (
    # A4's first row refers to no client (a reference problem, found last); its second repeats
    # it with a status no vocabulary has (found first): N3's A4 is on the first line set aside.
    (BUNDLES / "base" / "appointments.csv").read_bytes()
    + b"A4,C9,S1,2026-03-16T13:00:00,50,individual,no_show\n"
    + b"A4,C1,S1,2026-03-17T13:00:00,50,individual,walked out\n"
)
NOTE_ON_IT = (BUNDLES / "base" / "notes.csv").read_bytes() + (
    b"N3,C1,S1,A4,2026-03-16T16:00:00,Client did not attend.\n"
)


def test_a_reference_to_an_id_set_aside_twice_names_its_first_line(make_bundle):
    files = {"appointments.csv": APPOINTMENT_SET_ASIDE_TWICE, "notes.csv": NOTE_ON_IT}
    bundle = load(make_bundle(files=files))

    assert [r for r in rows(bundle.rejected) if r[0] != "contacts.csv"] == [
        ("appointments.csv", 5, "A4", "client_id", "client_id 'C9' matches no clients record"),
        ("appointments.csv", 6, "A4", "status", "status 'walked out' is not one of: attended, "
         "no_show, late_cancel, cancelled, rescheduled"),
        ("appointments.csv", 6, "A4", "appointment_id", "duplicate appointment_id 'A4' (first on "
         "line 5)"),
        ("notes.csv", 4, "N3", "appointment_id", "appointment_id 'A4' refers to a row set aside "
         "(appointments.csv line 5)"),
    ]  # fmt: skip


def test_wrong_width_row_reports_its_own_id_wherever_the_id_column_is(make_bundle):
    staff = (
        b"role,Staff ID,first_name,last_name\n"
        b"therapist,S1,Ana,Reyes\n"
        b'supervisor,"S2",Ben\n'
        b"program_director,S3,Cara,Diaz\n"
    )
    # (approvals, whose one row names S2, would be a file of nothing: refused)
    bundle = load(make_bundle(drop=["approvals.csv"], files={"staff.csv": staff}))

    assert rows(bundle.rejected) == [("staff.csv", 3, "S2", "", "has 3 fields; the header has 4")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2.5", "duration_minutes '2.5' is not a whole number"),
        ("inf", "duration_minutes 'inf' is not a whole number"),
        ("1e30", "duration_minutes '1e30' is too large"),
        ("99999999999999999999", "duration_minutes '99999999999999999999' is too large"),
        ("1500", "duration_minutes 1500 is too large"),
    ],
)
def test_counts_that_are_no_count_are_set_aside_not_fatal(make_bundle, value, reason):
    appointments = (
        b"appointment_id,client_id,staff_id,scheduled_start,duration_minutes,status\n"
        b"A1,C1,S1,2026-03-02T13:00:00,50.0,attended\n"
        b"A2,C1,S1,2026-03-09T13:00:00,50,no_show\n"
        b"A3,C2,S1,2026-03-10T10:00:00," + value.encode() + b",cancelled\n"
    )
    bundle = load(make_bundle(files={"appointments.csv": appointments}))

    assert rows(bundle.rejected) == [
        ("appointments.csv", 4, "A3", "duration_minutes", reason),
    ]
    assert bundle.appointments["duration_minutes"].tolist() == [50, 50]


# --- the invariant: accepted + rejected = rows read, and no row disappears -------------------


def _record_start_lines(path: Path, encoding: str) -> list[int]:
    """Physical first line of every non-blank record, counted by Python's csv module."""
    text = path.read_bytes().decode({"windows-1252": "cp1252"}.get(encoding, encoding))
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, previous_end = [], 0
    for record in reader:
        if record:
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    return starts[1:]  # without the header


LOADABLE_CASES = [
    None,
    "encoding_utf8",
    "encoding_utf8_bom",
    "encoding_windows1252",
    "column_names",
    "synonyms",
    "flags",
    "timestamps",
    "mojibake",
    "multiline",
    "bad_rows",
    "header_only_approvals",
    "header_only_notes",
]


@pytest.mark.parametrize("case", LOADABLE_CASES)
def test_every_record_is_accepted_or_rejected_never_both_never_neither(load_case, case):
    bundle = load_case(case)
    path = bundle.path

    for table, file, encoding, rows_read, accepted, rejected in bundle.coverage.itertuples(
        index=False
    ):
        assert accepted + rejected == rows_read
        assert accepted == len(bundle.tables[table])
        rejected_lines = set(bundle.rejected.loc[bundle.rejected["file"] == file, "line"])
        accepted_lines = set(bundle.tables[table]["source_line"])
        assert len(rejected_lines) == rejected
        assert not rejected_lines & accepted_lines
        expected = _record_start_lines(path / file, encoding)
        assert len(expected) == rows_read
        assert sorted(rejected_lines | accepted_lines) == expected


# --- approvals may be absent -----------------------------------------------------------------

APPROVAL_COLUMNS = [
    "approval_id",
    "kind",
    "client_id",
    "staff_id",
    "approved_by",
    "approved_at",
    "expires_at",
    "source_line",
]


def test_absent_approvals_give_an_empty_typed_table(make_bundle):
    bundle = load(make_bundle(drop=["approvals.csv"]))

    assert len(bundle.approvals) == 0
    assert list(bundle.approvals.columns) == APPROVAL_COLUMNS
    assert str(bundle.approvals["approved_at"].dtype) == TZ_DTYPE
    assert str(bundle.approvals["expires_at"].dtype) == TZ_DTYPE
    assert bundle.coverage["table"].tolist() == [
        "staff",
        "clients",
        "appointments",
        "contacts",
        "notes",
    ]
    assert rows(bundle.rejected) == []


def test_header_only_approvals_is_an_empty_table_not_an_error(load_case):
    bundle = load_case("header_only_approvals")

    assert len(bundle.approvals) == 0
    assert list(bundle.approvals.columns) == APPROVAL_COLUMNS
    assert coverage_of(bundle)["approvals"] == ("approvals.csv", "utf-8", 0, 0, 0)


def test_header_only_notes_is_an_empty_table_not_an_error(load_case):
    # Only staff and clients must have rows (every other table refers to them); a period with
    # no notes is a finding for the rules, not an unusable file.
    bundle = load_case("header_only_notes")

    assert len(bundle.notes) == 0
    assert list(bundle.notes.columns) == [
        "note_id",
        "client_id",
        "staff_id",
        "appointment_id",
        "written_at",
        "text",
        "source_line",
    ]
    assert str(bundle.notes["written_at"].dtype) == TZ_DTYPE
    assert coverage_of(bundle)["notes"] == ("notes.csv", "utf-8", 0, 0, 0)
    assert rows(bundle.rejected) == []


# --- .xlsx and .parquet bundles --------------------------------------------------------------


def _base_frames() -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(BUNDLES / "base" / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in TABLE_FILES
    }


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_xlsx_and_parquet_bundles_load_like_csv(load_case, tmp_path, suffix):
    bundle_dir = tmp_path / f"bundle{suffix}"
    bundle_dir.mkdir()
    for name, frame in _base_frames().items():
        if suffix == ".xlsx":
            frame.to_excel(bundle_dir / f"{name}.xlsx", index=False)
        else:
            frame.to_parquet(bundle_dir / f"{name}.parquet", index=False)

    from_csv, other = load_case(None), load(bundle_dir)

    kind = suffix.lstrip(".")
    assert coverage_of(other) == {
        name: (f"{name}{suffix}", kind, *coverage_of(from_csv)[name][2:]) for name in TABLE_FILES
    }
    for name in TABLE_FILES:
        pd.testing.assert_frame_equal(other.tables[name], from_csv.tables[name])
    assert rows(other.rejected) == []


def test_xlsx_typed_cells_and_rows_numbered_as_in_the_sheet(make_bundle):
    path = make_bundle(drop=["appointments.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["Appointment ID", "CLIENT-ID", "staff id", "Scheduled Start", "Duration Minutes",
         "Service", "Status", "Room"]
    )  # fmt: skip
    sheet.append(["A1", "C1", "S1", dt.datetime(2026, 3, 2, 13, 0), 50, "individual", "Show", 4])
    sheet.append([None] * 8)  # a blank row: skipped, but the rows after keep their numbers
    sheet.append(["A2", "C1", "S1", "3/9/2026 1:00 PM", 50.0, "individual", "No Show", None])
    sheet.append(["A3", "C2", "S1", dt.datetime(2026, 3, 10, 10), "fifty", "individual", "DNA"])
    sheet.append(["A4", "C2", "S1", dt.datetime(2026, 11, 1, 9), 45, "group", "Kept", None])
    sheet.append(["A5", "C2", "S1", dt.date(2026, 11, 2), 45, "group", "Kept", None])
    book.save(path / "appointments.xlsx")

    bundle = load(path)

    assert coverage_of(bundle)["appointments"] == ("appointments.xlsx", "xlsx", 5, 3, 2)
    assert rows(bundle.rejected) == [
        (
            "appointments.xlsx",
            5,
            "A3",
            "duration_minutes",
            "duration_minutes 'fifty' is not a whole number",
        ),
        (  # a date cell is its midnight in Excel: no time of day an appointment could start at
            "appointments.xlsx",
            7,
            "A5",
            "scheduled_start",
            "scheduled_start '2026-11-02' is a date without a time of day: not read as "
            "midnight, since a missed session's call and note deadlines are counted from such "
            "times to the minute. Export it with its time (2026-03-02 13:05)",
        ),
    ]
    appointments = bundle.appointments.set_index("appointment_id")
    assert appointments["scheduled_start"].to_dict() == {
        "A1": at("2026-03-02T13:00:00-08:00"),
        "A2": at("2026-03-09T13:00:00-07:00"),
        "A4": at("2026-11-01T09:00:00-08:00"),
    }
    assert appointments["duration_minutes"].tolist() == [50, 50, 45]
    assert appointments["status"].tolist() == ["attended", "no_show", "attended"]
    assert appointments["source_line"].tolist() == [2, 4, 6]
    assert appointments["room"].tolist()[0] == "4"


def test_parquet_typed_columns_are_read_as_values(make_bundle):
    path = make_bundle(drop=["clients.csv", "appointments.csv"])
    pd.DataFrame(
        {
            "Client_ID": ["C1", "C2"],
            "first_name": ["Dana", "Eli"],
            "last_name": ["Ortiz", "Park"],
            "phone": ["555-0101", None],
            "intake_date": pd.to_datetime(["2026-01-05", "2026-02-10"]),  # naive: local
            "may_name_clinic": [True, False],
            "consent_recorded_at": pd.to_datetime(["2026-11-01T09:30:00Z", None], utc=True),
            "therapist_id": ["S1", "S1"],
        }
    ).to_parquet(path / "clients.parquet")
    pd.DataFrame(
        {
            "appointment_id": ["A1", "A2", "A3"],
            "client_id": ["C1", "C1", "C2"],
            "staff_id": ["S1", "S1", "S1"],
            "scheduled_start": pd.to_datetime(
                ["2026-03-02 13:00", "2026-03-09 13:00", "2026-03-10 10:00"]
            ),
            "duration_minutes": pd.array([50, None, 45], dtype="Int64"),
            "service": ["individual", "individual", "group"],
            "status": ["attended", "No Show", "cancelled"],
        }
    ).to_parquet(path / "appointments.parquet")

    bundle = load(path)

    assert rows(bundle.rejected) == []
    assert coverage_of(bundle)["clients"] == ("clients.parquet", "parquet", 2, 2, 0)
    clients = bundle.clients.set_index("client_id")
    assert clients["intake_date"].tolist() == [
        at("2026-01-05T00:00:00-08:00"),
        at("2026-02-10T00:00:00-08:00"),
    ]
    assert clients.loc["C1", "consent_recorded_at"] == at("2026-11-01T01:30:00-08:00")
    assert pd.isna(clients.loc["C2", "consent_recorded_at"])
    assert clients["may_name_clinic"].tolist() == [True, False]
    assert pd.isna(clients.loc["C2", "phone"])
    appointments = bundle.appointments.set_index("appointment_id")
    assert appointments["scheduled_start"].tolist() == [
        at("2026-03-02T13:00:00-08:00"),
        at("2026-03-09T13:00:00-07:00"),
        at("2026-03-10T10:00:00-07:00"),
    ]
    assert appointments["duration_minutes"].tolist() == [50, pd.NA, 45]
    assert appointments["status"].tolist() == ["attended", "no_show", "cancelled"]


# Lines that look blank: spaces, a tab, Excel's ",,,,," for an emptied row, quoted empties.
_CONTACTS_HEADER = (
    b"contact_id,client_id,staff_id,direction,channel,started_at,duration_seconds,party,"
    b"outcome,purpose,appointment_id,message\n"
)
_K1 = b"K1,C1,S1,outbound,phone,2026-03-09T13:25:00,45,client,voicemail,missed_session,A2,Hi\n"
_K3 = b"K3,C2,S1,outbound,phone,2026-03-08T09:00:00,120,client,answered,scheduling,,Confirmed\n"
_K9_TOO_WIDE = (
    b"K9,C2,S1,outbound,phone,2026-03-08T09:00:00,120,client,answered,scheduling,,Hi,extra\n"
)
_BLANK_LOOKING = {
    # name: (the lines from line 3 on, the accepted rows' lines, the rejected rows' lines,
    #        whether Python's csv module reads the file rather than Arrow)
    "emptied rows only (Arrow reads them, they are dropped)": (
        b",,,,,,,,,,,\n,,,,,,,,,,,\r\n" + _K3,
        [2, 5],
        [],
        False,
    ),
    "emptied rows after a trailing delimiter": (b",,,,,,,,,,,,\n" + _K3, [2, 4], [], False),
    "spaces and tabs (Arrow refuses them; cut)": (b"   \n\t\n \t \n" + _K3, [2, 6], [], False),
    "all kinds, and a row of another width": (
        b"  \n\t\n,,,,,,,,,,,\n" + _K9_TOO_WIDE + b" , ,\t,\n" + _K3,
        [2, 8],
        [6],
        False,
    ),
    "quoted empties of the header's width and of another": (
        b'"",,,,,,,,,,," "\n""\n" ",""\n' + _K9_TOO_WIDE + _K3,
        [2, 7],
        [6],
        False,
    ),
    "Windows-1252 (counted in full)": (
        b"\t\n,,,,,,,,,,,\n,\xa0\n" + _K9_TOO_WIDE + _K3,
        [2, 7],
        [5, 6],  # a no-break space is no blank: line 5 is a row of 2 fields, set aside
        False,
    ),
    "a bare quote elsewhere (read by the csv module)": (
        b"  \n,,,,,,,,,,,\n" + _K9_TOO_WIDE + _K3.replace(b"Confirmed", b'5" tall'),
        [2, 6],
        [5],
        True,
    ),
}


@pytest.mark.parametrize("name", list(_BLANK_LOOKING))
def test_lines_that_look_blank_are_skipped_as_blank_lines_are(make_bundle, monkeypatch, name):
    later, accepted_lines, rejected_lines, exactly = _BLANK_LOOKING[name]
    if not exactly:  # the vectorised paths must manage it alone
        monkeypatch.setattr(loading, "_read_csv_exactly", _must_not_be_called)
    contacts = _CONTACTS_HEADER + _K1 + later

    bundle = load(make_bundle(files={"contacts.csv": contacts}))

    rejected = bundle.rejected[bundle.rejected["file"] == "contacts.csv"]
    read = len(accepted_lines) + len(rejected_lines)
    expected_encoding = "windows-1252" if name.startswith("Windows") else "utf-8"
    assert coverage_of(bundle)["contacts"] == (
        "contacts.csv", expected_encoding, read, len(accepted_lines), len(rejected_lines)
    )  # fmt: skip
    assert bundle.contacts["source_line"].tolist() == accepted_lines
    assert rejected["line"].tolist() == rejected_lines
    assert bundle.contacts["contact_id"].tolist() == ["K1", "K3"]
    assert set(rejected["reason"]) <= {
        "has 13 fields; the header has 12",
        "has 2 fields; the header has 12",
    }


def _must_not_be_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("read by the csv module, not the vectorised path")


def test_blank_looking_lines_before_the_header_are_skipped(make_bundle):
    contacts = b" \n,,,\n\n" + _CONTACTS_HEADER + _K1 + b",,,,,,,,,,,\n" + _K3

    bundle = load(make_bundle(files={"contacts.csv": contacts}))

    assert coverage_of(bundle)["contacts"] == ("contacts.csv", "utf-8", 2, 2, 0)
    assert bundle.contacts["source_line"].tolist() == [5, 7]


@pytest.mark.parametrize("quoted", [b'"","","",""\r\n', b'" ",""\n""\n'])
def test_quoted_empties_before_the_header_are_skipped_too(make_bundle, quoted):
    # (only once unquoted do they look blank: the header must not be taken from them)
    contacts = quoted + _CONTACTS_HEADER + _K1 + _K3
    bundle = load(make_bundle(files={"contacts.csv": contacts}))
    lines = quoted.count(b"\n")
    assert coverage_of(bundle)["contacts"] == ("contacts.csv", "utf-8", 2, 2, 0)
    assert bundle.contacts["source_line"].tolist() == [lines + 2, lines + 3]


@pytest.mark.parametrize("sep", [b"sep=,\r\n", b"SEP=,\n", b" \nsep=,\n"])
@pytest.mark.parametrize("stray_quote", [False, True], ids=["vectorised", "csv module"])
def test_excels_separator_line_before_the_header_is_no_header(make_bundle, sep, stray_quote):
    """A `sep=,` line (written for Excel's sake) was taken for the header: "no 'contact_id'
    column ... Columns found: sep=, ." """
    k3 = _K3.replace(b"Confirmed", b'Said 5" ok') if stray_quote else _K3
    bundle = load(make_bundle(files={"contacts.csv": sep + _CONTACTS_HEADER + _K1 + k3}))
    lines = sep.count(b"\n")
    assert coverage_of(bundle)["contacts"] == ("contacts.csv", "utf-8", 2, 2, 0)
    assert bundle.contacts["source_line"].tolist() == [lines + 2, lines + 3]
    assert bundle.contacts["contact_id"].tolist() == ["K1", "K3"]


@pytest.mark.parametrize("stray_quote", [False, True], ids=["vectorised", "csv module"])
def test_excels_text_formulas_read_as_the_text_they_show(make_bundle, stray_quote):
    """Exports meant for Excel write `="C1"` to keep an id (or a phone number, a date) as
    written: read as it is, no appointment's client_id matched it, and every appointment was
    set aside as naming no client."""
    clients = (
        b"client_id,first_name,last_name,phone,intake_date,may_name_clinic,consent_recorded_at,"
        b'therapist_id\n"=""C1""",Dana,"=""O""""Ortiz""","=""555-0101""","=""2026-01-05""",yes,,'
        b"S1\nC2,=SUM(A1)," + (b'Pa"rk' if stray_quote else b"Park") + b',"=""555-0102",'
        b"2026-02-10,no,,S1\n"
    )
    bundle = load(make_bundle(files={"clients.csv": clients}))

    assert coverage_of(bundle)["clients"] == ("clients.csv", "utf-8", 2, 2, 0)
    assert coverage_of(bundle)["appointments"] == ("appointments.csv", "utf-8", 3, 3, 0)
    rows = bundle.clients[["client_id", "first_name", "last_name", "phone", "intake_date"]]
    assert rows.astype("str").values.tolist() == [
        ["C1", "Dana", 'O"Ortiz', "555-0101", "2026-01-05 00:00:00-08:00"],
        # not Excel's text formula: as written (an unclosed one, a formula of another kind)
        [
            "C2",
            "=SUM(A1)",
            'Pa"rk' if stray_quote else "Park",
            '="555-0102',
            "2026-02-10 00:00:00-08:00",
        ],
    ]


@pytest.mark.parametrize("lines", [b"  \n,,,\n\t\r\n", b',,,\n  \n"",""\n\t\n'])
def test_a_file_of_blank_looking_lines_is_empty(make_bundle, lines):
    with pytest.raises(BundleError) as caught:
        load(make_bundle(files={"staff.csv": lines}))
    assert str(caught.value) == "staff.csv is empty: it has no header row and no records."


def test_an_xlsx_formula_without_a_saved_value_is_named_not_called_blank(make_bundle):
    # openpyxl, like any script, saves a formula without the value Excel would store with it
    path = make_bundle(drop=["appointments.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["appointment_id", "client_id", "staff_id", "scheduled_start", "status"])
    sheet.append(["A1", "C1", "S1", dt.datetime(2026, 3, 2, 13, 0), "attended", None, "=1+1"])
    sheet.append(["A2", "C1", "S1", "=DATE(2026,3,9)+TIME(13,0,0)", '="no_"&"show"'])
    sheet.append(["A3", "C2", None, dt.datetime(2026, 3, 10, 10), "no_show"])  # truly blank
    sheet.append(['="A"&"4"'])  # formulas alone: no blank row
    book.save(path / "appointments.xlsx")

    bundle = load(path)

    # A1's formula is under no header: no column of the table. A2 is one row of two problems.
    assert coverage_of(bundle)["appointments"] == ("appointments.xlsx", "xlsx", 4, 1, 3)
    saved = "open the workbook in Excel and save it, so its values are stored"
    assert rows(bundle.rejected[bundle.rejected["file"] == "appointments.xlsx"]) == [
        (
            "appointments.xlsx",
            3,
            "A2",
            "scheduled_start",
            "has a formula with no saved value in scheduled_start (=DATE(2026,3,9)+TIME(13,0,0)): "
            f"{saved}",
        ),
        (
            "appointments.xlsx",
            3,
            "A2",
            "status",
            f'has a formula with no saved value in status (="no_"&"show"): {saved}',
        ),
        ("appointments.xlsx", 4, "A3", "staff_id", "staff_id is blank but required"),
        (
            "appointments.xlsx",
            5,
            "",
            "appointment_id",
            f'has a formula with no saved value in appointment_id (="A"&"4"): {saved}',
        ),
    ]


@pytest.mark.parametrize("formula", [None, "=1+1"], ids=["no formula", "a formula"])
def test_a_workbook_is_read_again_for_formulas_only_when_it_holds_one(
    make_bundle, monkeypatch, formula
):
    # A blank cell may hide a formula with no saved value, which only a second reading of the
    # sheet (for its formulas) can tell; a sheet without a formula's element needs none.
    path = make_bundle(drop=["staff.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["staff_id", "first_name", "last_name", "role", "note"])
    sheet.append(["S1", "Ana", "Reyes", "therapist", None])
    sheet.append(["S2", "Ben", None, "supervisor", None])
    sheet.append(["S3", "Cara", "Diaz", "therapist", formula])  # (openpyxl saves no value)
    book.save(path / "staff.xlsx")
    readings = []
    real = workbooks._sheet_cells
    monkeypatch.setattr(
        workbooks, "_sheet_cells", lambda *args, **kw: readings.append(kw) or real(*args, **kw)
    )

    bundle = load(path)

    expected = [{"data_only": True, "other_heads": False}]
    expected += [{"data_only": False}] if formula else []
    assert readings == expected
    accepted = 2 if formula else 3
    assert coverage_of(bundle)["staff"] == ("staff.xlsx", "xlsx", 3, accepted, 3 - accepted)


@pytest.mark.parametrize(
    ("sign", "xml", "found"),
    [
        ("_FORMULA", b"<c r='E2'><f>1+1</f><v>2</v></c>", True),
        ("_FORMULA", b'<c r="A3"><f t="shared" si="0"/></c>', True),
        ("_FORMULA", b"<x:c r='E2'><x:f>1+1</x:f></x:c>", True),
        ("_FORMULA", b'<autoFilter><filterColumn colId="0"><filters/></filterColumn>', False),
        ("_FORMULA", b'<c r="A1" t="inlineStr"><is><t>&lt;f&gt; 5" tall</t></is></c>', False),
        # what calamine reads otherwise than openpyxl: error cells, texts of whitespace alone
        ("_READ_APART", b'<c r="E2" t="e"><v>#N/A</v></c>', True),
        ("_READ_APART", b"<x:c r='E2' t='e'><x:v>#REF!</x:v></x:c>", True),
        ("_READ_APART", b'<c r="E2" t="s"><v>0</v></c><c r="F2" t="str"><v>e</v></c>', False),
        ("_READ_APART", b"<is><t> </t></is>", True),
        ("_READ_APART", b'<si><t xml:space="preserve">\t\n</t></si>', True),
        ("_READ_APART", b"<x:is><x:t>&#x20;&#9;</x:t></x:is>", True),
        ("_READ_APART", b'<is><t xml:space="preserve">  a  </t></is><tableParts/>', False),
        ("_READ_APART", b"<si><t>line_x000D_\nbreak</t></si>", True),
        ("_READ_APART", b"<si><t>max_x, min_y</t></si>", False),
    ],
)
def test_what_a_workbooks_xml_holds_is_told_from_other_xml(sign, xml, found):
    assert workbooks._xml_holds(io.BytesIO(xml), getattr(workbooks, sign)) == [found]


def test_a_formula_element_cut_between_two_reads_is_found(tmp_path, monkeypatch):
    book = openpyxl.Workbook()
    book.active.append(["S1", "=1+1"])
    book.save(tmp_path / "formula.xlsx")
    monkeypatch.setattr(workbooks, "_XML_READ", 3)  # every element cut somewhere

    opened = openpyxl.load_workbook(tmp_path / "formula.xlsx", read_only=True)
    try:
        assert workbooks._sheet_holds(opened, opened.worksheets[0]) == (True, False)
    finally:
        opened.close()


def _both_readings(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, ...]:
    """A sheet's values as calamine reads them for the loader, and as openpyxl does."""
    by_calamine, title, _, _ = workbooks._sheet_cells(path, None, data_only=True)
    with monkeypatch.context() as patched:
        patched.setattr(workbooks, "_calamine_values", lambda *_: None)
        by_openpyxl, _, _, _ = workbooks._sheet_cells(path, None, data_only=True)
    assert workbooks._calamine_values(path, title) is not None  # (it was calamine's)
    return by_calamine, by_openpyxl


def _cells(frame: pd.DataFrame) -> list[list[tuple[str, object]]]:
    """Each row's cells with their exact types, up to the sheet's last row and column holding a
    value (openpyxl may hand over empty cells beyond them; calamine stops there)."""
    held = frame.notna().to_numpy()
    rows, columns = (np.flatnonzero(held.any(axis=k)) for k in (1, 0))
    if not len(rows):
        return []
    shown = frame.iloc[: rows[-1] + 1, : columns[-1] + 1]
    return [[(type(v).__name__, v) for v in row] for row in shown.itertuples(index=False)]


def test_calamine_reads_a_sheet_as_openpyxl_does(tmp_path, monkeypatch):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])  # a blank row and a blank column before the table
    sheet.append([None, "Appointments, March 2026"])
    sheet.append([None, "id", "when", "day", "clock", "length", "count", "rate", "flag", "note"])
    first = [None, "A1", dt.datetime(2026, 3, 2, 13, 0, 5), dt.datetime(2026, 3, 2)]
    sheet.append([*first, dt.time(9, 30), dt.timedelta(minutes=75), 1001, 2.5, True, " spaced "])
    no_end = dt.date(9999, 12, 31)
    sheet.append([None, 8055550127, 46083.5, no_end, None, None, 1001.0, -0.1, False, ""])
    sheet.append(
        [None, "Dr. Ré\u00e9 \u2014 “quoted”", None, None, None, None, 1e20, None, None, "x"]
    )
    sheet["D5"].number_format = "yyyy-mm-dd;@"
    sheet.append([])
    sheet.append([None, None, None, None, None, None, None, None, None, "after a gap"])
    book.save(tmp_path / "typed.xlsx")

    by_calamine, by_openpyxl = _both_readings(tmp_path / "typed.xlsx", monkeypatch)

    assert _cells(by_calamine) == _cells(by_openpyxl)
    assert _cells(by_calamine)[3][2] == ("datetime", dt.datetime(2026, 3, 2, 13, 0, 5))
    assert _cells(by_calamine)[3][3] == ("datetime", dt.datetime(2026, 3, 2))  # not a date
    assert _cells(by_calamine)[4][3] == ("datetime", dt.datetime(9999, 12, 31))  # no end date
    assert _cells(by_calamine)[4][9] == ("NoneType", None)  # empty text is an empty cell


def _with_shared_strings(path: Path, strings: list[bytes]) -> None:
    """Rewrite a one-row workbook openpyxl saved (its text inline) as Excel writes text: each
    cell an index into xl/sharedStrings.xml, whose items are `strings` (<si> contents)."""
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    cells = iter(range(len(strings)))
    parts["xl/worksheets/sheet1.xml"] = re.sub(
        rb'(<c r="[A-Z]+1") t="inlineStr"><is>.*?</is></c>',
        lambda cell: cell[1] + b' t="s"><v>%d</v></c>' % next(cells),
        parts["xl/worksheets/sheet1.xml"],
    )
    items = b"".join(b"<si>%s</si>" % item for item in strings)
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main">' + items + b"</sst>"
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)


class _RustPanic(BaseException):
    """What a panic in a Rust extension raises (pyo3's PanicException): no Exception."""


@pytest.mark.parametrize("failure", [ValueError("bad zip"), _RustPanic("index out of bounds")])
def test_a_sheet_calamine_fails_on_is_read_by_openpyxl(make_bundle, monkeypatch, failure):
    path = make_bundle(drop=["staff.csv"])
    book = openpyxl.Workbook()
    book.active.append(["staff_id", "first_name", "last_name", "role"])
    book.active.append(["S1", "Ana", "Reyes", "therapist"])
    book.active.append(["S2", "Ben", "Cho", "supervisor"])
    book.save(path / "staff.xlsx")

    def failing(*_args: object) -> None:
        raise failure

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", failing)

    assert load(path).staff["staff_id"].tolist() == ["S1", "S2"]


def test_calamine_reads_excels_shared_strings_as_openpyxl_does(tmp_path, monkeypatch):
    strings = [
        b"<t>plain</t>",
        b'<r><rPr><b/></rPr><t>bold</t></r><r><t xml:space="preserve"> then not</t></r>',
        b'<t>kanji</t><rPh sb="0" eb="1"><t>KANA</t></rPh>',  # a reading aid, not the text
        b'<t xml:space="preserve">  padded  </t>',
    ]
    book = openpyxl.Workbook()
    book.active.append(["a", "b", "c", "d"])
    book.save(tmp_path / "shared.xlsx")
    _with_shared_strings(tmp_path / "shared.xlsx", strings)

    by_calamine, by_openpyxl = _both_readings(tmp_path / "shared.xlsx", monkeypatch)

    assert _cells(by_calamine) == _cells(by_openpyxl)
    assert [v for _, v in _cells(by_calamine)[0]] == [
        "plain",
        "bold then not",
        "kanji",
        "  padded  ",
    ]


# Cells as exports hold them: text (no character XML can't carry), whole and other numbers,
# flags, and date-times, dates, times of day and durations in whole seconds.
_EXPORT_CELLS = st.one_of(
    st.none(),
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r"),
        max_size=12,
    ),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(-1e12, 1e12, allow_nan=False),
    st.booleans(),
    st.datetimes(dt.datetime(1901, 1, 1), dt.datetime(9999, 12, 31)).map(
        lambda when: when.replace(microsecond=0)
    ),
    st.dates(dt.date(1901, 1, 1), dt.date(9999, 12, 31)),  # (12/31/9999: "no end date")
    st.times().map(lambda clock: clock.replace(microsecond=0)),
    st.integers(0, 10**6).map(lambda seconds: dt.timedelta(seconds=seconds)),
)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(_EXPORT_CELLS, min_size=1, max_size=6), min_size=1, max_size=8))
def test_calamine_reads_any_sheet_of_values_as_openpyxl_does(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cells.xlsx"
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
        with pytest.MonkeyPatch.context() as monkeypatch:
            by_calamine, by_openpyxl = _both_readings(path, monkeypatch)
    assert _cells(by_calamine) == _cells(by_openpyxl)


@pytest.mark.parametrize(
    "cell", ["#N/A", " ", "=1+1"], ids=["an error cell", "a space", "a formula"]
)
def test_a_sheet_calamine_would_read_otherwise_is_read_by_openpyxl(make_bundle, monkeypatch, cell):
    # calamine reads an error cell, and a cell of a space alone, as empty, and keeps no
    # formula's text: such a sheet is openpyxl's to read, whose '#N/A' and ' ' are the text a
    # CSV export of it holds.
    path = make_bundle(drop=["staff.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["staff_id", "first_name", "last_name", "role", "extension"])
    sheet.append(["S1", "Ana", "Reyes", "therapist", 101])
    sheet.append(["S2", "Ben", "Cho", "supervisor", 102])
    sheet.append(["S3", "Cara", "Diaz", "therapist", cell])  # (openpyxl saves no formula value)
    book.save(path / "staff.xlsx")
    monkeypatch.setattr(workbooks, "_calamine_values", lambda *_: pytest.fail("calamine read it"))

    bundle = load(path)

    shown = ["101", "102", cell] if cell != "=1+1" else ["101", "102"]
    assert bundle.staff["extension"].tolist() == shown


@pytest.mark.parametrize(
    ("data", "lines", "blank"),
    [
        (b"a,b\n,,\n1,2\n \t,\n", [2, 4], True),
        (b"a,b\n,,\n1,2\n", [3], False),  # a value: a row, not blank
        (b"a,b\r,,\r1,2\r", [2], True),  # lines ended by CR alone
        (b'a,"b"\n"x\ny",1\n,,\n', [4], True),  # a quoted line break before it
        (b'a,b\n"",""\n', [2], False),  # blank once unquoted: left to every column's reading
    ],
)
def test_blank_lines_are_told_by_their_bytes(data, lines, blank):
    # How an import that parsed only its mapped columns tells a row blank in them all from a
    # row holding a value in another column (loading._read_csv_bytes' keep).
    assert loading._blank_lines(data, np.array(lines)) is blank


def test_an_xlsx_table_below_title_rows_is_read_from_its_header(make_bundle):
    # The reader auditkit import uses for Excel exports: a header below a title, lines as the
    # sheet numbers its rows, whole numbers Excel keeps as floats without their '.0'.
    path = make_bundle(drop=["staff.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Staff list, March 2026"])
    sheet.append([])
    sheet.append(["staff_id", "first_name", "last_name", "role", None, "Extension"])
    sheet.append(["S1", "Ana", "Reyes", "therapist", None, 101.0])
    sheet.append(["S2", "Ben", "Cho", "supervisor", "on leave", 102])
    sheet.append(["S3", "Cara", "Diaz", "program_director", None, 103.5])
    book.save(path / "staff.xlsx")

    bundle = load(path)

    assert coverage_of(bundle)["staff"] == ("staff.xlsx", "xlsx", 3, 3, 0)
    assert bundle.staff["source_line"].tolist() == [4, 5, 6]
    assert bundle.staff["extension"].tolist() == ["101", "102", "103.5"]
    assert bundle.staff["column_e"].tolist()[1] == "on leave"  # a value under no header


def test_xlsx_rows_of_empty_or_space_cells_are_skipped(make_bundle):
    path = make_bundle(drop=["staff.csv"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["staff_id", "first_name", "last_name", "role"])
    sheet.append(["S1", "Ana", "Reyes", "therapist"])
    sheet.append([" ", None, "\t", "  "])  # cleared with the space bar: skipped
    sheet.append([None, None, None, None])
    sheet.append(["S2", "Ben", "Cho", "supervisor"])
    sheet.append([" ", "Cara", None, "therapist"])  # a value: a row, its id missing
    sheet.append(["S3", "Cara", "Diaz", "program_director"])
    book.save(path / "staff.xlsx")

    bundle = load(path)

    assert coverage_of(bundle)["staff"] == ("staff.xlsx", "xlsx", 4, 3, 1)
    assert bundle.staff["source_line"].tolist() == [2, 5, 7]
    assert bundle.rejected.loc[bundle.rejected["file"] == "staff.xlsx", "line"].tolist() == [6]


# --- fatal: a table that cannot be used stops the load ---------------------------------------


@pytest.fixture(params=["read ahead", "typed ahead"])
def either_loading_path(request, monkeypatch):
    """load() as for a small bundle, and as for a large one (files typed on two threads)."""
    if request.param == "typed ahead":
        monkeypatch.setattr(validation, "TYPE_ON_THREADS_FROM", 0)


@pytest.mark.parametrize("name", list(FATAL_CASES))
def test_fatal_cases_raise_bundle_error_naming_file_and_column(
    make_bundle, name, either_loading_path
):
    spec, message = FATAL_CASES[name]
    bundle = build_fatal(make_bundle, spec)

    with pytest.raises(BundleError) as caught:
        load(bundle)

    assert str(caught.value) == message.format(bundle=bundle)


@pytest.mark.parametrize("name", list(UNREADABLE_CASES))
def test_unreadable_files_raise_bundle_error_naming_the_file(
    make_bundle, name, either_loading_path
):
    spec, start = UNREADABLE_CASES[name]
    bundle = build_fatal(make_bundle, spec)

    with pytest.raises(BundleError) as caught:
        load(bundle)

    assert str(caught.value).startswith(start)
    assert len(str(caught.value)) > len(start)


def test_a_path_that_is_not_a_folder_is_fatal(tmp_path):
    with pytest.raises(BundleError) as caught:
        load(tmp_path / "nowhere")
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere'} does not exist. An audit bundle is a folder of table files."
    )
    (tmp_path / "export.csv").write_text("a,b\n")
    with pytest.raises(BundleError) as caught:
        load(tmp_path / "export.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'export.csv'} is not a folder. An audit bundle is a folder of table files."
    )


def test_a_folder_missing_several_tables_names_them_all(tmp_path):
    (tmp_path / "clients.csv").write_text("client_id\n")
    with pytest.raises(BundleError) as caught:
        load(tmp_path)
    assert str(caught.value) == (
        f"The bundle {tmp_path} has no staff, appointments, contacts or notes table: "
        "expected a .csv, .xlsx or .parquet file of each, named for its table (staff.csv, "
        "...). They are required."
    )


def test_a_bare_quote_inside_a_field_does_not_stop_the_load(make_bundle):
    notes = (
        b"note_id,client_id,staff_id,appointment_id,written_at,text\n"
        b'N1,C1,S1,A2,2026-03-09T16:00:00,Client is 5" taller than last year\n'
        b"N2,C1,S1,A1,2026-03-02T15:00:00,Attended session.\n"
    )
    bundle = load(make_bundle(files={"notes.csv": notes}))

    assert bundle.notes["text"].tolist() == [
        'Client is 5" taller than last year',
        "Attended session.",
    ]


def test_stray_quotes_keep_physical_lines_and_set_aside_wrong_widths(make_bundle):
    notes = (
        b"note_id,client_id,staff_id,appointment_id,written_at,text\n"
        b'N1,C1,S1,A2,2026-03-09T16:00:00,"Line one\nline two"\n'
        b'N2,C1,S1,A1,2026-03-02T15:00:00,He is 5",tall\n'
        b"\n"
        b'N3,C1,S1,A1,2026-03-02T15:00:00,Said "hi" twice\n'
    )
    bundle = load(make_bundle(files={"notes.csv": notes}))

    assert bundle.notes[["note_id", "text", "source_line"]].values.tolist() == [
        ["N1", "Line one\nline two", 2],
        ["N3", 'Said "hi" twice', 6],
    ]
    rejected = bundle.rejected[bundle.rejected["file"] == "notes.csv"]
    assert rejected[["line", "record_id", "reason"]].values.tolist() == [
        [4, "N2", "has 7 fields; the header has 6"]
    ]


def test_iso_timestamps_in_lower_case_parse_like_upper_case():
    from auditkit.parsing import parse_timestamp

    values = pd.Series(["2026-11-01t08:30:00z", "2026-11-01t01:30", "2026-11-01T09:30:00Z"])
    parsed, reasons = parse_timestamp(values, "started_at", "America/Los_Angeles")
    assert [str(t) for t in parsed] == [
        "2026-11-01 01:30:00-07:00",
        "2026-11-01 01:30:00-07:00",
        "2026-11-01 01:30:00-08:00",
    ]
    assert reasons.isna().all()


# --- the vectorised splitter: block by block, exactly as whole ----------------------------------

SPLIT_CASES = {
    "multi-line quoted fields, CRLF": (
        b'h1,h2,h3\r\n1,"a\r\nb",x\r\n\r\n2,"c,""d""",y\r\n3,e,"f\ng"\r\n'
    ),
    "lone CR line ends and a blank line": b'h1,h2\r1,a\r\r2,"b\rc"\r3,d',
    "wrong widths, and a quote left open at the end": b'h1,h2\n1,a,extra\n2,b\n3\n4,"open,\n',
    "commas only inside quotes": b'h1,h2\n",,,",","\n",",","\n',
}


@pytest.mark.parametrize("data", SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_the_splitter_reads_a_file_the_same_whatever_its_block_size(monkeypatch, data):
    buf = np.frombuffer(data, dtype=np.uint8)
    whole = loading._scan(buf)
    for block in (1, 2, 3, 5, 8):
        monkeypatch.setattr(loading, "_SCAN_BLOCK", block)
        part = loading._scan(buf)
        for field in ("starts", "ends", "lines", "fields"):
            assert getattr(part, field).tolist() == getattr(whole, field).tolist(), (block, field)
        assert (part.open_at_end, part.bare_quote) == (whole.open_at_end, whole.bare_quote)


# Whether parity can be trusted, by the csv module's reading (see _has_bare_quote).
BARE_QUOTE_CASES = {
    b'h1,h2\n1,"a ""quoted"" word"\n2,"b"\n': False,  # doubled quotes across blocks
    b'"h1","h2"\r\n"1",""""\r\n': False,
    b'h,i\n"x",""\n"""",y\n': False,
    b'h1,h2\n1,5" tall\n': True,
    b'h1,h2\n1,"a" b\n': True,
    b'h1,h2\n1,abc"\n': True,
}


@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 22])
def test_a_bare_quote_is_found_whatever_the_block_size(monkeypatch, block):
    monkeypatch.setattr(loading, "_SCAN_BLOCK", block)
    for data, bare in BARE_QUOTE_CASES.items():
        buf = np.frombuffer(data, dtype=np.uint8)
        assert loading._has_bare_quote(buf) == bare, data
        assert _scan(buf).bare_quote == bare, data  # as the loader's scan finds it on its way


def test_the_splitter_finds_records_lines_and_widths():
    data = SPLIT_CASES["multi-line quoted fields, CRLF"]
    records = _scan(np.frombuffer(data, dtype=np.uint8))
    assert records.lines.tolist() == [1, 2, 5, 6]  # line 4 is blank
    assert records.fields.tolist() == [3, 3, 3, 3]
    assert [data[s:e] for s, e in zip(records.starts, records.ends, strict=True)] == [
        b"h1,h2,h3\r",
        b'1,"a\r\nb",x\r',
        b'2,"c,""d""",y\r',
        b'3,e,"f\ng"\r',
    ]
    data = SPLIT_CASES["wrong widths, and a quote left open at the end"]
    open_quote = _scan(np.frombuffer(data, dtype=np.uint8))
    assert open_quote.lines.tolist() == [1, 2, 3, 4, 5]
    assert open_quote.fields.tolist() == [2, 3, 2, 1, 2]


@pytest.mark.parametrize("data", SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_lines_are_counted_alike_whatever_the_block_size(monkeypatch, data):
    # Every line end (LF, CRLF, a lone CR), quoted or not, plus an unended last line.
    expected = len(re.findall(rb"\r\n|\r|\n", data)) + (not data.endswith((b"\n", b"\r")))
    buf = np.frombuffer(data, dtype=np.uint8)
    for block in (1, 2, 3, 5, 8, 1 << 22):
        monkeypatch.setattr(loading, "_SCAN_BLOCK", block)
        assert loading._physical_lines(buf) == expected, block
        assert loading._holds(buf, ord('"')) is (b'"' in data), block


# A file without quotes, each line one record (as appointments or a call log): numbered from
# the count of its lines, never split record by record. Headers fit the 16-byte first block
# these tests set.
UNQUOTED = {
    "LF": b"staff_id,role\nS1,therapist\nS2,supervisor\nS3,trainee\n",
    "CRLF": b"staff_id,role\r\nS1,therapist\r\nS2,supervisor\r\nS3,trainee\r\n",
    "lone CR": b"staff_id,role\rS1,therapist\rS2,supervisor\rS3,trainee\r",
    "no last line end": b"staff_id,role\nS1,therapist\nS2,supervisor\nS3,trainee",
}
WHOLE = "whole"  # (in `scanned`) the whole file split by quote parity


def _scanned(monkeypatch, data: bytes) -> list[int | str]:
    """What read_csv splits record by record: the first block (its length) or WHOLE."""
    lengths, scan = [], loading._scan

    def recording(buf, count_fields=True):
        lengths.append(WHOLE if len(buf) == len(data) else len(buf))
        return scan(buf, count_fields)

    monkeypatch.setattr(loading, "_scan", recording)
    return lengths


@pytest.mark.parametrize("data", UNQUOTED.values(), ids=UNQUOTED.keys())
def test_an_unquoted_file_is_numbered_by_counting_its_lines(tmp_path, monkeypatch, data):
    (tmp_path / "staff.csv").write_bytes(data)
    monkeypatch.setattr(loading, "_SCAN_BLOCK", 16)
    scanned = _scanned(monkeypatch, data)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.lines.tolist() == [2, 3, 4]
    assert raw.frame["role"].tolist() == ["therapist", "supervisor", "trainee"]
    assert scanned == [16]  # the first block, for the header


@pytest.mark.parametrize(
    ("data", "lines", "split"),
    [
        # quotes: split by their parity from the start
        (b'staff_id,role\nS1,"two\nlines"\nS2,"b, c"\nS3,c\n', [2, 4, 5], [WHOLE]),
        # blank lines, which Arrow skips: its count of records disagrees with the lines'
        (b"staff_id,role\nS1,a\n\nS2,b\nS3,c\n", [2, 4, 5], [16, WHOLE]),
        (b"\n\nstaff_id,role\nS1,a\nS2,b\nS3,c\n", [4, 5, 6], [16, WHOLE]),
        (b"staff_id,role\nS1,a\nS2,b\nS3,c\n\r\n\n", [2, 3, 4], [16, WHOLE]),
    ],
    ids=["quoted", "a blank line", "blank lines first", "blank lines last"],
)
def test_a_file_whose_lines_may_not_be_its_records_is_split_by_quotes(
    tmp_path, monkeypatch, data, lines, split
):
    (tmp_path / "staff.csv").write_bytes(data)
    monkeypatch.setattr(loading, "_SCAN_BLOCK", 16)
    scanned = _scanned(monkeypatch, data)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.lines.tolist() == lines
    assert raw.frame["staff_id"].tolist() == ["S1", "S2", "S3"]
    assert scanned == split


def test_a_header_longer_than_the_first_block_is_read_whole(tmp_path, monkeypatch):
    data = UNQUOTED["CRLF"]
    (tmp_path / "staff.csv").write_bytes(data)
    monkeypatch.setattr(loading, "_SCAN_BLOCK", 8)
    scanned = _scanned(monkeypatch, data)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.frame.columns.tolist() == ["staff_id", "role"]
    assert (raw.lines.tolist(), raw.frame["role"].tolist()) == (
        [2, 3, 4],
        ["therapist", "supervisor", "trainee"],
    )
    assert scanned == [8, WHOLE]


@pytest.mark.parametrize(
    ("data", "utf8"),
    [
        (b"plain ascii", True),
        ("Renée, O’Neil, 日本, 🙂".encode(), True),
        (b"\xc3\xa9\x00nul", True),
        (b"Ren\xe9e", False),  # Windows-1252
        (b"\xc0\x80", False),  # overlong NUL
        (b"\xe0\x80\xaf", False),  # overlong '/'
        (b"\xed\xa0\x80", False),  # a UTF-16 surrogate
        (b"\xf4\x90\x80\x80", False),  # beyond U+10FFFF
        (b"\xf5\x80\x80\x80", False),
        (b"ok\xe2\x80", False),  # cut short at the end
        (b"\x80ok", False),  # a continuation byte alone
    ],
)
def test_utf8_is_checked_as_python_decodes(data, utf8):
    try:
        data.decode("utf-8")
        by_python = True
    except UnicodeDecodeError:
        by_python = False
    assert by_python is utf8
    if utf8:
        _check_utf8(data)
        assert decode(data) == (data, "utf-8")
    else:
        with pytest.raises(UnicodeDecodeError):
            _check_utf8(data)
        assert decode(data)[1] == "windows-1252"


STAFF_CSV = b"staff_id,first_name,last_name,role\nS1,Ana,Reyes,therapist\nS2,Ben,Cho,supervisor\n"


def _arrow_sources(monkeypatch) -> list[str]:
    """What each CSV read asks Arrow to parse: 'disk' (a path) or 'bytes' (a buffer)."""
    sources, parse = [], loading.pacsv.read_csv

    def recording(source, **options):
        sources.append("disk" if isinstance(source, loading.pa.MemoryMappedFile) else "bytes")
        return parse(source, **options)

    monkeypatch.setattr(loading.pacsv, "read_csv", recording)
    return sources


@pytest.mark.parametrize(
    ("data", "parsed", "encoding"),
    [
        (STAFF_CSV, ["disk"], "utf-8"),
        (b"\xef\xbb\xbf" + STAFF_CSV, ["bytes"], "utf-8-sig"),
        (STAFF_CSV.replace(b"Reyes", b"Rey\xe9s"), ["bytes"], "windows-1252"),
        # a wrong-width row: Arrow refuses the file, whose rows are then counted and the row
        # cut from the bytes
        (STAFF_CSV + b"S3,Cara\n", ["disk", "bytes"], "utf-8"),
    ],
)
def test_clean_utf8_is_parsed_from_the_disk_the_rest_from_the_bytes(
    tmp_path, monkeypatch, data, parsed, encoding
):
    (tmp_path / "staff.csv").write_bytes(data)
    sources = _arrow_sources(monkeypatch)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert (sources, raw.encoding) == (parsed, encoding)
    assert raw.frame.values.tolist() == [
        ["S1", "Ana", "Reyés" if encoding == "windows-1252" else "Reyes", "therapist"],
        ["S2", "Ben", "Cho", "supervisor"],
    ]
    assert raw.lines.tolist() == [2, 3]
    assert rows(raw.malformed) == (
        [("staff.csv", 4, "S3", "", "has 2 fields; the header has 4")] if b"S3" in data else []
    )


def test_a_file_arrow_refuses_from_the_disk_is_read_again_exactly(tmp_path, monkeypatch):
    (tmp_path / "staff.csv").write_bytes(STAFF_CSV)

    def refuse(source, **options):
        raise loading.pa.ArrowInvalid("CSV parse error")

    monkeypatch.setattr(loading.pacsv, "read_csv", refuse)
    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.frame.values.tolist() == [
        ["S1", "Ana", "Reyes", "therapist"],
        ["S2", "Ben", "Cho", "supervisor"],
    ]
    assert (raw.lines.tolist(), raw.encoding, raw.malformed.empty) == ([2, 3], "utf-8", True)


def test_a_file_gone_between_scan_and_parse_is_refused_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "staff.csv"
    path.write_bytes(STAFF_CSV)
    read = loading._read_bytes

    def read_then_delete(file: Path) -> loading.FileBytes:
        data = read(file)
        file.unlink()
        return data

    monkeypatch.setattr(loading, "_read_bytes", read_then_delete)
    with pytest.raises(BundleError) as caught:
        loading.read_csv(path, "staff", "staff_id")
    assert str(caught.value).startswith("staff.csv cannot be read: ")


# --- a delimiter ending every row but the header ----------------------------------------------

# Some exporters end every record with a delimiter but not the header: `S1,Ana,Reyes,therapist,`
# under four names. That empty last field is no value and is dropped; a value there is a field
# too many, and its row is set aside as any other of the wrong width.
STAFF_TRAILING = (
    b"staff_id,first_name,last_name,role\n"
    b"S1,Ana,Reyes,therapist,\n"
    b'S2,"Ben, Jr.",Cho,supervisor,""\n'
)
TRAILING_FILES = {
    "LF": STAFF_TRAILING,
    "CRLF": STAFF_TRAILING.replace(b"\n", b"\r\n"),
    "lone CR": STAFF_TRAILING.replace(b"\n", b"\r"),
    "no last line end": STAFF_TRAILING.removesuffix(b"\n"),
}
# Each path of read_csv, and what Arrow parses on it: a UTF-8 file from the disk (with a spare
# last column when the first record ends in a trailing delimiter), a file with a BOM from its
# bytes (the trailing delimiters cut), a file with a stray quote by the csv module alone.
READ_PATHS = {"arrow": ["disk"], "scan": ["bytes"], "exact": []}


def _for_path(monkeypatch, data: bytes, path: str) -> bytes:
    """`data` as it must be for read_csv to take `path` (a READ_PATHS key)."""
    if path == "scan":
        return b"\xef\xbb\xbf" + data
    if path == "exact":  # as if the file's scan had found a stray quote
        scan = loading._scan
        monkeypatch.setattr(
            loading,
            "_scan",
            lambda buf, count_fields=True: replace(scan(buf, count_fields), bare_quote=True),
        )
    return data


@pytest.mark.parametrize("path", list(READ_PATHS))
@pytest.mark.parametrize("data", TRAILING_FILES.values(), ids=TRAILING_FILES.keys())
def test_a_delimiter_ending_every_row_but_the_header_is_no_field(tmp_path, monkeypatch, path, data):
    (tmp_path / "staff.csv").write_bytes(_for_path(monkeypatch, data, path))
    sources = _arrow_sources(monkeypatch)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.frame.columns.tolist() == ["staff_id", "first_name", "last_name", "role"]
    assert raw.frame.values.tolist() == [
        ["S1", "Ana", "Reyes", "therapist"],
        ["S2", "Ben, Jr.", "Cho", "supervisor"],
    ]
    assert raw.lines.tolist() == [2, 3]
    assert rows(raw.malformed) == []
    assert sources == READ_PATHS[path]


STAFF_MIXED = (
    b"staff_id,first_name,last_name,role\r\n"
    b"S1,Ana,Reyes,therapist,\r\n"  # 2: a trailing delimiter
    b"S2,Ben,Cho,supervisor\r\n"  # 3: none
    b"\r\n"  # 4: blank
    b'S3,"Cara\r\nLee",Diaz,program_director,\r\n'  # 5-6: one record, a trailing delimiter
    b"S4,Dev,Roy,admin,x\r\n"  # 7: a value past the header's fields
    b"S5,Eve,Fox,therapist,,\r\n"  # 8: two delimiters, so an empty field too many
    b'S6,Gus,Hale,"admin,"\r\n'  # 9: a comma at the end of a quoted value
    b"S7,Ida,Ives,\r\n"  # 10: the header's width, its last field blank
    b'S8,Jo,Kim,admin,""'  # 11: an empty quoted field too many, and no line end
)


@pytest.mark.parametrize("path", list(READ_PATHS))
def test_rows_with_and_without_a_trailing_delimiter_mix(tmp_path, monkeypatch, path):
    (tmp_path / "staff.csv").write_bytes(_for_path(monkeypatch, STAFF_MIXED, path))
    sources = _arrow_sources(monkeypatch)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.frame.fillna("").values.tolist() == [
        ["S1", "Ana", "Reyes", "therapist"],
        ["S2", "Ben", "Cho", "supervisor"],
        ["S3", "Cara\r\nLee", "Diaz", "program_director"],
        ["S6", "Gus", "Hale", "admin,"],
        ["S7", "Ida", "Ives", ""],
        ["S8", "Jo", "Kim", "admin"],
    ]
    assert raw.lines.tolist() == [2, 3, 5, 9, 10, 11]
    assert rows(raw.malformed) == [
        ("staff.csv", 7, "S4", "", "has 5 fields; the header has 4"),
        ("staff.csv", 8, "S5", "", "has 6 fields; the header has 4"),
    ]
    # Arrow from the disk expects a spare last column, as record 2 has; record 3 says otherwise.
    assert sources == {"arrow": ["disk", "bytes"], "scan": ["bytes"], "exact": []}[path]


def test_a_value_in_the_spare_field_of_every_row_sets_each_aside(tmp_path):
    data = STAFF_TRAILING.replace(b"therapist,", b"therapist,x").replace(b',""', b",y")
    (tmp_path / "staff.csv").write_bytes(data)

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert (len(raw.frame), raw.rows_read) == (0, 2)
    assert rows(raw.malformed) == [
        ("staff.csv", 2, "S1", "", "has 5 fields; the header has 4"),
        ("staff.csv", 3, "S2", "", "has 5 fields; the header has 4"),
    ]


def test_only_an_empty_last_field_outside_quotes_ends_in_a_trailing_delimiter():
    data = b'h1,h2\n1,2,\n1,""\r\n1,"2,"\n1,2\n,\n1,"open,'
    buf = np.frombuffer(data, dtype=np.uint8)
    records = _scan(buf)

    found, ends = loading._trailing_delimiters(
        buf, records.starts, records.ends, records.open_at_end
    )

    # 1,2, -> its comma; 1,"" -> the comma and the empty quotes; 1,"2," and a quote left open
    # at the end of the file -> none: those commas are inside quotes.
    assert found.tolist() == [-1, 9, 12, -1, -1, 28, -1]
    assert [data[at : end + 1] for at, end in zip(found, ends, strict=True) if at >= 0] == [
        b",",
        b',""',
        b",",
    ]


def _with_trailing_delimiters(source: Path, target: Path, encodings: dict[str, str]) -> None:
    """The bundle as an export that ends every record but the header with a delimiter writes
    it, with CRLF line ends; each table file in its encoding (`encodings`, else UTF-8)."""
    target.mkdir()
    for path in source.iterdir():
        if path.suffix != ".csv" or path.stem not in [*TABLE_FILES, "calls"]:
            (target / path.name).write_bytes(path.read_bytes())
            continue
        with path.open(newline="", encoding="utf-8") as file:
            records = list(csv.reader(file))
        text = io.StringIO()
        for k, record in enumerate(records):
            line = io.StringIO()  # (with no line terminator, "\n" in a field goes unquoted)
            csv.writer(line, lineterminator="\r\n").writerow(record)
            text.write(line.getvalue().removesuffix("\r\n") + ("," if k else "") + "\r\n")
        (target / path.name).write_bytes(text.getvalue().encode(encodings.get(path.stem, "utf-8")))


def test_a_bundle_with_trailing_delimiters_audits_as_without(tmp_path):
    # The tester's case: `auditkit sample --clients 20 --seed 3 --broken-rows`, every record
    # but the header ending in a delimiter; before, every row of every file was set aside and
    # the audit passed on nothing. UTF-8 files go Arrow's way from the disk; the others are cut.
    from auditkit import audit
    from auditkit.sample import generate_sample

    generate_sample(tmp_path / "plain", clients=20, seed=3, broken_rows=True)
    encodings = {"clients": "cp1252", "contacts": "utf-8-sig", "notes": "utf-8-sig"}
    _with_trailing_delimiters(tmp_path / "plain", tmp_path / "trailing", encodings)

    plain, trailing = load(tmp_path / "plain"), load(tmp_path / "trailing")

    counts = ["table", "rows_read", "accepted", "rejected"]
    pd.testing.assert_frame_equal(trailing.coverage[counts], plain.coverage[counts])
    assert plain.coverage["rejected"].sum() == 7  # the sample's broken rows, and only those
    pd.testing.assert_frame_equal(trailing.rejected, plain.rejected)
    for name, table in plain.tables.items():
        pd.testing.assert_frame_equal(trailing.tables[name], table, obj=name)
    expected = audit(plain).findings
    assert len(expected) == 85
    pd.testing.assert_frame_equal(audit(trailing).findings, expected)


# Pieces of a CSV for the Dask engine's workers (csv_cuts, read_piece).
QUOTED_RECORDS = b'id,text\n1,"a\nb"\n2,plain\n3,"x,""y""\nz"\n\n4,too,wide\n5,last'


def test_csv_cuts_end_pieces_at_record_ends_never_inside_quotes(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(QUOTED_RECORDS)

    cuts = csv_cuts(path, 5)

    # The line feeds inside "a\nb" and "x,""y""\nz" have an odd number of quotes before them.
    assert cuts.header_end == 8
    assert cuts.spans == [(8, 16, 2), (16, 24, 4), (24, 38, 5), (38, 50, 7), (50, 56, 9)]
    pieces = [cuts.piece(k) for k in range(len(cuts.spans))]
    assert pieces[0].data == b'id,text\n1,"a\nb"\n'
    assert pieces[2].data == b'id,text\n3,"x,""y""\nz"\n'


def test_a_csv_read_in_pieces_is_the_csv_read_whole(tmp_path):
    from auditkit.schemas import TABLES

    spec = TABLES["notes"]
    at = "2026-01-05T10:00:00"
    path = tmp_path / "notes.csv"
    path.write_bytes(
        f'note_id,client_id,staff_id,written_at,text\n1,C1,S1,{at},"a\nb"\n2,C1,S1,{at},plain\n'
        f'3,C1,S1,{at},"x,""y""\nz"\n\n4,C1,S1,too,wide,row\n5,C1,S1,{at},last'.encode()
    )
    whole = loading.read_table(tmp_path, spec)

    cuts = csv_cuts(path, 20)
    raws = [read_piece(cuts.piece(k), spec) for k in range(len(cuts.spans))]

    assert len(raws) == 5
    assert [line for raw in raws for line in raw.lines] == whole.lines.tolist() == [2, 4, 5, 9]
    pieced = pd.concat([raw.frame for raw in raws], ignore_index=True)
    pd.testing.assert_frame_equal(pieced, whole.frame)
    assert pieced["text"].tolist() == ["a\nb", "plain", 'x,"y"\nz', "last"]
    malformed = pd.concat([raw.malformed for raw in raws if len(raw.malformed)])
    pd.testing.assert_frame_equal(malformed, whole.malformed)
    assert malformed[["line", "record_id", "reason"]].values.tolist() == [
        [8, "4", "has 6 fields; the header has 5"]
    ]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'id,text\n1,5" tall\n2,"b"\n', "a quote inside a field: parity can't be trusted"),
        ("id,text\n1,a\n".encode("utf-16"), "UTF-16: cut bytes would not be characters"),
        (b"id,text\r1,a\r2,b\r", "lone CR line ends: no line feed ends the header"),
        (b"", "empty: read whole, which says so"),
    ],
)
def test_csv_cuts_leave_a_file_whole_when_a_cut_could_be_wrong(tmp_path, data, why):
    path = tmp_path / "notes.csv"
    path.write_bytes(data)

    assert csv_cuts(path, 4) is None, why


def test_a_header_alone_is_one_piece_of_no_records(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(b"note_id,text\r\n")

    cuts = csv_cuts(path, 4)

    assert cuts.spans == [(14, 14, 2)]
    assert cuts.piece(0).data == b"note_id,text\r\n"


def test_a_csv_changed_after_it_was_cut_is_not_read_in_pieces(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(QUOTED_RECORDS)
    cuts = csv_cuts(path, 5)
    path.write_bytes(QUOTED_RECORDS + b"\n6,more")

    with pytest.raises(BundleError, match=r"notes\.csv changed while it was being read"):
        cuts.piece(0)


def test_a_parquet_table_read_in_pieces_is_the_table_read_whole(tmp_path):
    from auditkit.schemas import TABLES

    spec = TABLES["notes"]
    at = pd.Timestamp("2026-01-05 10:00", tz="America/Los_Angeles")
    frame = pd.DataFrame(
        {
            "note_id": ["N1", "N2", None, "N4", "N5", "N6", "N7"],
            "client_id": ["C1", "C1", None, "C2", "C2", "", "C3"],
            "staff_id": ["S1"] * 7,
            "written_at": [at + pd.Timedelta(hours=h) for h in range(7)],
            "text": ["one", "two", None, "four", "five", "six", "seven"],
        }
    )
    frame.loc[2, ["staff_id", "written_at"]] = [None, pd.NaT]  # a blank row: left out
    frame.to_parquet(tmp_path / "notes.parquet", index=False, row_group_size=3)
    whole = loading.read_table(tmp_path, spec)

    size = (tmp_path / "notes.parquet").stat().st_size * 2 // 7 + 1  # two rows' share
    pieces = list(parquet_pieces(tmp_path / "notes.parquet", size))
    raws = [read_piece(piece, spec) for piece in pieces]

    assert [piece.first for piece in pieces] == [0, 2, 4, 6]
    assert (
        [line for raw in raws for line in raw.lines] == whole.lines.tolist() == [2, 3, 5, 6, 7, 8]
    )
    pd.testing.assert_frame_equal(
        pd.concat([raw.frame for raw in raws], ignore_index=True), whole.frame
    )
    assert whole.frame["note_id"].tolist() == ["N1", "N2", "N4", "N5", "N6", "N7"]
    assert whole.frame["client_id"].isna().tolist() == [False] * 4 + [True, False]  # "" is blank
    assert {raw.encoding for raw in raws} == {"parquet"}


def test_a_parquet_table_with_no_rows_or_unreadable_is_read_whole(tmp_path):
    pd.DataFrame({"note_id": pd.Series([], dtype="str")}).to_parquet(tmp_path / "empty.parquet")
    (tmp_path / "damaged.parquet").write_bytes(b"PAR1 not really")

    assert parquet_pieces(tmp_path / "empty.parquet", 100) is None
    assert parquet_pieces(tmp_path / "damaged.parquet", 100) is None


# --- a quote left open -----------------------------------------------------------------------

STAFF_HEADER = b"staff_id,first_name,last_name,role\n"
LEFT_OPEN = "opens a quote that does not close where a field ends, so its record would take in "
READ_AGAIN = " after it: this line is set aside, and those are read again as records"


@pytest.mark.parametrize(
    ("body", "kept", "lines", "set_aside"),
    [
        (  # open to the file's end, the only quote in it
            b'S1,Ana,Reyes,therapist\nS2,"Ben,Cho,supervisor\nS3,Cara,Lee,admin\n'
            b"S4,Dev,Roy,therapist\n",
            [
                ["S1", "Ana", "Reyes", "therapist"],
                ["S3", "Cara", "Lee", "admin"],
                ["S4", "Dev", "Roy", "therapist"],
            ],
            [2, 4, 5],
            [(3, "S2", f"{LEFT_OPEN}the 2 lines{READ_AGAIN}")],
        ),
        (  # closed by the next record's opening quote, where no field ends
            b'S1,Ana,Reyes,therapist\nS2,"Ben,Cho,supervisor\nS3,"Cara\nLee",Diaz,admin\n'
            b"S4,Dev,Roy,therapist\n",
            [
                ["S1", "Ana", "Reyes", "therapist"],
                ["S3", "Cara\nLee", "Diaz", "admin"],
                ["S4", "Dev", "Roy", "therapist"],
            ],
            [2, 4, 6],
            [(3, "S2", f"{LEFT_OPEN}the line{READ_AGAIN}")],
        ),
        (  # closed where a field ends, two lines on: parity alone reads it as one record
            b'S1,Ana,Reyes,therapist\nS2,"Ben,Cho,supervisor\nS3,Cara,Lee,admin\n'
            b'S4,Dev,Roy,therapist"\nS5,Eve,Fox,admin\n',
            [
                ["S1", "Ana", "Reyes", "therapist"],
                ["S3", "Cara", "Lee", "admin"],
                ["S4", "Dev", "Roy", 'therapist"'],
                ["S5", "Eve", "Fox", "admin"],
            ],
            [2, 4, 5, 6],
            [(3, "S2", f"{LEFT_OPEN}the 2 lines{READ_AGAIN}")],
        ),
        (  # a field with a line break in a record of a field too many: one record, set aside
            b'S1,"Ana\nMaria",Reyes,therapist,x\nS2,Ben,Cho,supervisor\n',
            [["S2", "Ben", "Cho", "supervisor"]],
            [4],
            [(2, "S1", "has 5 fields; the header has 4")],
        ),
    ],
    ids=["to-the-end", "closed-mid-field", "closed-at-a-field-end", "line-break-in-a-field"],
)
@pytest.mark.parametrize("path", list(READ_PATHS))
def test_a_quote_left_open_sets_aside_its_line_not_the_records_after_it(
    tmp_path, monkeypatch, path, body, kept, lines, set_aside
):
    (tmp_path / "staff.csv").write_bytes(_for_path(monkeypatch, STAFF_HEADER + body, path))

    raw = loading.read_csv(tmp_path / "staff.csv", "staff", "staff_id")

    assert raw.frame.fillna("").values.tolist() == kept
    assert raw.lines.tolist() == lines
    assert rows(raw.malformed) == [("staff.csv", *row[:2], "", row[2]) for row in set_aside]
