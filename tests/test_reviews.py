"""Review decisions carry over (issue 4): dismissed, confirmed, new, stale, latest wins."""

from __future__ import annotations

import pandas as pd
import pytest
from review_fixtures import EVIDENCE, HEADER, SEEN_HEADER, reviewed_bundle, write_reviews

from auditkit import audit
from auditkit.errors import BundleError
from auditkit.reviews import STALE_COLUMNS, load_reviews
from auditkit.schemas import Findings

TZ = "America/Los_Angeles"
DISMISS_MS001 = "MS001,A2,dismissed,Jordan,2026-04-01 09:30,Client called in; logged on paper"
CONFIRM_NT001 = "NT001,A2,confirmed,Jordan,2026-04-01 09:35,"


def marks(result) -> list[tuple]:
    columns = ["rule", "subject_id", "review", "reviewer", "review_comment"]
    rows = result.findings[columns].astype(object).where(result.findings[columns].notna(), None)
    return list(rows.itertuples(index=False, name=None))


def rates(result, *rules: str) -> dict[str, dict]:
    table = result.compliance.set_index("rule")
    return {rule: table.loc[rule].to_dict() for rule in rules}


def stale(result) -> list[tuple]:
    frame = result.stale_reviews
    return list(zip(frame["rule"], frame["subject_id"], frame["reason"], strict=True))


def test_without_a_reviews_file_every_finding_is_new(tmp_path):
    result = audit(reviewed_bundle(tmp_path))

    assert result.reviews_file is None
    assert marks(result) == [
        ("MS001", "A2", "new", None, None),
        ("NT001", "A2", "new", None, None),
        ("VM002", "K2", "new", None, None),
    ]
    assert result.findings["reviewed_at"].isna().all()
    assert list(result.stale_reviews.columns) == STALE_COLUMNS
    assert result.stale_reviews.empty
    Findings.validate(result.findings)


def test_a_dismissed_finding_is_listed_but_no_longer_counts_against_compliance(tmp_path):
    before = audit(reviewed_bundle(tmp_path / "before"))
    after = audit(reviewed_bundle(tmp_path / "after", DISMISS_MS001))

    assert rates(before, "MS001", "NT001") == {
        "MS001": {"opportunities": 3, "findings": 1, "compliance": 0.6667},
        "NT001": {"opportunities": 3, "findings": 1, "compliance": 0.6667},
    }
    assert rates(after, "MS001", "NT001") == {
        "MS001": {"opportunities": 3, "findings": 0, "compliance": 1.0},
        "NT001": {"opportunities": 3, "findings": 1, "compliance": 0.6667},
    }
    by_staff = after.compliance_by("staff_id")
    assert by_staff[by_staff["rule"] == "MS001"].drop(columns="rule").to_dict("records") == [
        {"staff_id": "T1", "opportunities": 2, "findings": 0, "compliance": 1.0},
        {"staff_id": "T2", "opportunities": 1, "findings": 0, "compliance": 1.0},
    ]
    # still in the findings table, with who dismissed it, when and why
    assert len(after.findings) == 3
    assert marks(after)[0] == (
        "MS001",
        "A2",
        "dismissed",
        "Jordan",
        "Client called in; logged on paper",
    )
    assert str(after.findings["reviewed_at"].iloc[0]) == "2026-04-01 09:30:00-07:00"


def test_confirmed_findings_are_marked_and_still_count_and_the_rest_are_new(tmp_path):
    result = audit(reviewed_bundle(tmp_path, DISMISS_MS001, CONFIRM_NT001))

    assert marks(result) == [
        ("MS001", "A2", "dismissed", "Jordan", "Client called in; logged on paper"),
        ("NT001", "A2", "confirmed", "Jordan", None),
        ("VM002", "K2", "new", None, None),
    ]
    assert rates(result, "NT001", "VM002") == {
        "NT001": {"opportunities": 3, "findings": 1, "compliance": 0.6667},
        "VM002": {"opportunities": 2, "findings": 1, "compliance": 0.5},
    }
    assert result.stale_reviews.empty


def test_reviews_of_findings_that_no_longer_fire_are_listed_as_stale(tmp_path):
    result = audit(
        reviewed_bundle(
            tmp_path,
            DISMISS_MS001,
            "MS001,A1,confirmed,Jordan,2026-03-03 08:00,Nobody called",  # A1 was handled
            "NT001,A9,dismissed,Jordan,2026-03-03 08:00,",  # A9 is not in the bundle
            "VM002,K9,dismissed,Jordan,2026-03-03 08:00,",  # nor is the contact K9
        )
    )

    assert stale(result) == [
        ("MS001", "A1", "MS001 no longer finds a problem with appointment A1"),
        ("NT001", "A9", "no appointment A9 in the bundle"),
        ("VM002", "K9", "no contact K9 in the bundle"),
    ]
    row = result.stale_reviews.iloc[0]
    assert (row["decision"], row["reviewer"], row["comment"], row["source_line"]) == (
        "confirmed",
        "Jordan",
        "Nobody called",
        3,
    )
    assert str(row["at"]) == "2026-03-02 13:00:00-08:00"
    assert pd.isna(result.stale_reviews["at"].iloc[1])
    # a stale review changes nothing else
    assert rates(result, "MS001") == {
        "MS001": {"opportunities": 3, "findings": 0, "compliance": 1.0}
    }


def seen(tmp_path, *rows: str):
    """Reviews with the client and evidence their reviewer saw, as the queue writes them."""
    return write_reviews(tmp_path / "seen.csv", *rows, header=SEEN_HEADER)


def test_a_review_applies_while_its_finding_has_the_client_and_evidence_it_was_seen_with(
    tmp_path,
):
    bundle = reviewed_bundle(tmp_path)
    reviews = seen(
        tmp_path,
        f'MS001,A2,dismissed,Jordan,2026-04-01 09:30,on paper,C1,"{EVIDENCE["MS001"]}"',
        "NT001,A2,confirmed,Jordan,2026-04-01 09:35,,,",  # blank: applies as it always did
        f"VM002,K2,dismissed,Casey,2026-04-08 10:00,,,{EVIDENCE['VM002']}",  # evidence only
    )

    result = audit(bundle, reviews=reviews)

    assert marks(result) == [
        ("MS001", "A2", "dismissed", "Jordan", "on paper"),
        ("NT001", "A2", "confirmed", "Jordan", None),
        ("VM002", "K2", "dismissed", "Casey", None),
    ]
    assert result.stale_reviews.empty
    assert result.rejected.empty


def test_a_review_made_for_another_client_is_not_applied_and_is_listed_as_stale(tmp_path):
    """A reviews file from another bundle, whose K2 and A2 were other clients' records."""
    bundle = reviewed_bundle(tmp_path)
    reviews = seen(
        tmp_path,
        "MS001,A2,dismissed,Jordan,2026-04-01 09:30,,C7,",
        f"VM002,K2,dismissed,Casey,2026-04-08 10:00,Fee waived,C9,{EVIDENCE['VM002']}",
    )

    result = audit(bundle, reviews=reviews)

    assert marks(result) == [
        ("MS001", "A2", "new", None, None),
        ("NT001", "A2", "new", None, None),
        ("VM002", "K2", "new", None, None),
    ]
    assert stale(result) == [
        (
            "MS001",
            "A2",
            "reviewed for client C7; this finding is client C1's: a reviews file from another "
            "bundle?",
        ),
        (
            "VM002",
            "K2",
            "reviewed for client C9; this finding is client C2's: a reviews file from another "
            "bundle?",
        ),
    ]
    row = result.stale_reviews.iloc[1]
    assert (row["client_id"], row["comment"], row["source_line"], str(row["at"])) == (
        "C9",
        "Fee waived",
        3,
        "2026-04-06 10:30:00-07:00",  # the finding's time: listed in its month
    )
    assert rates(result, "MS001", "VM002") == {  # both still count against compliance
        "MS001": {"opportunities": 3, "findings": 1, "compliance": 0.6667},
        "VM002": {"opportunities": 2, "findings": 1, "compliance": 0.5},
    }
    assert (
        result.reviews_summary
        == f"Reviews from {reviews}: 0 confirmed, 0 dismissed, 3 new; 2 stale."
    )
    assert stale(audit(bundle, reviews=reviews, month="2026-04")) == stale(result)[1:]


def test_a_review_of_a_record_changed_since_is_not_applied_and_says_what_it_reads_now(tmp_path):
    bundle = reviewed_bundle(tmp_path)
    when_reviewed = EVIDENCE["VM002"].replace("10:30", "10:15")  # the voicemail's time, since fixed
    reviews = seen(tmp_path, f"VM002,K2,dismissed,Casey,2026-04-08 10:00,,C2,{when_reviewed}")

    result = audit(bundle, reviews=reviews)

    assert marks(result)[2] == ("VM002", "K2", "new", None, None)
    assert stale(result) == [
        (
            "VM002",
            "K2",
            "the record changed since it was reviewed: the evidence now reads 'voicemail at 10:30 "
            "after the missed session of Mon 6 Apr 2026 10:00 says nothing about the "
            "missed-session charge'",
        )
    ]
    assert result.stale_reviews["evidence"].tolist() == [when_reviewed]


def test_the_review_card_says_why_a_reviewed_finding_is_to_be_decided_again(tmp_path):
    from auditkit.review_queue import ReviewQueue

    bundle = reviewed_bundle(tmp_path)
    when_reviewed = EVIDENCE["VM002"].replace("10:30", "10:15")
    reviews = seen(tmp_path, f"VM002,K2,dismissed,Casey,2026-04-08 10:00,,C2,{when_reviewed}")
    queue = ReviewQueue(bundle, reviews)
    queue.go(list(queue.findings["subject_id"]).index("K2"))
    assert queue.record.value.endswith(
        '<p class="auditkit-held">An earlier review (dismissed by Casey on 2026-04-08 10:00) was '
        "not applied: the record changed since it was reviewed: the evidence now reads "
        "&#x27;voicemail at 10:30 after the missed session of Mon 6 Apr 2026 10:00 says nothing "
        "about the missed-session charge&#x27;. Decide it again.</p>"
    )
    queue.reviewer.value = "Jordan"
    queue.confirm_button.click()  # decided again: the card no longer asks
    queue.go(list(queue.findings["subject_id"]).index("K2"))
    assert "auditkit-held" not in queue.record.value
    assert "Decided: <strong>confirmed</strong> by Jordan" in queue.record.value


def test_the_latest_review_wins_before_its_client_and_evidence_are_checked(tmp_path):
    bundle = reviewed_bundle(tmp_path)
    reviews = seen(
        tmp_path,
        f'MS001,A2,dismissed,Jordan,2026-04-01 09:30,,C1,"{EVIDENCE["MS001"]}"',
        "MS001,A2,confirmed,Casey,2026-04-10 12:00,,C7,",  # latest: another client's
        "NT001,A2,dismissed,Jordan,2026-04-01 09:30,,C7,",
        f'NT001,A2,confirmed,Casey,2026-04-10 12:00,,C1,"{EVIDENCE["NT001"]}"',  # latest: fine
    )

    result = audit(bundle, reviews=reviews)

    assert marks(result)[:2] == [
        ("MS001", "A2", "new", None, None),  # not the earlier dismissal: the latest is not its
        ("NT001", "A2", "confirmed", "Casey", None),
    ]
    assert list(zip(result.stale_reviews["source_line"], stale(result), strict=True)) == [
        (
            3,
            (
                "MS001",
                "A2",
                "reviewed for client C7; this finding is client C1's: a reviews file from "
                "another bundle?",
            ),
        )
    ]


def test_the_latest_review_of_a_finding_wins_wherever_it_is_in_the_file(tmp_path):
    result = audit(
        reviewed_bundle(
            tmp_path,
            "MS001,A2,confirmed,Casey,2026-04-10 12:00,Checked the phone log",
            "MS001,A2,dismissed,Jordan,2026-04-01 09:30,First look",
            "NT001,A2,dismissed,Jordan,2026-04-02 09:00,Same minute",
            "NT001,A2,confirmed,Casey,2026-04-02 09:00,Same minute; later line",
        )
    )

    assert marks(result)[:2] == [
        ("MS001", "A2", "confirmed", "Casey", "Checked the phone log"),
        ("NT001", "A2", "confirmed", "Casey", "Same minute; later line"),
    ]
    assert result.rejected.empty  # history, not an error
    assert result.stale_reviews.empty
    assert rates(result, "MS001") == {
        "MS001": {"opportunities": 3, "findings": 1, "compliance": 0.6667}
    }


def test_a_review_dated_in_the_future_is_set_aside_not_taken_as_the_latest(tmp_path):
    result = audit(
        reviewed_bundle(
            tmp_path,
            DISMISS_MS001,  # line 2
            "MS001,A2,confirmed,Jordan,2099-04-01 09:30,typed 2099 for 2026",  # line 3
        )
    )

    assert ("MS001", "A2", "dismissed", "Jordan", "Client called in; logged on paper") in marks(
        result
    )
    assert result.rejected.to_dict("records") == [
        {
            "file": "reviews.csv",
            "line": 3,
            "record_id": "MS001 A2",  # the finding reviewed: its rule and subject
            "column": "reviewed_at",
            "reason": "reviewed_at '2099-04-01 09:30' is in the future: a review is "
            "dated when it is made",  # as typed
        }
    ]


def test_a_review_dated_tomorrow_counts_and_one_after_it_is_set_aside(tmp_path):
    """Late tomorrow on the clinic's clock is within the grace a reviewer's clock may need;
    the start of the day after is not."""
    days = pd.Timestamp.now(TZ).normalize().tz_localize(None) + pd.to_timedelta([1, 2], "D")
    hours = pd.to_timedelta([23 * 60, 5], "min")  # 23:00 tomorrow, 00:05 the day after
    late_tomorrow, day_after = (days + hours).strftime("%Y-%m-%d %H:%M")
    result = audit(
        reviewed_bundle(
            tmp_path,
            f"MS001,A2,dismissed,Jordan,{late_tomorrow},Client called in",  # line 2
            f"NT001,A2,confirmed,Jordan,{day_after},typed a day ahead",  # line 3
        )
    )
    assert ("MS001", "A2", "dismissed", "Jordan", "Client called in") in marks(result)
    assert result.rejected[["line", "column"]].values.tolist() == [[3, "reviewed_at"]]


def test_bad_review_rows_are_set_aside_with_their_line_and_the_rest_apply(tmp_path):
    result = audit(
        reviewed_bundle(
            tmp_path,
            "MS001,A2,maybe,Jordan,2026-04-01,",  # line 2
            "XX999,A2,dismissed,Jordan,2026-04-01,",  # line 3
            "NT001,A2,dismissed,,2026-04-01,",  # line 4
            "VM002,K2,dismissed,Jordan,last Tuesday,",  # line 5
            "VM002,K2,dismissed,Jordan,2026-04-07",  # line 6: a field short
            "ms001,A2,Dismissed,Jordan,4/7/2026 9:15 AM,=HYPERLINK(1)",  # line 7: fine
        )
    )

    assert result.rejected.to_dict("records") == [
        {
            "file": "reviews.csv",
            "line": 2,
            "record_id": "MS001 A2",
            "column": "decision",
            "reason": "decision 'maybe' is not one of: confirmed, dismissed",
        },
        {
            "file": "reviews.csv",
            "line": 3,
            "record_id": "XX999 A2",
            "column": "rule",
            "reason": "rule 'XX999' is not one of: MS001, MS002, MS003, VM001, VM002, VM003, "
            "VM004, NT001, NT002, TP001, IQ001, PC001, LG001, LG002",
        },
        {
            "file": "reviews.csv",
            "line": 4,
            "record_id": "NT001 A2",
            "column": "reviewer",
            "reason": "reviewer is blank but required",
        },
        {
            "file": "reviews.csv",
            "line": 5,
            "record_id": "VM002 K2",
            "column": "reviewed_at",
            "reason": "reviewed_at 'last Tuesday' is not a date-time "
            "(ISO 8601 or M/D/YYYY h:mm AM/PM)",
        },
        {
            "file": "reviews.csv",
            "line": 6,
            "record_id": "VM002",
            "column": "",
            "reason": "has 5 fields; the header has 6",
        },
    ]
    assert marks(result) == [
        ("MS001", "A2", "dismissed", "Jordan", "=HYPERLINK(1)"),
        ("NT001", "A2", "new", None, None),
        ("VM002", "K2", "new", None, None),
    ]
    assert str(result.findings["reviewed_at"].iloc[0]) == "2026-04-07 09:15:00-07:00"


def test_a_reviews_file_given_explicitly_replaces_the_bundles(tmp_path):
    bundle = reviewed_bundle(tmp_path, DISMISS_MS001)
    other = write_reviews(tmp_path / "march-review.csv", CONFIRM_NT001)

    result = audit(bundle, reviews=other)

    assert result.reviews_file == other
    assert marks(result)[:2] == [
        ("MS001", "A2", "new", None, None),
        ("NT001", "A2", "confirmed", "Jordan", None),
    ]
    assert audit(bundle).reviews_file == bundle.path / "reviews.csv"


def test_month_applies_reviews_and_lists_only_that_periods_stale_ones(tmp_path):
    bundle = reviewed_bundle(
        tmp_path,
        "VM002,K2,dismissed,Casey,2026-04-08 10:00,Fee waived for this client",
        "MS001,A1,confirmed,Jordan,2026-03-03 08:00,",  # March, no longer fires
        "NT001,A9,dismissed,Jordan,2026-03-03 08:00,",  # cannot be dated
    )

    april = audit(bundle, month="2026-04")
    march = audit(bundle, month="2026-03")

    assert marks(april) == [("VM002", "K2", "dismissed", "Casey", "Fee waived for this client")]
    assert rates(april, "VM002") == {
        "VM002": {"opportunities": 1, "findings": 0, "compliance": 1.0}
    }
    assert stale(april) == [("NT001", "A9", "no appointment A9 in the bundle")]
    assert marks(march) == [
        ("MS001", "A2", "new", None, None),
        ("NT001", "A2", "new", None, None),
    ]
    assert stale(march) == [
        ("MS001", "A1", "MS001 no longer finds a problem with appointment A1"),
        ("NT001", "A9", "no appointment A9 in the bundle"),
    ]


def test_a_comment_whose_quote_is_never_closed_sets_aside_its_review_not_the_next(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(
        HEADER
        + 'MS001,A2,dismissed,Jordan,2026-04-01T09:30:00Z,"unterminated\n'
        + "VM001,CT1,confirmed,Jordan,2026-04-01T09:31:00Z,named the clinic\n"
    )

    loaded = load_reviews(path, TZ)

    assert loaded.decided[["rule", "subject_id", "decision", "comment", "source_line"]].to_dict(
        "records"
    ) == [
        {
            "rule": "VM001",
            "subject_id": "CT1",
            "decision": "confirmed",
            "comment": "named the clinic",
            "source_line": 3,
        }
    ]
    assert loaded.rejected[["line", "reason"]].values.tolist() == [
        [
            2,
            "opens a quote that does not close where a field ends, so its record would take in "
            "the line after it: this line is set aside, and those are read again as records",
        ]
    ]


def test_load_reviews_reads_windows_1252_and_keeps_one_review_per_finding(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(
        (
            HEADER
            + "MS001,A2,dismissed,Jos\u00e9,2026-04-01T09:30:00Z,didn\u2019t reach them\r\n"
            + "MS001,A2,confirmed,Jordan,2026-03-31,\r\n"
        ).encode("cp1252")
    )

    loaded = load_reviews(path, TZ)
    reviews, rejected = loaded.decided, loaded.rejected

    assert rejected.empty
    assert reviews[["client_id", "evidence"]].isna().all(axis=None)  # a file from before them
    assert reviews.drop(columns=["reviewed_at", "client_id", "evidence"]).to_dict("records") == [
        {
            "rule": "MS001",
            "subject_id": "A2",
            "decision": "dismissed",
            "reviewer": "Jos\u00e9",
            "comment": "didn\u2019t reach them",
            "source_line": 2,
        }
    ]
    assert str(reviews["reviewed_at"].iloc[0]) == "2026-04-01 02:30:00-07:00"


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (None, "The reviews file {path} does not exist."),
        (b"", "reviews.csv is empty: it has no header row and no records."),
        (
            b"rule,subject_id,decision,reviewed_at\nMS001,A2,dismissed,2026-04-01\n",
            "reviews.csv has no 'reviewer' column, which the reviews table requires. Required "
            "columns: rule, subject_id, decision, reviewer, reviewed_at. Columns found: rule, "
            "subject_id, decision, reviewed_at.",
        ),
        (
            b"rule;subject_id;decision;reviewer;reviewed_at\nMS001;A2;dismissed;QA1;2026-04-01\n",
            "reviews.csv is separated by semicolons, not commas: save it as CSV (comma "
            "delimited) and run again, or, where the comma is the decimal mark (Excel's CSV "
            "then writes semicolons again), save it as an Excel Workbook (.xlsx), which "
            "auditkit reads as well.",
        ),
    ],
    ids=["missing", "empty", "no-reviewer-column", "semicolons"],
)
def test_an_unusable_reviews_file_stops_the_audit(tmp_path, contents, message):
    bundle = reviewed_bundle(tmp_path)
    path = tmp_path / "reviews.csv"
    if contents is not None:
        path.write_bytes(contents)

    with pytest.raises(BundleError) as caught:
        audit(bundle, reviews=path)

    assert str(caught.value) == message.format(path=path)
