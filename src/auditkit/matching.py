"""Running phrase patterns on text: tolerating what normalising would fold, translating a
Python regex to RE2's dialect, deciding which texts RE2 reads exactly as Python's re does, and
finding the first match in each text on pyarrow's RE2 (on threads) or on Python's re.

The engine under auditkit.text's phrase catalogue and auditkit.clinic_name's name search, and
under privacy's masking. It is separate from the catalogue so that editing a category's phrases
and changing how any pattern is run stay apart, and so that the name search and the masking
use the machinery without the phrases.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.parsing import repair_text

# --- tolerating what normalising would fold ----------------------------------------------------

# The variants of each ASCII character that normalised text folds onto it, one for one.
FOLDS = {
    "'": "\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4`",
    '"': "\u201c\u201d\u201e\u201f\u2033",
    "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2212",
    " ": "\t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
}
# A pattern's literal quote or hyphen, outside a character class, matches any of its variants.
_TOLERANT = {
    plain: "[" + re.escape(plain + variants) + "]"
    for plain, variants in FOLDS.items()
    if plain != " "  # patterns say \s, which already matches every Unicode space
}
# Escapes, character classes and flags turned off for a group, (?-i:...), are copied as they
# are; bare quotes and hyphens are widened.
_PATTERN_TOKEN = re.compile(
    r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|\(\?[aiLmsux]*-[imsx]+:|['\"-]", re.DOTALL
)

# Same-length filler for negated spans (SUBSTITUTE): neither a word character nor whitespace
# (unlike \x1c-\x1f, which \s matches), so no phrase pattern can match it or reach across it.
_BLANK = "\x1a"


def tolerant(pattern: str) -> str:
    """`pattern`, written against normalised text, matching every quote and hyphen variant."""
    return _PATTERN_TOKEN.sub(lambda m: _TOLERANT.get(m.group(), m.group()), pattern)


def _compile(phrases: Sequence[str]) -> re.Pattern[str]:
    # One outer group, so str.extract returns the whole match even if a phrase has groups.
    alternation = "|".join(f"(?:{tolerant(phrase)})" for phrase in phrases)
    return re.compile(f"({alternation})", re.IGNORECASE)


# --- the same patterns on RE2 -------------------------------------------------------------------
#
# Python's re tries every alternative at every position; RE2 (in pyarrow) scans a whole column in
# C++. On text that is ASCII, but for quote, dash and space variants, the two agree exactly --
# \w, \d and \b are ASCII in RE2, and no variant is a word character in either; RE2's
# leftmost-first alternation picks the match backtracking would -- except for \s, which in Python
# matches every Unicode space, so it is spelled out. Constructs RE2 lacks (look-arounds,
# back-references) or reads differently ($) leave a pattern to Python. Text with any other
# character goes to Python too: mojibake repair, Unicode letters and symbols stay exactly as
# before.

# Python's \s: str.isspace's characters (a test checks the list against Python's own), for a
# character class of an RE2 pattern meant to split or match as Python's would.
RE2_SPACES = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
_RE2_TOKEN = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|.", re.DOTALL)
_CLASS_TOKEN = re.compile(r"\\.|.", re.DOTALL)
EVIDENCE = "auditkit_evidence"  # RE2's extract needs a named group


def _class_members(token: str) -> list[str]:
    """A character-class token's pieces ('[', '^', '\\s', 'a', ..., ']'); [] for any other."""
    return _CLASS_TOKEN.findall(token) if token.startswith("[") and len(token) > 1 else []


def re2_translation(pattern: str) -> str | None:
    """`pattern` (a Python regex) in RE2's dialect, meaning the same on the texts re2_reads,
    or None if RE2 cannot say the same thing."""
    tokens = []
    found = _RE2_TOKEN.findall(pattern)
    for i, token in enumerate(found):
        if token == "(" and found[i + 1 : i + 2] != ["?"]:
            token = "(?:"  # RE2's extract takes named groups only; ours is the whole match
        elif token == "(" and found[i + 1 : i + 4] == ["?", "P", "<"]:
            return None
        if token == "$":
            return None  # Python's $ also matches before a final newline
        if inside := _class_members(token):
            if "\\S" in inside:
                return None
            token = "".join(RE2_SPACES if t == "\\s" else t for t in inside)
        elif token == "\\s":
            token = f"[{RE2_SPACES}]"
        elif token == "\\S":
            token = f"[^{RE2_SPACES}]"
        tokens.append(token)
    translated = "".join(tokens)
    try:  # RE2 refuses what it cannot do: look-arounds, back-references, possessives
        pc.match_substring_regex(pa.array([""]), pattern=translated)
    except pa.ArrowInvalid:
        return None
    return translated


def _may_match_blank(pattern: str) -> bool:
    """Whether `pattern` could match the negation filler. If it cannot, a negated span blanked
    to one filler character leaves the same matches as one filler per character."""
    for token in _RE2_TOKEN.findall(pattern):
        inside = _class_members(token)
        if inside and inside[1] == "^":
            if _BLANK not in inside and "\\x" not in inside:
                return True  # a negated class without the filler in it
        elif any(
            t in ("\\W", "\\S", "\\D", _BLANK) or t[:2] in ("\\x", "\\u", "\\U", "\\N")
            for t in inside
        ):
            return True
        if token in (".", "\\W", "\\S", "\\D", _BLANK) or token[:2] in ("\\x", "\\u", "\\U", "\\N"):
            return True
    return False


@dataclass(frozen=True)
class Matcher:
    """A category's phrases and negations, in Python's re and, where they translate, RE2."""

    phrases: re.Pattern[str]
    negations: re.Pattern[str] | None
    phrases_re2: str | None
    negations_re2: str | None
    # Where phrases_re2 can't be had: re2_superset of the phrases (their look-arounds left
    # out), which matches wherever they do (and more), to rule texts out before Python reads.
    candidates_re2: str | None = None

    def find(
        self, texts: pd.Series, readable: pd.Series | None = None, words: bool = True
    ) -> pd.Series:
        """The category's words in each text, or with `words=False` only whether it has some.
        With `readable` (re2_reads of them), the texts are taken as repaired already, as
        find_each passes them."""
        return extract(
            repair_text(texts) if readable is None else texts,
            self.phrases,
            self.phrases_re2,
            self.negations,
            self.negations_re2,
            readable,
            self.candidates_re2,
            words,
        )


# Each ASCII quote, hyphen and space with its non-ASCII variants that are not word characters
# (U+02BC, a modifier letter, is one: it stays as it is).
_VARIANTS = [
    (plain, "[" + "".join(c for c in variants if not (c.isascii() or c.isalnum())) + "]")
    for plain, variants in FOLDS.items()
]


_NOT_ASCII_OR_VARIANT = "[^\\x00-\\x7f" + "".join(v[1:-1] for _, v in _VARIANTS) + "]"


def re2_reads(text: pd.Series) -> pd.Series:
    """Which texts RE2 reads exactly as Python's re does: ASCII, or ASCII but for quote, dash
    and space variants (none a word character in either, and \\s names every space). A
    Unicode letter, digit or other symbol leaves a text to Python."""
    column = pa.array(text.array)
    readable = np.asarray(
        pc.fill_null(pc.string_is_ascii(column), False).to_numpy(zero_copy_only=False), dtype=bool
    )
    others = text.notna().to_numpy() & ~readable
    if others.any():  # only the few texts with a non-ASCII character are searched
        variant_only = pc.invert(
            pc.match_substring_regex(column.filter(pa.array(others)), _NOT_ASCII_OR_VARIANT)
        )
        readable[others] = variant_only.to_numpy(zero_copy_only=False)
    return pd.Series(readable, index=text.index)


# RE2 runs in C++ without Python's lock: a column split across threads is matched that many
# times faster. Pieces of fewer texts than this are not worth a thread (half a rule's slice of
# texts, rules.context.PHRASE_SLICE, is still split in two).
_THREADS = min(4, os.cpu_count() or 1)
_TEXTS_PER_THREAD = 12_500


def on_threads(kernel: Callable[[pa.Array], pa.Array], column: pa.Array) -> pa.Array:
    """`kernel` (Arrow compute over a column of texts) applied piece by piece on threads, the
    pieces' answers joined in order."""
    pieces = max(1, min(_THREADS, len(column) // _TEXTS_PER_THREAD))
    if pieces == 1:
        return kernel(column)
    step = -(-len(column) // pieces)
    with ThreadPoolExecutor(pieces) as pool:
        parts = list(pool.map(kernel, [column.slice(i, step) for i in range(0, len(column), step)]))
    chunks = [c for part in parts for c in getattr(part, "chunks", [part])]
    return pa.chunked_array(chunks, type=chunks[0].type).combine_chunks()


def _blank_re2(column: pa.Array, negations: str) -> pa.Array:
    """Negated spans blanked to the filler, on RE2. Replacing is several times slower than
    matching even where nothing matches, so only the texts that hold a negation are rewritten."""
    negated = pc.fill_null(
        on_threads(lambda part: pc.match_substring_regex(part, negations), column), False
    )
    if not pc.any(negated).as_py():
        return column
    rewritten = on_threads(
        lambda part: pc.replace_substring_regex(part, negations, _BLANK), column.filter(negated)
    )
    return pc.replace_with_mask(column, negated, rewritten)


def blank_negations(
    text: pd.Series,
    negations: re.Pattern[str],
    negations_re2: str | None,
    readable: pd.Series | None = None,
) -> pd.Series:
    """Each text with its negated spans blanked to the filler, which no pattern matches or reads
    as a word: on RE2 for the texts it reads as Python does (`readable`, re2_reads of them, if
    known), on Python's re for the rest."""
    readable = re2_reads(text) if readable is None else readable
    rest = text.notna()
    column = pa.array(text.array, pa.large_string())
    if negations_re2 is not None and readable.any():
        on_re2 = pa.array(readable.to_numpy())
        blanked_re2 = _blank_re2(column.filter(on_re2), negations_re2)
        column = pc.replace_with_mask(column, on_re2, blanked_re2.cast(pa.large_string()))
        rest &= ~readable
    blanked = pd.Series(column, index=text.index, dtype="str")
    if rest.any():
        blanked[rest] = text[rest].str.replace(negations, _blank, regex=True)
    return blanked


def negation_patterns(negations: Sequence[str]) -> tuple[re.Pattern[str], str | None]:
    """`negations` compiled for blank_negations: for Python's re and, where they translate, RE2
    (else None)."""
    return _compile(negations), _re2_alternation(negations, named=False)


def extract(
    text: pd.Series,
    pattern: re.Pattern[str],
    pattern_re2: str | None,
    negations: re.Pattern[str] | None = None,
    negations_re2: str | None = None,
    readable: pd.Series | None = None,
    candidates_re2: str | None = None,
    words: bool = True,
) -> pd.Series:
    """The first match of `pattern` in each text (NA where none), after blanking `negations`:
    on RE2 for the texts it reads as Python does, where the patterns translate, on Python's re
    for the rest. `readable` is re2_reads(text), if already known; `candidates_re2`, where
    `pattern_re2` is None, matches wherever `pattern` may, to rule texts out on RE2.

    With `words=False`, only whether each text has a match (False where NA): RE2 then stops at
    the first sign of one, several times faster than finding where the match begins and ends.
    """
    kind = pa.large_string() if words else pa.bool_()
    # Built in Arrow: a pandas setitem would turn each part into Python objects and back.
    found = pa.nulls(len(text), kind)
    readable = re2_reads(text) if readable is None else readable
    rest = text.notna()
    if pattern_re2 is not None and readable.any():
        column = pa.array(text[readable].array)
        if negations_re2 is not None:
            column = _blank_re2(column, negations_re2)
        if words:
            extracted = on_threads(lambda part: pc.extract_regex(part, pattern_re2), column)
            matched = pc.if_else(
                pc.is_valid(extracted), pc.struct_field(extracted, EVIDENCE), pa.scalar(None)
            )
        else:
            matched = on_threads(lambda part: pc.match_substring_regex(part, pattern_re2), column)
        found = pc.replace_with_mask(found, pa.array(readable.to_numpy()), matched.cast(kind))
        rest &= ~readable
    elif candidates_re2 is not None and readable.any():
        # RE2 can only approximate the pattern: it rules out the texts that cannot match, and
        # only the others go to Python for the exact words.
        column = pa.array(text[readable].array)
        may = on_threads(lambda part: pc.match_substring_regex(part, candidates_re2), column)
        rest[readable] = np.asarray(may.to_numpy(zero_copy_only=False), dtype=bool)
    if rest.any():
        python = text[rest]
        if negations is not None:
            python = python.str.replace(negations, _blank, regex=True)
        first = python.str.extract(pattern, expand=True)[0]
        matched = pa.array(first.array, kind) if words else pa.array(first.notna().to_numpy())
        found = pc.replace_with_mask(found, pa.array(rest.to_numpy()), matched)
    if words:
        return pd.Series(found, index=text.index, dtype="str")
    found = pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    return pd.Series(found, index=text.index, dtype=bool)


def _re2_alternation(phrases: Sequence[str], named: bool) -> str | None:
    translated = [re2_translation(tolerant(phrase)) for phrase in phrases]
    if any(t is None for t in translated):
        return None
    alternation = "|".join(f"(?:{t})" for t in translated)
    return f"(?i)(?P<{EVIDENCE}>{alternation})" if named else f"(?i){alternation}"


def phrase_matcher(phrases: Sequence[str], negations: Sequence[str]) -> Matcher:
    """A category's `phrases` and the `negations` blanked out before they run, compiled for
    Python's re and, where they translate and blanking keeps every character's place, RE2."""
    phrases_re2 = _re2_alternation(phrases, named=True)
    negations_re2 = _re2_alternation(negations, named=False) if negations else None
    if negations and (negations_re2 is None or any(_may_match_blank(tolerant(p)) for p in phrases)):
        phrases_re2 = None  # blanking must then keep every character's place: Python only
    compiled = _compile(phrases)
    return Matcher(
        compiled,
        _compile(negations) if negations else None,
        phrases_re2,
        negations_re2,
        re2_superset(compiled) if phrases_re2 is None else None,
    )


def _without_look_arounds(pattern: str) -> str:
    """`pattern` with its look-ahead and look-behind assertions left out: it then matches
    wherever `pattern` does, and more."""
    tokens = _RE2_TOKEN.findall(pattern)
    kept, depth, skipping_from = [], 0, None
    for i, token in enumerate(tokens):
        opens = token == "("
        if opens and skipping_from is None:
            ahead = "".join(tokens[i + 1 : i + 4])
            if ahead[:2] in ("?=", "?!") or ahead in ("?<=", "?<!"):
                skipping_from = depth
        depth += opens - (token == ")")
        if skipping_from is None:
            kept.append(token)
        elif token == ")" and depth == skipping_from:
            skipping_from = None
    return "".join(kept)


def re2_superset(pattern: re.Pattern[str]) -> str | None:
    """An RE2 pattern that finds something, in text re2_reads, wherever `pattern` does: its
    RE2 reading without its look-arounds (and with its case folding), to rule texts out before
    Python's re reads them. None where RE2 cannot read it, or where a flag other than case
    folding changes how the pattern reads (verbose, multi-line)."""
    if pattern.flags & ~(re.IGNORECASE | re.UNICODE):
        return None
    translated = re2_translation(_without_look_arounds(pattern.pattern))
    if translated is None:
        return None
    return ("(?i)" if pattern.flags & re.IGNORECASE else "") + translated


def _blank(match: re.Match[str]) -> str:
    return _BLANK * len(match.group())
