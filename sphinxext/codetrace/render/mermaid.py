"""Render a trace as mermaid text: a ``sequenceDiagram`` and a ``flowchart``.

Pure functions from a :class:`~sphinxext.codetrace.model.Trace` to a string; no Sphinx, no I/O. Every id is
synthetic (``p1``, ``n1``, ``g1``, numbered in order of first appearance, so output is deterministic) and
every label goes through :func:`text`, which keeps a small safe alphabet and writes everything else as a
mermaid entity code (``#35;``), so no name, type or path can close a label, start a comment or inject
markup. Links go through :func:`url`, which admits only ``http(s)`` URLs.

Sequence messages carry the step number of the step table (mermaid cannot link messages, so the table holds
the ``file:line`` links), the callee's short name with its parameter types, and returns carry the return
type. Steps the walk entered are activated and get a dashed return arrow; awaits are labelled, spawns are
async arrows (``-)``), raises are crossed arrows back to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from ..model import Loc, Resolution, Step, StepKind, Trace

#: Characters written as themselves in labels; everything else becomes ``#<code>;``.
_SAFE = re.compile(r"[A-Za-z0-9 _.,()\[\]/:=*?!@~'^+\-]")
_MAX_LABEL = 72
_MAX_CALL = 56  # the callee and its parameter types; notes after it are never cut

LinkFn = Callable[[str, str, int], "str | None"]


def text(value: str, limit: int = _MAX_LABEL) -> str:
    """``value`` as a mermaid-safe label: shortened to ``limit`` characters, unsafe characters encoded."""
    value = " ".join(value.split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    out = []
    for ch in value:
        if _SAFE.fullmatch(ch):
            out.append(ch)
        elif ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0:
            out.append(" ")
        else:
            out.append(f"#{ord(ch)};")
    return "".join(out)


def url(value: str | None) -> str | None:
    """A link safe to put between double quotes in mermaid: ``http(s)`` only, unsafe characters escaped."""
    if not value or not value.startswith(("https://", "http://")):
        return None
    return quote(value, safe=":/#?&=+-_.~%,@!$'()*;")


def _constructs(step: Step) -> bool:
    return step.callee is not None and step.callee.name.endswith(".__init__") and step.target != step.callee.name


def short_name(step: Step) -> str:
    """The name an arrow shows: the callee's last component (the class name for a construction)."""
    if _constructs(step):
        return step.target.rpartition(".")[2]
    if step.callee is not None:
        return step.callee.name.rpartition(".")[2].rpartition("::")[2]
    return step.target


def _unit(loc: Loc, group_by: str) -> tuple[str, str]:
    """(key, label) of the participant a location belongs to."""
    if group_by == "repo":
        return f"repo:{loc.repo}", loc.repo
    if group_by == "file":
        return f"file:{loc.repo}:{loc.path}", loc.path
    if group_by == "class" and loc.owner:
        return f"class:{loc.owner}", loc.owner.rpartition(".")[2]
    return f"module:{loc.module}", loc.module or loc.path


def _target_unit(step: Step, group_by: str) -> tuple[str, str]:
    if step.callee is not None:
        return _unit(step.callee, group_by)
    if step.resolution is Resolution.EXTERNAL:
        top = step.target.split(".")[0].split("(")[0]
        return f"external:{top}", f"{top} (external)"
    return "unresolved", "unresolved"


def _message(step: Step) -> str:
    """The arrow text: number, kind, callee with parameter types (cut to fit), then the notes in full."""
    label = short_name(step)
    if step.signature is not None and step.resolution is not Resolution.EXTERNAL:
        label += f"({step.signature.args_text()})"
    if len(label) > _MAX_CALL:
        label = label[: _MAX_CALL - 1] + "…"
    if step.kind is StepKind.AWAIT:
        label = "await " + label
    elif step.kind is StepKind.SPAWN:
        label = "spawn " + label
    if step.resolution is Resolution.UNRESOLVED:
        label = "? " + label
    if step.handlers:
        label += f" [except {', '.join(step.handlers)}]"
    if step.note:
        label += f" ({step.note})"
    return f"{step.n} {label}"


def sequence_diagram(trace: Trace, group_by: str = "class") -> str:
    """Mermaid ``sequenceDiagram`` text for a trace."""
    participants: dict[str, tuple[str, str]] = {}  # key -> (id, label)

    def pid(key: str, label: str) -> str:
        if key not in participants:
            participants[key] = (f"p{len(participants) + 1}", label)
        return participants[key][0]

    caller_id = pid("caller", "caller")
    entry_id = pid(*_unit(trace.entry, group_by))
    lines: list[str] = []
    entry_label = short_name_of(trace.entry)
    if trace.entry_signature is not None:
        entry_label += f"({trace.entry_signature.args_text()})"
    lines.append(f"    {caller_id}->>+{entry_id}: {text(entry_label)}")
    open_calls: list[tuple[int, str, str, str]] = []  # (depth, caller id, callee id, return label)
    for step in trace.steps:
        while open_calls and open_calls[-1][0] >= step.depth:
            _, a, b, ret = open_calls.pop()
            lines.append(f"    {b}-->>-{a}: {text(ret)}")
        src = pid(*_unit(step.caller, group_by))
        if step.kind is StepKind.RAISE:
            lines.append(f"    Note over {src}: {text(f'{step.n} raise {step.target}')}")
            continue
        dst = pid(*_target_unit(step, group_by))
        arrow = "-)" if step.kind is StepKind.SPAWN else "->>"
        if step.entered and step.kind is not StepKind.SPAWN:
            arrow += "+"
            returns = step.signature.returns if step.signature and step.signature.returns else "return"
            if _constructs(step):
                returns = step.target.rpartition(".")[2]  # __init__ returns None; the caller gets the instance
            open_calls.append((step.depth, src, dst, returns))
        lines.append(f"    {src}{arrow}{dst}: {text(_message(step), 160)}")
    while open_calls:
        _, a, b, ret = open_calls.pop()
        lines.append(f"    {b}-->>-{a}: {text(ret)}")
    entry_ret = trace.entry_signature.returns if trace.entry_signature and trace.entry_signature.returns else "return"
    lines.append(f"    {entry_id}-->>-{caller_id}: {text(entry_ret)}")
    if trace.truncated:
        lines.append(f"    Note over {entry_id}: {text(f'truncated after {len(trace.steps)} steps (max-steps)')}")
    header = ["sequenceDiagram"]
    for key, (ident, label) in participants.items():
        kind = "actor" if key == "caller" else "participant"
        header.append(f"    {kind} {ident} as {text(label, 48)}")
    return "\n".join(header + lines) + "\n"


def short_name_of(loc: Loc) -> str:
    return loc.name.rpartition(".")[2].rpartition("::")[2]


def _node_label(loc: Loc) -> str:
    if loc.owner and loc.name.startswith(loc.owner + "."):
        return loc.owner.rpartition(".")[2] + "." + loc.name[len(loc.owner) + 1 :]
    return loc.name[len(loc.module) + 1 :] if loc.module and loc.name.startswith(loc.module + ".") else loc.name


def flowchart(trace: Trace, group_by: str = "class", link: LinkFn | None = None) -> str:
    """Mermaid ``flowchart`` text: one node per function, subgraphs per module (or file, or repo),
    ``click`` links to each definition, entry and stop points marked."""
    nodes: dict[str, tuple[str, str, str, Loc | None]] = {}  # key -> (id, label, group, loc)

    def node(key: str, label: str, group: str, loc: Loc | None) -> str:
        if key not in nodes:
            nodes[key] = (f"n{len(nodes) + 1}", label, group, loc)
        return nodes[key][0]

    def group_of(loc: Loc) -> str:
        if group_by == "repo":
            return loc.repo
        if group_by == "file":
            return f"{loc.repo}:{loc.path}"
        return loc.module or loc.path

    def loc_node(loc: Loc) -> str:
        return node(f"sym:{loc.name}", _node_label(loc), group_of(loc), loc)

    entry = loc_node(trace.entry)
    edges: dict[tuple[str, str, str], list[int]] = {}
    stop_nodes: list[str] = []
    for step in trace.steps:
        if step.kind is StepKind.RAISE:
            continue
        src = loc_node(step.caller)
        if step.callee is not None:
            dst = loc_node(step.callee)
        elif step.resolution is Resolution.EXTERNAL:
            dst = node(f"ext:{step.target}", step.target, "(external)", None)
        else:
            dst = node(f"unres:{step.target}", "? " + step.target, "(unresolved)", None)
        if step.note == "stop" and dst not in stop_nodes:
            stop_nodes.append(dst)
        solid = step.callee is not None and step.kind is not StepKind.SPAWN
        style = "-->" if solid else "-.->"
        edges.setdefault((src, dst, style), []).append(step.n)
    lines = ["flowchart LR"]
    groups: dict[str, list[tuple[str, str]]] = {}
    for ident, label, group, _loc in nodes.values():
        groups.setdefault(group, []).append((ident, label))
    for index, (group, members) in enumerate(groups.items(), start=1):
        lines.append(f'    subgraph g{index}["{text(group, 60)}"]')
        for ident, label in members:
            lines.append(f'        {ident}["{text(label, 60)}"]')
        lines.append("    end")
    for (src, dst, style), numbers in edges.items():
        shown = ", ".join(str(n) for n in numbers[:6]) + (", …" if len(numbers) > 6 else "")
        lines.append(f'    {src} {style}|"{text(shown)}"| {dst}')
    if link is not None:
        for ident, label, _group, loc in nodes.values():
            href = url(link(loc.repo, loc.path, loc.line)) if loc is not None else None
            if href:
                lines.append(f'    click {ident} href "{href}" "{text(loc.name if loc else label, 100)}" _blank')
    lines.append("    classDef entry stroke-width:3px")
    lines.append("    classDef stop stroke-dasharray:4 3")
    lines.append(f"    class {entry} entry")
    if stop_nodes:
        lines.append(f"    class {','.join(stop_nodes)} stop")
    return "\n".join(lines) + "\n"
