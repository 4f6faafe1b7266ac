"""Declared bridges (``:bridge: A -> B (label)``) and ``:paths-only:``, on the relay fixture
(tests/fixtures/relayrepo: a client and a service linked only by HTTP) and on small hand-made traces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import TESTS, make_workspace, run_trace
from test_render import check_lines, decode, loc, mermaid_parse, needs_node
from test_rust_corpus import RUSTREPO
from test_trace import check_tree

from sphinxext.codetrace.cli import main
from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.docs_scan import scan_markdown
from sphinxext.codetrace.model import Lang, Resolution, Site, Step, StepKind, Trace
from sphinxext.codetrace.paths import keep_paths, on_paths, paths_only
from sphinxext.codetrace.render import flowchart, sequence_diagram, step_rows
from sphinxext.codetrace.spec import OPTIONS, Bridge, parse_bridges, parse_options
from sphinxext.codetrace.workspace import RepoConfig

RELAYREPO = TESTS / "fixtures" / "relayrepo"
HTTP = "urllib.request.urlopen -> relay.server.Server.handle (HTTP POST /generate)"
STOP = "relay.store.read_disk"
FAR = "its far side reaches no stop point"


@pytest.fixture(scope="module")
def workspace():
    return make_workspace(RepoConfig("relay", RELAYREPO))


def trace(workspace, entry: str = "relay.client.ask", **options: str) -> Trace:
    return run_trace(entry, workspace, **options)


def rows(t: Trace) -> list[tuple]:
    """The walk's decisions per step (a dispatch step's note, the resolver's wording, as its candidate count)."""
    return [
        (
            s.n,
            s.depth,
            s.caller.name,
            s.callee.name if s.callee else s.target,
            s.kind.value,
            s.entered,
            f"{len(s.candidates)} candidates" if s.candidates else s.note,
        )
        for s in t.steps
    ]


def bridge_steps(t: Trace) -> list[Step]:
    return [s for s in t.steps if s.kind is StepKind.BRIDGE]


def client_line(text: str) -> int:
    lines = (RELAYREPO / "src/relay/client.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


# -- the spec ------------------------------------------------------------------------------------------------------


def test_options_are_documented() -> None:
    assert "bridge" in OPTIONS and "paths-only" in OPTIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b -> c.d (HTTP)", [("a.b", "c.d", "HTTP")]),
        ("a.b->c.d", [("a.b", "c.d", "")]),
        ("a -> b (x)\n   c -> d", [("a", "b", "x"), ("c", "d", "")]),
        ("a -> b (x); c -> d (y)", [("a", "b", "x"), ("c", "d", "y")]),
        ("a -> b (x) c -> d (y)", [("a", "b", "x"), ("c", "d", "y")]),  # what MyST's YAML folding makes of it
        ("a -> b (gRPC (v2)   stream)", [("a", "b", "gRPC (v2) stream")]),
        ("a -> b (x)\na -> b (x)", [("a", "b", "x")]),  # duplicates dropped
        (
            "src/c.py::Client.send -> back:crate::server::Server::handle (bus)",
            [("src/c.py::Client.send", "back:crate::server::Server::handle", "bus")],
        ),
        ("", []),
    ],
)
def test_parse_bridges(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert parse_bridges(text) == tuple(Bridge(*b) for b in expected)
    assert parse_options("T", {"entry": "p.f", "bridge": text}).bridges == tuple(Bridge(*b) for b in expected)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a b", "has no '->'"),
        ("a ->", "cannot read 'a ->'"),
        ("-> b", "cannot read '-> b'"),
        ("a -> b (x", "'(x' is not a bridge"),
        ("a -> b c", "'c' is not a bridge"),
        ("a -> b -> c", "'-> c' is not a bridge"),
        ("a -> b (x)y", "cannot read"),
    ],
)
def test_bad_bridges_are_spec_errors_with_the_form(text: str, says: str) -> None:
    with pytest.raises(CodetraceError) as info:
        parse_options("T", {"entry": "p.f", "bridge": text})
    diagnostic = info.value.diagnostic
    assert diagnostic.subtype == "spec" and diagnostic.message.startswith(":bridge: ")
    assert says in diagnostic.message
    assert "A -> B (label)" in diagnostic.hint


@pytest.mark.parametrize(("value", "mode"), [(None, ""), ("", ""), ("  ", ""), ("+1", "+1"), (" + 1 ", "+1")])
def test_paths_only_values(value, mode: str) -> None:
    spec = parse_options("T", {"entry": "p.f", "stop-at": "p.g", "paths-only": value})
    assert spec.paths_only == mode
    assert parse_options("T", {"entry": "p.f", "stop-at": "p.g"}).paths_only is None


def test_paths_only_needs_stop_at_and_a_known_value() -> None:
    with pytest.raises(CodetraceError) as info:
        parse_options("T", {"entry": "p.f", "paths-only": ""})
    assert info.value.diagnostic.subtype == "spec"
    assert ":paths-only: needs :stop-at:" in info.value.diagnostic.message
    assert ":stop-at:" in info.value.diagnostic.hint
    with pytest.raises(CodetraceError) as info:
        parse_options("T", {"entry": "p.f", "stop-at": "p.g", "paths-only": "+2"})
    assert "'+2'" in info.value.diagnostic.message and "+1" in info.value.diagnostic.hint


# -- bridges in the walk -------------------------------------------------------------------------------------------

FULL = [
    (1, 1, "relay.client.ask", "relay.client.log", "call", True, ""),
    (2, 1, "relay.client.ask", "relay.client.Client.__init__", "call", True, ""),
    (3, 1, "relay.client.ask", "relay.client.Client.generate", "call", True, ""),
    (4, 2, "relay.client.Client.generate", "relay.codec.encode", "call", True, ""),
    (5, 2, "relay.client.Client.generate", "relay.client.Client._post", "call", True, ""),
    (6, 3, "relay.client.Client._post", "urllib.request.urlopen", "call", False, ""),
    (7, 3, "relay.client.Client._post", "relay.server.Server.handle", "bridge", True, ""),
    (8, 4, "relay.server.Server.handle", "relay.codec.decode", "call", True, ""),
    (9, 4, "relay.server.Server.handle", "relay.server.check", "call", True, ""),
    (10, 5, "relay.server.check", 'ValueError("empty prompt")', "raise", False, ""),
    (11, 4, "relay.server.Server.handle", "relay.server.audit", "call", True, ""),
    (12, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", True, ""),
    (13, 5, "relay.store.Store.lookup", "relay.store.Store._touch", "call", True, ""),
    (14, 5, "relay.store.Store.lookup", "relay.store.Backend.fetch", "call", False, "2 candidates"),
    (15, 5, "relay.store.Store.lookup", "relay.store.DiskBackend.fetch", "call", True, ""),
    (16, 6, "relay.store.DiskBackend.fetch", "relay.store.read_disk", "call", False, "stop"),
    (17, 5, "relay.store.Store.lookup", "relay.store.MemoryBackend.fetch", "call", True, ""),
    (18, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", False, "expanded at step 12"),
    (19, 3, "relay.client.Client._post", "urllib.request.urlopen().read", "call", False, ""),
]


def test_a_bridge_from_an_external_call_continues_the_walk_in_its_target(workspace) -> None:
    t = trace(workspace, bridge=HTTP, stop_at=STOP)
    assert rows(t) == FULL
    check_tree(t)
    (bridge,) = bridge_steps(t)
    assert bridge.resolution is Resolution.BRIDGE and bridge.label == "HTTP POST /generate"
    # it leaves from the function that made the call, at the call's line, right after the call's own step
    assert bridge.site == Site("relay", "src/relay/client.py", client_line("urllib.request.urlopen("))
    assert bridge.callee.path == "src/relay/server.py" and bridge.signature.args_text() == "body: bytes"
    assert t.warnings == ()
    data = t.to_json()
    assert data["steps"][6]["label"] == "HTTP POST /generate" and data["steps"][6]["kind"] == "bridge"
    assert data["steps"][6]["resolution"] == "bridge"
    assert all("label" not in s for i, s in enumerate(data["steps"]) if i != 6)


def test_without_the_bridge_the_service_side_is_not_reached(workspace) -> None:
    t = trace(workspace, stop_at=STOP)
    assert [r[3] for r in rows(t)] == [r[3] for r in FULL if r[0] in (1, 2, 3, 4, 5, 6, 19)]
    assert t.warnings == () and bridge_steps(t) == []


def test_a_bridge_from_an_entered_function_leaves_after_its_calls(workspace) -> None:
    t = trace(workspace, bridge=f"{HTTP}\nrelay.server.audit -> relay.codec.decode (audit log)")
    audit = next(s for s in t.steps if s.callee is not None and s.callee.name == "relay.server.audit")
    own = []  # audit's own calls, then the bridge one level deeper, from audit
    for s in t.steps[audit.n :]:
        if s.depth <= audit.depth:
            break
        own.append(s)
    assert own[-1].kind is StepKind.BRIDGE and own[-1].depth == audit.depth + 1
    assert own[-1].caller.name == "relay.server.audit" and own[-1].label == "audit log"
    assert own[-1].site == Site("relay", audit.callee.path, audit.callee.line)
    assert own[-1].note == "expanded at step 8" and not own[-1].entered  # decode was walked at step 8
    check_tree(t)


def test_each_bridge_fires_once(workspace) -> None:
    # Store.lookup is reached twice (entered, then "expanded at"): the bridge leaves after the first only
    t = trace(workspace, bridge=f"{HTTP}\nStore.lookup -> relay.client.log (metrics)")
    metrics = [s for s in bridge_steps(t) if s.label == "metrics"]
    assert len(metrics) == 1 and metrics[0].caller.name == "relay.store.Store.lookup"
    assert metrics[0].note == "expanded at step 1"


def test_two_bridges_from_one_call_fan_out(workspace) -> None:
    t = trace(workspace, bridge=f"{HTTP}\nurllib.request.urlopen -> relay.server.audit (mirror)")
    labels = [(s.label, s.callee.name) for s in bridge_steps(t)]
    assert labels == [("HTTP POST /generate", "relay.server.Server.handle"), ("mirror", "relay.server.audit")]
    assert bridge_steps(t)[1].note == "expanded at step 11"


def test_the_entry_itself_as_a_source_through_a_reexport(workspace) -> None:
    # relay.ask is relay.client.ask, re-exported: the source is matched by the definition it names
    t = trace(workspace, bridge="relay.ask -> relay.server.audit (afterwards)", depth="2")
    last = t.steps[-1]
    assert last.kind is StepKind.BRIDGE and last.depth == 1 and last.caller.name == "relay.client.ask"
    assert last.entered and last.label == "afterwards" and t.warnings == ()
    check_tree(t)


def test_stop_rules_apply_to_the_target(workspace) -> None:
    stopped = trace(workspace, bridge=HTTP, stop_at="relay.server.Server.handle")
    (bridge,) = bridge_steps(stopped)
    assert bridge.note == "stop" and not bridge.entered and bridge.label == "HTTP POST /generate"
    assert stopped.stops == ("relay.server.Server.handle",)
    shallow = trace(workspace, bridge=HTTP, depth="3")  # the bridge is at depth 3: one more level is the limit
    (bridge,) = bridge_steps(shallow)
    assert bridge.depth == 3 and bridge.note == "depth limit" and not bridge.entered
    excluded = trace(workspace, bridge=HTTP, exclude="relay.server")
    assert bridge_steps(excluded)[0].note == "excluded"


def test_a_bridge_into_rust(workspace) -> None:
    ws = make_workspace(RepoConfig("relay", RELAYREPO), RepoConfig("rx", RUSTREPO))
    t = trace(ws, bridge="urllib.request.urlopen -> rx:crate::store::open_default (FFI)")
    (bridge,) = bridge_steps(t)
    assert bridge.callee.lang is Lang.RUST and bridge.callee.repo == "rx" and bridge.entered
    inside = [s for s in t.steps[bridge.n :] if s.depth > bridge.depth]
    assert inside and all(s.caller.lang is Lang.RUST for s in inside if s.depth == bridge.depth + 1)
    check_tree(t)


def test_bridge_ends_that_do_not_resolve_are_warnings(workspace) -> None:
    t = trace(
        workspace,
        bridge="\n".join(
            [
                "urllib.request.urlopen -> relay.server.Server.handel (HTTP)",
                "relay:src/relay/client.py::Client.nowhere -> relay.server.audit",
                "urllib.request.urlopen -> crate::nowhere::at_all",
            ]
        ),
    )
    assert bridge_steps(t) == []  # the trace is made without them
    assert [w.subtype for w in t.warnings] == ["unresolved"] * 3
    target, source, rust = t.warnings
    assert target.message.startswith("bridge urllib.request.urlopen -> relay.server.Server.handel (HTTP): its target")
    assert "'relay.server.Server.handel' does not resolve" in target.message
    assert "did you mean: Server.handle" in target.hint
    assert "its source 'relay:src/relay/client.py::Client.nowhere' does not resolve" in source.message
    assert "Client.generate" in source.hint
    assert "its target 'crate::nowhere::at_all' does not resolve" in rust.message


def test_a_bridge_never_reached_is_a_drift_warning(workspace) -> None:
    t = trace(workspace, bridge="relay.client.never_called -> relay.server.audit (x)")
    (warning,) = t.warnings
    assert warning.subtype == "drift"
    assert warning.message == (
        "bridge relay.client.never_called -> relay.server.audit (x) was never reached: no step of the trace "
        "calls or enters 'relay.client.never_called'"
    )
    assert "matched by its text" in warning.hint
    cut = trace(workspace, bridge=HTTP, max_steps="3")
    assert cut.truncated and "before the trace was truncated" in cut.warnings[0].message


def test_bridged_traces_are_deterministic(workspace, tmp_path: Path) -> None:
    options = {"bridge": f"{HTTP}\nrelay.server.audit -> relay.codec.decode (audit)", "stop_at": STOP}
    first = trace(workspace, **options).to_json()
    second = run_trace("relay.client.ask", make_workspace(RepoConfig("relay", RELAYREPO)), **options).to_json()
    assert json.dumps(first) == json.dumps(second)


# -- paths-only on the relay trace ---------------------------------------------------------------------------------

SPINE = [
    (1, 1, "relay.client.ask", "relay.client.Client.generate", "call", True, ""),
    # `body = encode(prompt)` is passed on to `_post`: the data at that stage, without its own calls
    (2, 2, "relay.client.Client.generate", "relay.codec.encode", "call", False, "its value is used on the path"),
    (3, 2, "relay.client.Client.generate", "relay.client.Client._post", "call", True, ""),
    (4, 3, "relay.client.Client._post", "relay.server.Server.handle", "bridge", True, ""),
    (5, 4, "relay.server.Server.handle", "relay.codec.decode", "call", False, "its value is used on the path"),
    (6, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", True, ""),
    (7, 5, "relay.store.Store.lookup", "relay.store.Backend.fetch", "call", False, "2 candidates"),
    (8, 5, "relay.store.Store.lookup", "relay.store.DiskBackend.fetch", "call", True, ""),
    (9, 6, "relay.store.DiskBackend.fetch", "relay.store.read_disk", "call", False, "stop"),
    (10, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", False, "expanded at step 6"),
]


def test_paths_only_keeps_the_spine_through_the_bridge(workspace) -> None:
    t = trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="")
    assert rows(t) == SPINE
    check_tree(t)
    assert t.steps[7].candidate_of == 7 and t.steps[6].resolution is Resolution.CANDIDATES
    assert bridge_steps(t)[0].label == "HTTP POST /generate"
    assert t.warnings == () and t.stops == (STOP,)


def test_paths_only_plus_one_keeps_the_calls_one_level_off(workspace) -> None:
    t = trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="+1")
    assert rows(t) == [
        (1, 1, "relay.client.ask", "relay.client.log", "call", False, "off path"),
        (2, 1, "relay.client.ask", "relay.client.Client.__init__", "call", False, "off path"),
        (3, 1, "relay.client.ask", "relay.client.Client.generate", "call", True, ""),
        (4, 2, "relay.client.Client.generate", "relay.codec.encode", "call", False, "its value is used on the path"),
        (5, 2, "relay.client.Client.generate", "relay.client.Client._post", "call", True, ""),
        (6, 3, "relay.client.Client._post", "urllib.request.urlopen", "call", False, ""),
        (7, 3, "relay.client.Client._post", "relay.server.Server.handle", "bridge", True, ""),
        (8, 4, "relay.server.Server.handle", "relay.codec.decode", "call", False, "its value is used on the path"),
        (9, 4, "relay.server.Server.handle", "relay.server.check", "call", False, "off path"),
        (10, 4, "relay.server.Server.handle", "relay.server.audit", "call", False, "off path"),
        (11, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", True, ""),
        (12, 5, "relay.store.Store.lookup", "relay.store.Store._touch", "call", False, "off path"),
        (13, 5, "relay.store.Store.lookup", "relay.store.Backend.fetch", "call", False, "2 candidates"),
        (14, 5, "relay.store.Store.lookup", "relay.store.DiskBackend.fetch", "call", True, ""),
        (15, 6, "relay.store.DiskBackend.fetch", "relay.store.read_disk", "call", False, "stop"),
        (16, 5, "relay.store.Store.lookup", "relay.store.MemoryBackend.fetch", "call", False, "off path"),
        (17, 4, "relay.server.Server.handle", "relay.store.Store.lookup", "call", False, "expanded at step 11"),
        (18, 3, "relay.client.Client._post", "urllib.request.urlopen().read", "call", False, ""),
    ]
    check_tree(t)
    assert [s.candidate_of for s in t.steps if s.candidate_of] == [13, 13]
    # the raise inside check() is two levels off the path: left out
    assert not any(s.kind is StepKind.RAISE for s in t.steps)


def test_paths_only_without_a_stop_point_reached_keeps_everything_and_warns(workspace) -> None:
    full = trace(workspace, stop_at="relay.elsewhere.*")
    t = trace(workspace, stop_at="relay.elsewhere.*", paths_only="")
    assert t.steps == full.steps
    (warning,) = t.warnings
    assert warning.subtype == "drift"
    assert warning.message == ":paths-only: no step reached a :stop-at: point, so the whole trace is shown"
    assert ":stop-at:" in warning.hint


def test_paths_only_keeps_the_path_to_a_fired_bridge_whose_far_side_reaches_no_stop_point(workspace) -> None:
    """The bridge is where the flow goes on: the path to it stays (the bridge its last step), not the whole
    trace; its far side, which reaches no stop point, is left out, and a warning says so."""
    t = trace(workspace, bridge=HTTP, stop_at="relay.elsewhere.*", paths_only="")
    assert rows(t) == [
        (1, 1, "relay.client.ask", "relay.client.Client.generate", "call", True, ""),
        (2, 2, "relay.client.Client.generate", "relay.codec.encode", "call", False, "its value is used on the path"),
        (3, 2, "relay.client.Client.generate", "relay.client.Client._post", "call", True, ""),
        (4, 3, "relay.client.Client._post", "relay.server.Server.handle", "bridge", False, FAR),
    ]
    check_tree(t)
    (warning,) = t.warnings
    assert warning.message == (
        ":paths-only: no step reached a :stop-at: point, so only the paths to the bridges are shown"
    )
    # '+1' still shows the target's own calls, one level off the path (so the bridge stays entered)
    plus = trace(workspace, bridge=HTTP, stop_at="relay.elsewhere.*", paths_only="+1")
    (bridge,) = bridge_steps(plus)
    assert bridge.entered and bridge.note == ""
    assert [s.callee.name for s in plus.steps if s.depth == 4 and s.callee] == [
        "relay.codec.decode",
        "relay.server.check",
        "relay.server.audit",
        "relay.store.Store.lookup",
        "relay.store.Store.lookup",
    ]


def test_paths_only_a_bridge_whose_far_side_reaches_a_stop_point_is_a_path_through(workspace) -> None:
    t = trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="")
    (bridge,) = bridge_steps(t)
    assert bridge.entered and bridge.note == ""
    assert any(s.note == "stop" for s in t.steps) and not t.warnings


def test_lock_lines_and_expect_see_the_kept_steps(workspace) -> None:
    from sphinxext.codetrace.drift import expect_problem, lock_lines

    t = trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="")
    lines = lock_lines(t)
    assert "    relay.client.Client._post -> bridge relay.server.Server.handle (relay:src/relay/server.py)" in lines
    assert len(lines) == 1 + len(SPINE)
    assert expect_problem(t, ("Client._post", "Server.handle", "read_disk")) is None
    assert expect_problem(t, ("relay.server.audit",)) is not None  # off the path: not in the trace


# -- paths-only on hand-made traces --------------------------------------------------------------------------------

ENTRY = loc("pkg.mod.entry")
SITE = Site("r", "pkg/mod.py", 1)


def call(n: int, depth: int, caller: str, callee: str, **kw) -> Step:
    kind = kw.pop("kind", StepKind.CALL)
    resolution = kw.pop("resolution", Resolution.DIRECT)
    return Step(n, depth, loc(caller), loc(callee), callee, SITE, kind, resolution, **kw)


def raise_(n: int, depth: int, caller: str) -> Step:
    return Step(n, depth, loc(caller), None, "ValueError()", SITE, StepKind.RAISE, Resolution.DIRECT)


def names(steps: list[Step]) -> list[tuple[int, str, str, int]]:
    return [(s.n, s.target, s.note, s.candidate_of) for s in steps]


#: entry -> a (-> a1, raise), b (-> c (-> stop), raise), d (expanded at a), e (expanded at b)
HAND = [
    call(1, 1, "entry", "a", entered=True),
    call(2, 2, "a", "a1", entered=True),
    call(3, 3, "a1", "a2"),
    raise_(4, 2, "a"),
    call(5, 1, "entry", "b", entered=True),
    call(6, 2, "b", "c", entered=True),
    call(7, 3, "c", "x", note="stop"),
    call(8, 3, "c", "y"),
    raise_(9, 2, "b"),
    call(10, 1, "entry", "a", note="expanded at step 1"),
    call(11, 1, "entry", "b", note="expanded at step 5"),
    call(12, 1, "entry", "entry", note="expanded at step 0"),
]


def test_on_paths_follows_nesting_and_expanded_calls() -> None:
    assert on_paths(HAND) == [False, False, False, False, True, True, True, False, False, False, True, True]


def test_spine_renumbers_expanded_notes() -> None:
    kept = keep_paths(HAND)
    assert names(kept) == [
        (1, "b", "", 0),
        (2, "c", "", 0),
        (3, "x", "stop", 0),
        (4, "b", "expanded at step 1", 0),
        (5, "entry", "expanded at step 0", 0),
    ]


def test_plus_one_keeps_raises_of_path_functions_and_points_off_path_notes_nowhere() -> None:
    kept = keep_paths(HAND, "+1")
    assert names(kept) == [
        (1, "a", "off path", 0),  # entered, but off the path: its calls are left out
        (2, "b", "", 0),
        (3, "c", "", 0),
        (4, "x", "stop", 0),
        (5, "y", "", 0),
        (6, "ValueError()", "", 0),  # b is on the path: its raise is one level off
        (7, "a", "expanded off the path", 0),  # step 1's calls are not shown
        (8, "b", "expanded at step 2", 0),
        (9, "entry", "expanded at step 0", 0),
    ]
    assert [s.entered for s in kept] == [False, True, True, False, False, False, False, False, False]


def test_a_dispatch_is_kept_when_one_candidate_is_on_the_path() -> None:
    steps = [
        call(1, 1, "entry", "f"),
        call(2, 1, "entry", "T.go", resolution=Resolution.CANDIDATES, note="2 candidates"),
        call(3, 1, "entry", "A.go", resolution=Resolution.CANDIDATES, candidate_of=2, entered=True),
        call(4, 2, "A.go", "g"),
        call(5, 1, "entry", "B.go", resolution=Resolution.CANDIDATES, candidate_of=2, entered=True),
        call(6, 2, "B.go", "stop_here", note="stop"),
    ]
    assert names(keep_paths(steps)) == [(1, "T.go", "2 candidates", 0), (2, "B.go", "", 1), (3, "stop_here", "stop", 0)]
    assert names(keep_paths(steps, "+1")) == [
        (1, "f", "", 0),
        (2, "T.go", "2 candidates", 0),
        (3, "A.go", "off path", 2),
        (4, "B.go", "", 2),
        (5, "stop_here", "stop", 0),
    ]


def test_no_stop_point_means_no_filter() -> None:
    steps = [s for s in HAND if s.note != "stop"]
    assert keep_paths(steps) is None
    kept, problems = paths_only(steps, "", truncated=True)
    assert kept == steps and "truncated" in problems[0].message


# -- rendering -----------------------------------------------------------------------------------------------------


def test_a_bridge_is_drawn_dashed_with_its_label(workspace) -> None:
    t = trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="")
    seq = sequence_diagram(t)
    check_lines(seq)
    assert "    p3--)+p5: bridge handle(body: bytes)" in seq
    assert "    Note over p3,p5: declared bridge: HTTP POST /generate" in seq
    flow = flowchart(t)
    assert '    n4 -.->|"4 declared bridge: HTTP POST /generate"| n5' in flow
    (row,) = [r for r in step_rows(t, lambda *a: None) if r.n == 4]
    assert row.kind == "declared bridge (HTTP POST /generate)"
    unlabelled = trace(workspace, bridge="urllib.request.urlopen -> relay.server.audit", depth="3")
    assert re.search(r"\n    Note over p3,p\d+: declared bridge\n", sequence_diagram(unlabelled))
    assert [r.kind for r in step_rows(unlabelled, lambda *a: None) if "bridge" in r.kind] == [
        "declared bridge, depth limit"
    ]


@needs_node
def test_mermaid_parses_bridged_and_filtered_diagrams(workspace) -> None:
    traces = [
        trace(workspace, bridge=HTTP, stop_at=STOP),
        trace(workspace, bridge=HTTP, stop_at=STOP, paths_only=""),
        trace(workspace, bridge=HTTP, stop_at=STOP, paths_only="+1"),
    ]
    texts = [text for t in traces for text in (sequence_diagram(t), flowchart(t))]
    results = mermaid_parse(texts)
    assert all(r["ok"] for r in results), [r.get("error") for r in results]
    for t, seq, flow in zip(traces, results[0::2], results[1::2], strict=True):
        bridge = [m for m in seq["messages"] if m["message"] == "bridge handle(body: bytes)"]
        assert len(bridge) == 1 and bridge[0]["type"] == 25 and bridge[0]["activate"]  # dotted async, activates
        assert [e["stroke"] for e in flow["edges"] if "declared bridge" in e["text"]] == ["dotted"]
        # one arrow per step, plus the entry's call and return and one return per entered step
        entered = sum(1 for s in t.steps if s.entered)
        arrows = [m for m in seq["messages"] if m["type"] in (0, 1, 4, 5, 24, 25)]
        assert len(arrows) == 2 + len(t.steps) + entered


# -- command line and docs scan ------------------------------------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["trace", "--repo", f"relay={RELAYREPO}", "--entry", "relay.client.ask", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_bridges_and_paths_only(capsys, workspace) -> None:
    audit = "relay.server.audit -> relay.codec.decode (audit log)"
    code, out, err = run_cli(capsys, "--bridge", HTTP, "--bridge", audit, "--stop-at", STOP, "--paths-only")
    assert code == 0 and err == ""
    expected = run_trace("relay.client.ask", workspace, "", bridge=f"{HTTP}\n{audit}", stop_at=STOP, paths_only="")
    assert json.loads(out) == expected.to_json()
    assert json.loads(out)["steps"][3]["label"] == "HTTP POST /generate"
    code, out, _ = run_cli(capsys, "--bridge", HTTP, "--stop-at", STOP, "--paths-only", "+1", "--format", "mermaid")
    assert code == 0 and "Note over p3,p6: declared bridge: HTTP POST /generate" in out and "off path" in out


def test_cli_bad_bridge_and_paths_only(capsys) -> None:
    code, _, err = run_cli(capsys, "--paths-only")
    assert code == 2 and ":paths-only: needs :stop-at:" in err
    code, _, err = run_cli(capsys, "--bridge", "a b")
    assert code == 2 and ":bridge: 'a b' has no '->'" in err and "A -> B (label)" in err
    code, out, err = run_cli(capsys, "--bridge", "urllib.request.urlopen -> relay.nowhere.f")
    assert code == 0 and json.loads(out)["warnings"] == [err.strip().removeprefix("codetrace: warning: ")]
    assert "its target 'relay.nowhere.f' does not resolve" in err


def test_docs_scan_joins_repeated_bridge_lines_in_myst() -> None:
    text = "```{codetrace} T\n:entry: p.f\n:bridge: a -> b (x)\n:bridge: c -> d\n:depth: 2\n```\n"
    ((_line, title, options),) = scan_markdown(text)
    assert options == {"entry": "p.f", "bridge": "a -> b (x)\nc -> d", "depth": "2"}
    assert parse_options(title, options).bridges == (Bridge("a", "b", "x"), Bridge("c", "d"))


@needs_node
def test_a_hostile_label_stays_inside_its_note_and_edge(workspace) -> None:
    label = 'x"; end %% <script>|{}`#35; -->> p1'
    t = trace(workspace, bridge=f"urllib.request.urlopen -> relay.server.audit ({label})")
    assert bridge_steps(t)[0].label == label
    seq, flow = sequence_diagram(t), flowchart(t)
    check_lines(seq)
    check_lines(flow)
    seq_parsed, flow_parsed = mermaid_parse([seq, flow])
    assert seq_parsed["ok"] and flow_parsed["ok"]
    notes = [decode(m["message"]) for m in seq_parsed["messages"] if m["type"] == 2]
    assert f"declared bridge: {label}" in notes
    assert any(decode(e["text"]).endswith(f"declared bridge: {label}") for e in flow_parsed["edges"])
