"""End to end: Voilà and JupyterLab serve the notebooks on 127.0.0.1 and Debian's headless
Chromium drives them.

Each server runs the command its make target runs (``make dashboard``, ``make review``, ``make
lab``, read with ``make -n``), on a free port, and is always stopped. Every request not to
127.0.0.1 is aborted and recorded: the charts must draw from the JavaScript the kernel sends
(JupyterChart offline), not from a CDN. The screenshots go to test-artifacts/; with
AUDITKIT_UPDATE_SCREENSHOTS=1 they also replace the README's docs/dashboard.png and
docs/review_queue.png (a test run leaves tracked files alone).
"""

from __future__ import annotations

import csv
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, accessibility_violations
from paths import ROOT, SAMPLE
from playwright.sync_api import Browser, Page, Route, sync_playwright

from auditkit import audit, load
from auditkit.dashboard import Selection, dashboard_charts, filter_findings
from auditkit.errors import BundleError
from auditkit.research import NoShowExplorer, appointment_frame
from auditkit.review_queue import queue_order
from auditkit.rules import RULES

NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = (
    ROOT / "docs" if os.environ.get("AUDITKIT_UPDATE_SCREENSHOTS") else ROOT / "test-artifacts"
)
START_TIMEOUT = 120  # seconds for Voilà to listen, on a busy 2-core machine
RENDER_TIMEOUT = 180_000  # ms for a page to run its notebook and draw
UPDATE_TIMEOUT = 60_000  # ms for a widget change to reach the page

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not at /usr/bin/chromium; `make test` installs it",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MadeCommand:
    """What a make target runs: the folder, the variables it sets and the command."""

    folder: Path
    env: dict[str, str]
    argv: list[str]


def make_command(target: str) -> MadeCommand:
    """What `make TARGET` runs (`make -n`, the notebooks extra taken as installed), so that the
    browser tests start the servers exactly as the Makefile does."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.notebooks", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = shlex.split(dry.replace("\\\n", " "))  # a recipe's continued lines as one
    folder = ROOT
    if words[0] == "cd":
        folder, words = ROOT / words[1], words[3:]  # cd DIR && ...
    env = {}
    while re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return MadeCommand(folder, env, words)


@contextmanager
def served(made: MadeCommand, scratch: Path, log_name: str) -> Iterator[int]:
    """Run a notebook server as `made` says, on a free port rather than the Makefile's, with
    decisions and exports going to `scratch`; yield the port once it listens; stop the server
    whatever happens."""
    port = free_port()
    argv = [a for a in made.argv if not a.startswith("--port=")] + [f"--port={port}"]
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITKIT_BUNDLE", "AUDITKIT_EXTRACT")}
    env |= {
        **made.env,
        "AUDITKIT_REVIEWS": str(scratch / "reviews.csv"),
        "AUDITKIT_EXPORT": str(scratch / "export"),
    }
    log_path = scratch / log_name
    with log_path.open("wb") as log:
        server = subprocess.Popen(argv, cwd=made.folder, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if server.poll() is not None:
                    pytest.fail(f"{argv[0]} exited early:\n{log_path.read_text(errors='replace')}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"{argv[0]} did not listen in {START_TIMEOUT} s")
                    time.sleep(0.5)
            yield port
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


# The notebooks a make target serves as a web app; the others are served as the dashboard is.
SERVED_BY = {"monthly_audit.ipynb": "dashboard", "qa_review.ipynb": "review"}


@contextmanager
def voila(notebook: str, scratch: Path, **env: str) -> Iterator[str]:
    """Serve one notebook as its make target does (`make dashboard`, `make review`), with
    `env` set for it; yield its URL once Voilà listens."""
    made = make_command(SERVED_BY.get(notebook, "dashboard"))
    made.argv[-1] = notebook
    made.env |= env
    with served(made, scratch, f"voila-{Path(notebook).stem}.log") as port:
        yield f"http://127.0.0.1:{port}/"


@contextmanager
def lab(notebook: str, scratch: Path) -> Iterator[str]:
    """JupyterLab as `make lab` starts it, on a copy of the notebooks (Lab saves what it runs),
    with a workspace, settings and configuration of its own, and a token; yield the notebook's
    URL."""
    folder = scratch / "notebooks"
    folder.mkdir()
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, folder)
    made = make_command("lab")
    assert made.argv[-1] == "notebooks"
    token = secrets.token_hex(16)
    made.argv[-1:] = [
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
        f"--LabApp.user_settings_dir={scratch / 'settings'}",
        str(folder),
    ]
    made.env["JUPYTER_CONFIG_DIR"] = str(scratch / "config")  # not this machine's ~/.jupyter
    made.env["AUDITKIT_BUNDLE"] = str(SAMPLE)  # the copies are not beside data/
    with served(made, scratch, "lab.log") as port:
        yield f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sample():
    return audit(load(SAMPLE))


@contextmanager
def opened(browser: Browser, url: str, ready: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """The page at `url`, off-machine requests aborted and recorded, once `ready` shows."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    attempted: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def local_only(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:") or route.request.url.startswith(
            "ws://127.0.0.1:"
        ):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    try:
        page.goto(url, timeout=RENDER_TIMEOUT)
        page.wait_for_selector(ready, timeout=RENDER_TIMEOUT)
        yield page, attempted, errors
    finally:
        page.close()


def text_becomes(page: Page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.textContent === t; }",
        arg=[selector, text],
        timeout=UPDATE_TIMEOUT,
    )


def rows_become(page: Page, selector: str, count: int) -> None:
    """Wait for `count` rows: the count line and the table are separate widgets, whose updates
    reach the page one after the other (on a busy machine, far apart)."""
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length === n",
        arg=[selector, count],
        timeout=UPDATE_TIMEOUT,
    )


def screenshot(page: Page, path: Path) -> None:
    """The whole rendered notebook: Voilà scrolls inside #rendered_cells, not the page."""
    height = page.evaluate("document.querySelector('#rendered_cells').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(height + 40, 4000)})
    page.wait_for_timeout(500)  # let vega re-lay out
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=path, full_page=True)


COUNT = ".auditkit-count strong"
TABLE_ROWS = ".auditkit-findings tbody tr"
HEATMAP_CELLS = ".auditkit-chart-heatmap g.mark-rect.role-mark path"
RULE_BARS = ".auditkit-chart-rules g.mark-rect.role-mark path"
TREND_MARKER = ".auditkit-chart-trend g.mark-rule.role-mark line"
# vega-embed's "…" menu: a <details> holding .vega-actions, whose "Open in Vega Editor" sends the
# chart, data and all, to a website.
ACTIONS_MENU = ".vega-embed details, .vega-embed .vega-actions"


def test_dashboard_follows_the_month_and_chart_clicks(browser, sample, tmp_path):
    findings = sample.findings
    march = filter_findings(findings, month="2026-03")
    vm001 = filter_findings(findings, rules=["VM001"])
    cells = {
        month: len(dashboard_charts(sample, Selection(month=month))["heatmap"].data)
        for month in (None, "2026-03")
    }
    with (
        voila("monthly_audit.ipynb", tmp_path) as url,
        opened(browser, url, COUNT) as (page, attempted, errors),
    ):
        page.wait_for_function(
            "['rules', 'heatmap', 'trend']"
            ".every(c => document.querySelector(`.auditkit-chart-${c} svg`))",
            timeout=RENDER_TIMEOUT,
        )
        assert page.inner_text(COUNT) == str(len(findings))
        assert page.locator(TABLE_ROWS).count() == len(findings)
        assert page.locator(HEATMAP_CELLS).count() == cells[None]
        assert page.locator(RULE_BARS).count() == len(RULES)
        assert page.locator(TREND_MARKER).count() == 0
        assert page.locator(".vega-embed").count() == 3
        assert page.locator(ACTIONS_MENU).count() == 0
        assert accessibility_violations(page) == {}
        screenshot(page, SCREENSHOTS / "dashboard.png")

        # a bar is a rule: clicking VM001's drills into its findings
        page.locator(RULE_BARS).nth(list(RULES).index("VM001")).click()
        text_becomes(page, COUNT, str(len(vm001)))
        rows_become(page, TABLE_ROWS, len(vm001))
        page.wait_for_function(
            f"document.querySelectorAll('{RULE_BARS}').length === 1", timeout=UPDATE_TIMEOUT
        )

        page.get_by_role("button", name="Show everything").click()
        text_becomes(page, COUNT, str(len(findings)))

        page.select_option(".auditkit-month select", label="Mar 2026 (2026-03)")
        text_becomes(page, COUNT, str(len(march)))
        rows_become(page, TABLE_ROWS, len(march))
        page.wait_for_function(
            f"document.querySelectorAll('{HEATMAP_CELLS}').length === {cells['2026-03']}",
            timeout=UPDATE_TIMEOUT,
        )
        page.wait_for_function(
            f"document.querySelectorAll('{TREND_MARKER}').length === 1", timeout=UPDATE_TIMEOUT
        )
        assert page.locator(ACTIONS_MENU).count() == 0  # redrawn charts have none either
        assert accessibility_violations(page) == {}  # a month chosen: its marker, fewer cells
        assert attempted == []
        assert errors == []


def test_review_queue_saves_a_decision_from_the_browser(browser, sample, tmp_path):
    ordered = queue_order(sample.findings)
    first, total = ordered.iloc[0], len(ordered)
    # the first message whose evidence the rule quotes, for the card with highlighted words
    quoting = ordered.index[
        ordered["evidence"].str.contains("\u201c") & (ordered["subject_type"] == "contact")
    ][0]
    with (
        voila("qa_review.ipynb", tmp_path) as url,
        opened(browser, url, ".auditkit-progress strong") as (page, attempted, errors),
    ):
        progress = ".auditkit-progress strong"
        assert page.inner_text(progress) == f"0 of {total} reviewed"
        assert accessibility_violations(page) == {}
        page.fill(".auditkit-reviewer input", "Jordan")
        page.fill(".auditkit-comment textarea", "Coaching call without approval.")
        page.get_by_role("button", name="Confirm").focus()
        page.keyboard.press("Enter")  # by keyboard: it goes on in the next card's comment
        text_becomes(page, progress, f"1 of {total} reviewed")
        page.wait_for_function(
            "document.activeElement?.closest('.auditkit-comment') != null",
            timeout=UPDATE_TIMEOUT,
        )
        with (tmp_path / "reviews.csv").open(newline="", encoding="utf-8") as handle:
            rows = [
                (r["rule"], r["subject_id"], r["decision"], r["reviewer"], r["comment"])
                for r in csv.DictReader(handle)
            ]
        assert rows == [
            (
                first["rule"],
                first["subject_id"],
                "confirmed",
                "Jordan",
                "Coaching call without approval.",
            )
        ]
        for _ in range(quoting - 1):
            page.get_by_role("button", name="Next").click()
        page.wait_for_function(
            f"document.querySelector('.auditkit-progress').textContent"
            f".includes('finding {quoting + 1} of {total}')",
            timeout=UPDATE_TIMEOUT,
        )
        mark = page.locator(".auditkit-record-card tr.subject mark")
        assert (
            mark.inner_text()
            == ordered.loc[quoting, "evidence"].split("\u201c")[1].split("\u201d")[0]
        )
        assert accessibility_violations(page) == {}  # a card with its quoted words marked
        saved_to = page.locator("code", has_text="reviews.csv")
        assert saved_to.inner_text() == str((tmp_path / "reviews.csv").resolve())
        # the picture shows where make review saves from a clone in ~/auditkit, not this scratch
        saved_to.evaluate("(code) => { code.textContent = '~/auditkit/out/reviews.csv'; }")
        screenshot(page, SCREENSHOTS / "review_queue.png")
        assert attempted == []
        assert errors == []


def test_a_closed_pages_kernel_is_shut_down_by_the_server(browser, tmp_path):
    """Each page opened starts a kernel (300 MB with the audit): one whose page closed goes
    when idle, as make review and make dashboard set it (after 600 s; here after 30 s: the
    page connects to its kernel only once the notebook has run and the page has loaded, and on
    a slow machine a kernel idle 2 s was culled before that, the page left waiting)."""
    made = make_command("review")
    culling = [
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_idle_timeout=600",
    ]
    assert all(option in made.argv for option in culling)
    shorter = [
        "--MappingKernelManager.cull_interval=1",
        "--MappingKernelManager.cull_idle_timeout=30",
    ]
    made.argv = [shorter[culling.index(a)] if a in culling else a for a in made.argv]
    log = tmp_path / "voila-cull.log"
    with served(made, tmp_path, log.name) as port:
        with opened(browser, f"http://127.0.0.1:{port}/", ".auditkit-progress strong"):
            assert "Culling 'idle' kernel" not in log.read_text(errors="replace")  # closes here
        deadline = time.monotonic() + 120
        while "Culling 'idle' kernel" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        assert "with 0 connections" in log.read_text(errors="replace")


NO_SHOW_BARS = ".auditkit-chart-no-show g.mark-rect.role-mark path"
NO_SHOW_ROWS = ".auditkit-no-show-table tbody tr"
AXIS_LABELS = ".auditkit-chart-no-show g.role-axis-label text"


def shown_levels(page: Page, levels: list[str]) -> list[str]:
    """The chart's axis labels that are levels, in the order the axis draws them."""
    return [t for t in page.locator(AXIS_LABELS).all_text_contents() if t in set(levels)]


def test_research_explorer_draws_its_groups_in_their_own_order(browser, tmp_path):
    frame = appointment_frame(load(SAMPLE))
    explorer = NoShowExplorer(frame)
    expected = {}
    for grouping in ("weekday", "clinician"):
        explorer.grouping.value = grouping
        rates = explorer.rates
        expected[grouping] = (len(rates), rates.loc[~rates["suppressed"], grouping].astype(str))
    rows, weekdays = expected["weekday"]
    # The sample's weekdays as the explorer suppresses them: not in alphabetical order, so the
    # axis shows that the chart keeps the rows' order.
    assert weekdays.tolist() == ["Monday", "Thursday", "Friday"]
    with (
        voila("no_show_research.ipynb", tmp_path) as url,
        opened(browser, url, ".auditkit-chart-no-show svg") as (page, attempted, errors),
    ):
        rows_become(page, NO_SHOW_ROWS, rows)
        assert page.locator(NO_SHOW_BARS).count() == len(weekdays)
        assert shown_levels(page, weekdays.tolist()) == weekdays.tolist()
        # the table's own style reaches it in the widget: rules under the rows, no cell boxes
        borders = page.eval_on_selector(
            f"{NO_SHOW_ROWS} td",
            "td => ['Left', 'Bottom'].map(side => getComputedStyle(td)[`border${side}Width`])",
        )
        assert borders == ["0px", "1px"]
        assert accessibility_violations(page) == {}
        screenshot(page, SCREENSHOTS / "research.png")

        page.select_option(".auditkit-grouping select", label="clinician")
        rows, clinicians = expected["clinician"]
        rows_become(page, NO_SHOW_ROWS, rows)
        page.wait_for_function(
            f"document.querySelectorAll('{NO_SHOW_BARS}').length === {len(clinicians)}",
            timeout=UPDATE_TIMEOUT,
        )
        assert shown_levels(page, clinicians.tolist()) == clinicians.tolist()
        assert page.locator(ACTIONS_MENU).count() == 0
        assert accessibility_violations(page) == {}  # regrouped and redrawn
        assert attempted == []
        assert errors == []


def test_a_bundle_that_cannot_be_read_is_said_on_the_page_in_words(browser, tmp_path):
    missing = tmp_path / "no-such-bundle"
    with pytest.raises(BundleError) as raised:
        load(missing)
    with (
        voila("monthly_audit.ipynb", tmp_path, AUDITKIT_BUNDLE=str(missing)) as url,
        opened(browser, url, "body") as (page, attempted, errors),
    ):
        page.wait_for_function(
            "said => document.body.innerText.includes(said)",
            arg=f"BundleError: {raised.value}",
            timeout=RENDER_TIMEOUT,
        )
        shown = page.inner_text("body")
        # the message alone: no frames of auditkit's code, which the reader cannot act on
        assert "Traceback" not in shown and "auditkit/" not in shown
        assert attempted == []
        assert errors == []


def test_make_lab_draws_the_dashboard_offline_and_asks_nothing_of_the_network(
    browser, sample, tmp_path
):
    with (
        lab("monthly_audit.ipynb", tmp_path) as url,
        opened(browser, url, ".jp-Notebook") as (page, attempted, errors),
    ):
        # Run All queues nothing until the kernel is connected, which the status bar says
        # ("Python 3 (ipykernel) | Idle"; the toolbar's indicator is idle sooner)
        page.locator("#jp-main-statusbar").get_by_text("| Idle").wait_for(timeout=RENDER_TIMEOUT)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator('li[data-command="runmenu:run-all"]').click()
        page.wait_for_function(
            "['rules', 'heatmap', 'trend']"
            ".every(c => document.querySelector(`.auditkit-chart-${c} svg`))",
            timeout=RENDER_TIMEOUT,
        )
        assert page.inner_text(COUNT) == str(len(sample.findings))
        assert page.locator(RULE_BARS).count() == len(RULES)
        # JupyterLab's own question, whether to fetch Jupyter news from the web, is never asked
        assert page.get_by_text("notified about official Jupyter news").count() == 0
        config = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent)"
        )
        assert (config["extensionManager"]["name"], config["extensionManager"]["can_install"]) == (
            "read-only",
            False,
        )
        assert attempted == []
        assert errors == []
