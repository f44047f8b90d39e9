"""The sample generator: deterministic, realistic, and its ground truth exactly right.

The reference checks below re-derive each rule's violations from the written CSV files with
plain pandas and the generator's own vocabulary, independently of the loader and the rules
engine, so a generator mistake (a stray call in a window, a note in the wrong place) shows up
here as a difference from ground_truth.csv.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from auditkit.rules import RULES
from auditkit.sample import _VARIANTS, BROKEN_ROWS, INJECTION_RATE, generate_sample

TZ = "America/Los_Angeles"
FILES = [
    "staff.csv",
    "clients.csv",
    "appointments.csv",
    "contacts.csv",
    "notes.csv",
    "approvals.csv",
    "calls.csv",
    "ground_truth.csv",
    "policy.toml",
]
# Columns exactly as in the bundle format (issue 2).
COLUMNS = {
    "staff": ["staff_id", "first_name", "last_name", "role", "phone"],
    "clients": [
        "client_id", "first_name", "last_name", "phone", "intake_date", "may_name_clinic",
        "consent_recorded_at", "therapist_id",
    ],
    "appointments": [
        "appointment_id", "client_id", "staff_id", "scheduled_start", "duration_minutes",
        "service", "status",
    ],
    "contacts": [
        "contact_id", "client_id", "staff_id", "direction", "channel", "started_at",
        "duration_seconds", "party", "outcome", "purpose", "appointment_id", "message",
    ],
    "notes": ["note_id", "client_id", "staff_id", "appointment_id", "written_at", "text"],
    "approvals": [
        "approval_id", "kind", "client_id", "staff_id", "approved_by", "approved_at",
        "expires_at",
    ],
    "calls": [
        "call_id", "started_at", "direction", "from_number", "to_number", "client_id", "result",
        "duration_seconds", "source",
    ],
}  # fmt: skip

# The generator's vocabulary, as the reference checks read it.
FEE = re.compile(r"\bfee\b|charged?\b|\bbilled\b|paying", re.IGNORECASE)
CLINIC = re.compile(r"riverside|river side|riversid|r\.p\.c\.", re.IGNORECASE)
CLOSURE = re.compile(r"close (?:your|the) file", re.IGNORECASE)
COACHING = re.compile(r"coach|urges|skills|DEAR MAN|diary card", re.IGNORECASE)
NO_SHOW = re.compile(r"(?i:no-show|did not show|didn\S{1,3}t show)|\bNS\b|\bFTA\b|\bDNA\b")
OUTREACH = re.compile(r"called|\bLVM\b|\bLM\b|texted|emailed")
DATE = r"(?:\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]+ \d{1,2}, \d{4})"
NEXT_DATE = re.compile(rf"(?i:next appoint|next appointment|next appt)\D{{0,20}}{DATE}")
CONFIRM_DATE = re.compile(rf"confirm (?:by|the next appointment by) {DATE}|by {DATE} at 5")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate_sample(folder, clients=40, seed=7)
    return folder


def read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def times(column: pd.Series) -> pd.Series:
    """Parse the four timestamp forms the generator writes (offset, Z, naive local, US)."""
    aware = column.str.contains(r"(?:Z|[+-]\d\d:\d\d)$")
    naive = ~aware & (column != "")
    parts = [
        pd.to_datetime(column[aware], utc=True, format="ISO8601").dt.tz_convert(TZ),
        pd.to_datetime(column[naive], format="mixed").dt.tz_localize(TZ),
    ]
    return pd.concat([part.dt.as_unit("s") for part in parts]).reindex(column.index)


def truth_of(folder: Path, rule: str) -> set[str]:
    truth = read(folder, "ground_truth")
    return set(truth.loc[truth["rule"] == rule, "subject_id"])


def files_of(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


# --- the bundle ----------------------------------------------------------------------------------


def test_same_seed_writes_identical_bytes(bundle: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, clients=40, seed=7)
    assert files_of(tmp_path) == files_of(bundle)


def test_another_seed_writes_another_bundle(bundle: Path, tmp_path: Path) -> None:
    generate_sample(tmp_path, clients=40, seed=8)
    differing = [
        name for name, data in files_of(tmp_path).items() if data != files_of(bundle)[name]
    ]
    assert differing == FILES[1:-1]  # staff and the policy are the same clinic's


def test_tables_have_the_bundle_format_columns(bundle: Path) -> None:
    for table, columns in COLUMNS.items():
        assert list(read(bundle, table).columns) == columns, table
    assert list(read(bundle, "ground_truth").columns) == ["rule", "subject_id"]


def test_policy_file_holds_the_sample_policy(bundle: Path) -> None:
    policy = tomllib.loads((bundle / "policy.toml").read_text(encoding="utf-8"))
    assert policy == {
        "clinic": {
            "name": "Riverside Psychology Clinic",
            "aliases": ["Riverside Clinic", "RPC"],
            "timezone": "America/Los_Angeles",
        },
        "missed_session": {
            "wait_minutes": 20,
            "call_within_hours": 24,
            "note_within_hours": 48,
            "persistent_no_shows": 2,
            "lookback_days": 90,
        },
        "approvals": {"closure_warning": ["supervisor"], "phone_coaching": ["program_director"]},
    }


def test_staff_are_eight_trainees_two_supervisors_a_director_and_an_admin(bundle: Path) -> None:
    assert read(bundle, "staff")["role"].value_counts().to_dict() == {
        "therapist": 8,
        "supervisor": 2,
        "program_director": 1,
        "admin": 1,
    }


def test_no_show_rate_is_between_ten_and_twenty_percent(bundle: Path) -> None:
    status = (
        read(bundle, "appointments")["status"].str.lower().str.replace(r"[\s-]", "_", regex=True)
    )
    assert 0.10 <= (status == "no_show").mean() <= 0.20


def test_sessions_span_the_clinic_year_on_working_days_from_8_to_19(bundle: Path) -> None:
    appointments = read(bundle, "appointments")
    start = times(appointments["scheduled_start"])
    end = start + pd.to_timedelta(appointments["duration_minutes"].astype(int), unit="min")
    assert start.min() >= pd.Timestamp("2025-09-01", tz=TZ)
    assert start.max() <= pd.Timestamp("2026-09-01", tz=TZ)
    assert (start.dt.day_of_week < 5).all()
    assert (start.dt.hour >= 8).all() and (end.dt.hour * 60 + end.dt.minute <= 19 * 60).all()
    offsets = set(start.map(lambda t: t.utcoffset()))
    assert offsets == {pd.Timedelta(hours=-7), pd.Timedelta(hours=-8)}  # both sides of DST


def test_files_exercise_the_loader(bundle: Path) -> None:
    contacts = read(bundle, "contacts")
    started = contacts["started_at"]
    assert started.str.endswith("Z").any()
    assert started.str.match(r"^\d{4}-\d\d-\d\dT[\d:]{8}[+-]\d\d:\d\d$").mean() > 0.8
    assert started.str.match(r"^\d{4}-\d\d-\d\dT[\d:]{8}$").any()  # naive, clinic-local
    assert started.str.match(r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d [AP]M$").any()
    texts = pd.concat([contacts["message"], read(bundle, "notes")["text"]])
    assert texts.str.contains("\n").any()
    assert texts.str.contains("â€™").sum() >= 2
    assert {"No Show", "no-show"} <= set(read(bundle, "appointments")["status"])


# --- ground truth ---------------------------------------------------------------------------------


def test_the_generator_injects_violations_of_every_registered_rule() -> None:
    teach = "teach src/auditkit/sample.py the new rule's violation (INJECTION_RATE and _VARIANTS)"
    assert set(INJECTION_RATE) == set(RULES), teach
    assert set(_VARIANTS) == set(RULES), teach


def test_every_rule_is_violated_at_least_twice(bundle: Path) -> None:
    counts = read(bundle, "ground_truth")["rule"].value_counts()
    assert sorted(counts.index) == sorted(RULES)
    assert counts.min() >= 2


def test_ground_truth_is_sorted_unique_and_returned(bundle: Path, tmp_path: Path) -> None:
    returned = generate_sample(tmp_path, clients=40, seed=7)
    written = read(bundle, "ground_truth")
    pd.testing.assert_frame_equal(returned.astype(str), written)
    assert not written.duplicated().any()
    assert written.equals(written.sort_values(["rule", "subject_id"], ignore_index=True))


SUBJECT_TABLE = {"MS001": "appointments", "MS003": "appointments", "NT001": "appointments"}
SUBJECT_TABLE |= {"NT002": "notes", "LG001": "calls"}


def test_every_ground_truth_subject_exists_in_its_table(bundle: Path) -> None:
    truth = read(bundle, "ground_truth")
    for rule, subjects in truth.groupby("rule")["subject_id"]:
        table = SUBJECT_TABLE.get(rule, "contacts")
        ids = set(read(bundle, table).iloc[:, 0])
        assert set(subjects) <= ids, rule


def test_broken_rows_are_appended_and_change_nothing_else(bundle: Path, tmp_path: Path) -> None:
    truth = generate_sample(tmp_path, clients=40, seed=7, broken_rows=True)
    clean, broken = files_of(bundle), files_of(tmp_path)
    for table, extra in BROKEN_ROWS.items():
        assert broken[f"{table}.csv"].startswith(clean[f"{table}.csv"]), table
        assert len(read(tmp_path, table)) == len(read(bundle, table)) + extra, table
    assert broken["clients.csv"] == clean["clients.csv"]
    assert broken["calls.csv"] == clean["calls.csv"]
    assert broken["ground_truth.csv"] == clean["ground_truth.csv"]
    assert set(truth["subject_id"]).isdisjoint(read(tmp_path, "contacts")["contact_id"].iloc[-2:])
    assert sum(BROKEN_ROWS.values()) == 7


@pytest.mark.parametrize("seed", [1, 2])
def test_broken_rows_in_a_one_client_sample_are_each_set_aside(tmp_path: Path, seed: int) -> None:
    """A trainer's sample of one client may have no attended appointment nothing refers to: the
    broken rows are then made from its first appointment, and still only they are set aside."""
    from auditkit import load

    clean = generate_sample(tmp_path / "clean", clients=1, seed=seed)
    truth = generate_sample(tmp_path / "broken", clients=1, seed=seed, broken_rows=True)
    pd.testing.assert_frame_equal(truth, clean)
    for table, extra in BROKEN_ROWS.items():
        rows = len(read(tmp_path / "clean", table))
        assert len(read(tmp_path / "broken", table)) == rows + extra, table
    rejected = load(tmp_path / "broken").rejected
    assert rejected.groupby("file")["line"].nunique().to_dict() == {
        f"{table}.csv": extra for table, extra in BROKEN_ROWS.items()
    }


# --- reference checks: the ground truth is what each rule's definition finds ----------------------


class Reference:
    """Each rule of rules-semantics.md over the CSV files, in the generator's vocabulary."""

    def __init__(self, folder: Path) -> None:
        self.staff = read(folder, "staff")
        self.clients = read(folder, "clients")
        self.appointments = read(folder, "appointments")
        self.appointments["start"] = times(self.appointments["scheduled_start"])
        status = self.appointments["status"].str.lower().str.replace(r"[\s-]", "_", regex=True)
        self.no_shows = self.appointments[status == "no_show"]
        self.contacts = read(folder, "contacts")
        self.contacts["at"] = times(self.contacts["started_at"])
        self.notes = read(folder, "notes")
        self.notes["at"] = times(self.notes["written_at"])
        self.approvals = read(folder, "approvals")
        self.approvals["at"] = times(self.approvals["approved_at"])
        self.approvals["expires"] = times(self.approvals["expires_at"])
        self.phone_log = read(folder, "calls")
        self.phone_log["at"] = times(self.phone_log["started_at"])
        outbound = self.contacts["direction"] == "outbound"
        self.calls = self.contacts[outbound & (self.contacts["channel"] == "phone")]
        self.warnings = self.contacts[
            outbound
            & (self.contacts["party"] == "client")
            & self.contacts["message"].str.contains(CLOSURE)
        ]

    def after_no_shows(self, frame: pd.DataFrame, hours: int) -> pd.DataFrame:
        pairs = self.no_shows[["appointment_id", "client_id", "start"]].merge(
            frame.drop(columns="appointment_id", errors="ignore"), on="client_id"
        )
        delay = pairs["at"] - pairs["start"]
        return pairs[(delay >= pd.Timedelta(0)) & (delay <= pd.Timedelta(hours=hours))]

    def valid(self, kind: str, roles: list[str], events: pd.DataFrame) -> pd.Series:
        role = self.staff.set_index("staff_id")["role"]
        approvals = self.approvals[
            (self.approvals["kind"] == kind) & self.approvals["approved_by"].map(role).isin(roles)
        ]
        pairs = events.reset_index().merge(approvals, on="staff_id", suffixes=("", "_a"))
        ok = (
            ((pairs["client_id_a"] == "") | (pairs["client_id_a"] == pairs["client_id"]))
            & (pairs["at_a"] <= pairs["at"])
            & (pairs["expires"].isna() | (pairs["expires"] > pairs["at"]))
        )
        return events.index.isin(pairs.loc[ok, "index"])

    def documenting(self) -> pd.DataFrame:
        notes = self.notes.rename(columns={"appointment_id": "link"})
        pairs = self.after_no_shows(notes, 48)
        linked = pairs["link"] == pairs["appointment_id"]
        unlinked = (pairs["link"] == "") & pairs["text"].str.contains(NO_SHOW)
        pairs = pairs[linked | unlinked].assign(linked=linked)
        pairs = pairs.sort_values(["linked", "at"], ascending=[False, True])
        return pairs.drop_duplicates("appointment_id")

    def violations(self, rule: str) -> set[str]:
        window = self.after_no_shows(self.calls, 24)
        no_show_ids = set(self.no_shows["appointment_id"])
        if rule == "MS001":
            return no_show_ids - set(window["appointment_id"])
        if rule == "MS002":
            return set(
                window.loc[window["at"] - window["start"] < pd.Timedelta(minutes=20), "contact_id"]
            )
        if rule == "MS003":
            reached = window.groupby("appointment_id")["outcome"].agg(
                lambda o: (o != "no_answer").any()
            )
            return set(reached.index[~reached])
        voicemails = self.calls[self.calls["outcome"] == "voicemail"]
        if rule == "VM001":
            clients = self.clients.set_index("client_id")
            yes = clients["may_name_clinic"].str.lower().isin(["yes", "y", "true", "1"])
            recorded = times(clients["consent_recorded_at"])
            intake = pd.to_datetime(clients["intake_date"], format="mixed").dt.tz_localize(TZ)
            consent = recorded.fillna(intake.dt.as_unit("s")).where(yes)
            named = voicemails[voicemails["message"].str.contains(CLINIC)]
            consented = consent.reindex(named["client_id"]).to_numpy() <= named["at"].to_numpy()
            return set(named.loc[~consented, "contact_id"])
        if rule == "VM002":
            outreach = window[window["outcome"] == "voicemail"]
            return set(outreach.loc[~outreach["message"].str.contains(FEE), "contact_id"])
        if rule == "VM003":
            valid = self.valid("closure_warning", ["supervisor"], self.warnings)
            return set(self.warnings.loc[~valid, "contact_id"])
        if rule == "VM004":
            history = self.warnings.merge(
                self.no_shows[["client_id", "start"]], on="client_id", how="left"
            )
            recent = (history["start"] <= history["at"]) & (
                history["start"] >= history["at"] - pd.Timedelta(days=90)
            )
            counts = recent.groupby(history["contact_id"]).sum()
            return set(counts.index[counts < 2])
        documenting = self.documenting()
        if rule == "NT001":
            return no_show_ids - set(documenting["appointment_id"])
        if rule == "NT002":
            warned = set(self.after_no_shows(self.warnings, 24)["appointment_id"])
            text = documenting["text"]
            lacking = (
                ~text.str.contains(NO_SHOW)
                | ~text.str.contains(OUTREACH)
                | ~text.str.contains(FEE)
                | ~text.str.contains(NEXT_DATE)
                | (documenting["appointment_id"].isin(warned) & ~text.str.contains(CONFIRM_DATE))
            )
            return set(documenting.loc[lacking, "note_id"])
        if rule == "TP001":
            answered = self.calls[self.calls["party"] == "third_party"]
            script = answered["message"].str.contains("no message") & ~answered[
                "message"
            ].str.contains(r"\d{4}|therapist|Riverside|appointment")
            return set(answered.loc[~script, "contact_id"])
        if rule == "IQ001":
            inquiries = self.contacts[
                (self.contacts["direction"] == "inbound")
                & (self.contacts["party"] == "third_party")
                & (self.contacts["purpose"] == "inquiry")
            ]
            ncnd = inquiries["message"].str.contains("cannot confirm that someone is or is not")
            disclosed = inquiries["message"].str.contains("doing better")
            return set(inquiries.loc[~ncnd | disclosed, "contact_id"])
        if rule == "PC001":
            phone = self.contacts[
                (self.contacts["channel"] == "phone") & (self.contacts["party"] == "client")
            ]
            beyond = phone["purpose"].isin(["coaching", "other"]) | phone["message"].str.contains(
                COACHING
            )
            phone = phone[beyond]
            valid = self.valid("phone_coaching", ["program_director"], phone)
            return set(phone.loc[~valid, "contact_id"])
        if rule in ("LG001", "LG002"):
            return self.log_discrepancies(rule)
        raise ValueError(rule)

    def log_discrepancies(self, rule: str) -> set[str]:
        """LG001/LG002 by their definition: a call and a logged phone contact of one of its
        clients (the client_id, else every client with that number) in the same direction, at
        most 10 minutes apart, are one call; the log is compared only over the calls' span."""
        digits = self.clients["phone"].str.replace(r"\D", "", regex=True).str[-10:]
        log = self.phone_log
        outbound = log["direction"] == "outbound"
        dialled = log["to_number"].where(outbound, log["from_number"])
        by_number = log.assign(digits=dialled.str.replace(r"\D", "", regex=True).str[-10:])
        by_number = by_number[by_number["client_id"] == ""].drop(columns="client_id")
        by_number = by_number.merge(self.clients.assign(digits=digits)[["digits", "client_id"]])
        calls = pd.concat([log[log["client_id"] != ""], by_number])
        phone = self.contacts[self.contacts["channel"] == "phone"]
        pairs = calls.merge(phone, on=["client_id", "direction"], suffixes=("", "_log"))
        near = (pairs["at"] - pairs["at_log"]).abs() <= pd.Timedelta(minutes=10)
        if rule == "LG001":
            return set(calls["call_id"]) - set(pairs.loc[near, "call_id"])
        window = pd.Timedelta(minutes=10)
        covered = phone["at"].between(log["at"].min() - window, log["at"].max() + window)
        return set(phone.loc[covered, "contact_id"]) - set(pairs.loc[near, "contact_id"])


@pytest.fixture(scope="module")
def reference(bundle: Path) -> Reference:
    return Reference(bundle)


@pytest.mark.parametrize("rule", list(RULES))
def test_ground_truth_matches_the_rule_definition(
    bundle: Path, reference: Reference, rule: str
) -> None:
    assert reference.violations(rule) == truth_of(bundle, rule)


def test_compliant_outreach_voicemails_state_the_fee(bundle: Path, reference: Reference) -> None:
    window = reference.after_no_shows(reference.calls, 24)
    voicemails = window[window["outcome"] == "voicemail"]
    compliant = voicemails[~voicemails["contact_id"].isin(truth_of(bundle, "VM002"))]
    assert len(compliant) > 50
    assert compliant["message"].str.contains(FEE).all()


def test_voicemails_name_the_clinic_in_varied_spellings(bundle: Path, reference: Reference) -> None:
    named = reference.contacts.set_index("contact_id").loc[sorted(truth_of(bundle, "VM001"))]
    spellings = named["message"].str.extract(r"(?:from|at) (.+?)\.(?:\s|$)", expand=False)
    assert set(spellings) == {
        "Riverside Psychology Clinic",
        "riverside psychology clinic",
        "R.P.C",
        "River side Psychology Clinic",
        "Riversid Psychology Clinic",
        "Riverside Clinic",
    }


def test_some_named_voicemails_came_before_a_consent_given_later(
    bundle: Path, reference: Reference
) -> None:
    named = reference.contacts.set_index("contact_id").loc[sorted(truth_of(bundle, "VM001"))]
    consent = times(reference.clients.set_index("client_id")["consent_recorded_at"])
    later = consent.reindex(named["client_id"]).to_numpy() > named["at"].to_numpy()
    assert later.sum() >= 1


def test_missed_session_notes_mix_sentences_shorthand_and_unlinked(reference: Reference) -> None:
    documenting = reference.documenting()
    assert 0.15 <= (documenting["link"] == "").mean() <= 0.35
    text = documenting["text"]
    assert text.str.contains("Client did not show|Therapist called client").any()
    for shorthand in ("FTA", "NS", "DNA", "LVM", "LM", "pt", "T", "appt", "f/u", "Next appoint"):
        assert text.str.contains(rf"\b{re.escape(shorthand)}\b").any(), shorthand


def test_client_numbers_spread_over_area_codes_as_the_clinic_grows() -> None:
    from auditkit.sample import _area_codes

    assert _area_codes(40) == ["805", "818", "747"]  # the shipped sample's numbers, unchanged
    assert _area_codes(300) == ["805", "818", "747"]
    codes = _area_codes(34_500)  # a million appointments' clients: about one number each
    assert len(codes) == 345 == len(set(codes))
    assert codes[3:6] == ["201", "202", "203"]
    assert not [code for code in codes if code.endswith("11")]
    assert len(_area_codes(10**7)) == 781  # every area code there is, then numbers are shared


# --- the command line: a folder it must not write into ------------------------------------------


def test_sample_into_a_folder_of_other_files_is_refused(tmp_path, capsys) -> None:
    """A real bundle (no ground_truth.csv) named by mistake is never overwritten."""
    from auditkit.cli import main

    (tmp_path / "clients.csv").write_text("client_id\nC1\n", encoding="utf-8")

    assert main(["sample", str(tmp_path), "--clients", "3"]) == 2

    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: The sample folder {tmp_path} already holds files and is not an earlier "
        "sample (it has no ground_truth.csv): the sample's tables would replace any of the same "
        "name. Name a new or empty folder."
    )
    assert [p.name for p in tmp_path.iterdir()] == ["clients.csv"]
    assert (tmp_path / "clients.csv").read_text(encoding="utf-8") == "client_id\nC1\n"


def test_sample_over_an_earlier_sample_rewrites_it(tmp_path) -> None:
    generate_sample(tmp_path, clients=3, seed=1)
    generate_sample(tmp_path, clients=3, seed=2)
    assert (tmp_path / "ground_truth.csv").is_file()


def test_sample_into_a_file_exits_2(tmp_path, capsys) -> None:
    from auditkit.cli import main

    target = tmp_path / "bundle.csv"
    target.write_text("kept\n", encoding="utf-8")

    assert main(["sample", str(target)]) == 2

    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: The sample folder {target} is a file, not a folder. Name a folder."
    )
    assert target.read_text(encoding="utf-8") == "kept\n"


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--clients", "0", "must be a whole number of at least 1, not '0'"),
        ("--seed", "-1", "must be a whole number of 0 or more, not '-1'"),
    ],
)
def test_sample_numbers_out_of_range_are_usage_errors(tmp_path, capsys, option, value, words):
    from auditkit.cli import main

    assert main(["sample", str(tmp_path / "s"), f"{option}={value}"]) == 2

    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"auditkit sample: error: argument {option}: {words}"
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()
