"""auditkit.research: exact rates and their definitions, repeat no-shows, the Kaplan–Meier legs,
the logit and its failure messages, the explorer widgets, and a run on a simulated extract.

Expected values are worked out by hand from the appointments listed here, not by the code.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rule_fixtures import CLIENTS, build_bundle

from auditkit import load
from auditkit.errors import BundleError
from auditkit.notebook import jupyter_chart
from auditkit.research import (
    TABLE_COLUMNS,
    WEEKDAYS,
    NoShowExplorer,
    appointment_frame,
    closure_warnings,
    is_date_shifted,
    locate_bundle,
    logistic_regression,
    no_show_after_k,
    no_show_rates,
    no_shows_per_client,
    rate_chart,
    survival,
    survival_chart,
)
from auditkit.sample import generate_sample

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
Z = 1.959963984540054  # the normal quantile for a 95% interval


def wilson(no_shows: int, scheduled: int) -> tuple[float, float]:
    """The Wilson score interval, from its formula."""
    p, n = no_shows / scheduled, scheduled
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def expected_rates(by: str, rows: list[tuple[object, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[by, "scheduled", "no_shows"])
    frame["rate"] = frame["no_shows"] / frame["scheduled"]
    intervals = [wilson(x, n) for x, n in zip(frame["no_shows"], frame["scheduled"], strict=True)]
    frame["ci_low"] = [low for low, _ in intervals]
    frame["ci_high"] = [high for _, high in intervals]
    return frame


def assert_rates(actual: pd.DataFrame, by: str, rows: list[tuple[object, int, int]]) -> None:
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
        no_show_rates(frame, "weekday"),
        "weekday",
        [("Monday", 8, 2), ("Tuesday", 3, 1), ("Wednesday", 1, 0), ("Thursday", 1, 1)],
    )


def test_no_show_rate_by_hour(frame):
    assert_rates(
        no_show_rates(frame, "hour"),
        "hour",
        [(10, 7, 2), (11, 1, 0), (13, 1, 0), (14, 2, 1), (15, 2, 1)],
    )


def test_no_show_rate_by_clinician_service_lead_time_and_months(frame):
    assert_rates(no_show_rates(frame, "clinician"), "clinician", [("T1", 7, 2), ("T2", 6, 2)])
    assert_rates(
        no_show_rates(frame, "service"), "service", [("individual", 12, 4), ("intake", 1, 0)]
    )
    # A15 has no lead time or months in treatment (no intake date): in neither table.
    assert_rates(
        no_show_rates(frame, "lead_time"),
        "lead_time",
        [("0-6 d", 2, 1), ("7-13 d", 9, 3), ("14-27 d", 1, 0)],
    )
    assert_rates(
        no_show_rates(frame, "months_in_treatment"),
        "months_in_treatment",
        [("<1", 7, 3), ("1-2", 5, 1)],
    )


def test_chance_of_a_no_show_after_k_earlier_ones(frame):
    # C1: A1 k0, A2 k0 (no-show), A3 k1 (no-show), then k2 for A5-A8.
    # C2: A14 k0, A9 k0 (no-show), A10 k1, A11 k1, A13 k1 (no-show). C3: A15 k0.
    assert_rates(no_show_after_k(frame), "k", [("0", 5, 2), ("1", 4, 2), ("2", 4, 0)])


def test_no_shows_per_client_lists_every_count(frame):
    expected = pd.DataFrame(
        {"no_shows": [0, 1, 2], "clients": [1, 0, 2], "share": [1 / 3, 0, 2 / 3]}
    )
    pd.testing.assert_frame_equal(no_shows_per_client(frame), expected, check_dtype=False)


# --- the explorer --------------------------------------------------------------------------------


def chart_data(explorer: NoShowExplorer) -> list[dict]:
    spec = explorer.chart.spec
    return spec["datasets"][spec["data"]["name"]]


def test_explorer_starts_on_weekday_over_every_month(frame):
    explorer = NoShowExplorer(frame)
    assert explorer.months.value == ("2026-01", "2026-03")
    assert_rates(
        explorer.rates,
        "weekday",
        [("Monday", 8, 2), ("Tuesday", 3, 1), ("Wednesday", 1, 0), ("Thursday", 1, 1)],
    )
    assert chart_data(explorer) == explorer.rates.to_dict("records")


def test_explorer_follows_grouping_and_month_range(frame):
    explorer = NoShowExplorer(frame)
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
    assert (layer["field"], layer["sort"]) == ("hour", [10, 15])
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
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS))
    timelines = result.timelines.set_index("client_id")
    assert timelines["dropped_out"].to_dict() == {"C1": True, "C2": False, "C3": True, "C4": False}
    # Durations 7 (event), 14 (event), 14 (censored), 69 (censored).
    dropout = leg(result, "first no-show → dropout")
    assert_km(dropout, km([7, 14], [4, 3], [1, 1], [0.75, 0.5]))
    # Greenwood: S * sqrt(sum d / (n (n - d))).
    assert dropout["std_err"].tolist() == pytest.approx([0.75 * math.sqrt(1 / 12), 0.25])


def test_kaplan_meier_through_the_closure_warning(tmp_path):
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS))
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
    result = survival(bundle)
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


def test_survival_chart_starts_every_leg_at_one(tmp_path):
    result = survival(km_bundle(tmp_path, contacts=KM_WARNINGS))
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


def test_regression_pools_leaves_out_and_folds_what_it_cannot_estimate(generated):
    model = logistic_regression(generated)
    notes = "\n".join(model.notes)
    # Intakes and assessments are never missed in the generated clinic: no finite coefficient.
    assert "service intake: 129 appointments, 0% no-shows; left out" in notes
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
    small = logistic_regression(frame)
    assert small.message.startswith("Too little data for the model: 12 usable appointments, 4")
    assert small.excluded == 1
    never = logistic_regression(frame.assign(no_show=False))
    assert never.message.startswith("Too little data") and never.table.empty


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
    assert model.message.startswith("Perfect separation")
    assert list(model.table.columns) == TABLE_COLUMNS and model.table.empty


def test_regression_that_cannot_converge_says_so(generated):
    model = logistic_regression(generated.assign(no_show=generated["hour"] >= 15))
    assert model.message.startswith("The model did not converge")
    assert model.table.empty


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
    assert "date-shifted per client" in result.notes[-1]
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
    assert locate_bundle(REPO / "notebooks", environ={}) == SAMPLE
    assert locate_bundle(REPO, environ={"AUDITKIT_EXTRACT": " "}) == SAMPLE
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
    assert logistic_regression(empty).message.startswith("Too little data")
    assert survival(bundle).notes == (
        "There are no scheduled appointments, so there is nothing to estimate.",
    )
    with pytest.raises(ValueError, match="no scheduled appointments"):
        NoShowExplorer(empty)
