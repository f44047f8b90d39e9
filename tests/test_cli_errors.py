"""The CLI over loading (issue 2): `auditkit validate` reports rows per file; bad input that stops
the run gives exit code 2 and one paragraph on stderr, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from loading_cases import FATAL_CASES, UNREADABLE_CASES, build_fatal

from auditkit import load
from auditkit.cli import main
from auditkit.errors import BundleError
from auditkit.tables import REJECTED_COLUMNS

POLICIES = Path(__file__).parent / "fixtures" / "policies"

BASE_COVERAGE = [
    ["staff", "staff.csv", "utf-8", "3", "3", "0"],
    ["clients", "clients.csv", "utf-8", "2", "2", "0"],
    ["appointments", "appointments.csv", "utf-8", "3", "3", "0"],
    ["contacts", "contacts.csv", "utf-8", "2", "2", "0"],
    ["notes", "notes.csv", "utf-8", "2", "2", "0"],
    ["approvals", "approvals.csv", "utf-8", "1", "1", "0"],
]
BAD_COVERAGE = [
    ["staff", "staff.csv", "utf-8", "6", "3", "3"],
    ["clients", "clients.csv", "utf-8", "4", "2", "2"],
    ["appointments", "appointments.csv", "utf-8", "11", "3", "8"],
    ["contacts", "contacts.csv", "utf-8", "6", "2", "4"],
    ["notes", "notes.csv", "utf-8", "5", "2", "3"],
    ["approvals", "approvals.csv", "utf-8", "4", "1", "3"],
]


def squeeze(text: str) -> str:
    """Text without any whitespace: wrapping a paragraph may move line breaks, not words."""
    return "".join(text.split())


def assert_one_paragraph(err: str, message: str) -> None:
    assert err.startswith(("auditkit: ", "auditkit:\n"))  # (a long path goes on a line of its own)
    assert err.endswith("\n")
    assert "\n\n" not in err.strip("\n")  # one paragraph
    assert "Traceback" not in err
    assert squeeze(err) == squeeze(f"auditkit: {message}")


def table_rows(stdout: str, width: int) -> list[list[str]]:
    """The whitespace-split lines of a printed table whose lines have `width` cells."""
    return [line.split() for line in stdout.splitlines() if len(line.split()) == width]


# --- auditkit validate -----------------------------------------------------------------------


def test_validate_prints_rows_read_accepted_rejected_per_file(make_bundle, capsys):
    path = make_bundle()

    assert main(["validate", str(path)]) == 0

    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == (
        f"Bundle {path} (policy: built-in defaults, time zone America/Los_Angeles)"
    )
    assert table_rows(out, 6) == [
        ["table", "file", "encoding", "rows_read", "accepted", "rejected"],
        *BASE_COVERAGE,
    ]
    assert "First problems" not in out


def test_validate_shows_its_progress_on_stderr_at_a_terminal(make_bundle, capsys, monkeypatch):
    path = make_bundle()
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)

    assert main(["validate", str(path)]) == 0

    assert capsys.readouterr().err.splitlines() == [
        "read staff.csv: 3 rows",
        "read clients.csv: 2 rows",
        "read appointments.csv: 3 rows",
        "read contacts.csv: 2 rows",
        "read notes.csv: 2 rows",
        "read approvals.csv: 1 row",
        "validating",
    ]


def test_validate_lists_the_first_problems(make_bundle, capsys):
    path = make_bundle("bad_rows")

    assert main(["validate", str(path), "--show", "3"]) == 0

    out, err = capsys.readouterr()
    assert err == ""
    assert table_rows(out, 6)[1:] == BAD_COVERAGE
    lines = out.splitlines()
    problems = lines.index("First problems (24 in all):")
    assert lines[problems + 1].split() == REJECTED_COLUMNS
    assert [" ".join(line.split()) for line in lines[problems + 2 :]] == [
        "appointments.csv 5 A4 scheduled_start scheduled_start 'next Tuesday' is not a "
        "date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)",
        "appointments.csv 6 A5 duration_minutes duration_minutes '50 min' is not a whole number",
        "appointments.csv 7 A6 client_id client_id 'C3' refers to a row set aside "
        "(clients.csv line 4)",
    ]


def test_validate_names_the_policy_in_force(make_bundle, capsys):
    path = make_bundle("bundle_policy")
    override = POLICIES / "override.toml"

    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"Bundle {path} (policy: {path / 'policy.toml'})"
    )
    assert main(["validate", str(path), "--policy", str(override)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Bundle {path} (policy: {override})"


def test_audit_writes_rejected_csv_with_every_set_aside_row(make_bundle, tmp_path, capsys):
    path, out_dir = make_bundle("bad_rows"), tmp_path / "results"

    assert main(["audit", str(path), "--out", str(out_dir)]) == 0

    out, err = capsys.readouterr()
    assert err == ""
    assert table_rows(out, 4)[:7] == [
        ["file", "rows_read", "accepted", "rejected"],
        *[row[1:2] + row[3:] for row in BAD_COVERAGE],
    ]
    written = pd.read_csv(out_dir / "rejected.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == REJECTED_COLUMNS
    expected = load(path).rejected.astype({"line": str})
    assert written.to_dict("records") == expected.to_dict("records")
    assert len(written) == 24


# --- bad input: exit 2, one paragraph, no traceback ------------------------------------------


@pytest.mark.parametrize("command", ["validate", "audit"])
@pytest.mark.parametrize("name", list(FATAL_CASES))
def test_fatal_bundle_exits_2_with_one_paragraph(make_bundle, tmp_path, capsys, name, command):
    spec, message = FATAL_CASES[name]
    path = build_fatal(make_bundle, spec)
    out_dir = tmp_path / "results"
    extra = ["--out", str(out_dir)] if command == "audit" else []

    assert main([command, str(path), *extra]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(err, message.format(bundle=path))
    assert not out_dir.exists()


@pytest.mark.parametrize("name", list(UNREADABLE_CASES))
def test_unreadable_file_exits_2_with_one_paragraph(make_bundle, capsys, name):
    spec, start = UNREADABLE_CASES[name]
    path = build_fatal(make_bundle, spec)
    with pytest.raises(BundleError) as caught:
        load(path)

    assert main(["validate", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert str(caught.value).startswith(start)
    assert_one_paragraph(err, str(caught.value))


def test_a_bundle_that_is_not_a_folder_exits_2(tmp_path, capsys):
    missing = tmp_path / "no-such-bundle"

    assert main(["validate", str(missing)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err, f"{missing} does not exist. An audit bundle is a folder of table files."
    )


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["audit", ""], "bundle"),
        (["audit", "data/sample", "--out", ""], "--out"),
        (["audit", "data/sample", "--reviews", " "], "--reviews"),
        (["validate", "data/sample", "--policy", ""], "--policy"),
        (["convert", "data/sample", "--to", "parquet", "--out", ""], "--out"),
        (["deidentify", "data/sample", "--out", "x", "--key-file", ""], "--key-file"),
        (["import", "", "--into", "b", "--preset", "ringcentral"], "file"),
        (["sample", ""], "dir"),
    ],
)
def test_an_empty_path_is_a_usage_error_not_this_folder(
    tmp_path, capsys, monkeypatch, argv, argument
):
    """A script's unset variable (`auditkit audit "$BUNDLE" --out "$OUT"`) would have meant
    the folder it runs in: to audit, or to write into."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith(
        f"argument {argument}: a file or folder must be named, not an empty string"
    )
    assert list(tmp_path.iterdir()) == []  # nothing read or written here


def test_bad_policy_option_exits_2_naming_the_key(make_bundle, tmp_path, capsys):
    policy = tmp_path / "bad.toml"
    policy.write_text('[approvals]\nphone_coaching = ["director"]\n', encoding="utf-8")

    assert main(["audit", str(make_bundle()), "--policy", str(policy), "--out", "x"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err,
        "Policy key 'approvals.phone_coaching' names role 'director'; roles are therapist, "
        "supervisor, program_director, admin.",
    )


def test_bad_policy_toml_in_the_bundle_exits_2_naming_the_key(make_bundle, capsys):
    path = make_bundle(files={"policy.toml": b'[clinic]\ntimezone = "Pacific Time"\n'})

    assert main(["validate", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err,
        "Policy key 'clinic.timezone' is 'Pacific Time', which is not an IANA time zone name "
        "such as 'America/Los_Angeles' or 'UTC'.",
    )


def test_a_folder_named_policy_toml_in_the_bundle_exits_2(make_bundle, capsys):
    """It was passed over, and the bundle audited under the built-in defaults."""
    path = make_bundle()
    (path / "policy.toml").mkdir()

    assert main(["validate", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err, f"Policy file {path / 'policy.toml'} is a folder; name the TOML file itself."
    )


def test_missing_policy_file_exits_2(make_bundle, tmp_path, capsys):
    missing = tmp_path / "policy-missing.toml"

    assert main(["validate", str(make_bundle()), "--policy", str(missing)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(err, f"Policy file {missing} does not exist.")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("folder", "Policy file {path} is a folder; name the TOML file itself."),
        ("under a file", "Policy file {path} does not exist."),
    ],
)
def test_a_policy_path_that_is_no_file_exits_2(make_bundle, tmp_path, capsys, where, message):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policy.toml").write_text("[clinic]\n", encoding="utf-8")
    # A folder where the file should be, or a path through a file (a typo'd folder name).
    path = tmp_path / "policies" if where == "folder" else tmp_path / "policy.toml" / "x.toml"

    assert main(["validate", str(make_bundle()), "--policy", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(err, message.format(path=path))


OUT_FOLDER_NAMES = {"audit": "--out", "convert": "--out", "deidentify": "The extract folder"}


@pytest.mark.parametrize("command", list(OUT_FOLDER_NAMES))
@pytest.mark.parametrize("through", [False, True])
def test_an_out_folder_that_is_a_file_exits_2_before_any_work(
    make_bundle, tmp_path, capsys, command, through
):
    blocking = tmp_path / "results.csv"
    blocking.write_text("an earlier result, kept\n", encoding="utf-8")
    out = blocking / "march" if through else blocking
    extra = ["--to", "parquet"] if command == "convert" else []

    assert main([command, str(make_bundle()), "--out", str(out), *extra]) == 2

    out_text, err = capsys.readouterr()
    assert out_text == ""
    where = f"cannot be made: {blocking} " if through else ""
    what = OUT_FOLDER_NAMES[command]
    assert_one_paragraph(err, f"{what} {out} {where}is a file, not a folder. Name a folder.")
    assert blocking.read_text(encoding="utf-8") == "an earlier result, kept\n"


def test_an_out_folder_that_cannot_be_written_exits_2(make_bundle, tmp_path, capsys, monkeypatch):
    """(Simulated: root, who runs the tests here, may write anywhere.)"""
    import os

    import auditkit.output

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        auditkit.output.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
    )

    assert main(["audit", str(make_bundle()), "--out", str(locked / "out")]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err,
        f"--out {locked / 'out'} cannot be written: {locked} does not let you add files. Name "
        "a folder you can write to.",
    )


def test_a_negative_show_is_a_usage_error(make_bundle, capsys):
    """--show -2 once listed all problems but the last two."""
    assert main(["validate", str(make_bundle("bad_rows")), "--show=-2"]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == (
        "auditkit validate: error: argument --show: must be a whole number of 0 or more, not '-2'"
    )


def test_the_paragraph_keeps_a_long_path_whole(tmp_path, capsys):
    missing = tmp_path / "clinic-export-for-the-spring-term-of-2026-from-the-front-desk-system"

    assert main(["validate", str(missing)]) == 2

    assert str(missing) in capsys.readouterr().err


def test_a_file_written_to_while_it_is_read_stops_the_run(make_bundle, capsys, monkeypatch):
    """Lines come from one look at a file and values from Arrow's read of it a moment later:
    if another program writes to it in between, the lines would belong to another file."""
    import auditkit.loading

    path = make_bundle()
    parse = auditkit.loading._arrow_csv

    def written_meanwhile(source, names, file, *spare):
        if file == "notes.csv":
            notes = path / "notes.csv"
            notes.write_bytes(notes.read_bytes() + notes.read_bytes().splitlines(True)[-1])
        return parse(source, names, file, *spare)

    monkeypatch.setattr(auditkit.loading, "_arrow_csv", written_meanwhile)

    assert main(["validate", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert_one_paragraph(
        err,
        "notes.csv changed while it was being read: another program may still be writing it. "
        "Try again once the export is complete.",
    )
