"""Python frontend: one source file in, :class:`~sphinxext.codetrace.model.FileFacts` out, with libcst.

This is the reference frontend and the fallback: the index reads files with :mod:`.python_ast` (the
stdlib's ``ast``, several times faster), which produces the same facts and hands this frontend only the files
whose grammar is newer than the running interpreter's (a ``type`` statement on Python 3.11), which libcst's
own parser knows. ``tools/compare_frontends.py`` diffs the two frontends' facts file by file.

It records definitions (with parameter and return annotations as written; a ``lambda`` is a definition named
``<lambdaN>``, numbered in source order within its scope, as PyCG names them), imports (relative ones made
absolute), call sites in execution order (arguments before the call that takes them), awaits, task spawns,
``raise`` statements, the ``except`` clauses around each call, and simple bindings (``x = Foo()``,
``self.x: T = ...``) that the resolver uses as type hints. It does not resolve anything.

Besides these, :class:`~sphinxext.codetrace.model.Flow` facts describe how values move, as expression trees
(nested tuples whose first element is a tag), so the resolver can follow what name chains cannot say:

* ``("n", name)``, ``("a", tree, attr)``, ``("s", tree, index)`` with a slice index ``("sl", lo, hi)``;
* ``("c", func, args, kwargs)``: a call; ``args`` holds trees or ``("*", tree)``, ``kwargs`` holds
  ``(name, tree)`` pairs (``name`` is ``"**"`` for ``**mapping``); ``("super",)`` / ``("super", cls)``;
* ``("k", constant)``, ``("t", items)`` (tuple), ``("l", items)`` (list), ``("set", items)``, ``("d",
  ((key, value), ...))`` (dict; key ``"**"`` merges a mapping); ``("lam", qualname)`` a lambda;
* ``("comp", kind, element, block)`` / ``("dcomp", key, value, block)``: comprehensions, whose ``for``
  targets are bound inside ``block``;
* ``("def", qualname)`` the function or class a ``def``/``class`` statement makes, and ``("dec",
  decorator, tree)`` a decorator applied to it; ``("imp", dotted)`` an imported name; ``("iter", tree)`` /
  ``("aiter", tree)`` what a ``for`` over ``tree`` binds; ``("enter", tree)`` / ``("aenter", tree)`` what
  ``with tree as x`` binds; ``("aw", tree)``; ``("or", trees)`` one of several values; ``("?",)``.

Binding targets are patterns: ``("n", name)``, ``("a", tree, attr)``, ``("s", tree, index)``, ``("t",
patterns)``, ``("*", pattern)``. Names declared ``global`` are bound in the module scope.

Every call gets a ``"call"`` flow at its position, with its call site's text in ``Flow.annotation`` (two calls
can start at one position: ``f().g()``). So do the calls a statement makes without writing them,
tagged in ``Flow.target``: ``"@"`` a decorator applied to what it decorates (flow only: not a call site), and
these, which are also call sites whose text names them (see :func:`implicit_tag`): ``__enter__`` /
``__exit__`` of ``with`` (``__aenter__``/``__aexit__``, awaited, for ``async with``), ``__iter__`` /
``__next__`` of a ``for`` loop (``__aiter__``/``__anext__`` for ``async for``), and the function handed to
``map``/``filter`` (tag ``"callback"``, value ``("cb", map_tree, function_tree)``) or to a thread, executor or ``call_soon`` (tag ``"spawn"``).

Positions come from libcst's ``PositionProvider``; a definition's line is the line of its name (the ``def``
or ``class`` line), not of its first decorator.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ..model import (
    Binding,
    CallSite,
    Definition,
    FileFacts,
    Flow,
    Import,
    Lang,
    Param,
    RaiseSite,
    StepKind,
)
from .guard import python_precheck
from .python_ast import (
    CALLBACK_ARG0,
    FRONTEND_VERSION,
    MAX_TREE_DEPTH,
    POOL_SUBMIT,
    SPAWN_ALL,
    SPAWN_CALLABLE_ARG0,
    SPAWN_CALLABLE_ARG1,
    SPAWN_CORO,
    UNKNOWN,
    FactsState,
    clip,
    implicit_tag,
)

__all__ = ["FRONTEND_VERSION", "chain_of", "implicit_tag", "parse_python", "parse_python_cst"]


def _ident(name: str) -> str:
    """An identifier as Python (and :mod:`ast`) reads it: NFKC-normalised, so ``ﬁle`` is ``file``."""
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


def chain_of(node: cst.BaseExpression) -> tuple[str, ...]:
    """The name chain of an expression (see :attr:`CallSite.chain`), ``()`` when it is not one."""
    if isinstance(node, cst.Name):
        return (_ident(node.value),) if node.value not in ("None", "True", "False") else ()
    if isinstance(node, cst.Attribute):
        base = chain_of(node.value)
        return (*base, _ident(node.attr.value)) if base else ()
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


def _constant(node: cst.BaseExpression) -> tuple[bool, Any]:
    """``(True, value)`` for a literal string, integer, ``True``/``False``/``None`` or negative integer."""
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return True, {"None": None, "True": True, "False": False}[node.value]
    try:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = node.evaluated_value
            return (True, value) if isinstance(value, str) else (False, None)
        if isinstance(node, cst.Integer):
            return True, node.evaluated_value
        if (
            isinstance(node, cst.UnaryOperation)
            and isinstance(node.operator, cst.Minus)
            and isinstance(node.expression, cst.Integer)
        ):
            return True, -node.expression.evaluated_value
    except (SyntaxError, ValueError, TypeError, MemoryError):  # a literal Python itself refuses
        pass
    return False, None


class _FactsVisitor(cst.CSTVisitor, FactsState):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module_node: cst.Module, module: str, is_package: bool) -> None:
        super().__init__()
        self.module_node = module_node
        self._init_state(module, is_package)

    # -- helpers ----------------------------------------------------------------------------------------------

    def code(self, node: cst.CSTNode) -> str:
        return clip(self.module_node.code_for_node(node))

    def pos(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column

    def _params(self, params: cst.Parameters) -> tuple[Param, ...]:
        out: list[Param] = []

        def add(p: cst.Param, star: str = "") -> None:
            ann = self.code(p.annotation.annotation) if p.annotation else None
            out.append(Param(_ident(p.name.value), ann, star, p.default is not None))

        for p in (*params.posonly_params, *params.params):
            add(p)
        if isinstance(params.star_arg, cst.Param):
            add(params.star_arg, "*")
        for p in params.kwonly_params:
            add(p)
        if params.star_kwarg is not None:
            add(params.star_kwarg, "**")
        return tuple(out)

    # -- expression trees (see the module docstring) ----------------------------------------------------------

    def tree(self, node: cst.BaseExpression | None, depth: int = 0) -> Any:
        """The expression tree of ``node``."""
        if node is None or depth > MAX_TREE_DEPTH:
            return UNKNOWN
        d = depth + 1
        is_constant, value = _constant(node)
        if is_constant:
            return ("k", value)
        if isinstance(node, cst.Name):
            return ("n", _ident(node.value))
        if isinstance(node, cst.Attribute):
            return ("a", self.tree(node.value, d), _ident(node.attr.value))
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Name) and node.func.value == "super":
                return ("super", self.tree(node.args[0].value, d)) if node.args else ("super",)
            args: list[Any] = []
            kwargs: list[Any] = []
            for arg in node.args:
                if arg.keyword is not None:
                    kwargs.append((_ident(arg.keyword.value), self.tree(arg.value, d)))
                elif arg.star == "**":
                    kwargs.append(("**", self.tree(arg.value, d)))
                elif arg.star == "*":
                    args.append(("*", self.tree(arg.value, d)))
                else:
                    args.append(self.tree(arg.value, d))
            return ("c", self.tree(node.func, d), tuple(args), tuple(kwargs))
        if isinstance(node, cst.Subscript):
            if len(node.slice) != 1:
                return ("s", self.tree(node.value, d), UNKNOWN)
            index = node.slice[0].slice
            if isinstance(index, cst.Slice):
                bounds = []
                for bound in (index.lower, index.upper):
                    ok, value = _constant(bound) if bound is not None else (True, None)
                    bounds.append(value if ok and (value is None or type(value) is int) else "?")
                if index.step is not None or "?" in bounds:
                    return ("s", self.tree(node.value, d), ("sl", None, None, "?"))
                return ("s", self.tree(node.value, d), ("sl", bounds[0], bounds[1]))
            return ("s", self.tree(node.value, d), self.tree(index.value, d))
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
            tag = "t" if isinstance(node, cst.Tuple) else "l" if isinstance(node, cst.List) else "set"
            items = tuple(
                ("*", self.tree(e.value, d)) if isinstance(e, cst.StarredElement) else self.tree(e.value, d)
                for e in node.elements
            )
            return (tag, items)
        if isinstance(node, cst.Dict):
            entries = []
            for e in node.elements:
                if isinstance(e, cst.DictElement):
                    entries.append((self.tree(e.key, d), self.tree(e.value, d)))
                else:
                    entries.append(("**", self.tree(e.value, d)))
            return ("d", tuple(entries))
        if isinstance(node, cst.Lambda):
            return ("lam", self._lambda_name(node))
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            kind = "l" if isinstance(node, cst.ListComp) else "set" if isinstance(node, cst.SetComp) else "g"
            return ("comp", kind, self.tree(node.elt, d), self._comp_block(node))
        if isinstance(node, cst.DictComp):
            return ("dcomp", self.tree(node.key, d), self.tree(node.value, d), self._comp_block(node))
        if isinstance(node, cst.Await):
            return ("aw", self.tree(node.expression, d))
        if isinstance(node, cst.IfExp):
            return ("or", (self.tree(node.body, d), self.tree(node.orelse, d)))
        if isinstance(node, cst.BooleanOperation):
            return ("or", (self.tree(node.left, d), self.tree(node.right, d)))
        if isinstance(node, cst.NamedExpr):
            return self.tree(node.value, d)
        return UNKNOWN

    def pattern(self, node: cst.BaseExpression) -> Any:
        """The binding pattern of an assignment target."""
        if isinstance(node, cst.Name):
            return ("n", _ident(node.value))
        if isinstance(node, cst.Attribute):
            return ("a", self.tree(node.value), _ident(node.attr.value))
        if isinstance(node, cst.Subscript):
            return self.tree(node)  # ("s", base, index)
        if isinstance(node, (cst.Tuple, cst.List)):
            return (
                "t",
                tuple(
                    ("*", self.pattern(e.value)) if isinstance(e, cst.StarredElement) else self.pattern(e.value)
                    for e in node.elements
                ),
            )
        if isinstance(node, cst.StarredElement):
            return ("*", self.pattern(node.value))
        return UNKNOWN

    # -- flow facts -------------------------------------------------------------------------------------------

    def _flow(self, node: cst.CSTNode, kind: str, target: Any = None, value: Any = None, **extra: Any) -> None:
        line, col = self.pos(node)
        scope = self.scope
        if (
            kind == "bind"
            and isinstance(target, tuple)
            and target[0] == "n"
            and target[1] in self._globals.get(scope, ())
        ):
            scope = ""
        self.flow.append(Flow(scope, line, col, kind, target, value, extra.get("annotation"), tuple(self.path)))

    def _bind_flow(self, node: cst.CSTNode, target: Any, value: Any, annotation: str | None = None) -> None:
        self._flow(node, "bind", target, value, annotation=annotation)

    # -- definitions ------------------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname = self._qualname(_ident(node.name.value))
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
        self._def_flows(node, qualname)

    def _def_flows(self, node: cst.FunctionDef | cst.ClassDef, qualname: str) -> None:
        """The defaults, the decorator applications (innermost first) and the binding of the decorated name."""
        if isinstance(node, cst.FunctionDef):
            self._default_flows(node.params, qualname)
        value: Any = ("def", qualname)
        for decorator in reversed(node.decorators):
            dec_tree = self.tree(decorator.decorator)
            self._flow(
                decorator, "call", "@", ("c", dec_tree, (value,), ()), annotation="@" + self.code(decorator.decorator)
            )
            value = ("dec", dec_tree, value)
        self._bind_flow(node.name, ("n", _ident(node.name.value)), value)

    def _default_flows(self, params: cst.Parameters, qualname: str) -> None:
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            if p.default is not None:
                self._flow(p, "default", (qualname, _ident(p.name.value)), self.tree(p.default))

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
        self._push_scope(self._body_scope(node))

    def _body_scope(self, node: cst.FunctionDef | cst.ClassDef) -> tuple[str, str]:
        kind = "function" if isinstance(node, cst.FunctionDef) else "class"
        return self._qualname(_ident(node.name.value)), kind

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self._qualname(_ident(node.name.value))
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
        self._def_flows(node, qualname)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        qualname = self._lambda_name(node)
        self._default_flows(node.params, qualname)
        line, _ = self.pos(node)
        end = self.get_metadata(PositionProvider, node).end.line
        self.definitions.append(
            Definition(
                qualname=qualname,
                kind="function",
                line=line,
                end_line=end,
                parent=self.scope,
                params=self._params(node.params),
            )
        )

    def visit_Lambda_body(self, node: cst.Lambda) -> None:
        self._push_scope((self._lambda_name(node), "function"))
        self._flow(node.body, "return", None, self.tree(node.body))

    def leave_Lambda_body(self, node: cst.Lambda) -> None:
        self._leave_body()

    def visit_Global(self, node: cst.Global) -> None:
        if self.scopes and self.scopes[-1][1] == "function":
            self._globals.setdefault(self.scope, set()).update(_ident(n.name.value) for n in node.names)

    # -- branches ---------------------------------------------------------------------------------------------

    def visit_If_body(self, node: cst.If) -> None:
        self._push_block()

    def leave_If_body(self, node: cst.If) -> None:
        self._pop_block()

    def visit_If_orelse(self, node: cst.If) -> None:
        self._push_block()

    def leave_If_orelse(self, node: cst.If) -> None:
        self._pop_block()

    def visit_While_body(self, node: cst.While) -> None:
        self._push_block()

    def leave_While_body(self, node: cst.While) -> None:
        self._pop_block()

    def visit_While_orelse(self, node: cst.While) -> None:
        self._push_block()

    def leave_While_orelse(self, node: cst.While) -> None:
        self._pop_block()

    def visit_For_orelse(self, node: cst.For) -> None:
        self._push_block()

    def leave_For_orelse(self, node: cst.For) -> None:
        self._pop_block()

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._push_block()
        if node.name is not None and isinstance(node.name.name, cst.Name) and node.type is not None:
            line, _ = self.pos(node)
            name = _ident(node.name.name.value)
            self.bindings.append(Binding(self.scope, name, line, annotation=self.code(node.type)))
            self._bind_flow(node.name.name, ("n", name), None, self.code(node.type))

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self._pop_block()

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._push_block()

    def leave_ExceptStarHandler(self, original_node: cst.ExceptStarHandler) -> None:
        self._pop_block()

    def visit_Try_orelse(self, node: cst.Try) -> None:
        self._push_block()

    def leave_Try_orelse(self, node: cst.Try) -> None:
        self._pop_block()

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self._push_block()

    def leave_MatchCase(self, original_node: cst.MatchCase) -> None:
        self._pop_block()

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comp(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._pop_block()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._enter_comp(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._pop_block()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comp(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._pop_block()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._enter_comp(node)

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._pop_block()

    def visit_CompFor(self, node: cst.CompFor) -> None:
        tag = "aiter" if node.asynchronous is not None else "iter"
        self._bind_flow(node.target, self.pattern(node.target), (tag, self.tree(node.iter)))

    # -- imports ----------------------------------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        line, _ = self.pos(node)
        for alias in node.names:
            full = ".".join(chain_of(alias.name))
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                bound = _ident(alias.asname.name.value)
                self.imports.append(Import(self.scope, bound, full, line))
                self._bind_flow(node, ("n", bound), ("imp", full))
            else:
                first = full.split(".")[0]
                self.imports.append(Import(self.scope, first, first, line))
                self._bind_flow(node, ("n", first), ("imp", first))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        line, _ = self.pos(node)
        module = ".".join(chain_of(node.module)) if node.module is not None else None
        base = self._absolute(len(node.relative), module)
        if isinstance(node.names, cst.ImportStar):
            self.imports.append(Import(self.scope, "*", base, line, star=True))
            self._flow(node, "star", None, base)
            return
        for alias in node.names:
            name = ".".join(chain_of(alias.name))
            asname = alias.asname
            bound = _ident(asname.name.value) if asname and isinstance(asname.name, cst.Name) else name
            target = f"{base}.{name}" if base else name
            self.imports.append(Import(self.scope, bound, target, line))
            self._bind_flow(node, ("n", bound), ("imp", target))

    # -- calls ------------------------------------------------------------------------------------------------

    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self._awaited.add(id(node.expression))

    def visit_Call(self, node: cst.Call) -> None:
        chain = chain_of(node.func)
        last = chain[-1] if chain else ""
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if last in SPAWN_CORO and positional and isinstance(positional[0].value, cst.Call):
            self._spawned.add(id(positional[0].value))
            return
        if last in SPAWN_ALL:
            self._spawned.update(id(a.value) for a in positional if isinstance(a.value, cst.Call))
            return
        target: cst.BaseExpression | None = None
        rest: list[cst.Arg] = []
        if (last in SPAWN_CALLABLE_ARG0 and positional) or (
            last in POOL_SUBMIT
            and positional
            and any(w in part.lower() for part in chain[:-1] for w in ("executor", "pool"))
        ):
            target, rest = positional[0].value, positional[1:]
        elif last in SPAWN_CALLABLE_ARG1 and len(positional) > 1:
            target, rest = positional[1].value, positional[2:]
        elif last == "Thread" or last == "Process":
            target = next((a.value for a in node.args if a.keyword and a.keyword.value == "target"), None)
        if target is not None:
            fn_chain = chain_of(target)
            if fn_chain:
                line, col = self.pos(target)
                self.calls.append(
                    CallSite(self.scope, line, col, fn_chain, self.code(target), StepKind.SPAWN, self._handlers())
                )
                tree = ("c", self.tree(target), tuple(self.tree(a.value) for a in rest), ())
                self._flow(target, "call", "spawn", tree, annotation=self.code(target))
        elif last in CALLBACK_ARG0 and len(chain) == 1:
            # map(fn, xs) calls fn: each positional argument that names a function (the resolver keeps those
            # that do, and only when ``map`` is the builtin) is a call site of its own
            for arg in positional:
                fn = arg.value
                fn_chain = chain_of(fn)
                if fn_chain or isinstance(fn, cst.Lambda):
                    line, col = self.pos(fn)
                    text = f"{self.code(fn)} (callback)"
                    self.calls.append(CallSite(self.scope, line, col, fn_chain, text, StepKind.CALL, self._handlers()))
                    self._flow(fn, "call", "callback", ("cb", self.tree(node.func), self.tree(fn)), annotation=text)

    def leave_Call(self, original_node: cst.Call) -> None:
        node = original_node
        line, col = self.pos(node)
        key = id(node)
        kind = StepKind.SPAWN if key in self._spawned else StepKind.AWAIT if key in self._awaited else StepKind.CALL
        args = tuple(self.code(a.value) for a in node.args[:8])
        self.calls.append(
            CallSite(self.scope, line, col, chain_of(node.func), self.code(node.func), kind, self._handlers(), args)
        )
        tree = self.tree(node)
        if tree[0] == "super":  # the call of super itself (its value is the "super" tree)
            tree = ("c", ("n", "super"), tree[1:], ())
        self._flow(node, "call", None, tree, annotation=self.code(node.func))

    def _implicit(self, node: cst.BaseExpression, suffix: tuple[str, ...], text: str, tag: str, awaited: bool) -> None:
        """A call the statement makes without writing it: ``__enter__`` of a ``with``, ``__iter__``..."""
        base = chain_of(node)
        chain = (*base, *suffix) if base else ()
        tree: Any = self.tree(node)
        for element in suffix:
            called = element.endswith("()")
            tree = ("a", tree, element[:-2] if called else element)
            if called:
                tree = ("c", tree, (), ())
        line, col = self.pos(node)
        kind = StepKind.AWAIT if awaited else StepKind.CALL
        self.calls.append(CallSite(self.scope, line, col, chain, text, kind, self._handlers()))
        self._flow(node, "call", tag, ("c", tree, (), ()), annotation=text)

    # -- with and for -----------------------------------------------------------------------------------------

    def visit_With_body(self, node: cst.With) -> None:
        is_async = node.asynchronous is not None
        prefix = "async with " if is_async else "with "
        for item in node.items:
            name = "__aenter__" if is_async else "__enter__"
            self._implicit(item.item, (name,), prefix + self.code(item.item), "enter", is_async)
            if item.asname is not None:
                self._bind_flow(
                    item.asname.name,
                    self.pattern(item.asname.name),
                    ("aenter" if is_async else "enter", self.tree(item.item)),
                )

    def leave_With_body(self, node: cst.With) -> None:
        is_async = node.asynchronous is not None
        prefix = "async with " if is_async else "with "
        for item in reversed(node.items):
            name = "__aexit__" if is_async else "__exit__"
            self._implicit(item.item, (name,), f"{prefix}{self.code(item.item)} (exit)", "exit", is_async)

    def visit_For_body(self, node: cst.For) -> None:
        is_async = node.asynchronous is not None
        prefix = "async for in " if is_async else "for in "
        text = prefix + self.code(node.iter)
        first, then = ("__aiter__", "__anext__") if is_async else ("__iter__", "__next__")
        self._implicit(node.iter, (first,), text, "iter", False)
        self._implicit(node.iter, (f"{first}()", then), f"{text} (next)", "next", is_async)
        self._push_block()
        self._bind_flow(node.target, self.pattern(node.target), ("aiter" if is_async else "iter", self.tree(node.iter)))

    def leave_For_body(self, node: cst.For) -> None:
        self._pop_block()

    # -- error paths ------------------------------------------------------------------------------------------

    def _push_handlers(self, node: cst.Try | cst.TryStar) -> None:
        names = []
        for handler in node.handlers:
            names.append(self.code(handler.type) if handler.type is not None else "BaseException")
        self.handlers.append(tuple(names))

    def visit_Try_body(self, node: cst.Try) -> None:
        self._push_handlers(node)
        self._push_block()

    def leave_Try_body(self, node: cst.Try) -> None:
        self.handlers.pop()
        self._pop_block()

    def visit_TryStar_body(self, node: cst.TryStar) -> None:
        self._push_handlers(node)
        self._push_block()

    def leave_TryStar_body(self, node: cst.TryStar) -> None:
        self.handlers.pop()
        self._pop_block()

    def visit_Raise(self, node: cst.Raise) -> None:
        line, col = self.pos(node)
        text = self.code(node.exc) if node.exc is not None else "(re-raise)"
        self.raises.append(RaiseSite(self.scope, line, col, text))
        if node.exc is not None:
            self._flow(node, "raise", None, self.tree(node.exc))

    # -- returns and yields -----------------------------------------------------------------------------------

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self._flow(node, "return", None, self.tree(node.value))

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.From):
            self._flow(node, "yield", None, ("iter", self.tree(node.value.item)))
        elif node.value is not None:
            self._flow(node, "yield", None, self.tree(node.value))
        else:
            self._flow(node, "yield", None, ("k", None))

    # -- bindings ---------------------------------------------------------------------------------------------

    def _target_name(self, target: cst.BaseExpression) -> str | None:
        if isinstance(target, cst.Name):
            return _ident(target.value)
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value in ("self", "cls")
        ):
            return f"self.{_ident(target.attr.value)}"
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
        value = self.tree(node.value)
        for target in node.targets:
            self._bind_flow(target.target, self.pattern(target.target), value)
        if len(node.targets) == 1:
            name = self._target_name(node.targets[0].target)
            if name == "__all__" and not self.scopes:
                self._record_all(node.value)
                return
        for target in node.targets:
            self._bind(target.target, node.value if len(node.targets) == 1 else None, line)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value, self.pos(node)[0])
        self._bind_flow(node.target, self.pattern(node.target), self.tree(node.value))

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, None, self.pos(node)[0])

    def visit_With(self, node: cst.With) -> None:
        line, _ = self.pos(node)
        for item in node.items:
            if item.asname is not None:
                self._bind(item.asname.name, None, line)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        annotation = self.code(node.annotation.annotation)
        value_tree = self.tree(node.value) if node.value is not None else None
        self._bind_flow(node.target, self.pattern(node.target), value_tree, annotation)
        name = self._target_name(node.target)
        if name is None:
            return
        line, _ = self.pos(node)
        value = chain_of(node.value) if node.value is not None else ()
        self.bindings.append(Binding(self.scope, name, line, value=value, annotation=annotation))

    def _record_all(self, value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.List, cst.Tuple)):
            names = []
            for element in value.elements:
                ok, name = _constant(element.value) if isinstance(element.value, cst.SimpleString) else (False, None)
                if not ok:
                    return
                names.append(name)
            self.all_names = tuple(str(n) for n in names)


def parse_python(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """Facts for one Python file; a syntax error yields facts with ``error`` set and nothing else."""
    refused = python_precheck(source)
    if refused is not None:
        return FileFacts(path=path, lang=Lang.PYTHON, module=module, error=refused)
    return parse_python_cst(source, path, module, is_package)


def parse_python_cst(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """:func:`parse_python` without CPython's parser in front: only for a source that a guard of
    :mod:`.guard` has vetted (:func:`~.guard.python_precheck` or :func:`~.guard.libcst_precheck`)."""
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
    return visitor.file_facts(path, module)
