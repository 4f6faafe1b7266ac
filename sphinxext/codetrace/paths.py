"""``:paths-only:``: the spine of a long flow, the calls on some path from the entry to a stop point.

pyan's ``--paths-from``/``--paths-to``, applied to one trace: a pure filter over the steps of a finished
walk, so the walk itself stays simple. Steps nest the way the walk recorded them: a step's children are the
steps recorded while walking into it (the deeper steps that follow it, up to the next step at its depth or
above). A step is on a path when it is a stop point (note ``stop``: it matched ``:stop-at:``) or one of its
children is; a dispatch step when one of its candidates is (``candidate_of``); a call noted ``expanded at
step N`` when step N is (the same function, whose calls are listed once). A bridge step is a step like any
other: the walk into its target nests under it, so a path goes on through it.

Mode ``""`` keeps the steps on a path. Mode ``"+1"`` also keeps the other steps made directly by a function
on a path (the entry, or the callee of a kept step the walk entered): its other calls, candidates and
raises, one level off the path, without their own calls (one the walk had entered is marked ``off path``).
Kept steps are renumbered from 1, and ``candidate_of`` and ``expanded at step N`` follow the new numbers
(``expanded off the path`` when step N is not kept with its calls). When no stop point was reached, the trace
is kept whole and a warning says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from .diagnostics import Diagnostic
from .model import Step

#: ``:paths-only:`` modes: the paths alone, or with the calls one level off them.
SPINE, PLUS_ONE = "", "+1"
_EXPANDED = re.compile(r"^expanded at step (\d+)$")


def _parents(steps: Sequence[Step]) -> list[int]:
    """For each step, the index of the step it was recorded under (-1: the entry)."""
    parents: list[int] = []
    open_at: list[int] = []
    for i, step in enumerate(steps):
        while open_at and steps[open_at[-1]].depth >= step.depth:
            open_at.pop()
        parents.append(open_at[-1] if open_at else -1)
        open_at.append(i)
    return parents


def on_paths(steps: Sequence[Step]) -> list[bool]:
    """For each step, whether it lies on a path from the entry to a stop point (see the module docstring)."""
    parents = _parents(steps)
    index_of = {step.n: i for i, step in enumerate(steps)}
    on = [False] * len(steps)

    def mark(i: int) -> None:
        while i >= 0 and not on[i]:
            on[i] = True
            dispatch = index_of.get(steps[i].candidate_of) if steps[i].candidate_of else None
            if dispatch is not None:
                on[dispatch] = True  # its parent is the candidate's: marked on the next turn
            i = parents[i]

    for i, step in enumerate(steps):
        if step.note == "stop":
            mark(i)
    if not any(on):
        return on
    for i, step in enumerate(steps):  # forward: step N comes first and is final by the time it is referred to
        m = _EXPANDED.match(step.note)
        if m and not on[i]:
            earlier = index_of.get(int(m.group(1)))  # None for step 0, the entry: always on a path
            if earlier is None or on[earlier]:
                mark(i)
    return on


def keep_paths(steps: Sequence[Step], mode: str = SPINE) -> list[Step] | None:
    """The steps ``:paths-only:`` keeps, renumbered; None when no step is a stop point."""
    on = on_paths(steps)
    if not any(on):
        return None
    parents = _parents(steps)

    def on_spine_function(parent: int) -> bool:
        return parent < 0 or (on[parent] and steps[parent].entered)

    keep = [on[i] or (mode == PLUS_ONE and on_spine_function(parents[i])) for i in range(len(steps))]
    index_of = {step.n: i for i, step in enumerate(steps)}
    numbers: dict[int, int] = {0: 0}  # old step number -> new one (0: the entry)
    for i, step in enumerate(steps):
        if keep[i]:
            numbers[step.n] = len(numbers)
    kept: list[Step] = []
    for i, step in enumerate(steps):
        if not keep[i]:
            continue
        note, entered = step.note, step.entered
        m = _EXPANDED.match(note)
        if m:
            old = int(m.group(1))
            shown = old == 0 or (old in numbers and on[index_of[old]])  # kept with its calls
            note = f"expanded at step {numbers[old]}" if shown else "expanded off the path"
        if entered and not on[i]:  # one level off the path: its own calls are left out
            entered, note = False, "off path"
        kept.append(
            replace(
                step,
                n=numbers[step.n],
                note=note,
                entered=entered,
                candidate_of=numbers.get(step.candidate_of, 0) if step.candidate_of else 0,
            )
        )
    return kept


def paths_only(steps: Sequence[Step], mode: str, truncated: bool = False) -> tuple[list[Step], list[Diagnostic]]:
    """Apply ``:paths-only:`` (``mode`` ``""`` or ``"+1"``): the kept steps, or every step and a ``drift``
    warning when no stop point was reached."""
    kept = keep_paths(steps, mode)
    if kept is not None:
        return kept, []
    message = ":paths-only: no step reached a :stop-at: point, so the whole trace is shown"
    if truncated:
        message += " (the trace was truncated first)"
    hint = "check :stop-at: against the step table (a pattern matches a qualified name, a glob, a prefix or a suffix)"
    return list(steps), [Diagnostic("drift", message, hint + "; or raise :depth:")]


__all__ = ["PLUS_ONE", "SPINE", "keep_paths", "on_paths", "paths_only"]
