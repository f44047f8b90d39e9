"""`auditkit import` of Excel exports (.xlsx): typed cells, sheets, headers below title rows,
unsaved formulas, and workbooks that can't be read.

Each workbook is built here with openpyxl, as the vendor's export would hold it: dates and
times typed as Excel date-times, durations as Excel times, ids and phone numbers as numbers.
All data is synthetic.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from auditkit import load
from auditkit.cli import main
from auditkit.errors import BundleError
from auditkit.importing import import_file, mapping_from_dict, preset

IMPORTS = Path(__file__).parent / "fixtures" / "imports"
SIMPLEPRACTICE_HEADER = [
    "Appointment ID", "Date", "Time", "Client ID", "Clinician ID", "Service", "Duration", "Status"
]  # fmt: skip
RINGCENTRAL_HEADER = [
    "id", "startTime", "duration", "direction", "result", "from.phoneNumber", "to.phoneNumber"
]  # fmt: skip


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return Path(shutil.copytree(IMPORTS / "bundle", tmp_path / "bundle"))


def save(book: openpyxl.Workbook, path: Path, stored_as: dict[str, str] | None = None) -> Path:
    """Save the workbook; `stored_as` rewrites numbers in the sheets' XML as another program
    stores them ('1001' as '1001.0'), for openpyxl writes a whole float without its '.0'."""
    book.save(path)
    if stored_as:
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        for name in parts:
            if name.startswith("xl/worksheets/"):
                for number, written in stored_as.items():
                    parts[name] = parts[name].replace(
                        f"<v>{number}</v>".encode(), f"<v>{written}</v>".encode()
                    )
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    return path


def written_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --- typed cells ---------------------------------------------------------------------------


def test_typed_dates_times_durations_and_float_ids_are_read_as_the_mapping_expects(
    bundle, tmp_path
):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(SIMPLEPRACTICE_HEADER)
    sheet.append([1001, dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", 90834, 50, "Show"])
    # A duration typed as a time: 0:50 in Excel is fifty minutes, not a clock to guess at.
    sheet.append(
        [1002, dt.datetime(2026, 3, 9), dt.time(13, 0), "C1", "S1", 90834, dt.time(0, 50),
         "No Show"]
    )  # fmt: skip
    # A time of day as Excel holds it, a fraction of a day (0.4375: 10:30), formatted as a time.
    sheet.append([1003, dt.datetime(2026, 3, 10), 0.4375, "C2", "S1", 90834, 45, "Show"])
    sheet["C4"].number_format = "h:mm AM/PM"
    sheet.append([1004, dt.datetime(2026, 11, 2), "4:30 PM", "C2", "S1", 90834, 50, "Canceled"])
    sheet.append(
        [1005, dt.datetime(2026, 11, 3), dt.time(9, 0), "C2", "S1", 90834, dt.time(0, 0, 50),
         "Show"]
    )  # fmt: skip
    # A plain number is no time, whatever fraction of a day it might be: marked, not guessed.
    sheet.append([1006, dt.datetime(2026, 11, 4), dt.time(9, 0), "C2", "S1", 90834, 0.0347, "Show"])
    sheet.append([1007, dt.datetime(2026, 11, 5), "17:15", "C2", "S1", 90834, 50, "Show"])
    sheet.append([1008, dt.datetime(2026, 11, 6), "at noon", "C2", "S1", 90834, 50, "Show"])
    export = save(book, tmp_path / "appointments.xlsx", stored_as={"1001": "1001.0"})

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.sheet, done.header_line) == (8, "Sheet", 1)
    assert written_rows(bundle / "appointments.csv") == [
        "appointment_id,client_id,staff_id,scheduled_start,duration_minutes,service,status",
        "1001,C1,S1,2026-03-06T13:00:00-08:00,50,90834,attended",
        "1002,C1,S1,2026-03-09T13:00:00-07:00,50,90834,no_show",
        "1003,C2,S1,2026-03-10T10:30:00-07:00,45,90834,attended",
        # a date typed by Excel and a time of day written as text: read together
        "1004,C2,S1,2026-11-02T16:30:00-08:00,50,90834,cancelled",
        "1005,C2,S1,2026-11-03T09:00:00-08:00,00:00:50 [set aside: not a whole number of "
        "minutes],90834,attended",
        "1006,C2,S1,2026-11-04T09:00:00-08:00,0.0347 [set aside: not a whole number of "
        "minutes],90834,attended",
        "1007,C2,S1,2026-11-05T17:15:00-08:00,50,90834,attended",
        "1008,C2,S1,2026-11-06 at noon [set aside: not a date-time (ISO 8601 or M/D/YYYY h:mm "
        "AM/PM)],50,90834,attended",
    ]
    minutes = "not a whole number of minutes"
    assert done.set_aside[["line", "record_id", "column", "value", "reason"]].values.tolist() == [
        [6, "1005", "duration_minutes", "00:00:50", minutes],
        [7, "1006", "duration_minutes", "0.0347", minutes],
        [9, "1008", "scheduled_start", "2026-11-06 at noon",
         "not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"],
    ]  # fmt: skip


def test_a_typed_date_whose_time_cell_is_blank_is_marked_not_read_as_midnight(bundle, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(SIMPLEPRACTICE_HEADER)
    sheet.append([1001, dt.datetime(2026, 3, 6), None, "C1", "S1", 90834, 50, "No Show"])
    # The date cell holding its time, the Time column blank: a whole time, read as it is.
    sheet.append([1002, dt.datetime(2026, 3, 9, 13), None, "C1", "S1", 90834, 50, "Show"])
    sheet.append([1003, dt.datetime(2026, 3, 10), dt.time(0, 0), "C1", "S1", 90834, 50, "Show"])
    export = save(book, tmp_path / "appointments.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert written_rows(bundle / "appointments.csv")[1:] == [
        '1001,C1,S1,"2026-03-06 [set aside: Time is blank, so the date has no time of '
        'day: not read as midnight]",50,90834,no_show',
        "1002,C1,S1,2026-03-09T13:00:00-07:00,50,90834,attended",
        "1003,C1,S1,2026-03-10T00:00:00-07:00,50,90834,attended",
    ]
    assert done.set_aside[["line", "column", "reason"]].values.tolist() == [
        [
            2,
            "scheduled_start",
            "Time is blank, so the date has no time of day: not read as midnight",
        ]
    ]


def test_a_typed_date_cell_alone_is_read_as_its_column_reads_a_date_alone(bundle, tmp_path):
    """A date cell (Excel keeps it as its midnight) is a date alone, as in a bundle's own
    workbook: an approval expiring on it applies through that day (it ended as the day began,
    and a closure warning that afternoon was a high VM003); an appointment's is no time."""
    approvals = mapping_from_dict(
        {
            "name": "Approvals sheet",
            "table": "approvals",
            "timezone": "America/New_York",
            "columns": {
                "ID": "approval_id",
                "Kind": "kind",
                "Clinician": "staff_id",
                "By": "approved_by",
                "Given": "approved_at",
                "Expires": "expires_at",
            },
        },
        "approvals.toml",
    )
    book = openpyxl.Workbook()
    book.active.append(["ID", "Kind", "Clinician", "By", "Given", "Expires"])
    given, expires = dt.datetime(2026, 11, 2), dt.datetime(2026, 11, 20)
    book.active.append(["P9", "closure_warning", "S1", "S2", given, expires])
    import_file(save(book, tmp_path / "approvals.xlsx"), bundle, approvals)
    assert written_rows(bundle / "approvals.csv")[1:] == [
        "P9,closure_warning,S1,S2,2026-11-01T21:00:00-08:00,2026-11-20T21:00:00-08:00"
    ]

    visits = mapping_from_dict(
        {
            "name": "Visits sheet",
            "table": "appointments",
            "timezone": "America/New_York",
            "columns": {"Visit": "appointment_id", "Client": "client_id",
                        "Therapist": "staff_id", "Date": "scheduled_start", "Status": "status"},
        },
        "visits.toml",
    )  # fmt: skip
    book = openpyxl.Workbook()
    book.active.append(["Visit", "Client", "Therapist", "Date", "Status"])
    book.active.append(["V1", "C1", "S1", dt.datetime(2026, 12, 3), "no_show"])
    book.active.append(["V2", "C1", "S1", dt.datetime(2026, 12, 3, 10), "attended"])
    done = import_file(save(book, tmp_path / "visits.xlsx"), bundle, visits)
    assert done.set_aside[["line", "value", "reason"]].values.tolist() == [
        [2, "2026-12-03", "a date without a time of day: not read as midnight, since a missed "
         "session's call and note deadlines are counted from such times to the minute"],
    ]  # fmt: skip


def test_excel_date_times_are_wall_times_not_read_through_the_date_format(bundle, tmp_path):
    mapping = mapping_from_dict(
        {
            "name": "Front desk sheet",
            "table": "appointments",
            "timezone": "America/New_York",
            "date_format": "%d-%b-%Y %H:%M",
            "columns": {
                "Visit #": "appointment_id",
                "Client": "client_id",
                "Therapist": "staff_id",
                "When": "scheduled_start",
                "Outcome": "status",
            },
            "values": {"status": {"came": "attended"}},
        },
        "sheet.toml",
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Visit #", "Client", "Therapist", "When", "Outcome"])
    sheet.append(["V1", "C1", "S1", dt.datetime(2026, 3, 2, 16, 0), "came"])  # typed
    sheet.append(["V2", "C1", "S1", "09-Mar-2026 16:00", "came"])  # text, in the format
    sheet.append(["V3", "C1", "S1", "2026-03-10 16:00", "came"])  # text, not in it
    export = save(book, tmp_path / "sheet.xlsx")

    done = import_file(export, bundle, mapping)

    assert written_rows(bundle / "appointments.csv")[1:3] == [
        "V1,C1,S1,2026-03-02T13:00:00-08:00,,,attended",  # 16:00 in New York
        "V2,C1,S1,2026-03-09T13:00:00-07:00,,,attended",
    ]
    assert done.set_aside[["line", "value", "reason"]].values.tolist() == [
        [
            4,
            "2026-03-10 16:00",
            "not a date-time in the Front desk sheet mapping's format %d-%b-%Y %H:%M",
        ]
    ]


def test_call_times_durations_and_numbers_stored_as_numbers(bundle, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(RINGCENTRAL_HEADER)
    # startTime is UTC (the preset's zone): 21:25:14 UTC is 13:25:14 in Los Angeles.
    sheet.append(
        ["RC-1", dt.datetime(2026, 3, 6, 21, 25, 14), 72, "Outbound", "Call connected",
         1001, 8055550127]
    )  # fmt: skip
    sheet.append(
        ["RC-2", dt.datetime(2026, 3, 9, 20, 25, 40), dt.time(0, 1, 12), "Inbound", "Voicemail",
         8055550133, 1001]
    )  # fmt: skip
    sheet.append(
        ["RC-3", dt.datetime(2026, 3, 10, 17, 0), dt.timedelta(hours=1, seconds=3), "Outbound",
         "Call connected", 1001, 442079460958]
    )  # fmt: skip
    sheet.append(
        ["RC-4", dt.datetime(2026, 3, 11, 17, 0), 5, "Outbound", "Busy", 1001, 5550000000]
    )  # fmt: skip
    export = save(
        book,
        tmp_path / "call-log.xlsx",
        stored_as={"72": "72.0", "8055550127": "8.055550127E9", "5550000000": "5.55E9"},
    )

    done = import_file(export, bundle, preset("ringcentral"))

    assert written_rows(bundle / "calls.csv") == [
        "call_id,started_at,direction,from_number,to_number,client_id,result,duration_seconds,"
        "source",
        "RC-1,2026-03-06T13:25:14-08:00,outbound,1001,+18055550127,C1,connected,72,RingCentral",
        "RC-2,2026-03-09T13:25:40-07:00,inbound,+18055550133,1001,C2,voicemail,72,RingCentral",
        "RC-3,2026-03-10T10:00:00-07:00,outbound,1001,442079460958,,connected,3603,RingCentral",
        "RC-4,2026-03-11T10:00:00-07:00,outbound,1001,5550000000,,busy,5,RingCentral",
    ]
    assert done.lost_numbers.to_dict("records") == [
        {
            "line": line,
            "record_id": call_id,
            "column": "to_number",
            "value": number,
            "reason": "stored as a number, which loses a leading 0 or +: no client is matched "
            "to it",
        }
        for line, call_id, number in [(4, "RC-3", "442079460958"), (5, "RC-4", "5550000000")]
    ]
    assert done.clients == {
        "matched": 2,
        "number shared by several clients": 0,
        "no client's number": 0,
        "no usable number": 2,
    }
    assert len(done.set_aside) == 0


# --- where the rows are: header, sheets, line numbers ---------------------------------------


def test_title_rows_above_the_header_are_skipped_and_lines_are_the_sheets_rows(bundle, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Appointments report"])
    sheet.append(["Printed 2026-03-31"])
    sheet.append([])
    sheet.append(SIMPLEPRACTICE_HEADER)  # row 4
    sheet.append(["SP-1", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"])
    sheet.append([None] * 8)  # a blank row: skipped, the rows after keep their numbers
    sheet.append(["SP-2", dt.datetime(2026, 3, 9), dt.time(13, 0), "C1", "S1", "P", 50, "Left"])
    export = save(book, tmp_path / "report.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.header_line) == (2, 4)
    assert done.set_aside[["line", "record_id", "value"]].values.tolist() == [[7, "SP-2", "Left"]]
    assert load(bundle).rejected[["file", "line", "record_id"]].values.tolist() == [
        ["appointments.csv", 3, "SP-2"]  # the bundle file's own line
    ]


def test_a_reports_parameter_rows_above_the_header_are_not_taken_for_it(bundle, tmp_path):
    """A row 'Status', 'All' holds one mapped name and was taken for the header: the header is
    the row holding the most."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Appointment Status Report"])
    sheet.append(["Status", "All"])
    sheet.append(["Clinician", "All"])
    sheet.append(SIMPLEPRACTICE_HEADER)  # row 4
    sheet.append(["SP-1", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"])
    export = save(book, tmp_path / "params.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.header_line) == (1, 4)
    assert written_rows(bundle / "appointments.csv")[1:] == [
        "SP-1,C1,S1,2026-03-06T13:00:00-08:00,50,P,attended"
    ]


def test_a_row_with_values_only_in_unmapped_columns_is_marked_not_lost(bundle, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([*SIMPLEPRACTICE_HEADER, "Comment"])
    sheet.append(["SP-1", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"])
    sheet.append([None] * 8 + ["continued from above: client phoned"])
    export = save(book, tmp_path / "report.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.unmapped_only) == (2, 1)
    assert done.set_aside[["line", "column", "reason"]].values.tolist() == [
        [3, "scheduled_start",
         "holds values only in columns the SimplePractice mapping doesn't read (Comment)"],
    ]  # fmt: skip
    assert written_rows(bundle / "appointments.csv")[2] == (
        ",,,[set aside: line 3 of report.xlsx holds values only in columns the SimplePractice "
        "mapping doesn't read (Comment)],,,"
    )


def calls_workbook(path: Path) -> Path:
    """A workbook whose first sheet is a summary and whose second, 'Calls', the call log."""
    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active.append(["Calls in March", 2])
    calls = book.create_sheet("Calls")
    calls.append(RINGCENTRAL_HEADER)
    calls.append(
        ["RC-1", dt.datetime(2026, 3, 6, 21, 25, 14), 72, "Outbound", "Call connected",
         1001, 8055550127]
    )  # fmt: skip
    calls.append(
        ["RC-2", dt.datetime(2026, 3, 9, 20, 25, 40), 31, "Outbound", "Blocked", 1001,
         "=A2"]
    )  # fmt: skip
    return save(book, path)


def test_a_hidden_first_sheet_is_passed_over_for_the_first_visible_one(bundle, tmp_path):
    """A hidden sheet, which the user never sees in Excel, was read when no sheet was named."""
    book = openpyxl.Workbook()
    hidden = book.active
    hidden.title = "Old"
    hidden.sheet_state = "hidden"
    hidden.append(SIMPLEPRACTICE_HEADER)
    hidden.append(["OLD-1", dt.datetime(2025, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"])
    march = book.create_sheet("March")
    march.append(SIMPLEPRACTICE_HEADER)
    march.append(["SP-1", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"])
    export = save(book, tmp_path / "report.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.sheet, done.alike_sheets) == (1, "March", ())
    assert written_rows(bundle / "appointments.csv")[1:] == [
        "SP-1,C1,S1,2026-03-06T13:00:00-08:00,50,P,attended"
    ]


def test_other_visible_sheets_with_the_same_columns_are_named_not_left_silently(
    bundle, tmp_path, capsys
):
    """Monthly sheets: only the first was read, and nothing said the others' rows were not."""
    book = openpyxl.Workbook()
    for k, month in enumerate(["Jan", "Feb", "Mar"]):
        sheet = book.active if k == 0 else book.create_sheet(month)
        sheet.title = month
        sheet.append([f"Appointments, {month} 2026"])
        sheet.append(SIMPLEPRACTICE_HEADER)
        sheet.append(
            [f"SP-{k}", dt.datetime(2026, k + 1, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"]
        )
    book.create_sheet("Notes").append(["Status", "meaning"])  # one mapped name: not alike
    book.create_sheet("Archive").append(SIMPLEPRACTICE_HEADER)
    book["Archive"].sheet_state = "hidden"
    export = save(book, tmp_path / "months.xlsx")

    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Imported 1 row of months.xlsx, sheet 'Jan', header on row 2 ")
    assert out[1] == (
        "Sheets Feb, Mar hold the same columns and were not read: import each with --sheet."
    )


def test_years_of_monthly_sheets_are_named_ten_and_counted(bundle, tmp_path, capsys):
    book = openpyxl.Workbook()
    for k in range(13):
        sheet = book.active if k == 0 else book.create_sheet()
        sheet.title = f"M{k}"
        sheet.append(SIMPLEPRACTICE_HEADER)
        sheet.append(
            [f"SP-{k}", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show"]
        )
    export = save(book, tmp_path / "months.xlsx")

    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 0

    assert capsys.readouterr().out.splitlines()[1] == (
        "Sheets M1, M2, M3, M4, M5, M6, M7, M8, M9, M10 and 2 more hold the same columns and "
        "were not read: import each with --sheet."
    )


def test_a_named_sheet_is_read_and_named_in_what_is_set_aside(bundle, tmp_path):
    export = calls_workbook(tmp_path / "phone.xlsx")

    done = import_file(export, bundle, preset("ringcentral"), sheet="calls")  # any case

    assert (done.rows, done.sheet) == (2, "Calls")
    assert written_rows(bundle / "calls.csv")[1:] == [
        "RC-1,2026-03-06T13:25:14-08:00,outbound,1001,+18055550127,C1,connected,72,RingCentral",
        'RC-2,"[set aside: line 3 of phone.xlsx (sheet Calls) has a formula with no saved '
        "value in to.phoneNumber (=A2): open the workbook in Excel and save it, so its values "
        'are stored]",,,,,,,RingCentral',  # in started_at, which the loader parses
    ]
    assert done.set_aside.to_dict("records") == [
        {
            "line": 3,
            "record_id": "RC-2",
            "column": "started_at",
            "value": "",
            "reason": "has a formula with no saved value in to.phoneNumber (=A2): open the "
            "workbook in Excel and save it, so its values are stored",
        }
    ]
    assert done.unsaved_formulas == 1
    assert load(bundle).rejected[["file", "line", "record_id", "column"]].values.tolist() == [
        ["calls.csv", 3, "RC-2", "started_at"]
    ]


def test_the_first_sheet_is_read_unless_one_is_named_and_the_others_are_named(bundle, tmp_path):
    """The message listed the summary sheet's "Columns found: Calls in March, 2" and did not
    say the workbook had other sheets, or how to read one."""
    export = calls_workbook(tmp_path / "phone.xlsx")
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("ringcentral"))
    assert str(stopped.value) == (
        "phone.xlsx has no 'id' column, which the RingCentral mapping reads as call_id. "
        "Columns found: Calls in March, 2. Sheet Summary was read; the workbook's other "
        "sheets: Calls. Name the one holding the export (auditkit import --sheet NAME)."
    )
    # The call log hidden: the visible summary is read, and the hidden sheet named so.
    book = openpyxl.load_workbook(export)
    book["Calls"].sheet_state = "hidden"
    hidden = save(book, tmp_path / "hidden.xlsx")
    with pytest.raises(BundleError) as stopped:
        import_file(hidden, bundle, preset("ringcentral"))
    assert str(stopped.value).endswith(
        "the workbook's other sheets: Calls (hidden). Name the one holding the export "
        "(auditkit import --sheet NAME)."
    )


def test_an_unknown_sheet_is_refused_listing_the_sheets(bundle, tmp_path):
    export = calls_workbook(tmp_path / "phone.xlsx")
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("ringcentral"), sheet="Call log")
    assert str(stopped.value) == (
        "phone.xlsx has no sheet named 'Call log'. Its sheets: 'Summary', 'Calls'. Name one of "
        "them (auditkit import --sheet NAME)."
    )


def test_a_formula_in_a_column_the_mapping_does_not_read_sets_nothing_aside(bundle, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([*SIMPLEPRACTICE_HEADER, "Fee"])
    sheet.append(
        ["SP-1", dt.datetime(2026, 3, 6), dt.time(13, 0), "C1", "S1", "P", 50, "Show", "=G2*3"]
    )
    export = save(book, tmp_path / "fees.xlsx")

    done = import_file(export, bundle, preset("simplepractice"))

    assert (done.rows, done.unsaved_formulas, len(done.set_aside)) == (1, 0, 0)
    assert written_rows(bundle / "appointments.csv")[1:] == [
        "SP-1,C1,S1,2026-03-06T13:00:00-08:00,50,P,attended"
    ]


def test_a_mapped_column_named_twice_is_refused(bundle, tmp_path):
    book = openpyxl.Workbook()
    book.active.append([*SIMPLEPRACTICE_HEADER, "status"])
    export = save(book, tmp_path / "twice.xlsx")
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("simplepractice"))
    assert str(stopped.value) == (
        "twice.xlsx has 2 columns named 'Status' (case, spaces and hyphens don't matter), which "
        "the SimplePractice mapping reads as status: it can't tell which to read. Rename or "
        "remove the others."
    )


# --- workbooks that can't be read ------------------------------------------------------------

_OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")
_REMAKE = "open it in Excel and save it as an Excel Workbook (.xlsx), or export it again."
UNREADABLE = {
    "cut short": (
        "cut.xlsx",
        None,
        "cut.xlsx cannot be read as an Excel workbook: File is not a zip file. It may be "
        f"damaged, or another kind of file named .xlsx: {_REMAKE}",
    ),
    "a zip of something else": (
        "archive.xlsx",
        "zip",
        "archive.xlsx cannot be read as an Excel workbook: There is no item named "
        "'[Content_Types].xml' in the archive. It may be damaged, or another kind of file named "
        f".xlsx: {_REMAKE}",
    ),
    "empty": ("empty.xlsx", b"", "empty.xlsx is empty (0 bytes), so it holds no workbook. "
              "Export it again."),
    "an old .xls": (
        "old.xls",
        _OLE2 + bytes(504),
        "old.xls is an Excel 97-2003 workbook (.xls), a format auditkit does not read. Open it "
        "in Excel and save it as an Excel Workbook (.xlsx), or as CSV, and use that.",
    ),
    "an old .xls named .xlsx": (
        "renamed.xlsx",
        _OLE2 + bytes(504),
        "renamed.xlsx is an Excel 97-2003 workbook (.xls), a format auditkit does not read. "
        "Open it in Excel and save it as an Excel Workbook (.xlsx), or as CSV, and use that.",
    ),
    "password-protected": (
        "locked.xlsx",
        _OLE2 + bytes(504) + "EncryptedPackage".encode("utf-16-le") + bytes(64),
        "locked.xlsx is protected with a password, so auditkit cannot read it. Open it in "
        "Excel, remove the password (File > Info > Protect Workbook > Encrypt with Password, "
        "and clear it), save it, and use that.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_workbook_that_cannot_be_read_stops_in_one_paragraph(bundle, tmp_path, case):
    name, data, message = UNREADABLE[case]
    export = tmp_path / name
    if data is None:  # a real workbook, cut short
        whole = calls_workbook(tmp_path / "whole.xlsx").read_bytes()
        export.write_bytes(whole[: len(whole) // 2])
    elif data == "zip":
        with zipfile.ZipFile(export, "w") as archive:
            archive.writestr("notes.txt", "not a workbook")
    else:
        export.write_bytes(data)
    before = (bundle / "appointments.csv").read_bytes()

    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("simplepractice"))

    assert str(stopped.value) == message
    assert (bundle / "appointments.csv").read_bytes() == before


def test_a_workbook_whose_sheet_is_empty_says_so(bundle, tmp_path):
    book = openpyxl.Workbook()
    book.active.append([None, None])
    export = save(book, tmp_path / "blank.xlsx")
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("simplepractice"))
    assert str(stopped.value) == "blank.xlsx is empty: it has no header row and no records."


def test_a_sheet_is_named_only_for_a_workbook(bundle):
    with pytest.raises(BundleError) as stopped:
        import_file(IMPORTS / "epic_appointments.csv", bundle, preset("epic"), sheet="Sheet1")
    assert str(stopped.value) == (
        "epic_appointments.csv is a CSV file, which has no sheets: name a sheet only for an "
        "Excel workbook (.xlsx)."
    )


def test_an_export_of_another_format_is_refused_naming_those_read(bundle, tmp_path):
    export = tmp_path / "export.ods"
    export.write_bytes(b"PK")
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("simplepractice"))
    assert str(stopped.value) == (
        "export.ods: auditkit import reads CSV (.csv) and Excel (.xlsx) exports; save it as one "
        "of those."
    )


# --- the command line ------------------------------------------------------------------------


def test_import_command_reads_a_named_sheet_and_tells_what_it_could_not(bundle, tmp_path, capsys):
    export = calls_workbook(tmp_path / "phone.xlsx")
    book = openpyxl.load_workbook(export)
    book["Calls"].append(
        ["RC-3", dt.datetime(2026, 3, 10, 17, 0), 5, "Outbound", "Busy", 1001, 2079460958.0]
    )
    book["Calls"].append(
        ["RC-4", dt.datetime(2026, 3, 10, 18, 0), 5, "Outbound", "Busy", 1001, 79460958]
    )
    book.save(export)

    code = main(
        ["import", str(export), "--preset", "ringcentral", "--sheet", "Calls", "--into",
         str(bundle)]
    )  # fmt: skip

    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"Imported 4 rows of phone.xlsx, sheet 'Calls' (preset ringcentral) into "
        f"{bundle / 'calls.csv'}.\n"
    )
    assert (
        "\n1 row with a formula whose value the workbook never saved (written by a program, not "
        "saved from Excel): written to calls.csv with the id alone and marked, so the loader "
        "sets such rows aside (auditkit validate). Open the workbook in Excel, save it, and "
        "import it again.\n"
    ) in out
    assert out.endswith(
        "\n1 phone number stored by Excel as a number, which loses a leading 0 or +, so which "
        "number it was can't be told: written as its digits and matched to no client. Format "
        "those columns as Text where the export is made, and import it again.\n"
        "line record_id    column    value" + " " * 71 + "reason\n"
        "   5      RC-4 to_number 79460958 stored as a number, which loses a leading 0 or +: no "
        "client is matched to it\n"
    )


def test_import_command_with_an_unknown_sheet_exits_2_listing_the_sheets(bundle, tmp_path, capsys):
    export = str(calls_workbook(tmp_path / "phone.xlsx"))
    args = ["import", export, "--preset", "ringcentral", "--sheet", "Log", "--into", str(bundle)]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert " ".join(err.split()) == (
        "auditkit: phone.xlsx has no sheet named 'Log'. Its sheets: 'Summary', 'Calls'. Name "
        "one of them (auditkit import --sheet NAME)."
    )


def test_import_command_with_a_corrupt_workbook_exits_2_without_a_traceback(
    bundle, tmp_path, capsys
):
    export = tmp_path / "calls.xlsx"
    export.write_bytes(b"PK\x03\x04 not really a workbook")
    args = ["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert " ".join(err.split()) == (
        "auditkit: calls.xlsx cannot be read as an Excel workbook: File is not a zip file. It "
        f"may be damaged, or another kind of file named .xlsx: {_REMAKE}"
    )
    assert not (bundle / "calls.csv").exists()


def test_an_imported_workbook_loads_and_audits_like_an_imported_csv(bundle, tmp_path):
    """The same call log as the CSV fixture, as a workbook of typed cells: the same table."""
    log = pd.read_csv(IMPORTS / "ringcentral_call_log.csv", dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(log.columns))
    starts = pd.to_datetime(log["startTime"]).dt.tz_localize(None).dt.to_pydatetime()
    for row, start in zip(log.itertuples(index=False), starts, strict=True):  # building it
        cells = [value or None for value in row]
        cells[2], cells[3] = start, int(row.duration)
        sheet.append(cells)
    import_file(save(book, tmp_path / "calls.xlsx"), bundle, preset("ringcentral"))
    from_xlsx = load(bundle).calls

    other = Path(shutil.copytree(IMPORTS / "bundle", tmp_path / "other"))
    import_file(IMPORTS / "ringcentral_call_log.csv", other, preset("ringcentral"))
    from_csv = load(other).calls

    # The CSV's times have milliseconds (.354Z); the bundle writes whole seconds from both.
    pd.testing.assert_frame_equal(from_xlsx, from_csv)
