"""Resolve: names to symbols, one resolver per language (:mod:`.python`, :mod:`.rust`).

This package holds what every resolver shares: :class:`Outcome`, the answer for one call site. The walk in
:mod:`sphinxext.codetrace.trace` only relies on this and on a small duck-typed surface of each resolver
(``facts_of(repo, path)``, ``resolve_entry(text, repo)``, ``resolve_call(sym, call, self_class)``) and of
its symbols (``repo``, ``path``, ``module``, ``definition``, ``qualname``, ``loc()``). Nothing here resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Resolution, StepKind


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call site resolved to: a symbol to walk into, an external name, candidates, or nothing.

    ``candidates`` (dynamic dispatch: a trait method called on ``dyn Trait``, ``impl Trait`` or a generic
    bound) are the symbols the call may reach; ``callee`` is then the declaration they implement, when it is
    in the workspace. ``kind`` overrides the call site's step kind (a channel ``send`` is a queue hand-off),
    ``note`` says something the step should show (``"only impl in the workspace"``). ``receiver`` is what the
    walk enters the callee with: the instance (or type) a method was called on, or for a Python function
    defined inside another one the value that remembers the call it was made in (its closure);
    ``receivers`` gives the same per candidate.
    """

    resolution: Resolution
    target: str  # readable callee: qualified name, external name, or the source text
    callee: Any = None  # the symbol to walk into
    constructs: Any = None  # the class, when the call instantiates it
    receiver: Any = None  # the class/type of the instance a method was called on
    quiet: bool = False  # a builtin helper call: not drawn
    candidates: tuple[Any, ...] = ()
    kind: StepKind | None = None
    note: str = ""
    receivers: tuple[Any, ...] = ()  # per candidate (same order), what the walk enters it with, when known


__all__ = ["Outcome"]
