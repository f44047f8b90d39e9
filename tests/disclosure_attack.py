"""An attacker on the no-show notebook's suppressed outputs, for the disclosure tests.

It takes what the notebook shows side by side (the first line's appointments and clients, the
explorer over the full month range in every grouping with its summary line, the clients by
no-shows, the chance after k, the survival summary, Kaplan–Meier table and life table, and the
regression's notes) as a linear system: every count the outputs are sums of is an unknown, a
shown count an equation, and what anyone knows of the data a bound (a listed group has an
appointment, a listed Kaplan–Meier step an event, counts are not negative). For each hidden
count, and each sum of two hidden cells of one table, it finds the least and the greatest
value the system allows (linear programming: a bound, so a count it pins is pinned for any
reader). A count between 1 and min_cell - 1 pinned to one value is a leak.

The truth (min_cell=0) gives each unknown's value, so every equation is checked against it: an
attacker whose system the data do not satisfy would find leaks that are not there.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from auditkit import research
from auditkit.validation import Bundle

MIN_CELL = research.MIN_CELL


@dataclass
class System:
    """Unknowns with their true values and bounds, equations, inequalities and queries."""

    truth: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)
    equations: list[tuple[dict[int, float], float]] = field(default_factory=list)
    at_least: list[tuple[dict[int, float], float]] = field(default_factory=list)
    queries: list[tuple[str, dict[int, float]]] = field(default_factory=list)

    def var(self, name: str, truth: float, lower: float = 0) -> int:
        if name not in self.names:
            self.names[name] = len(self.truth)
            self.truth.append(float(truth))
            self.lower.append(lower)
            self.upper.append(None)
        return self.names[name]

    def value(self, coefs: dict[int, float]) -> float:
        return sum(self.truth[i] * c for i, c in coefs.items())

    def equal(self, coefs: dict[int, float], value: float, what: str) -> None:
        assert abs(self.value(coefs) - value) < 1e-6, f"model error: {what}"
        self.equations.append((coefs, float(value)))

    def fix(self, index: int, value: float, what: str) -> None:
        self.equal({index: 1.0}, value, what)

    def not_below(self, coefs: dict[int, float], value: float, what: str) -> None:
        assert self.value(coefs) >= value - 1e-6, f"model error: {what}"
        self.at_least.append((coefs, float(value)))

    def ask(self, label: str, coefs: dict[int, float]) -> None:
        self.queries.append((label, coefs))

    def leaks(self, min_cell: int = MIN_CELL) -> list[tuple[str, float]]:
        """Each queried count the system pins to one value between 1 and min_cell - 1."""
        size = len(self.truth)

        def rows(pairs: list[tuple[dict[int, float], float]]) -> tuple[np.ndarray, np.ndarray]:
            matrix = np.zeros((len(pairs), size))
            for row, (coefs, _) in enumerate(pairs):
                for i, c in coefs.items():
                    matrix[row, i] += c
            return matrix, np.array([value for _, value in pairs])

        a_eq, b_eq = rows(self.equations)
        a_ge, b_ge = rows(self.at_least)
        bounds = list(zip(self.lower, self.upper, strict=True))
        found = []
        for label, coefs in self.queries:
            truth = self.value(coefs)
            if not 0 < round(truth) < min_cell:
                continue
            objective = np.zeros(size)
            for i, c in coefs.items():
                objective[i] += c
            extremes = []
            for sign in (1, -1):
                result = linprog(
                    sign * objective,
                    A_ub=-a_ge if len(a_ge) else None,
                    b_ub=-b_ge if len(b_ge) else None,
                    A_eq=a_eq if len(a_eq) else None,
                    b_eq=b_eq if len(b_eq) else None,
                    bounds=bounds,
                    method="highs",
                )
                if result.status == 3:  # unbounded: nothing pins it
                    break
                assert result.status == 0, f"{label}: {result.message}"
                extremes.append(sign * result.fun)
            if len(extremes) < 2:
                continue
            low, high = extremes
            assert low - 1e-6 <= truth <= high + 1e-6, f"model error: {label}"
            if high - low < 1e-6:
                found.append((label, round(truth)))
        return found


def _known(value: float) -> bool:
    return not pd.isna(value)


def _ask_hidden(system: System, table: str, cells: dict[str, dict[int, float]]) -> None:
    """Queries for hidden cells of one table column: each, each pair, and all together."""
    for label, coefs in cells.items():
        system.ask(f"{table} {label}", coefs)
    for (one, a), (two, b) in itertools.combinations(cells.items(), 2):
        system.ask(f"{table} {one} + {two}", _add(a, b))
    if len(cells) > 2:
        together: dict[int, float] = {}
        for coefs in cells.values():
            together = _add(together, coefs)
        system.ask(f"{table} all hidden", together)


def _add(a: dict[int, float], b: dict[int, float], scale: float = 1.0) -> dict[int, float]:
    out = dict(a)
    for i, c in b.items():
        out[i] = out.get(i, 0.0) + scale * c
    return out


def _rates(
    system: System,
    key: str,
    shown: pd.DataFrame,
    truth: pd.DataFrame,
    level: str,
    totals: tuple[int | None, int | None],
    table: str,
) -> None:
    """A rate table's levels: appointments s and no-shows x per level, adding up to the totals
    (`key` names the cells, shared by two tables of the same cells; `table` the output)."""
    scheduled, no_shows = {}, {}
    for (_, row), (_, true) in zip(shown.iterrows(), truth.iterrows(), strict=True):
        name = f"{key}[{row[level]}]"
        s = system.var(f"s:{name}", true["scheduled"], lower=1)
        x = system.var(f"x:{name}", true["no_shows"])
        system.not_below({s: 1, x: -1}, 0, f"{name} kept")
        if _known(row["scheduled"]):
            system.fix(s, row["scheduled"], name)
            system.fix(x, row["no_shows"], name)
        else:
            scheduled[name], no_shows[name] = {s: 1.0}, {x: 1.0}
    all_s = {system.names[f"s:{key}[{v}]"]: 1.0 for v in shown[level]}
    all_x = {system.names[f"x:{key}[{v}]"]: 1.0 for v in shown[level]}
    if totals[0] is not None:
        system.equal(all_s, totals[0], f"{key} appointments")
    if totals[1] is not None:
        system.equal(all_x, totals[1], f"{key} no-shows")
    _ask_hidden(system, f"{table} appointments", scheduled)
    _ask_hidden(system, f"{table} no-shows", no_shows)
    _ask_hidden(
        system, f"{table} kept", {n: _add(scheduled[n], no_shows[n], -1) for n in scheduled}
    )


def _per_client(
    system: System, shown: pd.DataFrame, frame: pd.DataFrame, min_cell: int
) -> dict[str, dict]:
    """Clients by no-shows: c[k] for k up to K = max(top, 4), and the clients above K (q) with
    their no-shows (r >= (K + 1) q). Gives the running totals after_k and survival share."""
    per = frame.groupby("client_id")["no_show"].sum()
    labels = shown["no_shows"].tolist()
    top = int(labels[-1].rstrip("+"))
    plus = labels[-1].endswith("+")
    most = max(top, 4)
    c = [system.var(f"c[{k}]", (per == k).sum()) for k in range(most + 1)]
    q = system.var("c[>K]", (per > most).sum())
    r = system.var("no-shows[>K]", per[per > most].sum())
    system.not_below({r: 1, q: -(most + 1)}, 0, "tail no-shows")
    if not plus:
        for k in range(top + 1, most + 1):
            system.fix(c[k], 0, f"c[{k}]")
        system.fix(q, 0, "no tail")
    cells = {}
    for label, clients in zip(labels, shown["clients"], strict=True):
        k = int(label.rstrip("+"))
        coefs = {c[j]: 1.0 for j in range(k, most + 1)} | {q: 1.0} if label.endswith("+") else None
        coefs = coefs or {c[k]: 1.0}
        if _known(clients):
            system.equal(coefs, clients, f"per-client {label}")
        else:
            cells[label] = coefs
    _ask_hidden(system, "clients with no-shows", cells)
    # The clients: in the first line, or a shown row's count over its share.
    told = re.search(r"([\d,]+) clients$", research.overview(frame, min_cell=min_cell))
    share = shown[(shown["clients"] > 0) & shown["share"].notna()]
    if told or not share.empty:
        system.equal({i: 1.0 for i in [*c, q]}, frame["client_id"].nunique(), "clients")
    runs = {str(j): {c[k]: 1.0 for k in range(j + 1, most + 1)} | {q: 1.0} for j in range(3)}
    runs["3+"] = {c[k]: float(k - 3) for k in range(4, most + 1)} | {r: 1.0, q: -3.0}
    everything = {c[k]: float(k) for k in range(1, most + 1)} | {r: 1.0}
    return {"runs": runs, "no_shows": everything, "none": {c[0]: 1.0}}


def _earlier(system: System, links: dict[str, dict]) -> None:
    """no_show_after_k's cells are per-client running totals; each client's first appointment is
    at k = 0, and a client with no no-show kept at least one there."""
    for label, coefs in links["runs"].items():
        x = system.names.get(f"x:earlier[{label}]")  # a row not listed has no appointment
        system.equal(_add({} if x is None else {x: 1.0}, coefs, -1), 0, f"after k {label}")
    s0, x0 = system.names["s:earlier[0]"], system.names["x:earlier[0]"]
    system.not_below(_add({s0: 1.0, x0: -1.0}, links["none"], -1), 0, "kept at k = 0")


def _legs(
    system: System,
    shown: research.Survival,
    life: research.LifeTable,
    times: pd.DataFrame,
    links: dict[str, dict],
) -> None:
    """Each leg's events e[i] at its listed step days (each >= 1) and censored per segment of
    days between the days any output names; the KM table, summary and life table as sums."""
    totals = {}
    for leg, rows in times.groupby("leg", sort=False):
        steps = shown.table[shown.table["leg"] == leg].reset_index(drop=True)
        intervals = life.table[life.table["leg"] == leg].reset_index(drop=True)
        bounds = sorted({0, *steps["days"], *intervals["start_day"]})
        segment = np.searchsorted(bounds, rows["days"].to_numpy(), side="right") - 1
        event = rows["event"].to_numpy(bool)
        step_of = {day: i for i, day in enumerate(steps["days"])}
        e = [
            system.var(f"{leg} e[{day}]", (rows["days"][event] == day).sum(), lower=1)
            for day in steps["days"]
        ]
        cs = [
            system.var(f"{leg} censored[{start}..]", ((segment == j) & ~event).sum())
            for j, start in enumerate(bounds)
        ]

        def within(
            start: float, stop: float, e=e, cs=cs, bounds=bounds, step_of=step_of
        ) -> dict[int, float]:
            chosen = {e[step_of[d]]: 1.0 for d in step_of if start <= d < stop}
            return chosen | {cs[j]: 1.0 for j, b in enumerate(bounds) if start <= b < stop}

        def only(coefs: dict[int, float], kind: set[int]) -> dict[int, float]:
            return {i: c for i, c in coefs.items() if i in kind}

        events_of, censored_of = set(e), set(cs)
        hidden = {}
        for i, step in steps.iterrows():
            if _known(step["events"]):
                system.fix(e[i], step["events"], f"{leg} step {step['days']}")
                system.equal(within(step["days"], np.inf), step["at_risk"], f"{leg} at risk")
            else:
                hidden[f"day {step['days']}"] = {e[i]: 1.0}
        _ask_hidden(system, f"{leg} events", hidden)
        everyone = within(0, np.inf)
        for _, interval in intervals.iterrows():
            stop = interval["end_day"] if _known(interval["end_day"]) else np.inf
            part = within(interval["start_day"], stop)
            system.equal(only(part, events_of), interval["events"], f"{leg} life events")
            system.equal(only(part, censored_of), interval["censored"], f"{leg} life censored")
        row = shown.summary[shown.summary["leg"] == leg].iloc[0]
        for column, coefs in [
            ("clients", everyone),
            ("events", only(everyone, events_of)),
            ("censored", only(everyone, censored_of)),
        ]:
            if _known(row[column]):
                system.equal(coefs, row[column], f"{leg} {column}")
            else:
                system.ask(f"{leg} summary {column}", coefs)
        # Clients leaving between two days the outputs name: censored, and all who left.
        for j in range(len(bounds)):
            start, stop = bounds[j], bounds[j + 1] if j + 1 < len(bounds) else np.inf
            system.ask(
                f"{leg} censored in [{start}, {stop})", only(within(start, stop), censored_of)
            )
        totals[leg] = (everyone, only(everyone, events_of), only(everyone, censored_of))
    first, after, dropout = research.LEGS
    if first in totals:
        system.equal(_add(totals[first][0], links["runs"]["0"], -1), 0, "leg clients = k0")
        if after in totals:
            system.equal(_add(totals[after][0], totals[first][1], -1), 0, "warned = events")
    if dropout in totals:
        system.equal(_add(totals[dropout][0], links["runs"]["0"], -1), 0, "leg3 clients = k0")
        if after in totals and first in totals:
            unwarned = _add(totals[dropout][1], totals[after][1], -1)
            system.not_below(unwarned, 0, "unwarned dropouts")
            system.not_below(_add(totals[first][2], unwarned, -1), 0, "unwarned never warned")


_DROPPED = re.compile(r"^(weekday|clinician|service) (.+): ([\d,]+) appointments, (\d+)% no-shows")


_TIE = re.compile(
    r"^(weekday|clinician|service) (.+): its appointments are all and only "
    r"(weekday|clinician|service) (.+)'s, so"
)


def _regression(system: System, notes: tuple[str, ...], frame: pd.DataFrame) -> None:
    """A level the regression left out names its appointments and its 0% or 100%, and a folded
    level the level of another predictor with all and only its appointments: with every
    appointment used, that is the level's cell in the rate table, or two cells that are equal
    (each taken where it matches)."""
    if any("without a lead time" in note for note in notes):
        return
    for note in notes:
        if tie := _TIE.match(note):
            column, level, other, twin = tie.groups()
            one, two = f"{column}[{level}]", f"{other}[{twin}]"
            if {f"s:{one}", f"s:{two}"} <= set(system.names):
                for count in ("s", "x"):
                    a, b = system.names[f"{count}:{one}"], system.names[f"{count}:{two}"]
                    if system.truth[a] == system.truth[b]:
                        system.equal({a: 1.0, b: -1.0}, 0, f"regression tie {one} {count}")
        match = _DROPPED.match(note)
        if not match:
            continue
        column, level, count, percent = match.groups()
        name = f"{column}[{level}]"
        if f"s:{name}" not in system.names:
            continue
        count = int(count.replace(",", ""))
        s, x = system.names[f"s:{name}"], system.names[f"x:{name}"]
        if system.truth[s] == count:
            system.fix(s, count, f"regression {name}")
            system.fix(x, count if percent == "100" else 0, f"regression {name} no-shows")


def attack_regression(frame: pd.DataFrame, min_cell: int = MIN_CELL):
    """The leaks in the explorer's tables by clinician and by service (every month, with the
    summary line's totals) beside the regression's notes, for a hand-built model frame."""
    system = System()
    totals = (len(frame), int(frame["no_show"].sum()))
    for by in research.CATEGORICAL_PREDICTORS[1:]:
        shown = research.no_show_rates(frame, by, min_cell=min_cell)
        _rates(system, by, shown, research.no_show_rates(frame, by, min_cell=0), by, totals, by)
    _regression(system, research.logistic_regression(frame, min_cell=min_cell).notes, frame)
    return system.leaks(min_cell)


def attack(bundle: Bundle, min_cell: int = MIN_CELL, groupings=tuple(research.GROUPINGS)):
    """The leaks in the notebook's outputs of `bundle`: (what, its value) for each count
    between 1 and min_cell - 1 that what it shows pins down."""
    frame = research.appointment_frame(bundle)
    system = System()
    scheduled, no_shows = len(frame), int(frame["no_show"].sum())
    summary_shown = not research._below_cell(
        np.array([scheduled, no_shows, scheduled - no_shows]), min_cell
    ).any()
    told = research._below_cell(scheduled, min_cell)  # the first line says "fewer than"
    totals = (None if told else scheduled, no_shows if summary_shown else None)
    found = [
        (f"first line {what}", value)
        for what, value in [("appointments", scheduled), ("clients", frame["client_id"].nunique())]
        if 0 < value < min_cell and f"{value} {what}" in research.overview(frame, min_cell=min_cell)
    ]
    explorer = research.NoShowExplorer(frame, min_cell=min_cell)
    for by in groupings:
        explorer.grouping.value = by
        _rates(
            system,
            by,
            explorer.rates,
            research.no_show_rates(frame, by, min_cell=0),
            by,
            totals,
            f"explorer by {by}",
        )
    after = research.no_show_after_k(frame, min_cell=min_cell).rename(columns={"k": "earlier"})
    truth = research.no_show_after_k(frame, min_cell=0).rename(columns={"k": "earlier"})
    _rates(system, "earlier", after, truth, "earlier", totals, "after k")
    per_client = research.no_shows_per_client(frame, min_cell=min_cell)
    links = _per_client(system, per_client, frame, min_cell)
    _earlier(system, links)
    legs = research._leg_times(bundle, 28, "auto")
    shown = research.survival(bundle, min_cell=min_cell)
    life = research.life_table(bundle, min_cell=min_cell)
    _legs(system, shown, life, legs.times, links)
    _regression(system, research.logistic_regression(frame, min_cell=min_cell).notes, frame)
    return found + system.leaks(min_cell)


def attack_month_range(bundle: Bundle, by: str, first: str, last: str, min_cell: int = MIN_CELL):
    """The leaks in the explorer's view of the months `first` to `last` grouped `by`, beside
    its view of every month: each group's cell in the range is part of its full one, and the
    months left out are the difference."""
    frame = research.appointment_frame(bundle)
    system = System()
    explorer = research.NoShowExplorer(frame, min_cell=min_cell)
    explorer.grouping.value = by
    full = explorer.rates
    totals = (len(frame), int(frame["no_show"].sum()))
    _rates(system, by, full, research.no_show_rates(frame, by, min_cell=0), by, totals, "full")
    explorer.months.value = (first, last)
    inside = frame[frame["month"].between(first, last)]
    truth = research.no_show_rates(inside, by, min_cell=0)
    told = "suppressed" not in explorer.summary.value
    part = (len(inside), int(inside["no_show"].sum())) if told else (None, None)
    _rates(system, f"in {by}", explorer.rates, truth, by, part, "range")
    for level in truth[by]:
        s_in, x_in = system.names[f"s:in {by}[{level}]"], system.names[f"x:in {by}[{level}]"]
        s, x = system.names[f"s:{by}[{level}]"], system.names[f"x:{by}[{level}]"]
        outside = {
            "appointments": {s: 1.0, s_in: -1.0},
            "no-shows": {x: 1.0, x_in: -1.0},
            "kept": {s: 1.0, s_in: -1.0, x: -1.0, x_in: 1.0},
        }
        for what, coefs in outside.items():
            system.not_below(coefs, 0, f"outside {level} {what}")
            system.ask(f"outside the range {by}[{level}] {what}", coefs)
    return system.leaks(min_cell)
