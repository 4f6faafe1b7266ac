"""Guards that run before a frontend sees a file, so no input can crash or hang the build.

libcst's native parser overflows its stack on pathological nesting (10,000 nested brackets end the process
with a segmentation fault) and its Python visitors recurse once per nesting level (a generated expression of
100,000 chained ``+`` runs for minutes before failing). CPython's own parser refuses those inputs quickly and
safely, so :func:`python_parse` parses with :mod:`ast` first, measures the tree's depth without recursion,
and refuses a file nested deeper than :data:`MAX_PYTHON_DEPTH`. With the per-file size cap of the workspace
this bounds the time any Python file can take. The tree it returns is the one the :mod:`ast` frontend reads
(:mod:`.python_ast`), so a file is parsed once.

A file :mod:`ast` rejects with a plain syntax error (not a refusal) may use grammar newer than the running
interpreter's, which libcst's parser knows: :func:`libcst_precheck` bounds its nesting from tokens before
the libcst frontend may try it.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
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
    depth = tree_depth(tree, MAX_PYTHON_DEPTH)
    if depth > MAX_PYTHON_DEPTH:
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
