"""Whole call graphs in PyCG's format: ``python -m sphinxext.codetrace callgraph PATH... --format pycg``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from sphinxext.codetrace.callgraph import build_callgraph, pycg_name, python_sources
from sphinxext.codetrace.cli import main

FILES = {
    "app/__init__.py": "",
    "app/main.py": """\
        import os.path

        from app import tools
        from app.tools import apply, Store


        def dec(fn):
            return fn


        def on_save():
            pass


        class Failure(Exception):
            def __init__(self):
                pass


        class Service:
            limit = os.path.join("a", "b")

            @dec
            def run(self):
                square = lambda x: x * x
                square(2)
                apply(on_save)
                len([1])
                with Store() as s:
                    s.get()
                raise Failure


        Service().run()
        """,
    "app/tools.py": """\
        def apply(fn):
            return fn()


        class Store:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                pass

            def get(self):
                pass
        """,
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_pycg_format_from_the_command_line(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["callgraph", "app", "--format", "pycg"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["app.main"] == ["app.main.Service.run"]
    # a class body is a node of its own; a decorator is called where the decorated function is defined
    assert graph["app.main.Service"] == ["app.main.dec", "os.path.join"]
    assert graph["app.main.Service.run"] == [
        "<builtin>.len",
        "app.main.Failure.__init__",  # a class raised bare is instantiated
        "app.main.Service.run.<lambda1>",
        "app.tools.Store.__enter__",
        "app.tools.Store.__exit__",
        "app.tools.Store.get",
        "app.tools.apply",
    ]
    # what apply() receives is followed into it, across files
    assert graph["app.tools.apply"] == ["app.main.on_save"]
    assert graph["app.main.on_save"] == [] and graph["app.tools.Store.get"] == []


def test_graph_is_deterministic_and_independent_of_file_order(tree: Path) -> None:
    files = python_sources([tree / "app"])
    first = build_callgraph(files, tree)
    assert build_callgraph(list(reversed(files)), tree) == first
    assert json.dumps(first, sort_keys=True) == json.dumps(build_callgraph([tree / "app"], tree), sort_keys=True)


def test_single_file_and_module_names_relative_to_the_root(tree: Path) -> None:
    graph = build_callgraph([tree / "app" / "tools.py"], tree)
    assert set(graph) == {
        "app.tools",
        "app.tools.apply",
        "app.tools.Store",
        *(f"app.tools.Store.{m}" for m in ("__enter__", "__exit__", "get")),
    }


def test_pycg_names() -> None:
    assert pycg_name("builtins.len") == "<builtin>.len"
    assert pycg_name("ext.Cls().fun") == "ext.Cls.fun"
    assert pycg_name("logging.getLogger().info") == "logging.getLogger.info"


def test_two_calls_at_one_position_with_one_shortened_text(tmp_path: Path) -> None:
    """``f(<long arguments>).a().b()``: both calls start where ``f`` does and their texts are shortened to the
    same prefix; each still gets its own callee."""
    arguments = ", ".join(f"argument_number_{i}" for i in range(12))
    (tmp_path / "m.py").write_text(
        textwrap.dedent(f"""\
            class Store:
                def get(self):
                    return self

                def put(self):
                    pass


            def make(*args):
                return Store()


            def use():
                make({arguments}).get().put()
            """),
        encoding="utf-8",
    )
    graph = build_callgraph([tmp_path / "m.py"], tmp_path)
    assert graph["m.use"] == ["m.Store.get", "m.Store.put", "m.make"]
