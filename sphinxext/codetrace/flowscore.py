"""Score traces against a reference chain: the caller -> callee steps an expert would draw for a flow.

A reference chain is a TOML file written by reading the code (references only: symbols, paths and lines, never
copied code). It names the page whose ``codetrace`` directives draw the flow, what those directives should
say (entry, stop points, declared bridges, each with why no static analysis can see that hop) and the
ordered reference steps, one of them the flow's end::

    name = "kv-lookup"
    title = "KV-cache lookup and eviction"
    page = "flows/kv-lookup.rst"               # relative to the docs source directory
    repos = ["sglang"]                         # the checkouts the flow needs

    [[spec]]                                   # one per directive of the page that draws the flow
    title = "KV-cache lookup and eviction"     # the directive's title
    entry = "sglang:sglang.srt.managers.scheduler.Scheduler.get_new_batch_prefill"
    stop_at = ["TokenToKVPoolAllocator.free"]

    [[bridges]]                                # hops no analysis can see, declared with :bridge:
    source = "..."
    target = "..."
    label = "..."
    why = "..."

    [[steps]]
    caller = "sglang.srt.managers.scheduler.Scheduler.get_new_batch_prefill"
    callee = "sglang.srt.managers.schedule_batch.Req.init_next_round_input"
    path = "sglang:python/sglang/srt/managers/scheduler.py"   # the file of the call, with its repo
    line = 2985                                # the line of the call
    kind = "call"                              # optional: call, await, spawn, queue, py->rust, rust->py
    at = "init_next_round_input"               # optional: text on the call's line (default: the callee's name)
    accept = []                                # optional: other callee names the step may be drawn with
    end = true                                 # exactly one step is the flow's end
    note = "..."                               # optional

Symbols are in the directive's notation: Python ``pkg.mod.Class.method``, Rust ``crate::mod::Type::method``,
or a file form (``path/mod.py::Class.method``, ``path/file.rs::Type::method``) that matches the definition in
that file whose qualified name ends with the given part.

Matching (:func:`score`): a reference step is *found* when a step of the flow's traces has the same caller,
the same callee (or one of ``accept``) and a call site in the same file within :data:`LINE_TOLERANCE` lines
of the reference line. The tolerance absorbs where a multi-line call is recorded (a method chain spread over
lines is recorded at one of them) and small edits of the checkout; an edge found only further away counts as
missing and is reported with the lines where it was found. A trace step's callee is its resolved definition
(for dynamic dispatch, each candidate step names one candidate); an unresolved or external step is matched by
its callee text. Step kinds are not compared: a hand-off may be drawn as a call, a queue or a spawn. Declared
bridges are not reference steps (the spec states them; the engine finds everything else). The flow's *end is
reached* when its end step is found. Recall is found reference steps over all reference steps.

For a missing step, :func:`score` says what the trace did instead: whether the caller was reached at all,
which callees the trace recorded at that call site and how they were resolved (the resolution that failed),
and where else the callee was reached from. Nothing here reads code or runs the engine except
:func:`trace_flow_specs`, which runs the page's directives through an :class:`~.trace.Engine`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .diagnostics import CodetraceError
from .docs_scan import scan_rst
from .model import Loc, Step, Trace
from .paths import paths_only
from .spec import parse_options, split_repo
from .trace import Engine, workspace_feeds
from .workspace import RepoConfig, Workspace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: How many lines a trace step's call site may be away from the reference line and still match.
LINE_TOLERANCE = 3
#: Step kinds a reference may state (informative; not compared).
KINDS = ("call", "await", "spawn", "queue", "raise", "py->rust", "rust->py", "bridge")
#: Recall a flow must reach, with its end, to meet the target.
TARGET_RECALL = 0.9


@dataclass(frozen=True, slots=True)
class RefStep:
    """One step of a reference chain."""

    n: int  # 1-based position in the chain
    caller: str
    callee: str
    repo: str
    path: str
    line: int
    kind: str = "call"
    at: str = ""
    accept: tuple[str, ...] = ()
    end: bool = False
    note: str = ""

    @property
    def site(self) -> str:
        return f"{self.repo}:{self.path}:{self.line}"

    def label(self) -> str:
        return f"#{self.n} {short(self.caller)} -> {short(self.callee)} ({self.site})"

    @property
    def site_text(self) -> str:
        """What the call's line should show: ``at``, else the callee's last name."""
        return self.at or last_name(self.callee)


@dataclass(frozen=True, slots=True)
class RefSpec:
    """What one directive of the flow's page should say."""

    title: str
    entry: str
    stop_at: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefBridge:
    """A declared bridge and why no static analysis can see that hop."""

    source: str
    target: str
    label: str = ""
    why: str = ""
    spec: str = ""  # the title of the directive that declares it ("" when the flow has one)


@dataclass(frozen=True)
class FlowRef:
    """A reference chain: the flow, its directives, its bridges and its reference steps."""

    name: str
    title: str
    page: str
    repos: tuple[str, ...]
    specs: tuple[RefSpec, ...]
    bridges: tuple[RefBridge, ...]
    steps: tuple[RefStep, ...]
    source: str = ""  # the file it was read from

    @property
    def end(self) -> RefStep:
        return next(s for s in self.steps if s.end)


def short(symbol: str) -> str:
    """The last two parts of a symbol (``Class.method``, ``Type::method``), for tables."""
    _, symbol = split_repo(symbol)
    sep = "::" if "::" in symbol.rpartition("/")[2] else "."
    parts = symbol.rpartition("/")[2].split(sep)
    return sep.join(parts[-2:])


def last_name(symbol: str) -> str:
    """The function's own name: the last ``.`` or ``::`` part."""
    return symbol.rpartition("::")[2].rpartition(".")[2]


# -- reading ------------------------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: {key!r} must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _ref_step(n: int, data: Mapping[str, Any], where: str) -> RefStep:
    where = f"{where}: step {n}"
    known = {"caller", "callee", "path", "line", "kind", "at", "accept", "end", "note"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    repo, path = split_repo(_text(data, "path", where))
    if not repo:
        raise ValueError(f"{where}: 'path' must start with its repo, like 'sglang:python/sglang/...'")
    line = data.get("line")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise ValueError(f"{where}: 'line' must be a positive integer, got {line!r}")
    kind = _text(data, "kind", where, required=False) or "call"
    if kind not in KINDS:
        raise ValueError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    end = data.get("end", False)
    if not isinstance(end, bool):
        raise ValueError(f"{where}: 'end' must be true or false, got {end!r}")
    return RefStep(
        n=n,
        caller=_text(data, "caller", where),
        callee=_text(data, "callee", where),
        repo=repo,
        path=path,
        line=line,
        kind=kind,
        at=_text(data, "at", where, required=False),
        accept=_strings(data, "accept", where),
        end=end,
        note=_text(data, "note", where, required=False),
    )


def parse_reference(data: Mapping[str, Any], source: str = "<reference>") -> FlowRef:
    """A :class:`FlowRef` from the TOML's table; raises :class:`ValueError` naming what is wrong and where."""
    known = {"name", "title", "page", "repos", "description", "spec", "bridges", "steps"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{source}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    specs = []
    for i, item in enumerate(data.get("spec", []), start=1):
        where = f"{source}: spec {i}"
        specs.append(
            RefSpec(_text(item, "title", where), _text(item, "entry", where), _strings(item, "stop_at", where))
        )
    if not specs:
        raise ValueError(f"{source}: needs at least one [[spec]] (the directive that draws the flow)")
    titles = {s.title for s in specs}
    bridges = []
    for i, item in enumerate(data.get("bridges", []), start=1):
        where = f"{source}: bridge {i}"
        bridge = RefBridge(
            _text(item, "source", where),
            _text(item, "target", where),
            _text(item, "label", where, required=False),
            _text(item, "why", where),
            _text(item, "spec", where, required=False),
        )
        if bridge.spec and bridge.spec not in titles:
            raise ValueError(f"{where}: 'spec' {bridge.spec!r} is not the title of a [[spec]]")
        if not bridge.spec and len(specs) > 1:
            raise ValueError(f"{where}: the flow has several [[spec]]s; say which one declares it with 'spec'")
        bridges.append(bridge)
    steps = tuple(_ref_step(i, item, source) for i, item in enumerate(data.get("steps", []), start=1))
    ends = [s.n for s in steps if s.end]
    if len(ends) != 1:
        raise ValueError(f"{source}: exactly one step must have 'end = true', found {len(ends)}")
    if not 8 <= len(steps) <= 30:
        raise ValueError(f"{source}: a reference chain has 8 to 30 steps (the spine), found {len(steps)}")
    pairs = [(s.caller, s.callee, s.path, s.line) for s in steps]
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"{source}: a step is listed twice")
    return FlowRef(
        name=_text(data, "name", source),
        title=_text(data, "title", source),
        page=_text(data, "page", source),
        repos=_strings(data, "repos", source),
        specs=tuple(specs),
        bridges=tuple(bridges),
        steps=steps,
        source=source,
    )


def load_reference(path: Path) -> FlowRef:
    """Read one reference chain file (TOML)."""
    with path.open("rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path.name}: not valid TOML: {exc}") from None
    return parse_reference(data, path.name)


def load_references(folder: Path) -> list[FlowRef]:
    """Every ``*.toml`` reference chain of a folder, in file name order."""
    return [load_reference(p) for p in sorted(folder.glob("*.toml"))]


def page_directives(page: Path) -> dict[str, dict[str, str]]:
    """The ``codetrace`` directives of a reStructuredText page: title -> raw options (as the directive gets
    them, continuation lines joined with newlines)."""
    return {title: options for _, title, options in scan_rst(page.read_text(encoding="utf-8"))}


# -- matching -----------------------------------------------------------------------------------------------------


def symbol_matches(symbol: str, name: str, path: str = "", repo: str = "") -> bool:
    """Whether a reference ``symbol`` names the definition ``name`` (in ``repo:path``): the same qualified
    name, or a file form whose file is ``path`` and whose part ends ``name``. A ``repo:`` prefix must agree."""
    prefix, symbol = split_repo(symbol)
    if prefix and repo and prefix != repo:
        return False
    for suffix, sep in ((".py::", "."), (".pyi::", "."), (".rs::", "::")):
        if suffix in symbol:
            file, _, part = symbol.partition("::")
            return path == file and (name == part or name.endswith(sep + part))
    return name == symbol


def _loc_matches(symbol: str, loc: Loc | None, text: str = "") -> bool:
    if loc is None:
        return bool(text) and symbol_matches(symbol, text)
    return symbol_matches(symbol, loc.name, loc.path, loc.repo)


def _callee_matches(ref: RefStep, step: Step) -> bool:
    return any(_loc_matches(symbol, step.callee, step.target) for symbol in (ref.callee, *ref.accept))


def _near(ref: RefStep, step: Step) -> bool:
    site = step.site
    return site.repo == ref.repo and site.path == ref.path and abs(site.line - ref.line) <= LINE_TOLERANCE


def _key(step: Step) -> tuple[Any, ...]:
    """A step's identity across renumbering (``:paths-only:`` renumbers the steps it keeps)."""
    callee = step.callee.name if step.callee is not None else None
    return (step.caller.name, step.site, step.target, callee, step.kind, step.depth)


def _describe(step: Step, kept: set[tuple[Any, ...]] | None = None) -> str:
    callee = step.callee.name if step.callee is not None else step.target
    text = f"{callee} [{step.kind.value}, {step.resolution.value}]"
    if step.candidates:
        text += f" ({len(step.candidates)} candidates)"
    if step.note:
        text += f" ({step.note})"
    if kept is not None and _key(step) not in kept:
        text += " (dropped by :paths-only:)"
    return text


@dataclass
class Found:
    ref: RefStep
    step: Step | None  # the trace step that matched; None when missing
    why: str = ""  # for a missing step: what the trace did instead


@dataclass
class FlowScore:
    """How a flow's traces compare with its reference chain."""

    ref: FlowRef
    results: list[Found] = field(default_factory=list)
    trace_steps: int = 0
    errors: list[str] = field(default_factory=list)  # directives that could not be parsed or traced
    warnings: list[str] = field(default_factory=list)  # what the traces warned about (unreached bridges...)
    truncated: bool = False

    @property
    def found(self) -> list[Found]:
        return [r for r in self.results if r.step is not None]

    @property
    def missing(self) -> list[Found]:
        return [r for r in self.results if r.step is None]

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.results) if self.results else 0.0

    @property
    def end_reached(self) -> bool:
        return any(r.ref.end and r.step is not None for r in self.results)

    @property
    def meets_target(self) -> bool:
        return self.recall >= TARGET_RECALL and self.end_reached and not self.errors

    @property
    def diverges_at(self) -> RefStep | None:
        """The first reference step, in chain order, the traces do not have."""
        return next((r.ref for r in self.results if r.step is None), None)


def _why_missing(
    ref: RefStep, steps: Sequence[Step], entries: Sequence[Loc], kept: set[tuple[Any, ...]] | None = None
) -> str:
    """What the walk did instead of ``ref``. ``steps`` are the whole walk's; ``kept`` the keys of the steps the
    diagram keeps (``None``: all of them)."""
    from_caller = [s for s in steps if _loc_matches(ref.caller, s.caller)]
    reached = bool(from_caller) or any(_loc_matches(ref.caller, e) for e in entries)
    if not reached:
        via = [s for s in steps if _loc_matches(ref.caller, s.callee, s.target)]
        if via:
            first = via[0]
            return f"caller reached at step {first.n} but not entered ({first.note or 'no calls recorded'})"
        return "caller never reached"
    parts: list[str] = []
    if kept is not None and not any(_key(s) in kept for s in from_caller):
        parts.append("the caller's calls are all dropped by :paths-only: (none leads to a stop point)")
    same_edge = [s for s in from_caller if _callee_matches(ref, s)]
    far = [s for s in same_edge if not _near(ref, s)]
    if far and len(far) == len(same_edge):
        lines = sorted({f"{s.site.path}:{s.site.line}" for s in far})
        parts.append(f"this edge only at {', '.join(lines)} (more than {LINE_TOLERANCE} lines away)")
    elif same_edge:
        parts.append("the walk has this edge, but :paths-only: drops it: nothing after it reaches a stop point")
    at_site = [s for s in from_caller if _near(ref, s)]
    if at_site:
        shown = "; ".join(_describe(s, kept) for s in at_site[:4])
        more = f"; +{len(at_site) - 4} more" if len(at_site) > 4 else ""
        parts.append(f"at the call site the trace has: {shown}{more}")
    elif not same_edge:
        other = sorted({short(s.caller.name) for s in steps if _near(ref, s)})
        if other:
            parts.append(f"the walk records this call site under {', '.join(other)}, not under the caller")
        else:
            parts.append("no step recorded at the call site (not in the caller's facts, or a quiet call)")
    elsewhere = [s for s in steps if _callee_matches(ref, s) and not _loc_matches(ref.caller, s.caller)]
    if elsewhere:
        parts.append(f"callee reached from {short(elsewhere[0].caller.name)} (step {elsewhere[0].n})")
    return "; ".join(parts)


def score(ref: FlowRef, traces: Iterable[Trace], walks: Iterable[Trace] | None = None) -> FlowScore:
    """Compare ``traces`` (one per directive of the flow, as drawn) with the reference chain. ``walks`` are the
    same traces before ``:paths-only:`` filtered them, when it did: missing steps are explained from them."""
    traces = list(traces)
    steps = [s for t in traces for s in t.steps]
    entries = [t.entry for t in traces]
    walked = [s for t in walks for s in t.steps] if walks is not None else steps
    kept = {_key(s) for s in steps} if walks is not None else None
    result = FlowScore(ref, trace_steps=len(steps), truncated=any(t.truncated for t in traces))
    result.warnings = [str(w) for t in traces for w in t.warnings]
    for r in ref.steps:
        hit = next(
            (s for s in steps if _near(r, s) and _loc_matches(r.caller, s.caller) and _callee_matches(r, s)), None
        )
        result.results.append(Found(r, hit, "" if hit is not None else _why_missing(r, walked, entries, kept)))
    return result


# -- running ------------------------------------------------------------------------------------------------------


def env_var(repo: str) -> str:
    """The environment variable that holds a repo's checkout: ``CODETRACE_<NAME>``."""
    return "CODETRACE_" + repo.upper().replace("-", "_").replace(".", "_")


def checkouts(ref: FlowRef, environ: Mapping[str, str]) -> tuple[dict[str, Path], list[str]]:
    """The flow's repos found through their environment variables, and the variables that are not set."""
    found, unset = {}, []
    for repo in ref.repos:
        value = environ.get(env_var(repo), "").strip()
        if value:
            found[repo] = Path(value).expanduser()
        else:
            unset.append(env_var(repo))
    return found, unset


def engine_for(paths: Mapping[str, Path], cache_dir: Path | None = None) -> Engine:
    """An :class:`~.trace.Engine` over exactly these checkouts (no time budget); raises
    :class:`CodetraceError` when one of them is not a directory."""
    workspace, errors = Workspace.from_configs([RepoConfig(name, path) for name, path in sorted(paths.items())])
    if errors:
        raise errors[0]
    return Engine(workspace, cache_dir)


def trace_flow_specs(ref: FlowRef, directives: Mapping[str, Mapping[str, str]], engine: Any) -> FlowScore:
    """Run the flow's directives (title -> raw options, from its page) through ``engine`` and score them. A
    directive that is missing, does not parse or cannot be traced is an error of the score."""
    traces: list[Trace] = []
    walks: list[Trace] = []
    errors: list[str] = []
    for spec_ref in ref.specs:
        options = directives.get(spec_ref.title)
        if options is None:
            errors.append(f"{ref.page} has no codetrace directive titled {spec_ref.title!r}")
            continue
        try:
            spec = parse_options(spec_ref.title, dict(options))
            if spec.paths_only is None:
                trace = engine.trace(spec)
                traces.append(trace)
                walks.append(trace)
                continue
            # the whole walk, filtered here as the engine does: a missing step is explained from the walk
            walk = engine.trace(replace(spec, paths_only=None))
            kept, problems = paths_only(walk.steps, spec.paths_only, walk.truncated, workspace_feeds(engine.workspace))
            traces.append(replace(walk, steps=tuple(kept), warnings=(*walk.warnings, *problems)))
            walks.append(walk)
        except CodetraceError as exc:
            errors.append(f"{spec_ref.title!r}: {exc}")
    result = score(ref, traces, walks)
    result.errors = errors
    return result


def spec_mismatches(ref: FlowRef, directives: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Where the page's directives differ from what the reference says they declare: the entry, the stop
    points and the bridges (source, target and label)."""
    problems = []
    for spec_ref in ref.specs:
        options = directives.get(spec_ref.title)
        if options is None:
            problems.append(f"{ref.page}: no directive titled {spec_ref.title!r}")
            continue
        try:
            spec = parse_options(spec_ref.title, dict(options))
        except CodetraceError as exc:
            problems.append(f"{ref.page}: {spec_ref.title!r} does not parse: {exc}")
            continue
        entry = f"{spec.repo}:{spec.entry}" if spec.repo else spec.entry
        if entry != spec_ref.entry:
            problems.append(f"{spec_ref.title!r}: the page's entry is {entry!r}, the reference says {spec_ref.entry!r}")
        if set(spec.stop_at) != set(spec_ref.stop_at):
            problems.append(
                f"{spec_ref.title!r}: the page stops at {sorted(spec.stop_at)}, the reference at "
                f"{sorted(spec_ref.stop_at)}"
            )
        declared = {(b.source, b.target, b.label) for b in spec.bridges}
        expected = {(b.source, b.target, b.label) for b in ref.bridges if b.spec in ("", spec_ref.title)}
        if declared != expected:
            problems.append(
                f"{spec_ref.title!r}: the page declares bridges {sorted(declared)}, the reference {sorted(expected)}"
            )
    return problems


# -- reporting ----------------------------------------------------------------------------------------------------


def format_table(scores: Sequence[FlowScore]) -> str:
    """One row per flow: recall, trace steps, end reached, where the chain first diverges."""
    rows = [("flow", "recall", "end", "trace steps", "first missing step")]
    for s in scores:
        first = s.diverges_at
        recall = f"{len(s.found)}/{len(s.results)} ({s.recall:.0%})"
        end = "yes" if s.end_reached else "no"
        steps = f"{s.trace_steps}{' (truncated)' if s.truncated else ''}"
        rows.append((s.ref.name, recall, end, steps, first.label() if first else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows
    )


def format_details(score_: FlowScore) -> str:
    """The missing steps of one flow, each with what the trace did instead, and the flow's errors."""
    lines = [f"{score_.ref.name}: {score_.ref.title}"]
    lines += [f"  error: {e}" for e in score_.errors]
    for r in score_.missing:
        lines.append(f"  missing {r.ref.label()}{'  [end]' if r.ref.end else ''}")
        lines.append(f"      {r.why}")
    lines += [f"  warning: {w}" for w in score_.warnings]
    return "\n".join(lines)


__all__ = [
    "LINE_TOLERANCE",
    "TARGET_RECALL",
    "FlowRef",
    "FlowScore",
    "Found",
    "RefBridge",
    "RefSpec",
    "RefStep",
    "checkouts",
    "engine_for",
    "env_var",
    "format_details",
    "format_table",
    "load_reference",
    "load_references",
    "page_directives",
    "parse_reference",
    "score",
    "spec_mismatches",
    "symbol_matches",
    "trace_flow_specs",
]
