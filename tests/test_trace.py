"""Trace: the depth-first walk over the fixture repo, its stop rules, and the JSON it produces."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import PYREPO, REPO_NAME, fixture_workspace, make_workspace, run_trace

from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.model import Resolution, StepKind, Trace
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine, matches
from sphinxext.codetrace.workspace import RepoConfig


@pytest.fixture(scope="module")
def workspace():
    return fixture_workspace()


def trace(entry: str, workspace=None, **options: str) -> Trace:
    return run_trace(entry, workspace, **options)


def summary(t: Trace) -> list[tuple]:
    return [(s.n, s.depth, s.caller.name, s.target, s.kind.value, s.entered, s.note) for s in t.steps]


def unresolved_error(entry: str, workspace=None, **options: str) -> CodetraceError:
    with pytest.raises(CodetraceError) as info:
        trace(entry, workspace, **options)
    return info.value


def check_tree(t: Trace) -> None:
    """Structural invariants of every trace: numbering, depths, and callers along entered steps."""
    assert [s.n for s in t.steps] == list(range(1, len(t.steps) + 1))
    stack = [(0, t.entry.name)]  # (depth, name) of the entered chain
    for s in t.steps:
        while stack[-1][0] >= s.depth:
            stack.pop()
        assert stack[-1][0] == s.depth - 1, f"step {s.n} jumps depth"
        assert s.caller.name == stack[-1][1], f"step {s.n} has caller {s.caller.name}, expected {stack[-1][1]}"
        if s.entered:
            assert s.callee is not None and not s.note
            stack.append((s.depth, s.callee.name))
        if s.kind is StepKind.RAISE:
            assert s.callee is None and not s.entered


# -- the walk --------------------------------------------------------------------------------------------------

PIPELINE = [
    (1, 1, "shipyard.flows.pipeline", "shipyard.store.Store", "call", True, ""),
    (2, 1, "shipyard.flows.pipeline", "shipyard.store.Store.put", "call", True, ""),
    (3, 2, "shipyard.store.Store.put", "shipyard.store.Store.check", "call", True, ""),
    (4, 3, "shipyard.store.Store.check", "KeyError(key)", "raise", False, ""),
    (5, 2, "shipyard.store.Store.put", 'ValueError("value too long")', "raise", False, ""),
    (6, 1, "shipyard.flows.pipeline", "shipyard.flows.helper", "call", True, ""),
    (7, 1, "shipyard.flows.pipeline", "shipyard.flows.helper", "call", False, "expanded at step 6"),
    (8, 1, "shipyard.flows.pipeline", "shipyard.store.Store.get", "call", True, ""),
    (9, 2, "shipyard.store.Store.get", "os.path.join", "call", False, ""),
    (10, 2, "shipyard.store.Store.get", "logging.getLogger().info", "call", False, ""),
    (11, 2, "shipyard.store.Store.get", "shipyard.store.Store.check", "call", False, "expanded at step 3"),
]


def test_pipeline_walk(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace)
    assert summary(t) == PIPELINE
    check_tree(t)
    assert not t.truncated and t.stops == () and t.warnings == ()
    # builtins (len) and builtin exception constructors are left out
    assert not any("len" in s.target or s.target.startswith("builtins.") for s in t.steps)
    by_n = {s.n: s for s in t.steps}
    assert by_n[1].callee.name == "shipyard.store.Store.__init__"
    assert by_n[8].handlers == ("ValueError",)
    assert all(not s.handlers for s in t.steps if s.n != 8)
    assert by_n[9].resolution is Resolution.EXTERNAL and by_n[9].callee is None
    assert by_n[2].signature.args_text() == "key: str, value: str" and by_n[2].signature.returns == "None"
    assert by_n[8].site.path == "src/shipyard/flows.py"
    assert by_n[8].site.line == line_of("flows.py", "value = store.get(key)")
    assert by_n[8].callee.line == line_of("store.py", "def get(")


def line_of(filename: str, text: str) -> int:
    path = next(PYREPO.rglob(filename))
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    "entry",
    [
        "shipyard.flows.pipeline",
        "src/shipyard/flows.py::pipeline",
        f"{REPO_NAME}:shipyard.flows.pipeline",
        f"{REPO_NAME}:src/shipyard/flows.py::pipeline",
    ],
)
def test_entry_forms(workspace, entry: str) -> None:
    t = trace(entry, workspace)
    assert t.entry.name == "shipyard.flows.pipeline"
    assert (t.entry.repo, t.entry.path, t.entry.line) == (
        REPO_NAME,
        "src/shipyard/flows.py",
        line_of("flows.py", "def pipeline("),
    )
    assert summary(t) == PIPELINE


def test_entry_method_in_file_form(workspace) -> None:
    t = trace("src/shipyard/models.py::Leaf.run", workspace)
    assert t.entry.name == "shipyard.models.Leaf.run"
    assert [s.target for s in t.steps] == [
        "shipyard.models.Base.setup",
        "shipyard.models.Middle.describe",
        "shipyard.models.Base.describe",
        "shipyard.models.Leaf.finish",
        "shipyard.models.Middle.describe",
    ]
    assert t.steps[-1].note == "expanded at step 2"


def test_entry_through_a_reexport_and_inheritance(workspace) -> None:
    assert trace("shipyard.Thing.grow", workspace).entry.name == "shipyard.impl.Thing.grow"
    assert trace("shipyard.models.Leaf.setup", workspace).entry.name == "shipyard.models.Base.setup"
    assert trace("shipyard.flows.outer.inner", workspace).entry.name == "shipyard.flows.outer.inner"


def test_entry_repo_option(workspace) -> None:
    t = trace("shipyard.flows.countdown", workspace, repo=REPO_NAME)
    assert t.entry.name == "shipyard.flows.countdown"
    err = unresolved_error("shipyard.flows.countdown", workspace, repo="elsewhere")
    assert err.diagnostic.subtype == "repo" and "elsewhere" in str(err)


@pytest.mark.parametrize(
    ("entry", "near"),
    [
        ("shipyard.flows.pipelin", "pipeline"),
        ("shipyard.flows.countdwn", "countdown"),
        ("shipyard.models.Leaf.rnu", "Leaf.run"),
        ("src/shipyard/flows.py::pipeilne", "pipeline"),
    ],
)
def test_unresolved_entry_suggests_a_near_miss(workspace, entry: str, near: str) -> None:
    err = unresolved_error(entry, workspace)
    assert err.diagnostic.subtype == "unresolved"
    assert entry in err.diagnostic.message
    assert err.diagnostic.hint.startswith("did you mean")
    assert near in err.diagnostic.hint


@pytest.mark.parametrize(
    "entry",
    [
        "nosuch.module.f",
        "shipyard.flows",
        "shipyard.flows.no_such_thing_at_all",
        "shipyard.flo-ws.f",
        "src/shipyard/nope.py::f",
        "../outside.py::f",
        "shipyard.flows.pipeline.deeper",
    ],
)
def test_unresolved_entries(workspace, entry: str) -> None:
    err = unresolved_error(entry, workspace)
    assert err.diagnostic.subtype == "unresolved"
    assert err.diagnostic.hint


def test_entry_in_a_file_that_does_not_parse(workspace) -> None:
    err = unresolved_error("src/shipyard/broken.py::repair", workspace)
    assert err.diagnostic.subtype == "parse"


def test_engine_records_files_read_even_when_the_entry_fails(workspace) -> None:
    engine = Engine(workspace)
    with pytest.raises(CodetraceError):
        engine.trace(parse_options("t", {"entry": "shipyard.flows.pipelin"}))
    assert str((PYREPO / "src/shipyard/flows.py").resolve()) in engine.last_files


# -- stop rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["shipyard.store.Store.put", "shipyard.store.Store.p*", "Store.put"])
def test_stop_at_one_method(workspace, pattern: str) -> None:
    t = trace("shipyard.flows.pipeline", workspace, stop_at=pattern)
    (put,) = [s for s in t.steps if s.target == "shipyard.store.Store.put"]
    assert put.note == "stop" and not put.entered
    assert not any(s.caller.name == "shipyard.store.Store.put" for s in t.steps)
    assert t.stops == ("shipyard.store.Store.put",)
    # Store.check was reached through put before; now it is first expanded from Store.get
    (check,) = [s for s in t.steps if s.target == "shipyard.store.Store.check"]
    assert check.caller.name == "shipyard.store.Store.get" and check.entered
    check_tree(t)


@pytest.mark.parametrize("pattern", ["shipyard.store.*", "shipyard.store", "shipyard.store.Store"])
def test_stop_at_glob_and_package_prefix(workspace, pattern: str) -> None:
    t = trace("shipyard.flows.pipeline", workspace, stop_at=pattern)
    store_steps = [s for s in t.steps if s.target.startswith("shipyard.store.")]
    assert [s.target for s in store_steps] == [
        "shipyard.store.Store",
        "shipyard.store.Store.put",
        "shipyard.store.Store.get",
    ]
    assert all(s.note == "stop" and not s.entered for s in store_steps)
    assert not any(s.caller.module == "shipyard.store" for s in t.steps)
    assert t.stops == ("shipyard.store.Store.__init__", "shipyard.store.Store.put", "shipyard.store.Store.get")


def test_stop_at_external_name(workspace) -> None:
    t = trace("shipyard.store.Store.get", workspace, stop_at="os.path.join")
    (join,) = [s for s in t.steps if s.target == "os.path.join"]
    assert join.note == "stop"
    assert t.stops == ("os.path.join",)


@pytest.mark.parametrize("pattern", ["shipyard.sto", "store.Store.pu", "hipyard.store.*", "Shipyard.store"])
def test_stop_at_partial_names_do_not_match(workspace, pattern: str) -> None:
    t = trace("shipyard.flows.pipeline", workspace, stop_at=pattern)
    assert summary(t) == PIPELINE


def test_matches() -> None:
    assert matches("a.b.c", ("x", "a.b")) == "a.b"
    assert matches("a.b.c", ("b.c",)) == "b.c"
    assert matches("a.b.c", ("a.*.c",)) == "a.*.c"
    assert matches("crate::m::f", ("crate::m",)) == "crate::m"
    assert matches("a.bc", ("a.b",)) is None
    assert matches("a.b.c", ()) is None


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_limit(workspace, depth: int) -> None:
    t = trace("shipyard.flows.pipeline", workspace, depth=str(depth))
    assert max(s.depth for s in t.steps) == depth
    for s in t.steps:
        if s.depth == depth and s.callee is not None:
            assert s.note in ("depth limit", "expanded at step 6") and not s.entered
    check_tree(t)
    if depth == 1:
        assert [s.note for s in t.steps] == ["depth limit", "depth limit", "depth limit", "depth limit", "depth limit"]


def test_max_steps_truncates(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace, max_steps="4")
    assert t.truncated
    assert summary(t) == PIPELINE[:4]
    assert json.loads(json.dumps(t.to_json()))["truncated"] is True


def test_max_steps_not_hit(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace, max_steps=str(len(PIPELINE)))
    assert not t.truncated and len(t.steps) == len(PIPELINE)


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "app").mkdir(parents=True)
    (root / "app/__init__.py").write_text("", encoding="utf-8")
    (root / "app/main.py").write_text(
        textwrap.dedent("""\
        from shipyard.store import Store


        def g():
            return 1


        def f(items):
            g()
            len(items)


        def run():
            store = Store()
            store.get("k")
        """),
        encoding="utf-8",
    )
    return root


def test_quiet_calls_after_the_last_step_do_not_truncate(app_repo: Path) -> None:
    workspace = make_workspace(RepoConfig("app", app_repo))
    t = trace("app.main.f", workspace, max_steps="1")
    assert [s.target for s in t.steps] == ["app.main.g"]
    assert not t.truncated


def test_cross_repo_trace(app_repo: Path) -> None:
    workspace = make_workspace(RepoConfig(REPO_NAME, PYREPO), RepoConfig("app", app_repo))
    t = trace("app:app.main.run", workspace)
    assert t.entry.repo == "app"
    assert [(s.caller.repo, s.target, s.callee.repo if s.callee else None) for s in t.steps[:3]] == [
        ("app", "shipyard.store.Store", REPO_NAME),
        ("app", "shipyard.store.Store.get", REPO_NAME),
        (REPO_NAME, "os.path.join", None),
    ]
    with pytest.raises(CodetraceError):
        trace(f"{REPO_NAME}:app.main.run", workspace)  # the repo prefix limits the entry lookup


def test_recursion_is_marked_and_not_followed(workspace) -> None:
    t = trace("shipyard.flows.countdown", workspace)
    assert summary(t) == [(1, 1, "shipyard.flows.countdown", "shipyard.flows.countdown", "call", False, "recursion")]


def test_mutual_recursion(workspace) -> None:
    t = trace("shipyard.flows.is_even", workspace)
    assert summary(t) == [
        (1, 1, "shipyard.flows.is_even", "shipyard.flows.is_odd", "call", True, ""),
        (2, 2, "shipyard.flows.is_odd", "shipyard.flows.is_even", "call", False, "recursion"),
    ]


def test_nested_function_is_entered(workspace) -> None:
    t = trace("shipyard.flows.outer", workspace)
    assert summary(t) == [
        (1, 1, "shipyard.flows.outer", "shipyard.flows.outer.inner", "call", True, ""),
        (2, 2, "shipyard.flows.outer.inner", "shipyard.flows.helper", "call", True, ""),
    ]


def test_raise_is_placed_between_calls_in_line_order(workspace) -> None:
    t = trace("shipyard.flows.failing", workspace, depth="1")
    assert [(s.kind.value, s.target) for s in t.steps] == [
        ("call", "shipyard.flows.helper"),
        ("raise", 'ValueError("negative")'),
        ("call", "shipyard.flows.countdown"),
    ]


def test_async_awaits_and_spawns(workspace) -> None:
    t = trace("shipyard.flows.start", workspace)
    check_tree(t)
    kinds = [(s.target, s.kind.value) for s in t.steps if s.depth <= 2]
    assert kinds == [
        ("shipyard.store.Store", "call"),
        ("shipyard.tasks.orchestrate", "await"),
        ("shipyard.tasks.fetch", "await"),
        ("shipyard.tasks.background", "spawn"),
        ("asyncio.create_task", "call"),
        ("shipyard.tasks.blocking_work", "spawn"),
        ("asyncio.to_thread", "await"),
        ("shipyard.tasks.blocking_work", "spawn"),
        ("asyncio.to_thread", "await"),
    ]
    orchestrate = next(s for s in t.steps if s.target == "shipyard.tasks.orchestrate")
    assert orchestrate.signature.is_async and orchestrate.to_json()["async"] is True


def test_base_method_reached_on_a_subclass_instance_finds_the_override(workspace) -> None:
    t = trace("shipyard.models.make_leaf", workspace)
    template = next(s for s in t.steps if s.target == "shipyard.models.Base.template")
    assert template.entered
    after = t.steps[template.n]  # the first step inside Base.template, reached on a Leaf
    assert (after.depth, after.caller.name, after.target) == (
        2,
        "shipyard.models.Base.template",
        "shipyard.models.Leaf.hook",
    )


def test_same_base_method_on_another_subclass_is_expanded_again(workspace) -> None:
    t = trace("shipyard.models.make_leaf", workspace)
    on_leaf, on_diamond = [s for s in t.steps if s.target == "shipyard.models.Base.template"]
    assert on_leaf.entered and t.steps[on_leaf.n].target == "shipyard.models.Leaf.hook"
    assert on_diamond.entered, on_diamond.note
    assert t.steps[on_diamond.n].target == "shipyard.models.Base.hook"


def test_decorator_calls_are_not_steps_of_the_decorated_function(workspace) -> None:
    t = trace("shipyard.decorated.handler", workspace)
    assert [s.target for s in t.steps] == ["shipyard.decorated.helper"]


def test_include_limits_the_modules_entered(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace, include="shipyard.flows")
    assert [(s.target, s.note) for s in t.steps] == [
        ("shipyard.store.Store", "not included"),
        ("shipyard.store.Store.put", "not included"),
        ("shipyard.flows.helper", ""),
        ("shipyard.flows.helper", "expanded at step 3"),
        ("shipyard.store.Store.get", "not included"),
    ]
    assert not any(s.caller.module == "shipyard.store" for s in t.steps)
    t2 = trace("shipyard.flows.pipeline", workspace, include="shipyard.*")
    assert summary(t2) == PIPELINE


def test_exclude_shows_but_does_not_enter(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace, exclude="shipyard.store")
    store_steps = [s for s in t.steps if s.target.startswith("shipyard.store")]
    assert len(store_steps) == 3
    assert all(s.note == "excluded" and not s.entered for s in store_steps)
    assert not any(s.caller.module == "shipyard.store" for s in t.steps)


def test_unresolved_and_external_steps(workspace) -> None:
    t = trace("shipyard.flows.outside_world", workspace)
    got = [(s.target, s.resolution.value) for s in t.steps]
    assert got == [
        ("numpy.zeros", "external"),
        ("os.path.join", "external"),
        ("os.path.join", "external"),
        ("logging.getLogger().info", "external"),
        ("x.foo", "unresolved"),
        ('table["key"]', "unresolved"),
        ("broken.repair", "unresolved"),
    ]
    assert all(s.callee is None and not s.entered for s in t.steps)


def test_file_with_syntax_error_gives_a_parse_warning(workspace) -> None:
    t = trace("shipyard.flows.touch_broken", workspace)
    assert [s.target for s in t.steps] == ["shipyard.flows.helper", "broken.repair"]
    assert [w.subtype for w in t.warnings] == ["parse"]
    assert "src/shipyard/broken.py" in t.warnings[0].message
    assert str((PYREPO / "src/shipyard/broken.py").resolve()) in t.files
    assert t.to_json()["warnings"] == [str(t.warnings[0])]


def test_unreadable_module_gives_a_read_warning(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/__init__.py").write_text("", encoding="utf-8")
    (root / "pkg/main.py").write_text("from pkg import legacy\n\n\ndef run():\n    legacy.old()\n", encoding="utf-8")
    (root / "pkg/legacy.py").write_bytes("def old():\n    return 'caf\u00e9'\n".encode("latin-1"))
    t = trace("pkg.main.run", make_workspace(RepoConfig("r", root)))
    assert [(s.target, s.resolution) for s in t.steps] == [("legacy.old", Resolution.UNRESOLVED)]
    assert [w.subtype for w in t.warnings] == ["read"]
    assert "pkg/legacy.py" in t.warnings[0].message


def test_trace_files_are_the_files_read(workspace) -> None:
    t = trace("shipyard.flows.countdown", workspace)
    assert t.files == (str((PYREPO / "src/shipyard/flows.py").resolve()),)


# -- output --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "shipyard.flows.pipeline",
        "shipyard.flows.start",
        "shipyard.models.make_leaf",
        "shipyard.flows.imports_everywhere",
    ],
)
def test_determinism(entry: str, tmp_path: Path) -> None:
    first = run_trace(entry, fixture_workspace()).to_json()
    second = run_trace(entry, fixture_workspace()).to_json()
    cold = run_trace(entry, fixture_workspace(), cache_dir=tmp_path).to_json()
    warm = run_trace(entry, fixture_workspace(), cache_dir=tmp_path).to_json()
    assert json.dumps(first) == json.dumps(second) == json.dumps(cold) == json.dumps(warm)


@pytest.mark.parametrize(
    "entry",
    [
        "shipyard.flows.pipeline",
        "shipyard.flows.start",
        "shipyard.models.make_leaf",
        "shipyard.flows.imports_everywhere",
        "shipyard.services.Service.handle",
        "shipyard.flows.lazy_import",
    ],
)
def test_tree_invariants(workspace, entry: str) -> None:
    check_tree(trace(entry, workspace))


STEP_KEYS = {"n", "depth", "caller", "callee", "target", "site", "kind", "resolution", "entered"}
OPTIONAL_STEP_KEYS = {"candidates", "args", "returns", "async", "handlers", "note"}
LOC_KEYS = {"repo", "path", "line", "name", "lang"}


def test_json_schema(workspace) -> None:
    t = trace("shipyard.flows.pipeline", workspace, title="Pipeline", stop_at="os.path.join")
    data = json.loads(json.dumps(t.to_json()))
    assert set(data) == {"schema", "title", "entry", "steps", "stops", "truncated", "warnings"}
    assert data["schema"] == "codetrace.trace/1"
    assert data["title"] == "Pipeline"
    assert set(data["entry"]) == LOC_KEYS
    assert data["entry"]["lang"] == "python"
    assert data["stops"] == ["os.path.join"]
    assert data["truncated"] is False and data["warnings"] == []
    for step in data["steps"]:
        assert STEP_KEYS <= set(step) <= STEP_KEYS | OPTIONAL_STEP_KEYS
        assert set(step["caller"]) == LOC_KEYS
        assert step["callee"] is None or set(step["callee"]) == LOC_KEYS
        assert set(step["site"]) == {"repo", "path", "line"}
        assert step["kind"] in {k.value for k in StepKind}
        assert step["resolution"] in {r.value for r in Resolution}
        if "args" in step:
            assert {"returns", "async"} <= set(step)
        assert step.get("note", "x") != ""  # empty notes are left out
    by_n = {s["n"]: s for s in data["steps"]}
    assert by_n[2]["args"] == "key: str, value: str" and by_n[2]["returns"] == "None"
    assert by_n[2]["async"] is False
    assert by_n[8]["handlers"] == ["ValueError"]
    assert "handlers" not in by_n[1]
    assert by_n[4]["kind"] == "raise" and by_n[4]["callee"] is None and "args" not in by_n[4]
    assert by_n[9]["note"] == "stop"


def test_entry_naming_a_class_says_so(workspace) -> None:
    error = unresolved_error("shipyard.store.Store", workspace)
    assert error.diagnostic.subtype == "unresolved"
    assert "is a class, not a function" in error.diagnostic.message
    assert "shipyard.store.Store.__init__" in error.diagnostic.hint
