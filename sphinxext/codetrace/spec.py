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
}

_REPO_PREFIX = re.compile(r"^([A-Za-z_][\w.-]*):(?!:)(.+)$")


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
    return FlowSpec(
        title=title.strip() or entry,
        entry=entry,
        repo=repo,
        stop_at=split_list(options.get("stop-at") or ""),
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
    )
