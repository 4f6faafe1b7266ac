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
