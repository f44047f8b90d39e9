"""The wheel, as a clinic's laptop or a Dask worker installs it (`pip install auditkit`), not the
editable install the suite otherwise runs: every file the package reads ships in it, and the
command runs from it alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from paths import ROOT, SAMPLE

PACKAGE = ROOT / "src" / "auditkit"
PIP = [sys.executable, "-m", "pip", "-q"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of what a source distribution holds (so the build leaves no
    build/ folder in the repository), offline: setuptools from the dev extra, no isolation."""
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copy(ROOT / "LICENSE", source)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), source],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("auditkit-*.whl")
    return built


def shipped_files() -> set[str]:
    """Every file of the package in the repository but its Python sources: what the code reads
    at run time (the report's template, the presets, the workbook's theme, py.typed)."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_every_file_of_the_package_and_its_licence(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert shipped_files() - names == set()
    assert {path.relative_to(PACKAGE.parent).as_posix() for path in PACKAGE.rglob("*.py")} <= names
    assert "auditkit-0.1.0.dist-info/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(wheel).read("auditkit-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines()


def test_the_command_audits_the_sample_from_the_wheel_alone(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [*PIP, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    # The wheel's package first on the path, ahead of the editable install's source tree; the
    # libraries it needs from this environment.
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import auditkit; print(auditkit.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    audited = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "audit", str(SAMPLE), "--out", "out", "-q"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (audited.returncode, audited.stderr) == (0, "")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "compliance.csv",
        "compliance_by_clinician.csv",
        "compliance_by_month.csv",
        "findings.csv",
        "pending.csv",
        "rejected.csv",
        "report.html",
        "report.xlsx",
        "stale_reviews.csv",
    ]
    assert "Phone-contact audit" in (tmp_path / "out" / "report.html").read_text()
    imported = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "import", "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "simplepractice" in imported.stdout  # the presets, read from the wheel
