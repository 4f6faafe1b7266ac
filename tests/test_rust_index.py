"""The Rust frontend (index/rust.py): definitions, use trees, call chains, spawns, macros, error paths,
bindings, positions, and the facts cache round trip."""

from __future__ import annotations

import textwrap
import time

import pytest

from sphinxext.codetrace.index import Index
from sphinxext.codetrace.index.rust import FRONTEND_VERSION, parse_rust, query
from sphinxext.codetrace.model import Binding, FileFacts, Import, StepKind, facts_from_plain, to_plain
from sphinxext.codetrace.workspace import RepoConfig, Workspace


def facts(source: str) -> FileFacts:
    return parse_rust(textwrap.dedent(source).lstrip("\n"), "x.rs")


def defs(f: FileFacts) -> dict[str, object]:
    return {d.qualname: d for d in f.definitions}


def calls(f: FileFacts, scope: str | None = None) -> list[tuple[str, ...]]:
    return [c.chain for c in f.calls if scope is None or c.scope == scope]


PYO3 = """
use pyo3::prelude::*;

#[pyclass(name = "Router")]
#[derive(Clone)]
pub struct PyRouter {
    inner: Arc<KvRouter>,
}

#[pymethods]
impl PyRouter {
    #[new]
    fn new() -> Self {
        todo!()
    }

    #[pyo3(signature = (tokens))]
    pub async fn route(&self, tokens: Vec<u32>) -> PyResult<u64> {
        Ok(0)
    }
}

#[pyfunction]
fn helper(x: &str) -> String {
    x.to_string()
}

trait Scorer: Send {
    fn score(&self) -> u32;
    fn twice(&self) -> u32 {
        self.score() * 2
    }
}

impl Scorer for PyRouter {
    fn score(&self) -> u32 { 1 }
}

impl<T: Scorer + Clone> Wrapper<T> where T: Send {
    fn get(&self) -> &T { &self.0 }
}

enum Event { Start, Stop(u32) }
type Alias = Vec<PyRouter>;
const LIMIT: usize = 4;

mod inner {
    pub fn deep() {}
}

#[tokio::main]
async fn main() {}
"""


def test_definitions_lines_attributes_and_owners() -> None:
    f = facts(PYO3)
    d = defs(f)
    router = d["PyRouter"]
    assert (router.kind, router.keyword, router.line) == ("class", "struct", 5)  # the `struct` line, not #[..]
    assert router.decorators == ('#[pyclass(name = "Router")]', "#[derive(Clone)]")
    new = d["PyRouter::new"]
    assert (new.kind, new.line, new.parent, new.in_class) == ("function", 12, "PyRouter", True)
    assert new.decorators == ("#[pymethods]", "#[new]")  # the impl block's attributes first
    assert new.self_type == "PyRouter" and new.implements == ""
    route = d["PyRouter::route"]
    assert route.is_async and route.returns == "PyResult<u64>"
    assert [(p.name, p.annotation) for p in route.params] == [("self", "&self"), ("tokens", "Vec<u32>")]
    assert d["helper"].decorators == ("#[pyfunction]",) and d["helper"].parent == ""
    assert d["main"].decorators == ("#[tokio::main]",)


def test_traits_impls_and_items() -> None:
    d = defs(facts(PYO3))
    assert d["Scorer"].keyword == "trait" and d["Scorer"].bases == ("Send",)
    assert (d["Scorer::score"].keyword, d["Scorer::score"].parent, d["Scorer::score"].in_class) == (
        "fn-decl",
        "Scorer",
        True,
    )
    assert d["Scorer::twice"].keyword == "fn" and d["Scorer::twice"].self_type == ""
    # the trait impl's method: a second `score` in the file gets no suffix (it is PyRouter::score)
    score = d["PyRouter::score"]
    assert (score.self_type, score.implements) == ("PyRouter", "Scorer")
    get = d["Wrapper::get"]
    assert get.bounds == ("T: Scorer + Clone", "T: Send")
    impls = [x for x in d.values() if x.kind == "impl"]
    assert [(i.self_type, i.implements) for i in impls] == [
        ("PyRouter", ""),
        ("PyRouter", "Scorer"),
        ("Wrapper<T>", ""),
    ]
    assert d["Event::Stop"].kind == "variant" and d["Event::Stop"].parent == "Event"
    assert (d["Alias"].kind, d["Alias"].returns) == ("type", "Vec<PyRouter>")
    assert (d["LIMIT"].kind, d["LIMIT"].keyword) == ("value", "const")
    assert d["inner"].kind == "module" and d["inner::deep"].parent == "inner"


def test_repeated_qualnames_get_a_suffix() -> None:
    f = facts(
        """
        #[cfg(unix)]
        fn tune() {}
        #[cfg(not(unix))]
        fn tune() {}
        impl std::fmt::Display for X { fn fmt(&self) {} }
        impl std::fmt::Debug for X { fn fmt(&self) {} }
        """
    )
    names = [d.qualname for d in f.definitions if d.kind == "function"]
    assert names == ["tune", "tune#2", "X::fmt", "X::fmt#2"]
    assert {d.name for d in f.definitions if d.kind == "function"} == {"tune", "tune#2", "fmt", "fmt#2"}


def test_use_trees_are_flattened() -> None:
    f = facts(
        """
        use crate::a::{self, b::{C, D as E}, f::*};
        pub use super::x;
        use ::std::fmt;
        use std::{self as s, io::Write as _};
        extern crate foo as bar;
        extern crate baz;
        fn g() {
            use self::inner::h;
        }
        """
    )
    assert [(i.scope, i.name, i.target, i.star) for i in f.imports] == [
        ("", "a", "crate::a", False),
        ("", "C", "crate::a::b::C", False),
        ("", "E", "crate::a::b::D", False),
        ("", "*", "crate::a::f", True),
        ("", "x", "super::x", False),
        ("", "fmt", "::std::fmt", False),
        ("", "s", "std", False),
        ("", "bar", "::foo", False),
        ("", "baz", "::baz", False),
        ("g", "h", "self::inner::h", False),
    ]
    assert all(isinstance(i, Import) for i in f.imports)


def test_call_chains_distinguish_paths_and_methods() -> None:
    f = facts(
        """
        fn f() {
            a::b::c(1);
            Foo::<u8>::new(1).run();
            self.store.get(k);
            x.parse::<u32>();
            <T as Tr>::m(x);
            ::std::mem::take(x);
            "lit".to_string();
            Foo { a: 1 }.go();
            items[0].run();
            g()?.h().await;
        }
        """
    )
    assert calls(f) == [
        ("a", "b", "c"),
        ("Foo", "new"),
        ("Foo", "new()", ".run"),
        ("self", ".store", ".get"),
        ("x", ".parse"),
        ("<T as Tr>", "m"),
        ("::", "std", "mem", "take"),
        ("{expr}", ".to_string"),
        ("Foo{}", ".go"),
        ("items", "[]", ".run"),
        ("g",),
        ("g()", "?", ".h"),
    ]


def test_await_try_and_execution_order() -> None:
    f = facts(
        """
        async fn f() -> anyhow::Result<()> {
            let x = outer(inner(1)).await?;
            fut().instrument(span).await?;
            Ok(())
        }
        """
    )
    got = [(c.chain, c.kind, c.propagates, c.line) for c in f.calls]
    assert got[:3] == [
        (("inner",), StepKind.CALL, False, 2),
        (("outer",), StepKind.AWAIT, True, 2),  # arguments before the call that takes them
        (("fut",), StepKind.AWAIT, True, 3),  # awaited (and `?`) through .instrument(..)
    ]


def test_spawns_make_blocks_and_spawn_steps() -> None:
    f = facts(
        """
        async fn f(c: Client) {
            tokio::spawn(worker(rx));
            tokio::spawn(async move {
                c.run().await;
            });
            std::thread::spawn(move || heavy());
            tokio::spawn(plain);
        }
        """
    )
    d = defs(f)
    block = d["f::{async@L3}"]
    assert (block.kind, block.keyword, block.parent, block.line, block.end_line, block.is_async) == (
        "function",
        "async-block",
        "f",
        3,
        5,
        True,
    )
    assert d["f::{closure@L6}"].keyword == "closure"
    got = [(c.scope, c.chain, c.kind) for c in f.calls]
    assert ("f", ("worker",), StepKind.SPAWN) in got
    assert ("f", ("{block}", "f::{async@L3}"), StepKind.SPAWN) in got
    assert ("f::{async@L3}", ("c", ".run"), StepKind.AWAIT) in got  # the block's calls are its own
    assert ("f::{closure@L6}", ("heavy",), StepKind.CALL) in got
    assert ("f", ("tokio", "spawn"), StepKind.CALL) in got  # spawn of a value: an ordinary call
    assert ("f", ("tokio", "spawn"), StepKind.SPAWN) not in got


def test_macros_are_reparsed_or_kept_opaque() -> None:
    f = facts(
        """
        async fn f() {
            info!("x {}", describe(
                job));
            let v = vec![make(1), make(2)];
            let (a, b) = tokio::join!(one(), two());
            tokio::select! {
                Some(msg) = rx.recv() => { handle(msg) }
                _ = token.cancelled() => {}
            }
            my_macro!(hidden());
            assert_eq!(check(), 1);
            let s = stream! { yield produce(); };
        }
        """
    )
    got = {(c.chain, c.line, c.kind) for c in f.calls}
    assert (("describe",), 2, StepKind.CALL) in got
    assert (("make",), 4, StepKind.CALL) in got
    assert (("one",), 5, StepKind.AWAIT) in got and (("two",), 5, StepKind.AWAIT) in got
    assert (("rx", ".recv"), 7, StepKind.AWAIT) in got and (("handle",), 7, StepKind.CALL) in got
    assert (("token", ".cancelled"), 8, StepKind.AWAIT) in got
    assert (("my_macro!",), 10, StepKind.CALL) in got  # opaque: one step, its body not traced
    assert not any(c.chain == ("hidden",) for c in f.calls)
    assert (("check",), 11, StepKind.CALL) in got
    assert (("produce",), 12, StepKind.CALL) in got
    assert not any(c.chain in (("Some",), ("info!",), ("vec!",)) for c in f.calls)
    # the select! pattern binds its name to the awaited value, unwrapped
    assert Binding("f", "msg", 7, value=("rx", ".recv()", ".unwrap()")) in f.bindings
    # columns inside a re-parsed macro map back to the file
    describe = next(c for c in f.calls if c.chain == ("describe",))
    assert describe.col == len('    info!("x {}", ')


def test_error_paths() -> None:
    f = facts(
        """
        fn f() -> Result<u32> {
            let n = parse()?;
            if n == 0 { bail!("zero"); }
            if n > 9 { return Err(anyhow!("big")); }
            Err(Error::Other)?;
            Ok(n)
        }
        """
    )
    assert [(r.line, r.text) for r in f.raises] == [
        (3, 'bail!("zero")'),
        (4, 'Err(anyhow!("big"))'),
        (5, "Err(Error::Other)"),
    ]
    assert [c.chain for c in f.calls if c.propagates] == [("parse",), ("Err",)]


def test_bindings() -> None:
    f = facts(
        """
        struct S { tx: Sender<u8>, inner: Arc<Worker> }
        struct T(u32, String);
        fn f(x: u8) {
            let a: Foo = make();
            let (tx, mut rx) = mpsc::channel(4);
            let b = Arc::new(Bar::new());
            if let Some(c) = lookup() {}
            for item in list.iter() {}
            let d = format!("{}", 1);
            let cb = |y, z: Baz| y;
            let s = S { tx, inner: w.clone() };
            match res { Ok(v) => {}, Err(e) => {} }
            match ev { E::A(m, _, n) => {}, E::B { p, q: r, .. } => {}, E::C(x, ..) => {} }
        }
        """
    )
    got = {(b.scope, b.name): (b.value, b.annotation) for b in f.bindings}
    assert got[("S", "tx")] == ((), "Sender<u8>") and got[("T", "1")] == ((), "String")
    assert got[("f", "a")] == (("make()",), "Foo")
    assert got[("f", "tx")] == (("mpsc", "channel()", ".0"), None)
    assert got[("f", "rx")] == (("mpsc", "channel()", ".1"), None)
    assert got[("f", "b")] == (("Bar", "new()"), None)  # Arc::new(..) has the type of its argument
    assert got[("f", "c")] == (("lookup()", ".unwrap()"), None)
    assert got[("f", "item")] == (("list", ".iter()", "{item}"), None)
    assert got[("f", "d")] == (("String{}",), None)
    assert got[("f", "y")] == ((), None) and got[("f", "z")] == ((), "Baz")
    assert got[("f", "S{}.tx")] == (("tx",), None)
    assert got[("f", "S{}.inner")] == (("w", ".clone()"), None)
    assert got[("f", "v")] == (("res", ".unwrap()"), None)
    assert got[("f", "e")] == (("res", ".Err", ".0"), None)  # a variant's field
    assert got[("f", "m")] == (("ev", ".A", ".0"), None) and got[("f", "n")] == (("ev", ".A", ".2"), None)
    assert got[("f", "p")] == (("ev", ".B", ".p"), None) and got[("f", "r")] == (("ev", ".B", ".q"), None)
    assert got[("f", "x")] == ((), None)  # after `..` positions are unknown


def test_item_level_macros_are_recorded() -> None:
    f = facts("impl_frontend!(SegmentSource);\nfn g() {}\n")
    use = next(d for d in f.definitions if d.kind == "macro-use")
    assert use.qualname == "impl_frontend!@L1" and "SegmentSource" in use.bases


def test_item_macros_with_an_items_body_are_expanded() -> None:
    f = facts(
        """
        mod inner {
            macro_rules! frontend {
                ($name:ident, $inner:ty) => {
                    impl Source for $name {
                        fn generate(&self, x: $inner) -> u32 {
                            self.inner.generate(x)
                        }
                    }
                };
            }
            frontend!(First, Vec<
                u8>);
            frontend!(Second, u16);
            frontend!(Third);
            other!(Fourth);
        }
        """
    )
    d = defs(f)
    first, second = d["inner::First::generate"], d["inner::Second::generate"]
    # the generated items are written at the macro body's lines, in the invocation's module
    assert (first.line, first.end_line, first.parent) == (5, 7, "inner::First")
    assert first.params[1].annotation == "Vec< u8>" and second.params[1].annotation == "u16"
    impls = [x for x in f.definitions if x.kind == "impl"]
    assert [(x.qualname, x.line, x.self_type, x.implements) for x in impls] == [
        ("inner::impl@L4", 4, "First", "Source"),
        ("inner::impl@L4#2", 4, "Second", "Source"),
    ]
    assert [(c.scope, c.line, c.chain) for c in f.calls] == [
        ("inner::First::generate", 6, ("self", ".inner", ".generate")),
        ("inner::Second::generate", 6, ("self", ".inner", ".generate")),
    ]
    # no rule takes one argument, and `other!` is not defined here: both stay macro uses
    uses = {x.qualname: x.bases for x in f.definitions if x.kind == "macro-use"}
    assert set(uses) == {"inner::frontend!@L14", "inner::other!@L15"}


def test_item_macros_that_repeat_are_not_expanded() -> None:
    f = facts(
        """
        macro_rules! many {
            ($($t:ident),*) => { $(impl $t { fn f(&self) {} })* };
        }
        macro_rules! later { ($t:ident) => { impl $t { fn g(&self) {} } }; }
        many!(A, B);
        """
    )
    assert not [x for x in f.definitions if x.kind in ("impl", "function")]
    assert [x.qualname for x in f.definitions if x.kind == "macro-use"] == ["many!@L5"]


def test_broken_source_still_gives_facts() -> None:
    f = facts("fn good() { ok(); }\nfn bad( { \n")
    assert f.error is None
    assert ("ok",) in calls(f, "good")


def test_query_is_compiled_once() -> None:
    assert query() is query()


def test_facts_round_trip_through_the_cache_format() -> None:
    f = facts(PYO3)
    assert facts_from_plain(to_plain(f)) == f


def test_index_routes_rust_files_and_caches_them(tmp_path) -> None:
    repo = tmp_path / "r"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "lib.rs").write_text("pub fn f() { g(); }\n")
    workspace, errors = Workspace.from_configs([RepoConfig("r", repo)])
    assert errors == []
    cache = tmp_path / "cache"
    index = Index(workspace, cache)
    first = index.facts(workspace.repos["r"], "src/lib.rs")
    assert first.error is None and first.calls[0].chain == ("g",) and index.parsed == 1
    again = Index(workspace, cache)
    assert again.facts(workspace.repos["r"], "src/lib.rs") == first and again.parsed == 0
    assert FRONTEND_VERSION.startswith("rs-")


@pytest.mark.parametrize("name", ["a.c", "a.go"])
def test_other_languages_still_have_no_frontend(tmp_path, name) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / name).write_text("x")
    workspace, _ = Workspace.from_configs([RepoConfig("r", repo)])
    assert Index(workspace).facts(workspace.repos["r"], name).error == "no frontend for this language yet"


@pytest.mark.parametrize(
    ("source", "calls_expected", "error"),
    [
        ("fn f() { let x = " + "(" * 10_000 + "1" + ")" * 10_000 + "; }\n", 0, "nesting too deep"),
        ("fn f() { " + "g(" * 3000 + ")" * 3000 + "; }\n", 3000, None),
        ("fn f() { let x = 1" + " + g()" * 50_000 + "; }\n", 50_000, None),
        ("fn f() { x" + ".m()" * 20_000 + "; }\n", 0, "nesting too deep"),
        ("fn f() { " + "info!(" * 200 + ")" * 200 + "; }\n", 0, None),
        ("use a::" + "{b::" * 3000 + "c" + "}" * 3000 + ";\n", 0, "nesting too deep"),
    ],
    ids=["parens", "nested-calls", "binop-chain", "method-chain", "nested-macros", "use-tree"],
)
def test_pathological_rust_is_quick(source: str, calls_expected: int, error: str | None) -> None:
    """Deep nesting ends in facts or an ``error``, quickly: scopes come from byte ranges and awaits from
    captures, never from walks up the tree (a tree-sitter parent costs a walk from the root)."""
    start = time.perf_counter()
    f = parse_rust(source, "gen.rs")
    assert time.perf_counter() - start < 5
    assert len(f.calls) == calls_expected
    assert (f.error is None) if error is None else (error in f.error)


# -- header facts (what a whole-workspace index needs) ---------------------------------------------------------


def test_header_facts_are_the_full_facts_without_bodies() -> None:
    """On every file of the fixture workspace: the same items, fields and ``use`` declarations (item-level
    macro expansions included), no call or raise, and none of the blocks only bodies define."""
    from test_rust_corpus import RUSTREPO

    compared = 0
    for path in sorted(RUSTREPO.rglob("*.rs")):
        source = path.read_text(encoding="utf-8")
        full, head = parse_rust(source, path.name), parse_rust(source, path.name, headers_only=True)
        assert list(head.definitions) == [d for d in full.definitions if d.keyword not in ("async-block", "closure")]
        assert head.imports == full.imports
        assert set(head.bindings) <= set(full.bindings)
        assert head.calls == () and head.raises == ()
        compared += 1
    assert compared >= 15


def test_header_facts_keep_item_macros_and_fields_but_not_spawned_blocks() -> None:
    source = textwrap.dedent(
        """
        macro_rules! frontend { ($t:ident) => { impl $t { pub fn serve(&self) { run(); } } }; }
        pub struct Api { tx: Sender<u8> }
        frontend!(Api);
        register_all!(Api, Other);
        fn main() { tokio::spawn(async move { work().await }); helper(); }
        """
    ).lstrip("\n")
    head = parse_rust(source, "x.rs", headers_only=True)
    names = {d.qualname: d.kind for d in head.definitions}
    assert names["Api::serve"] == "function" and "main" in names
    assert any(kind == "macro-use" for kind in names.values())  # register_all!: unknown, kept as a marker
    assert not any("{async@" in q for q in names)  # a spawned block is a body's
    assert [b.name for b in head.bindings] == ["tx"]
    full = parse_rust(source, "x.rs")
    assert any("{async@" in d.qualname for d in full.definitions) and full.calls


def test_the_index_serves_headers_until_the_full_facts_are_asked_for(tmp_path) -> None:
    from test_rust_corpus import RUSTREPO

    workspace, _ = Workspace.from_configs([RepoConfig("fleet", RUSTREPO)])
    index = Index(workspace, tmp_path)
    repo = workspace.repos["fleet"]
    path = "crates/core/src/engine.rs"
    head = index.headers(repo, path)
    assert head.calls == () and head.definitions
    full = index.facts(repo, path)
    assert full.calls and index.headers(repo, path) is full  # once loaded, the full facts serve both
    assert index.parsed == 2
    # both are cached on disk, apart
    again = Index(workspace, tmp_path)
    assert again.headers(repo, path) == head and again.facts(repo, path) == full and again.parsed == 0


def test_a_forked_worker_parses_half_of_a_prefetch_with_the_same_facts(tmp_path, monkeypatch) -> None:
    from test_rust_corpus import RUSTREPO

    import sphinxext.codetrace.index as index_module
    from sphinxext.codetrace.cargo import discover_crates
    from sphinxext.codetrace.resolve.rust import _crate_sources

    workspace, _ = Workspace.from_configs([RepoConfig("fleet", RUSTREPO)])
    repo = workspace.repos["fleet"]
    files = _crate_sources(repo.root, discover_crates(repo.root))
    serial = Index(workspace, tmp_path / "serial")
    serial.prefetch(repo, files, "")
    monkeypatch.setattr(index_module, "PARALLEL_MIN", 2)
    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 2)
    parallel = Index(workspace, tmp_path / "parallel")
    here: list[str] = []  # what this process parses (the worker's parses happen in its own memory)
    real_parse = index_module.parse_rust
    monkeypatch.setattr(
        index_module, "parse_rust", lambda src, path, *a: here.append(path) or real_parse(src, path, *a)
    )
    parallel.prefetch(repo, files, "")
    assert here == files[: len(files) // 2]  # the worker parsed the second half: no fallback here
    assert parallel.parsed == serial.parsed == len(files)
    for path in files:
        assert parallel.headers(repo, path) == serial.headers(repo, path), path
    stored = [p for p in (tmp_path / "parallel").rglob("*.json")]
    assert len(stored) == len(files)  # the worker stored what it parsed in the facts cache, like this process


def test_a_failed_worker_leaves_its_files_to_the_parent(tmp_path, monkeypatch) -> None:
    from test_rust_corpus import RUSTREPO

    import sphinxext.codetrace.index as index_module

    workspace, _ = Workspace.from_configs([RepoConfig("fleet", RUSTREPO)])
    repo = workspace.repos["fleet"]
    files = sorted(p.relative_to(RUSTREPO).as_posix() for p in RUSTREPO.rglob("*.rs"))
    monkeypatch.setattr(index_module, "PARALLEL_MIN", 2)
    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(index_module, "_parse_headers", _explode)
    index = Index(workspace, None)
    index.prefetch(repo, files, "")
    assert index.header_only() == {("fleet", p) for p in files} and index.parsed == len(files)


def _explode(job: int, relpaths: list[str]) -> list:
    raise RuntimeError("the worker fails")
