"""A small bundle with three findings to review, shared by test_reviews.py and test_cli_audit.py.

March: A1 (T1, C1) is a no-show handled by the book; A2 (T1, C1) is a no-show nobody called or
documented, so MS001 and NT001 (both high) fire on A2. April: A3 (T2, C2) is a no-show whose
voicemail K2 gives no fee notice, so VM002 (low) fires on K2.
"""

from __future__ import annotations

from pathlib import Path

from rule_fixtures import COMPLETE_NOTE, DEFAULT_VOICEMAIL, build_bundle

from auditkit.validation import Bundle

APPOINTMENTS = [
    {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"},
    {"appointment_id": "A2", "scheduled_start": "2026-03-16T13:00:00-07:00"},
    {
        "appointment_id": "A3",
        "scheduled_start": "2026-04-06T10:00:00-07:00",
        "staff_id": "T2",
        "client_id": "C2",
    },
]
CONTACTS = [
    {
        "started_at": "2026-03-02T13:25:00-08:00",
        "appointment_id": "A1",
        "message": DEFAULT_VOICEMAIL,
    },
    {
        "started_at": "2026-04-06T10:30:00-07:00",
        "appointment_id": "A3",
        "staff_id": "T2",
        "client_id": "C2",
        "message": "Hi, this is Casey. Please call me back when you can.",
    },
]
NOTES = [
    {"appointment_id": "A1", "written_at": "2026-03-02T16:00:00-08:00", "text": COMPLETE_NOTE},
    {
        "appointment_id": "A3",
        "written_at": "2026-04-06T12:00:00-07:00",
        "text": COMPLETE_NOTE,
        "staff_id": "T2",
        "client_id": "C2",
    },
]

HEADER = "rule,subject_id,decision,reviewer,reviewed_at,comment\n"  # a file from before the next
SEEN_HEADER = HEADER.strip() + ",client_id,evidence\n"  # with what the reviewer saw, as the queue
# The findings' evidence, as the queue records it.
EVIDENCE = {
    "MS001": "no outbound call to the client between the start, Mon 16 Mar 2026 13:00, and Tue 17 "
    "Mar 2026 13:00",
    "NT001": "no note linked to this appointment or describing the missed session between Mon 16 "
    "Mar 2026 13:00 and Wed 18 Mar 2026 13:00",
    "VM002": "voicemail at 10:30 after the missed session of Mon 6 Apr 2026 10:00 says nothing "
    "about the missed-session charge",
}


def reviewed_bundle(tmp_path: Path, *reviews: str) -> Bundle:
    """The bundle, with `reviews` (CSV lines after the header) as its reviews.csv if given."""
    bundle = build_bundle(tmp_path, appointments=APPOINTMENTS, contacts=CONTACTS, notes=NOTES)
    if reviews:
        write_reviews(bundle.path / "reviews.csv", *reviews)
    return bundle


def write_reviews(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path
