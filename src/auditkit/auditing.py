"""Run every policy rule over a validated bundle: findings, and compliance with honest rates."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from auditkit.policy import Policy
from auditkit.rules import RULES, SEVERITY_ORDER
from auditkit.rules.context import AuditContext
from auditkit.schemas import Findings
from auditkit.validation import Bundle

FINDING_COLUMNS = list(Findings.to_schema().columns)
COMPLIANCE_COLUMNS = ["opportunities", "findings", "compliance"]


@dataclass
class AuditResult:
    """Findings, the records each rule examined, and what loading set aside."""

    bundle: Bundle
    findings: pd.DataFrame
    opportunities: pd.DataFrame  # rule, subject_id, client_id, staff_id, at, month
    month: str | None = None

    @property
    def rejected(self) -> pd.DataFrame:
        return self.bundle.rejected

    @property
    def compliance(self) -> pd.DataFrame:
        """Per rule: opportunities, findings, compliance rate (1.0 where nothing was examined)."""
        return self.compliance_by()

    def compliance_by(self, *keys: str) -> pd.DataFrame:
        """Compliance per rule and per any of: staff_id, client_id, month."""
        by = ["rule", *keys]
        examined = self.opportunities.groupby(by, observed=True).size().rename("opportunities")
        flagged = self.opportunities.merge(
            self.findings[["rule", "subject_id"]], on=["rule", "subject_id"]
        )
        broken = flagged.groupby(by, observed=True).size().rename("findings")
        table = pd.concat([examined, broken], axis=1).fillna(0).astype("int64")
        if not keys:
            table = table.reindex(list(RULES), fill_value=0)
            table.index.name = "rule"
        rate = 1 - table["findings"] / table["opportunities"].where(table["opportunities"] > 0)
        table["compliance"] = rate.fillna(1.0).round(4)
        return table[COMPLIANCE_COLUMNS].reset_index()


def _in_month(times: pd.Series, month: str | None) -> pd.Series:
    if month is None:
        return pd.Series(True, index=times.index)
    return times.dt.strftime("%Y-%m") == month


def audit(bundle: Bundle, policy: Policy | None = None, month: str | None = None) -> AuditResult:
    """Check every rule; with `month` (YYYY-MM), keep what happened in that month.

    `policy` overrides the one the bundle was loaded with. Rules always see the whole bundle,
    so look-backs (earlier no-shows, approvals given before the month) still count; only the
    subjects are narrowed to the month.
    """
    if policy is not None:
        bundle = replace(bundle, policy=policy)
    ctx = AuditContext(bundle)
    findings, opportunities = [], []
    for code, rule in RULES.items():
        checked = rule.check(ctx)
        found = checked.findings.assign(
            rule=code, severity=rule.severity, subject_type=rule.subject
        )
        findings.append(found[FINDING_COLUMNS])
        opportunities.append(checked.opportunities.assign(rule=code))
    tz = bundle.policy.clinic.timezone
    text_columns = [c for c in FINDING_COLUMNS if c != "at"]
    findings_frame = pd.concat(findings, ignore_index=True).astype(
        {"at": f"datetime64[us, {tz}]"} | dict.fromkeys(text_columns, "str")
    )
    findings_frame = findings_frame[_in_month(findings_frame["at"], month)]
    findings_frame = findings_frame.sort_values(
        ["severity", "rule", "at", "subject_id"],
        key=lambda c: c.map(SEVERITY_ORDER) if c.name == "severity" else c,
        ignore_index=True,
    )
    opportunities_frame = pd.concat(opportunities, ignore_index=True).astype(
        {"at": f"datetime64[us, {tz}]"}
    )
    opportunities_frame = opportunities_frame[_in_month(opportunities_frame["at"], month)]
    opportunities_frame = opportunities_frame.drop_duplicates(["rule", "subject_id"]).assign(
        month=lambda o: o["at"].dt.strftime("%Y-%m")
    )
    Findings.validate(findings_frame)
    return AuditResult(bundle, findings_frame, opportunities_frame.reset_index(drop=True), month)
