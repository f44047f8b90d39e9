"""The registry: every policy rule, by its stable code."""

from __future__ import annotations

import pandas as pd

from auditkit.policy import Policy, setting
from auditkit.rules import (
    iq001_no_neither_confirm_nor_deny_reply,
    lg001_call_not_logged,
    lg002_logged_call_not_placed,
    ms001_no_outreach_call,
    ms002_called_too_soon,
    ms003_nobody_reached,
    nt001_no_note,
    nt002_note_incomplete,
    pc001_phone_beyond_scheduling,
    tp001_third_party_message,
    vm001_clinic_named,
    vm002_no_fee_notice,
    vm003_closure_warning_unapproved,
    vm004_closure_warning_premature,
)
from auditkit.rules.base import Checked, Rule
from auditkit.severity import SEVERITY_ORDER

_MODULES = (
    ms001_no_outreach_call,
    ms002_called_too_soon,
    ms003_nobody_reached,
    vm001_clinic_named,
    vm002_no_fee_notice,
    vm003_closure_warning_unapproved,
    vm004_closure_warning_premature,
    nt001_no_note,
    nt002_note_incomplete,
    tp001_third_party_message,
    iq001_no_neither_confirm_nor_deny_reply,
    pc001_phone_beyond_scheduling,
    lg001_call_not_logged,
    lg002_logged_call_not_placed,
)

RULES: dict[str, Rule] = {module.RULE.code: module.RULE for module in _MODULES}


def unchecked_rules(policy: Policy) -> dict[str, str]:
    """The rules `policy` leaves unable to run, by code, each with the reason it gives."""
    return {code: why for code, rule in RULES.items() if (why := rule.cannot_check(policy))}


def settings_in_force(policy: Policy) -> pd.DataFrame:
    """Every policy setting a rule reads, its value under `policy` and the rules that read it:
    a report's figures depend on them (a 24-hour call window finds what a 4-hour one doesn't),
    so reports made under different settings say so on their face."""
    users: dict[str, list[str]] = {}
    for code, rule in RULES.items():
        for key in rule.settings:
            users.setdefault(key, []).append(code)
    rows = [("clinic.timezone", setting(policy, "clinic.timezone"), "every rule: its clock")]
    rows += [(key, setting(policy, key), ", ".join(codes)) for key, codes in users.items()]
    return pd.DataFrame(rows, columns=["setting", "value", "rules"])


__all__ = ["RULES", "SEVERITY_ORDER", "Checked", "Rule", "settings_in_force", "unchecked_rules"]
