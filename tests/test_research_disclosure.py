"""Small-cell suppression against a reader who puts the notebook's outputs side by side.

Each focused test is a leak that was found by the attacker in disclosure_attack.py: a clinic,
the count of 1 to 10 that its shared outputs gave back, and how; and it pins what the outputs
show now, with exact values. The last tests run the attacker itself over generated clinics and
hand-built edge cases, so a change that opens a new leak fails here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from disclosure_attack import attack, attack_month_range, attack_regression
from test_research import (
    assert_rates,
    clients_with,
    dropout_bundle,
    grouped,
    life_bundle,
    model_frame,
    per_client,
    with_earlier,
)

from auditkit import load, research
from auditkit.sample import generate_sample

# 48 clients with 0..8 no-shows, each with one kept session after them (test_research's).
SPREAD = {0: 15, 1: 12, 2: 4, 3: 11, 4: 3, 6: 2, 8: 1}


def explorer_by(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The explorer's table over every month, grouped `by`."""
    explorer = research.NoShowExplorer(frame.assign(month="2026-01", weekday="Monday"))
    explorer.grouping.value = by
    return explorer.rates


def test_the_explorer_by_earlier_no_shows_hides_what_no_show_after_k_hides():
    # The explorer's "earlier no-shows" over all months is no_show_after_k's table. It used to
    # show k = 1 (33 appointments, 21 no-shows) that no_show_after_k hides: 21 clients with 2 or
    # more no-shows, less the "3+" row's 17 of no_shows_per_client, gave back the 4 with 2.
    frame = with_earlier(clients_with(SPREAD))
    assert_rates(
        explorer_by(frame, "earlier"),
        "earlier",
        [("0", 48, 33), ("1", None, None), ("2", None, None), ("3+", None, None)],
    )


FEBRUARY = [("DBT", 200, 31), ("assessment", 11, 0), ("individual", 650, 110), ("intake", 26, 0)]


def test_a_month_range_does_not_hide_a_group_behind_one_with_no_no_shows():
    # January: DBT 20 (3 no-shows), individual 100 (20), intake 2 (0); February: DBT 200 (31),
    # assessment 11 (0), individual 650 (110), intake 26 (0). All of it is shown. February
    # alone hides DBT and intake, as January would give their 3 no-shows and 2 appointments
    # back. But intake had no no-show in the full view, so none in February: the hidden pair's
    # no-shows, 141 - 0 - 110 = 31, were DBT's, and 34 - 31 the 3 of January. Individual goes
    # too now.
    frame = pd.concat(
        [
            grouped("service", [("DBT", 20, 3), ("individual", 100, 20), ("intake", 2, 0)]),
            grouped("service", FEBRUARY, month="2026-02"),
        ],
        ignore_index=True,
    )
    explorer = research.NoShowExplorer(frame.assign(weekday="Monday"))
    explorer.grouping.value = "service"
    assert not explorer.rates["suppressed"].any()
    explorer.months.value = ("2026-02", "2026-02")
    assert_rates(
        explorer.rates,
        "service",
        [
            ("DBT", None, None),
            ("assessment", 11, 0),
            ("individual", None, None),
            ("intake", None, None),
        ],
    )
    assert explorer.summary.value.startswith("<b>887</b> scheduled appointments, <b>141</b>")


def test_the_clients_are_not_shown_where_they_would_give_back_the_clients_without_a_no_show():
    # 42 clients, 5 of them without a no-show. The survival summary shows the 37 with one (its
    # legs from the first no-show), so the first line's 42 clients, or a shown share (12 is
    # 28.6%), gave back the 5. The clients are not shown, nor the shares; row "0" is hidden
    # alone, as the rows from "1" up add up to the 37 anyway. (The top row is "2+": "3+" with
    # the 73 no-shows of the summary line would say that nobody had more than 3.)
    frame = with_earlier(clients_with({0: 5, 1: 12, 2: 14, 3: 11}))
    assert research.overview(frame) == (
        "115 scheduled appointments, clients suppressed (cells under 11)"
    )
    expected = per_client([("0", np.nan), ("1", 12), ("2+", 25)], 42)
    pd.testing.assert_frame_equal(
        research.no_shows_per_client(frame),
        expected.assign(share=np.nan),
        check_dtype=False,
    )
    # Where the clients without a no-show are 0 or at least 11, the line gives them.
    assert research.overview(with_earlier(clients_with(SPREAD))) == (
        "133 scheduled appointments, 48 clients"
    )
    assert research.overview(frame, min_cell=0) == "115 scheduled appointments, 42 clients"
    # A clinic of 7 appointments: the first line said "7 scheduled appointments".
    tiny = with_earlier(clients_with({0: 3, 1: 2}))
    assert research.overview(tiny) == (
        "Fewer than 11 scheduled appointments, clients suppressed (cells under 11)"
    )


def test_after_k_hides_rows_the_summary_lines_no_shows_would_give_back():
    # The clinic of `auditkit sample --clients 120 --seed 1`: 611 no-shows (the summary line),
    # 106 clients with a no-show (survival), and no_shows_per_client hides "1" (10 clients).
    # no_show_after_k hid k = 1 and 2, but all four rows add up to the 611 no-shows, so with
    # k = 0 (106) and "3+" (332) shown their two no-shows came to 173 = (106 - c1) + (106 - c1
    # - 19): c1 = 10. "3+" is hidden too now.
    spread = {0: 14, 1: 10, 2: 19, 3: 15, 4: 12, 5: 7, 6: 10, 7: 8, 8: 5, 9: 5, 10: 3}
    spread |= {11: 1, 12: 1, 13: 1, 14: 3, 17: 1, 18: 1, 19: 2, 24: 1, 29: 1}
    frame = with_earlier(clients_with(spread))
    assert research.no_shows_per_client(frame)["suppressed"].tolist() == [
        False,
        True,
        False,
        False,
        False,
        *[True] * 7,
        False,
    ]
    assert_rates(
        research.no_show_after_k(frame),
        "k",
        [("0", 120, 106), ("1", None, None), ("2", None, None), ("3+", None, None)],
    )
    assert_rates(
        research.no_show_after_k(frame, min_cell=0),
        "k",
        [("0", 120, 106), ("1", 106, 96), ("2", 96, 77), ("3+", 409, 332)],
    )


def test_the_top_row_keeps_its_plus_where_nobody_had_more():
    # 31 clients: 15 with no no-show, 4 with 2, 12 with 3 (the most). A top row "3" said nobody
    # had more, so the 16 clients with a no-show (survival) and the 44 no-shows (summary line)
    # gave back 2 x c2 + 3 x c3 = 44 with c2 + c3 = 16: c2 = 4. "3+" leaves the tail open.
    frame = with_earlier(clients_with({0: 15, 2: 4, 3: 12}))
    pd.testing.assert_frame_equal(
        research.no_shows_per_client(frame),
        per_client([("0", 15), ("1", 0), ("2", np.nan), ("3+", np.nan)], 31),
        check_dtype=False,
    )
    assert research.no_shows_per_client(frame, min_cell=0)["no_shows"].iloc[-1] == "3"


def test_the_top_row_comes_down_where_its_clients_no_shows_past_it_would_follow():
    # 57 clients: 10 with none, 12 with 1, 30 with 2, 5 with 3. The 47 with a no-show
    # (survival) and the 87 no-shows (summary line) are shown. With rows "1" (12) and "2+"
    # (35), 87 - 12 - 2 x 35 gave back the 5 no-shows past the second. One row lower, past
    # the first, are those 5 and 35 more. (Row "0", 10, is hidden, and so are the clients.)
    frame = with_earlier(clients_with({0: 10, 1: 12, 2: 30, 3: 5}))
    pd.testing.assert_frame_equal(
        research.no_shows_per_client(frame),
        per_client([("0", np.nan), ("1+", 47)], 57).assign(share=np.nan),
        check_dtype=False,
    )


def test_the_summary_hides_events_that_are_one_on_each_listed_day(tmp_path):
    # 12 dropouts, one on each of days 1 to 12, and 11 censored. Every step is hidden (1
    # event), but the Kaplan–Meier table lists the 12 days and the summary showed 12 events:
    # 1 a day. The summary hides the events now, and the censored that would give them back.
    result = research.survival(dropout_bundle(tmp_path, {day: 1 for day in range(1, 13)}, 11))
    summary = result.summary.set_index("leg").loc["first no-show → dropout"]
    assert summary[["clients", "suppressed"]].tolist() == [23, True]
    assert summary[["events", "censored", "median_days"]].isna().all()
    exact = research.survival(dropout_bundle(tmp_path / "exact", {1: 1, 2: 1}, 11), min_cell=0)
    assert exact.summary["events"].tolist() == [2]


def test_the_curve_stops_before_a_step_with_few_censored_before_it(tmp_path):
    # 11 dropouts on each of days 0, 3 and 9, 3 censored on day 5 and 11 on day 20. Every
    # step has 11 events, and the table showed all three: day 3's 36 at risk less its 11 events
    # less day 9's 22 at risk gave back the 3 censored between. The curve stops before day 9;
    # after day 3 are 25 clients, 11 events (the summary's 33 less 22) and 14 censored.
    result = research.survival(life_bundle(tmp_path, {0: 11, 3: 11, 9: 11}, {5: 3, 20: 11}))
    steps = result.table[["days", "at_risk", "events", "survival"]].fillna(-1)
    assert steps.values.tolist() == [[0, 47, 11, 36 / 47], [3, 36, 11, 25 / 47], [9, -1, -1, -1]]
    assert result.summary[["clients", "events", "censored"]].values.tolist() == [[47, 33, 14]]


def test_a_leg_without_events_has_a_summary_and_no_steps(tmp_path):
    # 25 clients miss again on day 37, only 19 days before the end of data: none of them is a
    # dropout, so the leg has no step at all, and its 29 clients are all censored.
    result = research.survival(life_bundle(tmp_path, {37: 25}, {26: 3, 39: 1}))
    assert result.table.empty
    assert result.summary[["clients", "events", "censored"]].values.tolist() == [[29, 0, 29]]


def test_a_left_out_level_does_not_name_its_appointments():
    # T3's 5 kept appointments are a small cell; T1 (40, all kept) is its complement. The
    # regression leaves T1 out (one outcome), and its note said "40 appointments, 0%": with
    # the 180 appointments and 61 no-shows of the summary line, T3's 31 and 26 came back.
    sizes = {"T1": 40, "T3": 31, "T4": 60, "T5": 80}
    frame = model_frame([(clinician, "individual", n) for clinician, n in sizes.items()])
    missed = {"T1": 0, "T3": 26, "T4": 15, "T5": 20}
    frame["no_show"] = frame.groupby("clinician").cumcount() < frame["clinician"].map(missed)
    assert_rates(
        research.no_show_rates(frame, "clinician"),
        "clinician",
        [("T1", None, None), ("T3", None, None), ("T4", 60, 15), ("T5", 80, 20)],
    )
    # Now T3, with its few kept, has no coefficient: it is pooled with T1, the next smallest,
    # so T1 is not left out, and no note counts either.
    notes = research.logistic_regression(frame).notes
    assert notes[1] == (
        "clinician: 1 level with fewer than 11 kept appointments pooled as 'other (pooled)' "
        "with the next smallest level, so the pool is not one level under another name."
    )
    assert not any("40" in note or "T1" in note for note in notes)
    assert attack_regression(frame) == []
    exact = research.logistic_regression(frame, min_cell=0).notes
    assert exact[0].startswith("clinician T1: 40 appointments, 0% no-shows; left out")


def test_a_folded_level_does_not_name_its_tie_with_a_suppressed_level():
    # A1's 3 no-shows are a small cell and B (40 appointments, 15 no-shows) its complement in
    # the clinician table; the couples service, shown, is all and only B's. The note said so:
    # B's cell was couples', and the summary line less C, D and B gave back A1's 35 and 3.
    frame = model_frame(
        [
            ("A1", "individual", 35),
            ("B", "couples", 40),
            ("C", "individual", 200),
            ("D", "individual", 220),
        ]
    )
    missed = {"A1": 3, "B": 15, "C": 30, "D": 35}
    frame["no_show"] = frame.groupby("clinician").cumcount() < frame["clinician"].map(missed)
    clinicians = research.no_show_rates(frame, "clinician")
    assert clinicians.loc[clinicians["suppressed"], "clinician"].tolist() == ["A1", "B"]
    assert_rates(
        research.no_show_rates(frame, "service"),
        "service",
        [("couples", 40, 15), ("individual", 455, 68)],
    )
    # Now A1, with its few no-shows, is pooled with B (the next smallest), so couples is no
    # longer all and only a clinician's: no tie is folded, and none is named.
    model = research.logistic_regression(frame)
    assert model.notes[1] == (
        "clinician: 1 level with fewer than 11 no-shows pooled as 'other (pooled)' with the "
        "next smallest level, so the pool is not one level under another name."
    )
    assert not any("couples" in note for note in model.notes)
    assert attack_regression(frame) == []
    # With exact numbers nothing is hidden, and the tie is named.
    exact = research.logistic_regression(frame, min_cell=0).notes
    assert any(
        note.startswith("service couples: its appointments are all and only clinician B's")
        for note in exact
    )


def months_frame(groups: list[tuple[str | None, int, int]]) -> pd.DataFrame:
    """A model frame whose months in treatment fall in `groups` (None: no intake date, so no
    months and no lead time), with the other predictors drawn at random (seeded)."""
    frame = grouped("months_in_treatment", groups)
    sessions = model_frame([("T1", "individual", len(frame))]).drop(columns="no_show")
    months = frame["months_in_treatment"].astype(
        pd.CategoricalDtype(list(research.MONTH_BINS), ordered=True)
    )
    known = months.notna()
    return pd.concat([frame.drop(columns="months_in_treatment"), sessions], axis=1).assign(
        months_in_treatment=months,
        months_since_intake=sessions["months_since_intake"].where(known),
        lead_days=sessions["lead_days"].where(known),
    )


def test_the_regression_notes_do_not_count_what_the_months_table_hides():
    # "<1" (5 appointments, 1 no-show) is a small cell and "(not known)" (25, 12) its
    # complement. The regression leaves those 25 out and said "25 appointments without a lead
    # time...", giving the 5 back; and "only 3.6 no-shows per coefficient" with its 8
    # coefficients pinned the 29 no-shows used (28.4 to 29.2), so the 41 of the summary line
    # less them gave back the 12 and then "<1"'s 1. (Each weekday now has fewer than 11
    # no-shows, so weekday is pooled into one level and dropped: 5 coefficients, not 8.)
    frame = months_frame([("<1", 5, 1), ("1-2", 60, 12), ("3-5", 80, 16), (None, 25, 12)])
    assert_rates(
        research.no_show_rates(frame, "months_in_treatment"),
        "months_in_treatment",
        [("<1", None, None), ("1-2", 60, 12), ("3-5", 80, 16), ("(not known)", None, None)],
    )
    model = research.logistic_regression(frame)
    assert model.message == ""
    assert len(model.table) == 5
    assert model.notes[0] == (
        "The appointments without a lead time or months in treatment (no intake date, or intake "
        "after the appointment) left out."
    )
    assert model.notes[-1] == (
        "Fewer than 10 no-shows per coefficient (10 or more is the usual rule of thumb): treat "
        "the estimates as rough."
    )
    exact = research.logistic_regression(frame, min_cell=0).notes
    assert exact[0].startswith("25 appointments without a lead time")
    assert exact[-1].startswith("Only 3.6 no-shows per coefficient")


# --- the attacker over whole clinics --------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_clinics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Generated clinics of the sizes where leaks were found, and one of each edge case."""
    clinics = {}
    for clients, seed in [(40, 1), (40, 3), (60, 2), (120, 1)]:
        folder = tmp_path_factory.mktemp(f"sample{clients}_{seed}")
        generate_sample(folder, clients=clients, seed=seed)
        clinics[f"sample {clients} seed {seed}"] = load(folder)
    return clinics


def test_no_small_count_follows_from_a_generated_clinics_outputs(sample_clinics):
    assert {name: attack(bundle) for name, bundle in sample_clinics.items()} == {
        name: [] for name in sample_clinics
    }


@pytest.mark.parametrize("by", ["weekday", "clinician", "service", "lead_time"])
def test_no_small_count_follows_from_a_month_range_beside_every_month(sample_clinics, by):
    bundle = sample_clinics["sample 40 seed 1"]
    months = sorted(research.appointment_frame(bundle)["month"].unique())
    ranges = [(months[1], months[-2]), (months[-1], months[-1]), (months[0], months[5])]
    assert {
        (first, last): attack_month_range(bundle, by, first, last) for first, last in ranges
    } == {(first, last): [] for first, last in ranges}


@pytest.mark.parametrize(
    ("events", "censored"),
    [
        ({day: 1 for day in range(1, 13)}, {30: 11}),  # one event a day
        ({0: 12, 7: 1, 14: 11}, {30: 11}),  # a small step between large ones
        ({0: 11, 3: 11, 9: 11}, {5: 3, 20: 11}),  # a few censored between shown steps
        ({0: 10, 1: 1}, {40: 11}),  # exactly 11 events, on two days
    ],
)
def test_no_small_count_follows_from_a_survival_edge_case(tmp_path, events, censored):
    assert attack(life_bundle(tmp_path, events, censored)) == []
