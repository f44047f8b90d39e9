"""Benchmark auditkit's pipeline at growing sizes: `make bench` (not part of `make test`).

For each size it generates a clinic's records (cached under benchmarks/.data), then times, in a
fresh process each: the bare baseline (import pandas, parse every CSV with pyarrow) and the CLI's
own stages (read, validate, each rule, report). Prints one table; `--json FILE` keeps the numbers.

The baseline runs twice over: as a bare process has it (Arrow's default allocator) and with
jemalloc, the allocator the CLI picks, since on a machine where fresh memory is dear the
allocator alone can make the same parse take 1 s or 4 s. The baselines and the whole CLI run
`--repeat` times each, one after the other in turn, and the table gives their medians and
ranges: on a shared machine one run of any can be off by half.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUDITED_TABLES = {"staff", "clients", "appointments", "contacts", "notes", "approvals", "calls"}
CLIENTS_PER_APPOINTMENT = 1 / 29.0  # the generator books about 29 appointments per client-year


def bundle_for(appointments: int) -> Path:
    """A generated bundle of about `appointments` appointments, made once and kept."""
    folder = HERE / ".data" / f"appointments-{appointments}"
    if not (folder / "ground_truth.csv").exists():
        from auditkit.sample import generate_sample

        generate_sample(
            folder, clients=max(10, round(appointments * CLIENTS_PER_APPOINTMENT)), seed=1
        )
    return folder


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_parse(bundle: Path, _out: Path) -> dict:
    """The baseline: a bare process importing pandas and parsing the CSVs with pyarrow."""
    started = time.perf_counter()
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = 0
    for path in sorted(bundle.glob("*.csv")):
        if path.stem not in AUDITED_TABLES:
            continue  # ground_truth.csv is the generator's, not the clinic's
        # pandas' engine="pyarrow" cannot read quoted line breaks; pyarrow itself can.
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        rows += len(table.to_pandas())
    del pd
    return {
        "stage": f"bare parse ({pa.default_memory_pool().backend_name})",
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "peak_mb": peak_mb(),
    }


def pipeline(bundle: Path, out: Path) -> list[dict]:
    """The CLI's work, stage by stage, in this process."""
    stages = []

    def record(stage: str, started: float, rows: int) -> None:
        stages.append(
            {
                "stage": stage,
                "seconds": time.perf_counter() - started,
                "rows": rows,
                "peak_mb": peak_mb(),
            }
        )

    started = time.perf_counter()
    from auditkit.cli import _leave_out_unused_modules
    from auditkit.memory import use_jemalloc_for_arrow

    _leave_out_unused_modules()  # as the auditkit command does
    use_jemalloc_for_arrow()
    from auditkit.auditing import audit
    from auditkit.loading import read_table
    from auditkit.policy import load_policy
    from auditkit.report import write_report
    from auditkit.rules import RULES
    from auditkit.rules.context import AuditContext
    from auditkit.schemas import CALLS, TABLES
    from auditkit.validation import validate

    record("import auditkit", started, 0)
    started = time.perf_counter()
    policy = load_policy(bundle=bundle)
    raws = {spec.name: read_table(bundle, spec) for spec in (*TABLES.values(), CALLS)}
    read_rows = sum(raw.rows_read for raw in raws.values() if raw is not None)
    record("read", started, read_rows)
    started = time.perf_counter()
    loaded = validate(raws, policy, bundle)
    del raws
    # Every frame the audit loads: the bundle's tables and the phone system's call log, which
    # the baseline parses too.
    frames = [*loaded.tables.values(), loaded.calls]
    frames_mb = sum(f.memory_usage(deep=True).sum() for f in frames) / 2**20
    record("validate", started, read_rows)
    context = AuditContext(loaded)
    for code, rule in RULES.items():
        started = time.perf_counter()
        checked = rule.check(context)
        record(f"rule {code}", started, len(checked.opportunities))
    started = time.perf_counter()
    result = audit(loaded)  # the assembled audit (rules again, on a fresh context) and reviews
    record("audit (all rules, assembled)", started, len(result.opportunities))
    started = time.perf_counter()
    write_report(result, out)
    record("report (html, xlsx)", started, len(result.findings))
    stages.append({"stage": "loaded frames (MB)", "seconds": 0.0, "rows": 0, "peak_mb": frames_mb})
    return stages


def cli_run(bundle: Path, out: Path) -> dict:
    """The whole CLI as a user runs it: wall time and peak memory of the process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "auditkit.cli", "audit", str(bundle), "--out", str(out), "--quiet"]
    )
    # wait4 gives this child's own peak; RUSAGE_CHILDREN is the largest of all children so far.
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    return {
        "stage": "auditkit audit (CLI, whole run)",
        "seconds": seconds,
        "rows": 0,
        "peak_mb": usage.ru_maxrss / 1024,
        "exit": os.waitstatus_to_exitcode(status),
    }


def _median(runs: list[dict]) -> dict:
    """The run of median time, with the range and number of runs."""
    seconds = [run["seconds"] for run in runs]
    middle = sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]
    return {
        **middle,
        "seconds": statistics.median(seconds),
        "peak_mb": statistics.median(run["peak_mb"] for run in runs),
        "range": (min(seconds), max(seconds)),
        "runs": len(runs),
    }


def in_subprocess(stage: str, bundle: Path, out: Path, pool: str | None = None) -> list[dict]:
    """Run one measurement in a fresh interpreter, so imports and peaks are its own; `pool`
    names the Arrow allocator it uses, if not the default."""
    command = [sys.executable, __file__, "--stage", stage, str(bundle), str(out)]
    environment = {**os.environ, **({"ARROW_DEFAULT_MEMORY_POOL": pool} if pool else {})}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result if isinstance(result, list) else [result]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the baseline and of the CLI (median kept)"
    )
    parser.add_argument("--stage", nargs=3, metavar=("NAME", "BUNDLE", "OUT"), help="internal")
    args = parser.parse_args()
    if args.stage:
        name, bundle, out = args.stage
        stage = {"bare_parse": bare_parse, "pipeline": pipeline}[name]
        print(json.dumps(stage(Path(bundle), Path(out))))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    everything = {}
    for size in args.sizes:
        bundle = bundle_for(size)
        megabytes = (
            sum(p.stat().st_size for p in bundle.glob("*.csv") if p.stem in AUDITED_TABLES) / 2**20
        )
        out = HERE / ".data" / f"out-{size}"
        baselines, on_jemalloc, clis = [], [], []
        for _ in range(max(1, args.repeat)):  # in turn, so a slow spell falls on all
            baselines += in_subprocess("bare_parse", bundle, out)
            on_jemalloc += in_subprocess("bare_parse", bundle, out, pool="jemalloc")
            clis.append(cli_run(bundle, out))
        rows = [
            _median(baselines),
            _median(on_jemalloc),
            *in_subprocess("pipeline", bundle, out),
            _median(clis),
        ]
        everything[size] = rows
        baseline, jemalloc_baseline = rows[0]["seconds"], rows[1]["seconds"]
        print(f"\n{size:,} appointments ({megabytes:.0f} MB of CSV)")
        print(f"{'stage':34} {'seconds':>9} {'rows/s':>12} {'peak MB':>9}")
        for row in rows:
            rate = f"{row['rows'] / row['seconds']:,.0f}" if row["rows"] and row["seconds"] else ""
            print(f"{row['stage']:34} {row['seconds']:9.2f} {rate:>12} {row['peak_mb']:9.0f}")
        cli = rows[-1]
        frames = next(r["peak_mb"] for r in rows if r["stage"].startswith("loaded frames"))
        print(
            f"CLI / bare parse: {cli['seconds'] / baseline:.1f}x time "
            f"({cli['seconds'] / jemalloc_baseline:.1f}x the parse on jemalloc, the CLI's "
            f"allocator); peak / loaded frames: {cli['peak_mb'] / frames:.1f}x memory"
        )
        for row in (rows[0], rows[1], cli):
            low, high = row["range"]
            print(f"  {row['stage']}: median of {row['runs']} runs; {low:.2f} to {high:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
