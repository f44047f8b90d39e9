"""Turn exported text into typed columns, column at a time, naming every value that won't parse.

Each parser takes a Series of text (NA = blank) and returns the typed Series plus a Series of
reasons (NA where the value was fine), so validation can set exactly those rows aside.
"""

from __future__ import annotations

import re

import ftfy
import numpy as np
import pandas as pd

# Synonyms that practice-management systems export, after normalising case, spaces and hyphens.
SYNONYMS: dict[str, str] = {
    # appointment status
    "show": "attended",
    "showed": "attended",
    "kept": "attended",
    "arrived": "attended",
    "completed": "attended",
    "noshow": "no_show",
    "missed": "no_show",
    "dna": "no_show",
    "did_not_attend": "no_show",
    "fta": "no_show",
    "failed_to_attend": "no_show",
    "late_canceled": "late_cancel",
    "late_cancelled": "late_cancel",
    "late_cancellation": "late_cancel",
    "canceled": "cancelled",
    "clinician_canceled": "cancelled",
    "clinician_cancelled": "cancelled",
    "canceled_by_clinician": "cancelled",
    # contacts
    "outgoing": "outbound",
    "incoming": "inbound",
    "call": "phone",
    "telephone": "phone",
    "sms": "text",
    "e_mail": "email",
    "thirdparty": "third_party",
    "vm": "voicemail",
    "left_voicemail": "voicemail",
    "mailbox_full": "voicemail_full",
    "noanswer": "no_answer",
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

# A lead byte of UTF-8 seen through Windows-1252, followed by a continuation byte seen the same
# way: the signature of mojibake such as 'â€™' or 'Ã©'. Only such cells go through ftfy.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)

_ISO = r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_ISO_NAIVE = re.compile(rf"^{_ISO}$", re.IGNORECASE)
_ISO_AWARE = re.compile(rf"^{_ISO}\s?{_OFFSET}$", re.IGNORECASE)
_US = re.compile(
    r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<p>[AaPp]\.?[Mm]\.?)?)?$"
)


def _no_problems(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="object")


def repair_text(values: pd.Series) -> pd.Series:
    """Trim, blank to NA, and undo mojibake (only cells that show its signature)."""
    text = values.astype("str").str.strip()
    text = text.mask(text == "")
    damaged = text.str.contains(_MOJIBAKE, na=False)
    if damaged.any():
        text[damaged] = text[damaged].map(ftfy.fix_encoding)
    return text


def parse_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], column: str
) -> tuple[pd.Series, pd.Series]:
    """Match a closed vocabulary forgivingly: 'No Show', 'no-show', 'FTA' all give no_show.

    Only values not already in the vocabulary are normalised (none, in a converted bundle):
    the regex replace is a Python call per value on Arrow strings.
    """
    key = values.copy()
    odd = values.notna() & ~values.isin(vocabulary)
    if odd.any():
        loose = values[odd].str.strip().str.lower().str.replace(r"[\s\-/]+", "_", regex=True)
        key[odd] = loose.replace(SYNONYMS)
    known = key.isin(vocabulary) | values.isna()
    reasons = _no_problems(values.index)
    reasons[~known] = f"{column} '" + values[~known] + "' is not one of: " + ", ".join(vocabulary)
    return key.where(known), reasons


def parse_flag(values: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """yes/no/true/false/y/n/1/0, any case; blank means no."""
    if pd.api.types.is_bool_dtype(values.dtype):  # typed already (Parquet)
        return values.fillna(False).astype("bool"), _no_problems(values.index)
    key = values.str.strip().str.lower()
    parsed = key.map(FLAG_VALUES)
    bad = parsed.isna() & values.notna()
    reasons = _no_problems(values.index)
    reasons[bad] = f"{column} '" + values[bad] + "' is not yes or no"
    # eq, not fillna(False): a column with no flag at all maps to float NaN, which pandas 4
    # will refuse to fill with a bool.
    return parsed.eq(True), reasons


def parse_count(values: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """A whole number; '30.0' is accepted, '30 min' and '2.5' are not."""
    if pd.api.types.is_signed_integer_dtype(values.dtype):  # typed already (Parquet)
        counts = values.astype("Int64")
        huge = (counts.abs() >= 2**53).fillna(False)  # as for text: too large to be a count
        reasons = _no_problems(values.index)
        reasons[huge] = f"{column} '" + counts[huge].astype("str") + "' is too large"
        return counts.mask(huge), reasons
    numbers = pd.to_numeric(values.str.strip(), errors="coerce").astype("float64")
    whole = np.isfinite(numbers) & (numbers == numbers.round())  # 'inf' is no count
    huge = whole & (numbers.abs() >= 2**53)  # beyond exact integers: no real count
    bad = values.notna() & ~whole
    reasons = _no_problems(values.index)
    reasons[bad] = f"{column} '" + values[bad] + "' is not a whole number"
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


def _us_as_iso(values: pd.Series) -> pd.Series:
    """Rewrite US 'M/D/YYYY h:mm AM' as ISO text so one strict parser reads both."""
    parts = values.str.extract(_US)
    hour = pd.to_numeric(parts["H"], errors="coerce").fillna(0).astype(int)
    meridiem = parts["p"].str.lower().str.replace(".", "", regex=False)
    twelve_hour = meridiem.notna()
    bad_hour = twelve_hour & ((hour < 1) | (hour > 12))
    hour = hour.where(~twelve_hour, hour % 12 + np.where(meridiem == "pm", 12, 0))
    iso = (
        parts["y"]
        + "-"
        + parts["m"].str.zfill(2)
        + "-"
        + parts["d"].str.zfill(2)
        + "T"
        + hour.astype(str).str.zfill(2)
        + ":"
        + parts["M"].fillna("00")
        + ":"
        + parts["S"].fillna("00")
    )
    return iso.mask(bad_hour)


def parse_timestamp(values: pd.Series, column: str, tz: str) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 (naive = clinic-local; Z and offsets converted) or US M/D/YYYY h:mm AM/PM.

    The result is tz-aware in the clinic's zone, microsecond resolution; a date alone is
    midnight local.
    """
    dtype = f"datetime64[us, {tz}]"
    if pd.api.types.is_datetime64_any_dtype(values):  # typed already (Parquet)
        typed = values.dt.as_unit("us")
        aware = typed.dt.tz is not None
        clock = typed.dt.tz_convert("UTC").dt.tz_localize(None) if aware else typed
        far = ~_within_range(clock)
        typed = typed.mask(far)
        typed = typed.dt.tz_convert(tz) if aware else _localise(typed, tz)
        reasons = _no_problems(values.index)
        reasons[far] = f"{column} '" + clock[far].astype("str") + f"' {_FAR}"  # UTC: printable
        return typed, reasons
    text = values.str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype=dtype)
    far = pd.Series(False, index=values.index)
    aware = text.str.match(_ISO_AWARE, na=False)
    naive = text.str.match(_ISO_NAIVE, na=False)
    us = text.str.match(_US, na=False)
    if aware.any():
        parsed = pd.to_datetime(
            text[aware].str.upper(), format="ISO8601", utc=True, errors="coerce"
        ).dt.as_unit("us")
        far[aware] = ~_within_range(parsed.dt.tz_localize(None))
        result[aware] = parsed.mask(far[aware]).dt.tz_convert(tz)
    local = pd.concat([text[naive].str.upper(), _us_as_iso(text[us])])
    if len(local):
        parsed = pd.to_datetime(local, format="ISO8601", errors="coerce").dt.as_unit("us")
        far[local.index] = ~_within_range(parsed)
        result[local.index] = _localise(parsed.mask(far[local.index]), tz)
    bad = values.notna() & result.isna()
    reasons = _no_problems(values.index)
    reasons[bad] = (
        f"{column} '" + values[bad] + "' is not a date-time (ISO 8601 or M/D/YYYY h:mm AM/PM)"
    )
    reasons[far] = f"{column} '" + values[far] + f"' {_FAR}"
    return result, reasons
