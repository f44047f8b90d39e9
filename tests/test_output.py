"""Outputs: atomic writes that clean up after killed runs, and a CLI that survives a closed pipe."""

import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from auditkit import output
from auditkit.errors import OutputError
from auditkit.loading import read_csv
from auditkit.output import (
    ABANDONED_AFTER_SECONDS,
    in_order,
    neutralise_formulas,
    write_atomically,
    write_csv,
)


def test_in_order_gives_results_in_order_with_at_most_ahead_more_started():
    started: list[int] = []

    class Done:
        def __init__(self, n: int) -> None:
            self.n = n

        def result(self) -> int:
            return self.n * 10

    def start() -> Iterator[Done]:
        for n in range(5):
            started.append(n)
            yield Done(n)

    seen = []
    for result in in_order(start(), 2):
        seen.append((result, len(started)))
    # The first result is taken once three are under way; the last two with nothing to start.
    assert seen == [(0, 3), (10, 4), (20, 5), (30, 5), (40, 5)]


def test_a_write_removes_temporaries_a_killed_run_left_but_not_fresh_ones(tmp_path):
    target = tmp_path / "findings.csv"
    abandoned = tmp_path / ".findings.csv.abc123.tmp"
    in_flight = tmp_path / ".findings.csv.def456.tmp"
    other = tmp_path / ".report.html.abc123.tmp"
    for leftover in (abandoned, in_flight, other):
        leftover.write_bytes(b"half")
    old = time.time() - ABANDONED_AFTER_SECONDS - 5
    os.utime(abandoned, (old, old))
    os.utime(other, (old, old))
    write_atomically(target, b"rule,subject_id\n")
    assert target.read_bytes() == b"rule,subject_id\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".findings.csv.def456.tmp", ".report.html.abc123.tmp", "findings.csv"]
    )


def test_rules_into_a_pipe_whose_reader_has_gone_exits_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (say, `head`) has already exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "auditkit.cli", "rules"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert done.stderr == ""


def test_write_csv_writes_times_as_pandas_does(tmp_path):
    """Times are formatted a column at a time; the file is what to_csv would have written."""
    times = pd.Series(
        pd.to_datetime(
            [
                "2026-03-08 01:59:59",
                "2026-03-08 03:00:00.250000",
                None,
                "2026-11-01 01:30",
                "0999-01-05 07:09",
            ],
            format="ISO8601",
        )
    ).dt.tz_localize("America/Los_Angeles", ambiguous=[False, False, False, True, False])
    frame = pd.DataFrame(
        {
            "at": times,
            "in_kolkata": times.dt.tz_convert("Asia/Kolkata"),
            "note": ["=1+1", "plain", None, "@home", "x"],
            "naive": times.dt.tz_localize(None),
        }
    )
    whole_seconds = frame.drop(index=1)
    for case in (frame, whole_seconds):
        write_csv(case, tmp_path / "out.csv")
        expected = neutralise_formulas(case).to_csv(index=False)
        assert (tmp_path / "out.csv").read_text("utf-8") == expected
    assert expected.splitlines()[1:] == [
        "2026-03-08 01:59:59-08:00,2026-03-08 15:29:59+05:30,'=1+1,2026-03-08 01:59:59",
        ",,,",
        "2026-11-01 01:30:00-07:00,2026-11-01 14:00:00+05:30,'@home,2026-11-01 01:30:00",
        "0999-01-05 07:09:00-07:52:58,0999-01-05 20:55:26+05:53:28,x,0999-01-05 07:09:00",
    ]


def test_a_text_column_concatenated_is_its_values_end_to_end():
    import pyarrow as pa

    from auditkit.output import concatenated_utf8

    chunked = pd.Series(
        pd.arrays.ArrowStringArray(
            pa.chunked_array([["<tr>a</tr>", None], ["<tr>\u00e9\u2019</tr>"]])
        )
    )
    assert concatenated_utf8(chunked) == "<tr>a</tr><tr>\u00e9\u2019</tr>".encode()
    assert concatenated_utf8(chunked.iloc[1:]) == "<tr>\u00e9\u2019</tr>".encode()
    assert concatenated_utf8(pd.Series([], dtype="str")) == b""


def test_a_file_written_in_pieces_is_written_whole(tmp_path):
    from auditkit.output import write_atomically

    write_atomically(
        tmp_path / "page.html", (piece.encode() for piece in ["<p>", "\u00e9", "</p>"])
    )
    assert (tmp_path / "page.html").read_bytes() == "<p>\u00e9</p>".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary left behind


def test_a_full_disk_stops_the_audit_in_words_and_leaves_no_half_file(
    tmp_path, capsys, monkeypatch
):
    from auditkit.cli import main

    real_replace = os.replace

    def full(written, target):  # the disk fills up as the workbook is finished
        if os.path.basename(target) == "report.xlsx":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(written, target)

    monkeypatch.setattr(output.os, "replace", full)
    out = tmp_path / "out"
    sample = os.path.join(os.path.dirname(__file__), "..", "data", "sample")

    assert main(["audit", sample, "--out", str(out), "--quiet"]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        f"auditkit: {out / 'report.xlsx'} could not be written: No space left on device. Free "
        "space on the disk, or name a folder you can write to, and try again."
    )
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    assert not (out / "report.xlsx").exists()


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EROFS, "Read-only file system"), (errno.ENOENT, "No such file or directory")],
)
def test_a_folder_refusing_files_is_named_without_advice_to_free_space(tmp_path, code, words):
    def refused(data):
        raise OSError(code, words)

    with pytest.raises(OutputError) as raised:
        output.write_atomically(tmp_path / "findings.csv", map(refused, [b"x"]))
    assert str(raised.value) == (
        f"{tmp_path / 'findings.csv'} could not be written: {words}. Name a folder you can "
        "write to and try again."
    )


def test_freed_memory_goes_back_to_the_system_where_glibc_can():
    import platform

    from auditkit import memory

    assert (memory._TRIM is not None) is (platform.libc_ver()[0] == "glibc")
    memory.release_unused_memory()  # and it can be called at any time


def _arrow_pool_of_a_process(code: str, **environment: str) -> str:
    """The backend of Arrow's default pool in a fresh interpreter after running `code`."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}; import pyarrow; print(pyarrow.default_memory_pool().backend_name)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | environment,
    )
    return done.stdout.strip()


def test_the_command_has_arrow_allocate_with_jemalloc_and_a_library_import_does_not():
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    assert _arrow_pool_of_a_process("import auditkit.cli") == _arrow_pool_of_a_process("pass")
    chosen = "from auditkit.memory import use_jemalloc_for_arrow; use_jemalloc_for_arrow()"
    assert _arrow_pool_of_a_process(chosen) == "jemalloc"
    assert _arrow_pool_of_a_process(chosen, ARROW_DEFAULT_MEMORY_POOL="system") == "system"


def test_the_command_hands_jemalloc_its_settings_before_pyarrow_loads():
    """JEMALLOC_CONF reaches Arrow's jemalloc (a setting it cannot read makes it stop, as
    abort_conf asks), and a JE_ARROW_MALLOC_CONF the user set is left alone."""
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    program = """
import os
from auditkit import memory
memory.JEMALLOC_CONF = "no_such_setting:1,abort_conf:true"
memory.use_jemalloc_for_arrow()
import pyarrow as pa
pa.array(range(100_000))
print(os.environ["JE_ARROW_MALLOC_CONF"])
"""
    environment = {k: v for k, v in os.environ.items() if k != "JE_ARROW_MALLOC_CONF"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environment
    )
    assert done.returncode != 0 and "Invalid conf pair: no_such_setting:1" in done.stderr
    users = environment | {"JE_ARROW_MALLOC_CONF": "narenas:2"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=users
    )
    assert (done.returncode, done.stdout) == (0, "narenas:2\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("one_heap", [False, True])
def test_the_command_has_malloc_keep_one_heap_for_all_its_threads(one_heap):
    """Threads that allocate side by side get malloc heaps of their own (arenas; how many
    depends on the cores), unless use_one_malloc_arena came first; malloc_stats lists them."""
    program = f"""
import ctypes, threading
if {one_heap}:
    from auditkit.memory import use_one_malloc_arena
    use_one_malloc_arena()
import numpy as np
def churn():
    kept = [np.ones(1000) for _ in range(50)]
threads = [threading.Thread(target=churn) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    heaps = done.stderr.count("Arena ")
    assert heaps == 1 if one_heap else heaps > 1


CSV_CASES = {
    "every kind of column": pd.DataFrame(
        {
            "text": pd.Series(
                ["x\ry", "p,q", 'say "hi"', "line\nbreak", "", None, " sp ", "é\u2028", "a\x0bb"],
                dtype="str",
            ),
            "count": range(9),
            "rate": [1.0, 0.3333, 1e16, np.nan, 2.5e-05, 0.1 + 0.2, -0.0, np.inf, 3],
            "flag": [True, False] * 4 + [True],
            "maybe": pd.array([1, None, 3, 4, 5, 6, 7, 8, 9], dtype="Int64"),
            "neutralised": np.array(["o", None, '"', ",", "'=1", "x", "y", "z", "w"], dtype=object),
            "answer": pd.array([True, None, False] * 3, dtype="boolean"),
        }
    ),
    "no rows": pd.DataFrame({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype="int64")}),
    "headers to quote": pd.DataFrame({"a,b": [1], 'q"': [2]}),
    "numbers and words in one column": pd.DataFrame(
        {"a": np.array([1, "x"], dtype=object), "b": [1, 2]}
    ),
    "bytes and times as objects": pd.DataFrame(
        {
            "a": np.array([b"abc", None], dtype=object),
            "b": np.array([pd.Timestamp("2026-03-02 13:00"), None], dtype=object),
        }
    ),
    "one column": pd.DataFrame({"a": ["", "x"]}),
}


@pytest.mark.parametrize("rows_per_block", [50_000, 2])
@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_is_what_pandas_writes_byte_for_byte(case, rows_per_block, tmp_path, monkeypatch):
    """write_csv builds most tables a column at a time in Arrow, and large ones a block of
    rows at a time (here, blocks of 2 rows too); the file is pandas' own."""
    monkeypatch.setattr(output, "CSV_ROWS_PER_BLOCK", rows_per_block)
    frame = CSV_CASES[case]
    write_csv(frame, tmp_path / "out.csv")
    expected = neutralise_formulas(frame).to_csv(index=False).encode("utf-8")
    # but for a field holding a lone CR, which pandas writes bare: quoted (see the next test)
    expected = expected.replace(b"\nx\ry,", b'\n"x\ry",')
    assert (tmp_path / "out.csv").read_bytes() == expected


@pytest.mark.parametrize(
    "written_by", ["arrow", "pandas"], ids=["columns in Arrow", "a category: pandas' writer"]
)
def test_a_field_holding_a_carriage_return_is_quoted_and_reads_back_whole(tmp_path, written_by):
    # Written bare (as pandas and the csv module write it), a message's lone CR ended the row
    # for auditkit's reader, Arrow's and Excel's alike.
    frame = pd.DataFrame(
        {"id": ["1", "2", "3"], "message": ["LVM\rcall back", "a\r\nb", 'say "hi"\r']},
        dtype="category" if written_by == "pandas" else "str",
    )
    write_csv(frame, tmp_path / "out.csv")

    assert (tmp_path / "out.csv").read_bytes() == (
        b'id,message\n1,"LVM\rcall back"\n2,"a\r\nb"\n3,"say ""hi""\r"\n'
    )
    assert read_csv(tmp_path / "out.csv", "messages").frame.values.tolist() == [
        ["1", "LVM\rcall back"],
        ["2", "a\r\nb"],
        ["3", 'say "hi"\r'],
    ]


def test_escaped_rewrites_only_the_texts_holding_a_character_to_escape():
    texts = pd.Series(["a&b<c", "x\rz", "plain", None, "-^]\\", ""], dtype="str")
    escapes = [("&", "&amp;"), ("<", "&lt;"), ("\r", "&#13;"), ("]", ")"), ("\\", "/")]
    assert output.escaped(texts, escapes).tolist() == [
        "a&amp;b&lt;c",
        "x&#13;z",
        "plain",
        "",
        "-^)/",
        "",
    ]
    assert output.escaped(texts.iloc[2:3], escapes).tolist() == ["plain"]


def test_a_lock_a_crashed_writer_left_is_taken_over(tmp_path):
    target = tmp_path / "reviews.csv"
    lock = tmp_path / ".reviews.csv.lock"
    lock.touch()
    old = time.time() - output.LOCK_ABANDONED_SECONDS - 5
    os.utime(lock, (old, old))
    with output.exclusive(target):
        assert lock.is_file()
    assert not lock.exists()


def test_a_file_held_by_another_writer_too_long_stops_the_save(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "LOCK_WAIT_SECONDS", 0.1)
    target = tmp_path / "reviews.csv"
    (tmp_path / ".reviews.csv.lock").touch()  # someone is saving
    with pytest.raises(OutputError) as stopped, output.exclusive(target):
        pass
    assert str(stopped.value) == (
        f"{target} is being written by someone else ({tmp_path / '.reviews.csv.lock'} has been "
        "there for over 0 seconds): nothing was saved. Try again in a moment; if nobody else is "
        "saving, delete that lock file."
    )


@pytest.mark.parametrize("zone", [None, "UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_iso_times_writes_what_isoformat_writes_for_every_time(zone):
    from auditkit.output import iso_times

    rng = np.random.default_rng(7)
    seconds = rng.integers(-8_000_000_000, 7_000_000_000, 5_000)  # 1716 to 2191
    fractions = np.where(np.arange(5_000) % 3 == 0, rng.integers(0, 10**9, 5_000), 0)
    naive = pd.Series(pd.to_datetime(seconds * 10**9 + fractions, unit="ns"))
    times = naive.where(np.arange(5_000) % 11 != 0)  # and blanks
    times = times if zone is None else times.dt.tz_localize("UTC").dt.tz_convert(zone)

    for column in (times, times.dt.as_unit("us")):  # nanoseconds, as read: microseconds
        for sep in ("T", " "):
            expected = ["" if pd.isna(t) else t.isoformat(sep) for t in column]
            assert iso_times(column, sep).tolist() == expected


def test_iso_times_beyond_four_digit_years_writes_them_as_numpy_does():
    from auditkit.output import iso_times

    far = pd.Series(np.array(["12000-01-02T03:04:05", "2026-01-01T00:00:00"], "datetime64[us]"))

    assert iso_times(far, " ").tolist() == ["12000-01-02 03:04:05", "2026-01-01 00:00:00"]
