"""Import a practice-management or phone-system export (CSV or Excel .xlsx) into a bundle table,
through a mapping.

A mapping (TOML: a preset shipped in auditkit/presets, or a clinic's own file) names the bundle
table the export fills, which source column feeds which bundle column, how the source's values
read in the bundle's vocabulary, and the time zone of its times. Every row of the export is
written: a value the mapping can't read keeps its text with the reason appended in brackets, so
the loader sets that row aside and lists it in rejected.csv, on every audit, rather than the
import dropping it quietly.

A workbook's cells come typed (workbooks.read_worksheet): a date-time is a wall time already and
is read as one, not through the mapping's date_format; a time in a duration column counts its
seconds or minutes; a whole number stored as a float is written without its '.0'.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditkit.columns import arrow_strings, day_start, is_in, take_text
from auditkit.errors import BundleError, MappingError
from auditkit.loading import find_table_file, read_csv, read_table
from auditkit.output import csv_text, iso_times, write_atomically
from auditkit.parsing import (
    NO_TIME_OF_DAY,
    dates_alone,
    day_first_example,
    parse_count,
    parse_timestamp,
    parse_vocabulary,
    repair_text,
)
from auditkit.phones import CLIENT_NUMBER_READS, client_numbers, numbers_on_file, to_e164
from auditkit.policy import Policy, load_policy, read_toml, zone_problem
from auditkit.presets import FOLDER, PRESETS
from auditkit.schemas import CALLS, TABLES, DateAlone, TableSpec
from auditkit.tables import RawTable, normalise_column_name, printable, printable_names
from auditkit.validation import commonest_reason, validate_table
from auditkit.workbooks import cells_as_text, old_excel_workbook, read_worksheet, typed_as

IMPORTABLE: dict[str, TableSpec] = {**TABLES, CALLS.name: CALLS}
SET_ASIDE_COLUMNS = ["line", "record_id", "column", "value", "reason"]
EXPORT_SUFFIXES = (".csv", ".xlsx")
# The most digits of a number on a clinic's phone system that is an extension, not a number
# dialled from outside: such a number stored by Excel as a number has lost nothing that mattered.
_EXTENSION_DIGITS = 6
_KEYS = ("name", "table", "timezone", "date_format", "columns", "values", "set_aside", "constants")


@dataclass(frozen=True)
class Mapping:
    """How one kind of export reads as a bundle table. Value keys are stored as `value_key`
    gives them, so 'No Show', 'no_show' and 'NO-SHOW' in an export all find one entry."""

    name: str
    table: str
    columns: dict[str, str]  # source column -> bundle column; several may feed one (joined)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # bundle column -> map
    set_aside: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> value: why
    constants: dict[str, str] = field(default_factory=dict)  # bundle column -> every row's value
    timezone: str | None = None  # of times without an offset; None: the clinic's
    date_format: str | None = None  # strptime format; None: the forms the loader reads

    @property
    def spec(self) -> TableSpec:
        return IMPORTABLE[self.table]


@dataclass(frozen=True)
class Imported:
    """What an import wrote, and the export's rows it could not read, all written marked so the
    loader sets them aside: those with a value the mapping can't read, and those of the wrong
    width, written with their id alone (their values can't be told apart)."""

    path: Path
    rows: int  # rows of the export written: every one
    replaced: int  # rows already in the file with an id this export holds again
    set_aside: pd.DataFrame  # SET_ASIDE_COLUMNS; `line` is the export's (a worksheet's row)
    clients: dict[str, int] = field(default_factory=dict)  # calls only: how numbers matched
    malformed: int = 0  # of the rows set aside, those of the wrong width
    repeated: pd.DataFrame = field(  # ids on more than one row: record_id, rows, lines
        default_factory=lambda: pd.DataFrame(columns=["record_id", "rows", "lines"])
    )
    unsaved_formulas: int = 0  # of the rows set aside, those with a formula Excel never saved
    # Phone numbers Excel stored as numbers that read as no full number (a leading 0 or + lost):
    # written as their digits, matched to no client. SET_ASIDE_COLUMNS, though kept.
    lost_numbers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    )
    sheet: str | None = None  # a workbook's: the worksheet read
    header_line: int = 1  # the export's header row or line (a report's title may come before it)
    # A workbook's other visible sheets with the header's mapped columns: rows not read.
    alike_sheets: tuple[str, ...] = ()
    unmapped_only: int = 0  # of the rows set aside, those with values only in unmapped columns


def value_key(values: pd.Series) -> pd.Series:
    """Case, spaces, hyphens and underscores don't matter: 'Late Cancel' is 'late-cancel'."""
    return values.str.lower().str.replace(r"[\s_\-]+", " ", regex=True).str.strip()


# --- mappings --------------------------------------------------------------------------------


def _table_of(raw: Any, where: str, key: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MappingError(f"In {where}, [{key}] must be a table of keys.")
    return raw


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"In {where}, '{key}' must be text, not {value!r}.")
    return value


def _vocabulary(spec: TableSpec, column: str, where: str, key: str) -> tuple[str, ...]:
    found = {c.name: c for c in spec.columns}.get(column)
    if found is None or found.kind != "vocab":
        vocab = ", ".join(c.name for c in spec.columns if c.kind == "vocab")
        raise MappingError(
            f"In {where}, [{key}.{column}] maps values of a column that has no fixed values; "
            f"the {spec.name} columns that do: {vocab}."
        )
    return found.vocabulary


def mapping_from_dict(raw: dict[str, Any], where: str) -> Mapping:
    """A checked Mapping from parsed TOML; `where` names it in error messages."""
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise MappingError(
            f"Unknown key '{unknown[0]}' in {where}. Known keys: {', '.join(_KEYS)}."
        )
    table = _text(raw.get("table"), where, "table")
    if table not in IMPORTABLE:
        raise MappingError(
            f"In {where}, table {table!r} is not a bundle table: {', '.join(IMPORTABLE)}."
        )
    spec = IMPORTABLE[table]
    known = [c.name for c in spec.columns]
    columns = {
        _text(source, where, "columns"): _text(target, where, f"columns.{source}")
        for source, target in _table_of(raw.get("columns", {}), where, "columns").items()
    }
    constants = {
        target: _text(value, where, f"constants.{target}")
        for target, value in _table_of(raw.get("constants", {}), where, "constants").items()
    }
    by_key: dict[str, str] = {}
    for source in columns:
        same = by_key.setdefault(normalise_column_name(source), source)
        if same != source:
            raise MappingError(
                f"In {where}, [columns] names the export's column twice, as {same!r} and "
                f"{source!r} (case, spaces and hyphens don't matter); keep one."
            )
    for target in [*columns.values(), *constants]:
        if target not in known:
            raise MappingError(
                f"In {where}, {target!r} is not a column of the {table} table: {', '.join(known)}."
            )
    both = [target for target in constants if target in columns.values()]
    if both:
        raise MappingError(
            f"In {where}, {both[0]} is both a constant and mapped from a source column; keep one."
        )
    missing = [c for c in spec.required_columns if c not in {*columns.values(), *constants}]
    if missing:
        raise MappingError(
            f"{where} maps no source column to {missing[0]}, which the {table} table requires."
        )
    maps: dict[str, dict[str, dict[str, str]]] = {"values": {}, "set_aside": {}}
    for key, checked in maps.items():
        for column, entries in _table_of(raw.get(key, {}), where, key).items():
            vocabulary = _vocabulary(spec, column, where, key)
            if column not in columns.values():
                raise MappingError(f"In {where}, [{key}.{column}] is for a column nothing maps.")
            entries = _table_of(entries, where, f"{key}.{column}")
            for source, target in entries.items():
                _text(target, where, f"{key}.{column}.{source}")
                if key == "values" and target not in vocabulary:
                    raise MappingError(
                        f"In {where}, [values.{column}] maps {source!r} to {target!r}, which is "
                        f"not one of: {', '.join(vocabulary)}."
                    )
            keys = value_key(pd.Series(list(entries), dtype="str"))
            first = dict(zip(keys[::-1], list(entries)[::-1], strict=True))  # key -> first
            again = [(first[k], e) for k, e in zip(keys, entries, strict=True) if first[k] != e]
            if again:
                raise MappingError(
                    f"In {where}, [{key}.{column}] lists {again[0][0]!r} and {again[0][1]!r}, "
                    "which are one value (case, spaces, hyphens and underscores don't matter); "
                    "keep one."
                )
            checked[column] = dict(zip(keys, entries.values(), strict=True))
    for column, value in constants.items():
        vocabulary = {c.name: c.vocabulary for c in spec.columns}[column]
        if vocabulary and value not in vocabulary:
            raise MappingError(
                f"In {where}, constant {column} = {value!r} is not one of: {', '.join(vocabulary)}."
            )
    timezone = raw.get("timezone")
    if timezone is not None:
        problem = zone_problem(_text(timezone, where, "timezone"))
        if problem:
            raise MappingError(f"In {where}, timezone {timezone!r} {problem}.")
    date_format = raw.get("date_format")
    if date_format is not None and "%z" in _text(date_format, where, "date_format"):
        raise MappingError(
            f"In {where}, date_format holds %z: times with an offset are read without a format; "
            "leave date_format out."
        )
    if date_format is not None:
        try:
            pd.to_datetime(pd.Series(["2026-03-02"]), format=date_format, errors="coerce")
        except ValueError as err:  # "%Q": a directive strptime does not know
            raise MappingError(
                f"In {where}, date_format {date_format!r} is not a strptime format: {err}; "
                "write it as in '%d-%b-%Y %H:%M'."
            ) from None
    return Mapping(
        name=_text(raw.get("name", Path(where).stem), where, "name"),
        table=table,
        columns=columns,
        values=maps["values"],
        set_aside=maps["set_aside"],
        constants=constants,
        timezone=timezone,
        date_format=date_format,
    )


def load_mapping(path: Path | str) -> Mapping:
    """A mapping file, checked: an unknown key or a bad value stops with a message naming it."""
    path = Path(path)
    return mapping_from_dict(read_toml(path, "Mapping", MappingError), str(path))


def preset(name: str) -> Mapping:
    """A mapping shipped with auditkit, by name (see PRESETS)."""
    if name not in PRESETS:
        raise MappingError(f"There is no preset {name!r}. Presets: {', '.join(PRESETS)}.")
    text = (FOLDER / f"{name}.toml").read_text(encoding="utf-8")
    return mapping_from_dict(tomllib.loads(text), f"the {name} preset")


# --- reading the export ----------------------------------------------------------------------


def _marked(text: pd.Series, reasons: pd.Series) -> pd.Series:
    """The text, with the reason appended where there is one, so the loader can't read it."""
    marked = reasons.notna()
    if not marked.any():
        return text
    text = text.copy()
    text[marked] = text[marked].fillna("") + " [set aside: " + reasons[marked] + "]"
    return text


def _mapped_columns(raw: RawTable, mapping: Mapping) -> list[tuple[str, pd.Series]]:
    """Each source column the mapping reads, in its order: the bundle column it is read as, and
    its cells. A source column missing, or named twice, stops the import in words."""
    frame, file = raw.frame, raw.file
    by_key: dict[str, list[str]] = {}
    for column in frame.columns:
        by_key.setdefault(normalise_column_name(column), []).append(column)
    mapped = []
    for source, target in mapping.columns.items():
        found = by_key.get(normalise_column_name(source), [])
        if not found:
            others = printable_names(list(raw.other_sheets))
            raise BundleError(
                f"{file} has no '{source}' column, which the {mapping.name} mapping reads as "
                f"{target}. Columns found: "
                f"{printable_names(list(map(str, raw.header or frame.columns))) or 'none'}."
                + (
                    f" Sheet {printable(str(raw.sheet))} was read; the workbook's other sheets: "
                    f"{others}. Name the one holding the export (auditkit import --sheet NAME)."
                    if others
                    else ""
                )
            )
        if len(found) > 1:
            raise BundleError(
                f"{file} has {len(found)} columns named '{printable(found[0])}' (case, spaces "
                f"and hyphens don't matter), which the {mapping.name} mapping reads as {target}: "
                "it can't tell which to read. Rename or remove the others."
            )
        mapped.append((target, frame[found[0]]))
    return mapped


def _source_values(
    raw: RawTable, mapping: Mapping
) -> tuple[dict[str, pd.Series], dict[str, pd.Series | None], dict[str, pd.Series]]:
    """Each mapped bundle column's text: its source columns' values joined with a space. And,
    for each time column, which rows held Excel date-times, written in ISO 8601 already, and
    (read from several columns, a Date and a Time) which of its columns each row left blank."""
    kinds = {c.name: c.kind for c in mapping.spec.columns}
    cells: dict[str, list[pd.Series]] = {}
    for target, column in _mapped_columns(raw, mapping):
        cells.setdefault(target, []).append(column)
    joined: dict[str, pd.Series] = {}
    excel_times: dict[str, pd.Series | None] = {}
    blank_parts: dict[str, pd.Series] = {}
    for target, columns in cells.items():
        if kinds[target] == "timestamp":
            if len(columns) > 1:
                blank_parts[target] = _blank_parts(columns)
            parts, excel_times[target] = _excel_times(columns)
        elif kinds[target] == "count":
            parts = [_excel_durations(column, target) for column in columns]
        else:
            parts = [cells_as_text(column) for column in columns]
        text = parts[0].str.strip().fillna("")
        for part in parts[1:]:
            text = text + " " + part.str.strip().fillna("")
        joined[target] = text.str.strip().replace("", pd.NA).astype("str")
    return joined, excel_times, blank_parts


def _blank_parts(columns: list[pd.Series]) -> pd.Series:
    """Which of the columns each row leaves blank, by name ('Time'), where others hold a
    value: NA where none is blank, or every one."""
    blank = np.column_stack([cells_as_text(c).str.strip().fillna("").eq("") for c in columns])
    partly = blank.any(axis=1) & ~blank.all(axis=1)
    return _names_where([str(c.name) for c in columns], blank, columns[0].index).where(partly)


def _names_where(names: list[str], marks: np.ndarray, index: pd.Index) -> pd.Series:
    """For each row, the names (columns of an export, a few dozen at most) its marks hold,
    joined with commas: 'Date, Time'; '' where none."""
    joined = pd.Series("", index=index, dtype="str")
    for k, name in enumerate(names):
        joined = joined + np.where(marks[:, k], f", {printable(name)}", "")
    return joined.str[2:]


def _is_clock(cells: pd.Series) -> np.ndarray:
    """Which cells Excel typed as a time of day or a span of time ([h]:mm:ss)."""
    return typed_as(cells, datetime.time, datetime.timedelta)


def _spans(cells: pd.Series) -> pd.Series:
    """Excel times of day and spans of time as pandas Timedeltas (from midnight, for a time)."""
    of_day = typed_as(cells, datetime.time)
    spans = pd.Series(pd.NaT, index=cells.index, dtype="timedelta64[us]")
    spans[of_day] = pd.to_timedelta(cells[of_day].astype("str")).to_numpy()
    spans[~of_day] = pd.to_timedelta(cells[~of_day]).to_numpy()
    return spans


# A time of day written as text beside a date Excel typed: 13:00, 1:00 PM, 1:00:00 p.m.
_TIME_OF_DAY = r"^(?P<H>\d{1,2}):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?\s*(?P<p>[AaPp]\.?[Mm]\.?)?$"


def _time_of_day(text: pd.Series) -> pd.Series:
    """Times of day written as text, as Timedeltas from midnight; NaT where none is written."""
    parts = text.str.extract(_TIME_OF_DAY)
    hours = parts["H"].astype("float64")
    half = parts["p"].str[0].str.lower()
    twelve = half.notna()
    valid = (hours <= 23) & ~twelve | (hours >= 1) & (hours <= 12) & twelve
    hours = hours.where(~twelve, hours % 12 + 12 * (half == "p"))
    seconds = (
        hours * 3600 + parts["M"].astype("float64") * 60 + parts["S"].astype("float64").fillna(0)
    )
    return pd.to_timedelta(seconds.where(valid), unit="s")


def _excel_times(columns: list[pd.Series]) -> tuple[list[pd.Series], pd.Series | None]:
    """The cells feeding one time column as text, and which rows are Excel date-times.

    In such a row one cell is a date-time Excel typed, and any other with a value a time of
    day (a Date and a Time column): one Excel typed, or text that reads as one (13:00, 1:00 PM),
    the date-time being at midnight. It is a wall time, written as ISO 8601 in the first part
    (the others blank), never read through the mapping's date_format, which is for text. Any
    other row is text, as cells_as_text has it.
    """
    if all(c.dtype != object for c in columns):  # a CSV's: text, every cell
        return [c.astype("str") for c in columns], None
    dated = np.column_stack([typed_as(c, datetime.datetime) for c in columns])
    one_date = dated.sum(axis=1) == 1
    typed_clock = np.column_stack([_is_clock(c) for c in columns])
    parts = [cells_as_text(c) for c in columns]
    empty = np.column_stack([part.isna() for part in parts])
    written = [  # text beside a typed date that reads as a time of day
        _time_of_day(part.where(~(dated | typed_clock)[:, k] & one_date))
        for k, part in enumerate(parts)
    ]
    clock = typed_clock | np.column_stack([times.notna() for times in written])
    excel = (dated | clock | empty).all(axis=1) & one_date
    dates = pd.concat(
        [pd.to_datetime(c.where(dated[:, k])) for k, c in enumerate(columns)], axis=1
    ).max(axis=1)
    spans = pd.concat(
        [_spans(c.where(typed_clock[:, k])).fillna(written[k]) for k, c in enumerate(columns)],
        axis=1,
    )
    midnight = (dates == dates.dt.normalize()).to_numpy()
    excel &= ~clock.any(axis=1) | midnight
    wall = _iso_whole_seconds(dates + spans.sum(axis=1))
    # A date cell with no time beside it is a date alone, as the loader reads a workbook's
    # (Excel keeps a date as its midnight): read as its column reads one (schemas.DateAlone).
    alone = excel & ~clock.any(axis=1) & midnight
    wall[alone] = dates[alone].dt.strftime("%Y-%m-%d")
    parts = [wall.where(excel, parts[0]), *(part.mask(excel) for part in parts[1:])]
    return parts, pd.Series(excel, index=columns[0].index)


def _excel_durations(cells: pd.Series, column: str) -> pd.Series:
    """Duration cells as text: an Excel time (00:01:12, typed as a time of day or a span) as
    the whole number of seconds or minutes `column` counts. One that is no whole number of
    them keeps its clock, which _counts marks: 00:00:50 is no number of minutes."""
    text = cells_as_text(cells)
    if cells.dtype != object:  # a CSV's: text, every cell
        return text
    clock = _is_clock(cells)
    if not clock.any():
        return text
    unit = pd.Timedelta(minutes=1) if column.endswith("_minutes") else pd.Timedelta(seconds=1)
    counts = _spans(cells[clock]) / unit
    whole = counts == np.floor(counts)
    text[clock] = counts.map("{:.0f}".format).where(whole, text[clock]).to_numpy()
    return text


def _mapped(text: pd.Series, column: str, mapping: Mapping) -> tuple[pd.Series, pd.Series]:
    """Values through the mapping's value map: (bundle text, reason where set aside). Worked out
    once per distinct value: an export repeats a handful of words a million times.

    A column the mapping gives no value map is written as it is, and each value is checked as
    the loader will read it (its synonyms: 'Canceled' is cancelled): one it can't read is marked
    now, so the import lists it, rather than found by the next audit."""
    codes, distinct = pd.factorize(text)
    values = pd.Series(distinct, dtype="str")
    key = value_key(values)
    reasons = key.map(mapping.set_aside.get(column, {})).astype("str")
    if column in mapping.values:
        mapped = key.map(mapping.values[column]).astype("str")
        unknown = mapped.isna() & reasons.isna()
        reasons = reasons.mask(unknown, f"the {mapping.name} mapping has no {column} for it")
        values = mapped.fillna(values)
    else:
        vocabulary = {c.name: c.vocabulary for c in mapping.spec.columns}[column]
        _, unread = parse_vocabulary(repair_text(values), vocabulary, column)
        reasons = reasons.mask(
            unread.notna() & reasons.isna(),
            f"not one of: {', '.join(vocabulary)} (the {mapping.name} mapping has no "
            f"[values.{column}] to read it as one)",
        )
    reasons = take_text(reasons, codes, text.index)
    return _marked(take_text(values, codes, text.index), reasons), reasons


def _iso_whole_seconds(times: pd.Series) -> pd.Series:
    """Times as ISO 8601 text in whole seconds (with their offset, where they have a zone), NA
    where there is none: a column at a time (iso_times), where strftime wrote one time at a
    time (its %z: 23 s of a million appointments' 33 s import). Floored in UTC, where no hour
    is repeated; an export's own precision rarely goes further."""
    zone = times.dt.tz
    if zone is None:
        whole = times.dt.floor("s")
    else:
        whole = times.dt.tz_convert("UTC").dt.floor("s").dt.tz_convert(zone)
    return iso_times(whole).mask(times.isna())


def _local_times(
    text: pd.Series,
    column: str,
    mapping: Mapping,
    tz: str,
    excel: pd.Series | None,
    blank_parts: pd.Series | None,
    date_alone: DateAlone = "start",
) -> tuple[pd.Series, pd.Series]:
    """Times read in the source's zone and written in the clinic's, as ISO 8601 with offset.
    `excel`: the rows that were Excel date-times, ISO already, not in the mapping's format.
    `blank_parts`: the source columns a row left blank, where several make the time; a row
    whose date then reads as midnight is marked, its time of day unknown, not midnight."""
    if mapping.date_format is not None:
        parsed = pd.to_datetime(text, format=mapping.date_format, errors="coerce")
        text_read = _iso_whole_seconds(parsed)
        if excel is not None:
            text_read = text_read.where(~excel, text)
        reads = f"not a date-time in the {mapping.name} mapping's format {mapping.date_format}"
    else:
        text_read = text
        reads = "not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"
    times, _ = parse_timestamp(text_read, column, mapping.timezone or tz)
    unread = text.notna() & times.isna()
    # Why a cell went unread is looked for only when one did: a column read whole (nearly
    # every export) needs no second look at its slash dates.
    looked = mapping.date_format is None and unread.any()
    example = day_first_example(arrow_strings(text)) if looked else None
    if example is not None:
        reads = (
            f"not read: the export writes dates day first ('{example}' reads no other way), "
            f"and without a date_format M/D/YYYY is read; give the {mapping.name} mapping a "
            "date_format that reads them (%d/%m/%Y and the time's format)"
        )
    reasons = pd.Series(pd.NA, index=text.index, dtype="str").mask(unread, reads)
    if looked:
        short = _two_digit_years(text.where(unread))
        if short.any():
            leading = text[short].str.extract(r"^\s*(\d{1,2})/")[0].astype("int64")
            day_first = example is not None or bool((leading > 12).any())
            order, first = ("%d/%m/%y", "dates day first with ") if day_first else ("%m/%d/%y", "")
            reasons = reasons.mask(
                short,
                f"not read: the export writes {first}2-digit years "
                f"('{printable(text[short].iloc[0])}'), and without a date_format M/D/YYYY is "
                f"read; give the {mapping.name} mapping a date_format that reads them "
                f"({order} %I:%M %p, say, or {order} %H:%M)",
            )
    # Dates written without a time of day, read as the table's column reads them
    # (schemas.DateAlone): in a cell of their own, in a format without a clock, or beside a
    # blank Time.
    alone = pd.Series(False, index=text.index)
    if date_alone != "start":  # (a start's date alone is its midnight, as read)
        alone = times.notna() & pd.Series(dates_alone(text), index=text.index)
        if mapping.date_format is not None and not re.search("%[HIMXcTR]", mapping.date_format):
            alone |= times.notna() if excel is None else times.notna() & ~excel
    blank_time = pd.Series(False, index=text.index)
    if blank_parts is not None:
        # A time written in the date's own cell ('03/09/2026 12:00 AM') is midnight as given.
        partly = blank_parts.notna()
        clock = text[partly].str.contains(_A_CLOCK, regex=True).fillna(False).astype(bool)
        if excel is not None:
            clock &= ~excel[partly]
        blank_time = partly & ~clock.reindex(text.index, fill_value=False)
        blank_time &= times == day_start(times)
        alone |= blank_time
    if date_alone == "end" and alone.any():
        times = times.copy()
        times[alone] = day_start(times[alone], days=1)
    iso = _iso_whole_seconds(times.dt.tz_convert(tz))
    if date_alone == "refused":
        reasons = reasons.mask(alone & reasons.isna(), f"a date {NO_TIME_OF_DAY}")
        if blank_parts is not None:
            reasons = reasons.mask(
                blank_time,
                blank_parts + " is blank, so the date has no time of day: not read as midnight",
            )
        iso = iso.mask(alone)
    return _marked(iso.fillna(text), reasons), reasons


# A time of day written out: 0:00, 12:00 AM, 9 pm, 13:30.
_A_CLOCK = r"\d:\d\d|\d\s*[AaPp]\.?[Mm]"


def _two_digit_years(text: pd.Series) -> pd.Series:
    """Which values are slash dates with a 2-digit year ('3/5/26 1:00 PM'): M/D/YYYY can't
    read them, and their reason should say why and what reads them, as a day-first date's does."""
    # Two matches, not a look-ahead (\d{2}(?!\d)): pandas runs that in Python, a call per text.
    two = text.str.match(r"\s*\d{1,2}/\d{1,2}/\d{2}").fillna(False).astype(bool)
    return two & ~text.str.match(r"\s*\d{1,2}/\d{1,2}/\d{3}").fillna(False).astype(bool)


# A duration as a clock shows it: H:MM:SS or M:SS (hours, or minutes, of any number of digits).
_CLOCK = r"^(?:(?P<h>\d+):(?P<m>[0-5]\d)|(?P<mm>\d+)):(?P<s>[0-5]\d)$"


def _counts(text: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """Whole numbers as the loader reads them; in a seconds column, durations written as a
    clock (phone systems' web exports write 0:01:12) in whole seconds. Any other value is
    marked: the loader would set its row aside, and the import says so now."""
    seconds = column.endswith("_seconds")
    colon = text.str.contains(":", regex=False).fillna(False)
    if seconds and colon.any():  # only those cells through the regex: most logs write seconds
        parts = text[colon].str.extract(_CLOCK).astype("float64")
        clock = parts["h"].fillna(0) * 3600 + parts["m"].fillna(parts["mm"]) * 60 + parts["s"]
        exact = clock < 2**53  # a float's whole numbers; past them, a count too large anyway
        read = clock.where(exact).astype("Int64").astype("str")
        read[~exact & clock.notna()] = clock[~exact & clock.notna()].map("{:.0f}".format)
        read = read.reindex(text.index)
        text = read.where(read.notna(), text)
    _, problems = parse_count(text, column)
    unit = "seconds, nor a duration as H:MM:SS or M:SS" if seconds else column.split("_")[-1]
    reasons = pd.Series(pd.NA, index=text.index, dtype="str")
    reasons = reasons.mask(problems.notna(), f"not a whole number of {unit}")
    reasons = reasons.mask(problems.str.endswith("is too large").fillna(False), "too large")
    return _marked(text, reasons), reasons


def _lost_numbers(raw: RawTable, mapping: Mapping, record_ids: pd.Series) -> pd.DataFrame:
    """Phone numbers a workbook stored as numbers that read as no full number (SET_ASIDE_COLUMNS).

    A number kept as a number has lost any leading 0 and any +: 442079460958 may have been
    +44 20 7946 0958, 2079460958 may have been 020 7946 0958. Which one can't be told, so such
    a number is written as its digits and matched to no client, and the import says so. A North
    American number (what E.164 reading takes a number without + for) and an extension of up to
    _EXTENSION_DIGITS digits read as the text would have.
    """
    found = [pd.DataFrame(columns=SET_ASIDE_COLUMNS)]
    for target, cells in _mapped_columns(raw, mapping):
        if target not in ("from_number", "to_number") or cells.dtype != object:
            continue
        numbers = typed_as(cells, int, float)
        digits = cells_as_text(cells)
        long = digits.str.len().gt(_EXTENSION_DIGITS).fillna(False)
        lost = (numbers & to_e164(digits).isna() & long).astype(bool)
        found.append(
            pd.DataFrame(
                {
                    "line": raw.lines[lost],
                    "record_id": record_ids[lost],
                    "column": target,
                    "value": digits[lost],
                    "reason": "stored as a number, which loses a leading 0 or +: no client "
                    "is matched to it",
                }
            )
        )
    return pd.concat(found, ignore_index=True).sort_values("line", kind="stable", ignore_index=True)


def _match_clients(calls: pd.DataFrame, clients: pd.DataFrame) -> tuple[pd.Series, dict[str, int]]:
    """The client whose number each call was to or from, where exactly one client has it."""
    number = client_numbers(calls).where(calls["direction"].isin(["inbound", "outbound"]))
    on_file = numbers_on_file(clients)
    holders = on_file["number"].value_counts()
    unique = on_file[on_file["number"].map(holders) == 1].set_index("number")["client_id"]
    client = number.map(unique).astype("str")
    shared = number.map(holders).gt(1)
    return client, {
        "matched": int(client.notna().sum()),
        "number shared by several clients": int(shared.sum()),
        "no client's number": int((number.notna() & client.isna() & ~shared).sum()),
        "no usable number": int(number.isna().sum()),
    }


def _merged(target: Path, spec: TableSpec, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The table file's rows with this import's: a row with an id the import holds is replaced."""
    if not target.exists():
        return rows, 0
    old = read_csv(target, spec.name, spec.id_column)
    if len(old.malformed):
        lines = ", ".join(map(str, old.malformed["line"].head(5)))
        raise BundleError(
            f"{target.name} has rows with the wrong number of fields (lines {lines}); rewriting "
            "it would lose them. Fix those rows, then import again."
        )
    frame = old.frame.set_axis([normalise_column_name(c) for c in old.frame.columns], axis=1)
    if spec.id_column not in frame:
        raise BundleError(f"{target.name} has no '{spec.id_column}' column to merge on.")
    # A row without an id replaces none: blank ids don't match one another.
    # (Arrow's hash: pandas' isin made a Python object of every id, 7 s for a million)
    kept = frame[~is_in(frame[spec.id_column], rows[spec.id_column]).to_numpy()]
    return pd.concat([kept, rows], ignore_index=True), len(frame) - len(kept)


def _bundle_rows(
    raw: RawTable, mapping: Mapping, tz: str
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The export's rows in the table's columns, the values marked (SET_ASIDE_COLUMNS), and how
    many rows were marked for holding values only in columns the mapping doesn't read."""
    spec = mapping.spec
    source, excel_times, blank_parts = _source_values(raw, mapping)
    record_ids = source.get(spec.id_column, pd.Series("", index=raw.frame.index))
    rows = pd.DataFrame(index=raw.frame.index)
    problems = [pd.DataFrame(columns=SET_ASIDE_COLUMNS)]
    for column in spec.columns:
        if column.name in mapping.constants:
            rows[column.name] = mapping.constants[column.name]
        if column.name not in source:
            continue
        text, reasons = source[column.name], None
        if column.kind == "vocab":
            text, reasons = _mapped(text, column.name, mapping)
        elif column.kind == "timestamp":
            text, reasons = _local_times(
                text,
                column.name,
                mapping,
                tz,
                excel_times.get(column.name),
                blank_parts.get(column.name),
                column.date_alone,
            )
        elif column.kind == "count":
            text, reasons = _counts(text, column.name)
        rows[column.name] = text
        if reasons is not None:
            bad = reasons.notna()
            problems.append(
                pd.DataFrame(
                    {
                        "line": raw.lines[bad],
                        "record_id": record_ids[bad],
                        "column": column.name,
                        "value": source[column.name][bad],
                        "reason": reasons[bad],
                    }
                )
            )
    unmapped_only = _unmapped_only(raw, mapping, source)
    if unmapped_only.notna().any():
        marker, bad = _marker_column(spec), unmapped_only.notna()
        where = "line " + raw.lines[bad].astype("str") + f" of {raw.file} "
        rows.loc[bad, marker] = "[set aside: " + where + unmapped_only[bad] + "]"
        problems.append(
            pd.DataFrame(
                {
                    "line": raw.lines[bad],
                    "record_id": record_ids[bad],
                    "column": marker,
                    "value": "",
                    "reason": unmapped_only[bad],
                }
            )
        )
    return rows, pd.concat(problems, ignore_index=True), int(unmapped_only.notna().sum())


def _unmapped_only(raw: RawTable, mapping: Mapping, source: dict[str, pd.Series]) -> pd.Series:
    """Why a row holding values only in columns the mapping doesn't read is set aside (NA for
    the others): written, its blank mapped columns would make a line of commas, which the
    loader skips as no record, and the row ('continued from above: client phoned') would go
    without a trace. A row blank in every column is no record, and was dropped as read."""
    empty = pd.concat([text.isna() for text in source.values()], axis=1).all(axis=1)
    if not empty.any():
        return pd.Series(pd.NA, index=raw.frame.index, dtype="str")
    mapped = {normalise_column_name(name) for name in mapping.columns}
    unmapped = [c for c in raw.frame.columns if normalise_column_name(c) not in mapped]
    filled = [cells_as_text(raw.frame[c]).str.strip().fillna("").ne("") for c in unmapped]
    held = _names_where(
        [str(c) for c in unmapped],
        np.column_stack(filled) if filled else np.zeros((len(raw.frame), 0), dtype=bool),
        raw.frame.index,
    )
    return (
        f"holds values only in columns the {mapping.name} mapping doesn't read (" + held + ")"
    ).where(empty & held.ne(""))


def _with_clients(rows: pd.DataFrame, bundle: Path, tz: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Calls with their numbers in E.164 where they read as one, and the client matched by
    number where the export names none."""
    for column in ("from_number", "to_number"):
        if column in rows:
            rows[column] = to_e164(rows[column]).fillna(rows[column])
    clients = TABLES["clients"]
    raw = read_table(bundle, clients)
    assert raw is not None  # (a required table: read_table raises where it is missing)
    on_file, _ = validate_table(raw, clients, tz, {})
    ends = rows.reindex(columns=list(CLIENT_NUMBER_READS))
    matched, counts = _match_clients(ends, on_file)
    rows["client_id"] = rows["client_id"].fillna(matched) if "client_id" in rows else matched
    return rows[[c.name for c in CALLS.columns if c.name in rows]], counts


def _marker_column(spec: TableSpec) -> str:
    """The column a row of the wrong width is marked in: one the loader parses, so it can't
    read the mark and sets the row aside; a required one where the table has one."""
    parsed = [c for c in spec.columns if c.kind in ("timestamp", "vocab", "count")]
    return next((c for c in parsed if c.required), parsed[0]).name


def _with_malformed(
    rows: pd.DataFrame, raw: RawTable, mapping: Mapping
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """The rows with the export's rows of the wrong width among them, in the export's order,
    and the export's line of each; and those rows as set aside (SET_ASIDE_COLUMNS).

    Such a row's values can't be told apart (an unquoted comma in "$1,500.00" shifts every
    one after it), so it is written with its id alone and the reason, naming the export's file
    and line, in a column the loader parses: it is set aside, and listed, on every audit.
    """
    spec, column = mapping.spec, _marker_column(mapping.spec)
    # One row each: a worksheet row with two unsaved formulas has two problems.
    bad = raw.malformed.groupby("line", sort=False, as_index=False).agg(
        record_id=("record_id", "first"), reason=("reason", "; ".join)
    )
    reasons = bad["reason"].astype("str").to_numpy()
    where = "[set aside: line " + bad["line"].astype("str").to_numpy() + f" of {raw.file} "
    written = pd.DataFrame(
        {
            **{name: value for name, value in mapping.constants.items() if name in rows},
            spec.id_column: bad["record_id"].astype("str").replace("", pd.NA).to_numpy(),
            column: pd.array(where + reasons + "]", dtype="str"),
        },
        index=pd.RangeIndex(len(rows), len(rows) + len(bad)),
    )
    lines = pd.concat([raw.lines, bad["line"]], ignore_index=True).astype("int64")
    order = lines.argsort(kind="stable").to_numpy()
    both = pd.concat([rows, written]) if len(bad) else rows
    both = both.iloc[order].reset_index(drop=True)
    both = both[[c.name for c in spec.columns if c.name in both]]
    listed = pd.DataFrame(
        {
            "line": bad["line"],
            "record_id": bad["record_id"],
            "column": column,
            "value": "",
            "reason": reasons,
        },
        columns=SET_ASIDE_COLUMNS,
    )
    return both, lines.iloc[order].reset_index(drop=True), listed


def _repeated(ids: pd.Series, lines: pd.Series) -> pd.DataFrame:
    """Ids on more than one row of the export (record_id, rows, lines), by first line: the
    loader keeps the first such row and sets aside the others, so the import says so."""
    twice = ids.duplicated(keep=False) & ids.notna()
    found = pd.DataFrame({"record_id": ids[twice], "line": lines[twice]})
    grouped = found.groupby("record_id", sort=False)["line"]
    return (
        pd.DataFrame({"rows": grouped.size(), "lines": grouped.agg(list)})
        .rename_axis("record_id")
        .reset_index()
    )


def _nothing_importable(file: str, rows_read: int, set_aside: pd.DataFrame) -> BundleError:
    """The paragraph for an export none of whose rows could be read: written, every one would
    be set aside, and such a file is nearly always exported otherwise than the mapping reads
    (another separator, unquoted commas) rather than so many separate mistakes."""
    reason, why = commonest_reason(set_aside, rows_read)
    what = "its one row" if rows_read == 1 else f"none of its {rows_read:,} rows"
    value = set_aside.set_index("reason").loc[[reason], "value"].iloc[0]
    quoted = f" ({printable(str(value), 80)!r})" if isinstance(value, str) and value else ""
    return BundleError(
        f"{file}: {what} could {'not ' if rows_read == 1 else ''}be imported, so nothing was "
        f"written: the loader would set every one aside. {why}: {printable(reason, 300)}"
        f"{quoted}. Correct the export (or the mapping) and import it again."
    )


def _read_export(export: Path, mapping: Mapping, sheet: str | None) -> RawTable:
    """The export's rows as read: a CSV's text, or a workbook's typed cells (the first visible
    sheet, or `sheet`). Only the mapped columns' unsaved formulas set a row aside."""
    spec, suffix = mapping.spec, export.suffix.lower()
    ids = [normalise_column_name(s) for s, t in mapping.columns.items() if t == spec.id_column]
    if suffix == ".xls":
        raise old_excel_workbook(export)
    if suffix not in EXPORT_SUFFIXES:
        raise BundleError(
            f"{export.name}: auditkit import reads CSV (.csv) and Excel (.xlsx) exports; save "
            "it as one of those."
        )
    if suffix == ".csv" and sheet is not None:
        raise BundleError(
            f"{export.name} is a CSV file, which has no sheets: name a sheet only for an Excel "
            "workbook (.xlsx)."
        )
    sources = {normalise_column_name(source) for source in mapping.columns}
    if suffix == ".csv":
        # Only the columns the mapping reads are parsed: a wide report's others are never held.
        return read_csv(export, spec.name, ids[0] if ids else None, sources, only_named=True)
    return read_worksheet(
        export,
        spec.name,
        ids[0] if ids else None,
        sheet,
        names=sources,
        formula_columns=sources,
        other_sheets=True,
    )


def _local_times_in(raw: RawTable, mapping: Mapping) -> bool:
    """Whether the export holds a time without an offset (a wall time), which only the zone it
    was written in can place: an export of UTC times, or of no times, needs none."""
    kinds = {c.name: c.kind for c in mapping.spec.columns}
    for target, column in _mapped_columns(raw, mapping):
        if kinds[target] == "timestamp":
            text = cells_as_text(column).str.strip().replace("", pd.NA)
            offset = text.str.contains(r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$", regex=True)
            if (text.notna() & ~offset.fillna(False).astype(bool)).any():
                return True
    return False


def _no_zone(export: Path, bundle: Path, policy: Policy) -> str:
    """Why an import under a policy naming no zone stops: read in the built-in zone, its times
    would be hours off once the clinic's policy.toml names another, and nothing would say so."""
    if policy.source == Policy.source:
        unsaid, into = f"{bundle} has no policy.toml to say", bundle / "policy.toml"
    else:
        unsaid, into = f"The policy ({policy.source}) does not say", Path(policy.source)
    return (
        f"{unsaid} the clinic's time zone, and the mapping names none for the times in "
        f"{export.name}. Read in the built-in zone ({policy.clinic.timezone}), they would be "
        "hours off in every audit under another: write the clinic's zone into "
        f'{into} (a line "[clinic]", then timezone = "America/New_York", say), or name a '
        "policy file with --policy, and import again."
    )


def import_file(
    export: Path | str,
    bundle: Path | str,
    mapping: Mapping,
    policy: Policy | Path | str | None = None,
    sheet: str | None = None,
) -> Imported:
    """Read a CSV or Excel (.xlsx) export through `mapping` and write or merge its rows into
    the bundle's table.

    A workbook is read from its first visible worksheet, or the one named `sheet`. Times without an
    offset are read in the mapping's zone (default: the clinic's, from `policy` or the
    bundle's policy.toml) and written in the clinic's. Calls are matched to clients by phone
    number (E.164) against the bundle's clients.csv. The file is replaced atomically: a failed
    import leaves it as it was.
    """
    export, bundle = Path(export), Path(bundle)
    if not bundle.is_dir():
        what = "is not a folder" if bundle.exists() else "does not exist"
        raise BundleError(f"{bundle} {what}. Import into an audit bundle's folder.")
    zone_unknown = False
    if not isinstance(policy, Policy):
        policy = load_policy(policy, bundle=bundle)
        zone_unknown = not policy.zone_named and mapping.timezone is None
    tz, spec = policy.clinic.timezone, mapping.spec
    path = find_table_file(bundle, spec.name) or bundle / f"{spec.name}.csv"
    if path.suffix.lower() != ".csv":
        raise BundleError(
            f"The bundle holds {path.name}; auditkit import writes CSV. Save it as "
            f"{spec.name}.csv (or move it away) and import again."
        )
    raw = _read_export(export, mapping, sheet)
    if zone_unknown and _local_times_in(raw, mapping):
        raise BundleError(_no_zone(export, bundle, policy))
    rows, marked, unmapped_only = _bundle_rows(raw, mapping, tz)
    clients: dict[str, int] = {}
    lost_numbers = pd.DataFrame(columns=SET_ASIDE_COLUMNS)
    if spec is CALLS:
        lost_numbers = _lost_numbers(raw, mapping, rows[spec.id_column])
        rows, clients = _with_clients(rows, bundle, tz)
    rows, lines, malformed = _with_malformed(rows, raw, mapping)
    set_aside = pd.concat([marked, malformed], ignore_index=True).sort_values(
        "line", kind="stable", ignore_index=True
    )
    if raw.rows_read and set_aside["line"].nunique() == raw.rows_read:
        raise _nothing_importable(raw.file, raw.rows_read, set_aside)
    merged, replaced = _merged(path, spec, rows)
    write_atomically(path, csv_text(merged, lineterminator="\n"))
    workbook = raw.encoding == "xlsx"
    return Imported(
        path,
        len(rows),
        replaced,
        set_aside,
        clients,
        0 if workbook else len(malformed),
        _repeated(rows[spec.id_column], lines),
        len(malformed) if workbook else 0,
        lost_numbers,
        raw.sheet,
        raw.header_line,
        raw.alike_sheets,
        unmapped_only,
    )
