"""Every rule carries its documentation, and the CLI explains it; every rule module is registered,
and each rule is what it declares: its subject, and the policy settings it reads."""

import inspect
import pkgutil
import re
from dataclasses import is_dataclass
from typing import Any, get_args

import pytest
from paths import SAMPLE

import auditkit.rules
from auditkit.cli import main
from auditkit.policy import Policy, load_policy, policy_from_dict
from auditkit.rules import RULES, Checked, unchecked_rules
from auditkit.rules.base import Subject
from auditkit.rules.context import AuditContext
from auditkit.schemas import CALLS, SUBJECT_TIMES
from auditkit.validation import Bundle, load

# The sample's policy fills in every key a rule may need.
FULL_POLICY = load_policy(SAMPLE / "policy.toml")

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
    assert rule.examines.strip()
    assert rule.violating != rule.compliant
    assert callable(rule.check)
    module = inspect.getmodule(rule.check)
    assert module.__name__.split(".")[-1].startswith(code.lower() + "_")
    assert module.__doc__ and module.__doc__.startswith(code)
    # Whether it can be checked under a policy: under a full one, yes; where not, the reason
    # names the policy key to fill in.
    assert rule.cannot_check(FULL_POLICY) is None
    reason = rule.cannot_check(Policy())
    assert reason is None or re.search(r" \([a-z_]+\.[a-z_]+ in policy\.toml\)$", reason), reason


def test_a_rule_s_subject_is_a_kind_of_subject_the_tables_place():
    """Rule.subject's type repeats SUBJECT_TIMES' kinds for mypy: the two stay the same."""
    assert get_args(Subject) == tuple(SUBJECT_TIMES)


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
    if rule.written:
        assert rule.quoted_policy == f"\u201c{rule.policy}\u201d"
    else:  # not the clinic's words: never shown in quotes as if they were
        assert rule.quoted_policy == (
            f"Not written in the policy, but every audit of it relies on this: {rule.policy}"
        )
    assert main(["rules", code]) == 0
    out = capsys.readouterr().out
    shown = out.split("Policy:\n", 1)[1].split("\n\nWhy it matters:", 1)[0]
    assert " ".join(shown.split()) == " ".join(rule.quoted_policy.split())


def test_only_the_phone_log_rules_rest_on_no_sentence_of_the_written_policy():
    assert [code for code, rule in RULES.items() if not rule.written] == ["LG001", "LG002"]
    assert RULES["LG001"].policy == (
        "The contact log holds every call, voicemail, text and email with or about a client."
    )


def test_rules_unknown_code_exits_2(capsys):
    assert main(["rules", "XX999"]) == 2
    assert "There is no rule 'XX999'" in capsys.readouterr().err


def test_the_rules_started_first_are_registered_rules():
    from auditkit.auditing import LONGEST_RULES

    assert set(LONGEST_RULES) <= set(RULES)


def test_only_vm001_needs_a_policy_key_the_built_in_policy_leaves_blank():
    assert unchecked_rules(Policy()) == {
        "VM001": "the policy names no clinic (clinic.name in policy.toml)"
    }
    assert unchecked_rules(FULL_POLICY) == {}
    # an alias alone is something to listen for; a blank name is not
    assert unchecked_rules(policy_from_dict({"clinic": {"aliases": ["RPC"]}})) == {}
    assert list(unchecked_rules(policy_from_dict({"clinic": {"name": "  "}}))) == ["VM001"]


@pytest.mark.parametrize("code", list(EXPECTED))
def test_every_setting_a_rule_names_is_a_policy_key(code):
    policy = Policy()
    for key in RULES[code].settings:
        section, name = key.split(".")
        assert hasattr(getattr(policy, section), name), key
    assert len(set(RULES[code].settings)) == len(RULES[code].settings)


def test_rules_code_shows_the_settings_in_force(tmp_path, capsys):
    assert main(["rules", "MS001"]) == 0
    assert capsys.readouterr().out.endswith(
        "Settings in force (built-in defaults):\n"
        "  missed_session.call_within_hours = 24\n"
        "  calls.match_minutes = 10\n"
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('[missed_session]\ncall_within_hours = 12\n[clinic]\nname = ""\n')
    assert main(["rules", "VM001", "--policy", str(policy)]) == 0
    assert capsys.readouterr().out.endswith(
        f"Settings in force ({policy}):\n"
        '  clinic.name = ""\n'
        "  clinic.aliases = []\n"
        "  calls.match_minutes = 10\n"
        "\nNot checked under this policy: the policy names no clinic (clinic.name in "
        "policy.toml).\n"
    )
    assert main(["rules", "IQ001", "--policy", str(policy)]) == 0
    assert capsys.readouterr().out.endswith(
        f"Settings in force ({policy}):\n  none but the clinic's time zone and its [phrases]\n"
    )
    assert main(["rules", "MS001", "--policy", str(tmp_path / "missing.toml")]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # the explanation is not printed above the error
    assert (
        " ".join(err.split())
        == f"auditkit: Policy file {tmp_path / 'missing.toml'} does not exist."
    )


def test_every_rule_module_is_registered():
    """A rule module left out of the registry's list would never run, and nothing else says so."""
    rule_modules = {
        module.name
        for module in pkgutil.iter_modules(auditkit.rules.__path__)
        if re.fullmatch(r"[a-z]{2}\d{3}_\w+", module.name)
    }
    registered = {inspect.getmodule(rule.check).__name__.split(".")[-1] for rule in RULES.values()}
    assert rule_modules == registered, "add it to _MODULES in src/auditkit/rules/__init__.py"


@pytest.fixture(scope="module")
def sample() -> Bundle:
    return load(SAMPLE)


class _RecordingPolicy:
    """A policy that notes each key (section.key) read through it, for the rule being checked."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._policy, name)
        return _RecordingSection(name, value, self.read) if is_dataclass(value) else value


class _RecordingSection:
    def __init__(self, name: str, section: Any, read: set[str]) -> None:
        self._name, self._section, self._read = name, section, read

    def __getattr__(self, key: str) -> Any:
        self._read.add(f"{self._name}.{key}")
        return getattr(self._section, key)


def _checked_alone(code: str, bundle: Bundle) -> tuple[Checked, set[str]]:
    """What `code` finds in `bundle` on a context of its own (frames other rules shared would
    hide the settings they were derived from), and the policy keys it read."""
    ctx = AuditContext(bundle)
    policy = _RecordingPolicy(bundle.policy)
    ctx.policy = policy  # type: ignore[assignment]
    return RULES[code].check(ctx), policy.read


@pytest.mark.parametrize("code", list(EXPECTED))
def test_a_rule_examines_and_finds_records_of_its_subject(code, sample):
    table, id_column, _ = SUBJECT_TIMES[RULES[code].subject]
    ids = set({**sample.tables, CALLS.name: sample.calls}[table][id_column])
    checked, _ = _checked_alone(code, sample)
    assert len(checked.opportunities) > 0  # something to examine, or this proves nothing
    for frame in (checked.opportunities, checked.findings):
        assert set(frame["subject_id"]) - ids == set(), f"not ids of {table}"


@pytest.mark.parametrize("code", list(EXPECTED))
def test_a_rule_declares_exactly_the_settings_it_reads(code, sample):
    """Rule.settings is what `auditkit rules CODE` and every report show as the settings in
    force: one read but not declared would change findings unseen. The clinic's time zone is
    every rule's, so none declares it."""
    checked, read = _checked_alone(code, sample)
    assert len(checked.opportunities) > 0  # every setting a rule reads is read on the sample
    assert read - {"clinic.timezone"} == set(RULES[code].settings)
