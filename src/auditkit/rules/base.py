"""What a rule is: its documentation, and one vectorised check that yields findings.

A check returns the records it examined (its opportunities: the honest denominator of its
compliance rate) and, among them, the ones that break the policy, each with a plain summary and
the quoted evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from auditkit.columns import join_text, per_distinct, take_text
from auditkit.severity import Severity

if TYPE_CHECKING:
    from auditkit.policy import Policy
    from auditkit.rules.context import AuditContext

Subject = Literal["appointment", "contact", "note", "call"]

# Every check's opportunities carry these; findings add summary and evidence.
SUBJECT_COLUMNS = ["subject_id", "client_id", "staff_id", "at"]


# Subjects not judged yet carry these: what is due of them, and when.
PENDING_COLUMNS = [*SUBJECT_COLUMNS, "due"]


def _no_subjects(columns: list[str]) -> pd.DataFrame:
    none = pd.DataFrame({column: pd.Series(dtype="str") for column in columns})
    for time in {"at", "due"} & set(columns):
        none[time] = pd.Series(dtype="datetime64[us, UTC]")
    return none


def nothing_pending() -> pd.DataFrame:
    """No subject left to a later audit (PENDING_COLUMNS): what most rules leave."""
    return _no_subjects(PENDING_COLUMNS)


@dataclass(frozen=True)
class Checked:
    """What a rule examined, and what it found wrong among them; and the subjects it left to a
    later audit, whose deadline had not passed when this one ran (PENDING_COLUMNS)."""

    opportunities: pd.DataFrame  # SUBJECT_COLUMNS
    findings: pd.DataFrame  # SUBJECT_COLUMNS + summary, evidence
    pending: pd.DataFrame = field(default_factory=nothing_pending)


def checkable(_policy: Policy) -> None:
    """What most rules say of any policy: nothing in it keeps them from being checked."""
    return None


NO_CALL_LOG = "the bundle has no phone-system call log (calls.csv, or --calls FILE)"


@dataclass(frozen=True)
class Rule:
    code: str  # stable: reports, review decisions and users' scripts key on it
    name: str  # kebab-case
    severity: Severity
    subject: Subject
    # The policy sentence it enforces, verbatim (typos marked [sic]) but for words in brackets,
    # which are auditkit's; without quotes: see quoted_policy.
    policy: str
    why: str  # why it matters, for the supervisor reading a finding
    examines: str  # the records it examines, in words: the denominator of its compliance rate
    violating: str  # an example that breaks the rule
    compliant: str  # an example that keeps it
    check: Callable[[AuditContext], Checked]
    # Why the rule cannot be checked under a policy (None: it can), naming the policy key to
    # fill in. Such a rule examines nothing, so it has no compliance figure, and the audit says
    # why, where checking it anyway would pass every record.
    cannot_check: Callable[[Policy], str | None] = checkable
    # The policy.toml keys (section.key) whose values change what the rule finds, beside the
    # clinic's time zone and the [phrases] every text rule takes: `auditkit rules CODE` shows
    # their values in force.
    settings: tuple[str, ...] = ()
    # False where `policy` is no sentence of the clinic's written policy but what auditing it
    # relies on (the contact log is complete: LG001, LG002), so no presenter quotes it as one.
    written: bool = True
    # Whether it reads the phone system's call log: in a bundle without one it is not checked
    # (NO_CALL_LOG says why), rather than read as having examined nothing.
    needs_call_log: bool = False

    @property
    def quoted_policy(self) -> str:
        """The policy sentence as every presenter shows it, in double quotes: `policy` carries
        none of its own, so none is doubled (a quotation inside it takes single quotes). A rule
        the written policy has no sentence for says so, unquoted."""
        if not self.written:
            return f"Not written in the policy, but every audit of it relies on this: {self.policy}"
        return f"\u201c{self.policy}\u201d"


def nothing_examined() -> Checked:
    """What a rule that cannot be checked examined and found: no records."""
    none = _no_subjects(SUBJECT_COLUMNS)
    return Checked(none, found(none, "", ""))


def subjects(
    frame: pd.DataFrame, id_column: str, at_column: str, staff_column: str = "staff_id"
) -> pd.DataFrame:
    """Rename a table's columns to the subject columns every check returns."""
    out = frame[[id_column, "client_id", staff_column, at_column]].copy()
    out.columns = SUBJECT_COLUMNS
    return out.reset_index(drop=True)


_LAST_SHOWN = pd.Timestamp("9999-12-30", tz="UTC")


def judged_by(
    ctx: AuditContext, subject_rows: pd.DataFrame, failing: pd.Series, deadline: pd.Timedelta
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Of subjects (SUBJECT_COLUMNS) each given until its time plus `deadline` to do what is
    `failing` of it, those the audit can judge (with `failing` of them), and those it cannot
    yet (PENDING_COLUMNS): failing so far, but with time left when the audit's records were
    taken (ctx.as_of). A failing subject is not a finding before its deadline; a passing one
    has passed, whatever is left of its time."""
    due = subject_rows["at"] + deadline
    waiting = (failing & (due > ctx.as_of)).to_numpy()
    # A deadline past the year 9999 (of a record dated 9999-12-31) kept where a clock shows it.
    due = due.where(due < _LAST_SHOWN, _LAST_SHOWN.tz_convert(due.dt.tz))
    pending = subject_rows.loc[waiting, SUBJECT_COLUMNS].assign(due=due[waiting])
    pending = pending.reset_index(drop=True)
    judged = subject_rows[~waiting].reset_index(drop=True)
    return judged, failing[~waiting].reset_index(drop=True), pending


def found(
    subject_rows: pd.DataFrame, summary: pd.Series | str, evidence: pd.Series | str
) -> pd.DataFrame:
    """Findings from subject rows (already in SUBJECT_COLUMNS) and their words."""
    out = subject_rows[SUBJECT_COLUMNS].reset_index(drop=True)
    out["summary"] = summary.to_numpy() if isinstance(summary, pd.Series) else summary
    out["evidence"] = evidence.to_numpy() if isinstance(evidence, pd.Series) else evidence
    return out


# The parts of a clock's text, each taken by its number (weekdays from Monday, as 0).
_WEEKDAYS = pa.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], pa.large_string())
_MONTHS = pa.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    pa.large_string(),
)
_DAYS = pa.array([str(day) for day in range(1, 32)], pa.large_string())
_TWO_DIGITS = pa.array([f"{n:02d}" for n in range(60)], pa.large_string())
_PAST_9999 = np.datetime64("9999-12-30", "us")  # (an instant, in UTC)


def clock(times: pd.Series, seconds: bool = False) -> pd.Series:
    """'Mon 2 Mar 2026 13:00' ('13:00:05' with `seconds`, for a phone system's times): how a
    supervisor reads a time (NA where there is none).

    Put together from the time's parts, once per distinct time (appointments start on a few
    slots a day): strftime formats one value at a time. A deadline past the year 9999 (a no-show
    dated 9999-12-31) reads 'after the year 9999'.
    """
    return per_distinct(lambda distinct: _clock(distinct, seconds), times)


def _clock(times: pd.Series, seconds: bool) -> pd.Series:
    # The parts counted off numpy's days and seconds of the wall clock, and each looked up in
    # a table of its texts: pandas' date fields and string arithmetic cost a conversion or a
    # copy each, which for the handful of times most rules quote was most of their work.
    zone = times.dt.tz
    # Compared in UTC: local parts of a time past 9999 can't be computed at all.
    late = times.to_numpy(dtype="datetime64[us]") >= _PAST_9999
    kept = times.where(~late)
    wall = (kept.dt.tz_localize(None) if zone is not None else kept).to_numpy("datetime64[us]")
    known = ~np.isnat(wall)
    wall = np.where(known, wall, np.datetime64(0, "us"))
    days = wall.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    second = (wall - days).astype("timedelta64[s]").astype(np.int64)
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    parts = [
        _WEEKDAYS.take(pa.array((days.astype(np.int64) + 3) % 7)),  # 1 Jan 1970 was a Thursday
        " ",
        _DAYS.take(pa.array((days - months).astype(np.int64))),
        " ",
        _MONTHS.take(pa.array(months.astype(np.int64) % 12)),
        " ",
        pa.array(years).cast(pa.large_string()),
        " ",
        _TWO_DIGITS.take(pa.array(second // 3600)),
        ":",
        _TWO_DIGITS.take(pa.array(second // 60 % 60)),
    ]
    if seconds:
        parts += [":", _TWO_DIGITS.take(pa.array(second % 60))]
    written = with_repeated_zone(join_text(parts, times.index), kept)
    return written.where(known).mask(late, "after the year 9999")


# Local hours in which a zone's clocks go back, in the zones that do (the hour after midnight to
# the small hours: 23:00 where midnight goes back to 23:00, 01:00 in America, 02:00 in Europe).
_NIGHT_HOURS = np.array([23, 0, 1, 2, 3])


def repeated_hour(times: pd.Series) -> np.ndarray:
    """Whether each time falls in the hour its clocks show twice as summer time ends: 01:30 PDT
    and 01:30 PST read alike without their zone. Only night hours are looked at (a handful of
    calls in a clinic's year), so a column of a million times costs one comparison each."""
    zone = getattr(times.dt, "tz", None)
    twice = np.zeros(len(times), dtype=bool)
    if zone is None:
        return twice
    night = np.isin(times.dt.hour.fillna(-1).to_numpy(), _NIGHT_HOURS)
    if night.any():
        wall = times[night].dt.tz_localize(None)
        again = wall.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        twice[night] = (again.isna() & wall.notna()).to_numpy()
    return twice


def with_repeated_zone(text: pd.Series, times: pd.Series) -> pd.Series:
    """`text` (each of `times` as a wall clock) with the zone ('PST') after the times in the
    hour shown twice as summer time ends, and as it was everywhere else."""
    twice = repeated_hour(times)
    if not twice.any():
        return text
    text = text.copy()
    text[twice] = text[twice] + " " + times[twice].dt.strftime("%Z")
    return text


def wall_time(times: pd.Series) -> pd.Series:
    """'13:08': each time on the clinic's clock, for evidence that names the day elsewhere ('01:38
    PST' in the hour shown twice as summer time ends, as clock writes it)."""
    return with_repeated_zone(times.dt.strftime("%H:%M"), times)


def dated(times: pd.Series) -> pd.Series:
    """'2026-03-05 10:00': when a record (a consent, an approval) was made, as evidence quotes
    it ('2026-11-01 01:30 PST' in the hour shown twice as summer time ends)."""
    return with_repeated_zone(times.dt.strftime("%Y-%m-%d %H:%M"), times)


def day_of(times: pd.Series) -> pd.Series:
    """'Mon 2 Mar 2026': clock without the time of day (and its zone, if it has one)."""
    return clock(times).str.replace(r" \d\d:\d\d(?: \S+)?$", "", regex=True)


def month_of(times: pd.Series) -> pd.Series:
    """'2026-03': each time's month where it happened (NA where there is none).

    Named once per distinct month: strftime would format every time one at a time.
    """
    codes, names = _months(times)
    return take_text(pd.Series(names, dtype="str"), codes, times.index)


def months_of(times: pd.Series) -> pd.Series:
    """month_of as a categorical, its months in order: a byte or two a row where the text
    'YYYY-MM' repeated takes sixteen, for the millions of opportunities of a large audit."""
    codes, names = _months(times)
    return pd.Series(pd.Categorical.from_codes(codes, names), index=times.index)


def _months(times: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each time's month on the clock where it happened, as a code (-1: no time) into the
    months, in order. Counted off numpy's months: the year and month fields of a zoned time
    cost a conversion each. The months are numbered from the first within one array, and
    coded in the fewest bytes: for a million opportunities, no hashing and no copies."""
    local = times.dt.tz_localize(None) if times.dt.tz is not None else times
    months = local.to_numpy().astype("datetime64[M]").view(np.int64)
    del local
    known = months != np.iinfo(np.int64).min  # (NaT)
    if not known.any():
        return np.full(len(months), -1, dtype=np.int8), []
    first = np.min(months, where=known, initial=np.iinfo(np.int64).max)
    np.subtract(months, first, out=months)
    months[~known] = 0  # the first month, for now: every row indexes `held`
    held = np.zeros(int(months.max()) + 1, dtype=bool)
    held[months] = True
    code_of = (np.cumsum(held) - 1).astype(np.min_scalar_type(-int(held.sum())))
    codes = code_of[months]
    codes[~known] = -1
    names = (np.flatnonzero(held) + first).astype("datetime64[M]")
    return codes, np.datetime_as_string(names, unit="M").tolist()


def hours_minutes(delta: pd.Series) -> pd.Series:
    """A duration as '8 min' or '3 h 05 min'."""
    minutes = (delta.dt.total_seconds() // 60).astype("int64")
    hours, rest = minutes // 60, minutes % 60
    long = hours.astype(str) + " h " + rest.astype(str).str.zfill(2) + " min"
    return long.where(hours > 0, rest.astype(str) + " min")


def quote(evidence: pd.Series) -> pd.Series:
    """Matched words as a supervisor sees them in a finding: in double quotes."""
    return "\u201c" + evidence.astype(str) + "\u201d"
