"""The values Python resolution works with, and the pure helpers over them (no file is read here).

:mod:`.python` evaluates expression trees to :class:`Vals`: sets of values such as a function or class
(:class:`DefV`), an instance (:class:`InstanceV`), a container (:class:`SeqV`, :class:`DictV`) or an external
name (:class:`ExternalV`), each answer with how it was made (:class:`~sphinxext.codetrace.model.Resolution`)
and whether some possibilities are unknown. A :class:`FileInfo` indexes one file's flow facts; :func:`reaching`
says which bindings of a name reach a use; :func:`argument_for` matches a call's arguments to parameters.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..model import Definition, FileFacts, Flow, Lang, Loc, Resolution

#: Resolution kinds of one callee, most certain first; a chain is as certain as its weakest link.
RANK = {Resolution.DIRECT: 0, Resolution.IMPORT: 1, Resolution.TYPED: 2, Resolution.INHERITED: 3}
#: Annotation wrappers whose first argument is the type: ``Optional[X]`` is ``X``.
WRAPPERS = {"Optional", "Final", "ClassVar", "Annotated", "Awaitable", "Required", "NotRequired", "ReadOnly"}
#: Methods that add to the container they are called on.
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft"}


@dataclass(frozen=True, slots=True)
class PySymbol:
    """A definition in the workspace: which repo and file, which module, which definition."""

    repo: str
    path: str
    module: str
    definition: Definition

    # A definition is identified by where it is: hashing and comparing that is much cheaper than the
    # whole Definition, and symbols are hashed constantly while resolving.
    def __hash__(self) -> int:
        return hash((self.path, self.definition.qualname, self.definition.line))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PySymbol):
            return NotImplemented
        return (
            self.path == other.path
            and self.definition.qualname == other.definition.qualname
            and self.definition.line == other.definition.line
            and self.repo == other.repo
        )

    @property
    def qualname(self) -> str:
        q = self.definition.qualname
        return f"{self.module}.{q}" if self.module else q

    def loc(self) -> Loc:
        d = self.definition
        owner = ""
        if d.in_class:
            owner = f"{self.module}.{d.parent}" if self.module else d.parent
        elif d.kind == "class":
            owner = self.qualname
        return Loc(self.repo, self.path, d.line, self.qualname, Lang.PYTHON, self.module, owner)


# -- values ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleV:
    name: str


@dataclass(frozen=True, slots=True)
class DefV:
    """A function or class object; a method looked up on an instance (or a classmethod on a class) keeps
    what it is bound to; a function defined inside another one keeps the frame that call ran in
    (``closure``: a decorator's wrapper knows the function it was applied to)."""

    sym: PySymbol
    bound: Any = None
    closure: Any = None


@dataclass(frozen=True, slots=True)
class InstanceV:
    """An instance of a workspace class: ``exact`` when it was constructed here, not only declared (then it
    may be a subclass); ``alloc`` is the construction site when ``__init__`` stores its arguments."""

    cls: PySymbol
    exact: bool = False
    alloc: Any = None


@dataclass(frozen=True, slots=True)
class SuperV:
    cls: PySymbol  # lookups start after this class in the MRO of ``instance``'s class
    instance: Any


@dataclass(frozen=True, slots=True)
class ExternalV:
    name: str


@dataclass(frozen=True, slots=True)
class ConstV:
    """A literal string, number or boolean (dict keys and list indices are matched by it)."""

    value: Any


@dataclass(frozen=True, slots=True)
class SeqV:
    """A tuple, list, set, iterator or generator expression: ``items`` by index when known, ``elems`` all of
    them; ``site`` is where a mutable literal was made (stores into it are found there)."""

    kind: str
    items: tuple[frozenset[Any], ...] | None
    elems: frozenset[Any]
    site: Any = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class DictV:
    """A dict: ``entries`` pair a key (``("k", constant)``, a value such as a class, or None when unknown)
    with the values stored under it."""

    entries: tuple[tuple[Any, frozenset[Any]], ...]
    site: Any = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class GenV:
    """What calling a generator function gives: its elements are what it yields."""

    func: PySymbol
    frame: Any


@dataclass(frozen=True, slots=True)
class PartialV:
    funcs: frozenset[Any]


@dataclass(frozen=True, slots=True)
class WrapsV:
    """``functools.wraps(fn)``: applied to a wrapper, it gives ``fn`` (the wrapper stands for it)."""

    wrapped: frozenset[Any]


@dataclass(frozen=True, slots=True)
class PropertyV:
    getters: frozenset[Any]


@dataclass(frozen=True, slots=True)
class MethodOfV:
    """A method of a builtin container (``d.get``, ``items.append``)."""

    container: Any
    name: str


@dataclass(frozen=True, slots=True)
class Vals:
    """What an expression may be: a set of values, how the answer was made, whether some possibilities are
    unknown (``partial``), and the declaration they override when the set lists overrides (``decl``)."""

    values: frozenset[Any] = frozenset()
    how: Resolution = Resolution.DIRECT
    partial: bool = False
    decl: PySymbol | None = None

    def weaker(self, how: Resolution) -> Vals:
        return Vals(self.values, weaker(self.how, how), self.partial, self.decl)


UNKNOWN = Vals(frozenset(), Resolution.DIRECT, True)
NOTHING = Vals()


def one(value: Any, how: Resolution = Resolution.DIRECT) -> Vals:
    return Vals(frozenset([value]), how)


def union(parts: Iterable[Vals]) -> Vals:
    values: set[Any] = set()
    how: Resolution | None = None
    partial = False
    decls: set[PySymbol] = set()
    for part in parts:
        values |= part.values
        partial = partial or part.partial
        if part.values:
            how = part.how if how is None else weaker(how, part.how)
        if part.decl is not None:
            decls.add(part.decl)
    decl = next(iter(decls)) if len(decls) == 1 else None
    return Vals(frozenset(values), how or Resolution.DIRECT, partial, decl)


@dataclass(frozen=True, slots=True)
class Frame:
    """The parameters of one function as an evaluation sees them: ``self_value`` for a method's first
    parameter, ``args`` the values of one call's arguments (None: whatever every known caller passes);
    ``caller`` the call a trace entered the function through, ``(its context in the caller, its tree, how many
    leading parameters it does not pass)``: a parameter it passes something known holds that."""

    func: PySymbol
    self_value: Any = None
    args: tuple[tuple[str, Vals], ...] | None = None
    closure: Frame | None = None  # the frame of the enclosing function, for a function defined inside one
    caller: tuple[Any, Any, int] | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        # frames nest (a closure's, a walk caller's): hashed as memo keys constantly, the hash is kept
        h = self._hash
        if not h:
            h = hash((self.func, self.self_value, self.args, self.closure, self.caller)) or 1
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where an expression is evaluated: file, scope, position (for reaching bindings) and frame."""

    key: tuple[str, str]
    scope: str
    line: int
    col: int
    path: tuple[int, ...]
    frame: Frame | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One callee of a call site: ``kind`` is ``"def"`` (a function), ``"new"`` (a class instantiated:
    ``sym`` is ``__init__`` when found, ``cls`` the class) or ``"external"`` (``name``)."""

    kind: str
    sym: PySymbol | None = None
    cls: PySymbol | None = None
    name: str = ""
    receiver: Any = None
    extra: tuple[PySymbol, ...] = ()  # ``__new__`` besides ``__init__``


@dataclass
class CallAnswer:
    """Everything a call site may call."""

    targets: list[Target]
    how: Resolution
    partial: bool
    decl: PySymbol | None = None


class FileInfo:
    """Indexes over one file's flow facts, built once per file."""

    def __init__(self, repo: str, path: str, facts: FileFacts) -> None:
        self.key = (repo, path)
        self.repo = repo
        self.path = path
        self.facts = facts
        self.module = facts.module
        self.defs: dict[str, Definition] = {d.qualname: d for d in facts.definitions}
        self.binds: dict[tuple[str, str], list[tuple[Flow, tuple[Any, ...]]]] = {}
        self.attr_stores: dict[str, list[tuple[Flow, Any, tuple[Any, ...]]]] = {}
        self.sub_stores: list[tuple[Flow, Any, Any, tuple[Any, ...]]] = []
        self.returns: dict[str, list[Flow]] = {}
        self.yields: dict[str, list[Flow]] = {}
        # (scope, line, col, text) -> the call flows written there, in order (two calls can start at one
        # position with one shortened text: ``very_long_call(...).a().b()``)
        self.calls: dict[tuple[str, int, int, str | None], list[Flow]] = {}
        self.call_list: list[Flow] = []
        self.stars: dict[str, list[Flow]] = {}
        self.defaults: dict[tuple[str, str], Flow] = {}
        self.raises: list[Flow] = []
        self.mutators: list[Flow] = []
        for flow in facts.flow:
            kind = flow.kind
            if kind == "bind":
                for leaf, accessor in leaves(flow.target, ()):
                    tag = leaf[0]
                    if tag == "n":
                        self.binds.setdefault((flow.scope, leaf[1]), []).append((flow, accessor))
                    elif tag == "a":
                        self.attr_stores.setdefault(leaf[2], []).append((flow, leaf[1], accessor))
                    elif tag == "s":
                        self.sub_stores.append((flow, leaf[1], leaf[2], accessor))
            elif kind == "call":
                self.calls.setdefault((flow.scope, flow.line, flow.col, flow.annotation), []).append(flow)
                self.call_list.append(flow)
                func = flow.value[1] if flow.value and flow.value[0] == "c" else None
                if func and func[0] == "a" and func[2] in MUTATORS and flow.target is None:
                    self.mutators.append(flow)
            elif kind == "return":
                self.returns.setdefault(flow.scope, []).append(flow)
            elif kind == "yield":
                self.yields.setdefault(flow.scope, []).append(flow)
            elif kind == "star":
                self.stars.setdefault(flow.scope, []).append(flow)
            elif kind == "default":
                self.defaults[(flow.target[0], flow.target[1])] = flow
            elif kind == "raise":
                self.raises.append(flow)
        # each call site with its flow: the k-th site of a key is the k-th flow of that key
        self.flow_of: dict[int, Flow] = {}
        seen: dict[tuple[str, int, int, str], int] = {}
        for call in facts.calls:
            key = (call.scope, call.line, call.col, call.text)
            flows = self.calls.get(key, [])
            k = seen.get(key, 0)
            seen[key] = k + 1
            if k < len(flows):
                self.flow_of[id(call)] = flows[k]


def leaves(pattern: Any, accessor: tuple[Any, ...]) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """The names, attributes and subscripts a target pattern binds, with how to reach each one's value."""
    if not pattern:
        return
    tag = pattern[0]
    if tag == "t":
        items = pattern[1]
        n = len(items)
        star = next((i for i, item in enumerate(items) if item and item[0] == "*"), None)
        for i, item in enumerate(items):
            if item and item[0] == "*":
                yield from leaves(item[1], (*accessor, ("sl", i, n - 1 - i)))
            else:
                k = i if star is None or i < star else i - n
                yield from leaves(item, (*accessor, ("ix", k)))
    elif tag == "*":
        yield from leaves(pattern[1], (*accessor, ("sl", 0, 0)))
    elif tag in ("n", "a", "s"):
        yield pattern, accessor


def site_of(ctx: Ctx, tree: Any) -> tuple[Any, ...]:
    """Where a mutable container is made: the statement's position and the literal's own tree."""
    return (ctx.key, ctx.scope, ctx.line, ctx.col, ctx.path, tree)


def kill_stores(matching: list[Any], ctx: Ctx, key: Any) -> list[Any]:
    """Of the entries stored under ``key`` in the reading scope, those no later store under the same key has
    replaced on every path to the read; entries made elsewhere, or under an unknown key, all stay."""
    at = (ctx.line, ctx.col, ctx.path)
    local = [(m[0][0], m[0][1], m[0][2], m) for m in matching if m[0][2] != (-1,) and m[2] == key]
    kept = reaching(local, at) if local else []
    others = [m for m in matching if not (m[0][2] != (-1,) and m[2] == key)]
    return [*kept, *others]


def dict_keys(d: DictV) -> frozenset[Any]:
    keys: set[Any] = set()
    for k, _ in d.entries:
        if isinstance(k, tuple) and k and k[0] == "k":
            keys.add(ExternalV(f"builtins.{type(k[1]).__name__}()"))
        elif k is not None:
            keys.add(k)
    return frozenset(keys)


def reaching(entries: list[tuple[int, int, tuple[int, ...], Any]], at: Any) -> list[Any]:
    """Of the bindings of a name in one scope (line, col, branch path, payload), those that reach a use at
    ``at`` = (line, col, path), or the end of the scope when ``at`` is None: bindings inside a comprehension
    reach only uses inside it; a later binding whose path is a prefix of the use's (it runs on every path to
    the use) replaces earlier ones. When none comes before the use (a loop, a closure), all of them count."""
    use_path = at[2] if at is not None else ()
    visible = [e for e in entries if all(b > 0 or b in use_path for b in e[2])]
    if at is not None:
        before = [e for e in visible if (e[0], e[1]) < (at[0], at[1]) or any(b < 0 for b in e[2])]
        if not before:
            return [e[3] for e in visible]
    else:
        before = visible
    kept = []
    for e in before:
        killed = any(
            (o[0], o[1]) > (e[0], e[1]) and use_path[: len(o[2])] == o[2] and len(o[2]) <= len(use_path) for o in before
        )
        if not killed:
            kept.append(e[3])
    return kept


def argument_for(d: Definition, index: int, call_tree: Any, skip: int) -> Any:
    """The argument tree a call passes to parameter ``index`` of ``d`` (``skip`` leading parameters are
    bound already, as ``self``), ``"*"``/``"**"`` for the star parameters, or None when it passes none."""
    if not call_tree or call_tree[0] != "c":
        return None
    p = d.params[index]
    if p.star == "*":
        return "*"
    if p.star == "**":
        return "**"
    args, kwargs = call_tree[2], call_tree[3]
    for name, tree in kwargs:
        if name == p.name:
            return tree
    positional_params = [q for q in d.params if not q.star]
    kwonly_start = next((i for i, q in enumerate(d.params) if q.star == "*"), len(d.params))
    if index >= kwonly_start:
        return None
    position = positional_params.index(p) - skip if p in positional_params else -1
    if position < 0:
        return None
    for i, tree in enumerate(args):
        if tree and tree[0] == "*":
            return None
        if i == position:
            return tree
    return None


def terminal(tree: Any, through_subscripts: bool = False) -> str | None:
    """The name an expression ends with: ``f`` for ``f``, ``m`` for ``a.b.m`` (and ``d`` for ``d["k"]["j"]``
    when ``through_subscripts``); None for anything else."""
    while through_subscripts and tree and tree[0] == "s":
        tree = tree[1]
    if tree and tree[0] == "n":
        return tree[1]
    if tree and tree[0] == "a":
        return tree[2]
    return None


def complete(vals: Vals) -> bool:
    """Whether nothing in ``vals`` is unknown, containers' elements included."""
    return not vals.partial and not any(getattr(v, "partial", False) for v in vals.values)


def bound_params(d: Definition, bound: Any) -> int:
    """How many leading parameters a call does not pass: ``self`` (or ``cls``) of a bound method."""
    if bound is None or not d.in_class:
        return 0
    return 0 if any(dec.rpartition(".")[2] == "staticmethod" for dec in d.decorators) else 1


def names_in(tree: Any) -> set[str]:
    """Every ``("n", name)`` in an expression tree."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, tuple):
            if len(t) == 2 and t[0] == "n" and isinstance(t[1], str):
                out.add(t[1])
            else:
                stack.extend(x for x in t if isinstance(x, tuple))
    return out


def is_method(vals: Vals) -> bool:
    return any(isinstance(v, DefV) and v.sym.definition.kind == "function" for v in vals.values)


def ast_chain(node: ast.AST) -> tuple[str, ...]:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        base = ast_chain(node.value)
        return (*base, node.attr) if base else ()
    return ()


def chain_tree(chain: tuple[str, ...]) -> Any:
    tree: Any = ("n", chain[0])
    for part in chain[1:]:
        tree = ("a", tree, part)
    return tree


def annotation_tree(text: str) -> Any:
    """The expression tree of a base class as written (``pkg.Base``, ``Generic[T]`` is ``Generic``)."""
    chain = annotation_chain(text)
    return chain_tree(chain) if chain else None


def value_key(value: Any) -> tuple[str, str]:
    """A total order on values, for deterministic iteration (``repr`` of a frozenset is not stable)."""
    return type(value).__name__, stable_key(value)


def stable_key(value: Any) -> str:
    if isinstance(value, PySymbol):
        return f"{value.qualname}@{value.path}:{value.definition.line}"
    if isinstance(value, DefV):
        closure = f"/{frame_key(value.closure)}" if value.closure is not None else ""
        return f"{stable_key(value.sym)}/{value_key(value.bound) if value.bound is not None else ''}{closure}"
    if isinstance(value, InstanceV):
        return f"{stable_key(value.cls)}/{value.exact}/{value.alloc[1:4] if value.alloc else ''}"
    if isinstance(value, (ModuleV, ExternalV)):
        return value.name
    if isinstance(value, ConstV):
        return repr(value.value)
    if isinstance(value, SuperV):
        return f"{stable_key(value.cls)}/{value_key(value.instance)}"
    if isinstance(value, (SeqV, DictV)):
        site = value.site[1:4] if value.site is not None else ""
        size = len(value.items or ()) if isinstance(value, SeqV) else len(value.entries)
        members = value.elems if isinstance(value, SeqV) else frozenset().union(*(v for _, v in value.entries))
        return f"{site}/{size}/{sorted(value_key(m) for m in members)}"
    if isinstance(value, GenV):
        return stable_key(value.func)
    if isinstance(value, (PartialV, WrapsV, PropertyV)):
        members = (
            value.funcs
            if isinstance(value, PartialV)
            else (value.wrapped if isinstance(value, WrapsV) else value.getters)
        )
        return str(sorted(value_key(m) for m in members))
    if isinstance(value, MethodOfV):
        return f"{value_key(value.container)}.{value.name}"
    return repr(value)


def frame_key(frame: Frame) -> str:
    """A stable text for a frame (closures order values that differ only by the frame they were made in)."""
    args = ",".join(f"{n}={sorted(value_key(v) for v in vals.values)}" for n, vals in frame.args or ())
    self_value = value_key(frame.self_value) if frame.self_value is not None else ""
    outer = frame_key(frame.closure) if frame.closure is not None else ""
    at = frame.caller[0] if frame.caller is not None else None
    caller = f"{at.key}:{at.scope}:{at.line}:{at.col}" if at is not None else ""
    return f"{stable_key(frame.func)}[{self_value}|{args}|{outer}|{caller}]"


def merge_closures(a: Frame | None, b: Frame | None) -> Frame | None:
    """One frame for a function made in two calls of the same enclosing function (the union of what each
    passed), or None when they differ in more than their arguments."""
    if a is None or b is None or a.func != b.func or a.self_value != b.self_value:
        return None
    if a.args is None or b.args is None or [n for n, _ in a.args] != [n for n, _ in b.args]:
        return None
    outer = a.closure if a.closure == b.closure else merge_closures(a.closure, b.closure)
    if outer is None and (a.closure is not None or b.closure is not None):
        return None
    args = tuple((n, union([x, y])) for (n, x), (_, y) in zip(a.args, b.args, strict=True))
    return Frame(a.func, a.self_value, args, outer, a.caller if a.caller == b.caller else None)


def sym_key(sym: PySymbol) -> tuple[str, str, str, int]:
    return sym.qualname, sym.repo, sym.path, sym.definition.line


def target_key(t: Target) -> tuple[str, str]:
    if t.sym is not None:
        return t.kind, t.sym.qualname
    if t.cls is not None:
        return t.kind, t.cls.qualname
    return t.kind, t.name


def c3(sequences: list[list[PySymbol]]) -> list[PySymbol]:
    """Merge step of C3; on an inconsistent hierarchy falls back to depth-first order without repeats."""
    seqs = [list(s) for s in sequences if s]
    result: list[PySymbol] = []
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head in s[1:] for s in seqs):
                break
        else:
            for seq in seqs:
                for item in seq:
                    if item not in result:
                        result.append(item)
            return result
        result.append(head)
        seqs = [[x for x in s if x != head] for s in seqs]
        seqs = [s for s in seqs if s]
    return result


def weaker(a: Resolution, b: Resolution) -> Resolution:
    """The less certain of two resolution kinds along a chain."""
    if a not in RANK:
        return a
    if b not in RANK:
        return b
    return a if RANK[a] >= RANK[b] else b


_SUBSCRIPT = re.compile(r"^([\w.]+)\[(.*)\]$")


def split_top(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside brackets."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def annotation_chain(text: str) -> tuple[str, ...]:
    """The class a type annotation names, as a chain: ``Optional["pkg.Foo"]`` is ``("pkg", "Foo")``.

    ``X | None``, ``Optional[X]`` and ``Union[X, None]`` give ``X``; other generics give their origin
    (``list[Foo]`` is ``list``, ``asyncio.Task[None] | None`` is ``asyncio.Task``). Anything else gives ``()``.
    """
    text = text.strip().strip("'\"").strip()
    options = [p for p in split_top(text, "|") if p not in ("None", "")]
    if len(options) != 1:
        return ()
    text = options[0].strip("'\"")
    m = _SUBSCRIPT.match(text)
    if m:
        origin, inner = m.group(1), m.group(2)
        if origin.rpartition(".")[2] in WRAPPERS:
            return annotation_chain(split_top(inner, ",")[0])
        if origin in ("Union", "typing.Union"):
            options = [p for p in split_top(inner, ",") if p != "None"]
            return annotation_chain(options[0]) if len(options) == 1 else ()
        text = origin
    parts = text.split(".")
    return tuple(parts) if all(p.isidentifier() for p in parts) else ()


__all__ = [
    "MUTATORS",
    "NOTHING",
    "RANK",
    "UNKNOWN",
    "WRAPPERS",
    "CallAnswer",
    "ConstV",
    "Ctx",
    "DefV",
    "DictV",
    "ExternalV",
    "FileInfo",
    "Frame",
    "GenV",
    "InstanceV",
    "MethodOfV",
    "ModuleV",
    "PartialV",
    "PropertyV",
    "PySymbol",
    "SeqV",
    "SuperV",
    "Target",
    "Vals",
    "WrapsV",
    "annotation_chain",
    "annotation_tree",
    "argument_for",
    "ast_chain",
    "bound_params",
    "c3",
    "chain_tree",
    "complete",
    "dict_keys",
    "frame_key",
    "is_method",
    "kill_stores",
    "leaves",
    "merge_closures",
    "names_in",
    "one",
    "reaching",
    "site_of",
    "split_top",
    "stable_key",
    "sym_key",
    "target_key",
    "terminal",
    "union",
    "value_key",
    "weaker",
]
