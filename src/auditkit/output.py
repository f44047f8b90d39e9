"""Write results so a spreadsheet never runs input text and a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

# A temporary output file this old was left by a run that was killed while writing it.
ABANDONED_AFTER_SECONDS = 600

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) or out[column].dtype == object:
            text = out[column]
            risky = text.astype("str").str.startswith(FORMULA_STARTS) & text.notna()
            if risky.any():
                out[column] = text.astype("object").where(~risky, "'" + text.astype("str"))
    return out


def _remove_abandoned_temporaries(path: Path) -> None:
    """Temporary files a killed run left beside `path` (old enough that no live run owns them)."""
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A UTF-8 CSV, formulas neutralised, written atomically."""
    write_atomically(path, neutralise_formulas(frame).to_csv(index=False).encode("utf-8"))
