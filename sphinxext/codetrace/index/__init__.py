"""Index: facts per file, parsed on demand and cached by content.

:class:`Index` is the only way later stages get at source: ``index.facts(repo, relpath)`` reads the file
through the workspace (containment, size and encoding checks), runs the language frontend (``.py``/``.pyi``:
:mod:`.python_ast`, with libcst's :mod:`.python` for grammar newer than the interpreter's; ``.rs``:
:mod:`.rust`), and memoises the result for the life of the index. With a cache directory, facts are also
stored on disk under a key made of the frontend version, the path and a hash of the content, written
atomically; a missing, corrupt or mismatched entry is simply parsed again.

Every file a caller asks for is recorded in :attr:`Index.touched` (see :meth:`Index.recording`), so the
Sphinx layer can declare exactly the files a trace depended on. Two whole-workspace passes live here too, each
made once per index and recorded again for every computation that uses it: :meth:`Index.python_text_index`
(words found in the text of every Python file, such as the bases in ``class`` headers) and
:meth:`Index.prefetch` (the facts of a whole Rust workspace, with progress shown through :attr:`Index.progress`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; json is the fallback
    orjson = None  # type: ignore[assignment]

from ..diagnostics import CodetraceError, Diagnostic
from ..forking import may_fork
from ..model import FileFacts, Lang, facts_from_plain, to_plain
from ..workspace import Deps, Repo, Workspace
from . import ahead
from .guard import paused_gc
from .python_ast import FRONTEND_VERSION as PY_VERSION
from .python_ast import parse_python
from .rust import FRONTEND_VERSION as RS_VERSION
from .rust import parse_rust

CACHE_FORMAT = 3


class FactsCache:
    """Facts on disk: one file per (frontend version, path, content hash), written atomically.

    An entry is a header line, ``{"format", "key", "sha"}`` as JSON, then the JSON of the facts, whose SHA-256
    the header holds: a flipped bit or a half-written file fails the check instead of yielding facts with
    wrong values. The facts are encoded by orjson, straight from the dataclasses (about 10 times faster than
    :func:`~sphinxext.codetrace.model.to_plain` plus :mod:`json`, which remain the fallback)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        #: While set (see :meth:`deferring`), :meth:`put` appends here instead of writing.
        self.deferred: list[tuple[str, FileFacts | bytes]] | None = None

    @contextlib.contextmanager
    def deferring(self) -> Iterator[list[tuple[str, FileFacts | bytes]]]:
        """Inside the block, entries are kept in the list yielded, for :meth:`write` to store later (a
        trace's are written behind it, see :mod:`..behind`)."""
        previous, self.deferred = self.deferred, []
        try:
            yield self.deferred
        finally:
            self.deferred = previous

    def write(self, entries: Iterable[tuple[str, FileFacts | bytes]]) -> None:
        for key, facts in entries:
            self._put(key, facts)

    def _file(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> FileFacts | None:
        """The facts stored under ``key``, or None when absent or damaged in any way (then: parse again)."""
        try:
            raw = self._file(key).read_bytes()
            head, sep, body = raw.partition(b"\n")
            data = json.loads(head)
            if not sep or data.get("format") != CACHE_FORMAT or data.get("key") != key:
                return None
            if hashlib.sha256(body).hexdigest() != data.get("sha"):
                return None
            with paused_gc():  # decoding allocates as much as parsing (see paused_gc)
                return facts_from_plain(_loads(body))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, facts: FileFacts | bytes) -> None:
        """Store ``facts`` (or their JSON, as :func:`_dumps` makes it) under ``key``."""
        if self.deferred is not None:
            self.deferred.append((key, facts))
        else:
            self._put(key, facts)

    def _put(self, key: str, facts: FileFacts | bytes) -> None:
        target = self._file(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            body = facts if isinstance(facts, bytes) else _dumps(facts)
            head = json.dumps({"format": CACHE_FORMAT, "key": key, "sha": hashlib.sha256(body).hexdigest()})
            with os.fdopen(fd, "wb") as out:
                out.write(head.encode("utf-8") + b"\n" + body)
            os.replace(tmp, target)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


#: Prefetches of at least this many files parse half of them in a forked worker process.
PARALLEL_MIN = 200
_FORKED_JOBS: dict[int, tuple[Index, Repo]] = {}  # what a forked worker finds (it inherits this process)


#: What the worker sends back per file: (facts as JSON, content digest, stat of the read, problem, files parsed,
#: the facts cache key when they are to be stored).
Parsed = tuple[bytes, str | None, tuple[int, int, int] | None, tuple[str, ...] | None, int, str | None]


def _parse_headers(job: int, relpaths: list[str]) -> list[Parsed]:
    """In the forked worker: the header facts of ``relpaths``. The facts cache is written by the parent (its
    key travels with the facts): this worker's part of the prefetch ends sooner."""
    index, repo = _FORKED_JOBS[job]
    stored: list[tuple[str, FileFacts | bytes]] = []
    if index.cache is not None:
        index.cache.deferred = stored
    out = []
    for relpath in relpaths:
        before = index.parsed
        stored.clear()
        facts = index._load(repo, relpath, headers_only=True)
        problem = index._problems.get((repo.name, relpath))
        diagnostic = (problem.subtype, problem.message, problem.hint) if problem is not None else None
        key = stored[0][0] if stored else None
        digest, stat = repo.digests.get(relpath), repo.stats.get(relpath)
        out.append((_dumps(facts), digest, stat, diagnostic, index.parsed - before, key))
    return out


def _dumps(facts: FileFacts) -> bytes:
    if orjson is not None:
        return orjson.dumps(facts)
    # dumps, not dump: dumps uses the C encoder, dump to a file the pure-Python one (10x slower)
    return json.dumps(to_plain(facts), separators=(",", ":")).encode("utf-8")


def _loads(body: bytes) -> object:
    return orjson.loads(body) if orjson is not None else json.loads(body)


class Index:
    """Facts for the files of a workspace, parsed when first asked for."""

    def __init__(self, workspace: Workspace, cache_dir: Path | None = None) -> None:
        self.workspace = workspace
        self.cache = FactsCache(cache_dir) if cache_dir else None
        self._facts: dict[tuple[str, str], FileFacts] = {}
        self._headers: dict[tuple[str, str], FileFacts] = {}  # Rust header facts, until the full facts load
        self._texts: dict[tuple[str, str], str] = {}  # the text of each Rust file loaded, for word searches
        self._scanned: dict[tuple[str, str], tuple[str | None, str]] = {}  # Python text and digest, text indexes
        self._problems: dict[tuple[str, str], Diagnostic] = {}
        self.touched: set[tuple[str, str]] = set()
        self.parsed = 0  # files parsed by a frontend (not served from a cache): for tests and benchmarks
        self._text_indexes: dict[str, tuple[dict[str, list[tuple[str, str]]], Deps]] = {}
        #: Shows progress over a long pass (the Sphinx layer sets one): ``progress(items, summary)`` yields the
        #: items. None: no progress shown.
        self.progress: Callable[[list[str], str], Iterable[str]] | None = None
        #: ``digest(repo, relpath)``: a file's content digest, cheap when it has not changed (the engine sets
        #: its checker's); with a cache directory, it lets :meth:`python_text_index` reuse stored words.
        self.digest: Callable[[str, str], str] | None = None
        self._ahead: ahead.Scan | None = None  # text indexes being built ahead of need (see scan_ahead)
        self._ahead_wanted: dict[str, Callable[[str], set[str]]] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[set[tuple[str, str]]]:
        """Collect the ``(repo, relpath)`` of every file asked for inside the block."""
        previous = self.touched
        self.touched = set()
        try:
            yield self.touched
        finally:
            previous |= self.touched
            self.touched = previous

    def problem(self, repo: str, relpath: str) -> Diagnostic | None:
        """Why a file gave no facts (unreadable, syntax error), if it did not."""
        return self._problems.get((repo, relpath))

    def python_text_index(self, name: str, extract: Callable[[str], set[str]]) -> dict[str, list[tuple[str, str]]]:
        """``word -> [(repo, relpath)]`` over the text of every Python file of the workspace, the words of a
        file being ``extract(text)``: a cheap global index (no file is parsed), built once per index under
        ``name``. What it read (the file listings, every file's content) is recorded for each computation that
        asks for it, like the facts of a file.

        With a cache directory and :attr:`digest` set, each file's words are kept on disk by content digest
        (``text/<name>-<repo>.json``): a later build reads and scans only the files that changed, and takes
        the digests of the others from their size and modification time (:class:`~.tracecache.Checker`)."""
        found = self._text_indexes.get(name)
        if found is None:
            index: dict[str, list[tuple[str, str]]] = {}
            with self.workspace.recording() as deps:
                for repo in self.workspace.repos.values():
                    relpaths = self.workspace.python_relpaths(repo)
                    stored = self._stored_words(name, repo)
                    scanned = self._ahead.words(name, repo.name) if self._ahead is not None else None
                    words_of: dict[str, list[Any]] = {}
                    for relpath in self._shown(relpaths, f"codetrace: scanning {repo.name} ({name})... "):
                        words = self._known_words(repo, relpath, stored.get(relpath))
                        if words is None and scanned is not None:
                            words = self._scanned_words(repo, relpath, scanned.get(relpath))
                        if words is None:
                            text = self._scanned_text(repo, relpath)
                            if text is None:
                                continue
                            words = sorted(extract(text))
                        words_of[relpath] = [repo.digests[relpath], words]
                        for word in words:
                            index.setdefault(word, []).append((repo.name, relpath))
                    if words_of != stored:
                        self._store_words(name, repo, words_of)
            found = self._text_indexes[name] = (index, deps)
        self.workspace.replay_once(found[1])
        return found[0]

    def scan_ahead(self, extractors: dict[str, Callable[[str], set[str]]]) -> None:
        """Build the text indexes ``extractors`` names (``name -> extract``, as :meth:`python_text_index`
        takes them) in a forked worker (see :mod:`.ahead`), starting when the first Python file is parsed: a
        trace that never reaches Python (or reaches it late, from Rust) leaves the second core to the Rust
        prefetch meanwhile. Once per index, for the indexes and repositories that have no words stored yet,
        when the workspace has :data:`.ahead.SCAN_MIN` Python files or more. Nothing is recorded until an
        index is used."""
        if self._ahead_wanted is None:
            self._ahead_wanted = extractors

    def _start_ahead(self, extractors: dict[str, Callable[[str], set[str]]]) -> None:
        self._ahead_wanted = {}  # once
        jobs: ahead.Jobs = []
        with self.workspace.paused():
            for repo in self.workspace.repos.values():
                todo = {
                    n: f for n, f in extractors.items() if n not in self._text_indexes and not self._stored(n, repo)
                }
                if todo:
                    jobs.append((repo, self.workspace.python_relpaths(repo), todo))
        if sum(len(relpaths) for _, relpaths, _ in jobs) >= ahead.SCAN_MIN:
            self._ahead = ahead.start(jobs, list(extractors), self._parse_ahead if self.cache is not None else None)

    def _parse_ahead(self, repo: str, relpath: str) -> None:
        """In the scan worker: the facts of a hinted file, into the facts cache (where this index's process
        finds them when it needs the file, at a tenth of the cost of parsing it)."""
        if self.cache is not None:
            self.cache.deferred = None  # written at once: the worker's facts are for the other process
            with self.workspace.paused():
                self._load(self.workspace.repos[repo], relpath)

    def _hint_imports(self, scan: ahead.Scan, facts: FileFacts) -> None:
        """Hint the scan worker at the files of the modules a Python file imports at module level: a trace
        that needed this file looks up names there next (measured on the five real flows: 30 to 45% of the
        Python files a trace parses are hinted before it asks for them)."""
        with self.workspace.paused():
            for imp in facts.imports:
                if imp.scope:
                    continue
                module, parent = imp.target, imp.target.rpartition(".")[0]
                for candidate in (module, parent) if parent else (module,):
                    files = [(r, f) for r in self.workspace.repos.values() for f in r.module_files(candidate)]
                    for repo, path in files:
                        relpath = repo.relpath(path)
                        if (repo.name, relpath) not in self._facts:
                            scan.hint(repo.name, relpath)
                    if files:
                        break

    def close(self) -> None:
        """Stop the worker building text indexes and parsing ahead, if one runs (it also stops when the index
        is garbage, or the process ends)."""
        if self._ahead is not None:
            self._ahead.cancel()

    def _stored(self, name: str, repo: Repo) -> bool:
        path = self._words_file(name, repo)
        return path is not None and path.is_file()

    def _scanned_words(self, repo: Repo, relpath: str, found: ahead.Found | None) -> list[str] | None:
        """The words the worker found in a file, recorded as read with the digest of what it read; None when
        it found nothing there, or read another content than this process did."""
        if found is None:
            return None
        digest, stat, words = found
        mine = repo.digests.get(relpath)
        if mine is not None and mine != digest:
            return None
        if mine is None and stat is not None:
            repo.stats[relpath] = stat
        repo.note_read(relpath, digest)
        return list(words)

    def _scanned_text(self, repo: Repo, relpath: str) -> str | None:
        """A Python file's text for a text index (None when it cannot be read), recorded as read. Kept in
        memory for the next index: a cold trace builds two or three, and reading and hashing every file of
        two checkouts costs 0.3 s each time."""
        key = (repo.name, relpath)
        kept = self._scanned.get(key)
        if kept is not None:
            repo.note_read(relpath, kept[1])
            return kept[0]
        try:
            text: str | None = repo.read_text(relpath)
        except CodetraceError:
            text = None
        self._scanned[key] = (text, repo.digests[relpath])
        return text

    def _known_words(self, repo: Repo, relpath: str, known: list[Any] | None) -> list[str] | None:
        """The stored words of a file whose content has the stored digest (recorded as read), else None."""
        if known is None or self.digest is None:
            return None
        digest = self.digest(repo.name, relpath)
        if digest != known[0] or digest.startswith("!"):
            return None
        repo.note_read(relpath, digest)
        return list(known[1])

    def _words_file(self, name: str, repo: Repo) -> Path | None:
        if self.cache is None or self.digest is None:
            return None
        from ..tracecache import code_version  # the extractors are engine code: any change starts afresh

        key = hashlib.sha256(f"{code_version()}\0{repo.root}\0{name}".encode()).hexdigest()[:16]
        return self.cache.directory / "text" / f"{name}-{repo.name}-{key}.json"

    def _stored_words(self, name: str, repo: Repo) -> dict[str, list[Any]]:
        path = self._words_file(name, repo)
        try:
            data = _loads(path.read_bytes()) if path is not None else None
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _store_words(self, name: str, repo: Repo, words_of: dict[str, list[Any]]) -> None:
        path = self._words_file(name, repo)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as out:
                out.write(orjson.dumps(words_of) if orjson is not None else json.dumps(words_of).encode())
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)

    def _shown(self, items: list[str], summary: str) -> Iterable[str]:
        return self.progress(items, summary) if self.progress is not None and items else items

    def prefetch(self, repo: Repo, relpaths: list[str], summary: str) -> None:
        """Load the header facts (:meth:`headers`) of many files ahead of a pass that needs them all (a Rust
        workspace's module trees and impls), showing progress. Nothing is recorded: the files count as read
        when the pass asks for them. With two cores or more and :data:`PARALLEL_MIN` files or more, a forked
        worker process parses the second half (see :meth:`_forked`)."""
        todo = [p for p in relpaths if (repo.name, p) not in self._facts and (repo.name, p) not in self._headers]
        scan = (
            self._ahead.paused() if self._ahead is not None and len(todo) >= PARALLEL_MIN else contextlib.nullcontext()
        )
        with self.workspace.paused(), scan:  # the text scan waits: the second core is this prefetch's
            pool, theirs = self._forked(repo, todo)
            mine = todo[: len(todo) - len(theirs)]
            for relpath in self._shown(mine, summary):
                self._headers[repo.name, relpath] = self._load(repo, relpath, headers_only=True)
            for relpath in self._collect(repo, pool, theirs):  # what the worker could not give: parsed here
                self._headers[repo.name, relpath] = self._load(repo, relpath, headers_only=True)

    def _forked(self, repo: Repo, todo: list[str]) -> tuple[Any, list[str]]:
        """Start a worker process (forked: it has this index, its cache and the repo as they are) on the second
        half of ``todo``: ``(the pending result, the files handed to it)``, or ``(None, [])`` when parallel
        parsing does not apply (few files, one core, no ``fork``, threads running, a worker process that may
        not have children). Header facts travel back as JSON: decoding them costs a tenth of parsing them.
        Measured on Dynamo's 808 crate files: 1.96 s serial, 1.16 s with the worker (2 cores)."""
        if len(todo) < PARALLEL_MIN or not may_fork():
            return None, []
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if "fork" not in multiprocessing.get_all_start_methods():
                return None, []
            theirs = todo[len(todo) // 2 :]
            _FORKED_JOBS[id(self)] = (self, repo)
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            return (pool, pool.submit(_parse_headers, id(self), theirs)), theirs
        except Exception:  # parallel parsing is an optimisation: any failure means serial
            return None, []
        finally:
            _FORKED_JOBS.pop(id(self), None)

    def _collect(self, repo: Repo, pending: Any, theirs: list[str]) -> list[str]:
        """Take the worker's header facts; returns the files it did not give (to parse here)."""
        if pending is None:
            return []
        pool, future = pending
        try:
            results = future.result()
        except Exception:  # a worker that died or failed: its files are parsed here
            return theirs
        finally:
            pool.shutdown(wait=True)
        missing = []
        for relpath, (body, digest, stat, problem, parsed, key) in zip(theirs, results, strict=True):
            try:
                facts = facts_from_plain(_loads(body))
            except (ValueError, KeyError, TypeError):
                missing.append(relpath)
                continue
            self._headers[repo.name, relpath] = facts
            self.parsed += parsed
            if key is not None and self.cache is not None:
                self.cache.put(key, body)
            if digest is not None and relpath not in repo.digests:
                repo.digests[relpath] = digest
                if stat is not None:
                    repo.stats[relpath] = tuple(stat)
            if problem is not None:
                self._problems[repo.name, relpath] = Diagnostic(*problem)
        return missing

    def facts(self, repo: Repo, relpath: str) -> FileFacts:
        """Facts of ``relpath`` in ``repo``; never raises: problems give empty facts plus :meth:`problem`."""
        key = (repo.name, relpath)
        self.touched.add(key)
        cached = self._facts.get(key)
        if cached is not None:
            return cached
        facts = self._load(repo, relpath)
        self._facts[key] = facts
        self._headers.pop(key, None)
        return facts

    def headers(self, repo: Repo, relpath: str) -> FileFacts:
        """What a whole-workspace pass needs of a Rust file (its items and ``use`` declarations, see
        :func:`~.rust.parse_rust`): the full facts once they are loaded, else the header facts, which cost
        half as much. A body (calls, locals, spawned blocks) needs :meth:`facts`. Other files: :meth:`facts`."""
        key = (repo.name, relpath)
        if not relpath.endswith(".rs") or key in self._facts:
            return self.facts(repo, relpath)
        self.touched.add(key)
        cached = self._headers.get(key)
        if cached is None:
            cached = self._headers[key] = self._load(repo, relpath, headers_only=True)
        return cached

    def text(self, repo: Repo, relpath: str) -> str:
        """The text of a Rust file whose facts were loaded (else read now); ``""`` when it cannot be read.
        Nothing is recorded: callers search files whose facts they already depend on."""
        found = self._texts.get((repo.name, relpath))
        if found is None:
            with self.workspace.paused(), contextlib.suppress(CodetraceError):
                found = repo.read_text(relpath)
        return found or ""

    def header_only(self) -> set[tuple[str, str]]:
        """The ``(repo, relpath)`` of the files whose header facts are loaded but not their full facts."""
        return set(self._headers)

    def _load(self, repo: Repo, relpath: str, headers_only: bool = False) -> FileFacts:
        lang = Lang.PYTHON if relpath.endswith((".py", ".pyi")) else Lang.RUST
        if lang is Lang.PYTHON and self._ahead_wanted:
            self._start_ahead(self._ahead_wanted)
        module = ""
        is_package = relpath.endswith(("__init__.py", "__init__.pyi"))
        if lang is Lang.PYTHON:
            module = repo.module_name(repo.root / relpath) or ""
        try:
            source = repo.read_text(relpath)
        except CodetraceError as exc:
            self._problems[(repo.name, relpath)] = exc.diagnostic
            return FileFacts(path=relpath, lang=lang, module=module, error=exc.diagnostic.message)
        if lang is Lang.RUST:
            self._texts[repo.name, relpath] = source
        if lang is not Lang.PYTHON and not relpath.endswith(".rs"):
            return FileFacts(path=relpath, lang=lang, module=module, error="no frontend for this language yet")
        version = PY_VERSION if lang is Lang.PYTHON else RS_VERSION + ("-headers" if headers_only else "")
        digest = hashlib.sha256(f"{version}\0{relpath}\0{module}\0".encode() + source.encode("utf-8")).hexdigest()
        facts = self.cache.get(digest) if self.cache is not None else None
        if facts is None:
            if lang is Lang.PYTHON:
                facts = parse_python(source, relpath, module, is_package)
            else:
                facts = parse_rust(source, relpath, headers_only)
            self.parsed += 1
            if self.cache is not None:
                self.cache.put(digest, facts)
        if lang is Lang.PYTHON and self._ahead is not None and self._ahead.hints_open():
            self._hint_imports(self._ahead, facts)
        if facts.error:
            self._problems[(repo.name, relpath)] = Diagnostic(
                "parse", f"{repo.name}:{relpath}: {facts.error}", "calls in this file are not traced"
            )
        return facts
