"""Rendering templates/ with Jinja2, where printing an unquoted value is an error.

Every `{{ expression }}` goes through the environment's `finalize`, which accepts
only ints and `Quoted` text produced by the quote filters (`q` literal text,
`qv` text with $variables, `qr` regular expressions, `qc` text inside a `#` comment) or by macros (whose bodies
were finalized piece by piece). Forgetting a filter fails the build instead of
injecting config, and so does gluing raw text to quoted text (`~`, `+`, `join`,
`replace`, `safe`...): every such operation yields something that is not `Quoted`.

Each file is rendered once in "shadow" form, where each quoted value is a unique
placeholder token; the real text is that shadow with the placeholders replaced by
the quoted values. The re-check parses both and demands the same structure, with
each placeholder standing for exactly its value, and the same comments, with each
comment placeholder standing for exactly its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from proxygen.compile.quote import QuoteError, Quoted, comment_text, quote
from proxygen.errors import ProxygenError

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"
PLACEHOLDER = re.compile(r"__pgq([0-9]+)__")
COMMENT_PLACEHOLDER = re.compile(r"__pgc([0-9]+)__")
_ANY_PLACEHOLDER = re.compile(r"__pg([qc])([0-9]+)__")


class TemplateBug(ProxygenError):
    """A template printed something it must not (a bug in templates/, not in declarations)."""


@dataclass
class Funnel:
    """Collects the values quoted while rendering one file."""

    values: list[tuple[str, str]] = field(default_factory=list)  # (value, quoted token)
    comments: list[str] = field(default_factory=list)             # text printed inside comments
    context: str = ""

    def put(self, value: object, *, variables: bool = False, regex: bool = False) -> Quoted:
        try:
            token = quote(value, variables=variables, regex=regex)
        except QuoteError as err:
            where = f" ({self.context})" if self.context else ""
            raise QuoteError(f"{err}{where}") from None
        self.values.append((str(value), token))
        return Quoted(f"__pgq{len(self.values) - 1}__")

    def put_comment(self, value: object) -> Quoted:
        try:
            text = comment_text(value)
        except QuoteError as err:
            where = f" ({self.context})" if self.context else ""
            raise QuoteError(f"{err}{where}") from None
        self.comments.append(text)
        return Quoted(f"__pgc{len(self.comments) - 1}__")

    def real_text(self, shadow: str) -> str:
        # One pass: text put in place of a placeholder is never scanned again.
        return _ANY_PLACEHOLDER.sub(self._replacement, shadow)

    def comment_real_text(self, shadow_comment: str) -> str:
        return COMMENT_PLACEHOLDER.sub(lambda m: self.comments[int(m.group(1))], shadow_comment)

    def _replacement(self, m: re.Match) -> str:
        if m.group(1) == "q":
            return self.values[int(m.group(2))][1]
        return self.comments[int(m.group(2))]


_current: list[Funnel] = []


def _funnel() -> Funnel:
    if not _current:
        raise TemplateBug("quote filter used outside a render")
    return _current[-1]


def _finalize(value):
    """Every `{{ expression }}` ends here: only funnel output (and ints) may be printed."""
    if type(value) is Quoted:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Quoted(str(value))
    if value is None or (type(value) is str and value == ""):
        # `{{ x if cond }}` renders None/"": nothing is printed, nothing to quote
        return Quoted("")
    raise TemplateBug(f"a template printed an unquoted value {value!r}; pipe it through q, qv or qr")


def _template_class():
    """Templates whose macros return Quoted text (their bodies were finalized piece by piece)."""
    import jinja2
    from jinja2.runtime import Macro

    class QuotedMacro(Macro):
        def _invoke(self, arguments, autoescape):
            return Quoted(self._func(*arguments))

    class StrictTemplate(jinja2.Template):
        @classmethod
        def _from_namespace(cls, environment, namespace, globals):
            namespace["Macro"] = QuotedMacro  # the compiled template looks the name up at call time
            return super()._from_namespace(environment, namespace, globals)

    return StrictTemplate


def _onoff(value) -> Quoted:
    if not isinstance(value, bool):
        raise TemplateBug(f"onoff needs a bool, got {value!r}")
    return Quoted("on" if value else "off")


def _chomp(value) -> Quoted:
    """Drop the trailing newline of a macro's output (the template line supplies its own)."""
    if type(value) is not Quoted:
        raise TemplateBug("chomp applies to macro output only")
    return Quoted(str.rstrip(value, "\n"))


_ENV = None


def environment(templates_dir: Path | None = None):
    """The shared Jinja environment (templates are compiled once per process)."""
    global _ENV
    import jinja2

    if _ENV is not None and templates_dir is None:
        return _ENV
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir or TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=True,  # only so that raw strings are told apart; _finalize refuses them
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = lambda v: _funnel().put(v)
    env.filters["qv"] = lambda v: _funnel().put(v, variables=True)
    env.filters["qr"] = lambda v: _funnel().put(v, regex=True)
    env.filters["qc"] = lambda v: _funnel().put_comment(v)
    env.filters["onoff"] = _onoff
    env.filters["chomp"] = _chomp
    from proxygen.compile.view import template_globals

    env.globals.update(template_globals())
    env.globals["pad"] = lambda n: Quoted(" " * n)  # indentation is template text, not a value
    env.template_class = _template_class()
    if templates_dir is None:
        _ENV = env
    return env


def render(template: str, context: str = "", **variables) -> tuple[str, str, Funnel]:
    """Render one template; return (real text, shadow text, funnel)."""
    env = environment()
    funnel = Funnel(context=context)
    _current.append(funnel)
    try:
        shadow = env.get_template(template).render(**variables)
    finally:
        _current.pop()
    shadow = _tidy(shadow)
    return funnel.real_text(shadow), shadow, funnel


def _tidy(text: str) -> str:
    """Collapse runs of blank lines left by conditional blocks; end with one newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"\{\n\n", "{\n", text)
    text = re.sub(r"\n\n(\s*\})", r"\n\1", text)
    return text.strip("\n") + "\n"
