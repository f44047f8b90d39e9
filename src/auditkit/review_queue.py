"""The QA reviewer's queue: one finding at a time, with its record's context, decided and saved.

Findings nobody has decided come first, most severe first. Each shows what a reviewer needs to
judge it and no more: the client by id only (never a name or phone number), the appointment,
the client's calls and notes around it, and the message or note text with the words that
triggered the rule highlighted. Every decision is appended to the reviews file the CLI reads
(``auditkit audit --reviews``) the moment it is made, by rewriting the whole file atomically:
a crash or a closed tab loses nothing already decided, and a new queue resumes from the file.
With each decision go the finding's client id and its evidence (masked) as the reviewer saw
them, so the decision is not applied to another client's record or to a record since changed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

import ipywidgets as widgets
import pandas as pd

from auditkit.auditing import CHECK_COLUMNS, REVIEW_MARKS, AuditResult, audit, check_whole
from auditkit.errors import BundleError
from auditkit.loading import decode
from auditkit.notebook import SEVERITY_BADGES, table_rules
from auditkit.output import counted, csv_records, exclusive, neutralise_formulas, write_atomically
from auditkit.privacy import findings_masker
from auditkit.report import (
    clinician_choices,
    clinician_labels,
    clinician_names,
    html_text,
    month_label,
)
from auditkit.reviews import (
    KEY,
    REVIEW_COLUMNS,
    apply_reviews,
    load_reviews,
    no_reviews,
)
from auditkit.rules import RULES, SEVERITY_ORDER
from auditkit.rules.base import month_of, wall_time, with_repeated_zone
from auditkit.schemas import REVIEWS, SUBJECT_TIMES
from auditkit.tables import normalise_column_name
from auditkit.validation import Bundle

CONTEXT_WINDOW = pd.Timedelta(days=3)  # calls and notes this close to the record are shown
# Neutralised for spreadsheets (the audit compares evidence so written); ids must match findings.
FREE_TEXT = ["reviewer", "comment", "evidence"]
# Seconds after a decision in which a click is the second of a double-click on the card decided.
DOUBLE_CLICK = 0.5
_QUOTED = re.compile("\u201c(.+?)\u201d")  # rules quote the words they matched: “…”
# Columns that identify a person: first_name, last_name, phone, from_number, email, ...
IDENTIFYING = re.compile(r"name$|phone|number|email|address|birth", re.IGNORECASE)

ACCESSIBLE_GREEN = "#2e7d32"  # white text on it: 5.1:1

STYLE = (
    "<style>\n"
    + table_rules(".auditkit-record", "3px 8px")
    + SEVERITY_BADGES
    + """.auditkit-record { font-size: 13px; max-width: 1100px; }
.auditkit-record table { width: 100%; margin-bottom: 8px; }
.auditkit-record th { text-align: left; }
.auditkit-record td { vertical-align: top; line-height: 1.35; }
.auditkit-record p { line-height: 1.4; margin: 4px 0; }
.auditkit-record tr.subject td { background: #fffbe6; font-weight: 600; }
.auditkit-record mark { background: #fde68a; padding: 0 2px; }
.auditkit-record td:nth-child(2) { white-space: nowrap; }
.auditkit-record .policy { color: #475467; font-style: italic; }
</style>"""
)


def queue_order(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings in review order: undecided first, then most severe, then oldest."""
    return findings.assign(
        _decided=findings["review"] != "new", _severity=findings["severity"].map(SEVERITY_ORDER)
    ).sort_values(["_decided", "_severity", "at", "rule", "subject_id"], ignore_index=True)[
        findings.columns
    ]


def evidence_spans(evidence: str) -> list[str]:
    """The words a rule matched in a message or note, as its evidence quotes them."""
    return _QUOTED.findall(evidence)


def highlight(text: Any, spans: Iterable[str]) -> str:
    """`text` HTML-escaped, with each occurrence of a span wrapped in <mark>."""
    if not isinstance(text, str):
        return html_text(text)
    found = sorted({s for s in spans if s and s in text}, key=len, reverse=True)
    if not found:
        return html_text(text)
    parts = re.split("(" + "|".join(map(re.escape, found)) + ")", text)
    # re.split with one group alternates text outside the spans and the spans themselves
    return "".join(
        f"<mark>{html_text(part)}</mark>" if i % 2 else html_text(part)
        for i, part in enumerate(parts)
    )


def _table(frame: pd.DataFrame, subject: pd.Series | None = None, empty: str = "None.") -> str:
    """Pre-rendered (already escaped) cells as a table; `subject` marks the finding's own row."""
    if frame.empty:
        return f"<p>{html_text(empty)}</p>"
    marks = subject if subject is not None else pd.Series(False, index=frame.index)
    head = "".join(f"<th>{html_text(c)}</th>" for c in frame.columns)
    body = "".join(
        ('<tr class="subject">' if mark else "<tr>")
        + "".join(f"<td>{v}</td>" for v in row)
        + "</tr>"
        for mark, row in zip(marks, frame.itertuples(index=False), strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(times: pd.Series) -> pd.Series:
    return with_repeated_zone(times.dt.strftime("%a %Y-%m-%d %H:%M"), times).fillna("")


@dataclass(frozen=True)
class RecordContext:
    """What a reviewer reads around a finding: rows of the client's own records."""

    appointment: pd.DataFrame  # zero or one row
    contacts: pd.DataFrame
    notes: pd.DataFrame
    linked: bool  # the appointment is the subject or linked to it, not inferred
    # The subject's own row when it is none of the above (a phone-system call, say), less the
    # columns that identify a person (IDENTIFYING): a reviewer needs what happened, not who.
    record: pd.DataFrame


def _subject_row(bundle: Bundle, kind: str, subject: str) -> pd.DataFrame:
    """The finding's own record, looked up where auditkit.reviews says that kind lives."""
    if kind not in SUBJECT_TIMES:
        return pd.DataFrame()
    table, id_column, _ = SUBJECT_TIMES[kind]
    frame = getattr(bundle, table)
    return frame[frame[id_column] == subject]


def record_context(bundle: Bundle, finding: Mapping[str, Any]) -> RecordContext:
    """The finding's appointment, and the client's calls and notes around it.

    The appointment is the subject itself, or the one its record is linked to; for an unlinked
    one, the client's latest session in the CONTEXT_WINDOW before it, which is what an outreach
    call or a missed-session note is usually about. "Around" is within CONTEXT_WINDOW of that
    appointment's start (else of the finding's time), or linked to that appointment. Only the
    client's own records, and never their name or phone number.
    """
    kind, subject, client = finding["subject_type"], finding["subject_id"], finding["client_id"]
    own = _subject_row(bundle, kind, subject)
    booked = bundle.appointments
    if kind == "appointment":
        appointment_id = subject
    else:
        ids = own["appointment_id"].dropna() if "appointment_id" in own else pd.Series(dtype="str")
        appointment_id = ids.iloc[0] if len(ids) else None
    linked = appointment_id is not None
    if not linked:
        start = booked["scheduled_start"]
        before = booked[
            (booked["client_id"] == client)
            & (start <= finding["at"])
            & (start >= finding["at"] - CONTEXT_WINDOW)
        ]
        latest = before.sort_values("scheduled_start")["appointment_id"].tail(1)
        appointment_id = latest.iloc[0] if len(latest) else None
    appointment = booked[booked["appointment_id"] == appointment_id]
    anchor = appointment["scheduled_start"].iloc[0] if len(appointment) else finding["at"]

    def around(frame: pd.DataFrame, at: str) -> pd.DataFrame:
        near = (frame[at] - anchor).abs() <= CONTEXT_WINDOW
        tied = frame["appointment_id"] == appointment_id if appointment_id else False
        return frame[(frame["client_id"] == client) & (near | tied)].sort_values(at)

    shown_elsewhere = kind in ("appointment", "contact", "note")
    record = own.iloc[:0] if shown_elsewhere else own
    hidden = [c for c in record.columns if c == "source_line" or IDENTIFYING.search(c)]
    return RecordContext(
        appointment,
        around(bundle.contacts, "started_at"),
        around(bundle.notes, "written_at"),
        linked,
        record.drop(columns=hidden),
    )


def _client(client_id: Any) -> str:
    """The finding's client on its card; one charged to none (an LG001 call that could have
    been with several) says so, its evidence naming them."""
    if pd.isna(client_id):
        return "none: the evidence names those it can have been"
    return f"<code>{html_text(client_id)}</code>"


def _record_section(kind: str, record: pd.DataFrame) -> str:
    """The subject's own row, for kinds the appointment, calls and notes tables do not show."""
    if record.empty:
        return ""
    cells = record.apply(
        lambda column: _when(column) if isinstance(column.dtype, pd.DatetimeTZDtype) else column
    ).map(html_text)
    return f"<h4>The {html_text(kind)} record</h4>" + _table(
        cells, subject=pd.Series(True, index=record.index)
    )


def _finding_time(at: pd.Timestamp, logged: pd.Series) -> str:
    """When the finding happened; for a logged call the phone system also has, the rule timed
    it by the phone system's clock, so the log's own time is given beside it."""
    when = _when(pd.Series([at])).iloc[0]
    if len(logged) and logged.iloc[0].floor("min") != at.floor("min"):
        when += f" (the phone system's time; logged {wall_time(logged.head(1)).iloc[0]})"
    return when


def context_html(
    bundle: Bundle,
    finding: Mapping[str, Any],
    names: Mapping[str, str],
    mask: Callable[[pd.Series], pd.Series] | None = None,
) -> str:
    """The whole card for one finding: what the rule says, the record, and its context.

    `mask` hides names and numbers in the messages and notes shown (as the audit hid them in
    the evidence, so the marked words still line up); None shows them as written.
    """
    rule = RULES[finding["rule"]]
    context = record_context(bundle, finding)
    if mask is not None:
        for frame, column in ((context.contacts, "message"), (context.notes, "text")):
            written = frame[column]
            frame[column] = mask(written.fillna("")).where(written.notna())
    spans = evidence_spans(finding["evidence"])
    appointment, contacts, notes = context.appointment, context.contacts, context.notes
    kind, subject = finding["subject_type"], finding["subject_id"]
    contact_is_subject = (kind == "contact") & (contacts["contact_id"] == subject)
    note_is_subject = (kind == "note") & (notes["note_id"] == subject)

    def staff(ids: pd.Series) -> pd.Series:
        return clinician_labels(ids, names).map(html_text)

    sections = [
        f'<h3><span class="auditkit-sev auditkit-sev-{finding["severity"]}">'
        f"{finding['severity']}</span> {finding['rule']} {html_text(rule.name)}</h3>",
        f"<p><strong>{html_text(finding['summary'])}</strong></p>",
        f"<p>Evidence: {highlight(finding['evidence'], spans)}</p>",
        f"<p>Client {_client(finding['client_id'])} · clinician "
        f"{html_text(names.get(finding['staff_id'], finding['staff_id']))} · "
        f"{html_text(finding['subject_type'])} <code>{html_text(subject)}</code> · "
        f"{_finding_time(finding['at'], contacts.loc[contact_is_subject, 'started_at'])}</p>",
        f'<p class="policy">Policy: {html_text(rule.quoted_policy)} {html_text(rule.why)}</p>',
        _record_section(kind, context.record),
        "<h4>Appointment</h4>"
        if context.linked or appointment.empty
        else "<h4>Appointment <small>(not linked to this record: the client's latest session "
        "before it)</small></h4>",
        _table(
            pd.DataFrame(
                {
                    "appointment": appointment["appointment_id"].map(html_text),
                    "scheduled": _when(appointment["scheduled_start"]),
                    "clinician": staff(appointment["staff_id"]),
                    "service": appointment["service"].map(html_text),
                    "status": appointment["status"].map(html_text),
                    "minutes": appointment["duration_minutes"].map(html_text),
                }
            ),
            subject=pd.Series(kind == "appointment", index=appointment.index),
            empty="No appointment is linked to this record.",
        ),
        f"<h4>Calls and messages within {CONTEXT_WINDOW.days} days</h4>",
        _table(
            pd.DataFrame(
                {
                    "contact": contacts["contact_id"].map(html_text),
                    "when": _when(contacts["started_at"]),
                    "by": staff(contacts["staff_id"]),
                    "direction": contacts["direction"].map(html_text),
                    "channel": contacts["channel"].map(html_text),
                    "party": contacts["party"].map(html_text),
                    "outcome": contacts["outcome"].map(html_text),
                    "message": [
                        highlight(text, spans if mine else ())
                        for text, mine in zip(contacts["message"], contact_is_subject, strict=True)
                    ],
                }
            ),
            subject=contact_is_subject,
            empty="No calls or messages to this client around then.",
        ),
        "<h4>Notes</h4>",
        _table(
            pd.DataFrame(
                {
                    "note": notes["note_id"].map(html_text),
                    "written": _when(notes["written_at"]),
                    "by": staff(notes["staff_id"]),
                    "appointment": notes["appointment_id"].map(html_text),
                    "text": [
                        highlight(text, spans if mine else ())
                        for text, mine in zip(notes["text"], note_is_subject, strict=True)
                    ],
                }
            ),
            subject=note_is_subject,
            empty="No notes for this client around then.",
        ),
    ]
    return STYLE + '<div class="auditkit-record">' + "".join(sections) + "</div>"


def save_review(path: Path, review: Mapping[str, str]) -> None:
    """Append one decision to a reviews CSV by rewriting the whole file atomically, one writer
    at a time (output.exclusive): two reviewers saving at once each keep their row."""
    with exclusive(Path(path)):
        _append_review(Path(path), review)


def _append_review(path: Path, review: Mapping[str, str]) -> None:
    """save_review's work, for a caller holding the file already.

    Readers see the file with or without the new row, never half of it. An existing file keeps
    its rows and its header's names and order (re-encoded as UTF-8 if it was Windows-1252); a
    new one gets the standard header. A file without the optional columns (one from before
    client_id and evidence were recorded) gets them at the end, blank in its rows, so the new
    row is checked against what its reviewer saw. Reviewer, comment and evidence are
    neutralised like every CSV auditkit writes, so a spreadsheet never runs them as a formula.
    """
    old = str(decode(path.read_bytes())[0], "utf-8") if path.is_file() else ""
    header = next(csv.reader(io.StringIO(old)), None) if old.strip() else None
    names = {normalise_column_name(c): c for c in header} if header else {}
    if missing := [c for c in REVIEWS.required_columns if header and c not in names]:
        raise BundleError(
            f"The reviews file {path} has no '{missing[0]}' column, so a decision cannot be "
            "added to it. Add the column, or choose another reviews file."
        )
    values = {c: "" for c in REVIEW_COLUMNS if c not in REVIEWS.required_columns} | dict(review)
    values |= neutralise_formulas(pd.DataFrame([values])[FREE_TEXT]).iloc[0].to_dict()
    if header:
        if added := [c for c in REVIEW_COLUMNS if c not in names]:
            old = _with_blank_columns(old, added)
            header, names = header + added, names | {c: c for c in added}
        fields = {names[c]: values[c] for c in REVIEW_COLUMNS}
        row = [fields.get(name, "") for name in header]
        text = (old if old.endswith(("\n", "\r")) else old + "\n") + csv_records([row])
    else:
        text = csv_records([REVIEW_COLUMNS, [values[c] for c in REVIEW_COLUMNS]])
    write_atomically(path, text.encode("utf-8"))


def _with_blank_columns(text: str, columns: list[str]) -> str:
    """CSV `text` with `columns` added to its header and a blank field for each added to every
    record (blank lines stay blank; a record of the wrong width stays as wrong)."""
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records) + columns
    return csv_records([header, *(r + [""] * len(columns) if r else [] for r in records)])


def _masked(text: Any, mask: Callable[[pd.Series], pd.Series] | None) -> Any:
    """One text through `mask` (None: as it is); a blank stays blank."""
    if mask is None or not isinstance(text, str):
        return text
    return mask(pd.Series([text])).iloc[0]


def _decided(finding: pd.Series, mask: Callable[[pd.Series], pd.Series] | None) -> str:
    """Who decided a finding already decided, when, and why: the comment masked by `mask`
    (None shows it as typed), as the messages on the card are."""
    if finding["review"] == "new":
        return ""
    comment = html_text(_masked(finding["review_comment"], mask))
    return (
        f"<p>Decided: <strong>{html_text(finding['review'])}</strong> by "
        f"{html_text(finding['reviewer'])} on {finding['reviewed_at']:%Y-%m-%d %H:%M}"
        f"{': ' + comment if comment else ''}</p>"
    )


ANY = ""  # a filter menu's value for no filter: all months, all rules, all clinicians
# What tells one decision on a finding from another. Not the reviewer's name or comment: the
# reviews file gives them back neutralised for spreadsheets and repaired, so the queue's own
# decision, read back, would look like another one.
DECISION = ["review", "reviewed_at"]


class DecidedElsewhere(ValueError):
    """The finding was decided in the reviews file after its card was drawn: nothing saved."""


def _file_state(path: Path) -> tuple[int, int] | None:
    """The file's modification time (ns) and size, or None while there is no file: a change
    means another reviewer saved to it (the queue's own saves are recorded as they are made)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _loaded_note(loaded: int) -> str:
    """What the status line says of decisions another reviewer saved, loaded from the file."""
    if loaded == 0:
        return ""
    if loaded == 1:
        return "1 decision saved elsewhere was loaded."
    return f"{loaded} decisions saved elsewhere were loaded."


def _error(message: Any) -> str:
    return f'<span style="color:#b42318">{html_text(message)}</span>'


def _same(one: pd.Series, other: pd.Series | None) -> bool:
    """Two findings' DECISION marks alike, a missing mark (new: no time) matching another."""
    if other is None:
        return False
    return all(a == b or (pd.isna(a) and pd.isna(b)) for a, b in zip(one, other, strict=True))


def _menu(
    description: str, every: str, options: list[tuple[str, str]], chosen: str | None
) -> widgets.Dropdown:
    """A filter menu of `every` (no filter) and `options` (label, value), those with findings
    to review, set to `chosen` (None: `every`), which must be one of them."""
    values = [value for _, value in options]
    if chosen is not None and chosen not in values:
        raise ValueError(
            f"No findings to review for {description.lower()} {chosen}: those with findings are "
            f"{', '.join(values) or 'none'}."
        )
    return widgets.Dropdown(
        options=[(every, ANY), *options], value=chosen or ANY, description=description
    )


class ReviewQueue(widgets.VBox):
    """Findings to confirm or dismiss, one at a time; every decision saved to `reviews` at once.

    Display it as the last expression of a notebook cell. ``all_findings`` is the whole queue in
    order, marked with every decision so far. The month, rule and clinician menus narrow it to
    ``findings`` (the whole queue while each says "All ..."), which the progress line counts and
    Previous, Next and the move after a decision walk; its index is the rows' in
    ``all_findings``. ``position`` is the finding shown, counted in ``findings``; ``shown`` its
    rule and subject_id.

    Reviewers may share one reviews file. Before a card is drawn and before a decision is saved,
    a file changed since the queue last read or wrote it is read again and its decisions applied
    as at the start, so a finding decided elsewhere is neither shown as new nor decided over
    unasked.
    """

    def __init__(
        self,
        source: AuditResult | Bundle,
        reviews: Path | str,
        reviewer: str = "",
        *,
        month: str | None = None,
        rule: str | None = None,
        clinician: str | None = None,
    ):
        """`month` (YYYY-MM, as ``auditkit audit --month``), `rule` (a code) and `clinician` (a
        staff_id) set the menus at first, for a notebook that reviews one month or one rule;
        each must have findings (ValueError), as the menus list only those."""
        self.reviews_file = Path(reviews)
        if self.reviews_file.suffix.lower() != ".csv":
            raise ValueError(f"The reviews file must be a .csv file, not {self.reviews_file}.")
        result = source if isinstance(source, AuditResult) else audit(source)
        check_whole(result.bundle, "reviewed in the queue, whose cards show each record whole")
        self.bundle = result.bundle
        self.names = clinician_names(result)
        masker = findings_masker(self.bundle)
        # What the card masks (None: names shown), and how evidence is masked for the reviews
        # file, which holds no client's name either way (None: the findings' is masked).
        self.mask = None if result.names_shown else masker
        self.evidence_mask = masker if result.names_shown else None
        self._tz = self.bundle.policy.clinic.timezone
        # The file as last read or written: read again when it is no longer so (_refresh).
        self._read_state = _file_state(self.reviews_file)
        if self.reviews_file.is_file():
            loaded = load_reviews(self.reviews_file, self._tz)
        else:
            loaded = no_reviews(self._tz)
        decided, self.rejected = loaded.decided, loaded.rejected
        self._checked = result.findings[CHECK_COLUMNS]
        self.all_findings = queue_order(self._marked(decided))
        self._months = month_of(self.all_findings["at"])  # clinic-local, as audit(month=)'s
        self.findings = self.all_findings
        self.position = 0
        self.shown: tuple[str, str] | None = None
        self._drawn: pd.Series | None = None  # the DECISION of the finding shown, as drawn
        # monotonic() when a click last changed the card: a decision, or one made elsewhere
        self._decided_at = float("-inf")

        months = sorted(self._months.dropna().unique(), reverse=True)  # newest first
        found = set(self.all_findings["rule"])
        self.month = _menu(
            "Month", "All months", [(f"{month_label(m)} ({m})", m) for m in months], month
        ).add_class("auditkit-month")
        self.rule = _menu(
            "Rule",
            "All rules",
            [(f"{code} {rule.name}", code) for code, rule in RULES.items() if code in found],
            rule.upper() if rule else rule,
        ).add_class("auditkit-rule")
        self.clinician = _menu(
            "Clinician",
            "All clinicians",
            clinician_choices(self.all_findings["staff_id"], self.names),
            clinician,
        ).add_class("auditkit-clinician")
        self.progress = widgets.HTML().add_class("auditkit-progress")
        self.record = widgets.HTML().add_class("auditkit-record-card")
        self.reviewer = widgets.Text(
            value=reviewer, description="Reviewer", placeholder="your name"
        ).add_class("auditkit-reviewer")
        self.comment = widgets.Textarea(
            description="Comment",
            placeholder="why (saved with the decision)",
            layout=widgets.Layout(width="520px", height="64px"),
        ).add_class("auditkit-comment")
        self.confirm_button = widgets.Button(
            description="Confirm", button_style="danger"
        ).add_class("auditkit-confirm")
        self.dismiss_button = widgets.Button(
            description="Dismiss",
            button_style="success",
            # the theme's green gives white text 4.1:1, under the 4.5:1 WCAG AA asks of text
            style=widgets.ButtonStyle(button_color=ACCESSIBLE_GREEN),
        ).add_class("auditkit-dismiss")
        self.previous_button = widgets.Button(description="Previous")
        self.next_button = widgets.Button(description="Next")
        self.status = widgets.HTML().add_class("auditkit-status")
        self.confirm_button.on_click(lambda _button: self._clicked("confirmed"))
        self.dismiss_button.on_click(lambda _button: self._clicked("dismissed"))
        self.previous_button.on_click(lambda _button: self.go(self.position - 1))
        self.next_button.on_click(lambda _button: self.go(self.position + 1))
        for menu in (self.month, self.rule, self.clinician):
            menu.observe(self._narrowed, names="value")
        super().__init__(
            [
                widgets.HTML(
                    f"<h2>QA review: {html_text(self.bundle.policy.clinic.name or 'findings')}"
                    f"</h2><p>Decisions are saved at once to <code>"
                    f"{html_text(self.reviews_file.resolve())}</code>.</p>"
                ),
                widgets.HBox([self.month, self.rule, self.clinician]),
                widgets.HBox([self.progress, self.previous_button, self.next_button]),
                self.record,
                self.reviewer,
                self.comment,
                widgets.HBox([self.confirm_button, self.dismiss_button, self.status]),
            ]
        )
        self._select()
        self.go()

    @property
    def current(self) -> pd.Series | None:
        """The finding shown, with its review marks; None when there are no findings."""
        return self.findings.iloc[self.position] if len(self.findings) else None

    @property
    def reviewed(self) -> int:
        """How many findings in the (filtered) queue carry a decision."""
        return int((self.findings["review"] != "new").sum())

    def go(self, position: int | None = None) -> None:
        """Show the finding at `position` in `findings` (clamped to it); None: the first nobody
        has decided, else the first.

        Decisions saved to the reviews file elsewhere since the queue last read it are loaded
        first, so the card shows a finding as it stands in the file.
        """
        problem = ""
        try:
            loaded = self._refresh()
        except (BundleError, OSError) as err:  # a file being replaced on a shared drive, say
            loaded, problem = 0, f"{err} The decisions shown are those read before."
        self._draw(self._next_new(0, 0) if position is None else position, loaded)
        if problem:
            self.status.value = _error(problem)

    def _narrowed(self, _change: Mapping[str, Any]) -> None:
        """A filter menu changed: its first undecided finding, progress counted within it."""
        self._select()
        self.go()

    def _select(self) -> None:
        """`findings`: the queue narrowed to the month, rule and clinician chosen."""
        queue = self.all_findings
        keep = pd.Series(True, index=queue.index)
        if self.month.value != ANY:
            keep &= self._months == self.month.value
        if self.rule.value != ANY:
            keep &= queue["rule"] == self.rule.value
        if self.clinician.value != ANY:
            keep &= queue["staff_id"] == self.clinician.value
        self.findings = queue[keep]

    def _narrowed_to(self) -> str:
        """The filters chosen, as the progress line names them: 'May 2026, VM001'."""
        chosen = [
            month_label(self.month.value) if self.month.value != ANY else ANY,
            self.rule.value,
            self.names.get(self.clinician.value, self.clinician.value),
        ]
        return ", ".join(part for part in chosen if part != ANY)

    def _refresh(self) -> int:
        """Read the reviews file again if it changed since the queue last read or wrote it, and
        mark the queue as the audit would (held-back reviews included): how many findings'
        decisions that changed. A file since removed leaves the queue as it was."""
        state = _file_state(self.reviews_file)
        if state is None or state == self._read_state:
            return 0
        loaded = load_reviews(self.reviews_file, self._tz)
        marked = self._marked(loaded.decided)
        self._read_state, self.rejected = state, loaded.rejected
        queue = self.all_findings
        marks = (
            queue[KEY]
            .merge(
                marked[[*KEY, *REVIEW_MARKS]].drop_duplicates(KEY),
                on=KEY,
                how="left",
                validate="many_to_one",
            )
            .set_axis(queue.index)[REVIEW_MARKS]
        )
        before, after = queue[DECISION], marks[DECISION]
        changed = ((before != after) & ~(before.isna() & after.isna())).any(axis=1)
        queue[REVIEW_MARKS] = marks
        self._select()
        return int(changed.sum())

    def _marked(self, decided: pd.DataFrame) -> pd.DataFrame:
        """The audit's findings marked with `decided` as ``auditkit audit --reviews`` marks
        them; the reviews held back though their finding fires go to `held`, for the cards."""
        marked, held = apply_reviews(self._checked, decided, self.evidence_mask)
        # By finding: its card says why it is to be decided again.
        self.held = held.set_index(KEY)
        return marked

    def _draw(self, position: int, loaded: int = 0) -> None:
        """The card, progress and buttons for the finding at `position` in `findings`; the
        status says how many decisions saved elsewhere were `loaded` just before."""
        self.position = max(0, min(position, len(self.findings) - 1))
        before = self.shown
        self.status.value = _loaded_note(loaded)
        total = len(self.findings)
        narrowed = self._narrowed_to()
        self.progress.value = (
            f"<strong>{self.reviewed} of {total} reviewed</strong>"
            + (f" · finding {self.position + 1} of {total}" if total else "")
            + (f" · {html_text(narrowed)}" if narrowed else "")
        )
        if len(self.rejected):
            one = len(self.rejected) == 1
            self.progress.value += (
                f" · {counted(len(self.rejected), 'row')} of the reviews file "
                f"{'was' if one else 'were'} set aside (run auditkit audit to see "
                f"{'it' if one else 'them'})"
            )
        finding = self.current
        if finding is None:
            self.shown = self._drawn = None
            self.record.value = (
                f"<p>No findings for {html_text(narrowed)}: nothing to review here. Choose "
                "another month, rule or clinician.</p>"
                if narrowed
                else "<p>No findings: nothing to review.</p>"
            )
        else:
            self.shown = (finding["rule"], finding["subject_id"])
            self._drawn = finding[DECISION]
            card = context_html(self.bundle, finding, self.names, self.mask)
            self.record.value = card + _decided(finding, self.mask) + self._held_back(finding)
        if self.shown != before:  # a comment is about the card it was typed on
            self.comment.value = ""
        self._enable_buttons()

    def _held_back(self, finding: pd.Series) -> str:
        """Why a finding with a review in the file is new again, while nobody decided it since."""
        key = (finding["rule"], finding["subject_id"])
        if finding["review"] != "new" or key not in self.held.index:
            return ""
        review = self.held.loc[key]
        return (
            f'<p class="auditkit-held">An earlier review ({html_text(review["decision"])} by '
            f"{html_text(review['reviewer'])} on {review['reviewed_at']:%Y-%m-%d %H:%M}) was "
            f"not applied: {html_text(review['reason'])}. Decide it again.</p>"
        )

    def decide(self, decision: str, key: tuple[str, str] | None = None) -> None:
        """Record `decision` (confirmed or dismissed) on the finding shown, save it, move on.

        `key` (rule, subject_id) is the finding the decision was made on, when known: if that
        is no longer the finding shown, nothing is saved (ValueError), never given to another.
        If the reviews file has a decision on it made elsewhere since its card was drawn,
        nothing is saved either (DecidedElsewhere): the card is drawn again with that decision,
        and deciding again replaces it. The row is in the reviews file before this returns;
        then the queue moves to the next finding in `findings` nobody has decided (wrapping
        round), or stays when every one is decided.
        """
        finding = self.current
        reviewer = self.reviewer.value.strip()
        if decision not in ("confirmed", "dismissed"):
            raise ValueError(f"A decision is confirmed or dismissed, not {decision!r}.")
        if finding is None:
            raise ValueError("There is no finding to decide.")
        if key is not None and tuple(key) != (finding["rule"], finding["subject_id"]):
            raise ValueError(f"{key[0]} on {key[1]} is no longer the finding shown: not saved.")
        if not reviewer:
            raise ValueError("Enter the reviewer's name before deciding.")
        comment = self.comment.value.strip()
        if decision == "dismissed" and not comment:  # it stops counting: the file says why
            raise ValueError(
                "Say why in the comment before dismissing: it is not a breach because…"
            )
        # Held from reading the file to writing it back: another queue's save in between
        # would be neither seen here nor kept.
        with exclusive(self.reviews_file):
            loaded = self._refresh()
            finding = self.current  # the same finding: a refresh changes marks, not the order
            assert finding is not None
            if not _same(finding[DECISION], self._drawn):
                self._draw(self.position, loaded)
                raise DecidedElsewhere(_decided_elsewhere(finding, decision))
            now = pd.Timestamp.now(tz=self._tz).floor("s")
            if finding["review"] != "new":  # replacing a decision: the latest must be this one,
                now = max(now, finding["reviewed_at"] + pd.Timedelta(seconds=1))  # fast clocks
            _append_review(
                self.reviews_file,
                {
                    "rule": finding["rule"],
                    "subject_id": finding["subject_id"],
                    "decision": decision,
                    "reviewer": reviewer,
                    "reviewed_at": now.isoformat(),
                    "comment": comment,
                    # (blank for a finding charged to no client: "nan" would name one)
                    "client_id": "" if pd.isna(finding["client_id"]) else finding["client_id"],
                    "evidence": _masked(finding["evidence"], self.evidence_mask),
                },
            )
            self._read_state = _file_state(self.reviews_file)  # the queue's own save: not news
        at = self.findings.index[self.position]
        self.all_findings.loc[at, ["review", "reviewer", "review_comment"]] = [
            decision,
            reviewer,
            comment or None,
        ]
        self.all_findings.loc[at, "reviewed_at"] = now
        self._select()
        self.comment.value = ""  # said: cleared though the next undecided card is this one again
        self._draw(self._next_new(self.position + 1), loaded)

    def _next_new(self, start: int, otherwise: int | None = None) -> int:
        """The first undecided finding at or after `start`, wrapping round; else `otherwise`
        (None: stay put)."""
        undecided = (self.findings["review"] == "new").to_numpy().nonzero()[0]
        if len(undecided) == 0:
            return self.position if otherwise is None else otherwise
        later = undecided[undecided >= start]
        return int(later[0] if len(later) else undecided[0])

    def _enable_buttons(self, enabled: bool = True) -> None:
        for button in (
            self.confirm_button,
            self.dismiss_button,
            self.previous_button,
            self.next_button,
        ):
            button.disabled = not enabled or self.current is None

    def _clicked(self, decision: str) -> None:
        """A Confirm or Dismiss click, on the finding whose card was drawn (`shown`).

        The kernel takes clicks one at a time, so a double-click's second click comes once the
        first has saved and drawn the next card, which the browser had not shown yet: it was
        made on the card just decided. Taken as a decision on the card drawn since, it would
        decide a finding nobody read; a click within DOUBLE_CLICK seconds of a decision is
        ignored. So is one within DOUBLE_CLICK of a card drawn again with a decision made
        elsewhere: it would replace a decision its reviewer has not seen. The buttons are
        disabled while saving, so the browser sends none meanwhile.
        """
        if monotonic() - self._decided_at < DOUBLE_CLICK:
            return
        self._enable_buttons(False)
        decided = self.shown
        try:
            self.decide(decision, decided)
        except DecidedElsewhere as err:  # the card was drawn again, buttons enabled
            self._decided_at = monotonic()
            self.status.value = _error(err)
            return
        except (ValueError, OSError, BundleError) as err:
            self._enable_buttons()
            self.status.value = _error(err)
            return
        self._decided_at = monotonic()
        # after decide(), whose move left what it loaded from elsewhere in the status
        saved = f"Saved: {decision}, {' on '.join(decided or ())}."
        self.status.value = " ".join(filter(None, [saved, self.status.value]))
        # The button pressed may be gone from under the keyboard's focus (disabled, redrawn):
        # the next card's comment is where a reviewer working by keyboard goes on.
        self.comment.focus()


def _decided_elsewhere(finding: pd.Series, decision: str) -> str:
    """Why a click saved nothing: the finding was decided elsewhere since its card was drawn."""
    again = {"confirmed": "Confirm", "dismissed": "Dismiss"}[decision]
    if finding["review"] == "new":  # a review held back, or a row taken out of the file
        elsewhere = "The reviews file changed this finding's decision"
    else:
        elsewhere = (
            f"{finding['reviewer']} {finding['review']} this finding on "
            f"{finding['reviewed_at']:%Y-%m-%d %H:%M}, saved elsewhere"
        )
    return (
        f"{elsewhere} after its card was drawn: not saved. The card now shows it; click "
        f"{again} again to replace it."
    )
