"""What the Python resolver gives a walk beyond one call site: the receiver an instance was made with, dispatch
over overrides, implicit calls of with-statements, decorators that stand for the function, spawns."""

from __future__ import annotations

from helpers import run_trace

from sphinxext.codetrace.model import Resolution, StepKind


def test_a_dispatcher_reached_on_its_instance_calls_the_handlers_it_was_made_with() -> None:
    t = run_trace("shipyard.higher_order.Server.handle", depth="2")
    inside = [s for s in t.steps if s.caller.name == "shipyard.higher_order.Dispatcher.__call__"]
    dispatch = inside[0]
    assert dispatch.resolution is Resolution.CANDIDATES
    assert [c.name for c in dispatch.candidates] == [
        "shipyard.higher_order.Server.on_ping",
        "shipyard.higher_order.Server.on_save",
    ]
    # the construction in Server.__init__ is known: every handler the table can hold is listed
    assert "unknown" not in dispatch.note
    assert [s.candidate_of for s in inside[1:]] == [dispatch.n, dispatch.n]


def test_overrides_are_candidate_steps_walked_one_by_one() -> None:
    t = run_trace("shipyard.overrides.use", depth="2")
    put = t.steps[0]
    assert put.resolution is Resolution.CANDIDATES and put.callee.name == "shipyard.overrides.Backend.put"
    assert put.note == "overrides of shipyard.overrides.Backend.put"
    followers = [s for s in t.steps if s.candidate_of == put.n]
    assert [s.callee.name for s in followers] == [
        "shipyard.overrides.DiskBackend.put",
        "shipyard.overrides.MemoryBackend.put",
        "shipyard.remote.RemoteBackend.put",
    ]
    # Plugin.load only raises NotImplementedError: its one implementation is the certain callee
    certain = [s for s in t.steps if s.target == "shipyard.overrides.OnlyPlugin.load"]
    assert certain[0].resolution is Resolution.TYPED and not certain[0].candidates


def test_with_statements_show_enter_and_exit_and_hide_external_ones() -> None:
    t = run_trace("shipyard.dunders.with_statements", depth="1")
    assert [s.target for s in t.steps] == [
        "shipyard.dunders.Session",
        "shipyard.dunders.Session.__enter__",
        "shipyard.dunders.Session.query",
        "shipyard.dunders.Session.__exit__",
        "shipyard.dunders.Session",
        "shipyard.dunders.Session.__enter__",
        "shipyard.dunders.Session.__exit__",
        "threading.Lock",  # its __enter__/__exit__ are external plumbing: not drawn
    ]


def test_a_wraps_decorated_function_is_entered_as_itself() -> None:
    t = run_trace("shipyard.decorators_more.use", depth="2")
    first = t.steps[0]
    assert first.callee.name == "shipyard.decorators_more.handle" and first.entered
    assert t.steps[1].caller.name == "shipyard.decorators_more.handle"


def test_spawned_functions_are_spawn_steps() -> None:
    t = run_trace("shipyard.spawns.Worker.run", depth="1")
    spawned = [s.target for s in t.steps if s.kind is StepKind.SPAWN]
    assert spawned == [
        "shipyard.spawns.fetch",
        "shipyard.spawns.fetch",
        "shipyard.spawns.store_it",
        "shipyard.spawns.crunch",
        "shipyard.spawns.crunch",
        "shipyard.spawns.Worker.loop",
        "shipyard.store.Store.check",
    ]
