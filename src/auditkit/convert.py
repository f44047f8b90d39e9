"""Convert a bundle to typed Parquet, so repeated audits of the same data skip parsing text.

The bundle is loaded and validated as for an audit; each accepted table is written with its
types (tz-aware timestamps, Int64 counts, bool flags), so reading it back parses nothing. Rows
that validation set aside are not in the Parquet tables: they go to ``rejected.csv`` beside
them, with file, line and reason, and the caller reports them, so none is dropped unseen.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from auditkit.errors import BundleError
from auditkit.loading import CONVERTED, SOURCE_LINE
from auditkit.output import check_folder, write_atomically, write_csv
from auditkit.schemas import CALLS, TABLES
from auditkit.validation import Bundle, load


@dataclass
class Converted:
    """What a conversion wrote: the loaded bundle (its coverage and rejected rows) and where."""

    bundle: Bundle
    folder: Path
    files: list[str]


def converted_from(folder: Path) -> Path | None:
    """The bundle `folder` was converted from, as its converted.json says; None for a folder
    auditkit did not convert (or whose record can't be read)."""
    try:
        source = json.loads((folder / CONVERTED).read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(source) if isinstance(source, str) else None


def _parquet(frame: pd.DataFrame) -> bytes:
    # source_line is the loader's own column (a file holding it is refused); a Parquet row's
    # line is its row number, so the CSV's lines are not carried over.
    buffer = io.BytesIO()
    frame.drop(columns=SOURCE_LINE).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _check_out(bundle: Path, out: Path) -> None:
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
    written = {*(f"{name}.parquet" for name in names), "policy.toml", "rejected.csv"}
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
    """Load and validate the bundle at `path`, then write it to `out` as a Parquet bundle.

    The policy file in force is copied as ``policy.toml``, so the new bundle audits the same
    way. Optional tables the bundle lacks are absent from `out` too (and removed if an earlier
    conversion left them), since an absent call log is not an empty one.
    """
    path, out = Path(path), Path(out)
    _check_out(path, out)
    bundle = load(path, policy, progress=progress, calls=calls)
    present = set(bundle.coverage["table"])
    tables = {**bundle.tables, CALLS.name: bundle.calls}
    files = []
    for name, frame in tables.items():
        target = out / f"{name}.parquet"
        if name not in present:  # only optional tables can be absent: load requires the rest
            target.unlink(missing_ok=True)
            continue
        write_atomically(target, _parquet(frame))
        files.append(target.name)
    policy_file = Path(policy) if policy is not None else path / "policy.toml"
    if policy_file.is_file():  # as load_policy chose it; without one, both use the defaults
        write_atomically(out / "policy.toml", policy_file.read_bytes())
        files.append("policy.toml")
    else:
        (out / "policy.toml").unlink(missing_ok=True)
    write_csv(bundle.rejected, out / "rejected.csv")
    files.append("rejected.csv")
    marker = {"converted_by": "auditkit convert", "source": str(path.resolve())}
    write_atomically(out / CONVERTED, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    files.append(CONVERTED)
    return Converted(bundle, out, files)
