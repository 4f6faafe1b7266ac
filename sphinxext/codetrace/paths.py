"""``:paths-only:``: the spine of a long flow, the calls on some path from the entry to a stop point.

pyan's ``--paths-from``/``--paths-to``, applied to one trace: a pure filter over the steps of a finished
walk, so the walk itself stays simple. Steps nest the way the walk recorded them: a step's children are the
steps recorded while walking into it (the deeper steps that follow it, up to the next step at its depth or
above). A step is on a path when it is a stop point (note ``stop``: it matched ``:stop-at:``) or one of its
children is; a dispatch step when one of its candidates is (``candidate_of``); a call noted ``expanded at
step N`` when step N is (the same function, whose calls are listed once). A bridge that fired (a step of
kind ``bridge``) is an end of a path too: the hop the flow spec declared is where the flow goes on, so the
path to it is kept even when its far side reaches no stop point (then the bridge is the last step kept on
that path); the walk into its target nests under it, so a stop point there keeps the path through it. A
consumer loop the walk resumed at after a ``queue`` hand-off (its first step noted ``consumer loop``, then
the loop's later calls, beside the hand-off) goes on from the hand-off: when one of its steps is on a path,
so are its first step and the ``queue`` step that led there; a loop noted ``resumed at step N`` (met again,
not walked twice) is on a path, with the hand-off that led there, when step N is.

A call whose value the path goes on with is kept too (without its own calls): the data at each stage. That
is a call, made by a function on a path before one of that function's calls on the path, whose result that
later call uses, directly (``publish(take_events())``) or through local assignments in between (``events =
take_events()``; ``batch = Batch(events)``; ``publish(batch)``). This reads the two call sites' source lines
(:func:`source_feeds`); it decides only which of the steps the walk found are shown, never what a call
resolves to.

Mode ``""`` keeps the steps on a path. Mode ``"+1"`` also keeps the other steps made directly by a function
on a path (the entry, or the callee of a kept step the walk entered): its other calls, candidates and
raises, one level off the path, without their own calls (one the walk had entered is marked ``off path``).
Kept steps are renumbered from 1, and ``candidate_of`` and ``expanded at step N`` follow the new numbers
(``expanded off the path`` when step N is not kept with its calls). When no stop point was reached, a
warning says so, and the trace is kept whole unless a bridge fired (then the paths to the bridges are kept).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from .diagnostics import Diagnostic
from .model import Step, StepKind

#: ``:paths-only:`` modes: the paths alone, or with the calls one level off them.
SPINE, PLUS_ONE = "", "+1"
_EXPANDED = re.compile(r"^expanded at step (\d+)$")
_RESUMED = re.compile(r"; resumed at step (\d+)$")


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


#: ``feeds(earlier, later)``: whether the value of the call of step ``earlier`` is used by the call of step
#: ``later``, both made by the same function (see :func:`source_feeds`).
Feeds = Callable[[Step, Step], bool]


def on_paths(steps: Sequence[Step], feeds: Feeds | None = None) -> list[bool]:
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
        if step.note == "stop" or step.kind is StepKind.BRIDGE:
            mark(i)
    if not any(on):
        return on
    loops = _resumed_loops(steps)
    changed = True
    while changed:  # a loop found on a path puts its hand-off on it, which may put earlier steps on it
        changed = False
        for i, step in enumerate(steps):  # forward: step N comes first, and is final unless a loop adds to it
            m = _EXPANDED.match(step.note)
            if m and not on[i]:
                earlier = index_of.get(int(m.group(1)))  # None for step 0, the entry: always on a path
                if earlier is None or on[earlier]:
                    mark(i)
                    changed = True
        for loop, members, handoffs in loops:
            if on[loop]:
                continue
            again = _RESUMED.search(steps[loop].note)
            earlier = index_of.get(int(again.group(1))) if again else None
            if any(on[j] for j in members) or (earlier is not None and on[earlier]):
                mark(loop)
                for h in handoffs:
                    mark(h)
                changed = True
    if feeds is not None:
        _mark_feeding(steps, parents, on, feeds)
    return on


def _mark_feeding(steps: Sequence[Step], parents: list[int], on: list[bool], feeds: Feeds) -> None:
    """Put on the path the calls whose value a later call on the path uses (siblings: the same function)."""
    siblings: dict[int, list[int]] = {}
    for i, parent in enumerate(parents):
        siblings.setdefault(parent, []).append(i)
    for parent, members in siblings.items():
        if parent >= 0 and not on[parent]:
            continue
        on_path = [j for j in members if on[j] and steps[j].kind is not StepKind.RAISE]
        for i in members:
            step = steps[i]
            if on[i] or step.kind is StepKind.RAISE or step.candidate_of:
                continue
            if any(steps[j].site.line >= step.site.line and j > i and feeds(step, steps[j]) for j in on_path):
                on[i] = True
                for k in members:  # a dispatch's candidates are its value too
                    if steps[k].candidate_of == step.n:
                        on[k] = True


def _resumed_loops(steps: Sequence[Step]) -> list[tuple[int, list[int], list[int]]]:
    """The consumer loops the walk resumed at: ``(index of the loop's first step, indices of the steps that
    follow from it, indices of the queue steps that led there)``. The loop's steps sit at the hand-off's depth
    (the chain below its first step deeper): its later calls are the next steps at that depth made by the
    loop's function; the hand-off is the ``queue`` step before them at that depth whose consumer the chain
    reaches (else the nearest one)."""
    out: list[tuple[int, list[int], list[int]]] = []
    for i, step in enumerate(steps):
        if not step.note.startswith("consumer loop"):
            continue
        depth, loop = step.depth, step.caller
        members = [i]
        j = i + 1
        while j < len(steps) and (
            steps[j].depth > depth
            or (steps[j].depth == depth and steps[j].caller == loop and not steps[j].note.startswith("consumer loop"))
        ):
            members.append(j)
            j += 1
        reached = {steps[m].callee for m in members if steps[m].depth > depth and steps[m].callee is not None}
        queues: list[int] = []
        k = i - 1
        while k >= 0 and steps[k].depth >= depth:
            if steps[k].depth == depth and steps[k].kind is StepKind.QUEUE:
                queues.append(k)
            k -= 1
        handoffs = [q for q in queues if steps[q].callee in reached] or queues[:1]
        out.append((i, members, handoffs))
    return out


def keep_paths(steps: Sequence[Step], mode: str = SPINE, feeds: Feeds | None = None) -> list[Step] | None:
    """The steps ``:paths-only:`` keeps, renumbered; None when no step is a stop point or a bridge."""
    on = on_paths(steps, feeds)
    if not any(on):
        return None
    fed = {i for i, (a, b) in enumerate(zip(on, on_paths(steps), strict=True)) if a and not b} if feeds else set()
    parents = _parents(steps)

    def on_spine_function(parent: int) -> bool:
        return parent < 0 or (on[parent] and steps[parent].entered)

    keep = [on[i] or (mode == PLUS_ONE and on_spine_function(parents[i])) for i in range(len(steps))]
    index_of = {step.n: i for i, step in enumerate(steps)}
    numbers: dict[int, int] = {0: 0}  # old step number -> new one (0: the entry)
    for i, step in enumerate(steps):
        if keep[i]:
            numbers[step.n] = len(numbers)
    shown_below = {parents[i] for i in range(len(steps)) if keep[i]}
    kept: list[Step] = []
    for i, step in enumerate(steps):
        if not keep[i]:
            continue
        note, entered = step.note, step.entered
        if i in fed:  # its value goes on along the path; its own calls do not lead there
            entered, note = False, "its value is used on the path" if step.entered else note
        elif entered and on[i] and i not in shown_below:  # a path's last step: a bridge, or a hand-off
            entered = False  # whose consumer loop goes on to the stop point
            note = (
                "its far side reaches no stop point" if step.kind is StepKind.BRIDGE else "its calls are off the path"
            )
        m = _EXPANDED.match(note)
        if m:
            old = int(m.group(1))
            shown = old == 0 or (old in numbers and on[index_of[old]] and index_of[old] in shown_below)
            note = f"expanded at step {numbers[old]}" if shown else "expanded off the path"  # kept with its calls?
        again = _RESUMED.search(note)
        if again:
            old = int(again.group(1))
            where = f"; resumed at step {numbers[old]}" if old in numbers else "; resumed off the path"
            note = note[: again.start()] + where
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


def paths_only(
    steps: Sequence[Step], mode: str, truncated: bool = False, feeds: Feeds | None = None
) -> tuple[list[Step], list[Diagnostic]]:
    """Apply ``:paths-only:`` (``mode`` ``""`` or ``"+1"``): the kept steps, and a ``drift`` warning when no
    stop point was reached (then every step is kept, or the paths to the bridges that fired)."""
    kept = keep_paths(steps, mode, feeds)
    if kept is not None and any(step.note == "stop" for step in steps):
        return kept, []
    if kept is not None:
        message = ":paths-only: no step reached a :stop-at: point, so only the paths to the bridges are shown"
    else:
        message = ":paths-only: no step reached a :stop-at: point, so the whole trace is shown"
    if truncated:
        message += " (the trace was truncated first)"
    hint = "check :stop-at: against the step table (a pattern matches a qualified name, a glob, a prefix or a suffix)"
    return list(kept if kept is not None else steps), [Diagnostic("drift", message, hint + "; or raise :depth:")]


_ASSIGNED = re.compile(
    r"^\s*(?:let\s+(?:mut\s+)?)?\(?\s*([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*\)?\s*(?::[^=]*)?=(?!=)"
)
_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*")
_MAX_GAP = 40  # lines between the two calls that are read for the assignments in between


@functools.lru_cache(maxsize=65536)
def _assigned(line: str) -> tuple[str, ...]:
    """The names a statement line assigns (``x = ..``, ``let mut x: T = ..``, ``a, b = ..``, ``self.x = ..``).
    Memoised: the filter asks about the same lines for every pair of calls near them."""
    m = _ASSIGNED.match(line)
    return tuple(n.strip() for n in m.group(1).split(",")) if m else ()


def _uses(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _statement(lines: list[str], at: int) -> str:
    """The text of the statement starting at line index ``at``: lines up to balanced brackets (at most 12)."""
    depth, out = 0, []
    for line in lines[at : at + 12]:
        out.append(line)
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
        if depth <= 0:
            break
    return "\n".join(out)


def _short(step: Step) -> str:
    """The last name of what a step calls (``take_events``, ``KVEventBatch`` for a construction)."""
    return re.split(r"[.:]+", step.target.removesuffix("()"))[-1] if step.target else ""


def _arguments(statement: str, name: str) -> str:
    """The text after ``name(`` in a statement (its arguments and what follows), or after its first ``(``:
    a value used there is passed to the call, not the receiver it is called on."""
    at = statement.find(name + "(") if name else -1
    start = at + len(name) + 1 if at >= 0 else statement.find("(") + 1
    return statement[start:] if start > 0 else ""


def source_feeds(read: Callable[[str, str], str | None]) -> Feeds:
    """A :data:`Feeds` over source text: ``read(repo, path)`` gives a file's text (None when unreadable).

    The earlier call's value is the name its statement assigns (on its line, or on the line before when the
    call continues a ``let x =`` line); the later call uses it when its arguments mention that name, or a name
    assigned from it by a line in between (a value only used as the receiver, ``client.run()``, does not
    count). Two calls on one line: the earlier feeds the later when it is written inside its arguments."""
    cache: dict[tuple[str, str], list[str] | None] = {}

    def lines_of(repo: str, path: str) -> list[str] | None:
        if (repo, path) not in cache:
            text = read(repo, path)
            cache[repo, path] = text.splitlines() if text is not None else None
        return cache[repo, path]

    def feeds(earlier: Step, later: Step) -> bool:
        a, b = earlier.site, later.site
        if (a.repo, a.path) != (b.repo, b.path) or not 0 <= b.line - a.line <= _MAX_GAP:
            return False
        lines = lines_of(a.repo, a.path)
        if lines is None or b.line > len(lines):
            return False
        later_args = _arguments(_statement(lines, b.line - 1), _short(later))
        if a.line == b.line:  # `publish(take_events())`: an argument, not the receiver of `Client(..).run()`
            return _uses(later_args, _short(earlier))
        names = set(_assigned(lines[a.line - 1]))
        if not names and a.line >= 2 and lines[a.line - 2].rstrip().endswith("="):
            names = set(_assigned(lines[a.line - 2]))
        for k in range(a.line, b.line - 1):  # assignments in between carry the value on
            targets = _assigned(lines[k])
            if targets and any(_uses(lines[k].split("=", 1)[1], n) for n in names):
                names.update(targets)
        return any(_uses(later_args, n) for n in names)

    return feeds


__all__ = ["PLUS_ONE", "SPINE", "Feeds", "keep_paths", "on_paths", "paths_only", "source_feeds"]
