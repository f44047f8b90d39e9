"""`make audit`, the main job: the command it runs, read with `make -n` (nothing is run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from paths import ROOT


def _audit_command(*variables: str) -> str:
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), "audit", *variables],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line for line in printed.splitlines() if "auditkit audit" in line)


def test_make_audit_applies_the_review_queues_decisions_once_there_are_any(tmp_path: Path):
    decisions = tmp_path / "reviews.csv"
    assert _audit_command(f"REVIEWS={decisions}").split() == [
        ".venv/bin/auditkit", "audit", "data/sample", "--out", "out/sample"
    ]  # fmt: skip
    decisions.write_text("rule,subject_id,decision,reviewer,reviewed_at,comment\n")
    assert _audit_command(f"REVIEWS={decisions}").split() == [
        ".venv/bin/auditkit", "audit", "data/sample", "--out", "out/sample",
        "--reviews", str(decisions),
    ]  # fmt: skip
