"""Text indexes built ahead of need, in a forked worker process.

A cold trace over a large Python workspace builds two global text indexes (:meth:`.Index.python_text_index`:
the class bases written in ``class`` headers, the hand-off registrations): reading and scanning every Python
file of SGLang and Dynamo, 1.3 to 1.7 s of a cold trace that otherwise parses only the few hundred files it
needs. Neither depends on anything the trace learns, so when a trace starts cold, :func:`start` forks a worker
that scans every file for the words of each index while the trace goes on parsing and resolving on the other
core; the index takes the worker's words when it first needs them (:meth:`Scan.words`, which waits for the
worker if it is not done).

The worker sends back, per file, the content digest and ``stat`` of what it read with the words it found:
the index records the file as read with that digest, as if it had read the file itself, and a file the trace
has read meanwhile with another content (an edit between the two reads) is scanned again in the process.
Nothing here is required: no ``fork``, one core, threads running, a worker that fails or dies all mean the
index scans the files itself, as it would without this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..diagnostics import CodetraceError
from ..workspace import Repo
from .guard import paused_gc

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; json is the fallback
    orjson = None  # type: ignore[assignment]

#: Fewest Python files in the workspace for which a worker pays (forking and decoding cost ~30 ms).
SCAN_MIN = 200

#: What the worker found in one file: ``(digest, (size, mtime_ns, read_at) or None, {index name: words})``.
Found = tuple[str, tuple[int, int, int] | None, dict[str, list[str]]]


class Scan:
    """A worker scanning files for the words of some text indexes; :meth:`words` collects its result."""

    def __init__(self, pid: int, path: str, names: frozenset[str]) -> None:
        self.names = names
        self._pid = pid
        self._path = path
        self._result: dict[str, dict[str, Found]] | None = None
        self._done = False
        self._finalizer = weakref.finalize(self, _reap, pid, path)

    def words(self, name: str, repo: str) -> dict[str, Found] | None:
        """``relpath -> what the worker found`` in ``repo``'s files, or None when the worker did not scan for
        ``name`` there or failed (then the caller scans itself)."""
        if name not in self.names:
            return None
        if not self._done:
            self._done = True
            self._result = self._collect()
        found = (self._result or {}).get(repo)
        if found is None or any(name not in entry[2] for entry in found.values()):
            return None
        return found

    def _collect(self) -> dict[str, dict[str, Found]] | None:
        self._finalizer.detach()
        try:
            _, status = os.waitpid(self._pid, 0)
            if status != 0:
                return None
            with open(self._path, "rb") as handle:
                data = handle.read()
            raw = orjson.loads(data) if orjson is not None else json.loads(data)
            return {
                repo: {relpath: (e[0], tuple(e[1]) if e[1] else None, e[2]) for relpath, e in files.items()}
                for repo, files in raw.items()
            }
        except (OSError, ValueError, TypeError, IndexError, ChildProcessError):
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._path)

    def cancel(self) -> None:
        """Stop the worker if it still runs, and clean up after it."""
        self._done = True
        self._finalizer()


def _reap(pid: int, path: str) -> None:
    with contextlib.suppress(OSError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError, ChildProcessError):
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.unlink(path)


def start(jobs: list[tuple[Repo, list[str], dict[str, Callable[[str], set[str]]]]]) -> Scan | None:
    """Fork a worker scanning, in each repo of ``jobs``, the files listed with the extractors given (``index
    name -> words of a text``); None when a worker does not apply here (see the module docstring)."""
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2 or threading.active_count() > 1:
        return None
    names = frozenset(name for _, _, extractors in jobs for name in extractors)
    try:
        fd, path = tempfile.mkstemp(prefix="codetrace-scan-", suffix=".json")
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        os.unlink(path)
        return None
    if pid == 0:  # the worker: write the words and leave, running nothing of the parent's (no atexit, no flush)
        code = 1
        try:
            with paused_gc():
                body = _scan(jobs)
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            code = 0
        finally:
            os._exit(code)
    os.close(fd)
    return Scan(pid, path, names)


def _scan(jobs: list[tuple[Repo, list[str], dict[str, Callable[[str], set[str]]]]]) -> bytes:
    out: dict[str, dict[str, list[Any]]] = {}
    for repo, relpaths, extractors in jobs:
        files: dict[str, list[Any]] = {}
        for relpath in relpaths:
            try:
                text = repo.read_text(relpath)
            except CodetraceError:
                continue  # the index reads it again and records why it cannot
            words = {name: sorted(extract(text)) for name, extract in extractors.items()}
            files[relpath] = [repo.digests[relpath], repo.stats.get(relpath), words]
        out[repo.name] = files
    return orjson.dumps(out) if orjson is not None else json.dumps(out).encode("utf-8")


__all__ = ["SCAN_MIN", "Scan", "start"]
