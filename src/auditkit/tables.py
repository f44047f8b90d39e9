"""What every reader of a table returns, and the words they share.

A RawTable is one table as read, by loading's CSV and Parquet readers and by workbooks' Excel
reader alike: its values, the physical line of each row, and the rows set aside (with the
columns REJECTED_COLUMNS names). The readers also share how a column's name is matched
(normalise_column_name), how text from a file is quoted in a message (printable,
printable_names), the paragraph for a file the operating system would not let us read
(unreadable), what tells that a file changed while it was read (file_version), and how far
down a file its header is looked for (HEADER_SEARCH_ROWS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from auditkit.errors import BundleError
from auditkit.schemas import RejectedRows

# Records (a CSV's) or rows (a worksheet's) looked through for a header: a report's title and
# notes above it take a few.
HEADER_SEARCH_ROWS = 50
REJECTED_COLUMNS = list(RejectedRows.to_schema().columns)


@dataclass
class RawTable:
    """One table as read: text values (read_worksheet's: typed cells), the physical line of each
    row, and rows set aside."""

    name: str
    file: str
    frame: pd.DataFrame
    lines: pd.Series
    malformed: pd.DataFrame
    encoding: str
    sheet: str | None = None  # a workbook's: the worksheet read
    header_line: int = 1  # the header row or line (an export's title may come before it)
    # The file's columns, when `frame` holds only some of them (read_csv's only_named); else ().
    header: tuple[str, ...] = ()
    # A workbook's visible sheets not read (read_worksheet's `other_sheets`), and of them those
    # holding the mapped names its header holds (another month's rows, say); else ().
    other_sheets: tuple[str, ...] = ()
    alike_sheets: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        return len(self.frame) + self.malformed["line"].nunique()  # (a row may have several)


def normalise_column_name(name: str) -> str:
    """Column names match ignoring case, spaces and hyphens: 'Client ID' is client_id."""
    cleaned = "_".join(str(name).replace("\ufeff", "").replace("-", " ").split())
    return cleaned.lower()


def printable(text: str, length: int = 40) -> str:
    """Text from a file for a one-paragraph message: no line breaks or other control characters
    (each a '?'), and at most `length` characters of it."""
    cut = "".join(c if c.isprintable() else "?" for c in text[:length])
    return cut + ("…" if len(text) > length else "")


def printable_names(names: list[str], most: int = 30) -> str:
    """Column names for a message: printable, short, and not a whole garbled file's worth."""
    shown = [printable(name) for name in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown) + more


def unreadable(file: str, error: OSError) -> BundleError:
    """The one paragraph for a file the operating system would not let us read."""
    return BundleError(f"{file} cannot be read: {error.strerror or error}.")


def file_version(path: Path) -> tuple[int, int, int]:
    """What changes when a file is written or replaced: its inode, size and modification time."""
    try:
        status = path.stat()
    except OSError as error:
        raise unreadable(path.name, error) from None
    return status.st_ino, status.st_size, status.st_mtime_ns
