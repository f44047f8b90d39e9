"""Table shapes of an audit bundle: the single source of truth.

The loader reads these pandera models to learn each table's columns, which of them are
required, which hold timestamps, flags, counts or a closed vocabulary, which ids must be
unique and which refer to another table. Change a shape here and loading follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa
from pandera.api.extensions import register_check_method
from pandera.typing.pandas import Series

from auditkit.severity import SEVERITY_ORDER

STAFF_ROLES = ("therapist", "supervisor", "program_director", "admin")
APPOINTMENT_STATUSES = ("attended", "no_show", "late_cancel", "cancelled", "rescheduled")
DIRECTIONS = ("outbound", "inbound")
CHANNELS = ("phone", "email", "text")
PARTIES = ("client", "third_party", "unknown")
OUTCOMES = (
    "voicemail",
    "answered",
    "no_answer",
    "voicemail_full",
    "wrong_number",
    "sent",
    "received",
)
PURPOSES = ("missed_session", "scheduling", "coaching", "inquiry", "other")
APPROVAL_KINDS = ("closure_warning", "phone_coaching")
REVIEW_DECISIONS = ("confirmed", "dismissed")
REVIEW_STATES = ("new", *REVIEW_DECISIONS)  # "new": nobody has reviewed the finding yet
# What a phone system knows of a call. "connected" is all it knows of a picked-up call: a person
# and an answering machine look the same to it, so whether a voicemail was left is unknown here
# (the clinician's log says). "no_answer" is either end's: direction says whose.
CALL_RESULTS = ("connected", "voicemail", "no_answer", "busy", "hang_up", "failed", "unknown")
# Where each kind of subject lives; its time there is the `at` a rule reports for it.
SUBJECT_TIMES = {
    "appointment": ("appointments", "appointment_id", "scheduled_start"),
    "contact": ("contacts", "contact_id", "started_at"),
    "note": ("notes", "note_id", "written_at"),
    "call": ("calls", "call_id", "started_at"),
}
SUBJECT_TYPES = tuple(SUBJECT_TIMES)


@register_check_method(statistics=[])
def tz_aware(series: pd.Series) -> bool:
    """A timestamp column: tz-aware, so clinic-local times compare right across DST."""
    return isinstance(series.dtype, pd.DatetimeTZDtype)


def _id(**kwargs: Any) -> Any:
    return pa.Field(nullable=False, unique=True, str_length={"min_value": 1}, **kwargs)


def _ref(table: str, *, required: bool = True) -> Any:
    """A column holding another table's id; blank allowed unless required."""
    return pa.Field(nullable=not required, metadata={"references": table})


def _vocab(values: tuple[str, ...], *, required: bool = False) -> Any:
    return pa.Field(nullable=not required, isin=list(values))


# People's names (staff and clients): masked wherever a client's could be shown.
NAME_COLUMNS = ("first_name", "last_name")
# Each table's free text, what a contact said and what a note says: only the rules read it, and
# nothing after them needs it.
FREE_TEXT = {"contacts": "message", "notes": "text"}
# Of each table of a row per event, all that follows the rules reads (Bundle.for_report): a
# record's id and time (SUBJECT_TIMES: a stale review's subject is dated by them, a month's audit
# names the months holding records), its clinician (a clinician's months and trend) and an
# appointment's status (the no-show trend).
_REPORTED_BESIDE_TIMES = {
    "appointments": ("staff_id", "status"),
    "contacts": ("staff_id",),
    "notes": ("staff_id",),
    "calls": (),
}
REPORTED_COLUMNS = {
    table: (id_column, at_column, *_REPORTED_BESIDE_TIMES[table])
    for table, id_column, at_column in SUBJECT_TIMES.values()
}


# How a timestamp column reads a date written alone ('2026-03-02', '3/2/2026'): as the start of
# that day (an intake, a consent, an approval given), as its end (an approval that expires
# '3/2' applies through 3/2), or not at all (an event's time, from which deadlines are counted
# to the minute: midnight would be a time nobody wrote).
DateAlone = Literal["start", "end", "refused"]


def _timestamp(*, required: bool = False, date_alone: DateAlone = "start") -> Any:
    return pa.Field(nullable=not required, tz_aware=(), metadata={"date_alone": date_alone})


class _Table(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns in an export are kept and ignored
        coerce = False  # the loader parses; the model only judges


class Staff(_Table):
    staff_id: Series[str] = _id()
    first_name: Series[str] = pa.Field(nullable=True)
    last_name: Series[str] = pa.Field(nullable=True)
    role: Series[str] = _vocab(STAFF_ROLES, required=True)
    # Their own line(s) on the phone system, as its log writes them: which of a shared number's
    # clients a call was with, where the line shows it (LG001).
    phone: Series[str] = pa.Field(nullable=True)


class Clients(_Table):
    client_id: Series[str] = _id()
    first_name: Series[str] = pa.Field(nullable=True)
    last_name: Series[str] = pa.Field(nullable=True)
    phone: Series[str] = pa.Field(nullable=True)
    intake_date: Series[Any] = _timestamp()
    may_name_clinic: Series[bool] = pa.Field(nullable=False)
    consent_recorded_at: Series[Any] = _timestamp()
    therapist_id: Series[str] = _ref("staff", required=False)


class Appointments(_Table):
    appointment_id: Series[str] = _id()
    client_id: Series[str] = _ref("clients")
    staff_id: Series[str] = _ref("staff")
    scheduled_start: Series[Any] = _timestamp(required=True, date_alone="refused")
    duration_minutes: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=24 * 60)
    service: Series[str] = pa.Field(nullable=True)
    status: Series[str] = _vocab(APPOINTMENT_STATUSES, required=True)


class Contacts(_Table):
    contact_id: Series[str] = _id()
    client_id: Series[str] = _ref("clients")
    staff_id: Series[str] = _ref("staff")
    direction: Series[str] = _vocab(DIRECTIONS, required=True)
    channel: Series[str] = _vocab(CHANNELS, required=True)
    started_at: Series[Any] = _timestamp(required=True, date_alone="refused")
    duration_seconds: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    party: Series[str] = _vocab(PARTIES)
    outcome: Series[str] = _vocab(OUTCOMES)
    purpose: Series[str] = _vocab(PURPOSES)
    appointment_id: Series[str] = _ref("appointments", required=False)
    message: Series[str] = pa.Field(nullable=True)


class Notes(_Table):
    note_id: Series[str] = _id()
    client_id: Series[str] = _ref("clients")
    staff_id: Series[str] = _ref("staff")
    appointment_id: Series[str] = _ref("appointments", required=False)
    written_at: Series[Any] = _timestamp(required=True, date_alone="refused")
    text: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})


class Approvals(_Table):
    approval_id: Series[str] = _id()
    kind: Series[str] = _vocab(APPROVAL_KINDS, required=True)
    client_id: Series[str] = _ref("clients", required=False)
    staff_id: Series[str] = _ref("staff")
    approved_by: Series[str] = _ref("staff")
    approved_at: Series[Any] = _timestamp(required=True)
    expires_at: Series[Any] = _timestamp(date_alone="end")


class Calls(_Table):
    """The phone system's call log (calls.csv, optional): what really rang, and when.

    `client_id` is the client whose number the call was to (outbound) or from (inbound), matched
    by `auditkit import`; blank when no client, or several, have that number on file.
    """

    call_id: Series[str] = _id()
    started_at: Series[Any] = _timestamp(required=True, date_alone="refused")
    direction: Series[str] = _vocab(DIRECTIONS, required=True)
    from_number: Series[str] = pa.Field(nullable=True)
    to_number: Series[str] = pa.Field(nullable=True)
    client_id: Series[str] = _ref("clients", required=False)
    result: Series[str] = _vocab(CALL_RESULTS)
    duration_seconds: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    source: Series[str] = pa.Field(nullable=True)


class Reviews(_Table):
    """A supervisor's decision on one finding, kept in reviews.csv from one audit to the next.

    A finding may be reviewed again, so no column is unique. That `rule` names a real rule is
    checked by auditkit.reviews: the rules import this module, so it cannot import them.
    `client_id` and `evidence` are what the reviewer saw (the review queue records them): a
    review applies only while the finding is still that client's, with that evidence. Files
    written before them, or by hand, may leave them out.
    """

    rule: Series[str] = pa.Field(nullable=False)
    subject_id: Series[str] = pa.Field(nullable=False)
    decision: Series[str] = _vocab(REVIEW_DECISIONS, required=True)
    reviewer: Series[str] = pa.Field(nullable=False)
    reviewed_at: Series[Any] = _timestamp(required=True)
    comment: Series[str] = pa.Field(nullable=True)
    client_id: Series[str] = pa.Field(nullable=True)  # not a reference: another bundle's, maybe
    evidence: Series[str] = pa.Field(nullable=True)  # masked, as the finding showed it


@dataclass(frozen=True)
class ColumnSpec:
    """What the loader needs to know about one column, read off a model."""

    name: str
    kind: str  # "id", "text", "timestamp", "flag", "count", "vocab"
    required: bool
    unique: bool
    vocabulary: tuple[str, ...] = ()
    references: str | None = None
    date_alone: DateAlone = "start"  # a timestamp's (see _timestamp)


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: type[pa.DataFrameModel]
    columns: tuple[ColumnSpec, ...]
    optional_table: bool = False

    @property
    def id_column(self) -> str:
        return self.columns[0].name

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _column_spec(name: str, column: pa.Column) -> ColumnSpec:
    checks = {check.name: check for check in column.checks}
    metadata = column.metadata or {}
    if "tz_aware" in checks:
        kind = "timestamp"
    elif "isin" in checks:
        kind = "vocab"
    elif str(column.dtype) == "bool":
        kind = "flag"
    elif str(column.dtype) == "Int64":
        kind = "count"
    else:
        kind = "text"
    vocabulary = tuple(checks["isin"].statistics["allowed_values"]) if kind == "vocab" else ()
    return ColumnSpec(
        name=name,
        kind=kind,
        required=not column.nullable and kind != "flag",
        unique=column.unique,
        vocabulary=vocabulary,
        references=metadata.get("references"),
        date_alone=metadata.get("date_alone", "start"),
    )


def _table_spec(name: str, model: type[pa.DataFrameModel], optional: bool = False) -> TableSpec:
    schema = model.to_schema()
    columns = tuple(_column_spec(n, c) for n, c in schema.columns.items())
    return TableSpec(name=name, model=model, columns=columns, optional_table=optional)


# Load order: a table only refers to tables before it.
TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _table_spec("staff", Staff),
        _table_spec("clients", Clients),
        _table_spec("appointments", Appointments),
        _table_spec("contacts", Contacts),
        _table_spec("notes", Notes),
        _table_spec("approvals", Approvals, optional=True),
    )
}
# Optional, and kept apart from TABLES: a bundle without it has no phone-system log, and tools
# that walk every table (de-identified extracts) must not carry its phone numbers along unasked.
CALLS = _table_spec("calls", Calls, optional=True)
# Not one of the bundle's tables: the audit reads it, when there is one, to mark findings.
REVIEWS = _table_spec("reviews", Reviews)


class RejectedRows(pa.DataFrameModel):
    """One row per problem that set an input row aside: the file and line it was read from, its
    id (blank if it had none), the column at fault (blank: the row as a whole) and why."""

    file: Series[str]
    line: Series[int]
    record_id: Series[str] = pa.Field(nullable=True)
    column: Series[str] = pa.Field(nullable=True)
    reason: Series[str]

    class Config:
        strict = True
        ordered = True
        # Its rows are made in many places (the reader, the checks, each Dask piece), and
        # putting frames together with an empty one gave text columns the object type.
        coerce = True


class Findings(pa.DataFrameModel):
    """One row per (rule, subject): what broke the policy, where, and the words that show it."""

    rule: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}\d{3}$")
    severity: Series[str] = pa.Field(isin=list(SEVERITY_ORDER))
    subject_type: Series[str] = pa.Field(isin=list(SUBJECT_TYPES))
    subject_id: Series[str] = pa.Field(nullable=False)
    # Blank where the records leave open which client it was (an LG001 call to a number
    # siblings share); staff_id too, where those clients' clinicians differ.
    client_id: Series[str] = pa.Field(nullable=True)
    staff_id: Series[str] = pa.Field(nullable=True)
    at: Series[Any] = pa.Field(nullable=False, tz_aware=())
    summary: Series[str] = pa.Field(str_length={"min_value": 1})
    evidence: Series[str] = pa.Field(str_length={"min_value": 1})
    # The latest review decision, if any: a dismissed finding counts against no compliance rate.
    review: Series[str] = pa.Field(isin=list(REVIEW_STATES))
    reviewer: Series[str] = pa.Field(nullable=True)
    reviewed_at: Series[Any] = pa.Field(nullable=True, tz_aware=())
    review_comment: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ("rule", "subject_id")
