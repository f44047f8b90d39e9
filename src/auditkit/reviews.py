"""Carry a supervisor's review decisions from one audit to the next.

A reviews file (``reviews.csv`` in the bundle, or one named on the command line) holds one row
per decision: rule, subject_id, decision (confirmed or dismissed), reviewer, reviewed_at,
comment, and what the reviewer saw: the finding's client_id and its (masked) evidence. It is
read like a bundle table: same encodings, repairs and timestamp formats, and a bad row is set
aside with its line, never dropped. A finding reviewed more than once takes its latest
decision; the earlier ones are history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.columns import day_start, is_in
from auditkit.loading import check_named_file, read_table_file
from auditkit.output import neutralise_formulas
from auditkit.parsing import repair_text
from auditkit.rules import RULES
from auditkit.schemas import REVIEWS, SUBJECT_TIMES, RejectedRows
from auditkit.tables import REJECTED_COLUMNS
from auditkit.validation import COVERAGE_COLUMNS, Bundle, validate_table

KEY = ["rule", "subject_id"]
REVIEW_COLUMNS = [c.name for c in REVIEWS.columns]
STALE_COLUMNS = [*REVIEW_COLUMNS, "source_line", "at", "reason"]


def check_reviews_file(path: Path) -> None:
    """Refuse a reviews file that is not there (BundleError): asked before an audit's work, so a
    mistyped --reviews does not stop it after the rules have run."""
    check_named_file(path, "The reviews file", "the reviews file")


@dataclass(frozen=True)
class LoadedReviews:
    """A reviews file as an audit uses it."""

    decided: pd.DataFrame  # the latest review of each finding, with its source_line
    rejected: pd.DataFrame  # rows set aside: file, line, record_id (rule and subject), reason
    coverage: pd.DataFrame  # one row, as a bundle's files have: rows read, accepted, rejected


def no_reviews(tz: str) -> LoadedReviews:
    """What a bundle nobody has reviewed yet has: no file, so no rows read or set aside, and no
    decisions, typed like loaded ones."""
    columns = dict.fromkeys(REVIEW_COLUMNS, "str") | {
        "reviewed_at": f"datetime64[us, {tz}]",
        "source_line": "int64",
    }
    return LoadedReviews(
        pd.DataFrame({c: pd.Series(dtype=dtype) for c, dtype in columns.items()}),
        RejectedRows.validate(pd.DataFrame(columns=REJECTED_COLUMNS)),
        pd.DataFrame(columns=COVERAGE_COLUMNS),
    )


def load_reviews(path: Path | str, tz: str) -> LoadedReviews:
    """The latest review of each finding, the rows set aside, and the file's row counts.

    Times without an offset are clinic-local (`tz`). Of two reviews of one finding, the later
    `reviewed_at` wins; on a tie, the one further down the file. A review dated after tomorrow
    (a mistyped year, say) is set aside: as the latest, it would silently outrank every real
    review of its finding. A rejected row is named by its rule and subject_id, as typed. A
    file that cannot be used at all raises BundleError.
    """
    path = Path(path)
    check_reviews_file(path)
    raw = read_table_file(path, REVIEWS)
    reviews, rejected = validate_table(raw, REVIEWS, tz, {})
    reviews["rule"] = reviews["rule"].str.upper()  # 'ms001' is MS001
    unknown = reviews[~reviews["rule"].isin(list(RULES))]
    # Tomorrow's grace: a reviewer's clock, or zone, may run ahead of this machine's.
    after_tomorrow = day_start(pd.Series([pd.Timestamp.now(tz)]), days=2)[0]
    ahead = reviews[reviews["reviewed_at"] >= after_tomorrow]
    typed = raw.frame.set_axis(raw.lines.to_numpy())  # each row as written, by its line

    def set_aside(rows: pd.DataFrame, column: str, reasons: pd.Series | str) -> pd.DataFrame:
        return pd.DataFrame(
            {"file": raw.file, "line": rows["source_line"], "column": column, "reason": reasons},
            columns=REJECTED_COLUMNS,
        )

    written_at = typed["reviewed_at"].reindex(ahead["source_line"]).to_numpy()
    rejected = pd.concat(
        [
            rejected,
            set_aside(
                unknown,
                "rule",
                "rule '" + unknown["rule"] + f"' is not one of: {', '.join(RULES)}",
            ),
            set_aside(
                ahead,
                "reviewed_at",
                "reviewed_at '"
                + pd.Series(written_at, index=ahead.index, dtype="str")
                + "' is in the future: a review is dated when it is made",
            ),
        ],
        ignore_index=True,
    ).sort_values("line", kind="stable", ignore_index=True)
    named = typed["rule"].fillna("").str.upper() + " " + typed["subject_id"].fillna("")
    # (a row of the wrong width is not in the frame: it keeps the first field it was named by)
    by_line = named.str.strip().reindex(rejected["line"]).to_numpy()
    rejected["record_id"] = rejected["record_id"].where(pd.isna(by_line), by_line)
    latest = (
        reviews.drop(index=unknown.index.union(ahead.index))
        .sort_values(["reviewed_at", "source_line"])
        .drop_duplicates(KEY, keep="last")
        .sort_values("source_line")
    )
    lines = rejected["line"].nunique()
    coverage = pd.DataFrame(
        [["reviews", raw.file, raw.encoding, raw.rows_read, raw.rows_read - lines, lines]],
        columns=COVERAGE_COLUMNS,
    )
    return LoadedReviews(
        latest[[*REVIEW_COLUMNS, "source_line"]].reset_index(drop=True),
        RejectedRows.validate(rejected),
        coverage,
    )


def as_recorded(evidence: pd.Series) -> pd.Series:
    """Evidence as a reviews file gives it back: neutralised for spreadsheets when written
    ("=..." as "'=..."), trimmed and repaired when read. Compared so, evidence the queue saved
    reads as unchanged while the finding's is."""
    return repair_text(neutralise_formulas(evidence.to_frame()).iloc[:, 0])


def apply_reviews(
    findings: pd.DataFrame,
    reviews: pd.DataFrame,
    mask: Callable[[pd.Series], pd.Series] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each finding marked new, confirmed or dismissed, with the reviewer, time and comment; and
    the reviews held back though their finding fires (STALE_COLUMNS, `at` the finding's).

    A review that recorded its finding's client or evidence applies only while the finding
    still has them: else it was made for another bundle's record of the same id, or before the
    record changed, and would decide a finding its reviewer never saw. Held back, it leaves the
    finding new, to be decided again. A review without them (an older file, one written by
    hand) applies as its rule and subject say. `mask` gives the evidence as the review queue
    records it (masked) when `findings` show it unmasked.
    """
    now = findings[[*KEY, "client_id", "evidence", "at"]].rename(
        columns={"client_id": "finding_client", "evidence": "finding_evidence"}
    )
    checked = reviews.merge(now, on=KEY, how="left", validate="one_to_one")
    fires = checked["at"].notna()
    other_client = fires & checked["client_id"].notna()
    other_client &= checked["client_id"] != checked["finding_client"]
    compared = (fires & checked["evidence"].notna() & ~other_client).to_numpy()
    evidence = checked.loc[compared, "finding_evidence"]
    if compared.any():
        evidence = as_recorded(mask(evidence) if mask is not None else evidence)
    changed = np.zeros(len(checked), dtype=bool)
    changed[compared] = (checked.loc[compared, "evidence"] != evidence).to_numpy()
    reason = np.select(
        [other_client.to_numpy(), changed],
        [
            "reviewed for client "
            + checked["client_id"]
            + "; this finding is "
            + ("client " + checked["finding_client"] + "'s").fillna("charged to no client")
            + ": a reviews file from another bundle?",
            "the record changed since it was reviewed: the evidence now reads '"
            + evidence.reindex(checked.index)
            + "'",
        ],
        "",
    )
    held = reason != ""
    decided = reviews[~held][[*KEY, "decision", "reviewer", "reviewed_at", "comment"]].rename(
        columns={"decision": "review", "comment": "review_comment"}
    )
    marked = findings.merge(decided, on=KEY, how="left", validate="many_to_one")
    return (
        marked.assign(review=marked["review"].fillna("new")),
        checked[held].assign(reason=reason[held])[STALE_COLUMNS],
    )


# The times of the records among `subjects` (subject_type, subject_id) it finds, a row each:
# subject_type, subject_id, at. A bundle's (subject_times), or the Dask engine's partitions'.
SubjectTimes = Callable[[pd.DataFrame], pd.DataFrame]


def subject_times(bundle: Bundle) -> SubjectTimes:
    """Look subjects up among the bundle's records."""
    tables = {**bundle.tables, "calls": bundle.calls}

    def times(subjects: pd.DataFrame) -> pd.DataFrame:
        kinds = subjects["subject_type"].to_numpy()
        return pd.concat(
            [
                _rows_among(tables[table], id_column, subjects["subject_id"][kinds == kind])
                .loc[:, [id_column, at_column]]
                .set_axis(["subject_id", "at"], axis=1)
                .assign(subject_type=kind)[["subject_type", "subject_id", "at"]]
                for kind, (table, id_column, at_column) in SUBJECT_TIMES.items()
            ],
            ignore_index=True,
        )

    return times


def unmatched_reviews(
    reviews: pd.DataFrame,
    findings: pd.DataFrame,
    times: SubjectTimes,
    held: pd.DataFrame,
    pending: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The reviews not applied, in the file's order: those whose finding does not fire, each
    with its subject's time (`at`, looked up by `times`) and why, and those `held` back
    (apply_reviews'). A review of a subject `pending` (not judged yet: its deadline runs on) is
    neither: its finding may fire again once it is judged, and the review apply then.

    `at` is NaT when the subject is no longer in the bundle at all; the caller decides which
    of these belong to the audited period.
    """
    kept = findings[KEY] if pending is None else pd.concat([findings[KEY], pending[KEY]])
    fired = reviews.merge(kept, on=KEY, how="left", indicator=True)["_merge"] == "both"
    gone = reviews[~fired.to_numpy()]
    kinds = gone["rule"].map({code: rule.subject for code, rule in RULES.items()})
    # Only the subjects of these reviews: every record's time, a million appointments' and
    # more, came to 70 MB at the audit's peak, for none at all on a first audit.
    subjects = pd.DataFrame({"subject_type": kinds, "subject_id": gone["subject_id"]})
    dated = gone.assign(subject_type=kinds).merge(
        times(subjects), on=["subject_type", "subject_id"], how="left"
    )
    subject = dated["subject_type"] + " " + dated["subject_id"]
    reason = np.where(
        dated["at"].isna(),
        "no " + subject + " in the bundle",
        dated["rule"] + " no longer finds a problem with " + subject,
    )
    return pd.concat([dated.assign(reason=reason)[STALE_COLUMNS], held]).sort_values(
        "source_line", kind="stable", ignore_index=True
    )


def _rows_among(frame: pd.DataFrame, column: str, ids: pd.Series) -> pd.DataFrame:
    """The rows of `frame` whose `column` is among `ids`: none, without looking, for no ids (a
    first audit has no reviews, and a million appointments' ids are not hashed for nothing)."""
    if ids.empty:
        return frame.iloc[:0]
    return frame.loc[is_in(frame[column], ids).to_numpy()]
