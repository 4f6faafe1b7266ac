"""Rust through the whole engine: entry forms, the language-agnostic walk (candidates, spawns, queues, awaits,
error paths, externals), determinism, caching, a mixed Python + Rust workspace, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import PYREPO, REPO_NAME, make_workspace, run_trace
from test_rust_corpus import REPO, RUSTREPO, rust_workspace

from sphinxext.codetrace.cli import main
from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.model import Resolution, StepKind
from sphinxext.codetrace.render import flowchart, sequence_diagram
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine, is_rust_entry
from sphinxext.codetrace.workspace import RepoConfig


def trace(entry: str, **options: str):
    return run_trace(entry, rust_workspace(), **options)


def steps_to(t, name: str):
    return [s for s in t.steps if (s.callee.name if s.callee else s.target) == name]


@pytest.mark.parametrize(
    ("entry", "name", "path"),
    [
        ("fleet_net::channels::pipeline", "fleet_net::channels::pipeline", "crates/net/src/channels.rs"),
        ("crate::store::open_default", "fleet_core::store::open_default", "crates/core/src/store/mod.rs"),
        ("Router::route", "fleet_net::channels::Router::route", "crates/net/src/channels.rs"),
        ("channels::Router::route", "fleet_net::channels::Router::route", "crates/net/src/channels.rs"),
        ("crates/net/src/macros.rs::race", "fleet_net::macros::race", "crates/net/src/macros.rs"),
        (
            "crates/net/src/channels.rs::Router::route",
            "fleet_net::channels::Router::route",
            "crates/net/src/channels.rs",
        ),
        (
            "crates/core/src/store/mod.rs::Store::put_all",
            "fleet_core::store::Store::put_all",
            "crates/core/src/store/mod.rs",
        ),
        ("fleet_core::Engine::submit", "fleet_core::engine::Engine::submit", "crates/core/src/engine.rs"),  # pub use
        ("rx:fleet_net::connect", "fleet_net::connect", "crates/net/src/net.rs"),
        ("fleet_server::main", "fleet_server::main", "apps/server/src/main.rs"),
    ],
)
def test_entry_forms(entry: str, name: str, path: str) -> None:
    t = trace(entry)
    assert (t.entry.name, t.entry.path, t.entry.repo, t.entry.lang.value) == (name, path, REPO, "rust")


def test_entry_line_is_the_fn_keyword() -> None:
    t = trace("fleet_net::handlers::default_name")
    source = (RUSTREPO / t.entry.path).read_text().splitlines()
    assert source[t.entry.line - 1].startswith("pub fn default_name")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("handle", "ambiguous"),
        ("fleet_net::nowhere", "no such Rust function"),
        ("crates/net/src/absent.rs::f", "no file"),
        ("crates/net/src/macros.rs::absent", "no 'absent'"),
        ("fleet_core::engine::Engine", "no such Rust function"),
    ],
)
def test_entry_errors(entry: str, message: str) -> None:
    with pytest.raises(CodetraceError) as info:
        trace(entry)
    assert message in str(info.value)


def test_ambiguous_entry_lists_candidates() -> None:
    with pytest.raises(CodetraceError) as info:
        trace("handle")
    text = str(info.value)
    assert "fleet_core::engine::EchoHandler::handle" in text and "fleet_net::handlers::NetHandler::handle" in text


def test_unknown_entry_suggests() -> None:
    with pytest.raises(CodetraceError) as info:
        trace("fleet_net::conect")
    assert "fleet_net::connect" in str(info.value)


def test_is_rust_entry() -> None:
    assert is_rust_entry("a::b") and is_rust_entry("crate::x") and is_rust_entry("lib/x.rs::f")
    assert not is_rust_entry("pkg.mod.f") and not is_rust_entry("src/pkg/mod.py::C.m")


def test_dynamic_dispatch_lists_candidates_and_walks_each() -> None:
    t = trace("fleet_core::engine::Engine::submit")
    dispatch = next(s for s in t.steps if s.resolution is Resolution.CANDIDATES and s.candidates)
    assert dispatch.callee is not None and dispatch.callee.name == "fleet_core::store::Store::put"
    assert [c.name for c in dispatch.candidates] == [
        "fleet_core::store::disk::DiskStore::put",
        "fleet_core::store::memory::MemoryStore::put",
    ]
    assert not dispatch.entered and dispatch.note == "2 candidates" and dispatch.propagates
    followers = [s for s in t.steps if s.candidate_of == dispatch.n]
    assert [s.callee.name for s in followers] == [c.name for c in dispatch.candidates]
    assert all(s.entered and s.depth == dispatch.depth for s in followers)
    inside = t.steps[followers[0].n]  # the first call inside the first candidate
    assert inside.caller.name == "fleet_core::store::disk::DiskStore::put" and inside.depth == dispatch.depth + 1
    data = t.to_json()["steps"][dispatch.n - 1]
    assert [c["name"] for c in data["candidates"]] == [c.name for c in dispatch.candidates]
    assert data["candidates"][0] == {
        "repo": REPO,
        "path": "crates/core/src/store/disk.rs",
        "line": 21,
        "name": "fleet_core::store::disk::DiskStore::put",
        "lang": "rust",
    }
    assert t.to_json()["steps"][followers[0].n - 1]["candidate_of"] == dispatch.n


def test_the_flow_spec_narrows_candidates() -> None:
    t = trace("fleet_core::engine::Engine::submit", exclude="fleet_core::store::disk")
    dispatch = next(s for s in t.steps if s.resolution is Resolution.CANDIDATES and s.candidates)
    assert dispatch.note == "narrowed to fleet_core::store::memory::MemoryStore::put by the flow spec"
    disk = next(s for s in t.steps if s.candidate_of == dispatch.n and "disk" in s.callee.name)
    assert disk.note == "excluded" and not disk.entered


def test_types_narrow_a_default_method_to_the_concrete_impl() -> None:
    t = trace("admin::main")
    put_all = steps_to(t, "fleet_core::store::Store::put_all")[0]
    assert put_all.resolution is Resolution.INHERITED and put_all.entered
    inner = [s for s in t.steps if s.caller.name == "fleet_core::store::Store::put_all"]
    # self.put(..) inside the default method, reached on a MemoryStore: no candidate set
    assert inner[0].callee.name == "fleet_core::store::memory::MemoryStore::put"
    assert inner[0].resolution is Resolution.TYPED


def test_spawn_queue_and_await_steps() -> None:
    t = trace("fleet_net::channels::pipeline")
    spawn = next(s for s in t.steps if s.kind is StepKind.SPAWN)
    assert spawn.callee.name == "fleet_net::channels::pipeline::{async@L47}" and spawn.entered
    submit = next(s for s in t.steps if s.caller.name == spawn.callee.name)
    assert submit.kind is StepKind.AWAIT and submit.callee.name == "fleet_net::client::Client::submit"
    queues = [s for s in t.steps if s.kind is StepKind.QUEUE]
    assert [q.callee.name for q in queues] == [spawn.callee.name] * 2
    assert all(q.note == f"expanded at step {spawn.n}" for q in queues)


def test_queue_through_a_struct_field() -> None:
    t = trace("fleet_net::channels::Router::route")
    first = t.steps[0]
    assert (first.kind, first.callee.name, first.entered, first.propagates) == (
        StepKind.QUEUE,
        "fleet_net::channels::worker",
        True,
        True,
    )


def test_externals_are_shown_quiet_calls_are_not_and_unresolved_are_kept() -> None:
    t = trace("fleet_net::macros::race")
    sleep = steps_to(t, "tokio::time::sleep")[0]
    assert (sleep.resolution, sleep.callee, sleep.entered, sleep.kind) == (
        Resolution.EXTERNAL,
        None,
        False,
        StepKind.AWAIT,
    )
    assert not any(s.target in ("std::time::Duration::from_secs", "Clone::clone") for s in t.steps)
    assert not any(s.resolution is Resolution.UNRESOLVED for s in t.steps)
    t = trace("fleet_net::uses::all")
    unresolved = [s for s in t.steps if s.resolution is Resolution.UNRESOLVED]
    assert [(s.target, s.callee, s.site.line) for s in unresolved] == [
        ("missing_function", None, 51),
        ("crate::uses::nowhere", None, 53),
    ]


def test_opaque_macros_and_error_paths() -> None:
    t = trace("fleet_net::macros::logging")
    twice = next(s for s in t.steps if s.target == "twice!")
    assert (twice.resolution, twice.note) == (Resolution.UNRESOLVED, "opaque macro")
    json_macro = next(s for s in t.steps if s.target == "serde_json::json_internal!")
    assert json_macro.resolution is Resolution.EXTERNAL
    errors = trace("fleet_net::errors::parse")
    raises = [s.target for s in errors.steps if s.kind is StepKind.RAISE]
    assert raises == ['bail!("zero is not a port")', 'Err(anyhow::anyhow!("too big: {}", n))']
    checked = trace("fleet_net::errors::chained").to_json()
    own = [s for s in checked["steps"] if s["caller"]["name"] == "fleet_net::errors::chained"]
    assert [(s["target"], s.get("propagates", False)) for s in own] == [("fleet_net::errors::parse", True)] * 2


def test_stop_at_rust_patterns() -> None:
    t = trace("fleet_net::channels::pipeline", stop_at="Client::submit")
    submit = steps_to(t, "fleet_net::client::Client::submit")[0]
    assert submit.note == "stop" and not submit.entered
    assert "fleet_net::client::Client::submit" in t.stops
    t = trace("fleet_core::engine::Engine::submit", stop_at="fleet_core::store::*")
    dispatch = t.steps[0]
    assert dispatch.note == "stop" and not any(s.candidate_of == dispatch.n for s in t.steps)


def test_traces_are_deterministic_and_cached(tmp_path) -> None:
    spec = parse_options("t", {"entry": "fleet_net::channels::pipeline"})
    engine = Engine(rust_workspace(), tmp_path)
    cold = engine.trace(spec)
    assert engine.index.parsed > 0
    warm_engine = Engine(rust_workspace(), tmp_path)
    warm = warm_engine.trace(spec)
    assert warm_engine.index.parsed == 0
    assert json.dumps(cold.to_json()) == json.dumps(warm.to_json())
    assert sequence_diagram(cold) == sequence_diagram(warm)
    # every file of the workspace may change the answer: all are dependencies, also on a second trace
    again = engine.trace(spec)
    assert again.files == cold.files
    assert str(RUSTREPO.resolve() / "crates/core/src/model.rs") in cold.files


def test_mixed_python_and_rust_workspace() -> None:
    workspace = make_workspace(RepoConfig(REPO_NAME, PYREPO), RepoConfig(REPO, RUSTREPO))
    py = run_trace("shipyard.flows.pipeline", workspace)
    assert py.to_json() == run_trace("shipyard.flows.pipeline").to_json()  # Python behaviour unchanged
    rs = run_trace("fleet_net::connect", workspace)
    assert rs.entry.lang.value == "rust" and rs.steps[0].callee.name == "fleet_net::client::Client::connect"


def test_renderers_accept_rust_traces() -> None:
    t = trace("fleet_core::engine::Engine::submit")
    assert sequence_diagram(t).startswith("sequenceDiagram")
    assert flowchart(t, "module", lambda repo, path, line: None).startswith("flowchart")


def test_cli_json(capsys) -> None:
    code = main(["trace", "--repo", f"{REPO}={RUSTREPO}", "--entry", "crate::store::open_default", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["entry"]["name"] == "fleet_core::store::open_default" and data["entry"]["lang"] == "rust"
    assert data["steps"][0]["callee"]["name"] == "fleet_core::store::memory::MemoryStore::new"


def test_cli_subprocess_and_errors() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinxext.codetrace",
            "trace",
            "--repo",
            f"r={RUSTREPO}",
            "--entry",
            "crate::engine::dispatch_all",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["steps"][0]["resolution"] == "candidates" and len(data["steps"][0]["candidates"]) == 3
    missing = subprocess.run(
        [sys.executable, "-m", "sphinxext.codetrace", "trace", "--repo", f"r={RUSTREPO}", "--entry", "crate::nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "no such Rust function" in missing.stderr


def test_sphinx_build_renders_a_rust_flow(make_app, tmp_path) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "conf.py").write_text(
        f'extensions = ["sphinxext.codetrace"]\ncodetrace_repos = {{"rx": {{"path": {str(RUSTREPO)!r}}}}}\n'
    )
    (src / "index.rst").write_text(
        "Rust\n====\n\n.. codetrace:: Route a job\n   :entry: rx:fleet_net::channels::Router::route\n   :depth: 3\n"
    )
    app = make_app("html", srcdir=src)
    app.build()
    assert [w for w in app.warning.getvalue().splitlines() if "WARNING" in w] == []
    html = (app.outdir / "index.html").read_text(encoding="utf-8")
    assert "sequenceDiagram" in html and "crates/net/src/channels.rs" in html
    assert "fleet_net::channels::worker" in html
    # every .rs file of the workspace is a dependency of the page
    deps = {str(d) for d in app.env.dependencies["index"]}
    assert any(d.endswith("crates/core/src/model.rs") for d in deps)


def test_a_rust_trace_parses_in_full_only_the_files_whose_bodies_it_reads() -> None:
    """The module trees and impls need every file's items (header facts); the bodies walked need full facts."""
    engine = Engine(rust_workspace(), None)
    t = engine.trace(parse_options("t", {"entry": "fleet_net::channels::pipeline"}))
    headers = {path for _, path in engine.index.header_only()}
    entered = {s.callee.path for s in t.steps if s.entered and s.callee is not None} | {t.entry.path}
    assert entered and not entered & headers  # every body walked was read in full
    assert "crates/core/src/platform.rs" in headers  # a file of the crates no walked body needs
    # and the answer is the one full facts everywhere give
    eager = Engine(rust_workspace(), None)
    for path in sorted(headers):
        eager.index.facts(eager.workspace.repos[REPO], path)
    assert eager.trace(parse_options("t", {"entry": "fleet_net::channels::pipeline"})).to_json() == t.to_json()
