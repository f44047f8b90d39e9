"""Fatal loading cases, shared by test_loading.py (the BundleError) and test_cli_errors.py (exit 2).

Each case is (how to build it from tests/fixtures/bundles, the message). ``{bundle}`` in a message
stands for the bundle's folder.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

BUNDLES = Path(__file__).parent / "fixtures" / "bundles"


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _with_extra_field(path: Path) -> bytes:
    """The file with a field past the header's on every row: a value, so not a trailing
    delimiter to ignore."""
    header, *rows = path.read_bytes().splitlines(keepends=True)
    return header + b"".join(row.rstrip(b"\n") + b",extra\n" for row in rows)


def _base_replacing(name: str, *changes: tuple[bytes, bytes]) -> dict:
    """The case of the base's file `name` with each (old, new) bytes replaced."""
    data = (BUNDLES / "base" / name).read_bytes()
    for old, new in changes:
        data = data.replace(old, new)
    return {"files": {name: data}}


def _zip_bytes() -> bytes:
    """A zip archive, as an .xlsx workbook is one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


def _separated_by(name: str, separator: bytes) -> bytes:
    """The base's file `name` with every comma another separator (none is inside quotes)."""
    return (BUNDLES / "base" / name).read_bytes().replace(b",", separator)


# What a semicolon-separated file's message adds: where the comma is the decimal mark, Excel's
# CSV writes semicolons however it is saved.
EXCEL_WORKBOOK = (
    ", or, where the comma is the decimal mark (Excel's CSV then writes semicolons again), save "
    "it as an Excel Workbook (.xlsx), which auditkit reads as well."
)
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
    # European Excel writes "CSV" with semicolons; read with commas its header would be one
    # column, and "no 'contact_id' column ... found: contact_id;client_id;..." contradicts itself.
    "semicolon-separated file": (
        {"files": {"contacts.csv": _separated_by("contacts.csv", b";")}},
        "contacts.csv is separated by semicolons, not commas: save it as CSV (comma delimited) "
        "and run again" + EXCEL_WORKBOOK,
    ),
    "semicolon-separated file with quoted fields (read exactly)": (
        {
            "files": {
                "staff.csv": b'staff_id;first_name;last_name;role\r\n"S1";"Ana";"Reyes, MD";'
                b"therapist\r\n"
            }
        },
        "staff.csv is separated by semicolons, not commas: save it as CSV (comma delimited) and "
        "run again" + EXCEL_WORKBOOK,
    ),
    "semicolon-separated file after Excel's separator line": (
        {"files": {"contacts.csv": b"sep=;\r\n" + _separated_by("contacts.csv", b";")}},
        "contacts.csv is separated by semicolons, not commas: save it as CSV (comma delimited) "
        "and run again" + EXCEL_WORKBOOK,
    ),
    "tab-separated file": (
        {"files": {"clients.csv": _separated_by("clients.csv", b"\t")}},
        "clients.csv is separated by tabs, not commas: save it as CSV (comma delimited) and run "
        "again.",
    ),
    # Another kind of file under a .csv name: read as CSV, its "columns found" were nonsense.
    "Excel workbook named .csv": (
        {"files": {"contacts.csv": _zip_bytes()}},
        "contacts.csv is not a CSV file: it is an Excel workbook (.xlsx) or another zip archive. "
        "To audit it, save the table as CSV (comma delimited), or give a workbook the suffix "
        ".xlsx.",
    ),
    "Excel 97-2003 workbook named .csv": (
        {"files": {"staff.csv": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)}},
        "staff.csv is not a CSV file: it is an Excel 97-2003 workbook (.xls) or another Office "
        "file. To audit it, open it in Excel and save it as CSV (comma delimited) or as an Excel "
        "Workbook (.xlsx).",
    ),
    "Parquet file named .csv": (
        {"files": {"notes.csv": _parquet_bytes(pd.DataFrame({"note_id": ["N1"]}))}},
        "notes.csv is not a CSV file: it is a Parquet file. To audit it, give it the suffix "
        ".parquet.",
    ),
    "PDF named .csv": (
        {"files": {"clients.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"}},
        "clients.csv is not a CSV file: it is a PDF document. To audit it, export the table again "
        "as CSV (comma delimited).",
    ),
    # A portal's sign-in page saved as the export: "Columns found: <html><body>login</body>..."
    "web page named .csv": (
        {"files": {"contacts.csv": b"<html><body>login</body></html>\n"}},
        "contacts.csv is not a CSV file: it is a web page (HTML), not a CSV export (a portal's "
        "sign-in or error page saved under the export's name, say). To audit it, sign in and "
        "export the table again as CSV (comma delimited).",
    ),
    "web page with a doctype named .csv": (
        {"files": {"staff.csv": b"\xef\xbb\xbf\r\n<!DOCTYPE html>\n<html lang='en'><head>"}},
        "staff.csv is not a CSV file: it is a web page (HTML), not a CSV export (a portal's "
        "sign-in or error page saved under the export's name, say). To audit it, sign in and "
        "export the table again as CSV (comma delimited).",
    ),
    **{
        f"UTF-16 ({order}) without a byte-order mark": (
            {
                "files": {
                    "contacts.csv": (BUNDLES / "base" / "contacts.csv")
                    .read_bytes()
                    .decode()
                    .encode(f"utf-16-{order}")
                }
            },
            "contacts.csv looks like UTF-16 text without a byte-order mark (a zero byte beside "
            "every character), which cannot be read safely. Export it again as UTF-8 CSV (in "
            "Excel: CSV UTF-8 (comma delimited)).",
        )
        for order in ("le", "be")
    },
    "binary file named .csv": (
        {"files": {"staff.csv": b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x03\x00>\x00\n"}},
        "staff.csv does not start with a row of column names: its first line holds control "
        "characters no CSV header has. It may be another kind of file named .csv, or damaged: "
        "export the table again as CSV (comma delimited).",
    ),
    # Exported where the day comes first: read month first, 02/03 would be 3 February.
    "dates written day first": (
        _base_replacing(
            "appointments.csv",
            (b"2026-03-02T13:00:00", b"02/03/2026 13:00"),
            (b"2026-03-09T13:00:00", b"09/03/2026 13:00"),
            (b"2026-03-10T10:00:00", b"13/03/2026 10:00"),
        ),
        "appointments.csv: all 3 of its rows were set aside, so the audit would have no "
        "appointments to go on. The first reason, on line 2: scheduled_start '02/03/2026 13:00' "
        "is not read: the column writes the day first ('13/03/2026 10:00' reads no other way), "
        "and slash dates are read month first (M/D/YYYY). Export dates as ISO 8601 (2026-03-09 "
        "13:00), or import with a mapping's date_format. Correct the export and run again.",
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
    # A file whose every row is set aside would leave its table empty: the audit would pass on
    # nothing (staff, clients, appointments) or find fault everywhere (the rest). Refused.
    "every clients row set aside": (
        {"files": {"clients.csv": _with_extra_field(BUNDLES / "base" / "clients.csv")}},
        "clients.csv: all 2 of its rows were set aside, so the audit would have no clients to go "
        "on. The commonest reason (2 of them), first on line 2: has 9 fields; the header has 8. "
        "Correct the export and run again.",
    ),
    "every staff row set aside, one reason commonest": (
        {
            "files": {
                "staff.csv": b"staff_id,first_name,last_name,role\nS1,Ana,Reyes,\n"
                b"S2,Ben,Cho,janitor\nS3,Cara,Diaz,janitor\n"
            }
        },
        "staff.csv: all 3 of its rows were set aside, so the audit would have no staff to go on. "
        "The commonest reason (2 of them), first on line 3: role 'janitor' is not one of: "
        "therapist, supervisor, program_director, admin. Correct the export and run again.",
    ),
    "every appointment set aside, no reason twice": (
        _base_replacing(
            "appointments.csv",
            (b"C1,S1,2026-03-02", b"C9,S1,2026-03-02"),
            (b"no_show", b"walked_out"),
            (b",50,individual,cancelled", b",fifty,individual,cancelled"),
        ),
        "appointments.csv: all 3 of its rows were set aside, so the audit would have no "
        "appointments to go on. The first reason, on line 2: client_id 'C9' matches no clients "
        "record. Correct the export and run again.",
    ),
    "the one approvals row set aside": (
        _base_replacing("approvals.csv", (b"closure_warning", b"sign_off")),
        "approvals.csv: its one row was set aside, so the audit would have no approvals to go "
        "on. The reason, on line 2: kind 'sign_off' is not one of: closure_warning, "
        "phone_coaching. Correct the export and run again.",
    ),
    "the one notes row set aside, its value quoted on one line and cut short": (
        {
            "files": {
                "notes.csv": b"note_id,client_id,staff_id,appointment_id,written_at,text\n"
                b'N1,C1,S1,A2,"soon\n\n' + b"x" * 5_000 + b'",Called.\n'
            }
        },
        "notes.csv: its one row was set aside, so the audit would have no notes to go on. The "
        "reason, on line 2: written_at 'soon??" + "x" * 282 + "…. Correct the export and run "
        "again.",
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
