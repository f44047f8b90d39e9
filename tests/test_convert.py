"""`auditkit convert BUNDLE --to parquet` (issue 7): typed Parquet in, the same audit out."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from paths import SAMPLE

from auditkit import audit, load
from auditkit.cli import main
from auditkit.convert import convert
from auditkit.deidentify import deidentify
from auditkit.errors import BundleError, OutputError
from auditkit.loading import SOURCE_LINE, read_table
from auditkit.research import is_date_shifted
from auditkit.sample import generate_sample
from auditkit.schemas import TABLES

TZ = "America/Los_Angeles"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """data/sample loaded from CSV, and its conversion loaded back from Parquet."""
    out = tmp_path_factory.mktemp("parquet")
    return convert(SAMPLE, out).bundle, load(out), out


def test_every_table_loads_back_equal_but_for_source_line(converted):
    from_csv, from_parquet, _ = converted

    for name in TABLES:
        pd.testing.assert_frame_equal(
            from_parquet.tables[name].drop(columns=SOURCE_LINE),
            from_csv.tables[name].drop(columns=SOURCE_LINE),
        )
    pd.testing.assert_frame_equal(
        from_parquet.calls.drop(columns=SOURCE_LINE), from_csv.calls.drop(columns=SOURCE_LINE)
    )
    # A Parquet row's line is its row number, the header being line 1.
    assert from_parquet.staff[SOURCE_LINE].tolist() == list(range(2, 14))


def test_the_audit_of_the_converted_bundle_is_the_same(converted):
    from_csv, from_parquet, _ = converted

    got, expected = audit(from_parquet), audit(from_csv)

    pd.testing.assert_frame_equal(got.findings, expected.findings)
    pd.testing.assert_frame_equal(got.compliance, expected.compliance)
    assert len(got.findings) == 126
    # the rows the conversion set aside are still reported, by the CSV's file and line
    pd.testing.assert_frame_equal(got.rejected, expected.rejected, check_dtype=False)
    assert got.rows_rejected == 7


def test_a_converted_bundle_whose_rejected_csv_is_damaged_stops_the_load(tmp_path):
    out = tmp_path / "parquet"
    convert(SAMPLE, out)
    (out / "rejected.csv").write_text("file,line\nstaff.csv,x\n", encoding="utf-8")
    with pytest.raises(BundleError) as stopped:
        load(out)
    assert str(stopped.value) == (
        f"{out / 'rejected.csv'} is the rows this converted bundle set aside, but it cannot be "
        "read (its columns are file, line). Convert the bundle again."
    )


def test_tables_are_typed_and_rejected_rows_written_beside_them(converted):
    from_csv, from_parquet, out = converted

    assert sorted(p.name for p in out.iterdir()) == [
        "appointments.parquet",
        "approvals.parquet",
        "calls.parquet",
        "clients.parquet",
        "contacts.parquet",
        "converted.json",
        "notes.parquet",
        "policy.toml",
        "rejected.csv",
        "staff.parquet",
    ]
    appointments = pq.read_schema(out / "appointments.parquet")
    assert appointments.field("scheduled_start").type == pa.timestamp("us", tz=TZ)
    assert appointments.field("duration_minutes").type == pa.int64()
    assert pq.read_schema(out / "clients.parquet").field("may_name_clinic").type == pa.bool_()
    assert SOURCE_LINE not in appointments.names
    assert (out / "policy.toml").read_bytes() == (SAMPLE / "policy.toml").read_bytes()
    rejected = pd.read_csv(out / "rejected.csv", dtype=str, keep_default_na=False)
    assert len(rejected) == 7
    assert rejected.iloc[0].tolist() == [
        "appointments.csv",
        "1104",
        "A001103",
        "status",
        "status 'walked out' is not one of: attended, no_show, late_cancel, cancelled, rescheduled",
    ]
    assert from_parquet.coverage["rejected"].tolist() == [0] * 7
    assert from_parquet.coverage["accepted"].tolist() == from_csv.coverage["accepted"].tolist()


def test_typed_columns_are_read_as_they_are_not_as_text(converted):
    _, _, out = converted

    clients = read_table(out, TABLES["clients"]).frame
    appointments = read_table(out, TABLES["appointments"]).frame

    assert str(clients["may_name_clinic"].dtype) == "bool"
    assert str(clients["intake_date"].dtype) == f"datetime64[us, {TZ}]"
    assert str(appointments["duration_minutes"].dtype) == "Int64"
    assert str(appointments["appointment_id"].dtype) == "str"


def test_typed_counts_and_flags_are_judged_as_text_ones_are(make_bundle):
    path = make_bundle(drop=["appointments.csv", "clients.csv"])
    pd.DataFrame(
        {
            "client_id": ["C1", "C2"],
            "phone": ["555-0101", None],
            "may_name_clinic": pd.array([True, None], dtype="boolean"),  # blank means no
            "therapist_id": ["S1", "S1"],
        }
    ).to_parquet(path / "clients.parquet")
    pd.DataFrame(
        {
            "appointment_id": ["A1", "A2", "A3", "A4"],
            "client_id": ["C1", "C1", "C2", "C2"],
            "staff_id": ["S1"] * 4,
            "scheduled_start": pd.to_datetime(["2026-03-02 13:00"] * 4).tz_localize(TZ),
            "duration_minutes": pd.array([50, 2**62, -5, None], dtype="Int64"),
            "status": ["attended"] * 4,
        }
    ).to_parquet(path / "appointments.parquet")

    bundle = load(path)

    assert bundle.clients["may_name_clinic"].tolist() == [True, False]
    assert bundle.appointments["duration_minutes"].tolist() == [50, pd.NA]
    problems = bundle.rejected[bundle.rejected["file"] == "appointments.parquet"]
    assert problems[["line", "record_id", "reason"]].values.tolist() == [
        [3, "A2", "duration_minutes '4611686018427387904' is too large"],
        [4, "A3", "duration_minutes -5 is negative"],
    ]


def test_convert_command_reports_what_it_set_aside(tmp_path, capsys):
    out = tmp_path / "parquet"

    assert main(["convert", str(SAMPLE), "--to", "parquet", "--out", str(out), "--show", "1"]) == 0

    printed = capsys.readouterr().out
    assert printed.startswith(f"Converted {SAMPLE} to parquet in {out}: staff.parquet, ")
    assert f"\n7 rows were set aside, not converted (7 problems, all in {out}/rejected.csv):\n" in (
        printed
    )
    assert "status 'walked out' is not one of" in printed
    assert "A000005" not in printed  # --show 1


def test_convert_command_counts_one_row_set_aside_in_the_singular(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    generate_sample(bundle, clients=5)
    with (bundle / "staff.csv").open("a") as staff:
        staff.write("S099,Ren,Example,volunteer\n")
    out = tmp_path / "parquet"

    assert main(["convert", str(bundle), "--to", "parquet", "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    assert f"\n1 row was set aside, not converted (1 problem, in {out}/rejected.csv):\n" in printed


def test_converting_again_removes_tables_the_bundle_no_longer_has(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    convert(bundle, tmp_path / "out")
    (bundle / "calls.csv").unlink()
    (bundle / "policy.toml").unlink()

    done = convert(bundle, tmp_path / "out")

    assert "calls.parquet" not in done.files
    assert not (tmp_path / "out" / "calls.parquet").exists()
    assert not (tmp_path / "out" / "policy.toml").exists()  # both use the built-in defaults
    assert load(tmp_path / "out").calls.empty


def test_convert_never_replaces_tables_it_did_not_write(tmp_path, capsys):
    folder = tmp_path / "warehouse"
    folder.mkdir()
    (folder / "notes.parquet").write_bytes(b"another program's table")
    (folder / "policy.toml").write_text("# the data team's\n")

    assert main(["convert", str(SAMPLE), "--to", "parquet", "--out", str(folder)]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        f"auditkit: {folder} already holds notes.parquet, policy.toml and is not a bundle "
        "auditkit converted (it has no converted.json): converting would replace them. Name an "
        "empty folder, or one converted before."
    )
    assert (folder / "notes.parquet").read_bytes() == b"another program's table"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.parquet", "policy.toml"]


def test_a_conversion_marks_its_folder_as_one_to_convert_into_again(tmp_path):
    out = tmp_path / "out"
    first = convert(SAMPLE, out)

    assert first.files[-1] == "converted.json"
    assert json.loads((out / "converted.json").read_text()) == {
        "converted_by": "auditkit convert",
        "source": str(SAMPLE.resolve()),
        "timezone": TZ,
    }
    assert convert(SAMPLE, out).files == first.files


def test_a_converted_extract_is_still_an_extract(tmp_path, capsys):
    """Its record goes with it: its audit is refused and the research notebook still says its
    dates are shifted; a clinic's bundle converted over it later leaves no record behind."""
    deidentify(load(SAMPLE), tmp_path / "extract", key_file=tmp_path / "k.csv")
    out = tmp_path / "parquet"
    assert main(["convert", str(tmp_path / "extract"), "--to", "parquet", "--out", str(out)]) == 0
    record = (tmp_path / "extract" / "extract.json").read_bytes()
    assert (out / "extract.json").read_bytes() == record
    assert is_date_shifted(load(out))
    capsys.readouterr()
    assert main(["audit", str(out), "--out", str(tmp_path / "audit")]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: {out} is a de-identified research extract (extract.json): its messages and "
        "notes are removed, each client's dates are shifted and it has no call log, so a policy "
        "audit of it would report findings that are not real. Audit the clinic's bundle the "
        "extract was made from; the extract is for the research notebook."
    )
    assert main(["convert", str(SAMPLE), "--to", "parquet", "--out", str(out)]) == 0
    assert not (out / "extract.json").exists()
    assert not is_date_shifted(load(out))


def test_a_conversion_is_audited_only_in_the_zone_it_was_converted_in(tmp_path):
    """Times without an offset became instants in the zone the conversion read them in: a
    conversion of a bundle with no policy file, audited with the clinic's New York policy,
    found three false MS001s at 16:00 EST where the CSVs' audit found one."""
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    (bundle / "policy.toml").unlink()
    out = tmp_path / "out"
    convert(bundle, out)
    eastern = tmp_path / "eastern.toml"
    eastern.write_text(
        '[clinic]\nname = "Riverside Psychology Clinic"\ntimezone = "America/New_York"\n'
    )

    assert len(load(out).appointments) == len(load(bundle).appointments)  # as converted: fine
    with pytest.raises(BundleError) as refused:
        load(out, eastern)
    assert str(refused.value) == (
        f"{out} was converted reading times written without an offset as America/Los_Angeles "
        f"time, but this audit's policy ({eastern}) puts the clinic in America/New_York: each "
        "such time would be hours off. Audit it with the policy it was converted with, or "
        f"convert {bundle.resolve()} again with this one (auditkit convert ... --policy FILE)."
    )
    convert(bundle, out, policy=eastern)
    assert load(out, eastern).policy.clinic.timezone == "America/New_York"
    # Another name of the same clock is the same zone.
    also_eastern = tmp_path / "also.toml"
    also_eastern.write_text('[clinic]\ntimezone = "US/Eastern"\n')
    assert len(load(out, also_eastern).appointments) == len(load(bundle).appointments)


def test_a_conversion_by_an_earlier_auditkit_is_to_be_converted_again(tmp_path):
    """It recorded no zone, and read a date-alone expiry as its midnight."""
    out = tmp_path / "out"
    convert(SAMPLE, out)
    marker = json.loads((out / "converted.json").read_text())
    del marker["timezone"]
    (out / "converted.json").write_text(json.dumps(marker))
    with pytest.raises(BundleError) as refused:
        load(out)
    assert str(refused.value) == (
        f"{out} was converted by an earlier auditkit, which did not record the time zone it read "
        "times written without an offset in, and read an approval's expiry written as a date as "
        f"that day's midnight, not its end. Convert {SAMPLE.resolve()} again (auditkit convert "
        "... --to parquet) to audit it."
    )


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("bundle", "--out {bundle} is the bundle itself"),
        ("csv", "{csv} already holds staff.csv: beside the Parquet tables"),
    ],
)
def test_convert_refuses_a_folder_that_would_hold_tables_twice(tmp_path, capsys, out, message):
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "staff.csv").write_text("staff_id\n")
    folder = tmp_path / out

    assert main(["convert", str(bundle), "--to", "parquet", "--out", str(folder)]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("auditkit: " + message.format(bundle=bundle, csv=tmp_path / "csv")), err


def test_auditing_a_conversion_names_the_reviews_its_source_keeps(tmp_path, capsys):
    # QA keeps deciding in the source bundle's reviews.csv; a conversion does not copy it.
    source = tmp_path / "bundle"
    shutil.copytree(SAMPLE, source)
    out = tmp_path / "parquet"
    assert main(["convert", str(source), "--to", "parquet", "--out", str(out)]) == 0
    capsys.readouterr()
    audited = ["audit", str(out), "--out", str(tmp_path / "results")]
    assert main(audited) == 0
    assert "\nNo reviews file: every finding is new.\n" in capsys.readouterr().out
    (source / "reviews.csv").write_text(
        "rule,subject_id,decision,reviewer,reviewed_at,comment\n", encoding="utf-8"
    )
    assert main(audited) == 0
    assert (
        "\nNo reviews file: every finding is new. This bundle was converted from "
        f"{source.resolve()}, whose QA decisions a conversion does not copy: --reviews "
        f"{source.resolve() / 'reviews.csv'} applies them.\n"
    ) in capsys.readouterr().out


def _stopping_midway(bundle):
    """A conversion's tables whose appointments stop after one part, as a full disk would."""

    def appointments():
        yield bundle.appointments.iloc[:10]
        raise OutputError("appointments.parquet could not be written: No space left on device.")

    tables = {name: [frame] for name, frame in {**bundle.tables, "calls": bundle.calls}.items()}
    return tables | {"appointments": appointments()}


def test_a_conversion_that_stops_midway_leaves_its_folder_as_it_was(tmp_path):
    from auditkit.convert import write_converted

    out = tmp_path / "parquet"
    convert(SAMPLE, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bundle = load(SAMPLE)

    with pytest.raises(OutputError, match="No space left on device"):
        write_converted(bundle, out, None, _stopping_midway(bundle))

    # The earlier conversion whole (its staff and clients not replaced), nothing staged left.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    new = tmp_path / "new"
    with pytest.raises(OutputError):
        write_converted(bundle, new, None, _stopping_midway(bundle))
    assert not new.exists()  # the folder the run made, gone with it


def test_a_conversion_clears_what_a_killed_one_left_in_its_folder(tmp_path):
    import os
    import time

    from auditkit.output import ABANDONED_AFTER_SECONDS

    out = tmp_path / "parquet"
    killed, running = out / ".converting-killed", out / ".converting-running"
    for folder in (killed, running):
        folder.mkdir(parents=True)
        (folder / "staff.parquet").write_bytes(b"half")
    long_ago = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(killed, (long_ago, long_ago))

    done = convert(SAMPLE, out)

    assert sorted(p.name for p in out.iterdir()) == sorted([*done.files, running.name])
    assert done.files[-1] == "converted.json"
