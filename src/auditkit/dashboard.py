"""The supervisor's monthly dashboard: widgets narrow one audit; charts and findings follow.

One whole-bundle audit is narrowed in pandas (month, clinicians, rules, severities), so a change of
widget costs a filter and a regroup, never a re-audit. The charts are the report's own
(auditkit.report), fed frames aggregated per rule, clinician and month, so a year of a large
clinic embeds a few hundred rows and never meets altair's MaxRowsError. They are drawn by
``auditkit.notebook.jupyter_chart``, an offline ``alt.JupyterChart``: its JavaScript comes from
vl-convert's bundled Vega, so charts come up with no network in Voilà and JupyterLab, where
altair's default renderer fetches Vega from a CDN and stays blank, and it has no actions menu
to open a chart in the online Vega Editor. Clicking a bar or a heatmap cell narrows the widgets
to that rule or clinician, so a chart and a widget drill down alike.

The filtering is plain functions (``filter_findings``, ``dashboard_charts``) so tests assert on
frames and chart specs; ``MonthlyDashboard`` only wires widgets to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import altair as alt
import ipywidgets as widgets
import pandas as pd

from auditkit.auditing import AuditResult, audit, for_clinicians, for_month
from auditkit.notebook import SEVERITY_BADGES, jupyter_chart, table_rules
from auditkit.report import (
    SEVERITIES,
    clinician_choices,
    clinician_labels,
    clinician_names,
    clinicians_chart,
    html_text,
    rule_summary,
    rules_chart,
    styled,
    trend_chart,
    trend_table,
    write_report,
)
from auditkit.rules import RULES
from auditkit.rules.base import dated, month_of, months_of
from auditkit.validation import Bundle

ALL = "all"  # the month dropdown's value for every month
MAX_TABLE_ROWS = 500  # rows drawn in the findings table; the count above it is always complete
RULES_WIDTH, TREND_WIDTH = 300, 760  # the report's charts fill a page; here they share a row
_SEVERITY = pd.Series({code: rule.severity for code, rule in RULES.items()})

# Clicking a bar picks its rule; clicking a heatmap cell picks its clinician and rule.
PICK_RULE = "pick_rule"
PICK_CELL = "pick_cell"

STYLE = (
    "<style>\n"
    + table_rules(".auditkit-findings", "4px 8px")
    + SEVERITY_BADGES
    + """.auditkit-scroll { max-height: 460px; overflow: auto; }
.auditkit-scroll:focus-visible { outline: 2px solid #1d4ed8; }
.auditkit-findings table { font-size: 13px; width: 100%; }
.auditkit-findings th { text-align: left; position: sticky; top: 0; }
.auditkit-findings td { line-height: 1.35; vertical-align: top; }
.auditkit-findings tr.dismissed td { color: #8a94a3; text-decoration: line-through; }
.auditkit-findings td.when, .auditkit-findings td.client, .auditkit-findings td.record {
  white-space: nowrap; }
.auditkit-count { font-size: 14px; margin: 6px 0; }
.auditkit-caveat { color: #7a2e0e; background: #fef6ee; border: 1px solid #f9dbaf;
  padding: 4px 8px; border-radius: 4px; font-weight: 600; }
.auditkit-note { color: #52606d; font-size: 12px; line-height: 28px; margin: 0 8px; }
</style>"""
)


@dataclass(frozen=True)
class Selection:
    """What the widgets narrow to; None or an empty tuple means everything."""

    month: str | None = None  # YYYY-MM
    clinicians: tuple[str, ...] = ()  # staff ids
    rules: tuple[str, ...] = ()  # rule codes
    severities: tuple[str, ...] = ()

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """The selection in words, for the line above the findings table; clinicians by
        `names` (staff_id -> 'S004 Tomas Fendane', as the widget lists them) where given."""
        month = pd.Period(self.month, freq="M").strftime("%B %Y") if self.month else "all months"
        names = names or {}
        parts = [
            month,
            ", ".join(names.get(c, c) for c in self.clinicians) or "all clinicians",
            ", ".join(self.rules) or "all rules",
            ", ".join(self.severities) or "all severities",
        ]
        return " · ".join(parts)


def _kept(
    frame: pd.DataFrame,
    month: str | None,
    clinicians: Iterable[str],
    rules: Iterable[str],
    severities: Iterable[str],
) -> pd.Series:
    """Rows of findings or opportunities (rule, staff_id, at) inside the selection."""
    keep = pd.Series(True, index=frame.index)
    if month:  # clinic-local, as audit(month=) does; opportunities carry theirs already
        months = frame["month"] if "month" in frame else months_of(frame["at"])
        keep &= (months == month).to_numpy()
    if clinicians := list(clinicians):
        keep &= frame["staff_id"].isin(clinicians)
    if rules := list(rules):
        keep &= frame["rule"].isin(rules)
    if severities := list(severities):
        keep &= frame["rule"].map(_SEVERITY).isin(severities)
    return keep


def filter_findings(
    findings: pd.DataFrame,
    month: str | None = None,
    clinicians: Iterable[str] = (),
    rules: Iterable[str] = (),
    severities: Iterable[str] = (),
) -> pd.DataFrame:
    """The findings inside a selection, in the audit's order (most severe first)."""
    return findings[_kept(findings, month, clinicians, rules, severities)].reset_index(drop=True)


def narrow(result: AuditResult, selection: Selection) -> AuditResult:
    """The audit as if it had only seen the selection: its compliance figures follow it."""
    scope = (selection.month, selection.clinicians, selection.rules, selection.severities)
    return replace(
        result,
        findings=filter_findings(result.findings, *scope),
        opportunities=result.opportunities[_kept(result.opportunities, *scope)],
        month=selection.month,
    )


def shown_rules(selection: Selection) -> list[str]:
    """Rule codes a selection shows, in the registry's order."""
    return [
        code
        for code, rule in RULES.items()
        if (not selection.rules or code in selection.rules)
        and (not selection.severities or rule.severity in selection.severities)
    ]


def dashboard_charts(result: AuditResult, selection: Selection) -> dict[str, alt.TopLevelSpec]:
    """The rules, heatmap and trend charts for a selection, styled as in the report.

    The trend keeps every month (up to the 12 before a chosen one, as the report does) but
    follows the clinicians, rules and severities chosen; its no-show rate counts the chosen
    clinicians' appointments.
    """
    shown = narrow(result, selection)
    rules = shown_rules(selection)
    summary = rule_summary(shown)
    summary = summary[summary["rule"].isin(rules)].reset_index(drop=True)
    every_month = narrow(result, replace(selection, month=None))
    booked = result.appointments_by_month(selection.clinicians)
    trend = trend_table(every_month.compliance_by("month"), booked, selection.month)
    return {
        "rules": styled(
            rules_chart(summary)
            .add_params(alt.selection_point(name=PICK_RULE, fields=["rule"]))
            .properties(width=RULES_WIDTH)
        ),
        "heatmap": styled(
            clinicians_chart(shown, rules).add_params(
                alt.selection_point(name=PICK_CELL, fields=["staff_id", "rule"])
            )
        ),
        "trend": styled(trend_chart(trend, selection.month).properties(width=TREND_WIDTH)),
    }


def findings_html(
    findings: pd.DataFrame, names: dict[str, str], limit: int = MAX_TABLE_ROWS
) -> str:
    """The findings as an HTML table with their evidence, every input text escaped."""
    if findings.empty:
        return '<p class="empty">No findings in this selection.</p>'
    shown = findings.head(limit)
    rows = pd.DataFrame(
        {
            "severity": '<span class="auditkit-sev auditkit-sev-'
            + shown["severity"]
            + '">'
            + shown["severity"]
            + "</span>",
            "rule": shown["rule"] + "<br><small>" + shown["rule"].map(_rule_name) + "</small>",
            "when": dated(shown["at"]),
            "clinician": clinician_labels(shown["staff_id"], names).map(html_text),
            "client": shown["client_id"].map(html_text),
            "record": shown["subject_type"] + " " + shown["subject_id"].map(html_text),
            "summary": shown["summary"].map(html_text),
            "evidence": shown["evidence"].map(html_text),
            "review": shown["review"].map(html_text),
        }
    )
    head = "".join(f"<th>{column}</th>" for column in rows.columns)
    css = shown["review"].eq("dismissed").map({True: ' class="dismissed"', False: ""})
    body = "".join(
        f'<tr{row_css} data-rule="{rule}">'
        + "".join(f'<td class="{c}">{v}</td>' for c, v in zip(rows.columns, cells, strict=True))
        + "</tr>"
        for row_css, rule, cells in zip(
            css, shown["rule"], rows.itertuples(index=False), strict=True
        )
    )
    more = (
        f'<p class="note">Showing the first {limit} of {len(findings)}; narrow the selection or '
        "export the report for all of them.</p>"
        if len(findings) > limit
        else ""
    )
    # Scrolled in a region of its own, which the keyboard can reach (Tab, then the arrows).
    return (
        '<div class="auditkit-scroll" tabindex="0" role="region" aria-label="Findings">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"
    )


def clinicians_folder(clinicians: Iterable[str]) -> str:
    """The subfolder a clinicians' report goes in, so it never overwrites the clinic's: their
    staff ids in order, joined by '+' ('S002+S007').

    Each id is percent-encoded, '.' and '+' too: no id can climb out of the folder ('..'), hide
    it, or read as two ids, and two selections never share a subfolder. A name past 120
    characters is cut and ends in a digest of the whole, as file systems cap names near 255.
    """
    ids = sorted(set(clinicians))
    name = "+".join(quote(staff_id, safe="").replace(".", "%2E") for staff_id in ids)
    if len(name) > 120:
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
        name = f"{name[:100]}+{len(ids)} clinicians {digest}"
    return name


def _whose(clinicians: Sequence[str], names: Mapping[str, str]) -> str:
    """Whose report an export is, as its status says: 'the clinic', 'S002 Devin Norley',
    'S002 Devin Norley and S007 Ana Reyes' (in the order of their subfolder's name)."""
    named = [names.get(c, c) for c in sorted(set(clinicians))] or ["the clinic"]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _rule_name(code: str) -> str:
    return RULES[code].name


def _month_options(result: AuditResult) -> list[tuple[str, str]]:
    months = sorted(
        set(result.opportunities["month"]) | set(month_of(result.findings["at"]).dropna()),
        reverse=True,
    )
    return [("all months", ALL)] + [
        (f"{pd.Period(m, freq='M').strftime('%b %Y')} ({m})", m) for m in months
    ]


def _titled(title: str, chart: widgets.Widget) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<h3>{html_text(title)}</h3>"), chart])


class MonthlyDashboard(widgets.VBox):
    """Month, clinicians, rules and severity widgets over one audit, with charts and findings.

    Display it as the last expression of a notebook cell. ``findings`` holds the frame the table
    shows; ``charts`` the ``alt.JupyterChart`` widgets, whose ``.chart`` is replaced on change.
    """

    def __init__(self, source: AuditResult | Bundle, export_to: Path | str = "out/dashboard"):
        self.result = source if isinstance(source, AuditResult) else audit(source)
        self.names = clinician_names(self.result)
        self.month = widgets.Dropdown(
            options=_month_options(self.result), value=ALL, description="Month"
        )
        self.clinicians = widgets.SelectMultiple(
            options=clinician_choices(self.result.opportunities["staff_id"], self.names),
            rows=8,
            description="Clinicians",
        )
        self.rules = widgets.SelectMultiple(
            options=[(f"{code} {rule.name}", code) for code, rule in RULES.items()],
            rows=8,
            description="Rules",
            layout=widgets.Layout(width="360px"),
        )
        self.severities = widgets.SelectMultiple(
            options=list(SEVERITIES), rows=3, description="Severity"
        )
        self.show_all = widgets.Button(description="Show everything")
        for widget, css in [
            (self.month, "auditkit-month"),
            (self.clinicians, "auditkit-clinicians"),
            (self.rules, "auditkit-rules"),
            (self.severities, "auditkit-severities"),
        ]:
            widget.add_class(css)
            widget.style.description_width = "80px"
        charts = dashboard_charts(self.result, Selection())
        self.charts = {
            name: jupyter_chart(chart).add_class(f"auditkit-chart-{name}")
            for name, chart in charts.items()
        }
        self.count = widgets.HTML().add_class("auditkit-count")
        self.table = widgets.HTML().add_class("auditkit-findings")
        self.folder = widgets.Text(value=str(export_to), description="Folder")
        self.export_button = widgets.Button(
            description="Export report",
            tooltip="The report a supervisor files: the whole clinic for the month chosen, "
            "written into the Folder",
        )
        self.export_clinicians_button = widgets.Button(
            description="Export for clinicians",
            tooltip="A report of only the chosen clinicians' records, to go through with them, "
            "written into a subfolder of the Folder named for them",
            disabled=True,  # until a clinician is chosen
            layout=widgets.Layout(min_width="170px"),  # the default width cuts its label short
        )
        # What each export covers and where it goes, said where it is asked for: not the rules
        # or severities narrowed to on screen, and a clinician's cut never lands on the clinic's.
        self.export_scope = widgets.HTML(
            '<span class="auditkit-note">the whole clinic into the Folder, or the clinicians '
            "chosen into its subfolder named for them (S002, S002+S007), for the month chosen: "
            "the rule and severity choices do not apply</span>"
        )
        self.export_status = widgets.HTML().add_class("auditkit-export-status")
        self.findings = self.result.findings
        self._holding = False

        for widget in (self.month, self.clinicians, self.rules, self.severities):
            widget.observe(self._changed, names="value")
        self.show_all.on_click(lambda _button: self.reset())
        self.export_button.on_click(lambda _button: self._export_clicked(()))
        self.export_clinicians_button.on_click(
            lambda _button: self._export_clicked(self.clinicians.value)
        )
        clinic = self.result.bundle.policy.clinic.name or "the clinic"
        caveats = "".join(
            f'<p class="auditkit-caveat">{html_text(caveat)}</p>' for caveat in self.result.caveats
        )
        super().__init__(
            [
                widgets.HTML(STYLE + f"<h2>{html_text(clinic)}</h2>{caveats}"),
                widgets.HBox(
                    [
                        self.month,
                        self.clinicians,
                        self.rules,
                        widgets.VBox([self.severities, self.show_all]),
                    ],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                widgets.HBox(
                    [
                        _titled("Compliance by rule", self.charts["rules"]),
                        _titled("Compliance by clinician and rule", self.charts["heatmap"]),
                    ],
                    layout=widgets.Layout(flex_flow="row wrap", grid_gap="32px"),
                ),
                _titled("Month over month", self.charts["trend"]),
                self.count,
                self.table,
                widgets.HBox(
                    [
                        self.folder,
                        self.export_button,
                        self.export_clinicians_button,
                        self.export_scope,
                        self.export_status,
                    ]
                ),
            ]
        )
        self._show(charts)  # drawn above for everything, as the widgets start

    @property
    def selection(self) -> Selection:
        """The widgets' current values as a Selection."""
        return Selection(
            month=None if self.month.value == ALL else self.month.value,
            clinicians=tuple(self.clinicians.value),
            rules=tuple(self.rules.value),
            severities=tuple(self.severities.value),
        )

    def refresh(self) -> None:
        """Redraw charts, count and table for the widgets' values."""
        self._show(dashboard_charts(self.result, self.selection))

    def _show(self, charts: dict[str, alt.TopLevelSpec]) -> None:
        """Show `charts`, made for the widgets' values, with the count and table that go with
        them."""
        selection = self.selection
        for name, chart in charts.items():
            self.charts[name].chart = chart
        # A new chart brings new Selections objects: listen to clicks on these.
        self.charts["rules"].selections.observe(self._rule_picked, names=PICK_RULE)
        self.charts["heatmap"].selections.observe(self._cell_picked, names=PICK_CELL)
        self.findings = filter_findings(
            self.result.findings,
            selection.month,
            selection.clinicians,
            selection.rules,
            selection.severities,
        )
        # Counted as the charts, the report and the command count them: dismissed ones apart.
        dismissed = int((self.findings["review"] == "dismissed").sum())
        standing = len(self.findings) - dismissed
        noun = "finding" if standing == 1 else "findings"
        apart = f", and {dismissed} dismissed on review" if dismissed else ""
        described = html_text(selection.describe(self.names))
        self.count.value = f"<strong>{standing}</strong> {noun}{apart} · {described}"
        self.table.value = findings_html(self.findings, self.names)
        self.export_clinicians_button.disabled = not selection.clinicians

    def drill(
        self, clinicians: Iterable[str] | None = None, rules: Iterable[str] | None = None
    ) -> None:
        """Narrow to these clinicians and/or rules at once (one redraw), as a chart click does."""
        self._holding = True
        try:
            if clinicians is not None:
                self.clinicians.value = tuple(clinicians)
            if rules is not None:
                self.rules.value = tuple(rules)
        finally:
            self._holding = False
        self.refresh()

    def reset(self) -> None:
        """Every month, clinician, rule and severity again."""
        self._holding = True
        try:
            self.month.value = ALL
            self.clinicians.value = self.rules.value = self.severities.value = ()
        finally:
            self._holding = False
        self.refresh()

    def export(self, folder: Path | str | None = None, clinicians: Sequence[str] = ()) -> Path:
        """Write the CLI's report (report.html, report.xlsx) for the month chosen; its folder.

        The report covers the whole clinic for that month (every month for 'all'): the document
        a supervisor files, in `folder` (the Folder widget's by default). With `clinicians`
        (staff_ids), it is their report, as `auditkit audit --clinician` writes it, to go through
        with them, in `folder`'s subfolder named for them (``clinicians_folder``): the two share
        file names, and a trainee's cut must not replace the clinic's audit. The rule and
        severity widgets never apply: a report leaves out no rule.
        """
        out = Path(folder if folder is not None else self.folder.value).expanduser().resolve()
        if clinicians:
            out = out / clinicians_folder(clinicians)
        month = self.selection.month
        whole = self.result.month is None and not self.result.clinicians
        if whole or (self.result.month == month and not clinicians):  # cut, not audited again
            result = for_month(for_clinicians(self.result, clinicians), month)
        else:
            result = audit(
                self.result.bundle,
                month=month,
                reviews=self.result.reviews_file,
                clinicians=clinicians,
            )
        write_report(result, out)
        return out

    def _changed(self, _change: dict[str, Any]) -> None:
        if not self._holding:
            self.refresh()

    def _rule_picked(self, change: dict[str, Any]) -> None:
        if points := change["new"].value:  # empty when a click cleared the selection
            self.drill(rules=dict.fromkeys(p["rule"] for p in points))

    def _cell_picked(self, change: dict[str, Any]) -> None:
        if points := change["new"].value:
            self.drill(
                clinicians=dict.fromkeys(p["staff_id"] for p in points),
                rules=dict.fromkeys(p["rule"] for p in points),
            )

    def _export_clicked(self, clinicians: Sequence[str]) -> None:
        self.export_status.value = "Writing the report…"
        try:
            out = self.export(clinicians=clinicians)
        except OSError as err:
            self.export_status.value = f"Could not write the report: {html_text(err)}"
            return
        # Whose report it is, said with where it went: not to be filed as the clinic's audit.
        self.export_status.value = (
            f"Wrote {html_text(_whose(clinicians, self.names))}'s report: "
            f"<code>{html_text(out / 'report.html')}</code> and "
            f"<code>{html_text(out / 'report.xlsx')}</code>"
        )
