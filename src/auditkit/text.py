"""Phrase detection in messages and notes, returning the words that matched as evidence.

Each category is a list of phrase regexes written against normalised text (lower case, straight
quotes, ASCII hyphens) and compiled into one alternation. Rather than matching on a normalised
copy and mapping positions back, each pattern is made tolerant of what normalising would fold:
case (IGNORECASE), any whitespace (``\\s``), and every apostrophe, quote and dash variant, so the
match runs on the (mojibake-repaired) text itself and its span is the original wording.

Negations ("no message", "you won't be charged") are patterns of their own: they are blanked out
with a same-length filler before the category's phrases run, so they can never be evidence.

This module is the catalogue and the entry points a rule calls (find, find_each,
find_clinic_name). What runs the patterns (tolerance, RE2 translation, the matching itself) is
auditkit.matching; what makes a policy's extra phrase unusable, auditkit.regex_safety; the
clinic's name, auditkit.clinic_name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache

import numpy as np
import pandas as pd

# find_clinic_name is a rule's entry point here, beside find and find_each.
from auditkit.clinic_name import find_clinic_name as find_clinic_name
from auditkit.columns import take_text
from auditkit.matching import FOLDS, Matcher, phrase_matcher, re2_reads
from auditkit.parsing import repair_text
from auditkit.regex_safety import phrase_problem

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
_NAME_APOSTROPHE = "[" + "".join(c for c in "'" + FOLDS["'"] if not c.isalnum()) + "]"
_NAME_WORD = rf"{NAME_MARK}\w+(?:{_NAME_APOSTROPHE}\w+)*"
# Its words may touch: one in a script written without spaces is marked where it is, within a
# run of letters ("\x1f王\x1f芳").
_NAMED = rf"{_NAME_WORD}(?:(?:\s+|-)?{_NAME_WORD})*"
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
    r"|came\s+in|(?:hasn't|has\s+not)\s+(?:been\s+(?:coming|attending|in|here)|come\s+in)"
    r"|has\s+(?:missed|been\s+(?:coming|attending))"
    r"|(?:didn't|did\s+not)\s+(?:show|come))|'s\s+(?:missed|been\s+(?:coming|attending)))\b"
    rf"(?:\s+(?:\w+\s+){{0,2}}?{_VISIT})?",
]

_COACHING_CONTENT = [
    r"\bself(?:-|\s+)harm(?:\s+urges?)?\b",
    # a crisis worked through on the phone: "we safety planned", "suicidal ideation"
    r"\bsafety\s+plann(?:ed|ing)\b",
    r"\b(?:made|make|making|created|reviewed|went\s+over|worked\s+on|updated)\s+"
    r"(?:a|her|his|their|the|your)\s+safety\s+plan\b",
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
    rf"|group|an?|weekly|\d{{1,2}}(?::\d\d)?(?:am|pm)?|am|pm|morning|afternoon)\s+)"
    rf"{{0,3}}{_VISIT}",
    # a call's words to the client: "we missed you today"
    r"\b(?:we|i)\s+missed\s+you\b",
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

# The rest of a clause, and its end: a sentence's or a comma's, or "and", "but", "so" and the
# like, where a log goes on to what the clinician did ("Mother said she was worried and I told
# her...").
_UP_TO_CLAUSE_END = r"(?:[^.?!;,]*?\s(?:and|but|so|then|when|while)\b|[^.?!;,]*)"
# The asker's own words, as a log reports them, up to the clause's end: "Father said he knows
# she has been coming here", "Caller asked whether his wife is in DBT here", "roommate asked if
# this was about her appointment". Not the clinic's reply, which follows. Who, not he or she:
# "she said she'd be in Tuesday" may be the clinician telling what the client said.
_ASKER_SAID = [
    r"\b(?:the\s+)?(?:caller|father|mother|dad|mom|parent|guardian|husband|wife|partner|spouse"
    r"|boyfriend|girlfriend|friend|roommate|sister|brother|son|daughter|aunt|uncle|grandmother"
    r"|grandfather|grandma|grandpa|cousin|employer|boss|teacher|neighbou?r|someone|person"
    r"|relative|family\s+member)\s+(?:asked|said|says|asks|wanted\s+to\s+know|wondered|claimed"
    r"|stated|mentioned|wrote|insisted|explained|told\s+(?:me|us))\b" + _UP_TO_CLAUSE_END,
]
# "did not identify the clinic", "without mentioning where I was calling from"
_NOT_DISCLOSED = [
    r"\b(?:did\s+not|didn't|without|never|not)\s+(?:\w+\s+){0,2}?(?:identify|identifying"
    r"|identified|mention|mentioning|mentioned|say|saying|said|name|naming|named|disclose"
    r"|disclosing|disclosed|reveal|revealing|revealed)\b" + _UP_TO_CLAUSE_END,
]
_COACHING_NEGATIONS = [
    # "I am not approved for phone coaching", "we can't do coaching by phone", "no coaching"
    r"(?:\bnot|n't|\bno|\bcannot|\bunable\s+to)\s+(?:(?:approved|allowed|able|permitted|trained"
    r"|do|doing|provide|providing|offer|offering|give|giving)\s+)?(?:(?:to|for|any|phone|by)\s+)"
    r"{0,2}coach\w*",
    # asked for, not given: "client asked for coaching"
    r"\b(?:asked|requested|wanted|asking|requesting)\s+(?:for\s+|about\s+)?(?:\w+\s+){0,2}?"
    r"coach\w*",
    # a group's or a card's logistics: "DBT skills group moved to 5pm", "bring your diary card"
    r"\b(?:(?:dbt|mindfulness)\s+)?(?:skills?\s+)?(?:training\s+)?(?:group|class)\b",
    r"\bbring\s+(?:your|the|a|her|his|their)\s+(?:\w+\s+)?(?:diary\s+cards?|safety\s+plan)\b",
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
    # Linking an unlinked note, or a call logged against another appointment, to a no-show
    # needs exactly the no-show phrasings.
    "note_missed_session": (_NOTE_NO_SHOW, []),
}

CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES)


@cache
def _patterns(category: str, extra: tuple[str, ...]) -> Matcher:
    if category not in _CATEGORIES:
        raise ValueError(f"Unknown phrase category {category!r}. Known: {', '.join(CATEGORIES)}.")
    for phrase in extra:
        if problem := phrase_problem(phrase):
            raise ValueError(f"Phrase {phrase!r} for {category} {problem}.")
    phrases, negations = _CATEGORIES[category]
    return phrase_matcher([*phrases, *extra], negations)


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
