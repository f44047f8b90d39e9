"""Every notebook in notebooks/ runs top to bottom headless on data/sample, and none is committed
with outputs.

Each runs in a fresh kernel of this interpreter (ipykernel's own "python3" spec starts
sys.executable), from notebooks/ as Jupyter would, with scratch paths for anything it writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from paths import ROOT, SAMPLE

from auditkit.notebook import NOTE_STYLE, Notes

NOTEBOOKS = ROOT / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _executed(path: Path) -> nbformat.NotebookNode:
    """The notebook, run top to bottom in a fresh kernel from notebooks/."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def test_there_are_notebooks():
    assert {"monthly_audit.ipynb", "qa_review.ipynb"} <= {path.name for path in ALL}


@pytest.mark.parametrize("path", ALL, ids=[path.stem for path in ALL])
def test_notebook_runs_headless_on_the_sample(path, tmp_path, monkeypatch):
    monkeypatch.delenv("AUDITKIT_BUNDLE", raising=False)  # the sample, as committed
    monkeypatch.delenv("AUDITKIT_EXTRACT", raising=False)
    monkeypatch.setenv("AUDITKIT_REVIEWS", str(tmp_path / "reviews.csv"))
    monkeypatch.setenv("AUDITKIT_EXPORT", str(tmp_path / "export"))
    code = [cell for cell in _executed(path).cells if cell.cell_type == "code"]
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    if path.name in ("monthly_audit.ipynb", "qa_review.ipynb"):
        # the widget is the last cell's result
        assert WIDGET_VIEW in code[-1].outputs[-1]["data"]
        assert not (tmp_path / "reviews.csv").exists()  # nothing decided, nothing written


@pytest.mark.parametrize("path", ALL, ids=[path.stem for path in ALL])
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text("utf-8"))["cells"]
    dirty = [
        (i, cell.get("execution_count"), len(cell.get("outputs", [])))
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert dirty == [], "clear outputs before committing: (cell, execution count, outputs)"


def test_research_notebook_runs_on_a_deidentified_extract(tmp_path, monkeypatch):
    from auditkit import load
    from auditkit.deidentify import deidentify

    extract = deidentify(load(SAMPLE), tmp_path / "extract")
    monkeypatch.setenv("AUDITKIT_EXTRACT", str(extract.folder))
    outputs = _outputs(_executed(NOTEBOOKS / "no_show_research.ipynb"))
    assert [o for o in outputs if o.output_type == "error"] == []
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert printed.startswith(f"{extract.folder}: ")  # it read the extract, not the sample
    assert printed.endswith("(a date-shifted extract: calendar months are shifted)\n")
    # the notes are wrapped paragraphs, not printed lines that run off the page
    pages = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    assert any(
        page.startswith(f'<p style="{NOTE_STYLE}">Closure warnings: PROXY.') for page in pages
    )
    assert any(page.startswith(f'<p style="{NOTE_STYLE}">no_show ~ weekday') for page in pages)


def test_research_notebook_says_so_on_an_extract_without_appointments(
    tmp_path, monkeypatch, sample_without_rows
):
    """A clinic's first days: every analysis says there is nothing to show, none a traceback."""
    from auditkit import load
    from auditkit.deidentify import deidentify

    bundle = sample_without_rows("appointments", "contacts", "notes", "approvals")
    extract = deidentify(load(bundle), tmp_path / "extract")
    monkeypatch.setenv("AUDITKIT_EXTRACT", str(extract.folder))
    notebook = _executed(NOTEBOOKS / "no_show_research.ipynb")
    outputs = _outputs(notebook)
    assert [o for o in outputs if o.output_type == "error"] == []
    notes = [
        line
        for o in outputs
        for line in o.get("data", {}).get("text/html", "").split("</p>")
        if line.startswith(f'<p style="{NOTE_STYLE}">')
    ]
    assert [line.removeprefix(f'<p style="{NOTE_STYLE}">') for line in notes[1:]] == [
        "There are no scheduled appointments, so there is nothing to estimate.",
        "There are no scheduled appointments, so there is nothing to estimate.",
        "Too little data for the model: no appointment is usable. It needs both no-shows and "
        "kept appointments: use more months (a wider date range, or an extract "
        "that covers more of them).",
    ]
    shown = next(o for o in outputs if WIDGET_VIEW in o.get("data", {}))["data"][WIDGET_VIEW]
    widgets = notebook.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    assert widgets[shown["model_id"]]["state"]["value"] == (
        f'<p style="{NOTE_STYLE}">There are no scheduled appointments to explore.</p>'
    )


def test_notes_are_escaped_paragraphs_that_wrap():
    notes = Notes("clinician <b>: pooled", "two\nlines")
    assert NOTE_STYLE == "white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 0.5em"
    assert notes._repr_html_() == (
        f'<p style="{NOTE_STYLE}">clinician &lt;b&gt;: pooled</p>'
        f'<p style="{NOTE_STYLE}">two\nlines</p>'
    )
    assert repr(notes) == "clinician <b>: pooled\n\ntwo\nlines"


def test_an_auditkit_error_shows_in_a_notebook_as_its_message(tmp_path):
    missing = tmp_path / "no-such-bundle"
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f"from auditkit import load\nload({str(missing)!r})")]
    )
    NotebookClient(notebook, kernel_name="python3", timeout=120, allow_errors=True).execute()
    [error] = notebook.cells[0].outputs
    assert (error.output_type, error.ename) == ("error", "BundleError")
    # the message, not the frames of auditkit's code that led to it
    assert error.traceback == [
        f"BundleError: {missing} does not exist. An audit bundle is a folder of table files."
    ]
