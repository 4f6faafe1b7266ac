"""Names across the whole workspace, looked up on demand: when a spec names something that is not there.

A trace only parses what its walk reaches. When an ``:entry:`` fails to resolve, or an exact ``:stop-at:``
symbol matched nothing, this module answers two wider questions, and only then:

* :func:`symbol_exists`: does a dotted Python name rooted in a package of the configured repos still name a
  module, a class, a function or a method (following re-exports and star imports through the facts of the
  modules on the way)?
* :func:`closest_names`: where could it have gone? Renames and moves are the common case, so first every
  definition with the same last component anywhere in the repos (found by a cheap ``def NAME`` / ``class
  NAME`` regex over the repos' Python files, read through the workspace so containment and size limits hold,
  then confirmed with the index's facts for the few files that match); failing that, the names closest in
  spelling in the longest module prefix that still exists.

It does not check Rust paths (``::``), globs, or names outside the configured repos (``asyncio.sleep``): for
those it cannot tell drift from a pattern about external code, so it says nothing.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .diagnostics import CodetraceError, Diagnostic
from .model import Trace
from .resolve.python import PythonResolver
from .spec import FlowSpec
from .trace import Engine, matches
from .workspace import SKIP_DIRS, Repo, Workspace

#: At most this many names are suggested.
LIMIT = 5
_GLOB = re.compile(r"[*?\[]")


def python_files(workspace: Workspace, repo: Repo) -> Iterator[Path]:
    """The ``.py`` files of ``repo`` in sorted order, skipping VCS, build and virtualenv folders and any
    nested repo that owns its own files."""
    for dirpath, dirnames, filenames in os.walk(repo.root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        here = Path(dirpath)
        if workspace.repo_of(here) is not repo:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield here / name


def defined_elsewhere(engine: Engine, name: str) -> list[str]:
    """Qualified names of every function, method or class called ``name`` in the configured repos."""
    if not name.isidentifier():
        return []
    pattern = re.compile(rf"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b", re.M)
    found: set[str] = set()
    for repo in engine.workspace.repos.values():
        for path in python_files(engine.workspace, repo):
            relpath = repo.relpath(path)
            try:
                text = repo.read_text(relpath)
            except CodetraceError:
                continue
            if not pattern.search(text):
                continue
            module = repo.module_name(path)
            if module is None:
                continue
            for definition in engine.index.facts(repo, relpath).definitions:
                if definition.name == name:
                    found.add(f"{module}.{definition.qualname}" if module else definition.qualname)
    return sorted(found)


def _defined_in(resolver: PythonResolver, parts: list[str], depth: int = 0) -> bool:
    """Whether ``parts`` names a definition: the longest existing module prefix defines the rest, or imports
    its first part from a module that does (re-exports), or star-imports one that does."""
    for i in range(len(parts) - 1, 0, -1):
        files = resolver.module_files(".".join(parts[:i]))
        if not files:
            continue
        rest = parts[i:]
        for repo, path in files:
            facts = resolver.facts_of(repo, path)
            if facts.definition(".".join(rest)) is not None:
                return True
            if depth >= 8:
                continue
            for imp in facts.imports:
                if imp.scope:
                    continue
                if imp.star and _defined_in(resolver, [*imp.target.split("."), *rest], depth + 1):
                    return True
                if not imp.star and imp.name == rest[0]:
                    target = [*imp.target.split("."), *rest[1:]]
                    if resolver.module_exists(".".join(target)) or _defined_in(resolver, target, depth + 1):
                        return True
        return False
    return False


def symbol_exists(resolver: PythonResolver, name: str) -> bool | None:
    """True or False for a dotted Python name whose first part is a package of the configured repos; None
    when it cannot tell (a glob, a Rust path, a suffix form like ``Store.get``, an external name)."""
    if _GLOB.search(name) or "::" in name:
        return None
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts) or not resolver.module_exists(parts[0]):
        return None
    if resolver.module_exists(name):
        return True
    try:
        resolver.resolve_entry(name)
        return True
    except CodetraceError:
        pass  # a class, a re-export the entry lookup refuses, or really gone
    return _defined_in(resolver, parts)


def closest_names(engine: Engine, name: str) -> list[str]:
    """Where a missing ``name`` could have gone: the same last component defined elsewhere, else the names
    closest in spelling under the longest module prefix of ``name`` that still exists."""
    dotted = name.split("::", 1)[1] if name.split("::", 1)[0].endswith((".py", ".pyi")) else name
    last = dotted.rpartition(".")[2]
    same = [n for n in defined_elsewhere(engine, last) if n != name]
    if same:
        return same[:LIMIT]
    resolver = engine.python
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:i])
        files = resolver.module_files(module)
        if not files:
            continue
        definitions = [d for repo, path in files for d in resolver.facts_of(repo, path).definitions]
        rest = parts[i:]
        parent = ".".join(rest[:-1])
        siblings = sorted({d.name for d in definitions if d.parent == parent})
        if siblings:  # the class or module is still there: a renamed member
            close = difflib.get_close_matches(rest[-1], siblings, n=3, cutoff=0.6)
            return [".".join([module, *rest[:-1], c]) for c in close]
        names = sorted({d.qualname for d in definitions})
        return [f"{module}.{q}" for q in difflib.get_close_matches(".".join(rest), names, n=3, cutoff=0.6)]
    return []


def _did_you_mean(names: list[str]) -> str:
    return f"did you mean: {', '.join(names)}?" if names else ""


def explain_unresolved(engine: Engine, spec: FlowSpec, diagnostic: Diagnostic) -> Diagnostic:
    """An ``unresolved`` entry diagnostic whose hint names the definitions with the entry's last name
    elsewhere in the repos (a move); without any, the resolver's own spelling suggestions are kept."""
    if diagnostic.subtype != "unresolved":
        return diagnostic
    file_form = "::" in spec.entry
    dotted = spec.entry.split("::", 1)[1] if file_form else spec.entry
    if not file_form and symbol_exists(engine.python, dotted):
        return diagnostic  # it exists (a class or a module named as an entry): the resolver's hint says why
    same = [n for n in defined_elsewhere(engine, dotted.rpartition(".")[2]) if n != dotted]
    hint = _did_you_mean(same[:LIMIT])
    return Diagnostic(diagnostic.subtype, diagnostic.message, hint) if hint else diagnostic


def missing_stop_points(engine: Engine, spec: FlowSpec, trace: Trace) -> list[Diagnostic]:
    """``unresolved`` diagnostics for exact ``:stop-at:`` symbols that matched nothing in ``trace`` and no
    longer name anything in the configured repos."""
    problems = []
    for pattern in spec.stop_at:
        if any(matches(stop, (pattern,)) for stop in trace.stops):
            continue
        if symbol_exists(engine.python, pattern) is not False:
            continue
        hint = _did_you_mean(closest_names(engine, pattern)) or "was it renamed or removed? Update or drop it"
        problems.append(Diagnostic("unresolved", f":stop-at: {pattern!r} names nothing in the configured repos", hint))
    return problems


__all__ = [
    "closest_names",
    "defined_elsewhere",
    "explain_unresolved",
    "missing_stop_points",
    "python_files",
    "symbol_exists",
]
