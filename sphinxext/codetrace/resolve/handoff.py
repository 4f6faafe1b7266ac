"""Python hand-offs that are not calls, and the consumer loop a hand-off resumes at.

A call that hands work to other code without calling it is a ``queue`` step to that code, found from the facts:

* **Queue pairs.** A ``put``/``put_nowait`` (``append``/``appendleft`` for a deque) on a value the resolver
  knows is an ``asyncio``, ``queue`` or ``multiprocessing`` queue or a ``collections.deque`` goes to the
  functions that take from the same queue (``get``/``get_nowait``/``popleft``/``pop`` or a ``for`` over it):
  for ``self.q``, the methods of the instance's class and its bases that read ``self.q``; for a module-level
  name, the functions of that module; for a local name, the function's closures and the functions it is
  passed to (read through the parameter it binds). A plain ``list`` is not a queue: the lists code appends to
  are read in too many places to tell a consumer from a reader (SGLang's ``waiting_queue`` is read by the
  batch builder, abort, flush and metrics); the consumer loop below is what carries such flows on.
* **Messages dispatched on their type.** ``sock.send_pyobj(obj)`` (or any ``send``/``put`` of
  ``pickle.dumps(obj)``) whose ``obj`` is an instance of a workspace class goes to the handler registered for
  that class (or one of its bases) in any receiver of the workspace: a ``(Type, handler)`` pair in a list or
  tuple (``TypeBasedDispatcher([(FooReq, self.handle_foo), ...])``), a ``{Type: handler}`` dict, an
  ``isinstance(msg, Type)`` test whose branch passes ``msg`` to a function, or ``case Type():`` in a
  ``match``. The message's class is what the value-flow resolver finds for ``obj``; when ``obj`` is a
  parameter it cannot type (``obj: Any``), it is read from the argument the walk's caller passed, up the
  walk's path. Receivers are found without parsing the workspace: one pass over the text of the Python
  files finds the files that mention a class name in a registration pattern, and only those are parsed.
  Within one receiver the most specific registered class wins (the message's own class before a base);
  several receivers give candidates. Receivers in test code count only for a sender in test code, and a
  receiver whose class is on the walk's path is the sender itself: a process does not message itself
  through a socket, so it is skipped.

The consumer of a hand-off usually runs inside a long-running loop. :meth:`PyHandoffs.consumer_loop` finds
it: from the function that takes from the queue (or that dispatches to the handler), up its callers within
the instance's class and bases (or the module) until a function whose ``while True`` / ``while not X`` /
``while self.running`` / ``for .. in iter(..)`` loop holds the call that leads to the consumer (or a
``run`` method of a ``Thread``/``Process`` subclass). The nearest such loop wins; among equally near ones,
the one in the consumer's own file, then the first in source order; the others are named in the step's note.
A consumer whose own loop holds the ``get`` needs no resumption: its walk already shows the loop.

Nothing here changes what :meth:`PythonResolver.resolve_call` answers (call graphs never see hand-offs);
the walk asks :meth:`PyHandoffs.handoff` about each call it resolved.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..diagnostics import CodetraceError
from ..index.guard import paused_gc
from ..model import CallSite, Flow, Resolution, StepKind
from ..workspace import Workspace
from . import Outcome
from .python import PythonResolver
from .pyvalues import (
    Ctx,
    DefV,
    ExternalV,
    FileInfo,
    InstanceV,
    PySymbol,
    argument_for,
    ast_chain,
    chain_tree,
    sym_key,
)

#: Queue classes (as the resolver names them) and the methods that put into / take from them.
QUEUE_TYPES = frozenset(
    {
        "asyncio.Queue",
        "asyncio.PriorityQueue",
        "asyncio.LifoQueue",
        "asyncio.queues.Queue",
        "queue.Queue",
        "queue.SimpleQueue",
        "queue.PriorityQueue",
        "queue.LifoQueue",
        "multiprocessing.Queue",
        "multiprocessing.SimpleQueue",
        "multiprocessing.JoinableQueue",
        "multiprocessing.queues.Queue",
        "torch.multiprocessing.Queue",
        "collections.deque",
        "typing.Deque",
    }
)
PUTS = frozenset({"put", "put_nowait", "append", "appendleft"})
GETS = frozenset({"get", "get_nowait", "popleft", "pop", "__iter__", "__aiter__"})
#: Sends of a whole Python object: the message is the first argument.
SEND_OBJECT = frozenset({"send_pyobj"})
#: Sends that carry ``pickle.dumps(obj)``: the message is what was pickled.
SEND_BYTES = frozenset({"send", "send_bytes", "sendall", "put", "put_nowait", "send_multipart"})
PICKLERS = frozenset({"pickle.dumps", "cloudpickle.dumps", "dill.dumps", "_pickle.dumps"})
#: Registration patterns in source text: the class names they mention (a pre-filter, never trusted alone).
_REGISTRATIONS = (
    re.compile(r"\(\s*(?:\w+\.)*([A-Z]\w*)\s*,\s*(?:self\.|cls\.|lambda\b|[A-Za-z_][\w.]*\s*\))"),
    # at the start of a line: searched after a newline (see _registration_names)
    re.compile(r"\n[ \t]*case\s+(?:\w+\.)*([A-Z]\w*)\s*\("),
)
#: A dict entry ``Type: handler``, tried only where :data:`_ENTRY_STARTS` finds one may start.
_DICT_ENTRY = re.compile(r"[{,]\s*(?:\w+\.)*([A-Z]\w*)\s*:\s*(?:self\.|cls\.|lambda\b|[A-Za-z_][\w.]*\s*[,}])")
#: In the reversed text: a colon, then back over blanks, words and dots to the ``{`` or ``,`` that may start a
#: :data:`_DICT_ENTRY` (whose text up to its colon is of these characters). Colons are half as many as commas.
_ENTRY_STARTS = re.compile(r":[\s\w.]*[{,]")
_ISINSTANCE = re.compile(r"isinstance\(\s*[\w.]+\s*,\s*\(?([\w.\s,]*)")
_NAME = re.compile(r"[A-Z]\w*")
#: A ``while X`` whose flag reads as "keep running".
_RUN_FLAG = re.compile(r"(?i)(running|alive|active|serving|started|live|loop|keep)")
#: How many calls up from the consumer the loop is looked for, and how many callers per function.
MAX_HOPS = 4
MAX_CALLERS = 24


@dataclass(frozen=True, slots=True)
class Link:
    """One call on the way from the consumer loop down to the consumer: ``caller`` calls ``callee`` at
    ``call``."""

    caller: PySymbol
    call: CallSite
    callee: PySymbol
    resolution: Resolution


@dataclass(frozen=True, slots=True)
class ConsumerLoop:
    """The loop a hand-off resumes at: ``loop`` (its function) reaches the consumer through ``chain`` (the
    first link is the call in the loop); the loop's calls after ``chain[0].call`` up to ``end_line`` are what
    it runs next. ``how`` is the loop's header (``while True``), ``others`` the other loops found as near."""

    loop: PySymbol
    self_value: Any
    chain: tuple[Link, ...]
    how: str
    line: int
    end_line: int
    others: tuple[PySymbol, ...] = ()
    also: tuple[Link, ...] = ()  # last links to the other consumers the same loop reaches the same way

    def note(self) -> str:
        """The loop step's note: ``consumer loop: while True (line 12); also: A.loop_b, +2 more``."""
        text = f"consumer loop: {self.how} (line {self.line})"
        if self.others:
            names = [o.qualname.rpartition(".")[0].rpartition(".")[2] + "." + o.definition.name for o in self.others]
            text += "; also: " + ", ".join(names[:3]) + (f", +{len(names) - 3} more" if len(names) > 3 else "")
        return text


@dataclass(frozen=True, slots=True)
class _Registration:
    """``handler`` is what a receiver runs for messages of class ``cls``: ``starts`` are the functions that
    run the dispatch, each with the call there that leads to the handler (for the consumer loop)."""

    cls: PySymbol
    handler: PySymbol
    receiver: Any
    group: tuple[str, str, str]  # (repo, path, holder or dispatching function): one receiver
    line: int
    starts: tuple[tuple[PySymbol, CallSite], ...]


class PyHandoffs:
    """Finds queue and message hand-offs of Python calls, and the loops that consume them."""

    def __init__(self, workspace: Workspace, python: PythonResolver) -> None:
        self.workspace = workspace
        self.python = python
        self._text_index: dict[str, list[tuple[str, str]]] | None = None
        self._registrations: dict[tuple[str, str, str], list[_Registration]] = {}
        self._trees: dict[tuple[str, str], tuple[Any, ast.Module | None]] = {}
        self._split: dict[tuple[str, str], list[str]] = {}
        self._funcs: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
        self._tests: dict[tuple[str, str], list[tuple[Any, list[tuple[ast.expr, Any, list[ast.stmt]]]]]] = {}
        self._loops: dict[PySymbol, list[tuple[str, int, int]]] = {}
        self._callers: dict[tuple[PySymbol, Any], list[tuple[PySymbol, CallSite, Resolution]]] = {}
        # (site key, consumer) -> (what the consumer is bound to, where the search for its loop starts: the
        # functions that take from the queue or run the dispatch, with the call there that leads to it)
        self._starts: dict[tuple[Any, PySymbol], tuple[Any, tuple[tuple[PySymbol, CallSite], ...]]] = {}
        self._queue_classes: dict[PySymbol, frozenset[str]] = {}  # workspace class -> its take methods

    # -- the walk's question: is this call a hand-off? -----------------------------------------------------

    def handoff(
        self,
        sym: Any,
        call: CallSite,
        self_class: Any,
        outcome: Outcome,
        path: Sequence[Any],
        reads: list[tuple[int, str, tuple[PySymbol, ...]]] | None = None,
    ) -> Outcome:
        """``outcome`` turned into a ``queue`` step when ``call`` (in ``sym``) hands work over; else as is.
        ``path`` is the walk's stack, ``(symbol, self class, call that entered it)`` from the entry to ``sym``.
        A message whose class is read from an argument up the path adds ``(level, parameter, classes)`` to
        ``reads`` for each function of the path it was read through: what the walk shows below those
        functions depends on what their callers passed."""
        if not isinstance(sym, PySymbol) or outcome.quiet or outcome.kind is not None:
            return outcome
        if outcome.callee is not None or outcome.candidates or outcome.constructs is not None:
            return outcome  # a workspace function of that name: an ordinary call
        method = _method(call)
        if method not in PUTS and method not in SEND_OBJECT and method not in SEND_BYTES:
            return outcome
        try:
            found = None
            if method in SEND_OBJECT or method in SEND_BYTES:
                found = self._message(sym, call, self_class, outcome, path, reads)
            if found is None and method in PUTS:
                found = self._queue(sym, call, self_class, outcome)
        except (CodetraceError, RecursionError):
            found = None
        return found or outcome

    def beside(self, sym: Any, call: CallSite, self_class: Any, outcome: Outcome) -> Outcome | None:
        """The ``queue`` step that goes beside a call of ``put`` on a queue class of the workspace (a class with
        a ``put(item)`` and a ``get()``, such as one wrapping a deque and a condition): the call stays a call
        of that ``put`` (its code runs), and the consumers are the functions that ``get`` from the same
        queue. None for any other call."""
        if not isinstance(sym, PySymbol) or outcome.quiet or outcome.kind is not None or outcome.candidates:
            return None
        put = outcome.callee
        if not isinstance(put, PySymbol) or put.definition.name not in PUTS or not put.definition.in_class:
            return None
        try:
            owner = self.python._enclosing_class(self.python.info(put.repo, put.path), put.definition.qualname)
            cls = outcome.receiver.cls if isinstance(outcome.receiver, InstanceV) else owner
            gets = self._queue_gets(cls) if cls is not None else frozenset()
            if not gets or put.definition.name not in ("put", "put_nowait"):
                return None
            return self._pair(sym, call, self_class, gets, put.qualname)
        except (CodetraceError, RecursionError):
            return None

    def _queue_gets(self, cls: PySymbol) -> frozenset[str]:
        """The take methods (``get``, ``get_nowait``) of a workspace class that is a queue: its MRO defines a
        ``put`` taking one item and a ``get`` that needs no argument (a store's ``get(key)`` is not a queue's);
        empty for any other class."""
        cached = self._queue_classes.get(cls)
        if cached is not None:
            return cached
        methods: dict[str, Any] = {}
        for c in self.python.mro(cls):
            c_info = self.python.info(c.repo, c.path)
            for d in c_info.facts.definitions:
                if d.kind == "function" and d.in_class and d.parent == c.definition.qualname:
                    methods.setdefault(d.name, d)

        def required(d: Any) -> int:
            return sum(1 for p in d.params[1:] if not p.star and not p.has_default)

        puts = [methods[n] for n in ("put", "put_nowait") if n in methods]
        gets = frozenset(n for n in ("get", "get_nowait") if n in methods and required(methods[n]) == 0)
        found = gets if puts and all(required(d) == 1 for d in puts) else frozenset()
        self._queue_classes[cls] = found
        return found

    # -- queue pairs ---------------------------------------------------------------------------------------

    def _queue(self, sym: PySymbol, call: CallSite, self_class: Any, outcome: Outcome) -> Outcome | None:
        if outcome.resolution is not Resolution.EXTERNAL or " | " in outcome.target:
            return None
        owner, _, method = outcome.target.replace("()", "").rpartition(".")
        if owner not in QUEUE_TYPES or method not in PUTS:
            return None
        is_deque = owner in ("collections.deque", "typing.Deque")
        if (method in ("append", "appendleft")) != is_deque:
            return None
        d = sym.definition
        if d.name in PUTS and d.in_class:
            owner_class = self.python._enclosing_class(self.python.info(sym.repo, sym.path), d.qualname)
            if owner_class is not None and self._queue_gets(owner_class):
                return None  # the buffer inside a queue class's own put: the put of that class is the hand-off
        return self._pair(sym, call, self_class, GETS, outcome.target)

    def _pair(self, sym: PySymbol, call: CallSite, self_class: Any, gets: frozenset[str], sent: str) -> Outcome | None:
        """The consumers of a put on the queue the call's receiver names (``self.q``, ``self.qs[i]``, ``q``):
        the functions that take from it with one of ``gets``, as a ``queue`` step."""
        info = self.python.info(sym.repo, sym.path)
        held = _put_receiver(self.python.call_flow(info, call))
        if held is None:
            return None
        receiver, element = held
        found: dict[PySymbol, CallSite] = {}
        this_class = None
        if len(receiver) == 2 and receiver[0] == "self":
            this_class = self._self_class(info, sym, self_class)
            if this_class is None:
                return None
            for cls in self.python.mro(this_class):
                cls_info = self.python.info(cls.repo, cls.path)
                prefix = cls.definition.qualname + "."
                for c in cls_info.facts.calls:
                    if c.scope.startswith(prefix) and _takes(c, receiver, gets, element):
                        self._add_consumer(found, cls_info, c)
            self._fed_consumers(found, this_class, receiver[1], element, gets)
        elif len(receiver) == 1:
            name = receiver[0]
            if self._is_local(info, sym, name):
                self._local_consumers(found, info, sym, name, gets, element)
            else:
                for c in info.facts.calls:
                    if _takes(c, receiver, gets, element) and not self._is_local(info, None, name, c.scope):
                        self._add_consumer(found, info, c)
        else:
            return None
        found.pop(sym, None)  # a function that puts and takes uses the queue as a buffer of its own
        if not found:
            return None
        consumers = sorted(found, key=sym_key)
        key = _site_key(sym, call)
        bound = self_class if this_class is not None else None
        if isinstance(bound, PySymbol):
            bound = InstanceV(bound)
        for c in consumers:
            self._starts[key, c] = (bound, ((c, found[c]),))
        shown = ".".join(receiver) + ("[...]" if element else "")
        return self._outcome(consumers, {c: bound for c in consumers}, "queue " + shown, sent)

    def _fed_consumers(
        self, found: dict[PySymbol, CallSite], cls: PySymbol, attr: str, element: bool, gets: frozenset[str]
    ) -> None:
        """Methods of ``cls`` (and its bases) that take from a parameter the class feeds from ``self.attr``:
        a call or spawn of ``self.method`` (``Thread(target=self.method, args=(q,))`` too) whose argument for
        that parameter is the queue (``self.q``), or for a put on an element (``self.qs[i]``), an element of
        ``self.qs`` (``self.qs[j]``, or a name a ``for`` over it binds, through ``enumerate`` and ``zip``)."""
        classes = self.python.mro(cls)
        methods: dict[str, tuple[FileInfo, Any]] = {}
        for c in classes:
            c_info = self.python.info(c.repo, c.path)
            for d in c_info.facts.definitions:
                if d.kind == "function" and d.in_class and d.parent == c.definition.qualname:
                    methods.setdefault(d.name, (c_info, d))
        for name in sorted(methods):
            m_info, d = methods[name]
            params = {p.name for p in d.params[1:] if not p.star}
            for c in m_info.facts.calls:
                if c.scope != d.qualname or len(c.chain) != 2 or c.chain[0] not in params or c.chain[1] not in gets:
                    continue
                if self._feeds(classes, d, c.chain[0], attr, element):
                    self._add_consumer(found, m_info, c)

    def _feeds(self, classes: Sequence[PySymbol], d: Any, param: str, attr: str, element: bool) -> bool:
        """Whether some method of ``classes`` passes the queue held in ``self.attr`` to ``param`` of method
        ``d`` (see :meth:`_fed_consumers`)."""
        index = next(i for i, p in enumerate(d.params) if p.name == param)
        method = ("a", ("n", "self"), d.name)
        for c in classes:
            c_info = self.python.info(c.repo, c.path)
            prefix = c.definition.qualname + "."
            for flow in c_info.call_list:
                value = flow.value
                if not flow.scope.startswith(prefix) or not value or value[0] != "c":
                    continue
                call_tree = None
                if value[1] == method:  # self.method(...), or a spawn of it with its arguments
                    call_tree = value
                else:
                    kwargs = dict(k for k in value[3] if k[0] != "**")
                    packed = kwargs.get("args")
                    if kwargs.get("target") == method and packed and packed[0] in ("t", "l"):
                        call_tree = ("c", method, packed[1], ())  # Thread(target=self.method, args=(...))
                if call_tree is None:
                    continue
                arg = argument_for(d, index, call_tree, 1)
                if isinstance(arg, tuple) and _derives(c_info, flow.scope, arg, attr, element):
                    return True
        return False

    def _self_class(self, info: FileInfo, sym: PySymbol, self_class: Any) -> PySymbol | None:
        """The class whose instances ``self`` is in ``sym``: what the walk knows, else ``sym``'s class."""
        if isinstance(self_class, InstanceV):
            return self_class.cls
        if isinstance(self_class, DefV) and self_class.sym.definition.kind == "class":
            return self_class.sym
        if isinstance(self_class, PySymbol):
            return self_class
        return self.python._enclosing_class(info, sym.definition.qualname)

    def _add_consumer(self, found: dict[PySymbol, CallSite], info: FileInfo, c: CallSite) -> None:
        d = info.defs.get(c.scope)
        if d is not None and d.kind == "function":
            found.setdefault(PySymbol(info.repo, info.path, info.module, d), c)

    def _is_local(self, info: FileInfo, sym: PySymbol | None, name: str, scope: str | None = None) -> bool:
        """Whether ``name`` is bound in the function ``scope`` (``sym``'s by default), not the module's."""
        scope = scope if scope is not None else sym.definition.qualname if sym else ""
        if not scope:
            return False
        d = info.defs.get(scope)
        if d is not None and any(p.name == name for p in d.params):
            return True
        return (scope, name) in info.binds

    def _local_consumers(
        self,
        found: dict[PySymbol, CallSite],
        info: FileInfo,
        sym: PySymbol,
        name: str,
        gets: frozenset[str] = GETS,
        element: bool = False,
    ) -> None:
        """Consumers of a queue held in a local name: closures that take from it, and the functions it is
        passed to (through the parameter it binds)."""
        scope = sym.definition.qualname
        for c in info.facts.calls:
            if c.scope.startswith(scope + ".") and _takes(c, (name,), gets, element):
                self._add_consumer(found, info, c)
        if element:
            return
        for c in info.facts.calls:
            if c.scope != scope or not any(a == name for a in c.args):
                continue
            flow = self.python.call_flow(info, c)
            if flow is None or not flow.value or flow.value[0] != "c":
                continue
            out = self.python.resolve_call(sym, c)
            targets = [out.callee] if out.callee is not None else list(out.candidates)
            for target in targets:
                if target is None or target.definition.kind != "function":
                    continue
                d = target.definition
                skip = 1 if d.in_class and flow.value[1] and flow.value[1][0] == "a" else 0
                for index, p in enumerate(d.params):
                    if argument_for(d, index, flow.value, skip) != ("n", name):
                        continue
                    t_info = self.python.info(target.repo, target.path)
                    for tc in t_info.facts.calls:
                        if tc.scope == d.qualname and _takes(tc, (p.name,), gets):
                            self._add_consumer(found, t_info, tc)

    # -- messages dispatched on their type -----------------------------------------------------------------

    def _message(
        self,
        sym: PySymbol,
        call: CallSite,
        self_class: Any,
        outcome: Outcome,
        path: Sequence[Any],
        reads: list[tuple[int, str, tuple[PySymbol, ...]]] | None = None,
    ) -> Outcome | None:
        info = self.python.info(sym.repo, sym.path)
        flow = self.python.call_flow(info, call)
        if flow is None or not flow.value or flow.value[0] != "c":
            return None
        frame = self.python.frame_for(sym, self_class)
        ctx = Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, frame)
        message = _first_arg(flow.value, "obj")
        if message is None:
            return None
        if _method(call) not in SEND_OBJECT:  # a send of bytes: only pickled objects carry their type
            if _method(call) in PUTS and outcome.resolution is Resolution.EXTERNAL:
                owner = outcome.target.replace("()", "").rpartition(".")[0]
                if owner in QUEUE_TYPES:
                    return None  # a queue's put: a queue pair, not a message
            if message[0] != "c" or not any(
                isinstance(v, ExternalV) and v.name in PICKLERS for v in self.python.evaluate(ctx, message[1]).values
            ):
                return None
            message = _first_arg(message, "obj")
            if message is None:
                return None
        classes = self._message_classes(sym, ctx, message, path, reads)
        if not classes:
            return None
        chosen: dict[PySymbol, _Registration] = {}
        senders = self._path_classes(path)
        for cls in classes:
            for reg in self._handlers_for(cls, _is_test_path(sym.path)):
                if not self._is_sender(reg, senders):
                    chosen.setdefault(reg.handler, reg)
        if not chosen:
            return None
        consumers = sorted(chosen, key=sym_key)
        key = _site_key(sym, call)
        for c in consumers:
            self._starts[key, c] = (chosen[c].receiver, chosen[c].starts)
        names = sorted({chosen[c].cls.definition.name for c in consumers})
        receivers = {c: chosen[c].receiver for c in consumers}
        return self._outcome(consumers, receivers, "handler of " + ", ".join(names), outcome.target)

    def _path_classes(self, path: Sequence[Any]) -> set[PySymbol]:
        """The classes whose methods are on the walk's path: the sending process's own objects."""
        found: set[PySymbol] = set()
        for sym, self_class, _via in path:
            if isinstance(self_class, InstanceV):
                found.add(self_class.cls)
            elif isinstance(sym, PySymbol) and sym.definition.in_class:
                owner = self.python._enclosing_class(self.python.info(sym.repo, sym.path), sym.definition.qualname)
                if owner is not None:
                    found.add(owner)
        return found

    def _is_sender(self, reg: _Registration, senders: set[PySymbol]) -> bool:
        """Whether a receiver belongs to an object the message is sent from (a class on the walk's path, or a
        base or subclass of one): a process does not send itself messages through a socket (SGLang's
        scheduler sends an ``AbortReq`` out to the tokenizer; its own ``abort_request`` does not get it)."""
        owner = reg.receiver.cls if isinstance(reg.receiver, InstanceV) else None
        if owner is None and reg.starts and reg.starts[0][0].definition.in_class:
            func = reg.starts[0][0]
            owner = self.python._enclosing_class(self.python.info(func.repo, func.path), func.definition.qualname)
        if owner is None:
            return False
        mro = self.python.mro(owner)
        return any(c in mro or owner in self.python.mro(c) for c in senders)

    def _message_classes(
        self,
        sym: PySymbol,
        ctx: Ctx,
        tree: Any,
        path: Sequence[Any],
        reads: list[tuple[int, str, tuple[PySymbol, ...]]] | None = None,
    ) -> list[PySymbol]:
        """The workspace classes the message ``tree`` may be an instance of. A parameter is read from the
        argument the walk's caller passed (up the walk's path, as far as the arguments are parameters again):
        that is what *this* flow sends, where the parameter's own values are what any caller may pass."""
        return self._climb(path, len(path) - 1, ctx, tree, [], reads)

    def passed(
        self, path: Sequence[Any], name: str, reads: list[tuple[int, str, tuple[PySymbol, ...]]] | None = None
    ) -> tuple[PySymbol, ...] | None:
        """The classes the walk's path gives parameter ``name`` of the last function of ``path`` (what the
        call that entered it passed, read up the path as a message is); None when that call passes no plain
        argument for it. The walk compares these with what an earlier walk into the function was given."""
        level = len(path) - 1
        if level < 1 or not isinstance(path[level][0], PySymbol):
            return None
        try:
            up = self._argument_up(path, level, name)
            if up is None:
                return None
            return tuple(self._climb(path, level - 1, up[0], up[1], [(level, name)], reads))
        except (CodetraceError, RecursionError):
            return None

    def _climb(
        self,
        path: Sequence[Any],
        level: int,
        ctx: Ctx,
        tree: Any,
        climbed: list[tuple[int, str]],
        reads: list[tuple[int, str, tuple[PySymbol, ...]]] | None,
    ) -> list[PySymbol]:
        """The classes of ``tree`` (evaluated in ``ctx``, in the function at ``level`` of ``path``), read from
        the callers' arguments up the path while it is a parameter; ``climbed`` are the levels (and
        parameters) read through so far, reported to ``reads`` with the classes found."""
        climbed = list(climbed)
        while level >= 1 and tree and tree[0] == "n" and isinstance(path[level][0], PySymbol):
            up = self._argument_up(path, level, tree[1])
            if up is None:
                break
            climbed.append((level, tree[1]))
            ctx, tree = up
            level -= 1
        vals = self.python.evaluate(ctx, tree)
        classes = sorted({v.cls for v in vals.values if isinstance(v, InstanceV)}, key=sym_key)
        if reads is not None:
            reads.extend((at, name, tuple(classes)) for at, name in climbed)
        return classes

    def _argument_up(self, path: Sequence[Any], level: int, name: str) -> tuple[Ctx, Any] | None:
        """Where the walk's caller at ``level - 1`` evaluates the argument it passed to parameter ``name`` of
        the function at ``level``: ``(ctx, tree)``, or None (not a parameter, not passed, not a plain call)."""
        here, _, via = path[level]
        d = here.definition
        params = [p.name for p in d.params]
        caller, caller_self = path[level - 1][0], path[level - 1][1]
        if name not in params or via is None or not isinstance(caller, PySymbol):
            return None
        if via.kind is StepKind.SPAWN or _method(via) in PUTS | SEND_OBJECT | SEND_BYTES:
            return None  # a hand-off, not a call: its arguments are not the parameters
        c_info = self.python.info(caller.repo, caller.path)
        flow = self.python.call_flow(c_info, via)
        if flow is None or not flow.value or flow.value[0] != "c":
            return None
        func = flow.value[1]
        frame = self.python.frame_for(caller, caller_self)
        ctx = Ctx(c_info.key, flow.scope, flow.line, flow.col, flow.path, frame)
        skip = 1 if d.in_class and (d.name == "__init__" or (func and func[0] == "a")) else 0
        if d.in_class and d.name != "__init__":  # a method handed around as a value is bound or not as it was
            found = [v for v in self.python.evaluate(ctx, func).values if isinstance(v, DefV) and v.sym == here]
            if found:
                skip = (
                    1 if all(v.bound is not None for v in found) else 0 if all(v.bound is None for v in found) else skip
                )
        if d.in_class and any(dec.rpartition(".")[2] == "staticmethod" for dec in d.decorators):
            skip = 0
        arg = argument_for(d, params.index(name), flow.value, skip)
        if not isinstance(arg, tuple):
            return None
        return ctx, arg

    def _handlers_for(self, cls: PySymbol, tests: bool = False) -> list[_Registration]:
        """The registrations that receive an instance of ``cls``: per receiver, the one for the most specific
        class of ``cls``'s MRO (then the first in source order). Receivers in test code count only for a
        sender in test code (``tests``); their files are not even parsed otherwise."""
        mro = self.python.mro(cls)
        rank = {c: i for i, c in enumerate(mro)}
        best: dict[tuple[str, str, str], _Registration] = {}
        for base in mro:
            for repo, path in self._files_mentioning(base.definition.name):
                if not tests and _is_test_path(path):
                    continue
                for reg in self._registrations_in(repo, path, base.definition.name):
                    if reg.cls not in rank:
                        continue
                    old = best.get(reg.group)
                    if old is None or (rank[reg.cls], reg.line) < (rank[old.cls], old.line):
                        best[reg.group] = reg
        return [best[g] for g in sorted(best)]

    def _files_mentioning(self, name: str) -> list[tuple[str, str]]:
        """Files whose text mentions class ``name`` in a registration pattern: one pass over the text of every
        Python file of the workspace, on the first question (shared through the index, which records what it
        read as what the trace depends on)."""
        if self._text_index is None:
            self._text_index = self.python.index.python_text_index(*REGISTRATIONS_INDEX)
        return self._text_index.get(name, [])

    def _registrations_in(self, repo: str, path: str, name: str) -> list[_Registration]:
        """The registrations in one file of a class written ``name`` (resolved: they must name a class)."""
        key = (repo, path, name)
        found = self._registrations.get(key)
        if found is None:
            found = self._registrations[key] = []
            info = self.python.info(repo, path)
            if info.facts.error is None:
                found.extend(self._tables(info, name))
                found.extend(self._branches(info, name))
        return found

    def _tables(self, info: FileInfo, name: str) -> list[_Registration]:
        """``(Type, handler)`` pairs in a list or tuple and ``{Type: handler}`` dicts, in bound values."""
        out: list[_Registration] = []
        for flow in info.facts.flow:
            if flow.kind != "bind" or flow.value is None:
                continue
            holder = _holder(flow.target)
            for type_tree, handler_tree in _pairs(flow.value):
                if _last_name(type_tree) != name:
                    continue
                ctx = self._ctx(info, flow)
                cls = self._class_of(ctx, type_tree)
                if cls is None:
                    continue
                for handler, receiver in self._functions(ctx, handler_tree):
                    starts = self._table_starts(info, flow, holder)
                    group = (info.repo, info.path, holder or f"{flow.scope}:{flow.line}")
                    out.append(_Registration(cls, handler, receiver, group, flow.line, starts))
        return out

    def _table_starts(self, info: FileInfo, flow: Flow, holder: str | None) -> tuple[tuple[PySymbol, CallSite], ...]:
        """The calls that run a table held in ``holder`` (``self.x`` or a name): in the methods of the class
        (and its bases) for ``self.x``, in the binding function for a local, in the module for a global."""
        if holder is None:
            return ()
        sites: list[tuple[FileInfo, CallSite]] = []
        scope = flow.scope
        if holder.startswith("self."):
            cls = self.python._enclosing_class(info, scope) if scope else None
            if cls is None:
                return ()
            for c in self.python.mro(cls):
                c_info = self.python.info(c.repo, c.path)
                prefix = c.definition.qualname + "."
                sites.extend((c_info, s) for s in c_info.facts.calls if s.scope.startswith(prefix))
        elif scope and info.defs.get(scope) is not None and info.defs[scope].kind == "function":
            sites.extend((info, s) for s in info.facts.calls if s.scope == scope or s.scope.startswith(scope + "."))
        else:
            sites.extend((info, s) for s in info.facts.calls if s.scope)
        starts: dict[PySymbol, CallSite] = {}
        for s_info, s in sites:
            if not _runs(s.text, holder):
                continue
            d = s_info.defs.get(s.scope)
            if d is not None and d.kind == "function":
                starts.setdefault(PySymbol(s_info.repo, s_info.path, s_info.module, d), s)
        return tuple(sorted(starts.items(), key=lambda kv: sym_key(kv[0])))

    def _branches(self, info: FileInfo, name: str) -> list[_Registration]:
        """``isinstance(msg, Type)`` tests and ``case Type():`` patterns whose branch passes the message to a
        function: that function is the handler; the function holding the test dispatches."""
        out: list[_Registration] = []
        for d, branches in self._type_tests(info):
            sym = PySymbol(info.repo, info.path, info.module, d)
            for type_node, subject, body in branches:
                if _ast_last_name(type_node) != name:
                    continue
                site = self._handler_call(info, sym, subject, body)
                if site is None:
                    continue
                flow = self.python.call_flow(info, site)
                if flow is None:
                    continue
                ctx = self._ctx(info, flow)
                cls = self._class_of(ctx, chain_tree(ast_chain(type_node)) if ast_chain(type_node) else None)
                if cls is None:
                    continue
                out_call = self.python.resolve_call(sym, site)
                handlers = [out_call.callee] if out_call.callee is not None else list(out_call.candidates)
                for handler in handlers:
                    if handler is not None and handler.definition.kind == "function":
                        group = (info.repo, info.path, d.qualname)
                        out.append(_Registration(cls, handler, out_call.receiver, group, site.line, ((sym, site),)))
        return out

    def _type_tests(self, info: FileInfo) -> list[tuple[Any, list[tuple[ast.expr, Any, list[ast.stmt]]]]]:
        """Each function of a file with its own ``isinstance(x, T)`` tests and ``case T():`` patterns, as
        ``(type, subject, branch body)``: walked once per file, whatever class is asked about."""
        cached = self._tests.get(info.key)
        if cached is not None:
            return cached
        found: list[tuple[Any, list[tuple[ast.expr, Any, list[ast.stmt]]]]] = []
        for d, func in self._function_nodes(info):
            branches: list[tuple[ast.expr, Any, list[ast.stmt]]] = []
            for node in _own_nodes(func):
                if isinstance(node, ast.If):
                    test = node.test
                    if (
                        isinstance(test, ast.Call)
                        and isinstance(test.func, ast.Name)
                        and test.func.id == "isinstance"
                        and len(test.args) == 2
                    ):
                        types = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
                        branches.extend((t, test.args[0], node.body) for t in types)
                elif isinstance(node, ast.Match):
                    for case in node.cases:
                        pattern = case.pattern
                        subject: Any = node.subject
                        if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None and pattern.name:
                            subject, pattern = ast.Name(pattern.name), pattern.pattern
                        if isinstance(pattern, ast.MatchClass):
                            branches.append((pattern.cls, subject, case.body))
            if branches:
                found.append((d, branches))
        self._tests[info.key] = found
        return found

    def _handler_call(self, info: FileInfo, sym: PySymbol, subject: Any, body: list[ast.stmt]) -> CallSite | None:
        """The first call in a branch that passes the tested value as an argument (not a method of it)."""
        wanted = ast.dump(subject)
        for stmt in body:
            for node in _own_nodes(stmt, include_self=True):
                if not isinstance(node, ast.Call):
                    continue
                passed = any(ast.dump(a) == wanted for a in node.args) or any(
                    ast.dump(k.value) == wanted for k in node.keywords
                )
                on_subject = isinstance(node.func, ast.Attribute) and ast.dump(node.func.value) == wanted
                if not passed or on_subject:
                    continue
                text = " ".join((_segment(self._lines(info), node.func) or "").split())
                for c in info.facts.calls:
                    if c.scope == sym.definition.qualname and c.line == node.lineno and c.text == text:
                        return c
        return None

    def _ctx(self, info: FileInfo, flow: Flow) -> Ctx:
        d = info.defs.get(flow.scope)
        frame = None
        if d is not None and d.kind == "function":
            frame = self.python.frame_for(PySymbol(info.repo, info.path, info.module, d))
        return Ctx(info.key, flow.scope, flow.line, flow.col, flow.path, frame)

    def _class_of(self, ctx: Ctx, tree: Any) -> PySymbol | None:
        if tree is None:
            return None
        vals = self.python.evaluate(ctx, tree)
        classes = {v.sym for v in vals.values if isinstance(v, DefV) and v.sym.definition.kind == "class"}
        return next(iter(classes)) if len(classes) == 1 else None

    def _functions(self, ctx: Ctx, tree: Any) -> list[tuple[PySymbol, Any]]:
        vals = self.python.evaluate(ctx, tree)
        found = {
            (v.sym, v.bound if isinstance(v.bound, InstanceV) else None)
            for v in vals.values
            if isinstance(v, DefV) and v.sym.definition.kind == "function"
        }
        return sorted(found, key=lambda f: sym_key(f[0]))

    def _outcome(self, consumers: list[PySymbol], receivers: dict[PySymbol, Any], note: str, sent: str) -> Outcome:
        """A queue step to the consumer, or a dispatch over several (named by what was called: ``sent``)."""
        if len(consumers) == 1:
            c = consumers[0]
            return Outcome(
                Resolution.TYPED, c.qualname, callee=c, receiver=receivers.get(c), kind=StepKind.QUEUE, note=note
            )
        bound = {repr(receivers.get(c)) for c in consumers}
        return Outcome(
            Resolution.CANDIDATES,
            sent,
            candidates=tuple(consumers),
            receiver=receivers.get(consumers[0]) if len(bound) == 1 else None,
            kind=StepKind.QUEUE,
            note=f"{len(consumers)} consumers: {note}",
        )

    # -- the consumer loop ---------------------------------------------------------------------------------

    def consumer_loops(self, sym: Any, call: CallSite, consumers: Sequence[Any]) -> list[ConsumerLoop]:
        """The loops a hand-off from ``call`` (in ``sym``) to ``consumers`` resumes at: one per distinct loop,
        in the order of the consumers (several receivers of a message are several processes, each with its
        loop). A consumer with no loop above it, or whose own loop holds the take (its walk showed the loop),
        adds none."""
        if not isinstance(sym, PySymbol):
            return []
        key = _site_key(sym, call)
        plans: list[ConsumerLoop] = []
        for consumer in consumers:
            entry = self._starts.get((key, consumer))
            if entry is None:
                continue
            plan = self._loop_for(consumer, entry[0], entry[1])
            if plan is None:
                continue
            same = next((i for i, p in enumerate(plans) if p.loop == plan.loop), None)
            if same is None:
                plans.append(plan)
            elif plans[same].chain[:-1] == plan.chain[:-1] and plan.chain[-1] not in plans[same].also:
                plans[same] = replace(plans[same], also=(*plans[same].also, plan.chain[-1]))
        return plans

    def _loop_for(
        self, consumer: PySymbol, receiver: Any, starts: tuple[tuple[PySymbol, CallSite], ...]
    ) -> ConsumerLoop | None:
        """The nearest driving loop above ``consumer``, searched breadth-first from ``starts`` (the functions
        that take from the queue or run the dispatch) through their callers, at most :data:`MAX_HOPS` up."""
        frontier: list[tuple[PySymbol, CallSite, tuple[Link, ...]]] = []
        for func, lead in starts:
            tail: tuple[Link, ...] = ()
            if func != consumer:
                tail = (Link(func, lead, consumer, Resolution.TYPED),)
            frontier.append((func, lead, tail))
        if isinstance(receiver, PySymbol):
            receiver = InstanceV(receiver)
        seen = {f for f, _, _ in frontier}
        for _ in range(MAX_HOPS + 1):
            found: list[tuple[PySymbol, tuple[str, int, int], tuple[Link, ...]]] = []
            for func, lead, links in frontier:
                loop = self._loop_around(func, lead)
                if loop is not None:
                    found.append((func, loop, links))
            if found:
                return self._plan(found, consumer, receiver)
            following: list[tuple[PySymbol, CallSite, tuple[Link, ...]]] = []
            for func, _lead, links in frontier:
                for caller, site, how in self._callers_of(func, receiver):
                    if caller in seen:
                        continue
                    seen.add(caller)
                    following.append((caller, site, (Link(caller, site, func, how), *links)))
            if not following:
                return None
            frontier = following
        return None

    def _plan(
        self, found: list[tuple[PySymbol, tuple[str, int, int], tuple[Link, ...]]], consumer: PySymbol, receiver: Any
    ) -> ConsumerLoop | None:
        """Of the loops found equally near: the one in the consumer's file, then the first in source order."""
        found.sort(key=lambda f: ((f[0].repo, f[0].path) != (consumer.repo, consumer.path), sym_key(f[0])))
        func, (how, line, end), links = found[0]
        if not links:
            return None  # the consumer's own loop holds the take: its walk showed the loop
        others = tuple(dict.fromkeys(f[0] for f in found[1:] if f[0] != func))
        self_value = receiver if func.definition.in_class else None
        return ConsumerLoop(func, self_value, links, how, line, end, others)

    def _callers_of(self, func: PySymbol, receiver: Any) -> list[tuple[PySymbol, CallSite, Resolution]]:
        """Calls of ``func`` (not spawns) in the methods of the instance's class and bases (a method), or in
        its module (a function), confirmed by resolving them; at most :data:`MAX_CALLERS`."""
        key = (func, receiver)
        cached = self._callers.get(key)
        if cached is not None:
            return cached
        files: list[tuple[FileInfo, str]] = []
        d = func.definition
        info = self.python.info(func.repo, func.path)
        if d.in_class:
            cls = receiver.cls if isinstance(receiver, InstanceV) else self.python._enclosing_class(info, d.qualname)
            owner = self.python._enclosing_class(info, d.qualname)
            if cls is None or owner is None or owner not in self.python.mro(cls):
                cls = owner
            for c in self.python.mro(cls) if cls is not None else []:
                files.append((self.python.info(c.repo, c.path), c.definition.qualname + "."))
        else:
            files.append((info, ""))
        out: dict[PySymbol, tuple[CallSite, Resolution]] = {}
        for f_info, prefix in files:
            for c in f_info.facts.calls:
                if not c.scope.startswith(prefix) or not c.chain or c.kind is StepKind.SPAWN:
                    continue
                if c.chain[-1].removesuffix("()") != d.name:
                    continue
                caller_def = f_info.defs.get(c.scope)
                if caller_def is None or caller_def.kind != "function":
                    continue
                caller = PySymbol(f_info.repo, f_info.path, f_info.module, caller_def)
                if caller in out or caller == func:
                    continue
                outcome = self.python.resolve_call(caller, c, receiver)
                if outcome.callee == func or func in outcome.candidates:
                    out[caller] = (c, outcome.resolution)
        result = [(k, v[0], v[1]) for k, v in sorted(out.items(), key=lambda kv: sym_key(kv[0]))][:MAX_CALLERS]
        self._callers[key] = result
        return result

    def _loop_around(self, func: PySymbol, lead: CallSite) -> tuple[str, int, int] | None:
        """The driving loop of ``func`` whose body holds the line of ``lead``: ``(header, line, end line)``."""
        for how, line, end in self._driving_loops(func):
            if line <= lead.line <= end:
                return how, line, end
        return None

    def _driving_loops(self, func: PySymbol) -> list[tuple[str, int, int]]:
        """``while True`` / ``while not X`` / ``while <running flag>`` / ``for .. in iter(..)`` loops of a
        function (outermost first), or its whole body for the ``run`` method of a thread or process class."""
        cached = self._loops.get(func)
        if cached is not None:
            return cached
        found: list[tuple[str, int, int]] = []
        info = self.python.info(func.repo, func.path)
        node = next((f for d, f in self._function_nodes(info) if d == func.definition), None)
        if node is not None:
            lines = self._lines(info)
            for inner in _own_nodes(node):
                how = None
                if isinstance(inner, ast.While):
                    how = _driving_test(inner.test, lines)
                elif isinstance(inner, (ast.For, ast.AsyncFor)):
                    it = inner.iter
                    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "iter":
                        target = _segment(lines, inner.target) or "..."
                        how = " ".join(f"for {target} in {_segment(lines, it) or 'iter(...)'}".split())
                if how is not None:
                    found.append((how, inner.lineno, inner.end_lineno or inner.lineno))
            d = func.definition
            if not found and d.name == "run" and d.in_class:
                owner = info.defs.get(d.parent)
                if owner is not None and any(b.rpartition(".")[2] in ("Thread", "Process") for b in owner.bases):
                    found.append(("thread run", d.line, d.end_line))
        self._loops[func] = found
        return found

    # -- source trees --------------------------------------------------------------------------------------

    def _function_nodes(self, info: FileInfo) -> list[tuple[Any, ast.FunctionDef | ast.AsyncFunctionDef]]:
        """The functions of a file's tree with their definitions (those found), walked once per file."""
        found = self._funcs.get(info.key)
        if found is None:
            tree = self._tree(info)
            defs: dict[tuple[int, str], Any] = {}
            for d in info.facts.definitions:
                if d.kind == "function":
                    defs.setdefault((d.line, d.name), d)
            found = []
            for func in _functions_of(tree) if tree is not None else ():
                d = defs.get((func.lineno, func.name))
                if d is not None:
                    found.append((d, func))
            self._funcs[info.key] = found
        return found

    def _lines(self, info: FileInfo) -> list[str]:
        """The lines of a file whose tree is read (see :func:`_segment`), split once per file."""
        found = self._split.get(info.key)
        if found is None:
            self._tree(info)
            found = self._split[info.key] = _split_lines(self._trees.get(info.key, (None, None))[0] or "")
        return found

    def _tree(self, info: FileInfo) -> ast.Module | None:
        """The ``ast`` of a file whose facts parsed (CPython's parser accepted it already), once per file."""
        cached = self._trees.get(info.key)
        if cached is not None:
            return cached[1]
        tree = None
        text = ""
        if info.facts.error is None:
            try:
                text = self.workspace.repo(info.repo).read_text(info.path)
                with paused_gc():  # a syntax tree holds no cycles (see paused_gc)
                    tree = ast.parse(text)
            except (CodetraceError, SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
        self._trees[info.key] = (text, tree)
        return tree


# -- helpers -----------------------------------------------------------------------------------------------------


def _registration_names(text: str) -> set[str]:
    """The class names a file's text mentions in a registration pattern (a pre-filter, never trusted alone).

    The text is searched with a newline in front, so the first line starts after one too: a pattern for the
    start of a line begins with ``\\n``, a literal the search skips to (``^`` in multi-line mode is tried at
    every position, 2.5 times slower over a workspace)."""
    names: set[str] = set()
    text = "\n" + text
    for pattern in _REGISTRATIONS:
        names.update(m.group(1) for m in pattern.finditer(text))
    names.update(_dict_entry_names(text))
    for m in _ISINSTANCE.finditer(text):
        names.update(_NAME.findall(m.group(1)))
    return names


#: The text index of the class names a file mentions in a registration pattern.
REGISTRATIONS_INDEX = ("handoff-registrations", _registration_names)


def _dict_entry_names(text: str) -> list[str]:
    """``[m.group(1) for m in _DICT_ENTRY.finditer(text)]``, three times faster: the search tries a match at
    every ``{`` and ``,`` of the text; this tries one only where :data:`_ENTRY_STARTS`, searched in the
    reversed text from each colon, says one may start, and skips those inside the previous match as
    ``finditer`` does."""
    end = len(text) - 1
    starts = [end - m.end() + 1 for m in _ENTRY_STARTS.finditer(text[::-1])]
    starts.reverse()
    names = []
    after = 0
    for start in starts:
        if start >= after:
            m = _DICT_ENTRY.match(text, start)
            if m is not None:
                names.append(m.group(1))
                after = m.end()
    return names


def _is_test_path(path: str) -> bool:
    """Test code: its receivers are not candidates for a message sent by other code."""
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in ("test", "tests", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _site_key(sym: PySymbol, call: CallSite) -> tuple[Any, ...]:
    return (sym.repo, sym.path, call.scope, call.line, call.col, call.text)


def _method(call: CallSite) -> str:
    """The name a call's callee ends with: ``put`` for ``self.q.put`` and for ``self.qs[i].put``."""
    if call.chain:
        return call.chain[-1]
    tail = call.text.rpartition(".")[2]
    return tail if tail.isidentifier() else ""


def _takes(call: CallSite, receiver: tuple[str, ...], gets: frozenset[str] = GETS, element: bool = False) -> bool:
    """Whether a call takes from the queue ``receiver``: ``self.q.get()``, ``for x in self.q``, or hands its
    ``get`` to another call (``iter(self.q.get, None)``); with ``element``, from an element of it
    (``self.qs[i].get()``)."""
    chain = call.chain
    if element:
        head = ".".join(receiver) + "["
        return (
            not chain
            and call.text.startswith(head)
            and call.text.endswith("]." + _method(call))
            and (_method(call) in gets)
        )
    if len(chain) == len(receiver) + 1 and chain[:-1] == receiver and chain[-1] in gets:
        return True
    prefix = ".".join(receiver) + "."
    return any(a.startswith(prefix) and a[len(prefix) :] in gets for a in call.args)


def _held(tree: Any) -> tuple[tuple[str, ...], bool] | None:
    """``(("self", attr), element)`` or ``((name,), element)`` for ``self.attr``/``name`` (``element`` for a
    subscript of one: ``self.attrs[i]``), else None."""
    element = False
    if tree and tree[0] == "s":
        tree, element = tree[1], True
    if tree and tree[0] == "a" and tree[1] == ("n", "self"):
        return ("self", tree[2]), element
    if tree and tree[0] == "n":
        return (tree[1],), element
    return None


def _put_receiver(flow: Flow | None) -> tuple[tuple[str, ...], bool] | None:
    """What a put's flow puts into: see :func:`_held`."""
    if flow is None or not flow.value or flow.value[0] != "c":
        return None
    func = flow.value[1]
    if not func or func[0] != "a":
        return None
    return _held(func[1])


def _derives(info: FileInfo, scope: str, tree: Any, attr: str, element: bool) -> bool:
    """Whether ``tree`` (in ``scope``) is the queue held in ``self.attr`` (``element``: an element of it),
    directly or through a local name every binding of which gives it."""
    if _held(tree) == (("self", attr), element):
        return True
    if not tree or tree[0] != "n":
        return False
    binds = info.binds.get((scope, tree[1]), [])
    return bool(binds) and all(_bound_from(flow.value, accessor, attr, element) for flow, accessor in binds)


def _bound_from(value: Any, accessor: tuple[Any, ...], attr: str, element: bool) -> bool:
    if value and value[0] == "iter":
        return element and _yielded_from(value[1], accessor, attr)
    return not accessor and _held(value) == (("self", attr), element)


def _yielded_from(iterable: Any, accessor: tuple[Any, ...], attr: str) -> bool:
    """Whether the part ``accessor`` of what iterating ``iterable`` yields is an element of ``self.attr``:
    ``for q in self.qs``, ``for i, q in enumerate(self.qs)``, ``for q, e in zip(self.qs, ...)``."""
    if not accessor and _held(iterable) == (("self", attr), False):
        return True
    if not iterable or iterable[0] != "c" or not iterable[1] or iterable[1][0] != "n" or not iterable[2]:
        return False
    fn, args = iterable[1][1], iterable[2]
    step = accessor[0] if accessor else None
    if fn == "enumerate" and step == ("ix", 1):
        return _yielded_from(args[0], accessor[1:], attr)
    if fn == "zip" and step is not None and step[0] == "ix" and 0 <= step[1] < len(args):
        return _yielded_from(args[step[1]], accessor[1:], attr)
    if fn in ("list", "tuple", "reversed", "sorted", "iter") and len(args) == 1:
        return _yielded_from(args[0], accessor, attr)
    return False


def _first_arg(call_tree: Any, keyword: str) -> Any:
    args, kwargs = call_tree[2], call_tree[3]
    if args and args[0] and args[0][0] != "*":
        return args[0]
    return next((tree for name, tree in kwargs if name == keyword), None)


def _holder(target: Any) -> str | None:
    """``self.x`` or ``x`` for a binding target that holds a table, else None."""
    if target and target[0] == "n":
        return target[1]
    if target and target[0] == "a" and target[1] == ("n", "self"):
        return f"self.{target[2]}"
    return None


def _runs(text: str, holder: str) -> bool:
    """Whether a call's callee text runs the table in ``holder``: ``holder(m)``, ``holder[type(m)](m)``,
    ``holder.get(type(m))(m)``."""
    if text == holder or text.startswith(holder + "["):
        return True
    return text.startswith(holder + ".") and text.endswith(")")


def _last_name(tree: Any) -> str | None:
    if tree and tree[0] == "n":
        return tree[1]
    if tree and tree[0] == "a":
        return tree[2]
    return None


def _pairs(tree: Any) -> list[tuple[Any, Any]]:
    """``(type tree, handler tree)`` of every 2-tuple inside a list/tuple/set and every dict entry in ``tree``."""
    out: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if not isinstance(t, tuple) or not t:
            continue
        tag = t[0]
        if tag in ("l", "t", "set") and len(t) == 2 and isinstance(t[1], tuple):
            for item in t[1]:
                if isinstance(item, tuple) and item and item[0] == "t" and len(item[1]) == 2:
                    out.append((item[1][0], item[1][1]))
        elif tag == "d" and len(t) == 2 and isinstance(t[1], tuple):
            for entry in t[1]:
                if isinstance(entry, tuple) and len(entry) == 2 and entry[0] != "**":
                    out.append((entry[0], entry[1]))
        stack.extend(x for x in reversed(t) if isinstance(x, tuple))
    out.sort(key=lambda p: repr(p))
    return out


def _functions_of(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _own_nodes(node: ast.AST, include_self: bool = False) -> list[ast.AST]:
    """The nodes of ``node``'s body in source order, without descending into nested functions, classes or
    lambdas."""
    out: list[ast.AST] = [node] if include_self else []
    stack = list(reversed(list(ast.iter_child_nodes(node))))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        out.append(n)
        stack.extend(reversed(list(ast.iter_child_nodes(n))))
    return out


def _ast_last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def _split_lines(source: str) -> list[str]:
    """``source``'s lines with their endings, split where :func:`ast.get_source_segment` splits them."""
    lines = _LINE.findall(source)
    rest = source[sum(map(len, lines)) :]
    return [*lines, rest] if rest else lines


def _segment(lines: list[str], node: ast.AST) -> str | None:
    """:func:`ast.get_source_segment` over lines split once (it splits the whole source on every call)."""
    end_lineno, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_lineno is None or end_col is None:
        return None
    first, col = node.lineno - 1, node.col_offset  # type: ignore[attr-defined]
    last = end_lineno - 1
    if last >= len(lines):
        return None
    if first == last:
        return lines[first].encode()[col:end_col].decode()
    head = lines[first].encode()[col:].decode()
    tail = lines[last].encode()[:end_col].decode()
    return "".join([head, *lines[first + 1 : last], tail])


def _driving_test(test: ast.expr, lines: list[str]) -> str | None:
    """The header of a ``while`` that keeps running until stopped, or None for a loop that drains or counts."""
    text = " ".join((_segment(lines, test) or "").split())
    if isinstance(test, ast.Constant) and test.value:
        return f"while {text or 'True'}"
    if (
        isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and isinstance(test.operand, (ast.Name, ast.Attribute, ast.Call))
    ):
        return f"while {text}"
    if isinstance(test, (ast.Name, ast.Attribute)) and _RUN_FLAG.search(_ast_last_name(test) or ""):
        return f"while {text}"
    return None


__all__ = ["REGISTRATIONS_INDEX", "ConsumerLoop", "Link", "PyHandoffs"]
