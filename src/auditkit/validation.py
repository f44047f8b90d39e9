"""Validate read tables into typed frames, setting every bad row aside with its reason.

Per file, accepted + rejected = rows read, always: a row is either in its table's frame or in
``Bundle.rejected`` with file, line, record id, column and reason (one line per problem).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from auditkit.errors import BundleError
from auditkit.loading import REJECTED_COLUMNS, SOURCE_LINE, RawTable, read_table
from auditkit.parsing import (
    parse_count,
    parse_flag,
    parse_timestamp,
    parse_vocabulary,
    repair_text,
)
from auditkit.policy import Policy, load_policy
from auditkit.schemas import CALLS, TABLES, ColumnSpec, TableSpec

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


def _parse_column(values: pd.Series, column: ColumnSpec, tz: str) -> tuple[pd.Series, pd.Series]:
    if column.kind == "timestamp":
        return parse_timestamp(values, column.name, tz)
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
    return values, pd.Series(pd.NA, index=values.index, dtype="object")


def _problems(reasons: pd.Series, column: str) -> pd.DataFrame:
    found = reasons.dropna()
    return pd.DataFrame({"row": found.index, "column": column, "reason": found.to_numpy()})


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


def _schema_problems(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    try:
        spec.model.validate(frame, lazy=True)
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


def _duplicate_problems(frame: pd.DataFrame, lines: pd.Series, column: str) -> pd.DataFrame:
    ids = frame[column]
    repeat = ids.duplicated(keep="first") & ids.notna()
    if not repeat.any():  # the usual case: skip looking up first lines
        return _problems(ids.where(repeat), column)
    first_line = lines.groupby(ids.to_numpy()).transform("first")
    reasons = (
        f"duplicate {column} '"
        + ids[repeat]
        + "' (first on line "
        + first_line[repeat].astype(str)
        + ")"
    )
    return _problems(reasons, column)


def _reference_problems(
    frame: pd.DataFrame, spec: TableSpec, accepted: dict[str, pd.DataFrame], set_aside: pd.DataFrame
) -> pd.DataFrame:
    """Ids pointing at no accepted record; says where the target was set aside, if it was."""
    found = []
    for column in spec.columns:
        if column.references is None or column.references not in accepted:
            continue
        target = accepted[column.references][TABLES[column.references].id_column]
        values = frame[column.name]
        # As objects: Arrow strings' isin converts the target a value at a time (1 s per 100k).
        dangling = values.notna() & ~values.astype("object").isin(target.astype("object"))
        if not dangling.any():  # the usual case: skip building the where-was-it messages
            continue
        # Only the referenced table's rows: ids like '1' recur across tables.
        where = set_aside[set_aside["file"].str.lower().str.startswith(column.references + ".")]
        where = where.drop_duplicates("record_id").set_index("record_id")
        place = values[dangling].map(where["file"] + " line " + where["line"].astype(str))
        place = place.astype("str")  # all-missing maps come back as float
        reasons = (f"{column.name} '" + values[dangling] + "' ").str.cat(
            ("refers to a row set aside (" + place + ")").fillna(
                f"matches no {column.references} record"
            )
        )
        found.append(_problems(reasons, column.name))
    return pd.concat(found) if found else pd.DataFrame(columns=["row", "column", "reason"])


def validate_table(
    raw: RawTable,
    spec: TableSpec,
    tz: str,
    accepted: dict[str, pd.DataFrame],
    set_aside: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed good rows, and the rejected ones (file, line, record_id, column, reason)."""
    frame = raw.frame.copy()
    problems = []
    for column in spec.columns:
        if column.name not in frame:
            frame[column.name] = pd.Series(pd.NA, index=frame.index, dtype="str")
        frame[column.name], reasons = _parse_column(frame[column.name], column, tz)
        problems.append(_problems(reasons, column.name))
    if spec.columns[0].unique:  # a reviews file names a rule many times
        problems.append(_duplicate_problems(frame, raw.lines, spec.id_column))
    parse_bad = pd.concat(problems)["row"].unique()
    clean = frame.drop(index=parse_bad)
    problems.append(_schema_problems(clean, spec))
    if set_aside is None:
        set_aside = pd.DataFrame(columns=REJECTED_COLUMNS)
    problems.append(_reference_problems(clean, spec, accepted, set_aside))
    problems = pd.concat(problems, ignore_index=True)
    bad_rows = problems["row"].unique()
    # As text even when a typed file holds the id as a number or a date.
    ids = raw.frame[spec.id_column].astype("str") if spec.id_column in raw.frame else None
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
    model_columns = [c.name for c in spec.columns]
    extra_columns = [c for c in frame.columns if c not in model_columns]
    good = frame.drop(index=bad_rows)[model_columns + extra_columns]
    good.insert(len(good.columns), SOURCE_LINE, raw.lines.drop(index=bad_rows))
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


def validate(raws: dict[str, RawTable | None], policy: Policy, path: Path) -> Bundle:
    """Check every table against its model and the tables it refers to."""
    tz = policy.clinic.timezone
    accepted: dict[str, pd.DataFrame] = {}
    rejected, coverage = [], []
    for spec in (*TABLES.values(), CALLS):
        name = spec.name
        raw = raws.get(name)
        if raw is None:
            accepted[name] = _empty_table(spec, tz)
            continue
        set_aside = pd.concat(rejected, ignore_index=True) if rejected else None
        accepted[name], bad = validate_table(raw, spec, tz, accepted, set_aside)
        rejected.append(bad)
        coverage.append(
            {
                "table": name,
                "file": raw.file,
                "encoding": raw.encoding,
                "rows_read": raw.rows_read,
                "accepted": len(accepted[name]),
                "rejected": bad["line"].nunique(),
            }
        )
    rejected_frame = pd.concat(rejected, ignore_index=True).sort_values(
        ["file", "line"], kind="stable", ignore_index=True
    )
    calls = accepted.pop(CALLS.name)
    return Bundle(
        path,
        policy,
        accepted,
        rejected_frame,
        calls,
        pd.DataFrame(coverage, columns=COVERAGE_COLUMNS),
    )


def load(
    path: Path | str,
    policy: Policy | Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    calls: Path | str | None = None,
) -> Bundle:
    """Read and validate a bundle folder: the first step of every audit.

    `progress` hears a line per file read and one before validating, so a front end can show
    where a long run is; the library itself never prints. `calls` names a phone-system call log
    (the calls table, e.g. written by `auditkit import`) to use instead of the bundle's calls.csv.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path} is not a folder. An audit bundle is a folder of table files.")
    if not isinstance(policy, Policy):
        policy = load_policy(policy, bundle=path)
    say = progress or (lambda _message: None)
    if calls is not None and not Path(calls).is_file():
        raise BundleError(f"The call log {calls} does not exist.")
    raws: dict[str, RawTable | None] = {}
    for spec in (*TABLES.values(), CALLS):
        given = Path(calls) if calls is not None and spec is CALLS else None
        raw = raws[spec.name] = read_table(path, spec, given)
        if raw is not None:
            say(f"read {raw.file}: {raw.rows_read:,} rows")
    say("validating")
    return validate(raws, policy, path)
