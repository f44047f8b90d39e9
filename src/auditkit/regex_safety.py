"""What makes a phrase (a regex a policy adds to a category) unusable: not a valid pattern,
one that cannot be joined with the others, one that matches nothing, or one on which Python's
re could backtrack for hours (read off the phrase's Glushkov automaton).

Separate from the phrase catalogue (auditkit.text) and from running patterns
(auditkit.matching): it is a checker of patterns, with its own automaton theory, which the
policy asks before any text is read.
"""

from __future__ import annotations

import itertools
import re
import re._compiler as _compiler  # one character class, to test characters on
import re._constants as _constants  # the parse tree of re._parser
import re._parser as _parser  # how phrase_problem reads a phrase: what it repeats
from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.matching import tolerant


def phrase_problem(phrase: str) -> str | None:
    """What makes `phrase` (an extra regex for a category) unusable, in words that follow
    "which", or None if it can be used. Phrases are joined into one pattern, quoted as evidence,
    and run on Python's re wherever RE2 can't read a text, so beyond compiling a phrase must
    match at least one character, keep its flags and group numbers to itself, and have one way
    only to match a text inside a repeat: on some texts Python would backtrack for hours over
    the others."""
    try:
        re.compile(phrase)
        parsed = _parser.parse(phrase)
    except re.error as err:
        return f"is not a valid regular expression: {err}"
    if re.search(r"\\[1-9]", re.sub(r"\[\^?\]?(?:\\.|[^\]\\])*\]|\\\\", "", phrase)):
        return (
            "refers back to a group by its number, which changes when the phrases are joined "
            "into one pattern; name the group, as in (?P<word>\\w+) (?P=word)"
        )
    try:
        re.compile(f"(x|(?:{tolerant(phrase)}))")
    except re.error as err:
        if not err.msg.startswith("global flags"):
            return f"cannot be joined with the other phrases into one pattern: {err.msg}"
        return (
            "sets a flag such as (?s) for the whole pattern, which a phrase joined with the "
            "others cannot; set it for a part, as in (?s:...), or leave it out (case never matters)"
        )
    if parsed.getwidth()[0] == 0:
        return (
            "can match without any characters, so a finding would quote nothing; "
            "a phrase must match at least one character"
        )
    return _slow_backtracking(_parser.parse(tolerant(phrase)), re.IGNORECASE | re.UNICODE)


_AMBIGUOUS = (
    "can match the same text in more than one way inside a repeat, as (a|aa)* or (\\w+\\s?)* "
    "do, which on some texts keeps Python's regex engine busy for hours; make the repeated part "
    "unambiguous (\\w+(?:\\s+\\w+)*) or use one character class ([\\w\\s]*)"
)
_TANGLED = (
    "is too long, or repeats too many overlapping parts, to check quickly that Python's regex "
    "engine cannot get stuck on it; split it into several phrases"
)
# Past these a phrase is refused unchecked: positions (characters and classes to match) in one
# automaton, and pairs of steps weighed in its product. Every built-in phrase fits.
_MAX_POSITIONS = 2000
_MAX_STEPS = 300_000
# Characters standing in for all of Unicode when asking whether two classes share one: ASCII,
# and a letter, digit, space and quote of other scripts, which \w, \d, \s or [^...] may meet.
_SAMPLES = {*map(chr, range(128)), "é", "ж", "٣", "\u00a0", "\u2003", "\u2019"}
# A step to a position: the position, which way of the phrase's leads there (a sequence or a
# repeat linking the two), and the atomic groups and possessive repeats that way is inside.
_Step = tuple[int, int, frozenset[int]]
# A part's first and last positions, each with its ways (1, or 2 for more) to be reached from
# the part's start or to reach its end, and its ways to match nothing (0, 1 or 2).
_Ends = tuple[dict[int, int], dict[int, int], int]
# Two paths through the automaton: at positions p and q, and the atomic group both entered on
# one character and are still in (-1: none), whose one match they then take together.
_State = tuple[int, int, int]


def _glushkov(
    items: Sequence[tuple[Any, Any]], flags: int
) -> tuple[list[int], list[list[_Step]], list[frozenset[int]], list[tuple[Any, int]]] | None:
    """The Glushkov automaton of a parsed phrase, or None past _MAX_POSITIONS: each position's
    characters (bits over samples; position 0 is the start), the steps from each position to
    those that may follow it, the atomic groups and possessive repeats each position is in, and
    the parts re first matches by backtracking on their own (look-arounds, atomic groups,
    possessive repeats). A step is kept once per way re can take it, twice at most: in (a+)+
    both repeats lead from a back to a, and in (?:a(?:|))+ two empty choices do. A repeat of at
    most n > 1 counts as unbounded, which keeps the automaton small and at worst refuses a
    phrase that is only polynomially slow."""
    atoms: list[tuple[Any, int]] = [(None, flags)]
    steps: list[list[_Step]] = [[]]
    units: list[frozenset[int]] = [frozenset()]
    bodies: list[tuple[Any, int]] = []
    parts = itertools.count()

    def times(ways: dict[int, int], n: int) -> dict[int, int]:
        return {p: min(w * n, 2) for p, w in ways.items() if n}

    def link(last: dict[int, int], first: dict[int, int], inside: frozenset[int]) -> None:
        part = (next(parts), next(parts))
        for p, w in last.items():
            steps[p] += [(q, i, inside) for q, v in first.items() for i in part[: w * v]]

    def walk(items: Sequence[tuple[Any, Any]], flags: int, inside: frozenset[int]) -> _Ends:
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        empty = 1
        for op, av in items:
            starts, stops, skips = part(op, av, flags, inside)
            link(last, starts, inside)
            first |= times(starts, empty)
            last = times(last, skips) | stops
            empty = min(empty * skips, 2)
        return first, last, empty

    def part(op: Any, av: Any, flags: int, inside: frozenset[int]) -> _Ends:
        if op is _constants.GROUPREF:  # (?P=name): taken to be any one character
            op, av, flags = _constants.ANY, None, flags | re.DOTALL
        if op in (_constants.LITERAL, _constants.NOT_LITERAL, _constants.ANY, _constants.IN):
            atoms.append(((op, av), flags))
            steps.append([])
            units.append(inside)
            return {len(atoms) - 1: 1}, {len(atoms) - 1: 1}, 0
        if op is _constants.SUBPATTERN:
            if av[1] & _parser.TYPE_FLAGS:  # (?a:...) in place of (?u)
                flags &= ~_parser.TYPE_FLAGS
            return walk(av[3], (flags | av[1]) & ~av[2], inside)
        if op in (_constants.BRANCH, _constants.GROUPREF_EXISTS):
            choices = av[1] if op is _constants.BRANCH else av[1:]
            ends = [walk(choice or [], flags, inside) for choice in choices]
            first = {p: w for starts, _, _ in ends for p, w in starts.items()}
            last = {p: w for _, stops, _ in ends for p, w in stops.items()}
            return first, last, min(sum(skips for _, _, skips in ends), 2)
        if op in (_constants.ASSERT, _constants.ASSERT_NOT):
            bodies.append((av[1], flags))
            return {}, {}, 1
        if op in (_constants.ATOMIC_GROUP, _constants.POSSESSIVE_REPEAT):
            body = av if op is _constants.ATOMIC_GROUP else [(_constants.MAX_REPEAT, av)]
            bodies.append((body, flags))
            starts, stops, skips = walk(body, flags, inside | {next(parts)})
            return dict.fromkeys(starts, 1), dict.fromkeys(stops, 1), min(skips, 1)  # one match
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and av[1] > 0:
            first, last, empty = walk(av[2], flags, inside)
            if av[1] > 1:  # re tries no second empty round: it would not move
                link(last, first, inside)
            return first, last, min(empty + (av[0] == 0), 2)  # no round, or an empty one
        return {}, {}, 1  # an anchor, or a part repeated at most 0 times

    first, _, _ = walk(items, flags, frozenset())
    link({0: 1}, first, frozenset())
    if len(atoms) > _MAX_POSITIONS + 1:
        return None
    # Samples: also each character the phrase names, its neighbours (where [^a-c] starts) and
    # their case forms, so two positions that share a character share a sample.
    named = [a for (op, av), _ in atoms[1:] for a in (av if op is _constants.IN else [(op, av)])]
    codes = {c for op, av in named if op is _constants.RANGE for c in av}
    codes |= {av for op, av in named if op in (_constants.LITERAL, _constants.NOT_LITERAL)}
    near = {chr(n) for c in codes for n in (c - 1, c, c + 1) if 0 <= n <= 0x10FFFF}
    samples = [*{*_SAMPLES, *near, *(s.swapcase() for s in near if len(s.swapcase()) == 1)}]
    labels = [0]
    for atom, atom_flags in atoms[1:]:
        pattern = _compiler.compile(_parser.SubPattern(_parser.State(), [atom]), atom_flags)
        labels.append(sum(1 << i for i, s in enumerate(samples) if pattern.fullmatch(s)))
    return labels, steps, units, bodies


def _components(
    graph: Mapping[_State, list[tuple[_State, bool]]], start: _State
) -> dict[_State, _State]:
    """Each state's strongly connected component (named by one of its states), by Tarjan's
    algorithm without recursion; every state is reachable from `start`."""
    order, low, component = {start: 0}, {start: 0}, {}
    stack, path = [start], [(start, iter(graph[start]))]
    while path:
        state, successors = path[-1]
        for successor, _ in successors:
            if successor not in order:
                order[successor] = low[successor] = len(order)
                stack.append(successor)
                path.append((successor, iter(graph[successor])))
                break
            if successor not in component:  # on the stack: in this component
                low[state] = min(low[state], order[successor])
        else:
            path.pop()
            if path:
                low[path[-1][0]] = min(low[path[-1][0]], low[state])
            if low[state] == order[state]:
                while (member := stack.pop()) != state:
                    component[member] = state
                component[state] = state
    return component


def _slow_backtracking(items: Sequence[tuple[Any, Any]], flags: int) -> str | None:
    """Why re could backtrack exponentially on a parsed phrase, in words that follow "which",
    or None. It can iff two different paths through the phrase's Glushkov automaton lead from a
    position back to itself reading the same text (exponential degree of ambiguity: Weideman,
    van der Merwe, Berglund and Watson 2016): a match that fails retries every choice between
    them, at every turn. In the automaton's product with itself, that is a pair (p, p) in one
    strongly connected component with a step on which the two paths part. Any state may fail:
    re.search tries every start on texts that do not match."""
    automaton = _glushkov(items, flags)
    if automaton is None:
        return _TANGLED
    labels, steps, units, bodies = automaton
    # The product, from two paths at the start: each step says whether the two paths part on it.
    graph: dict[_State, list[tuple[_State, bool]]] = {}
    todo, weighed = [(0, 0, -1)], 0
    while todo:
        state = todo.pop()
        if state in graph:
            continue
        p, q, group = state
        graph[state] = []
        weighed += len(steps[p]) * len(steps[q])
        if weighed > _MAX_STEPS:
            return _TANGLED
        for (p2, part_p, in_p), (q2, part_q, in_q) in itertools.product(steps[p], steps[q]):
            if not labels[p2] & labels[q2]:
                continue
            if group in in_p or group in in_q:  # within their atomic group's one match
                if (p2, part_p) == (q2, part_q):
                    graph[state].append(((p2, q2, group), False))
                continue
            entered = (units[p2] - in_p) & (units[q2] - in_q)  # on this same character
            if entered and p2 != q2:
                continue
            group2 = min(entered, default=-1)  # the outermost: numbered before those inside it
            graph[state].append(((p2, q2, group2), (p2, part_p) != (q2, part_q)))
        todo += [successor for successor, _ in graph[state]]
    component = _components(graph, (0, 0, -1))
    looping = {component[state] for state in graph if state[0] == state[1]}
    parting = {
        component[state]
        for state, successors in graph.items()
        for successor, parts in successors
        if parts and component[successor] == component[state]
    }
    if looping & parting:
        return _AMBIGUOUS
    return next(filter(None, (_slow_backtracking(*body) for body in bodies)), None)
