"""Build small bundles for rule tests: a few rows each, everything else defaulted.

Rows go through real CSV files and `auditkit.load`, so rule fixtures exercise the same path a
clinic's export does.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auditkit import load
from auditkit.auditing import audit
from auditkit.policy import Policy, policy_from_dict
from auditkit.rules import RULES
from auditkit.rules.context import AuditContext
from auditkit.schemas import CALLS, TABLES

STAFF = [
    {"staff_id": "T1", "first_name": "Robin", "last_name": "Example", "role": "therapist"},
    {"staff_id": "T2", "first_name": "Casey", "last_name": "Example", "role": "therapist"},
    {"staff_id": "SUP", "first_name": "Jordan", "last_name": "Example", "role": "supervisor"},
    {"staff_id": "DIR", "first_name": "Morgan", "last_name": "Example", "role": "program_director"},
    {"staff_id": "ADM", "first_name": "Avery", "last_name": "Example", "role": "admin"},
]
CLIENTS = [
    # C1 never agreed to hearing the clinic's name; C2 agreed at intake.
    {
        "client_id": "C1",
        "first_name": "Alex",
        "last_name": "Sample",
        "phone": "555-0101",
        "intake_date": "2026-01-05",
        "may_name_clinic": "no",
        "therapist_id": "T1",
    },
    {
        "client_id": "C2",
        "first_name": "Blair",
        "last_name": "Sample",
        "phone": "555-0102",
        "intake_date": "2026-01-05",
        "may_name_clinic": "yes",
        "therapist_id": "T1",
    },
]
DEFAULTS = {
    "appointments": {
        "client_id": "C1",
        "staff_id": "T1",
        "duration_minutes": "50",
        "service": "individual",
        "status": "no_show",
    },
    "contacts": {
        "client_id": "C1",
        "staff_id": "T1",
        "direction": "outbound",
        "channel": "phone",
        "party": "client",
        "outcome": "voicemail",
        "purpose": "missed_session",
        "message": "",
    },
    "notes": {"client_id": "C1", "staff_id": "T1"},
    "approvals": {"staff_id": "T1", "approved_by": "SUP"},
    "calls": {"direction": "outbound", "result": "connected", "source": "RingCentral"},
}
ID_PREFIX = {
    "appointments": ("appointment_id", "A"),
    "contacts": ("contact_id", "K"),
    "notes": ("note_id", "N"),
    "approvals": ("approval_id", "P"),
    "calls": ("call_id", "R"),
}
POLICY = {
    "clinic": {
        "name": "Riverside Psychology Clinic",
        "aliases": ["Riverside Clinic", "RPC"],
        "timezone": "America/Los_Angeles",
    }
}

# The policy's own scripts, as compliant examples.
DEFAULT_VOICEMAIL = (
    "This is Robin calling. We had an appointment at 11:00AM. Since I didn't hear from you in "
    "24-hours, I wanted to remind you that you'll be charged for the missed session. I just "
    "didn't want you to be surprised the next time you come since you'll being paying for two "
    "sessions. Let me know if you have any concerns."
)
COMPLETE_NOTE = (
    "Client did not show for individual appointment. Therapist called client and left a message "
    "for client to call and confirm the next appointment. Therapist also informed client in "
    "message of late fee charged. Next appoint is on 3/9/2026."
)


def _rows(table: str, rows: list[dict]) -> pd.DataFrame:
    id_column, prefix = ID_PREFIX[table]
    filled = [
        {id_column: f"{prefix}{i + 1}", **DEFAULTS[table], **row} for i, row in enumerate(rows)
    ]
    return pd.DataFrame(filled)


def build_bundle(
    tmp_path: Path,
    *,
    appointments: list[dict] = (),
    contacts: list[dict] = (),
    notes: list[dict] = (),
    approvals: list[dict] = (),
    calls: list[dict] | None = None,
    clients: list[dict] | None = None,
    policy: dict | None = None,
    staff: list[dict] | None = None,
):
    """A loaded bundle holding the given rows; ids A1.., K1.., N1.., P1.., R1.. unless given.

    `calls` are the phone system's log (calls.csv); None writes no log at all. `staff` and
    `clients` replace STAFF and CLIENTS.
    """
    folder = tmp_path / "bundle"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(staff or STAFF).to_csv(folder / "staff.csv", index=False)
    pd.DataFrame(clients or CLIENTS).to_csv(folder / "clients.csv", index=False)
    for table, rows in [
        ("appointments", appointments),
        ("contacts", contacts),
        ("notes", notes),
        ("approvals", approvals),
    ]:
        frame = (
            _rows(table, list(rows))
            if rows
            else pd.DataFrame(columns=TABLES[table].required_columns)
        )
        frame.to_csv(folder / f"{table}.csv", index=False)
    if calls is not None:
        log = _rows("calls", calls) if calls else pd.DataFrame(columns=CALLS.required_columns)
        log.to_csv(folder / "calls.csv", index=False)
    chosen: Policy = policy_from_dict(policy if policy is not None else POLICY)
    bundle = load(folder, chosen)
    assert bundle.rejected.empty, bundle.rejected.to_dict("records")
    return bundle


def findings(bundle, code: str) -> dict[str, str]:
    """subject_id -> evidence of one rule's findings."""
    checked = RULES[code].check(AuditContext(bundle))
    return dict(zip(checked.findings["subject_id"], checked.findings["evidence"], strict=True))


def opportunities(bundle, code: str) -> list[str]:
    result = audit(bundle)
    rows = result.opportunities[result.opportunities["rule"] == code]
    return sorted(rows["subject_id"])
