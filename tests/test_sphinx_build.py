"""End-to-end: the directive in real Sphinx builds (html), its warnings, links, offline mermaid, rebuilds."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

PRE = re.compile(r'<pre\s+class="mermaid">\s*(.*?)\s*</pre>', re.S)
COMMIT = "a" * 40


def _fake_git(repo: Path, remote: str = "git@github.com:acme/app.git") -> None:
    git = repo / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    (git / "config").write_text(f'[remote "origin"]\n\turl = {remote}\n')


def _warnings(app) -> list[str]:
    return [w for w in app.warning.getvalue().splitlines() if "WARNING" in w]


@pytest.fixture
def basic(make_app, tmp_path, rootdir):
    src = tmp_path / "basic"
    shutil.copytree(rootdir / "test-basic", src)
    _fake_git(src / "repo")

    def build(**overrides):
        app = make_app("html", srcdir=src, confoverrides=overrides)
        app.build()
        return app

    return src, build


def test_builds_diagrams_and_linked_table(basic):
    _src, build = basic
    app = build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    diagrams = PRE.findall(html)
    assert any(d.startswith("sequenceDiagram") for d in diagrams)
    assert any(d.startswith("flowchart LR") for d in diagrams)
    sequence = next(d for d in diagrams if d.startswith("sequenceDiagram"))
    # the chain: handle -> CachedStore.lookup (in try) -> Store.get (inherited) ; fallback awaited; audit spawned
    assert "critical try, except KeyError" in sequence and "lookup(key: str)" in sequence
    assert "get(key: str)" in sequence
    assert "await fallback(key: str)" in sequence
    assert "spawn audit(key: str)" in sequence
    # every definition link is pinned to the commit and points at the def line
    base = f"https://github.com/acme/app/blob/{COMMIT}/src/app/"
    assert f'href="{base}service.py#L11"' in html  # Service.handle: the `async def` line
    assert f'href="{base}store.py#L10"' in html  # CachedStore.lookup
    assert f'href="{base}store.py#L5"' in html  # Store.get
    # the call site links point at the calling line
    assert f'href="{base}service.py#L13"' in html  # self.store.lookup(key)


def test_bad_input_warns_at_the_directive_and_build_goes_on(basic):
    _src, build = basic
    app = build()
    warnings = _warnings(app)
    text = "\n".join(warnings)
    assert re.search(r"index\.rst:\d+: WARNING: unknown option :stop-att: \(hint: did you mean: stop-at\?\)", text)
    assert re.search(r"index\.rst:\d+: WARNING: missing required option :entry:", text)
    assert re.search(r"WARNING: entry 'app.service.Service.handel'.*did you mean: Service.handle", text)
    assert re.search(r"WARNING: unknown repo 'nowhere'", text)
    assert re.search(r"WARNING: app:src/app/broken.py: syntax error at line 2", text)
    assert "[codetrace.spec]" in text and "[codetrace.unresolved]" in text and "[codetrace.parse]" in text
    assert (app.outdir / "index.html").exists()


def test_suppress_warnings_by_subtype(basic):
    _src, build = basic
    app = build(suppress_warnings=["codetrace.spec", "codetrace.parse"])
    text = "\n".join(_warnings(app))
    assert "unknown option" not in text and "syntax error" not in text
    assert "unknown repo" in text  # other subtypes still reported


def test_stop_at_and_file_form_entry(basic):
    _src, build = basic
    app = build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    # the last directive uses the file form, stops at app.store.*, draws only a sequence diagram by module
    last = PRE.findall(html)[-1]
    assert last.startswith("sequenceDiagram")
    assert "lookup(key: str) (stop)" in last
    assert "get(key: str)" not in last  # not entered past the stop
    assert "participant p3 as app.store" in last


def test_offline_mermaid_no_cdn(basic):
    _src, build = basic
    app = build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "_static/codetrace/mermaid.min.js" in html
    assert "codetrace/mermaid-shim.mjs" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    assert not re.search(r"""<script[^>]+src=["']https?://""", html)
    assert (app.outdir / "_static" / "codetrace" / "mermaid.min.js").stat().st_size > 1_000_000


def test_output_is_deterministic(make_app, tmp_path, rootdir):
    outputs = []
    for name in ("one", "two"):
        src = tmp_path / name
        shutil.copytree(rootdir / "test-basic", src)
        _fake_git(src / "repo")
        app = make_app("html", srcdir=src)
        app.build()
        outputs.append(PRE.findall((app.outdir / "index.html").read_text(encoding="utf-8")))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) >= 3


def test_traced_files_are_dependencies_and_edits_rebuild(basic):
    src, build = basic
    app = build()
    deps = {Path(d).name for d in app.env.dependencies["index"]}
    assert {"service.py", "store.py", "broken.py"} <= deps
    # No change: the page is not read again.
    app = build()
    assert "0 added, 0 changed, 0 removed" in app.status.getvalue()
    # Edit traced code: the page is rebuilt and shows the new call.
    store = src / "repo" / "src" / "app" / "store.py"
    source = store.read_text()
    source = source.replace(
        "        return self.items.get(key)", "        self.touch(key)\n        return self.items.get(key)"
    )
    source = source.replace(
        "\n\nclass CachedStore", "\n    def touch(self, key: str) -> None:\n        pass\n\n\nclass CachedStore"
    )
    store.write_text(source)
    later = store.stat().st_mtime + 10
    os.utime(store, (later, later))
    app = build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "touch(key: str)" in html


def test_plain_text_locations_without_a_link_scheme(make_app, tmp_path, rootdir):
    src = tmp_path / "nolink"
    shutil.copytree(rootdir / "test-basic", src)  # no .git: no commit, no remote
    app = make_app("html", srcdir=src)
    app.build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "github.com" not in html
    assert "app:src/app/store.py:10" in html
    assert "click n" not in html  # no links in the flowchart either


def test_myst_directive(make_app, tmp_path, rootdir):
    src = tmp_path / "myst"
    shutil.copytree(rootdir / "test-myst", src)
    app = make_app("html", srcdir=src)
    app.build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    diagrams = PRE.findall(html)
    assert len(diagrams) == 1 and diagrams[0].startswith("flowchart LR")
    assert "click n1 href &quot;https://code.example.org/c0ffee/flow/steps.py#L1&quot;" in diagrams[0]
    assert "https://code.example.org/c0ffee/flow/steps.py#L9" in html  # finish: the stop point, linked
    assert re.search(
        r"index\.md:\d+: WARNING: unknown option :dept: \(hint: did you mean: depth\b", app.warning.getvalue()
    )


def test_parallel_build_matches_serial(make_app, tmp_path, rootdir):
    outputs = []
    for name, parallel in (("serial", 0), ("parallel", 2)):
        src = tmp_path / name
        shutil.copytree(rootdir / "test-basic", src)
        pages = []
        for i in range(6):
            pages.append(f"page{i}")
            (src / f"page{i}.rst").write_text(
                f"Page {i}\n======\n\n.. codetrace:: Flow {i}\n   :entry: app.store.CachedStore.lookup\n   :depth: {i + 1}\n"
            )
        (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   " + "\n   ".join(pages) + "\n")
        app = make_app("html", srcdir=src, parallel=parallel)
        app.build()
        assert "Traceback" not in app.warning.getvalue()
        outputs.append([PRE.findall((app.outdir / f"{p}.html").read_text(encoding="utf-8")) for p in pages])
    assert outputs[0] == outputs[1]
    assert all(len(diagrams) == 2 for diagrams in outputs[1])


@pytest.mark.parametrize(("builder", "suffix"), [("latex", ".tex"), ("text", ".txt")])
def test_latex_and_text_get_the_step_table_without_diagrams(make_app, tmp_path, rootdir, builder, suffix):
    src = tmp_path / builder
    shutil.copytree(rootdir / "test-myst", src)
    app = make_app(builder, srcdir=src)
    app.build()
    out = next(app.outdir.glob(f"*{suffix}")).read_text(encoding="utf-8")
    assert "flow.steps.middle" in out  # the table is there
    assert "flowchart LR" not in out and "[graph" not in out  # diagrams are HTML-only
    warnings = _warnings(app)
    assert not any("mmdc" in w or "mermaid" in w.lower() for w in warnings), warnings


def test_step_rows_have_anchors(basic):
    _src, build = basic
    app = build()
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<tr[^>]* id="codetrace-0-step-1"', html)
    assert re.search(r'<tr[^>]* id="codetrace-1-step-1"', html)  # the second traced flow on the page


def test_new_mtimes_with_the_same_content_read_nothing(basic):
    """A fresh CI checkout: every file gets a new mtime, nothing changed; traced pages are not read again."""
    src, build = basic
    build()
    later = src.stat().st_mtime + 100
    for path in [*src.rglob("*.py"), *src.rglob("*.rst")]:
        os.utime(path, (later, later))
    app = build()
    status = app.status.getvalue()
    assert "1 changed" in status  # Sphinx saw new mtimes...
    assert not re.search(r"reading sources\.\.\.[^\n]*index", status)  # ...but the page was not read
    # a real edit is still seen, even with an mtime that did not move forward
    service = src / "repo" / "src" / "app" / "service.py"
    service.write_text(
        service.read_text().replace("await asyncio.sleep(0)", "await asyncio.sleep(1)\n        self.store.get(key)")
    )
    os.utime(service, (later + 1, later + 1))
    app = build()
    assert re.search(r"reading sources\.\.\.[^\n]*index", app.status.getvalue())
    assert "get(key: str)" in (app.outdir / "index.html").read_text(encoding="utf-8").split("spawn audit")[1]


def test_repo_declared_without_checkout_renders_a_placeholder(make_app, tmp_path, rootdir, capsys):
    """A repo whose path is None or empty (an unset environment variable) is declared but not checked out:
    a flow naming it (entry prefix or bridge end) renders an admonition saying what to set, not a warning."""
    src = tmp_path / "unchecked"
    shutil.copytree(rootdir / "test-unchecked", src)
    shutil.copytree(rootdir / "test-basic" / "repo", src / "repo")
    app = make_app("html", srcdir=src)
    app.build()
    warnings = _warnings(app)
    # only the misspelled repo warns: it is not declared at all
    assert len(warnings) == 1 and "unknown repo 'fra'" in warnings[0], warnings
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert html.count("codetrace-unavailable") == 2
    assert "This diagram traces far; set CODETRACE_TEST_NEVER_SET=/path/to/checkout to render it." in html
    assert "This diagram traces bare; set a path for bare in codetrace_repos to render it." in html
    assert sum(d.startswith("sequenceDiagram") for d in PRE.findall(html)) == 1  # the local flow still renders

    from sphinxext.codetrace.docs_check import check_docs

    capsys.readouterr()
    status = check_docs(src, cache_dir=tmp_path / "cache")
    out, err = capsys.readouterr()
    assert status == 1 and out.count("codetrace.repo") == 1 and "unknown repo 'fra'" in out
    assert err.count("skipped: This diagram traces") == 2
