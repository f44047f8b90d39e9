"""Fatal loading cases, shared by test_loading.py (the BundleError) and test_cli_errors.py (exit 2).

Each case is (how to build it from tests/fixtures/bundles, the message). ``{bundle}`` in a message
stands for the bundle's folder.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

BUNDLES = Path(__file__).parent / "fixtures" / "bundles"


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


REQUIRED_CONTACT_COLUMNS = "contact_id, client_id, staff_id, direction, channel, started_at"

FATAL_CASES = {
    "missing required table": (
        {"drop": ["notes.csv"]},
        "The bundle {bundle} has no 'notes' table: expected notes.csv, notes.xlsx or "
        "notes.parquet. It is required.",
    ),
    "missing required column": (
        {"case": "missing_column"},
        "contacts.csv has no 'direction' column, which the contacts table requires. Required "
        f"columns: {REQUIRED_CONTACT_COLUMNS}. Columns found: contact_id, client_id, staff_id, "
        "channel, started_at, duration_seconds, party, outcome, purpose, appointment_id, "
        "message.",
    ),
    "empty file": (
        {"case": "empty_file"},
        "staff.csv is empty: it has no header row and no records.",
    ),
    "file of blank lines": (
        {"case": "blank_file"},
        "staff.csv is empty: it has no header row and no records.",
    ),
    "header-only clients table": (
        {"case": "header_only_clients"},
        "clients.csv has a header but no records; every other table refers to the clients "
        "table, so it cannot be empty.",
    ),
    "header-only staff table": (
        {"case": "header_only_staff"},
        "staff.csv has a header but no records; every other table refers to the staff table, "
        "so it cannot be empty.",
    ),
    "two files for one table": (
        {"files": {"staff.parquet": _parquet_bytes(pd.DataFrame({"staff_id": ["S1"]}))}},
        "The bundle {bundle} holds staff.csv and staff.parquet: both are the 'staff' table. "
        "Keep one of them.",
    ),
    "two column names for one column": (
        {"case": "duplicate_column"},
        "clients.csv has more than one column named 'client_id' (names are matched ignoring "
        "case, spaces and hyphens). Remove or rename the extra column.",
    ),
    "BOM but not UTF-8": (
        {
            "files": {
                "clients.csv": b"\xef\xbb\xbf"
                + (BUNDLES / "encoding_windows1252" / "clients.csv").read_bytes()
            }
        },
        "clients.csv starts with a UTF-8 byte-order mark but is not valid UTF-8, so its text "
        "cannot be trusted. Export it again as UTF-8.",
    ),
}

# The library's own words follow the colon; the file and what it should be come first.
UNREADABLE_CASES = {
    "unreadable xlsx": (
        {"case": "unreadable_xlsx", "drop": ["contacts.csv"]},
        "contacts.xlsx cannot be read as an Excel workbook: ",
    ),
    "unreadable parquet": (
        {"case": "unreadable_parquet", "drop": ["notes.csv"]},
        "notes.parquet cannot be read as a Parquet file: ",
    ),
}


def build_fatal(make_bundle, spec: dict) -> Path:
    spec = dict(spec)
    return make_bundle(spec.pop("case", None), **spec)
