"""Shared helpers for the engine tests: the fixture repo, workspaces over it, traces, corpus parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sphinxext.codetrace.model import Step, Trace
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

TESTS = Path(__file__).resolve().parent
PYREPO = TESTS / "fixtures" / "pyrepo"
REPO_NAME = "fx"


def fixture_workspace(**kwargs) -> Workspace:
    """A workspace holding only the fixture repo, under the name ``fx``."""
    workspace, errors = Workspace.from_configs([RepoConfig(REPO_NAME, PYREPO)], **kwargs)
    assert errors == []
    return workspace


def make_workspace(*configs: RepoConfig, **kwargs) -> Workspace:
    workspace, errors = Workspace.from_configs(list(configs), **kwargs)
    assert errors == [], [str(e) for e in errors]
    return workspace


def run_trace(
    entry: str, workspace: Workspace | None = None, title: str = "t", cache_dir: Path | None = None, **options: str
) -> Trace:
    """Trace ``entry`` on a fresh engine; keyword options use ``_`` for ``-`` (``stop_at="..."``)."""
    raw = {"entry": entry, **{k.replace("_", "-"): v for k, v in options.items()}}
    engine = Engine(workspace or fixture_workspace(), cache_dir)
    return engine.trace(parse_options(title, raw))


def step_to(trace: Trace, name: str) -> list[Step]:
    """Steps whose callee (or target, when there is no callee) is ``name``."""
    return [s for s in trace.steps if (s.callee.name if s.callee else s.target) == name or s.target == name]


def callees(trace: Trace) -> list[str]:
    return [s.target for s in trace.steps]


# -- mermaid labels -----------------------------------------------------------------------------------------------

#: What the mermaid renderers may write inside a label: a small safe alphabet and ``#<code>;`` entity codes.
SAFE = r"(?:[A-Za-z0-9 _.,()\[\]/:=*?!@~'^+\-]|#\d+;)*"
#: What url() may return.
URL_SAFE = r"https?://[A-Za-z0-9:/#?&=+\-_.~%,@!$'()*;]*"


def shown(value: str, limit: int = 72) -> str:
    """The label a reader should see for ``value``: whitespace collapsed, shortened, control characters blank."""
    value = " ".join(value.split())
    if len(value) > limit:
        value = value[: limit - 1] + "\u2026"
    return "".join(" " if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in value).strip()


# -- the resolution corpus ---------------------------------------------------------------------------------------

_COMMENT = re.compile(r"^\s*#\s*calls(?:@(?:`(?P<quoted>[^`]+)`|(?P<sel>\S+)))?:\s*(?P<body>.*?)\s*$")
_XFAIL = re.compile(r"\s+xfail:\s*(?P<why>.*)$")
_RES = re.compile(r"\s*\((?P<res>[a-z]+)\)$")


@dataclass(frozen=True)
class Expectation:
    path: str  # relative to the repo root
    comment_line: int
    call_line: int
    selector: str | None
    kinds: tuple[str, ...]  # "await", "spawn", "queue" (a hand-off: the walk's hand-off hook is asked too)
    what: str  # "callee", "new", "external", "builtin", "unresolved", "candidates"
    target: str | None  # for "candidates": the qualified names, sorted, space separated
    resolution: str | None
    xfail: str | None

    @property
    def id(self) -> str:
        target = self.target.split()[0] + "..." if self.what == "candidates" and self.target else self.target
        return f"{Path(self.path).name}:{self.call_line}:{target or self.what}"


def parse_expectations(root: Path = PYREPO) -> list[Expectation]:
    """Every ``# calls:`` comment of the fixture repo (see tests/fixtures/pyrepo/README.md)."""
    found: list[Expectation] = []
    for file in sorted(root.rglob("*.py")):
        lines = file.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            m = _COMMENT.match(line)
            if not m:
                continue
            body = m.group("body")
            xfail = None
            xm = _XFAIL.search(body)
            if xm:
                xfail, body = xm.group("why"), body[: xm.start()]
            resolution = None
            rm = _RES.search(body)
            if rm:
                resolution, body = rm.group("res"), body[: rm.start()]
            tokens = body.split()
            kinds = []
            while tokens and tokens[0] in ("await", "spawn", "queue"):
                kinds.append(tokens.pop(0))
            if not tokens:
                raise ValueError(f"{file}:{index + 1}: empty expectation")
            if tokens[0] in ("new", "external", "builtin"):
                what, target = tokens[0], tokens[1]
                rest = tokens[2:]
            elif tokens[0] == "candidates":
                what, target, rest = "candidates", " ".join(sorted(tokens[1:])), []
            elif tokens[0] == "unresolved":
                what, target, rest = "unresolved", None, tokens[1:]
            else:
                what, target, rest = "callee", tokens[0], tokens[1:]
            if rest:
                raise ValueError(f"{file}:{index + 1}: cannot read expectation {line.strip()!r}")
            found.append(
                Expectation(
                    path=file.relative_to(root).as_posix(),
                    comment_line=index + 1,
                    call_line=index + 2,
                    selector=m.group("quoted") or m.group("sel"),
                    kinds=tuple(kinds),
                    what=what,
                    target=target,
                    resolution=resolution,
                    xfail=xfail,
                )
            )
    return found
