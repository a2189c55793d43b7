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

The literals are read from the parse tree of ``re`` itself (``re._parser``). Where that
tree has a shape this module does not know, the alternative simply has no prefilter and
is always tried, so an unknown case costs speed, never a match.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import ahocorasick

_parser: Any
_c: Any
try:  # the parser is private API; without it nothing is prefiltered (slower, same result)
    _parser = importlib.import_module("re._parser")
    _c = importlib.import_module("re._constants")
    _EXTRA_CASES: dict[int, tuple[int, ...]] = importlib.import_module("re._casefix")._EXTRA_CASES
except (ImportError, AttributeError):  # pragma: no cover - a Python without these modules
    _parser = _c = None
    _EXTRA_CASES = {}

_MAX_STRINGS = 64  # beyond this many spellings a literal set is not worth testing
_MAX_SUBSETS = 512  # compiled narrowed patterns kept per rule
_SHORT_TEXT = 80  # on shorter texts the whole pattern is cheaper than the literal tests
_MIN_LITERAL = 2  # a one-character literal occurs in nearly every text: no filter at all

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
    if _NEEDS_TABLES.search(lowered) is None:  # translate() walks a dict per character
        return lowered
    return text.translate(_FOLD_FIRST).lower().translate(_FOLD_EXTRA)


class _LiteralIndex:
    """The literals of every rule in one automaton; ``masks(text)`` says, per rule slot,
    which of its alternatives have a literal in the text (one pass for all rules)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._owners: list[list[tuple[int, int]]] = []  # literal id -> [(rule slot, bits)]
        self._slots = 0
        self._automaton: Any = None
        self._lock = threading.Lock()
        # One mail's few texts are each asked about by dozens of rules.
        self.masks = lru_cache(maxsize=64)(self._masks)

    def register(self, literal_bits: dict[str, int]) -> int:
        """A new rule's literals (literal -> bits of its alternatives); returns its slot."""
        with self._lock:
            slot = self._slots
            self._slots += 1
            for literal, bits in literal_bits.items():
                lid = self._ids.setdefault(literal, len(self._ids))
                if lid == len(self._owners):
                    self._owners.append([])
                self._owners[lid].append((slot, bits))
            self._automaton = None
            self.masks.cache_clear()
        return slot

    def _built(self) -> Any:
        with self._lock:
            if self._automaton is None:
                automaton = ahocorasick.Automaton()
                for literal, lid in self._ids.items():
                    automaton.add_word(literal, lid)
                automaton.make_automaton()
                self._automaton = automaton
            return self._automaton

    def _masks(self, text: str) -> dict[int, int]:
        automaton = self._automaton or self._built()
        masks: dict[int, int] = {}
        for lid in {lid for _end, lid in automaton.iter(fold(text))}:
            for slot, bits in self._owners[lid]:
                masks[slot] = masks.get(slot, 0) | bits
        return masks


_LITERALS = _LiteralIndex()


def prepare() -> None:
    """Build the automaton of the rules made so far now, before the first mail needs it."""
    _LITERALS._built()


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Folded strings of which every match of ``pattern`` contains at least one, or None
    when no such set is known (then the pattern must always be tried)."""
    if _parser is None:
        return None
    try:
        tree = _parser.parse(pattern, flags)
    except (re.error, RecursionError):  # pragma: no cover - compiled before we get here
        return None
    found = _needs(list(tree))
    return frozenset(fold(s) for s in found) if found else None


def _needs(items: list[tuple[Any, Any]]) -> set[str] | None:
    """Best literal set required by a sequence of parse items (literal runs cross \\b)."""
    candidates: list[set[str]] = []
    run: set[str] = {""}
    for op, av in items:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width: the literals either side still touch
        exact = _exact_item(op, av)
        if exact is not None and len(run) * len(exact) <= _MAX_STRINGS:
            run = {r + x for r in run for x in exact}
            continue
        candidates.append(run)
        run = {""}
        inner = _needs_item(op, av)
        if inner:
            candidates.append(inner)
    candidates.append(run)
    usable = [c for c in candidates if c and "" not in c]
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)), default=None)


def _needs_item(op: Any, av: Any) -> set[str] | None:
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            need = _needs(list(branch))
            if not need:
                return None  # one branch without literals makes the whole branch free
            union |= need
        return union if len(union) <= _MAX_STRINGS else None
    if op is _c.SUBPATTERN:
        return _needs(list(av[3]))
    if op is _c.ATOMIC_GROUP:
        return _needs(list(av))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _needs(list(av[2]))
    return None


def _exact_item(op: Any, av: Any) -> set[str] | None:
    """Every string the item can consume, when that is a small finite set."""
    if op is _c.LITERAL:
        return {chr(av)}
    if op is _c.IN:
        if all(kind is _c.LITERAL for kind, _ in av) and len(av) <= 8:
            return {chr(code) for _, code in av}
        return None
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

    def __init__(self, alternatives: Sequence[str], flags: int = 0) -> None:
        self.alternatives = tuple(alternatives)
        self.flags = flags
        self.pattern = "|".join(f"(?:{a})" for a in self.alternatives)
        self.full = re.compile(self.pattern, flags)
        # Branch subsets are recompiled, so group numbers must not depend on which remain.
        split = self.full.groups == 0 and len(self.alternatives) > 1
        sources = self.alternatives if split else (self.pattern,)
        self.needs = tuple(_useful(required_literals(a, flags)) for a in sources)
        self._all = (1 << len(self.needs)) - 1
        self._free = sum(1 << i for i, need in enumerate(self.needs) if need is None)
        bits: dict[str, int] = {}
        for i, need in enumerate(self.needs):
            for literal in need or ():
                bits[literal] = bits.get(literal, 0) | 1 << i
        self._slot = _LITERALS.register(bits) if self._free != self._all else -1
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
        if self._free == self._all or len(text) < _SHORT_TEXT:
            return self.full
        live = self._free | _LITERALS.masks(text).get(self._slot, 0)
        if not live:
            return None
        found = self._narrowed.get(live)
        if found is None:
            if live not in self._seen:
                if len(self._seen) >= _MAX_SUBSETS * 8:
                    self._seen.clear()
                self._seen.add(live)
                return self.full
            found = self._compile(live)
        return found

    def _compile(self, live: int) -> re.Pattern[str]:
        if len(self._narrowed) >= _MAX_SUBSETS:
            self._narrowed = {self._all: self.full}
        chosen = (a for i, a in enumerate(self.alternatives) if live >> i & 1)
        found = re.compile("|".join(f"(?:{a})" for a in chosen), self.flags)
        self._narrowed[live] = found
        return found

    def search(self, text: str) -> re.Match[str] | None:
        pattern = self.narrowed(text)
        return pattern.search(text) if pattern else None

    def match(self, text: str) -> re.Match[str] | None:
        pattern = self.narrowed(text)
        return pattern.match(text) if pattern else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        pattern = self.narrowed(text)
        return pattern.finditer(text) if pattern else iter(())

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        pattern = self.narrowed(text)
        return pattern.sub(repl, text) if pattern else text
