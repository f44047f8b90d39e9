"""The month an audit covers, as the command line and `audit(month=)` take it. A module of its
own with no heavy imports, so that the command line checks `--month` without importing pandas
first (`auditkit --help` answers at once), by the same words the library uses."""

from __future__ import annotations

import re

# A month named by when the audit runs (`--month last`), for a monthly audit run on a schedule.
LAST_MONTH = "last"

_YEAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def month_problem(month: str) -> str | None:
    """Why `month` names no month to audit, or None: YYYY-MM from 1900-01 to 2199-12 (year 0
    has no date; pandas' times end in 2262), or LAST_MONTH."""
    if month == LAST_MONTH:
        return None
    if not _YEAR_MONTH.fullmatch(month):
        return f"month must look like 2026-03, or be {LAST_MONTH}, not {month!r}"
    if not 1900 <= int(month[:4]) <= 2199:
        return f"month must be 1900-01 to 2199-12, not {month!r}"
    return None
