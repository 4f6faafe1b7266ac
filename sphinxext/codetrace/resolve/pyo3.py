"""PyO3 crossings: Python calls that land in Rust, and Rust calls that land in Python.

An extension module is a library crate whose root file has a ``#[pymodule]`` function. Its Python name is
maturin's ``[tool.maturin] module-name`` (the ``pyproject.toml`` beside the crate's ``Cargo.toml``), else
the ``#[pyo3(name = "..")]`` on the module function, else the Cargo ``[lib] name``. What it exports is read
from the module function the way PyO3 runs it: ``m.add_class::<T>()``, ``m.add_function(wrap_pyfunction!(f,
m)?)`` (and ``add_wrapped``), helper functions that receive the module (``engine::register(m)?``),
submodules made with ``PyModule::new(py, "name")`` and added with ``add_submodule``, or ``wrap_pymodule!``.
A class's Python name is ``#[pyclass(name = "..")]`` or the struct's; its methods are those of its
``#[pymethods]`` impl blocks, named by ``#[pyo3(name = "..")]``, ``#[getter]``/``#[setter]`` (with or
without a name; ``get_``/``set_`` prefixes dropped) or the fn; ``#[new]`` is what ``Cls(...)`` runs.

Python to Rust (step kind ``py->rust``): the Python resolver answers a call on an exported object with the
``.pyi`` stub's definition (so chained calls keep their types from the stub) or, without a stub, with an
external name under the module (``pkg._core.Cls().method``); either is mapped to the Rust function here.

Rust to Python (step kind ``rust->py``): a ``call``/``call0``/``call1`` on a value handed in from Python.
The value is followed backwards inside the extension's crate: through local ``let`` bindings, ``.clone()``,
``Arc::new(..)``/``Some(..)``, struct fields (struct literals and ``self.f = ..`` assignments that store
it), and parameters (to the call sites in the crate that pass them), until it reaches a parameter of an
exported function or method. The Python call sites of that export (found by a text search for its Python
name, then resolved) say what Python passes there: the functions and bound methods are the callees,
candidates when several are registered. ``call_method*(py, "name", ..)`` calls that method on the objects
Python passed. Nothing is guessed: a value that cannot be followed leaves the call external.

``pyo3_async_runtimes`` ``future_into_py`` (and ``local_future_into_py``) hands a Rust future to Python as an
awaitable: the call is drawn as an async crossing (kind ``spawn``) with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..diagnostics import CodetraceError
from ..model import Binding, CallSite, Definition, Lang, Resolution, StepKind
from ..workspace import Workspace
from . import Outcome
from .python import PythonResolver
from .pyvalues import Ctx, DefV, InstanceV, PartialV, PySymbol, sym_key
from .rust import RustResolver, RustSymbol

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Methods of PyO3 smart pointers that call the Python object.
CALL_METHODS = frozenset(["call", "call0", "call1"])
CALL_METHOD_METHODS = frozenset(["call_method", "call_method0", "call_method1"])
#: Functions that turn a Rust future into a Python awaitable.
FUTURE_INTO_PY = frozenset(["future_into_py", "local_future_into_py", "future_into_py_with_locals"])
#: Wrappers a stored Python object goes through on its way: ``Arc::new(x)``, ``Some(x)``, ``x.clone()``...
_WRAP_CALL = re.compile(r"^(?:(?:std::sync::)?Arc::new|Rc::new|Box::new|Some|Ok|Mutex::new|RwLock::new)\((.*)\)$", re.S)
_UNWRAP = (".clone()", ".clone_ref()", ".bind()", ".as_ref()", ".into()", ".unbind()", ".into_bound()", ".as_any()")
_UNWRAP_RE = re.compile(r"\.(?:clone|clone_ref|as_ref|into|unbind|into_bound|as_any|to_object|into_py|bind)\([^()]*\)$")
_IDENT = re.compile(r"^[a-z_][A-Za-z0-9_]*$")
_NAME_ARG = re.compile(r"""\bname\s*=\s*"([^"]+)\"""")
_MAX_DEPTH = 12
#: ``name(`` searched in the reversed text: a pattern that starts with a literal is searched for by it, one
#: that starts with ``\b`` is tried at every position (6 times slower over a workspace). The name found is
#: the whole word before the bracket, kept when it starts like an identifier: what
#: ``\b([A-Za-z_]\w*)\s*\(`` finds in the text itself.
_CALLED_REVERSED = re.compile(r"\(\s*(\w+)")
_IDENTIFIER_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
#: A top-level ``#[pymodule]`` function in a crate root: (the attributes from ``#[pymodule]`` on, the fn name).
_PYMODULE_FN = re.compile(r"^(#\[pymodule\](?:\s*#\[[^\]]*\])*)\s*(?:pub(?:\([^)]*\))?\s+)?fn\s+(\w+)", re.M)


@dataclass(frozen=True, slots=True)
class Export:
    """One Rust item as Python sees it."""

    python: str  # dotted Python name: ``pkg._core.Cls.method``
    rust: RustSymbol
    kind: str  # "function" | "class" | "method" | "new" | "getter" | "setter"


@dataclass(frozen=True, slots=True)
class ExtensionModule:
    """A library crate with a ``#[pymodule]`` function, and the Python name it is imported under."""

    repo: str
    python: str
    root: str  # the crate root file
    directory: str  # the crate's directory (its Cargo.toml's), relative to the repo
    function: str  # the #[pymodule] function's qualname in the root file


def _pyo3_name(decorators: tuple[str, ...], default: str) -> str:
    for attr in decorators:
        if attr.startswith(("#[pyo3(", "#[pyclass(", "#[pyfunction(", "#[pymodule(")):
            found = _NAME_ARG.search(attr)
            if found:
                return found.group(1)
    return default


def _arg_chain(text: str) -> tuple[str, ...] | None:
    """The value an argument expression passes on, as a chain (``generator``, ``self.handler``), through
    the wrappers a stored callable goes through; None when it is anything else."""
    text = " ".join(text.split())
    for _ in range(8):
        text = text.strip()
        if text.startswith("&"):
            text = text[1:].removeprefix("mut ")
            continue
        found = _WRAP_CALL.match(text)
        if found:
            text = found.group(1)
            continue
        stripped = _UNWRAP_RE.sub("", text)
        if stripped != text:
            text = stripped
            continue
        break
    parts = text.split(".")
    if parts and all(_IDENT.match(p) for p in parts):
        return (parts[0], *("." + p for p in parts[1:]))
    return None


def _strip_chain(chain: tuple[str, ...]) -> tuple[str, ...]:
    """A binding's value chain without the calls that hand the same object on (``.clone()``...)."""
    while chain and (chain[-1] in _UNWRAP or chain[-1] in ("?", ".unwrap()", ".expect()")):
        chain = chain[:-1]
    return chain


class _Origins:
    """What a backward search found: Python values, and whether every path was followed to its end."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.complete = True

    def add(self, found: tuple[tuple[Any, ...], bool]) -> None:
        self.values.extend(found[0])
        self.complete = self.complete and found[1]

    def result(self) -> tuple[tuple[Any, ...], bool]:
        return tuple(self.values), self.complete and bool(self.values)


class PyO3Bridge:
    """Maps calls across the PyO3 boundary, in both directions, over the Python and Rust resolvers."""

    def __init__(self, workspace: Workspace, python: PythonResolver, rust: RustResolver) -> None:
        self.workspace = workspace
        self.python = python
        self.rust = rust
        self._modules: list[ExtensionModule] | None = None
        self._exports: dict[str, dict[str, Export]] = {}  # extension module python name -> exports
        self._by_rust: dict[RustSymbol, Export] = {}
        self._py_callers: dict[str, list[tuple[PySymbol, CallSite]]] = {}
        self._origins: dict[Any, tuple[tuple[Any, ...], bool]] = {}
        python.is_extension_module = lambda name: self._module_named(name) is not None

    # -- extension modules ------------------------------------------------------------------------------------

    def modules(self) -> list[ExtensionModule]:
        """Every extension module of the workspace. Cheap, and it parses nothing: it reads Cargo manifests and
        the text of library crates' root files (which is why a trace does not depend on those files until a
        call crosses into one)."""
        if self._modules is not None:
            return self._modules
        from ..cargo import discover_crates

        found: list[ExtensionModule] = []
        for repo in self.workspace.repos.values():
            repo.note_scan("cargo")  # a crate added or removed changes the extension modules
            for crate in discover_crates(repo.root):
                if crate.kind != "lib" or self.workspace.repo_of(repo.root / crate.root) is not repo:
                    continue  # a binary, or a crate of a repo nested in this one
                try:
                    text = repo.read_text(crate.root)
                except CodetraceError:
                    continue
                fns = _PYMODULE_FN.findall(text)
                if not fns:
                    continue
                attrs, fn = next(((a, f) for a, f in fns if f == crate.name), fns[0])
                named = _NAME_ARG.search(attrs)
                name = self._maturin_name(repo, crate.directory) or (named.group(1) if named else crate.name)
                found.append(ExtensionModule(repo.name, name, crate.root, crate.directory, fn))
        self._modules = sorted(found, key=lambda m: (m.python, m.repo, m.root))
        return self._modules

    def _maturin_name(self, repo: Any, directory: str) -> str | None:
        """``[tool.maturin] module-name`` of the pyproject.toml beside the crate (or in a parent up to the repo
        root whose maturin ``manifest-path`` names this crate)."""
        try:
            data = tomllib.loads(
                repo.read_text(f"{directory}/pyproject.toml" if directory != "." else "pyproject.toml")
            )
        except (CodetraceError, tomllib.TOMLDecodeError):
            return None
        maturin = data.get("tool", {}).get("maturin", {})
        name = maturin.get("module-name") if isinstance(maturin, dict) else None
        return name if isinstance(name, str) and name else None

    def _module_named(self, dotted: str) -> ExtensionModule | None:
        """The extension module that ``dotted`` (a module or a name under it) belongs to."""
        best = None
        for m in self.modules():
            inside = dotted == m.python or dotted.startswith(m.python + ".")
            if inside and (best is None or len(m.python) > len(best.python)):
                best = m
        return best

    # -- exports ----------------------------------------------------------------------------------------------

    def exports(self, module: ExtensionModule) -> dict[str, Export]:
        found = self._exports.get(module.python + "@" + module.root)
        if found is not None:
            return found
        found = {}
        self._exports[module.python + "@" + module.root] = found
        facts = self.rust.facts_of(module.repo, module.root)
        d = next((d for d in facts.definitions if d.qualname == module.function), None)
        if d is not None:
            fn = self.rust.symbol(module.repo, module.root, d)
            param = d.params[0].name if d.params else "m"
            self._scan(fn, {param: module.python}, found, set())
        for export in found.values():
            self._by_rust.setdefault(export.rust, export)
        return found

    def _add(self, found: dict[str, Export], export: Export) -> None:
        found.setdefault(export.python, export)

    def _scan(self, fn: RustSymbol, modules: dict[str, str], found: dict[str, Export], seen: set[Any]) -> None:
        """Read what a module function (or a helper given the module) adds to the Python modules bound to the
        names in ``modules``."""
        if (fn, tuple(sorted(modules.items()))) in seen or len(seen) > 200:
            return
        seen.add((fn, tuple(sorted(modules.items()))))
        facts = self.rust.facts_of(fn.repo, fn.path)
        scope = fn.definition.qualname
        calls = [c for c in facts.calls if c.scope == scope or c.scope.startswith(scope + "::{")]
        modules = dict(modules)
        for b in facts.bindings:  # `let sub = PyModule::new(py, "name")?;`
            if b.scope == scope and b.value[:1] == ("PyModule",) and len(b.value) > 1:
                made = next(
                    (c for c in calls if c.line == b.line and c.chain[:1] == ("PyModule",) and len(c.args) > 1), None
                )
                literal = made.args[1].strip() if made is not None else ""
                if literal.startswith('"') and literal.endswith('"'):
                    parent = next(iter(modules.values()))
                    modules[b.name] = f"{parent}.{literal[1:-1]}"
        for call in sorted(calls, key=lambda c: (c.line, c.col)):
            chain = call.chain
            if not chain:
                continue
            owner = modules.get(chain[0]) if len(chain) == 2 else None
            last = chain[-1]
            if owner is not None and last == ".add_class":
                self._add_class(fn, call, owner, found)
            elif owner is not None and last in (".add_function", ".add_wrapped") and call.args:
                self._add_function(fn, call, owner, found)
            elif last.startswith("."):
                continue
            else:  # a helper handed a module: `engine::register(m)?`, `add_to_module(&sub)?`
                passed = [(i, modules.get(a.strip().lstrip("&").strip())) for i, a in enumerate(call.args)]
                passed = [(i, m) for i, m in passed if m is not None]
                if not passed:
                    continue
                outcome = self.rust.resolve_call(fn, call)
                callee = outcome.callee
                if not isinstance(callee, RustSymbol) or callee.definition.kind != "function":
                    continue
                params = callee.definition.params
                inner = {params[i].name: m for i, m in passed if i < len(params)}
                if inner:
                    self._scan(callee, inner, found, seen)

    def _add_class(self, fn: RustSymbol, call: CallSite, owner: str, found: dict[str, Export]) -> None:
        _, sep, type_text = call.text.partition("::<")
        if not sep:
            return
        struct = self.rust.resolve_type(fn, type_text.rstrip(">").strip())
        if struct is None:
            return
        cls = f"{owner}.{_pyo3_name(struct.definition.decorators, struct.definition.name)}"
        self._add(found, Export(cls, struct, "class"))
        for method, own in self.rust.methods_of(struct, "#[pymethods]"):
            d = method.definition
            name, kind = d.name, "method"
            if "#[new]" in own:
                name, kind = "__init__", "new"
            for attr in own:
                for word, prefix in (("getter", "get_"), ("setter", "set_")):
                    if attr.startswith(f"#[{word}"):
                        inner = attr[len(word) + 2 :].strip("()] ")
                        name, kind = inner or d.name.removeprefix(prefix), word
            name = _pyo3_name(own, name)
            self._add(found, Export(f"{cls}.{name}", method, kind))

    def _add_function(self, fn: RustSymbol, call: CallSite, owner: str, found: dict[str, Export]) -> None:
        arg = call.args[0]
        for macro, is_module in (("wrap_pyfunction!", False), ("wrap_pymodule!", True)):
            at = arg.find(macro)
            if at < 0:
                continue
            inside = arg[at + len(macro) :].strip().lstrip("(").split(",")[0].rstrip(")").strip()
            for target in self.rust.resolve_path(fn, inside, call.line):
                if target.definition.kind != "function":
                    continue
                name = _pyo3_name(target.definition.decorators, target.definition.name)
                if is_module:
                    params = target.definition.params
                    self._scan(target, {params[0].name if params else "m": f"{owner}.{name}"}, found, set())
                else:
                    self._add(found, Export(f"{owner}.{name}", target, "function"))

    def export_of(self, rust_sym: RustSymbol) -> Export | None:
        """How Python sees a Rust function, when it is exported."""
        for module in self.modules():
            if module.repo == rust_sym.repo:
                self.exports(module)
        return self._by_rust.get(rust_sym)

    def lookup(self, python_name: str) -> Export | None:
        module = self._module_named(python_name)
        if module is None:
            return None
        return self.exports(module).get(python_name)

    # -- Python to Rust ---------------------------------------------------------------------------------------

    def cross(self, caller: Any, call: CallSite, outcome: Outcome) -> Outcome:
        """``outcome`` with calls across the boundary mapped to the other side (unchanged otherwise)."""
        if caller.loc().lang is Lang.PYTHON:
            crossed = self._to_rust(outcome)
            if crossed is not None and call.kind is StepKind.AWAIT:
                return replace(crossed, note=f"awaited; {crossed.note}")
            return crossed or outcome
        return self._to_python(caller, call, outcome) or outcome

    def _python_key(self, outcome: Outcome) -> tuple[str, bool] | None:
        """The dotted Python name a Python call's outcome names, and whether it constructs a class."""
        if outcome.constructs is not None and isinstance(outcome.constructs, PySymbol):
            return outcome.constructs.qualname, True
        if isinstance(outcome.callee, PySymbol):
            return outcome.callee.qualname, False
        if outcome.resolution is Resolution.EXTERNAL and outcome.target:
            name = outcome.target.replace("().", ".")
            return name.removesuffix("()"), False
        return None

    def _to_rust(self, outcome: Outcome) -> Outcome | None:
        if outcome.candidates:
            return None
        key = self._python_key(outcome)
        if key is None:
            return None
        name, constructs = key
        if isinstance(outcome.callee, PySymbol) and not outcome.callee.path.endswith(".pyi") and not constructs:
            return None  # Python source, not a stub: the call stays in Python
        if not self.modules() or self._module_named(name) is None:
            return None
        export = self.lookup(name)
        if export is None:
            return None
        how = outcome.resolution if outcome.resolution is not Resolution.EXTERNAL else Resolution.IMPORT
        note = f"PyO3: {name}"
        if export.kind == "class":
            new = self.lookup(f"{name}.__init__")
            if new is not None:
                return Outcome(how, name, callee=new.rust, kind=StepKind.PY_TO_RUST, note=note)
            return Outcome(how, name, constructs=export.rust, kind=StepKind.PY_TO_RUST, note=note)
        return Outcome(how, export.rust.qualname, callee=export.rust, kind=StepKind.PY_TO_RUST, note=note)

    # -- Rust to Python ---------------------------------------------------------------------------------------

    def _to_python(self, caller: RustSymbol, call: CallSite, outcome: Outcome) -> Outcome | None:
        chain = call.chain
        if not chain or outcome.callee is not None or outcome.candidates:
            return None
        last = chain[-1].lstrip(".")
        if last in FUTURE_INTO_PY and outcome.resolution is Resolution.EXTERNAL:
            return Outcome(
                outcome.resolution,
                outcome.target,
                kind=StepKind.SPAWN,
                note="Rust future handed to Python as an awaitable",
            )
        if not chain[-1].startswith(".") or (last not in CALL_METHODS and last not in CALL_METHOD_METHODS):
            return None
        if not self.modules():
            return None
        receiver = _strip_chain(chain[:-1])
        method = ""
        if last in CALL_METHOD_METHODS:  # obj.call_method1(py, "name", ..)
            method = _literal(call.args[1] if len(call.args) > 1 else "")
        elif receiver and receiver[-1] == ".getattr()":  # obj.getattr(py, "name")?.call1(..)
            getattr_call = next(
                (c for c in self._calls_at(caller, call.line) if c.chain == (*receiver[:-1], ".getattr")), None
            )
            method = _literal(getattr_call.args[-1]) if getattr_call is not None and getattr_call.args else ""
            receiver = receiver[:-1] if method else receiver
        if last in CALL_METHOD_METHODS and not method:
            return None
        values, complete = self._value_origins(caller, receiver, call.line, 0)
        if not values:
            return None
        if method:
            targets: list[tuple[PySymbol, Any]] = []
            for v in values:
                if isinstance(v, InstanceV):
                    for m in self.python.attribute(_one(v), method).values:
                        if isinstance(m, DefV) and m.sym.definition.kind == "function":
                            targets.append((m.sym, m.bound))
        else:
            targets = [t for v in values for t in self._callables(v)]
        return self._python_outcome(targets, complete, call)

    def _calls_at(self, fn: RustSymbol, line: int) -> list[CallSite]:
        return [c for c in self.rust.facts_of(fn.repo, fn.path).calls if c.line == line]

    def _python_outcome(self, targets: list[tuple[PySymbol, Any]], complete: bool, call: CallSite) -> Outcome | None:
        by_sym: dict[PySymbol, Any] = {}
        for sym, bound in sorted(targets, key=lambda t: sym_key(t[0])):
            by_sym.setdefault(sym, bound)
        if not by_sym:
            return None
        note = "callable passed in from Python" + ("" if complete else "; other callers unknown")
        if len(by_sym) == 1:
            sym, bound = next(iter(by_sym.items()))
            receiver = bound if isinstance(bound, (InstanceV, DefV)) else None
            return Outcome(
                Resolution.TYPED, sym.qualname, callee=sym, receiver=receiver, kind=StepKind.RUST_TO_PY, note=note
            )
        syms = tuple(by_sym)
        return Outcome(
            Resolution.CANDIDATES,
            call.text,
            candidates=syms,
            kind=StepKind.RUST_TO_PY,
            note=f"{len(syms)} callables passed in from Python",
        )

    def _callables(self, value: Any) -> Iterator[tuple[PySymbol, Any]]:
        if isinstance(value, DefV) and value.sym.definition.kind == "function":
            yield value.sym, value.bound
        elif isinstance(value, PartialV):
            for f in sorted(value.funcs, key=lambda v: repr(v)):
                yield from self._callables(f)
        elif isinstance(value, InstanceV):
            for m in self.python.attribute(_one(value), "__call__").values:
                if isinstance(m, DefV) and m.sym.definition.kind == "function":
                    yield m.sym, m.bound

    # Backward flow inside Rust: a "slot" is ("param", fn, index) or ("field", struct, name).

    def _value_origins(
        self, fn: RustSymbol, chain: tuple[str, ...], line: int, depth: int
    ) -> tuple[tuple[Any, ...], bool]:
        """The Python values that the Rust value ``chain`` (seen in ``fn`` at ``line``) may hold."""
        if depth > _MAX_DEPTH or not chain:
            return (), False
        if len(chain) == 2 and chain[0] == "self" and chain[1].startswith("."):
            owner = self._owner(fn)
            return self._slot(("field", owner, chain[1][1:]), depth + 1) if owner is not None else ((), False)
        if len(chain) != 1:
            return (), False
        name = chain[0]
        index = self.rust.file_index(fn.repo, fn.path, body=True)
        scope = fn.definition.qualname
        while scope:  # closures and async blocks see their function's locals and parameters
            bindings = [b for b in index.bindings.get(scope, {}).get(name, ()) if b.line <= line]
            if bindings:
                b = max(bindings, key=lambda b: b.line)
                value = self._binding_chain(fn, scope, b)
                return self._value_origins(self._fn_at(fn, scope), value, b.line, depth + 1)
            d = index.by_qualname.get(scope)
            if d is not None and d.kind == "function":
                params = [p for p in d.params]
                for i, p in enumerate(params):
                    if p.name == name:
                        return self._slot(("param", self._fn_at(fn, scope), i), depth + 1)
                if d.keyword not in ("closure", "async-block"):
                    break
            scope = d.parent if d is not None else scope.rpartition("::")[0]
        return (), False

    def _fn_at(self, fn: RustSymbol, scope: str) -> RustSymbol:
        if scope == fn.definition.qualname:
            return fn
        d = self.rust.file_index(fn.repo, fn.path, body=True).by_qualname.get(scope)
        return self.rust.symbol(fn.repo, fn.path, d) if d is not None else fn

    def _wrapped_arg(self, fn: RustSymbol, scope: str, b: Binding) -> tuple[str, ...] | None:
        """``let x = Arc::new(y)``: the chain of ``y``."""
        facts = self.rust.facts_of(fn.repo, fn.path)
        head = tuple(e.removesuffix("()") for e in b.value)
        for c in facts.calls:
            if c.scope == scope and c.line == b.line and c.chain == head and len(c.args) == 1:
                return _arg_chain(f"{'::'.join(head)}({c.args[0]})")
        return None

    def _owner(self, fn: RustSymbol) -> RustSymbol | None:
        d = fn.definition
        index = self.rust.file_index(fn.repo, fn.path, body=True)
        while d is not None and not d.in_class:
            d = index.by_qualname.get(d.parent)
        if d is None or not d.self_type:
            return None
        return self.rust.resolve_type(self.rust.symbol(fn.repo, fn.path, d), d.self_type)

    def _slot(self, slot: tuple[Any, ...], depth: int) -> tuple[tuple[Any, ...], bool]:
        key = slot[:1] + tuple(s if not isinstance(s, RustSymbol) else (s.path, s.qualname) for s in slot[1:])
        if key in self._origins:
            return self._origins[key]
        self._origins[key] = ((), False)  # a cycle adds nothing
        if depth > _MAX_DEPTH:
            return (), False
        if slot[0] == "param":
            found = self._param_origins(slot[1], slot[2], depth)
        else:
            found = self._field_origins(slot[1], slot[2], depth)
        self._origins[key] = found
        return found

    def _crate_of(self, sym: RustSymbol) -> ExtensionModule | None:
        return next(
            (
                m
                for m in self.modules()
                if m.repo == sym.repo and (m.directory in (".", "") or sym.path.startswith(m.directory + "/"))
            ),
            None,
        )

    def _crate_files(self, sym: RustSymbol) -> list[str]:
        module = self._crate_of(sym)
        world = self.rust.world(sym.repo)
        prefix = "" if module is None or module.directory in (".", "") else module.directory + "/"
        return sorted(p for p in world.files if p.startswith(prefix))

    def _param_origins(self, fn: RustSymbol, index: int, depth: int) -> tuple[tuple[Any, ...], bool]:
        params = fn.definition.params
        if index >= len(params):
            return (), False
        origins = _Origins()
        export = self.export_of(fn)
        if export is not None:  # Python calls it; Rust code of the crate may too
            origins.values.extend(self._python_arguments(export, index))
        name = fn.definition.name
        has_self = bool(params) and params[0].name == "self"
        for path in self._crate_files(fn):
            facts = self.rust.facts_of(fn.repo, path)
            for call in facts.calls:
                if not call.chain or call.chain[-1].lstrip(".").removesuffix("()") != name:
                    continue
                caller_def = self.rust.file_index(fn.repo, path, body=True).by_qualname.get(call.scope)
                if caller_def is None:
                    continue
                caller = self.rust.symbol(fn.repo, path, caller_def)
                if self.rust.resolve_call(caller, call).callee != fn:
                    continue
                at = index - 1 if has_self and call.chain[-1].startswith(".") else index
                chain = _arg_chain(call.args[at]) if 0 <= at < len(call.args) else None
                if chain is None:
                    origins.complete = False
                    continue
                origins.add(self._value_origins(caller, chain, call.line, depth + 1))
        return origins.result()

    def _field_origins(self, struct: RustSymbol, field: str, depth: int) -> tuple[tuple[Any, ...], bool]:
        """What is stored in ``struct``'s field: struct literals (``S { f: x }``, ``Self { f }``) and
        ``self.f = x`` in its methods."""
        origins = _Origins()
        name = struct.definition.name
        for path in self._crate_files(struct):
            index = self.rust.file_index(struct.repo, path, body=True)
            for scope, names in sorted(index.bindings.items()):
                for bname, bindings in names.items():
                    type_name = bname[: -len(field) - 3].rpartition("::")[2] if bname.endswith("{}." + field) else ""
                    if type_name not in (name, "Self") and bname != "self." + field:
                        continue
                    d = index.by_qualname.get(scope)
                    if d is None:
                        continue
                    fn = self.rust.symbol(struct.repo, path, d)
                    if type_name != name and self._owner(fn) != struct:  # `Self {..}` / `self.f =` elsewhere
                        continue
                    for b in bindings:
                        value = self._binding_chain(fn, scope, b)
                        if value == ("None",):  # an empty Option holds no callable
                            continue
                        if not value:
                            origins.complete = False
                            continue
                        origins.add(self._value_origins(fn, value, b.line, depth + 1))
        return origins.result()

    def _binding_chain(self, fn: RustSymbol, scope: str, b: Binding) -> tuple[str, ...]:
        """The value a binding holds, through ``.clone()`` and wrappers (``let x = Arc::new(y)`` holds ``y``)."""
        value = _strip_chain(b.value)
        if value and value[-1].endswith("()") and len(value) <= 2:
            return self._wrapped_arg(fn, scope, b) or value
        return value

    # -- Python callers of an export --------------------------------------------------------------------------

    def _python_arguments(self, export: Export, index: int) -> tuple[Any, ...]:
        """What Python passes to parameter ``index`` (of the Rust fn) of ``export`` at its call sites."""
        params = export.rust.definition.params
        visible = [
            i
            for i, p in enumerate(params)
            if p.name not in ("self", "slf", "cls")
            and not (p.annotation or "").startswith(("Python<", "Python "))
            and p.annotation != "Python"
        ]
        if index not in visible:
            return ()
        position = visible.index(index)
        pname = params[index].name
        method = export.python.rpartition(".")[2]
        if export.kind == "new":  # `Cls(...)` runs #[new]
            method = export.python.rpartition(".")[0].rpartition(".")[2]
        values: list[Any] = []
        for caller, call in self._python_callers(method):
            outcome = self.python.resolve_call(caller, call)
            crossed = self._to_rust(outcome)
            if crossed is None or crossed.callee != export.rust:
                continue
            info = self.python.info(caller.repo, caller.path)
            flow = self.python.call_flow(info, call)
            if flow is None or not flow.value or flow.value[0] != "c":
                continue
            _, _, args, kwargs = flow.value
            tree = None
            if position < len(args) and not (args[position] and args[position][0] == "*"):
                tree = args[position]
            for key, value in kwargs or ():
                if key == pname:
                    tree = value
            if tree is None:
                continue
            frame = self.python.frame_for(caller)
            ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, frame)
            values.extend(self.python.evaluate(ctx, tree).values)
        return tuple(sorted(set(values), key=repr))

    def _python_callers(self, name: str) -> list[tuple[PySymbol, CallSite]]:
        """Python call sites whose callee's last name is ``name``, in every repo: the workspace's text index of
        called names picks the files, only those are parsed."""
        found = self._py_callers.get(name)
        if found is not None:
            return found
        found = []
        index = self.python.index.python_text_index("called-names", _called_names)
        for repo, relpath in index.get(name, ()):
            if not relpath.endswith(".py"):
                continue
            info = self.python.info(repo, relpath)
            for call in info.facts.calls:
                if call.chain and call.chain[-1] == name and call.scope:
                    d = info.defs.get(call.scope)
                    if isinstance(d, Definition) and d.kind == "function":
                        found.append((PySymbol(repo, relpath, info.module, d), call))
        self._py_callers[name] = found
        return found


def _called_names(text: str) -> set[str]:
    """The names a Python file calls (``name(`` and ``.name(``), for the workspace text index."""
    start = _IDENTIFIER_START
    return {word[::-1] for word in _CALLED_REVERSED.findall(text[::-1]) if word[-1] in start}


def _literal(text: str) -> str:
    """The value of a plain string literal argument, or ""."""
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' and "\\" not in text else ""


def _one(value: Any) -> Any:
    from .pyvalues import one

    return one(value, Resolution.TYPED)


__all__ = ["CALL_METHODS", "Export", "ExtensionModule", "PyO3Bridge"]
