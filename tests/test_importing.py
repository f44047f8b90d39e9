"""`auditkit import`: vendor exports through presets and mapping files into a bundle that loads.

tests/fixtures/imports holds one export per preset, written from the vendor's published format
(README.md there says from what, and what is assumed), each with rows on both sides of the 2026
daylight-saving changes and one deliberately unreadable row; and a bundle to import them into
(C3 and C4 are siblings with one phone number).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from auditkit import importing, load
from auditkit.cli import main
from auditkit.errors import BundleError, MappingError
from auditkit.importing import PRESETS, import_file, load_mapping, mapping_from_dict, preset
from auditkit.phones import to_e164

IMPORTS = Path(__file__).parent / "fixtures" / "imports"
APPOINTMENT_COLUMNS = [
    "appointment_id",
    "client_id",
    "staff_id",
    "scheduled_start",
    "duration_minutes",
    "service",
    "status",
]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return Path(shutil.copytree(IMPORTS / "bundle", tmp_path / "bundle"))


def appointments(folder: Path) -> dict[str, tuple[str, str]]:
    """appointment_id -> (scheduled_start as ISO with offset, status), as loaded."""
    frame = load(folder).appointments
    starts = frame["scheduled_start"].map(pd.Timestamp.isoformat)
    return dict(
        zip(frame["appointment_id"], zip(starts, frame["status"], strict=True), strict=True)
    )


def rejected(folder: Path) -> list[tuple[str, int, str, str]]:
    frame = load(folder).rejected
    return list(zip(frame["file"], frame["line"], frame["record_id"], frame["column"], strict=True))


def test_every_preset_has_a_fixture():
    expected = ["epic", "ringcentral", "simplepractice", "theranest", "therapynotes", "zoom_phone"]
    assert list(PRESETS) == expected
    for name in PRESETS:
        assert len(list(IMPORTS.glob(f"{name}_*.csv"))) == 1, name


# --- appointment presets ---------------------------------------------------------------------


def test_simplepractice_statuses_and_times(bundle):
    done = import_file(
        IMPORTS / "simplepractice_appointments.csv", bundle, preset("simplepractice")
    )
    assert (done.path, done.rows, done.replaced) == (bundle / "appointments.csv", 8, 0)
    assert appointments(bundle) == {
        "SP-1001": ("2026-03-06T13:00:00-08:00", "attended"),
        "SP-1002": ("2026-03-09T13:00:00-07:00", "no_show"),
        "SP-1003": ("2026-03-10T10:00:00-07:00", "late_cancel"),
        "SP-1004": ("2026-03-11T10:00:00-07:00", "late_cancel"),
        "SP-1005": ("2026-10-30T16:30:00-07:00", "cancelled"),
        "SP-1006": ("2026-11-02T16:30:00-08:00", "cancelled"),
        "SP-1007": ("2026-11-03T09:00:00-08:00", "cancelled"),
    }
    assert rejected(bundle) == [("appointments.csv", 9, "SP-1008", "status")]
    assert done.set_aside.to_dict("records") == [
        {
            "line": 9,
            "record_id": "SP-1008",
            "column": "status",
            "value": "Walked Out",
            "reason": "the SimplePractice mapping has no status for it",
        }
    ]
    written = pd.read_csv(bundle / "appointments.csv", dtype=str)
    assert list(written.columns) == APPOINTMENT_COLUMNS  # no fee, no billing code
    assert written["status"].iloc[-1] == (
        "Walked Out [set aside: the SimplePractice mapping has no status for it]"
    )


def test_therapynotes_reads_the_status_with_the_charge_fee_box(bundle):
    import_file(IMPORTS / "therapynotes_appointments.csv", bundle, preset("therapynotes"))
    assert appointments(bundle) == {
        "TN-501": ("2026-03-07T09:00:00-08:00", "attended"),
        "TN-502": ("2026-03-09T09:00:00-07:00", "no_show"),  # Missed, fee charged
        "TN-503": ("2026-03-10T11:00:00-07:00", "no_show"),  # Missed, fee waived
        "TN-504": ("2026-03-12T11:00:00-07:00", "late_cancel"),  # Canceled, fee charged
        "TN-505": ("2026-03-13T11:00:00-07:00", "cancelled"),  # Canceled, no fee
        "TN-506": ("2026-10-31T10:00:00-07:00", "cancelled"),  # Canceled, box blank
        "TN-507": ("2026-11-02T10:00:00-08:00", "no_show"),
    }
    assert rejected(bundle) == [("appointments.csv", 9, "TN-508", "status")]
    written = pd.read_csv(bundle / "appointments.csv", dtype=str)
    assert "Ortiz" not in written.to_csv()  # the patient's name column is not carried over


def test_theranest_sets_aside_upcoming_sessions(bundle):
    done = import_file(IMPORTS / "theranest_appointments.csv", bundle, preset("theranest"))
    assert appointments(bundle) == {
        "TH-2201": ("2026-03-07T11:00:00-08:00", "attended"),
        "TH-2202": ("2026-03-09T11:00:00-07:00", "no_show"),
        "TH-2203": ("2026-03-10T14:00:00-07:00", "late_cancel"),
        "TH-2204": ("2026-03-11T14:00:00-07:00", "rescheduled"),
        "TH-2205": ("2026-10-30T15:00:00-07:00", "cancelled"),
        "TH-2206": ("2026-11-02T15:00:00-08:00", "no_show"),
    }
    assert done.set_aside[["line", "value", "reason"]].to_dict("records") == [
        {
            "line": 8,
            "value": "Upcoming",
            "reason": "TheraNest's Upcoming: never marked kept, no-show or cancelled",
        }
    ]
    assert rejected(bundle) == [("appointments.csv", 8, "TH-2207", "status")]


def test_epic_sets_aside_scheduled_and_left_without_seen(bundle):
    done = import_file(IMPORTS / "epic_appointments.csv", bundle, preset("epic"))
    assert appointments(bundle) == {
        "720000001": ("2026-03-07T14:00:00-08:00", "attended"),
        "720000002": ("2026-03-09T14:00:00-07:00", "no_show"),
        "720000003": ("2026-03-10T08:30:00-07:00", "attended"),
        "720000004": ("2026-03-12T08:30:00-07:00", "cancelled"),
        "720000005": ("2026-10-30T16:00:00-07:00", "attended"),
        "720000006": ("2026-11-02T16:00:00-08:00", "no_show"),
    }
    assert done.set_aside["value"].tolist() == ["Scheduled", "Left without seen"]
    reasons = load(bundle).rejected["reason"].tolist()
    assert reasons == [
        "status 'Scheduled [set aside: Epic's Scheduled: never marked arrived, completed or "
        "no-show]' is not one of: attended, no_show, late_cancel, cancelled, rescheduled",
        "status 'Left without seen [set aside: Epic's Left without seen: came in but was not "
        "seen, so neither attended nor missed]' is not one of: attended, no_show, late_cancel, "
        "cancelled, rescheduled",
    ]


# --- call-log presets --------------------------------------------------------------------------


def calls(folder: Path) -> dict[str, tuple]:
    """call_id -> (started_at ISO, direction, client_id, result, duration), as loaded."""
    frame = load(folder).calls
    return {
        row.call_id: (
            row.started_at.isoformat(),
            row.direction,
            None if pd.isna(row.client_id) else row.client_id,
            row.result,
            int(row.duration_seconds),
        )
        for row in frame.itertuples()
    }


def test_ringcentral_utc_times_results_and_client_numbers(bundle):
    done = import_file(IMPORTS / "ringcentral_call_log.csv", bundle, preset("ringcentral"))
    assert (done.path, done.rows) == (bundle / "calls.csv", 10)
    assert calls(bundle) == {
        "Q3kq9oWe1aB2cD0": ("2026-03-06T13:25:14-08:00", "outbound", "C1", "connected", 72),
        "Q3kq9oWe1aB2cD1": ("2026-03-09T13:25:40-07:00", "outbound", "C1", "no_answer", 31),
        "Q3kq9oWe1aB2cD2": ("2026-03-10T10:02:03-07:00", "inbound", "C2", "no_answer", 0),
        "Q3kq9oWe1aB2cD3": ("2026-03-10T10:04:51-07:00", "inbound", "C2", "voicemail", 38),
        "Q3kq9oWe1aB2cD4": ("2026-03-11T11:15:00-07:00", "outbound", None, "busy", 20),
        "Q3kq9oWe1aB2cD5": ("2026-03-11T11:30:00-07:00", "outbound", None, "hang_up", 5),
        # 01:30 twice on 1 November: 08:30Z is daylight time, 09:30Z standard time
        "Q3kq9oWe1aB2cD6": ("2026-11-01T01:30:00-07:00", "outbound", "C1", "connected", 95),
        "Q3kq9oWe1aB2cD7": ("2026-11-01T01:30:00-08:00", "outbound", "C1", "no_answer", 25),
        "Q3kq9oWe1aB2cD9": ("2026-11-02T10:00:00-08:00", "inbound", None, "connected", 41),
    }
    assert done.clients == {
        "matched": 7,
        "number shared by several clients": 1,
        "no client's number": 1,
        "no usable number": 1,
    }
    assert rejected(bundle) == [("calls.csv", 10, "Q3kq9oWe1aB2cD8", "result")]
    assert load(bundle).calls["source"].unique().tolist() == ["RingCentral"]


def test_zoom_phone_numbers_in_any_format_match_clients(bundle):
    import_file(IMPORTS / "zoom_phone_call_logs.csv", bundle, preset("zoom_phone"))
    assert calls(bundle) == {
        "a9c1f0e2-0001": ("2026-03-07T13:00:05-08:00", "outbound", "C1", "connected", 64),
        "a9c1f0e2-0002": ("2026-03-09T13:00:05-07:00", "outbound", "C1", "no_answer", 28),
        "a9c1f0e2-0003": ("2026-10-31T13:10:00-07:00", "inbound", "C2", "connected", 312),
        "a9c1f0e2-0004": ("2026-11-02T13:10:00-08:00", "inbound", "C2", "voicemail", 44),
    }
    written = pd.read_csv(bundle / "calls.csv", dtype=str, keep_default_na=False)
    assert written[["from_number", "to_number"]].values.tolist() == [
        ["1001", "+18055550127"],  # the clinic's extension stays as the export had it
        ["1001", "+18055550127"],
        ["+18055550133", "1001"],
        ["+18055550133", "1001"],
        ["1001", "+17475550185"],
    ]
    assert rejected(bundle) == [("calls.csv", 6, "a9c1f0e2-0005", "result")]


def test_an_imported_call_log_is_audited(bundle):
    import_file(IMPORTS / "ringcentral_call_log.csv", bundle, preset("ringcentral"))
    from auditkit import audit

    result = audit(load(bundle))
    # K1, logged at 13:25 on 6 March, is the phone system's 13:25:14 call; nothing else was.
    lg001 = result.findings[result.findings["rule"] == "LG001"]
    assert lg001["subject_id"].tolist() == [
        "Q3kq9oWe1aB2cD1",
        "Q3kq9oWe1aB2cD2",
        "Q3kq9oWe1aB2cD3",
        "Q3kq9oWe1aB2cD4",
        "Q3kq9oWe1aB2cD6",
        "Q3kq9oWe1aB2cD7",
    ]
    assert result.compliance.set_index("rule").loc["LG002"].tolist() == [1, 0, 1.0]


# --- merging into the bundle ------------------------------------------------------------------


def test_a_second_import_replaces_rows_with_the_same_id_and_keeps_the_rest(bundle, tmp_path):
    import_file(IMPORTS / "epic_appointments.csv", bundle, preset("epic"))
    import_file(IMPORTS / "simplepractice_appointments.csv", bundle, preset("simplepractice"))
    changed = tmp_path / "later.csv"
    text = (IMPORTS / "simplepractice_appointments.csv").read_text()
    changed.write_text(text.replace("50,90834,$150.00,No Show", "50,90834,$150.00,Show"))
    done = import_file(changed, bundle, preset("simplepractice"))
    assert (done.rows, done.replaced) == (8, 8)
    loaded = appointments(bundle)
    assert len(loaded) == 13
    assert loaded["SP-1002"] == ("2026-03-09T13:00:00-07:00", "attended")
    assert loaded["720000002"] == ("2026-03-09T14:00:00-07:00", "no_show")
    assert not list(bundle.glob(".*.tmp"))


def test_rows_of_the_wrong_width_are_written_marked_with_their_id(bundle, tmp_path):
    export = tmp_path / "export.csv"
    lines = (IMPORTS / "simplepractice_appointments.csv").read_text().splitlines()
    export.write_text("\n".join([*lines[:3], "SP-1099,03/12/2026,9:00 AM,C1,S1", *lines[3:]]))
    done = import_file(export, bundle, preset("simplepractice"))
    assert (done.rows, done.malformed) == (9, 1)
    assert done.set_aside.to_dict("records")[0] == {
        "line": 4,
        "record_id": "SP-1099",
        "column": "scheduled_start",
        "value": "",
        "reason": "has 5 fields; the header has 10",
    }
    assert rejected(bundle) == [
        ("appointments.csv", 4, "SP-1099", "scheduled_start"),
        ("appointments.csv", 10, "SP-1008", "status"),
    ]


MESSY = IMPORTS / "messy"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_title_lines_above_a_csv_exports_header_are_skipped_as_a_workbooks_are(
    bundle, tmp_path, capsys, encoding
):
    """A report's title above the header stopped a CSV export ("no 'Appointment ID' column
    ... Columns found: Appointments Report"), where the same report as a workbook imported."""
    export = tmp_path / "report.csv"
    report = (IMPORTS / "simplepractice_appointments.csv").read_text()
    title = 'Appointments report\n"Printed 31/03/2026, by Café staff"\n\n'
    export.write_bytes((title + report).encode(encoding))

    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 0

    out = capsys.readouterr().out
    assert out.startswith(
        "Imported 8 rows of report.csv, header on line 4 (preset simplepractice) into "
    )
    assert "  12   SP-1008 status Walked Out" in out  # the export's own line: 9 below the title
    plain = tmp_path / "plain"
    shutil.copytree(IMPORTS / "bundle", plain)
    import_file(IMPORTS / "simplepractice_appointments.csv", plain, preset("simplepractice"))
    assert (bundle / "appointments.csv").read_bytes() == (plain / "appointments.csv").read_bytes()


def test_a_reports_parameter_lines_above_the_header_are_not_taken_for_it(bundle, tmp_path, capsys):
    """'Status,All' holds one mapped name and was taken for the header ("no 'Appointment ID'
    column ... Columns found: Status, All"): the header is the record holding the most."""
    export = tmp_path / "params.csv"
    export.write_text(
        "Appointment Status Report\n"
        "Status,All\n"
        "Clinician,All\n"
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status\n"
        "SP-1,03/06/2026,1:00 PM,C1,S1,Psychotherapy,50,Show\n"
    )

    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 0

    assert capsys.readouterr().out.startswith(
        "Imported 1 row of params.csv, header on line 4 (preset simplepractice) into "
    )
    assert appointments(bundle)["SP-1"] == ("2026-03-06T13:00:00-08:00", "attended")


def test_a_web_page_saved_as_the_export_is_named_for_what_it_is(bundle, tmp_path, capsys):
    """A portal's sign-in page saved as the export: "Columns found: <html><body>login..."."""
    export = tmp_path / "export.csv"
    export.write_text("<html><body>login</body></html>\n")
    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: export.csv is not a CSV file: it is a web page (HTML), not a CSV export (a "
        "portal's sign-in or error page saved under the export's name, say). To audit it, sign "
        "in and export the table again as CSV (comma delimited)."
    )


def test_two_digit_years_are_named_with_the_date_format_that_reads_them(bundle, tmp_path):
    """'3/5/26' was set aside as "not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)", which
    did not say what was wrong with it or what to do."""
    export = tmp_path / "export.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status\n"
        "SP-1,03/06/2026,1:00 PM,C1,S1,Psychotherapy,50,Show\n"
        "SP-2,3/5/26,1:00 PM,C1,S1,Psychotherapy,50,Show\n"
        "SP-3,soon,1:00 PM,C1,S1,Psychotherapy,50,Show\n"
    )
    done = import_file(export, bundle, preset("simplepractice"))
    assert done.set_aside[["line", "value", "reason"]].values.tolist() == [
        [3, "3/5/26 1:00 PM",
         "not read: the export writes 2-digit years ('3/5/26 1:00 PM'), and without a "
         "date_format M/D/YYYY is read; give the SimplePractice mapping a date_format that "
         "reads them (%m/%d/%y %I:%M %p, say, or %m/%d/%y %H:%M)"],
        [4, "soon 1:00 PM", "not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"],
    ]  # fmt: skip
    read = import_file(
        export, bundle, replace(preset("simplepractice"), date_format="%m/%d/%y %I:%M %p")
    )
    assert read.set_aside["line"].tolist() == [2, 4]  # now 03/06/2026 is the one not read


def test_a_call_logs_cells_as_excels_text_formulas_import_as_their_text(bundle, tmp_path):
    """`="81470001"` (an id kept from Excel's rounding) was imported as written, and matched
    nothing in the bundle; numbers too, `="+18055550127"`."""
    log = (IMPORTS / "ringcentral_call_log.csv").read_text()
    wrapped = tmp_path / "calls.csv"
    wrapped.write_text(re.sub(r"(?m)^([^,]+),(\d+),", r'"=""\1""","=""\2""",', log))
    wrapped.write_text(re.sub(r",(\+1\d{10})", r',"=""\1"""', wrapped.read_text()))
    assert wrapped.read_text().count('"=""') == 10 + 10 + 19

    done = import_file(wrapped, bundle, preset("ringcentral"))

    plain = tmp_path / "plain"
    shutil.copytree(IMPORTS / "bundle", plain)
    expected = import_file(IMPORTS / "ringcentral_call_log.csv", plain, preset("ringcentral"))
    assert done.clients == expected.clients
    assert (bundle / "calls.csv").read_bytes() == (plain / "calls.csv").read_bytes()


def test_a_csv_export_whose_first_records_name_no_mapped_column_still_stops_in_words(
    bundle, tmp_path, capsys
):
    export = tmp_path / "report.csv"
    export.write_text("Appointments report\nnothing,here\n1,2\n")
    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: report.csv has no 'Appointment ID' column, which the SimplePractice mapping "
        "reads as appointment_id. Columns found: Appointments report."
    )


def test_an_export_that_writes_the_day_first_is_refused_until_its_mapping_reads_it(
    bundle, tmp_path
):
    """A clinic whose system writes 06/03/2026 for 6 March: read month first, every date up to
    the 12th was a month off and only the rest were refused. The mapping's date_format reads
    it."""
    export = tmp_path / "appointments.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status\n"
        "SP-1,06/03/2026,1:00 PM,C1,S1,Psychotherapy,50,Show\n"
        "SP-2,13/03/2026,1:00 PM,C1,S1,Psychotherapy,50,No Show\n"
    )
    mapping = preset("simplepractice")
    with pytest.raises(BundleError) as refused:
        import_file(export, bundle, mapping)
    assert str(refused.value) == (
        "appointments.csv: none of its 2 rows could be imported, so nothing was written: the "
        "loader would set every one aside. The commonest reason (2 of them), first on line 2: "
        "not read: the export writes dates day first ('13/03/2026 1:00 PM' reads no other way), "
        "and without a date_format M/D/YYYY is read; give the SimplePractice mapping a "
        "date_format that reads them (%d/%m/%Y and the time's format) ('06/03/2026 1:00 PM'). "
        "Correct the export (or the mapping) and import it again."
    )

    import_file(export, bundle, replace(mapping, date_format="%d/%m/%Y %I:%M %p"))
    assert appointments(bundle) == {
        "SP-1": ("2026-03-06T13:00:00-08:00", "attended"),
        "SP-2": ("2026-03-13T13:00:00-07:00", "no_show"),
    }


def test_unquoted_commas_leave_rows_the_loader_sets_aside_naming_the_export_line(bundle):
    """An unquoted comma ("Psychotherapy, individual", "$1,500.00") gives a row one field too
    many: it was reported "not imported" and then gone, the audit showing no trace of it."""
    done = import_file(
        MESSY / "simplepractice_unquoted_commas.csv", bundle, preset("simplepractice")
    )
    assert (done.rows, done.malformed) == (4, 2)
    written = (bundle / "appointments.csv").read_text().splitlines()
    assert written[2:4] == [
        "SP-5002,,,[set aside: line 3 of simplepractice_unquoted_commas.csv has 11 fields; the "
        "header has 10],,,",
        "SP-5003,,,[set aside: line 4 of simplepractice_unquoted_commas.csv has 11 fields; the "
        "header has 10],,,",
    ]
    loaded = load(bundle)
    assert loaded.appointments["appointment_id"].tolist() == ["SP-5001", "SP-5004"]
    assert loaded.rejected[["line", "record_id", "column", "reason"]].values.tolist() == [
        [
            line,
            record_id,
            "scheduled_start",
            f"scheduled_start '[set aside: line {line} of simplepractice_unquoted_commas.csv has "
            "11 fields; the header has 10]' is not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)",
        ]
        for line, record_id in [(3, "SP-5002"), (4, "SP-5003")]
    ]


def test_the_audit_lists_the_rows_of_the_wrong_width_in_rejected_csv(bundle, tmp_path, capsys):
    export = str(MESSY / "simplepractice_unquoted_commas.csv")
    assert main(["import", export, "--preset", "simplepractice", "--into", str(bundle)]) == 0
    assert main(["audit", str(bundle), "--out", str(tmp_path / "out")]) in (0, 1)
    listed = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str)
    assert listed[["file", "line", "record_id"]].values.tolist() == [
        ["appointments.csv", "3", "SP-5002"],
        ["appointments.csv", "4", "SP-5003"],
    ]
    assert listed["reason"].str.contains("of simplepractice_unquoted_commas.csv has 11").all()


def test_an_export_whose_every_row_is_the_wrong_width_stops_and_writes_nothing(bundle, capsys):
    export = str(MESSY / "simplepractice_every_row_unquoted.csv")
    before = (bundle / "appointments.csv").read_bytes()
    assert main(["import", export, "--preset", "simplepractice", "--into", str(bundle)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert " ".join(err.split()) == (
        "auditkit: simplepractice_every_row_unquoted.csv: none of its 3 rows could be imported, "
        "so nothing was written: the loader would set every one aside. The commonest reason "
        "(2 of them), first on line 2: has 11 fields; the header has 10. Correct the export "
        "(or the mapping) and import it again."
    )
    assert (bundle / "appointments.csv").read_bytes() == before


def test_an_export_whose_every_row_has_an_unreadable_value_stops(bundle, tmp_path):
    export = tmp_path / "walked.csv"
    lines = (IMPORTS / "simplepractice_appointments.csv").read_text().splitlines()
    export.write_text("\n".join([lines[0], lines[-1]]) + "\n")  # SP-1008, Walked Out
    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, preset("simplepractice"))
    assert str(stopped.value) == (
        "walked.csv: its one row could not be imported, so nothing was written: the loader "
        "would set every one aside. The reason, on line 2: the SimplePractice mapping has no "
        "status for it ('Walked Out'). Correct the export (or the mapping) and import it again."
    )
    assert (bundle / "appointments.csv").read_text().count("\n") == 1  # the header alone


def test_a_column_mapped_without_a_value_map_is_checked_as_the_loader_reads_it(
    bundle, tmp_path, capsys
):
    """Without [values.status] nothing was checked: 'Canceled late' imported (exit 0, nothing
    listed), and only validate then set its row aside. The loader's synonyms still read."""
    mapping = tmp_path / "plain.toml"
    mapping.write_text(CUSTOM.split("[values.status]")[0] + '[constants]\nservice = "individual"\n')
    export = tmp_path / "sheet.csv"
    export.write_text(
        "Visit #,Client,Therapist,When,Outcome\n"
        "V1,C1,S1,02-Mar-2026 16:00,Show\n"
        "V2,C1,S1,09-Mar-2026 16:00,Canceled late\n"
        "V3,C2,S1,09-Mar-2026 16:00,no-show\n"
    )

    assert main(["import", str(export), "--mapping", str(mapping), "--into", str(bundle)]) == 0

    reason = (
        "not one of: attended, no_show, late_cancel, cancelled, rescheduled (the Front desk "
        "sheet mapping has no [values.status] to read it as one)"
    )
    assert "1 value the mapping can't read, marked in appointments.csv" in capsys.readouterr().out
    assert appointments(bundle) == {
        "V1": ("2026-03-02T13:00:00-08:00", "attended"),
        "V3": ("2026-03-09T13:00:00-07:00", "no_show"),
    }
    assert (bundle / "appointments.csv").read_text().splitlines()[2] == (
        f'V2,C1,S1,2026-03-09T13:00:00-07:00,,individual,"Canceled late [set aside: {reason}]"'
    )
    assert rejected(bundle) == [("appointments.csv", 3, "V2", "status")]


def test_a_call_log_whose_every_direction_the_loader_cant_read_stops(bundle, tmp_path):
    """A calls mapping of Status to direction without [values.direction] wrote every row,
    exit 0, each of which the loader then set aside."""
    mapping = tmp_path / "calls.toml"
    mapping.write_text(
        'name = "Front desk phone"\ntable = "calls"\ntimezone = "UTC"\n[columns]\n'
        'ID = "call_id"\nWhen = "started_at"\nStatus = "direction"\n'
    )
    export = tmp_path / "calls.csv"
    export.write_text(
        "ID,When,Status\n"
        "K1,2026-03-02T21:25:14Z,Inbound Call\n"
        "K2,2026-03-02T21:30:00Z,Outbound Call\n"
    )

    with pytest.raises(BundleError) as stopped:
        import_file(export, bundle, load_mapping(mapping))

    assert str(stopped.value) == (
        "calls.csv: none of its 2 rows could be imported, so nothing was written: the loader "
        "would set every one aside. The commonest reason (2 of them), first on line 2: not one "
        "of: outbound, "
        "inbound (the Front desk phone mapping has no [values.direction] to read it as one) "
        "('Inbound Call'). Correct the export (or the mapping) and import it again."
    )
    assert not (bundle / "calls.csv").exists()


def test_a_row_with_values_only_in_unmapped_columns_is_marked_not_lost(bundle, tmp_path, capsys):
    """It was written as ',,,,,,', which the loader skips as a blank line: the import said 3
    rows, validate counted 2 read and none rejected, and the note was gone without a trace."""
    export = tmp_path / "export.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status,Comment\n"
        "SP-1,03/06/2026,1:00 PM,C1,S1,Psychotherapy,50,Show,\n"
        ",,,,,,,,continued from above: client phoned\n"
        ",,,,,,,,\n"  # blank in every column: no record
        "SP-2,03/09/2026,1:00 PM,C1,S1,Psychotherapy,50,Show,ok\n"
    )

    assert main(["import", str(export), "--preset", "simplepractice", "--into", str(bundle)]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Imported 3 rows of export.csv (preset simplepractice) into ")
    assert "1 row with values only in columns the mapping doesn't read" in out
    assert "value the mapping can't read" not in out
    assert (bundle / "appointments.csv").read_text().splitlines()[2] == (
        ",,,[set aside: line 3 of export.csv holds values only in columns the SimplePractice "
        "mapping doesn't read (Comment)],,,"
    )
    assert rejected(bundle) == [("appointments.csv", 3, "", "scheduled_start")]
    assert sorted(appointments(bundle)) == ["SP-1", "SP-2"]


def test_clock_durations_are_read_as_seconds_and_others_marked(bundle):
    """Phone systems' web exports write a call's length as 0:01:12; it was written as it was,
    and only the loader, later, set the row aside."""
    done = import_file(MESSY / "ringcentral_clock_durations.csv", bundle, preset("ringcentral"))
    assert done.rows == 7
    durations = {call_id: row[4] for call_id, row in calls(bundle).items()}
    assert durations == {
        "RC-0001": 72,  # 0:01:12
        "RC-0002": 65,  # 1:05
        "RC-0003": 3723,  # 1:02:03
        "RC-0004": 31,
        "RC-0007": 43200,  # 12:00:00
    }
    why = "not a whole number of seconds, nor a duration as H:MM:SS or M:SS"
    assert done.set_aside.to_dict("records") == [
        {"line": 6, "record_id": "RC-0005", "column": "duration_seconds", "value": "0:1:2",
         "reason": why},
        {"line": 7, "record_id": "RC-0006", "column": "duration_seconds", "value": "1:75",
         "reason": why},
    ]  # fmt: skip
    assert load(bundle).rejected[["line", "record_id", "reason"]].values.tolist() == [
        [6, "RC-0005", f"duration_seconds '0:1:2 [set aside: {why}]' is not a whole number"],
        [7, "RC-0006", f"duration_seconds '1:75 [set aside: {why}]' is not a whole number"],
    ]


def test_a_clock_duration_past_any_count_is_marked_too_large(bundle, tmp_path):
    export = tmp_path / "long_calls.csv"
    header = (MESSY / "ringcentral_clock_durations.csv").read_text().splitlines()[0]
    row = "2026-03-06T21:25:14.354Z,{},Voice,Outbound,Call connected,+18055550110,+18055550127"
    export.write_text(
        "\n".join(
            [header, "RC-1," + row.format("0:01:12"), "RC-2," + row.format("153722867280912931:00")]
        )
        + "\n"
    )
    done = import_file(export, bundle, preset("ringcentral"))  # was a traceback (Int64 cast)
    assert done.set_aside[["line", "record_id", "value", "reason"]].values.tolist() == [
        [3, "RC-2", "153722867280912931:00", "too large"]
    ]


def test_a_repeated_id_is_told_and_the_loader_keeps_the_first(bundle, capsys):
    export = str(MESSY / "simplepractice_repeated_id.csv")
    assert main(["import", export, "--preset", "simplepractice", "--into", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Imported 4 rows of simplepractice_repeated_id.csv")
    assert out.endswith(
        "\n   4   SP-2003 duration_minutes  0:50 not a whole number of minutes\n\n"
        "2 rows share appointment_id SP-2002 (lines 3, 5): the loader keeps the first and sets "
        "aside the others.\n"
    )
    loaded = load(bundle)
    assert loaded.appointments["appointment_id"].tolist() == ["SP-2001", "SP-2002"]
    assert loaded.appointments["status"].tolist() == ["attended", "no_show"]  # line 3's
    assert loaded.rejected[["line", "record_id", "reason"]].values.tolist() == [
        [4, "SP-2003", "duration_minutes '0:50 [set aside: not a whole number of minutes]' "
         "is not a whole number"],
        [5, "SP-2002", "duplicate appointment_id 'SP-2002' (first on line 3)"],
    ]  # fmt: skip


def test_the_bundle_table_must_be_csv_to_import_into(bundle):
    (bundle / "appointments.csv").rename(bundle / "appointments.parquet")
    with pytest.raises(BundleError, match=r"The bundle holds appointments\.parquet; auditkit"):
        import_file(IMPORTS / "epic_appointments.csv", bundle, preset("epic"))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "ringcentral",
            "id,startTime,direction\nX1,2026-03-06T21:25:14Z,Outbound\n",
            "export.csv has no 'from.phoneNumber' column, which the RingCentral mapping reads "
            "as from_number. Columns found: id, startTime, direction.",
        ),
        # an export with a column the mapping leaves unread (parsed without it): every column
        # the export has is still named
        (
            "simplepractice",
            "Appointment ID,Client ID,Fee,Status\nSP-1,C1,$150.00,Show\n",
            "export.csv has no 'Clinician ID' column, which the SimplePractice mapping reads as "
            "staff_id. Columns found: Appointment ID, Client ID, Fee, Status.",
        ),
    ],
    ids=["every column mapped", "a column unmapped"],
)
def test_an_export_missing_a_mapped_column_is_refused(bundle, tmp_path, name, text, message):
    export = tmp_path / "export.csv"
    export.write_text(text)
    with pytest.raises(BundleError) as caught:
        import_file(export, bundle, preset(name))
    assert str(caught.value) == message


SIMPLEPRACTICE_HEADER = [
    "Appointment ID",
    "Date",
    "Time",
    "Client ID",
    "Clinician ID",
    "Service",
    "Duration",
    "Billing Code",
    "Fee",
    "Status",
]
UNMAPPED = ("Billing Code", "Fee")


@pytest.mark.parametrize(
    "last",
    ["", ",,,,,,,,,\n ,,\t,,,,,,,\n", ",,,,,,,,$1200.00,\n"],
    ids=["every row", "rows emptied in a spreadsheet", "a totals row"],
)
def test_a_csv_exports_unmapped_columns_are_not_held(tmp_path, last):
    # A wide report's other columns (billing, fees; in some, names and diagnoses) were most of
    # an import's memory. A row blank in every mapped column may still hold a value in another
    # (a totals row): its line is looked at, and if it does, the export is read again with
    # every column, since only they can say whether the row is blank (dropped) or a row (kept,
    # and set aside).
    export = tmp_path / "export.csv"
    export.write_text((IMPORTS / "simplepractice_appointments.csv").read_text() + last)

    raw = importing._read_export(export, preset("simplepractice"), None)

    if "$" in last:
        assert list(raw.frame.columns) == SIMPLEPRACTICE_HEADER
        assert (raw.header, raw.rows_read, raw.lines.tolist()[-1]) == ((), 9, 10)
    else:
        mapped = [c for c in SIMPLEPRACTICE_HEADER if c not in UNMAPPED]
        assert list(raw.frame.columns) == mapped
        assert (raw.header, raw.rows_read) == (tuple(SIMPLEPRACTICE_HEADER), 8)


# --- mapping files -----------------------------------------------------------------------------

CUSTOM = """\
# A clinic's own scheduling spreadsheet, kept on Eastern time.
name = "Front desk sheet"
table = "appointments"
timezone = "America/New_York"
date_format = "%d-%b-%Y %H:%M"

[columns]
"Visit #" = "appointment_id"
"Client" = "client_id"
"Therapist" = "staff_id"
"When" = "scheduled_start"
"Outcome" = "status"

[values.status]
"came" = "attended"
"DNA" = "no_show"

[constants]
service = "individual"
"""


def test_a_mapping_file_reads_its_own_format_and_zone(bundle, tmp_path):
    (tmp_path / "sheet.toml").write_text(CUSTOM)
    export = tmp_path / "sheet.csv"
    export.write_text(
        "Visit #,Client,Therapist,When,Outcome\n"
        "V1,C1,S1,02-Mar-2026 16:00,came\n"
        "V2,C1,S1,09-Mar-2026 16:00,D.N.A\n"
        "V3,C2,S1,09-Mar-2026 16:00,dna\n"
        "V4,C2,S1,2026-03-10 16:00,came\n"
    )
    done = import_file(export, bundle, load_mapping(tmp_path / "sheet.toml"))
    assert appointments(bundle) == {
        "V1": ("2026-03-02T13:00:00-08:00", "attended"),  # 16:00 in New York is 13:00 here
        "V3": ("2026-03-09T13:00:00-07:00", "no_show"),  # both zones on daylight time
    }
    assert done.set_aside[["line", "column", "value", "reason"]].to_dict("records") == [
        {
            "line": 3,
            "column": "status",
            "value": "D.N.A",
            "reason": "the Front desk sheet mapping has no status for it",
        },
        {
            "line": 5,
            "column": "scheduled_start",
            "value": "2026-03-10 16:00",
            "reason": "not a date-time in the Front desk sheet mapping's format %d-%b-%Y %H:%M",
        },
    ]
    assert set(load(bundle).appointments["service"]) == {"individual"}


BAD_MAPPINGS = {
    "unknown key": (
        {"table": "calls", "colums": {}},
        "Unknown key 'colums' in m.toml. Known keys: name, table, timezone, date_format, "
        "columns, values, set_aside, constants.",
    ),
    "not a table": (
        {"table": "visits", "columns": {}},
        "In m.toml, table 'visits' is not a bundle table: staff, clients, appointments, "
        "contacts, notes, approvals, calls.",
    ),
    "unknown bundle column": (
        {"table": "calls", "columns": {"id": "call_id", "when": "start"}},
        "In m.toml, 'start' is not a column of the calls table: call_id, started_at, direction, "
        "from_number, to_number, client_id, result, duration_seconds, source.",
    ),
    "required column unmapped": (
        {"table": "calls", "columns": {"id": "call_id", "when": "started_at"}},
        "m.toml maps no source column to direction, which the calls table requires.",
    ),
    "value outside the vocabulary": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction", "r": "result"},
            "values": {"result": {"Call connected": "answered"}},
        },
        "In m.toml, [values.result] maps 'Call connected' to 'answered', which is not one of: "
        "connected, voicemail, no_answer, busy, hang_up, failed, unknown.",
    ),
    "values for a column nothing maps": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
            "values": {"result": {"Call connected": "connected"}},
        },
        "In m.toml, [values.result] is for a column nothing maps.",
    ),
    "values for a free-text column": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
            "set_aside": {"source": {"fax": "a fax"}},
        },
        "In m.toml, [set_aside.source] maps values of a column that has no fixed values; the "
        "calls columns that do: direction, result.",
    ),
    "bad time zone": (
        {
            "table": "calls",
            "timezone": "Pacific",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
        },
        "In m.toml, timezone 'Pacific' is not an IANA time zone name such as "
        "'America/Los_Angeles' or 'UTC'.",
    ),
    "time zone of standard time all year": (
        {
            "table": "calls",
            "timezone": "MST",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
        },
        "In m.toml, timezone 'MST' is standard time all year round, with no summer time: name "
        "the clinic's place, such as 'America/Denver' (or 'America/Phoenix', where clocks never "
        "change).",
    ),
    "format with an offset": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
            "date_format": "%Y-%m-%d %H:%M%z",
        },
        "In m.toml, date_format holds %z: times with an offset are read without a format; leave "
        "date_format out.",
    ),
    "constant outside the vocabulary": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at"},
            "constants": {"direction": "out"},
        },
        "In m.toml, constant direction = 'out' is not one of: outbound, inbound.",
    ),
    "date format strptime does not know": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
            "date_format": "%Y-%m-%d %Q",
        },
        "In m.toml, date_format '%Y-%m-%d %Q' is not a strptime format: 'Q' is a bad directive "
        "in format '%Y-%m-%d %Q'; write it as in '%d-%b-%Y %H:%M'.",
    ),
    "a source column named twice": (
        {
            "table": "calls",
            "columns": {
                "id": "call_id",
                "When": "started_at",
                "dir": "direction",
                "when": "source",
            },
        },
        "In m.toml, [columns] names the export's column twice, as 'When' and 'when' (case, "
        "spaces and hyphens don't matter); keep one.",
    ),
    "a column both mapped and a constant": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction"},
            "constants": {"direction": "outbound"},
        },
        "In m.toml, direction is both a constant and mapped from a source column; keep one.",
    ),
    "a source value listed twice": (
        {
            "table": "calls",
            "columns": {"id": "call_id", "when": "started_at", "dir": "direction", "r": "result"},
            "values": {"result": {"No Answer": "no_answer", "no_answer": "busy"}},
        },
        "In m.toml, [values.result] lists 'No Answer' and 'no_answer', which are one value "
        "(case, spaces, hyphens and underscores don't matter); keep one.",
    ),
}


@pytest.mark.parametrize("case", list(BAD_MAPPINGS))
def test_a_bad_mapping_is_refused_naming_the_key(case):
    raw, message = BAD_MAPPINGS[case]
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(raw, "m.toml")
    assert str(caught.value) == message


# --- the command line -------------------------------------------------------------------------


def test_import_command_prints_what_it_wrote(bundle, capsys):
    export = str(IMPORTS / "ringcentral_call_log.csv")
    assert main(["import", export, "--preset", "ringcentral", "--into", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"Imported 10 rows of ringcentral_call_log.csv (preset ringcentral) into "
        f"{bundle / 'calls.csv'}.\nCalls matched to clients by phone number:\n"
    )
    assert "number shared by several clients      1\n" in out
    assert "\n1 value the mapping can't read, marked in calls.csv: the loader sets such" in out
    assert "Q3kq9oWe1aB2cD8 result Blocked the RingCentral mapping has no result for it" in out


def test_an_export_of_no_records_says_so(bundle, tmp_path, capsys):
    export = tmp_path / "march.csv"
    header = (IMPORTS / "ringcentral_call_log.csv").read_text().splitlines()[0]
    export.write_text(header + "\n")
    assert main(["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]) == 0
    assert capsys.readouterr().out.startswith(
        f"Imported 0 rows of march.csv (preset ringcentral) into {bundle / 'calls.csv'}.\n"
        "march.csv has no records, only its header: check the period it was exported for.\n"
    )


def test_an_export_of_one_record_is_one_row(bundle, tmp_path, capsys):
    export = tmp_path / "one.csv"
    lines = (IMPORTS / "ringcentral_call_log.csv").read_text().splitlines()
    export.write_text("\n".join(lines[:2]) + "\n")
    assert main(["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]) == 0
    assert capsys.readouterr().out.startswith(
        f"Imported 1 row of one.csv (preset ringcentral) into {bundle / 'calls.csv'}.\n"
    )


def test_import_command_tells_rows_it_could_not_write_from_rows_it_marked(bundle, tmp_path, capsys):
    export = tmp_path / "ringcentral.csv"
    data = (IMPORTS / "ringcentral_call_log.csv").read_bytes()
    export.write_bytes(data + b"Q3kq9oWe1aB2cDX,81470099,2026-03-20T18:00:00.000Z\n")

    assert main(["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Imported 11 rows of ringcentral.csv (preset ringcentral)")
    assert (
        "\n1 value the mapping can't read, marked in calls.csv: the loader sets such rows aside "
        "(auditkit validate).\n\n1 row of the export with another number of fields than its "
        "header (an unquoted comma in a value, say): written to calls.csv with the id alone and "
        "marked, so the loader sets such rows aside (auditkit validate). Correct the export and "
        "import it again.\n"
    ) in out
    assert (
        "  12 Q3kq9oWe1aB2cDX started_at                      has 3 fields; the header has 12\n"
        in out
    )


def test_import_of_a_semicolon_separated_export_exits_2_saying_so(bundle, tmp_path, capsys):
    export = tmp_path / "calls.csv"
    export.write_bytes((IMPORTS / "ringcentral_call_log.csv").read_bytes().replace(b",", b";"))
    assert main(["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        "auditkit: calls.csv is separated by semicolons, not commas: save it as CSV (comma "
        "delimited) and run again, or, where the comma is the decimal mark (Excel's CSV then "
        "writes semicolons again), save it as an Excel Workbook (.xlsx), which auditkit reads "
        "as well."
    )


def test_a_date_whose_time_column_is_blank_is_marked_not_read_as_midnight(bundle, tmp_path):
    """A missed session dated midnight would have MS001 and NT001 count their deadlines from a
    start the export never gave."""
    export = tmp_path / "export.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status\n"
        "SP-1,03/09/2026,,C1,S1,Psychotherapy,50,No Show\n"
        "SP-2,03/10/2026 2:00 PM,,C1,S1,Psychotherapy,50,No Show\n"  # the date holds the time
        "SP-3,03/11/2026,12:00 AM,C1,S1,Psychotherapy,50,Show\n"  # midnight, written out
        "SP-4,,,C1,S1,Psychotherapy,50,Show\n"
        "SP-5,03/12/2026 12:00 AM,,C1,S1,Psychotherapy,50,Show\n"  # midnight, in the date
    )
    done = import_file(export, bundle, preset("simplepractice"))
    assert done.set_aside[["line", "record_id", "value", "reason"]].values.tolist() == [
        [2, "SP-1", "03/09/2026",
         "Time is blank, so the date has no time of day: not read as midnight"],
    ]  # fmt: skip
    assert appointments(bundle)["SP-2"] == ("2026-03-10T14:00:00-07:00", "no_show")
    assert appointments(bundle)["SP-3"] == ("2026-03-11T00:00:00-07:00", "attended")
    assert appointments(bundle)["SP-5"] == ("2026-03-12T00:00:00-07:00", "attended")
    assert rejected(bundle) == [
        ("appointments.csv", 2, "SP-1", "scheduled_start"),
        ("appointments.csv", 5, "SP-4", "scheduled_start"),
    ]


def test_dates_written_alone_are_read_as_their_column_reads_them(bundle, tmp_path):
    """An expiry written as a date applies through that day, whether the export writes it in
    a date_format without a clock or as ISO; a note's date alone is no time it was written
    (both were written as that day's midnight, the note then counted as written before the
    session it documents)."""
    approvals = tmp_path / "approvals.toml"
    approvals.write_text(
        'name = "Approvals sheet"\ntable = "approvals"\ntimezone = "America/Los_Angeles"\n'
        'date_format = "%m/%d/%Y"\n[columns]\nID = "approval_id"\nKind = "kind"\n'
        'Clinician = "staff_id"\nBy = "approved_by"\nGiven = "approved_at"\n'
        'Expires = "expires_at"\n'
    )
    export = tmp_path / "approvals.csv"
    export.write_text(
        "ID,Kind,Clinician,By,Given,Expires\n"
        "P1,phone_coaching,S1,S2,01/05/2026,06/30/2026\n"
        "P2,phone_coaching,S1,S2,01/05/2026,\n"
    )
    import_file(export, bundle, load_mapping(approvals))
    expires = load(bundle).approvals.set_index("approval_id")["expires_at"]
    assert expires["P1"].isoformat() == "2026-07-01T00:00:00-07:00"
    assert pd.isna(expires["P2"])

    notes = tmp_path / "notes.toml"
    notes.write_text(
        'name = "Notes"\ntable = "notes"\ntimezone = "America/Los_Angeles"\n[columns]\n'
        'ID = "note_id"\nClient = "client_id"\nClinician = "staff_id"\n'
        'Written = "written_at"\nText = "text"\n'
    )
    export = tmp_path / "notes.csv"
    export.write_text(
        "ID,Client,Clinician,Written,Text\n"
        "N1,C1,S1,3/9/2026,Client did not show; LVM.\n"
        "N2,C1,S1,3/9/2026 2:10 PM,Client did not show; LVM.\n"
    )
    done = import_file(export, bundle, load_mapping(notes))
    assert done.set_aside[["line", "record_id", "value", "reason"]].values.tolist() == [
        [2, "N1", "3/9/2026", "a date without a time of day: not read as midnight, since a "
         "missed session's call and note deadlines are counted from such times to the minute"],
    ]  # fmt: skip
    assert rejected(bundle) == [("notes.csv", 2, "N1", "written_at")]


def test_a_row_of_a_no_break_space_alone_is_blank_not_marked(bundle, tmp_path):
    """A no-break space is blank to the import's strip: such a row is no record, as a row of
    spaces is, not one 'holding values only in columns the mapping doesn't read ()'."""
    export = tmp_path / "export.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status,Comment\n"
        "SP-1,03/06/2026,1:00 PM,C1,S1,Psychotherapy,50,Show,\n"
        ",,,,,,,,\u00a0\n"
        ",,,,,,,,continued from above\n"
    )
    done = import_file(export, bundle, preset("simplepractice"))
    assert done.set_aside[["line", "reason"]].values.tolist() == [
        [4, "holds values only in columns the SimplePractice mapping doesn't read (Comment)"]
    ]


def test_an_export_of_local_times_needs_the_clinics_zone_first(bundle, tmp_path, capsys):
    """Read in the built-in zone and written with its offset, every time would be hours off
    once the clinic's policy.toml named another: with no zone given, nothing is written."""
    (bundle / "policy.toml").unlink()
    before = (bundle / "appointments.csv").read_bytes()
    export = str(IMPORTS / "simplepractice_appointments.csv")
    command = ["import", export, "--preset", "simplepractice", "--into", str(bundle)]
    assert main(command) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: {bundle} has no policy.toml to say the clinic's time zone, and the mapping "
        "names none for the times in simplepractice_appointments.csv. Read in the built-in zone "
        "(America/Los_Angeles), they would be hours off in every audit under another: write the "
        f'clinic\'s zone into {bundle / "policy.toml"} (a line "[clinic]", then timezone = '
        '"America/New_York", say), or name a policy file with --policy, and import again.'
    )
    assert (bundle / "appointments.csv").read_bytes() == before
    # A policy named, or a mapping's own zone (the phone systems' UTC), is enough.
    eastern = tmp_path / "eastern.toml"
    eastern.write_text('[clinic]\ntimezone = "America/New_York"\n')
    assert main([*command, "--policy", str(eastern)]) == 0
    written = pd.read_csv(bundle / "appointments.csv", dtype=str)
    assert written["scheduled_start"].str.endswith(("-05:00", "-04:00")).all()
    calls = str(IMPORTS / "ringcentral_call_log.csv")
    assert main(["import", calls, "--preset", "ringcentral", "--into", str(bundle)]) == 0
    # Times that carry their offset need no zone, nor does a table of no times.
    own = tmp_path / "own.toml"
    own.write_text(
        'table = "calls"\n[columns]\n"id" = "call_id"\n"when" = "started_at"\n"dir" = "direction"\n'
    )
    (tmp_path / "log.csv").write_text("id,when,dir\nX1,2026-03-02T21:25:14Z,outbound\n")
    log = str(tmp_path / "log.csv")
    assert main(["import", log, "--mapping", str(own), "--into", str(bundle)]) == 0


def test_a_policy_file_naming_no_zone_stops_an_export_of_local_times_too(bundle, capsys):
    """A policy.toml with the clinic's name but no [clinic] timezone leaves the built-in zone
    in force as surely as no file at all."""
    (bundle / "policy.toml").write_text('[clinic]\nname = "Harbor Clinic"\n')
    before = (bundle / "appointments.csv").read_bytes()
    export = str(IMPORTS / "simplepractice_appointments.csv")
    command = ["import", export, "--preset", "simplepractice", "--into", str(bundle)]
    assert main(command) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: The policy ({bundle / 'policy.toml'}) does not say the clinic's time zone, "
        "and the mapping names none for the times in simplepractice_appointments.csv. Read in "
        "the built-in zone (America/Los_Angeles), they would be hours off in every audit under "
        f'another: write the clinic\'s zone into {bundle / "policy.toml"} (a line "[clinic]", '
        'then timezone = "America/New_York", say), or name a policy file with --policy, and '
        "import again."
    )
    assert (bundle / "appointments.csv").read_bytes() == before
    (bundle / "policy.toml").write_text('[clinic]\ntimezone = "America/Los_Angeles"\n')
    assert main(command) == 0


def test_day_first_two_digit_years_are_named_with_the_day_first_format(bundle, tmp_path):
    export = tmp_path / "export.csv"
    export.write_text(
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Status\n"
        "SP-1,13/03/26,14:00,C1,S1,Psychotherapy,50,Show\n"
        "SP-2,2026-03-14,14:00,C1,S1,Psychotherapy,50,Show\n"
    )
    done = import_file(export, bundle, preset("simplepractice"))
    assert done.set_aside["reason"].tolist() == [
        "not read: the export writes dates day first with 2-digit years ('13/03/26 14:00'), and "
        "without a date_format M/D/YYYY is read; give the SimplePractice mapping a date_format "
        "that reads them (%d/%m/%y %I:%M %p, say, or %d/%m/%y %H:%M)"
    ]


def test_import_command_with_a_bad_mapping_exits_2(bundle, tmp_path, capsys):
    (tmp_path / "m.toml").write_text('table = "calls"\n')
    export, mapping = str(IMPORTS / "ringcentral_call_log.csv"), str(tmp_path / "m.toml")
    assert main(["import", export, "--mapping", mapping, "--into", str(bundle)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        f"auditkit: {mapping} maps no source column to call_id, which the calls table requires."
    )


def test_import_command_with_a_missing_export_exits_2(bundle, tmp_path, capsys):
    export = str(tmp_path / "calls-march.csv")
    assert main(["import", export, "--preset", "ringcentral", "--into", str(bundle)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == "auditkit: calls-march.csv cannot be read: No such file or directory."


def test_import_command_with_a_mapping_folder_exits_2(bundle, tmp_path, capsys):
    export = str(IMPORTS / "ringcentral_call_log.csv")
    assert main(["import", export, "--mapping", str(tmp_path), "--into", str(bundle)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == f"auditkit: Mapping file {tmp_path} is a folder; name the TOML file itself."


def test_an_export_of_garbled_columns_is_refused_in_a_short_printable_paragraph(
    bundle, tmp_path, capsys
):
    """Column names were listed whole: a garbled header put unprintable characters and line
    breaks in the paragraph, and a wide one thousands of names. (A header with a control
    character such as BEL is refused as no header at all, in test_loading's cases.)"""
    export = tmp_path / "export.csv"
    names = ['"Call\nID"', "Bell\x85", *[f"c{i}" for i in range(40)]]
    export.write_bytes((",".join(names) + "\n" + ",".join("1" * len(names)) + "\n").encode())

    assert main(["import", str(export), "--preset", "ringcentral", "--into", str(bundle)]) == 2

    err = capsys.readouterr().err
    assert "\x85" not in err
    shown = ", ".join(["Call?ID", "Bell?", *[f"c{i}" for i in range(28)]])
    assert " ".join(err.split()) == (
        "auditkit: export.csv has no 'id' column, which the RingCentral mapping reads as call_id. "
        f"Columns found: {shown} and 12 more."
    )


def test_audit_takes_the_call_log_from_the_command_line(bundle, tmp_path, capsys):
    import_file(IMPORTS / "zoom_phone_call_logs.csv", bundle, preset("zoom_phone"))
    elsewhere = (bundle / "calls.csv").rename(tmp_path / "zoom.csv")
    assert (
        main(["audit", str(bundle), "--out", str(tmp_path / "out"), "--calls", str(elsewhere)]) == 0
    )
    findings = pd.read_csv(tmp_path / "out" / "findings.csv", dtype=str)
    assert findings.loc[findings["rule"] == "LG001", "subject_id"].tolist() == [
        "a9c1f0e2-0001",
        "a9c1f0e2-0002",
        "a9c1f0e2-0003",
        "a9c1f0e2-0004",
    ]
    capsys.readouterr()
    assert main(["audit", str(bundle), "--calls", str(tmp_path / "none.csv")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == f"auditkit: The call log {tmp_path / 'none.csv'} does not exist."


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("(805) 555-0127", "+18055550127"),
        ("805.555.0127", "+18055550127"),
        ("805-555-0127", "+18055550127"),
        ("1-805-555-0127", "+18055550127"),
        ("+1 805 555 0127", "+18055550127"),
        ("8055550127 x12", "+18055550127"),
        ("tel:+18055550127", "+18055550127"),
        (" TEL: 805 555 0127 ext. 9", "+18055550127"),
        ("805 555 0127\x0bext12", "+18055550127"),  # a vertical tab, as Python's \s has it
        ("805.555.0127\u00a0x 9", "+18055550127"),  # a no-break space
        ("+44 20 7946 0958", "+442079460958"),
        ("18055550127", "+18055550127"),
        ("28055550127", None),  # eleven digits, and not a 1 first
        ("555-0101", None),  # no area code: no call log can match it
        ("123-456-7890", None),  # no area code starts with 1
        ("1001", None),  # an extension
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_are_read_as_e164(written, e164):
    result = to_e164(pd.Series([written], dtype="str")).iloc[0]
    assert (None if pd.isna(result) else result) == e164


def test_validate_counts_the_call_log_like_any_table(bundle, tmp_path, capsys):
    import_file(IMPORTS / "ringcentral_call_log.csv", bundle, preset("ringcentral"))
    assert main(["validate", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "       calls        calls.csv    utf-8         10         9         1\n" in out
    elsewhere = (bundle / "calls.csv").rename(tmp_path / "ringcentral.csv")
    assert main(["validate", str(bundle), "--calls", str(elsewhere)]) == 0
    assert "       calls  ringcentral.csv    utf-8         10         9         1\n" in (
        capsys.readouterr().out
    )


def test_a_row_without_an_id_replaces_no_other_row_without_one(bundle, tmp_path):
    """Blank ids matched one another in the merge: importing an export with a row whose id
    couldn't be read dropped, unsaid, every row of the file already without one."""
    header = (
        "Appointment ID,Date,Time,Client ID,Clinician ID,Service,Duration,Billing Code,Fee,Status"
    )
    for name, good in [("march.csv", "SP-7001"), ("april.csv", "SP-7002")]:
        export = tmp_path / name
        export.write_text(
            f"{header}\n,03/02/2026,9:00 AM,C1,S1,P,50,1,$1,500.00,Show\n"
            f"{good},03/02/2026,9:00 AM,C1,S1,P,50,1,$1.00,Show\n"
        )
        import_file(export, bundle, preset("simplepractice"))
    assert load(bundle).rejected["reason"].str.extract(r"(line \d+ of \w+\.csv)")[0].tolist() == [
        "line 2 of march.csv",
        "line 2 of april.csv",
    ]
