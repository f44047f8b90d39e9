"""De-identified research extracts: a bundle researchers can study without learning who anyone is.

The extract is itself an audit bundle, so ``auditkit.load`` and the no-show notebook run on it
unchanged. Every id is replaced by a random surrogate (never a hash: a hash of a guessable id is
reversible); names, phones and free text are removed; every date of a client moves by that
client's own random whole number of weeks, on the clinic's wall clock, so weekday, time of day
and the spacing of a client's events survive while the calendar does not. The crosswalk back to
the real records goes to a key file outside the extract, which the clinic keeps.

It is a HIPAA limited data set, not Safe Harbor de-identification: dates are shifted, not
removed. docs/deidentification.md says exactly what is removed and what remains.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, is_dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.columns import fixed_width_text, looked_up
from auditkit.errors import AuditkitError
from auditkit.output import (
    check_folder,
    counted,
    holds_files_of_others,
    iso_times,
    write_atomically,
    write_csv,
)
from auditkit.policy import Policy
from auditkit.privacy import known_names, text_scrubber
from auditkit.schemas import NAME_COLUMNS, STAFF_ROLES, TABLES
from auditkit.validation import Bundle

MAX_SHIFT_WEEKS = 26  # shifts are ±1..26 weeks: never 0, so no client keeps their real dates
ID_PREFIXES = {
    "staff": "staff",
    "clients": "client",
    "appointments": "appt",
    "contacts": "contact",
    "notes": "note",
    "approvals": "approval",
}
_ID_BYTES = 6  # 48 random bits per surrogate: two extracts of one clinic almost surely share none
# Columns that name or reach a person, or hold free text that may.
REMOVED = {
    "staff": (*NAME_COLUMNS, "phone"),
    "clients": (*NAME_COLUMNS, "phone"),
    "contacts": ("message",),
    "notes": ("text",),
}
# What a removed column the bundle format requires (notes.text) holds in every row.
REMOVED_TEXT = "[removed]"
# Marks a folder as an extract: what was done to it, for the researcher; audit() refuses it.
EXTRACT_RECORD = "extract.json"
SCRUBBED = {"contacts": ("message", "message_scrubbed"), "notes": ("text", "text_scrubbed")}
KEY_COLUMNS = ["table", "real_id", "surrogate_id", "date_shift_weeks"]
MIN_CELL = 11
"""The smallest count of people, appointments or events a shared table may show (zero aside).

CMS's cell-size suppression policy for data shared under a data use agreement, the common rule
in US health-data research: counts of 1 to 10 can re-identify someone who knows the clinic.
Every aggregate output of auditkit.research takes `min_cell` with this default; 0 turns
suppression off. An extract writes a service fewer clients than this use as RARE_SERVICE."""
# What an extract writes for a service used by fewer than MIN_CELL clients.
RARE_SERVICE = "other"


@dataclass(frozen=True)
class Extract:
    """What `deidentify` wrote: the files of the extract, the key kept apart, rows per table,
    the rows of those tables the loader set aside, which the extract leaves out, and the
    distinct services, and their appointments, written as RARE_SERVICE."""

    folder: Path
    key_file: Path
    files: tuple[Path, ...]
    rows: dict[str, int]
    rows_set_aside: int
    rare_services: int
    rare_service_appointments: int


# --- randomness ----------------------------------------------------------------------------------
# Everything random comes from the operating system's cryptographic generator: a seeded PRNG's
# state can be recovered from enough of its output (the surrogate ids a researcher sees), and
# with it every client's date shift.

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _random_numbers(n: int) -> np.ndarray:
    """`n` distinct random numbers of _ID_BYTES bytes."""

    def drawn(count: int) -> np.ndarray:
        raw = np.frombuffer(secrets.token_bytes(8 * count), dtype=np.uint64)
        return raw >> np.uint64(64 - 8 * _ID_BYTES)

    numbers = drawn(n)
    while (repeated := pd.Series(numbers).duplicated().to_numpy()).any():
        numbers[repeated] = drawn(int(repeated.sum()))
    return numbers


def _surrogate_ids(prefix: str, n: int) -> tuple[pd.Series, np.ndarray]:
    """`n` distinct ids like 'client-3f9a0c7e12b4', unrelated to anything in the record, and
    the order that sorts them: their numbers', as every id of a table is as long and hex
    digits sort as they count (sorting the ids as text took 0.4 s a million)."""
    numbers = _random_numbers(n)
    digits = 2 * _ID_BYTES
    nibbles = numbers[:, None] >> np.arange(4 * (digits - 1), -1, -4, dtype=np.uint64)
    head = np.frombuffer(f"{prefix}-".encode(), dtype=np.uint8)
    cells = np.empty((n, len(head) + digits), dtype=np.uint8)
    cells[:, : len(head)] = head
    cells[:, len(head) :] = _HEX[nibbles & np.uint64(0xF)]
    return pd.Series(fixed_width_text(cells), dtype="str"), np.argsort(numbers, kind="stable")


def _random_weeks(n: int) -> np.ndarray:
    """Uniform over -26..-1 and 1..26 (the modulo bias of 2**64 over 52 is below 1e-17)."""
    draws = np.frombuffer(secrets.token_bytes(8 * n), dtype=np.uint64) % (2 * MAX_SHIFT_WEEKS)
    weeks = draws.astype(np.int64) - MAX_SHIFT_WEEKS
    return np.where(weeks >= 0, weeks + 1, weeks)


# --- dates ---------------------------------------------------------------------------------------


def shift_wall_clock(times: pd.Series, weeks: pd.Series) -> pd.Series:
    """`times` moved by `weeks` whole weeks on the local wall clock, then placed in their zone
    again, so a Tuesday 10:00 session stays a Tuesday 10:00 session across a daylight-saving
    change (moving the instant instead would make it 09:00 or 11:00).

    A wall time that happens twice is read as the first (daylight-saving) one and a wall time
    that never happens moves an hour forward, as the loader reads local times.
    """
    moved = times.dt.tz_localize(None) + pd.to_timedelta(7 * weeks.astype("int64"), unit="D")
    first = np.ones(len(moved), dtype=bool)
    return moved.dt.tz_localize(times.dt.tz, ambiguous=first, nonexistent=pd.Timedelta(hours=1))


def _row_weeks(frame: pd.DataFrame, shifts: dict[str, pd.Series]) -> pd.Series:
    """Each row's shift: its client's; a row with no client (a blanket approval) its staff
    member's own, as no one client's shift fits an approval covering all of theirs."""
    weeks = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    if "client_id" in frame:
        weeks = looked_up(shifts["clients"], frame["client_id"]).astype("Int64")
    if "staff_id" in frame:
        weeks = weeks.fillna(looked_up(shifts["staff"], frame["staff_id"]).astype("Int64"))
    return weeks


def _iso(times: pd.Series) -> pd.Series:
    """ISO 8601 with the clinic's offset, '2026-03-02T13:00:00-08:00'; blank stays blank.
    A column at a time (iso_times): str() of each time took 10 of 25 s at 1M appointments."""
    return iso_times(times).mask(times.isna())


# --- the extract ---------------------------------------------------------------------------------


def _crosswalk(
    bundle: Bundle,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """Real id to surrogate for every record (each table's rows in its order), and each
    client's and staff member's shift; the same per table, by real id (a table with no rows
    too); and per table, the order of its rows by surrogate."""
    parts, orders = {}, {}
    for name, spec in TABLES.items():
        real = bundle.tables[name][spec.id_column]
        owner = name in ("clients", "staff")
        weeks = _random_weeks(len(real)) if owner else pd.NA
        surrogates, orders[name] = _surrogate_ids(ID_PREFIXES[name], len(real))
        parts[name] = pd.DataFrame(
            {
                "table": name,
                "real_id": real.array,
                "surrogate_id": surrogates.array,
                "date_shift_weeks": pd.Series(weeks, index=real.index, dtype="Int64"),
            },
            columns=KEY_COLUMNS,
        )
    by_table = {name: part.set_index("real_id") for name, part in parts.items()}
    return pd.concat(parts.values(), ignore_index=True), by_table, orders


def _extract_table(
    name: str,
    frame: pd.DataFrame,
    surrogates: dict[str, pd.Series],
    order: np.ndarray,
    shifts: dict[str, pd.Series],
    scrub: Callable[[pd.Series], pd.Series],
    scrubbed_text: bool,
) -> pd.DataFrame:
    """One table de-identified, in surrogate-id order (`order`) so row order carries nothing
    over. `surrogates` are each table's, real id to surrogate, in its rows' order."""
    spec = TABLES[name]
    weeks = _row_weeks(frame, shifts)
    table = pd.DataFrame(index=frame.index)
    for column in spec.columns:
        values = frame[column.name]
        if column.name in REMOVED.get(name, ()):
            if column.required:  # the bundle format needs the column: it stays, emptied
                table[column.name] = REMOVED_TEXT
            continue
        if column.name == spec.id_column:
            table[column.name] = surrogates[name].array  # the rows' own, in their order
        elif column.references is not None:
            table[column.name] = looked_up(surrogates[column.references], values)
        elif column.kind == "timestamp":
            table[column.name] = _iso(shift_wall_clock(values, weeks))
        elif column.kind == "text":  # kept free text (service): typed by people, so scrubbed
            table[column.name] = scrub(values)
        else:
            table[column.name] = values
    if scrubbed_text and name in SCRUBBED:
        source, scrubbed = SCRUBBED[name]
        table[scrubbed] = scrub(frame[source])
    return table.take(order).reset_index(drop=True)


def _rare_services_collapsed(services: pd.Series, clients: pd.Series) -> tuple[pd.Series, int, int]:
    """`services` with each value fewer than MIN_CELL distinct `clients` use written as
    RARE_SERVICE, how many distinct values that was and how many rows: a rare service can
    describe its few clients ("Lopez family", "court-ordered eval"), and a research table lists
    every value as a label, even on a suppressed row. Values compare as written, as research
    groups them, so a variant spelling a few clients have is rare on its own. Blank stays."""
    code, values = pd.factorize(services)  # blank: -1
    pairs = pd.DataFrame({"service": code, "client": pd.factorize(clients)[0]})
    used = pairs[code >= 0].drop_duplicates()["service"].to_numpy()
    rare = (np.bincount(used, minlength=len(values)) < MIN_CELL) & (values != RARE_SERVICE)
    collapsed = np.append(rare, False)[code]  # (-1, a blank, takes the appended False)
    written = services.mask(pd.Series(collapsed, index=services.index), RARE_SERVICE)
    return written, int(rare.sum()), int(collapsed.sum())


def _policy_toml(policy: Policy) -> str:
    """The policy's time zone, numbers and approver roles: only values that can name no one, so
    the clinic's name, aliases and phrases (and any text a later section adds) stay behind."""
    sections: dict[str, dict[str, object]] = {"clinic": {"timezone": policy.clinic.timezone}}
    for section in fields(policy):
        values = getattr(policy, section.name)
        if section.name != "clinic" and is_dataclass(values) and not isinstance(values, type):
            sections[section.name] = {
                key: value
                for key, value in asdict(values).items()
                if isinstance(value, int)
                or (isinstance(value, tuple) and set(value) <= set(STAFF_ROLES))
            }
    lines = ["# Written by auditkit deidentify: time zone, rule numbers and approver roles only."]
    for name, settings in sections.items():
        lines += ["", f"[{name}]"]
        # JSON strings, numbers and arrays of strings are valid TOML values.
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _is_key_file(path: Path) -> bool:
    """Whether `path` starts with a key file's header, so writing a new key may replace it."""
    header = ",".join(KEY_COLUMNS).encode("ascii")
    try:
        with path.open("rb") as handle:
            return handle.readline(len(header) + 2).rstrip(b"\r\n") == header
    except OSError:  # unreadable: not one to replace unseen
        return False


def _check_places(bundle: Bundle, folder: Path, key_file: Path) -> None:
    """Refuse any layout that would hand the researcher the key or mix in real records."""
    if key_file.is_relative_to(folder):
        raise AuditkitError(
            f"The key file {key_file} would be inside the extract folder {folder}. The key "
            "re-identifies every record and must never reach the researcher: choose a key file "
            f"outside the extract (the default, {folder.parent / (folder.name + '.key.csv')}, is "
            "beside it)."
        )
    if (bundle.path / EXTRACT_RECORD).is_file():
        raise AuditkitError(
            f"{bundle.path} is already a de-identified extract ({EXTRACT_RECORD}): made again, "
            "every client's dates would be shifted a second time, and its key would lead back "
            "only to the first extract's surrogates. Make the extract from the clinic's bundle."
        )
    if folder == bundle.path.resolve():
        raise AuditkitError(
            f"The extract folder {folder} is the bundle itself; choose a new, empty folder."
        )
    if folder.is_relative_to(bundle.path.resolve()):
        raise AuditkitError(
            f"The extract folder {folder} is inside the bundle {bundle.path}: the extract, and "
            "its key beside it, would travel with the clinic's records wherever the bundle is "
            "copied. Choose a folder outside the bundle."
        )
    check_folder(folder, "The extract folder")
    if key_file.is_dir():
        raise AuditkitError(
            f"The key file {key_file} is a folder. Name a file for the key, such as "
            f"{key_file / (folder.name + '.key.csv')}."
        )
    if key_file.exists() and not _is_key_file(key_file):
        raise AuditkitError(
            f"The key file {key_file} already exists and is not an earlier auditkit key: writing "
            "the key would replace it. Name a new file for the key."
        )
    check_folder(key_file.parent, "The key file's folder")
    if extract := next((p for p in key_file.parents if (p / EXTRACT_RECORD).is_file()), None):
        raise AuditkitError(
            f"The key file {key_file} would be inside {extract}, an extract folder (it holds "
            f"{EXTRACT_RECORD}): the key must never reach a researcher. Choose a key file "
            "outside every extract."
        )
    if holds_files_of_others(folder, EXTRACT_RECORD):
        raise AuditkitError(
            f"The extract folder {folder} already holds files and is not an earlier extract. "
            "Everything in it would reach the researcher: choose a new or empty folder."
        )
    if others := _not_of_an_extract(folder):
        raise AuditkitError(
            f"The extract folder {folder} is an earlier extract, but also holds what an "
            f"extract does not: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''}. "
            "Everything in it would reach the researcher: move those out, or choose a new or "
            "empty folder."
        )


# What an extract's folder holds: its tables, its policy and its record.
EXTRACT_FILES = frozenset({*(f"{name}.csv" for name in TABLES), "policy.toml", EXTRACT_RECORD})


def _not_of_an_extract(folder: Path) -> list[str]:
    """The names in an earlier extract's `folder` that an extract does not write there (a
    write cut short leaves a temporary file, of another extract's ids: one of them)."""
    if not (folder / EXTRACT_RECORD).is_file():
        return []
    return sorted(path.name for path in folder.iterdir() if path.name not in EXTRACT_FILES)


def _record(
    bundle: Bundle,
    scrubbed_text: bool,
    kept: dict[str, list[str]],
    dropped: dict[str, list[str]],
    rows: dict[str, int],
    rare: tuple[int, int],
) -> dict[str, object]:
    """extract.json: what the extract is and what was done to it, for the researcher and for
    whoever reviews the data use agreement. Nothing about the key."""
    return {
        "kind": "auditkit de-identified research extract",
        "auditkit_version": version("auditkit"),
        "created": dt.datetime.now(bundle.policy.tz).date().isoformat(),
        "date_shifted": True,
        "hipaa": (
            "A limited data set, not Safe Harbor de-identification: names and phone numbers are "
            "removed, but dates are shifted, not removed. Share it only under a data use "
            "agreement."
        ),
        "date_shift": (
            f"Each client's dates and times moved by one random whole number of weeks (1 to "
            f"{MAX_SHIFT_WEEKS}, earlier or later, never 0) on the clinic's wall clock: weekday, "
            "time of day and the days between a client's events are kept, the calendar is not. "
            "Approvals for all of a staff member's clients moved by that staff member's own "
            "random shift."
        ),
        "timezone": bundle.policy.clinic.timezone,
        "ids": (
            "Random surrogates, unrelated to the real ids and different in every extract. The "
            "crosswalk is in a key file the clinic keeps; it is not part of this extract."
        ),
        "removed": {name: list(columns) for name, columns in REMOVED.items()},
        "removed_export_columns": dropped,
        "placeholders": {"notes.text": REMOVED_TEXT},
        "scrubbed_text": scrubbed_text,
        "not_included": [
            "rows the loader set aside (rejected rows)",
            "the policy's clinic name, aliases and phrases (scrubbed text reads [clinic] where "
            "it named the clinic)",
            "any phone-system call log (calls.csv): it is phone numbers throughout",
            "the key file",
        ],
        "kept": kept,
        "rows": rows,
        "rare_services": {
            "written_as": RARE_SERVICE,
            "fewer_clients_than": MIN_CELL,
            "values": rare[0],
            "appointments": rare[1],
            "why": (
                f"A service fewer than {MIN_CELL} distinct clients use (as typed, after masking) "
                f"is written as '{RARE_SERVICE}': a rare service can describe the few people it "
                "was for, and research tables list every service. Counts only: the values are in "
                "neither this extract nor its key file."
            ),
        },
    }


def deidentify(
    bundle: Bundle,
    out: Path,
    key_file: Path | None = None,
    scrubbed_text: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Extract:
    """Write a de-identified extract of `bundle` into the folder `out`, and the crosswalk that
    re-identifies it to `key_file` (default: `<out>.key.csv` beside the folder, never inside).

    With `scrubbed_text`, contacts and notes get a message_scrubbed / text_scrubbed column: the
    text with the clinic's name, people's names, emails, phone numbers, dates and times masked.
    Otherwise no free text is kept. A service fewer than MIN_CELL clients use is written as
    RARE_SERVICE (extract.json counts them). Raises AuditkitError, before writing anything, for
    a key file inside the extract or one that would replace a file other than an earlier key.
    `progress` hears a line as each file is written (scrubbing a large bundle's text takes a
    while).
    """
    say = progress or (lambda _message: None)
    folder = Path(out).resolve()
    key_file = Path(key_file or folder.parent / f"{folder.name}.key.csv").resolve()
    _check_places(bundle, folder, key_file)

    crosswalk, by_table, orders = _crosswalk(bundle)
    surrogates = {name: part["surrogate_id"] for name, part in by_table.items()}
    shifts = {name: by_table[name]["date_shift_weeks"] for name in ("clients", "staff")}
    clinic = bundle.policy.clinic
    scrub = text_scrubber(known_names(bundle), clinic=clinic.name, aliases=clinic.aliases)
    write_csv(crosswalk, key_file)  # first: no extract ever exists without its key
    say(f"wrote the key file {key_file.name}")

    files, rows, kept, dropped = [], {}, {}, {}
    rare = (0, 0)
    for name in TABLES:  # the bundle's tables only: a phone-system call log is all phone numbers
        frame = bundle.tables[name]
        table = _extract_table(name, frame, surrogates, orders[name], shifts, scrub, scrubbed_text)
        if name == "appointments":
            table["service"], values, appointments = _rare_services_collapsed(
                table["service"], table["client_id"]
            )
            rare = (values, appointments)
        path = folder / f"{name}.csv"
        write_csv(table, path)
        say(f"wrote {path.name}: {counted(len(table), 'row')}")
        files.append(path)
        rows[name], kept[name] = len(table), list(table.columns)
        model = {c.name for c in TABLES[name].columns} | {"source_line"}
        if extra := [c for c in frame.columns if c not in model]:
            dropped[name] = extra
    policy_path = folder / "policy.toml"
    write_atomically(policy_path, _policy_toml(bundle.policy).encode("utf-8"))
    files.append(policy_path)

    record = _record(bundle, scrubbed_text, kept, dropped, rows, rare)
    record_path = folder / EXTRACT_RECORD
    write_atomically(record_path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
    files.append(record_path)
    coverage = bundle.coverage
    set_aside = int(coverage.loc[coverage["table"].isin(list(TABLES)), "rejected"].sum())
    return Extract(folder, key_file, tuple(files), rows, set_aside, *rare)
