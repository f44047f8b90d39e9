"""The Dask engine: the same rule code, run per client partition on a Dask cluster.

The big tables' CSVs are cut into pieces of whole records, read, typed and validated on the
workers (load_on_dask): what needs more than one row is checked across every piece before any
split, by hashing ids into buckets (_OnWorkers): ids unique across the bundle, references
between tables (a duplicate id split between two partitions would pass each partition's check).
The driver gets the rows set aside and the accepted rows counted per clinician and month
(_for_driver); the records stay on the workers. Only then is the bundle split, each worker
splitting its pieces by the clients' partitions the driver sends (partitions_on_dask). Every
rule looks within one client, so each partition, a Bundle holding some clients and all their
records, is audited by `check_rules` on a worker, and the driver puts the results together with
`finish_audit`, as the pandas engine does, asking the partitions for the times of reviewed
subjects: the results are the same, row for row. A bundle loaded already (`load`) is split on
the driver and sent whole.

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

import logging
import operator
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auditkit.auditing import (
    AuditResult,
    add_up_records,
    check_auditable,
    check_clinicians,
    check_rules,
    count_opportunities,
    count_records,
    finish_audit,
    for_clinicians,
    for_month,
    gathered,
)
from auditkit.columns import distinct, is_in, positions_in, text_hashes
from auditkit.convert import Converted, check_out, write_converted
from auditkit.errors import AuditkitError
from auditkit.loading import SOURCE_LINE, read_table, read_table_file
from auditkit.memory import release_unused_memory
from auditkit.output import counted, in_order
from auditkit.phones import client_numbers, numbers_on_file
from auditkit.pieces import CsvPiece, ParquetPiece, csv_cuts, parquet_pieces, read_piece
from auditkit.policy import Policy
from auditkit.privacy import client_names
from auditkit.reviews import subject_times
from auditkit.rules import RULES, Checked
from auditkit.schemas import CALLS, REPORTED_COLUMNS, TABLES, TableSpec
from auditkit.tables import RawTable
from auditkit.validation import (
    Bundle,
    IdLookup,
    IdSet,
    TableInHand,
    TypedTable,
    ValidatedElsewhere,
    bundle_files,
    finish_typing,
    kept_for_validation,
    parse_table,
    repeated_ids,
    schema_problems,
    set_aside_from,
    validate,
    validate_table,
    with_converted_set_aside,
    without_problem_rows,
)

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

# Seconds to wait for a scheduler to answer, or for a local cluster's workers to start.
CONNECT_TIMEOUT = 30
CLOSE_TIMEOUT = 30


def client_partitions(clients: pd.DataFrame, n: int) -> pd.Series:
    """Each client's partition, by client_id: a hash of the client's household, mod n.

    A household is the clients sharing a phone number on file, keyed by the least of their
    client_ids; a client with a number of their own is a household of one.
    """
    household = households(clients["client_id"], numbers_on_file(clients))
    return pd.Series(_hashed(household, n), index=household.index)


def _hashed(keys: pd.Series, n: int) -> np.ndarray:
    """A partition (or bucket) for each key: a hash of it, mod n."""
    return (text_hashes(keys) % np.uint64(n)).astype("int64")


def households(client_ids: pd.Series, on_file: pd.DataFrame) -> pd.Series:
    """Each client's household, by client_id: the least client_id of the clients linked to
    them through numbers on file (numbers_on_file), a shared number at a time, so a client
    with a cell and a home number brings both numbers' clients together."""
    household = pd.Series(client_ids.to_numpy(), index=client_ids.to_numpy())
    numbers, clients = on_file["number"].to_numpy(), on_file["client_id"].to_numpy()
    while True:  # a pass per link in the longest chain of shared numbers: one, nearly always
        least = pd.Series(household.loc[clients].to_numpy()).groupby(numbers).transform("min")
        joined = pd.concat([household, pd.Series(least.to_numpy(), index=clients)])
        joined = joined.groupby(level=0, sort=False).min().reindex(household.index)
        if joined.equals(household):
            return household
        household = joined


def _home(keys: pd.Series, partition: pd.Series) -> np.ndarray:
    """The partition of each key (a client_id, a number) by `partition`; -1 where it has none."""
    at = positions_in(keys, partition.index.to_series())
    # A key not found is at -1, the -1 appended: no home, even where `partition` is empty.
    return np.append(partition.to_numpy(), -1)[at]


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
    keys = distinct(np.concatenate([p[p >= 0] * len(frame) + r[p >= 0] for p, r in pairs]))
    part, row = np.divmod(keys, max(len(frame), 1))
    bounds = np.searchsorted(part, np.arange(n + 1))
    return [frame.iloc[row[bounds[k] : bounds[k + 1]]].reset_index(drop=True) for k in range(n)]


# Each table's rows by partition: the partitions of each row (one array, or two where a row
# belongs in two), and the rows that go to every partition (or None).
Homes = dict[str, tuple[list[np.ndarray], np.ndarray | None]]


@dataclass
class _ClientHomes:
    """Each client's partition, and each number on file's (the first of its clients'): what
    every row's partition is worked out from, wherever the row is."""

    partition: pd.Series
    numbers: pd.Series
    partitions: int  # how many


def _client_homes(clients: pd.DataFrame, n: int) -> _ClientHomes:
    partition = client_partitions(clients, n)
    on_file = numbers_on_file(clients)
    numbers = pd.Series(_home(on_file["client_id"], partition), index=on_file["number"])
    return _ClientHomes(partition, numbers[~numbers.index.duplicated()], n)


def _row_homes(
    name: str,
    frame: pd.DataFrame,
    homes: _ClientHomes,
    linked: np.ndarray | None = None,
    span: np.ndarray | None = None,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Where each row of a table goes (see module doc): a note also to its appointment's
    partition (`linked`: each note's), the call log's first and last calls (`span`) and
    blanket approvals everywhere."""
    client = _home(frame["client_id"], homes.partition)
    if name == "notes":
        assert linked is not None
        return [client, linked], None
    if name == "approvals":
        return [client], frame["client_id"].isna().to_numpy()
    if name == CALLS.name:
        by_number = _home(client_numbers(frame), homes.numbers)
        home = np.where(frame["client_id"].notna(), client, by_number)
        # A call with no client's number (one changed since) is no rule's subject, but a review
        # of what it was may still ask its time: it goes where its own id hashes to.
        no_home = home < 0
        home[no_home] = _hashed(frame["call_id"][no_home], homes.partitions)
        return [home], span
    return [client], None


def _call_log_span(started: pd.Series) -> np.ndarray:
    """The call log's first and last calls (the first of each, if several share the time)."""
    span = np.zeros(len(started), dtype=bool)
    if len(started):
        span[[started.argmin(), started.argmax()]] = True
    return span


def partition_homes(bundle: Bundle, n: int) -> Homes:
    """Where each row of every table but staff goes, among n partitions (see module doc), for
    a bundle held here whole."""
    tables, calls = bundle.tables, bundle.calls
    homes = _client_homes(tables["clients"], n)
    appointments = _row_homes("appointments", tables["appointments"], homes)
    found = pd.Series(appointments[0][0], index=tables["appointments"]["appointment_id"])
    linked = _home(tables["notes"]["appointment_id"], found)
    span = _call_log_span(calls["started_at"])
    return {
        name: _row_homes(name, frame, homes, linked, span)
        for name, frame in {**tables, CALLS.name: calls}.items()
        if name != "staff"
    }


def _partition_template(bundle: Bundle) -> Bundle:
    """What every partition holds: staff, the policy, and every client's name (IQ001)."""
    return replace(
        bundle,
        tables={"staff": bundle.tables["staff"]},
        calls=bundle.calls.iloc[:0],
        rejected=bundle.rejected.iloc[:0],
        coverage=bundle.coverage.iloc[:0],
        other_client_names=tuple(client_names(bundle)),
    )


def _assembled(template: Bundle, tables: dict[str, list[pd.DataFrame]]) -> Bundle:
    """A partition: `template` with each table's parts (a piece's each, in order) as one."""
    frames = {
        name: parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        for name, parts in tables.items()
    }
    calls = frames.pop("calls")
    return replace(template, tables={**template.tables, **frames}, calls=calls)


def split_bundle(bundle: Bundle, n: int) -> list[Bundle]:
    """The bundle as n partitions, each holding only its clients' records (see module doc)."""
    frames = {**bundle.tables, "calls": bundle.calls}
    parts = {
        name: _split(frames[name], homes, n, everywhere)
        for name, (homes, everywhere) in partition_homes(bundle, n).items()
    }
    template = _partition_template(bundle)
    return [_assembled(template, {name: [p[k]] for name, p in parts.items()}) for k in range(n)]


# Bytes of a CSV (or Parquet) file a worker parses in one task: enough that the parse, not a
# task's overhead, is the cost; few enough that a worker holds several at once.
PIECE_BYTES = 64 * 2**20
# The tables of a row per event, read in pieces on the workers. Staff, clients and approvals (a
# row per person or decision) are read here: the split needs them whole.
PIECED = ("appointments", "contacts", "notes", "calls")


@dataclass
class _Piece:
    """Part of a table, parsed and checked against its model on a worker: all of validation
    that needs no other row."""

    raw: RawTable
    frame: pd.DataFrame  # every row, typed
    problems: list[pd.DataFrame]  # per model column, its values that would not parse
    model_problems: pd.DataFrame  # the model's checks on the rows that parsed


def _parsed_piece(
    source: CsvPiece | ParquetPiece | RawTable, data: bytes | None, spec: TableSpec, tz: str
) -> _Piece:
    """On a worker: a piece of a CSV or Parquet table, its bytes `data` (or a whole table read
    on the driver), parsed and checked. Of the text as read it keeps only what validation
    still reads (validation.kept_for_validation: the ids, people's names); the parsed frame
    shares the rest or replaces it."""
    if isinstance(source, RawTable):  # a table read whole on the driver
        raw = source
    else:
        assert data is not None  # (a piece's bytes are sent beside it)
        raw = read_piece(replace(source, data=data), spec)
    frame, problems = parse_table(raw, spec, tz)
    model = schema_problems(without_problem_rows(frame, problems)[0], spec)
    return _Piece(kept_for_validation(raw, spec), frame, problems, model)


def _piece_facts(piece: _Piece) -> tuple[str, str, int]:
    """On a worker: the piece's file, encoding and rows read, for the table's coverage."""
    return piece.raw.file, piece.raw.encoding, piece.raw.rows_read


# Ids a bucket holds, about: one task compares a million ids in a fraction of a second, and
# each bucket costs a task per piece to gather, so a bundle has a bucket per million rows of
# its largest table (one for the usual clinic's), not one per worker thread.
IDS_PER_BUCKET = 2**20


def _in_buckets(values: pd.Series, tags: pd.Series, n: int) -> list[pd.DataFrame]:
    """On a worker: each value (blanks aside) with its tag (its line, or its partition), in n
    buckets by a hash of the value, so that every piece puts an id in the same bucket; in the
    rows' order within each."""
    present = values.notna().to_numpy()
    pairs = pd.DataFrame(  # the values keep their dtype: Arrow text, not a Python str each
        {
            "value": values[present].reset_index(drop=True),
            "tag": tags[present].to_numpy(dtype="int64"),
        }
    )
    if n == 1:  # every table under IDS_PER_BUCKET rows: nothing to hash
        return [pairs]
    bucket = _hashed(pairs["value"], n)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n + 1))
    return [pairs.iloc[order[bounds[b] : bounds[b + 1]]] for b in range(n)]


def _ids_in_buckets(piece: _Piece, spec: TableSpec, n: int) -> list[pd.DataFrame]:
    """On a worker: every parsed row's id, for repeats across the pieces (_repeats)."""
    return _in_buckets(piece.frame[spec.id_column], piece.raw.lines, n)


def _of_each_piece(parts: list[pd.DataFrame], found: np.ndarray) -> list[np.ndarray]:
    """Positions `found` in the concatenated `parts` (one per piece), by piece."""
    piece = np.repeat(np.arange(len(parts)), [len(p) for p in parts])[found]
    return [found[piece == k] for k in range(len(parts))]


def _repeats(*buckets: pd.DataFrame) -> list[pd.Series]:
    """On a worker: one bucket of a table's ids, from every piece in order; for each piece, the
    line each id it repeats was first on, by the line of its row (validation.repeated_ids)."""
    pairs = pd.concat(buckets, ignore_index=True)
    found = repeated_ids(pairs["value"], pairs["tag"])
    lines, first = pairs["tag"].to_numpy(), pd.Series(found.to_numpy(), index=found.index)
    return [
        pd.Series(first.loc[at].to_numpy(), index=lines[at])
        for at in _of_each_piece(list(buckets), found.index.to_numpy())
    ]


def _typed_piece(piece: _Piece, spec: TableSpec, *repeats: pd.Series) -> TypedTable:
    """On a worker: the piece with its repeats across the table set aside (finish_typing);
    `repeats`: its part of each bucket's (_repeats)."""
    lines = piece.raw.lines
    mine = pd.concat(repeats)
    row = pd.Series(lines.index, index=lines.to_numpy())
    first_lines = pd.Series(mine.to_numpy(), index=row.loc[mine.index].to_numpy()).sort_index()
    # (a list of its own: a task must leave what it is given as it was, to be run again)
    problems = list(piece.problems)
    return finish_typing(piece.raw, piece.frame, problems, spec, piece.model_problems, first_lines)


def _references_in_buckets(typed: TypedTable, column: str, n: int) -> list[pd.DataFrame]:
    """On a worker: a reference column's values on the rows still standing, by bucket."""
    return _in_buckets(typed.clean[column], typed.raw.lines.loc[typed.clean.index], n)


def _dangling(targets: list[pd.DataFrame], references: list[pd.DataFrame]) -> list[np.ndarray]:
    """On a worker: one bucket of a table's accepted ids (every piece's) and of the references
    to it (every referring piece's); for each referring piece, the lines of its references to
    no accepted id."""
    ids = IdSet(pd.concat(targets, ignore_index=True)["value"])  # (Arrow's is_in: 2x slower)
    asked = pd.concat(references, ignore_index=True)
    lines = asked["tag"].to_numpy()
    missing = np.flatnonzero(~ids.contains(asked["value"]))
    return [lines[at] for at in _of_each_piece(references, missing)]


@dataclass
class _Answered:
    """Whether a piece's references are among another pieced table's ids, as its buckets
    answered (_dangling): by column, for each row still standing. validation.IdLookup."""

    found: dict[str, pd.Series]

    def contains(self, values: pd.Series) -> np.ndarray:
        return self.found[str(values.name)].loc[values.index].to_numpy()


def _validated_piece(
    typed: TypedTable,
    spec: TableSpec,
    tz: str,
    held: dict[str, pd.DataFrame],
    set_aside: pd.DataFrame,
    dangling: dict[str, list[np.ndarray]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """On a worker: the piece's accepted rows (every column) and its rows set aside, as
    validate_table gives a table's. References to `held` tables (their ids, sent) are checked
    here, those to other pieced tables by the lines their buckets found `dangling`."""
    lines = typed.raw.lines.loc[typed.clean.index].to_numpy()
    answered = _Answered(
        {
            column: pd.Series(~np.isin(lines, np.concatenate(parts)), index=typed.clean.index)
            for column, parts in dangling.items()
        }
    )
    # A pieced table referred to (its rows are on the workers) is answered for, not held.
    id_sets: dict[str, IdLookup] = {
        c.references: answered for c in spec.columns if c.name in dangling and c.references
    }
    # validate_table adds to the problems and a column to the rows: to copies, so that the
    # task leaves `typed` as it was, to be run again (a worker lost midway).
    typed = replace(typed, clean=typed.clean.copy(deep=False), problems=list(typed.problems))
    return validate_table(typed, spec, tz, held, set_aside, id_sets)


def _for_driver(
    validated: tuple[pd.DataFrame, pd.DataFrame], spec: TableSpec
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What the driver needs of a validated piece: its rows set aside, its accepted rows counted
    per clinician and month (auditing.count_records, for the report's trend and months), and
    what the report reads of them (REPORTED_COLUMNS) as an empty frame, the table's columns and
    types for the driver's bundle. The records themselves stay on the worker: the split is
    worked out here (partitions_on_dask), and a stale review's subject is looked up in the
    partitions (_subject_times_on)."""
    accepted, set_aside = validated
    kept = [c.name for c in spec.columns if c.name in REPORTED_COLUMNS[spec.name]]
    counts = count_records({spec.name: accepted})
    return accepted[[*kept, SOURCE_LINE]].iloc[:0], set_aside, counts


@dataclass
class _OnWorkers:
    """Validation of the tables read in pieces, on the workers where the pieces are.

    What one row shows was checked as each piece was parsed. Across rows: each piece's ids go
    into buckets by a hash, every piece's bucket b to one task, which finds the repeats among
    them (the first row by line keeps the id); references to a table read here (staff,
    clients) are checked against its ids, sent to the pieces; references to another pieced
    table (a note's appointment) are put in buckets by the same hash beside that table's
    accepted ids, and each bucket says which refer to none. The driver gets each piece's rows
    set aside and its accepted rows counted (_for_driver), nothing else."""

    client: Client
    tz: str
    # Buckets the ids of every table are hashed into (the same for all: references are joined
    # bucket by bucket), set by load_on_dask from the largest table once all are read.
    buckets: int = 1
    # each pieced table's validated pieces, each (accepted rows, rows set aside), in order
    tables: dict[str, list[Future]] = field(default_factory=dict)
    # each pieced table's accepted ids, [bucket][piece], once another table refers to it
    accepted_ids: dict[str, list[list[Future]]] = field(default_factory=dict)
    # each pieced table's accepted rows counted per clinician and month (count_records)
    records: list[pd.DataFrame] = field(default_factory=list)

    def table(self, spec: TableSpec, parsed: list[Future]) -> ValidatedElsewhere:
        """The table whose pieces are being parsed (`parsed`), for validate() to validate."""
        facts = self.client.gather(
            [self.client.submit(_piece_facts, p, pure=False) for p in parsed]
        )
        file, encoding, _rows = facts[0]
        rows_read = sum(rows for _file, _encoding, rows in facts)

        def validated(
            accepted: dict[str, pd.DataFrame], set_aside: pd.DataFrame
        ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
            return self._validate(spec, parsed, accepted, set_aside)

        return ValidatedElsewhere(file, encoding, rows_read, validated)

    def by_piece(self, answers: list[Future], pieces: int) -> list[list[Future]]:
        """Each piece's part of every bucket's answer (each a list by piece): [piece][bucket]."""
        submit = self.client.submit
        return [
            [submit(operator.getitem, a, k, pure=False) for a in answers] for k in range(pieces)
        ]

    def by_bucket(self, parts: list[Future]) -> list[list[Future]]:
        """Every piece's part of each bucket (parts: each piece's buckets): [bucket][piece]."""
        submit = self.client.submit
        return [
            [submit(operator.getitem, p, b, pure=False) for p in parts] for b in range(self.buckets)
        ]

    def _validate(
        self,
        spec: TableSpec,
        parsed: list[Future],
        accepted: dict[str, pd.DataFrame],
        set_aside: pd.DataFrame,
    ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        client, n = self.client, self.buckets
        ids = [client.submit(_ids_in_buckets, p, spec, n, pure=False) for p in parsed]
        repeats = [client.submit(_repeats, *parts, pure=False) for parts in self.by_bucket(ids)]
        typed = [
            client.submit(_typed_piece, p, spec, *mine, pure=False)
            for p, mine in zip(parsed, self.by_piece(repeats, len(parsed)), strict=True)
        ]
        referred = {c.name: c.references for c in spec.columns if c.references in accepted}
        dangling: list[dict[str, list[Future]]] = [{} for _ in typed]
        for column, table in referred.items():
            if table not in self.tables:  # read here: its ids go to the pieces
                continue
            asked = [client.submit(_references_in_buckets, t, column, n, pure=False) for t in typed]
            found = [
                client.submit(_dangling, targets, references, pure=False)
                for targets, references in zip(
                    self._accepted_ids(table), self.by_bucket(asked), strict=True
                )
            ]
            for k, mine in enumerate(self.by_piece(found, len(typed))):
                dangling[k][column] = mine
        held = {
            table: accepted[table][[TABLES[table].id_column]]
            for table in referred.values()
            if table not in self.tables
        }
        where = set_aside_from(set_aside, referred.values())
        [held_sent, where_sent] = client.scatter([held, where], broadcast=True, hash=False)
        validated = [
            client.submit(
                _validated_piece, t, spec, self.tz, held_sent, where_sent, mine, pure=False
            )
            for t, mine in zip(typed, dangling, strict=True)
        ]
        parts = client.gather([client.submit(_for_driver, v, spec, pure=False) for v in validated])
        self.tables[spec.name] = validated
        counts = add_up_records([counts for _frame, _bad, counts in parts])
        self.records.append(counts)
        set_aside = pd.concat([bad for _frame, bad, _counts in parts], ignore_index=True)
        return parts[0][0], set_aside, int(counts["records"].sum())

    def _accepted_ids(self, table: str) -> list[list[Future]]:
        """The pieced table's accepted ids, [bucket][piece], made once for every table
        referring to it."""
        if table not in self.accepted_ids:
            column = TABLES[table].id_column
            self.accepted_ids[table] = self.by_bucket(
                [
                    self.client.submit(_accepted_in_buckets, v, column, self.buckets, pure=False)
                    for v in self.tables[table]
                ]
            )
        return self.accepted_ids[table]


def _accepted_in_buckets(
    validated: tuple[pd.DataFrame, pd.DataFrame], column: str, n: int
) -> list[pd.DataFrame]:
    """On a worker: a column of a validated piece's accepted rows, by line, in buckets: a
    table's ids, for the references to them (_dangling); a note's appointment, for its
    partition (_homes_of)."""
    accepted = validated[0]
    return _in_buckets(accepted[column], accepted[SOURCE_LINE], n)


def _read_on_workers(
    client: Client, bundle: Path, spec: TableSpec, file: Path, tz: str, piece_bytes: int
) -> list[Future]:
    """Send the file's pieces to the workers to be parsed, one at a time (the driver holds one
    piece's bytes, not the file); a file read whole (csv_cuts and parquet_pieces say when)
    goes as one."""
    suffix = file.suffix.lower()
    sources: Iterator[CsvPiece | ParquetPiece | RawTable] | None = None
    if suffix == ".csv" and (cuts := csv_cuts(file, piece_bytes)) is not None:
        sources = (cuts.piece(k) for k in range(len(cuts.spans)))
    elif suffix == ".parquet":
        sources = parquet_pieces(file, piece_bytes)
    if sources is None:
        sources = iter([read_table_file(file, spec)])
    return [_parse_on_a_worker(client, source, spec, tz) for source in sources]


def _parse_on_a_worker(
    client: Client, source: CsvPiece | ParquetPiece | RawTable, spec: TableSpec, tz: str
) -> Future:
    """A piece sent to a worker and parsed there. A piece's bytes are sent on their own: Dask
    sends bytes as they are, but pickles an object holding them (10 times slower, 1 s for
    64 MB here)."""
    if isinstance(source, CsvPiece | ParquetPiece):
        [data] = client.scatter([source.data], hash=False)
        return client.submit(_parsed_piece, replace(source, data=b""), data, spec, tz, pure=False)
    return client.submit(
        _parsed_piece, client.scatter(source, hash=False), None, spec, tz, pure=False
    )


def load_on_dask(
    client: Client,
    path: Path,
    found: tuple[Policy, dict[str, Path | None]],
    progress: Callable[[str], None] | None = None,
    piece_bytes: int = PIECE_BYTES,
) -> tuple[Bundle, _OnWorkers]:
    """`load`, with the tables of a row per event parsed and validated on the workers, a piece
    at a time, and kept there (_OnWorkers); the same bundle, rows and rows set aside.

    Returns the bundle as the driver holds it (those tables empty, their records counted in
    `counted_records`: the records never leave the workers) and the pieces on the workers, for
    `partitions_on_dask`. `found` is the bundle's policy and files
    (validation.bundle_files), found before a cluster starts.
    """
    policy, files = found
    tz = policy.clinic.timezone
    say = progress or (lambda _message: None)
    specs = (*TABLES.values(), CALLS)
    sent = {
        spec.name: _read_on_workers(client, path, spec, file, tz, piece_bytes)
        for spec in specs
        if spec.name in PIECED and (file := files[spec.name]) is not None
    }
    on_workers = _OnWorkers(client, tz)
    raws: dict[str, TableInHand] = {}
    for spec in specs:
        file = files[spec.name]
        if spec.name not in sent:
            raws[spec.name] = read_table(path, spec, file)
            continue
        assert file is not None
        parsed = sent.pop(spec.name)
        raws[spec.name] = table = on_workers.table(spec, parsed)
        rows, pieces = counted(table.rows_read, "row"), counted(len(parsed), "piece")
        say(f"read {file.name}: {rows}, in {pieces} on the workers")
    largest = max(
        (t.rows_read for t in raws.values() if isinstance(t, ValidatedElsewhere)), default=0
    )
    on_workers.buckets = max(1, -(-largest // IDS_PER_BUCKET))
    say("validating")
    bundle = validate(raws, policy, path)
    # (A table the bundle lacks, no call log say, has no records to count.)
    bundle = replace(bundle, counted_records=add_up_records(on_workers.records))
    with_converted_set_aside(bundle)
    del raws  # what the tables read here set aside: back to the OS, as `load` gives it back
    release_unused_memory()
    return bundle, on_workers


def load_bundle_on_dask(
    path: Path | str,
    scheduler: str | None = None,
    policy: Policy | Path | str | None = None,
    calls: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """`load` on a Dask cluster (load_on_dask; a local one without `scheduler`): the bundle as
    the driver holds it (the tables of a row per event counted, not held), its rows set aside
    and coverage the pandas engine's. For checking a bundle too big to load here
    (`auditkit validate --engine dask`)."""
    found = bundle_files(Path(path), policy, calls)  # before a cluster starts
    with dask_client(scheduler) as client:
        return load_on_dask(client, Path(path), found, progress)[0]


def _homes_in_buckets(
    validated: tuple[pd.DataFrame, pd.DataFrame], homes: _ClientHomes, n: int
) -> list[pd.DataFrame]:
    """On a worker: each accepted appointment's id with its partition, in buckets, for the
    notes on it (_homes_of)."""
    accepted = validated[0]
    [home], _ = _row_homes("appointments", accepted, homes)
    return _in_buckets(accepted["appointment_id"], pd.Series(home), n)


def _homes_of(targets: list[pd.DataFrame], asked: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """On a worker: one bucket of the appointments' partitions and of each note piece's
    appointments; for each piece, each such note's line and its appointment's partition (-1:
    none)."""
    found = pd.concat(targets, ignore_index=True)
    homes = pd.Series(found["tag"].to_numpy(), index=found["value"])
    return [
        pd.DataFrame({"line": notes["tag"].to_numpy(), "home": _home(notes["value"], homes)})
        for notes in asked
    ]


def _extremes(validated: tuple[pd.DataFrame, pd.DataFrame]) -> tuple | None:
    """On a worker: a piece of the call log's first and last calls, (time, line) each."""
    accepted = validated[0]
    if not len(accepted):
        return None
    started, lines = accepted["started_at"], accepted[SOURCE_LINE]
    first, last = started.argmin(), started.argmax()
    return (started.iloc[first], lines.iloc[first]), (started.iloc[last], lines.iloc[last])


def _log_span_lines(extremes: list[tuple | None]) -> np.ndarray:
    """The lines of the call log's first and last calls from every piece's (_extremes), as
    _call_log_span finds them in the whole log: the earliest piece's, where several tie."""
    found = [e for e in extremes if e is not None]
    if not found:
        return np.zeros(0, dtype=np.int64)
    first = min(found, key=lambda e: e[0][0])[0]  # min and max keep the first of equals
    last = max(found, key=lambda e: e[1][0])[1]
    return np.array([first[1], last[1]], dtype=np.int64)


def _split_piece(
    validated: tuple[pd.DataFrame, pd.DataFrame],
    name: str,
    homes: _ClientHomes,
    n: int,
    linked: list[pd.DataFrame] | None,
    span_lines: np.ndarray | None,
) -> list[pd.DataFrame]:
    """On a worker: each partition's part of a validated piece's accepted rows, by its clients'
    partitions (`homes`); a note also by its appointment's (`linked`: _homes_of's answers), the
    call log's first and last calls (`span_lines`) everywhere."""
    accepted = validated[0]
    lines = accepted[SOURCE_LINE].to_numpy()
    note_homes = None
    if linked is not None:
        answers = pd.concat(linked, ignore_index=True)
        by_line = pd.Series(answers["home"].to_numpy(), index=answers["line"].to_numpy())
        note_homes = by_line.reindex(lines, fill_value=-1).to_numpy()
    span = None if span_lines is None else np.isin(lines, span_lines)
    rows_homes, everywhere = _row_homes(name, accepted, homes, note_homes, span)
    return _split(accepted, rows_homes, n, everywhere)


def _note_homes(on_workers: _OnWorkers, homes: Future) -> list[list[Future]]:
    """For each note piece, its notes' appointments' partitions: a part from every bucket of
    the appointments' ids and the notes' appointment_ids, by the same hash (_homes_of)."""
    submit, n, pieced = on_workers.client.submit, on_workers.buckets, on_workers.tables
    targets = [submit(_homes_in_buckets, v, homes, n, pure=False) for v in pieced["appointments"]]
    asked = [
        submit(_accepted_in_buckets, v, "appointment_id", n, pure=False) for v in pieced["notes"]
    ]
    answers = [
        submit(_homes_of, t, a, pure=False)
        for t, a in zip(on_workers.by_bucket(targets), on_workers.by_bucket(asked), strict=True)
    ]
    return on_workers.by_piece(answers, len(pieced["notes"]))


def partitions_on_dask(
    client: Client, bundle: Bundle, on_workers: _OnWorkers, n: int
) -> list[Future]:
    """The n partitions of a bundle loaded by load_on_dask, put together on the workers: each
    piece split there, by its clients' partitions (sent to it, with their numbers' for the call
    log); a note also by its appointment's, found in buckets of the appointments' ids; the call
    log's first and last calls, found from each piece's, to every partition. The driver sends
    no row's partition."""
    homes = _client_homes(bundle.clients, n)
    [homes_sent, template] = client.scatter(
        [homes, _partition_template(bundle)], broadcast=True, hash=False
    )
    pieced = on_workers.tables
    tables: list[dict[str, list]] = [{} for _ in range(n)]
    for name, frame in {**bundle.tables, CALLS.name: bundle.calls}.items():
        if name == "staff":
            continue
        if name not in pieced:  # read here (or absent: no rows), split here
            none, span = np.full(len(frame), -1), np.zeros(len(frame), dtype=bool)
            rows_homes, everywhere = _row_homes(name, frame, homes, none, span)
            for k, part in enumerate(_split(frame, rows_homes, n, everywhere)):
                tables[k][name] = [part]
            continue
        linked: Sequence[list[Future] | None] = [None for _ in pieced[name]]
        if name == "notes":
            linked = _note_homes(on_workers, homes_sent)
        span_lines = None
        if name == CALLS.name:
            extremes = [client.submit(_extremes, v, pure=False) for v in pieced[name]]
            span_lines = _log_span_lines(client.gather(extremes))
        for k in range(n):
            tables[k][name] = []
        for piece, answers in zip(pieced[name], linked, strict=True):
            split = client.submit(
                _split_piece, piece, name, homes_sent, n, answers, span_lines, pure=False
            )
            for k in range(n):
                tables[k][name].append(client.submit(operator.getitem, split, k, pure=False))
    return [client.submit(_assembled, template, tables[k], pure=False) for k in range(n)]


def _check_partition(part: Bundle, as_of: pd.Timestamp) -> dict[str, Checked]:
    """On a worker: every rule over one partition, keeping what concerns its own clients, the
    opportunities counted per rule, clinician and month (auditing.count_opportunities): the
    driver adds them up, and never holds a row per subject examined.

    The call log's first and last calls are in every partition; what they show about another
    partition's clients is that partition's to report. A subject charged to no client (an LG001
    call open between the clients of a shared number) is only examined where they all are.
    """
    mine = part.clients["client_id"]

    def own(subjects: pd.DataFrame) -> pd.DataFrame:
        client = subjects["client_id"]
        return subjects[(is_in(client, mine) | client.isna()).to_numpy()]

    return {
        code: Checked(
            count_opportunities(own(checked.opportunities)),
            own(checked.findings),
            own(checked.pending),
        )
        for code, checked in check_rules(part, threads=1, as_of=as_of).items()
    }


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


def local_cluster() -> LocalCluster:
    """A cluster of 2 worker processes on this machine, listening on its loopback address only:
    what dask_client starts without a scheduler (and the tests' cluster)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # No dashboard; the scheduler's health and metrics pages on a free loopback port,
        # not on 8787, which another cluster on this machine may hold.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        death_timeout=CONNECT_TIMEOUT,  # a worker that can't start in time fails the start
        preload=["auditkit.startup"],  # without modules auditkit never uses (dask_setup)
        # The workers' own logs stay out of the command's output: a run that stops (bad
        # input) closed the cluster under their running tasks, and they printed their
        # heartbeats' tracebacks after its one paragraph. What fails is said in words.
        silence_logs=logging.CRITICAL,
    )


@contextmanager
def dask_client(scheduler: str | None = None) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a local cluster of 2 worker processes.

    The local cluster listens on the loopback address only and is closed on the way out,
    whatever happens; both waits are bounded by CONNECT_TIMEOUT.
    """
    try:
        from distributed import Client
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
        with client, _failures_in_words():
            _check_workers(client, scheduler)
            yield client
        return
    try:
        cluster = local_cluster()
    except (OSError, RuntimeError, TimeoutError) as error:  # no port, no process, too slow
        raise AuditkitError(
            f"A local Dask cluster could not start on this machine: {str(error).rstrip('.')}. "
            "Audit with the default pandas engine, or give --scheduler the address of a "
            "running cluster."
        ) from None
    try:
        with Client(cluster, timeout=CONNECT_TIMEOUT) as client, _failures_in_words():
            yield client
    finally:
        cluster.close(timeout=CLOSE_TIMEOUT)


# The distribution whose version each worker is asked for (a test names one not installed).
_DISTRIBUTION = "auditkit"


def _version_here() -> str:
    return version("auditkit")


def _check_workers(client: Client, scheduler: str) -> None:
    """Refuse, in words, a cluster that cannot give this auditkit's results: no worker joins
    within CONNECT_TIMEOUT (the run would wait for one for ever), or a worker runs another
    auditkit, or none (the reader and the rules run there, so another version's would be
    other results, or a failure deep in a task)."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise AuditkitError(
            f"The Dask scheduler at {scheduler} has no workers: none joined within "
            f"{CONNECT_TIMEOUT} s. Start some (dask worker {scheduler}), or leave --scheduler "
            "out to start a local cluster."
        ) from None
    mine = _version_here()
    found = client.run(version, _DISTRIBUTION, on_error="return")
    other = {w: _running(v) for w, v in found.items() if v != mine}
    if other:
        named = ", ".join(sorted(other)[:3]) + (", ..." if len(other) > 3 else "")
        raise AuditkitError(
            f"{len(other)} of the cluster's {len(found)} workers ({named}) "
            f"{' or '.join(sorted(set(other.values())))}, where this machine runs auditkit "
            f"{mine}: the rules and the reader run on the workers, so the results would not be "
            f"this version's. Install auditkit {mine} on every worker (pip install "
            f"'auditkit[dask]=={mine}'), or audit with the default pandas engine."
        )


def _running(answer: str | Exception) -> str:
    """What a worker's answer to `version` says it runs."""
    if isinstance(answer, str):
        return f"run auditkit {answer}"
    if isinstance(answer, PackageNotFoundError):
        return "have no auditkit"
    return f"did not say which auditkit they run ({type(answer).__name__})"


@contextmanager
def _failures_in_words() -> Iterator[None]:
    """A cluster failing during the run (a worker dead, the scheduler gone) stops it in one
    paragraph, as bad input does, not in Dask's traceback."""
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    try:
        yield
    except KilledWorker:
        raise AuditkitError(
            "A Dask worker died while running a task, and so did every worker that took the "
            "task over: most often a worker runs out of memory. Give the workers more memory, "
            "or run the command with the default pandas engine (an audit can also be run in "
            "more partitions, --partitions)."
        ) from None
    except CommClosedError as error:
        raise AuditkitError(
            f"The connection to the Dask cluster closed during the run ({error}): the "
            "scheduler or a worker may have stopped. Run it again, or run it with the default "
            "pandas engine."
        ) from None


def audit_on_dask(
    bundle: Bundle | Path | str,
    scheduler: str | None = None,
    partitions: int | None = None,
    month: str | None = None,
    reviews: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    show_names: bool = False,
    clinicians: Sequence[str] = (),
    policy: Policy | Path | str | None = None,
    calls: Path | str | None = None,
    piece_bytes: int = PIECE_BYTES,
    as_of: pd.Timestamp | None = None,
) -> AuditResult:
    """`audit`, with the rules run per client partition on a Dask cluster; the same result.

    `bundle` is a bundle loaded here already (see the module doc), or a bundle folder, loaded
    by load_on_dask with the parsing on the workers (`policy` and `calls` as for `load`): the
    result's bundle then holds no records of the tables of a row per event, only their counts
    (Bundle.counted_records), and its opportunities are counted (count_opportunities). Without
    `scheduler` (an address such as tcp://host:8786) a local cluster is started for the run.
    `partitions` defaults to twice the cluster's worker threads, so a slow partition does not
    leave the other workers idle.
    """
    if isinstance(bundle, Bundle):
        if policy is not None or calls is not None:
            raise ValueError("policy and calls are for a bundle folder; this bundle is loaded")
        check_auditable(bundle.path)
        check_clinicians(bundle, clinicians)
    else:  # a folder, a policy or a call log that is not there stops before a cluster starts
        check_auditable(Path(bundle))
        found = bundle_files(Path(bundle), policy, calls)
    say = progress or (lambda _message: None)
    with dask_client(scheduler) as client:
        from distributed import as_completed  # installed: dask_client says how otherwise

        n = partitions or max(1, 2 * sum(client.nthreads().values()))
        say(f"dask: {n} client partitions on {client.scheduler.address}")
        if isinstance(bundle, Bundle):
            held = bundle
            parts = client.scatter(split_bundle(held, n), hash=False)
        else:
            held, on_workers = load_on_dask(client, Path(bundle), found, say, piece_bytes)
            check_clinicians(held, clinicians)
            parts = partitions_on_dask(client, held, on_workers, n)
            del on_workers  # each piece is let go of on its worker once split
            # The columns a report reads, as audit(keep_records=False) leaves them: no rows
            # (the records are on the workers, counted here).
            held = held.for_report()
            release_unused_memory()
        # One moment for every partition: the driver's, not each worker's clock.
        as_of = pd.Timestamp.now(tz="UTC") if as_of is None else as_of
        futures = client.map(_check_partition, parts, as_of=as_of, pure=False)
        for done, _ in enumerate(as_completed(futures), 1):
            say(f"partition {done} of {n} checked")
        results = client.gather(futures)
        checked = {}
        for code in RULES:  # each rule's part of every partition's results let go of once joined
            of_rule = [r.pop(code) for r in results]
            checked[code] = Checked(
                gathered([p.opportunities for p in of_rule]),
                gathered([p.findings for p in of_rule]),
                gathered([p.pending for p in of_rule]),
            )
        del results, of_rule
        # What the results arrived in (their pickled bytes, the partitions' parts) handed back
        # before finishing, not held beside what it allocates: at 1M appointments the driver's
        # peak went from 780-788 to 723-733 MB.
        release_unused_memory()
        # A stale review's subject is looked up in the partitions, while the cluster is up,
        # when the records are there alone.
        times = (
            None if isinstance(bundle, Bundle) else partial(_subject_times_on, client, parts, held)
        )
        result = finish_audit(held, checked, reviews, progress, show_names, times)
    return for_month(for_clinicians(result, clinicians), month)


def _subject_times_on(
    client: Client, parts: list[Future], here: Bundle, subjects: pd.DataFrame
) -> pd.DataFrame:
    """reviews.SubjectTimes over the partitions: the times of the records among `subjects`
    they hold, once each (the call log's first and last calls are in every partition). No
    subject (every review applied, or none): the driver's tables, which hold the records'
    columns but no rows, say so without a round trip to the cluster."""
    if subjects.empty:
        return subject_times(here)(subjects)
    [sent] = client.scatter([subjects], broadcast=True, hash=False)
    found = client.gather(client.map(_subject_times_in, parts, subjects=sent, pure=False))
    return pd.concat(found, ignore_index=True).drop_duplicates(
        ["subject_type", "subject_id"], ignore_index=True
    )


def _subject_times_in(part: Bundle, subjects: pd.DataFrame) -> pd.DataFrame:
    """On a worker: the times of the partition's records among `subjects`."""
    return subject_times(part)(subjects)


# Pieces whose accepted rows are on their way to the driver while it writes the one before:
# enough that the writer does not wait on a worker, few enough that it holds little.
PIECES_AHEAD = 2


def _accepted_pieces(client: Client, pieces: list[Future]) -> Iterator[pd.DataFrame]:
    """A pieced table's accepted rows with every column, the free text too, a piece at a time
    in the file's order: the driver holds a piece or two, never the table."""
    asked = (client.submit(operator.itemgetter(0), v, pure=False) for v in pieces)
    yield from in_order(asked, PIECES_AHEAD)


def convert_on_dask(
    path: Path | str,
    out: Path | str,
    scheduler: str | None = None,
    policy: Path | str | None = None,
    calls: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
    piece_bytes: int = PIECE_BYTES,
) -> Converted:
    """`convert`, for a bundle too big to load here: loaded on a Dask cluster (load_on_dask;
    a local one without `scheduler`), and each table of a row per event written here a piece
    at a time, as its worker sends the piece's accepted rows. The same tables, rows set aside
    and files as the pandas engine's conversion."""
    path, out = Path(path), Path(out)
    check_out(path, out)  # before a cluster starts, as a missing policy or call log are
    found = bundle_files(path, policy, calls)
    with dask_client(scheduler) as client:
        bundle, on_workers = load_on_dask(client, path, found, progress, piece_bytes)
        pieced = on_workers.tables
        tables = {**bundle.tables, CALLS.name: bundle.calls}
        parts = {
            name: _accepted_pieces(client, pieced[name]) if name in pieced else [frame]
            for name, frame in tables.items()
        }
        return write_converted(bundle, out, policy, parts, progress)
