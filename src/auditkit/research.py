"""No-show research: rates, repeat no-shows, time to closure warning and dropout, and a model.

Every analysis is a pure function over `appointment_frame(bundle)`, one row per scheduled
appointment, so it runs the same on a clinic's bundle and on a de-identified extract (issue 6):
nothing here reads a name, a phone number or free text except the closure-warning marker, which
says in its output when the text is not there. Weekday, hour and every interval within a client
survive the extract's per-client date shift, so those results match the real records; only the
calendar months are shifted.

Definitions (docs for researchers; the tests pin each one):

- **Scheduled**: an appointment still on the calendar when it was due: attended, no_show or
  late_cancel. Cancelled and rescheduled appointments were released ahead of time, so the client
  could not miss them; they are left out. The **no-show rate** is no-shows / scheduled; a late
  cancellation counts as scheduled and kept-or-missed, not as a no-show.
- **Lead time (proxy)**: the bundle has no booking date. Weekly sessions are booked at the one
  before, so lead time is the calendar days since the client's previous appointment of the same
  service (any status), or since intake for the first of its service. Missing without an intake
  date, or when intake comes after the appointment.
- **Months in treatment**: days from intake to the appointment / (365.25 / 12); day-based, not
  calendar months, so it survives the extract's date shift exactly.
- **Earlier no-shows (k)**: the client's no-shows among scheduled appointments before this one,
  counted over the whole bundle even when a date range is chosen. Results by it mostly compare
  clients (who misses often has more earlier no-shows and misses more throughout), not moments
  in one client's treatment: a within-client analysis can give the opposite sign.
- **Intervals and standard errors**: the rate tables' Wilson intervals take appointments as
  independent, which one client's are not (too narrow where a few clients hold many of a
  group's appointments); the regression's standard errors are cluster-robust by client.
- **Dropout**: the client's last scheduled appointment was missed (no_show or late_cancel) and at
  least `follow_up_days` of data follow it, so a return would have been seen. The dropout time is
  that last appointment. Clients whose last appointment was attended (a planned ending or not:
  the bundle records no discharge reason) and clients still scheduled near the end are censored at
  the end of data, the latest scheduled_start in the bundle.
- **On an extract** the end of data is the latest *shifted* date, and each client's dates are
  moved by their own shift (up to 26 weeks either way): a client is censored, and a dropout's
  follow-up judged, up to the largest shift less their own too late, so follow-up looks longer
  and a missed last appointment near the real end can count as a dropout (on a generated bundle
  of 150 clients, 17 first no-show to dropout events on the bundle, 29 on its extract). No
  per-client end of data can be given without giving that client's shift away: dropout curves
  from an extract run high; exact ones come from the bundle, at the clinic.
- **Closure warning**: an outbound contact to the client whose message text warns the file will
  be closed (the audit's own closure-warning phrases). An extract has no message text: then a
  client-specific closure_warning approval can stand in, labelled as a proxy, or the legs through
  a warning are reported as not available. Warnings before the client's first no-show are ignored.

Small-cell suppression (docs/deidentification.md): an extract is a limited data set, and the
tables and charts taken out of the notebook get shared. A cell counting a handful of people (2
no-shows on Sundays at 7 am for one clinician) can point to a client, so every aggregate output
suppresses cells under `MIN_CELL` (11, as CMS's cell-size rule) by default:

- **Primary**: a row (a group, a count of no-shows, an event time) is suppressed when any count
  it shows, or gives back by subtraction, is between 1 and min_cell - 1: its appointments, its
  no-shows, its kept appointments (appointments - no-shows, which the rate gives back), its
  clients. Zero is shown: it counts nobody. A suppressed row keeps its label; its counts and
  everything worked out from them (rate, interval, share) are NaN, `suppressed` is True, and HTML
  tables show "suppressed".
- **Complementary**: where the rows add up to a total shown elsewhere, more rows are suppressed
  until the total less the rows shown gives nothing small back: not one hidden row alone, not a
  hidden sum of 1 to min_cell - 1, not one hidden row per unit of it (`_gives_back`). The rate
  tables add up to the appointments and no-shows of the explorer's summary line and the
  notebook's first line (appointments without a value are a "(not known)" level, so they do
  add up), the clients-per-count table to the clients, and each survival leg's events to its
  summary row, so all of them get it.
- **Across outputs**: `overview` (the first line) leaves the clients out where, less the
  survival summary's clients with a no-show, they give back a small count of clients with none.
  `no_shows_per_client` and `no_show_after_k` are sums over the clients by their number of
  no-shows, as are the clients, the clients with a no-show and the summary line's no-shows, so
  rows are hidden until no sum or difference of what is shown gives a small hidden count back
  (`_gives_back_small`), and the top row keeps its "+" and comes down where its clients'
  no-shows past it would follow. The explorer by earlier no-shows over every month is
  `no_show_after_k`'s table; the survival summary's legs share clients and are suppressed
  together, and it hides events that are one on each day the Kaplan–Meier table lists; the
  explorer suppresses what the months outside its range would give back against the full
  range; the regression gives no level (nor the pool) a coefficient with 1 to min_cell - 1
  no-shows or kept, which its coefficient and standard error would give back, its notes give
  no count of a level or of the rows left out, and name no tie between two levels where
  either is suppressed (or is the pool).
- **Curves**: `no_shows_per_client` top-codes its tail ("5+") so the largest count is not a cell
  of its own; each survival curve, and the counts of its steps, stop at its first suppressed
  step, since survival and its standard error there (or across a hidden run) give the step's
  counts back, and before a step with few censored since the one before.
- **Life tables** need no suppression: `life_table` merges intervals of days until each one's
  events and censored are 0 or at least min_cell, so every count worked out from them is too,
  and until nothing small follows from them against the Kaplan–Meier table.

Not protected: differences between two explorer views of partial month ranges (the explorer is
for exploring; share one view), the repeat no-shows (the summary line's no-shows less the
clients with a no-show), and tables made by hand from `appointment_frame`
(docs/deidentification.md lists each).

`min_cell=0` (or `suppress=False` on the explorer) gives the exact numbers, for a researcher who
holds the extract and needs them for analysis; never share those.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import statsmodels.formula.api as smf
from statsmodels.discrete.discrete_model import Logit
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from auditkit.columns import distinct, looked_up
from auditkit.deidentify import EXTRACT_RECORD, MIN_CELL
from auditkit.errors import BundleError
from auditkit.notebook import Notes, jupyter_chart, table_rules
from auditkit.report import html_table
from auditkit.rules.base import month_of
from auditkit.rules.context import AuditContext
from auditkit.validation import Bundle

SCHEDULED_STATUSES = ("attended", "no_show", "late_cancel")
MISSED_STATUSES = ("no_show", "late_cancel")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_PER_MONTH = 365.25 / 12
# Bins as [lower, upper): days of lead time, months in treatment, earlier no-shows.
LEAD_BINS = {"0-6 d": 0, "7-13 d": 7, "14-27 d": 14, "28+ d": 28}
MONTH_BINS = {"<1": 0, "1-2": 1, "3-5": 3, "6-11": 6, "12+": 12}
EARLIER_BINS = {"0": 0, "1": 1, "2": 2, "3+": 3}
GROUPINGS = {
    "weekday": "weekday",
    "hour": "hour of day",
    "clinician": "clinician",
    "service": "service",
    "lead_time": "lead time (proxy: days since the previous session)",
    "months_in_treatment": "months in treatment",
    "earlier": "earlier no-shows",
}
EXTRACT_ENV = "AUDITKIT_EXTRACT"
BLANK_SERVICE = "(blank)"
NOT_KNOWN = "(not known)"
PERCENT_COLUMNS = ("rate", "ci_low", "ci_high", "share", "survival", "conditional_survival")
COUNT_COLUMNS = ("scheduled", "no_shows", "clients", "at_risk", "events", "censored")

# --- the analysis frame --------------------------------------------------------------------------


def _local_day(times: pd.Series) -> pd.Series:
    """Calendar day on the clinic's wall clock: day differences stay whole across DST."""
    return times.dt.tz_localize(None).dt.normalize()


def _bin(values: pd.Series, bins: Mapping[str, int]) -> pd.Series:
    edges = [*bins.values(), np.inf]
    return pd.cut(values, edges, right=False, labels=list(bins))


def appointment_frame(bundle: Bundle) -> pd.DataFrame:
    """One row per scheduled appointment with every predictor the analyses group or model by.

    Lead time is derived from all appointments (a cancelled one still marks when the series
    was last on the calendar); everything else from the scheduled ones only.
    """
    appointments = bundle.appointments
    day = _local_day(appointments["scheduled_start"])
    service = appointments["service"].fillna(BLANK_SERVICE)
    intake = _local_day(bundle.clients.set_index("client_id")["intake_date"])
    intake_day = looked_up(intake, appointments["client_id"])
    # Clients and services as integer codes in their text's order: sorted as numbers, a
    # million rows sort in a tenth of the time text takes.
    client = pd.factorize(appointments["client_id"], sort=True)[0]
    previous = _previous_in_series(client, pd.factorize(service, sort=True)[0], day)
    lead = (day - previous.fillna(intake_day)).dt.days
    since_intake = (day - intake_day).dt.days
    frame = pd.DataFrame(
        {
            "appointment_id": appointments["appointment_id"],
            "client_id": appointments["client_id"],
            "clinician": appointments["staff_id"],
            "service": service,
            "status": appointments["status"],
            "start": appointments["scheduled_start"],
            "lead_days": lead.where(lead >= 0).astype("float64"),
            "months_since_intake": (since_intake / DAYS_PER_MONTH).where(since_intake >= 0),
        }
    )
    scheduled = np.flatnonzero(frame["status"].isin(SCHEDULED_STATUSES).to_numpy())
    # Each client's appointments in time order (appointment_id where two start together).
    keys = pa.table(
        {
            "client": client[scheduled],
            "start": pa.array(frame["start"].array).take(scheduled),
            "id": pa.array(frame["appointment_id"].array).take(scheduled),
        }
    )
    order = pc.sort_indices(keys, [(k, "ascending") for k in keys.column_names]).to_numpy()
    frame = frame.take(scheduled[order]).reset_index(drop=True)  # one copy, not two
    no_show = frame["status"] == "no_show"
    earlier = no_show.groupby(frame["client_id"]).cumsum() - no_show
    return frame.assign(
        no_show=no_show,
        month=month_of(frame["start"]),
        weekday=pd.Categorical(frame["start"].dt.day_name(), categories=WEEKDAYS, ordered=True),
        hour=frame["start"].dt.hour,
        lead_time=_bin(frame["lead_days"], LEAD_BINS),
        months_in_treatment=_bin(frame["months_since_intake"], MONTH_BINS),
        earlier_no_shows=earlier.astype("int64"),
        earlier=_bin(earlier, EARLIER_BINS),
    )


def _previous_in_series(client: np.ndarray, service: np.ndarray, day: pd.Series) -> pd.Series:
    """Each appointment's previous day in its client's series of that service (NaT for the
    first): the series sorted by client, service and day, each day's predecessor there."""
    order = np.lexsort((day.to_numpy().view("int64"), service, client))  # (stable)
    days = day.to_numpy()[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (client[order][1:] != client[order][:-1]) | (
        service[order][1:] != service[order][:-1]
    )
    before = np.roll(days, 1)
    before[first] = np.datetime64("NaT", "ns")  # (NaT in any unit: no time to lose)
    previous = np.empty_like(before)
    previous[order] = before
    return pd.Series(previous, index=day.index)


# --- small-cell suppression ---------------------------------------------------------------------


def suppression_note(min_cell: int = MIN_CELL) -> str:
    """The line to show beside suppressed outputs, so a reader knows why a cell is blank."""
    return (
        f"Cells under {min_cell} are suppressed (counts of 1 to {min_cell - 1} appointments, "
        "no-shows or clients, and a second cell wherever one could be got back from a total), "
        "so a table or chart can be shared without pointing to a client. min_cell=0 gives the "
        "exact numbers: for analysis on the extract only, never to share."
    )


def _suppress(
    table: pd.DataFrame,
    checked: pd.DataFrame,
    hidden: list[str],
    *,
    min_cell: int,
    complement_by: str | None = None,
    within: str | pd.Series | None = None,
    force: pd.Series | np.ndarray | None = None,
    additive: Sequence[str] = (),
    known_zero: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`table` with a `suppressed` column and its `hidden` columns NaN on suppressed rows.

    A row is suppressed when any of its `checked` counts is between 1 and min_cell - 1, or
    `force` says so (a cell another output would give back by difference). With
    `complement_by`, whose rows (per `within` group: a column, or the groups) add up to a total
    shown elsewhere, as do the `additive` checked counts, more rows are hidden until the totals
    less the rows shown give nothing small back (`_gives_back`): a row at a time, the smallest
    `complement_by` that makes its group safe, else the smallest (a non-zero one before a
    zero: a hidden zero hides nothing a reader could not guess). A hidden count `known_zero`
    says another output shows to be 0 (a column of it per summed count) hides nothing either,
    so it does not count as a hidden row of its column."""
    small = _small(checked, min_cell)
    if force is not None and min_cell > 0:
        small |= np.asarray(force, dtype=bool)
    if complement_by is None or not small.any():
        return _hide(table, hidden, small)
    within = table[within] if isinstance(within, str) else within
    groups = pd.Series(0 if within is None else within, index=table.index)
    sums = checked[list(dict.fromkeys([complement_by, *additive]))]
    unknown = ~(pd.DataFrame(False, sums.index, sums.columns) if known_zero is None else known_zero)
    unknown = unknown.reindex(index=sums.index, columns=sums.columns, fill_value=True)
    while True:
        hidden_sums = sums.mul(small.to_numpy(), axis=0).groupby(groups).transform("sum")
        hidden_rows = unknown.mul(small.to_numpy(), axis=0).groupby(groups).transform("sum")
        unsafe = _gives_back(hidden_sums, hidden_rows, min_cell)
        candidates = _smallest_first(table.loc[unsafe & ~small, [complement_by]], complement_by)
        if candidates.empty:
            return _hide(table, hidden, small)
        at = candidates.index
        after = _gives_back(
            hidden_sums.loc[at] + sums.loc[at], hidden_rows.loc[at] + unknown.loc[at], min_cell
        )
        best = candidates.assign(unsafe=after).sort_values("unsafe", kind="stable")
        small |= table.index.isin(best.groupby(groups[at], sort=False).head(1).index)


def _gives_back(hidden_sums: pd.DataFrame, hidden_rows: pd.DataFrame, min_cell: int) -> pd.Series:
    """Whether a group's hidden rows follow from its totals less its shown rows: one row alone
    in a sum (the difference is its count; `hidden_rows` counts, per sum, the hidden rows not
    known to be 0), a hidden sum that is a small cell itself (3 no-shows on Mondays and
    Wednesdays together), or as many hidden rows as the first sum's count, each counting at
    least one (11 events on 11 listed days: 1 each; assumed whenever the sum is no larger,
    which can only hide more)."""
    first, rows = hidden_sums.iloc[:, 0], hidden_rows.iloc[:, 0]
    return (hidden_rows.max(axis=1) > 0) & (
        (hidden_rows == 1).any(axis=1)
        | _below_cell(hidden_sums, min_cell).any(axis=1)
        | ((first > 0) & (first <= rows))
    )


def _hide(table: pd.DataFrame, hidden: list[str], small: pd.Series) -> pd.DataFrame:
    return table.assign(**{column: table[column].mask(small) for column in hidden}).assign(
        suppressed=small.to_numpy()
    )


def _checked(counts: pd.DataFrame) -> pd.DataFrame:
    """The counts a row of rates shows or gives back: appointments, no-shows, kept ones."""
    return pd.DataFrame(
        {
            "scheduled": counts["scheduled"],
            "no_shows": counts["no_shows"],
            "kept": counts["scheduled"] - counts["no_shows"],
        }
    )


def _below_cell(counts: Any, min_cell: int) -> Any:
    """Whether each count (a frame's, a column's, or one) is a small cell, 1 to min_cell - 1:
    zero counts nobody."""
    return (counts > 0) & (counts < min_cell)


def _small(checked: pd.DataFrame, min_cell: int) -> pd.Series:
    """Rows with a count between 1 and min_cell - 1."""
    return _below_cell(checked, min_cell).any(axis=1)


def _smallest_first(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows to hide as a complement, best first: the smallest `by` count, a non-zero one before
    any zero (a hidden zero hides nothing a reader could not guess)."""
    return rows.assign(zero=rows[by] == 0).sort_values(["zero", by], kind="stable")


def _count(value: int, min_cell: int) -> str:
    """A count for a sentence, or "fewer than 11" where the count would be a small cell."""
    return f"fewer than {min_cell}" if _below_cell(value, min_cell) else f"{value:,}"


def table_html(table: pd.DataFrame, *, min_cell: int = MIN_CELL) -> str:
    """A results table as HTML: "suppressed" in each cell suppression blanked, rates and shares
    as percentages, counts as whole numbers, and the suppression note under it when any cell
    was suppressed, so the exported table carries its own explanation."""
    suppressed = table.get("suppressed", pd.Series(False, index=table.index)).to_numpy(bool)
    shown = table.drop(columns="suppressed", errors="ignore")
    formatted = shown.astype(object)
    for column in shown.columns:
        values = shown[column]
        if column in PERCENT_COLUMNS:
            formatted[column] = values.map("{:.1%}".format)
        elif column in COUNT_COLUMNS and pd.api.types.is_numeric_dtype(values):
            formatted[column] = values.map("{:,.0f}".format)
    blanked = shown.isna().to_numpy() & suppressed[:, None]
    formatted = formatted.mask(blanked, "suppressed").mask(shown.isna() & ~blanked, "")
    # pandas' own look (to_html's), built a column at a time: a table of thousands of clinicians
    # took to_html 0.16 s a redraw.
    html = html_table(formatted, attributes=' border="1" class="dataframe"')
    if suppressed.any():
        html += f"<p><i>{suppression_note(min_cell)}</i></p>"
    return html


@dataclass(frozen=True)
class Table:
    """A results frame for a notebook to show: its HTML says "suppressed" where suppression
    blanked a cell and carries the note, rather than a bare NaN a reader might take for missing
    data."""

    frame: pd.DataFrame
    min_cell: int = MIN_CELL

    def _repr_html_(self) -> str:
        return table_html(self.frame, min_cell=self.min_cell)

    def __repr__(self) -> str:
        return repr(self.frame)


# --- rates ---------------------------------------------------------------------------------------


def _with_not_known(values: pd.Series) -> pd.Series:
    """`values` as a categorical in their natural order, missing ones as a last level
    NOT_KNOWN: the rows then add up to the total a summary line shows, rather than leaving a
    gap that is itself a count (appointments without an intake date have no lead time)."""
    if not values.isna().any():
        return values
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(pd.CategoricalDtype(sorted(values.dropna().unique()), ordered=True))
    return values.cat.add_categories(NOT_KNOWN).fillna(NOT_KNOWN)


def no_show_rates(
    frame: pd.DataFrame,
    by: str,
    *,
    min_cell: int = MIN_CELL,
    also: Collection[str] = (),
    within: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """No-shows / scheduled per level of `by` (a GROUPINGS key), in the level's natural order,
    with a Wilson 95% interval: a clinician's 1 in 3 should not read like a clinic's 100 in 300.
    The interval takes appointments as independent; one client's are not, so it is too narrow
    where a few clients hold many of a level's appointments.
    Levels with no appointment (an empty weekday) are left out; appointments without a value
    (no lead time or months in treatment without an intake date) are the last level,
    "(not known)", so the levels add up to every appointment.

    Small cells are suppressed (the module doc): a level with 1 to min_cell - 1 appointments,
    no-shows or kept appointments has NaN counts, rate and interval and `suppressed` True, with
    complementary suppression, as the levels add up to the totals the notebook shows. Levels
    named in `also` are suppressed too: their counts would follow from another output.
    `within` is this table (exact) for a range these appointments are part of, whose view a
    reader may have seen: a level with no no-shows, or none kept, there has none here either,
    so hiding that count hides nothing. `min_cell=0` gives every count, for analysis on the
    extract only."""
    grouped = frame.groupby(_with_not_known(frame[by]), observed=True, sort=True)["no_show"]
    rates = pd.DataFrame({"scheduled": grouped.size(), "no_shows": grouped.sum()})
    rates["rate"] = rates["no_shows"] / rates["scheduled"]
    low, high = proportion_confint(rates["no_shows"], rates["scheduled"], method="wilson")
    # Wilson's bound is exactly 0 with no no-shows (1 with no kept), where floating point
    # leaves 1.7e-18 (a table reads it as a rate above nothing); no -0.0 or 1+eps either.
    rates["ci_low"] = low.clip(0, 1).mask(rates["no_shows"] == 0, 0.0)
    rates["ci_high"] = high.clip(0, 1).mask(rates["no_shows"] == rates["scheduled"], 1.0)
    if isinstance(rates.index.dtype, pd.CategoricalDtype):  # plain labels downstream
        rates.index = rates.index.astype("str")
    rates = rates.rename_axis(by).reset_index()
    hidden = ["scheduled", "no_shows", "rate", "ci_low", "ci_high"]
    outer = None if within is None else _checked(within.set_index(by)).reindex(rates[by])
    return _suppress(
        rates,
        _checked(rates),
        hidden,
        min_cell=min_cell,
        complement_by="scheduled",
        force=rates[by].isin(also),
        additive=["no_shows", "kept"],
        known_zero=None if outer is None else outer.eq(0).set_axis(rates.index),
    )


UNSEEN_COUNTS = 5
"""Counts of no-shows past the most any client had (or past 3), all held by no client, that
the disclosure checks of the per-client tables count as unknowns: the top-coded table does not
say what the most is, and a reader who knew it would get more from the totals."""


def _clients_by_no_shows(frame: pd.DataFrame) -> pd.Series:
    """How many clients had k no-shows, for k = 0 to the most any client had, then
    UNSEEN_COUNTS more (0 each)."""
    per_client = frame.groupby("client_id")["no_show"].sum()
    size = max(int(per_client.max()), 3) + 1 + UNSEEN_COUNTS
    return per_client.value_counts().reindex(range(size), fill_value=0)


def _clients_shown(counts: pd.Series, min_cell: int) -> bool:
    """Whether the number of clients may be shown (`overview`, the per-client shares).

    The survival summary shows the clients with a no-show (its legs from the first no-show)
    unless they are a small cell, and the clients less them are the clients with none: where
    those are 1 to min_cell - 1, the number of clients would give them back."""
    clients, none = int(counts.sum()), int(counts.iloc[0])
    return min_cell <= 0 or not (
        _below_cell(clients, min_cell)
        or (_below_cell(none, min_cell) and clients - none >= min_cell)
    )


def overview(frame: pd.DataFrame, *, min_cell: int = MIN_CELL) -> str:
    """The notebook's first line: the scheduled appointments and the clients. The clients are
    left out where they would give back a small cell (`_clients_shown`: less the clients with
    a no-show the survival summary shows, the clients with none), counts of 1 to min_cell - 1
    are written in words."""
    appointments = f"{_count(len(frame), min_cell).capitalize()} scheduled appointments"
    if frame.empty:
        return f"{appointments}, 0 clients"
    if not _clients_shown(_clients_by_no_shows(frame), min_cell):
        return f"{appointments}, clients suppressed (cells under {min_cell})"
    return f"{appointments}, {frame['client_id'].nunique():,} clients"


def _totals_shown(frame: pd.DataFrame, counts: pd.Series, min_cell: int) -> list[np.ndarray]:
    """What other outputs show of the clients by no-shows, each as weights on `counts`: the
    clients (`overview`), the clients with a no-show (the survival summary's legs from the
    first no-show) and the no-shows (the explorer's summary line), each where it is shown."""
    k = counts.index.to_numpy()
    totals = pd.DataFrame({"scheduled": [len(frame)], "no_shows": [int(frame["no_show"].sum())]})
    shown = [
        (np.ones(len(k)), _clients_shown(counts, min_cell)),
        ((k >= 1).astype(float), not _below_cell(int(counts.iloc[1:].sum()), min_cell)),
        (k.astype(float), not _small(_checked(totals), min_cell).any()),
    ]
    return [weights for weights, given in shown if given]


def _spanned(known: list[np.ndarray], asked: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Which rows of `asked` (sums of `counts`, as weights) follow from the `known` ones by sums
    and differences: those in their span. A known sum of 0 says each count in it is 0."""
    known_rows = np.vstack(known) if known else np.empty((0, len(counts)))
    none = (known_rows[known_rows @ counts == 0] > 0).any(axis=0)
    known_rows = np.vstack([known_rows, np.eye(len(counts))[none]])
    if not len(known_rows):
        return np.zeros(len(asked), dtype=bool)
    _, singular, rows = np.linalg.svd(known_rows, full_matrices=False)
    basis = rows[singular > 1e-9 * np.max(singular)]
    return np.abs(asked - asked @ basis.T @ basis).max(axis=1) < 1e-9


def _gives_back_small(
    known: list[np.ndarray], hidden: np.ndarray, counts: np.ndarray, min_cell: int
) -> bool:
    """Whether the `known` counts (each as weights on `counts`) give back a hidden one (a row
    of `hidden`), or two together, that is a small cell (`_spanned`)."""
    pairs = (hidden[:, None, :] + hidden[None, :, :])[np.triu_indices(len(hidden), 1)]
    asked = np.vstack([hidden, pairs])
    small = _below_cell(asked @ counts, min_cell)
    return bool(small.any() and _spanned(known, asked[small], counts).any())


def _row_weights(counts: pd.Series, top: int) -> np.ndarray:
    """`no_shows_per_client`'s rows as weights on `counts`: one k each below the top row, and
    every k from `top` up in it."""
    weights = np.eye(top + 1, len(counts))
    weights[top, top:] = 1
    return weights


def _hide_until_safe(
    suppress: Any,
    weights: Any,
    known: list[np.ndarray],
    asked: np.ndarray,
    counts: pd.Series,
    min_cell: int,
) -> pd.DataFrame:
    """`suppress(more)`, a table labelled by its first column and sized by its second, with the
    rows labelled `more` hidden too, until neither the `known` counts nor the table's shown rows
    (`weights(table)`, all as weights on `counts`) give back a hidden row or an `asked` count
    (`_gives_back_small`): a row at a time, the smallest whose hiding alone would do, else the
    smallest; or until none is left."""
    more: list[str] = []
    values = counts.to_numpy()
    while True:
        table = suppress(more)
        rows = weights(table)

        def unsafe(hidden: np.ndarray, rows: np.ndarray = rows) -> bool:
            return _gives_back_small(
                [*known, *rows[~hidden]], np.vstack([asked, rows[hidden]]), values, min_cell
            )

        hidden = table["suppressed"].to_numpy(bool)
        if min_cell <= 0 or not unsafe(hidden):
            return table
        label, size = table.columns[:2]
        shown = _smallest_first(table[~hidden], size)
        if shown.empty:
            return table
        enough = [not unsafe(hidden | (table.index == at)) for at in shown.index]
        more.append(shown[label].iloc[enough.index(True) if any(enough) else 0])


def no_shows_per_client(frame: pd.DataFrame, *, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """How many clients had 0, 1, 2, ... no-shows, among clients with a scheduled appointment;
    every count up to the top one is listed, so a chart of it has no silent gaps.

    The top row is top-coded: "k+" for the largest k that at least min_cell clients reached,
    since the one client with 15 no-shows would be a cell of their own even when suppressed;
    it has its "+" even where nobody had more, as knowing the most would let the no-shows of
    the summary line give rows back, and it comes down a count where its clients' no-shows
    past it would follow from the rows shown and the totals and be under min_cell.
    Counts of 1 to min_cell - 1 clients are suppressed, with complementary suppression: the rows
    add up to the clients `overview` shows, and those from "1" up to the clients with a no-show
    the survival summary shows. Where the clients with none are a small cell, `overview` does
    not show the clients, nor this table their shares (the clients would give them back), and
    row "0" is no complement for the others. More rows are hidden while the no-shows of the
    explorer's summary line, weighing each row by its count, would give one back. Labels are
    strings ("0", "1", "5+") like `no_show_after_k`'s; `min_cell=0` lists every count exactly,
    the top one without a "+"."""
    if frame.empty:
        return pd.DataFrame(
            {
                "no_shows": pd.Series(dtype="str"),
                "clients": pd.Series(dtype="int64"),
                "share": pd.Series(dtype="float64"),
                "suppressed": pd.Series(dtype="bool"),
            }
        )
    counts = _clients_by_no_shows(frame)
    most = int(counts.to_numpy().nonzero()[0].max())
    at_least = counts[::-1].cumsum()[::-1][: most + 1]  # clients with k or more no-shows
    top = int(at_least.index[at_least >= min_cell].max()) if (at_least >= min_cell).any() else 0
    known = _totals_shown(frame, counts, min_cell)
    while True:
        table = _per_client_table(counts, top, most, known, min_cell)
        # The top row's clients' no-shows past `top`: 0 to min_cell - 1 of them must not follow
        # from the rows shown (with the totals), as they would where the ones below it show;
        # one row lower they are at least its min_cell clients more.
        past = np.maximum(counts.index.to_numpy() - top, 0)[None, :]
        shown = _row_weights(counts, top)[~table["suppressed"].to_numpy(bool)]
        if (
            top == 0
            or min_cell <= 0
            or past @ counts >= min_cell
            or not _spanned([*known, *shown], past, counts.to_numpy())[0]
            or _spanned(known, past, counts.to_numpy())[0]  # lower, they would still follow
        ):
            return table
        top -= 1


def _per_client_table(
    counts: pd.Series, top: int, most: int, known: list[np.ndarray], min_cell: int
) -> pd.DataFrame:
    """`no_shows_per_client`'s table with its top row at `top`, suppressed against the `known`
    totals."""
    at_least = counts[::-1].cumsum()[::-1]
    clients = pd.concat([counts[:top], at_least[[top]]])
    labels = [*map(str, range(top)), f"{top}+" if top < most or min_cell > 0 else str(top)]
    shown = _clients_shown(counts, min_cell)
    table = pd.DataFrame(
        {
            "no_shows": labels,
            "clients": clients.to_numpy(),
            "share": (clients / clients.sum()).to_numpy() if shown else np.nan,
        }
    )
    weights = _row_weights(counts, top)
    return _hide_until_safe(
        lambda more: _suppress(
            table,
            table[["clients"]],
            ["clients", "share"],
            min_cell=min_cell,
            complement_by="clients",
            within=None if shown else table["no_shows"].eq("0"),
            force=table["no_shows"].isin(more),
        ),
        lambda _table: weights,
        known,
        np.empty((0, len(counts))),
        counts,
        min_cell,
    )


def _running_totals(k: np.ndarray) -> dict[str, np.ndarray]:
    """`no_show_after_k`'s no-shows per row as weights on the clients by no-shows (k = 0 ...):
    at k = 0, 1, 2 the clients with more than k (their first, second, third no-show), at
    "3+" each client's no-shows after the third."""
    return {
        "0": (k >= 1).astype(float),
        "1": (k >= 2).astype(float),
        "2": (k >= 3).astype(float),
        "3+": np.maximum(k - 3, 0).astype(float),
    }


def no_show_after_k(frame: pd.DataFrame, *, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """The chance of a no-show given k earlier no-shows by the same client (k = 0, 1, 2, 3+),
    suppressed as `no_show_rates`, and jointly with `no_shows_per_client`.

    Its no-shows are sums over the clients by no-shows (`_running_totals`): at k = 0, 1, 2 the
    clients with at least 1, 2, 3 no-shows, the running totals of `no_shows_per_client`'s rows,
    and all four add up to the no-shows the summary line shows. So rows are hidden, the
    smallest first, until no sum or difference of them with the per-client rows and the totals
    other outputs show (`_totals_shown`) gives back a hidden per-client row, a hidden row here,
    or two of them together, that is a small cell. A frame without client_id (hand-built) gets
    `no_show_rates`' suppression alone."""
    if "client_id" not in frame or min_cell <= 0 or frame.empty:  # nothing to suppress jointly
        return no_show_rates(frame, "earlier", min_cell=min_cell).rename(columns={"earlier": "k"})
    counts = _clients_by_no_shows(frame)
    per_client = no_shows_per_client(frame, min_cell=min_cell)
    weights = _row_weights(counts, int(per_client["no_shows"].iloc[-1].rstrip("+")))
    hidden = per_client["suppressed"].to_numpy(bool)
    runs = _running_totals(counts.index.to_numpy())
    rates = _hide_until_safe(
        lambda more: no_show_rates(frame, "earlier", min_cell=min_cell, also=more),
        lambda table: np.vstack(table["earlier"].map(runs).tolist()),
        [*_totals_shown(frame, counts, min_cell), *weights[~hidden]],
        weights[hidden],
        counts,
        min_cell,
    )
    return rates.rename(columns={"earlier": "k"})


# --- closure warnings ----------------------------------------------------------------------------

Marker = Literal["auto", "text", "approval"]
_TEXT_COLUMNS = ("message", "message_scrubbed")  # an extract may carry scrubbed text on request
_NO_TEXT = (
    "Closure warnings: not available. The contacts carry no message text (a de-identified "
    "extract removes it), so no warning can be found"
)


@dataclass(frozen=True)
class ClosureWarnings:
    """Each closure warning as (client_id, warned_at); `source` is what marked them ("text",
    "approval", or None when there was nothing to mark them by); `note` says so in words."""

    warnings: pd.DataFrame
    source: Literal["text", "approval"] | None
    note: str


def _text_column(contacts: pd.DataFrame) -> str | None:
    for column in _TEXT_COLUMNS:
        if column in contacts and contacts[column].fillna("").str.strip().ne("").any():
            return column
    return None


def closure_warnings(bundle: Bundle, marker: Marker = "auto") -> ClosureWarnings:
    """The clients' closure warnings, found by `marker`, or word that they cannot be found.

    "text" finds them in message text as the audit does; "approval" takes the time a supervisor
    approved a closure warning for that client, a proxy for an extract without text; "auto"
    takes text when there is any, else approvals. With neither, `source` is None rather than a
    guess, and every analysis through a warning is left out.
    """
    column = _text_column(bundle.contacts)
    approvals = bundle.approvals
    approvals = approvals[(approvals["kind"] == "closure_warning") & approvals["client_id"].notna()]
    if marker == "text" or (marker == "auto" and column is not None):
        if column is None:
            note = f"{_NO_TEXT}; marker='approval' uses closure-warning approvals as a proxy."
            return ClosureWarnings(_no_warnings(bundle), None, note)
        contacts = bundle.contacts.assign(message=bundle.contacts[column])
        found = AuditContext(replace(bundle, tables={**bundle.tables, "contacts": contacts}))
        warned = found.closure_warnings[["client_id", "started_at"]]
        return ClosureWarnings(
            warned.rename(columns={"started_at": "warned_at"}).reset_index(drop=True),
            "text",
            f"Closure warnings: outbound contacts to the client whose {column} text warns that "
            "the file will be closed (the audit's closure-warning phrases).",
        )
    if marker == "approval" or not approvals.empty:
        warned = approvals[["client_id", "approved_at"]]
        return ClosureWarnings(
            warned.rename(columns={"approved_at": "warned_at"}).reset_index(drop=True),
            "approval",
            "Closure warnings: PROXY. The time a supervisor approved a closure warning for the "
            "client stands in for the warning itself: an approval comes before its warning, and "
            "a warning given without approval is missed.",
        )
    note = f"{_NO_TEXT}, and there are no client-specific closure-warning approvals to use instead."
    return ClosureWarnings(_no_warnings(bundle), None, note)


def _no_warnings(bundle: Bundle) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": pd.Series(dtype="str"),
            "warned_at": pd.Series(dtype=bundle.contacts["started_at"].dtype),
        }
    )


# --- survival ------------------------------------------------------------------------------------

# Each leg: the time it starts from and the event it ends in, both columns of Survival.timelines.
LEGS = {
    "first no-show → closure warning": ("first_no_show", "warned_at"),
    "closure warning → dropout": ("warned_at", "dropout_at"),
    "first no-show → dropout": ("first_no_show", "dropout_at"),
}
KM_COLUMNS = ["leg", "days", "at_risk", "events", "survival", "std_err", "suppressed"]
SUMMARY_COLUMNS = ["leg", "clients", "events", "censored", "median_days", "suppressed"]
TIMELINE_COLUMNS = ["first_no_show", "warned_at", "last_appointment", "dropped_out", "dropout_at"]


@dataclass(frozen=True)
class Survival:
    """Kaplan–Meier estimates of each leg from first no-show to closure warning to dropout.

    `timelines` has one row per client with a no-show; `table` the survival at each event time
    per leg; `summary` per leg the clients, events, censored and median days (statsmodels'
    SurvfuncRight.quantile: the first day survival falls below one half; NaN if it never does);
    `notes` what marked a warning, how dropout was defined, and every caveat, to show with them.

    `table` and `summary` are suppressed as `survival` says; `timelines` is one row per client,
    for analysis on the extract only: never share it.
    """

    timelines: pd.DataFrame
    table: pd.DataFrame
    summary: pd.DataFrame
    notes: tuple[str, ...]


def is_date_shifted(bundle: Bundle) -> bool:
    """Whether the bundle is a de-identified extract whose dates were shifted per client."""
    record = bundle.path / EXTRACT_RECORD
    if not record.is_file():
        return False
    try:
        return bool(json.loads(record.read_text(encoding="utf-8")).get("date_shifted", True))
    except ValueError:  # an unreadable record: assume shifted, so the caveat is shown
        return True


# A leg's Kaplan–Meier table's types, also where no leg has a step (suppression sums its counts).
_KM_TYPES = {
    "days": "int64",
    "at_risk": "int64",
    "events": "int64",
    "survival": "float64",
    "std_err": "float64",
}


def _km_table(fit: SurvfuncRight) -> pd.DataFrame:
    """Survival at each event time, with clients at risk, events and Greenwood's std error."""
    columns = [fit.surv_times, fit.n_risk, fit.n_events, fit.surv_prob, fit.surv_prob_se]
    return pd.DataFrame(dict(zip(_KM_TYPES, columns, strict=True))).astype(_KM_TYPES)


WARNING_LEG, AFTER_WARNING_LEG, DROPOUT_LEG = LEGS
_NOTHING_SCHEDULED = "There are no scheduled appointments, so there is nothing to estimate."


def _suppress_summary(summary: pd.DataFrame, min_cell: int, event_days: np.ndarray) -> pd.DataFrame:
    """The legs' summary with small cells hidden, consistently across legs.

    clients = events + censored, so a small events or censored hides both (and the median);
    the clients stay unless they are small themselves. So do events no more than the leg's
    `event_days`: the Kaplan–Meier table lists each, and 19 events on 19 days are 1 a day. The
    legs share people: the clients after a warning are the first leg's events, and the third
    leg's events less the second's are the dropouts never warned, so those are hidden together
    too. A row with anything hidden has `suppressed` True."""

    def small(counts: Any) -> Any:
        return _below_cell(counts, min_cell)

    legs = summary.set_index("leg")
    one_a_day = (legs["events"] > 0) & (legs["events"] <= event_days) & (min_cell > 0)
    hide_events = small(legs["events"]) | small(legs["censored"]) | small(legs["clients"])
    hide_events |= one_a_day
    hide_clients = small(legs["clients"])
    if {WARNING_LEG, AFTER_WARNING_LEG, DROPOUT_LEG} <= set(legs.index) and min_cell > 0:
        unwarned = legs.at[DROPOUT_LEG, "events"] - legs.at[AFTER_WARNING_LEG, "events"]
        hide_events[AFTER_WARNING_LEG] |= bool(small(unwarned))
        linked = hide_events[WARNING_LEG] or hide_clients[AFTER_WARNING_LEG]
        hide_events[WARNING_LEG] |= linked
        hide_clients[AFTER_WARNING_LEG] |= linked
        hide_events[AFTER_WARNING_LEG] |= linked
    hide_events, hide_clients = hide_events.to_numpy(), hide_clients.to_numpy()
    return summary.assign(
        clients=summary["clients"].mask(hide_clients),
        events=summary["events"].mask(hide_events),
        censored=summary["censored"].mask(hide_events),
        median_days=summary["median_days"].mask(hide_events),
        suppressed=hide_events,
    )


def _suppress_km(
    table: pd.DataFrame, exact: pd.DataFrame, summary: pd.DataFrame, min_cell: int
) -> pd.DataFrame:
    """The Kaplan–Meier table with no suppressed count recoverable from what it shows, with the
    legs' `exact` summary and the `summary` shown.

    Counts: a step with 1 to min_cell - 1 at risk or events is hidden, with complementary
    suppression within the leg where the summary shows the leg's events (their sum); where the
    summary hides them, the smallest step goes if none did, so the steps do not add up to them;
    a leg whose summary hides its clients is hidden whole (its first step is at risk of them).

    The curve stops at the leg's first hidden step: survival and std_err are NaN from there on.
    On the step itself, survival gives back events / at risk (1 - S / S before), and a ratio
    with a numerator under min_cell and a denominator no larger than the leg's clients names
    both (1/29 can only be 1 of 29); Greenwood's std_err gives the other equation. Past it,
    survival over a run of hidden steps, divided by the next shown step's (1 - events / at
    risk), gives back the run's product, which for one step is the step. Nothing shown after
    the first hidden step is free of that, so nothing is shown, counts neither.

    Where the curve is shown, one step's at risk less its events less the next one's at risk
    is the clients censored between them (the leg's clients less the first step's at risk,
    those before it), and the last shown step's at risk less its events is everyone after it,
    the events of the hidden steps (the summary's less the shown ones, where it shows them) and
    the censored. So the curve also stops before a step with 1 to min_cell - 1 censored before
    it, and then where everyone after it, and the censored after it where the summary shows the
    events, are each 0 or at least min_cell."""
    hidden_leg = summary.loc[summary["clients"].isna(), "leg"]
    whole = table["leg"].isin(hidden_leg).to_numpy()
    counts, legs = table[["at_risk", "events"]], table["leg"]
    table = _suppress(
        table,
        counts,
        ["at_risk", "events"],
        min_cell=min_cell,
        complement_by="events",
        within="leg",
        force=whole,
    )
    summed = summary.loc[summary["events"].isna(), "leg"]
    bare = table["leg"].isin(summed) & ~table.groupby("leg")["suppressed"].transform("any")
    smallest = table[bare].sort_values("events", kind="stable").groupby("leg").head(1).index
    left = counts["at_risk"] - counts["events"]  # still at risk after the step
    totals = exact.set_index("leg")[["clients", "events"]].astype("float64")
    clients = legs.map(totals["clients"]).astype("float64")  # float: a leg may have no steps
    censored_before = left.groupby(legs).shift().fillna(clients) - counts["at_risk"]
    stopped = (
        table["suppressed"] | table.index.isin(smallest) | _below_cell(censored_before, min_cell)
    )
    stopped = stopped.groupby(legs).cummax()
    events_after = (
        legs.map(totals["events"]).astype("float64") - counts["events"].groupby(legs).cumsum()
    )
    told = legs.isin(summary.loc[summary["events"].notna(), "leg"])  # the reader knows them
    end = ~_below_cell(left, min_cell) & ~(told & _below_cell(left - events_after, min_cell))
    position = table.groupby("leg").cumcount()
    last = position.where(~stopped & end).groupby(legs).transform("max")
    hidden = ~(position <= last)
    columns = ["at_risk", "events", "survival", "std_err"]
    return table.assign(**{column: table[column].mask(hidden) for column in columns}).assign(
        suppressed=hidden
    )


@dataclass(frozen=True)
class _LegTimes:
    """Each leg's days to its event or to censoring, one row per client and leg (columns leg,
    client_id, days, event), with the client timelines they come from and the notes that say
    how warnings and dropout were found: what `survival` and `life_table` both estimate from."""

    timelines: pd.DataFrame
    times: pd.DataFrame
    notes: tuple[str, ...]


def _leg_times(
    bundle: Bundle, follow_up_days: int, marker: Marker, frame: pd.DataFrame | None = None
) -> _LegTimes | None:
    """The legs' times as the module doc defines dropout and the warning, or None when there
    are no scheduled appointments. Whoever has not reached the event is censored at the end of
    data; a dropout before the warning counts as 0 days after it. `frame`: the bundle's
    appointment_frame, when the caller has it (made here otherwise)."""
    frame = appointment_frame(bundle) if frame is None else frame
    if frame.empty:
        return None
    end = bundle.appointments["scheduled_start"].max()
    end_day = end.tz_localize(None).normalize()
    last = frame.groupby("client_id").tail(1).set_index("client_id")  # time order per client
    clients = pd.DataFrame(
        {"first_no_show": frame[frame["no_show"]].groupby("client_id")["start"].min()}
    )
    clients["last_appointment"] = last["start"]
    follow_up = (end_day - _local_day(clients["last_appointment"])).dt.days
    clients["dropped_out"] = last["status"].isin(MISSED_STATUSES) & (follow_up >= follow_up_days)
    clients["dropout_at"] = clients["last_appointment"].where(clients["dropped_out"])

    closure = closure_warnings(bundle, marker)
    warned = closure.warnings.merge(clients["first_no_show"].reset_index(), on="client_id")
    warned = warned[(warned["warned_at"] >= warned["first_no_show"]) & (warned["warned_at"] <= end)]
    clients["warned_at"] = warned.groupby("client_id")["warned_at"].min()
    clients = clients.rename_axis("client_id").reset_index()

    times = []
    for leg, (origin, target) in LEGS.items():
        at_risk = clients[clients[origin].notna()]
        if at_risk.empty or (closure.source is None and "warned_at" in (origin, target)):
            continue
        until = _local_day(at_risk[target]).fillna(end_day) - _local_day(at_risk[origin])
        times.append(
            pd.DataFrame(
                {
                    "leg": leg,
                    "client_id": at_risk["client_id"],
                    "days": until.dt.days.clip(lower=0).astype("int64"),
                    "event": at_risk[target].notna(),
                }
            )
        )

    notes = [
        closure.note,
        f"Dropout: the client's last scheduled appointment was missed (no_show or late_cancel) "
        f"with at least {follow_up_days} days of data after it. Whoever has not reached an event "
        f"is censored at the end of data ({end_day:%Y-%m-%d}).",
    ]
    if closure.source is not None and clients["warned_at"].isna().all():
        notes.append("No client was warned of closure after a no-show in these data.")
    if is_date_shifted(bundle):
        notes.append(
            "This extract is date-shifted per client, and the end of data is its latest shifted "
            "date: a client is censored, and a dropout's follow-up judged, up to the largest "
            "shift less their own (up to a year) after the real end, so follow-up looks longer "
            "and a missed last appointment near the real end can count as a dropout. Dropout "
            "curves from an extract run high; exact ones come from the bundle, at the clinic."
        )
    empty = pd.DataFrame(
        {"leg": [], "client_id": [], "days": pd.Series(dtype="int64"), "event": []}
    )
    return _LegTimes(
        timelines=clients[["client_id", *TIMELINE_COLUMNS]],
        times=pd.concat(times, ignore_index=True) if times else empty,
        notes=tuple(notes),
    )


def _kaplan_meier(times: pd.DataFrame, min_cell: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each leg's Kaplan–Meier table and the legs' summary, both suppressed (`_suppress_km`,
    `_suppress_summary`)."""
    tables, summaries, event_days = [], [], []
    for leg, rows in times.groupby("leg", sort=False):
        fit = SurvfuncRight(rows["days"].to_numpy("float64"), rows["event"].to_numpy("int64"))
        tables.append(_km_table(fit).assign(leg=leg))
        events = int(rows["event"].sum())
        summaries.append([leg, len(rows), events, len(rows) - events, float(fit.quantile(0.5))])
        event_days.append(len(fit.surv_times))
    table = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=KM_COLUMNS[:-1]).astype({"leg": "str", **_KM_TYPES})
    )
    exact = pd.DataFrame(summaries, columns=SUMMARY_COLUMNS[:-1])
    summary = _suppress_summary(exact, min_cell, np.array(event_days, dtype="int64"))
    return _suppress_km(table, exact, summary, min_cell)[KM_COLUMNS], summary


def survival(
    bundle: Bundle,
    *,
    follow_up_days: int = 28,
    marker: Marker = "auto",
    min_cell: int = MIN_CELL,
    frame: pd.DataFrame | None = None,
) -> Survival:
    """Time from a client's first no-show to a closure warning, from the warning to dropout,
    and from the first no-show to dropout, as Kaplan–Meier tables in whole calendar days (the
    module doc defines dropout and the warning). Whoever has not reached the event is censored
    at the end of data; a dropout before the warning counts as 0 days after it.

    Small cells (`_suppress_km`, `_suppress_summary`): an event time with 1 to min_cell - 1
    clients at risk or events has its counts suppressed, with complementary suppression within
    the leg, and each curve (survival, std_err) stops at its leg's first suppressed step, as
    the curve past it would give the step's counts back. With the few events per day of a
    small clinic that can be the first step: then no curve is shown, only the summary (and
    `life_table` groups the days into intervals that can be shown). A summary row with a small
    events or censored count hides both and its median, and legs that share clients are hidden
    together. The curve also stops before a step with few censored since the one before (its
    at risk, against the one before, would give them back).

    `frame` is the bundle's appointment_frame, where the caller has made it already (a million
    appointments take a second); it is made again otherwise."""
    legs = _leg_times(bundle, follow_up_days, marker, frame)
    if legs is None:
        empty = pd.DataFrame(columns=["client_id", *TIMELINE_COLUMNS])
        return Survival(
            empty,
            pd.DataFrame(columns=KM_COLUMNS),
            pd.DataFrame(columns=SUMMARY_COLUMNS),
            (_NOTHING_SCHEDULED,),
        )
    table, summary = _kaplan_meier(legs.times, min_cell)
    notes = list(legs.notes)
    if min_cell > 0:
        notes.append(
            f"{suppression_note(min_cell)} Each curve stops at its first suppressed step: "
            "past it, the curve would give that step's counts back."
        )
    return Survival(legs.timelines, table, summary, tuple(notes))


# --- life table ----------------------------------------------------------------------------------

LIFE_TABLE_COLUMNS = [
    "leg",
    "interval",
    "start_day",
    "end_day",
    "at_risk",
    "events",
    "censored",
    "effective_at_risk",
    "conditional_survival",
    "survival",
    "std_err",
]


@dataclass(frozen=True)
class LifeTable:
    """Actuarial life tables of the survival legs, in intervals of days wide enough to share.

    `table` per leg and interval [start_day, end_day) (the last is open: end_day missing,
    "84+"): the clients at risk at its start, the events and censored within it, the effective
    at risk (at risk - censored / 2, as the censored are taken to leave half-way through), the
    conditional survival through it (1 - events / effective at risk), the survival at its start
    (the product of the intervals before) and Greenwood's std error of that survival. `summary`
    is `survival`'s, suppressed the same; `notes` what marked a warning, how dropout was
    defined, how the intervals were chosen and which legs are not shown, and why.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    notes: tuple[str, ...]


def _actuarial(starts: np.ndarray, rows: pd.DataFrame) -> pd.DataFrame:
    """The actuarial estimate over intervals starting at `starts` (days, the last one open) for
    one leg's clients (`rows`: days, event); SAS PROC LIFETEST's life-table method."""
    interval = np.searchsorted(starts, rows["days"].to_numpy(), side="right") - 1
    event = rows["event"].to_numpy(bool)
    events = np.bincount(interval[event], minlength=len(starts))
    censored = np.bincount(interval[~event], minlength=len(starts))
    at_risk = (events + censored)[::-1].cumsum()[::-1]
    effective = at_risk - censored / 2
    conditional = 1 - events / effective
    with np.errstate(divide="ignore"):  # the last interval may lose everyone: never summed
        variance_terms = events / (effective * (effective - events))
    survival = np.concatenate([[1.0], np.cumprod(conditional)[:-1]])
    greenwood = np.concatenate([[0.0], np.cumsum(variance_terms)[:-1]])
    ends = pd.array([*starts[1:], None], dtype="Int64")
    labels = [
        f"{start}-{end - 1}" if end is not pd.NA else f"{start}+"
        for start, end in zip(starts, ends, strict=True)
    ]
    return pd.DataFrame(
        {
            "interval": labels,
            "start_day": starts.astype("int64"),
            "end_day": ends,
            "at_risk": at_risk,
            "events": events,
            "censored": censored,
            "effective_at_risk": effective,
            "conditional_survival": conditional,
            "survival": survival,
            "std_err": survival * np.sqrt(greenwood),
        }
    )


def _interval_starts(
    rows: pd.DataFrame, steps: pd.DataFrame, width_days: int, min_cell: int
) -> np.ndarray | None:
    """Where one leg's intervals start (days): `width_days` apart, merged left to right until
    nothing the table shows, alone or with the leg's Kaplan–Meier `steps` (days, events,
    suppressed), is a small cell; None when even one interval over the whole follow-up is not.

    An interval closes once its censored, and its events on days whose Kaplan–Meier step is not
    shown, are each 0 or at least min_cell, those events outnumber the distinct days they fall
    on (the Kaplan–Meier table lists those days: 11 events on 11 of them are 1 a day), and its
    end's at risk differs from every shown step's at risk, and from that less its events, by 0
    or at least min_cell (the difference counts the clients in between). A small remainder at
    the end is merged into the intervals before it. Events and censored each safe make every
    sum of them safe: at risk, its drops, the totals."""
    grid = (rows["days"] // width_days).to_numpy()
    size = int(grid.max()) + 1
    if min_cell <= 0:
        return np.arange(size) * width_days
    shown_steps = steps[~steps["suppressed"]]
    shown = shown_steps["days"].to_numpy()
    event = rows["event"].to_numpy(bool)
    unshown = event & ~rows["days"].isin(shown).to_numpy()
    censored = np.bincount(grid[~event], minlength=size)
    unshown_events = np.bincount(grid[unshown], minlength=size)
    unshown_days = distinct(rows["days"].to_numpy()[unshown])
    unshown_day_count = np.bincount(unshown_days // width_days, minlength=size)
    ordered = np.sort(rows["days"].to_numpy())

    def at_risk(days: np.ndarray) -> np.ndarray:
        return len(ordered) - np.searchsorted(ordered, days)

    bounds = np.arange(size) * width_days
    # A shown step gives its at risk, and its at risk less its events (those left after it).
    step_at_risk = at_risk(shown)
    known = np.concatenate([step_at_risk, step_at_risk - shown_steps["events"].to_numpy()])
    between = np.abs(at_risk(bounds)[:, None] - known[None, :])
    admissible = ~_below_cell(between, min_cell).any(axis=1)

    def safe(first: int, stop: int) -> bool:
        hidden = unshown_events[first:stop].sum()
        small = _below_cell(np.array([censored[first:stop].sum(), hidden]), min_cell)
        return bool(
            not small.any() and (hidden == 0 or hidden > unshown_day_count[first:stop].sum())
        )

    starts: list[int] = []
    first = 0
    for stop in range(1, size + 1):
        if (stop == size or admissible[stop]) and safe(first, stop):
            starts.append(first)
            first = stop
    if first < size:
        while not safe(first, size):
            if not starts:
                return None
            first = starts.pop()
        starts.append(first)
    return np.array(starts) * width_days


def life_table(
    bundle: Bundle,
    *,
    width_days: int = 14,
    follow_up_days: int = 28,
    marker: Marker = "auto",
    min_cell: int = MIN_CELL,
    frame: pd.DataFrame | None = None,
) -> LifeTable:
    """`survival`'s legs (the same clients, events and censoring) as actuarial life tables: time
    in intervals of `width_days` days, merged where needed so that a small clinic, whose
    Kaplan–Meier curves stop at their first step, still gets a curve it can share.

    Nothing is suppressed: each interval's events and censored are 0 or at least min_cell, so
    every count worked out from them (at risk, its drop from one interval to the next, any
    total) is too, and neither gives back anything small against the Kaplan–Meier table
    (`_interval_starts`). A leg whose summary row is suppressed is not shown (its totals would
    give the summary back), nor one that even a single interval cannot make safe; the notes
    say which. `min_cell=0` gives the unmerged intervals, for analysis on the extract only.
    `frame` as for `survival`."""
    if width_days < 1:
        raise ValueError(f"width_days must be a whole number of days, 1 or more: {width_days}")
    legs = _leg_times(bundle, follow_up_days, marker, frame)
    if legs is None:
        return LifeTable(
            pd.DataFrame(columns=LIFE_TABLE_COLUMNS),
            pd.DataFrame(columns=SUMMARY_COLUMNS),
            (_NOTHING_SCHEDULED,),
        )
    steps, summary = _kaplan_meier(legs.times, min_cell)
    notes = [
        *legs.notes,
        f"Life table (actuarial): days since the leg's start in intervals of {width_days} days; "
        "the censored count as at risk for half their interval. Survival is at each interval's "
        "start, with Greenwood's standard error; the last interval is open.",
    ]
    if min_cell > 0:
        notes.append(
            f"Intervals are merged, left to right, until each one's events and censored are 0 "
            f"or at least {min_cell}, so nothing needs suppressing (and none of it gives a "
            "small count back against the Kaplan–Meier table)."
        )
    tables = []
    for leg, rows in legs.times.groupby("leg", sort=False):
        if summary.loc[summary["leg"] == leg, "suppressed"].any():
            notes.append(
                f"{leg}: not shown, as its summary row is suppressed (the life table's totals "
                "would give it back)."
            )
            continue
        starts = _interval_starts(rows, steps[steps["leg"] == leg], width_days, min_cell)
        if starts is None:
            notes.append(
                f"{leg}: not shown: even one interval over the whole follow-up would give back "
                f"a count under {min_cell}."
            )
            continue
        tables.append(_actuarial(starts, rows).assign(leg=leg))
    table = (
        pd.concat(tables, ignore_index=True)[LIFE_TABLE_COLUMNS]
        if tables
        else pd.DataFrame(columns=LIFE_TABLE_COLUMNS)
    )
    return LifeTable(table, summary, tuple(notes))


# --- logistic regression -------------------------------------------------------------------------

CATEGORICAL_PREDICTORS = ("weekday", "clinician", "service")
NUMERIC_PREDICTORS = ("hour", "lead_days", "months_since_intake", "earlier_no_shows")
POOLED = "other (pooled)"
# Levels a categorical predictor keeps at most (the pool among them) from LEVELS_ROWS
# appointments up: 8,000 clinicians' dummies over a million appointments would be a 60 GB design
# matrix, and a fit's time is mostly its Newton steps', each about rows x coefficients^2 (the
# Hessian). 100,437 appointments took 1.0 s with 40 levels, 20.6 s with 130 and 63 s with all
# 737 clinicians, one after the other on a shared machine. Under LEVELS_ROWS a predictor keeps
# as many more levels as hold rows x levels^2 at MAX_LEVELS^2 x LEVELS_ROWS (`_level_cap`), so a
# smaller extract's fit costs about what 40 levels' does at 100,000 (on a busier machine: 4.5 s
# for 28,193 appointments' 75 levels, 7.2 s for the 100,437's 40).
MAX_LEVELS = 40
LEVELS_ROWS = 100_000
# Clients a fit needs at least, as its standard errors are cluster-robust by client: with few
# clusters those errors are too small and their tests reject too often (Cameron and Miller 2015,
# "A practitioner's guide to cluster-robust inference", take 20 to 50 as few); with one they
# cannot be computed at all (statsmodels divides by clients - 1).
MIN_CLIENTS = 30
TABLE_COLUMNS = ["term", "coef", "std_err", "z", "p_value", "ci_low", "ci_high", "odds_ratio"]


@dataclass(frozen=True)
class Regression:
    """A fitted logistic regression of no-show, or the reason there is none.

    `table` is empty when `message` says why the model could not be fitted. `rows` appointments
    were used and `excluded` were not; `notes` say why, which levels were pooled, left out,
    folded or used as reference, and which terms were dropped.
    """

    table: pd.DataFrame
    formula: str
    rows: int
    excluded: int
    message: str
    notes: tuple[str, ...]

    def __repr__(self) -> str:
        """What a console prints, and a notebook saves beside the table as text: the model and
        its outcome, never `rows` or `excluded`, exact counts the notes word as 'fewer than
        11' where the rate tables hide them."""
        return f"Regression({self.formula}: {self.message or f'{len(self.table)} coefficients'})"

    def _repr_html_(self) -> str:
        """The coefficients as a notebook shows them: a heading on every column (pandas' own
        table leaves its index's blank, which a screen reader announces as nothing), four
        significant digits."""
        numeric = [c for c in self.table.columns if pd.api.types.is_float_dtype(self.table[c])]
        shown = self.table.astype({c: object for c in numeric})
        for column in numeric:
            shown[column] = self.table[column].map("{:.4g}".format, na_action="ignore")
        return html_table(
            shown, numeric, "No coefficients: see the note above.", ' class="dataframe"'
        )


def _formula(numeric: list[str]) -> str:
    return "no_show ~ " + " + ".join([*CATEGORICAL_PREDICTORS, *numeric])


def _levels(count: int) -> str:
    return f"{count} level" if count == 1 else f"{count} levels"


def _level_cap(appointments: int) -> int:
    """The levels a predictor keeps at most by default: MAX_LEVELS from LEVELS_ROWS
    appointments up, and under them as many more as keep rows x levels^2, what each Newton step
    costs, at MAX_LEVELS' cost at LEVELS_ROWS (141 at 8,000 appointments, 400 at 1,000). Of the
    caller's whole frame, not the usable rows: the cap, said in a note, tells nothing of the
    rows the rate tables may hide."""
    return max(MAX_LEVELS, math.floor(MAX_LEVELS * math.sqrt(LEVELS_ROWS / max(appointments, 1))))


def _level_counts(data: pd.DataFrame, column: str) -> pd.DataFrame:
    """Each level's appointments and no-shows, smallest first (by appointments): the order
    in which levels join a pool."""
    counts = data.groupby(column)["no_show"].agg(appointments="size", no_shows="sum")
    return counts.sort_values("appointments", kind="stable")


def _short_of(counts: pd.DataFrame, min_rows: int, min_cell: int) -> pd.DataFrame:
    """Which counts keep each row of `counts` (a level, or a pool) from a coefficient of its
    own: under `min_rows` appointments, or 1 to min_cell - 1 no-shows or kept. Against a shown
    reference, a coefficient and its standard error (about sqrt(1/a + 1/b + 1/c + 1/d)) give
    the level's no-shows and kept back, which the rate tables may hide. None kept or none
    missed is no small cell: such a level is left out (one outcome) instead."""
    kept = counts["appointments"] - counts["no_shows"]
    return pd.DataFrame(
        {
            "appointments": counts["appointments"] < min_rows,
            "no-shows": _below_cell(counts["no_shows"], min_cell),
            "kept appointments": _below_cell(kept, min_cell),
        }
    )


def _too_few(short: pd.DataFrame, min_rows: int, min_cell: int, bare: bool = False) -> str:
    """What the rows of `short` (`_short_of`'s) are short of, in words, each a bound ('fewer
    than 11 no-shows'), never a count. Few appointments say it for a row (few of them are
    few no-shows or kept too); `bare` leaves "appointments" out where only they are named."""
    limits = {"appointments": min_rows, "no-shows": min_cell, "kept appointments": min_cell}
    outcomes = short[~short["appointments"]].drop(columns="appointments").any()
    named = [name for name in limits if name in outcomes.index[outcomes]]
    named = ["appointments", *named] if short["appointments"].any() or not named else named
    if bare and named == ["appointments"]:
        return f"fewer than {min_rows}"
    joiner = " and " if len(short) == 1 else " or "
    return joiner.join(f"fewer than {limits[name]} {name}" for name in named)


def _pool_rare(
    data: pd.DataFrame,
    min_rows: int,
    max_levels: int,
    notes: list[str],
    after: str = "",
    min_cell: int = 0,
) -> pd.DataFrame:
    """Pool each predictor's levels short of a coefficient of their own (`_short_of`: fewer
    than `min_rows` appointments, or 1 to min_cell - 1 no-shows or kept) as POOLED, so no
    coefficient stands for fewer. A pool of one level would be that clinician under another
    name, so a lone rare level is pooled with the next smallest level: a pooled level always
    holds at least two. A pool still short (two clinicians of 4 and 5 appointments) takes in
    the next smallest levels until it is not, or holds them all; a predictor whose levels all
    pooled are still short is dropped (one level, so no term). Past `max_levels` levels (a
    health system's thousands of clinicians, whose design matrix would not fit in memory:
    `_level_cap`), all but the max_levels - 1 with most appointments are pooled too. `after`
    ends each note (why a second pass pools)."""
    for column in CATEGORICAL_PREDICTORS:
        counts = _level_counts(data, column)
        many = len(counts) - (max_levels - 1) if len(counts) > max_levels else 0
        if many and (counts["appointments"].iloc[:many] >= min_rows).any():
            notes.append(
                f"{column}: {many:,} levels beyond the {max_levels - 1} with the most "
                f"appointments pooled as '{POOLED}', as a predictor keeps at most "
                f"{max_levels} levels (max_levels, the pool among them) so that the fit's time "
                "and memory stay bounded (fit a site or a group of clinicians at a time for "
                "theirs)."
            )
            data = data.assign(
                **{column: data[column].mask(data[column].isin(counts.index[:many]), POOLED)}
            )
            counts = _level_counts(data, column)
        levels = counts.drop(POOLED, errors="ignore")  # smallest first
        pool = counts.reindex([POOLED]).fillna(0).iloc[0]
        short = _short_of(levels, min_rows, min_cell)
        rare = short.any(axis=1)
        pool_short = bool(pool["appointments"]) and _short_of(
            counts.loc[[POOLED]], min_rows, min_cell
        ).any(axis=None)
        if levels.empty or not (rare.any() or pool_short):
            continue
        # The rare levels, then the next smallest, until the pool holds two levels and is
        # short of nothing.
        order = pd.concat([levels[rare], levels[~rare]])
        running = order.cumsum() + pool
        least = max(int(rare.sum()), 1 if pool["appointments"] else min(2, len(levels)))
        enough = np.flatnonzero(
            ~_short_of(running.iloc[least - 1 :], min_rows, min_cell).any(axis=1).to_numpy()
        )
        taken = least + int(enough[0]) if len(enough) else len(levels)
        count, joined = int(rare.sum()), taken - int(rare.sum())
        reasons = _too_few(short[rare], min_rows, min_cell)
        if count == 1 and taken == 2 and not pool["appointments"]:
            notes.append(
                f"{column}: 1 level with {reasons} pooled as '{POOLED}' with the next smallest "
                f"level, so the pool is not one level under another name{after}."
            )
        else:
            # The pool before the next smallest joined: what it was short of.
            before = _short_of(pd.DataFrame([pool + levels[rare].sum()]), min_rows, min_cell)
            grown = (
                f"; the pool had {_too_few(before, min_rows, min_cell, bare=True)}, so the "
                f"next smallest {_levels(joined)} joined it"
                if joined
                else ""
            )
            notes.append(
                f"{column}: {_levels(count)} with {reasons} pooled as '{POOLED}'{grown}{after}."
            )
        if taken == len(levels):  # one level left: no term
            whole = _short_of(running.iloc[[-1]], min_rows, min_cell)
            why = (
                f"all its levels pooled still have {_too_few(whole, min_rows, min_cell)}"
                if not len(enough)
                else "all its levels are pooled, one level"
            )
            notes.append(f"{column} dropped: {why}, so it has no coefficient.")
        pooled = data[column].isin(order.index[:taken])
        data = data.assign(**{column: data[column].mask(pooled, POOLED)})
    return data


def _level_count(appointments: int, min_cell: int) -> str:
    """A left-out level's appointments for its note, exact with min_cell=0 only: with its 0% or
    100% no-shows they are its cell of the rate table, which may be hidden there (a complement
    the rest of that table would then give back)."""
    return f"{appointments:,} appointments, " if min_cell <= 0 else ""


def _drop_one_outcome_levels(data: pd.DataFrame, notes: list[str], min_cell: int) -> pd.DataFrame:
    """Leave out levels whose appointments were all kept or all missed: their coefficient is
    infinite, and without them the other estimates are the limit the fit would run to.
    Repeated, as leaving rows out can take the last no-show from another variable's level."""
    while True:
        one_outcome = pd.Series(False, index=data.index)
        for column in CATEGORICAL_PREDICTORS:
            grouped = data.groupby(column)["no_show"]
            rate, size = grouped.mean(), grouped.size()
            constant = rate.index[rate.isin([0, 1])]
            notes.extend(
                f"{column} {level}: {_level_count(size[level], min_cell)}"
                f"{rate[level]:.0%} no-shows; left out (a level with one outcome has no finite "
                "coefficient)."
                for level in constant
            )
            one_outcome |= data[column].isin(constant)
        if not one_outcome.any():
            return data
        data = data[~one_outcome]


def _pool_and_drop(
    data: pd.DataFrame, min_rows: int, max_levels: int, notes: list[str], min_cell: int
) -> pd.DataFrame:
    """Rare levels pooled (`_pool_rare`), then levels with one outcome left out, again until
    every level holds `min_rows` appointments: leaving rows out can shrink a clinician (or the
    pool) under it, whose coefficient would then stand for fewer."""
    data = _pool_rare(data, min_rows, max_levels, notes, min_cell=min_cell)
    while True:
        data = _drop_one_outcome_levels(data, notes, min_cell)
        small = [
            column
            for column in CATEGORICAL_PREDICTORS
            if data[column].nunique() > 1
            and _short_of(_level_counts(data, column), min_rows, min_cell).any(axis=None)
        ]
        if not small:
            return data
        again = _pool_rare(
            data,
            min_rows,
            max_levels,
            notes,
            ", once levels with one outcome were left out",
            min_cell,
        )
        if again[small].equals(data[small]):
            return data
        data = again


def _with_references(data: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Each categorical predictor with its most common level first, so that is the reference.
    A predictor of one level has no term, so no reference either: its note says it was dropped,
    where pooling has not said so already."""
    for column in CATEGORICAL_PREDICTORS:
        levels = data[column].value_counts()
        order = [levels.index[0], *sorted(levels.index[1:])]
        data = data.assign(**{column: pd.Categorical(data[column], categories=order)})
        dropped = f"{column} dropped: "
        if len(levels) > 1:
            notes.append(f"{column}: reference level {levels.index[0]}.")
        elif not any(note.startswith(dropped) for note in notes):
            notes.append(
                f"{dropped}every usable appointment has the same {column}, so it has no "
                "coefficient."
            )
    return data


def _fold_note(
    data: pd.DataFrame, column: str, level: str, hidden: Mapping[str, Collection[str]]
) -> str:
    """Why `level` was folded into its column's reference, and which estimate now carries its
    effect: the level of another predictor with exactly its appointments (a group only one
    clinician leads, who leads nothing else), where there is one. Not where either level is
    `hidden` (suppressed in its rate table) or the pool, whose members may be: the tie would
    say the two cells are equal, and the one shown would give the hidden one back (with the
    table's total, its complement too)."""
    reference = data[column].cat.categories[0]
    rows = data[column] == level
    twins = [
        (other, twin)
        for other in CATEGORICAL_PREDICTORS
        if other != column
        for twin in data.loc[rows, other].unique()
        if rows.equals(data[other] == twin)
    ]
    folded = f"folded into {reference}, the reference level of {column}."
    if not twins or any(
        name == POOLED or name in hidden.get(of, ()) for of, name in [(column, level), *twins[:1]]
    ):
        return (
            f"{column} {level}: a combination of other predictors' levels, so its effect cannot "
            f"be told apart from theirs: {folded}"
        )
    other, twin = twins[0]
    carrier = (
        f"The intercept ({other} {twin} is the reference level)"
        if twin == data[other].cat.categories[0]
        else f"The {other}[T.{twin}] estimate"
    )
    return (
        f"{column} {level}: its appointments are all and only {other} {twin}'s, so the two "
        f"effects cannot be told apart: {folded} {carrier} carries both."
    )


def _fold_aliased(
    data: pd.DataFrame,
    aliased: set[str],
    notes: list[str],
    hidden: Mapping[str, Collection[str]],
) -> list[str]:
    """The numeric predictors left once aliased ones are dropped. Aliased categorical levels
    are folded into their reference (their design column dropped); the notes say where each
    folded level's effect went, as the table has no row for it, each column's once the
    columns before it are folded (`_fold_note`: not naming a tie with a `hidden` level)."""
    for column in CATEGORICAL_PREDICTORS:
        prefix = f"{column}[T."
        levels = sorted(name[len(prefix) : -1] for name in aliased if name.startswith(prefix))
        if levels:
            reference = data[column].cat.categories[0]
            notes.extend(_fold_note(data, column, level, hidden) for level in levels)
            folded = data[column].mask(data[column].isin(levels), reference)
            data = data.assign(**{column: folded.cat.remove_unused_categories()})
    numeric = [column for column in NUMERIC_PREDICTORS if column not in aliased]
    notes.extend(
        f"{column} dropped: constant, or a combination of other predictors."
        for column in NUMERIC_PREDICTORS
        if column in aliased
    )
    return numeric


def _aliased_columns(design: np.ndarray, names: list[str]) -> set[str]:
    """Design columns that are combinations of the ones before them: a QR diagonal entry near
    zero means nothing of that column is left once the earlier ones are projected out."""
    diagonal = np.abs(np.diag(np.linalg.qr(design, mode="r")))
    scale = np.maximum(np.linalg.norm(design, axis=0), 1.0)
    return {name for name, alias in zip(names, diagonal <= 1e-9 * scale, strict=True) if alias}


def _coefficients(fit: Any) -> pd.DataFrame:  # statsmodels' results wrapper
    interval = fit.conf_int()
    return pd.DataFrame(
        {
            "term": fit.params.index,
            "coef": fit.params.to_numpy(),
            "std_err": fit.bse.to_numpy(),
            "z": fit.tvalues.to_numpy(),
            "p_value": fit.pvalues.to_numpy(),
            "ci_low": interval[0].to_numpy(),
            "ci_high": interval[1].to_numpy(),
            "odds_ratio": np.exp(fit.params.to_numpy()),
        }
    )


EARLIER_NO_SHOWS_CAVEAT = (
    "earlier_no_shows (and the chance of a no-show after k earlier ones) mostly compares "
    "clients, not moments in one client's treatment: clients who miss often have more earlier "
    "no-shows and miss more throughout, so the estimate is positive even where missing does "
    "not change a client's own chance (a within-client analysis, such as a conditional logit by "
    "client, can give the opposite sign). Read it as a marker of the client, not as an effect "
    "of missing."
)


def _by_client(data: pd.DataFrame) -> tuple[dict[str, Any], str]:
    """The fit's covariance, and the note saying which: cluster-robust by client, as one
    client's appointments are not independent (a client who misses once tends to miss again),
    so plain standard errors are too small. A hand-built frame without client_id gets plain
    ones."""
    if "client_id" not in data:
        return {}, (
            "Standard errors assume independent appointments (the frame has no client_id): "
            "too small where clients have many appointments."
        )
    groups = pd.factorize(data["client_id"])[0]
    return {"cov_type": "cluster", "cov_kwds": {"groups": groups}}, (
        "Standard errors, z, p-values and intervals are cluster-robust by client: a client's "
        "appointments are not independent of each other."
    )


# What a model short of data needs: the notebook's frame is the whole extract, a caller's may be
# a range of its months.
_MORE_MONTHS = "more months (a wider date range, or an extract that covers more of them)"


def _one_outcome(rows: int, events: int, exact: bool) -> str:
    """Why there is no model when the usable appointments (`rows`, `events` no-shows) are all
    of one outcome, or none: counted with `exact` (min_cell=0) only."""
    if not rows:
        said, advice = "no appointment is usable", f"use {_MORE_MONTHS}"
    elif not events:
        said = (
            f"none of the {rows:,} usable appointments is" if exact else "no usable appointment is"
        )
        said, advice = f"{said} a no-show", f"use {_MORE_MONTHS}"
    else:
        said = f"all {rows:,} usable appointments are" if exact else "every usable appointment is"
        said = f"{said} {'no-shows' if exact else 'a no-show'}"
        advice = "use every appointment of the months studied, not only the no-shows"
    compare = ", so there is nothing to compare" if rows else ""
    return (
        f"Too little data for the model: {said}{compare}. It needs both no-shows and kept "
        f"appointments: {advice}."
    )


def logistic_regression(
    frame: pd.DataFrame,
    *,
    min_level_rows: int = 30,
    min_cell: int = MIN_CELL,
    max_levels: int | None = None,
) -> Regression:
    """Logit of no-show on weekday, clinician and service (categorical) and hour, lead days,
    months since intake and earlier no-shows (numeric; earlier capped at 3, meaning 3 or more).

    Real clinics break textbook logits: a clinician with a perfect record, a group only the
    director leads. So levels with fewer than `min_level_rows` appointments are pooled (and past
    `max_levels` levels, a health system's thousands of clinicians, all but the most booked
    max_levels - 1; by default 40 from 100,000 appointments up and more under them,
    `_level_cap`), levels with one outcome left out, aliased levels folded into the reference
    (the most common level), each said in `notes`, and a predictor left with one level dropped;
    what still cannot be estimated (appointments all of one outcome, fewer than MIN_CLIENTS
    clients, perfect separation on a numeric predictor, too few rows, no convergence) comes
    back as a `message`, never a traceback. Standard errors are cluster-robust by client
    (`_by_client`), and the notes say that earlier_no_shows mostly compares clients.
    Appointments without a lead time or months in treatment (no intake date) are left out.

    Small cells: the coefficient table holds no counts, but a level's coefficient and standard
    error against a shown reference give its no-shows and kept back (se^2 is about 1/a + 1/b
    + 1/c + 1/d). So with min_cell > 0 every level with a row (and the pool, and the
    reference) has at least max(min_level_rows, min_cell) appointments and no 1 to
    min_cell - 1 no-shows or kept (`_short_of`): shorter ones are pooled, a pool still short
    takes in the next smallest levels, a predictor whose levels all pooled are still short is
    dropped, and pooling runs again after levels with one outcome are left out. The notes
    say which counts were too few, never how many; they and the messages write a count of 1
    to min_cell - 1 as "fewer than 11". The fit itself always uses the exact data.
    """
    needed = ["no_show", *CATEGORICAL_PREDICTORS, *NUMERIC_PREDICTORS]
    data = frame[[*needed, *(["client_id"] if "client_id" in frame else [])]].dropna()
    notes = []
    missing = len(frame) - len(data)
    if missing:  # those are months in treatment's "(not known)", which its table may hide
        count = (
            _count(missing, min_cell).capitalize() if min_cell <= 0 or missing < min_cell else "The"
        )
        notes.append(
            f"{count} appointment{'' if count == '1' else 's'} without a lead time or months in "
            "treatment (no intake date, or intake after the appointment) left out."
        )
    data = data.astype({"no_show": "int64", "hour": "float64"}).assign(
        earlier_no_shows=data["earlier_no_shows"].clip(upper=3)
    )
    data = data.astype({column: "str" for column in CATEGORICAL_PREDICTORS})
    formula = _formula(list(NUMERIC_PREDICTORS))

    def failed(message: str) -> Regression:
        empty = pd.DataFrame(columns=TABLE_COLUMNS)
        return Regression(empty, formula, len(data), len(frame) - len(data), message, tuple(notes))

    # Exact counts with min_cell=0 only: the usable appointments are the total less cells the
    # rate tables may hide (months in treatment "(not known)", levels left out).
    exact = min_cell <= 0
    if data["no_show"].nunique() < 2:  # before pooling, which would leave every level out
        return failed(_one_outcome(len(data), int(data["no_show"].sum()), exact))
    cap = _level_cap(len(frame)) if max_levels is None else max_levels
    data = _pool_and_drop(data, max(min_level_rows, min_cell), cap, notes, min_cell)
    rows, events = len(data), int(data["no_show"].sum())
    if events in (0, rows):
        lacking = "no-shows" if events == 0 else "kept appointments"
        left = f"the {rows:,} appointments left" if exact else "the appointments left"
        return failed(
            "Too little data for the model: once the levels with one outcome were left out "
            f"(see the notes), {f'{left} have no {lacking}' if rows else 'none is left'}. It "
            f"needs both no-shows and kept appointments: use {_MORE_MONTHS}, or raise "
            "min_level_rows to pool small clinicians and services."
        )
    data = _with_references(data, notes)
    # check_rank=False: _aliased_columns finds (and the model then folds) what is not of full
    # rank; statsmodels' own QR of the design again took 5 s a model at 1M appointments.
    model = smf.logit(formula, data, check_rank=False)
    rarer = min(events, rows - events)
    if rarer < model.exog.shape[1]:
        counted = f"{rows:,} usable appointments, {events:,} of them no-shows, for"
        return failed(
            f"Too little data for the model: "
            f"{counted if exact else 'fewer no-shows, or kept appointments, than'} "
            f"{model.exog.shape[1]} coefficients. It needs at least as many no-shows, and kept "
            f"appointments, as coefficients: use {_MORE_MONTHS}."
        )
    clients = data["client_id"].nunique() if "client_id" in data else MIN_CLIENTS
    if clients < MIN_CLIENTS:
        of = f"{clients:,} client{'s' * (clients != 1)}" if exact else f"fewer than {MIN_CLIENTS}"
        return failed(
            "Too few clients for the model: its standard errors are cluster-robust by client (a "
            f"client's appointments are not independent), which needs at least {MIN_CLIENTS} "
            f"clients, and the usable appointments are those of {of}. With fewer the errors "
            "come out too small, and with one they cannot be computed at all: use "
            f"{_MORE_MONTHS}, or an extract of more clients."
        )
    aliased = _aliased_columns(model.exog, model.exog_names)
    if aliased:
        # The levels the rate tables (same frame, same min_cell) suppress: no tie names them.
        hidden = {
            column: set(rates.loc[rates["suppressed"], column])
            for column in CATEGORICAL_PREDICTORS
            for rates in [no_show_rates(frame, column, min_cell=min_cell)]
        }
        numeric = _fold_aliased(data, aliased, notes, hidden)
        formula = _formula(numeric)
        # The formula's design without the aliased columns: what folding their levels into
        # the reference gives, without building the design again (2 s at 1M appointments).
        names = model.exog_names
        kept = [i for i, name in enumerate(names) if name not in aliased]
        design = pd.DataFrame(model.exog[:, kept], columns=[names[i] for i in kept], copy=False)
        model = Logit(pd.Series(model.endog, name="no_show"), design, check_rank=False)
    covariance, errors_note = _by_client(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            fit = model.fit(disp=0, maxiter=100, **covariance)
    except (PerfectSeparationError, PerfectSeparationWarning):
        return failed(
            "Perfect separation: some predictor tells no-shows from kept appointments exactly, "
            "so its coefficient would be infinite and the model has no finite estimate: "
            f"use {_MORE_MONTHS}."
        )
    except (ConvergenceWarning, np.linalg.LinAlgError):
        return failed(
            "The model did not converge, so its estimates would not be trustworthy: usually "
            f"a predictor nearly separates no-shows from kept appointments. Use {_MORE_MONTHS}, "
            "or raise min_level_rows to pool small clinicians and services."
        )
    notes += [errors_note, EARLIER_NO_SHOWS_CAVEAT]
    parameters = len(fit.params)
    if events / parameters < 10:
        # The ratio to a tenth, times the coefficients (the table's rows), gives the no-shows
        # used back, and the total less them those left out, which the rate tables may hide.
        per = f"only {events / parameters:.1f}" if min_cell <= 0 else "fewer than 10"
        notes.append(
            f"{per.capitalize()} no-shows per coefficient (10 or more is the usual rule of "
            "thumb): treat the estimates as rough."
        )
    return Regression(_coefficients(fit), formula, rows, len(frame) - rows, "", tuple(notes))


# --- charts and widgets --------------------------------------------------------------------------


def rate_chart(rates: pd.DataFrame, by: str, *, min_cell: int = MIN_CELL) -> alt.LayerChart:
    """No-show rate per level as bars with their 95% interval; `rates` is already aggregated, so
    the chart holds one row per level whatever the size of the clinic.

    Levels `no_show_rates` suppressed are left out of the chart's data, and its subtitle says
    how many and why (`min_cell` is only for those words), so a missing bar is not read as no
    appointments."""
    label = GROUPINGS[by]
    suppressed = rates["suppressed"] if "suppressed" in rates else pd.Series(False, rates.index)
    title = alt.TitleParams(f"No-show rate by {label}")
    if suppressed.any():
        title = alt.TitleParams(
            f"No-show rate by {label}",
            subtitle=f"{suppressed.sum()} of {len(rates)} groups not shown: cells under "
            f"{min_cell} are suppressed (see the table).",
        )
    rates = rates[~suppressed]
    # The levels in the rows' order (sort=None), which is theirs already: a list of thousands of
    # clinicians in the spec took the widget 0.4 s a redraw to check against Vega-Lite's schema.
    base = alt.Chart(rates).encode(
        x=alt.X(f"{by}:O", sort=None, title=label, axis=alt.Axis(labelLimit=160))
    )
    bars = base.mark_bar(color="#4c78a8").encode(
        y=alt.Y("rate:Q", title="no-show rate", axis=alt.Axis(format="%")),
        tooltip=[
            alt.Tooltip(f"{by}:O", title=label),
            alt.Tooltip("scheduled:Q", title="scheduled"),
            alt.Tooltip("no_shows:Q", title="no-shows"),
            alt.Tooltip("rate:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95% CI from", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95% CI to", format=".1%"),
        ],
    )
    interval = base.mark_rule(color="#333").encode(y="ci_low:Q", y2="ci_high:Q")
    return (bars + interval).properties(title=title, width=480, height=260)


def _survival_and_leg() -> dict[str, alt.Y | alt.Color]:
    """The survival charts' y and colour: survival from 0 to 100% and every leg in its own
    colour, whichever legs are drawn. Both fixed, so a chart with nothing to draw still has
    its axes and legend (Vega gave an empty one no size, and drew a box with its title cut)."""
    return {
        "y": alt.Y(
            "survival:Q",
            title="not yet reached",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        "color": alt.Color("leg:N", scale=alt.Scale(domain=list(LEGS)), title=None),
    }


def survival_chart(table: pd.DataFrame, *, min_cell: int = MIN_CELL) -> alt.Chart:
    """Kaplan–Meier step curves, one per leg, each starting at 100% on day 0; one point per
    event day, so a few hundred rows however many clients a clinic has.

    It plots only the survival the table shows: each curve stops where `survival` suppressed
    it (its first step with a count under min_cell), and a leg with nothing left is not drawn;
    the subtitle says so (`min_cell` is only for those words)."""
    shown = table[table["survival"].notna()]
    legs = shown["leg"].unique()
    start = pd.DataFrame({"leg": legs, "days": 0, "survival": 1.0})
    data = pd.concat([start, shown[["leg", "days", "survival"]]], ignore_index=True)
    title = alt.TitleParams("Kaplan–Meier: time to closure warning and dropout")
    if shown.empty and len(table):  # a small clinic's: every leg's first step is a small cell
        title = alt.TitleParams(
            title.text,
            subtitle=f"No curve is drawn: each leg's first step has a count under {min_cell} "
            "(small cells are suppressed; see the table).",
        )
    elif len(shown) < len(table):
        title = alt.TitleParams(
            title.text,
            subtitle=f"Each curve stops at its first step with a count under {min_cell} "
            "(small cells are suppressed; see the table).",
        )
    # The days' axis over the table's days even with no curve to draw.
    last_day = int(table["days"].max()) if len(table) else 0
    days = alt.Scale(domain=[0, max(1, last_day)], nice=True)
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("days:Q", title="days since the leg's start", scale=days),
            **_survival_and_leg(),
            tooltip=["leg:N", "days:Q", alt.Tooltip("survival:Q", format=".1%")],
        )
        .properties(title=title, width=480)
    )


def life_table_chart(table: pd.DataFrame) -> alt.Chart:
    """The life table's survival at the start of each interval, a step curve per leg with a
    point at each interval's start; the tooltip gives the interval and its counts, all of them
    shareable as `life_table` chose the intervals. A leg with one interval is its start alone
    (100%): its conditional survival, in the table, is the whole estimate."""
    data = table[
        ["leg", "interval", "start_day", "survival", "std_err", "at_risk", "events", "censored"]
    ]
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("start_day:Q", title="days since the leg's start (interval starts)"),
            **_survival_and_leg(),
            tooltip=[
                "leg:N",
                alt.Tooltip("interval:N", title="days"),
                alt.Tooltip("survival:Q", title="survival at start", format=".1%"),
                alt.Tooltip("std_err:Q", title="std error", format=".1%"),
                "at_risk:Q",
                "events:Q",
                "censored:Q",
            ],
        )
        .properties(
            title=alt.TitleParams(
                "Life table: time to closure warning and dropout",
                subtitle="Survival at the start of each interval; the last interval is open.",
            ),
            width=480,
        )
    )


NOTHING_TO_EXPLORE = "There are no scheduled appointments to explore."


# The explorer's table as Jupyter shows a displayed table (Table): inside a widget no notebook
# style reaches it, and the bare table drew a border round every cell.
EXPLORER_TABLE_STYLE = (
    "<style>\n"
    + table_rules(".auditkit-no-show-table", "4px 10px")
    + """.auditkit-no-show-table table { border: none; font-size: 13px; }
.auditkit-no-show-table th, .auditkit-no-show-table td { border-left: none; border-right: none;
  border-top: none; text-align: right; }
.auditkit-no-show-table th:first-child, .auditkit-no-show-table td:first-child {
  text-align: left; }
</style>"""
)


class NoShowExplorer:
    """A grouping menu and a month-range slider over the no-show rate chart and its table.

    Changing either recomputes `rates` from `frame` (an `appointment_frame`) and replaces the
    chart's spec, so the display follows the widgets. `widget` is what a notebook shows: on a
    frame with no appointments, a note saying so and no menus (a month slider needs a month).

    Small cells are suppressed in `rates`, the table, the chart and the summary line (its totals
    are what the groups add up to, hence the complementary suppression in `no_show_rates`), and
    a group or the summary line is suppressed too when the months outside the range hold a small
    cell there, as the full range's view less this one would give it back (and a count the full
    range shows to be 0 is no complement: it is 0 in the range too). Two views of partial
    ranges can still be differenced (Jan-Mar less Jan-Feb is March): no set of views can be
    protected against every difference, so each view is for exploring, and one exported view
    is what suppression protects. `suppress=False` (or `min_cell=0`) shows exact numbers, for
    analysis only: never share them.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        date_shifted: bool = False,
        min_cell: int = MIN_CELL,
        suppress: bool = True,
    ) -> None:
        import ipywidgets as widgets  # the notebooks extra: the analyses above work without it

        self.frame = frame
        self.min_cell = min_cell if suppress else 0
        first = next(iter(GROUPINGS))  # the grouping shown first: the menu's, or the empty rates'
        if frame.empty:  # an extract of a clinic's first days: words, as the other analyses give
            self.rates = no_show_rates(frame, first)
            self.widget = widgets.HTML(Notes(NOTHING_TO_EXPLORE)._repr_html_())
            return
        months = sorted(frame["month"].unique())
        self.grouping = widgets.Dropdown(
            options=[(label, key) for key, label in GROUPINGS.items()],
            value=first,
            description="Group by",
            style={"description_width": "initial"},
        ).add_class("auditkit-grouping")
        self.months = widgets.SelectionRangeSlider(
            options=months,
            index=(0, len(months) - 1),
            description="Months (shifted)" if date_shifted else "Months",
            style={"description_width": "initial"},  # the default width cuts "Months (s…"
            continuous_update=False,
            layout=widgets.Layout(width="480px"),
        )
        self.summary = widgets.HTML().add_class("auditkit-no-show-summary")
        self.table = widgets.HTML().add_class("auditkit-no-show-table")
        self.chart = jupyter_chart(self._redraw()).add_class("auditkit-chart-no-show")
        menus = widgets.HBox(  # the slider goes below the menu where the page is narrow
            [self.grouping, self.months], layout=widgets.Layout(flex_flow="row wrap")
        )
        self.widget = widgets.VBox([menus, self.summary, self.chart, self.table])
        self.grouping.observe(self._update, names="value")
        self.months.observe(self._update, names="value")

    def _redraw(self) -> alt.LayerChart:
        first, last = self.months.value
        by = self.grouping.value
        inside = self.frame["month"].between(first, last)
        chosen, left_out = self.frame[inside], self.frame[~inside]
        # What the range leaves out is the full range's view less this one: a group or total
        # with a small cell there is suppressed here (complementary suppression still runs).
        also: list[str] = []
        if not left_out.empty:
            outside = no_show_rates(left_out, by, min_cell=0)
            also = outside.loc[_small(_checked(outside), self.min_cell), by].tolist()
        if by == "earlier" and left_out.empty:  # no_show_after_k's cells: suppressed as it is
            after_k = no_show_after_k(chosen, min_cell=self.min_cell)
            self.rates = after_k.rename(columns={"k": "earlier"})
        else:
            whole = None if left_out.empty else no_show_rates(self.frame, by, min_cell=0)
            self.rates = no_show_rates(chosen, by, min_cell=self.min_cell, also=also, within=whole)
        scheduled, missed = len(chosen), int(chosen["no_show"].sum())
        totals = _checked(pd.DataFrame({"scheduled": [scheduled], "no_shows": [missed]}))
        left = _checked(
            pd.DataFrame(
                {"scheduled": [len(left_out)], "no_shows": [int(left_out["no_show"].sum())]}
            )
        )
        if _small(pd.concat([totals, left]), self.min_cell).any():
            self.summary.value = (
                f"Scheduled appointments and no-shows <b>suppressed</b> (cells under "
                f"{self.min_cell}), {first} to {last}"
            )
        else:
            self.summary.value = (
                f"<b>{scheduled:,}</b> scheduled appointments, <b>{missed:,}</b> no-shows "
                f"({missed / scheduled:.1%}), {first} to {last}"
            )
        self.table.value = EXPLORER_TABLE_STYLE + table_html(self.rates, min_cell=self.min_cell)
        return rate_chart(self.rates, self.grouping.value, min_cell=self.min_cell)

    def _update(self, _change: object = None) -> None:
        self.chart.chart = self._redraw()


# --- where the data is ---------------------------------------------------------------------------


def locate_bundle(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The de-identified extract named by $AUDITKIT_EXTRACT, else the repository's data/sample,
    found from `start` (default: the working directory) upwards, wherever Jupyter runs from.

    A folder named by $AUDITKIT_EXTRACT must be an extract (it holds extract.json): a clinic's
    own bundle there would put its names, numbers and notes in front of the researcher."""
    environ = os.environ if environ is None else environ
    if extract := environ.get(EXTRACT_ENV, "").strip():
        if not (Path(extract) / EXTRACT_RECORD).is_file():
            raise BundleError(
                f"${EXTRACT_ENV} names {extract}, which is not a de-identified extract (it has "
                f"no {EXTRACT_RECORD}). Research runs on extracts, not on the clinic's records: "
                "make one with auditkit deidentify BUNDLE --out FOLDER and name that folder."
            )
        return Path(extract)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "sample").is_dir():
            return folder / "data" / "sample"
    raise BundleError(
        f"No bundle to study: ${EXTRACT_ENV} is not set and no data/sample folder was found "
        f"from {here} upwards. Set {EXTRACT_ENV} to a de-identified extract's folder."
    )
