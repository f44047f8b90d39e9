"""Minimum necessary: no client name or phone number in findings, report or dashboards by
default, and no network connection at import or at run."""

import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
from rule_fixtures import build_bundle

from auditkit import audit
from auditkit.cli import main
from auditkit.dashboard import MonthlyDashboard
from auditkit.report import vega_javascript
from auditkit.review_queue import ReviewQueue

ROOT = Path(__file__).resolve().parent.parent
# C1 is Alex Sample, phone 555-0101 (tests/rule_fixtures.py).
IDENTIFIERS = ["Alex", "Sample", "555-0101", "805-555-0199", "Jamie"]
CONTACTS = [
    {  # TP001: a message left with whoever answered, naming the client and a number
        "started_at": "2026-03-02T13:25:00-08:00",
        "party": "third_party",
        "outcome": "answered",
        "purpose": "scheduling",
        "message": "Could you ask Alex to call me back at 805-555-0199? Jamie said to call.",
    },
    {  # IQ001: an inquiry answered by confirming, with the client's full name and phone
        "started_at": "2026-03-04T10:00:00-08:00",
        "direction": "inbound",
        "party": "third_party",
        "outcome": "received",
        "purpose": "inquiry",
        "message": "Yes, Alex Sample is a client here; her number is 555-0101.",
    },
]
POLICY = {
    "clinic": {"name": "Riverside Psychology Clinic", "aliases": ["RPC"]},
    "privacy": {"names": ["Jamie"]},
}


def bundle(tmp_path):
    return build_bundle(tmp_path, contacts=CONTACTS, policy=POLICY)


def leaked(text: str) -> list[str]:
    return [word for word in IDENTIFIERS if word in text]


def test_findings_mask_client_names_listed_names_and_phones(tmp_path):
    findings = audit(bundle(tmp_path)).findings.set_index("rule")
    assert (
        findings.loc["TP001", "evidence"] == "left a message: \u201ccall me back at [phone]\u201d"
    )
    assert findings.loc["IQ001", "evidence"] == (
        "confirmed or denied: \u201c[client] is a client here\u201d"
    )
    assert leaked(findings.to_csv()) == []


def test_show_names_keeps_them_for_internal_qa(tmp_path):
    findings = audit(bundle(tmp_path), show_names=True).findings.set_index("rule")
    assert findings.loc["TP001", "evidence"] == (
        "left a message: \u201ccall me back at 805-555-0199\u201d"
    )
    assert findings.loc["IQ001", "evidence"] == (
        "confirmed or denied: \u201cSample is a client here\u201d"
    )


def test_written_outputs_hold_no_name_or_phone_unless_asked(tmp_path, capsys):
    loaded = bundle(tmp_path)
    out = tmp_path / "out"
    assert main(["audit", str(loaded.path), "--out", str(out), "--quiet"]) == 0
    for name in ("findings.csv", "compliance.csv", "rejected.csv"):
        assert leaked((out / name).read_text(encoding="utf-8")) == [], name
    # the inlined Vega library happens to hold the word "Sample"; the page around it must not
    page = (out / "report.html").read_text(encoding="utf-8").replace(vega_javascript(), "")
    assert leaked(page) == []
    cells = [
        str(cell.value)
        for sheet in openpyxl.load_workbook(out / "report.xlsx").worksheets
        for row in sheet.iter_rows()
        for cell in row
    ]
    assert leaked(" ".join(cells)) == []
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Clients appear by id only" in html

    shown = tmp_path / "shown"
    assert main(["audit", str(loaded.path), "--out", str(shown), "--quiet", "--show-names"]) == 0
    html = (shown / "report.html").read_text(encoding="utf-8")
    assert "Names shown (--show-names)" in html
    assert "805-555-0199" in html


def test_dashboard_and_review_queue_show_no_name_or_phone(tmp_path):
    result = audit(bundle(tmp_path))
    dashboard = MonthlyDashboard(result, export_to=tmp_path / "export")
    assert leaked(dashboard.findings.to_csv()) == []
    queue = ReviewQueue(result, tmp_path / "reviews.csv")
    cards = []
    for position in range(len(queue.findings)):
        queue.go(position)
        cards.append(queue.record.value)
    assert len(cards) == 2
    assert leaked(" ".join(cards)) == []
    assert "[client]" in cards[0] + cards[1]


def test_no_network_connection_at_import_or_while_auditing(tmp_path):
    script = textwrap.dedent(
        f"""
        import socket

        def refuse(*args, **kwargs):
            raise RuntimeError("auditkit tried to use the network")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from pathlib import Path
        from auditkit import audit, load
        from auditkit.deidentify import deidentify
        from auditkit.report import write_report

        bundle = load({str(ROOT / "data" / "sample")!r})
        result = audit(bundle)
        write_report(result, Path({str(tmp_path / "out")!r}))
        deidentify(bundle, Path({str(tmp_path / "extract")!r}))
        print("offline", len(result.findings))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("offline ")
    assert (tmp_path / "out" / "report.html").is_file()
