"""Hostile input: pathological source must end with a warning, quickly, never a crash or a hang.

Each case ran in a subprocess before the guard existed: 10,000 nested brackets killed the process with a
segmentation fault inside libcst, and 100,000 chained ``+`` ran for over a minute.
"""

from __future__ import annotations

import ast
import time

import pytest

from sphinxext.codetrace.index.guard import deeper_than, python_parse, tree_depth
from sphinxext.codetrace.index.python import parse_python

N = 10_000


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("x = " + "(" * N + "1" + ")" * N + "\n", "too many nested parentheses"),
        ("x = " + "[" * N + "]" * N + "\n", "too many nested parentheses"),
        (
            "def f():\n" + "".join("    " * i + "if x:\n" for i in range(1, 300)) + "    " * 300 + "g()\n",
            "too many levels of indentation",
        ),
        ("x = 1" + " + 1" * 100_000 + "\n", "nesting too deep to analyse safely"),
        ("x = f(" * 150 + ")" * 150 + "\n" + "y = 1" + " + 1" * 400 + "\n", "nesting too deep"),
        ("def f(:\n", "syntax error at line 1"),
        ("a = 1\x00\n", "null bytes"),
    ],
    ids=["parens", "brackets", "indentation", "binop-chain", "deep-mix", "syntax", "null-byte"],
)
def test_pathological_python_is_refused_quickly(source: str, error: str) -> None:
    start = time.perf_counter()
    facts = parse_python(source, "gen.py", "gen", False)
    assert facts.error is not None and error in facts.error
    assert facts.definitions == () and facts.calls == ()
    assert time.perf_counter() - start < 5


def test_ordinary_nesting_is_still_analysed() -> None:
    source = "def f():\n    return g(" + "h(" * 40 + "1" + ")" * 40 + ")\n"
    facts = parse_python(source, "ok.py", "ok", False)
    assert facts.error is None
    assert len(facts.calls) == 41


#: Deep nesting written compactly: the depth bound reads a node's depth from the length of its text, and these
#: come closest to one level per character (or hide the nesting outside the node's position: decorators).
SHAPES = {
    "decorator": "@" + "a+" * 60 + "a\ndef f(): pass\n",
    "class-decorator": "@" + "a+" * 60 + "a\nclass C: pass\n",
    "unary": "x = " + "-" * 80 + "y\n",
    "not": "x = " + "not " * 50 + "y\n",
    "attributes": "x = a" + ".b" * 60 + "\n",
    "calls": "x = a" + "()" * 60 + "\n",
    "subscripts": "x = a" + "[0]" * 60 + "\n",
    "conditional": "x = " + "a if b else " * 40 + "c\n",
    "lambdas": "x = " + "lambda: " * 40 + "0\n",
    "power": "x = " + "**".join("a" * 60) + "\n",
    "brackets": "x = " + "[" * 50 + "]" * 50 + "\n",
    "elif": "if a: pass\n" + "elif b: pass\n" * 60,
    "patterns": "match x:\n    case " + "A(" * 40 + ")" * 40 + ": pass\n",
    "f-strings": "x = f'{a!r:>{w}}' + f\"{f'{g(h(i(j)))}'}\" + f'''{a\n+b+c}''' + " + "a + " * 30 + "b\n",
    "line-breaks": "x = (a +\n b +\r\n c +\r d) + \\\n e" + " + e" * 30 + "\n",
    "wide-characters": "é = 'ü' + " + "ç + " * 30 + "ß\n",
    "annotation": "x: " + "List[" * 30 + "int" + "]" * 30 + " = 1\n",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_depth_bound_is_exact_at_every_limit(name: str) -> None:
    source = SHAPES[name]
    tree = ast.parse(source)
    depth = tree_depth(tree, 10**6)
    assert depth > 30
    for limit in range(1, depth + 3):
        assert deeper_than(tree, source, limit) == (depth > limit), limit


def test_nesting_hidden_in_a_decorator_is_refused() -> None:
    source = "@" + "a + " * 400 + "a\ndef f(): pass\n"  # CPython parses it; the guard must refuse it
    assert python_parse(source).error == "nesting too deep to analyse safely (over 250 levels)"


# -- containment, cycles, time ---------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402

from sphinxext.codetrace.diagnostics import CodetraceError  # noqa: E402
from sphinxext.codetrace.spec import parse_options  # noqa: E402
from sphinxext.codetrace.trace import Engine  # noqa: E402
from sphinxext.codetrace.workspace import RepoConfig, Workspace  # noqa: E402


def _engine(root: Path, **kwargs) -> Engine:
    workspace, errors = Workspace.from_configs([RepoConfig("r", root)])
    assert errors == []
    return Engine(workspace, **kwargs)


def _trace(engine: Engine, entry: str, **options: str):
    return engine.trace(parse_options("t", {"entry": entry, **options}))


def test_a_module_symlinked_outside_the_repo_is_refused_with_a_warning(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def leak():\n    return 1\n")
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "secret.py").symlink_to(outside / "secret.py")
    (repo / "app" / "main.py").write_text("from app.secret import leak\n\n\ndef run():\n    return leak()\n")
    trace = _trace(_engine(repo), "app.main.run")
    (step,) = trace.steps
    assert step.callee is None and step.resolution.value == "unresolved"
    assert [w.subtype for w in trace.warnings] == ["read"]
    assert "app/secret.py leads outside the repository" in str(trace.warnings[0])
    assert not any("outside" in f for f in trace.files)


@pytest.mark.parametrize("entry", ["../outside/secret.py::leak", "/etc/passwd.py::x"])
def test_file_entries_outside_the_repo_are_refused(tmp_path: Path, entry: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.py").write_text("def leak():\n    return 1\n")
    (tmp_path / "repo").mkdir()
    with pytest.raises(CodetraceError) as info:
        _trace(_engine(tmp_path / "repo"), entry)
    assert info.value.diagnostic.subtype in ("unresolved", "read")


def test_a_cycle_of_a_thousand_re_exports_finishes_quickly(tmp_path: Path) -> None:
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(1000):
        (pkg / f"m{i}.py").write_text(f"from cyc.m{(i + 1) % 1000} import thing\n")
    (pkg / "main.py").write_text("from cyc.m0 import thing\n\n\ndef run():\n    return thing()\n")
    engine = _engine(tmp_path)
    start = time.perf_counter()
    trace = _trace(engine, "cyc.main.run")
    (step,) = trace.steps
    assert step.callee is None and step.target == "thing"  # unresolved, shown with its source text
    with pytest.raises(CodetraceError) as info:  # an entry through the cycle: a warning naming it
        _trace(engine, "cyc.m0.thing")
    assert info.value.diagnostic.subtype == "unresolved" and "cyc.m0" in str(info.value)
    assert time.perf_counter() - start < 30
    assert engine.index.parsed < 120  # the chase stops early: it does not parse all 1,000 modules


def test_the_time_budget_truncates_visibly(tmp_path: Path) -> None:
    (tmp_path / "chain.py").write_text(
        "".join(f"def f{i}():\n    f{i + 1}()\n    f{i + 1}()\n\n" for i in range(30)) + "def f30():\n    pass\n"
    )
    trace = _trace(_engine(tmp_path, time_budget=1e-9), "chain.f0", depth="40")
    assert trace.truncated and trace.truncation == "time budget"
    assert trace.to_json()["truncation"] == "time budget"
    from sphinxext.codetrace.render import sequence_diagram

    assert "(time budget)" in sequence_diagram(trace)
    untimed = _trace(_engine(tmp_path), "chain.f0", depth="40")
    assert not untimed.truncated and len(untimed.steps) > len(trace.steps)


def test_rust_modules_leading_outside_the_repo_are_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.rs").write_text("pub fn steal() {}\n")
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "Cargo.toml").write_text('[package]\nname = "demo"\nversion = "0.1.0"\n')
    (repo / "src" / "linked.rs").symlink_to(tmp_path / "outside.rs")
    (repo / "src" / "lib.rs").write_text(
        '#[path = "../../outside.rs"]\nmod evil;\nmod linked;\n\npub fn run() {\n    evil::steal();\n    linked::steal();\n}\n'
    )
    trace = _trace(_engine(repo), "demo::run")
    assert [s.callee for s in trace.steps] == [None, None]  # neither module was read
    refused = sorted(str(w) for w in trace.warnings if w.subtype == "read")
    assert len(refused) == 2
    assert "r:src/linked.rs leads outside the repository" in refused[1]
    assert "outside.rs leads outside the repository" in refused[0]
    assert not any("outside.rs" in f and "repo" not in f for f in trace.files)


def test_a_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "a.py").symlink_to(tmp_path / "app" / "b.py")
    (tmp_path / "app" / "b.py").symlink_to(tmp_path / "app" / "a.py")
    (tmp_path / "app" / "main.py").write_text("from app.a import f\n\n\ndef run():\n    return f()\n")
    trace = _trace(_engine(tmp_path), "app.main.run")
    (step,) = trace.steps
    assert step.callee is None


def test_a_fifty_megabyte_generated_file_is_skipped_quickly(tmp_path: Path) -> None:
    (tmp_path / "gen.py").write_bytes(b"x = 1\n" * (50 * 1024 * 1024 // 6))
    (tmp_path / "main.py").write_text("from gen import x\n\n\ndef run():\n    return x()\n")
    start = time.perf_counter()
    trace = _trace(_engine(tmp_path), "main.run")
    assert time.perf_counter() - start < 5
    assert any(w.subtype == "read" and "over the" in str(w) for w in trace.warnings)
