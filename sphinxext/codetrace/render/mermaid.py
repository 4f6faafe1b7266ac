"""Render a trace as mermaid text: a ``sequenceDiagram`` and a ``flowchart``.

Pure functions from a :class:`~sphinxext.codetrace.model.Trace` to a string; no Sphinx, no I/O. Every id is
synthetic (``p1``, ``n1``, ``g1``, numbered in order of first appearance, so output is deterministic) and
every label goes through :func:`text`, which keeps a small safe alphabet and writes everything else as a
mermaid entity code (``#35;``), so no name, type or path can close a label, start a comment or inject
markup. Links go through :func:`url`, which admits only ``http(s)`` URLs.

The sequence diagram numbers its arrows with mermaid's ``autonumber``, kept equal to the step numbers of the
step table (which holds the ``file:line`` links): returns are drawn with numbering switched off. Arrow kinds:
a certain call is ``->>``, a candidate of dynamic dispatch ``->`` (no arrowhead), ``await``/spawn/queue
hand-offs are async arrows ``-)``, a bridge the flow spec declares is a dashed async arrow ``--)`` with a note
naming its label, returns dashed ``-->>`` with the return type, raises ``--x`` back to the caller inside a
``break`` block. Calls guarded by ``except`` clauses sit in a ``critical`` block naming the
handlers; language crossings get a note. Participants are grouped into ``box``es by repo and language.

Large flows stay readable: a :class:`Budget` of messages collapses the deepest sub-chains into the arrow that
leads to them (``+N calls``), too many participants fall back to a coarser grouping, and ``hide`` patterns drop
steps (and what they call) from the diagrams; each of these leaves a visible note. The step table always
lists every step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import quote

from ..model import Lang, Loc, Resolution, Step, StepKind, Trace

#: Characters written as themselves in labels; everything else becomes ``#<code>;``.
_SAFE = re.compile(r"[A-Za-z0-9 _.,()\[\]/:=*?!@~'^+\-]")
_MAX_LABEL = 72
_MAX_CALL = 56  # the callee and its parameter types; notes after it are never cut

LinkFn = Callable[[str, str, int], "str | None"]

_BOX_COLOURS = {Lang.PYTHON: "rgb(235,243,255)", Lang.RUST: "rgb(255,240,228)", None: "rgb(242,242,242)"}
_COARSER = {"class": "module", "module": "file", "file": "repo"}
_ASYNC_KINDS = (StepKind.AWAIT, StepKind.SPAWN, StepKind.QUEUE)
_CROSSINGS = (StepKind.PY_TO_RUST, StepKind.RUST_TO_PY, StepKind.BRIDGE)
_LOOP = "\0loop"  # marks a consumer loop's block among the open blocks (no handler is named so)


#: Steps one flowchart draws before folding the deepest calls: mermaid refuses a flowchart of more than 500
#: edges (its ``maxEdges``), and one that large is unreadable anyway.
MAX_FLOW_EDGES = 400
#: Nodes up to which a flowchart groups them in subgraphs (modules in repos). Above it, no subgraphs, and each
#: label starts with its module: mermaid's layout (dagre) fails on some large clustered graphs ("Cannot set
#: properties of undefined (setting 'order')": the real kv-events flow, this project's own directive), never
#: on the same graphs without clusters.
NEST_LIMIT = 60


@dataclass(frozen=True, slots=True)
class Budget:
    """How much one diagram may show before it collapses: arrows (calls and returns) and participants."""

    messages: int = 150
    participants: int = 16


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


def _quoted(value: str, limit: int = 60) -> str:
    """A label for mermaid's ``["..."]`` shapes, which reject an empty string: blank names show as a space."""
    return text(value, limit) or "#160;"


def url(value: str | None) -> str | None:
    """A link safe to put between double quotes in mermaid: ``http(s)`` only, unsafe characters escaped."""
    if not value or not value.startswith(("https://", "http://")):
        return None
    # ';' ends a statement in a sequence diagram's unquoted `link` lines: always percent-encoded
    return quote(value, safe=":/#?&=+-_.~%,@!$'()*")


# -- what to show -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _View:
    """The steps a diagram shows, after ``hide`` and the message budget, with what was left out."""

    steps: list[Step]
    collapsed: dict[int, int] = field(default_factory=dict)  # step n -> calls folded into it
    hidden: int = 0
    depth_cut: int | None = None
    dropped: int = 0  # top-level steps past the budget: listed in the table only


def _name(step: Step) -> str:
    return step.callee.name if step.callee is not None else step.target


def _subtree_sizes(steps: Sequence[Step]) -> list[int]:
    """For each step, how many of the following steps are its sub-chain (deeper, before the next sibling)."""
    sizes = [0] * len(steps)
    open_at: list[int] = []  # indexes of the steps whose sub-chain is still running
    for i, step in enumerate(steps):
        while open_at and steps[open_at[-1]].depth >= step.depth:
            top = open_at.pop()
            sizes[top] = i - top - 1
        open_at.append(i)
    for top in open_at:
        sizes[top] = len(steps) - top - 1
    return sizes


def _message_count(steps: Sequence[Step]) -> int:
    return sum(2 if s.entered and s.kind not in (StepKind.SPAWN, StepKind.QUEUE) else 1 for s in steps)


def select(trace: Trace, hide: Sequence[str] = (), budget: Budget | None = None) -> _View:
    """Apply ``hide`` patterns, then fold the deepest sub-chains until the message budget holds."""
    steps = list(trace.steps)
    hidden = 0
    if hide:
        kept: list[Step] = []
        skip_below: int | None = None
        for step in steps:
            if skip_below is not None and step.depth > skip_below:
                hidden += 1
                continue
            skip_below = None
            if any(fnmatchcase(_name(step), p) or _name(step).endswith("." + p) for p in hide):
                hidden += 1
                skip_below = step.depth
                continue
            kept.append(step)
        steps = kept
    view = _View(steps, hidden=hidden)
    budget = budget or Budget()
    if _message_count(steps) <= budget.messages:
        return view
    sizes = _subtree_sizes(steps)
    for cut in range(max((s.depth for s in steps), default=1) - 1, 0, -1):
        shown = [s for s in steps if s.depth <= cut]
        if _message_count(shown) <= budget.messages or cut == 1:
            view.steps, view.depth_cut = shown, cut
            view.collapsed = {s.n: sizes[i] for i, s in enumerate(steps) if s.depth == cut and sizes[i]}
            break
    while view.steps and _message_count(view.steps) > budget.messages:  # even the top level is too long
        view.steps.pop()
        view.dropped += 1
    return view


# -- labels ------------------------------------------------------------------------------------------------------


def _constructs(step: Step) -> bool:
    return step.callee is not None and step.callee.name.endswith(".__init__") and step.target != step.callee.name


def short_name(step: Step) -> str:
    """The name an arrow shows: the callee's last component (the class name for a construction)."""
    if _constructs(step):
        return step.target.rpartition(".")[2]
    if step.callee is not None:
        return short_name_of(step.callee)
    return step.target


def short_name_of(loc: Loc) -> str:
    return loc.name.rpartition(".")[2].rpartition("::")[2]


def _message(step: Step, collapsed: int = 0) -> str:
    """The arrow text: kind, callee with parameter types (cut to fit), then the notes in full."""
    label = short_name(step)
    if step.signature is not None and step.resolution is not Resolution.EXTERNAL:
        label += f"({step.signature.args_text()})"
    if len(label) > _MAX_CALL:
        label = label[: _MAX_CALL - 1] + "…"
    if step.kind in (StepKind.AWAIT, StepKind.SPAWN, StepKind.QUEUE, StepKind.BRIDGE):
        label = f"{step.kind.value} {label}"
    if step.resolution is Resolution.UNRESOLVED:
        label = "? " + label
    elif step.resolution is Resolution.CANDIDATES:
        label = f"candidate: {label}"
    if step.note:
        label += f" ({step.note})"
    if collapsed:
        label += f" (+{collapsed} calls)"
    return label


def _unit(loc: Loc, group_by: str) -> tuple[str, str]:
    """(key, label) of the participant a location belongs to."""
    if group_by == "repo":
        return f"repo:{loc.repo}", loc.repo
    if group_by == "file":
        return f"file:{loc.repo}:{loc.path}", loc.path
    if group_by == "class" and loc.owner:
        return f"class:{loc.owner}", _tail(loc.owner)
    return f"module:{loc.repo}:{loc.module}", loc.module or loc.path


def _tail(name: str) -> str:
    return name.rpartition(".")[2].rpartition("::")[2]


def _target_unit(step: Step, group_by: str) -> tuple[str, str]:
    if step.callee is not None:
        return _unit(step.callee, group_by)
    if step.resolution is Resolution.EXTERNAL:
        top = re.split(r"[.(]|::", step.target)[0]
        return f"external:{top}", f"{top} (external)"
    return "unresolved", "unresolved"


def _box_of(key: str, loc: Loc | None) -> tuple[str, Lang | None]:
    if key.startswith("external:"):
        return "external", None
    if key == "unresolved" or loc is None:
        return "unresolved", None
    return f"{loc.repo} ({loc.lang.value})", loc.lang


# -- sequence diagram --------------------------------------------------------------------------------------------


def _units(view: _View, trace: Trace, group_by: str) -> int:
    keys = {_unit(trace.entry, group_by)[0]}
    for step in view.steps:
        keys.add(_unit(step.caller, group_by)[0])
        keys.add(_target_unit(step, group_by)[0])
    return len(keys)


def sequence_diagram(
    trace: Trace,
    group_by: str = "class",
    hide: Sequence[str] = (),
    budget: Budget | None = None,
    link: LinkFn | None = None,
) -> str:
    """Mermaid ``sequenceDiagram`` text for a trace (see the module docstring for the notation)."""
    budget = budget or Budget()
    view = select(trace, hide, budget)
    notes: list[str] = []
    wanted = group_by
    while _units(view, trace, group_by) > budget.participants and group_by in _COARSER:
        group_by = _COARSER[group_by]
    if group_by != wanted:
        notes.append(f"participants grouped by {group_by}: more than {budget.participants} {wanted} units")

    participants: dict[str, tuple[str, str, Loc | None]] = {}  # key -> (id, label, a location in it)
    links: dict[str, list[tuple[str, str]]] = {}

    def pid(key: str, label: str, loc: Loc | None) -> str:
        if key not in participants:
            participants[key] = (f"p{len(participants) + 1}", label, loc)
        ident = participants[key][0]
        if link is not None and loc is not None:
            href = url(link(loc.repo, loc.path, loc.line))
            entries = links.setdefault(ident, [])
            if href and len(entries) < 6 and all(h != href for _, h in entries):
                entries.append((short_name_of(loc), href))
        return ident

    caller_id = pid("caller", "caller", None)
    entry_id = pid(*_unit(trace.entry, group_by), trace.entry)
    body: list[str] = []
    numbering = {"next": 1, "on": True}

    def number(n: int | None) -> None:
        """Keep mermaid's autonumber equal to the step number ``n`` (None: an unnumbered arrow)."""
        if n is None:
            if numbering["on"]:
                body.append("    autonumber off")
                numbering["on"] = False
            return
        if not numbering["on"] or numbering["next"] != n:
            body.append(f"    autonumber {n}")
            numbering["on"] = True
        numbering["next"] = n + 1

    entry_label = short_name_of(trace.entry)
    if trace.entry_signature is not None:
        entry_label += f"({trace.entry_signature.args_text()})"
    number(None)
    body.append(f"    {caller_id}->>+{entry_id}: {text(entry_label, 160)}")

    # open calls: (depth, caller id, callee id, return label); frames: depth -> participant of that frame
    open_calls: list[tuple[int, str, str, str]] = []
    frames: dict[int, str] = {0: entry_id}
    # open blocks: `critical` ones as (depth, handlers); the `loop` around a consumer loop's steps (see
    # resolve/handoff.py) sits half a level above them, as (depth - 0.5, (_LOOP, loop function))
    blocks: list[tuple[float, tuple[str, ...]]] = []

    def close_blocks(deeper_than: int) -> None:
        while blocks and blocks[-1][0] > deeper_than:
            blocks.pop()
            body.append("    end")

    def close_calls(depth: int) -> None:
        while open_calls and open_calls[-1][0] >= depth:
            d, a, b, ret = open_calls.pop()
            close_blocks(d)
            number(None)
            body.append(f"    {b}-->>-{a}: {text(ret)}")

    for step in view.steps:
        close_calls(step.depth)
        close_blocks(step.depth)
        while any(d == step.depth - 0.5 and h[0] == _LOOP and h[1] != step.caller.name for d, h in blocks):
            blocks.pop()  # a step beside the consumer loop's, not from the loop: the loop block ends
            body.append("    end")
        if step.note.startswith("consumer loop"):
            blocks.append((step.depth - 0.5, (_LOOP, step.caller.name)))
            owner = _tail(step.caller.owner) + "." if step.caller.owner else ""
            body.append(f"    loop {text('consumer loop ' + owner + short_name_of(step.caller))}")
        if blocks and blocks[-1][0] == step.depth and blocks[-1][1] != step.handlers:
            blocks.pop()
            body.append("    end")
        if step.handlers and not (blocks and blocks[-1][0] == step.depth):
            blocks.append((step.depth, step.handlers))
            body.append(f"    critical {text('try, except ' + ', '.join(step.handlers))}")
        src = pid(*_unit(step.caller, group_by), step.caller)
        frames[step.depth - 1] = src
        if step.kind is StepKind.RAISE:
            dst = frames.get(step.depth - 2, caller_id) if step.depth >= 2 else caller_id
            body.append(f"    break {text('raise ' + step.target)}")
            number(step.n)
            body.append(f"    {src}--x{dst}: {text('raise ' + step.target, 160)}")
            body.append("    end")
            continue
        dst = pid(*_target_unit(step, group_by), step.callee)
        if step.resolution is Resolution.CANDIDATES:
            arrow = "->"
        elif step.kind is StepKind.BRIDGE:
            arrow = "--)"  # dashed: declared in the flow spec, not seen in the code
        elif step.kind in _ASYNC_KINDS:
            arrow = "-)"
        else:
            arrow = "->>"
        if step.entered and step.kind not in (StepKind.SPAWN, StepKind.QUEUE):
            arrow += "+"
            returns = step.signature.returns if step.signature and step.signature.returns else "return"
            if _constructs(step):
                returns = step.target.rpartition(".")[2]  # __init__ returns None; the caller gets the instance
            open_calls.append((step.depth, src, dst, returns))
        number(step.n)
        body.append(f"    {src}{arrow}{dst}: {text(_message(step, view.collapsed.get(step.n, 0)), 160)}")
        if step.kind in _CROSSINGS or (step.callee is not None and step.callee.lang is not step.caller.lang):
            crossing = f"{step.caller.lang.value} to {step.callee.lang.value}" if step.callee else step.kind.value
            if step.kind is StepKind.BRIDGE:
                crossing = "declared bridge" + (f": {step.label}" if step.label else "")
            over = src if src == dst else f"{src},{dst}"
            body.append(f"    Note over {over}: {text(crossing)}")
    close_calls(1)
    close_blocks(0)
    entry_ret = trace.entry_signature.returns if trace.entry_signature and trace.entry_signature.returns else "return"
    number(None)
    body.append(f"    {entry_id}-->>-{caller_id}: {text(entry_ret)}")
    if view.hidden:
        notes.append(f"{view.hidden} steps hidden (:hide:)")
    if view.depth_cut is not None:
        folded = sum(view.collapsed.values())
        notes.append(f"{folded} calls below depth {view.depth_cut} collapsed to fit {budget.messages} arrows")
    if view.dropped:
        notes.append(f"{view.dropped} more steps are listed in the table only (over {budget.messages} arrows)")
    if trace.truncated:
        notes.append(f"truncated after {len(trace.steps)} steps ({trace.truncation or 'max-steps'})")
    for note in notes:
        body.append(f"    Note over {caller_id},{entry_id}: {text(note, 120)}")

    header = ["sequenceDiagram", f"    actor {caller_id} as caller"]
    boxes: dict[tuple[str, Lang | None], list[tuple[str, str]]] = {}
    for key, (ident, label, loc) in participants.items():
        if key == "caller":
            continue
        boxes.setdefault(_box_of(key, loc), []).append((ident, label))
    for (box_label, lang), members in boxes.items():
        header.append(f"    box {_BOX_COLOURS[lang]} {text(box_label, 48)}")
        for ident, label in members:
            header.append(f"    participant {ident} as {text(label, 48)}")
        header.append("    end")
    for ident, entries in links.items():
        for name, href in entries:
            header.append(f"    link {ident}: {text(name, 40)} @ {href}")
    return "\n".join(header + body) + "\n"


# -- flowchart ---------------------------------------------------------------------------------------------------


def _node_label(loc: Loc) -> str:
    if loc.owner and loc.name.startswith(loc.owner):
        return _tail(loc.owner) + loc.name[len(loc.owner) :]
    for sep in (".", "::"):
        if loc.module and loc.name.startswith(loc.module + sep):
            return loc.name[len(loc.module) + len(sep) :]
    return loc.name


def _edge(step: Step) -> tuple[str, str]:
    """(arrow, kind word) of a flowchart edge."""
    if step.callee is None or step.resolution is Resolution.CANDIDATES:
        return "-.->", "" if step.callee is None else "candidate"
    if step.kind is StepKind.BRIDGE:
        return "-.->", "declared bridge" + (f": {step.label}" if step.label else "")
    if step.kind in _CROSSINGS:
        return "==>", step.kind.value
    if step.kind in (StepKind.SPAWN, StepKind.QUEUE):
        return "-.->", step.kind.value
    if step.kind is StepKind.AWAIT:
        return "-->", "await"
    return "-->", ""


def flowchart(
    trace: Trace,
    group_by: str = "class",
    link: LinkFn | None = None,
    hide: Sequence[str] = (),
) -> str:
    """Mermaid ``flowchart`` text: one node per function, subgraphs per module (or file) nested in their repo,
    ``click`` links to each definition, edge styles per step kind, entry and stop points marked."""
    view = select(trace, hide, Budget(messages=MAX_FLOW_EDGES, participants=10**9))
    nodes: dict[str, tuple[str, str, tuple[str, str], Loc | None]] = {}  # key -> (id, label, (repo, group), loc)

    def node(key: str, label: str, group: tuple[str, str], loc: Loc | None) -> str:
        if key not in nodes:
            nodes[key] = (f"n{len(nodes) + 1}", label, group, loc)
        return nodes[key][0]

    def group_of(loc: Loc) -> tuple[str, str]:
        if group_by == "repo":
            return loc.repo, ""
        if group_by == "file":
            return loc.repo, loc.path
        return loc.repo, loc.module or loc.path

    def loc_node(loc: Loc) -> str:
        return node(f"sym:{loc.repo}:{loc.name}", _node_label(loc), group_of(loc), loc)

    entry = loc_node(trace.entry)
    edges: dict[tuple[str, str, str, str], list[int]] = {}
    stop_nodes: list[str] = []
    for step in view.steps:
        if step.kind is StepKind.RAISE:
            continue
        src = loc_node(step.caller)
        if step.callee is not None:
            dst = loc_node(step.callee)
        elif step.resolution is Resolution.EXTERNAL:
            dst = node(f"ext:{step.target}", step.target, ("(external)", ""), None)
        else:
            dst = node(f"unres:{step.target}", "? " + step.target, ("(unresolved)", ""), None)
        if step.note == "stop" and dst not in stop_nodes:
            stop_nodes.append(dst)
        arrow, kind = _edge(step)
        edges.setdefault((src, dst, arrow, kind), []).append(step.n)
    lines = ["flowchart LR"]
    repos: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for ident, label, (repo, group), _loc in nodes.values():
        repos.setdefault(repo, {}).setdefault(group, []).append((ident, label))
    counter = 0
    if len(nodes) > NEST_LIMIT:  # no subgraphs: each node's label starts with its module (or file)
        for ident, label, (_repo, group), _loc in nodes.values():
            prefix = re.split(r"::|[./]", group)[-1] if group else ""
            lines.append(f'    {ident}["{_quoted(f"{prefix}.{label}" if prefix else label)}"]')
    for repo, groups in repos.items() if len(nodes) <= NEST_LIMIT else ():
        counter += 1
        lines.append(f'    subgraph g{counter}["{_quoted(repo)}"]')
        for group, members in groups.items():
            indent = "        "
            if group:
                counter += 1
                lines.append(f'        subgraph g{counter}["{_quoted(group)}"]')
                indent = "            "
            for ident, label in members:
                lines.append(f'{indent}{ident}["{_quoted(label)}"]')
            if group:
                lines.append("        end")
        lines.append("    end")
    for (src, dst, arrow, kind), numbers in edges.items():
        shown = ", ".join(str(n) for n in numbers[:6]) + (", …" if len(numbers) > 6 else "")
        if kind:
            shown += f" {kind}"
        lines.append(f'    {src} {arrow}|"{text(shown)}"| {dst}')
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
    if view.hidden:
        lines.append(f'    hidden["{text(f"{view.hidden} steps hidden (:hide:)")}"]')
    folded = sum(view.collapsed.values())
    if view.depth_cut is not None or view.dropped:
        what = f"{folded} calls below depth {view.depth_cut} collapsed" if view.depth_cut is not None else ""
        more = f"{view.dropped} more steps in the table only" if view.dropped else ""
        note = "; ".join(x for x in (what, more) if x) + f" (a flowchart draws at most {MAX_FLOW_EDGES} edges)"
        lines.append(f'    folded["{text(note)}"]')
    return "\n".join(lines) + "\n"
