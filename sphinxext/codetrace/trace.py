"""Trace: a deterministic depth-first walk from the entry, applying the flow spec's stop rules.

The walk visits the call sites of a definition in execution order (arguments before the call that takes them;
``raise`` statements in line order between them), resolves each one, and records a
:class:`~sphinxext.codetrace.model.Step`. It descends into a callee only when it is code of the configured
repos, allowed by ``include``/``exclude``, not a ``stop-at`` match, not already on the call stack (recursion
is marked, not followed), not expanded before (a later call says where it was expanded), and within
``depth``. ``max-steps`` is a hard bound: the trace is marked truncated when it is hit.

The walk knows nothing of rendering; it only needs a resolver (:class:`PythonResolver` today).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from .diagnostics import CodetraceError, Diagnostic
from .index import Index
from .model import CallSite, Loc, RaiseSite, Resolution, Signature, Site, Step, StepKind, Trace
from .resolve.python import PySymbol, PythonResolver
from .spec import FlowSpec
from .workspace import Workspace


def matches(name: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern that names ``name``: a glob, the name itself, a prefix package, or a suffix."""
    for pattern in patterns:
        if (
            fnmatchcase(name, pattern)
            or name == pattern
            or name.startswith((pattern + ".", pattern + "::"))
            or name.endswith(("." + pattern, "::" + pattern))
        ):
            return pattern
    return None


class _Walk:
    def __init__(self, spec: FlowSpec, resolver: PythonResolver) -> None:
        self.spec = spec
        self.resolver = resolver
        self.steps: list[Step] = []
        self.stack: list[PySymbol] = []
        # (callee, class of self) -> step that expanded it: a base method on two subclasses differs
        self.expanded: dict[tuple[PySymbol, PySymbol | None], int] = {}
        self.stops: list[str] = []
        self.truncated = False

    def full(self) -> bool:
        """Whether another step would exceed ``max-steps`` (and mark the trace truncated if so)."""
        if len(self.steps) >= self.spec.max_steps:
            self.truncated = True
        return self.truncated

    def events(self, sym: PySymbol) -> list[CallSite | RaiseSite]:
        facts = self.resolver.facts_of(sym.repo, sym.path)
        scope = sym.definition.qualname
        calls: list[CallSite | RaiseSite] = [c for c in facts.calls if c.scope == scope]
        for r in sorted((r for r in facts.raises if r.scope == scope), key=lambda r: (r.line, r.col)):
            at = next((i for i, c in enumerate(calls) if c.line > r.line), len(calls))
            calls.insert(at, r)
        return calls

    def walk(self, sym: PySymbol, depth: int, self_class: PySymbol | None = None) -> None:
        self.stack.append(sym)
        caller = sym.loc()
        for event in self.events(sym):
            site = Site(sym.repo, sym.path, event.line)
            if isinstance(event, RaiseSite):
                if self.full():
                    break
                self.steps.append(
                    Step(
                        len(self.steps) + 1,
                        depth + 1,
                        caller,
                        None,
                        event.text,
                        site,
                        StepKind.RAISE,
                        Resolution.DIRECT,
                    )
                )
                continue
            self.call(sym, caller, event, site, depth + 1, self_class)
            if self.truncated:
                break
        self.stack.pop()

    def call(
        self, sym: PySymbol, caller: Loc, call: CallSite, site: Site, depth: int, self_class: PySymbol | None
    ) -> None:
        outcome = self.resolver.resolve_call(sym, call, self_class)
        if outcome.quiet or self.full():
            return
        callee = outcome.callee
        target_sym = callee or outcome.constructs
        note, enter = "", False
        name = target_sym.qualname if target_sym else outcome.target
        stop = matches(name, self.spec.stop_at) or (
            matches(outcome.target, self.spec.stop_at) if outcome.target != name else None
        )
        if stop:
            note = "stop"
            if name not in self.stops:
                self.stops.append(name)
        elif callee is not None:
            module = callee.module
            receiver = outcome.receiver if callee.definition.in_class else None
            if callee in self.stack:
                note = "recursion"
            elif (callee, receiver) in self.expanded:
                note = f"expanded at step {self.expanded[callee, receiver]}"
            elif depth >= self.spec.depth:
                note = "depth limit"
            elif self.spec.include and not matches(module, self.spec.include):
                note = "not included"
            elif matches(module, self.spec.exclude):
                note = "excluded"
            else:
                enter = True
        d = target_sym.definition if target_sym else None
        signature = Signature(d.params, d.returns, d.is_async) if d is not None and d.kind == "function" else None
        n = len(self.steps) + 1
        self.steps.append(
            Step(
                n=n,
                depth=depth,
                caller=caller,
                callee=target_sym.loc() if target_sym else None,
                target=outcome.target,
                site=site,
                kind=call.kind,
                resolution=outcome.resolution,
                signature=signature,
                handlers=call.handlers,
                entered=enter,
                note=note,
            )
        )
        if enter and callee is not None:
            receiver = outcome.receiver if callee.definition.in_class else None
            self.expanded[callee, receiver] = n
            self.walk(callee, depth, receiver)


def trace_flow(spec: FlowSpec, workspace: Workspace, index: Index, resolver: PythonResolver | None = None) -> Trace:
    """Trace one flow. Raises :class:`CodetraceError` when the entry does not resolve; problems met on the
    way (unparsable files) are returned in ``Trace.warnings``."""
    resolver = resolver or PythonResolver(workspace, index)
    with index.recording() as touched:
        if spec.repo is not None:
            workspace.repo(spec.repo)  # unknown repo: a clear error before anything else
        entry = resolver.resolve_entry(spec.entry, spec.repo)
        walk = _Walk(spec, resolver)
        walk.expanded[entry, None] = 0
        walk.walk(entry, 0)
    problems: list[Diagnostic] = []
    files: list[str] = []
    for repo_name, relpath in sorted(touched):
        repo = workspace.repos[repo_name]
        files.append(str(repo.root / relpath))
        problem = index.problem(repo_name, relpath)
        if problem is not None:
            problems.append(problem)
    d = entry.definition
    return Trace(
        title=spec.title,
        entry=entry.loc(),
        entry_signature=Signature(d.params, d.returns, d.is_async),
        steps=tuple(walk.steps),
        stops=tuple(walk.stops),
        truncated=walk.truncated,
        files=tuple(files),
        warnings=tuple(problems),
    )


class Engine:
    """The analysis stages wired together for one workspace: what the directive and the CLI use."""

    def __init__(self, workspace: Workspace, cache_dir: Path | None = None) -> None:
        self.workspace = workspace
        self.index = Index(workspace, cache_dir)
        self.python = PythonResolver(workspace, self.index)
        self.last_files: list[str] = []

    def trace(self, spec: FlowSpec) -> Trace:
        """Trace one flow; :attr:`last_files` then lists the files it read, even when it raised."""
        with self.index.recording() as touched:
            try:
                return trace_flow(spec, self.workspace, self.index, self.python)
            finally:
                self.last_files = sorted(str(self.workspace.repos[r].root / p) for r, p in touched)


__all__ = ["CodetraceError", "Engine", "matches", "trace_flow"]
