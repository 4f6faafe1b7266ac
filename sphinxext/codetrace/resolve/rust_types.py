"""Rust type expressions: the text of a type annotation parsed into a small tree, for the Rust resolver.

``parse_type("&mut Arc<dyn Store + Send>")`` gives the path ``Arc`` with one argument, a ``dyn`` type bounded
by ``Store`` and ``Send``. References, raw pointers, lifetimes, ``for<'a>`` binders and ``?Sized`` are
dropped; ``impl Trait`` and ``dyn Trait`` are the same kind (``dyn``); ``Fn(A) -> R`` keeps ``R``;
``Future<Output = T>`` keeps ``Output`` as an associated binding. It does not resolve names: that is the
resolver's job. Anything it cannot read is the kind ``other``; it never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"::|->|'[A-Za-z_]\w*|[A-Za-z_]\w*|\d+|\S")


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A parsed Rust type.

    ``kind`` is ``path`` (``path`` the segments, ``args`` the last segment's generic arguments, ``assoc`` its
    ``Name = Type`` bindings, ``ret`` the return type of ``Fn(..) -> R`` sugar), ``dyn`` (``args`` the
    bounds, each a path), ``tuple`` (``args`` the elements), ``slice`` (arrays too: ``args`` the element),
    ``qualified`` (``<T as Trait>::Name``: ``args`` is ``(T, Trait)``, ``path`` the segments after it),
    ``fn`` (a function pointer), ``never``, ``infer`` or ``other``.
    """

    kind: str
    path: tuple[str, ...] = ()
    args: tuple[TypeExpr, ...] = ()
    assoc: tuple[tuple[str, TypeExpr], ...] = ()
    ret: TypeExpr | None = None

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""


OTHER = TypeExpr("other")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else ""

    def next(self) -> str:
        tok = self.peek()
        if not tok:
            raise ValueError("end of type")
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        if self.next() != tok:
            raise ValueError(f"expected {tok}")

    def skip_group(self, open_: str, close: str) -> None:
        """Skip from an opening token to its matching close."""
        self.expect(open_)
        depth = 1
        while depth:
            tok = self.next()
            if tok == open_:
                depth += 1
            elif tok == close:
                depth -= 1

    def type(self) -> TypeExpr:
        tok = self.peek()
        if tok == "&":
            self.next()
            if self.peek().startswith("'"):
                self.next()
            if self.peek() == "mut":
                self.next()
            return self.type()
        if tok == "*":
            self.next()
            if self.peek() in ("const", "mut"):
                self.next()
            return self.type()
        if tok in ("dyn", "impl"):
            self.next()
            return TypeExpr("dyn", args=self.bounds())
        if tok == "(":
            self.next()
            elems: list[TypeExpr] = []
            trailing = False
            while self.peek() != ")":
                elems.append(self.type())
                trailing = False
                if self.peek() == ",":
                    self.next()
                    trailing = True
            self.expect(")")
            if len(elems) == 1 and not trailing:
                return elems[0]
            return TypeExpr("tuple", args=tuple(elems))
        if tok == "[":
            self.next()
            elem = self.type()
            depth = 1
            while depth:
                t = self.next()
                if t == "[":
                    depth += 1
                elif t == "]":
                    depth -= 1
            return TypeExpr("slice", args=(elem,))
        if tok in ("fn", "unsafe", "extern"):
            while self.peek() and self.peek() != "(":
                self.next()
            self.skip_group("(", ")")
            if self.peek() == "->":
                self.next()
                self.type()
            return TypeExpr("fn")
        if tok == "!":
            self.next()
            return TypeExpr("never")
        if tok == "_":
            self.next()
            return TypeExpr("infer")
        if tok == "for":
            self.next()
            self.skip_group("<", ">")
            return self.type()
        if tok == "<":
            self.next()
            self_type = self.type()
            trait = OTHER
            if self.peek() == "as":
                self.next()
                trait = self.path_type()
            self.expect(">")
            rest: list[str] = []
            while self.peek() == "::":
                self.next()
                rest.append(self.next())
                if self.peek() == "<":
                    self.generic_args()
            return TypeExpr("qualified", path=tuple(rest), args=(self_type, trait))
        return self.path_type()

    def path_type(self) -> TypeExpr:
        segments: list[str] = []
        args: tuple[TypeExpr, ...] = ()
        assoc: tuple[tuple[str, TypeExpr], ...] = ()
        ret: TypeExpr | None = None
        if self.peek() == "::":
            self.next()
            segments.append("::")
        while True:
            ident = self.next()
            if not (ident[0].isalpha() or ident[0] == "_"):
                raise ValueError(f"not a path: {ident}")
            segments.append(ident)
            args, assoc, ret = (), (), None
            if self.peek() == "::" and self.peek(1) == "<":
                self.next()
            if self.peek() == "<":
                args, assoc = self.generic_args()
            elif self.peek() == "(" and ident in ("Fn", "FnMut", "FnOnce"):
                self.skip_group("(", ")")
                if self.peek() == "->":
                    self.next()
                    ret = self.type()
            if self.peek() == "::" and self.peek(1) not in ("", "<"):
                self.next()
                continue
            break
        return TypeExpr("path", path=tuple(segments), args=args, assoc=assoc, ret=ret)

    def generic_args(self) -> tuple[tuple[TypeExpr, ...], tuple[tuple[str, TypeExpr], ...]]:
        self.expect("<")
        args: list[TypeExpr] = []
        assoc: list[tuple[str, TypeExpr]] = []
        while self.peek() != ">":
            tok = self.peek()
            if tok.startswith("'"):
                self.next()
            elif tok == "{":
                self.skip_group("{", "}")
            elif self.peek(1) == "=" and tok[0].isalpha():
                self.next()
                self.next()
                assoc.append((tok, self.type()))
            elif self.peek(1) == ":" and tok[0].isalpha():
                self.next()
                self.next()
                self.bounds()
            elif tok[0].isdigit() or tok == "-":
                self.next()
            else:
                args.append(self.type())
            if self.peek() == ",":
                self.next()
            elif self.peek() != ">":
                raise ValueError("bad generic arguments")
        self.expect(">")
        return tuple(args), tuple(assoc)

    def bounds(self) -> tuple[TypeExpr, ...]:
        out: list[TypeExpr] = []
        while True:
            tok = self.peek()
            if tok.startswith("'"):
                self.next()
            elif tok == "?":
                self.next()
                self.path_type()  # ?Sized: not a bound that names methods
            elif tok == "(":
                self.next()
                out.extend(self.bounds())
                self.expect(")")
            elif tok == "for":
                self.next()
                self.skip_group("<", ">")
                out.append(self.path_type())
            elif tok and (tok[0].isalpha() or tok in ("::", "_")):
                out.append(self.path_type())
            else:
                break
            if self.peek() == "+":
                self.next()
                continue
            break
        return tuple(out)


def parse_type(text: str | None) -> TypeExpr:
    """The type expression of ``text``; ``OTHER`` when it cannot be read."""
    if not text:
        return OTHER
    parser = _Parser(text)
    try:
        result = parser.type()
    except (ValueError, IndexError, RecursionError):
        return OTHER
    return result


def parse_bounds(text: str) -> tuple[TypeExpr, ...]:
    """The bounds after ``T:`` in a generic parameter or ``where`` clause: ``Trait + Send + 'a``."""
    parser = _Parser(text)
    try:
        return parser.bounds()
    except (ValueError, IndexError, RecursionError):
        return ()


__all__ = ["OTHER", "TypeExpr", "parse_bounds", "parse_type"]
