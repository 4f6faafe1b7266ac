"""Whole call graphs of Python files, in PyCG's JSON format, so any PyCG-format benchmark can score them.

``python -m sphinxext.codetrace callgraph PATH... --format pycg`` prints ``{"pkg.mod.func": ["pkg.mod.other",
...]}``: one key per module (its module-level code), class body and function (lambdas are ``<lambdaN>``, as
PyCG names them), and for each the callees of every call in it, sorted. Module names are dotted paths relative
to the current directory (PyCG's ``--package .``). Callees outside the given files keep their dotted name
(``os.path.join``); builtins are written ``<builtin>.len``.

The graph is made by the same resolver as traces (:class:`~.resolve.python.PythonResolver`), with one
addition a whole program allows: what each function's parameters receive is the union of what its callers
pass, found by resolving every call, and the calls are resolved again until that no longer grows (so a
function passed as an argument, stored and called later is followed). Besides written calls, a graph has the
calls statements make without writing them: decorators applied, ``__init__`` of a class raised bare,
``__enter__``/``__exit__`` of ``with`` and ``__iter__``/``__next__`` of ``for`` when they resolve to code of
the given files, and functions handed to ``map``/``filter``.

It does not follow imports out of the given files: a module named but not given is external.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .index import Index
from .model import Flow
from .resolve.python import Ctx, DefV, FileInfo, Frame, PySymbol, PythonResolver, Target
from .resolve.pyvalues import value_key
from .workspace import SKIP_DIRS, RepoConfig, Workspace

#: At most this many rounds of "resolve every call, then learn what parameters receive".
MAX_PASSES = 8
_REPO = "callgraph"


def python_sources(paths: Iterable[Path]) -> list[Path]:
    """The ``.py`` files named by ``paths`` (files, or folders searched recursively), resolved and sorted."""
    found: set[Path] = set()
    for path in paths:
        path = path.resolve()
        if path.is_file() and path.suffix in (".py", ".pyi"):
            found.add(path)
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
                found.update(Path(dirpath) / f for f in filenames if f.endswith(".py"))
    return sorted(found)


def pycg_name(name: str) -> str:
    """An external callee as PyCG writes it: ``builtins.len`` is ``<builtin>.len``, a call result's method
    drops the call (``ext.Cls().fun`` is ``ext.Cls.fun``)."""
    name = ".".join(part.removesuffix("()") for part in name.split("."))
    if name.startswith("builtins."):
        return "<builtin>." + name[len("builtins.") :]
    return name


class CallGraph:
    """The call graph of a set of files under one root directory."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root.resolve()
        workspace, errors = Workspace.from_configs([RepoConfig(_REPO, self.root, python_roots=(".",))])
        if errors:
            raise errors[0]
        self.workspace = workspace
        self.repo = workspace.repo(_REPO)
        self.index = Index(workspace, cache_dir)
        self.resolver = PythonResolver(workspace, self.index)
        self.resolver.closed_world = True
        self.passes = 0

    def build(self, files: Sequence[Path]) -> dict[str, list[str]]:
        """``{caller: sorted callees}`` for every module, class body and function of ``files``."""
        relpaths = []
        for file in files:
            if self.repo.contained(file) is None:
                continue
            module = self.repo.module_name(file.resolve())
            if module:
                relpaths.append(self.repo.relpath(file.resolve()))
        sources: dict[PySymbol, list[tuple[Ctx, Flow, object]]] = {}
        seen: set[tuple[object, ...]] = set()
        # per call: (caller, callee names, the functions whose parameter sources its answer read)
        answers: dict[tuple[str, int] | tuple[str, int, int], tuple[str, set[str], frozenset[PySymbol]]] = {}
        changed: frozenset[PySymbol] | None = None
        for _ in range(MAX_PASSES):
            self.passes += 1
            grown = self._pass(relpaths, sources, seen, answers, changed)
            if not grown:
                break
            changed = frozenset(grown)
            self.resolver.set_param_sources(sources, changed)
        graph: dict[str, set[str]] = {}
        for relpath in relpaths:
            info = self.resolver.info(_REPO, relpath)
            graph.setdefault(info.module, set())
            for d in info.facts.definitions:
                graph.setdefault(f"{info.module}.{d.qualname}", set())
        for caller, names, _ in answers.values():
            graph.setdefault(caller, set()).update(names)
        return {caller: sorted(callees) for caller, callees in sorted(graph.items())}

    def _pass(
        self,
        relpaths: list[str],
        sources: dict[PySymbol, list[tuple[Ctx, Flow, object]]],
        seen: set[tuple[object, ...]],
        answers: dict[tuple[str, int] | tuple[str, int, int], tuple[str, set[str], frozenset[PySymbol]]],
        changed: frozenset[PySymbol] | None,
    ) -> set[PySymbol]:
        """Resolve every call whose answer may have changed: all of them the first time, then those that read
        the parameter sources of a function in ``changed``. Record what each callee's parameters receive;
        return the functions that gained a source."""
        grown: set[PySymbol] = set()
        resolver = self.resolver
        for relpath in relpaths:
            info = resolver.info(_REPO, relpath)
            module = info.module
            for position, flow in enumerate(info.call_list):
                key = (relpath, position)
                previous = answers.get(key)
                if previous is not None and changed is not None and not (previous[2] & changed):
                    continue  # what it read did not change: same answer as before
                caller = f"{module}.{flow.scope}" if flow.scope else module
                answer = resolver.call_answer(info, flow, self._frame(info, flow.scope))
                deps = resolver.last_deps
                implicit = flow.target in ("enter", "exit", "iter", "next")
                names: set[str] = set()
                for target in answer.targets:
                    if implicit and target.kind == "external":
                        continue
                    names.update(self._names(target))
                    if target.sym is None or flow.target == "callback":
                        continue
                    ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
                    source = (target.sym, info.key, position, value_key(target.receiver) if target.receiver else "")
                    if source not in seen:
                        seen.add(source)
                        sources.setdefault(target.sym, []).append((ctx, flow, target.receiver))
                        grown.add(target.sym)
                answers[key] = (caller, names, deps)
            for flow in info.raises:
                key = (relpath, -flow.line, flow.col)
                if not flow.value or flow.value[0] == "c" or key in answers:
                    continue  # a raised call is a call of its own
                caller = f"{module}.{flow.scope}" if flow.scope else module
                ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, self._frame(info, flow.scope))
                names = set()
                for value in resolver.evaluate(ctx, flow.value).values:
                    if isinstance(value, DefV) and value.sym.definition.kind == "class":
                        names.update(self._names(resolver.construction(value.sym)))
                answers[key] = (caller, names, frozenset())
        return grown

    def _frame(self, info: FileInfo, scope: str) -> Frame | None:
        d = info.defs.get(scope)
        if d is None or d.kind != "function":
            return None
        return self.resolver.frame_for(PySymbol(_REPO, info.path, info.module, d))

    def _names(self, target: Target) -> set[str]:
        if target.kind == "external":
            return {pycg_name(target.name)}
        if target.kind == "def" and target.sym is not None:
            return {target.sym.qualname}
        names = {s.qualname for s in (target.sym, *target.extra) if s is not None}
        if not names and target.cls is not None:
            for c in self.resolver.mro(target.cls):
                for base in self.resolver._external_bases.get(c, ()):
                    return {pycg_name(f"{base}.__init__")}
        return names


def build_callgraph(
    paths: Sequence[Path], root: Path | None = None, cache_dir: Path | None = None
) -> dict[str, list[str]]:
    """The PyCG-format call graph of the Python files under ``paths``; module names are relative to
    ``root`` (default: the current directory)."""
    graph = CallGraph(root or Path.cwd(), cache_dir)
    return graph.build(python_sources(paths))


__all__ = ["CallGraph", "build_callgraph", "pycg_name", "python_sources"]
