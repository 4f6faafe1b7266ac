"""Incremental Sphinx builds: what a rebuild reads, traces and parses (counted, never timed)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sphinxext.codetrace import directive

PRE = re.compile(r'<pre\s+class="mermaid">\s*(.*?)\s*</pre>', re.S)
RUSTREPO = Path(__file__).resolve().parent / "fixtures" / "rustrepo"


@pytest.fixture
def project(tmp_path: Path, rootdir: Path) -> Path:
    """Two pages over the basic repo: ``service`` reads service.py, store.py (and broken.py); ``store`` reads
    store.py only."""
    src = tmp_path / "docs"
    shutil.copytree(rootdir / "test-basic", src)
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   service\n   store\n")
    (src / "service.rst").write_text(
        "Service\n=======\n\n.. codetrace:: Handle\n   :entry: app.service.Service.handle\n"
    )
    (src / "store.rst").write_text("Store\n=====\n\n.. codetrace:: Lookup\n   :entry: app.store.CachedStore.lookup\n")
    return src


def _build(make_app, src: Path, out: Path | None = None, **kwargs):
    """Build and return ``(app, counts)``: traces computed and files parsed by the build's engine."""
    if out is not None:
        kwargs["builddir"] = out
    app = make_app("html", srcdir=src, **kwargs)
    counts: dict[str, int] = {}
    read: list[str] = []
    app.connect("source-read", lambda app, docname, source: read.append(docname))

    def count(app, exception) -> None:  # before the engine is dropped (priority 500)
        engine = directive._ENGINES.get(id(app.env))
        if engine is not None:
            counts.update(traced=engine.traced, parsed=engine.index.parsed)

    app.connect("build-finished", count, priority=400)
    app.build()
    assert "Traceback" not in app.warning.getvalue()
    app.codetrace_read = set(read)  # type: ignore[attr-defined]
    return app, counts


def _read(app) -> set[str]:
    """The documents the last build read (from Sphinx's ``source-read`` event: the status text is laid out
    differently on a terminal and under ``CI=true``)."""
    return app.codetrace_read


def test_a_rebuild_with_no_change_reads_no_page_and_runs_no_trace(make_app, project: Path) -> None:
    _, cold = _build(make_app, project)
    assert cold["traced"] == 2 and cold["parsed"] >= 3
    app, warm = _build(make_app, project)
    assert _read(app) == set()
    assert warm == {"traced": 0, "parsed": 0}


def test_editing_one_traced_file_rebuilds_only_its_pages_and_parses_only_it(make_app, project: Path) -> None:
    _build(make_app, project)
    service = project / "repo" / "src" / "app" / "service.py"
    service.write_text(service.read_text().replace("await asyncio.sleep(0)", "await asyncio.sleep(1)"))
    app, counts = _build(make_app, project)
    assert "service" in _read(app) and "store" not in _read(app)
    assert counts == {"traced": 1, "parsed": 1}


def test_a_fresh_build_with_a_kept_cache_traces_nothing(make_app, project: Path, tmp_path: Path) -> None:
    """CI without the doctree cache but with the codetrace cache: every page is read, no flow is traced."""
    cache = tmp_path / "codetrace-cache"
    first, cold = _build(make_app, project, tmp_path / "one", confoverrides={"codetrace_cache_dir": str(cache)})
    app, warm = _build(make_app, project, tmp_path / "two", confoverrides={"codetrace_cache_dir": str(cache)})
    assert _read(app) == {"index", "service", "store"}
    assert cold["traced"] == 2 and warm == {"traced": 0, "parsed": 0}
    for page in ("service", "store"):
        html = [PRE.findall((a.outdir / f"{page}.html").read_text(encoding="utf-8")) for a in (first, app)]
        assert html[0] == html[1] and html[0]
    # the same under -j 2, from the same cache
    parallel, _ = _build(
        make_app, project, tmp_path / "three", parallel=2, confoverrides={"codetrace_cache_dir": str(cache)}
    )
    for page in ("service", "store"):
        assert PRE.findall((parallel.outdir / f"{page}.html").read_text(encoding="utf-8")) == PRE.findall(
            (first.outdir / f"{page}.html").read_text(encoding="utf-8")
        )


def test_indexing_a_rust_workspace_shows_progress(make_app, tmp_path: Path) -> None:
    src = tmp_path / "rust"
    src.mkdir()
    (src / "conf.py").write_text(
        f'extensions = ["sphinxext.codetrace"]\ncodetrace_repos = {{"fleet": {{"path": {str(RUSTREPO)!r}}}}}\n'
    )
    (src / "index.rst").write_text("Rust\n====\n\n.. codetrace:: Pipeline\n   :entry: fleet_net::channels::pipeline\n")
    app, counts = _build(make_app, src)
    status = re.sub(r"\x1b\[[0-9;]*m", "", app.status.getvalue())
    assert "codetrace: indexing fleet (Rust)..." in status
    assert re.search(r"codetrace: indexing fleet \(Rust\)\.\.\. \[100%\]", status)
    assert counts["traced"] == 1
