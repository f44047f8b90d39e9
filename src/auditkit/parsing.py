"""Turn exported text into typed columns, column at a time, naming every value that won't parse.

Each parser takes a Series of text (NA = blank) and returns the typed Series plus a Series of
reasons (NA where the value was fine), so validation can set exactly those rows aside.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.columns import (
    arrow_strings,
    day_start,
    fixed_width_text,
    take_text,
    utf8_buffers,
)
from auditkit.schemas import DateAlone

# Synonyms that practice-management systems export, after normalising case, spaces and hyphens.
SYNONYMS: dict[str, str] = {
    # appointment status
    "show": "attended",
    "showed": "attended",
    "kept": "attended",
    "arrived": "attended",
    "completed": "attended",
    "checked_in": "attended",
    "checked_out": "attended",
    "seen": "attended",
    "noshow": "no_show",
    "missed": "no_show",
    "dna": "no_show",
    "did_not_attend": "no_show",
    "fta": "no_show",
    "ns": "no_show",
    "failed_to_attend": "no_show",
    "late_canceled": "late_cancel",
    "late_cancelled": "late_cancel",
    "late_cancellation": "late_cancel",
    "lc": "late_cancel",
    "canceled": "cancelled",
    "clinician_canceled": "cancelled",
    "clinician_cancelled": "cancelled",
    "canceled_by_clinician": "cancelled",
    "cancelled_by_clinician": "cancelled",
    "cancelled_clinician": "cancelled",
    "canceled_clinician": "cancelled",
    "client_canceled": "cancelled",
    "client_cancelled": "cancelled",
    "canceled_by_client": "cancelled",
    "cancelled_by_client": "cancelled",
    "resched": "rescheduled",
    # staff roles (a director's only where it names the DBT programme, whose director
    # approves phone coaching: a clinic or training director is no such approver)
    "clinician": "therapist",
    "counselor": "therapist",
    "trainee": "therapist",
    "psychology_trainee": "therapist",
    "intern": "therapist",
    "extern": "therapist",
    "practicum_student": "therapist",
    "student_therapist": "therapist",
    "student_clinician": "therapist",
    "postdoc": "therapist",
    "postdoctoral_fellow": "therapist",
    "clinical_supervisor": "supervisor",
    "supervising_psychologist": "supervisor",
    "dbt_director": "program_director",
    "dbt_program_director": "program_director",
    "administrator": "admin",
    "administrative": "admin",
    "front_desk": "admin",
    "receptionist": "admin",
    "office_manager": "admin",
    # contacts
    "outgoing": "outbound",
    "out": "outbound",
    "incoming": "inbound",
    "in": "inbound",
    "call": "phone",
    "telephone": "phone",
    "phone_call": "phone",
    "sms": "text",
    "text_message": "text",
    "e_mail": "email",
    "reminder": "scheduling",  # a contact's purpose: an appointment reminder
    # who answered: the client, or anyone else (the policy's "someone else picks up")
    "patient": "client",
    "pt": "client",
    "thirdparty": "third_party",
    "parent": "third_party",
    "guardian": "third_party",
    "spouse": "third_party",
    "partner": "third_party",
    "family": "third_party",
    "family_member": "third_party",
    "relative": "third_party",
    "roommate": "third_party",
    "someone_else": "third_party",
    # what came of it
    "vm": "voicemail",
    "voice_mail": "voicemail",
    "left_voicemail": "voicemail",
    "left_vm": "voicemail",
    "lvm": "voicemail",
    "left_message": "voicemail",
    "left_msg": "voicemail",
    "lm": "voicemail",
    "message_left": "voicemail",
    "mailbox_full": "voicemail_full",
    "mailbox_is_full": "voicemail_full",
    "voicemail_is_full": "voicemail_full",
    "vm_full": "voicemail_full",
    "noanswer": "no_answer",
    "not_answered": "no_answer",
    "unanswered": "no_answer",
    "no_response": "no_answer",
    "busy": "no_answer",  # no one reached, no message left
    "spoke": "answered",
    "spoke_with_client": "answered",
    "reached": "answered",
}

FLAG_VALUES = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}

# Every pattern below runs in RE2 (pyarrow.compute), in C++ over the whole column; with
# Python's `re` pandas calls the pattern once per cell, seconds per million rows. So they keep
# to what both engines read alike: digits are ASCII [0-9] (RE2's \d is ASCII, Python's is any
# script's), whitespace is Python's \s written out (RE2's \s lacks \v, NBSP and the other
# Unicode spaces), and no pattern relies on flags.

# Python's \s, which is also the set Arrow's utf8_trim_whitespace (pandas' str.strip) trims,
# as the characters themselves: a character class's body that both engines read alike.
PYTHON_SPACES = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A cell that starts or ends with a space: the only ones str.strip changes.
_EDGE_SPACE = f"^[{PYTHON_SPACES}]|[{PYTHON_SPACES}]$"
# The first and the last UTF-8 byte of each of those spaces: a cell whose first and last bytes
# are in neither table has no space at either end, which numpy tells for a million cells in
# milliseconds (a regex, even RE2, spends ~60 ns a cell on each of them).
_SPACE_CHARS = re.findall(f"[{PYTHON_SPACES}]", "".join(map(chr, range(0x3001))))
_FIRST_BYTE_OF_SPACE = np.zeros(256, dtype=bool)
_FIRST_BYTE_OF_SPACE[[c.encode()[0] for c in _SPACE_CHARS]] = True
_LAST_BYTE_OF_SPACE = np.zeros(256, dtype=bool)
_LAST_BYTE_OF_SPACE[[c.encode()[-1] for c in _SPACE_CHARS]] = True

# A lead byte of UTF-8 seen through Windows-1252, followed by a continuation byte seen the same
# way: the signature of mojibake such as 'â€™' or 'Ã©'. Only such cells go through ftfy.
_MOJIBAKE = (
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)

_D = "[0-9]"
_S = f"[{PYTHON_SPACES}]"
_ISO = (
    f"{_D}{{4}}-{_D}{{1,2}}-{_D}{{1,2}}(?:[Tt ]{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}}(?:\\.{_D}+)?)?)?"
)
_OFFSET = f"(?:[Zz]|[+-]{_D}{{2}}(?::?{_D}{{2}})?)"
# `$` is the end of the text in RE2 (Python's also allows a trailing newline, which the values,
# stripped first, never have).
_ISO_NAIVE = f"^{_ISO}$"
_ISO_AWARE = f"^{_ISO}{_S}?{_OFFSET}$"
_US = (
    f"^(?P<m>{_D}{{1,2}})/(?P<d>{_D}{{1,2}})/(?P<y>{_D}{{4}})"
    f"(?:{_S}+(?P<H>{_D}{{1,2}}):(?P<M>{_D}{{2}})(?::(?P<S>{_D}{{2}}))?{_S}*"
    "(?P<p>[AaPp]\\.?[Mm]\\.?)?)?$"
)
# A date written without a time of day, as the ISO and US forms above write it.
DATE_ALONE = f"^(?:{_D}{{4}}-{_D}{{1,2}}-{_D}{{1,2}}|{_D}{{1,2}}/{_D}{{1,2}}/{_D}{{4}})$"
# Why an event's date written alone is set aside (after "'2026-03-02' is" or "a date").
NO_TIME_OF_DAY = (
    "without a time of day: not read as midnight, since a missed session's call and note "
    "deadlines are counted from such times to the minute"
)
# The shape nearly every export writes instants in: a 19xx or 20xx date, seconds, Z or +hh:mm.
# Arrow's own ISO 8601 cast reads these five times faster than pandas, without a Python str
# per cell, and rejects exactly the values pandas rejects (2025-02-29, 24:00:00, offsets past
# 23:59; checked value by value in tests/test_parsing.py), but only all at once: one impossible
# date among them and pandas reads them all, as before.
_CANONICAL = (
    "^(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
# Separators a vocabulary value may spell as spaces, hyphens or slashes ('no-show', 'No Show').
_SEPARATORS = f"[{PYTHON_SPACES}\\-/]+"


def _matches(strings: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Which cells the RE2 `pattern` finds something in (blank cells: no)."""
    found = pc.fill_null(pc.match_substring_regex(strings, pattern), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _present(strings: pa.ChunkedArray) -> np.ndarray:
    """Which cells hold a value (not blank)."""
    return np.asarray(pc.is_valid(strings).to_numpy(zero_copy_only=False), dtype=bool)


def _pick(strings: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """The cells where the mask `rows` is true.

    A filter works chunk by chunk; Arrow's take would first glue a column's chunks together,
    copying all its text to pick a few cells.
    """
    return strings.filter(pa.array(rows))


def _concat(parts: list[pa.Array | pa.ChunkedArray]) -> pa.ChunkedArray:
    """Arrow string arrays one after another, as one large_string column (no copy of text)."""
    chunks: list[pa.Array] = []
    for part in parts:
        part = part.cast(pa.large_string())
        chunks.extend(part.chunks if isinstance(part, pa.ChunkedArray) else [part])
    return pa.chunked_array(chunks, type=pa.large_string())


def no_problems(index: pd.Index) -> pd.Series:
    """No reason for any row yet: Arrow text, all missing.

    A bitmap of nulls, not a million-pointer object array that validation then scans for
    NAs, column by column.
    """
    return pd.Series(pa.nulls(len(index), pa.large_string()), index=index, dtype="str")


def _may_have_edge_space(strings: pa.ChunkedArray) -> np.ndarray:
    """Cells whose first or last byte could belong to a space (a superset of those that do).

    Read straight off Arrow's offsets and data buffers, a numpy pass per chunk. An empty cell
    borrows its neighbour's byte: at worst a needless candidate, which the caller re-checks.
    """
    found = []
    for chunk in strings.chunks:  # a handful of chunks, not a loop per row
        at, data = utf8_buffers(chunk)
        if len(data) == 0:
            found.append(np.zeros(len(chunk), dtype=bool))
            continue
        first = _FIRST_BYTE_OF_SPACE[data.take(at[:-1], mode="clip")]
        last = _LAST_BYTE_OF_SPACE[data.take(at[1:] - 1, mode="clip")]
        found.append(first | last)
    return np.concatenate(found) if found else np.zeros(0, dtype=bool)


def _stripped(values: pd.Series) -> pd.Series:
    """values.str.strip(), without rewriting a column none of whose cells has a space to trim."""
    return values.str.strip() if _has_edge_space(arrow_strings(values)) else values


def _has_edge_space(strings: pa.ChunkedArray) -> bool:
    """Whether any cell starts or ends with a space, i.e. str.strip would change it."""
    maybe = _may_have_edge_space(strings)
    return bool(maybe.any()) and bool(_matches(_pick(strings, maybe), _EDGE_SPACE).any())


def _has_mojibake(strings: pa.ChunkedArray) -> np.ndarray:
    """Which cells show mojibake's signature; only cells with a non-ASCII character can."""
    found = np.zeros(len(strings), dtype=bool)
    non_ascii = np.asarray(
        pc.fill_null(pc.invert(pc.string_is_ascii(strings)), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if non_ascii.any():
        found[non_ascii] = _matches(_pick(strings, non_ascii), _MOJIBAKE)
    return found


def repair_text(values: pd.Series) -> pd.Series:
    """Trim, blank to NA, and undo mojibake (only cells that show its signature).

    Each step first asks which cells it would change and skips itself when none would:
    rewriting a column of a million notes only to get the same text back doubles its memory.
    """
    text = values.astype("str")
    strings = arrow_strings(text)
    if _has_edge_space(strings):
        text = text.str.strip()
    blank = (text == "").to_numpy(dtype=bool, na_value=False)
    if blank.any():
        text = text.mask(blank)
    damaged = _has_mojibake(arrow_strings(text))
    if damaged.any():
        import ftfy  # (here: 65 ms of imports, which an export with no mojibake never needs)

        text[damaged] = text[damaged].map(ftfy.fix_encoding)
    return text


def parse_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], column: str
) -> tuple[pd.Series, pd.Series]:
    """Match a closed vocabulary forgivingly: 'No Show', 'no-show', 'FTA' all give no_show.

    Only values not already in the vocabulary are normalised (none, in a converted bundle), and
    each distinct spelling once: an export that writes 'No Show' writes it a million times.
    """
    odd = values.notna() & ~values.isin(vocabulary)
    reasons = no_problems(values.index)
    if not odd.any():  # the usual case: every value in the vocabulary, no copy of the column
        return values, reasons
    codes, spellings = pd.factorize(values[odd])
    loose = pd.Series(spellings, dtype="str").str.strip().str.lower()
    loose = loose.str.replace(_SEPARATORS, "_", regex=True)
    key = values.copy()
    key[odd] = take_text(loose.map(SYNONYMS).fillna(loose), codes, values.index[odd])
    known = key.isin(vocabulary) | values.isna()
    if known.all():
        return key, reasons
    reasons[~known] = f"{column} '" + values[~known] + "' is not one of: " + ", ".join(vocabulary)
    return key.where(known), reasons


def parse_flag(values: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """yes/no/true/false/y/n/1/0, any case; blank means no."""
    if pd.api.types.is_bool_dtype(values.dtype):  # typed already (Parquet)
        return values.fillna(False).astype("bool"), no_problems(values.index)
    key = values.str.strip().str.lower()
    parsed = key.map(FLAG_VALUES)
    bad = parsed.isna() & values.notna()
    reasons = no_problems(values.index)
    if bad.any():
        reasons[bad] = f"{column} '" + values[bad] + "' is not yes or no"
    # eq, not fillna(False): a column with no flag at all maps to float NaN, which pandas 4
    # will refuse to fill with a bool.
    return parsed.eq(True), reasons


# A plain whole number that float64 holds exactly: such cells need no general number parser.
_PLAIN_COUNT = f"^-?{_D}{{1,15}}$"


def parse_count(values: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """A whole number; '30.0' is accepted, '30 min' and '2.5' are not."""
    if pd.api.types.is_signed_integer_dtype(values.dtype):  # typed already (Parquet)
        counts = values.astype("Int64")
        huge = (counts.abs() >= 2**53).fillna(False)  # as for text: too large to be a count
        reasons = no_problems(values.index)
        if huge.any():
            reasons[huge] = f"{column} '" + counts[huge].astype("str") + "' is too large"
        return counts.mask(huge), reasons
    text = _stripped(values)
    strings = arrow_strings(text)
    # Plain digits are cast in C++; anything else ('30.0', '1e3', ' inf') goes through
    # pd.to_numeric, a Python call per cell, as before.
    plain = _matches(strings, _PLAIN_COUNT)
    numbers = np.full(len(values), np.nan)
    numbers[plain] = pc.cast(_pick(strings, plain), pa.float64()).to_numpy()
    other = ~plain & text.notna().to_numpy()
    if other.any():
        numbers[other] = pd.to_numeric(text[other], errors="coerce").astype("float64")
    numbers = pd.Series(numbers, index=values.index)
    whole = np.isfinite(numbers) & (numbers == numbers.round())  # 'inf' is no count
    huge = whole & (numbers.abs() >= 2**53)  # beyond exact integers: no real count
    bad = values.notna() & ~whole
    reasons = no_problems(values.index)
    if bad.any():
        reasons[bad] = f"{column} '" + values[bad] + "' is not a whole number"
    if huge.any():
        reasons[huge] = f"{column} '" + values[huge] + "' is too large"
    return numbers.where(whole & ~huge).astype("Int64"), reasons


# Wall-clock times (or UTC instants) that stay within the years 1 to 9999 on any clock, as no
# zone is 15 hours from UTC. Beyond them pandas can't localise a time, nor print one it has
# converted, so such a value (a "9999-12-31 23:59" sentinel) is set aside instead.
_EARLIEST, _LATEST = pd.Timestamp("0001-01-01T15:00"), pd.Timestamp("9999-12-31T09:00")
_FAR = "is too far in the past or future to be a real date-time"


def _within_range(naive: pd.Series) -> pd.Series:
    """Which naive times (wall clock or UTC) every zone can show; NaT counts as within."""
    return naive.isna() | ((naive >= _EARLIEST) & (naive <= _LATEST))


def _localise(naive: pd.Series, tz: str) -> pd.Series:
    # A wall-clock time that happens twice (the November change) is read as the first, the
    # daylight-saving one; one that never happens (the March change) moves forward an hour,
    # as a clock not yet set forward would have shown it (02:30 is 03:30 PDT, not 03:00).
    first = np.ones(len(naive), dtype=bool)
    return naive.dt.tz_localize(tz, ambiguous=first, nonexistent=pd.Timedelta(hours=1))


def _group_numbers(parts: pa.StructArray | pa.ChunkedArray, name: str) -> np.ndarray:
    """One of _US's groups as numbers: 0 where the optional group took no part (''), NaN where
    the cell is no slash date at all (a null struct)."""
    text = pc.struct_field(parts, name)
    text = pc.if_else(pc.equal(text, ""), "0", text)
    return np.asarray(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False))


def _us_as_iso(parts: pa.StructArray | pa.ChunkedArray) -> pa.Array:
    """Rewrite US 'M/D/YYYY h:mm AM' as ISO text so one strict parser reads both.

    `parts` holds _US's groups of values that all match it (pc.extract_regex); a 12-hour time
    whose hour is not 1 to 12 comes back null. Every rewrite is 'YYYY-MM-DDTHH:MM:SS', so the
    text is written as digits into rows of 19 bytes: joining a dozen padded pieces a row took
    a million dates' load 60 MB higher.
    """

    def flags(found: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)

    meridiem = pc.replace_substring(pc.utf8_lower(pc.struct_field(parts, "p")), ".", "")
    twelve_hour, afternoon = flags(pc.not_equal(meridiem, "")), flags(pc.equal(meridiem, "pm"))
    hour = _group_numbers(parts, "H")
    bad_hour = twelve_hour & ((hour < 1) | (hour > 12))
    # 12 AM is 00, 12 PM is 12, 1 PM is 13 (hours outside 1 to 12 are set aside anyway).
    hour = np.where(twelve_hour, hour % 12 + 12 * afternoon, hour)
    cells = np.empty((len(hour), 19), dtype=np.uint8)
    for at, value, width in [
        (0, _group_numbers(parts, "y"), 4),
        (5, _group_numbers(parts, "m"), 2),
        (8, _group_numbers(parts, "d"), 2),
        (11, hour, 2),
        (14, _group_numbers(parts, "M"), 2),
        (17, _group_numbers(parts, "S"), 2),
    ]:
        for place in range(width):  # a digit at a time, for a million rows at once
            cells[:, at + width - 1 - place] = ord("0") + value // 10**place % 10
    for at, separator in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]:
        cells[:, at] = ord(separator)
    iso = fixed_width_text(cells)
    return pc.if_else(pa.array(bad_hour), pa.scalar(None, iso.type), iso)


def day_first_example(
    strings: pa.Array | pa.ChunkedArray, parts: pa.StructArray | pa.ChunkedArray | None = None
) -> str | None:
    """A slash date among `strings` that reads only day first ('15/09/2025'), when none reads
    only month first: the column writes the day first, as exports made where the day comes
    first do, and M/D/YYYY would misread its every date up to the 12th ('03/09/2025', 3
    September, as 9 March). None for a month-first column, a mixed one, or no slash dates.
    `parts`: _US's groups of `strings`, when extracted already (the costly part)."""
    if parts is None:
        parts = pc.extract_regex(strings, _US)  # null where a cell is no slash date
    day_first, month_first = _orders(parts)
    if not day_first.any() or month_first.any():
        return None
    return str(pc.take(strings, [int(np.argmax(day_first))])[0])


def _orders(parts: pa.StructArray | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Which of _US's groups read only day first ('15/09/2025'), and which only month first."""

    first, second = _group_numbers(parts, "m"), _group_numbers(parts, "d")
    day_first = (first > 12) & (first <= 31) & (second >= 1) & (second <= 12)
    month_first = (second > 12) & (second <= 31) & (first >= 1) & (first <= 12)
    return day_first, month_first


# Slash dates whose groups are extracted at once: a million's groups are 40 MB, their rewrite
# as ISO text (digits of every group first) more.
_US_AT_ONCE = 1 << 18


def _us_read(slash: pa.ChunkedArray) -> tuple[str | None, list[pa.Array]]:
    """A column's slash dates (all matching _US) as day_first_example judges them, and their
    ISO rewrite (_us_as_iso): each piece's groups extracted once, for both."""
    example, month_first_seen, rewritten = None, False, []
    for at in range(0, len(slash), _US_AT_ONCE):
        piece = slash.slice(at, _US_AT_ONCE)
        parts = pc.extract_regex(piece, _US)
        day_first, month_first = _orders(parts)
        month_first_seen = month_first_seen or bool(month_first.any())
        if example is None and day_first.any():
            example = str(pc.take(piece, [int(np.argmax(day_first))])[0])
        rewritten.append(_us_as_iso(parts))
    return (None if month_first_seen else example), rewritten


# A local time in the form Arrow's parser reads as pandas' does, in years pandas reads at any
# resolution (its reading of a year such as 1500 depends on the other values it is given).
_PLAIN_LOCAL = "^(?:1[7-9]|2[01])[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"


def _local_instants(text: pa.ChunkedArray) -> pd.Series:
    """ISO 8601 local times (wall clock, no zone) as pandas reads them, NaT where none.

    The plain ones ('2026-03-09T13:00:00', every US time rewritten) are read by Arrow: pandas'
    reader makes a Python string of every value first, 200 MB a million. An impossible date
    among them (30 February, hour 24) leaves them all to pandas, which judges each one.
    """
    plain = _matches(text, _PLAIN_LOCAL)
    instants = np.full(len(text), np.datetime64("NaT", "us"))
    if plain.any():
        try:
            picked = text if plain.all() else _pick(text, plain)  # (the usual case: no copy)
            instants[plain] = pc.cast(picked, pa.timestamp("us")).to_numpy()
        except pa.ArrowInvalid:
            plain[:] = False
    if not plain.all():
        rest = pd.Series(_pick(text, ~plain), dtype="str")
        parsed = pd.to_datetime(rest, format="ISO8601", errors="coerce", cache=False)
        instants[~plain] = parsed.dt.as_unit("us").to_numpy()
    return pd.Series(instants)


def dates_alone(values: pd.Series) -> np.ndarray:
    """Which cells write a date without a time of day ('2026-03-02', '3/2/2026')."""
    return _matches(arrow_strings(_stripped(values)), DATE_ALONE)


def parse_timestamp(
    values: pd.Series, column: str, tz: str, date_alone: DateAlone = "start"
) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 (naive = clinic-local; Z and offsets converted) or US M/D/YYYY h:mm AM/PM.

    The result is tz-aware in the clinic's zone, microsecond resolution. A date alone is read
    as `date_alone` says (schemas.DateAlone): the start of its local day, its end (the next
    day's start), or not at all ("refused": a reason instead). Digits are ASCII only:
    '1/5/2026 ١٣:00' (Arabic-Indic hour) is no time.
    """
    if pd.api.types.is_datetime64_any_dtype(values):  # typed already (Parquet)
        typed = values.dt.as_unit("us")
        has_zone = typed.dt.tz is not None
        clock = typed.dt.tz_convert("UTC").dt.tz_localize(None) if has_zone else typed
        far = ~_within_range(clock)
        typed = typed.mask(far)
        typed = typed.dt.tz_convert(tz) if has_zone else _localise(typed, tz)
        reasons = no_problems(values.index)
        if far.any():
            reasons[far] = f"{column} '" + clock[far].astype("str") + f"' {_FAR}"  # UTC: printable
        return typed, reasons
    text = _stripped(values)
    strings = arrow_strings(text)
    # Each parsed value as its UTC instant, positionally; NaT where none.
    instants = np.full(len(values), np.datetime64("NaT", "us"))
    far = np.zeros(len(values), dtype=bool)
    present = _present(strings)
    canonical = _matches(strings, _CANONICAL)
    if canonical.any():
        try:
            every = bool(canonical.all())  # the usual case: no filtered copy of the column
            picked = strings if every else _pick(strings, canonical)
            utc = pc.cast(picked, pa.timestamp("us", "UTC"))
            instants[canonical] = utc.to_numpy()  # UTC wall clock; 1900-2099: never far
        except pa.ArrowInvalid:  # an impossible date among them: pandas judges each one
            canonical[:] = False
    # The forms exclude each other: look for them only among the cells not read yet (a
    # quarter of a typical export; none of a converted one).
    aware, naive, us = (np.zeros(len(values), dtype=bool) for _ in range(3))
    rest = present & ~canonical
    if rest.any():
        others = _pick(strings, rest)
        aware[rest] = _matches(others, _ISO_AWARE)
        naive[rest] = _matches(others, _ISO_NAIVE)
        us[rest] = _matches(others, _US)
    alone = np.zeros(len(values), dtype=bool)  # dates written without a time of day
    if date_alone != "start" and (naive.any() or us.any()):
        alone[naive | us] = _matches(_pick(strings, naive | us), DATE_ALONE)
    # A column writing the day first: its slash dates are set aside, not misread. Their
    # groups are extracted once, for their order and for their rewrite as ISO text.
    day_first, example = np.zeros(len(values), dtype=bool), None
    us_iso: list[pa.Array] = []
    if us.any():
        example, us_iso = _us_read(_pick(strings, us))
        if example is not None:
            day_first, us, us_iso = us, np.zeros(len(values), dtype=bool), []
    if aware.any():
        parsed = pd.to_datetime(
            pd.Series(pc.utf8_upper(_pick(strings, aware)), dtype="str"),
            format="ISO8601",
            utc=True,
            errors="coerce",
            cache=False,  # its lookup of each value in a cache costs more than parsing
        )
        utc = parsed.dt.tz_localize(None).dt.as_unit("us")
        far[aware] = ~_within_range(utc).to_numpy()
        instants[aware] = utc.mask(far[aware]).to_numpy()
    # Positions, naive cells first: the order of the text parsed below.
    local = np.concatenate([np.flatnonzero(naive), np.flatnonzero(us)])
    if len(local):
        text_local = _concat([pc.utf8_upper(_pick(strings, naive)), *us_iso])
        del us_iso
        parsed = _local_instants(text_local)
        del text_local
        far[local] = ~_within_range(parsed).to_numpy()
        zoned = _localise(parsed.mask(far[local]), tz)
        instants[local] = zoned.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    result = pd.Series(instants, index=values.index).dt.tz_localize("UTC").dt.tz_convert(tz)
    bad = values.notna().to_numpy() & np.isnat(instants) & ~far
    alone &= ~np.isnat(instants)
    if date_alone == "end" and alone.any():
        result[alone] = day_start(result[alone], days=1)
    reasons = no_problems(values.index)
    if date_alone == "refused" and alone.any():
        result[alone] = pd.NaT
        reasons[alone] = (
            f"{column} '"
            + values[alone]
            + f"' is a date {NO_TIME_OF_DAY}. Export it with its time (2026-03-02 13:05)"
        )
    if bad.any():
        reasons[bad] = (
            f"{column} '" + values[bad] + "' is not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"
        )
    if far.any():
        reasons[far] = f"{column} '" + values[far] + f"' {_FAR}"
    if day_first.any():
        reasons[day_first] = f"{column} '" + values[day_first] + "' " + _written_day_first(example)
    return result, reasons


def _written_day_first(example: str | None) -> str:
    return (
        f"is not read: the column writes the day first ('{example}' reads no other way), and "
        "slash dates are read month first (M/D/YYYY). Export dates as ISO 8601 (2026-03-09 "
        "13:00), or import with a mapping's date_format"
    )
