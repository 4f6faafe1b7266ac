"""A function walked into before is walked again where more depth remains than where the depth limit cut it
(issue 9, gap 16), on tests/fixtures/pyrepo/src/shipyard/depths.py; the walk again for other message classes
is tested with the hand-offs (tests/test_handoff.py)."""

from __future__ import annotations

import json

from helpers import run_trace

AGAIN = "expanded again: the depth limit cut it before"


def rows(t) -> list[tuple[int, int, str, bool, str]]:
    return [(s.n, s.depth, s.callee.name.removeprefix("shipyard.depths."), s.entered, s.note) for s in t.steps]


def test_a_function_cut_by_the_depth_limit_is_walked_again_with_more_depth() -> None:
    """``helper`` is first reached at depth 3 (its ``middle`` is cut at depth 4), then called from the entry:
    walked again, it reaches ``leaf``. ``inner`` (first at depth 2, cut below) is walked again at depth 1, and
    there its ``helper`` names the complete walk; ``outer`` at the same depth as before names its first walk."""
    t = run_trace("shipyard.depths.entry", depth="4")
    assert rows(t) == [
        (1, 1, "outer", True, ""),
        (2, 2, "inner", True, ""),
        (3, 3, "helper", True, ""),
        (4, 4, "middle", False, "depth limit"),
        (5, 1, "helper", True, AGAIN),
        (6, 2, "middle", True, ""),
        (7, 3, "leaf", True, ""),
        (8, 1, "inner", True, AGAIN),
        (9, 2, "helper", False, "expanded at step 5"),
        (10, 1, "outer", False, "expanded at step 1"),
    ]


def test_nothing_is_walked_again_when_the_depth_limit_cut_nothing() -> None:
    t = run_trace("shipyard.depths.entry", depth="6")
    assert [s.note for s in t.steps if s.note] == [
        "expanded at step 3",
        "expanded at step 2",
        "expanded at step 1",
    ]
    assert not any(s.note.startswith("expanded again") for s in t.steps)


def test_walking_again_is_deterministic_and_bounded() -> None:
    first = json.dumps(run_trace("shipyard.depths.entry", depth="4").to_json())
    assert first == json.dumps(run_trace("shipyard.depths.entry", depth="4").to_json())
    for depth in range(1, 8):  # each function is walked at most once per depth it could show more at
        t = run_trace("shipyard.depths.entry", depth=str(depth))
        assert len(t.steps) <= 4 * depth + 4


def test_a_function_cut_by_a_recursion_is_walked_again_where_the_recursion_is_not_on_the_stack() -> None:
    """``finish`` is first walked under ``chunk`` (its call of ``chunk`` is a recursion there); called from
    ``loop`` it is walked again and names ``chunk``'s complete walk; a third call names the second walk."""
    t = run_trace("shipyard.depths.loop")
    assert rows(t) == [
        (1, 1, "chunk", True, ""),
        (2, 2, "finish", True, ""),
        (3, 3, "chunk", False, "recursion"),
        (4, 2, "leaf", True, ""),
        (5, 1, "finish", True, "expanded again: a recursion cut it before"),
        (6, 2, "chunk", False, "expanded at step 1"),
        (7, 1, "finish", False, "expanded at step 5"),
    ]
