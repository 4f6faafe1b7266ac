"""Plain data shared by every stage of the pipeline.

Nothing here knows about Sphinx, docutils, libcst or tree-sitter: these are the values that flow from the
index (per-file facts) through resolution and tracing to the renderers. All of them are frozen dataclasses
that serialise to JSON-compatible dicts, so facts can be cached on disk and traces printed by the CLI.

Conventions, fixed once here so no stage has to guess:

* ``line`` is 1-based; ``col`` is 0-based (tree-sitter rows are converted by its frontend).
* A definition's ``line`` is the line of its ``def``/``class``/``fn`` keyword, never a decorator's.
* A ``path`` is POSIX-style and relative to its repository root.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .diagnostics import Diagnostic


class Lang(str, enum.Enum):
    """Source language of a file or symbol."""

    PYTHON = "python"
    RUST = "rust"


class StepKind(str, enum.Enum):
    """How control passes from caller to callee at a call site."""

    CALL = "call"
    AWAIT = "await"
    SPAWN = "spawn"
    QUEUE = "queue"
    RAISE = "raise"
    PY_TO_RUST = "py->rust"
    RUST_TO_PY = "rust->py"
    BRIDGE = "bridge"


class Resolution(str, enum.Enum):
    """How a call site was linked to its callee; the diagram shows certainty from this."""

    DIRECT = "direct"  # a name defined in the same scope chain
    IMPORT = "import"  # through an import, possibly re-exported
    TYPED = "typed"  # through a type: annotation, constructor, ``self``
    INHERITED = "inherited"  # found on a base class along the MRO
    CANDIDATES = "candidates"  # several possible callees (dynamic dispatch)
    EXTERNAL = "external"  # stdlib or third party: shown, never entered
    UNRESOLVED = "unresolved"  # no static answer; the source text is kept
    BRIDGE = "bridge"  # declared in the flow spec


# --------------------------------------------------------------------------------------------------------------
# Facts: what a language frontend extracts from one file.


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a function, with its annotation text when written."""

    name: str
    annotation: str | None = None
    star: str = ""  # "", "*" or "**"
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class Definition:
    """A function, method or class defined in a file.

    ``qualname`` is relative to the file's module (``Class.method``, ``outer.<locals>.inner`` is written
    ``outer.inner``). ``parent`` is the qualname of the enclosing definition, ``""`` at module level.

    Rust (``index/rust.py``) writes qualnames with ``::`` (``inline_mod::Type::method``) and fills the fields
    below the line: ``keyword`` is the item keyword (``fn``, ``fn-decl`` for a trait method without a body,
    ``struct``, ``enum``, ``union``, ``trait``, ``impl``, ``mod``, ``type``, ``const``, ``static``,
    ``macro_rules``, ``variant``, ``async-block``, ``closure``), ``self_type`` and ``implements`` the
    ``impl`` block's self type and trait as written, ``bounds`` the generic parameters in scope with their
    bounds (``"T: Trait + Send"``, ``where`` clauses included; for a type, its own parameters in order).
    """

    qualname: str
    kind: str  # "function" | "class"
    line: int
    end_line: int
    parent: str = ""
    params: tuple[Param, ...] = ()
    returns: str | None = None
    is_async: bool = False
    decorators: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    in_class: bool = False  # a method: ``parent`` is a class
    keyword: str = ""
    self_type: str = ""
    implements: str = ""
    bounds: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2].rpartition("::")[2]


@dataclass(frozen=True, slots=True)
class Import:
    """A name bound by an import statement in ``scope`` (a definition's qualname, ``""`` for the module).

    ``target`` is absolute (relative imports are made absolute by the frontend). ``import a.b`` binds ``a`` to
    ``a``; ``import a.b as c`` binds ``c`` to ``a.b``; ``from a import b as c`` binds ``c`` to ``a.b`` (a
    submodule or an attribute of ``a``: the resolver decides).
    """

    scope: str
    name: str
    target: str
    line: int
    star: bool = False


@dataclass(frozen=True, slots=True)
class CallSite:
    """One call in a definition's body (or at module level when ``scope`` is ``""``).

    ``chain`` is the callee expression as a name chain: ``self.store.get(...)`` is ``("self", "store",
    "get")``; an element ending in ``()`` is the result of calling what precedes it (``Foo().run()`` is
    ``("Foo()", "run")``); ``super()`` is kept as the element ``"super()"``. ``chain`` is empty when the callee
    is not a name chain (a subscript, a lambda...), and ``text`` always holds the callee's source text.
    ``handlers`` lists the exception types of the ``except`` clauses around the call, innermost first.

    Rust chains (``index/rust.py``) use their own elements, so path calls and method calls stay apart: a
    plain element is a path segment (``a::b::f(..)`` is ``("a", "b", "f")``; ``crate``, ``self``, ``super``,
    ``Self`` as written, a leading ``::`` is the element ``"::"``, a qualified ``<T as Trait>`` is one
    element); ``".name"`` is a field or method of the value before it (``self.store.get(..)`` is ``("self",
    ".store", ".get")``); a ``()`` suffix is the result of calling that element (``Foo::new(..).run()`` is
    ``("Foo", "new()", ".run")``); ``".await"``, ``"?"`` and ``"[]"`` (indexing) apply to the value before
    them; ``"Name{}"`` is a struct literal; ``"{expr}"`` an expression that is not a chain (a literal...);
    ``"name!"`` a macro kept opaque; ``("{block}", QUALNAME)`` a spawned async block or closure, a synthetic
    definition of that qualname. ``propagates`` says the call's result goes through ``?``.
    """

    scope: str
    line: int
    col: int
    chain: tuple[str, ...]
    text: str
    kind: StepKind = StepKind.CALL
    handlers: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    propagates: bool = False


@dataclass(frozen=True, slots=True)
class RaiseSite:
    """A ``raise`` statement (Python) or an early ``Err`` return (Rust)."""

    scope: str
    line: int
    col: int
    text: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A name (or ``self.attr``) bound in ``scope`` to a typed value: ``x = Foo()``, ``x: Foo``,
    ``self.store = Store()``. ``value`` is a chain like :attr:`CallSite.chain` (the callee when the value is a
    call result: ``("Foo()",)``) or ``annotation`` holds the annotation text."""

    scope: str
    name: str
    line: int
    value: tuple[str, ...] = ()
    annotation: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """Python only: one statement whose values the resolver follows beyond name chains (see the tree grammar
    in ``index/python.py``). ``kind`` is ``"bind"`` (``target`` a pattern, ``value`` a tree: assignments,
    ``def``/``class`` with their decorators, imports, ``for``/``with`` targets, ``except ... as``),
    ``"star"`` (``value`` the star-imported module), ``"return"``, ``"yield"``, ``"raise"``, ``"default"``
    (``target`` the function's qualname and the parameter) or ``"call"`` (``value`` the call's tree, at the
    call's position). ``path`` lists the branches (``if``/``try``/loop bodies) around
    the statement, outermost first: a later binding whose path is a prefix of a use's path replaces the
    earlier ones for that use."""

    scope: str
    line: int
    col: int
    kind: str
    target: Any = None
    value: Any = None
    annotation: str | None = None
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class FileFacts:
    """Everything the frontends know about one file; cached by content hash."""

    path: str
    lang: Lang
    module: str
    definitions: tuple[Definition, ...] = ()
    imports: tuple[Import, ...] = ()
    calls: tuple[CallSite, ...] = ()
    raises: tuple[RaiseSite, ...] = ()
    bindings: tuple[Binding, ...] = ()
    all_names: tuple[str, ...] | None = None  # ``__all__`` when it is a literal list
    flow: tuple[Flow, ...] = ()  # Python: value flow for the resolver
    error: str | None = None  # why the file could not be parsed, if it could not

    def definition(self, qualname: str) -> Definition | None:
        for d in self.definitions:
            if d.qualname == qualname:
                return d
        return None


# --------------------------------------------------------------------------------------------------------------
# Symbols and traces.


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a symbol is defined: the JSON ``LOC`` of the trace schema."""

    repo: str
    path: str
    line: int
    name: str  # fully qualified: ``pkg.mod.Class.method`` or ``crate::module::Type::method``
    lang: Lang
    module: str = ""  # the module or crate path the symbol lives in (not in the JSON)
    owner: str = ""  # the qualified class or type of a method, "" for free functions (not in the JSON)

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "path": self.path, "line": self.line, "name": self.name, "lang": self.lang.value}


@dataclass(frozen=True, slots=True)
class Site:
    """Where a call is written."""

    repo: str
    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "path": self.path, "line": self.line}


@dataclass(frozen=True, slots=True)
class Signature:
    """The data a step carries: parameter and return types of the callee, as written in its source."""

    params: tuple[Param, ...] = ()
    returns: str | None = None
    is_async: bool = False

    def args_text(self) -> str:
        parts = []
        for p in self.params:
            if p.name in ("self", "cls") and not p.star:
                continue
            text = p.star + p.name
            if p.annotation:
                text += f": {p.annotation}"
            parts.append(text)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow of a trace: ``caller`` calls ``callee`` (or ``target`` when unresolved) at ``site``."""

    n: int
    depth: int
    caller: Loc
    callee: Loc | None
    target: str
    site: Site
    kind: StepKind
    resolution: Resolution
    signature: Signature | None = None
    handlers: tuple[str, ...] = ()
    candidates: tuple[Loc, ...] = ()
    entered: bool = False  # the walk descended into the callee
    note: str = ""  # "stop", "recursion", "seen at step 3", "depth limit", "excluded", ...
    propagates: bool = False  # Rust: the call's error is propagated with ``?``
    candidate_of: int = 0  # one of the candidates of dispatch step ``candidate_of`` (dynamic dispatch)
    label: str = ""  # a declared bridge's label (kind ``bridge``)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n": self.n,
            "depth": self.depth,
            "caller": self.caller.to_json(),
            "callee": self.callee.to_json() if self.callee else None,
            "target": self.target,
            "site": self.site.to_json(),
            "kind": self.kind.value,
            "resolution": self.resolution.value,
            "entered": self.entered,
        }
        if self.candidates:
            data["candidates"] = [c.to_json() for c in self.candidates]
        if self.signature is not None:
            data["args"] = self.signature.args_text()
            data["returns"] = self.signature.returns
            data["async"] = self.signature.is_async
        if self.handlers:
            data["handlers"] = list(self.handlers)
        if self.note:
            data["note"] = self.note
        if self.propagates:
            data["propagates"] = True
        if self.candidate_of:
            data["candidate_of"] = self.candidate_of
        if self.label:
            data["label"] = self.label
        return data


@dataclass(frozen=True, slots=True)
class Trace:
    """The result of walking a flow: the entry, the ordered steps, where and why the walk stopped."""

    title: str
    entry: Loc
    entry_signature: Signature | None
    steps: tuple[Step, ...]
    stops: tuple[str, ...] = ()
    truncated: bool = False
    truncation: str = ""  # why the walk stopped early: "max-steps" or "time budget"
    files: tuple[str, ...] = ()  # absolute paths of every source file the trace read
    warnings: tuple[Diagnostic, ...] = ()

    SCHEMA = "codetrace.trace/1"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "title": self.title,
            "entry": self.entry.to_json(),
            "steps": [s.to_json() for s in self.steps],
            "stops": list(self.stops),
            "truncated": self.truncated,
            **({"truncation": self.truncation} if self.truncated else {}),
            "warnings": [str(w) for w in self.warnings],
        }


# --------------------------------------------------------------------------------------------------------------
# (De)serialisation of facts for the cache.


_FIELDS: dict[type, tuple[str, ...]] = {}


_ATOMS = frozenset([str, int, bool, float, type(None)])


def to_plain(value: Any) -> Any:
    """A JSON-compatible structure for a dataclass tree (enums become their values). Plain values are
    copied without a call per value: the facts cache runs this over every fact of every file it stores."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        out = {}
        for name in names:
            item = getattr(value, name)
            out[name] = item if type(item) in _ATOMS else to_plain(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [item if type(item) in _ATOMS else to_plain(item) for item in value]
    return value


_T = TypeVar("_T")


def _frozen(value: Any) -> Any:
    """Lists back to tuples, recursively (expression trees are nested tuples)."""
    if type(value) is not list:
        return value
    return tuple([_frozen(v) if type(v) is list else v for v in value])


def builder(cls: type[_T]) -> Callable[..., _T]:
    """A function that makes what ``cls(...)`` makes, for a frozen, slotted dataclass, at half the cost.

    A frozen dataclass's ``__init__`` sets each field with a call of ``object.__setattr__`` (it must get past
    the ``__setattr__`` that refuses changes); the function made here stores the fields through their slot
    descriptors instead, and takes the same parameters with the same defaults. Decoding cached facts builds
    hundreds of thousands of these. A class this does not fit (a ``__post_init__``, a default factory, a field
    left out of ``__init__``) gets ``cls`` itself."""
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        return cls
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for i, f in enumerate(fields):
        if not f.init or f.default_factory is not dataclasses.MISSING:
            return cls
        namespace[f"_set{i}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        body.append(f"    _set{i}(o, {f.name})\n")
    exec(f"def build({', '.join(params)}):\n    o = _new(_cls)\n{''.join(body)}    return o\n", namespace)
    build: Callable[..., _T] = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build


_STEP_KINDS = {kind.value: kind for kind in StepKind}
_LANGS = {lang.value: lang for lang in Lang}


def facts_from_plain(data: dict[str, Any]) -> FileFacts:
    """Inverse of :func:`to_plain` for :class:`FileFacts`; raises on malformed input (a field missing or of
    the wrong shape, an unknown kind; keys it does not know are ignored).

    This decodes every cached file a trace reads, so it reads the fields by name and builds the dataclasses
    through :func:`builder`: two and a half times faster than ``Cls(**fields)``."""
    param, definition, call_site = _BUILD_PARAM, _BUILD_DEFINITION, _BUILD_CALL_SITE
    kinds, frozen = _STEP_KINDS, _frozen
    defs = tuple(
        [
            definition(
                d["qualname"],
                d["kind"],
                d["line"],
                d["end_line"],
                d["parent"],
                tuple([param(p["name"], p["annotation"], p["star"], p["has_default"]) for p in d["params"]]),
                d["returns"],
                d["is_async"],
                tuple(d["decorators"]),
                tuple(d["bases"]),
                d["in_class"],
                d["keyword"],
                d["self_type"],
                d["implements"],
                tuple(d.get("bounds", ())),
            )
            for d in data["definitions"]
        ]
    )
    calls = tuple(
        [
            call_site(
                c["scope"],
                c["line"],
                c["col"],
                tuple(c["chain"]),
                c["text"],
                kinds[c["kind"]],
                tuple(c["handlers"]),
                tuple(c["args"]),
                c["propagates"],
            )
            for c in data["calls"]
        ]
    )
    imp, raise_site, binding, flow = _BUILD_IMPORT, _BUILD_RAISE_SITE, _BUILD_BINDING, _BUILD_FLOW
    all_names = data.get("all_names")
    return _BUILD_FILE_FACTS(
        data["path"],
        _LANGS[data["lang"]],
        data["module"],
        defs,
        tuple([imp(i["scope"], i["name"], i["target"], i["line"], i["star"]) for i in data["imports"]]),
        calls,
        tuple([raise_site(r["scope"], r["line"], r["col"], r["text"]) for r in data["raises"]]),
        tuple(
            [binding(b["scope"], b["name"], b["line"], tuple(b["value"]), b["annotation"]) for b in data["bindings"]]
        ),
        tuple(all_names) if all_names is not None else None,
        tuple(
            [
                flow(
                    f["scope"],
                    f["line"],
                    f["col"],
                    f["kind"],
                    frozen(f["target"]),
                    frozen(f["value"]),
                    f["annotation"],
                    tuple(f["path"]),
                )
                for f in data.get("flow", ())
            ]
        ),
        data.get("error"),
    )


_BUILD_PARAM = builder(Param)
_BUILD_DEFINITION = builder(Definition)
_BUILD_IMPORT = builder(Import)
_BUILD_CALL_SITE = builder(CallSite)
_BUILD_RAISE_SITE = builder(RaiseSite)
_BUILD_BINDING = builder(Binding)
_BUILD_FLOW = builder(Flow)
_BUILD_FILE_FACTS = builder(FileFacts)


__all__ = [
    "Binding",
    "CallSite",
    "Definition",
    "FileFacts",
    "Flow",
    "Import",
    "Lang",
    "Loc",
    "Param",
    "RaiseSite",
    "Resolution",
    "Signature",
    "Site",
    "Step",
    "StepKind",
    "Trace",
    "builder",
    "facts_from_plain",
    "to_plain",
]
