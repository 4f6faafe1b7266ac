"""Benchmark: cold and warm trace times, files parsed, against the cost of parsing everything.

Usage: ``python benchmarks/bench.py`` (via ``nox -s bench``). Traces this project's own directive pipeline
and, when ``CODETRACE_SGLANG`` / ``CODETRACE_DYNAMO`` point at checkouts, flows in those repos. Reports the
median of ``--runs`` runs. Cold runs use an empty facts cache; warm runs reuse the one the cold run filled.

With ``CODETRACE_DYNAMO`` it also indexes Dynamo's Rust crates cold and warm and resolves every Rust call
site once, printing the share resolved (direct, import, typed, inherited), as candidates, external (shown or
quiet) and unresolved.
"""

from __future__ import annotations

import argparse
import ast
import collections
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.model import Resolution
from sphinxext.codetrace.resolve.rust import RustResolver
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

ROOT = Path(__file__).resolve().parent.parent

FLOWS: list[tuple[str, str, str, dict[str, str]]] = [
    ("codetrace", str(ROOT), "sphinxext.codetrace.directive.CodetraceDirective.run", {"depth": "6"}),
]
if os.environ.get("CODETRACE_SGLANG"):
    FLOWS += [
        (
            "sglang",
            os.environ["CODETRACE_SGLANG"],
            "sglang.srt.managers.scheduler.Scheduler.run_batch",
            {"depth": "4", "max-steps": "400"},
        ),
        (
            "sglang",
            os.environ["CODETRACE_SGLANG"],
            "sglang.srt.managers.tokenizer_manager.TokenizerManager.generate_request",
            {"depth": "4", "max-steps": "400"},
        ),
    ]
if os.environ.get("CODETRACE_DYNAMO"):
    FLOWS += [
        (
            "dynamo",
            os.environ["CODETRACE_DYNAMO"],
            "dynamo_llm::kv_router::KvRouter::find_best_match",
            {"depth": "4", "max-steps": "400"},
        ),
        (
            "dynamo",
            os.environ["CODETRACE_DYNAMO"],
            "lib/llm/src/http/service/openai.rs::completions",
            {"depth": "4", "max-steps": "400"},
        ),
    ]


def _trace(repo: str, path: str, entry: str, options: dict[str, str], cache: Path) -> tuple[float, int, int]:
    workspace, _ = Workspace.from_configs([RepoConfig(repo, Path(path))])
    engine = Engine(workspace, cache)
    start = time.perf_counter()
    trace = engine.trace(parse_options("bench", {"entry": entry, **options}))
    return time.perf_counter() - start, engine.index.parsed, len(trace.steps)


def _floor(path: str, files_read: int) -> tuple[float, int]:
    """Seconds to parse every .py file of the checkout's Python roots with ``ast`` (the fastest parser)."""
    workspace, _ = Workspace.from_configs([RepoConfig("r", Path(path))])
    files = sorted({p for root in next(iter(workspace.repos.values())).python_roots for p in root.rglob("*.py")})
    start = time.perf_counter()
    for f in files:
        with contextlib.suppress(SyntaxError, ValueError):
            ast.parse(f.read_bytes())
    return time.perf_counter() - start, len(files)


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
    print(f"rust index of {files} files: cold {cold:.2f} s, warm {warm:.2f} s; {total} call sites:")
    for label, value in groups.items():
        print(f"  {label:<46} {value:>7} {100 * value / total:5.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'flow':<70} {'cold s':>8} {'warm s':>8} {'parsed':>7} {'steps':>6}")
    for repo, path, entry, options in FLOWS:
        colds, warms = [], []
        parsed = steps = 0
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                cold, parsed, steps = _trace(repo, path, entry, options, Path(tmp))
                warm, warm_parsed, _ = _trace(repo, path, entry, options, Path(tmp))
                assert warm_parsed == 0, "a warm run must parse nothing"
                colds.append(cold)
                warms.append(warm)
        print(
            f"{repo + ':' + entry:<70} {statistics.median(colds):>8.2f} {statistics.median(warms):>8.2f} "
            f"{parsed:>7} {steps:>6}"
        )
    seen = set()
    for repo, path, *_ in FLOWS:
        if path in seen:
            continue
        seen.add(path)
        seconds, count = _floor(path, 0)
        print(f"floor: ast-parse all {count} .py files of {repo}: {seconds:.2f} s")
    if os.environ.get("CODETRACE_DYNAMO"):
        _rust_report(os.environ["CODETRACE_DYNAMO"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
