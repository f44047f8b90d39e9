"""A finding's severity: the words, most serious first. A module of its own, with no imports,
so that the command line can offer them (`--fail-on`) without importing the rules, pandas and
pandera first: `auditkit --help` answers at once."""

from __future__ import annotations

from typing import Literal

Severity = Literal["high", "medium", "low"]
SEVERITY_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2}
