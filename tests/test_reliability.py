"""Reliability: determinism across processes and hash seeds, file-system order, caches shared by builds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from helpers import PYREPO

from sphinxext.codetrace import workspace as workspace_module
from sphinxext.codetrace.render import flowchart, sequence_diagram
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace, detect_python_roots

ROOTS = Path(__file__).parent / "roots"
ENTRIES = ("shipyard.flows.start", "shipyard.flows.pipeline", "shipyard.models.make_leaf")


def _cli(seed: str, fmt: str, cache: Path | None = None) -> str:
    argv = [sys.executable, "-m", "sphinxext.codetrace", "trace", "--repo", f"fx={PYREPO}", "--format", fmt]
    argv += ["--entry", "shipyard.flows.start"]
    if cache is not None:
        argv += ["--cache-dir", str(cache)]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env, timeout=120).stdout


def test_output_is_identical_across_hash_seeds() -> None:
    for fmt in ("json", "mermaid", "flowchart"):
        outputs = {_cli(seed, fmt) for seed in ("0", "1", "4242")}
        assert len(outputs) == 1, fmt
        assert len(next(iter(outputs))) > 200


def test_python_roots_do_not_depend_on_directory_order(monkeypatch, tmp_path: Path) -> None:
    for name in ("b", "a", "c"):
        (tmp_path / name / "src").mkdir(parents=True)
        (tmp_path / name / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    forward = detect_python_roots(tmp_path)
    real_walk = os.walk

    def reversed_walk(top, *args, **kwargs):
        for dirpath, dirnames, filenames in real_walk(top, *args, **kwargs):
            dirnames.reverse()
            yield dirpath, dirnames, list(reversed(filenames))

    monkeypatch.setattr(workspace_module.os, "walk", reversed_walk)
    assert detect_python_roots(tmp_path) == forward
    assert [p.parent.name for p in forward[:3]] == ["a", "b", "c"]


def _trace_all(cache: str) -> list[str]:
    """One process's renders of every entry, through a cache shared with other processes."""
    workspace, _ = Workspace.from_configs([RepoConfig("fx", PYREPO)])
    engine = Engine(workspace, Path(cache))
    out = []
    for entry in ENTRIES:
        trace = engine.trace(parse_options("t", {"entry": entry}))
        out.append(sequence_diagram(trace) + flowchart(trace))
    return out


def test_processes_sharing_one_cache_agree(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_trace_all, [str(cache)] * 8))
    assert all(r == results[0] for r in results)
    entries = list(cache.rglob("*.json"))
    assert entries and not list(cache.rglob(".tmp-*"))  # every write landed whole, no temp file left
    assert _trace_all(str(cache)) == results[0]  # and a warm run reads them back to the same output


PRE = re.compile(r'<pre\s+class="mermaid">\s*(.*?)\s*</pre>', re.S)


def test_two_sphinx_builds_at_once_share_a_cache(tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    procs, outs = [], []
    for name in ("one", "two"):
        src = tmp_path / name
        shutil.copytree(ROOTS / "test-myst", src)
        out = tmp_path / f"{name}-html"
        outs.append(out)
        argv = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-D", f"codetrace_cache_dir={cache}"]
        procs.append(subprocess.Popen([*argv, str(src), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    diagrams = [PRE.findall((out / "index.html").read_text(encoding="utf-8")) for out in outs]
    assert diagrams[0] == diagrams[1] and diagrams[0]
    assert list(cache.rglob("*.json"))
