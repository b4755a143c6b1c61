"""PX209: a regular expression that can backtrack exponentially (ReDoS) on a crafted request.

The regex is parsed with Python's own parser (re._parser: the syntax nginx's PCRE shares for what
declarations use). The body B of every unbounded repetition (`*`, `+`, `{n,}`) is turned into a small
automaton over character sets, and two questions are asked:

- is B ambiguous: does some text match B along two different paths (`(\\w|\\d)+`, `(ab|a.)+`)?
- does some text match B once and also B several times (`(a+)+`, `(\\w+\\s?)*`, `(a|aa)*`, `(.*a)+`)?

Either way n copies of that text can be split 2^n ways, which a backtracking engine tries one by one
when the overall match fails. A separator the inner part cannot consume (`(\\w+,)*`) or disjoint
branches (`(foo|bar)*`) answer no to both. Possessive quantifiers and atomic groups give nothing back
and are not reported; lookarounds are read as always true; backreferences end the analysis (no report).
"""

from __future__ import annotations

import re
from re import _constants as C  # the opcodes of re._parser trees

from proxygen.errors import Position
from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import parse_regex

ALL = frozenset(range(257))  # bytes 0-255, and 256 for "any other character"
_CATEGORIES = {
    C.CATEGORY_DIGIT: frozenset(range(48, 58)),
    C.CATEGORY_SPACE: frozenset(b" \t\n\r\f\v"),
    C.CATEGORY_WORD: frozenset(range(48, 58)) | frozenset(range(65, 91)) | frozenset(range(97, 123)) | {95},
}
_CATEGORIES[C.CATEGORY_NOT_DIGIT] = ALL - _CATEGORIES[C.CATEGORY_DIGIT]
_CATEGORIES[C.CATEGORY_NOT_SPACE] = ALL - _CATEGORIES[C.CATEGORY_SPACE]
_CATEGORIES[C.CATEGORY_NOT_WORD] = ALL - _CATEGORIES[C.CATEGORY_WORD]
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)
_SINGLE = (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN)
_NEWLINE = 10


def _fold(chars: frozenset, ignore_case: bool) -> frozenset:
    if not ignore_case:
        return chars
    extra = {ord(chr(c).swapcase()) for c in chars if c < 128 and chr(c).isalpha()}
    return chars | extra


def _code(c: int) -> int:
    return c if c < 256 else 256


def charset(op, av, ic: bool, dotall: bool) -> frozenset:
    """The characters one single-character item can match."""
    if op == C.LITERAL:
        return _fold(frozenset({_code(av)}), ic)
    if op == C.NOT_LITERAL:
        return ALL - _fold(frozenset({_code(av)}), ic)
    if op == C.ANY:
        return ALL if dotall else ALL - {_NEWLINE}
    out: set[int] = set()
    negate = False
    for iop, iav in av:
        if iop == C.NEGATE:
            negate = True
        elif iop == C.LITERAL:
            out.add(_code(iav))
        elif iop == C.RANGE:
            lo, hi = iav
            out.update(range(min(lo, 256), min(hi, 255) + 1))
            if hi > 255:
                out.add(256)
        elif iop == C.CATEGORY:
            out |= _CATEGORIES.get(iav, ALL)
    chars = _fold(frozenset(out), ic)
    return ALL - chars if negate else chars


def keep_branches(regex: str) -> str:
    """Python's parser merges `\\w|\\d` into one class and factors `a|aa` into `a(?:|a)`: both hide the
    ambiguity PCRE backtracks over. An empty lookahead at the start of every later branch keeps each
    alternative as written (it matches nothing and is read as no-op by the analysis)."""
    out, i, n = [], 0, len(regex)
    while i < n:
        c = regex[i]
        if c == "\\":
            out.append(regex[i:i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            out.append(regex[i:j + 1])
            i = j + 1
        elif c == "|":
            out.append("|(?=)")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


_CAP = 8  # copies of a bounded repetition built into the automaton (more only adds states)


class _Unknown(Exception):
    """A construct the automaton does not model (backreferences, conditionals)."""


class _Nfa:
    """A Thompson automaton of a regex subtree: edges are (characters, target), characters None for epsilon."""

    def __init__(self, ic: bool, dotall: bool):
        self.ic, self.dotall = ic, dotall
        self.edges: list[list[tuple[frozenset | None, int]]] = []

    def new(self) -> int:
        self.edges.append([])
        return len(self.edges) - 1

    def add(self, src: int, chars, dst: int) -> None:
        self.edges[src].append((chars, dst))

    def build(self, seq, cur: int) -> int:
        for op, av in seq:
            if op in _SINGLE:
                nxt = self.new()
                self.add(cur, charset(op, av, self.ic, self.dotall), nxt)
                cur = nxt
            elif op == C.SUBPATTERN:
                cur = self.build(av[3], cur)
            elif op == C.ATOMIC_GROUP:
                cur = self.build(av, cur)
            elif op == C.BRANCH:
                end = self.new()
                for alt in av[1]:
                    s = self.new()
                    self.add(cur, None, s)
                    self.add(self.build(alt, s), None, end)
                cur = end
            elif op in _REPEATS or op == C.POSSESSIVE_REPEAT:
                lo, hi, body = av
                for _ in range(min(lo, _CAP)):
                    cur = self.build(body, cur)
                if hi == C.MAXREPEAT:
                    loop = self.new()
                    self.add(cur, None, loop)
                    self.add(self.build(body, loop), None, loop)
                    cur = loop
                elif hi > lo:
                    end = self.new()
                    for _ in range(min(hi - lo, _CAP)):
                        self.add(cur, None, end)
                        cur = self.build(body, cur)
                    self.add(cur, None, end)
                    cur = end
            elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
                continue  # zero-width: read as always true
            else:
                raise _Unknown(op)
        return cur

    def closure(self, state: int) -> set[int]:
        seen, todo = {state}, [state]
        while todo:
            for chars, dst in self.edges[todo.pop()]:
                if chars is None and dst not in seen:
                    seen.add(dst)
                    todo.append(dst)
        return seen


def _automaton(seq, times: int, ic: bool, dotall: bool, plus: bool = False) -> tuple[_Nfa, int, int]:
    """`seq` repeated `times` times (and then one or more times more, with plus)."""
    nfa = _Nfa(ic, dotall)
    start = cur = nfa.new()
    for _ in range(times):
        cur = nfa.build(seq, cur)
    if plus:
        cur = nfa.build([(C.MAX_REPEAT, (1, C.MAXREPEAT, seq))], cur)
    return nfa, start, cur


def _consuming(nfa: _Nfa, state: int):
    """(edge id, characters, target) of the character edges reachable from `state` through epsilons."""
    for s in nfa.closure(state):
        for k, (chars, dst) in enumerate(nfa.edges[s]):
            if chars is not None:
                yield (s, k), chars, dst


def _accepts_after(nfa: _Nfa, state: int, accept: int) -> bool:
    return accept in nfa.closure(state)


def _joint_path(a: tuple[_Nfa, int, int], b: tuple[_Nfa, int, int], mark) -> bool:
    """Walk both automata over the same characters: is there a string both accept along paths whose
    flag ends up set? `mark(flag, edge_a, edge_b)` updates the flag at each character."""
    (na, sa, aa), (nb, sb, ab) = a, b
    first = (sa, sb, False)
    seen, todo = {first}, [first]
    while todo:
        p, q, flag = todo.pop()
        if flag and _accepts_after(na, p, aa) and _accepts_after(nb, q, ab):
            return True
        for ep, cp, tp in _consuming(na, p):
            for eq, cq, tq in _consuming(nb, q):
                if cp & cq:
                    state = (tp, tq, mark(flag, ep, eq))
                    if state not in seen:
                        seen.add(state)
                        todo.append(state)
    return False


def ambiguous(nfa: _Nfa, start: int, accept: int) -> bool:
    """Does some non-empty string have two different paths (different character edges) to `accept`?"""
    return _joint_path((nfa, start, accept), (nfa, start, accept), lambda flag, ep, eq: flag or ep != eq)


def intersect(a: tuple[_Nfa, int, int], b: tuple[_Nfa, int, int]) -> bool:
    """Do two automata accept a common non-empty string?"""
    return _joint_path(a, b, lambda flag, ep, eq: True)


def _never_backtracks(seq) -> bool:
    """Possessive repeats and atomic groups give nothing back: their splits are never retried."""
    for op, av in seq:
        if op in (C.POSSESSIVE_REPEAT, C.ATOMIC_GROUP):
            return True
        for child in _subsequences(op, av):
            if _never_backtracks(child):
                return True
    return False


def _subsequences(op, av):
    if op in _REPEATS or op == C.POSSESSIVE_REPEAT:
        return [av[2]]
    if op == C.SUBPATTERN:
        return [av[3]]
    if op == C.ATOMIC_GROUP:
        return [av]
    if op == C.BRANCH:
        return list(av[1])
    if op in (C.ASSERT, C.ASSERT_NOT):
        return [av[1]]
    if op == C.GROUPREF_EXISTS:
        return [av[1]] + ([av[2]] if av[2] else [])
    return []


def _repeat_problem(body, ic: bool, dotall: bool) -> str | None:
    """Why repeating `body` without bound backtracks exponentially, or None."""
    if _never_backtracks(body):
        return None
    one = _automaton(body, 1, ic, dotall)
    if ambiguous(*one):
        return "the repeated part matches some text in two different ways, so n repetitions have 2^n"
    if intersect(one, _automaton(body, 1, ic, dotall, plus=True)):
        return ("the repeated part matches some text both as one repetition and as several (a nested "
                "quantifier, or overlapping branches), so n copies of it can be split 2^n ways")
    return None


def problems(seq, ic: bool, dotall: bool) -> list[str]:
    out = []
    for op, av in seq:
        if op in _REPEATS and av[1] == C.MAXREPEAT:
            why = _repeat_problem(av[2], ic, dotall)
            if why:
                out.append(why)
        for child in _subsequences(op, av):
            out += problems(child, ic, dotall)
    return out


def analyse(regex: str, ignore_case: bool = False) -> str | None:
    """Why `regex` can backtrack exponentially, or None."""
    parsed = parse_regex(keep_branches(regex), ignore_case)
    if parsed is None:
        return None
    flags = parsed.state.flags
    try:
        found = problems(list(parsed), bool(flags & re.IGNORECASE), bool(flags & re.DOTALL))
    except _Unknown:
        return None
    return found[0] if found else None


# --- where declarations hold regexes ------------------------------------------------------------
def _regexes(ctx):
    """(source, key path, regex, ignore case, position or None) of every regex nginx or the analyzer runs."""
    for source, site in ctx.sites():
        for i, loc in enumerate(site.locations):
            if loc.match in ("regex", "regex_i"):
                yield source, ("locations", i, "path"), loc.path, loc.match == "regex_i", None
        for k, m in enumerate(site.maps):
            for j, e in enumerate(m.entries):
                if e.regex is not None:
                    yield source, ("maps", k, "entries", j, "regex"), e.regex, e.ignore_case, None
        for prefix, opts in site.all_options():
            for j, cond in enumerate(opts.rules):
                if cond.matches is not None:
                    yield source, prefix + ("rules", j, "matches"), cond.matches, False, None
                if cond.matches_i is not None:
                    yield source, prefix + ("rules", j, "matches_i"), cond.matches_i, True, None
    for k, m in enumerate(getattr(ctx.settings, "maps", [])):
        for j, e in enumerate(m.entries):
            if e.regex is not None:
                yield "proxygen.yml", ("maps", k, "entries", j, "regex"), e.regex, e.ignore_case, None
    for k, rc in enumerate(ctx.settings.crawlers.route_classes):
        yield "proxygen.yml", ("crawlers", "route_classes", k, "pattern"), rc.pattern, False, None
    blocklist = ctx.blocklist
    if blocklist is not None:
        for f in blocklist.files:
            for e in f.entries:
                if e.key_type == "user_agent" and e.match == "regex":
                    source = f"{ctx.settings.blocklists_dir.rstrip('/')}/{f.path.name}"
                    pos = e.position
                    position = Position(source, pos.line, pos.column) if pos is not None else Position(source)
                    yield source, ("user_agent",), e.key, True, position


def check(ctx):
    for source, loc, regex, ignore_case, position in _regexes(ctx):
        why = analyse(regex, ignore_case)
        if why:
            yield Hit(source, loc, f"{regex!r}: {why}; make the repetition unambiguous (a separator the "
                                   f"inner part cannot match, one branch per text, or a possessive ++ / "
                                   f"atomic (?>...) group)", position)


RULE = Rule(
    code="PX209", name="regex-redos", severity="warning",
    summary="A regex that can backtrack exponentially (nested or ambiguous repetition): ReDoS.",
    doc="""nginx matches location, map and `if` regexes with PCRE, a backtracking engine, on every request;
the analyzer runs route classes over every log line. A pattern such as `^/(\\w+/?)+$` or `(a|aa)*` can
split one input in exponentially many ways: a request of forty characters that almost matches keeps a
worker busy for seconds (PCRE stops at its match limit and nginx answers 500). Checked: regex locations,
map regex entries, `rules:` matches/matches_i, blocklist user-agent regexes, crawler route classes.
Fix: give each repetition one way to match: a separator the inner part cannot consume (`(\\w+/)*`),
non-overlapping branches, bounded counts, or a possessive quantifier `++` / atomic group `(?>...)`.
(gixy: regex_redos)""",
    check=check,
)
