"""Render: pure functions from a :class:`~sphinxext.codetrace.model.Trace` to text and table rows.

:mod:`.mermaid` writes the diagrams; :func:`step_rows` gives the step table's rows as plain data (the Sphinx
layer turns them into docutils nodes, the CLI could print them). Nothing here knows about docutils.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Resolution, Step, StepKind, Trace
from .mermaid import Budget, LinkFn, flowchart, sequence_diagram, text, url

__all__ = ["Budget", "Link", "StepRow", "flowchart", "sequence_diagram", "step_rows", "text", "url"]


@dataclass(frozen=True, slots=True)
class Link:
    """A ``file:line`` label and, when the repo has a link scheme, its URL."""

    label: str
    url: str | None


@dataclass(frozen=True, slots=True)
class StepRow:
    n: int
    depth: int
    caller: str
    callee: str
    kind: str
    data: str
    site: Link
    definition: Link | None


def _link(link: LinkFn, repo: str, path: str, line: int) -> Link:
    return Link(f"{repo}:{path}:{line}", url(link(repo, path, line)))


def step_rows(trace: Trace, link: LinkFn) -> list[StepRow]:
    """One row per step (plus row 0 for the entry): who calls what, how, with which data, and where."""
    sig = trace.entry_signature
    rows = [
        StepRow(
            0,
            0,
            "caller",
            trace.entry.name,
            "entry",
            _data(sig.args_text(), sig.returns) if sig else "",
            _link(link, trace.entry.repo, trace.entry.path, trace.entry.line),
            _link(link, trace.entry.repo, trace.entry.path, trace.entry.line),
        )
    ]
    for step in trace.steps:
        rows.append(
            StepRow(
                n=step.n,
                depth=step.depth,
                caller=step.caller.name,
                callee=step.callee.name if step.callee is not None else step.target,
                kind=_kind(step),
                data=_data(step.signature.args_text(), step.signature.returns) if step.signature else "",
                site=_link(link, step.site.repo, step.site.path, step.site.line),
                definition=_link(link, step.callee.repo, step.callee.path, step.callee.line)
                if step.callee is not None
                else None,
            )
        )
    return rows


def _kind(step: Step) -> str:
    parts = [step.kind.value]
    if step.kind is StepKind.BRIDGE:
        parts = ["declared bridge" + (f" ({step.label})" if step.label else "")]
    if step.resolution not in (Resolution.DIRECT, Resolution.BRIDGE) or step.kind.value == "call":
        parts.append(step.resolution.value)
    if step.handlers:
        parts.append("in try: except " + ", ".join(step.handlers))
    if step.note:
        parts.append(step.note)
    return ", ".join(dict.fromkeys(parts))


def _data(args: str, returns: str | None) -> str:
    return f"({args})" + (f" -> {returns}" if returns else "")
