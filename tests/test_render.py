"""Render: mermaid text that no symbol name can break, safe links, balanced activations, stable output.

Hostile names go through the renderers and the output is checked three ways: line by line against the few
statement shapes the renderers may write, by looking for raw dangerous substrings, and (when Node.js is
installed) by parsing it with the mermaid build the extension ships and comparing what mermaid read back.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import PYREPO, SAFE, TESTS, URL_SAFE, run_trace, shown

from sphinxext.codetrace.model import Lang, Loc, Param, Resolution, Signature, Site, Step, StepKind, Trace
from sphinxext.codetrace.render import Budget, flowchart, sequence_diagram, step_rows, text, url
from sphinxext.codetrace.render.mermaid import _message

ID = r"p\d+"

SEQUENCE_LINE = re.compile(
    "|".join(
        [
            r"sequenceDiagram",
            rf"    actor {ID} as caller",
            rf"    box rgb\(\d+,\d+,\d+\) {SAFE}",
            rf"    participant {ID} as {SAFE}",
            r"    end",
            r"    autonumber(?: off| \d+)?",
            rf"    {ID}(?:->>\+?|->\+?|-\)\+?|--\)\+?|-->>-|--x){ID}: {SAFE}",
            rf"    (?:critical|break) {SAFE}",
            rf"    Note over {ID}(?:,{ID})?: {SAFE}",
            rf"    link {ID}: {SAFE} @ {URL_SAFE}",
        ]
    )
)
FLOWCHART_LINE = re.compile(
    "|".join(
        [
            r"flowchart LR",
            rf'    (?:    )?subgraph g\d+\["{SAFE}"\]',
            rf'        (?:    )?n\d+\["{SAFE}"\]',
            r"    (?:    )?end",
            rf'    n\d+ (?:-->|-\.->|==>)\|"{SAFE}"\| n\d+',
            rf'    click n\d+ href "{URL_SAFE}" "{SAFE}" _blank',
            r"    classDef entry stroke-width:3px",
            r"    classDef stop stroke-dasharray:4 3",
            r"    class n\d+(?:,n\d+)* (?:entry|stop)",
            rf'    hidden\["{SAFE}"\]',
        ]
    )
)

HOSTILE = [
    "\r",  # blank once whitespace is collapsed: mermaid rejects an empty ["..."] label
    "end",
    "x end y",
    "%%{init: {'theme': 'forest'}}%%",
    "a-->b",
    "a->>+b",
    "first;second",
    "#hash",
    "#35;",
    "'single' \"double\"",
    "`backticks`",
    "<script>alert(1)</script>",
    "<img src=x onerror=x>",
    "ctrl\x00\x07\x1b[31m\x7f\x85\u200b",
    "line\nbreak\r\nNote over p1: injected",
    'click n1 href "javascript:alert(1)"',
    "&amp; &lt;b&gt;",
    "{braces} |pipes| [brackets]",
    "back\\slash $dollar",
    "\ufb02\u00b0\u00b035\u00b6\u00df",  # mermaid's own entity placeholder
    "unicode \u2603 \u00e9 \U0001f600",
    "x" * 200,
]
# raw substrings that must not survive in any label (URLs are checked apart: they keep some of these)
RAW_FORBIDDEN = [
    "<script>",
    "<img",
    "`",
    "%%",
    "-->b",
    "->>+b",
    "first;second",
    "#hash",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\u200b",
    "\r",
    "'single' \"double\"",
    "&amp;",
    "{init",
    "{braces}",
    "|pipes|",
    "\\",
    "$dollar",
    "\u2603",
    "\ufb02",
    "\u00b6",
]


def loc(
    name: str, *, owner: str = "", module: str = "pkg.mod", path: str = "pkg/mod.py", line: int = 1, repo: str = "r"
) -> Loc:
    return Loc(repo, path, line, name, Lang.PYTHON, module, owner)


def hostile_trace(word: str, truncated: bool = False) -> Trace:
    entry = loc(f"pkg.mod.{word}", line=3)
    cls = f"pkg.mod.{word}"
    meth = loc(f"{cls}.{word}", owner=cls, module="pkg.mod", path=f"pkg/{word}.py", line=7)
    other = loc(f"pkg.{word}.f", module=f"pkg.{word}", path=f"pkg/{word}.py", line=9)
    sig = Signature((Param("self"), Param("x", word), Param("rest", word, "*")), word, False)
    site = Site("r", "pkg/mod.py", 4)
    steps = (
        Step(1, 1, entry, meth, meth.name, site, StepKind.CALL, Resolution.TYPED, sig, (word,), entered=True),
        Step(2, 2, meth, None, word, site, StepKind.RAISE, Resolution.DIRECT),
        Step(3, 2, meth, None, f"{word}.ext", site, StepKind.CALL, Resolution.EXTERNAL),
        Step(
            4,
            2,
            meth,
            other,
            other.name,
            site,
            StepKind.AWAIT,
            Resolution.IMPORT,
            Signature((), word, True),
            entered=True,
        ),
        Step(5, 3, other, None, word, site, StepKind.CALL, Resolution.UNRESOLVED, note=word),
        Step(6, 1, entry, other, other.name, site, StepKind.SPAWN, Resolution.DIRECT, note=word),
        Step(7, 1, entry, meth, meth.name, site, StepKind.CALL, Resolution.TYPED, sig, note="stop"),
    )
    return Trace(word, entry, Signature((Param("a", word),), word, False), steps, truncated=truncated)


def https_link(repo: str, path: str, line: int) -> str:
    return f"https://example.org/{repo}/{path}#L{line}"


GROUPS = ("class", "module", "file", "repo")


def renders(trace: Trace, link=None) -> list[str]:
    return [sequence_diagram(trace, group_by) for group_by in GROUPS] + [
        flowchart(trace, group_by, link) for group_by in GROUPS
    ]


def check_lines(output: str) -> None:
    assert output.endswith("\n")
    pattern = SEQUENCE_LINE if output.startswith("sequenceDiagram") else FLOWCHART_LINE
    for line in output.rstrip("\n").split("\n"):
        assert pattern.fullmatch(line), f"unexpected line: {line!r}"


@pytest.mark.parametrize("word", HOSTILE)
def test_hostile_names_stay_inside_labels(word: str) -> None:
    trace = hostile_trace(word, truncated=True)
    for out in renders(trace):
        check_lines(out)
        for raw in RAW_FORBIDDEN:
            assert raw not in out
        assert not any(line.startswith("Note over p1: injected") for line in out.split("\n"))
    for out in renders(trace, https_link):
        check_lines(out)  # the click lines too: their URLs only hold URL-safe characters
        for line in out.split("\n"):
            if line.startswith("    click "):
                assert line.split('"')[1].startswith("https://example.org/r/")


def test_end_never_becomes_a_statement() -> None:
    out = flowchart(hostile_trace("end"), "class", https_link)
    lines = out.split("\n")
    assert sum(1 for line in lines if line.strip() == "end") == sum(
        1 for line in lines if line.lstrip().startswith("subgraph ")
    )
    seq = sequence_diagram(hostile_trace("end")).split("\n")
    # an `end` line only ever closes a box, critical or break block the renderer opened
    openers = sum(1 for line in seq if re.match(r"    (?:box|critical|break) ", line))
    assert seq.count("    end") == openers
    assert not any(line.strip() == "end" and line != "    end" for line in seq)


# -- text() and url() --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pkg.mod.f(x: int)", "pkg.mod.f(x: int)"),
        ("a<b>", "a#60;b#62;"),
        ('say "hi"', "say #34;hi#34;"),
        ("50%%", "50#37;#37;"),
        ("x;y#z", "x#59;y#35;z"),
        ("a\n\n  b\tc", "a b c"),
        ("bell\x07", "bell "),
        ("é", "#233;"),
        ("", ""),
    ],
)
def test_text_examples(value: str, expected: str) -> None:
    assert text(value) == expected


def test_text_shortens_long_labels() -> None:
    out = text("a" * 100, limit=10)
    assert out == "a" * 9 + "#8230;"
    assert text("b" * 10, limit=10) == "b" * 10


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "//evil.example/x",
        "ftp://example.org/x",
        "HTTPS://EXAMPLE.ORG/",
        "\thttps://example.org/",
        "mailto:a@b.c",
    ],
)
def test_url_refuses_other_schemes(value) -> None:
    assert url(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "https://github.com/acme/w/blob/0123abc/src/pkg/mod.py#L12",
        "http://example.org/a/b?x=1&y=2#frag",
        "https://example.org/~user/a_b-c.d,e@f!g$h'i(j)k*l+n=o%20",
    ],
)
def test_url_keeps_ordinary_urls(value: str) -> None:
    assert url(value) == value


def test_url_encodes_semicolons() -> None:
    # ';' would end the statement of an unquoted `link` line in a sequence diagram
    assert url("https://example.org/a;b.py#L1") == "https://example.org/a%3Bb.py#L1"


def test_url_escapes_what_could_leave_the_quotes() -> None:
    out = url('https://example.org/a b"c<d>`e\n\\f{g}|h^i')
    assert out is not None and out.startswith("https://example.org/")
    for ch in ' "<>`\n\\{}|^':
        assert ch not in out
    assert out == "https://example.org/a%20b%22c%3Cd%3E%60e%0A%5Cf%7Bg%7D%7Ch%5Ei"


# -- sequence diagrams -------------------------------------------------------------------------------------------

ARROW = re.compile(r"^    (p\d+)(->>|->|-\)|-->>|--x)([+-]?)(p\d+): ")


def check_activations(out: str) -> int:
    """Replays + / - like mermaid does; returns the number of activations."""
    stack: list[str] = []
    count = 0
    for line in out.split("\n"):
        m = ARROW.match(line)
        if not m:
            continue
        src, arrow, sign, dst = m.groups()
        if sign == "+":
            assert arrow in ("->>", "->", "-)")
            stack.append(dst)
            count += 1
        elif sign == "-":
            assert arrow == "-->>"
            assert stack and stack[-1] == src, f"deactivates {src}, but the open activation is {stack[-1:]}"
            stack.pop()
    assert stack == []
    return count


FIXTURE_ENTRIES = [
    "shipyard.flows.pipeline",
    "shipyard.flows.start",
    "shipyard.models.make_leaf",
    "shipyard.flows.imports_everywhere",
    "shipyard.flows.is_even",
    "shipyard.flows.outside_world",
]


@pytest.fixture(scope="module")
def fixture_traces() -> dict[str, Trace]:
    traces = {entry: run_trace(entry) for entry in FIXTURE_ENTRIES}
    traces["truncated"] = run_trace("shipyard.flows.start", max_steps="5")
    traces["shallow"] = run_trace("shipyard.flows.start", depth="2")
    return traces


def test_activations_balanced_on_fixture_traces(fixture_traces) -> None:
    for trace in fixture_traces.values():
        for group_by in ("class", "module", "file", "repo"):
            out = sequence_diagram(trace, group_by)
            check_lines(out)
            entered = sum(1 for s in trace.steps if s.entered and s.kind is not StepKind.SPAWN)
            assert check_activations(out) == entered + 1  # + the entry


def test_activations_balanced_when_depth_drops_by_several_levels() -> None:
    a, b, c, d = (loc(f"pkg.m{i}.f", module=f"pkg.m{i}") for i in range(4))
    site = Site("r", "p.py", 1)
    sig = Signature((), "R", False)
    steps = (
        Step(1, 1, a, b, b.name, site, StepKind.CALL, Resolution.DIRECT, sig, entered=True),
        Step(2, 2, b, c, c.name, site, StepKind.CALL, Resolution.DIRECT, sig, entered=True),
        Step(3, 3, c, d, d.name, site, StepKind.CALL, Resolution.DIRECT, sig, entered=True),
        Step(4, 4, d, None, "boom", site, StepKind.RAISE, Resolution.DIRECT),
        Step(5, 1, a, d, d.name, site, StepKind.CALL, Resolution.DIRECT, sig, note="expanded at step 3"),
        Step(6, 1, a, b, b.name, site, StepKind.SPAWN, Resolution.DIRECT, sig, entered=True),
        Step(7, 2, b, c, c.name, site, StepKind.CALL, Resolution.DIRECT, sig, entered=True),
    )
    trace = Trace("t", a, Signature(), steps)
    out = sequence_diagram(trace, "module")
    check_lines(out)
    assert check_activations(out) == 5
    lines = out.split("\n")
    # the three open calls are closed, innermost first, before step 5 is drawn
    i = next(n for n, line in enumerate(lines) if "(expanded at step 3)" in line)
    assert lines[i - 1] == "    autonumber 5"  # returns are unnumbered; numbering resumes at the step's number
    assert [line.split(":")[0].strip() for line in lines[i - 4 : i - 1]] == ["p5-->>-p4", "p4-->>-p3", "p3-->>-p2"]
    assert "-)" in out and "spawn" in out


def test_sequence_diagram_content() -> None:
    trace = hostile_trace("plain")
    out = sequence_diagram(trace)
    assert out.startswith("sequenceDiagram\n    actor p1 as caller\n    box rgb(235,243,255) r (python)\n")
    assert "    critical try, except plain\n    autonumber 1\n" in out  # step 1 is guarded by `except plain`
    assert ": plain(x: plain, *rest: plain)\n" in out
    assert "    break raise plain\n    p3--xp2: raise plain\n    end\n" in out  # autonumber runs on: step 2
    assert "p3-)+p5: await f()" in out  # await: an async arrow that returns
    assert ": ? plain (plain)" in out
    assert "p2-)p5: spawn f (plain)" in out  # spawn: async, no activation, no return
    assert ": plain(x: plain, *rest: plain) (stop)" in out
    truncated = sequence_diagram(hostile_trace("plain", truncated=True))
    assert "Note over p1,p2: truncated after 7 steps (max-steps)" in truncated
    assert "truncated" not in out


# -- flowcharts -----------------------------------------------------------------------------------------------------


def test_no_click_without_a_link_function(fixture_traces) -> None:
    trace = fixture_traces["shipyard.flows.pipeline"]
    assert "click" not in flowchart(trace)
    assert "click" not in flowchart(trace, "class", lambda repo, path, line: None)
    assert "click" not in flowchart(trace, "class", lambda repo, path, line: f"javascript:alert('{path}')")
    assert "click" not in flowchart(trace, "class", lambda repo, path, line: "data:text/html,x")


def test_click_links_for_definitions_only(fixture_traces) -> None:
    trace = fixture_traces["shipyard.flows.pipeline"]
    out = flowchart(trace, "class", https_link)
    check_lines(out)
    clicks = [line for line in out.split("\n") if line.startswith("    click ")]
    symbols = {trace.entry.name} | {s.callee.name for s in trace.steps if s.callee is not None}
    assert len(clicks) == len(symbols)
    assert not any("os.path.join" in c or "logging" in c for c in clicks)
    entry_click = next(c for c in clicks if f'"{trace.entry.name}"' in c)
    assert f"https://example.org/fx/src/shipyard/flows.py#L{trace.entry.line}" in entry_click
    # only some repos have links
    partial = flowchart(
        trace, "class", lambda repo, path, line: https_link(repo, path, line) if path.endswith("flows.py") else None
    )
    assert sum(1 for line in partial.split("\n") if line.startswith("    click ")) == 2  # pipeline, helper


def test_flowchart_marks_entry_and_stops() -> None:
    out = flowchart(hostile_trace("plain"), "class", https_link)
    lines = out.split("\n")
    assert "    class n1 entry" in lines
    stop_line = next(line for line in lines if line.endswith(" stop") and line.startswith("    class "))
    assert stop_line == "    class n2 stop"
    assert '    n1 -->|"1, 7"| n2' in lines  # the two calls share one edge
    assert '    n1 -.->|"6 spawn"| n4' in lines  # a spawn is dashed and says so
    assert '    n2 -.->|"3"| n3' in lines  # so is a call to external code
    assert not any("raise" in line for line in lines)


def test_flowchart_edge_labels_are_capped() -> None:
    a, b = loc("pkg.a.f", module="pkg.a"), loc("pkg.b.g", module="pkg.b")
    site = Site("r", "p.py", 1)
    steps = tuple(Step(n, 1, a, b, b.name, site, StepKind.CALL, Resolution.DIRECT) for n in range(1, 10))
    out = flowchart(Trace("t", a, None, steps))
    assert '    n1 -->|"1, 2, 3, 4, 5, 6, #8230;"| n2' in out


# -- determinism ------------------------------------------------------------------------------------------------------


def test_output_is_deterministic(fixture_traces) -> None:
    for entry in FIXTURE_ENTRIES:
        again = run_trace(entry)
        for group_by in ("class", "module", "file", "repo"):
            assert sequence_diagram(again, group_by) == sequence_diagram(fixture_traces[entry], group_by)
            assert flowchart(again, group_by, https_link) == flowchart(fixture_traces[entry], group_by, https_link)


def test_ids_follow_first_appearance(fixture_traces) -> None:
    out = sequence_diagram(fixture_traces["shipyard.flows.pipeline"])
    ids = re.findall(r"(?:actor|participant) (p\d+)", out)
    # ids are numbered in order of first appearance; declarations are grouped into boxes
    assert sorted(ids, key=lambda p: int(p[1:])) == [f"p{i}" for i in range(1, len(ids) + 1)]
    first_use = re.findall(r"^    (p\d+)-", out, flags=re.M)
    assert list(dict.fromkeys(first_use))[:2] == ["p1", "p2"]
    flow = flowchart(fixture_traces["shipyard.flows.pipeline"])
    nodes = re.findall(r"^ +(n\d+)\[", flow, flags=re.M)
    assert sorted(nodes, key=lambda n: int(n[1:])) == [f"n{i}" for i in range(1, len(nodes) + 1)]


# -- the step table ---------------------------------------------------------------------------------------------------


def test_step_rows(fixture_traces) -> None:
    trace = fixture_traces["shipyard.flows.pipeline"]
    rows = step_rows(trace, https_link)
    assert len(rows) == len(trace.steps) + 1
    assert (rows[0].n, rows[0].kind, rows[0].callee) == (0, "entry", "shipyard.flows.pipeline")
    assert rows[0].data == "(key: str) -> str"
    by_n = {r.n: r for r in rows}
    assert by_n[2].data == "(key: str, value: str) -> None"
    assert by_n[8].kind == "call, typed, in try: except ValueError"
    assert by_n[7].kind == "call, direct, expanded at step 6"
    assert by_n[4].kind == "raise" and by_n[4].definition is None
    assert by_n[9].callee == "os.path.join" and by_n[9].definition is None
    assert by_n[8].site.label == f"fx:src/shipyard/flows.py:{trace.steps[7].site.line}"
    assert by_n[8].site.url == f"https://example.org/fx/src/shipyard/flows.py#L{trace.steps[7].site.line}"
    evil = step_rows(trace, lambda repo, path, line: "javascript:alert(1)")
    assert all(r.site.url is None and (r.definition is None or r.definition.url is None) for r in evil)


# -- mermaid's own parser (Node.js) ---------------------------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def mermaid_parse(texts: list[str]) -> list[dict]:
    proc = subprocess.run(
        [NODE, str(TESTS / "mermaid_parse.js")],
        input=json.dumps(texts),
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def decode(label: str) -> str:
    """What mermaid shows for a label it parsed: its entity placeholders turned back into characters."""
    label = re.sub("\ufb02\u00b0\u00b0(\\d+)\u00b6\u00df", lambda m: chr(int(m.group(1))), label)
    label = re.sub("\ufb02\u00b0(\\w+)\u00b6\u00df", lambda m: html.unescape(f"&{m.group(1)};"), label)
    return label


@needs_node
def test_mermaid_rejects_broken_diagrams() -> None:
    """The harness can fail: mermaid really parses what it is given."""
    bad, good = mermaid_parse(
        ["flowchart LR\n    n1[a] --> end\n", "sequenceDiagram\n    actor p1 as a\n    p1->>+p2: x\n    p2-->>-p1: y\n"]
    )
    assert not bad["ok"]
    assert good["ok"] and good["type"] == "sequence"
    (deactivated_too_often,) = mermaid_parse(["sequenceDiagram\n    p1-->>-p2: x\n"])
    assert not deactivated_too_often["ok"]


@needs_node
def test_mermaid_reads_back_hostile_labels() -> None:
    traces = [hostile_trace(word, truncated=True) for word in HOSTILE]
    texts = []
    for trace in traces:
        texts.append(sequence_diagram(trace, "class", link=https_link))  # participant `link` lines too
        texts.append(flowchart(trace, "class", https_link))
    results = mermaid_parse(texts)
    for trace, seq, flow in zip(traces, results[0::2], results[1::2], strict=True):
        word = trace.title
        assert seq["ok"], (word, seq.get("error"))
        assert flow["ok"], (word, flow.get("error"))
        # every message and note says exactly what _message meant, however hostile the names
        signals = [m for m in seq["messages"] if m["type"] in (0, 4, 5, 24) and m["message"]]
        expected = [
            shown(_message(s), 160) if s.kind is not StepKind.RAISE else shown(f"raise {s.target}", 160)
            for s in trace.steps
        ]
        assert [decode(m["message"]).strip() for m in signals[1 : 1 + len(expected)]] == expected, word
        assert len(seq["actors"]) == len({a["name"] for a in seq["actors"]})
        assert all(re.fullmatch(r"p\d+", a["name"]) for a in seq["actors"])
        # flowchart: the nodes are the ones drawn, with their labels, and links only to https URLs
        assert all(re.fullmatch(r"n\d+", v["id"]) for v in flow["vertices"])
        labels = {decode(v["text"]).strip() for v in flow["vertices"]}
        assert shown(f"{word}.{word}", 60) in labels
        assert shown(f"? {word}", 60) in labels
        for v in flow["vertices"]:
            assert v["link"] is None or v["link"].startswith("https://example.org/")
        assert {e["stroke"] for e in flow["edges"]} <= {"normal", "dotted"}
        assert len(flow["edges"]) == 5


@needs_node
def test_mermaid_parses_fixture_diagrams(fixture_traces) -> None:
    texts, expected = [], []
    for trace in fixture_traces.values():
        for group_by in ("class", "module", "file", "repo"):
            texts.append(sequence_diagram(trace, group_by))
            expected.append(("sequence", trace))
            texts.append(flowchart(trace, group_by, https_link))
            expected.append(("flowchart-v2", trace))
    for (kind, trace), result in zip(expected, mermaid_parse(texts), strict=True):
        assert result["ok"], result.get("error")
        assert result["type"] == kind
        if kind == "sequence":
            arrows, numbers, counter, on = [], [], 1, True
            for m in result["messages"]:
                if m["type"] == 26:  # autonumber [start] / off
                    on = m["message"]["visible"]
                    counter = m["message"].get("start") or counter
                elif m["type"] in (0, 1, 4, 5, 24):  # call, return, raise, candidate, async
                    arrows.append(m)
                    numbers.append(counter if on else None)
                    counter += 1 if on else 0
            entered = [s for s in trace.steps if s.entered and s.kind is not StepKind.SPAWN]
            assert len(arrows) == 2 + len(trace.steps) + len(entered)  # entry call and return, steps, returns
            # mermaid's autonumber gives every step arrow the number of its row in the step table
            assert [n for n in numbers if n is not None] == [s.n for s in trace.steps]
        else:
            links = [v for v in result["vertices"] if v["link"]]
            symbols = {trace.entry.name} | {s.callee.name for s in trace.steps if s.callee is not None}
            assert len(links) == len(symbols)


def test_fixture_repo_is_where_helpers_say() -> None:
    assert (PYREPO / "src" / "shipyard" / "__init__.py").is_file()
    assert Path(TESTS / "mermaid_parse.js").is_file()


def test_a_construction_reads_as_the_class_and_returns_the_instance() -> None:
    from helpers import run_trace

    from sphinxext.codetrace.render import sequence_diagram

    trace = run_trace("shipyard.flows.pipeline", depth="2")
    diagram = sequence_diagram(trace)
    ctor = next(s for s in trace.steps if s.target == "shipyard.store.Store")
    assert ctor.callee is not None and ctor.callee.name == "shipyard.store.Store.__init__"
    assert ": Store(root: str)" in diagram
    assert "Store()(" not in diagram
    # the dashed return of the construction carries the class, not __init__'s None
    lines = diagram.splitlines()
    call_at = next(i for i, line in enumerate(lines) if ": Store(root: str)" in line)
    returns = [line for line in lines[call_at:] if "-->>-" in line]
    assert returns and returns[0].endswith(": Store")


# -- readability: hide, the message budget, the participant budget ---------------------------------------------------


def deep_trace(width: int, depth: int) -> Trace:
    """``width`` calls from the entry, each the top of a chain ``depth`` calls deep, every callee entered."""
    site = Site("r", "p.py", 1)
    sig = Signature((), "R", False)
    entry = loc("pkg.m0.entry", module="pkg.m0")
    steps: list[Step] = []
    for w in range(width):
        caller = entry
        for d in range(1, depth + 1):
            callee = loc(f"pkg.m{d}.f{w}_{d}", module=f"pkg.m{d}")
            steps.append(
                Step(
                    len(steps) + 1,
                    d,
                    caller,
                    callee,
                    callee.name,
                    site,
                    StepKind.CALL,
                    Resolution.DIRECT,
                    sig,
                    entered=d < depth,
                )
            )
            caller = callee
    return Trace("deep", entry, sig, tuple(steps))


def test_hide_drops_a_step_and_what_it_calls() -> None:
    trace = deep_trace(2, 3)  # f0_1 -> f0_2 -> f0_3, f1_1 -> f1_2 -> f1_3
    out = sequence_diagram(trace, "module", hide=("pkg.m1.f0_1",))
    assert "f0_1" not in out and "f0_2" not in out and "f0_3" not in out
    assert "f1_1" in out and "f1_3" in out
    assert "Note over p1,p2: 3 steps hidden (:hide:)" in out
    flow = flowchart(trace, "module", hide=("f0_1",))  # a bare name matches as a suffix
    assert "f0_1" not in flow and "3 steps hidden" in flow
    assert [n for n in re.findall(r"autonumber (\d+)", out)] == ["4"]  # numbers still match the table


def test_message_budget_folds_the_deepest_calls() -> None:
    trace = deep_trace(10, 4)  # 40 steps, 30 entered: 70 arrows (+2 for the entry)
    out = sequence_diagram(trace, "module", budget=Budget(messages=40, participants=50))
    check_lines(out)
    # depth <= 3 would still need 60 arrows; depth <= 2 needs 20 calls + 20 returns: the cut is at 2
    assert "f0_2" in out and "f0_3" not in out and "f0_4" not in out
    assert out.count("(+2 calls)") == 10
    assert "Note over p1,p2: 20 calls below depth 2 collapsed to fit 40 arrows" in out
    assert check_activations(out) == 1 + 20  # the entry and the depth 1-2 calls still return


def test_participant_budget_coarsens_the_grouping() -> None:
    trace = deep_trace(3, 5)  # modules pkg.m1..pkg.m5 plus the entry's: 6 units, 1 repo
    out = sequence_diagram(trace, "module", budget=Budget(messages=500, participants=4))
    assert "participants grouped by file: more than 4 module units" in out  # all in pkg/mod.py
    assert len(re.findall(r"participant p\d+ as", out)) == 1


def test_links_on_participants() -> None:
    out = sequence_diagram(hostile_trace("plain"), "class", link=https_link)
    links = [line for line in out.split("\n") if line.startswith("    link ")]
    assert links and all(" @ https://example.org/r/" in line for line in links)
    assert "    link p3: plain @ https://example.org/r/pkg/plain.py#L7" in links


def test_crossings_and_candidates_are_marked() -> None:
    site = Site("r", "p.py", 1)
    entry = loc("pkg.mod.entry")
    rust = Loc("r", "src/lib.rs", 4, "core::Engine::run", Lang.RUST, "core", "core::Engine")
    impl_a = Loc("r", "src/a.rs", 2, "core::A::go", Lang.RUST, "core", "core::A")
    steps = (
        Step(1, 1, entry, rust, rust.name, site, StepKind.PY_TO_RUST, Resolution.DIRECT, entered=True),
        Step(2, 2, rust, impl_a, impl_a.name, site, StepKind.CALL, Resolution.CANDIDATES, candidates=(impl_a,)),
    )
    out = sequence_diagram(Trace("t", entry, None, steps))
    check_lines(out)
    assert "box rgb(255,240,228) r (rust)" in out  # Rust participants in their own box
    assert "Note over p2,p3: python to rust" in out
    assert "p3->p4: candidate: go" in out  # no arrowhead: not a certain call
    flow = flowchart(Trace("t", entry, None, steps))
    assert '-.->|"2 candidate"|' in flow and '==>|"1 py->rust"|' not in flow  # labels are escaped
    assert '==>|"1 py-#62;rust"|' in flow


def test_a_flat_flow_over_budget_draws_a_prefix_and_says_so() -> None:
    trace = deep_trace(60, 1)  # 60 calls at depth 1, none entered
    out = sequence_diagram(trace, "module", budget=Budget(messages=20, participants=100))
    check_lines(out)
    assert "f19_1" in out and "f20_1" not in out
    assert "Note over p1,p2: 40 more steps are listed in the table only (over 20 arrows)" in out


def test_a_flowchart_stays_under_mermaids_edge_limit() -> None:
    """mermaid refuses a flowchart of more than 500 edges: the deepest calls fold, and a node says so."""
    from sphinxext.codetrace.render.mermaid import MAX_FLOW_EDGES

    trace = deep_trace(150, 4)  # 600 steps, 600 distinct edges
    flow = flowchart(trace, "module")
    edges = re.findall(r"^    n\d+ [-=.]+>", flow, re.M)
    assert 0 < len(edges) <= MAX_FLOW_EDGES
    assert re.search(r'folded\["\d+ calls below depth \d collapsed.*at most 400 edges\)"\]', flow)
    small = flowchart(deep_trace(10, 4), "module")  # 40 steps: drawn whole, no note
    assert "folded[" not in small and len(re.findall(r"^    n\d+ [-=.]+>", small, re.M)) == 40
    if NODE is not None:
        assert all(r["ok"] for r in mermaid_parse([flow]))


def test_a_large_flowchart_has_no_subgraphs() -> None:
    """mermaid's layout fails on some large clustered graphs: above NEST_LIMIT nodes there are no subgraphs,
    and each label starts with its module instead."""
    from sphinxext.codetrace.render.mermaid import NEST_LIMIT

    small = flowchart(deep_trace(3, 4), "module")
    assert re.search(r'^    subgraph g1\["r"\]\n        subgraph g2\["pkg.m0"\]', small, re.M)  # nested
    big = flowchart(deep_trace(NEST_LIMIT + 10, 2), "module")
    assert "subgraph" not in big and not any(line.strip() == "end" for line in big.split("\n"))
    assert re.search(r'^    n\d+\["m1\.f0_1"\]', big, re.M)  # module pkg.m1, function f0_1
    if NODE is not None:
        assert all(r["ok"] for r in mermaid_parse([small, big]))
