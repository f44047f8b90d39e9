"""Phrase detection: exact evidence for every category, and the policy's own scripts pass."""

import dataclasses
import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import SAMPLE

from auditkit import clinic_name, matching, regex_safety, text
from auditkit.parsing import repair_text
from auditkit.validation import load

# Normalised text, what the phrase patterns are written against: the oracle of the tolerant
# patterns, which match the text itself (lower case, straight quotes, ASCII hyphens and plain
# spaces, one character for one).
_FOLD_TABLE = str.maketrans(
    {
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        **{variant: plain for plain, variants in matching.FOLDS.items() for variant in variants},
    }
)


def normalise(texts: pd.Series) -> pd.Series:
    """Repaired, comparable text: mojibake undone and every variant folded, so positions
    match the repaired text."""
    return repair_text(texts).str.translate(_FOLD_TABLE)


# The policy's scripts, verbatim (the default voicemail keeps the export's mojibake quote).
POLICY_VOICEMAIL = (
    "â€œThis is Sam calling.  We had an appointment at 11:00AM.  Since I didn't hear from you "
    "in 24-hours, I wanted to remind you that you'll be charged for the missed session.  I just "
    "didn't want you to be surprised the next time you come since you'll being paying ofr two "
    'sessions. Let me know if you have any concerns."'
)
POLICY_CLOSURE = (
    "\"Please call to confirm your next appointment by Friday at 5PM. If I don't hear from you "
    "by that time then I'll assume you are no longer interested in treatment and I'll close "
    'your file.  You can always re-initiate treatment at anytime."'
)
POLICY_NOTE = (
    "Client did not show for individual appointment.  Therapist called client and left a "
    "message for client to call and confirm the next appointment.  Therapist also informed "
    "client in message of late fee charged.  Next appoint is on 3/14. Client was asked to call "
    "therapist by 3/10 at 5:PM to confirm next appointment to avoid any additional charges."
)
POLICY_THIRD_PARTY = (
    "Hi. Is Maria there? No, no message.  I'll try again.  I can't say who this is but thank "
    "you.  I'll try again."
)
POLICY_NCND = (
    "I hear your concern, I cannot confirm that someone is or is not a client in the clinic and "
    "so I cannot respond to your questions.  If you are concerned for safety, then I can provide "
    "general recommendations."
)
SCHEDULING = "Hi, it's Sam. Can we reschedule? Please confirm Tuesday at 3."

CASES = {
    "fee_notice": [
        (POLICY_VOICEMAIL, "you'll be charged for the missed session"),
        ("You’ll be charged for the missed session.", "You’ll be charged for the missed session"),
        ("Reminder: there is a LATE   FEE for missed sessions.", "there is a LATE   FEE"),
        ("There's a charge for no-shows.", "There's a charge"),
        ("Just so you know, you will be billed.", "you will be billed"),
        ("The missed-session fee applies.", "missed-session fee"),
        ("We charge a fee for the missed appointment.", "fee for the missed appointment"),
        ("you'd end up paying for two sessions", "paying for two sessions"),
        ("You won’t be charged today, but next time you will be charged.", "you will be charged"),
        ("Missed visits are billable.", "are billable"),
        ("A fee applies for missed visits.", "fee applies"),
        ("The late-cancel charge will still apply.", "charge will still apply"),
        ("Our policy is that missed sessions are charged.", "sessions are charged"),
        ("The missed session is billed at the full rate.", "session is billed"),
        ("I'll have to charge the missed appointment.", "charge the missed appointment"),
        ("Missed visits are not billable this month.", None),
        ("Missed sessions are not charged this month.", None),
        ("No fee applies this time.", None),
        ("You won't be charged this time, don't worry.", None),
        ("There's no charge for this one; we waived the fee.", None),
        (SCHEDULING, None),
    ],
    "closure_warning": [
        (POLICY_CLOSURE, "assume you are no longer interested in treatment"),
        ("Your file will be closed if we don't hear back.", "Your file will be closed"),
        ("We will need to end treatment.", "We will need to end treatment"),
        ("I may have to discharge you from the clinic.", "discharge you from the clinic"),
        ("We'll terminate services next week.", "terminate services"),
        ("I'LL CLOSE YOUR FILE", "CLOSE YOUR FILE"),
        ("You can always re-initiate treatment at anytime.", None),
        ("Sorry, we closed early today.", None),
        ("We won't close your file, don't worry.", None),
        ("Your file will not be closed.", None),
        (POLICY_VOICEMAIL, None),
    ],
    "confirm_by": [
        (POLICY_CLOSURE, "call to confirm your next appointment by Friday at 5PM"),
        ("Please confirm by 11/14 at 5 PM.", "confirm by 11/14 at 5 PM"),
        ("confirm by Friday.", "confirm by Friday"),
        ("Let me know by 11/14 at 5 p.m. if you want it.", "Let me know by 11/14 at 5 p.m."),
        ("If I don't hear from you by that time, no worries.", None),
        ("Please confirm your appointment.", None),
        (POLICY_VOICEMAIL, None),
    ],
    "message_left": [
        ("Can you tell her Sam called?", "Can you tell her"),
        ("OK, please have him call me back.", "please have him call me back"),
        ("Could you ask her to call me?", "Could you ask her to call me"),
        ("My number is 555-0142.", "My number is 555-0142"),
        ("She can call back at 555-201-3344.", "call back at 555-201-3344"),
        ("Just let him know I called.", "let him know"),
        ("Can I leave a message?", "leave a message"),
        (POLICY_THIRD_PARTY, None),
        ("Is he home? OK, I won’t leave a message, thanks.", None),
        ("Roommate asked if I wanted to leave a message. I said no, thanks.", None),
        (
            "Mother said he was out and I asked her to have him call me back.",
            "have him call me back",
        ),
        (
            "Roommate asked if I wanted to leave a message; tell her Sam called.",
            "tell her Sam called",
        ),
    ],
    "caller_disclosure": [
        ("Hi, this is her therapist.", "this is her therapist"),
        ("I'm calling from the clinic.", "calling from the clinic"),
        ("It's about her appointment tomorrow.", "about her appointment"),
        ("Tell him it's about his session.", "about his session"),
        ("I’m Dr. Patel.", "I’m Dr. Patel"),
        ("This is Sam from Riverside.", "This is Sam from Riverside"),
        ("Is she in? It's about COUNSELING.", "COUNSELING"),
        ("It's about therapy.", "therapy"),
        (POLICY_THIRD_PARTY, None),
        ("Is Jordan there? No, no message. I can’t say who this is.", None),
        ("Did not leave a message, did not identify the clinic.", None),
        ("Roommate asked if this was about her appointment, I said I could not say.", None),
        ("Did not identify myself; said it was about her therapy.", "about her therapy"),
        ("I did not mention the clinic but said it was about her session.", "about her session"),
    ],
    "confirm_or_deny": [
        ("Yes, she is a client here.", "Yes, she is a client here"),
        ("he comes here every Tuesday", "he comes here"),
        ("She’s not a client.", "She’s not a client"),
        ("Sorry, we don't have anyone by that name.", "we don't have anyone by that name"),
        ("she was here last week", "she was here last week"),
        ("He missed his appointment.", "He missed his appointment"),
        (POLICY_NCND, None),
        ("I can't confirm whether Maria is a client.", None),
        ("This is a client matter.", None),
        # a client's name, marked (privacy.client_marker), is a subject as a pronoun is
        ("Yes, \x1fMaria \x1fLopez is.", "Yes, \x1fMaria \x1fLopez is"),
        # a name in a script written without spaces is marked word by word within its letters
        ("Yes, \x1f王\x1f芳 is.", "Yes, \x1f王\x1f芳 is"),
        ("I think \x1fMaria missed her appointment.", "\x1fMaria missed her appointment"),
        ("Never heard of \x1fMaria.", "Never heard of \x1fMaria"),
        ("I can't confirm whether \x1fMaria is a client.", None),
        ("I think Maria missed her appointment.", None),  # unmarked: any word
        # the asker's words reported are not the clinic's reply
        ("Father said he knows she has been coming here. I said: " + POLICY_NCND, None),
        ("Mother said she missed her appointment; I said yes, she is.", "yes, she is"),
        ("Caller asked if she is a client here and I said yes she is.", "yes she is"),
    ],
    "ncnd_statement": [
        (POLICY_NCND, "cannot confirm that someone is or is not a client in the clinic"),
        ("I can’t confirm or deny that.", "can’t confirm or deny"),
        (
            "I cannot confirm whether Maria Lopez is a client.",
            "cannot confirm whether Maria Lopez is a client",
        ),
        ("I'm not able to say if she's a patient here.", "not able to say if she's a patient here"),
        (
            "I can't say whether \x1fMaria is a client here.",
            "can't say whether \x1fMaria is a client here",
        ),
        ("Yes, she is a client here.", None),
        ("I can't talk right now.", None),
    ],
    "client_disclosure": [
        ("She's doing well.", "She's doing well"),
        ("Her treatment is going fine.", "Her treatment"),
        ("his sessions are on Monday", "his sessions"),
        ("She has depression.", "depression"),
        ("He's on medication.", "medication"),
        ("Caller asked whether his wife is in DBT here. Told him I cannot confirm.", None),
        ("That said, \x1fMaria has been doing better.", "\x1fMaria has been doing better"),
        (
            "So \x1fMary-\x1fJo has missed three sessions.",
            "\x1fMary-\x1fJo has missed three sessions",
        ),
        ("Yes, \x1fO\u2019Brien\u2019s therapist is in.", "\x1fO\u2019Brien\u2019s therapist"),
        # absence is attendance too: only a client can stop coming in
        ("He hasn't been in for weeks, sorry.", "He hasn't been in"),
        ("She has not been here since March.", "She has not been here"),
        ("He hasn't come in lately.", "He hasn't come in"),
        ("Mother said he hasn't been in for weeks.", None),  # the asker's words
        (POLICY_NCND, None),
        ("That said, Maria has been doing better.", None),  # unmarked: any word
        ("I can't say whether \x1fMaria is a client here.", None),
    ],
    "coaching_content": [
        ("We did skills practice for urges.", "skills practice"),
        ("Let's use distress tolerance.", "distress tolerance"),
        ("Try TIPP now.", "TIPP"),
        ("Use DEAR MAN with your boss.", "DEAR MAN"),
        ("remember opposite action", "opposite action"),
        ("Self-harm urges tonight?", "Self-harm urges"),
        ("fill in your diary card", "diary card"),
        ("get to wise mind", "wise mind"),
        ("Phone coaching call.", "coaching"),
        ("Client in crisis; we safety planned for 40 minutes.", "safety planned"),
        ("Client reported suicidal ideation.", "suicidal ideation"),
        ("Client asked for coaching; I said I am not approved for phone coaching.", None),
        ("No coaching by phone; moved her session to Thursday.", None),
        ("Client was not safe so I coached her.", "coached"),
        ("We made a safety plan together.", "made a safety plan"),
        ("DBT skills training group Thursday at 6pm.", None),
        ("Please bring your diary card and your safety plan to Thursday's session.", None),
        (SCHEDULING, None),
        ("I'd urge you to call back.", None),
        ("Your skills group moved to Tuesday.", None),
        (POLICY_VOICEMAIL, None),
    ],
    "note_no_show": [
        (POLICY_NOTE, "Client did not show for individual appointment"),
        ("Pt FTA. T called pt, LVM.", "Pt FTA"),
        ("NS for appt; LM", "NS for appt"),
        ("DNA 3/7.", "DNA"),
        ("no-show today", "no-show"),
        ("Client didnâ€™t show.", "Client didn’t show"),
        ("Client   did  not\tshow.", "Client   did  not\tshow"),
        ("Pt failed to attend session.", "Pt failed to attend session"),
        ("Client absent from 1pm session; did not call.", "Client absent from 1pm session"),
        ("pt not present for appt", "pt not present for appt"),
        ("Session held; client attended and engaged well.", None),
        ("Session held; SI absent, mood stable.", None),
    ],
    "note_missed_session": [
        ("client missed session 3/7, LVM", "client missed session"),
        ("Called after the missed 1pm session; rescheduled.", "missed 1pm session"),
        ("Hi, we missed you today.", "we missed you"),
        ("Pt FTA", "Pt FTA"),
        ("Session held; client attended and engaged well.", None),
    ],
    "note_outreach": [
        (POLICY_NOTE, "Therapist called client and left a message"),
        ("Pt FTA. T called pt, LVM.", "T called pt, LVM"),
        ("NS for appt; LM", "LM"),
        ("DNA. left voicemail.", "left voicemail"),
        ("Phoned client.", "Phoned client"),
        ("Called, no answer.", "Called, no answer"),
        ("Client called to reschedule.", None),
        ("Therapist did not call client.", None),
    ],
    "note_fee": [
        (POLICY_NOTE, "informed client in message of late fee charged"),
        ("Informed client of late fee.", "Informed client of late fee"),
        ("NS; fee charged.", "fee charged"),
        ("charged for missed session", "charged for missed session"),
        ("LVM, LF.", "LF"),
        ("No fee charged; fee waived per supervisor.", None),
    ],
    "note_next_appointment": [
        (POLICY_NOTE, "Next appoint is on 3/14"),
        ("Next appt 03/14/2026.", "Next appt 03/14/2026"),
        ("f/u scheduled for Tuesday 3/14", "f/u scheduled for Tuesday 3/14"),
        ("next session on March 14.", "next session on March 14"),
        ("Next appoint is on DATE.", None),
        ("Next appt next week, will call to schedule.", None),
    ],
    "note_confirm_by": [
        (POLICY_NOTE, "call therapist by 3/10 at 5:PM to confirm"),
        (
            "asked to call therapist by 3/10 at 5 PM to confirm",
            "call therapist by 3/10 at 5 PM to confirm",
        ),
        ("pt to confirm by Friday 3/10", "confirm by Friday 3/10"),
        ("Next appt 3/14.", None),
    ],
}


@pytest.mark.parametrize(
    ("category", "message", "expected"),
    [(category, *case) for category, cases in CASES.items() for case in cases],
)
def test_evidence_is_the_matched_words(category, message, expected):
    found = text.find(category, pd.Series([message]))
    if expected is None:
        assert pd.isna(found[0])
    else:
        assert found[0] == expected


def test_every_category_has_positive_and_negative_cases():
    assert set(CASES) == set(text.CATEGORIES)
    for cases in CASES.values():
        assert {expected is None for _, expected in cases} == {True, False}


@pytest.mark.parametrize("category", text.CATEGORIES)
def test_matching_normalised_text_finds_the_same_words(category):
    """Tolerant patterns on the text = the same patterns on its normalised form."""
    messages = pd.Series([message for cases in CASES.values() for message, _ in cases])
    on_text = normalise(text.find(category, messages))
    # normalised too: it trims the name mark a client's name starts with, as a space
    on_normalised = normalise(text.find(category, normalise(messages)))
    pd.testing.assert_series_equal(on_text, on_normalised)


def test_keeps_the_index_and_holds_na_where_nothing_matched():
    messages = pd.Series(["DNA", "Session held.", None, ""], index=[40, 10, 30, 20])
    found = text.find("note_no_show", messages)
    assert list(found.index) == [40, 10, 30, 20]
    assert found[40] == "DNA"
    assert found[[10, 30, 20]].isna().all()


def test_a_mark_put_on_the_repaired_texts_stays_at_a_texts_start():
    def mark(texts: pd.Series) -> pd.Series:
        return texts.str.replace(r"\bEli\b", text.NAME_MARK + "Eli", regex=True)

    messages = pd.Series(["  Eli has missed three sessions.", "Eli has missed three sessions."])
    found = text.find_each(["client_disclosure"], messages, mark=mark)["client_disclosure"]
    assert found.tolist() == [text.NAME_MARK + "Eli has missed three sessions"] * 2
    # marked before repairing, a text's first mark is trimmed as a space
    assert text.find("client_disclosure", mark(messages)).isna().all()


def test_evidence_is_a_substring_of_the_original_text():
    message = "Hi —  you’ll BE CHARGED for the missed\u00a0session, OK?"
    found = text.find("fee_notice", pd.Series([message]))[0]
    assert found == "you’ll BE CHARGED for the missed\u00a0session"
    assert found in message


def test_extra_phrases_extend_a_category():
    messages = pd.Series(["Let's do some grounding.", "Can’t make it, sorry"])
    assert text.find("coaching_content", messages).isna().all()
    found = text.find("coaching_content", messages, extra=[r"\bgrounding\b", r"can't make it"])
    # an extra phrase's straight apostrophe matches a curly one too
    assert found.tolist() == ["grounding", "Can’t make it"]


def test_extra_phrase_with_groups_still_yields_the_whole_match():
    found = text.find("fee_notice", pd.Series(["a $50 penalty"]), extra=[r"\$(\d+) penalty"])
    assert found[0] == "$50 penalty"


def test_a_bad_extra_phrase_or_category_is_named():
    with pytest.raises(ValueError, match=re.escape("'(unclosed' for fee_notice")):
        text.find("fee_notice", pd.Series(["x"]), extra=["(unclosed"])
    with pytest.raises(ValueError, match="Unknown phrase category 'fees'"):
        text.find("fees", pd.Series(["x"]))


def test_an_extra_phrase_python_could_backtrack_on_for_hours_is_refused():
    # On Python's re, (\w+\s?)*$ tries every way to split a message's words: an audit of the
    # sample bundle with it ran past a minute. It is refused before any text meets it.
    with pytest.raises(ValueError) as caught:
        text.find("fee_notice", pd.Series(["x" * 40 + "!"]), extra=[r"(\w+\s?)*!x"])
    assert str(caught.value) == (
        "Phrase '(\\\\w+\\\\s?)*!x' for fee_notice can match the same text in more than one "
        "way inside a repeat, as (a|aa)* or (\\w+\\s?)* do, which on some texts keeps Python's "
        "regex engine busy for hours; make the repeated part unambiguous (\\w+(?:\\s+\\w+)*) "
        "or use one character class ([\\w\\s]*)."
    )


AMBIGUOUS = (
    "can match the same text in more than one way inside a repeat, as (a|aa)* or (\\w+\\s?)* "
    "do, which on some texts keeps Python's regex engine busy for hours; make the repeated part "
    "unambiguous (\\w+(?:\\s+\\w+)*) or use one character class ([\\w\\s]*)"
)
# Two different ways round a repeat over the same text: a failing match tries every mix of them.
AMBIGUOUS_PHRASES = [
    r"(a|aa)*x",
    r"(\w+\s?)*!x",
    r"(a+)+$",  # the inner and the outer repeat both go from a back to a
    r"(?:fee|f\w*)+ due",
    r"(x+x+)+y",
    r"(\d|\d\d){2,}z",
    r"(?:\w|\d\d)+!",
    r"(?:\w|\w)+!",  # re reads it as \w(?:|)+!: two empty choices after each \w
    r"(?:a(?:b?)?)*!",  # nothing after a, twice: b? empty, or (?:b?)? not taken
    r"(?>(a|aa)*x)",  # an atomic group backtracks inside while it first matches
    r"(?=(a|aa)*x)a",  # so does a look-ahead
]
UNAMBIGUOUS_PHRASES = [
    r"(?:no|n)+x",  # re reads it as n(?:o|)+x
    r"late\s+fee",
    r"\w++(?:-\w++)* fee",
    r"(\w+\s)*done",
    r"\w+(?:-\w+)*",
    r"(?:a|b)*c",
    r"(ab|a)c",
    r"fee(?: of \$\d+)?",
    r"(?:\w|\d)+!",  # re reads (?:\w|\d) as one class, [\w\d]: one way only
    r"(?:(?>\w+\s?))*billed",  # each atomic group has one match: nothing to split again
    r"(?P<word>\w+) (?P=word) fee",
]


@pytest.mark.parametrize("phrase", AMBIGUOUS_PHRASES)
def test_a_phrase_with_two_ways_round_a_repeat_is_refused(phrase):
    assert regex_safety.phrase_problem(phrase) == AMBIGUOUS


@pytest.mark.parametrize("phrase", UNAMBIGUOUS_PHRASES)
def test_a_phrase_with_one_way_round_each_repeat_is_accepted(phrase):
    assert regex_safety.phrase_problem(phrase) is None


@pytest.mark.parametrize("category", list(text._CATEGORIES))
def test_every_built_in_phrase_passes_the_backtracking_check(category):
    phrases, negations = text._CATEGORIES[category]
    assert [p for p in [*phrases, *negations] if regex_safety.phrase_problem(p)] == []


def test_a_long_phrase_is_checked_quickly_or_refused_for_its_length():
    # 300 words in a repeat: about 800 positions, decided in a tenth of a second
    words = "|".join(f"fee{i}" for i in range(300))
    assert regex_safety.phrase_problem(rf"(?:(?:{words})\s+)+due") is None
    assert regex_safety.phrase_problem("x" * 2001) == (
        "is too long, or repeats too many overlapping parts, to check quickly that Python's "
        "regex engine cannot get stuck on it; split it into several phrases"
    )


def test_normalise_is_comparable_and_keeps_positions():
    messages = pd.Series(["Client  DIDNâ€™T show\u00a0– “late” fee", None])
    assert normalise(messages).tolist()[0] == 'client  didn\'t show - "late" fee'
    assert pd.isna(normalise(messages)[1])
    repaired = "Client  DIDN’T show\u00a0– “late” fee"
    assert len(normalise(messages)[0]) == len(repaired)


# --- the clinic's name -------------------------------------------------------------------------

NAME, ALIASES = "Riverside Psychology Clinic", ["Riverside Clinic", "RPC"]

NAME_CASES = [
    ("Hi, this is Sam from Riverside Psychology Clinic.", "Riverside Psychology Clinic"),
    ("calling from RIVERSIDE PSYCHOLOGY CLINIC", "RIVERSIDE PSYCHOLOGY CLINIC"),
    ("this is riverside clinic calling", "riverside clinic"),
    ("R.P.C. here, call us back", "R.P.C."),
    ("it's r p c calling", "r p c"),
    ("at the RPC. Bye", "RPC"),
    ("from River side Psychology", "River side Psychology"),
    ("from RiversidePsychology", "RiversidePsychology"),
    ("Riversid Pyschology Clinic called", "Riversid Pyschology Clinic"),
    ("it's Rivrside Clinc", "Rivrside Clinc"),
    ("I’m at Riverside’s Psychology Clinic", "Riverside’s Psychology Clinic"),
    ("Sorry, the clinic closed early.", None),
    ("Psychology is fun.", None),
    ("Call the center.", None),
    ("Your RPCs are due.", None),
    ("I live in Riverside.", None),
    ("Riverside Psychiatric Center", None),
    (POLICY_VOICEMAIL, None),
    (POLICY_THIRD_PARTY, None),
]


@pytest.mark.parametrize(("message", "expected"), NAME_CASES)
def test_clinic_name_however_spelled(message, expected):
    found = text.find_clinic_name(pd.Series([message]), NAME, ALIASES)
    if expected is None:
        assert pd.isna(found[0])
    else:
        assert found[0] == expected


# A log saying what was left out of the message, and words that only look like it.
NOT_NAMED_CASES = [
    ("LVM, did not mention Riverside Psychology Clinic.", None),
    ("Left voicemail without identifying myself as calling from RPC.", None),
    ("Left message; no mention of Riverside Psychology Clinic", None),
    ("Riverside Psychology Clinic not mentioned in message", None),
    ("didn't say the clinic name (Riverside Psychology Clinic)", None),
    ("did not mention \u201cRiverside Clinic\u201d per policy", None),
    ("Did not name the clinic (Riverside Clinic); said the fee", None),
    ("RPC (not named), fee mentioned", None),
    (
        "This is Sam from Riverside Psychology Clinic; you did not come in today",
        "Riverside Psychology Clinic",
    ),
    ("I did not see you today at Riverside Psychology Clinic", "Riverside Psychology Clinic"),
    ("I did not say it, Riverside Clinic will charge", "Riverside Clinic"),
    ("Hi, this is Riverside Clinic, we have not mentioned fees before", "Riverside Clinic"),
    ("did not mention the clinic. This is Sam from Riverside Clinic", "Riverside Clinic"),
    ("Riverside Clinic, not mentioned", "Riverside Clinic"),
    # A voicemail's own words to the client, naming the clinic.
    (
        "Since you did not give Riverside Clinic 24 hours notice, you'll be charged",
        "Riverside Clinic",
    ),
    ("You have not used the Riverside Clinic portal yet", "Riverside Clinic"),
    ("you have not named Riverside Clinic as your provider", "Riverside Clinic"),
    ("I didn't say Riverside Clinic, just RPC", "RPC"),
    ("We did not mention RPC", None),
]


@pytest.mark.parametrize("engine_note", ["", " \u00fc"])  # RE2's texts, then Python's
@pytest.mark.parametrize(("message", "expected"), NOT_NAMED_CASES)
def test_a_log_saying_the_name_was_left_out_does_not_name_it(message, expected, engine_note):
    found = text.find_clinic_name(pd.Series([message + engine_note]), NAME, ALIASES)
    if expected is None:
        assert pd.isna(found[0])
    else:
        assert found[0] == expected


def test_clinic_name_keeps_the_index_even_when_repeated():
    messages = pd.Series(["Riversid Pyschology", "nothing", None, "RPC"], index=[7, 7, 3, 1])
    found = text.find_clinic_name(messages, NAME, ALIASES)
    assert list(found.index) == [7, 7, 3, 1]
    assert found.iloc[0] == "Riversid Pyschology"
    assert found.iloc[1:3].isna().all()
    assert found.iloc[3] == "RPC"


def test_a_generic_alias_counts_but_a_generic_word_alone_does_not():
    messages = pd.Series(["Call the Center today.", "the clinic"])
    assert text.find_clinic_name(messages, NAME).isna().all()
    assert text.find_clinic_name(messages, NAME, ["The Center"]).tolist()[0] == "the Center"


def test_no_name_no_evidence():
    found = text.find_clinic_name(pd.Series(["Riverside Psychology Clinic"]), "", [])
    assert found.isna().all()


def test_fuzzy_clinic_name_search_in_slices_finds_the_same(monkeypatch):
    messages = pd.Series(
        [
            "This is Sam from Riversid Pyschology Clinic.",
            "Nothing to see here.",
            "Calling from Rivreside Psychology Clinc about today.",
            "Reschedule for Tuesday at 3.",
            "this is sam, riverside psychologie clinic",
        ]
    )
    whole = text.find_clinic_name(
        messages, "Riverside Psychology Clinic", ["Riverside Clinic", "RPC"]
    )
    monkeypatch.setattr(clinic_name, "_FUZZY_SLICE", 2)
    sliced = text.find_clinic_name(
        messages, "Riverside Psychology Clinic", ["Riverside Clinic", "RPC"]
    )
    assert sliced.tolist()[0] == "Riversid Pyschology Clinic"
    assert sliced.isna().tolist() == [False, True, False, True, False]
    pd.testing.assert_series_equal(sliced, whole)


# --- RE2 on ASCII text gives exactly Python's answers ------------------------------------------

# The words the phrases are made of, and separators including the spaces only Python's \s knows.
WORDS = sorted(
    {w for cases in CASES.values() for m, _ in cases for w in re.findall(r"[A-Za-z0-9']+", m)}
)
SEPARATORS = [" ", "  ", "\n", "\x0b", "\x1c", "\x1f", ", ", ". ", "; ", "-", "'", "/", ":"]
# and the variants of quotes, dashes and spaces that RE2 reads, and words that go to Python
SEPARATORS += ["\u00a0", "\u2019", "\u2013", " \u201c", "\u2009", "\u02bc", "\u3000", "\x85"]
SEPARATORS += ["\u2028", "\u2014", "\u2018", "\u00b4", "\u2032", "\u2212", " caf\u00e9 "]


def on_python_only(category: str, texts: pd.Series) -> pd.Series:
    matcher = dataclasses.replace(
        text._patterns(category, ()), phrases_re2=None, candidates_re2=None
    )
    return matcher.find(texts)


def test_the_built_in_phrases_run_on_re2_unless_they_look_around():
    on_python = {c for c in text.CATEGORIES if text._patterns(c, ()).phrases_re2 is None}
    # message_left's phone number and confirm_or_deny's subject need look-arounds
    assert on_python == {"message_left", "confirm_or_deny"}


@pytest.mark.parametrize("category", text.CATEGORIES)
def test_re2_finds_what_python_finds_in_the_sample_and_the_cases(category):
    bundle = load(SAMPLE)
    messages = pd.concat(
        [
            bundle.contacts["message"],
            bundle.notes["text"],
            pd.Series([message for cases in CASES.values() for message, _ in cases]),
        ],
        ignore_index=True,
    )
    found = text.find(category, messages)
    pd.testing.assert_series_equal(found, on_python_only(category, messages))
    assert found.notna().any()


@pytest.mark.parametrize("category", text.CATEGORIES)
def test_whether_a_text_shows_a_category_is_whether_words_are_found(category):
    messages = pd.Series(
        [None, *(message for cases in CASES.values() for message, _ in cases)], dtype="str"
    )
    found = text.find(category, messages)
    shows = text.find_each([category], messages, words=False)[category]
    assert shows.dtype == bool
    assert shows.tolist() == found.notna().tolist()
    matcher = text._patterns(category, ())
    python = dataclasses.replace(matcher, phrases_re2=None, candidates_re2=None)
    assert python.find(messages, words=False).tolist() == found.notna().tolist()
    assert not shows[0] and shows.any()  # a blank text shows nothing; some cases do


ALL_CASES = [m for cases in CASES.values() for m, _ in cases]


@given(
    st.lists(
        st.one_of(
            # a case's words, re-spaced with any of Python's ASCII spaces
            st.tuples(
                st.sampled_from(ALL_CASES), st.lists(st.sampled_from(SEPARATORS), min_size=1)
            ).map(
                lambda case: "".join(
                    word + case[1][i % len(case[1])] for i, word in enumerate(case[0].split(" "))
                )
            ),
            # any run of the words the phrases are made of
            st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS))).map(
                lambda words: "".join(w + s for w, s in words)
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_re2_finds_what_python_finds_in_any_spacing_of_phrase_words(texts):
    messages = pd.Series(texts)
    for category in text.CATEGORIES:
        pd.testing.assert_series_equal(
            text.find(category, messages), on_python_only(category, messages)
        )


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"a\sb", f"a[{matching.RE2_SPACES}]b"),
        (r"a\Sb", f"a[^{matching.RE2_SPACES}]b"),
        (r"[\s,]+", f"[{matching.RE2_SPACES},]+"),
        (r"[\\s]", r"[\\s]"),  # a backslash or an s
        (r"(\d+) fee", r"(?:\d+) fee"),
        (r"\$5", r"\$5"),
        (r"fee$", None),  # Python's $ also matches before a final newline
        (r"(?<!\d)555", None),
        (r"fee(?= now)", None),
        (r"(\w)\1", None),
        (r"(?P<amount>\d+)", None),
        (r"[\S]", None),
    ],
)
def test_patterns_translate_to_re2_only_when_they_mean_the_same(pattern, expected):
    assert matching.re2_translation(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "may"),
    [
        (".", True),
        ("[^a]", True),
        (r"\W", True),
        (r"[\Wa]", True),
        (r"\x1a", True),
        (r"[^.?!;\x1a]", False),
        (r"\bno\s+fee\w*", False),
    ],
)
def test_what_may_match_the_negation_filler(pattern, may):
    assert matching._may_match_blank(pattern) is may


def test_no_built_in_phrase_can_match_the_negation_filler():
    phrases = [p for phrases, _ in text._CATEGORIES.values() for p in phrases]
    assert not [p for p in phrases if matching._may_match_blank(matching.tolerant(p))]


def test_an_extra_phrase_that_could_match_the_filler_keeps_the_category_on_python():
    assert text._patterns("fee_notice", (r"fee.{0,9}due",)).phrases_re2 is None
    assert text._patterns("confirm_by", (r"fee.{0,9}due",)).phrases_re2 is not None


# --- the near-miss pre-test never hides a near miss ---------------------------------------------


def edited(name: str, edits: list[tuple[int, int, str]]) -> str:
    """`name` with each (kind, position, letter) edit: 0 deletes, 1 inserts, 2 substitutes."""
    for kind, position, letter in edits:
        at = position % (len(name) + 1)
        if kind == 0:
            name = name[:at] + name[at + 1 :]
        elif kind == 1:
            name = name[:at] + letter + name[at:]
        else:
            name = name[:at] + letter + name[at + 1 :]
    return name


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Riverside Psychology Clinic", "Riverside Clinic", "Riverside Psych"]),
            st.lists(
                st.tuples(
                    st.integers(0, 2),
                    st.integers(0, 40),
                    st.sampled_from("aeiorsty .'-\u2019\u2013\u00a0\u02bc"),
                ),
                max_size=4,
            ),
            st.sampled_from(["Hi, this is Sam from ", "calling from the ", "", "it's "]),
        ),
        min_size=1,
        max_size=10,
    )
)
@settings(max_examples=60, deadline=None)
def test_the_near_miss_pre_test_keeps_every_near_miss(cases):
    messages = pd.Series(
        [f"{before}{edited(name, edits)} about today." for name, edits, before in cases]
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            clinic_name, "_may_hold_near_miss", lambda t, _keys: pd.Series(True, index=t.index)
        )
        everywhere = text.find_clinic_name(messages, NAME, ALIASES)
    pd.testing.assert_series_equal(text.find_clinic_name(messages, NAME, ALIASES), everywhere)


def test_the_near_miss_pre_test_passes_near_misses_only():
    messages = pd.Series(
        [
            "Riversid Pyschology called",
            "Reschedule for Tuesday at 3.",
            "We’re at Riverside\u00a0–\u00a0Psychologie",
            "We’re closed\u00a0– sorry",
            "Café",
            "Iʼm here",
        ]
    )
    may = clinic_name._may_hold_near_miss(messages, ["riversidepsychology", "riversideclinic"])
    # curly quotes, dashes and odd spaces are tested as plain ones; other text is searched
    assert may.tolist() == [True, False, True, False, True, True]


def test_letters_and_digits_are_read_off_the_bytes():
    column = pa.array(["", "Ab-C 9’x", None, "", "R\u00a0P\u2014C", "Café 1"]).slice(1)
    assert clinic_name._ascii_letters_and_digits(column) == ["abc9x", None, "", "rpc", "caf1"]
    assert clinic_name._ascii_letters_and_digits(pa.array([""])) == [""]
    assert clinic_name._ascii_letters_and_digits(pa.chunked_array([["A"], ["b."]])) == ["a", "b"]


def test_n_gram_keys_are_those_pythons_re_gives():
    grams = pd.Series(
        ["River-Side Psych_", "Clínica Río", "St. Mary's 2", "ＲＩＶＥＲ"], dtype="str"
    )
    by_re = grams.str.lower().str.replace(r"[\W_]+", "", regex=True).tolist()
    assert (
        clinic_name._gram_keys(grams)
        == by_re
        == ["riversidepsych", "clínicarío", "stmarys2", "ｒｉｖｅｒ"]
    )
    ascii_alone = grams.iloc[[0, 2]]
    assert clinic_name._gram_keys(ascii_alone) == ["riversidepsych", "stmarys2"]


def test_re2_reads_text_that_is_ascii_but_for_quotes_dashes_and_spaces():
    texts = pd.Series(
        ["plain", "don\u2019t \u2014 now\u00a0", "caf\u00e9", "I\u02bcm", "\u2764", None, ""]
    )
    # a letter (é, the modifier letter ʼ) or a symbol leaves the text to Python
    assert matching.re2_reads(texts).tolist() == [True, True, False, False, False, False, True]


def test_re2_spaces_are_pythons_spaces():
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    on_re2 = pc.match_substring_regex(pa.array(characters), f"^[{matching.RE2_SPACES}]$")
    python = [re.fullmatch(r"\s", c) is not None for c in characters]
    assert on_re2.to_pylist() == python
    assert sum(python) == 29


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"(?<!\d)\d{3}-\d{4}", r"\d{3}-\d{4}"),
        (r"\b(?!(?:this|that)\b)\w+ is", r"\b\w+ is"),
        (r"fee(?=\s+now)|(?<=late )fee", r"fee|fee"),
        (r"[(?=]x\(?!", r"[(?=]x\(?!"),  # a class and escapes hold no assertion
    ],
)
def test_look_arounds_are_left_out_for_ruling_texts_out(pattern, expected):
    assert matching._without_look_arounds(pattern) == expected


def test_matching_on_threads_finds_the_same_in_the_same_order(monkeypatch):
    bundle = load(SAMPLE)
    messages = pd.concat([bundle.contacts["message"], bundle.notes["text"]], ignore_index=True)
    alone = {c: text.find(c, messages) for c in text.CATEGORIES}
    names = text.find_clinic_name(messages, NAME, ALIASES)
    monkeypatch.setattr(matching, "_THREADS", 3)
    monkeypatch.setattr(matching, "_TEXTS_PER_THREAD", 7)  # every column split three ways
    for category in text.CATEGORIES:
        pd.testing.assert_series_equal(text.find(category, messages), alone[category])
    pd.testing.assert_series_equal(text.find_clinic_name(messages, NAME, ALIASES), names)
    column = pa.chunked_array([pa.array(["a fee", None]), pa.array(["b", "c fee", "d"])])
    found = matching.on_threads(lambda part: pc.match_substring(part, "fee"), column)
    assert found.to_pylist() == [True, None, False, True, False]
