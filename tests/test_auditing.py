"""The audit as a whole: findings table, compliance with honest denominators, month, CLI output."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import review_fixtures
from paths import SAMPLE
from rule_fixtures import build_bundle

from auditkit import audit
from auditkit.auditing import (
    AuditResult,
    _opportunities,
    check_rules,
    count_opportunities,
    for_clinicians,
    for_month,
    last_month,
)
from auditkit.cli import main
from auditkit.errors import AuditkitError
from auditkit.policy import Policy, policy_from_dict
from auditkit.report import monthly_trend
from auditkit.rules import RULES
from auditkit.schemas import Findings

# The review scenario (two no-shows in March for T1, one handled, one not; one in April for T2),
# plus an attended session, and K2's voicemail states the fee behind a formula-looking prefix.
APPOINTMENTS = [
    *review_fixtures.APPOINTMENTS,
    {"appointment_id": "A4", "scheduled_start": "2026-03-09T13:00:00-07:00", "status": "attended"},
]
CONTACTS = [
    review_fixtures.CONTACTS[0],
    {
        **review_fixtures.CONTACTS[1],
        "message": '=HYPERLINK("x") you\'ll be charged for the missed session',
    },
]
NOTES = review_fixtures.NOTES


def sample(tmp_path):
    return build_bundle(tmp_path, appointments=APPOINTMENTS, contacts=CONTACTS, notes=NOTES)


def test_findings_are_validated_sorted_and_point_at_one_record_each(tmp_path):
    result = audit(sample(tmp_path))
    Findings.validate(result.findings)
    assert result.findings[["rule", "severity", "subject_type", "subject_id", "staff_id"]].to_dict(
        "records"
    ) == [
        {
            "rule": "MS001",
            "severity": "high",
            "subject_type": "appointment",
            "subject_id": "A2",
            "staff_id": "T1",
        },
        {
            "rule": "NT001",
            "severity": "high",
            "subject_type": "appointment",
            "subject_id": "A2",
            "staff_id": "T1",
        },
    ]
    assert str(result.findings["at"].iloc[0]) == "2026-03-16 13:00:00-07:00"


def test_compliance_per_rule_counts_what_each_rule_examined(tmp_path):
    table = audit(sample(tmp_path)).compliance.set_index("rule")
    assert table.loc["MS001"].to_dict() == {"opportunities": 3, "findings": 1, "compliance": 0.6667}
    assert table.loc["NT002"].to_dict() == {"opportunities": 2, "findings": 0, "compliance": 1.0}
    assert table.loc["VM002"].to_dict() == {"opportunities": 2, "findings": 0, "compliance": 1.0}
    assert table.loc["PC001"].to_dict() == {"opportunities": 2, "findings": 0, "compliance": 1.0}
    # a rule with nothing to examine has no figure: neither a failure nor a 100 %
    assert table.loc["TP001", ["opportunities", "findings"]].tolist() == [0, 0]
    assert np.isnan(table.loc["TP001", "compliance"])
    no_figure = table.index[table["compliance"].isna()].tolist()
    assert no_figure == ["VM003", "VM004", "TP001", "IQ001", "LG001", "LG002"]
    assert (table.loc[no_figure, "opportunities"] == 0).all()
    assert list(table.index) == [
        "MS001",
        "MS002",
        "MS003",
        "VM001",
        "VM002",
        "VM003",
        "VM004",
        "NT001",
        "NT002",
        "TP001",
        "IQ001",
        "PC001",
        "LG001",
        "LG002",
    ]


@pytest.mark.parametrize("clients", [None, 300])  # data/sample; a generated clinic's year
def test_each_finding_is_an_opportunity_of_its_rule_with_its_client_clinician_and_time(
    clients, tmp_path
):
    """The compliance tables count findings by their opportunity's clinician and month, the
    findings list by the finding's own: a clinician's row must count what their list shows."""
    from auditkit import load
    from auditkit.sample import generate_sample

    if clients is not None:
        generate_sample(tmp_path / "bundle", clients=clients, seed=11)
    result = audit(load(SAMPLE if clients is None else tmp_path / "bundle"))
    examined = result.opportunities.astype({"rule": "str", "client_id": "str", "staff_id": "str"})

    joined = result.findings.merge(
        examined, on=["rule", "subject_id"], how="left", suffixes=("", "_examined")
    )

    assert len(joined) == len(result.findings) > 100
    for column in ("client_id", "staff_id", "at"):
        assert joined[column].equals(joined[f"{column}_examined"].rename(column)), column
    standing = result.findings[result.findings["review"] != "dismissed"]
    listed = standing.groupby(["rule", "staff_id"]).size()
    counted = result.compliance_by("staff_id").set_index(["rule", "staff_id"])["findings"]
    assert listed.to_dict() == counted[counted > 0].to_dict()


def test_compliance_per_clinician_and_per_month(tmp_path):
    result = audit(sample(tmp_path))
    by_staff = result.compliance_by("staff_id")
    ms001 = by_staff[by_staff["rule"] == "MS001"].drop(columns="rule")
    assert ms001.to_dict("records") == [
        {"staff_id": "T1", "opportunities": 2, "findings": 1, "compliance": 0.5},
        {"staff_id": "T2", "opportunities": 1, "findings": 0, "compliance": 1.0},
    ]
    by_month = result.compliance_by("month")
    nt001 = by_month[by_month["rule"] == "NT001"].drop(columns="rule")
    assert nt001.to_dict("records") == [
        {"month": "2026-03", "opportunities": 2, "findings": 1, "compliance": 0.5},
        {"month": "2026-04", "opportunities": 1, "findings": 0, "compliance": 1.0},
    ]


def test_opportunities_name_their_rule_and_month_as_categoricals(tmp_path):
    """Millions of opportunities name a dozen rules and a few months: a byte or two a row."""
    opportunities = audit(sample(tmp_path)).opportunities
    assert list(opportunities["rule"].cat.categories) == sorted(RULES)
    ms001 = opportunities[opportunities["rule"] == "MS001"]
    assert ms001["month"].astype("str").tolist() == ms001["at"].dt.strftime("%Y-%m").tolist()
    assert list(opportunities["month"].cat.categories) == ["2026-03", "2026-04"]
    for column in ("client_id", "staff_id"):  # a few thousand people: 4 bytes a row
        ids = opportunities[column]
        assert list(ids.cat.categories) == sorted(set(ids.dropna().astype("str")))


def test_opportunities_counted_per_rule_clinician_and_month_give_the_same_compliance(tmp_path):
    """The Dask engine's partitions send their opportunities counted (count_opportunities),
    and the driver adds the counts up: the compliance tables are those of a row a subject."""
    result = audit(sample(tmp_path))
    every = result.opportunities
    halves = [count_opportunities(every.iloc[:5]), count_opportunities(every.iloc[5:])]

    counted = _opportunities(halves)

    twice = ["MS001", "NT001"]  # T1's two no-shows in March, each examined
    assert list(counted.columns) == ["rule", "staff_id", "month", "count"]
    assert list(counted.itertuples(index=False, name=None)) == [
        (rule, staff, month, 2 if rule in twice and staff == "T1" else 1)
        for rule in ("MS001", "MS002", "MS003", "NT001", "NT002", "PC001", "VM001", "VM002")
        for staff, month in (("T1", "2026-03"), ("T2", "2026-04"))
    ]
    pd.testing.assert_frame_equal(counted, count_opportunities(every))
    assert counted["count"].sum() == len(every)
    from_counts = replace(result, opportunities=counted)
    for keys in ((), ("staff_id",), ("month",), ("staff_id", "month")):
        pd.testing.assert_frame_equal(from_counts.compliance_by(*keys), result.compliance_by(*keys))
    with pytest.raises(ValueError, match="counted per staff_id, month, not per client_id"):
        from_counts.compliance_by("client_id")


def test_an_audit_that_keeps_only_what_a_report_reads_finds_the_same(tmp_path):
    """The rules read the messages before they go: C2's voicemail states no fee (VM002)."""
    bundle = build_bundle(
        tmp_path, appointments=APPOINTMENTS, contacts=review_fixtures.CONTACTS, notes=NOTES
    )
    whole = audit(bundle)
    lean = audit(bundle, keep_records=False)
    pd.testing.assert_frame_equal(lean.findings, whole.findings)
    pd.testing.assert_frame_equal(lean.compliance_by("staff_id"), whole.compliance_by("staff_id"))
    assert list(lean.bundle.contacts.columns) == ["contact_id", "staff_id", "started_at"]
    assert "message" in whole.bundle.contacts and "text" in whole.bundle.notes
    assert "message" in bundle.contacts  # the caller's bundle is left whole
    assert lean.findings["rule"].tolist() == ["MS001", "NT001", "VM002"]
    with pytest.raises(ValueError, match="appointments have no client_id, duration_minutes"):
        audit(lean.bundle)  # not again: its rules would stop midway


def test_month_narrows_subjects_but_rules_still_see_history(tmp_path):
    result = audit(sample(tmp_path), month="2026-04")
    assert result.findings.empty
    assert result.compliance.set_index("rule").loc["MS001", "opportunities"] == 1
    march = audit(sample(tmp_path), month="2026-03")
    assert sorted(march.findings["rule"]) == ["MS001", "NT001"]


def test_a_months_audit_is_the_whole_audit_cut_to_that_month(tmp_path):
    whole = audit(sample(tmp_path))
    march = for_month(whole, "2026-03")
    in_march = whole.findings["at"].dt.strftime("%Y-%m") == "2026-03"
    pd.testing.assert_frame_equal(march.findings, whole.findings[in_march].reset_index(drop=True))
    pd.testing.assert_frame_equal(march.findings, audit(whole.bundle, month="2026-03").findings)
    assert march.compliance.set_index("rule").loc[["MS001", "NT001"]].to_dict("index") == {
        "MS001": {"opportunities": 2, "findings": 1, "compliance": 0.5},
        "NT001": {"opportunities": 2, "findings": 1, "compliance": 0.5},
    }
    assert march.every_month.equals(whole.compliance_by("month"))
    assert for_month(march, "2026-03") is march


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-07 18:00", "2026-11"),
        # 07:30 on 1 December in UTC is still 30 November at the clinic (Los Angeles)
        ("2026-12-01 07:30", "2026-10"),
        ("2026-12-01 08:30", "2026-11"),
        ("2027-01-01 12:00", "2026-12"),  # across the year
        ("2026-03-31 23:59", "2026-02"),
    ],
)
def test_last_month_is_the_month_before_this_one_on_the_clinics_clock(now, expected):
    assert last_month("America/Los_Angeles", pd.Timestamp(now, tz="UTC")) == expected


def test_an_audit_of_last_month_is_the_audit_of_that_month(tmp_path):
    whole = audit(sample(tmp_path))
    before = last_month(whole.bundle.policy.clinic.timezone)
    last = for_month(whole, "last")
    if last_month(whole.bundle.policy.clinic.timezone) != before:  # the month turned meanwhile
        pytest.skip("the clinic's month turned during the test")
    assert last.month == before
    pd.testing.assert_frame_equal(last.findings, for_month(whole, before).findings)


@pytest.mark.parametrize(
    ("month", "problem"),
    [
        ("2026-4", "month must look like 2026-03, or be last, not '2026-4'"),
        ("March 2026", "month must look like 2026-03, or be last, not 'March 2026'"),
        ("2026-13", "month must look like 2026-03, or be last, not '2026-13'"),
        ("1899-12", "month must be 1900-01 to 2199-12, not '1899-12'"),
    ],
)
def test_an_audit_refuses_a_month_it_cannot_read_before_the_rules_run(
    month, problem, tmp_path, monkeypatch
):
    bundle = build_bundle(tmp_path)
    monkeypatch.setattr("auditkit.auditing.check_rules", lambda *args: pytest.fail("rules ran"))
    with pytest.raises(AuditkitError) as refused:  # not an empty month's audit
        audit(bundle, month=month)
    assert str(refused.value) == f"The audit's {problem}."


def test_a_months_audit_cannot_be_cut_to_another_month(tmp_path):
    march = audit(sample(tmp_path), month="2026-03")
    with pytest.raises(ValueError, match="an audit of 2026-03 holds nothing of 2026-04"):
        for_month(march, "2026-04")


def test_a_clinicians_audit_is_the_clinics_cut_to_their_records(tmp_path):
    whole = audit(sample(tmp_path))
    t1 = audit(whole.bundle, clinicians=["T1"])

    assert t1.clinicians == ("T1",)
    pd.testing.assert_frame_equal(t1.findings, for_clinicians(whole, ["T1"]).findings)
    assert t1.findings[["rule", "subject_id", "staff_id"]].values.tolist() == [
        ["MS001", "A2", "T1"],
        ["NT001", "A2", "T1"],
    ]
    examined = t1.compliance.set_index("rule").query("opportunities > 0")
    assert examined.to_dict("index") == {
        "MS001": {"opportunities": 2, "findings": 1, "compliance": 0.5},
        "MS002": {"opportunities": 1, "findings": 0, "compliance": 1.0},
        "MS003": {"opportunities": 1, "findings": 0, "compliance": 1.0},
        "VM001": {"opportunities": 1, "findings": 0, "compliance": 1.0},
        "VM002": {"opportunities": 1, "findings": 0, "compliance": 1.0},
        "NT001": {"opportunities": 2, "findings": 1, "compliance": 0.5},
        "NT002": {"opportunities": 1, "findings": 0, "compliance": 1.0},
        "PC001": {"opportunities": 1, "findings": 0, "compliance": 1.0},
    }
    t2 = audit(whole.bundle, clinicians=["T2"])
    assert t2.findings.empty
    assert t2.compliance.set_index("rule").loc["MS001", "opportunities"] == 1
    # the bundle's own rows and reviews stay in the result, whoever it is for
    assert t1.rejected.equals(whole.rejected)
    assert for_clinicians(whole, []) is whole


def test_a_clinicians_month_has_their_trend(tmp_path):
    april = audit(sample(tmp_path), month="2026-04", clinicians=["T1"])  # T1: March only
    assert april.opportunities.empty
    # the clinic had records in April, T1 none: theirs is an empty month, not a clean one
    assert april.caveats == [
        "No records of T1 in 2026-04: nothing was examined. Their records are all from 2026-03."
    ]
    assert april.every_month[["rule", "month", "opportunities"]].values.tolist() == [
        ["MS001", "2026-03", 2],
        ["MS002", "2026-03", 1],
        ["MS003", "2026-03", 1],
        ["NT001", "2026-03", 2],
        ["NT002", "2026-03", 1],
        ["PC001", "2026-03", 1],
        ["VM001", "2026-03", 1],
        ["VM002", "2026-03", 1],
    ]
    with pytest.raises(ValueError, match="narrow the clinic's whole audit by clinician, then"):
        for_clinicians(april, ["T2"])


def test_a_clinicians_trend_counts_their_appointments_from_their_first_month(tmp_path):
    bundle = sample(tmp_path)
    clinic, t2 = monthly_trend(audit(bundle)), monthly_trend(audit(bundle, clinicians=["T2"]))
    columns = ["month", "appointments", "no_shows", "no_show_rate"]
    assert clinic[columns].values.tolist() == [
        ["2026-03", 3, 2, 0.6667],
        ["2026-04", 1, 1, 1.0],
    ]
    assert t2[columns].values.tolist() == [["2026-04", 1, 1, 1.0]]  # T2's one no-show


def test_a_clinician_not_on_the_staff_is_refused_before_the_rules_run(tmp_path):
    with pytest.raises(AuditkitError) as refused:
        audit(sample(tmp_path), clinicians=["T1", "T9"])
    assert str(refused.value) == (
        "No clinician T9 in the bundle's staff table: name a staff_id it holds (ADM, DIR, SUP, "
        "T1, T2)."
    )


def test_cli_audit_writes_findings_rejected_and_compliance(tmp_path, capsys):
    bundle = sample(tmp_path)
    out = tmp_path / "out"
    assert main(["audit", str(bundle.path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 findings; 0 input rows rejected (0 problems in rejected.csv)." in printed
    findings = pd.read_csv(out / "findings.csv")
    assert list(findings.columns) == [
        "rule",
        "severity",
        "subject_type",
        "subject_id",
        "client_id",
        "staff_id",
        "at",
        "summary",
        "evidence",
        "review",
        "reviewer",
        "reviewed_at",
        "review_comment",
    ]
    assert findings["review"].tolist() == ["new", "new"]
    assert findings["at"].tolist() == ["2026-03-16 13:00:00-07:00"] * 2
    assert list(pd.read_csv(out / "rejected.csv").columns) == [
        "file",
        "line",
        "record_id",
        "column",
        "reason",
    ]
    assert len(pd.read_csv(out / "compliance.csv")) == 14
    assert main(["audit", str(bundle.path), "--out", str(out), "--month", "2026-4"]) == 2
    assert "month must look like 2026-03, or be last, not '2026-4'" in capsys.readouterr().err


def test_written_csvs_never_hold_a_live_formula(tmp_path):
    from auditkit.output import neutralise_formulas

    frame = pd.DataFrame(
        {"text": ["=1+2", "+A1", "-3", "@SUM(A1)", "plain", None], "n": [1, 2, 3, 4, 5, 6]}
    )
    safe = neutralise_formulas(frame)["text"]
    assert safe[:5].tolist() == ["'=1+2", "'+A1", "'-3", "'@SUM(A1)", "plain"]
    assert pd.isna(safe[5])


def test_rules_checked_on_threads_find_what_one_thread_finds():

    from auditkit import load

    bundle = load(SAMPLE)
    alone = check_rules(bundle, threads=1)
    together = check_rules(bundle, threads=4)
    assert list(together) == list(alone)
    for code, checked in alone.items():
        pd.testing.assert_frame_equal(together[code].findings, checked.findings)
        pd.testing.assert_frame_equal(together[code].opportunities, checked.opportunities)
    assert sum(len(c.findings) for c in together.values()) == 126


def test_records_are_counted_per_table_clinician_and_clinic_local_month():
    """What the trend and an empty month's caveat read of the records, and all the Dask
    engine's driver holds of them: counts made piece by piece add up to the whole's."""
    from auditkit.auditing import add_up_records, count_records, record_months

    local = pd.to_datetime(
        ["2026-03-31 23:30", "2026-04-01 00:10", "2026-04-02 09:00"]
    ).tz_localize("America/Los_Angeles")  # the first is April in UTC, March at the clinic
    appointments = pd.DataFrame(
        {
            "staff_id": pd.Series(["T1", "T1", "T2"], dtype="str"),
            "scheduled_start": local,
            "status": ["no_show", "attended", "no_show"],
        }
    )
    calls = pd.DataFrame({"started_at": local[1:]})  # the phone system names no clinician
    tables = {"appointments": appointments, "calls": calls}

    counts = count_records(tables)

    assert list(counts.fillna({"staff_id": "-"}).itertuples(index=False, name=None)) == [
        ("appointments", "T1", "2026-03", 1, 1),
        ("appointments", "T1", "2026-04", 1, 0),
        ("appointments", "T2", "2026-04", 1, 1),
        ("calls", "-", "2026-04", 2, 0),
    ]
    assert counts["staff_id"].isna().tolist() == [False, False, False, True]
    pieces = [
        count_records({"appointments": appointments.iloc[:2]}),
        count_records({"appointments": appointments.iloc[2:], "calls": calls.iloc[:1]}),
        count_records({"calls": calls.iloc[1:]}),
    ]
    pd.testing.assert_frame_equal(add_up_records(pieces), counts)
    assert record_months(counts) == ["2026-03", "2026-04"]
    assert record_months(counts, ["T2"]) == ["2026-04"]  # their appointments, not the calls
    assert record_months(counts, ["T9"]) == []


def test_compliance_leaves_out_rows_missing_a_key_and_counts_the_rest():
    """Grouped as groupby groups: rows without the key are in no group; a key nobody has
    gives an empty table, not a group of missing values."""
    opportunities = pd.DataFrame(
        {
            "rule": ["MS001", "MS001", "MS001", "NT001"],
            "subject_id": ["A1", "A2", "A3", "A1"],
            "staff_id": pd.Series(["T2", None, "T1", "T2"], dtype="str"),
            "nobody": pd.Series([None] * 4, dtype="str"),
        }
    )
    findings = pd.DataFrame(
        {
            "rule": ["MS001", "MS001"],
            "subject_id": ["A1", "A2"],
            "staff_id": pd.Series(["T2", None], dtype="str"),
            "nobody": pd.Series([None] * 2, dtype="str"),
            "review": ["new", "new"],
        }
    )
    result = AuditResult(None, findings, opportunities)
    assert result.compliance_by("staff_id").to_dict("records") == [
        {"rule": "MS001", "staff_id": "T1", "opportunities": 1, "findings": 0, "compliance": 1.0},
        {"rule": "MS001", "staff_id": "T2", "opportunities": 1, "findings": 1, "compliance": 0.0},
        {"rule": "NT001", "staff_id": "T2", "opportunities": 1, "findings": 0, "compliance": 1.0},
    ]
    assert result.compliance_by("nobody").empty
    assert result.compliance.set_index("rule").loc["MS001"].to_dict() == {
        "opportunities": 3,
        "findings": 2,
        "compliance": 0.3333,
    }


def test_an_audit_calls_python_per_value_only_for_the_few_texts_that_need_it(tmp_path, monkeypatch):
    """Loading, rules, text matching and the report work on whole columns: pandas' fallback of
    a string method to a Python call per value (a pattern RE2 reads otherwise, an extract) is
    reached only for the few texts Python's re must read (beyond ASCII) and the clinic-name
    candidates, never for a whole column such as a year's phone numbers."""
    from auditkit import load
    from auditkit.report import write_report
    from auditkit.sample import generate_sample

    generate_sample(tmp_path / "bundle", clients=350)  # about 10,000 appointments
    sizes: list[int] = []
    per_value = pd.arrays.ArrowStringArray._str_map

    def spied(self, *args, **kwargs):
        sizes.append(len(self))
        return per_value(self, *args, **kwargs)

    monkeypatch.setattr(pd.arrays.ArrowStringArray, "_str_map", spied)
    bundle = load(tmp_path / "bundle")
    write_report(audit(bundle), tmp_path / "out")

    assert len(bundle.appointments) > 9_000
    # A few dozen texts at a time, where a column as short as the clients' phone numbers has
    # 350 values. (None at all would mean the spy no longer sees pandas' fallback.)
    assert 0 < max(sizes) < len(bundle.clients) // 4


def test_a_rule_the_policy_leaves_unable_to_run_is_not_run_and_examines_nothing(
    tmp_path, monkeypatch
):
    bundle = sample(tmp_path)
    named = audit(bundle)  # the fixtures' policy names the clinic
    assert named.compliance.set_index("rule").loc["VM001"].tolist() == [2, 0, 1.0]
    assert named.unchecked == {} and named.caveats == []

    def never(_ctx):
        raise AssertionError("VM001 ran with nothing to listen for")

    monkeypatch.setitem(RULES, "VM001", replace(RULES["VM001"], check=never))
    unnamed = audit(bundle, policy=Policy())
    vm001 = unnamed.compliance.set_index("rule").loc["VM001"]
    assert vm001[["opportunities", "findings"]].tolist() == [0, 0]
    assert np.isnan(vm001["compliance"])  # no figure, where it used to pass every voicemail
    assert unnamed.unchecked == {"VM001": "the policy names no clinic (clinic.name in policy.toml)"}
    assert unnamed.caveats == [
        "No policy file: times written without an offset were read as clinic time in "
        "America/Los_Angeles, the built-in zone, and months and days are counted there. A "
        "clinic elsewhere names its zone in policy.toml ([clinic] timezone).",
        "VM001 not checked: the policy names no clinic (clinic.name in policy.toml).",
    ]
    assert (unnamed.opportunities["rule"] == "VM001").sum() == 0


def test_a_policy_file_naming_no_zone_says_the_built_in_zone_was_used(tmp_path):
    """Months, days and wall times were placed in the built-in zone as surely as with no
    policy file at all: a clinic in Chicago whose policy.toml forgot the zone must be told."""
    bundle = sample(tmp_path)
    unzoned = policy_from_dict({"clinic": {"name": "Riverside Clinic"}}, source="policy.toml")
    assert audit(bundle, policy=unzoned).caveats == [
        "The policy (policy.toml) names no time zone: times written without an offset were read "
        "as clinic time in America/Los_Angeles, the built-in zone, and months and days are "
        "counted there. A clinic elsewhere names its zone in policy.toml ([clinic] timezone).",
    ]
    zoned = {"clinic": {"name": "Riverside Clinic", "timezone": "America/Los_Angeles"}}
    assert audit(bundle, policy=policy_from_dict(zoned)).caveats == []


def test_a_month_with_no_records_says_so_and_where_the_records_are(tmp_path):
    bundle = sample(tmp_path)  # appointments, contacts and notes of March and April 2026
    for month in ("2027-01", "2025-12"):
        empty = audit(bundle, month=month)
        assert empty.caveats == [
            f"No records in {month}: nothing was examined. "
            "The bundle's records run from 2026-03 to 2026-04."
        ]
        assert empty.compliance["compliance"].isna().all()
    assert audit(bundle, month="2026-04").caveats == []
    assert audit(bundle).caveats == []  # every month: nothing to narrow to


def test_a_month_with_records_the_rules_do_not_examine_is_no_empty_month(tmp_path):
    attended = {"appointment_id": "A1", "scheduled_start": "2026-02-10T10:00:00-08:00"}
    bundle = build_bundle(
        tmp_path, appointments=[{**attended, "status": "attended"}], contacts=[], notes=[]
    )
    february = audit(bundle, month="2026-02")
    assert february.opportunities.empty
    headers_alone = [  # before any month's: the export itself is in doubt
        f"{table}.csv holds no records, only its header: the rules that look in it find "
        "nothing there. Check the export before reading their figures."
        for table in ("contacts", "notes")
    ]
    assert february.caveats == headers_alone  # the month has a record; each rule's n/a says why
    assert audit(bundle, month="2026-05").caveats == [
        *headers_alone,
        "No records in 2026-05: nothing was examined. The bundle's records are all from 2026-02.",
    ]


def test_a_month_of_a_bundle_with_no_records_says_the_bundle_holds_none(tmp_path):
    assert audit(build_bundle(tmp_path), month="2026-03").caveats == [
        *(
            f"{table}.csv holds no records, only its header: the rules that look in it find "
            "nothing there. Check the export before reading their figures."
            for table in ("appointments", "contacts", "notes")
        ),
        "No records in 2026-03: nothing was examined. The bundle holds no appointments, "
        "contacts, notes or calls.",
    ]
