"""Does parsing a Rust workspace in parallel pay? Serial against process pools of 1 and 2 workers.

Usage: ``python benchmarks/parallel_index.py RUST_CHECKOUT [--workers 1,2]``. Parses the ``.rs`` files of the
checkout's crates with the Rust frontend (tree-sitter plus fact extraction) and prints, for each way:

* ``serial``: in this process (what the engine does);
* ``pool N, facts``: N worker processes returning the facts (pickled back);
* ``pool N, json``: N workers returning the facts' JSON (the form the facts cache stores), decoded here.

Threads are no option: tree-sitter's parse is about a fifth of the frontend's time, the rest is Python
walking the tree under the GIL. Measured on 2 cores, Dynamo's 808 files: serial 3.9 s, pool of 2 returning
facts 2.8 s, returning JSON 4.4 s; but wired into the engine (the parent reads and hashes every file, the
workers store the facts in the cache, the pool starts), a cold Rust trace took 7.05 s with 2 workers against
6.55 s serial, so the engine parsed in one process. Since then the workspace index needs header facts only
(half the extraction) and decoding facts got 2.5 times faster: the engine now forks one worker for half of a
Rust workspace's headers (``Index.prefetch``; 1.96 s -> 1.16 s wall on Dynamo).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sphinxext.codetrace.cargo import discover_crates
from sphinxext.codetrace.index.rust import parse_rust
from sphinxext.codetrace.model import facts_from_plain, to_plain
from sphinxext.codetrace.workspace import SKIP_DIRS


def _facts(items: list[tuple[str, str]]) -> list[object]:
    return [parse_rust(source, path) for source, path in items]


def _json(items: list[tuple[str, str]]) -> list[str]:
    return [json.dumps(to_plain(parse_rust(source, path)), separators=(",", ":")) for source, path in items]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    root = args.checkout.resolve()
    files = sorted(
        {
            p
            for top in {(root / c.root).parent for c in discover_crates(root)}
            for p in top.rglob("*.rs")
            if not SKIP_DIRS.intersection(p.parts)
        }
    )
    items = [(p.read_text(encoding="utf-8", errors="replace"), p.relative_to(root).as_posix()) for p in files]
    print(f"{len(items)} .rs files; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    start = time.perf_counter()
    _facts(items)
    print(f"{'serial':<16} {time.perf_counter() - start:6.2f} s")
    context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
    for workers in [int(w) for w in args.workers.split(",")]:
        chunks = [items[i :: workers * 4] for i in range(workers * 4)]
        for name, work in (("facts", _facts), ("json", _json)):
            start = time.perf_counter()
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                for part in pool.map(work, chunks):
                    if name == "json":
                        for text in part:
                            facts_from_plain(json.loads(text))
            print(f"{f'pool {workers}, {name}':<16} {time.perf_counter() - start:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
