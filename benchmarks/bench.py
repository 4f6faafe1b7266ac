"""Benchmark: the floor, cold, warm and one-file-changed costs of each flow, the scale curve, peak memory.

Usage: ``python benchmarks/bench.py [--runs N] [--sizes 1000,10000,100000]`` (via ``nox -s bench``). Traces
this project's own directive pipeline and, when ``CODETRACE_SGLANG`` / ``CODETRACE_DYNAMO`` point at
checkouts, the five real-world flows (the directives of ``example_docs/flows/*.rst``, as a Sphinx build runs
them, ``:paths-only:`` included). Every flow runs on a copy of its repositories (so one file can be edited),
with its own empty cache:

* **floor**: parsing every file of the repositories once with the fastest parser there is (``ast`` for
  Python, tree-sitter without fact extraction for Rust; the garbage collector paused, as the fastest loop
  would): what a whole-repository indexer cannot beat. A flow over SGLang and Dynamo is compared with the
  floor of both;
* **cold**: the flow's traces with an empty cache (facts and traces);
* **warm**: the same traces again in a new engine over the filled cache (a rebuild: the trace cache answers);
* **1 file**: after appending a comment to the first entry's file (the traces that read it are computed
  again; only that file is parsed again).

Times are CPU seconds of the process (``time.process_time``, user and system): on a shared machine, wall
time measures the neighbours as much as the work. ``--runs`` gives medians. Then: a cold build of all the flows in one process, as ``sphinx-build`` does it,
with its peak RSS (``ru_maxrss`` of a child process); the scale curve: the fixed flow of
``benchmarks/gen_workspace.py`` on generated workspaces of ``--sizes`` functions; with ``CODETRACE_DYNAMO``,
how Dynamo's Rust call sites resolve.
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from gen_workspace import FLOW as SCALE_FLOW
from gen_workspace import generate

from sphinxext.codetrace.cargo import discover_crates
from sphinxext.codetrace.flowscore import checkouts, load_references, page_directives
from sphinxext.codetrace.index import Index
from sphinxext.codetrace.index.guard import paused_gc
from sphinxext.codetrace.model import Resolution
from sphinxext.codetrace.resolve.rust import RustResolver
from sphinxext.codetrace.spec import FlowSpec, parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import SKIP_DIRS, RepoConfig, Workspace

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Flow:
    name: str
    repos: dict[str, Path]  # the checkouts the flow reads, by repository name
    specs: tuple[FlowSpec, ...]  # its directives

    @property
    def label(self) -> str:
        return self.name


def flows() -> list[Flow]:
    """This project's own directive pipeline, then each real-world flow whose checkouts are set."""
    own = parse_options("bench", {"entry": "sphinxext.codetrace.directive.CodetraceDirective.run", "depth": "6"})
    found = [Flow("codetrace: CodetraceDirective.run", {"codetrace": ROOT}, (own,))]
    for ref in load_references(ROOT / "tests" / "data" / "flows"):
        paths, unset = checkouts(ref, os.environ)
        if unset:
            continue
        directives = page_directives(ROOT / "example_docs" / ref.page)
        specs = tuple(parse_options(s.title, dict(directives[s.title])) for s in ref.specs)
        found.append(Flow(ref.name, paths, specs))
    return found


@dataclass
class Run:
    seconds: float  # CPU, this process and the workers it forked
    own: float  # CPU of this process alone
    wall: float
    parsed: int
    traced: int
    steps: int
    files: list[str]
    entry_path: str


def _trace(repos: dict[str, Path], specs: tuple[FlowSpec, ...], cache: Path | None) -> Run:
    workspace, errors = Workspace.from_configs([RepoConfig(name, path) for name, path in sorted(repos.items())])
    assert not errors, errors
    gc.collect()  # the previous run's engine is garbage: collecting it is not this run's cost
    start, wall, children = time.process_time(), time.perf_counter(), _children_cpu()
    engine = Engine(workspace, cache)
    traces, files = [], set()
    for spec in specs:
        traces.append(engine.trace(spec))
        files.update(engine.last_files)
    wall = time.perf_counter() - wall  # until the traces are there; their cache entries may still be written
    own = time.process_time() - start
    engine.close()  # the workers (the child writing them, the text scan and parse-ahead): their CPU is the trace's
    seconds = time.process_time() - start + _children_cpu() - children
    entry = traces[0].entry
    entry_path = str(workspace.repos[entry.repo].root / entry.path)
    steps = sum(len(t.steps) for t in traces)
    return Run(seconds, own, wall, engine.index.parsed, engine.traced, steps, sorted(files), entry_path)


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (the worker that parses half of a Rust workspace)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _copy(path: Path, into: Path) -> Path:
    """A copy of a checkout's sources (no VCS or build folders), with the original modification times."""
    target = into / path.name
    shutil.copytree(path, target, symlinks=True, ignore=shutil.ignore_patterns(*SKIP_DIRS, "_build"))
    return target


def _measure(flow: Flow, copies: dict[str, Path]) -> dict[str, float | int]:
    """Cold, warm and one-file-changed runs of ``flow`` on ``copies`` of its repositories, with a cache of its
    own."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        cold = _trace(copies, flow.specs, cache)
        warm = _trace(copies, flow.specs, cache)
        assert warm.traced == 0 and warm.parsed == 0, "a warm run must trace and parse nothing"
        edited = Path(cold.entry_path)
        original = edited.read_bytes()
        try:
            edited.write_bytes(original + b"\n// bench\n" if edited.suffix == ".rs" else original + b"\n# bench\n")
            one = _trace(copies, flow.specs, cache)
        finally:
            edited.write_bytes(original)
    return {
        "cold": cold.seconds,
        "cold_own": cold.own,
        "cold_wall": cold.wall,
        "warm": warm.seconds,
        "one": one.seconds,
        "parsed": cold.parsed,
        "one_parsed": one.parsed,
        "steps": cold.steps,
        "files": len(cold.files),
    }


def floor(path: Path) -> tuple[float, int]:
    """Seconds to parse every file of a checkout once with the fastest parser: ``ast`` for the ``.py`` files
    under its Python roots, tree-sitter (no fact extraction) for the ``.rs`` files of its crates."""
    from tree_sitter import Parser

    from sphinxext.codetrace.index.rust import language

    workspace, _ = Workspace.from_configs([RepoConfig("r", path)])
    repo = next(iter(workspace.repos.values()))
    py = [repo.root / p for p in workspace.python_relpaths(repo)]
    rs: set[Path] = set()
    for top in {(repo.root / c.root).parent for c in discover_crates(repo.root)}:
        rs.update(p for p in top.rglob("*.rs") if not SKIP_DIRS.intersection(p.parts))
    parser = Parser(language())
    with paused_gc():
        start = time.process_time()
        for f in py:
            with contextlib.suppress(SyntaxError, ValueError, OSError):
                ast.parse(f.read_bytes())
        for f in sorted(rs):
            with contextlib.suppress(OSError):
                parser.parse(f.read_bytes())
        return time.process_time() - start, len(py) + len(rs)


def _cold_build(cache: Path) -> None:
    """Child process: every flow in one engine over one workspace, as a Sphinx build; prints JSON."""
    repos: dict[str, Path] = {}
    for flow in flows():
        repos.update(flow.repos)
    workspace, _ = Workspace.from_configs([RepoConfig(name, path) for name, path in sorted(repos.items())])
    start, wall = time.process_time() + _children_cpu(), time.perf_counter()
    engine = Engine(workspace, cache)
    for flow in flows():
        for spec in flow.specs:
            engine.trace(spec if spec.repo or len(flow.repos) > 1 else replace(spec, repo=next(iter(flow.repos))))
    engine.close()  # as the build's process does before it exits: the cache is written
    seconds, wall = time.process_time() + _children_cpu() - start, time.perf_counter() - wall
    import resource

    rss_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"seconds": seconds, "wall": wall, "rss_mb": rss_kb / 1024, "parsed": engine.index.parsed}))


def cold_build() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--cold-build", tmp], capture_output=True, text=True, check=True, timeout=3600
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale(sizes: list[int], runs: int) -> list[dict[str, float | int]]:
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            counts = generate(Path(tmp) / "synth", size)
            root = Path(tmp) / "synth"
            flow = Flow("synth", {"synth": root}, (parse_options("bench", {"entry": SCALE_FLOW[0], **SCALE_FLOW[1]}),))
            samples = [_measure(flow, flow.repos) for _ in range(runs)]
            seconds, _ = floor(root)
        row = {k: statistics.median(float(s[k]) for s in samples) for k in samples[0]}
        rows.append({**row, "functions": counts["functions"], "workspace_files": counts["files"], "floor": seconds})
    return rows


def _rust_index(path: str, cache: Path) -> tuple[float, int, Counter[str]]:
    """Seconds to index a checkout's Rust crates (module trees and impls), files indexed, and the resolution
    of every call site (keys: resolution values, ``/quiet`` for plumbing left out of traces)."""
    workspace, _ = Workspace.from_configs([RepoConfig("r", Path(path))])
    resolver = RustResolver(workspace, Index(workspace, cache))
    start = time.perf_counter()
    world = resolver.world("r")
    world.impls()
    seconds = time.perf_counter() - start
    counts: Counter[str] = collections.Counter()
    for relpath in sorted(world.files):
        facts = resolver.facts_of("r", relpath)
        for call in facts.calls:
            definition = facts.definition(call.scope)
            if definition is None:
                continue
            out = resolver.resolve_call(resolver.symbol("r", relpath, definition), call)
            counts[out.resolution.value + ("/quiet" if out.quiet else "")] += 1
    return seconds, len(world.files), counts


def _rust_report(path: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cold, files, counts = _rust_index(path, Path(tmp))
        warm, _, _ = _rust_index(path, Path(tmp))
    total = sum(counts.values()) or 1
    resolved = sum(v for k, v in counts.items() if k.split("/")[0] in ("direct", "import", "typed", "inherited"))
    groups = {
        "resolved (direct, import, typed, inherited)": resolved,
        "resolved as candidates": counts[Resolution.CANDIDATES.value],
        "external, shown": counts["external"],
        "external, quiet (plumbing)": counts["external/quiet"],
        "unresolved": counts["unresolved"],
    }
    print(f"rust index of {files} files (no trace cache): cold {cold:.2f} s, warm {warm:.2f} s; {total} call sites:")
    for label, value in groups.items():
        print(f"  {label:<46} {value:>7} {100 * value / total:5.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="median of this many runs (default 1)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="functions of the generated workspaces")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale curve")
    parser.add_argument("--cold-build", metavar="CACHE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_build:
        _cold_build(Path(args.cold_build))
        return 0

    floors: dict[str, float] = {}
    for flow in flows():
        for name, path in sorted(flow.repos.items()):
            if name not in floors:
                floors[name], count = floor(path)
                print(f"floor of {name}: parse its {count} .py/.rs files once: {floors[name]:.2f} s")
    print("(CPU seconds: time.process_time, plus the processes forked)")
    print()
    head = f"{'flow':<36} {'floor s':>7} {'cold s':>7} {'own s':>7} {'wall s':>7} {'warm s':>7} {'1 file s':>8}"
    head += f" {'cold/floor':>10} {'wall/floor':>10}"
    print(head + f" {'parsed':>9} {'steps':>5}")
    ratios: dict[str, list[float]] = {"cold": [], "own": [], "wall": [], "warm": []}
    real_floor = sum(v for k, v in floors.items() if k != "codetrace")
    with tempfile.TemporaryDirectory() as tmp:
        copies: dict[str, Path] = {}
        for flow in flows():
            for name, path in flow.repos.items():
                if name not in copies:
                    copies[name] = _copy(path, Path(tmp) / name)
            samples = [_measure(flow, {n: copies[n] for n in flow.repos}) for _ in range(args.runs)]
            row = {k: statistics.median(float(s[k]) for s in samples) for k in samples[0]}
            # a real flow is held to the floor of both checkouts (the goal of the performance issue)
            flow_floor = floors["codetrace"] if "codetrace" in flow.repos else real_floor
            parsed = f"{row['parsed']:.0f}/{row['one_parsed']:.0f}"
            print(
                f"{flow.label:<36} {flow_floor:>7.2f} {row['cold']:>7.2f} {row['cold_own']:>7.2f} "
                f"{row['cold_wall']:>7.2f} {row['warm']:>7.2f} {row['one']:>8.2f} {row['cold'] / flow_floor:>10.2f} "
                f"{row['cold_wall'] / flow_floor:>10.2f} {parsed:>9} {row['steps']:>5.0f}"
            )
            if "codetrace" not in flow.repos:
                ratios["cold"].append(row["cold"] / flow_floor)
                ratios["own"].append(row["cold_own"] / flow_floor)
                ratios["wall"].append(row["cold_wall"] / flow_floor)
                ratios["warm"].append(row["warm"] / flow_floor)
    print(
        "  cold: CPU of the process and of the processes it forked (Rust header worker, text scan and parse-ahead "
        "worker, cache writer); own: of the tracing process alone; wall: elapsed until the traces are returned "
        "(the cache writer may still run); warm and 1 file: CPU. parsed: files parsed by the tracing process "
        "cold / after the one-file edit; steps: of all the flow's traces"
    )
    if ratios["cold"]:
        print(
            f"  real flows, against the floor of both checkouts: cold CPU {min(ratios['cold']):.2f} to "
            f"{max(ratios['cold']):.2f} (the tracing process {min(ratios['own']):.2f} to {max(ratios['own']):.2f}), "
            f"cold wall {min(ratios['wall']):.2f} to {max(ratios['wall']):.2f} "
            f"(goal: under 1), warm at most {max(ratios['warm']):.3f} (goal: under 0.1)"
        )
    build = cold_build()
    print(
        f"cold build of all {len(flows())} flows in one process: {build['seconds']:.2f} s "
        f"({build['wall']:.2f} s wall), {build['parsed']:.0f} files parsed, peak RSS {build['rss_mb']:.0f} MB; "
        f"(the floor of every repository once: {sum(floors.values()):.2f} s)"
    )
    if not args.no_scale:
        print()
        print(f"scale: the fixed flow {SCALE_FLOW[0]} in generated workspaces (benchmarks/gen_workspace.py)")
        print(f"{'functions':>9} {'files':>6} {'floor s':>7} {'cold s':>7} {'warm s':>7} {'1 file s':>8} {'read':>5}")
        for row in scale([int(s) for s in args.sizes.split(",") if s], args.runs):
            print(
                f"{row['functions']:>9.0f} {row['workspace_files']:>6.0f} {row['floor']:>7.2f} {row['cold']:>7.2f} "
                f"{row['warm']:>7.2f} {row['one']:>8.2f} {row['files']:>5.0f}"
            )
    if os.environ.get("CODETRACE_DYNAMO"):
        print()
        _rust_report(os.environ["CODETRACE_DYNAMO"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
