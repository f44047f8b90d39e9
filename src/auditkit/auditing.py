"""Run every policy rule over a validated bundle: findings, and compliance with honest rates."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from auditkit.columns import strictly_increasing, take_text
from auditkit.deidentify import EXTRACT_RECORD
from auditkit.errors import AuditkitError
from auditkit.loading import find_table_file
from auditkit.memory import release_unused_memory
from auditkit.months import LAST_MONTH, month_problem
from auditkit.output import counted
from auditkit.policy import Policy
from auditkit.privacy import findings_masker
from auditkit.reviews import (
    STALE_COLUMNS,
    SubjectTimes,
    apply_reviews,
    check_reviews_file,
    load_reviews,
    no_reviews,
    subject_times,
    unmatched_reviews,
)
from auditkit.rules import RULES, SEVERITY_ORDER, Checked, Rule, unchecked_rules
from auditkit.rules.base import (
    PENDING_COLUMNS,
    clock,
    month_of,
    months_of,
    nothing_examined,
    nothing_pending,
)
from auditkit.rules.context import AuditContext
from auditkit.schemas import CALLS, SUBJECT_TIMES, TABLES, Findings
from auditkit.tables import REJECTED_COLUMNS
from auditkit.validation import COVERAGE_COLUMNS, Bundle

FINDING_COLUMNS = list(Findings.to_schema().columns)
REVIEW_MARKS = ["review", "reviewer", "reviewed_at", "review_comment"]
CHECK_COLUMNS = [c for c in FINDING_COLUMNS if c not in REVIEW_MARKS]  # what a rule reports
# A subject no rule could judge yet (its deadline runs past the audit's records), by rule.
PENDING_RESULT_COLUMNS = ["rule", *PENDING_COLUMNS]
COMPLIANCE_COLUMNS = ["opportunities", "findings", "compliance"]
# Counted opportunities (count_opportunities): how many subjects each rule examined per
# clinician and month, all the report, dashboard and compliance tables ask of them.
COUNTED_BY = ["staff_id", "month"]
COUNT = "count"
# Each table of a row per event counted per clinician and month (count_records).
RECORD_COUNT_COLUMNS = ["table", "staff_id", "month", "records", "no_shows"]


_GROUPING = threading.Lock()  # (module-wide, so a result stays picklable)


# Tables a clinic's export always has rows in: one exported as a header alone is a caveat.
_EXPECTED_ROWS = ("appointments", "contacts", "notes")


@dataclass
class AuditResult:
    """Findings, the records each rule examined, and what loading set aside.

    Dismissed findings stay in `findings` (review == "dismissed") but count against no
    compliance rate. `stale_reviews` are reviews not applied in the audited period: their finding
    no longer fires, or is not the one reviewed (see `audit`).
    """

    bundle: Bundle
    findings: pd.DataFrame
    # A row per subject a rule examined (rule, subject_id, client_id, staff_id, at, month), or,
    # from the Dask engine, counted per rule, clinician and month (count_opportunities).
    opportunities: pd.DataFrame
    month: str | None = None
    stale_reviews: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STALE_COLUMNS))
    rejected_reviews: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS)
    )
    reviews_file: Path | None = None
    # The reviews file's rows read, accepted and set aside, as the bundle's files have theirs.
    reviews_coverage: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=COVERAGE_COLUMNS)
    )
    names_shown: bool = False  # --show-names: evidence keeps client names and phone numbers
    # A month's audit: compliance per rule and month over the whole bundle, for its trend.
    every_month: pd.DataFrame | None = None
    # A clinician's audit (staff_ids): their records' findings and figures; () is the clinic's.
    clinicians: tuple[str, ...] = ()
    # Subjects left to a later audit (PENDING_RESULT_COLUMNS): failing so far, but their
    # deadline ran past the records the audit was given (check_rules' as_of).
    pending: pd.DataFrame = field(default_factory=lambda: _no_pending())
    # compliance_by's tables, each grouped once: a report and the CLI ask for the same ones.
    _tables: dict[tuple[str, ...], pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # record_counts' counts, by the tables counted.
    _records: dict[tuple[str, ...], pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Each grouping column's codes and sorted values, hashed once for all those tables.
    _levels: dict[str, tuple[np.ndarray, pd.Index]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def rejected(self) -> pd.DataFrame:
        """Every row set aside: the bundle's tables', then the reviews file's."""
        if self.rejected_reviews.empty:
            return self.bundle.rejected
        return pd.concat([self.bundle.rejected, self.rejected_reviews], ignore_index=True)

    @property
    def coverage(self) -> pd.DataFrame:
        """Rows read, accepted and rejected per file: the bundle's, then the reviews file's."""
        if self.reviews_coverage.empty:
            return self.bundle.coverage
        return pd.concat([self.bundle.coverage, self.reviews_coverage], ignore_index=True)

    @property
    def unchecked(self) -> dict[str, str]:
        """Rules the audit's policy left unable to run, by code, each with why: they examined
        nothing, so they have no compliance figure."""
        return unchecked_rules(self.bundle.policy)

    @property
    def rows_rejected(self) -> int:
        """Input rows set aside (the bundle's and the reviews file's): a row may have several
        problems, each its own line of `rejected`."""
        return len(self.rejected[["file", "line"]].drop_duplicates())

    @property
    def reviews_summary(self) -> str:
        """What the reviews file did, in a sentence the CLI and the report share: findings per
        decision, and how many reviews no longer apply."""
        if self.reviews_file is None:
            return "No reviews file: every finding is new."
        marks = self.findings["review"].value_counts()
        counts = ", ".join(f"{marks.get(m, 0)} {m}" for m in ("confirmed", "dismissed", "new"))
        stale = f"{len(self.stale_reviews)} stale" + (" in the bundle" if self.clinicians else "")
        summary = f"Reviews from {self.reviews_file}: {counts}; {stale}"
        if set_aside := self.reviews_coverage["rejected"].sum():
            summary += f"; {counted(int(set_aside), 'row')} of the file set aside (rejected.csv)"
        return summary + "."

    @cached_property
    def caveats(self) -> list[str]:
        """What to know before reading the figures, a sentence each, for the CLI and the report
        to say alike: a figure that is missing must not pass for one that is good. Worked out
        once: an empty month's looks at every table's times."""
        empty = [] if self.month is None or len(self.opportunities) else self._empty_month()
        unchecked = [f"{code} not checked: {why}." for code, why in self.unchecked.items()]
        zone = self._built_in_zone()
        return zone + self._tables_without_rows() + empty + unchecked + self._not_judged_yet()

    def _built_in_zone(self) -> list[str]:
        """A bundle audited under a policy naming no time zone (no policy file, or one without
        [clinic] timezone): its times written without an offset, and every month and day, are
        counted in the built-in zone, hours off for a clinic elsewhere (an import into such a
        bundle is refused for that reason)."""
        policy = self.bundle.policy
        if policy.zone_named:
            return []
        which = (
            "No policy file"
            if policy.source == Policy.source
            else f"The policy ({policy.source}) names no time zone"
        )
        return [
            f"{which}: times written without an offset were read as clinic time in "
            f"{policy.clinic.timezone}, the built-in zone, and months and days are counted "
            "there. A clinic elsewhere names its zone in policy.toml ([clinic] timezone)."
        ]

    def _not_judged_yet(self) -> list[str]:
        """Missed sessions whose deadline had not passed when the records were taken, a
        sentence per rule: left out of its figures, not counted as kept or broken, so a month
        audited on its last day says which to look at again."""
        said = []
        for code, waiting in self.pending.groupby("rule", sort=False):
            subjects = counted(len(waiting), RULES[code].subject)
            last = clock(waiting["due"].nlargest(1)).iloc[0]
            said.append(
                f"{code} not judged yet for {subjects}: nothing due was in the records yet, and "
                f"the deadline had not passed when the audit ran (the last is {last}). Audit "
                "again after it."
            )
        return said

    def _tables_without_rows(self) -> list[str]:
        """Appointments, contacts or notes exported as a header alone: no clinic runs without
        them, so the figures would describe an export gone wrong (no contacts: every missed
        session uncalled) as a clinic's record."""
        files = self.coverage[self.coverage["table"].isin(_EXPECTED_ROWS)]
        return [
            f"{file} holds no records, only its header: the rules that look in it find nothing "
            "there. Check the export before reading their figures."
            for file in files.loc[files["rows_read"] == 0, "file"]
        ]

    def _empty_month(self) -> list[str]:
        """A month in which nothing was examined because nothing happened, and the months the
        bundle (or, in a clinician's audit, their records) does hold, so a mistyped --month, or
        a trainee who had not started, shows as one rather than as a clean month."""
        held = record_months(self.record_counts(), self.clinicians)
        if self.month in held:  # records the rules don't examine: their table says n/a
            return []
        whose = f"of {', '.join(self.clinicians)} " if self.clinicians else ""
        owner = "Their" if self.clinicians else "The bundle's"
        if not held:
            holder = "They have" if self.clinicians else "The bundle holds"
            span = f"{holder} no appointments, contacts, notes or calls."
        elif held[0] == held[-1]:
            span = f"{owner} records are all from {held[0]}."
        else:
            span = f"{owner} records run from {held[0]} to {held[-1]}."
        return [f"No records {whose}in {self.month}: nothing was examined. {span}"]

    def record_counts(self, *tables: str) -> pd.DataFrame:
        """The bundle's records counted per table, clinician and month (count_records), of
        `tables` or of all four: what the trend and an empty month's caveat read of them,
        whichever engine holds them. Counted once per result."""
        tables = tables or tuple(sorted(table for table, _, _ in SUBJECT_TIMES.values()))
        with _GROUPING:  # the page and the workbook, written at once, ask for the same counts
            if tables not in self._records:
                counted = self.bundle.counted_records
                if counted is None:
                    held = {**self.bundle.tables, CALLS.name: self.bundle.calls}
                    counted = count_records({table: held[table] for table in tables})
                kept = counted[counted["table"].isin(tables)].reset_index(drop=True)
                self._records[tables] = kept
        return self._records[tables]

    def appointments_by_month(self, clinicians: Sequence[str] = ()) -> pd.DataFrame:
        """Appointments scheduled, whatever their status, and no-shows per month ('YYYY-MM',
        the index), of `clinicians` or of everyone: the trend's no-show rate."""
        counts = self.record_counts("appointments")  # (the others are not counted for this)
        if clinicians:
            counts = counts[counts["staff_id"].isin(clinicians)]
        by_month = counts.groupby("month")[["records", "no_shows"]].sum()
        return by_month.rename(columns={"records": "appointments"})

    @property
    def compliance(self) -> pd.DataFrame:
        """Per rule: opportunities, findings, compliance rate.

        A rule that examined nothing has no rate (NaN): nothing kept the policy or broke it, and
        a 100 % there would read as a rule met.
        """
        return self.compliance_by()

    def compliance_by(self, *keys: str) -> pd.DataFrame:
        """Compliance per rule and per any of: staff_id, client_id, month.

        `findings` counts only findings not dismissed: a dismissed one was judged no breach.
        Opportunities counted per rule, clinician and month (the Dask engine's) have no client
        to group by. Each table is grouped once per result (over a million opportunities, a
        tenth of a second each); callers get a copy to change as they like.
        """
        if self.counted and (uncounted := [k for k in keys if k not in COUNTED_BY]):
            raise ValueError(
                f"these opportunities are counted per {', '.join(COUNTED_BY)}, not per "
                f"{', '.join(uncounted)}: audit with the pandas engine for that table"
            )
        with _GROUPING:  # the page and the workbook, written at once, ask for the same tables
            if keys not in self._tables:
                self._tables[keys] = self._compliance_table(keys)
        return self._tables[keys].copy()

    @property
    def counted(self) -> bool:
        """Whether the opportunities are counted (count_opportunities), not a row a subject."""
        return COUNT in self.opportunities.columns

    def _factorized(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """A grouping column's codes (-1: missing) and its distinct values, sorted. The codes
        are kept as the smallest integers that hold them: a byte a row for the rule."""
        if column not in self._levels:
            values = self.opportunities[column]
            if column in _CODED and isinstance(values.dtype, pd.CategoricalDtype):
                # Coded once already, its categories in order (_opportunities).
                codes, values = values.cat.codes.to_numpy(), values.cat.categories
            else:
                codes, values = pd.factorize(values, sort=True)
            self._levels[column] = codes.astype(np.min_scalar_type(-len(values) - 1)), values
        return self._levels[column]

    def _compliance_table(self, keys: tuple[str, ...]) -> pd.DataFrame:
        # Counted over integer codes, one number per combination of keys (rows missing a key
        # are left out, as groupby leaves them), in the sorted order groupby gives. Findings
        # are counted by the same keys: each is an opportunity of its rule with its client,
        # clinician and time (tests/test_auditing.py holds that for every rule).
        by = ["rule", *keys]
        codes, levels = zip(*(self._factorized(column) for column in by), strict=True)
        shape = tuple(len(level) for level in levels)
        combined = _combined(codes, shape)
        weights = self.opportunities[COUNT].to_numpy() if self.counted else None
        if weights is not None:
            weights = weights[combined >= 0]
        combined = combined[combined >= 0]
        present, (opportunities,) = _tally(combined, int(np.prod(shape)), weights)
        # Each standing finding at its combination's place among those examined.
        found = _combined(self._finding_codes(by, levels), shape)
        place = np.searchsorted(present, found)
        matched = (found >= 0) & (place < len(present))
        matched[matched] = present[place[matched]] == found[matched]
        findings = np.bincount(place[matched], minlength=len(present))
        at = np.unravel_index(present, shape)
        table = pd.DataFrame(
            {
                **{
                    column: level.take(at[i]).astype("str")
                    for i, (column, level) in enumerate(zip(by, levels, strict=True))
                },
                "opportunities": opportunities.astype("int64"),
                "findings": findings.astype("int64"),
            }
        ).set_index(by)
        if not keys:
            table = table.reindex(list(RULES), fill_value=0)
            table.index.name = "rule"
        rate = 1 - table["findings"] / table["opportunities"].where(table["opportunities"] > 0)
        table["compliance"] = rate.round(4)  # NaN where nothing was examined: no figure
        return table[COMPLIANCE_COLUMNS].reset_index()

    def _finding_codes(self, by: list[str], levels: tuple[pd.Index, ...]) -> list[np.ndarray]:
        """The findings nobody dismissed, each key coded as the opportunities' (-1: none)."""
        standing = self.findings[self.findings["review"] != "dismissed"]
        return [
            level.get_indexer(month_of(standing["at"]) if column == "month" else standing[column])
            for column, level in zip(by, levels, strict=True)
        ]


def _tally(
    combined: np.ndarray, size: int, *weights: np.ndarray | None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The combinations present among `combined` (codes below `size`), in order, and for each
    of `weights` (None: one a row) its sum over each combination: bincount over every
    combination, or over those present where there are far more combinations than rows
    (clients by month, say)."""
    if size <= 2 * len(combined):
        present = np.flatnonzero(np.bincount(combined, minlength=size))
        return present, [np.bincount(combined, w, minlength=size)[present] for w in weights]
    present, inverse = np.unique(combined, return_inverse=True)
    return present, [np.bincount(inverse, w, minlength=len(present)) for w in weights]


def _combined(codes: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """One number per combination of codes (ravel_multi_index's), -1 where a code is missing."""
    kept = np.all([code >= 0 for code in codes], axis=0)
    combined = np.full(len(kept), -1, dtype=np.int64)
    if len(shape) and min(shape) > 0:
        combined[kept] = np.ravel_multi_index([code[kept] for code in codes], shape)
    return combined


def count_records(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The records of each table of a row per event (SUBJECT_TIMES) counted per clinician and
    clinic-local month (RECORD_COUNT_COLUMNS), with the appointments' no-shows: all that the
    trend and a month's audit ask of them, so the Dask engine's driver holds these counts
    rather than the records. Tables not given are left out; counts made apart (each piece's)
    are added up by add_up_records, in the same order: by table, clinician and month, a
    missing clinician or month after the others. Counted over codes, not grouped by text."""
    counted = []
    for table, _id_column, at in sorted(SUBJECT_TIMES.values()):
        if table not in tables:
            continue
        frame = tables[table]
        staff = frame["staff_id"] if "staff_id" in frame else pd.Series(None, frame.index, "str")
        staff_codes, staff_ids = pd.factorize(staff, sort=True)
        months = months_of(frame[at])
        keys = {
            "staff_id": (staff_codes, pd.Index(staff_ids, dtype="str")),
            "month": (months.cat.codes.to_numpy(), pd.Index(months.cat.categories, dtype="str")),
        }
        # A missing clinician or month: a code of its own, after every value.
        codes = [np.where(code < 0, len(values), code) for code, values in keys.values()]
        shape = tuple(len(values) + 1 for _code, values in keys.values())
        no_show = (
            frame["status"] == "no_show" if "status" in frame else pd.Series(False, frame.index)
        )
        present, (records, no_shows) = _tally(
            _combined(codes, shape), int(np.prod(shape)), None, no_show.to_numpy(dtype=bool)
        )
        rows = pd.RangeIndex(len(present))
        named = {
            column: take_text(values.to_series(), np.where(at < len(values), at, -1), rows)
            for (column, (_code, values)), at in zip(
                keys.items(), np.unravel_index(present, shape), strict=True
            )
        }
        numbers = {"records": records.astype("int64"), "no_shows": no_shows.astype("int64")}
        counted.append(pd.DataFrame({"table": table, **named, **numbers}, index=rows))
    return pd.concat(counted, ignore_index=True) if counted else add_up_records([])


def add_up_records(counts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Records counted apart (count_records: per table, per piece) as one count."""
    if not counts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in RECORD_COUNT_COLUMNS[:3]}).assign(
            records=np.int64(0), no_shows=np.int64(0)
        )
    together = pd.concat(counts, ignore_index=True).astype({"staff_id": "str", "month": "str"})
    return _summed(together, ["table", "staff_id", "month"])[RECORD_COUNT_COLUMNS]


def _summed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The frame's other columns summed per combination of `keys`, in order; missing keys
    (a call's clinician, say) are a group of their own, not left out."""
    return frame.groupby(keys, observed=True, dropna=False, sort=True).sum().reset_index()


def record_months(counts: pd.DataFrame, clinicians: Sequence[str] = ()) -> list[str]:
    """The months, in order, in which records happened (clinic-local, as a month's audit
    counts them), from count_records' counts; with `clinicians`, their appointments, contacts
    and notes (the phone system's log names no clinician)."""
    held = counts["records"] > 0
    if clinicians:
        held &= (counts["table"] != CALLS.name) & counts["staff_id"].isin(clinicians)
    return sorted(set(counts.loc[held, "month"].dropna()))


# Rules checked at once. Two keep both cores of a small laptop busy; more add to the peak
# memory (each rule's working copies) for little more speed.
RULE_THREADS = min(2, os.cpu_count() or 1)
# The rules that match phrases in tens of thousands of messages or notes, or pair hundreds of
# thousands of calls, started first (in this order) so the threads finish together rather than
# one working on alone at the end. NT002 reads notes, VM001 calls: the first two share no work,
# so neither waits for the other to finish what both need.
LONGEST_RULES = ("NT002", "VM001", "VM002", "PC001", "LG001")
# An opportunity's rule, a byte a row rather than its code's text; in sorted order, as the
# compliance tables list rules.
RULE_DTYPE = pd.CategoricalDtype(sorted(RULES))


def check_whole(bundle: Bundle, purpose: str = "audited again") -> None:
    """Refuse a bundle cut to what a report reads (Bundle.for_report: the result of the CLI's
    audit, or of the Dask engine's, which never holds the text) for what reads every column, the
    rules or the review queue's cards, which would stop midway on a column it no longer has."""
    held = {**bundle.tables, CALLS.name: bundle.calls}
    for spec in (*TABLES.values(), CALLS):
        if missing := [c.name for c in spec.columns if c.name not in held[spec.name]]:
            raise ValueError(
                f"This bundle's {spec.name} have no {', '.join(missing)}: it holds only what a "
                f"report reads, and cannot be {purpose}. Load the bundle and audit that."
            )


def check_rules(
    bundle: Bundle,
    progress: Callable[[str], None] | None = None,
    threads: int | None = None,
    as_of: pd.Timestamp | None = None,
) -> dict[str, Checked]:
    """Every rule's opportunities (each subject once, its rule a categorical) and findings, by
    rule code, unsorted and unmasked.

    The part of an audit that looks within one client at a time, so the Dask engine runs it per
    client partition; `finish_audit` does the rest, over the whole bundle.

    Rules are checked `threads` at a time (default RULE_THREADS): most of a rule's work is in
    numpy and Arrow, which let another rule's Python run meanwhile. A rule the policy leaves
    unable to run (`Rule.cannot_check`) is not run: it examines nothing. A deadline that runs
    past `as_of` (when the records were taken; by default now) is not judged: its subject is
    pending.
    """
    check_whole(bundle)
    say = progress or (lambda _message: None)
    zone = bundle.policy.clinic.timezone
    timestamp = {"at": f"datetime64[us, {zone}]"}
    timestamps = {**timestamp, "due": timestamp["at"]}
    ctx = AuditContext(bundle, as_of)
    unchecked = unchecked_rules(bundle.policy)

    def check(code: str, rule: Rule, ctx: AuditContext) -> Checked:
        result = nothing_examined() if code in unchecked else rule.check(ctx)
        found = result.findings.assign(
            rule=code, severity=rule.severity, subject_type=rule.subject
        )[CHECK_COLUMNS].astype(timestamp)
        # A subject counts once however many ways a rule came to it (a no-show, two calls);
        # subjects in id order, as most rules list them, can hold no repeat to drop.
        examined = result.opportunities
        if not strictly_increasing(pa.array(examined["subject_id"].array)):
            examined = examined.drop_duplicates("subject_id")
        rule_codes = np.full(len(examined), RULE_DTYPE.categories.get_loc(code), np.int8)
        examined = examined.assign(rule=pd.Categorical.from_codes(rule_codes, dtype=RULE_DTYPE))
        pending = result.pending.assign(rule=code)[PENDING_RESULT_COLUMNS]
        return Checked(examined.astype(timestamp), found, pending.astype(timestamps))

    checked = {}
    with ThreadPoolExecutor(threads or RULE_THREADS) as pool:
        first = {code: place for place, code in enumerate(LONGEST_RULES)}
        started = sorted(RULES, key=lambda code: first.get(code, len(first)))  # (a stable sort)
        pending = {code: pool.submit(check, code, RULES[code], ctx) for code in started}
        for code, rule in RULES.items():  # results in the registry's order, however they ran
            checked[code] = pending.pop(code).result()
            outcome = counted(len(checked[code].findings), "finding")
            if code in unchecked:
                outcome = f"not checked: {unchecked[code]}"
            say(f"{code} {rule.name}: {outcome}")
            release_unused_memory()  # a rule's working copies, back to the OS
    # The records the rules shared and the phrases they matched, handed back before the
    # findings are put together rather than held (allocators keep freed pages a while).
    del ctx
    release_unused_memory()
    return checked


def finish_audit(
    bundle: Bundle,
    checked: dict[str, Checked],
    reviews: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    show_names: bool = False,
    times: SubjectTimes | None = None,
) -> AuditResult:
    """Findings sorted, masked and marked with reviews; every rule's opportunities in one frame.

    These steps need the whole bundle: masking hides every client's name (a message may name
    another client), and a review is stale by its subject's time wherever that subject is
    (looked up by `times`; by default among the bundle's records). Empties `checked`: each
    rule's frames are let go of once they are put together.
    """
    say = progress or (lambda _message: None)
    tz = bundle.policy.clinic.timezone
    text_columns = [c for c in CHECK_COLUMNS if c != "at"]
    # Every rule's opportunities are put together, and the findings' words masked, on threads
    # while the findings are sorted and marked here: none of these needs another's result, and
    # most of each is numpy's and Arrow's work.
    pending = gathered([_no_pending(), *(c.pending for c in checked.values())])
    with ThreadPoolExecutor(2) as pool:
        opportunities = pool.submit(_opportunities, [c.opportunities for c in checked.values()])
        findings_frame = pd.concat(
            [c.findings for c in checked.values()], ignore_index=True
        ).astype(dict.fromkeys(text_columns, "str"))
        checked.clear()
        words = ["summary", "evidence"]
        masked = None
        mask = findings_masker(bundle)  # a review's evidence is compared masked, names or not
        if not show_names:
            masked = pool.submit(findings_frame[words].apply, mask)
        findings_frame = findings_frame.sort_values(
            ["severity", "rule", "at", "subject_id"],
            key=lambda c: c.map(SEVERITY_ORDER) if c.name == "severity" else c,
        )
        was_at = findings_frame.index  # each sorted finding's row before, for its masked words
        findings_frame = findings_frame.reset_index(drop=True)
        path = Path(reviews) if reviews is not None else find_table_file(bundle.path, "reviews")
        if path is None:
            loaded = no_reviews(tz)
        else:
            loaded = load_reviews(path, tz)
            problems = counted(len(loaded.rejected), "problem")
            say(f"read {path.name}: {counted(len(loaded.decided), 'review')}, {problems} set aside")
        decided, rejected_reviews = loaded.decided, loaded.rejected
        findings_frame, held = apply_reviews(findings_frame, decided, mask)  # (order kept)
        subject_times_of = times or subject_times(bundle)
        stale = unmatched_reviews(decided, findings_frame, subject_times_of, held, pending)
        if masked is not None:
            findings_frame[words] = masked.result().loc[was_at].reset_index(drop=True)
            # A rejected row's reason quotes the value it could not read (a name, at times), and
            # a reviewer's comment (or evidence written by hand) may name the client.
            bundle = replace(bundle, rejected=_with_masked(bundle.rejected, "reason", mask))
            rejected_reviews = _with_masked(rejected_reviews, "reason", mask)
            findings_frame = _with_masked(findings_frame, "review_comment", mask)
            stale = _with_masked(_with_masked(stale, "comment", mask), "evidence", mask)
        Findings.validate(findings_frame)
        opportunities_frame = opportunities.result()
    return AuditResult(
        bundle,
        findings_frame,
        opportunities_frame,
        stale_reviews=stale,
        rejected_reviews=rejected_reviews,
        reviews_coverage=loaded.coverage,
        reviews_file=path,
        names_shown=show_names,
        pending=pending,
    )


def gathered(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames as one (rules', partitions', pieces'); empty ones left out, so none changes a
    dtype (all empty: the first)."""
    found = [frame for frame in frames if len(frame)]
    return pd.concat(found, ignore_index=True) if found else frames[0]


def _no_pending() -> pd.DataFrame:
    return nothing_pending().assign(rule="")[PENDING_RESULT_COLUMNS]


def _with_masked(
    frame: pd.DataFrame, column: str, mask: Callable[[pd.Series], pd.Series]
) -> pd.DataFrame:
    """`frame` with the texts in `column` masked; blanks stay blank."""
    given = frame[column].notna().to_numpy()
    if not given.any():
        return frame
    texts = frame[column].astype("str")
    texts[given] = mask(texts[given])
    return frame.assign(**{column: texts})


_CODED = ("client_id", "staff_id")  # opportunities' categorical ids (see _opportunities)


def _opportunities(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rules' opportunities in one frame, each with its month, their client and clinician
    as categoricals of the ids in order: a million opportunities name a few thousand people,
    and their codes take 4 bytes a row where the ids took 16 (on issue 7's example, 28 MB less
    held through the report), coded once for every compliance table (AuditResult._factorized).
    Counted ones (the Dask partitions') are added up."""
    opportunities = pd.concat(frames, ignore_index=True)
    frames.clear()  # the caller's list: each id column is freed as soon as it is coded
    if COUNT in opportunities.columns:
        return count_opportunities(opportunities)
    opportunities["month"] = months_of(opportunities["at"])
    for column in _CODED:
        codes, ids = pd.factorize(opportunities[column], sort=True)
        opportunities[column] = pd.Categorical.from_codes(codes, pd.Index(ids, dtype="str"))
    return opportunities


def count_opportunities(opportunities: pd.DataFrame) -> pd.DataFrame:
    """Opportunities counted per rule, clinician and month (COUNTED_BY), in that order: what
    the compliance tables, the report and the dashboard read of them, in a row per combination
    rather than per subject, so a Dask partition sends a few thousand rows for a year of a
    large clinic's. Counts given already (the partitions', on the driver) are added up."""
    rule = opportunities["rule"].astype(RULE_DTYPE)
    month = opportunities["month"] if "month" in opportunities else months_of(opportunities["at"])
    keys = {"rule": rule, "staff_id": opportunities["staff_id"].astype("str"), "month": month}
    counts = opportunities[COUNT] if COUNT in opportunities else pd.Series(1, rule.index)
    frame = pd.DataFrame({**keys, COUNT: counts.astype("int64")})
    return _summed(frame, list(keys)).astype({"month": "str"})


def check_auditable(path: Path) -> None:
    """Refuse a de-identified research extract: with its messages and notes removed, dates
    shifted per client and no call log, every rule would report findings that are not real."""
    if (path / EXTRACT_RECORD).is_file():
        raise AuditkitError(
            f"{path} is a de-identified research extract ({EXTRACT_RECORD}): its messages and "
            "notes are removed, each client's dates are shifted and it has no call log, so a "
            "policy audit of it would report findings that are not real. Audit the clinic's "
            "bundle the extract was made from; the extract is for the research notebook."
        )


def audit(
    bundle: Bundle,
    policy: Policy | None = None,
    month: str | None = None,
    reviews: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    show_names: bool = False,
    clinicians: Sequence[str] = (),
    keep_records: bool = True,
    as_of: pd.Timestamp | None = None,
) -> AuditResult:
    """Check every rule; with `month` (YYYY-MM, or "last": the month before this one on the
    clinic's clock), keep what happened in that month; with
    `clinicians` (staff_ids), keep their records (see `for_clinicians`).

    `policy` overrides the one the bundle was loaded with. Rules always see the whole bundle,
    so look-backs (earlier no-shows, approvals given before the month) still count; only the
    subjects are narrowed to the month.

    `reviews` names a reviews file; by default the bundle's own ``reviews.csv``, if any. A review
    is stale when its rule no longer fires for its subject and that subject falls in the audited
    period: a review of another month's finding is out of scope, not stale. A review whose
    subject has left the bundle cannot be dated, so it is stale in every period until someone
    removes it. A review recorded for another client, or with other evidence, than its finding
    now has is stale too, and not applied (see `apply_reviews`). `progress` hears a line per
    rule checked; the library never prints.

    Minimum necessary: summaries and evidence mask client names as [client], the names the
    policy lists as [name], and phone numbers as [phone], unless `show_names`.

    A missed session whose call or note deadline runs past `as_of` (when the records were
    taken; by default now) and has no call or note yet is not judged: it is in `pending`, and
    a caveat says when to audit it again.

    With `keep_records=False` the bundle is cut to what a report reads (`Bundle.for_report`)
    as soon as the rules are done, the only readers of the rest (messages, notes' text, codes):
    for a caller that goes on to a report, not to the review queue or another audit.
    """
    check_auditable(bundle.path)
    if month is not None and (problem := month_problem(month)):
        raise AuditkitError(f"The audit's {problem}.")  # not an empty month's report
    check_clinicians(bundle, clinicians)
    if reviews is not None:
        check_reviews_file(Path(reviews))
    if policy is not None:
        bundle = replace(bundle, policy=policy)
    checked = check_rules(bundle, progress, as_of=as_of)
    if not keep_records:
        bundle = bundle.for_report()
        release_unused_memory()
    result = finish_audit(bundle, checked, reviews, progress, show_names)
    result = for_month(for_clinicians(result, clinicians), month)
    release_unused_memory()
    return result


def check_clinicians(bundle: Bundle, clinicians: Sequence[str]) -> None:
    """Refuse, before the rules run, a clinician the staff table does not hold: a mistyped id
    would give an empty report that reads as a clinician with nothing to answer for."""
    staff = bundle.tables["staff"]["staff_id"]
    on_staff = set(staff)
    if not (unknown := [c for c in clinicians if c not in on_staff]):
        return
    rejected = bundle.rejected
    theirs = rejected[
        (rejected["file"] == _staff_file(bundle)) & (rejected["record_id"] == unknown[0])
    ]
    if len(theirs):  # on file, but its row could not be used
        row = theirs.iloc[0]
        raise AuditkitError(
            f"Clinician {unknown[0]}'s row of {row['file']} was set aside (line {row['line']}: "
            f"{row['reason']}), so the audit has no records of theirs. Correct the row and run "
            "again."
        )
    known = ", ".join(sorted(staff)[:8]) + (", ..." if len(staff) > 8 else "")
    raise AuditkitError(
        f"No clinician {unknown[0]} in the bundle's staff table: name a staff_id it holds "
        f"({known})."
    )


def _staff_file(bundle: Bundle) -> str:
    """The file the staff table was read from, as rejected rows name it."""
    coverage = bundle.coverage
    return str(coverage.loc[coverage["table"] == "staff", "file"].iloc[0]) if len(coverage) else ""


def for_clinicians(result: AuditResult, clinicians: Sequence[str]) -> AuditResult:
    """An audit of the clinic narrowed to the records of `clinicians` (staff_ids); () keeps all.

    A supervisor's page for one trainee: their findings, their compliance, their trend. Rules
    saw the whole bundle, so a clinician's figures are those the clinic's audit gives them. What
    belongs to the bundle rather than to a clinician, the input rows set aside and the stale
    reviews, stays in the result (the CLI writes them as ever) and is left off their report.
    Narrow by clinician before by month, so a month's trend is theirs too.
    """
    if not clinicians:
        return result
    if result.month is not None or result.clinicians:
        raise ValueError("narrow the clinic's whole audit by clinician, then by month")
    ids = tuple(dict.fromkeys(clinicians))  # in the order given, once each
    return replace(
        result,
        findings=result.findings[result.findings["staff_id"].isin(ids)].reset_index(drop=True),
        opportunities=result.opportunities[result.opportunities["staff_id"].isin(ids)].reset_index(
            drop=True
        ),
        pending=result.pending[result.pending["staff_id"].isin(ids)].reset_index(drop=True),
        clinicians=ids,
    )


def last_month(timezone: str, now: pd.Timestamp | None = None) -> str:
    """The month before the current one on the clinic's clock, YYYY-MM: what a monthly audit
    run in the first days of a month covers. `now` (default: now) is an aware time."""
    here = (pd.Timestamp.now(tz="UTC") if now is None else now).tz_convert(timezone)
    return (here.tz_localize(None).to_period("M") - 1).strftime("%Y-%m")


def for_month(result: AuditResult, month: str | None) -> AuditResult:
    """An audit of every month narrowed to what happened in `month` (YYYY-MM, or LAST_MONTH:
    last_month on the clinic's clock); None keeps all.

    Rules saw the whole bundle, so a month's figures are those the whole audit gives for it.
    A stale review belongs to the month of its subject's time, or to every month when the
    subject is gone. Compliance per month over the whole bundle is kept (`every_month`) for
    the trend, so a monthly report needs no second audit.
    """
    if month == LAST_MONTH:
        month = last_month(result.bundle.policy.clinic.timezone)
    if month == result.month:
        return result
    if result.month is not None:
        raise ValueError(f"an audit of {result.month} holds nothing of {month or 'other months'}")
    stale = result.stale_reviews
    return replace(
        result,
        findings=result.findings[month_of(result.findings["at"]) == month].reset_index(drop=True),
        opportunities=result.opportunities[result.opportunities["month"] == month].reset_index(
            drop=True
        ),
        month=month,
        pending=result.pending[month_of(result.pending["at"]) == month].reset_index(drop=True),
        stale_reviews=stale[stale["at"].isna() | (month_of(stale["at"]) == month)].reset_index(
            drop=True
        ),
        every_month=result.compliance_by("month"),
    )
