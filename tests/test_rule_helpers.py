"""The small helpers every rule writes its findings with."""

import numpy as np
import pandas as pd
import pytest
from rule_fixtures import build_bundle

from auditkit.columns import (
    as_block,
    fixed_width_text,
    is_in,
    looked_up,
    per_distinct,
    positions_in,
    spreadsheet_column,
    strictly_increasing,
)
from auditkit.rules.base import (
    clock,
    dated,
    day_of,
    hours_minutes,
    month_of,
    months_of,
    repeated_hour,
    wall_time,
)
from auditkit.rules.context import pairs_within

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
    # 01:30 on 1 Nov 2026 happened twice in Los Angeles: said with its zone
    assert written.tolist()[:2] == ["Mon 2 Mar 2026 13:00", "Sun 1 Nov 2026 01:30 PDT"]
    assert pd.isna(written[9])
    assert written[1] == "after the year 9999"
    assert written[7] == "Sat 5 Jan 999 07:09"


def test_wall_time_dated_and_day_of_keep_the_repeated_hour_s_zone():
    times = pd.Series(
        pd.to_datetime(
            ["2026-03-02 13:08", "2026-11-01 01:38", "2026-11-01 01:38", "9999-12-31 10:00"]
        ).tz_localize(LA, ambiguous=[False, True, False, False])
    )
    assert wall_time(times[:3]).tolist() == ["13:08", "01:38 PDT", "01:38 PST"]
    assert dated(times[:3]).tolist() == [
        "2026-03-02 13:08",
        "2026-11-01 01:38 PDT",
        "2026-11-01 01:38 PST",
    ]
    assert day_of(times).tolist() == [
        "Mon 2 Mar 2026",
        "Sun 1 Nov 2026",
        "Sun 1 Nov 2026",
        "after the year 9999",
    ]


@pytest.mark.parametrize("zone", [LA, "UTC", "Asia/Kolkata", "Europe/Berlin"])
def test_clock_matches_strftime_across_a_year(zone):
    # a year, and every 17 minutes over the autumn's changes (26 Oct 2025 in Europe, 2 Nov in
    # America), whose repeated hour is said with its zone
    year = pd.date_range("2025-12-28", periods=5000, freq="107min", tz=zone)
    autumn = pd.date_range("2025-10-20", periods=5000, freq="17min", tz=zone)
    times = pd.Series(year.append(autumn))
    twice = repeated_hour(times)
    assert twice.sum() == {LA: 8, "Europe/Berlin": 8}.get(zone, 0)  # 01:xx or 02:xx, twice

    def strftime(form: str) -> pd.Series:
        written = times.dt.strftime(form)
        return written.where(~twice, written + " " + times.dt.strftime("%Z"))

    pd.testing.assert_series_equal(clock(times), strftime("%a %-d %b %Y %H:%M"), check_dtype=False)
    times += pd.to_timedelta(np.arange(len(times)) % 60, unit="s")  # a phone system's seconds
    expected = strftime("%a %-d %b %Y %H:%M:%S")
    pd.testing.assert_series_equal(clock(times, seconds=True), expected, check_dtype=False)


def test_repeated_hour_is_the_hour_shown_twice_as_summer_time_ends():
    at = pd.Series(
        pd.to_datetime(
            [
                "2026-11-01T00:59:00-07:00",
                "2026-11-01T01:00:00-07:00",  # PDT
                "2026-11-01T01:59:00-08:00",  # PST, an hour and 59 minutes later
                "2026-11-01T02:00:00-08:00",
                "2026-03-08T03:30:00-07:00",  # the spring's skipped hour is no repeat
                None,
            ],
            utc=True,
        )
    ).dt.tz_convert(LA)
    assert repeated_hour(at).tolist() == [False, True, True, False, False, False]
    assert repeated_hour(pd.Series(pd.to_datetime(["2026-11-01 01:30"]))).tolist() == [False]


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


def merged_then_filtered(left, right, within, suffixes=("", "_y")):
    """pairs_within's definition, the slow way (merge would pair blank ids with each other)."""
    pairs = left.dropna(subset="client_id").merge(
        right.dropna(subset="client_id"), on="client_id", suffixes=suffixes
    )
    after = pairs["at" + suffixes[1]] - pairs["at" + suffixes[0]]
    return pairs[(after >= pd.Timedelta(0)) & (after <= within)].reset_index(drop=True)


def test_pairs_within_keeps_the_window_edges_and_merges_order():
    start = pd.Timestamp("2026-03-02 09:00", tz=LA)
    left = pd.DataFrame(
        {"appointment_id": ["A1", "A2", "A3"], "client_id": ["C1", "C2", "C1"]}
    ).assign(at=[start, start, start + pd.Timedelta(days=1)])
    right = pd.DataFrame(
        {
            "contact_id": ["K1", "K2", "K3", "K4", "K5"],
            "client_id": ["C1", "C1", "C2", "C1", None],
            "at": [
                start + pd.Timedelta(hours=24),  # on A1's last instant and A3's first
                start - pd.Timedelta(seconds=1),  # before A1
                start + pd.Timedelta(minutes=20),
                start + pd.Timedelta(hours=2),
                start,  # no client: matches nothing
            ],
        }
    )
    pairs = pairs_within(left, right, "client_id", "at", "at", pd.Timedelta(hours=24))
    assert list(zip(pairs["appointment_id"], pairs["contact_id"], strict=True)) == [
        ("A1", "K1"),
        ("A1", "K4"),
        ("A2", "K3"),
        ("A3", "K1"),
    ]
    assert list(pairs.columns) == ["appointment_id", "client_id", "at", "contact_id", "at_y"]


@pytest.mark.parametrize("seed", range(5))
def test_pairs_within_equals_merging_then_filtering(seed):
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-03-07", tz=LA)  # a daylight-saving change falls in range

    def events(n: int, prefix: str) -> pd.DataFrame:
        minutes = rng.integers(0, 60 * 24 * 20, n) // 30 * 30  # on the half hour: many ties
        times = base + pd.to_timedelta(minutes, unit="min")
        clients = pd.Series(rng.choice(["C1", "C2", "C3", None], n), dtype="str")
        return pd.DataFrame(
            {f"{prefix}_id": [f"{prefix}{i}" for i in range(n)], "client_id": clients}
        ).assign(at=pd.Series(times).where(rng.random(n) > 0.05), staff_id="S1")

    left, right = events(300, "A"), events(500, "K")
    within = pd.Timedelta(hours=int(rng.integers(1, 72)))
    expected = merged_then_filtered(left, right, within, ("", "_caller"))
    got = pairs_within(left, right, "client_id", "at", "at", within, suffixes=("", "_caller"))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert len(got) > 100


def test_clock_past_the_year_9999_without_localizing_it():
    last = pd.Series(pd.to_datetime(["9999-12-31 10:00"]).tz_localize(LA))
    # A day after: year 10000 in UTC, which no calendar library can show in local time.
    assert clock(last + pd.Timedelta(days=1)).tolist() == ["after the year 9999"]


def test_month_of_is_the_local_month_strftime_gives():
    times = pd.Series(
        pd.to_datetime(
            ["2026-03-31 23:30", None, "0999-01-05", "2026-11-01 00:10"], format="ISO8601"
        )
    ).dt.tz_localize(LA)
    assert month_of(times).tolist()[::2] == ["2026-03", "0999-01"]
    assert pd.isna(month_of(times)[1])
    year = pd.Series(pd.date_range("2025-12-31 20:00", periods=3000, freq="3h", tz=LA))
    pd.testing.assert_series_equal(month_of(year), year.dt.strftime("%Y-%m"), check_dtype=False)
    months = months_of(times)  # the same months, as a categorical of them in order
    assert list(months.cat.categories) == ["0999-01", "2026-03", "2026-11"]
    assert months.tolist()[::2] == ["2026-03", "0999-01"] and pd.isna(months[1])
    assert months_of(year).astype("str").tolist() == month_of(year).tolist()


def test_clock_of_repeated_times_writes_each_row():
    slots = pd.Series(pd.date_range("2026-03-07 09:00", periods=4, freq="25h", tz=LA))
    times = pd.concat([slots, slots.iloc[::-1], pd.Series([pd.NaT], dtype=slots.dtype)])
    times.index = range(10, 19)
    written = clock(times)
    assert list(written.index) == list(range(10, 19))
    assert written.tolist()[:8] == [
        "Sat 7 Mar 2026 09:00",
        "Sun 8 Mar 2026 11:00",  # 25 hours on, across the change to daylight saving
        "Mon 9 Mar 2026 12:00",
        "Tue 10 Mar 2026 13:00",
        "Tue 10 Mar 2026 13:00",
        "Mon 9 Mar 2026 12:00",
        "Sun 8 Mar 2026 11:00",
        "Sat 7 Mar 2026 09:00",
    ]
    assert pd.isna(written[18])


def test_per_distinct_runs_once_per_distinct_value_and_keeps_rows():
    seen = []

    def shout(values: pd.Series) -> pd.Series:
        seen.append(values.tolist())
        return values.str.upper()

    values = pd.Series(["b", None, "a", "b", "a"], index=[9, 7, 5, 3, 1], dtype="str")
    shouted = per_distinct(shout, values)
    assert seen == [["b", "a"]]
    assert list(shouted.index) == [9, 7, 5, 3, 1]
    assert shouted.tolist()[::2] == ["B", "A", "A"] and pd.isna(shouted[7])
    assert per_distinct(shout, pd.Series([], dtype="str")).empty


def test_a_shared_frame_is_derived_once_however_many_threads_ask(tmp_path):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from auditkit.rules.context import AuditContext, shared

    derived = []

    class Context(AuditContext):
        @shared
        def slow(self) -> pd.DataFrame:
            derived.append(threading.get_ident())
            time.sleep(0.05)  # long enough for every thread to ask meanwhile
            return pd.DataFrame({"n": [len(derived)]})

    ctx = Context(build_bundle(tmp_path))
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: ctx.slow, range(8)))
    assert len(derived) == 1
    assert all(frame is frames[0] for frame in frames)
    assert frames[0]["n"].tolist() == [1]


def test_text_in_chunks_is_joined_into_one():
    import pyarrow as pa

    from auditkit.columns import one_chunk

    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["a", None], ["b"]])))
    joined = one_chunk(chunked)

    def chunks(text: pd.Series) -> int:
        values = pa.array(text.array)
        return values.num_chunks if isinstance(values, pa.ChunkedArray) else 1

    assert (chunks(chunked), chunks(joined)) == (2, 1)
    assert joined.isna().tolist() == [False, True, False]
    assert joined.dropna().tolist() == ["a", "b"]
    numbers = pd.Series([1, 2])
    assert one_chunk(numbers) is numbers


def test_positions_in_finds_each_first_place_and_never_a_blank():
    among = pd.Series(["N2", "N1", None, "N2"], dtype="str")
    values = pd.Series(["N1", "N2", "N9", None], index=[10, 11, 12, 13], dtype="str")
    assert positions_in(values, among).tolist() == [1, 0, -1, -1]
    assert positions_in(values.iloc[:0], among).tolist() == []
    assert positions_in(values, among.iloc[:0]).tolist() == [-1, -1, -1, -1]


def test_looked_up_gives_each_keys_value_on_the_keys_index_and_keeps_the_dtype():
    recorded = pd.Series(
        pd.to_datetime(["2026-01-05T09:00:00-08:00", "2026-02-01T10:30:00-08:00"]),
        index=pd.Index(["C1", "C2"], dtype="str"),
    ).dt.tz_convert("America/Los_Angeles")
    keys = pd.Series(["C2", "C9", None, "C1"], index=[7, 3, 5, 1], dtype="str")

    got = looked_up(recorded, keys)

    assert got.index.tolist() == [7, 3, 5, 1]
    assert got.dtype == recorded.dtype == "datetime64[us, America/Los_Angeles]"
    assert got.tolist()[::3] == [recorded["C2"], recorded["C1"]]
    assert got.isna().tolist() == [False, True, True, False]  # C9 is no client; a blank, none
    assert got.equals(recorded.reindex(keys).set_axis(keys.index))  # as reindex gives it
    nobody = looked_up(recorded.iloc[:0], keys)  # no client consented: still times, all NaT
    assert (nobody.dtype, nobody.isna().tolist()) == (recorded.dtype, [True] * 4)


def test_fixed_width_text_reads_each_row_of_bytes_as_one_text():
    cells = np.frombuffer(b"ab1cd2", dtype=np.uint8).reshape(2, 3)

    assert fixed_width_text(cells).to_pylist() == ["ab1", "cd2"]
    assert fixed_width_text(cells[:, 1:]).to_pylist() == ["b1", "d2"]  # a slice, not in place
    assert fixed_width_text(np.zeros((0, 4), dtype=np.uint8)).to_pylist() == []


def test_strictly_increasing_ids_are_told_apart_from_repeats_gaps_and_disorder():
    import pyarrow as pa

    assert strictly_increasing(pa.array(["A1", "A2", "A3"]))
    assert strictly_increasing(pa.chunked_array([["A1", "A2"], ["A3"]]))
    assert strictly_increasing(pa.array([], pa.string()))
    assert strictly_increasing(pa.array(["A1"]))
    assert not strictly_increasing(pa.array(["A1", "A2", "A2"]))  # a repeat
    assert not strictly_increasing(pa.array(["A2", "A1"]))
    assert not strictly_increasing(pa.array(["A1", None, "A3"]))
    assert not strictly_increasing(pa.array([None], pa.string()))


def test_positions_in_one_block_become_a_slice_and_others_stay():
    assert as_block(np.array([3, 4, 5])) == slice(3, 6)
    assert as_block(np.array([7])) == slice(7, 8)
    gapped = np.array([3, 5, 6])
    assert as_block(gapped) is gapped
    empty = np.array([], dtype=np.int64)
    assert as_block(empty) is empty


def test_mapped_strings_rewrites_every_text_byte_for_byte_with_missing_ones_empty():
    import pyarrow as pa

    from auditkit.columns import mapped_strings

    upper = np.arange(256, dtype=np.uint8)
    upper[ord("a") : ord("z") + 1] -= 32
    column = pa.chunked_array([["zz", "ab"], [None, "", "é-c"]]).slice(1)  # chunked, offset
    mapped = mapped_strings(column, upper)
    assert mapped.to_pylist() == ["AB", "", "", "é-C"]  # a missing text: empty
    assert mapped.type == pa.large_string()
    assert mapped_strings(pa.array([], pa.string()), upper).to_pylist() == []


def test_holding_any_finds_the_texts_with_a_marked_byte_as_a_regex_does():
    import pyarrow as pa
    import pyarrow.compute as pc

    from auditkit.columns import holding_any

    marked = np.zeros(256, dtype=bool)
    marked[list(b',"\n')] = True
    texts = ["a,b", "plain", None, "", 'say "hi"', "é\n", "tail,", ",head", "x\ry"]
    column = pa.array(["skip", *texts], pa.large_string()).slice(1)  # an offset into buffers
    found = holding_any(column, marked)
    assert found.tolist() == [True, False, False, False, True, True, True, True, False]
    by_regex = pc.fill_null(pc.match_substring_regex(column, '[,"\n]'), False)
    assert found.tolist() == by_regex.to_pylist()
    assert holding_any(pa.array([], pa.large_string()), marked).tolist() == []


def test_lower_case_bytes_keeps_its_characters_folded_and_turns_the_rest_into_one_byte():
    from auditkit.columns import lower_case_bytes

    table = lower_case_bytes(b"ab1_", ord(" "))
    assert bytes(table[list(b"aAbB1_cZ-\xc3")]) == b"aabb1_    "


@pytest.mark.parametrize(
    "values",
    [[], [7], [3, 3, 3], [5, -1, 5, 2, -1, 9], list(range(50, 0, -1)) * 3],
    ids=["empty", "one", "one value", "repeats", "descending"],
)
def test_distinct_gives_np_uniques_answer_by_a_sort(values):
    from auditkit.columns import distinct

    array = np.array(values, dtype=np.int64)
    assert distinct(array).tolist() == np.unique(array).tolist() == sorted(set(values))
    assert distinct(array).dtype == np.int64


def test_text_hashes_are_the_same_for_the_same_bytes_wherever_a_text_is():
    """The Dask engine cuts ids into buckets by them in every process and piece: a text's hash
    is its bytes', whatever column, chunk or place it is in."""
    import pyarrow as pa

    from auditkit.columns import text_hashes

    ids = pd.Series([f"A{i:07d}" for i in range(70_000)], dtype="str")
    hashes = text_hashes(ids)
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["zz", "A0000001"], ["ü"]])))
    mixed = pd.Series(["A0000001", "", None, "ü", "Ab", "bA", "A0000001"], dtype="str")

    found = text_hashes(mixed)

    assert found[0] == found[6] == hashes[1] == text_hashes(chunked)[1]
    assert found[3] == text_hashes(chunked)[2]
    assert found[2] == 0 and found[1] != 0  # missing, and the empty text
    assert found[4] != found[5]  # the same bytes in another order
    assert (text_hashes(ids.iloc[::7]) == hashes[::7]).all()
    buckets = np.bincount((hashes % np.uint64(7)).astype(np.int64), minlength=7)
    assert buckets.min() > 9_500 and buckets.max() < 10_500  # 10,000 each, about


def test_spreadsheet_column_names_a_column_as_excel_does():
    numbers = [1, 26, 27, 52, 702, 703, 16384]
    assert [spreadsheet_column(n) for n in numbers] == ["A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]
