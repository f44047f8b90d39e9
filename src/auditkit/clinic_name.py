"""The clinic's name in free text, however a transcript spells it: each whole form of the name
and its aliases (acronyms dotted or not, any spacing), then near misses by fuzzy matching
(rapidfuzz) of word n-grams; and the name's forms and patterns that privacy masks.

Separate from the phrase catalogue (auditkit.text): the name comes from the policy, not from a
fixed list of phrases, and is found by its own search (forms, n-grams, fuzzy scores) over the
matching machinery of auditkit.matching.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from auditkit.columns import arrow_strings, lower_case_bytes, mapped_strings, per_distinct
from auditkit.matching import (
    EVIDENCE,
    blank_negations,
    extract,
    negation_patterns,
    re2_reads,
    re2_translation,
)
from auditkit.parsing import repair_text

# Words that say what kind of place it is, not which: alone they never name the clinic.
# fmt: off
_GENERIC = frozenset({
    "the", "a", "an", "of", "and", "for", "at", "in", "on", "clinic", "clinics", "center",
    "centre", "centers", "psychology", "psychological", "psychiatry", "psychiatric",
    "psychotherapy", "counseling", "counselling", "services", "service", "associates",
    "institute", "group", "practice", "health", "mental", "behavioral", "behavioural", "therapy",
    "training", "university", "department", "dept", "program", "programme", "office", "family",
    "community", "wellness",
})
# fmt: on
_TOKEN = r"[^\W_]+(?:['\u2018\u2019][^\W_]+)*"
_ACRONYM_MAX = 4  # single tokens this short match only whole and exact, never fuzzily
_FUZZY_THRESHOLD = 88  # fuzz.ratio of space-stripped lower-case forms
_FUZZY_SLICE = 20_000  # texts whose n-grams are scored at once
_FUZZY_MIN_LENGTH = 8  # shorter forms are too close to ordinary words to match fuzzily
# Below this fuzz.partial_ratio no n-gram can reach _FUZZY_THRESHOLD (72.7 at 88, less a margin
# for rounding): see _may_hold_near_miss.
_NEAR_MISS_FLOOR = 70


# What a name's key leaves out of a form or an n-gram: everything but letters and digits.
_NOT_IN_KEY = re.compile(r"[\W_]+")


def _key(phrase: str) -> str:
    return _NOT_IN_KEY.sub("", phrase.lower())


# A name's acronyms and its other forms, as keys (_key): what its patterns are made of.
NameForms = tuple[list[str], list[str]]


def _forms(name: str, aliases: Sequence[str]) -> NameForms:
    """Acronyms and names to look for: every alias as given, plus each run of two or more of
    its words that holds a non-generic word ("Riverside Psychology" of "... Clinic")."""
    acronyms, names = [], []
    for form in dict.fromkeys(f.strip() for f in (name, *aliases) if f.strip()):
        words = re.findall(_TOKEN, form)
        if len(words) == 1 and len(_key(form)) <= _ACRONYM_MAX:
            acronyms.append(_key(form))
            continue
        names.append(_key(form))
        for size in range(2, len(words)):
            for start in range(len(words) - size + 1):
                run = words[start : start + size]
                if any(word.lower() not in _GENERIC for word in run):
                    names.append(_key(" ".join(run)))
    return list(dict.fromkeys(acronyms)), list(dict.fromkeys(names))


def _name_alternation(acronyms: list[str], names: list[str]) -> str:
    dotted, spaced = r"\.\s?", r"\s?"
    alternatives = [
        # "R.P.C." or "r p c" or "RPC", as a whole token
        f"{dotted.join(map(re.escape, acronym))}\\.?|{spaced.join(map(re.escape, acronym))}"
        for acronym in acronyms
    ] + [
        # any spacing or punctuation between letters: "River side", "RiversidePsychology"
        r"[\W_]{0,3}".join(map(re.escape, key))
        for key in names
    ]
    alternatives.sort(key=len, reverse=True)  # the whole name before a part of it
    return "|".join(alternatives)


# A whole token of the clinic's name: no letter or digit beside it ("RPC_2026" names it, as a
# file name or a handle does; "RPCs" does not).
TOKEN_EDGES = (r"(?<![^\W_])", r"(?![^\W_])")


def name_patterns(
    forms: NameForms, edges: tuple[str, str] = TOKEN_EDGES
) -> tuple[re.Pattern[str], str | None]:
    """The name's forms (each whole, any case and spacing, an acronym dotted or not) as a
    whole-token pattern (between `edges`: look-arounds, by default no letter or digit beside
    it), for Python's re, and for RE2 on the texts re2_reads (where a letter or digit is
    [a-zA-Z0-9], and the boundaries are matched, not looked at), or None."""
    alternation = _name_alternation(*forms)
    start, end = edges
    python = re.compile(rf"{start}((?:{alternation})){end}", re.IGNORECASE)
    translated = re2_translation(alternation)
    if translated is None:
        return python, None
    return python, (f"(?i)(?:^|[^a-zA-Z0-9])(?P<{EVIDENCE}>{translated})(?:$|[^a-zA-Z0-9])")


# A log saying the name was left out: "LVM, did not mention Riverside Clinic", "I didn't say
# RPC", "left voicemail without identifying myself as calling from RPC", "no mention of
# Riverside Clinic", "Riverside Clinic (not named)". The caller's own words only: at the start
# of a clause, or after "I", "we" or the log's "LVM"; never "since you did not give Riverside
# Clinic 24 hours notice", which a voicemail says to the client, naming the clinic. Each reaches
# the name across a few words that can only say what was not said (never a comma or a
# sentence's end), so "I did not see you today at Riverside Clinic" still names it.
_BY_THE_CALLER = (
    r"(?:^|[.;:!?(-]\s*|\b(?:i|we|i've|we've|i\s+have|we\s+have|therapist|clinician|writer"
    r"|lvm|vm|voicemail|message|msg)\b[\s,]*)"
)
_NOT_NAMING = (
    _BY_THE_CALLER + r"(?:did\s+not|didn't|without|never|not|no)\s+(?:\w+\s+){0,2}?"
    r"(?:mention|mentioning|mentioned|say|saying|said|name|naming|named|identify|identifying"
    r"|identified|disclose|disclosing|disclosed|reveal|revealing|revealed|state|stating|stated"
    r"|leave|leaving|left)\b"
)
_ABOUT_THE_NAME = (
    r"(?:[^\w.?!;,]+(?:the|our|my|its|their|this|that|it|it's|clinic|clinic's|name|names|of|as"
    r"|by|where|who|i|i'm|we|we're|was|is|were|am|are|being|be|calling|call|called|from|with"
    r"|myself|ourselves|a|an|any|or|program|programme|agency|office|practice)\b){0,8}"
    r"[^\w.?!;,]+"
)
_NOT_NAMED = (
    r"[^\w.?!;,]{0,3}(?:was\s+|is\s+)?(?:not|never)\s+(?:mentioned|said|named|identified"
    r"|disclosed|revealed|stated)\b"
)


def _negations(forms: NameForms) -> tuple[re.Pattern[str], str | None]:
    """Where a log says the name was not said, as patterns for matching.blank_negations."""
    name = f"(?:{_name_alternation(*forms)})"
    return negation_patterns([_NOT_NAMING + _ABOUT_THE_NAME + name, rf"\b{name}{_NOT_NAMED}"])


def _fuzzy(text: pd.Series, keys: list[str], longest: int) -> pd.Series:
    """Near-miss spellings: score each distinct word n-gram once against the name's forms.
    `text` must have a unique index: it labels which text each word came from."""
    words = text.str.findall(_TOKEN).explode().dropna()
    is_specific = (~words.str.lower().isin(_GENERIC)).astype(int)
    words_by_text, specific_by_text = words.groupby(level=0), is_specific.groupby(level=0)
    grams, gram, specific = [], words, is_specific
    for size in range(1, longest + 1):
        if size > 1:  # extend each n-gram by the word size-1 places on, within the same text
            gram = gram + " " + words_by_text.shift(1 - size)
            specific = specific + specific_by_text.shift(1 - size)
        grams.append(
            pd.DataFrame(
                {
                    "start": words_by_text.cumcount(),
                    "size": size,
                    "gram": gram,
                    "specific": specific,
                }
            ).dropna()
        )
    ngrams = pd.concat(grams).rename_axis("row").reset_index()
    ngrams = ngrams[ngrams["specific"] > 0]
    codes, unique = pd.factorize(ngrams["gram"])
    scores = process.cdist(
        _gram_keys(pd.Series(unique, dtype="str")),
        keys,
        scorer=fuzz.ratio,
        score_cutoff=_FUZZY_THRESHOLD,
    )
    ngrams["score"] = np.max(scores, axis=1, initial=0)[codes]
    best = (
        ngrams[ngrams["score"] >= _FUZZY_THRESHOLD]
        .sort_values(["score", "size", "start"], ascending=[False, False, True])
        .drop_duplicates("row")
    )
    found = pd.Series(np.nan, index=text.index, dtype="str")
    for gram, rows in best.groupby("gram")["row"]:
        words_of = r"[\W_]+".join(map(re.escape, gram.split(" ")))
        span = re.compile(rf"(?<![^\W_])({words_of})(?![^\W_])")
        found[rows] = text[rows].str.extract(span, expand=False)
    return found


# Byte -> its lower-case form if an ASCII letter or digit, else 0 (dropped).
_KEPT_BYTE = lower_case_bytes(b"abcdefghijklmnopqrstuvwxyz0123456789", 0)


def _ascii_letters_and_digits(column: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """Each text's ASCII letters and digits, lower-cased, everything else left out: a lookup
    over the column's bytes turns the rest into NULs, which a literal replace then drops (a
    regex replace costs 15 times more; counting what each text keeps in numpy took 8 bytes of
    memory a byte). Every byte of a non-ASCII character is 0x80 or more, so such a character
    drops out whole."""
    letters = pc.replace_substring(mapped_strings(column, _KEPT_BYTE), "\x00", "")
    if column.null_count:
        letters = pc.if_else(pc.is_valid(column), letters, pa.scalar(None, pa.large_string()))
    return letters.to_pylist()


def _gram_keys(grams: pd.Series) -> list[str]:
    """Each n-gram lower-cased without its non-word characters and underscores, as the name's
    forms are keyed: ASCII ones by a byte lookup, the rest (a Unicode \\W is Python's to know)
    by Python's re."""
    strings = arrow_strings(grams)
    plain = np.asarray(pc.string_is_ascii(strings).to_numpy(zero_copy_only=False))
    keys = np.empty(len(grams), dtype=object)
    keys[plain] = _ascii_letters_and_digits(strings.filter(plain))
    if not plain.all():
        keys[~plain] = grams[~plain].str.lower().str.replace(_NOT_IN_KEY, "", regex=True).to_numpy()
    return keys.tolist()


def _may_hold_near_miss(text: pd.Series, keys: list[str]) -> pd.Series:
    """A cheap, sure pre-test for the n-gram search: False only where no word run can score
    _FUZZY_THRESHOLD against a key.

    A run's key is a substring of the text's letters and digits. If it scores t = 0.88 against
    key k (ratio = 2 LCS / total length), some window of the text k's length scores at least
    3 - 2/t = 0.727 against k, so fuzz.partial_ratio, which finds the best window, is at least
    that. Only text re2_reads is tested (its quotes, dashes and spaces are never part of a
    word), so lower-casing and letters are the n-gram search's own; and only keys
    of at most 64 characters, for which partial_ratio's alignment is exact.
    """
    may = pd.Series(True, index=text.index)
    if max(map(len, keys)) > 64:
        return may
    readable = re2_reads(text)  # quotes, dashes and spaces drop out with the punctuation
    if not readable.any():
        return may
    letters = _ascii_letters_and_digits(pa.array(text[readable].array))
    # With the floor as cutoff, rapidfuzz skips windows that cannot reach it: half the time.
    scores = process.cdist(
        letters,
        keys,
        scorer=fuzz.partial_ratio,
        score_cutoff=_NEAR_MISS_FLOOR,
        dtype=np.uint8,
        workers=-1,
    )
    may[readable] = scores.max(axis=1) >= _NEAR_MISS_FLOOR
    return may


def find_clinic_name(texts: pd.Series, name: str, aliases: Sequence[str] = ()) -> pd.Series:
    """Where each text names the clinic, the words that do (NA where none), however a transcript
    spells it, so a voicemail naming the clinic without consent can be quoted."""
    acronyms, names = _forms(name, aliases)
    if not acronyms and not names:
        return pd.Series(np.nan, index=texts.index, dtype="str")
    forms = (name, *aliases)
    return per_distinct(lambda text: _clinic_name(text, acronyms, names, forms), texts)


def clinic_name_forms(name: str, aliases: Sequence[str] = ()) -> NameForms | None:
    """The clinic's name as find_clinic_name finds it but for near misses, and each of its
    words that says which clinic alone ("Riverside" of "Riverside Psychology Clinic"): for
    masking, where even that says where a client is seen (name_patterns makes its patterns).
    None for a policy that names no clinic."""
    forms = (name, *aliases)
    words = [w for f in forms for w in re.findall(_TOKEN, f) if w.lower() not in _GENERIC]
    acronyms, names = _forms(name, [*aliases, *words])
    if not acronyms and not names:
        return None
    return acronyms, names


def _clinic_name(
    texts: pd.Series, acronyms: list[str], names: list[str], forms: Sequence[str]
) -> pd.Series:
    text = repair_text(texts)
    readable = re2_reads(text)
    text = blank_negations(text, *_negations((acronyms, names)), readable)
    found = extract(text, *name_patterns((acronyms, names)), readable=readable)
    fuzzy_keys = [key for key in names if len(key) >= _FUZZY_MIN_LENGTH]
    unnamed = found.isna() & text.notna()
    if fuzzy_keys and unnamed.any():
        unnamed[unnamed] = _may_hold_near_miss(text[unnamed], fuzzy_keys)
    if fuzzy_keys and unnamed.any():
        # One word more than the longest form, for a word the transcriber split in two.
        longest = 1 + max(len(re.findall(_TOKEN, form)) for form in forms)
        # Positions, not labels, so a repeated index label cannot mix two texts' words.
        candidates = text[unnamed].reset_index(drop=True)
        # In slices: every text becomes a few dozen n-grams, which a year of voicemails at
        # once would hold in memory many times over.
        matches = pd.concat(
            [
                _fuzzy(candidates[start : start + _FUZZY_SLICE], fuzzy_keys, longest)
                for start in range(0, len(candidates), _FUZZY_SLICE)
            ]
        )
        found[unnamed] = matches.to_numpy()
    return found
