"""The re-check run on every build before anything is written.

1. Structure: the real text and its shadow (placeholders instead of values) are both
   lexed with crossplane. They must have the same directives, arguments and blocks,
   and every placeholder must come back as exactly one argument equal to its value
   (after nginx's own unescaping). A value can therefore never add, remove or
   reshape a directive, nor reach a comment. Comments must match too: text printed
   through the comment filter must stay inside the comment it was printed in.
2. Directive table: every directive is known, in an allowed context, with an allowed
   number of arguments, and exists in the host's target nginx version. Bodies of
   map/geo/types are data and are not checked as directives.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from proxygen.compile.directives import DATA_BLOCKS, DIRECTIVES, HTTP, IF, MAIN, UPSTREAM
from proxygen.compile.quote import unquote_token
from proxygen.compile.render import COMMENT_PLACEHOLDER, PLACEHOLDER, Funnel, TemplateBug
from proxygen.errors import ProxygenError


class CheckError(ProxygenError):
    """Generated config failed the re-check (a bug in proxygen, or an unsafe value)."""


@dataclass
class Node:
    name: str
    args: list[str]
    line: int
    block: list["Node"] | None = None
    comments: list[str] = field(default_factory=list)


def parse(text: str, filename: str, comments: list[str] | None = None) -> list[Node]:
    """Parse nginx config text into nodes with crossplane's lexer and nginx's unescaping.

    Comments are dropped, or appended to `comments` when a list is given.
    """
    from crossplane.errors import NgxParserSyntaxError
    from crossplane.lexer import _lex_file_object

    root: list[Node] = []
    stack: list[list[Node]] = [root]
    words: list[tuple[str, int]] = []
    try:
        for token, line, quoted in _lex_file_object(io.StringIO(text)):
            if not quoted and token.startswith("#"):
                if words:
                    raise CheckError(f"{filename}:{line}: comment inside a directive")
                if comments is not None:
                    comments.append(token)
                continue
            if not quoted and token == ";":
                if not words:
                    raise CheckError(f"{filename}:{line}: empty directive")
                stack[-1].append(Node(words[0][0], [w for w, _ in words[1:]], words[0][1]))
                words = []
            elif not quoted and token == "{":
                if not words:
                    raise CheckError(f"{filename}:{line}: block without a directive")
                node = Node(words[0][0], [w for w, _ in words[1:]], words[0][1], [])
                stack[-1].append(node)
                stack.append(node.block)
                words = []
            elif not quoted and token == "}":
                if words or len(stack) == 1:
                    raise CheckError(f"{filename}:{line}: unexpected '}}'")
                stack.pop()
            else:
                words.append((unquote_token(token, quoted), line))
    except NgxParserSyntaxError as err:
        raise CheckError(f"{filename}: {err}") from None
    if words or len(stack) != 1:
        raise CheckError(f"{filename}: unexpected end of file (unclosed block or missing ';')")
    return root


def check_structure(filename: str, real: str, shadow: str, funnel: Funnel) -> list[Node]:
    """Compare the parsed real text with the intended structure; return the real tree."""
    comments: list[str] = []
    intended = parse(shadow, filename + " (shadow)", comments)
    for comment in comments:
        if PLACEHOLDER.search(comment):
            raise TemplateBug(f"{filename}: a template put a value inside a comment: {comment!r}")
    real_comments: list[str] = []
    actual = parse(real, filename, real_comments)
    _resolve(intended, funnel, filename)
    _compare(intended, actual, filename)
    wanted_comments = [funnel.comment_real_text(c) for c in comments]
    if real_comments != wanted_comments:
        wrong = next((f"{w!r} became {r!r}" for w, r in zip(wanted_comments, real_comments) if w != r),
                     f"{len(wanted_comments)} comments expected, {len(real_comments)} found")
        raise CheckError(f"{filename}: a comment changed: {wrong}")
    return actual


def _resolve(nodes: list[Node], funnel: Funnel, filename: str) -> None:
    for node in nodes:
        node.name = _value(node.name, funnel, filename, node.line)
        node.args = [_value(a, funnel, filename, node.line) for a in node.args]
        if node.block is not None:
            _resolve(node.block, funnel, filename)


def _value(word: str, funnel: Funnel, filename: str, line: int) -> str:
    if COMMENT_PLACEHOLDER.search(word):
        raise TemplateBug(f"{filename}:{line}: comment text (the qc filter) printed outside a comment in {word!r}")
    m = PLACEHOLDER.fullmatch(word)
    if m:
        return funnel.values[int(m.group(1))][0]
    if PLACEHOLDER.search(word):
        raise TemplateBug(f"{filename}:{line}: a quoted value is glued to other text in {word!r}; "
                          "a value must be a whole argument")
    return word


def _compare(intended: list[Node], actual: list[Node], filename: str, path: str = "") -> None:
    if len(intended) != len(actual):
        raise CheckError(f"{filename}: {path or 'top level'}: expected {len(intended)} directives, "
                         f"found {len(actual)}: a value changed the structure")
    for want, got in zip(intended, actual):
        where = f"{filename}:{got.line}"
        if want.name != got.name or want.args != got.args:
            raise CheckError(f"{where}: expected {want.name} {want.args!r}, found {got.name} {got.args!r}")
        if (want.block is None) != (got.block is None):
            raise CheckError(f"{where}: {got.name}: block structure changed")
        if want.block is not None:
            _compare(want.block, got.block, filename, f"{path}/{got.name}")


@dataclass
class TableProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def check_directives(nodes: list[Node], filename: str, version: tuple[int, int, int],
                     context: str = MAIN) -> list[TableProblem]:
    """Check context, argument count and minimum version of every directive."""
    problems: list[TableProblem] = []
    _walk(nodes, context, filename, version, problems)
    return problems


def _walk(nodes, context, filename, version, problems) -> None:
    for node in nodes:
        spec = DIRECTIVES.get(node.name)
        if spec is None:
            problems.append(TableProblem(filename, node.line, f"unknown directive {node.name!r}"))
            continue
        if context not in spec.contexts:
            problems.append(TableProblem(filename, node.line, f"{node.name} is not allowed in {context}"))
        is_block = node.block is not None
        if node.name == "server":
            ok = (context == HTTP and is_block and not node.args) or (context == UPSTREAM and not is_block and node.args)
            if not ok:
                problems.append(TableProblem(filename, node.line, f"malformed server in {context}"))
        else:
            if spec.block != is_block:
                problems.append(TableProblem(filename, node.line,
                                             f"{node.name} {'needs' if spec.block else 'cannot have'} a block"))
            n = len(node.args)
            if node.name == "if":
                ok = n >= 1 and node.args[0].startswith("(") and node.args[-1].endswith(")")
            else:
                ok = spec.accepts(n)
            if not ok:
                problems.append(TableProblem(filename, node.line,
                                             f"{node.name} takes {spec.describe_args()}, got {n}"))
        if spec.since is not None and version < spec.since:
            need = ".".join(map(str, spec.since))
            problems.append(TableProblem(filename, node.line,
                                         f"{node.name} needs nginx >= {need}; the host targets "
                                         f"{'.'.join(map(str, version))}"))
        if is_block and node.name not in DATA_BLOCKS:
            inner = IF if node.name == "if" else node.name
            _walk(node.block, inner, filename, version, problems)
