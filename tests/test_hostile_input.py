"""Hostile input (issue 6): whatever a clinic's export holds, loading never crashes or loses a row.

Every load is checked for the same promises (``check_loaded``): ``load`` returns a Bundle or
raises a BundleError (one paragraph naming a file) and nothing else; for every file accepted +
rejected = rows read, where rows read is counted independently (Python's csv module over the
decoded text, blank records skipped; Parquet rows not wholly blank) and the accepted and rejected
lines are exactly the records' first lines; every rejected row has a file, a line >= 2 and a
reason; accepted ids are unique, accepted references resolve, accepted vocabulary is in the
vocabulary. Through the CLI: exit 0 or 2, stderr empty or one paragraph, never a traceback.

775 cases. Hypothesis is derandomized and keeps no example database, so every run tests the same
ones; AUDITKIT_HOSTILE_SCALE=20 multiplies the examples for a deeper run by hand.

    properties (hypothesis)                                           examples
    random bytes as any table file (.csv, .xlsx, .parquet)                  20
    CSV metacharacter soup after a real header, read level                 300
    the same soup through `load`                                            10
    a CSV, xlsx or Parquet file cut at a random byte, through `load`        12
    random rows in every table: wrong types in every column, duplicate
      and dangling ids, header spellings, encodings, line endings           15
    Parquet columns of every Arrow type in every column                     10
    `auditkit validate` on random bundles and bytes, in process             10
                                                                  total    377

    examples                                                             cases
    a tricky CSV cut at every byte offset (mid-quote, mid-UTF-8)           369
    5 MB fields: fast path, exact path, wrong width; a 5 MB header           4
    UTF-16 LE/BE with BOM, broken UTF-16, Latin-1, mixed UTF-8 and
      Latin-1, NUL bytes, lone CR line ends, CRLF then CR                    8
    a file another program holds open                                        1
    typed files: a date in a text column, "None" text in xlsx; a
      column named source_line                                               3
    duplicate and dangling ids with their exact reasons                      1
    a CSV larger than memory (simulated small machine): API, CLI,
      enough or unknown memory, the measurement itself                       5
    the real entry point, `python -m auditkit.cli`, on random bytes          1
    `auditkit audit` on an odd but loadable bundle (a no-show in 9999)    1
    every client set aside: refused, exit 2, not an audit of nothing      1
    a real audit (sample of 300 clients, formula strings planted):
      verbatim after loading; neutralised in every CSV and no formula in
      the xlsx; frozen at three moments of writing; a second run over
      the first's outputs frozen and then SIGKILLed while writing            4
                                                                  total    398

The file runs in about 40 s on a 2-core machine, a third of it the audit subprocesses.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import decimal
import io
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit import load, loading
from auditkit.cli import main
from auditkit.errors import BundleError
from auditkit.loading import read_table
from auditkit.output import FORMULA_STARTS
from auditkit.parsing import FLAG_VALUES, SYNONYMS
from auditkit.schemas import TABLES, ColumnSpec
from auditkit.tables import REJECTED_COLUMNS
from auditkit.validation import Bundle

BASE = Path(__file__).parent / "fixtures" / "bundles" / "base"
BASE_FILES = {p.name: p.read_bytes() for p in sorted(BASE.iterdir())}
TABLE_NAMES = list(TABLES)
PYTHON = Path(sys.executable)
# AUDITKIT_HOSTILE_SCALE=20 multiplies every property's examples, for a deeper run by hand.
SCALE = int(os.environ.get("AUDITKIT_HOSTILE_SCALE", "1"))


def hostile(examples: int) -> settings:
    """Same cases every run (CI is deterministic), no deadline: one load takes ~0.2 s."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# --- what every case checks -------------------------------------------------------------------


@contextlib.contextmanager
def any_field_size() -> Iterator[None]:
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def independent_text(data: bytes) -> str:
    """The file's text, decoded without the loader's help (Latin-1 shares cp1252's ASCII)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def record_lines(data: bytes) -> list[int]:
    """Physical first line of every non-blank record after the header, by Python's csv module.

    A record whose every field is empty or only spaces and tabs (`,,,,`, `  `) is blank too.
    """
    reader = csv.reader(io.StringIO(independent_text(data), newline=""))
    starts, previous_end = [], 0
    with any_field_size():
        for record in reader:
            if any(field.strip(" \t") for field in record):
                starts.append(previous_end + 1)
            previous_end = reader.line_num
    return starts[1:]


def _is_blank(value: object, spaces: bool = False) -> bool:
    if spaces and isinstance(value, str) and not value.strip(" \t"):
        return True
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _is_blank_cell(value: object) -> bool:
    """A spreadsheet cell with nothing in it, or only spaces and tabs."""
    return _is_blank(value, spaces=True)


def independent_rows(path: Path) -> list[int] | None:
    """Lines of the records a file holds, counted without the loader; None if not countable.

    CSV: the csv module's records; Parquet and xlsx: rows with a value (the header is line 1).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return record_lines(path.read_bytes())
    if suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
        return [i + 2 for i, row in enumerate(rows) if not all(map(_is_blank, row.values()))]
    if suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = sheet.iter_rows(min_row=2, values_only=True)
        return [i + 2 for i, row in enumerate(rows) if not all(map(_is_blank_cell, row))]
    return None


def check_refusal(message: str, folder: Path) -> None:
    """A refusal is one paragraph a person can act on, naming the file (or folder) at fault."""
    assert message.strip(), "empty BundleError"
    assert "\n\n" not in message, message
    assert len(message) < 2_000, message[:300]
    names = [p.name for p in folder.iterdir()] + [str(folder)] if folder.is_dir() else []
    assert any(name in message for name in names), message


def check_bundle(bundle: Bundle, folder: Path) -> None:
    """Nothing lost, nothing counted twice, every set-aside row explained, every kept row sound."""
    rejected = bundle.rejected
    assert list(rejected.columns) == REJECTED_COLUMNS
    assert rejected["file"].isin(bundle.coverage["file"]).all()
    assert (rejected["line"].astype("int64") >= 2).all()
    assert rejected["reason"].notna().all() and (rejected["reason"].str.len() > 0).all()
    for table, file, _enc, rows_read, accepted, n_rejected in bundle.coverage.itertuples(
        index=False
    ):
        frame = bundle.tables[table] if table in bundle.tables else getattr(bundle, table)
        assert accepted + n_rejected == rows_read, file
        assert accepted == len(frame), file
        accepted_lines = set(frame["source_line"])
        rejected_lines = set(rejected.loc[rejected["file"] == file, "line"])
        assert len(accepted_lines) == accepted, file
        assert len(rejected_lines) == n_rejected, file
        assert not accepted_lines & rejected_lines, file
        expected = independent_rows(folder / file)
        if expected is not None:
            assert len(expected) == rows_read, file
            assert sorted(accepted_lines | rejected_lines) == expected, file
    for name, spec in TABLES.items():
        frame = bundle.tables[name]
        ids = frame[spec.id_column]
        assert ids.notna().all() and not ids.duplicated().any(), name
        for column in spec.columns:
            values = frame[column.name].dropna()
            if column.references is not None:
                target = bundle.tables[column.references][TABLES[column.references].id_column]
                assert values.isin(target).all(), (name, column.name)
            if column.vocabulary:
                assert values.isin(column.vocabulary).all(), (name, column.name)
            if column.required:
                assert len(values) == len(frame), (name, column.name)


def check_loaded(folder: Path) -> Bundle | None:
    """Load and check every promise; None when the bundle was refused (with a BundleError)."""
    try:
        bundle = load(folder)
    except BundleError as error:
        check_refusal(str(error), folder)
        return None
    check_bundle(bundle, folder)
    return bundle


def check_read(path: Path, table: str) -> None:
    """One file read on its own: a RawTable covering exactly the csv module's records."""
    try:
        raw = read_table(path.parent, TABLES[table], path=path)
    except BundleError as error:
        check_refusal(str(error), path.parent)
        return
    expected = record_lines(path.read_bytes())
    assert raw.rows_read == len(expected)
    got = sorted([*raw.lines.tolist(), *raw.malformed["line"].tolist()])
    assert got == expected
    assert len(raw.frame) == len(raw.lines)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def check_cli_stderr(code: int, err: str) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 0:  # at most the caveats a quiet run still says, a line each
        assert all(line.startswith("auditkit: ") for line in err.splitlines()), err
        caveats = (
            " not checked: ",
            "No records in",
            " holds no records, only its header: ",
            "No policy file: ",
            " not judged yet for ",
        )
        assert all(any(c in line for c in caveats) for line in err.splitlines()), err
    else:
        paragraph = err.strip()
        assert paragraph.startswith("auditkit: ") and "\n\n" not in paragraph, err


@contextlib.contextmanager
def bundle_with(files: dict[str, bytes | None]) -> Iterator[Path]:
    """The base bundle with `files` laid over it (None removes a file), in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        path = Path(folder)
        for name, data in {**BASE_FILES, **files}.items():
            if data is not None:
                (path / name).write_bytes(data)
        yield path


def replacing(table: str, suffix: str, data: bytes) -> dict[str, bytes | None]:
    """Files that make `data` the table's only file."""
    return {f"{table}.csv": None, f"{table}{suffix}": data}


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def encode(text: str, encoding: str) -> bytes:
    """Text as an export would write it: with a BOM for UTF-8-sig and UTF-16, '?' if unmappable."""
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be", errors="replace")
    return text.encode(encoding, errors="replace")


# --- strategies ---------------------------------------------------------------------------------

ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-be"])
FORMULAS = [
    "=1+1",
    "+15550100",
    "-2+3",
    "@SUM(A1:A2)",
    '=HYPERLINK("http://example.invalid","x")',
    "=cmd|' /C calc'!A0",
    "\t=1+1",
]
ODD_TEXT = [
    "",
    " ",
    "None",
    "nan",
    "NULL",
    "N/A",
    "\x00",
    '"',
    '5" tall',
    "a,b",
    "line\nbreak",
    "cr\ronly",
    "didnâ€™t",
    "\ufeffS1",
    "\u2028",
    "😀",
]
hostile_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(FORMULAS + ODD_TEXT),
)
TIMESTAMPS = [
    "2026-03-09T13:00:00",
    "2026-03-09T21:00:00Z",
    "2026-03-09 13:00:00-08:00",
    "2026-03-08T02:30:00",  # never happens (spring forward)
    "2026-11-01T01:30:00",  # happens twice (fall back)
    "3/9/2026 1:05 PM",
    "3/9/2026",
    "2026-03-09",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30",
    "13/45/2026 99:99 PM",
    "0/0/2026 0:00 AM",
    "2026-03-09T25:00",
    "2026-03-09T13:00:00+99:99",
    "yesterday",
    "1e9",
]
COUNTS = ["50", "50.0", "0", "-5", "2.5", "inf", "-inf", "nan", "1e30", "9" * 25, "30 min"]
COUNTS += ["0x10", "٣", "1_000", " 7 ", "1,5", "1500"]
POOLS = {
    "staff": ["S1", "S2", "S3", "S9"],
    "clients": ["C1", "C2", "C9"],
    "appointments": ["A1", "A2", "A3", "A9"],
    "contacts": ["K1", "K2", "K3"],
    "notes": ["N1", "N2", "N3"],
    "approvals": ["P1", "P2"],
}


def column_values(table: str, column: ColumnSpec) -> st.SearchStrategy[str]:
    """Plausible values and wrong ones for one column: every column gets wrong types."""
    if column.kind == "timestamp":
        plausible = st.sampled_from(TIMESTAMPS)
    elif column.kind == "vocab":
        synonyms = [k for k, v in SYNONYMS.items() if v in column.vocabulary]
        shouted = [v.upper().replace("_", " ") for v in column.vocabulary]
        plausible = st.sampled_from([*column.vocabulary, *synonyms, *shouted, "bogus"])
    elif column.kind == "flag":
        plausible = st.sampled_from([*FLAG_VALUES, "YES", " No ", "maybe", "2"])
    elif column.kind == "count":
        plausible = st.one_of(
            st.sampled_from(COUNTS),
            st.integers(-(10**20), 10**20).map(str),
            st.floats().map(repr),
        )
    elif column.references is not None or column.unique:
        pool = POOLS[column.references or table]
        plausible = st.sampled_from([*pool, f" {pool[0]} ", pool[0].lower()])
    else:
        plausible = hostile_text
    return st.one_of(plausible, plausible, hostile_text)


def header_name(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [name, name.upper(), name.replace("_", " ").title(), name.replace("_", "-")]
    )


@st.composite
def table_file(draw: st.DrawFn, table: str) -> bytes:
    """A CSV of random rows for `table`: random column order, header spelling, extra column,
    ragged rows, line ending and encoding."""
    spec = TABLES[table]
    columns = [c for c in spec.columns if c.required or draw(st.booleans())]
    extra = draw(st.sampled_from([[], ["Comments"], ["export_id", "x"]]))
    order = draw(st.permutations([*(c.name for c in columns), *extra]))
    by_name = {c.name: c for c in columns}
    header = [draw(header_name(n)) for n in order]
    values = [column_values(table, by_name[n]) if n in by_name else hostile_text for n in order]
    rows = draw(st.lists(st.tuples(*values).map(list), min_size=1, max_size=6))
    if draw(st.booleans()):  # a ragged row: a field missing or one too many
        row = rows[draw(st.integers(0, len(rows) - 1))]
        if draw(st.booleans()) and len(row) > 1:
            row.pop()
        else:
            row.append("extra")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    if draw(st.booleans()):
        buffer.write("\n\n")  # trailing blank lines
    return encode(buffer.getvalue(), draw(ENCODINGS))


@st.composite
def random_bundle(draw: st.DrawFn) -> dict[str, bytes | None]:
    """Each table either the base file, random rows, or (approvals only) absent."""
    files: dict[str, bytes | None] = {}
    for table in TABLE_NAMES:
        choices = ["base", "random", "random"] + (["absent"] if table == "approvals" else [])
        choice = draw(st.sampled_from(choices))
        if choice == "random":
            files[f"{table}.csv"] = draw(table_file(table))
        elif choice == "absent":
            files[f"{table}.csv"] = None
    return files


# Bytes that steer the record splitter: quotes, separators, every line ending, NUL, multi-byte
# characters, and line separators that are not line ends to a CSV reader.
SOUP_PIECES = ["S1", "x", ",", '"', '""', "\n", "\r", "\r\n", " ", "\x00", "é", "’", "😀"]
SOUP_PIECES += ["=1+1", "\t", "\u2028", "\x85", "\x0b", "\x1c", ",,,,,", "2026-03-09T13:00:00"]
soup = st.lists(st.sampled_from(SOUP_PIECES), max_size=60).map("".join)


@st.composite
def soup_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """A table's real header, maybe some real rows, then soup, in some encoding."""
    table = draw(st.sampled_from(TABLE_NAMES))
    lines = BASE_FILES[f"{table}.csv"].decode().splitlines(keepends=True)
    kept = draw(st.integers(1, len(lines)))
    text = "".join(lines[:kept]) + draw(soup)
    return table, encode(text, draw(ENCODINGS))


ARROW_KINDS = [
    "text",
    "int",
    "float",
    "bool",
    "timestamp",
    "timestamp_utc",
    "timestamp_far",
    "date",
    "binary",
    "list",
    "null",
    "dictionary",
    "decimal",
    "duration",
]


def arrow_column(kind: str, good: str, n: int) -> pa.Array:
    """n values of one Arrow type; "text" is the base bundle's own value, so rows can pass."""

    def cycle(values: list) -> list:
        return [values[i % len(values)] for i in range(n)]

    match kind:
        case "text":
            return pa.array(cycle([good, None, "=1+1", "None"]), pa.string())
        case "int":
            return pa.array(cycle([1, -5, 2**62, None]), pa.int64())
        case "float":
            return pa.array(cycle([1.5, float("nan"), float("inf"), 50.0]), pa.float64())
        case "bool":
            return pa.array(cycle([True, False, None]), pa.bool_())
        case "timestamp":
            return pa.array(cycle([dt.datetime(2026, 3, 9, 13), None]), pa.timestamp("us"))
        case "timestamp_utc":
            value = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
            return pa.array(cycle([value, None]), pa.timestamp("ns", tz="UTC"))
        case "timestamp_far":
            values = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59)]
            return pa.array(cycle(values), pa.timestamp("s"))
        case "date":
            return pa.array(cycle([dt.date(2026, 3, 9), None]), pa.date32())
        case "binary":
            return pa.array(cycle([b"\xff\x00", good.encode(), None]), pa.binary())
        case "list":
            return pa.array(cycle([[1, 2], [], None]), pa.list_(pa.int64()))
        case "null":
            return pa.nulls(n)
        case "dictionary":
            return pa.array(cycle([good, "no_show", None])).dictionary_encode()
        case "decimal":
            return pa.array(cycle([decimal.Decimal("50.00"), None]), pa.decimal128(10, 2))
        case "duration":
            return pa.array(cycle([dt.timedelta(minutes=50), None]), pa.duration("s"))
    raise AssertionError(kind)


def base_row(table: str) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO(BASE_FILES[f"{table}.csv"].decode())))


@st.composite
def parquet_table(draw: st.DrawFn) -> tuple[str, bytes]:
    table = draw(st.sampled_from(TABLE_NAMES))
    good = base_row(table)
    n = draw(st.integers(1, 4))
    columns = {
        column.name: arrow_column(
            draw(st.sampled_from(ARROW_KINDS)), good.get(column.name) or "x", n
        )
        for column in TABLES[table].columns
    }
    return table, parquet_bytes(pa.table(columns))


# --- properties ---------------------------------------------------------------------------------


@hostile(20)
@given(
    table=st.sampled_from(TABLE_NAMES),
    suffix=st.sampled_from([".csv", ".csv", ".xlsx", ".parquet"]),
    with_header=st.booleans(),
    data=st.binary(max_size=3_000),
)
def test_random_bytes_as_a_table_file(table, suffix, with_header, data):
    if with_header and suffix == ".csv":  # past the header, into the record splitter
        data = BASE_FILES[f"{table}.csv"].splitlines(keepends=True)[0] + data
    with bundle_with(replacing(table, suffix, data)) as folder:
        check_loaded(folder)


@hostile(300)
@given(case=soup_file())
def test_csv_metacharacter_soup_is_split_like_the_csv_module(case):
    table, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table}.csv"
        path.write_bytes(data)
        check_read(path, table)


@hostile(10)
@given(case=soup_file())
def test_csv_metacharacter_soup_loads_without_losing_a_row(case):
    table, data = case
    with bundle_with({f"{table}.csv": data}) as folder:
        check_loaded(folder)


# A valid notes file with everything a cut can land in the middle of: a quoted field with a
# doubled quote and a CRLF inside it, two- three- and four-byte UTF-8, a blank line in a field.
TRICKY_NOTES = (
    "note_id,client_id,staff_id,appointment_id,written_at,text\r\n"
    'N1,C1,S1,A2,2026-03-09T16:00:00,"Called, left VM.\r\nShe said ""I’ll be late"" — fee '
    'applies ✓ 😀. Next appointment 3/16."\r\n'
    "N2,C1,S1,A1,3/2/2026 3:00 PM,Attended session. Café – next appt 3/16\r\n"
    'N3,C2,S1,,2026-03-10T11:00:00,"Multi\nline\n\nwith a blank line inside"\r\n'
    "N4,C2,S1,,2026-03-10T12:00:00,=1+1\r\n"
).encode()


def test_a_valid_file_cut_at_every_byte_offset_reads_every_record(tmp_path):
    multibyte = [i for i in range(len(TRICKY_NOTES)) if 0x80 <= TRICKY_NOTES[i] < 0xC0]
    quoted = TRICKY_NOTES.index(b"left VM")
    assert multibyte and quoted  # the offsets below include mid-character and mid-quote cuts
    path = tmp_path / "notes.csv"
    for offset in range(len(TRICKY_NOTES) + 1):
        path.write_bytes(TRICKY_NOTES[:offset])
        check_read(path, "notes")


def _as_file(table: str, suffix: str) -> bytes:
    """The base table as CSV, or converted to an .xlsx workbook or a Parquet file."""
    data = BASE_FILES[f"{table}.csv"]
    if suffix == ".csv":
        return data
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    buffer = io.BytesIO()
    if suffix == ".xlsx":
        frame.to_excel(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@hostile(12)
@given(
    table=st.sampled_from(TABLE_NAMES),
    kind=st.sampled_from(["tricky CSV", ".csv", ".csv", ".xlsx", ".parquet"]),
    cut=st.floats(0, 1),
)
def test_a_file_cut_anywhere_loads_without_losing_a_row(table, kind, cut):
    if kind == "tricky CSV":
        table, suffix, data = "notes", ".csv", TRICKY_NOTES
    else:
        suffix, data = kind, _as_file(table, kind)
    with bundle_with(replacing(table, suffix, data[: round(cut * len(data))])) as folder:
        check_loaded(folder)


@hostile(15)
@given(files=random_bundle())
def test_random_rows_in_every_table_lose_nothing(files):
    with bundle_with(files) as folder:
        check_loaded(folder)


@hostile(10)
@given(case=parquet_table())
def test_parquet_columns_of_any_type_lose_nothing(case):
    table, data = case
    with bundle_with(replacing(table, ".parquet", data)) as folder:
        check_loaded(folder)


@hostile(10)
@given(
    files=st.one_of(
        random_bundle(),
        st.builds(
            lambda table, data: {f"{table}.csv": data},
            st.sampled_from(TABLE_NAMES),
            st.binary(max_size=500),
        ),
    )
)
def test_validate_command_exits_0_or_2_with_one_paragraph(files):
    with bundle_with(files) as folder:
        code, _, err = run_cli("validate", str(folder))
    check_cli_stderr(code, err)


# --- huge fields -----------------------------------------------------------------------------

HUGE = "x" * 5_000_000
CONTACT_HEADER = (
    "contact_id,client_id,staff_id,direction,channel,started_at,duration_seconds,party,outcome,"
    "purpose,appointment_id,message\n"
)
CONTACT_ROW = "K2,C2,S1,outbound,phone,2026-03-08T09:00:00,120,client,answered,scheduling,,"


# The base's first contact, kept whatever becomes of K2: a file of nothing would be refused.
CONTACT_K1 = BASE_FILES["contacts.csv"].decode().splitlines(keepends=True)[1]


@pytest.mark.parametrize(
    ("case", "message", "kept"),
    [
        ("quoted, fast path", f'"{HUGE}, fine"', True),
        ("stray quote, exact path", f'He is 5" tall {HUGE}', True),
        ("wrong width", f"{HUGE},extra", False),
    ],
)
def test_a_five_megabyte_field_is_kept_or_set_aside_whole(case, message, kept):
    contacts = (CONTACT_HEADER + CONTACT_K1 + CONTACT_ROW + message + "\n").encode()
    with bundle_with({"contacts.csv": contacts}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    assert bundle.contacts["contact_id"].tolist() == (["K1", "K2"] if kept else ["K1"])
    if kept:
        assert len(bundle.contacts.loc[1, "message"]) > 5_000_000
    else:
        assert bundle.rejected["record_id"].tolist() == ["K2"]


def test_a_five_megabyte_header_is_refused_in_a_short_paragraph():
    with bundle_with({"notes.csv": HUGE.encode() + b"\nN1\n"}) as folder:
        with pytest.raises(BundleError) as caught:
            load(folder)
        check_refusal(str(caught.value), folder)
    assert str(caught.value).endswith("Columns found: " + "x" * 40 + "….")


# --- odd encodings ---------------------------------------------------------------------------

NOTES = BASE_FILES["notes.csv"].decode()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + NOTES.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + NOTES.encode("utf-16-be"), "utf-16"),
        (NOTES.replace("\n", "\r").encode(), "utf-8"),  # old Mac line endings
        (NOTES.replace("\n", "\r").replace("\r", "\r\n", 1).encode(), "utf-8"),  # CRLF, then CR
    ],
    ids=["utf-16-le", "utf-16-be", "lone-cr", "crlf-then-cr"],
)
def test_odd_encodings_and_line_endings_load_the_same_notes(data, encoding):
    with bundle_with({"notes.csv": data}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    assert bundle.coverage.set_index("table").loc["notes", "encoding"] == encoding
    assert bundle.notes["text"].tolist() == [
        "Client did not attend. Called and left a voicemail. Missed-session fee applies. "
        "Next appointment 3/16.",
        "Attended session.",
    ]
    assert bundle.notes["source_line"].tolist() == [2, 3]


def test_latin1_and_mixed_encodings_give_the_same_text():
    latin1 = (NOTES.replace("Attended", "Café attended")).encode("latin-1")
    # One cell in UTF-8 and one in Latin-1: the file is no UTF-8, so it is read as Windows-1252
    # and the UTF-8 cell's mojibake is repaired.
    mixed = latin1.replace(b"Client did", "Clïent did".encode())
    for data in (latin1, mixed):
        with bundle_with({"notes.csv": data}) as folder:
            bundle = check_loaded(folder)
        assert bundle is not None
        assert bundle.notes["text"].str.contains("Café attended").any()
    assert bundle.notes["text"].str.startswith("Clïent did").any()


def test_nul_bytes_are_kept_as_text_not_fatal():
    with bundle_with({"notes.csv": NOTES.replace("Attended", "Att\x00ended").encode()}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    assert "Att\x00ended session." in bundle.notes["text"].tolist()


def test_a_broken_utf16_file_is_refused_naming_its_encoding():
    broken = codecs.BOM_UTF16_LE + b"n\x00o\x00t"  # an odd number of bytes
    with bundle_with({"notes.csv": broken}) as folder, pytest.raises(BundleError) as caught:
        load(folder)
    assert str(caught.value) == (
        "notes.csv starts with a UTF-16 byte-order mark but is not valid UTF-16, so its text "
        "cannot be trusted. Export it again as UTF-8."
    )


def test_a_file_that_cannot_be_opened_is_refused_naming_it(monkeypatch):
    opened = Path.open

    def locked(path: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if path.name == "notes.csv" and "r" in mode:  # as Windows answers while Excel has it
            raise PermissionError(13, "Permission denied")
        return opened(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", locked)
    with bundle_with({}) as folder, pytest.raises(BundleError) as caught:
        load(folder)
    assert str(caught.value) == "notes.csv cannot be read: Permission denied."


# --- wrong types in typed files --------------------------------------------------------------


def test_a_parquet_date_in_a_text_column_is_text_not_a_crash():
    appointments = pa.table(
        {
            "appointment_id": pa.array([pd.Timestamp("2026-03-02")], pa.timestamp("us")),
            "client_id": ["C1"],
            "staff_id": ["S1"],
            "scheduled_start": pa.array([pd.Timestamp("2026-03-02 13:00")], pa.timestamp("us")),
            "status": pa.array([pd.Timestamp("2026-03-02")], pa.timestamp("us")),
        }
    )
    files = replacing("appointments", ".parquet", parquet_bytes(appointments))
    with bundle_with(files) as folder:
        with pytest.raises(BundleError) as caught:  # its one row set aside: no appointment left
            load(folder)
        check_refusal(str(caught.value), folder)
    assert str(caught.value) == (
        "appointments.parquet: its one row was set aside, so the audit would have no "
        "appointments to go on. The reason, on line 2: status '2026-03-02' is not one of: "
        "attended, no_show, late_cancel, cancelled, rescheduled. Correct the export and run "
        "again."
    )


def test_xlsx_text_none_and_nan_are_text_not_blank(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["note_id", "client_id", "staff_id", "appointment_id", "written_at", "text"])
    sheet.append(["N1", "C1", "S1", None, "2026-03-09T16:00:00", "None"])
    sheet.append(["N2", "C1", "S1", None, 46090.5, "nan"])  # a date serial number in a text cell
    sheet.append([None, None, None, None, None, None])
    sheet.append([7, "C1", "S1", None, "2026-03-09T17:00:00", "=1+1"])
    sheet["F5"].data_type = "s"  # the text "=1+1", not a formula
    buffer = io.BytesIO()
    book.save(buffer)
    with bundle_with(replacing("notes", ".xlsx", buffer.getvalue())) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    assert bundle.notes[["note_id", "text", "source_line"]].values.tolist() == [
        ["N1", "None", 2],
        ["7", "=1+1", 5],
    ]
    assert bundle.rejected[bundle.rejected["file"] == "notes.xlsx"].values.tolist() == [
        ["notes.xlsx", 3, "N2", "written_at", "written_at '46090.5' is not a date-time "
         "(ISO 8601 or M/D/YYYY h:mm AM/PM)"],
    ]  # fmt: skip


def test_an_export_column_named_source_line_is_refused_by_name():
    notes = NOTES.replace("text\n", "text,Source Line\n").replace("3/16.\n", "3/16.,1\n")
    notes = notes.replace("session.\n", "session.,2\n").encode()
    with bundle_with({"notes.csv": notes}) as folder, pytest.raises(BundleError) as caught:
        load(folder)
    assert str(caught.value) == (
        "notes.csv has a column named 'source_line', the name auditkit gives the line each "
        "record came from. Rename or remove that column."
    )


# --- duplicate and dangling ids --------------------------------------------------------------


def test_duplicate_and_dangling_ids_are_set_aside_with_their_reasons():
    clients = BASE_FILES["clients.csv"] + b"C1,Dup,Licate,555-0199,2026-01-05,no,,S1\n"
    contacts = BASE_FILES["contacts.csv"] + (
        b"K3,C7,S1,outbound,phone,2026-03-09T13:25:00,45,client,voicemail,,,Hi\n"
        b"K4,C1,S7,outbound,phone,2026-03-09T13:26:00,45,client,voicemail,,A7,Hi\n"
    )
    with bundle_with({"clients.csv": clients, "contacts.csv": contacts}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    assert bundle.rejected.values.tolist() == [
        ["clients.csv", 4, "C1", "client_id", "duplicate client_id 'C1' (first on line 2)"],
        ["contacts.csv", 4, "K3", "client_id", "client_id 'C7' matches no clients record"],
        ["contacts.csv", 5, "K4", "staff_id", "staff_id 'S7' matches no staff record"],
        ["contacts.csv", 5, "K4", "appointment_id",
         "appointment_id 'A7' matches no appointments record"],
    ]  # fmt: skip


def test_a_duplicate_after_a_row_of_no_id_names_its_first_line_as_a_whole_number():
    # the blank id made every line a float in the grouping: "(first on line 2.0)"
    clients = BASE_FILES["clients.csv"] + (
        b",No,Id,555-0198,2026-01-05,no,,S1\nC1,Dup,Licate,555-0199,2026-01-05,no,,S1\n"
    )
    with bundle_with({"clients.csv": clients}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None
    duplicate = bundle.rejected[bundle.rejected["reason"].str.startswith("duplicate")]
    assert duplicate.values.tolist() == [
        ["clients.csv", 5, "C1", "client_id", "duplicate client_id 'C1' (first on line 2)"]
    ]


# --- larger than memory ----------------------------------------------------------------------


def _big_contacts(rows: int = 2_000) -> bytes:
    return BASE_FILES["contacts.csv"] + b"".join(
        f"K{i},C2,S1,outbound,phone,2026-03-08T09:00:00,120,client,answered,scheduling,,"
        f"Confirmed Tuesday at 10.\n".encode()
        for i in range(3, rows + 3)
    )


def test_a_csv_larger_than_memory_is_refused_before_it_is_read(monkeypatch):
    """A small machine, simulated: 1 MB free, so only contacts.csv (~190 KB) is too big."""
    monkeypatch.setattr(loading, "available_memory", lambda: 1_000_000)
    read = Path.read_bytes

    def refuse_big(path: Path) -> bytes:
        assert path.name != "contacts.csv", "read before the memory check"
        return read(path)

    with bundle_with({"contacts.csv": _big_contacts()}) as folder:
        size = (folder / "contacts.csv").stat().st_size
        monkeypatch.setattr(Path, "read_bytes", refuse_big)
        with pytest.raises(BundleError) as caught:
            load(folder)
        message = str(caught.value)
        check_refusal(message, folder)
    assert message == (
        f"contacts.csv is {size / 1000:.1f} KB; loading it needs about "
        f"{size * loading.CSV_MEMORY_FACTOR / 1e6:.1f} MB of memory (about "
        f"{loading.CSV_MEMORY_FACTOR} times its size) but only 1.0 MB is available. Split the "
        "export by date into smaller bundles and audit each, use a machine with more memory, or "
        "audit with --engine dask, which parses the CSVs of appointments, contacts, notes and "
        "calls in pieces on a cluster's workers."
    )


def test_a_csv_larger_than_memory_exits_2_from_the_cli(monkeypatch):
    monkeypatch.setattr(loading, "available_memory", lambda: 1_000_000)
    with bundle_with({"contacts.csv": _big_contacts()}) as folder:
        code, out, err = run_cli("validate", str(folder))
    check_cli_stderr(code, err)
    assert code == 2 and out == ""
    paragraph = " ".join(err.split())
    assert paragraph.startswith("auditkit: contacts.csv is") and "--engine dask" in paragraph


@pytest.mark.parametrize("memory", [None, 10**12])
def test_enough_or_unknown_memory_loads_as_usual(monkeypatch, memory):
    monkeypatch.setattr(loading, "available_memory", lambda: memory)
    with bundle_with({"contacts.csv": _big_contacts()}) as folder:
        bundle = check_loaded(folder)
    assert bundle is not None and len(bundle.contacts) == 2_002


def test_available_memory_is_measured_on_this_machine():
    memory = loading.available_memory()
    assert memory is None or memory > 0


# --- the real entry point --------------------------------------------------------------------


def test_the_installed_entry_point_never_prints_a_traceback(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name, data in BASE_FILES.items():
        (bundle / name).write_bytes(data)
    (bundle / "clients.csv").write_bytes(bytes(range(256)) * 4)
    done = subprocess.run(
        [PYTHON, "-m", "auditkit.cli", "validate", str(bundle)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    check_cli_stderr(done.returncode, done.stderr)
    assert done.returncode == 2
    assert "clients.csv" in done.stderr


# --- loadable but odd bundles through `auditkit audit` -----------------------------------------

ALL_CLIENTS_REJECTED = (
    BASE_FILES["clients.csv"].replace(b",yes,", b",maybe,").replace(b",no,", b",maybe,")
)
EXTREME_TIMES = BASE_FILES["appointments.csv"].replace(
    b"2026-03-09T13:00:00", b"9999-12-31T08:00:00"
)


def test_an_odd_but_loadable_bundle_audits_without_a_traceback(tmp_path):
    with bundle_with({"appointments.csv": EXTREME_TIMES}) as folder:  # a no-show on 9999-12-31
        assert check_loaded(folder) is not None
        code, _, err = run_cli("audit", str(folder), "--out", str(tmp_path), "-q")
    check_cli_stderr(code, err)


# (Appointments with no rows here leave this bundle's notes, all linked, nothing to refer to:
# the load refuses it, as it should; the sample's own run in tests/test_distributed.py.)
@pytest.mark.parametrize("table", ["contacts", "notes", "approvals"])
def test_a_table_of_its_header_alone_goes_through_every_command(tmp_path, table):
    """A clinic's first weeks export some tables as a header alone (no approvals yet, say):
    the audit, validation, conversion and de-identification each run, exit 0 and print no
    traceback (de-identification once stopped on a table with no rows)."""
    header = BASE_FILES[f"{table}.csv"].splitlines(keepends=True)[0]
    with bundle_with({f"{table}.csv": header}) as folder:
        commands = [
            ("audit", str(folder), "--out", str(tmp_path / "audit"), "-q"),
            ("validate", str(folder)),
            ("convert", str(folder), "--to", "parquet", "--out", str(tmp_path / "parquet")),
            ("deidentify", str(folder), "--out", str(tmp_path / "extract"), "--scrubbed-text"),
        ]
        for command in commands:
            code, _, err = run_cli(*command)
            check_cli_stderr(code, err)
            assert code == 0, (command, err)
    assert (tmp_path / "extract" / f"{table}.csv").read_bytes().count(b"\n") == 1


def test_a_bundle_with_every_client_set_aside_is_refused_not_audited(tmp_path):
    # Audited, it would pass on nothing: every rule n/a, exit code 0.
    with bundle_with({"clients.csv": ALL_CLIENTS_REJECTED}) as folder:
        assert check_loaded(folder) is None
        code, out, err = run_cli("audit", str(folder), "--out", str(tmp_path), "-q")
    check_cli_stderr(code, err)
    assert (code, out) == (2, "")
    assert err.startswith("auditkit: clients.csv: all 2 of its rows were set aside")


# --- a real audit: formula strings in its outputs, and killed while it writes -----------------

SAMPLE_CLIENTS = 300  # an audit of ~6 s; ~2 MB of outputs written over its last 3 s
# Formula strings planted in the sample: phone coaching by a therapist nobody approved, so each
# contact is a PC001 finding whose subject_id starts with a formula character; and a staff row
# with a bad role, so its formula id lands in rejected.csv.
PLANTED_STAFF = "=cmd|' /C calc'!A0,Eve,Null,wizard,\nS999,Ray,Quill,therapist,\n"  # (no line)
PLANTED_CONTACTS = {
    "=K1": '=HYPERLINK("http://example.invalid","call back")',
    "+K2": "+1 555 0100 call me",
    "-K3": "-2+3 urges went down this week",
    "@K4": "@SUM(A1:A9) skills practice",
}
COACHING = ["600", "client", "answered", "coaching", ""]  # duration ... appointment_id
REVIEWS = (
    "rule,subject_id,decision,reviewer,reviewed_at,comment\n"
    "MS001,A-none,dismissed,Dr. Lee,2026-03-10T09:00:00,kept from an earlier run\n"
)
Snapshot = dict[str, tuple[int, bytes]]


def _plant_formulas(bundle: Path) -> None:
    with (bundle / "staff.csv").open("a", encoding="utf-8") as staff:
        staff.write(PLANTED_STAFF)
    with (bundle / "contacts.csv").open("a", newline="", encoding="utf-8") as contacts:
        csv.writer(contacts, lineterminator="\n").writerows(
            [cid, "C0001", "S999", "outbound", "phone", f"2026-01-1{i}T10:00", *COACHING, message]
            for i, (cid, message) in enumerate(PLANTED_CONTACTS.items())
        )


def _snapshot(out: Path) -> Snapshot:
    """Every visible file in the folder: its inode (a rename gives a new one) and its bytes."""
    return {
        p.name: (p.stat().st_ino, p.read_bytes())
        for p in sorted(out.iterdir())
        if not p.name.startswith(".")
    }


def _sheet_rows(data: bytes) -> dict[str, int]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: sum(1 for _ in sheet.iter_rows()) for sheet in book}


# The command with every fsync 0.1 s slower: a file's temporary copy then lasts long enough for
# the watcher, polling from another process on a busy machine, to freeze the audit while it is
# there (an in-memory workbook is otherwise written, synced and renamed within milliseconds).
_SLOW_SYNC_AUDIT = (
    "import os, time\n"
    "sync = os.fsync\n"
    "os.fsync = lambda fd: (time.sleep(0.1), sync(fd))[1]\n"
    "from auditkit.cli import run\n"
    "run()"
)


def _audit(bundle: Path, out: Path) -> subprocess.Popen:
    command = [PYTHON, "-c", _SLOW_SYNC_AUDIT, "audit", str(bundle), "--out", str(out), "-q"]
    return subprocess.Popen(
        [*command, "--reviews", str(out / "reviews.csv")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _writing(out: Path, name: str, before: Snapshot) -> Callable[[], bool]:
    """True once `name` is being written: its temporary file exists, or it has been renamed."""

    def fired() -> bool:
        path = out / name
        renamed = path.exists() and (name not in before or path.stat().st_ino != before[name][0])
        return renamed or any(out.glob(f".{name}.*.tmp"))

    return fired


def _interrupt(
    process: subprocess.Popen,
    out: Path,
    moments: dict[str, Callable[[], bool]],
    kill_at: str | None = None,
) -> dict[str, Snapshot]:
    """Freeze the audit at each moment and record the folder as a SIGKILL then would leave it.

    SIGSTOP stops the process between system calls, exactly where SIGKILL would end it, and a
    killed process runs no clean-up, so the frozen folder is the killed one; SIGCONT goes on to
    the next moment. At `kill_at` the process gets a real SIGKILL instead.
    """
    seen: dict[str, Snapshot] = {}
    pending = dict(moments)
    while pending and process.poll() is None:
        moment, fired = next(iter(pending.items()))
        if not fired():
            time.sleep(0.0005)
            continue
        del pending[moment]
        if moment == kill_at:
            process.send_signal(signal.SIGKILL)
            process.wait()
            seen[moment] = _snapshot(out)
            break
        process.send_signal(signal.SIGSTOP)
        try:
            seen[moment] = _snapshot(out)
        finally:
            process.send_signal(signal.SIGCONT)
    assert not pending, f"the audit finished before {list(pending)}"
    return seen


def _check_complete(seen: Snapshot, final: Snapshot, moment: str) -> None:
    """Each visible file is whole: the same bytes as a completed run's (the xlsx: same sheets)."""
    for name, (_inode, data) in seen.items():
        if name == "report.xlsx":  # its zip records the time; its sheets must match
            assert _sheet_rows(data) == _sheet_rows(final[name][1]), (moment, name)
        else:  # the same bundle gives the same bytes
            assert data == final[name][1], (moment, name)


@dataclass
class WatchedAudit:
    bundle: Path
    out: Path
    frozen: dict[str, Snapshot]  # the folder at moments of the run's writing
    final: Snapshot  # the folder once it completed
    code: int
    stderr: str


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> WatchedAudit:
    """A sample clinic year with formula strings planted in it, audited (the CLI, its fsyncs
    slowed) into a folder holding only a reviews file, frozen at three moments of writing and
    then let run to the end."""
    from auditkit.sample import generate_sample

    root = tmp_path_factory.mktemp("watched")
    bundle, out = root / "bundle", root / "out"
    generate_sample(bundle, clients=SAMPLE_CLIENTS)
    _plant_formulas(bundle)
    out.mkdir()
    (out / "reviews.csv").write_text(REVIEWS)
    empty = _snapshot(out)
    process = _audit(bundle, out)
    moments = {
        "findings.csv written": _writing(out, "findings.csv", empty),
        "report.html being written": _writing(out, "report.html", empty),
        "report.xlsx being written": _writing(out, "report.xlsx", empty),
    }
    frozen = _interrupt(process, out, moments)
    code = process.wait(timeout=300)
    return WatchedAudit(bundle, out, frozen, _snapshot(out), code, process.stderr.read().decode())


def _cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode(), newline="")) for cell in row]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_formula_strings_load_verbatim(watched):
    bundle = check_loaded(watched.bundle)
    assert bundle is not None
    contacts = bundle.contacts.set_index("contact_id")
    assert contacts.loc[list(PLANTED_CONTACTS), "message"].to_dict() == PLANTED_CONTACTS
    rejected = bundle.rejected[bundle.rejected["file"] == "staff.csv"]
    assert rejected["record_id"].tolist() == ["=cmd|' /C calc'!A0"]


def test_formula_strings_are_neutralised_in_every_output(watched):
    assert watched.code == 0 and watched.stderr == ""
    written = {name: data for name, (_inode, data) in watched.final.items()}
    for name, data in written.items():
        if name.endswith(".csv") and name != "reviews.csv":  # reviews.csv is the user's own
            cells = _cells(data)
            risky = [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_number(c)]
            assert risky == [], name
    assert "'=cmd|' /C calc'!A0" in _cells(written["rejected.csv"])
    findings = pd.read_csv(io.BytesIO(written["findings.csv"]), dtype=str)
    planted = findings[findings["staff_id"] == "S999"]
    assert set(planted["subject_id"]) == {f"'{cid}" for cid in PLANTED_CONTACTS}
    book = openpyxl.load_workbook(io.BytesIO(written["report.xlsx"]))
    formulas = [c.coordinate for s in book for r in s.iter_rows() for c in r if c.data_type == "f"]
    assert formulas == []


def test_an_audit_frozen_while_writing_shows_only_complete_files(watched):
    assert set(watched.frozen) == {
        "findings.csv written",
        "report.html being written",
        "report.xlsx being written",
    }
    for moment, seen in watched.frozen.items():
        assert "report.xlsx" not in seen, moment  # frozen before the end, truly
        _check_complete(seen, watched.final, moment)


def test_an_audit_killed_over_a_previous_run_leaves_old_or_complete_files(watched):
    """A second run over the first one's outputs and reviews file, frozen while the CSVs are
    replaced and SIGKILLed while the HTML report is written: every file is the old one or a
    complete new one, and the reviews file is untouched."""
    out, final = watched.out, watched.final
    process = _audit(watched.bundle, out)
    moments = {
        "findings.csv being replaced": _writing(out, "findings.csv", final),
        "report.html being written": _writing(out, "report.html", final),
    }
    frozen = _interrupt(process, out, moments, kill_at="report.html being written")
    assert process.returncode == -signal.SIGKILL
    frozen["after the SIGKILL"] = _snapshot(out)
    for moment, seen in frozen.items():
        assert set(seen) == set(final), moment  # nothing removed
        replaced = {n for n in seen if seen[n][0] != final[n][0]}
        assert "report.xlsx" not in replaced, moment  # stopped before the end, truly
        if moment != "findings.csv being replaced":  # that one may be frozen before the rename
            assert "findings.csv" in replaced, moment
        assert seen["reviews.csv"] == final["reviews.csv"], moment
        _check_complete(seen, final, moment)
