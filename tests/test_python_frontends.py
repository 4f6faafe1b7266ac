"""The ``ast`` frontend (index/python_ast.py) against the libcst one (index/python.py): identical facts.

``tools/compare_frontends.py`` runs both over a tree and diffs the facts file by file; here it runs over every
fixture repository, hand-written snippets of each construct the frontends treat specially, programs
hypothesis writes from a small grammar, and mutated fixture files. The libcst frontend is still used for
grammar newer than the interpreter's: that fallback and its guard are tested at the end.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import TESTS

from sphinxext.codetrace.index import python as cst_frontend
from sphinxext.codetrace.index import python_ast
from sphinxext.codetrace.index.guard import deeper_than, python_parse, tree_depth
from sphinxext.codetrace.model import StepKind

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_spec = importlib.util.spec_from_file_location("compare_frontends", TESTS.parent / "tools" / "compare_frontends.py")
assert _spec is not None and _spec.loader is not None
compare_frontends = sys.modules["compare_frontends"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_frontends)


def _same(source: str, module: str = "pkg.mod", is_package: bool = False) -> str:
    """Assert both frontends give the same facts for ``source``; returns how the file went."""
    differences, outcome = compare_frontends.compare_source(source, "m.py", module, is_package)
    assert differences == [], "\n".join(differences)
    return outcome


def test_every_fixture_repository_gives_identical_facts() -> None:
    fixtures = TESTS / "fixtures"
    files = compare_frontends.python_files([fixtures])
    assert len(files) > 40
    report = compare_frontends.compare(files, fixtures)
    assert [str(f) for f, _ in report.different] == [] and report.only_ast == []
    assert report.outcomes["same"] >= len(files) - 3  # pyrepo's broken.py is refused by both


# -- hand-written snippets: one per construct the frontends treat specially ------------------------------------

SNIPPETS = {
    "decorators": """
        @(decorate)
        @ other . deco ( 1 ,  # a comment ( with a parenthesis
            key = "# not a comment" )
        @third(lambda q: q + 1)
        def f(a, /, b: "int" = (lambda: 2)(), *args: tuple[int, ...], c=(g()), d, **kw) -> dict[str, (int)]:
            return (a, b)

        @dataclass
        class C(Base, (Mixin), metaclass=Meta, **options):
            attr: ClassVar[int] = field(default=3)
    """,
    "lambdas": """
        handlers = {"a": lambda x: x.run(), "b": (lambda: go)}
        pick = (lambda: 1) if (lambda: 2)() else (lambda: 3)
        def outer(key=lambda v: v.k):
            return sorted(items, key=lambda i: (i.a, lambda: i.b))
    """,
    "comprehensions": """
        def f(rows):
            a = [g(r) for r in rows if keep(r) for c in r.cells]
            b = {k: v(k) for k, v in pairs.items()}
            c = {x for (x, y) in zip(p, q)}
            d = sum(x.n for x in rows)
            e = sum(  # the total
                x.n for x in rows
            )
            f = list((x for x in rows))
            return [[y for y in x] for x in a]
    """,
    "walrus": """
        def f(data):
            if (n := len(data)) > 10 and (m := parse(data)):
                return m.value(n)
            return [y for x in data if (y := conv(x))]
    """,
    "match": """
        def run(cmd):
            match cmd.split():
                case [action]:
                    go(action)
                case [action, obj] if check(obj):
                    go(action, obj)
                case Point(x=0, y=yy):
                    point(yy)
                case {"k": v, **rest}:
                    pass
                case _:
                    fallback()
    """,
    "f-strings": """
        def f(x, width):
            a = f"{foo(1)!r:>{width(2)}} {bar(3)=} {'#'} {baz(4):{'x'}}"
            b = f'''
            {multi(
                line)}
            '''
            c = ("pre" f"{e(6)}"
                 f"{g(7)}")
            return f"é{k(9)}" + rf"\\{m(1)}" + F'{{{n(2)}}}'
    """,
    "async": """
        async def f(lock, other):
            async with (lock) as (l1, l2), other:
                await (fetch)(1)
            async with (lock):
                pass
            async for (i, j) in stream():
                print(i)
            else:
                done()
            return [x async for x in aiter_(y)], await asyncio.gather(a(), b())
    """,
    "with": """
        def f():
            with (open(x) as fh, open(y)):
                fh.read()
            with (a), b as c:
                pass
            with (a, b) as c:
                pass
            with (
                open(x)  # why
            ) as fh:
                pass
    """,
    "nested-classes": """
        class Outer:
            class Inner:
                def method(self):
                    super().method()
                    super(Inner, self).method()
                    self.x: int = 0
                    (self.z) = Z()
                    self.a, *self.b = f()

                class Deeper(Outer.Inner):
                    pass
    """,
    "global": """
        counter = 0
        def bump():
            global counter, other
            counter = counter + 1
            other = make()
            def inner():
                global counter
                counter = inner_make()
    """,
    "imports": """
        import os.path as osp, sys
        import a.b.c
        from . import sibling
        from ..pkg.mod import (a as b,
            c)  # comment
        from .... import far
        from .star import *
        from os import *
        def f():
            from .local import thing as t
            return t()
        __all__ = ["x", "y" "z"]
    """,
    "multiline-calls": """
        def f():
            x = call("#", # comment (
                     (y))
            z = \\
                (w)
            v = f(
                \"\"\"doc
                more\"\"\",  # trailing (comment
                (arg))
            (factory or Store)()
            (f)(x)
            ...(a), 1.(b), "s"(c), None(d)
            w = [foo
                 (b)]
            return x(
                # leading comment
                a,  # why a
                *rest,
                key=(value),  # a ( in a comment
                **extra,
            )
    """,
    "non-ascii": """
        def función(é, 数据="ü"):
            v = é.x(é, "ü", 数据)
            ﬁle = open("ﬁ")
            µ = ﬁle.read(µs)
            return 数据.ﬁnd(v), f"é{é.ﬁ(1)}"
    """,
    "try": """
        def f():
            try:
                g()
            except (KeyError, ValueError) as e:
                raise RuntimeError("bad") from e
            except (TypeError) as t:
                raise
            except Exception:
                pass
            else:
                h()
            finally:
                i()
            try:
                j()
            except* ValueError as eg:
                handle(eg)
    """,
    "spawns": """
        class S:
            def spawns(self, loop):
                asyncio.create_task(work(1))
                asyncio.gather(a(), b(), c)
                loop.run_in_executor(None, blocking, 1)
                self.executor.submit(job, 2)
                threading.Thread(target=self.run, daemon=True).start()
                list(map(str, xs)), list(filter(lambda v: v, xs))
                asyncio.to_thread(fn, 3)
    """,
    "subscripts": """
        n = a[1:2], a[::2], a[(1, 2)], a[1, 2], a[1,], a[-1], a[None:-3], a["k"], a[x:y], a[()], a[f(1)]
        o = (a or b) and c or d or e
        q = {**base, "k": (v), 1: w}
        r = [*(a), *b], {*c}, (*d, e)
        t = -1, -True, ~x, not y, -(1)
        for k in (a, b):
            pass
        for k in ():
            pass
        for k in (x for x in y):
            pass
    """,
    "yields": """
        def gen():
            x = (yield (value))
            y = yield
            z = yield from inner()
            w = yield a, b
    """,
    "match-subject-parentheses": """
        def entry(self):
            match (a)():
                case [x] if a:
                    pass
            match ((b).c)(d):
                case _:
                    pass
            match(e)
            f = match (g)()
    """,
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippets_give_identical_facts(name: str) -> None:
    assert _same(textwrap.dedent(SNIPPETS[name])) == "same"


def test_crlf_tabs_and_form_feeds_give_identical_facts() -> None:
    assert _same("def crlf():\r\n    return f(\r\n        (a),\r\n    )\r\n") == "same"
    assert _same("def tabs():\n\tif x:\n\t\treturn g( (a) )\n\x0c\ndef ff():\n    pass\n") == "same"
    assert _same("x = 1\rdef cr():\r    return h((b))\r") == "same"


def test_relative_imports_in_packages_give_identical_facts() -> None:
    source = "from . import a\nfrom .. import b\nfrom ...c import d\n"
    assert _same(source, "top.pkg", is_package=True) == "same"
    assert _same(source, "top", is_package=False) == "same"


# -- what the ast frontend computes that ast does not give ---------------------------------------------------


def _ast_facts(source: str):
    facts = python_ast.parse_python(textwrap.dedent(source), "m.py", "m", False)
    assert facts.error is None
    return facts


def test_columns_are_code_points_and_texts_keep_grouping_parentheses() -> None:
    facts = _ast_facts('é = "é"; v = é.x((é), 数据)\n')
    (call,) = facts.calls
    assert (call.line, call.col) == (1, 13)  # 13 characters in, 16 bytes in
    assert call.text == "é.x" and call.args == ("(é)", "数据")


def test_generator_argument_text_leaves_out_the_call_parentheses() -> None:
    facts = _ast_facts("s = sum(  # total\n    x for x in y\n)\nt = f((x for x in y))\n")
    assert [c.args for c in facts.calls] == [("x for x in y",), ("(x for x in y)",)]


def test_with_statement_parentheses_are_not_the_items() -> None:
    facts = _ast_facts("with (a):\n    pass\nwith (b) as c:\n    pass\n")
    assert [c.text for c in facts.calls if c.text.startswith("with")] == [
        "with a",
        "with a (exit)",
        "with (b)",
        "with (b) (exit)",
    ]


def test_decorated_definition_lines_and_name_positions() -> None:
    facts = _ast_facts("@deco(\n    1)\nasync  def \\\n  run(): pass\nclass  K: pass\n")
    assert [(d.qualname, d.line) for d in facts.definitions] == [("run", 4), ("K", 5)]
    binds = [(f.line, f.col) for f in facts.flow if f.kind == "bind"]
    decorator = next(f for f in facts.flow if f.target == "@")
    assert binds == [(4, 2), (5, 7)] and (decorator.line, decorator.col) == (1, 0)


def test_spawns_awaits_and_handlers_survive_the_port() -> None:
    facts = _ast_facts(
        """
        async def f():
            try:
                await g()
                asyncio.create_task(h())
            except (KeyError) as e:
                pass
        """
    )
    kinds = {c.text: (c.kind, c.handlers) for c in facts.calls}
    assert kinds["g"] == (StepKind.AWAIT, ("(KeyError)",))
    assert kinds["h"] == (StepKind.SPAWN, ("(KeyError)",))


# -- generated programs ------------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "obj", "self", "é", "数据", "Store", "map", "gather", "create_task", "executor"])
TARGETS = st.sampled_from(["a", "b", "self.x", "obj.y", "a, *b", "(a, b)", "[a, b]", "c[0]", "é"])
LITERALS = st.sampled_from(
    ["1", "-2", "0x1f", "'s'", '"#("', "b'x'", "None", "True", "...", "1.5", "'a' 'b'", "f'{a}'", '"é"']
)
#: What may separate tokens inside brackets: spaces, a line break, a comment holding brackets, a continuation.
GAPS = st.sampled_from(["", " ", "\n    ", "  # c ( [\n    ", " \\\n  ", "\n\n  "])


def _exprs(depth: int) -> st.SearchStrategy[str]:
    atoms = st.one_of(NAMES, LITERALS)
    if depth == 0:
        return atoms
    sub = _exprs(depth - 1)
    args = st.lists(
        st.one_of(sub, sub.map(lambda e: "*" + e), st.tuples(NAMES, sub).map("{0[0]}={0[1]}".format)),
        max_size=3,
    )
    return st.one_of(
        atoms,
        st.tuples(sub, GAPS, args, GAPS).map(lambda t: f"{t[0]}({t[1]}{(',' + t[1]).join(t[2])}{t[3]})"),
        st.tuples(GAPS, sub, GAPS).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(sub, NAMES).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(sub, st.sampled_from(["{}", "{}:", "{}:{}", "::{}", "{}, {}", "({}, {})", "{},"]), sub).map(
            lambda t: f"{t[0]}[{t[1].format(t[2], t[2])}]"
        ),
        st.tuples(sub, GAPS, sub).map(lambda t: f"({t[0]},{t[1]}{t[2]})"),
        st.tuples(sub, sub).map(lambda t: f"[{t[0]}, *{t[1]}]"),
        st.tuples(sub, sub).map(lambda t: f"{{{t[0]}: {t[1]}, **{t[1]}}}"),
        st.tuples(NAMES, sub).map(lambda t: f"(lambda {t[0]}=1: {t[1]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"[{t[0]} for n in {t[1]} if {t[2]}]"),
        st.tuples(sub, sub).map(lambda t: f"sum({t[0]} for n in {t[1]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"({t[0]} or {t[1]} and {t[2]} or {t[0]})"),
        st.tuples(sub).map(lambda t: f"(w := {t[0]})"),
        st.tuples(sub).map(lambda t: f'f"{{{t[0]}!r:>{{width}}}} {{{t[0]}=}}"'),
        st.tuples(sub).map(lambda t: f"await {t[0]}"),
    )


EXPRS = _exprs(3)


def _statements(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(
        st.tuples(TARGETS, EXPRS).map("{0[0]} = {0[1]}".format),
        st.tuples(EXPRS, EXPRS).map("a: {0[0]} = {0[1]}".format),
        EXPRS,
        EXPRS.map("return {}".format),
        EXPRS.map("raise {}".format),
        st.just("global a"),
        EXPRS.map("x = yield {}".format),
        EXPRS.map("yield from {}".format),
        st.tuples(NAMES, NAMES).map("del {0[0]}, {0[1]}.z".format),
    ).map(lambda s: [s])
    if depth == 0:
        return simple
    body = _statements(depth - 1).map(lambda lines: ["    " + line for line in lines])
    return st.one_of(
        simple,
        st.tuples(EXPRS, body).map(lambda t: [f"with {t[0]} as c:", *t[1]]),
        st.tuples(EXPRS, body).map(lambda t: [f"async with ({t[0]}):", *t[1]]),
        st.tuples(TARGETS, EXPRS, body).map(lambda t: [f"for {t[0]} in {t[1]}:", *t[2]]),
        st.tuples(EXPRS, body, body).map(lambda t: [f"if {t[0]}:", *t[1], "else:", *t[2]]),
        st.tuples(body, EXPRS, body).map(lambda t: ["try:", *t[0], f"except ({t[1]}) as e:", *t[2]]),
        st.tuples(EXPRS, EXPRS, body).map(lambda t: [f"@{t[0]}", f"def g(p={t[1]}, *, q: int = 2):", *t[2]]),
        st.tuples(EXPRS, body).map(lambda t: [f"class K({t[0]}, metaclass=M):", *t[1]]),
        st.tuples(EXPRS, EXPRS, body).map(
            lambda t: [f"match {t[0]}:", f"    case [x] if {t[1]}:", *("    " + line for line in t[2])]
        ),
        st.tuples(EXPRS, body).map(lambda t: [f"while {t[0]}:", *t[1]]),
    )


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines = [line for _ in range(draw(st.integers(1, 4))) for line in draw(_statements(2))]
    keyword = draw(st.sampled_from(["def", "async def"]))
    return f"{keyword} entry(self):\n" + "".join(f"    {line}\n" for line in lines)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_generated_programs_give_identical_facts(source: str) -> None:
    assume(python_parse(source).tree is not None)
    assert _same(source) == "same"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(1, 40))
def test_the_depth_bound_agrees_with_the_exact_depth(source: str, limit: int) -> None:
    tree = python_parse(source).tree
    assume(tree is not None)  # grammar newer than the interpreter's
    assert tree is not None
    assert deeper_than(tree, source, limit) == (tree_depth(tree, limit) > limit)


SOURCES = sorted(p for p in (TESTS / "fixtures").rglob("*.py") if p.name != "broken.py")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    data = draw(st.sampled_from(SOURCES)).read_bytes()
    at = draw(st.integers(0, len(data)))
    cut = draw(st.integers(at, min(len(data), at + 40)))
    inserted = draw(st.sampled_from([b"", b"(", b")", b"#", b"\n", b"'", b'"""', b"\\", b" (a)", b"\xc3\xa9"]))
    return (data[:at] + inserted + data[cut:]).decode("utf-8", errors="replace")


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_mutated_files_give_identical_facts_or_the_same_refusal(source: str) -> None:
    facts = python_ast.parse_python(source, "m.py", "m", False)
    assert facts.error is None or facts.definitions == ()
    _same(source)


# -- grammar newer than the interpreter's: the libcst fallback -------------------------------------------------

NEWER = """\
type Alias[T] = list[T]

def first[T](xs: list[T]) -> T:
    return helper(xs)[0]

class Box[T]:
    def get(self) -> T:
        return self.load()
"""


def test_newer_grammar_is_indexed_through_libcst() -> None:
    facts = python_ast.parse_python(NEWER, "m.py", "m", False)
    assert facts.error is None
    assert [d.qualname for d in facts.definitions] == ["first", "Box", "Box.get"]
    assert [c.text for c in facts.calls] == ["helper", "self.load"]
    if sys.version_info < (3, 12):
        assert python_parse(NEWER).newer_grammar  # so it was libcst
        assert facts == cst_frontend.parse_python_cst(NEWER, "m.py", "m", False)


def test_a_bug_in_the_ast_walk_falls_back_to_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise IndexError("a construct the walk misreads")

    monkeypatch.setattr(python_ast, "facts_from_tree", broken)
    source = "def f():\n    return g(1)\n"
    facts = python_ast.parse_python(source, "m.py", "m", False)
    assert facts.error is None and [c.text for c in facts.calls] == ["g"]
    assert facts == cst_frontend.parse_python(source, "m.py", "m", False)


def test_a_syntax_error_keeps_cpythons_message() -> None:
    facts = python_ast.parse_python("def broken(:\n    pass\n", "m.py", "m", False)
    assert facts.error == "syntax error at line 1: invalid syntax" and facts.definitions == ()


DEEP = {
    "brackets": "x = " + "(" * 3000 + "1" + ")" * 3000,
    "f-string": "x = f'{" + "(" * 3000 + "1" + ")" * 3000 + "}'",
    "lambdas": "x = " + "lambda: " * 5000 + "1",
    "conditionals": "x = 1" + " if a else 1" * 10000,
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_newer_grammar_nested_past_libcsts_limits_is_refused_without_a_crash(name: str) -> None:
    # each of these crashed or hung libcst's parser: run in a child process, so a regression cannot take
    # the test session down with it
    source = "type X = int\n" + DEEP[name] + "\n"
    script = (
        "import sys\nfrom sphinxext.codetrace.index.python_ast import parse_python\n"
        "print(parse_python(sys.stdin.read(), 'm.py', 'm', False).error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=source, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() not in ("", "None")


def test_indexing_ordinary_python_does_not_import_libcst(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return g(1)\n")
    script = (
        "import sys\nfrom pathlib import Path\nfrom sphinxext.codetrace.index import Index\n"
        "from sphinxext.codetrace.workspace import RepoConfig, Workspace\n"
        f"ws, _ = Workspace.from_configs([RepoConfig('r', Path({str(tmp_path)!r}))])\n"
        "facts = Index(ws).facts(ws.repos['r'], 'm.py')\n"
        "print(len(facts.calls), 'libcst' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.split() == ["1", "False"], done.stderr[-2000:]
