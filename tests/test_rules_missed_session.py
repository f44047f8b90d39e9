"""MS001–MS003: the outreach call after a missed session."""

import pandas as pd
import pytest
from review_fixtures import HEADER
from rule_fixtures import build_bundle, findings, opportunities

from auditkit import audit
from auditkit.rules import RULES
from auditkit.rules.context import AuditContext

NO_SHOW = {"appointment_id": "A1", "scheduled_start": "2026-03-02T13:00:00-08:00"}


def call(at: str, **fields) -> dict:
    return {"started_at": at, "appointment_id": "A1", "outcome": "voicemail", **fields}


# --- MS001 no-outreach-call --------------------------------------------------------------------


def test_ms001_fires_when_the_only_call_was_a_reminder_before_the_start(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[call("2026-03-02T09:00:00-08:00", purpose="scheduling", outcome="answered")],
    )
    assert findings(bundle, "MS001") == {
        "A1": "no outbound call to the client between the start, Mon 2 Mar 2026 13:00, "
        "and Tue 3 Mar 2026 13:00"
    }
    # The contact log's word, not the phone system's: an unlogged call placed is LG001's.
    assert audit(bundle).findings.set_index("rule").loc["MS001", "summary"] == (
        "The client missed this session and the contact log has no call to them within 24 hours."
    )


def test_ms001_compliant_when_called_within_the_deadline(tmp_path):
    bundle = build_bundle(
        tmp_path, appointments=[NO_SHOW], contacts=[call("2026-03-02T13:25:00-08:00")]
    )
    assert findings(bundle, "MS001") == {}
    assert opportunities(bundle, "MS001") == ["A1"]


def test_ms001_deadline_counts_real_hours_across_the_november_dst_change(tmp_path):
    # 13:00 PDT on 31 Oct is 20:00 UTC; the clocks go back overnight, so 12:45 PST on 1 Nov is
    # 24 h 45 min later although the wall clock moved only 23 h 45 min.
    late = {"appointment_id": "A1", "scheduled_start": "2026-10-31T13:00:00"}
    in_time = {"appointment_id": "A2", "client_id": "C2", "scheduled_start": "2026-10-31T13:00:00"}
    bundle = build_bundle(
        tmp_path,
        appointments=[late, in_time],
        contacts=[
            call("2026-11-01 12:45", appointment_id="A1"),
            call("2026-11-01T19:30:00Z", appointment_id="A2", client_id="C2"),  # 11:30 PST
        ],
    )
    assert list(findings(bundle, "MS001")) == ["A1"]


def test_ms001_ignores_attended_sessions_and_calls_to_other_clients(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, {"scheduled_start": "2026-03-03T10:00:00-08:00", "status": "Kept"}],
        contacts=[call("2026-03-02T13:30:00-08:00", client_id="C2", appointment_id="")],
    )
    assert list(findings(bundle, "MS001")) == ["A1"]
    assert opportunities(bundle, "MS001") == ["A1"]


def test_ms001_fires_when_the_only_calls_were_about_something_else(tmp_path):
    """A reminder of the next session (linked to it) or a coaching call is not the outreach."""
    next_session = {"scheduled_start": "2026-03-04T13:00:00-08:00", "status": "attended"}
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, next_session],
        contacts=[
            call("2026-03-03T09:00:00-08:00", appointment_id="A2", purpose="scheduling"),
            call("2026-03-02T18:00:00-08:00", appointment_id="", purpose="coaching"),
        ],
    )
    assert list(findings(bundle, "MS001")) == ["A1"]
    # Linked to the missed session, or to nothing, a scheduling call is its outreach.
    for linked in ("A1", ""):
        folder = tmp_path / f"linked-{linked or 'none'}"
        bundle = build_bundle(
            folder,
            appointments=[NO_SHOW, next_session],
            contacts=[
                call("2026-03-03T09:00:00-08:00", appointment_id=linked, purpose="scheduling")
            ],
        )
        assert findings(bundle, "MS001") == {}


def test_ms001_a_reschedule_logged_against_the_new_session_is_the_outreach(tmp_path):
    """Clinicians log a reschedule against the new appointment: its purpose or its words say
    it is the missed session's call. A call linked to the missed session counts, whatever its
    purpose (the client answered in distress: coaching)."""
    rescheduled = {"scheduled_start": "2026-03-05T13:00:00-08:00", "status": "attended"}
    at = "2026-03-02T13:30:00-08:00"
    calls = {
        "purpose": call(at, appointment_id="A2", message="Rescheduled to Thursday."),
        "words": call(
            at,
            appointment_id="A2",
            purpose="scheduling",
            message="Called after the missed 1pm session; rescheduled to Thursday.",
        ),
        "linked here": call(at, purpose="coaching", outcome="answered"),
    }
    for name, made in calls.items():
        bundle = build_bundle(tmp_path / name, appointments=[NO_SHOW, rescheduled], contacts=[made])
        assert findings(bundle, "MS001") == {}, name
        assert opportunities(bundle, "MS002") == ["K1"], name


# --- MS002 called-too-soon ---------------------------------------------------------------------


def test_ms002_fires_for_a_call_inside_the_wait_given_in_utc(tmp_path):
    bundle = build_bundle(tmp_path, appointments=[NO_SHOW], contacts=[call("2026-03-02T21:08:00Z")])
    assert findings(bundle, "MS002") == {
        "K1": "called 13:08, 8 min after the 13:00 start of the missed session on Mon 2 Mar 2026"
    }


def test_ms002_writes_times_in_the_repeated_autumn_hour_with_their_zone(tmp_path):
    """01:30 happens twice on 1 Nov 2026: the evidence says which, and still names the day."""
    bundle = build_bundle(
        tmp_path,
        appointments=[{**NO_SHOW, "scheduled_start": "2026-11-01T01:30:00-08:00"}],
        contacts=[call("2026-11-01T01:38:00-08:00")],
    )
    assert findings(bundle, "MS002") == {
        "K1": "called 01:38 PST, 8 min after the 01:30 PST start of the missed session on "
        "Sun 1 Nov 2026"
    }


def test_ms002_compliant_at_exactly_the_wait_and_for_reminders_before_the_start(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[
            call("2026-03-02T12:50:00-08:00", purpose="scheduling"),
            call("2026-03-02T13:20:00-08:00"),
        ],
    )
    assert findings(bundle, "MS002") == {}
    assert opportunities(bundle, "MS002") == ["K2"]


@pytest.mark.parametrize("order", [1, -1])
def test_ms002_judges_a_call_from_the_latest_no_show_it_may_answer(tmp_path, order):
    """Yesterday's 14:00 and today's 13:00 sessions both missed: a 13:05 call is five minutes
    into today's wait, whichever order the export lists the sessions in."""
    yesterday = {"appointment_id": "A1", "scheduled_start": "2026-03-02T14:00:00-08:00"}
    today = {"appointment_id": "A2", "scheduled_start": "2026-03-03T13:00:00-08:00"}
    bundle = build_bundle(
        tmp_path,
        appointments=[yesterday, today][::order],
        contacts=[call("2026-03-03T13:05:00-08:00", appointment_id="")],
    )
    assert findings(bundle, "MS002") == {
        "K1": "called 13:05, 5 min after the 13:00 start of the missed session on Tue 3 Mar 2026"
    }
    # The call still answers yesterday's no-show for MS001: it came within the day.
    assert findings(bundle, "MS001") == {}


def test_ms002_ignores_a_call_about_another_appointment(tmp_path):
    group = {"scheduled_start": "2026-03-04T13:00:00-08:00", "status": "attended"}
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, group],
        contacts=[call("2026-03-02T13:05:00-08:00", appointment_id="A2", purpose="scheduling")],
    )
    assert findings(bundle, "MS002") == {}
    assert opportunities(bundle, "MS002") == []


def test_ms002_respects_the_policy_wait(tmp_path):
    policy = {"missed_session": {"wait_minutes": 30}}
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[call("2026-03-02T13:25:00-08:00")],
        policy=policy,
    )
    assert list(findings(bundle, "MS002")) == ["K1"]


# --- MS003 no-voicemail-left -------------------------------------------------------------------


def test_ms003_fires_when_every_outreach_call_rang_out(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, {"client_id": "C2", "scheduled_start": "2026-03-02T15:00:00-08:00"}],
        contacts=[
            call("2026-03-02T13:25:00-08:00", outcome="no_answer"),
            call("2026-03-02T16:10:00-08:00", outcome="No Answer"),
            call(
                "2026-03-02T15:30:00-08:00", client_id="C2", appointment_id="A2", outcome="noanswer"
            ),
        ],
    )
    assert findings(bundle, "MS003") == {
        "A1": "2 calls between Mon 2 Mar 2026 13:25 and Mon 2 Mar 2026 16:10, every one ended "
        "no_answer: no voicemail was left",
        "A2": "1 call, at Mon 2 Mar 2026 15:30, ended no_answer: no voicemail was left",
    }


def test_ms003_fires_when_only_a_third_party_answered(tmp_path):
    """Told nothing (TP001), they pass nothing on: the client heard no more than from a call
    that rang out. The client answering is reaching them."""
    second = {"client_id": "C2", "scheduled_start": "2026-03-02T15:00:00-08:00"}
    third = {"scheduled_start": "2026-03-09T13:00:00-07:00"}
    other = {"party": "third_party", "outcome": "answered"}
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, second, third],
        contacts=[
            call("2026-03-02T13:25:00-08:00", **other),
            call("2026-03-02T15:30:00-08:00", client_id="C2", appointment_id="A2", **other),
            call(
                "2026-03-02T16:10:00-08:00",
                client_id="C2",
                appointment_id="A2",
                outcome="no_answer",
            ),
            call("2026-03-09T13:25:00-07:00", appointment_id="A3", **other),
            call("2026-03-09T16:25:00-07:00", appointment_id="A3", outcome="answered"),
        ],
    )
    assert findings(bundle, "MS003") == {
        "A1": "1 call, at Mon 2 Mar 2026 13:25, reached a third party: no voicemail was left",
        "A2": "2 calls between Mon 2 Mar 2026 15:30 and Mon 2 Mar 2026 16:10, 1 ended no_answer "
        "and 1 reached a third party: no voicemail was left",
    }
    checked = RULES["MS003"].check(AuditContext(bundle)).findings
    assert (
        checked["summary"].tolist()
        == [
            "No outreach call for this missed session reached the client or their voicemail: each "
            "rang out or reached a third party."
        ]
        * 2
    )


def test_ms003_compliant_when_a_later_call_left_a_voicemail(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW],
        contacts=[
            call("2026-03-02T13:25:00-08:00", outcome="no_answer"),
            call("2026-03-02T16:10:00-08:00", outcome="voicemail"),
        ],
    )
    assert findings(bundle, "MS003") == {}


def test_ms003_full_mailbox_or_wrong_number_excuses_it(tmp_path):
    bundle = build_bundle(
        tmp_path,
        appointments=[NO_SHOW, {"client_id": "C2", "scheduled_start": "2026-03-02T15:00:00-08:00"}],
        contacts=[
            call("2026-03-02T13:25:00-08:00", outcome="no_answer"),
            call("2026-03-02T13:40:00-08:00", outcome="voicemail_full"),
            call(
                "2026-03-02T15:30:00-08:00",
                client_id="C2",
                appointment_id="A2",
                outcome="wrong_number",
            ),
        ],
    )
    assert findings(bundle, "MS003") == {}
    assert opportunities(bundle, "MS003") == ["A1", "A2"]


def test_ms003_has_no_opportunity_without_any_call(tmp_path):
    bundle = build_bundle(tmp_path, appointments=[NO_SHOW])
    assert opportunities(bundle, "MS003") == []


# --- deadlines not passed when the records were taken ------------------------------------------


def pending_of(result) -> list[tuple[str, str, str]]:
    """(rule, subject, due) of each subject left to a later audit."""
    due = result.pending["due"].map(lambda t: t.isoformat())
    return sorted(zip(result.pending["rule"], result.pending["subject_id"], due, strict=True))


def test_a_missed_session_whose_deadlines_run_on_is_left_to_a_later_audit(tmp_path):
    """Taken at 20:00 the day of a 13:00 no-show, the records cannot yet show the call due by
    13:00 the next day, nor the note due the day after: no finding, and the audit says when to
    look again. A no-show already called is judged (kept), deadline or not; a rang-out call
    may yet be followed by one that leaves the voicemail (MS003)."""
    appointments = [
        NO_SHOW,
        {**NO_SHOW, "appointment_id": "A2", "client_id": "C2"},
        {**NO_SHOW, "appointment_id": "A3", "scheduled_start": "2026-02-02T13:00:00-08:00"},
    ]
    contacts = [
        call("2026-03-02T13:30:00-08:00", appointment_id="A2", client_id="C2"),
        call("2026-03-02T13:25:00-08:00", appointment_id="A1", outcome="no_answer"),
    ]
    bundle = build_bundle(tmp_path, appointments=appointments, contacts=contacts)
    taken = pd.Timestamp("2026-03-02T20:00:00-08:00")

    result = audit(bundle, as_of=taken)

    deadlines = result.findings[result.findings["rule"].isin(["MS001", "MS003", "NT001"])]
    assert sorted(zip(deadlines["rule"], deadlines["subject_id"], strict=True)) == [
        ("MS001", "A3"),
        ("NT001", "A3"),
    ]
    assert pending_of(result) == [
        ("MS003", "A1", "2026-03-03T13:00:00-08:00"),
        ("NT001", "A1", "2026-03-04T13:00:00-08:00"),
        ("NT001", "A2", "2026-03-04T13:00:00-08:00"),
    ]
    examined = result.opportunities
    assert sorted(examined.loc[examined["rule"] == "MS001", "subject_id"]) == ["A1", "A2", "A3"]
    assert sorted(examined.loc[examined["rule"] == "NT001", "subject_id"]) == ["A3"]
    assert result.caveats[1:] == [  # (the first: notes.csv holds no records)
        "MS003 not judged yet for 1 appointment: nothing due was in the records yet, and the "
        "deadline had not passed when the audit ran (the last is Tue 3 Mar 2026 13:00). Audit "
        "again after it.",
        "NT001 not judged yet for 2 appointments: nothing due was in the records yet, and the "
        "deadline had not passed when the audit ran (the last is Wed 4 Mar 2026 13:00). Audit "
        "again after it.",
    ]
    # A month's audit keeps its own month's; a day later the calls' deadline has passed.
    assert pending_of(audit(bundle, as_of=taken, month="2026-02")) == []
    # A review of a subject not judged yet is not stale: it applies once the finding fires.
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        f"{HEADER}MS003,A1,confirmed,Jordan,2026-03-02 19:00,rang out and no voicemail yet\n"
    )
    assert audit(bundle, as_of=taken, reviews=reviews).stale_reviews.empty
    reviewed = audit(bundle, as_of=taken + pd.Timedelta(days=1), reviews=reviews).findings
    assert reviewed.set_index(["rule", "subject_id"]).loc[("MS003", "A1"), "review"] == "confirmed"
    later = audit(bundle, as_of=taken + pd.Timedelta(days=1))
    assert [r for r, _, _ in pending_of(later)] == ["NT001", "NT001"]
    assert ("MS003", "A1") in set(
        zip(later.findings["rule"], later.findings["subject_id"], strict=True)
    )
