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


def test_a_wrapper_without_wraps_calls_the_function_it_was_applied_to() -> None:
    # the decorator factory's wrapper is defined in another module than the functions it decorates: on its
    # own `func(...)` could be anything; entered from a call of the decorated method it is that method
    t = run_trace("shipyard.wrapped.use", depth="3")
    wrapper = "shipyard.wrapping.timed.decorator.wrapper"
    first = t.steps[0]
    assert first.callee.name == wrapper and first.entered
    inside = [s for s in t.steps if s.caller.name == wrapper]
    func = [s for s in inside if s.site.line == 17]
    assert [s.target for s in func] == ["shipyard.wrapped.Sender.send"]
    assert func[0].entered and func[0].resolution is Resolution.DIRECT
    assert any(
        s.caller.name == "shipyard.wrapped.Sender.send" and s.target == "shipyard.store.Store.put" for s in t.steps
    )
    # a plain decorator applied in another module: the same
    inner = [s for s in t.steps if s.caller.name == "shipyard.wrapping.logged.inner"]
    assert [s.target for s in inner] == ["shipyard.wrapped.ping"]


def test_one_wrapper_made_for_several_overrides_calls_each_of_them() -> None:
    t = run_trace("shipyard.wrapped.use_base", depth="3")
    wrapper = "shipyard.wrapping.timed.decorator.wrapper"
    assert t.steps[0].callee.name == wrapper and t.steps[0].entered
    func = [s for s in t.steps if s.caller.name == wrapper and s.site.line == 17]
    assert func[0].resolution is Resolution.CANDIDATES
    assert [c.name for c in func[0].candidates] == [
        "shipyard.wrapped.CacheSender.send",
        "shipyard.wrapped.Sender.send",
    ]


def test_a_function_decorated_by_an_external_decorator_object_is_an_entry() -> None:
    # Quiet()'s __call__ is contextlib's: the decorated method stays itself
    t = run_trace("shipyard.wrapped.Sender.loop", depth="1")
    assert [s.target for s in t.steps] == ["shipyard.wrapped.Sender.step"]


def test_a_lazily_imported_class_is_constructed_through_the_proxy() -> None:
    # Store = LazyImport("shipyard.store", "Store"): calling it runs LazyImport.__call__, whose
    # `module(*args, **kwargs)` constructs the class the constructor's string constants name
    t = run_trace("shipyard.lazy.constructed", depth="2")
    call = t.steps[0]
    assert call.callee.name == "shipyard.lazy.LazyImport.__call__" and call.entered
    inside = [s.target for s in t.steps if s.caller.name == "shipyard.lazy.LazyImport.__call__"]
    assert inside == ["shipyard.lazy.LazyImport._load", "shipyard.store.Store"]
    assert [s.target for s in t.steps if s.depth == 1] == [
        "shipyard.lazy.LazyImport.__call__",
        "shipyard.store.Store.put",
        "shipyard.models.Tools.build",
    ]


def test_a_list_handed_on_to_helpers_in_another_module_keeps_its_elements() -> None:
    # poll_all and poll_each declare nothing: what they poll is what the walk's caller built
    t = run_trace("shipyard.caches.TransferQueue.pop_transferred")
    polls = [s for s in t.steps if s.caller.name == "shipyard.polling.poll_each"]
    assert [(s.target, s.resolution) for s in polls] == [("shipyard.caches.Receiver.poll", Resolution.TYPED)]


def test_a_helper_reached_again_with_other_classes_for_a_parameter_it_read_is_walked_again() -> None:
    t = run_trace("shipyard.caches.poll_both")
    summary = [(s.caller.name, s.target, s.entered) for s in t.steps if s.caller.module == "shipyard.polling"]
    assert summary == [
        ("shipyard.polling.poll_all", "shipyard.polling.poll_each", True),
        ("shipyard.polling.poll_each", "shipyard.caches.Sender.poll", True),
        ("shipyard.polling.poll_all", "shipyard.polling.poll_each", True),  # walked again: it polls receivers now
        ("shipyard.polling.poll_each", "shipyard.caches.Receiver.poll", False),  # polled in pop_transferred before
    ]
    again = [s for s in t.steps if s.target in ("shipyard.polling.poll_all", "shipyard.polling.poll_each")]
    assert [s.entered for s in again] == [True, True, True, True]
    assert not again[0].note and not again[1].note
    assert [s.note.split(" (")[0] for s in again[2:]] == ["expanded again for pollers: [Receiver]"] * 2
    assert "[Sender]" in again[2].note and "[Sender]" in again[3].note


def test_a_mixin_method_several_subclasses_inherit_runs_on_any_of_them() -> None:
    t = run_trace("shipyard.caches.Publisher.publish", depth="2")
    followers = [s for s in t.steps if s.candidate_of == 1]
    assert [s.callee.name for s in followers] == [
        "shipyard.caches.EventsMixin.take_events",
        "shipyard.caches.PrefixCache.take_events",
    ]
    # entered on a declared EventsMixin: self.flush_events() is each class it is mixed into
    inside = [s.target for s in t.steps if s.caller.name == "shipyard.caches.EventsMixin.take_events"]
    assert inside[1:] == ["shipyard.caches.FlatCache.flush_events", "shipyard.caches.TreeCache.flush_events"]
