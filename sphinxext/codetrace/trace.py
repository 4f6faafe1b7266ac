"""Trace: a deterministic depth-first walk from the entry, applying the flow spec's stop rules.

The walk visits the call sites of a definition in execution order (arguments before the call that takes them;
``raise`` statements in line order between them), resolves each one, and records a
:class:`~sphinxext.codetrace.model.Step`. It descends into a callee only when it is code of the configured
repos, allowed by ``include``/``exclude``, not a ``stop-at`` match, not already on the call stack (recursion
is marked, not followed), not expanded before (a later call says where it was expanded), and within
``depth``. ``max-steps`` is a hard bound: the trace is marked truncated when it is hit.

A function expanded before is walked again, with a note saying why, in two cases (at most
:data:`MAX_EXPANSIONS` times each, so the output stays bounded): where more depth remains than below the
earlier walk, which the depth limit cut (the later walk goes deeper; :class:`_Expansion` records how much
more depth would show more), and where a hand-off below it read its message's class from an argument the
walk's path passed, and this call passes other classes (a send helper taking ``obj: Any`` hands each message
to the handler of its own class), or a call below it was resolved from what the walk's call passed to an
undeclared parameter (:meth:`.resolve.python.PythonResolver.walk_frame`: Python parameters no annotation
declares hold what the path passed them) and this call passes other classes. Otherwise the later call says
``expanded at step N``, naming the walk that fits it.

The walk is language-agnostic: the entry's form picks the resolver that finds it (a ``::`` path, a
``file.rs::`` form or ``crate::...`` is Rust; a dotted name or ``file.py::`` is Python), and each call site is
resolved by the resolver of the language of the function it is written in. A call with several possible
callees (dynamic dispatch) is a ``candidates`` step listing them, followed by one step per candidate
(``candidate_of`` names the dispatch step), each entered under the same rules. The walk knows nothing of
rendering.

Two spec features sit beside the walk: declared bridges (``bridge``, :mod:`.bridges`) are taken by a hook
where a step is recorded (:meth:`_Walk.bridged`), and ``paths-only`` (:mod:`.paths`) filters the finished
steps.

Hand-offs that are not calls (a queue ``put``, a message sent to the handler of its type) are found by a hook
after each call is resolved (:mod:`.resolve.handoff`, which reads the walk's path: what each function on the
stack was entered with, so a message passed down as ``obj: Any`` keeps the type its sender gave it). After a
``queue`` step whose consumers were entered, :meth:`_Walk.resume` goes on at the loop that drives them.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from . import behind
from .bridges import Bridges
from .diagnostics import CodetraceError, Diagnostic
from .index import Index
from .index.guard import rare_full_collections
from .model import CallSite, Lang, Loc, RaiseSite, Resolution, Signature, Site, Step, StepKind, Trace
from .paths import Feeds, paths_only, source_feeds
from .resolve import Outcome
from .resolve.handoff import REGISTRATIONS_INDEX, PyHandoffs
from .resolve.pyo3 import PyO3Bridge
from .resolve.python import CLASS_BASES_INDEX, PythonResolver
from .resolve.rust import RustResolver
from .spec import FlowSpec
from .tracecache import Checker, TraceCache, trace_key
from .workspace import Workspace

#: The global text indexes a cold trace builds ahead of need, in a worker (see :meth:`.Index.scan_ahead`).
SCANNED_AHEAD = dict([CLASS_BASES_INDEX, REGISTRATIONS_INDEX])

#: How many times one function (with one class of ``self``) may be walked into: see the module docstring.
MAX_EXPANSIONS = 8


@dataclass(slots=True)
class _Expansion:
    """One walk into a function: the step that entered it (``n``) and the depth left below it
        (``remaining``). ``reveal`` is the least depth left at which walking it again would show more (None: the
        depth limit cut nothing below it); ``recursed`` the functions on the stack above it that a call below it
    was not walked into (``recursion``): walked where they are not on the stack, it shows more; ``passed`` holds, per parameter, the message classes a hand-off below
        it read from what the walk's path passed to that parameter; ``frame`` is the Python frame it was walked in
        (:meth:`.resolve.python.PythonResolver.walk_frame`: the resolutions below read some parameters from it)."""

    n: int
    remaining: int
    reveal: int | None = None
    passed: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    recursed: set[Any] = field(default_factory=set)  # callers above it whose recursion cut a call below it
    frame: Any = None


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


def is_rust_entry(text: str) -> bool:
    """Whether an entry names Rust code: ``file.rs::item``, or a ``::`` path that is not ``file.py::item``."""
    if ".rs::" in text:
        return True
    head, sep, _ = text.partition("::")
    return bool(sep) and not head.endswith((".py", ".pyi"))


class _Walk:
    def __init__(
        self, spec: FlowSpec, resolvers: dict[Lang, Any], deadline: float | None = None, crossings: Any = None
    ) -> None:
        self.spec = spec
        self.crossings = crossings  # maps calls across the PyO3 boundary (resolve/pyo3.py)
        self.deadline = deadline  # time.monotonic() past which the walk stops (the per-trace time budget)
        self.truncation = ""
        self.resolvers = resolvers
        self.steps: list[Step] = []
        self.stack: list[Any] = []
        # (callee, class of self) -> step that expanded it: a base method on two subclasses differs
        self.expanded: dict[tuple[Any, Any], int] = {}
        self.stops: list[str] = []
        self.truncated = False
        self.bridges: Any = None  # the spec's declared bridges (bridges.Bridges), fired from recorded steps
        self.handoffs: Any = None  # queue and message hand-offs and their consumer loops (resolve/handoff.py)
        self.path: list[tuple[Any, Any, CallSite | None]] = []  # (symbol, self class, call that entered it)
        self.resumed: dict[Any, int] = {}  # consumer loop -> the step that resumed at it
        # (callee, class of self) -> each walk into it; ``open`` holds the walk of each function on ``path``
        # (None for the entry and a resumed loop)
        self.expansions: dict[tuple[Any, Any], list[_Expansion]] = {}
        self.open: list[_Expansion | None] = []

    def full(self) -> bool:
        """Whether another step would exceed ``max-steps`` or the time budget (marking the trace truncated)."""
        if not self.truncated:
            if len(self.steps) >= self.spec.max_steps:
                self.truncated, self.truncation = True, "max-steps"
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.truncated, self.truncation = True, "time budget"
        return self.truncated

    def resolver(self, sym: Any) -> Any:
        """The resolver for the language ``sym`` is written in."""
        return self.resolvers[sym.loc().lang]

    def events(self, sym: Any) -> list[CallSite | RaiseSite]:
        facts = self.resolver(sym).facts_of(sym.repo, sym.path)
        scope = sym.definition.qualname
        calls: list[CallSite | RaiseSite] = [c for c in facts.calls if c.scope == scope]
        for r in sorted((r for r in facts.raises if r.scope == scope), key=lambda r: (r.line, r.col)):
            at = next((i for i, c in enumerate(calls) if c.line > r.line), len(calls))
            calls.insert(at, r)
        return calls

    def walk(
        self,
        sym: Any,
        depth: int,
        self_class: Any = None,
        via: CallSite | None = None,
        expansion: _Expansion | None = None,
    ) -> None:
        self.stack.append(sym)
        self.path.append((sym, self_class, via))
        self.open.append(expansion)
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
        self.open.pop()
        self.path.pop()
        self.stack.pop()

    def call(self, sym: Any, caller: Loc, call: CallSite, site: Site, depth: int, self_class: Any) -> None:
        resolver = self.resolver(sym)
        if isinstance(resolver, PythonResolver):  # its parameters hold what the walk's path passed
            outcome = resolver.resolve_call(sym, call, self_class, self.path)
        else:
            outcome = resolver.resolve_call(sym, call, self_class)
        if self.crossings is not None:
            outcome = self.crossings.cross(sym, call, outcome)
        beside = None
        if self.handoffs is not None:
            reads: list[tuple[int, str, tuple[Any, ...]]] = []
            outcome = self.handoffs.handoff(sym, call, self_class, outcome, self.path, reads)
            self.note_reads(reads)
            beside = self.handoffs.beside(sym, call, self_class, outcome)
        if outcome.quiet or self.full():
            return
        self.record(sym, caller, call, site, depth, outcome)
        if beside is not None and not self.full():  # a put on a workspace queue: the queue step after the call
            self.record(sym, caller, call, site, depth, beside)

    def record(self, sym: Any, caller: Loc, call: CallSite, site: Site, depth: int, outcome: Outcome) -> None:
        """The step (or dispatch) of one resolved call, then the consumer loop it resumes at, if any."""
        at = len(self.steps)
        if outcome.candidates:
            self.dispatch(caller, call, site, depth, outcome)
            self.bridged(at)
        else:
            self.step(caller, call, site, depth, outcome, outcome.callee, outcome.resolution)
        self.resume(sym, call, depth, outcome, at)

    def note_reads(self, reads: list[tuple[int, str, tuple[Any, ...]]]) -> None:
        """Record on the walks of the functions on the path what a hand-off read from their parameters
        (``(level, parameter, classes)``, :meth:`.resolve.handoff.PyHandoffs.handoff`)."""
        for level, name, classes in reads:
            expansion = self.open[level] if 0 <= level < len(self.open) else None
            if expansion is not None:
                expansion.passed.setdefault(name, classes)

    def recursion(self, sym: Any) -> None:
        """A call below the functions on the stack under ``sym`` was not walked into because ``sym`` is on the
        stack: walked where it is not, they would show more."""
        if sym in self.stack:
            for expansion in self.open[self.stack.index(sym) + 1 :]:
                if expansion is not None:
                    expansion.recursed.add(sym)

    def cut(self, more: int) -> None:
        """Something below the functions on the path would show more with ``more`` levels of depth added."""
        for expansion in self.open:
            if expansion is not None:
                need = expansion.remaining + more
                if expansion.reveal is None or need < expansion.reveal:
                    expansion.reveal = need

    def reuse(self, callee: Any, receiver: Any, depth: int, call: CallSite) -> tuple[str, str]:
        """For a call of a function walked into before: ``("expanded at step N", "")`` naming the walk that
        fits this call, or ``("", why)`` when none does and it is walked again (see the module docstring)."""
        key = (callee, receiver)
        prior = self.expansions.get(key)
        if not prior:  # the entry, or a resumed consumer loop: named, never walked again
            return f"expanded at step {self.expanded[key]}", ""
        remaining = self.spec.depth - depth
        passed: dict[str, tuple[Any, ...] | None] = {}
        fits_args: _Expansion | None = None
        why = ""
        frame: list[Any] = []  # this call's Python frame, once needed
        for e in prior:
            changed = [
                p
                for p, classes in e.passed.items()
                if self.passed(callee, receiver, call, p, passed) not in (None, classes)
            ]
            if changed or self.other_args(callee, receiver, call, e, frame):
                continue
            fits_args = fits_args or e
            deeper = e.reveal is not None and remaining >= e.reveal
            if not deeper and all(x in self.stack for x in e.recursed):
                if e.reveal is not None:
                    self.cut(e.reveal - remaining)  # what it shows was cut: so is what the callers show
                for x in e.recursed:
                    self.recursion(x)
                return f"expanded at step {e.n}", ""
            why = why or ("the depth limit" if deeper else "a recursion")
        if len(prior) >= MAX_EXPANSIONS:
            return f"expanded at step {(fits_args or prior[0]).n}", ""
        if fits_args is not None:
            return "", f"expanded again: {why} cut it before"
        first = prior[0]
        changed = [(p, passed[p], old) for p, old in first.passed.items() if passed.get(p) not in (None, old)]
        now = ", ".join(f"{p}: {_class_names(classes)}" for p, classes, _ in changed)
        before = ", ".join(_class_names(old) for _, _, old in changed)
        for p, classes, old in self.other_args(callee, receiver, call, first, frame):
            if p not in first.passed:
                now += f"{', ' if now else ''}{p}: {_labels(classes)}"
                before += f"{', ' if before else ''}{_labels(old)}"
        if not now:  # what differs is from a later walk than the first: no one pair of classes to name
            return "", "expanded again for other arguments"
        return "", f"expanded again for {now} (before: {before})"

    def entry_frame(self, callee: Any, receiver: Any, call: CallSite) -> Any:
        """The Python frame ``callee`` is walked in when this call enters it (None for Rust)."""
        resolver = self.resolver(callee)
        if not isinstance(resolver, PythonResolver):
            return None
        return resolver.walk_frame([*self.path, (callee, receiver, call)])

    def other_args(
        self, callee: Any, receiver: Any, call: CallSite, e: _Expansion, frame: list[Any]
    ) -> list[tuple[str, Any, Any]]:
        """The parameters the resolutions below the walk ``e`` read from what its call passed, to which this
        call (its frame kept in ``frame``) passes other workspace classes: ``(parameter, now, then)``."""
        resolver = self.resolver(callee)
        reads = resolver.reads(e.frame) if isinstance(resolver, PythonResolver) else ()
        if not reads:
            return []
        if not frame:
            frame.append(self.entry_frame(callee, receiver, call))
        out = []
        for p in reads:
            now = resolver.passed_classes(frame[0], p)
            then = resolver.passed_classes(e.frame, p)
            if now is not None and now != then:
                out.append((p, now, then))
        return out

    def passed(
        self, callee: Any, receiver: Any, call: CallSite, name: str, cache: dict[str, tuple[Any, ...] | None]
    ) -> tuple[Any, ...] | None:
        """What this call passes to parameter ``name`` of ``callee``, as a hand-off below it would read it."""
        if name not in cache:
            reads: list[tuple[int, str, tuple[Any, ...]]] = []
            cache[name] = self.handoffs.passed([*self.path, (callee, receiver, call)], name, reads)
            self.note_reads(reads)
        return cache[name]

    def step(
        self,
        caller: Loc,
        call: CallSite,
        site: Site,
        depth: int,
        outcome: Outcome,
        callee: Any,
        resolution: Resolution,
        candidate_of: int = 0,
    ) -> None:
        """Record one step to ``callee`` (or to ``outcome``'s construction or target) and walk into it when
        the stop rules allow."""
        target_sym = callee or (outcome.constructs if not candidate_of else None)
        note, enter = "", False
        name = target_sym.qualname if target_sym else outcome.target
        target = name if candidate_of else outcome.target
        stop = matches(name, self.spec.stop_at) or (
            matches(outcome.target, self.spec.stop_at) if outcome.target != name and not candidate_of else None
        )
        receiver = outcome.receiver if callee is not None else None
        if candidate_of and outcome.receivers and callee in outcome.candidates:
            receiver = outcome.receivers[outcome.candidates.index(callee)]
        if stop:
            note = "stop"
            if name not in self.stops:
                self.stops.append(name)
        elif callee is not None:
            module = callee.module
            reused, again = "", ""
            if callee not in self.stack and (callee, receiver) in self.expanded:
                reused, again = self.reuse(callee, receiver, depth, call)
            if callee in self.stack:
                note = "recursion"
                self.recursion(callee)
            elif reused:
                note = reused
            elif depth >= self.spec.depth:
                note = "depth limit"
                self.cut(depth - self.spec.depth + 1)
            elif self.spec.include and not matches(module, self.spec.include):
                note = "not included"
            elif matches(module, self.spec.exclude):
                note = "excluded"
            else:
                enter = True
                note = again
        if not note and (not enter or outcome.kind in (StepKind.PY_TO_RUST, StepKind.RUST_TO_PY)):
            note = outcome.note  # a crossing always says how it crossed
        d = target_sym.definition if target_sym else None
        signature = _signature(d) if d is not None and d.kind == "function" else None
        n = len(self.steps) + 1
        self.steps.append(
            Step(
                n=n,
                depth=depth,
                caller=caller,
                callee=target_sym.loc() if target_sym else None,
                target=target,
                site=site,
                kind=outcome.kind or call.kind,
                resolution=resolution,
                signature=signature,
                handlers=call.handlers,
                entered=enter,
                note=note,
                propagates=call.propagates,
                candidate_of=candidate_of,
            )
        )
        if enter and callee is not None:
            self.expanded.setdefault((callee, receiver), n)
            expansion = _Expansion(n, self.spec.depth - depth, frame=self.entry_frame(callee, receiver, call))
            self.expansions.setdefault((callee, receiver), []).append(expansion)
            self.walk(callee, depth, receiver, call, expansion)
        self.bridged(n - 1)

    def bridged(self, index: int) -> None:
        """Take the declared bridges that start at step ``index`` (see :mod:`.bridges`)."""
        if self.bridges is not None and index < len(self.steps):
            self.bridges.after(self, self.steps[index])

    def resume(self, sym: Any, call: CallSite, depth: int, outcome: Outcome, at: int) -> None:
        """After a ``queue`` hand-off (its steps start at index ``at``) whose consumers the walk entered: the
        long-running loop that drives them (:meth:`.resolve.handoff.PyHandoffs.consumer_loops`; one per
        receiving process), as steps from the loop down to the consumer (the first marked ``consumer loop``;
        none walked again), then the loop's calls after that chain, in source order, walked under the usual
        rules: what the consumer built is what the loop runs next. A loop met again is named, not walked twice."""
        if outcome.kind is not StepKind.QUEUE or self.handoffs is None or self.truncated:
            return
        walked = {s.callee: s.n for s in self.steps[at:] if s.entered and s.depth == depth}
        consumers = [c for c in (outcome.candidates or (outcome.callee,)) if c is not None and c.loc() in walked]
        for plan in self.handoffs.consumer_loops(sym, call, consumers) if consumers else ():
            if self.full():
                return
            self.resume_loop(plan, depth, walked)

    def resume_loop(self, plan: Any, depth: int, walked: dict[Loc | None, int]) -> None:
        """One consumer loop of :meth:`resume`: its chain down to the consumer, then its later calls."""
        loop = plan.loop
        again = self.resumed.get(loop)
        last = len(plan.chain) - 1
        for i, link in enumerate((*plan.chain, *plan.also)):
            if self.full():
                return
            level = min(i, last)  # the other consumers the loop reaches the same way sit beside the last link
            if i == 0:
                note = plan.note() + (f"; resumed at step {again}" if again else "")
            elif link.callee.loc() in walked:
                note = f"expanded at step {walked[link.callee.loc()]}"
            else:
                note = "leads to the consumer"
            self.steps.append(
                Step(
                    n=len(self.steps) + 1,
                    depth=depth + level,
                    caller=link.caller.loc(),
                    callee=link.callee.loc(),
                    target=link.callee.qualname,
                    site=Site(link.caller.repo, link.caller.path, link.call.line),
                    kind=link.call.kind,
                    resolution=link.resolution,
                    signature=_signature(link.callee.definition),
                    handlers=link.call.handlers,
                    note=note,
                )
            )
            if i == 0:
                self.resumed.setdefault(loop, len(self.steps))
                self.expanded.setdefault((loop, plan.self_value), len(self.steps))
        events = self.events(loop)
        lead = next((i for i, e in enumerate(events) if e is plan.chain[0].call), None)
        if again or lead is None or loop in self.stack:
            return
        caller = loop.loc()
        self.stack.append(loop)
        self.path.append((loop, plan.self_value, None))
        self.open.append(None)
        for event in events[lead + 1 :]:
            if event.line > plan.end_line or self.full():
                continue
            site = Site(loop.repo, loop.path, event.line)
            if isinstance(event, RaiseSite):
                self.steps.append(
                    Step(len(self.steps) + 1, depth, caller, None, event.text, site, StepKind.RAISE, Resolution.DIRECT)
                )
                continue
            self.call(loop, caller, event, site, depth, plan.self_value)
            if self.truncated:
                break
        self.open.pop()
        self.path.pop()
        self.stack.pop()

    def dispatch(self, caller: Loc, call: CallSite, site: Site, depth: int, outcome: Outcome) -> None:
        """A call with several possible callees: one step naming them all (its callee is the declaration
        they implement, when known), then one step per candidate, each walked like a direct call."""
        decl = outcome.callee
        candidates = list(outcome.candidates)
        name = decl.qualname if decl is not None else outcome.target
        stop = matches(name, self.spec.stop_at)
        allowed = [
            c
            for c in candidates
            if not (self.spec.include and not matches(c.module, self.spec.include))
            and not matches(c.module, self.spec.exclude)
        ]
        note = outcome.note or f"{len(candidates)} candidates"
        if stop:
            note = "stop"
            if name not in self.stops:
                self.stops.append(name)
        elif len(candidates) > 1 and len(allowed) == 1:
            note = f"narrowed to {allowed[0].qualname} by the flow spec"
        d = decl.definition if decl is not None else None
        signature = _signature(d) if d is not None and d.kind == "function" else None
        n = len(self.steps) + 1
        self.steps.append(
            Step(
                n=n,
                depth=depth,
                caller=caller,
                callee=decl.loc() if decl is not None else None,
                target=outcome.target,
                site=site,
                kind=outcome.kind or call.kind,
                resolution=Resolution.CANDIDATES,
                signature=signature,
                handlers=call.handlers,
                candidates=tuple(c.loc() for c in candidates),
                note=note,
                propagates=call.propagates,
            )
        )
        if stop:
            return
        for candidate in candidates:
            if self.full():
                break
            self.step(caller, call, site, depth, outcome, candidate, Resolution.CANDIDATES, candidate_of=n)


def _resolve_entry(spec: FlowSpec, resolvers: dict[Lang, Any]) -> Any:
    """The entry symbol. A bare name (``main``, neither dotted nor a ``::`` path) may be either language:
    Python is asked first, then Rust; an ambiguity found by Rust is the more useful error."""
    if is_rust_entry(spec.entry):
        return resolvers[Lang.RUST].resolve_entry(spec.entry, spec.repo)
    try:
        return resolvers[Lang.PYTHON].resolve_entry(spec.entry, spec.repo)
    except CodetraceError as python_error:
        if not spec.entry.isidentifier():
            raise
        try:
            return resolvers[Lang.RUST].resolve_entry(spec.entry, spec.repo)
        except CodetraceError as rust_error:
            if "ambiguous" in rust_error.diagnostic.message:
                raise rust_error from None
            raise python_error from None


def _arm_bridges(walk: _Walk, resolvers: dict[Lang, Any]) -> list[Diagnostic]:
    """Resolve the spec's ``:bridge:`` ends before the walk (:mod:`.bridges`); returns the ends that did not."""
    spec = walk.spec
    if not spec.bridges:
        return []
    walk.bridges, problems = Bridges.prepare(
        spec,
        lambda text, repo: _resolve_entry(replace(spec, entry=text, repo=repo), resolvers),
        resolvers[Lang.PYTHON].resolve_entry,
    )
    return problems


def _labels(classes: tuple[tuple[str, str], ...] | None) -> str:
    """``A | [B]`` for what :meth:`.resolve.python.PythonResolver.passed_classes` gives (``?``: nothing)."""
    return " | ".join(label for _, label in classes or ()) or "?"


def _class_names(classes: tuple[Any, ...]) -> str:
    """``A | B`` for the classes a parameter was given (``?`` when none is known)."""
    return " | ".join(c.definition.name for c in classes) or "unknown"


def workspace_feeds(workspace: Workspace) -> Feeds:
    """:func:`.paths.source_feeds` over the workspace's files (read through it: contained, size-capped)."""

    def read(repo: str, path: str) -> str | None:
        try:
            return workspace.repos[repo].read_text(path)
        except (CodetraceError, KeyError):
            return None

    return source_feeds(read)


def _signature(d: Any) -> Signature:
    """The data a step carries: the callee definition's parameter and return types, as written (PyO3's GIL
    token ``py: Python<'_>`` is not data, and is left out)."""
    params = tuple(p for p in d.params if not (p.annotation == "Python" or (p.annotation or "").startswith("Python<")))
    return Signature(params, d.returns, d.is_async)


def trace_flow(
    spec: FlowSpec,
    workspace: Workspace,
    index: Index,
    resolver: PythonResolver | None = None,
    rust: RustResolver | None = None,
    time_budget: float | None = None,
    crossings: PyO3Bridge | None = None,
    handoffs: PyHandoffs | None = None,
) -> Trace:
    """Trace one flow. Raises :class:`CodetraceError` when the entry does not resolve; problems met on the
    way (unparsable files) are returned in ``Trace.warnings``."""
    resolvers: dict[Lang, Any] = {
        Lang.PYTHON: resolver or PythonResolver(workspace, index),
        Lang.RUST: rust or RustResolver(workspace, index),
    }
    if crossings is None:
        crossings = PyO3Bridge(workspace, resolvers[Lang.PYTHON], resolvers[Lang.RUST])
    refused_before = {name: len(repo.refused) for name, repo in workspace.repos.items()}
    deadline = time.monotonic() + time_budget if time_budget else None
    with index.recording() as touched:
        if spec.repo is not None:
            workspace.repo(spec.repo)  # unknown repo: a clear error before anything else
        entry = _resolve_entry(spec, resolvers)
        walk = _Walk(spec, resolvers, deadline, crossings)
        walk.handoffs = handoffs or PyHandoffs(workspace, resolvers[Lang.PYTHON])
        walk.expanded[entry, None] = 0
        declared = _arm_bridges(walk, resolvers)
        walk.walk(entry, 0)
        if walk.bridges is not None:
            walk.bridges.at_entry(walk, entry)
            declared += walk.bridges.unreached(walk.truncated)
    problems: list[Diagnostic] = []
    for name, repo in workspace.repos.items():  # paths this trace met that lead outside their repo
        problems.extend(repo.refused[refused_before[name] :])
    files: list[str] = []
    for repo_name, relpath in sorted(touched):
        repo = workspace.repos[repo_name]
        files.append(str(repo.root / relpath))
        problem = index.problem(repo_name, relpath)
        if problem is not None:
            problems.append(problem)
    steps = walk.steps
    if spec.paths_only is not None:
        steps, more = paths_only(steps, spec.paths_only, walk.truncated, workspace_feeds(workspace))
        declared += more
    problems += declared
    d = entry.definition
    return Trace(
        title=spec.title,
        entry=entry.loc(),
        entry_signature=_signature(d),
        steps=tuple(steps),
        stops=tuple(walk.stops),
        truncated=walk.truncated,
        truncation=walk.truncation,
        files=tuple(files),
        warnings=tuple(problems),
    )


class Engine:
    """The analysis stages wired together for one workspace: what the directive and the CLI use.

    With a cache directory, finished traces are stored with what they depended on and reused while all of it
    holds (:mod:`.tracecache`): a warm build runs no resolution. Each trace that is computed gets Python
    resolvers of its own (facts and the Rust crates are shared): an answer memoised for an earlier flow would
    hide from this one the files it was computed from, and the files a trace read are what the Sphinx layer
    declares and what the trace cache checks."""

    def __init__(self, workspace: Workspace, cache_dir: Path | None = None, time_budget: float | None = None) -> None:
        behind.wait()  # what an earlier engine of this process is still writing to the caches
        self.workspace = workspace
        self.time_budget = time_budget  # seconds one trace may take before it is truncated (None: no limit)
        self.index = Index(workspace, cache_dir)
        self.rust = RustResolver(workspace, self.index)
        self._new_python()
        self.traces = TraceCache(cache_dir) if cache_dir else None
        self.checker = Checker(workspace, cache_dir)
        self.index.digest = self.checker.read  # stat-cached digests: stored text indexes need no read
        self.last_files: list[str] = []
        self.traced = 0  # traces computed (not served by the trace cache): for tests and benchmarks

    def close(self) -> None:
        """Stop the workers this engine started (the text scan, the parse-ahead) and wait until the cache
        entries its traces owe are written. Optional: both also happen when the process ends."""
        self.index.close()
        behind.wait()

    def _new_python(self) -> None:
        self.python = PythonResolver(self.workspace, self.index)
        self.crossings = PyO3Bridge(self.workspace, self.python, self.rust)
        self.handoffs = PyHandoffs(self.workspace, self.python)
        self._python_fresh = True

    def trace(self, spec: FlowSpec) -> Trace:
        """Trace one flow (or take it from the trace cache); :attr:`last_files` then lists the files it read,
        even when it raised."""
        key = trace_key(spec, self.workspace) if self.traces is not None else ""
        hit = self.traces.lookup(key, self.checker) if self.traces is not None else None
        if hit is not None:
            self.index.touched.update(hit.touched)
            self.workspace.replay(hit.deps)
            self.last_files = sorted(str(self.workspace.repos[r].root / p) for r, p in hit.touched)
            return hit.trace
        if not self._python_fresh:
            self._new_python()
        self._python_fresh = False
        self.traced += 1
        self.index.scan_ahead(SCANNED_AHEAD)
        with rare_full_collections():  # the bookkeeping after the walk too: it allocates much
            facts = self.index.cache
            with (
                self.workspace.recording() as deps,
                self.workspace.listed(),
                self.index.recording() as touched,
                facts.deferring() if facts is not None else contextlib.nullcontext([]) as parsed,
            ):
                try:
                    trace = trace_flow(
                        spec,
                        self.workspace,
                        self.index,
                        self.python,
                        self.rust,
                        self.time_budget,
                        self.crossings,
                        self.handoffs,
                    )
                except BaseException:
                    if facts is not None:
                        facts.write(parsed)
                    raise
                finally:
                    self.last_files = sorted(str(self.workspace.repos[r].root / p) for r, p in touched)
            traces = self.traces if trace.truncation != "time budget" else None
            scans = {}
            if traces is not None:
                for repo, relpath in touched:  # files whose facts came from the index's memory were read before
                    r = self.workspace.repos[repo]
                    deps.reads.setdefault((repo, relpath), r.digests.get(relpath) or r.content_digest(relpath))
                scans = traces.scans(deps, self.checker)
                self.checker.learn(deps.reads)
                self.checker.save()

            def store() -> None:  # the facts parsed, then the trace: behind this process when that pays
                if facts is not None:
                    facts.write(parsed)
                if traces is not None:
                    traces.write(key, trace, touched, deps, scans)

            behind.run(store, len(parsed), frozenset([key]) if traces is not None else frozenset())
        return trace


__all__ = ["CodetraceError", "Engine", "is_rust_entry", "matches", "trace_flow"]
