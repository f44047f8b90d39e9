"""Phrase detection in messages and notes, returning the words that matched as evidence.

Each category is a list of phrase regexes written against normalised text (lower case, straight
quotes, ASCII hyphens) and compiled into one alternation. Rather than matching on a normalised
copy and mapping positions back, each pattern is made tolerant of what normalising would fold:
case (IGNORECASE), any whitespace (``\\s``), and every apostrophe, quote and dash variant, so the
match runs on the (mojibake-repaired) text itself and its span is the original wording.

Negations ("no message", "you won't be charged") are patterns of their own: they are blanked out
with a same-length filler before the category's phrases run, so they can never be evidence.
"""

from __future__ import annotations

import itertools
import os
import re
import re._compiler as _compiler  # one character class, to test characters on
import re._constants as _constants  # the parse tree of re._parser
import re._parser as _parser  # how phrase_problem reads a phrase: what it repeats
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from auditkit.columns import (
    arrow_strings,
    lower_case_bytes,
    mapped_strings,
    per_distinct,
    take_text,
)
from auditkit.parsing import repair_text

# --- tolerating what normalising would fold ----------------------------------------------------

# The variants of each ASCII character that normalised text folds onto it, one for one.
_FOLDS = {
    "'": "\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4`",
    '"': "\u201c\u201d\u201e\u201f\u2033",
    "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2212",
    " ": "\t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
}
# A pattern's literal quote or hyphen, outside a character class, matches any of its variants.
_TOLERANT = {
    plain: "[" + re.escape(plain + variants) + "]"
    for plain, variants in _FOLDS.items()
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


def _tolerant(pattern: str) -> str:
    return _PATTERN_TOKEN.sub(lambda m: _TOLERANT.get(m.group(), m.group()), pattern)


# --- building blocks -----------------------------------------------------------------------------

# Full names, or abbreviations with an optional dot (so a sentence's full stop is not taken).
_WEEKDAY = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
    r"|(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?)"
)
_MONTH = (
    r"(?:(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december)\b|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?)"
)
_CALENDAR_DATE = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\d{4}-\d{2}-\d{2}\b)"
)
# A weekday alone counts as a date ("by Friday"): it names one day, relative to the message.
_DATE = rf"(?:{_WEEKDAY}(?:,?\s+(?:the\s+)?{_CALENDAR_DATE})?|{_CALENDAR_DATE}|tomorrow|today)"
# "5PM", "5 p.m.", "11:00AM" and the policy's own "5:PM".
_TIME = (
    r"(?:\d{1,2}(?::\d{2})?\s*:?\s*[ap](?:\.\s?m\.|\s?m\b)|\d{1,2}:\d{2}\b|noon"
    r"|(?:the\s+)?end\s+of\s+(?:the\s+)?(?:business\s+)?day)"
)
_DEADLINE = rf"(?:{_DATE}(?:,?\s+(?:at\s+|by\s+)?{_TIME})?|{_TIME}(?:,?\s+(?:on\s+)?{_DATE})?)"
# A date with, optionally, its time: "Tuesday 3/14 at 2pm".
_WHEN = rf"{_DATE}(?:,?\s+(?:at\s+|@\s*)?{_TIME})?"
_PHONE_NUMBER = r"(?<!\d)(?:\(?\d{3}\)?(?:\s|\.|-)?)?\d{3}(?:\s|\.|-)\d{4}\b"
_PRONOUN = r"(?:she|he|they)"
_OBJECT = r"(?:her|him|them)"
_POSSESSIVE = r"(?:her|his|their)"
# Put before each word of a client's name by privacy.client_marker, so that a phrase can tell
# the name from any other word. Python's \s matches it (as RE2's translation does), so to every
# phrase that separates words with \s, as the built-in ones do, it is one more space.
NAME_MARK = "\x1f"
# A client's name where it is marked: "Eli", "Maria Lopez", "Mary-Jo", "O'Brien". Its
# apostrophes leave out U+02BC, which \w reads already: two ways to read one is one too many.
_NAME_APOSTROPHE = "[" + "".join(c for c in "'" + _FOLDS["'"] if not c.isalnum()) + "]"
_NAME_WORD = rf"{NAME_MARK}\w+(?:{_NAME_APOSTROPHE}\w+)*"
_NAMED = rf"{_NAME_WORD}(?:(?:\s+|-){_NAME_WORD})*"
# Whom an inquiry's reply may confirm or tell about, as a pronoun or by name (where marked).
_SUBJECT = rf"(?:\b{_PRONOUN}|{_NAMED})"
_SUBJECT_OBJECT = rf"(?:\b{_OBJECT}\b|{_NAMED})"
_SUBJECT_POSSESSIVE = rf"(?:\b{_POSSESSIVE}|{_NAMED}'s?)"
_CLIENT = r"(?:client|pt|patient|cl)"
_VISIT = r"(?:appointment|appoint|appt|session|visit)s?\b"
_WORD = r"\w+(?:-\w+)*"  # "late", "missed-session"
_NEGATION = r"(?:won't|will\s+not|wouldn't|not|never|don't|do\s+not|doesn't|isn't|aren't)"
# "I'm not able to", "we can't", "I am unable to": what an NCND statement starts with.
_CANNOT = r"(?:cannot|can't|can\s+not|unable\s+to|(?:not|n't)\s+(?:able|allowed|permitted)\s+to)"
# The span of a sentence a phrase may reach across: no sentence end, no blanked negation.
_SPAN = r"[^.?!;\x1a]"

# --- categories ----------------------------------------------------------------------------------

_FEE_NOTICE = [
    # "you'll be charged for the missed session", "you will be billed"
    r"(?:you(?:'ll|\s+will|\s+would|'d)\s+)?(?:be|get|been|being)\s+(?:charged|billed)\b"
    r"(?:\s+(?:for|a)\s+(?:(?:the|this|that|your|a|today's)\s+)?(?:(?:missed|no-show|late)\s+)?"
    r"(?:session|appointment|appt|visit|fee)\b)?",
    r"\b(?:late|no-show|no\s+show|missed(?:\s+|-)(?:session|appointment|appt|visit)"
    r"|cancell?ation|full\s+session|session)\s+(?:fee|charge)s?\b",
    r"\bthere(?:\s+is|'s|\s+will\s+be|\s+would\s+be)\s+a\s+(?:\w+\s+){0,2}?(?:charge|fee)\b",
    # "paying for two sessions" (the policy's own script types it "paying ofr two sessions")
    r"\bpay(?:ing)?\s+(?:\w+\s+)?(?:two|2|both)\s+sessions\b",
    # "we charge a fee for the missed appointment", "I'll have to charge the missed session"
    r"\b(?:fee|charge|bill)\s+(?:you\s+)?(?:for\s+)?(?:(?:the|this|that|your|a|today's)\s+)?"
    r"(?:missed|no-show|no\s+show)\s+(?:session|appointment|appt|visit)\b",
    # "missed sessions are charged", "the missed session is billed at the full rate"
    r"\b(?:session|appointment|appt|visit)s?\s+(?:is|are|will\s+be|would\s+be|gets?)\s+"
    r"(?:charged|billed)\b",
    r"\b(?:charge|bill)\s+(?:you|your\s+(?:account|card|insurance))\b",
    # "missed visits are billable", "a fee applies for missed visits"
    r"\b(?:is|are|will\s+be|would\s+be)\s+(?:billable|chargeable)\b",
    r"\b(?:fee|charge)s?\s+(?:(?:still|will|would|may)\s+){0,2}(?:apply|applies|be\s+applied)\b",
]
_FEE_NEGATIONS = [
    # "you won't be charged", "I will not charge you", "there isn't a fee"
    rf"\b{_NEGATION}\s+(?:\w+\s+){{0,2}}?(?:charg|bill|fee)\w*",
    rf"\bno\s+(?:{_WORD}\s+){{0,2}}?(?:fee|charge)s?\b",
    rf"\bwaiv(?:e|ed|es|ing)\s+(?:(?:the|your|this|that)\s+)?(?:{_WORD}\s+)?(?:fee|charge)s?\b",
    r"\b(?:fee|charge)s?\s+(?:(?:was|is|will\s+be|has\s+been)\s+)?waived\b",
]

_CLOSURE_WARNING = [
    r"\b(?:close|closing)\s+(?:out\s+)?(?:your|her|his|their|the)\s+(?:file|case|chart|record)\b",
    r"\b(?:(?:your|the)\s+)?(?:file|case|chart)\s+(?:will|would|may|might|is\s+going\s+to)\s+"
    r"(?:need\s+to\s+)?(?:be|get)\s+closed\b",
    r"\b(?:assume\s+(?:that\s+)?you(?:'re|\s+are)\s+)?no\s+longer\s+(?:be\s+)?interested\s+in\s+"
    r"(?:treatment|therapy|services|counsel+ing|coming|continuing)\b",
    r"\b(?:(?:we|i)(?:'ll|\s+will)\s+(?:need|have)\s+to\s+)?(?:end|stop|terminate|discontinue)\s+"
    # not "sessions": "we'll stop sessions over the holidays" is a break, not a closure
    r"(?:(?:your|our|the)\s+)?(?:treatment|therapy|services|work\s+together)\b",
    r"\b(?:discharge|terminate|drop|remove)\s+(?:you|him|her|them)\b"
    r"(?:\s+(?:from|off)\s+(?:(?:the|our|my)\s+)?\w+)?",
    r"\b(?:be|get|being)\s+discharged\b",
    r"\btreatment\s+(?:will|would)\s+(?:need\s+to\s+)?"
    r"(?:end|be\s+(?:ended|terminated|discontinued))\b",
]
_CLOSURE_NEGATIONS = [
    # "we won't close your file", "not going to end treatment"; a bare "don't" is left alone,
    # since "if I don't hear from you, I'll close your file" IS the warning.
    r"\b(?:won't|will\s+not|wouldn't|not|never|don't\s+want\s+to|no\s+need\s+to)\s+"
    r"(?:\w+\s+){0,2}?(?:close|closing|closed|end|ending|stop|terminate|terminating|discharge"
    r"|discharging|discharged|remove)\b",
]

_CONFIRM_BY = [
    r"\b(?:confirm|conf)\b" + _SPAN + r"{0,60}?\bby\s+" + _DEADLINE,
    # "call me by 11/14 at 5 PM to confirm", "let me know by Friday"
    r"\b(?:call|phone|contact|reach|text|email|hear\s+from|get\s+back\s+to|let\s+(?:me|us)\s+know"
    r"|respond|reply)\b" + _SPAN + r"{0,40}?\bby\s+" + _DEADLINE + r"(?:\s+to\s+confirm\b)?",
]

_MESSAGE_LEFT = [
    # "could you ask her to call me", "please have him call me back"
    r"\b(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:have|ask|tell|get|remind)\s+"
    rf"{_SUBJECT_OBJECT}\s+(?:to\s+)?"
    r"(?:call|ring|phone|text|contact|get\s+back|return\s+my\s+call)\b"
    r"(?:\s+(?:me|us))?(?:\s+back)?",
    r"\b(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|let|ask|have|give|remind|pass)\s+"
    rf"{_SUBJECT_OBJECT}\b(?:\s+know\b)?",
    rf"\blet\s+{_SUBJECT_OBJECT}\s+know\b",
    rf"\btell\s+{_SUBJECT_OBJECT}\s+(?:that|i|we|to|about|it's|i'm|my|the)\b",
    rf"\btell\s+{_SUBJECT_OBJECT}\s+\w+(?:\s+\w+)?\s+called\b",
    r"\b(?:leave|leaving|left|take|taking)\s+(?:a|my|the|this|that)\s+(?:message|msg|number)\b",
    rf"\b(?:pass|give)\s+(?:it|this|that|{_SUBJECT_OBJECT})\s+"
    r"(?:on|along|the\s+message|my\s+number)\b",
    r"\b(?:my|our|the)\s+(?:(?:phone|cell|direct|office|call\s*back)\s+)?number\s+is\b"
    rf"(?:\s+{_PHONE_NUMBER})?",
    rf"\bcall\s+(?:(?:me|us)\s+)?back\s+(?:at|on)\b(?:\s+{_PHONE_NUMBER})?",
    r"\breach\s+(?:me|us)\s+at\b",
    # a bare number, with the (up to two) words before it: evidence of "[phone]" alone, once
    # masked, would not show a reviewer what was said
    rf"(?:\b[a-z']+[ \t]+){{0,2}}{_PHONE_NUMBER}",
]
_MESSAGE_NEGATIONS = [
    # the policy's own "No, no message" and "no need to take a message"
    r"\bno(?:\s+need\s+to\s+(?:leave|take)\s+a)?\s+message\b",
    r"\b(?:won't|will\s+not|not|don't|do\s+not|can't|cannot)\s+(?:be\s+)?"
    r"(?:leave|leaving|take|taking|give|giving)\s+(?:(?:a|any|my)\s+)?(?:message|number)\b",
]

_CALLER_DISCLOSURE = [
    r"\bthis\s+is\s+(?:her|his|their|your)\s+(?:therapist|counsel+or|clinician|doctor"
    r"|psychologist|provider|case\s+manager)\b",
    r"\b(?:i'm|i\s+am|this\s+is|it's|my\s+name\s+is)\s+(?:dr\b\.?|doctor\b)(?:\s*\w+)?",
    # "this is Sam from Riverside" (but not the policy's "I can't say who this is")
    r"\b(?:this\s+is|my\s+name\s+is)\s+\w+(?:\s+\w+)?\s+(?:from|with)\s+(?:the\s+)?\w+",
    r"\bcalling\s+(?:you\s+)?(?:from|on\s+behalf\s+of)\s+(?:the\s+)?\w+",
    rf"\b(?:about|regarding|re)\s+{_SUBJECT_POSSESSIVE}\s+(?:\w+\s+)?"
    r"(?:appointment|appt|session|therapy|treatment|visit|care)s?\b",
    rf"{_SUBJECT_POSSESSIVE}\s+(?:\w+\s+)?(?:appointment|appt|session|therapy|therapist"
    r"|treatment|counsel+or|clinician|doctor)s?\b",
    r"\b(?:therap(?:y|ist|ists|ies|eutic)|counsel+(?:ing|or|ors)|psycholog\w*|psychiatr\w*"
    r"|mental\s+health|clinic|appointments?|appts?|sessions?|treatment|dbt)\b",
]

_NCND_STATEMENT = [
    rf"\b{_CANNOT}\s+(?:confirm|deny|acknowledge)\s+(?:or|nor)\s+(?:deny|confirm)\b",
    r"\bneither\s+confirm\s+nor\s+deny\b",
    # "cannot confirm that someone is or is not a client (in the clinic)"
    rf"\b{_CANNOT}\s+(?:confirm|deny|say|disclose|tell\s+you|share|verify|acknowledge)\s+"
    r"(?:whether|if|that)\s+(?:or\s+not\s+)?(?:\w+\s+){0,4}?\w+(?:'s|'re|\s+(?:is|are|was|were))"
    r"(?:\s+or\s+(?:(?:is|are)\s+)?not|\s+or\s+(?:isn't|aren't)|\s+not|n't)?\s+"
    r"(?:(?:a|an|our|one\s+of\s+our)\s+(?:client|patient)s?|(?:in|receiving)\s+"
    r"(?:treatment|therapy|services)|seen\s+here)"
    r"(?:\s+(?:here|with\s+us|(?:in|at|of)\s+(?:the|this|our)\s+(?:clinic|practice|center)))?",
    # "I can't discuss who is or isn't a client"
    rf"\b{_CANNOT}\s+(?:\w+\s+){{0,5}}?(?:who|whether\s+(?:someone|anyone)|if\s+(?:someone|anyone))"
    r"\s+is\s+or\s+(?:is\s+not|isn't)\s+(?:a\s+)?(?:client|patient)s?\b",
]

_CONFIRM_OR_DENY = [
    # "Yes, she is (a client here)", "No, he isn't", "Yes, Eli is" (his name marked)
    rf"\b(?:yes|yeah|yep|yup|no|nope),?\s+{_SUBJECT}\s+(?:is|isn't|does|doesn't|was|wasn't|did"
    r"|didn't)\b(?:\s+(?:a|an|our)\s+(?:client|patient))?(?:\s+here)?",
    # "she's not a client", "Maria is one of our clients"; "this is a client matter" is not
    r"\b(?!(?:this|that|it|there|what|who|which|someone|anyone)\b)\w+"
    r"(?:'s|\s+(?:is|was|are|were|isn't|wasn't|aren't|weren't))(?:\s+not)?\s+"
    r"(?:a|an|one\s+of\s+(?:our|my|the)|our|my)\s+(?:(?:current|former|new)\s+)?"
    r"(?:client|patient)s?\b(?:\s+(?:here|with\s+us))?",
    rf"{_SUBJECT}(?:\s+(?:comes?|came|goes|went|attends?|attended|sees?|saw|is\s+seeing"
    r"|was\s+seeing|has\s+been\s+(?:coming|seeing|attending))|'s\s+(?:seeing|been\s+coming))\s+"
    r"(?:here|us|to\s+(?:(?:the|our|this)\s+)?(?:clinic|sessions?|appointments?|therapy|us)"
    r"|(?:(?:a|her|his|their|one\s+of\s+our|our)\s+)(?:therapist|counsel+or|clinician"
    r"|psychologist|doctor)s?|dr\b\.?(?:\s+\w+)?)",
    rf"{_SUBJECT}(?:\s+(?:was|were|has\s+been|have\s+been)|'s\s+been)\s+"
    r"(?:here|in\s+(?:here|today|the\s+clinic))(?:\s+(?:last|this)\s+\w+"
    r"|\s+(?:yesterday|today|earlier|recently))?",
    rf"{_SUBJECT}\s+(?:missed|skipped|no-showed|cancell?ed|rescheduled"
    r"|(?:didn't|did\s+not)\s+(?:show|come|make\s+it))\b"
    rf"(?:\s+(?:{_POSSESSIVE}|the|today's|this)\s+(?:\w+\s+)?{_VISIT})?",
    r"\b(?:we\s+)?(?:don't|do\s+not|doesn't|does\s+not)\s+have\s+(?:anyone|anybody|someone"
    r"|a\s+(?:client|patient)|any\s+(?:client|patient)s?)\s+(?:by|with|named|called|under)\b"
    r"(?:\s+(?:that|this)\s+name\b)?",
    r"\bthere(?:'s|\s+is)\s+no\s+(?:one|client|patient)\s+(?:here\s+)?(?:by|with|named|called)\b"
    r"(?:\s+(?:that|this)\s+name\b)?",
    rf"\bnever\s+heard\s+of\s+{_SUBJECT_OBJECT}",
]

_CLIENT_DISCLOSURE = [
    rf"{_SUBJECT}(?:'s|'re|\s+is|\s+are|\s+has\s+been|\s+have\s+been)\s+(?:been\s+)?"
    r"(?:doing|making|getting|improving|struggling|progressing|working\s+on|feeling|coping"
    r"|in\s+(?:treatment|therapy|crisis))\b"
    r"(?:\s+(?:well|better|worse|great|fine|good|okay|ok|badly|poorly|progress))?",
    rf"{_SUBJECT_POSSESSIVE}\s+(?:\w+\s+)?(?:treatment|therapy|sessions?|appointments?|appt"
    r"|diagnos[ie]s|medications?|meds|progress|therapist|counsel+or|clinician|attendance|symptoms"
    r"|condition|records?|chart|file|care|mental\s+health)\b",
    r"\b(?:depress(?:ion|ed|ive)|anxiety|anxious|ptsd|bipolar|adhd|ocd|schizophreni\w*"
    r"|psychos[ie]s|psychotic|borderline|bpd|eating\s+disorder|anorexi\w*|bulimi\w*|suicid\w*"
    r"|self-harm\w*|substance\s+(?:use|abuse)|addiction|alcoholi\w*|panic\s+attacks?|trauma\w*"
    r"|medications?|meds|prescri(?:bed|ption)|diagnos\w+|dbt)\b",
    # attendance: "he has missed three sessions", "she comes every week"
    rf"{_SUBJECT}(?:\s+(?:missed|attended|attends|skipped|comes\s+(?:in|every|weekly)"
    r"|came\s+in|hasn't\s+been\s+(?:coming|attending)|has\s+(?:missed|been\s+(?:coming|attending))"
    r"|(?:didn't|did\s+not)\s+(?:show|come))|'s\s+(?:missed|been\s+(?:coming|attending)))\b"
    rf"(?:\s+(?:\w+\s+){{0,2}}?{_VISIT})?",
]

_COACHING_CONTENT = [
    r"\bself(?:-|\s+)harm(?:\s+urges?)?\b",
    # a crisis worked through on the phone: "we safety planned", "suicidal ideation"
    r"\bsafety\s+plan(?:s|ned|ning)?\b",
    r"\bsuicidal\s+(?:ideation|thoughts|urges)\b",
    r"\bcoach(?:ing|ed)?\b",
    r"\bskills?\s+(?:practice|use|coaching|work|training)\b",
    r"\b(?:practi[cs]e|practi[cs]ed|practi[cs]ing|use|using|used|try|trying|tried)\s+"
    r"(?:(?:your|a|the|some|those|these|that|this|my|her|his)\s+)?(?:\w+\s+)?skills?\b",
    # "urges", "the urge to cut" -- but not "I'd urge you to call"
    r"\burges\b|\burge\s+(?:to|surfing)\b",
    r"\b(?:distress\s+tolerance|emotion(?:al)?\s+regulation|interpersonal\s+effectiveness"
    r"|opposite\s+action|diary\s+cards?|wise\s+mind|radical\s+acceptance|chain\s+analysis"
    r"|check\s+the\s+facts|mindfulness|self-sooth\w*|paced\s+breathing|crisis\s+survival"
    r"|half-smil\w*|willing\s+hands)\b",
    # DBT acronyms; PLEASE/GIVE/FAST/IMPROVE are ordinary words, so only with "skill"
    r"\b(?:tipp|dear\s*-?\s*man)\b",
    r"\b(?:tip|please|give|fast|improve|accepts)\s+skills?\b",
]

_NOTE_NO_SHOW = [
    rf"\b(?:{_CLIENT}\s+)?(?:did\s+not|didn't|failed\s+to|failure\s+to)\s+"
    r"(?:show|attend|come|arrive)(?:\s+(?:up|in))?\b"
    r"(?:\s+(?:(?:for|to)\s+)?(?:(?:her|his|their|the|today's|scheduled|this|individual|group|an?)"
    rf"\s+){{0,3}}(?:{_VISIT}|therapy\b))?",
    # "Pt FTA", "NS for appt", "DNA", "no-show", "NCNS" (no call, no show)
    rf"\b(?:{_CLIENT}\s+(?:was\s+(?:a\s+)?)?)?(?:no(?:\s+|-)?show(?:ed)?|ncns|fta|dna|ns)\b"
    r"(?:\s+(?:for|to)\s+(?:(?:her|his|their|the|today's|scheduled|this|individual|group|an?)\s+)"
    rf"{{0,3}}{_VISIT})?",
    rf"\b(?:{_CLIENT}\s+)?missed\s+(?:(?:her|his|their|the|today's|scheduled|this|individual"
    rf"|group|an?|weekly)\s+){{0,3}}{_VISIT}",
    # "Client absent from 1pm session", "pt not present for appt" (not "SI absent")
    rf"\b(?:{_CLIENT}\s+(?:was\s+)?)?(?:absent|not\s+present)\s+(?:from|for|at)\s+"
    rf"(?:[\w:'-]+\s+){{0,3}}?(?:{_VISIT}|therapy\b)",
]

_NOTE_OUTREACH = [
    # "Therapist called client and left a message", "T called pt, LVM"
    r"\b(?:(?:therapist|t|clinician|writer|i|we|staff|intern|counsel+or)\s+)?"
    r"(?:called|phoned|rang|telephoned|texted|emailed|contacted|reached\s+out\s+to"
    r"|(?:attempted|tried)\s+to\s+(?:call|reach|contact)|followed\s+up\s+with"
    r"|left\s+(?:an?\s+)?(?:voice\s*mail|vm|message|msg)\s+for)\s+"
    rf"(?:the\s+)?(?:{_CLIENT}|him|her|them)\b"
    r"(?:,?\s*(?:and\s+)?(?:left\s+(?:an?\s+)?(?:voice\s*mail|vm|message|msg)|lvm|lm"
    r"|no\s+answer)\b)?",
    r"\b(?:lvm|lm|lmtcb|lmom|vm\s+left|left\s+(?:an?\s+)?(?:detailed\s+)?"
    r"(?:voice\s*mail|vm|message|msg))\b",
    r"\bcalled,?\s+(?:no\s+answer|n/a|(?:vm|voicemail|mailbox)\s+(?:was\s+)?full)",
    r"\boutreach\s+(?:call|attempt|message)\b",
]

_NOTE_FEE = [
    r"\blf\b",
    # "informed client of late fee", the policy's "informed client in message of late fee"
    rf"\b(?:informed|told|reminded|advised|notified)\s+(?:the\s+)?(?:{_CLIENT}|him|her|them)\s+"
    r"(?:(?:in|via|by)\s+(?:the\s+)?(?:message|vm|voicemail)\s+)?(?:of|about|re:?)\s+"
    rf"(?:the\s+)?(?:{_WORD}\s+){{0,2}}?(?:fee|charge)s?\b(?:\s+(?:charged|applied|assessed))?",
    r"\b(?:fee|charge)s?\s+(?:(?:was|were|has\s+been|will\s+be)\s+)?"
    r"(?:charged|applied|assessed|billed|posted|added)\b",
    r"\b(?:charged|billed)\s+(?:for\s+(?:(?:the|this|that)\s+)?(?:missed|no-show|no\s+show)\s+"
    r"(?:session|appointment|appt|visit)|(?:(?:a|the)\s+)?(?:late|no-show|missed(?:\s+|-)session"
    r"|cancellation|full)\s+fee)\b",
    *_FEE_NOTICE,
]

_NOTE_NEXT_APPOINTMENT = [
    # "Next appoint is on 3/14", "next appt 03/14/2026", "f/u scheduled for Tuesday 3/14"
    r"\b(?:(?:next|upcoming)\s+(?:appoint(?:ment)?|appt|session|sess|visit)s?|f/u|rtc"
    r"|follow(?:\s+|-)?up(?:\s+(?:appoint(?:ment)?|appt|session|visit))?)"
    r"(?:(?:\s|:|,|-)+(?:is|will|be|was|has|been|scheduled|rescheduled|set|booked|confirmed"
    rf"|planned|on|for|at|the|this|next|coming))*(?:\s|:|,|-)+{_WHEN}",
    r"\b(?:re)?scheduled\s+(?:(?:the|her|his|their)\s+)?(?:next\s+)?"
    rf"(?:appoint(?:ment)?|appt|session|f/u)\s+(?:for|on)\s+{_WHEN}",
]

# The asker's own words, as a log reports them, up to the clause's end: "Father said he knows
# she has been coming here", "Caller asked whether his wife is in DBT here", "roommate asked if
# this was about her appointment". Not the clinic's reply, which follows. Who, not he or she:
# "she said she'd be in Tuesday" may be the clinician telling what the client said.
_ASKER_SAID = [
    r"\b(?:the\s+)?(?:caller|father|mother|dad|mom|parent|guardian|husband|wife|partner|spouse"
    r"|boyfriend|girlfriend|friend|roommate|sister|brother|son|daughter|aunt|uncle|grandmother"
    r"|grandfather|grandma|grandpa|cousin|employer|boss|teacher|neighbou?r|someone|person"
    r"|relative|family\s+member)\s+(?:asked|said|says|asks|wanted\s+to\s+know|wondered|claimed"
    r"|stated|mentioned|wrote|insisted|explained|told\s+(?:me|us))\b[^.?!;,]*",
]
# "did not identify the clinic", "without mentioning where I was calling from"
_NOT_DISCLOSED = [
    r"\b(?:did\s+not|didn't|without|never|not)\s+(?:\w+\s+){0,2}?(?:identify|identifying"
    r"|identified|mention|mentioning|mentioned|say|saying|said|name|naming|named|disclose"
    r"|disclosing|disclosed|reveal|revealing|revealed)\b[^.?!;,]*",
]
_COACHING_NEGATIONS = [
    # "I am not approved for phone coaching", "we can't do coaching by phone"
    r"\b(?:not|n't|no|cannot|unable\s+to)\s+(?:\w+\s+){0,3}?coach\w*",
    # asked for, not given: "client asked for coaching"
    r"\b(?:asked|requested|wanted|asking|requesting)\s+(?:for\s+|about\s+)?(?:\w+\s+){0,2}?"
    r"coach\w*",
]

# Each category: (phrases, negations blanked out before the phrases run).
_CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "fee_notice": (_FEE_NOTICE, _FEE_NEGATIONS),
    "closure_warning": (_CLOSURE_WARNING, _CLOSURE_NEGATIONS),
    "confirm_by": (_CONFIRM_BY, []),
    "message_left": (_MESSAGE_LEFT, [*_MESSAGE_NEGATIONS, *_ASKER_SAID]),
    "caller_disclosure": (_CALLER_DISCLOSURE, [*_ASKER_SAID, *_NOT_DISCLOSED]),
    # An NCND statement mentions "is or is not a client": it is never a confirmation.
    "confirm_or_deny": (_CONFIRM_OR_DENY, [*_NCND_STATEMENT, *_ASKER_SAID]),
    "ncnd_statement": (_NCND_STATEMENT, []),
    "client_disclosure": (_CLIENT_DISCLOSURE, [*_NCND_STATEMENT, *_ASKER_SAID]),
    "coaching_content": (_COACHING_CONTENT, _COACHING_NEGATIONS),
    "note_no_show": (_NOTE_NO_SHOW, []),
    "note_outreach": (_NOTE_OUTREACH, []),
    "note_fee": (_NOTE_FEE, _FEE_NEGATIONS),
    "note_next_appointment": (_NOTE_NEXT_APPOINTMENT, []),
    # Notes state the confirm-by deadline in the same words messages do.
    "note_confirm_by": (_CONFIRM_BY, []),
    # Linking an unlinked note to a no-show needs exactly the no-show phrasings.
    "note_missed_session": (_NOTE_NO_SHOW, []),
}

CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES)


def phrase_problem(phrase: str) -> str | None:
    """What makes `phrase` (an extra regex for a category) unusable, in words that follow
    "which", or None if it can be used. Phrases are joined into one pattern, quoted as evidence,
    and run on Python's re wherever RE2 can't read a text, so beyond compiling a phrase must
    match at least one character, keep its flags and group numbers to itself, and have one way
    only to match a text inside a repeat: on some texts Python would backtrack for hours over
    the others."""
    try:
        re.compile(phrase)
        parsed = _parser.parse(phrase)
    except re.error as err:
        return f"is not a valid regular expression: {err}"
    if re.search(r"\\[1-9]", re.sub(r"\[\^?\]?(?:\\.|[^\]\\])*\]|\\\\", "", phrase)):
        return (
            "refers back to a group by its number, which changes when the phrases are joined "
            "into one pattern; name the group, as in (?P<word>\\w+) (?P=word)"
        )
    try:
        re.compile(f"(x|(?:{_tolerant(phrase)}))")
    except re.error as err:
        if not err.msg.startswith("global flags"):
            return f"cannot be joined with the other phrases into one pattern: {err.msg}"
        return (
            "sets a flag such as (?s) for the whole pattern, which a phrase joined with the "
            "others cannot; set it for a part, as in (?s:...), or leave it out (case never matters)"
        )
    if parsed.getwidth()[0] == 0:
        return (
            "can match without any characters, so a finding would quote nothing; "
            "a phrase must match at least one character"
        )
    return _slow_backtracking(_parser.parse(_tolerant(phrase)), re.IGNORECASE | re.UNICODE)


_AMBIGUOUS = (
    "can match the same text in more than one way inside a repeat, as (a|aa)* or (\\w+\\s?)* "
    "do, which on some texts keeps Python's regex engine busy for hours; make the repeated part "
    "unambiguous (\\w+(?:\\s+\\w+)*) or use one character class ([\\w\\s]*)"
)
_TANGLED = (
    "is too long, or repeats too many overlapping parts, to check quickly that Python's regex "
    "engine cannot get stuck on it; split it into several phrases"
)
# Past these a phrase is refused unchecked: positions (characters and classes to match) in one
# automaton, and pairs of steps weighed in its product. Every built-in phrase fits.
_MAX_POSITIONS = 2000
_MAX_STEPS = 300_000
# Characters standing in for all of Unicode when asking whether two classes share one: ASCII,
# and a letter, digit, space and quote of other scripts, which \w, \d, \s or [^...] may meet.
_SAMPLES = {*map(chr, range(128)), "é", "ж", "٣", "\u00a0", "\u2003", "\u2019"}
# A step to a position: the position, which way of the phrase's leads there (a sequence or a
# repeat linking the two), and the atomic groups and possessive repeats that way is inside.
_Step = tuple[int, int, frozenset[int]]
# A part's first and last positions, each with its ways (1, or 2 for more) to be reached from
# the part's start or to reach its end, and its ways to match nothing (0, 1 or 2).
_Ends = tuple[dict[int, int], dict[int, int], int]
# Two paths through the automaton: at positions p and q, and the atomic group both entered on
# one character and are still in (-1: none), whose one match they then take together.
_State = tuple[int, int, int]


def _glushkov(
    items: Sequence[tuple[Any, Any]], flags: int
) -> tuple[list[int], list[list[_Step]], list[frozenset[int]], list[tuple[Any, int]]] | None:
    """The Glushkov automaton of a parsed phrase, or None past _MAX_POSITIONS: each position's
    characters (bits over samples; position 0 is the start), the steps from each position to
    those that may follow it, the atomic groups and possessive repeats each position is in, and
    the parts re first matches by backtracking on their own (look-arounds, atomic groups,
    possessive repeats). A step is kept once per way re can take it, twice at most: in (a+)+
    both repeats lead from a back to a, and in (?:a(?:|))+ two empty choices do. A repeat of at
    most n > 1 counts as unbounded, which keeps the automaton small and at worst refuses a
    phrase that is only polynomially slow."""
    atoms: list[tuple[Any, int]] = [(None, flags)]
    steps: list[list[_Step]] = [[]]
    units: list[frozenset[int]] = [frozenset()]
    bodies: list[tuple[Any, int]] = []
    parts = itertools.count()

    def times(ways: dict[int, int], n: int) -> dict[int, int]:
        return {p: min(w * n, 2) for p, w in ways.items() if n}

    def link(last: dict[int, int], first: dict[int, int], inside: frozenset[int]) -> None:
        part = (next(parts), next(parts))
        for p, w in last.items():
            steps[p] += [(q, i, inside) for q, v in first.items() for i in part[: w * v]]

    def walk(items: Sequence[tuple[Any, Any]], flags: int, inside: frozenset[int]) -> _Ends:
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        empty = 1
        for op, av in items:
            starts, stops, skips = part(op, av, flags, inside)
            link(last, starts, inside)
            first |= times(starts, empty)
            last = times(last, skips) | stops
            empty = min(empty * skips, 2)
        return first, last, empty

    def part(op: Any, av: Any, flags: int, inside: frozenset[int]) -> _Ends:
        if op is _constants.GROUPREF:  # (?P=name): taken to be any one character
            op, av, flags = _constants.ANY, None, flags | re.DOTALL
        if op in (_constants.LITERAL, _constants.NOT_LITERAL, _constants.ANY, _constants.IN):
            atoms.append(((op, av), flags))
            steps.append([])
            units.append(inside)
            return {len(atoms) - 1: 1}, {len(atoms) - 1: 1}, 0
        if op is _constants.SUBPATTERN:
            if av[1] & _parser.TYPE_FLAGS:  # (?a:...) in place of (?u)
                flags &= ~_parser.TYPE_FLAGS
            return walk(av[3], (flags | av[1]) & ~av[2], inside)
        if op in (_constants.BRANCH, _constants.GROUPREF_EXISTS):
            choices = av[1] if op is _constants.BRANCH else av[1:]
            ends = [walk(choice or [], flags, inside) for choice in choices]
            first = {p: w for starts, _, _ in ends for p, w in starts.items()}
            last = {p: w for _, stops, _ in ends for p, w in stops.items()}
            return first, last, min(sum(skips for _, _, skips in ends), 2)
        if op in (_constants.ASSERT, _constants.ASSERT_NOT):
            bodies.append((av[1], flags))
            return {}, {}, 1
        if op in (_constants.ATOMIC_GROUP, _constants.POSSESSIVE_REPEAT):
            body = av if op is _constants.ATOMIC_GROUP else [(_constants.MAX_REPEAT, av)]
            bodies.append((body, flags))
            starts, stops, skips = walk(body, flags, inside | {next(parts)})
            return dict.fromkeys(starts, 1), dict.fromkeys(stops, 1), min(skips, 1)  # one match
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and av[1] > 0:
            first, last, empty = walk(av[2], flags, inside)
            if av[1] > 1:  # re tries no second empty round: it would not move
                link(last, first, inside)
            return first, last, min(empty + (av[0] == 0), 2)  # no round, or an empty one
        return {}, {}, 1  # an anchor, or a part repeated at most 0 times

    first, _, _ = walk(items, flags, frozenset())
    link({0: 1}, first, frozenset())
    if len(atoms) > _MAX_POSITIONS + 1:
        return None
    # Samples: also each character the phrase names, its neighbours (where [^a-c] starts) and
    # their case forms, so two positions that share a character share a sample.
    named = [a for (op, av), _ in atoms[1:] for a in (av if op is _constants.IN else [(op, av)])]
    codes = {c for op, av in named if op is _constants.RANGE for c in av}
    codes |= {av for op, av in named if op in (_constants.LITERAL, _constants.NOT_LITERAL)}
    near = {chr(n) for c in codes for n in (c - 1, c, c + 1) if 0 <= n <= 0x10FFFF}
    samples = [*{*_SAMPLES, *near, *(s.swapcase() for s in near if len(s.swapcase()) == 1)}]
    labels = [0]
    for atom, atom_flags in atoms[1:]:
        pattern = _compiler.compile(_parser.SubPattern(_parser.State(), [atom]), atom_flags)
        labels.append(sum(1 << i for i, s in enumerate(samples) if pattern.fullmatch(s)))
    return labels, steps, units, bodies


def _components(
    graph: Mapping[_State, list[tuple[_State, bool]]], start: _State
) -> dict[_State, _State]:
    """Each state's strongly connected component (named by one of its states), by Tarjan's
    algorithm without recursion; every state is reachable from `start`."""
    order, low, component = {start: 0}, {start: 0}, {}
    stack, path = [start], [(start, iter(graph[start]))]
    while path:
        state, successors = path[-1]
        for successor, _ in successors:
            if successor not in order:
                order[successor] = low[successor] = len(order)
                stack.append(successor)
                path.append((successor, iter(graph[successor])))
                break
            if successor not in component:  # on the stack: in this component
                low[state] = min(low[state], order[successor])
        else:
            path.pop()
            if path:
                low[path[-1][0]] = min(low[path[-1][0]], low[state])
            if low[state] == order[state]:
                while (member := stack.pop()) != state:
                    component[member] = state
                component[state] = state
    return component


def _slow_backtracking(items: Sequence[tuple[Any, Any]], flags: int) -> str | None:
    """Why re could backtrack exponentially on a parsed phrase, in words that follow "which",
    or None. It can iff two different paths through the phrase's Glushkov automaton lead from a
    position back to itself reading the same text (exponential degree of ambiguity: Weideman,
    van der Merwe, Berglund and Watson 2016): a match that fails retries every choice between
    them, at every turn. In the automaton's product with itself, that is a pair (p, p) in one
    strongly connected component with a step on which the two paths part. Any state may fail:
    re.search tries every start on texts that do not match."""
    automaton = _glushkov(items, flags)
    if automaton is None:
        return _TANGLED
    labels, steps, units, bodies = automaton
    # The product, from two paths at the start: each step says whether the two paths part on it.
    graph: dict[_State, list[tuple[_State, bool]]] = {}
    todo, weighed = [(0, 0, -1)], 0
    while todo:
        state = todo.pop()
        if state in graph:
            continue
        p, q, group = state
        graph[state] = []
        weighed += len(steps[p]) * len(steps[q])
        if weighed > _MAX_STEPS:
            return _TANGLED
        for (p2, part_p, in_p), (q2, part_q, in_q) in itertools.product(steps[p], steps[q]):
            if not labels[p2] & labels[q2]:
                continue
            if group in in_p or group in in_q:  # within their atomic group's one match
                if (p2, part_p) == (q2, part_q):
                    graph[state].append(((p2, q2, group), False))
                continue
            entered = (units[p2] - in_p) & (units[q2] - in_q)  # on this same character
            if entered and p2 != q2:
                continue
            group2 = min(entered, default=-1)  # the outermost: numbered before those inside it
            graph[state].append(((p2, q2, group2), (p2, part_p) != (q2, part_q)))
        todo += [successor for successor, _ in graph[state]]
    component = _components(graph, (0, 0, -1))
    looping = {component[state] for state in graph if state[0] == state[1]}
    parting = {
        component[state]
        for state, successors in graph.items()
        for successor, parts in successors
        if parts and component[successor] == component[state]
    }
    if looping & parting:
        return _AMBIGUOUS
    return next(filter(None, (_slow_backtracking(*body) for body in bodies)), None)


def _compile(phrases: Sequence[str]) -> re.Pattern[str]:
    # One outer group, so str.extract returns the whole match even if a phrase has groups.
    alternation = "|".join(f"(?:{_tolerant(phrase)})" for phrase in phrases)
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
_EVIDENCE = "auditkit_evidence"  # RE2's extract needs a named group


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
class _Matcher:
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
        return _extract(
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
    for plain, variants in _FOLDS.items()
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


def _extract(
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
                pc.is_valid(extracted), pc.struct_field(extracted, _EVIDENCE), pa.scalar(None)
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
    translated = [re2_translation(_tolerant(phrase)) for phrase in phrases]
    if any(t is None for t in translated):
        return None
    alternation = "|".join(f"(?:{t})" for t in translated)
    return f"(?i)(?P<{_EVIDENCE}>{alternation})" if named else f"(?i){alternation}"


@cache
def _patterns(category: str, extra: tuple[str, ...]) -> _Matcher:
    if category not in _CATEGORIES:
        raise ValueError(f"Unknown phrase category {category!r}. Known: {', '.join(CATEGORIES)}.")
    for phrase in extra:
        if problem := phrase_problem(phrase):
            raise ValueError(f"Phrase {phrase!r} for {category} {problem}.")
    phrases, negations = _CATEGORIES[category]
    phrases = [*phrases, *extra]
    phrases_re2 = _re2_alternation(phrases, named=True)
    negations_re2 = _re2_alternation(negations, named=False) if negations else None
    if negations and (
        negations_re2 is None or any(_may_match_blank(_tolerant(p)) for p in phrases)
    ):
        phrases_re2 = None  # blanking must then keep every character's place: Python only
    compiled = _compile(phrases)
    return _Matcher(
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


def find(category: str, texts: pd.Series, extra: Sequence[str] = ()) -> pd.Series:
    """The words of each text that show `category` (NA where none), so a finding can quote
    exactly what triggered it; `extra` adds the policy file's own regexes for that category."""
    return find_each([category], texts, {category: extra})[category]


def find_each(
    categories: Sequence[str],
    texts: pd.Series,
    extras: Mapping[str, Sequence[str]] | None = None,
    words: bool = True,
    mark: Callable[[pd.Series], pd.Series] | None = None,
) -> dict[str, pd.Series]:
    """find() for several categories of the same texts, which are deduplicated, repaired and
    sorted into RE2's or Python's once rather than once per category. With `words=False`,
    only whether each text shows the category (a rule that needs no quote is spared the cost
    of finding one). `mark` rewrites the repaired texts before matching (privacy's
    client_marker): after repairing, which would trim a mark off a text's start as a space."""
    matchers = {c: _patterns(c, tuple((extras or {}).get(c, ()))) for c in categories}
    codes, distinct = pd.factorize(texts)
    if len(distinct) == 0:
        none = pd.Series(np.nan, index=texts.index, dtype="str")
        return {c: none if words else none.notna() for c in categories}
    text = repair_text(pd.Series(distinct, dtype="str"))
    if mark is not None:
        text = mark(text)
    readable = re2_reads(text)
    if words:
        return {
            c: take_text(m.find(text, readable), codes, texts.index) for c, m in matchers.items()
        }
    return {
        c: pd.Series(
            np.append(m.find(text, readable, words=False).to_numpy(), False)[codes],
            index=texts.index,
        )
        for c, m in matchers.items()
    }


# --- the clinic's name ---------------------------------------------------------------------------

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
    return python, (f"(?i)(?:^|[^a-zA-Z0-9])(?P<{_EVIDENCE}>{translated})(?:$|[^a-zA-Z0-9])")


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
    found = _extract(text, *name_patterns((acronyms, names)))
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
