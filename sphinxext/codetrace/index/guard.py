"""Guards that run before a frontend sees a file, so no input can crash or hang the build.

libcst's native parser overflows its stack on pathological nesting (10,000 nested brackets end the process
with a segmentation fault) and its Python visitors recurse once per nesting level (a generated expression of
100,000 chained ``+`` runs for minutes before failing). CPython's own parser refuses those inputs quickly and
safely, so :func:`python_parse` parses with :mod:`ast` first, checks the tree's depth without recursion
(:func:`deeper_than`, which reads most of it off the length of the text), and refuses a file nested deeper
than :data:`MAX_PYTHON_DEPTH`. With the per-file size cap of the workspace this bounds the time any Python
file can take. The tree it returns is the one the :mod:`ast` frontend reads (:mod:`.python_ast`), so a file
is parsed once.

A file :mod:`ast` rejects with a plain syntax error (not a refusal) may use grammar newer than the running
interpreter's, which libcst's parser knows: :func:`libcst_precheck` bounds its nesting from tokens before
the libcst frontend may try it.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import io
import tokenize
import warnings
from collections.abc import Iterator
from itertools import accumulate
from typing import NamedTuple

#: Deepest syntax tree handed to a frontend; ordinary code stays under 60, libcst fails near 500.
MAX_PYTHON_DEPTH = 250
#: Limits for a file only libcst may parse: bracket depth and indentation levels (CPython's own limits are
#: 200 and 100), and operators in one statement (libcst's parser crashed past 3,000 nested ``lambda`` or
#: ``**``, and takes minutes on 10,000 chained conditional expressions).
MAX_LIBCST_BRACKETS = 100
MAX_LIBCST_INDENT = 100
MAX_LIBCST_OPERATORS = 1000
_NOT_NESTING = frozenset({",", ".", ":", ";", "=", "->", "@", "...", "(", ")", "[", "]", "{", "}"})


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic cyclic garbage collection inside the block (restored after it, unless it was off).

    Parsing a file allocates a syntax tree and facts by the hundred thousand, none of them in a reference
    cycle (a tree is freed by reference counting), yet every 700 allocations start a collection, and each
    time the survivors have grown by a quarter a full one, which walks every object the process holds: a
    quarter of a cold trace's time went there. A pass that allocates much and creates no cycles runs inside
    this block instead. (The switch is the process's: a thread that turns collection off meanwhile finds it
    on again after the block.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def rare_full_collections() -> Iterator[None]:
    """Inside the block, the collector's full passes (over every object of the process) wait for a thousand
    young-generation passes instead of ten; the young generations are collected as usual, so the short-lived
    cycles a resolver makes are still freed. A trace builds a heap of facts and answers that lives as long as
    the engine: a full pass over it freed nothing and cost 1.5 s of a cold trace of the inference-request
    flow (12.0 -> 9.8 s CPU, peak memory unchanged). The thresholds are restored after the block."""
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], max(before[2], 1000))
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Parsed(NamedTuple):
    """The outcome of :func:`python_parse`: a tree, or why there is none."""

    tree: ast.Module | None
    error: str | None = None
    #: the error is a plain syntax error (not a refusal), so newer grammar may explain it
    newer_grammar: bool = False


def tree_depth(tree: ast.AST, limit: int) -> int:
    """Depth of ``tree`` (iteratively, so it cannot recurse); stops counting once past ``limit``."""
    deepest = 0
    stack = [(tree, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        depth += 1
        for name in node._fields:  # ast.iter_child_nodes, without its two generators (3x faster)
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                push((value, depth))
            elif type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        push((item, depth))
    return deepest


#: Levels a node may hold beyond one per byte of its text (see :func:`deeper_than`): the ``Load``/``Store`` or
#: operator leaf under the last one, an expression statement and a ``case`` value, each as long as what it
#: holds; doubled for safety.
_SPAN_SLACK = 8
_DECORATED = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def deeper_than(tree: ast.Module, source: str, limit: int) -> bool:
    """Whether ``tree``, parsed from ``source``, is deeper than ``limit``: ``tree_depth(tree, limit) > limit``,
    without walking most of the tree.

    A node is never deeper than its text is long: every node in it but a few owns text its child does not
    (``-x`` holds ``x``, ``a + b`` holds ``a``, ``f(x)`` holds ``f``, ``[x for x in y]`` holds ``for x in y``
    which holds ``y``), so along any path down from a node of ``n`` bytes the text shrinks by one byte or
    more at each step, and the few exceptions (the leaves ``Load`` and ``Add``, an expression statement,
    a ``case`` value: each holds text as long as its own) are bounded by :data:`_SPAN_SLACK`. So a child
    whose text is short enough for its depth is not entered; only nodes holding long text are (a class, a
    long function, a call spread over many lines), and what is really deep (a chain of 100,000 ``+``) is
    long. The text's length is read from the positions CPython gives, exact for every node but the parts of
    an f-string before Python 3.12; so an f-string is measured, not bounded, once entered. A decorated
    ``def`` or ``class`` is always entered: its position starts after its decorators."""
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")  # CPython's own line breaks
    # offset (in UTF-8 bytes, as the columns are) where each line starts: starts[line], 1-based
    starts = [0, 0]
    starts.extend(accumulate(len(line) + 1 for line in source.encode("utf-8", "surrogatepass").split(b"\n")))
    last = len(starts) - 1
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return True
        if type(node) is ast.JoinedStr:
            if tree_depth(node, limit - depth + 1) > limit - depth + 1:
                return True
            continue
        depth += 1
        room = limit - depth - _SPAN_SLACK  # a child of at most this many bytes cannot reach past the limit
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                children = value
            elif isinstance(value, ast.AST):
                children = [value]
            else:
                continue
            for item in children:
                if not isinstance(item, ast.AST):
                    continue
                end = getattr(item, "end_lineno", None)
                if (
                    end is None  # no position: ``arguments``, a comprehension's ``for``, ``Load``...
                    or end > last
                    or starts[end] + item.end_col_offset - starts[item.lineno] - item.col_offset > room
                    or (type(item) in _DECORATED and item.decorator_list)  # decorators precede the position
                ):
                    push((item, depth))
    return False


def python_parse(source: str) -> Parsed:
    """``source`` parsed by :mod:`ast`, or why it must not reach a frontend (a syntax error, nesting too deep)."""
    try:
        with warnings.catch_warnings():  # invalid escapes and the like in someone else's code are not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except RecursionError:
        return Parsed(None, f"nesting too deep to analyse safely (over {MAX_PYTHON_DEPTH} levels)")
    except MemoryError:
        return Parsed(None, "too large to parse")
    except SyntaxError as exc:
        if "too many" in (exc.msg or ""):  # "too many nested parentheses", "too many levels of indentation"
            return Parsed(None, f"{exc.msg} at line {exc.lineno}; not analysed")
        return Parsed(None, f"syntax error at line {exc.lineno}: {exc.msg}", newer_grammar=True)
    except ValueError as exc:  # source code string cannot contain null bytes
        return Parsed(None, f"not Python source: {exc}")
    if deeper_than(tree, source, MAX_PYTHON_DEPTH):
        return Parsed(None, f"nesting too deep to analyse safely (over {MAX_PYTHON_DEPTH} levels)")
    return Parsed(tree)


def python_precheck(source: str) -> str | None:
    """Why ``source`` must not reach libcst (a syntax error, or nesting too deep), or None when it may."""
    return python_parse(source).error


def _fstring_depth(text: str) -> int:
    """Deepest bracket nesting inside an f-string token, counted on characters (an upper bound)."""
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}" and depth:
            depth -= 1
    return deepest


def libcst_precheck(source: str) -> str | None:
    """Why ``source``, which :mod:`ast` could not parse, must not reach libcst either, or None when it may:
    its tokens must tokenize and stay within :data:`MAX_LIBCST_BRACKETS` nested brackets (inside f-strings
    too), :data:`MAX_LIBCST_INDENT` indentation levels and :data:`MAX_LIBCST_OPERATORS` operators and keywords
    per statement."""
    brackets = indent = operators = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = tok.type, tok.string
            if kind == tokenize.OP:
                if text in "([{":
                    brackets += 1
                    if brackets > MAX_LIBCST_BRACKETS:
                        return f"brackets nested over {MAX_LIBCST_BRACKETS} levels at line {tok.start[0]}"
                elif text in ")]}":
                    brackets = max(brackets - 1, 0)
                elif text not in _NOT_NESTING:
                    operators += 1
            elif kind == tokenize.NAME and text in ("not", "and", "or", "if", "else", "lambda", "await", "yield"):
                operators += 1
            elif kind == tokenize.STRING and text.lstrip("rRbBuU")[:1] in ("f", "F"):
                if brackets + _fstring_depth(text) > MAX_LIBCST_BRACKETS:
                    return f"brackets nested over {MAX_LIBCST_BRACKETS} levels at line {tok.start[0]}"
            elif kind == tokenize.INDENT:
                indent += 1
                if indent > MAX_LIBCST_INDENT:
                    return f"over {MAX_LIBCST_INDENT} levels of indentation at line {tok.start[0]}"
            elif kind == tokenize.DEDENT:
                indent -= 1
            elif kind == tokenize.NEWLINE:
                operators = 0
            if operators > MAX_LIBCST_OPERATORS:
                return f"over {MAX_LIBCST_OPERATORS} operators in the statement at line {tok.start[0]}"
    except (tokenize.TokenError, SyntaxError) as exc:  # IndentationError is a SyntaxError
        return f"cannot tokenize: {exc}"
    return None
