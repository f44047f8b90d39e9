"""The small helpers every rule writes its findings with."""

import pandas as pd
import pytest

from auditkit.rules.base import clock, hours_minutes, is_in

LA = "America/Los_Angeles"


def test_clock_reads_like_a_supervisor_writes():
    times = pd.Series(
        pd.to_datetime(
            ["2026-03-02 13:00", "2026-11-01 01:30", None, "9999-12-31 10:00", "0999-01-05 07:09"],
            format="ISO8601",
        ).tz_localize(LA, ambiguous=[False, True, False, False, False]),
        index=[5, 3, 9, 1, 7],
    )
    written = clock(times)
    assert list(written.index) == [5, 3, 9, 1, 7]
    assert written.tolist()[:2] == ["Mon 2 Mar 2026 13:00", "Sun 1 Nov 2026 01:30"]
    assert pd.isna(written[9])
    assert written[1] == "after the year 9999"
    assert written[7] == "Sat 5 Jan 999 07:09"


@pytest.mark.parametrize("zone", [LA, "UTC", "Asia/Kolkata"])
def test_clock_matches_strftime_across_a_year(zone):
    times = pd.Series(pd.date_range("2025-12-28", periods=5000, freq="107min", tz=zone))
    expected = times.dt.strftime("%a %-d %b %Y %H:%M")
    pd.testing.assert_series_equal(clock(times), expected, check_dtype=False)


def test_hours_minutes():
    delta = pd.Series(pd.to_timedelta(["8min", "3h5min", "59s", "25h"]))
    assert hours_minutes(delta).tolist() == ["8 min", "3 h 05 min", "0 min", "25 h 00 min"]


def test_is_in_keeps_the_index_and_never_finds_a_blank():
    ids = pd.Series(["A1", None, "A3", "A4"], index=[10, 20, 30, 40], dtype="str")
    among = pd.Series(["A3", None, "A1", "A1"], dtype="str")
    assert is_in(ids, among).to_dict() == {10: True, 20: False, 30: True, 40: False}
    assert not is_in(ids, pd.Series([], dtype="str")).any()
    assert is_in(pd.Series([], dtype="str"), among).empty
    assert is_in(pd.Series(["x", "y"], dtype="object"), among.str.replace("A3", "y")).tolist() == [
        False,
        True,
    ]
