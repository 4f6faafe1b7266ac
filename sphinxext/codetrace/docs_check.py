"""Docs that test themselves: drift checks for one traced flow, and the ``check`` / ``lock`` commands.

:func:`verify_trace` is what both the Sphinx directive and the command line run after a trace succeeded:
exact ``:stop-at:`` symbols that no longer exist (``unresolved``), ``:expect:`` waypoints the flow no longer
passes (``drift``) and differences from the lock file (``drift``). :func:`explain_failure` adds the closest
current names to an entry that no longer resolves.

:func:`check_docs` (``python -m sphinxext.codetrace check DOCS_DIR``) runs every directive of a docs tree
without a Sphinx build and prints one line per problem, ``file:line: codetrace.SUBTYPE: message (hint:
...)``, exiting 1 when there is any: everything a ``sphinx-build -W`` would warn about for these directives,
plus lock entries no directive uses any more. :func:`lock_docs` (``... lock DOCS_DIR [--update]``) records
each flow's trace in the lock file: new flows are added; a flow whose trace changed is reported and kept as
locked unless ``--update`` accepts it; ``--update`` also drops entries of flows that are gone. A flow that
cannot be traced (bad spec, entry not found) or whose key is not unique in its document is reported, keeps
its old entry, and makes the exit status 1. The file is rewritten only when its text changes.

A flow that names a repo ``codetrace_repos`` declares without a checkout (``"path": None``, e.g. from an unset
environment variable; :func:`not_checked_out`) is skipped by both commands with a note on stderr, not a
problem: the Sphinx build shows a placeholder saying how to enable it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .diagnostics import CodetraceError, Diagnostic
from .docs_scan import DirectiveSite, DocsConfig, find_directives, read_docs_config
from .drift import LockFile, expect_problem, load_lock, lock_diff, lock_entry, lock_key, lock_lines, lock_problem
from .lookup import explain_unresolved, missing_stop_points
from .model import Trace
from .spec import FlowSpec, parse_options, split_repo
from .trace import Engine
from .workspace import Workspace, parse_repo_configs, unchecked_repos


def accept_command(docs_dir: Path | str) -> str:
    """The command that accepts a changed trace, with ``docs_dir`` relative to the working directory when
    it is below it."""
    path = Path(docs_dir)
    if path.is_absolute():
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            rel = str(path)
        path = Path(rel) if not rel.startswith("..") else path
    return f"python -m sphinxext.codetrace lock {shlex.quote(path.as_posix())} --update"


def verify_trace(
    engine: Engine,
    spec: FlowSpec,
    trace: Trace,
    key: str,
    lock: LockFile | None,
    accept: str,
    diff_lines: bool = True,
) -> tuple[list[Diagnostic], list[str]]:
    """Problems of a successful trace (missing stop points, ``:expect:``, lock) and the absolute paths of the
    extra source files the checks read (for ``env.note_dependency``)."""
    with engine.index.recording() as touched:
        problems = missing_stop_points(engine, spec, trace)
    expected = expect_problem(trace, spec.expect)
    if expected is not None:
        problems.append(expected)
    if lock is not None and lock.exists:
        if lock.error:
            problems.append(Diagnostic("drift", lock.error, f"regenerate it with: {accept}"))
        else:
            locked = lock_problem(trace, key, lock.flows.get(key), lock.path.name, accept, diff_lines)
            if locked is not None:
                problems.append(locked)
    files = sorted(str(engine.workspace.repos[r].root / p) for r, p in touched)
    return problems, files


def explain_failure(engine: Engine, spec: FlowSpec, error: CodetraceError) -> Diagnostic:
    """The diagnostic of a trace that could not be made, with the closest current names for a missing entry."""
    return explain_unresolved(engine, spec, error.diagnostic)


def named_repos(spec: FlowSpec) -> list[str]:
    """The repos a flow names: its ``:repo:`` (or the entry's ``repo:`` prefix) and the ``repo:`` prefixes of
    its bridges' ends, in that order, without repeats."""
    names = [spec.repo] if spec.repo else []
    for bridge in spec.bridges:
        names.extend(repo for repo, _ in (split_repo(bridge.source), split_repo(bridge.target)) if repo)
    return list(dict.fromkeys(names))


def not_checked_out(spec: FlowSpec, unchecked: Mapping[str, str | None]) -> str:
    """Why a flow cannot be drawn in this build: the repos it names that ``codetrace_repos`` declares without a
    checkout (see :func:`~.workspace.unchecked_repos`) and how to enable them; ``""`` when there are none."""
    missing = [repo for repo in named_repos(spec) if repo in unchecked]
    if not missing:
        return ""
    envs = [f"{unchecked[repo]}=/path/to/checkout" for repo in missing if unchecked[repo]]
    paths = [repo for repo in missing if not unchecked[repo]]
    how = [f"set {' and '.join(envs)}"] if envs else []
    how += [f"set a path for {' and '.join(paths)} in codetrace_repos"] if paths else []
    return f"This diagram traces {' and '.join(missing)}; {' and '.join(how)} to render it."


# -- the docs tree -------------------------------------------------------------------------------------------------


@dataclass
class Flow:
    """One directive of the tree and what running it gave."""

    site: DirectiveSite
    key: str
    spec: FlowSpec | None = None
    trace: Trace | None = None
    failure: Diagnostic | None = None  # why it could not be traced
    warnings: list[Diagnostic] = field(default_factory=list)  # problems met on the way (parse, read)
    duplicate_of: DirectiveSite | None = None
    skipped: str = ""  # why the flow was not traced: a repo it names is not checked out (not a problem)


@dataclass
class DocsRun:
    """A docs tree read and traced: its config, the engine, every flow, setup problems, its lock file."""

    config: DocsConfig
    engine: Engine
    flows: list[Flow]
    setup_problems: list[Diagnostic]
    lock: LockFile


def _raw_key(site: DirectiveSite) -> str:
    title = site.title.strip() or (site.options.get("entry") or "").strip()
    return lock_key(site.docname, title, " ".join((site.options.get("name") or "").split()))


def run_docs(docs_dir: Path, cache_dir: Path | None = None) -> DocsRun:
    """Read conf.py, set up the engine, trace every directive. Raises :class:`CodetraceError` when conf.py
    is missing or fails."""
    config = read_docs_config(docs_dir)
    configs, config_problems = parse_repo_configs(config.repos, config.confdir)
    setup = [Diagnostic("config", f"codetrace_repos: {p}") for p in config_problems]
    workspace, errors = Workspace.from_configs(configs, config.max_file_bytes)
    setup.extend(e.diagnostic for e in errors)
    engine = Engine(workspace, cache_dir or config.cache_dir)
    lock = load_lock(config.lock_file) if config.lock_file else LockFile(config.confdir / "codetrace.lock.json")
    flows: list[Flow] = []
    seen: dict[str, DirectiveSite] = {}
    unchecked = unchecked_repos(config.repos)
    for site in find_directives(config):
        flow = Flow(site, _raw_key(site))
        flows.append(flow)
        try:
            flow.spec = parse_options(site.title, site.options)
        except CodetraceError as exc:
            flow.failure = exc.diagnostic
            continue
        flow.key = lock_key(site.docname, flow.spec.title, flow.spec.name)
        if flow.key in seen:
            flow.duplicate_of = seen[flow.key]
        seen.setdefault(flow.key, site)
        flow.skipped = not_checked_out(flow.spec, unchecked)
        if flow.skipped:
            continue
        try:
            flow.trace = engine.trace(flow.spec)
        except CodetraceError as exc:
            flow.failure = explain_failure(engine, flow.spec, exc)
            continue
        flow.warnings = list(flow.trace.warnings)
    return DocsRun(config, engine, flows, setup, lock)


def _duplicate(flow: Flow) -> Diagnostic | None:
    if flow.duplicate_of is None:
        return None
    return Diagnostic(
        "spec",
        f"flow key {flow.key!r} is also used at {flow.duplicate_of.location}",
        "give one of them a :name: (lock files key flows by document and title)",
    )


class _Report:
    def __init__(self, out: TextIO, docs_dir: Path) -> None:
        self.out = out
        self.docs_dir = docs_dir
        self.count = 0

    def where(self, relpath: str, line: int | None = None) -> str:
        text = (self.docs_dir / relpath).as_posix()
        return f"{text}:{line}" if line else text

    def problem(self, where: str, diagnostic: Diagnostic, detail: tuple[str, ...] = ()) -> None:
        self.count += 1
        text = " ".join(str(diagnostic).split("\n"))
        print(f"{where}: codetrace.{diagnostic.subtype}: {text}", file=self.out)
        for line in detail:
            print(f"    {line}", file=self.out)


def check_docs(docs_dir: Path, diff: bool = False, cache_dir: Path | None = None, out: TextIO | None = None) -> int:
    """``check DOCS_DIR``: one line per problem on ``out``; returns the exit status (0 clean, 1 problems,
    2 when conf.py cannot be read)."""
    out = out or sys.stdout
    try:
        run = run_docs(docs_dir, cache_dir)
    except CodetraceError as exc:
        print(f"codetrace: error: {exc}", file=sys.stderr)
        return 2
    report = _Report(out, docs_dir)
    accept = accept_command(docs_dir)
    conf = report.where("conf.py")
    for diagnostic in run.setup_problems:
        report.problem(conf, diagnostic)
    lock = run.lock if run.lock.exists else None
    for flow in run.flows:
        where = report.where(flow.site.relpath, flow.site.line)
        if flow.failure is not None:
            report.problem(where, flow.failure)
            continue
        if flow.skipped:
            print(f"{where}: skipped: {flow.skipped}", file=sys.stderr)
            continue
        assert flow.spec is not None and flow.trace is not None
        for warning in flow.warnings:
            report.problem(where, warning)
        duplicate = _duplicate(flow) if lock is not None else None
        if duplicate is not None:
            report.problem(where, duplicate)
        problems, _ = verify_trace(run.engine, flow.spec, flow.trace, flow.key, None, accept)
        for problem in problems:
            report.problem(where, problem)
        if lock is None or lock.error:
            continue
        locked = lock.flows.get(flow.key)
        changed = lock_problem(flow.trace, flow.key, locked, lock.path.name, accept, diff_lines=False)
        if changed is not None:
            detail: tuple[str, ...] = ()
            if diff and locked is not None:
                detail = lock_diff([str(s) for s in locked.get("steps", [])], lock_lines(flow.trace)).diff
            report.problem(where, changed, detail)
    if lock is not None:
        lock_where = report.where(os.path.relpath(lock.path, run.config.srcdir))
        if lock.error:
            report.problem(lock_where, Diagnostic("drift", lock.error, f"regenerate it with: {accept}"))
        keys = {flow.key for flow in run.flows} if not lock.error else set(lock.flows)
        for stale in sorted(set(lock.flows) - keys):
            report.problem(
                lock_where,
                Diagnostic(
                    "drift", f"flow {stale!r} is in the lock but no directive has that key", f"drop it: {accept}"
                ),
            )
    print(
        f"codetrace: {len(run.flows)} flow{'s' if len(run.flows) != 1 else ''} checked, "
        f"{report.count} problem{'s' if report.count != 1 else ''}",
        file=sys.stderr,
    )
    return 1 if report.count else 0


def lock_docs(docs_dir: Path, update: bool = False, cache_dir: Path | None = None, out: TextIO | None = None) -> int:
    """``lock DOCS_DIR [--update]``: record every flow's trace; returns the exit status (0 all locked,
    1 when a flow could not be locked or changed without ``--update``, 2 when conf.py cannot be read)."""
    out = out or sys.stdout
    try:
        run = run_docs(docs_dir, cache_dir)
    except CodetraceError as exc:
        print(f"codetrace: error: {exc}", file=sys.stderr)
        return 2
    if run.config.lock_file is None:
        print("codetrace: error: codetrace_lock_file is disabled in conf.py", file=sys.stderr)
        return 2
    report = _Report(out, docs_dir)
    accept = accept_command(docs_dir)
    lock = run.lock
    lock_where = report.where(os.path.relpath(lock.path, run.config.srcdir))
    if lock.error and not update:
        report.problem(lock_where, Diagnostic("drift", lock.error, f"regenerate it with: {accept}"))
        return 1
    old = {} if lock.error else dict(lock.flows)
    new: dict[str, dict] = {}
    added = updated = 0
    for flow in run.flows:
        where = report.where(flow.site.relpath, flow.site.line)
        if flow.failure is not None:
            report.problem(where, flow.failure)
            if flow.key in old:
                new[flow.key] = old[flow.key]
            continue
        if flow.skipped:  # cannot be traced in this checkout: its lock entry stays as it was
            print(f"{where}: skipped: {flow.skipped}", file=sys.stderr)
            if flow.key in old:
                new[flow.key] = old[flow.key]
            continue
        assert flow.trace is not None
        duplicate = _duplicate(flow)
        if duplicate is not None:
            report.problem(where, duplicate)
            continue
        entry = lock_entry(flow.trace)
        previous = old.get(flow.key)
        if previous is None:
            added += 1
            new[flow.key] = entry
        elif previous.get("digest") == entry["digest"] or update:
            updated += previous.get("digest") != entry["digest"]
            new[flow.key] = entry
        else:
            changed = lock_problem(flow.trace, flow.key, previous, lock.path.name, accept, diff_lines=False)
            assert changed is not None
            steps = [str(s) for s in previous.get("steps", [])]
            report.problem(where, changed, lock_diff(steps, lock_lines(flow.trace)).diff)
            new[flow.key] = previous
    stale = sorted(set(old) - {flow.key for flow in run.flows})
    for key in stale:
        if update:
            continue
        new[key] = old[key]
        report.problem(
            lock_where,
            Diagnostic("drift", f"flow {key!r} is in the lock but no directive has that key", f"drop it: {accept}"),
        )
    removed = len(stale) if update else 0
    result = LockFile(lock.path, new, lock.exists)
    if result.write():
        print(f"codetrace: wrote {lock_where}: {added} added, {updated} updated, {removed} removed", file=sys.stderr)
    else:
        print(f"codetrace: {lock_where} is up to date", file=sys.stderr)
    return 1 if report.count else 0


__all__ = [
    "DocsRun",
    "Flow",
    "accept_command",
    "check_docs",
    "explain_failure",
    "lock_docs",
    "named_repos",
    "not_checked_out",
    "run_docs",
    "verify_trace",
]
