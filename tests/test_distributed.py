"""The Dask engine (issue 7): the pandas rules per client partition, with the pandas results.

One local cluster of 2 worker processes serves the whole module. Each comparison runs the pandas
engine and the Dask engine on the same loaded bundle and asserts the findings frame-equal (every
column, same order) and the compliance tables equal.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import version as auditkit_version
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE
from test_validation import REJECTED_TYPES

import auditkit.distributed
from auditkit import audit, load
from auditkit.auditing import count_opportunities
from auditkit.cli import main
from auditkit.distributed import (
    audit_on_dask,
    client_partitions,
    households,
    load_bundle_on_dask,
    split_bundle,
)
from auditkit.phones import numbers_on_file
from auditkit.policy import Policy
from auditkit.privacy import client_names
from auditkit.report import monthly_trend
from auditkit.sample import generate_sample
from auditkit.startup import UNUSED_MODULES

distributed = pytest.importorskip("distributed")

KEY = ["rule", "subject_id"]

# tests/fixtures/partitions: the cases a plain split by client_id would get wrong (see
# auditkit.distributed). Under hash(client_id) mod 2, C3 and C7 fall apart, and so do C1 and C2.
# - C3 and C7 are siblings: one phone number on file. The call log's L1 and L2 name no client
#   and go to that number; K7 (C7) and K8 (C3) are logged 1 and 3 minutes after L2.
# - L0 and L9, the log's first and last calls, are to C5 and C6.
# - P1 and P2 are S1's blanket approvals (no client_id): phone coaching from 5 March, closure
#   warnings from 20 March. K1 to K3 are coaching calls around P1, K4 and K5 warnings around P2.
# - N1, C2's note, is linked to C1's no-show A1 (the loader accepts that); K6 is A1's outreach.
PARTITION_CASES = Path(__file__).parent / "fixtures" / "partitions"

# What the pandas engine finds in PARTITION_CASES: (rule, subject_id, client_id).
EDGE_FINDINGS = [
    ("PC001", "K1", "C1"),  # coached before P1; K2 and K3 after it
    ("VM003", "K4", "C2"),  # warned before P2; K5 after it
    ("LG001", "L0", "C5"),
    ("LG001", "L1", ""),  # the siblings' call, either's: charged to neither (but to S1)
    ("LG001", "L9", "C6"),
    ("LG002", "K1", "C1"),  # K1 to K3: within the log's span, and not in it
    ("LG002", "K2", "C4"),
    ("LG002", "K3", "C8"),
    ("LG002", "K8", "C3"),  # L2 went to K7, the nearer of the siblings' logged calls
    ("VM004", "K4", "C2"),
    ("VM004", "K5", "C4"),
]  # and no NT001: N1 documents A1


@pytest.fixture(scope="module")
def scheduler():
    """The local cluster the engine starts (2 worker processes on the loopback address), for the
    whole module."""
    cluster = auditkit.distributed.local_cluster()
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def edge_bundle():
    return load(PARTITION_CASES)


@pytest.fixture(scope="module")
def generated_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    generate_sample(folder, clients=300, seed=5)
    return load(folder)


def assert_same_results(got, expected) -> None:
    pd.testing.assert_frame_equal(got.findings, expected.findings)
    pd.testing.assert_frame_equal(got.compliance, expected.compliance)
    for keys in (("staff_id",), ("month",), ("staff_id", "month")):
        pd.testing.assert_frame_equal(got.compliance_by(*keys), expected.compliance_by(*keys))
    if got.counted:  # the Dask partitions count their opportunities per rule, clinician, month
        expected = replace(expected, opportunities=count_opportunities(expected.opportunities))
    order = ["rule", "staff_id", "month"] if got.counted else KEY
    pd.testing.assert_frame_equal(
        got.opportunities.sort_values(order, ignore_index=True),
        expected.opportunities.sort_values(order, ignore_index=True),
    )
    pd.testing.assert_frame_equal(got.stale_reviews, expected.stale_reviews)
    # The records, counted on the workers when loaded there: the trend and the months held.
    pd.testing.assert_frame_equal(got.record_counts(), expected.record_counts())
    pd.testing.assert_frame_equal(monthly_trend(got), monthly_trend(expected))
    assert got.caveats == expected.caveats


@pytest.mark.parametrize("partitions", [None, 3])
def test_sample_bundle_gives_the_pandas_results(scheduler, partitions):
    bundle = load(SAMPLE)

    got = audit_on_dask(bundle, scheduler, partitions)

    assert_same_results(got, audit(bundle))
    assert len(got.findings) == 126


def test_calls_no_staff_line_settles_give_the_pandas_results(scheduler):
    """Without the staff's lines, six LG001 calls to the sample's two shared numbers are open
    between clients of two clinicians: each partition holding a household charges them to no
    one, as the pandas engine does, and no other partition reports them."""
    bundle = load(SAMPLE)
    staff = bundle.tables["staff"].assign(phone=pd.Series(pd.NA, dtype="str"))
    unlined = replace(bundle, tables={**bundle.tables, "staff": staff})

    got = audit_on_dask(unlined, scheduler, 3)

    expected = audit(unlined)
    assert_same_results(got, expected)
    open_ = expected.findings[expected.findings["client_id"].isna()]
    assert open_["subject_id"].tolist() == [
        "RC000033", "RC000171", "RC000270", "RC000280", "RC000283", "RC000399",
    ]  # fmt: skip
    assert open_["staff_id"].isna().all()


def test_clients_with_several_numbers_give_the_pandas_results(scheduler):
    """Every third client also has the numbers of the clients before and after it on file:
    households chain across the bundle, and the call log's calls to shared numbers go where
    every client of them is."""
    bundle = load(SAMPLE)
    clients = bundle.clients.copy()
    phones = clients["phone"].fillna("")
    before, after = phones.shift(1, fill_value=""), phones.shift(-1, fill_value="")
    clients["phone"] = phones.where(clients.index % 3 != 1, phones + " / " + before + "; " + after)
    several = replace(bundle, tables={**bundle.tables, "clients": clients})
    assert numbers_on_file(several.clients)["client_id"].duplicated().sum() == 26

    got = audit_on_dask(several, scheduler, 5)

    assert_same_results(got, audit(several))


def test_a_rule_not_checked_and_a_month_with_no_records_give_the_pandas_results(scheduler):
    unnamed = replace(load(SAMPLE), policy=Policy())  # no clinic name: VM001 is not checked
    got = audit_on_dask(unnamed, scheduler, 3)

    assert_same_results(got, audit(unnamed))
    vm001 = got.compliance.set_index("rule").loc["VM001"]
    assert vm001[["opportunities", "findings"]].tolist() == [0, 0]
    assert got.caveats[1:] == [  # (the first: the built-in policy's zone)
        "VM001 not checked: the policy names no clinic (clinic.name in policy.toml)."
    ]
    for given in (load(SAMPLE), SAMPLE):  # loaded here; a folder, its records on the workers
        empty = audit_on_dask(given, scheduler, 3, month="2027-01")
        assert_same_results(empty, audit(load(SAMPLE), month="2027-01"))
        assert empty.compliance["compliance"].isna().all()
        assert empty.caveats == [
            "No records in 2027-01: nothing was examined. The bundle's records run from 2025-09 "
            "to 2026-08."
        ]


@pytest.mark.parametrize(("emptied", "findings"), [("appointments", 517), ("notes", 253)])
def test_a_table_with_no_rows_gives_the_pandas_results(
    scheduler, emptied, findings, sample_without_rows
):
    """A table exported as its header alone (a clinic's first days): nothing to place its
    rows by, or the others' by it (notes are placed by their appointment too)."""
    folder = sample_without_rows(emptied)

    got = audit_on_dask(folder, scheduler, 3)

    assert_same_results(got, audit(load(folder)))
    assert len(got.findings) == findings


def test_generated_bundle_gives_the_pandas_results(scheduler, generated_bundle):
    got = audit_on_dask(generated_bundle, scheduler, partitions=7)

    expected = audit(generated_bundle)
    assert_same_results(got, expected)
    assert len(expected.findings) > 500  # a real workload, not a trivially empty one


def test_generated_folder_loaded_in_pieces_gives_the_pandas_results(scheduler, generated_bundle):
    got = audit_on_dask(generated_bundle.path, scheduler, partitions=5, piece_bytes=50_000)

    assert_same_results(got, audit(generated_bundle))
    pd.testing.assert_frame_equal(got.rejected, generated_bundle.rejected)
    pd.testing.assert_frame_equal(got.coverage, generated_bundle.coverage)


def _mangled(folder: Path, seed: int) -> None:
    """A bundle's files gone wrong as exports do, at places drawn with `seed`: in each table of
    a row per event, rows repeated further down and a line cut short; a client dropped, so
    records refer to nobody. A line is cut anywhere, a note's quoted line break too."""
    draw = random.Random(seed)
    for name in ("appointments", "contacts", "notes", "calls", "clients"):
        path = folder / f"{name}.csv"
        header, *lines = path.read_text(encoding="utf-8").splitlines()
        if name == "clients":
            del lines[draw.randrange(len(lines))]
        else:
            for _ in range(2):
                at = draw.randrange(len(lines))
                lines.insert(draw.randrange(at, len(lines) + 1), lines[at])
            lines.insert(draw.randrange(len(lines)), lines[draw.randrange(len(lines))][:30])
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")


@pytest.mark.parametrize("seed, partitions, piece_bytes", [(1, 5, 1_500), (2, 3, 4_000)])
def test_generated_bundles_gone_wrong_give_the_pandas_results(
    scheduler, tmp_path, monkeypatch, seed, partitions, piece_bytes
):
    generate_sample(tmp_path, clients=8, seed=seed, broken_rows=True)
    _mangled(tmp_path, seed)
    monkeypatch.setattr("auditkit.distributed.IDS_PER_BUCKET", 300)  # buckets of ids

    got = audit_on_dask(tmp_path, scheduler, partitions, piece_bytes=piece_bytes)

    assert_same_loading(got, audit(load(tmp_path)))
    assert got.rejected.dtypes.astype("str").to_dict() == REJECTED_TYPES
    reasons = got.rejected["reason"]
    for kind in ("fields; the header has", "duplicate", "matches no clients record"):
        assert reasons.str.contains(kind).any(), kind


def test_one_month_of_the_generated_bundle_gives_the_pandas_results(scheduler, generated_bundle):
    got = audit_on_dask(generated_bundle, scheduler, partitions=4, month="2026-03")

    assert_same_results(got, audit(generated_bundle, month="2026-03"))
    assert set(got.opportunities["month"]) == {"2026-03"}


@pytest.mark.parametrize("on_workers", [False, True])
def test_a_clinicians_month_gives_the_pandas_results(scheduler, generated_bundle, on_workers):
    theirs = {"month": "2026-03", "clinicians": ["S002", "S005"]}
    given = generated_bundle.path if on_workers else generated_bundle  # a folder: loaded there
    got = audit_on_dask(given, scheduler, partitions=4, piece_bytes=60_000, **theirs)

    expected = audit(generated_bundle, **theirs)
    assert_same_results(got, expected)
    assert got.clinicians == ("S002", "S005")
    assert set(got.opportunities["staff_id"]) == {"S002", "S005"}
    assert got.every_month.equals(expected.every_month)  # their trend, not the clinic's


@pytest.mark.parametrize("on_workers", [False, True])
def test_reviews_applied_and_held_back_give_the_pandas_results(scheduler, tmp_path, on_workers):
    bundle = load(SAMPLE)
    found = audit(bundle).findings.set_index(KEY)
    seen = found[["client_id", "evidence"]]
    reviews = tmp_path / "reviews.csv"
    pd.DataFrame(
        [
            ("LG001", "RC000071", "C0013", seen.loc[("LG001", "RC000071"), "evidence"]),
            ("VM001", "CT000070", *seen.loc[("VM001", "CT000070")]),  # as seen: applies
            ("MS001", found.loc["MS001"].index[0], seen.loc["MS001"].iloc[0, 0], "other words"),
            ("VM002", "CT999999", "", ""),
            ("LG001", "RC000072", "", ""),  # no longer fires
        ],
        columns=["rule", "subject_id", "client_id", "evidence"],
    ).assign(decision="dismissed", reviewer="QA", reviewed_at="2026-04-01").to_csv(
        reviews, index=False
    )

    given = SAMPLE if on_workers else bundle  # a folder: loaded on the workers, in pieces
    got = audit_on_dask(given, scheduler, 3, reviews=reviews, piece_bytes=10_000)

    expected = audit(bundle, reviews=reviews)
    assert_same_results(got, expected)
    assert expected.findings["review"].value_counts().to_dict() == {"new": 125, "dismissed": 1}
    assert [reason.split(":")[0] for reason in expected.stale_reviews["reason"]] == [
        "reviewed for client C0013; this finding is client C0015's",
        "the record changed since it was reviewed",
        "no contact CT999999 in the bundle",
        "LG001 no longer finds a problem with call RC000072",
    ]


@pytest.mark.parametrize("on_workers", [False, True])
def test_a_review_of_a_call_now_in_no_clients_household_is_dated_as_the_pandas_engine_does(
    scheduler, tmp_path, on_workers
):
    """RC000033 reached C0005's number; C0005's number has changed since, so the call is no
    client's and in no household: the review of its LG001 finding is stale, but the call is
    still in the bundle, and its month is the one the review belongs to."""
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder)
    clients = folder / "clients.csv"
    clients.write_text(clients.read_text("utf-8").replace("(747) 555-0185", "(747) 555-0199"))
    pd.DataFrame({"rule": ["LG001"], "subject_id": ["RC000033"], "decision": ["confirmed"]}).assign(
        reviewer="QA", reviewed_at="2025-11-01"
    ).to_csv(folder / "reviews.csv", index=False)
    bundle = load(folder)

    got = audit_on_dask(folder if on_workers else bundle, scheduler, 3, piece_bytes=10_000)

    expected = audit(bundle)
    assert_same_results(got, expected)
    assert expected.stale_reviews[["reason", "at"]].astype("str").values.tolist() == [
        ["LG001 no longer finds a problem with call RC000033", "2025-10-24 16:11:00-07:00"]
    ]


@pytest.mark.parametrize("on_workers", [False, True])  # split here, or piece by piece there
@pytest.mark.parametrize("partitions", [2, 5])
def test_cases_a_plain_client_split_gets_wrong_give_the_pandas_results(
    scheduler, edge_bundle, partitions, on_workers
):
    given = PARTITION_CASES if on_workers else edge_bundle
    got = audit_on_dask(given, scheduler, partitions, piece_bytes=60)  # a row or two a piece

    expected = audit(edge_bundle)
    assert_same_results(got, expected)
    found = expected.findings[["rule", "subject_id", "client_id"]].fillna("")
    assert list(found.itertuples(index=False, name=None)) == EDGE_FINDINGS
    evidence = expected.findings.set_index(KEY)["evidence"]
    assert evidence["LG001", "L1"].endswith(
        "; the number is on file for clients C3 and C7, both this clinician's, and nothing in "
        "the records shows which of them the call was with"
    )
    assert evidence["PC001", "K1"] == (
        "purpose coaching; approval P1 was given later, on 2026-03-05 00:00"
    )


def test_the_call_logs_first_and_last_calls_are_found_in_whichever_pieces_they_are(
    scheduler, tmp_path
):
    # The log in reverse, L9 (the last call) first: each call a piece, the span across them.
    bundle = tmp_path / "reversed"
    shutil.copytree(PARTITION_CASES, bundle)
    header, *calls = (bundle / "calls.csv").read_text().splitlines()
    (bundle / "calls.csv").write_text("\n".join([header, *reversed(calls)]) + "\n")

    got = audit_on_dask(bundle, scheduler, 5, piece_bytes=60)

    assert_same_results(got, audit(load(bundle)))
    found = got.findings[["rule", "subject_id"]].itertuples(index=False, name=None)
    assert [f for f in found if f[0].startswith("LG")] == [
        ("LG001", "L0"),
        ("LG001", "L1"),
        ("LG001", "L9"),
        ("LG002", "K1"),  # within the log's span (L0 to L9), and not in it
        ("LG002", "K2"),
        ("LG002", "K3"),
        ("LG002", "K8"),
    ]


def test_a_buckets_repeats_and_dangling_references_go_back_to_their_own_pieces():
    def pairs(values, lines):
        return pd.DataFrame({"value": pd.Series(values, dtype="str"), "tag": lines}).astype(
            {"tag": "int64"}
        )

    pieces = [pairs(["A", "B"], [2, 3]), pairs([], []), pairs(["B", "A", "C"], [9, 10, 11])]
    repeats = auditkit.distributed._repeats(*pieces, pairs(["A"], [15]))
    assert [r.to_dict() for r in repeats] == [{}, {}, {9: 3, 10: 2}, {15: 2}]

    targets = [pairs(["A", "C"], [2, 11]), pairs(["D"], [14])]
    references = [pairs(["A", "Z"], [4, 5]), pairs([], []), pairs(["D", "Y"], [7, 8])]
    dangling = auditkit.distributed._dangling(targets, references)
    assert [lines.tolist() for lines in dangling] == [[5], [], [8]]


def test_the_log_spans_first_and_last_are_the_first_of_equal_times():
    extremes = [
        None,  # a piece with no accepted call
        ((pd.Timestamp("2026-03-02"), 5), (pd.Timestamp("2026-03-09"), 7)),
        ((pd.Timestamp("2026-03-01"), 12), (pd.Timestamp("2026-03-09"), 11)),
        ((pd.Timestamp("2026-03-01"), 20), (pd.Timestamp("2026-03-03"), 21)),
    ]
    assert auditkit.distributed._log_span_lines(extremes).tolist() == [12, 7]
    assert auditkit.distributed._log_span_lines([None]).tolist() == []


def test_blanket_approvals_cover_clients_in_every_partition(scheduler, edge_bundle):
    hashed = client_partitions(edge_bundle.clients, 2)
    assert sorted(set(hashed)) == [0, 1]  # S1's clients are on both sides of the split

    got = audit_on_dask(edge_bundle, scheduler, partitions=2)

    by_rule = got.compliance.set_index("rule")
    assert by_rule.loc["PC001", ["opportunities", "findings"]].tolist() == [6, 1]
    assert by_rule.loc["VM003", ["opportunities", "findings"]].tolist() == [2, 1]


def test_split_keeps_households_together_and_shares_what_every_client_needs(edge_bundle):
    parts = split_bundle(edge_bundle, 2)

    partition = client_partitions(edge_bundle.clients, 2)
    assert partition["C3"] == partition["C7"]
    assert partition["C1"] != partition["C2"]
    assert [sorted(p.clients["client_id"]) for p in parts] == [
        sorted(partition.index[partition == k]) for k in (0, 1)
    ]
    for part in parts:
        assert part.staff is edge_bundle.staff
        assert part.approvals["approval_id"].tolist() == ["P1", "P2"]  # both blanket
        mine = set(part.clients["client_id"])
        assert set(part.appointments["client_id"]) <= mine
        assert set(part.contacts["client_id"]) <= mine
        assert {"L0", "L9"} <= set(part.calls["call_id"])  # the log's span, everywhere
        assert client_names(part) == client_names(edge_bundle)  # a reply may name anyone
    home = partition["C3"]
    assert parts[home].calls["call_id"].tolist() == ["L0", "L1", "L2", "L3", "L9"]  # C1's L3 too
    assert parts[1 - home].calls["call_id"].tolist() == ["L0", "L9"]  # the span alone
    assert parts[partition["C1"]].notes["note_id"].tolist() == ["N1"]  # A1's note
    assert parts[partition["C2"]].notes["note_id"].tolist() == ["N1"]  # and C2's own
    assert sum(len(p.contacts) for p in parts) == len(edge_bundle.contacts)


def test_clients_linked_through_several_numbers_are_one_household():
    """A client whose cell holds two numbers shares each with another client: the three are
    one household (the least of their ids), whose calls without a client_id go where they
    all are. A client's numbers were one per cell, so each shared number was a household."""
    clients = pd.DataFrame(
        {
            "client_id": ["C5", "C2", "C3", "C4", "C1", "C6"],
            "phone": [
                "805-555-0127 / 805-555-0199",  # shares 0127 with C2, 0199 with C3
                "(805) 555-0127",
                "805-555-0199; 805-555-0150",  # and 0150 with C1
                None,
                "805 555 0150",
                "805 555 0160",
            ],
        },
        dtype="str",
    )
    on_file = numbers_on_file(clients)
    assert on_file.values.tolist() == [
        ["+18055550127", "C5"],
        ["+18055550199", "C5"],
        ["+18055550127", "C2"],
        ["+18055550199", "C3"],
        ["+18055550150", "C3"],
        ["+18055550150", "C1"],
        ["+18055550160", "C6"],
    ]
    assert households(clients["client_id"], on_file).to_dict() == {
        "C5": "C1",
        "C2": "C1",
        "C3": "C1",
        "C4": "C4",
        "C1": "C1",
        "C6": "C6",
    }
    partition = client_partitions(clients, 7)
    assert partition[["C5", "C2", "C3"]].tolist() == [partition["C1"]] * 3


def test_cli_dask_engine_writes_the_pandas_engines_files(tmp_path):
    children = len(multiprocessing.active_children())
    base = ["audit", str(SAMPLE), "-q", "--out"]

    assert main([*base, str(tmp_path / "pandas")]) == 0
    assert main([*base, str(tmp_path / "dask"), "--engine", "dask"]) == 0  # its own cluster

    for name in ("findings.csv", "compliance.csv", "compliance_by_clinician.csv", "rejected.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "pandas" / name).read_bytes()
    assert len(multiprocessing.active_children()) == children  # its workers are gone


def test_cli_dask_engine_on_an_existing_scheduler(scheduler, tmp_path, capsys):
    out = tmp_path / "dask"
    args = ["--engine", "dask", "--scheduler", scheduler, "--partitions", "2"]

    assert main(["audit", str(SAMPLE), "--out", str(out), *args]) == 0

    summary = "\n126 findings; 7 input rows rejected (7 problems in rejected.csv).\n"
    assert summary in capsys.readouterr().out
    assert len(pd.read_csv(out / "findings.csv")) == 126


def test_a_port_nobody_listens_on_exits_2_at_once(tmp_path, capsys):
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens there
    dask = ["--engine", "dask", "--scheduler", address]

    code = main(["audit", str(SAMPLE), "--out", str(tmp_path), "-q", *dask])

    assert code == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: No Dask scheduler answered at {address}: 127.0.0.1 refused the connection "
        "on port 9; no scheduler listens there. Give its address as tcp://HOST:8786, or leave "
        "--scheduler out to start a local cluster."
    )


def test_a_scheduler_that_does_not_answer_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("auditkit.distributed.CONNECT_TIMEOUT", 1)
    monkeypatch.setattr("auditkit.distributed._refused", lambda _address: None)  # as if it hung
    address = "tcp://127.0.0.1:9"
    dask = ["--engine", "dask", "--scheduler", address]

    code = main(["audit", str(SAMPLE), "--out", str(tmp_path), "-q", *dask])

    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert err.startswith(f"auditkit: No Dask scheduler answered at {address} within 1 s: ")
    assert err.endswith(
        "Give its address as tcp://HOST:8786, or leave --scheduler out to start a local cluster."
    )


def test_a_scheduler_without_workers_exits_2_rather_than_wait_for_ever(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("auditkit.distributed.CONNECT_TIMEOUT", 1)
    cluster = distributed.LocalCluster(
        n_workers=0,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    try:
        address = cluster.scheduler_address
        code = main(["validate", str(SAMPLE), "--engine", "dask", "--scheduler", address])
    finally:
        cluster.close()

    assert code == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: The Dask scheduler at {address} has no workers: none joined within 1 s. "
        f"Start some (dask worker {address}), or leave --scheduler out to start a local cluster."
    )


@pytest.mark.parametrize(
    ("here", "there", "run"),
    [
        ("9.9.9", "auditkit", f"run auditkit {auditkit_version('auditkit')}"),
        (auditkit_version("auditkit"), "auditkit-not-installed", "have no auditkit"),
    ],
    ids=["another version", "none"],
)
def test_workers_running_another_auditkit_exit_2_before_any_work(
    scheduler, tmp_path, capsys, monkeypatch, here, there, run
):
    """The reader and the rules run on the workers: another version there gave that
    version's results (or failed deep in a task, auditkit missing)."""
    monkeypatch.setattr("auditkit.distributed._version_here", lambda: here)
    monkeypatch.setattr("auditkit.distributed._DISTRIBUTION", there)
    out = tmp_path / "out"

    assert (
        main(
            ["audit", str(SAMPLE), "--out", str(out), "--engine", "dask", "--scheduler", scheduler]
        )
        == 2
    )

    with distributed.Client(scheduler) as client:
        workers = ", ".join(sorted(client.scheduler_info()["workers"]))
    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: 2 of the cluster's 2 workers ({workers}) {run}, where this machine runs "
        f"auditkit {here}: the rules and the reader run on the workers, so the results would "
        f"not be this version's. Install auditkit {here} on every worker (pip install "
        f"'auditkit[dask]=={here}'), or audit with the default pandas engine."
    )
    assert not out.exists()


def _modules_a_first_task_brings_in() -> list[str]:
    """On a worker: what auditkit's validation brings in, of the modules it never uses."""
    import auditkit.validation  # noqa: F401 (as a worker's first task does)

    return [m for m in (*UNUSED_MODULES, "pandera") if sys.modules.get(m) is not None]


def test_the_local_clusters_workers_leave_out_modules_auditkit_never_uses(scheduler):
    """pandera imports dask.dataframe (0.6 s a worker) and hypothesis wherever they are."""
    with distributed.Client(scheduler) as client:
        brought_in = client.run(_modules_a_first_task_brings_in)

    assert sorted(brought_in.values()) == [["pandera"], ["pandera"]]  # and nothing else


def test_a_workers_answer_about_its_auditkit_in_words():
    from importlib.metadata import PackageNotFoundError

    from auditkit.distributed import _running

    assert _running("0.0.9") == "run auditkit 0.0.9"
    assert _running(PackageNotFoundError("auditkit")) == "have no auditkit"
    assert _running(OSError("gone")) == "did not say which auditkit they run (OSError)"


def test_a_local_cluster_that_cannot_start_exits_2(tmp_path, capsys, monkeypatch):
    def no_cluster(**_options):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr("distributed.LocalCluster", no_cluster)

    code = main(["audit", str(SAMPLE), "--out", str(tmp_path), "-q", "--engine", "dask"])

    assert code == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: A local Dask cluster could not start on this machine: Nanny failed to "
        "start. Audit with the default pandas engine, or give --scheduler the address of a "
        "running cluster."
    )


def test_without_dask_the_pandas_engine_works_and_the_dask_engine_says_how_to_get_it(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    base = ["audit", str(SAMPLE), "-q", "--out", str(tmp_path)]

    assert main(base) == 0
    assert main([*base, "--engine", "dask"]) == 2

    assert " ".join(capsys.readouterr().err.split()) == (
        "auditkit: --engine dask needs Dask, which is not installed. Install it with pip "
        "install 'auditkit[dask]', or audit with the default pandas engine."
    )


# Loading on the workers (load_on_dask): a bundle folder, its CSVs parsed in pieces there.


def assert_same_loading(got, expected) -> None:
    assert_same_results(got, expected)
    pd.testing.assert_frame_equal(got.rejected, expected.rejected)
    pd.testing.assert_frame_equal(got.coverage, expected.coverage)


def test_a_folder_loaded_in_pieces_on_the_workers_gives_the_pandas_results(scheduler, monkeypatch):
    heard, read_here = [], []
    read_table = auditkit.distributed.read_table

    def reading_here(bundle, spec, path=None):
        read_here.append(spec.name)
        return read_table(bundle, spec, path)

    monkeypatch.setattr("auditkit.distributed.read_table", reading_here)

    got = audit_on_dask(SAMPLE, scheduler, 3, progress=heard.append, piece_bytes=3000)

    assert_same_loading(got, audit(load(SAMPLE)))
    assert [line for line in heard if line.startswith("read ")] == [
        "read appointments.csv: 1,104 rows, in 25 pieces on the workers",
        "read contacts.csv: 799 rows, in 50 pieces on the workers",
        "read notes.csv: 868 rows, in 44 pieces on the workers",
        "read calls.csv: 632 rows, in 22 pieces on the workers",
    ]
    # A000005 repeats 1,099 lines on, in another piece; the free text stayed on the workers.
    assert (
        got.rejected["reason"].tolist()[1] == "duplicate appointment_id 'A000005' (first on line 6)"
    )
    assert read_here == ["staff", "clients", "approvals"]  # the rest only in pieces, there
    # The driver holds none of the records, only their counts; its tables keep the columns
    # a report reads, as the pandas engine's audit(keep_records=False) does.
    assert list(got.bundle.contacts.columns) == ["contact_id", "staff_id", "started_at"]
    assert list(got.bundle.notes.columns) == ["note_id", "staff_id", "written_at"]
    assert [len(got.bundle.tables[t]) for t in ("appointments", "contacts", "notes")] == [0, 0, 0]
    counted = got.bundle.counted_records.groupby("table")["records"].sum()
    assert counted.to_dict() == {"appointments": 1102, "calls": 632, "contacts": 797, "notes": 867}


def _hostile(folder: Path) -> Path:
    """The sample with what a piece boundary could get wrong, each far from the file's start."""
    bundle = folder / "hostile"
    shutil.copytree(SAMPLE, bundle, ignore=shutil.ignore_patterns("ground_truth.csv"))
    appointments = (bundle / "appointments.csv").read_text().splitlines()
    appointments[700:700] = [
        "A900001,C0021,S006,2025-10-03T13:00:00-07:00,50,individual,attended,spare",  # too wide
        "",
        ",,,,,,",
        "A900002,C0021,S006,2025-10-03T13:00:00-07:00,50,individual,walked out",
    ]
    # CRLF line ends throughout
    (bundle / "appointments.csv").write_bytes(("\r\n".join(appointments) + "\r\n").encode())
    notes = (bundle / "notes.csv").read_text()
    notes += (
        'N900001,C0021,S006,A900002,2025-10-03T15:00:00-07:00,"Two lines,\nof one note"\n'
        'N900002,C0021,S006,,2025-10-04T15:00:00-07:00,"""Quoted"" words, then\n\nmore"\n'
    )
    (bundle / "notes.csv").write_text(notes)
    contacts = (bundle / "contacts.csv").read_text().splitlines()
    contacts[400:405] = [line + "," for line in contacts[400:405]]  # a delimiter past the header
    (bundle / "contacts.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(contacts).encode() + b"\n")
    calls = (bundle / "calls.csv").read_text().splitlines()
    calls[-1] = calls[-1].replace("RingCentral", "Téléphone")  # Windows-1252, every piece
    (bundle / "calls.csv").write_bytes("\n".join(calls).encode("cp1252") + b"\n")
    return bundle


def test_the_driver_holds_of_each_piece_only_what_the_report_reads(scheduler):
    # The split is worked out on the workers: no reference or number comes back.
    bundle = load_bundle_on_dask(SAMPLE, scheduler)
    whole = load(SAMPLE)

    assert {name: list(frame.columns) for name, frame in bundle.tables.items()} == {
        **{name: list(whole.tables[name].columns) for name in ("staff", "clients", "approvals")},
        "appointments": ["appointment_id", "staff_id", "scheduled_start", "status", "source_line"],
        "contacts": ["contact_id", "staff_id", "started_at", "source_line"],
        "notes": ["note_id", "staff_id", "written_at", "source_line"],
    }
    assert list(bundle.calls.columns) == ["call_id", "started_at", "source_line"]


def test_what_a_piece_boundary_could_get_wrong_gives_the_pandas_results(
    scheduler, tmp_path, monkeypatch
):
    bundle = _hostile(tmp_path)
    heard = []
    monkeypatch.setattr("auditkit.distributed.IDS_PER_BUCKET", 700)  # 2 buckets of ids

    got = audit_on_dask(bundle, scheduler, 3, progress=heard.append, piece_bytes=2000)

    expected = audit(load(bundle))
    assert_same_loading(got, expected)
    new = got.rejected[got.rejected["record_id"].str.startswith(("A9", "N9"))]
    assert new.drop(columns="column").values.tolist() == [
        ["appointments.csv", 701, "A900001", "has 8 fields; the header has 7"],
        [
            "appointments.csv",
            704,
            "A900002",
            "status 'walked out' is not one of: attended, no_show, late_cancel, cancelled, "
            "rescheduled",
        ],
        [
            "notes.csv",
            926,
            "N900001",
            "appointment_id 'A900002' refers to a row set aside (appointments.csv line 704)",
        ],
    ]
    assert got.coverage.set_index("file").loc["calls.csv", "encoding"] == "windows-1252"
    assert "read calls.csv: 632 rows, in 32 pieces on the workers" in heard  # each Windows-1252
    assert "read notes.csv: 870 rows, in 65 pieces on the workers" in heard


def test_a_quote_left_open_in_a_piece_gives_the_pandas_results(scheduler, tmp_path):
    bundle = tmp_path / "left-open"
    shutil.copytree(SAMPLE, bundle, ignore=shutil.ignore_patterns("ground_truth.csv"))
    appointments = (bundle / "appointments.csv").read_text().splitlines()
    assert appointments[699] == "A000699,C0004,S008,2026-05-14T11:00:00-07:00,50,individual,no_show"
    appointments[699] = appointments[699].replace(",individual,", ',"individual,')  # never closed
    (bundle / "appointments.csv").write_text("\n".join(appointments) + "\n")

    got = audit_on_dask(bundle, scheduler, 3, piece_bytes=2000)

    assert_same_loading(got, audit(load(bundle)))
    assert got.rejected.drop(columns="column").values.tolist()[0] == [
        "appointments.csv",
        700,
        "A000699",
        "opens a quote that does not close where a field ends, so its record would take in the "
        "405 lines after it: this line is set aside, and those are read again as records",
    ]
    coverage = got.coverage.set_index("file").loc["appointments.csv"]
    assert coverage[["rows_read", "accepted", "rejected"]].tolist() == [1104, 1101, 3]


def test_repeats_and_references_across_pieces_are_found_on_the_workers(
    scheduler, tmp_path, monkeypatch
):
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    appointments = (bundle / "appointments.csv").read_text().splitlines()
    # A990001 first on line 301 (no such client), again at the end (a status no vocabulary
    # has): set aside twice, pieces apart; a note on it is set aside naming line 301.
    appointments.insert(300, "A990001,C9999,S001,2025-10-03T13:00:00-07:00,50,individual,no_show")
    appointments.append("A990001,C0001,S001,2025-10-04T13:00:00-07:00,50,individual,walked out")
    (bundle / "appointments.csv").write_text("\n".join(appointments) + "\n")
    with (bundle / "notes.csv").open("a") as notes:
        notes.write("N990001,C0001,S001,A990001,2025-10-03T15:00:00-07:00,Did not attend.\n")
    # A row of the wrong width, the only row its piece sets aside: that piece's frame of them
    # had text columns of object type, and so had the whole table's.
    contacts = (bundle / "contacts.csv").read_text().splitlines()
    contacts.insert(1, "K990001,C0001,S001,outbound")
    (bundle / "contacts.csv").write_text("\n".join(contacts) + "\n")
    validated_here = []
    validate_table = auditkit.validation.validate_table

    def validating_here(raw, spec, *args, **kwargs):
        validated_here.append(spec.name)
        return validate_table(raw, spec, *args, **kwargs)

    monkeypatch.setattr("auditkit.validation.validate_table", validating_here)
    monkeypatch.setattr("auditkit.distributed.IDS_PER_BUCKET", 300)  # 4 buckets of ids

    got = audit_on_dask(bundle, scheduler, 2, piece_bytes=8000)

    assert validated_here == ["staff", "clients", "approvals"]  # the rest on the workers
    assert_same_loading(got, audit(load(bundle)))
    assert got.rejected.dtypes.astype("str").to_dict() == REJECTED_TYPES
    assert got.rejected[got.rejected["record_id"].str.endswith("990001")].drop(
        columns="file"
    ).values.tolist() == [
        [301, "A990001", "client_id", "client_id 'C9999' matches no clients record"],
        [1107, "A990001", "status", "status 'walked out' is not one of: attended, no_show, "
         "late_cancel, cancelled, rescheduled"],
        [1107, "A990001", "appointment_id", "duplicate appointment_id 'A990001' (first on line "
         "301)"],
        [2, "K990001", "", "has 4 fields; the header has 12"],
        [926, "N990001", "appointment_id", "appointment_id 'A990001' refers to a row set aside "
         "(appointments.csv line 301)"],
    ]  # fmt: skip


def test_a_converted_bundle_and_a_named_call_log_load_on_the_workers(scheduler, tmp_path):
    from auditkit.convert import convert

    convert(SAMPLE, tmp_path / "parquet")
    heard = []
    got = audit_on_dask(tmp_path / "parquet", scheduler, 2, progress=heard.append, piece_bytes=8000)
    assert_same_loading(got, audit(load(tmp_path / "parquet")))
    assert [line for line in heard if line.startswith("read ")] == [  # rows, not bytes, cut
        "read appointments.parquet: 1,102 rows, in 3 pieces on the workers",
        "read contacts.parquet: 797 rows, in 5 pieces on the workers",
        "read notes.parquet: 867 rows, in 4 pieces on the workers",
        "read calls.parquet: 632 rows, in 3 pieces on the workers",
    ]

    calls = tmp_path / "log.csv"
    calls.write_bytes((SAMPLE / "calls.csv").read_bytes())
    got = audit_on_dask(SAMPLE, scheduler, 2, calls=calls, piece_bytes=10_000)
    assert_same_loading(got, audit(load(SAMPLE, calls=calls)))
    assert got.coverage["file"].tolist()[-1] == "log.csv"


def _notes_without_note_id(bundle: Path) -> None:
    notes = (bundle / "notes.csv").read_text()
    (bundle / "notes.csv").write_text(notes.replace("note_id,", "note,", 1))


def _appointments_of_no_clinician(bundle: Path) -> None:
    appointments = pd.read_csv(bundle / "appointments.csv", dtype="str", keep_default_na=False)
    appointments.assign(staff_id="S999").to_csv(bundle / "appointments.csv", index=False)


@pytest.mark.parametrize(
    ("spoil", "words"),
    [  # found on a worker, then on the driver once every piece is in
        (_notes_without_note_id, "notes.csv has no 'note_id' column"),
        (_appointments_of_no_clinician, "appointments.csv: all 1,104 of its rows were set aside"),
    ],
)
def test_an_unusable_file_loaded_on_the_workers_exits_2_in_the_pandas_engines_words(
    scheduler, tmp_path, capsys, spoil, words
):
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    spoil(bundle)
    base = ["audit", str(bundle), "-q", "--out"]
    dask = ["--engine", "dask", "--scheduler", scheduler]

    assert main([*base, str(tmp_path / "pandas")]) == 2
    said = capsys.readouterr().err
    assert main([*base, str(tmp_path / "dask"), *dask]) == 2

    assert capsys.readouterr().err == said
    assert " ".join(said.split()).startswith(f"auditkit: {words}")


def test_an_unusable_file_on_a_local_cluster_of_its_own_stops_in_one_paragraph(tmp_path):
    """The command's own cluster, closed as the run stops, printed its workers' complaints
    (a heartbeat to a scheduler gone, with its traceback) after the paragraph."""
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)
    (bundle / "contacts.csv").write_bytes(b"PK\x03\x04" + bytes(60))
    done = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "validate", str(bundle), "--engine", "dask"],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert " ".join(done.stderr.split()) == (
        "auditkit: contacts.csv is not a CSV file: it is an Excel workbook (.xlsx) or another zip "
        "archive. To audit it, save the table as CSV (comma delimited), or give a workbook the "
        "suffix .xlsx."
    )


def test_validate_on_the_workers_prints_what_the_pandas_engine_prints(scheduler, tmp_path, capsys):
    bundle = _hostile(tmp_path)

    assert main(["validate", str(bundle), "--show", "50"]) == 0
    expected = capsys.readouterr().out
    dask = ["--engine", "dask", "--scheduler", scheduler]
    assert main(["validate", str(bundle), "--show", "50", *dask]) == 0

    assert capsys.readouterr().out == expected
    assert "\nFirst problems (10 in all):\n" in expected


def test_a_scheduler_for_validate_without_the_dask_engine_is_a_usage_error(capsys):
    assert main(["validate", str(SAMPLE), "--scheduler", "tcp://127.0.0.1:1"]) == 2

    assert capsys.readouterr().err == "auditkit: --scheduler is for --engine dask.\n"


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (
            distributed.KilledWorker("a-piece", None, 3),
            "auditkit: A Dask worker died while running a task, and so did every worker that "
            "took the task over: most often a worker runs out of memory. Give the workers more "
            "memory, or run the command with the default pandas engine (an audit can also be "
            "run in more partitions, --partitions).",
        ),
        (
            distributed.comm.core.CommClosedError("in <TCP>: Stream is closed"),
            "auditkit: The connection to the Dask cluster closed during the run (in <TCP>: "
            "Stream is closed): the scheduler or a worker may have stopped. Run it again, or run "
            "it with the default pandas engine.",
        ),
    ],
)
def test_a_cluster_failing_midway_exits_2_in_words(
    scheduler, tmp_path, capsys, monkeypatch, failure, words
):
    def failing(*_arguments, **_options):
        raise failure

    monkeypatch.setattr("auditkit.distributed.load_on_dask", failing)
    dask = ["--engine", "dask", "--scheduler", scheduler]

    assert main(["audit", str(SAMPLE), "--out", str(tmp_path / "audit"), "-q", *dask]) == 2
    assert main(["validate", str(SAMPLE), *dask]) == 2
    convert = ["convert", str(SAMPLE), "--to", "parquet", "--out", str(tmp_path / "parquet")]
    assert main([*convert, *dask]) == 2

    said = capsys.readouterr().err.split("auditkit: ")[1:]
    assert [" ".join(("auditkit: " + s).split()) for s in said] == [words, words, words]
    assert not (tmp_path / "parquet").exists()  # nothing written, not even the folder


# Converting on the workers (convert_on_dask): each table of a row per event written on the
# driver a piece at a time, the pieces' accepted rows coming from the workers.


def assert_same_conversion(got: Path, expected: Path) -> None:
    """The same files; the tables equal as read back (typed, free text too), the rest byte for
    byte but the source folder, which is each conversion's own."""
    names = sorted(p.name for p in expected.iterdir())
    assert sorted(p.name for p in got.iterdir()) == names
    for name in names:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(got / name), pd.read_parquet(expected / name)
            )
        elif name != "converted.json":
            assert (got / name).read_bytes() == (expected / name).read_bytes(), name


def test_a_conversion_on_the_workers_writes_the_pandas_engines_tables(scheduler, tmp_path):
    import pyarrow.parquet as pq

    from auditkit.convert import convert
    from auditkit.distributed import convert_on_dask

    bundle = _hostile(tmp_path)
    expected = convert(bundle, tmp_path / "pandas")
    heard = []

    got = convert_on_dask(
        bundle, tmp_path / "dask", scheduler, progress=heard.append, piece_bytes=2000
    )

    assert got.files == expected.files
    assert_same_conversion(tmp_path / "dask", tmp_path / "pandas")
    pd.testing.assert_frame_equal(got.bundle.rejected, expected.bundle.rejected)
    assert len(expected.bundle.rejected) == 10  # the hostile rows among them, written beside
    assert "read notes.csv: 870 rows, in 65 pieces on the workers" in heard
    assert [line.split()[1] for line in heard if line.startswith("writing ")] == [
        f"{name}.parquet"
        for name in ("staff", "clients", "appointments", "contacts", "notes", "approvals", "calls")
    ]
    # A row group a piece, each written as it came: the driver never held the table.
    assert pq.ParquetFile(tmp_path / "dask" / "notes.parquet").num_row_groups == 65
    assert pq.ParquetFile(tmp_path / "pandas" / "notes.parquet").num_row_groups == 1
    # And the conversion audits as the pandas engine's does, the text read back from it.
    assert_same_loading(audit(load(tmp_path / "dask")), audit(load(tmp_path / "pandas")))


def test_convert_command_on_the_dask_engine_prints_what_the_pandas_engine_prints(
    scheduler, tmp_path, capsys
):
    bundle = _hostile(tmp_path)
    convert = ["convert", str(bundle), "--to", "parquet", "--show", "50", "--out"]

    assert main([*convert, str(tmp_path / "out")]) == 0
    expected = capsys.readouterr().out
    shutil.rmtree(tmp_path / "out")
    assert (
        main([*convert, str(tmp_path / "out"), "--engine", "dask", "--scheduler", scheduler]) == 0
    )

    assert capsys.readouterr().out == expected
    assert "\n10 rows were set aside, not converted (10 problems, all in " in expected


def test_a_conversion_on_the_workers_into_the_bundle_itself_stops_before_a_cluster_starts(
    tmp_path, capsys, monkeypatch
):
    def no_cluster(*_arguments):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr("auditkit.distributed.dask_client", no_cluster)
    bundle = tmp_path / "bundle"
    shutil.copytree(SAMPLE, bundle)

    assert (
        main(["convert", str(bundle), "--to", "parquet", "--out", str(bundle), "--engine", "dask"])
        == 2
    )

    assert " ".join(capsys.readouterr().err.split()) == (
        f"auditkit: --out {bundle} is the bundle itself: its tables would then be there twice, "
        "as CSV and as Parquet. Name another folder."
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for --engine dask."),
        (["--partitions", "4"], "--partitions is for --engine dask."),
        (
            ["--scheduler", "tcp://127.0.0.1:1", "--partitions", "4"],
            "--scheduler and --partitions are for --engine dask.",
        ),
    ],
)
def test_the_dask_engines_options_without_it_are_a_usage_error(tmp_path, capsys, options, words):
    assert main(["audit", str(SAMPLE), "--out", str(tmp_path), *options]) == 2
    assert capsys.readouterr().err == f"auditkit: {words}\n"
    if "--partitions" not in options:  # an audit's option only
        assert (
            main(["convert", str(SAMPLE), "--to", "parquet", "--out", str(tmp_path), *options]) == 2
        )
        assert capsys.readouterr().err == f"auditkit: {words}\n"


def test_a_cluster_failing_while_a_conversion_writes_leaves_its_folder_as_it_was(
    scheduler, tmp_path, capsys, monkeypatch
):
    from auditkit.convert import convert

    out = tmp_path / "parquet"
    convert(SAMPLE, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    pieces = auditkit.distributed._accepted_pieces

    def first_piece_then_a_dead_worker(*arguments):
        yield next(pieces(*arguments))
        raise distributed.KilledWorker("a-piece", None, 3)

    monkeypatch.setattr("auditkit.distributed._accepted_pieces", first_piece_then_a_dead_worker)
    convert_args = ["convert", str(SAMPLE), "--to", "parquet", "--out", str(out)]

    assert main([*convert_args, "--engine", "dask", "--scheduler", scheduler]) == 2

    said = " ".join(capsys.readouterr().err.split())
    assert said.startswith("auditkit: A Dask worker died while running a task")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
