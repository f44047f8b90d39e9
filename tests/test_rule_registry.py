"""Every rule carries its documentation, and the CLI explains it."""

import inspect
import re

import pytest

from auditkit.cli import main
from auditkit.rules import RULES

EXPECTED = {
    "MS001": ("high", "appointment"),
    "MS002": ("medium", "contact"),
    "MS003": ("medium", "appointment"),
    "VM001": ("high", "contact"),
    "VM002": ("low", "contact"),
    "VM003": ("high", "contact"),
    "VM004": ("low", "contact"),
    "NT001": ("high", "appointment"),
    "NT002": ("medium", "note"),
    "TP001": ("high", "contact"),
    "IQ001": ("high", "contact"),
    "PC001": ("high", "contact"),
    "LG001": ("medium", "call"),
    "LG002": ("medium", "contact"),
}


def test_the_registry_holds_exactly_the_published_codes_with_their_severity_and_subject():
    assert {code: (r.severity, r.subject) for code, r in RULES.items()} == EXPECTED


@pytest.mark.parametrize("code", list(EXPECTED))
def test_every_rule_is_fully_documented(code):
    rule = RULES[code]
    assert rule.code == code
    assert re.fullmatch(r"[a-z]+(-[a-z]+)+", rule.name), rule.name
    for text in (rule.policy, rule.why, rule.violating, rule.compliant):
        assert len(text.split()) >= 3, text
    assert rule.opportunities.strip()
    assert rule.violating != rule.compliant
    assert callable(rule.check)
    module = inspect.getmodule(rule.check)
    assert module.__name__.split(".")[-1].startswith(code.lower() + "_")
    assert module.__doc__ and module.__doc__.startswith(code)


def test_rule_names_are_unique():
    names = [r.name for r in RULES.values()]
    assert len(names) == len(set(names))


def test_rules_lists_every_rule(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[1:]] == list(EXPECTED)


def test_rules_code_explains_one_rule(capsys):
    assert main(["rules", "ms002"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MS002 called-too-soon (severity medium; subject: contact)")
    for title in (
        "Policy:",
        "Why it matters:",
        "Examines:",
        "Violating example:",
        "Compliant example:",
    ):
        assert title in out
    assert "20-minutes of waiting" in out


@pytest.mark.parametrize("code", list(EXPECTED))
def test_the_policy_is_shown_in_one_pair_of_double_quotes(code, capsys):
    """The rule's text carries none (a quotation inside it takes single ones): presenters add
    them, so none is ever doubled."""
    rule = RULES[code]
    assert not set('\u201c\u201d"') & set(rule.policy)
    assert rule.quoted_policy == f"\u201c{rule.policy}\u201d"
    assert main(["rules", code]) == 0
    out = capsys.readouterr().out
    shown = out.split("Policy:\n", 1)[1].split("\n\nWhy it matters:", 1)[0]
    assert " ".join(shown.split()) == " ".join(rule.quoted_policy.split())


def test_rules_unknown_code_exits_2(capsys):
    assert main(["rules", "XX999"]) == 2
    assert "There is no rule 'XX999'" in capsys.readouterr().err


def test_the_rules_started_first_are_registered_rules():
    from auditkit.auditing import LONGEST_RULES

    assert set(LONGEST_RULES) <= set(RULES)
