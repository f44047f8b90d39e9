"""The report: report.html opened offline in a real headless Chromium, and report.xlsx's cells.

One small bundle: T1 misses a call and a note for C1's no-show of 16 March (MS001, NT001, high);
T2 calls C2 five minutes after the no-show of 13 April and leaves no fee notice (MS002 medium,
VM002 low). Two contacts rows are rejected: one's id is a spreadsheet formula and its channel an
HTML script, the other's direction holds a control character no worksheet can store.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import openpyxl
import pandas as pd
import pypdfium2 as pdfium
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, accessibility_violations
from paths import ROOT, SAMPLE
from playwright.sync_api import Browser, Page, sync_playwright
from rule_fixtures import COMPLETE_NOTE, DEFAULT_VOICEMAIL, build_bundle

from auditkit import audit, load
from auditkit import report as report_module
from auditkit import xlsx as xlsx_module
from auditkit.auditing import AuditResult, for_month
from auditkit.cli import main
from auditkit.notebook import SEVERITY_COLOURS
from auditkit.output import iso_times, write_csv
from auditkit.report import (
    html_text,
    html_texts,
    monthly_trend,
    render_html,
    render_xlsx,
    script_json,
    vega_javascript,
    write_report,
)
from auditkit.rules import RULES, SEVERITY_ORDER
from auditkit.xlsx import xlsx_workbook

ARTIFACTS = ROOT / "test-artifacts"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not at /usr/bin/chromium; `make test` installs it",
)

FORMULA_ID = '=HYPERLINK("http://evil.example/x","open me")'
SCRIPT = "<script>alert(1)</script>"
BELL = "out\abound"  # a control character a worksheet cannot hold
APPOINTMENTS = [
    {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"},
    {"appointment_id": "A2", "scheduled_start": "2026-03-16T13:00:00-07:00"},
    {"appointment_id": "A3", "scheduled_start": "2026-03-09T13:00:00-07:00", "status": "attended"},
    {
        "appointment_id": "A4",
        "scheduled_start": "2026-02-10T10:00:00-08:00",
        "staff_id": "T2",
        "client_id": "C2",
        "status": "attended",
    },
    {
        "appointment_id": "A5",
        "scheduled_start": "2026-04-06T10:00:00-07:00",
        "staff_id": "T2",
        "client_id": "C2",
    },
    {
        "appointment_id": "A6",
        "scheduled_start": "2026-04-13T10:00:00-07:00",
        "staff_id": "T2",
        "client_id": "C2",
    },
]
CONTACTS = [
    {
        "started_at": "2026-03-02T13:25:00-08:00",
        "appointment_id": "A1",
        "message": DEFAULT_VOICEMAIL,
    },
    {
        "started_at": "2026-04-06T10:30:00-07:00",
        "appointment_id": "A5",
        "staff_id": "T2",
        "client_id": "C2",
        "message": DEFAULT_VOICEMAIL,
    },
    {
        "started_at": "2026-04-13T10:05:00-07:00",
        "appointment_id": "A6",
        "staff_id": "T2",
        "client_id": "C2",
        "message": "Hi, it's Casey. Please call me back.",
    },
]
NOTES = [
    {"appointment_id": "A1", "written_at": "2026-03-02T16:00:00-08:00", "text": COMPLETE_NOTE},
    *(
        {
            "appointment_id": appointment,
            "written_at": written,
            "text": COMPLETE_NOTE,
            "staff_id": "T2",
            "client_id": "C2",
        }
        for appointment, written in [
            ("A5", "2026-04-06T12:00:00-07:00"),
            ("A6", "2026-04-13T12:00:00-07:00"),
        ]
    ),
]
MS001_A2 = {
    "rule": "MS001",
    "severity": "high",
    "subject_type": "appointment",
    "subject_id": "A2",
    "client_id": "C1",
    "staff_id": "T1",
    "at": dt.datetime(2026, 3, 16, 13, 0),
    "summary": "The client missed this session and the contact log has no call to them within "
    "24 hours.",
    "evidence": "no outbound call to the client between the start, Mon 16 Mar 2026 13:00, and "
    "Tue 17 Mar 2026 13:00",
}


def make_bundle(tmp_path: Path):
    """The module's bundle, with two contacts rows that loading rejects."""
    bundle = build_bundle(tmp_path, appointments=APPOINTMENTS, contacts=CONTACTS, notes=NOTES)
    contacts = bundle.path / "contacts.csv"
    with contacts.open(newline="") as handle:
        header = next(csv.reader(handle))
    broken = {"client_id": "C1", "staff_id": "T1", "started_at": "2026-03-03T10:00:00-08:00"}
    with contacts.open("a", newline="") as handle:
        csv.DictWriter(handle, header).writerows(
            [
                {**broken, "contact_id": FORMULA_ID, "direction": "outbound", "channel": SCRIPT},
                {**broken, "contact_id": "K9", "direction": BELL, "channel": "phone"},
            ]
        )
    return load(bundle.path, bundle.policy)


@pytest.fixture(scope="module", autouse=True)
def vega_cache(tmp_path_factory: pytest.TempPathFactory):
    """The Vega bundle cached in a temporary folder, never in the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITKIT_CACHE_DIR", str(folder))
        vega_javascript.cache_clear()
        yield folder
    vega_javascript.cache_clear()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    """The audit result and the folder holding its report and findings.csv, as the CLI writes."""
    tmp = tmp_path_factory.mktemp("report")
    result = audit(make_bundle(tmp))
    out = tmp / "out"
    write_csv(result.findings, out / "findings.csv")
    write_report(result, out)
    return result, out


def test_the_pages_charts_are_valid_vega_lite(report):
    """chart_specs skips altair's schema check for speed; here it is made, chart by chart."""
    from auditkit.report import chart_specs, rule_summary

    result, _ = report
    specs = chart_specs(result, rule_summary(result), monthly_trend(result))
    assert sorted(specs) == ["chart-clinicians", "chart-rules", "chart-trend"]
    for spec in specs.values():
        assert alt.TopLevelSpec.from_dict(spec, validate=True).to_dict(validate=True) == spec


# --- the page in a browser --------------------------------------------------------------------


CHARTS_DRAWN = (
    "['chart-rules', 'chart-clinicians', 'chart-trend']"
    ".every(id => document.querySelector('#' + id + ' svg'))"
)


def _sample_report(out: Path, *narrowed: str) -> Path:
    """The sample bundle's report.html, as `auditkit audit` writes it into `out`."""
    assert main(["audit", str(SAMPLE), "--out", str(out), "--quiet", *narrowed]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sample_report(tmp_path_factory.mktemp("sample-report"))


@contextmanager
def drawn(
    browser: Browser,
    page_html: Path,
    before: Callable[[Page], object] = lambda page: None,
    **page_options: Any,
) -> Iterator[Page]:
    """`page_html` opened in a page of its own (`before` sees the page before it loads), once
    its charts are drawn."""
    page = browser.new_page(**page_options)
    try:
        before(page)
        page.goto(page_html.as_uri())
        page.wait_for_function(CHARTS_DRAWN)
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def opened(browser: Browser, report):
    """report.html from disk, every non-file request aborted and recorded, charts drawn."""
    _, out = report
    attempted: list[str] = []
    errors: list[str] = []

    def only_files(route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    def watched(page: Page) -> None:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route("**/*", only_files)

    viewport = {"width": 1366, "height": 900}
    with drawn(browser, out / "report.html", watched, viewport=viewport) as page:
        yield page, attempted, errors


def visible_findings(page: Page) -> int:
    return page.locator("#findings tr.finding:visible").count()


@needs_chromium
def test_page_opens_offline_and_draws_every_chart(opened):
    page, attempted, errors = opened
    assert attempted == []
    assert errors == []
    assert page.locator("#chart-rules svg").count() == 1
    # a bar per rule that examined records; the six that examined none say why instead
    assert page.locator("#chart-rules g.mark-rect.role-mark path").count() == 8
    described = page.locator("#chart-rules g.mark-rect.role-mark path").evaluate_all(
        "ps => ps.map(p => p.getAttribute('aria-label'))"
    )  # as a screen reader reads a bar: a whole percent, not 93.840000%
    assert all(re.match(r"compliance: \d{1,3}%; ", label) for label in described), described
    words = page.locator("#chart-rules g.mark-text.role-mark text").evaluate_all(
        "ts => ts.map(t => t.textContent)"
    )
    assert (
        sorted(w for w in words if w) == ["n/a — no call log"] * 2 + ["n/a — nothing examined"] * 4
    )
    # a cell per clinician and rule that examined their records: 8 rules each for T1 and T2
    assert page.locator("#chart-clinicians g.mark-rect.role-mark path").count() == 16
    assert page.locator("#chart-trend svg").count() == 1
    # no "…" menu, whose "Open in Vega Editor" would send a chart, data and all, to a website
    assert page.locator(".vega-embed").count() == 3
    assert page.locator(".vega-embed details, .vega-embed .vega-actions").count() == 0
    # March and April have both rates; February only a no-show rate (nothing examined)
    assert page.locator("#chart-trend g.mark-symbol.role-mark path").count() == 5
    assert page.locator("h1").inner_text() == "Phone-contact audit: Riverside Psychology Clinic"


@needs_chromium
def test_findings_table_has_a_row_per_finding_in_findings_csv(opened, report):
    page, _, _ = opened
    _, out = report
    assert len(pd.read_csv(out / "findings.csv")) == 4
    assert page.locator("#findings tr.finding").count() == 4
    assert visible_findings(page) == 4
    groups = page.locator("#findings tbody.group").evaluate_all(
        "gs => gs.map(g => g.dataset.group)"
    )
    assert groups == ["high", "medium", "low"]


@needs_chromium
def test_filter_box_and_selects_narrow_the_rows(opened):
    page, _, _ = opened
    page.fill("#filter-text", "a2")  # appointment A2: its MS001 and NT001 findings
    assert visible_findings(page) == 2
    assert page.inner_text("#findings-shown") == "2"
    page.fill("#filter-text", "a2 note")
    assert visible_findings(page) == 1
    page.fill("#filter-text", "")
    page.select_option("#filter-rule", "MS002")
    assert visible_findings(page) == 1
    assert page.locator("#findings tbody.group:visible").evaluate_all(
        "gs => gs.map(g => g.dataset.group)"
    ) == ["medium"]
    page.select_option("#filter-rule", "")
    page.select_option("#filter-staff", "T2")
    assert visible_findings(page) == 2
    page.select_option("#filter-severity", "high")
    assert visible_findings(page) == 0
    assert page.inner_text("#findings-shown") == "0"
    page.select_option("#filter-staff", "")
    assert visible_findings(page) == 2


@needs_chromium
def test_clicking_a_header_sorts_within_each_severity(opened):
    page, _, _ = opened

    def high_rules() -> list[str]:
        rows = page.locator("#findings tbody[data-group=high] tr.finding")
        return rows.evaluate_all("rs => rs.map(r => r.dataset.rule)")

    assert high_rules() == ["MS001", "NT001"]
    rule_header = page.locator("#findings thead th", has_text="rule")
    rule_header.locator("button").click()
    assert rule_header.get_attribute("aria-sort") == "ascending"
    assert high_rules() == ["MS001", "NT001"]
    rule_header.locator("button").click()
    assert rule_header.get_attribute("aria-sort") == "descending"
    assert high_rules() == ["NT001", "MS001"]


@needs_chromium
def test_page_passes_axes_accessibility_checks(opened):
    page, _, _ = opened
    assert accessibility_violations(page) == {}


@needs_chromium
@pytest.mark.parametrize(
    "narrowed",
    [["--month", "2027-01"], ["--clinician", "S003", "--month", "2026-02"]],
    ids=["a month with no records", "a clinician's month before their first record"],
)
def test_a_page_whose_charts_have_nothing_to_draw_passes_axes_checks(browser, tmp_path, narrowed):
    # Vega draws an empty layer as a graphic with no name: left out, not announced as nothing.
    with drawn(browser, _sample_report(tmp_path, *narrowed)) as page:
        assert accessibility_violations(page) == {}


@needs_chromium
def test_on_a_narrow_window_the_findings_scroll_sideways_not_the_page(browser, sample_report):
    with drawn(browser, sample_report, viewport={"width": 768, "height": 900}) as page:
        assert page.evaluate("document.documentElement.scrollWidth") == 768
        box = page.locator("div.wide")
        assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # the table is wider than it
        assert box.get_attribute("tabindex") == "0"  # so the keyboard can scroll it


@needs_chromium
def test_screenshot_is_saved_as_a_test_artifact(opened):
    page, _, _ = opened
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
    assert (ARTIFACTS / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _printed_pages(pdf: bytes) -> list[list[str]]:
    """Each page of a PDF as its lines of text."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [
            [
                line.strip()
                for line in page.get_textpage().get_text_range().splitlines()
                if line.strip()
            ]
            for page in document
        ]
    finally:
        document.close()


def _page_holding(pages: list[list[str]], line: str) -> int:
    [number] = [n for n, lines in enumerate(pages) if line in lines]
    return number


@needs_chromium
def test_the_printed_report_repeats_the_findings_header_and_keeps_charts_whole(
    browser, sample_report
):
    """A supervisor files the report as a PDF from the browser's Print: every page that goes on
    with the findings starts with their header, a chart stays on the page of its heading and
    note, and the filter and sort controls are left off."""
    with drawn(browser, sample_report) as page:
        pages = _printed_pages(page.pdf(format="A4"))
    findings, stale = _page_holding(pages, "Findings"), _page_holding(pages, "Stale reviews")
    assert stale - findings >= 3  # 126 findings run over several pages
    header = "rule when clinician client record summary evidence review"
    assert pages[findings][pages[findings].index("Findings") + 1] == header
    assert [lines[0] for lines in pages[findings + 1 : stale]] == [header] * (stale - findings - 1)
    for heading, chart_text, note in [
        ("By rule", "MS001 no-outreach-call", None),
        ("By clinician and rule", "S001 Maya Dalbrook", "Blank cells: the rule examined"),
        ("Month over month", "Sep 2025", "Every month in the bundle."),
    ]:
        lines = pages[_page_holding(pages, heading)]
        assert chart_text in lines
        assert note is None or any(line.startswith(note) for line in lines)
    printed = "\n".join(line for lines in pages for line in lines)
    assert "Filter" not in printed and "Click a column heading" not in printed


# --- the page as a file -----------------------------------------------------------------------


def test_page_loads_nothing_from_the_network_and_inlines_vega_once(report):
    _, out = report
    page = (out / "report.html").read_text("utf-8")
    assert re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE) == []
    assert re.findall(r"<link\b", page, flags=re.IGNORECASE) == []
    assert re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page) == []
    assert page.count(vega_javascript()[:200]) == 1
    assert page.count("window.vegaEmbed=") == 1


def test_input_text_is_escaped(report):
    _, out = report
    page = (out / "report.html").read_text("utf-8")
    assert SCRIPT not in page
    assert "channel &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27; is not one of" in page
    assert "=HYPERLINK(&quot;http://evil.example/x&quot;,&quot;open me&quot;)" in page


def test_json_in_a_script_tag_cannot_close_it():
    assert script_json({"a": "</script><!-- & more"}) == (
        '{"a":"\\u003c/script\\u003e\\u003c!-- \\u0026 more"}'
    )


def test_coverage_and_period_are_shown(report):
    _, out = report
    page = (out / "report.html").read_text("utf-8")
    assert "Audited period: <strong>2026-02 to 2026-04 (everything in the bundle)</strong>" in page
    row = re.search(r"<tr><td>contacts\.csv</td>.*?</tr>", page).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells == ["contacts.csv", "utf-8", "5", "3", "2"]
    stale = page[page.index('id="stale-title"') : page.index('id="rejected-title"')]
    assert "None: there is no reviews file, so no review to match." in stale


def test_a_clinicians_period_is_their_records(report, tmp_path):
    result, _ = report
    write_report(audit(result.bundle, clinicians=["T1"]), tmp_path)
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "Audited period: <strong>2026-03 (their records)</strong>" in page  # T1's one month


@pytest.mark.parametrize(("month", "clinicians"), [(None, ()), ("2025-10", ()), (None, ("S001",))])
def test_a_result_kept_for_a_report_only_gives_the_same_page_and_workbook(month, clinicians):
    """auditkit audit's result keeps of the records only Bundle.for_report's columns: the page
    and the workbook lose nothing to it (the trend's no-shows, the months, stale reviews)."""
    bundle = load(SAMPLE)
    whole = audit(bundle, month=month, clinicians=clinicians)
    lean = audit(bundle, month=month, clinicians=clinicians, keep_records=False)
    generated = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]+")  # the page's own time

    def sheets(book: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(book)) as opened:
            return {n: opened.read(n) for n in opened.namelist() if n != "docProps/core.xml"}

    assert list(lean.bundle.appointments.columns) == [
        "appointment_id",
        "staff_id",
        "scheduled_start",
        "status",
    ]
    assert generated.sub("", render_html(lean)) == generated.sub("", render_html(whole))
    assert sheets(render_xlsx(lean)) == sheets(render_xlsx(whole))


def test_a_bundle_with_nothing_to_audit_still_gets_a_report(tmp_path):
    result = audit(build_bundle(tmp_path))
    write_report(result, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert "Audited period: <strong>no dated records</strong>" in page
    assert "No findings: every record examined kept the policy." in page
    assert "No rows were rejected: every row was used." in page
    findings = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx")["Findings"]
    assert findings.max_row == 1
    assert findings.auto_filter.ref == f"A1:{findings[1][-1].column_letter}1"


def test_a_rule_that_examined_nothing_has_no_figure_on_the_page_or_in_the_workbook(report):
    from auditkit.report import chart_specs, rule_summary

    result, out = report
    page = (out / "report.html").read_text("utf-8")
    row = re.search(r"<tr><td>TP001</td>.*?</tr>", page).group(0)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[4:] == ["0", "0", "n/a — nothing examined"]
    row = re.search(r"<tr><td>MS001</td>.*?</tr>", page).group(0)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[4:] == ["4", "1", "75.0%"]
    rules = openpyxl.load_workbook(out / "report.xlsx")["Rules"]
    tp001 = next(r for r in rules.iter_rows(values_only=True) if r[0] == "TP001")
    assert tp001[3:6] == (0, 0, None)  # an empty cell, not 100 %
    spec = chart_specs(result, rule_summary(result), monthly_trend(result))["chart-rules"]
    bars = {
        r["rule"]: (r["compliance"], r["words"]) for r in spec["datasets"][spec["data"]["name"]]
    }
    assert bars["TP001"] == (None, "n/a — nothing examined")
    assert bars["MS001"] == (0.75, "")


def test_a_rule_at_zero_percent_says_so_where_its_bar_has_no_length():
    from auditkit.report import rules_chart

    rules = pd.DataFrame(
        {
            "rule": ["IQ001", "MS001", "TP001"],
            "name": ["no-neither-confirm-nor-deny-reply", "no-outreach-call", "third-party-told"],
            "opportunities": [2, 4, 0],
            "findings": [2, 1, 0],
            "compliance": [0.0, 0.75, np.nan],
            "not_checked": ["", "", ""],
        }
    )
    spec = rules_chart(rules).to_dict()
    words = {r["rule"]: r["words"] for r in spec["datasets"][spec["data"]["name"]]}
    assert words == {
        "IQ001": "0% — every record examined was flagged",
        "MS001": "",
        "TP001": "n/a — nothing examined",
    }
    assert spec["layer"][1]["encoding"]["text"] == {"field": "words", "type": "nominal"}


def test_a_month_with_nothing_examined_has_no_overall_compliance(report, tmp_path):
    result, _ = report
    write_report(audit(result.bundle, month="2027-01"), tmp_path)
    page = (tmp_path / "report.html").read_text("utf-8")
    assert (
        '<span class="value">–</span><span class="label">compliance over all rules (nothing was '
        "examined)</span>"
    ) in page
    assert (
        '<span class="value">0</span><span class="label">records examined, once per rule that '
        "examines them</span>"
    ) in page
    assert page.count("n/a — nothing examined") == len(RULES) - 2
    assert page.count("n/a — no call log") == 2  # LG001 and LG002: the bundle has none
    assert "100.0%" not in page
    header = page[page.index("<header>") : page.index("</header>")]
    assert header.endswith(
        '<p class="caveat">No records in 2027-01: nothing was examined. The bundle&#x27;s '
        "records run from 2026-02 to 2026-04.</p>\n"
    )


# --- the month-over-month figures -------------------------------------------------------------


def test_trend_covers_the_bundle_month_by_month(report):
    result, _ = report
    trend = monthly_trend(result)
    assert trend.to_dict("list") == {
        "month": ["2026-02", "2026-03", "2026-04"],
        "opportunities": [0, 10, 16],
        "findings": [0, 2, 2],
        "appointments": [1, 3, 2],
        "no_shows": [0, 2, 2],
        "compliance": [pytest.approx(float("nan"), nan_ok=True), 0.8, 0.875],
        "no_show_rate": [0.0, 0.6667, 1.0],
    }


def test_trend_of_one_month_starts_at_the_bundles_first_month(report):
    """The bundle's records start in February 2026: the months before it would be empty."""
    result, _ = report
    april = audit(result.bundle, month="2026-04")
    trend = monthly_trend(april).set_index("month")
    assert list(trend.index) == ["2026-02", "2026-03", "2026-04"]
    # March comes from the whole bundle although the audit saw only April
    assert trend.loc["2026-03"].to_dict() == {
        "opportunities": 10,
        "findings": 2,
        "appointments": 3,
        "no_shows": 2,
        "compliance": 0.8,
        "no_show_rate": 0.6667,
    }
    assert trend.loc["2026-04", "compliance"] == 0.875


@pytest.mark.parametrize(
    ("month", "months"),
    [
        # the first month with records: the month before it too, so there is a line to draw
        ("2026-02", ["2026-01", "2026-02"]),
        # a month after the records: back to their first month, 12 months in all
        ("2027-01", [str(pd.Period("2026-02", freq="M") + i) for i in range(12)]),
        # further after: the 12 months before it at most, all empty
        ("2028-01", [str(pd.Period("2027-01", freq="M") + i) for i in range(13)]),
        # before the records: the month and the one before it
        ("2025-06", ["2025-05", "2025-06"]),
    ],
)
def test_trend_of_one_month_never_shows_empty_months_before_the_records(report, month, months):
    result, _ = report
    assert monthly_trend(for_month(result, month))["month"].tolist() == months


def test_a_months_report_audits_the_bundle_once(report, tmp_path, monkeypatch):
    """The trend's earlier months come from the audit already made, not from a second one."""
    import auditkit.auditing

    result, _ = report
    checks = []
    real = auditkit.auditing.check_rules
    monkeypatch.setattr(
        auditkit.auditing, "check_rules", lambda *a, **k: checks.append(1) or real(*a, **k)
    )
    april = audit(result.bundle, month="2026-04")
    write_report(april, tmp_path / "april")
    assert len(checks) == 1
    assert april.every_month.equals(result.compliance_by("month"))


# --- the workbook -----------------------------------------------------------------------------


def test_workbooks_about_sheet_says_what_the_page_says_above_its_figures(report):
    _, out = report
    about = list(openpyxl.load_workbook(out / "report.xlsx")["About"].values)
    assert about == [
        ("item", "value"),
        ("clinic", "Riverside Psychology Clinic"),
        ("period", "2026-02 to 2026-04 (everything in the bundle)"),
        ("policy", "policy"),
        ("reviews", "No reviews file: every finding is new."),
        (
            "privacy",
            "Clients appear by id only; names and phone numbers in the evidence are masked.",
        ),
        ("auditkit", version("auditkit")),
        # the settings the figures depend on, as policy.toml spells them
        ("clinic.timezone", '"America/Los_Angeles"'),
        ("missed_session.call_within_hours", "24"),
        ("calls.match_minutes", "10"),
        ("missed_session.wait_minutes", "20"),
        ("clinic.name", '"Riverside Psychology Clinic"'),
        ("clinic.aliases", '["Riverside Clinic", "RPC"]'),
        ("approvals.closure_warning", '["supervisor"]'),
        ("missed_session.persistent_no_shows", "2"),
        ("missed_session.lookback_days", "90"),
        ("missed_session.note_within_hours", "48"),
        ("approvals.phone_coaching", '["program_director"]'),
    ]


def test_the_page_lists_the_policy_settings_and_the_rules_reading_them(report):
    _, out = report
    page = (out / "report.html").read_text("utf-8")
    section = page[page.index('id="settings-title"') : page.index('id="findings-title"')]
    assert "<td>missed_session.call_within_hours</td><td>24</td>" in section.replace("\n", "")
    assert "MS001, MS002, MS003, VM002, NT002" in section
    assert "every rule: its clock" in section


def test_workbook_has_seven_filtered_sheets_with_bold_frozen_headers(report):
    result, out = report
    book = openpyxl.load_workbook(out / "report.xlsx")
    assert book.sheetnames == [
        "About", "Findings", "Rules", "Clinicians", "Months", "Stale reviews", "Rejected"
    ]  # fmt: skip
    findings = book["Findings"]
    header = [c.value for c in findings[1]]
    assert header[:9] == list(MS001_A2)
    assert header == list(result.findings.columns)
    assert findings.freeze_panes == "A2"
    assert all(c.font.b for c in findings[1])
    assert findings.auto_filter.ref == f"A1:{findings[1][-1].column_letter}5"
    assert [c.value for c in book["Rules"][1]] == [
        "rule",
        "name",
        "severity",
        "opportunities",
        "findings",
        "compliance",
        "examines",
        "not_checked",
    ]
    assert book["Rules"].auto_filter.ref == "A1:H15"
    assert [c.value for c in book["Clinicians"][1]] == [
        "staff_id",
        "name",
        "opportunities",
        "findings",
        "high_findings",
        "medium_findings",
        "low_findings",
        "compliance",
    ]
    assert book["Rejected"].auto_filter.ref == "A1:E3"
    months = [[c.value for c in row] for row in book["Months"].rows]
    assert months[0] == ["rule", "month", "opportunities", "findings", "compliance"]
    expected = result.compliance_by("month").sort_values(["rule", "month"])
    assert months[1:] == expected.astype(object).where(expected.notna(), None).values.tolist()
    assert [c.value for c in book["Stale reviews"][1]] == [
        "rule", "subject_id", "decision", "reviewer", "reviewed_at", "comment", "client_id",
        "evidence", "source_line", "at", "reason",
    ]  # fmt: skip
    assert book["Stale reviews"].max_row == 1


def test_workbook_cells_hold_the_exact_values(report):
    _, out = report
    book = openpyxl.load_workbook(out / "report.xlsx")
    ms001 = [c.value for c in book["Findings"][2]]
    assert dict(zip(MS001_A2, ms001, strict=False)) == MS001_A2
    assert book["Findings"]["G2"].number_format == "yyyy-mm-dd hh:mm"
    assert book["Findings"]["G2"].is_date
    rules = book["Rules"]
    assert [c.value for c in rules[2]] == [
        "MS001",
        "no-outreach-call",
        "high",
        4,
        1,
        0.75,
        "no-shows",
        None,  # checked: no reason it wasn't
    ]
    assert rules["F2"].number_format == "0.0%"
    clinicians = book["Clinicians"]
    assert [c.value for c in clinicians[2]] == ["T1", "T1 Robin Example", 10, 2, 2, 0, 0, 0.8]
    assert [c.value for c in clinicians[3]] == ["T2", "T2 Casey Example", 16, 2, 0, 1, 1, 0.875]


def test_workbook_columns_are_fitted_to_their_content(report):
    _, out = report
    findings = openpyxl.load_workbook(out / "report.xlsx")["Findings"]
    widths = {c: findings.column_dimensions[c].width for c in "ABEGHI"}
    assert widths == {
        "A": len("MS001") + 2,
        "B": len("severity") + 2,
        "E": len("client_id") + 2,
        "G": len("2026-03-16 13:00") + 2,
        "H": 60,  # capped: the longest summary has 76 characters
        "I": 60,
    }


def test_input_text_is_stored_as_plain_text(report):
    """A rejected row's id planted as a formula: the cell shows it as it is, typed as text (a
    string openpyxl or Excel would otherwise store as a formula) and marked as typed after an
    apostrophe, which Excel hides and keeps when the cell is edited."""
    _, out = report
    rejected = openpyxl.load_workbook(out / "report.xlsx")["Rejected"]
    record_id = rejected["C2"]
    assert record_id.value == FORMULA_ID
    assert record_id.data_type == "s"
    assert record_id.quotePrefix
    assert rejected["E3"].value == "direction 'out\ufffdbound' is not one of: outbound, inbound"


# --- reviews and the command line -------------------------------------------------------------

REVIEWS_HEADER = "rule,subject_id,decision,reviewer,reviewed_at,comment"


def reviewed_bundle(tmp_path: Path, *rows: str, header: str = REVIEWS_HEADER):
    """The module's bundle, with `rows` (CSV lines after `header`) as its reviews.csv."""
    bundle = make_bundle(tmp_path)
    (bundle.path / "reviews.csv").write_text(
        "".join(f"{line}\n" for line in (header, *rows)), encoding="utf-8"
    )
    return bundle


def test_the_workbook_shows_formula_like_text_as_it_is_and_never_as_a_formula(tmp_path):
    bundle = reviewed_bundle(
        tmp_path, 'VM002,K3,dismissed,@SUM(A1),2026-04-20T09:00:00,"=HYPERLINK(""http://x"")"'
    )
    write_report(audit(bundle), tmp_path / "out")
    sheet = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx")["Findings"]
    header = [cell.value for cell in sheet[1]]
    row = next(
        r for r in sheet.iter_rows(min_row=2) if r[header.index("review")].value == "dismissed"
    )
    reviewer, comment = row[header.index("reviewer")], row[header.index("review_comment")]
    assert (reviewer.value, comment.value) == ("@SUM(A1)", '=HYPERLINK("http://x")')
    assert (reviewer.data_type, comment.data_type) == ("s", "s")  # text, not formulas
    assert reviewer.quotePrefix and comment.quotePrefix  # Excel keeps them text when edited
    assert not row[header.index("rule")].quotePrefix


def test_dismissed_findings_are_shown_struck_and_not_counted(tmp_path):
    bundle = reviewed_bundle(
        tmp_path,
        "VM002,K3,dismissed,SUP,2026-04-20T09:00:00,Fee was explained in person <b>later</b>",
    )
    write_report(audit(bundle), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    row = re.search(r'<tr class="finding dismissed"[^>]*>', page).group(0)
    assert 'data-rule="VM002"' in row
    assert 'data-review="dismissed"' in row
    assert "Fee was explained in person &lt;b&gt;later&lt;/b&gt;" in page
    assert '<select data-filter="review" id="filter-review">' in page
    assert (
        '<span class="value">1</span><span class="label">finding dismissed on review '
        "(not counted)</span>"
    ) in page
    counted = len(audit(bundle).findings) - 1  # the headline's count leaves it out, saying so
    assert (
        f'<span class="value">{counted}</span><span class="label">findings (dismissed ones apart): '
    ) in page
    book = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx")
    assert [c.value for c in book["Clinicians"][3]][3:7] == [1, 0, 1, 0]


def test_the_report_says_which_reviews_it_applied_and_lists_the_stale_ones(tmp_path):
    bundle = reviewed_bundle(
        tmp_path,
        "VM002,K3,dismissed,SUP,2026-04-20T09:00:00,explained in person",
        "MS001,A1,confirmed,SUP,2026-04-20T09:00:00,",
    )
    reviews = bundle.path / "reviews.csv"
    result = audit(bundle)
    write_report(result, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert (
        f'<div class="meta">Reviews from {reviews}: 0 confirmed, 1 dismissed, '
        f"{len(result.findings) - 1} new; 1 stale.</div>"
    ) in page
    stale = page[page.index('id="stale-title"') : page.index('id="rejected-title"')]
    assert re.findall(r"<td>(.*?)</td>", stale)[:4] == ["MS001", "A1", "confirmed", "SUP"]
    book = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx")
    assert [c.value for c in book["Stale reviews"][2]][:4] == ["MS001", "A1", "confirmed", "SUP"]


def test_the_report_lists_a_review_not_applied_with_why(tmp_path):
    bundle = reviewed_bundle(
        tmp_path,
        "VM002,K3,dismissed,SUP,2026-04-20T09:00:00,,C9,",
        header=REVIEWS_HEADER + ",client_id,evidence",
    )
    result = audit(bundle)
    client = result.findings.set_index(["rule", "subject_id"]).loc[("VM002", "K3"), "client_id"]
    write_report(result, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    stale = page[page.index('id="stale-title"') : page.index('id="rejected-title"')]
    assert re.findall(r"<td>(.*?)</td>", stale) == [
        "VM002",
        "K3",
        "dismissed",
        "SUP",
        f"reviewed for client C9; this finding is client {client}&#x27;s: a reviews file from "
        "another bundle?",
    ]


def test_audit_command_writes_the_report(report, tmp_path):
    result, _ = report
    out = tmp_path / "out"
    assert main(["audit", str(result.bundle.path), "--out", str(out), "--month", "2026-03"]) == 0
    page = (out / "report.html").read_text("utf-8")
    assert "Audited period: <strong>March 2026 (2026-03)</strong>" in page
    assert (
        '<p class="note">The audited month and up to 12 months before it, from the first month '
        "with records, for context. Compliance pools all rules"
    ) in page
    assert openpyxl.load_workbook(out / "report.xlsx")["Findings"].max_row == 3


def test_heatmap_counts_a_cell_of_few_records_instead_of_a_percentage():
    from auditkit.report import clinicians_chart

    spec = clinicians_chart(audit(load(SAMPLE))).to_dict()
    cells = {
        (row["clinician"], row["rule"]): (row["opportunities"], row["label"])
        for row in next(iter(spec["datasets"].values()))
    }
    assert cells["S005 Lena Pelmont", "IQ001"] == (1, "0/1")  # was "0%"
    assert cells["S001 Maya Dalbrook", "VM003"] == (4, "2/4")  # was "50%"
    assert cells["S012 Chris Alavey", "IQ001"] == (6, "50%")
    assert spec["layer"][1]["encoding"]["text"] == {"field": "label", "type": "nominal"}


def test_heatmap_shows_the_40_clinicians_with_most_findings_of_a_large_clinic(tmp_path):
    from auditkit.report import clinicians_chart
    from auditkit.sample import generate_sample

    generate_sample(tmp_path, clients=300, seed=5)
    result = audit(load(tmp_path))
    by_staff = result.compliance_by("staff_id")
    assert by_staff.loc[by_staff["opportunities"] > 0, "staff_id"].nunique() > 40
    spec = clinicians_chart(result).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len({row["clinician"] for row in rows}) == 40
    assert spec["title"]["text"].startswith("The 40 of ")
    assert spec["title"]["text"].endswith(
        "clinicians with the most findings (all of them are in report.xlsx)"
    )


def test_findings_rows_carry_their_data_and_sort_keys(report):
    _, out = report
    page = (out / "report.html").read_text("utf-8")
    row = re.search(r'<tr class="finding" data-rule="MS001"[^>]*>.*?</tr>', page).group(0)
    assert row.startswith(
        '<tr class="finding" data-rule="MS001" data-severity="high" data-staff="T1" '
        'data-review="new"><td>MS001<br><small>no-outreach-call</small></td>'
        '<td class="nowrap" data-sort="2026-03-16T13:00:00-07:00">2026-03-16 13:00</td>'
        '<td class="clinician">T1 Robin Example</td><td class="id">C1</td>'
        '<td class="nowrap">appointment <span class="id">A2</span></td>'
    )
    assert row.endswith('<td><span class="review review-new">new</span></td></tr>')
    assert '<span class="group-count">2</span>' in page  # high: MS001 and NT001


def test_the_page_lists_each_rules_earliest_findings_up_to_an_equal_share():
    findings = pd.DataFrame(
        {
            "rule": ["A"] * 5 + ["B"] + ["C"] * 3,
            "subject_id": ["a1", "a2", "a3", "a4", "a5", "b1", "c1", "c2", "c3"],
        }
    )
    assert report_module.listed_findings(findings, 9) is findings  # all fit: nothing is cut
    # B has fewer than a third of 6: all its own; A and C share the 5 left, A (listed first)
    # taking the one that does not divide evenly.
    listed = report_module.listed_findings(findings, 6)
    assert listed["subject_id"].tolist() == ["a1", "a2", "a3", "b1", "c1", "c2"]
    # More rules than places: one each for the rules listed first.
    assert report_module.listed_findings(findings, 2)["subject_id"].tolist() == ["a1", "b1"]


def test_a_page_listing_fewer_findings_than_found_says_so(report, monkeypatch):
    result, _ = report
    assert result.findings["rule"].tolist() == ["MS001", "NT001", "MS002", "VM002"]
    monkeypatch.setattr(report_module, "MAX_PAGE_FINDINGS", 3)
    page = render_html(result)
    listed = re.findall(r'<tr class="finding" data-rule="(\w+)"', page)
    assert listed == ["MS001", "NT001", "MS002"]  # the low-severity VM002 is left out
    assert "This page lists 3 of the 4 findings, so that it still opens in a browser" in page
    assert 'showing <strong id="findings-shown">3</strong> of 3 listed, of 4 findings' in page
    assert '<span class="group-count">2</span></th>' in page  # high: both listed, no total
    assert 'data-group="low"' not in page
    full = render_html(result)
    monkeypatch.undo()
    assert "This page lists" not in render_html(result)
    assert full != render_html(result)


def test_findings_in_any_order_are_grouped_by_severity(report):
    """An audit's findings come sorted by severity (each group a slice of the rows); findings
    a caller reordered are grouped all the same."""
    result, _ = report
    findings = result.findings
    interleaved = findings.iloc[np.argsort(np.arange(len(findings)) % 2, kind="stable")]
    at = interleaved.reset_index(drop=True).groupby("severity").indices
    assert any(rows[-1] - rows[0] >= len(rows) for rows in at.values())  # not one slice each
    shuffled = dataclasses.replace(result, findings=interleaved.reset_index(drop=True))
    groups = dict(
        re.findall(r'<tbody class="group" data-group="(\w+)">(.*?)</tbody>', render_html(shuffled))
    )
    severities = findings["severity"].value_counts().to_dict()
    assert {s: g.count('<tr class="finding"') for s, g in groups.items()} == severities
    for severity, group in groups.items():
        assert group.count(f'data-severity="{severity}"') == severities[severity]


def test_sort_keys_are_each_timestamps_isoformat():
    times = pd.Series(
        pd.to_datetime(
            ["2026-03-16 13:00", "2026-11-01 01:30:15.25", "2026-07-04 00:00:00.000001", None],
            format="ISO8601",
        )
    )
    for zone in ["America/Los_Angeles", "UTC", "Asia/Kolkata", None]:
        zoned = times.dt.tz_localize(zone, ambiguous=True) if zone else times
        expected = [t.isoformat() if pd.notna(t) else "" for t in zoned]
        assert iso_times(zoned).tolist() == expected


def test_html_texts_escapes_a_column_as_html_text_does_each_value():
    values = pd.Series(["<b>&'\"", None, 12, 0.5, float("nan"), "plain"], dtype=object)
    assert html_texts(values).tolist() == [html_text(v) for v in values]
    text = pd.Series(["a<b", None], dtype="str")
    assert html_texts(text).tolist() == ["a&lt;b", ""]


def test_a_second_run_takes_the_vega_bundle_from_the_cache(vega_cache, monkeypatch):
    vega_javascript.cache_clear()
    built = vega_javascript()  # from the module's report, or built now
    [cached] = vega_cache.glob("vega-*.js")
    assert cached.name.startswith(f"vega-{version('vl-convert-python')}-vl")

    def no_build(_version):
        raise AssertionError("rebuilt although the cache holds the bundle")

    monkeypatch.setattr(report_module, "_build_vega_javascript", no_build)
    vega_javascript.cache_clear()
    assert vega_javascript() == built


def test_a_damaged_vega_cache_is_rebuilt(vega_cache, monkeypatch):
    vega_javascript.cache_clear()
    bundle = vega_javascript()
    [cached] = vega_cache.glob("vega-*.js")
    intact = cached.read_bytes()
    builds = []

    def build(version):
        builds.append(version)
        return bundle

    monkeypatch.setattr(report_module, "_build_vega_javascript", build)
    for damaged in [intact[: len(intact) // 2], intact.replace(b"vega", b"VEGA", 1), b"\xff\xfe"]:
        cached.write_bytes(damaged)
        vega_javascript.cache_clear()
        assert vega_javascript() == bundle
        assert cached.read_bytes() == intact  # and written again
    assert len(builds) == 3
    vega_javascript.cache_clear()


def test_an_unwritable_cache_folder_only_costs_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("AUDITKIT_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(report_module, "_build_vega_javascript", lambda _version: "built")
    vega_javascript.cache_clear()
    try:
        assert vega_javascript() == "built"
    finally:
        vega_javascript.cache_clear()


def test_cache_folder_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("AUDITKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert report_module.cache_dir() == tmp_path / "xdg" / "auditkit"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/so/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert report_module.cache_dir() == tmp_path / "home" / ".cache" / "auditkit"


# --- the workbook's cells, one type at a time --------------------------------------------------


def read_back(frame: pd.DataFrame, percent=()):
    return openpyxl.load_workbook(io.BytesIO(xlsx_workbook([("Sheet", frame, percent)])))["Sheet"]


def test_workbook_text_keeps_returns_spaces_and_drops_what_xml_cannot_hold():
    sheet = read_back(
        pd.DataFrame(
            {
                "text": ["one\r\ntwo", "  padded  ", "bad\x00\x1f\ufffe", "=1+2", "", "<&>"],
            }
        )
    )
    values = [c.value for c in sheet["A"][1:]]
    assert values == ["one\r\ntwo", "  padded  ", "bad\ufffd\ufffd\ufffd", "=1+2", None, "<&>"]
    assert all(c.data_type == "s" for c in sheet["A"][1:] if c.value is not None)


def test_workbook_stores_each_value_as_its_type():
    when = pd.Timestamp("2026-03-16 13:00:30.5", tz="America/Los_Angeles")
    sheet = read_back(
        pd.DataFrame(
            {
                "mixed": pd.Series([7, "seven", when, None], dtype=object),
                "count": pd.array([1, None, 3, 10**12], dtype="Int64"),
                "rate": [0.5, float("nan"), float("inf"), 0.1 + 0.2],
                "flag": [True, False, True, False],
                "at": [when, pd.NaT, when, when],
                "category": pd.Categorical(["x", "y", None, "x"]),
            }
        ),
        percent=["rate"],
    )
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    local = dt.datetime(2026, 3, 16, 13, 0, 30, 500000)
    assert rows == [
        [7, 1, 0.5, True, local, "x"],
        ["seven", None, None, False, None, "y"],
        [local, 3, None, True, local, None],  # no inf in a worksheet
        [None, 10**12, 0.30000000000000004, False, local, "x"],
    ]
    assert sheet["A4"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["C2"].number_format == "0.0%"
    assert sheet["B2"].data_type == "n"
    assert sheet["D2"].data_type == "b"


def test_workbook_columns_fit_the_longest_line():
    sheet = read_back(
        pd.DataFrame(
            {
                "note": ["short\n" + "x" * 20, "y" * 12 + "\u2028z"],
                "n": [123456, 7],
                "long": ["w" * 100, None],
                "empty": [None, None],
            }
        )
    )
    widths = {c: sheet.column_dimensions[c].width for c in "ABCD"}
    assert widths == {"A": 22, "B": 8, "C": 60, "D": len("empty") + 2}
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D3"


def test_write_report_works_out_each_compliance_table_once(report, tmp_path, monkeypatch):
    result = dataclasses.replace(report[0])  # a result nobody has asked for a table yet
    grouped = []
    group = AuditResult._compliance_table

    def counted(self, keys):
        grouped.append(keys)
        return group(self, keys)

    monkeypatch.setattr(AuditResult, "_compliance_table", counted)
    write_report(result, tmp_path)
    assert sorted(grouped) == [(), ("month",), ("staff_id",)]
    # and a caller changing its copy changes nobody else's
    mine = result.compliance_by("month")
    mine["findings"] = -1
    assert (result.compliance_by("month")["findings"] >= 0).all()
    assert len(grouped) == 3


def test_report_of_twenty_thousand_findings_lists_half_and_keeps_all_in_the_workbook(report):
    """The findings are 5,000 copies of the module's (5,000 pyarrow chunks a column, too): the
    page lists MAX_PAGE_FINDINGS of them, an equal share per rule, the workbook every one.
    (How long this takes is make bench's to measure.)"""
    result, _ = report
    copies = 5_000
    many = pd.concat([result.findings] * copies, ignore_index=True)
    many["subject_id"] = many["subject_id"] + "-" + (many.index // 4).astype("str")
    big = dataclasses.replace(result, findings=many)
    page = render_html(big)
    book = render_xlsx(big)
    assert report_module.MAX_PAGE_FINDINGS == 10_000
    listed = re.findall(r'<tr class="finding" data-rule="(\w+)"', page)
    assert pd.Series(listed).value_counts().to_dict() == dict.fromkeys(
        ["MS001", "NT001", "MS002", "VM002"], 2_500
    )
    assert "This page lists 10,000 of the 20,000 findings" in page
    high = '<span class="group-count">5,000</span> <span class="group-total">of 10,000</span>'
    assert high in page
    assert openpyxl.load_workbook(io.BytesIO(book), read_only=True)["Findings"].max_row == 20_001


def test_html_texts_escapes_repeated_values_in_every_row():
    values = pd.Series(["a&b", "x", "a&b", None, "x", "<"], index=[5, 3, 9, 1, 0, 2], dtype="str")
    escaped = html_texts(values)
    assert escaped.tolist() == ["a&amp;b", "x", "a&amp;b", "", "x", "&lt;"]
    assert escaped.index.tolist() == [5, 3, 9, 1, 0, 2]
    assert html_texts(pd.Series([], dtype="str")).tolist() == []


def test_clinician_select_lists_every_option_escaped():
    options = {"T1": "T1 Robin <Example>", "T'2": "T'2 Ana & Bo"}
    assert report_module._select("Clinician", "staff", options) == (
        '<label>Clinician<select data-filter="staff" id="filter-staff">'
        '<option value="">all</option><option value="T1">T1 Robin &lt;Example&gt;</option>'
        '<option value="T&#x27;2">T&#x27;2 Ana &amp; Bo</option></select></label>'
    )
    assert report_module._select("Rule", "rule", {}).endswith(
        '<option value="">all</option></select></label>'
    )


def test_workbook_repeated_text_is_stored_in_each_of_its_rows():
    sheet = read_back(
        pd.DataFrame({"text": [" a ", "b<", None, " a ", "b<", "\x00"], "n": range(6)})
    )
    assert [c.value for c in sheet["A"][1:]] == [" a ", "b<", None, " a ", "b<", "\ufffd"]
    assert sheet.column_dimensions["A"].width == len("text") + 2


MIXED_SHEET = pd.DataFrame(
    {
        "mixed": pd.Series([7, "seven", None, "", 2.5, "_x0041_ & <b>"] * 4, dtype=object),
        "count": pd.array([1, None, 3, 10**12, 5, 6] * 4, dtype="Int64"),
        "at": [pd.Timestamp("2026-03-16 13:00", tz="America/Los_Angeles"), pd.NaT] * 12,
        "text": ["a\x00b", "\U0001f600_x005f_", None, "x" * 70, "  y", "\u2028z"] * 4,
    }
)


def test_workbook_sheet_written_in_blocks_is_the_sheet_written_at_once(monkeypatch):
    at_once = sheet_xml(MIXED_SHEET)
    monkeypatch.setattr(xlsx_module, "ROWS_PER_BLOCK", 5)  # 24 rows: blocks of 5, 5, 5, 5, 4
    assert sheet_xml(MIXED_SHEET) == at_once
    assert at_once.count("<row ") == 25 and '<row r="25">' in at_once


def test_blocks_are_made_ahead_in_order_and_only_a_few_at_a_time():
    made: list[int] = []

    def make(start: int) -> bytes:
        made.append(start)
        return str(start).encode()

    blocks = xlsx_module._made_ahead(make, range(0, 100, 10))
    assert next(blocks) == b"0"
    # The first block is out; at most the next BLOCKS_AHEAD were asked for meanwhile.
    assert 0 in made
    assert set(made) <= set(range(0, 10 * (xlsx_module.BLOCKS_AHEAD + 1), 10))
    assert list(blocks) == [str(n).encode() for n in range(10, 100, 10)]


def test_a_table_longer_than_a_sheet_goes_on_over_numbered_sheets(monkeypatch):
    monkeypatch.setattr(xlsx_module, "XLSX_MAX_ROWS", 3)  # a header and two rows a sheet
    frame = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "n": [1, 2, 3, 4, 5]})
    book = openpyxl.load_workbook(
        io.BytesIO(xlsx_workbook([("Findings", frame, ()), ("Rules", frame.head(2), ())]))
    )
    assert book.sheetnames == ["Findings", "Findings (2)", "Findings (3)", "Rules"]
    rows = {name: [[c.value for c in row] for row in book[name].rows] for name in book.sheetnames}
    assert rows == {
        "Findings": [["id", "n"], ["a", 1], ["b", 2]],
        "Findings (2)": [["id", "n"], ["c", 3], ["d", 4]],
        "Findings (3)": [["id", "n"], ["e", 5]],
        "Rules": [["id", "n"], ["a", 1], ["b", 2]],
    }
    assert book["Findings (3)"].auto_filter.ref == "A1:B2"


def test_workbook_theme_is_openpyxls_own():
    """auditkit ships a copy of openpyxl's theme part rather than import openpyxl for it."""
    from openpyxl.writer.theme import theme_xml

    book = zipfile.ZipFile(io.BytesIO(xlsx_workbook([("Sheet", MIXED_SHEET, ())])))
    assert book.read("xl/theme/theme1.xml").decode("utf-8") == theme_xml


def test_workbook_zip64_bound_exceeds_the_sheet_at_its_worst_case_text():
    """Whether a sheet needs ZIP64 is decided before it is written, from a bound on its size."""
    worst = pd.DataFrame({"t": ["_x0041_" * 9 + "&\x01<\U0001f600", "_"], "n": [1.5, None]})
    for frame in (worst, MIXED_SHEET, pd.DataFrame({"empty": pd.Series([], dtype="str")})):
        assert xlsx_module._most_xml_bytes(frame) > len(sheet_xml(frame).encode("utf-8"))


def sheet_xml(frame: pd.DataFrame) -> str:
    book = zipfile.ZipFile(io.BytesIO(xlsx_workbook([("Sheet", frame, ())])))
    return book.read("xl/worksheets/sheet1.xml").decode("utf-8")


def test_workbook_text_over_excels_cell_limit_is_cut_to_32767_utf16_units():
    """Excel holds at most 32,767 UTF-16 units a cell (an emoji is two) and calls a longer text
    damaged content; the cut never splits a character, and the CSVs keep the whole text."""
    texts = ["a" * 40_000, "\U0001f600" * 20_000, "b" * 32_766 + "\U0001f600", "c" * 32_767]
    sheet = read_back(pd.DataFrame({"text": texts}))
    assert [c.value for c in sheet["A"][1:]] == [
        "a" * 32_767,
        "\U0001f600" * 16_383,
        "b" * 32_766,
        "c" * 32_767,
    ]
    assert sheet.column_dimensions["A"].width == 60


def test_workbook_text_that_looks_like_an_excel_escape_is_escaped():
    """Excel and LibreOffice read '_x0041_' in a cell as 'A'; '_x005F_' is Excel's escaped '_'."""
    frame = pd.DataFrame({"id_x0042_": ["_x0041_", "a_x000D_b", "snake_case", "_X00fF_x0041_"]})
    xml = sheet_xml(frame)
    texts = re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", xml)
    assert texts == [
        "id_x005F_x0042_x005F_",
        "_x005F_x0041_x005F_",
        "a_x005F_x000D_x005F_b",
        "snake_case",
        "_x005F_X00fF_x005F_x0041_x005F_",
    ]


def test_workbook_header_is_cleaned_and_spaced_like_any_text():
    sheet = read_back(pd.DataFrame({" bad\x01name ": [1], "a<&>b": [2]}))
    assert [c.value for c in sheet[1]] == [" bad\ufffdname ", "a<&>b"]
    assert '<t xml:space="preserve"> bad\ufffdname </t>' in sheet_xml(
        pd.DataFrame({" bad\x01name ": [1]})
    )


@pytest.mark.parametrize(
    "titles",
    [["x" * 32], [""], ["a[b]"], ["a/b"], ["what?"], ["'quoted"], ["Findings", "findings"]],
)
def test_workbook_refuses_sheet_titles_excel_cannot_open(titles):
    with pytest.raises(ValueError, match="Sheet title"):
        xlsx_workbook([(title, pd.DataFrame({"a": [1]}), ()) for title in titles])


def test_workbook_takes_a_title_of_31_characters_with_an_apostrophe_inside():
    title = "it's " + "x" * 26
    book = openpyxl.load_workbook(
        io.BytesIO(xlsx_workbook([(title, pd.DataFrame({"a": [1]}), ())]))
    )
    assert book.sheetnames == [title]


def test_a_rule_the_policy_leaves_unable_to_run_is_named_with_its_reason(report, tmp_path):
    from auditkit.policy import Policy
    from auditkit.report import chart_specs, rule_summary

    result, _ = report
    unnamed = audit(result.bundle, policy=Policy())  # no clinic name to listen for
    write_report(unnamed, tmp_path)
    page = (tmp_path / "report.html").read_text("utf-8")
    caveat = "VM001 not checked: the policy names no clinic (clinic.name in policy.toml)."
    header = page[page.index("<header>") : page.index("</header>")]
    assert header.endswith(f'<p class="caveat">{caveat}</p>\n')  # at the top, before any figure
    row = re.search(r"<tr><td>VM001</td>.*?</tr>", page).group(0)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[4:] == ["0", "0", "n/a — not checked"]
    rules = openpyxl.load_workbook(tmp_path / "report.xlsx")["Rules"]
    vm001 = next(r for r in rules.iter_rows(values_only=True) if r[0] == "VM001")
    assert vm001[3:] == (
        0,
        0,
        None,
        "voicemails left (outbound calls with outcome voicemail)",
        "the policy names no clinic (clinic.name in policy.toml)",
    )
    spec = chart_specs(unnamed, rule_summary(unnamed), monthly_trend(unnamed))["chart-rules"]
    data = spec["datasets"][spec["data"]["name"]]
    assert next(r["words"] for r in data if r["rule"] == "VM001") == "n/a — not checked"
    assert "caveat" not in (report[1] / "report.html").read_text("utf-8").split("</style>")[1]


def test_a_finding_in_the_hour_shown_twice_is_dated_with_its_zone(report):
    result, _ = report
    findings = result.findings.copy()
    at = pd.Series(pd.to_datetime(["2026-11-01T01:30:00-08:00"], utc=True)).dt.tz_convert(
        findings["at"].dt.tz
    )
    findings.loc[0, "at"] = at[0]  # 01:30 PST, an hour after 01:30 PDT
    page = render_html(dataclasses.replace(result, findings=findings))
    assert 'data-sort="2026-11-01T01:30:00-08:00">2026-11-01 01:30 PST</td>' in page
    assert ">2026-03-16 13:00</td>" in page  # any other time as before


def test_widgets_badge_severities_in_the_report_colours():
    template = (ROOT / "src" / "auditkit" / "templates" / "report.html").read_text("utf-8")
    root = re.search(r":root \{(.*?)\}", template, re.DOTALL)
    assert root is not None
    colours = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6})", root.group(1)))
    assert SEVERITY_COLOURS == {"high": "#b42318", "medium": "#b54708", "low": "#475467"}
    assert {severity: colours[severity] for severity in SEVERITY_ORDER} == SEVERITY_COLOURS
