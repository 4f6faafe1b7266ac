"""Property tests for the mermaid label and link escapers (needs hypothesis, a test dependency)."""

from __future__ import annotations

import re

import pytest
from helpers import SAFE, URL_SAFE, shown

from sphinxext.codetrace.render import text, url

pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import given, settings
from hypothesis import strategies as st

SAFE_RE = re.compile(SAFE)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=2, max_value=200))
def test_text_property(value: str, limit: int) -> None:
    out = text(value, limit)
    assert SAFE_RE.fullmatch(out)
    for raw in ("\n", '"', "<", ">", "`", "%%", ";", "{", "|"):
        assert raw not in re.sub(r"#\d+;", "", out)
    # nothing is lost but what the docstring says: whitespace runs, the tail past the limit, control characters
    assert re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), out).strip() == shown(value, limit)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(), st.text().map(lambda s: "https://example.org/" + s), st.text().map(lambda s: "http://" + s))
)
def test_url_property(value: str) -> None:
    out = url(value)
    if out is None:
        assert not value.startswith(("https://", "http://"))
    else:
        assert re.fullmatch(URL_SAFE, out)
        assert out.startswith(value[: value.index("//") + 2])


# -- whole diagrams: arbitrary names, types and paths through both renderers, read back by mermaid ------------

from test_render import NODE, decode, hostile_trace, https_link, mermaid_parse  # noqa: E402

from sphinxext.codetrace.model import StepKind  # noqa: E402
from sphinxext.codetrace.render import flowchart, sequence_diagram  # noqa: E402
from sphinxext.codetrace.render.mermaid import _message  # noqa: E402


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
@settings(max_examples=4, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=25, max_size=25))
def test_arbitrary_names_parse_and_read_back(words: list[str]) -> None:
    """25 traces per example, built from arbitrary words used as symbol names, modules, paths, types and
    notes; mermaid must accept every diagram and show each message exactly as the renderer meant it."""
    traces = [hostile_trace(word, truncated=True) for word in words]
    texts = []
    for trace in traces:
        texts.append(sequence_diagram(trace, "class", link=https_link))
        texts.append(flowchart(trace, "module", https_link))
    results = mermaid_parse(texts)
    for trace, seq, flow in zip(traces, results[0::2], results[1::2], strict=True):
        assert seq["ok"], (trace.title, seq.get("error"))
        assert flow["ok"], (trace.title, flow.get("error"))
        signals = [m for m in seq["messages"] if m["type"] in (0, 4, 5, 24) and m["message"]]
        expected = [
            shown(_message(s), 160) if s.kind is not StepKind.RAISE else shown(f"raise {s.target}", 160)
            for s in trace.steps
        ]
        assert [decode(m["message"]).strip() for m in signals[1 : 1 + len(expected)]] == expected
        for vertex in flow["vertices"]:
            assert vertex["link"] is None or vertex["link"].startswith("https://example.org/")
