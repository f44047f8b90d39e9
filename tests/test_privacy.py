"""Minimum necessary: no client name or phone number in findings, report or dashboards by
default, and no network connection at import or at run."""

import csv
import random
import re
import subprocess
import sys
import textwrap

import openpyxl
import pandas as pd
import pytest
from paths import SAMPLE
from rule_fixtures import CLIENTS, build_bundle

from auditkit import audit, load
from auditkit.cli import main
from auditkit.dashboard import MonthlyDashboard
from auditkit.policy import policy_from_dict
from auditkit.report import vega_javascript
from auditkit.review_queue import ReviewQueue
from auditkit.text import NAME_MARK

# C1 is Alex Sample, phone 555-0101 (tests/rule_fixtures.py).
IDENTIFIERS = ["Alex", "Sample", "555-0101", "805-555-0199", "Jamie"]
CONTACTS = [
    {  # TP001: a message left with whoever answered, naming the client and a number
        "started_at": "2026-03-02T13:25:00-08:00",
        "party": "third_party",
        "outcome": "answered",
        "purpose": "scheduling",
        "message": "My number is 805-555-0199, could you ask Alex to call me? Jamie said to.",
    },
    {  # IQ001: an inquiry answered by confirming, with the client's full name and phone
        "started_at": "2026-03-04T10:00:00-08:00",
        "direction": "inbound",
        "party": "third_party",
        "outcome": "received",
        "purpose": "inquiry",
        "message": "Yes, Alex Sample is a client here; her number is 555-0101.",
    },
]
POLICY = {
    "clinic": {"name": "Riverside Psychology Clinic", "aliases": ["RPC"]},
    "privacy": {"names": ["Jamie"]},
}


def bundle(tmp_path):
    return build_bundle(tmp_path, contacts=CONTACTS, policy=POLICY)


def leaked(text: str) -> list[str]:
    return [word for word in IDENTIFIERS if word in text]


def test_findings_mask_client_names_listed_names_and_phones(tmp_path):
    findings = audit(bundle(tmp_path)).findings.set_index("rule")
    assert findings.loc["TP001", "evidence"] == "left a message: \u201cMy number is [phone]\u201d"
    assert findings.loc["IQ001", "evidence"] == (
        "confirmed or denied: \u201cYes, [client] [client] is a client here\u201d"
    )
    assert leaked(findings.to_csv()) == []


def test_show_names_keeps_them_for_internal_qa(tmp_path):
    findings = audit(bundle(tmp_path), show_names=True).findings.set_index("rule")
    assert findings.loc["TP001", "evidence"] == (
        "left a message: \u201cMy number is 805-555-0199\u201d"
    )
    assert findings.loc["IQ001", "evidence"] == (
        "confirmed or denied: \u201cYes, Alex Sample is a client here\u201d"
    )


def test_written_outputs_hold_no_name_or_phone_unless_asked(tmp_path, capsys):
    loaded = bundle(tmp_path)
    out = tmp_path / "out"
    assert main(["audit", str(loaded.path), "--out", str(out), "--quiet"]) == 0
    for name in ("findings.csv", "compliance.csv", "rejected.csv"):
        assert leaked((out / name).read_text(encoding="utf-8")) == [], name
    # the inlined Vega library happens to hold the word "Sample"; the page around it must not
    page = (out / "report.html").read_text(encoding="utf-8").replace(vega_javascript(), "")
    assert leaked(page) == []
    cells = [
        str(cell.value)
        for sheet in openpyxl.load_workbook(out / "report.xlsx").worksheets
        for row in sheet.iter_rows()
        for cell in row
    ]
    assert leaked(" ".join(cells)) == []
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Clients appear by id only" in html

    shown = tmp_path / "shown"
    assert main(["audit", str(loaded.path), "--out", str(shown), "--quiet", "--show-names"]) == 0
    html = (shown / "report.html").read_text(encoding="utf-8")
    assert "Names shown (--show-names)" in html
    assert "805-555-0199" in html


def test_a_rejected_rows_reason_masks_the_names_it_quotes(tmp_path, capsys):
    # Zed Quimby's own row is set aside (its intake date holds the name), so Zed is no client
    # the audit knows; an appointment's unreadable time names Alex Sample, who is one.
    set_aside = {
        **CLIENTS[0],
        "client_id": "C9",
        "first_name": "Zed",
        "last_name": "Quimby",
        "intake_date": "Zed Quimby intake",
    }
    kept = {"scheduled_start": "2026-03-02T13:00:00-08:00", "status": "attended"}
    folder = build_bundle(tmp_path, appointments=[kept], policy=POLICY).path
    pd.DataFrame([*CLIENTS, set_aside]).to_csv(folder / "clients.csv", index=False)
    appointments = pd.read_csv(folder / "appointments.csv", dtype=str)
    unreadable = {"appointment_id": "A9", "client_id": "C1", "staff_id": "T1", "status": "no_show"}
    unreadable["scheduled_start"] = "after Alex Sample's 3pm"
    pd.concat([appointments, pd.DataFrame([unreadable])]).to_csv(
        folder / "appointments.csv", index=False
    )
    loaded = load(folder, policy_from_dict(POLICY))
    quoted = sorted(loaded.rejected["reason"].str.extract(r"'(.*)'")[0])
    assert quoted == ["Zed Quimby intake", "after Alex Sample's 3pm"]  # loading keeps them
    masked = sorted(audit(loaded).rejected["reason"].str.extract(r"'(.*)'")[0])
    assert masked == ["[client] [client] intake", "after [client] [client]'s 3pm"]
    assert sorted(audit(loaded, show_names=True).rejected["reason"].str.extract(r"'(.*)'")[0]) == (
        quoted
    )
    out = tmp_path / "out"
    assert main(["audit", str(folder), "--out", str(out), "--quiet"]) == 0
    for name in ("rejected.csv", "report.html"):
        text = (out / name).read_text(encoding="utf-8").replace(vega_javascript(), "")
        assert [w for w in ("Zed", "Quimby", "Alex") if w in text] == [], name


def test_reviewers_comments_are_masked_like_the_evidence(tmp_path):
    loaded = bundle(tmp_path)
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        "rule,subject_id,decision,reviewer,reviewed_at,comment\n"
        "TP001,K1,confirmed,QA,2026-03-05T09:00:00-08:00,Alex Sample's sister answered\n"
        "MS001,A9,dismissed,QA,2026-03-05T09:00:00-08:00,Alex rescheduled by email\n",
        encoding="utf-8",
    )
    result = audit(loaded, reviews=reviews)
    comments = result.findings.set_index("rule")["review_comment"]
    assert comments["TP001"] == "[client] [client]'s sister answered"
    assert comments.isna().sum() == len(comments) - 1
    assert result.stale_reviews["comment"].tolist() == ["[client] rescheduled by email"]
    shown = audit(loaded, reviews=reviews, show_names=True)
    assert shown.findings.set_index("rule").loc["TP001", "review_comment"] == (
        "Alex Sample's sister answered"
    )
    assert shown.stale_reviews["comment"].tolist() == ["Alex rescheduled by email"]


def test_dashboard_and_review_queue_show_no_name_or_phone(tmp_path):
    result = audit(bundle(tmp_path))
    dashboard = MonthlyDashboard(result, export_to=tmp_path / "export")
    assert leaked(dashboard.findings.to_csv()) == []
    queue = ReviewQueue(result, tmp_path / "reviews.csv")
    cards = []
    for position in range(len(queue.findings)):
        queue.go(position)
        cards.append(queue.record.value)
    assert len(cards) == 2
    assert leaked(" ".join(cards)) == []
    assert "[client]" in cards[0] + cards[1]


def test_findings_and_the_review_card_mask_names_written_without_their_accents(tmp_path):
    # clients.csv has Peña with an accent and Renee without; the messages the other way round.
    # O'Brien's quote begins after the apostrophe.
    clients = [
        {**CLIENTS[0], "first_name": "José", "last_name": "Peña"},
        {**CLIENTS[1], "first_name": "Renee", "last_name": "O\u2019Brien"},
    ]
    inquiry = {**CONTACTS[1], "message": "Yes, Jose Pena is a client here."}
    again = {**inquiry, "client_id": "C2", "message": "Yes, Renée O'Brien is a client here."}
    result = audit(build_bundle(tmp_path, clients=clients, contacts=[inquiry, again]))
    assert (
        result.findings["evidence"].tolist()
        == ["confirmed or denied: \u201cYes, [client] [client] is a client here\u201d"] * 2
    )
    queue = ReviewQueue(result, tmp_path / "reviews.csv")
    cards = []
    for position in range(len(queue.findings)):
        queue.go(position)
        cards.append(queue.record.value)
    assert "<mark>Yes, [client] [client] is a client here</mark>." in cards[0]
    assert "<mark>Yes, [client] [client] is a client here</mark>." in cards[1]
    shown = " ".join(cards).lower()
    names = ("jose", "josé", "pena", "peña", "renee", "renée", "brien")
    assert [w for w in names if w in shown] == []


def test_findings_mask_names_in_scripts_written_without_spaces(tmp_path):
    """Wang Fang and Kim Minjun, each name one word of one or two letters: masked wherever they
    occur, and the quote still reaches back to what was said of them."""
    clients = [
        {**CLIENTS[0], "first_name": "芳", "last_name": "王"},
        {**CLIENTS[1], "first_name": "민준", "last_name": "김"},
    ]
    inquiry = {**CONTACTS[1], "message": "Yes, 王芳 is a client here."}
    again = {**inquiry, "client_id": "C2", "message": "Yes, 김민준 is a client here."}
    loaded = build_bundle(tmp_path, clients=clients, contacts=[inquiry, again])
    evidence = audit(loaded).findings["evidence"].tolist()
    assert (
        evidence == ["confirmed or denied: \u201cYes, [client][client] is a client here\u201d"] * 2
    )
    assert audit(loaded, show_names=True).findings["evidence"].tolist() == [
        "confirmed or denied: \u201cYes, 王芳 is a client here\u201d",
        "confirmed or denied: \u201cYes, 김민준 is a client here\u201d",
    ]


@pytest.mark.parametrize(
    ("clients", "text", "masked"),
    [
        (
            ["José", "Peña", "François", "Renée"],
            "Jose Pena, JOSE PENA, Francois and renee called",
            "[client] [client], [client] [client], [client] and [client] called",
        ),
        (  # the file without accents, the message with them
            ["Jose", "Pena", "Francois", "Renee"],
            "José Peña, JOSÉ PEÑA, François and renée called",
            "[client] [client], [client] [client], [client] and [client] called",
        ),
        (  # a combining accent after the letter, as some systems write it
            ["José", "Peña"],
            "Jose\u0301 Pen\u0303a and Jose Pena",
            "[client] [client] and [client] [client]",
        ),
        (  # whole words only: a name inside another word stays
            ["José", "Renée"],
            "Josefina, Joséphine, Renées and Irenee",
            "Josefina, Joséphine, Renées and Irenee",
        ),
        (  # any apostrophe, either way
            ["O\u2019Brien", "Zoë", "Søren"],
            "O'Brien, O\u2019BRIEN and Zoe\u2019s son Soren",
            "[client], [client] and [client]\u2019s son [client]",
        ),
        (  # a script written without spaces: anywhere, within a run of letters too
            ["芳", "王"],
            "王芳今天没来. 王 芳 called; Ms. 王",
            "[client][client]今天没来. [client] [client] called; Ms. [client]",
        ),
        (["王芳"], "王芳今天没来, not 王 芳", "[client]今天没来, not 王 芳"),
        (  # Hangul, with a particle written onto the name (은)
            ["민준", "김"],
            "김민준 missed; 김 민준은 called; Mr. 김",
            "[client][client] missed; [client] [client]은 called; Mr. [client]",
        ),
        (["さくら", "山田"], "山田さくらさんから電話", "[client][client]さんから電話"),
        (["สมชาย"], "คุณสมชายโทรมา", "คุณ[client]โทรมา"),
        (  # beside Latin names, which stay whole words
            ["Ann", "芳"],
            "Ann and 芳, Annual and 芳芳",
            "[client] and [client], Annual and [client][client]",
        ),
    ],
)
def test_names_are_masked_with_or_without_their_accents(clients, text, masked):
    from auditkit.privacy import identifier_masker

    assert identifier_masker(clients)(pd.Series([text, None], dtype="str")).tolist()[0] == masked


def test_the_review_card_masks_reviewers_comments_like_the_messages(tmp_path):
    loaded = bundle(tmp_path)
    reviews = tmp_path / "reviews.csv"
    typed = "Called Alex Sample at (805) 555-0127"
    queue = ReviewQueue(loaded, reviews)
    queue.reviewer.value, queue.comment.value = "QA", typed
    queue.confirm_button.click()
    queue.go(0)  # back to the finding just decided
    assert ": Called [client] [client] at [phone]</p>" in queue.record.value
    again = ReviewQueue(loaded, reviews)  # the comment as read from the file
    again.go(len(again.findings) - 1)
    assert ": Called [client] [client] at [phone]</p>" in again.record.value
    assert leaked(queue.record.value + again.record.value) == []
    shown = ReviewQueue(audit(loaded, show_names=True), reviews)
    shown.go(len(shown.findings) - 1)
    assert f": {typed}</p>" in shown.record.value  # names shown: as typed
    assert next(csv.DictReader(reviews.open(encoding="utf-8")))["comment"] == typed


def test_the_reviews_file_holds_the_evidence_masked_even_when_names_are_shown(tmp_path):
    loaded = bundle(tmp_path)
    reviews = tmp_path / "reviews.csv"
    queue = ReviewQueue(audit(loaded, show_names=True), reviews)
    assert queue.current["evidence"] == "left a message: \u201cMy number is 805-555-0199\u201d"
    queue.reviewer.value, queue.comment.value = "QA", "not a breach"
    queue.dismiss_button.click()
    rows = list(csv.DictReader(reviews.open(encoding="utf-8")))
    assert [(r["rule"], r["client_id"], r["evidence"]) for r in rows] == [
        ("TP001", "C1", "left a message: \u201cMy number is [phone]\u201d")
    ]
    assert leaked(reviews.read_text(encoding="utf-8")) == []
    for show_names in (False, True):  # the audit compares it masked either way
        result = audit(loaded, reviews=reviews, show_names=show_names)
        assert result.findings.set_index("rule")["review"].to_dict() == {
            "IQ001": "new",
            "TP001": "dismissed",
        }
        assert result.stale_reviews.empty


def test_no_network_connection_at_import_or_while_auditing(tmp_path):
    script = textwrap.dedent(
        f"""
        import socket

        def refuse(*args, **kwargs):
            raise RuntimeError("auditkit tried to use the network")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from pathlib import Path
        from auditkit import audit, load
        from auditkit.deidentify import deidentify
        from auditkit.report import write_report

        bundle = load({str(SAMPLE)!r})
        result = audit(bundle)
        write_report(result, Path({str(tmp_path / "out")!r}))
        deidentify(bundle, Path({str(tmp_path / "extract")!r}))
        print("offline", len(result.findings))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("offline ")
    assert (tmp_path / "out" / "report.html").is_file()


MASKED_NAMES = ["Ann", "O'Neil", "José", "Dılan", "İpek", "Kim"]
TRICKY_TEXTS = [
    "Annual review with Ann today",  # a name inside a word stays; the word alone goes
    "Left word for ann, ANN and Ann's mother",
    "Spoke with O'Neil and O\u2019Neil",  # either apostrophe
    "Hola José, ¿puede llamar?",
    "Dilan and dilan called; DILAN too",  # dotless ı in the name meets an ASCII i
    "Ipek and ipek",  # İ in the name: an accent (a dot) like any other, so Ipek is it
    "\u212aim called back",  # a Kelvin sign is a K to Python's IGNORECASE
    "Call 805.555.0127 or (805) 555-0199 ext. 12",
    "or 555\x1c0127",  # Python's \s has the ASCII separators \x1c-\x1f; RE2's has not
    "At 13:26:40 on 2025-10-01, 8 min",  # times and dates are no phone numbers
    "JOSE, Jose\u0301 and Josefa",  # accents either way, or combining; a longer word stays
    "O\u2019N\u00c9IL\u2019s and \u00c5nn",
    "nothing here",
    "",
]


def masked_everywhere(texts: pd.Series, names: list[str], label: str) -> pd.Series:
    """What the masker's Python regex gives run on every text, not only those Arrow picks."""
    from auditkit.privacy import _Masked

    return texts.map(_Masked.of(names, label).text, na_action="ignore")


def test_masking_only_the_texts_that_can_hold_a_name_gives_what_the_regex_gives():
    """Arrow picks the texts worth the Python regex; every text comes out as if all met it."""
    from auditkit.privacy import _PHONE, identifier_masker

    texts = pd.Series(TRICKY_TEXTS, dtype="str")
    clients = masked_everywhere(texts, MASKED_NAMES[:3], "[client]")
    everywhere = masked_everywhere(clients, MASKED_NAMES[3:], "[name]").str.replace(
        _PHONE, "[phone]", regex=True
    )
    masked = identifier_masker(MASKED_NAMES[:3], MASKED_NAMES[3:])(texts)
    assert masked.tolist() == everywhere.tolist()
    assert masked.tolist()[:12] == [
        "Annual review with [client] today",
        "Left word for [client], [client] and [client]'s mother",
        "Spoke with [client] and [client]",
        "Hola [client], ¿puede llamar?",
        "[name] and [name] called; [name] too",
        "[name] and [name]",
        "[name] called back",
        "Call [phone] or [phone]",
        "or [phone]",
        "At 13:26:40 on 2025-10-01, 8 min",
        "[client], [client] and Josefa",
        "[client]\u2019s and [client]",
    ]


# Names whose plain forms share a beginning, hold an apostrophe, a digit or an underscore, or
# reach ASCII only once folded (ı, İ, the Kelvin sign), beside some that never do (Ł, Ω, Ø).
RE2_NAMES = [
    "Ann", "Anna", "Annabel", "O'Neil", "D\u2019Arcy", "Jo", "Jo3", "Zoë", "José", "Dılan",
    "İpek", "\u212aim", "Łukasz", "Ωmega", "Øyvind", "van", "Al_Amin", "Mary Jo", "王芳", "김",
]  # fmt: skip


def _random_text(
    rng: random.Random, pieces: list[str], separators: list[str], length: int = 16
) -> str:
    """A run of `length` separators and pieces in turn, each picked at random, cut at a random
    start and end."""
    parts = [rng.choice(separators if k % 2 == 0 else pieces) for k in range(length)]
    return "".join(parts[rng.randrange(2) : rng.randrange(2, length)])


def _texts_around_names(count: int, seed: int) -> pd.Series:
    """Texts made at random of the names in any case and glued to what borders a word or
    doesn't (letters, digits, underscores, apostrophes), between separators of every kind:
    quote, dash and space variants, punctuation, the name mark, a letter of another script."""
    rng = random.Random(seed)
    forms = [f for name in RE2_NAMES for f in (name, name.upper(), name.lower(), name.title())]
    glued = [
        before + form + after
        for form in forms
        for before, after in (("x", ""), ("", "x"), ("", "_"), ("_", ""), ("2", ""), ("", "2"))
    ]
    owned = [form + ending for form in forms for ending in ("'s", "\u2019s", "'")]
    words = ["annual", "call", "Hi", "Neil", "O", "Arcy", "jo", "Joe", "Kimberly", "vanity"]
    separators = [
        " ", "  ", ", ", ". ", "!", "?", "(", ")", "-", "\u2013", "\u2014", "\u2019", "\u2018",
        "'", '"', "\u00a0", "\u2003", "\t", "\n", "/", ":", ";", NAME_MARK, "é", "ж", "٣", "今",
    ]  # fmt: skip
    pieces = [*forms, *glued, *owned, *words]
    # Half the texts only of what RE2 reads as Python does: ASCII, quote, dash, space variants.
    variants = {"\u2013", "\u2014", "\u2019", "\u2018", "\u00a0", "\u2003"}
    readable = [
        [p for p in pool if all(c.isascii() or c in variants for c in p)]
        for pool in (pieces, separators)
    ]

    made = [
        _random_text(rng, *(readable if k % 2 else [pieces, separators]), length=24)
        for k in range(count)
    ]
    return pd.Series([*made, None, ""], dtype="str")


@pytest.mark.parametrize("label", ["[name]", NAME_MARK + r"\g<0>"])
def test_names_masked_on_re2_as_pythons_regex_masks_them(label):
    """Where RE2 reads a text as Python does, the names' RE2 regex masks it: 5,000 texts come
    out as Python's regex, run on each, gives them."""
    from auditkit.matching import re2_reads
    from auditkit.privacy import _Masked

    texts = _texts_around_names(5000, seed=7)
    masker = _Masked.of(RE2_NAMES, label)
    assert masker.in_re2 is not None
    masked = masker(texts)
    assert masked.tolist() == masked_everywhere(texts, RE2_NAMES, label).tolist()
    assert int(re2_reads(texts).sum()) == 2694  # on RE2; the rest on Python's regex
    assert int((masked != texts).sum()) == 4397


def test_every_character_pythons_ignorecase_takes_for_an_ascii_letter_is_that_letter_plain():
    """Why a name that is not ASCII once plain can't be in ASCII text: the characters Python's
    IGNORECASE matches with an ASCII letter all fold to it in _plain."""
    from auditkit.privacy import _plain

    letter = re.compile("[a-z]", re.IGNORECASE)
    folding = [chr(c) for c in range(0x80, 0x110000) if letter.fullmatch(chr(c))]
    assert folding == ["\u0130", "\u0131", "\u017f", "\u212a"]
    assert [_plain(c) for c in folding] == ["i", "i", "s", "k"]


def test_names_with_punctuation_at_one_end_are_masked_on_re2_and_at_both_in_python():
    """RE2's word boundary is not Python's look-around next to punctuation: a name with it at
    one end is read by RE2 with the boundary at the other, the character beyond the
    punctuation taken and put back; with punctuation at both ends, Python's regex masks."""
    from auditkit.privacy import _Masked

    texts = pd.Series(
        ["Ann Smith Jr. called", "Jr.s and Ann2", "Jr.", "jr.-ann", "'Til then, ('Til)", "(Al)"],
        dtype="str",
    )
    masked = {}
    for names in (["Ann", "Jr."], ["Ann", "'Til"], ["Ann", "(Al)"]):
        masker = _Masked.of(names, "[name]")
        assert (masker.in_re2 is None) is (names[1] == "(Al)")
        masked[names[1]] = masker(texts).tolist()
        assert masked[names[1]] == masked_everywhere(texts, names, "[name]").tolist()
    assert masked == {
        "Jr.": [
            "[name] Smith [name] called",
            "Jr.s and Ann2",
            "[name]",
            "[name]-[name]",
            "'Til then, ('Til)",
            "(Al)",
        ],
        "'Til": [
            "[name] Smith Jr. called",
            "Jr.s and Ann2",
            "Jr.",
            "jr.-[name]",
            "[name] then, ([name])",
            "(Al)",
        ],
        "(Al)": [
            "[name] Smith Jr. called",
            "Jr.s and Ann2",
            "Jr.",
            "jr.-[name]",
            "'Til then, ('Til)",
            "[name]",
        ],
    }


def _texts_around_the_clinic(count: int, seed: int) -> pd.Series:
    """Texts made at random of the clinic's name in the forms masking finds (any case and
    spacing, punctuation between letters, acronyms dotted or not), its parts and near misses,
    glued to letters, digits and underscores, between separators of every kind."""
    rng = random.Random(seed)
    pieces = [
        "Riverside Psychology Clinic", "riverside psychology clinic", "RIVERSIDE", "Riverside",
        "River side", "River-side", "RiversidePsychology", "Riverside Clinic", "riverside_clinic",
        "Psychology Clinic", "Clinic", "RPC", "rpc", "R.P.C.", "R.P.C", "r p c", "R. P. C.",
        "RPCs", "Riversides", "xRPC", "RPC2", "2RPC", "_RPC", "RPC_", "Riverside's",
        "Riverside\u2019s", "the", "call", "River", "side", "R", "P", "C", ".",
    ]  # fmt: skip
    separators = [
        " ", "  ", ", ", ". ", ".", "!", "(", ")", "-", "/", ":", "\u2013", "\u2019", "'",
        "\u00a0", "\t", "\n", "", "x", "_", "7", "é", "\u0663",
    ]  # fmt: skip
    made = [_random_text(rng, pieces, separators) for _ in range(count)]
    return pd.Series([*made, None, ""], dtype="str")


def test_clinic_name_masked_on_re2_as_pythons_regex_masks_it():
    """The clinic's name, whose edges are letters and digits (an '_' beside it is no part of
    it), is masked on RE2 in the texts with no '_' that RE2 reads as Python does, and by
    Python's regex in the rest: 5,000 texts come out as Python's regex, run on each, gives
    them."""
    from auditkit.clinic_name import clinic_name_forms, name_patterns
    from auditkit.matching import re2_reads
    from auditkit.privacy import _ClinicMasked

    clinic = ("Riverside Psychology Clinic", ["Riverside Clinic", "RPC"])
    texts = _texts_around_the_clinic(5000, seed=13)
    pattern, _ = name_patterns(clinic_name_forms(*clinic))
    masker = _ClinicMasked.of(*clinic)
    assert masker.in_re2 is not None
    masked = masker(texts)
    assert masked.tolist() == texts.str.replace(pattern, "[clinic]", regex=True).tolist()
    on_re2 = re2_reads(texts) & ~texts.str.contains("_").fillna(False).astype(bool)
    assert int(on_re2.sum()) == 2218
    assert int((masked != texts).sum()) == 3942
    assert int((on_re2 & (masked != texts)).sum()) == 1580  # masked on RE2
    assert _ClinicMasked.of("", []) is None


def _texts_around_dates(count: int, seed: int) -> pd.Series:
    """Texts made at random of dates, times, phone numbers and emails in every form the
    scrubber knows, their parts, near misses, glued to letters, digits and underscores, between
    separators of every kind."""
    rng = random.Random(seed)
    pieces = [
        "2026-03-02", "2026-03-02T13:00:00-08:00", "2026-3-2 9:05", "2026-03-02T13:00:00.5Z",
        "3/14", "3/14/26", "03/14/2026", "3-14-2026", "14.03.2026", "March 14", "Mar. 14th",
        "mar 14, 2026", "the 14th of March", "14 Mar.", "14th of mar., 2026", "March 2026",
        "the 3rd", "SEPT 3rd", "sept.", "May", "may", "june", "2019", "1999", "2100", "5pm",
        "5 PM", "5:PM", "5:30 p.m.", "5:30 p. m.", "13:05", "13:05:40", "12:5", "am", "pm",
        "p.m.", "the", "of", "call", "x", "_", "7", "12", "123", "2026-13-45", "3//4", "Z",
        "(805) 555-0127", "805.555.0127", "+1 805 555 0127", "8055550127", "555-0127",
        "+1(805)555-0127", "1-805-555-0127", "555 0127", "(805)", "+1", "0127", "555",
        "ann.lee@example.org", "a+b@x-y.co.uk", "@", "x@y", "foo@bar.", "_@_._", "@example.org",
        "805-555-0127x12", "555-0127 ext. 12", "(805) 555 - 0127", "(805)-555-0127",
        "805/555-0127", "x", "ext.", "extension", "#", " - ", "CT000442", "$120.50",
        "14-Mar-2026", "14 Mar 2026", "2026.03.14", "14/Mar/26", "Mar-14", "Mar-14-2026",
        "20260302", "20261399", "Mar", "14",
    ]  # fmt: skip
    separators = [
        " ", "  ", ", ", ". ", ".", "!", "?", "(", ")", "-", "/", ":", "\u2013", "\u2019",
        "\u00a0", "\t", "\n", "", "", "x", "_", "7", "é", "\u0663", "+", "+1",
    ]  # fmt: skip
    made = [_random_text(rng, pieces, separators) for _ in range(count)]
    return pd.Series([*made, None, ""], dtype="str")


def test_emails_phones_dates_and_times_replaced_on_re2_as_pythons_regex_replaces_them():
    """The scrubber's email, phone, date and time regexes, read by RE2 where the text allows
    (for a whole-word one, \\b for one look-around and a character taken and put back for the
    other), give 5,000 texts what Python's regexes give run on each."""
    from auditkit.privacy import (
        _DATE,
        _EMAIL,
        _PHONE,
        _TIME,
        _re2_reading,
        _replace_where_possible,
    )

    texts = _texts_around_dates(5000, seed=11)
    changed = {}
    readings = ((_EMAIL, "[email]"), (_PHONE, "[phone]"), (_DATE, "[date]"), (_TIME, "[time]"))
    for pattern, label in readings:
        assert _re2_reading(pattern) is not None
        replaced = _replace_where_possible(texts, pattern, label)
        assert replaced.tolist() == texts.str.replace(pattern, label, regex=True).tolist()
        changed[label] = int((replaced != texts).sum())
    assert changed == {"[email]": 793, "[phone]": 1885, "[date]": 3211, "[time]": 1560}


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("805-555-0127x12 or 805-555-0127 ext. 12", "[phone] or [phone]"),
        ("(805) 555 - 0127, (805)-555-0127, 805/555-0127", "[phone], [phone], [phone]"),
        ("555-0127, x 3; 555-0127 Extension 40; 555-0127 #5", "[phone]; [phone]; [phone]"),
        # with no digits after it, "ext." is no extension; glued to letters, no number as before
        ("555-0127x, 555-0127 ext. or 555-0127xyz", "555-0127x, [phone] ext. or 555-0127xyz"),
        (  # not phone numbers
            "on 2026-03-14 at 13:05 paid $120.50 for CT000442, 3.14159, 100-200 and 12-345",
            "on [date] at [time] paid $120.50 for CT000442, 3.14159, 100-200 and 12-345",
        ),
        ("14-Mar-2026, 14 Mar 2026 and 14-mar-26", "[date], [date] and [date]"),
        ("2026.03.14, 14.03.2026, 2026/03/14", "[date], [date], [date]"),
        ("Mar-14, MAR - 14th, 2026 and 20260302", "[date], [date] and [date]"),
        ("20261399, 202603021 and Mar-", "20261399, 202603021 and Mar-"),  # no date
    ],
)
def test_phones_dates_and_times_masked_whole_on_re2_as_by_pythons_regex(text, scrubbed):
    """Forms once masked in part or not at all, masked whole on RE2 (the text is ASCII) and by
    Python's regexes alike."""
    from auditkit.matching import re2_reads
    from auditkit.privacy import _DATE, _PHONE, _TIME, _replace_where_possible

    texts = pd.Series([text], dtype="str")
    assert re2_reads(texts).all()
    on_re2, in_python = texts, texts
    for pattern, label in ((_PHONE, "[phone]"), (_DATE, "[date]"), (_TIME, "[time]")):
        on_re2 = _replace_where_possible(on_re2, pattern, label)
        in_python = in_python.str.replace(pattern, label, regex=True)
    assert on_re2.tolist() == in_python.tolist() == [scrubbed]


@pytest.mark.parametrize(
    ("pattern", "begins", "ends"),
    [
        (r"\d{4}|[a-z]+", True, True),
        (r"(?:the\s+)?\d", True, True),  # the optional part begins with a word character too
        (r"\b(?:jan|feb)\.?", True, False),  # an assertion is no character; a period may end it
        (r"[\w.]+", False, False),
        (r"\(?\d{3}", False, True),
        (r"x?", False, False),  # it can match nothing
        (r"(?=\d)\d", False, True),  # a look-around: not told (from the end, not reached)
        (r"[^a]", False, False),
    ],
)
def test_which_regexes_begin_and_end_with_a_word_character(pattern, begins, ends):
    from re._parser import parse

    from auditkit.privacy import _word_at_edge

    parsed = parse(pattern, re.IGNORECASE)
    (first, empty), (last, _) = _word_at_edge(parsed), _word_at_edge(parsed, end=True)
    assert (first and not empty, last and not empty) == (begins, ends)


def test_name_words_split_as_python_splits_them():
    """The words of names, split in Arrow, are those Python's re and str methods give."""
    from auditkit.privacy import _name_words

    names = pd.Series(
        [
            "Mary-Jo van Dyke",
            "O\u2019Neil",
            "  Ann\u00a0Lee\u2003Ross ",  # a no-break space and an em space
            "J. (Jay) Smith,",
            "Zoë\u2028Åsa",
            "A B",  # one letter each: initials, no word to mask
            "芳 王",  # one letter each, but of a script written without spaces: names
            "김 민준",
            None,
        ],
        dtype="str",
    )
    by_python = (
        names.dropna()
        .map(lambda name: re.split(r"[\s\-]+", name.replace("\u2019", "'")))
        .explode()
        .map(lambda word: [word, *word.split("'")])
        .explode()
        .map(lambda word: word.strip(".,;:'\"()"))
    )
    unspaced = re.compile("[\u4e00-\u9fff\uac00-\ud7af]")
    expected = sorted({word for word in by_python if len(word) >= 2 or unspaced.match(word)})
    assert _name_words(names) == expected
    assert expected == [
        "Ann", "Dyke", "Jay", "Jo", "Lee", "Mary", "Neil", "O'Neil", "Ross", "Smith", "Zoë", "van",
        "Åsa", "王", "芳", "김", "민준",
    ]  # fmt: skip


def test_scrubbing_only_the_texts_that_can_hold_each_thing_gives_what_the_regexes_give():
    """An extract's texts meet each Python regex only where Arrow sees its sure sign (an @, a
    digit, a month's name, the clinic's name in RE2) or a character beyond ASCII; every text
    comes out the same."""
    from auditkit.clinic_name import clinic_name_forms, name_patterns
    from auditkit.privacy import _DATE, _EMAIL, _PHONE, _TIME, text_scrubber

    clinic = {"clinic": "Riverside Psychology Clinic", "aliases": ["RPC"]}

    texts = pd.Series(
        [
            *TRICKY_TEXTS,
            "Write to ann.lee@example.org by March 14th, 2026",
            "the 3rd of may at 3 p.m., or Mar. 4 at 13:05",
            "call at \u0661\u0663:\u0660\u0660",  # Arabic-Indic digits are digits to Python's \d
            "\u017fept 2026",  # a long s is an s to IGNORECASE
            "May I call? may be late",
            "see you in March",  # a month alone, no digit
            "From Riverside\u2019s R.P.C. office at 5:PM",
            "riverside\tpsychology clinic or RPC, not Riversides",
            None,
        ],
        dtype="str",
    )
    clinic_pattern, _ = name_patterns(clinic_name_forms(clinic["clinic"], clinic["aliases"]))
    everywhere = (
        masked_everywhere(
            texts.str.replace(_EMAIL, "[email]", regex=True).str.replace(
                clinic_pattern, "[clinic]", regex=True
            ),
            MASKED_NAMES,
            "[name]",
        )
        .str.replace(_PHONE, "[phone]", regex=True)
        .str.replace(_DATE, "[date]", regex=True)
        .str.replace(_TIME, "[time]", regex=True)
    )
    scrubbed = text_scrubber(MASKED_NAMES, **clinic)(texts)
    assert scrubbed.tolist() == everywhere.tolist()
    assert scrubbed.tolist()[-9:-1] == [
        "Write to [email] by [date]",
        "[date] at [time], or [date] at [time]",
        "call at [time]",
        "[date]",
        "May I call? may be late",  # "may" alone is the verb
        "see you in [date]",
        "From [clinic]\u2019s [clinic] office at [time]",
        "[clinic] or [clinic], not Riversides",
    ]


def test_each_scrubbing_pattern_reads_on_re2_and_finds_wherever_python_does():
    """The sure sign a research extract looks for before Python's regex (privacy's default) is
    each pattern's own reading on RE2, look-arounds left out: it must exist, and find every
    ASCII text the pattern finds something in (and, here, no other)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from auditkit.matching import re2_superset
    from auditkit.privacy import _DATE, _EMAIL, _PHONE, _TIME

    texts = [
        "Write to ann.lee@example.org by MARCH 14th, 2026",
        "the 3rd of may at 3 p.m., or Mar. 4 at 13:05",
        "call 805.555.0127 or (805) 555-0127, +1 805 555 0127",
        "2026-03-02T13:00:00-08:00 and 3/14/26 and 14.03.2026",
        "room 12, 4 pm",
        "no date here, 12 of them",
        "x@y",
        "",
    ]
    expected = {
        _EMAIL: [True, False, False, False, False, False, False, False],
        _PHONE: [False, False, True, False, False, False, False, False],
        _DATE: [True, True, False, True, False, False, False, False],
        _TIME: [False, True, False, True, True, False, False, False],
    }
    for pattern, found in expected.items():
        superset = re2_superset(pattern)
        assert superset is not None, pattern.pattern
        by_re2 = pc.match_substring_regex(pa.array(texts), superset).to_pylist()
        assert [bool(pattern.search(text)) for text in texts] == found
        assert by_re2 == found, pattern.pattern
    # A flag that changes how a pattern reads leaves it to Python: "a b" verbose is "ab".
    assert re2_superset(re.compile("a b", re.VERBOSE)) is None
    assert re2_superset(re.compile("^a", re.MULTILINE)) is None
    assert re2_superset(re.compile("(?<!x)a", re.IGNORECASE)) == "(?i)a"
