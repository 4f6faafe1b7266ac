"""When work may go to a forked process (see :mod:`.behind`, :mod:`.index.ahead`, :meth:`.index.Index.prefetch`).

A cold trace uses the second core of the machine through forked processes: half of a Rust workspace's
header facts, the text indexes and parsing ahead, writing the caches. Each is an optimisation with a fallback
in the process, and none applies when :func:`may_fork` says no: one core, no ``fork``, threads running (a
forked child of a threaded process may inherit a lock held by another thread), or ``CODETRACE_WORKERS=0`` in
the environment (a shared runner where CPU counts more than time: the same traces, in one process).
"""

from __future__ import annotations

import os
import threading


def may_fork() -> bool:
    """Whether forking a worker applies here (see the module docstring)."""
    if os.environ.get("CODETRACE_WORKERS", "").strip() == "0":
        return False
    return hasattr(os, "fork") and (os.cpu_count() or 1) >= 2 and threading.active_count() == 1


__all__ = ["may_fork"]
