"""Python resolution: from a call site's name chain to the definition it calls, using facts alone.

The resolver evaluates a chain (``self.store.get``) left to right over a small value domain: a module, a
definition (function or class object), an instance of a class, ``super()`` inside a class, or an external
dotted name (stdlib, third party, builtins). Names are looked up the way Python scopes them (enclosing
functions, then the module, skipping class bodies; imports made inside functions count), imports are followed
through re-exports in ``__init__`` modules and star imports, attributes of instances are found along the C3
MRO of their class or through the attributes ``__init__`` and other methods assign, and call results take the
callee's return annotation. Each answer records how it was made (:class:`~sphinxext.codetrace.model.Resolution`).

What it does not do (yet): candidate sets for dynamic dispatch and conditional imports, decorators that
wrap, higher-order functions, ``.pyi`` stubs. A call it cannot resolve is reported as unresolved with its
source text, never guessed.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from ..diagnostics import CodetraceError, suggest
from ..index import Index
from ..model import Binding, CallSite, Definition, FileFacts, Lang, Loc, Resolution
from ..workspace import Workspace

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

_RANK = {Resolution.DIRECT: 0, Resolution.IMPORT: 1, Resolution.TYPED: 2, Resolution.INHERITED: 3}
_WRAPPERS = {
    "Optional",
    "typing.Optional",
    "Final",
    "typing.Final",
    "ClassVar",
    "typing.ClassVar",
    "Annotated",
    "typing.Annotated",
    "Awaitable",
    "typing.Awaitable",
    "Coroutine",
}


@dataclass(frozen=True, slots=True)
class PySymbol:
    """A definition in the workspace: which repo and file, which module, which definition."""

    repo: str
    path: str
    module: str
    definition: Definition

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
    sym: PySymbol


@dataclass(frozen=True, slots=True)
class InstanceV:
    cls: PySymbol


@dataclass(frozen=True, slots=True)
class SuperV:
    cls: PySymbol  # the class whose method called super(); lookups start after it in the MRO
    instance_of: PySymbol


@dataclass(frozen=True, slots=True)
class ExternalV:
    name: str


Value = ModuleV | DefV | InstanceV | SuperV | ExternalV


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call site resolved to: a symbol to walk into, an external name, or nothing."""

    resolution: Resolution
    target: str  # readable callee: qualified name, external dotted name, or the source text
    callee: PySymbol | None = None
    constructs: PySymbol | None = None  # the class, when the call instantiates it
    receiver: PySymbol | None = None  # the class of the instance a method was called on
    quiet: bool = False  # a builtin helper call: not drawn


class PythonResolver:
    """Resolves Python entries and call sites over an :class:`~sphinxext.codetrace.index.Index`."""

    def __init__(self, workspace: Workspace, index: Index) -> None:
        self.workspace = workspace
        self.index = index
        self._modules: dict[str, list[tuple[str, str]]] = {}
        self._mro: dict[PySymbol, list[PySymbol]] = {}
        self._external_bases: dict[PySymbol, list[str]] = {}  # filled by mro(): bases outside the workspace
        self._receiver: PySymbol | None = None  # class of the instance the last evaluated chain called on
        self._self_class: PySymbol | None = None  # the walk's knowledge of what ``self`` is in this frame
        self._origin: dict[int, tuple[str, str]] = {}  # id(facts) -> (repo, path); the index keeps them alive
        self._depth = 0

    # -- modules ----------------------------------------------------------------------------------------------

    def module_files(self, module: str) -> list[tuple[str, str]]:
        """``(repo, relpath)`` of the files defining ``module`` in any repo, in repo order."""
        found = self._modules.get(module)
        if found is None:
            found = []
            for repo in self.workspace.repos.values():
                for path in repo.module_files(module):
                    found.append((repo.name, repo.relpath(path)))
            self._modules[module] = found
        return found

    def module_exists(self, module: str) -> bool:
        return bool(self.module_files(module)) or any(r.is_package_dir(module) for r in self.workspace.repos.values())

    def facts_of(self, repo: str, path: str) -> FileFacts:
        facts = self.index.facts(self.workspace.repos[repo], path)
        self._origin[id(facts)] = (repo, path)
        return facts

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
            value = self._lookup_module_attr(module, rest[0], frozenset())
            resolved = value[0] if value else None
            for j, part in enumerate(rest[1:], start=1):
                if isinstance(resolved, DefV) and resolved.sym.definition.kind == "class":
                    member = self._class_member(resolved.sym, part)
                    resolved = member[0] if member else None
                elif isinstance(resolved, DefV):
                    d = self.facts_of(resolved.sym.repo, resolved.sym.path).definition(
                        f"{resolved.sym.definition.qualname}.{part}"
                    )
                    resolved = (
                        DefV(PySymbol(resolved.sym.repo, resolved.sym.path, resolved.sym.module, d)) if d else None
                    )
                else:
                    resolved = None
                if resolved is None:
                    failed = ".".join(parts[: i + j + 1])
                    raise CodetraceError(
                        "unresolved",
                        f"entry {text!r}: {failed!r} not found",
                        self._suggest_in(files, ".".join(rest[: j + 1]))
                        or "check the spelling and the repo's Python roots",
                    )
            if isinstance(resolved, DefV) and resolved.sym.definition.kind == "class":
                raise CodetraceError(
                    "unresolved",
                    f"entry {text!r} is a class, not a function",
                    f"start from one of its methods, e.g. {text}.__init__",
                )
            if isinstance(resolved, DefV):
                return resolved.sym
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

    def _suggest_in(self, files: list[tuple[str, str]], qualname: str) -> str:
        names = [d.qualname for repo, path in files for d in self.facts_of(repo, path).definitions]
        return suggest(qualname, names)

    def _entry_from_file(self, text: str, repo: str | None) -> PySymbol:
        path, _, qualname = text.partition("::")
        repos = [self.workspace.repo(repo)] if repo else list(self.workspace.repos.values())
        for r in repos:
            if r.contained(r.root / path) is None or not (r.root / path).is_file():
                continue
            facts = self.facts_of(r.name, path)
            problem = self.index.problem(r.name, path)
            if problem is not None:
                raise CodetraceError(problem.subtype, problem.message, problem.hint)
            definition = facts.definition(qualname)
            if definition is None:
                raise CodetraceError(
                    "unresolved",
                    f"entry {text!r}: no {qualname!r} in {r.name}:{path}",
                    suggest(qualname, [d.qualname for d in facts.definitions]) or "check the spelling",
                )
            return PySymbol(r.name, path, facts.module, definition)
        raise CodetraceError(
            "unresolved",
            f"entry {text!r}: no file {path!r} in {'repo ' + repr(repo) if repo else 'any configured repo'}",
            "file paths are relative to the repo root",
        )

    # -- call sites -------------------------------------------------------------------------------------------

    def resolve_call(self, sym: PySymbol, call: CallSite, self_class: PySymbol | None = None) -> Outcome:
        """What the call at ``call`` inside ``sym`` calls. ``self_class`` is the class of ``self`` when the
        walk knows it is a subclass of the method's own class (a base method reached on a derived instance):
        then ``self.m()`` finds the override."""
        if not call.chain:
            return Outcome(Resolution.UNRESOLVED, call.text)
        facts = self.facts_of(sym.repo, sym.path)
        self._depth = 0
        self._receiver = None
        self._self_class = self_class
        try:
            found = self._evaluate(facts, call.scope, call.chain, call.line)
        except RecursionError:  # pathological alias cycles
            found = None
        finally:
            self._self_class = None
        if found is None:
            return Outcome(Resolution.UNRESOLVED, call.text)
        value, how = found
        if isinstance(value, ExternalV):
            name = value.name
            short = name[len("builtins.") :] if name.startswith("builtins.") else ""
            quiet = short in QUIET_BUILTINS or _is_builtin_exception(short)
            return Outcome(Resolution.EXTERNAL, name, quiet=quiet)
        if isinstance(value, DefV) and value.sym.definition.kind == "function":
            return Outcome(how, value.sym.qualname, callee=value.sym, receiver=self._receiver)
        if isinstance(value, DefV):  # instantiation: __init__ along the MRO, else the class itself
            init = self._class_member(value.sym, "__init__")
            if init and isinstance(init[0], DefV):
                return Outcome(
                    _weaker(how, init[1]),
                    value.sym.qualname,
                    callee=init[0].sym,
                    constructs=value.sym,
                    receiver=value.sym,
                )
            return Outcome(how, value.sym.qualname, constructs=value.sym)
        if isinstance(value, InstanceV):
            member = self._class_member(value.cls, "__call__")
            if member and isinstance(member[0], DefV):
                return Outcome(_weaker(how, Resolution.TYPED), member[0].sym.qualname, callee=member[0].sym)
        return Outcome(Resolution.UNRESOLVED, call.text)

    # -- evaluation -------------------------------------------------------------------------------------------

    def _evaluate(
        self, facts: FileFacts, scope: str, chain: tuple[str, ...], line: int
    ) -> tuple[Value, Resolution] | None:
        self._depth += 1
        if self._depth > 60:
            return None
        first = chain[0]
        is_call = first.endswith("()")
        name = first[:-2] if is_call else first
        if name == "super" and is_call:
            found = self._super(facts, scope)
            is_call = False
        elif name.startswith("super[") and is_call:
            found = self._super(facts, scope, tuple(name[len("super[") : -1].split(".")), line)
            is_call = False
        else:
            found = self._lookup(facts, scope, name, line)
        if found is None:
            return None
        value, how = found
        if is_call:
            result = self._call_result(value)
            if result is None:
                return None
            value, how = result[0], _weaker(how, result[1])
        for element in chain[1:]:
            is_call = element.endswith("()")
            attr = element[:-2] if is_call else element
            self._receiver = (
                value.cls
                if isinstance(value, InstanceV)
                else (value.instance_of if isinstance(value, SuperV) else None)
            )
            member = self._attribute(value, attr)
            if member is None:
                return None
            value, how = member[0], _weaker(how, member[1])
            if is_call:
                result = self._call_result(value)
                if result is None:
                    return None
                value, how = result[0], _weaker(how, result[1])
        return value, how

    def _super(
        self, facts: FileFacts, scope: str, start: tuple[str, ...] = (), line: int = 0
    ) -> tuple[Value, Resolution] | None:
        """``super()`` (lookups start after the enclosing class) or ``super(Cls, self)`` (after ``Cls``), on
        the class of ``self`` when the walk knows it."""
        cls = self._enclosing_class(facts, scope)
        if cls is None:
            return None
        instance = cls
        if self._self_class is not None and cls in self.mro(self._self_class):
            instance = self._self_class
        after = cls
        if start:
            found = self._evaluate(facts, scope, start, line)
            if found is None or not isinstance(found[0], DefV) or found[0].sym.definition.kind != "class":
                return None
            after = found[0].sym
        return SuperV(after, instance), Resolution.INHERITED

    def _enclosing_class(self, facts: FileFacts, scope: str) -> PySymbol | None:
        d = facts.definition(scope)
        while d is not None and d.parent:
            parent = facts.definition(d.parent)
            if parent is not None and parent.kind == "class":
                repo, path = self._where(facts)
                return PySymbol(repo, path, facts.module, parent)
            d = parent
        return None

    def _lookup(self, facts: FileFacts, scope: str, name: str, line: int) -> tuple[Value, Resolution] | None:
        """Look ``name`` up from ``scope`` outwards (class bodies are skipped), then module, then builtins."""
        current = scope
        first = True
        while True:
            d = facts.definition(current) if current else None
            if not current or (d is not None and (d.kind == "function" or first)):
                found = self._lookup_in(facts, d, current, name, line)
                if found is not None:
                    return found if found[0] is not None else None
            if not current:
                break
            current = d.parent if d is not None else ""
            first = False
        if name in builtins.__dict__:
            return ExternalV(f"builtins.{name}"), Resolution.EXTERNAL
        return None

    def _lookup_in(
        self, facts: FileFacts, d: Definition | None, scope: str, name: str, line: int
    ) -> tuple[Value | None, Resolution] | None:
        """``name`` in one scope; ``(None, ...)`` when the name is bound there to something unknown."""
        repo, path = self._where(facts)
        if d is not None and d.kind == "function":
            for index, p in enumerate(d.params):
                if p.name != name:
                    continue
                if index == 0 and not p.star and d.parent:
                    owner = facts.definition(d.parent)
                    if owner is not None and owner.kind == "class" and "staticmethod" not in d.decorators:
                        cls = PySymbol(repo, path, facts.module, owner)
                        if self._self_class is not None and cls in self.mro(self._self_class):
                            cls = self._self_class
                        elif p.annotation and "classmethod" not in d.decorators:
                            # `self: Scheduler` in a mixin names the class the method really runs on
                            typed = self._annotation_value(facts, owner.parent, p.annotation, line)
                            if typed is not None and isinstance(typed[0], InstanceV):
                                return typed[0], Resolution.TYPED
                        if "classmethod" in d.decorators:
                            return DefV(cls), Resolution.TYPED
                        return InstanceV(cls), Resolution.TYPED
                if p.annotation and not p.star:
                    typed = self._annotation_value(facts, d.parent, p.annotation, line)
                    if typed is not None:
                        return typed
                return None, Resolution.UNRESOLVED
        nested = facts.definition(f"{scope}.{name}" if scope else name)
        if nested is not None and (scope or nested.parent == ""):
            return DefV(PySymbol(repo, path, facts.module, nested)), Resolution.DIRECT
        for imp in reversed(facts.imports):
            if imp.scope == scope and imp.name == name and not imp.star:
                found = self._import(imp.target, frozenset())
                return found if found is not None else (None, Resolution.UNRESOLVED)
        bindings = _bindings_before(facts, scope, name, line)
        if bindings:
            found = self._agreed_value(facts, bindings)
            return found if found is not None else (None, Resolution.UNRESOLVED)
        if not scope:
            for imp in facts.imports:
                if imp.scope == "" and imp.star:
                    found = self._lookup_module_attr(imp.target, name, frozenset(), via_star=True)
                    if found is not None:
                        return found[0], _weaker(found[1], Resolution.IMPORT)
        return None

    def _where(self, facts: FileFacts) -> tuple[str, str]:
        return self._origin[id(facts)]

    def _agreed_value(self, facts: FileFacts, bindings: list[Binding]) -> tuple[Value, Resolution] | None:
        """The value every binding gives the name, or None when they disagree or one is unknown: a name set
        to different things in two branches is not guessed."""
        values: set[Value | None] = set()
        how = Resolution.DIRECT
        for binding in bindings:
            found = self._binding_value(facts, binding)
            values.add(found[0] if found is not None else None)
            if found is not None:
                how = _weaker(how, found[1])
            if len(values) > 1:
                return None
        value = values.pop()
        return (value, how) if value is not None else None

    def _binding_value(self, facts: FileFacts, binding: Binding) -> tuple[Value, Resolution] | None:
        if binding.annotation:
            typed = self._annotation_value(facts, _parent_scope(facts, binding.scope), binding.annotation, binding.line)
            if typed is not None:
                return typed
        if binding.value:
            found = self._evaluate(facts, binding.scope, binding.value, binding.line - 1)
            if found is not None:
                return found[0], _weaker(found[1], Resolution.TYPED)
        return None

    def _annotation_value(
        self, facts: FileFacts, scope: str, annotation: str, line: int
    ) -> tuple[Value, Resolution] | None:
        chain = annotation_chain(annotation)
        if not chain:
            return None
        found = self._evaluate(facts, scope, chain, line)
        if found is None:
            return None
        value, how = found
        if isinstance(value, DefV) and value.sym.definition.kind == "class":
            return InstanceV(value.sym), _weaker(how, Resolution.TYPED)
        if isinstance(value, ExternalV) and not value.name.startswith(("typing.", "collections.abc.")):
            return ExternalV(value.name), Resolution.EXTERNAL  # an instance: its methods read Type.method
        return None

    # -- modules and imports ----------------------------------------------------------------------------------

    def _import(self, target: str, seen: frozenset[str]) -> tuple[Value, Resolution] | None:
        if self.module_exists(target):
            return ModuleV(target), Resolution.IMPORT
        module, _, attr = target.rpartition(".")
        if module and self.module_exists(module):
            found = self._lookup_module_attr(module, attr, seen)
            return (found[0], _weaker(found[1], Resolution.IMPORT)) if found else None
        top = target.split(".")[0]
        if self.module_exists(top):
            return None  # a module of ours that does not exist: unresolved, not external
        return ExternalV(target), Resolution.EXTERNAL

    def _lookup_module_attr(
        self, module: str, name: str, seen: frozenset[str], via_star: bool = False
    ) -> tuple[Value, Resolution] | None:
        key = f"{module}.{name}"
        if key in seen or len(seen) > 50:
            return None
        seen = seen | {key}
        for repo, path in self.module_files(module):
            facts = self.facts_of(repo, path)
            if via_star and facts.all_names is not None and name not in facts.all_names:
                continue
            d = facts.definition(name)
            if d is not None and d.parent == "":
                return DefV(PySymbol(repo, path, facts.module, d)), Resolution.DIRECT
            for imp in reversed(facts.imports):
                if imp.scope == "" and imp.name == name and not imp.star:
                    found = self._import(imp.target, seen)
                    if found is not None:
                        return found
            bindings = _bindings_before(facts, "", name, 1 << 30)
            if bindings:
                found = self._agreed_value(facts, bindings)
                if found is not None:
                    return found
        if self.module_exists(key):
            return ModuleV(key), Resolution.IMPORT
        for repo, path in self.module_files(module):
            facts = self.facts_of(repo, path)
            for imp in facts.imports:
                if imp.scope == "" and imp.star:
                    found = self._lookup_module_attr(imp.target, name, seen, via_star=True)
                    if found is not None:
                        return found
        return None

    # -- classes ----------------------------------------------------------------------------------------------

    def _attribute(self, value: Value, name: str) -> tuple[Value, Resolution] | None:
        if isinstance(value, ModuleV):
            return self._lookup_module_attr(value.name, name, frozenset())
        if isinstance(value, ExternalV):
            return ExternalV(f"{value.name}.{name}"), Resolution.EXTERNAL
        if isinstance(value, DefV):
            if value.sym.definition.kind == "class":
                return self._class_member(value.sym, name)
            return None
        if isinstance(value, InstanceV):
            member = self._class_member(value.cls, name)
            if member is None:
                member = self._instance_attribute(value.cls, name)
            return member if member is not None else self._external_member(self.mro(value.cls), name)
        if isinstance(value, SuperV):
            mro = self.mro(value.instance_of)
            after = mro[mro.index(value.cls) + 1 :] if value.cls in mro else mro[1:]
            for cls in after:
                found = self._own_member(cls, name)
                if found is not None:
                    return found, Resolution.INHERITED
            return self._external_member([value.cls, *after], name)
        return None

    def _external_member(self, classes: list[PySymbol], name: str) -> tuple[Value, Resolution] | None:
        """``name`` on the first base outside the workspace (``SphinxDirective.get_location``), if any."""
        for cls in classes:
            for base in self._external_bases.get(cls, ()):
                return ExternalV(f"{base}.{name}"), Resolution.EXTERNAL
        return None

    def _own_member(self, cls: PySymbol, name: str) -> Value | None:
        facts = self.facts_of(cls.repo, cls.path)
        d = facts.definition(f"{cls.definition.qualname}.{name}")
        if d is not None:
            return DefV(PySymbol(cls.repo, cls.path, cls.module, d))
        return None

    def _class_member(self, cls: PySymbol, name: str) -> tuple[Value, Resolution] | None:
        """A method or nested class found along the MRO of ``cls``."""
        for index, c in enumerate(self.mro(cls)):
            found = self._own_member(c, name)
            if found is not None:
                return found, (Resolution.INHERITED if index else Resolution.TYPED)
        return None

    def _instance_attribute(self, cls: PySymbol, name: str) -> tuple[Value, Resolution] | None:
        """The type of ``self.name`` from assignments in the class's methods or class-level annotations."""
        for c in self.mro(cls):
            facts = self.facts_of(c.repo, c.path)
            prefix = c.definition.qualname + "."
            candidates = [
                b
                for b in facts.bindings
                if (b.name == f"self.{name}" and b.scope.startswith(prefix))
                or (b.name == name and b.scope == c.definition.qualname)
            ]
            if not candidates:
                continue
            # An annotation is a declaration: it wins. Otherwise every assignment must agree, or the
            # attribute's type is not known statically (conditional set-up picks one of several classes).
            annotated = [b for b in candidates if b.annotation]
            values = set()
            for binding in annotated[:1] or candidates:
                found = self._binding_value(facts, binding)
                values.add(found[0] if found is not None else None)
            if len(values) == 1 and None not in values:
                return values.pop(), Resolution.TYPED
            return None
        return None

    def mro(self, cls: PySymbol) -> list[PySymbol]:
        """C3 linearisation of ``cls`` over the bases that resolve in the workspace (others are skipped)."""
        cached = self._mro.get(cls)
        if cached is not None:
            return cached
        self._mro[cls] = [cls]  # guards against inheritance cycles while computing
        facts = self.facts_of(cls.repo, cls.path)
        bases: list[PySymbol] = []
        for base in cls.definition.bases:
            chain = annotation_chain(base)
            if not chain:
                continue
            found = self._evaluate(facts, cls.definition.parent, chain, cls.definition.line)
            if found and isinstance(found[0], DefV) and found[0].sym.definition.kind == "class":
                bases.append(found[0].sym)
            elif found and isinstance(found[0], ExternalV):
                self._external_bases.setdefault(cls, []).append(found[0].name)
        result = [cls, *_c3([self.mro(b) for b in bases] + [bases])]
        self._mro[cls] = result
        return result

    def _call_result(self, value: Value) -> tuple[Value, Resolution] | None:
        if isinstance(value, DefV):
            d = value.sym.definition
            if d.kind == "class":
                return InstanceV(value.sym), Resolution.TYPED
            if d.returns:
                facts = self.facts_of(value.sym.repo, value.sym.path)
                returns = d.returns
                if returns in ("Self", "typing.Self", "typing_extensions.Self") and d.parent:
                    owner = facts.definition(d.parent)
                    if owner is not None and owner.kind == "class":
                        return InstanceV(
                            PySymbol(value.sym.repo, value.sym.path, value.sym.module, owner)
                        ), Resolution.TYPED
                return self._annotation_value(facts, d.parent, returns, d.line)
            return None
        if isinstance(value, ExternalV):
            return ExternalV(value.name + "()"), Resolution.EXTERNAL
        return None


def _c3(sequences: list[list[PySymbol]]) -> list[PySymbol]:
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


def _is_builtin_exception(name: str) -> bool:
    """Constructing a builtin exception is part of the ``raise`` step that follows, not a call of its own."""
    value = builtins.__dict__.get(name)
    return isinstance(value, type) and issubclass(value, BaseException)


def _weaker(a: Resolution, b: Resolution) -> Resolution:
    """The less certain of two resolution kinds along a chain."""
    if a not in _RANK:
        return a
    if b not in _RANK:
        return b
    return a if _RANK[a] >= _RANK[b] else b


def _bindings_before(facts: FileFacts, scope: str, name: str, line: int) -> list[Binding]:
    """Bindings of ``name`` in ``scope`` made before ``line``; all of them when none is (a loop, a closure
    called later)."""
    found = [b for b in facts.bindings if b.scope == scope and b.name == name]
    before = [b for b in found if b.line <= line]
    return before or found


def _parent_scope(facts: FileFacts, scope: str) -> str:
    d = facts.definition(scope)
    return d.parent if d is not None and d.kind == "class" else scope


_SUBSCRIPT = re.compile(r"^([\w.]+)\[(.*)\]$")


def _split_top(text: str, sep: str) -> list[str]:
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
    options = [p for p in _split_top(text, "|") if p not in ("None", "")]
    if len(options) != 1:
        return ()
    text = options[0].strip("'\"")
    m = _SUBSCRIPT.match(text)
    if m:
        origin, inner = m.group(1), m.group(2)
        if origin in _WRAPPERS:
            return annotation_chain(_split_top(inner, ",")[0])
        if origin in ("Union", "typing.Union"):
            options = [p for p in _split_top(inner, ",") if p != "None"]
            return annotation_chain(options[0]) if len(options) == 1 else ()
        text = origin
    parts = text.split(".")
    return tuple(parts) if all(p.isidentifier() for p in parts) else ()
