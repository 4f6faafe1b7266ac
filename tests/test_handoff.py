"""Hand-offs that are not calls (queues, messages dispatched on their type) and the consumer loop a trace
resumes at, on tests/fixtures/msgrepo (a client and a server process talking over ZMQ) and the queue cases
of tests/fixtures/pyrepo (src/shipyard/queues.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import TESTS, make_workspace, run_trace
from test_render import NODE, check_activations, mermaid_parse, needs_node

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.model import Resolution, StepKind, Trace
from sphinxext.codetrace.render import flowchart, sequence_diagram
from sphinxext.codetrace.resolve.handoff import PyHandoffs, _dict_entry_names, _registration_names
from sphinxext.codetrace.resolve.python import PythonResolver, _class_base_names
from sphinxext.codetrace.workspace import RepoConfig

MSGREPO = TESTS / "fixtures" / "msgrepo"


@pytest.fixture(scope="module")
def workspace():
    return make_workspace(RepoConfig("m", MSGREPO))


def trace(entry: str, workspace, **options: str) -> Trace:
    return run_trace(entry, workspace, **options)


def rows(t: Trace) -> list[tuple[int, str, str, str, str]]:
    """(depth, kind, caller, callee or target, note) of every step, names without the package."""

    def short(name: str) -> str:
        return name.removeprefix("relay.")

    return [
        (s.depth, s.kind.value, short(s.caller.name), short(s.callee.name if s.callee else s.target), s.note)
        for s in t.steps
    ]


def test_send_of_a_typed_request_resumes_at_the_server_loop(workspace) -> None:
    """generate() builds a GenerateReq and sends it through helpers that only see ``obj: Any``: the walk's
    path says what it is, the server's TypeDispatcher table says who handles it, and the server's
    ``while True`` loop goes on to build and run the batch after dispatching."""
    t = trace("relay.client.Client.generate", workspace)
    assert rows(t) == [
        (1, "call", "client.Client.generate", "messages.GenerateReq", ""),
        (1, "call", "client.Client.generate", "client.Client._dispatch", ""),
        (2, "call", "client.Client._dispatch", "wire.send_request", ""),
        (3, "queue", "wire.send_request", "server.Server.handle_generate", ""),
        (
            3,
            "call",
            "server.Server.event_loop",
            "server.Server.process_input",
            "consumer loop: while True (line 33); also: Server.event_loop_overlap",
        ),
        (4, "call", "server.Server.process_input", "server.Server.handle_generate", "expanded at step 4"),
        (3, "call", "server.Server.event_loop", "server.Server.get_next_batch", ""),
        (4, "call", "server.Server.get_next_batch", "messages.Batch", ""),
        (3, "call", "server.Server.event_loop", "server.Server.run_batch", ""),
        (4, "call", "server.Server.run_batch", "server.Engine.forward", ""),
        (3, "call", "server.Server.event_loop", "server.Server.process_output", ""),
    ]
    queue = t.steps[3]
    assert (queue.resolution, queue.entered, queue.site.path, queue.site.line) == (
        Resolution.TYPED,
        True,
        "src/relay/wire.py",
        11,
    )
    loop = t.steps[4]
    assert (loop.site.path, loop.site.line, loop.entered) == ("src/relay/server.py", 35, False)
    assert [s.entered for s in t.steps[6:]] == [True, False, True, True, True]
    assert queue.to_json()["kind"] == "queue"


def test_subclass_message_reaches_its_base_handler(workspace) -> None:
    t = trace("relay.client.Client.urgent", workspace)
    queue = next(s for s in t.steps if s.kind is StepKind.QUEUE)
    assert queue.callee is not None and queue.callee.name == "relay.server.Server.handle_generate"


@pytest.mark.parametrize(
    ("entry", "handler"),
    [
        ("relay.client.Client.embed", "relay.server.Server.handle_embed"),  # send_pyobj(EmbedReq(...))
        ("relay.client.Client.abort", "relay.server.Server.abort"),  # send(pickle.dumps(AbortReq(...)))
    ],
)
def test_direct_and_pickled_sends(workspace, entry: str, handler: str) -> None:
    t = trace(entry, workspace)
    (queue,) = [s for s in t.steps if s.kind is StepKind.QUEUE]
    assert queue.callee is not None and queue.callee.name == handler
    assert any(s.note.startswith("consumer loop: while True") for s in t.steps)


def test_dict_table_run_in_the_loop_itself(workspace) -> None:
    """``self.handlers[type(msg)](msg)`` inside ``while not self.stopped``: the loop is the dispatcher."""
    t = trace("relay.client.Client.status", workspace)
    assert rows(t)[1:] == [
        (1, "queue", "client.Client.status", "control.ControlServer.report_status", ""),
        (
            1,
            "call",
            "control.ControlServer.serve_forever",
            "control.ControlServer.report_status",
            "consumer loop: while not self.stopped (line 19)",
        ),
        (1, "call", "control.ControlServer.serve_forever", "control.ControlServer.heartbeat", ""),
    ]


def test_isinstance_chain_in_a_module_function(workspace) -> None:
    """``if isinstance(msg, ShutdownReq): shutdown(msg)`` in handle_admin, driven by ``for .. in iter(..)``."""
    t = trace("relay.client.Client.shutdown", workspace)
    assert rows(t)[1:] == [
        (1, "queue", "client.Client.shutdown", "control.shutdown", ""),
        (
            1,
            "call",
            "control.admin_loop",
            "control.handle_admin",
            "consumer loop: for msg in iter(sock.recv_pyobj, None) (line 46)",
        ),
        (2, "call", "control.handle_admin", "control.shutdown", "expanded at step 2"),
        (1, "call", "control.admin_loop", "control.log_done", ""),
    ]


def test_match_on_the_message_class(workspace) -> None:
    t = trace("relay.client.Client.ping", workspace)
    assert rows(t)[1:] == [
        (1, "queue", "client.Client.ping", "control.pong", ""),
        (1, "await", "control.ping_loop", "control.pong", "consumer loop: while True (line 56)"),
        (1, "call", "control.ping_loop", "control.flush_metrics", ""),
    ]


def test_message_of_unknown_type_stays_an_external_send(workspace) -> None:
    t = trace("relay.client.Client.forward", workspace)
    ((_, kind, _, target, _),) = rows(t)
    assert (kind, target) == ("call", "zmq.Context().socket().send_pyobj")
    assert t.steps[0].resolution is Resolution.EXTERNAL


def test_a_process_does_not_send_itself_messages(workspace) -> None:
    """Server.reject sends an AbortReq out through its socket; the only receiver of AbortReq is the server's
    own ``abort`` (a class on the walk's path): that is not where the message goes."""
    t = trace("relay.server.Server.reject", workspace)
    assert [(s.kind.value, s.target) for s in t.steps] == [
        ("call", "relay.messages.AbortReq"),
        ("call", "zmq.Context().socket().send_pyobj"),
    ]


def test_several_types_give_candidates_and_one_loop(workspace) -> None:
    """``obj: GenerateReq | EmbedReq``: one candidate per handler, each walked; the loop that drives both is
    shown once, with a last link to each."""
    t = trace("relay.client.Client.send_either", workspace)
    dispatch = t.steps[0]
    assert (dispatch.kind, dispatch.resolution, dispatch.target) == (
        StepKind.QUEUE,
        Resolution.CANDIDATES,
        "zmq.Context().socket().send_pyobj",
    )
    assert [c.name for c in dispatch.candidates] == [
        "relay.server.Server.handle_embed",
        "relay.server.Server.handle_generate",
    ]
    assert dispatch.note == "2 consumers: handler of EmbedReq, GenerateReq"
    assert [(s.depth, s.callee.name, s.note) for s in t.steps[3:6] if s.callee] == [
        (
            1,
            "relay.server.Server.process_input",
            "consumer loop: while True (line 33); also: Server.event_loop_overlap",
        ),
        (2, "relay.server.Server.handle_embed", "expanded at step 2"),
        (2, "relay.server.Server.handle_generate", "expanded at step 3"),
    ]
    assert [s.callee.name for s in t.steps[6:] if s.depth == 1] == [
        "relay.server.Server.get_next_batch",
        "relay.server.Server.run_batch",
        "relay.server.Server.process_output",
    ]


def test_a_loop_met_again_is_named_not_walked_twice(workspace) -> None:
    t = trace("relay.client.Client.generate_then_embed", workspace)
    loops = [s for s in t.steps if s.note.startswith("consumer loop")]
    assert [s.n for s in loops] == [6, 16]
    assert loops[1].note.endswith("; resumed at step 6")
    assert [s.callee.name for s in t.steps[loops[1].n :]] == ["relay.server.Server.handle_embed"]


def test_no_resume_when_the_consumer_is_not_entered(workspace) -> None:
    t = trace("relay.client.Client.generate", workspace, stop_at="Server.handle_generate")
    assert not any(s.note.startswith("consumer loop") for s in t.steps)
    assert t.steps[-1].note == "stop" and t.steps[-1].kind is StepKind.QUEUE


def test_depth_and_max_steps_bound_the_resumed_loop(workspace) -> None:
    """The loop's calls sit at the hand-off's depth: ``:depth:`` counts across the hand-off."""
    flat = trace("relay.client.Client.embed", workspace, depth="1")
    assert [(s.kind.value, s.entered, s.note) for s in flat.steps][-1] == ("queue", False, "depth limit")
    assert not any(s.note.startswith("consumer loop") for s in flat.steps)
    shallow = trace("relay.client.Client.embed", workspace, depth="2")
    assert [(s.depth, s.callee.name, s.entered, s.note) for s in shallow.steps][-3:] == [
        (1, "relay.server.Server.run_batch", True, ""),
        (2, "relay.server.Engine.forward", False, "depth limit"),
        (1, "relay.server.Server.process_output", True, ""),
    ]
    short = trace("relay.client.Client.generate", workspace, max_steps="6")
    assert short.truncated and len(short.steps) == 6


def test_trace_is_deterministic(workspace) -> None:
    first = json.dumps(trace("relay.client.Client.send_either", workspace).to_json())
    again = json.dumps(trace("relay.client.Client.send_either", make_workspace(RepoConfig("m", MSGREPO))).to_json())
    assert first == again


def test_receivers_found_from_text_then_parsed(workspace) -> None:
    """The receiver lookup reads the workspace as text and parses only files with a registration pattern."""
    index = Index(workspace)
    python = PythonResolver(workspace, index)
    handoffs = PyHandoffs(workspace, python)
    assert handoffs._files_mentioning("GenerateReq") == [("m", "src/relay/server.py")]
    assert handoffs._files_mentioning("FlushReq") == [("m", "src/relay/control.py")]
    facts = python.facts_of("m", "src/relay/messages.py")
    cls = next(d for d in facts.definitions if d.qualname == "FlushReq")
    from sphinxext.codetrace.resolve.pyvalues import PySymbol

    flush = PySymbol("m", "src/relay/messages.py", "relay.messages", cls)
    # the dict registers FlushReq; the isinstance branch only calls a method of the message: not a handler
    assert [r.handler.qualname for r in handoffs._handlers_for(flush)] == ["relay.control.ControlServer.flush"]
    assert index.parsed <= 3  # messages, control, and the module a registration's names come from


@needs_node
def test_consumer_loop_diagram_parses(workspace) -> None:
    t = trace("relay.client.Client.generate", workspace)
    seq = sequence_diagram(t)
    lines = seq.splitlines()
    start = lines.index("    loop consumer loop Server.event_loop")
    assert lines[start - 1].endswith("-)p5: queue handle_generate(req: GenerateReq)")
    end = lines.index("    end", start)
    inside, after = "\n".join(lines[start:end]), "\n".join(lines[end:])
    assert "p5->>+p5: process_output(out: list[str])" in inside  # the loop's later calls sit in the block
    assert "p5->>" not in after and "p4-->>-p2: None" in after  # the sender's return comes after it
    check_activations(seq)
    results = mermaid_parse([seq, flowchart(t), sequence_diagram(trace("relay.client.Client.status", workspace))])
    assert all(r["ok"] for r in results), results


# -- in-process queues (tests/fixtures/pyrepo) -------------------------------------------------------------------


def test_thread_queue_resumes_at_the_thread_run_method() -> None:
    t = run_trace("shipyard.queues.Batcher.add")
    assert [(s.depth, s.kind.value, s.callee.name if s.callee else s.target, s.note) for s in t.steps] == [
        (1, "queue", "shipyard.queues.Batcher.take", ""),
        (2, "call", "queue.Queue.get", ""),
        (1, "call", "shipyard.queues.Batcher.take", "consumer loop: thread run (line 81)"),
        (1, "call", "shipyard.queues.Job.run", ""),
        (1, "call", "shipyard.queues.Batcher.commit", ""),
    ]
    assert t.steps[2].caller.name == "shipyard.queues.Batcher.run"


def test_consumer_with_its_own_loop_needs_no_resumption() -> None:
    """Pipeline.consume's ``while True`` holds the get: walking it already shows the loop."""
    t = run_trace("shipyard.queues.Pipeline.submit")
    queues = [(s.depth, s.callee.name if s.callee else s.note) for s in t.steps if s.kind is StepKind.QUEUE]
    assert queues == [
        (1, "shipyard.queues.Pipeline.consume"),
        (3, "2 consumers: queue self.results"),  # Pipeline.execute puts its results for two readers
        (3, "shipyard.queues.Pipeline.collect_all"),
        (3, "shipyard.queues.Pipeline.collect_one"),
        (1, "shipyard.queues.Pipeline.drain"),
    ]
    assert not any(s.note.startswith("consumer loop") for s in t.steps)


def test_local_queue_handed_to_a_spawned_worker() -> None:
    t = run_trace("shipyard.queues.fan_out")
    kinds = [(s.kind.value, s.callee.name, s.note) for s in t.steps if s.callee and s.depth == 1]
    assert kinds[:2] == [
        ("spawn", "shipyard.queues.worker", ""),
        ("queue", "shipyard.queues.worker", "expanded at step 2"),
    ]


def test_handoffs_leave_rust_and_plain_calls_alone(tmp_path: Path) -> None:
    """The hook answers only for Python symbols and external calls; everything else passes through."""
    from helpers import fixture_workspace

    from sphinxext.codetrace.model import CallSite
    from sphinxext.codetrace.resolve import Outcome

    workspace = fixture_workspace()
    handoffs = PyHandoffs(workspace, PythonResolver(workspace, Index(workspace)))
    plain = Outcome(Resolution.EXTERNAL, "q.put")
    call = CallSite("f", 1, 0, ("q", "put"), "q.put")
    assert handoffs.handoff(object(), call, None, plain, []) is plain
    assert handoffs.consumer_loops(object(), call, []) == []


# -- a send helper walked again for another message class (issue 9, gap 5) --------------------------------------


def test_a_send_helper_is_walked_again_for_each_message_class(workspace) -> None:
    """``_dispatch(obj: Any) -> send_request(sock, obj)`` is walked first with an AbortReq: the walk into it
    read the message's class from what its caller passed. Called later with a GenerateReq, it is walked again
    (the note says why) and the message reaches its own handler; a third call with an AbortReq again names the
    first walk."""
    t = trace("relay.client.Client.abort_then_generate", workspace)
    queues = [(s.n, s.callee.name) for s in t.steps if s.kind is StepKind.QUEUE]
    assert queues == [(4, "relay.server.Server.abort"), (16, "relay.server.Server.handle_generate")]
    again = "expanded again for obj: GenerateReq (before: AbortReq)"
    assert [(s.n, s.depth, s.callee.name, s.entered, s.note) for s in t.steps if s.n in (2, 3, 14, 15, 20)] == [
        (2, 1, "relay.client.Client._dispatch", True, ""),
        (3, 2, "relay.wire.send_request", True, ""),
        (14, 2, "relay.client.Client._dispatch", True, again),
        (15, 3, "relay.wire.send_request", True, again),
        (20, 1, "relay.client.Client._dispatch", False, "expanded at step 2"),
    ]
    assert t.steps[-1].n == 20  # nothing walked twice for the same class


def test_walks_again_are_bounded(workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from sphinxext.codetrace import trace as trace_module

    monkeypatch.setattr(trace_module, "MAX_EXPANSIONS", 1)
    t = trace("relay.client.Client.abort_then_generate", workspace)
    assert [s.callee.name for s in t.steps if s.kind is StepKind.QUEUE] == ["relay.server.Server.abort"]
    dispatch = next(s for s in t.steps if s.n > 12 and s.callee and s.callee.name.endswith("_dispatch"))
    assert (dispatch.entered, dispatch.note) == (False, "expanded at step 2")


# -- a queue class of the workspace (issue 9, gap 15) ------------------------------------------------------------


def test_workspace_queue_class_put_is_a_call_and_a_queue_step() -> None:
    """``self.queues[shard].put(chunk)`` calls FastQueue.put (its own deque is not a hand-off of its own),
    and a queue step beside it goes to the thread fed that shard (``Thread(target=self.transfer_worker,
    args=(queue, i))`` in a ``for .. in enumerate(zip(self.queues, ...))``), not to the one fed the replies;
    ``self.inbox.put`` goes to the method that gets from ``self.inbox``; a Cache's ``put(key, value)`` is no
    queue."""
    t = run_trace("shipyard.shards.Manager.add")
    assert [(s.n, s.depth, s.kind.value, s.callee.name if s.callee else s.target, s.site.line) for s in t.steps] == [
        (1, 1, "call", "shipyard.shards.FastQueue.put", 60),
        (2, 2, "call", "collections.deque().append", 18),
        (3, 2, "call", "threading.Condition().notify", 19),
        (4, 1, "queue", "shipyard.shards.Manager.transfer_worker", 60),
        (5, 2, "call", "shipyard.shards.FastQueue.get", 68),
        (6, 3, "call", "threading.Condition().wait", 24),
        (7, 3, "call", "collections.deque().popleft", 25),
        (8, 2, "call", "collections.deque().popleft().send", 69),
        (9, 1, "call", "shipyard.shards.FastQueue.put", 62),
        (10, 2, "call", "collections.deque().append", 18),
        (11, 2, "call", "threading.Condition().notify", 19),
        (12, 1, "queue", "shipyard.shards.Manager.drain", 62),
        (13, 2, "call", "shipyard.shards.FastQueue.get", 77),
        (14, 3, "call", "threading.Condition().wait", 24),
        (15, 3, "call", "collections.deque().popleft", 25),
        (16, 2, "call", "collections.deque().popleft().send", 77),
        (17, 1, "call", "shipyard.shards.Cache.put", 64),
    ]
    assert (t.steps[3].resolution, t.steps[3].note, t.steps[3].entered) == (Resolution.TYPED, "", True)
    assert not any(s.note.startswith("consumer loop") for s in t.steps)  # each consumer's loop holds its get


def test_workspace_queue_classes_are_told_by_their_methods() -> None:
    from helpers import REPO_NAME, fixture_workspace

    from sphinxext.codetrace.resolve.pyvalues import PySymbol

    workspace = fixture_workspace()
    python = PythonResolver(workspace, Index(workspace))
    handoffs = PyHandoffs(workspace, python)
    facts = python.facts_of(REPO_NAME, "src/shipyard/shards.py")

    def cls(name: str) -> PySymbol:
        return PySymbol(
            REPO_NAME, "src/shipyard/shards.py", facts.module, next(d for d in facts.definitions if d.qualname == name)
        )

    assert handoffs._queue_gets(cls("FastQueue")) == frozenset({"get"})
    assert handoffs._queue_gets(cls("Cache")) == frozenset()  # get(key): a store
    assert handoffs._queue_gets(cls("Manager")) == frozenset()


def test_a_union_with_one_builtin_alternative_is_still_shown() -> None:
    """``target: tuple[...] | queue.Queue``: ``target.put`` may be a real call; the builtin alternative does not
    make it plumbing to leave out (a value passed down the walk is often such a union: a helper returning a
    socket or a (port, socket) pair)."""
    t = run_trace("shipyard.queues.post")
    assert [(s.target, s.resolution) for s in t.steps] == [
        ("builtins.tuple.put | queue.Queue.put", Resolution.EXTERNAL)
    ]


def test_a_bound_method_handed_as_a_value_reads_its_message_from_the_call(workspace) -> None:
    """``guard(self._dispatch)`` calls ``dispatch(EmbedReq(...))``: the bound method's ``obj`` is that first
    argument (``self`` is bound already), so the message goes to the EmbedReq handler only, not to the
    handlers of what other callers of ``_dispatch`` pass."""
    t = trace("relay.client.Client.guarded", workspace)
    assert [(s.callee.name, s.resolution) for s in t.steps if s.kind is StepKind.QUEUE] == [
        ("relay.server.Server.handle_embed", Resolution.TYPED)
    ]


def test_paths_only_keeps_the_hand_offs_whose_consumer_loop_reaches_the_stop_point(workspace) -> None:
    """The loop the walk resumed at sits beside the hand-off: its later calls reach ``Engine.forward``, so the
    ``queue`` step that led there and the loop's first step stay (the consumer's own calls, off the path, are
    left out); a loop met again (``resumed at step N``) keeps the hand-off that led to it, renumbered."""
    t = trace(
        "relay.client.Client.abort_then_generate", workspace, stop_at="relay.server.Engine.forward", paths_only=""
    )
    assert [(s.n, s.depth, s.kind.value, s.callee.name.removeprefix("relay."), s.entered, s.note) for s in t.steps] == [
        (1, 1, "call", "messages.AbortReq", False, ""),  # the message: its value is what the path sends
        (2, 1, "call", "client.Client._dispatch", True, ""),
        (3, 2, "call", "wire.send_request", True, ""),
        (4, 3, "queue", "server.Server.abort", False, "its calls are off the path"),
        (5, 3, "call", "server.Server.process_input", False, LOOP),
        (6, 4, "call", "server.Server.abort", False, "expanded off the path"),
        (7, 3, "call", "server.Server.get_next_batch", False, FED),  # batch = ...; run_batch(batch)
        (8, 3, "call", "server.Server.run_batch", True, ""),
        (9, 4, "call", "server.Engine.forward", False, "stop"),
        (10, 1, "call", "client.Client.generate", True, ""),
        (11, 2, "call", "messages.GenerateReq", False, ""),
        (12, 2, "call", "client.Client._dispatch", True, AGAIN),
        (13, 3, "call", "wire.send_request", True, AGAIN),
        (14, 4, "queue", "server.Server.handle_generate", False, "its calls are off the path"),
        (15, 4, "call", "server.Server.process_input", False, LOOP + "; resumed at step 5"),
        (16, 5, "call", "server.Server.handle_generate", False, "expanded off the path"),
        (17, 1, "call", "messages.AbortReq", False, ""),
        (18, 1, "call", "client.Client._dispatch", False, "expanded at step 2"),
    ]
    if NODE is not None:
        seq = sequence_diagram(t)
        check_activations(seq)
        assert all(r["ok"] for r in mermaid_parse([seq, flowchart(t)]))


LOOP = "consumer loop: while True (line 33); also: Server.event_loop_overlap"
AGAIN = "expanded again for obj: GenerateReq (before: AbortReq)"
FED = "its value is used on the path"


# -- the text pre-filters: faster searches, the same names ------------------------------------------------------

_REFERENCE_REGISTRATIONS = (  # what the pre-filter finds, written the plain way
    re.compile(r"\(\s*(?:\w+\.)*([A-Z]\w*)\s*,\s*(?:self\.|cls\.|lambda\b|[A-Za-z_][\w.]*\s*\))"),
    re.compile(r"[{,]\s*(?:\w+\.)*([A-Z]\w*)\s*:\s*(?:self\.|cls\.|lambda\b|[A-Za-z_][\w.]*\s*[,}])"),
    re.compile(r"^[ \t]*case\s+(?:\w+\.)*([A-Z]\w*)\s*\(", re.M),
)
_REFERENCE_CLASS_HEADER = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)\)", re.M)


def _reference_registration_names(text: str) -> set[str]:
    names = {m.group(1) for pattern in _REFERENCE_REGISTRATIONS for m in pattern.finditer(text)}
    for m in re.finditer(r"isinstance\(\s*[\w.]+\s*,\s*\(?([\w.\s,]*)", text):
        names.update(re.findall(r"[A-Z]\w*", m.group(1)))
    return names


def _reference_class_base_names(text: str) -> set[str]:
    return {n for m in _REFERENCE_CLASS_HEADER.finditer(text) for n in re.findall(r"[A-Za-z_]\w*", m.group(1))}


TEXTS = [
    "{A: b, C: d, E: f}",  # each match takes the comma the next entry starts with
    "{ Foo : self.x }\ncase Bar(x):\n    case baz.Qux (",
    "x = {a.B: lambda: 1, C:D, (E): f}\n(F, self.g)\n(H, i)",
    ",Foo:\nbar,\n{Ä: ö, Éa: b}\n:A:b,\n{x.A.B: y}",
    "case Top(\nclass A(B, c.D):\n  class E(\n  F,\n  G):\nclass H:\n",
    "lowercase Foo(\nxcase\n  case Bar(\r\ncase Baz(",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_prefilters_find_what_the_plain_patterns_find(text: str) -> None:
    assert _registration_names(text) == _reference_registration_names(text)
    assert _class_base_names(text) == _reference_class_base_names(text)
    assert _dict_entry_names(text) == [m.group(1) for m in _REFERENCE_REGISTRATIONS[1].finditer(text)]


def test_text_prefilters_on_this_repository() -> None:
    sources = sorted((TESTS.parent / "sphinxext").rglob("*.py")) + sorted((TESTS / "fixtures").rglob("*.py"))
    found = 0
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert _registration_names(text) == _reference_registration_names(text), path
        assert _class_base_names(text) == _reference_class_base_names(text), path
        found += len(_class_base_names(text))
    assert found > 20


hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{},:()ABab._ \t\n\rcaseslf", max_size=60))
def test_text_prefilters_agree_on_any_text(text: str) -> None:
    assert _dict_entry_names(text) == [m.group(1) for m in _REFERENCE_REGISTRATIONS[1].finditer(text)]
    assert _registration_names(text) == _reference_registration_names(text)
    assert _class_base_names(text) == _reference_class_base_names(text)


@pytest.mark.parametrize(
    "source",
    [
        "while not self.stopped:\n    x = (a +\n  b)\n",
        "a = (1 +\r\n 2)\r\nwhile f(\r 'x'):\r  pass",
        "x = 'é' + g(\n 'ü', [k for k in ys])  # ünïcode\nfor v in iter(q.get, None): pass\n",
        "x = 1\n\x0cy = (2,\n 3)",
    ],
)
def test_source_segments_match_the_standard_library(source: str) -> None:
    import ast

    from sphinxext.codetrace.resolve.handoff import _segment, _split_lines

    lines = _split_lines(source)
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.expr, ast.stmt))]
    assert nodes
    for node in nodes:
        assert _segment(lines, node) == ast.get_source_segment(source, node)
