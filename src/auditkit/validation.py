"""Validate read tables into typed frames, setting every bad row aside with its reason.

Per file, accepted + rejected = rows read, always: a row is either in its table's frame or in
``Bundle.rejected`` with file, line, record id, column and reason (one line per problem).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from auditkit.columns import (
    arrow_strings,
    fixed_width_cells,
    strictly_increasing,
    text_widths,
)
from auditkit.errors import BundleError
from auditkit.loading import (
    CONVERTED,
    SOURCE_LINE,
    check_named_file,
    converted_marker,
    find_table_file,
    read_table,
)
from auditkit.memory import release_unused_memory
from auditkit.output import counted
from auditkit.parsing import (
    no_problems,
    parse_count,
    parse_flag,
    parse_timestamp,
    parse_vocabulary,
    repair_text,
)
from auditkit.policy import Policy, load_policy
from auditkit.schemas import (
    CALLS,
    NAME_COLUMNS,
    REPORTED_COLUMNS,
    TABLES,
    ColumnSpec,
    RejectedRows,
    TableSpec,
)
from auditkit.tables import REJECTED_COLUMNS, RawTable, printable

COVERAGE_COLUMNS = ["table", "file", "encoding", "rows_read", "accepted", "rejected"]


@dataclass
class Bundle:
    """A clinic's validated records, the policy they are audited against, and what was set aside."""

    path: Path
    policy: Policy
    tables: dict[str, pd.DataFrame]
    rejected: pd.DataFrame
    # The phone system's call log (calls.csv or --calls); empty when the bundle has none.
    calls: pd.DataFrame
    coverage: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COVERAGE_COLUMNS))
    # Client names not in `clients` that masking and IQ001 must know too: those on client rows
    # set aside, as a rejected row's reason may quote them (a name shifted into a date column),
    # and in a partition of the Dask engine every client's, as a message may name any client.
    other_client_names: tuple[str, ...] = ()
    # Staff names on staff rows set aside, which a research extract's scrubbed text masks too.
    other_staff_names: tuple[str, ...] = ()
    # The records counted per table, clinician and month (auditing.count_records), given when
    # they are held elsewhere: the Dask engine's driver holds these, not the records.
    counted_records: pd.DataFrame | None = None

    @property
    def staff(self) -> pd.DataFrame:
        return self.tables["staff"]

    @property
    def clients(self) -> pd.DataFrame:
        return self.tables["clients"]

    @property
    def appointments(self) -> pd.DataFrame:
        return self.tables["appointments"]

    @property
    def contacts(self) -> pd.DataFrame:
        return self.tables["contacts"]

    @property
    def notes(self) -> pd.DataFrame:
        return self.tables["notes"]

    @property
    def approvals(self) -> pd.DataFrame:
        return self.tables["approvals"]

    def for_report(self) -> Bundle:
        """The bundle as what follows the rules reads it (REPORTED_COLUMNS): staff, clients and
        approvals whole; of the tables of a row per event, each record's id, time, clinician
        and status, not its text, codes or references. Most of a bundle's memory, held no
        longer through a report; such a bundle cannot be audited again."""

        def reported(frame: pd.DataFrame, table: str) -> pd.DataFrame:
            return frame[[c for c in frame.columns if c in REPORTED_COLUMNS[table]]]

        tables = {
            name: reported(frame, name) if name in REPORTED_COLUMNS else frame
            for name, frame in self.tables.items()
        }
        return replace(self, tables=tables, calls=reported(self.calls, CALLS.name))


def _parse_column(values: pd.Series, column: ColumnSpec, tz: str) -> tuple[pd.Series, pd.Series]:
    if column.kind == "timestamp":
        return parse_timestamp(values, column.name, tz, column.date_alone)
    # Typed already (a converted Parquet bundle's): nothing to repair.
    if column.kind == "flag" and pd.api.types.is_bool_dtype(values.dtype):
        return parse_flag(values, column.name)
    if column.kind == "count" and pd.api.types.is_signed_integer_dtype(values.dtype):
        return parse_count(values, column.name)
    if pd.api.types.is_datetime64_any_dtype(values):  # a typed Parquet date where text belongs
        values = values.astype("str").mask(values.isna())
    values = repair_text(values)
    if column.kind == "vocab":
        return parse_vocabulary(values, column.vocabulary, column.name)
    if column.kind == "flag":
        return parse_flag(values, column.name)
    if column.kind == "count":
        return parse_count(values, column.name)
    return values, no_problems(values.index)


# What a column without a problem gives, as _problems would build it (half a millisecond a
# column of every table and of every piece the Dask engine reads, for an empty frame).
_NO_PROBLEMS = pd.DataFrame(
    {
        "row": np.zeros(0, dtype=np.int64),
        "column": pd.Series(dtype="str"),
        "reason": pd.Series(dtype=object),
    }
)


def _problems(reasons: pd.Series, column: str) -> pd.DataFrame:
    found = reasons.notna().to_numpy()  # a mask, not dropna: no copy of a million NAs
    if not found.any() and reasons.index.dtype == np.int64:
        return _NO_PROBLEMS.copy(deep=False)
    # Only the reasons given become Python objects: not a million missing ones first.
    given = np.asarray(reasons.array[found], dtype=object)
    return pd.DataFrame({"row": reasons.index[found], "column": column, "reason": given})


def _describe_check(check: str, column: str, value: object) -> str:
    """A pandera failure in words a clinic's IT person can act on."""
    if check == "not_nullable":
        return f"{column} is blank but required"
    if check.startswith("str_length"):
        return f"{column} is blank but required"
    if check.startswith("greater_than_or_equal_to"):
        return f"{column} {value} is negative"
    if check.startswith("less_than_or_equal_to"):
        return f"{column} {value} is too large"
    return f"{column} {value!r} fails {check}"


@functools.cache
def _unchecked_by_parsing(spec: TableSpec) -> pa.DataFrameSchema:
    """The model's schema without the checks parsing has already applied to every kept row.

    parse_vocabulary keeps only values in the `isin` vocabulary (it reads it off this model),
    and repeated_ids sets aside every repeat of a unique id, naming its first line; on
    rows that survived both, pandera's isin and unique could only pass, at a quarter of a
    second per million rows. Everything else (nullable, lengths, bounds, dtypes) it checks.
    """
    schema = spec.model.to_schema()
    updates: dict[str, dict[str, object]] = {}
    for column in spec.columns:
        checks = schema.columns[column.name].checks
        if column.kind == "vocab":
            updates[column.name] = {"checks": [c for c in checks if c.name != "isin"]}
    if spec.columns[0].unique:
        updates.setdefault(spec.id_column, {})["unique"] = False
    return schema.update_columns(updates)


def schema_problems(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The model's checks on rows that parsed, as (row, column, reason)."""
    try:
        _unchecked_by_parsing(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        if len(cases) < len(errors.failure_cases):
            raise  # a whole-column failure is a loader bug, not a bad row
        reasons = [
            _describe_check(str(c), col, v)
            for c, col, v in zip(
                cases["check"], cases["column"], cases["failure_case"], strict=True
            )
        ]
        return pd.DataFrame(
            {
                "row": cases["index"].astype(int).to_numpy(),
                "column": cases["column"],
                "reason": reasons,
            }
        )
    return pd.DataFrame(columns=["row", "column", "reason"])


def _all_distinct(strings: pyarrow.ChunkedArray) -> bool:
    """Whether no id occurs twice (blanks aside): ids in increasing order are distinct, else
    Arrow hashes them, a quarter of the cost of pandas' duplicated()."""
    if strictly_increasing(strings):
        return True
    distinct = len(pc.unique(strings)) - (strings.null_count > 0)
    return distinct == len(strings) - strings.null_count


def repeated_ids(ids: pd.Series, lines: pd.Series) -> pd.Series:
    """The line each repeated id (blanks aside) was first on, for the rows repeating one: the
    first row of an id is kept, the rest are set aside. Rows in line order."""
    if _all_distinct(arrow_strings(ids)):  # the usual case: no repeat to name
        return pd.Series(index=ids.index[:0], dtype="int64")
    repeat = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    # (rows of no id go in no group: their NaN would make every line a float, "line 2.0")
    first_line = lines.groupby(ids.to_numpy(), dropna=True).transform("first")
    return first_line[repeat].astype("int64")


def repeat_problems(ids: pd.Series, first_lines: pd.Series, column: str) -> pd.DataFrame:
    """A problem for each row repeating an id: `first_lines` (repeated_ids') by row."""
    repeated = ids.loc[first_lines.index]
    reasons = f"duplicate {column} '" + repeated + "' (first on line " + first_lines.astype(str)
    return _problems(reasons + ")", column)


# Ids of at most this many bytes are compared as one 64-bit number each.
_WORD = 8
# More distinct id lengths than this (free text, not ids) and Arrow's hash is asked instead.
_MOST_WIDTHS = 16


def _fixed_width(strings: pyarrow.ChunkedArray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells of exactly `width` bytes (blanks aside), as numpy keys, and their rows.

    Keys are the bytes themselves (columns.fixed_width_cells): up to 8 as a big-endian number
    (zero-padded, so order and equality are the bytes'), longer as fixed-width numpy bytes.
    """
    cells, rows = fixed_width_cells(strings, width)
    if width <= _WORD:
        padded = np.zeros((len(cells), _WORD), dtype=np.uint8)
        padded[:, :width] = cells
        return padded.view(">u8").ravel().astype(np.uint64), rows
    return np.ascontiguousarray(cells).view(f"S{width}").ravel(), rows


class IdLookup(Protocol):
    """Whether values are among a table's ids: IdSet, or the Dask engine's answers."""

    def contains(self, values: pd.Series) -> np.ndarray: ...


class IdSet:
    """A table's ids, made once per validate() and asked by every column referring to them.

    Arrow's is_in hashes its whole value set of strings on every call (0.2 s per million ids),
    and appointments, clients and staff are each referred to by several columns. Here the ids
    are grouped by byte length into numpy keys, once: ids of up to 8 bytes as numbers, which
    pandas hashes in a hundredth of that time; longer ones as sorted bytes, binary-searched.
    Either way bytes are compared exactly, as Arrow compares them.
    """

    def __init__(self, ids: pd.Series) -> None:
        self.strings = arrow_strings(ids)
        widths = text_widths(self.strings)
        self.keys: dict[int, np.ndarray] | None = None
        if len(widths) <= _MOST_WIDTHS:
            self.keys = {}
            for width in widths:
                keys, _rows = _fixed_width(self.strings, width)
                self.keys[width] = keys if width <= _WORD else np.sort(keys)
        else:
            self.strings = self.strings.combine_chunks()

    def contains(self, values: pd.Series) -> np.ndarray:
        """Which values are among the ids (blanks: not)."""
        strings = arrow_strings(values)
        if self.keys is None:
            found = pc.is_in(strings, value_set=self.strings)
            return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), bool)
        found = np.zeros(len(strings), dtype=bool)
        for width, keys in self.keys.items():
            probe, rows = _fixed_width(strings, width)
            if width <= _WORD:
                found[rows] = pd.Series(probe, copy=False).isin(keys).to_numpy()
            else:
                at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
                found[rows] = keys[at] == probe
        return found


def set_aside_from(set_aside: pd.DataFrame, tables: Iterable[str]) -> pd.DataFrame:
    """The rows set aside from these tables' files (a file is named for its table)."""
    prefixes = tuple(f"{table}." for table in tables)
    return set_aside[set_aside["file"].str.lower().str.startswith(prefixes)]


def _reference_problems(
    frame: pd.DataFrame,
    spec: TableSpec,
    accepted: dict[str, pd.DataFrame],
    set_aside: pd.DataFrame,
    id_sets: dict[str, IdLookup],
) -> pd.DataFrame:
    """Ids pointing at no accepted record; says where the target was set aside (its first line
    set aside), if it was.

    `id_sets` keeps each referred-to table's ids once made, for the next table referring to it;
    a table held elsewhere (a Dask piece's reference to another pieced table) is answered for
    there alone, not in `accepted`.
    """
    found = []
    for column in spec.columns:
        if column.references not in accepted and column.references not in id_sets:
            continue  # (None, a column referring to nothing, is in neither)
        if column.references not in id_sets:
            target = accepted[column.references][TABLES[column.references].id_column]
            id_sets[column.references] = IdSet(target)
        values = frame[column.name]
        dangling = values.notna().to_numpy() & ~id_sets[column.references].contains(values)
        if not dangling.any():  # the usual case: skip building the where-was-it messages
            continue
        # Only the referenced table's rows: ids like '1' recur across tables.
        where = set_aside_from(set_aside, [column.references])
        where = where.sort_values("line", kind="stable").drop_duplicates("record_id")
        where = where.set_index("record_id")
        place = values[dangling].map(where["file"] + " line " + where["line"].astype(str))
        place = place.astype("str")  # all-missing maps come back as float
        reasons = (f"{column.name} '" + values[dangling] + "' ").str.cat(
            ("refers to a row set aside (" + place + ")").fillna(
                f"matches no {column.references} record"
            )
        )
        found.append(_problems(reasons, column.name))
    return pd.concat(found) if found else pd.DataFrame(columns=["row", "column", "reason"])


@dataclass
class TypedTable:
    """A table's rows parsed and checked against its model: all of validation that needs no
    other table, so tables can be typed side by side and their references checked after."""

    raw: RawTable
    clean: pd.DataFrame  # the rows no parse, repeat or model check set aside
    problems: list[pd.DataFrame]  # (row, column, reason) so far
    parse_bad: np.ndarray  # the rows taken out of `clean`


def type_table(raw: RawTable, spec: TableSpec, tz: str) -> TypedTable:
    """Parse `raw` by `spec`'s model, set aside repeated ids and check the model."""
    return finish_typing(raw, *parse_table(raw, spec, tz), spec)


def parse_table(raw: RawTable, spec: TableSpec, tz: str) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Every row of `raw` parsed by `spec`'s model, and the (row, column, reason) of each value
    that would not parse.

    The typed frame is built fresh from parsed columns and the raw's untouched text columns
    (shared, not copied).
    """
    source = raw.frame
    columns: dict[str, pd.Series] = {}
    problems = []
    for column in spec.columns:
        if column.name in source:
            values = source[column.name]
        else:
            values = pd.Series(pd.NA, index=source.index, dtype="str")
        columns[column.name], reasons = _parse_column(values, column, tz)
        problems.append(_problems(reasons, column.name))
    # Model columns first, then the export's extra columns in their order, as always.
    columns.update((c, source[c]) for c in source.columns if c not in columns)
    return pd.DataFrame(columns, index=source.index, copy=False), problems


def finish_typing(
    raw: RawTable,
    frame: pd.DataFrame,
    problems: list[pd.DataFrame],
    spec: TableSpec,
    model_problems: pd.DataFrame | None = None,
    repeats: pd.Series | None = None,
) -> TypedTable:
    """Set aside repeated ids and check the model on the rows that parsed (parse_table's).

    Rows are taken out of the frame only when some are bad: a take of a million notes' text
    costs as much as parsing them. A piece of a table (auditkit.distributed) brings its
    `model_problems`, the model's checks already made on the rows that parsed (row by row, so
    those of rows now set aside as repeats are dropped), and its `repeats`, found across the
    whole table (repeated_ids').
    """
    if spec.columns[0].unique:  # a reviews file names a rule many times
        if repeats is None:
            repeats = repeated_ids(frame[spec.id_column], raw.lines)
        problems.append(repeat_problems(frame[spec.id_column], repeats, spec.id_column))
    clean, parse_bad = without_problem_rows(frame, problems)
    del frame
    if model_problems is None:
        problems.append(schema_problems(clean, spec))
    else:
        problems.append(model_problems[~model_problems["row"].isin(parse_bad)])
    return TypedTable(kept_for_validation(raw, spec), clean, problems, parse_bad)


def kept_for_validation(raw: RawTable, spec: TableSpec) -> RawTable:
    """`raw` with only the columns read once its table is typed: the id, which a rejected row is
    listed by, and people's names (_names_set_aside). The rest of the text is freed while the
    table waits for the ones before it to be validated: on issue 7's example, 100 MB less at the
    load's peak, when two tables are typed ahead."""
    kept = [c for c in (spec.id_column, *NAME_COLUMNS) if c in raw.frame]
    return replace(raw, frame=raw.frame[kept])


def without_problem_rows(
    frame: pd.DataFrame, problems: list[pd.DataFrame]
) -> tuple[pd.DataFrame, np.ndarray]:
    """`frame` without the rows `problems` name, and those rows; the frame itself when none."""
    bad = pd.concat(problems)["row"].unique()
    return (frame.drop(index=bad) if len(bad) else frame), bad


def validate_table(
    raw: RawTable | TypedTable,
    spec: TableSpec,
    tz: str,
    accepted: dict[str, pd.DataFrame],
    set_aside: pd.DataFrame | None = None,
    id_sets: dict[str, IdLookup] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed good rows, and the rejected ones (file, line, record_id, column, reason).

    `raw` may be typed already (type_table). `id_sets`: the accepted tables' ids as made for
    reference checks, shared across calls, or answered for a table held elsewhere.
    """
    typed = raw if isinstance(raw, TypedTable) else type_table(raw, spec, tz)
    raw, clean, problems, parse_bad = typed.raw, typed.clean, typed.problems, typed.parse_bad
    del typed
    source = raw.frame
    if set_aside is None:
        set_aside = pd.DataFrame(columns=REJECTED_COLUMNS)
    if id_sets is None:
        id_sets = {}
    problems.append(_reference_problems(clean, spec, accepted, set_aside, id_sets))
    problems = pd.concat(problems, ignore_index=True)
    bad_rows = problems["row"].unique()
    # As text even when a typed file holds the id as a number or a date.
    ids = source[spec.id_column].loc[bad_rows].astype("str") if spec.id_column in source else None
    rejected = pd.DataFrame(
        {
            "file": raw.file,
            "line": raw.lines.loc[problems["row"]].to_numpy(),
            "record_id": ids.reindex(problems["row"]).fillna("").to_numpy()
            if ids is not None
            else "",
            "column": problems["column"].to_numpy(),
            "reason": problems["reason"].to_numpy(),
        },
        columns=REJECTED_COLUMNS,
    )
    later_bad = bad_rows[~np.isin(bad_rows, parse_bad)]
    good = clean.drop(index=later_bad) if len(later_bad) else clean
    good.insert(
        len(good.columns),
        SOURCE_LINE,
        raw.lines.drop(index=bad_rows) if len(bad_rows) else raw.lines,
    )
    return good.reset_index(drop=True), pd.concat([raw.malformed, rejected], ignore_index=True)


def _empty_table(spec: TableSpec, tz: str) -> pd.DataFrame:
    frame = pd.DataFrame({c.name: pd.Series(dtype="str") for c in spec.columns})
    raw = RawTable(
        spec.name,
        f"{spec.name}.csv",
        frame,
        pd.Series(dtype="int64"),
        pd.DataFrame(columns=REJECTED_COLUMNS),
        "absent",
    )
    return validate_table(raw, spec, tz, {})[0]


@dataclass
class ValidatedElsewhere:
    """A table read, typed and validated where its rows are (the Dask engine's workers:
    auditkit.distributed). `validated(accepted, set_aside)` is given the tables accepted before
    it and every row set aside so far, as validate_table is, and gives back the table as it is
    held here (its columns, not its rows), its rows set aside and how many it accepted."""

    file: str
    encoding: str
    rows_read: int
    validated: Callable[
        [dict[str, pd.DataFrame], pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame, int]
    ]


# A table as validate() takes it: read, typed, still being read and typed on a thread, or
# validated elsewhere; None where the bundle has no such file.
TableInHand = (
    RawTable | TypedTable | ValidatedElsewhere | Future[RawTable | TypedTable | None] | None
)


def validate(
    raws: dict[str, TableInHand],
    policy: Policy,
    path: Path,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Check every table against its model and the tables it refers to.

    Empties `raws` as it goes, so each raw table is freed as soon as it is validated rather
    than all of them living until the end (a bundle's raw text is as big as its typed frames).
    A raw may come typed already (type_table), and may still be being read and typed: a
    Future, each table's references checked as soon as it is in hand, while the next ones are
    read. Or validated elsewhere (ValidatedElsewhere). `progress` hears a line as each of
    those is in hand, then "validating".
    """
    say = progress or (lambda _message: None)
    tz = policy.clinic.timezone
    accepted: dict[str, pd.DataFrame] = {}
    rejected: list[pd.DataFrame] = []
    coverage: list[dict[str, object]] = []
    id_sets: dict[str, IdLookup] = {}  # each referred-to table's ids, made once
    other_client_names: tuple[str, ...] = ()
    other_staff_names: tuple[str, ...] = ()
    specs = (*TABLES.values(), CALLS)
    for spec in specs:
        name = spec.name
        # Taken out of the caller's dict: once its table is typed, nothing refers to the raw
        # text it replaced, and a million rows' worth is freed before the next table.
        given = raws.pop(name, None)
        raw = given.result() if isinstance(given, Future) else given
        read = raw.raw if isinstance(raw, TypedTable) else raw
        if isinstance(given, Future):
            if read is not None:
                say(f"read {read.file}: {counted(read.rows_read, 'row')}")
            if not any(isinstance(later, Future) for later in raws.values()):
                say("validating")
        del given
        if raw is None or read is None:  # (the one is None where the other is)
            accepted[name] = _empty_table(spec, tz)
            continue
        file, encoding, rows_read = read.file, read.encoding, read.rows_read
        del read
        set_aside = (
            pd.concat(rejected, ignore_index=True)
            if rejected
            else pd.DataFrame(columns=REJECTED_COLUMNS)
        )
        if isinstance(raw, ValidatedElsewhere):
            accepted[name], bad, kept = raw.validated(accepted, set_aside)
        else:
            accepted[name], bad = validate_table(raw, spec, tz, accepted, set_aside, id_sets)
            kept = len(accepted[name])
            if name == "clients":
                other_client_names = _names_set_aside(raw, accepted[name])
            elif name == "staff":
                other_staff_names = _names_set_aside(raw, accepted[name])
        del raw
        if rows_read and not kept:
            raise _nothing_accepted(file, name, rows_read, bad)
        rejected.append(bad)
        coverage.append(
            {
                "table": name,
                "file": file,
                "encoding": encoding,
                "rows_read": rows_read,
                "accepted": kept,
                "rejected": bad["line"].nunique(),
            }
        )
    rejected_frame = RejectedRows.validate(
        pd.concat(rejected, ignore_index=True).sort_values(
            ["file", "line"], kind="stable", ignore_index=True
        )
    )
    calls = accepted.pop(CALLS.name)
    return Bundle(
        path,
        policy,
        accepted,
        rejected_frame,
        calls,
        pd.DataFrame(coverage, columns=COVERAGE_COLUMNS),
        other_client_names,
        other_staff_names=other_staff_names,
    )


def _nothing_accepted(file: str, table: str, rows_read: int, bad: pd.DataFrame) -> BundleError:
    """The paragraph for a file whose every row was set aside, which stops the run.

    A file of N bad rows is nearly always one exported otherwise than a bundle's (another
    separator, a delimiter too many), not N separate mistakes, and an audit without the table
    would be wrong, not merely short: no staff, clients or appointments leave every rule with
    nothing to examine and a run that passes; no contacts, notes, approvals or calls leave the
    rules that look for them finding them missing, findings that are not there. So every table
    alike, optional or not.
    """
    reason, why = commonest_reason(bad, rows_read)
    what = "its one row was" if rows_read == 1 else f"all {rows_read:,} of its rows were"
    return BundleError(  # the reason quotes a value: one line of it, and not 5 MB
        f"{file}: {what} set aside, so the audit would have no {table} to go on. {why}: "
        f"{printable(reason, 300)}. Correct the export and run again."
    )


def commonest_reason(set_aside: pd.DataFrame, rows_read: int) -> tuple[str, str]:
    """Why most rows of a file were set aside (the first such reason by line), and the words
    that bring it in ('The commonest reason (3 of them), first on line 2'): one reason for a
    file none of whose rows could be used, which is nearly always one cause, not many."""
    per_row = set_aside.drop_duplicates(["line", "reason"]).sort_values("line", kind="stable")
    rows = per_row.groupby("reason", sort=False)["line"].agg(["size", "first"])
    reason = rows["size"].idxmax()  # the first of the commonest, by line
    count, line = int(rows.loc[reason, "size"]), int(rows.loc[reason, "first"])
    if rows_read == 1:
        return reason, f"The reason, on line {line}"
    if count == 1:
        return reason, f"The first reason, on line {line}"
    return reason, f"The commonest reason ({count:,} of them), first on line {line}"


def _names_set_aside(raw: RawTable | TypedTable, accepted: pd.DataFrame) -> tuple[str, ...]:
    """The first and last names, as read, on the rows of `raw` not among those `accepted`."""
    raw = raw.raw if isinstance(raw, TypedTable) else raw
    present = [c for c in NAME_COLUMNS if c in raw.frame]
    kept = raw.lines.isin(accepted[SOURCE_LINE]).to_numpy()
    return tuple(raw.frame.loc[~kept, present].stack().dropna().astype("str"))


# From this many bytes of table files, two files are read and typed at a time on threads; below
# it, typing is mostly Python's own work, which two threads would only take turns at, so one
# thread reads ahead while this one types. Measured loading the generated bundles: 38 MB even
# (0.36-0.44 s either way), issue 7's example (157 MB) 0.2 s faster (1.33 -> 1.10 s), 387 MB
# 0.6 s faster (4.0 -> 3.4 s).
TYPE_ON_THREADS_FROM = 64 * 2**20


def _read(
    bundle: Path, spec: TableSpec, path: Path | None, tz: str | None
) -> RawTable | TypedTable | None:
    """The table's file read, and typed too where `tz` is given."""
    raw = read_table(bundle, spec, path)
    return raw if raw is None or tz is None else type_table(raw, spec, tz)


def _total_bytes(files: Iterable[Path | None]) -> int:
    """The size of the files (one gone meanwhile: read_table will say so)."""
    total = 0
    for file in filter(None, files):
        with contextlib.suppress(OSError):
            total += file.stat().st_size
    return total


def load(
    path: Path | str,
    policy: Policy | Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    calls: Path | str | Literal[False] | None = None,
) -> Bundle:
    """Read and validate a bundle folder: the first step of every audit.

    `progress` hears a line per file read and one before validating, so a front end can show
    where a long run is; the library itself never prints. `calls` names a phone-system call log
    (the calls table, e.g. written by `auditkit import`) to use instead of the bundle's calls.csv;
    False reads none (a de-identified extract leaves the call log out).
    """
    path = Path(path)
    policy, files = bundle_files(path, policy, calls or None)
    say = progress or (lambda _message: None)
    # A file is read on a thread (Arrow's parse and numpy's scan leave Python's lock free) while
    # the one before is validated here; in a large bundle, two files are read and typed at a
    # time while references are checked here, table by table in order.
    typed_ahead = _total_bytes(files.values()) >= TYPE_ON_THREADS_FROM
    tz = policy.clinic.timezone if typed_ahead else None
    readers = ThreadPoolExecutor(2 if typed_ahead else 1)
    try:
        raws: dict[str, TableInHand] = {
            spec.name: readers.submit(_read, path, spec, files[spec.name], tz)
            for spec in (*TABLES.values(), CALLS)
            if spec is not CALLS or calls is not False
        }
        bundle = validate(raws, policy, path, say)  # empties raws: each freed once validated
    finally:  # an unusable file stops the audit: the files after it are not read
        readers.shutdown(cancel_futures=True)
    with_converted_set_aside(bundle)
    # Arrow's allocator keeps what reading freed for reuse; an audit's peak starts from here.
    release_unused_memory()
    return bundle


def bundle_files(
    path: Path, policy: Policy | Path | str | None, calls: Path | str | None
) -> tuple[Policy, dict[str, Path | None]]:
    """The bundle's policy, and each table's file (None: absent, which read_table reports or
    allows), `calls` naming the call log's if given."""
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise BundleError(f"{path} {what}. An audit bundle is a folder of table files.")
    if not isinstance(policy, Policy):
        policy = load_policy(policy, bundle=path)
    _check_converted_zone(path, policy)
    if calls is not None:
        check_named_file(Path(calls), "The call log", "the call log file")
    files = {
        spec.name: Path(calls)
        if spec is CALLS and calls is not None
        else find_table_file(path, spec.name)
        for spec in (*TABLES.values(), CALLS)
    }
    missing = [s.name for s in TABLES.values() if not s.optional_table and files[s.name] is None]
    if len(missing) > 1:  # (one alone: read_table names it, in its turn)
        raise BundleError(
            f"The bundle {path} has no {', '.join(missing[:-1])} or {missing[-1]} table: "
            "expected a .csv, .xlsx or .parquet file of each, named for its table "
            f"({missing[0]}.csv, ...). They are required."
        )
    return policy, files


def _check_converted_zone(path: Path, policy: Policy) -> None:
    """Refuse a converted bundle audited in another zone than it was converted in: its times
    written without an offset were fixed to instants in that zone, and would be hours off."""
    marker = converted_marker(path)
    if marker is None:
        return  # not a conversion, or one whose record says nothing of it
    zone, source = marker.get("timezone"), marker.get("source", "the bundle")
    if zone is None:
        raise BundleError(
            f"{path} was converted by an earlier auditkit, which did not record the time zone "
            "it read times written without an offset in, and read an approval's expiry written "
            f"as a date as that day's midnight, not its end. Convert {source} again (auditkit "
            "convert ... --to parquet) to audit it."
        )
    if not isinstance(zone, str) or same_zone(zone, policy.clinic.timezone):
        return
    raise BundleError(
        f"{path} was converted reading times written without an offset as {zone} time, but "
        f"this audit's policy ({policy.source}) puts the clinic in {policy.clinic.timezone}: "
        f"each such time would be hours off. Audit it with the policy it was converted with, "
        f"or convert {source} again with this one (auditkit convert ... --policy FILE)."
    )


def same_zone(one: str, other: str) -> bool:
    """Whether two zone names keep the same clock (US/Pacific is America/Los_Angeles): the
    same offset from UTC at the start of every month, 1970 to 2037."""
    months = pd.date_range("1970-01-01", "2037-12-01", freq="MS", tz="UTC")
    try:
        clock, other_clock = months.tz_convert(one), months.tz_convert(other)
    except (ValueError, KeyError):  # a name no zone has (a record edited by hand)
        return one == other
    return bool((clock.tz_localize(None) == other_clock.tz_localize(None)).all())


def with_converted_set_aside(bundle: Bundle) -> None:
    """A converted bundle's rejected rows with those the conversion set aside put first."""
    if (bundle.path / CONVERTED).is_file():
        bundle.rejected = pd.concat(
            [_set_aside_when_converted(bundle.path), bundle.rejected], ignore_index=True
        )


def _set_aside_when_converted(folder: Path) -> pd.DataFrame:
    """The rows `auditkit convert` set aside (its rejected.csv): not in the Parquet tables, so
    an audit of the conversion still lists them, as an audit of the CSVs would."""
    path = folder / "rejected.csv"
    if not path.is_file():
        return pd.DataFrame(columns=REJECTED_COLUMNS)
    try:
        rows = pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8")
        if list(rows.columns) != REJECTED_COLUMNS:
            raise ValueError(f"its columns are {', '.join(map(str, rows.columns))}")
        return rows.assign(line=rows["line"].astype("int64"))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise BundleError(
            f"{path} is the rows this converted bundle set aside, but it cannot be read ({error}). "
            "Convert the bundle again."
        ) from None
