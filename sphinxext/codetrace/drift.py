"""Drift: does a trace still follow the flow the docs promise?

Two checks, both pure functions over a :class:`~sphinxext.codetrace.model.Trace` (no Sphinx, no file system
except for reading and writing the lock file itself):

* ``:expect:`` waypoints (:func:`expect_problem`): symbols or globs the flow must pass through, in order. They
  are matched like ``:stop-at:`` patterns (exact name, glob, package prefix or trailing part) against the
  entry and then every step's callee, as an ordered subsequence. The first waypoint that cannot be found is
  reported, with where the trace went instead.
* lock files (:func:`lock_lines`, :func:`lock_problem`): a trace is recorded as one line per step, ``caller ->
  callee (repo:path)``, indented by call depth, with no line numbers (so moving code within a file changes
  nothing) and no walk notes (``expanded at step N`` would renumber on every insertion). The lock stores those
  lines and their SHA-256 digest; a trace whose digest differs gets a unified diff of the lines.

The lock file (:data:`LOCK_SCHEMA`) is JSON with sorted keys and two-space indentation, one flow per key
(``docname#title`` or ``docname#name``), so a change to it is a small, reviewable diff.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic
from .model import Step, StepKind, Trace
from .trace import matches

#: Default lock file name, next to conf.py (config value ``codetrace_lock_file``).
LOCK_FILE = "codetrace.lock.json"
LOCK_SCHEMA = "codetrace.lock/1"
#: How many names "where the trace went instead" lists, and how many changed lines a one-line summary shows.
SHOWN = 5


# -- expect ------------------------------------------------------------------------------------------------------


def _step_names(step: Step) -> tuple[str, ...]:
    """The names a waypoint may match a step by: its callee's qualified name, and its target text."""
    names = [step.callee.name] if step.callee is not None else []
    if step.target and step.target not in names and step.kind is not StepKind.RAISE:
        names.append(step.target)
    return tuple(names)


def _label(step: Step) -> str:
    return step.callee.name if step.callee is not None else step.target


def _hit(names: Iterable[str], waypoint: str) -> bool:
    return any(matches(name, (waypoint,)) for name in names)


def expect_problem(trace: Trace, expect: tuple[str, ...]) -> Diagnostic | None:
    """A ``drift`` diagnostic naming the first ``:expect:`` waypoint the trace does not pass through (after
    the previous one), or None when every waypoint is met in order. The entry itself can be the first."""
    if not expect:
        return None
    sequence: list[tuple[str, ...]] = [(trace.entry.name,)] + [_step_names(s) for s in trace.steps]
    at = -1  # index into sequence of the previous waypoint's match; -1: nothing matched yet
    for number, waypoint in enumerate(expect, start=1):
        found = next((i for i in range(at + 1, len(sequence)) if _hit(sequence[i], waypoint)), None)
        if found is not None:
            at = found
            continue
        where = f"waypoint {number} of {len(expect)}"
        after = f"the entry {trace.entry.name!r}" if at <= 0 else f"{_label(trace.steps[at - 1])!r} (step {at})"
        message = f":expect: {waypoint!r} ({where}) is not reached after {after}"
        following = list(dict.fromkeys(_label(s) for s in trace.steps[max(at, 0) :]))
        if following:
            shown = ", ".join(following[:SHOWN]) + (", ..." if len(following) > SHOWN else "")
            message += f"; from there the trace goes to: {shown}"
        else:
            message += "; the trace ends there"
        earlier = next((i for i in range(max(at, 0)) if _hit(sequence[i], waypoint)), None)
        if earlier is not None:
            message += f"; {waypoint!r} comes earlier, at {'the entry' if earlier == 0 else f'step {earlier}'}"
        return Diagnostic("drift", message, "if the code change is intended, update :expect:")
    return None


# -- lock lines --------------------------------------------------------------------------------------------------


def _callee_text(step: Step) -> str:
    if step.kind is StepKind.RAISE:
        return "raise " + step.target.split("(", 1)[0].strip()
    prefix = "" if step.kind is StepKind.CALL else f"{step.kind.value} "
    if step.callee is not None:
        return f"{prefix}{step.callee.name} ({step.callee.repo}:{step.callee.path})"
    return f"{prefix}{step.target} [{step.resolution.value}]"


def lock_lines(trace: Trace) -> list[str]:
    """The trace as the lock records it: the entry with its file, then ``caller -> callee (repo:path)`` per
    step, indented two spaces per call depth. No line numbers, so shifted code gives the same lines."""
    entry = trace.entry
    lines = [f"entry {entry.name} ({entry.repo}:{entry.path})"]
    for step in trace.steps:
        indent = "  " * max(step.depth - 1, 0)
        lines.append(f"{indent}{step.caller.name} -> {_callee_text(step)}")
    if trace.truncated:
        lines.append(f"truncated after {len(trace.steps)} steps")
    return lines


def digest(lines: Iterable[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def lock_entry(trace: Trace) -> dict[str, Any]:
    """The JSON value the lock file stores for one flow."""
    lines = lock_lines(trace)
    return {"digest": digest(lines), "steps": lines}


def lock_key(docname: str, title: str, name: str = "") -> str:
    """The key of a flow in the lock file: ``docname#name`` when the directive has ``:name:``, else
    ``docname#title`` (``docname`` is the document's path relative to the docs, without suffix)."""
    return f"{docname}#{name or title}"


@dataclass(frozen=True)
class LockDiff:
    """How a trace differs from its locked lines."""

    removed: int
    added: int
    diff: tuple[str, ...]  # unified diff body: lines starting with " ", "-" or "+", and "..." between hunks

    def summary(self) -> str:
        removed = f"{self.removed} step{'s' if self.removed != 1 else ''} removed" if self.removed else ""
        if not self.added:
            return removed or "digest differs"
        added = f"{self.added} added" if removed else f"{self.added} step{'s' if self.added != 1 else ''} added"
        return ", ".join(p for p in (removed, added) if p)

    def inline(self, limit: int = SHOWN) -> str:
        """The changed lines on one line: ``- old; + new``, at most ``limit`` of them."""
        changed = [" ".join(line.split()) for line in self.diff if line[:1] in ("-", "+")]
        text = "; ".join(f"{c[0]} {c[1:].strip()}" for c in changed[:limit])
        return text + (f"; ... ({len(changed) - limit} more)" if len(changed) > limit else "")


def lock_diff(locked: list[str], current: list[str]) -> LockDiff:
    """The changed lines with one line of context, hunks separated by ``...`` (no ``@@`` headers: step
    numbers would mean nothing to a reader)."""
    body: list[str] = []
    for line in difflib.unified_diff(locked, current, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if body:
                body.append("...")
            continue
        body.append(line)
    removed = sum(1 for line in body if line.startswith("-"))
    added = sum(1 for line in body if line.startswith("+"))
    return LockDiff(removed, added, tuple(body))


def lock_problem(
    trace: Trace, key: str, locked: Mapping[str, Any] | None, lock_name: str, accept: str, diff_lines: bool = True
) -> Diagnostic | None:
    """A ``drift`` diagnostic when ``trace`` differs from its lock entry (or has none), else None.

    ``lock_name`` names the lock file in the message, ``accept`` is the command that accepts the change. With
    ``diff_lines`` the message carries the diff on the following lines (Sphinx warnings); without, a one-line
    summary of the changed lines (the ``check`` command's one line per problem)."""
    current = lock_lines(trace)
    if locked is None:
        return Diagnostic("drift", f"flow {key!r} is not in {lock_name}", f"record it with: {accept}")
    if locked.get("digest") == digest(current):
        return None
    steps = locked.get("steps")
    old = [str(s) for s in steps] if isinstance(steps, list) else []
    change = lock_diff(old, current)
    head = f"flow {key!r} changed since {lock_name} was written ({change.summary()})"
    if diff_lines:
        body = "\n".join("    " + line for line in change.diff)
        return Diagnostic("drift", f"{head}; if intended, accept it with: {accept}\n{body}")
    return Diagnostic("drift", f"{head}: {change.inline()}", f"if intended, accept it with: {accept}")


# -- the lock file -----------------------------------------------------------------------------------------------


@dataclass
class LockFile:
    """The flows recorded in a lock file: ``key -> {"digest", "steps"}``."""

    path: Path
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    exists: bool = False
    error: str = ""  # why an existing file could not be read

    def dumps(self) -> str:
        data = {
            "schema": LOCK_SCHEMA,
            "comment": "sphinx-codetrace lock: reviewed traces; regenerate with 'python -m sphinxext.codetrace "
            "lock DOCS_DIR --update'",
            "flows": {k: self.flows[k] for k in sorted(self.flows)},
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self) -> bool:
        """Write the file atomically if its text would change; returns whether it was written."""
        text = self.dumps()
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self.exists = True
        return True


_LOADED: dict[Path, tuple[tuple[int, int], LockFile]] = {}


def load_lock(path: Path) -> LockFile:
    """Read a lock file (memoised by modification time and size). A missing file gives an empty lock with
    ``exists`` False; a malformed one gives ``error``."""
    try:
        stat = path.stat()
    except OSError:
        return LockFile(path)
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == stamp:
        return LockFile(path, dict(cached[1].flows), True, cached[1].error)
    lock = LockFile(path, exists=True)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("schema") != LOCK_SCHEMA or not isinstance(data.get("flows"), dict):
            raise ValueError(f"not a {LOCK_SCHEMA} file")
        lock.flows = {str(k): v for k, v in data["flows"].items() if isinstance(v, dict)}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        lock.error = f"cannot read {path.name}: {exc}"
    _LOADED[path] = (stamp, lock)
    return LockFile(path, dict(lock.flows), True, lock.error)


__all__ = [
    "LOCK_FILE",
    "LOCK_SCHEMA",
    "LockDiff",
    "LockFile",
    "digest",
    "expect_problem",
    "load_lock",
    "lock_diff",
    "lock_entry",
    "lock_key",
    "lock_lines",
    "lock_problem",
]
