"""`make bench`: an audit's stages at 10k, 100k and 1M appointments, timed by pytest-benchmark.

Per size, first in fresh processes: the whole `auditkit audit` command, each of its rounds
after a round of the bare baselines (bare_parse.py on Arrow's default allocator, then on
jemalloc, the one the command picks), so a slow spell of a shared machine falls on all three;
at 1M, the same on the issue's example (the bundle cut to its shape: conftest.issue_example_for);
the command on the Dask engine; `auditkit convert --to parquet` and the audit of the Parquet
bundle it writes; a research extract, plain and with scrubbed text; `auditkit import` of its
appointments as SimplePractice exports them; then importing auditkit.
Then in this process, in pipeline order: read, validate, the two as `load` overlaps them, each
rule (in the registry's order on one shared context, as an audit runs them: the first rule to
need a shared frame pays for it), the assembled audit, the report, a click in each notebook
widget (the review queue's next card, the dashboard's month) and the research notebook's
analyses and explorer (its grouping menu). Every benchmark records its rows and peak memory in
extra_info; benchmarks/table.py prints the table from the JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from itertools import cycle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from bare_parse import AUDITED_TABLES
from conftest import (
    DATA,
    HERE,
    REPEAT,
    Peak,
    issue_example_for,
    quoted_example_for,
    simplepractice_export_for,
)

from auditkit.auditing import AuditResult, audit
from auditkit.dashboard import MonthlyDashboard
from auditkit.loading import read_table
from auditkit.policy import load_policy
from auditkit.report import write_report
from auditkit.research import (
    NoShowExplorer,
    appointment_frame,
    life_table,
    logistic_regression,
    survival,
)
from auditkit.review_queue import ReviewQueue
from auditkit.rules import RULES
from auditkit.rules.context import AuditContext
from auditkit.schemas import CALLS, TABLES
from auditkit.startup import leave_out_unused_modules
from auditkit.tables import RawTable
from auditkit.validation import Bundle, TableInHand, load, validate

PEAK = Peak()


def staged(
    benchmark: Any,
    stage: str,
    function: Callable[..., Any],
    rows: Callable[[Any], int],
    setup: Callable[[], tuple] = tuple,
    rounds: int = 1,
) -> Any:
    """Time `function(*setup())` (setup untimed) `rounds` times and record the stage, rows and
    peak MB."""
    peaks = []

    def prepared() -> tuple[tuple, dict]:
        arguments = setup()
        PEAK.reset()
        return arguments, {}

    def measured(*arguments: Any) -> Any:
        result = function(*arguments)
        peaks.append(PEAK.mb())
        return result

    result = benchmark.pedantic(measured, setup=prepared, rounds=rounds)
    benchmark.extra_info.update(stage=stage, rows=rows(result), peak_mb=max(peaks))
    return result


def _measured(arguments: list[str], pool: str | None = None) -> tuple[dict, list[str]]:
    """Run a fresh interpreter to its end (through peak.py, which reports the run's own peak
    memory); the peak and exit status, and the lines the run printed. `pool` names the Arrow
    allocator for a run that should not use its default. The run inherits none of the
    allocator settings this process made for its own stages: the command makes its own, and a
    bare baseline has none."""
    settings = ("ARROW_DEFAULT_MEMORY_POOL", "JE_ARROW_MALLOC_CONF")
    environment = {k: v for k, v in os.environ.items() if k not in settings}
    done = subprocess.run(
        [sys.executable, str(HERE / "peak.py"), sys.executable, *arguments],
        capture_output=True,
        text=True,
        env=environment | ({"ARROW_DEFAULT_MEMORY_POOL": pool} if pool else {}),
    )
    *printed, last = done.stdout.splitlines()
    measured = json.loads(last)
    assert measured["exit"] == 0, (arguments, done.stderr)
    return measured, printed


def _bare_parse(bundle: Path, pool: str | None) -> dict:
    measured, printed = _measured([str(HERE / "bare_parse.py"), str(bundle)], pool)
    cpu = {k: measured[k] for k in ("peak_mb", "user_s", "system_s")}
    return json.loads(printed[-1]) | cpu


def _child(arguments: list[str], peaks: list[float], cpu: list[dict] | None = None) -> None:
    """Run a fresh interpreter to its end, adding its own peak memory to `peaks` (and its CPU
    time, user and kernel, to `cpu`: steadier than its seconds on a shared machine)."""
    measured = _measured(arguments)[0]
    peaks.append(measured["peak_mb"])
    if cpu is not None:
        cpu.append({k: measured[k] for k in ("user_s", "system_s")})


def _audit_command(bundle: Path, out: Path) -> list[str]:
    return ["-m", "auditkit.cli", "audit", str(bundle), "--out", str(out), "--quiet"]


def _beside_the_bare_baselines(benchmark: Any, bundle: Path, out: Path, stage: str) -> None:
    """The whole audit command, each round after a round of both bare baselines."""
    baselines: dict[str, list[dict]] = {"default": [], "jemalloc": []}
    peaks: list[float] = []
    cpu: list[dict] = []

    command = _audit_command(bundle, out)

    def baselines_first() -> tuple[tuple, dict]:
        for pool, runs in baselines.items():
            runs.append(_bare_parse(bundle, None if pool == "default" else pool))
        return (command, peaks, cpu), {}

    benchmark.pedantic(_child, setup=baselines_first, rounds=REPEAT)
    csv_mb = sum(p.stat().st_size for p in bundle.glob("*.csv") if p.stem in AUDITED_TABLES)
    benchmark.extra_info.update(
        stage=stage,
        rows=0,
        peak_mb=statistics.median(peaks),
        cpu=cpu,
        csv_mb=csv_mb / 2**20,
        baselines=baselines,
    )


def _frames_mb(bundle: Bundle) -> float:
    """The loaded frames' memory, the call log's too (the baseline parses it)."""
    frames = [*bundle.tables.values(), bundle.calls]
    return sum(f.memory_usage(deep=True).sum() for f in frames) / 2**20


def test_cli_beside_the_bare_baselines(benchmark: Any, bundle: Path, out: Path) -> None:
    _beside_the_bare_baselines(benchmark, bundle, out, "auditkit audit (CLI, whole run)")


def test_cli_on_the_issue_example(benchmark: Any, size: int) -> None:
    """The target as issue 7 sets it, on its own example's shape (conftest.issue_example_for):
    the whole command beside the bare baselines, and the frames it loads, for the ratios."""
    if size != 1_000_000:
        pytest.skip("the issue's example is a million appointments")
    bundle = issue_example_for(size)
    _beside_the_bare_baselines(
        benchmark, bundle, DATA / "out-issue-example", "auditkit audit (CLI, the example)"
    )
    benchmark.extra_info["frames_mb"] = _frames_mb(load(bundle))


def test_cli_on_the_quoted_example(benchmark: Any, size: int) -> None:
    """The example with every field quoted (conftest.quoted_example_for), once: the same frames
    from files of a quote every few bytes, whose records are found by quote parity."""
    if size != 1_000_000:
        pytest.skip("the issue's example is a million appointments")
    command = _audit_command(quoted_example_for(size), DATA / "out-quoted-example")
    peaks: list[float] = []
    benchmark.pedantic(_child, (command, peaks))
    benchmark.extra_info.update(
        stage="audit (CLI, the example, all quoted)", rows=0, peak_mb=max(peaks)
    )


def test_cli_dask_engine(benchmark: Any, bundle: Path, out: Path) -> None:
    """The whole command on the Dask engine, its own local cluster of 2 workers: once, as a
    measure beside the pandas engine's, not a repeated comparison. Its peak is its largest
    process's (the driver or a worker: Linux hands a waited child's peak to its parent); the
    driver's own is measured apart (own_peak.py), what the bundle costs this machine."""
    command = [str(HERE / "own_peak.py"), *_audit_command(bundle, out)[2:], "--engine", "dask"]
    measured: list[tuple[dict, list[str]]] = []
    benchmark.pedantic(lambda: measured.append(_measured(command)))
    [(peaks, printed)] = measured
    benchmark.extra_info.update(
        stage="auditkit audit --engine dask (CLI)",
        rows=0,
        peak_mb=peaks["peak_mb"],
        driver_peak_mb=json.loads(printed[-1])["own_peak_mb"],
    )


def _convert_command(bundle: Path, out: Path) -> list[str]:
    return ["-m", "auditkit.cli", "convert", str(bundle), "--to", "parquet", "--out", str(out)]


def test_cli_convert(benchmark: Any, bundle: Path, converted: Path) -> None:
    """`auditkit convert --to parquet`, once: what a Parquet bundle costs to make."""
    peaks: list[float] = []
    benchmark.pedantic(_child, (_convert_command(bundle, converted), peaks))
    benchmark.extra_info.update(
        stage="auditkit convert (CLI, to Parquet)", rows=0, peak_mb=max(peaks)
    )


def test_cli_parquet_audit(benchmark: Any, bundle: Path, converted: Path, out: Path) -> None:
    """The whole audit command on the converted bundle, repeated as the CSVs' is: repeated
    audits of the same data parse no timestamp, count or flag again."""
    if not (converted / "converted.json").is_file():  # run on its own (-k): convert, untimed
        _child(_convert_command(bundle, converted), [])
    command = _audit_command(converted, out)
    peaks: list[float] = []
    benchmark.pedantic(_child, (command, peaks), rounds=REPEAT)
    benchmark.extra_info.update(
        stage="auditkit audit (CLI, Parquet)", rows=0, peak_mb=statistics.median(peaks)
    )


@pytest.mark.parametrize("scrubbed", [False, True], ids=["plain", "scrubbed-text"])
def test_cli_deidentify(benchmark: Any, bundle: Path, out: Path, scrubbed: bool) -> None:
    """A researcher's extract (`auditkit deidentify`), once: without free text, and with the
    messages and notes scrubbed of names, numbers, dates and times."""
    extract = out.parent / f"{out.name}-extract"
    command = ["-m", "auditkit.cli", "deidentify", str(bundle), "--out", str(extract)]
    peaks: list[float] = []
    benchmark.pedantic(_child, ([*command, *(["--scrubbed-text"] if scrubbed else [])], peaks))
    stage = "deidentify --scrubbed-text (CLI)" if scrubbed else "deidentify (CLI)"
    benchmark.extra_info.update(stage=stage, rows=0, peak_mb=max(peaks))


def test_cli_import(benchmark: Any, bundle: Path, out: Path, size: int) -> None:
    """`auditkit import` of the bundle's appointments as SimplePractice exports them
    (conftest.simplepractice_export_for), into a bundle holding none yet, repeated as the
    audit is: how long a clinic waits for its export to come in."""
    export = simplepractice_export_for(size)
    into = out.parent / f"{out.name}-import"
    command = ["-m", "auditkit.cli", "import", "--preset", "simplepractice", str(export)]
    peaks: list[float] = []

    def a_bundle_without_appointments() -> tuple[tuple, dict]:
        shutil.rmtree(into, ignore_errors=True)
        into.mkdir(parents=True)
        for name in ("staff.csv", "clients.csv", "policy.toml"):
            shutil.copyfile(bundle / name, into / name)
        return ([*command, "--into", str(into)], peaks), {}

    benchmark.pedantic(_child, setup=a_bundle_without_appointments, rounds=REPEAT)
    rows = sum(1 for _ in export.open(encoding="utf-8")) - 1
    benchmark.extra_info.update(
        stage="import SimplePractice export (CLI)", rows=rows, peak_mb=statistics.median(peaks)
    )


def test_import(benchmark: Any, size: int) -> None:
    """What the command imports to audit (in a fresh interpreter, so nothing is imported yet);
    the same at every `size`, measured with each so every size's table has it."""
    # (named from the function itself: moved or renamed, this fails to import, not in a child)
    module, name = leave_out_unused_modules.__module__, leave_out_unused_modules.__name__
    code = f"from {module} import {name}; {name}(); import auditkit.auditing, auditkit.report"
    peaks: list[float] = []
    benchmark.pedantic(_child, (["-c", code], peaks))
    benchmark.extra_info.update(stage="start Python, import auditkit", rows=0, peak_mb=max(peaks))


def _read(bundle: Path) -> dict[str, TableInHand]:
    return {spec.name: read_table(bundle, spec) for spec in (*TABLES.values(), CALLS)}


def _rows_read(raws: dict[str, TableInHand]) -> int:
    return sum(raw.rows_read for raw in raws.values() if isinstance(raw, RawTable))


def test_read(benchmark: Any, bundle: Path) -> None:
    staged(benchmark, "read", lambda: _read(bundle), _rows_read)


def test_validate(benchmark: Any, bundle: Path) -> None:
    policy = load_policy(bundle=bundle)
    rows = []

    def read() -> tuple:
        raws = _read(bundle)
        rows.append(_rows_read(raws))
        return (raws,)

    loaded = staged(
        benchmark,
        "validate",
        lambda raws: validate(raws, policy, bundle),
        lambda _loaded: rows[-1],
        setup=read,
    )
    benchmark.extra_info["frames_mb"] = _frames_mb(loaded)


def test_load(benchmark: Any, bundle: Path) -> None:
    """Reading and validating as the command does: files read on threads meanwhile."""
    staged(
        benchmark,
        "load (read + validate, overlapped)",
        lambda: load(bundle),
        lambda loaded: int(loaded.coverage["rows_read"].sum()),
    )


@pytest.fixture(scope="module")
def loaded(bundle: Path) -> Bundle:
    return validate(_read(bundle), load_policy(bundle=bundle), bundle)


@pytest.fixture(scope="module")
def context(loaded: Bundle) -> AuditContext:
    return AuditContext(loaded)


@pytest.mark.parametrize("code", list(RULES))
def test_rule(benchmark: Any, context: AuditContext, code: str) -> None:
    staged(
        benchmark,
        f"rule {code}",
        lambda: RULES[code].check(context),
        lambda checked: len(checked.opportunities),
    )


def test_audit(benchmark: Any, loaded: Bundle) -> None:
    staged(
        benchmark,
        "audit (all rules, assembled)",
        lambda: audit(loaded),
        lambda result: len(result.opportunities),
    )


@pytest.fixture(scope="module")
def audited(loaded: Bundle) -> AuditResult:
    return audit(loaded)


def test_report(benchmark: Any, audited: AuditResult, out: Path) -> None:
    staged(
        benchmark,
        "report (html, xlsx)",
        lambda: write_report(audited, out),
        lambda _none: len(audited.findings),
    )


# What a reviewer and a supervisor wait for at each click, in the notebooks' widgets.


def test_review_queue_next_card(benchmark: Any, audited: AuditResult, out: Path) -> None:
    reviews = out / "bench_reviews.csv"
    reviews.unlink(missing_ok=True)
    queue = ReviewQueue(audited, reviews, "bench")
    staged(
        benchmark,
        "review queue: next card",
        queue.next_button.click,
        lambda _none: len(audited.findings),
    )


def test_dashboard_month_change(benchmark: Any, audited: AuditResult, out: Path) -> None:
    dashboard = MonthlyDashboard(audited, export_to=out / "dashboard")
    months = cycle(value for _label, value in dashboard.month.options[1:3])

    def choose_month() -> None:
        dashboard.month.value = next(months)

    staged(
        benchmark,
        "dashboard: another month",
        choose_month,
        lambda _none: len(audited.findings),
    )


# What a researcher waits for in the no-show notebook, on the same bundle.


def test_research_appointment_frame(benchmark: Any, loaded: Bundle) -> None:
    staged(benchmark, "research: appointment frame", lambda: appointment_frame(loaded), len)


@pytest.fixture(scope="module")
def research_frame(loaded: Bundle) -> pd.DataFrame:
    return appointment_frame(loaded)


@pytest.mark.parametrize("analysis", ["survival", "life table", "no-show model"])
def test_research_analysis(
    benchmark: Any, loaded: Bundle, research_frame: pd.DataFrame, analysis: str
) -> None:
    run = {
        # With the frame the notebook made, as the notebook calls them.
        "survival": lambda: survival(loaded, frame=research_frame),
        "life table": lambda: life_table(loaded, width_days=14, frame=research_frame),
        "no-show model": lambda: logistic_regression(research_frame),
    }[analysis]
    staged(benchmark, f"research: {analysis}", run, lambda _result: len(research_frame))


@pytest.mark.parametrize("grouping", ["clinician", "weekday"])
def test_research_explorer_grouping(
    benchmark: Any, research_frame: pd.DataFrame, grouping: str
) -> None:
    """The no-show explorer's grouping menu: from service to `grouping`, the rates, table and
    chart redrawn (by clinician, one bar and row per clinician)."""
    explorer = NoShowExplorer(research_frame)

    def from_service() -> tuple:
        explorer.grouping.value = "service"
        return ()

    def choose() -> None:
        explorer.grouping.value = grouping

    staged(
        benchmark,
        f"research explorer: by {grouping}",
        choose,
        lambda _none: len(research_frame),
        setup=from_service,
        rounds=5,
    )
