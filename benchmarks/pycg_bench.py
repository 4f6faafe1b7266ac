"""Side by side: precision and recall of this project's call graphs and PyCG's, on PyCG's micro-benchmark.

Usage::

    CODETRACE_PYCG_BENCH=/path/to/PyCG/micro-benchmark python benchmarks/pycg_bench.py [--pycg-python PY]

(``nox -s bench`` runs it when ``CODETRACE_PYCG_BENCH`` is set.) The benchmark (Apache-2.0) is read from
where it lies, never copied: ``snippets/<category>/<case>/{main.py, callgraph.json}``. Each case is run by
both tools as a fresh process in the case's folder (``python -m sphinxext.codetrace callgraph .`` and
``python -m pycg --package . main.py``), with a timeout. Edges are ``(caller, callee)`` pairs; edges to
builtins (``<builtin>.len``, ``<**PyStr**>.join``) are left out on both sides, as in the issue's figures.

PyCG is the PyPI release 0.0.8, whose wheel installs its package directory as ``PyCG``: ``import pycg``
fails on case-sensitive file systems, so a folder holding a ``pycg`` symlink to it is put on ``PYTHONPATH``.
It runs under ``--pycg-python`` (default: ``$CODETRACE_PYCG_PYTHON``, else this interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


@dataclass
class Score:
    """Edge counts of one tool over some cases."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: int = 0
    cases: int = 0
    failed: int = 0
    seconds: float = 0.0
    wrong: list[str] = field(default_factory=list)

    def add(self, found: set[tuple[str, str]] | None, truth: set[tuple[str, str]], seconds: float, case: str) -> None:
        self.cases += 1
        self.seconds += seconds
        if found is None:
            self.failed += 1
            self.fn += len(truth)
            return
        self.tp += len(found & truth)
        self.fp += len(found - truth)
        self.fn += len(truth - found)
        self.exact += found == truth
        self.wrong.extend(f"{case}: extra {a} -> {b}" for a, b in sorted(found - truth))
        self.wrong.extend(f"{case}: missing {a} -> {b}" for a, b in sorted(truth - found))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def edges(graph: dict[str, list[str]]) -> set[tuple[str, str]]:
    """``(caller, callee)`` pairs of a PyCG-format graph, builtins left out."""
    return {
        (caller, callee)
        for caller, callees in graph.items()
        if not caller.startswith("<")
        for callee in callees
        if not callee.startswith("<")
    }


def snippets_dir(path: Path) -> Path:
    return path / "snippets" if (path / "snippets").is_dir() else path


def cases(bench: Path) -> list[Path]:
    return sorted(p.parent for p in snippets_dir(bench).glob("*/*/callgraph.json") if (p.parent / "main.py").is_file())


def pycg_shim(python: str, tmp: Path) -> dict[str, str]:
    """The environment that makes ``python -m pycg`` work with the 0.0.8 wheel (package dir ``PyCG``)."""
    env = dict(os.environ)
    probe = "import importlib.util as u; s = u.find_spec('pycg') or u.find_spec('PyCG'); print(s.submodule_search_locations[0] if s else '')"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False).stdout.strip()
    if not out:
        raise SystemExit(f"pycg is not installed for {python} (pip install pycg==0.0.8)")
    if Path(out).name != "pycg":
        (tmp / "pycg").symlink_to(out)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp), env.get("PYTHONPATH", "")]))
    return env


FAILURES: dict[str, str] = {}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[dict[str, list[str]] | None, float]:
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        FAILURES.setdefault(command[0] + " " + command[2], f"{cwd.parent.name}/{cwd.name}: {last}")
        return None, seconds
    try:
        return json.loads(done.stdout), seconds
    except ValueError:
        return None, seconds


def startup(command: list[str], env: dict[str, str]) -> float:
    """Seconds a tool takes to start and print its help (imports included): the fixed cost of a case."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=False, timeout=TIMEOUT)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", nargs="?", default=os.environ.get("CODETRACE_PYCG_BENCH"), type=Path)
    parser.add_argument("--pycg-python", default=os.environ.get("CODETRACE_PYCG_PYTHON", sys.executable))
    parser.add_argument("--show", action="store_true", help="list every edge either tool gets wrong")
    parser.add_argument("--no-pycg", action="store_true", help="score this project only")
    args = parser.parse_args()
    if args.bench is None or not snippets_dir(args.bench).is_dir():
        print("set CODETRACE_PYCG_BENCH to PyCG's micro-benchmark folder (snippets/<category>/<case>)")
        return 2
    ours_env = dict(os.environ)
    ours_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), ours_env.get("PYTHONPATH", "")]))
    totals = {"codetrace": Score(), "pycg": Score()}
    by_category: dict[str, dict[str, Score]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pycg_env = pycg_shim(args.pycg_python, Path(tmp)) if not args.no_pycg else {}
        startups = {
            "codetrace": startup([sys.executable, "-m", "sphinxext.codetrace", "callgraph", "--help"], ours_env)
        }
        if not args.no_pycg:
            startups["pycg"] = startup([args.pycg_python, "-m", "pycg", "--help"], pycg_env)
        for case in cases(args.bench):
            category = case.parent.name
            name = f"{category}/{case.name}"
            truth = edges(json.loads((case / "callgraph.json").read_text(encoding="utf-8")))
            scores = by_category.setdefault(category, {"codetrace": Score(), "pycg": Score()})
            ours, seconds = run(
                [sys.executable, "-m", "sphinxext.codetrace", "callgraph", ".", "--format", "pycg"], case, ours_env
            )
            found = edges(ours) if ours is not None else None
            for score in (scores["codetrace"], totals["codetrace"]):
                score.add(found, truth, seconds, name)
            if args.no_pycg:
                continue
            theirs, seconds = run([args.pycg_python, "-m", "pycg", "--package", ".", "main.py"], case, pycg_env)
            found = edges(theirs) if theirs is not None else None
            for score in (scores["pycg"], totals["pycg"]):
                score.add(found, truth, seconds, name)
    print(
        f"PyCG micro-benchmark: {sum(s['codetrace'].cases for s in by_category.values())} cases, edges without builtins"
    )
    print()
    print("| category | cases | edges | codetrace P | codetrace R | exact | PyCG P | PyCG R | exact |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for category, scores in sorted(by_category.items()):
        ours, theirs = scores["codetrace"], scores["pycg"]
        print(
            f"| {category} | {ours.cases} | {ours.tp + ours.fn} | {ours.precision:.1%} | {ours.recall:.1%} | "
            f"{ours.exact} | {theirs.precision:.1%} | {theirs.recall:.1%} | {theirs.exact} |"
        )
    ours, theirs = totals["codetrace"], totals["pycg"]
    print(
        f"| **all** | {ours.cases} | {ours.tp + ours.fn} | **{ours.precision:.1%}** | **{ours.recall:.1%}** | "
        f"{ours.exact} | **{theirs.precision:.1%}** | **{theirs.recall:.1%}** | {theirs.exact} |"
    )
    print()
    for label, score in totals.items():
        if args.no_pycg and label == "pycg":
            continue
        each = score.seconds / max(score.cases, 1)
        print(
            f"{label}: {score.tp} right, {score.fp} wrong, {score.fn} missing edges; {score.failed} cases failed; "
            f"{score.seconds:.1f} s for {score.cases} cases, one process per case ({each:.2f} s each, of which "
            f"{startups[label]:.2f} s start-up)"
        )
    for tool, failure in FAILURES.items():
        print(f"first failure of {tool}: {failure}")
    if args.show:
        for label, score in totals.items():
            print(f"\n{label}:")
            for line in score.wrong:
                print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
