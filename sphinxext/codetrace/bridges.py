"""Declared bridges: the hand-offs no static analysis can see (``:bridge: A -> B (label)``).

A network request plane or a service discovered at run time leaves no call in the source for the walk to
follow. The flow spec declares the hop instead, and the walk takes it.

Before the walk, :meth:`Bridges.prepare` resolves each bridge's ends. ``B`` (the target) is a symbol in
``:entry:`` notation, in either language, optionally ``repo:``-prefixed; it must resolve. ``A`` (the source)
is a pattern matched like ``stop-at`` (:func:`~sphinxext.codetrace.trace.matches`) against the callee's
qualified name and the target text of every step the walk records, so a call the engine cannot enter (an
external ``client.generate``) is matched by its text; a dotted Python name is also matched by the definition
it resolves to (a re-export). A source in file form (``mod.py::f``, ``lib.rs::T::f``), with a ``repo:``
prefix or a ``crate::`` path names one definition and must resolve.

During the walk, :meth:`Bridges.after` sees each recorded step. The first step that matches a bridge's source
fires it (once per trace, so a bridge cannot loop): a step of kind and resolution ``bridge``, carrying the
declared label, to ``B``, which the walk then enters under the usual stop rules. When the walk entered the
matched function, the bridge leaves from it, after its own calls, one level deeper; otherwise (an external
call, a stop point) it leaves from the function that made the call, right after that step, at its depth.
A bridge end that does not resolve (``unresolved``) and a bridge whose source the walk never reached
(``drift``) are warnings; the trace is made without them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from .diagnostics import CodetraceError, Diagnostic
from .model import CallSite, Resolution, Site, Step, StepKind
from .resolve import Outcome
from .spec import Bridge, FlowSpec, split_repo

_GLOB = re.compile(r"[*?\[]")
Resolve = Callable[[str, "str | None"], Any]


@dataclass(slots=True)
class _Armed:
    """A bridge whose target resolved, waiting for the walk to reach its source."""

    bridge: Bridge
    target: Any  # B's symbol
    pattern: str  # A as a stop-at pattern; "" when A had to resolve to one definition
    names: tuple[str, ...] = ()  # qualified names A resolved to
    fired: bool = False

    def hit(self, names: Iterable[str]) -> bool:
        from .trace import matches

        return any(name in self.names or (self.pattern and matches(name, (self.pattern,))) for name in names)


def _names_one_definition(text: str) -> bool:
    """A source written so that it can only mean one definition: a file form, a ``repo:`` prefix, ``crate::``."""
    return (
        ".py::" in text
        or ".pyi::" in text
        or ".rs::" in text
        or text.startswith("crate::")
        or bool(split_repo(text)[0])
    )


def _end_problem(bridge: Bridge, end: str, error: CodetraceError) -> Diagnostic:
    text = bridge.target if end == "target" else bridge.source
    why = error.diagnostic.message.removeprefix("entry ")  # the resolvers word it for :entry:
    why = why.removeprefix(f"{split_repo(text)[1]!r}: ")
    message = f"bridge {bridge}: its {end} {text!r} does not resolve: {why}"
    return Diagnostic("unresolved", message, error.diagnostic.hint or "write it as :entry: would name it")


class Bridges:
    """The flow spec's bridges during one walk (see the module docstring)."""

    def __init__(self, armed: list[_Armed]) -> None:
        self.armed = armed

    @classmethod
    def prepare(cls, spec: FlowSpec, resolve: Resolve, resolve_python: Resolve) -> tuple[Bridges, list[Diagnostic]]:
        """Resolve every bridge's ends: ``resolve(text, repo)`` finds a symbol as the entry is found (either
        language), ``resolve_python`` a dotted Python name only (cheap: tried on plain dotted sources). A
        bridge with an end that does not resolve is left out, with a diagnostic."""
        armed: list[_Armed] = []
        problems: list[Diagnostic] = []
        for bridge in spec.bridges:
            try:
                target = resolve(*reversed(split_repo(bridge.target)))
            except CodetraceError as error:
                problems.append(_end_problem(bridge, "target", error))
                continue
            source = bridge.source
            if _GLOB.search(source):
                armed.append(_Armed(bridge, target, source))
            elif _names_one_definition(source):
                try:
                    symbol = resolve(*reversed(split_repo(source)))
                except CodetraceError as error:
                    problems.append(_end_problem(bridge, "source", error))
                    continue
                armed.append(_Armed(bridge, target, "", (symbol.qualname,)))
            else:
                names: tuple[str, ...] = ()
                if "." in source and "::" not in source:
                    # not a definition of the repos: only a pattern, for external calls (client.generate)
                    with contextlib.suppress(CodetraceError):
                        names = (resolve_python(source, None).qualname,)
                armed.append(_Armed(bridge, target, source, names))
        return cls(armed), problems

    def after(self, walk: Any, step: Step) -> None:
        """Fire the bridges whose source ``step`` matches (called by the walk once ``step`` is recorded and,
        when it was entered, walked)."""
        if step.kind is StepKind.RAISE:
            return
        names = [step.callee.name] if step.callee is not None else []
        if step.target not in names:
            names.append(step.target)
        for armed in self.armed:
            if armed.fired or not armed.hit(names):
                continue
            armed.fired = True
            if step.entered and step.callee is not None:
                site = Site(step.callee.repo, step.callee.path, step.callee.line)
                self._record(walk, armed, step.callee, step.depth + 1, site)
            else:
                self._record(walk, armed, step.caller, step.depth, step.site)

    def at_entry(self, walk: Any, entry: Any) -> None:
        """Fire the bridges whose source is the entry itself: from the entry, after its calls."""
        loc = entry.loc()
        for armed in self.armed:
            if not armed.fired and armed.hit([loc.name]):
                armed.fired = True
                self._record(walk, armed, loc, 1, Site(loc.repo, loc.path, loc.line))

    def _record(self, walk: Any, armed: _Armed, caller: Any, depth: int, site: Site) -> None:
        if walk.full():
            return
        target = armed.target
        call = CallSite("", site.line, 0, (), str(armed.bridge), StepKind.BRIDGE)
        outcome = Outcome(Resolution.BRIDGE, target.qualname, callee=target, kind=StepKind.BRIDGE)
        at = len(walk.steps)
        walk.step(caller, call, site, depth, outcome, target, Resolution.BRIDGE)
        walk.steps[at] = replace(walk.steps[at], label=armed.bridge.label)

    def unreached(self, truncated: bool) -> list[Diagnostic]:
        """A ``drift`` diagnostic for each bridge the walk never reached."""
        problems = []
        for armed in self.armed:
            if armed.fired:
                continue
            message = f"bridge {armed.bridge} was never reached: no step of the trace calls or enters"
            message += f" {armed.bridge.source!r}"
            if truncated:
                message += " before the trace was truncated"
            hint = (
                "name a function or call the walk reaches before it stops (see :stop-at:, :depth:, :exclude:);"
                " a call the engine cannot enter is matched by its text, e.g. 'self.client.generate'"
            )
            problems.append(Diagnostic("drift", message, hint))
        return problems


__all__ = ["Bridges"]
