"""Proof that what the extension emits renders: example_docs loaded in headless Chromium, offline.

Needs Debian's chromium (.ci/run installs it); without it the test is skipped with that reason. The checker
(tools/pagecheck.py) serves the built site on loopback and routes everything else through a recording proxy,
so a page that fetches anything from the network fails, as does any diagram mermaid cannot render.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pagecheck  # noqa: E402

pytestmark = pytest.mark.skipif(
    pagecheck.chromium() is None, reason="chromium not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    doctrees = tmp_path_factory.mktemp("doctrees")
    assert build_main(["-q", "-b", "html", "-d", str(doctrees), str(ROOT / "example_docs"), str(out)]) == 0
    return out


def test_every_example_page_renders_offline(site: Path) -> None:
    result = pagecheck.check_site(site)
    assert result.network == [], result.network
    with_diagrams = [p for p in result.pages if p.diagrams]
    assert len(with_diagrams) >= 4  # index, tutorial, selftrace, myst
    for page in result.pages:
        assert page.errors == [], (page.page, page.errors)
        assert page.rendered == page.diagrams, page.page
    # mermaid's autonumber runs 1, 2, 3, ... on every sequence diagram: the numbers of the step table
    numbered = [n for p in result.pages for n in p.numbers]
    assert numbered and all(n == sorted(set(n)) and n[:1] == [1] for n in numbered)


def test_the_checker_catches_network_requests_and_broken_diagrams(tmp_path: Path) -> None:
    static = ROOT / "sphinxext" / "codetrace" / "_static" / "codetrace"
    shutil.copy(static / "mermaid.min.js", tmp_path / "mermaid.min.js")
    (tmp_path / "bad.html").write_text(
        "<!DOCTYPE html><html><head><script src='mermaid.min.js'></script>"
        "<script src='https://cdn.example.invalid/lib.js'></script></head><body>"
        "<pre class='mermaid'>flowchart LR\n  a --> end\n</pre>"
        "<pre class='mermaid'>flowchart LR\n  a --> b\n</pre>"
        "<script>mermaid.initialize({startOnLoad: true});</script></body></html>",
        encoding="utf-8",
    )
    result = pagecheck.check_site(tmp_path)
    assert not result.ok
    assert any("cdn.example.invalid" in r for r in result.network)
    (page,) = result.pages
    assert page.diagrams == 2 and page.rendered == 1
