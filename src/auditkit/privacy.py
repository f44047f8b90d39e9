"""What auditkit shows of people: names and numbers masked unless the task needs them.

Findings, the dashboards and research extracts all mask with the same patterns: client names as
[client], other names as [name], phone numbers as [phone] (and, for extracts, the clinic's name,
emails, dates and times). Names are matched as whole words, any case, with or without
accents, through one trie-shaped regex; a name in a script written without spaces between
words (Chinese, Japanese, Korean, Thai...) wherever it occurs, even inside a run of letters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.clinic_name import clinic_name_forms, name_patterns
from auditkit.columns import arrow_strings, lower_case_bytes, mapped_strings, per_distinct
from auditkit.matching import RE2_SPACES, on_threads, re2_reads, re2_superset, re2_translation
from auditkit.schemas import NAME_COLUMNS
from auditkit.text import NAME_MARK
from auditkit.validation import Bundle

_B, _E = r"(?<!\w)", r"(?!\w)"  # whole words: 'Ann' is not masked inside 'Annual'
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Between a phone number's digits: a space, or a dot, or a hyphen or dash of any width (a word
# processor turns 805-555-0127 into 805–555–0127), with a space either side or not.
_PHONE_DASH = "[.\\-\u2010-\u2015\u2212]"
_PHONE_SEPARATOR = rf"(?:\s?{_PHONE_DASH}\s?|\s)"
_PHONE = re.compile(
    # North American: (805) 555-0127, (805)-555-0127, 805.555.0127, 805/555-0127,
    # +1 805 555 0127, 8055550127, 555-0127
    rf"{_B}(?:\+?1{_PHONE_SEPARATOR}?)?(?:(?:\(\d{{3}}\)|\d{{3}})(?:{_PHONE_SEPARATOR}|/)?)?"
    rf"\d{{3}}{_PHONE_SEPARATOR}?\d{{4}}"
    # and its extension, which is the number's too: x12, ext. 12, extension 12, #12
    r"(?:,?\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?"
    rf"{_E}",
    re.IGNORECASE,
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
# Between a spelled-out date's parts: spaces, or a hyphen, dash or slash (14-Mar-2026, Mar-14,
# 14/Mar/2026); before the year, a comma too.
_DATE_DASH = "\\s*[-/\u2010-\u2015\u2212]\\s*"
_GAP = rf"(?:{_DATE_DASH}|\s+)"
_YEAR_GAP = rf",?{_GAP}"
_DATE = re.compile(
    _B
    + "(?:"
    + "|".join(
        [
            # ISO, with any time and offset: 2026-03-02, 2026-03-02T13:00:00-08:00
            r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
            r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
            r"\d{4}[./]\d{1,2}[./]\d{1,2}",  # 2026.03.14, 2026/03/14
            r"\d{1,2}/\d{1,2}(?:/\d{2,4})?",  # 3/14, 3/14/26
            r"\d{1,2}[-.]\d{1,2}[-.]\d{2,4}",  # 3-14-2026, 14.03.2026
            rf"{_MONTH}{_GAP}{_DAY}(?:{_YEAR_GAP}{_YEAR})?",  # March 14, Mar. 14th, 2026, Mar-14
            # the 14th of March, 14 Mar 2026, 14-Mar-2026, and with a dash 14-Mar-26
            rf"(?:the\s+)?{_DAY}{_GAP}(?:of\s+)?{_MONTH}(?:{_YEAR_GAP}{_YEAR}|{_DATE_DASH}\d{{2}})?",
            rf"{_MONTH}{_GAP}{_YEAR}",  # March 2026, Mar-2026
            r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])",  # 20260302
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
    # 5pm, 5 PM, 5:PM (a colon typed for the minutes), 5:30 p.m.; 13:05, 13:05:40
    rf"{_B}(?:\d{{1,2}}(?::\d{{2}})?:?\s*(?:[ap]\.\s?m\.|[ap]m\b)|\d{{1,2}}:\d{{2}}(?::\d{{2}})?)"
    + _E,
    re.IGNORECASE,
)

_Trie = dict[str, "_Trie"]

# Scripts written without spaces between words, or (Hangul) with particles written onto a
# name ("김민준은"): a name in them has no word edges to find, so it is found wherever it occurs,
# and a word of one of their letters ("王") is a name as much as a longer one. Literal
# characters, so that Python's re and RE2 read the class alike.
_UNSPACED_LETTERS = "".join(
    f"{chr(low)}-{chr(high)}"
    for low, high in (
        (0x0E00, 0x0EFF),  # Thai, Lao
        (0x1000, 0x109F),  # Myanmar
        (0x1100, 0x11FF),  # Hangul Jamo
        (0x1780, 0x17FF),  # Khmer
        (0x3005, 0x3007),  # the ideographic iteration mark, closing mark and zero
        (0x3040, 0x30FF),  # Hiragana, Katakana
        (0x3130, 0x318F),  # Hangul compatibility Jamo
        (0x31F0, 0x31FF),  # Katakana phonetic extensions
        (0x3400, 0x4DBF),  # CJK unified ideographs, extension A
        (0x4E00, 0x9FFF),  # CJK unified ideographs
        (0xA000, 0xA4CF),  # Yi
        (0xA960, 0xA97F),  # Hangul Jamo extended A
        (0xAC00, 0xD7FF),  # Hangul syllables, Hangul Jamo extended B
        (0xF900, 0xFAFF),  # CJK compatibility ideographs
        (0xFF66, 0xFFDC),  # half-width Katakana and Hangul
        (0x20000, 0x3134F),  # CJK unified ideographs, extensions B to G, and compatibility
    )
)
_UNSPACED = re.compile(f"[{_UNSPACED_LETTERS}]")

# Combining accents (the diacritical marks' blocks), as a str.translate table that drops them.
_COMBINING_ACCENTS = dict.fromkeys(
    code
    for low, high in (
        (0x300, 0x36F),
        (0x1AB0, 0x1AFF),
        (0x1DC0, 0x1DFF),
        (0x20D0, 0x20FF),
        (0xFE20, 0xFE2F),
    )
    for code in range(low, high + 1)
)
# Letters Unicode does not decompose that people also write plain: with a stroke, a dotless i,
# a long s.
_UNDECOMPOSED = str.maketrans(
    {"\u00f8": "o", "\u0142": "l", "\u0111": "d", "\u0131": "i", "\u017f": "s"}
)


def _plain(text: str) -> str:
    """`text` lower-cased without its accents ("José" and "JOSE" give "jose"), so a name
    written either way matches the other."""
    decomposed = unicodedata.normalize("NFD", text.lower()).translate(_UNDECOMPOSED)
    return unicodedata.normalize("NFC", decomposed.translate(_COMBINING_ACCENTS))


def _accent_folds() -> dict[int, str | None]:
    """A str.translate table: every letter with an accent (in the Latin, Greek and Cyrillic
    blocks) to its plain letter, and every combining accent dropped.

    The text is folded, not the pattern: a class of accented forms at each letter of the names'
    trie makes Python compile a 64 KB set per letter (2 s for 2,000 names, not 0.1 s)."""
    folds: dict[int, str | None] = dict(_COMBINING_ACCENTS)
    for char in map(chr, range(0xC0, 0x3000)):
        plain = _plain(char)
        if len(plain) == 1 and plain != char.lower():
            folds[ord(char)] = plain
    return folds


_ACCENT_FOLDS = _accent_folds()
_HAS_ACCENT = re.compile("[" + re.escape("".join(map(chr, _ACCENT_FOLDS))) + "]")


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


def _trie_alternation(plain_names: Iterable[str]) -> str:
    trie: _Trie = {}
    for plain in plain_names:
        node = trie
        for char in plain:
            node = node.setdefault(char, {})
        node[""] = {}  # a name ends here
    return _alternation(trie)


def _name_pattern(plain_names: list[str], unspaced: Sequence[str] = ()) -> re.Pattern[str] | None:
    """One regex for all the names' plain forms (_plain; none empty), for texts folded by
    _ACCENT_FOLDS, factored as a trie: a plain alternation tries every name at every character
    (20 s for 20,000 messages and 2,000 names); a trie, each letter once (0.5 s). The
    `plain_names` as whole words, the `unspaced` (names with a letter of _UNSPACED) anywhere.
    """
    whole_words = [f"{_B}{_trie_alternation(plain_names)}{_E}"] if plain_names else []
    anywhere = [_trie_alternation(unspaced)] if unspaced else []
    branches = [*anywhere, *whole_words]
    return re.compile("|".join(branches), re.IGNORECASE) if branches else None


# Byte -> its lower-case form if an ASCII letter, digit or underscore, else a space.
_WORD_BYTES = lower_case_bytes(b"abcdefghijklmnopqrstuvwxyz0123456789_", ord(" "))


@dataclass(frozen=True)
class _Masked:
    """Words to mask as `label` (names, any case, any accents, as whole words, or anywhere for
    a name in a script written without spaces; a re.sub template whose one reference may be
    \\g<0>, the word as written) in a column of texts.

    Where RE2 can read the names' regex as Python does (in_re2), it replaces in every text it
    reads the same (re2_reads), and Python's regex meets only the others: 0.3 s, not 3.3 s, for
    the 370k messages and notes of issue 7's example. Otherwise the regex runs in Python, a call
    per text; most texts (an evidence line, a log entry) hold none of the names. A text written
    in ASCII can only hold a name if one of its words is a name's first word-run (lower-cased,
    as Arrow finds them in every text at once), so only such texts, and every text with other
    characters, meet the regex.
    """

    pattern: re.Pattern[str]
    label: str
    first_words: pa.Array | None  # each name's first run of word characters, plain, ASCII
    # The pattern and label as RE2 reads them (_in_re2; None: Python's regex everywhere).
    in_re2: tuple[str, str] | None = None

    @classmethod
    def of(cls, names: Iterable[str], label: str) -> _Masked | None:
        plain = [_plain(name.replace("\u2019", "'")) for name in names]
        matched = [p for p in plain if p]  # a name of accents alone: nothing to match
        unspaced = [p for p in matched if _UNSPACED.search(p)]
        spaced = [p for p in matched if not _UNSPACED.search(p)]
        pattern = _name_pattern(spaced, unspaced)
        if pattern is None:
            return None
        runs = [run[0] for p in plain if (run := re.search(r"\w+", p)) is not None]
        if len(runs) < len(plain):  # a name of punctuation alone: every text is a candidate
            return cls(pattern, label, None)
        # A run with letters that fold to no ASCII letter can't be in an ASCII text at all.
        words = sorted({run for run in runs if run.isascii()})
        # Nor can a name of a script without spaces be in the text RE2 reads (re2_reads): the
        # whole-word names' regex alone is RE2's there.
        in_re2 = None
        if (whole_words := _name_pattern(spaced)) is not None:
            edges = (all(_is_word(p[0]) for p in spaced), all(_is_word(p[-1]) for p in spaced))
            in_re2 = _in_re2(whole_words, label, edges)
        return cls(pattern, label, pa.array(words, pa.large_string()), in_re2)

    def text(self, text: str) -> str:
        """`text` with the names masked: found in the text folded to its plain letters, so
        "Jose" finds "José" and "José" "Jose", and the rest kept as written."""
        if not _HAS_ACCENT.search(text):
            return self.pattern.sub(self.label, text)
        folded = text.translate(_ACCENT_FOLDS)
        at: Sequence[int] = range(len(text) + 1)  # where each folded character was in the text
        if len(folded) < len(text):  # combining accents dropped ("Jose\u0301"): rare
            kept_at = (i for i, char in enumerate(text) if ord(char) not in _COMBINING_ACCENTS)
            at = [*kept_at, len(text)]
        kept, end = [], 0
        for match in self.pattern.finditer(folded):
            start = at[match.start()]
            end_before, end = end, at[match.end()]  # with the accents on a name's last letter
            kept += [text[end_before:start], self.label.replace(r"\g<0>", text[start:end])]
        return "".join([*kept, text[end:]])

    def __call__(self, texts: pd.Series) -> pd.Series:
        if self.first_words is None:
            return texts.map(self.text, na_action="ignore").astype(texts.dtype)
        strings = pa.array(texts.array, type=pa.large_string())
        if self.in_re2 is not None:  # matching every text on RE2 costs less than the sign
            return _replace_in_re2(texts, strings, self.in_re2, lambda rows: rows.map(self.text))
        # The word runs of RE2's split on [^a-z0-9_]+ after lower-casing, at a quarter of its
        # cost: a byte lookup folds case and makes every other byte a space.
        words = pc.ascii_split_whitespace(mapped_strings(strings, _WORD_BYTES))
        found = pc.is_in(pc.list_flatten(words), value_set=self.first_words)
        parents = pc.list_parent_indices(words).to_numpy()[found.to_numpy(zero_copy_only=False)]
        sign = np.bincount(parents, minlength=len(texts)).astype(bool)
        return _replace_where(texts, strings, sign, lambda rows: rows.map(self.text))


def _in_re2(
    pattern: re.Pattern[str], label: str, edges: tuple[bool, bool] | None = None
) -> tuple[str, str] | None:
    """A whole-word regex and its re.sub template (text, and \\g<0> for the match) as RE2's
    pattern (_re2_reading) and rewrite, for _replace_in_re2; None where RE2 can't."""
    in_re2 = _re2_reading(pattern, edges)
    if in_re2 is None:
        return None
    match = label.replace("\\", "\\\\").replace("\\\\g<0>", "\\2")
    return in_re2, f"\\1{match}\\3"


def _replace_where(
    texts: pd.Series,
    strings: pa.Array | pa.ChunkedArray,
    sign: np.ndarray,
    replace: Callable[[pd.Series], pd.Series],
) -> pd.Series:
    """`texts` through `replace` (a Python regex's), run only where `sign` (what Arrow found
    that every match in ASCII text has) is true, and on every text beyond ASCII.
    `strings`: the texts in Arrow."""
    beyond = ~pc.fill_null(pc.string_is_ascii(strings), True).to_numpy(zero_copy_only=False)
    rows = sign | beyond
    if not rows.any():
        return texts
    replaced = texts.copy()
    replaced[rows] = replace(texts[rows])
    return replaced


def _replace_in_re2(
    texts: pd.Series,
    strings: pa.Array | pa.ChunkedArray,
    in_re2: tuple[str, str],
    replace: Callable[[pd.Series], pd.Series],
    python_only: np.ndarray | None = None,
) -> pd.Series:
    """`texts` through `in_re2` (a regex and its replacement as RE2 reads them) where RE2 reads
    the text as Python does (re2_reads: ASCII, or but for quote, dash and space variants, word
    characters to neither), on threads; through `replace` (the Python regex's) elsewhere, and
    where `python_only` says."""
    readable = re2_reads(texts).to_numpy()
    if python_only is not None:
        readable = readable & ~python_only
    rest = texts.notna().to_numpy() & ~readable
    changed = np.zeros(len(texts), dtype=bool)
    if readable.any():
        pattern, rewrite = in_re2
        picked = strings.filter(pa.array(readable))
        rewritten = on_threads(
            lambda part: pc.replace_substring_regex(part, pattern, rewrite), picked
        )
        # Only the texts it changed are put back: most hold no match, and putting back a
        # million unchanged values cost more than finding the few that changed.
        differs = np.asarray(pc.not_equal(rewritten, picked).to_numpy(zero_copy_only=False), bool)
        changed[np.flatnonzero(readable)[differs]] = True
        rewritten = rewritten.filter(pa.array(differs))
    if not (changed.any() or rest.any()):
        return texts
    replaced = texts.copy()
    if changed.any():
        replaced[changed] = pd.array(rewritten, dtype=texts.dtype)
    if rest.any():
        replaced[rest] = replace(texts[rest])
    return replaced


_WORD_CHARACTER = re.compile(r"\w")


def _is_word(char: str) -> bool:
    return _WORD_CHARACTER.fullmatch(char) is not None


# re's parser names its items' kinds: the character classes of word characters only.
_WORD_CATEGORIES = ("CATEGORY_DIGIT", "CATEGORY_WORD")


def _in_class_of_words(members: list[tuple[Any, Any]]) -> bool:
    """Whether a parsed character class holds word characters only."""
    for op, value in members:
        kind = str(op)
        if kind == "LITERAL":
            word = _is_word(chr(value))
        elif kind == "RANGE":
            word = all(_is_word(chr(code)) for code in range(value[0], value[1] + 1))
        else:  # a category, or the class is negated
            word = kind == "CATEGORY" and str(value) in _WORD_CATEGORIES
        if not word:
            return False
    return True


def _word_at_edge(items: Any, end: bool = False) -> tuple[bool, bool]:
    """Of parsed regex `items` (re's parser): whether every match begins (or, with `end`,
    ends) with a word character (False where that can't be told), and whether they can match
    nothing."""
    for op, value in reversed(items) if end else items:
        kind = str(op)
        if kind == "AT":  # a zero-width assertion: the character is the next item's
            continue
        if kind == "LITERAL":
            first, empty = _is_word(chr(value)), False
        elif kind == "IN":
            first, empty = _in_class_of_words(value), False
        elif kind == "CATEGORY":
            first, empty = str(value) in _WORD_CATEGORIES, False
        elif kind == "SUBPATTERN":
            first, empty = _word_at_edge(value[-1], end)
        elif kind == "BRANCH":
            each = [_word_at_edge(branch, end) for branch in value[1]]
            first, empty = all(f for f, _ in each), any(e for _, e in each)
        elif kind in ("MAX_REPEAT", "MIN_REPEAT"):
            first, empty = _word_at_edge(value[2], end)
            empty = empty or value[0] == 0
        else:  # anything else (a look-around, a back-reference): not known
            return False, False
        if not first:
            return False, False
        if not empty:
            return True, False
    return True, True


# Bounded: the scrubber's patterns come back every call; a names' trie, made per masker, would
# otherwise stay for the process's life (a notebook audits again and again).
@functools.lru_cache(maxsize=16)
def _re2_reading(pattern: re.Pattern[str], edges: tuple[bool, bool] | None = None) -> str | None:
    """`pattern` as RE2 reads it in the text re2_reads, in three groups, the match being group
    2; None where RE2 can't say the same. A regex with no look-arounds is RE2's as it is (the
    email one). RE2 has none, but for a whole-word regex (_B + body + _E): where every match
    of the body begins with a word character (told from re's parse of it), \\b before it is
    the look-behind, and the look-ahead is read by taking the next character (not a word
    character, or the end) as group 3, for the rewrite to put back; where every match ends
    with one, \\b after it is the look-ahead, and the look-behind takes the character before
    it as group 1 (`edges`: whether they do, where the caller knows; re's parse of 20,000
    names' trie takes a quarter of a second). No match can begin at a character so taken, so
    none is lost to it; RE2's leftmost-first choice is the one backtracking makes under the
    look-arounds; and in that text both read \\w, \\d and \\s alike and fold ASCII case only.

    (A name's letters beyond ASCII never meet that text: the only characters Python's
    IGNORECASE takes for an ASCII letter, dotless i, long s and the Kelvin sign, are plain
    letters in _plain's forms; a test checks Python's list.)"""
    if pattern.flags & ~(re.IGNORECASE | re.UNICODE):
        return None
    try:  # re's own parser, private: a Python without it leaves the regex to Python
        from re._parser import parse
    except ImportError:  # pragma: no cover
        return None
    text = pattern.pattern
    whole_words = text.startswith(_B) and text.endswith(_E)
    body = text[len(_B) : len(text) - len(_E)] if whole_words else text
    if edges is None or not whole_words:
        parsed = parse(body, pattern.flags)
        (begins, empty), (ends, _) = _word_at_edge(parsed), _word_at_edge(parsed, end=True)
    else:
        (begins, ends), empty = edges, False
    translated = re2_translation(body)  # (None for a look-around, which RE2 refuses)
    if empty or translated is None:  # an empty match is replaced differently by each
        return None
    case = "(?i)" if pattern.flags & re.IGNORECASE else ""
    other = "[^0-9A-Za-z_]"
    if not whole_words:
        return f"{case}()({translated})()"
    if begins:
        return f"{case}()\\b({translated})({other}|$)"
    if ends:
        return f"{case}(^|{other})({translated})\\b()"
    return None


@functools.cache
def _re2_superset(pattern: re.Pattern[str]) -> str:
    """re2_superset of one of this module's patterns, worked out once; where RE2 could not
    read it, an empty pattern: every text a candidate (tests hold each pattern to RE2)."""
    return re2_superset(pattern) or ""


def _replace_where_possible(texts: pd.Series, pattern: re.Pattern[str], label: str) -> pd.Series:
    """`texts` with `pattern` replaced by `label`: on RE2 where it reads the pattern as Python
    does (_in_re2: emails, phones, dates and times) and the text too; otherwise the Python
    regex run only on texts where Arrow finds the sure sign (the pattern's own reading on
    RE2, matching.re2_superset), and on every text that is not ASCII."""
    strings = pa.array(texts.array, type=pa.large_string())

    def in_python(rows: pd.Series) -> pd.Series:
        return rows.str.replace(pattern, label, regex=True)

    if (in_re2 := _in_re2(pattern, label)) is not None:
        return _replace_in_re2(texts, strings, in_re2, in_python)
    return _replace_where(texts, strings, _signed(strings, _re2_superset(pattern)), in_python)


def _signed(strings: pa.Array, sign: str) -> np.ndarray:
    """Which texts RE2's `sign` (a pattern) finds something in, on threads."""
    found = on_threads(lambda part: pc.match_substring_regex(part, sign), strings)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class _ClinicMasked:
    """The clinic's name (clinic_name.clinic_name_forms) to mask as [clinic] in a column of texts.

    Only the texts holding RE2's sure sign of the name, and those beyond ASCII, are read: a few
    in a hundred name the clinic, and replacing on RE2 costs more than matching. Of those, the
    texts with no '_' that RE2 reads as Python does are masked on RE2 (in_re2), the rest by
    Python's regex: the name's edges are letters and digits (clinic_name.TOKEN_EDGES), where RE2's
    \\b and the character _in_re2 takes at the other edge are \\w's, which holds '_' too; in
    text without an '_' the two are one, so RE2 reads the name's regex with whole-word edges
    there, as it reads a person's name."""

    pattern: re.Pattern[str]
    sure_sign: str | None
    in_re2: tuple[str, str] | None

    @classmethod
    def of(cls, clinic: str, aliases: Sequence[str]) -> _ClinicMasked | None:
        """None for a policy that names no clinic."""
        forms = clinic_name_forms(clinic, aliases)
        if forms is None:
            return None
        pattern, sure_sign = name_patterns(forms)
        whole_words = name_patterns(forms, edges=(_B, _E))[0]
        return cls(pattern, sure_sign, _in_re2(whole_words, "[clinic]"))

    def __call__(self, texts: pd.Series) -> pd.Series:
        strings = pa.array(texts.array, type=pa.large_string())
        candidates = _signed(strings, self.sure_sign or "")  # without a sign, every text
        return _replace_where(texts, strings, candidates, self._candidates_masked)

    def _candidates_masked(self, texts: pd.Series) -> pd.Series:
        def in_python(rows: pd.Series) -> pd.Series:
            return rows.str.replace(self.pattern, "[clinic]", regex=True)

        if self.in_re2 is None:
            return in_python(texts)
        strings = pa.array(texts.array, type=pa.large_string())
        underscored = pc.fill_null(pc.match_substring(strings, "_"), False)
        python_only = underscored.to_numpy(zero_copy_only=False)
        return _replace_in_re2(texts, strings, self.in_re2, in_python, python_only)


def _name_words(parts: pd.Series) -> list[str]:
    """'Mary-Jo van Dyke' gives Mary, Jo, van and Dyke, so 'Ms. Dyke' is masked too; O'Brien
    gives O'Brien and Brien, as a rule's quote may begin after the apostrophe. Words of two
    letters or more, and of one in a script written without spaces (_UNSPACED).

    Split in Arrow, on what Python's \\s and a hyphen are: a split by Python's re is a call per
    name, and a year of clients has tens of thousands."""
    names = pc.replace_substring(arrow_strings(parts.dropna()), "\u2019", "'")
    words = pc.list_flatten(pc.split_pattern_regex(names, f"[{RE2_SPACES}\\-]+"))
    apart = pc.list_flatten(pc.split_pattern(words, "'"))
    words = pa.chunked_array([*words.chunks, *apart.chunks], pa.large_string())
    words = pc.utf8_trim(words, ".,;:'\"()")
    # A word of one letter is an initial ("J."), masked nowhere: as a whole word it would mask
    # every "a" and "I". One of a script without spaces is a name ("王", "김").
    kept = pc.or_(
        pc.greater_equal(pc.utf8_length(words), 2),
        pc.match_substring_regex(words, _UNSPACED.pattern),
    )
    return sorted(pc.unique(words.filter(kept)).to_pylist())


def known_names(bundle: Bundle) -> list[str]:
    """Every word (_name_words: an initial is none) of every client's and staff member's
    first and last name, on the rows accepted and those set aside, and of the names the policy
    lists (a supervisor, a family member), for masking in research extracts."""
    accepted = [bundle.tables[t][c] for t in ("clients", "staff") for c in NAME_COLUMNS]
    others = (*bundle.other_client_names, *bundle.other_staff_names, *bundle.policy.privacy.names)
    return _name_words(pd.concat([*accepted, pd.Series(others, dtype="object")]))


def text_scrubber(
    names: Iterable[str], *, clinic: str = "", aliases: Sequence[str] = ()
) -> Callable[[pd.Series], pd.Series]:
    """A function masking, in a Series of texts, the `clinic`'s name and `aliases` as [clinic]
    (as the audit finds them, but for near misses, and each word of them that says which clinic
    alone), the `names` (whole words, any case, any accents) as [name], email addresses as
    [email], phone numbers as [phone], dates, numeric or spelled out, as [date] and times as
    [time].

    Emails first, whole, though they hold names; the clinic next, so its name stays one
    [clinic] even where a word of it is someone's name; names next, so none hides inside a
    date; phones before dates, so '555 2019' is a phone, not a year. Weekdays and 'today' or
    'tomorrow' stay: the shift keeps weekdays anyway.
    """
    masked = _Masked.of(names, "[name]")
    mask_clinic = _ClinicMasked.of(clinic, aliases)

    def scrub(texts: pd.Series) -> pd.Series:
        texts = _replace_where_possible(texts, _EMAIL, "[email]")
        if mask_clinic is not None:
            texts = mask_clinic(texts)
        if masked is not None:
            texts = masked(texts)
        texts = _replace_where_possible(texts, _PHONE, "[phone]")
        texts = _replace_where_possible(texts, _DATE, "[date]")
        return _replace_where_possible(texts, _TIME, "[time]")

    # Once per distinct text: a kept column such as the appointments' service repeats a few
    # words a million times.
    return lambda texts: per_distinct(scrub, texts)


def client_names(bundle: Bundle) -> list[str]:
    """Every word of every client's first and last name, for masking as [client]: the clients
    accepted, and those set aside (a rejected row's reason may quote its own name)."""
    # Without the rows' labels: stacking the columns' would pair every name with its row, and
    # concatenating that index cost a tenth of a second for a year's clients.
    names = [bundle.clients[column] for column in NAME_COLUMNS]
    others = pd.Series(bundle.other_client_names, dtype="object")
    return _name_words(pd.concat([*names, others], ignore_index=True))


# A modal verb marked as a name (a client called May or Will), in lower case: RE2's pattern and
# rewrite, on Arrow, as pandas' replace with a group falls back to a Python call per text.
_MODAL_MARKED = NAME_MARK + r"(may|will|can|might|must|shall)\b"


def client_marker(bundle: Bundle) -> Callable[[pd.Series], pd.Series]:
    """A function putting text.NAME_MARK before every word of a client's name (client_names:
    whole words, any case) in a Series of texts: the phrases for inquiries' replies then read
    "Eli has been doing better" as they read "he has been doing better", where the bare name
    would be any word (in any case: "alex has missed three sessions"), but for a modal verb in
    lower case, as a client may be called May or Will: "any family member may see a
    therapist", "we will see"."""
    marked = _Masked.of(client_names(bundle), NAME_MARK + r"\g<0>")
    if marked is None:
        return lambda texts: texts

    def mark(texts: pd.Series) -> pd.Series:
        named = per_distinct(marked, texts)
        verbs = pc.replace_substring_regex(arrow_strings(named), _MODAL_MARKED, r"\1")
        return pd.Series(verbs, index=named.index, dtype=named.dtype)

    return mark


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
