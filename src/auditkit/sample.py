"""Seeded sample bundles: an invented clinic year with policy violations injected at known rates.

A rules engine is only as trustworthy as our ability to measure it. ``generate_sample`` writes an
audit bundle (input format v1) for an invented training clinic together with
``ground_truth.csv``, every violation it injected as (rule, subject_id), so precision and recall
can be computed per rule. The records are realistic on purpose (weekly sessions across both
daylight-saving changes, outreach at human delays, voicemails and notes in varied wording and
clinical shorthand, mixed timestamp formats, multi-line fields, mojibake) so that loading and
text detection are exercised the way a real export would exercise them.

Every record that is not an injected violation is compliant, and every injection is built to
produce exactly the finding listed for it. That rests on the schedule's spacing: a client's
sessions are at least 63 hours apart, outreach happens within 10 hours of the start (late calls
within 36), notes within 40 hours, so one no-show's calls and notes never fall into another's
windows; background calls that would are dropped.

From October the clinic's phone system logs its calls too (calls.csv): nearly every logged phone
call, at the phone system's own time a few seconds to a few minutes off the log's minute, plus
calls nobody logged (LG001) and without logged calls it never carried (LG002).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from auditkit.errors import AuditkitError
from auditkit.output import check_folder, holds_files_of_others
from auditkit.phones import numbers_on_file, to_e164

TIMEZONE = "America/Los_Angeles"

POLICY_TOML = """\
# Policy for the generated sample bundle (see docs/bundle-format.md).
[clinic]
name = "Riverside Psychology Clinic"
aliases = ["Riverside Clinic", "RPC"]
timezone = "America/Los_Angeles"

[missed_session]
wait_minutes = 20
call_within_hours = 24
note_within_hours = 48
persistent_no_shows = 2
lookback_days = 90

[approvals]
closure_warning = ["supervisor"]
phone_coaching = ["program_director"]
"""

# Times are whole minutes since the Unix epoch (UTC): exact, cheap, and DST-proof.
HOUR = 60
DAY = 24 * HOUR
CALL_WINDOW = 24 * HOUR  # call_within_hours
WAIT = 20  # wait_minutes
LOOKBACK = 90 * DAY  # lookback_days
# Background calls this close to a no-show would count as its outreach, so they are dropped.
_KEEP_CLEAR = (-HOUR, CALL_WINDOW + HOUR)

# Share of each rule's opportunities that is made to violate it. Each rule also gets at least
# two violations, and at least one of each of its variants, whatever the bundle's size. Every
# registered rule has a rate and variants: a test holds them to auditkit.rules.RULES, which this
# module does not import (the rules bring pandera, about a second, into `auditkit sample`).
INJECTION_RATE = {
    "MS001": 0.06, "MS002": 0.05, "MS003": 0.05, "VM001": 0.05, "VM002": 0.07, "VM003": 0.07,
    "VM004": 0.05, "NT001": 0.06, "NT002": 0.07, "TP001": 0.08, "IQ001": 0.08, "PC001": 0.07,
    "LG001": 0.04, "LG002": 0.04,
}  # fmt: skip
_VARIANTS = {
    "MS001": ("texted_instead", "emailed_instead", "called_late", "reminder_then_text"),
    "MS002": ("early_voicemail", "early_no_answer"),
    "MS003": ("one_no_answer", "two_no_answers"),
    "VM001": (
        "Riverside Psychology Clinic",
        "riverside psychology clinic",
        "R.P.C.",
        "River side Psychology Clinic",
        "Riversid Psychology Clinic",
        "Riverside Clinic",
    ),
    "VM002": ("no_fee_notice",),
    "VM003": ("no_approval", "approved_after", "wrong_role", "expired"),
    "VM004": ("single_no_show",),
    "NT001": ("no_note", "late_note", "unrelated_note"),
    "NT002": ("fee", "outreach", "next_date", "confirm_date"),
    "TP001": ("disclosed", "callback_number", "pass_on", "named_clinic"),
    "IQ001": ("confirmed", "attendance", "no_statement", "denied", "disclosed"),
    "PC001": (
        "no_approval",
        "expired",
        "wrong_approver",
        "purpose_other",
        "before_approval",
        "coaching_while_scheduling",
    ),
    "LG001": ("outbound", "inbound"),
    "LG002": ("outbound", "inbound"),
}
BROKEN_ROWS = {"staff": 1, "appointments": 2, "contacts": 2, "notes": 1, "approvals": 1}

_FIRST_SESSION_DAY = np.datetime64("2025-09-02", "D")  # the day after Labor Day
_YEAR_END = np.datetime64("2026-08-31", "D")
_LAST_INTAKE_DAY = np.datetime64("2026-06-26", "D")
_PHONE_LOG_START = np.datetime64("2025-10-01", "D")  # the phone system went live
_CLINIC_LINE = "+18055550100"
# Minutes between two calls on one line (number and direction) that keep them apart: a call this
# far from every other is never paired with another's log entry, whatever its offset.
_APART = 30
_NEAR = 25  # closer than this to another call on its line, a call keeps the log's exact time


def _days(first: str, last: str) -> np.ndarray:
    return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + np.timedelta64(1, "D"))


_CLOSED_DAYS = np.concatenate(
    [
        _days("2025-11-27", "2025-11-28"),  # Thanksgiving
        _days("2025-12-22", "2026-01-02"),  # winter break
        _days("2026-01-19", "2026-01-19"),
        _days("2026-02-16", "2026-02-16"),
        _days("2026-03-30", "2026-04-03"),  # spring break
        _days("2026-05-25", "2026-05-25"),
        _days("2026-06-19", "2026-06-19"),
        _days("2026-07-03", "2026-07-03"),
    ]
)

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def generate_sample(
    out_dir: Path, clients: int = 40, seed: int = 7, broken_rows: bool = False
) -> pd.DataFrame:
    """Write a sample bundle for `clients` invented clients over one clinic year into `out_dir`
    and return its ground truth (rule, subject_id), so rules can be scored against known answers.

    The same seed gives byte-identical files. With `broken_rows`, a few clearly broken rows are
    appended (see BROKEN_ROWS) so the bundle exercises the loader's rejected-rows path; none of
    them bears on the ground truth. A folder holding other files than an earlier sample's is
    refused (AuditkitError), so a real bundle is never overwritten.
    """
    if clients < 1:
        raise ValueError(f"clients must be at least 1, not {clients}.")
    out_dir = Path(out_dir)
    check_folder(out_dir, "The sample folder")
    if holds_files_of_others(out_dir, "ground_truth.csv"):
        raise AuditkitError(
            f"The sample folder {out_dir} already holds files and is not an earlier sample (it "
            "has no ground_truth.csv): the sample's tables would replace any of the same name. "
            "Name a new or empty folder."
        )
    year = _ClinicYear(clients, seed)
    tables, truth = year.build()
    if broken_rows:
        tables = _with_broken_rows(tables)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out_dir / f"{name}.csv", index=False, lineterminator="\n")
    truth.to_csv(out_dir / "ground_truth.csv", index=False, lineterminator="\n")
    (out_dir / "policy.toml").write_text(POLICY_TOML, encoding="utf-8")
    return truth


# --- time helpers --------------------------------------------------------------------------------


def _epoch_minutes(local: np.ndarray) -> np.ndarray:
    """Clinic-local wall-clock times (naive datetime64) as absolute minutes since the epoch."""
    aware = pd.DatetimeIndex(np.asarray(local, dtype="datetime64[m]")).tz_localize(TIMEZONE)
    return ((aware - _EPOCH) // pd.Timedelta(minutes=1)).to_numpy(dtype=np.int64)


def _aware(minutes: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(minutes, dtype=np.int64), unit="m", utc=True).tz_convert(
        TIMEZONE
    )


def _days_of(column: pd.Series) -> np.ndarray:
    """A column of dates as numpy days (pandas keeps them as seconds)."""
    return column.to_numpy().astype("datetime64[D]")


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0, as numpy counts days from a Thursday."""
    return (days.astype("datetime64[D]").astype(np.int64) + 3) % 7


def _next_weekday(days: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    return days + ((weekday - _weekday(days)) % 7).astype("timedelta64[D]")


def _clock(minute_of_day: int, style: int) -> str:
    """A time of day the way people say it in messages: 2:00PM, 2:00 PM, 2 pm."""
    hour, minute = divmod(minute_of_day, 60)
    h12, suffix = hour % 12 or 12, ("AM" if hour < 12 else "PM")
    if style == 0:
        return f"{h12}:{minute:02d}{suffix}"
    if style == 1 or minute:
        return f"{h12}:{minute:02d} {suffix}"
    return f"{h12} {suffix.lower()}"


def _date_text(day: dt.date, style: int) -> str:
    """A date as clinicians write it in notes: 03/14/2026, 3/14/2026 or March 14, 2026."""
    if style == 0:
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    if style == 1:
        return f"{day.month}/{day.day}/{day.year}"
    return f"{day:%B} {day.day}, {day.year}"


def _as_date(day: np.datetime64) -> dt.date:
    return day.astype("datetime64[D]").astype(dt.date)


# --- people --------------------------------------------------------------------------------------

_SURNAME_HEADS = (
    "Al", "Bren", "Cor", "Dal", "Fen", "Gar", "Hol", "Kes", "Lor", "Mar",
    "Nor", "Pel", "Quen", "Ros", "Sel", "Tal", "Vor", "Wen", "Yar", "Zel",
)  # fmt: skip
_SURNAME_TAILS = (
    "avey", "brook", "dane", "ford", "gren", "holt", "ley",
    "mont", "ner", "quist", "ton", "vik", "wick", "more",
)  # fmt: skip
_STAFF_FIRST = (
    "Maya", "Devin", "Priya", "Tomas", "Lena", "Marcus", "Hana", "Owen",
    "Sofia", "Julian", "Aisha", "Nico", "Greta", "Ravi", "Elise", "Mateo",
)  # fmt: skip
_SUPERVISOR_FIRST = ("Jamie", "Alicia", "Victor", "Ingrid")
_CLIENT_FIRST = {
    "she": (
        "Ava", "Bianca", "Carla", "Dana", "Elena", "Fiona", "Grace", "Hazel", "Iris", "Jenna",
        "Kira", "Laura", "Mira", "Nora", "Olivia", "Paula", "Rosa", "Sara", "Tessa", "Vera",
    ),
    "he": (
        "Aaron", "Ben", "Caleb", "Diego", "Eli", "Felix", "Gabe", "Hugo", "Ian", "Jonah",
        "Kai", "Leo", "Miles", "Noah", "Oscar", "Paul", "Rafael", "Sam", "Theo", "Victor",
    ),
    "they": ("Alex", "Casey", "Jordan", "Morgan", "Quinn", "Riley", "Robin", "Skyler"),
}  # fmt: skip
_OBJECT = {"she": "her", "he": "him", "they": "them"}
_POSSESSIVE = {"she": "her", "he": "his", "they": "their"}

# Phone coaching approvals of the DBT team, by therapist, in turn.
_COACHING_PROFILES = ("blanket", "per_client", "blanket_expiring", "per_client")


def _invented_surname(number: int) -> str:
    return (
        _SURNAME_HEADS[(7 * number + 3) % len(_SURNAME_HEADS)]
        + _SURNAME_TAILS[(5 * number + 1) % len(_SURNAME_TAILS)]
    )


def _make_staff(clients: int) -> pd.DataFrame:
    """About one trainee therapist per five clients, a supervisor per four trainees, one DBT
    program director (who approves phone coaching) and one admin."""
    therapists = max(8, round(clients / 5))
    supervisors = max(2, therapists // 4)
    roles = ["therapist"] * therapists + ["supervisor"] * supervisors
    roles += ["program_director", "admin"]
    width = max(3, len(str(len(roles))))
    first = [_STAFF_FIRST[i % len(_STAFF_FIRST)] for i in range(therapists)]
    first += [_SUPERVISOR_FIRST[i % len(_SUPERVISOR_FIRST)] for i in range(supervisors)]
    first += ["Nadia", "Chris"]
    dbt = np.arange(len(roles)) < (therapists + 1) // 2
    return pd.DataFrame(
        {
            "staff_id": [f"S{i:0{width}d}" for i in range(1, len(roles) + 1)],
            "first_name": first,
            "last_name": [_invented_surname(i) for i in range(len(roles))],
            "role": roles,
            "coaching_profile": [
                _COACHING_PROFILES[i % len(_COACHING_PROFILES)] if is_dbt else ""
                for i, is_dbt in enumerate(dbt)
            ],
        }
    )


# The clinic's own area codes first; a larger clinic's clients are spread over more.
_LOCAL_AREA_CODES = ("805", "818", "747")
_AREA_CODES = _LOCAL_AREA_CODES + tuple(
    str(code)
    for code in range(201, 990)
    if code % 100 != 11 and str(code) not in _LOCAL_AREA_CODES  # N11 codes are services
)


def _staff_line(number: int) -> str:
    """The `number`th staff member's own line: (805) 555-0110 on, then the same fictional
    numbers in the next area codes, so that no two share one however large the clinic."""
    area, line = divmod(10 + number, 100)
    return f"({_AREA_CODES[area]}) 555-01{line:02d}"


def _area_codes(clients: int) -> list[str]:
    """Area codes for `clients` invented numbers, 555-0100 to 555-0199 in each (the range kept
    for fiction): about one number per client, so numbers are shared about as often as siblings
    share a parent's phone, not hundreds of clients to a number as three codes would give."""
    return list(_AREA_CODES[: min(len(_AREA_CODES), max(3, -(-clients // 100)))])


def _make_clients(rng: np.random.Generator, staff: pd.DataFrame, n: int) -> pd.DataFrame:
    """Invented clients with their weekly slot, treatment span and consent to naming the clinic."""
    therapists = staff.loc[staff["role"] == "therapist"]
    pronoun = rng.choice(["she", "he", "they"], n, p=[0.55, 0.37, 0.08])
    first = [
        _CLIENT_FIRST[p][k % len(_CLIENT_FIRST[p])]
        for p, k in zip(pronoun, rng.integers(0, 1000, n), strict=True)
    ]
    surname_numbers = rng.integers(0, 10_000, n)
    therapist_row = rng.integers(0, len(therapists), n)
    therapist_dbt = (therapists["coaching_profile"].to_numpy() != "")[therapist_row]
    dbt = therapist_dbt & (rng.random(n) < 0.7)

    # A third were already in treatment when the year began; the rest start during it.
    continuing = rng.random(n) < 0.3
    intake = np.where(
        continuing,
        np.datetime64("2024-09-03", "D") + rng.integers(0, 340, n).astype("timedelta64[D]"),
        _FIRST_SESSION_DAY
        + rng.integers(0, (_LAST_INTAKE_DAY - _FIRST_SESSION_DAY).astype(np.int64), n).astype(
            "timedelta64[D]"
        ),
    )
    intake = np.busday_offset(intake, 0, roll="forward", holidays=_CLOSED_DAYS)
    intake_minute = rng.choice([10 * HOUR, 13 * HOUR, 15 * HOUR], n)

    # DBT clients see their therapist on a day three or four days from their skills group.
    weekday = np.where(dbt, rng.choice([0, 1, 3, 4], n), rng.integers(0, 5, n))
    group_weekday = np.array([3, 4, -1, 0, 1])[weekday]
    session_minute = rng.integers(8, 18, n) * HOUR + rng.choice([0, 30], n)
    earliest = np.maximum(intake + np.timedelta64(14, "D"), _FIRST_SESSION_DAY)
    first_session = _next_weekday(earliest, weekday)
    weeks = 6 + np.floor(rng.exponential(28, n)).astype(np.int64)
    last_day = np.minimum(first_session + (7 * weeks).astype("timedelta64[D]"), _YEAR_END)

    # Consent to naming the clinic: 40% say yes, recorded at intake (often left blank) or later.
    may_name = rng.random(n) < 0.4
    consent_kind = np.where(
        may_name, rng.choice(["blank", "intake", "later"], n, p=[0.5, 0.2, 0.3]), ""
    )
    later_day = np.busday_offset(
        intake + rng.integers(21, 141, n).astype("timedelta64[D]"), 0, roll="forward"
    )
    consent_local = np.select(
        [consent_kind == "blank", consent_kind == "intake", consent_kind == "later"],
        [
            intake.astype("datetime64[m]"),
            intake.astype("datetime64[m]") + intake_minute.astype("timedelta64[m]"),
            later_day.astype("datetime64[m]")
            + rng.integers(9 * HOUR, 17 * HOUR, n).astype("timedelta64[m]"),
        ],
        np.datetime64("NaT", "m"),
    )
    consent_at = np.where(
        may_name,
        _epoch_minutes(np.where(may_name, consent_local, intake.astype("datetime64[m]"))),
        np.iinfo(np.int64).max,
    )
    yes_words, no_words = ["yes", "Yes", "Y", "true", "1"], ["no", "No", "N", "false", "0", ""]
    written_flag = np.where(
        may_name,
        rng.choice(yes_words, n, p=[0.6, 0.2, 0.1, 0.05, 0.05]),
        rng.choice(no_words, n, p=[0.5, 0.15, 0.05, 0.05, 0.05, 0.2]),
    )
    width = max(4, len(str(n)))
    return pd.DataFrame(
        {
            "client_id": [f"C{i:0{width}d}" for i in range(1, n + 1)],
            "first_name": first,
            "last_name": [_invented_surname(int(k)) for k in surname_numbers],
            "pronoun": pronoun,
            "phone": [
                f"({a}) 555-01{k:02d}"
                for a, k in zip(rng.choice(_area_codes(n), n), rng.integers(0, 100, n), strict=True)
            ],
            "intake": intake,
            "continuing": continuing,
            "intake_minute": intake_minute,
            "therapist_id": therapists["staff_id"].to_numpy()[therapist_row],
            "dbt": dbt,
            "weekday": weekday,
            "group_weekday": group_weekday,
            "session_minute": session_minute,
            "first_session": first_session,
            "last_day": last_day,
            "no_show_rate": rng.beta(3.2, 16.8, n),
            "may_name_clinic": written_flag,
            "consent_kind": consent_kind,
            "consent_at": consent_at,
        }
    )


# --- the schedule --------------------------------------------------------------------------------

_SERVICE_MINUTES = {"intake": 90, "assessment": 120, "individual": 50, "DBT skills group": 90}
_GROUP_MINUTE = 17 * HOUR


def _weekly(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, day) for every weekly date from each `first` to its `last`, vectorised."""
    count = np.maximum((last - first).astype(np.int64) // 7 + 1, 0)
    owner = np.repeat(np.arange(len(first)), count)
    week = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return owner, first[owner] + (7 * week).astype("timedelta64[D]")


def _make_appointments(
    rng: np.random.Generator, clients: pd.DataFrame, staff: pd.DataFrame
) -> pd.DataFrame:
    """Intake and assessment for new clients, weekly individual sessions and, for DBT clients,
    a weekly skills group led by the program director; closed days skipped; each client's
    sessions kept or missed at the client's own no-show rate."""
    director = staff.loc[staff["role"] == "program_director", "staff_id"].iloc[0]
    intake = _days_of(clients["intake"])
    new = np.flatnonzero(~clients["continuing"].to_numpy())
    assessed = new[rng.random(len(new)) < 0.7]
    assessment_day = intake[assessed] + np.timedelta64(7, "D")
    assessed_open = np.is_busday(assessment_day, holidays=_CLOSED_DAYS)
    owner, individual_day = _weekly(
        _days_of(clients["first_session"]), _days_of(clients["last_day"])
    )
    dbt = np.flatnonzero(clients["dbt"].to_numpy())
    group_first = _next_weekday(
        _days_of(clients["first_session"])[dbt] + np.timedelta64(7, "D"),
        clients["group_weekday"].to_numpy()[dbt],
    )
    group_owner, group_day = _weekly(group_first, _days_of(clients["last_day"])[dbt])
    group_owner = dbt[group_owner]
    parts = [
        (new, intake[new], clients["intake_minute"].to_numpy()[new], "intake"),
        (
            assessed[assessed_open],
            assessment_day[assessed_open],
            rng.choice([9 * HOUR, 13 * HOUR], int(assessed_open.sum())),
            "assessment",
        ),
        (owner, individual_day, clients["session_minute"].to_numpy()[owner], "individual"),
        (group_owner, group_day, np.full(len(group_owner), _GROUP_MINUTE), "DBT skills group"),
    ]
    frame = pd.concat(
        [
            pd.DataFrame({"client": who, "day": day, "minute": minute, "service": service})
            for who, day, minute, service in parts
        ],
        ignore_index=True,
    )
    frame = frame[np.is_busday(_days_of(frame["day"]), holidays=_CLOSED_DAYS)]
    frame["at"] = _epoch_minutes(
        _days_of(frame["day"]).astype("datetime64[m]")
        + frame["minute"].to_numpy().astype("timedelta64[m]")
    )
    frame = frame.sort_values(["at", "client", "service"], kind="stable").reset_index(drop=True)
    frame["staff_id"] = np.where(
        frame["service"] == "DBT skills group",
        director,
        clients["therapist_id"].to_numpy()[frame["client"]],
    )
    frame["duration"] = frame["service"].map(_SERVICE_MINUTES)

    weekly = frame["service"].isin(["individual", "DBT skills group"]).to_numpy()
    missed = rng.random(len(frame)) < clients["no_show_rate"].to_numpy()[frame["client"]]
    other = rng.random(len(frame))
    frame["status"] = np.select(
        [~weekly, missed, other < 0.05, other < 0.10, other < 0.12],
        ["attended", "no_show", "late_cancel", "cancelled", "rescheduled"],
        "attended",
    )
    width = max(6, len(str(len(frame))))
    frame["appointment_id"] = [f"A{i:0{width}d}" for i in range(1, len(frame) + 1)]
    by_client = frame.sort_values(["client", "at"], kind="stable")
    following = by_client.groupby("client")["day"].shift(-1)
    frame["next_day"] = following.reindex(frame.index)
    return frame


# --- wording -------------------------------------------------------------------------------------
# Phrases are combined at random, so no two messages need read alike. Compliant wording never
# names the clinic without consent, never mentions closing a file unless it is a warning, and
# never touches coaching content; the fee fragments all state the missed-session charge.

_GREETINGS = ("Hi {client}, ", "Hello {client}, ", "Hi, ", "Hey {client}, ", "Hi there, ")
_SELF = ("this is {staff} calling.", "it's {staff}.", "this is {staff}.", "{staff} here.")
_SELF_NAMING_CLINIC = (
    "this is {staff} from {clinic}.",
    "it's {staff} calling from {clinic}.",
    "this is {staff} at {clinic}.",
)
_COMPLIANT_CLINIC_NAMES = (
    "Riverside Psychology Clinic",
    "Riverside Clinic",
    "the Riverside Clinic",
)
_MISSED = (
    "We had an appointment at {time} today.",
    "We were scheduled to meet at {time}.",
    "I was expecting you for our {time} session today.",
    "I had you down for {time} today and didn't see you come in.",
    "I waited for you for our {time} appointment.",
)
_CHECK_IN = ("I hope everything is okay.", "I just wanted to check in.", "I hope you're alright.")
_FEE_NOTICE = (
    "Since I didn't hear from you in 24-hours, I wanted to remind you that you'll be charged for "
    "the missed session.",
    "Just so you know, there is a fee for missed sessions.",
    "Per our attendance agreement, the missed-session fee will be added to your account.",
    "Please note that a late fee applies to sessions missed without notice.",
    "You will be billed for today's session since it was missed without 24 hours notice.",
    "I wanted to let you know you'll be charged for the missed session, so you're not surprised "
    "the next time you come in.",
    "I just didn't want you to be surprised next time, since you'll be paying for two sessions.",
)
_CLOSURE_WARNING = (
    "Please call to confirm your next appointment by {day} at 5PM. If I don't hear from you by "
    "that time then I'll assume you are no longer interested in treatment and I'll close your "
    "file. You can always re-initiate treatment at anytime.",
    "Please call me by {day} at 5 PM to confirm your next appointment. If I don't hear from you "
    "by then, I'll assume you're no longer interested in treatment and will close your file. "
    "You're always welcome to come back.",
    "I need you to confirm your next appointment by {day} at 5 PM; otherwise I'll close your "
    "file. You can re-initiate treatment at any time.",
)
_CALL_BACK = (
    "Please give me a call back at {phone} when you get this.",
    "Let me know if you have any concerns.",
    "Give me a call when you can.",
    "I'll plan on seeing you next {weekday} at {time}.",
    "Call me back to confirm our next appointment.",
)
_CLOSING = ("Take care.", "Thanks, bye.", "Talk soon.", "Bye.")
_SPOKE = (
    "Spoke with pt; pt forgot about the session. Reminded pt of the missed-session fee. "
    "Confirmed next appt {weekday}.",
    "Reached client by phone. Client overslept; told client about the late fee. Will see client "
    "next {weekday} at {time}.",
    "Pt answered and apologized for missing. Discussed the missed-session charge; pt confirmed "
    "next week.",
)
_SPOKE_WARNING = (
    'Spoke with pt about the missed sessions and the missed-session fee. Told pt: "Please call to '
    "confirm your next appointment by {day} at 5 PM. If I don't hear from you by then, I'll "
    "assume you are no longer interested in treatment and I'll close your file.\"",
    "Reached pt. Reviewed the late fee. Told pt I will close the file if pt doesn't confirm the "
    "next appt by {day} at 5 PM.",
)
_THIRD_PARTY_SCRIPT = (
    "Hi. Is {client} there? No, no message. I'll try again. I can't say who this is but thank "
    "you. I'll try again.",
    "Hi, is {client} there? No, no message. I can't say who this is, but thank you. I'll try "
    "again.",
    "Hello, is {client} there? Oh, no, no message. I'll try again later. I can't say who this "
    "is, but thanks.",
)
_THIRD_PARTY_BREACH = {
    "disclosed": "Hi, is {client} there? This is {possessive} therapist. Could you let {object} "
    "know I called?",
    "callback_number": "Hi, is {client} there? Could you ask {object} to call me back at "
    "{phone}? Thanks.",
    "pass_on": "Is {client} there? Please let {object} know {subject} missed {possessive} "
    "appointment today.",
    "named_clinic": "Hi, is {client} there? This is {staff} from Riverside, I'm calling about "
    "{possessive} session.",
}
_NCND = (
    "I hear your concern, I cannot confirm that someone is or is not a client in the clinic and "
    "so I cannot respond to your questions. If you are concerned for safety, then I can provide "
    "general recommendations."
)
_INQUIRY_REPLIES = (
    _NCND,
    "Thank you for calling. " + _NCND,
    "Hello,\n\nThank you for your email. I hear your concern, I cannot confirm that someone is or "
    "is not a client in the clinic and so I cannot respond to your questions.\n\nIf you are "
    "concerned for safety, then I can provide general recommendations.\n\nBest,\n{staff}",
)
_INQUIRY_BREACH = {
    "confirmed": "Yes, {subject} {is} a client here, but I can't share anything else.",
    "attendance": "{Subject} {hasnt} been in for weeks, so I don't know what to tell you.",
    "no_statement": "Thanks for calling. I'll pass your concern along to {possessive} therapist.",
    "denied": "No, we don't have anyone by that name.",
    "disclosed": _NCND + " That said, {subject} {has} been doing better lately.",
}
_VERBS = {
    "she": {"is": "is", "has": "has", "hasnt": "hasn't"},
    "he": {"is": "is", "has": "has", "hasnt": "hasn't"},
    "they": {"is": "are", "has": "have", "hasnt": "haven't"},
}
_COACHING = (
    "Pt called for phone coaching re: urges to self-harm; coached distress tolerance skills "
    "(TIPP). Pt agreed to fill in diary card tonight.",
    "Skills coaching call: pt practiced DEAR MAN for a conversation with roommate.",
    "Pt called about strong urges; reviewed crisis survival skills. Pt reported urges decreased.",
    "Brief coaching call; helped pt apply opposite action before a work shift.",
    "Pt called for coaching after an argument with a parent; walked through check the facts and "
    "paced breathing.",
)
_NOT_SCHEDULING = (
    "Pt called upset after an argument with partner; talked it through for 20 min.",
    "Pt called to talk about stress at work; listened and validated for 15 min.",
)
_COACHING_WHILE_SCHEDULING = (
    "Pt called to move {weekday} appt. Pt also mentioned strong urges, so I coached pt through a "
    "paced breathing skills practice for 15 min."
)
_REMINDER_VOICEMAIL = (
    "Hi {client}, this is {staff} calling to remind you of our appointment on {weekday} at "
    "{time}. See you then.",
    "Hi {client}, {staff} here with a quick reminder about your appointment {weekday} at {time}. "
    "Call me if you need to reschedule.",
    "Hello, this message is for {client}. Just a reminder of your {time} appointment on "
    "{weekday}. Thanks!",
)
_REMINDER_VOICEMAIL_NAMING_CLINIC = (
    "Hi {client}, this is {staff} from Riverside Psychology Clinic with a reminder about your "
    "appointment on {weekday} at {time}.",
    "Hello {client}, this is {staff} at the Riverside Clinic reminding you of your {weekday} "
    "{time} appointment.",
)
_REMINDER_SPOKE = (
    "Reminder call; pt confirmed {weekday} appt.",
    "Called to confirm {weekday} at {time}; client confirmed.",
)
_REMINDER_TEXT = "Reminder: appt {weekday} at {time}. Reply C to confirm or call to reschedule."
_CANCEL_REASONS = ("sick", "car trouble", "a work conflict", "a family obligation", "no childcare")
_CANCEL = {
    "phone": "Pt called to cancel {weekday} appt ({reason}).",
    "text": "Text from pt: can't make it {weekday}, {reason}. Sorry!",
    "email": "Hi,\nI need to cancel my appointment on {weekday} ({reason}).\nThanks,\n{client}",
}
_RESCHEDULE = {
    "phone": "Called pt to find a new time for this week; moved to later in the week.",
    "text": "Following up to find a new time for this week's appointment. What works for you?",
}
_RETURNED_CALL = (
    "Pt returned call; confirmed next appt {weekday} at {time}.",
    "Client called back, apologized, and confirmed next week.",
)
_RECEIPT_EMAIL = (
    "Hello,\nCould you send me a receipt for my last three sessions for my insurance?\n"
    "Thank you,\n{client}"
)
_TEXT_INSTEAD = (
    "Hi {client}, it's {staff}. Sorry I missed you at {time} today. Heads up that the "
    "missed-session fee applies. Please text or call me to confirm next {weekday}."
)
_EMAIL_INSTEAD = (
    "Hi {client},\n\nI'm sorry we didn't get to meet today at {time}. As a reminder, you'll be "
    "charged for the missed session.\n\nPlease let me know if next {weekday} still works.\n\n"
    "{staff}"
)

# Missed-session notes, element by element, in full sentences (0) and clinical shorthand (1).
_NOTE_NO_SHOW = (
    (
        "Client did not show for {service} appointment.",
        "Client didn't show for the scheduled {service} session.",
        "Client was a no-show for the scheduled {service} session.",
    ),
    ("Pt NS for {short} appt.", "FTA {short} appt.", "DNA - {short} session.", "No-show, {short}."),
)
_NOTE_OUTREACH = {
    "voicemail": (
        (
            "Therapist called client and left a message for client to call and confirm the next "
            "appointment.",
            "Therapist called client and left a voicemail.",
        ),
        ("T called pt, LVM.", "LM for pt re: missed appt.", "T called pt and LVM to call back."),
    ),
    "spoke": (
        ("Therapist called client and spoke with client about the missed session.",),
        ("T called pt; spoke w/ pt re: missed appt.",),
    ),
    "no_answer": (
        ("Therapist called client; no answer and no voicemail available.",),
        ("T called pt, no answer, unable to LM.",),
    ),
    "mailbox_full": (
        ("Therapist called client; the voicemail box was full.",),
        ("T called pt, VM full.",),
    ),
    "wrong_number": (
        ("Therapist called client; the number on file is not in service.",),
        ("T called pt - number not in service.",),
    ),
    "text": (("Therapist texted client about the missed session.",), ("T texted pt re: NS.",)),
    "email": (("Therapist emailed client about the missed session.",), ("T emailed pt re: NS.",)),
    "late": (
        ("Therapist called client the following day and left a message.",),
        ("T called pt next day, LVM.",),
    ),
}
_NOTE_FEE = (
    ("Late fee charged per policy.", "The missed-session fee was applied."),
    ("Late fee charged.", "NS fee applied.", "Fee charged per policy."),
)
_NOTE_NEXT = (
    ("Next appoint is on {date}.", "Next appointment is scheduled for {date}."),
    ("Next appt {date}.", "f/u next appt {date}.", "Next appt on {date}."),
)
_NOTE_NEXT_UNDATED = (
    ("Next appointment to be scheduled.",),
    ("Next appt TBD.", "Will f/u to schedule next appt."),
)
_NOTE_CONFIRM = (
    (
        "Client was asked to call therapist by {date} at 5:PM to confirm next appointment to "
        "avoid any additional charges.",
        "Closure warning given; client must confirm the next appointment by {date} at 5 PM.",
    ),
    (
        "Pt to confirm by {date} 5pm or file closed.",
        "Closure warning given; pt to confirm by {date}.",
    ),
)
_NOTE_CONFIRM_UNDATED = (("Closure warning given.",), ("Closure warning given.",))
_NOTE_UNRELATED = (
    "Received signed release of information from client's primary care provider; scanned to chart.",
    "Consulted with supervisor about treatment plan and case conceptualization.",
    "Insurance called re: authorization; submitted updated treatment plan.",
)
_SERVICE_SHORT = {
    "individual": "indiv",
    "DBT skills group": "DBT grp",
    "intake": "intake",
    "assessment": "assess",
}
_PROGRESS_NOTE = {
    "intake": ("Intake completed. Consent forms signed; treatment options reviewed.",),
    "assessment": ("Assessment battery administered; scoring and feedback to follow.",),
    "individual": (
        "Pt attended individual session. Reviewed homework and progress toward treatment goals. "
        "Plan: continue weekly.",
        "Client attended scheduled individual session; engaged and on time. No safety concerns "
        "reported.",
        "Session held as scheduled. Mood euthymic, affect congruent. Continue current plan.",
    ),
    "DBT skills group": (
        "Pt attended DBT skills group; participated in the module and completed diary card.",
        "Group attended. Homework reviewed; pt shared an example of using a skill this week.",
    ),
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How exports garble and spell things: ’ misread as cp1252, other systems' status words.
_MOJIBAKE_APOSTROPHE = "\u2019".encode().decode("cp1252")  # "â€™"
_STATUS_SPELLINGS = {
    "no_show": ("No Show", "no-show"),
    "attended": ("Kept", "Attended"),
    "late_cancel": ("Late canceled",),
    "cancelled": ("Canceled",),
}
_CALL_STEPS = {
    "vm": (("voicemail", "client"),),
    "answered": (("answered", "client"),),
    "na_vm": (("no_answer", "client"), ("voicemail", "client")),
    "na_full": (("no_answer", "client"), ("voicemail_full", "client")),
    "tp_vm": (("answered", "third_party"), ("voicemail", "client")),
    "wrong_number": (("wrong_number", "client"),),
    "na": (("no_answer", "client"),),
    "na_na": (("no_answer", "client"), ("no_answer", "client")),
}
# How compliant outreach goes: mostly a voicemail, sometimes the client picks up, sometimes a
# second try; a full mailbox or a wrong number excuses not leaving a message.
_CALL_PATTERNS = ("vm", "answered", "na_vm", "na_full", "tp_vm", "wrong_number")
_CALL_PATTERN_WEIGHTS = (0.50, 0.16, 0.14, 0.05, 0.12, 0.03)


# --- the year -------------------------------------------------------------------------------------


def _target(rule: str, opportunities: int) -> int:
    """How many violations of `rule` to inject: its rate, but at least two and one per variant."""
    return max(2, len(_VARIANTS[rule]), round(INJECTION_RATE[rule] * opportunities))


class _ClinicYear:
    """One invented clinic year, built in order: people and schedule; which no-shows carry which
    violation; each no-show's outreach and note; the calls around treatment; then the tables."""

    def __init__(self, clients: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.staff = _make_staff(clients)
        self.clients = _make_clients(self.rng, self.staff, clients)
        self.appointments = _make_appointments(self.rng, self.clients, self.staff)
        roles = self.staff.set_index("staff_id")["role"]
        self.therapists = roles.index[roles == "therapist"].tolist()
        self.supervisors = roles.index[roles == "supervisor"].tolist()
        self.director = roles.index[roles == "program_director"][0]
        self.admin = roles.index[roles == "admin"][0]
        self.staff_first = dict(zip(self.staff["staff_id"], self.staff["first_name"], strict=True))
        self.staff_phone = {
            staff_id: _staff_line(number) for number, staff_id in enumerate(self.staff["staff_id"])
        }
        self.client_first = self.clients["first_name"].tolist()
        self.client_pronoun = self.clients["pronoun"].tolist()
        self.client_therapist = self.clients["therapist_id"].tolist()
        self.client_consent = self.clients["consent_at"].tolist()
        self.contacts: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.approvals: list[dict[str, Any]] = []
        self.appointment_truth: dict[int, str] = {}
        self.forced_reminders: list[int] = []  # MS001 cases where a reminder call came first

    def build(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        """The bundle's tables and its ground truth."""
        no_shows = self._plan(self._no_shows())
        for case in no_shows.itertuples():
            self._outreach(case)
        self._reminders()
        self._cancellations()
        self._coaching()
        self._inquiries()
        self._receipt_requests()
        contacts = self._clear_of_outreach(pd.DataFrame(self.contacts))
        contacts = self._third_party_wording(contacts)
        return self._tables(contacts)

    # --- helpers ------------------------------------------------------------------------------

    def _pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def _people(self, client: int, staff_id: str) -> dict[str, str]:
        """The words a message needs about its client and caller."""
        pronoun = self.client_pronoun[client]
        return {
            "client": self.client_first[client],
            "staff": self.staff_first[staff_id],
            "phone": self.staff_phone[staff_id],
            "subject": pronoun,
            "Subject": pronoun.capitalize(),
            "object": _OBJECT[pronoun],
            "possessive": _POSSESSIVE[pronoun],
            **_VERBS[pronoun],
        }

    def _contact(self, client: int, staff_id: str, at: int, **fields: Any) -> dict[str, Any]:
        """Record a contact (an outbound call to the client unless `fields` say otherwise),
        with a call length that fits its outcome; returned so its message can follow."""
        row = {
            "client": client,
            "staff_id": staff_id,
            "at": int(at),
            "direction": "outbound",
            "channel": "phone",
            "party": "client",
            "outcome": "",
            "purpose": "missed_session",
            "appointment": -1,
            "message": "",
            "truth": "",
            "background": False,
            **fields,
        }
        seconds = {
            "voicemail": (25, 90),
            "answered": (60, 900),
            "no_answer": (15, 35),
            "voicemail_full": (20, 40),
            "wrong_number": (5, 20),
        }.get(row["outcome"])
        if row["party"] == "third_party" and row["direction"] == "outbound":
            seconds = (15, 45)
        if row["purpose"] == "coaching":
            seconds = (300, 1500)
        row["duration"] = (
            int(self.rng.integers(*seconds)) if seconds and row["channel"] == "phone" else -1
        )
        self.contacts.append(row)
        return row

    def _note(self, client: int, staff_id: str, at: int, text: str, **fields: Any) -> None:
        self.notes.append(
            {"client": client, "staff_id": staff_id, "at": int(at), "text": text, "appointment": -1}
            | {"truth": ""}
            | fields
        )

    def _approval(
        self,
        kind: str,
        staff_id: str,
        approved_by: str,
        at: int,
        client: int = -1,
        expires: int = -1,
    ) -> None:
        self.approvals.append(
            {
                "kind": kind,
                "client": client,
                "staff_id": staff_id,
                "approved_by": approved_by,
                "at": int(at),
                "expires": int(expires),
            }
        )

    def _local_minutes(self, days: ArrayLike, minutes: ArrayLike) -> np.ndarray:
        return _epoch_minutes(
            np.asarray(days, dtype="datetime64[D]").astype("datetime64[m]")
            + np.asarray(minutes, dtype=np.int64).astype("timedelta64[m]")
        )

    # --- which no-shows carry which violation ---------------------------------------------------

    def _no_shows(self) -> pd.DataFrame:
        """Each no-show with what planning needs: how many no-shows the client had in the 90 days
        up to it (a day's margin either way, as a warning comes hours after the start)."""
        appointments = self.appointments
        frame = appointments[appointments["status"] == "no_show"].sort_values(
            ["client", "at"], kind="stable"
        )
        frame = frame.rename_axis("row").reset_index()
        key = frame["client"].to_numpy() * 10**10 + frame["at"].to_numpy()
        position = np.arange(len(frame))
        frame["recent"] = position - np.searchsorted(key, key - LOOKBACK + DAY) + 1
        frame["isolated"] = np.searchsorted(key, key - LOOKBACK - DAY) == position
        earlier = frame.groupby("client")[["at", "minute"]].shift(1)
        frame["prev_at"] = earlier["at"].fillna(-1).astype(np.int64)
        frame["prev_minute"] = earlier["minute"].fillna(0).astype(np.int64)
        frame["weekday"] = _weekday(_days_of(frame["day"]))
        frame["consent_at"] = self.clients["consent_at"].to_numpy()[frame["client"]]
        return frame

    def _plan(self, no_shows: pd.DataFrame) -> pd.DataFrame:
        """Choose the no-shows that carry each violation, disjointly, before writing anything."""
        rng, n = self.rng, len(no_shows)
        client = no_shows["client"].to_numpy()
        warn = np.full(n, "", dtype=object)
        rule = np.full(n, "", dtype=object)
        variant = np.full(n, "", dtype=object)
        omit = np.full(n, "", dtype=object)

        # Closure warnings, at most one per client: compliant ones and VM003 ones go to clients
        # with a second no-show within 90 days, VM004 ones to a client's lone no-show.
        eligible = no_shows.index[no_shows["recent"] >= 2].groupby(client[no_shows["recent"] >= 2])
        isolated = no_shows.index[no_shows["isolated"]].groupby(client[no_shows["isolated"]])
        persistent = rng.permutation(np.array(sorted(eligible), dtype=np.int64))
        compliant = round(0.35 * len(persistent))
        unapproved = min(len(persistent), _target("VM003", compliant))
        taken = set(persistent[: unapproved + compliant].tolist())
        shuffled = rng.permutation(np.array(sorted(isolated), dtype=np.int64))
        lone = [c for c in shuffled.tolist() if c not in taken]
        plans = [("VM003", c) for c in persistent[:unapproved]]
        plans += [("ok", c) for c in persistent[unapproved : unapproved + compliant]]
        plans += [("VM004", c) for c in lone[: _target("VM004", compliant)]]
        for number, (kind, c) in enumerate(plans):
            choices = (isolated if kind == "VM004" else eligible)[c]
            chosen = int(choices[int(rng.integers(len(choices)))])
            warn[chosen] = kind
            if kind == "VM003":
                variant[chosen] = _VARIANTS["VM003"][number % len(_VARIANTS["VM003"])]
        warned = np.flatnonzero(warn != "")
        confirm_missing = [i for i in warned if warn[i] == "ok"] or list(warned)
        confirm_count = max(1, round(INJECTION_RATE["NT002"] * len(warned)))
        omit[confirm_missing[:confirm_count]] = "confirm_date"

        # VM001 needs a client who had not consented by the call: some consented only later.
        free = rng.permutation(np.flatnonzero(warn == ""))
        consent_at = no_shows["consent_at"].to_numpy()
        at = no_shows["at"].to_numpy()
        never = consent_at[free] == np.iinfo(np.int64).max
        later = ~never & (consent_at[free] > at[free] + DAY)
        voicemail_count = round(0.75 * n)
        named = list(free[later][:2])
        named += list(free[never][: _target("VM001", voicemail_count) - len(named)])
        for number, i in enumerate(named):
            rule[i], variant[i] = "VM001", _VARIANTS["VM001"][number % len(_VARIANTS["VM001"])]
        free = free[~np.isin(free, named)]
        start = 0
        for code, opportunities in [
            ("MS001", n),
            ("MS002", n),
            ("MS003", n),
            ("NT001", n),
            ("NT002", n),
            ("VM002", voicemail_count),
        ]:
            count = _target(code, opportunities) - (confirm_count if code == "NT002" else 0)
            variants = _VARIANTS[code][:3] if code == "NT002" else _VARIANTS[code]
            for number, i in enumerate(free[start : start + count]):
                rule[i], variant[i] = code, variants[number % len(variants)]
                if code == "NT002":
                    omit[i] = variant[i]
            start += count
        return no_shows.assign(warn=warn, rule=rule, variant=variant, omit=omit)

    # --- one no-show's outreach, warning and note ------------------------------------------------

    def _outreach(self, case: Any) -> None:
        """Outreach calls at human delays, any closure warning with its approval, the return call
        and the note, each shaped by the violation planned for this no-show (if any)."""
        rng, s, client, minute = self.rng, int(case.at), int(case.client), int(case.minute)
        therapist = self.client_therapist[client]
        people = self._people(client, therapist)
        weekday = _WEEKDAYS[int(case.weekday)]
        day = np.datetime64(case.day, "D")
        next_day = day + np.timedelta64(7, "D")
        if not pd.isna(case.next_day):
            next_day = np.datetime64(case.next_day, "D")
        next_morning = s - minute + DAY  # local midnight after the session (never across DST)
        appointment = int(case.row) if rng.random() < 0.85 else -1
        warning_day = None
        if case.warn:
            confirm = np.busday_offset(day + np.timedelta64(3, "D"), 0, roll="forward")
            warning_day = (confirm, _WEEKDAYS[int(_weekday(np.array([confirm]))[0])])

        if case.rule == "MS001":
            self.appointment_truth[int(case.row)] = "MS001"
            last, outreach = self._instead_of_calling(case, people, weekday, appointment)
        else:
            calls = self._call_plan(case)
            rows = []
            for delay, outcome, party in calls:
                rows.append(
                    self._contact(
                        client,
                        therapist,
                        s + delay,
                        outcome=outcome,
                        party=party,
                        appointment=appointment,
                    )
                )
            last_row, last = rows[-1], s + calls[-1][0]
            for row in rows:
                if row["party"] == "client":
                    row["message"] = self._call_message(
                        case, row, people, weekday, warning_day if row is last_row else None
                    )
            if case.rule == "MS002":
                rows[0]["truth"] = "MS002"
            elif case.rule in ("VM001", "VM002"):
                last_row["truth"] = case.rule
            elif case.rule == "MS003":
                self.appointment_truth[int(case.row)] = "MS003"
            if case.warn:
                self._closure_approval(case, therapist, last)
                if case.warn != "ok":
                    last_row["truth"] = case.warn
            outreach = {
                "voicemail": "voicemail",
                "answered": "spoke",
                "no_answer": "no_answer",
                "voicemail_full": "mailbox_full",
                "wrong_number": "wrong_number",
            }[calls[-1][1]]
            if last_row["outcome"] == "voicemail" and rng.random() < 0.25:
                self._contact(
                    client,
                    therapist,
                    next_morning + int(rng.integers(9 * HOUR, 19 * HOUR)),
                    direction="inbound",
                    outcome="answered",
                    purpose="scheduling",
                    appointment=appointment,
                    message=self._pick(_RETURNED_CALL).format(
                        weekday=weekday, time=_clock(minute, int(rng.integers(3)))
                    ),
                )

        confirm_text = None
        if warning_day is not None:
            confirm_text = _date_text(_as_date(warning_day[0]), int(rng.integers(2)))
        note = self._missed_session_note(case, outreach, _as_date(next_day), confirm_text)
        if case.rule == "NT001":
            self.appointment_truth[int(case.row)] = "NT001"
            if case.variant == "late_note":  # linked, but written after the 48 hours
                written = next_morning + int(rng.integers(2, 5)) * DAY
                written += int(rng.integers(9 * HOUR, 17 * HOUR))
                self._note(client, therapist, written, note, appointment=int(case.row))
            elif case.variant == "unrelated_note":  # in the window, unlinked, not about the miss
                written = next_morning + int(rng.integers(9 * HOUR, 17 * HOUR))
                self._note(client, therapist, written, self._pick(_NOTE_UNRELATED))
            return
        if last - s < CALL_WINDOW and minute + (last - s) + 90 <= 22 * HOUR and rng.random() < 0.5:
            written = last + int(rng.integers(15, 90))
        elif last - s < CALL_WINDOW:
            written = next_morning + int(rng.integers(9 * HOUR, 17 * HOUR))
        else:  # after a late call, the next day
            written = last + int(rng.integers(15, 60))
        self._note(
            client,
            therapist,
            written,
            note,
            appointment=int(case.row) if rng.random() < 0.75 else -1,
            truth="NT002" if case.omit else "",
        )

    def _call_plan(self, case: Any) -> list[tuple[int, str, str]]:
        """(minutes after the start, outcome, who answered) for each outreach call."""
        rng, room = self.rng, 21 * HOUR - int(case.minute)  # calls stop at 9 PM
        if case.warn:
            pattern = self._pick(("vm", "vm", "vm", "answered", "na_vm"))
        elif case.rule in ("VM001", "VM002", "NT001"):
            pattern = self._pick(("vm", "na_vm", "tp_vm"))
        elif case.rule == "MS003":
            pattern = "na" if case.variant == "one_no_answer" else "na_na"
        elif case.rule == "MS002":
            pattern = "vm" if case.variant == "early_voicemail" else "na_vm"
        else:
            pattern = str(rng.choice(_CALL_PATTERNS, p=_CALL_PATTERN_WEIGHTS))
        steps = _CALL_STEPS[pattern]
        speed = rng.random()
        slowest = 60 if speed < 0.55 else 240 if speed < 0.85 else 420
        earliest = 60 if case.warn else 20  # leaves time to ask the supervisor first
        first = min(int(rng.integers(earliest, slowest + 1)), room - 90 * (len(steps) - 1))
        delays = [first]
        for _ in steps[1:]:
            delays.append(delays[-1] + int(rng.integers(30, 91)))
        if case.rule == "MS002":  # the first call comes before the 20 minutes are up
            delays[0] = int(rng.integers(5, 16))
            delays[1:] = [max(d, 30) for d in delays[1:]]
        return [(d, outcome, party) for d, (outcome, party) in zip(delays, steps, strict=True)]

    def _call_message(
        self,
        case: Any,
        row: dict[str, Any],
        people: dict[str, str],
        weekday: str,
        warning: tuple[np.datetime64, str] | None,
    ) -> str:
        rng, outcome = self.rng, row["outcome"]
        time = _clock(int(case.minute), int(rng.integers(3)))
        values = people | {"time": time, "weekday": weekday, "day": warning[1] if warning else ""}
        if outcome == "answered":
            return self._pick(_SPOKE_WARNING if warning else _SPOKE).format(**values)
        if outcome == "no_answer":
            return self._pick(("", "", "No answer.", "No answer, no voicemail set up."))
        if outcome == "voicemail_full":
            return "Mailbox full; could not leave a message."
        if outcome == "wrong_number":
            return "Number not in service."
        naming = None
        if case.rule == "VM001":
            naming = case.variant
        elif self.client_consent[row["client"]] <= row["at"] - DAY and rng.random() < 0.5:
            naming = self._pick(_COMPLIANT_CLINIC_NAMES)
        parts = [
            self._pick(_GREETINGS)
            + self._pick(_SELF_NAMING_CLINIC if naming else _SELF).replace(
                "{clinic}", naming or ""
            ),
            self._pick(_MISSED),
        ]
        if rng.random() < 0.5:
            parts.append(self._pick(_CHECK_IN))
        if case.rule != "VM002":
            parts.append(self._pick(_FEE_NOTICE))
        parts.append(self._pick(_CLOSURE_WARNING if warning else _CALL_BACK))
        if rng.random() < 0.6:
            parts.append(self._pick(_CLOSING))
        separator = "\n" if rng.random() < 0.1 else " "
        return separator.join(parts).format(**values).replace("..", ".")  # "from R.P.C.."

    def _instead_of_calling(
        self, case: Any, people: dict[str, str], weekday: str, appointment: int
    ) -> tuple[int, str]:
        """MS001: a text or email instead of a call, or a call only after the 24 hours."""
        rng, s, client = self.rng, int(case.at), int(case.client)
        therapist = self.client_therapist[client]
        values = people | {"weekday": weekday, "time": _clock(int(case.minute), 1)}
        if case.variant == "called_late":
            late = s + CALL_WINDOW + int(rng.integers(90, 20 * HOUR - int(case.minute) + 1))
            row = self._contact(
                client, therapist, late, outcome="voicemail", appointment=appointment
            )
            row["message"] = self._call_message(case._replace(rule=""), row, people, weekday, None)
            return late, "late"
        if case.variant == "reminder_then_text":
            self.forced_reminders.append(int(case.row))
        at = s + int(rng.integers(30, 241))
        email = case.variant == "emailed_instead"
        self._contact(
            client,
            therapist,
            at,
            channel="email" if email else "text",
            outcome="sent",
            appointment=appointment,
            message=(_EMAIL_INSTEAD if email else _TEXT_INSTEAD).format(**values),
        )
        return at, "email" if email else "text"

    def _closure_approval(self, case: Any, therapist: str, warned_at: int) -> None:
        """The supervisor's approval of a closure warning, or what is wrong with it (VM003)."""
        rng, s, client = self.rng, int(case.at), int(case.client)
        supervisor = self._pick(self.supervisors)
        after_session = s + int(rng.integers(10, warned_at - s - 14))
        if case.warn == "VM003" and case.variant == "no_approval":
            return
        if case.warn == "VM003" and case.variant == "approved_after":
            at = s - int(case.minute) + DAY + int(rng.integers(9 * HOUR, 17 * HOUR))
            self._approval("closure_warning", therapist, supervisor, at, client)
        elif case.warn == "VM003" and case.variant == "expired":
            expires = warned_at - int(rng.integers(1, 8)) * DAY
            at = expires - int(rng.integers(20, 50)) * DAY
            self._approval("closure_warning", therapist, supervisor, at, client, expires)
        elif case.warn == "VM003":  # wrong_role: a fellow trainee "approved" it
            peer = self.therapists[(self.therapists.index(therapist) + 1) % len(self.therapists)]
            self._approval("closure_warning", therapist, peer, after_session, client)
        else:
            at = after_session
            if case.warn == "ok" and case.prev_at >= 0 and rng.random() < 0.5:
                # asked the day after the previous no-show
                at = int(case.prev_at) - int(case.prev_minute) + DAY
                at += int(rng.integers(9 * HOUR, 17 * HOUR))
            expires = -1 if rng.random() < 0.6 else warned_at + int(rng.integers(14, 61)) * DAY
            self._approval("closure_warning", therapist, supervisor, at, client, expires)

    def _missed_session_note(
        self, case: Any, outreach: str, next_day: dt.date, confirm_by: str | None
    ) -> str:
        """A missed-session note in full sentences or shorthand, leaving out what NT002 plans."""
        rng = self.rng
        style = int(rng.random() < 0.45)
        service = case.service
        values = {
            "service": service,
            "short": _SERVICE_SHORT[service],
            "date": _date_text(next_day, int(rng.choice(3, p=[0.45, 0.45, 0.10]))),
        }
        parts = [self._pick(_NOTE_NO_SHOW[style])]
        if case.omit != "outreach":
            parts.append(self._pick(_NOTE_OUTREACH[outreach][style]))
        if case.omit != "fee":
            parts.append(self._pick(_NOTE_FEE[style]))
        parts.append(
            self._pick((_NOTE_NEXT_UNDATED if case.omit == "next_date" else _NOTE_NEXT)[style])
        )
        text = [part.format(**values) for part in parts]
        if confirm_by is not None:
            confirm = _NOTE_CONFIRM_UNDATED if case.omit == "confirm_date" else _NOTE_CONFIRM
            text.append(self._pick(confirm[style]).format(date=confirm_by))
        return ("\n" if rng.random() < 0.2 else " ").join(text)

    # --- calls around treatment -------------------------------------------------------------------

    def _reminders(self) -> None:
        """Reminder calls and texts the working day before about a third of sessions."""
        rng, appointments = self.rng, self.appointments
        chosen = rng.random(len(appointments)) < 0.3
        chosen[self.forced_reminders] = True
        rows = np.flatnonzero(chosen)
        phone = (rng.random(len(rows)) < 0.7) | np.isin(rows, self.forced_reminders)
        day = np.busday_offset(_days_of(appointments["day"])[rows], -1)
        at = self._local_minutes(day, rng.integers(10 * HOUR, 17 * HOUR, len(rows)))
        by_admin = rng.random(len(rows)) < 0.5
        outcome = rng.choice(
            ["voicemail", "answered", "no_answer", "third_party"],
            len(rows),
            p=[0.45, 0.35, 0.12, 0.08],
        )
        client = appointments["client"].to_numpy()[rows]
        minute = appointments["minute"].to_numpy()[rows]
        weekday = _weekday(_days_of(appointments["day"])[rows])
        for i, row in enumerate(rows):
            who = int(client[i])
            caller = self.admin if by_admin[i] else self.client_therapist[who]
            values = self._people(who, caller) | {
                "weekday": _WEEKDAYS[int(weekday[i])],
                "time": _clock(int(minute[i]), int(rng.integers(3))),
            }
            fields: dict[str, Any] = {"purpose": "scheduling", "appointment": int(row)}
            if not phone[i]:
                fields |= {"channel": "text", "outcome": "sent"}
                fields["message"] = _REMINDER_TEXT.format(**values)
            elif outcome[i] == "third_party":
                fields |= {"party": "third_party", "outcome": "answered", "background": True}
            else:
                fields |= {"outcome": str(outcome[i]), "background": True}
                if outcome[i] == "answered":
                    fields["message"] = self._pick(_REMINDER_SPOKE).format(**values)
                elif outcome[i] == "voicemail":
                    named = self.client_consent[who] <= at[i] - DAY and rng.random() < 0.5
                    wording = _REMINDER_VOICEMAIL_NAMING_CLINIC if named else _REMINDER_VOICEMAIL
                    fields["message"] = self._pick(wording).format(**values)
            self._contact(who, caller, at[i], **fields)

    def _cancellations(self) -> None:
        """The client's call, text or email cancelling; a follow-up when the slot was moved."""
        rng, appointments = self.rng, self.appointments
        rows = np.flatnonzero(
            appointments["status"].isin(["late_cancel", "cancelled", "rescheduled"]).to_numpy()
        )
        status = appointments["status"].to_numpy()[rows]
        day = _days_of(appointments["day"])[rows]
        minute = appointments["minute"].to_numpy()[rows]
        late = status == "late_cancel"
        ahead = rng.integers(1, 4, len(rows)).astype("timedelta64[D]")
        at = self._local_minutes(
            np.where(late, day, day - ahead),
            np.where(
                late,
                np.maximum(7 * HOUR, minute - rng.integers(60, 241, len(rows))),
                rng.integers(8 * HOUR, 20 * HOUR, len(rows)),
            ),
        )
        channel = rng.choice(["phone", "text", "email"], len(rows), p=[0.5, 0.3, 0.2])
        weekday = _weekday(day)
        client = appointments["client"].to_numpy()[rows]
        for i, row in enumerate(rows):
            who = int(client[i])
            therapist = self.client_therapist[who]
            values = self._people(who, therapist) | {
                "weekday": _WEEKDAYS[int(weekday[i])],
                "reason": self._pick(_CANCEL_REASONS),
            }
            self._contact(
                who,
                therapist,
                at[i],
                direction="inbound",
                channel=str(channel[i]),
                outcome="answered" if channel[i] == "phone" else "received",
                purpose="scheduling",
                appointment=int(row),
                message=_CANCEL[str(channel[i])].format(**values),
            )
            if status[i] == "rescheduled":
                by_phone = rng.random() < 0.5
                self._contact(
                    who,
                    therapist,
                    at[i] + int(rng.integers(30, 181)),
                    channel="phone" if by_phone else "text",
                    outcome="answered" if by_phone else "sent",
                    purpose="scheduling",
                    appointment=int(row),
                    message=_RESCHEDULE["phone" if by_phone else "text"],
                    background=by_phone,
                )

    def _client_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last session day of each client."""
        by_client = self.appointments.groupby("client")["day"]
        first = _days_of(by_client.min().reindex(range(len(self.clients))))
        last = _days_of(by_client.max().reindex(range(len(self.clients))))
        return first, last

    def _coaching(self) -> None:
        """Phone-coaching approvals for the DBT team, coaching calls inside them, and PC001 calls
        that no valid approval covers (none, expired, too early, or from the wrong role)."""
        rng, clients = self.rng, self.clients
        first, last = self._client_spans()
        profile_of = self.staff.set_index("staff_id")["coaching_profile"]
        profile = profile_of.reindex(self.client_therapist).to_numpy()
        # Blanket approvals (all of a therapist's clients) before the year; some end in June.
        blanket_ends = np.datetime64("2026-06-30", "D")
        blanket_at, blanket_expiry = self._local_minutes(
            [np.datetime64("2025-08-25", "D"), blanket_ends], [10 * HOUR, 17 * HOUR]
        )
        for therapist, kind in profile_of.items():
            if kind in ("blanket", "blanket_expiring"):
                expires = blanket_expiry if kind == "blanket_expiring" else -1
                self._approval("phone_coaching", therapist, self.director, blanket_at, -1, expires)

        dbt = np.flatnonzero(clients["dbt"].to_numpy() & ~pd.isna(first))
        kind = profile[dbt]
        approved = first[dbt] + rng.integers(7, 22, len(dbt)).astype("timedelta64[D]")
        expiring = rng.random(len(dbt)) < 0.5
        expires = approved + rng.integers(90, 151, len(dbt)).astype("timedelta64[D]")
        per_client = kind == "per_client"
        approved_at = self._local_minutes(approved, np.full(len(dbt), 11 * HOUR + 30))
        expires_at = self._local_minutes(expires, np.full(len(dbt), 17 * HOUR))
        for i in np.flatnonzero(per_client).tolist():
            self._approval(
                "phone_coaching", self.client_therapist[dbt[i]], self.director, approved_at[i],
                int(dbt[i]), expires_at[i] if expiring[i] else -1,
            )  # fmt: skip
        one_day = np.timedelta64(1, "D")
        cover_from = np.where(per_client, approved + one_day, first[dbt] + one_day)
        cover_to = np.where(kind == "blanket_expiring", blanket_ends - one_day, last[dbt])
        cover_to = np.where(per_client & expiring, expires - one_day, cover_to)
        cover_to = np.minimum(cover_to, last[dbt])
        spans = np.maximum((cover_to - cover_from).astype(np.int64) + 1, 0)
        calls = rng.poisson(spans / 21)
        owner = np.repeat(np.arange(len(dbt)), calls)
        day = cover_from[owner] + (rng.random(len(owner)) * spans[owner]).astype("timedelta64[D]")
        at = self._local_minutes(day, rng.integers(17 * HOUR, 21 * HOUR, len(owner)))
        inbound = rng.random(len(owner)) < 0.75
        for i, who in enumerate(dbt[owner]):
            self._contact(
                int(who),
                self.client_therapist[who],
                at[i],
                direction="inbound" if inbound[i] else "outbound",
                outcome="answered",
                purpose="coaching",
                message=self._pick(_COACHING),
                background=not inbound[i],
            )

        # Where a coaching call would not be covered, for the PC001 injections.
        uncovered: dict[str, list[tuple[int, np.datetime64, np.datetime64]]] = {
            "expired": [
                (int(dbt[i]), cover_to[i] + 2 * one_day, last[dbt[i]])
                for i in range(len(dbt))
                if kind[i] == "blanket_expiring" or (per_client[i] and expiring[i])
            ],
            "before_approval": [
                (int(dbt[i]), first[dbt[i]] + one_day, approved[i] - one_day)
                for i in np.flatnonzero(per_client)
            ],
        }
        untrained = np.flatnonzero((profile == "") & ~pd.isna(first))
        anyone = [(int(c), first[c] + one_day, last[c]) for c in untrained]
        for name in ("expired", "before_approval"):
            uncovered[name] = [span for span in uncovered[name] if span[2] >= span[1]]
        count = _target("PC001", len(owner))
        for number in range(count):
            variant = _VARIANTS["PC001"][number % len(_VARIANTS["PC001"])]
            spans_for = uncovered.get(variant) or anyone
            if not spans_for:
                continue
            who, start, end = spans_for[int(rng.integers(len(spans_for)))]
            therapist = self.client_therapist[who]
            if variant == "wrong_approver":  # approved, but by a supervisor
                if end <= start:
                    continue
                room = min(10, int((end - start).astype(np.int64)))
                approved_day = start + np.timedelta64(int(rng.integers(0, room)), "D")
                when = self._local_minutes([approved_day], [10 * HOUR])[0]
                self._approval("phone_coaching", therapist, self._pick(self.supervisors), when, who)
                start = approved_day + one_day
            day = start + np.timedelta64(
                int(rng.integers(0, int((end - start).astype(np.int64)) + 1)), "D"
            )
            purpose, message = "coaching", self._pick(_COACHING)
            if variant == "purpose_other":
                purpose, message = "other", self._pick(_NOT_SCHEDULING)
            elif variant == "coaching_while_scheduling":
                session = np.busday_offset(day + one_day, 0, roll="forward")
                weekday = _WEEKDAYS[int(_weekday(np.array([session]))[0])]
                purpose, message = "scheduling", _COACHING_WHILE_SCHEDULING.format(weekday=weekday)
            self._contact(
                who,
                therapist,
                self._local_minutes([day], [int(rng.integers(17 * HOUR, 21 * HOUR))])[0],
                direction="inbound",
                outcome="answered",
                purpose=purpose,
                message=message,
                truth="PC001",
            )

    def _inquiries(self) -> None:
        """Relatives and others calling or emailing about a client, answered with the policy's
        neither-confirm-nor-deny statement, except the IQ001 injections."""
        rng = self.rng
        first, last = self._client_spans()
        known = np.flatnonzero(~pd.isna(first))
        count = max(8, round(0.25 * len(self.clients)))
        about = known[rng.integers(0, len(known), count)]
        span = (last[about] - first[about]).astype(np.int64) + 1
        day = first[about] + (rng.random(count) * span).astype(np.int64).astype("timedelta64[D]")
        day = np.busday_offset(day, 0, roll="forward")
        at = self._local_minutes(day, rng.integers(9 * HOUR, 17 * HOUR, count))
        by_phone = rng.random(count) < 0.6
        by_admin = rng.random(count) < 0.6
        breaches = min(count, _target("IQ001", count))
        breach_at = np.full(count, -1)
        breach_at[rng.permutation(count)[:breaches]] = np.arange(breaches)
        for i in range(count):
            who = int(about[i])
            staff_id = self.admin if by_admin[i] else self.client_therapist[who]
            values = self._people(who, staff_id)
            if breach_at[i] >= 0:
                variants = _VARIANTS["IQ001"]
                reply = _INQUIRY_BREACH[variants[breach_at[i] % len(variants)]]
            else:
                reply = (
                    _INQUIRY_REPLIES[int(rng.integers(2))] if by_phone[i] else _INQUIRY_REPLIES[2]
                )
            self._contact(
                who,
                staff_id,
                at[i],
                direction="inbound",
                channel="phone" if by_phone[i] else "email",
                party="third_party",
                outcome="answered" if by_phone[i] else "received",
                purpose="inquiry",
                message=reply.format(**values),
                truth="IQ001" if breach_at[i] >= 0 else "",
            )

    def _receipt_requests(self) -> None:
        """Clients emailing about billing: purpose other, but not by phone, so no PC001."""
        rng = self.rng
        first, last = self._client_spans()
        known = np.flatnonzero(~pd.isna(first))
        count = round(0.1 * len(self.clients))
        who = known[rng.integers(0, len(known), count)]
        at = self._local_minutes(
            np.busday_offset(last[who], 0, roll="backward"),
            rng.integers(9 * HOUR, 21 * HOUR, count),
        )
        for i in range(count):
            client = int(who[i])
            self._contact(
                client,
                self.admin,
                at[i],
                direction="inbound",
                channel="email",
                outcome="received",
                purpose="other",
                message=_RECEIPT_EMAIL.format(client=self.client_first[client]),
            )

    def _clear_of_outreach(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """Drop background outbound calls (reminders, rescheduling, coaching) that would fall
        inside a no-show's outreach window and so change what its outreach rules see."""
        appointments = self.appointments
        no_shows = appointments.loc[appointments["status"] == "no_show", ["client", "at"]]
        calls = contacts[contacts["background"]].assign(key=lambda c: c["at"] - _KEEP_CLEAR[0])
        nearest = pd.merge_asof(
            calls.reset_index().sort_values("key"),
            no_shows.rename(columns={"at": "start"}).sort_values("start"),
            left_on="key",
            right_on="start",
            by="client",
            direction="backward",
        )
        clash = nearest["start"].notna() & (nearest["at"] - nearest["start"] <= _KEEP_CLEAR[1])
        return contacts.drop(index=nearest.loc[clash, "index"].to_numpy())

    def _third_party_wording(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """Word the calls a third party answered: the policy's script, or a TP001 breach."""
        rng = self.rng
        answered = contacts.index[
            (contacts["party"] == "third_party") & (contacts["direction"] == "outbound")
        ]
        order = rng.permutation(len(answered))
        breaches = min(len(answered), _target("TP001", len(answered)))
        variants = _VARIANTS["TP001"]
        messages, truth = [], []
        for rank, index in zip(order, answered, strict=True):
            row = contacts.loc[index]
            values = self._people(int(row["client"]), row["staff_id"])
            if rank < breaches:
                messages.append(
                    _THIRD_PARTY_BREACH[variants[rank % len(variants)]].format(**values)
                )
                truth.append("TP001")
            else:
                messages.append(self._pick(_THIRD_PARTY_SCRIPT).format(**values))
                truth.append("")
        contacts.loc[answered, "message"] = messages
        contacts.loc[answered, "truth"] = truth
        return contacts

    # --- the tables -----------------------------------------------------------------------------

    def _progress_notes(self) -> pd.DataFrame:
        """Most kept sessions get a short linked progress note; they never document a no-show."""
        rng, appointments = self.rng, self.appointments
        kept = appointments[
            (appointments["status"] == "attended").to_numpy()
            & (rng.random(len(appointments)) < 0.85)
        ]
        written = kept["at"] + kept["duration"] + rng.integers(15, 181, len(kept))
        choice = rng.integers(0, 6, len(kept))
        text = np.empty(len(kept), dtype=object)
        for service, options in _PROGRESS_NOTE.items():
            of_service = (kept["service"] == service).to_numpy()
            text[of_service] = np.array(options, dtype=object)[choice[of_service] % len(options)]
        return pd.DataFrame(
            {
                "client": kept["client"],
                "staff_id": kept["staff_id"],
                "at": written,
                "text": text,
                "appointment": kept.index,
                "truth": "",
            }
        )

    def _times(self, minutes: np.ndarray) -> np.ndarray:
        """Timestamps as exports write them: mostly ISO 8601 with the clinic's offset, a few in
        UTC with Z, a few naive (clinic-local) and a few in US M/D/YYYY h:mm AM/PM form."""
        minutes = np.asarray(minutes, dtype=np.int64)
        local = _aware(np.where(minutes >= 0, minutes, 0))
        style = self.rng.choice(4, len(minutes), p=[0.88, 0.04, 0.04, 0.04])
        text = np.full(len(minutes), "", dtype=object)
        iso = local[style == 0].strftime("%Y-%m-%dT%H:%M:%S%z")
        text[style == 0] = iso.str[:-2] + ":" + iso.str[-2:]
        text[style == 1] = local[style == 1].tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        text[style == 2] = local[style == 2].strftime("%Y-%m-%dT%H:%M:%S")
        us = local[style == 3]
        text[style == 3] = [
            f"{t.month}/{t.day}/{t.year} {t.hour % 12 or 12}:{t.minute:02d} "
            + ("AM" if t.hour < 12 else "PM")
            for t in us
        ]
        text[minutes < 0] = ""
        return text

    def _typography(self, texts: pd.Series) -> pd.Series:
        """Curly apostrophes in some texts, as word processors type them, and in a few the
        mojibake of a mis-decoded export ("didn’t" read back as cp1252: "didnâ€™t")."""
        with_apostrophe = np.flatnonzero(texts.str.contains("'", regex=False).to_numpy())
        order = self.rng.permutation(with_apostrophe)
        garbled_count = max(2, round(0.003 * len(order)))
        garbled = order[:garbled_count]
        curly = order[garbled_count : garbled_count + round(0.15 * len(order))]
        texts = texts.copy()
        texts.iloc[curly] = texts.iloc[curly].str.replace("'", "\u2019")
        texts.iloc[garbled] = texts.iloc[garbled].str.replace("'", _MOJIBAKE_APOSTROPHE)
        return texts

    def _tables(self, contacts: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        """The bundle's tables as written (ids assigned in time order) and the ground truth."""
        clients, appointments = self._clients_table(), self._appointments_table()
        contacts = contacts.sort_values(["at", "client"], kind="stable").reset_index(drop=True)
        contacts_out = self._contacts_table(contacts)
        notes = pd.concat([pd.DataFrame(self.notes), self._progress_notes()], ignore_index=True)
        notes = notes.sort_values(["at", "client"], kind="stable").reset_index(drop=True)
        notes_out = self._notes_table(notes)
        calls, phone_truth = self._phone_log(contacts, contacts_out["contact_id"])
        truth = pd.concat(
            [
                phone_truth,
                pd.DataFrame(
                    {
                        "rule": list(self.appointment_truth.values()),
                        "subject_id": self._appointment_ids[list(self.appointment_truth)],
                    }
                ),
                pd.DataFrame({"rule": contacts["truth"], "subject_id": contacts_out["contact_id"]}),
                pd.DataFrame({"rule": notes["truth"], "subject_id": notes_out["note_id"]}),
            ]
        )
        truth = truth[truth["rule"] != ""].drop_duplicates()
        truth = truth.sort_values(["rule", "subject_id"]).reset_index(drop=True)
        tables = {
            "staff": self.staff[["staff_id", "first_name", "last_name", "role"]].assign(
                phone=self.staff["staff_id"].map(self.staff_phone)
            ),
            "clients": clients,
            "appointments": appointments,
            "contacts": contacts_out,
            "notes": notes_out,
            "approvals": self._approvals_table(),
            "calls": calls,
        }
        return tables, truth

    # --- the phone system's log ------------------------------------------------------------------

    def _phone_log(
        self, contacts: pd.DataFrame, contact_ids: pd.Series
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """calls.csv and its ground truth, from its own random stream so no other file changes.

        Every logged phone call from _PHONE_LOG_START is in it, at the phone system's time,
        except the LG002 ones; LG001 calls are in it and in no log; a few calls are with numbers
        that are no client's. Calls that are injected or left out are _APART from any other on
        their line, so each is paired (or not) exactly as its ground truth says.
        """
        rng = np.random.default_rng([self.seed, 8])
        start = int(self._local_minutes(np.array([_PHONE_LOG_START]), np.array([0]))[0])
        end = int(contacts["at"].max())
        lines = self.clients["phone"].to_numpy()
        phone = contacts[(contacts["channel"] == "phone") & (contacts["at"] >= start)]
        phone = phone.assign(contact_id=contact_ids[phone.index], number=lines[phone["client"]])
        phone = phone.assign(near=_nearest_on_line(phone))

        missing = _left_out(rng, phone, start, end)
        kept = phone.drop(index=missing)
        offset = np.where(
            rng.random(len(kept)) < 0.6,
            rng.integers(-30, 31, len(kept)),
            rng.integers(-180, 181, len(kept)),
        )
        low, high = self._offset_bounds(kept)
        offset = np.clip(np.where(kept["near"] < _NEAR, 0, offset), low, high).astype(np.int64)
        seconds = np.where(kept["duration"] >= 0, kept["duration"], rng.integers(10, 60, len(kept)))
        logged = pd.DataFrame(
            {
                "second": kept["at"].to_numpy() * 60 + offset,
                "direction": kept["direction"].to_numpy(),
                "number": kept["number"].to_numpy(),
                "staff_id": kept["staff_id"].to_numpy(),
                "result": kept["outcome"]
                .map({"no_answer": "no_answer", "wrong_number": "failed"})
                .fillna("connected")
                .to_numpy(),
                "duration": seconds + rng.integers(0, 9, len(kept)),
                "truth": "",
            }
        )
        unlogged = self._unlogged_calls(rng, contacts, start, end, _target("LG001", len(kept)))
        others = self._other_calls(rng, start, end, max(2, round(0.03 * len(kept))))
        calls = pd.concat([logged, unlogged, others], ignore_index=True)
        calls = calls.sort_values(["second", "number"], kind="stable", ignore_index=True)
        table = self._calls_table(rng, calls)
        truth = pd.concat(
            [
                pd.DataFrame({"rule": calls["truth"], "subject_id": table["call_id"]}),
                pd.DataFrame({"rule": "LG002", "subject_id": phone.loc[missing, "contact_id"]}),
            ]
        )
        return table, truth

    def _offset_bounds(self, kept: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per call, the offsets (seconds) that keep it on its side of every no-show's start,
        20-minute wait and 24-hour deadline: a call at the phone system's time is found by the
        timing rules exactly as at the log's. 0 is always inside."""
        appointments = self.appointments
        no_shows = appointments.loc[appointments["status"] == "no_show", ["client", "at"]]
        outbound = kept.loc[kept["direction"] == "outbound", ["client", "at"]]
        pairs = outbound.reset_index().merge(no_shows.rename(columns={"at": "start"}), on="client")
        t, s = pairs["at"] * 60, pairs["start"] * 60
        lows, highs = [], []
        for mark, inside_after in ((s, True), (s + WAIT * 60, True), (s + CALL_WINDOW * 60, False)):
            gap = mark - t
            if inside_after:  # t >= mark is one side, t < mark the other
                lows.append(gap.where(t >= mark))
                highs.append((gap - 1).where(t < mark))
            else:  # t <= mark is one side, t > mark the other
                highs.append(gap.where(t <= mark))
                lows.append((gap + 1).where(t > mark))
        bounds = (
            pd.DataFrame(
                {
                    "row": pairs["index"],
                    "low": pd.concat(lows, axis=1).max(axis=1),
                    "high": pd.concat(highs, axis=1).min(axis=1),
                }
            )
            .groupby("row")[["low", "high"]]
            .agg({"low": "max", "high": "min"})
        )
        bounds = bounds.reindex(kept.index)
        return (
            bounds["low"].fillna(-np.inf).to_numpy(),
            bounds["high"].fillna(np.inf).to_numpy(),
        )

    def _unlogged_calls(
        self, rng: np.random.Generator, contacts: pd.DataFrame, start: int, end: int, count: int
    ) -> pd.DataFrame:
        """LG001: calls with clients' numbers, half outbound, that nobody logged, each _APART
        from every logged phone call on its line and on a line and day of its own."""
        draws = 40 * count
        client = rng.integers(0, len(self.clients), draws)
        day = np.busday_offset(
            _PHONE_LOG_START + rng.integers(7, (end - start) // DAY - 7, draws).astype("m8[D]"),
            0,
            roll="forward",
            holidays=_CLOSED_DAYS,
        )
        candidates = pd.DataFrame(
            {
                "second": self._local_minutes(day, rng.integers(9 * HOUR, 18 * HOUR, draws)) * 60,
                "direction": np.where(np.arange(draws) % 2 == 0, "outbound", "inbound"),
                "number": self.clients["phone"].to_numpy()[client],
                "staff_id": np.array(self.client_therapist)[client],
                "day": day,
            }
        )
        phone = contacts[contacts["channel"] == "phone"]
        line = pd.DataFrame(
            {
                "logged": phone["at"].to_numpy() * 60,
                "direction": phone["direction"].to_numpy(),
                "number": self.clients["phone"].to_numpy()[phone["client"]],
            }
        ).sort_values("logged")
        nearest = pd.merge_asof(
            candidates.reset_index().sort_values("second"),
            line,
            left_on="second",
            right_on="logged",
            by=["number", "direction"],
            direction="nearest",
        ).set_index("index")
        apart = (nearest["second"] - nearest["logged"]).abs().reindex(candidates.index)
        free = candidates[apart.isna() | (apart >= _APART * 60)]
        free = free.drop_duplicates(["number", "day"])
        chosen = pd.concat(
            [
                free[free["direction"] == direction].head((count + 1 - i) // 2)
                for i, direction in enumerate(_VARIANTS["LG001"])
            ]
        )
        outbound = chosen["direction"] == "outbound"
        result = np.where(
            outbound,
            rng.choice(["connected", "no_answer"], len(chosen), p=[0.7, 0.3]),
            rng.choice(["connected", "voicemail"], len(chosen)),
        )
        return chosen.drop(columns="day").assign(
            result=result,
            duration=np.where(
                result == "no_answer",
                rng.integers(15, 36, len(chosen)),
                rng.integers(30, 400, len(chosen)),
            ),
            truth="LG001",
        )

    def _other_calls(
        self, rng: np.random.Generator, start: int, end: int, count: int
    ) -> pd.DataFrame:
        """Calls with numbers no client has (a pharmacy, an insurer): nothing for LG001."""
        day = np.busday_offset(
            _PHONE_LOG_START + rng.integers(0, (end - start) // DAY, count).astype("m8[D]"),
            0,
            roll="forward",
            holidays=_CLOSED_DAYS,
        )
        return pd.DataFrame(
            {
                "second": self._local_minutes(day, rng.integers(9 * HOUR, 17 * HOUR, count)) * 60,
                "direction": rng.choice(["outbound", "inbound"], count),
                "number": [f"(213) 555-02{k:02d}" for k in rng.integers(0, 100, count)],
                "staff_id": rng.choice(self.therapists, count),
                "result": "connected",
                "duration": rng.integers(30, 300, count),
                "truth": "",
            }
        )

    def _calls_table(self, rng: np.random.Generator, calls: pd.DataFrame) -> pd.DataFrame:
        """calls.csv as `auditkit import` writes it from a RingCentral export: times in the
        clinic's zone to the second, the client's number as the export spelled it, client_id
        where exactly one client has that number."""
        digits = calls["number"].str.replace(r"\D", "", regex=True)
        area, exchange, line = digits.str[:3], digits.str[3:6], digits.str[6:]
        spelled = np.select(
            [rng.random(len(calls)) < share for share in (0.4, 0.55, 0.7, 0.8, 0.9)],
            [
                "+1" + digits,
                "(" + area + ") " + exchange + "-" + line,
                area + "-" + exchange + "-" + line,
                area + "." + exchange + "." + line,
                "1 " + area + " " + exchange + " " + line,
            ],
            digits,
        )
        clinic = to_e164(calls["staff_id"].map(self.staff_phone)).fillna(_CLINIC_LINE)
        outbound = (calls["direction"] == "outbound").to_numpy()
        on_file = numbers_on_file(self.clients)
        holders = on_file["number"].value_counts()
        unique = on_file[on_file["number"].map(holders) == 1].set_index("number")["client_id"]
        local = pd.to_datetime(calls["second"], unit="s", utc=True).dt.tz_convert(TIMEZONE)
        iso = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
        width = max(6, len(str(len(calls))))
        return pd.DataFrame(
            {
                "call_id": [f"RC{i:0{width}d}" for i in range(1, len(calls) + 1)],
                "started_at": iso.str[:-2] + ":" + iso.str[-2:],
                "direction": calls["direction"],
                "from_number": np.where(outbound, clinic, spelled),
                "to_number": np.where(outbound, spelled, _CLINIC_LINE),
                "client_id": to_e164(calls["number"]).map(unique).fillna(""),
                "result": calls["result"],
                "duration_seconds": calls["duration"],
                "source": "RingCentral",
            }
        )

    @property
    def _appointment_ids(self) -> np.ndarray:
        """Appointment ids by row, with "" at -1 for records not linked to one."""
        return np.append(self.appointments["appointment_id"].to_numpy(), "")

    @property
    def _client_ids(self) -> np.ndarray:
        """Client ids by row, with "" at -1 for blanket approvals."""
        return np.append(self.clients["client_id"].to_numpy(), "")

    def _clients_table(self) -> pd.DataFrame:
        clients = self.clients
        intake = _days_of(clients["intake"])
        us_date = self.rng.random(len(clients)) < 0.05
        intake_text = np.where(
            us_date,
            [f"{d.month}/{d.day}/{d.year}" for d in intake.astype(dt.date)],
            np.datetime_as_string(intake, unit="D"),
        )
        recorded = clients["consent_kind"].isin(["intake", "later"])
        return pd.DataFrame(
            {
                "client_id": clients["client_id"],
                "first_name": clients["first_name"],
                "last_name": clients["last_name"],
                "phone": clients["phone"],
                "intake_date": intake_text,
                "may_name_clinic": clients["may_name_clinic"],
                "consent_recorded_at": self._times(np.where(recorded, clients["consent_at"], -1)),
                "therapist_id": clients["therapist_id"],
            }
        )

    def _appointments_table(self) -> pd.DataFrame:
        appointments = self.appointments
        status = appointments["status"].to_numpy().astype(object)
        spelled = self.rng.random(len(status))
        for canonical, variants in _STATUS_SPELLINGS.items():
            odd = np.flatnonzero((status == canonical) & (spelled < 0.04))
            status[odd] = np.array(variants, dtype=object)[np.arange(len(odd)) % len(variants)]
        return pd.DataFrame(
            {
                "appointment_id": appointments["appointment_id"],
                "client_id": self._client_ids[appointments["client"]],
                "staff_id": appointments["staff_id"],
                "scheduled_start": self._times(appointments["at"]),
                "duration_minutes": appointments["duration"],
                "service": appointments["service"],
                "status": status,
            }
        )

    def _contacts_table(self, contacts: pd.DataFrame) -> pd.DataFrame:
        width = max(6, len(str(len(contacts))))
        duration = contacts["duration"]
        return pd.DataFrame(
            {
                "contact_id": [f"CT{i:0{width}d}" for i in range(1, len(contacts) + 1)],
                "client_id": self._client_ids[contacts["client"]],
                "staff_id": contacts["staff_id"],
                "direction": contacts["direction"],
                "channel": contacts["channel"],
                "started_at": self._times(contacts["at"]),
                "duration_seconds": duration.astype(object).where(duration >= 0, ""),
                "party": contacts["party"],
                "outcome": contacts["outcome"],
                "purpose": contacts["purpose"],
                "appointment_id": self._appointment_ids[contacts["appointment"]],
                "message": self._typography(contacts["message"]),
            }
        )

    def _notes_table(self, notes: pd.DataFrame) -> pd.DataFrame:
        width = max(6, len(str(len(notes))))
        return pd.DataFrame(
            {
                "note_id": [f"N{i:0{width}d}" for i in range(1, len(notes) + 1)],
                "client_id": self._client_ids[notes["client"]],
                "staff_id": notes["staff_id"],
                "appointment_id": self._appointment_ids[notes["appointment"]],
                "written_at": self._times(notes["at"]),
                "text": self._typography(notes["text"]),
            }
        )

    def _approvals_table(self) -> pd.DataFrame:
        approvals = pd.DataFrame(self.approvals).sort_values("at", kind="stable")
        approvals = approvals.reset_index(drop=True)
        width = max(4, len(str(len(approvals))))
        return pd.DataFrame(
            {
                "approval_id": [f"AP{i:0{width}d}" for i in range(1, len(approvals) + 1)],
                "kind": approvals["kind"],
                "client_id": self._client_ids[approvals["client"]],
                "staff_id": approvals["staff_id"],
                "approved_by": approvals["approved_by"],
                "approved_at": self._times(approvals["at"]),
                "expires_at": self._times(approvals["expires"]),
            }
        )


def _left_out(rng: np.random.Generator, phone: pd.DataFrame, start: int, end: int) -> np.ndarray:
    """LG002: logged phone calls, half of them outbound, that the phone system never carried
    (made from a personal phone, say): each _APART from any other on its line, and a week inside
    the log's span, so the log covers it."""
    inside = phone["at"].between(start + 7 * DAY, end - 7 * DAY) & (phone["near"] >= _APART)
    target = _target("LG002", len(phone))
    pools = [phone.index[inside & (phone["direction"] == d)] for d in _VARIANTS["LG002"]]
    return np.concatenate(
        [rng.permutation(pool)[: (target + 1 - i) // 2] for i, pool in enumerate(pools)]
    )


def _nearest_on_line(phone: pd.DataFrame) -> pd.Series:
    """Minutes from each phone contact to the nearest other on its line (number and direction);
    inf for the only one."""
    ordered = phone.sort_values(["number", "direction", "at"], kind="stable")
    line = ordered["number"] + " " + ordered["direction"]
    at = ordered["at"].astype("float64")
    before = (at - at.shift()).where(line == line.shift(), np.inf)
    after = (at.shift(-1) - at).where(line == line.shift(-1), np.inf)
    return np.minimum(before, after).reindex(phone.index)


# --- broken rows ---------------------------------------------------------------------------------


def _next_id(ids: pd.Series, prefix: str, after: int = 1) -> str:
    width = len(ids.iloc[0]) - len(prefix)
    return f"{prefix}{len(ids) + after:0{width}d}"


def _with_broken_rows(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Append clearly broken extra rows (see BROKEN_ROWS), one kind of fault each, picked without
    randomness so the rest of the bundle is unchanged; nothing else refers to them."""
    staff, appointments = tables["staff"], tables["appointments"]
    contacts, notes, approvals = tables["contacts"], tables["notes"], tables["approvals"]
    referenced = set(contacts["appointment_id"]) | set(notes["appointment_id"])
    quiet = appointments[
        (appointments["status"] == "attended") & ~appointments["appointment_id"].isin(referenced)
    ]
    if len(quiet) < 3:  # a sample of a client or two: its first appointment (the loader keeps
        quiet = appointments.iloc[[0, 0, 0]]  # the first row of a repeated id; the rest go aside)
    client = quiet["client_id"].iloc[0]
    admin = staff.loc[staff["role"] == "admin", "staff_id"].iloc[0]
    therapist = staff.loc[staff["role"] == "therapist", "staff_id"].iloc[-1]
    missing_client = "C" + "9" * (len(client) - 1)
    missing_staff = "S" + "9" * (len(admin) - 1)

    unknown_status = quiet.iloc[[1]].assign(
        appointment_id=_next_id(appointments["appointment_id"], "A"), status="walked out"
    )
    duplicate = quiet.iloc[[0]].assign(status="cancelled")
    contact = {
        "client_id": client, "staff_id": admin, "direction": "inbound", "channel": "email",
        "duration_seconds": "", "party": "client", "outcome": "received", "purpose": "scheduling",
        "appointment_id": "",
    }  # fmt: skip
    bad_contacts = pd.DataFrame(
        [
            contact
            | {
                "contact_id": _next_id(contacts["contact_id"], "CT"),
                "started_at": "2026-02-30 10:15",
                "message": "Please move my appointment to the afternoon.",
            },
            contact
            | {
                "contact_id": _next_id(contacts["contact_id"], "CT", after=2),
                "client_id": missing_client,
                "started_at": quiet["scheduled_start"].iloc[0],
                "message": "Can I move my appointment?",
            },
        ]
    )
    empty_note = pd.DataFrame(
        [
            {
                "note_id": _next_id(notes["note_id"], "N"),
                "client_id": quiet["client_id"].iloc[2],
                "staff_id": quiet["staff_id"].iloc[2],
                "appointment_id": quiet["appointment_id"].iloc[2],
                "written_at": quiet["scheduled_start"].iloc[2],
                "text": "",
            }
        ]
    )
    unknown_approver = pd.DataFrame(
        [
            {
                "approval_id": _next_id(approvals["approval_id"], "AP"),
                "kind": "phone_coaching",
                "client_id": "",
                "staff_id": therapist,
                "approved_by": missing_staff,
                "approved_at": "2025-09-15T10:00:00-07:00",
                "expires_at": "",
            }
        ]
    )
    unknown_role = pd.DataFrame(
        [
            {
                "staff_id": _next_id(staff["staff_id"], "S"),
                "first_name": "Pat",
                "last_name": "Norvik",
                "role": "volunteer",
            }
        ]
    )
    return {
        "staff": pd.concat([staff, unknown_role], ignore_index=True),
        "clients": tables["clients"],
        "appointments": pd.concat([appointments, unknown_status, duplicate], ignore_index=True),
        "contacts": pd.concat([contacts, bad_contacts[contacts.columns]], ignore_index=True),
        "notes": pd.concat([notes, empty_note], ignore_index=True),
        "approvals": pd.concat([approvals, unknown_approver], ignore_index=True),
        "calls": tables["calls"],
    }
