"""Frames several rules share, derived once per audit from the bundle and the policy.

Everything here is pure pandas over whole tables, and every derivation looks within one client,
so the same code runs on a client partition of a larger bundle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, Generic, TypeVar, overload

import numpy as np
import pandas as pd

from auditkit import text
from auditkit.columns import day_start, is_in, positions_in, take_text
from auditkit.phones import CLIENT_NUMBER_READS, client_numbers, numbers_on_file
from auditkit.privacy import client_marker
from auditkit.rules.base import dated
from auditkit.schemas import DIRECTIONS, FREE_TEXT
from auditkit.validation import Bundle


def pairs_within(
    left: pd.DataFrame,
    right: pd.DataFrame,
    on: str,
    left_at: str,
    right_at: str,
    within: pd.Timedelta,
    suffixes: tuple[str, str] = ("", "_y"),
) -> pd.DataFrame:
    """What ``left.merge(right, on=on)`` filtered to right_at in [left_at, left_at + within]
    gives (same rows, same order; a blank `on` or time matches nothing), without making the
    pairs outside the window: a no-show joined to every call its client ever had is millions.

    Right rows are sorted by (key, time) once; each left row's window is then a slice found by
    binary search. Times are ranks among the right rows' times (how many are earlier), so that
    key and time make one exact integer sort key; a window's ends are ranked the same way.
    """
    keys, _ = pd.factorize(pd.concat([left[on], right[on]], ignore_index=True))
    left_key, right_key = keys[: len(left)], keys[len(left) :]

    def micros(times: pd.Series) -> np.ndarray:
        return times.dt.as_unit("us").array.asi8

    start = micros(left[left_at])
    end = micros(left[left_at] + within)
    at = micros(right[right_at])
    known_left = (left_key >= 0) & left[left_at].notna().to_numpy()
    known_right = (right_key >= 0) & right[right_at].notna().to_numpy()
    candidates = np.flatnonzero(known_right)
    times = np.sort(at[candidates])
    width = len(times) + 1
    at_rank = np.searchsorted(times, at[candidates], side="left")
    # at >= start <=> at's rank >= start's (left); at <= end <=> at's rank < end's (right)
    start_rank = np.searchsorted(times, start, side="left")
    end_rank = np.searchsorted(times, end, side="right") - 1
    right_sort = right_key[candidates].astype("int64") * width + at_rank
    order = np.argsort(right_sort, kind="stable")
    right_sort, candidates = right_sort[order], candidates[order]
    base = left_key.astype("int64") * width
    low = np.searchsorted(right_sort, base + start_rank, side="left")
    high = np.searchsorted(right_sort, base + end_rank, side="right")
    counts = np.where(known_left, high - low, 0)
    left_rows = np.repeat(np.arange(len(left)), counts)
    first = np.repeat(low - (np.cumsum(counts) - counts), counts)
    right_rows = candidates[np.arange(counts.sum()) + first]
    pair_order = np.lexsort((right_rows, left_rows))  # merge's order: left rows, then right's
    left_rows, right_rows = left_rows[pair_order], right_rows[pair_order]
    extra = right.columns.drop(on)
    clash = extra.intersection(left.columns)
    joined = left.iloc[left_rows].reset_index(drop=True)
    for column in extra:
        name = column + suffixes[1] if column in clash else column
        joined[name] = right[column].iloc[right_rows].reset_index(drop=True)
    if len(clash) and suffixes[0]:
        joined = joined.rename(columns={c: c + suffixes[0] for c in clash})
    return joined


# Texts matched at once: each slice is copied a few times over while it is matched, and two
# rules match at once. On issue 7's example 25,000 rather than 50,000 took the rules' peak from
# 607-654 MB to 577-593 MB, in the same time.
PHRASE_SLICE = 25_000

Derived = TypeVar("Derived")


class shared(Generic[Derived]):
    """A frame derived once per audit, however many rules ask for it, on whichever thread:
    cached_property, computed under the context's lock for that name, so two rules checked
    together wait for one computation rather than making two."""

    def __init__(self, derive: Callable[[Any], Derived]) -> None:
        self.derive = derive
        self.__doc__ = derive.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, ctx: None, owner: type | None = None) -> shared[Derived]: ...
    @overload
    def __get__(self, ctx: AuditContext, owner: type | None = None) -> Derived: ...
    def __get__(self, ctx: AuditContext | None, owner: type | None = None) -> Any:
        if ctx is None:
            return self
        with ctx.lock(self.name):
            if self.name not in ctx.__dict__:  # (once set, the instance's entry is read first)
                ctx.__dict__[self.name] = self.derive(ctx)
        return ctx.__dict__[self.name]


def _expiry(ends: pd.Series) -> pd.Series:
    """When approvals ended, in words: at a day's start, "at the end of" the day before (how
    an expiry written as a date alone reads), else the time."""
    at_day_start = ends == day_start(ends)
    day_before = (ends - pd.Timedelta(microseconds=1)).dt.strftime("%Y-%m-%d")
    return ("on " + dated(ends)).mask(at_day_start, "at the end of " + day_before)


class AuditContext:
    """What the rules of one audit share: the bundle, its policy, and frames derived from
    them once. Safe for rules checked on several threads at once."""

    def __init__(self, bundle: Bundle, as_of: pd.Timestamp | None = None) -> None:
        self.bundle = bundle
        self.policy = bundle.policy
        # When the records were taken (by default, now): a deadline running past it is not
        # judged yet (rules.base.judged_by).
        self.as_of = pd.Timestamp.now(tz="UTC") if as_of is None else as_of
        # (category, table, words, names): see phrases_each
        self._phrases: dict[tuple[str, str, bool, bool], pd.Series] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def lock(self, key: object) -> threading.Lock:
        """The lock for deriving `key` (a frame's name, a phrase category and table)."""
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    # --- timing ---------------------------------------------------------------------------
    @property
    def wait(self) -> pd.Timedelta:
        return pd.Timedelta(minutes=self.policy.missed_session.wait_minutes)

    @property
    def call_deadline(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.policy.missed_session.call_within_hours)

    @property
    def note_deadline(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.policy.missed_session.note_within_hours)

    @property
    def match_window(self) -> pd.Timedelta:
        return pd.Timedelta(minutes=self.policy.calls.match_minutes)

    # --- text -----------------------------------------------------------------------------
    def phrases(
        self,
        category: str,
        table: str = "contacts",
        rows: pd.Index | None = None,
        names: bool = False,
    ) -> pd.Series:
        """Evidence of a phrase category in a table's free text (message, or a note's text).

        Only `rows` (index labels; default all) are matched, and each row once per audit:
        most rules read a small slice of the table, and matching is the costly part.
        """
        return self.phrases_each([category], table, rows, names=names)[category]

    def phrases_each(
        self,
        categories: Sequence[str],
        table: str = "contacts",
        rows: pd.Index | None = None,
        words: bool = True,
        names: bool = False,
    ) -> dict[str, pd.Series]:
        """phrases() for several categories of the same rows: categories missing the same rows
        are matched together, their texts taken, deduplicated and repaired once. With
        `words=False`, only whether each row shows the category: for a rule that quotes none,
        several times cheaper. With `names`, clients' names are marked first
        (privacy.client_marker), so that phrases written about "her" read "Ana" too ("tell Ana
        to call me"); the quote keeps the name, which the audit masks."""
        with ExitStack() as held:
            # Each category's lock, always in the same order: no two rules wait on each other.
            for category in sorted(set(categories)):
                held.enter_context(self.lock((category, table, words, names)))
            return self._phrases_each(categories, table, rows, words, names)

    def _phrases_each(
        self,
        categories: Sequence[str],
        table: str,
        rows: pd.Index | None,
        words: bool,
        names: bool,
    ) -> dict[str, pd.Series]:
        frame = self.bundle.tables[table]
        rows = frame.index if rows is None else pd.Index(rows)
        missing: list[tuple[pd.Index, list[str]]] = []  # rows still to match, for which categories
        for category in categories:
            done = self._phrases.get((category, table, words, names))
            todo = rows if done is None else rows.difference(done.index)
            if done is not None and not len(todo):
                continue
            same = next((c for r, c in missing if r.equals(todo)), None)
            if same is None:
                missing.append((todo, [category]))
            else:
                same.append(category)
        texts = frame[FREE_TEXT[table]]
        for todo, together in missing:
            # In slices: each copies its texts a few times over while they are matched.
            slices = [
                self._find(together, texts.loc[todo[start : start + PHRASE_SLICE]], words, names)
                for start in range(0, max(len(todo), 1), PHRASE_SLICE)
            ]
            for category in together:
                found = pd.concat([each[category] for each in slices])
                done = self._phrases.get((category, table, words, names))
                self._phrases[category, table, words, names] = (
                    found if done is None else pd.concat([done, found])
                )
        return {c: self._phrases[c, table, words, names].reindex(rows) for c in categories}

    @shared
    def name_marker(self) -> Callable[[pd.Series], pd.Series]:
        return client_marker(self.bundle)

    def _find(
        self, categories: list[str], texts: pd.Series, words: bool, names: bool
    ) -> dict[str, pd.Series]:
        phrases = [c for c in categories if c != "clinic_name"]
        extras = {c: self.policy.phrases.get(c, ()) for c in phrases}
        mark = self.name_marker if names else None
        found = text.find_each(phrases, texts, extras, words, mark) if phrases else {}
        if names and words:  # the quote as written, without the marks
            found = {
                c: quoted.str.replace(text.NAME_MARK, "", regex=False)
                for c, quoted in found.items()
            }
        if "clinic_name" in categories:
            clinic = self.policy.clinic
            named = text.find_clinic_name(texts, clinic.name, clinic.aliases)
            found["clinic_name"] = named if words else named.notna()
        return found

    # --- records --------------------------------------------------------------------------
    @shared
    def contacts(self) -> pd.DataFrame:
        """The contact log without its messages, so selecting rows copies no text: rules read
        the words through phrases(), by the contact's row label."""
        return self.bundle.contacts.drop(columns=FREE_TEXT["contacts"])

    @shared
    def notes(self) -> pd.DataFrame:
        """The notes without their text, as contacts() is without messages: a row filter of
        the whole table would copy a million notes' words to read three other columns."""
        return self.bundle.notes.drop(columns=FREE_TEXT["notes"])

    @shared
    def no_shows(self) -> pd.DataFrame:
        appointments = self.bundle.appointments
        return appointments[appointments["status"] == "no_show"]

    @shared
    def outbound_calls(self) -> pd.DataFrame:
        """Outbound phone contacts, at the phone system's time where it has the call: the
        clinician's log says what was said, the phone system when it was said. Only the
        columns the rules read (a copy of every column of half the log would cost more)."""
        contacts = self.contacts
        outbound = (
            (contacts["direction"] == "outbound") & (contacts["channel"] == "phone")
        ).to_numpy()
        calls = contacts.loc[
            outbound, ["contact_id", "client_id", "staff_id", "started_at", "party", "outcome"]
        ]
        matches = self.call_matches
        if matches.empty:  # no call log, or nothing in it matched
            return calls
        pair = np.full(len(contacts), -1)  # each contact's row in matches; -1: not matched
        pair[matches["contact_row"].to_numpy()] = np.arange(len(matches))
        at = pair[np.flatnonzero(outbound)]
        system_time = matches["call_at"].iloc[np.maximum(at, 0)].set_axis(calls.index)
        return calls.assign(started_at=system_time.where(at >= 0, calls["started_at"]))

    # --- the phone system's log ---------------------------------------------------------------
    @shared
    def call_clients(self) -> pd.DataFrame:
        """Each phone-system call (`call`: its row in the call log) with a client it was to or
        from (`client_id`): the client_id the log has, else every client with the call's number
        on file (siblings may share a parent's phone). Row positions, not the log's columns: a
        call to a shared number is a row per sibling, and copying a million rows' text would
        cost more than everything done with them.

        Calls with no client's number are left out: nothing in the contact log can be theirs.
        """
        calls = self.bundle.calls
        named = calls["client_id"].notna().to_numpy()
        unnamed = np.flatnonzero(~named)
        ends = calls[list(CLIENT_NUMBER_READS)].iloc[unnamed]
        by_number = pd.DataFrame(
            {"call": unnamed, "number": client_numbers(ends).to_numpy()}
        ).merge(numbers_on_file(self.bundle.clients), on="number")
        rows = np.flatnonzero(named)
        return pd.concat(
            [
                pd.DataFrame({"call": rows, "client_id": calls["client_id"].array.take(rows)}),
                by_number[["call", "client_id"]],
            ],
            ignore_index=True,
        )

    @shared
    def call_matches(self) -> pd.DataFrame:
        """Logged phone contacts paired one to one with phone-system calls of the same client and
        direction at most match_minutes apart (contact_id, call_id, call_at), nearest first;
        `contact_row` and `call` are their rows in the contact and call logs, and `client` the
        client's in the clients table, for rules to find them by position rather than by hashing
        a million ids.

        Each round pairs every contact with its nearest free call and lets each call keep its
        nearest contact; contacts that lost try again against the calls still free.
        """
        contacts, calls = self.contacts, self.bundle.calls
        phone = (contacts["channel"] == "phone").to_numpy()
        logged = contacts.loc[phone, ["contact_id", "client_id", "direction", "started_at"]]
        pairs = self.call_clients
        call = pairs["call"].to_numpy()
        # Rounds move integers only (a group per client and direction, rows, calls): every
        # sort, join and take of a million Arrow strings would cost more than the matching.
        # Clients by their row in the clients table (every id here refers to one), directions
        # by their place in the vocabulary: no million ids copied end to end to be numbered.
        clients = self.bundle.clients["client_id"]
        ways = len(DIRECTIONS)
        group = np.concatenate(
            [
                positions_in(logged["client_id"], clients) * ways
                + positions_in(logged["direction"], pd.Series(DIRECTIONS, dtype="str")),
                positions_in(pairs["client_id"], clients) * ways
                + positions_in(calls["direction"], pd.Series(DIRECTIONS, dtype="str"))[call],
            ]
        )
        left = pd.DataFrame(
            {
                "started_at": logged["started_at"].array,
                "group": group[: len(logged)],
                "row": np.arange(len(logged)),
            }
        ).sort_values("started_at", kind="stable")
        free = pd.DataFrame(
            {
                "call_at": calls["started_at"].array.take(call),
                "group": group[len(logged) :],
                "call": call,  # a shared number: a row per sibling, one call
            }
        ).sort_values("call_at", kind="stable")
        rounds = [left.iloc[:0].merge(free.iloc[:0], on="group")]
        while len(left) and len(free):
            nearest = pd.merge_asof(
                left,
                free,
                left_on="started_at",
                right_on="call_at",
                by="group",
                tolerance=self.match_window,
                direction="nearest",
            ).dropna(subset=["call"])
            if nearest.empty:
                break
            gap = (nearest["call_at"] - nearest["started_at"]).abs()
            paired = nearest.assign(gap=gap).sort_values("gap", kind="stable")
            paired = paired.drop_duplicates("call")
            rounds.append(paired)
            left = left[~left["row"].isin(paired["row"])]
            free = free[~free["call"].isin(paired["call"])]
        matches = pd.concat(rounds, ignore_index=True)
        row, call = matches["row"].to_numpy(np.int64), matches["call"].to_numpy(np.int64)
        return pd.DataFrame(
            {
                "contact_id": take_text(logged["contact_id"], row, matches.index),
                "call_id": take_text(calls["call_id"], call, matches.index),
                "call_at": calls["started_at"].array.take(call),
                "contact_row": np.flatnonzero(phone)[row],
                "call": call,
                "client": matches["group"].to_numpy(np.int64) // ways,
            }
        )

    def matched(self, log: str) -> np.ndarray:
        """Which rows of the contact log (`log` "contacts") or the call log ("calls") are in a
        pair of call_matches: a mask by row position."""
        frame = self.bundle.calls if log == "calls" else self.bundle.contacts
        rows = np.zeros(len(frame), dtype=bool)
        rows[self.call_matches["call" if log == "calls" else "contact_row"].to_numpy()] = True
        return rows

    def calls_after_no_shows(self, within: pd.Timedelta) -> pd.DataFrame:
        """(no-show, outbound call to that client) pairs with the call in [start, start + within].

        ``contact_row`` is the call's row in the contacts table, for looking up its phrases.
        """
        pairs = pairs_within(
            self.no_shows[["appointment_id", "client_id", "staff_id", "scheduled_start"]],
            self.outbound_calls[
                ["contact_id", "client_id", "started_at", "outcome", "party", "staff_id"]
            ]
            .rename_axis("contact_row")
            .reset_index(),
            "client_id",
            "scheduled_start",
            "started_at",
            within,
            suffixes=("", "_caller"),
        )
        pairs["after"] = pairs["started_at"] - pairs["scheduled_start"]
        return pairs

    @shared
    def window_calls(self) -> pd.DataFrame:
        """Outreach calls: outbound calls to the client within the call deadline of a no-show,
        paired with each no-show they may answer.

        A call linked to another appointment (the next session's reminder) or made for coaching
        or an inquiry is no outreach for it, unless it is linked to this no-show, or its purpose
        or its words are the missed session (a reschedule logged against the new appointment:
        "called after the missed 1pm session, rescheduled to Thursday").
        """
        pairs = self.calls_after_no_shows(self.call_deadline)
        call = self.contacts.loc[pairs["contact_row"], ["appointment_id", "purpose"]]
        call.index = pairs.index
        linked = call["appointment_id"]
        here = linked == pairs["appointment_id"]
        doubtful = (linked.notna() & ~here) | call["purpose"].isin(["coaching", "inquiry"])
        rows = pd.Index(pairs.loc[doubtful, "contact_row"].unique())
        speaks = self.phrases_each(["note_missed_session"], rows=rows, words=False)
        about_it = (call["purpose"] == "missed_session") | speaks["note_missed_session"].reindex(
            pairs["contact_row"], fill_value=False
        ).to_numpy()
        return pairs[~doubtful | here | about_it].reset_index(drop=True)

    @shared
    def outreach_calls(self) -> pd.DataFrame:
        """Each outreach call once, with the no-show it answers: the one it is linked to, else
        the latest before it (a 13:05 call after yesterday's and today's 13:00 no-shows is
        today's outreach, five minutes in, not yesterday's a day late)."""
        latest_first = self.window_calls.sort_values(
            "scheduled_start", ascending=False, kind="stable"
        )
        return latest_first.drop_duplicates("contact_id").sort_index()

    @shared
    def consent_time(self) -> pd.Series:
        """When each client's consent to naming the clinic was recorded (NaT: never)."""
        clients = self.bundle.clients.set_index("client_id")
        recorded = clients["consent_recorded_at"].fillna(clients["intake_date"])
        return recorded.where(clients["may_name_clinic"])

    @shared
    def closure_warnings(self) -> pd.DataFrame:
        """Outbound contacts whose message warns the file will be closed: to the client, or to
        a mailbox or person not known to be another's (party blank or unknown). A warning told
        to a third party is TP001's."""
        contacts = self.contacts
        to_client = (contacts["direction"] == "outbound") & (contacts["party"] != "third_party")
        evidence = self.phrases("closure_warning", rows=contacts.index[to_client]).dropna()
        warnings = contacts.loc[evidence.index].copy()
        warnings["evidence"] = evidence
        return warnings

    def approval_status(self, kind: str, events: pd.DataFrame) -> pd.DataFrame:
        """For each event (staff_id, client_id, at), whether a valid approval of `kind` covered it.

        Valid: for that staff member, for that client or all of theirs, given by a role the
        policy lists, at or before the event, not expired. Where none was valid, `problem` says
        what was wrong with the nearest candidate, for the evidence.
        """
        roles = getattr(self.policy.approvals, kind)
        needs = " or ".join(role.replace("_", " ") for role in roles)
        staff_roles = self.bundle.staff.set_index("staff_id")["role"]
        approvals = self.bundle.approvals
        # Only what the checks read: every event is paired with each of its staff's approvals.
        approvals = approvals.loc[
            approvals["kind"] == kind,
            ["approval_id", "staff_id", "client_id", "approved_by", "approved_at", "expires_at"],
        ].assign(approver_role=lambda a: a["approved_by"].map(staff_roles))
        keyed = events[["staff_id", "client_id", "at"]].reset_index(names="event")
        pairs = keyed.merge(approvals, on="staff_id", suffixes=("", "_approval"))
        in_scope = pairs["client_id_approval"].isna() | (
            pairs["client_id_approval"] == pairs["client_id"]
        )
        pairs = pairs[in_scope]
        wrong_role = ~pairs["approver_role"].isin(roles)
        too_late = pairs["approved_at"] > pairs["at"]
        # (An expiry written as a date alone was read as the end of that day: schemas.)
        ends = pairs["expires_at"]
        expired = ends.notna() & (ends <= pairs["at"])
        valid = (~(wrong_role | too_late | expired)).groupby(pairs["event"]).any()
        # What was wrong is said once per event, of its first candidate: words for those only.
        first = pairs[wrong_role | too_late | expired].drop_duplicates("event")
        problem = pd.Series(
            np.select(
                [wrong_role[first.index], too_late[first.index], expired[first.index]],
                [
                    "approval "
                    + first["approval_id"]
                    + " was given by "
                    + first["approved_by"]
                    + ", a "
                    + first["approver_role"].fillna("unknown role").str.replace("_", " ")
                    + f" (needs: {needs})",
                    "approval "
                    + first["approval_id"]
                    + " was given later, on "
                    + dated(first["approved_at"]),
                    "approval " + first["approval_id"] + " expired " + _expiry(first["expires_at"]),
                ],
            ),
            index=first["event"].to_numpy(),
        )
        status = pd.DataFrame(index=keyed["event"])
        status["valid"] = valid.reindex(status.index, fill_value=False).astype(bool)
        status["problem"] = problem.reindex(status.index).fillna(
            f"no {kind.replace('_', ' ')} approval"
        )
        status.index = events.index
        return status

    @shared
    def documenting_notes(self) -> pd.DataFrame:
        """For each no-show that has one, the note documenting it (linked first, else earliest),
        with `note_row`, the note's row in the notes table.

        A note documents a no-show when written within the note deadline of its start and
        either linked to it by appointment_id, or unlinked, for the same client, and describing
        a missed session.
        """
        notes = self.notes
        no_shows = self.no_shows[["appointment_id", "client_id", "staff_id", "scheduled_start"]]
        # Only notes linked to a no-show are joined: most notes are of sessions held.
        of_no_show = is_in(notes["appointment_id"], no_shows["appointment_id"]).to_numpy()
        linked = no_shows.merge(
            notes.loc[of_no_show, ["note_id", "appointment_id", "written_at"]].assign(
                note_row=np.flatnonzero(of_no_show)
            ),
            on="appointment_id",
        ).assign(linked=True)
        # Only unlinked notes by a client with a no-show need reading.
        maybe = notes["appointment_id"].isna() & is_in(notes["client_id"], no_shows["client_id"])
        rows = notes.index[maybe]
        describes = self.phrases_each(["note_missed_session"], "notes", rows, words=False)
        describing = np.flatnonzero(maybe.to_numpy())[describes["note_missed_session"].to_numpy()]
        unlinked = pairs_within(
            no_shows,
            notes[["note_id", "client_id", "written_at"]]
            .iloc[describing]
            .assign(note_row=describing),
            "client_id",
            "scheduled_start",
            "written_at",
            self.note_deadline,
        ).assign(linked=False)
        candidates = pd.concat([linked, unlinked], ignore_index=True)
        delay = candidates["written_at"] - candidates["scheduled_start"]
        candidates = candidates[(delay >= pd.Timedelta(0)) & (delay <= self.note_deadline)]
        candidates = candidates.sort_values(
            ["appointment_id", "linked", "written_at"], ascending=[True, False, True]
        )
        return candidates.drop_duplicates("appointment_id").reset_index(drop=True)
