"""The monthly audit report a supervisor opens, files and acts on: one HTML page, one workbook.

``report.html`` has to open on a clinic laptop with no network, so everything is inside it: the
CSS, a small filter-and-sort script, the chart specs and the Vega libraries, inlined once for
the whole page (``vl_convert.javascript_bundle``) rather than once per chart as altair's own
``to_html(inline=True)`` would do (about 0.9 MB each). Every piece of input text is escaped, and
JSON inside ``<script>`` cannot close the tag. ``report.xlsx`` holds the same tables for sorting
and filing; input text in it is stored as text, never as a formula.

Clients appear by client id only. Staff appear with their names: the report is for their
supervisor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from hashlib import sha256
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert
from altair.utils.schemapi import Undefined, UndefinedType

from auditkit.auditing import AuditResult
from auditkit.columns import as_block, join_text
from auditkit.output import (
    concatenated_utf8,
    escaped,
    iso_times,
    write_atomically,
)
from auditkit.rules import RULES, SEVERITY_ORDER, settings_in_force
from auditkit.rules.base import NO_CALL_LOG, with_repeated_zone
from auditkit.schemas import CALLS
from auditkit.xlsx import xlsx_workbook

SEVERITIES = tuple(SEVERITY_ORDER)  # high, medium, low
CONTEXT_MONTHS = 12  # months before an audited month shown in the trend at most, for context
MAX_TREND_MONTHS = 120  # beyond this the trend shows only months that have records
MAX_HEATMAP_CLINICIANS = 40  # rows of the clinician x rule heatmap
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"


# --- figures ---------------------------------------------------------------------------------


def _counted(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings that count against compliance: all but those a reviewer dismissed."""
    if "review" not in findings:
        return findings
    return findings[findings["review"] != "dismissed"]


def _rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).round(4)


def clinician_names(result: AuditResult) -> dict[str, str]:
    """staff_id -> 'T1 Robin Example', how a supervisor recognises a clinician."""
    staff = result.bundle.staff
    names = staff["first_name"].fillna("") + " " + staff["last_name"].fillna("")
    labels = (staff["staff_id"] + " " + names.str.strip()).str.strip()
    # As lists: iterating an Arrow-backed column makes a Python call per value (a health
    # system's thousands of clinicians, for every chart and table that names them).
    return dict(zip(staff["staff_id"].tolist(), labels.tolist(), strict=True))


def clinician_choices(staff: pd.Series, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each clinician in `staff` (a column of ids) once, by id, as (label, staff_id): what a
    menu of clinicians offers."""
    return [(names.get(s, s), s) for s in sorted(staff.dropna().unique())]


def clinician_labels(staff: pd.Series, names: Mapping[str, str]) -> pd.Series:
    """Staff ids as `names` (clinician_names) labels them, an id it lacks as itself: a hash
    lookup, where Series.replace would compare the column with each of a health system's
    thousands of names in turn (a second per review-queue card)."""
    return staff.map(names).astype("str").fillna(staff)  # (all unnamed: float NaN first)


def rule_summary(result: AuditResult) -> pd.DataFrame:
    """Per rule: what it is, how many records it examined and flagged, and its compliance; for a
    rule the policy, or a bundle without a call log, left unable to run, why it was not
    checked ('' for the others)."""
    table = result.compliance
    table.insert(1, "name", table["rule"].map(lambda code: RULES[code].name))
    table.insert(2, "severity", table["rule"].map(lambda code: RULES[code].severity))
    table["examines"] = table["rule"].map(lambda code: RULES[code].examines)
    unchecked = result.unchecked
    if not (result.bundle.coverage["table"] == CALLS.name).any():  # no call log was read
        needing = [code for code, rule in RULES.items() if rule.needs_call_log]
        unchecked = dict.fromkeys(needing, NO_CALL_LOG) | unchecked
    table["not_checked"] = table["rule"].map(lambda code: unchecked.get(code, "")).astype("str")
    return table


def clinician_summary(result: AuditResult) -> pd.DataFrame:
    """Per clinician, over all rules: records examined, findings by severity, compliance.

    Like compliance, the counts leave out findings a reviewer dismissed.
    """
    per_rule = result.compliance_by("staff_id")
    table = per_rule.groupby("staff_id")[["opportunities", "findings"]].sum()
    counted = _counted(result.findings)
    severities = (
        counted.groupby(["staff_id", "severity"])  # crosstab counts group by group, in Python
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(SEVERITIES), fill_value=0)
        .rename(columns=lambda s: f"{s}_findings")
    )
    table = table.join(severities, how="outer").fillna(0).astype("int64")
    table["compliance"] = _rate(table["opportunities"] - table["findings"], table["opportunities"])
    table = table.reset_index()
    table.insert(1, "name", table["staff_id"].map(clinician_names(result)))
    return table


def _trend_months(month: str | None, seen: Iterable[str]) -> list[str]:
    """The trend's months. A month's: it and up to CONTEXT_MONTHS before it, from the first
    month `seen` (months before the bundle's records would only be empty), but at least the
    month before it, so there is a line to draw. Without: every month seen."""
    seen = sorted(set(seen))
    if month is not None:
        end = pd.Period(month, freq="M")
        first = pd.Period(seen[0], freq="M") if seen else end
        start = max(end - CONTEXT_MONTHS, min(first, end - 1))
        return [str(p) for p in pd.period_range(start, end, freq="M")]
    if not seen:
        return []
    every = pd.period_range(seen[0], seen[-1], freq="M")
    # A stray date years away (a typo'd 2062) would stretch the axis over empty decades.
    return [str(p) for p in every] if len(every) <= MAX_TREND_MONTHS else seen


def monthly_trend(result: AuditResult) -> pd.DataFrame:
    """Per month: compliance over all rules and the no-show rate, for the trend chart.

    A month's audit shows that month and up to the 12 before it (from the bundle's first month
    with records), from the compliance per month over the whole bundle it keeps (`every_month`):
    rules see the whole bundle either way, so the figures are those a full audit reports.
    Compliance pools all rules: findings / records examined. The no-show rate is no-shows / all
    appointments scheduled that month, whatever their status. A month with nothing to divide by
    has no value (no point on the chart), not 100 %.
    """
    # A clinician's report: their no-show rate, from their first month.
    booked = result.appointments_by_month(result.clinicians)
    return trend_table(_by_month(result), booked, result.month)


def _by_month(result: AuditResult) -> pd.DataFrame:
    """Compliance per rule and month: over the whole bundle, also for a month's audit."""
    return result.compliance_by("month") if result.every_month is None else result.every_month


def month_over_month(result: AuditResult, trend: pd.DataFrame | None = None) -> pd.DataFrame:
    """Compliance per rule and month over the trend's months, for the workbook and
    compliance_by_month.csv alike: month over month by rule, where the trend pools the rules.
    `trend` is monthly_trend(result), where the caller has it already."""
    by_month = _by_month(result)
    shown = (monthly_trend(result) if trend is None else trend)["month"]
    return by_month[by_month["month"].isin(shown)].sort_values(["rule", "month"], ignore_index=True)


def trend_table(
    by_month: pd.DataFrame, booked: pd.DataFrame, month: str | None = None
) -> pd.DataFrame:
    """The trend's figures from compliance per rule and month and the appointments booked per
    month (AuditResult.appointments_by_month).

    With `month`, that month and up to the 12 before it, from the first month with records
    (see `_trend_months`); without, every month seen. Shared by the report and the dashboard,
    which narrows both inputs to the clinicians and rules it shows.
    """
    checked = by_month.groupby("month")[["opportunities", "findings"]].sum()
    appointments = booked[["appointments", "no_shows"]]
    months = _trend_months(month, [*checked.index, *appointments.index])
    table = (
        pd.concat([checked, appointments], axis=1)
        .reindex(months)
        .fillna(0)
        .astype("int64")
        .rename_axis("month")
    )
    table["compliance"] = _rate(table["opportunities"] - table["findings"], table["opportunities"])
    table["no_show_rate"] = _rate(table["no_shows"], table["appointments"])
    return table.reset_index()


def _period(result: AuditResult, trend: pd.DataFrame) -> str:
    if result.month is not None:
        return f"{pd.Period(result.month, freq='M').strftime('%B %Y')} ({result.month})"
    if trend.empty:
        return "no dated records"
    first, last = trend["month"].iloc[0], trend["month"].iloc[-1]
    whose = "their records" if result.clinicians else "everything in the bundle"
    return f"{first if first == last else f'{first} to {last}'} ({whose})"


# --- charts ----------------------------------------------------------------------------------

# Compliance colours, trouble hot: pale green at 100 %, orange at 80 %, dark red at 50 % and
# below. Audits mostly land between 60 and 100 %, where a 0-100 % scale paints all cells alike.
_COMPLIANCE_COLOURS = alt.Scale(
    domain=[0.5, 0.8, 1], range=["#9f1a10", "#f79009", "#dcefe3"], interpolate="lab", clamp=True
)


def month_label(month: str) -> str:
    """'2026-05' (as an audit names a month) as the charts and the review queue show it."""
    return pd.Period(month, freq="M").strftime("%b %Y")


def no_figure(rules: pd.DataFrame) -> pd.Series:
    """Why a rule of `rule_summary` has no compliance figure ('' where it has one): said in
    words, where a number would be read as a score."""
    why = pd.Series("", index=rules.index, dtype="str")
    why = why.mask(rules["opportunities"] == 0, "n/a — nothing examined")
    why = why.mask(rules["not_checked"] != "", "n/a — not checked")
    return why.mask(rules["not_checked"] == NO_CALL_LOG, "n/a — no call log")


def _aria(has_items: bool) -> bool | UndefinedType:
    """A layer's `aria` where it may have nothing to draw (a month, a clinician, with no
    records): out of the accessibility tree, where Vega would leave an empty graphic with no
    name, announced as nothing. (Undefined: Vega's default, described marks.)"""
    return Undefined if has_items else False


def rules_chart(rules: pd.DataFrame) -> alt.LayerChart:
    """Compliance per rule as bars, from `rule_summary`'s columns; a rule with no figure gets
    no bar but says why, in words at its row, and a rule at 0 % (a bar of no length) says so."""
    none_kept = rules["compliance"].eq(0).fillna(False).to_numpy(bool)  # (NaN: no figure)
    data = rules.assign(
        label=rules["rule"] + " " + rules["name"],
        words=no_figure(rules).mask(none_kept, "0% — every record examined was flagged"),
    )
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", sort=list(data["label"]), title=None, axis=alt.Axis(labelLimit=280)),
        tooltip=[
            alt.Tooltip("label:N", title="rule"),
            alt.Tooltip("severity:N"),
            alt.Tooltip("opportunities:Q", title="records examined"),
            alt.Tooltip("findings:Q"),
            alt.Tooltip("compliance:Q", format=".1%"),
        ],
    )
    bars = base.mark_bar(
        height={"band": 0.7}, color="#2f6db3", aria=_aria(data["compliance"].notna().any())
    ).encode(
        x=alt.X(
            "compliance:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format=".0%", title="compliance", tickCount=5),
        )
    )
    words = base.mark_text(align="left", dx=4, color="#5f6b7a", fontSize=11).encode(
        x=alt.value(0), text="words:N"
    )
    # (alt.layer would hoist facet encodings: these have none)
    return alt.LayerChart(layer=[bars, words]).properties(width="container", height=22 * len(data))


# A heatmap cell of fewer records than this shows them counted ("1/2": kept of examined), not as
# a percentage: 0 % or 50 % of one or two records reads like a clinician's habit.
FEW_RECORDS = 5


def clinicians_chart(result: AuditResult, rules: Iterable[str] = RULES) -> alt.LayerChart:
    """Clinician × rule compliance heatmap: a cell where a rule examined a clinician's records.

    Aggregated in pandas first, so a year of a large clinic embeds a few hundred rows at most.
    """
    table = result.compliance_by("staff_id")
    table = table[table["opportunities"] > 0]
    kept = table["opportunities"] - table["findings"]
    counted = kept.astype("str") + "/" + table["opportunities"].astype("str")
    percent = (table["compliance"] * 100).round().astype("int64").astype("str") + "%"
    table = table.assign(
        clinician=table["staff_id"].map(clinician_names(result)),
        label=counted.where(table["opportunities"] < FEW_RECORDS, percent),
    )
    findings = table.groupby("clinician")["findings"].sum()
    title = None
    if len(findings) > MAX_HEATMAP_CLINICIANS:
        # A health system has hundreds of clinicians: show those with the most findings.
        shown = findings.sort_values(ascending=False, kind="stable").index[:MAX_HEATMAP_CLINICIANS]
        table = table[table["clinician"].isin(shown)]
        title = alt.TitleParams(
            f"The {MAX_HEATMAP_CLINICIANS} of {len(findings)} clinicians with the most findings "
            "(all of them are in report.xlsx)",
            fontSize=11,
            fontWeight="normal",
            anchor="start",
        )
    clinicians = sorted(table["clinician"].unique())
    base = alt.Chart(table).encode(
        x=alt.X(
            "rule:N",
            scale=alt.Scale(domain=list(rules)),
            axis=alt.Axis(orient="top", labelAngle=-45, title=None),
        ),
        y=alt.Y("clinician:N", sort=clinicians, title=None),
    )
    aria = _aria(not table.empty)
    cells = base.mark_rect(stroke="#fff", strokeWidth=1, aria=aria).encode(
        color=alt.Color(
            "compliance:Q",
            scale=_COMPLIANCE_COLOURS,
            # The colours stop at 50 %: a cell below is as dark as one at it, and says its figure.
            legend=alt.Legend(
                title="compliance",
                orient="bottom",
                gradientLength=160,
                values=[0.5, 0.75, 1],
                labelExpr="datum.value <= 0.5 ? '≤ 50%' : format(datum.value, '.0%')",
            ),
        ),
        tooltip=[
            alt.Tooltip("clinician:N"),
            alt.Tooltip("rule:N"),
            alt.Tooltip("opportunities:Q", title="records examined"),
            alt.Tooltip("findings:Q"),
            alt.Tooltip("compliance:Q", format=".1%"),
        ],
    )
    labels = base.mark_text(fontSize=10, aria=aria).encode(
        text=alt.Text("label:N"),
        color=alt.condition(
            "datum.compliance < 0.7",
            alt.value("#fff"),
            alt.value("#1f2933"),
        ),
    )
    chart = (cells + labels).properties(width=alt.Step(34), height=alt.Step(24))
    return chart if title is None else chart.properties(title=title)


def trend_chart(trend: pd.DataFrame, month: str | None) -> alt.LayerChart:
    """Compliance and no-show rate per month from `trend_table`, the audited month marked."""
    long = trend.melt(
        id_vars=["month", "opportunities", "findings", "appointments", "no_shows"],
        value_vars=["compliance", "no_show_rate"],
        var_name="measure",
        value_name="rate",
    )
    long["measure"] = long["measure"].map(
        {"compliance": "compliance", "no_show_rate": "no-show rate"}
    )
    long["label"] = long["month"].map(month_label)
    order = [month_label(m) for m in trend["month"]]
    x = alt.X("label:O", sort=order, title=None, axis=alt.Axis(labelAngle=-45))
    has_rates = bool(long["rate"].notna().any())
    points = True if has_rates else alt.OverlayMarkDef(aria=False)  # (a layer of its own)
    lines = (
        alt.Chart(long)
        .mark_line(point=points, aria=_aria(has_rates))
        .encode(
            x=x,
            y=alt.Y(
                "rate:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%", title=None)
            ),
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(
                    domain=["compliance", "no-show rate"], range=["#2f6db3", "#c2410c"]
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="month"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("rate:Q", format=".1%"),
                alt.Tooltip("opportunities:Q", title="records examined"),
                alt.Tooltip("findings:Q"),
                alt.Tooltip("appointments:Q", title="appointments scheduled"),
                alt.Tooltip("no_shows:Q", title="no-shows"),
            ],
        )
    )
    audited = [month_label(month)] if month is not None else []
    marker = (
        alt.Chart(pd.DataFrame({"label": audited}))
        # a cue for the eye (the page names the month): no unnamed graphic for a screen reader
        .mark_rule(strokeDash=[4, 4], color="#5f6b7a", aria=False)
        .encode(x=x)
    )
    return (marker + lines).properties(width="container", height=240)


def chart_specs(result: AuditResult, rules: pd.DataFrame, trend: pd.DataFrame) -> dict[str, dict]:
    """The page's Vega-Lite specs, by the id of the element each is drawn in.

    Not checked against Vega-Lite's schema on every report (a tenth of a second of jsonschema):
    the charts are the library's own, and a test checks what they give.
    """
    charts = {
        "chart-rules": rules_chart(rules),
        "chart-clinicians": clinicians_chart(result),
        "chart-trend": trend_chart(trend, result.month),
    }
    return {element: styled(chart).to_dict(validate=False) for element, chart in charts.items()}


def styled(chart: alt.TopLevelSpec) -> alt.TopLevelSpec:
    """The page's font and no frame around views: how the report and the dashboard look."""
    return chart.configure(font=FONT).configure_view(stroke=None)


# --- html ------------------------------------------------------------------------------------


def html_text(value: Any) -> str:
    """Input text made safe for HTML: blanks for missing values, everything else escaped."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def _percent(rate: float) -> str:
    return "–" if pd.isna(rate) else f"{rate:.1%}"


def script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' that could end or open a tag."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


CACHE_DIR_VARIABLE = "AUDITKIT_CACHE_DIR"  # overrides where the Vega bundle is cached
_VEGA_CACHE_HEADER = "// auditkit: vl-convert's Vega bundle, sha256 "


def cache_dir() -> Path | None:
    """Where auditkit keeps what is slow to build and safe to reuse; None if there is no home.

    $AUDITKIT_CACHE_DIR, else $XDG_CACHE_HOME/auditkit, else ~/.cache/auditkit.
    """
    if os.environ.get(CACHE_DIR_VARIABLE):
        return Path(os.environ[CACHE_DIR_VARIABLE])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if Path(xdg).is_absolute():  # the XDG spec says to ignore a relative path
        return Path(xdg) / "auditkit"
    try:
        return Path.home() / ".cache" / "auditkit"
    except RuntimeError:
        return None


def _build_vega_javascript(vl_version: str | None) -> str:
    # (its stub makes `snippet` required; left out, the default puts vegaEmbed on the window)
    bundle = vl_convert.javascript_bundle(vl_version=vl_version)  # type: ignore[call-arg]
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def _cached_vega(path: Path) -> str | None:
    """The bundle a previous run cached at `path`, or None if it is missing or damaged."""
    try:
        header, _, bundle = path.read_bytes().partition(b"\n")
        text = bundle.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    intact = header.decode("ascii", "replace") == _VEGA_CACHE_HEADER + sha256(bundle).hexdigest()
    return text if intact else None


@cache
def vega_javascript() -> str:
    """Vega, Vega-Lite and vega-embed in one script, from vl-convert's bundled copies (offline).

    Vega-Lite is the version altair writes its specs for, where vl-convert has it. '</script' is
    escaped in case a future bundle contains it, so the library can never end its own tag.
    Building it takes vl-convert some 2.5 s, so it is cached on disk (see `cache_dir`) per
    vl-convert and Vega-Lite version, with a checksum; a cache that cannot be read or written is
    rebuilt or skipped, never fatal.
    """
    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    vl_version = wanted if wanted in vl_convert.get_vegalite_versions() else None
    folder = cache_dir()
    name = f"vega-{version('vl-convert-python')}-vl{vl_version or 'default'}.js"
    path = folder / name if folder is not None else None
    cached = _cached_vega(path) if path is not None else None
    if cached is not None:
        return cached
    bundle = _build_vega_javascript(vl_version)
    if path is not None:
        data = bundle.encode("utf-8")
        header = (_VEGA_CACHE_HEADER + sha256(data).hexdigest() + "\n").encode("ascii")
        with contextlib.suppress(OSError):  # read-only home, full disk: build it next time too
            write_atomically(path, header + data)
    return bundle


_HTML_ESCAPES = [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")]


def html_texts(values: pd.Series) -> pd.Series:
    """`html_text` over a whole column at once: tables of many thousand rows, with no row loop."""
    text = values if values.dtype == "str" else values.astype(object).astype("str")
    return escaped(text, _HTML_ESCAPES)


def html_table(
    frame: pd.DataFrame, numeric: Iterable[str] = (), empty: str = "None.", attributes: str = ""
) -> str:
    """`frame` as an HTML table built a column at a time (thousands of rows with no row loop):
    headings with spaces for underscores, `numeric` columns' cells of class "num", `empty`
    said instead of a table without rows; `attributes` for the table element."""
    if frame.empty:
        return f'<p class="empty">{html_text(empty)}</p>'
    numeric = set(numeric)

    def opening(tag: str, column: str) -> str:
        return f'<{tag} class="num">' if column in numeric else f"<{tag}>"

    head = "".join(
        f"{opening('th', c)}{html_text(c.replace('_', ' '))}</th>" for c in frame.columns
    )
    cells = (
        (opening("td", column), html_texts(frame.iloc[:, i]), "</td>")
        for i, column in enumerate(frame.columns)
    )
    rows = join_text(["<tr>", *(part for cell in cells for part in cell), "</tr>"], frame.index)
    body = rows.str.cat()
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(result: AuditResult, rules: pd.DataFrame) -> str:
    counted = _counted(result.findings)
    by_severity = counted["severity"].value_counts()
    examined = int(rules["opportunities"].sum())
    flagged = int(rules["findings"].sum())
    overall = (examined - flagged) / examined if examined else float("nan")
    pooled = f"{flagged} of {examined} records flagged" if examined else "nothing was examined"
    apart = " (dismissed ones apart)" if len(counted) < len(result.findings) else ""
    cards = [
        (
            len(counted),
            f"{_noun(len(counted), 'finding')}{apart}: "
            + ", ".join(f"{by_severity.get(s, 0)} {s}" for s in SEVERITIES),
        ),
        (_percent(overall), f"compliance over all rules ({pooled})"),
        (examined, f"{_noun(examined, 'record')} examined, once per rule that examines them"),
        (
            result.rows_rejected,
            f"input {_noun(result.rows_rejected, 'row')} rejected"
            + (" in the bundle (not listed here)" if result.clinicians else ""),
        ),
    ]
    if "review" in result.findings:
        dismissed = int((result.findings["review"] == "dismissed").sum())
        cards.append(
            (dismissed, f"{_noun(dismissed, 'finding')} dismissed on review (not counted)")
        )
    return "".join(
        f'<div class="card"><span class="value">{html_text(value)}</span>'
        f'<span class="label">{html_text(label)}</span></div>'
        for value, label in cards
    )


def _noun(n: int, noun: str) -> str:
    """A card's noun as its number needs it: '1 finding', '2 findings'."""
    return noun if n == 1 else noun + "s"


def _rules_table(rules: pd.DataFrame) -> str:
    why = no_figure(rules)
    shown = pd.DataFrame(
        {
            "rule": rules["rule"],
            "name": rules["name"],
            "severity": rules["severity"],
            "examines": rules["examines"],
            "records examined": rules["opportunities"],
            "findings": rules["findings"],
            "compliance": why.where(why != "", rules["compliance"].map(_percent)),
        }
    )
    return html_table(shown, numeric=["records examined", "findings", "compliance"])


def _select(label: str, key: str, options: dict[str, str]) -> str:
    values = pd.Series(list(options), dtype="str")  # a health system has thousands of clinicians
    texts = pd.Series(list(options.values()), dtype="str")
    choices = join_text(
        ['<option value="', html_texts(values), '">', html_texts(texts), "</option>"], values.index
    ).str.cat()
    return (
        f'<label>{html_text(label)}<select data-filter="{key}" id="filter-{key}">'
        f'<option value="">all</option>{choices}</select></label>'
    )


def _review_cells(findings: pd.DataFrame) -> pd.Series:
    """The review decision, then who made it, when, and their comment, each on its own line."""
    review = findings["review"]
    if review.isna().all():  # nothing reviewed yet, as on a first audit: nothing to build
        return pd.Series("<td></td>", index=findings.index, dtype="str")
    mark = html_texts(review)
    parts = ['<td><span class="review review-', mark, '">', mark, "</span>"]
    for column in ("reviewer", "reviewed_at", "review_comment"):
        detail = findings[column] if column in findings else pd.Series(index=findings.index)
        if pd.api.types.is_datetime64_any_dtype(detail):
            detail = detail.dt.strftime("%Y-%m-%d")
        text = html_texts(detail)
        parts.append(("<br><small>" + text + "</small>").where(text != ""))  # missing joins as ''
    cells = join_text([*parts, "</td>"], findings.index)
    return cells.where(review.notna(), "<td></td>")


def _finding_rows(findings: pd.DataFrame, names: dict[str, str]) -> pd.Series:
    """Each finding's <tr>, built a column at a time: a year of a large clinic has 70,000."""
    reviewed = "review" in findings
    rule = html_texts(findings["rule"])
    rule_name = html_texts(findings["rule"].map({code: r.name for code, r in RULES.items()}))
    staff = findings["staff_id"]
    data = {"rule": rule, "severity": html_texts(findings["severity"]), "staff": html_texts(staff)}
    css = pd.Series("finding", index=findings.index, dtype="str")
    if reviewed:
        data["review"] = html_texts(findings["review"])
        css = css.where(findings["review"] != "dismissed", "finding dismissed")
    iso = iso_times(findings["at"])  # 2026-03-16T13:00:00-07:00, shown as 2026-03-16 13:00
    shown_at = with_repeated_zone(
        iso.str.slice(0, 10) + " " + iso.str.slice(11, 16), findings["at"]
    )
    parts = [
        '<tr class="', css, '"',
        *(part for key, value in data.items() for part in (f' data-{key}="', value, '"')),
        "><td>", rule, "<br><small>", rule_name, "</small></td>",
        '<td class="nowrap" data-sort="', iso, '">',
        shown_at, "</td>",
        '<td class="clinician">', html_texts(clinician_labels(staff, names)), "</td>",
        '<td class="id">', html_texts(findings["client_id"]), "</td>",
        '<td class="nowrap">', html_texts(findings["subject_type"]), " ",
        '<span class="id">', html_texts(findings["subject_id"]), "</span></td>",
        '<td class="summary">', html_texts(findings["summary"]), "</td>",
        '<td class="evidence">', html_texts(findings["evidence"]), "</td>",
        *([_review_cells(findings)] if reviewed else []),
        "</tr>",
    ]  # fmt: skip
    return join_text(parts, findings.index)


# Findings the page lists at most. A browser lays out a table of tens of thousands of rows
# slowly: Chromium opened the page of 11,000 findings in 3 s and of 112,000 in 2.5 minutes.
# findings.csv, the workbook and the review queue keep every finding.
MAX_PAGE_FINDINGS = 10_000


def listed_findings(findings: pd.DataFrame, most: int = MAX_PAGE_FINDINGS) -> pd.DataFrame:
    """The findings the page lists: all of them, up to `most`. Beyond, every rule gets an equal
    share of `most` (a rule with fewer findings, all of its own, what it leaves going to the
    others; a share that does not divide evenly, one more to the rules listed first), each
    rule's earliest findings; in the audit's order."""
    if len(findings) <= most:
        return findings
    counts = findings["rule"].value_counts(sort=False)  # rules in the audit's order
    ordered = np.sort(counts.to_numpy())
    level = before = 0
    for place, count in enumerate(ordered):  # a pass per rule, fewest findings first
        rest = len(ordered) - place
        if before + count * rest > most:  # the rules from here on share what is left equally
            level = (most - before) // rest
            break
        before += count
    shares = np.minimum(counts.to_numpy(), level)
    shares[np.flatnonzero(counts.to_numpy() > level)[: most - shares.sum()]] += 1
    share = dict(zip(counts.index, shares, strict=True))
    earliest = findings.groupby("rule", sort=False).cumcount() < findings["rule"].map(share)
    return findings[earliest.to_numpy()]


def _findings_table(result: AuditResult) -> Iterator[str | bytes]:
    """The findings table, in pieces: a severity's rows as UTF-8, made as the page is
    written; at most MAX_PAGE_FINDINGS of them (`listed_findings`), saying so when fewer than
    all."""
    if result.findings.empty:
        yield '<p class="empty">No findings: every record examined kept the policy.</p>'
        return
    findings = listed_findings(result.findings, MAX_PAGE_FINDINGS)
    every = len(result.findings)
    names = clinician_names(result)
    reviewed = "review" in findings
    headers = ["rule", "when", "clinician", "client", "record", "summary", "evidence"]
    headers += ["review"] if reviewed else []
    head = "".join(
        f'<th aria-sort="none"><button type="button">{title}</button></th>' for title in headers
    )
    present = findings["rule"].unique()
    controls = [
        '<label>Filter<input type="search" id="filter-text" '
        'placeholder="words, ids or dates in any column"></label>',
        _select("Rule", "rule", {c: f"{c} {RULES[c].name}" for c in RULES if c in present}),
        _select("Severity", "severity", {s: s for s in SEVERITIES}),
        _select(
            "Clinician", "staff", {s: n for n, s in clinician_choices(findings["staff_id"], names)}
        ),
    ]
    if reviewed:
        reviews = {r: r for r in ("new", "confirmed", "dismissed")}
        controls.append(_select("Review", "review", reviews))
    listed = f"{len(findings):,} listed, of {every:,} findings" if len(findings) < every else ""
    controls.append(
        f'<span class="shown">showing <strong id="findings-shown">{len(findings):,}</strong> '
        f"of {listed or format(len(findings), ',')}</span>"
    )
    if listed:
        yield (
            f'<p class="note listed">This page lists {len(findings):,} of the {every:,} findings, '
            "so that it still opens in a browser: every rule's earliest, up to an equal share "
            "each (all of a rule's findings where it has fewer). Every finding is in "
            "findings.csv and report.xlsx, and in the QA review queue. Filtering and sorting "
            "here apply to the findings listed.</p>"
        )
    yield (
        '<p class="note sort-hint">Click a column heading to sort within each severity; type or '
        "choose below to filter.</p>"
        f'<div class="controls">{"".join(controls)}</div>'
        # Wider than a laptop's window: it scrolls sideways in a box of its own (which the
        # keyboard reaches), not the whole page.
        '<div class="wide" tabindex="0" role="region" aria-label="Findings table">'
        f'<table id="findings"><thead><tr>{head}</tr></thead>'
    )
    of_severity = result.findings["severity"].value_counts()
    for severity in SEVERITIES:
        # An audit's findings come sorted by severity: a slice of them, not a copy.
        shown = findings.iloc[
            as_block(np.flatnonzero((findings["severity"] == severity).to_numpy()))
        ]
        if len(shown):
            total = int(of_severity[severity])
            more = f' <span class="group-total">of {total:,}</span>' if len(shown) < total else ""
            yield (
                f'<tbody class="group" data-group="{severity}"><tr class="group-head">'
                f'<th colspan="{len(headers)}"><span class="sev sev-{severity}">{severity}</span> '
                f'severity <span class="group-count">{len(shown):,}</span>{more}</th></tr>'
            )
            yield concatenated_utf8(_finding_rows(shown, names))
            yield "</tbody>"
    yield "</table></div>"


def _trend_note(result: AuditResult) -> str:
    scope = (
        f"The audited month and up to {CONTEXT_MONTHS} months before it, from the first month "
        "with records, for context. "
        if result.month is not None
        else "Every month in the bundle. "
    )
    return (
        scope + "Compliance pools all rules (records flagged ÷ records examined); the no-show "
        "rate is no-shows ÷ all appointments scheduled that month. Months with nothing to divide "
        "by have no point."
    )


def _caveats(result: AuditResult) -> str:
    """The audit's caveats, at the top of the page: before any figure is read."""
    return "".join(f'<p class="caveat">{html_text(caveat)}</p>' for caveat in result.caveats)


_MASKED = "Clients appear by id only; names and phone numbers in the evidence are masked."
_NAMES_SHOWN = "Names shown (--show-names):"


def _names_shown(document: str) -> str:
    """What a `document` ('report', 'workbook') made with --show-names says after its label."""
    return (
        "client names and phone numbers appear in the evidence. For internal QA only; do not "
        f"file or share this {document}."
    )


def _privacy_note(result: AuditResult) -> str:
    """Says, at the top, whether this report may leave the QA team."""
    if result.names_shown:
        return (
            f'<p class="privacy shown"><strong>{_NAMES_SHOWN}</strong> {_names_shown("report")}</p>'
        )
    return f'<p class="privacy">{_MASKED}</p>'


def _clinicians_words(result: AuditResult) -> list[str]:
    """The clinicians a clinician's report is for, as the heatmap names them ([] for a clinic's)."""
    names = clinician_names(result)
    return [names.get(staff_id, staff_id) for staff_id in result.clinicians]


def _scope_note(clinicians: list[str]) -> str:
    """Says, at the top, that a clinician's report holds only their records."""
    if not clinicians:
        return ""
    whose = "these clinicians'" if len(clinicians) > 1 else "this clinician's"
    return (
        f'<p class="scope">For {html_text(", ".join(clinicians))}: the findings and compliance '
        f"of {whose} records only; the clinic's report has everyone's.</p>"
    )


def _bundles_own(result: AuditResult, what: str, table: str) -> str:
    """In place of a listing that is the bundle's rather than a clinician's, in their report:
    it is no part of their work, and it names other clients' records. '' in a clinic's."""
    if not result.clinicians:
        return ""
    return (
        f"<p class=\"note\">The bundle's {what} are not listed in a clinician's report: see the "
        f"clinic's report, or {table} beside this page.</p>"
    )


def _about(result: AuditResult, trend: pd.DataFrame) -> pd.DataFrame:
    """The workbook's first sheet: what the page says above its figures (clinic, period, whom
    it is for, policy, reviews, privacy, caveats) and the policy settings in force, for a
    workbook filed or forwarded without its page. `trend` is monthly_trend(result)."""
    policy = result.bundle.policy
    names_shown = f"{_NAMES_SHOWN} {_names_shown('workbook')}"
    rows = [
        ("clinic", policy.clinic.name or "the clinic"),
        ("period", _period(result, trend)),
        *([("for", ", ".join(_clinicians_words(result)))] if result.clinicians else []),
        ("policy", policy.source),
        ("reviews", result.reviews_summary),
        ("privacy", names_shown if result.names_shown else _MASKED),
        *(("caveat", caveat) for caveat in result.caveats),
        ("auditkit", version("auditkit")),
        *settings_in_force(policy)[["setting", "value"]].itertuples(index=False),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


def render_html(result: AuditResult) -> str:
    """The whole report page as one self-contained HTML document."""
    return "".join(p if isinstance(p, str) else str(p, "utf-8") for p in _page_pieces(result))


def _page_pieces(result: AuditResult) -> Iterator[str | bytes]:
    """The report page in pieces: the template's text with each $placeholder filled, the
    findings table as several pieces (its rows as UTF-8 already), made as they are written."""
    rules = rule_summary(result)
    trend = monthly_trend(result)
    coverage = result.coverage[["file", "encoding", "rows_read", "accepted", "rejected"]]
    policy = result.bundle.policy
    reviews_note = (
        " Findings dismissed on review are not counted." if "review" in result.findings else ""
    )
    clinicians = _clinicians_words(result)
    values: dict[str, str | Iterator[str | bytes]] = {
        "clinic": html_text(", ".join([policy.clinic.name or "the clinic", *clinicians])),
        "scope": _scope_note(clinicians),
        "listed": "listed in the clinic's report" if clinicians else "listed at the end",
        "period": html_text(_period(result, trend)),
        "policy": html_text(policy.source),
        "generated": html_text(dt.datetime.now(policy.tz).strftime("%Y-%m-%d %H:%M %Z")),
        "version": html_text(version("auditkit")),
        "privacy": _privacy_note(result),
        "caveats": _caveats(result),
        "cards": _cards(result, rules),
        "coverage": html_table(
            coverage, numeric=["rows_read", "accepted", "rejected"], empty="No files were read."
        ),
        "reviews_note": reviews_note,
        "reviews": html_text(result.reviews_summary),
        "stale": _bundles_own(result, "stale reviews", "stale_reviews.csv")
        or html_table(
            result.stale_reviews[["rule", "subject_id", "decision", "reviewer", "reason"]],
            empty="None: every review still matches a finding."
            if result.reviews_file is not None
            else "None: there is no reviews file, so no review to match.",
        ),
        "rules": _rules_table(rules),
        "settings": html_table(settings_in_force(policy)),
        "trend_note": html_text(_trend_note(result)),
        "findings": _findings_table(result),
        "rejected": _bundles_own(result, "input rows set aside", "rejected.csv")
        or html_table(
            result.rejected, numeric=["line"], empty="No rows were rejected: every row was used."
        ),
        "vega": vega_javascript(),
        "specs": script_json(chart_specs(result, rules, trend)),
    }
    template = files("auditkit").joinpath("templates/report.html").read_text("utf-8")
    at = 0
    for placeholder in Template.pattern.finditer(template):  # Template.substitute's own syntax
        yield template[at : placeholder.start()]
        name = placeholder.group("named") or placeholder.group("braced")
        if name is None:  # '$$', or a '$' with no name
            yield "$" if placeholder.group("escaped") is not None else placeholder[0]
        else:
            value = values[name]
            yield from [value] if isinstance(value, str) else value
        at = placeholder.end()
    yield template[at:]


# --- xlsx ------------------------------------------------------------------------------------


def render_xlsx(result: AuditResult) -> bytes:
    """The workbook: About, Findings, Rules, Clinicians, Months, Stale reviews and Rejected
    sheets (a clinician's, the first five).

    Text is stored as text, and text a spreadsheet would run as a formula ('=…') is marked as
    typed after an apostrophe, which Excel hides: the cell shows the words as they are, where the
    CSVs prefix them with a visible "'", and no reader runs them, even once edited.
    """
    trend = monthly_trend(result)  # the About sheet's period and the Months sheet's months
    sheets = [
        ("About", _about(result, trend), ()),
        ("Findings", result.findings, ()),
        ("Rules", rule_summary(result), ["compliance"]),
        ("Clinicians", clinician_summary(result), ["compliance"]),
        ("Months", month_over_month(result, trend), ["compliance"]),
    ]
    if not result.clinicians:  # the bundle's, not a clinician's: see for_clinicians
        sheets += [("Stale reviews", result.stale_reviews, ()), ("Rejected", result.rejected, ())]
    return xlsx_workbook(sheets)


def write_report(result: AuditResult, out: Path, first: Callable[[], object] | None = None) -> None:
    """Write out/report.html, then out/report.xlsx, each atomically.

    The workbook is rendered on a thread while `first` (the CLI's tables, say) is written and
    then the page rendered: most of the work is Arrow's, numpy's and zlib's, which leave Python
    free. The workbook is made a block of rows at a time, so beside the page it adds little."""
    out = Path(out)
    with ThreadPoolExecutor(1) as pool:
        workbook = pool.submit(render_xlsx, result)
        if first is not None:
            first()
        write_atomically(out / "report.html", _utf8(_page_pieces(result)))
        write_atomically(out / "report.xlsx", workbook.result())


def _utf8(pieces: Iterator[str | bytes]) -> Iterator[bytes]:
    """The pieces as UTF-8."""
    for piece in pieces:
        yield piece.encode("utf-8") if isinstance(piece, str) else piece
