"""Write-behind: a cold trace's cache entries written by a forked child while the build goes on.

A cold trace of a real flow parses 800 files or more; storing their facts (one file each, created through a
temporary file renamed into place, see :class:`~.index.FactsCache`) and the trace itself cost 1.8 s of the
inference-request flow's 10 s, nearly all of it file creation in the kernel and encoding. None of it is needed
by the trace that made it, so :meth:`~.trace.Engine.trace` hands it to :func:`run`: a forked child (it has the
facts and the trace as they are, nothing is sent to it) writes while this process renders and traces on.

Anything that reads what a child may still be writing waits for it first (:func:`wait`: a new engine, a trace
cache lookup, the end of the process), so no reader in this process misses an entry a writer owes it; another
process (a second build, ``sphinx-build -j``) may, and then parses again, as it would have without a cache.
Small jobs, one core, no ``fork`` or threads running: the work runs in this process, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable

from .forking import may_fork
from .index.guard import paused_gc

#: Fewest files to write for which a child pays (forking a process holding a large index costs ~20 ms).
BEHIND_MIN = 100

_children: list[tuple[int, frozenset[str]]] = []  # (pid, the keys it writes that a reader may ask for)


def run(work: Callable[[], None], size: int, keys: frozenset[str] = frozenset()) -> bool:
    """Run ``work`` (which writes ``size`` files, among them the entries ``keys`` that :func:`wait` may be
    asked about) in a forked child, or here when that does not pay or apply; True when a child took it. One
    child writes its own entries, so children of several traces may run at once (those that finished are
    reaped here)."""
    _reap_finished()
    if size < BEHIND_MIN or not may_fork():
        work()
        return False
    try:
        pid = os.fork()
    except OSError:
        work()
        return False
    if pid == 0:  # the child: write, then leave running nothing of the parent's (no atexit, no flush)
        code = 1
        try:
            with paused_gc():  # writing allocates much and makes no cycles (see paused_gc)
                work()
            code = 0
        finally:
            os._exit(code)
    _children.append((pid, keys))
    return True


def _reap_finished() -> None:
    for child in list(_children):
        with contextlib.suppress(ChildProcessError, OSError):
            if os.waitpid(child[0], os.WNOHANG)[0] == 0:
                continue
        _children.remove(child)


def wait(key: str | None = None) -> None:
    """Wait until the children started by :func:`run` have written everything (with ``key``: only when one
    of them writes that entry)."""
    if key is not None and not any(key in keys for _, keys in _children):
        return
    while _children:
        pid, _ = _children.pop()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)


atexit.register(wait)

__all__ = ["BEHIND_MIN", "run", "wait"]
