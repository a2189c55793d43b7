"""Literal prefilters give exactly the matches of the plain patterns, only faster."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepdesk.pipeline import classify, rules
from sepdesk.pipeline.parse import parse_mail
from sepdesk.pipeline.prefilter import (
    _LITERALS,
    Rule,
    Scan,
    _boundary_first,
    _branch_code,
    _compile_branches,
    fold,
    literals_and_offset,
    required_literals,
)
from tests.conftest import MAILS

HELDOUT = sorted(Path(__file__).parent.joinpath("corpus", "heldout").glob("**/*.eml"))


def _all_rules() -> list[tuple[str, Rule]]:
    found: list[tuple[str, Rule]] = []
    for name in dir(rules):
        value = getattr(rules, name)
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            if isinstance(item, tuple):  # STATED: (level, rule)
                item = item[1]
            if isinstance(item, Rule):
                found.append((f"{name}[{i}]", item))
    return found


RULES = _all_rules()


def _spans(pattern: re.Pattern[str] | Rule, text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in pattern.finditer(text)]


@cache
def _plain(rule: Rule) -> re.Pattern[str]:
    """The rule as ``re`` compiles its joined pattern: the reference for every shortcut."""
    return re.compile(rule.pattern, rule.flags)


def _same(rule: Rule, text: str) -> None:
    plain = _plain(rule)
    assert _spans(rule, text) == _spans(rule.full, text) == _spans(plain, text)
    expected = plain.search(text)
    found = rule.search(text)
    assert (found and found.span()) == (expected and expected.span())
    assert rule.sub("#", text) == plain.sub("#", text)
    expected_start = plain.match(text)
    found_start = rule.match(text)
    assert (found_start and found_start.span()) == (expected_start and expected_start.span())


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bsicherung\w*", {"sicherung"}),
        (r"\b(?:tape )?librar(?:y|ies)\b", {"library", "libraries"}),
        (r"\bStraße\b", {"straße"}),
        (r"\b\w*(?:backup|restore)\w*", {"backup", "restore"}),
        (
            r"\bkein\w* (?:restore|rücksicherung) möglich",
            {" restore möglich", " rücksicherung möglich"},
        ),
        (r"(?:foo)+barbaz", {"barbaz"}),
        # A small set of literals and ranges is that many spellings: "ts" alone is in most texts.
        (r"\bts[0-9]\d{3}\b", {f"ts{d}" for d in range(10)}),
        (r"\bme[45]0\d\d\b", {"me40", "me50"}),
        (r"\bx[a-z]\d", {"x"}),  # 26 spellings are not worth it: no "xa" to "xz"
    ],
)
def test_required_literals_of_a_pattern(pattern: str, expected: set[str]) -> None:
    assert required_literals(pattern, re.IGNORECASE) == expected


@pytest.mark.parametrize("pattern", [r"\w+", r"\d{5,8}", r"foo|\d+", r"(?:x)?y?", r"[a-z]+\d"])
def test_patterns_without_a_required_literal_have_no_prefilter(pattern: str) -> None:
    assert required_literals(pattern, re.IGNORECASE) is None


def test_the_rules_have_literals_for_most_alternatives() -> None:
    """A guard against the prefilter silently doing nothing (e.g. a changed parse tree)."""
    needs = [need for _, rule in RULES for need in rule.needs]
    assert len(needs) > 300
    assert sum(need is not None for need in needs) / len(needs) > 0.8


@pytest.mark.parametrize(
    ("pattern", "offset"),
    [
        (r"\bsicherung\w*", 0),
        (r"\b(?:tape )?librar(?:y|ies)\b", 5),
        (r"(?<!SQL )\b(?:Win |MS )?Server 20(?:08|12)", 4),
        (r"[\"“]\w{0,120}\b(?:error|fail\w*)\b", 121),  # the literal inside a group
        (r"(?:\d{2}xy|zzz)", 2),  # the most any branch consumes before its literal
        (r"(?:ab)+cd", 0),  # the first repetition holds the literal
        (r"\b\w*bibliothek\b", None),  # a match may start any distance before it
        (r"^(?:[ \t]{2,}|#\s).*\berror\b", None),
    ],
)
def test_how_far_before_its_literal_a_match_can_start(pattern: str, offset: int | None) -> None:
    assert literals_and_offset(pattern, re.IGNORECASE)[1] == offset


def test_a_search_starts_where_the_first_match_can_begin() -> None:
    rule = Rule((r"\bfoo\w*", r"(?:big )?\bbar\b"), re.IGNORECASE)
    text = "x" * 200 + " no bar here, then FOOTER"
    assert rule.narrowed_within(text)[1] == text.index("bar") - 4
    assert rule.search(text).group() == "bar"  # type: ignore[union-attr]
    # An alternative that may start anywhere before its literal starts the search at 0.
    loose = Rule((r"\w*foo", r"\bbar\b"), re.IGNORECASE)
    assert loose.narrowed_within(text)[1] == 0
    # Lookbehinds still see the text before the start.
    guarded = Rule((r"(?<!no )\bbar\b", r"\bfooter\b"), re.IGNORECASE)
    assert guarded.search(text).group() == "FOOTER"  # type: ignore[union-attr]


def test_a_rule_is_tried_only_in_the_windows_before_its_literals() -> None:
    """Alternatives whose literal lies a few characters into a match are tried only there;
    the others are searched. The matches (and which alternative wins) stay the plain ones."""
    rule = Rule(
        (r"(?:tape )?\bdrives?\b(?!\s*[a-z]:)", r"\b\w*laufwerk\b", r"\bdrive c\b", r"\bnas\b"),
        re.IGNORECASE,
    )
    assert rule._windowed == 0b1101  # \w*laufwerk may start anywhere before its literal
    filler = "lorem ipsum " * 10
    for text in (
        filler + "drive c: then the drive C, a tape drive",  # two alternatives at one place
        filler + "Bandlaufwerk, drive and NAS",  # the searched alternative first
        filler + "a drive " + "nas " * 40,  # too many places: one search instead
        filler + "xdrive drivex snas tape drivers",  # literals, but no match
        "drive" + filler + "drive laufwerk",
    ):
        _same(rule, text)
        assert [m.groups() for m in rule.finditer(text)] == [
            m.groups() for m in rule.full.finditer(text)
        ]


def test_a_shared_scan_hands_out_its_literal_ends_only_whole() -> None:
    """A cached scan is shared by the daemon's threads (pipeline, IMAP pollers): one that
    asked for ``ends`` while another was gathering them got a part, and a windowed rule
    then missed its matches (233 of 1,800 finditer calls on one text, 6 threads)."""
    seen: list[dict[int, list[int]]] = []
    turns = [1]

    class Interleaved(list[tuple[int, int]]):
        def __iter__(self) -> Iterator[tuple[int, int]]:
            for i, hit in enumerate(list.__iter__(self)):
                if i == 1 and turns:  # another thread's turn, half-way through
                    turns.pop()
                    seen.append({lid: list(ends) for lid, ends in scan.ends().items()})
                yield hit

    scan = Scan({}, {}, Interleaved([(3, 0), (9, 0), (12, 1)]))
    assert scan.ends() == {0: [3, 9], 1: [12]}
    assert seen == [{0: [3, 9], 1: [12]}]


def test_a_scan_of_a_long_text_keeps_no_occurrences() -> None:
    """Scans are cached (64 per automaton), and one of a 5 MB pasted log kept its 295,000
    literal occurrences for the windows: 29 MB. Past a bound the rules search instead."""
    text = "Die Sicherung auf das Bandlaufwerk schlägt fehl, no backup since Monday.\n" * 15_000
    _LITERALS._built()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        scan = _LITERALS._scan(text)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert scan.masks  # the literals are still known
    assert kept < 1_000_000, kept  # bytes, for a text of 1.1 MB (14.5 MB kept before)
    rule = Rule((r"\bno backup\b", r"\bbandlaufwerk\b", r"\w*sicherung"), re.IGNORECASE)
    for _ in range(2):  # the whole pattern, then the narrowed one
        assert [m.span() for m in rule.finditer(text)] == [
            m.span() for m in rule.full.finditer(text)
        ]


def test_fold_matches_how_re_ignores_case() -> None:
    assert fold("STRASSE Straße") == "strasse straße"
    # re treats ſ as s, ı as i, the Kelvin sign as k and İ as i under IGNORECASE.
    for odd, plain in (("ſ", "s"), ("ı", "i"), ("\u212a", "k"), ("\u0130", "i")):
        assert re.fullmatch(plain, odd, re.IGNORECASE)
        assert fold(odd) == plain
    assert len(fold("İİİ")) == 3  # positions stay one to one


def test_a_rule_with_groups_is_not_split() -> None:
    rule = Rule((r"a(b)", r"c(d)"), re.IGNORECASE)
    assert rule.needs == (frozenset({"ab", "cd"}),)
    m = rule.search("xx cd")
    assert m is not None and m.group(2) == "d"


def test_a_rule_narrows_to_what_the_text_can_match() -> None:
    rule = Rule((r"\bfoo\w*", r"\bbar\b", r"\d+x"), re.IGNORECASE)
    text = "nothing here but a long enough text " * 3 + " BAR and 12x"
    assert rule.narrowed(text) is rule.full  # a set seen once: not worth compiling yet
    narrowed = rule.narrowed(text)
    assert narrowed is not None
    assert narrowed.pattern == r"(?:\bbar\b)|(?:\d+x)"
    assert rule.narrowed(text) is narrowed  # compiled once, then kept
    assert Rule((r"\bfoo\b",), re.IGNORECASE).narrowed("x" * 100) is None


def test_a_narrowed_pattern_built_from_parse_trees_matches_as_the_joined_one() -> None:
    texts = ["a FOO bar", "xfoo afoobar", "foobar baz", "xxy", "the baz.", "quX qux QUX"]
    for alternatives in (
        [r"\bfoo\w*", r"\bfoo bar", r"\bbaz\b", r"x+y", r"\bqu(?-i:X)"],
        [r"\bfoo\w*", r"\bfoo bar", r"\bbaz\b"],  # all open with \b: it moves in front
    ):
        joined = "|".join(f"(?:{a})" for a in alternatives)
        plain = re.compile(joined, re.IGNORECASE)
        built = _compile_branches(joined, re.IGNORECASE, alternatives)
        again = _compile_branches(joined, re.IGNORECASE, alternatives)  # shared trees stay whole
        for text in texts:
            assert _spans(built, text) == _spans(plain, text) == _spans(again, text)
        assert built.pattern == joined and built.flags == plain.flags


def _corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in [*MAILS, *HELDOUT]:
        mail = parse_mail(path.read_bytes())
        texts.extend([mail.subject, mail.text, *mail.text.split("\n\n")])
    return [t for t in texts if t]


CORPUS = _corpus_texts()


@pytest.mark.parametrize(("name", "rule"), RULES, ids=[n for n, _ in RULES])
def test_every_rule_matches_the_corpus_as_its_plain_pattern(name: str, rule: Rule) -> None:
    for text in CORPUS:
        _same(rule, text)


_FRAGMENTS = sorted({s for _, r in RULES for need in r.needs for s in need or ()})
_CASES = (str.lower, str.upper, str.title)
_ODD = " \n\t.,:;!?-'\"()>0123456789aeiouAEIOUsSkKäöüßÄÖÜſıİ\u212aΣσς"


@st.composite
def _texts(draw: st.DrawFn) -> str:
    pieces = draw(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(_FRAGMENTS), st.sampled_from(_CASES)).map(
                    lambda t: t[1](t[0])
                ),
                st.text(alphabet=_ODD, max_size=4),
            ),
            max_size=40,
        )
    )
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_every_rule_matches_random_text_as_its_plain_pattern(text: str) -> None:
    for _, rule in RULES:
        _same(rule, text)


@settings(max_examples=150, deadline=None)
@given(st.lists(_texts(), min_size=1, max_size=5))
def test_rules_find_in_sentences_what_the_plain_patterns_find(parts: list[str]) -> None:
    """The classifier searches sentences from where the rule's earliest match in their join
    can start: it must find what a plain search of every sentence finds."""
    joined = classify._Parts(parts)
    for _, rule in RULES:
        plain = next((m.group() for part in parts if (m := rule.full.search(part))), None)
        assert classify._any(rule, joined) == plain


def _plain_affirmed(rule: Rule, parts: list[str]) -> str | None:
    for part in parts:
        for m in rule.full.finditer(part):
            before, after = part[max(0, m.start() - 40) : m.start()], part[m.end() : m.end() + 40]
            if not (rules.NEGATION_BEFORE.search(before) or rules.NEGATION_AFTER.search(after)):
                return m.group()
    return None


@settings(max_examples=100, deadline=None)
@given(st.lists(_texts(), min_size=1, max_size=5))
def test_sentence_helpers_skip_only_sentences_without_a_match(parts: list[str]) -> None:
    """_affirmed and _both search only the sentences where one of the rule's literals
    ends: they must find what a plain search of every sentence finds."""
    joined = classify._Parts(parts)
    for _, rule in RULES:
        assert classify._affirmed(rule, joined) == _plain_affirmed(rule, parts)
    pairs = [(rules.RESTORE, rules.RESTORE_FAILS), (rules.BACKUP_WORD, rules.SAME_RESULT)]
    for first, second in pairs:
        plain = next(
            (p[:80] for p in parts if first.full.search(p) and second.full.search(p)), None
        )
        assert classify._both(first, second, joined) == plain


def test_whole_rules_built_from_parse_trees_have_the_code_re_compile_gives() -> None:
    # rule.full is built from the alternatives' trees (no second parse). Where no
    # alternative opens with lookarounds before a \b, its code is re's own for the joined
    # pattern; elsewhere only the order of those tests differs (the matches are compared
    # with re's own in _same).
    from re import _compiler, _parser  # type: ignore[attr-defined]

    compared = 0
    for _name, rule in _all_rules():
        flags = int(rule.flags)
        built = _branch_code(flags, rule.alternatives)
        plain = re.compile(rule.pattern, flags)
        trees = [list(_parser.parse(a, flags)) for a in rule.alternatives]
        if built is not None and all(_boundary_first(t) == t for t in trees):
            assert built[0] == _compiler._code(_parser.parse(rule.pattern, flags), flags)
            compared += 1
        assert (rule.full.pattern, rule.full.flags, rule.full.groups) == (
            plain.pattern,
            plain.flags,
            plain.groups,
        )
    assert compared > 50


def test_a_word_boundary_is_tested_before_the_lookbehinds_beside_it() -> None:
    from re import _constants, _parser  # type: ignore[attr-defined]

    tree = list(_parser.parse(r"(?<!network )(?<!log )\b(?:tape )?drives?\b", re.IGNORECASE))
    reordered = _boundary_first(tree)
    assert reordered[0] == (_constants.AT, _constants.AT_BOUNDARY)
    assert reordered[1:3] == tree[:2] and reordered[3:] == tree[3:]
    rule = rules.HARDWARE
    plain = _plain(rule)
    for text in ("our network drive", "the tape drive", "Log drive X", "xdrive", "a drive D:"):
        assert _spans(rule.full, text) == _spans(plain, text)
