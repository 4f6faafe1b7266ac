"""Python resolution: from a call site to the definitions it may call, using facts alone.

The resolver is a small abstract interpreter over the facts of :mod:`..index.python`. It evaluates the
expression tree of a call's callee (``self.store.get``, ``handlers[kind]``, ``make()()``) to a *set* of
values: a module, a function or class object (a method remembers the instance it was looked up on), an
instance of a class, ``super()``, a container (tuple, list, dict: their elements are followed), a generator,
a ``functools.partial``, or an external dotted name (stdlib, third party, builtins). Unknown stays unknown.

* Names are looked up the way Python scopes them (enclosing functions, then the module, skipping class
  bodies; ``global`` declarations, imports made inside functions, star imports with ``__all__``, builtins).
  Of the bindings of a name, those that reach the use count: a later binding on every path to the use
  replaces earlier ones (``a = f; a = g; a()`` calls ``g``), bindings in different branches are all kept, so
  a conditional import or assignment gives a *set* of values.
* Imports are followed through re-exports in ``__init__`` modules, namespace packages, several source roots
  and ``.pyi`` stubs (next to a module, or instead of it).
* Attributes of instances are found along the C3 MRO, then in what methods assign to ``self.x`` and in
  class-level annotations (dataclass, NamedTuple and pydantic fields). An instance whose class is only
  declared (an annotation, ``self``) may be a subclass: a method a subclass overrides (or inherits from a
  mixin) makes the call a set of candidates; when the base is abstract and one subclass implements it, that
  one is the answer.
* Calls take the callee's return annotation or, without one, what its ``return`` statements give for *these*
  arguments (a decorator that returns its argument is transparent; ``functools.wraps(fn)`` makes a wrapper
  stand for ``fn``); ``yield`` makes a generator, ``with`` takes ``__enter__``, ``for`` takes the elements.

* A parameter without a declared type holds what the calls in its function's own file pass (a partial
  answer: other files may pass more); in a trace, an instance made where ``__init__`` stores its arguments
  remembers that construction, so ``self.handler`` in a method reached on it is what was passed there (so
  does a dataclass whose fields are declared vaguely, ``object``/``Any``: the value passed wins). A function
  defined inside another remembers the call it was made in (its closure): a decorator's wrapper, entered by
  the walk, calls the function the decorator was applied to. In a trace, a parameter no annotation declares
  holds what the walk's call passed it, read up the walk's path (:meth:`PythonResolver.walk_frame`).
* An object whose class has a workspace ``__getattr__``/``__call__`` answers attribute reads and calls through
  them; ``importlib.import_module`` and ``getattr`` on string constants are followed, so a lazy-import proxy
  (``LazyImport("pkg.mod", "Cls")``) stands for the class it names, also as an annotation.

The values and the pure helpers over them live in :mod:`.pyvalues`; this module reads files (through the
index) and evaluates. Each answer records how it was made (:class:`~sphinxext.codetrace.model.Resolution`):
one callee is ``direct``/``import``/``typed``/``inherited``; several are ``candidates`` (listed, and marked
when others may exist). A call whose callee has no static answer is ``unresolved`` with its source text:
never guessed. Answers are memoised; an answer that met a cycle is kept for its own query only, so no answer
depends on the order of questions.

:meth:`PythonResolver.resolve_call` answers for one call site, on demand: it parses only the files the
evaluation reaches (plus, when a declared receiver's overrides are wanted, a text index of ``class``
headers finds the files with subclasses). For a whole call graph (:mod:`sphinxext.codetrace.callgraph`) the
resolver is told what each function's parameters receive at every call site of the program
(:meth:`PythonResolver.set_param_sources`).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..diagnostics import CodetraceError, suggest
from ..index import Index
from ..index.python_ast import implicit_tag
from ..model import CallSite, Definition, FileFacts, Flow, Resolution
from ..workspace import Workspace
from . import Outcome
from .pyvalues import (
    NOTHING,
    UNKNOWN,
    WRAPPERS,
    CallAnswer,
    ConstV,
    Ctx,
    DefV,
    DictV,
    ExternalV,
    FileInfo,
    Frame,
    GenV,
    InstanceV,
    MethodOfV,
    ModuleV,
    PartialV,
    PropertyV,
    PySymbol,
    SeqV,
    SuperV,
    Target,
    Vals,
    WrapsV,
    annotation_chain,
    annotation_tree,
    argument_for,
    ast_chain,
    bound_params,
    c3,
    chain_tree,
    complete,
    dict_keys,
    is_method,
    kill_stores,
    leaves,
    merge_closures,
    names_in,
    one,
    reaching,
    site_of,
    stable_key,
    sym_key,
    target_key,
    terminal,
    union,
    value_key,
    weaker,
)

#: Builtins that are plain helpers: calls to them are left out of traces, they carry no flow.
QUIET_BUILTINS = frozenset(
    [
        "abs",
        "all",
        "any",
        "bool",
        "bytes",
        "callable",
        "chr",
        "dict",
        "dir",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "format",
        "frozenset",
        "getattr",
        "hasattr",
        "hash",
        "id",
        "int",
        "isinstance",
        "issubclass",
        "iter",
        "len",
        "list",
        "map",
        "max",
        "min",
        "next",
        "object",
        "ord",
        "print",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "setattr",
        "sorted",
        "str",
        "sum",
        "super",
        "tuple",
        "type",
        "vars",
        "zip",
    ]
)

_SEQUENCES = {
    "list",
    "List",
    "Sequence",
    "MutableSequence",
    "Iterable",
    "Iterator",
    "Collection",
    "set",
    "Set",
    "frozenset",
    "FrozenSet",
    "AbstractSet",
    "MutableSet",
    "deque",
    "Deque",
    "AsyncIterator",
    "AsyncIterable",
    "Generator",
    "AsyncGenerator",
    "KeysView",
    "ValuesView",
    "Reversible",
}
#: Lower-case classes subscripted as generics in code (``deque[int](maxlen=4)``, ``list[str]()``).
_LOWER_GENERICS = frozenset({"list", "dict", "set", "frozenset", "tuple", "type", "deque", "defaultdict"})
_MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "defaultdict", "DefaultDict", "OrderedDict", "ChainMap"}
#: External bases that add no attributes a call could reach.
_HARMLESS_BASES = frozenset(
    {
        "builtins.object",
        "typing.Generic",
        "typing.Protocol",
        "typing_extensions.Protocol",
        "abc.ABC",
        "typing.NamedTuple",
        "typing.TypedDict",
        "typing_extensions.TypedDict",
    }
)
_TYPING_MODULES = ("typing.", "typing_extensions.", "collections.abc.", "collections.")
_SELF_NAMES = {"Self", "typing.Self", "typing_extensions.Self"}
#: Builtins whose result depends on run-time values (a name, a namespace): calling it is not external code.
_OPAQUE_BUILTINS = frozenset({"getattr", "globals", "locals", "vars", "eval", "exec", "__import__", "compile"})
#: Decorators that make an attribute read call the function: ``obj.prop`` is what the getter returns.
_PROPERTIES = {"builtins.property", "functools.cached_property", "cached_property", "property"}
_CONTAINER_METHODS = {"tuple": "tuple", "list": "list", "set": "set", "g": "generator", "iter": "iterator"}
#: Evaluation steps one call site may take before its answer is given up (unknown).
_BUDGET = 30_000
_MAX_DEPTH = 60
_MAX_FRAME_DEPTH = 3
#: A parameter passed at more call sites than this is not followed (its callers are not all evaluated).
_MAX_SOURCES = 24


_END = (1 << 30, 0)
#: Flow tags of the calls the code makes without writing them: their arguments are not written either.
_IMPLICIT_FLOWS = frozenset({"enter", "exit", "iter", "next", "callback"})


class _Cut(Exception):
    """The evaluation budget of one call site is spent."""


class PythonResolver:
    """Resolves Python entries and call sites over an :class:`~sphinxext.codetrace.index.Index`."""

    def __init__(self, workspace: Workspace, index: Index) -> None:
        self.workspace = workspace
        self.index = index
        self._modules: dict[str, list[tuple[str, str]]] = {}
        self._exists: dict[str, bool] = {}
        self._infos: dict[tuple[str, str], FileInfo] = {}
        self._mro: dict[PySymbol, list[PySymbol]] = {}
        self._external_bases: dict[PySymbol, list[str]] = {}  # filled by mro(): bases outside the workspace
        self._open: set[PySymbol] = set()  # classes with a base that names nothing known
        self._subclasses: dict[PySymbol, tuple[PySymbol, ...]] = {}
        self._class_text_index: dict[str, list[tuple[str, str]]] | None = None
        self._param_sources: dict[PySymbol, list[tuple[Ctx, Flow, Any]]] = {}
        self._memo: dict[Any, Any] = {}
        # answers that read what parameters receive (call graphs), with the functions whose parameters they read
        self._sourced: dict[Any, tuple[Vals, frozenset[PySymbol]]] = {}
        self._provisional: dict[Any, Any] = {}
        self._deps: list[set[PySymbol]] = [set()]  # functions whose parameter sources the current answer read
        #: The functions whose parameter sources the last :meth:`call_answer` read (call graphs re-resolve a
        #: call only when one of those gained a source).
        self.last_deps: frozenset[PySymbol] = frozenset()
        #: Call graphs see the whole program: what known callers pass is all a parameter receives.
        self.closed_world = False
        self._callers: dict[tuple[str, str, str], dict[PySymbol, list[tuple[Ctx, Flow, Any]]]] = {}
        self._walk_frames: dict[Any, Frame | None] = {}  # (frame, call, caller, caller's frame) -> walk frame
        self._reads: dict[Frame, set[str]] = {}  # walk frame -> parameters read from the call that entered it
        self._isolated = False  # computing a file's callers: parameters are not followed to callers
        self._active: set[Any] = set()
        self._cuts = 0
        self._steps = 0
        self._depth = 0
        self._frame_depth = 0
        #: Whether a dotted name lies in a compiled extension module of the workspace (set by the PyO3 bridge):
        #: an import from one that has no ``.pyi`` stub is external, not unresolved.
        self.is_extension_module: Any = None

    # -- modules ----------------------------------------------------------------------------------------------

    def module_files(self, module: str) -> list[tuple[str, str]]:
        """``(repo, relpath)`` of the files defining ``module`` in any repo, in repo order: sources first, then
        ``.pyi`` stubs (next to a module or instead of it)."""
        found = self._modules.get(module)
        if found is None:
            found = []
            parts = module.split(".")
            for repo in self.workspace.repos.values():
                for path in repo.module_files(module):
                    found.append((repo.name, repo.relpath(path)))
                if not all(p.isidentifier() for p in parts):
                    continue
                tail = "/".join(parts)
                for root in repo.python_roots:
                    for stub in (f"{tail}.pyi", f"{tail}/__init__.pyi"):
                        key, state = repo.probe_in_root(root, stub)  # recorded: a stub that appears is a change
                        if state == "file":
                            found.append((repo.name, key))
                            break
            self._modules[module] = found
        return found

    def module_exists(self, module: str) -> bool:
        found = self._exists.get(module)
        if found is None:
            found = self._exists[module] = bool(self.module_files(module)) or any(
                r.is_package_dir(module) for r in self.workspace.repos.values()
            )
        return found

    def facts_of(self, repo: str, path: str) -> FileFacts:
        return self.info(repo, path).facts

    def info(self, repo: str, path: str) -> FileInfo:
        key = (repo, path)
        found = self._infos.get(key)
        facts = self.index.facts(self.workspace.repos[repo], path)  # records the file as read, every time
        if found is None or found.facts is not facts:
            found = self._infos[key] = FileInfo(repo, path, facts)
        return found

    def _sym(self, info: FileInfo, d: Definition) -> PySymbol:
        return PySymbol(info.repo, info.path, info.module, d)

    def _info_of(self, sym: PySymbol) -> FileInfo:
        return self.info(sym.repo, sym.path)

    # -- entries ----------------------------------------------------------------------------------------------

    def resolve_entry(self, text: str, repo: str | None = None) -> PySymbol:
        """The definition an entry names: ``pkg.mod.Class.method`` or ``path/to/mod.py::Class.method``."""
        if "::" in text and text.split("::", 1)[0].endswith((".py", ".pyi")):
            return self._entry_from_file(text, repo)
        parts = text.split(".")
        if not all(p.isidentifier() for p in parts):
            raise CodetraceError(
                "unresolved",
                f"entry {text!r} is not a dotted Python name",
                "write pkg.module.Class.method or path/to/module.py::Class.method",
            )
        for i in range(len(parts), 0, -1):
            module = ".".join(parts[:i])
            files = [f for f in self.module_files(module) if repo is None or f[0] == repo]
            if not files:
                continue
            rest = parts[i:]
            if not rest:
                raise CodetraceError(
                    "unresolved", f"entry {text!r} is a module, not a function", "name a function or method inside it"
                )
            resolved = self._single_def(self._guarded(lambda m=module, r=rest[0]: self.module_attr(m, r)))
            for j, part in enumerate(rest[1:], start=1):
                if resolved is not None and resolved.definition.kind == "class":
                    found = self._guarded(lambda c=resolved, p=part: self._class_attr(c, p))
                    resolved = self._single_def(found)
                elif resolved is not None:
                    info = self._info_of(resolved)
                    d = info.defs.get(f"{resolved.definition.qualname}.{part}")
                    resolved = self._sym(info, d) if d else None
                if resolved is None:
                    failed = ".".join(parts[: i + j + 1])
                    raise CodetraceError(
                        "unresolved",
                        f"entry {text!r}: {failed!r} not found",
                        self._suggest_in(files, ".".join(rest[: j + 1]))
                        or "check the spelling and the repo's Python roots",
                    )
            if resolved is not None and resolved.definition.kind == "class":
                raise CodetraceError(
                    "unresolved",
                    f"entry {text!r} is a class, not a function",
                    f"start from one of its methods, e.g. {text}.__init__",
                )
            if resolved is not None:
                return resolved
            raise CodetraceError(
                "unresolved",
                f"entry {text!r}: {module!r} has no definition {'.'.join(rest)!r}",
                self._suggest_in(files, ".".join(rest)) or "check the spelling",
            )
        known = sorted({".".join(parts[:1])})
        raise CodetraceError(
            "unresolved",
            f"entry {text!r}: no module {'.'.join(parts[:-1]) or text!r} in the configured repos",
            f"is {known[0]!r} under a Python root? Set python_roots in codetrace_repos",
        )

    def _single_def(self, vals: Vals) -> PySymbol | None:
        syms = {v.sym for v in vals.values if isinstance(v, DefV)}
        return next(iter(syms)) if len(syms) == 1 and not vals.partial else None

    def _suggest_in(self, files: list[tuple[str, str]], qualname: str) -> str:
        names = [d.qualname for repo, path in files for d in self.facts_of(repo, path).definitions]
        return suggest(qualname, names)

    def _entry_from_file(self, text: str, repo: str | None) -> PySymbol:
        path, _, qualname = text.partition("::")
        repos = [self.workspace.repo(repo)] if repo else list(self.workspace.repos.values())
        for r in repos:
            if r.probe(r.root / path) != "file":
                continue
            info = self.info(r.name, path)
            problem = self.index.problem(r.name, path)
            if problem is not None:
                raise CodetraceError(problem.subtype, problem.message, problem.hint)
            definition = info.defs.get(qualname)
            if definition is None:
                raise CodetraceError(
                    "unresolved",
                    f"entry {text!r}: no {qualname!r} in {r.name}:{path}",
                    suggest(qualname, [d.qualname for d in info.facts.definitions]) or "check the spelling",
                )
            return self._sym(info, definition)
        raise CodetraceError(
            "unresolved",
            f"entry {text!r}: no file {path!r} in {'repo ' + repr(repo) if repo else 'any configured repo'}",
            "file paths are relative to the repo root",
        )

    # -- call sites -------------------------------------------------------------------------------------------

    def resolve_call(
        self, sym: PySymbol, call: CallSite, self_class: Any = None, path: Sequence[Any] | None = None
    ) -> Outcome:
        """What the call at ``call`` inside ``sym`` calls. ``self_class`` is what the walk knows ``self`` is
        (the instance, or the class, a method was reached on): then ``self.m()`` finds the override. ``path``
        is the walk's path to ``sym`` (see :meth:`walk_frame`): then its parameters hold what was passed."""
        info = self.info(sym.repo, sym.path)
        tag = implicit_tag(call.text)
        flow = self.call_flow(info, call)
        implicit = tag is not None or call.text.startswith("@")
        if flow is None:
            return Outcome(Resolution.UNRESOLVED, call.text, quiet=implicit)
        if path and path[-1][0] == sym and path[-1][1] == self_class:
            frame = self.walk_frame(path)
        else:
            frame = self.frame_for(sym, self_class)
        answer = self.call_answer(info, flow, frame)
        return self._outcome(answer, call, implicit)

    def call_flow(self, info: FileInfo, call: CallSite) -> Flow | None:
        """The flow fact of a call site (its expression tree)."""
        found = info.flow_of.get(id(call))
        if found is not None:
            return found
        flows = info.calls.get((call.scope, call.line, call.col, call.text))  # a site from elsewhere: same key
        return flows[0] if flows else None

    def frame_for(self, sym: PySymbol, self_class: Any = None) -> Frame | None:
        """The frame a function's body is resolved in: its parameters as every caller passes them, and
        ``self`` as the walk knows it."""
        if sym.definition.kind != "function":
            return None
        if isinstance(self_class, DefV) and self_class.closure is not None and self_class.sym == sym:
            return Frame(sym, None, None, self_class.closure)  # a nested function, in the call that made it
        self_value = None
        if isinstance(self_class, PySymbol):
            self_class = InstanceV(self_class)
        if isinstance(self_class, (InstanceV, DefV)) and sym.definition.in_class:
            info = self._info_of(sym)
            owner_def = info.defs.get(sym.definition.parent)
            if owner_def is not None:
                owner = self._sym(info, owner_def)
                cls = self_class.cls if isinstance(self_class, InstanceV) else self_class.sym
                if owner in self.mro(cls):
                    self_value = self_class
        return Frame(sym, self_value)

    def walk_frame(self, path: Sequence[Any]) -> Frame | None:
        """The frame the last function of a walk's ``path`` runs in (``(symbol, self class, call that entered
        it)`` per level, from the entry): :meth:`frame_for`, and the call that entered it, in the caller's own
        walk frame (``Frame.caller``): a parameter holds what that call passed. So a list built in one module
        and handed on through helpers of another still holds what it held where it was built: the helpers'
        parameters are declared nowhere, and their callers elsewhere are not all known."""
        sym, self_class, via = path[-1]
        frame = self.frame_for(sym, self_class)
        if frame is None or via is None or len(path) < 2 or not isinstance(path[-2][0], PySymbol):
            return frame
        caller_frame = self.walk_frame(path[:-1])
        key = (frame, via, path[-2][0], caller_frame)
        if key in self._walk_frames:
            return self._walk_frames[key]
        entry = self._entry_call(path[-2][0], caller_frame, via, sym)
        found = Frame(frame.func, frame.self_value, frame.args, frame.closure, entry) if entry else frame
        self._walk_frames[key] = found
        return found

    def _entry_call(
        self, caller: PySymbol, caller_frame: Frame | None, via: CallSite, sym: PySymbol
    ) -> tuple[Ctx, Any, int] | None:
        """The call ``via`` in ``caller`` (running in ``caller_frame``) as ``Frame.caller`` of ``sym``: its
        context, its tree and how many leading parameters it does not pass (``self``), when the call calls
        ``sym`` itself (not a hand-off, a ``functools.partial``, an implicit call)."""
        info = self._info_of(caller)
        flow = self.call_flow(info, via)
        d = sym.definition
        if flow is None or flow.target in _IMPLICIT_FLOWS or not flow.value or flow.value[0] != "c":
            return None
        ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, caller_frame)
        self._begin_query()
        try:
            if not self._undeclared(sym):
                return None  # every parameter is declared: the declarations say what it holds
            callee = self._guarded(lambda: self.eval(ctx, flow.value[1]))
        except RecursionError:
            return None
        if any(isinstance(v, PartialV) for v in callee.values):
            return None
        skips = set()
        for t in self._targets(callee, flow.target):
            if t.sym == sym:
                skips.add(bound_params(d, t.receiver) if t.kind == "def" else 1)
            elif sym in t.extra:
                skips.add(1)
        return (ctx, flow.value, skips.pop()) if len(skips) == 1 else None

    def _undeclared(self, sym: PySymbol) -> frozenset[str]:
        """The parameters of ``sym`` (but ``self``/``cls`` and ``**``) that no annotation declares completely
        (none, ``Any``, ``object``, a bare ``list``...): only these take what the walk's call passed."""
        key = ("undeclared", sym)
        found = self._memo.get(key)
        if found is None:
            d = sym.definition
            info = self._info_of(sym)
            skip = bound_params(d, True)
            names = set()
            for p in d.params[skip:]:
                if p.star == "**":
                    continue
                declared = (
                    self._guarded(lambda p=p: self.annotation(info, d.parent, p.annotation)) if p.annotation else None
                )
                if p.star or declared is None or not (declared.values and complete(declared)):
                    names.add(p.name)
            found = self._memo[key] = frozenset(names)
        return found

    def _walk_arg(self, frame: Frame | None, d: Definition, index: int, record: bool = True) -> Vals | None:
        """What the call the walk entered ``frame``'s function through passed to parameter ``index`` of ``d``
        (None: nothing known, not passed, or declared). Each parameter a resolution reads this way is
        remembered (:meth:`reads`; ``record``)."""
        if frame is None or frame.caller is None or frame.func.definition.qualname != d.qualname:
            return None
        if d.params[index].name not in self._undeclared(frame.func):
            return None
        ctx, tree, skip = frame.caller
        if index < skip:
            return None
        arg = argument_for(d, index, tree, skip)
        if arg is None or arg == "**":
            return None
        key = ("passed", frame, index)
        if arg == "*":
            found = self._memoised(key, lambda: self._star_args(ctx, d, tree, skip))
        else:
            found = self._memoised(key, lambda: self.eval(ctx, arg))
        if not found.values:
            return None
        if record:
            self._reads.setdefault(frame, set()).add(d.params[index].name)
        return found

    def reads(self, frame: Frame | None) -> tuple[str, ...]:
        """The parameters of ``frame`` whose values some resolution took from the call the walk entered it
        through (:meth:`walk_frame`), sorted."""
        return tuple(sorted(self._reads.get(frame, ()))) if frame is not None else ()

    def passed_classes(self, frame: Frame | None, name: str) -> tuple[tuple[str, str], ...] | None:
        """The workspace classes and functions the call the walk entered ``frame``'s function through passed to
        parameter ``name`` (containers' elements included), as sorted ``(stable text, short label)`` pairs;
        None when nothing known was. The walk walks a function again when a later call passes other ones to a
        parameter it read."""
        if frame is None or frame.caller is None:
            return None
        d = frame.func.definition
        index = next((i for i, p in enumerate(d.params) if p.name == name), None)
        if index is None:
            return None
        self._begin_query()
        found = self._guarded(lambda: self._walk_arg(frame, d, index, record=False) or UNKNOWN)
        atoms = sorted(_atoms(found.values, 0))
        return tuple(atoms) if atoms else None

    def call_answer(self, info: FileInfo, flow: Flow, frame: Frame | None) -> CallAnswer:
        """Every callee of the call ``flow`` (in ``info``) when its function runs in ``frame``."""
        ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, frame)
        self._begin_query()
        self._deps.append(set())
        try:
            vals = self._guarded(lambda: self._callee(ctx, flow.value))
        except RecursionError:  # pathological nesting
            vals = UNKNOWN
        finally:
            self.last_deps = frozenset(self._deps.pop())
        targets = self._targets(vals, flow.target)
        how = vals.how
        if any(isinstance(v, InstanceV) for v in vals.values):
            how = weaker(how, Resolution.TYPED)  # calling an instance runs its class's __call__
        return CallAnswer(targets, how, vals.partial, vals.decl)

    def evaluate(self, ctx: Ctx, tree: Any) -> Vals:
        """The values of ``tree`` in ``ctx``, as one query (unknown when its budget runs out)."""
        self._begin_query()
        return self._guarded(lambda: self.eval(ctx, tree))

    def _guarded(self, compute: Any) -> Vals:
        try:
            return compute()
        except _Cut:
            return UNKNOWN

    def _callee(self, ctx: Ctx, tree: Any) -> Vals:
        if not tree:
            return UNKNOWN
        if tree[0] == "c":
            return self.eval(ctx, tree[1])
        if tree[0] == "cb":  # map(fn, xs) calls fn: only the builtin does
            outer = self.eval(ctx, tree[1])
            if not any(
                isinstance(v, ExternalV) and v.name in ("builtins.map", "builtins.filter") for v in outer.values
            ):
                return NOTHING
            found = self.eval(ctx, tree[2])
            kept = [v for v in found.values if isinstance(v, DefV) and v.sym.definition.kind == "function"]
            return Vals(frozenset(kept), found.how, False)
        return UNKNOWN

    def _targets(self, vals: Vals, tag: str | None) -> list[Target]:
        targets: dict[Any, Target] = {}
        for value in sorted(vals.values, key=value_key):
            for target in self._value_targets(value):
                key = (target.kind, target.sym, target.cls, target.name)
                found = targets.get(key)
                targets[key] = target if found is None else _merge_targets(found, target)
        return sorted(targets.values(), key=target_key)

    def _value_targets(self, value: Any) -> list[Target]:
        if isinstance(value, DefV):
            d = value.sym.definition
            if d.kind == "function":
                if value.closure is not None and not d.in_class:
                    return [Target("def", value.sym, receiver=value)]  # entered in the call that made it
                return [Target("def", value.sym, receiver=value.bound)]
            return [self.construction(value.sym)]
        if isinstance(value, InstanceV):
            return [
                Target("def", v.sym, receiver=v.bound if v.bound is not None else value)
                for v in self._call_members(value).values
                if isinstance(v, DefV) and v.sym.definition.kind == "function"
            ]
        if isinstance(value, PartialV):
            return [t for v in sorted(value.funcs, key=value_key) for t in self._value_targets(v)]
        if isinstance(value, ExternalV):
            return [Target("external", name=value.name)]
        if isinstance(value, MethodOfV):
            kind = value.container.kind if isinstance(value.container, SeqV) else "dict"
            return [Target("external", name=f"builtins.{_CONTAINER_METHODS.get(kind, kind)}.{value.name}")]
        return []

    def construction(self, cls: PySymbol) -> Target:
        """What instantiating ``cls`` calls: ``__init__`` (and ``__new__``) along its MRO."""
        instance = InstanceV(cls, True)
        init = self._class_attr(cls, "__init__", instance=instance)
        new = self._class_attr(cls, "__new__", instance=instance)
        inits = [v.sym for v in init.values if isinstance(v, DefV) and v.sym.definition.kind == "function"]
        news = [v.sym for v in new.values if isinstance(v, DefV) and v.sym.definition.kind == "function"]
        if inits:
            return Target("new", inits[0], cls, receiver=instance, extra=tuple(news))
        if news:
            return Target("new", news[0], cls, receiver=instance)
        return Target("new", None, cls, receiver=instance)

    def _outcome(self, answer: CallAnswer, call: CallSite, implicit: bool) -> Outcome:
        targets = answer.targets
        syms = [t for t in targets if t.kind != "external"]
        externals = sorted(t.name for t in targets if t.kind == "external")
        if not targets:
            return Outcome(Resolution.UNRESOLVED, call.text, quiet=implicit)
        if not syms:
            if implicit:
                return Outcome(Resolution.EXTERNAL, externals[0], quiet=True)
            name = " | ".join(externals)
            quiet = all(_is_quiet_external(n) for n in externals)  # one real callee among them: shown
            return Outcome(
                Resolution.EXTERNAL, name, quiet=quiet, note="other callees unknown" if answer.partial else ""
            )
        how = answer.how
        if len(syms) == 1 and not externals and not answer.partial:
            t = syms[0]
            if answer.decl is not None and t.sym is not None and t.sym != answer.decl:
                note = "the only implementation"
            else:
                note = ""
            if t.kind == "def":
                receiver = t.receiver if isinstance(t.receiver, (InstanceV, DefV)) else None
                return Outcome(how, t.sym.qualname, callee=t.sym, receiver=receiver, note=note)
            weakest = how
            if t.sym is not None:
                init_how = self._class_attr(t.cls, t.sym.definition.name).how
                weakest = weaker(how, init_how)
            return Outcome(weakest, t.cls.qualname, callee=t.sym, constructs=t.cls, receiver=t.receiver)
        candidates = tuple(sorted({t.sym for t in syms if t.sym is not None}, key=sym_key))
        notes = []
        if answer.decl is not None:
            notes.append(f"overrides of {answer.decl.qualname}")
        if externals:
            notes.append("or " + ", ".join(externals))
        if answer.partial:
            notes.append("other callees unknown")
        target = answer.decl.qualname if answer.decl is not None else (candidates[0].qualname if candidates else "")
        if not candidates:  # constructions of classes without __init__ only
            names = sorted(t.cls.qualname for t in syms if t.cls is not None)
            return Outcome(Resolution.CANDIDATES, " | ".join(names), note="; ".join(notes))
        closures = {
            t.sym: t.receiver for t in syms if t.kind == "def" and isinstance(t.receiver, DefV) and t.receiver.closure
        }
        return Outcome(
            Resolution.CANDIDATES,
            target,
            callee=answer.decl,
            candidates=candidates,
            note="; ".join(notes) or f"{len(candidates)} candidates",
            receivers=tuple(closures.get(c) for c in candidates) if closures else (),
        )

    # -- whole call graphs ------------------------------------------------------------------------------------

    def set_param_sources(
        self, sources: dict[PySymbol, list[tuple[Ctx, Flow, Any]]], changed: frozenset[PySymbol] | None = None
    ) -> None:
        """What each function's parameters receive: ``(caller ctx, call flow, bound self)`` per call site
        (the call graph builder collects them). Forgets the answers that read the sources of ``changed``
        functions (all that read any, when None); the rest of the memo did not depend on them."""
        self._param_sources = sources
        if changed is None:
            self._sourced.clear()
        else:
            self._sourced = {k: v for k, v in self._sourced.items() if not (v[1] & changed)}
        self._provisional.clear()

    # -- evaluation -------------------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._steps += 1
        if self._steps > _BUDGET:
            raise _Cut

    def _memoised(self, key: Any, compute: Any) -> Vals:
        """``compute()`` once per key. A result that met a cycle (a key already being computed, answered
        unknown) depends on where the cycle was entered: it is kept for the current query only, so answers
        never depend on the order queries come in, and a query does not recompute it again and again."""
        found = self._memo.get(key)
        if found is not None:
            return found
        sourced = self._sourced.get(key)
        if sourced is not None:
            self._deps[-1].update(sourced[1])  # so does the answer that reads this one
            return sourced[0]
        found = self._provisional.get(key)
        if found is not None:
            return found
        if key in self._active:
            self._cuts += 1
            return UNKNOWN
        self._tick()
        self._active.add(key)
        cuts = self._cuts
        self._deps.append(set())
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                self._cuts += 1
                result = UNKNOWN
            else:
                result = compute()
        finally:
            self._depth -= 1
            self._active.discard(key)
            deps = self._deps.pop()
            self._deps[-1].update(deps)
        if self._cuts != cuts:
            self._provisional[key] = result  # (a call graph re-resolves every call of a pass that met one)
        elif deps:
            self._sourced[key] = (result, frozenset(deps))  # valid until those functions gain sources
        else:
            self._memo[key] = result
        return result

    def _begin_query(self) -> None:
        """A new top-level question: a fresh step budget and no answers that depended on another's cycles."""
        self._steps = 0
        self._depth = 0
        self._provisional.clear()

    def eval(self, ctx: Ctx, tree: Any) -> Vals:
        """The values of an expression tree (see :mod:`..index.python`)."""
        if not tree:
            return UNKNOWN
        self._tick()
        tag = tree[0]
        if tag == "n":
            return self.lookup(ctx, tree[1])
        if tag == "a":
            base = self.eval(ctx, tree[1])
            return self.attribute(base, tree[2])
        if tag == "c":
            func = self.eval(ctx, tree[1])
            return self.call_result(func, ctx, tree)
        if tag == "k":
            return self._constant(tree[1])
        if tag == "s":
            return self._subscript(ctx, self.eval(ctx, tree[1]), tree[2])
        if tag in ("t", "l", "set"):
            return self._sequence(ctx, tree)
        if tag == "d":
            return self._dict(ctx, tree)
        if tag == "lam" or tag == "def":
            info = self.info(*ctx.key)
            d = info.defs.get(tree[1])
            return one(DefV(self._sym(info, d), closure=_closure_of(d, ctx))) if d is not None else UNKNOWN
        if tag == "dec":
            return self._decorated(ctx, tree)
        if tag == "imp":
            return self._import(tree[1], frozenset())
        if tag == "super":
            return self._super(ctx, tree)
        if tag in ("iter", "aiter"):
            return self.elements(self.eval(ctx, tree[1]), tag == "aiter")
        if tag in ("enter", "aenter"):
            return self._enter(self.eval(ctx, tree[1]), tag == "aenter")
        if tag == "aw":
            return self.eval(ctx, tree[1])
        if tag == "or":
            return union(self.eval(ctx, t) for t in tree[1])
        if tag == "comp":
            inner = Ctx(ctx.key, ctx.scope, ctx.line, ctx.col, (*ctx.path, tree[3]), ctx.frame)
            elems = self.eval(inner, tree[2])
            kind = {"l": "list", "set": "set", "g": "iter"}.get(tree[1], "list")
            return one(SeqV(kind, None, elems.values, None, elems.partial), elems.how)
        if tag == "dcomp":
            inner = Ctx(ctx.key, ctx.scope, ctx.line, ctx.col, (*ctx.path, tree[3]), ctx.frame)
            values = self.eval(inner, tree[2])
            return one(DictV(((None, values.values),), None, values.partial))
        return UNKNOWN

    def _constant(self, value: Any) -> Vals:
        if value is None:
            return NOTHING
        return one(ConstV(value), Resolution.EXTERNAL)

    # -- names ------------------------------------------------------------------------------------------------

    def lookup(self, ctx: Ctx, name: str) -> Vals:
        """``name`` looked up from ``ctx.scope`` outwards (class bodies are skipped), then builtins."""
        info = self.info(*ctx.key)
        scope = ctx.scope
        first = True
        while True:
            d = info.defs.get(scope) if scope else None
            if not scope or (d is not None and (d.kind == "function" or first)):
                here = scope == ctx.scope
                at = (ctx.line, ctx.col, ctx.path) if here else None
                frame = ctx.frame if here else _enclosing_frame(ctx.frame, scope)
                found = self._lookup_in(info, d, scope, name, at, frame)
                if found is not None:
                    return found
            if not scope:
                break
            scope = d.parent if d is not None else ""
            first = False
        if name in builtins.__dict__:
            return one(ExternalV(f"builtins.{name}"), Resolution.EXTERNAL)
        return UNKNOWN

    def _lookup_in(
        self, info: FileInfo, d: Definition | None, scope: str, name: str, at: Any, frame: Frame | None
    ) -> Vals | None:
        """``name`` in one scope, or None when the scope does not bind it."""
        binds = info.binds.get((scope, name), [])
        param_index = None
        if d is not None and d.kind == "function":
            param_index = next((i for i, p in enumerate(d.params) if p.name == name), None)
        if not binds and param_index is None:
            if not scope:
                return self._star_lookup(info, name)
            return None
        key = ("name", info.key, scope, name, at, frame)
        return self._memoised(key, lambda: self._name_value(info, d, scope, name, at, frame, binds, param_index))

    def _name_value(
        self,
        info: FileInfo,
        d: Definition | None,
        scope: str,
        name: str,
        at: Any,
        frame: Frame | None,
        binds: list[tuple[Flow, tuple[Any, ...]]],
        param_index: int | None,
    ) -> Vals:
        entries: list[tuple[int, int, tuple[int, ...], Any]] = [(f.line, f.col, f.path, (f, a)) for f, a in binds]
        if param_index is not None and d is not None:
            entries.append((d.line, -1, (), ("param", param_index)))
        parts = []
        for entry in reaching(entries, at):
            if isinstance(entry[0], str):  # a parameter
                parts.append(self._param(info, d, entry[1], frame))
            else:
                flow, accessor = entry
                parts.append(self._bind_value(info, flow, accessor, frame))
        result = union(parts)
        if not scope and not result.values and not result.partial:
            star = self._star_lookup(info, name)
            if star is not None:
                return star
        return result

    def _star_lookup(self, info: FileInfo, name: str) -> Vals | None:
        for flow in info.stars.get("", []):
            found = self._module_attr(flow.value, name, frozenset(), via_star=True)
            if found is not None and (found.values or not found.partial):
                return found.weaker(Resolution.IMPORT)
        return None

    def _bind_value(self, info: FileInfo, flow: Flow, accessor: tuple[Any, ...], frame: Frame | None) -> Vals:
        key = ("bind", info.key, flow.scope, flow.line, flow.col, flow.target, accessor, frame)
        return self._memoised(key, lambda: self._compute_bind(info, flow, accessor, frame))

    def _compute_bind(self, info: FileInfo, flow: Flow, accessor: tuple[Any, ...], frame: Frame | None) -> Vals:
        ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, frame)
        value = flow.value
        found = UNKNOWN
        if value is not None:
            found = self.eval(ctx, value)
            tag = value[0]
            if tag not in ("def", "imp", "dec", "lam"):
                found = found.weaker(Resolution.TYPED)
        if flow.annotation:
            declared = self.annotation(info, _annotation_scope(info, flow.scope), flow.annotation)
            found = self._declared_or_found(declared, found)
        for step in accessor:
            found = self._destructure(found, step)
        return found

    def _declared_or_found(self, declared: Vals, found: Vals) -> Vals:
        """An annotated binding: the annotation is the declaration, unless the value is more precise (an
        instance of a declared class or subclass); declared containers add the element types they name. A
        declaration that names nothing usable (``Any``, ``object``) leaves a value that is known."""
        if not declared.values and declared.partial and not found.partial:
            return found
        if not found.values or all(isinstance(v, (ExternalV, ConstV)) for v in found.values):
            return declared if declared.values or not found.values else found
        if any(isinstance(v, (SeqV, DictV)) for v in declared.values):
            return union([declared, found])
        if any(isinstance(v, (InstanceV, DefV)) for v in declared.values) and not self._refines(found, declared):
            return declared
        return found

    def _refines(self, found: Vals, declared: Vals) -> bool:
        """Whether every value found is an instance of a class the annotation declares (or a subclass)."""
        classes = {v.cls for v in declared.values if isinstance(v, InstanceV)}
        return bool(found.values) and all(
            isinstance(v, InstanceV) and any(c in self.mro(v.cls) for c in classes) for v in found.values
        )

    def _destructure(self, vals: Vals, step: Any) -> Vals:
        parts = []
        for value in vals.values:
            if isinstance(value, SeqV):
                if value.items is not None:
                    if step[0] == "ix":
                        k = step[1]
                        if -len(value.items) <= k < len(value.items):
                            parts.append(Vals(value.items[k], vals.how))
                        else:
                            parts.append(UNKNOWN)
                    else:
                        lo, tail = step[1], step[2]
                        items = value.items[lo : len(value.items) - tail]
                        elems = frozenset().union(*items) if items else frozenset()
                        parts.append(one(SeqV("list", items, elems), vals.how))
                elif step[0] == "ix":
                    parts.append(Vals(value.elems, vals.how, value.partial))
                else:
                    parts.append(one(SeqV("list", None, value.elems, None, value.partial), vals.how))
            else:
                parts.append(UNKNOWN)
        result = union(parts)
        return Vals(result.values, result.how, result.partial or vals.partial)

    def _param(self, info: FileInfo, d: Definition, index: int, frame: Frame | None) -> Vals:
        """What parameter ``index`` of ``d`` holds in ``frame``."""
        p = d.params[index]
        sym = self._sym(info, d)
        if frame is not None and frame.args is not None:
            for name, vals in frame.args:
                if name == p.name:
                    if not vals.values and vals.partial and p.annotation and not p.star:
                        return self.annotation(info, d.parent, p.annotation)  # unknown: the declaration holds
                    return vals
        decorators = {dec.rpartition(".")[2] for dec in d.decorators}
        is_self = index == 0 and not p.star and d.in_class and "staticmethod" not in decorators
        if is_self:
            if frame is not None and frame.self_value is not None:
                return one(frame.self_value, Resolution.TYPED)
            owner_def = info.defs.get(d.parent)
            if owner_def is None:
                return UNKNOWN
            owner = self._sym(info, owner_def)
            if "classmethod" in decorators:
                return one(DefV(owner), Resolution.TYPED)
            sources = self._sources_for(sym, index, p.name, is_self=True)
            if sources is not None and sources.values:
                return sources
            if p.annotation:  # `self: Scheduler` in a mixin names the class the method really runs on
                typed = self.annotation(info, owner_def.parent, p.annotation)
                if any(isinstance(v, InstanceV) for v in typed.values):
                    return typed
            return one(InstanceV(owner), Resolution.TYPED)
        if frame is not None and frame.args is not None:
            parts = []
            default = info.defaults.get((d.qualname, p.name))
            if default is not None:
                parts.append(self._default(info, d, default))
            elif p.annotation and not p.star:
                parts.append(self.annotation(info, d.parent, p.annotation))
            return union(parts) if parts else UNKNOWN
        parts = []
        passed = self._walk_arg(frame, d, index)
        if passed is not None:  # what the call the walk came through passed (the declaration says less)
            if p.annotation and not p.star:
                passed = self._declared_or_found(self.annotation(info, d.parent, p.annotation), passed)
            if not passed.partial:
                return passed
            parts.append(passed)  # some of it unknown: what the declaration and other callers say counts too
        if p.annotation and not p.star:
            declared = self.annotation(info, d.parent, p.annotation)
            if declared.values and complete(declared):
                return declared  # a declaration (not Any, object, Callable...): what callers pass is one of them
            parts.append(declared)
        sources = self._sources_for(sym, index, p.name, is_self=False)
        if sources is not None:
            parts.append(sources)
        default = info.defaults.get((d.qualname, p.name))
        if default is not None:
            found = self._default(info, d, default)
            parts.append(Vals(found.values, found.how, True))
        if not parts:
            return UNKNOWN
        return union(parts)

    def _default(self, info: FileInfo, d: Definition, flow: Flow) -> Vals:
        ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
        return self.eval(ctx, flow.value)

    def _sources_for(self, sym: PySymbol, index: int, name: str, is_self: bool) -> Vals | None:
        """The union of what known call sites pass to parameter ``index`` of ``sym``: every call site of
        the program in a call graph, the call sites in ``sym``'s own file otherwise (then other callers may
        pass other values: the answer is partial)."""
        if self.closed_world:
            self._deps[-1].add(sym)
            sources = self._param_sources.get(sym)
        elif is_self or self._isolated:
            return None
        else:
            name = sym.definition.name
            if name == "__init__" and sym.definition.in_class:
                name = sym.definition.parent.rpartition(".")[2]  # constructions call it by the class's name
            sources = self._file_callers(sym.repo, sym.path, name).get(sym)
        if not sources:
            return None
        if len(sources) > _MAX_SOURCES:  # a helper called from everywhere: its parameters are anything
            return UNKNOWN
        parts = []
        for ctx, flow, bound in sources:
            if is_self:
                if bound is not None:
                    parts.append(one(bound, Resolution.TYPED))
                continue
            skip = bound_params(sym.definition, bound)
            arg = argument_for(sym.definition, index, flow.value, skip)
            if arg is None:
                continue
            if arg == "*":
                parts.append(self._star_args(ctx, sym.definition, flow.value, skip))
            elif arg == "**":
                parts.append(UNKNOWN)
            else:
                parts.append(self.eval(ctx, arg))
        found = union(parts)
        return Vals(found.values, found.how, True, found.decl)

    def _file_callers(self, repo: str, path: str, name: str) -> dict[PySymbol, list[tuple[Ctx, Flow, Any]]]:
        """The call sites of one file whose callee is written ``name`` or ``x.name`` (decorators included),
        by the workspace function each may call: ``(ctx, flow, bound)``.

        Computed once per file and name, apart from any query in progress (its own memo, no cycle state
        shared) and without following parameters to their callers, so it never depends on what was asked
        before."""
        key = (repo, path, name)
        found = self._callers.get(key)
        if found is not None:
            return found
        saved = (self._memo, self._sourced, self._provisional, self._active, self._steps, self._depth, self._isolated)
        self._memo, self._sourced, self._provisional, self._active, self._isolated = {}, {}, {}, set(), True
        out: dict[PySymbol, list[tuple[Ctx, Flow, Any]]] = {}
        try:
            info = self.info(repo, path)
            for flow in info.call_list:
                if flow.target in ("enter", "exit", "iter", "next", "callback"):
                    continue
                if not flow.value or flow.value[0] != "c" or terminal(flow.value[1]) != name:
                    continue
                ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
                self._steps, self._depth = 0, 0  # one computation from a clean state: its order is fixed
                vals = self._guarded(lambda ctx=ctx, flow=flow: self._callee(ctx, flow.value))
                for target in self._targets(vals, flow.target):
                    if target.sym is not None:
                        out.setdefault(target.sym, []).append((ctx, flow, target.receiver))
        finally:
            (
                self._memo,
                self._sourced,
                self._provisional,
                self._active,
                self._steps,
                self._depth,
                self._isolated,
            ) = saved
        self._callers[key] = out
        return out

    def _star_args(self, ctx: Ctx, d: Definition, call_tree: Any, skip: int) -> Vals:
        positional = [p for p in d.params if not p.star]
        n = max(0, len(positional) - skip)
        extra = call_tree[2][n:] if call_tree and call_tree[0] == "c" else ()
        items = [self.eval(ctx, a) for a in extra if not (a and a[0] == "*")]
        elems = frozenset().union(*(i.values for i in items)) if items else frozenset()
        return one(SeqV("tuple", None, elems, None, any(i.partial for i in items)))

    # -- modules and imports ----------------------------------------------------------------------------------

    def _import(self, target: str, seen: frozenset[str]) -> Vals:
        if self.module_exists(target):
            return one(ModuleV(target), Resolution.IMPORT)
        module, _, attr = target.rpartition(".")
        if module and self.module_exists(module):
            found = self._module_attr(module, attr, seen)
            return found.weaker(Resolution.IMPORT) if found is not None else UNKNOWN
        top = target.split(".")[0]
        if self.module_exists(top):
            if self.is_extension_module is not None and self.is_extension_module(target):
                return one(ExternalV(target), Resolution.EXTERNAL)  # compiled (PyO3) and without a stub
            return UNKNOWN  # a module of ours that does not exist: unresolved, not external
        return one(ExternalV(target), Resolution.EXTERNAL)

    def module_attr(self, module: str, name: str) -> Vals:
        """``module.name``: a definition, an import (re-export), a submodule, or a star import's name."""
        found = self._module_attr(module, name, frozenset())
        return found if found is not None else UNKNOWN

    def _module_attr(self, module: str, name: str, seen: frozenset[str], via_star: bool = False) -> Vals | None:
        key = f"{module}.{name}"
        if key in seen or len(seen) > 50:
            return None
        seen = seen | {key}
        for repo, path in self.module_files(module):
            info = self.info(repo, path)
            if via_star and info.facts.all_names is not None and name not in info.facts.all_names:
                continue
            if via_star and info.facts.all_names is None and name.startswith("_"):
                continue
            binds = info.binds.get(("", name))
            if binds:
                found = self._memoised(
                    ("modattr", info.key, name),
                    lambda info=info, binds=binds: self._name_value(info, None, "", name, None, None, binds, None),
                )
                if found.values or not found.partial:
                    return found
        if self.module_exists(key):
            return one(ModuleV(key), Resolution.IMPORT)
        for repo, path in self.module_files(module):
            info = self.info(repo, path)
            for flow in info.stars.get("", []):
                found = self._module_attr(flow.value, name, seen, via_star=True)
                if found is not None and (found.values or not found.partial):
                    return found
        return None

    # -- attributes -------------------------------------------------------------------------------------------

    def attribute(self, base: Vals, name: str) -> Vals:
        """``base.name`` for every value of ``base``."""
        parts = []
        for value in sorted(base.values, key=value_key):
            found = self._attribute_of(value, name)
            parts.append(found.weaker(base.how) if found.values else found)
        if not parts:
            return Vals(frozenset(), base.how, base.partial)
        result = union(parts)
        return Vals(result.values, result.how, result.partial or base.partial, result.decl)

    def _attribute_of(self, value: Any, name: str) -> Vals:
        if isinstance(value, ModuleV):
            found = self._module_attr(value.name, name, frozenset())
            return found if found is not None else UNKNOWN
        if isinstance(value, ExternalV):
            return one(ExternalV(f"{value.name}.{name}"), Resolution.EXTERNAL)
        if isinstance(value, ConstV):
            return one(ExternalV(f"builtins.{type(value.value).__name__}().{name}"), Resolution.EXTERNAL)
        if isinstance(value, DefV):
            if value.sym.definition.kind == "class":
                return self._class_attr(value.sym, name, owner=value)
            return UNKNOWN
        if isinstance(value, InstanceV):
            return self._instance_attr(value, name)
        if isinstance(value, SuperV):
            return self._super_attr(value, name)
        if isinstance(value, (SeqV, DictV)):
            return one(MethodOfV(value, name), Resolution.EXTERNAL)
        if isinstance(value, GenV):
            return one(ExternalV(f"builtins.generator.{name}"), Resolution.EXTERNAL)
        return UNKNOWN

    def _class_attr(self, cls: PySymbol, name: str, instance: Any = None, owner: Any = None) -> Vals:
        """``name`` found along the MRO of ``cls``: methods (bound to ``instance``), nested classes, class
        attributes. The resolution is ``typed`` on ``cls`` itself, ``inherited`` on a base."""
        for index, c in enumerate(self.mro(cls)):
            found = self._own_attr(c, name)
            if found is None:
                continue
            how = Resolution.INHERITED if index else Resolution.TYPED
            return self._bind_member(found, instance, owner or DefV(cls)).weaker(how)
        external = self._external_member(self.mro(cls), name)
        return external if external is not None else NOTHING if self._closed(cls) else UNKNOWN

    def _own_attr(self, cls: PySymbol, name: str) -> Vals | None:
        """``name`` as the class body of ``cls`` binds it (methods with their decorators, assignments); the
        members of an ``Enum`` are instances of it."""
        info = self._info_of(cls)
        scope = cls.definition.qualname
        if not info.binds.get((scope, name)):
            d = info.defs.get(f"{scope}.{name}")
            return one(DefV(self._sym(info, d)), Resolution.TYPED) if d is not None else None
        key = ("own", info.key, scope, name)
        binds = info.binds[(scope, name)]
        found = self._memoised(key, lambda: self._name_value(info, None, scope, name, None, None, binds, None))
        if (
            not name.startswith("_")
            and self._is_enum(cls)
            and not any(isinstance(v, (DefV, PropertyV)) for v in found.values)
        ):
            return one(InstanceV(cls, True), Resolution.TYPED)
        return found

    def _is_enum(self, cls: PySymbol) -> bool:
        bases = [b for c in self.mro(cls) for b in self._external_bases.get(c, ())]
        return any(b.startswith("enum.") and b.endswith(("Enum", "Flag")) for b in bases)

    def _bind_member(self, found: Vals, instance: Any, owner: Any) -> Vals:
        """Methods become bound: to the instance (or, for a classmethod, to the class)."""
        values = set()
        extra: list[Vals] = []
        for v in found.values:
            if isinstance(v, DefV) and v.sym.definition.kind == "function" and v.sym.definition.in_class:
                decorators = {dec.rpartition(".")[2] for dec in v.sym.definition.decorators}
                if "staticmethod" in decorators:
                    values.add(v)
                elif "classmethod" in decorators:
                    values.add(DefV(v.sym, owner if instance is None else DefV(instance.cls)))
                else:
                    values.add(DefV(v.sym, instance) if instance is not None else v)
            elif isinstance(v, PropertyV) and instance is not None:
                for getter in v.getters:
                    if isinstance(getter, DefV):
                        extra.append(self._returns(getter.sym, Frame(getter.sym, instance)))
            else:
                values.add(v)
        result = Vals(frozenset(values), found.how, found.partial, found.decl)
        return union([result, *extra]) if extra else result

    def _closed(self, cls: PySymbol) -> bool:
        """Whether every class of the MRO of ``cls`` is known (so a name none of them has is missing)."""
        mro = self.mro(cls)
        return not any(self._external_bases.get(c) or c in self._open for c in mro)

    def _instance_attr(self, inst: InstanceV, name: str) -> Vals:
        key = ("inst", inst, name)
        return self._memoised(key, lambda: self._compute_instance_attr(inst, name))

    def _compute_instance_attr(self, inst: InstanceV, name: str) -> Vals:
        mro = self.mro(inst.cls)
        member: Vals | None = None
        member_index = 0
        for index, c in enumerate(mro):
            found = self._own_attr(c, name)
            if found is not None:
                member, member_index = found, index
                break
        if member is not None:
            how = Resolution.INHERITED if member_index else Resolution.TYPED
            bound = self._bind_member(member, inst, DefV(inst.cls)).weaker(how)
            if not is_method(member):  # a class attribute: what instances store shadows it
                stored = self._stored_attr(inst, name)
                if not member.values and member.partial:  # declared vaguely (`x: object`): what is given wins
                    given = [g for g in (stored, self._field_argument(inst, name)) if g is not None and g.values]
                    if given:
                        found = union(given)
                        return Vals(found.values, weaker(found.how, Resolution.TYPED), found.partial)
                return union([bound, stored]) if stored is not None else bound
            if inst.exact:
                return bound
            return self._with_overrides(inst, name, bound, mro[member_index])
        stored = self._stored_attr(inst, name)
        if stored is not None:
            return stored
        external = self._external_member(mro, name)
        if external is not None:
            return external
        dynamic = self._getattr_hook(inst, name)
        if dynamic is not None:
            return dynamic
        if not inst.exact:
            found = self._with_overrides(inst, name, NOTHING, None)
            if found.values:
                return found
            found = self._from_subclasses(inst, name)
            if found.values:
                return found
        return NOTHING if self._closed(inst.cls) else UNKNOWN

    def _getattr_hook(self, inst: InstanceV, name: str) -> Vals | None:
        """``inst.name`` answered by a workspace ``__getattr__`` of its class (called when the usual lookup
        finds nothing): what it returns for this name (a proxy that imports and forwards to a class)."""
        if name.startswith("__"):
            return None
        hook = self._class_attr(inst.cls, "__getattr__", instance=inst)
        funcs = [v for v in hook.values if isinstance(v, DefV) and v.sym.definition.kind == "function"]
        if not funcs:
            return None
        parts = []
        for func in sorted(funcs, key=value_key):
            params = [p for p in func.sym.definition.params if not p.star]
            if len(params) < 2:
                continue
            args = ((params[1].name, one(ConstV(name), Resolution.EXTERNAL)),)
            parts.append(self._returns(func.sym, Frame(func.sym, inst, args, func.closure)))
        found = union(parts) if parts else UNKNOWN
        return Vals(found.values, weaker(found.how, Resolution.TYPED), found.partial) if found.values else None

    def _from_subclasses(self, inst: InstanceV, name: str) -> Vals:
        """An attribute no class of the MRO has, on a declared instance: what the subclasses that have it give
        (a mixin's ``self.x`` is set by the class it is mixed into)."""
        parts, having = self._subclass_members(inst.cls, name, methods=False)
        for sub in self.subclasses(inst.cls):
            if sub in having:
                continue
            stored = self._stored_attr(InstanceV(sub), name)
            if stored is not None:
                parts.append(stored)
        return union(parts) if parts else NOTHING

    def _subclass_members(self, cls: PySymbol, name: str, methods: bool) -> tuple[list[Vals], set[PySymbol]]:
        """What the subclasses of ``cls`` that define ``name`` or inherit it from a mixin give (only methods
        when ``methods``), bound to them, and which subclasses those are. A mixin's member that several
        subclasses inherit is bound to the mixin itself (a declared instance of it: its own ``self.x`` calls
        reach every class it is mixed into), one that one subclass inherits to that subclass."""
        parts: list[Vals] = []
        having: set[PySymbol] = set()
        mixed: dict[PySymbol, list[tuple[PySymbol, Vals]]] = {}
        for sub in self.subclasses(cls):
            found = self._subclass_member(cls, sub, name)
            if found is None or (methods and not is_method(found[0])):
                continue
            having.add(sub)
            if found[1] == sub:
                parts.append(self._bind_member(found[0], InstanceV(sub), DefV(sub)))
            else:
                mixed.setdefault(found[1], []).append((sub, found[0]))
        for provider, users in mixed.items():
            holder = users[0][0] if len(users) == 1 else provider
            parts.append(self._bind_member(users[0][1], InstanceV(holder), DefV(holder)))
        return parts, having

    def _subclass_member(self, cls: PySymbol, sub: PySymbol, name: str) -> tuple[Vals, PySymbol] | None:
        """``name`` as subclass ``sub`` of ``cls`` has it, found along ``sub``'s own MRO, with the class that
        provides it: ``sub`` itself (``typed``), or a class outside ``cls``'s hierarchy, a mixin (``inherited``:
        ``class Tree(EventsMixin, Cache)`` runs ``EventsMixin.take_events`` where ``Cache`` has its own). None
        when ``sub`` has it from ``cls``'s MRO, from another subclass of ``cls`` (asked on its own), or not at
        all."""
        subs = self.subclasses(cls)
        base_mro = self.mro(cls)
        sub_mro = self.mro(sub)
        for index, c in enumerate(sub_mro):
            found = self._own_attr(c, name)
            if found is None:
                continue
            if index == 0:
                return found.weaker(Resolution.TYPED), sub
            if c in base_mro or c in subs:
                return None
            # a subclass between ``cls`` and ``sub`` that has it from the same mixin is the one that counts
            if any(p in subs and c in self.mro(p) for p in sub_mro[1:index]):
                return None
            return found.weaker(Resolution.INHERITED), c
        return None

    def _with_overrides(self, inst: InstanceV, name: str, base: Vals, owner: PySymbol | None) -> Vals:
        """A method on a declared instance: the subclasses that override it (or inherit it from a mixin) are
        candidates too. An abstract base method is not one of them."""
        overrides, _ = self._subclass_members(inst.cls, name, methods=True)
        if not overrides:
            return base
        decl = None
        base_values = base.values
        for v in base.values:
            if isinstance(v, DefV) and v.sym.definition.kind == "function":
                decl = v.sym
                if self._is_abstract(v.sym):
                    base_values = base_values - {v}
        result = union([Vals(base_values, base.how, base.partial), *overrides])
        return Vals(result.values, result.how, result.partial, decl)

    def _is_abstract(self, sym: PySymbol) -> bool:
        d = sym.definition
        if any(dec.rpartition(".")[2] == "abstractmethod" for dec in d.decorators):
            return True
        info = self._info_of(sym)
        raises = [r for r in info.facts.raises if r.scope == d.qualname]
        return any(r.text.startswith("NotImplementedError") for r in raises) and not info.returns.get(d.qualname)

    def _stored_attr(self, inst: InstanceV, name: str) -> Vals | None:
        """``self.name`` as the methods of the MRO assign it (an annotation is a declaration: it wins)."""
        for c in self.mro(inst.cls):
            info = self._info_of(c)
            prefix = c.definition.qualname + "."
            stores = []
            for flow, base, accessor in info.attr_stores.get(name, []):
                if not flow.scope.startswith(prefix) or base[0] != "n":
                    continue
                d = info.defs.get(flow.scope)
                if d is None or d.kind != "function" or not d.in_class or d.parent != c.definition.qualname:
                    continue
                if not d.params or d.params[0].name != base[1]:
                    continue
                stores.append((flow, accessor, d))
            if not stores:
                continue
            # a declaration wins over the other stores, unless it says nothing usable (`self.x: Any = None`)
            annotated = [s for s in stores if s[0].annotation and self._declares(info, s[0])]
            parts = []
            for flow, accessor, d in annotated[:1] or stores:
                frame = self._store_frame(info, d, inst, flow)
                parts.append(self._bind_value(info, flow, accessor, frame))
            found = union(parts)
            return Vals(found.values, weaker(found.how, Resolution.TYPED), found.partial)
        return None

    def _declares(self, info: FileInfo, flow: Flow) -> bool:
        """Whether the annotation of a binding names something (not ``Any``, ``object``, ``Callable``...)."""
        return bool(self.annotation(info, _annotation_scope(info, flow.scope), flow.annotation or "").values)

    def _store_frame(self, info: FileInfo, d: Definition, inst: InstanceV, flow: Flow) -> Frame | None:
        """The frame a ``self.x = value`` store of method ``d`` is evaluated in for ``inst``: ``self`` is
        ``inst`` only when the value reads it, and ``__init__``'s parameters are what the construction passed
        only when the value reads them (so most stores are evaluated once for every instance)."""
        names = names_in(flow.value)
        uses_self = d.params[0].name in names
        params = {p.name for p in d.params[1:]}
        sym = self._sym(info, d)
        args = None
        if d.name == "__init__" and inst.alloc is not None and params & names:
            args = self._alloc_args(inst, sym)
        if not uses_self and args is None:
            return None
        return Frame(sym, inst if uses_self else None, args)

    def _alloc_args(self, inst: InstanceV, init: PySymbol) -> tuple[tuple[str, Vals], ...] | None:
        """What the construction that made ``inst`` passed to ``__init__``."""
        key, scope, line, col, path, tree = inst.alloc
        return self._bind_args(init, inst, Ctx(key, scope, line, col, path, None), tree)

    def _super_attr(self, value: SuperV, name: str) -> Vals:
        instance = value.instance
        cls = instance.cls if isinstance(instance, InstanceV) else instance.sym
        mro = self.mro(cls)
        after = mro[mro.index(value.cls) + 1 :] if value.cls in mro else mro[1:]
        for c in after:
            found = self._own_attr(c, name)
            if found is not None:
                bound_to = instance if isinstance(instance, InstanceV) else None
                return self._bind_member(found, bound_to, DefV(cls)).weaker(Resolution.INHERITED)
        external = self._external_member([value.cls, *after], name)
        return external if external is not None else UNKNOWN

    def _external_member(self, classes: list[PySymbol], name: str) -> Vals | None:
        """``name`` on the first base outside the workspace (``SphinxDirective.get_location``), if any."""
        for cls in classes:
            for base in self._external_bases.get(cls, ()):
                return one(ExternalV(f"{base}.{name}"), Resolution.EXTERNAL)
        return None

    def _super(self, ctx: Ctx, tree: Any) -> Vals:
        """``super()`` (lookups start after the enclosing class) or ``super(Cls, self)`` (after ``Cls``), on
        what ``self`` is in this frame."""
        info = self.info(*ctx.key)
        cls = self._enclosing_class(info, ctx.scope)
        if cls is None:
            return UNKNOWN
        method = info.defs.get(ctx.scope)
        instance: Any = InstanceV(cls)
        if method is not None and method.kind == "function" and method.params:
            selfv = self.lookup(ctx, method.params[0].name)
            for v in sorted(selfv.values, key=value_key):
                if isinstance(v, InstanceV) and cls in self.mro(v.cls):
                    instance = v
                    break
                if isinstance(v, DefV) and v.sym.definition.kind == "class" and cls in self.mro(v.sym):
                    instance = v
                    break
        after = cls
        if len(tree) > 1:
            found = self.eval(ctx, tree[1])
            classes = [v.sym for v in found.values if isinstance(v, DefV) and v.sym.definition.kind == "class"]
            if len(classes) != 1:
                return UNKNOWN
            after = classes[0]
        return one(SuperV(after, instance), Resolution.INHERITED)

    def _enclosing_class(self, info: FileInfo, scope: str) -> PySymbol | None:
        d = info.defs.get(scope)
        while d is not None and d.parent:
            parent = info.defs.get(d.parent)
            if parent is not None and parent.kind == "class":
                return self._sym(info, parent)
            d = parent
        return None

    # -- classes ----------------------------------------------------------------------------------------------

    def mro(self, cls: PySymbol) -> list[PySymbol]:
        """C3 linearisation of ``cls`` over the bases that resolve in the workspace (others are skipped)."""
        cached = self._mro.get(cls)
        if cached is not None:
            return cached
        self._mro[cls] = [cls]  # guards against inheritance cycles while computing
        info = self._info_of(cls)
        bases: list[PySymbol] = []
        externals: list[str] = []
        for base in cls.definition.bases:
            tree = annotation_tree(base)
            if tree is None:
                continue
            ctx = Ctx(info.key, cls.definition.parent, cls.definition.line, 0, (), None)
            saved = (self._steps, self._depth)
            self._steps, self._depth = 0, 0
            try:
                found = self._guarded(lambda tree=tree, ctx=ctx: self.eval(ctx, tree))
            finally:
                self._steps, self._depth = saved
            classes = [v.sym for v in found.values if isinstance(v, DefV) and v.sym.definition.kind == "class"]
            names = [v.name for v in found.values if isinstance(v, ExternalV)]
            if len(classes) == 1 and not names:
                bases.append(classes[0])
            elif names and not classes:
                if names[0] not in _HARMLESS_BASES:
                    externals.append(names[0])
            else:
                self._open.add(cls)
        if externals:
            self._external_bases[cls] = externals
        result = [cls, *c3([self.mro(b) for b in bases] + [bases])]
        self._mro[cls] = result
        return result

    def subclasses(self, cls: PySymbol) -> tuple[PySymbol, ...]:
        """Every workspace class that has ``cls`` in its MRO (but ``cls``), sorted by name: a cheap text index
        of ``class X(...)`` headers finds the files to parse."""
        cached = self._subclasses.get(cls)
        if cached is not None:
            return cached
        self._subclasses[cls] = ()
        index = self._class_index()
        found: set[PySymbol] = set()
        frontier = [cls]
        while frontier:
            current = frontier.pop()
            for repo, path in index.get(current.definition.name, ()):
                info = self.info(repo, path)
                for d in info.facts.definitions:
                    if d.kind != "class" or not any(current.definition.name in b for b in d.bases):
                        continue
                    sub = self._sym(info, d)
                    if sub in found or sub == cls:
                        continue
                    if cls in self.mro(sub)[1:]:
                        found.add(sub)
                        frontier.append(sub)
        result = tuple(sorted(found, key=sym_key))
        self._subclasses[cls] = result
        return result

    def _class_index(self) -> dict[str, list[tuple[str, str]]]:
        """Base-class identifiers -> files whose ``class`` headers mention them (read as text, never parsed;
        one pass per index, shared by the resolvers over it)."""
        if self._class_text_index is None:
            self._class_text_index = self.index.python_text_index(*CLASS_BASES_INDEX)
        return self._class_text_index

    # -- calls ------------------------------------------------------------------------------------------------

    def call_result(self, func: Vals, ctx: Ctx, tree: Any) -> Vals:
        """What calling each value of ``func`` with the arguments of ``tree`` gives."""
        parts = []
        for value in sorted(func.values, key=value_key):
            found = self._call_value(value, ctx, tree)
            if isinstance(value, (ExternalV, MethodOfV)) and not all(isinstance(v, ExternalV) for v in found.values):
                parts.append(found)  # a builtin that passes a workspace value through (getattr, partial...)
            else:
                parts.append(found.weaker(func.how) if found.values else found)
        if not parts:
            return Vals(frozenset(), func.how, func.partial)
        result = union(parts)
        return Vals(result.values, result.how, result.partial or func.partial)

    def _call_value(self, value: Any, ctx: Ctx, tree: Any) -> Vals:
        if isinstance(value, DefV):
            d = value.sym.definition
            if d.kind == "class":
                alloc = None
                if ctx.key[0] and tree and tree[0] == "c" and tree[1] is not None and self._stores_arguments(value.sym):
                    alloc = (ctx.key, ctx.scope, ctx.line, ctx.col, ctx.path, tree)
                return one(InstanceV(value.sym, True, alloc), Resolution.TYPED)
            frame = self._call_frame(value.sym, value.bound, ctx, tree, value.closure)
            return self._returns(value.sym, frame)
        if isinstance(value, InstanceV):
            member = self._call_members(value)
            return union(self._call_value(v, ctx, tree) for v in member.values) if member.values else UNKNOWN
        if isinstance(value, ExternalV):
            return self._external_call(value.name, ctx, tree)
        if isinstance(value, PartialV):
            return union(self._call_value(v, ctx, ("c", None, (), ())) for v in value.funcs)
        if isinstance(value, WrapsV):
            return Vals(value.wrapped, Resolution.DIRECT) if value.wrapped else UNKNOWN
        if isinstance(value, MethodOfV):
            return self._container_method(value, ctx, tree)
        return UNKNOWN

    def _call_members(self, inst: InstanceV) -> Vals:
        """What calling an instance runs: ``__call__`` along the MRO; for a ``torch.nn.Module`` subclass
        without one in the workspace, its ``forward``."""
        member = self._class_attr(inst.cls, "__call__", instance=inst)
        if any(isinstance(v, DefV) for v in member.values):
            return member
        bases = [b for c in self.mro(inst.cls) for b in self._external_bases.get(c, ())]
        if any(b.rpartition(".")[2] == "Module" and ".nn" in b for b in bases):
            return self._instance_attr(inst, "forward")
        return member

    def _stores_arguments(self, cls: PySymbol) -> bool:
        """Whether some ``__init__`` of the MRO stores one of its parameters, or the class is a dataclass with
        a field whose annotation says nothing usable (``object``, ``Any``): then instances remember where they
        were made, so ``self.handler`` finds what this construction passed."""
        key = ("stores-args", cls)
        found = self._memo.get(key)
        if found is not None:
            return found
        result = False
        for c in self.mro(cls):
            info = self._info_of(c)
            init = info.defs.get(f"{c.definition.qualname}.__init__")
            if init is None:
                continue
            params = {p.name for p in init.params[1:]}
            for flows in info.attr_stores.values():
                for flow, _base, _accessor in flows:
                    if flow.scope == init.qualname and params & names_in(flow.value):
                        result = True
            break
        else:
            result = self._vague_fields(cls)
        self._memo[key] = result
        return result

    def _vague_fields(self, cls: PySymbol) -> bool:
        """Whether ``cls`` is a dataclass with a field whose annotation names nothing usable."""
        fields = self._fields(cls)
        return bool(fields) and any(not self._field_annotation(c, f).values for c, f, _ in fields)

    def _fields(self, cls: PySymbol) -> list[tuple[PySymbol, Flow, bool]] | None:
        """The fields of a dataclass or ``NamedTuple`` (those of its bases first, each at its first place):
        ``(class, annotated binding, keyword only)``; None when ``cls`` is neither."""
        key = ("fields", cls)
        found = self._memo.get(key)
        if found is not None:
            return found or None
        fields: dict[str, tuple[PySymbol, Flow, bool]] = {}
        generated = False
        for c in reversed(self.mro(cls)):
            decorators = [dec.partition("(")[0].rpartition(".")[2] for dec in c.definition.decorators]
            named_tuple = any(b.partition("[")[0].rpartition(".")[2] == "NamedTuple" for b in c.definition.bases)
            if "dataclass" not in decorators and not named_tuple:
                continue
            generated = True
            kw_only = any(
                dec.partition("(")[0].rpartition(".")[2] == "dataclass" and re.search(r"\bkw_only\s*=\s*True", dec)
                for dec in c.definition.decorators
            )
            info = self._info_of(c)
            scope = c.definition.qualname
            for flow in info.facts.flow:
                if flow.kind != "bind" or flow.scope != scope or not flow.annotation or flow.target[0] != "n":
                    continue
                annotation = flow.annotation.strip("'\"")
                if annotation.rpartition(".")[2] == "KW_ONLY":
                    kw_only = True
                    continue
                if annotation.partition("[")[0].rpartition(".")[2] == "ClassVar":
                    continue
                name = flow.target[1]
                if name not in fields:
                    fields[name] = (c, flow, kw_only)
        result = list(fields.values()) if generated else None
        self._memo[key] = result or []
        return result

    def _field_annotation(self, cls: PySymbol, flow: Flow) -> Vals:
        return self.annotation(self._info_of(cls), cls.definition.parent, flow.annotation or "")

    def _field_argument(self, inst: InstanceV, name: str) -> Vals | None:
        """What the construction that made ``inst`` passed for the dataclass field ``name`` (by keyword, or
        by position), or None when it passed nothing for it or is not known."""
        if inst.alloc is None:
            return None
        fields = self._fields(inst.cls)
        if not fields:
            return None
        key, scope, line, col, path, tree = inst.alloc
        ctx = Ctx(key, scope, line, col, path, None)
        for keyword, arg in tree[3]:
            if keyword == name:
                return self.eval(ctx, arg)
        positional = [flow.target[1] for _c, flow, kw_only in fields if not kw_only]
        if name not in positional:
            return None
        index = positional.index(name)
        args = tree[2]
        if any(a and a[0] == "*" for a in args[: index + 1]) or index >= len(args):
            return None
        return self.eval(ctx, args[index])

    def _call_frame(self, sym: PySymbol, bound: Any, ctx: Ctx, tree: Any, closure: Frame | None = None) -> Frame:
        self_value = bound if isinstance(bound, (InstanceV, DefV)) else None
        if (
            self._frame_depth >= _MAX_FRAME_DEPTH
            or not tree
            or tree[0] != "c"
            or tree[1] is None
            or not self._uses_params(sym)
        ):
            return Frame(sym, self_value, None, closure)
        self._frame_depth += 1
        try:
            args = self._bind_args(sym, bound, ctx, tree)
        finally:
            self._frame_depth -= 1
        return Frame(sym, self_value, args, closure)

    def _uses_params(self, sym: PySymbol) -> bool:
        """Whether the flows of ``sym``'s own body name one of its parameters (but ``self``): only then does
        what a call passes change what it returns."""
        key = ("uses-params", sym)
        found = self._memo.get(key)
        if found is not None:
            return found
        d = sym.definition
        params = {p.name for p in (d.params[1:] if d.in_class else d.params)}
        info = self._info_of(sym)
        names: set[str] = set()
        for flow in info.facts.flow:
            if flow.scope == d.qualname and flow.kind in ("bind", "return", "yield"):
                names |= names_in(flow.value)
        result = bool(params & names)
        self._memo[key] = result
        return result

    def _bind_args(self, sym: PySymbol, bound: Any, ctx: Ctx, tree: Any) -> tuple[tuple[str, Vals], ...]:
        """Parameter name -> the values one call passes (missing parameters are left out)."""
        d = sym.definition
        skip = bound_params(d, bound)
        out: list[tuple[str, Vals]] = []
        for index, p in enumerate(d.params):
            if index < skip:
                continue
            arg = argument_for(d, index, tree, skip)
            if arg is None:
                continue
            if arg == "*":
                out.append((p.name, self._star_args(ctx, d, tree, skip)))
            elif arg == "**":
                continue
            else:
                out.append((p.name, self.eval(ctx, arg)))
        return tuple(out)

    def _returns(self, sym: PySymbol, frame: Frame) -> Vals:
        key = ("returns", sym, frame)
        return self._memoised(key, lambda: self._compute_returns(sym, frame))

    def _compute_returns(self, sym: PySymbol, frame: Frame) -> Vals:
        info = self._info_of(sym)
        d = sym.definition
        if info.yields.get(d.qualname):
            return one(GenV(sym, frame), Resolution.TYPED)
        declared = NOTHING
        if not d.returns:
            stub = self._stub_returns(sym)
            if stub is not None and any(isinstance(v, (InstanceV, DefV)) for v in stub.values):
                return stub  # the stub next to the module declares the return type
        if d.returns:
            if d.returns.strip("'\"") in _SELF_NAMES and d.in_class:
                owner = info.defs.get(d.parent)
                if owner is not None:
                    if isinstance(frame.self_value, InstanceV):
                        return one(frame.self_value, Resolution.TYPED)
                    return one(InstanceV(self._sym(info, owner)), Resolution.TYPED)
            declared = self.annotation(info, d.parent, d.returns)
            if any(isinstance(v, (InstanceV, DefV)) for v in declared.values):
                refined = self._constructed_result(info, d, frame, declared)
                return refined if refined is not None else declared
        flows = info.returns.get(d.qualname, [])
        if flows:
            inferred = union(self.eval(Ctx(info.key, d.qualname, f.line, f.col, f.path, frame), f.value) for f in flows)
            if inferred.values:
                return inferred.weaker(Resolution.TYPED)
            if declared.values or d.returns:
                return declared
            stub = self._stub_returns(sym)
            return stub if stub is not None else inferred
        if d.returns:
            return declared
        stub = self._stub_returns(sym)
        if stub is not None:
            return stub
        return UNKNOWN if info.facts.path.endswith(".pyi") else NOTHING  # no return statement: None

    def _constructed_result(self, info: FileInfo, d: Definition, frame: Frame, declared: Vals) -> Vals | None:
        """For a declared result whose class is a dataclass with vaguely annotated fields: the instances the
        ``return`` statements construct, which know what their fields were given (None: not that case, or the
        statements give something else)."""
        classes = [v.cls for v in declared.values if isinstance(v, InstanceV)]
        if len(classes) != len(declared.values) or not any(self._vague_fields(c) for c in classes):
            return None
        flows = info.returns.get(d.qualname, [])
        if not flows:
            return None
        found = union(self.eval(Ctx(info.key, d.qualname, f.line, f.col, f.path, frame), f.value) for f in flows)
        return found.weaker(Resolution.TYPED) if self._refines(found, declared) and not found.partial else None

    def _stub_returns(self, sym: PySymbol) -> Vals | None:
        """The return annotation a ``.pyi`` stub next to the module gives the same function."""
        if sym.path.endswith(".pyi"):
            return None
        for repo, path in self.module_files(sym.module):
            if not path.endswith(".pyi"):
                continue
            info = self.info(repo, path)
            d = info.defs.get(sym.definition.qualname)
            if d is not None and d.returns:
                return self.annotation(info, d.parent, d.returns)
        return None

    def _external_call(self, name: str, ctx: Ctx, tree: Any) -> Vals:
        args = tree[2] if tree and tree[0] == "c" else ()
        positional = [a for a in args if not (a and a[0] == "*")]
        short = name[len("builtins.") :] if name.startswith("builtins.") else None

        def arg(i: int) -> Vals:
            return self.eval(ctx, positional[i]) if len(positional) > i else UNKNOWN

        if short == "type" and len(positional) == 1:
            classes = [DefV(v.cls) for v in arg(0).values if isinstance(v, InstanceV)]
            return Vals(frozenset(classes), Resolution.TYPED) if classes else UNKNOWN
        if short == "getattr" and len(positional) >= 2 and positional[1][0] == "k":
            return self.attribute(arg(0), positional[1][1])
        if short == "getattr" and len(positional) >= 2:
            names = _constant_strings(arg(1))  # a name held in a variable or attribute, known here
            if names:
                return union(self.attribute(arg(0), n) for n in names)
        if name == "importlib.import_module" and len(positional) == 1:
            modules = _constant_strings(arg(0))
            if modules and not any(m.startswith(".") for m in modules):
                return union(self._import(m, frozenset()) for m in modules)
        if short in ("iter", "reversed", "sorted", "list", "tuple", "set", "frozenset") and positional:
            elems = self.elements(arg(0))
            kind = "iter" if short in ("iter", "reversed") else "list" if short == "sorted" else short
            return one(SeqV(kind, None, elems.values, None, elems.partial), Resolution.EXTERNAL)
        if short in ("list", "set") and not positional:
            return one(SeqV(short, (), frozenset(), site_of(ctx, tree)), Resolution.EXTERNAL)
        if short == "dict" and not positional:
            entries = tuple((("k", k), self.eval(ctx, v).values) for k, v in (tree[3] or ()) if k != "**")
            return one(DictV(entries, site_of(ctx, tree)), Resolution.EXTERNAL)
        if name == "collections.defaultdict":
            return self._defaultdict(ctx, tree, positional)
        if short == "next" and positional:
            return self.elements(arg(0))
        if short == "enumerate" and positional:
            elems = self.elements(arg(0))
            pair = SeqV("tuple", (frozenset([ExternalV("builtins.int()")]), elems.values), elems.values)
            return one(SeqV("iter", None, frozenset([pair])), Resolution.EXTERNAL)
        if short == "zip" and positional:
            columns = [self.elements(arg(i)).values for i in range(len(positional))]
            row = SeqV("tuple", tuple(columns), frozenset().union(*columns))
            return one(SeqV("iter", None, frozenset([row])), Resolution.EXTERNAL)
        if short in ("map",) and positional:
            functions = [v for i in range(len(positional)) for v in arg(i).values if isinstance(v, DefV)]
            results = [self._call_value(v, ctx, ("c", None, (), ())) for v in sorted(set(functions), key=value_key)]
            found = union(results)
            return one(SeqV("iter", None, found.values, None, found.partial), Resolution.EXTERNAL)
        if short == "filter" and len(positional) > 1:
            elems = self.elements(arg(1))
            return one(SeqV("iter", None, elems.values, None, elems.partial), Resolution.EXTERNAL)
        if short in ("staticmethod", "classmethod") and positional:
            return arg(0)
        if short == "property" and positional:
            return one(PropertyV(arg(0).values), Resolution.DIRECT)
        if name == "functools.partial" and positional:
            return one(PartialV(arg(0).values), Resolution.DIRECT)
        if name == "functools.wraps" and positional:
            return one(WrapsV(arg(0).values), Resolution.DIRECT)
        if name in ("copy.copy", "copy.deepcopy") and positional:
            return arg(0)
        if name in ("typing.cast", "typing_extensions.cast") and len(positional) == 2:
            return self._annotation_tree_vals(ctx, positional[0]) or arg(1)
        if short in ("max", "min") and positional:
            return self.elements(arg(0)) if len(positional) == 1 else union(arg(i) for i in range(len(positional)))
        if short in _OPAQUE_BUILTINS:
            return UNKNOWN  # what these give depends on run-time values
        return one(ExternalV(name + "()"), Resolution.EXTERNAL)

    def _defaultdict(self, ctx: Ctx, tree: Any, positional: list[Any]) -> Vals:
        """``collections.defaultdict(factory, ...)``: a dict whose every key (``None``, any) holds what calling
        the factory gives, besides what is stored into it (found through its site, like a ``{}``)."""
        entries: list[tuple[Any, frozenset[Any]]] = []
        partial = False
        if positional:
            factory = self.eval(ctx, positional[0])
            made = union(self._call_value(v, ctx, ("c", None, (), ())) for v in sorted(factory.values, key=value_key))
            if made.values:
                entries.append((None, made.values))
            partial = factory.partial or made.partial or not factory.values
        if len(positional) > 1:  # defaultdict(factory, mapping): the mapping's entries are copied
            copied = self.eval(ctx, positional[1])
            for v in copied.values:
                if isinstance(v, DictV):
                    entries.extend(v.entries)
                    partial = partial or v.partial
            partial = partial or copied.partial or not copied.values
        for k, v in tree[3] or ():
            if k != "**":
                entries.append((("k", k), self.eval(ctx, v).values))
        return one(DictV(tuple(entries), site_of(ctx, tree), partial))  # as certain as a literal

    def _annotation_tree_vals(self, ctx: Ctx, tree: Any) -> Vals | None:
        found = self.eval(ctx, tree)
        classes = [InstanceV(v.sym) for v in found.values if isinstance(v, DefV) and v.sym.definition.kind == "class"]
        return Vals(frozenset(classes), Resolution.TYPED) if classes else None

    def _decorated(self, ctx: Ctx, tree: Any) -> Vals:
        """A decorator applied to what it decorates (``("dec", decorator, inner)``). External decorators and
        those whose result is unknown or external (a workspace decorator object whose ``__call__`` is a third
        party's) leave the function as it is; ``@property`` makes a property."""
        inner = self.eval(ctx, tree[2])
        decorator = self.eval(ctx, tree[1])
        if not decorator.values:
            return inner
        parts = []
        for value in sorted(decorator.values, key=value_key):
            if isinstance(value, ExternalV):
                if value.name in _PROPERTIES or value.name.endswith(".cached_property"):
                    parts.append(one(PropertyV(inner.values)))
                else:
                    parts.append(inner)
                continue
            if isinstance(value, WrapsV):
                parts.append(Vals(value.wrapped, Resolution.DIRECT) if value.wrapped else inner)
                continue
            if isinstance(value, DefV) and value.sym.definition.kind == "function":
                self_value = value.bound if isinstance(value.bound, (InstanceV, DefV)) else None
                frame = Frame(value.sym, self_value, None, value.closure)
                if self._frame_depth < _MAX_FRAME_DEPTH:
                    params = [p for p in value.sym.definition.params if not p.star]
                    skip = 1 if value.bound is not None and value.sym.definition.in_class else 0
                    if len(params) > skip:
                        frame = Frame(frame.func, frame.self_value, ((params[skip].name, inner),), value.closure)
                result = self._returns(value.sym, frame)
                parts.append(result if _known_result(result) else inner)
                continue
            applied = self._call_value(value, ctx, ("c", None, (), ()))
            parts.append(applied if _known_result(applied) else inner)
        found = union(parts)
        return Vals(found.values, inner.how, found.partial and not found.values)

    # -- containers and iteration -----------------------------------------------------------------------------

    def _sequence(self, ctx: Ctx, tree: Any) -> Vals:
        kind = {"t": "tuple", "l": "list", "set": "set"}[tree[0]]
        items: list[frozenset[Any]] | None = []
        elems: set[Any] = set()
        partial = False
        for item in tree[1]:
            if item and item[0] == "*":
                found = self.eval(ctx, item[1])
                for v in found.values:
                    if isinstance(v, SeqV) and v.items is not None and items is not None:
                        items.extend(v.items)
                    else:
                        items = None
                    if isinstance(v, SeqV):
                        elems |= v.elems
                        partial = partial or v.partial
                    else:
                        partial = True
                if not found.values:
                    items, partial = None, True
                continue
            found = self.eval(ctx, item)
            if items is not None:
                items.append(found.values)
            elems |= found.values
            partial = partial or found.partial
        site = site_of(ctx, tree) if kind != "tuple" else None
        return one(SeqV(kind, tuple(items) if items is not None else None, frozenset(elems), site, partial))

    def _dict(self, ctx: Ctx, tree: Any) -> Vals:
        entries: list[tuple[Any, frozenset[Any]]] = []
        partial = False
        for entry in tree[1]:
            if entry[0] == "**":
                found = self.eval(ctx, entry[1])
                for v in found.values:
                    if isinstance(v, DictV):
                        entries.extend(v.entries)
                        partial = partial or v.partial
                partial = partial or not found.values
                continue
            key_tree, value_tree = entry
            value = self.eval(ctx, value_tree)
            partial = partial or value.partial
            entries.append((self._key(ctx, key_tree), value.values))
        return one(DictV(tuple(entries), site_of(ctx, tree), partial))

    def _key(self, ctx: Ctx, tree: Any) -> Any:
        """A dict literal's key: a constant, one class or function, or None (unknown)."""
        keys = self._keys(ctx, tree)
        return keys[0] if keys is not None and len(keys) == 1 else None

    def _keys(self, ctx: Ctx, tree: Any) -> list[Any] | None:
        """The keys an index expression may be (constants as ``("k", value)``), or None when unknown."""
        if not tree:
            return None
        if tree[0] == "k":
            return [tree]
        found = self.eval(ctx, tree)
        if not found.values or (found.partial and not self.closed_world):
            return None
        keys: list[Any] = []
        for value in sorted(found.values, key=value_key):
            if isinstance(value, ConstV):
                keys.append(("k", value.value))
            elif isinstance(value, (DefV, ExternalV)):
                keys.append(value)
            else:
                return None
        return keys

    def _subscript(self, ctx: Ctx, base: Vals, index: Any) -> Vals:
        parts = []
        for value in sorted(base.values, key=value_key):
            if isinstance(value, SeqV):
                parts.append(self._seq_item(ctx, value, index))
            elif isinstance(value, DictV):
                parts.append(self._dict_item(ctx, value, index))
            elif isinstance(value, DefV) and value.sym.definition.kind == "class":
                parts.append(one(value, Resolution.TYPED))  # a generic alias: Foo[int] is Foo
            elif isinstance(value, ExternalV) and _is_generic_alias(value.name, index):
                parts.append(one(value, Resolution.EXTERNAL))  # Queue[int] is Queue: calling it makes a Queue
            elif isinstance(value, InstanceV):
                member = self._class_attr(value.cls, "__getitem__", instance=value)
                parts.append(
                    union(self._call_value(v, ctx, ("c", None, (index,), ())) for v in member.values)
                    if member.values
                    else UNKNOWN
                )
            else:
                parts.append(UNKNOWN)
        if not parts:
            return UNKNOWN
        result = union(parts)
        return Vals(result.values, weaker(base.how, result.how) if result.values else base.how, result.partial)

    def _seq_item(self, ctx: Ctx, seq: SeqV, index: Any) -> Vals:
        if index and index[0] == "sl":
            mutated = seq.site is not None and (
                self._container_additions(seq.site) is not None or self._stored_items(ctx, seq.site, None) is not None
            )
            if seq.items is not None and len(index) == 3 and not mutated:
                lo = index[1] or 0
                hi = index[2] if index[2] is not None else len(seq.items)
                items = seq.items[lo:hi]
                return one(SeqV("list", items, frozenset().union(*items) if items else frozenset()))
            return one(SeqV("list", None, seq.elems, None, seq.partial))
        keys = self._keys(ctx, index)
        ints = [k[1] for k in keys or () if isinstance(k, tuple) and type(k[1]) is int]
        parts = []
        beyond = True
        if keys is not None and len(ints) == len(keys) and seq.items is not None:
            beyond = False
            for k in ints:
                if -len(seq.items) <= k < len(seq.items):
                    parts.append(Vals(seq.items[k], Resolution.TYPED))
                else:
                    beyond = True
        else:
            parts.append(Vals(seq.elems, Resolution.TYPED, seq.partial))
        if seq.site is not None:
            added = self._container_additions(seq.site)
            if added is not None and beyond:
                parts.append(added)
            stored = self._stored_items(ctx, seq.site, keys)
            if stored is not None:
                parts.append(stored)
        return union(parts) if parts else NOTHING

    def _dict_item(self, ctx: Ctx, d: DictV, index: Any) -> Vals:
        keys = self._keys(ctx, index)
        matching: list[tuple[tuple[int, int, tuple[int, ...]], frozenset[Any], Any]] = []
        partial = d.partial
        here = d.site is not None and d.site[1] == ctx.scope and d.site[0] == ctx.key
        site_pos = (d.site[2], d.site[3], d.site[4]) if here else (0, 0, (-1,))
        for k, values in d.entries:
            if keys is None or k is None or k in keys:
                matching.append((site_pos, values, k))
        for flow, store_key, values, scope in self._dict_stores(d.site) if d.site is not None else []:
            if keys is None or store_key is None or store_key in keys:
                same = scope == ctx.scope and d.site[0] == ctx.key
                matching.append(((flow.line, flow.col, flow.path if same else (-1,)), values.values, store_key))
                partial = partial or values.partial
        if keys is not None and len(keys) == 1:
            matching = kill_stores(matching, ctx, keys[0])
        values = frozenset().union(*(v for _, v, _ in matching)) if matching else frozenset()
        if not values:
            return UNKNOWN if partial or keys is None else NOTHING
        return Vals(values, Resolution.TYPED, partial)

    def _dict_stores(self, site: Any) -> list[tuple[Flow, Any, Vals, str]]:
        """``d[k] = v``, ``d.update({...})`` and ``d.setdefault(k, v)`` stores into the dict made at ``site``
        (found in its file): ``(flow, key or None, values, scope)``."""
        key = ("dict-stores", site)
        found = self._memo.get(key)
        if found is not None:
            return found
        if key in self._active:
            return []
        self._active.add(key)
        try:
            out: list[tuple[Flow, Any, Vals, str]] = []
            info = self.info(*site[0])
            names = self._site_names(site)
            for flow, base, index, accessor in info.sub_stores:
                if terminal(base, True) not in names:
                    continue
                ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
                if not self._is_site(self.eval(ctx, base), site):
                    continue
                value = self._bind_value(info, flow, accessor, None)
                for k in self._keys(ctx, index) or [None]:
                    out.append((flow, k, value, flow.scope))
            for flow in info.mutators:
                func = flow.value[1]
                if func[2] not in ("update", "setdefault") or terminal(func[1], True) not in names:
                    continue
                ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
                if not self._is_site(self.eval(ctx, func[1]), site):
                    continue
                args = flow.value[2]
                if func[2] == "setdefault" and len(args) == 2:
                    value = self.eval(ctx, args[1])
                    for k in self._keys(ctx, args[0]) or [None]:
                        out.append((flow, k, value, flow.scope))
                elif func[2] == "update" and args:
                    for v in self.eval(ctx, args[0]).values:
                        if isinstance(v, DictV):
                            for k, values in v.entries:
                                out.append((flow, k, Vals(values), flow.scope))
        finally:
            self._active.discard(key)
        self._memo[key] = out
        return out

    def _container_additions(self, site: Any) -> Vals | None:
        """Elements added to the list or set made at ``site`` (``append``, ``extend``, ``add``...)."""
        key = ("seq-adds", site)
        found = self._memo.get(key)
        if found is not None:
            return found if found.values or found.partial else None
        if key in self._active:
            return None
        self._active.add(key)
        parts = []
        try:
            info = self.info(*site[0])
            names = self._site_names(site)
            for flow in info.mutators:
                func = flow.value[1]
                if (
                    func[2] not in ("append", "extend", "insert", "add", "appendleft")
                    or terminal(func[1], True) not in names
                ):
                    continue
                ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
                if not self._is_site(self.eval(ctx, func[1]), site):
                    continue
                args = flow.value[2]
                if not args:
                    continue
                value = self.eval(ctx, args[-1])
                parts.append(self.elements(value) if func[2] == "extend" else value)
        finally:
            self._active.discard(key)
        result = union(parts) if parts else NOTHING
        self._memo[key] = result
        return result if parts else None

    def _stored_items(self, ctx: Ctx, site: Any, keys: list[Any] | None) -> Vals | None:
        """``ls[i] = v`` stores into the list made at ``site``, for index ``keys`` (None: any)."""
        info = self.info(*site[0])
        names = self._site_names(site)
        parts = []
        for flow, base, store_index, accessor in info.sub_stores:
            if terminal(base, True) not in names:
                continue
            fctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, None)
            if not self._is_site(self.eval(fctx, base), site):
                continue
            store_keys = self._keys(fctx, store_index)
            if keys is not None and store_keys is not None and not set(map(repr, keys)) & set(map(repr, store_keys)):
                continue
            parts.append(self._bind_value(info, flow, accessor, None))
        return union(parts) if parts else None

    def _is_site(self, vals: Vals, site: Any) -> bool:
        return any(isinstance(v, (SeqV, DictV)) and v.site == site for v in vals.values)

    def _site_names(self, site: Any) -> frozenset[str]:
        """The names (or attribute names) the container made at ``site`` is bound to where it is made: only
        stores through those names are looked at (``d[k] = v`` for ``d = {}``, ``self.t[k] = v``)."""
        key = ("site-names", site)
        found = self._memo.get(key)
        if found is None:
            info = self.info(*site[0])
            names = set()
            for flows in info.binds.values():
                for flow, _ in flows:
                    if (flow.scope, flow.line, flow.col) == (site[1], site[2], site[3]):
                        names.update(leaf[1] for leaf, _ in leaves(flow.target, ()) if leaf[0] == "n")
            for flows in info.attr_stores.values():
                for flow, _base, _ in flows:
                    if (flow.scope, flow.line, flow.col) == (site[1], site[2], site[3]):
                        names.update(leaf[2] for leaf, _ in leaves(flow.target, ()) if leaf[0] == "a")
            found = self._memo[key] = frozenset(names)
        return found

    def _container_method(self, method: MethodOfV, ctx: Ctx, tree: Any) -> Vals:
        container, name = method.container, method.name
        args = tree[2] if tree and tree[0] == "c" else ()
        if isinstance(container, DictV):
            if name in ("get", "pop", "setdefault", "__getitem__") and args:
                found = self._dict_item(ctx, container, args[0])
                if name == "get" and len(args) > 1:
                    found = union([found, self.eval(ctx, args[1])])
                return found
            if name == "values":
                return one(SeqV("iter", None, self._dict_values(container)))
            if name == "keys":
                return one(SeqV("iter", None, dict_keys(container)))
            if name == "items":
                values = self._dict_values(container)
                pair = SeqV("tuple", (dict_keys(container), values), dict_keys(container) | values)
                return one(SeqV("iter", None, frozenset([pair])))
            if name == "copy":
                return one(container)
            return UNKNOWN
        if isinstance(container, SeqV):
            if name == "pop":
                return self.elements(one(container))
            if name == "copy":
                return one(container)
        return UNKNOWN

    def _dict_values(self, d: DictV) -> frozenset[Any]:
        values: set[Any] = set()
        for _, v in d.entries:
            values |= v
        if d.site is not None:
            for _flow, _key, stored, _same in self._dict_stores(d.site):
                values |= stored.values
        return frozenset(values)

    def elements(self, vals: Vals, is_async: bool = False) -> Vals:
        """What iterating (``async for`` when ``is_async``) over each value of ``vals`` gives."""
        parts = []
        for value in sorted(vals.values, key=value_key):
            parts.append(self._elements_of(value, is_async))
        if not parts:
            return UNKNOWN
        result = union(parts)
        return Vals(result.values, result.how, result.partial or vals.partial)

    def _elements_of(self, value: Any, is_async: bool = False) -> Vals:
        if isinstance(value, SeqV):
            parts = [Vals(value.elems, Resolution.TYPED, value.partial)]
            if value.site is not None:
                added = self._container_additions(value.site)
                if added is not None:
                    parts.append(added)
            return union(parts)
        if isinstance(value, DictV):
            return Vals(dict_keys(value), Resolution.TYPED, True)
        if isinstance(value, GenV):
            return self._memoised(("yields", value), lambda: self._yields(value))
        if isinstance(value, InstanceV):
            first, then = ("__aiter__", "__anext__") if is_async else ("__iter__", "__next__")
            it = self._class_attr(value.cls, first, instance=value)
            if not it.values:
                return UNKNOWN
            iterators = union(self._call_value(v, _NO_CTX, ("c", None, (), ())) for v in it.values)
            parts = []
            for iterator in iterators.values:
                if isinstance(iterator, InstanceV):
                    nxt = self._class_attr(iterator.cls, then, instance=iterator)
                    parts.extend(self._call_value(v, _NO_CTX, ("c", None, (), ())) for v in nxt.values)
                elif isinstance(iterator, (GenV, SeqV)):
                    parts.append(self._elements_of(iterator))
            return union(parts) if parts else UNKNOWN
        if isinstance(value, DefV) and value.sym.definition.kind == "class":
            return one(InstanceV(value.sym), Resolution.TYPED)  # an Enum's members
        return UNKNOWN

    def _yields(self, gen: GenV) -> Vals:
        info = self._info_of(gen.func)
        d = gen.func.definition
        parts = []
        for flow in info.yields.get(d.qualname, []):
            ctx = Ctx(info.key, d.qualname, flow.line, flow.col, flow.path, gen.frame)
            parts.append(self.eval(ctx, flow.value))
        if d.returns:
            declared = self.annotation(info, d.parent, d.returns)
            parts.append(self.elements(declared))
        return union(parts) if parts else UNKNOWN

    def _enter(self, vals: Vals, is_async: bool) -> Vals:
        """What ``with x as y`` binds to ``y``: ``__enter__``'s result, a ``@contextmanager``'s yield."""
        parts = []
        name = "__aenter__" if is_async else "__enter__"
        for value in sorted(vals.values, key=value_key):
            if isinstance(value, InstanceV):
                member = self._class_attr(value.cls, name, instance=value)
                parts.append(
                    union(self._call_value(v, _NO_CTX, ("c", None, (), ())) for v in member.values)
                    if member.values
                    else UNKNOWN
                )
            elif isinstance(value, GenV):
                parts.append(self._elements_of(value))
            elif isinstance(value, ExternalV):
                parts.append(one(value, Resolution.EXTERNAL))
            else:
                parts.append(UNKNOWN)
        return union(parts) if parts else UNKNOWN

    # -- annotations ------------------------------------------------------------------------------------------

    def annotation(self, info: FileInfo, scope: str, text: str) -> Vals:
        """The values an annotation declares: instances of the classes it names (``Optional``, unions,
        string annotations), element types of ``list[T]``/``dict[K, V]``, ``type[T]`` a class."""
        key = ("ann", info.key, scope, text)
        return self._memoised(key, lambda: self._annotation(info, scope, text))

    def _annotation(self, info: FileInfo, scope: str, text: str) -> Vals:
        try:
            node = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, ValueError):
            return UNKNOWN
        ctx = Ctx(info.key, scope, _END[0], 0, (), None)
        return self._ann_node(ctx, node, 0)

    def _ann_node(self, ctx: Ctx, node: ast.AST, depth: int) -> Vals:
        if depth > 8:
            return UNKNOWN
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                try:
                    inner = ast.parse(node.value.strip(), mode="eval").body
                except (SyntaxError, ValueError):
                    return UNKNOWN
                return self._ann_node(ctx, inner, depth + 1)
            return NOTHING if node.value is None else UNKNOWN
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return union([self._ann_node(ctx, node.left, depth + 1), self._ann_node(ctx, node.right, depth + 1)])
        if isinstance(node, (ast.Name, ast.Attribute)):
            chain = ast_chain(node)
            if not chain:
                return UNKNOWN
            found = self.eval(ctx, chain_tree(chain))
            return self._instances_of(found)
        if isinstance(node, ast.Subscript):
            origin_chain = ast_chain(node.value)
            if not origin_chain:
                return UNKNOWN
            origin = origin_chain[-1]
            args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            if origin in WRAPPERS:
                return self._ann_node(ctx, args[0], depth + 1)
            if origin == "Union":
                return union(self._ann_node(ctx, a, depth + 1) for a in args)
            if origin == "Coroutine" and args:
                return self._ann_node(ctx, args[-1], depth + 1)
            if origin in ("type", "Type"):
                inner = self._ann_node(ctx, args[0], depth + 1)
                classes = [DefV(v.cls) for v in inner.values if isinstance(v, InstanceV)]
                return Vals(frozenset(classes), Resolution.TYPED) if classes else UNKNOWN
            if origin in _SEQUENCES:
                elems = self._ann_node(ctx, args[0], depth + 1)
                return one(SeqV("iter", None, elems.values, None, not complete(elems)), Resolution.TYPED)
            if origin in ("tuple", "Tuple"):
                if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                    elems = self._ann_node(ctx, args[0], depth + 1)
                    return one(SeqV("tuple", None, elems.values, None, elems.partial), Resolution.TYPED)
                items = [self._ann_node(ctx, a, depth + 1) for a in args]
                elems = frozenset().union(*(i.values for i in items)) if items else frozenset()
                partial = any(i.partial or not complete(i) for i in items)
                return one(SeqV("tuple", tuple(i.values for i in items), elems, None, partial), Resolution.TYPED)
            if origin in _MAPPINGS and len(args) == 2:
                keys = self._ann_node(ctx, args[0], depth + 1)
                values = self._ann_node(ctx, args[1], depth + 1)
                del keys  # a typed mapping: any key may hold any of the values
                return one(DictV(((None, values.values),), None, not complete(values)), Resolution.TYPED)
            found = self.eval(ctx, chain_tree(origin_chain))
            return self._instances_of(found)
        return UNKNOWN

    def _proxied(self, proxy: InstanceV) -> list[InstanceV]:
        """An object used as a type (``engine: sgl.Engine``, where ``Engine = LazyImport("pkg.mod", "Engine")``)
        stands for the classes whose instances calling it makes, through a workspace ``__call__``."""
        member = self._class_attr(proxy.cls, "__call__", instance=proxy)
        if not any(isinstance(v, DefV) for v in member.values):
            return []
        made = union(self._call_value(v, _NO_CTX, ("c", None, (), ())) for v in member.values)
        return sorted({InstanceV(v.cls) for v in made.values if isinstance(v, InstanceV)}, key=value_key)

    def _instances_of(self, found: Vals) -> Vals:
        values: set[Any] = set()
        partial = found.partial
        for v in found.values:
            if isinstance(v, DefV) and v.sym.definition.kind == "class":
                values.add(InstanceV(v.sym))
            elif isinstance(v, InstanceV) and (proxied := self._proxied(v)):
                values.update(proxied)
            elif isinstance(v, ExternalV):
                if v.name.startswith(_TYPING_MODULES) or v.name in ("builtins.object",):
                    partial = True
                    continue
                values.add(ExternalV(v.name))  # an instance: its methods read Type.method
            else:
                partial = True
        how = Resolution.EXTERNAL if values and all(isinstance(v, ExternalV) for v in values) else Resolution.TYPED
        return Vals(frozenset(values), how if values else Resolution.DIRECT, partial)


# -- helpers ---------------------------------------------------------------------------------------------------

_NO_CTX = Ctx(("", ""), "", 0, 0, (), None)


def _python_files(workspace: Workspace, repo: Any) -> Iterator[Path]:
    """``.py`` and ``.pyi`` files under the repo's Python roots (see :meth:`Workspace.python_files`)."""
    return iter(workspace.python_files(repo))


#: A ``class`` header at the start of a line, searched in the text after a newline: a pattern that starts
#: with a literal is searched for by that literal (``^`` in multi-line mode is tried at every position, 2.5
#: times slower over a workspace).
_CLASS_HEADER = re.compile(r"\n[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)\)")


def _class_base_names(text: str) -> set[str]:
    """The identifiers written in the base lists of a file's ``class X(...)`` headers."""
    names: set[str] = set()
    for m in _CLASS_HEADER.finditer("\n" + text):
        names.update(re.findall(r"[A-Za-z_]\w*", m.group(1)))
    return names


#: The text index of the class names written as bases in ``class`` headers (see :meth:`.Index.python_text_index`).
CLASS_BASES_INDEX = ("class-bases", _class_base_names)


def _is_generic_alias(name: str, index: Any) -> bool:
    """Whether subscripting the external ``name`` with ``index`` writes a generic alias of a class
    (``Queue[Optional[Batch]]``, ``deque[tuple[int, bytes]]``): the name reads as a class (CapWords or a
    generic builtin; not a call's result) and the index as types. An external value may also be an instance
    typed by an annotation (``table: dict``), so ``table["key"]`` or ``handlers[i]`` is not one; a mapping is
    written with two types (``dict[str, int]``)."""
    if "()" in name:
        return False
    last = name.rpartition(".")[2]
    if last not in _LOWER_GENERICS and not _reads_as_class(last):
        return False
    if last in _MAPPINGS:
        return bool(index) and index[0] == "t" and len(index[1]) == 2 and all(_type_tree(t) for t in index[1])
    return _type_tree(index)


#: Builtin names that are types when written in an index.
_TYPE_NAMES = frozenset({"int", "str", "float", "bytes", "bool", "object", "complex", "bytearray", *_LOWER_GENERICS})


def _reads_as_class(name: str) -> bool:
    """CapWords (``Queue``) or a one-letter type variable (``T``), not a constant (``KEY``)."""
    return name[:1].isupper() and (len(name) == 1 or any(ch.islower() for ch in name))


def _type_tree(tree: Any) -> bool:
    """Whether an expression tree is written as a type: class names, dotted, subscripted, in tuples or lists,
    or None."""
    if not tree:
        return False
    tag = tree[0]
    if tag == "k":
        return tree[1] is None
    if tag == "n":
        return tree[1] in _TYPE_NAMES or _reads_as_class(tree[1])
    if tag == "a":
        return _reads_as_class(tree[2]) and _dotted(tree[1])
    if tag == "s":
        return _type_tree(tree[1]) and _type_tree(tree[2])
    if tag in ("t", "l"):
        return all(_type_tree(t) for t in tree[1])
    return False


def _dotted(tree: Any) -> bool:
    return bool(tree) and (tree[0] == "n" or (tree[0] == "a" and _dotted(tree[1])))


def _merge_targets(a: Target, b: Target) -> Target:
    """One target for a function reached twice: a nested function made in two calls is entered with the union
    of what they passed (or, when the calls differ in more than that, as if its closure were unknown)."""
    ra, rb = a.receiver, b.receiver
    if ra == rb or a.kind != "def" or a.sym is None or a.sym.definition.in_class:
        return a
    merged = None
    if isinstance(ra, DefV) and isinstance(rb, DefV) and ra.bound == rb.bound:
        closure = merge_closures(ra.closure, rb.closure)
        merged = DefV(ra.sym, ra.bound, closure) if closure is not None else None
    return Target(a.kind, a.sym, a.cls, a.name, merged, a.extra)


def _constant_strings(found: Vals) -> list[str]:
    """The strings ``found`` is, when it is only string constants (else empty)."""
    if found.partial or not found.values or not all(isinstance(v, ConstV) for v in found.values):
        return []
    strings = [v.value for v in found.values if isinstance(v.value, str)]
    return sorted(strings) if len(strings) == len(found.values) else []


def _known_result(found: Vals) -> bool:
    """Whether a decorator's result is something of the workspace (not only unknown or external values)."""
    return any(not isinstance(v, (ExternalV, ConstV)) for v in found.values)


def _closure_of(d: Definition, ctx: Ctx) -> Frame | None:
    """The frame a function defined directly inside another one is made in (its closure), when that frame
    says more than every caller would: what the call passed (or the call a trace entered it through),
    ``self``, or a closure of its own."""
    frame = ctx.frame
    if frame is None or d.kind != "function" or d.in_class or frame.func.definition.qualname != d.parent:
        return None
    if (frame.func.repo, frame.func.path) != ctx.key:
        return None
    if frame.args is None and frame.self_value is None and frame.closure is None and frame.caller is None:
        return None
    return frame


def _enclosing_frame(frame: Frame | None, scope: str) -> Frame | None:
    """The frame of the enclosing function ``scope`` along the closures of ``frame`` (None: not known)."""
    outer = frame.closure if frame is not None else None
    while outer is not None:
        if outer.func.definition.qualname == scope:
            return outer
        outer = outer.closure
    return None


def _annotation_scope(info: FileInfo, scope: str) -> str:
    d = info.defs.get(scope)
    return d.parent if d is not None and d.kind == "class" else scope


def _atoms(values: Any, depth: int) -> set[tuple[str, str]]:
    """The workspace classes and functions among ``values``, containers' elements included (``[X]``, ``{X}``),
    as ``(stable text, short label)`` pairs."""
    out: set[tuple[str, str]] = set()
    for v in values:
        if isinstance(v, InstanceV):
            out.add((f"{stable_key(v.cls)}{'' if v.exact else '+'}", v.cls.definition.name))
        elif isinstance(v, DefV):
            out.add((f"def {stable_key(v.sym)}", v.sym.definition.name))
        elif isinstance(v, GenV):
            out.add((f"generator {stable_key(v.func)}", f"{v.func.definition.name}()"))
        elif depth < 3 and isinstance(v, SeqV):
            out |= {(f"[{k}]", f"[{label}]") for k, label in _atoms(v.elems, depth + 1)}
        elif depth < 3 and isinstance(v, DictV):
            for _, stored in v.entries:
                out |= {(f"{{{k}}}", f"{{{label}}}") for k, label in _atoms(stored, depth + 1)}
        elif depth < 3 and isinstance(v, PartialV):
            out |= _atoms(v.funcs, depth + 1)
    return out


def _is_builtin_exception(name: str) -> bool:
    """Constructing a builtin exception is part of the ``raise`` step that follows, not a call of its own."""
    value = builtins.__dict__.get(name)
    return isinstance(value, type) and issubclass(value, BaseException)


def _is_quiet_external(name: str) -> bool:
    """A builtin helper, exception or method of a builtin value: left out of traces."""
    short = name[len("builtins.") :] if name.startswith("builtins.") else ""
    return short in QUIET_BUILTINS or _is_builtin_exception(short) or _is_builtin_method(name)


def _is_builtin_method(name: str) -> bool:
    """A method of a builtin value (``" ".join``, ``d.items``): plumbing, left out of traces."""
    if not name.startswith("builtins."):
        return False
    head = name[len("builtins.") :].split(".", 1)[0].removesuffix("()")
    return head in ("str", "int", "float", "bool", "bytes", "list", "dict", "set", "tuple", "generator", "iterator")


__all__ = [
    "CLASS_BASES_INDEX",
    "QUIET_BUILTINS",
    "CallAnswer",
    "PySymbol",
    "PythonResolver",
    "Target",
    "annotation_chain",
]
