"""Work over whole columns of Arrow-backed pandas Series: done once per distinct value, and
membership hashed in Arrow. Pure pandas and pyarrow, so loading, rules and reports can share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow_strings(text: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text column, for pyarrow.compute.

    No copy when the column is Arrow-backed already, as every column read from a file is.
    """
    if not (isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow"):
        text = text.astype("str")
    strings = pa.array(text.array)
    if isinstance(strings, pa.Array):
        strings = pa.chunked_array([strings])
    return strings.cast(pa.large_string())


def take_text(values: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """`values` at positions `codes` (NA where a code is -1), as a text column on `index`:
    pyarrow's take, no row loop."""
    taken = pa.array(values.array, type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(taken, index=index, dtype="str")


def join_text(parts: Sequence[pd.Series | pa.Array | str], index: pd.Index) -> pd.Series:
    """Columns of text (Series or Arrow arrays) and constants joined row by row in one pass; a
    missing value joins as ''.

    A chain of `+` copies each row's growing text once per part, and a row of the findings
    table or its sheet has some thirty parts. Every column must be in `index`'s order.
    """
    large = pa.large_string()
    arrays = [
        pa.array(part, type=large)
        if isinstance(part, pd.Series)
        else part.cast(large)
        if isinstance(part, pa.Array)
        else pa.scalar(part, large)
        for part in parts
    ]
    joined = pc.binary_join_element_wise(
        *arrays, pa.scalar("", large), null_handling="replace", null_replacement=""
    )
    if isinstance(joined, pa.Scalar):  # constants only
        joined = pa.repeat(joined, len(index))
    return pd.Series(joined, index=index, dtype="str")


def per_distinct(function: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series:
    """`function` (values in, text out, row for row) run once per distinct value and spread
    back to every row (NA where a value is missing): exports repeat the same wording ("Pt FTA.
    LVM."), rules the same summary and appointments the same slots thousands of times, and
    hashing a value is far cheaper than matching or formatting it."""
    codes, distinct = pd.factorize(values)
    if len(distinct) == 0:
        return pd.Series(np.nan, index=values.index, dtype="str")
    return take_text(function(pd.Series(distinct)), codes, values.index)


def is_in(values: pd.Series, among: pd.Series) -> pd.Series:
    """`values.isin(among)` for id columns (NA is never in): hashed in Arrow, where pandas'
    isin on Arrow strings turns every id it looks among into a Python object first."""
    column = pa.array(values.array) if len(values) else pa.array([], pa.large_string())
    lookup = pa.array(among.dropna().array) if among.notna().any() else column.slice(0, 0)
    found = pc.is_in(column, value_set=lookup.cast(column.type), skip_nulls=True)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index)


def positions_in(values: pd.Series, among: pd.Series) -> np.ndarray:
    """Where each of `values` first is in `among`, by position (-1: not there, or missing):
    hashed in Arrow, where a pandas label lookup on a million ids builds a Python dict."""
    column = pa.array(values.array) if len(values) else pa.array([], pa.large_string())
    targets = pa.array(among.array) if len(among) else column.slice(0, 0)
    at = pc.index_in(column, value_set=targets.cast(column.type), skip_nulls=True)
    return np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def looked_up(keyed: pd.Series, keys: pd.Series) -> pd.Series:
    """`keyed.reindex(keys)` for a Series keyed by ids, set on `keys`' index (NA where a key is
    not there): hashed in Arrow (positions_in), where reindex turns every id into a Python
    object first."""
    at = positions_in(keys, keyed.index.to_series())
    return pd.Series(keyed.array.take(at, allow_fill=True), index=keys.index, name=keyed.name)


def fixed_width_text(cells: np.ndarray) -> pa.Array:
    """Each row of `cells` (bytes of ASCII, n texts by their width) as one text of an Arrow
    column, made from the bytes as they lie: no Python str per text."""
    count, width = cells.shape
    offsets = np.arange(0, width * (count + 1), width, dtype=np.int64)
    data = np.ascontiguousarray(cells, dtype=np.uint8).ravel()
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def lower_case_bytes(kept: bytes, other: int) -> np.ndarray:
    """A byte table for mapped_strings: each of the ASCII characters `kept` as itself, an upper
    case letter among them as its lower case, and every other byte as `other`."""
    table = np.full(256, other, dtype=np.uint8)
    for byte in kept:  # a loop over the table's entries, not over any text
        table[byte] = table[bytes([byte]).upper()[0]] = byte
    return table


def utf8_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A large_string array's own offsets (len + 1 of them, into the data) and its data bytes,
    as numpy views of Arrow's buffers: for a pass over every text's bytes with no Python str
    made. The data is empty where the array holds no byte."""
    _validity, offsets, data = array.buffers()
    at = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    return at, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)


def mapped_strings(column: pa.Array | pa.ChunkedArray, table: np.ndarray) -> pa.LargeStringArray:
    """Every text with each of its bytes put through `table` (a byte for each of the 256); a
    missing text comes out empty. A lookup over the column's bytes, for a per-byte rewrite (case
    folding, punctuation to spaces) that costs a regex ten times more. `table` must map UTF-8
    to UTF-8 (ASCII bytes to ASCII, say, and every other byte to 0 or itself)."""
    column = column.cast(pa.large_string())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    at, data = utf8_buffers(column)
    mapped = table[data[at[0] : at[-1]]]
    return pa.LargeStringArray.from_buffers(
        len(column), pa.py_buffer(at - at[0]), pa.py_buffer(mapped)
    )


def holding_any(column: pa.Array, marked: np.ndarray) -> np.ndarray:
    """Which texts of `column` (a large_string array; missing texts hold none) hold a byte that
    `marked` (a bool for each of the 256) marks: a lookup over the column's bytes. On short
    texts (ids, codes, times) four times faster than RE2 looking for a class of characters; on
    long ones, which RE2 leaves at their first match, about as fast. An ASCII byte is never part
    of another character in UTF-8, so marking ASCII bytes finds those characters exactly."""
    at, data = utf8_buffers(column)
    hits = np.flatnonzero(marked[data[at[0] : at[-1]]]) + at[0]
    holding = np.zeros(len(column), dtype=bool)
    holding[np.searchsorted(at, hits, side="right") - 1] = True
    return holding


def one_chunk(text: pd.Series) -> pd.Series:
    """Text in one piece of memory. pyarrow pays per chunk, 20 times over at 10,000 chunks,
    and a take (``.loc``) from text in several chunks first glues them all together: picking
    50,000 of a million messages would copy all million.

    A CSV is read in blocks, a chunk each; a column concatenated from many frames (Dask
    partitions, say) has a chunk per frame.
    """
    if not isinstance(text.dtype, pd.StringDtype) or text.dtype.storage != "pyarrow":
        return text
    values = pa.array(text)
    if not isinstance(values, pa.ChunkedArray) or values.num_chunks <= 1:
        return text
    return pd.Series(values.combine_chunks(), index=text.index, dtype=text.dtype, name=text.name)


def strictly_increasing(strings: pa.Array | pa.ChunkedArray) -> bool:
    """Whether every id is greater than the one before (so none repeats), blanks allowed none.

    Exports list records in id order, and so do frames derived from them: one comparison of
    neighbours, a tenth of the cost of hashing them to find repeats.
    """
    if strings.null_count or len(strings) < 2:
        return strings.null_count == 0
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    return bool(pc.all(pc.less(strings[:-1], strings[1:])).as_py())


def as_block(positions: np.ndarray) -> slice | np.ndarray:
    """Sorted positions as a slice where they are one unbroken block (so iloc gives a view, not
    a copy of the rows), else as they are."""
    if len(positions) and positions[-1] - positions[0] < len(positions):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of a numeric array, sorted: np.unique's answer, by a sort. numpy 2's
    np.unique without return_index or the like hashes instead, some forty times slower on a
    million numbers (1 s where the sort takes 25 ms)."""
    ordered = np.sort(values)
    return (
        ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered
    )


def text_widths(strings: pa.ChunkedArray) -> list[int]:
    """The byte lengths the texts have (blanks aside), in order: fixed_width_cells' widths."""
    return distinct(pc.binary_length(strings).drop_null().to_numpy()).tolist()


# Rows gathered at a time when a column's texts don't lie end to end: the index stays a few MB.
_GATHER_ROWS = 1 << 16


def fixed_width_cells(strings: pa.ChunkedArray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The texts of exactly `width` bytes (blanks aside) as a matrix of bytes, a row each, and
    their rows. Read off Arrow's offsets and data buffers a chunk at a time; texts that lie end
    to end (every id one length, as exports write them) are viewed in place, others gathered a
    block of rows at a time."""
    cells, rows, base = [], [], 0
    for chunk in strings.chunks:  # a handful of chunks, not a loop per row
        at, data = utf8_buffers(chunk)
        valid = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        picked = np.flatnonzero(valid & (np.diff(at) == width))
        starts = at[:-1][picked]
        if len(picked) and starts[-1] - starts[0] == width * (len(picked) - 1):
            cells.append(
                data[starts[0] : starts[0] + width * len(picked)].reshape(len(picked), width)
            )
        else:
            cells += [
                data.take(block[:, None] + np.arange(width)).reshape(len(block), width)
                for block in np.split(starts, range(_GATHER_ROWS, len(starts), _GATHER_ROWS))
            ]
        rows.append(picked + base)
        base += len(chunk)
    if not rows:
        return np.zeros((0, width), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    together = np.concatenate(cells) if cells else np.zeros((0, width), dtype=np.uint8)
    return together, np.concatenate(rows)


_HASH_BASE = np.uint64(0x100000001B3)  # FNV's 64-bit prime, as a polynomial's base


def text_hashes(text: pd.Series) -> np.ndarray:
    """A 64-bit hash of each text's UTF-8 bytes (0 for a missing one), the same in every
    process: to cut ids into buckets. A polynomial over each length's texts a byte position at
    a time (fixed_width_cells), then mixed: a pass per length the texts have, so for ids, not
    free text. pandas' hash_pandas_object makes a Python str of each Arrow text first."""
    strings = arrow_strings(text)
    hashes = np.zeros(len(strings), dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64, as intended
        for width in text_widths(strings):
            cells, rows = fixed_width_cells(strings, width)
            folded = np.full(len(rows), width + 1, dtype=np.uint64)
            for column in range(width):  # a pass per byte position, over every text at once
                folded = folded * _HASH_BASE + cells[:, column]
            hashes[rows] = folded
        mixed = hashes * np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
        return mixed ^ (mixed >> np.uint64(32))


def spreadsheet_column(number: int) -> str:
    """A spreadsheet's name of its column `number` (from 1, as Excel counts): 1 -> A, 27 -> AA.
    Here, not openpyxl's get_column_letter: the workbook is written without importing openpyxl."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def day_start(times: pd.Series, days: int = 0) -> pd.Series:
    """The start of each (tz-aware) time's local day, `days` days on: its midnight, or the
    first instant of a day whose clock skips midnight (Santiago's September change)."""
    return on_the_clock(
        times.dt.tz_localize(None).dt.normalize() + pd.Timedelta(days=days), times.dt.tz
    )


def on_the_clock(wall: pd.Series, tz: object) -> pd.Series:
    """Wall-clock times placed in `tz`: one its clock shows twice (the autumn change) as the
    first, one it skips (the spring change, or a midnight) as the first instant after."""
    first = np.ones(len(wall), dtype=bool)
    return wall.dt.tz_localize(tz, ambiguous=first, nonexistent="shift_forward")
