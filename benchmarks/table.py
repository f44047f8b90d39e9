"""Print `make bench`'s table from pytest-benchmark's JSON (benchmarks/test_pipeline.py).

    python benchmarks/table.py benchmarks/.data/latest.json

Per size: each stage's median seconds, rows per second and peak memory, beside the bare
baselines of the same run, then the audit's time and peak as multiples of the baselines' time
and of the loaded frames; at 1M, the same for issue 7's example.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

CLI_STAGE = "auditkit audit (CLI, whole run)"
EXAMPLE_TEST = "test_cli_on_the_issue_example"


def _row(stage: str, seconds: float, rows: int, peak_mb: float) -> str:
    rate = f"{rows / seconds:,.0f}" if rows and seconds else ""
    return f"{stage:34} {seconds:9.2f} {rate:>12} {peak_mb:9.0f}"


def _cpu(runs: list[dict]) -> str:
    """The runs' median CPU time, user + kernel, and the kernel's part: on a shared machine a
    steadier measure of a change than seconds. Blank for a JSON from before it was kept."""
    if not runs or "user_s" not in runs[0]:
        return ""
    total = statistics.median(run["user_s"] + run["system_s"] for run in runs)
    kernel = statistics.median(run["system_s"] for run in runs)
    return f"; CPU {total:.2f} s (kernel {kernel:.2f} s)"


def _baseline(runs: list[dict]) -> dict:
    seconds = [run["seconds"] for run in runs]
    return {
        "stage": f"bare parse ({runs[0]['allocator']})",
        "seconds": statistics.median(seconds),
        "range": (min(seconds), max(seconds)),
        "rows": runs[0]["rows"],
        "peak_mb": statistics.median(run["peak_mb"] for run in runs),
        "runs": len(runs),
        "cpu": _cpu(runs),
    }


def _against_the_baselines(command: dict, frames: float | None) -> list[str]:
    """A whole command's run beside its bare baselines: the baselines' rows, the command's,
    the two ratios the target is set in (memory's where the loaded frames were measured), and
    each measure's spread."""
    info, stats = command["extra_info"], command["stats"]
    baselines = [_baseline(runs) for runs in info["baselines"].values()]
    seconds, peak = stats["median"], info["peak_mb"]
    default, jemalloc = (b["seconds"] for b in baselines)
    lines = [_row(b["stage"], b["seconds"], b["rows"], b["peak_mb"]) for b in baselines]
    memory = ""
    if frames is not None:
        lines.append(_row("loaded frames (MB)", 0.0, 0, frames))
        memory = f"; peak / loaded frames: {peak / frames:.2f}x memory"
    lines += [
        _row(info["stage"], seconds, 0, peak),
        f"CLI / bare parse: {seconds / default:.2f}x time ({seconds / jemalloc:.2f}x the "
        f"parse on jemalloc, the CLI's allocator){memory}",
    ]
    for baseline in baselines:
        low, high = baseline["range"]
        lines.append(
            f"  {baseline['stage']}: median of {baseline['runs']} runs; {low:.2f} to {high:.2f} s"
            f"{baseline['cpu']}"
        )
    lines.append(
        f"  {info['stage']}: median of {stats['rounds']} runs; "
        f"{stats['min']:.2f} to {stats['max']:.2f} s{_cpu(info.get('cpu', []))}"
    )
    return lines


def _stage_rows(bench: dict) -> list[str]:
    """A stage's row; for the Dask engine's command, its driver's own peak under it."""
    info = bench["extra_info"]
    rows = [_row(info["stage"], bench["stats"]["median"], info["rows"], info["peak_mb"])]
    if "driver_peak_mb" in info:
        rows.append(
            f"{'  its driver (this machine)':34} {'':>9} {'':>12} {info['driver_peak_mb']:9.0f}"
        )
    return rows


def tables(report: dict) -> str:
    machine = report["machine_info"]
    lines = [
        f"machine: {machine['machine']}, {machine.get('cpu', {}).get('count', '?')} cores, "
        f"Python {machine['python_version']}, {machine['system']} {machine['release']}"
    ]
    sizes = sorted({b["params"]["size"] for b in report["benchmarks"]})
    for size in sizes:
        stages = [b for b in report["benchmarks"] if b["params"]["size"] == size]
        # A run of some benchmarks only (make bench BENCH_ARGS='-k ...') lacks some of these.
        cli = next((b for b in stages if b["extra_info"]["stage"] == CLI_STAGE), None)
        example = next((b for b in stages if b["name"].startswith(EXAMPLE_TEST)), None)
        frames = next(
            (b["extra_info"]["frames_mb"] for b in stages if b["name"].startswith("test_validate")),
            None,
        )
        rows = [
            line
            for bench in stages
            if bench is not cli and bench is not example
            for line in _stage_rows(bench)
        ]
        if rows or cli is not None:
            csv = f" ({cli['extra_info']['csv_mb']:.0f} MB of CSV)" if cli is not None else ""
            lines += [
                "",
                f"{size:,} appointments{csv}",
                f"{'stage':34} {'seconds':>9} {'rows/s':>12} {'peak MB':>9}",
                *rows,
            ]
        if cli is not None:
            lines += _against_the_baselines(cli, frames)
        if example is not None:
            lines += [
                "",
                f"issue 7's example: {size:,} appointments cut to its shape "
                f"({example['extra_info']['csv_mb']:.0f} MB of CSV)",
                *_against_the_baselines(example, example["extra_info"]["frames_mb"]),
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(tables(json.loads(Path(sys.argv[1]).read_text())))
