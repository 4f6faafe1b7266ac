"""The Rust resolution corpus: every ``// calls:`` comment in tests/fixtures/rustrepo states what the call on
the next line resolves to (see that folder's README); this checks each one with RustResolver.resolve_call."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import TESTS, make_workspace

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.model import CallSite, Resolution, StepKind
from sphinxext.codetrace.resolve.rust import RustResolver, RustSymbol
from sphinxext.codetrace.workspace import RepoConfig

RUSTREPO = TESTS / "fixtures" / "rustrepo"
REPO = "rx"

_COMMENT = re.compile(r"^\s*//\s*calls(?:@(?P<sel>\S+))?:\s*(?P<body>.*?)\s*$")
_XFAIL = re.compile(r"\s+xfail:\s*(?P<why>.*)$")
_RES = re.compile(r"\s*\((?P<res>[a-z]+)\)$")
KINDS = ("await", "spawn", "queue", "try")


@dataclass(frozen=True)
class Expectation:
    path: str
    call_line: int
    selector: str | None
    kinds: tuple[str, ...]
    what: str  # "callee", "candidates", "external", "quiet", "opaque", "unresolved"
    targets: tuple[str, ...]
    resolution: str | None
    xfail: str | None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.call_line}"

    @property
    def category(self) -> str:
        return self.path.split("/")[1] + "/" + Path(self.path).stem


def parse_expectations(root: Path = RUSTREPO) -> list[Expectation]:
    found: list[Expectation] = []
    for file in sorted(root.rglob("*.rs")):
        lines = file.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            m = _COMMENT.match(line)
            if not m:
                continue
            body = m.group("body")
            xfail = None
            if xm := _XFAIL.search(body):
                xfail, body = xm.group("why"), body[: xm.start()]
            resolution = None
            if rm := _RES.search(body):
                resolution, body = rm.group("res"), body[: rm.start()]
            tokens = body.split()
            kinds = []
            while tokens and tokens[0] in KINDS:
                kinds.append(tokens.pop(0))
            if not tokens:
                raise ValueError(f"{file}:{index + 1}: empty expectation")
            if tokens[0] in ("candidates", "external", "quiet", "unresolved", "opaque"):
                what, targets = tokens[0], tuple(tokens[1:])
            else:
                what, targets = "callee", tuple(tokens)
            if (what in ("callee", "external", "quiet") and len(targets) != 1) or (
                what == "candidates" and len(targets) < 1
            ):
                raise ValueError(f"{file}:{index + 1}: cannot read expectation {line.strip()!r}")
            found.append(
                Expectation(
                    path=file.relative_to(root).as_posix(),
                    call_line=index + 2,
                    selector=m.group("sel"),
                    kinds=tuple(kinds),
                    what=what,
                    targets=targets,
                    resolution=resolution,
                    xfail=xfail,
                )
            )
    return found


EXPECTATIONS = parse_expectations()


def rust_workspace():
    return make_workspace(RepoConfig(REPO, RUSTREPO))


@pytest.fixture(scope="module")
def resolver() -> RustResolver:
    workspace = rust_workspace()
    return RustResolver(workspace, Index(workspace))


def _param(e: Expectation):
    marks = [pytest.mark.xfail(strict=True, reason=e.xfail)] if e.xfail else []
    return pytest.param(e, id=e.id, marks=marks)


def call_for(resolver: RustResolver, e: Expectation) -> tuple[RustSymbol, CallSite]:
    facts = resolver.facts_of(REPO, e.path)
    holders = [d for d in facts.definitions if d.kind == "function" and d.line <= e.call_line <= d.end_line]
    assert holders, f"{e.path}:{e.call_line} is not inside a function"
    calls = [c for c in facts.calls if c.line == e.call_line]
    assert calls, f"no call recorded on {e.path}:{e.call_line}"
    if e.selector is not None:
        chosen = [c for c in calls if c.text == e.selector]
        assert len(chosen) == 1, f"selector {e.selector!r} matches {[c.text for c in calls]}"
        call = chosen[0]
    else:
        call = calls[-1]  # the outermost call of the line is evaluated last
    scope = facts.definition(call.scope)
    assert scope is not None and scope.line <= e.call_line <= scope.end_line
    innermost = max(holders, key=lambda d: d.line)
    if call.chain[:1] == ("{block}",):  # a spawn step belongs to the function around the block it starts
        innermost = facts.definition(innermost.parent) or innermost
    assert scope.qualname == innermost.qualname, "call recorded in the wrong scope"
    return resolver.symbol(REPO, e.path, scope), call


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(EXPECTATIONS) >= 120
    assert {e.what for e in EXPECTATIONS} == {"callee", "candidates", "external", "quiet", "opaque", "unresolved"}
    assert {k for e in EXPECTATIONS for k in e.kinds} == set(KINDS)
    resolutions = {e.resolution for e in EXPECTATIONS} - {None}
    assert {"direct", "import", "typed", "inherited"} <= resolutions


@pytest.mark.parametrize("e", [_param(e) for e in EXPECTATIONS])
def test_resolution(resolver: RustResolver, e: Expectation) -> None:
    sym, call = call_for(resolver, e)
    out = resolver.resolve_call(sym, call)

    kinds = [k for k in e.kinds if k != "try"]
    expected_kind = StepKind(kinds[0]) if kinds else StepKind.CALL
    assert (out.kind or call.kind) is expected_kind, f"{call.text!r}: kind {(out.kind or call.kind).value}"
    assert call.propagates is ("try" in e.kinds)

    if e.what == "callee":
        assert out.callee is not None, f"{call.text!r} unresolved: {out}"
        assert out.callee.qualname == e.targets[0]
        assert out.target == e.targets[0]
        assert not out.candidates
        assert out.resolution not in (Resolution.EXTERNAL, Resolution.UNRESOLVED, Resolution.CANDIDATES)
        assert not out.quiet
    elif e.what == "candidates":
        assert out.resolution is Resolution.CANDIDATES, f"{call.text!r}: {out}"
        assert Counter(c.qualname for c in out.candidates) == Counter(e.targets)
        assert list(out.candidates) == sorted(
            out.candidates, key=lambda c: (c.qualname, c.repo, c.path, c.definition.line)
        )
    elif e.what == "external":
        assert (out.resolution, out.target, out.callee, out.quiet) == (Resolution.EXTERNAL, e.targets[0], None, False)
    elif e.what == "quiet":
        assert out.quiet, f"{call.text!r} is not quiet: {out}"
        assert out.target == e.targets[0]
        assert out.callee is None
    elif e.what == "opaque":
        assert out.note == "opaque macro", f"{call.text!r}: {out}"
        assert out.callee is None and not out.quiet
    else:
        assert out.resolution is Resolution.UNRESOLVED, f"{call.text!r} resolved to {out.target}"
        assert out.callee is None and not out.candidates
        assert out.target == call.text  # the source text is kept, never guessed

    if e.resolution is not None:
        assert out.resolution is Resolution(e.resolution)


def test_resolution_is_independent_of_order() -> None:
    """Resolving the corpus backwards on a fresh resolver gives the same answers."""

    def answers(order):
        workspace = rust_workspace()
        resolver = RustResolver(workspace, Index(workspace))
        result = {}
        for e in order:
            sym, call = call_for(resolver, e)
            out = resolver.resolve_call(sym, call)
            result[e.id] = (out.resolution, out.target, tuple(c.qualname for c in out.candidates))
        return result

    assert answers(EXPECTATIONS) == answers(list(reversed(EXPECTATIONS)))


def corpus_summary() -> dict[str, tuple[int, int]]:
    """``category -> (cases, passing)`` on a fresh resolver (for the report; xfails count as not passing)."""
    workspace = rust_workspace()
    resolver = RustResolver(workspace, Index(workspace))
    out: dict[str, list[int]] = {}
    for e in EXPECTATIONS:
        entry = out.setdefault(e.category, [0, 0])
        entry[0] += 1
        try:
            test_resolution(resolver, e)
        except AssertionError:
            continue
        entry[1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}
