"""The monthly dashboard: set its widgets (or click its charts) and read the frames and specs.

All on data/sample, audited once. Chart specs are read from each JupyterChart's synced `spec`,
which is what the browser draws. Exact figures are given for CONTACT_RULES, chosen in the rules
widget where they are asserted, so a rule added to the registry later adds its own rows without
changing these; totals over every rule are checked against the audit itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import ipywidgets as widgets
import openpyxl
import pandas as pd
import pytest
from paths import SAMPLE

from auditkit import audit, load
from auditkit.auditing import count_opportunities
from auditkit.cli import main
from auditkit.dashboard import (
    MAX_TABLE_ROWS,
    PICK_CELL,
    PICK_RULE,
    MonthlyDashboard,
    Selection,
    clinicians_folder,
    dashboard_charts,
    filter_findings,
    findings_html,
)
from auditkit.policy import Policy
from auditkit.rules import RULES

CONTACT_RULES = (
    "MS001",
    "MS002",
    "MS003",
    "VM001",
    "VM002",
    "VM003",
    "VM004",
    "NT001",
    "NT002",
    "TP001",
    "IQ001",
    "PC001",
)
# S003's findings, in the audit's order: most severe first, then by rule.
S003 = [
    ("PC001", "CT000783"),
    ("VM001", "CT000623"),
    ("VM003", "CT000573"),
    ("VM002", "CT000516"),
]
# (rule, records examined, findings, compliance) for S003 over the year
S003_RULES = [
    ("MS001", 3, 0, 1.0),
    ("MS002", 7, 0, 1.0),
    ("MS003", 3, 0, 1.0),
    ("VM001", 7, 1, 0.8571),
    ("VM002", 4, 1, 0.75),
    ("VM003", 1, 1, 0.0),
    ("VM004", 1, 0, 1.0),
    ("NT001", 3, 0, 1.0),
    ("NT002", 4, 0, 1.0),
    ("TP001", 1, 0, 1.0),
    ("IQ001", 0, 0, None),  # nothing examined: no figure, not 100 %
    ("PC001", 24, 1, 0.9583),
]
MARCH = [("PC001", "CT000418"), ("VM003", "CT000387")]


@pytest.fixture(scope="module")
def result():
    return audit(load(SAMPLE))


@pytest.fixture
def dashboard(result):
    return MonthlyDashboard(result)


def test_the_count_leaves_dismissed_findings_apart_as_the_charts_do(result, tmp_path):
    first = result.findings.iloc[0]
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        "rule,subject_id,decision,reviewer,reviewed_at,comment\n"
        f"{first['rule']},{first['subject_id']},dismissed,Jordan,2026-09-01,on paper\n"
    )
    dashboard = MonthlyDashboard(audit(load(SAMPLE), reviews=reviews))
    assert dashboard.count.value == (
        f"<strong>{len(result.findings) - 1}</strong> findings, and 1 dismissed on review · "
        "all months · all clinicians · all rules · all severities"
    )
    assert len(dashboard.findings) == len(result.findings)  # listed, struck through


def keys(findings: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(findings["rule"], findings["subject_id"], strict=True))


def rows(spec: dict, layer: int | None = None) -> list[dict]:
    """The inline data of a chart spec, or of one of its layers."""
    data = (spec if layer is None else spec["layer"][layer])["data"]
    return spec["datasets"][data["name"]]


def rule_rows(spec: dict) -> list[tuple]:
    return [(r["rule"], r["opportunities"], r["findings"], r["compliance"]) for r in rows(spec)]


def cells(spec: dict) -> list[tuple]:
    """Heatmap cells: (staff_id, rule, records examined, findings), sorted."""
    return sorted((r["staff_id"], r["rule"], r["opportunities"], r["findings"]) for r in rows(spec))


def click(chart, name: str, *points: dict) -> None:
    """What the browser sends when marks of a JupyterChart are clicked: the selection signal."""
    chart._vl_selections = {name: {"value": {"vlPoint": {"or": list(points)}}, "store": []}}


# --- pure functions --------------------------------------------------------------------------


def test_filter_findings_keeps_exactly_the_selection(result):
    findings = result.findings
    assert keys(filter_findings(findings, clinicians=["S003"], rules=CONTACT_RULES)) == S003
    assert keys(filter_findings(findings, month="2026-03", rules=CONTACT_RULES)) == MARCH
    march = filter_findings(findings, month="2026-03", rules=CONTACT_RULES, severities=["low"])
    assert keys(march) == []
    low = filter_findings(findings, rules=CONTACT_RULES, severities=["low"])
    assert low["rule"].value_counts().to_dict() == {"VM002": 8, "VM004": 2}
    assert keys(filter_findings(findings)) == keys(findings)
    # a month keeps what an audit of that month finds, over every rule
    assert keys(filter_findings(findings, month="2026-03")) == keys(
        audit(result.bundle, month="2026-03").findings
    )


def test_charts_of_the_whole_year(result):
    charts = {
        name: chart.to_dict() for name, chart in dashboard_charts(result, Selection()).items()
    }
    assert [r[0] for r in rule_rows(charts["rules"])] == list(RULES)
    assert sum(r[1] for r in rule_rows(charts["rules"])) == len(result.opportunities)
    assert sum(r[2] for r in rule_rows(charts["rules"])) == len(result.findings)
    # every month of the bundle, both rates, and no audited-month marker
    trend = rows(charts["trend"], layer=1)
    assert list(dict.fromkeys(r["month"] for r in trend)) == [
        str(pd.Period("2025-09", freq="M") + i) for i in range(12)
    ]
    assert len(trend) == 2 * 12
    assert rows(charts["trend"], layer=0) == []


def test_charts_follow_a_month_as_an_audit_of_that_month_would(result):
    charts = dashboard_charts(result, Selection(month="2026-03"))
    march = audit(result.bundle, month="2026-03")
    expected = march.compliance_by("staff_id")
    expected = expected[expected["opportunities"] > 0]
    heatmap = charts["heatmap"].to_dict()
    assert cells(heatmap) == sorted(
        zip(
            expected["staff_id"],
            expected["rule"],
            expected["opportunities"],
            expected["findings"],
            strict=True,
        )
    )
    contact_cells = [c for c in cells(heatmap) if c[1] in CONTACT_RULES]
    assert sum(c[2] for c in contact_cells) == 109
    assert [c for c in contact_cells if c[3]] == [("S001", "VM003", 1, 1), ("S007", "PC001", 2, 1)]
    assert rule_rows(charts["rules"].to_dict()) == [
        (
            row.rule,
            row.opportunities,
            row.findings,
            None if pd.isna(row.compliance) else row.compliance,
        )
        for row in march.compliance.itertuples()
    ]
    assert rule_rows(charts["rules"].to_dict())[10] == ("IQ001", 0, 0, None)
    trend = charts["trend"].to_dict()
    assert rows(trend, layer=0) == [{"label": "Mar 2026"}]  # the chosen month, marked
    months = list(dict.fromkeys(r["month"] for r in rows(trend, layer=1)))
    # from September 2025, the sample's first month: the six before it would be empty
    assert months == [str(pd.Period("2025-09", freq="M") + i) for i in range(7)]


def test_charts_follow_severities_and_rules(result):
    charts = dashboard_charts(result, Selection(severities=("low",)))
    assert [r[0] for r in rule_rows(charts["rules"].to_dict())] == ["VM002", "VM004"]
    heatmap = charts["heatmap"].to_dict()
    assert {c[1] for c in cells(heatmap)} == {"VM002", "VM004"}
    assert heatmap["layer"][0]["encoding"]["x"]["scale"]["domain"] == ["VM002", "VM004"]
    one_rule = dashboard_charts(result, Selection(rules=("MS002", "VM002"), severities=("low",)))
    assert [r[0] for r in rule_rows(one_rule["rules"].to_dict())] == ["VM002"]


def test_charts_embed_aggregates_not_records_so_a_large_clinic_fits(result):
    """30 copies of the sample's year: over 50,000 records examined, over 2,000 findings."""

    def copied(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat(frame.assign(subject_id=frame["subject_id"] + f"-{i}") for i in range(30))

    big = replace(
        result, opportunities=copied(result.opportunities), findings=copied(result.findings)
    )
    specs = {name: c.to_dict() for name, c in dashboard_charts(big, Selection()).items()}
    embedded = {name: sum(map(len, spec["datasets"].values())) for name, spec in specs.items()}
    one_year = dashboard_charts(result, Selection())["heatmap"].data
    # a row per rule, per clinician and rule, per month and rate: altair's limit is 5,000
    assert embedded == {"rules": len(RULES), "heatmap": len(one_year), "trend": 24}
    assert sum(r[1] for r in rule_rows(specs["rules"])) == 30 * len(result.opportunities)
    assert len(big.opportunities) > 50_000
    table = findings_html(big.findings, {})
    assert table.count("<tr") == 1 + MAX_TABLE_ROWS
    assert f"Showing the first {MAX_TABLE_ROWS} of {30 * len(result.findings)};" in table


@pytest.mark.parametrize(
    "selection",
    [Selection(), Selection(month="2026-06", clinicians=("S003",)), Selection(severities=("low",))],
)
def test_charts_of_counts_alone_are_those_of_the_records(result, selection):
    """A Dask engine's audit holds its opportunities counted per rule, clinician and month and
    its records counted, not listed: the charts it gives are the same."""
    records = {name: frame.iloc[:0] for name, frame in result.bundle.tables.items()}
    counted = replace(
        result,
        opportunities=count_opportunities(result.opportunities),
        bundle=replace(
            result.bundle,
            tables={**result.bundle.tables, **{n: records[n] for n in ("appointments", "notes")}},
            counted_records=result.record_counts(),
        ),
    )

    charts = {name: chart.to_dict() for name, chart in dashboard_charts(counted, selection).items()}

    expected = dashboard_charts(result, selection)
    assert charts == {name: chart.to_dict() for name, chart in expected.items()}
    assert sum(r["appointments"] for r in rows(charts["trend"], layer=1)) > 0


def test_findings_scroll_in_a_region_the_keyboard_reaches(result):
    """A scrolled box the keyboard can't focus can't be scrolled without a mouse."""
    table = findings_html(result.findings.head(3), {}, limit=2)
    assert table.startswith(
        '<div class="auditkit-scroll" tabindex="0" role="region" aria-label="Findings"><table>'
    )
    assert table.count("<tr") == 3
    assert table.endswith(
        '</table></div><p class="note">Showing the first 2 of 3; narrow the selection or export '
        "the report for all of them.</p>"
    )


def test_findings_table_escapes_input_text(result):
    hostile = result.findings.head(1).assign(
        evidence="<script>alert(1)</script>", client_id="C<1>", summary="a & b"
    )
    table = findings_html(hostile, {"S012": "S012 <i>Chris</i>"})
    assert "<script>" not in table
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert '<td class="client">C&lt;1&gt;</td>' in table
    assert '<td class="clinician">S012 &lt;i&gt;Chris&lt;/i&gt;</td>' in table
    assert '<td class="summary">a &amp; b</td>' in table


# --- the widget ------------------------------------------------------------------------------


def test_findings_table_dates_the_hour_shown_twice_with_its_zone(result):
    findings = result.findings.head(2).copy()
    pst = pd.Timestamp("2026-11-01T01:30:00-08:00").tz_convert(findings["at"].dt.tz)
    findings.loc[0, "at"] = pst  # 01:30 PST, an hour after 01:30 PDT
    table = findings_html(findings, {})
    assert '<td class="when">2026-11-01 01:30 PST</td>' in table
    other = f"{findings['at'].iloc[1]:%Y-%m-%d %H:%M}"
    assert f'<td class="when">{other}</td>' in table  # any other time as before


def test_starts_on_everything(dashboard, result):
    total = len(result.findings)
    assert dashboard.selection == Selection()
    assert keys(dashboard.findings) == keys(result.findings)
    assert dashboard.count.value == (
        f"<strong>{total}</strong> findings · all months · all clinicians · all rules · "
        "all severities"
    )
    assert dashboard.month.options[:3] == (
        ("all months", "all"),
        ("Aug 2026 (2026-08)", "2026-08"),
        ("Jul 2026 (2026-07)", "2026-07"),
    )
    assert dashboard.clinicians.options[2] == ("S003 Priya Wenvik", "S003")
    assert dashboard.table.value.count('<tr data-rule="') == total


def test_no_chart_offers_the_actions_menu_even_after_a_change(dashboard):
    """vega-embed's "…" menu opens a chart, data and all, in the online Vega Editor. What the
    browser is sent turns it off; a spec's usermeta.embedOptions would override that, so none
    carries any."""
    dashboard.month.value = "2026-03"
    for chart in dashboard.charts.values():
        assert chart.get_state()["embed_options"] == {"actions": False}
        assert "usermeta" not in chart.get_state()["spec"]


def test_choosing_a_clinician_narrows_findings_and_charts(dashboard, result):
    dashboard.clinicians.value = ("S003",)
    theirs = result.findings[result.findings["staff_id"] == "S003"]
    assert keys(dashboard.findings) == keys(theirs)
    assert {c[0] for c in cells(dashboard.charts["heatmap"].spec)} == {"S003"}
    dashboard.rules.value = CONTACT_RULES
    assert keys(dashboard.findings) == S003
    assert dashboard.count.value == (
        "<strong>4</strong> findings · all months · S003 Priya Wenvik · "
        f"{', '.join(CONTACT_RULES)} · all severities"
    )
    assert dashboard.table.value.count("<tr") == 1 + 4
    assert rule_rows(dashboard.charts["rules"].spec) == S003_RULES


def test_choosing_a_month_narrows_findings_heatmap_and_marks_the_trend(dashboard, result):
    before = cells(dashboard.charts["heatmap"].spec)
    dashboard.month.value = "2026-03"
    assert keys(dashboard.findings) == keys(audit(result.bundle, month="2026-03").findings)
    assert [k for k in keys(dashboard.findings) if k[0] in CONTACT_RULES] == MARCH
    assert dashboard.count.value.startswith(
        f"<strong>{len(dashboard.findings)}</strong> findings · March 2026 · "
    )
    march = cells(dashboard.charts["heatmap"].spec)
    assert march != before
    assert march == cells(dashboard_charts(result, Selection(month="2026-03"))["heatmap"].to_dict())
    assert rows(dashboard.charts["trend"].spec, layer=0) == [{"label": "Mar 2026"}]


def test_clicking_a_bar_drills_into_that_rules_findings(dashboard):
    click(dashboard.charts["rules"], PICK_RULE, {"rule": "VM001"})
    assert dashboard.rules.value == ("VM001",)
    assert dashboard.findings["rule"].tolist() == ["VM001"] * 6
    assert dashboard.findings["evidence"].iloc[0] == (
        "“Riverside Clinic”; consent to naming the clinic was never recorded"
    )
    assert [r[0] for r in rule_rows(dashboard.charts["rules"].spec)] == ["VM001"]
    # the new chart's empty selection, as the browser reports it, changes nothing
    click(dashboard.charts["rules"], PICK_RULE)
    assert dashboard.rules.value == ("VM001",)


def test_clicking_a_heatmap_cell_drills_into_that_clinician_and_rule(dashboard):
    click(dashboard.charts["heatmap"], PICK_CELL, {"staff_id": "S008", "rule": "MS003"})
    assert dashboard.clinicians.value == ("S008",)
    assert dashboard.rules.value == ("MS003",)
    assert keys(dashboard.findings) == keys(
        filter_findings(dashboard.result.findings, clinicians=["S008"], rules=["MS003"])
    )
    assert len(dashboard.findings) == 4
    assert cells(dashboard.charts["heatmap"].spec) == [("S008", "MS003", 23, 4)]


def test_show_everything_resets_every_widget(dashboard, result):
    dashboard.month.value = "2026-03"
    dashboard.severities.value = ("high",)
    dashboard.show_all.click()
    assert dashboard.selection == Selection()
    assert keys(dashboard.findings) == keys(result.findings)


def exported(
    button: widgets.Button, dashboard: MonthlyDashboard, folder: Path, out: Path, whose: str
) -> str:
    """Click an export button with `folder` as the Folder; the page it wrote into `out`, once
    the status has said whose report it is and where it went."""
    dashboard.folder.value = str(folder)
    button.click()
    assert dashboard.export_status.value == (
        f"Wrote {whose}'s report: <code>{out / 'report.html'}</code> and "
        f"<code>{out / 'report.xlsx'}</code>"
    )
    return (out / "report.html").read_text("utf-8")


def workbook_as_the_clis(out: Path, cli: Path, *options: str) -> openpyxl.Workbook:
    """The workbook in `out`, once checked cell for cell against the CLI's with `options`."""
    argv = ["audit", str(SAMPLE), "--out", str(cli), "--quiet", *options]
    assert main(argv) == 0
    ours, theirs = (openpyxl.load_workbook(d / "report.xlsx") for d in (out, cli))
    assert ours.sheetnames == theirs.sheetnames
    for name in ours.sheetnames:
        assert list(ours[name].values) == list(theirs[name].values)
    return ours


def test_export_writes_the_clis_report_for_the_month_chosen(dashboard, tmp_path):
    dashboard.month.value = "2026-03"
    dashboard.clinicians.value = ("S003",)  # the filed report is the whole clinic's
    folder = tmp_path / "dashboard"
    page = exported(dashboard.export_button, dashboard, folder, folder, "the clinic")
    assert "Audited period: <strong>March 2026 (2026-03)</strong>" in page
    assert '<p class="scope">' not in page

    book = workbook_as_the_clis(tmp_path / "dashboard", tmp_path / "cli", "--month", "2026-03")
    assert book["Findings"].max_row == 1 + len(
        filter_findings(dashboard.result.findings, "2026-03")
    )


def test_export_for_clinicians_writes_their_report_as_the_cli_does(dashboard, tmp_path):
    assert dashboard.export_clinicians_button.disabled  # no clinician chosen yet
    dashboard.month.value = "2026-03"
    dashboard.clinicians.value = ("S002",)
    dashboard.rules.value = ("MS001",)  # a report leaves out no rule
    assert not dashboard.export_clinicians_button.disabled
    folder = tmp_path / "dashboard"
    button = dashboard.export_clinicians_button
    page = exported(button, dashboard, folder, folder / "S002", "S002 Devin Norley")
    assert '<p class="scope">For S002 Devin Norley: the findings and compliance' in page
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "S002",
        "S002/report.html",
        "S002/report.xlsx",
    ]

    book = workbook_as_the_clis(
        folder / "S002", tmp_path / "cli", "--month", "2026-03", "--clinician", "S002"
    )
    assert book.sheetnames == ["About", "Findings", "Rules", "Clinicians", "Months"]
    in_march = filter_findings(dashboard.result.findings, "2026-03", ["S002"])
    assert book["Findings"].max_row == 1 + len(in_march) == 4  # S002's 3 of March's 9
    dashboard.clinicians.value = ()
    assert dashboard.export_clinicians_button.disabled


def test_exporting_the_clinic_then_a_clinician_leaves_both_reports(dashboard, tmp_path):
    """A trainee's cut written after the clinic's audit must not replace it in the Folder."""
    folder = tmp_path / "dashboard"
    dashboard.month.value = "2026-03"
    clinic = exported(dashboard.export_button, dashboard, folder, folder, "the clinic")
    clinic_book = (folder / "report.xlsx").read_bytes()
    dashboard.clinicians.value = ("S007", "S002")
    both = "S002 Devin Norley and S007 Hana Garford"
    theirs = exported(
        dashboard.export_clinicians_button, dashboard, folder, folder / "S002+S007", both
    )
    assert (folder / "report.html").read_text("utf-8") == clinic
    assert (folder / "report.xlsx").read_bytes() == clinic_book
    assert '<p class="scope">' not in clinic
    assert '<p class="scope">For S007 Hana Garford, S002 Devin Norley: ' in theirs
    assert sorted(p.name for p in folder.iterdir()) == ["S002+S007", "report.html", "report.xlsx"]


def test_a_clinicians_folder_is_one_safe_readable_name_per_selection():
    assert clinicians_folder(["S002"]) == "S002"
    assert clinicians_folder(["S007", "S002", "S007"]) == "S002+S007"  # sorted, once each
    # nothing climbs out of the Folder, hides, or reads as two ids
    assert clinicians_folder([".."]) == "%2E%2E"
    assert clinicians_folder(["a/b", "c\\d"]) == "a%2Fb+c%5Cd"
    assert clinicians_folder(["S1+S2"]) == "S1%2BS2" != clinicians_folder(["S1", "S2"])
    assert clinicians_folder(["Dr. Ng: intern"]) == "Dr%2E%20Ng%3A%20intern"
    many = clinicians_folder(f"S{i:03}" for i in range(40))
    assert many.startswith("S000+S001+") and many.endswith("+40 clinicians " + many[-12:])
    assert len(many) == 100 + len("+40 clinicians ") + 12
    assert many != clinicians_folder(f"S{i:03}" for i in range(41))


def test_export_to_a_folder_that_cannot_be_written_says_so(dashboard, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dashboard.folder.value = str(blocker / "out")
    dashboard.export_button.click()
    assert dashboard.export_status.value.startswith("Could not write the report: ")


def test_a_rule_not_checked_is_named_above_the_charts_with_its_reason(dashboard):
    # the sample's policy lets every rule run
    assert dashboard.children[0].value.endswith("</style><h2>Riverside Psychology Clinic</h2>")
    unnamed = MonthlyDashboard(audit(load(SAMPLE), policy=Policy()))
    assert unnamed.children[0].value.endswith(
        '([clinic] timezone).</p><p class="auditkit-caveat">VM001 not checked: the policy names '
        "no clinic (clinic.name in policy.toml).</p>"
    )
    assert '<h2>the clinic</h2><p class="auditkit-caveat">No policy file: ' in (
        unnamed.children[0].value
    )
    bars = {row[0]: row for row in rule_rows(unnamed.charts["rules"].spec)}
    assert bars["VM001"] == ("VM001", 0, 0, None)
    assert next(r["words"] for r in rows(unnamed.charts["rules"].spec) if r["rule"] == "VM001") == (
        "n/a — not checked"
    )
