"""Rust frontend: one source file in, :class:`~sphinxext.codetrace.model.FileFacts` out, with tree-sitter-rust.

One query (``rust.scm``, compiled once per process) finds the nodes that carry facts; their scope (the
function, ``impl``, trait or inline module around them) comes from their ancestors. It records:

* definitions: ``fn`` (kind ``function``; methods of ``impl`` blocks have ``in_class`` set, ``parent`` the
  type, ``self_type``/``implements`` the impl's type and trait as written; trait methods have the trait as
  ``parent``), ``struct``/``enum``/``union``/``trait`` (kind ``class``), enum variants (``variant``), ``impl``
  blocks themselves (``impl``, qualname ``impl@L<line>``), modules (``module`` inline, ``module-file`` for
  ``mod x;``), ``type`` aliases and associated types (``type``, ``returns`` the aliased type), ``const`` and
  ``static`` (``value``), ``macro_rules!`` (``macro``), macros invoked where items go (``macro-use``,
  ``bases`` the names they mention: they may define methods no fact shows). Attributes (``#[pyfunction]``, ``#[cfg(..)]``,
  ``#[path = ".."]``) are the ``decorators``, an ``impl`` block's attributes first for its methods. ``line``
  is the line of the item keyword. A qualname that repeats in a file (``cfg`` branches, two trait impls with
  the same method) gets a ``#2`` suffix so that every scope is unique;
* imports: ``use`` trees flattened (``use a::{b as c, d::*}`` gives ``c -> a::b`` and a star import of
  ``a::d``), ``self`` in lists, ``extern crate x as y`` (target ``::x``); targets are written as in the
  source (``crate::``, ``self::``, ``super::``, a leading ``::``);
* call sites, chains as documented on :class:`~sphinxext.codetrace.model.CallSite`, in execution order
  (arguments before the call that takes them), with ``await``, ``?`` (``propagates``) and spawns:
  ``tokio::spawn(f(x))`` makes ``f`` a spawn step, ``spawn(async move { .. })`` and ``spawn_blocking(|| ..)``
  a synthetic definition (``f::{async@L12}``, keyword ``async-block``/``closure``) entered by a spawn step.
  Other closures and async blocks belong to their enclosing function;
* macros: the arguments of format-style macros (``format!``, ``info!``, ``assert!``...), ``vec!``,
  ``join!``/``try_join!`` (awaited), ``tokio::select!`` branches (the futures awaited) and ``stream!``
  bodies are re-parsed and their calls traced; ``std``'s token-only macros are skipped; any other macro is
  kept as one opaque call site ``name!``. An item-level invocation of a ``macro_rules!`` defined earlier in
  the file is expanded when a rule's matcher is a plain ``($a:frag, $b:frag)`` list taking its arguments and
  its body does not repeat: the body, ``$a`` replaced by the argument's text, is parsed as items of the
  invocation's module, its facts at the body's lines (``impl_frontend!(Foo)`` gives ``Foo``'s methods);
* error paths: ``return Err(..)``, ``Err(..)?``, ``bail!``/``panic!``-like macros as raise sites;
* bindings used as type hints: ``let x: T = v``, ``let (a, b) = v`` (``v.0``/``v.1``), ``if``/``while let``
  and ``match`` arms ``Some(x)``/``Ok(x)`` (``v.unwrap()``), ``for x in v`` (element ``{item}``), closure
  parameters (opaque: they shadow), variant patterns (``E::A(x)`` binds ``x`` to ``v.A.0``, ``E::B { f, .. }``
  binds ``f`` to ``v.B.f``), struct and enum-variant fields (scope = the struct or ``Enum::Variant``,
  annotation = the field type) and struct literal fields (``Foo { tx: v }`` is ``Foo{}.tx`` bound to ``v``).

It does not resolve anything, expand other macros, evaluate ``cfg`` or read other files. Type texts the
resolver reads (impl headers, type aliases, struct fields) are kept whole up to ``_MAX_TYPE_TEXT``. Rows from tree-sitter are
0-based and converted here once; ``col`` is a byte offset within the line.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import tree_sitter_rust
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from ..model import Binding, CallSite, Definition, FileFacts, Import, Lang, Param, RaiseSite, StepKind
from .guard import paused_gc

#: Bump when the facts this frontend produces change, so cached facts are rebuilt.
FRONTEND_VERSION = "rs-12"


def _words(text: str) -> frozenset[str]:
    """A set of names written as a whitespace-separated word list."""
    return frozenset(text.split())


#: Calls that run their first argument as a new task or thread.
SPAWN_CALLS = frozenset({"spawn", "spawn_blocking", "spawn_local"})
#: Methods that wrap a future without changing what it runs: ``fut.instrument(span).await`` awaits ``fut``.
FUTURE_ADAPTERS = frozenset({"instrument", "in_current_span", "boxed", "fuse", "with_current_subscriber"})
#: Macros whose arguments are expressions (format strings aside): their calls are traced, the macro is not
#: a step of its own.
ARGS_MACROS = frozenset(
    {
        "print",
        "println",
        "eprint",
        "eprintln",
        "format",
        "format_args",
        "write",
        "writeln",
        "panic",
        "assert",
        "assert_eq",
        "assert_ne",
        "debug_assert",
        "debug_assert_eq",
        "debug_assert_ne",
        "info",
        "debug",
        "warn",
        "error",
        "trace",
        "event",
        "span",
        "info_span",
        "debug_span",
        "warn_span",
        "error_span",
        "trace_span",
        "anyhow",
        "bail",
        "ensure",
        "dbg",
        "todo",
        "unimplemented",
        "unreachable",
        "matches",
        "json",
        "pin",
        "pin_mut",
    }
)
ARRAY_MACROS = frozenset({"vec"})
JOIN_MACROS = frozenset({"join", "try_join"})
SELECT_MACROS = frozenset({"select", "select_biased"})
BLOCK_MACROS = frozenset({"stream", "try_stream"})
#: Macros that end the function with an error or a panic: recorded as raise sites.
RAISE_MACROS = frozenset({"bail", "panic", "unreachable", "todo", "unimplemented"})
#: ``std`` macros made of tokens only: nothing to trace, nothing to show.
QUIET_MACROS = frozenset(
    {
        "cfg",
        "concat",
        "stringify",
        "include",
        "include_str",
        "include_bytes",
        "env",
        "option_env",
        "line",
        "file",
        "column",
        "module_path",
        "compile_error",
        "thread_local",
    }
)
#: Calls that only wrap their argument: ``Arc::new(Foo::new())`` has the type of ``Foo::new()``.
_TRANSPARENT_WRAPPERS = frozenset({"Arc", "Box", "Rc", "Pin"})
_TRANSPARENT_CTORS = frozenset({"new", "pin", "from", "clone"})
#: Adapter methods whose closure arguments take the receiver's elements (or the content of an Option/Result).
ELEMENT_CLOSURES = _words(
    """map filter filter_map flat_map for_each any all find find_map position inspect take_while skip_while
    map_while max_by_key min_by_key sort_by_key sort_unstable_by_key retain and_then is_some_and is_ok_and
    sort_by sort_unstable_by max_by min_by dedup_by_key"""
)
#: Of those, the ones whose closures take two elements (the others take one; a map's `retain` takes k, v).
PAIR_CLOSURES = frozenset({"sort_by", "sort_unstable_by", "max_by", "min_by"})
#: Functions whose closure argument receives the first argument (the state threaded through the calls).
SEED_CLOSURES = frozenset({"unfold", "try_unfold"})

_MAX_TEXT = 120
#: Type texts the resolver reads (impl headers, type aliases, struct fields) are kept whole up to this length:
#: ``impl Operator<SingleIn<A>, ManyOut<B>, ..> for X`` cut at ``_MAX_TEXT`` would name no trait.
_MAX_TYPE_TEXT = 2000
_MAX_MACRO_DEPTH = 6
_KEYWORDS = {
    "function_item": "fn",
    "function_signature_item": "fn",
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "trait_item": "trait",
    "impl_item": "impl",
    "mod_item": "mod",
    "type_item": "type",
    "associated_type": "type",
    "const_item": "const",
    "static_item": "static",
    "macro_definition": "macro_rules!",
}

_LANGUAGE: Language | None = None
_QUERY: Query | None = None
_HEADER_QUERY: Query | None = None
#: The captures of ``rust.scm`` that only bodies have: a header extraction (:func:`parse_rust` with
#: ``headers_only``) leaves them out.
_BODY_CAPTURES = ("call", "binding", "closure", "return", "await", "try", "literal")


def language() -> Language:
    """The tree-sitter-rust language, loaded once."""
    global _LANGUAGE
    if _LANGUAGE is None:
        _LANGUAGE = Language(tree_sitter_rust.language())
    return _LANGUAGE


def query() -> Query:
    """The facts query of ``rust.scm``, compiled once."""
    global _QUERY
    if _QUERY is None:
        text = resources.files(__package__).joinpath("rust.scm").read_text(encoding="utf-8")
        _QUERY = Query(language(), text)
    return _QUERY


def header_query() -> Query:
    """:func:`query` without the captures of function bodies (items, ``use`` and macros only)."""
    global _HEADER_QUERY
    if _HEADER_QUERY is None:
        text = resources.files(__package__).joinpath("rust.scm").read_text(encoding="utf-8")
        _HEADER_QUERY = Query(language(), text)
        for name in _BODY_CAPTURES:
            _HEADER_QUERY.disable_capture(name)
    return _HEADER_QUERY


def _norm(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(segments: tuple[str, ...] | list[str]) -> str:
    if segments and segments[0] == "::":
        return "::" + "::".join(segments[1:])
    return "::".join(segments)


class _Scopes:
    """Byte ranges of the definitions code runs in (functions, spawned blocks), nested as in the tree: the
    innermost one holding a node is found without walking its ancestors, so deep expressions stay linear."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int, str]] = []
        self._sorted: list[tuple[int, int, str]] | None = None
        self._starts: list[int] = []
        self._parent: list[int] = []

    def add(self, start: int, end: int, qualname: str) -> None:
        self.ranges.append((start, end, qualname))
        self._sorted = None

    def _index(self) -> list[tuple[int, int, str]]:
        ordered = sorted(self.ranges, key=lambda r: (r[0], -r[1]))
        self._starts = [r[0] for r in ordered]
        self._parent = []
        stack: list[int] = []
        for i, (start, _end, _) in enumerate(ordered):
            while stack and ordered[stack[-1]][1] <= start:
                stack.pop()
            self._parent.append(stack[-1] if stack else -1)
            stack.append(i)
        self._sorted = ordered
        return ordered

    def innermost(self, start: int, end: int) -> str | None:
        ordered = self._sorted if self._sorted is not None else self._index()
        i = bisect.bisect_right(self._starts, start) - 1
        while i >= 0:
            s, e, qualname = ordered[i]
            if s <= start and end <= e:
                return qualname
            i = self._parent[i]
        return None


@dataclass
class _Text:
    """A parsed text: the file itself, or a macro's token tree re-parsed (positions map back by ``delta``),
    or a ``macro_rules!`` body expanded for one invocation (positions map back by line: ``lines``)."""

    data: bytes
    delta: int  # file byte = node byte + delta (the expanded body's byte, when ``lines`` is set)
    root: Node
    scope: str | None  # the scope of everything in a re-parsed macro; None for the file
    wrapper: int = -1  # id of the synthetic ``fn`` around a re-parsed macro
    tree: Tree | None = None  # kept alive while its nodes are used
    blocks: dict[int, str] = field(default_factory=dict)  # spawned block / closure node id -> qualname
    scopes: _Scopes = field(default_factory=_Scopes)  # functions and spawned blocks by byte range
    spawned: set[int] = field(default_factory=set)  # ids of calls run by a spawn
    handled: set[int] = field(default_factory=set)  # ids of spawn calls replaced by their spawn step
    awaited: set[int] = field(default_factory=set)  # ids of awaited calls (`.await`, join!, select!)
    propagating: set[int] = field(default_factory=set)  # ids of calls whose result goes through `?`
    elements: dict[int, tuple[str, ...]] = field(default_factory=dict)  # closure id -> chain of its receiver
    depth: int = 0
    lines: list[int] | None = None  # line starts of an expanded macro body (its lines are the body's lines)
    line0: int = 0  # the file row (0-based) of an expanded body's first line


@dataclass(frozen=True)
class _Impl:
    type_qual: str  # module prefix + the self type's name: ``inner::Foo``
    self_type: str
    implements: str
    bounds: tuple[str, ...]
    attrs: tuple[str, ...]


class _Extractor:
    def __init__(self, data: bytes, parser: Parser, headers_only: bool = False) -> None:
        self.data = data
        self.parser = parser
        self.headers_only = headers_only
        self.line_starts = [0] + [m.end() for m in re.finditer(b"\n", data)]
        self.definitions: list[Definition] = []
        self.imports: list[Import] = []
        self.calls: list[tuple[tuple[int, int], CallSite]] = []
        self.raises: list[RaiseSite] = []
        self.bindings: list[Binding] = []
        self.qual: dict[int, str] = {}  # node id of a fn / trait / inline mod -> qualname
        self.impls: dict[int, _Impl] = {}
        self.used: set[str] = set()
        self.macro_rules: dict[str, list[Node]] = {}  # macro_rules! definitions of the file by name
        self.roots: dict[int, str] = {}  # root node id of an expanded macro body -> prefix of its items

    # -- positions and text -----------------------------------------------------------------------------------

    def pos(self, text: _Text, node: Node) -> tuple[int, int]:
        return self.position(text, node.start_byte)

    def position(self, text: _Text, byte: int) -> tuple[int, int]:
        """The file line and column of a byte of ``text``."""
        byte += text.delta
        if text.lines is not None:  # an expanded macro body: its lines are the body's lines in the file
            row = bisect.bisect_right(text.lines, byte) - 1
            return text.line0 + row + 1, byte - text.lines[row]
        row = bisect.bisect_right(self.line_starts, byte) - 1
        return row + 1, byte - self.line_starts[row]

    def file_byte(self, text: _Text, byte: int) -> int:
        """The file byte a byte of ``text`` stands for (for ordering)."""
        if text.lines is None:
            return byte + text.delta
        line, col = self.position(text, byte)
        return self.line_starts[min(line, len(self.line_starts)) - 1] + col

    def line(self, text: _Text, node: Node) -> int:
        return self.pos(text, node)[0]

    @staticmethod
    def raw(text: _Text, node: Node) -> str:
        return text.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def norm(self, text: _Text, node: Node | None) -> str:
        return _norm(self.raw(text, node)) if node is not None else ""

    def type_text(self, text: _Text, node: Node | None) -> str:
        """A type as the resolver reads it: whitespace folded, kept whole up to :data:`_MAX_TYPE_TEXT`."""
        return _norm(self.raw(text, node), _MAX_TYPE_TEXT) if node is not None else ""

    def unique(self, qualname: str) -> str:
        if qualname in self.used:
            n = 2
            while f"{qualname}#{n}" in self.used:
                n += 1
            qualname = f"{qualname}#{n}"
        self.used.add(qualname)
        return qualname

    # -- items ------------------------------------------------------------------------------------------------

    def container(self, node: Node) -> Node | None:
        """The node whose scope an item or ``use`` belongs to: a module, impl, trait, extern block or fn."""
        p = node.parent
        while p is not None:
            if p.type == "declaration_list":
                return p.parent
            if p.type in ("source_file", "function_item"):
                return p
            p = p.parent
        return None

    def prefix(self, owner: Node | None) -> str | None:
        """The qualname prefix items inside ``owner`` get; None when the owner was not recorded."""
        if owner is None:
            return None
        if owner.type == "source_file":
            return self.roots.get(owner.id, "")
        if owner.type == "impl_item":
            impl = self.impls.get(owner.id)
            return impl.type_qual if impl else None
        if owner.type == "foreign_mod_item":
            return self.prefix(self.container(owner))
        return self.qual.get(owner.id)

    def attrs(self, text: _Text, node: Node) -> tuple[str, ...]:
        found: list[str] = []
        s = node.prev_sibling
        while s is not None and s.type in ("attribute_item", "line_comment", "block_comment"):
            if s.type == "attribute_item":
                found.append(self.norm(text, s))
            s = s.prev_sibling
        return tuple(reversed(found))

    def keyword_line(self, text: _Text, node: Node) -> int:
        keyword = _KEYWORDS.get(node.type)
        for child in node.children:
            if child.type == keyword:
                return self.line(text, child)
        name = node.child_by_field_name("name")
        return self.line(text, name if name is not None else node)

    def generics(self, text: _Text, node: Node) -> tuple[str, ...]:
        out: list[str] = []
        params = node.child_by_field_name("type_parameters")
        if params is not None:
            for p in params.named_children:
                if p.type in ("type_parameter", "constrained_type_parameter"):
                    name = p.child_by_field_name("name") or p.child_by_field_name("left") or p.named_children[0]
                    bounds = p.child_by_field_name("bounds")
                    entry = self.norm(text, name)
                    if bounds is not None:
                        entry += ": " + _norm(self.raw(text, bounds).lstrip(":"))
                    out.append(entry)
        for child in node.children:
            if child.type == "where_clause":
                for pred in child.named_children:
                    if pred.type != "where_predicate":
                        continue
                    left, bounds = pred.child_by_field_name("left"), pred.child_by_field_name("bounds")
                    if left is not None and bounds is not None:
                        out.append(f"{self.norm(text, left)}: {_norm(self.raw(text, bounds).lstrip(':'))}")
        return tuple(out)

    def params(self, text: _Text, node: Node) -> tuple[Param, ...]:
        params = node.child_by_field_name("parameters")
        out: list[Param] = []
        if params is None:
            return ()
        for p in params.named_children:
            if p.type == "self_parameter":
                out.append(Param("self", self.norm(text, p)))
            elif p.type == "parameter":
                pattern, type_ = p.child_by_field_name("pattern"), p.child_by_field_name("type")
                name = self.norm(text, pattern)
                if pattern is not None and pattern.type == "mut_pattern" and pattern.named_children:
                    name = self.norm(text, pattern.named_children[-1])
                out.append(Param(name, self.norm(text, type_) if type_ is not None else None))
        return tuple(out)

    def item(self, text: _Text, node: Node) -> None:
        owner = self.container(node)
        prefix = self.prefix(owner)
        if prefix is None:
            return
        t = node.type
        name_node = node.child_by_field_name("name")
        name = self.raw(text, name_node) if name_node is not None else ""
        line = self.keyword_line(text, node)
        end = self.pos(text, node)[0] + self.raw(text, node).count("\n")
        attrs = self.attrs(text, node)
        impl = self.impls.get(owner.id) if owner is not None and owner.type == "impl_item" else None
        in_trait = owner is not None and owner.type == "trait_item"
        in_class = impl is not None or in_trait
        common: dict[str, Any] = {"line": line, "end_line": end, "parent": prefix, "in_class": in_class}
        if impl is not None:
            common.update(self_type=impl.self_type, implements=impl.implements)
        outer_bounds: tuple[str, ...] = ()
        if impl is not None:
            outer_bounds = impl.bounds
        elif in_trait and owner is not None:
            outer_bounds = self.generics(text, owner)

        def qualified(n: str) -> str:
            return f"{prefix}::{n}" if prefix else n

        if t == "impl_item":
            type_node = node.child_by_field_name("type")
            trait_node = node.child_by_field_name("trait")
            type_name = _type_name(self.raw(text, type_node)) if type_node is not None else "?"
            bounds = self.generics(text, node)
            info = _Impl(
                qualified(type_name),
                self.type_text(text, type_node),
                self.type_text(text, trait_node),
                bounds,
                attrs,
            )
            self.impls[node.id] = info
            self.definitions.append(
                Definition(
                    qualname=self.unique(qualified(f"impl@L{line}")),
                    kind="impl",
                    line=line,
                    end_line=end,
                    parent=prefix,
                    decorators=attrs,
                    keyword="impl",
                    self_type=info.self_type,
                    implements=info.implements,
                    bounds=bounds,
                )
            )
            return
        if not name:
            return
        qualname = self.unique(qualified(name))
        if t in ("function_item", "function_signature_item"):
            modifiers = next((c for c in node.children if c.type == "function_modifiers"), None)
            is_async = modifiers is not None and any(c.type == "async" for c in modifiers.children)
            returns = node.child_by_field_name("return_type")
            self.definitions.append(
                Definition(
                    qualname=qualname,
                    kind="function",
                    params=self.params(text, node),
                    returns=self.norm(text, returns) if returns is not None else None,
                    is_async=is_async,
                    decorators=(impl.attrs if impl is not None else ()) + attrs,
                    keyword="fn" if t == "function_item" else "fn-decl",
                    bounds=outer_bounds + self.generics(text, node),
                    **common,
                )
            )
            if t == "function_item":
                self.qual[node.id] = qualname
                text.scopes.add(node.start_byte, node.end_byte, qualname)
        elif t in ("struct_item", "union_item", "enum_item", "trait_item"):
            bases: tuple[str, ...] = ()
            if t == "trait_item":
                bounds_node = node.child_by_field_name("bounds")
                if bounds_node is not None:
                    bases = tuple(self.norm(text, b) for b in bounds_node.named_children if b.type != "lifetime")
                self.qual[node.id] = qualname
            self.definitions.append(
                Definition(
                    qualname=qualname,
                    kind="class",
                    decorators=attrs,
                    bases=bases,
                    keyword=_KEYWORDS[t],
                    bounds=self.generics(text, node),
                    **common,
                )
            )
            body = node.child_by_field_name("body")
            if body is not None and t != "trait_item":
                self.fields(text, body, qualname)
        elif t == "mod_item":
            body = node.child_by_field_name("body")
            self.definitions.append(
                Definition(
                    qualname=qualname,
                    kind="module" if body is not None else "module-file",
                    decorators=attrs,
                    keyword="mod",
                    **common,
                )
            )
            if body is not None:
                self.qual[node.id] = qualname
        elif t in ("type_item", "associated_type", "const_item", "static_item"):
            type_node = node.child_by_field_name("type")
            self.definitions.append(
                Definition(
                    qualname=qualname,
                    kind="type" if t in ("type_item", "associated_type") else "value",
                    returns=self.type_text(text, type_node) if type_node is not None else None,
                    decorators=attrs,
                    keyword=_KEYWORDS[t],
                    bounds=self.generics(text, node),
                    **common,
                )
            )
        elif t == "macro_definition":
            if text.lines is None:  # the file's own macros (an expansion's bytes are not the file's)
                self.macro_rules.setdefault(name, []).append(node)
            self.definitions.append(
                Definition(qualname=qualname, kind="macro", decorators=attrs, keyword="macro_rules", **common)
            )

    def fields(self, text: _Text, body: Node, owner: str) -> None:
        """Struct fields as bindings of the struct's scope; enum variants as definitions."""
        if body.type == "field_declaration_list":
            for f in body.named_children:
                if f.type == "field_declaration":
                    name, type_ = f.child_by_field_name("name"), f.child_by_field_name("type")
                    if name is not None:
                        self.bindings.append(
                            Binding(
                                owner, self.raw(text, name), self.line(text, f), annotation=self.type_text(text, type_)
                            )
                        )
        elif body.type == "ordered_field_declaration_list":
            index = 0
            for i, child in enumerate(body.children):
                if body.field_name_for_child(i) == "type":
                    self.bindings.append(
                        Binding(owner, str(index), self.line(text, child), annotation=self.type_text(text, child))
                    )
                    index += 1
        elif body.type == "enum_variant_list":
            for v in body.named_children:
                if v.type != "enum_variant":
                    continue
                name = v.child_by_field_name("name")
                if name is None:
                    continue
                line = self.line(text, v)
                variant = self.unique(f"{owner}::{self.raw(text, name)}")
                fields = v.child_by_field_name("body")
                if fields is not None:
                    self.fields(text, fields, variant)
                self.definitions.append(
                    Definition(
                        qualname=variant,
                        kind="variant",
                        line=line,
                        end_line=line + self.raw(text, v).count("\n"),
                        parent=owner,
                        keyword="variant",
                        decorators=self.attrs(text, v),
                    )
                )

    # -- use --------------------------------------------------------------------------------------------------

    def use(self, text: _Text, node: Node) -> None:
        scope = self.prefix(self.container(node))
        if scope is None:
            return
        line = self.line(text, node)
        if node.type == "extern_crate_declaration":
            name, alias = node.child_by_field_name("name"), node.child_by_field_name("alias")
            if name is not None:
                crate = self.raw(text, name)
                bound = self.raw(text, alias) if alias is not None else crate
                self.imports.append(Import(scope, bound, f"::{crate}", line))
            return
        argument = node.child_by_field_name("argument")
        if argument is None:
            return
        for name, target, star in self.flatten(text, argument, ()):
            if name != "_" and target:
                self.imports.append(Import(scope, name, _join(target), line, star=star))

    def flatten(self, text: _Text, node: Node, prefix: tuple[str, ...]):
        t = node.type
        if t in ("identifier", "self", "super", "crate", "metavariable", "scoped_identifier"):
            segments = prefix + self.path(text, node)
            if segments[-1] == "self":
                segments = segments[:-1]
            if segments and segments[-1] != "::":
                yield segments[-1], segments, False
        elif t == "use_as_clause":
            path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
            if path is not None and alias is not None:
                segments = prefix + self.path(text, path)
                if segments[-1] == "self":
                    segments = segments[:-1]
                yield self.raw(text, alias), segments, False
        elif t == "use_wildcard":
            inner = node.named_children
            segments = prefix + (self.path(text, inner[0]) if inner else ())
            yield "*", segments, True
        elif t == "scoped_use_list":
            path, items = node.child_by_field_name("path"), node.child_by_field_name("list")
            if path is not None:
                base = prefix + self.path(text, path)
            else:
                base = prefix + (("::",) if self.raw(text, node).startswith("::") else ())
            if items is not None:
                yield from self.flatten(text, items, base)
        elif t == "use_list":
            for child in node.named_children:
                yield from self.flatten(text, child, prefix)

    def path(self, text: _Text, node: Node) -> tuple[str, ...]:
        """Path segments of an identifier, scoped identifier or type (generic arguments dropped)."""
        t = node.type
        if t in ("scoped_identifier", "scoped_type_identifier"):
            path, name = node.child_by_field_name("path"), node.child_by_field_name("name")
            if path is None:
                head: tuple[str, ...] = ("::",) if self.raw(text, node).startswith("::") else ()
            else:
                head = self.path(text, path)
            return head + ((self.raw(text, name),) if name is not None else ())
        if t == "generic_type":
            inner = node.child_by_field_name("type")
            return self.path(text, inner) if inner is not None else (self.norm(text, node),)
        if t == "generic_function":
            inner = node.child_by_field_name("function")
            return self.path(text, inner) if inner is not None else (self.norm(text, node),)
        return (self.norm(text, node),)

    # -- bodies -----------------------------------------------------------------------------------------------

    def scope(self, text: _Text, node: Node) -> str | None:
        """The definition a node's code runs in: the innermost ``fn`` or spawned block around it (closures and
        other async blocks belong to their function); ``None`` outside any function in the file."""
        return text.scopes.innermost(node.start_byte, node.end_byte) or text.scope

    def body(self, text: _Text, captures: dict[str, list[Node]] | None = None) -> None:
        if captures is None:
            captures = QueryCursor(query()).captures(text.root)

        def nodes(name: str) -> list[Node]:
            return sorted(captures.get(name, []), key=lambda n: n.start_byte)

        # Awaits and `?` are marked top-down: a node's parent costs a walk from the root in tree-sitter.
        for node in captures.get("await", []):
            inner = node.named_children[0] if node.named_children else None
            while inner is not None:
                inner = self.strip_parens(inner)
                if inner.type != "call_expression":
                    break
                text.awaited.add(inner.id)
                inner = self.adapted(text, inner)  # `fut.instrument(span).await` awaits `fut` too
        for node in captures.get("try", []):
            inner = node.named_children[0] if node.named_children else None
            while inner is not None and inner.type in ("parenthesized_expression", "await_expression"):
                inner = inner.named_children[0] if inner.named_children else None
            while inner is not None and inner.type == "call_expression":
                text.propagating.add(inner.id)
                inner = self.adapted(text, inner)  # `fut.instrument(span).await?` propagates fut's error
                if inner is not None:
                    inner = self.strip_parens(inner)
        calls = nodes("call")
        for call in calls:  # outer spawns first: their blocks scope what is inside
            self.spawn(text, call)
        for call in calls:
            self.call(text, call)
        for macro in nodes("macro"):
            self.macro(text, macro)
        for binding in nodes("binding"):
            self.binding(text, binding)
        for closure in nodes("closure"):
            self.closure(text, closure)
        for ret in nodes("return"):
            self.return_(text, ret)
        for literal in nodes("literal"):
            self.literal(text, literal)

    def callee_name(self, text: _Text, fn: Node | None) -> str:
        if fn is None:
            return ""
        if fn.type == "field_expression":
            f = fn.child_by_field_name("field")
            return self.raw(text, f) if f is not None else ""
        if fn.type == "generic_function":
            return self.callee_name(text, fn.child_by_field_name("function"))
        if fn.type in ("identifier", "scoped_identifier"):
            return self.path(text, fn)[-1]
        return ""

    @staticmethod
    def arguments(node: Node) -> list[Node]:
        args = node.child_by_field_name("arguments")
        if args is None:
            return []
        return [a for a in args.named_children if a.type not in ("line_comment", "block_comment", "attribute_item")]

    @staticmethod
    def strip_parens(node: Node) -> Node:
        while node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        return node

    def adapted(self, text: _Text, call: Node) -> Node | None:
        """``fut`` when ``call`` is ``fut.instrument(..)`` (a future adapter), else None."""
        fn = call.child_by_field_name("function")
        if fn is not None and fn.type == "field_expression" and self.callee_name(text, fn) in FUTURE_ADAPTERS:
            return fn.child_by_field_name("value")
        return None

    def unwrap_adapters(self, text: _Text, node: Node) -> Node:
        """``fut.instrument(span)`` -> ``fut``; parentheses dropped."""
        while True:
            if node.type == "parenthesized_expression" and node.named_children:
                node = node.named_children[0]
                continue
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                if fn is not None and fn.type == "field_expression" and self.callee_name(text, fn) in FUTURE_ADAPTERS:
                    value = fn.child_by_field_name("value")
                    if value is not None:
                        node = value
                        continue
            return node

    def spawn(self, text: _Text, node: Node) -> None:
        fn = node.child_by_field_name("function")
        if self.callee_name(text, fn) not in SPAWN_CALLS:
            return
        args = self.arguments(node)
        if not args:
            return
        target = self.unwrap_adapters(text, args[0])
        scope = self.scope(text, node)
        if scope is None:
            return
        if target.type in ("async_block", "closure_expression"):
            line = self.line(text, target)
            is_async = target.type == "async_block" or "async" in self.raw(text, target).split("{", 1)[0]
            label = "async" if target.type == "async_block" else "closure"
            qualname = self.unique(f"{scope}::{{{label}@L{line}}}")
            end = line + self.raw(text, target).count("\n")
            self.definitions.append(
                Definition(
                    qualname=qualname,
                    kind="function",
                    line=line,
                    end_line=end,
                    parent=scope,
                    is_async=is_async,
                    keyword="async-block" if target.type == "async_block" else "closure",
                )
            )
            text.blocks[target.id] = qualname
            text.scopes.add(target.start_byte, target.end_byte, qualname)
            text.handled.add(node.id)
            call_line, call_col = self.pos(text, node)
            site = CallSite(
                scope,
                call_line,
                call_col,
                ("{block}", qualname),
                f"{self.norm(text, fn)}({label} …)",
                StepKind.SPAWN,
            )
            self.calls.append((self.order(text, node), site))
        elif target.type == "call_expression":
            text.spawned.add(target.id)
            text.handled.add(node.id)

    def order(self, text: _Text, node: Node) -> tuple[int, int]:
        return self.file_byte(text, node.end_byte), -self.file_byte(text, node.start_byte)

    def call(self, text: _Text, node: Node) -> None:
        if node.id in text.handled:
            return
        scope = self.scope(text, node)
        if scope is None:
            return
        fn = node.child_by_field_name("function")
        chain = self.callee_chain(text, fn) if fn is not None else ()
        if chain == ("__codetrace_args",):
            return
        line, col = self.pos(text, node)
        propagates = node.id in text.propagating
        if chain and chain[-1][1:] in ELEMENT_CLOSURES and len(chain) > 1 and chain[0] != "{expr}":
            receiver = (*chain[:-2], chain[-2]) if chain[-2] != "{expr}" else ()
            for arg in self.arguments(node):
                if arg.type == "closure_expression" and receiver:
                    text.elements[arg.id] = (chain[-1][1:], *receiver)
        elif chain and chain[-1] in SEED_CLOSURES:  # `stream::unfold(state, |state| ..)`: the seed is the state
            args = self.arguments(node)
            if len(args) == 2 and args[1].type == "closure_expression":
                seed = self.value_chain(text, args[0])
                if seed:
                    text.elements[args[1].id] = ("{seed}", *seed)
        if chain in (("Err",), ("Result", "Err")) and propagates:
            self.raises.append(RaiseSite(scope, line, col, self.norm(text, node)))
        if node.id in text.spawned:
            kind = StepKind.SPAWN
        elif node.id in text.awaited:
            kind = StepKind.AWAIT
        else:
            kind = StepKind.CALL
        args = tuple(self.norm(text, a) for a in self.arguments(node)[:8])
        site = CallSite(scope, line, col, chain, self.norm(text, fn), kind, (), args, propagates)
        self.calls.append((self.order(text, node), site))

    def callee_chain(self, text: _Text, fn: Node) -> tuple[str, ...]:
        t = fn.type
        if t in ("identifier", "self", "super", "crate"):
            return (self.raw(text, fn),)
        if t == "generic_function":
            inner = fn.child_by_field_name("function")
            return self.callee_chain(text, inner) if inner is not None else ()
        if t == "scoped_identifier":
            return self.path(text, fn)
        if t == "field_expression":
            value, f = fn.child_by_field_name("value"), fn.child_by_field_name("field")
            base = self.value_chain(text, value) if value is not None else ()
            return (*(base or ("{expr}",)), "." + (self.raw(text, f) if f is not None else "?"))
        return ()

    def value_chain(self, text: _Text, node: Node) -> tuple[str, ...]:
        """The chain of a value expression (see :class:`CallSite`), ``()`` when it is not one."""
        t = node.type
        if t in ("identifier", "self", "super", "crate"):
            return (self.raw(text, node),)
        if t in ("scoped_identifier", "generic_function"):
            return self.path(text, node)
        if t == "field_expression":
            return self.callee_chain(text, node)
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            callee = self.callee_chain(text, fn) if fn is not None else ()
            if not callee:
                return ()
            args = self.arguments(node)
            if args and (
                callee in (("Some",), ("Ok",))
                or (len(callee) >= 2 and callee[-2] in _TRANSPARENT_WRAPPERS and callee[-1] in _TRANSPARENT_CTORS)
            ):
                return self.value_chain(text, args[0])
            return (*callee[:-1], callee[-1] + "()")
        if t == "await_expression":
            inner = node.named_children
            base = self.value_chain(text, inner[0]) if inner else ()
            return (*base, ".await") if base else ()
        if t == "try_expression":
            inner = node.named_children
            base = self.value_chain(text, inner[0]) if inner else ()
            return (*base, "?") if base else ()
        if t == "index_expression":
            inner = node.named_children
            base = self.value_chain(text, inner[0]) if inner else ()
            return (*base, "[]") if base else ()
        if t == "struct_expression":
            name = node.child_by_field_name("name")
            if name is None:
                return ()
            path = self.path(text, name)
            return (*path[:-1], path[-1] + "{}")
        if t in ("reference_expression", "parenthesized_expression", "unary_expression"):
            value = node.child_by_field_name("value")
            if value is None:
                inner = [c for c in node.named_children if c.type != "mutable_specifier"]
                value = inner[0] if inner else None
            if t == "unary_expression" and not self.raw(text, node).startswith("*"):
                return ()
            return self.value_chain(text, value) if value is not None else ()
        if t == "closure_expression":
            return ("{closure}",)
        if t == "macro_invocation":  # the macros whose value has a known type
            mac = node.child_by_field_name("macro")
            name = self.path(text, mac)[-1] if mac is not None else ""
            return {"format": ("String{}",), "vec": ("Vec{}",)}.get(name, ())
        return ()

    # -- macros -----------------------------------------------------------------------------------------------

    def macro(self, text: _Text, node: Node) -> None:
        scope = self.scope(text, node)
        mac = node.child_by_field_name("macro")
        if mac is None:
            return
        if scope is None:
            parent = node.parent
            if parent is not None and parent.type == "expression_statement":
                parent = parent.parent
            if text.scope is None and parent is not None and parent.type in ("source_file", "declaration_list"):
                self.item_macro(text, node, mac)
            return
        path = self.path(text, mac)
        name = path[-1]
        tree = next((c for c in node.children if c.type == "token_tree"), None)
        line, col = self.pos(text, node)
        if name in RAISE_MACROS:
            self.raises.append(RaiseSite(scope, line, col, self.norm(text, node)))
        if name in QUIET_MACROS:
            return
        if tree is None:
            return
        if name in ARGS_MACROS:
            self.reparse(text, tree, "args", scope)
        elif name in ARRAY_MACROS:
            self.reparse(text, tree, "array", scope)
        elif name in JOIN_MACROS:
            self.reparse(text, tree, "join", scope)
        elif name in SELECT_MACROS:
            self.reparse(text, tree, "select", scope)
        elif name in BLOCK_MACROS:
            self.reparse(text, tree, "block", scope)
        else:
            site = CallSite(scope, line, col, (*path[:-1], name + "!"), f"{_join(path)}!", StepKind.CALL)
            self.calls.append((self.order(text, node), site))

    def extract(self, text: _Text, root: Node) -> None:
        """Every fact under ``root``: items, then ``use`` declarations, then bodies, each in source order.
        With ``headers_only``, bodies are skipped but for the macros invoked where items go (which may define
        items)."""
        captures = QueryCursor(header_query() if self.headers_only else query()).captures(root)
        for item in sorted(captures.get("item", []), key=lambda n: n.start_byte):
            self.item(text, item)
        for use in sorted(captures.get("use", []), key=lambda n: n.start_byte):
            self.use(text, use)
        if not self.headers_only:
            self.body(text, captures)
            return
        for macro in sorted(captures.get("macro", []), key=lambda n: n.start_byte):
            if self.scope(text, macro) is None:  # what ``macro`` does with it: an item-level invocation
                self.macro(text, macro)

    def item_macro(self, text: _Text, node: Node, mac: Node) -> None:
        """A macro invoked where items go (``impl_frontend!(Foo);``): it may define items and methods the
        facts cannot see. Recorded as a ``macro-use`` definition whose ``bases`` are the names it mentions."""
        prefix = self.prefix(self.container(node))
        if prefix is None:
            return
        name = self.path(text, mac)[-1]
        if mac.type == "identifier" and self.expand(text, node, name, prefix):
            return
        line = self.line(text, node)
        idents: list[str] = []
        stack = [node]
        while stack and len(idents) < 64:
            n = stack.pop()
            if n.type in ("identifier", "type_identifier") and n is not mac:
                ident = self.raw(text, n)
                if ident not in idents:
                    idents.append(ident)
            stack.extend(reversed(n.children))
        self.definitions.append(
            Definition(
                qualname=self.unique(f"{prefix}::{name}!@L{line}" if prefix else f"{name}!@L{line}"),
                kind="macro-use",
                line=line,
                end_line=line + self.raw(text, node).count("\n"),
                parent=prefix,
                bases=tuple(idents),
                keyword="macro",
            )
        )

    def expand(self, text: _Text, node: Node, name: str, prefix: str) -> bool:
        """Expand an item-level invocation of a ``macro_rules!`` defined earlier in the file, when a rule's
        matcher is a plain list of ``$name:fragment`` (comma-separated) taking the invocation's arguments
        and its body has no repetition: the body, with each ``$name`` replaced by its argument's text, is
        parsed as items (impls, functions...) of the invocation's module, at the body's lines."""
        if text.depth >= _MAX_MACRO_DEPTH:
            return False
        defs = [d for d in self.macro_rules.get(name, ()) if text.lines is not None or d.end_byte <= node.start_byte]
        tree = next((c for c in node.children if c.type == "token_tree"), None)
        if not defs or tree is None:
            return False
        args = self.macro_args(text, tree)
        for rule in defs[-1].named_children:
            if rule.type != "macro_rule":
                continue
            left, right = rule.child_by_field_name("left"), rule.child_by_field_name("right")
            if left is None or right is None or right.type != "token_tree":
                continue
            names = self.matcher(left)
            if names is None or len(names) != len(args):
                continue
            body = self.transcribe(right, dict(zip(names, args, strict=True)))
            if body is None:
                return False
            line0 = bisect.bisect_right(self.line_starts, right.start_byte) - 1
            parsed = self.parser.parse(body)
            sub = _Text(
                body,
                0,
                parsed.root_node,
                None,
                tree=parsed,
                depth=text.depth + 1,
                lines=[0] + [m.end() for m in re.finditer(b"\n", body)],
                line0=line0,
            )
            self.roots[parsed.root_node.id] = prefix
            self.extract(sub, parsed.root_node)
            return True
        return False

    def macro_args(self, text: _Text, tree: Node) -> list[str]:
        """The comma-separated arguments of a macro invocation, each as one line of text."""
        args: list[str] = []
        start: int | None = None
        end = 0
        for child in tree.children[1:-1]:
            if child.type == ",":
                if start is not None:
                    args.append(" ".join(text.data[start:end].decode("utf-8", "replace").split()))
                start = None
                continue
            if start is None:
                start = child.start_byte
            end = child.end_byte
        if start is not None:
            args.append(" ".join(text.data[start:end].decode("utf-8", "replace").split()))
        return args

    def matcher(self, left: Node) -> list[str] | None:
        """The metavariable names of a matcher ``($a:ident, $b:ty)``; None for any other shape."""
        names: list[str] = []
        for child in left.children[1:-1]:
            if child.type == ",":
                continue
            if child.type != "token_binding_pattern":
                return None
            var = child.named_children[0] if child.named_children else None
            if var is None or var.type != "metavariable" or var.text is None:
                return None
            names.append(var.text.decode("utf-8", "replace"))
        return names

    def transcribe(self, right: Node, bindings: dict[str, str]) -> bytes | None:
        """A rule's body (inside its braces) with its metavariables replaced; None when it repeats
        (``$(..)*``) or names a metavariable the matcher did not bind."""
        data = right.text or b""
        origin = right.start_byte
        out = bytearray()
        at = 1  # after the opening brace
        stack = list(reversed(right.children[1:-1]))
        while stack:
            n = stack.pop()
            if n.type == "token_tree":
                stack.extend(reversed(n.children))
                continue
            if n.type == "$" or n.type.startswith("token_repetition"):
                return None
            if n.type != "metavariable":
                continue
            start, end = n.start_byte - origin, n.end_byte - origin
            var = data[start:end].decode("utf-8", "replace")
            if var == "$crate":
                value = "crate"
            elif var in bindings:
                value = bindings[var]
            else:
                return None
            out += data[at:start] + value.encode("utf-8")
            at = end
        out += data[at:-1]  # before the closing brace
        return bytes(out)

    def reparse(self, text: _Text, tree: Node, mode: str, scope: str) -> None:
        """Parse a macro's token tree as Rust (arguments, array, block, or select branches) and trace it."""
        if text.depth >= _MAX_MACRO_DEPTH or tree.end_byte - tree.start_byte < 2:
            return
        start, end = tree.start_byte + 1, tree.end_byte - 1
        if mode in ("args", "array") and b"(" not in text.data[start:end]:
            return  # `format!("{}", x)`: no call in it (most macro arguments); parsing it costs more than the rest
        inner = bytearray(text.data[start:end])
        if mode == "select":  # `pat = fut => handler,` -> `pat = fut;  handler;`: same length, same positions
            for child in tree.children:
                if child.type in ("=>", ","):
                    at = child.start_byte - start
                    inner[at : at + len(child.type)] = b"; " if child.type == "=>" else b";"
        prefix, suffix = {
            "args": (b"fn __m(){__codetrace_args(", b");}"),
            "join": (b"fn __m(){__codetrace_args(", b");}"),
            "array": (b"fn __m(){[", b"];}"),
            "block": (b"fn __m(){", b"\n}"),
            "select": (b"fn __m(){", b"\n}"),
        }[mode]
        data = prefix + bytes(inner) + suffix
        parsed = self.parser.parse(data)
        root = parsed.root_node
        wrapper = root.named_children[0] if root.named_children else None
        if wrapper is None or wrapper.type != "function_item":
            return
        sub = _Text(
            data,
            text.delta + start - len(prefix),
            root,
            scope,
            wrapper=wrapper.id,
            tree=parsed,
            depth=text.depth + 1,
            lines=text.lines,
            line0=text.line0,
        )
        body = wrapper.child_by_field_name("body")
        if body is not None and mode in ("join", "select"):
            for stmt in body.named_children:
                expr = stmt.named_children[0] if stmt.type == "expression_statement" and stmt.named_children else stmt
                if mode == "join" and expr.type == "call_expression":
                    for arg in self.arguments(expr):
                        arg = self.unwrap_adapters(sub, arg)
                        if arg.type == "call_expression":
                            sub.awaited.add(arg.id)
                elif mode == "select" and expr.type == "assignment_expression":
                    left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
                    if right is None or left is None:
                        continue
                    chain = self.value_chain(sub, right)
                    right = self.unwrap_adapters(sub, right)
                    if right.type == "call_expression":
                        sub.awaited.add(right.id)
                    self.select_pattern(sub, scope, left, chain)
        self.body(sub)

    def select_pattern(self, text: _Text, scope: str, left: Node, chain: tuple[str, ...]) -> None:
        """The pattern of a ``select!`` branch was parsed as an expression: bind its names, and do not take
        ``Some(v)`` for a call."""
        line = self.line(text, left)
        if left.type == "identifier":
            self.bind(text, scope, left, chain, None, line)
            return
        if left.type == "call_expression":
            text.handled.add(left.id)
            fn = left.child_by_field_name("function")
            args = self.arguments(left)
            if fn is not None and self.raw(text, fn) in ("Some", "Ok") and len(args) == 1:
                self.bind(text, scope, args[0], (*chain, ".unwrap()") if chain else (), None, line)
                return
        self.opaque(text, scope, left, line)

    # -- bindings ---------------------------------------------------------------------------------------------

    def binding(self, text: _Text, node: Node) -> None:
        scope = self.scope(text, node)
        if scope is None:
            return
        line = self.line(text, node)
        t = node.type
        if t == "assignment_expression":  # `self.f = value`: what a method stores in a field
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and left.type == "field_expression":
                base, field = left.child_by_field_name("value"), left.child_by_field_name("field")
                if base is not None and field is not None and self.raw(text, base) == "self":
                    chain = self.value_chain(text, right)
                    self.bindings.append(Binding(scope, f"self.{self.raw(text, field)}", line, value=chain))
            return
        if t == "match_expression":
            value = node.child_by_field_name("value")
            chain = self.value_chain(text, value) if value is not None else ()
            body = node.child_by_field_name("body")
            for arm in body.named_children if body is not None else ():
                pattern = arm.child_by_field_name("pattern") if arm.type == "match_arm" else None
                if pattern is not None and pattern.named_children:
                    self.bind(text, scope, pattern.named_children[0], chain, None, self.line(text, arm))
            return
        pattern, value = node.child_by_field_name("pattern"), node.child_by_field_name("value")
        if pattern is None:
            return
        chain = self.value_chain(text, value) if value is not None else ()
        if t == "for_expression":
            chain = (*chain, "{item}") if chain else ()
        type_ = node.child_by_field_name("type") if t == "let_declaration" else None
        annotation = self.norm(text, type_) if type_ is not None else None
        self.bind(text, scope, pattern, chain, annotation, line)

    def bind(
        self,
        text: _Text,
        scope: str,
        pattern: Node,
        chain: tuple[str, ...],
        annotation: str | None,
        line: int,
    ) -> None:
        t = pattern.type
        if t == "identifier":
            name = self.raw(text, pattern)
            if not name[:1].isupper():  # `None`, a unit variant or a constant: not a binding
                self.bindings.append(Binding(scope, name, line, value=chain, annotation=annotation))
            return
        if t in ("mut_pattern", "ref_pattern") and pattern.named_children:
            self.bind(text, scope, pattern.named_children[-1], chain, annotation, line)
            return
        if t == "tuple_pattern":
            elements = [c for c in pattern.children if c.type not in ("(", ")", ",")]
            for i, element in enumerate(elements):
                self.bind(text, scope, element, (*chain, f".{i}") if chain else (), None, line)
            return
        if t == "tuple_struct_pattern":
            type_ = pattern.child_by_field_name("type")
            inner = [
                c
                for c in pattern.children
                if c.type not in ("(", ")", ",", "line_comment", "block_comment") and c != type_
            ]
            if type_ is not None and self.raw(text, type_) in ("Some", "Ok") and len(inner) == 1:
                self.bind(text, scope, inner[0], (*chain, ".unwrap()") if chain else (), None, line)
                return
            if type_ is not None and chain:  # `Enum::Variant(a, b)`: the variant's fields `.Variant.0`, ...
                variant = "." + self.path(text, type_)[-1]
                for i, element in enumerate(inner):
                    if element.type in ("remaining_field_pattern", "rest_pattern", ".."):
                        self.opaque(text, scope, pattern, line)
                        return
                    self.bind(text, scope, element, (*chain, variant, f".{i}"), None, line)
                return
        if t == "struct_pattern":
            type_ = pattern.child_by_field_name("type")
            if type_ is not None and chain:  # `Variant { a, b: x, .. }` (or a struct): `.Variant.a`, ...
                variant = "." + self.path(text, type_)[-1]
                for f in pattern.named_children:
                    if f.type != "field_pattern":
                        continue
                    name, sub = f.child_by_field_name("name"), f.child_by_field_name("pattern")
                    if name is None:
                        continue
                    value = (*chain, variant, "." + self.raw(text, name))
                    if sub is None:
                        if not self.raw(text, name)[:1].isupper():
                            self.bindings.append(Binding(scope, self.raw(text, name), line, value=value))
                    else:
                        self.bind(text, scope, sub, value, None, line)
                return
        self.opaque(text, scope, pattern, line)

    def opaque(self, text: _Text, scope: str, pattern: Node, line: int) -> None:
        """Every name a pattern binds, with no known type (they shadow outer names)."""
        stack: list[tuple[Node, bool]] = [(pattern, False)]  # (node, is the `type` of its parent pattern)
        while stack:
            n, is_type = stack.pop()
            if n.type in ("identifier", "shorthand_field_identifier"):
                name = self.raw(text, n)
                if not is_type and not name[:1].isupper():
                    self.bindings.append(Binding(scope, name, line))
                continue
            if n.type in ("scoped_identifier", "type_identifier", "scoped_type_identifier"):
                continue
            type_child = n.child_by_field_name("type") if n.type in ("tuple_struct_pattern", "struct_pattern") else None
            stack.extend((c, c == type_child) for c in reversed(n.named_children))

    def closure(self, text: _Text, node: Node) -> None:
        params = node.child_by_field_name("parameters")
        if params is None:
            return
        scope = self.scope(text, params)
        if scope is None:
            return
        line = self.line(text, node)
        found = text.elements.get(node.id)
        method, receiver = (found[0], found[1:]) if found else ("", ())
        count = len(params.named_children)
        takes = 2 if method in PAIR_CLOSURES else 1 if count == 1 else 0
        for index, p in enumerate(params.named_children):
            element = (*receiver, "{item}") if receiver and index < takes else ()
            if method == "{seed}":
                element = receiver if index == 0 else ()
            if element:  # `xs.iter().map(|x| ..)`: x is an element of the receiver
                pattern = p.child_by_field_name("pattern") if p.type == "parameter" else p
                type_ = p.child_by_field_name("type") if p.type == "parameter" else None
                if pattern is not None:
                    self.bind(
                        text, scope, pattern, element, self.norm(text, type_) if type_ is not None else None, line
                    )
                    continue
            if p.type == "parameter":
                pattern, type_ = p.child_by_field_name("pattern"), p.child_by_field_name("type")
                if pattern is not None and pattern.type == "identifier" and type_ is not None:
                    self.bindings.append(
                        Binding(scope, self.raw(text, pattern), line, annotation=self.norm(text, type_))
                    )
                elif pattern is not None:
                    self.opaque(text, scope, pattern, line)
            else:
                self.opaque(text, scope, p, line)

    def return_(self, text: _Text, node: Node) -> None:
        value = node.named_children[0] if node.named_children else None
        if value is None or value.type != "call_expression":
            return
        fn = value.child_by_field_name("function")
        if fn is not None and self.callee_chain(text, fn) in (("Err",), ("Result", "Err")):
            scope = self.scope(text, node)
            if scope is not None:
                line, col = self.pos(text, node)
                self.raises.append(RaiseSite(scope, line, col, self.norm(text, value)))

    def literal(self, text: _Text, node: Node) -> None:
        scope = self.scope(text, node)
        name, body = node.child_by_field_name("name"), node.child_by_field_name("body")
        if scope is None or name is None or body is None:
            return
        type_path = _join(self.path(text, name))
        for f in body.named_children:
            if f.type == "field_initializer":
                field_node, value = f.child_by_field_name("field"), f.child_by_field_name("value")
                if field_node is not None and value is not None:
                    self.bindings.append(
                        Binding(
                            scope,
                            f"{type_path}{{}}.{self.raw(text, field_node)}",
                            self.line(text, f),
                            value=self.value_chain(text, value),
                        )
                    )
            elif f.type == "shorthand_field_initializer" and f.named_children:
                ident = self.raw(text, f.named_children[0])
                self.bindings.append(Binding(scope, f"{type_path}{{}}.{ident}", self.line(text, f), value=(ident,)))


def _type_name(text: str) -> str:
    """The name an impl's self type is known by in qualnames: ``&'a mut super::Foo<T>`` is ``Foo``."""
    text = " ".join(text.split())
    text = re.sub(r"^(&\s*('\w+\s+)?(mut\s+)?)+", "", text)
    text = re.sub(r"^dyn\s+", "", text)
    depth, cut = 0, len(text)
    for i, ch in enumerate(text):
        if ch in "<([":
            if depth == 0 and ch == "<":
                cut = i
                break
            depth += 1
        elif ch in ">)]":
            depth -= 1
    base = text[:cut].strip()
    if base.startswith(("(", "[")):
        return base
    return base.rpartition("::")[2] or base


def parse_rust(source: str, path: str, headers_only: bool = False) -> FileFacts:
    """Facts for one Rust file. tree-sitter recovers from syntax errors, so a damaged file still gives the
    facts of its intact parts; only pathological nesting gives an ``error``.

    ``headers_only``: the facts a whole-workspace index needs, at about a third of the cost: every item
    (definitions, fields, impl headers, item-level macros and their expansions) and every ``use``, but no
    call, raise or body binding, and none of the definitions that only bodies make (spawned blocks and
    closures). Apart from those, the definitions, imports and field bindings are the full facts'."""
    data = source.encode("utf-8")
    parser = Parser(language())
    tree = parser.parse(data)
    ex = _Extractor(data, parser, headers_only)
    text = _Text(data, 0, tree.root_node, None, tree=tree)
    try:
        with paused_gc():  # facts by the thousand and no reference cycle (see paused_gc)
            ex.extract(text, tree.root_node)
    except RecursionError:
        return FileFacts(path=path, lang=Lang.RUST, module="", error="nesting too deep to analyse")
    calls = tuple(site for _, site in sorted(ex.calls, key=lambda item: item[0]))
    return FileFacts(
        path=path,
        lang=Lang.RUST,
        module="",
        definitions=tuple(ex.definitions),
        imports=tuple(ex.imports),
        calls=calls,
        raises=tuple(sorted(ex.raises, key=lambda r: (r.line, r.col))),
        bindings=tuple(ex.bindings),
    )


__all__ = ["FRONTEND_VERSION", "header_query", "language", "parse_rust", "query"]
