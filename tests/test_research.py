"""auditkit.research: exact rates and their definitions, repeat no-shows, the Kaplan–Meier legs,
the logit and its failure messages, the explorer widgets, small-cell suppression, and a run on a
simulated extract.

Expected values are worked out by hand from the appointments listed here, not by the code. The
hand-built clinics are far below the suppression threshold, so the tests of the arithmetic pass
min_cell=0; the suppression tests build clinics with groups on either side of 11.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import vl_convert
from paths import ROOT, SAMPLE
from rule_fixtures import CLIENTS, build_bundle

from auditkit import load
from auditkit.errors import BundleError
from auditkit.notebook import NOTE_STYLE, jupyter_chart
from auditkit.research import (
    LEAD_BINS,
    LEGS,
    MIN_CELL,
    TABLE_COLUMNS,
    WEEKDAYS,
    NoShowExplorer,
    Regression,
    Table,
    _level_cap,
    _suppress_summary,
    appointment_frame,
    closure_warnings,
    is_date_shifted,
    life_table,
    life_table_chart,
    locate_bundle,
    logistic_regression,
    no_show_after_k,
    no_show_rates,
    no_shows_per_client,
    rate_chart,
    survival,
    survival_chart,
    table_html,
)
from auditkit.sample import generate_sample

Z = 1.959963984540054  # the normal quantile for a 95% interval


def wilson(no_shows: int, scheduled: int) -> tuple[float, float]:
    """The Wilson score interval, from its formula."""
    p, n = no_shows / scheduled, scheduled
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def expected_rates(by: str, rows: list[tuple[object, int | None, int | None]]) -> pd.DataFrame:
    """Rows of (level, scheduled, no-shows); None for both marks a suppressed level."""
    frame = pd.DataFrame(rows, columns=[by, "scheduled", "no_shows"]).astype(
        {"scheduled": "float64", "no_shows": "float64"}
    )
    frame["rate"] = frame["no_shows"] / frame["scheduled"]
    intervals = [
        wilson(int(x), int(n)) if n == n else (np.nan, np.nan)
        for x, n in zip(frame["no_shows"], frame["scheduled"], strict=True)
    ]
    frame["ci_low"] = [low for low, _ in intervals]
    frame["ci_high"] = [high for _, high in intervals]
    frame["suppressed"] = frame["scheduled"].isna()
    return frame


def assert_rates(
    actual: pd.DataFrame, by: str, rows: list[tuple[object, int | None, int | None]]
) -> None:
    pd.testing.assert_frame_equal(
        actual, expected_rates(by, rows), check_dtype=False, check_exact=False, rtol=1e-12
    )


# --- a hand-built clinic -------------------------------------------------------------------------
# Clients intake 2026-01-05 (a Monday); C3 has no intake date. Cancelled and rescheduled
# appointments are not scheduled ones, but they do mark the previous session for lead time.
# Daylight-saving time starts on 2026-03-08, between A7 and A8.

C3 = {**CLIENTS[0], "client_id": "C3", "intake_date": "", "therapist_id": "T2"}


def appointment(day: str, time: str, status: str, **fields: str) -> dict:
    return {"scheduled_start": f"{day}T{time}:00", "status": status, **fields}


RATE_APPOINTMENTS = [
    appointment("2026-01-12", "10:00", "attended", appointment_id="A1"),
    appointment("2026-01-19", "10:00", "no_show", appointment_id="A2"),
    appointment("2026-01-26", "10:00", "no_show", appointment_id="A3"),
    appointment("2026-02-02", "10:00", "cancelled", appointment_id="A4"),
    appointment("2026-02-09", "10:00", "attended", appointment_id="A5"),
    appointment("2026-02-16", "10:00", "late_cancel", appointment_id="A6"),
    appointment("2026-03-02", "10:00", "attended", appointment_id="A7"),
    appointment("2026-03-09", "10:00", "attended", appointment_id="A8"),
    *[
        appointment(day, time, status, appointment_id=f"A{number}", client_id="C2", staff_id="T2")
        for number, day, time, status in [
            (9, "2026-01-13", "14:00", "no_show"),
            (10, "2026-01-20", "14:00", "attended"),
            (11, "2026-01-27", "15:00", "attended"),
            (12, "2026-02-03", "15:00", "rescheduled"),
            (13, "2026-02-05", "15:00", "no_show"),
        ]
    ],
    appointment(
        "2026-01-05", "13:00", "attended", appointment_id="A14", client_id="C2", staff_id="T2"
    )
    | {"service": "intake"},
    appointment(
        "2026-01-14", "11:00", "attended", appointment_id="A15", client_id="C3", staff_id="T2"
    ),
]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory):
    return build_bundle(
        tmp_path_factory.mktemp("rates"),
        appointments=RATE_APPOINTMENTS,
        clients=[*CLIENTS, C3],
    )


@pytest.fixture(scope="module")
def frame(clinic) -> pd.DataFrame:
    return appointment_frame(clinic)


def test_frame_holds_only_scheduled_appointments_in_client_time_order(frame):
    assert list(frame["appointment_id"]) == [
        "A1", "A2", "A3", "A5", "A6", "A7", "A8", "A14", "A9", "A10", "A11", "A13", "A15",
    ]  # fmt: skip
    assert frame["no_show"].sum() == 4  # a late cancellation is not a no-show


def test_lead_time_is_days_since_the_previous_appointment_of_the_same_service(frame):
    lead = frame.set_index("appointment_id")["lead_days"]
    # A1 and A9: the first individual session, counted from intake; A14: the intake itself.
    # A5 and A13: from the cancelled A4 and the rescheduled A12. A8: whole days across DST.
    expected = {"A1": 7, "A2": 7, "A3": 7, "A5": 7, "A6": 7, "A7": 14, "A8": 7, "A14": 0}
    expected |= {"A9": 8, "A10": 7, "A11": 7, "A13": 2}
    assert lead.drop("A15").to_dict() == expected
    assert np.isnan(lead["A15"])  # C3 has no intake date


def test_months_in_treatment_are_days_since_intake_over_average_month(frame):
    months = frame.set_index("appointment_id")["months_since_intake"]
    assert months["A8"] == pytest.approx(63 / (365.25 / 12))
    assert months["A13"] == pytest.approx(31 / (365.25 / 12))


def test_no_show_rate_by_weekday(frame):
    assert_rates(
        no_show_rates(frame, "weekday", min_cell=0),
        "weekday",
        [("Monday", 8, 2), ("Tuesday", 3, 1), ("Wednesday", 1, 0), ("Thursday", 1, 1)],
    )


def test_a_level_of_no_no_shows_or_all_no_shows_has_its_bound_exactly(frame):
    """Wilson's interval starts at 0 with no no-shows and ends at 1 with all: floating point
    had left 1.7e-18, which a table shows as a rate above nothing."""
    seven = frame.iloc[[0] * 7]  # statsmodels' bounds for 0 and 7 of 7 are off by 1e-17
    kept, missed = seven.assign(no_show=False), seven.assign(no_show=True, clinician="T2")
    both = pd.concat([kept.assign(clinician="T1"), missed])
    rates = no_show_rates(both, "clinician", min_cell=0).set_index("clinician")
    assert rates["ci_low"].tolist() == [0.0, pytest.approx(0.645669, abs=1e-6)]
    assert rates["ci_high"].tolist() == [pytest.approx(0.354331, abs=1e-6), 1.0]


def test_no_show_rate_by_hour(frame):
    assert_rates(
        no_show_rates(frame, "hour", min_cell=0),
        "hour",
        [(10, 7, 2), (11, 1, 0), (13, 1, 0), (14, 2, 1), (15, 2, 1)],
    )


def test_no_show_rate_by_clinician_service_lead_time_and_months(frame):
    assert_rates(
        no_show_rates(frame, "clinician", min_cell=0), "clinician", [("T1", 7, 2), ("T2", 6, 2)]
    )
    assert_rates(
        no_show_rates(frame, "service", min_cell=0),
        "service",
        [("individual", 12, 4), ("intake", 1, 0)],
    )
    # A15 has no lead time or months in treatment (no intake date): a last level of its own,
    # so each table's rows add up to the 13 appointments and 4 no-shows.
    assert_rates(
        no_show_rates(frame, "lead_time", min_cell=0),
        "lead_time",
        [("0-6 d", 2, 1), ("7-13 d", 9, 3), ("14-27 d", 1, 0), ("(not known)", 1, 0)],
    )
    assert_rates(
        no_show_rates(frame, "months_in_treatment", min_cell=0),
        "months_in_treatment",
        [("<1", 7, 3), ("1-2", 5, 1), ("(not known)", 1, 0)],
    )


def test_chance_of_a_no_show_after_k_earlier_ones(frame):
    # C1: A1 k0, A2 k0 (no-show), A3 k1 (no-show), then k2 for A5-A8.
    # C2: A14 k0, A9 k0 (no-show), A10 k1, A11 k1, A13 k1 (no-show). C3: A15 k0.
    exact = no_show_after_k(frame, min_cell=0)
    assert_rates(exact, "k", [("0", 5, 2), ("1", 4, 2), ("2", 4, 0)])


def test_no_shows_per_client_lists_every_count(frame):
    expected = pd.DataFrame(
        {
            "no_shows": ["0", "1", "2"],
            "clients": [1, 0, 2],
            "share": [1 / 3, 0, 2 / 3],
            "suppressed": False,
        }
    )
    actual = no_shows_per_client(frame, min_cell=0)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


# --- the explorer --------------------------------------------------------------------------------


def chart_data(explorer: NoShowExplorer) -> list[dict]:
    spec = explorer.chart.spec
    return spec["datasets"][spec["data"]["name"]]


def test_explorer_starts_on_weekday_over_every_month(frame):
    explorer = NoShowExplorer(frame, suppress=False)
    assert explorer.months.value == ("2026-01", "2026-03")
    assert_rates(
        explorer.rates,
        "weekday",
        [("Monday", 8, 2), ("Tuesday", 3, 1), ("Wednesday", 1, 0), ("Thursday", 1, 1)],
    )
    assert chart_data(explorer) == explorer.rates.to_dict("records")


def test_explorer_follows_grouping_and_month_range(frame):
    explorer = NoShowExplorer(frame, min_cell=0)
    explorer.grouping.value = "hour"
    explorer.months.value = ("2026-02", "2026-03")
    # A5, A6, A7, A8 at 10:00, all kept; A13 at 15:00, a no-show.
    assert_rates(explorer.rates, "hour", [(10, 4, 0), (15, 1, 1)])
    data = chart_data(explorer)
    assert [(row["hour"], row["scheduled"], row["no_shows"]) for row in data] == [
        (10, 4, 0),
        (15, 1, 1),
    ]
    assert data[1]["rate"] == 1.0
    layer = explorer.chart.spec["layer"][0]["encoding"]["x"]
    assert (layer["field"], layer["sort"]) == ("hour", None)  # the rows' order, as above
    assert explorer.summary.value.startswith("<b>5</b> scheduled appointments, <b>1</b> no-shows")
    assert "100.0%" in explorer.table.value

    explorer.grouping.value = "weekday"
    explorer.months.value = ("2026-01", "2026-01")
    # January: A1, A2, A3, A14 on Mondays; A9, A10, A11 on Tuesdays; A15 on a Wednesday.
    assert_rates(
        explorer.rates, "weekday", [("Monday", 4, 2), ("Tuesday", 3, 1), ("Wednesday", 1, 0)]
    )
    assert [row["weekday"] for row in chart_data(explorer)] == ["Monday", "Tuesday", "Wednesday"]


def test_explorer_says_when_months_are_shifted_in_labels_that_fit(frame):
    explorer = NoShowExplorer(frame, date_shifted=True)
    assert explorer.months.description == "Months (shifted)"
    # ipywidgets' default label width cut this one to "Months (s…"; "initial" fits the text
    assert explorer.months.style.description_width == "initial"
    assert explorer.grouping.style.description_width == "initial"
    menus = explorer.widget.children[0]
    assert menus.children == (explorer.grouping, explorer.months)
    assert menus.layout.flex_flow == "row wrap"  # on a narrow page the slider goes below


def test_charts_offer_no_actions_menu_that_would_send_them_off_the_machine(frame, tmp_path):
    explorer = NoShowExplorer(frame)
    explorer.grouping.value = "service"  # a new spec: the widget's options stay
    survival_widget = jupyter_chart(survival_chart(survival(km_bundle(tmp_path)).table))
    for chart in (explorer.chart, survival_widget):
        assert chart.get_state()["embed_options"] == {"actions": False}
        assert "usermeta" not in chart.get_state()["spec"]


def test_rate_chart_embeds_only_the_aggregated_rows(frame):
    big = pd.concat([frame] * 500, ignore_index=True)  # 6,500 rows: past altair's 5,000
    spec = rate_chart(no_show_rates(big, "service"), "service").to_dict()
    assert len(spec["datasets"][spec["data"]["name"]]) == 2


# --- Kaplan–Meier --------------------------------------------------------------------------------
# End of data: 2026-03-30, C2's last appointment. Dropout needs 28 days of data after a missed
# last appointment.
#   C1: no-show 01-12, kept 01-19, no-show 01-26 (last): dropout 14 days after the first no-show.
#   C2: kept 01-13, no-show 01-20, kept 01-27 and 03-30: not a dropout, censored at 69 days.
#   C3: no-show 02-02, late cancel 02-09 (last): dropout at 7 days.
#   C4: no-show 03-16 (last), only 14 days before the end: censored at 14 days.
# Closure warnings: C1 on 01-21 (9 days), C3 on 02-10 (8 days, the day after dropping out);
# C2's on 01-14 came before their first no-show and does not count.

KM_CLIENTS = [
    *CLIENTS,
    {**CLIENTS[0], "client_id": "C3"},
    {**CLIENTS[0], "client_id": "C4"},
]
KM_APPOINTMENTS = [
    appointment(day, "10:00", status, client_id=client)
    for client, day, status in [
        ("C1", "2026-01-12", "no_show"),
        ("C1", "2026-01-19", "attended"),
        ("C1", "2026-01-26", "no_show"),
        ("C2", "2026-01-13", "attended"),
        ("C2", "2026-01-20", "no_show"),
        ("C2", "2026-01-27", "attended"),
        ("C2", "2026-03-30", "attended"),
        ("C3", "2026-02-02", "no_show"),
        ("C3", "2026-02-09", "late_cancel"),
        ("C4", "2026-03-16", "no_show"),
    ]
]
WARNING = "If I don't hear from you by Friday, I will close your file."
KM_WARNINGS = [
    {"client_id": client, "started_at": f"{day}T10:00:00", "message": WARNING}
    for client, day in [("C1", "2026-01-21"), ("C3", "2026-02-10"), ("C2", "2026-01-14")]
]


def km_bundle(tmp_path: Path, **tables: list[dict]):
    return build_bundle(tmp_path, appointments=KM_APPOINTMENTS, clients=KM_CLIENTS, **tables)


def leg(result, name: str) -> pd.DataFrame:
    rows = result.table[result.table["leg"] == name].drop(columns="leg")
    return rows.reset_index(drop=True)


def km(days: list[int], at_risk: list[int], events: list[int], survival: list[float]):
    return pd.DataFrame({"days": days, "at_risk": at_risk, "events": events, "survival": survival})


def assert_km(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_dtype=False)


def test_kaplan_meier_from_first_no_show_to_dropout(tmp_path):
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS), min_cell=0)
    timelines = result.timelines.set_index("client_id")
    assert timelines["dropped_out"].to_dict() == {"C1": True, "C2": False, "C3": True, "C4": False}
    # Durations 7 (event), 14 (event), 14 (censored), 69 (censored).
    dropout = leg(result, "first no-show → dropout")
    assert_km(dropout, km([7, 14], [4, 3], [1, 1], [0.75, 0.5]))
    # Greenwood: S * sqrt(sum d / (n (n - d))).
    assert dropout["std_err"].tolist() == pytest.approx([0.75 * math.sqrt(1 / 12), 0.25])


def test_kaplan_meier_through_the_closure_warning(tmp_path):
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS), min_cell=0)
    assert result.timelines.set_index("client_id")["warned_at"].notna().to_dict() == {
        "C1": True,
        "C2": False,
        "C3": True,
        "C4": False,
    }
    assert_km(
        leg(result, "first no-show → closure warning"), km([8, 9], [4, 3], [1, 1], [0.75, 0.5])
    )
    # C3 dropped out the day before the warning: 0 days; C1 5 days after it.
    assert_km(leg(result, "closure warning → dropout"), km([0, 5], [2, 1], [1, 1], [0.5, 0.0]))
    summary = result.summary.set_index("leg")
    assert summary[["clients", "events", "censored"]].to_dict("list") == {
        "clients": [4, 2, 4],
        "events": [2, 2, 2],
        "censored": [2, 0, 2],
    }
    # statsmodels' median: the first day survival falls below one half.
    assert summary["median_days"].tolist() == pytest.approx([np.nan, 5.0, np.nan], nan_ok=True)
    assert result.notes[0].startswith("Closure warnings: outbound contacts")


def test_without_message_text_the_warning_legs_are_not_invented(tmp_path):
    blank = [{**contact, "message": ""} for contact in KM_WARNINGS]
    result = survival(km_bundle(tmp_path, contacts=blank))
    assert list(result.summary["leg"]) == ["first no-show → dropout"]
    assert result.notes[0].startswith("Closure warnings: not available")
    assert result.timelines["warned_at"].isna().all()


def test_approvals_stand_in_for_warnings_as_a_labelled_proxy(tmp_path):
    approval = {
        "kind": "closure_warning",
        "client_id": "C1",
        "approved_at": "2026-01-21T09:00:00",
    }
    bundle = km_bundle(tmp_path, approvals=[approval])
    result = survival(bundle, min_cell=0)
    assert result.notes[0].startswith("Closure warnings: PROXY")
    # C1 at 9 days; C3 now censored at the end (56 days), with C2 (69) and C4 (14).
    assert_km(leg(result, "first no-show → closure warning"), km([9], [4], [1], [0.75]))
    text_only = survival(bundle, marker="text")
    assert text_only.notes[0].startswith("Closure warnings: not available")
    assert list(text_only.summary["leg"]) == ["first no-show → dropout"]


def test_scrubbed_message_text_still_marks_warnings(tmp_path):
    scrubbed = [
        {**contact, "message": "", "message_scrubbed": contact["message"]}
        for contact in KM_WARNINGS
    ]
    found = closure_warnings(km_bundle(tmp_path, contacts=scrubbed))
    assert found.source == "text"
    assert "message_scrubbed" in found.note
    assert sorted(found.warnings["client_id"]) == ["C1", "C2", "C3"]


def test_survival_with_no_missed_session_has_no_legs_and_draws_an_empty_chart(tmp_path):
    """A clinic (or one client's records) with no no-show starts no leg: the tables are empty
    with their types, and the chart is drawn with no curve rather than failing."""
    kept = [{**row, "status": "attended"} for row in KM_APPOINTMENTS]
    result = survival(build_bundle(tmp_path, appointments=kept, clients=KM_CLIENTS))
    assert result.table.empty and result.summary.empty
    # A fitted table's types, where suppression masks nothing (a masked count turns float).
    fitted = survival(km_bundle(tmp_path / "fitted", contacts=KM_WARNINGS), min_cell=0).table
    assert not fitted.empty
    assert result.table.dtypes.to_dict() == fitted.dtypes.to_dict()  # (days int64, ...)
    spec = survival_chart(result.table).to_dict()
    assert spec["datasets"][spec["data"]["name"]] == []


def test_survival_chart_starts_every_leg_at_one(tmp_path):
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS), min_cell=0)
    spec = survival_chart(result.table).to_dict()
    data = spec["datasets"][spec["data"]["name"]]
    assert data[:3] == [
        {"leg": name, "days": 0, "survival": 1.0}
        for name in [
            "first no-show → closure warning",
            "closure warning → dropout",
            "first no-show → dropout",
        ]
    ]
    assert len(data) == 3 + len(result.table)


# --- the logistic regression ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("generated")
    generate_sample(folder, clients=200, seed=7)
    return appointment_frame(load(folder))


def test_regression_table_and_a_planted_effect(generated):
    planted = generated.copy()
    # Late-afternoon sessions: every third kept one becomes a no-show.
    late = (planted["hour"] >= 16) & ~planted["no_show"] & (planted.index % 3 == 0)
    planted.loc[late, "no_show"] = True
    model = logistic_regression(planted)
    assert model.message == ""
    assert list(model.table.columns) == TABLE_COLUMNS
    terms = model.table.set_index("term")
    assert terms.loc["hour", "coef"] > 0 and terms.loc["hour", "p_value"] < 0.001
    # The generator gives each client their own no-show rate: earlier ones predict the next.
    assert terms.loc["earlier_no_shows", "coef"] > 0
    assert terms.loc["hour", "odds_ratio"] == pytest.approx(math.exp(terms.loc["hour", "coef"]))
    assert (terms["ci_low"] < terms["coef"]).all() and (terms["coef"] < terms["ci_high"]).all()
    assert sum(term.startswith("clinician[T.") for term in terms.index) > 30
    assert model.rows + model.excluded == len(planted)
    # A notebook saves the text form beside the table: no exact count of rows in it.
    assert repr(model) == (
        "Regression(no_show ~ weekday + clinician + service + hour + lead_days + "
        f"months_since_intake + earlier_no_shows: {len(model.table)} coefficients)"
    )


def test_regression_pools_leaves_out_and_folds_what_it_cannot_estimate(generated):
    model = logistic_regression(generated)
    notes = "\n".join(model.notes)
    # Intakes and assessments are never missed in the generated clinic: no finite coefficient.
    assert "service intake: 0% no-shows; left out" in notes
    # The DBT group is led only by the program director, who leads nothing else: folded, and
    # the notes say where its effect went, as the table has no row for it.
    director = generated.loc[generated["service"] == "DBT skills group", "clinician"].unique()
    assert list(director) == ["S051"]
    assert "clinician: reference level S051." in model.notes
    assert (
        "service DBT skills group: its appointments are all and only clinician S051's, so the "
        "two effects cannot be told apart: folded into individual, the reference level of "
        "service. The intercept (clinician S051 is the reference level) carries both."
    ) in model.notes
    assert not any(term.startswith("service[") for term in model.table["term"])
    assert "pooled as 'other (pooled)'" in notes


def model_frame(sessions: list[tuple[str, str, int]]) -> pd.DataFrame:
    """An analysis frame of (clinician, service, appointments), a fifth of them missed, with the
    other predictors drawn at random (seeded), so only the clinician-service pattern aliases."""
    rows = [(c, s) for c, s, n in sessions for _ in range(n)]
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "clinician": [c for c, _ in rows],
            "service": [s for _, s in rows],
            "no_show": rng.random(len(rows)) < 0.2,
            "weekday": rng.choice(WEEKDAYS[:5], len(rows)),
            "hour": rng.integers(9, 18, len(rows)),
            "lead_days": rng.integers(0, 30, len(rows)).astype("float64"),
            "months_since_intake": rng.random(len(rows)) * 24,
            "earlier_no_shows": rng.integers(0, 4, len(rows)),
        }
    )


def clinician_terms(model: Regression) -> list[str]:
    return [term for term in model.table["term"] if term.startswith("clinician[")]


def test_a_pool_of_rare_levels_too_small_itself_takes_in_the_next_smallest():
    # R1 and R2 (4 and 5 appointments) pooled alone made a row of 9 appointments; the pool
    # takes in T3, the next smallest, and T3 has no row of its own.
    frame = model_frame(
        [
            (c, "individual", n)
            for c, n in [("T1", 200), ("T2", 150), ("T3", 60), ("R1", 4), ("R2", 5)]
        ]
    )
    model = logistic_regression(frame)
    assert model.message == ""
    assert clinician_terms(model) == ["clinician[T.T2]", "clinician[T.other (pooled)]"]
    assert model.notes[0] == (
        "clinician: 2 levels with fewer than 30 appointments pooled as 'other (pooled)'; the "
        "pool had fewer than 30, so the next smallest 1 level joined it."
    )


def test_a_level_shrunk_under_the_threshold_by_a_left_out_level_is_pooled_again():
    # T3 has 50 appointments, 30 of them intakes; intakes are never missed, so they are left
    # out, and T3's 20 left had a row of their own. T3 is now pooled with T2.
    frame = model_frame(
        [
            ("T1", "individual", 200),
            ("T2", "individual", 150),
            ("T3", "individual", 20),
            ("T3", "intake", 30),
            ("T1", "intake", 10),
        ]
    )
    frame.loc[frame["service"] == "intake", "no_show"] = False
    frame.loc[(frame["clinician"] == "T3") & (frame["service"] != "intake"), "no_show"] = [
        *[True] * 11,
        *[False] * 9,
    ]
    model = logistic_regression(frame)
    assert model.message == ""
    assert clinician_terms(model) == ["clinician[T.other (pooled)]"]
    assert model.notes[:2] == (
        "service intake: 0% no-shows; left out (a level with one outcome has no finite "
        "coefficient).",
        "clinician: 1 level with fewer than 30 appointments pooled as 'other (pooled)' with the "
        "next smallest level, so the pool is not one level under another name, once levels "
        "with one outcome were left out.",
    )
    assert model.rows == 370


def test_standard_errors_are_cluster_robust_by_client():
    # Every client's appointments twice over: the estimates stay and so do cluster-robust
    # errors (each client's scores and the information both double), but for the small-sample
    # factor (N - 1) / (N - K); errors that took appointments as independent shrank by sqrt(2).
    frame = model_frame([("T1", "individual", 200), ("T2", "individual", 150)])
    frame["client_id"] = [f"K{number % 40}" for number in range(len(frame))]
    once = logistic_regression(frame)
    twice = logistic_regression(pd.concat([frame, frame], ignore_index=True))
    assert once.message == twice.message == ""
    n, k = len(frame), len(once.table)
    factor = math.sqrt((2 * n - 1) / (2 * n - k) * (n - k) / (n - 1))
    assert twice.table["coef"].tolist() == pytest.approx(once.table["coef"].tolist(), rel=1e-6)
    assert twice.table["std_err"].tolist() == pytest.approx(
        (once.table["std_err"] * factor).tolist(), rel=1e-6
    )
    assert (
        "Standard errors, z, p-values and intervals are cluster-robust by client: a client's "
        "appointments are not independent of each other."
    ) in once.notes
    assert any(note.startswith("earlier_no_shows (and the chance") for note in once.notes)
    unclustered = logistic_regression(frame.drop(columns="client_id")).notes
    assert any(note.startswith("Standard errors assume independent") for note in unclustered)


def test_a_group_led_by_a_clinician_who_is_not_the_reference_is_carried_by_their_term():
    model = logistic_regression(
        model_frame([("T1", "individual", 200), ("T2", "individual", 120), ("D", "DBT group", 100)])
    )
    assert model.message == ""
    assert (
        "service DBT group: its appointments are all and only clinician D's, so the two effects "
        "cannot be told apart: folded into individual, the reference level of service. The "
        "clinician[T.D] estimate carries both."
    ) in model.notes
    assert "clinician[T.D]" in set(model.table["term"])


def test_a_group_two_clinicians_share_is_folded_with_a_note_saying_so():
    sessions = [("T1", "individual", 200), ("A", "DBT group", 80), ("B", "DBT group", 80)]
    model = logistic_regression(model_frame(sessions))
    assert (
        "service DBT group: a combination of other predictors' levels, so its effect cannot be "
        "told apart from theirs: folded into individual, the reference level of service."
    ) in model.notes


def test_regression_with_too_few_rows_says_so(frame):
    # 12 usable appointments (A15 has no intake date), 4 no-shows, 5 coefficients.
    small = logistic_regression(frame, min_cell=0)
    assert small.message.startswith("Too little data for the model: 12 usable appointments, 4")
    assert small.excluded == 1
    never = logistic_regression(frame.assign(no_show=False))
    assert never.message.startswith("Too little data") and never.table.empty


def test_a_regression_shows_a_heading_on_every_column_and_four_significant_digits():
    model = Regression(
        table=pd.DataFrame(
            {"term": ["Intercept", "hour"], "coef": [-2.4332655, 0.000123456], "z": [-3.19, 12.0]}
        ),
        formula="no_show ~ hour",
        rows=100,
        excluded=0,
        message="",
        notes=(),
    )
    assert model._repr_html_() == (
        '<table class="dataframe"><thead><tr><th>term</th><th class="num">coef</th>'
        '<th class="num">z</th></tr></thead><tbody>'
        '<tr><td>Intercept</td><td class="num">-2.433</td><td class="num">-3.19</td></tr>'
        '<tr><td>hour</td><td class="num">0.0001235</td><td class="num">12</td></tr>'
        "</tbody></table>"
    )
    unfitted = replace(model, table=model.table.iloc[:0], message="Too little data")
    assert unfitted._repr_html_() == ('<p class="empty">No coefficients: see the note above.</p>')


def test_regression_with_perfect_separation_says_so():
    hours = np.tile(np.arange(8, 18), 6)
    separated = pd.DataFrame(
        {
            "weekday": "Monday",
            "clinician": "T1",
            "service": "individual",
            "hour": hours,
            "lead_days": 7.0,
            "months_since_intake": np.arange(60) / 10,
            "earlier_no_shows": 0,
            "no_show": hours >= 13,
        }
    )
    model = logistic_regression(separated, min_level_rows=1)
    assert model.message == (
        "Perfect separation: some predictor tells no-shows from kept appointments exactly, so "
        "its coefficient would be infinite and the model has no finite estimate: use more "
        "months (a wider date range, or an extract that covers more of them)."
    )
    assert list(model.table.columns) == TABLE_COLUMNS and model.table.empty


def test_regression_that_cannot_converge_says_so(generated):
    model = logistic_regression(generated.assign(no_show=generated["hour"] >= 15))
    assert model.message == (
        "The model did not converge, so its estimates would not be trustworthy: usually a "
        "predictor nearly separates no-shows from kept appointments. Use more months (a wider "
        "date range, or an extract that covers more of them), or raise min_level_rows to pool "
        "small clinicians and services."
    )
    assert model.table.empty


# --- small-cell suppression ----------------------------------------------------------------------
# Each clinic below is built so the groups fall either side of MIN_CELL (11). Primary: a group
# whose appointments, no-shows or kept appointments count 1 to 10. Complementary: with exactly
# one group suppressed, the next smallest is too, else the totals give the first one back.


def grouped(by: str, groups: list[tuple[str, int, int]], month: str = "2026-01") -> pd.DataFrame:
    """An analysis frame with `scheduled` appointments per group, the first `no_shows` missed."""
    rows = [(level, n < missed) for level, scheduled, missed in groups for n in range(scheduled)]
    return pd.DataFrame(rows, columns=[by, "no_show"]).assign(month=month)


def test_appointments_without_a_value_are_a_level_suppressed_like_any_other():
    # 4 appointments have no lead time (no intake date): "(not known)", a small cell, so the
    # rows still add up to the 104 the summary shows; 14-27 d (25) is its complement.
    frame = grouped("lead_time", [("0-6 d", 40, 12), ("14-27 d", 25, 11), ("28+ d", 35, 11)])
    frame = pd.concat([frame, pd.DataFrame({"lead_time": [np.nan] * 4, "no_show": False})])
    frame = frame.astype({"lead_time": pd.CategoricalDtype(list(LEAD_BINS), ordered=True)})
    assert_rates(
        no_show_rates(frame, "lead_time"),
        "lead_time",
        [
            ("0-6 d", 40, 12),
            ("14-27 d", None, None),
            ("28+ d", 35, 11),
            ("(not known)", None, None),
        ],
    )


def test_min_cell_is_the_cms_threshold():
    assert MIN_CELL == 11


def test_a_small_numerator_and_its_complement_are_suppressed():
    # T3's 3 no-shows are a small cell, and the clinic's 155 appointments and 30 no-shows
    # would give them back by subtraction, so a second clinician is hidden too. T2 has fewest
    # appointments (30), but T2 and T3 together would still show 3 no-shows by subtraction, a
    # small cell; T1 (40) is the smallest that leaves nothing small: together 65 and 15.
    frame = grouped("clinician", [("T1", 40, 12), ("T2", 30, 0), ("T3", 25, 3), ("T4", 60, 15)])
    assert_rates(
        no_show_rates(frame, "clinician"),
        "clinician",
        [("T1", None, None), ("T2", 30, 0), ("T3", None, None), ("T4", 60, 15)],
    )
    # The exact numbers stay one keyword away, for analysis on the extract.
    assert_rates(
        no_show_rates(frame, "clinician", min_cell=0),
        "clinician",
        [("T1", 40, 12), ("T2", 30, 0), ("T3", 25, 3), ("T4", 60, 15)],
    )


def test_a_small_denominator_or_few_kept_appointments_are_suppressed_on_their_own():
    # T5 has 5 appointments; T6's 45 no-shows in 50 leave 5 kept, which the rate gives back.
    # Neither follows from the totals alone, but together they kept 10 appointments, a small
    # cell the totals give back, so T1 (the next smallest, 40) is hidden too.
    frame = grouped("clinician", [("T1", 40, 12), ("T5", 5, 0), ("T6", 50, 45), ("T7", 60, 15)])
    assert_rates(
        no_show_rates(frame, "clinician"),
        "clinician",
        [("T1", None, None), ("T5", None, None), ("T6", None, None), ("T7", 60, 15)],
    )
    # Two groups whose hidden sums are none of them small need no third.
    frame = grouped("clinician", [("T1", 40, 12), ("T5", 5, 0), ("T6", 60, 54), ("T7", 60, 15)])
    assert_rates(
        no_show_rates(frame, "clinician"),
        "clinician",
        [("T1", 40, 12), ("T5", None, None), ("T6", None, None), ("T7", 60, 15)],
    )


def test_nothing_is_suppressed_where_every_cell_has_11_or_none():
    # Zero no-shows in 30 counts nobody, and exactly 11 is enough.
    frame = grouped("clinician", [("T1", 40, 11), ("T2", 30, 0), ("T3", 11, 11)])
    rates = no_show_rates(frame, "clinician")
    assert_rates(rates, "clinician", [("T1", 40, 11), ("T2", 30, 0), ("T3", 11, 11)])
    pd.testing.assert_frame_equal(rates, no_show_rates(frame, "clinician", min_cell=0))
    assert "suppressed" not in table_html(rates)


def test_after_k_is_suppressed_like_the_rates():
    frame = grouped("earlier", [("0", 40, 12), ("1", 30, 0), ("2", 25, 3), ("3+", 60, 15)])
    assert_rates(
        no_show_after_k(frame),
        "k",
        [("0", None, None), ("1", 30, 0), ("2", None, None), ("3+", 60, 15)],
    )


def clients_with(no_shows: dict[int, int]) -> pd.DataFrame:
    """An analysis frame of clients, `no_shows[k]` of them with k no-shows and one kept session."""
    rows = [
        (f"{k}-{client}", missed < k)
        for k, clients in no_shows.items()
        for client in range(clients)
        for missed in range(k + 1)
    ]
    return pd.DataFrame(rows, columns=["client_id", "no_show"])


def with_earlier(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each appointment's earlier no-shows binned as `appointment_frame` does."""
    earlier = frame.groupby("client_id")["no_show"].cumsum() - frame["no_show"]
    bins = pd.cut(earlier, [0, 1, 2, 3, np.inf], right=False, labels=["0", "1", "2", "3+"])
    return frame.assign(earlier=bins)


def per_client(rows: list[tuple[str, float]], total: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["no_shows", "clients"])
    return frame.assign(share=frame["clients"] / total, suppressed=frame["clients"].isna())


def test_no_shows_per_client_top_codes_the_tail_and_suppresses_small_counts():
    # 48 clients. With 3 or more no-shows: 11 + 3 + 2 + 1 = 17, the last count 11 clients reach,
    # so the top row is "3+"; the one client with 8 is not a row of their own. The 4 with 2 are
    # a small cell, and the next smallest (12 with 1) is hidden with it.
    frame = clients_with({0: 15, 1: 12, 2: 4, 3: 11, 4: 3, 6: 2, 8: 1})
    pd.testing.assert_frame_equal(
        no_shows_per_client(frame),
        per_client([("0", 15), ("1", np.nan), ("2", np.nan), ("3+", 17)], 48),
        check_dtype=False,
    )
    exact = [("0", 15), ("1", 12), ("2", 4), ("3", 11), ("4", 3), ("5", 0), ("6", 2)]
    pd.testing.assert_frame_equal(
        no_shows_per_client(frame, min_cell=0),
        per_client([*exact, ("7", 0), ("8", 1)], 48),
        check_dtype=False,
    )


def test_the_complementary_cell_is_not_a_zero():
    # Hiding the empty "1" row would hide nothing: the next smallest non-zero row (12) goes.
    # The top row says "3+" though nobody had more (test_research_disclosure says why).
    frame = clients_with({0: 15, 2: 4, 3: 12})
    pd.testing.assert_frame_equal(
        no_shows_per_client(frame),
        per_client([("0", 15), ("1", 0), ("2", np.nan), ("3+", np.nan)], 31),
        check_dtype=False,
    )


def test_after_k_hides_the_running_totals_that_would_give_back_a_per_client_row():
    # 48 clients with 0..8 no-shows, each with one kept session after them: no_show_after_k's
    # no-shows at k = 0, 1, 2 are the clients with at least 1, 2, 3 (33, 21, 17). The per-client
    # table hides "1" (12) and "2" (4); 21 would give "2" back as 21 - 17 ("3+"), so k = 1 goes.
    # k = 0 (33 = 48 - 15) and k = 2 (17, the "3+" row) add nothing and stay; the hidden rows'
    # no-shows add up to the total less the shown ones, so "3+" (no client count) goes too,
    # else k = 1 and 2 would follow from it. (k = 2's 4 kept appointments are a small cell too.)
    frame = with_earlier(clients_with({0: 15, 1: 12, 2: 4, 3: 11, 4: 3, 6: 2, 8: 1}))
    assert no_shows_per_client(frame)["suppressed"].tolist() == [False, True, True, False]
    assert_rates(
        no_show_after_k(frame),
        "k",
        [("0", 48, 33), ("1", None, None), ("2", None, None), ("3+", None, None)],
    )
    assert_rates(
        no_show_after_k(frame, min_cell=0),
        "k",
        [("0", 48, 33), ("1", 33, 21), ("2", 21, 17), ("3+", 31, 14)],
    )


def test_after_k_is_left_alone_where_the_per_client_rows_are_all_shown():
    # 11 to 15 clients per count: nothing hidden in either table.
    frame = with_earlier(clients_with({0: 15, 1: 14, 2: 13, 3: 12, 4: 11}))
    assert not no_shows_per_client(frame)["suppressed"].any()
    assert not no_show_after_k(frame)["suppressed"].any()


# Kaplan–Meier: every client's first no-show is on Monday 2026-01-05; a dropout at d days
# misses again on day d and never comes back; the rest attend on 2026-04-27, the end of data,
# and are censored at 112 days. No message text or approvals: only the dropout leg.


def dropout_bundle(tmp_path: Path, dropouts: dict[int, int], censored: int):
    ends = [day for day, clients in dropouts.items() for _ in range(clients)]
    clients = [f"K{n}" for n in range(len(ends) + censored)]
    first = pd.Timestamp("2026-01-05")
    rows = [(client, first, "no_show") for client in clients]
    rows += [
        (client, first + pd.Timedelta(days=d), "no_show")
        for client, d in zip(clients[: len(ends)], ends, strict=True)
    ]
    rows += [(client, pd.Timestamp("2026-04-27"), "attended") for client in clients[len(ends) :]]
    appointments = [
        appointment(f"{day:%Y-%m-%d}", "10:00", status, client_id=client)
        for client, day, status in rows
    ]
    return build_bundle(
        tmp_path,
        appointments=appointments,
        clients=[{**CLIENTS[0], "client_id": client} for client in clients],
    )


def test_survival_hides_small_counts_and_their_complement_within_the_leg(tmp_path):
    # 25 clients: 12 drop out at once, 1 a week later, 12 censored. Day 7's single event is a
    # small cell; the summary's 13 events less day 0's 12 would give it back, so day 0's counts
    # go too. The curve stops at the first hidden step, here the first: day 0's survival
    # (13/25) is 1 - events / 25 and would give its 12 back.
    result = survival(dropout_bundle(tmp_path, {0: 12, 7: 1}, censored=12))
    nothing = [np.nan, np.nan]
    assert_km(leg(result, "first no-show → dropout"), km([0, 7], nothing, nothing, nothing))
    assert result.table["std_err"].isna().all()
    assert result.table["suppressed"].tolist() == [True, True]
    summary = result.summary.drop(columns="leg").to_dict("records")
    assert summary == [
        {"clients": 25, "events": 13, "censored": 12, "median_days": 7.0, "suppressed": False}
    ]
    exact = survival(dropout_bundle(tmp_path, {0: 12, 7: 1}, censored=12), min_cell=0)
    assert_km(
        leg(exact, "first no-show → dropout"), km([0, 7], [25, 13], [12, 1], [13 / 25, 12 / 25])
    )


def test_survival_curve_and_chart_stop_at_the_first_suppressed_step(tmp_path):
    # 39 clients: 12 drop out at day 0, 11 at day 7, 1 at day 14; 15 censored. Day 14's single
    # event is small, and day 7 (the next smallest) its complement. Day 0 is shown whole, its
    # survival 27/39 and Greenwood std_err 27/39 * sqrt(12 / (39 * 27)); from day 7 on the
    # curve is hidden, as S(7) / S(0) = 1 - 11/27 would give day 7's counts back.
    result = survival(dropout_bundle(tmp_path, {0: 12, 7: 11, 14: 1}, censored=15))
    table = leg(result, "first no-show → dropout")
    hidden = [np.nan, np.nan]
    assert_km(table, km([0, 7, 14], [39, *hidden], [12, *hidden], [27 / 39, *hidden]))
    greenwood = 27 / 39 * math.sqrt(12 / (39 * 27))
    assert table["std_err"].tolist() == pytest.approx([greenwood, *hidden], nan_ok=True)
    assert table["suppressed"].tolist() == [False, True, True]
    spec = survival_chart(result.table).to_dict()
    data = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    assert data["days"].tolist() == [0, 0]  # the start at 100%, then day 0: nothing hidden
    assert data["survival"].tolist() == pytest.approx([1, 27 / 39])
    assert spec["title"]["subtitle"] == (
        "Each curve stops at its first step with a count under 11 (small cells are suppressed; "
        "see the table)."
    )


def test_no_suppressed_count_follows_from_the_survival_table(tmp_path):
    # The walkthrough's attack: from consecutive survival and std_err, p = 1 - S / S_before,
    # v = (se / S)^2 - v_before, at_risk = p / ((1 - p) v), events = p * at_risk. No suppressed
    # step may carry survival or std_err, and every shown survival must be the product of
    # shown steps only, from the leg's start (so it tells nothing the shown counts do not).
    cases = [
        ({0: 12, 7: 1}, 12),
        ({0: 12, 7: 11, 14: 1}, 15),
        ({0: 2, 7: 1, 14: 1, 21: 1}, 9),
        ({0: 12, 7: 11, 21: 13, 28: 2, 35: 12}, 20),
    ]
    for number, (dropouts, censored) in enumerate(cases):
        table = survival(dropout_bundle(tmp_path / str(number), dropouts, censored)).table
        counts = ["at_risk", "events", "survival", "std_err"]
        assert table.loc[table["suppressed"], counts].isna().all(axis=None)
        shown = table[table["survival"].notna()]
        assert (shown.index == np.arange(len(shown))).all()  # a prefix of the leg's steps
        assert not shown["suppressed"].any()
        product = (1 - shown["events"] / shown["at_risk"]).cumprod()
        assert shown["survival"].tolist() == pytest.approx(product.tolist())
    assert len(shown) == 1  # the last case: day 28 small, day 7 (11 events) its complement


def test_survival_hides_steps_whose_hidden_total_would_follow_from_the_summary(tmp_path):
    # 27 clients: 12 drop out at day 0, then 1 each at 7, 14 and 21 days; 12 censored. The
    # summary shows 15 events; with day 0's 12 shown, the 3 hidden days would hold 15 - 12 = 3,
    # a small cell, and 1 each. So day 0 is hidden too, and no curve is drawn.
    result = survival(dropout_bundle(tmp_path / "a", {0: 12, 7: 1, 14: 1, 21: 1}, censored=12))
    assert result.summary[["events", "censored"]].to_numpy().tolist() == [[15, 12]]
    assert result.table["suppressed"].tolist() == [True] * 4
    assert result.table[["at_risk", "events", "survival"]].isna().all(axis=None)
    # 71 clients: 30 at day 0, then 1 a week for 11 weeks; 30 censored. The 11 hidden events are
    # not a small cell, but they fall on the 11 listed days: 1 each. Day 0 goes too.
    weekly = {0: 30, **{7 * week: 1 for week in range(1, 12)}}
    result = survival(dropout_bundle(tmp_path / "b", weekly, censored=30))
    assert result.table["days"].tolist() == [7 * week for week in range(12)]
    assert result.table["suppressed"].all()
    # With 11 more at day 5, the hidden days hold 14 events over 4 days: the rest are shown.
    spread = {0: 12, 5: 11, 7: 1, 14: 1, 21: 1}
    table = survival(dropout_bundle(tmp_path / "c", spread, censored=12)).table
    assert table["suppressed"].tolist() == [False, True, True, True, True]
    assert table["events"].tolist()[:1] == [12]


def drawn_width(spec: dict) -> float:
    """The width of the chart as Vega draws it (vl-convert's SVG): a chart Vega could not lay
    out comes out as wide as the largest float."""
    svg = vl_convert.vegalite_to_svg(spec)
    return float(re.search(r'<svg[^>]* width="([^"]+)"', svg).group(1))


def test_survival_with_every_step_small_shows_no_curve(tmp_path):
    # 14 clients: 2 drop out at day 0, then 1 each at 7, 14 and 21 days; 9 censored. Every
    # step's events are small, so no curve is shown; the summary's 5 events and 9 censored are
    # small and hidden, its 14 clients are not.
    result = survival(dropout_bundle(tmp_path, {0: 2, 7: 1, 14: 1, 21: 1}, censored=9))
    nothing = [np.nan] * 4
    expected = km([0, 7, 14, 21], nothing, nothing, nothing)
    assert_km(leg(result, "first no-show → dropout"), expected)
    assert result.table["suppressed"].all()
    assert result.summary[["events", "censored", "median_days"]].isna().all(axis=None)
    assert result.summary["clients"].tolist() == [14]
    assert result.summary["suppressed"].tolist() == [True]
    assert result.notes[-1] == (
        "Cells under 11 are suppressed (counts of 1 to 10 appointments, no-shows or clients, and "
        "a second cell wherever one could be got back from a total), so a table or chart can be "
        "shared without pointing to a client. min_cell=0 gives the exact numbers: for analysis "
        "on the extract only, never to share. Each curve stops at its first suppressed step: "
        "past it, the curve would give that step's counts back."
    )
    spec = survival_chart(result.table).to_dict()
    assert spec["datasets"][spec["data"]["name"]] == []
    assert spec["title"]["subtitle"] == (
        "No curve is drawn: each leg's first step has a count under 11 (small cells are "
        "suppressed; see the table)."
    )
    # Axes over the table's days and 0-100%, and every leg in the legend: a chart to read, not
    # the box without a size Vega made of no data.
    assert spec["encoding"]["x"]["scale"] == {"domain": [0, 21], "nice": True}
    assert spec["encoding"]["y"]["scale"] == {"domain": [0, 1]}
    assert spec["encoding"]["color"]["scale"] == {"domain": list(LEGS)}
    assert 600 < drawn_width(spec) < 1000
    html = Table(result.summary)._repr_html_()
    assert html.count("<td>suppressed</td>") == 3 and "Cells under 11 are suppressed" in html


def test_survival_steps_do_not_add_up_to_events_the_summary_hides(tmp_path):
    # 28 clients: 12 drop out at day 0, 11 at day 7, 5 censored. The 5 censored are a small
    # cell, so the summary hides them and the events (28 less them); the clients stay. The
    # steps (12 and 11) would add up to the hidden events, so the smaller goes, and the curve
    # stops there.
    result = survival(dropout_bundle(tmp_path, {0: 12, 7: 11}, censored=5))
    assert result.summary["clients"].tolist() == [28]
    assert result.summary[["events", "censored", "median_days"]].isna().all(axis=None)
    assert result.summary["suppressed"].tolist() == [True]
    assert_km(
        leg(result, "first no-show → dropout"),
        km([0, 7], [28, np.nan], [12, np.nan], [16 / 28, np.nan]),
    )


ONE_DAY_EACH = np.ones(3)  # each leg's events on a single day: never one a day


def summary_of(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """A survival summary of (clients, events, censored) for the three legs in order."""
    frame = pd.DataFrame(rows, columns=["clients", "events", "censored"])
    frame.insert(0, "leg", list(LEGS))
    return frame.assign(median_days=30.0)


def test_the_legs_that_share_clients_are_suppressed_together():
    # The sample's walkthrough: 34 clients, 14 warned, 1 warned client dropped out, 6 dropped
    # out in all. Legs 2 and 3 hide their events and censored; their clients (14, the first
    # leg's events; 34, the first leg's clients) are shown, as the first leg shows them anyway.
    summary = _suppress_summary(
        summary_of([(34, 14, 20), (14, 1, 13), (34, 6, 28)]), MIN_CELL, ONE_DAY_EACH
    )
    assert summary["clients"].tolist() == [34, 14, 34]
    assert summary["events"].tolist() == pytest.approx([14, np.nan, np.nan], nan_ok=True)
    assert summary["censored"].tolist() == pytest.approx([20, np.nan, np.nan], nan_ok=True)
    assert summary["suppressed"].tolist() == [False, True, True]
    # 5 of 20 never warned: the first leg hides its events, so the second leg's clients (the
    # same 15) and with them its whole row go too.
    summary = _suppress_summary(
        summary_of([(20, 15, 5), (15, 12, 3), (20, 25, 0)]), MIN_CELL, ONE_DAY_EACH
    )
    assert summary["clients"].tolist() == pytest.approx([20, np.nan, 20], nan_ok=True)
    assert summary["events"].tolist() == pytest.approx([np.nan, np.nan, 25], nan_ok=True)
    assert summary["suppressed"].tolist() == [True, True, False]
    # 12 warned clients dropped out of 15 dropouts: the 3 never warned are the third leg's
    # events less the second's, so the second leg's events go.
    summary = _suppress_summary(
        summary_of([(40, 20, 20), (20, 12, 8), (40, 15, 25)]), MIN_CELL, ONE_DAY_EACH
    )
    assert summary["events"].tolist() == pytest.approx([20, np.nan, 15], nan_ok=True)
    assert summary["suppressed"].tolist() == [False, True, False]
    exact = _suppress_summary(summary_of([(20, 15, 5), (15, 12, 3), (20, 25, 0)]), 0, ONE_DAY_EACH)
    assert not exact["suppressed"].any()
    assert exact["events"].tolist() == [15, 12, 25]


# --- life table ----------------------------------------------------------------------------------
# The dropout leg alone (no message text, no approvals). A client who drops out at d days has
# their first no-show on Monday 2026-01-05 and misses again d days later, never to return; a
# client censored at t days has their first no-show t days before the end of data, Monday
# 2026-03-02, and attends then.

LIFE_END = pd.Timestamp("2026-03-02")
DROPOUT = "first no-show → dropout"


def life_bundle(tmp_path: Path, events: dict[int, int], censored: dict[int, int]):
    """A clinic whose dropout leg has `events` dropouts and `censored` clients by day."""
    first = pd.Timestamp("2026-01-05")
    rows = []
    for number, days in enumerate(d for d, count in events.items() for _ in range(count)):
        rows += [
            (f"E{number}", first, "no_show"),
            (f"E{number}", first + pd.Timedelta(days=days), "no_show"),
        ]
    for number, days in enumerate(t for t, count in censored.items() for _ in range(count)):
        rows += [
            (f"W{number}", LIFE_END - pd.Timedelta(days=days), "no_show"),
            (f"W{number}", LIFE_END, "attended"),
        ]
    appointments = [
        appointment(f"{day:%Y-%m-%d}", "10:00", status, client_id=client)
        for client, day, status in rows
    ]
    clients = sorted({client for client, _, _ in rows})
    return build_bundle(
        tmp_path,
        appointments=appointments,
        clients=[{**CLIENTS[0], "client_id": client} for client in clients],
    )


def life_rows(rows: list[tuple], survival: list[float], std_err: list[float]) -> pd.DataFrame:
    """Expected rows of (interval, start, end or None, at risk, events, censored)."""
    frame = pd.DataFrame(
        rows, columns=["interval", "start_day", "end_day", "at_risk", "events", "censored"]
    )
    effective = frame["at_risk"] - frame["censored"] / 2
    return frame.assign(
        end_day=frame["end_day"].astype("Int64"),
        effective_at_risk=effective,
        conditional_survival=1 - frame["events"] / effective,
        survival=survival,
        std_err=std_err,
    )


def assert_life(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    rows = actual[actual["leg"] == DROPOUT].drop(columns="leg").reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, expected, check_dtype=False, atol=5e-5)


def test_life_table_by_hand_with_exact_counts(tmp_path):
    # 6 clients: dropouts at 3, 3 and 10 days; censored at 5, 12 and 20. Weeks: [0, 7) holds
    # 2 events and 1 censored, [7, 14) 1 and 1, and [14, ...) 1 censored (open: the last).
    # Effective at risk 6 - 1/2 = 5.5, 3 - 1/2 = 2.5, 1 - 1/2 = 0.5; conditional survival
    # 1 - 2/5.5 = 7/11, 1 - 1/2.5 = 0.6, 1. Survival at each start: 1, 7/11 = 0.6364,
    # 7/11 * 0.6 = 0.3818. Greenwood: S * sqrt(sum of d / (n' (n' - d)) before the interval):
    # 7/11 * sqrt(2 / (5.5 * 3.5)) = 0.2051; 0.3818 * sqrt(2 / 19.25 + 1 / (2.5 * 1.5)) = 0.2324.
    bundle = life_bundle(tmp_path, {3: 2, 10: 1}, {5: 1, 12: 1, 20: 1})
    result = life_table(bundle, width_days=7, min_cell=0)
    expected = life_rows(
        [("0-6", 0, 7, 6, 2, 1), ("7-13", 7, 14, 3, 1, 1), ("14+", 14, None, 1, 0, 1)],
        survival=[1.0, 0.6364, 0.3818],
        std_err=[0.0, 0.2051, 0.2324],
    )
    assert_life(result.table, expected)
    assert result.table["effective_at_risk"].tolist() == [5.5, 2.5, 0.5]
    assert result.table["conditional_survival"].tolist() == pytest.approx([7 / 11, 0.6, 1.0])
    assert result.notes[-1].startswith("Life table (actuarial): days since the leg's start")
    # Shared as it is, 6 clients are a small cell: the summary hides the leg, and so does this.
    shared = life_table(bundle, width_days=7)
    assert shared.table.empty
    assert shared.summary["suppressed"].tolist() == [True]
    assert shared.notes[-1] == (
        "first no-show → dropout: not shown, as its summary row is suppressed (the life "
        "table's totals would give it back)."
    )


MERGED = ({0: 6, 3: 6, 9: 5, 16: 6}, {20: 4, 26: 8, 30: 3})


def test_life_table_merges_intervals_until_every_count_is_shareable(tmp_path):
    # 38 clients, weeks of 7 days. [0, 7): 12 events, none censored: shown as it is. [7, 14)
    # holds 5 events; with [14, 21) 11 and 4 censored; with [21, 28) 11 and 12 censored, safe;
    # but [28, ...) is left with 3 censored, so it goes back into the interval before: 7+ with
    # 11 events and 15 censored. Effective at risk 26 - 7.5 = 18.5.
    bundle = life_bundle(tmp_path, *MERGED)
    result = life_table(bundle, width_days=7)
    expected = life_rows(
        [("0-6", 0, 7, 38, 12, 0), ("7+", 7, None, 26, 11, 15)],
        survival=[1.0, 26 / 38],
        std_err=[0.0, 26 / 38 * math.sqrt(12 / (38 * 26))],  # 0.0754
    )
    assert_life(result.table, expected)
    assert result.table["conditional_survival"].tolist() == pytest.approx([26 / 38, 7.5 / 18.5])
    # The Kaplan–Meier table shows no step of this leg: every day's events are under 11.
    assert survival(bundle).table["survival"].isna().all()
    # The summary is survival()'s: the events and censored add up to it.
    assert result.summary.drop(columns="leg").to_dict("records") == [
        {"clients": 38, "events": 23, "censored": 15, "median_days": 16.0, "suppressed": False}
    ]
    # min_cell=0: the weeks as they are, for analysis only.
    exact = life_table(bundle, width_days=7, min_cell=0).table
    assert exact["interval"].tolist() == ["0-6", "7-13", "14-20", "21-27", "28+"]
    assert exact["events"].tolist() == [12, 5, 6, 0, 0]
    assert exact["censored"].tolist() == [0, 0, 4, 8, 3]
    assert exact["at_risk"].tolist() == [38, 26, 21, 11, 3]


def test_life_table_shows_nothing_where_no_interval_is_safe(tmp_path):
    # 11 dropouts, one a day on days 0 to 10, and 11 censored at 30 days. Any interval holding
    # events holds as many as the days the Kaplan–Meier table lists for them: 1 a day. Even the
    # whole follow-up as one interval would say so, and so would the summary's 11 events: it
    # hides them, so the leg is not shown.
    ones = {day: 1 for day in range(11)}
    result = life_table(life_bundle(tmp_path / "a", ones, {30: 11}), width_days=7)
    assert result.table.empty
    assert result.summary["suppressed"].tolist() == [True]
    assert result.notes[-1] == (
        "first no-show → dropout: not shown, as its summary row is suppressed (the life table's "
        "totals would give it back)."
    )
    # One more dropout on day 0: 12 events on 11 days, no day's count follows. [0, 14) holds
    # them all; the empty weeks after it are shown as they are (0 counts nobody).
    result = life_table(life_bundle(tmp_path / "b", {**ones, 0: 2}, {30: 11}), width_days=7)
    expected = life_rows(
        [
            ("0-13", 0, 14, 23, 12, 0),
            ("14-20", 14, 21, 11, 0, 0),
            ("21-27", 21, 28, 11, 0, 0),
            ("28+", 28, None, 11, 0, 11),
        ],
        survival=[1.0, 11 / 23, 11 / 23, 11 / 23],
        std_err=[0.0, *[11 / 23 * math.sqrt(12 / (23 * 11))] * 3],
    )
    assert_life(result.table, expected)


def test_life_table_gives_nothing_back_against_the_kaplan_meier_steps(tmp_path):
    # 12 dropouts on day 0, the Kaplan–Meier table shows that step (36 at risk, 12 events);
    # 2 more on day 2, 2 on day 5, 4 on day 9 and 5 on day 12 are hidden steps. The week
    # [0, 7) holds 16 events, safe on its own, but 16 less day 0's 12 is 4: so it runs on to
    # [0, 14), whose 13 events beyond day 0 are safe, on 4 days.
    bundle = life_bundle(tmp_path / "a", {0: 12, 2: 2, 5: 2, 9: 4, 12: 5}, {20: 11})
    steps = survival(bundle).table
    assert steps.loc[~steps["suppressed"], ["days", "at_risk", "events"]].values.tolist() == [
        [0, 36, 12]
    ]
    result = life_table(bundle, width_days=7)
    expected = life_rows(
        [("0-13", 0, 14, 36, 25, 0), ("14+", 14, None, 11, 0, 11)],
        survival=[1.0, 11 / 36],
        std_err=[0.0, 11 / 36 * math.sqrt(25 / (36 * 11))],
    )
    assert_life(result.table, expected)
    # 12 dropouts on day 0 and 12 on day 8, and 3 censored on day 7: day 0's at risk less its
    # events (26) less day 8's at risk (23) would be those 3, so the Kaplan–Meier table stops
    # before day 8, and the week from day 7 holds its 12 events and 14 censored.
    bundle = life_bundle(tmp_path / "b", {0: 12, 8: 12}, {7: 3, 30: 11})
    steps = survival(bundle).table
    assert steps[["days", "at_risk", "events"]].fillna(-1).values.tolist() == [
        [0, 38, 12],
        [8, -1, -1],
    ]
    table = life_table(bundle, width_days=7).table
    assert table[["interval", "at_risk", "events", "censored"]].values.tolist() == [
        ["0-6", 38, 12, 0],
        ["7+", 26, 12, 14],
    ]
    # 12 dropouts on day 8, a shown step (26 at risk), 11 censored on day 2, 3 on day 10 and 11
    # on day 30. Fortnights would show 0-13 (37 at risk, 12 events, 14 censored) and 11 at risk
    # on day 14, which differs from day 8's 26 by 15; but 26 less the 12 events, less 11, is
    # the 3 censored on day 10. So no interval starts on day 14 or 28 (11 at risk too).
    bundle = life_bundle(tmp_path / "c", {8: 12}, {2: 11, 10: 3, 30: 11})
    steps = survival(bundle).table
    assert steps[["days", "at_risk", "events"]].values.tolist() == [[8, 26, 12]]
    table = life_table(bundle, width_days=14).table
    assert table[["interval", "at_risk", "events", "censored"]].values.tolist() == [
        ["0+", 37, 12, 25]
    ]
    exact = life_table(bundle, width_days=14, min_cell=0).table
    assert exact["at_risk"].tolist() == [37, 11, 11]


def test_no_small_count_follows_from_a_shared_life_table(tmp_path):
    # Every count shown, and every drop in the at-risk count from one interval to the next,
    # is 0 or at least 11; the counts add up to the summary.
    cases = [MERGED, ({0: 12, 7: 11, 14: 1}, {112: 15}), ({0: 12, 2: 5, 5: 6, 9: 11}, {20: 30})]
    for number, (events, censored) in enumerate(cases):
        result = life_table(life_bundle(tmp_path / str(number), events, censored), width_days=7)
        table = result.table
        assert len(table) > 1, number
        drops = -np.diff(table["at_risk"].to_numpy())
        counts = np.concatenate(
            [table[["at_risk", "events", "censored"]].to_numpy().ravel(), drops]
        )
        assert ((counts == 0) | (counts >= MIN_CELL)).all(), number
        assert drops.tolist() == (table["events"] + table["censored"]).tolist()[:-1]
        summary = result.summary.iloc[0]
        assert [table["events"].sum(), table["censored"].sum()] == [
            summary["events"],
            summary["censored"],
        ]


def test_life_table_chart_plots_survival_at_each_interval_start(tmp_path):
    table = life_table(life_bundle(tmp_path, *MERGED), width_days=7).table
    spec = life_table_chart(table).to_dict()
    data = spec["datasets"][spec["data"]["name"]]
    assert [
        {key: row[key] for key in ("leg", "interval", "start_day", "at_risk", "events", "censored")}
        for row in data
    ] == [
        {
            "leg": DROPOUT,
            "interval": "0-6",
            "start_day": 0,
            "at_risk": 38,
            "events": 12,
            "censored": 0,
        },
        {
            "leg": DROPOUT,
            "interval": "7+",
            "start_day": 7,
            "at_risk": 26,
            "events": 11,
            "censored": 15,
        },
    ]
    assert [row["survival"] for row in data] == pytest.approx([1.0, 26 / 38])
    assert spec["mark"] == {"type": "line", "interpolate": "step-after", "point": True}
    assert (spec["encoding"]["x"]["field"], spec["encoding"]["y"]["field"]) == (
        "start_day",
        "survival",
    )
    assert spec["title"]["subtitle"] == (
        "Survival at the start of each interval; the last interval is open."
    )


def test_life_table_width_must_be_a_whole_number_of_days(tmp_path):
    with pytest.raises(ValueError, match="width_days must be a whole number of days, 1 or more: 0"):
        life_table(life_bundle(tmp_path, *MERGED), width_days=0)


def suppression_clinic() -> pd.DataFrame:
    """January: Monday 40 (12 no-shows), Tuesday 30 (0), Wednesday 25 (3); February: Thursday 60
    (15); March: Friday 5 (1)."""
    weekday = pd.CategoricalDtype(WEEKDAYS, ordered=True)
    frame = pd.concat(
        [
            grouped("weekday", [("Monday", 40, 12), ("Tuesday", 30, 0), ("Wednesday", 25, 3)]),
            grouped("weekday", [("Thursday", 60, 15)], month="2026-02"),
            grouped("weekday", [("Friday", 5, 1)], month="2026-03"),
        ],
        ignore_index=True,
    )
    return frame.astype({"weekday": weekday})


def rows_of(html: str) -> list[list[str]]:
    """The table's body cells, row by row."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("</tr>")[:-1]]


def test_explorer_suppresses_its_table_chart_and_summary():
    explorer = NoShowExplorer(suppression_clinic())
    # Every month: Wednesday (3 no-shows) and Friday (5 appointments), two primary cells;
    # together they have 4 no-shows, which the summary less the rest gives back, so Monday is
    # hidden too (Tuesday, smaller, has no no-show to add).
    assert_rates(
        explorer.rates,
        "weekday",
        [
            ("Monday", None, None),
            ("Tuesday", 30, 0),
            ("Wednesday", None, None),
            ("Thursday", 60, 15),
            ("Friday", None, None),
        ],
    )
    assert explorer.summary.value == (
        "<b>160</b> scheduled appointments, <b>31</b> no-shows (19.4%), 2026-01 to 2026-03"
    )
    assert [row["weekday"] for row in chart_data(explorer)] == ["Tuesday", "Thursday"]
    assert explorer.chart.spec["title"] == {
        "text": "No-show rate by weekday",
        "subtitle": "3 of 5 groups not shown: cells under 11 are suppressed (see the table).",
    }
    suppressed = ["suppressed"] * 5
    assert rows_of(explorer.table.value) == [
        ["Monday", *suppressed],
        ["Tuesday", "30", "0", "0.0%", *[f"{x:.1%}" for x in wilson(0, 30)]],
        ["Wednesday", *suppressed],
        ["Thursday", "60", "15", "25.0%", *[f"{x:.1%}" for x in wilson(15, 60)]],
        ["Friday", *suppressed],
    ]
    assert "<p><i>Cells under 11 are suppressed (counts of 1 to 10" in explorer.table.value

    # January alone: Wednesday is the only small cell, and the summary's 95 appointments and
    # 15 no-shows would give it back, so Monday is hidden too (with Tuesday, the two would
    # still show Wednesday's 3 no-shows).
    explorer.months.value = ("2026-01", "2026-01")
    assert_rates(
        explorer.rates,
        "weekday",
        [("Monday", None, None), ("Tuesday", 30, 0), ("Wednesday", None, None)],
    )
    assert explorer.summary.value.startswith("<b>95</b> scheduled appointments, <b>15</b>")
    assert [row["weekday"] for row in chart_data(explorer)] == ["Tuesday"]
    assert rows_of(explorer.table.value)[0] == ["Monday", *suppressed]

    # March alone: 5 appointments, 1 no-show; the summary line is a small cell itself.
    explorer.months.value = ("2026-03", "2026-03")
    assert explorer.rates["suppressed"].tolist() == [True]
    assert chart_data(explorer) == []
    assert explorer.summary.value == (
        "Scheduled appointments and no-shows <b>suppressed</b> (cells under 11), 2026-03 to 2026-03"
    )


def test_explorer_hides_what_the_months_left_out_would_give_back():
    # January: Monday 40 (12 no-shows), Tuesday 30 (0), Wednesday 25 (9); February: Thursday
    # 60 (15); March: Friday 5 (4) and Monday 3 (1). The full view hides Wednesday and Friday
    # (together 30 and 13: nothing small) and shows Monday's 43. January to February is the
    # full view less March: its Monday (40) less the full view's would be March's 3, so Monday
    # is hidden, and so is the summary line, as 163 - 155 would be March's 8.
    frame = pd.concat(
        [
            grouped("weekday", [("Monday", 40, 12), ("Tuesday", 30, 0), ("Wednesday", 25, 9)]),
            grouped("weekday", [("Thursday", 60, 15)], month="2026-02"),
            grouped("weekday", [("Friday", 5, 4), ("Monday", 3, 1)], month="2026-03"),
        ],
        ignore_index=True,
    ).astype({"weekday": pd.CategoricalDtype(WEEKDAYS, ordered=True)})
    explorer = NoShowExplorer(frame)
    monday = explorer.rates[["weekday", "scheduled", "no_shows"]].iloc[0].tolist()
    assert monday == ["Monday", 43, 13]  # the full view shows March's Monday within it
    explorer.months.value = ("2026-01", "2026-02")
    assert_rates(
        explorer.rates,
        "weekday",
        [
            ("Monday", None, None),
            ("Tuesday", 30, 0),
            ("Wednesday", None, None),
            ("Thursday", 60, 15),
        ],
    )
    assert explorer.summary.value == (
        "Scheduled appointments and no-shows <b>suppressed</b> (cells under 11), 2026-01 to 2026-02"
    )


def test_explorer_without_suppression_shows_every_count():
    explorer = NoShowExplorer(suppression_clinic(), suppress=False)
    explorer.months.value = ("2026-01", "2026-01")
    assert_rates(
        explorer.rates, "weekday", [("Monday", 40, 12), ("Tuesday", 30, 0), ("Wednesday", 25, 3)]
    )
    assert "suppressed" not in explorer.table.value
    assert "subtitle" not in explorer.chart.spec["title"]
    explorer.months.value = ("2026-03", "2026-03")
    assert explorer.summary.value.startswith("<b>5</b> scheduled appointments, <b>1</b> no-shows")


def test_regression_notes_write_small_counts_in_words_and_pool_below_the_threshold():
    # X's 5 and Y's 4 appointments are all kept: pooled (fewer than 11 even with
    # min_level_rows=1), and the pool of 9, under 11 itself, takes in T2. No note counts them.
    frame = model_frame(
        [
            ("T1", "individual", 200),
            ("T2", "individual", 120),
            ("X", "individual", 5),
            ("Y", "individual", 4),
        ]
    )
    frame.loc[frame["clinician"].isin(["X", "Y"]), "no_show"] = False
    model = logistic_regression(frame, min_level_rows=1)
    assert model.notes[0] == (
        "clinician: 2 levels with fewer than 11 appointments pooled as 'other (pooled)'; the "
        "pool had fewer than 11, so the next smallest 1 level joined it."
    )
    assert clinician_terms(model) == ["clinician[T.other (pooled)]"]
    exact = logistic_regression(frame, min_level_rows=1, min_cell=0)
    assert any(note.startswith("clinician X: 5 appointments, 0% no-shows") for note in exact.notes)


def test_a_lone_rare_level_is_pooled_with_the_next_smallest():
    # Only X is under 30 appointments: a pool of X alone would be X under another name, so
    # T2, the next smallest (120), is pooled with it; T1 (200) stays the reference.
    frame = model_frame(
        [("T1", "individual", 200), ("T2", "individual", 120), ("X", "individual", 20)]
    )
    model = logistic_regression(frame)
    assert (
        "clinician: 1 level with fewer than 30 appointments pooled as 'other (pooled)' with the "
        "next smallest level, so the pool is not one level under another name."
    ) in model.notes
    clinicians = [term for term in model.table["term"] if term.startswith("clinician")]
    assert clinicians == ["clinician[T.other (pooled)]"]
    assert "clinician: reference level T1." in model.notes


def missing(frame: pd.DataFrame, missed: dict[str, int]) -> pd.DataFrame:
    """`frame` with each clinician's first `missed` appointments no-shows, the rest kept."""
    cut = frame["clinician"].map(missed)
    return frame.assign(no_show=frame.groupby("clinician").cumcount() < cut)


@pytest.mark.parametrize(("missed", "few"), [(3, "no-shows"), (35, "kept appointments")])
def test_a_clinician_with_few_no_shows_or_kept_has_no_coefficient_of_its_own(missed, few):
    # A's 3 no-shows in 40 are hidden in the clinician table; A's coefficient and standard
    # error against the reference T1 (shown) gave the 3 back: se^2 ~ 1/3 + 1/37 + 1/60 + 1/240.
    # A is pooled with T3, the next smallest; so is an A with 5 kept.
    sizes = [("T1", 300), ("T2", 250), ("T3", 60), ("A", 40)]
    frame = missing(
        model_frame([(c, "individual", n) for c, n in sizes]),
        {"T1": 60, "T2": 50, "T3": 15, "A": missed},
    )
    clinicians = no_show_rates(frame, "clinician")
    assert clinicians.loc[clinicians["suppressed"], "clinician"].tolist() == ["A", "T3"]
    model = logistic_regression(frame)
    assert model.notes[0] == (
        f"clinician: 1 level with fewer than 11 {few} pooled as 'other (pooled)' with the next "
        "smallest level, so the pool is not one level under another name."
    )
    assert clinician_terms(model) == ["clinician[T.T2]", "clinician[T.other (pooled)]"]
    # With exact numbers (min_cell=0) A keeps its coefficient, as before.
    exact = logistic_regression(frame, min_cell=0)
    assert clinician_terms(exact) == ["clinician[T.A]", "clinician[T.T2]", "clinician[T.T3]"]
    assert not any(note.startswith("clinician:") for note in exact.notes[:1])


def test_a_pool_with_few_no_shows_takes_in_the_next_smallest():
    # R1 (20 appointments, 2 no-shows) and R2 (25, 3) pooled alone hold 5 no-shows, which
    # the pool's coefficient and standard error would give back: T3 joins the pool.
    sizes = [("T1", 300), ("T2", 250), ("T3", 60), ("R1", 20), ("R2", 25)]
    frame = missing(
        model_frame([(c, "individual", n) for c, n in sizes]),
        {"T1": 60, "T2": 50, "T3": 15, "R1": 2, "R2": 3},
    )
    model = logistic_regression(frame)
    assert model.notes[0] == (
        "clinician: 2 levels with fewer than 30 appointments pooled as 'other (pooled)'; the "
        "pool had fewer than 11 no-shows, so the next smallest 1 level joined it."
    )
    assert clinician_terms(model) == ["clinician[T.T2]", "clinician[T.other (pooled)]"]
    exact = logistic_regression(frame, min_cell=0)
    assert exact.notes[0] == (
        "clinician: 2 levels with fewer than 30 appointments pooled as 'other (pooled)'."
    )
    assert clinician_terms(exact) == [
        "clinician[T.T2]",
        "clinician[T.T3]",
        "clinician[T.other (pooled)]",
    ]


def test_a_predictor_whose_levels_all_pooled_are_too_few_is_dropped():
    # 8 no-shows in all: even every service pooled holds fewer than 11.
    frame = model_frame([("T1", "individual", 200), ("T1", "family", 100)])
    frame["no_show"] = frame.index < 8
    model = logistic_regression(frame, min_level_rows=1)
    assert model.message == ""
    # Each predictor pooled into one level is dropped, and has no reference level either.
    assert model.notes[:-2] == (
        "weekday: 5 levels with fewer than 11 no-shows pooled as 'other (pooled)'.",
        "weekday dropped: all its levels pooled still have fewer than 11 no-shows, so it has no "
        "coefficient.",
        "clinician: 1 level with fewer than 11 no-shows pooled as 'other (pooled)'.",
        "clinician dropped: all its levels pooled still have fewer than 11 no-shows, so it has "
        "no coefficient.",
        "service: 1 level with fewer than 11 no-shows pooled as 'other (pooled)' with the next "
        "smallest level, so the pool is not one level under another name.",
        "service dropped: all its levels pooled still have fewer than 11 no-shows, so it has no "
        "coefficient.",
        "Standard errors assume independent appointments (the frame has no client_id): too "
        "small where clients have many appointments.",
    )
    assert model.table["term"].tolist() == [
        "Intercept",
        "hour",
        "lead_days",
        "months_since_intake",
        "earlier_no_shows",
    ]


def test_a_predictor_of_one_level_is_dropped_with_no_reference_level():
    # One clinician, one service: neither has a term, so neither has a reference level. Two
    # of the five weekdays have fewer than 11 no-shows and are pooled; weekday keeps its terms.
    model = logistic_regression(model_frame([("T1", "individual", 300)]))
    assert model.message == ""
    assert model.notes[:4] == (
        "weekday: 2 levels with fewer than 11 no-shows pooled as 'other (pooled)'.",
        "weekday: reference level other (pooled).",
        "clinician dropped: every usable appointment has the same clinician, so it has no "
        "coefficient.",
        "service dropped: every usable appointment has the same service, so it has no coefficient.",
    )
    assert not any(term.startswith(("clinician", "service")) for term in model.table["term"])


def test_a_predictor_with_more_levels_than_fit_keeps_the_most_booked():
    # 12 clinicians (T01 100 appointments, T02 110, ... T12 210); with max_levels=5 the four
    # most booked (T09 to T12) keep their own coefficient and the other eight are pooled, as a
    # health system's thousands of clinicians would not fit in memory as dummies.
    frame = model_frame([(f"T{k:02d}", "individual", 90 + 10 * k) for k in range(1, 13)])
    model = logistic_regression(frame, max_levels=5)
    assert model.message == ""
    assert (
        "clinician: 8 levels beyond the 4 with the most appointments pooled as 'other (pooled)', "
        "as a predictor keeps at most 5 levels (max_levels, the pool among them) so that the "
        "fit's time and memory stay bounded (fit a site or a group of clinicians at a time for "
        "theirs)."
    ) in model.notes
    clinicians = [term for term in model.table["term"] if term.startswith("clinician")]
    assert clinicians == [f"clinician[T.T{k:02d}]" for k in range(9, 13)]
    assert "clinician: reference level other (pooled)." in model.notes  # the most booked now
    # Under the cap, every clinician keeps their own.
    assert len([t for t in logistic_regression(frame).table["term"] if "clinician" in t]) == 11


def test_the_cap_on_levels_is_40_from_100000_appointments_and_more_under_them():
    # rows x levels^2 held at 100,000 x 40^2: 40 * sqrt(100,000 / 8,000) = 141.4.
    assert [_level_cap(n) for n in [10**6, 100_000, 99_999, 8_000, 1_000]] == [40, 40, 40, 141, 400]
    # 61 clinicians (T00 40 appointments, ... T60 100), 15 no-shows each: 4,270 appointments,
    # so up to 193 levels. Each keeps a coefficient; a fixed cap of 40 pooled 22 of them.
    sizes = {f"T{k:02d}": 40 + k for k in range(61)}
    frame = missing(
        model_frame([(c, "individual", n) for c, n in sizes.items()]), {c: 15 for c in sizes}
    )
    model = logistic_regression(frame)
    assert model.message == ""
    assert clinician_terms(model) == [f"clinician[T.T{k:02d}]" for k in range(60)]
    assert [note for note in model.notes if note.startswith("clinician")] == [
        "clinician: reference level T60."
    ]
    capped = logistic_regression(frame, max_levels=40)
    assert [note for note in capped.notes if note.startswith("clinician")] == [
        "clinician: 22 levels beyond the 39 with the most appointments pooled as 'other "
        "(pooled)', as a predictor keeps at most 40 levels (max_levels, the pool among them) so "
        "that the fit's time and memory stay bounded (fit a site or a group of clinicians at a "
        "time for theirs).",
        "clinician: reference level other (pooled).",
    ]


def test_regression_failure_message_gives_no_count_of_usable_appointments(frame):
    # The usable appointments (12) are the total less the months table's "(not known)" (1),
    # which that table may hide: exact only with min_cell=0.
    small = logistic_regression(frame)
    assert small.message == (
        "Too little data for the model: fewer no-shows, or kept appointments, than 5 "
        "coefficients. It needs at least as many no-shows, and kept appointments, as "
        "coefficients: use more months (a wider date range, or an extract "
        "that covers more of them)."
    )
    # Without a no-show there is nothing to compare: said before any level is left out (each
    # has one outcome), of the 12 usable appointments (A15 has no intake date).
    never = logistic_regression(frame.assign(no_show=False))
    assert never.message == (
        "Too little data for the model: no usable appointment is a no-show, so there is nothing "
        "to compare. It needs both no-shows and kept appointments: use more months (a wider "
        "date range, or an extract that covers more of them)."
    )
    assert (never.rows, never.excluded) == (12, 1)
    exact = logistic_regression(frame.assign(no_show=False), min_cell=0)
    assert exact.message == (
        "Too little data for the model: none of the 12 usable appointments is a no-show, so "
        "there is nothing to compare. It needs both no-shows and kept appointments: use more "
        "months (a wider date range, or an extract that covers more of them)."
    )
    assert exact.notes == (
        "1 appointment without a lead time or months in treatment (no intake date, or intake "
        "after the appointment) left out.",
    )
    assert small.notes[0].startswith("Fewer than 11 appointments without a lead time")


def test_regression_of_no_shows_alone_counts_what_it_was_given(frame):
    # A2, A3, A9 and A13, every one a no-show: they were said to be "0 usable appointments with
    # 0 no-shows", as every level, all no-shows, was left out before the count.
    missed = frame[frame["no_show"]]
    exact = logistic_regression(missed, min_cell=0)
    assert exact.message == (
        "Too little data for the model: all 4 usable appointments are no-shows, so there is "
        "nothing to compare. It needs both no-shows and kept appointments: use every "
        "appointment of the months studied, not only the no-shows."
    )
    assert (exact.rows, exact.excluded, exact.notes) == (4, 0, ())
    assert exact.table.empty
    assert logistic_regression(missed).message == (
        "Too little data for the model: every usable appointment is a no-show, so there is "
        "nothing to compare. It needs both no-shows and kept appointments: use every "
        "appointment of the months studied, not only the no-shows."
    )
    assert logistic_regression(frame.iloc[:0]).message == (
        "Too little data for the model: no appointment is usable. It needs both no-shows and "
        "kept appointments: use more months (a wider date range, or an extract that covers "
        "more of them)."
    )


def test_regression_whose_left_out_levels_take_every_appointment_says_so():
    # A's 40 appointments all missed, B's 40 all kept: both outcomes were given, but both
    # clinicians have one outcome and are left out.
    frame = model_frame([("A", "individual", 40), ("B", "individual", 40)])
    frame["no_show"] = frame["clinician"] == "A"
    model = logistic_regression(frame, min_cell=0)
    assert model.message == (
        "Too little data for the model: once the levels with one outcome were left out (see the "
        "notes), none is left. It needs both no-shows and kept appointments: use more months (a "
        "wider date range, or an extract that covers more of them), or raise min_level_rows to "
        "pool small clinicians and services."
    )
    assert model.notes == (
        "weekday: 5 levels with fewer than 30 appointments pooled as 'other (pooled)'.",
        "weekday dropped: all its levels are pooled, one level, so it has no coefficient.",
        "clinician A: 40 appointments, 100% no-shows; left out (a level with one outcome has no "
        "finite coefficient).",
        "clinician B: 40 appointments, 0% no-shows; left out (a level with one outcome has no "
        "finite coefficient).",
    )
    assert (model.rows, model.excluded) == (0, 80)


TOO_FEW_CLIENTS = (
    "Too few clients for the model: its standard errors are cluster-robust by client (a "
    "client's appointments are not independent), which needs at least 30 clients, and the "
    "usable appointments are those of {}. With fewer the errors come out too small, and with "
    "one they cannot be computed at all: use more months (a wider date range, or an extract "
    "that covers more of them), or an extract of more clients."
)


@pytest.mark.parametrize(
    ("clients", "said"), [(1, "1 client"), (2, "2 clients"), (29, "29 clients")]
)
def test_regression_of_fewer_than_30_clients_says_so(clients, said):
    # With one client statsmodels' cluster-robust covariance divided by clients - 1: a
    # ZeroDivisionError traceback. With two it has rank 1, whatever the coefficients.
    frame = model_frame([("T1", "individual", 200), ("T2", "individual", 150)])
    frame["client_id"] = [f"K{number % clients}" for number in range(len(frame))]
    exact = logistic_regression(frame, min_cell=0)
    assert exact.message == TOO_FEW_CLIENTS.format(said)
    assert exact.table.empty and (exact.rows, exact.excluded) == (350, 0)
    assert logistic_regression(frame).message == TOO_FEW_CLIENTS.format("fewer than 30")
    frame["client_id"] = [f"K{number % 30}" for number in range(len(frame))]
    assert logistic_regression(frame).message == ""


@pytest.mark.parametrize("clients", [1, 2, 3])
def test_a_generated_clinic_of_a_few_clients_gives_words_not_a_traceback(tmp_path, clients):
    generate_sample(tmp_path, clients=clients, seed=3)
    model = logistic_regression(appointment_frame(load(tmp_path)))
    assert model.message == TOO_FEW_CLIENTS.format("fewer than 30") and model.table.empty
    # Every predictor was pooled into one level and dropped: none has a reference level.
    assert [note for note in model.notes if "reference level" in note] == []
    if clients == 3:
        assert model.notes == (
            "weekday: 4 levels with fewer than 30 appointments or fewer than 11 no-shows pooled "
            "as 'other (pooled)'.",
            "weekday dropped: all its levels pooled still have fewer than 11 no-shows, so it has "
            "no coefficient.",
            "clinician: 4 levels with fewer than 30 appointments pooled as 'other (pooled)'.",
            "clinician dropped: all its levels pooled still have fewer than 11 no-shows, so it "
            "has no coefficient.",
            "service: 4 levels with fewer than 30 appointments or fewer than 11 no-shows pooled "
            "as 'other (pooled)'.",
            "service dropped: all its levels pooled still have fewer than 11 no-shows, so it has "
            "no coefficient.",
        )


# --- a de-identified extract ---------------------------------------------------------------------


def simulated_extract(bundle, folder: Path):
    """The bundle as `auditkit deidentify` leaves it: random ids, no names, phones or message
    text, every client's dates moved by their own whole number of weeks on the wall clock."""
    rng = np.random.default_rng(5)
    clients = bundle.clients["client_id"]
    weeks = pd.Series(rng.choice([*range(-26, 0), *range(1, 27)], len(clients)), index=clients)
    surrogates = [f"client-{n:06x}" for n in rng.permutation(10**6)[: len(clients)]]
    ids = {
        "client_id": dict(zip(clients, surrogates, strict=True)),
        "staff_id": {s: f"staff-{s[::-1]}" for s in bundle.staff["staff_id"]},
    }
    tables = {}
    for name, table in bundle.tables.items():
        table = table.copy()
        if "client_id" in table:
            shift = pd.to_timedelta(7 * table["client_id"].map(weeks).fillna(0), unit="D")
            for column in table.columns[table.dtypes.map(lambda t: hasattr(t, "tz"))]:
                wall = table[column].dt.tz_localize(None) + shift
                table[column] = wall.dt.tz_localize(table[column].dt.tz, ambiguous="NaT")
        for column in set(ids) & set(table.columns):
            table[column] = table[column].map(ids[column]).fillna(table[column])
        tables[name] = table
    tables["contacts"]["message"] = pd.NA
    tables["clients"][["first_name", "last_name", "phone"]] = pd.NA
    (folder / "extract.json").write_text(json.dumps({"date_shifted": True}), encoding="utf-8")
    return replace(bundle, path=folder, tables=tables)


def test_analyses_run_on_an_extract_and_keep_what_the_shift_keeps(tmp_path):
    original = load(SAMPLE)
    extract = simulated_extract(original, tmp_path)
    assert is_date_shifted(extract) and not is_date_shifted(original)
    before, after = appointment_frame(original), appointment_frame(extract)
    for by in ["weekday", "hour", "lead_time", "months_in_treatment", "earlier"]:
        pd.testing.assert_frame_equal(no_show_rates(after, by), no_show_rates(before, by))
    pd.testing.assert_frame_equal(no_shows_per_client(after), no_shows_per_client(before))

    result = survival(extract)
    assert result.notes[0].startswith("Closure warnings: PROXY")  # the sample has approvals
    assert "date-shifted per client" in result.notes[-2]
    assert result.notes[-1].startswith("Cells under 11 are suppressed")
    model = logistic_regression(after)
    assert model.message == "" and len(model.table) == len(logistic_regression(before).table)
    explorer = NoShowExplorer(after, date_shifted=True)
    explorer.grouping.value = "clinician"
    assert explorer.rates["clinician"].str.startswith("staff-").all()


def test_extract_without_approvals_or_text_reports_the_warning_unavailable(tmp_path):
    extract = simulated_extract(load(SAMPLE), tmp_path)
    extract.tables["approvals"] = extract.approvals.iloc[0:0]
    result = survival(extract)
    assert result.notes[0].startswith("Closure warnings: not available")
    assert list(result.summary["leg"]) == ["first no-show → dropout"]


# --- where the notebook finds its data -----------------------------------------------------------


def test_locate_bundle_prefers_the_extract_then_finds_the_sample(tmp_path):
    (tmp_path / "extract.json").write_text("{}", encoding="utf-8")
    assert locate_bundle(environ={"AUDITKIT_EXTRACT": str(tmp_path)}) == tmp_path
    assert locate_bundle(ROOT / "notebooks", environ={}) == SAMPLE
    assert locate_bundle(ROOT, environ={"AUDITKIT_EXTRACT": " "}) == SAMPLE
    with pytest.raises(BundleError, match="AUDITKIT_EXTRACT"):
        locate_bundle(tmp_path / "elsewhere", environ={})


def test_locate_bundle_refuses_a_clinics_own_bundle_named_as_the_extract():
    with pytest.raises(BundleError) as refused:
        locate_bundle(environ={"AUDITKIT_EXTRACT": str(SAMPLE)})
    assert str(refused.value) == (
        f"$AUDITKIT_EXTRACT names {SAMPLE}, which is not a de-identified extract (it has no "
        "extract.json). Research runs on extracts, not on the clinic's records: make one with "
        "auditkit deidentify BUNDLE --out FOLDER and name that folder."
    )


def test_a_bundle_without_appointments_gives_words_not_tracebacks(tmp_path):
    bundle = build_bundle(tmp_path)
    empty = appointment_frame(bundle)
    assert empty.empty
    assert no_show_rates(empty, "weekday").empty and no_shows_per_client(empty).empty
    rate_columns = ["scheduled", "no_shows", "rate", "ci_low", "ci_high", "suppressed"]
    after_k = no_show_after_k(empty)
    assert after_k.empty and list(after_k) == ["k", *rate_columns]
    assert logistic_regression(empty).message.startswith("Too little data")
    assert survival(bundle).notes == (
        "There are no scheduled appointments, so there is nothing to estimate.",
    )
    nothing = life_table(bundle)
    assert nothing.notes == survival(bundle).notes
    spec = life_table_chart(nothing.table).to_dict()
    assert nothing.table.empty and spec["datasets"][spec["data"]["name"]] == []
    assert 600 < drawn_width(spec) < 1000
    assert 600 < drawn_width(survival_chart(survival(bundle).table).to_dict()) < 1000
    explorer = NoShowExplorer(empty)  # a note where the menus would be, not a traceback
    assert explorer.rates.empty and list(explorer.rates) == ["weekday", *rate_columns]
    assert explorer.widget.value == (
        f'<p style="{NOTE_STYLE}">There are no scheduled appointments to explore.</p>'
    )


def test_survival_and_the_life_table_use_the_frame_the_notebook_made(monkeypatch):
    """The notebook makes the appointment frame once; given it, survival and the life table
    do not make it again, and give what they give making it themselves."""
    sample = load(SAMPLE)
    frame = appointment_frame(sample)
    expected = survival(sample, min_cell=0), life_table(sample, min_cell=0)

    def made_again(_bundle):
        raise AssertionError("the appointment frame was made again")

    monkeypatch.setattr("auditkit.research.appointment_frame", made_again)
    got = survival(sample, min_cell=0, frame=frame), life_table(sample, min_cell=0, frame=frame)

    for mine, theirs in zip(got, expected, strict=True):
        assert mine.notes == theirs.notes
        pd.testing.assert_frame_equal(mine.summary, theirs.summary)
        pd.testing.assert_frame_equal(mine.table, theirs.table)
    assert got[0].summary["clients"].tolist() == expected[0].summary["clients"].tolist() != []
