"""The QA review queue: order, decisions saved at once and atomically, resuming, the record card.

Most tests use review_fixtures' bundle: MS001 and NT001 (high) fire on A2, VM002 (low) on K2.
The record card is checked on data/sample, whose messages carry real evidence to highlight.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest
from review_fixtures import (
    APPOINTMENTS,
    CONTACTS,
    EVIDENCE,
    NOTES,
    SEEN_HEADER,
    reviewed_bundle,
    write_reviews,
)
from rule_fixtures import build_bundle

import auditkit.review_queue
from auditkit import audit, load
from auditkit.errors import BundleError
from auditkit.report import html_text
from auditkit.review_queue import (
    DOUBLE_CLICK,
    ReviewQueue,
    context_html,
    evidence_spans,
    highlight,
    queue_order,
    record_context,
    save_review,
)
from auditkit.reviews import as_recorded, load_reviews
from auditkit.rules import RULES

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TZ = "America/Los_Angeles"


@pytest.fixture
def bundle(tmp_path):
    return reviewed_bundle(tmp_path / "bundle")


@pytest.fixture(autouse=True)
def reviewer_reads_each_card(monkeypatch):
    """The queue's clock, 10 s on at each reading: a reviewer reading the card between clicks.
    A test of clicks closer together sets its own."""
    ticks = iter(range(0, 10**6, 10))
    monkeypatch.setattr(auditkit.review_queue, "monotonic", lambda: next(ticks))


def order(queue: ReviewQueue) -> list[tuple[str, str, str]]:
    return list(queue.findings[["rule", "subject_id", "review"]].itertuples(index=False, name=None))


def saved(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def decide(queue: ReviewQueue, button: str, reviewer: str = "Jordan", comment: str = "") -> None:
    queue.reviewer.value = reviewer
    queue.comment.value = comment
    getattr(queue, f"{button}_button").click()


# --- order and progress ----------------------------------------------------------------------


def test_undecided_findings_come_first_most_severe_first(bundle, tmp_path):
    reviews = write_reviews(
        tmp_path / "reviews.csv", "MS001,A2,dismissed,Sam,2026-04-01 09:30,logged on paper"
    )
    queue = ReviewQueue(bundle, reviews)
    assert order(queue) == [
        ("NT001", "A2", "new"),
        ("VM002", "K2", "new"),
        ("MS001", "A2", "dismissed"),
    ]
    assert queue.position == 0
    assert queue.progress.value == "<strong>1 of 3 reviewed</strong> · finding 1 of 3"


def test_queue_order_sorts_a_frame_without_changing_its_columns(bundle):
    findings = audit(bundle).findings
    ordered = queue_order(findings.assign(review=["confirmed", "new", "new"]))
    assert list(ordered.columns) == list(findings.columns)
    assert list(zip(ordered["rule"], ordered["review"], strict=True)) == [
        ("NT001", "new"),
        ("VM002", "new"),
        ("MS001", "confirmed"),
    ]


# --- deciding --------------------------------------------------------------------------------


def test_confirming_saves_exactly_that_row_and_moves_on(bundle, tmp_path):
    reviews = tmp_path / "qa" / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    before = pd.Timestamp.now(tz=TZ).floor("s")
    decide(queue, "confirm", comment="nobody called; =not a formula")
    after = pd.Timestamp.now(tz=TZ)

    rows = saved(reviews)
    assert reviews.read_text("utf-8").splitlines()[0] == SEEN_HEADER.strip()
    assert len(rows) == 1
    assert before <= pd.Timestamp(rows[0].pop("reviewed_at")) <= after
    assert rows == [
        {
            "rule": "MS001",
            "subject_id": "A2",
            "decision": "confirmed",
            "reviewer": "Jordan",
            "comment": "nobody called; =not a formula",
            "client_id": "C1",
            "evidence": EVIDENCE["MS001"],
        }
    ]
    assert queue.position == 1
    assert queue.current["rule"] == "NT001"
    assert queue.progress.value == "<strong>1 of 3 reviewed</strong> · finding 2 of 3"
    assert queue.status.value == "Saved: confirmed."
    assert queue.comment.value == ""
    assert queue.reviewer.value == "Jordan"  # kept for the next decision


def test_a_new_queue_resumes_from_the_file_and_the_audit_applies_it(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    first = ReviewQueue(bundle, reviews)
    decide(first, "confirm")
    decide(first, "dismiss", comment="note was on paper")

    again = ReviewQueue(load(bundle.path), reviews)  # a new session: state only from the file
    assert again.current[["rule", "subject_id"]].tolist() == ["VM002", "K2"]
    assert again.progress.value == "<strong>2 of 3 reviewed</strong> · finding 1 of 3"

    result = audit(bundle, reviews=reviews)
    marks = result.findings[["rule", "subject_id", "review", "reviewer", "review_comment"]]
    assert marks.astype(object).where(marks.notna(), None).values.tolist() == [
        ["MS001", "A2", "confirmed", "Jordan", None],
        ["NT001", "A2", "dismissed", "Jordan", "note was on paper"],
        ["VM002", "K2", "new", None, None],
    ]
    assert result.rejected_reviews.empty
    assert result.stale_reviews.empty  # the client and evidence saved are the findings'


def test_after_the_last_decision_the_queue_stays_put(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    for button in ("confirm", "dismiss", "confirm"):
        decide(queue, button, comment="seen")
    assert queue.progress.value == "<strong>3 of 3 reviewed</strong> · finding 3 of 3"
    assert "Decided: <strong>confirmed</strong> by Jordan on " in queue.record.value
    assert [row["decision"] for row in saved(tmp_path / "reviews.csv")] == [
        "confirmed",
        "dismissed",
        "confirmed",
    ]


def test_a_second_decision_on_a_finding_is_appended_and_wins(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    decide(queue, "confirm")
    queue.previous_button.click()
    assert queue.current["rule"] == "MS001"
    decide(queue, "dismiss", comment="client called in")
    assert [(r["rule"], r["decision"]) for r in saved(reviews)] == [
        ("MS001", "confirmed"),
        ("MS001", "dismissed"),
    ]
    assert audit(bundle, reviews=reviews).findings.loc[0, "review"] == "dismissed"


def test_no_decision_without_a_reviewer_name(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    decide(queue, "dismiss", reviewer="  ")
    assert queue.status.value == (
        '<span style="color:#b42318">Enter the reviewer&#x27;s name before deciding.</span>'
    )
    assert not (tmp_path / "reviews.csv").exists()
    assert queue.position == 0
    assert queue.reviewed == 0
    assert not queue.dismiss_button.disabled  # for the next try


def test_a_dismissal_needs_a_comment_saying_why(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    decide(queue, "dismiss", comment="  ")
    assert queue.status.value == (
        '<span style="color:#b42318">Say why in the comment before dismissing: it is not a '
        "breach because…</span>"
    )
    assert not (tmp_path / "reviews.csv").exists()
    assert (queue.position, queue.reviewed) == (0, 0)
    assert not queue.dismiss_button.disabled
    decide(queue, "confirm")  # a confirmation needs none
    assert queue.reviewed == 1


def test_a_double_click_decides_only_the_finding_on_screen(bundle, tmp_path, monkeypatch):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    clock = [100.0]
    monkeypatch.setattr(auditkit.review_queue, "monotonic", lambda: clock[0])
    queue.reviewer.value = "Jordan"

    queue.confirm_button.click()
    queue.confirm_button.click()  # made on MS001's card, before the browser showed NT001's

    assert [(r["rule"], r["subject_id"], r["decision"]) for r in saved(reviews)] == [
        ("MS001", "A2", "confirmed")
    ]
    assert queue.shown == ("NT001", "A2")
    assert queue.current["review"] == "new"
    assert queue.reviewed == 1
    assert queue.status.value == "Saved: confirmed."
    queue.dismiss_button.click()  # the same, with the other button
    assert len(saved(reviews)) == 1

    clock[0] += DOUBLE_CLICK  # time enough to see NT001's card
    queue.comment.value = "documented on paper"
    queue.dismiss_button.click()
    assert [(r["rule"], r["decision"]) for r in saved(reviews)] == [
        ("MS001", "confirmed"),
        ("NT001", "dismissed"),
    ]
    assert queue.shown == ("VM002", "K2")


def test_the_buttons_are_disabled_while_a_decision_is_saved(bundle, tmp_path, monkeypatch):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    during = []

    def save(path, review):
        during.append((queue.confirm_button.disabled, queue.dismiss_button.disabled))
        save_review(path, review)

    monkeypatch.setattr(auditkit.review_queue, "save_review", save)
    decide(queue, "dismiss", comment="fee waived")
    assert during == [(True, True)]
    assert (queue.confirm_button.disabled, queue.dismiss_button.disabled) == (False, False)


def test_a_decision_for_a_finding_no_longer_shown_is_not_saved(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    queue.reviewer.value = "Jordan"
    queue.decide("confirmed", ("MS001", "A2"))
    with pytest.raises(ValueError) as refused:
        queue.decide("dismissed", ("MS001", "A2"))
    assert str(refused.value) == "MS001 on A2 is no longer the finding shown: not saved."
    assert [(r["rule"], r["decision"]) for r in saved(reviews)] == [("MS001", "confirmed")]
    assert queue.shown == ("NT001", "A2")


def test_a_decision_does_not_carry_to_another_bundles_record_of_the_same_id(bundle, tmp_path):
    """The tester's case: K2 is C2's voicemail here, and C1's in another clinic's bundle."""
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    queue.go(2)
    decide(queue, "dismiss", comment="fee waived")
    assert saved(reviews)[0]["client_id"] == "C2"
    assert audit(bundle, reviews=reviews).findings.loc[2, "review"] == "dismissed"

    def as_c1(rows: list[dict]) -> list[dict]:
        return [{**row, "client_id": "C1"} for row in rows]

    other = build_bundle(
        tmp_path / "other",
        appointments=as_c1(APPOINTMENTS),
        contacts=as_c1(CONTACTS),
        notes=as_c1(NOTES),
    )
    result = audit(other, reviews=reviews)
    assert result.findings[["rule", "subject_id", "client_id", "review"]].values.tolist()[2] == [
        "VM002",
        "K2",
        "C1",
        "new",
    ]
    assert result.stale_reviews["reason"].tolist() == [
        "reviewed for client C2; this finding is client C1's: a reviews file from another bundle?"
    ]
    assert ReviewQueue(other, reviews).findings["review"].tolist() == ["new", "new", "new"]


def test_evidence_saved_reads_back_as_the_audit_compares_it(tmp_path):
    reviews = tmp_path / "reviews.csv"
    written = "=SUM(1) \u201cquoted, with a comma\u201d\nand a line  "
    save_review(
        reviews,
        {
            "rule": "MS001",
            "subject_id": "A2",
            "decision": "confirmed",
            "reviewer": "Sam",
            "reviewed_at": "2026-04-21T10:00:00-07:00",
            "comment": "",
            "client_id": "C1",
            "evidence": written,
        },
    )
    read = load_reviews(reviews, TZ)[0]["evidence"].tolist()
    assert read == as_recorded(pd.Series([written])).tolist()
    assert read == ["'=SUM(1) \u201cquoted, with a comma\u201d\nand a line"]


def test_a_crash_while_saving_leaves_the_old_file_and_the_queue_as_they_were(
    bundle, tmp_path, monkeypatch
):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    decide(queue, "confirm")
    old = reviews.read_bytes()

    def crash(src, dst):
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    decide(queue, "dismiss", comment="lost?")
    assert reviews.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "reviews.csv"]  # no temp
    assert queue.status.value == (
        f'<span style="color:#b42318">{reviews} could not be written: disk unplugged. Free '
        "space on the disk, or name a folder you can write to, and try again.</span>"
    )
    assert queue.position == 1  # still on NT001, undecided
    assert queue.current["review"] == "new"
    assert queue.comment.value == "lost?"  # what the reviewer typed is still there
    monkeypatch.undo()
    queue.dismiss_button.click()
    assert [(r["rule"], r["decision"], r["comment"]) for r in saved(reviews)] == [
        ("MS001", "confirmed", ""),
        ("NT001", "dismissed", "lost?"),
    ]


# --- the reviews file ------------------------------------------------------------------------


def test_an_existing_file_keeps_its_rows_header_and_order(tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_bytes(  # from a spreadsheet: Windows-1252, CRLF, no final newline
        "Decision,Rule,Subject ID,Reviewer,Reviewed At,Comment,Ticket\r\n"
        "dismissed,VM002,K2,Zo\xeb,2026-04-20 09:00,caf\xe9,T-1".encode("cp1252")
    )
    save_review(
        reviews,
        {
            "rule": "MS001",
            "subject_id": "A2",
            "decision": "confirmed",
            "reviewer": "=Sam",
            "reviewed_at": "2026-04-21T10:00:00-07:00",
            "comment": "+1 call",
            "client_id": "C1",
            "evidence": "=text",
        },
    )
    # from before client_id and evidence were recorded: they are added, blank in the old rows
    assert reviews.read_text("utf-8").splitlines() == [
        "Decision,Rule,Subject ID,Reviewer,Reviewed At,Comment,Ticket,client_id,evidence",
        "dismissed,VM002,K2,Zoë,2026-04-20 09:00,café,T-1,,",
        "confirmed,MS001,A2,'=Sam,2026-04-21T10:00:00-07:00,'+1 call,,C1,'=text",
    ]


def test_a_file_from_before_client_and_evidence_gains_them_and_still_applies(bundle, tmp_path):
    reviews = write_reviews(
        tmp_path / "reviews.csv",
        'VM002,K2,dismissed,Sam,2026-04-20 09:00,"fee waived,\nby phone"',
        "",  # a blank line
        "NT001,A2,confirmed,Sam",  # a field short: set aside, as before
    )
    queue = ReviewQueue(bundle, reviews)
    assert order(queue)[2] == ("VM002", "K2", "dismissed")
    decide(queue, "confirm")

    assert reviews.read_text("utf-8") == (
        SEEN_HEADER + 'VM002,K2,dismissed,Sam,2026-04-20 09:00,"fee waived,\nby phone",,\n'
        "\n"
        "NT001,A2,confirmed,Sam,,\n"
        f"MS001,A2,confirmed,Jordan,{saved(reviews)[-1]['reviewed_at']},,C1,"
        f'"{EVIDENCE["MS001"]}"\n'
    )
    result = audit(bundle, reviews=reviews)
    assert result.findings["review"].tolist() == ["confirmed", "new", "dismissed"]
    assert result.rejected_reviews[["line", "reason"]].values.tolist() == [
        [5, "has 6 fields; the header has 8"]
    ]


def test_a_file_without_a_needed_column_is_not_touched(tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("rule,subject_id,decision\nMS001,A2,confirmed\n", encoding="utf-8")
    review = dict.fromkeys(["rule", "subject_id", "decision", "reviewer", "reviewed_at"], "x")
    with pytest.raises(BundleError, match="has no 'reviewer' column"):
        save_review(reviews, {**review, "comment": ""})
    assert reviews.read_text("utf-8") == "rule,subject_id,decision\nMS001,A2,confirmed\n"


def test_only_a_csv_reviews_file(bundle, tmp_path):
    with pytest.raises(ValueError, match=r"must be a \.csv file"):
        ReviewQueue(bundle, tmp_path / "reviews.xlsx")


# --- the record card -------------------------------------------------------------------------


def test_highlight_escapes_text_and_marks_every_occurrence():
    text = "Hi <b>, it's Riverside Clinic & Riverside Clinic again"
    assert highlight(text, ["Riverside Clinic", "absent"]) == (
        "Hi &lt;b&gt;, it&#x27;s <mark>Riverside Clinic</mark> &amp; "
        "<mark>Riverside Clinic</mark> again"
    )
    assert highlight("<i>plain</i>", []) == "&lt;i&gt;plain&lt;/i&gt;"
    assert highlight(None, ["x"]) == ""
    assert evidence_spans("disclosed: “her therapist”; and “more”") == ["her therapist", "more"]


@pytest.fixture(scope="module")
def sample():
    return audit(load(SAMPLE))


def test_card_shows_the_message_with_its_evidence_marked(sample):
    finding = sample.findings[sample.findings["subject_id"] == "CT000196"].iloc[0]
    assert finding["rule"] == "IQ001"
    card = context_html(sample.bundle, finding, {"S012": "S012 Chris Alavey"})
    assert "<mark>we don&#x27;t have anyone by that name</mark>" in card
    assert (
        "Client <code>C0007</code> · clinician S012 Chris Alavey · contact <code>CT000196" in card
    )
    assert '<tr class="subject"><td>CT000196</td>' in card


def test_a_call_timed_by_the_phone_system_shows_the_logs_time_beside_it(sample):
    # CT000539 is logged at 15:09; the phone system has the call at 15:08:34.
    finding = sample.findings[sample.findings["subject_id"] == "CT000539"].iloc[0]
    assert finding["rule"] == "TP001"
    card = context_html(sample.bundle, finding, {})
    assert (
        "contact <code>CT000539</code> · Tue 2026-05-26 15:08 (the phone system's time; logged "
        "15:09)</p>"
    ) in card
    inbound = sample.findings[sample.findings["subject_id"] == "CT000196"].iloc[0]  # its own time
    assert "contact <code>CT000196</code> · Mon 2025-12-22 15:11</p>" in context_html(
        sample.bundle, inbound, {}
    )


def test_every_rules_card_quotes_its_policy_once(sample):
    first = sample.findings.drop_duplicates("rule")
    assert sorted(first["rule"]) == sorted(RULES)
    for _, finding in first.iterrows():
        rule = RULES[finding["rule"]]
        card = context_html(sample.bundle, finding, {})
        policy = card.split('<p class="policy">', 1)[1].split("</p>", 1)[0]
        assert policy == f"Policy: \u201c{html_text(rule.policy)}\u201d {html_text(rule.why)}"
        assert (policy.count("\u201c"), policy.count("\u201d")) == (1, 1)


def test_card_of_a_missed_session_shows_the_appointment_calls_and_note(sample):
    finding = sample.findings[
        (sample.findings["rule"] == "NT002") & (sample.findings["subject_type"] == "note")
    ].iloc[0]
    card = context_html(sample.bundle, finding, {})
    note = sample.bundle.notes.set_index("note_id").loc[finding["subject_id"]]
    assert f'<tr class="subject"><td>{finding["subject_id"]}</td>' in card
    assert f"<td>{note['appointment_id']}</td><td>" in card  # the appointment it documents
    assert "<td>no_show</td>" in card


def test_cards_name_no_client_and_show_no_phone_number(sample):
    clients = sample.bundle.clients
    cards = "".join(
        context_html(sample.bundle, finding, {}) for _, finding in sample.findings.iterrows()
    )
    assert [name for name in clients["last_name"] if name in cards] == []
    assert [phone for phone in clients["phone"].dropna() if phone in cards] == []


def test_an_unlinked_call_comes_with_the_clients_latest_session_before_it(sample):
    finding = sample.findings[sample.findings["subject_id"] == "CT000070"].iloc[0]
    context = record_context(sample.bundle, finding)
    assert context.linked is False
    assert context.appointment[["appointment_id", "status"]].values.tolist() == [
        ["A000103", "no_show"]
    ]
    assert context.contacts["contact_id"].tolist() == ["CT000068", "CT000070"]
    assert context.notes["note_id"].tolist() == ["N000084"]
    card = context_html(sample.bundle, finding, {})
    assert "(not linked to this record: the client's latest session before it)" in card
    assert "<mark>Riverside Clinic</mark>. I waited for you" in card


def test_a_subject_of_another_kind_is_shown_without_what_identifies_a_person(sample, monkeypatch):
    """A kind the card has no table for (the phone system's calls, say) shows its own row; here
    a client record stands in for one, since it holds a name and a phone number to leave out."""
    monkeypatch.setitem(
        auditkit.review_queue.SUBJECT_TIMES, "client", ("clients", "client_id", "intake_date")
    )
    finding = sample.findings.iloc[0].copy()
    finding["subject_type"], finding["subject_id"] = "client", finding["client_id"]
    context = record_context(sample.bundle, finding)
    assert list(context.record.columns) == [
        "client_id",
        "intake_date",
        "may_name_clinic",
        "consent_recorded_at",
        "therapist_id",
    ]
    assert context.record["client_id"].tolist() == [finding["client_id"]]
    card = context_html(sample.bundle, finding, {})
    assert "<h4>The client record</h4>" in card
    client = sample.bundle.clients.set_index("client_id").loc[finding["client_id"]]
    assert client["phone"] not in card
    assert client["last_name"] not in card
