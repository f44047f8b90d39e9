"""What a rule is: its documentation, and one vectorised check that yields findings.

A check returns the records it examined (its opportunities: the honest denominator of its
compliance rate) and, among them, the ones that break the policy, each with a plain summary and
the quoted evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:
    from auditkit.rules.context import AuditContext

Severity = Literal["high", "medium", "low"]
Subject = Literal["appointment", "contact", "note", "call"]
SEVERITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2}

# Every check's opportunities carry these; findings add summary and evidence.
SUBJECT_COLUMNS = ["subject_id", "client_id", "staff_id", "at"]


@dataclass(frozen=True)
class Checked:
    """What a rule examined, and what it found wrong among them."""

    opportunities: pd.DataFrame  # SUBJECT_COLUMNS
    findings: pd.DataFrame  # SUBJECT_COLUMNS + summary, evidence


@dataclass(frozen=True)
class Rule:
    code: str  # stable: reports, review decisions and users' scripts key on it
    name: str  # kebab-case
    severity: Severity
    subject: Subject
    policy: str  # the policy sentence it enforces, quoted
    why: str  # why it matters, for the supervisor reading a finding
    opportunities: str  # what the rule examines: the denominator of its compliance rate
    violating: str  # an example that breaks the rule
    compliant: str  # an example that keeps it
    check: Callable[[AuditContext], Checked]


def subjects(
    frame: pd.DataFrame, id_column: str, at_column: str, staff_column: str = "staff_id"
) -> pd.DataFrame:
    """Rename a table's columns to the subject columns every check returns."""
    out = frame[[id_column, "client_id", staff_column, at_column]].copy()
    out.columns = SUBJECT_COLUMNS
    return out.reset_index(drop=True)


def found(
    subject_rows: pd.DataFrame, summary: pd.Series | str, evidence: pd.Series | str
) -> pd.DataFrame:
    """Findings from subject rows (already in SUBJECT_COLUMNS) and their words."""
    out = subject_rows[SUBJECT_COLUMNS].reset_index(drop=True)
    out["summary"] = summary.to_numpy() if isinstance(summary, pd.Series) else summary
    out["evidence"] = evidence.to_numpy() if isinstance(evidence, pd.Series) else evidence
    return out


def clock(times: pd.Series) -> pd.Series:
    """'Mon 2 Mar 2026 13:00': how a supervisor reads a time.

    A deadline past the year 9999 (a no-show dated 9999-12-31) can't be written by the standard
    library, so it reads 'after the year 9999' rather than stopping the audit.
    """
    writable = times < pd.Timestamp("9999-12-30", tz="UTC")  # compared in UTC: no localizing
    return (
        times.where(writable)
        .dt.strftime("%a %-d %b %Y %H:%M")
        .where(writable, "after the year 9999")
    )


def hours_minutes(delta: pd.Series) -> pd.Series:
    """A duration as '8 min' or '3 h 05 min'."""
    minutes = (delta.dt.total_seconds() // 60).astype("int64")
    hours, rest = minutes // 60, minutes % 60
    long = hours.astype(str) + " h " + rest.astype(str).str.zfill(2) + " min"
    return long.where(hours > 0, rest.astype(str) + " min")


def quote(evidence: pd.Series) -> pd.Series:
    """Matched words as a supervisor sees them in a finding: in double quotes."""
    return "\u201c" + evidence.astype(str) + "\u201d"
