"""Validation's bookkeeping at scale: what it copies, what it frees, what it leaves to pandera.

The rows it accepts and the reasons it gives are pinned by test_loading.py and
test_hostile_input.py; these tests pin how it gets there: raw tables released one by one,
text columns shared rather than copied, ids checked by Arrow, and pandera asked only what
parsing has not already settled.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pandas as pd
import pyarrow as pa
import pytest
from paths import SAMPLE

from auditkit import load, validation
from auditkit.columns import arrow_strings
from auditkit.loading import read_table
from auditkit.policy import load_policy
from auditkit.schemas import CALLS, TABLES
from auditkit.validation import (
    IdSet,
    _all_distinct,
    _fixed_width,
    _unchecked_by_parsing,
    type_table,
    validate,
    validate_table,
)

LA = "America/Los_Angeles"


def read_all(bundle):
    return {name: read_table(bundle, spec) for name, spec in TABLES.items()}


def test_validate_empties_the_raws_and_frees_each_one(make_bundle):
    bundle = make_bundle()
    raws = read_all(bundle)
    alive = {name: weakref.ref(raw.frame) for name, raw in raws.items()}

    loaded = validate(raws, load_policy(bundle=bundle), bundle)
    gc.collect()

    assert raws == {}
    assert {name: ref() is None for name, ref in alive.items()} == dict.fromkeys(alive, True)
    assert list(loaded.coverage["rows_read"]) == [3, 2, 3, 2, 2, 1]


REJECTED_TYPES = {
    "file": "str",
    "line": "int64",
    "record_id": "str",
    "column": "str",
    "reason": "str",
}


@pytest.mark.parametrize(
    "extra_row, rejected",
    [
        (b"", []),  # none set aside
        (
            b"K9,C1,S1,outbound\n",
            [["contacts.csv", 4, "K9", "", "has 4 fields; the header has 12"]],
        ),
    ],
)
def test_rows_set_aside_have_their_models_types_however_they_were_set_aside(
    make_bundle, extra_row, rejected
):
    """Frames of rows set aside are made in many places; a bundle with none, or with only a
    row of the wrong width, had text columns of object type where others had str."""
    bundle = make_bundle()
    (bundle / "contacts.csv").write_bytes((bundle / "contacts.csv").read_bytes() + extra_row)

    loaded = load(bundle)

    assert loaded.rejected.values.tolist() == rejected
    assert loaded.rejected.dtypes.astype("str").to_dict() == REJECTED_TYPES


def test_a_large_bundle_is_typed_on_reader_threads_into_the_same_tables(monkeypatch):
    """From TYPE_ON_THREADS_FROM bytes, files are typed on the reader threads before their
    references are checked: the same bundle, rows set aside included."""
    as_read = load(SAMPLE)
    typed_on: list[str] = []

    def typing(raw, spec, tz):
        typed_on.append(threading.current_thread().name)
        return type_table(raw, spec, tz)

    monkeypatch.setattr(validation, "type_table", typing)
    monkeypatch.setattr(validation, "TYPE_ON_THREADS_FROM", 0)
    ahead = load(SAMPLE)

    assert len(typed_on) == 7 and threading.main_thread().name not in typed_on
    assert len(as_read.rejected) == 7
    pd.testing.assert_frame_equal(ahead.rejected, as_read.rejected)
    pd.testing.assert_frame_equal(ahead.coverage, as_read.coverage)
    pd.testing.assert_frame_equal(ahead.calls, as_read.calls)
    for name, table in as_read.tables.items():
        pd.testing.assert_frame_equal(ahead.tables[name], table)


def test_names_on_client_rows_set_aside_are_kept_when_typed_ahead(make_bundle, monkeypatch):
    """Typed on a reader thread, a table keeps only some raw columns (kept_for_validation):
    the names on a client row set aside are still there for masking and IQ001."""
    base = make_bundle()
    clients = (base / "clients.csv").read_bytes() + b"C9,Zed,Quimby,555-0109,soon,no,,S1\n"
    bundle = make_bundle(files={"clients.csv": clients})
    monkeypatch.setattr(validation, "TYPE_ON_THREADS_FROM", 0)
    loaded = load(bundle)
    assert loaded.rejected["record_id"].tolist() == ["C9"]
    assert loaded.other_client_names == ("Zed", "Quimby")


@pytest.mark.parametrize(
    ("table", "kept"),
    [("appointments", ["appointment_id"]), ("clients", ["client_id", "first_name", "last_name"])],
)
def test_a_typed_table_holds_of_its_raw_text_only_what_validation_still_reads(table, kept):
    """A table typed ahead waits for those before it with only the raw columns validation
    reads later: the id, which lists a rejected row, and people's names (set-aside clients')."""
    raw = read_table(SAMPLE, TABLES[table])
    typed = type_table(raw, TABLES[table], "America/New_York")
    assert list(typed.raw.frame.columns) == kept
    assert typed.raw.frame.index.equals(raw.frame.index) and typed.raw.lines is raw.lines
    assert (typed.raw.file, typed.raw.rows_read) == (raw.file, raw.rows_read)


def test_validated_text_columns_share_the_raw_text_buffers(make_bundle):
    raw = read_table(make_bundle(), TABLES["notes"])
    raw_text = arrow_strings(raw.frame["text"]).chunk(0).buffers()[2].address

    good, rejected = validate_table(raw, TABLES["notes"], LA, {})

    assert rejected.empty
    assert arrow_strings(good["text"]).chunk(0).buffers()[2].address == raw_text
    assert good["source_line"].tolist() == [2, 3]


def test_a_bundle_for_a_report_keeps_each_records_id_time_clinician_and_status(load_case):
    bundle = load_case()

    slim = bundle.for_report()

    assert list(slim.appointments.columns) == [
        "appointment_id",
        "staff_id",
        "scheduled_start",
        "status",
    ]
    assert list(slim.contacts.columns) == ["contact_id", "staff_id", "started_at"]
    assert list(slim.notes.columns) == ["note_id", "staff_id", "written_at"]
    assert list(slim.calls.columns) == ["call_id", "started_at"]
    for name in ("staff", "clients", "approvals"):  # names to mask, clinicians: whole
        assert slim.tables[name] is bundle.tables[name]
    pd.testing.assert_frame_equal(slim.contacts, bundle.contacts[slim.contacts.columns])
    assert "message" in bundle.contacts  # the bundle itself is left as it was
    assert (slim.rejected, slim.coverage, slim.policy) == (
        bundle.rejected,
        bundle.coverage,
        bundle.policy,
    )


def test_bad_rows_are_taken_out_of_the_typed_frame_once(make_bundle):
    notes = (
        b"note_id,client_id,staff_id,appointment_id,written_at,text,mood\n"
        b"N1,C1,S1,A2,2026-03-09T16:00:00,First.,calm\n"
        b"N2,C1,S1,A1,not a time,Second.,tense\n"
        b"N3,C9,S1,A1,2026-03-02T15:00:00,Third.,calm\n"
        b"N4,C1,S1,A1,2026-03-02T15:00:00,,calm\n"
        b"N5,C1,S1,A1,2026-03-02T15:00:00,Fifth.,ok\n"
    )
    bundle = load(make_bundle(files={"notes.csv": notes}))

    assert bundle.notes[["note_id", "text", "mood", "source_line"]].values.tolist() == [
        ["N1", "First.", "calm", 2],
        ["N5", "Fifth.", "ok", 6],
    ]
    assert list(bundle.notes.columns) == [
        "note_id",
        "client_id",
        "staff_id",
        "appointment_id",
        "written_at",
        "text",
        "mood",
        "source_line",
    ]
    rejected = bundle.rejected[bundle.rejected["file"] == "notes.csv"]
    assert rejected[["line", "record_id", "column", "reason"]].values.tolist() == [
        [3, "N2", "written_at", "written_at 'not a time' is not a date-time (ISO 8601 or "
         "M/D/YYYY h:mm AM/PM)"],
        [4, "N3", "client_id", "client_id 'C9' matches no clients record"],
        [5, "N4", "text", "text is blank but required"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("ids", "distinct"),
    [
        (["A1", "A2", "A3"], True),  # in order: one comparison of neighbours
        (["A3", "A1", "A2"], True),  # out of order: hashed
        (["A1", "A2", "A2"], False),
        (["A2", "A1", "A2"], False),
        (["A1", None, "A2", None], True),  # blanks are no ids
        (["A1", None, "A1"], False),
        ([None, None], True),
        ([], True),
        (["a", "A"], True),  # case matters
    ],
)
def test_all_distinct(ids, distinct):
    chunks = [pa.array(ids[:2], pa.large_string()), pa.array(ids[2:], pa.large_string())]
    strings = pa.chunked_array(chunks)  # two chunks: neighbours across them compared too
    assert _all_distinct(strings) is distinct


def test_repeated_ids_out_of_order_name_the_first_line(make_bundle):
    staff = b"staff_id,first_name,last_name,role\nS2,Ben,Cho,supervisor\nS1,Ana,Reyes,therapist\n"
    staff += b"S3,Cara,Diaz,program_director\nS2,Bea,Cho,therapist\n"
    bundle = load(make_bundle(files={"staff.csv": staff}))

    assert bundle.staff["staff_id"].tolist() == ["S2", "S1", "S3"]
    assert bundle.rejected.values.tolist() == [
        ["staff.csv", 5, "S2", "staff_id", "duplicate staff_id 'S2' (first on line 2)"]
    ]


def test_references_match_exactly_in_arrow():
    values = pd.Series(["C1", "c1", "C1 ", None, "C2", "Ç1"], dtype="str")
    targets = pd.Series(["C1", "C2", "Ç1"], dtype="str")
    assert IdSet(targets).contains(values).tolist() == [True, False, False, False, True, True]


def test_references_of_every_length_match_byte_for_byte():
    # Lengths 0 to 12 bytes (numbers up to 8, bytes beyond), unsorted targets, a repeat,
    # non-ASCII ids whose bytes differ in the last place, and blanks.
    targets = pd.Series(
        ["A0000003", "A0000001", "C12", "Ç1", "LONG-ID-0002", "LONG-ID-0001", "x", "x"],
        dtype="str",
    )
    values = pd.Series(
        [
            *["A0000001", "A0000002", None, "C12", "C1", "Ç1", "Ç2", "LONG-ID-0001"],
            *["LONG-ID-0003", "LONG-ID-00011", "x", "", "A000000", "A00000010"],
        ],
        dtype="str",
    )
    assert IdSet(targets).contains(values).tolist() == [
        *[True, False, False, True, False, True, False, True],
        *[False, False, True, False, False, False],
    ]


def test_references_across_chunks_and_scattered_lengths():
    # Chunks whose cells of one length lie apart (so they are gathered, not viewed in place).
    targets = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["b2", "a1"], ["ccc"]])))
    values = pd.Series(
        pd.arrays.ArrowStringArray(
            pa.chunked_array([["a1", "zzzz", None, "ccc"], [], ["b2", "a2", "ccc", "b2"]])
        )
    )
    found = IdSet(targets).contains(values).tolist()
    assert found == [True, False, False, True, True, False, True, True]


def test_fixed_width_keys_are_the_bytes():
    strings = pa.chunked_array([["ab", None, "abc", "b"], ["ab", "abcdefghi"]], pa.large_string())
    keys, rows = _fixed_width(strings, 2)
    assert rows.tolist() == [0, 4]
    assert keys.tolist() == [int.from_bytes(b"ab" + bytes(6), "big")] * 2
    keys, rows = _fixed_width(strings, 9)
    assert (keys.tolist(), rows.tolist()) == ([b"abcdefghi"], [5])
    keys, rows = _fixed_width(strings, 4)
    assert (len(keys), rows.tolist()) == (0, [])


def test_ids_of_many_lengths_are_left_to_arrow():
    targets = pd.Series(["x" * n for n in range(1, 30)], dtype="str")
    ids = IdSet(targets)
    assert ids.keys is None
    values = pd.Series(["xxx", "xy", None, "x" * 29, "x" * 30], dtype="str")
    assert ids.contains(values).tolist() == [True, False, False, True, False]


def test_an_empty_table_contains_nothing():
    ids = IdSet(pd.Series([], dtype="str"))
    assert ids.contains(pd.Series(["a", None, ""], dtype="str")).tolist() == [False] * 3


def test_each_referred_table_is_made_into_an_id_set_once(make_bundle, monkeypatch):
    made = []
    original = IdSet.__init__

    def counting(self, ids):
        made.append(ids.name)
        original(self, ids)

    monkeypatch.setattr(IdSet, "__init__", counting)
    bundle = make_bundle()
    validate(read_all(bundle), load_policy(bundle=bundle), bundle)
    assert sorted(made) == ["appointment_id", "client_id", "staff_id"]


def test_pandera_is_asked_everything_parsing_has_not_settled():
    for spec in (*TABLES.values(), CALLS):
        model = spec.model.to_schema()
        asked = _unchecked_by_parsing(spec)
        for column in spec.columns:
            full, kept = model.columns[column.name], asked.columns[column.name]
            dropped = {c.name for c in full.checks} - {c.name for c in kept.checks}
            assert dropped == ({"isin"} if column.kind == "vocab" else set()), column.name
            assert kept.nullable == full.nullable
            assert kept.dtype == full.dtype
            assert kept.unique == (full.unique and column.name != spec.id_column)
