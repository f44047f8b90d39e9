"""`auditkit audit` at the terminal (issue 4): reviews, progress, summary, --quiet, exit codes."""

from __future__ import annotations

import gc
import re
import shutil
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from paths import ROOT, SAMPLE
from review_fixtures import reviewed_bundle, write_reviews
from rule_fixtures import build_bundle

import auditkit
from auditkit.cli import main
from auditkit.rules import RULES
from auditkit.sample import generate_sample

DISMISS_MS001 = "MS001,A2,dismissed,Jordan,2026-04-01 09:30,=Client called in"
DISMISS_NT001 = "NT001,A2,dismissed,Jordan,2026-04-01 09:35,Note was on paper"
STALE_A1 = "MS001,A1,confirmed,Jordan,2026-03-03 08:00,"


def audit(bundle, tmp_path, *options: str) -> int:
    return main(["audit", str(bundle.path), "--out", str(tmp_path / "out"), *options])


def summary_rows(stdout: str) -> dict[str, list[float | str]]:
    """rule -> [opportunities, findings, dismissed, compliance] from the printed summary; the
    compliance of a rule with no figure is the words that say why."""
    rows = [line.split(maxsplit=4) for line in stdout.splitlines()]
    return {
        r[0]: [*(float(v) for v in r[1:4]), r[4] if r[4].startswith("n/a") else float(r[4])]
        for r in rows
        if len(r) == 5 and r[0] in RULES and r[1].isdigit()
    }


def at_a_terminal(monkeypatch) -> None:
    """Make (the captured) stderr look like a terminal, as when a person runs the command."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def paragraph(text: str) -> str:
    """Text with its line wrapping undone."""
    return " ".join(text.split())


def test_a_completed_audit_exits_0_prints_a_summary_and_writes_stale_reviews(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001, STALE_A1)

    assert audit(bundle, tmp_path) == 0

    out, err = capsys.readouterr()
    assert err == ""  # not a terminal: no progress lines
    assert "\n rule  opportunities  findings  dismissed             compliance\n" in out
    rows = summary_rows(out)
    assert list(rows) == list(RULES)
    assert rows["MS001"] == [3, 0, 1, 1.0]
    assert rows["NT001"] == [3, 1, 0, 0.6667]
    assert rows["VM002"] == [2, 1, 0, 0.5]
    assert rows["TP001"] == [0, 0, 0, "n/a — nothing examined"]  # not 100 %
    # the built-in policy names no clinic: VM001 can't listen for it, so it is not checked
    assert rows["VM001"] == [0, 0, 0, "n/a — not checked"]
    assert (
        "\nVM001 not checked: the policy names no clinic (clinic.name in policy.toml).\n\n"
        "2 findings"
    ) in out
    assert (
        "2 findings, and 1 dismissed on review; 0 input rows rejected (0 problems in rejected.csv)."
    ) in out
    reviews = bundle.path / "reviews.csv"
    assert f"Reviews from {reviews}: 0 confirmed, 1 dismissed, 2 new; 1 stale.\n" in out
    stale = pd.read_csv(tmp_path / "out" / "stale_reviews.csv", dtype=str, keep_default_na=False)
    assert stale.to_dict("records") == [
        {
            "rule": "MS001",
            "subject_id": "A1",
            "decision": "confirmed",
            "reviewer": "Jordan",
            "reviewed_at": "2026-03-03 08:00:00-08:00",
            "comment": "",
            "client_id": "",
            "evidence": "",
            "source_line": "3",
            "at": "2026-03-02 13:00:00-08:00",
            "reason": "MS001 no longer finds a problem with appointment A1",
        }
    ]
    findings = pd.read_csv(tmp_path / "out" / "findings.csv", dtype=str, keep_default_na=False)
    assert findings[["rule", "review", "reviewer", "reviewed_at", "review_comment"]].to_dict(
        "records"
    ) == [
        {
            "rule": "MS001",
            "review": "dismissed",
            "reviewer": "Jordan",
            "reviewed_at": "2026-04-01 09:30:00-07:00",
            "review_comment": "'=Client called in",  # never a live formula
        },
        {"rule": "NT001", "review": "new", "reviewer": "", "reviewed_at": "", "review_comment": ""},
        {"rule": "VM002", "review": "new", "reviewer": "", "reviewed_at": "", "review_comment": ""},
    ]
    compliance = pd.read_csv(tmp_path / "out" / "compliance.csv").set_index("rule")
    assert compliance.loc["MS001"].to_dict() == {
        "opportunities": 3,
        "findings": 0,
        "compliance": 1.0,
    }


def test_reviews_option_overrides_the_bundles_reviews_file(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)
    other = write_reviews(tmp_path / "other.csv", DISMISS_NT001)

    assert audit(bundle, tmp_path, "--reviews", str(other)) == 0

    out = capsys.readouterr().out
    assert f"Reviews from {other}: 0 confirmed, 1 dismissed, 2 new; 0 stale." in out
    assert summary_rows(out)["MS001"] == [3, 1, 0, 0.6667]
    assert summary_rows(out)["NT001"] == [3, 0, 1, 1.0]
    findings = pd.read_csv(tmp_path / "out" / "findings.csv")
    assert findings["review"].tolist() == ["new", "dismissed", "new"]


def test_fail_on_high_exits_1_while_a_high_finding_is_not_dismissed(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)  # NT001 on A2 (high) still stands

    assert audit(bundle, tmp_path, "--fail-on", "HIGH") == 1  # in any case

    out = capsys.readouterr().out
    assert out.endswith(
        "Exit code 1 (--fail-on high): findings of high severity or above that are not "
        "dismissed: 1.\n"
    )


def test_fail_on_counts_only_findings_not_dismissed_at_or_above_the_severity(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001, DISMISS_NT001)  # VM002 (low) is left

    assert audit(bundle, tmp_path, "--fail-on", "high") == 0
    assert audit(bundle, tmp_path, "--fail-on", "medium") == 0
    assert "Exit code 1" not in capsys.readouterr().out
    assert audit(bundle, tmp_path, "--fail-on", "low") == 1
    assert capsys.readouterr().out.endswith(
        "Exit code 1 (--fail-on low): findings of low severity or above that are not "
        "dismissed: 1.\n"
    )
    assert audit(bundle, tmp_path) == 0  # no threshold, no failure


def test_a_missing_bundle_exits_2_with_one_paragraph(tmp_path, capsys):
    missing = tmp_path / "no-such-bundle"

    assert main(["audit", str(missing), "--out", str(tmp_path / "out")]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert paragraph(err) == (
        f"auditkit: {missing} does not exist. An audit bundle is a folder of table files."
    )
    assert not (tmp_path / "out").exists()


def test_a_bad_fail_on_value_exits_2_naming_the_choices(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)

    assert audit(bundle, tmp_path, "--fail-on", "severe") == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert "auditkit audit: error: argument --fail-on: invalid choice: 'severe'" in err
    assert re.search(r"\(choose from '?high'?, '?medium'?, '?low'?\)", err)
    assert not (tmp_path / "out").exists()


def test_a_month_of_year_0_is_a_usage_error(tmp_path, capsys):
    """--month 0000-01 passed the check and crashed the report with 'year 0 is out of range'."""
    bundle = reviewed_bundle(tmp_path)

    assert audit(bundle, tmp_path, "--month", "0000-01") == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == (
        "auditkit audit: error: argument --month: month must be 1900-01 to 2199-12, not '0000-01'"
    )
    assert not (tmp_path / "out").exists()


def test_a_missing_reviews_file_exits_2(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)
    missing = tmp_path / "reviews-missing.csv"

    assert audit(bundle, tmp_path, "--reviews", str(missing), "--quiet") == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert paragraph(err) == f"auditkit: The reviews file {missing} does not exist."


def test_a_missing_reviews_file_stops_the_audit_before_any_work(tmp_path, capsys, monkeypatch):
    bundle = reviewed_bundle(tmp_path)
    missing = tmp_path / "reviews-missing.csv"
    monkeypatch.setattr(auditkit, "load", lambda *a, **k: pytest.fail("the bundle was loaded"))

    assert audit(bundle, tmp_path, "--reviews", str(missing), "--quiet") == 2

    assert paragraph(capsys.readouterr().err) == (
        f"auditkit: The reviews file {missing} does not exist."
    )


@pytest.mark.parametrize("option", ["--reviews", "--calls"])
def test_a_reviews_file_or_call_log_that_is_a_folder_exits_2(tmp_path, capsys, option):
    bundle = reviewed_bundle(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()

    assert audit(bundle, tmp_path, option, str(folder), "--quiet") == 2

    out, err = capsys.readouterr()
    assert out == ""
    kind = "reviews file" if option == "--reviews" else "call log"
    name = "reviews file" if option == "--reviews" else "call log file"
    assert paragraph(err) == f"auditkit: The {kind} {folder} is a folder; name the {name} itself."


@pytest.mark.parametrize("option", ["--reviews", "--calls"])
def test_a_reviews_file_or_call_log_of_no_known_format_exits_2(tmp_path, capsys, option):
    """A CSV saved as .txt was read as Parquet, and the message spoke of Parquet magic bytes."""
    bundle = reviewed_bundle(tmp_path)
    text = tmp_path / "decisions.txt"
    text.write_text("rule,subject_id\n", encoding="utf-8")

    assert audit(bundle, tmp_path, option, str(text), "--quiet") == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert paragraph(err) == (
        "auditkit: decisions.txt is not a .csv, .xlsx or .parquet file, so auditkit cannot tell "
        "how to read it. Give it the suffix of its format (a CSV export: decisions.csv)."
    )


NAMED_CLINIC = (  # every rule can be checked, in the zone the sample was written in
    '[clinic]\nname = "Riverside Psychology Clinic"\ntimezone = "America/Los_Angeles"\n'
)


def test_quiet_prints_nothing_for_a_clean_run_even_at_a_terminal(tmp_path, capsys, monkeypatch):
    at_a_terminal(monkeypatch)
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)
    (bundle.path / "policy.toml").write_text(NAMED_CLINIC, encoding="utf-8")

    assert audit(bundle, tmp_path, "--quiet") == 0

    assert capsys.readouterr() == ("", "")
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {
        "compliance.csv",
        "compliance_by_clinician.csv",
        "compliance_by_month.csv",
        "findings.csv",
        "pending.csv",
        "rejected.csv",
        "stale_reviews.csv",
    } <= written


def test_quiet_still_sets_the_exit_code_and_says_why_on_stderr(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)
    (bundle.path / "policy.toml").write_text(NAMED_CLINIC, encoding="utf-8")

    assert audit(bundle, tmp_path, "--quiet", "--fail-on", "high") == 1
    # a scheduled job's log says why it failed
    assert capsys.readouterr() == (
        "",
        "auditkit: Exit code 1 (--fail-on high): findings of high severity or above that are "
        "not dismissed: 2.\n",
    )
    assert audit(bundle, tmp_path, "--quiet", "--fail-on", "low") == 1
    assert audit(bundle, tmp_path, "--quiet") == 0


def test_quiet_still_says_what_went_unexamined_on_stderr(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)  # the built-in policy: no clinic name for VM001

    assert audit(bundle, tmp_path, "--quiet", "--month", "2027-01") == 0
    assert capsys.readouterr() == (
        "",
        "auditkit: No policy file: times written without an offset were read as clinic time in "
        "America/Los_Angeles, the built-in zone, and months and days are counted there. A "
        "clinic elsewhere names its zone in policy.toml ([clinic] timezone).\n"
        "auditkit: No records in 2027-01: nothing was examined. The bundle's records run from "
        "2026-03 to 2026-04.\n"
        "auditkit: VM001 not checked: the policy names no clinic (clinic.name in policy.toml).\n",
    )


@pytest.mark.parametrize(
    ("command", "left_out", "written"),
    [
        (
            ["convert", "{bundle}", "--to", "parquet", "--out", "{out}"],
            "7 rows were set aside, not converted (7 problems, all in {out}/rejected.csv).",
            "appointments.parquet",
        ),
        (
            ["deidentify", "{bundle}", "--out", "{out}"],
            "7 input rows set aside by the loader are not in the extract (auditkit validate "
            "{bundle} lists them).",
            "appointments.csv",
        ),
    ],
    ids=["convert", "deidentify"],
)
def test_quiet_says_only_what_the_results_leave_out_on_stderr(
    command, left_out, written, tmp_path, capsys, monkeypatch
):
    at_a_terminal(monkeypatch)  # no progress either
    clean = tmp_path / "clean"
    generate_sample(clean, clients=3)
    for bundle, said in ((SAMPLE, f"auditkit: {left_out}\n"), (clean, "")):
        out = tmp_path / f"out-{bundle.name}"
        args = [a.format(bundle=bundle, out=out) for a in command]

        assert main([*args, "--quiet"]) == 0

        if command[0] == "deidentify":  # wherever it went, the key is said to be there
            said = (
                f"auditkit: The key to re-identify it is {out}.key.csv: keep it at the clinic; "
                "the researcher must never receive it.\n" + said
            )
        assert capsys.readouterr() == ("", said.format(bundle=bundle, out=out))
        assert (out / written).is_file()


def test_progress_goes_to_stderr_one_line_per_step_at_a_terminal(tmp_path, capsys, monkeypatch):
    at_a_terminal(monkeypatch)
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001, "XX999,A2,dismissed,Jordan,2026-04-01,")

    assert audit(bundle, tmp_path) == 0

    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "read staff.csv: 5 rows",
        "read clients.csv: 2 rows",
        "read appointments.csv: 3 rows",
        "read contacts.csv: 2 rows",
        "read notes.csv: 2 rows",
        "read approvals.csv: 0 rows",
        "validating",
        "MS001 no-outreach-call: 1 finding",
        "MS002 called-too-soon: 0 findings",
        "MS003 no-voicemail-left: 0 findings",
        "VM001 clinic-named-without-consent: not checked: the policy names no clinic "
        "(clinic.name in policy.toml)",
        "VM002 no-fee-notice: 1 finding",
        "VM003 closure-warning-unapproved: 0 findings",
        "VM004 closure-warning-premature: 0 findings",
        "NT001 missed-session-undocumented: 1 finding",
        "NT002 missed-session-note-incomplete: 0 findings",
        "TP001 third-party-told: 0 findings",
        "IQ001 no-neither-confirm-nor-deny-reply: 0 findings",
        "PC001 phone-beyond-scheduling: 0 findings",
        "LG001 call-not-logged: 0 findings",
        "LG002 logged-call-not-placed: 0 findings",
        "read reviews.csv: 1 review, 1 problem set aside",
    ]
    # the summary stays on stdout
    assert (
        "2 findings, and 1 dismissed on review; 1 input row rejected (1 problem in rejected.csv)."
    ) in out
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv")
    assert rejected[["file", "line", "column"]].to_dict("records") == [
        {"file": "reviews.csv", "line": 3, "column": "rule"}
    ]


def test_month_with_reviews_counts_and_lists_that_month_only(tmp_path, capsys):
    bundle = reviewed_bundle(
        tmp_path,
        DISMISS_MS001,
        STALE_A1,
        "VM002,K2,dismissed,Casey,2026-04-08 10:00,Fee waived",
    )

    assert audit(bundle, tmp_path, "--month", "2026-04", "--fail-on", "low") == 0

    out = capsys.readouterr().out
    assert "Audited" in out and "(month 2026-04;" in out
    assert summary_rows(out)["VM002"] == [1, 0, 1, 1.0]
    assert summary_rows(out)["MS001"] == [1, 0, 0, 1.0]
    assert "0 confirmed, 1 dismissed, 0 new; 0 stale." in out
    assert pd.read_csv(tmp_path / "out" / "stale_reviews.csv").empty

    assert audit(bundle, tmp_path, "--month", "2026-03", "--fail-on", "high") == 1
    out = capsys.readouterr().out
    assert summary_rows(out)["MS001"] == [2, 0, 1, 1.0]
    assert "0 confirmed, 1 dismissed, 1 new; 1 stale." in out
    stale = pd.read_csv(tmp_path / "out" / "stale_reviews.csv")
    assert stale[["rule", "subject_id"]].to_dict("records") == [
        {"rule": "MS001", "subject_id": "A1"}
    ]


def test_month_last_audits_the_month_before_this_one(tmp_path, capsys, monkeypatch):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)
    asked = []
    # On the clinic's clock, as if the audit ran in May 2026: last month is April.
    monkeypatch.setattr(
        "auditkit.auditing.last_month", lambda timezone: asked.append(timezone) or "2026-04"
    )

    assert audit(bundle, tmp_path, "--month", "Last") == 0  # typed by hand: any case

    out = capsys.readouterr().out
    assert asked == [bundle.policy.clinic.timezone]
    assert "(month 2026-04;" in out
    assert summary_rows(out)["MS001"] == [1, 0, 0, 1.0]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Audited period: <strong>April 2026 (2026-04)</strong>" in report


def test_the_command_leaves_out_modules_it_never_uses(tmp_path):
    """`auditkit` (cli.run) keeps jsonschema's format checkers, dask.dataframe, anywidget (and
    ipywidgets), openpyxl and hypothesis out of its process, and imports the pipeline only
    when a command needs it; numpy, when it comes, starts one BLAS thread, not one per core."""
    program = f"""
import gc, os, sys
os.environ.pop("OPENBLAS_NUM_THREADS", None)
from auditkit import cli
print("pandera" in sys.modules, "pandas" in sys.modules, "numpy" in sys.modules)
sys.argv = ["auditkit", "audit", {str(SAMPLE)!r}, "--out", {str(tmp_path)!r}, "--quiet"]
try:
    cli.run()
except SystemExit as done:
    print(done.code, gc.isenabled(), gc.get_freeze_count() > 0)
print(os.environ["OPENBLAS_NUM_THREADS"])  # set before numpy came in, above
print(sorted(m for m in ("rfc3987_syntax", "rfc3986_validator", "isoduration",
                         "dask.dataframe", "anywidget", "ipywidgets",
                         "openpyxl", "hypothesis", "auditkit.report", "pandera")
             if sys.modules.get(m) is not None))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:4] == [
        "False False False",
        "0 True True",  # and the garbage collector was let back in after the imports
        "1",
        "['auditkit.report', 'pandera']",
    ]
    assert (tmp_path / "report.html").is_file()


def test_the_audit_command_imports_the_report_only_once_the_rules_are_done(tmp_path):
    """altair and vl-convert (36 MB) are not held through the load and the rules, the peaks of
    a large run; the report is still written, and the modules frozen as the first imports."""
    program = f"""
import gc, sys
from auditkit import auditing, cli
real_audit = auditing.audit
def audit(*args, **kwargs):
    result = real_audit(*args, **kwargs)
    print(sorted(m for m in ("altair", "vl_convert", "auditkit.report") if m in sys.modules))
    return result
auditing.audit = audit
sys.argv = ["auditkit", "audit", {str(SAMPLE)!r}, "--out", {str(tmp_path)!r}, "--quiet"]
try:
    cli.run()
except SystemExit as done:
    print(done.code, gc.isenabled(), "altair" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "0 True True"]
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.xlsx").is_file()


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{bundle}"],
        ["audit", "{bundle}", "--out", "{out}", "--quiet"],
        ["convert", "{bundle}", "--to", "parquet", "--out", "{out}"],
        ["import", "{out}/none.csv", "--preset", "ringcentral", "--into", "{bundle}"],
        ["rules", "MS001"],
        ["sample", "{out}", "--clients", "2"],
        ["deidentify", "{bundle}", "--out", "{out}"],
    ],
    ids=lambda command: command[0],
)
def test_every_command_lets_the_garbage_collector_back_in_after_its_imports(
    command, make_bundle, tmp_path, capsys
):
    """cli.run() imports with the collector off; a command that never turned it back on would
    run its whole job without one."""
    bundle, out = make_bundle(), tmp_path / "out"
    frozen = gc.get_freeze_count()
    gc.disable()
    try:
        main([part.format(bundle=bundle, out=out) for part in command])
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.enable()


def test_version_names_the_installed_release(capsys):
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"auditkit {project['version']}\n"


def test_a_month_with_nothing_examined_has_no_compliance_figures(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)

    assert audit(bundle, tmp_path, "--month", "2027-01") == 0

    out = capsys.readouterr().out
    said = {
        "VM001": "n/a — not checked",
        "LG001": "n/a — no call log",
        "LG002": "n/a — no call log",
    }
    assert summary_rows(out) == {
        code: [0, 0, 0, said.get(code, "n/a — nothing examined")] for code in RULES
    }
    table_end = out.index("LG002")
    assert out[out.index("\n", table_end) + 1 :].startswith(
        "No policy file: times written without an offset were read as clinic time in "
        "America/Los_Angeles, the built-in zone, and months and days are counted there. A "
        "clinic elsewhere names its zone in policy.toml ([clinic] timezone).\n"
        "No records in 2027-01: nothing was examined. The bundle's records run from 2026-03 to "
        "2026-04.\n"
        "VM001 not checked: the policy names no clinic (clinic.name in policy.toml).\n\n"
    )
    page = (tmp_path / "out" / "report.html").read_text("utf-8")  # still written
    assert (
        '<p class="caveat">No records in 2027-01: nothing was examined. The bundle&#x27;s records '
        "run from 2026-03 to 2026-04.</p>"
    ) in page
    lines = (tmp_path / "out" / "compliance.csv").read_text("utf-8").splitlines()
    assert lines == ["rule,opportunities,findings,compliance"] + [f"{c},0,0," for c in RULES]
    by_rule = pd.read_csv(tmp_path / "out" / "compliance.csv")
    assert by_rule["compliance"].isna().all()  # read back as no figure, never as 100 %
    assert pd.read_csv(tmp_path / "out" / "compliance_by_clinician.csv").empty
    # month over month as the workbook's Months sheet: the months before, none of 2027-01
    by_month = pd.read_csv(tmp_path / "out" / "compliance_by_month.csv", dtype={"month": str})
    assert sorted(set(by_month["month"])) == ["2026-03", "2026-04"]


def test_the_sample_without_its_policy_audits_vm001_as_not_checked(tmp_path, capsys):
    """The sample's policy names the clinic; without it, VM001 has nothing to listen for."""
    bundle = tmp_path / "sample"
    shutil.copytree(SAMPLE, bundle, ignore=shutil.ignore_patterns("policy.toml"))
    out_dir = tmp_path / "out"

    assert main(["audit", str(bundle), "--out", str(out_dir)]) == 0

    out = capsys.readouterr().out
    rows = summary_rows(out)
    assert rows["VM001"] == [0, 0, 0, "n/a — not checked"]
    assert rows["VM002"] == [113, 8, 0, 0.9292]  # the other rules run as before
    caveat = "VM001 not checked: the policy names no clinic (clinic.name in policy.toml)."
    assert [line for line in out.splitlines() if "not checked:" in line] == [caveat]
    assert "VM001,0,0,\n" in (out_dir / "compliance.csv").read_text("utf-8")
    page = (out_dir / "report.html").read_text("utf-8")
    assert f'<p class="caveat">{caveat}</p>' in page


def test_the_sample_with_its_policy_checks_every_rule(tmp_path, capsys):
    assert main(["audit", str(SAMPLE), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert summary_rows(out)["VM001"] == [211, 6, 0, 0.9716]
    assert "not checked" not in out


def test_the_summary_prints_every_compliance_figure_to_four_decimals(tmp_path, capsys):
    # a column that also holds "n/a — …" words printed 0.5 beside 0.9384
    assert main(["audit", str(SAMPLE), "--out", str(tmp_path / "out")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    figures = {r[0]: r[4] for r in rows if len(r) == 5 and r[0] in RULES}
    assert figures["IQ001"] == "0.5000"
    assert figures["NT002"] == "0.9270"
    assert all(re.fullmatch(r"\d\.\d{4}", f) for f in figures.values())


def test_reviews_rows_set_aside_show_in_the_coverage_and_the_reviews_line(tmp_path, capsys):
    bundle = reviewed_bundle(
        tmp_path,
        "MS001,A2,dismissed,Jordan,20/03/2026,Client called in",  # a day-first date: set aside
        "NT001,A2,confirmed,Jordan,2026-03-20,",
    )

    assert audit(bundle, tmp_path) == 0

    out = capsys.readouterr().out
    # the reviews file is a file read like the bundle's: its row of the coverage table
    coverage = [line.split() for line in out.splitlines() if line.strip().startswith("reviews")]
    assert coverage == [["reviews.csv", "2", "1", "1"]]
    reviews = bundle.path / "reviews.csv"
    assert (
        f"Reviews from {reviews}: 1 confirmed, 0 dismissed, 2 new; 0 stale; 1 row of the file "
        "set aside (rejected.csv).\n"
    ) in out
    assert "3 findings; 1 input row rejected (1 problem in rejected.csv)." in out
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str)
    assert rejected[["file", "line", "record_id", "column"]].values.tolist() == [
        ["reviews.csv", "2", "MS001 A2", "reviewed_at"]
    ]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<td>reviews.csv</td>" in page


def test_a_clinicians_report_holds_their_records_and_leaves_the_bundles_own(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)

    assert audit(bundle, tmp_path, "--clinician", "T1") == 0

    out = capsys.readouterr().out
    assert out.startswith(
        f"Audited {bundle.path} (everything in the bundle; only the records of T1;"
    )
    assert summary_rows(out)["MS001"] == [2, 0, 1, 1.0]  # T2's no-show is not theirs
    findings = pd.read_csv(tmp_path / "out" / "findings.csv", dtype=str)
    assert findings[["rule", "subject_id", "staff_id"]].values.tolist() == [
        ["MS001", "A2", "T1"],
        ["NT001", "A2", "T1"],
    ]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<p class="scope">For T1 Robin Example: the findings and compliance of this ' in page
    assert "The bundle's input rows set aside are not listed in a clinician's report" in page
    assert "The bundle's stale reviews are not listed in a clinician's report" in page
    book = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx", read_only=True)
    assert book.sheetnames == ["About", "Findings", "Rules", "Clinicians", "Months"]
    # the folder is the supervisor's: the bundle's tables are written as ever
    assert (tmp_path / "out" / "rejected.csv").is_file()
    assert (tmp_path / "out" / "stale_reviews.csv").is_file()


def test_a_clinician_the_staff_table_lacks_exits_2(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)

    assert audit(bundle, tmp_path, "--clinician", "T9", "--quiet") == 2

    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: No clinician T9 in the bundle's staff table: name a staff_id it holds (ADM, "
        "DIR, SUP, T1, T2)."
    )


def test_a_clinician_whose_staff_row_was_set_aside_is_told_so(tmp_path, capsys):
    assert main(["audit", str(SAMPLE), "--out", str(tmp_path / "out"), "--clinician", "S013"]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: Clinician S013's row of staff.csv was set aside (line 14: role 'volunteer' is "
        "not one of: therapist, supervisor, program_director, admin), so the audit has no "
        "records of theirs. Correct the row and run again."
    )


def test_a_clinicians_reviews_line_counts_the_bundles_stale_reviews_as_such(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001, STALE_A1)

    assert audit(bundle, tmp_path, "--clinician", "T2") == 0

    out = capsys.readouterr().out
    reviews = bundle.path / "reviews.csv"
    assert (
        f"Reviews from {reviews}: 0 confirmed, 0 dismissed, 1 new; 1 stale in the bundle.\n" in out
    )


def test_a_run_showing_names_says_so_at_the_terminal_and_under_quiet(tmp_path, capsys):
    bundle = reviewed_bundle(tmp_path)
    shown = (
        "Names shown (--show-names): client names and phone numbers are in the report and the "
        f"tables in {tmp_path / 'out'}. For internal QA only; do not file or share them."
    )

    assert audit(bundle, tmp_path, "--show-names") == 0
    assert f"\n{shown}\n" in capsys.readouterr().out
    assert audit(bundle, tmp_path, "--show-names", "--quiet") == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"auditkit: {shown}"
    assert audit(bundle, tmp_path) == 0
    assert "Names shown" not in capsys.readouterr().out


def test_pending_csv_lists_the_missed_sessions_not_judged_yet(tmp_path, capsys):
    """A no-show an hour ago has its call and note still to come: no finding, a caveat, and a
    row in pending.csv for each rule that waits on it, with when it is due."""
    zone = "America/Los_Angeles"
    start = (pd.Timestamp.now(zone) - pd.Timedelta(hours=1)).floor("min")
    bundle = build_bundle(
        tmp_path,
        appointments=[{"appointment_id": "A1", "scheduled_start": start.isoformat()}],
        contacts=[{"started_at": "2026-03-02T13:25:00-08:00", "purpose": "scheduling"}],
    )
    out = tmp_path / "out"

    assert main(["audit", str(bundle.path), "--out", str(out)]) == 0

    pending = pd.read_csv(out / "pending.csv", dtype=str)
    assert list(pending.columns) == ["rule", "subject_id", "client_id", "staff_id", "at", "due"]
    due = {
        "MS001": start + pd.Timedelta(hours=24),
        "NT001": start + pd.Timedelta(hours=48),
    }
    assert pending[["rule", "subject_id", "client_id", "staff_id"]].values.tolist() == [
        ["MS001", "A1", "C1", "T1"],
        ["NT001", "A1", "C1", "T1"],
    ]
    assert [pd.Timestamp(t) for t in pending["due"]] == [due["MS001"], due["NT001"]]
    findings = pd.read_csv(out / "findings.csv", dtype=str)
    assert not findings["rule"].isin(["MS001", "MS003", "NT001"]).any()
    assert "MS001 not judged yet for 1 appointment" in capsys.readouterr().out
