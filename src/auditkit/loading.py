"""Read a bundle's files into frames, remembering each record's physical line.

Reading parses no text into values: a CSV's every value stays the text the export held
(blank = NA), so validation can quote it back when it sets a row aside. Rows whose field count
is wrong are set aside here, with their line, because no column of theirs can be trusted.

A Parquet file's columns the model and the file type alike (timestamps, flags, counts: a
converted bundle's) are passed through typed (_keeps_type), its others turned into text.
A workbook's cells come typed; auditkit.workbooks reads them (read_worksheet, which `auditkit
import` shares), and a bundle's .xlsx table is turned into the text a CSV would hold
(cells_as_text). RawTable, what every reader returns, and the words the readers share are in
auditkit.tables.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mmap
import os
import re
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from auditkit.columns import arrow_strings, one_chunk, utf8_buffers
from auditkit.errors import BundleError
from auditkit.schemas import TableSpec
from auditkit.tables import (
    HEADER_SEARCH_ROWS,
    REJECTED_COLUMNS,
    RawTable,
    file_version,
    normalise_column_name,
    printable_names,
    unreadable,
)
from auditkit.workbooks import blank_frame_rows, cells_as_text, read_worksheet

SUFFIXES = (".csv", ".xlsx", ".parquet")
SOURCE_LINE = "source_line"  # added to every validated table: where each row came from
# Marks a folder as a conversion's (auditkit convert): the next conversion may write over it,
# and its rejected.csv holds the rows the conversion set aside, which loading it carries on.
CONVERTED = "converted.json"


def converted_marker(folder: Path) -> dict[str, object] | None:
    """What a conversion's converted.json says of it (source, zone); None for a folder
    auditkit did not convert, or whose record can't be read."""
    try:
        marker = json.loads((folder / CONVERTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


_QUOTE, _NEWLINE, _COMMA, _CR = 34, 10, 44, 13
# Bytes a line may hold and still look blank: spaces, tabs, commas (Excel's ",,,,," for a row
# whose cells were emptied) and a CRLF's CR. Such a line is skipped as a blank line is.
_BLANKISH = np.zeros(256, dtype=bool)
_BLANKISH[[32, 9, _COMMA, _CR, _NEWLINE]] = True

# Peak memory of `load` per byte of CSV (the bytes, numpy masks, the Arrow table, the pandas
# frame, validation's copies), measured on ~135 MB sample tables: 6.5x for text-heavy contacts,
# 9x for short-field appointments. The larger, so a refusal comes before the machine runs out.
CSV_MEMORY_FACTOR = 9


def _keep_undefined_cp1252_bytes(error: UnicodeError) -> tuple[str, int]:
    # Five bytes have no Windows-1252 character; keep them as the Latin-1 control they are.
    assert isinstance(error, UnicodeDecodeError)  # (the handler is named only when decoding)
    bad = error.object[error.start : error.end]
    return "".join(chr(b) for b in bad), error.end


codecs.register_error("auditkit-latin1", _keep_undefined_cp1252_bytes)


def check_named_file(path: Path, what: str, name_it: str) -> None:
    """Refuse a file given by name (a call log, a reviews file) that is a folder or is not
    there, in words: `what` begins the message ("The call log"), `name_it` says what to name
    instead ("the call log file")."""
    if path.is_dir():
        raise BundleError(f"{what} {path} is a folder; name {name_it} itself.")
    if not path.is_file():
        raise BundleError(f"{what} {path} does not exist.")


def find_table_file(bundle: Path, table: str) -> Path | None:
    """The one file holding a table, matched case-insensitively by name and suffix."""
    matches = sorted(
        p
        for p in bundle.iterdir()
        if p.is_file() and p.stem.lower() == table and p.suffix.lower() in SUFFIXES
    )
    if len(matches) > 1:
        names = " and ".join(p.name for p in matches)
        raise BundleError(
            f"The bundle {bundle} holds {names}: both are the '{table}' table. Keep one of them."
        )
    return matches[0] if matches else None


# A file's bytes: in memory, or mapped from the file (see _read_bytes), or a view of either.
FileBytes = bytes | mmap.mmap | memoryview


def decode(data: FileBytes, windows_1252: bool = False) -> tuple[FileBytes, str]:
    """UTF-8 bytes of a file that was UTF-8, UTF-8 with BOM, UTF-16 with BOM, or Windows-1252.

    Excel's "Unicode" exports are UTF-16; their BOM says so, and read as bytes they would be a
    header of NUL-riddled nonsense. `windows_1252`: the bytes are known to be Windows-1252 (a
    piece of a file that is not UTF-8, which may itself be UTF-8: see csv_cuts).
    """
    head = bytes(data[:3])
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return str(data, "utf-16").encode("utf-8"), "utf-16"
    if head == codecs.BOM_UTF8:
        data, encoding = memoryview(data)[len(codecs.BOM_UTF8) :], "utf-8-sig"  # not a copy
    else:
        encoding = "utf-8"
    if not windows_1252:
        try:
            _check_utf8(data)
            return data, encoding
        except UnicodeDecodeError:
            if encoding == "utf-8-sig":
                raise
    return str(data, "cp1252", "auditkit-latin1").encode("utf-8"), "windows-1252"


def _check_utf8(data: FileBytes, chunk: int = 1 << 24) -> None:
    """Raise UnicodeDecodeError unless `data` is UTF-8.

    Arrow checks the bytes where they lie, ten times faster than Python decodes them; only a
    file Arrow finds invalid is decoded, a chunk at a time (a str of the whole file would be up
    to four times its size), for Python's own verdict and error.
    """
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(
            full=True
        )
        return
    except pa.ArrowInvalid:
        pass
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for at in range(0, len(data), chunk):
        decoder.decode(view[at : at + chunk])
    decoder.decode(b"", final=True)


# Bytes of file scanned at a time: the scan's masks stay a few MB, not the size of the file.
_SCAN_BLOCK = 1 << 22


@dataclass
class _Records:
    """Where a CSV's non-blank records lie, found by quote parity (see `_scan`)."""

    starts: np.ndarray  # first byte of each record
    ends: np.ndarray  # its line end (or the file's length): one past its last byte
    lines: np.ndarray  # the physical line it starts on, from 1
    fields: np.ndarray | None  # how many fields it has: unquoted commas + 1 (if counted)
    open_at_end: bool  # whether the file ends inside quotes (an odd number of quote characters)
    bare_quote: bool  # whether a quote is where parity misreads it (see _bare_quotes_in)
    blank: np.ndarray  # whether it looks blank: only spaces, tabs and commas (skipped)

    def without_blank(self) -> _Records:
        """The records that do not look blank."""
        keep = ~self.blank
        fields = None if self.fields is None else self.fields[keep]
        kept = self.starts[keep], self.ends[keep], self.lines[keep], fields
        return _Records(*kept, self.open_at_end, self.bare_quote, self.blank[keep])


def _scan(buf: np.ndarray, count_fields: bool = True) -> _Records:
    """Every non-blank record of a CSV, its physical line and (if `count_fields`) its number
    of fields.

    A line end (LF, or a CR not followed by LF, as in the csv module) ends a record only
    outside quotes, i.e. where an even number of quote characters precede it; likewise a
    comma separates fields only outside quotes. Counted with numpy a block of the file at a
    time, carrying counts from block to block, so memory stays flat and multi-line fields cost
    nothing extra. A record's fields are its commas, less those inside its quoted spans (after
    an odd number of quotes), plus one; only the quoted commas' records are kept, a block's
    count at a time.
    """
    size = len(buf)
    line_ends, record_ends, commas_to_end, quoted_records, quoted_commas = [], [], [], [], []
    quotes_so_far = commas_so_far = lines_so_far = records_so_far = 0
    bare = False
    for at in range(0, size, _SCAN_BLOCK):  # a loop per 4 MB block, not per row
        block = buf[at : at + _SCAN_BLOCK]
        ends = np.flatnonzero(block == _NEWLINE)
        cr = np.flatnonzero(block == _CR)
        if len(cr):
            after = cr + at + 1
            lone = cr[(after >= size) | (buf[np.minimum(after, size - 1)] != _NEWLINE)]
            ends = np.sort(np.concatenate((ends, lone)))
        here = np.flatnonzero(block == _QUOTE)
        bare = bare or _bare_quotes_in(buf, here + at, quotes_so_far % 2)
        outside = (quotes_so_far + np.searchsorted(here, ends)) % 2 == 0
        line_ends.append(ends + at)
        record_ends.append(np.flatnonzero(outside) + lines_so_far)  # indices into line_ends
        if count_fields:  # commas from the start of the file to each record end
            comma = np.flatnonzero(block == _COMMA)
            record_end_here = ends[outside]
            commas_to_end.append(commas_so_far + np.searchsorted(comma, record_end_here))
            inside = comma[(quotes_so_far + np.searchsorted(here, comma)) % 2 == 1]
            if len(inside):  # each quoted comma's record: the record ends before it, so far
                record = records_so_far + np.searchsorted(record_end_here, inside)
                numbers, counts = np.unique(record, return_counts=True)
                quoted_records.append(numbers)
                quoted_commas.append(counts)
            commas_so_far += len(comma)
        quotes_so_far += len(here)
        lines_so_far += len(ends)
        records_so_far += int(np.count_nonzero(outside))
    none = np.zeros(0, dtype=np.int64)
    if size == 0:  # a zero-byte file: no records (the caller reports it as empty)
        fields = none if count_fields else None
        return _Records(none, none, none, fields, False, False, none.astype(bool))
    line_end = np.concatenate(line_ends).astype(np.int64, copy=False)
    record_end = np.concatenate(record_ends).astype(np.int64, copy=False)
    ends = line_end[record_end]
    unended = len(ends) == 0 or ends[-1] != size - 1  # the last record has no line end
    if unended:
        ends = np.append(ends, size)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64, copy=False)
    # A record after line end k (the k-th, from 0) starts on line k + 2.
    lines = np.concatenate(([1], record_end[: len(ends) - 1] + 2)).astype(np.int64, copy=False)
    fields = None
    if count_fields:
        commas = np.concatenate(commas_to_end).astype(np.int64, copy=False)
        if unended:
            commas = np.append(commas, commas_so_far)
        quoted = np.zeros(len(ends), dtype=np.int64)
        if quoted_records:  # (a record spanning two blocks has a count from each)
            np.add.at(quoted, np.concatenate(quoted_records), np.concatenate(quoted_commas))
        fields = np.diff(commas, prepend=0) - quoted + 1
    lengths = ends - starts
    # A blank line (or a lone CR) is no record, as for every CSV reader.
    blank = (lengths == 0) | ((lengths == 1) & (buf[np.minimum(starts, size - 1)] == _CR))
    keep = ~blank
    starts, ends = starts[keep], ends[keep]
    return _Records(
        starts,
        ends,
        lines[keep],
        None if fields is None else fields[keep],
        quotes_so_far % 2 == 1,
        bare,
        _blank_looking(buf, starts, ends),
    )


def _blank_looking(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which records hold nothing but spaces, tabs and commas: a line of spaces, or Excel's
    ",,,,," for a row whose cells were emptied. They are no record, as a blank line is none.

    Only records that begin with such a byte are looked at (rarely any in an export); their
    bytes are checked together, one pass over the span from the first to the last of them.
    """
    blank = np.zeros(len(starts), dtype=bool)
    if len(starts) == 0:
        return blank
    maybe = np.flatnonzero(_BLANKISH[buf[starts]])  # (records are never empty here)
    if len(maybe) == 0:
        return blank
    low, high = int(starts[maybe[0]]), int(ends[maybe[-1]])
    # One more True past the span, so the last record's segment has an end to run to.
    holds = np.ones(high - low + 1, dtype=bool)
    np.logical_not(_BLANKISH[buf[low:high]], out=holds[:-1])
    bounds = np.column_stack((starts[maybe] - low, ends[maybe] - low)).ravel()
    blank[maybe] = ~np.logical_or.reduceat(holds, bounds)[::2]
    return blank


def _holds(buf: np.ndarray, byte: int) -> bool:
    """Whether the file holds `byte` anywhere (looked for a block at a time, stopping at one)."""
    return any((buf[at : at + _SCAN_BLOCK] == byte).any() for at in range(0, len(buf), _SCAN_BLOCK))


def _physical_lines(buf: np.ndarray) -> int:
    """How many lines the file has: its line ends (LF, or a CR not followed by LF), plus one
    for a last line that has none."""
    ends = 0
    for at in range(0, len(buf), _SCAN_BLOCK):  # a loop per 4 MB block, not per row
        block = buf[at : at + _SCAN_BLOCK]
        after = np.flatnonzero(block == _CR) + at + 1
        lone = (after >= len(buf)) | (buf[np.minimum(after, len(buf) - 1)] != _NEWLINE)
        ends += int(np.count_nonzero(block == _NEWLINE)) + int(np.count_nonzero(lone))
    return ends + int(len(buf) > 0 and buf[-1] not in (_NEWLINE, _CR))


def _drop_spans(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The file without the bytes from each start to its end, both included: records with
    their line endings, trailing delimiters with the empty field after them."""
    # Spans never overlap, so the running sum is 0 or 1: one byte per byte of file suffices.
    delta = np.zeros(len(buf) + 1, dtype=np.int8)
    np.add.at(delta, starts, 1)
    np.add.at(delta, np.minimum(ends + 1, len(buf)), -1)
    return buf[np.cumsum(delta[:-1], dtype=np.int8) == 0].tobytes()


def _trailing_delimiters(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, open_at_end: bool
) -> tuple[np.ndarray, np.ndarray]:
    """For each record that ends in an empty field, where the delimiter before that field is
    (else -1), and where the field ends: `1,2,3,` and `1,2,3,""` end in an empty field;
    `1,2,3` and `1,2,"3,"` do not.

    Some exporters end every row but the header with a delimiter: that empty field is no value.
    A delimiter counts only outside quotes (an even number of quotes before it), for the last
    record of a file may end inside a quote left open (`open_at_end`, _scan's). Between the
    delimiter and its record's end lie no quotes or two (`""`), and a record ends outside
    quotes but at the end of such a file: so the file's quotes need not be counted.
    """
    last = ends - 1
    last = last - ((buf[last] == _CR) & (last > starts))  # a CRLF's CR is in the record's span
    quoted = (last - 2 >= starts) & (buf[last] == _QUOTE) & (buf[np.maximum(last - 1, 0)] == _QUOTE)
    at = np.where(quoted, last - 2, last)
    inside = open_at_end & (ends == len(buf))
    empty = (buf[at] == _COMMA) & ~inside
    return np.where(empty, at, -1), last


def _first_record_has_spare_field(buf: np.ndarray, records: _Records, width: int) -> bool:
    """Whether the first record after the header has one field more than the header's `width`,
    and that one empty: a file whose rows end with a delimiter and whose header does not, which
    Arrow is then asked to parse with a spare last column from the start."""
    if len(records.starts) < 2:
        return False
    start, end = records.starts[1:2], records.ends[1:2]
    if _trailing_delimiters(buf, start, end, records.open_at_end)[0][0] < 0:
        return False  # the usual file: its fields are not counted
    fields = _scan(buf[start[0] : end[0]]).fields  # counted as the header's were
    assert fields is not None  # (counted by the scan just made)
    return len(fields) == 1 and int(fields[0]) == width + 1


@contextmanager
def _any_field_size() -> Iterator[None]:
    """Lift the csv module's 128 KiB field limit: a pasted transcript can be megabytes."""
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _fields(record: str) -> list[str]:
    """The fields of one CSV record, quotes undone."""
    with _any_field_size():
        return next(csv.reader(io.StringIO(record, newline="")), [])


def _field_at(fields: list[str], position: int) -> str:
    """One field of a record, stripped; blank when the record is too short."""
    return fields[position].strip() if position < len(fields) else ""


def _is_separator_line(fields: list[str]) -> bool:
    """Whether a file's first record is Excel's `sep=,` (or `sep=;`): a line some exports
    write before the header to tell Excel the separator, no header itself. The header after
    it is then checked as any other (a `sep=;` file's is refused as separated by semicolons)."""
    return re.fullmatch("sep=.", ",".join(fields), re.IGNORECASE | re.DOTALL) is not None


def _is_blank_record(fields: list[str]) -> bool:
    """Whether every field is empty or only spaces and tabs: no record, as a blank line is
    none (a row whose cells were emptied in a spreadsheet, `,,,,,` or `"",""`)."""
    return not any(field.strip(" \t") for field in fields)


# What may stand before an opening quote and after a closing one, by the csv module's reading.
_BESIDE_QUOTES = np.array([_COMMA, _NEWLINE, _CR, _QUOTE], dtype=np.uint8)


def _bare_quotes_in(buf: np.ndarray, quotes: np.ndarray, first_closes: int) -> bool:
    """Whether any of `quotes` (positions in buf, in order; the first closes a field if
    `first_closes`) is a quote that parity reads otherwise than a CSV reader would.

    Parity takes every even-numbered quote as opening a quoted field and every odd-numbered one
    as closing it. That matches the csv module only if each opening quote starts a field (or is
    the second of a doubled pair) and each closing quote ends one (or is the first of a pair);
    `5" tall`, `abc"` and `"a" b` break it. So the byte before an opening quote, and after a
    closing one (a line end beyond the file's edges), must be a delimiter, a line end or the
    other quote of a pair.
    """
    last = len(buf) - 1
    opening, closing = quotes[first_closes::2], quotes[1 - first_closes :: 2]
    before = np.where(opening > 0, buf[np.maximum(opening - 1, 0)], _NEWLINE)
    after = np.where(closing < last, buf[np.minimum(closing + 1, last)], _NEWLINE)
    return not (np.isin(before, _BESIDE_QUOTES).all() and np.isin(after, _BESIDE_QUOTES).all())


def _has_bare_quote(buf: np.ndarray) -> bool:
    """Whether parity can't be trusted in `buf` (_bare_quotes_in), looked at a block at a time:
    for a piece or a header, which are not scanned whole (a scanned file's _Records say it)."""
    quotes_so_far = 0
    for at in range(0, len(buf), _SCAN_BLOCK):
        here = np.flatnonzero(buf[at : at + _SCAN_BLOCK] == _QUOTE) + at
        if _bare_quotes_in(buf, here, quotes_so_far % 2):
            return True
        quotes_so_far += len(here)
    return False


def _malformed(
    file: str, lines: list[int] | np.ndarray, ids: list[str], reasons: list[str]
) -> pd.DataFrame:
    """Records set aside for their shape, each with its reason."""
    return pd.DataFrame(
        {
            "file": file,
            "line": np.asarray(lines, dtype=np.int64),
            "record_id": ids,
            "column": "",
            "reason": reasons,
        },
        columns=REJECTED_COLUMNS,
    )


def _other_widths(widths: list[int], expected: int) -> list[str]:
    """The reason for each record of another width than the header's `expected`."""
    return [f"has {width} fields; the header has {expected}" for width in widths]


class _LineFeed:
    """A text's physical lines (as the csv module ends them: LF, CR LF or CR), fed to a
    csv.reader one at a time; `next` is the line it reads next, so a record's first line is
    known, and reading can start again at any line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.next = 0

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


def _runs_on(lines: list[str], first: int, end: int, fields: int, width: int) -> bool:
    """Whether the record of `fields` fields read from lines[first:end] (more than one line)
    is a quote left open that ran on over records of their own, rather than a field holding
    line breaks: it is not a record of the header's `width`, or its quoting is broken (a quote
    closes where no field ends, or never closes), and the lines it took in start a record of
    the header's width, quoted as a CSV writer quotes, once read on their own (a line that
    only continues a field, `Maria",Reyes,...`, reads with a quote where no field starts)."""
    widths = (width, width + 1)  # (a trailing delimiter: one empty field more)
    if fields in widths:
        try:
            for _ in csv.reader(lines[first:end], strict=True):
                pass
            return False  # quoted as a CSV writer quotes: a field with line breaks
        except csv.Error:
            pass
    feed = _LineFeed(lines)
    feed.next = first + 1
    reader = csv.reader(feed)
    while feed.next < end:
        start = feed.next
        record = next(reader, None)
        if record is None:
            return False
        text = "".join(lines[start : feed.next]).encode("utf-8")
        if len(record) in widths and not _has_bare_quote(np.frombuffer(text, dtype=np.uint8)):
            return True
    return False


def _read_csv_exactly(
    file: str, data: FileBytes, table: str, encoding: str, id_column: str | None
) -> RawTable:
    """Python's csv module, record by record: the slow path for files with stray quotes.

    Only files whose quoting the vectorised splitter can't trust come here; a quote inside an
    unquoted field is then an ordinary character, as in every spreadsheet. A quote opened and
    never closed where a field ends would take every line after it, up to the next quote or the
    file's end, into one record: that record's first line is set aside, saying so, and the
    lines after it are read again as records (_runs_on), so no record is lost with it.
    """
    feed = _LineFeed(io.StringIO(str(data, "utf-8"), newline="").readlines())
    reader = csv.reader(feed)
    records: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    ran_on: list[tuple[int, int, list[str]]] = []  # first line, last line, first line's fields
    with _any_field_size():
        while True:
            first = feed.next
            record = next(reader, None)
            if record is None:
                break
            spans_lines = feed.next - first > 1
            if (
                header
                and spans_lines
                and _runs_on(feed.lines, first, feed.next, len(record), len(header))
            ):
                ran_on.append((first + 1, feed.next, _fields(feed.lines[first])))
                feed.next = first + 1
                continue
            if not _is_blank_record(record):  # a blank line is [], `,,,` is ["", "", ""]
                records.append(record)
                lines.append(first + 1)
                if header is None and not (len(records) == 1 and _is_separator_line(record)):
                    header = record
    if records and _is_separator_line(records[0]):
        del records[0], lines[0]
    if not records:
        raise BundleError(f"{file} is empty: it has no header row and no records.")
    names = records[0]
    _check_header(file, names)
    # A trailing delimiter the header lacks: the empty field it ends the record with is no value.
    records = [r[:-1] if len(r) == len(names) + 1 and r[-1] == "" else r for r in records]
    keys = [normalise_column_name(n) for n in names]
    id_at = keys.index(id_column) if id_column in keys else 0
    bad = [i for i, r in enumerate(records) if len(r) != len(names)]
    malformed = _malformed(
        file,
        [lines[i] for i in bad] + [line for line, _, _ in ran_on],
        [_field_at(records[i], id_at) for i in bad]
        + [_field_at(fields, id_at) for _, _, fields in ran_on],
        _other_widths([len(records[i]) for i in bad], len(names))
        + [
            "opens a quote that does not close where a field ends, so its record would "
            f"take in {'the line' if last == line + 1 else f'the {last - line:,} lines'} "
            "after it: this line is set aside, and those are read again as records"
            for line, last, _ in ran_on
        ],
    )
    if ran_on:  # (in the file's order)
        malformed = malformed.sort_values("line", kind="stable", ignore_index=True)
    good = [i for i in range(1, len(records)) if len(records[i]) == len(names)]
    frame = pd.DataFrame([records[i] for i in good], columns=names, dtype="str")
    frame = frame.mask(frame == "")
    return RawTable(
        table,
        file,
        _excel_text_unwrapped(frame),
        pd.Series([lines[i] for i in good]),
        malformed,
        encoding,
    )


def available_memory() -> int | None:
    """Bytes of memory this machine can still give us (Linux MemAvailable), None if unknown.

    Module-level so tests can simulate a small machine without writing a huge file.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other Unixes: free pages only, an underestimate but still a ceiling
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    """A size a person reads: 950 bytes, 207.3 KB, 1.9 MB, 31.4 GB."""
    units = ("bytes", "KB", "MB", "GB", "TB")
    power = 0
    while n >= 1000 and power < len(units) - 1:
        n, power = n / 1000, power + 1
    return f"{n:.0f} bytes" if power == 0 else f"{n:.1f} {units[power]}"


def check_fits_in_memory(path: Path) -> None:
    """Refuse a CSV too big to load here, before reading it, rather than exhaust memory midway.

    A machine that swaps or kills the process takes the clinic laptop down with it; a clear
    message up front says what to do instead.
    """
    available = available_memory()
    size = path.stat().st_size
    needed = size * CSV_MEMORY_FACTOR
    if available is not None and needed > available:
        raise BundleError(
            f"{path.name} is {_size(size)}; loading it needs about {_size(needed)} of memory "
            f"(about {CSV_MEMORY_FACTOR} times its size) but only {_size(available)} is "
            "available. Split the export by date into smaller bundles and audit each, use a "
            "machine with more memory, or audit with --engine dask, which parses the CSVs of "
            "appointments, contacts, notes and calls in pieces on a cluster's workers."
        )


def _read_bytes(path: Path) -> FileBytes:
    """The file's bytes, mapped from it rather than copied into new memory: the pages the
    operating system has cached are used where they lie (a third of the time of a copy, which
    faults in fresh memory page by page). Unmapped once nothing refers to them."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return b""  # a file of no bytes can't be mapped
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as error:  # locked by another program, no permission, gone meanwhile
        raise unreadable(path.name, error) from None


def _changed(file: str) -> BundleError:
    """The paragraph for a file whose version changed while it was read: its lines, or its
    pieces' cuts, would be another file's."""
    return BundleError(
        f"{file} changed while it was being read: another program may still be writing it. "
        "Try again once the export is complete."
    )


def read_csv(
    path: Path,
    table: str,
    id_column: str | None = None,
    names: Collection[str] = (),
    only_named: bool = False,
) -> RawTable:
    """A CSV file as text columns, with rows of the wrong width set aside by line.

    With `names` (as normalise_column_name has them), an export's: its header is the first of
    its first records holding the most of them, as read_worksheet finds a sheet's, so a
    report's title and parameter lines above it are skipped (else the first record, as
    always). With `only_named`, only those columns are parsed and held (see _read_csv_bytes'
    `keep`).
    """
    scanned = file_version(path)  # first: a missing or unreadable file stops here, in words
    check_fits_in_memory(path)
    on_disk = (path, scanned)
    keep = names if only_named else None
    # The file's bytes are not held here: _read_csv_bytes lets them go as it parses (held
    # through it, a mapped file's pages were the load's peak: 50 to 90 MB more on issue 7's).
    header_at = _titled_header(path.name, _read_bytes(path), names) if names else None
    if header_at is None:
        return _read_csv_bytes(path.name, _read_bytes(path), table, id_column, on_disk, keep=keep)
    text, encoding, start, lines_above = header_at
    below = _read_csv_bytes(path.name, text[start:], table, id_column, None, keep=keep)
    if file_version(path) != scanned:  # (read from the bytes in hand, as a piece is)
        raise _changed(path.name)
    below.lines += lines_above
    below.malformed["line"] += lines_above
    return replace(below, encoding=encoding, header_line=lines_above + 1)


def _titled_header(
    file: str, raw: FileBytes, names: Collection[str]
) -> tuple[FileBytes, str, int, int] | None:
    """Where an export's header is when title lines come before it: the file's text (UTF-8),
    its encoding, the header's first byte and the lines above it; None when the header is the
    first record (or none of the first records holds one of `names`).

    The header is the first record holding the most of `names`: a report's parameter lines
    above it ('Status,All') hold one, and taken for the header they hid the real one."""
    _check_is_csv(file, raw)
    try:
        text, encoding = decode(raw)
    except UnicodeDecodeError:
        return None  # (read_csv says why)
    buf = np.frombuffer(text, dtype=np.uint8)
    records = _scan(buf[:_SCAN_BLOCK], count_fields=False)
    first = np.flatnonzero(~records.blank)[:HEADER_SEARCH_ROWS]
    held = [  # (a handful of records: the file's first)
        len({normalise_column_name(f) for f in _fields(record.rstrip("\r"))} & set(names))
        for record in (
            bytes(buf[records.starts[at] : records.ends[at]]).decode(errors="replace")
            for at in first
        )
    ]
    best = int(np.argmax(held)) if held else 0
    if best == 0 or held[best] == 0:
        return None
    start = int(records.starts[first[best]])
    return text, encoding, start, _physical_lines(buf[:start])


def _read_csv_bytes(
    file: str,
    raw: FileBytes,
    table: str,
    id_column: str | None,
    on_disk: tuple[Path, tuple[int, int, int]] | None,
    windows_1252: bool = False,
    keep: Collection[str] | None = None,
) -> RawTable:
    """read_csv of bytes in hand: a file's (`on_disk`: its path and version, parsed from the
    disk again and checked unchanged) or a piece's (csv_piece), parsed where they are.
    `windows_1252`: a piece of a file that is not UTF-8 (see decode).

    `keep` (normalised names): only the columns named so are parsed and held, the rest never
    turned into values (an export's columns an import doesn't read: a wide report's were most
    of its memory). A row whose kept fields are all blank may hold a value in another column
    (a totals row): its record is looked at (_blank_lines), and where that can't tell, the file
    is read again with every column, which say whether it is a blank row to drop or a row."""
    _check_is_csv(file, raw)
    try:
        data, encoding = decode(raw, windows_1252)
    except UnicodeDecodeError:
        utf16 = bytes(raw[:2]) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        kind = "UTF-16" if utf16 else "UTF-8"
        raise BundleError(
            f"{file} starts with a {kind} byte-order mark but is not valid {kind}, so its "
            "text cannot be trusted. Export it again as UTF-8."
        ) from None
    del raw  # the decoded copy, when there is one, is all we need
    held = None if on_disk else data  # a piece's bytes, kept for the slow path below

    def decoded_again() -> FileBytes:
        """The text again: a piece's, held; a file's, read from the disk and decoded."""
        if held is not None:
            return held
        assert on_disk is not None  # (a file's bytes are not held)
        return decode(_read_bytes(on_disk[0]))[0]

    def every_column() -> RawTable:  # (see `keep`)
        if on_disk:
            return _read_csv_bytes(file, _read_bytes(on_disk[0]), table, id_column, on_disk)
        return _read_csv_bytes(file, decoded_again(), table, id_column, None)  # (decoded)

    def finished(
        parsed: pa.Table, kept: np.ndarray, lines: np.ndarray, malformed: pd.DataFrame
    ) -> RawTable | None:
        """The table of the rows parsed and `kept` (not blank), or None where a row blank in
        the kept columns may hold a value in another: every column must be read (see `keep`)."""
        if (
            include is not None
            and len(kept) < len(lines) - 1
            and not _blank_lines(decoded_again(), np.setdiff1d(lines[1:], kept))
        ):
            return None
        frame = _excel_text_unwrapped(parsed.to_pandas())
        header = () if include is None else tuple(names)
        return RawTable(table, file, frame, pd.Series(kept), malformed, encoding, header=header)

    buf = np.frombuffer(data, dtype=np.uint8)
    optimistic = encoding == "utf-8"
    unquoted = optimistic and not _holds(buf, _QUOTE)
    records = _scan(buf[:_SCAN_BLOCK] if unquoted else buf, count_fields=not optimistic)
    header_in_block = bool(np.any(~records.blank & (records.ends < _SCAN_BLOCK)))
    if unquoted and len(buf) > _SCAN_BLOCK and not header_in_block:
        records = _scan(buf, count_fields=False)  # a header, or blank lines, of 4 MB or more
    if np.all(records.blank):
        raise BundleError(f"{file} is empty: it has no header row and no records.")
    if records.bare_quote or records.open_at_end:  # (a quote never closed: Arrow takes it)
        return _read_csv_exactly(file, data, table, encoding, id_column)
    names = _header_names(file, buf, records)
    # Lines that look blank before the header are cut from what Arrow parses (the slow path):
    # Arrow would take the first of them for the header.
    optimistic = optimistic and not records.blank[0]
    present = records.without_blank()
    _check_header(file, names)
    include = _included(names, keep)
    if optimistic:
        # Arrow parses rows that look blank but have the header's width (",,,,,"), one per
        # line here, and _without_blank_rows drops them with their lines; any other blank
        # looking line (spaces) is of another width, so Arrow refuses the file and the slow
        # path below cuts them out.
        lines = np.arange(1, _physical_lines(buf) + 1) if unquoted else records.lines
        spare = _first_record_has_spare_field(buf, present, len(names))
        del records, present, buf, data
        try:
            source = on_disk[0] if on_disk else pa.BufferReader(pa.py_buffer(held))
            parsed = _arrow_csv(source, names, file, spare, include)
        except pa.ArrowInvalid:  # a record of another width, say: counted and set aside below
            parsed = None
        if on_disk and file_version(on_disk[0]) != on_disk[1]:  # lines of another file's
            raise _changed(file)
        if parsed is not None and parsed.num_rows == len(lines) - 1:
            parsed, kept = _without_blank_rows(parsed, lines[1:])
            done = finished(parsed, kept, lines, _malformed(file, [], [], []))
            del parsed
            return done if done is not None else every_column()
        del parsed
        data = decoded_again()
        buf = np.frombuffer(data, dtype=np.uint8)
        records = _scan(buf)
    elif records.fields is None:  # scanned for the fast path, which a blank-looking line bars
        records = _scan(buf)
    _header_names(file, buf, records)  # quoted empties before the header: blank again
    # Records that look blank are cut from the bytes Arrow parses, as malformed records are.
    blank_starts, blank_ends = records.starts[records.blank], records.ends[records.blank]
    records = records.without_blank()
    starts, ends, lines, counts = records.starts, records.ends, records.lines, records.fields
    assert counts is not None  # (counted by the scan just made)
    # Records of one field more than the header, that one empty (a trailing delimiter the
    # header lacks), are read without it: when every record has one, Arrow parses a spare last
    # column and drops it; when only some do, theirs are cut from the bytes Arrow parses (a
    # pass over every byte, a second or so for 70 MB, which a whole file need not pay).
    longer = np.flatnonzero(counts == counts[0] + 1)
    delimiters, field_ends = _trailing_delimiters(
        buf, starts[longer], ends[longer], records.open_at_end
    )
    trailing = delimiters >= 0
    every = 0 < np.count_nonzero(trailing) == len(counts) - 1
    del records
    wrong = counts != counts[0]
    wrong[longer[trailing]] = False
    bad = np.flatnonzero(wrong)
    if _any_spans_lines(buf, starts[bad], ends[bad]):
        return _read_csv_exactly(file, data, table, encoding, id_column)  # a quote left open?
    keys = [normalise_column_name(n) for n in names]
    id_at = keys.index(id_column) if id_column in keys else 0
    # Records of another width are split one by one (only they): one whose fields are all
    # empty once unquoted (`""`, `" ",`) is cut as a blank-looking line is, not set aside.
    split = [_fields(bytes(buf[starts[i] : ends[i]]).decode()) for i in bad]
    empty = np.array([_is_blank_record(fields) for fields in split], dtype=bool)
    shown = np.flatnonzero(~empty)
    malformed = _malformed(
        file,
        lines[bad[shown]],
        [_field_at(split[i], id_at) for i in shown],
        _other_widths(counts[bad[shown]].tolist(), int(counts[0])),
    )
    # The file without its malformed records and trailing delimiters, from the bytes in hand.
    cut = trailing & (not every)
    cut_from = np.concatenate((starts[bad], delimiters[cut], blank_starts))
    cut_to = np.concatenate((ends[bad], field_ends[cut], blank_ends))
    source = pa.BufferReader(_drop_spans(buf, cut_from, cut_to) if len(cut_from) else data)
    try:
        parsed = _arrow_csv(source, names, file, every, include)
    except pa.ArrowInvalid:  # e.g. a header with no line end, or quoting Arrow reads otherwise
        return _read_csv_exactly(file, data, table, encoding, id_column)
    lines = np.delete(lines, bad)
    if parsed.num_rows != len(lines) - 1:  # quoting the splitter misread: take the exact path
        return _read_csv_exactly(file, data, table, encoding, id_column)
    del source, buf, data  # the file's bytes: Arrow holds the values, and we the lines
    parsed, kept = _without_blank_rows(parsed, lines[1:])  # e.g. `" ",""`, quoted
    done = finished(parsed, kept, lines, malformed)
    del parsed
    return done if done is not None else every_column()


def _any_spans_lines(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether any of these records (a few: those of another width) holds a line break, short
    of its own line end (a record ending in CR LF ends at the LF: its CR is the line end's)."""
    for start, end in zip(starts, ends, strict=True):
        body = buf[start:end]
        if len(body) and body[-1] == _CR:
            body = body[:-1]
        if np.isin(body, (_NEWLINE, _CR)).any():
            return True
    return False


def _blank_lines(data: FileBytes, numbers: np.ndarray) -> bool:
    """Whether each line of `numbers` starts a record that holds only delimiters, spaces and
    tabs (_scan's blank records: Excel's trailing `,,,,` of emptied rows), so that a row blank
    in an import's kept columns is blank in every column, without reading them (see
    _read_csv_bytes' `keep`). A quoted blank (`"",""`) is not told so: its file is read again."""
    records = _scan(np.frombuffer(data, dtype=np.uint8), count_fields=False)
    return bool(np.isin(numbers, records.lines[records.blank]).all())


def _included(names: list[str], keep: Collection[str] | None) -> list[str] | None:
    """The header's columns to parse when only those named in `keep` are kept (None: all).
    All, too, where a name is in the header twice or blank: Arrow picks columns by name."""
    if keep is None or len(set(names)) < len(names) or "" in names:
        return None
    included = [name for name in names if normalise_column_name(name) in keep]
    return included if len(included) < len(names) else None


# Excel's text formula: `="00123"`, quotes inside doubled.
_EXCEL_TEXT = r'^="((?:[^"]|"")*)"$'


def _excel_text_unwrapped(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells of Excel's text formula `="00123"` as the text it shows (00123): exports meant
    for Excel write ids, phone numbers and dates so, to keep a leading zero or a date as
    written, and read as they are no id would match another table's. Arrow finds the columns
    holding any (a pass over each, no copy); only their cells are rewritten."""
    for k in range(frame.shape[1]):  # by position: a name may be there twice (refused later)
        cells = frame.iloc[:, k]
        if not pc.any(pc.starts_with(arrow_strings(cells), '="')).as_py():
            continue
        inner = cells.str.extract(_EXCEL_TEXT, expand=False)
        frame.isetitem(k, cells.mask(inner.notna(), inner.str.replace('""', '"', regex=False)))
    return frame


def _without_blank_rows(parsed: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The rows, and their lines, less those whose every field is empty or only spaces and
    tabs: an emptied spreadsheet row is no record, as a blank line is none.

    Column by column, each only for the rows still blank so far: an export's first column
    (its ids) is never blank, so nearly always one column is looked at, and then no more.
    """
    if parsed.num_columns == 0 or parsed.num_rows == 0:
        return parsed, lines
    if not all(pa.types.is_large_string(c.type) for c in parsed.columns):
        return parsed, lines  # (never: every column is read as text)
    rows = _maybe_blank(parsed.column(0))  # only these can be blank in the first column
    for column in parsed.columns:
        if len(rows) == 0:
            return parsed, lines
        values = column.take(pa.array(rows))
        blank = pc.fill_null(pc.match_substring_regex(values, r"^[ \t]*$"), True)
        rows = rows[blank.to_numpy(zero_copy_only=False)]
    if len(rows) == 0:
        return parsed, lines
    keep = np.ones(parsed.num_rows, dtype=bool)
    keep[rows] = False
    return parsed.filter(pa.array(keep)), lines[keep]


def _maybe_blank(column: pa.ChunkedArray) -> np.ndarray:
    """The rows whose value in a text column is missing, empty or begins with a space or tab:
    found from Arrow's offsets and bytes where they lie, a thirtieth of the time of a regular
    expression over a million ids."""
    found, before = [], 0
    for chunk in column.chunks:
        n = len(chunk)
        offsets, text = utf8_buffers(chunk)
        if len(text) == 0:
            text = np.zeros(1, np.uint8)
        first = text[np.minimum(offsets[:-1], len(text) - 1)]
        maybe = (offsets[1:] == offsets[:-1]) | (first == 32) | (first == 9)
        if chunk.null_count:
            maybe |= chunk.is_null().to_numpy(zero_copy_only=False)
        found.append(np.flatnonzero(maybe) + before)
        before += n
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _header_names(file: str, buf: np.ndarray, records: _Records) -> list[str]:
    """The header's column names: the first record with a name in it. Records of quoted
    empties before it ('"",""'), which only look blank once unquoted, are marked blank in
    `records` as a line of commas is (a handful at most: a file's first records), and so is
    a spreadsheet's separator line before it (_is_separator_line)."""
    for k, first in enumerate(np.flatnonzero(~records.blank)):
        # (csv_cuts looks at bytes not yet decoded: only whether they are blank matters there)
        record = bytes(buf[records.starts[first] : records.ends[first]])
        names = _fields(record.decode(errors="replace").rstrip("\r"))
        if not _is_blank_record(names) and not (k == 0 and _is_separator_line(names)):
            return names
        records.blank[first] = True
    raise BundleError(f"{file} is empty: it has no header row and no records.")


# What a file under a .csv name may really be, by its first bytes, and what to do with it.
_HEAD_BYTES = 64
_OTHER_FORMATS = {
    b"PK\x03\x04": (
        "an Excel workbook (.xlsx) or another zip archive",
        "save the table as CSV (comma delimited), or give a workbook the suffix .xlsx",
    ),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": (
        "an Excel 97-2003 workbook (.xls) or another Office file",
        "open it in Excel and save it as CSV (comma delimited) or as an Excel Workbook (.xlsx)",
    ),
    b"PAR1": ("a Parquet file", "give it the suffix .parquet"),
    b"%PDF": ("a PDF document", "export the table again as CSV (comma delimited)"),
}

# A web page's start, after any byte-order mark and blank space: <!DOCTYPE html>, <html>, ...
_WEB_PAGE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|head|body)[\s>]", re.I)


def _check_is_csv(file: str, data: FileBytes) -> None:
    """Refuse, in so many words, another kind of file under a .csv name (a workbook saved by
    the wrong name, say): read as CSV, its header is binary nonsense, and "no 'contact_id'
    column" would list it as the columns found (a web page's, '<html><body>login...')."""
    head = bytes(data[:_HEAD_BYTES])
    for signature, (kind, remedy) in _OTHER_FORMATS.items():
        if head.startswith(signature):
            raise BundleError(f"{file} is not a CSV file: it is {kind}. To audit it, {remedy}.")
    if _WEB_PAGE.match(head):
        raise BundleError(
            f"{file} is not a CSV file: it is a web page (HTML), not a CSV export (a portal's "
            "sign-in or error page saved under the export's name, say). To audit it, sign in "
            "and export the table again as CSV (comma delimited)."
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return  # (decode reads it)
    # UTF-16 text of ASCII: a zero byte after (LE) or before (BE) every character.
    pairs = np.frombuffer(head[: len(head) // 2 * 2], dtype=np.uint8).reshape(-1, 2)
    zeros = pairs == 0
    if len(pairs) >= 4 and any(zeros[:, k].all() and not zeros[:, 1 - k].any() for k in (0, 1)):
        raise BundleError(
            f"{file} looks like UTF-16 text without a byte-order mark (a zero byte beside every "
            "character), which cannot be read safely. Export it again as UTF-8 CSV (in Excel: "
            "CSV UTF-8 (comma delimited))."
        )


# Characters no CSV header holds (a tab is a separator's: see _check_separator).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_header(file: str, names: list[str]) -> None:
    """Refuse a header that is not a row of column names: control characters (a binary file
    _check_is_csv does not know) or another separator than the comma."""
    if any(_CONTROL.search(name) for name in names):
        raise BundleError(
            f"{file} does not start with a row of column names: its first line holds control "
            "characters no CSV header has. It may be another kind of file named .csv, or "
            "damaged: export the table again as CSV (comma delimited)."
        )
    _check_separator(file, names)


def _check_separator(file: str, names: list[str]) -> None:
    """Refuse a file separated by semicolons or tabs (what Excel writes as "CSV" where the
    comma is the decimal mark, or as tab-delimited text) in so many words: read with commas,
    its whole header is one column, and "no 'contact_id' column" would contradict the names
    the message then lists. Where the comma is the decimal mark, Excel's CSV writes semicolons
    however it is saved: a workbook is the way out there."""
    if len(names) != 1:
        return
    found = {word: names[0].count(char) for char, word in ((";", "semicolons"), ("\t", "tabs"))}
    word = max(found, key=lambda w: found[w])
    workbook = (
        ", or, where the comma is the decimal mark (Excel's CSV then writes semicolons again), "
        "save it as an Excel Workbook (.xlsx), which auditkit reads as well"
    )
    if found[word]:
        raise BundleError(
            f"{file} is separated by {word}, not commas: save it as CSV (comma delimited) and "
            f"run again{workbook if word == 'semicolons' else ''}."
        )


def _arrow_csv(
    source: Path | pa.BufferReader,
    names: list[str],
    file: str,
    spare: bool = False,
    include: list[str] | None = None,
) -> pa.Table:
    """Arrow's parse of a CSV (`file` names it in an error), every column as text (blank:
    missing). Its cells are not checked for UTF-8 again: decode() has checked the whole file
    (a file changed since is refused), and a tenth of a second of a million appointments'
    parse went to checking each cell.

    `spare`: every record is taken to end with a delimiter the header lacks, so has one field
    more than `names`; parsed with one more column, which is dropped. A value in it raises
    ArrowInvalid, as a record of another width does: the caller counts the fields instead.
    `include`: the columns parsed (of `names`, in their order); None, all.

    A file on disk is parsed where the operating system has it cached, mapped: read into
    Arrow's buffers first, its bytes were copied into fresh memory, which on the development
    machine cost a third of the parse's time in the kernel (0.9 -> 0.6 s for the 1M bundle's
    tables) and raised the peak.
    """
    columns = [*names, ""] if spare else names
    given = {"column_names": columns, "skip_rows": 1} if spare else {}  # not the header's
    parsed = None if include is None else [*include, ""] if spare else include
    try:
        table = pacsv.read_csv(
            pa.memory_map(str(source)) if isinstance(source, Path) else source,
            read_options=pacsv.ReadOptions(block_size=1 << 24, **given),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in columns},
                strings_can_be_null=True,
                null_values=[""],
                check_utf8=False,
                **({} if parsed is None else {"include_columns": parsed}),
            ),
        )
    except OSError as error:  # gone or locked since it was scanned
        raise unreadable(file, error) from None
    if not spare:
        return table
    last = table.num_columns - 1  # the spare column
    if table.column(last).null_count != table.num_rows:
        raise pa.ArrowInvalid(f"{file} has a record with a value past the header's columns")
    return table.remove_column(last)


def _cell_text(value: object) -> object:
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", errors="auditkit-latin1")


def _as_text(values: pd.Series) -> pd.Series:
    """A typed column as text; bytes that are not UTF-8 are read as Windows-1252, as in a CSV."""
    try:
        return values.astype("str")
    except UnicodeDecodeError:  # a binary Parquet column: decode cell by cell (rare)
        return values.map(_cell_text).astype("str")


def _keeps_type(values: pd.Series, kind: str | None) -> bool:
    """Whether validation takes a column as typed: timestamps, bool flags, signed-integer counts.

    Reading a converted bundle's typed columns as text only to parse them back would double
    the cost of loading it.
    """
    return (
        pd.api.types.is_datetime64_any_dtype(values.dtype)
        or (kind == "flag" and pd.api.types.is_bool_dtype(values.dtype))
        or (kind == "count" and pd.api.types.is_signed_integer_dtype(values.dtype))
    )


def _read_frame_file(path: Path, spec: TableSpec) -> RawTable:
    """An .xlsx or .parquet table; 'line' is the spreadsheet row.

    Other columns are read as text, as from a CSV: an id stored as a number is the text '17'.
    """
    if path.suffix.lower() == ".xlsx":
        raw = read_worksheet(path, spec.name, spec.id_column, names={c.name for c in spec.columns})
        raw.frame = raw.frame.apply(cells_as_text)
        return raw
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # any failure to open means the file is unusable as a whole
        raise BundleError(f"{path.name} cannot be read as a Parquet file: {exc}") from None
    return _parquet_rows(frame, path.name, spec)


def _parquet_rows(frame: pd.DataFrame, file: str, spec: TableSpec, first: int = 0) -> RawTable:
    """A Parquet table's rows as read (`first`: the table's row the frame starts at): columns
    the model types and the file types alike kept, the rest as text, blank rows left out."""
    lines = pd.Series(np.arange(len(frame)) + 2 + first)
    kinds = {c.name: c.kind for c in spec.columns}
    for column in frame.columns:
        if not _keeps_type(frame[column], kinds.get(normalise_column_name(column))):
            frame[column] = _as_text(frame[column])
    # Missing cells stay missing through astype("str"); the text "None" or "nan" is text.
    frame = frame.replace({"": pd.NA})
    blank = blank_frame_rows(frame, spaces=False)
    frame, lines = frame[~blank].reset_index(drop=True), lines[~blank].reset_index(drop=True)
    return RawTable(
        spec.name, file, frame, lines, pd.DataFrame(columns=REJECTED_COLUMNS), "parquet"
    )


def read_table(bundle: Path, spec: TableSpec, path: Path | None = None) -> RawTable | None:
    """Read one table's file and name its columns; None when an optional table is absent.

    `path` names the file outright (a reviews file given on the command line) instead of
    looking the table up in `bundle`.
    """
    if path is not None:
        return read_table_file(path, spec)
    found = find_table_file(bundle, spec.name)
    if found is None:
        if spec.optional_table:
            return None
        raise BundleError(
            f"The bundle {bundle} has no '{spec.name}' table: expected {spec.name}.csv, "
            f"{spec.name}.xlsx or {spec.name}.parquet. It is required."
        )
    return read_table_file(found, spec)


def read_table_file(path: Path, spec: TableSpec) -> RawTable:
    """Read a table from the file `path`, of any name, and name its columns."""
    if path.suffix.lower() not in SUFFIXES:
        raise BundleError(
            f"{path.name} is not a .csv, .xlsx or .parquet file, so auditkit cannot tell how to "
            f"read it. Give it the suffix of its format (a CSV export: {path.stem}.csv)."
        )
    raw = (
        read_csv(path, spec.name, spec.id_column)
        if path.suffix.lower() == ".csv"
        else _read_frame_file(path, spec)
    )
    return _named_table(raw, spec)


def _named_table(raw: RawTable, spec: TableSpec) -> RawTable:
    """`raw` with its columns named as the model names them, and the columns it must have."""
    names = [normalise_column_name(c) for c in raw.frame.columns]
    # Counted once, not names.count per name: a garbled header can have 100,000 "columns".
    duplicated = sorted(n for n, k in Counter(names).items() if k > 1)
    if duplicated:
        raise BundleError(
            f"{raw.file} has more than one column named '{printable_names(duplicated[:1])}' "
            "(names are matched ignoring case, spaces and hyphens). Remove or rename the extra "
            "column."
        )
    if SOURCE_LINE in names:
        raise BundleError(
            f"{raw.file} has a column named '{SOURCE_LINE}', the name auditkit gives the line "
            "each record came from. Rename or remove that column."
        )
    raw.frame.columns = names
    # Text kept as read (ids, messages, an export's extra columns) in one chunk each, its
    # blocks freed as it is joined; times, vocabularies and numbers are parsed into new arrays.
    parsed = {c.name for c in spec.columns if c.kind != "text"}
    for name in names:
        if name not in parsed:
            raw.frame[name] = one_chunk(raw.frame[name])
    missing = [c for c in spec.required_columns if c not in names]
    if missing:
        raise BundleError(
            f"{raw.file} has no '{missing[0]}' column, which the {spec.name} table requires. "
            f"Required columns: {', '.join(spec.required_columns)}. Columns found: "
            f"{printable_names(names) or 'none'}."
        )
    if raw.rows_read == 0 and spec.name in ("staff", "clients"):
        raise BundleError(
            f"{raw.file} has a header but no records; every other table refers to the "
            f"{spec.name} table, so it cannot be empty."
        )
    return raw
