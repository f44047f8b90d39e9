"""Convert a bundle to typed Parquet, so repeated audits of the same data skip parsing text.

The bundle is loaded and validated as for an audit; each accepted table is written with its
types (tz-aware timestamps, Int64 counts, bool flags), so reading it back parses nothing. Rows
that validation set aside are not in the Parquet tables: they go to ``rejected.csv`` beside
them, with file, line and reason, and the caller reports them, so none is dropped unseen.
A table is written as it comes, in parts (parquet_bytes): the Dask engine's conversion
(distributed.convert_on_dask) hands write_converted each table a piece at a time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auditkit.deidentify import EXTRACT_RECORD
from auditkit.errors import BundleError
from auditkit.loading import CONVERTED, SOURCE_LINE, converted_marker
from auditkit.output import (
    check_folder,
    remove_abandoned,
    unwritable,
    write_atomically,
    write_csv,
)
from auditkit.schemas import CALLS, TABLES
from auditkit.validation import Bundle, load

# The hidden folder in --out a conversion writes into before moving its files into place.
_STAGING = ".converting-"


@dataclass
class Converted:
    """What a conversion wrote: the loaded bundle (its coverage and rejected rows) and where."""

    bundle: Bundle
    folder: Path
    files: list[str]


def converted_from(folder: Path) -> Path | None:
    """The bundle `folder` was converted from, as its converted.json says; None for a folder
    auditkit did not convert (or whose record can't be read)."""
    source = (converted_marker(folder) or {}).get("source")
    return Path(source) if isinstance(source, str) else None


class _Written(io.RawIOBase):
    """A sink that keeps what Arrow's Parquet writer has written since it was last emptied,
    and counts every byte, since the file's footer records where each row group begins."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def emptied(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def parquet_bytes(frames: Iterable[pd.DataFrame]) -> Iterator[bytes]:
    """One Parquet file of a table that comes in parts (a Dask worker's piece each, or the
    whole table), as its bytes are made: a row group or more per part, none of them held
    longer than its writing, every part with the first one's columns and types.

    source_line is the loader's own column (a file holding it is refused); a Parquet row's
    line is its row number, so the CSV's lines are not carried over.
    """
    sink, writer, schema = _Written(), None, None
    for frame in frames:
        table = pa.Table.from_pandas(
            frame.drop(columns=SOURCE_LINE), schema=schema, preserve_index=False
        )
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(sink, schema)
        writer.write_table(table)
        yield sink.emptied()
    if writer is None:
        raise ValueError("a table of no parts: even an empty table has one")
    writer.close()
    yield sink.emptied()


def check_out(bundle: Path, out: Path) -> None:
    """Refuse a folder whose other table files would make the result an ambiguous bundle."""
    if out.resolve() == bundle.resolve():
        raise BundleError(
            f"--out {out} is the bundle itself: its tables would then be there twice, as "
            "CSV and as Parquet. Name another folder."
        )
    check_folder(out, "--out")
    names = {*TABLES, CALLS.name}
    held = list(out.iterdir()) if out.is_dir() else []
    clashing = sorted(
        p.name for p in held if p.stem.lower() in names and p.suffix.lower() in (".csv", ".xlsx")
    )
    if clashing:
        raise BundleError(
            f"{out} already holds {', '.join(clashing)}: beside the Parquet tables they would "
            "be the same tables twice. Name an empty folder, or one converted before."
        )
    # What a conversion writes: another program's Parquet tables or policy are not replaced.
    written = {
        *(f"{name}.parquet" for name in names),
        "policy.toml",
        "rejected.csv",
        EXTRACT_RECORD,
    }
    replaced = sorted(p.name for p in held if p.name.lower() in written)
    if replaced and not (out / CONVERTED).is_file():
        raise BundleError(
            f"{out} already holds {', '.join(replaced)} and is not a bundle auditkit converted "
            f"(it has no {CONVERTED}): converting would replace them. Name an empty folder, or "
            "one converted before."
        )


def convert(
    path: Path | str,
    out: Path | str,
    policy: Path | str | None = None,
    calls: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Converted:
    """Load and validate the bundle at `path`, then write it to `out` as a Parquet bundle
    (write_converted)."""
    path, out = Path(path), Path(out)
    check_out(path, out)
    bundle = load(path, policy, progress=progress, calls=calls)
    tables = {name: [frame] for name, frame in {**bundle.tables, CALLS.name: bundle.calls}.items()}
    return write_converted(bundle, out, policy, tables, progress)


def write_converted(
    bundle: Bundle,
    out: Path,
    policy: Path | str | None,
    tables: Mapping[str, Iterable[pd.DataFrame]],
    progress: Callable[[str], None] | None = None,
) -> Converted:
    """Write a loaded bundle to `out` as a Parquet bundle: each accepted table from its parts
    in `tables` (parquet_bytes), its rows set aside, and the policy file it was loaded with
    (`policy`, or the bundle's policy.toml), so the new bundle audits the same way.

    Optional tables the bundle lacks are absent from `out` too (and removed if an earlier
    conversion left them), since an absent call log is not an empty one.

    Everything is written into a folder of its own inside `out` first, and moved into place
    only once all of it is written, converted.json last: a conversion that stops midway (a full
    disk, a Dask worker lost) leaves `out` as it was, not new tables beside an earlier
    conversion's, which would audit as one bundle.
    """
    present = set(bundle.coverage["table"])
    say = progress or (lambda _message: None)
    made = not out.exists()
    stage = _staging_folder(out)
    try:
        written = []
        for name, parts in tables.items():
            if name in present:  # only optional tables can be absent: load requires the rest
                say(f"writing {name}.parquet")
                write_atomically(stage / f"{name}.parquet", parquet_bytes(parts))
                written.append(f"{name}.parquet")
        policy_file = Path(policy) if policy is not None else bundle.path / "policy.toml"
        if policy_file.is_file():  # as load_policy chose it; without one, both use the defaults
            write_atomically(stage / "policy.toml", policy_file.read_bytes())
            written.append("policy.toml")
        if (record := bundle.path / EXTRACT_RECORD).is_file():  # an extract stays one: its
            # audit refused, its dates said to be shifted in the research notebook
            write_atomically(stage / EXTRACT_RECORD, record.read_bytes())
            written.append(EXTRACT_RECORD)
        write_csv(bundle.rejected, stage / "rejected.csv")
        written.append("rejected.csv")
        marker = {
            "converted_by": "auditkit convert",
            "source": str(bundle.path.resolve()),
            # The zone times without an offset were read in: an audit in another is refused.
            "timezone": bundle.policy.clinic.timezone,
        }
        write_atomically(stage / CONVERTED, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
        written.append(CONVERTED)
        _move_into_place(stage, out, written, {f"{name}.parquet" for name in tables})
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if made:  # a folder this run made, left empty
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    stage.rmdir()
    return Converted(bundle, out, written)


def _move_into_place(stage: Path, out: Path, written: list[str], tables: set[str]) -> None:
    """The staged files into `out` (converted.json last: the folder is a conversion once it is
    in), and an earlier conversion's tables, policy and extract record that this one has not,
    gone."""
    for name in sorted((tables | {"policy.toml", EXTRACT_RECORD}) - set(written)):
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as error:
            raise unwritable(out / name, error) from None
    for name in written:
        try:
            os.replace(stage / name, out / name)
        except OSError as error:
            raise unwritable(out / name, error) from None


def _staging_folder(out: Path) -> Path:
    """A new hidden folder in `out` for a conversion's files, once any that a killed run left
    there (old enough that no live run owns them) are gone."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_abandoned(out, f"{_STAGING}*")
        return Path(tempfile.mkdtemp(dir=out, prefix=_STAGING))
    except OSError as error:
        raise unwritable(out, error) from None
