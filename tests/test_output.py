"""Outputs: atomic writes that clean up after killed runs, and a CLI that survives a closed pipe."""

import os
import subprocess
import sys
import time

from auditkit.output import ABANDONED_AFTER_SECONDS, write_atomically


def test_a_write_removes_temporaries_a_killed_run_left_but_not_fresh_ones(tmp_path):
    target = tmp_path / "findings.csv"
    abandoned = tmp_path / ".findings.csv.abc123.tmp"
    in_flight = tmp_path / ".findings.csv.def456.tmp"
    other = tmp_path / ".report.html.abc123.tmp"
    for leftover in (abandoned, in_flight, other):
        leftover.write_bytes(b"half")
    old = time.time() - ABANDONED_AFTER_SECONDS - 5
    os.utime(abandoned, (old, old))
    os.utime(other, (old, old))
    write_atomically(target, b"rule,subject_id\n")
    assert target.read_bytes() == b"rule,subject_id\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".findings.csv.def456.tmp", ".report.html.abc123.tmp", "findings.csv"]
    )


def test_rules_into_a_pipe_whose_reader_has_gone_exits_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (say, `head`) has already exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "auditkit.cli", "rules"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert done.stderr == ""
