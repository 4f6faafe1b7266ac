"""Scoring traces against reference chains (sphinxext.codetrace.flowscore), on synthetic steps and on the
demo workspace shipped with the docs. The real-world flows are scored in test_flows_real.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sphinxext.codetrace.flowscore import (
    LINE_TOLERANCE,
    checkouts,
    engine_for,
    env_var,
    format_details,
    format_table,
    load_reference,
    parse_reference,
    score,
    spec_mismatches,
    symbol_matches,
    trace_flow_specs,
)
from sphinxext.codetrace.model import Lang, Loc, Resolution, Site, Step, StepKind, Trace

DEMO = Path(__file__).resolve().parent.parent / "example_docs" / "demo"


def loc(name: str, path: str = "src/app/mod.py", repo: str = "app", lang: Lang = Lang.PYTHON) -> Loc:
    return Loc(repo, path, 1, name, lang)


def step(n: int, caller: str, callee: str | None, line: int, path: str = "src/app/mod.py", **kw) -> Step:
    target = kw.pop("target", callee or "?")
    return Step(
        n=n,
        depth=kw.pop("depth", 1),
        caller=loc(caller, path),
        callee=loc(callee, path) if callee else None,
        target=target,
        site=Site("app", path, line),
        kind=kw.pop("kind", StepKind.CALL),
        resolution=kw.pop("resolution", Resolution.DIRECT),
        **kw,
    )


def trace(*steps: Step, entry: str = "app.mod.main") -> Trace:
    return Trace("t", loc(entry), None, tuple(steps))


def ref_data(steps: list[dict], **extra) -> dict:
    data = {
        "name": "f",
        "title": "A flow",
        "page": "flows/f.rst",
        "repos": ["app"],
        "spec": [{"title": "A flow", "entry": "app:app.mod.main", "stop_at": ["app.mod.end"]}],
        "steps": steps,
    }
    data.update(extra)
    return data


def ref_step(caller: str, callee: str, line: int, **kw) -> dict:
    return {"caller": caller, "callee": callee, "path": "app:src/app/mod.py", "line": line, **kw}


def chain(n: int = 8, end: int = 8) -> list[dict]:
    return [ref_step(f"app.mod.f{i}", f"app.mod.f{i + 1}", 10 * i, end=(i == end)) for i in range(1, n + 1)]


# -- symbols ------------------------------------------------------------------------------------------------------


def test_symbol_forms() -> None:
    assert symbol_matches("pkg.mod.Class.method", "pkg.mod.Class.method")
    assert not symbol_matches("pkg.mod.Class.method", "pkg.mod.Other.method")
    assert symbol_matches("src/pkg/mod.py::Class.method", "pkg.mod.Class.method", "src/pkg/mod.py")
    assert not symbol_matches("src/pkg/mod.py::Class.method", "pkg.mod.Class.method", "src/pkg/other.py")
    assert symbol_matches("lib/a/src/x.rs::Router::route", "a::x::Router::route", "lib/a/src/x.rs")
    assert not symbol_matches("lib/a/src/x.rs::Router::route", "a::x::OtherRouter::route", "lib/a/src/x.rs")
    assert symbol_matches("app:pkg.f", "pkg.f", repo="app")
    assert not symbol_matches("other:pkg.f", "pkg.f", repo="app")


# -- reading ------------------------------------------------------------------------------------------------------


def test_parse_reference_reads_steps_and_the_end() -> None:
    ref = parse_reference(ref_data(chain(end=3)))
    assert len(ref.steps) == 8 and ref.end.n == 3 and ref.end.repo == "app" and ref.end.path == "src/app/mod.py"
    assert ref.steps[0].site_text == "f2"  # the callee's own name by default


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["steps"][7].pop("end"), "exactly one step must have 'end = true', found 0"),
        (lambda d: d["steps"][0].update(end=True), "exactly one step must have 'end = true', found 2"),
        (lambda d: d["steps"][0].update(path="src/app/mod.py"), "'path' must start with its repo"),
        (lambda d: d["steps"][0].update(kind="teleport"), "'kind' must be one of"),
        (lambda d: d["steps"][0].update(line=0), "'line' must be a positive integer"),
        (lambda d: d["steps"][0].update(calee="x"), "unknown keys calee"),
        (lambda d: d.update(steps=d["steps"][1:]), "8 to 30 steps"),
        (lambda d: d["steps"].append(dict(d["steps"][0], end=False)), "a step is listed twice"),
        (lambda d: d.update(spec=[]), "at least one [[spec]]"),
        (lambda d: d.update(bridges=[{"source": "a", "target": "b", "why": "x", "spec": "nope"}]), "not the title"),
        (lambda d: d.update(bridges=[{"source": "a", "target": "b"}]), "'why' must be a non-empty string"),
    ],
)
def test_parse_reference_rejects_bad_input(change, message) -> None:
    data = ref_data(chain())
    change(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_reference(data, "bad.toml")


def test_load_reference_reports_toml_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nsteps = [\n')
    with pytest.raises(ValueError, match=r"broken\.toml: not valid TOML"):
        load_reference(path)


# -- scoring ------------------------------------------------------------------------------------------------------


def test_found_within_the_line_tolerance_and_missing_beyond() -> None:
    ref = parse_reference(ref_data(chain()))
    steps = [step(i, f"app.mod.f{i}", f"app.mod.f{i + 1}", 10 * i) for i in range(1, 8)]
    steps[1] = step(2, "app.mod.f2", "app.mod.f3", 20 + LINE_TOLERANCE)  # within the tolerance
    steps[2] = step(3, "app.mod.f3", "app.mod.f4", 30 + LINE_TOLERANCE + 1)  # too far
    result = score(ref, [trace(*steps)])
    assert [r.ref.n for r in result.missing] == [3, 8]
    assert result.recall == 6 / 8 and not result.end_reached and not result.meets_target
    assert result.diverges_at is not None and result.diverges_at.n == 3
    assert f"this edge only at src/app/mod.py:{30 + LINE_TOLERANCE + 1}" in result.missing[0].why
    assert result.missing[1].why == "caller reached at step 7 but not entered (no calls recorded)"


def test_what_the_walk_did_instead_at_the_call_site() -> None:
    ref = parse_reference(ref_data(chain()))
    steps = [step(i, f"app.mod.f{i}", f"app.mod.f{i + 1}", 10 * i) for i in range(1, 8)]
    steps.append(step(8, "app.mod.f8", None, 80, target="self.store.get", resolution=Resolution.UNRESOLVED))
    steps.append(step(9, "app.mod.other", "app.mod.f9", 5))
    result = score(ref, [trace(*steps)])
    assert [r.ref.n for r in result.missing] == [8]
    why = result.missing[0].why
    assert "at the call site the trace has: self.store.get [call, unresolved]" in why
    assert "callee reached from mod.other (step 9)" in why
    details = format_details(result)
    assert "missing #8 mod.f8 -> mod.f9 (app:src/app/mod.py:80)  [end]" in details and why in details


def test_candidates_accept_unresolved_text_and_a_caller_not_entered() -> None:
    data = ref_data(chain())
    data["steps"][0]["accept"] = ["app.mod.Loop.run"]
    data["steps"][1]["callee"] = "client.send"  # an external call, matched by its text
    ref = parse_reference(data)
    steps = [
        step(1, "app.mod.f1", "app.mod.Base.f2", 10, resolution=Resolution.CANDIDATES, candidates=(loc("x"),)),
        step(2, "app.mod.f1", "app.mod.Loop.run", 10, resolution=Resolution.CANDIDATES, candidate_of=1),
        step(3, "app.mod.f2", None, 20, target="client.send", resolution=Resolution.EXTERNAL),
        step(4, "app.mod.f2", "app.mod.f3", 21, note="depth limit"),
    ]
    result = score(ref, [trace(*steps)])
    assert [r.ref.n for r in result.found] == [1, 2]
    assert result.results[2].why == "caller reached at step 4 but not entered (depth limit)"


def test_a_call_site_recorded_under_another_caller_is_named() -> None:
    ref = parse_reference(ref_data(chain()))
    steps = [step(1, "app.mod.f1", "app.mod.elsewhere", 500), step(2, "app.mod.wrapper_raw", "app.mod.f2", 10)]
    result = score(ref, [trace(*steps)])
    assert result.results[0].why == (
        "the walk records this call site under mod.wrapper_raw, not under the caller; "
        "callee reached from mod.wrapper_raw (step 2)"
    )


def test_paths_only_drops_are_reported() -> None:
    ref = parse_reference(ref_data(chain()))
    dropped = step(1, "app.mod.f1", None, 10, target="x.f2", resolution=Resolution.UNRESOLVED)
    kept = step(2, "app.mod.f1", "app.mod.end", 11)
    result = score(ref, [trace(kept)], walks=[trace(dropped, kept)])
    why = result.results[0].why
    assert "x.f2 [call, unresolved] (dropped by :paths-only:)" in why
    only_dropped = score(ref, [trace()], walks=[trace(dropped)])
    assert "the caller's calls are all dropped by :paths-only:" in only_dropped.results[0].why
    edge = step(1, "app.mod.f1", "app.mod.f2", 10)
    edge_dropped = score(ref, [trace(kept)], walks=[trace(edge, kept)])
    assert "the walk has this edge, but :paths-only: drops it" in edge_dropped.results[0].why


def test_table_has_one_row_per_flow() -> None:
    ref = parse_reference(ref_data(chain()))
    steps = [step(i, f"app.mod.f{i}", f"app.mod.f{i + 1}", 10 * i) for i in range(1, 9)]
    result = score(ref, [trace(*steps)])
    assert result.meets_target
    table = format_table([result])
    assert table.splitlines()[1].split()[:4] == ["f", "8/8", "(100%)", "yes"]


# -- pages and the engine -----------------------------------------------------------------------------------------


PAGE = """Demo
====

.. codetrace:: Handle a request
   :entry: demo:tinyserve.Server.handle
   :stop-at: tinyserve.runner.ModelRunner.forward
   :depth: 4
   :paths-only:
"""


def demo_ref(**changes) -> dict:
    steps = [
        ref_step("tinyserve.server.Server.handle", "tinyserve.validation.validate_request", 23),
        ref_step("tinyserve.server.Server.handle", "tinyserve.server.Server._ensure_started", 26),
        ref_step("tinyserve.server.Server._ensure_started", "tinyserve.scheduler.Scheduler.run_forever", 44),
        ref_step("tinyserve.scheduler.Scheduler.run_forever", "tinyserve.runner.ModelRunner.forward", 33),
        ref_step("tinyserve.server.Server.handle", "tinyserve.tokenizer.Tokenizer.encode", 27),
        ref_step("tinyserve.server.Server.handle", "tinyserve.scheduler.Scheduler.submit", 29),
        ref_step("tinyserve.server.Server.handle", "tinyserve.tokenizer.Tokenizer.decode", 38),
        ref_step("tinyserve.server.Server.handle", "tinyserve.server.Server._error", 25),
    ]
    paths = {
        23: "server.py",
        26: "server.py",
        44: "server.py",
        33: "scheduler.py",
        27: "server.py",
        29: "server.py",
        38: "server.py",
        25: "server.py",
    }
    for s in steps:
        s["path"] = f"demo:src/tinyserve/{paths[s['line']]}"
    steps[3]["end"] = True
    data = {
        "name": "demo",
        "title": "Demo",
        "page": "demo.rst",
        "repos": ["demo"],
        "spec": [
            {
                "title": "Handle a request",
                "entry": "demo:tinyserve.Server.handle",
                "stop_at": ["tinyserve.runner.ModelRunner.forward"],
            }
        ],
        "steps": steps,
    }
    data.update(changes)
    return data


def test_demo_flow_through_the_engine(tmp_path: Path) -> None:
    """The page's directive is run as the docs would run it; :paths-only: keeps the spine to the stop point,
    so the calls off it are missing, and explained from the whole walk."""
    ref = parse_reference(demo_ref())
    page = tmp_path / "demo.rst"
    page.write_text(PAGE)
    from sphinxext.codetrace.flowscore import page_directives

    directives = page_directives(page)
    assert spec_mismatches(ref, directives) == []
    result = trace_flow_specs(ref, directives, engine_for({"demo": DEMO}, tmp_path / "cache"))
    assert not result.errors
    found = {r.ref.n for r in result.found}
    assert {2, 3, 4} <= found and result.end_reached  # handle -> _ensure_started -> run_forever -> forward
    # validate_request leads to no stop point, but its value does: request -> seq -> submit(seq), on the path
    assert 1 in found
    assert 7 in {r.ref.n for r in result.missing}  # the response is built off the path
    why = next(r.why for r in result.missing if r.ref.n == 7)
    assert "the walk has this edge, but :paths-only: drops it" in why


def test_spec_mismatches_and_missing_directives(tmp_path: Path) -> None:
    ref = parse_reference(
        demo_ref(
            bridges=[{"source": "a.b", "target": "demo:c.d", "label": "HTTP", "why": "a network hop"}],
        )
    )
    page = tmp_path / "demo.rst"
    page.write_text(PAGE.replace("demo:tinyserve.Server.handle", "demo:tinyserve.Server.run"))
    from sphinxext.codetrace.flowscore import page_directives

    problems = spec_mismatches(ref, page_directives(page))
    assert any("the page's entry is 'demo:tinyserve.Server.run'" in p for p in problems)
    assert any("declares bridges []" in p for p in problems)
    assert spec_mismatches(ref, {}) == ["demo.rst: no directive titled 'Handle a request'"]
    result = trace_flow_specs(ref, {}, engine=None)
    assert result.errors == ["demo.rst has no codetrace directive titled 'Handle a request'"]
    assert result.recall == 0 and not result.meets_target


def test_checkouts_from_the_environment(tmp_path: Path) -> None:
    ref = parse_reference(ref_data(chain(), repos=["app", "kv-router"]))
    assert env_var("kv-router") == "CODETRACE_KV_ROUTER"
    found, unset = checkouts(ref, {"CODETRACE_APP": str(tmp_path), "CODETRACE_KV_ROUTER": " "})
    assert found == {"app": tmp_path} and unset == ["CODETRACE_KV_ROUTER"]
