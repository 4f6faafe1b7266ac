"""Fuzzing: arbitrary option strings, docs sources, lock files and mutated source files.

Every run must end in a result or a codetrace diagnostic: never another exception, never a hang. The number
of cases each test runs is its ``max_examples`` (the closing note of the reliability issue quotes the total).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import PYREPO

from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.docs_scan import scan_markdown, scan_rst
from sphinxext.codetrace.drift import load_lock
from sphinxext.codetrace.index.python import parse_python
from sphinxext.codetrace.spec import OPTIONS, FlowSpec, parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

option_names = st.one_of(st.sampled_from(sorted(OPTIONS)), st.text(min_size=1, max_size=12))
option_values = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(["0", "-1", "999999", "1e3", "both", "SEQUENCE", " class ", "a -> b", "x:y.z", "p.py::A.b"]),
)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40), st.dictionaries(option_names, option_values, max_size=8))
def test_options_give_a_spec_or_a_spec_error(title: str, options: dict[str, str | None]) -> None:
    try:
        spec = parse_options(title, options)
    except CodetraceError as exc:
        assert exc.diagnostic.subtype == "spec" and exc.diagnostic.message
        return
    assert isinstance(spec, FlowSpec) and spec.entry and 1 <= spec.depth <= 100


_RST_BITS = st.sampled_from(
    [
        ".. codetrace::",
        "   :entry: a.b",
        ":depth:",
        "   :stop-at: x",
        "```{codetrace}",
        "```",
        "---",
        "::",
        "\n",
        "   ",
        "..",
        "~~~",
        ":entry:",
        "#",
        "{codetrace}",
        "\t",
        "   :: ",
        "```{code-block}",
    ]
)
docs_text = st.lists(st.one_of(_RST_BITS, st.text(max_size=20)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(docs_text)
def test_docs_scanners_never_raise(text: str) -> None:
    lines = max(1, len(text.splitlines()))
    for line, argument, options in (*scan_rst(text), *scan_markdown(text)):
        assert 1 <= line <= lines  # a directive found is reported at a line of the text
        assert isinstance(argument, str) and all(isinstance(k, str) for k in options)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_lock_files_load_or_report(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "codetrace.lock.json"
    path.write_bytes(data)
    lock = load_lock(path)
    assert lock.exists
    assert lock.error or isinstance(lock.flows, dict)


# -- mutated source files -------------------------------------------------------------------------------------

SOURCES = sorted(p for p in (PYREPO / "src" / "shipyard").rglob("*.py") if p.name != "broken.py")


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, bytes]:
    path = draw(st.sampled_from(SOURCES))
    data = path.read_bytes()
    kind = draw(st.sampled_from(["truncate", "splice", "both"]))
    if kind in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    if kind in ("splice", "both"):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    return path, data


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_mutated_python_parses_or_reports(case: tuple[Path, bytes]) -> None:
    path, data = case
    text = data.decode("utf-8", errors="replace")
    facts = parse_python(text, path.name, "shipyard.x", False)
    assert facts.error is None or facts.definitions == ()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_traces_over_mutated_repos_end_in_warnings(tmp_path_factory, case: tuple[Path, bytes]) -> None:
    """The whole engine over a copy of the fixture repo with one file mutated: a trace or a diagnostic."""
    path, data = case
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(PYREPO, repo, dirs_exist_ok=True)
    (repo / path.relative_to(PYREPO)).write_bytes(data)
    workspace, errors = Workspace.from_configs([RepoConfig("fx", repo)])
    assert errors == []
    engine = Engine(workspace)
    for entry in ("shipyard.flows.start", "shipyard.flows.pipeline", "shipyard.models.make_leaf"):
        try:
            trace = engine.trace(parse_options("fuzz", {"entry": entry, "max-steps": "100"}))
        except CodetraceError as exc:
            assert exc.diagnostic.subtype in ("unresolved", "parse", "read")
            continue
        assert len(trace.steps) <= 100
        for warning in trace.warnings:
            assert warning.subtype in ("parse", "read")


# -- Rust -------------------------------------------------------------------------------------------------------

from helpers import TESTS  # noqa: E402

from sphinxext.codetrace.index.rust import parse_rust  # noqa: E402

RUSTREPO = TESTS / "fixtures" / "rustrepo"
RUST_SOURCES = sorted(RUSTREPO.rglob("*.rs"))
RUST_ENTRIES = ("fleet_core::engine::Engine::submit", "fleet_net::handlers::default_name")


@st.composite
def mutated_rust(draw: st.DrawFn) -> tuple[Path, bytes]:
    path = draw(st.sampled_from(RUST_SOURCES))
    data = path.read_bytes()
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    at = draw(st.integers(0, len(data)))
    data = data[:at] + draw(st.binary(min_size=0, max_size=16)) + data[at:]
    return path, data


@settings(max_examples=300, deadline=None)
@given(mutated_rust())
def test_mutated_rust_parses_or_reports(case: tuple[Path, bytes]) -> None:
    path, data = case
    facts = parse_rust(data.decode("utf-8", errors="replace"), path.name)
    assert facts.path == path.name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_rust())
def test_rust_traces_over_mutated_repos_end_in_warnings(tmp_path_factory, case: tuple[Path, bytes]) -> None:
    path, data = case
    repo = tmp_path_factory.mktemp("rust")
    shutil.copytree(RUSTREPO, repo, dirs_exist_ok=True)
    (repo / path.relative_to(RUSTREPO)).write_bytes(data)
    workspace, errors = Workspace.from_configs([RepoConfig("rs", repo)])
    assert errors == []
    engine = Engine(workspace)
    for entry in RUST_ENTRIES:
        try:
            trace = engine.trace(parse_options("fuzz", {"entry": entry, "max-steps": "100"}))
        except CodetraceError as exc:
            assert exc.diagnostic.subtype in ("unresolved", "parse", "read")
            continue
        assert len(trace.steps) <= 100
