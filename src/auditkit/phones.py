"""Phone numbers as E.164 (+18055550127), so a call log's numbers meet the clients' numbers.

Hand-written rather than the `phonenumbers` package: this is one vectorised pass over a column,
not a Python call per number, and matching needs only the North American form clinic exports
use ("(805) 555-0127", "805.555.0127", "1-805-555-0127", "+1 805 555 0127") plus numbers
already written with "+". Whether a number is in service is for the phone system to know.
"""

from __future__ import annotations

import pandas as pd

from auditkit.columns import per_distinct
from auditkit.parsing import PYTHON_SPACES

# Python's \s written out: pandas runs a pattern holding \s on Python's re, a call per number,
# where RE2 (whose \s is narrower) would give other answers.
_SPACE = f"[{PYTHON_SPACES}]"
# An extension ("x12", "ext. 12", "#12") or a "tel:" prefix is no part of the number dialled.
_EXTENSION = rf"(?i){_SPACE}*(?:ext\.?|extension|x|#){_SPACE}*\d+{_SPACE}*$"
_TEL = rf"(?i)^{_SPACE}*tel:"
# North American numbers: area code and exchange each start with 2-9.
_NANP = r"1?[2-9]\d{2}[2-9]\d{6}"


def to_e164(numbers: pd.Series) -> pd.Series:
    """Each number in E.164; NA where it is blank or can't be a full number (e.g. 555-0101,
    with no area code, which no call log can be matched against).

    Worked out once per distinct number: a call log repeats its clients' numbers many times.
    """
    return per_distinct(_e164, numbers)


def _e164(numbers: pd.Series) -> pd.Series:
    text = numbers.astype("str").str.replace(_TEL, "", regex=True)
    text = text.str.replace(_EXTENSION, "", regex=True).str.strip()
    digits = text.str.replace(r"\D", "", regex=True)
    international = text.str.startswith("+") & digits.str.len().between(8, 15)
    # Matched, not extracted: pandas extracts with a Python call per number. The national
    # number is then the last ten digits.
    nanp = digits.str.fullmatch(_NANP, na=False)
    national = ("+1" + digits.str.slice(-10)).where(
        nanp & (~text.str.startswith("+") | digits.str.startswith("1"))
    )
    return national.fillna(("+" + digits).where(international))


# Between the numbers of one cell ("805-555-0127 / 805-555-0199", "cell ...; home ..."): a
# semicolon, slash, bar, comma or line break, or the word "or".
_SEVERAL = rf"{_SPACE}*(?:[;/|,\n]|{_SPACE}or{_SPACE}){_SPACE}*"


def numbers_on_file(people: pd.DataFrame, id_column: str = "client_id") -> pd.DataFrame:
    """(number, client_id) for every usable number of every client: a client's cell may hold
    several (a cell phone and a home one), and siblings may share one. With `id_column`
    "staff_id", the staff's own lines, (number, staff_id)."""
    phones = people["phone"].reset_index(drop=True)
    ids = people[id_column].reset_index(drop=True)
    several = phones.str.contains(_SEVERAL, regex=True).fillna(False).to_numpy(bool)
    if several.any():  # rarely: each number of such a cell a row of its own, in its place
        split = phones[several].str.split(_SEVERAL, regex=True).explode().astype("str")
        phones = pd.concat([phones[~several], split]).sort_index(kind="stable")
        ids = ids[phones.index]
    on_file = pd.DataFrame({"number": to_e164(phones).to_numpy(), id_column: ids.to_numpy()})
    return on_file.astype("str").dropna().drop_duplicates().reset_index(drop=True)


# What client_numbers and clinic_numbers read of a call: which way it went, and both numbers.
CLIENT_NUMBER_READS = ("direction", "to_number", "from_number")


def client_numbers(calls: pd.DataFrame) -> pd.Series:
    """The client's side of each call: the number dialled if outbound, the caller's if inbound."""
    return _end(calls, "to_number", "from_number")


def clinic_numbers(calls: pd.DataFrame) -> pd.Series:
    """The clinic's side of each call, the line it was on: the caller's if outbound, the number
    dialled if inbound (a clinician's own line, or the clinic's main number)."""
    return _end(calls, "from_number", "to_number")


def _end(calls: pd.DataFrame, outbound_end: str, inbound_end: str) -> pd.Series:
    outbound = calls["direction"] == "outbound"
    return to_e164(calls[outbound_end].where(outbound, calls[inbound_end]))
