"""The Dask engine: the same rule code, run per client partition on a Dask cluster.

Loading and validation happen first, once, on the driver, over the whole bundle: ids unique
across the bundle and references between tables can only be checked there (a duplicate id split
between two partitions would pass each partition's check). Only then is the bundle split. Every
rule looks within one client, so each partition, a Bundle holding some clients and all their
records, is audited by `check_rules` on a worker, and the driver puts the pieces together with
`finish_audit`, as the pandas engine does: the results are the same, row for row.

Splitting by client_id (a hash of it, mod the number of partitions) needs four refinements to
stay exact:

- Staff and the policy go to every partition, and so do blanket approvals (those with no
  client_id), which cover every client of their staff member, and every client's name, since
  IQ001 reads a reply that names any client, whichever partition the client is in.
- A call-log entry without a client_id is matched to every client with its number on file and
  paired with one of their logged calls, so clients who share a number (siblings, a parent's
  phone) are hashed together, under the least of their client_ids, and the entry goes to them.
- LG002 examines logged calls within the call log's span, so the log's first and last calls go
  to every partition; findings about another partition's clients are left to that partition.
- A note linked to another client's appointment (the pandas engine accepts one) also goes to
  that appointment's partition, where it documents the no-show.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auditkit.auditing import (
    AuditResult,
    check_auditable,
    check_clinicians,
    check_rules,
    finish_audit,
    for_clinicians,
    for_month,
)
from auditkit.errors import AuditkitError
from auditkit.phones import client_numbers, numbers_on_file
from auditkit.privacy import client_names
from auditkit.rules import RULES, Checked
from auditkit.validation import Bundle

if TYPE_CHECKING:
    from distributed import Client

# Seconds to wait for a scheduler to answer, or for a local cluster's workers to start.
CONNECT_TIMEOUT = 30
CLOSE_TIMEOUT = 30


def client_partitions(clients: pd.DataFrame, n: int) -> pd.Series:
    """Each client's partition, by client_id: a hash of the client's household, mod n.

    A household is the clients sharing a phone number on file, keyed by the least of their
    client_ids; a client with a number of their own is a household of one.
    """
    on_file = numbers_on_file(clients)
    head = on_file.groupby("number")["client_id"].transform("min")
    household = clients["client_id"].set_axis(clients["client_id"])
    household.loc[on_file["client_id"].to_numpy()] = head.to_numpy()
    hashes = pd.util.hash_pandas_object(household, index=False).to_numpy()
    return pd.Series((hashes % n).astype("int64"), index=household.index)


def _home(keys: pd.Series, partition: pd.Series) -> np.ndarray:
    """The partition of each key (a client_id, a number) by `partition`; -1 where it has none."""
    at = partition.index.get_indexer(keys.astype("object"))
    return np.where(at >= 0, partition.to_numpy()[at], -1)


def _split(
    frame: pd.DataFrame, homes: Sequence[np.ndarray], n: int, everywhere: np.ndarray | None = None
) -> list[pd.DataFrame]:
    """Each partition's rows of `frame`, in the frame's order (the rules' tie-breaks keep it).

    `homes` give each row a partition (-1: none), or two when a row belongs in two; rows in
    `everywhere` go to every partition.
    """
    rows = np.arange(len(frame))
    pairs = [(h, rows) for h in homes]
    if everywhere is not None:
        shared = rows[everywhere]
        pairs.append((np.repeat(np.arange(n), len(shared)), np.tile(shared, n)))
    keys = np.unique(np.concatenate([p[p >= 0] * len(frame) + r[p >= 0] for p, r in pairs]))
    part, row = np.divmod(keys, max(len(frame), 1))
    bounds = np.searchsorted(part, np.arange(n + 1))
    return [frame.iloc[row[bounds[k] : bounds[k + 1]]].reset_index(drop=True) for k in range(n)]


def split_bundle(bundle: Bundle, n: int) -> list[Bundle]:
    """The bundle as n partitions, each holding only its clients' records (see module doc)."""
    tables, calls = bundle.tables, bundle.calls
    partition = client_partitions(tables["clients"], n)
    home = {
        name: _home(tables[name]["client_id"], partition)
        for name in ("clients", "appointments", "contacts", "notes", "approvals")
    }
    appointments = pd.Series(home["appointments"], index=tables["appointments"]["appointment_id"])
    linked = _home(tables["notes"]["appointment_id"], appointments)
    blanket = tables["approvals"]["client_id"].isna().to_numpy()
    split = {
        "clients": _split(tables["clients"], [home["clients"]], n),
        "appointments": _split(tables["appointments"], [home["appointments"]], n),
        "contacts": _split(tables["contacts"], [home["contacts"]], n),
        "notes": _split(tables["notes"], [home["notes"], linked], n),
        "approvals": _split(tables["approvals"], [home["approvals"]], n, everywhere=blanket),
    }
    on_file = numbers_on_file(tables["clients"])
    numbers = pd.Series(_home(on_file["client_id"], partition), index=on_file["number"])
    by_number = _home(client_numbers(calls), numbers[~numbers.index.duplicated()])
    by_client = _home(calls["client_id"], partition)
    span = np.zeros(len(calls), dtype=bool)
    if len(calls):
        span[[calls["started_at"].argmin(), calls["started_at"].argmax()]] = True
    call_parts = _split(
        calls, [np.where(calls["client_id"].notna(), by_client, by_number)], n, everywhere=span
    )
    names = tuple(client_names(bundle))
    return [
        replace(
            bundle,
            tables={"staff": tables["staff"], **{name: parts[k] for name, parts in split.items()}},
            calls=call_parts[k],
            rejected=bundle.rejected.iloc[:0],
            coverage=bundle.coverage.iloc[:0],
            other_client_names=names,
        )
        for k in range(n)
    ]


def _check_partition(part: Bundle) -> dict[str, Checked]:
    """On a worker: every rule over one partition, keeping what concerns its own clients.

    The call log's first and last calls are in every partition; what they show about another
    partition's clients is that partition's to report.
    """
    mine = part.clients["client_id"].astype("object")
    return {
        code: Checked(
            checked.opportunities[checked.opportunities["client_id"].astype("object").isin(mine)],
            checked.findings[checked.findings["client_id"].astype("object").isin(mine)],
        )
        for code, checked in check_rules(part, threads=1).items()
    }


def _gather(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' frames as one; empty ones left out, so none changes a column's dtype."""
    found = [frame for frame in frames if len(frame)]
    return pd.concat(found, ignore_index=True) if found else frames[0]


def _refused(address: str) -> str | None:
    """Why the host at a tcp:// or tls:// `address` turned the connection down at once (nothing
    listens on the port, say), or None: Dask's client would retry until its timeout."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError:  # not an address: Dask says so
        return None
    if scheme not in ("tcp", "tls"):
        return None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except ConnectionRefusedError:
        return f"{host} refused the connection on port {port}; no scheduler listens there"
    except OSError:  # unreachable, or no answer in time: Dask's client tells
        return None
    return None


@contextmanager
def dask_client(scheduler: str | None = None) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a local cluster of 2 worker processes.

    The local cluster listens on the loopback address only and is closed on the way out,
    whatever happens; both waits are bounded by CONNECT_TIMEOUT.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise AuditkitError(
            "--engine dask needs Dask, which is not installed. Install it with "
            "pip install 'auditkit[dask]', or audit with the default pandas engine."
        ) from None
    if scheduler is not None:
        if refused := _refused(scheduler):
            raise AuditkitError(
                f"No Dask scheduler answered at {scheduler}: {refused}. Give its address as "
                "tcp://HOST:8786, or leave --scheduler out to start a local cluster."
            )
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as error:  # unreachable, refused, or not an address
            raise AuditkitError(
                f"No Dask scheduler answered at {scheduler} within {CONNECT_TIMEOUT} s: {error}. "
                "Give its address as tcp://HOST:8786, or leave --scheduler out to start a local "
                "cluster."
            ) from None
        with client:
            yield client
        return
    try:
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # No dashboard; the scheduler's health and metrics pages on a free loopback port,
            # not on 8787, which another cluster on this machine may hold.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            death_timeout=CONNECT_TIMEOUT,  # a worker that can't start in time fails the start
        )
    except (OSError, RuntimeError, TimeoutError) as error:  # no port, no process, too slow
        raise AuditkitError(
            f"A local Dask cluster could not start on this machine: {str(error).rstrip('.')}. "
            "Audit with the default pandas engine, or give --scheduler the address of a "
            "running cluster."
        ) from None
    try:
        with Client(cluster, timeout=CONNECT_TIMEOUT) as client:
            yield client
    finally:
        cluster.close(timeout=CLOSE_TIMEOUT)


def audit_on_dask(
    bundle: Bundle,
    scheduler: str | None = None,
    partitions: int | None = None,
    month: str | None = None,
    reviews: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    show_names: bool = False,
    clinicians: Sequence[str] = (),
) -> AuditResult:
    """`audit`, with the rules run per client partition on a Dask cluster; the same result.

    `bundle` is loaded and validated already, on this machine (see the module doc). Without
    `scheduler` (an address such as tcp://host:8786) a local cluster is started for the run.
    `partitions` defaults to twice the cluster's worker threads, so a slow partition does not
    leave the other workers idle.
    """
    check_auditable(bundle.path)
    check_clinicians(bundle, clinicians)
    say = progress or (lambda _message: None)
    with dask_client(scheduler) as client:
        from distributed import as_completed  # installed: dask_client says how otherwise

        n = partitions or max(1, 2 * sum(client.nthreads().values()))
        say(f"dask: {n} client partitions on {client.scheduler.address}")
        parts = client.scatter(split_bundle(bundle, n), hash=False)
        futures = client.map(_check_partition, parts, pure=False)
        for done, _ in enumerate(as_completed(futures), 1):
            say(f"partition {done} of {n} checked")
        results = client.gather(futures)
    checked = {
        code: Checked(
            _gather([r[code].opportunities for r in results]),
            _gather([r[code].findings for r in results]),
        )
        for code in RULES
    }
    result = finish_audit(bundle, checked, reviews, progress, show_names)
    return for_month(for_clinicians(result, clinicians), month)
