"""PyO3 crossings (resolve/pyo3.py) over tests/fixtures/pyo3repo: exports, Python -> Rust, Rust -> Python."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sphinxext.codetrace.model import Lang, Resolution, StepKind
from sphinxext.codetrace.render.mermaid import sequence_diagram
from sphinxext.codetrace.resolve.pyo3 import _called_names
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

FIXTURE = Path(__file__).parent / "fixtures" / "pyo3repo"


def engine(root: Path = FIXTURE) -> Engine:
    workspace, errors = Workspace.from_configs([RepoConfig("kv", root)])
    assert not errors
    return Engine(workspace)


def trace(entry: str, depth: int = 4, root: Path = FIXTURE, **options: str):
    spec = parse_options("t", {"entry": entry, "depth": str(depth), **options})
    return engine(root).trace(spec)


def steps_of(t) -> list[tuple[str, str, str]]:
    """(kind, caller, callee or target) per step."""
    return [(s.kind.value, s.caller.name, s.callee.name if s.callee else s.target) for s in t.steps]


# -- what the extension module exports -------------------------------------------------------------------------


def test_module_name_comes_from_maturin_config() -> None:
    (module,) = engine().crossings.modules()
    assert (module.python, module.root, module.function) == ("kvpub._native", "src/lib.rs", "_native")


def test_module_name_falls_back_to_the_cargo_lib_name(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    (root / "pyproject.toml").unlink()
    (module,) = engine(root).crossings.modules()
    assert module.python == "_native"


def test_exports_follow_pyo3_names_helpers_and_submodules() -> None:
    bridge = engine().crossings
    exports = bridge.exports(bridge.modules()[0])
    rust = {name: (e.rust.qualname, e.kind) for name, e in exports.items()}
    assert rust["kvpub._native.hash_tokens"] == ("_native::hash_token_block", "function")  # #[pyo3(name)]
    assert rust["kvpub._native.KvPublisher"] == ("_native::publisher::Publisher", "class")  # #[pyclass(name)]
    assert rust["kvpub._native.KvPublisher.__init__"] == ("_native::publisher::Publisher::new", "new")
    assert rust["kvpub._native.KvPublisher.on_event"] == ("_native::publisher::Publisher::set_listener", "method")
    assert rust["kvpub._native.KvPublisher.sent"] == ("_native::publisher::Publisher::get_sent", "getter")
    assert rust["kvpub._native.KvPublisher.version"][0] == "_native::publisher::Publisher::version"
    assert rust["kvpub._native.ping"] == ("_native::engine::ping", "function")  # added by engine::register(m)
    assert rust["kvpub._native.metrics.snapshot"] == ("_native::metrics::snapshot", "function")  # submodule
    assert "kvpub._native.KvPublisher.set_listener" not in rust  # renamed: Python cannot call the Rust name
    assert "kvpub._native.HandlerEngine" not in rust  # not added to the module


def test_a_repo_without_rust_has_no_extension_modules() -> None:
    from helpers import PYREPO  # the Python-only corpus

    workspace, _ = Workspace.from_configs([RepoConfig("py", PYREPO)])
    assert Engine(workspace).crossings.modules() == []


# -- Python to Rust --------------------------------------------------------------------------------------------


def test_python_calls_through_the_stub_land_in_rust() -> None:
    t = trace("kvpub.worker.Worker.store_block")
    top = [(k, callee) for k, caller, callee in steps_of(t) if caller == "kvpub.worker.Worker.store_block"]
    assert top == [
        ("py->rust", "_native::hash_token_block"),
        ("py->rust", "_native::publisher::Publisher::publish_stored"),
        ("py->rust", "_native::publisher::Publisher::flush"),
        ("py->rust", "_native::publisher::Publisher::notify"),
    ]
    first = t.steps[0]
    assert first.callee.lang is Lang.RUST and first.caller.lang is Lang.PYTHON
    assert (first.site.path, first.site.line) == ("python/kvpub/worker.py", 14)
    assert first.callee.path == "src/lib.rs" and first.note == "PyO3: kvpub._native.hash_tokens"
    # the walk goes on in Rust: the publisher's channel send is a queue hand-off to the relay task
    assert ("queue", "_native::publisher::Publisher::publish_stored", "_native::publisher::relay") in steps_of(t)


def test_constructing_an_exported_class_runs_its_new() -> None:
    t = trace("kvpub.worker.Worker.__init__", depth=1)
    assert steps_of(t) == [
        ("py->rust", "kvpub.worker.Worker.__init__", "_native::publisher::Publisher::new"),
        ("py->rust", "kvpub.worker.Worker.__init__", "_native::engine::Endpoint::new"),
        ("py->rust", "kvpub.worker.Worker.__init__", "_native::publisher::Publisher::set_listener"),
    ]


def test_static_methods_and_module_attributes_cross_too() -> None:
    t = trace("kvpub.worker.Worker.record", depth=1)
    assert [s[2] for s in steps_of(t)] == ["_native::publisher::Publisher::version", "_native::engine::ping"]


def test_an_awaited_crossing_says_so() -> None:
    t = trace("kvpub.worker.Worker.start", depth=2)
    (step,) = [s for s in t.steps if s.kind is StepKind.PY_TO_RUST]
    assert step.callee.name == "_native::engine::Endpoint::serve" and step.note.startswith("awaited")


def test_without_a_stub_external_names_still_cross(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    (root / "python/kvpub/_native.pyi").unlink()
    t = trace("kvpub.worker.Worker.store_block", depth=1, root=root)
    assert [(k, callee) for k, _, callee in steps_of(t)][:3] == [
        ("py->rust", "_native::hash_token_block"),
        ("py->rust", "_native::publisher::Publisher::publish_stored"),
        ("py->rust", "_native::publisher::Publisher::flush"),
    ]


# -- Rust to Python --------------------------------------------------------------------------------------------


def test_a_stored_callback_is_called_back_in_python() -> None:
    t = trace("kvpub.worker.Worker.store_block")
    back = [s for s in t.steps if s.kind is StepKind.RUST_TO_PY]
    assert [(s.caller.name, s.callee.name, s.site.line) for s in back] == [
        # registered in Worker.__init__ with on_event(self.record), stored in self.listener, called in flush
        ("_native::publisher::Publisher::flush", "kvpub.worker.Worker.record", 39),
        # call_method1(py, "on_notice", ..) on the object Python passed to notify
        ("_native::publisher::Publisher::notify", "kvpub.worker.Worker.on_notice", 46),
        # getattr(py, "on_flush")?.call0(py) on the same object
        ("_native::publisher::Publisher::notify", "kvpub.worker.Worker.on_flush", 47),
    ]
    record = next(s for s in t.steps if s.callee and s.callee.name == "kvpub.worker.Worker.record")
    assert record.entered  # and the walk continues in Python, back into Rust
    assert ("py->rust", "kvpub.worker.Worker.record", "_native::engine::ping") in steps_of(t)


def test_handlers_registered_from_several_places_are_candidates() -> None:
    t = trace("src/engine.rs::HandlerEngine::run", depth=2)
    dispatch = t.steps[0]
    assert dispatch.kind is StepKind.RUST_TO_PY and dispatch.resolution is Resolution.CANDIDATES
    assert [c.name for c in dispatch.candidates] == ["kvpub.admin.Admin.handle", "kvpub.worker.Worker.generate"]
    # the flow spec narrows them
    narrowed = trace("src/engine.rs::HandlerEngine::run", depth=2, exclude="kvpub.admin")
    assert "narrowed to kvpub.worker.Worker.generate" in narrowed.steps[0].note


def test_the_handler_reached_through_an_arc_field_and_a_constructor() -> None:
    """serve(handler) -> HandlerEngine::new(handler) -> HandlerEngine { handler: Arc::new(handler) } ->
    run: let handler = self.handler.clone(); handler.call1(..)."""
    t = trace("kvpub.worker.Worker.start")
    kinds = steps_of(t)
    assert ("await", "_native::engine::Endpoint::serve", "_native::engine::HandlerEngine::run") in kinds
    assert ("rust->py", "_native::engine::HandlerEngine::run", "handler.call1") in kinds
    spawn = next(s for s in t.steps if s.target.endswith("future_into_py"))
    assert spawn.kind is StepKind.SPAWN and "awaitable" in spawn.note


def test_an_unknown_python_object_stays_external(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    worker = root / "python/kvpub/worker.py"
    worker.write_text(worker.read_text().replace("self.publisher.on_event(self.record)", "pass"))
    t = trace("kvpub.worker.Worker.store_block", root=root)
    flush_calls = [s for s in t.steps if s.caller.name == "_native::publisher::Publisher::flush"]
    assert [(s.kind, s.resolution) for s in flush_calls] == [(StepKind.CALL, Resolution.EXTERNAL)]


def test_the_diagram_marks_both_crossings() -> None:
    text = sequence_diagram(trace("kvpub.worker.Worker.store_block"))
    assert "Note over" in text and "python to rust" in text and "rust to python" in text


@pytest.mark.parametrize("entry", ["kvpub.worker.main", "kvpub.admin.Admin.start"])
def test_traces_are_deterministic(entry: str) -> None:
    assert steps_of(trace(entry)) == steps_of(trace(entry))


def test_the_gil_token_is_not_data() -> None:
    t = trace("kvpub.worker.Worker.store_block", depth=1)
    flush = next(s for s in t.steps if s.callee and s.callee.name.endswith("Publisher::flush"))
    notify = next(s for s in t.steps if s.callee and s.callee.name.endswith("Publisher::notify"))
    assert [p.name for p in flush.signature.params] == ["self"]  # `py: Python<'_>` left out
    assert [p.name for p in notify.signature.params] == ["self", "target"]


def test_the_demo_workspace_crosses_both_ways() -> None:
    """The example docs' page (example_docs/crossings.rst) draws this trace."""
    demo = Path(__file__).parent.parent / "example_docs" / "demo"
    t = trace("tinyserve.events.KvEventLog.block_stored", root=demo)
    crossings = [(s.kind.value, s.callee.name) for s in t.steps if s.kind.value in ("py->rust", "rust->py")]
    assert crossings == [
        ("py->rust", "_native::publisher::EventPublisher::block_stored"),
        ("rust->py", "tinyserve.events.KvEventLog.on_event"),
    ]


# -- the called-names text index -------------------------------------------------------------------------------

_REFERENCE_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


@pytest.mark.parametrize(
    "text", ["1abc(x)", "éa(b) _c (d)", "f((g  (h", "a.b_c1 (d)", "x\t(\n", "(((", "foo(bar(baz(", "a1(b2\n(", ""]
)
def test_called_names_are_what_the_plain_pattern_finds(text: str) -> None:
    assert _called_names(text) == set(_REFERENCE_CALLED.findall(text))


def test_called_names_agree_on_this_repository() -> None:
    files = sorted(Path(__file__).resolve().parent.parent.joinpath("sphinxext").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _called_names(text) == set(_REFERENCE_CALLED.findall(text)), path


hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab1_é() \t\n.", max_size=40))
def test_called_names_agree_on_any_text(text: str) -> None:
    assert _called_names(text) == set(_REFERENCE_CALLED.findall(text))
