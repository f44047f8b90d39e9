"""Parsing text into typed columns in RE2 and Arrow: the same values as Python's `re` and pandas.

auditkit.parsing runs its patterns with pyarrow.compute (RE2, C++, whole columns) and reads
the common instant shape with Arrow's ISO 8601 cast. These tests pin, value by value, that
the results are those of the per-cell Python path they replaced, and the one deliberate
change: digits are ASCII only.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from auditkit import parsing
from auditkit.columns import arrow_strings
from auditkit.parsing import (
    parse_count,
    parse_timestamp,
    parse_vocabulary,
    repair_text,
)
from auditkit.schemas import TABLES

LA = "America/Los_Angeles"
NOT_A_TIME = "is not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"
FAR = "is too far in the past or future to be a real date-time"
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]


def text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


def instants(parsed: pd.Series) -> list[str | None]:
    return [None if pd.isna(t) else t.isoformat() for t in parsed]


def reasons(found: pd.Series) -> list[str | None]:
    return [None if pd.isna(r) else r for r in found]


# --- the classes RE2 is given stand for Python's --------------------------------------------


def test_space_class_is_pythons_whitespace_and_what_arrow_trims():
    spaces = {chr(c) for c in CODE_POINTS if re.fullmatch(f"[{parsing.PYTHON_SPACES}]", chr(c))}
    python = {chr(c) for c in CODE_POINTS if re.fullmatch(r"\s", chr(c))}
    trimmed = pc.utf8_trim_whitespace(pa.array([chr(c) for c in CODE_POINTS])).to_pylist()
    arrow = {chr(c) for c, t in zip(CODE_POINTS, trimmed, strict=True) if t == ""}
    assert spaces == python == arrow
    assert len(spaces) == 29


def test_re2_reads_the_space_class_as_python_does():
    cells = [chr(c) for c in CODE_POINTS]
    found = parsing._matches(pa.chunked_array([pa.array(cells)]), f"^[{parsing.PYTHON_SPACES}]$")
    assert {c for c, hit in zip(cells, found, strict=True) if hit} == {
        c for c in cells if c.isspace()
    }


# --- repair_text -------------------------------------------------------------------------------


def test_repair_text_trims_every_kind_of_space_and_blanks_to_na():
    values = text(
        [" a", "b\u00a0", "\u3000c\u3000", "d", "", "   ", None, "e\x85", "x y", "\x0bf", "g\u2029"]
    )
    assert repair_text(values).tolist() == [
        "a",
        "b",
        "c",
        "d",
        np.nan,
        np.nan,
        np.nan,
        "e",
        "x y",
        "f",
        "g",
    ]


def test_repair_text_leaves_a_clean_column_unchanged_without_copying_it():
    values = text(["Client attended.", "Called, left a voicemail.", None])
    repaired = repair_text(values)
    assert repaired.tolist() == ["Client attended.", "Called, left a voicemail.", np.nan]
    before = arrow_strings(values).chunk(0).buffers()[2].address
    after = arrow_strings(repaired).chunk(0).buffers()[2].address
    assert before == after  # the same text buffer: nothing rewritten


def test_repair_text_fixes_mojibake_only_where_it_shows():
    values = text(["Ren\u00c3\u00a9e", "O\u00e2\u20ac\u2122Neil", "caf\u00e9", "plain", None])
    assert repair_text(values).tolist() == ["Renée", "O’Neil", "café", "plain", np.nan]


def test_ftfy_is_imported_only_for_a_text_showing_mojibake():
    program = """
import sys
import pandas as pd
from auditkit.parsing import repair_text
clean = repair_text(pd.Series(["Pt FTA. LVM.", " caf\\u00e9 ", None], dtype="str"))
print(clean.tolist(), "ftfy" in sys.modules)
damaged = repair_text(pd.Series(["O\\u00e2\\u20ac\\u2122Neil"], dtype="str"))
print(damaged.tolist(), "ftfy" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.splitlines() == [
        "['Pt FTA. LVM.', 'café', nan] False",
        "['O’Neil'] True",
    ], done.stderr


def test_a_space_at_either_end_is_found_in_any_chunk():
    chunks = [pa.array(["ok", "fine"]), pa.array(["also fine", "end "]), pa.array([], pa.string())]
    values = pd.Series(pa.chunked_array(chunks).cast(pa.large_string()), dtype="str")
    assert repair_text(values).tolist() == ["ok", "fine", "also fine", "end"]


@pytest.mark.parametrize("dtype", ["object", "string[python]"])
def test_text_not_held_by_arrow_is_repaired_the_same(dtype):
    values = [" a", "Ren\u00c3\u00a9e", "", None, "b"]
    assert (
        repair_text(pd.Series(values, dtype=dtype)).tolist() == repair_text(text(values)).tolist()
    )


# --- parse_vocabulary ---------------------------------------------------------------------------


def test_vocabulary_separators_include_every_space_python_knows():
    values = text(["No Show", "no\u00a0show", "no\x0bshow", "late / canceled", "LATE-CANCEL", "x"])
    keys, why = parse_vocabulary(values, ("no_show", "late_cancel"), "status")
    assert keys.tolist() == ["no_show", "no_show", "no_show", "late_cancel", "late_cancel", np.nan]
    assert reasons(why) == [None] * 5 + ["status 'x' is not one of: no_show, late_cancel"]


@pytest.mark.parametrize(
    ("column", "written", "read"),
    [
        ("direction", ["Out", "IN", "Outgoing"], ["outbound", "inbound", "outbound"]),
        (
            "party",
            ["Patient", "Pt", "Parent", "Guardian", "Spouse", "Family Member", "Someone else"],
            ["client", "client", *["third_party"] * 5],
        ),
        (
            "outcome",
            ["Voice Mail", "LVM", "Left Message", "LM", "Left VM", "Mailbox is full", "Busy"],
            [*["voicemail"] * 5, "voicemail_full", "no_answer"],
        ),
        ("outcome", ["Spoke with client", "Reached", "Other"], ["answered", "answered", np.nan]),
        ("channel", ["Phone Call", "Text Message", "Video"], ["phone", "text", np.nan]),
        ("purpose", ["Reminder", "Billing"], ["scheduling", np.nan]),
    ],
)
def test_what_call_logs_write_for_who_answered_and_what_came_of_it(column, written, read):
    """A row of any of these was set aside (a contact the rules then never saw): a parent who
    picks up is the policy's "someone else", a message left is a voicemail."""
    vocabulary = next(c for c in TABLES["contacts"].columns if c.name == column).vocabulary
    keys, why = parse_vocabulary(text(written), vocabulary, column)
    assert keys.tolist() == read
    assert [r is None for r in reasons(why)] == [isinstance(k, str) for k in read]


def test_what_practice_systems_write_for_a_staff_members_role():
    """A staff row set aside for its role took every contact, note and approval of theirs with
    it (each naming no staff record)."""
    vocabulary = next(c for c in TABLES["staff"].columns if c.name == "role").vocabulary
    written = ["Clinician", "Psychology Trainee", "Practicum-Student", "Postdoc"]
    written += ["Clinical Supervisor", "DBT Director", "Front Desk", "Training Director"]
    keys, why = parse_vocabulary(text(written), vocabulary, "role")
    assert keys.tolist() == [
        *["therapist"] * 4,
        "supervisor",
        "program_director",
        "admin",
        np.nan,  # no approver of phone coaching unless it names the DBT programme
    ]
    assert reasons(why)[-1] == (
        "role 'Training Director' is not one of: therapist, supervisor, program_director, admin"
    )


def test_what_practice_systems_write_for_an_appointments_status():
    vocabulary = next(c for c in TABLES["appointments"].columns if c.name == "status").vocabulary
    written = ["Checked Out", "Seen", "NS", "LC", "Client Canceled", "Cancelled - Clinician"]
    written += ["Canceled by Client", "Resched", "Walked out"]
    keys, why = parse_vocabulary(text(written), vocabulary, "status")
    assert keys.tolist() == [
        "attended",
        "attended",
        "no_show",
        "late_cancel",
        "cancelled",
        "cancelled",
        "cancelled",
        "rescheduled",
        np.nan,
    ]
    assert reasons(why)[-1] == (
        "status 'Walked out' is not one of: attended, no_show, late_cancel, cancelled, rescheduled"
    )


# --- parse_count -------------------------------------------------------------------------------


def test_counts_read_plain_digits_in_arrow_and_the_rest_as_before():
    values = text(
        [
            "0",
            "007",
            "-5",
            "-0",
            "999999999999999",
            "9999999999999999",
            "30.0",
            "1e3",
            "2.5",
            "30 min",
            "inf",
            "١٢",
            None,
        ]
    )
    counts, why = parse_count(values, "duration_minutes")
    assert str(counts.dtype) == "Int64"
    assert counts.tolist() == [
        0,
        7,
        -5,
        0,
        999999999999999,
        pd.NA,
        30,
        1000,
        pd.NA,
        pd.NA,
        pd.NA,
        pd.NA,
        pd.NA,
    ]
    assert reasons(why) == [
        None,
        None,
        None,
        None,
        None,
        "duration_minutes '9999999999999999' is too large",
        None,
        None,
        "duration_minutes '2.5' is not a whole number",
        "duration_minutes '30 min' is not a whole number",
        "duration_minutes 'inf' is not a whole number",
        "duration_minutes '١٢' is not a whole number",
        None,
    ]


# --- parse_timestamp: RE2 patterns ------------------------------------------------------------


def test_non_ascii_digits_are_no_date_time_anywhere():
    # Python's \d matched these; RE2's [0-9] does not. Every one of them was already rejected
    # (pandas can't read them) except an Arabic-Indic hour in a 24-hour US time, which used to
    # be read silently as midnight: now it is set aside like the rest.
    values = [
        "٢٠٢٦-٠١-٠٥",
        "2026-01-05T10:00+٠٨:00",
        "1/5/٢٠٢٦",
        "١/5/2026 1:00 PM",
        "1/5/2026 ١:00 PM",
        "1/5/2026 ١٣:00",
        "1/5/2026 1٣:00",
        "２０２６-01-05",
    ]
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert instants(parsed) == [None] * len(values)
    assert reasons(why) == [f"started_at '{v}' {NOT_A_TIME}" for v in values]


def test_unicode_spaces_inside_a_us_time_still_separate_its_parts():
    values = text(["1/5/2026\u00a01:00 PM", "1/5/2026\u20031:00\u00a0pm", "1/5/2026\x1c1:00 p.m."])
    parsed, why = parse_timestamp(values, "started_at", LA)
    assert instants(parsed) == ["2026-01-05T13:00:00-08:00"] * 3
    assert reasons(why) == [None] * 3


def test_us_times_on_the_twelve_hour_clock():
    values = ["1/5/2026 12:00 AM", "1/5/2026 12:30 pm", "1/5/2026 0:00 AM", "1/5/2026 13:00 PM"]
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert instants(parsed) == [
        "2026-01-05T00:00:00-08:00",
        "2026-01-05T12:30:00-08:00",
        None,
        None,
    ]
    assert reasons(why) == [
        None,
        None,
        f"started_at '1/5/2026 0:00 AM' {NOT_A_TIME}",
        f"started_at '1/5/2026 13:00 PM' {NOT_A_TIME}",
    ]


def test_a_space_before_an_offset_is_any_space_pandas_then_judges():
    # \v is a space to Python (and so to auditkit) but not to RE2's \s.
    values = ["2026-01-05T10:00 Z", "2026-01-05 10:00\t+08:00", "2026-01-05 10:00\x0b+08:00"]
    values.append("2026-01-05T10:00\u00a0Z")  # matched, but pandas reads no NBSP
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert instants(parsed) == [
        "2026-01-05T02:00:00-08:00",
        "2026-01-04T18:00:00-08:00",
        "2026-01-04T18:00:00-08:00",
        None,
    ]
    assert reasons(why) == [None, None, None, f"started_at '2026-01-05T10:00\u00a0Z' {NOT_A_TIME}"]


@pytest.mark.parametrize("dtype", ["object", "string[python]"])
def test_timestamps_not_held_by_arrow_parse_the_same(dtype):
    values = ["2026-01-05T10:00:00-08:00", "1/5/2026 1:00 PM", "2026-01-05", "x", None]
    parsed, why = parse_timestamp(pd.Series(values, dtype=dtype), "started_at", LA)
    expected, expected_why = parse_timestamp(text(values), "started_at", LA)
    pd.testing.assert_series_equal(parsed, expected)
    assert reasons(why) == reasons(expected_why)


def test_plain_local_times_are_read_by_arrow_and_the_rest_by_pandas(monkeypatch):
    """pandas' reader makes a Python string of every value; the plain local times (and every
    US one, rewritten) are read by Arrow as pandas would read them."""
    handed_to_pandas = []
    to_datetime = pd.to_datetime

    def counted(values, **options):
        handed_to_pandas.append(len(values))
        return to_datetime(values, **options)

    monkeypatch.setattr(pd, "to_datetime", counted)
    values = text(["2026-03-09T13:00:00", "3/9/2026 1:00 PM", "2026-03-09 13:00"])
    parsed, why = parse_timestamp(values, "t", LA)
    assert [str(t) for t in parsed] == ["2026-03-09 13:00:00-07:00"] * 3
    assert reasons(why) == [None] * 3
    assert handed_to_pandas == [1]  # the one with no seconds
    # An impossible date among the plain ones leaves them all to pandas, which judges each.
    handed_to_pandas.clear()
    values = text(["2026-02-30T00:00:00", "2026-03-09T13:00:00", "2/30/2026 1:00 PM"])
    parsed, why = parse_timestamp(values, "t", LA)
    assert [str(t) for t in parsed] == ["NaT", "2026-03-09 13:00:00-07:00", "NaT"]
    assert reasons(why) == [
        f"t '2026-02-30T00:00:00' {NOT_A_TIME}",
        None,
        f"t '2/30/2026 1:00 PM' {NOT_A_TIME}",
    ]
    assert handed_to_pandas == [3]


# --- parse_timestamp: a column that writes the day first ----------------------------------------

DAY_FIRST = (
    "is not read: the column writes the day first ('15/09/2025 09:00' reads no other way), and "
    "slash dates are read month first (M/D/YYYY). Export dates as ISO 8601 (2026-03-09 13:00), "
    "or import with a mapping's date_format"
)


def test_a_column_that_writes_the_day_first_has_its_slash_dates_set_aside_not_misread():
    """'03/09/2025' was read as 9 March where the export meant 3 September: every date up to
    the 12th of a day-first export was silently a month off, and only the rest were refused."""
    values = ["03/09/2025 13:00", "15/09/2025 09:00", "2025-09-04T10:00:00Z", "x", None]
    assert parsing.day_first_example(arrow_strings(text(values))) == "15/09/2025 09:00"

    parsed, why = parse_timestamp(text(values), "scheduled_start", LA)

    assert instants(parsed) == [None, None, "2025-09-04T03:00:00-07:00", None, None]
    assert reasons(why) == [
        f"scheduled_start '03/09/2025 13:00' {DAY_FIRST}",
        f"scheduled_start '15/09/2025 09:00' {DAY_FIRST}",
        None,
        f"scheduled_start 'x' {NOT_A_TIME}",
        None,
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [  # month first: read as ever
        (
            ["3/9/2025", "9/15/2025 9:00 AM"],
            ["2025-03-09T00:00:00-08:00", "2025-09-15T09:00:00-07:00"],
        ),
        # no date that only one order reads (days up to the 12th): month first, as documented
        (["03/09/2025", "12/01/2025"], ["2025-03-09T00:00:00-08:00", "2025-12-01T00:00:00-08:00"]),
        # both orders in one column: each read as it can be, month first (no order to infer)
        (
            ["15/09/2025", "9/15/2025", "03/09/2025"],
            [None, "2025-09-15T00:00:00-07:00", "2025-03-09T00:00:00-08:00"],
        ),
        # an impossible date in either order is no evidence of the day first
        (["31/31/2025", "3/9/2025"], [None, "2025-03-09T00:00:00-08:00"]),
    ],
    ids=["month first", "ambiguous only", "mixed", "impossible"],
)
def test_a_column_that_does_not_prove_the_day_first_is_read_month_first(values, expected):
    assert parsing.day_first_example(arrow_strings(text(values))) is None
    parsed, why = parse_timestamp(text(values), "scheduled_start", LA)
    assert instants(parsed) == expected
    assert [r is None for r in reasons(why)] == [e is not None for e in expected]


@pytest.mark.parametrize("at_once", [1, 2])
def test_slash_dates_read_in_pieces_are_judged_as_one_column(monkeypatch, at_once):
    """Their groups are extracted a piece at a time (memory): the day first is proven by any
    piece, and refuted by any, as over the whole column."""
    columns = [
        ["03/09/2025 13:00", "2025-09-04T10:00:00Z", "3/9/2025", "15/09/2025 09:00"],
        ["15/09/2025", "9/15/2025", "03/09/2025"],
        ["3/9/2025", "9/15/2025 9:00 AM", "12/31/2025 11:59 PM", "2/30/2025 1:00 PM"],
    ]
    whole = [parse_timestamp(text(values), "scheduled_start", LA) for values in columns]
    monkeypatch.setattr(parsing, "_US_AT_ONCE", at_once)
    for values, (parsed, why) in zip(columns, whole, strict=True):
        in_pieces, why_in_pieces = parse_timestamp(text(values), "scheduled_start", LA)
        pd.testing.assert_series_equal(in_pieces, parsed)
        assert reasons(why_in_pieces) == reasons(why)
    day_first = [f"scheduled_start '{value}' {DAY_FIRST}" for value in columns[0]]
    assert reasons(whole[0][1]) == [day_first[0], None, day_first[2], day_first[3]]
    assert instants(whole[1][0])[1:] == ["2025-09-15T00:00:00-07:00", "2025-03-09T00:00:00-08:00"]


# --- parse_timestamp: Arrow's cast for the common shape ---------------------------------------


def test_common_instants_are_read_by_arrow_exactly():
    values = [
        "2025-09-02T08:00:00-07:00",
        "2025-09-02T15:00:00Z",
        "2024-02-29T23:59:59+14:00",
        "1999-12-31T23:30:00-12:00",
        "2026-11-01T01:30:00-07:00",
        "2026-11-01T01:30:00-08:00",
    ]
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert str(parsed.dtype) == f"datetime64[us, {LA}]"
    assert instants(parsed) == [
        "2025-09-02T08:00:00-07:00",
        "2025-09-02T08:00:00-07:00",
        "2024-02-29T01:59:59-08:00",
        "2000-01-01T03:30:00-08:00",
        "2026-11-01T01:30:00-07:00",
        "2026-11-01T01:30:00-08:00",
    ]
    assert reasons(why) == [None] * 6


def test_an_impossible_date_among_common_instants_is_set_aside_alone():
    values = ["2025-09-02T08:00:00-07:00", "2025-02-29T08:00:00-07:00", "2025-09-02T24:00:00Z"]
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert instants(parsed) == ["2025-09-02T08:00:00-07:00", None, None]
    assert reasons(why) == [None] + [f"started_at '{v}' {NOT_A_TIME}" for v in values[1:]]


def test_arrow_and_pandas_agree_on_every_instant_of_the_common_shape():
    """Arrow's cast decides only if it accepts or rejects exactly what pandas would."""
    days = ["2024-02-29", "2025-02-29", "2025-04-30", "2025-04-31", "1900-02-29", "2000-02-29"]
    days += ["2025-00-10", "2025-13-10", "2025-12-00", "2025-12-32", "2099-12-31", "1900-01-01"]
    clocks = ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "99:99:99"]
    zones = ["Z", "+00:00", "-00:00", "+14:00", "-12:00", "+23:59", "+24:00", "-30:70", "+05:45"]
    values = [f"{d}T{c}{z}" for d, c, z in itertools.product(days, clocks, zones)]
    assert all(re.fullmatch(parsing._CANONICAL, v) for v in values)
    by_pandas = pd.to_datetime(pd.Series(values), format="ISO8601", utc=True, errors="coerce")
    for value, expected in zip(values, by_pandas.dt.as_unit("us"), strict=True):
        try:
            cast = pc.cast(pa.array([value]), pa.timestamp("us", "UTC"))[0].as_py()
        except pa.ArrowInvalid:
            cast = None
        if pd.isna(expected):
            assert cast is None, value
        else:
            assert pd.Timestamp(cast) == expected, value


def test_lower_case_and_padded_instants_go_to_pandas_and_parse_the_same():
    values = ["2025-09-02t08:00:00z", " 2025-09-02T08:00:00-07:00 ", "0001-01-01T00:00:00Z"]
    parsed, why = parse_timestamp(text(values), "started_at", LA)
    assert instants(parsed) == ["2025-09-02T01:00:00-07:00", "2025-09-02T08:00:00-07:00", None]
    assert reasons(why) == [None, None, f"started_at '0001-01-01T00:00:00Z' {FAR}"]


# --- a date written alone ------------------------------------------------------------------------

DATES_ALONE = pd.Series(["2026-03-02", " 3/2/2026 ", "2026-03-02 13:05", "3/2/2026 1:05 PM", None])


def test_a_date_alone_reads_as_its_days_start_by_default():
    times, reasons = parse_timestamp(DATES_ALONE, "intake_date", "America/Los_Angeles")
    assert [t.isoformat() if pd.notna(t) else None for t in times] == [
        "2026-03-02T00:00:00-08:00",
        "2026-03-02T00:00:00-08:00",
        "2026-03-02T13:05:00-08:00",
        "2026-03-02T13:05:00-08:00",
        None,
    ]
    assert reasons.isna().all()


def test_an_expiry_written_as_a_date_alone_reads_as_the_next_days_start():
    """'Expires 3/2' applies through the 2nd; a time written out is kept as written."""
    times, reasons = parse_timestamp(DATES_ALONE, "expires_at", "America/Los_Angeles", "end")
    assert [t.isoformat() if pd.notna(t) else None for t in times] == [
        "2026-03-03T00:00:00-08:00",
        "2026-03-03T00:00:00-08:00",
        "2026-03-02T13:05:00-08:00",
        "2026-03-02T13:05:00-08:00",
        None,
    ]
    assert reasons.isna().all()


def test_the_next_days_start_where_the_clock_skips_midnight():
    times, _ = parse_timestamp(pd.Series(["2026-09-05"]), "expires_at", "America/Santiago", "end")
    assert times[0].isoformat() == "2026-09-06T01:00:00-03:00"


def test_an_events_date_alone_is_set_aside_not_read_as_midnight():
    times, reasons = parse_timestamp(DATES_ALONE, "written_at", "America/Los_Angeles", "refused")
    assert times.isna().tolist() == [True, True, False, False, True]
    tail = (
        "' is a date without a time of day: not read as midnight, since a missed session's call "
        "and note deadlines are counted from such times to the minute. Export it with its time "
        "(2026-03-02 13:05)"
    )
    assert reasons.tolist()[:2] == [
        "written_at '2026-03-02" + tail,
        "written_at ' 3/2/2026 " + tail,
    ]
    assert reasons[2:].isna().all()
