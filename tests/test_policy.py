"""The policy file (issue 2): defaults, the bundle's policy.toml, --policy, and every bad value.

Valid policies are hand-written files in tests/fixtures/policies/ and
tests/fixtures/bundles/bundle_policy/policy.toml; each bad value is one small TOML text.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from paths import ROOT

from auditkit import Policy, load, load_policy
from auditkit.errors import PolicyError
from auditkit.policy import (
    ApprovalsSection,
    CallsSection,
    ClinicSection,
    MissedSessionSection,
    policy_from_dict,
)
from auditkit.schemas import APPROVAL_KINDS
from auditkit.text import CATEGORIES

POLICIES = Path(__file__).parent / "fixtures" / "policies"


def test_built_in_defaults():
    policy = load_policy()

    assert policy == Policy(
        clinic=ClinicSection(name="", aliases=(), timezone="America/Los_Angeles"),
        missed_session=MissedSessionSection(
            wait_minutes=20,
            call_within_hours=24,
            note_within_hours=48,
            persistent_no_shows=2,
            lookback_days=90,
        ),
        approvals=ApprovalsSection(
            closure_warning=("supervisor",), phone_coaching=("program_director",)
        ),
        calls=CallsSection(match_minutes=10),
        phrases={},
        source="built-in defaults",
        zone_named=False,
    )
    assert policy.tz == ZoneInfo("America/Los_Angeles")


def test_a_bundle_without_policy_toml_uses_the_defaults(make_bundle):
    bundle = load(make_bundle())

    assert bundle.policy == Policy()
    assert bundle.policy.source == "built-in defaults"


def test_every_key_is_read_from_a_policy_file():
    path = POLICIES / "full.toml"
    policy = load_policy(path)

    assert policy == Policy(
        clinic=ClinicSection(
            name="Riverside Psychology Clinic",
            aliases=("Riverside Clinic", "RPC"),
            timezone="America/Los_Angeles",
        ),
        missed_session=MissedSessionSection(
            wait_minutes=30,
            call_within_hours=12,
            note_within_hours=24,
            persistent_no_shows=3,
            lookback_days=120,
        ),
        approvals=ApprovalsSection(
            closure_warning=("supervisor",), phone_coaching=("program_director", "supervisor")
        ),
        calls=CallsSection(match_minutes=5),
        phrases={"fee_notice": ("no-show charge",)},
        source=str(path),
        zone_named=True,
    )


def test_a_policy_file_without_a_zone_is_known_to_name_none(tmp_path):
    """The built-in zone is then in force, which the audit and the import must say."""
    path = tmp_path / "policy.toml"
    path.write_text('[clinic]\nname = "Harbor Clinic"\n')
    assert load_policy(path).zone_named is False
    assert load_policy(path).clinic.timezone == "America/Los_Angeles"
    path.write_text('[clinic]\ntimezone = "America/Los_Angeles"\n')
    assert load_policy(path).zone_named is True


def test_the_bundles_policy_toml_is_used_and_missing_keys_keep_defaults(make_bundle):
    path = make_bundle("bundle_policy")
    bundle = load(path)

    assert bundle.policy.source == str(path / "policy.toml")
    assert bundle.policy.clinic == ClinicSection(
        name="Harbor Psychology Training Clinic",
        aliases=("Harbor Clinic", "HPTC"),
        timezone="America/New_York",
    )
    assert bundle.policy.missed_session == MissedSessionSection(wait_minutes=15, lookback_days=60)
    assert bundle.policy.approvals == ApprovalsSection()


def test_the_policy_time_zone_is_the_clinics_clock_for_every_timestamp(make_bundle):
    bundle = load(make_bundle("bundle_policy"))
    new_york = "America/New_York"

    starts = bundle.appointments.set_index("appointment_id")["scheduled_start"]
    assert str(starts.dtype) == f"datetime64[us, {new_york}]"
    # Naive times are read on the New York clock (its March change is also on the 8th).
    assert starts.to_dict() == {
        "A1": pd.Timestamp("2026-03-02T13:00:00-05:00").tz_convert(new_york),
        "A2": pd.Timestamp("2026-03-09T13:00:00-04:00").tz_convert(new_york),
        "A3": pd.Timestamp("2026-03-10T10:00:00-04:00").tz_convert(new_york),
    }
    assert starts["A1"].isoformat() == "2026-03-02T13:00:00-05:00"


def test_policy_option_overrides_the_bundles_policy_toml(make_bundle):
    path = make_bundle("bundle_policy")
    override = POLICIES / "override.toml"

    bundle = load(path, policy=override)

    assert bundle.policy.source == str(override)
    assert bundle.policy.clinic == ClinicSection(
        name="Prairie Counseling Center", aliases=(), timezone="America/Chicago"
    )
    # Nothing is merged from the bundle's file: its wait_minutes = 15 does not apply.
    assert bundle.policy.missed_session == MissedSessionSection()
    assert bundle.policy.approvals.closure_warning == ("supervisor", "program_director")
    assert bundle.appointments.loc[0, "scheduled_start"].isoformat() == (
        "2026-03-02T13:00:00-06:00"
    )


def test_load_accepts_a_policy_object(make_bundle):
    policy = policy_from_dict({"clinic": {"timezone": "UTC"}}, source="test")
    bundle = load(make_bundle("bundle_policy"), policy=policy)

    assert bundle.policy is policy
    assert bundle.appointments.loc[0, "scheduled_start"].isoformat() == (
        "2026-03-02T13:00:00+00:00"
    )


ROLES = "therapist, supervisor, program_director, admin"

BAD_POLICIES = {
    "unknown key": (
        '[clinic]\nname = "Riverside"\nnickname = "RPC"\n',
        "Unknown policy key 'clinic.nickname'. Known keys in [clinic]: name, aliases, timezone.",
    ),
    "unknown key, misspelt": (
        "[missed_session]\nwait_mins = 20\n",
        "Unknown policy key 'missed_session.wait_mins'. Known keys in [missed_session]: "
        "wait_minutes, call_within_hours, note_within_hours, persistent_no_shows, lookback_days.",
    ),
    "unknown section": (
        "[billing]\nfee = 50\n",
        "Unknown policy section [billing] in {path}. Known sections: clinic, missed_session, "
        "approvals, calls, privacy, phrases.",
    ),
    "negative whole number": (
        "[missed_session]\nwait_minutes = -5\n",
        "Policy key 'missed_session.wait_minutes' must be a whole number of 0 or more, not -5.",
    ),
    "fraction": (
        "[missed_session]\ncall_within_hours = 1.5\n",
        "Policy key 'missed_session.call_within_hours' must be a whole number of 0 or more, "
        "not 1.5.",
    ),
    "true for a number": (
        "[missed_session]\nlookback_days = true\n",
        "Policy key 'missed_session.lookback_days' must be a whole number of 0 or more, not True.",
    ),
    "text for a number": (
        '[missed_session]\nnote_within_hours = "48"\n',
        "Policy key 'missed_session.note_within_hours' must be a whole number of 0 or more, "
        "not '48'.",
    ),
    "unknown time zone": (
        '[clinic]\ntimezone = "Pacific Time"\n',
        "Policy key 'clinic.timezone' is 'Pacific Time', which is not an IANA time zone name "
        "such as 'America/Los_Angeles' or 'UTC'.",
    ),
    "made-up time zone": (
        '[clinic]\ntimezone = "America/Springfield"\n',
        "Policy key 'clinic.timezone' is 'America/Springfield', which is not an IANA time zone "
        "name such as 'America/Los_Angeles' or 'UTC'.",
    ),
    "unknown role": (
        '[approvals]\nclosure_warning = ["supervisor", "dean"]\n',
        f"Policy key 'approvals.closure_warning' names role 'dean'; roles are {ROLES}.",
    ),
    "unknown phone-coaching role": (
        '[approvals]\nphone_coaching = ["coach"]\n',
        f"Policy key 'approvals.phone_coaching' names role 'coach'; roles are {ROLES}.",
    ),
    "role not a list": (
        '[approvals]\nphone_coaching = "program_director"\n',
        "Policy key 'approvals.phone_coaching' must be a list of text values, not "
        "'program_director'.",
    ),
    "aliases not a list": (
        '[clinic]\naliases = "RPC"\n',
        "Policy key 'clinic.aliases' must be a list of text values, not 'RPC'.",
    ),
    "name not text": (
        "[clinic]\nname = 5\n",
        "Policy key 'clinic.name' must be text, not 5.",
    ),
    "a span too long for a time": (
        "[missed_session]\nwait_minutes = 9999999999999999\n",
        "Policy key 'missed_session.wait_minutes' must be at most 5256000 (ten years), not "
        "9999999999999999.",
    ),
    "hours too long": (
        "[missed_session]\nnote_within_hours = 87601\n",
        "Policy key 'missed_session.note_within_hours' must be at most 87600 (ten years), not "
        "87601.",
    ),
    "days too long": (
        "[missed_session]\nlookback_days = 3651\n",
        "Policy key 'missed_session.lookback_days' must be at most 3650 (ten years), not 3651.",
    ),
    "match minutes negative": (
        "[calls]\nmatch_minutes = -1\n",
        "Policy key 'calls.match_minutes' must be a whole number of 0 or more, not -1.",
    ),
    "unknown calls key": (
        "[calls]\ntolerance = 10\n",
        "Unknown policy key 'calls.tolerance'. Known keys in [calls]: match_minutes.",
    ),
    "section not a table": (
        'clinic = "Riverside"\n',
        "Policy section [clinic] must be a table of keys.",
    ),
    "time zone that is a folder of zones": (
        '[clinic]\ntimezone = "America"\n',
        "Policy key 'clinic.timezone' is 'America', which is not an IANA time zone name such "
        "as 'America/Los_Angeles' or 'UTC'.",
    ),
    "time zone of standard time all year": (
        '[clinic]\ntimezone = "EST"\n',
        "Policy key 'clinic.timezone' is 'EST', which is standard time all year round, with no "
        "summer time: name the clinic's place, such as 'America/New_York'.",
    ),
    "clinic name of punctuation alone": (
        '[clinic]\nname = "!!!"\n',
        "Policy key 'clinic.name' holds '!!!', which has no letter or digit to look for in a "
        "message; write the name as it could be said, or leave it out.",
    ),
    "alias of punctuation alone": (
        '[clinic]\nname = "Riverside Psychology Clinic"\naliases = ["RPC", "--"]\n',
        "Policy key 'clinic.aliases' holds '--', which has no letter or digit to look for in a "
        "message; write the name as it could be said, or leave it out.",
    ),
    "blank alias": (
        '[clinic]\nname = "Riverside Psychology Clinic"\naliases = [" "]\n',
        "Policy key 'clinic.aliases' holds ' ', which has no letter or digit to look for in a "
        "message; write the name as it could be said, or leave it out.",
    ),
    "blank name to mask": (
        '[privacy]\nnames = ["Jamie", ""]\n',
        "Policy key 'privacy.names' holds '', which has no letter or digit to look for in a "
        "message; write the name as it could be said, or leave it out.",
    ),
    "empty phrase": (
        '[phrases]\nfee_notice = [""]\n',
        "Policy key 'phrases.fee_notice' holds '', which can match without any characters, so "
        "a finding would quote nothing; a phrase must match at least one character.",
    ),
    "phrase that may be nothing": (
        "[phrases]\nclosure_warning = ['(close\\s+file)?']\n",
        "Policy key 'phrases.closure_warning' holds '(close\\\\s+file)?', which can match without "
        "any characters, so a finding would quote nothing; a phrase must match at least one "
        "character.",
    ),
    "phrase that only looks ahead": (
        "[phrases]\nfee_notice = ['(?=fee)']\n",
        "Policy key 'phrases.fee_notice' holds '(?=fee)', which can match without any "
        "characters, so a finding would quote nothing; a phrase must match at least one "
        "character.",
    ),
    "phrase that backtracks for hours": (
        "[phrases]\nfee_notice = ['fee', '(\\w+\\s?)*billed']\n",
        "Policy key 'phrases.fee_notice' holds '(\\\\w+\\\\s?)*billed', which can match the same "
        "text in more than one way inside a repeat, as (a|aa)* or (\\w+\\s?)* do, which on some "
        "texts keeps Python's regex engine busy for hours; make the repeated part unambiguous "
        "(\\w+(?:\\s+\\w+)*) or use one character class ([\\w\\s]*).",
    ),
    "phrase repeating a repeat a few times": (
        "[phrases]\nfee_notice = ['(a+)+$']\n",
        "Policy key 'phrases.fee_notice' holds '(a+)+$', which can match the same text in more "
        "than one way inside a repeat, as (a|aa)* or (\\w+\\s?)* do, which on some texts keeps "
        "Python's regex engine busy for hours; make the repeated part unambiguous "
        "(\\w+(?:\\s+\\w+)*) or use one character class ([\\w\\s]*).",
    ),
    "phrase with a flag for the whole pattern": (
        "[phrases]\nfee_notice = ['(?x)late fee']\n",
        "Policy key 'phrases.fee_notice' holds '(?x)late fee', which sets a flag such as "
        "(?s) for the whole pattern, which a phrase joined with the others cannot; set it for a "
        "part, as in (?s:...), or leave it out (case never matters).",
    ),
    "phrase referring to a group by number": (
        "[phrases]\nfee_notice = ['(fee) \\1']\n",
        "Policy key 'phrases.fee_notice' holds '(fee) \\\\1', which refers back to a group by its "
        "number, which changes when the phrases are joined into one pattern; name the group, "
        "as in (?P<word>\\w+) (?P=word).",
    ),
    "a wait as long as the hours to call in": (
        "[missed_session]\nwait_minutes = 120\ncall_within_hours = 2\n",
        "Policy keys 'missed_session.wait_minutes' (120) and 'missed_session.call_within_hours' "
        "(2) contradict each other: the outreach call comes after the wait and within those "
        "hours of the session, so no call could keep both. Make the wait shorter than the hours.",
    ),
    "two phrases naming one group": (
        "[phrases]\nfee_notice = ['(?P<amount>\\d+) fee', '(?P<amount>\\d+) charge']\n",
        "Policy key 'phrases.fee_notice' holds '(?P<amount>\\\\d+) charge', which names a group "
        "'amount' as another of its phrases does; give each its own name.",
    ),
}

# Python's own words (regex or TOML error) follow the colon; what is wrong and where come first.
LIBRARY_WORDED = {
    "phrase regex that does not compile": (
        '[phrases]\nfee_notice = ["(no-show fee"]\n',
        "Policy key 'phrases.fee_notice' holds '(no-show fee', which is not a valid regular "
        "expression: ",
    ),
    "file not TOML": ("[clinic\nname = 1\n", "Policy file {path} is not valid TOML: "),
}


@pytest.mark.parametrize("name", list(BAD_POLICIES))
def test_bad_policy_raises_policy_error_naming_the_key(tmp_path, name):
    text, message = BAD_POLICIES[name]
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert str(caught.value) == message.format(path=path)


def test_a_policy_file_not_in_utf_8_says_to_save_it_so(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes(b'[clinic]\nname = "Cl\xednica Riverside"\n')  # Windows-1252
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"Policy file {path} is not UTF-8 text (byte 0xed at position 19 is not), as a TOML "
        "file must be: save it as UTF-8 and run again."
    )


def test_a_blank_clinic_name_and_safe_phrases_are_accepted():
    policy = policy_from_dict(
        {
            "clinic": {"name": " "},
            "phrases": {
                "fee_notice": [
                    r"\w++(?:-\w++)* fee",  # possessive: never gives back what it took
                    r"(?:(?>\w+\s?))*billed",  # atomic, likewise
                    r"(?P<word>\w+) (?P=word) fee",  # a group named, not numbered
                    r"(?:a|b){2}",  # a bounded repeat of one character each
                ]
            },
        }
    )

    assert policy.clinic.name == " "  # blank: clinic-name detection is off, as documented
    assert len(policy.phrases["fee_notice"]) == 4


def test_unknown_phrase_category_names_the_key(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[phrases]\nsmall_talk = ["nice weather"]\n', encoding="utf-8")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert str(caught.value).startswith(
        "Unknown policy key 'phrases.small_talk'. Known keys: fee_notice, closure_warning,"
    )


def test_a_bad_policy_toml_in_the_bundle_stops_the_load(make_bundle):
    path = make_bundle(files={"policy.toml": b"[missed_session]\nwait_minutes = -1\n"})

    with pytest.raises(PolicyError) as caught:
        load(path)

    assert str(caught.value) == (
        "Policy key 'missed_session.wait_minutes' must be a whole number of 0 or more, not -1."
    )


def test_a_policy_file_that_does_not_exist(tmp_path):
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "missing.toml")

    assert str(caught.value) == f"Policy file {tmp_path / 'missing.toml'} does not exist."


def test_a_policy_file_may_start_with_a_bom(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes(b'\xef\xbb\xbf[clinic]\nname = "Caf\xc3\xa9 Clinic"\n')

    assert load_policy(path).clinic.name == "Café Clinic"


@pytest.mark.parametrize("name", list(LIBRARY_WORDED))
def test_bad_policy_worded_partly_by_python(tmp_path, name):
    text, start = LIBRARY_WORDED[name]
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    message = str(caught.value)
    assert message.startswith(start.format(path=path))
    assert len(message) > len(start.format(path=path)) + 5


def test_the_approvals_section_has_a_key_for_each_kind_of_approval():
    """Each kind's roles are checked, and looked up by rules, under its name."""
    assert [field.name for field in fields(ApprovalsSection)] == list(APPROVAL_KINDS)


def test_the_readme_lists_every_phrase_category_a_policy_may_extend():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("`[phrases]` takes the text categories the rules read: ")[1]
    listed = re.findall(r"`(\w+)`", paragraph.split("any other key")[0])
    assert listed == list(CATEGORIES)
