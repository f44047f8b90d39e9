"""benchmarks/table.py: the table `make bench` prints, whose ratios the README quotes against
issue 7's targets. Built here from a small pytest-benchmark JSON of made-up timings."""

from __future__ import annotations

import importlib.util

from paths import ROOT

# benchmarks/ is not a package, nor on the path: its table module is loaded from its file.
_SPEC = importlib.util.spec_from_file_location("bench_table", ROOT / "benchmarks" / "table.py")
assert _SPEC is not None and _SPEC.loader is not None
bench_table = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_table)
CLI_STAGE, tables = bench_table.CLI_STAGE, bench_table.tables

MACHINE = {
    "machine": "x86_64",
    "cpu": {"count": 2},
    "python_version": "3.11.7",
    "system": "Linux",
    "release": "6.1",
}


def baseline(seconds: float, allocator: str) -> dict:
    return {
        "seconds": seconds,
        "rows": 1000,
        "allocator": allocator,
        "peak_mb": 100.0,
        "user_s": seconds,
        "system_s": 0.1,
    }


def whole_run(name: str, stage: str, seconds: float, peak_mb: float, **info: object) -> dict:
    """A whole command's benchmark: three rounds beside the two bare baselines."""
    return {
        "name": f"{name}[1,000]",
        "params": {"size": 1000},
        "stats": {"median": seconds, "min": seconds - 0.1, "max": seconds + 0.1, "rounds": 3},
        "extra_info": {
            "stage": stage,
            "rows": 0,
            "peak_mb": peak_mb,
            "cpu": [{"user_s": 2.0, "system_s": 0.5}] * 3,
            "csv_mb": 12.0,
            "baselines": {
                "default": [baseline(0.5, "mimalloc")] * 3,
                "jemalloc": [baseline(0.4, "jemalloc")] * 3,
            },
            **info,
        },
    }


def stage(name: str, label: str, seconds: float, rows: int, peak_mb: float, **info: object):
    return {
        "name": f"{name}[1,000]",
        "params": {"size": 1000},
        "stats": {"median": seconds},
        "extra_info": {"stage": label, "rows": rows, "peak_mb": peak_mb, **info},
    }


CLI = whole_run("test_cli_beside_the_bare_baselines", CLI_STAGE, 4.0, 300.0)
VALIDATE = stage("test_validate", "validate", 0.5, 1000, 150.0, frames_mb=100.0)
EXAMPLE = whole_run(
    "test_cli_on_the_issue_example", "auditkit audit (CLI, the example)", 2.0, 250.0, frames_mb=50.0
)


def test_the_table_gives_each_stage_and_the_targets_ratios():
    printed = tables({"machine_info": MACHINE, "benchmarks": [CLI, VALIDATE, EXAMPLE]})
    lines = printed.splitlines()
    assert lines[0] == "machine: x86_64, 2 cores, Python 3.11.7, Linux 6.1"
    assert "1,000 appointments (12 MB of CSV)" in lines
    assert "validate                                0.50        2,000       150" in lines
    # 4.0 s against 0.5 s and 0.4 s; 300 MB against 100 MB of frames.
    assert (
        "CLI / bare parse: 8.00x time (10.00x the parse on jemalloc, the CLI's allocator); "
        "peak / loaded frames: 3.00x memory"
    ) in lines
    assert "  auditkit audit (CLI, whole run): median of 3 runs; 3.90 to 4.10 s; CPU 2.50 s " in (
        printed
    )
    # The example has its own block and frames: 2.0 s, and 250 MB against 50 MB.
    example = lines[
        lines.index("issue 7's example: 1,000 appointments cut to its shape (12 MB of CSV)") :
    ]
    assert (
        "CLI / bare parse: 4.00x time (5.00x the parse on jemalloc, the CLI's allocator); "
        "peak / loaded frames: 5.00x memory"
    ) in example


def test_a_run_of_some_benchmarks_prints_what_it_has():
    """make bench BENCH_ARGS='-k example': no whole-CLI run, no validate stage."""
    printed = tables({"machine_info": MACHINE, "benchmarks": [EXAMPLE]})
    assert "1,000 appointments" not in printed.splitlines()  # no empty block of stages
    assert "peak / loaded frames: 5.00x memory" in printed
    without_frames = tables({"machine_info": MACHINE, "benchmarks": [CLI]})
    assert "CLI / bare parse: 8.00x time (10.00x the parse on jemalloc, the CLI's allocator)" in (
        without_frames.splitlines()
    )
    assert "loaded frames" not in without_frames


def test_the_dask_engines_row_gives_its_drivers_own_peak_under_it():
    """Its row's peak is its largest process's (a worker's); the driver's is what the bundle
    costs the machine running the command."""
    dask = stage(
        "test_cli_dask_engine",
        "auditkit audit --engine dask (CLI)",
        9.0,
        0,
        900.0,
        driver_peak_mb=480.4,
    )
    lines = tables({"machine_info": MACHINE, "benchmarks": [VALIDATE, dask]}).splitlines()
    at = lines.index("auditkit audit --engine dask (CLI)      9.00                    900")
    driver = lines[at + 1]
    assert driver.split() == ["its", "driver", "(this", "machine)", "480"]
    assert driver.startswith("  its") and len(driver) == len(lines[at])  # in the peak's column
