"""Hostile input: pathological source must end with a warning, quickly, never a crash or a hang.

Each case ran in a subprocess before the guard existed: 10,000 nested brackets killed the process with a
segmentation fault inside libcst, and 100,000 chained ``+`` ran for over a minute.
"""

from __future__ import annotations

import time

import pytest

from sphinxext.codetrace.index.python import parse_python

N = 10_000


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("x = " + "(" * N + "1" + ")" * N + "\n", "too many nested parentheses"),
        ("x = " + "[" * N + "]" * N + "\n", "too many nested parentheses"),
        (
            "def f():\n" + "".join("    " * i + "if x:\n" for i in range(1, 300)) + "    " * 300 + "g()\n",
            "too many levels of indentation",
        ),
        ("x = 1" + " + 1" * 100_000 + "\n", "nesting too deep to analyse safely"),
        ("x = f(" * 150 + ")" * 150 + "\n" + "y = 1" + " + 1" * 400 + "\n", "nesting too deep"),
        ("def f(:\n", "syntax error at line 1"),
        ("a = 1\x00\n", "null bytes"),
    ],
    ids=["parens", "brackets", "indentation", "binop-chain", "deep-mix", "syntax", "null-byte"],
)
def test_pathological_python_is_refused_quickly(source: str, error: str) -> None:
    start = time.perf_counter()
    facts = parse_python(source, "gen.py", "gen", False)
    assert facts.error is not None and error in facts.error
    assert facts.definitions == () and facts.calls == ()
    assert time.perf_counter() - start < 5


def test_ordinary_nesting_is_still_analysed() -> None:
    source = "def f():\n    return g(" + "h(" * 40 + "1" + ")" * 40 + ")\n"
    facts = parse_python(source, "ok.py", "ok", False)
    assert facts.error is None
    assert len(facts.calls) == 41
