"""NT001–NT002: every missed session gets a complete note."""

from rule_fixtures import COMPLETE_NOTE, POLICY, build_bundle, findings, opportunities

from auditkit.policy import Policy
from auditkit.rules import RULES, settings_in_force

NO_SHOW = {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"}
OUTREACH = {
    "started_at": "2026-03-02T13:25:00-08:00",
    "appointment_id": "A1",
    "message": "This is Robin. You'll be charged for the missed session.",
}


def note(at: str, text: str = COMPLETE_NOTE, **fields) -> dict:
    return {"written_at": at, "text": text, "appointment_id": "A1", **fields}


# --- NT001 missed-session-undocumented ----------------------------------------------------------


def test_nt001_fires_when_the_only_note_is_past_the_deadline(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[OUTREACH],
        notes=[note("2026-03-05T09:00:00-08:00")],
    )
    assert findings(bundle, "NT001") == {
        "A1": "no note linked to this appointment or describing the missed session between "
        "Mon 2 Mar 2026 13:00 and Wed 4 Mar 2026 13:00"
    }


def test_nt001_compliant_with_a_linked_note_in_time(tmp_path):
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], notes=[note("2026-03-02T17:00:00-08:00")]
    )
    assert findings(bundle, "NT001") == {}
    assert opportunities(bundle, "NT001") == ["A1"]


def test_nt001_accepts_an_unlinked_note_that_describes_the_missed_session(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        notes=[
            note(
                "2026-03-03T10:00:00-08:00", "Pt FTA for appt. T called pt, LVM.", appointment_id=""
            )
        ],
    )
    assert findings(bundle, "NT001") == {}


def test_nt001_an_unlinked_note_about_something_else_does_not_document_it(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        notes=[
            note(
                "2026-03-03T10:00:00-08:00",
                "Reviewed treatment plan with supervisor.",
                appointment_id="",
            ),
            note("2026-03-03T10:00:00-08:00", "Pt FTA. LVM.", appointment_id="", client_id="C2"),
        ],
    )
    assert list(findings(bundle, "NT001")) == ["A1"]


# --- NT002 missed-session-note-incomplete -------------------------------------------------------


def test_nt002_examines_only_notes_within_the_note_deadline(tmp_path):
    """The note deadline picks the notes NT002 reads, so `auditkit rules NT002` and the report's
    settings table name note_within_hours beside the call deadline."""
    late = [note("2026-03-03T19:00:00-08:00", "Pt FTA. LVM.")]  # 30 hours after the start
    bundle = build_bundle(tmp_path / "48", appointments=[NO_SHOW], notes=late)
    assert opportunities(bundle, "NT002") == ["N1"]
    assert findings(bundle, "NT002") == {
        "N1": "the note lacks the missed-session fee; the next appointment with its date"
    }
    policy = {**POLICY, "missed_session": {"note_within_hours": 24}}
    bundle = build_bundle(tmp_path / "24", appointments=[NO_SHOW], notes=late, policy=policy)
    assert opportunities(bundle, "NT002") == []
    assert RULES["NT002"].settings == (
        "missed_session.note_within_hours",
        "missed_session.call_within_hours",
    )
    table = settings_in_force(Policy())
    assert table.loc[table["setting"] == "missed_session.note_within_hours", "rules"].tolist() == [
        "NT001, NT002"
    ]


def test_nt002_compliant_with_the_policys_own_example_note(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[OUTREACH],
        notes=[note("2026-03-02T17:00:00-08:00")],
    )
    assert findings(bundle, "NT002") == {}
    assert opportunities(bundle, "NT002") == ["N1"]


def test_nt002_compliant_in_clinical_shorthand(tmp_path):
    shorthand = "Pt FTA for indiv appt. T called pt, LVM re: late fee. Next appt 3/9/2026."
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], notes=[note("2026-03-02T17:00:00-08:00", shorthand)]
    )
    assert findings(bundle, "NT002") == {}


def test_nt002_names_each_missing_element(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        notes=[note("2026-03-02T17:00:00-08:00", "Pt FTA. LVM.")],
    )
    assert findings(bundle, "NT002") == {
        "N1": "the note lacks the missed-session fee; the next appointment with its date"
    }


def test_nt002_a_next_appointment_without_a_date_is_missing(tmp_path):
    text = (
        "Client did not show. Therapist left a voicemail about the late fee. "
        "Will schedule next appointment."
    )
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], notes=[note("2026-03-02T17:00:00-08:00", text)]
    )
    assert findings(bundle, "NT002") == {"N1": "the note lacks the next appointment with its date"}


def test_nt002_needs_the_confirm_by_date_after_a_closure_warning(tmp_path):
    warning = {
        **OUTREACH,
        "message": "You'll be charged for the missed session. Please call to confirm your next "
        "appointment by Friday at 5PM. If I don't hear from you by that time then I'll assume "
        "you are no longer interested in treatment and I'll close your file.",
    }
    with_date = (
        COMPLETE_NOTE + " Client was asked to call therapist by 3/6/2026 at 5 PM to confirm."
    )
    bundle = build_bundle(
        tmp_path,
        appointments=[
            NO_SHOW,
            {
                "appointment_id": "A2",
                "client_id": "C2",
                "scheduled_start": "2026-03-02T15:00:00-08:00",
            },
        ],
        contacts=[
            warning,
            {
                **warning,
                "client_id": "C2",
                "appointment_id": "A2",
                "started_at": "2026-03-02T15:30:00-08:00",
            },
        ],
        notes=[
            note("2026-03-02T17:00:00-08:00"),
            note("2026-03-02T17:05:00-08:00", with_date, appointment_id="A2", client_id="C2"),
        ],
    )
    assert findings(bundle, "NT002") == {
        "N1": "the note lacks the date by which the client must confirm"
    }
