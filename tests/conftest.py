"""Shared pytest fixtures. Each section belongs to one group of tests; add new ones below."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from paths import SAMPLE

from auditkit import Bundle, load


@pytest.fixture(scope="session", autouse=True)
def _vega_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Keep the report's Vega bundle cache (report.vega_javascript) out of the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITKIT_CACHE_DIR", str(tmp_path_factory.mktemp("auditkit-cache")))
        yield


# ---------------------------------------------------------------------------------------------
# Loading fixtures (test_loading.py, test_policy.py, test_cli_errors.py)
#
# tests/fixtures/bundles/base is a minimal valid bundle: 3 staff, 2 clients, 3 appointments,
# 2 contacts, 2 notes, 1 approval. Every other folder in tests/fixtures/bundles holds only the
# files a case changes: a case is base with that folder laid over it.
# ---------------------------------------------------------------------------------------------

LOADING_BUNDLES = Path(__file__).parent / "fixtures" / "bundles"


def _lay_out_case(bundle: Path, case: str | None) -> Path:
    shutil.copytree(LOADING_BUNDLES / "base", bundle, dirs_exist_ok=True)
    if case is not None:
        shutil.copytree(LOADING_BUNDLES / case, bundle, dirs_exist_ok=True)
    return bundle


@pytest.fixture
def make_bundle(tmp_path: Path) -> Callable[..., Path]:
    """Build a case in tmp_path, then drop files and write inline ones; returns its folder.

    ``make_bundle("flags")`` is base with tests/fixtures/bundles/flags laid over it;
    ``drop=["approvals.csv"]`` removes files; ``files={"notes.csv": b"..."}`` writes bytes.
    """
    counter = iter(range(1_000))

    def build(
        case: str | None = None,
        *,
        drop: tuple[str, ...] | list[str] = (),
        files: dict[str, bytes] | None = None,
    ) -> Path:
        bundle = _lay_out_case(tmp_path / f"{case or 'base'}-{next(counter)}", case)
        for name in drop:
            (bundle / name).unlink()
        for name, data in (files or {}).items():
            (bundle / name).write_bytes(data)
        return bundle

    return build


@pytest.fixture(scope="session")
def load_case(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], Bundle]:
    """``load_case("bad_rows")``: that case loaded once per session. Read it, don't change it."""
    loaded: dict[str | None, Bundle] = {}

    def get(case: str | None = None) -> Bundle:
        if case not in loaded:
            loaded[case] = load(_lay_out_case(tmp_path_factory.mktemp(case or "base"), case))
        return loaded[case]

    return get


# --------------------------------------------------------------------- end of loading fixtures


# ---------------------------------------------------------------------------------------------
# The sample with tables exported as their header alone (a clinic's first days):
# test_deidentify.py, test_distributed.py, test_notebooks.py
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def sample_without_rows(tmp_path: Path) -> Callable[..., Path]:
    """``sample_without_rows("notes", "approvals")``: a copy of data/sample in tmp_path/bundle
    with those tables cut to their header; returns its folder."""

    def build(*tables: str) -> Path:
        bundle = tmp_path / "bundle"
        shutil.copytree(SAMPLE, bundle)
        for table in tables:
            path = bundle / f"{table}.csv"
            path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", "utf-8")
        return bundle

    return build
