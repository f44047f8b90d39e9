"""What auditkit shows of people: names and numbers masked unless the task needs them.

Findings, the dashboards and research extracts all mask with the same patterns: client names as
[client], other names as [name], phone numbers as [phone] (and, for extracts, emails, dates and
times). Names are matched as whole words, any case, through one trie-shaped regex.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.columns import lower_case_bytes, mapped_bytes, per_distinct
from auditkit.schemas import NAME_COLUMNS
from auditkit.text import RE2_SPACES
from auditkit.validation import Bundle

_B, _E = r"(?<!\w)", r"(?!\w)"  # whole words: 'Ann' is not masked inside 'Annual'
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    # North American: (805) 555-0127, 805.555.0127, +1 805 555 0127, 8055550127, 555-0127
    rf"{_B}(?:\+?1[\s.-]?)?(?:\(\d{{3}}\)\s?|\d{{3}}[\s.-]?)?\d{{3}}[\s.-]?\d{{4}}{_E}"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_DATE = re.compile(
    _B
    + "(?:"
    + "|".join(
        [
            # ISO, with any time and offset: 2026-03-02, 2026-03-02T13:00:00-08:00
            r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
            r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
            r"\d{1,2}/\d{1,2}(?:/\d{2,4})?",  # 3/14, 3/14/26
            r"\d{1,2}[-.]\d{1,2}[-.]\d{2,4}",  # 3-14-2026, 14.03.2026
            rf"{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?",  # March 14, Mar. 14th, 2026
            rf"(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?",  # the 14th of March
            rf"{_MONTH}\s+{_YEAR}",  # March 2026
            r"the\s+\d{1,2}(?:st|nd|rd|th)",  # the 14th: with the kept weekday, it dates a day
            # A month alone gives away the season; "may" alone is far more often the verb.
            r"(?:january|february|march|april|june|july|august|september|october|november"
            r"|december)",
            _YEAR,
        ]
    )
    + ")"
    + _E,
    re.IGNORECASE,
)
_TIME = re.compile(
    rf"{_B}(?:\d{{1,2}}(?::\d{{2}})?\s*(?:[ap]\.\s?m\.|[ap]m\b)|\d{{1,2}}:\d{{2}}(?::\d{{2}})?)"
    + _E,
    re.IGNORECASE,
)

_Trie = dict[str, "_Trie"]


def _alternation(node: _Trie) -> str:
    branches = [
        ("['\u2019]" if char == "'" else re.escape(char)) + _alternation(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{body})?" if "" in node else body


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all the names, factored as a trie: a plain alternation tries every name at
    every character (20 s for 20,000 messages and 2,000 names); a trie, each letter once (0.5 s).
    """
    trie: _Trie = {}
    for name in names:
        node = trie
        for char in name.lower():
            node = node.setdefault(char, {})
        node[""] = {}  # a name ends here
    return re.compile(f"{_B}{_alternation(trie)}{_E}", re.IGNORECASE) if trie else None


# Letters other than ASCII that Python's IGNORECASE matches to ASCII ones (s, k, i, i).
_ASCII_FOLDS = str.maketrans({"\u017f": "s", "\u212a": "k", "\u0130": "i", "\u0131": "i"})


# Byte -> its lower-case form if an ASCII letter, digit or underscore, else a space.
_WORD_BYTES = lower_case_bytes(b"abcdefghijklmnopqrstuvwxyz0123456789_", ord(" "))


@dataclass(frozen=True)
class _Masked:
    """Words to mask as `label` (names, any case, as whole words) in a column of texts.

    The regex runs in Python, a call per text; most texts (an evidence line, a log entry) hold
    none of the names. A text written in ASCII can only hold a name if one of its words is a
    name's first word-run (lower-cased, as Arrow finds them in every text at once), so only such
    texts, and every text with other characters, meet the regex.
    """

    pattern: re.Pattern[str]
    label: str
    first_words: pa.Array | None  # each name's first run of word characters, ASCII lower case

    @classmethod
    def of(cls, names: Iterable[str], label: str) -> _Masked | None:
        names = list(names)
        pattern = _name_pattern(names)
        if pattern is None:
            return None
        runs = [re.search(r"\w+", name.translate(_ASCII_FOLDS).lower()) for name in names]
        if None in runs:  # a name of punctuation alone: every text is a candidate
            return cls(pattern, label, None)
        # A run with letters that fold to no ASCII letter can't be in an ASCII text at all.
        words = sorted({run[0] for run in runs if run[0].isascii()})
        return cls(pattern, label, pa.array(words, pa.large_string()))

    def __call__(self, texts: pd.Series) -> pd.Series:
        if self.first_words is None:
            return texts.str.replace(self.pattern, self.label, regex=True)
        strings = pa.array(texts.array, type=pa.large_string())
        # The word runs of RE2's split on [^a-z0-9_]+ after lower-casing, at a quarter of its
        # cost: a byte lookup folds case and makes every other byte a space.
        folded, at = mapped_bytes(strings, _WORD_BYTES)
        words = pc.ascii_split_whitespace(
            pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(at), pa.py_buffer(folded))
        )
        found = pc.is_in(pc.list_flatten(words), value_set=self.first_words)
        parents = pc.list_parent_indices(words).to_numpy()[found.to_numpy(zero_copy_only=False)]
        sign = np.bincount(parents, minlength=len(texts)).astype(bool)
        return _replace_where(texts, strings, sign, self.pattern, self.label)


def _replace_where(
    texts: pd.Series,
    strings: pa.Array | pa.ChunkedArray,
    sign: np.ndarray,
    pattern: re.Pattern[str],
    label: str,
) -> pd.Series:
    """`texts` with `pattern` replaced by `label`, the Python regex run only where `sign` (what
    Arrow found that every match in ASCII text has) is true, and on every text beyond ASCII.
    `strings`: the texts in Arrow."""
    beyond = ~pc.fill_null(pc.string_is_ascii(strings), True).to_numpy(zero_copy_only=False)
    rows = sign | beyond
    if not rows.any():
        return texts
    replaced = texts.copy()
    replaced[rows] = texts[rows].str.replace(pattern, label, regex=True)
    return replaced


# What every match has, for Arrow's RE2 in ASCII text (where Python's \d is [0-9] and its \s
# these six characters and \x1c-\x1f): a text without it needs no Python regex.
_SURE_SIGNS = {
    "[email]": "@",
    "[phone]": r"[0-9]{3}[\t\n\v\f\r \x1c-\x1f.-]?[0-9]{4}",  # three digits and four
    "[date]": "(?i)[0-9]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec",  # a digit or a month
    "[time]": "[0-9]",
}


def _replace_where_possible(texts: pd.Series, pattern: re.Pattern[str], label: str) -> pd.Series:
    """`texts` with `pattern` replaced by `label`, the Python regex run only on texts where
    Arrow finds the label's sure sign, and on every text that is not ASCII."""
    strings = pa.array(texts.array, type=pa.large_string())
    sign = pc.fill_null(pc.match_substring_regex(strings, _SURE_SIGNS[label]), False)
    return _replace_where(texts, strings, sign.to_numpy(zero_copy_only=False), pattern, label)


def _name_words(parts: pd.Series) -> list[str]:
    """'Mary-Jo van Dyke' gives Mary, Jo, van and Dyke, so 'Ms. Dyke' is masked too.

    Split in Arrow, on what Python's \\s and a hyphen are: a split by Python's re is a call per
    name, and a year of clients has tens of thousands."""
    names = pa.array(parts.dropna().astype("str"), pa.large_string())
    names = pc.replace_substring(names, "\u2019", "'")
    words = pc.list_flatten(pc.split_pattern_regex(names, f"[{RE2_SPACES}\\-]+"))
    words = pc.utf8_trim(words, ".,;:'\"()")
    return sorted(pc.unique(words.filter(pc.greater_equal(pc.utf8_length(words), 2))).to_pylist())


def known_names(bundle: Bundle) -> list[str]:
    """Every word of every client's and staff member's first and last name (two letters or
    more), for masking in research extracts."""
    parts = pd.concat([bundle.tables[t][c] for t in ("clients", "staff") for c in NAME_COLUMNS])
    return _name_words(parts)


def text_scrubber(names: Iterable[str]) -> Callable[[pd.Series], pd.Series]:
    """A function masking, in a Series of texts, the `names` (whole words, any case) as [name],
    email addresses as [email], phone numbers as [phone], dates, numeric or spelled out, as
    [date] and times as [time].

    Emails first, whole, though they hold names; names next, so none hides inside a date;
    phones before dates, so '555 2019' is a phone, not a year. Weekdays and 'today' or
    'tomorrow' stay: the shift keeps weekdays anyway.
    """
    masked = _Masked.of(names, "[name]")

    def scrub(texts: pd.Series) -> pd.Series:
        texts = _replace_where_possible(texts, _EMAIL, "[email]")
        if masked is not None:
            texts = masked(texts)
        texts = _replace_where_possible(texts, _PHONE, "[phone]")
        texts = _replace_where_possible(texts, _DATE, "[date]")
        return _replace_where_possible(texts, _TIME, "[time]")

    return scrub


def client_names(bundle: Bundle) -> list[str]:
    """Every word of every client's first and last name, for masking as [client]: the clients
    accepted, and those set aside (a rejected row's reason may quote its own name)."""
    names = bundle.clients[list(NAME_COLUMNS)].stack()
    return _name_words(pd.concat([names, pd.Series(bundle.names_set_aside, dtype="object")]))


def identifier_masker(
    clients: Iterable[str], others: Iterable[str] = ()
) -> Callable[[pd.Series], pd.Series]:
    """A function masking client names as [client], `others` (people the policy lists) as
    [name] and phone numbers as [phone]: the minimum a finding needs to show."""
    maskers = [m for m in (_Masked.of(clients, "[client]"), _Masked.of(others, "[name]")) if m]

    def mask(texts: pd.Series) -> pd.Series:
        for masked in maskers:
            texts = masked(texts)
        return _replace_where_possible(texts, _PHONE, "[phone]")

    # A rule's summaries repeat one sentence thousands of times.
    return lambda texts: per_distinct(mask, texts)


def findings_masker(bundle: Bundle) -> Callable[[pd.Series], pd.Series]:
    """The mask an audit gives its findings' words unless names are shown (and a reviews file
    its evidence always): the bundle's client names, the names its policy lists, phones."""
    return identifier_masker(client_names(bundle), bundle.policy.privacy.names)
