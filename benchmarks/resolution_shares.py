"""How the call sites of a real code base resolve, one by one, as a trace resolves them; and a random sample of
resolved ones to check by hand.

Usage::

    python benchmarks/resolution_shares.py REPO_ROOT SUBDIR [--cache-dir DIR] [--sample 50] [--seed 0] [--jobs 2]

e.g. ``python benchmarks/resolution_shares.py $CODETRACE_SGLANG python/sglang/srt --cache-dir /tmp/cache``.
Every call written in a function of ``SUBDIR`` (the calls ``with``/``for``/decorators make implicitly are
left out) is resolved with :meth:`PythonResolver.resolve_call`, with no knowledge of the caller (a trace
knows more: the class of ``self``, the construction site of the receiver). Each is counted as ``resolved``
(one callee in the repo), ``candidates`` (several, each listed), ``external`` (stdlib, third party,
builtins) or ``unresolved``. ``--sample`` prints that many resolved call sites, drawn with a fixed seed, with
their source line and callee, for a reader to judge. ``--jobs`` parses files in that many processes first
(the facts cache is shared), which only pays when the cache is cold.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.index.python import implicit_tag
from sphinxext.codetrace.model import Resolution
from sphinxext.codetrace.resolve.python import PySymbol, PythonResolver
from sphinxext.codetrace.workspace import RepoConfig, Workspace


def _warm(args: tuple[str, str, list[str]]) -> int:
    root, cache, relpaths = args
    workspace, _ = Workspace.from_configs([RepoConfig("repo", Path(root))])
    index = Index(workspace, Path(cache))
    for relpath in relpaths:
        index.facts(workspace.repo("repo"), relpath)
    return index.parsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("subdir")
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    workspace, errors = Workspace.from_configs([RepoConfig("repo", args.root)])
    if errors:
        print(errors[0], file=sys.stderr)
        return 2
    repo = workspace.repo("repo")
    files = sorted(p for p in (repo.root / args.subdir).rglob("*.py") if repo.module_name(p.resolve()))
    relpaths = [repo.relpath(p.resolve()) for p in files]
    start = time.perf_counter()
    if args.jobs > 1 and args.cache_dir is not None:
        chunks = [relpaths[i :: args.jobs] for i in range(args.jobs)]
        with ProcessPoolExecutor(args.jobs) as pool:
            parsed = sum(pool.map(_warm, [(str(args.root), str(args.cache_dir), c) for c in chunks]))
        print(f"parsed {parsed} files in {args.jobs} processes: {time.perf_counter() - start:.1f} s")
    index = Index(workspace, args.cache_dir)
    resolver = PythonResolver(workspace, index)
    counts = {"resolved": 0, "candidates": 0, "external": 0, "unresolved": 0}
    resolved: list[tuple[str, int, str, str, str]] = []
    start = time.perf_counter()
    for relpath in relpaths:
        info = resolver.info("repo", relpath)
        lines = (repo.root / relpath).read_text(encoding="utf-8", errors="replace").splitlines()
        for call in info.facts.calls:
            d = info.defs.get(call.scope)
            if d is None or d.kind != "function" or implicit_tag(call.text) or call.text.startswith("@"):
                continue
            if resolver.call_flow(info, call) is None or resolver.call_flow(info, call).target is not None:
                continue  # a spawned or mapped function: not a call written here
            out = resolver.resolve_call(PySymbol("repo", relpath, info.module, d), call)
            if out.resolution is Resolution.CANDIDATES:
                counts["candidates"] += 1
            elif out.resolution is Resolution.EXTERNAL:
                counts["external"] += 1
            elif out.resolution is Resolution.UNRESOLVED:
                counts["unresolved"] += 1
            else:
                counts["resolved"] += 1
                callee = out.callee or out.constructs
                where = f"{callee.path}:{callee.definition.line}" if callee is not None else ""
                resolved.append((relpath, call.line, lines[call.line - 1].strip(), out.target, where))
    seconds = time.perf_counter() - start
    total = sum(counts.values())
    print(f"{len(relpaths)} files, {total} call sites in functions, resolved in {seconds:.1f} s")
    for name, n in counts.items():
        print(f"  {name:<11} {n:>7}  {n / max(total, 1):6.1%}")
    if args.sample:
        print(f"\n{args.sample} resolved call sites (seed {args.seed}):")
        for i, (path, line, text, target, where) in enumerate(
            random.Random(args.seed).sample(resolved, min(args.sample, len(resolved))), start=1
        ):
            print(f"{i:>3}. {path}:{line}: {text}\n     -> {target}  ({where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
