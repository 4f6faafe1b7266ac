"""The flow spec: what the user asks to draw, parsed and validated once.

:func:`parse_options` takes the raw ``name -> text`` options of a directive (or the CLI) and returns a
:class:`FlowSpec`, or raises :class:`~sphinxext.codetrace.diagnostics.CodetraceError` (subtype ``spec``)
naming the offending option and what it accepts. Nothing here reads code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .diagnostics import CodetraceError, suggest

DIAGRAMS = ("sequence", "flowchart", "both")
GROUP_BY = ("class", "module", "file", "repo")
DEFAULT_DEPTH = 6
DEFAULT_MAX_STEPS = 200
MAX_STEPS_LIMIT = 10_000

#: Every option the directive accepts, with a one-line description (the reference docs use it too).
OPTIONS: dict[str, str] = {
    "entry": "the function or method the trace starts from (required)",
    "stop-at": "symbols or glob patterns where the trace stops: shown, not entered",
    "depth": f"how many calls deep the walk goes (default {DEFAULT_DEPTH})",
    "max-steps": f"hard bound on the number of steps; a visible note says when it is hit (default {DEFAULT_MAX_STEPS})",
    "include": "module globs the walk may enter (default: every module of the configured repos)",
    "exclude": "module globs the walk never enters (calls into them are still shown)",
    "expect": "symbols or globs the flow must pass through, in order ('a -> b' or 'a, b'); else codetrace.drift",
    "name": "the flow's key in the lock file (default: the title); must be unique in the document",
    "diagram": "sequence, flowchart or both (default both)",
    "group-by": "participant unit: class, module, file or repo (default class)",
    "repo": "the repo the entry is looked up in, when names are ambiguous",
    "caption": "text under the diagrams (default: the directive's title)",
    "hide": "symbols or globs left out of the diagrams with everything they call (the table keeps them)",
    "bridge": "declared hand-offs no analysis can see, one per line: 'A -> B (label)'; the walk goes on in B",
    "paths-only": "keep only the calls on a path from the entry to a stop point; '+1': and the calls off it",
}

#: Options a MyST colon-form block may repeat, their values joined by newlines (MyST would keep only the last
#: one; docutils refuses a repeated option outright, so reStructuredText writes one value per line instead).
REPEATABLE = ("bridge",)
_REPO_PREFIX = re.compile(r"^([A-Za-z_][\w.-]*):(?!:)(.+)$")
#: ``:paths-only:`` values: empty (the paths alone) or ``+1`` (also the calls one level off them).
PATHS_ONLY = ("", "+1")
#: One ``A -> B (label)`` bridge; the label may hold one level of nested parentheses.
_BRIDGE = re.compile(
    r"\s*(?P<source>[^\s;()]+?)\s*->\s*(?P<target>[^\s;()]+)"
    r"(?:\s*\((?P<label>[^()]*(?:\([^()]*\)[^()]*)*)\))?(?=[\s;]|$)"
)
_BRIDGE_FORM = "A -> B (label)"


@dataclass(frozen=True, slots=True)
class Bridge:
    """A declared hand-off ``source -> target (label)``: when the walk reaches ``source`` (a symbol, or a
    pattern matched like ``stop-at`` against the callee or source text of a call), it goes on in ``target``
    (a symbol in ``:entry:`` notation, optionally ``repo:``-prefixed)."""

    source: str
    target: str
    label: str = ""

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}" + (f" ({self.label})" if self.label else "")


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A validated flow spec."""

    title: str
    entry: str
    repo: str | None = None
    stop_at: tuple[str, ...] = ()
    depth: int = DEFAULT_DEPTH
    max_steps: int = DEFAULT_MAX_STEPS
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    name: str = ""
    diagram: str = "both"
    group_by: str = "class"
    caption: str = ""
    hide: tuple[str, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    paths_only: str | None = None  # None: off; "": the paths from the entry to stop points; "+1": and calls off them


def split_list(text: str) -> tuple[str, ...]:
    """Items separated by commas, spaces or newlines; order kept, duplicates dropped."""
    items = [item for item in re.split(r"[\s,]+", text.strip()) if item]
    return tuple(dict.fromkeys(items))


def split_waypoints(text: str) -> tuple[str, ...]:
    """``:expect:`` items, separated by ``->``, commas, spaces or newlines; order and repeats kept."""
    return tuple(item for item in re.split(r"[\s,]+|->", text.strip()) if item)


def _int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise CodetraceError(
            "spec", f":{name}: must be an integer, got {text.strip()!r}", f"write a number between {low} and {high}"
        ) from None
    if not low <= value <= high:
        raise CodetraceError("spec", f":{name}: must be between {low} and {high}, got {value}")
    return value


def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise CodetraceError(
            "spec", f":{name}: must be one of {', '.join(choices)}, got {text.strip()!r}", suggest(value, choices)
        )
    return value


def _name(text: str | None) -> str:
    value = " ".join((text or "").split())
    if text is not None and not value:
        raise CodetraceError("spec", ":name: must not be empty", "write ':name: a-short-key' or drop the option")
    return value


def split_repo(text: str) -> tuple[str | None, str]:
    """``repo:symbol`` -> ``(repo, symbol)``; ``(None, text)`` without a repo prefix (``file.py::f`` has none)."""
    m = _REPO_PREFIX.match(text)
    return (m.group(1), m.group(2)) if m else (None, text)


def parse_bridges(text: str) -> tuple[Bridge, ...]:
    """``:bridge:`` items, ``A -> B (label)``, one per line or separated by ``;`` (several on one line are
    read too, which is what MyST's YAML folding makes of continuation lines); duplicates dropped."""
    bridges: list[Bridge] = []
    for line in text.splitlines():
        pos = 0
        line = line.strip()
        while pos < len(line):
            m = _BRIDGE.match(line, pos)
            if m is None or m.end() == pos:
                hint = f"write one bridge per line as '{_BRIDGE_FORM}', e.g. 'pkg.client.Client.send -> "
                hint += "pkg.server.Server.handle (HTTP)'; the label is optional"
                if "->" not in line:
                    raise CodetraceError("spec", f":bridge: {line!r} has no '->' between its two ends", hint)
                rest = f": {line[pos:].strip()!r} is not a bridge" if pos else ""
                raise CodetraceError("spec", f":bridge: cannot read {line!r}{rest}", hint)
            bridges.append(Bridge(m["source"], m["target"], " ".join((m["label"] or "").split())))
            pos = m.end()
            while pos < len(line) and line[pos] in " ;":
                pos += 1
    return tuple(dict.fromkeys(bridges))


def _paths_only(text: str | None, stop_at: tuple[str, ...]) -> str:
    value = "".join((text or "").split()).lower()
    if value not in PATHS_ONLY:
        raise CodetraceError(
            "spec",
            f":paths-only: takes no value or '+1', got {(text or '').strip()!r}",
            "write ':paths-only:' for the paths alone, ':paths-only: +1' to keep the calls one level off them",
        )
    if not stop_at:
        raise CodetraceError(
            "spec",
            ":paths-only: needs :stop-at: (the paths it keeps end at stop points)",
            "add ':stop-at: pkg.module.func' naming where the flow should end, or drop :paths-only:",
        )
    return value


def parse_options(title: str, options: Mapping[str, str | None]) -> FlowSpec:
    """Validate directive options (``name -> raw text``) into a :class:`FlowSpec`."""
    for name in options:
        if name not in OPTIONS:
            hint = suggest(name, OPTIONS) or f"known options: {', '.join(OPTIONS)}"
            raise CodetraceError("spec", f"unknown option :{name}:", hint)
    raw_entry = (options.get("entry") or "").strip()
    if not raw_entry:
        raise CodetraceError(
            "spec",
            "missing required option :entry:",
            "add ':entry: pkg.module.function' (or path/to/file.py::function)",
        )
    if len(raw_entry.split()) != 1:
        raise CodetraceError("spec", f":entry: takes one symbol, got {raw_entry!r}")
    repo = (options.get("repo") or "").strip() or None
    entry = raw_entry
    m = _REPO_PREFIX.match(raw_entry)
    if m:
        prefix_repo, entry = m.group(1), m.group(2)
        if repo and repo != prefix_repo:
            raise CodetraceError("spec", f":entry: names repo {prefix_repo!r} but :repo: is {repo!r}")
        repo = prefix_repo
    stop_at = split_list(options.get("stop-at") or "")
    return FlowSpec(
        title=title.strip() or entry,
        entry=entry,
        repo=repo,
        stop_at=stop_at,
        depth=_int("depth", options["depth"] or "", 1, 100) if "depth" in options else DEFAULT_DEPTH,
        max_steps=_int("max-steps", options["max-steps"] or "", 1, MAX_STEPS_LIMIT)
        if "max-steps" in options
        else DEFAULT_MAX_STEPS,
        include=split_list(options.get("include") or ""),
        exclude=split_list(options.get("exclude") or ""),
        expect=split_waypoints(options.get("expect") or ""),
        name=_name(options.get("name")),
        diagram=_choice("diagram", options["diagram"] or "", DIAGRAMS) if "diagram" in options else "both",
        group_by=_choice("group-by", options["group-by"] or "", GROUP_BY) if "group-by" in options else "class",
        caption=(options.get("caption") or "").strip(),
        hide=split_list(options.get("hide") or ""),
        bridges=parse_bridges(options.get("bridge") or ""),
        paths_only=_paths_only(options["paths-only"], stop_at) if "paths-only" in options else None,
    )
