"""De-identified research extracts: nothing identifying survives, the calendar moves, the rest
holds, and only the key file links an extract back to the clinic's records.

The source is a generated clinic year made easy to scan: every id carries '-REAL-' (C-REAL-0001)
and every name is wrapped (Mira -> QzMirayx), so no original can hide as a substring of
something else and a byte search for it means what it says. Hand-written contacts and a note
put names and phone numbers into free text and into an extra export column.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE

from auditkit import Bundle, load
from auditkit.deidentify import deidentify, shift_wall_clock, text_scrubber
from auditkit.errors import AuditkitError
from auditkit.sample import generate_sample
from auditkit.schemas import TABLES

TZ = "America/Los_Angeles"
EXTRACT_FILES = [
    "appointments.csv",
    "approvals.csv",
    "clients.csv",
    "contacts.csv",
    "extract.json",
    "notes.csv",
    "policy.toml",
    "staff.csv",
]
HAND_CONTACTS = [
    (
        "CT-REAL-999001",
        "Hi {first}, this is {staff_first} {staff_last} at Riverside Clinic. Call me at {phone} or "
        "{dotted} before 3/14 at 2pm.",
        "Hi [name], this is [name] [name] at [clinic]. Call me at [phone] or [phone] before [date] "
        "at [time].",
    ),
    (
        "CT-REAL-999002",
        "{FIRST} {last}'s mother called from {digits}; I can't confirm or deny. Next appt "
        "Tuesday, March 17th, 2026.",
        "[name] [name]'s mother called from [phone]; I can't confirm or deny. Next appt "
        "Tuesday, [date].",
    ),
]
HAND_NOTE = (
    "N-REAL-999001",
    "Pt {first} {last} NS; T called {phone} from R.P.C. on 2026-03-02 at 13:05 and LVM.",
    "Pt [name] [name] NS; T called [phone] from [clinic] on [date] at [time] and LVM.",
)


def id_columns(name: str) -> list[str]:
    spec = TABLES[name]
    return [spec.id_column] + [c.name for c in spec.columns if c.references]


def timestamp_columns(name: str) -> list[str]:
    return [c.name for c in TABLES[name].columns if c.kind == "timestamp"]


def write_source(folder: Path) -> None:
    """A generated bundle with distinctive ids and names, hand-written identifying text, an
    extra export column and one row the loader will set aside. Every table file the generator
    writes is rewritten alike, a phone-system call log too if there is one."""
    generate_sample(folder, clients=10, seed=3)
    (folder / "ground_truth.csv").unlink()
    frames = {
        path.stem: pd.read_csv(path, dtype=str, keep_default_na=False)
        for path in folder.glob("*.csv")
    }
    for frame in frames.values():
        for column in [c for c in frame.columns if c.endswith("_id") or c == "approved_by"]:
            frame[column] = frame[column].str.replace(r"^([A-Z]+)(\d+)$", r"\1-REAL-\2", regex=True)
    words = pd.concat(
        [frames[t][c] for t in ("clients", "staff") for c in ("first_name", "last_name")]
    )
    names = re.compile(r"\b(" + "|".join(sorted(set(words), key=len, reverse=True)) + r")\b")
    for frame in frames.values():
        for column in frame.columns:
            frame[column] = frame[column].str.replace(names, r"Qz\1yx", regex=True)

    client, staff = frames["clients"].iloc[0], frames["staff"].iloc[0]
    phone = client["phone"]
    digits = re.sub(r"\D", "", phone)
    fields = {
        "first": client["first_name"],
        "FIRST": client["first_name"].upper(),
        "last": client["last_name"],
        "staff_first": staff["first_name"],
        "staff_last": staff["last_name"],
        "phone": phone,
        "dotted": f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
        "digits": digits,
    }
    contact = {
        "client_id": client["client_id"],
        "staff_id": staff["staff_id"],
        "direction": "outbound",
        "channel": "phone",
        "started_at": "2026-03-10T10:00:00-07:00",
        "party": "client",
        "outcome": "voicemail",
        "purpose": "scheduling",
    }
    hand = pd.DataFrame(
        [
            {**contact, "contact_id": cid, "message": text.format(**fields)}
            for cid, text, _ in HAND_CONTACTS
        ]
    )
    hand["caller_name"] = f"{fields['first']} {fields['last']}"
    frames["contacts"] = pd.concat([frames["contacts"], hand], ignore_index=True).fillna("")
    note_id, text, _ = HAND_NOTE
    note = {
        "note_id": note_id,
        "client_id": client["client_id"],
        "staff_id": staff["staff_id"],
        "written_at": "2026-03-10T11:00:00-07:00",
        "text": text.format(**fields),
    }
    frames["notes"] = pd.concat([frames["notes"], pd.DataFrame([note])]).fillna("")
    broken = {**frames["appointments"].iloc[0], "appointment_id": "A-REAL-999999"}
    broken["status"] = "perhaps"  # not a status: set aside, and so never in an extract
    frames["appointments"] = pd.concat([frames["appointments"], pd.DataFrame([broken])])
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    folder = tmp_path_factory.mktemp("real") / "bundle"
    write_source(folder)
    return load(folder)


@pytest.fixture(scope="module")
def runs(source: Bundle, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Two extracts of the same source, each with its own key: plain (default key place) and
    with scrubbed text (a chosen key file)."""
    base = tmp_path_factory.mktemp("extracts")
    made = {
        "plain": deidentify(source, base / "plain"),
        "scrubbed": deidentify(
            source, base / "scrubbed", key_file=base / "keys" / "k.csv", scrubbed_text=True
        ),
    }
    return {
        mode: {
            "extract": extract,
            "bundle": load(extract.folder),
            "key": pd.read_csv(extract.key_file, dtype={"real_id": str, "surrogate_id": str}),
        }
        for mode, extract in made.items()
    }


def needles(source: Bundle) -> dict[str, set[str]]:
    """Every original id (kept or set aside), name word and phone number, in every form."""
    ids = {
        value
        for name, frame in source.tables.items()
        for column in id_columns(name)
        for value in frame[column].dropna()
    } | {r for r in source.rejected["record_id"] if r}
    names = pd.concat(
        [source.tables[t][c] for t in ("clients", "staff") for c in ("first_name", "last_name")]
    )
    phones = source.clients["phone"]
    digits = phones.str.replace(r"\D", "", regex=True)
    return {
        "ids": ids,
        "names": set(names),
        "phones": set(phones) | set(digits) | set(phones.str[-8:]),
    }


def real_view(run: dict) -> dict[str, pd.DataFrame]:
    """The extract's tables with every surrogate id mapped back through the key file."""
    key = run["key"]
    back = {t: g.set_index("surrogate_id")["real_id"] for t, g in key.groupby("table")}
    view = {}
    for name, frame in run["bundle"].tables.items():
        frame = frame.drop(columns="source_line")
        spec = TABLES[name]
        frame[spec.id_column] = frame[spec.id_column].map(back[name])
        for column in spec.columns:
            if column.references:
                frame[column.name] = frame[column.name].map(back[column.references])
        view[name] = frame.sort_values(spec.id_column, ignore_index=True)
    return view


def weeks_of(run: dict, table: str) -> pd.Series:
    key = run["key"][run["key"]["table"] == table]
    return key.set_index("real_id")["date_shift_weeks"].astype("int64")


def row_weeks(run: dict, frame: pd.DataFrame) -> pd.Series:
    """The shift each source row should have had: its client's, else its staff member's."""
    if "client_id" not in frame:
        return frame["staff_id"].map(weeks_of(run, "staff"))
    by_client = frame["client_id"].map(weeks_of(run, "clients"))
    if "staff_id" in frame:
        by_client = by_client.fillna(frame["staff_id"].map(weeks_of(run, "staff")))
    return by_client.astype("int64")


def events(source: Bundle, run: dict) -> pd.DataFrame:
    """Every timestamp of every client: real and shifted, one row each."""
    shifted = real_view(run)
    rows = []
    for name, frame in source.tables.items():
        id_column = TABLES[name].id_column
        if "client_id" not in frame:
            continue
        merged = frame.merge(shifted[name], on=id_column, suffixes=("", "_shifted"))
        owned = merged[merged["client_id"].notna()]
        for column in timestamp_columns(name):
            part = owned[["client_id", column, f"{column}_shifted"]].dropna()
            part.columns = ["client_id", "real", "shifted"]
            rows.append(part.assign(where=f"{name}.{column}"))
    return pd.concat(rows, ignore_index=True)


# --- nothing identifying survives --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "scrubbed"])
def test_no_original_id_name_or_phone_survives_anywhere_in_the_extract(source, runs, mode):
    folder = runs[mode]["extract"].folder
    assert sorted(p.name for p in folder.iterdir()) == EXTRACT_FILES
    found = needles(source)
    raw = b"".join((source.path / f).read_bytes() for f in ("contacts.csv", "notes.csv"))
    # The premise: the source holds them all, in free text and in the extra column too.
    client = source.clients.iloc[0]
    digits = re.sub(r"\D", "", client["phone"])
    assert f"{client['first_name']} {client['last_name']}".encode() in raw
    assert f"{digits[:3]}.{digits[3:6]}.{digits[6:]}".encode() in raw and b"-REAL-" in raw
    assert b"Riverside Clinic" in raw and b"R.P.C." in raw
    assert {*runs[mode]["key"]["real_id"], "A-REAL-999999"} <= found["ids"]
    assert len(found["names"]) > 30 and len(found["phones"]) > 20
    found = sorted(set().union(*found.values()))
    for path in folder.iterdir():
        data = path.read_bytes().lower()
        assert b"-real-" not in data, path.name
        assert b"riverside" not in data and b"r.p.c" not in data, path.name
        survivors = [n for n in found if n.lower().encode() in data]
        assert survivors == [], f"{path.name} holds {survivors[:5]}"


def test_extra_export_columns_and_set_aside_rows_are_left_out(source, runs):
    assert "caller_name" in source.contacts
    assert "A-REAL-999999" in set(source.rejected["record_id"])
    record = json.loads((runs["plain"]["extract"].folder / "extract.json").read_text())
    assert record["removed_export_columns"] == {"contacts": ["caller_name"]}
    assert runs["plain"]["extract"].rows["appointments"] == len(source.appointments)


# --- the extract is a bundle -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "scrubbed"])
def test_extract_loads_as_a_bundle_with_no_row_rejected(source, runs, mode):
    bundle = runs[mode]["bundle"]
    assert len(bundle.rejected) == 0
    assert bundle.coverage["rejected"].tolist() == [0] * 6
    assert {n: len(f) for n, f in bundle.tables.items()} == {
        n: len(f) for n, f in source.tables.items()
    }
    assert runs[mode]["extract"].rows == {n: len(f) for n, f in source.tables.items()}
    columns = {n: [c for c in f.columns if c != "source_line"] for n, f in bundle.tables.items()}
    scrubbed = mode == "scrubbed"
    assert columns == {
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
        ] + ["message_scrubbed"] * scrubbed,
        "notes": ["note_id", "client_id", "staff_id", "appointment_id", "written_at", "text"]
        + ["text_scrubbed"] * scrubbed,
        "approvals": [
            "approval_id", "kind", "client_id", "staff_id", "approved_by", "approved_at",
            "expires_at",
        ],
    }  # fmt: skip
    # The loader adds the removed optional columns back, empty.
    for name, column in [("staff", "last_name"), ("clients", "phone"), ("contacts", "message")]:
        assert bundle.tables[name][column].isna().all()
    assert (bundle.notes["text"] == "[removed]").all()
    assert bundle.policy.clinic.timezone == TZ and bundle.policy.clinic.name == ""


def test_timestamps_are_written_iso_8601_with_the_clinic_offset(runs):
    written = pd.read_csv(runs["plain"]["extract"].folder / "contacts.csv", dtype=str)
    iso = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"
    assert written["started_at"].str.fullmatch(iso).all()
    assert set(written["started_at"].str[-6:]) == {"-07:00", "-08:00"}


def test_extract_json_records_a_date_shifted_limited_data_set(runs):
    extract = runs["plain"]["extract"]
    text = (extract.folder / "extract.json").read_text()
    record = json.loads(text)
    assert record["date_shifted"] is True
    assert "limited data set, not Safe Harbor" in record["hipaa"]
    assert "dates are shifted, not removed" in record["hipaa"]
    assert record["auditkit_version"] == version("auditkit")
    created = dt.date.fromisoformat(record["created"])
    assert abs(created - dt.date.today()) <= dt.timedelta(days=1)
    assert record["removed"] == {
        "staff": ["first_name", "last_name", "phone"],
        "clients": ["first_name", "last_name", "phone"],
        "contacts": ["message"],
        "notes": ["text"],
    }
    assert record["kept"]["clients"] == [
        "client_id", "intake_date", "may_name_clinic", "consent_recorded_at", "therapist_id",
    ]  # fmt: skip
    assert record["scrubbed_text"] is False
    assert extract.key_file.name not in text and str(extract.key_file.parent) not in text
    assert "Riverside" not in (extract.folder / "policy.toml").read_text()


def test_the_extract_policy_keeps_the_time_zone_and_rule_settings_only(source, runs):
    policy = runs["plain"]["bundle"].policy
    assert source.policy.clinic.name == "Riverside Psychology Clinic"
    assert (policy.clinic.name, policy.clinic.aliases, policy.phrases) == ("", (), {})
    assert policy.clinic.timezone == source.policy.clinic.timezone
    assert policy.missed_session == source.policy.missed_session
    assert policy.approvals == source.policy.approvals


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "scrubbed"])
def test_every_event_keeps_its_weekday_and_time_of_day(source, runs, mode):
    found = events(source, runs[mode])
    weeks = found["client_id"].map(weeks_of(runs[mode], "clients"))
    assert weeks.abs().between(1, 26).all()
    assert len(found) > 700 and found["where"].nunique() == 7
    # The premise of exact equality: no event falls in the hour a clock skips.
    target = found["real"].dt.tz_localize(None) + pd.to_timedelta(7 * weeks, unit="D")
    assert target.dt.tz_localize(TZ, ambiguous="NaT", nonexistent="NaT").notna().all()
    assert (found["shifted"].dt.day_of_week == found["real"].dt.day_of_week).all()
    assert (found["shifted"].dt.time == found["real"].dt.time).all()
    assert (found["shifted"].dt.tz_localize(None) == target).all()
    # Some shifts cross a daylight-saving change: the offset differs, the wall clock doesn't.
    offsets = found["shifted"].map(pd.Timestamp.utcoffset) != found["real"].map(
        pd.Timestamp.utcoffset
    )
    assert offsets.any()


def test_intervals_between_a_clients_events_are_kept(source, runs):
    found = events(source, runs["plain"]).sort_values(["client_id", "real"], kind="stable")
    found["real_wall"] = found["real"].dt.tz_localize(None)
    found["shifted_wall"] = found["shifted"].dt.tz_localize(None)
    by_client = found.groupby("client_id")
    real_wall, shifted_wall = by_client["real_wall"].diff(), by_client["shifted_wall"].diff()
    assert real_wall.notna().sum() == len(found) - len(source.clients) > 700
    assert real_wall.equals(shifted_wall)
    # Elapsed time differs only by the clock changes each pair straddles: the real pair's
    # change in UTC offset, less the shifted pair's (0, 1 or 2 hours).
    for column in ("real", "shifted"):
        found[f"{column}_offset"] = found[column].map(pd.Timestamp.utcoffset)
    by_client = found.groupby("client_id")
    elapsed = by_client["shifted"].diff() - by_client["real"].diff()
    clocks = by_client["real_offset"].diff() - by_client["shifted_offset"].diff()
    assert elapsed.equals(clocks)
    assert set(elapsed.dropna().abs()) <= {pd.Timedelta(hours=h) for h in (0, 1, 2)}


@pytest.mark.parametrize(
    ("real", "weeks", "shifted"),
    [
        # Tuesday 10:00 before the November change, a week later: still Tuesday 10:00.
        ("2025-10-28T10:00:00-07:00", 1, "2025-11-04T10:00:00-08:00"),
        ("2025-11-04T10:00:00-08:00", -1, "2025-10-28T10:00:00-07:00"),
        # Across the March change, 26 weeks on.
        ("2025-09-02T18:30:00-07:00", 26, "2026-03-03T18:30:00-08:00"),
        # Into the repeated hour: its first, daylight-saving occurrence.
        ("2026-10-25T01:30:00-07:00", 1, "2026-11-01T01:30:00-07:00"),
        # Into the skipped hour: an hour forward, the one wall time that can't be kept.
        ("2026-03-01T02:30:00-08:00", 1, "2026-03-08T03:30:00-07:00"),
    ],
)
def test_shifting_across_daylight_saving_keeps_the_wall_clock(real, weeks, shifted):
    times = pd.Series(pd.to_datetime([real], format="ISO8601")).dt.tz_convert(TZ)
    moved = shift_wall_clock(times, pd.Series([weeks]))
    assert moved[0] == pd.Timestamp(shifted)
    assert moved[0].utcoffset() == pd.Timestamp(shifted).utcoffset()


def test_approvals_move_with_their_client_and_blanket_ones_with_their_staff_member(source, runs):
    run = runs["scrubbed"]
    approvals = source.approvals.merge(
        real_view(run)["approvals"], on="approval_id", suffixes=("", "_shifted")
    )
    blanket = approvals["client_id"].isna()
    assert blanket.any() and (~blanket).any()
    weeks = row_weeks(run, approvals)
    assert weeks[blanket].equals(approvals.loc[blanket, "staff_id"].map(weeks_of(run, "staff")))
    for column in ("approved_at", "expires_at"):
        expected = shift_wall_clock(approvals[column], weeks)
        assert approvals[f"{column}_shifted"].equals(expected)


# --- ids and the key ------------------------------------------------------------------------------


def test_two_extracts_share_no_surrogate_and_map_every_record_differently(runs):
    plain, scrubbed = runs["plain"]["key"], runs["scrubbed"]["key"]
    assert set(plain["surrogate_id"]).isdisjoint(scrubbed["surrogate_id"])
    both = plain.merge(scrubbed, on=["table", "real_id"], suffixes=("_1", "_2"))
    assert len(both) == len(plain) == len(scrubbed)
    assert (both["surrogate_id_1"] != both["surrogate_id_2"]).all()
    clients = both[both["table"] == "clients"]
    assert (clients["date_shift_weeks_1"] != clients["date_shift_weeks_2"]).any()
    # Row order carries nothing either: rows are in surrogate order, random in each extract.
    for run in runs.values():
        appointments = run["bundle"].appointments["appointment_id"]
        assert appointments.is_monotonic_increasing


def test_surrogate_ids_have_their_table_prefix_and_48_random_bits(runs):
    key = runs["plain"]["key"]
    prefix = key["table"].map(
        {
            "staff": "staff",
            "clients": "client",
            "appointments": "appt",
            "contacts": "contact",
            "notes": "note",
            "approvals": "approval",
        }
    )
    assert (key["surrogate_id"].str.extract(r"^([a-z]+)-[0-9a-f]{12}$")[0] == prefix).all()
    assert key["surrogate_id"].is_unique
    assert key.loc[key["table"].isin(["clients", "staff"]), "date_shift_weeks"].notna().all()
    assert key.loc[~key["table"].isin(["clients", "staff"]), "date_shift_weeks"].isna().all()


@pytest.mark.parametrize("mode", ["plain", "scrubbed"])
def test_the_key_file_inverts_the_extract_exactly(source, runs, mode):
    run = runs[mode]
    view = real_view(run)
    for name, original in source.tables.items():
        spec = TABLES[name]
        columns = [c.name for c in spec.columns]
        original = original[columns].sort_values(spec.id_column, ignore_index=True)
        restored = view[name][columns].copy()
        weeks = row_weeks(run, restored)
        for column in timestamp_columns(name):
            restored[column] = shift_wall_clock(restored[column], -weeks)
        kept = [c for c in columns if c not in ("first_name", "last_name", "phone", "message")]
        kept = [c for c in kept if not (name == "notes" and c == "text")]
        if name == "appointments":  # a service fewer than 11 clients use is written as 'other'
            users = original.groupby("service")["client_id"].nunique()
            rare = original["service"].isin(users.index[users < 11])
            original["service"] = original["service"].mask(rare, "other")
        pd.testing.assert_frame_equal(restored[kept], original[kept], check_dtype=False)


def test_default_key_file_is_beside_the_extract_and_a_chosen_one_is_used(runs):
    plain, scrubbed = runs["plain"]["extract"], runs["scrubbed"]["extract"]
    assert plain.key_file == plain.folder.parent / "plain.key.csv"
    assert scrubbed.key_file == scrubbed.folder.parent / "keys" / "k.csv"
    for extract in (plain, scrubbed):
        assert extract.key_file.is_file() and not extract.key_file.is_relative_to(extract.folder)
        header = extract.key_file.read_text().splitlines()[0]
        assert header == "table,real_id,surrogate_id,date_shift_weeks"


@pytest.mark.parametrize(
    "key", ["extract/key.csv", "extract/deeper/key.csv", "extract/../extract/k"]
)
def test_a_key_file_inside_the_extract_is_refused_before_anything_is_written(source, tmp_path, key):
    with pytest.raises(AuditkitError, match="inside the extract folder"):
        deidentify(source, tmp_path / "extract", key_file=tmp_path / key)
    assert list(tmp_path.iterdir()) == []


def test_the_bundle_itself_or_a_folder_of_other_files_is_refused(source, tmp_path):
    with pytest.raises(AuditkitError, match="is the bundle itself"):
        deidentify(source, source.path, key_file=tmp_path / "k.csv")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not an extract")
    with pytest.raises(AuditkitError, match="not an earlier extract"):
        deidentify(source, other)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["notes.txt", "other"]


def test_an_extract_inside_the_bundle_is_refused_before_anything_is_written(source, tmp_path):
    before = sorted(p.name for p in source.path.rglob("*"))
    with pytest.raises(AuditkitError) as refused:
        deidentify(source, source.path / "extract", key_file=tmp_path / "k.csv")
    assert str(refused.value) == (
        f"The extract folder {(source.path / 'extract').resolve()} is inside the bundle "
        f"{source.path}: the extract, and its key beside it, would travel with the clinic's "
        "records wherever the bundle is copied. Choose a folder outside the bundle."
    )
    assert sorted(p.name for p in source.path.rglob("*")) == before
    assert list(tmp_path.iterdir()) == []


def test_a_key_file_that_would_replace_another_file_is_refused(tmp_path, capsys):
    """A key file named by mistake after a bundle table (or any other file) would overwrite it."""
    from auditkit.cli import main

    bundle = shutil.copytree(SAMPLE, tmp_path / "b")
    before = (bundle / "clients.csv").read_bytes()
    key, out = bundle / "clients.csv", tmp_path / "extract"

    assert main(["deidentify", str(bundle), "--out", str(out), "--key-file", str(key)]) == 2

    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: The key file {key} already exists and is not an earlier auditkit key: "
        "writing the key would replace it. Name a new file for the key."
    )
    assert (bundle / "clients.csv").read_bytes() == before
    assert not out.exists()


def test_a_key_file_that_is_a_folder_is_refused(source, tmp_path):
    with pytest.raises(AuditkitError) as caught:
        deidentify(source, tmp_path / "extract", key_file=tmp_path)
    assert str(caught.value) == (
        f"The key file {tmp_path} is a folder. Name a file for the key, such as "
        f"{tmp_path / 'extract.key.csv'}."
    )


def test_an_earlier_extract_holding_other_files_is_refused_before_anything_is_written(
    source, tmp_path
):
    earlier = deidentify(source, tmp_path / "extract", key_file=tmp_path / "k.csv")
    (earlier.folder / "real_clients.csv").write_text("client_id,name\n")
    (earlier.folder / "old.key.csv").write_text("table,real_id,surrogate_id,date_shift_weeks\n")
    (earlier.folder / ".notes.csv.x1y2.tmp").write_text("a write cut short, another extract's ids")
    before = {p.name: p.read_bytes() for p in earlier.folder.iterdir()}
    with pytest.raises(AuditkitError) as refused:
        deidentify(source, earlier.folder, key_file=tmp_path / "k2.csv")
    assert str(refused.value) == (
        f"The extract folder {earlier.folder} is an earlier extract, but also holds what an "
        "extract does not: .notes.csv.x1y2.tmp, old.key.csv, real_clients.csv. Everything in it "
        "would reach the "
        "researcher: move those out, or choose a new or empty folder."
    )
    assert {p.name: p.read_bytes() for p in earlier.folder.iterdir()} == before
    assert not (tmp_path / "k2.csv").exists()


def test_a_key_file_inside_another_extract_is_refused(source, tmp_path):
    other = deidentify(source, tmp_path / "other", key_file=tmp_path / "k.csv")
    (other.folder / "keys").mkdir()
    key = other.folder / "keys" / "new.key.csv"
    with pytest.raises(AuditkitError) as refused:
        deidentify(source, tmp_path / "extract", key_file=key)
    assert str(refused.value) == (
        f"The key file {key} would be inside {other.folder}, an extract folder (it holds "
        "extract.json): the key must never reach a researcher. Choose a key file outside every "
        "extract."
    )
    assert not (tmp_path / "extract").exists()


def test_an_extract_is_not_de_identified_again(runs, tmp_path):
    """Its dates would be shifted twice, and its key would lead only to the first surrogates."""
    extract = runs["plain"]["bundle"]
    with pytest.raises(AuditkitError) as refused:
        deidentify(extract, tmp_path / "again", key_file=tmp_path / "k.csv")
    assert str(refused.value) == (
        f"{extract.path} is already a de-identified extract (extract.json): made again, every "
        "client's dates would be shifted a second time, and its key would lead back only to the "
        "first extract's surrogates. Make the extract from the clinic's bundle."
    )
    assert not (tmp_path / "again").exists() and not (tmp_path / "k.csv").exists()


def test_an_earlier_key_file_is_replaced(source, tmp_path):
    first = deidentify(source, tmp_path / "extract", key_file=tmp_path / "k.csv")
    second = deidentify(source, tmp_path / "extract", key_file=tmp_path / "k.csv")
    assert second.key_file == first.key_file
    assert set(pd.read_csv(second.key_file)["surrogate_id"]) >= set(
        load(second.folder).clients["client_id"]
    )


def test_an_earlier_extract_is_replaced_with_new_ids(source, tmp_path):
    first = deidentify(source, tmp_path / "extract")
    before = pd.read_csv(first.key_file)["surrogate_id"]
    second = deidentify(source, tmp_path / "extract")
    after = pd.read_csv(second.key_file)["surrogate_id"]
    assert set(before).isdisjoint(after)
    assert set(load(second.folder).clients["client_id"]) <= set(after)


# --- scrubbed text -------------------------------------------------------------------------------

NAMES = ["Zavrina", "Qorvath", "O'Dwyer", "Mary", "Jo", "Renée", "Pena"]
CLINIC = {"clinic": "Riverside Psychology Clinic", "aliases": ["Riverside Clinic", "RPC"]}


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "Hi Zavrina, this is Dr. Qorvath returning your call.",
            "Hi [name], this is Dr. [name] returning your call.",
        ),
        # Any case, whole words only, any apostrophe.
        ("ZAVRINA and zavrina, not Zavrinas", "[name] and [name], not Zavrinas"),
        ("Mary-Jo O\u2019Dwyer called", "[name]-[name] [name] called"),
        # With or without accents, either way; a longer word stays.
        ("Renee Peña and RENÉE PENA, not Renees", "[name] [name] and [name] [name], not Renees"),
        (
            "Call (747) 555-0133, 747.555.0134, +1 747 555 0135, 7475550136 or 555-0137.",
            "Call [phone], [phone], [phone], [phone] or [phone].",
        ),
        # Whole, with an extension, spaces around a hyphen, a hyphen or slash after the area code.
        (
            "Call 805-555-0127x12, 805-555-0127 ext. 12, (805) 555 - 0127, (805)-555-0127 or "
            "805/555-0127.",
            "Call [phone], [phone], [phone], [phone] or [phone].",
        ),
        (
            "Or 805.555.0127, ext 12; 555-0127 X 3; (805) 555-0127 extension 4; 805-555-0127 #5.",
            "Or [phone]; [phone]; [phone]; [phone].",
        ),
        # Numbers that are no phone number stay, but for the date and the time.
        (
            "Seen 2026-03-14 at 13:05; paid $120.50 and $1,250.00; ref CT000442, A-1102 and "
            "55501270; pi 3.14159; 15 min; 2 x 50; 100-200; 12-345",
            "Seen [date] at [time]; paid $120.50 and $1,250.00; ref CT000442, A-1102 and "
            "55501270; pi 3.14159; 15 min; 2 x 50; 100-200; 12-345",
        ),
        # Dashes a word processor puts in: en, em, the non-breaking hyphen, minus.
        (
            "Call 747\u2013555\u20130133, 747\u2014555\u20140134, (747) 555\u20110135 or "
            "555\u22120136.",
            "Call [phone], [phone], [phone] or [phone].",
        ),
        (
            "Next appt Tuesday 3/14 at 2pm, or March 21st, 2026 at 10:30.",
            "Next appt Tuesday [date] at [time], or [date] at [time].",
        ),
        (
            "Seen 2026-03-02T13:00:00-08:00; f/u the 14th of April, not the 3rd.",
            "Seen [date]; f/u [date], not [date].",
        ),
        (
            "In 2025, on 3-14-2026, 14.03.2026 and Mar. 3rd; see you in June.",
            "In [date], on [date], [date] and [date]; see you in [date].",
        ),
        # Whole: day, month and year joined by hyphens, dashes, slashes or dots, or run together.
        (
            "Seen 14-Mar-2026, 14 Mar 2026, 2026.03.14, 14.03.2026, 2026/03/14, 14/Mar/2026, "
            "14\u2013Mar\u201326 and Mar-14-2026; f/u Mar-14, Mar-2026 or 20260302.",
            "Seen [date], [date], [date], [date], [date], [date], [date] and [date]; f/u [date], "
            "[date] or [date].",
        ),
        # Not dates: a number of eight digits that is none (month 13), a version, a score.
        ("Ref 20261399, v2.10, 3-2 win", "Ref 20261399, v2.10, 3-2 win"),
        (
            "Email mary.qorvath@example.org or m.q+clinic@mail.example.com today.",
            "Email [email] or [email] today.",
        ),
        # "may" alone is a verb; weekdays, today and tomorrow carry nothing the shift hides.
        (
            "You may call Monday at 9 a.m. or 4:15 PM tomorrow, or in May 2026.",
            "You may call Monday at [time] or [time] tomorrow, or in [date].",
        ),
        # A colon typed before AM/PM; plain numbers stay.
        (
            "Come at 5:PM, 5 PM, 5pm, 5:30PM or 5:30 p.m.; room 5, 12 cases, 5: fine",
            "Come at [time], [time], [time], [time] or [time]; room 5, 12 cases, 5: fine",
        ),
        # The clinic as the audit finds it, and a word of its name that says which alone.
        (
            "Dr. Qorvath at Riverside Psychology Clinic, the riverside clinic or R.P.C.; from "
            "Riverside, RPC's office, not Riversides or the clinic.",
            "Dr. [name] at [clinic], the [clinic] or [clinic]; from [clinic], [clinic]'s office, "
            "not Riversides or the clinic.",
        ),
    ],
)
def test_scrubbing_masks_the_clinic_names_phones_dates_and_times(text, scrubbed):
    scrub = text_scrubber(NAMES, **CLINIC)
    assert scrub(pd.Series([text, None], dtype="str")).tolist()[0] == scrubbed
    assert scrub(pd.Series([None], dtype="str")).isna().all()


def test_scrubbing_without_names_still_masks_the_rest():
    scrub = text_scrubber([])
    assert scrub(pd.Series(["Hi Zavrina, 3/14 at 2pm"])).tolist() == [
        "Hi Zavrina, [date] at [time]"
    ]


def scrubbed_first_contact(
    tmp_path: Path, clients: list[str], message: str, policy: str = ""
) -> tuple[Bundle, str]:
    """The sample with `clients` (rows of clients.csv, no field quoted) added, `policy` added to
    its policy.toml and contact CT000001's message (no comma in it) replaced: that bundle, and
    the message as an extract with scrubbed text has it."""
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    with (bundle / "clients.csv").open("a", encoding="utf-8") as file:
        file.writelines(f"{row}\n" for row in clients)
    with (bundle / "policy.toml").open("a", encoding="utf-8") as file:
        file.write(policy)
    contacts = (bundle / "contacts.csv").read_text(encoding="utf-8").splitlines()
    first = contacts[1].split(",")
    assert first[0] == "CT000001"
    first[-1] = message
    contacts[1] = ",".join(first)
    (bundle / "contacts.csv").write_text("\n".join(contacts) + "\n", encoding="utf-8")
    source = load(bundle)

    extract = deidentify(source, tmp_path / "extract", scrubbed_text=True)

    key = pd.read_csv(extract.key_file, dtype=str).set_index("real_id")["surrogate_id"]
    messages = load(extract.folder).contacts.set_index("contact_id")["message_scrubbed"]
    return source, messages[key["CT000001"]]


def test_scrubbed_text_masks_names_on_rows_set_aside_and_the_policys_names(tmp_path):
    """Staff S013 (Pat Norvik) is set aside in the sample for a role it cannot have, a client
    row here for its intake date: their names are still names. So are the policy's."""
    source, scrubbed = scrubbed_first_contact(
        tmp_path,
        ["C0041,Xandra,Ploof,(805) 555-0100,not a date,no,,S001"],
        "Zorblatt (her mother) called; Pat Norvik took it. Xandra Ploof too.",
        policy='\n[privacy]\nnames = ["Zorblatt Quenby"]\n',
    )
    assert set(source.rejected["record_id"]) >= {"S013", "C0041"}
    assert scrubbed == "[name] (her mother) called; [name] [name] took it. [name] [name] too."


def test_scrubbed_text_masks_names_in_scripts_written_without_spaces(tmp_path):
    """A name in Chinese or Korean letters is masked wherever it occurs, within a run of
    letters too ("김민준은": Minjun Kim with a particle), however short; a Latin initial is no
    name on its own ("J" would mask every "J")."""
    source, scrubbed = scrubbed_first_contact(
        tmp_path,
        [
            "C0041,芳,王,(805) 555-0100,3/11/2026,no,,S001",
            "C0042,민준,김,(805) 555-0101,3/11/2026,no,,S001",
            "C0043,J,Vantrobe,(805) 555-0102,3/11/2026,no,,S001",
        ],
        "王芳今天没来. 王 芳 called; Ms. 王. 김민준 missed; 김 민준은 called; Mr. 김. "
        "J. Vantrobe and J called.",
    )
    assert not set(source.rejected["record_id"]) & {"C0041", "C0042", "C0043"}
    assert scrubbed == (
        "[name][name]今天没来. [name] [name] called; Ms. [name]. [name][name] missed; "
        "[name] [name]은 called; Mr. [name]. J. [name] and J called."
    )


def test_the_sample_extract_never_names_the_clinic(tmp_path):
    sample = load(SAMPLE)
    assert sample.contacts["message"].str.count("(?i)riverside").sum() == 38
    extract = deidentify(sample, tmp_path / "extract", scrubbed_text=True)
    for path in extract.files:
        text = path.read_text(encoding="utf-8").lower()
        assert "riverside" not in text and "r.p.c." not in text, path.name
    scrubbed = load(extract.folder).contacts["message_scrubbed"]
    assert scrubbed.str.count(re.escape("[clinic]")).sum() == 40
    record = json.loads((extract.folder / "extract.json").read_text())
    assert (
        "the policy's clinic name, aliases and phrases (scrubbed text reads [clinic] where it "
        "named the clinic)"
    ) in record["not_included"]


@pytest.mark.parametrize("emptied", ["approvals", "notes", "contacts"])
def test_a_table_with_no_rows_gives_its_header_and_the_rest_their_rows(
    tmp_path, emptied, sample_without_rows
):
    """A clinic with no approvals yet (or no notes, no contacts) exports a header alone: the
    extract has that table empty, every other table whole, and the key the others' ids."""
    source = load(sample_without_rows(emptied))
    extract = deidentify(source, tmp_path / "extract", scrubbed_text=True)
    counts = {"staff": 12, "clients": 40, "appointments": 1102, "contacts": 797, "notes": 867}
    assert extract.rows == {**counts, "approvals": 24, emptied: 0}
    loaded = load(extract.folder)
    assert loaded.rejected.empty
    assert loaded.tables[emptied].empty
    key = pd.read_csv(extract.key_file, dtype=str)
    assert key["table"].value_counts().to_dict() == {
        name: n for name, n in extract.rows.items() if n
    }


def test_the_extract_carries_scrubbed_text_only_when_asked(runs):
    key = runs["scrubbed"]["key"].set_index("real_id")["surrogate_id"]
    contacts = runs["scrubbed"]["bundle"].contacts.set_index("contact_id")
    for contact_id, _, expected in HAND_CONTACTS:
        assert contacts.loc[key[contact_id], "message_scrubbed"] == expected
    notes = runs["scrubbed"]["bundle"].notes.set_index("note_id")
    assert notes.loc[key[HAND_NOTE[0]], "text_scrubbed"] == HAND_NOTE[2]
    plain = runs["plain"]["bundle"]
    assert not any(c.endswith("_scrubbed") for f in plain.tables.values() for c in f.columns)
    assert plain.contacts["message"].isna().all()


def test_cli_deidentify_writes_the_extract_and_names_the_key(tmp_path, capsys):
    from auditkit.cli import main

    sample = SAMPLE
    out = tmp_path / "extract"
    assert main(["deidentify", str(sample), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote a de-identified, date-shifted extract to {out} (" in printed
    assert f"The key to re-identify it is {tmp_path / 'extract.key.csv'}" in printed
    assert (tmp_path / "extract.key.csv").is_file()
    assert not (out / "extract.key.csv").exists()
    assert load(out).rejected.empty
    assert (
        main(["deidentify", str(sample), "--out", str(out), "--key-file", str(out / "key.csv")])
        == 2
    )


def test_cli_deidentify_names_the_key_even_when_quiet(tmp_path, capsys):
    from auditkit.cli import main

    out = tmp_path / "extract"
    assert main(["deidentify", str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    printed, said = capsys.readouterr()
    assert printed == ""
    assert said.splitlines() == [
        f"auditkit: The key to re-identify it is {tmp_path / 'extract.key.csv'}: keep it at the "
        "clinic; the researcher must never receive it.",
        f"auditkit: 7 input rows set aside by the loader are not in the extract (auditkit "
        f"validate {SAMPLE} lists them).",
    ]


def test_an_extract_is_refused_for_an_audit_before_it_is_loaded(runs, tmp_path, capsys):
    # Messages removed, dates shifted per client, no call log: its findings would not be real.
    from auditkit.auditing import audit
    from auditkit.cli import main

    folder = runs["plain"]["extract"].folder
    expected = (
        f"{folder} is a de-identified research extract (extract.json): its messages and notes "
        "are removed, each client's dates are shifted and it has no call log, so a policy audit "
        "of it would report findings that are not real. Audit the clinic's bundle the extract "
        "was made from; the extract is for the research notebook."
    )
    with pytest.raises(AuditkitError) as refused:
        audit(runs["plain"]["bundle"])
    assert str(refused.value) == expected
    assert main(["audit", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert " ".join(capsys.readouterr().err.split()) == f"auditkit: {expected}"
    assert not (tmp_path / "out" / "findings.csv").exists()


def test_cli_deidentify_says_how_many_rows_it_leaves_out_and_its_progress(
    tmp_path, capsys, monkeypatch
):
    from auditkit.cli import main

    monkeypatch.setattr("sys.stderr.isatty", lambda: True)  # a person at a terminal
    out = tmp_path / "extract"
    assert main(["deidentify", str(SAMPLE), "--out", str(out)]) == 0

    printed, progress = capsys.readouterr()
    assert printed.splitlines()[-1] == (
        f"7 input rows set aside by the loader are not in the extract (auditkit validate "
        f"{SAMPLE} lists them)."
    )
    # the call log is neither read nor written: an extract leaves it out
    assert progress.splitlines() == [
        "read staff.csv: 13 rows",
        "read clients.csv: 40 rows",
        "read appointments.csv: 1,104 rows",
        "read contacts.csv: 799 rows",
        "read notes.csv: 868 rows",
        "read approvals.csv: 25 rows",
        "validating",
        "wrote the key file extract.key.csv",
        "wrote staff.csv: 12 rows",
        "wrote clients.csv: 40 rows",
        "wrote appointments.csv: 1,102 rows",
        "wrote contacts.csv: 797 rows",
        "wrote notes.csv: 867 rows",
        "wrote approvals.csv: 24 rows",
    ]


def test_an_extract_counts_the_rows_set_aside_in_its_tables_not_the_call_log(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    with (bundle / "calls.csv").open("a", encoding="utf-8") as calls:
        calls.write("not,a,call\n")

    extract = deidentify(load(bundle), tmp_path / "extract")

    assert extract.rows_set_aside == 7
    assert load(bundle).coverage.set_index("table")["rejected"].to_dict() == {
        "staff": 1,
        "clients": 0,
        "appointments": 2,
        "contacts": 2,
        "notes": 1,
        "approvals": 1,
        "calls": 1,
    }


# --- rare services -------------------------------------------------------------------------------


def write_rare_services(folder: Path) -> dict[str, list[int]]:
    """The sample with rare services typed in: one attended 'individual' appointment of each of
    ten clients becomes 'family therapy' (one client short of the threshold), of eleven more
    'telehealth' (at it), two of another client a court-ordered evaluation, one each of two
    more a couples session naming a partner (the same text once the names are masked), and one
    of a last client 'Individual'. Returns each new service's rows by the file's line."""
    shutil.copytree(SAMPLE, folder)
    sample = load(SAMPLE)
    appointments = sample.appointments
    attended = appointments[
        (appointments["service"] == "individual") & (appointments["status"] == "attended")
    ]
    by_client = attended.sort_values("source_line").groupby("client_id")["source_line"]
    first, second = by_client.nth(0).tolist(), by_client.nth(1).tolist()
    names = sample.clients.set_index("client_id")["last_name"]
    couples = attended.set_index("source_line").loc[first[23:25], "client_id"].map(names)
    typed = {
        "family therapy": first[:10],
        "telehealth": first[10:21],
        "court-ordered eval (Ventura Co. case)": [first[21], second[21]],
        **{f"couples w/ {name}'s wife 3/2": [line] for line, name in couples.items()},
        "Individual": [first[25]],
    }
    path = folder / "appointments.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for service, lines in typed.items():
        frame.loc[[line - 2 for line in lines], "service"] = service  # line 1 is the header
    frame.to_csv(path, index=False)
    return typed


@pytest.fixture(scope="module")
def rare_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("rare")
    typed = write_rare_services(base / "bundle")
    extract = deidentify(load(base / "bundle"), base / "extract")
    return {"typed": typed, "extract": extract, "bundle": load(extract.folder)}


def test_services_fewer_than_11_clients_use_are_written_as_other(rare_run):
    extract, written = rare_run["extract"], rare_run["bundle"].appointments
    assert written["service"].value_counts().to_dict() == {
        "individual": 785,
        "DBT skills group": 240,
        "intake": 31,
        "assessment": 20,
        "other": 15,
        "telehealth": 11,
    }
    # Exactly the rows typed with a rare service, through the key: family therapy (10 clients),
    # the evaluation, both couples sessions (one value once masked) and 'Individual'.
    key = pd.read_csv(extract.key_file, dtype=str).query("table == 'appointments'")
    real = written["appointment_id"].map(key.set_index("surrogate_id")["real_id"])
    source = load(extract.folder.parent / "bundle").appointments.set_index("source_line")
    rare = [line for s, lines in rare_run["typed"].items() if s != "telehealth" for line in lines]
    assert sorted(real[written["service"] == "other"]) == sorted(source.loc[rare, "appointment_id"])
    assert (extract.rare_services, extract.rare_service_appointments) == (4, 15)


def test_extract_json_counts_the_rare_services_but_never_names_them(rare_run):
    folder = rare_run["extract"].folder
    text = (folder / "extract.json").read_text()
    record = json.loads(text)["rare_services"]
    assert {k: v for k, v in record.items() if k != "why"} == {
        "written_as": "other",
        "fewer_clients_than": 11,
        "values": 4,
        "appointments": 15,
    }
    assert record["why"].startswith(
        "A service fewer than 11 distinct clients use (as typed, after masking) is written as "
        "'other'"
    )
    for word in ("family", "Ventura", "court", "couples", "wife", "Individual", "[name]"):
        assert word not in text
        assert all(word not in path.read_text() for path in folder.iterdir()), word


def test_research_service_rates_on_an_extract_list_no_rare_service(rare_run):
    from auditkit.research import appointment_frame, no_show_rates

    rates = no_show_rates(appointment_frame(rare_run["bundle"]), "service")
    assert rates["service"].tolist() == [
        "DBT skills group", "assessment", "individual", "intake", "other", "telehealth",
    ]  # fmt: skip
    assert rates.loc[rates["service"] == "telehealth", "scheduled"].tolist() == [11]


def test_cli_deidentify_says_how_many_services_it_wrote_as_other(tmp_path, capsys):
    from auditkit.cli import main

    write_rare_services(tmp_path / "bundle")
    assert main(["deidentify", str(tmp_path / "bundle"), "--out", str(tmp_path / "x")]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == (
        "4 services used by fewer than 11 clients (15 appointments) are written as 'other' "
        "(extract.json counts them)."
    )
