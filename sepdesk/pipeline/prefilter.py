"""Literal prefilters: a rule pattern skips the alternatives a text cannot match.

Python's ``re`` tries every alternative of a pattern at every position of the text, and
most rule patterns are long alternations of word patterns of which a mail matches none
or one. Nearly every alternative needs some literal text (``\\bsicherung\\w*`` needs
"sicherung"), so knowing which literals occur in the lower-cased text tells which
alternatives can match at all. The text is then searched with only those, in their
original order, which gives the very same leftmost-first matches: an alternative that
can match nowhere in the text never wins anywhere in it (nor in any part of it).

Which literals occur is found for all rules at once: their ~1,000 literals sit in one
Aho-Corasick automaton (pyahocorasick, C), and one pass over a text gives, per rule, the
alternatives that stay. A substring test per literal in Python cost ~0.5 ms per mail.

The same pass tells where a literal first occurs, and a match holds one of its
alternative's literals no further from its start than the parse tree allows (``\\bfoo``:
right at it; ``\\w*foo``: anywhere). So ``search`` and ``finditer`` start where the
earliest match could begin instead of at 0 (``re`` tries a pattern that opens with
``\\b`` at every position of the text), and the classifier skips the sentences before
that point. The regex still sees the whole string (``pos`` keeps lookbehinds and
``\\b`` as they were), so the matches stay the same. Where every occurrence of a literal
is no more than a few characters into a match (``\\bfoo``, ``\\b(?:tape )?drive``), the
pattern is only tried in those windows before each occurrence (``Rule._matches``).

The literals are read from the parse tree of ``re`` itself (``re._parser``). Where that
tree has a shape this module does not know, the alternative simply has no prefilter and
is always tried, so an unknown case costs speed, never a match. The same trees build the
narrowed patterns (``re._compiler`` then only generates their code), with the plain
``re.compile`` as the fallback wherever these private modules differ.
"""

from __future__ import annotations

import importlib
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import ahocorasick

_parser: Any
_c: Any
_compiler: Any
_sre_compile: Any
try:  # the parser is private API; without it nothing is prefiltered (slower, same result)
    _parser = importlib.import_module("re._parser")
    _c = importlib.import_module("re._constants")
    _compiler = importlib.import_module("re._compiler")
    _EXTRA_CASES: dict[int, tuple[int, ...]] = importlib.import_module("re._casefix")._EXTRA_CASES
except (ImportError, AttributeError):  # pragma: no cover - a Python without these modules
    _parser = _c = _compiler = None
    _EXTRA_CASES = {}
# Narrowed patterns are compiled from parse trees with it; without it, by re.compile.
_sre_compile = getattr(importlib.import_module("_sre"), "compile", None)

_MAX_STRINGS = 64  # beyond this many spellings a literal set is not worth testing
_MAX_SET = 10  # characters of a set read as that many spellings ([0-9] but not [a-z])
_MAX_SUBSETS = 512  # compiled narrowed patterns kept per rule
_SHORT_TEXT = 80  # on shorter texts the whole pattern is cheaper than the literal tests
_MIN_LITERAL = 2  # a one-character literal occurs in nearly every text: no filter at all
_WINDOW = 12  # a literal at most this far into a match tells where the match can start
_MAX_SPOTS = 32  # beyond this many places to try, one search is cheaper
# Literal occurrences a scan keeps for the windows (~100 bytes each; a scan is cached):
# a 5 MB pasted log had 295,000, 29 MB kept per cached scan. More: one search instead.
_MAX_HITS = 10_000
# Items that ``re``'s parser merges into one set when each is a whole branch of its own.
_SET_ITEMS = (_c.LITERAL, _c.IN) if _c is not None else ()

# Characters ``re`` treats as equal under IGNORECASE beyond plain lower-casing (ſ and s,
# ı and i, ς and σ, K and k, ...) fold to one; U+0130 is the one character whose
# str.lower() is two characters, so it is folded first to keep positions one to one.
_FOLD_FIRST = str.maketrans({"\u0130": "i"})
_FOLD_EXTRA = str.maketrans(
    {chr(c): chr(min(c, *others)) for c, others in _EXTRA_CASES.items() if min(c, *others) != c}
)


# What plain lower-casing leaves for the tables to fix (U+0307 is the dot of a lowered İ).
_NEEDS_TABLES = re.compile("[\u0307" + "".join(map(chr, _FOLD_EXTRA)) + "]")


def fold(text: str) -> str:
    """The text as the literals are compared: lower-cased the way ``re`` ignores case."""
    lowered = text.lower()
    # The tables hold no ASCII character: an ASCII text needs no search for them.
    if lowered.isascii() or _NEEDS_TABLES.search(lowered) is None:  # translate(): a dict
        return lowered
    return text.translate(_FOLD_FIRST).lower().translate(_FOLD_EXTRA)


class _LiteralIndex:
    """The literals of every rule in one automaton; ``scan(text)`` says, per rule slot,
    which of its alternatives have a literal in the text and where a match of them can
    start at the earliest (one pass for all rules)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        # literal id -> [(rule slot, bits, back)]: a match of those alternatives starts at
        # most ``back`` characters before the literal's last character (None: no bound).
        self._owners: list[list[tuple[int, int, int | None]]] = []
        self._slots = 0
        self._automaton: Any = None
        self._lock = threading.Lock()
        # One mail's few texts are each asked about by dozens of rules.
        self.scan = lru_cache(maxsize=64)(self._scan)

    def register(self, literals: dict[str, tuple[int, int | None]]) -> int:
        """A new rule's literals (literal -> bits of its alternatives, offset); its slot."""
        with self._lock:
            slot = self._slots
            self._slots += 1
            for literal, (bits, offset) in literals.items():
                lid = self._ids.setdefault(literal, len(self._ids))
                if lid == len(self._owners):
                    self._owners.append([])
                back = None if offset is None else len(literal) - 1 + offset
                self._owners[lid].append((slot, bits, back))
            self._automaton = None
            self.scan.cache_clear()
        return slot

    def literal_id(self, literal: str) -> int:
        return self._ids[literal]

    def _built(self) -> Any:
        with self._lock:
            if self._automaton is None:
                automaton = ahocorasick.Automaton()
                for literal, lid in self._ids.items():
                    automaton.add_word(literal, lid)
                automaton.make_automaton()
                self._automaton = automaton
            return self._automaton

    def _scan(self, text: str) -> Scan:
        automaton = self._automaton or self._built()
        hits = list(automaton.iter(fold(text)))
        # Each literal's first occurrence: later ones overwrite in reverse, so the first stays.
        first = {lid: end for end, lid in reversed(hits)}
        masks: dict[int, int] = {}
        starts: dict[int, int] = {}
        for lid, end in first.items():
            for slot, bits, back in self._owners[lid]:
                masks[slot] = masks.get(slot, 0) | bits
                start = 0 if back is None else end - back
                known = starts.get(slot)
                if known is None or start < known:
                    starts[slot] = start
        return Scan(masks, starts, hits if len(hits) <= _MAX_HITS else None)

    def masks(self, text: str) -> dict[int, int]:
        """Per rule slot, the bits of its alternatives that have a literal in ``text``."""
        return self.scan(text).masks


class Scan:
    """One text's literals: per rule slot, the alternatives that have one (``masks``) and
    the earliest position where a match of those can start (``starts``); per literal,
    where each of its occurrences ends (``ends``)."""

    __slots__ = ("_ends", "_hits", "masks", "starts")

    def __init__(
        self, masks: dict[int, int], starts: dict[int, int], hits: list[Any] | None
    ) -> None:
        self.masks = masks
        self.starts = starts
        self._hits = hits  # (end, literal id) in text order
        self._ends: dict[int, list[int]] | None = None

    def ends(self) -> dict[int, list[int]] | None:
        """Literal id -> where each of its occurrences ends, in text order (worked out on
        the first ask: the rules searched in most texts never need it); None for a text
        with more than _MAX_HITS."""
        if self._ends is None and self._hits is not None:
            ends: dict[int, list[int]] = {}
            for end, lid in self._hits:
                ends.setdefault(lid, []).append(end)
            # Set whole: the cached scan is shared by the daemon's threads, and one that
            # took a half-filled dict missed the matches after its last occurrence.
            self._ends = ends
        return self._ends


_LITERALS = _LiteralIndex()
_OWN_INDEXES: list[_LiteralIndex] = []  # of the rules made with ``alone``


def prepare() -> None:
    """Build the automata of the rules made so far now, before the first mail needs them."""
    for index in (_LITERALS, *_OWN_INDEXES):
        index._built()


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Folded strings of which every match of ``pattern`` contains at least one, or None
    when no such set is known (then the pattern must always be tried)."""
    return literals_and_offset(pattern, flags)[0]


def literals_and_offset(pattern: str, flags: int = 0) -> tuple[frozenset[str] | None, int | None]:
    """``required_literals``, and how far from a match's start such a literal can begin at
    most (None: no bound known, as after ``\\w*``)."""
    tree = _tree(pattern, flags)
    if tree is None:
        return None, None
    found, offset = _needs_at(list(tree))
    return (frozenset(fold(s) for s in found), offset) if found else (None, None)


@lru_cache(maxsize=4096)
def _tree(pattern: str, flags: int) -> Any:
    """``re``'s parse tree of a pattern (shared: the literals and the narrowed patterns are
    read from it); None without the parser or for a pattern it refuses."""
    if _parser is None:
        return None
    try:  # int flags: a RegexFlag in the tree makes every flag test a slow enum call
        return _parser.parse(pattern, int(flags))
    except (re.error, RecursionError):  # pragma: no cover - compiled before we get here
        return None


def _compile_branches(pattern: str, flags: int, alternatives: Sequence[str]) -> re.Pattern[str]:
    """``re.compile(pattern, flags)`` for ``pattern``, the alternation of ``alternatives``,
    from their parse trees: parsing was ~40% of compiling a narrowed pattern, and every
    pipeline process compiles a few hundred. Falls back to ``re.compile`` when a tree is
    missing or has groups or flags of its own."""
    flags = int(flags)  # as in _tree
    built = _branch_code(flags, alternatives)
    if built is None or _sre_compile is None:
        return re.compile(pattern, flags)
    code, state_flags = built
    try:
        compiled: re.Pattern[str] = _sre_compile(pattern, flags | state_flags, code, 0, {}, (None,))
    except Exception:  # pragma: no cover - another Python's internals: the plain way
        return re.compile(pattern, flags)
    return compiled


def _branch_code(flags: int, alternatives: Sequence[str]) -> tuple[list[int], int] | None:
    """The code ``re`` compiles the alternation of ``alternatives`` to, and its flags, from
    their cached parse trees (None: not known here, compile the plain way). The items all
    branches open with are moved in front, as ``re``'s parser does (``\\b`` then is tested
    once per position)."""
    trees = [_tree(a, flags) for a in alternatives]
    if _compiler is None or any(t is None for t in trees):
        return None
    state = trees[0].state
    if any(t.state.groups != 1 or t.state.flags != state.flags for t in trees):
        return None
    branches = [_parser.SubPattern(state, _boundary_first(t.data)) for t in trees]  # copies
    prefix: list[Any] = []
    while all(b.data for b in branches) and all(b.data[0] == branches[0].data[0] for b in branches):
        prefix.append(branches[0].data[0])
        for b in branches:
            del b.data[0]
    if len(branches) > 1 and all(len(b.data) == 1 and b.data[0][0] in _SET_ITEMS for b in branches):
        return None  # re's parser makes such branches one character set
    body = branches[0].data if len(branches) == 1 else [(_c.BRANCH, (None, branches))]
    try:
        return _compiler._code(_parser.SubPattern(state, prefix + body), flags), state.flags
    except Exception:  # pragma: no cover - another Python's internals: the plain way
        return None


def _boundary_first(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """``items`` with the ``\\b`` (any AT) among its leading zero-width tests moved before
    the lookarounds. All of them test the one position, so the matches are the same;
    but ``re`` tries a pattern at every position, and ``(?<!network )(?<!shared )\\b...``
    ran its lookbehinds at each, where ``\\b`` first fails inside words at once."""
    lead = 0
    while lead < len(items) and items[lead][0] in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        lead += 1
    at = [item for item in items[:lead] if item[0] is _c.AT]
    around = [item for item in items[:lead] if item[0] is not _c.AT]
    return [*at, *around, *items[lead:]]


def _needs_at(items: list[tuple[Any, Any]]) -> tuple[set[str] | None, int | None]:
    """Best literal set required by a sequence of parse items (literal runs cross \\b),
    and the most characters a match can consume before such a literal."""
    candidates: list[tuple[set[str], int | None]] = []
    run: set[str] = {""}
    run_at: int | None = 0  # where the current run starts, at most
    at: int | None = 0  # characters consumed so far, at most
    for op, av in items:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the literals either side still touch
        exact = _exact_item(op, av)
        if exact is not None and len(run) * len(exact) <= _MAX_STRINGS:
            run = {r + x for r in run for x in exact}
            at = _plus(at, max(map(len, exact)))
            continue
        candidates.append((run, run_at))
        run = {""}
        inner, inner_at = _needs_item(op, av)
        if inner:
            candidates.append((inner, _plus(at, inner_at)))
        at = run_at = _plus(at, _widest(op, av))
    candidates.append((run, run_at))
    usable = [c for c in candidates if c[0] and "" not in c[0]]
    best = max(usable, key=lambda c: (min(map(len, c[0])), -len(c[0])), default=None)
    return best if best is not None else (None, None)


def _plus(at: int | None, width: int | None) -> int | None:
    return None if at is None or width is None else at + width


def _widest(op: Any, av: Any) -> int | None:
    """The most characters one parse item can consume; None when unbounded or unknown."""
    try:
        hi = _parser.SubPattern(_parser.State(), [(op, av)]).getwidth()[1]
    except Exception:  # a group reference, or a tree this module does not know
        return None
    return None if hi >= _c.MAXREPEAT else int(hi)


def _needs_item(op: Any, av: Any) -> tuple[set[str] | None, int | None]:
    """The literals one item requires, and how far into the item they start at most."""
    if op is _c.BRANCH:
        union: set[str] = set()
        offsets: list[int | None] = []
        for branch in av[1]:
            need, offset = _needs_at(list(branch))
            if not need:
                return None, None  # one branch without literals makes the whole branch free
            union |= need
            offsets.append(offset)
        if len(union) > _MAX_STRINGS:
            return None, None
        return union, None if None in offsets else max(o for o in offsets if o is not None)
    if op is _c.SUBPATTERN:
        return _needs_at(list(av[3]))
    if op is _c.ATOMIC_GROUP:
        return _needs_at(list(av))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _needs_at(list(av[2]))  # the first repetition holds one
    return None, None


def _exact_item(op: Any, av: Any) -> set[str] | None:
    """Every string the item can consume, when that is a small finite set."""
    if op is _c.LITERAL:
        return {chr(av)}
    if op is _c.IN:
        chars = _set_chars(av)
        return set(chars) if chars is not None and len(chars) <= _MAX_SET else None
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            exact = _exact(list(branch))
            if exact is None:
                return None
            union |= exact
        return union if len(union) <= _MAX_STRINGS else None
    if op is _c.SUBPATTERN:
        return _exact(list(av[3]))
    return None


def _set_chars(items: list[tuple[Any, Any]]) -> str | None:
    """The characters a set of literals and ranges (``[0-9]``, ``[45]``) holds; None for
    any other set (a category, a negation)."""
    chars: list[str] = []
    for kind, value in items:
        if kind is _c.LITERAL:
            chars.append(chr(value))
        elif kind is _c.RANGE and value[1] - value[0] < _MAX_SET:
            chars.extend(map(chr, range(value[0], value[1] + 1)))
        else:
            return None
    return "".join(chars)


def _exact(items: list[tuple[Any, Any]]) -> set[str] | None:
    out: set[str] = {""}
    for op, av in items:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        exact = _exact_item(op, av)
        if exact is None or len(out) * len(exact) > _MAX_STRINGS:
            return None
        out = {o + x for o in out for x in exact}
    return out


def _useful(need: frozenset[str] | None) -> frozenset[str] | None:
    return need if need and min(map(len, need)) >= _MIN_LITERAL else None


class Rule:
    """A pattern of alternatives that searches only with those the text can match.

    Offers the part of ``re.Pattern`` the rules use (search, match, finditer, sub) with the
    same results, and ``narrowed`` for searching many parts of one text.
    """

    def __init__(self, alternatives: Sequence[str], flags: int = 0, *, alone: bool = False) -> None:
        """``alone``: the rule's literals get an automaton of their own. For a rule searched
        in texts no other rule reads (a customer number's label in the mail): a scan for
        its dozen literals cost a third of one for the thousand of all rules. For a rule
        read only in a few words of a text (never narrowed there): its literals ("no",
        "nicht", "tel") only added hits to every scan of the other rules."""
        self._index = _LITERALS
        if alone:
            self._index = _LiteralIndex()
            _OWN_INDEXES.append(self._index)
        self.alternatives = tuple(alternatives)
        self.flags = flags
        self.pattern = "|".join(f"(?:{a})" for a in self.alternatives)
        # From the parse trees the literals are read from below: no second parse (that was
        # ~half of compiling the rules, at every start).
        self.full = _compile_branches(self.pattern, flags, self.alternatives)
        # Branch subsets are recompiled, so group numbers must not depend on which remain.
        split = self.full.groups == 0 and len(self.alternatives) > 1
        sources = self.alternatives if split else (self.pattern,)
        found = [literals_and_offset(a, flags) for a in sources]
        self.needs = tuple(_useful(need) for need, _ in found)
        self._all = (1 << len(self.needs)) - 1
        self._free = sum(1 << i for i, need in enumerate(self.needs) if need is None)
        # Per literal: the alternatives that need it, and how far before it a match of
        # theirs can start at most (the largest of theirs; None for no bound).
        literals: dict[str, tuple[int, int | None]] = {}
        for i, (need, (_, offset)) in enumerate(zip(self.needs, found, strict=True)):
            for literal in need or ():
                bits, farthest = literals.get(literal, (0, 0))
                far = None if farthest is None or offset is None else max(farthest, offset)
                literals[literal] = (bits | 1 << i, far)
        self._slot = self._index.register(literals) if self._free != self._all else -1
        # Literals at most _WINDOW characters into a match (literal id -> the most and the
        # fewest characters from a match's start to the literal's last one): a match of
        # their alternatives starts only in that window before an occurrence.
        windowed = {
            lit: far for lit, (_, far) in literals.items() if far is not None and far <= _WINDOW
        }
        self._windows: dict[int, tuple[int, int]] = {}
        if self._slot >= 0:
            for literal, far in windowed.items():
                last = len(literal) - 1
                self._windows[self._index.literal_id(literal)] = (last + far, last)
        self._windowed = sum(
            1 << i for i, need in enumerate(self.needs) if need and need <= windowed.keys()
        )
        # Literal id -> the alternatives that need it: which parts of a text can hold a match.
        self._needed_by: dict[int, int] = {}
        if self._slot >= 0:
            self._needed_by = {
                self._index.literal_id(literal): bits for literal, (bits, _) in literals.items()
            }
        self._narrowed: dict[int, re.Pattern[str]] = {self._all: self.full}
        # A set of live alternatives is compiled the second time it comes; the first time
        # the whole pattern searches (same matches). In a stream of unseen mail most sets
        # come once, and compiling one cost more than that search.
        self._seen: set[int] = set()

    def __repr__(self) -> str:
        return f"Rule({self.pattern!r})"

    def narrowed(self, text: str) -> re.Pattern[str] | None:
        """The pattern cut down to the alternatives that can match in ``text`` (or in any
        part of it); None when none can."""
        return self._narrow(text)[0]

    def narrowed_within(self, text: str) -> tuple[re.Pattern[str] | None, int, list[int] | None]:
        """``narrowed``; where in ``text`` its earliest match can start (a match in a part of
        ``text`` cannot start before that point of the part either); and where the literals
        of the live alternatives end (None: not known, then any place may hold a match).
        Every match holds one of them, so a part of ``text`` where none ends holds none."""
        pattern, live = self._narrow(text)
        if pattern is None:
            return None, 0, None
        return pattern, self._start(text, live), self._literal_ends(text, live)

    def _literal_ends(self, text: str, live: int) -> list[int] | None:
        if not live or live & self._free:  # an alternative without literals may match anywhere
            return None
        ends = self._index.scan(text).ends()  # the cached scan that gave ``live``
        if ends is None:
            return None
        needed_by = self._needed_by
        return [
            end
            for lid in ends.keys() & needed_by.keys()
            if needed_by[lid] & live
            for end in ends[lid]
        ]

    def _narrow(self, text: str) -> tuple[re.Pattern[str] | None, int]:
        """``narrowed``, and the bits of the live alternatives (0: not worked out)."""
        if self._free == self._all or len(text) < _SHORT_TEXT:
            return self.full, 0
        live = self._free | self._index.scan(text).masks.get(self._slot, 0)
        if not live:
            return None, 0
        return self._pattern(live), live

    def _pattern(self, live: int) -> re.Pattern[str]:
        """The pattern of the ``live`` alternatives, or the whole one (same matches here)."""
        found = self._narrowed.get(live)
        if found is None:
            if live not in self._seen:
                if len(self._seen) >= _MAX_SUBSETS * 8:
                    self._seen.clear()
                self._seen.add(live)
                return self.full
            found = self._compile(live)
        return found

    def _start(self, text: str, live: int) -> int:
        """Where in ``text`` a match of the live alternatives can start at the earliest: no
        match lies before its alternative's first literal, less that alternative's offset."""
        if not live or live & self._free:
            return 0
        # Cached: the scan that gave ``live``. A live alternative has a literal in the text,
        # and every alternative with a literal there is live: the slot's start is theirs.
        return max(0, self._index.scan(text).starts.get(self._slot, 0))

    def _compile(self, live: int) -> re.Pattern[str]:
        if len(self._narrowed) >= _MAX_SUBSETS:
            self._narrowed = {self._all: self.full}
        chosen = [a for i, a in enumerate(self.alternatives) if live >> i & 1]
        found = _compile_branches("|".join(f"(?:{a})" for a in chosen), self.flags, chosen)
        self._narrowed[live] = found
        return found

    def search(self, text: str) -> re.Match[str] | None:
        pattern, live = self._narrow(text)
        if pattern is None:
            return None
        if live & self._windowed and not live & self._free:
            return next(self._matches(text, pattern, live), None)
        return pattern.search(text, self._start(text, live))

    def match(self, text: str) -> re.Match[str] | None:
        pattern = self.narrowed(text)
        return pattern.match(text) if pattern else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        pattern, live = self._narrow(text)
        if pattern is None:
            return iter(())
        if live & self._windowed and not live & self._free:
            return self._matches(text, pattern, live)
        return pattern.finditer(text, self._start(text, live))

    def _matches(self, text: str, pattern: re.Pattern[str], live: int) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text, start)`` without a search through the whole text.

        ``re`` tries a pattern at every position (~15 ns each, ~1 us per 60 characters),
        and a text that holds a literal seldom holds the match. A match of a windowed
        alternative starts in the window before one of its literals' occurrences: the
        pattern is tried there alone (``match``). The other live alternatives are
        searched as usual; where they match first, the pattern is tried there too. The
        first place where the pattern matches is where ``search`` would find it, and
        ``match`` there gives the same match (same alternative, same groups).
        """
        pos = self._start(text, live)
        spots = self._spots(self._index.scan(text).ends())
        if spots is None:
            yield from pattern.finditer(text, pos)
            return
        rest = live & ~self._windowed
        others = self._pattern(rest) if rest else None
        found = others.search(text, pos) if others else None
        i = bisect_left(spots, pos)
        while True:
            if found is not None and found.start() < pos:
                found = others.search(text, pos) if others else None
            limit = found.start() if found is not None else len(text) + 1
            m = None
            while m is None and i < len(spots) and spots[i] < limit:
                if spots[i] >= pos:
                    m = pattern.match(text, spots[i])
                i += 1
            if m is None and found is not None:
                m = pattern.match(text, found.start())
            if m is None:
                return
            yield m
            pos = m.end()  # a match holds a literal: never empty

    def _spots(self, ends: dict[int, list[int]] | None) -> list[int] | None:
        """Where a match of the windowed alternatives can start, in order (None: too many
        places to try each)."""
        if ends is None:
            return None
        spots: set[int] = set()
        for lid in ends.keys() & self._windows.keys():
            back, last = self._windows[lid]
            for end in ends[lid]:
                spots.update(range(max(0, end - back), end - last + 1))
            if len(spots) > _MAX_SPOTS:
                return None
        return sorted(spots)

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        pattern = self.narrowed(text)
        return pattern.sub(repl, text) if pattern else text
