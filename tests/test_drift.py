"""Drift checks as pure functions: ``:expect:`` waypoints, lock lines and diffs, the lock file, and the
workspace look-ups behind ``codetrace.unresolved`` (stop points that name nothing, moved entries)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import fixture_workspace, run_trace

from sphinxext.codetrace.diagnostics import CodetraceError, Diagnostic
from sphinxext.codetrace.drift import (
    LOCK_SCHEMA,
    LockFile,
    digest,
    expect_problem,
    load_lock,
    lock_diff,
    lock_entry,
    lock_key,
    lock_lines,
    lock_problem,
)
from sphinxext.codetrace.lookup import closest_names, explain_unresolved, missing_stop_points, symbol_exists
from sphinxext.codetrace.spec import parse_options, split_waypoints
from sphinxext.codetrace.trace import Engine

ACCEPT = "python -m sphinxext.codetrace lock docs --update"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(fixture_workspace())


@pytest.fixture(scope="module")
def pipeline():
    return run_trace("shipyard.flows.pipeline")


# -- the spec ------------------------------------------------------------------------------------------------------


def test_expect_and_name_options() -> None:
    spec = parse_options("T", {"entry": "a.b", "expect": "a.c -> a.d, a.c\n x.*", "name": "  my  flow "})
    assert spec.expect == ("a.c", "a.d", "a.c", "x.*")  # order and repeats kept
    assert spec.name == "my flow"
    assert split_waypoints("a->b->c") == ("a", "b", "c")
    with pytest.raises(CodetraceError, match=":name: must not be empty"):
        parse_options("T", {"entry": "a.b", "name": ""})


# -- :expect: ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expect",
    [
        ("shipyard.store.Store.put", "shipyard.store.Store.get"),
        ("shipyard.flows.pipeline", "Store.put", "helper", "helper", "Store.check"),  # entry, suffixes, repeats
        ("shipyard.store.*", "os.path.join"),  # globs and external names
        ("shipyard.store",),  # a package prefix
    ],
)
def test_expect_met(pipeline, expect) -> None:
    assert expect_problem(pipeline, expect) is None


def test_expect_missing_waypoint_names_it_and_where_the_trace_went(pipeline) -> None:
    problem = expect_problem(pipeline, ("Store.put", "shipyard.flows.countdown", "Store.get"))
    assert problem == Diagnostic(
        "drift",
        ":expect: 'shipyard.flows.countdown' (waypoint 2 of 3) is not reached after 'shipyard.store.Store.put' "
        '(step 2); from there the trace goes to: shipyard.store.Store.check, KeyError(key), ValueError("value too '
        'long"), shipyard.flows.helper, shipyard.store.Store.get, ...',
        "if the code change is intended, update :expect:",
    )


def test_expect_out_of_order_says_it_comes_earlier(pipeline) -> None:
    problem = expect_problem(pipeline, ("Store.get", "Store.put"))
    assert problem is not None
    assert problem.message.startswith(":expect: 'Store.put' (waypoint 2 of 2) is not reached after ")
    assert problem.message.endswith("; 'Store.put' comes earlier, at step 2")


def test_expect_first_waypoint_and_end_of_trace(pipeline) -> None:
    first = expect_problem(pipeline, ("nowhere.at_all",))
    assert first is not None and "is not reached after the entry 'shipyard.flows.pipeline'" in first.message
    leaf = run_trace("shipyard.flows.helper")  # calls nothing
    end = expect_problem(leaf, ("shipyard.flows.helper", "nowhere"))
    assert end is not None and end.message == (
        ":expect: 'nowhere' (waypoint 2 of 2) is not reached after the entry 'shipyard.flows.helper'; "
        "the trace ends there"
    )


# -- lock lines and diffs ------------------------------------------------------------------------------------------


def test_lock_lines_record_callers_callees_paths_kinds_not_lines() -> None:
    trace = run_trace("shipyard.flows.pipeline", depth="2")
    lines = lock_lines(trace)
    assert lines[:5] == [
        "entry shipyard.flows.pipeline (fx:src/shipyard/flows.py)",
        "shipyard.flows.pipeline -> shipyard.store.Store.__init__ (fx:src/shipyard/store.py)",
        "shipyard.flows.pipeline -> shipyard.store.Store.put (fx:src/shipyard/store.py)",
        "  shipyard.store.Store.put -> shipyard.store.Store.check (fx:src/shipyard/store.py)",
        "  shipyard.store.Store.put -> raise ValueError",  # the exception, not its message
    ]
    assert "  shipyard.store.Store.get -> os.path.join [external]" in lines
    assert not any(any(ch.isdigit() for ch in line) for line in lines)  # no line numbers anywhere
    start = lock_lines(run_trace("shipyard.flows.start", depth="2"))
    assert "shipyard.flows.start -> await shipyard.tasks.orchestrate (fx:src/shipyard/tasks.py)" in start
    assert "  shipyard.tasks.orchestrate -> spawn shipyard.tasks.background (fx:src/shipyard/tasks.py)" in start
    assert lock_lines(run_trace("shipyard.flows.pipeline", max_steps="2"))[-1] == "truncated after 2 steps"


def test_line_shifts_do_not_change_the_entry(pipeline) -> None:
    shifted = dataclasses.replace(
        pipeline,
        entry=dataclasses.replace(pipeline.entry, line=pipeline.entry.line + 7),
        steps=tuple(
            dataclasses.replace(
                s,
                site=dataclasses.replace(s.site, line=s.site.line + 7),
                callee=dataclasses.replace(s.callee, line=s.callee.line + 3) if s.callee else None,
            )
            for s in pipeline.steps
        ),
    )
    assert lock_entry(shifted) == lock_entry(pipeline)
    assert lock_problem(shifted, "k", lock_entry(pipeline), "codetrace.lock.json", ACCEPT) is None


def test_lock_diff_and_problem_texts() -> None:
    old = ["entry a (r:a.py)", "a -> b (r:b.py)", "a -> c (r:c.py)", "a -> d (r:d.py)"]
    new = ["entry a (r:a.py)", "a -> b (r:b.py)", "a -> e (r:e.py)", "a -> d (r:d.py)"]
    change = lock_diff(old, new)
    assert change.diff == (" a -> b (r:b.py)", "-a -> c (r:c.py)", "+a -> e (r:e.py)", " a -> d (r:d.py)")
    assert change.summary() == "1 step removed, 1 added"
    assert lock_diff(old, old[:-1]).summary() == "1 step removed"
    assert lock_diff(old[:1], old).summary() == "3 steps added"
    assert change.inline() == "- a -> c (r:c.py); + a -> e (r:e.py)"
    far = lock_diff([f"x{i}" for i in range(20)], [f"x{i}" if i not in (2, 15) else "y" for i in range(20)])
    assert "..." in far.diff  # hunks are separated, no @@ headers
    assert not any(line.startswith("@@") for line in far.diff)


def test_lock_problem_missing_entry_and_multiline_diff(pipeline) -> None:
    key = lock_key("guide/flows", "Pipeline")
    assert key == "guide/flows#Pipeline" and lock_key("d", "Title", "short") == "d#short"
    missing = lock_problem(pipeline, key, None, "codetrace.lock.json", ACCEPT)
    assert missing == Diagnostic(
        "drift", "flow 'guide/flows#Pipeline' is not in codetrace.lock.json", f"record it with: {ACCEPT}"
    )
    locked = lock_entry(pipeline)
    locked = {"digest": "sha256:0", "steps": [*locked["steps"], "shipyard.flows.pipeline -> gone (fx:gone.py)"]}
    changed = lock_problem(pipeline, key, locked, "codetrace.lock.json", ACCEPT)
    assert changed is not None
    head, *body = changed.message.split("\n")
    assert head == (
        f"flow 'guide/flows#Pipeline' changed since codetrace.lock.json was written (1 step removed); if "
        f"intended, accept it with: {ACCEPT}"
    )
    assert body[-1] == "    -shipyard.flows.pipeline -> gone (fx:gone.py)"


# -- the lock file -------------------------------------------------------------------------------------------------


def test_lock_file_is_sorted_stable_and_written_only_on_change(tmp_path: Path, pipeline) -> None:
    path = tmp_path / "codetrace.lock.json"
    lock = LockFile(path, {"b#2": lock_entry(pipeline), "a#1": {"digest": digest(["x"]), "steps": ["x"]}})
    assert lock.write() is True
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["schema"] == LOCK_SCHEMA and list(data["flows"]) == ["a#1", "b#2"]
    assert text.endswith("\n") and '  "flows": {' in text
    assert lock.write() is False  # same text: not rewritten (the lock is a page dependency)
    loaded = load_lock(path)
    assert loaded.exists and not loaded.error and loaded.flows == lock.flows
    loaded.flows.clear()  # a caller's copy: the memo is untouched
    assert load_lock(path).flows == lock.flows
    assert load_lock(tmp_path / "absent.json").exists is False
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    assert "not a codetrace.lock/1 file" in load_lock(tmp_path / "bad.json").error


# -- look-ups across the workspace ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "exists"),
    [
        ("shipyard.store.Store.put", True),  # a method
        ("shipyard.store.Store", True),  # a class
        ("shipyard.store", True),  # a module
        ("shipyard.sub", True),  # a package
        ("shipyard.Store.get", True),  # re-exported by shipyard/__init__.py
        ("shipyard.Thing", True),  # re-exported too
        ("shipyard.store.Store.gone", False),
        ("shipyard.nowhere.f", False),
        ("shipyard.store.*", None),  # globs are not checked
        ("Store.put", None),  # suffix forms are not checked
        ("asyncio.sleep", None),  # nor names outside the repos
        ("crate::x", None),
    ],
)
def test_symbol_exists(engine: Engine, name: str, exists: bool | None) -> None:
    assert symbol_exists(engine.python, name) is exists


def test_closest_names(engine: Engine) -> None:
    # a move: the same name elsewhere
    assert "shipyard.store.Store.check" in closest_names(engine, "shipyard.old.Store.check")
    # a rename in a class that still exists: close spellings among its members
    assert closest_names(engine, "shipyard.store.Store.putt") == ["shipyard.store.Store.put"]
    assert closest_names(engine, "nothing.like.it_at_all_xyz") == []


def test_missing_stop_points(engine: Engine) -> None:
    spec = parse_options(
        "t",
        {"entry": "shipyard.flows.pipeline", "stop-at": "shipyard.store.Store.put shipyard.gone.check shipyard.x.*"},
    )
    trace = engine.trace(spec)
    problems = missing_stop_points(engine, spec, trace)
    assert problems == [
        Diagnostic(
            "unresolved",
            ":stop-at: 'shipyard.gone.check' names nothing in the configured repos",
            "did you mean: shipyard.store.Store.check?",
        )
    ]
    # a stop point that exists but is not reached is fine
    spec = parse_options("t", {"entry": "shipyard.flows.helper", "stop-at": "shipyard.store.Store.put"})
    assert missing_stop_points(engine, spec, engine.trace(spec)) == []


def test_explain_unresolved_entry(engine: Engine) -> None:
    spec = parse_options("t", {"entry": "shipyard.tasks.check"})  # moved: Store.check is the one "check"
    with pytest.raises(CodetraceError) as info:
        engine.trace(spec)
    explained = explain_unresolved(engine, spec, info.value.diagnostic)
    assert explained.message == info.value.diagnostic.message
    assert explained.hint == "did you mean: shipyard.store.Store.check?"
    # a class named as an entry exists: the resolver's own hint stays
    spec = parse_options("t", {"entry": "shipyard.store.Store"})
    with pytest.raises(CodetraceError) as info:
        engine.trace(spec)
    assert explain_unresolved(engine, spec, info.value.diagnostic) == info.value.diagnostic
