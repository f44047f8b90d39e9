"""The QA review queue: order, decisions saved at once and atomically, resuming, the record card.

Most tests use review_fixtures' bundle: MS001 and NT001 (high) fire on A2, VM002 (low) on K2.
The record card is checked on data/sample, whose messages carry real evidence to highlight.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE
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
from auditkit.auditing import for_month
from auditkit.errors import BundleError
from auditkit.report import html_text
from auditkit.review_queue import (
    ACCESSIBLE_GREEN,
    DOUBLE_CLICK,
    DecidedElsewhere,
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


def test_an_audit_kept_for_a_report_only_is_refused_before_any_card(bundle, tmp_path):
    """auditkit audit's result (and the Dask engine's) holds no message to show on a card."""
    lean = audit(bundle, keep_records=False)
    reviews = tmp_path / "reviews.csv"

    with pytest.raises(
        ValueError, match="appointments have no client_id, duration_minutes"
    ) as refused:
        ReviewQueue(lean, reviews)

    assert "cannot be reviewed in the queue, whose cards show each record whole" in str(
        refused.value
    )
    assert not reviews.exists()


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


def _contrast(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_dismiss_buttons_white_label_is_readable_at_wcag_aa(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    assert queue.dismiss_button.style.button_color == ACCESSIBLE_GREEN == "#2e7d32"
    assert round(_contrast("#ffffff", ACCESSIBLE_GREEN), 2) == 5.13  # AA asks 4.5 of text
    assert round(_contrast("#ffffff", "#388e3c"), 2) == 4.12  # the theme's own green


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
    assert queue.status.value == "Saved: confirmed, MS001 on A2."
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


def test_a_comment_typed_on_one_card_is_not_saved_with_another(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    queue.reviewer.value = "Jordan"
    queue.comment.value = "written for MS001"
    queue.next_button.click()  # a look ahead before deciding
    assert queue.shown == ("NT001", "A2")
    assert queue.comment.value == ""
    queue.confirm_button.click()
    assert [(r["rule"], r["comment"]) for r in saved(tmp_path / "reviews.csv")] == [("NT001", "")]
    queue.comment.value = "kept while the card is the same"
    queue.go(queue.position)  # drawn again, as after a refresh
    assert queue.comment.value == "kept while the card is the same"


def test_after_a_decision_the_keyboard_goes_on_in_the_next_cards_comment(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    asked: list[dict] = []
    queue.comment.send = asked.append  # what the browser's widget is told
    queue.reviewer.value = "Jordan"
    queue.confirm_button.click()
    assert queue.status.value == "Saved: confirmed, MS001 on A2."
    assert asked == [{"do": "focus"}]
    queue.next_button.click()
    assert asked == [{"do": "focus"}]  # moving on by Next leaves the focus where it is


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
    assert queue.status.value == "Saved: confirmed, MS001 on A2."
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

    append = auditkit.review_queue._append_review

    def save(path, review):
        during.append((queue.confirm_button.disabled, queue.dismiss_button.disabled))
        append(path, review)

    monkeypatch.setattr(auditkit.review_queue, "_append_review", save)
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


def test_a_finding_charged_to_no_client_is_reviewed_as_such(tmp_path):
    """An LG001 call to a number two clients of two clinicians share, that nothing settles:
    its card says it has no client, the decision is saved with a blank client_id and applies,
    and a review made when it was charged to C3 is held back."""
    household = {"phone": "(747) 555-0185", "may_name_clinic": "no", "intake_date": "2026-01-05"}
    clients = [
        {"client_id": "C3", "therapist_id": "T1", **household},
        {"client_id": "C4", "therapist_id": "T2", **household},
    ]
    call = {"started_at": "2026-03-03T09:00:00-08:00", "to_number": "+17475550185"}
    bundle = build_bundle(tmp_path / "bundle", clients=clients, calls=[call])
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    assert "<p>Client none: the evidence names those it can have been · clinician  · call" in (
        queue.record.value
    )
    decide(queue, "confirm")
    assert saved(reviews)[0]["client_id"] == ""
    found = audit(bundle, reviews=reviews).findings
    assert found[["subject_id", "review"]].values.tolist() == [["R1", "confirmed"]]
    write_reviews(reviews, "LG001,R1,confirmed,Sam,2026-03-04 09:00,,C3,", header=SEEN_HEADER)
    result = audit(bundle, reviews=reviews)
    assert result.findings["review"].tolist() == ["new"]
    assert result.stale_reviews["reason"].tolist() == [
        "reviewed for client C3; this finding is charged to no client: a reviews file from "
        "another bundle?"
    ]


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
    read = load_reviews(reviews, TZ).decided["evidence"].tolist()
    assert read == as_recorded(pd.Series([written])).tolist()
    assert read == ["'=SUM(1) \u201cquoted, with a comma\u201d\nand a line"]


def test_a_carriage_return_in_the_evidence_or_an_old_row_keeps_every_decision(tmp_path):
    # A message from a system that ends lines with CR alone: the csv module wrote that field
    # bare (it quotes only its line terminator's characters), and the next audit read the row
    # as two, setting the decision aside. Old rows are written again when columns are added.
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        "rule,subject_id,decision,reviewer,reviewed_at,comment\n"
        'VM002,K2,dismissed,Sam,2026-04-20T09:00:00-07:00,"waived\rby phone"\n',
        "utf-8",
    )
    review = {"rule": "MS001", "subject_id": "A2", "decision": "confirmed", "reviewer": "Sam"}
    review |= {"reviewed_at": "2026-04-21T10:00:00-07:00", "comment": "", "client_id": "C1"}
    save_review(reviews, {**review, "evidence": "said: \u201cLVM\rcall back\u201d"})

    loaded = load_reviews(reviews, TZ)

    assert loaded.rejected.empty
    assert loaded.decided[["subject_id", "comment", "evidence"]].fillna("").values.tolist() == [
        ["K2", "waived\rby phone", ""],
        ["A2", "", "said: \u201cLVM\rcall back\u201d"],
    ]


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


# --- narrowing the queue: month, rule, clinician ----------------------------------------------


def keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(frame[["rule", "subject_id"]].itertuples(index=False, name=None))


def test_the_month_menu_narrows_the_queue_to_a_month(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    assert queue.month.options == (
        ("All months", ""),
        ("Apr 2026 (2026-04)", "2026-04"),
        ("Mar 2026 (2026-03)", "2026-03"),
    )
    queue.month.value = "2026-04"
    assert order(queue) == [("VM002", "K2", "new")]
    assert list(queue.findings.index) == [2]  # its row in the whole queue
    assert len(queue.all_findings) == 3
    assert queue.current["subject_id"] == "K2"
    assert queue.progress.value == ("<strong>0 of 1 reviewed</strong> · finding 1 of 1 · Apr 2026")
    queue.month.value = "2026-03"
    assert order(queue) == [("MS001", "A2", "new"), ("NT001", "A2", "new")]
    assert queue.shown == ("MS001", "A2")
    assert queue.progress.value == ("<strong>0 of 2 reviewed</strong> · finding 1 of 2 · Mar 2026")
    queue.month.value = ""
    assert len(queue.findings) == 3
    assert queue.progress.value == "<strong>0 of 3 reviewed</strong> · finding 1 of 3"


def test_within_a_month_deciding_previous_and_next_stay_in_it(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews, month="2026-03")
    decide(queue, "confirm")
    assert queue.shown == ("NT001", "A2")
    decide(queue, "dismiss", comment="note on paper")
    assert queue.shown == ("NT001", "A2")  # every one in March decided: it stays
    assert queue.progress.value == ("<strong>2 of 2 reviewed</strong> · finding 2 of 2 · Mar 2026")
    queue.next_button.click()
    assert queue.shown == ("NT001", "A2")  # not on to April's
    queue.previous_button.click()
    queue.previous_button.click()
    assert (queue.position, queue.shown) == (0, ("MS001", "A2"))
    assert [(r["rule"], r["decision"]) for r in saved(reviews)] == [
        ("MS001", "confirmed"),
        ("NT001", "dismissed"),
    ]
    queue.month.value = ""  # every month: the first finding nobody has decided
    assert queue.shown == ("VM002", "K2")
    assert queue.progress.value == "<strong>2 of 3 reviewed</strong> · finding 3 of 3"


def test_the_rule_and_clinician_menus_narrow_it_together(bundle, tmp_path):
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv")
    assert queue.rule.options == (
        ("All rules", ""),
        ("MS001 " + RULES["MS001"].name, "MS001"),
        ("VM002 " + RULES["VM002"].name, "VM002"),
        ("NT001 " + RULES["NT001"].name, "NT001"),
    )
    assert queue.clinician.options == (
        ("All clinicians", ""),
        ("T1 Robin Example", "T1"),
        ("T2 Casey Example", "T2"),
    )
    queue.clinician.value = "T1"
    assert keys(queue.findings) == [("MS001", "A2"), ("NT001", "A2")]
    assert queue.progress.value == (
        "<strong>0 of 2 reviewed</strong> · finding 1 of 2 · T1 Robin Example"
    )
    queue.rule.value = "NT001"
    assert keys(queue.findings) == [("NT001", "A2")]
    assert queue.progress.value == (
        "<strong>0 of 1 reviewed</strong> · finding 1 of 1 · NT001, T1 Robin Example"
    )
    decide(queue, "confirm")
    assert saved(tmp_path / "reviews.csv")[0]["rule"] == "NT001"
    assert queue.progress.value == (
        "<strong>1 of 1 reviewed</strong> · finding 1 of 1 · NT001, T1 Robin Example"
    )


def test_a_filter_that_leaves_nothing_says_so_and_decides_nothing(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews, month="2026-04", rule="ms001")
    assert (queue.month.value, queue.rule.value) == ("2026-04", "MS001")
    assert queue.findings.empty
    assert queue.current is None
    assert queue.progress.value == "<strong>0 of 0 reviewed</strong> · Apr 2026, MS001"
    assert queue.record.value == (
        "<p>No findings for Apr 2026, MS001: nothing to review here. Choose another month, "
        "rule or clinician.</p>"
    )
    buttons = [queue.confirm_button, queue.dismiss_button, queue.previous_button]
    assert [b.disabled for b in [*buttons, queue.next_button]] == [True] * 4
    decide(queue, "confirm")  # a click the browser would not send
    assert queue.status.value == (
        '<span style="color:#b42318">There is no finding to decide.</span>'
    )
    assert not reviews.exists()
    queue.rule.value = ""
    assert queue.shown == ("VM002", "K2")
    assert [b.disabled for b in [*buttons, queue.next_button]] == [False] * 4


def test_a_filter_must_have_findings(bundle, tmp_path):
    with pytest.raises(ValueError) as refused:
        ReviewQueue(bundle, tmp_path / "reviews.csv", month="2026-05")
    assert str(refused.value) == (
        "No findings to review for month 2026-05: those with findings are 2026-04, 2026-03."
    )
    with pytest.raises(ValueError) as refused:
        ReviewQueue(bundle, tmp_path / "reviews.csv", clinician="T9")
    assert str(refused.value) == (
        "No findings to review for clinician T9: those with findings are T1, T2."
    )


def test_a_findings_month_is_the_clinics_as_the_audit_names_it(tmp_path):
    """A no-show at 23:30 on 31 March in Los Angeles is 1 April in UTC: March's, as audited."""
    late = {**APPOINTMENTS[1], "scheduled_start": "2026-03-31T23:30:00-07:00"}
    bundle = build_bundle(
        tmp_path / "bundle",
        appointments=[APPOINTMENTS[0], late, APPOINTMENTS[2]],
        contacts=CONTACTS,
        notes=NOTES,
    )
    queue = ReviewQueue(bundle, tmp_path / "reviews.csv", month="2026-03")
    assert keys(queue.findings) == [("MS001", "A2"), ("NT001", "A2")]
    assert sorted(keys(queue.findings)) == sorted(keys(audit(bundle, month="2026-03").findings))


def test_every_month_of_the_sample_holds_what_its_audit_finds(sample, tmp_path):
    queue = ReviewQueue(sample, tmp_path / "reviews.csv")
    months = [value for _, value in queue.month.options[1:]]
    assert months == sorted(set(sample.findings["at"].dt.strftime("%Y-%m")), reverse=True)
    assert queue.month.options[1] == ("Aug 2026 (2026-08)", "2026-08")
    for month in months:
        queue.month.value = month
        assert sorted(keys(queue.findings)) == sorted(keys(for_month(sample, month).findings))
    assert sum(len(for_month(sample, m).findings) for m in months) == len(sample.findings)


# --- two reviewers, one reviews file ---------------------------------------------------------


def test_a_queue_loads_decisions_another_reviewer_saved(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    first, second = ReviewQueue(bundle, reviews), ReviewQueue(bundle, reviews)
    decide(first, "confirm", reviewer="Sam")
    assert first.status.value == "Saved: confirmed, MS001 on A2."  # its own: no news

    second.next_button.click()
    assert second.shown == ("NT001", "A2")
    assert second.status.value == "1 decision saved elsewhere was loaded."
    assert second.progress.value == "<strong>1 of 3 reviewed</strong> · finding 2 of 3"
    second.previous_button.click()
    assert "Decided: <strong>confirmed</strong> by Sam on " in second.record.value
    assert second.status.value == ""  # nothing more since


def test_a_queue_does_not_read_its_own_saves_back(bundle, tmp_path, monkeypatch):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    reads = []

    def load(path, tz):
        reads.append(path)
        return load_reviews(path, tz)

    monkeypatch.setattr(auditkit.review_queue, "load_reviews", load)
    decide(queue, "confirm")
    decide(queue, "dismiss", comment="on paper")
    queue.previous_button.click()
    assert reads == []
    save_review(reviews, {**saved(reviews)[0], "reviewer": "Sam"})  # another reviewer's
    queue.next_button.click()
    assert reads == [reviews]


def test_the_move_after_a_decision_skips_findings_decided_elsewhere(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    first = ReviewQueue(bundle, reviews)
    april = ReviewQueue(bundle, reviews, month="2026-04")
    decide(first, "confirm", reviewer="Sam")  # MS001
    decide(april, "confirm")  # VM002
    assert april.status.value == (
        "Saved: confirmed, VM002 on K2. 1 decision saved elsewhere was loaded."
    )
    decide(first, "confirm", reviewer="Sam")  # NT001; VM002 is decided already
    assert first.status.value == (
        "Saved: confirmed, NT001 on A2. 1 decision saved elsewhere was loaded."
    )
    assert first.shown == ("NT001", "A2")  # nothing left undecided: it stays
    assert first.progress.value == "<strong>3 of 3 reviewed</strong> · finding 2 of 3"
    assert [(r["rule"], r["reviewer"]) for r in saved(reviews)] == [
        ("MS001", "Sam"),
        ("VM002", "Jordan"),
        ("NT001", "Sam"),
    ]


def test_a_decision_made_elsewhere_meanwhile_is_replaced_only_when_asked_again(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    first, second = ReviewQueue(bundle, reviews), ReviewQueue(bundle, reviews)
    decide(first, "confirm", reviewer="Sam")  # while Jordan reads MS001's card
    decide(second, "dismiss", comment="called from a cell phone")

    assert [(r["rule"], r["decision"], r["reviewer"]) for r in saved(reviews)] == [
        ("MS001", "confirmed", "Sam")
    ]
    when = pd.Timestamp(saved(reviews)[0]["reviewed_at"])
    assert second.status.value == (
        f'<span style="color:#b42318">Sam confirmed this finding on {when:%Y-%m-%d %H:%M}, '
        "saved elsewhere after its card was drawn: not saved. The card now shows it; click "
        "Dismiss again to replace it.</span>"
    )
    assert second.shown == ("MS001", "A2")
    assert "Decided: <strong>confirmed</strong> by Sam on " in second.record.value
    assert second.comment.value == "called from a cell phone"  # kept for the second click
    assert not second.dismiss_button.disabled

    second.dismiss_button.click()
    assert [(r["rule"], r["decision"], r["reviewer"]) for r in saved(reviews)] == [
        ("MS001", "confirmed", "Sam"),
        ("MS001", "dismissed", "Jordan"),
    ]
    assert second.status.value == "Saved: dismissed, MS001 on A2."
    assert second.shown == ("NT001", "A2")
    first.go(0)
    assert "Decided: <strong>dismissed</strong> by Jordan on " in first.record.value
    assert first.status.value == "1 decision saved elsewhere was loaded."
    assert audit(bundle, reviews=reviews).findings.loc[0, "review"] == "dismissed"


def test_a_replacing_decision_outranks_one_dated_by_a_clock_running_ahead(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    ahead = (pd.Timestamp.now(tz="America/Los_Angeles") + pd.Timedelta(minutes=10)).floor("s")
    save_review(  # Sam's laptop runs ten minutes fast (within the loader's day of grace)
        reviews,
        {
            "rule": "MS001",
            "subject_id": "A2",
            "decision": "confirmed",
            "reviewer": "Sam",
            "reviewed_at": ahead.isoformat(),
            "comment": "",
        },
    )
    queue.reviewer.value = "Jordan"
    queue.comment.value = "called from a cell phone"
    with pytest.raises(DecidedElsewhere):
        queue.decide("dismissed", ("MS001", "A2"))
    queue.decide("dismissed", ("MS001", "A2"))  # asked again: it replaces Sam's

    assert pd.Timestamp(saved(reviews)[1]["reviewed_at"]) == ahead + pd.Timedelta(seconds=1)
    latest = load_reviews(reviews, "America/Los_Angeles").decided
    assert latest[["rule", "decision", "reviewer"]].values.tolist() == [
        ["MS001", "dismissed", "Jordan"]
    ]


def test_reviewers_saving_at_once_each_keep_every_row(tmp_path):
    reviews = tmp_path / "reviews.csv"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from auditkit.review_queue import save_review\n"
        "for i in range(40):\n"
        "    save_review(Path(sys.argv[1]), {'rule': 'MS001', 'subject_id': sys.argv[2] + str(i),"
        " 'decision': 'confirmed', 'reviewer': sys.argv[2], 'reviewed_at': "
        "'2026-06-01T10:00:00-07:00', 'comment': ''})\n"
    )
    savers = [subprocess.Popen([sys.executable, "-c", script, str(reviews), who]) for who in "AB"]
    assert [saver.wait(timeout=120) for saver in savers] == [0, 0]

    rows = saved(reviews)
    assert sorted(r["subject_id"] for r in rows) == sorted(
        f"{w}{i}" for w in "AB" for i in range(40)
    )
    assert not list(tmp_path.glob(".*.lock"))


def test_decide_refuses_a_finding_decided_elsewhere_since_its_card(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    first, second = ReviewQueue(bundle, reviews), ReviewQueue(bundle, reviews)
    first.reviewer.value = second.reviewer.value = "Jordan"
    first.decide("confirmed", ("MS001", "A2"))
    with pytest.raises(DecidedElsewhere):
        second.decide("confirmed", ("MS001", "A2"))
    assert len(saved(reviews)) == 1
    second.decide("confirmed", ("MS001", "A2"))  # asked again, on the card drawn since
    assert len(saved(reviews)) == 2


def test_a_double_click_does_not_replace_a_decision_made_elsewhere(bundle, tmp_path, monkeypatch):
    reviews = tmp_path / "reviews.csv"
    first, second = ReviewQueue(bundle, reviews), ReviewQueue(bundle, reviews)
    decide(first, "confirm", reviewer="Sam")
    clock = [100.0]
    monkeypatch.setattr(auditkit.review_queue, "monotonic", lambda: clock[0])
    second.reviewer.value = "Jordan"

    second.confirm_button.click()  # refused: Sam decided it
    second.confirm_button.click()  # the double-click's second, before the refusal was shown
    assert [r["reviewer"] for r in saved(reviews)] == ["Sam"]
    assert second.status.value.startswith('<span style="color:#b42318">Sam confirmed this ')

    clock[0] += DOUBLE_CLICK  # time enough to read Sam's decision
    second.confirm_button.click()
    assert [r["reviewer"] for r in saved(reviews)] == ["Sam", "Jordan"]


def test_a_review_saved_elsewhere_for_another_client_is_held_back_as_at_the_start(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews, month="2026-04")
    save_review(  # by another queue, on another clinic's bundle
        reviews,
        {
            "rule": "VM002",
            "subject_id": "K2",
            "decision": "dismissed",
            "reviewer": "Casey",
            "reviewed_at": "2026-04-08T10:00:00-07:00",
            "comment": "fee waived",
            "client_id": "C1",
            "evidence": EVIDENCE["VM002"],
        },
    )
    queue.go(0)
    assert queue.current["review"] == "new"
    assert queue.status.value == ""  # no decision applied
    assert queue.record.value.endswith(
        '<p class="auditkit-held">An earlier review (dismissed by Casey on 2026-04-08 10:00) was '
        "not applied: reviewed for client C1; this finding is client C2&#x27;s: a reviews file "
        "from another bundle?. Decide it again.</p>"
    )


def test_a_reviews_file_that_cannot_be_read_again_leaves_the_queue_as_it_was(bundle, tmp_path):
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(bundle, reviews)
    decide(queue, "confirm")
    reviews.write_text("rule,subject_id\nMS001,A2\n", encoding="utf-8")  # someone's edit
    queue.go(0)
    assert queue.status.value == (
        '<span style="color:#b42318">reviews.csv has no &#x27;decision&#x27; column, which the '
        "reviews table requires. Required columns: rule, subject_id, decision, reviewer, "
        "reviewed_at. Columns found: rule, subject_id. The decisions shown are those read "
        "before.</span>"
    )
    assert queue.reviewed == 1
    assert "Decided: <strong>confirmed</strong> by Jordan" in queue.record.value


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


def test_the_progress_line_counts_the_reviews_rows_set_aside(bundle, tmp_path):
    one = write_reviews(tmp_path / "one.csv", "NT001,A2,confirmed,Sam")
    assert ReviewQueue(bundle, one).progress.value == (
        "<strong>0 of 3 reviewed</strong> · finding 1 of 3 · 1 row of the reviews file was set "
        "aside (run auditkit audit to see it)"
    )
    two = write_reviews(tmp_path / "two.csv", "NT001,A2,confirmed,Sam", "MS001,A2,maybe,Sam,x")
    assert ReviewQueue(bundle, two).progress.value == (
        "<strong>0 of 3 reviewed</strong> · finding 1 of 3 · 2 rows of the reviews file were set "
        "aside (run auditkit audit to see them)"
    )


def test_a_file_without_a_needed_column_is_not_touched(tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("rule,subject_id,decision\nMS001,A2,confirmed\n", encoding="utf-8")
    review = dict.fromkeys(["rule", "subject_id", "decision", "reviewer", "reviewed_at"], "x")
    with pytest.raises(BundleError, match="has no 'reviewer' column"):
        save_review(reviews, {**review, "comment": ""})
    assert reviews.read_text("utf-8") == "rule,subject_id,decision\nMS001,A2,confirmed\n"


def test_the_queue_says_where_decisions_are_saved_as_a_full_path(bundle, tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # as make review serves the notebook
    queue = ReviewQueue(bundle, Path("../out/reviews.csv"))
    heading = queue.children[0].value
    assert f"saved at once to <code>{tmp_path.resolve()}/out/reviews.csv</code>." in heading


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


def test_a_card_dates_a_finding_in_the_hour_shown_twice_with_its_zone(sample):
    finding = sample.findings[sample.findings["subject_type"] == "appointment"].iloc[0].copy()
    pst = pd.Timestamp("2026-11-01T01:30:00-08:00").tz_convert(finding["at"].tz)
    finding["at"] = pst  # 01:30 PST, an hour after 01:30 PDT
    card = context_html(sample.bundle, finding, {})
    assert f"appointment <code>{finding['subject_id']}</code> · Sun 2026-11-01 01:30 PST</p>" in (
        card
    )


def test_every_rules_card_quotes_its_policy_once(sample):
    first = sample.findings.drop_duplicates("rule")
    assert sorted(first["rule"]) == sorted(RULES)
    for _, finding in first.iterrows():
        rule = RULES[finding["rule"]]
        card = context_html(sample.bundle, finding, {})
        policy = card.split('<p class="policy">', 1)[1].split("</p>", 1)[0]
        assert policy == f"Policy: {html_text(rule.quoted_policy)} {html_text(rule.why)}"
        quotes = (1, 1) if rule.written else (0, 0)  # LG001, LG002: not the clinic's words
        assert (policy.count("\u201c"), policy.count("\u201d")) == quotes


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
