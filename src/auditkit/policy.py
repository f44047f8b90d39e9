"""The clinic's phone-contact policy as numbers and names the rules can use.

Read from TOML: ``--policy FILE``, else ``policy.toml`` in the bundle, else built-in defaults.
Every key is checked: an unknown key or a bad value stops the run with a message naming it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditkit.errors import AuditkitError, PolicyError
from auditkit.schemas import APPROVAL_KINDS, STAFF_ROLES


@dataclass(frozen=True)
class ClinicSection:
    name: str = ""  # as it could be said in a message; blank disables clinic-name detection
    aliases: tuple[str, ...] = ()
    timezone: str = "America/Los_Angeles"


@dataclass(frozen=True)
class MissedSessionSection:
    wait_minutes: int = 20
    call_within_hours: int = 24
    note_within_hours: int = 48
    persistent_no_shows: int = 2
    lookback_days: int = 90


@dataclass(frozen=True)
class ApprovalsSection:
    closure_warning: tuple[str, ...] = ("supervisor",)
    phone_coaching: tuple[str, ...] = ("program_director",)


@dataclass(frozen=True)
class CallsSection:
    # A logged contact and a phone-system call of the same client and direction are one call
    # when they are this many minutes apart or less: logs are typed from memory, clocks drift.
    match_minutes: int = 10


@dataclass(frozen=True)
class PrivacySection:
    # People named in messages who are neither clients nor staff of the bundle (a supervisor the
    # policy names, a family member): masked as [name] in findings unless names are shown.
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    clinic: ClinicSection = field(default_factory=ClinicSection)
    missed_session: MissedSessionSection = field(default_factory=MissedSessionSection)
    approvals: ApprovalsSection = field(default_factory=ApprovalsSection)
    calls: CallsSection = field(default_factory=CallsSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    # Extra phrase regexes per text category, extending the built-in patterns.
    phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "built-in defaults"
    # Whether the policy named [clinic] timezone: if not, every time without an offset was read,
    # and every month and deadline counted, in the built-in zone, which the audit must say.
    zone_named: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.timezone)


_SECTIONS = {
    "clinic": ClinicSection,
    "missed_session": MissedSessionSection,
    "approvals": ApprovalsSection,
    "calls": CallsSection,
    "privacy": PrivacySection,
}


# The longest span a policy key may give, per unit its name ends in: ten years, which no
# clinic's policy needs; a span of centuries is past what a pandas time can hold.
MAX_SPAN = {"minutes": 10 * 365 * 24 * 60, "hours": 10 * 365 * 24, "days": 10 * 365}


def _check_value(key: str, expected: Any, value: Any) -> Any:
    if expected is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PolicyError(
                f"Policy key '{key}' must be a whole number of 0 or more, not {value!r}."
            )
        most = MAX_SPAN.get(key.rsplit("_", 1)[-1])
        if most is not None and value > most:
            raise PolicyError(
                f"Policy key '{key}' must be at most {most} (ten years), not {value!r}."
            )
        return value
    if expected is str:
        if not isinstance(value, str):
            raise PolicyError(f"Policy key '{key}' must be text, not {value!r}.")
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"Policy key '{key}' must be a list of text values, not {value!r}.")
    return tuple(value)


def _section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise PolicyError(f"Policy section [{name}] must be a table of keys.")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise PolicyError(
                f"Unknown policy key '{name}.{key}'. Known keys in [{name}]: {', '.join(known)}."
            )
        hint = known[key].type
        expected = int if hint == "int" else str if hint == "str" else tuple
        values[key] = _check_value(f"{name}.{key}", expected, value)
    return cls(**values)


def policy_from_dict(raw: dict[str, Any], source: str = "policy") -> Policy:
    """Build a checked Policy from parsed TOML."""
    from auditkit.regex_safety import phrase_problem
    from auditkit.text import CATEGORIES

    unknown = set(raw) - set(_SECTIONS) - {"phrases"}
    if unknown:
        raise PolicyError(
            f"Unknown policy section [{sorted(unknown)[0]}] in {source}. "
            f"Known sections: {', '.join([*_SECTIONS, 'phrases'])}."
        )
    sections = {name: _section(name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    problem = zone_problem(sections["clinic"].timezone)
    if problem:
        raise PolicyError(
            f"Policy key 'clinic.timezone' is {sections['clinic'].timezone!r}, which {problem}."
        )
    for key, forms in (
        ("clinic.name", [sections["clinic"].name] if sections["clinic"].name.strip() else []),
        ("clinic.aliases", sections["clinic"].aliases),
        ("privacy.names", sections["privacy"].names),
    ):
        for form in forms:
            if not any(c.isalnum() for c in form):
                raise PolicyError(
                    f"Policy key '{key}' holds {form!r}, which has no letter or digit to look "
                    "for in a message; write the name as it could be said, or leave it out."
                )
    missed = sections["missed_session"]
    if missed.wait_minutes >= missed.call_within_hours * 60:
        raise PolicyError(
            f"Policy keys 'missed_session.wait_minutes' ({missed.wait_minutes}) and "
            f"'missed_session.call_within_hours' ({missed.call_within_hours}) contradict each "
            "other: the outreach call comes after the wait and within those hours of the "
            "session, so no call could keep both. Make the wait shorter than the hours."
        )
    for key in APPROVAL_KINDS:
        bad = [r for r in getattr(sections["approvals"], key) if r not in STAFF_ROLES]
        if bad:
            raise PolicyError(
                f"Policy key 'approvals.{key}' names role {bad[0]!r}; roles are "
                f"{', '.join(STAFF_ROLES)}."
            )
    phrases = raw.get("phrases", {})
    if not isinstance(phrases, dict):
        raise PolicyError("Policy section [phrases] must be a table of keys.")
    checked_phrases = {}
    for key, value in phrases.items():
        if key not in CATEGORIES:
            raise PolicyError(
                f"Unknown policy key 'phrases.{key}'. Known keys: {', '.join(CATEGORIES)}."
            )
        checked_phrases[key] = _check_value(f"phrases.{key}", tuple, value)
        names: set[str] = set()
        for phrase in checked_phrases[key]:
            if problem := phrase_problem(phrase):
                raise PolicyError(f"Policy key 'phrases.{key}' holds {phrase!r}, which {problem}.")
            groups = set(re.compile(phrase).groupindex)
            if names & groups:
                raise PolicyError(
                    f"Policy key 'phrases.{key}' holds {phrase!r}, which names a group "
                    f"{sorted(names & groups)[0]!r} as another of its phrases does; give each its "
                    "own name."
                )
            names |= groups
    zone_named = "timezone" in raw.get("clinic", {})
    return Policy(**sections, phrases=checked_phrases, source=source, zone_named=zone_named)


# tzdata's zones named for a US standard time: fixed all year, so a clinic on summer time would
# have every summer time an hour off. (HST is Hawaii's all year; EST5EDT and the like do change.)
_STANDARD_TIME_ONLY = {
    "EST": "'America/New_York'",
    "MST": "'America/Denver' (or 'America/Phoenix', where clocks never change)",
}


def zone_problem(name: str) -> str | None:
    """Why `name` cannot be a clinic's time zone (words to follow "which"), or None."""
    if name in _STANDARD_TIME_ONLY:
        return (
            "is standard time all year round, with no summer time: name the clinic's place, "
            f"such as {_STANDARD_TIME_ONLY[name]}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a tzdata folder
        return "is not an IANA time zone name such as 'America/Los_Angeles' or 'UTC'"
    return None


def load_policy(path: Path | str | None = None, bundle: Path | str | None = None) -> Policy:
    """The policy in force: an explicit file, else the bundle's policy.toml, else defaults."""
    # exists(), not is_file(): a folder named policy.toml is refused, not quietly the defaults.
    if path is None and bundle is not None and (Path(bundle) / "policy.toml").exists():
        path = Path(bundle) / "policy.toml"
    if path is None:
        return Policy()
    path = Path(path)
    return policy_from_dict(read_toml(path, "Policy", PolicyError), source=str(path))


def read_toml(path: Path, kind: str, error: type[AuditkitError]) -> dict[str, Any]:
    """A TOML file auditkit is configured by; a missing or broken one is `error`, naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a file on its path
        raise error(f"{kind} file {path} does not exist.") from None
    except IsADirectoryError:
        raise error(f"{kind} file {path} is a folder; name the TOML file itself.") from None
    except OSError as exc:  # no permission, say
        raise error(f"{kind} file {path} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:  # (TOML is UTF-8 by its specification)
        raise error(
            f"{kind} file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"position {exc.start} is not), as a TOML file must be: save it as UTF-8 and run "
            "again."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{kind} file {path} is not valid TOML: {exc}.") from None


def setting(policy: Policy, key: str) -> str:
    """A policy key's value ('missed_session.call_within_hours') as policy.toml spells it."""
    section, name = key.split(".")
    value = getattr(getattr(policy, section), name)
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)
