"""``:bridge:`` and ``:paths-only:`` in real Sphinx builds (reStructuredText and MyST), their warnings at the
directive's line, and the ``check`` command reporting the same problems without Sphinx."""

from __future__ import annotations

import html
import io
import re
import shutil
from pathlib import Path

import pytest
from sphinx.testing.util import SphinxTestApp

from sphinxext.codetrace.docs_check import check_docs

RELAYREPO = Path(__file__).parent / "fixtures" / "relayrepo"
PRE = re.compile(r'<pre\s+class="mermaid">\s*(.*?)\s*</pre>', re.S)
WARNING = re.compile(r"^(?P<file>\S+?):(?P<line>\d+): WARNING: (?P<text>.*) \[codetrace\.(?P<subtype>\w+)\]$")


@pytest.fixture(scope="module")
def built(tmp_path_factory, rootdir):
    """One build of tests/roots/test-bridge, shared by the tests of this module."""
    src = tmp_path_factory.mktemp("bridge") / "src"
    shutil.copytree(rootdir / "test-bridge", src)
    shutil.copytree(RELAYREPO, src / "repo")
    app = SphinxTestApp("html", srcdir=src)
    try:
        app.build()
        yield src, app
    finally:
        app.cleanup()


def diagrams(app, page: str) -> list[str]:
    return [html.unescape(d) for d in PRE.findall((app.outdir / f"{page}.html").read_text(encoding="utf-8"))]


def warnings(app) -> list[tuple[str, int, str, str]]:
    found = []
    for line in re.sub(r"\x1b\[[0-9;]*m", "", app.warning.getvalue()).splitlines():  # colours off
        m = WARNING.match(line.strip())
        if m:
            found.append((Path(m["file"]).name, int(m["line"]), m["subtype"], m["text"]))
    return found


def test_bridges_are_drawn_with_their_labels(built) -> None:
    _src, app = built
    seq, flow, spine_seq, spine_flow, plus_one, *_rest = diagrams(app, "index")
    # both bridges of the first flow (the second written on a continuation line, its target in file form)
    assert "--)+p6: bridge handle(body: bytes)" in seq and "declared bridge: HTTP POST /generate" in seq
    assert "bridge encode(text: str) (expanded at step 4)" in seq and "declared bridge: audit log" in seq
    assert re.search(r'-\.->\|"7 declared bridge: HTTP POST /generate"\|', flow)
    # the spine: the calls leading to read_disk, through the bridge, and the calls whose values they use
    assert "audit" not in spine_seq and "read_disk(key: str) (stop)" in spine_seq
    assert "decode(body: bytes) (its value is used on the path)" in spine_seq  # prompt = decode(body); lookup(prompt)
    assert len(re.findall(r"^    p\d+(?:->>|->|--?\))", spine_seq, re.M)) == 1 + 10  # the entry, 10 steps
    assert "class n10 stop" in spine_flow
    # +1: the calls off the path are there, marked, and not entered
    assert "audit(prompt: str) (off path)" in plus_one and "ValueError" not in plus_one
    page = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "declared bridge (HTTP POST /generate)" in page  # the step table's kind cell


def test_myst_bridges_one_line_yaml_block_and_repeated_lines(built) -> None:
    _src, app = built
    one_line, yaml_block, repeated = diagrams(app, "myst")
    for out in (one_line, yaml_block):
        assert "declared bridge: HTTP POST /generate" in out
    assert "declared bridge: audit log" in one_line
    # :paths-only: in the YAML block: the path to the audit bridge that fired is kept (the bridge its last
    # step), with decode, whose value audit is given; the other calls off the spine are not
    assert "declared bridge: audit log" in yaml_block and "check(" not in yaml_block
    assert "decode(body: bytes) (its value is used on the path)" in yaml_block
    assert "declared bridge: HTTP POST /generate" in repeated and "declared bridge: audit log" in repeated
    assert not [w for w in warnings(app) if w[0] == "myst.md"]


def test_bad_bridges_and_paths_only_warn_at_the_directive(built) -> None:
    _src, app = built
    found = [w for w in warnings(app) if w[0] == "index.rst"]
    assert [(line, subtype) for _file, line, subtype, _text in found] == [
        (27, "unresolved"),
        (27, "unresolved"),
        (27, "drift"),
        (34, "spec"),
        (38, "spec"),
        (42, "drift"),
    ]
    texts = [text for *_head, text in found]
    assert texts[0].startswith("bridge urllib.request.urlopen -> relay.server.Server.handel (HTTP): its target")
    assert "did you mean: Server.handle" in texts[0]
    assert "its source 'relay:src/relay/client.py::Client.nowhere' does not resolve" in texts[1]
    assert "bridge relay.client.never_called -> relay.server.audit was never reached" in texts[2]
    assert texts[3].startswith(":bridge: 'urllib.request.urlopen relay.server.Server.handle' has no '->'")
    assert "(hint: write one bridge per line as 'A -> B (label)'" in texts[3]
    assert texts[4].startswith(":paths-only: needs :stop-at:")
    assert texts[5].startswith(":paths-only: no step reached a :stop-at: point")
    # the flows with warnings still draw (bad ends left out, the whole trace kept); bad specs draw nothing
    assert len(diagrams(app, "index")) == 7


def test_check_reports_what_the_build_warns(built) -> None:
    src, app = built
    out = io.StringIO()
    assert check_docs(src, out=out) == 1
    reported = []
    for line in out.getvalue().splitlines():
        m = re.match(r"^(?P<file>\S+?):(?P<line>\d+): codetrace\.(?P<subtype>\w+): (?P<text>.*)$", line)
        assert m, line
        reported.append((Path(m["file"]).name, int(m["line"]), m["subtype"], m["text"]))
    assert reported == warnings(app)
