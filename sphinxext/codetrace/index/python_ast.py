"""Python frontend on the standard library's :mod:`ast`: the default one.

It produces exactly the facts of the libcst frontend (:mod:`.python`, whose docstring describes them: the
definitions, imports, call sites, raises, bindings and :class:`~sphinxext.codetrace.model.Flow` trees), in
the same order, with the same texts, lines and columns, from the tree :mod:`.guard` already built to vet the
file, so each file is parsed once, by CPython's own parser (ten times faster than libcst's, and no position
metadata pass). ``tools/compare_frontends.py`` checks the two agree, file by file.

What libcst gives for free and ``ast`` does not, computed here from the source lines:

* columns in code points (``ast`` counts UTF-8 bytes);
* source text as libcst prints a node: the parentheses that group an expression belong to it (``f((a))``
  records the argument ``(a)``), except the parentheses of a call around a lone generator argument, and
  those of a ``with`` statement around its items (``with (a):``);
* positions as libcst reports them: a parenthesized tuple or a generator expression starts at its first
  element, not at its parenthesis; a decorator at its ``@``; a ``def``/``class`` name and an ``except ... as``
  name at the name;
* the order libcst visits nodes in (source order: an ``if`` expression's body before its test, call
  arguments and keywords interleaved, a parameter's annotation before its default), and the empty ``else``
  branch every ``if``, loop and ``try`` gets a block number for.

Files the running interpreter's grammar does not cover (a ``type`` statement on Python 3.11, say) make
:func:`ast.parse` fail with a plain syntax error: those go to the libcst frontend, whose parser knows newer
grammar, once :func:`.guard.libcst_precheck` has vetted them. That fallback is libcst's only remaining use.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
from collections.abc import Callable
from typing import Any

from ..model import (
    Binding,
    CallSite,
    Definition,
    FileFacts,
    Flow,
    Import,
    Lang,
    Param,
    RaiseSite,
    StepKind,
    builder,
)
from .guard import libcst_precheck, paused_gc, python_parse

#: Bump when the facts the Python frontends produce change, so cached facts are rebuilt (both frontends
#: produce the same facts, so they share one version).
FRONTEND_VERSION = "py-9"

#: Calls whose first argument is a coroutine that runs as a new task: ``create_task(coro())``.
SPAWN_CORO = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe", "start_soon"})
#: Calls whose every positional argument that is a call runs as a task: ``gather(a(), b())``.
SPAWN_ALL = frozenset({"gather"})
#: Calls that run a callable they are handed: ``to_thread(fn, ...)``, ``submit(fn, ...)``.
SPAWN_CALLABLE_ARG0 = frozenset({"to_thread", "call_soon", "call_soon_threadsafe"})
#: ``submit``/``apply_async`` hand a callable to a pool only when the receiver is one (``self.executor``):
#: a method of that name elsewhere (``scheduler.submit(seq)``) is an ordinary call.
POOL_SUBMIT = frozenset({"submit", "apply_async"})
SPAWN_CALLABLE_ARG1 = frozenset({"run_in_executor"})
#: Builtins that call the function they are given as first argument (the resolver checks the builtin).
CALLBACK_ARG0 = frozenset({"map", "filter"})

MAX_TEXT = 120
MAX_TREE_DEPTH = 12
UNKNOWN: tuple[str] = ("?",)


def implicit_tag(text: str) -> str | None:
    """The tag of a call site the code does not write as a call (see :mod:`.python`), from its text:
    ``"enter"``, ``"exit"``, ``"iter"``, ``"next"``, ``"callback"``, or None for a written call."""
    if text.startswith(("with ", "async with ")):
        return "exit" if text.endswith(" (exit)") else "enter"
    if text.startswith(("for in ", "async for in ")):
        return "next" if text.endswith(" (next)") else "iter"
    if text.endswith(" (callback)"):
        return "callback"
    return None


def clip(text: str) -> str:
    """Whitespace runs made single spaces, cut at :data:`MAX_TEXT` characters (the text of a call site)."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


# -- the source lines -----------------------------------------------------------------------------------------

_BLANK = frozenset(" \t\f")
_CALL_OPENERS = frozenset(")]}\"'.")  # what may end the callee before a call's "(" (``...(x)``, ``1.(x)``)
_VALUE_KEYWORDS = frozenset({"None", "True", "False"})  # keywords that are values: ``None(x)`` is a call


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or ch > "\x7f"


class _Source:
    """Lines of a file, and what libcst knows about them that ``ast`` does not: columns in code points,
    where comments start, which parentheses group an expression."""

    def __init__(self, source: str) -> None:
        if "\r" in source:
            source = source.replace("\r\n", "\n").replace("\r", "\n")
        self.source = source
        self.lines = source.split("\n")
        #: lines (1-based) whose byte columns are not code-point columns; most files have none
        self.wide: frozenset[int] = (
            frozenset()
            if source.isascii()
            else frozenset(i for i, text in enumerate(self.lines, 1) if not text.isascii())
        )
        self._encoded: dict[int, bytes] = {}
        self._comments: dict[int, int] | None = None
        self.statement_starts: set[tuple[int, int]] = set()  # filled in as the walk enters blocks
        self.match_starts: set[tuple[int, int]] = set()  # where a ``match`` statement's soft keyword is

    def col(self, line: int, offset: int) -> int:
        """The code-point column of byte ``offset`` in ``line`` (1-based)."""
        if line not in self.wide:
            return offset
        data = self._encoded.get(line)
        if data is None:
            data = self._encoded[line] = self.lines[line - 1].encode("utf-8")
        return len(data[:offset].decode("utf-8", "replace"))

    def start(self, node: Any) -> tuple[int, int]:
        line = node.lineno
        return line, node.col_offset if line not in self.wide else self.col(line, node.col_offset)

    def end(self, node: Any) -> tuple[int, int]:
        line = node.end_lineno
        return line, node.end_col_offset if line not in self.wide else self.col(line, node.end_col_offset)

    def char(self, at: tuple[int, int]) -> str:
        return self.lines[at[0] - 1][at[1]]

    def text(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        (sl, sc), (el, ec) = start, end
        if sl == el:
            return self.lines[sl - 1][sc:ec]
        return "\n".join((self.lines[sl - 1][sc:], *self.lines[sl : el - 1], self.lines[el - 1][:ec]))

    # -- the gaps between tokens (whitespace, comments, line continuations) ------------------------------------

    def next_sig(self, line: int, col: int) -> tuple[int, int] | None:
        """The first character at or after ``(line, col)`` that is code: only used in the gap after a token,
        where no string can start before the next token, so a ``#`` always starts a comment."""
        lines = self.lines
        text = lines[line - 1]
        n = len(text)
        i = col
        while True:
            while i < n and text[i] in _BLANK:
                i += 1
            if i < n and text[i] != "#" and not (text[i] == "\\" and i == n - 1):
                return line, i
            line += 1
            if line > len(lines):
                return None
            text = lines[line - 1]
            n = len(text)
            i = 0

    def prev_sig(self, line: int, col: int) -> tuple[int, int] | None:
        """The last character before ``(line, col)`` that is code (not blank, a comment or a continuation)."""
        text = self.lines[line - 1]
        i = col - 1
        while True:
            while i >= 0 and text[i] in _BLANK:
                i -= 1
            if i >= 0:
                return line, i
            line -= 1
            if line < 1:
                return None
            text = self.lines[line - 1]
            comment = self._comment_start(line, text)
            if comment is None:
                i = len(text) - 1
                if i >= 0 and text[i] == "\\":  # a line continuation
                    i -= 1
            else:
                i = comment - 1

    def _comment_start(self, line: int, text: str) -> int | None:
        """Where the comment of ``line`` starts, if it has one (a ``#`` outside strings)."""
        if "#" not in text:
            return None
        if "'" not in text and '"' not in text:
            return text.index("#")
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "#":
                return i
            if ch in "'\"":
                quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else ch
                i += len(quote)
                while i < n and not text.startswith(quote, i):
                    i += 2 if text[i] == "\\" else 1
                if i >= n:  # the line ends inside a string: it must have started inside one; ask the tokenizer
                    return self._tokenized_comments().get(line)
                i += len(quote)
                continue
            i += 1
        return None

    def _tokenized_comments(self) -> dict[int, int]:
        if self._comments is None:
            self._comments = {}
            try:
                for tok in tokenize.generate_tokens(io.StringIO(self.source).readline):
                    if tok.type == tokenize.COMMENT:
                        self._comments[tok.start[0]] = tok.start[1]
            except (tokenize.TokenError, SyntaxError):
                pass
        return self._comments

    # -- parentheses --------------------------------------------------------------------------------------------

    def groups(self, at: tuple[int, int]) -> bool:
        """Whether the ``(`` at ``at`` groups an expression (rather than opening a call's arguments)."""
        prev = self.prev_sig(*at)
        if prev is None or (prev[0] != at[0] and at in self.statement_starts):
            return True
        text = self.lines[prev[0] - 1]
        ch = text[prev[1]]
        if ch in _CALL_OPENERS:
            return False
        if _is_word(ch):
            i = prev[1]
            while i >= 0 and _is_word(text[i]):
                i -= 1
            word = text[i + 1 : prev[1] + 1]
            if word == "match":  # ``match (a)():`` groups, ``match(a)`` is a call
                return (prev[0], i + 1) in self.match_starts
            return keyword.iskeyword(word) and word not in _VALUE_KEYWORDS
        return True

    def prev_word(self, at: tuple[int, int]) -> str:
        """The word that ends just before ``at`` (``""`` when something else does)."""
        prev = self.prev_sig(*at)
        if prev is None:
            return ""
        text = self.lines[prev[0] - 1]
        i = prev[1]
        while i >= 0 and _is_word(text[i]):
            i -= 1
        return text[i + 1 : prev[1] + 1]

    def span(self, node: Any, with_item: bool = False) -> tuple[tuple[int, int], tuple[int, int]]:
        """Start and end of ``node`` as libcst prints it: with the parentheses that group it."""
        start, end = self.start(node), self.end(node)
        if type(node) is not ast.GeneratorExp:
            # most nodes: code other than "(" before them on their line, so no parentheses of their own
            text = self.lines[start[0] - 1]
            i = start[1] - 1
            while i >= 0 and text[i] in _BLANK:
                i -= 1
            if i >= 0 and text[i] != "(":
                return start, end
        elif not self.groups(start):
            # the lone argument of a call: the parentheses are the call's (``sum(x for x in y)``)
            inner = self.next_sig(start[0], start[1] + 1)
            last = self.prev_sig(end[0], end[1] - 1)
            assert inner is not None and last is not None
            return inner, (last[0], last[1] + 1)
        layers: list[tuple[tuple[int, int], tuple[int, int]]] = []
        while True:
            before = self.prev_sig(*start)
            if before is None or self.char(before) != "(":
                break
            after = self.next_sig(*end)
            if after is None or self.char(after) != ")" or not self.groups(before):
                break
            layers.append((start, end))
            start, end = before, (after[0], after[1] + 1)
        if with_item and layers and self.prev_word(start) == "with":
            after = self.next_sig(*end)
            if after is not None and self.char(after) == ":":  # ``with (a):``: the statement's parentheses
                start, end = layers[-1]
        return start, end


# -- name chains, constants -----------------------------------------------------------------------------------


def call_args(node: ast.Call) -> list[tuple[str, str | None, ast.expr]]:
    """A call's arguments in source order as ``(star, keyword, value)``: ``star`` is ``""``, ``"*"`` or
    ``"**"``; ``ast`` keeps positional arguments and keywords apart, libcst in one list."""
    args = node.args
    out: list[tuple[str, str | None, ast.expr]] = [
        ("*", None, a.value) if type(a) is ast.Starred else ("", None, a) for a in args
    ]
    if node.keywords:
        kws = [("**" if k.arg is None else "", k.arg, k.value) for k in node.keywords]
        if not out:
            return kws
        order = [(a.lineno, a.col_offset, i) for i, a in enumerate(args)]
        order += [(k.lineno, k.col_offset, len(args) + i) for i, k in enumerate(node.keywords)]
        merged = out + kws
        return [merged[i] for _, _, i in sorted(order)]
    return out


def chain_of(node: Any) -> tuple[str, ...]:
    """The name chain of an expression (see :attr:`CallSite.chain`), ``()`` when it is not one."""
    t = type(node)
    if t is ast.Name:
        return (node.id,)
    if t is ast.Attribute:
        base = chain_of(node.value)
        return (*base, node.attr) if base else ()
    if t is ast.Call:
        func = node.func
        if type(func) is ast.Name and func.id == "super" and (node.args or node.keywords):
            # super(Cls, self): the lookup starts after Cls, written "super[Cls]()"
            cls = chain_of(call_args(node)[0][2])
            return (f"super[{'.'.join(cls)}]()",) if cls and "()" not in "".join(cls) else ()
        base = chain_of(func)
        return (*base[:-1], base[-1] + "()") if base else ()
    if t is ast.Await:
        return chain_of(node.value)
    return ()


def _constant(node: Any) -> tuple[bool, Any]:
    """``(True, value)`` for a literal string, integer, ``True``/``False``/``None`` or negative integer."""
    t = type(node)
    if t is ast.Constant:
        value = node.value
        if value is None or value is True or value is False or type(value) in (str, int):
            return True, value
        return False, None
    if t is ast.UnaryOp and type(node.op) is ast.USub:
        operand = node.operand
        if type(operand) is ast.Constant and type(operand.value) is int:
            return True, -operand.value
    return False, None


def _single_string(text: str) -> bool:
    """Whether ``text`` is one string literal (not an implicit concatenation)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.STRING]
    except (tokenize.TokenError, SyntaxError):
        return False
    return len(tokens) == 1


# -- the visitor ------------------------------------------------------------------------------------------------

#: Fields that never hold an expression or statement the walk must enter.
_SKIP_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "type_ignores", "pattern", "patterns"})


def _child_fields(cls: type) -> tuple[str, ...]:
    return tuple(f for f in getattr(cls, "_fields", ()) if f not in _SKIP_FIELDS)


_FIELDS: dict[type, tuple[str, ...]] = {}
#: Constructors of the facts a module has most of, at half the cost (see :func:`~sphinxext.codetrace.model.builder`).
_new_flow, _new_call_site, _new_binding = builder(Flow), builder(CallSite), builder(Binding)
#: Types of field values the walk has nothing to visit in (names, constants, identifiers, empty fields).
_INERT = frozenset({ast.Name, ast.Constant, str, int, type(None)})


class FactsState:
    """The bookkeeping both Python frontends share (this one, and libcst's in :mod:`.python`): scopes, the
    ``except`` handlers and branch blocks around the current statement, lambda names, relative imports. A
    frontend calls :meth:`_init_state` and walks its own tree."""

    def _init_state(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.scopes: list[tuple[str, str]] = []  # (qualname, kind)
        self.handlers: list[tuple[str, ...]] = []
        self._saved: list[tuple[list[tuple[str, ...]], list[int]]] = []
        self.definitions: list[Definition] = []
        self.imports: list[Import] = []
        self.calls: list[CallSite] = []
        self.raises: list[RaiseSite] = []
        self.bindings: list[Binding] = []
        self.flow: list[Flow] = []
        self.all_names: tuple[str, ...] | None = None
        self._awaited: set[int] = set()
        self._spawned: set[int] = set()
        self.path: list[int] = []  # branch blocks around the current statement (see Flow.path)
        self._blocks = 0
        self._comp_blocks: dict[int, int] = {}
        self._lambda_names: dict[int, str] = {}
        self._lambda_counts: dict[str, int] = {}
        self._globals: dict[str, set[str]] = {}  # function scope -> names declared global there
        #: the qualname of the innermost scope, ``""`` at module level (kept by _push_scope and _leave_body)
        self.scope = ""

    def file_facts(self, path: str, module: str) -> FileFacts:
        """What the walk collected, as the facts of ``path``."""
        return FileFacts(
            path=path,
            lang=Lang.PYTHON,
            module=module,
            definitions=tuple(self.definitions),
            imports=tuple(self.imports),
            calls=tuple(self.calls),
            raises=tuple(self.raises),
            bindings=tuple(self.bindings),
            all_names=self.all_names,
            flow=tuple(self.flow),
        )

    def _qualname(self, name: str) -> str:
        return f"{self.scope}.{name}" if self.scope else name

    def _absolute(self, level: int, module: str | None) -> str:
        if level == 0:
            return module or ""
        parts = self.module.split(".") if self.module else []
        if not self.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        if module:
            parts.append(module)
        return ".".join(parts)

    def _new_block(self) -> int:
        self._blocks += 1
        return self._blocks

    def _lambda_name(self, node: Any) -> str:
        name = self._lambda_names.get(id(node))
        if name is None:
            count = self._lambda_counts.get(self.scope, 0) + 1
            self._lambda_counts[self.scope] = count
            name = self._lambda_names[id(node)] = self._qualname(f"<lambda{count}>")
        return name

    def _comp_block(self, node: Any) -> int:
        block = self._comp_blocks.get(id(node))
        if block is None:
            block = self._comp_blocks[id(node)] = -self._new_block()
        return block

    def _push_scope(self, scope: tuple[str, str]) -> None:
        self.scopes.append(scope)
        self.scope = scope[0]
        self._saved.append((self.handlers, self.path))
        self.handlers = []
        self.path = []

    def _leave_body(self) -> None:
        self.scopes.pop()
        self.scope = self.scopes[-1][0] if self.scopes else ""
        self.handlers, self.path = self._saved.pop()

    def _push_block(self) -> None:
        self.path.append(self._new_block())

    def _pop_block(self) -> None:
        self.path.pop()

    def _enter_comp(self, node: Any) -> None:
        self.path.append(self._comp_block(node))

    def _handlers(self) -> tuple[str, ...]:
        return tuple(h for group in reversed(self.handlers) for h in group)


class _AstFacts(FactsState):
    """The facts of one module, collected in the order libcst's visitor in :mod:`.python` collects them."""

    def __init__(self, src: _Source, module: str, is_package: bool) -> None:
        self.src = src
        self._init_state(module, is_package)
        self._handlers_of: dict[type, Callable[[Any], None]] = {
            ast.FunctionDef: self.v_function,
            ast.AsyncFunctionDef: self.v_function,
            ast.ClassDef: self.v_class,
            ast.Lambda: self.v_lambda,
            ast.Global: self.v_global,
            ast.If: self.v_if,
            ast.While: self.v_while,
            ast.For: self.v_for,
            ast.AsyncFor: self.v_for,
            ast.With: self.v_with,
            ast.AsyncWith: self.v_with,
            ast.Try: self.v_try,
            ast.Match: self.v_match,
            ast.Raise: self.v_raise,
            ast.Return: self.v_return,
            ast.Assign: self.v_assign,
            ast.AnnAssign: self.v_annassign,
            ast.Import: self.v_import,
            ast.ImportFrom: self.v_importfrom,
            ast.Call: self.v_call,
            ast.Await: self.v_await,
            ast.Yield: self.v_yield,
            ast.YieldFrom: self.v_yield,
            ast.NamedExpr: self.v_namedexpr,
            ast.ListComp: self.v_comp,
            ast.SetComp: self.v_comp,
            ast.GeneratorExp: self.v_comp,
            ast.DictComp: self.v_dictcomp,
            ast.IfExp: self.v_ifexp,
            ast.Dict: self.v_dict,
            ast.Attribute: self.v_attribute,
            ast.Expr: self.v_expr,
        }
        try_star = getattr(ast, "TryStar", None)
        if try_star is not None:
            self._handlers_of[try_star] = self.v_try

    # -- the walk -----------------------------------------------------------------------------------------------

    def visit(self, node: ast.AST) -> None:
        cls = type(node)
        if cls is ast.Name or cls is ast.Constant:  # most nodes, and none holds anything to visit
            return
        handler = self._handlers_of.get(cls)
        if handler is not None:
            handler(node)
        else:
            self.generic(node)

    def generic(self, node: ast.AST) -> None:
        cls = type(node)
        fields = _FIELDS.get(cls)
        if fields is None:
            fields = _FIELDS[cls] = _child_fields(cls)
        visit = self.visit
        for name in fields:
            value = getattr(node, name, None)
            kind = type(value)
            if kind is list:
                for item in value:
                    if type(item) not in _INERT and isinstance(item, ast.AST):
                        visit(item)
            elif kind not in _INERT and isinstance(value, ast.AST):
                visit(value)

    def v_attribute(self, node: ast.Attribute) -> None:
        value = node.value
        while type(value) is ast.Attribute:  # ``a.b.c``: only the ``a`` at the bottom holds anything to visit
            value = value.value
        self.visit(value)

    def v_expr(self, node: ast.Expr) -> None:
        self.visit(node.value)

    def visit_all(self, nodes: list[Any]) -> None:
        for node in nodes:
            self.visit(node)

    def statements(self, body: list[ast.stmt]) -> None:
        """Visit a block's statements, noting where each starts (see :meth:`_Source.groups`)."""
        starts = self.src.statement_starts
        wide = self.src.wide
        for node in body:
            line = node.lineno
            starts.add((line, node.col_offset if line not in wide else self.src.col(line, node.col_offset)))
        for node in body:
            self.visit(node)

    # -- helpers ----------------------------------------------------------------------------------------------

    def code(self, node: ast.AST, with_item: bool = False) -> str:
        (sl, sc), (el, ec) = self.src.span(node, with_item)
        # clip(self.src.text(...)), inlined: this runs for every call, argument and annotation
        text = " ".join((self.src.lines[sl - 1][sc:ec] if sl == el else self.src.text((sl, sc), (el, ec))).split())
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

    def pos(self, node: Any) -> tuple[int, int]:
        t = type(node)
        if t is ast.GeneratorExp or (t is ast.Tuple and self._parenthesized(node)):
            # libcst: a node's position leaves out its own parentheses
            found = self.src.next_sig(node.lineno, self.src.col(node.lineno, node.col_offset) + 1)
            assert found is not None
            return found
        line = node.lineno
        return line, node.col_offset if line not in self.src.wide else self.src.col(line, node.col_offset)

    def _parenthesized(self, node: ast.Tuple) -> bool:
        if not node.elts:
            return True
        return self.src.span(node.elts[0])[0] != self.src.start(node)

    def _keyword_name(self, node: Any, words: tuple[str, ...]) -> tuple[int, int]:
        """Where the name after the keywords ``words`` (``async def``, ``class``) starts."""
        at: tuple[int, int] | None = self.src.start(node)
        for word in words:
            assert at is not None
            at = self.src.next_sig(at[0], at[1] + len(word))
        assert at is not None
        return at

    @staticmethod
    def _param_list(args: ast.arguments) -> list[tuple[ast.arg, str, ast.expr | None]]:
        """``(arg, star, default)`` in libcst's order: positional-only, positional, ``*args``, keyword-only,
        ``**kwargs``."""
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        out: list[tuple[ast.arg, str, ast.expr | None]] = [
            (p, "", d) for p, d in zip(positional, defaults, strict=True)
        ]
        if args.vararg is not None:
            out.append((args.vararg, "*", None))
        out.extend((p, "", d) for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True))
        if args.kwarg is not None:
            out.append((args.kwarg, "**", None))
        return out

    def _params(self, args: ast.arguments) -> tuple[Param, ...]:
        return tuple(
            Param(p.arg, self.code(p.annotation) if p.annotation is not None else None, star, default is not None)
            for p, star, default in self._param_list(args)
        )

    def _visit_params(self, args: ast.arguments) -> None:
        for p, _, default in self._param_list(args):
            if p.annotation is not None:
                self.visit(p.annotation)
            if default is not None:
                self.visit(default)

    # -- expression trees (see the docstring of .python) --------------------------------------------------------

    def _slice_items(self, node: ast.Subscript) -> list[ast.expr]:
        """The elements of a subscript as libcst counts them: ``a[1, 2]`` has two, ``a[(1, 2)]`` one."""
        index = node.slice
        if type(index) is ast.Tuple and not self._parenthesized(index):
            return index.elts
        return [index]

    def tree(self, node: Any, depth: int = 0) -> Any:
        """The expression tree of ``node``."""
        if node is None or depth > MAX_TREE_DEPTH:
            return UNKNOWN
        d = depth + 1
        t = type(node)
        if t is ast.Name:
            return ("n", node.id)
        if t is ast.Attribute:
            return ("a", self.tree(node.value, d), node.attr)
        if t is ast.Constant or t is ast.UnaryOp:
            is_constant, value = _constant(node)
            return ("k", value) if is_constant else UNKNOWN
        if t is ast.Call:
            func = node.func
            if type(func) is ast.Name and func.id == "super":
                arguments = call_args(node)
                return ("super", self.tree(arguments[0][2], d)) if arguments else ("super",)
            args: list[Any] = []
            for a in node.args:
                args.append(("*", self.tree(a.value, d)) if type(a) is ast.Starred else self.tree(a, d))
            kwargs = tuple(("**" if k.arg is None else k.arg, self.tree(k.value, d)) for k in node.keywords)
            return ("c", self.tree(func, d), tuple(args), kwargs)
        if t is ast.Subscript:
            items = self._slice_items(node)
            if len(items) != 1:
                return ("s", self.tree(node.value, d), UNKNOWN)
            index = items[0]
            if type(index) is ast.Slice:
                bounds = []
                for bound in (index.lower, index.upper):
                    ok, value = _constant(bound) if bound is not None else (True, None)
                    bounds.append(value if ok and (value is None or type(value) is int) else "?")
                if index.step is not None or "?" in bounds:
                    return ("s", self.tree(node.value, d), ("sl", None, None, "?"))
                return ("s", self.tree(node.value, d), ("sl", bounds[0], bounds[1]))
            if type(index) is ast.Starred:  # a[*b]
                index = index.value
            return ("s", self.tree(node.value, d), self.tree(index, d))
        if t is ast.Tuple or t is ast.List or t is ast.Set:
            tag = "t" if t is ast.Tuple else "l" if t is ast.List else "set"
            items_ = tuple(
                ("*", self.tree(e.value, d)) if type(e) is ast.Starred else self.tree(e, d) for e in node.elts
            )
            return (tag, items_)
        if t is ast.Dict:
            entries = []
            for key, item in zip(node.keys, node.values, strict=True):
                entries.append(("**", self.tree(item, d)) if key is None else (self.tree(key, d), self.tree(item, d)))
            return ("d", tuple(entries))
        if t is ast.Lambda:
            return ("lam", self._lambda_name(node))
        if t is ast.ListComp or t is ast.SetComp or t is ast.GeneratorExp:
            kind = "l" if t is ast.ListComp else "set" if t is ast.SetComp else "g"
            return ("comp", kind, self.tree(node.elt, d), self._comp_block(node))
        if t is ast.DictComp:
            return ("dcomp", self.tree(node.key, d), self.tree(node.value, d), self._comp_block(node))
        if t is ast.Await:
            return ("aw", self.tree(node.value, d))
        if t is ast.IfExp:
            return ("or", (self.tree(node.body, d), self.tree(node.orelse, d)))
        if t is ast.BoolOp:
            return self._boolop_tree(node.values, depth)
        if t is ast.NamedExpr:
            return self.tree(node.value, d)
        return UNKNOWN

    def _boolop_tree(self, values: list[ast.expr], depth: int) -> Any:
        """``a or b or c``: libcst nests binary operations to the left, ``((a or b) or c)``."""
        if depth > MAX_TREE_DEPTH:
            return UNKNOWN
        d = depth + 1
        left = self._boolop_tree(values[:-1], d) if len(values) > 2 else self.tree(values[0], d)
        return ("or", (left, self.tree(values[-1], d)))

    def pattern(self, node: Any) -> Any:
        """The binding pattern of an assignment target."""
        t = type(node)
        if t is ast.Name:
            return ("n", node.id)
        if t is ast.Attribute:
            return ("a", self.tree(node.value), node.attr)
        if t is ast.Subscript:
            return self.tree(node)  # ("s", base, index)
        if t is ast.Tuple or t is ast.List:
            return ("t", tuple(self.pattern(e) for e in node.elts))
        if t is ast.Starred:
            return ("*", self.pattern(node.value))
        return UNKNOWN

    # -- flow facts -------------------------------------------------------------------------------------------

    def _flow(
        self, at: tuple[int, int], kind: str, target: Any = None, value: Any = None, annotation: str | None = None
    ) -> None:
        scope = self.scope
        if (
            self._globals
            and kind == "bind"
            and isinstance(target, tuple)
            and target[0] == "n"
            and target[1] in self._globals.get(scope, ())
        ):
            scope = ""
        self.flow.append(_new_flow(scope, at[0], at[1], kind, target, value, annotation, tuple(self.path)))

    def _bind_flow(self, at: tuple[int, int], target: Any, value: Any, annotation: str | None = None) -> None:
        self._flow(at, "bind", target, value, annotation)

    # -- definitions ------------------------------------------------------------------------------------------

    def v_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_async = type(node) is ast.AsyncFunctionDef
        name_at = self._keyword_name(node, ("async", "def") if is_async else ("def",))
        qualname = self._qualname(node.name)
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="function",
                line=name_at[0],
                end_line=node.end_lineno or node.lineno,
                parent=self.scope,
                params=self._params(node.args),
                returns=self.code(node.returns) if node.returns is not None else None,
                is_async=is_async,
                decorators=tuple(self.code(d) for d in node.decorator_list),
                in_class=bool(self.scopes) and self.scopes[-1][1] == "class",
            )
        )
        self._def_flows(node, qualname, name_at)
        self.visit_all(node.decorator_list)
        self.visit_all(getattr(node, "type_params", None) or [])
        self._visit_params(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self._body(node.body, (qualname, "function"))

    def v_class(self, node: ast.ClassDef) -> None:
        name_at = self._keyword_name(node, ("class",))
        qualname = self._qualname(node.name)
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="class",
                line=name_at[0],
                end_line=node.end_lineno or node.lineno,
                parent=self.scope,
                decorators=tuple(self.code(d) for d in node.decorator_list),
                bases=tuple(self.code(b) for b in node.bases if type(b) is not ast.Starred),
            )
        )
        self._def_flows(node, qualname, name_at)
        self.visit_all(node.decorator_list)
        self.visit_all(getattr(node, "type_params", None) or [])
        self.visit_all(node.bases)
        for kw in node.keywords:
            self.visit(kw.value)
        self._body(node.body, (qualname, "class"))

    def _def_flows(self, node: Any, qualname: str, name_at: tuple[int, int]) -> None:
        """The defaults, the decorator applications (innermost first) and the binding of the decorated name."""
        if type(node) is not ast.ClassDef:
            self._default_flows(node.args, qualname)
        value: Any = ("def", qualname)
        for decorator in reversed(node.decorator_list):
            dec_tree = self.tree(decorator)
            at = self.src.prev_sig(*self.src.span(decorator)[0])  # the "@"
            assert at is not None
            self._flow(at, "call", "@", ("c", dec_tree, (value,), ()), "@" + self.code(decorator))
            value = ("dec", dec_tree, value)
        self._bind_flow(name_at, ("n", node.name), value)

    def _default_flows(self, args: ast.arguments, qualname: str) -> None:
        for p, star, default in self._param_list(args):
            if default is not None and not star:
                self._flow(self.pos(p), "default", (qualname, p.arg), self.tree(default))

    # Decorators, defaults, annotations and bases run in the enclosing scope: only the body is pushed.
    # A body also starts afresh with no enclosing ``try``: a handler around a ``def`` does not guard the calls
    # its body makes later.
    def _body(self, body: list[ast.stmt], scope: tuple[str, str]) -> None:
        self._push_scope(scope)
        self.statements(body)
        self._leave_body()

    def v_lambda(self, node: ast.Lambda) -> None:
        qualname = self._lambda_name(node)
        self._default_flows(node.args, qualname)
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="function",
                line=node.lineno,
                end_line=node.end_lineno or node.lineno,
                parent=self.scope,
                params=self._params(node.args),
            )
        )
        self._visit_params(node.args)
        self._push_scope((qualname, "function"))
        self._flow(self.pos(node.body), "return", None, self.tree(node.body))
        self.visit(node.body)
        self._leave_body()

    def v_global(self, node: ast.Global) -> None:
        if self.scopes and self.scopes[-1][1] == "function":
            self._globals.setdefault(self.scope, set()).update(node.names)

    # -- branches ---------------------------------------------------------------------------------------------

    def _block(self, body: list[Any]) -> None:
        """A branch: libcst visits an ``else`` that is not written too, so it takes a block number as well."""
        self._push_block()
        self.statements(body)
        self._pop_block()

    def v_if(self, node: ast.If) -> None:
        self.visit(node.test)
        self._block(node.body)
        self._block(node.orelse)

    def v_while(self, node: ast.While) -> None:
        self.visit(node.test)
        self._block(node.body)
        self._block(node.orelse)

    def v_comp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._enter_comp(node)
        self.visit(node.elt)
        self._generators(node.generators)
        self._pop_block()

    def v_dictcomp(self, node: ast.DictComp) -> None:
        self._enter_comp(node)
        self.visit(node.key)
        self.visit(node.value)
        self._generators(node.generators)
        self._pop_block()

    def _generators(self, generators: list[ast.comprehension]) -> None:
        for gen in generators:
            tag = "aiter" if gen.is_async else "iter"
            self._bind_flow(self.pos(gen.target), self.pattern(gen.target), (tag, self.tree(gen.iter)))
            self.visit(gen.target)
            self.visit(gen.iter)
            self.visit_all(gen.ifs)

    def v_ifexp(self, node: ast.IfExp) -> None:
        self.visit(node.body)
        self.visit(node.test)
        self.visit(node.orelse)

    def v_dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                self.visit(key)
            self.visit(value)

    def v_match(self, node: ast.Match) -> None:
        self.src.match_starts.add(self.src.start(node))
        self.visit(node.subject)
        for case in node.cases:
            self._push_block()
            if case.guard is not None:
                self.visit(case.guard)
            self.statements(case.body)
            self._pop_block()

    # -- imports ----------------------------------------------------------------------------------------------

    def v_import(self, node: ast.Import) -> None:
        at = self.pos(node)
        for alias in node.names:
            full = alias.name
            if alias.asname is not None:
                self.imports.append(Import(self.scope, alias.asname, full, at[0]))
                self._bind_flow(at, ("n", alias.asname), ("imp", full))
            else:
                first = full.split(".")[0]
                self.imports.append(Import(self.scope, first, first, at[0]))
                self._bind_flow(at, ("n", first), ("imp", first))

    def v_importfrom(self, node: ast.ImportFrom) -> None:
        at = self.pos(node)
        base = self._absolute(node.level or 0, node.module)
        if len(node.names) == 1 and node.names[0].name == "*":
            self.imports.append(Import(self.scope, "*", base, at[0], star=True))
            self._flow(at, "star", None, base)
            return
        for alias in node.names:
            name = alias.name
            bound = alias.asname if alias.asname is not None else name
            target = f"{base}.{name}" if base else name
            self.imports.append(Import(self.scope, bound, target, at[0]))
            self._bind_flow(at, ("n", bound), ("imp", target))

    # -- calls ------------------------------------------------------------------------------------------------

    def v_await(self, node: ast.Await) -> None:
        if type(node.value) is ast.Call:
            self._awaited.add(id(node.value))
        self.visit(node.value)

    def v_call(self, node: ast.Call) -> None:
        arguments = call_args(node)
        self._enter_call(node)
        self.visit(node.func)
        for _, _, value in arguments:
            if type(value) not in _INERT:
                self.visit(value)
        self._leave_call(node, arguments)

    def _enter_call(self, node: ast.Call) -> None:
        chain = chain_of(node.func)
        last = chain[-1] if chain else ""
        positional = [a for a in node.args if type(a) is not ast.Starred]
        if last in SPAWN_CORO and positional and type(positional[0]) is ast.Call:
            self._spawned.add(id(positional[0]))
            return
        if last in SPAWN_ALL:
            self._spawned.update(id(a) for a in positional if type(a) is ast.Call)
            return
        target: ast.expr | None = None
        rest: list[ast.expr] = []
        if (last in SPAWN_CALLABLE_ARG0 and positional) or (
            last in POOL_SUBMIT
            and positional
            and any(w in part.lower() for part in chain[:-1] for w in ("executor", "pool"))
        ):
            target, rest = positional[0], positional[1:]
        elif last in SPAWN_CALLABLE_ARG1 and len(positional) > 1:
            target, rest = positional[1], positional[2:]
        elif last == "Thread" or last == "Process":
            target = next((k.value for k in node.keywords if k.arg == "target"), None)
        if target is not None:
            fn_chain = chain_of(target)
            if fn_chain:
                line, col = self.pos(target)
                text = self.code(target)
                self.calls.append(CallSite(self.scope, line, col, fn_chain, text, StepKind.SPAWN, self._handlers()))
                tree = ("c", self.tree(target), tuple(self.tree(a) for a in rest), ())
                self._flow((line, col), "call", "spawn", tree, text)
        elif last in CALLBACK_ARG0 and len(chain) == 1:
            # map(fn, xs) calls fn: each positional argument that names a function (the resolver keeps those
            # that do, and only when ``map`` is the builtin) is a call site of its own
            for fn in positional:
                fn_chain = chain_of(fn)
                if fn_chain or type(fn) is ast.Lambda:
                    line, col = self.pos(fn)
                    text = f"{self.code(fn)} (callback)"
                    self.calls.append(CallSite(self.scope, line, col, fn_chain, text, StepKind.CALL, self._handlers()))
                    self._flow((line, col), "call", "callback", ("cb", self.tree(node.func), self.tree(fn)), text)

    def _leave_call(self, node: ast.Call, arguments: list[tuple[str, str | None, ast.expr]]) -> None:
        at = self.pos(node)
        key = id(node)
        kind = StepKind.SPAWN if key in self._spawned else StepKind.AWAIT if key in self._awaited else StepKind.CALL
        args = tuple([self.code(value) for _, _, value in arguments[:8]])
        text = self.code(node.func)
        self.calls.append(
            _new_call_site(self.scope, at[0], at[1], chain_of(node.func), text, kind, self._handlers(), args)
        )
        tree = self.tree(node)
        if tree[0] == "super":  # the call of super itself (its value is the "super" tree)
            tree = ("c", ("n", "super"), tree[1:], ())
        self._flow(at, "call", None, tree, text)

    def _implicit(self, node: ast.expr, suffix: tuple[str, ...], text: str, tag: str, awaited: bool) -> None:
        """A call the statement makes without writing it: ``__enter__`` of a ``with``, ``__iter__``..."""
        base = chain_of(node)
        chain = (*base, *suffix) if base else ()
        tree: Any = self.tree(node)
        for element in suffix:
            called = element.endswith("()")
            tree = ("a", tree, element[:-2] if called else element)
            if called:
                tree = ("c", tree, (), ())
        at = self.pos(node)
        kind = StepKind.AWAIT if awaited else StepKind.CALL
        self.calls.append(_new_call_site(self.scope, at[0], at[1], chain, text, kind, self._handlers()))
        self._flow(at, "call", tag, ("c", tree, (), ()), text)

    # -- with and for -----------------------------------------------------------------------------------------

    def v_with(self, node: ast.With | ast.AsyncWith) -> None:
        line = node.lineno
        for item in node.items:
            if item.optional_vars is not None:
                self._bind(item.optional_vars, None, line)
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        is_async = type(node) is ast.AsyncWith
        prefix = "async with " if is_async else "with "
        for item in node.items:
            name = "__aenter__" if is_async else "__enter__"
            text = self.code(item.context_expr, with_item=True)
            self._implicit(item.context_expr, (name,), prefix + text, "enter", is_async)
            if item.optional_vars is not None:
                self._bind_flow(
                    self.pos(item.optional_vars),
                    self.pattern(item.optional_vars),
                    ("aenter" if is_async else "enter", self.tree(item.context_expr)),
                )
        self.statements(node.body)
        for item in reversed(node.items):
            name = "__aexit__" if is_async else "__exit__"
            text = self.code(item.context_expr, with_item=True)
            self._implicit(item.context_expr, (name,), f"{prefix}{text} (exit)", "exit", is_async)

    def v_for(self, node: ast.For | ast.AsyncFor) -> None:
        self._bind(node.target, None, node.lineno)
        self.visit(node.target)
        self.visit(node.iter)
        is_async = type(node) is ast.AsyncFor
        prefix = "async for in " if is_async else "for in "
        text = prefix + self.code(node.iter)
        first, then = ("__aiter__", "__anext__") if is_async else ("__iter__", "__next__")
        self._implicit(node.iter, (first,), text, "iter", False)
        self._implicit(node.iter, (f"{first}()", then), f"{text} (next)", "next", is_async)
        self._push_block()
        tag = "aiter" if is_async else "iter"
        self._bind_flow(self.pos(node.target), self.pattern(node.target), (tag, self.tree(node.iter)))
        self.statements(node.body)
        self._pop_block()
        self._block(node.orelse)

    # -- error paths ------------------------------------------------------------------------------------------

    def v_try(self, node: Any) -> None:
        star = type(node) is not ast.Try
        self.handlers.append(tuple(self.code(h.type) if h.type is not None else "BaseException" for h in node.handlers))
        self._push_block()
        self.statements(node.body)
        self.handlers.pop()
        self._pop_block()
        for handler in node.handlers:
            self._push_block()
            if not star and handler.name is not None and handler.type is not None:
                annotation = self.code(handler.type)
                self.bindings.append(Binding(self.scope, handler.name, handler.lineno, annotation=annotation))
                name_at = self.src.next_sig(*self.src.span(handler.type)[1])  # "as"
                assert name_at is not None
                name_at = self.src.next_sig(name_at[0], name_at[1] + 2)
                assert name_at is not None
                self._bind_flow(name_at, ("n", handler.name), None, annotation)
            if handler.type is not None:
                self.visit(handler.type)
            self.statements(handler.body)
            self._pop_block()
        if star:
            self.statements(node.orelse)
        else:
            self._block(node.orelse)
        self.statements(node.finalbody)

    def v_raise(self, node: ast.Raise) -> None:
        at = self.pos(node)
        text = self.code(node.exc) if node.exc is not None else "(re-raise)"
        self.raises.append(RaiseSite(self.scope, at[0], at[1], text))
        if node.exc is not None:
            self._flow(at, "raise", None, self.tree(node.exc))
        self.generic(node)

    # -- returns and yields -----------------------------------------------------------------------------------

    def v_return(self, node: ast.Return) -> None:
        if node.value is not None:
            self._flow(self.pos(node), "return", None, self.tree(node.value))
            self.visit(node.value)

    def v_yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        at = self.pos(node)
        if type(node) is ast.YieldFrom:
            self._flow(at, "yield", None, ("iter", self.tree(node.value)))
        elif node.value is not None:
            self._flow(at, "yield", None, self.tree(node.value))
        else:
            self._flow(at, "yield", None, ("k", None))
        if node.value is not None:
            self.visit(node.value)

    # -- bindings ---------------------------------------------------------------------------------------------

    @staticmethod
    def _target_name(target: Any) -> str | None:
        t = type(target)
        if t is ast.Name:
            return target.id
        if t is ast.Attribute and type(target.value) is ast.Name and target.value.id in ("self", "cls"):
            return f"self.{target.attr}"
        return None

    def _bind(self, target: Any, value: Any, line: int) -> None:
        """Record what ``target`` is bound to: a chain when ``value`` is one, otherwise an opaque binding
        (the name is local and its type unknown, so it shadows outer names). ``= None`` records nothing."""
        t = type(target)
        if t is ast.Tuple or t is ast.List:
            for element in target.elts:
                self._bind(element.value if type(element) is ast.Starred else element, None, line)
            return
        name = self._target_name(target)
        if name is None:
            return
        if type(value) is ast.Constant and value.value is None:
            return
        chain = chain_of(value) if value is not None else ()
        self.bindings.append(_new_binding(self.scope, name, line, value=chain))

    def v_assign(self, node: ast.Assign) -> None:
        line = node.lineno
        value = self.tree(node.value)
        for target in node.targets:
            self._bind_flow(self.pos(target), self.pattern(target), value)
        recorded = False
        if len(node.targets) == 1:
            name = self._target_name(node.targets[0])
            if name == "__all__" and not self.scopes:
                self._record_all(node.value)
                recorded = True
        if not recorded:
            for target in node.targets:
                self._bind(target, node.value if len(node.targets) == 1 else None, line)
        self.visit_all(node.targets)
        self.visit(node.value)

    def v_namedexpr(self, node: ast.NamedExpr) -> None:
        self._bind(node.target, node.value, node.lineno)
        self._bind_flow(self.pos(node.target), self.pattern(node.target), self.tree(node.value))
        self.visit(node.target)
        self.visit(node.value)

    def v_annassign(self, node: ast.AnnAssign) -> None:
        annotation = self.code(node.annotation)
        value_tree = self.tree(node.value) if node.value is not None else None
        self._bind_flow(self.pos(node.target), self.pattern(node.target), value_tree, annotation)
        name = self._target_name(node.target)
        if name is not None:
            value = chain_of(node.value) if node.value is not None else ()
            self.bindings.append(_new_binding(self.scope, name, node.lineno, value=value, annotation=annotation))
        self.visit(node.target)
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)

    def _record_all(self, value: Any) -> None:
        if type(value) is ast.List or type(value) is ast.Tuple:
            names = []
            for element in value.elts:
                if not (type(element) is ast.Constant and type(element.value) is str):
                    return
                if not _single_string(self.src.text(self.src.start(element), self.src.end(element))):
                    return  # libcst: an implicit concatenation is not a plain string
                names.append(element.value)
            self.all_names = tuple(names)


def facts_from_tree(tree: ast.Module, source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """Facts of a module :mod:`ast` parsed from ``source`` (raises RecursionError when nested too deep)."""
    visitor = _AstFacts(_Source(source), module, is_package)
    visitor.statements(tree.body)
    return visitor.file_facts(path, module)


def parse_python(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """Facts for one Python file; a syntax error yields facts with ``error`` set and nothing else.

    A file the running interpreter's grammar cannot parse goes to the libcst frontend when
    :func:`.guard.libcst_precheck` allows it (newer grammar than the interpreter's). Runs with the cyclic
    garbage collector paused (see :func:`.guard.paused_gc`)."""
    with paused_gc():
        return _parse_python(source, path, module, is_package)


def _parse_python(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    parsed = python_parse(source)
    if parsed.tree is None:
        if parsed.newer_grammar and libcst_precheck(source) is None:
            from .python import parse_python_cst  # imported on demand: libcst costs 0.1 s to import

            facts = parse_python_cst(source, path, module, is_package)
            if facts.error is None:
                return facts
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error=parsed.error)
    try:
        return facts_from_tree(parsed.tree, source, path, module, is_package)
    except RecursionError:
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error="nesting too deep to analyse")
    except Exception:  # a construct this frontend misreads (a bug): never fail the build over it, since
        from .python import parse_python_cst  # the libcst frontend gives the same facts (slower)

        return parse_python_cst(source, path, module, is_package)
