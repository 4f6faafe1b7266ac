"""Python frontend: one source file in, :class:`~sphinxext.codetrace.model.FileFacts` out, with libcst.

It records definitions (with parameter and return annotations as written), imports (relative ones made
absolute), call sites in execution order (arguments before the call that takes them), awaits, task spawns,
``raise`` statements, the ``except`` clauses around each call, and simple bindings (``x = Foo()``,
``self.x: T = ...``) that the resolver uses as type hints. It does not resolve anything.

Positions come from libcst's ``PositionProvider``; a definition's line is the line of its name (the ``def``
or ``class`` line), not of its first decorator.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..model import (
    Binding,
    CallSite,
    Definition,
    FileFacts,
    Import,
    Lang,
    Param,
    RaiseSite,
    StepKind,
)
from .guard import python_precheck

#: Bump when the facts this frontend produces change, so cached facts are rebuilt.
FRONTEND_VERSION = "py-4"

#: Calls whose first argument is a coroutine that runs as a new task: ``create_task(coro())``.
_SPAWN_CORO = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe", "start_soon"})
#: Calls that run a callable they are handed: ``to_thread(fn, ...)``, ``submit(fn, ...)``.
_SPAWN_CALLABLE_ARG0 = frozenset({"to_thread", "call_soon", "call_soon_threadsafe"})
#: ``submit``/``apply_async`` hand a callable to a pool only when the receiver is one (``self.executor``):
#: a method of that name elsewhere (``scheduler.submit(seq)``) is an ordinary call.
_POOL_SUBMIT = frozenset({"submit", "apply_async"})
_SPAWN_CALLABLE_ARG1 = frozenset({"run_in_executor"})

_MAX_TEXT = 120


def chain_of(node: cst.BaseExpression) -> tuple[str, ...]:
    """The name chain of an expression (see :attr:`CallSite.chain`), ``()`` when it is not one."""
    if isinstance(node, cst.Name):
        return (node.value,) if node.value not in ("None", "True", "False") else ()
    if isinstance(node, cst.Attribute):
        base = chain_of(node.value)
        return (*base, node.attr.value) if base else ()
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Name) and node.func.value == "super" and node.args:
            # super(Cls, self): the lookup starts after Cls, written "super[Cls]()"
            cls = chain_of(node.args[0].value)
            return (f"super[{'.'.join(cls)}]()",) if cls and "()" not in "".join(cls) else ()
        base = chain_of(node.func)
        return (*base[:-1], base[-1] + "()") if base else ()
    if isinstance(node, cst.Await):
        return chain_of(node.expression)
    return ()


class _FactsVisitor(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module_node: cst.Module, module: str, is_package: bool) -> None:
        super().__init__()
        self.module_node = module_node
        self.module = module
        self.is_package = is_package
        self.scopes: list[tuple[str, str]] = []  # (qualname, kind)
        self.handlers: list[tuple[str, ...]] = []
        self._saved_handlers: list[list[tuple[str, ...]]] = []
        self.definitions: list[Definition] = []
        self.imports: list[Import] = []
        self.calls: list[CallSite] = []
        self.raises: list[RaiseSite] = []
        self.bindings: list[Binding] = []
        self.all_names: tuple[str, ...] | None = None
        self._awaited: set[int] = set()
        self._spawned: set[int] = set()

    # -- helpers ----------------------------------------------------------------------------------------------

    def code(self, node: cst.CSTNode) -> str:
        text = " ".join(self.module_node.code_for_node(node).split())
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"

    def pos(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    @property
    def scope(self) -> str:
        return self.scopes[-1][0] if self.scopes else ""

    def _qualname(self, name: str) -> str:
        return f"{self.scope}.{name}" if self.scope else name

    def _absolute(self, level: int, module: str | None) -> str:
        if level == 0:
            return module or ""
        parts = self.module.split(".") if self.module else []
        if not self.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        if module:
            parts.append(module)
        return ".".join(parts)

    def _params(self, params: cst.Parameters) -> tuple[Param, ...]:
        out: list[Param] = []

        def add(p: cst.Param, star: str = "") -> None:
            ann = self.code(p.annotation.annotation) if p.annotation else None
            out.append(Param(p.name.value, ann, star, p.default is not None))

        for p in (*params.posonly_params, *params.params):
            add(p)
        if isinstance(params.star_arg, cst.Param):
            add(params.star_arg, "*")
        for p in params.kwonly_params:
            add(p)
        if params.star_kwarg is not None:
            add(params.star_kwarg, "**")
        return tuple(out)

    # -- definitions ------------------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname = self._qualname(node.name.value)
        line, _ = self.pos(node.name)
        end = self.get_metadata(PositionProvider, node).end.line
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="function",
                line=line,
                end_line=end,
                parent=self.scope,
                params=self._params(node.params),
                returns=self.code(node.returns.annotation) if node.returns else None,
                is_async=node.asynchronous is not None,
                decorators=tuple(self.code(d.decorator) for d in node.decorators),
                in_class=bool(self.scopes) and self.scopes[-1][1] == "class",
            )
        )

    # Decorators, defaults, annotations and bases run in the enclosing scope: only the body is pushed.
    # A body also starts afresh with no enclosing ``try``: a handler around a ``def`` does not guard the calls
    # its body makes later.
    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._enter_body(node)

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._leave_body()

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self._enter_body(node)

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self._leave_body()

    def _enter_body(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        self.scopes.append(self._body_scope(node))
        self._saved_handlers.append(self.handlers)
        self.handlers = []

    def _leave_body(self) -> None:
        self.scopes.pop()
        self.handlers = self._saved_handlers.pop()

    def _body_scope(self, node: cst.FunctionDef | cst.ClassDef) -> tuple[str, str]:
        kind = "function" if isinstance(node, cst.FunctionDef) else "class"
        return self._qualname(node.name.value), kind

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self._qualname(node.name.value)
        line, _ = self.pos(node.name)
        end = self.get_metadata(PositionProvider, node).end.line
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="class",
                line=line,
                end_line=end,
                parent=self.scope,
                decorators=tuple(self.code(d.decorator) for d in node.decorators),
                bases=tuple(self.code(a.value) for a in node.bases if a.keyword is None and not a.star),
            )
        )

    # -- imports ----------------------------------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        line, _ = self.pos(node)
        for alias in node.names:
            full = ".".join(chain_of(alias.name))
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.imports.append(Import(self.scope, alias.asname.name.value, full, line))
            else:
                first = full.split(".")[0]
                self.imports.append(Import(self.scope, first, first, line))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        line, _ = self.pos(node)
        module = ".".join(chain_of(node.module)) if node.module is not None else None
        base = self._absolute(len(node.relative), module)
        if isinstance(node.names, cst.ImportStar):
            self.imports.append(Import(self.scope, "*", base, line, star=True))
            return
        for alias in node.names:
            name = ".".join(chain_of(alias.name))
            bound = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            target = f"{base}.{name}" if base else name
            self.imports.append(Import(self.scope, bound, target, line))

    # -- calls ------------------------------------------------------------------------------------------------

    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited.add(id(node.expression))

    def visit_Call(self, node: cst.Call) -> None:
        chain = chain_of(node.func)
        last = chain[-1] if chain else ""
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if last in _SPAWN_CORO and positional and isinstance(positional[0].value, cst.Call):
            self._spawned.add(id(positional[0].value))
            return
        target: cst.BaseExpression | None = None
        if (last in _SPAWN_CALLABLE_ARG0 and positional) or (
            last in _POOL_SUBMIT
            and positional
            and any(w in part.lower() for part in chain[:-1] for w in ("executor", "pool"))
        ):
            target = positional[0].value
        elif last in _SPAWN_CALLABLE_ARG1 and len(positional) > 1:
            target = positional[1].value
        elif last == "Thread" or last == "Process":
            target = next((a.value for a in node.args if a.keyword and a.keyword.value == "target"), None)
        if target is not None:
            fn_chain = chain_of(target)
            if fn_chain:
                line, col = self.pos(target)
                self.calls.append(
                    CallSite(self.scope, line, col, fn_chain, self.code(target), StepKind.SPAWN, self._handlers())
                )

    def leave_Call(self, original_node: cst.Call) -> None:
        node = original_node
        line, col = self.pos(node)
        key = id(node)
        kind = StepKind.SPAWN if key in self._spawned else StepKind.AWAIT if key in self._awaited else StepKind.CALL
        args = tuple(self.code(a.value) for a in node.args[:8])
        self.calls.append(
            CallSite(self.scope, line, col, chain_of(node.func), self.code(node.func), kind, self._handlers(), args)
        )

    def _handlers(self) -> tuple[str, ...]:
        return tuple(h for group in reversed(self.handlers) for h in group)

    # -- error paths ------------------------------------------------------------------------------------------

    def _push_handlers(self, node: cst.Try | cst.TryStar) -> None:
        names = []
        for handler in node.handlers:
            names.append(self.code(handler.type) if handler.type is not None else "BaseException")
        self.handlers.append(tuple(names))

    def visit_Try_body(self, node: cst.Try) -> None:
        self._push_handlers(node)

    def leave_Try_body(self, node: cst.Try) -> None:
        self.handlers.pop()

    def visit_TryStar_body(self, node: cst.TryStar) -> None:
        self._push_handlers(node)

    def leave_TryStar_body(self, node: cst.TryStar) -> None:
        self.handlers.pop()

    def visit_Raise(self, node: cst.Raise) -> None:
        line, col = self.pos(node)
        text = self.code(node.exc) if node.exc is not None else "(re-raise)"
        self.raises.append(RaiseSite(self.scope, line, col, text))

    # -- bindings ---------------------------------------------------------------------------------------------

    def _target_name(self, target: cst.BaseExpression) -> str | None:
        if isinstance(target, cst.Name):
            return target.value
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value in ("self", "cls")
        ):
            return f"self.{target.attr.value}"
        return None

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None, line: int) -> None:
        """Record what ``target`` is bound to: a chain when ``value`` is one, otherwise an opaque binding
        (the name is local and its type unknown, so it shadows outer names). ``= None`` records nothing."""
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                inner = element.value
                self._bind(inner, None, line)
            return
        name = self._target_name(target)
        if name is None:
            return
        if isinstance(value, cst.Name) and value.value == "None":
            return
        chain = chain_of(value) if value is not None else ()
        self.bindings.append(Binding(self.scope, name, line, value=chain))

    def visit_Assign(self, node: cst.Assign) -> None:
        line, _ = self.pos(node)
        if len(node.targets) == 1:
            name = self._target_name(node.targets[0].target)
            if name == "__all__" and not self.scopes:
                self._record_all(node.value)
                return
        for target in node.targets:
            self._bind(target.target, node.value if len(node.targets) == 1 else None, line)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value, self.pos(node)[0])

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, None, self.pos(node)[0])

    def visit_With(self, node: cst.With) -> None:
        line, _ = self.pos(node)
        for item in node.items:
            if item.asname is not None:
                self._bind(item.asname.name, None, line)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and isinstance(node.name.name, cst.Name) and node.type is not None:
            line, _ = self.pos(node)
            self.bindings.append(Binding(self.scope, node.name.name.value, line, annotation=self.code(node.type)))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        name = self._target_name(node.target)
        if name is None:
            return
        line, _ = self.pos(node)
        value = chain_of(node.value) if node.value is not None else ()
        self.bindings.append(
            Binding(self.scope, name, line, value=value, annotation=self.code(node.annotation.annotation))
        )

    def _record_all(self, value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.List, cst.Tuple)):
            names = []
            for element in value.elements:
                if isinstance(element.value, cst.SimpleString):
                    names.append(element.value.evaluated_value)
                else:
                    return
            self.all_names = tuple(str(n) for n in names)


def parse_python(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """Facts for one Python file; a syntax error yields facts with ``error`` set and nothing else."""
    refused = python_precheck(source)
    if refused is not None:
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error=refused)
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        return FileFacts(
            path=path, lang=Lang.PYTHON, module=module, error=f"syntax error at line {exc.raw_line}: {message}"
        )
    except RecursionError:
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error="nesting too deep to parse")
    visitor = _FactsVisitor(tree, module, is_package)
    try:
        MetadataWrapper(tree, unsafe_skip_copy=True).visit(visitor)
    except RecursionError:
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error="nesting too deep to analyse")
    return FileFacts(
        path=path,
        lang=Lang.PYTHON,
        module=module,
        definitions=tuple(visitor.definitions),
        imports=tuple(visitor.imports),
        calls=tuple(visitor.calls),
        raises=tuple(visitor.raises),
        bindings=tuple(visitor.bindings),
        all_names=visitor.all_names,
    )
