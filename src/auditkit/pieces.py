"""Pieces of one bundle table for the Dask engine's workers: a CSV cut at record ends
(csv_cuts, CsvCuts, CsvPiece) or a Parquet table's rows in batches (parquet_pieces,
ParquetPiece), each read by read_piece as read_table reads the whole file, its records' lines
the file's.

Separate from auditkit.loading, whose CSV scanner and table naming it reuses: only the Dask
engine (auditkit.distributed) cuts a file, and a reader of loading's one-machine path need not
read how.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from auditkit.errors import BundleError
from auditkit.loading import (
    _NEWLINE,
    _QUOTE,
    _SCAN_BLOCK,
    _changed,
    _check_utf8,
    _has_bare_quote,
    _header_names,
    _named_table,
    _parquet_rows,
    _physical_lines,
    _read_bytes,
    _read_csv_bytes,
    _scan,
)
from auditkit.schemas import TableSpec
from auditkit.tables import RawTable, file_version


@dataclass(frozen=True)
class CsvPiece:
    """Whole records of a CSV, after the file's header, read as a file of its own (read_piece):
    how a bundle too big for one machine is parsed on many (auditkit.distributed)."""

    file: str
    data: bytes  # the file's bytes up to the end of its header, then the piece's records
    header_lines: int  # physical lines of `data` up to the header's end
    first_line: int  # the file's line on which the piece's first record starts
    windows_1252: bool = False  # the file is not UTF-8, though this piece may be


@dataclass(frozen=True)
class CsvCuts:
    """Where a CSV is cut into pieces of whole records (see csv_cuts)."""

    path: Path
    version: tuple[int, int, int]
    header_end: int
    header_lines: int
    spans: list[tuple[int, int, int]]  # each piece's first byte, end, and first line
    windows_1252: bool = False  # the file is not UTF-8: each piece is read as Windows-1252

    def piece(self, number: int) -> CsvPiece:
        """The piece's bytes, copied from the file; a file changed since the cut stops."""
        start, end, line = self.spans[number]
        if file_version(self.path) != self.version:
            raise _changed(self.path.name)
        with self.path.open("rb") as handle:
            header = handle.read(self.header_end)
            handle.seek(start)
            body = handle.read(end - start)
        return CsvPiece(self.path.name, header + body, self.header_lines, line, self.windows_1252)


def csv_cuts(path: Path, size: int) -> CsvCuts | None:
    """Cut points for pieces of about `size` bytes, each ending a record (one piece for a
    smaller file); None when the file must be read whole: UTF-16 (cut bytes would not be
    characters), no header ended by a line feed in its first 4 MB, a quote parity cannot
    trust (`_has_bare_quote`), or a UTF-8 BOM on bytes that are not UTF-8 (refused whole).
    A file that is not UTF-8 is cut too, its pieces read as Windows-1252 (see below).

    A record ends at a line feed after an even number of quotes, as `_scan` reads it, so a
    quoted field with line breaks is never cut; each piece is checked for stray quotes as the
    whole file would be. A pass over the file's bytes, a block at a time, nothing kept but the
    cuts.
    """
    version = file_version(path)
    buf = np.frombuffer(_read_bytes(path), dtype=np.uint8)
    if bytes(buf[:2]) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return None
    # The header is found as read_csv finds it: in the text after a UTF-8 BOM (decode drops
    # it, so a blank line or `"",""` after it is no header), the first record that is not
    # blank once unquoted.
    bom = len(codecs.BOM_UTF8) if bytes(buf[:3]) == codecs.BOM_UTF8 else 0
    text = buf[bom:]
    records = _scan(text[:_SCAN_BLOCK], count_fields=False)
    try:
        _header_names(path.name, text, records)  # marks quoted empties before it blank
    except BundleError:  # nothing but blank records: read whole, which says so
        return None
    header = np.flatnonzero(~records.blank)
    if records.ends[header[0]] >= min(len(text), _SCAN_BLOCK):
        return None
    if _has_bare_quote(text[: records.ends[header[0]] + 1]):
        return None
    header_end = bom + int(records.ends[header[0]]) + 1
    if buf[header_end - 1] != _NEWLINE:
        return None
    header_lines = _physical_lines(buf[:header_end])
    spans, start, line = [], header_end, header_lines + 1
    while start < len(buf):
        end = _record_end_after(buf, start, start + size)
        body = buf[start:end]
        if _has_bare_quote(body):
            return None
        spans.append((start, end, line))
        start, line = end, line + _physical_lines(body)
    spans = spans or [(header_end, header_end, line)]  # a header alone: a piece of no records
    # The file's encoding is the whole file's: one byte that is not UTF-8 anywhere makes every
    # byte Windows-1252 (an "é" written as UTF-8 reads "Ã©"), so a piece that is UTF-8 on its
    # own is read as Windows-1252 too. One pass of Arrow's check over the mapped bytes.
    try:
        _check_utf8(text.data)  # (the array's bytes, where they lie)
        windows_1252 = False
    except UnicodeDecodeError:
        if bom:  # refused as a whole (not valid UTF-8 after a UTF-8 BOM): read_table says so
            return None
        windows_1252 = True
    return CsvCuts(path, version, header_end, header_lines, spans, windows_1252)


# Bytes looked at first for a piece's end: a record ends within a line or two of where the cut
# falls, and a running count over a whole 4 MB block made 32 MB of counts for each cut.
_FIRST_LOOK = 1 << 16


def _record_end_after(buf: np.ndarray, start: int, at: int) -> int:
    """One past the first line feed from `at` on that ends a record (an even number of quotes
    since `start`, where a record starts), or the file's end; a block at a time, as a quoted
    field may run on, each block twice the last (up to _SCAN_BLOCK)."""
    if at >= len(buf):
        return len(buf)
    quotes_before = sum(  # counted a block at a time: no 64 MB mask of the piece
        int(np.count_nonzero(buf[b : min(b + _SCAN_BLOCK, at)] == _QUOTE))
        for b in range(start, at, _SCAN_BLOCK)
    )
    parity, block_at, size = quotes_before % 2, at, _FIRST_LOOK
    while block_at < len(buf):
        block = buf[block_at : block_at + size]
        quotes = np.cumsum(block == _QUOTE, dtype=np.int64) + parity
        ends = np.flatnonzero((block == _NEWLINE) & (quotes % 2 == 0))
        if len(ends):
            return block_at + int(ends[0]) + 1
        parity = int(quotes[-1]) % 2
        block_at, size = block_at + size, min(2 * size, _SCAN_BLOCK)
    return len(buf)


@dataclass(frozen=True)
class ParquetPiece:
    """Rows of a Parquet table as a Parquet file of their own (parquet_pieces)."""

    file: str
    data: bytes
    first: int  # the table's row (from 0) the piece starts at


def parquet_pieces(path: Path, size: int) -> Iterator[ParquetPiece] | None:
    """A Parquet table's rows in pieces of about `size` bytes of the file, one at a time; None
    when it has no rows or cannot be opened (read whole, which says why).

    Each piece is written as a Parquet file with the table's schema, its pandas metadata
    included, so read_piece reads it with pandas' own reader, exactly as the whole file is read.
    """
    import pyarrow.parquet as pq  # (only here: an audit of CSVs needs no Parquet)

    try:
        table = pq.ParquetFile(path)
        rows = table.metadata.num_rows
    except Exception:  # any failure to open: read_table says what is wrong
        return None
    if rows == 0:
        return None
    per_piece = max(1, size * rows // max(path.stat().st_size, 1))

    def pieces() -> Iterator[ParquetPiece]:
        first = 0
        for batch in table.iter_batches(batch_size=per_piece, use_pandas_metadata=True):
            written = io.BytesIO()
            pq.write_table(pa.Table.from_batches([batch], schema=table.schema_arrow), written)
            yield ParquetPiece(path.name, written.getvalue(), first)
            first += batch.num_rows

    return pieces()


def read_piece(piece: CsvPiece | ParquetPiece, spec: TableSpec) -> RawTable:
    """A piece of a CSV (CsvCuts.piece) or of a Parquet table (parquet_pieces) read as
    read_table reads the file, with its records' lines the file's."""
    if isinstance(piece, ParquetPiece):
        frame = pd.read_parquet(io.BytesIO(piece.data))
        return _named_table(_parquet_rows(frame, piece.file, spec, piece.first), spec)
    raw = _read_csv_bytes(
        piece.file, piece.data, spec.name, spec.id_column, None, piece.windows_1252
    )
    shift = piece.first_line - piece.header_lines - 1
    raw.lines += shift
    raw.malformed["line"] += shift
    return _named_table(raw, spec)
