"""Write results so a spreadsheet never runs input text and a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.columns import (
    arrow_strings,
    fixed_width_text,
    holding_any,
    take_text,
    utf8_buffers,
)
from auditkit.errors import AuditkitError, OutputError

# A temporary output file this old was left by a run that was killed while writing it.
ABANDONED_AFTER_SECONDS = 600

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def counted(n: int, noun: str) -> str:
    """'1 row', '2 rows': a count in words for the terminal (nouns with a plain plural)."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def formula_like(text: pd.Series) -> pd.Series:
    """Which cells of a text column a spreadsheet would run as a formula ('=…', '@…')."""
    return text.astype("str").str.startswith(FORMULA_STARTS) & text.notna()


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe."""
    out = frame.copy(deep=False)  # copy-on-write: a column replaced here is the copy's alone
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) or out[column].dtype == object:
            text = out[column]
            risky = formula_like(text)
            if risky.any():
                out[column] = text.astype("object").where(~risky, "'" + text.astype("str"))
    return out


def remove_abandoned(folder: Path, pattern: str) -> None:
    """Temporary files or folders (`pattern`, a glob) a killed run left in `folder`: those old
    enough that no live run owns them."""
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for leftover in folder.glob(pattern):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


_Made = TypeVar("_Made", covariant=True)


class Pending(Protocol[_Made]):
    """Work started elsewhere (a thread's Future, a Dask worker's): its result, once done."""

    def result(self) -> _Made: ...


def in_order(started: Iterable[Pending[_Made]], ahead: int) -> Iterator[_Made]:
    """The results of `started`, in its order, with at most `ahead` more under way while one is
    awaited: `started` is drawn from only as results are taken, so work made lazily (a
    generator that submits it) begins no further ahead than that, and little is held."""
    pending: deque[Pending[_Made]] = deque()
    for work in started:
        pending.append(work)
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def check_folder(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder for results that could not be made or written to: it,
    or a folder on its way, is a file, or the nearest existing folder is not writable. Nothing
    is created: a run that stops later leaves no empty folder behind. `what` names the folder
    in the message, e.g. "--out".
    """
    folder = Path(folder)
    # exists() is False for a path through a file (/etc/passwd/x): the file is the first above.
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "" if existing == folder else f"cannot be made: {existing} "
        raise AuditkitError(f"{what} {folder} {where}is a file, not a folder. Name a folder.")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise AuditkitError(
            f"{what} {folder} cannot be written: {existing} does not let you add files. Name "
            "a folder you can write to."
        )


def holds_files_of_others(folder: Path, marker: str) -> bool:
    """Whether `folder` holds files but not `marker`, the file auditkit leaves in a folder it
    wrote (an extract's extract.json, a sample's ground_truth.csv): writing there could replace
    files that are not auditkit's."""
    return folder.is_dir() and any(folder.iterdir()) and not (folder / marker).is_file()


# How long a writer waits for another to finish with a shared file, and after how long a lock
# is taken for one a crashed writer left (a save holds it for milliseconds).
LOCK_WAIT_SECONDS = 10.0
LOCK_ABANDONED_SECONDS = 60.0


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold `path` for one writer at a time, among the processes that ask here: for a file
    several people change by reading it and writing it back (a shared reviews file), where two
    at once would each write back the file without the other's change.

    A lock file beside it (.NAME.lock), made with O_EXCL, which every file system honours,
    Windows shares included. A lock older than LOCK_ABANDONED_SECONDS is a crashed writer's and
    is taken over; after LOCK_WAIT_SECONDS of waiting the write stops (OutputError) unmade.
    """
    lock = path.with_name(f".{path.name}.lock")
    waited_until = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - lock.stat().st_mtime > LOCK_ABANDONED_SECONDS:
                    lock.unlink(missing_ok=True)
                    continue
            if time.monotonic() > waited_until:
                raise OutputError(
                    f"{path} is being written by someone else ({lock} has been there for over "
                    f"{LOCK_WAIT_SECONDS:.0f} seconds): nothing was saved. Try again in a "
                    "moment; if nobody else is saving, delete that lock file."
                ) from None
            time.sleep(0.02)
        except OSError as error:
            raise unwritable(path, error) from None
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write to a temporary file beside `path`, then rename: readers see old or new, never half.

    `data` may come in pieces, so a large page need never be in memory whole. A disk that is
    full, read-only or gone stops the run (OutputError) with the file named and nothing half
    written left behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(path.parent, f".{path.name}.*.tmp")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise unwritable(path, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in [data] if isinstance(data, bytes) else data:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise unwritable(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unwritable(path: Path, error: OSError) -> OutputError:
    """The advice follows the cause: a full disk needs space; a folder that refuses files (a
    read-only or system folder, or one that cannot be made there) needs another folder, which
    space would not help."""
    refused = error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR)
    space = "Free space on the disk, or name a folder you can write to,"
    advice = "Name a folder you can write to" if refused else space
    return OutputError(
        f"{path} could not be written: {error.strerror or error}. {advice} and try again."
    )


def iso_times(times: pd.Series, sep: str = "T") -> pd.Series:
    """Timestamp.isoformat(sep) of a whole column: '2026-03-16T13:00:00-07:00', sortable as
    text ('' where there is no time); strftime or str() would format one value at a time."""
    present = times.dropna()
    local = present.dt.tz_localize(None) if present.dt.tz is not None else present
    text = pd.Series(_whole_seconds(local.to_numpy(), sep), index=present.index, dtype="str")
    micro, nano = local.dt.microsecond, local.dt.nanosecond
    if (fraction := (micro != 0) | (nano != 0)).any():  # the rare time with one: only those
        text[fraction] = text[fraction] + "." + micro[fraction].astype("str").str.zfill(6)
    if (nanoseconds := nano != 0).any():
        text[nanoseconds] = text[nanoseconds] + nano[nanoseconds].astype("str").str.zfill(3)
    if present.dt.tz is not None:
        utc = present.dt.tz_convert("UTC").dt.tz_localize(None)
        # A zone has a few offsets: each is written once ('-07:00'), then placed in its rows.
        codes, offsets = pd.factorize((local - utc) // pd.Timedelta(seconds=1))
        written = pd.Series([_utc_offset(int(seconds)) for seconds in offsets], dtype="str")
        text = text + take_text(written, codes, present.index)
    return text.reindex(times.index, fill_value="")


# Where each part of 'YYYY-MM-DDTHH:MM:SS' goes, and its digits.
_PARTS = ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))


def _whole_seconds(local: np.ndarray, sep: str) -> pa.Array:
    """Wall-clock times (datetime64) as 'YYYY-MM-DDTHH:MM:SS' (`sep` between date and time),
    written digit by digit into one buffer of bytes: numpy's datetime_as_string, then a str
    column of its result, took eight times as long (1 s a million times).

    Years outside 0 to 9999 (which the loader never accepts) keep numpy's own writing.
    """
    days = local.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    year = years.astype(np.int64) + 1970
    if len(year) and (np.min(year) < 0 or np.max(year) > 9999):
        whole = np.datetime_as_string(local, unit="s")
        return pa.array(np.char.replace(whole, "T", sep) if sep != "T" else whole)
    seconds = (local - days).astype("timedelta64[s]").astype(np.int64)
    hour, rest = np.divmod(seconds, 3600)
    minute, second = np.divmod(rest, 60)
    values = (year, (months - years).astype(np.int64) + 1, (days - months).astype(np.int64) + 1)
    text = np.empty((len(local), 19), dtype=np.uint8)
    text[:, [4, 7, 10, 13, 16]] = np.frombuffer(f"--{sep}::".encode(), dtype=np.uint8)
    for (start, width), value in zip(_PARTS, (*values, hour, minute, second), strict=True):
        for place in range(width):  # a pass per digit, over the whole column
            text[:, start + width - 1 - place] = 48 + value // 10**place % 10
    return fixed_width_text(text)


def _utc_offset(seconds: int) -> str:
    """'+05:30', '-07:00', or with seconds ('-00:01:15') as Timestamp.isoformat writes them."""
    sign, east = ("+" if seconds >= 0 else "-"), abs(seconds)
    hours, minutes, rest = east // 3600, east % 3600 // 60, east % 60
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{rest:02d}" if rest else "")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A UTF-8 CSV, formulas neutralised, written atomically. Times in whole seconds are
    written as pandas writes them ('2026-03-16 13:00:00-07:00'), but a column at a time; pandas
    gives a column with any fraction of a second one precision, so such a column is left to it."""
    safe = neutralise_formulas(frame)
    for column in safe.columns:
        times = safe[column]
        if isinstance(times.dtype, pd.DatetimeTZDtype) and not (
            times.dt.microsecond.any() or times.dt.nanosecond.any()
        ):
            safe[column] = iso_times(times, sep=" ")
    write_atomically(path, csv_text(safe))


def csv_records(records: Iterable[Sequence[Any]], lineterminator: str = "\n") -> str:
    """Records as CSV text, each ending in `lineterminator` (LF or CR LF), a field holding a
    line break of either kind quoted (see csv_text): the csv module quotes only the characters
    of its line terminator, so they are written ending in CR LF, then ended anew (_lf_ended)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(records)
    if lineterminator == "\r\n":
        return out.getvalue()
    return _lf_ended(out.getvalue().encode("utf-8")).decode("utf-8")


# Rows turned into CSV text at once: a large table's text is never in memory whole.
CSV_ROWS_PER_BLOCK = 50_000


def csv_text(frame: pd.DataFrame, lineterminator: str = os.linesep) -> Iterator[bytes]:
    """The frame as pandas' to_csv(index=False, lineterminator=...) writes it in UTF-8, byte
    for byte, in pieces made as they are written: built a column at a time in Arrow rather than
    a Python call per cell (0.7 s for 112,000 findings), where it can be; by pandas where only
    pandas knows the form (a time with fractions, a category, a single column).

    But for one thing: a field holding a carriage return is quoted, as one holding a line feed
    is. The csv module quotes only the characters of its line terminator, so a message's lone
    CR was written bare, and every reader (auditkit's, Arrow's, Excel) ends the row there.
    `lineterminator` is LF or CR LF."""
    if len(frame.columns) < 2 or not all(_csv_writable(frame[c]) for c in frame.columns):
        # (the csv module quotes a single column's empty field: "") Written ending in CR LF,
        # every field holding a line break is quoted; then each record ends as asked.
        written = frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
        yield written if lineterminator == "\r\n" else _lf_ended(written)
        return
    yield csv_records([frame.columns], lineterminator).encode("utf-8")
    # A field holding the delimiter, the quote, or a line break of either kind is quoted.
    quoting = np.zeros(256, dtype=bool)
    quoting[list((',"\r\n' + lineterminator).encode("ascii"))] = True
    large = pa.large_string()
    for start in range(0, len(frame), CSV_ROWS_PER_BLOCK):
        block = frame.iloc[start : start + CSV_ROWS_PER_BLOCK]
        cells = [_csv_cells(block[column], quoting) for column in block.columns]
        rows = pc.binary_join_element_wise(*cells, pa.scalar(",", large))
        lines = pc.binary_join_element_wise(
            rows, pa.scalar(lineterminator, large), pa.scalar("", large)
        )
        yield concatenated_utf8(pd.Series(lines, dtype="str"))


def _lf_ended(written: bytes) -> bytes:
    """CSV text whose records end in CR LF, each ending in LF instead: a CR LF after an even
    number of quotes (outside every quoted field, as the loader finds records) ends a record."""
    text = np.frombuffer(written, dtype=np.uint8)
    quotes = np.flatnonzero(text == ord('"'))
    breaks = np.flatnonzero((text[:-1] == ord("\r")) & (text[1:] == ord("\n")))
    return np.delete(text, breaks[np.searchsorted(quotes, breaks) % 2 == 0]).tobytes()


def _csv_writable(values: pd.Series) -> bool:
    """Whether _csv_cells writes the column as to_csv does: booleans, numbers and words (to_csv
    writes bytes as b'...', and a time as str() gives it)."""
    dtype = values.dtype
    return (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_integer_dtype(dtype)
        or pd.api.types.is_float_dtype(dtype)
        or isinstance(dtype, pd.StringDtype)
        or (
            pd.api.types.is_object_dtype(dtype)
            and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
        )
    )


def _csv_cells(values: pd.Series, quoting: np.ndarray) -> pa.Array:
    """A column's fields as to_csv writes them (see _csv_writable): blanks for NA, quoted
    where they hold a byte `quoting` marks."""
    large = pa.large_string()
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        text = pa.array(values.map({True: "True", False: "False"}), large, from_pandas=True)
    elif pd.api.types.is_integer_dtype(dtype):
        text = pc.cast(pa.array(values.array, from_pandas=True), large)
    elif pd.api.types.is_float_dtype(dtype):
        floats = values.to_numpy(dtype=np.float64, na_value=np.nan)
        text = pa.array(floats.astype(str), large, mask=np.isnan(floats))  # numpy's repr, too
    else:
        text = pa.array(values, large, from_pandas=True)
    text = pc.fill_null(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text, "")
    special = holding_any(text, quoting)
    if not special.any():  # ids, codes, numbers: nothing to quote
        return text
    special = pa.array(special)
    quote, nothing = pa.scalar('"', large), pa.scalar("", large)
    quoted = pc.binary_join_element_wise(
        quote, pc.replace_substring(text.filter(special), '"', '""'), quote, nothing
    )
    return pc.replace_with_mask(text, special, quoted)


def concatenated_utf8(text: pd.Series) -> bytes:
    """A text column's values end to end as UTF-8 (a missing one as ''): Arrow keeps them so in
    one buffer, so this is one copy, not a Python object per row and a join. Bytes, not str: a
    str with one curly quote takes two bytes for every character."""
    at, data = utf8_buffers(arrow_strings(text.astype("str").fillna("")).combine_chunks())
    return data[at[0] : at[-1]].tobytes()


def escaped(text: pd.Series, escapes: Sequence[tuple[str, str]]) -> pd.Series:
    """`text` with each character of `escapes` (character, replacement; in order) replaced,
    missing values as ''. Only the texts holding one are rewritten: one RE2 pass finds them,
    where a replace per character would copy every text (ids and codes hold none)."""
    strings = arrow_strings(text.astype("str").fillna("")).combine_chunks()
    characters = "".join("\\" + c if c in "\\]^-" else c for c, _ in escapes)
    found = pc.match_substring_regex(strings, f"[{characters}]")
    if pc.any(found).as_py():
        rewritten = strings.filter(found)
        for plain, replacement in escapes:
            rewritten = pc.replace_substring(rewritten, plain, replacement)
        strings = pc.replace_with_mask(strings, found, rewritten)
    return pd.Series(strings, index=text.index, dtype="str")
