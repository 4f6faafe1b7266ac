"""Index: the Python frontend's facts for one file, and the content-addressed disk cache."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import textwrap
from pathlib import Path

import pytest
from helpers import make_workspace

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.index.guard import paused_gc, rare_full_collections
from sphinxext.codetrace.index.python import chain_of, parse_python
from sphinxext.codetrace.model import (
    Binding,
    CallSite,
    Definition,
    FileFacts,
    Flow,
    Import,
    Lang,
    Param,
    StepKind,
    builder,
    facts_from_plain,
    to_plain,
)
from sphinxext.codetrace.workspace import RepoConfig

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    import os.path
    import numpy as np
    from typing import Optional
    from .sibling import helper as h
    from ..up import thing
    from . import peer
    from .stars import *

    __all__ = ["Service", "run"]


    @decorator
    @other.deco(arg=1)
    async def run(a: int, b: "Store" = None, *args: str, key: Optional[int] = 3, **kw) -> list[str]:
        await fetch(a)
        return [x async for x in stream()]


    class Service(Base, metaclass=Meta):
        limit: int = 3

        def __init__(self, store: Store) -> None:
            self.store = store
            self.cache = Cache()
            self.count: int = 0

        def go(self, key):
            def inner():
                return helper()

            try:
                try:
                    self.store.get(transform(key), other(key))
                except (KeyError, IndexError):
                    recover()
            except ValueError as exc:
                raise RuntimeError("wrapped") from exc
            if not key:
                raise
            value = Factory().build().run()
            asyncio.create_task(self.background(key))
            loop.run_in_executor(None, blocking, key)
            threading.Thread(target=self.worker, daemon=True).start()
            return inner()
    ''')


@pytest.fixture(scope="module")
def facts() -> FileFacts:
    return parse_python(SOURCE, "pkg/sub/mod.py", "pkg.sub.mod", is_package=False)


def line_of(text: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(SOURCE.splitlines(), start=1):
        if text in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(text)


def test_header(facts: FileFacts) -> None:
    assert (facts.path, facts.lang, facts.module, facts.error) == ("pkg/sub/mod.py", Lang.PYTHON, "pkg.sub.mod", None)
    assert facts.all_names == ("Service", "run")


def test_definitions_use_the_def_line_not_the_decorator(facts: FileFacts) -> None:
    run = facts.definition("run")
    assert run is not None
    assert run.line == line_of("async def run") != line_of("@decorator")
    assert run.end_line == line_of("return [x async for x")
    assert run.decorators == ("decorator", "other.deco(arg=1)")
    assert run.is_async and run.kind == "function" and not run.in_class and run.parent == ""
    assert run.returns == "list[str]"


def test_params_and_annotations(facts: FileFacts) -> None:
    assert facts.definition("run").params == (
        Param("a", "int"),
        Param("b", '"Store"', has_default=True),
        Param("args", "str", star="*"),
        Param("key", "Optional[int]", has_default=True),
        Param("kw", None, star="**"),
    )
    init = facts.definition("Service.__init__")
    assert init.params == (Param("self"), Param("store", "Store"))
    assert init.returns == "None"
    assert not init.is_async


def test_classes_methods_and_nested_functions(facts: FileFacts) -> None:
    service = facts.definition("Service")
    assert (service.kind, service.bases, service.line) == ("class", ("Base",), line_of("class Service"))
    go = facts.definition("Service.go")
    assert go.in_class and go.parent == "Service"
    inner = facts.definition("Service.go.inner")
    assert inner is not None and inner.parent == "Service.go" and not inner.in_class
    assert [d.qualname for d in facts.definitions] == [
        "run",
        "Service",
        "Service.__init__",
        "Service.go",
        "Service.go.inner",
    ]


def test_imports_made_absolute_in_a_module(facts: FileFacts) -> None:
    assert [(i.name, i.target, i.star) for i in facts.imports] == [
        ("os", "os", False),
        ("np", "numpy", False),
        ("Optional", "typing.Optional", False),
        ("h", "pkg.sub.sibling.helper", False),
        ("thing", "pkg.up.thing", False),
        ("peer", "pkg.sub.peer", False),
        ("*", "pkg.sub.stars", True),
    ]
    assert facts.imports[0] == Import("", "os", "os", line_of("import os.path"))


def test_relative_imports_in_a_package_init_are_relative_to_the_package() -> None:
    source = "from .sibling import helper\nfrom ..up import thing\nfrom . import peer\nfrom .stars import *\n"
    init = parse_python(source, "pkg/sub/__init__.py", "pkg.sub", is_package=True)
    module = parse_python(source, "pkg/sub/mod.py", "pkg.sub.mod", is_package=False)
    assert [i.target for i in init.imports] == [
        "pkg.sub.sibling.helper",
        "pkg.up.thing",
        "pkg.sub.peer",
        "pkg.sub.stars",
    ]
    assert [i.target for i in module.imports] == [
        "pkg.sub.sibling.helper",
        "pkg.up.thing",
        "pkg.sub.peer",
        "pkg.sub.stars",
    ]
    top = parse_python(source, "pkg/__init__.py", "pkg", is_package=True)
    assert [i.target for i in top.imports][:3] == ["pkg.sibling.helper", "up.thing", "pkg.peer"]


def test_import_aliases_and_scopes() -> None:
    facts = parse_python("import a.b.c\nimport a.b as ab\ndef f():\n    from x import y as z\n", "m.py", "m", False)
    assert [(i.scope, i.name, i.target) for i in facts.imports] == [
        ("", "a", "a"),
        ("", "ab", "a.b"),
        ("f", "z", "x.y"),
    ]


def calls_in(facts: FileFacts, scope: str):
    return [c for c in facts.calls if c.scope == scope]


def test_calls_in_execution_order(facts: FileFacts) -> None:
    go = calls_in(facts, "Service.go")
    texts = [c.text for c in go]
    # arguments are evaluated before the call that takes them
    assert texts.index("transform") < texts.index("self.store.get")
    assert texts.index("other") < texts.index("self.store.get")
    assert texts.index("transform") < texts.index("other")
    # chained calls: the inner call first
    assert texts.index("Factory") < texts.index("Factory().build") < texts.index("Factory().build().run")
    chain = next(c for c in go if c.text == "Factory().build().run").chain
    assert chain == ("Factory()", "build()", "run")
    assert texts[-1] == "inner"
    assert [c.text for c in calls_in(facts, "Service.go.inner")] == ["helper"]
    # a call site's position is where its callee expression starts
    get = next(c for c in go if c.text == "self.store.get")
    assert (get.line, get.col) == (line_of("self.store.get"), line_of_col("self.store.get"))
    assert get.args == ("transform(key)", "other(key)")


def line_of_col(text: str) -> int:
    return SOURCE.splitlines()[line_of(text) - 1].index(text)


def test_await_and_spawn_kinds(facts: FileFacts) -> None:
    run = calls_in(facts, "run")
    assert [(c.text, c.kind) for c in run] == [("fetch", StepKind.AWAIT), ("stream", StepKind.CALL)]
    go = {c.text: c for c in calls_in(facts, "Service.go")}
    assert go["self.background"].kind is StepKind.SPAWN
    assert go["asyncio.create_task"].kind is StepKind.CALL
    assert go["blocking"].kind is StepKind.SPAWN  # run_in_executor(None, fn, ...)
    assert go["self.worker"].kind is StepKind.SPAWN  # Thread(target=...)
    assert go["self.store.get"].kind is StepKind.CALL


def test_handlers_inside_try(facts: FileFacts) -> None:
    go = {c.text: c for c in calls_in(facts, "Service.go")}
    assert go["self.store.get"].handlers == ("(KeyError, IndexError)", "ValueError")  # innermost first
    assert go["transform"].handlers == ("(KeyError, IndexError)", "ValueError")
    assert go["recover"].handlers == ("ValueError",)  # in the inner handler: only the outer try guards it
    assert go["RuntimeError"].handlers == ()  # in a handler of the outer try: not guarded
    assert go["Factory"].handlers == ()
    assert go["inner"].handlers == ()


def test_bare_except_is_base_exception() -> None:
    facts = parse_python("def f():\n    try:\n        g()\n    except:\n        pass\n", "m.py", "m", False)
    assert facts.calls[0].handlers == ("BaseException",)


def test_handlers_do_not_leak_into_functions_defined_in_a_try() -> None:
    source = textwrap.dedent("""\
        try:
            import numpy
            def fast(x):
                return numpy.sum(x)
        except ImportError:
            pass
        """)
    facts = parse_python(source, "m.py", "m", False)
    (call,) = calls_in(facts, "fast")
    assert call.handlers == ()


def test_raise_sites(facts: FileFacts) -> None:
    raises = [(r.scope, r.line, r.text) for r in facts.raises]
    assert raises == [
        ("Service.go", line_of('raise RuntimeError("wrapped")'), 'RuntimeError("wrapped")'),
        ("Service.go", SOURCE.splitlines().index("            raise") + 1, "(re-raise)"),
    ]


def test_decorator_and_default_calls_belong_to_the_enclosing_scope() -> None:
    source = textwrap.dedent("""\
        @register("h")
        def handler(a=make_default()):
            return helper()
        """)
    facts = parse_python(source, "m.py", "m", False)
    assert {c.text: c.scope for c in facts.calls} == {"register": "", "make_default": "", "helper": "handler"}


def test_bindings(facts: FileFacts) -> None:
    bindings = {(b.scope, b.name): b for b in facts.bindings}
    assert bindings[("Service.__init__", "self.store")].value == ("store",)
    assert bindings[("Service.__init__", "self.cache")].value == ("Cache()",)
    assert bindings[("Service.__init__", "self.count")].annotation == "int"
    assert bindings[("Service", "limit")] == Binding("Service", "limit", line_of("limit: int"), (), "int")
    assert bindings[("Service.go", "value")].value == ("Factory()", "build()", "run()")
    assert ("", "__all__") not in bindings


def test_all_names_only_for_literal_lists() -> None:
    assert parse_python("__all__ = ('a', 'b')\n", "m.py", "m", False).all_names == ("a", "b")
    assert parse_python("__all__ = ['a'] + other\n", "m.py", "m", False).all_names is None
    assert parse_python("__all__ = [name]\n", "m.py", "m", False).all_names is None
    assert parse_python("x = 1\n", "m.py", "m", False).all_names is None


def test_chain_of_non_chains() -> None:
    import libcst as cst

    assert chain_of(cst.parse_expression("a.b.c")) == ("a", "b", "c")
    assert chain_of(cst.parse_expression("a().b")) == ("a()", "b")
    assert chain_of(cst.parse_expression("super().f")) == ("super()", "f")
    assert chain_of(cst.parse_expression("d['k'].f")) == ()
    assert chain_of(cst.parse_expression("(lambda: 1)")) == ()
    assert chain_of(cst.parse_expression("None")) == ()


def test_uncalled_subscript_call_has_empty_chain_and_keeps_text() -> None:
    facts = parse_python("def f(t):\n    t['k'](1)\n", "m.py", "m", False)
    (call,) = facts.calls
    assert call.chain == () and call.text == "t['k']"


def test_syntax_error_gives_error_facts() -> None:
    facts = parse_python("def broken(:\n    pass\n", "b.py", "b", False)
    assert facts.error is not None and "syntax error" in facts.error
    assert facts.definitions == facts.calls == facts.imports == ()


def test_long_callee_text_is_shortened() -> None:
    name = "a" * 300
    facts = parse_python(f"def f():\n    {name}()\n", "m.py", "m", False)
    assert len(facts.calls[0].text) == 120 and facts.calls[0].text.endswith("…")


def test_facts_survive_a_plain_round_trip(facts: FileFacts) -> None:
    plain = json.loads(json.dumps(to_plain(facts)))
    assert facts_from_plain(plain) == facts


def _shape(value: object) -> object:
    """The type of every value in ``value``, recursively (``==`` alone takes ``"call"`` for ``StepKind.CALL``)."""
    if isinstance(value, tuple):
        return ("tuple", tuple(_shape(v) for v in value))
    if dataclasses.is_dataclass(value):
        return (type(value).__name__, tuple(_shape(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return type(value).__name__


def test_decoded_facts_have_the_types_of_parsed_ones(facts: FileFacts) -> None:
    decoded = facts_from_plain(json.loads(json.dumps(to_plain(facts))))
    assert facts.flow and facts.calls and facts.definitions[0].params  # trees, kinds and params are compared
    assert _shape(decoded) == _shape(facts)


@pytest.mark.parametrize("field", ["definitions", "imports", "calls", "raises", "bindings", "flow"])
def test_decoding_facts_with_a_missing_field_raises(facts: FileFacts, field: str) -> None:
    plain = json.loads(json.dumps(to_plain(facts)))
    first = plain[field][0]
    del first[next(iter(first))]
    with pytest.raises((KeyError, TypeError)):
        facts_from_plain(plain)


def test_builder_makes_what_the_dataclass_makes() -> None:
    cases = [
        (Param, ("x",), {}),
        (Param, ("x", "int", "*", True), {}),
        (CallSite, ("f", 1, 2, ("a", "b"), "a.b"), {"kind": StepKind.AWAIT, "args": ("1",)}),
        (Flow, ("f", 3, 4, "bind", ("n", "x"), ("k", None)), {}),
        (Definition, ("C.m", "function", 1, 2), {"params": (Param("self"),), "in_class": True}),
        (FileFacts, ("m.py", Lang.PYTHON, "m"), {"error": "broken"}),
    ]
    for cls, args, kwargs in cases:
        built = builder(cls)(*args, **kwargs)
        expected = cls(*args, **kwargs)
        assert type(built) is cls and built == expected and hash(built) == hash(expected)
        assert _shape(built) == _shape(expected)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, dataclasses.fields(cls)[0].name, None)
    with pytest.raises(TypeError):
        builder(Param)()


def test_builder_leaves_classes_it_does_not_fit_alone() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        x: int

    assert builder(Checked) is Checked and builder(Unslotted) is Unslotted


def test_paused_gc_restores_the_collector() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


# -- the Index and its disk cache ------------------------------------------------------------------------------


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/__init__.py").write_text("from .a import f\n", encoding="utf-8")
    (root / "pkg/a.py").write_text("def f():\n    return g()\n\ndef g():\n    return 1\n", encoding="utf-8")
    (root / "pkg/bad.py").write_text("def broken(:\n", encoding="utf-8")
    return root


def new_index(repo_dir: Path, cache: Path | None) -> tuple[Index, object]:
    workspace = make_workspace(RepoConfig("r", repo_dir))
    return Index(workspace, cache), workspace.repo("r")


def test_index_facts_are_memoised_and_recorded(repo_dir: Path) -> None:
    index, repo = new_index(repo_dir, None)
    with index.recording() as touched:
        first = index.facts(repo, "pkg/a.py")
        second = index.facts(repo, "pkg/a.py")
    assert first is second
    assert index.parsed == 1
    assert touched == {("r", "pkg/a.py")}
    assert first.module == "pkg.a"
    assert [d.qualname for d in first.definitions] == ["f", "g"]
    assert index.facts(repo, "pkg/__init__.py").imports[0].target == "pkg.a.f"


def test_index_problems_never_raise(repo_dir: Path) -> None:
    index, repo = new_index(repo_dir, None)
    bad = index.facts(repo, "pkg/bad.py")
    assert bad.error and index.problem("r", "pkg/bad.py").subtype == "parse"
    missing = index.facts(repo, "../outside.py")
    assert missing.error and index.problem("r", "../outside.py").subtype == "read"
    assert index.problem("r", "pkg/a.py") is None
    assert index.facts(repo, "pkg/a.py").error is None


def cache_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*.json") if not p.name.startswith(".tmp-"))


def test_disk_cache_serves_a_second_index(repo_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index1, repo1 = new_index(repo_dir, cache)
    facts1 = [index1.facts(repo1, p) for p in ("pkg/a.py", "pkg/__init__.py", "pkg/bad.py")]
    assert index1.parsed == 3
    assert len(cache_files(cache)) == 3
    assert not list(cache.rglob(".tmp-*"))  # atomic writes leave no temporary files

    index2, repo2 = new_index(repo_dir, cache)
    facts2 = [index2.facts(repo2, p) for p in ("pkg/a.py", "pkg/__init__.py", "pkg/bad.py")]
    assert index2.parsed == 0
    assert facts2 == facts1
    assert index2.problem("r", "pkg/bad.py").subtype == "parse"  # a cached error still warns


@pytest.mark.parametrize(
    "damage",
    [
        "",
        "{",
        "[]",
        "null",
        '{"format": 1}',
        '{"format": 99, "key": "x", "facts": {}}',
        "KEY_WITH_BAD_FACTS",
        "KEY_WITH_BAD_KIND",
        "FLIPPED_BIT",
        "NO_SHA",
    ],
)
def test_corrupt_cache_entries_are_reparsed(repo_dir: Path, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    index1, repo1 = new_index(repo_dir, cache)
    good = index1.facts(repo1, "pkg/a.py")
    (entry,) = cache_files(cache)
    key = entry.stem
    head, _, body = entry.read_text(encoding="utf-8").partition("\n")
    stored = json.loads(head)

    def sealed(facts: object) -> str:  # a well-formed entry (right format, key and checksum) around ``facts``
        text = json.dumps(facts)
        sha = hashlib.sha256(text.encode()).hexdigest()
        return json.dumps({"format": stored["format"], "key": key, "sha": sha}) + "\n" + text

    if damage == "KEY_WITH_BAD_FACTS":
        damage = sealed({"path": "x", "definitions": [{"bogus": 1}]})
    elif damage == "KEY_WITH_BAD_KIND":
        plain = to_plain(good)
        plain["calls"][0]["kind"] = "teleport"
        damage = sealed(plain)
    elif damage == "FLIPPED_BIT":  # valid JSON, right key, facts changed after sealing: the checksum catches it
        damage = head + "\n" + body.replace('"line":', '"line":1', 1)
    elif damage == "NO_SHA":
        del stored["sha"]
        damage = json.dumps(stored) + "\n" + body
    entry.write_text(damage, encoding="utf-8")

    index2, repo2 = new_index(repo_dir, cache)
    assert index2.facts(repo2, "pkg/a.py") == good
    assert index2.parsed == 1
    # the re-parse repaired the entry
    index3, repo3 = new_index(repo_dir, cache)
    assert index3.facts(repo3, "pkg/a.py") == good and index3.parsed == 0


def test_cache_entry_for_another_key_is_ignored(repo_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index1, repo1 = new_index(repo_dir, cache)
    index1.facts(repo1, "pkg/a.py")
    (entry,) = cache_files(cache)
    head, _, body = entry.read_text(encoding="utf-8").partition("\n")
    data = json.loads(head)
    facts = json.loads(body)
    facts["definitions"] = []  # poisoned facts, sealed with a valid checksum...
    body = json.dumps(facts)
    data["sha"] = hashlib.sha256(body.encode()).hexdigest()
    data["key"] = "0" * 64  # ...filed under a key that does not match
    entry.write_text(json.dumps(data) + "\n" + body, encoding="utf-8")
    index2, repo2 = new_index(repo_dir, cache)
    assert [d.qualname for d in index2.facts(repo2, "pkg/a.py").definitions] == ["f", "g"]
    assert index2.parsed == 1


def test_edited_file_is_reparsed(repo_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    index1, repo1 = new_index(repo_dir, cache)
    index1.facts(repo1, "pkg/a.py")
    index1.facts(repo1, "pkg/__init__.py")
    (repo_dir / "pkg/a.py").write_text("def f():\n    return h()\n\ndef h():\n    return 2\n", encoding="utf-8")
    index2, repo2 = new_index(repo_dir, cache)
    facts = index2.facts(repo2, "pkg/a.py")
    index2.facts(repo2, "pkg/__init__.py")
    assert index2.parsed == 1  # only the edited file
    assert [d.qualname for d in facts.definitions] == ["f", "h"]
    assert [c.text for c in facts.calls] == ["h"]


def test_same_content_at_another_path_is_not_shared(repo_dir: Path, tmp_path: Path) -> None:
    """The cache key includes the path and module: a copy of a file must not come back with the
    original's path or module."""
    (repo_dir / "pkg/copy.py").write_bytes((repo_dir / "pkg/a.py").read_bytes())
    cache = tmp_path / "cache"
    index, repo = new_index(repo_dir, cache)
    a = index.facts(repo, "pkg/a.py")
    copy = index.facts(repo, "pkg/copy.py")
    assert (a.path, a.module) == ("pkg/a.py", "pkg.a")
    assert (copy.path, copy.module) == ("pkg/copy.py", "pkg.copy")
    assert index.parsed == 2


def test_unwritable_cache_dir_does_not_break_indexing(repo_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    index, repo = new_index(repo_dir, blocker)
    assert [d.qualname for d in index.facts(repo, "pkg/a.py").definitions] == ["f", "g"]


@pytest.mark.parametrize("encoder", ["orjson", "json"])
def test_cache_entries_round_trip_with_either_encoder(
    repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder: str
) -> None:
    """orjson encodes the dataclasses directly; without it, to_plain + json write the same JSON."""
    import sphinxext.codetrace.index as index_module

    if encoder == "json":
        monkeypatch.setattr(index_module, "orjson", None)
    cache = tmp_path / "cache"
    index1, repo1 = new_index(repo_dir, cache)
    good = index1.facts(repo1, "pkg/a.py")
    (entry,) = cache_files(cache)
    body = entry.read_bytes().partition(b"\n")[2]
    assert json.loads(body) == to_plain(good)  # the same document either way
    index2, repo2 = new_index(repo_dir, cache)
    assert index2.facts(repo2, "pkg/a.py") == good and index2.parsed == 0


def test_rare_full_collections_raises_only_the_oldest_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    with rare_full_collections():
        inside = gc.get_threshold()
        assert inside[:2] == before[:2] and inside[2] >= 1000
    assert gc.get_threshold() == before
    with pytest.raises(ValueError), rare_full_collections():
        raise ValueError("inside")
    assert gc.get_threshold() == before


# -- the whole-workspace text index, kept by content digest ---------------------------------------------------


def _text_index_run(root: Path, cache: Path) -> tuple[dict, list[str], dict]:
    """One engine's text index over ``root`` with ``cache``: (the index, the files scanned, what it recorded)."""
    from sphinxext.codetrace.tracecache import Checker

    workspace = make_workspace(RepoConfig("r", root))
    index = Index(workspace, cache)
    index.digest = Checker(workspace, cache).read
    scanned: list[str] = []

    def words(text: str) -> set[str]:
        scanned.append(text)
        return {w for w in text.split() if w.isidentifier()}

    with workspace.recording() as deps:
        found = index.python_text_index("words", words)
    return found, scanned, dict(deps.reads)


def test_the_text_index_is_kept_by_digest_and_rescans_only_changed_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("alpha shared\n")
    (root / "pkg" / "b.py").write_text("beta shared\n")
    for path in root.rglob("*.py"):  # old enough that a stored digest is trusted (see RACY_NS)
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    cache = tmp_path / "cache"
    first, scanned, reads = _text_index_run(root, cache)
    assert len(scanned) == 3 and first["shared"] == [("r", "pkg/a.py"), ("r", "pkg/b.py")]
    again, rescanned, reads_again = _text_index_run(root, cache)
    assert rescanned == [] and again == first and reads_again == reads  # same answer, same dependencies
    (root / "pkg" / "b.py").write_text("gamma shared\n")
    changed, rescanned, reads_changed = _text_index_run(root, cache)
    assert rescanned == ["gamma shared\n"] and "beta" not in changed and changed["gamma"] == [("r", "pkg/b.py")]
    assert reads_changed[("r", "pkg/b.py")] != reads[("r", "pkg/b.py")]
    for stored in (cache / "text").glob("*.json"):  # a damaged store is ignored and rewritten
        stored.write_text("{not json")
    damaged, rescanned, _ = _text_index_run(root, cache)
    assert damaged == changed and len(rescanned) == 3


def test_a_second_text_index_reads_no_file_again(tmp_path: Path, monkeypatch) -> None:
    from sphinxext.codetrace.workspace import Repo

    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("alpha\n")
    (root / "pkg" / "bad.py").write_bytes(b"\xff\xfe not utf-8")
    workspace = make_workspace(RepoConfig("r", root))
    index = Index(workspace, None)
    reads: list[str] = []
    real = Repo.read_text
    monkeypatch.setattr(Repo, "read_text", lambda self, relpath: reads.append(relpath) or real(self, relpath))
    with workspace.recording() as first:
        assert index.python_text_index("one", lambda text: set(text.split()))["alpha"] == [("r", "pkg/a.py")]
    assert sorted(reads) == ["pkg/__init__.py", "pkg/a.py", "pkg/bad.py"]
    with workspace.recording() as second:
        assert index.python_text_index("two", lambda text: {t.upper() for t in text.split()})["ALPHA"]
    assert len(reads) == 3 and second.reads == first.reads  # no read, the same dependencies (the bad file too)
    assert ("r", "pkg/bad.py") in first.reads  # an unreadable file is a dependency too (it may be fixed)


# -- text indexes scanned ahead of need, in a forked worker (index/ahead.py) ----------------------------------


def _ahead_repo(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text("alpha shared\n")
    (root / "pkg" / "b.py").write_text("beta shared\n")
    (root / "pkg" / "bad.py").write_bytes(b"\xff\xfe not utf-8")


def _words(text: str) -> set[str]:
    return {w for w in text.split() if w.isidentifier()}


@pytest.fixture
def scan_always(monkeypatch):
    """Text indexes are scanned ahead on this machine whatever the workspace's size (two cores assumed)."""
    from sphinxext.codetrace.index import ahead

    monkeypatch.setattr(ahead, "SCAN_MIN", 1)
    monkeypatch.setattr(ahead.os, "cpu_count", lambda: 2)
    return ahead


def test_a_text_index_scanned_ahead_equals_one_scanned_here(tmp_path: Path, monkeypatch, scan_always) -> None:
    from sphinxext.codetrace.workspace import Repo

    _ahead_repo(tmp_path / "repo")
    here = make_workspace(RepoConfig("r", tmp_path / "repo"))
    with here.recording() as expected_deps:
        expected = Index(here, None).python_text_index("words", _words)

    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    assert index._ahead is None  # nothing starts before the first Python file is parsed
    index.facts(workspace.repos["r"], "pkg/a.py")
    assert index._ahead is not None  # the worker runs
    reads: list[str] = []
    real = Repo.read_text
    monkeypatch.setattr(Repo, "read_text", lambda self, relpath: reads.append(relpath) or real(self, relpath))
    with workspace.recording() as deps:
        found = index.python_text_index("words", _words)
    assert found == expected and found["shared"] == [("r", "pkg/a.py"), ("r", "pkg/b.py")]
    assert deps.reads == expected_deps.reads and deps.scans == expected_deps.scans  # the same dependencies
    assert reads == ["pkg/bad.py"]  # the worker's words served every readable file: only the bad one is read
    assert workspace.repos["r"].stats.keys() >= {"pkg/a.py", "pkg/b.py"}  # their stats too, for the checker


def test_a_file_read_with_other_content_here_is_scanned_again(tmp_path: Path, scan_always) -> None:

    _ahead_repo(tmp_path / "repo")
    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    index.facts(workspace.repos["r"], "pkg/__init__.py")
    index._ahead.words("words", "r")  # the worker is done: what it read is known
    (tmp_path / "repo" / "pkg" / "b.py").write_text("gamma shared\n")
    index.facts(workspace.repos["r"], "pkg/b.py")  # this process reads the new content
    found = index.python_text_index("words", _words)
    assert found["gamma"] == [("r", "pkg/b.py")] and "beta" not in found


def test_a_failed_scan_leaves_the_index_to_this_process(tmp_path: Path, monkeypatch, scan_always) -> None:
    from sphinxext.codetrace.index import ahead

    _ahead_repo(tmp_path / "repo")

    def explode(jobs):
        raise RuntimeError("the worker fails")

    monkeypatch.setattr(ahead, "_scan", explode)
    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    index.facts(workspace.repos["r"], "pkg/a.py")
    assert index._ahead is not None
    assert index.python_text_index("words", _words)["alpha"] == [("r", "pkg/a.py")]
    assert index._ahead.words("words", "r") is None


def test_no_scan_ahead_for_few_files_stored_words_or_one_core(tmp_path: Path, monkeypatch) -> None:
    from sphinxext.codetrace.index import ahead
    from sphinxext.codetrace.tracecache import Checker

    _ahead_repo(tmp_path / "repo")
    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    index.facts(workspace.repos["r"], "pkg/a.py")
    assert index._ahead is None  # 4 files: under SCAN_MIN
    monkeypatch.setattr(ahead, "SCAN_MIN", 1)
    monkeypatch.setattr(ahead.os, "cpu_count", lambda: 1)
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    index.facts(workspace.repos["r"], "pkg/a.py")
    assert index._ahead is None  # one core
    monkeypatch.setattr(ahead.os, "cpu_count", lambda: 2)
    cache = tmp_path / "cache"
    stored = Index(workspace, cache)
    stored.digest = Checker(workspace, cache).read
    stored.python_text_index("words", _words)  # words stored on disk: a later build has them
    again = Index(workspace, cache)
    again.digest = Checker(workspace, cache).read
    again.scan_ahead({"words": _words})
    again.facts(workspace.repos["r"], "pkg/a.py")
    assert again._ahead is None


def test_a_scan_worker_waits_while_a_prefetch_has_the_second_core(tmp_path: Path, scan_always) -> None:
    import time

    _ahead_repo(tmp_path / "repo")

    def slow_words(text: str) -> set[str]:
        time.sleep(0.2)  # the worker is still scanning when it is paused
        return _words(text)

    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": slow_words})
    index.facts(workspace.repos["r"], "pkg/a.py")
    scan = index._ahead
    assert scan is not None
    (pid,) = scan._worker

    def state() -> str:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    if not Path(f"/proc/{pid}/stat").exists():
        pytest.skip("needs /proc to see a process's state")

    def settles(stopped: bool) -> bool:  # a signal takes effect when the worker next runs: allow a slow host
        deadline = time.monotonic() + 5
        while (state() == "T") != stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        return (state() == "T") == stopped

    with scan.paused():
        assert settles(stopped=True)
    assert settles(stopped=False)
    assert index.python_text_index("words", slow_words)["alpha"] == [("r", "pkg/a.py")]


def _hinting_repo(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text(
        "from pkg import b\nimport pkg.c as c\n\n\ndef f():\n    import pkg.d\n    b.g()\n"
    )
    (root / "pkg" / "b.py").write_text("def g():\n    return 1\n")
    (root / "pkg" / "c.py").write_text("X = 1\n")
    (root / "pkg" / "d.py").write_text("Y = 2\n")


def test_files_imported_by_a_parsed_file_are_parsed_ahead_into_the_cache(tmp_path: Path, scan_always) -> None:
    import time

    _hinting_repo(tmp_path / "repo")
    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    repo = workspace.repos["r"]
    expected = {p: Index(workspace, None).facts(repo, p) for p in ("pkg/b.py", "pkg/c.py", "pkg/d.py")}
    cache = tmp_path / "cache"
    index = Index(workspace, cache)
    index.scan_ahead({"words": _words})
    with workspace.recording() as deps:
        index.facts(repo, "pkg/a.py")
    scan = index._ahead
    assert scan is not None
    assert scan.hinted == {("r", "pkg/b.py"), ("r", "pkg/c.py")}  # module level only: not pkg.d
    assert all(key[0] == "r" for key in deps.reads)  # hinting recorded nothing but what a.py's load read
    assert set(deps.reads) == {("r", "pkg/a.py")} and not deps.probes
    deadline = time.monotonic() + 30
    while len(list(cache.rglob("*.json"))) < 3 and time.monotonic() < deadline:  # a.py (here), b.py, c.py
        time.sleep(0.02)
    index.close()
    parsed = index.parsed
    assert index.facts(repo, "pkg/b.py") == expected["pkg/b.py"]
    assert index.facts(repo, "pkg/c.py") == expected["pkg/c.py"]
    assert index.parsed == parsed  # both from the cache the worker filled
    assert index.facts(repo, "pkg/d.py") == expected["pkg/d.py"] and index.parsed == parsed + 1
    assert not list(cache.rglob(".tmp-*"))
    assert not any(Path(p).exists() for p in scan._paths.values())  # the worker's files are gone


def _scan_script(repo: Path) -> str:
    """The start of a Python program, run in a process of its own, with a workspace over ``repo`` (as
    ``workspace`` and ``repo``) where text indexes are always scanned ahead."""
    return f"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from helpers import make_workspace
from sphinxext.codetrace.index import Index, ahead
from sphinxext.codetrace.workspace import RepoConfig
ahead.SCAN_MIN = 1
ahead.os.cpu_count = lambda: 2
workspace = make_workspace(RepoConfig("r", Path({str(repo)!r})))
repo = workspace.repos["r"]
"""


def test_closing_a_scan_never_waits_on_a_pipe_another_worker_holds(tmp_path: Path) -> None:
    """A worker waiting for hints is stopped by a signal, not by the end of its pipe: a worker forked later
    holds that pipe's write end too (this hung a build of two flows)."""
    import subprocess
    import sys

    _hinting_repo(tmp_path / "repo")
    script = (
        _scan_script(tmp_path / "repo")
        + f"""
first = Index(workspace, Path({str(tmp_path / "c1")!r}))
first.scan_ahead({{"w": str.split}})
first.facts(repo, "pkg/a.py")
second = Index(workspace, Path({str(tmp_path / "c2")!r}))
second.scan_ahead({{"w": str.split}})
second.facts(repo, "pkg/a.py")
assert first._ahead is not None and second._ahead is not None
time.sleep(0.5)  # both workers wait for hints
first.close()
second.close()
print("closed")
"""
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"


def test_no_worker_is_forked_when_the_environment_says_so(tmp_path: Path, monkeypatch) -> None:
    from sphinxext.codetrace import behind
    from sphinxext.codetrace.forking import may_fork
    from sphinxext.codetrace.index import ahead

    monkeypatch.setattr(ahead.os, "cpu_count", lambda: 2)
    assert may_fork()
    monkeypatch.setenv("CODETRACE_WORKERS", "0")
    assert not may_fork()
    done: list[int] = []
    assert behind.run(lambda: done.append(1), size=10_000) is False and done == [1]  # here, at once
    _ahead_repo(tmp_path / "repo")
    monkeypatch.setattr(ahead, "SCAN_MIN", 1)
    workspace = make_workspace(RepoConfig("r", tmp_path / "repo"))
    index = Index(workspace, None)
    index.scan_ahead({"words": _words})
    index.facts(workspace.repos["r"], "pkg/a.py")
    assert index._ahead is None


def test_a_scan_worker_cleans_up_after_a_process_that_ends_without_exit_handlers(tmp_path: Path) -> None:
    """``sphinx-build -j`` readers end with ``os._exit``: no finalizer runs, yet the worker must neither stay
    nor leave its files behind."""
    import subprocess
    import sys
    import time

    _hinting_repo(tmp_path / "repo")
    script = (
        _scan_script(tmp_path / "repo")
        + """
index = Index(workspace, None)
index.scan_ahead({"one": str.split, "two": str.split})
index.facts(workspace.repos["r"], "pkg/a.py")
print(index._ahead._worker[0], *index._ahead._paths.values(), flush=True)
os._exit(0)
"""
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pid, *paths = done.stdout.split()
    deadline = time.monotonic() + 30
    while (Path(f"/proc/{pid}").exists() or any(Path(p).exists() for p in paths)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(p).exists() for p in paths)
    assert not Path(f"/proc/{pid}/stat").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
