"""The resolution corpus: every ``# calls:`` comment in tests/fixtures/pyrepo states what the call on the next
line resolves to (jedi / PyCG style); this checks each one with PythonResolver.resolve_call."""

from __future__ import annotations

import pytest
from helpers import PYREPO, REPO_NAME, Expectation, fixture_workspace, parse_expectations

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.model import CallSite, Resolution, StepKind
from sphinxext.codetrace.resolve.handoff import PyHandoffs
from sphinxext.codetrace.resolve.python import PySymbol, PythonResolver

EXPECTATIONS = parse_expectations()


def _param(e: Expectation):
    marks = [pytest.mark.xfail(strict=True, reason=e.xfail)] if e.xfail else []
    return pytest.param(e, id=e.id, marks=marks)


@pytest.fixture(scope="module")
def resolver() -> PythonResolver:
    workspace = fixture_workspace()
    return PythonResolver(workspace, Index(workspace))


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(EXPECTATIONS) >= 200
    whats = {e.what for e in EXPECTATIONS}
    assert whats == {"callee", "new", "external", "builtin", "unresolved", "candidates"}
    kinds = {k for e in EXPECTATIONS for k in e.kinds}
    assert kinds == {"await", "spawn", "queue"}
    resolutions = {e.resolution for e in EXPECTATIONS} - {None}
    assert {"direct", "import", "typed", "inherited"} <= resolutions


def _call_for(resolver: PythonResolver, e: Expectation) -> tuple[PySymbol, CallSite]:
    facts = resolver.facts_of(REPO_NAME, e.path)
    assert facts.error is None, facts.error
    # The innermost function whose span holds the line is where the call must be recorded.
    holders = [d for d in facts.definitions if d.kind == "function" and d.line <= e.call_line <= d.end_line]
    assert holders, f"{e.path}:{e.call_line} is not inside a function"
    scope = max(holders, key=lambda d: d.line)
    calls = [c for c in facts.calls if c.line == e.call_line]
    assert calls, f"no call recorded on {e.path}:{e.call_line}"
    assert {c.scope for c in calls} == {scope.qualname}, "calls recorded in the wrong scope"
    if e.selector is not None:
        chosen = [c for c in calls if c.text == e.selector]
        assert len(chosen) == 1, f"selector {e.selector!r} matches {[c.text for c in calls]}"
        call = chosen[0]
    else:
        call = calls[-1]  # the outermost call of the line is evaluated last
    return PySymbol(REPO_NAME, e.path, facts.module, scope), call


@pytest.mark.parametrize("e", [_param(e) for e in EXPECTATIONS])
def test_resolution(resolver: PythonResolver, e: Expectation) -> None:
    sym, call = _call_for(resolver, e)
    out = resolver.resolve_call(sym, call)
    # what the walk asks next: is the call a hand-off (a queue step)? Only `queue` expectations may say so.
    out = PyHandoffs(resolver.workspace, resolver).handoff(sym, call, None, out, [(sym, None, None)])

    expected_kind = StepKind(e.kinds[0]) if e.kinds else StepKind.CALL
    if expected_kind is StepKind.QUEUE:
        assert out.kind is StepKind.QUEUE and call.kind in (StepKind.CALL, StepKind.AWAIT), out
    else:
        assert call.kind is expected_kind
        assert out.kind is None, f"{call.text!r} is not a hand-off: {out}"

    if e.what == "callee":
        assert out.callee is not None, f"{call.text!r} unresolved: {out}"
        assert out.callee.qualname == e.target
        assert out.target == e.target
        assert out.constructs is None
        assert out.resolution not in (Resolution.EXTERNAL, Resolution.UNRESOLVED)
        assert not out.quiet
    elif e.what == "new":
        assert out.constructs is not None, f"{call.text!r} is not a construction: {out}"
        assert out.constructs.qualname == e.target
        assert out.target == e.target
        if out.callee is not None:  # the __init__ (or, without one, the __new__) found along the MRO
            assert out.callee.definition.name in ("__init__", "__new__")
        assert out.resolution not in (Resolution.EXTERNAL, Resolution.UNRESOLVED)
    elif e.what == "external":
        assert (out.resolution, out.target, out.callee, out.quiet) == (Resolution.EXTERNAL, e.target, None, False)
    elif e.what == "candidates":
        assert out.resolution is Resolution.CANDIDATES, f"{call.text!r}: {out}"
        assert " ".join(sorted(c.qualname for c in out.candidates)) == e.target
    elif e.what == "builtin":
        assert (out.resolution, out.target, out.quiet) == (Resolution.EXTERNAL, e.target, True)
    else:
        assert out.resolution is Resolution.UNRESOLVED, f"{call.text!r} resolved to {out.target}"
        assert out.callee is None and out.constructs is None
        assert out.target == call.text  # the source text is kept, never guessed

    if e.resolution is not None:
        assert out.resolution is Resolution(e.resolution)


def test_resolution_is_independent_of_order() -> None:
    """Resolving the corpus backwards on a fresh resolver gives the same answers (no order-dependent caches)."""

    def answers(order):
        workspace = fixture_workspace()
        resolver = PythonResolver(workspace, Index(workspace))
        result = {}
        for e in order:
            sym, call = _call_for(resolver, e)
            out = resolver.resolve_call(sym, call)
            result[e.id] = (out.resolution, out.target, out.callee.qualname if out.callee else None)
        return result

    assert answers(EXPECTATIONS) == answers(list(reversed(EXPECTATIONS)))


def test_fixture_repo_layout() -> None:
    """The fixture is a src layout: modules are named from src/, not from the repo root."""
    workspace = fixture_workspace()
    repo = workspace.repo(REPO_NAME)
    assert (PYREPO / "src").resolve() in repo.python_roots
    assert (PYREPO / "bindings/python").resolve() in repo.python_roots  # a maturin python-source
    assert repo.module_name(repo.root / "src/shipyard/sub/worker.py") == "shipyard.sub.worker"
    assert repo.module_name(repo.root / "src/shipyard/__init__.py") == "shipyard"
