"""Work done ahead of need by a forked worker process: text indexes, then parsing the files a trace will want.

A cold trace over a large Python workspace builds two global text indexes (:meth:`.Index.python_text_index`:
the class bases written in ``class`` headers, the hand-off registrations): reading and scanning every Python
file of SGLang and Dynamo, 1.3 to 1.7 s of a cold trace that otherwise parses only the few hundred files it
needs. Neither depends on anything the trace learns, so when a trace starts cold, :func:`start` forks a worker
that scans every file for the words of each index while the trace goes on parsing and resolving on the other
core. It writes one index after the other and names each on a pipe when it is written; the index takes the
worker's words when it first needs them (:meth:`Scan.words`, which waits for that index if it is not done).

The worker sends back, per file, the content digest and ``stat`` of what it read with the words it found:
the index records the file as read with that digest, as if it had read the file itself, and a file the trace
has read meanwhile with another content (an edit between the two reads) is scanned again in the process.

Then, with a facts cache, the worker parses ahead: :meth:`Scan.hint` names a file the trace is likely to need
(a module imported by one it parsed), and the worker parses it into the facts cache, where the trace finds
it (any trace reads the cache before it parses). A hint never waits: when the worker is behind, it is
dropped. The worker is stopped (``SIGSTOP``) while the process runs a Rust prefetch (:meth:`Scan.paused`),
and on ``SIGTERM`` ends after the file it is on (:func:`_reap`).

Nothing here is required: no ``fork``, one core, threads running, a worker that fails or dies all mean the
index scans and parses the files itself, as it would without this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..diagnostics import CodetraceError
from ..forking import may_fork
from ..workspace import Repo
from .guard import paused_gc

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; json is the fallback
    orjson = None  # type: ignore[assignment]

#: Fewest Python files in the workspace for which a worker pays: scanning 235 files costs 0.05 s, and the
#: worker's parsing ahead, a third of which the trace uses, cost more CPU than it saved (generated workspace
#: of 10,000 functions: cold 0.04 -> 0.11 s CPU); SGLang and Dynamo have 5,730.
SCAN_MIN = 1000

#: What the worker found in one file for one index: ``(digest, (size, mtime_ns, read_at) or None, words)``.
Found = tuple[str, tuple[int, int, int] | None, list[str]]
#: The worker's jobs: ``(repo, the files to scan, {index name: extract})``.
Jobs = list[tuple[Repo, list[str], dict[str, Callable[[str], set[str]]]]]


class Scan:
    """A worker scanning files for the words of some text indexes, one index after the other (in the order
    given to :func:`start`): it writes each index's words to a file of its own and then names the index on a
    pipe, so the first index can be used while the worker scans for the next. :meth:`words` collects."""

    def __init__(self, pid: int, pipe: int, paths: dict[str, str], hints: int, parses: bool = True) -> None:
        self.names = frozenset(paths)
        self._pipe = os.fdopen(pipe, "rb")
        self._hints: int | None = hints if parses else None  # where :meth:`hint` writes (non-blocking)
        self.hinted: set[tuple[str, str]] = set()
        self._paths = paths
        self._ready: set[str] = set()  # indexes the worker has written
        self._ended = False  # the pipe is at its end: the worker has written all it will
        self._results: dict[str, dict[str, dict[str, Found]] | None] = {}
        self._worker = [pid]  # emptied once the worker is reaped (its pid may then be another process's)
        self._finalizer = weakref.finalize(self, _reap, self._worker, self._pipe, list(paths.values()), hints)
        # (the pipe is closed by the finalizer even when no hint is written to it: its end stops the worker)

    def words(self, name: str, repo: str) -> dict[str, Found] | None:
        """``relpath -> what the worker found`` for index ``name`` in ``repo``'s files, or None when the worker
        did not scan for it there or failed (then the caller scans itself). Waits for the worker if it has
        not written that index yet."""
        if name not in self.names:
            return None
        if name not in self._results:
            self._results[name] = self._collect(name)
        return (self._results[name] or {}).get(repo)

    def _collect(self, name: str) -> dict[str, dict[str, Found]] | None:
        while name not in self._ready and not self._ended:
            line = self._pipe.readline()  # blocks until the worker names the next index it wrote
            if line.endswith(b"\n"):
                self._ready.add(line[:-1].decode("utf-8", "replace"))
            else:  # the worker has written all its indexes (or failed)
                self._ended = True
        if name not in self._ready:
            return None
        try:
            with open(self._paths[name], "rb") as handle:
                data = handle.read()
            raw = orjson.loads(data) if orjson is not None else json.loads(data)
            return {
                repo: {relpath: (e[0], tuple(e[1]) if e[1] else None, e[2]) for relpath, e in files.items()}
                for repo, files in raw.items()
            }
        except (OSError, ValueError, TypeError, IndexError):
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._paths[name])

    def hints_open(self) -> bool:
        """Whether the worker takes hints (it parses, and has not ended)."""
        return self._hints is not None

    def hint(self, repo: str, relpath: str) -> None:
        """Ask the worker to parse a Python file into the facts cache once its indexes are written (a file this
        process is likely to need soon: imported by one it needed). Never waits: when the worker's queue is
        full or it has ended, the hint is dropped."""
        key = (repo, relpath)
        if self._hints is None or key in self.hinted:
            return
        self.hinted.add(key)
        try:
            os.write(self._hints, f"{repo}\0{relpath}\n".encode())
        except BlockingIOError:
            pass
        except OSError:  # the worker has ended
            self._hints = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The worker stopped inside the block (``SIGSTOP``): for parallel work this process waits on, such as
        a Rust prefetch, which has a worker of its own for the second core."""
        pids = list(self._worker)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)

    def cancel(self) -> None:
        """Stop the worker if it still runs, and clean up after it."""
        self._results.update(dict.fromkeys(self.names - self._results.keys()))
        self._hints = None
        self._finalizer()


def _reap(worker: list[int], pipe: Any, paths: list[str], hints: int | None = None) -> None:
    """Stop the worker after the file it is on (``SIGTERM``: it never leaves a cache entry half written),
    wait for it, and remove what it leaves."""
    if hints is not None:
        with contextlib.suppress(OSError):
            os.close(hints)
    for pid in worker:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        with contextlib.suppress(OSError, ChildProcessError):
            os.waitpid(pid, 0)
    worker.clear()
    with contextlib.suppress(OSError):
        pipe.close()
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def start(jobs: Jobs, order: list[str], parse: Callable[[str, str], Any] | None = None) -> Scan | None:
    """Fork a worker scanning, in each repo of ``jobs``, the files listed with the extractors given, one
    index after the other in ``order`` (the index needed first comes first); then, with ``parse``, calling
    ``parse(repo, relpath)`` for each file :meth:`Scan.hint` names, until the scan is closed. None when a
    worker does not apply here (see the module docstring).

    The worker lives until the scan is closed or this process ends (the end of the hint pipe), and then
    removes the files it wrote: a process that ends without running its exit handlers (a ``sphinx-build
    -j`` reader) leaves none behind."""
    if not may_fork():
        return None
    wanted = {name for _, _, extractors in jobs for name in extractors}
    names = [name for name in order if name in wanted] + sorted(wanted - set(order))
    paths: dict[str, str] = {}
    fds: list[int] = []
    try:
        for name in names:
            fd, paths[name] = tempfile.mkstemp(prefix="codetrace-scan-", suffix=".json")
            os.close(fd)
        read, write = os.pipe()
        fds += (read, write)
        hints = os.pipe()
        fds += hints
        pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        for path in paths.values():
            with contextlib.suppress(OSError):
                os.unlink(path)
        return None
    if pid == 0:  # the worker: write the words and leave, running nothing of the parent's (no atexit, no flush)
        code = 1
        try:
            stop = _Stop()
            signal.signal(signal.SIGTERM, stop.handle)
            os.close(read)
            os.close(hints[1])
            with paused_gc():
                _scan(jobs, names, paths, write, stop)
            os.close(write)
            _parse_hinted(hints[0], parse, stop)
            code = 0
        finally:
            for path in paths.values():
                with contextlib.suppress(OSError):
                    os.unlink(path)
            os._exit(code)
    os.close(write)
    os.close(hints[0])
    os.set_blocking(hints[1], False)
    return Scan(pid, read, paths, hints[1], parses=parse is not None)


class _Stop(Exception):
    """In the worker: ``SIGTERM`` was received (see :func:`_reap`). Waiting for a hint, the worker ends at
    once (the signal raises this out of the read: other processes forked later hold the pipe's write end
    too, so its end may never come); in the middle of a file, after it (no cache entry is left half
    written)."""

    def __init__(self) -> None:
        super().__init__("stopped")
        self.asked = False
        self.waiting = False

    def __bool__(self) -> bool:
        return self.asked

    def handle(self, *_: Any) -> None:
        self.asked = True
        if self.waiting:
            raise self


def _parse_hinted(pipe: int, parse: Callable[[str, str], Any] | None, stop: _Stop) -> None:
    """In the worker: parse each file named on ``pipe`` once (with ``parse``; without, read and ignore), until
    this process's end of it is closed or the worker is asked to stop."""
    done: set[bytes] = set()
    with os.fdopen(pipe, "rb") as hints:
        while not stop:
            stop.waiting = True
            try:
                line = hints.readline()
            except _Stop:
                return
            finally:
                stop.waiting = False
            if not line:
                return
            if parse is None or line in done or not line.endswith(b"\n"):
                continue
            done.add(line)
            repo, _, relpath = line[:-1].decode("utf-8", "replace").partition("\0")
            with contextlib.suppress(Exception):  # a hint is only a guess: any failure is this file's, skipped
                parse(repo, relpath)


def _scan(jobs: Jobs, names: list[str], paths: dict[str, str], pipe: int, stop: _Stop) -> None:
    texts: dict[tuple[str, str], tuple[str, str, Any] | None] = {}  # (text, digest, stat), read once
    for name in names:
        out: dict[str, dict[str, list[Any]]] = {}
        for repo, relpaths, extractors in jobs:
            extract = extractors.get(name)
            if extract is None:
                continue
            files: dict[str, list[Any]] = {}
            for relpath in relpaths:
                if stop:
                    return
                key = (repo.name, relpath)
                if key not in texts:
                    try:
                        texts[key] = (repo.read_text(relpath), repo.digests[relpath], repo.stats.get(relpath))
                    except CodetraceError:
                        texts[key] = None  # the index reads it again and records why it cannot
                found = texts[key]
                if found is not None:
                    files[relpath] = [found[1], found[2], sorted(extract(found[0]))]
            out[repo.name] = files
        with open(paths[name], "wb") as handle:
            handle.write(orjson.dumps(out) if orjson is not None else json.dumps(out).encode("utf-8"))
        os.write(pipe, name.encode("utf-8") + b"\n")


__all__ = ["SCAN_MIN", "Found", "Scan", "start"]
