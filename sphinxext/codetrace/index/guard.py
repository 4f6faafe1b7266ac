"""Guards that run before a frontend sees a file, so no input can crash or hang the build.

libcst's native parser overflows its stack on pathological nesting (10,000 nested brackets end the process
with a segmentation fault) and its Python visitors recurse once per nesting level (a generated expression of
100,000 chained ``+`` runs for minutes before failing). CPython's own parser refuses those inputs quickly and
safely, so :func:`python_precheck` parses with :mod:`ast` first (about 3% of libcst's cost), measures the
tree's depth without recursion, and refuses a file nested deeper than :data:`MAX_PYTHON_DEPTH`. With the
per-file size cap of the workspace this bounds the time any Python file can take.
"""

from __future__ import annotations

import ast

#: Deepest syntax tree handed to libcst; ordinary code stays under 60, libcst fails near 500.
MAX_PYTHON_DEPTH = 250


def tree_depth(tree: ast.AST, limit: int) -> int:
    """Depth of ``tree`` (iteratively, so it cannot recurse); stops counting once past ``limit``."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def python_precheck(source: str) -> str | None:
    """Why ``source`` must not reach libcst (a syntax error, or nesting too deep), or None when it may."""
    try:
        tree = ast.parse(source)
    except RecursionError:
        return f"nesting too deep to analyse safely (over {MAX_PYTHON_DEPTH} levels)"
    except MemoryError:
        return "too large to parse"
    except SyntaxError as exc:
        if "too many" in (exc.msg or ""):  # "too many nested parentheses", "too many levels of indentation"
            return f"{exc.msg} at line {exc.lineno}; not analysed"
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # source code string cannot contain null bytes
        return f"not Python source: {exc}"
    depth = tree_depth(tree, MAX_PYTHON_DEPTH)
    if depth > MAX_PYTHON_DEPTH:
        return f"nesting too deep to analyse safely (over {MAX_PYTHON_DEPTH} levels)"
    return None
