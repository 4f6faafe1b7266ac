"""Trace cache: finished traces kept on disk, reused while nothing they depended on has changed.

A warm build runs no resolution at all: :meth:`TraceCache.lookup` finds the entry stored for a flow under its
key (a digest of the engine's own code, the flow spec and the workspace configuration) and checks what the
trace depended on, as :meth:`~sphinxext.codetrace.workspace.Workspace.recording` saw it while it ran:

* every file it read, by content: the SHA-256 taken when the file was read (the facts cache reads the same
  bytes), against the file's bytes now; a file now missing, outside its repo or over the size cap differs;
* every path a lookup probed, by what is there (``file``, ``dir``, ``none``, ``outside``): the negative
  lookups count, so a module that appears where an import found none, a new ``.pyi`` stub or a new ``mod``
  file invalidates the traces that looked for it;
* the file listings it used, by a digest of the listing: ``pyfiles`` (a repo's Python files, behind the
  global class-header index that finds subclasses) and ``cargo`` (a repo's crates).

Any difference and the flow is traced again, and stored again. The current state is computed at most once
per :class:`Checker` (one per engine, i.e. per build): traces that share files hash them once.

Entries are written like facts: one JSON file per key under ``<cache>/traces``, atomically (written to a
temporary file, then renamed into place, so builds sharing a cache never see half an entry), holding a
SHA-256 of their payload; a damaged, truncated or foreign entry is ignored and overwritten. A trace cut short
by the time budget is not stored (another run may finish it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import sys
import tempfile
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import behind
from .cargo import discover_crates
from .model import Trace, to_plain
from .spec import FlowSpec
from .workspace import Deps, Repo, Workspace

FORMAT = 1
#: A file modified less than this long before it was hashed is hashed again next time (its mtime may not
#: move on a quick second edit).
RACY_NS = 2_000_000_000
_CODE_VERSION: list[str] = []


def code_version() -> str:
    """A digest of this package's source (``.py`` and the tree-sitter query): any change to the engine
    invalidates every stored trace, with no version number to forget to bump."""
    if not _CODE_VERSION:
        base = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(p for p in base.rglob("*") if p.suffix in (".py", ".scm") and p.is_file()):
            digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        _CODE_VERSION.append(digest.hexdigest())
    return _CODE_VERSION[0]


def trace_key(spec: FlowSpec, workspace: Workspace) -> str:
    """The key of a flow's entry: the engine's code, the Python version, the whole spec and, per repo, what
    decides how its files are found and read (root, Python roots, size cap)."""
    data = {
        "format": FORMAT,
        "code": code_version(),
        "python": list(sys.version_info[:2]),
        "spec": to_plain(spec),
        "repos": [
            {
                "name": repo.name,
                "root": str(repo.root),
                "python_roots": [str(r) for r in repo.python_roots],
                "max_file_bytes": repo.max_file_bytes,
            }
            for repo in workspace.repos.values()
        ],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# -- the state of the workspace now ------------------------------------------------------------------------------


def _pyfiles(workspace: Workspace, repo: Repo) -> str:
    return "\n".join(workspace.python_relpaths(repo))


def _cargo(workspace: Workspace, repo: Repo) -> str:
    return repr(discover_crates(repo.root))


#: The file listings a computation may depend on (see :meth:`~.workspace.Repo.note_scan`), each as a text
#: that changes when the listing does.
SCANS: dict[str, Callable[[Workspace, Repo], str]] = {"pyfiles": _pyfiles, "cargo": _cargo}


class Checker:
    """The workspace's current state, computed on demand and remembered for the life of the checker (files
    are assumed not to change while one build runs).

    Contents are compared by SHA-256. With a cache directory, the digest of each file is kept there with the
    file's size and modification time (``traces/hashes-*.json``, one per repo): a file whose size and mtime
    are those it had when it was hashed, and whose mtime was already more than :data:`RACY_NS` old then, is
    not read again (as git's index does; a file written just before it was hashed is always read again). A
    fresh checkout (new mtimes, same content) costs one read of each file, and no rebuild."""

    def __init__(self, workspace: Workspace, directory: Path | None = None) -> None:
        self.workspace = workspace
        self.directory = directory / "traces" if directory is not None else None
        self._reads: dict[tuple[str, str], str] = {}
        self._probes: dict[tuple[str, str], str] = {}
        self._scans: dict[tuple[str, str], str] = {}
        self._hashes: dict[str, dict[str, list[Any]]] = {}  # repo -> relpath -> [size, mtime_ns, hashed_ns, digest]
        self._dirty: set[str] = set()

    def read(self, repo: str, relpath: str) -> str:
        key = (repo, relpath)
        found = self._reads.get(key)
        if found is None:
            found = self._reads[key] = self._digest(self.workspace.repos[repo], relpath)
        return found

    def _digest(self, repo: Repo, relpath: str) -> str:
        hashes = self._hash_cache(repo)
        stat = repo.stat_key(relpath) if hashes is not None else None
        if stat is not None and hashes is not None:
            known = hashes.get(relpath)
            if known is not None and (known[0], known[1]) == stat and stat[1] + RACY_NS < known[2]:
                return str(known[3])
        hashed_at = time.time_ns()
        digest = repo.content_digest(relpath)
        if stat is not None and hashes is not None and not digest.startswith("!"):
            hashes[relpath] = [stat[0], stat[1], hashed_at, digest]
            self._dirty.add(repo.name)
        return digest

    def learn(self, reads: dict[tuple[str, str], str]) -> None:
        """Keep the digests a trace computed while reading (with the stat the repo saw then), so the next
        build need not read those files again to check them."""
        for (name, relpath), digest in reads.items():
            repo = self.workspace.repos.get(name)
            seen = repo.stats.get(relpath) if repo is not None else None
            hashes = self._hash_cache(repo) if repo is not None and seen is not None else None
            if hashes is None or seen is None or repo is None or repo.digests.get(relpath) != digest:
                continue  # (the stat must be that of the read that gave this digest)
            if hashes.get(relpath) != [*seen, digest]:
                hashes[relpath] = [*seen, digest]
                self._dirty.add(name)

    def _hash_file(self, repo: Repo) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"hashes-{hashlib.sha256(str(repo.root).encode()).hexdigest()[:16]}.json"

    def _hash_cache(self, repo: Repo) -> dict[str, list[Any]] | None:
        path = self._hash_file(repo)
        if path is None:
            return None
        found = self._hashes.get(repo.name)
        if found is None:
            found = {}
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("format") == FORMAT and data.get("root") == str(repo.root):
                    found = {
                        k: v
                        for k, v in data["files"].items()
                        if isinstance(v, list) and len(v) == 4 and all(isinstance(x, int) for x in v[:3])
                    }
            self._hashes[repo.name] = found
        return found

    def save(self) -> None:
        """Write the digests learned since the last save (atomically; a failure only costs a re-read)."""
        for name in sorted(self._dirty):
            repo = self.workspace.repos[name]
            path = self._hash_file(repo)
            if path is not None:
                text = json.dumps({"format": FORMAT, "root": str(repo.root), "files": self._hashes[name]})
                _write_atomic(path, text)
        self._dirty.clear()

    def probe(self, repo: str, path: str) -> str:
        key = (repo, path)
        found = self._probes.get(key)
        if found is None:
            r = self.workspace.repos[repo]
            found = self._probes[key] = r.probe_state(os.path.join(r.root, path))
        return found

    def scan(self, repo: str, kind: str) -> str:
        key = (repo, kind)
        found = self._scans.get(key)
        if found is None:
            text = SCANS[kind](self.workspace, self.workspace.repos[repo]) if kind in SCANS else ""
            found = self._scans[key] = hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()
        return found

    def holds(self, deps: Deps, scans: dict[tuple[str, str], str], first: set[tuple[str, str]]) -> bool:
        """Whether everything recorded in ``deps`` (and ``scans``, their digests) is still so. The files in
        ``first`` (those the trace itself walked through) are checked before the rest: a changed traced file
        is found without hashing the whole workspace."""
        repos = self.workspace.repos
        if any(repo not in repos for repo, _ in [*deps.reads, *deps.probes, *scans]):
            return False
        if any(self.probe(repo, path) != state for (repo, path), state in deps.probes.items()):
            return False
        ordered = sorted(deps.reads, key=lambda key: (key not in first, key))
        if any(self.read(repo, relpath) != deps.reads[repo, relpath] for repo, relpath in ordered):
            return False
        return all(self.scan(repo, kind) == digest for (repo, kind), digest in scans.items())


def _write_atomic(target: Path, text: str) -> None:
    """``text`` into ``target`` through a temporary file renamed into place; errors are ignored."""
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# -- (de)serialisation of traces ---------------------------------------------------------------------------------

_DECODERS: dict[Any, Callable[[Any], Any]] = {}


def _decoder(hint: Any) -> Callable[[Any], Any]:
    """A function turning what :func:`~.model.to_plain` made of a value of type ``hint`` back into it; it
    raises on anything else (made once per type)."""
    found = _DECODERS.get(hint)
    if found is None:
        found = _DECODERS[hint] = _make_decoder(hint)
    return found


def _make_decoder(hint: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    if hint is Any:
        return lambda value: value
    if origin in (typing.Union, types.UnionType):
        options = [_decoder(o) for o in typing.get_args(hint) if o is not type(None)]
        optional = type(None) in typing.get_args(hint)

        def union(value: Any) -> Any:
            if value is None and optional:
                return None
            for option in options:
                try:
                    return option(value)
                except (TypeError, ValueError, KeyError):
                    continue
            raise ValueError(f"no type of {hint} fits {value!r}")

        return union
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda value: tuple(item(v) for v in _list(value))
        items = [_decoder(a) for a in args]
        return lambda value: tuple(f(v) for f, v in zip(items, _list(value), strict=True))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls = hint
        hints = typing.get_type_hints(cls)
        fields = {f.name: _decoder(hints[f.name]) for f in dataclasses.fields(cls)}

        def instance(value: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object for {cls.__name__}")
            return cls(**{name: fields[name](v) for name, v in value.items()})  # an unknown name: KeyError

        return instance
    if hint in (str, int, float, bool):

        def scalar(value: Any) -> Any:
            if type(value) is not hint and not (hint is float and type(value) is int):
                raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
            return value

        return scalar
    raise TypeError(f"cannot decode {hint}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def trace_from_plain(data: Any) -> Trace:
    """Inverse of :func:`~.model.to_plain` for a :class:`~.model.Trace`; raises on any malformed input."""
    trace = _decoder(Trace)(data)
    assert isinstance(trace, Trace)
    return trace


# -- the store -----------------------------------------------------------------------------------------------------


@dataclass
class Hit:
    """A stored trace that still holds, with what it depends on (to declare and to record again)."""

    trace: Trace
    touched: set[tuple[str, str]]
    deps: Deps


class TraceCache:
    """Traces on disk under ``directory/traces``, one JSON file per key (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "traces"
        self.hits = 0
        self.misses = 0

    def _file(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def lookup(self, key: str, checker: Checker) -> Hit | None:
        """The trace stored under ``key`` when it is intact and everything it depended on still holds."""
        behind.wait(key)  # a child of this process writing that entry (see behind) is waited for
        hit = self._load(key, checker)
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def _load(self, key: str, checker: Checker) -> Hit | None:
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            text = data["payload"]
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != data.get("sha"):
                return None
            payload = json.loads(text)
            touched = {(repo, path) for repo, path in payload["touched"]}
            deps = Deps(
                reads={(repo, path): digest for repo, path, digest in payload["reads"]},
                probes={(repo, path): state for repo, path, state in payload["probes"]},
                scans={(repo, kind) for repo, kind, _ in payload["scans"]},
            )
            scans = {(repo, kind): digest for repo, kind, digest in payload["scans"]}
            if not all(isinstance(v, str) for v in [*deps.reads.values(), *deps.probes.values(), *scans.values()]):
                return None
            holds = checker.holds(deps, scans, touched)
            checker.save()
            return Hit(trace_from_plain(payload["trace"]), touched, deps) if holds else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(self, key: str, trace: Trace, touched: set[tuple[str, str]], deps: Deps, checker: Checker) -> None:
        """Write the entry for ``key`` (:meth:`write`), and keep the digests the trace learned (see
        :meth:`Checker.learn`)."""
        self.write(key, trace, touched, deps, self.scans(deps, checker))
        checker.learn(deps.reads)
        checker.save()

    @staticmethod
    def scans(deps: Deps, checker: Checker) -> dict[tuple[str, str], str]:
        """The digests of the listings ``deps`` depends on, for :meth:`write`."""
        return {(repo, kind): checker.scan(repo, kind) for repo, kind in deps.scans}

    def write(
        self, key: str, trace: Trace, touched: set[tuple[str, str]], deps: Deps, scans: dict[tuple[str, str], str]
    ) -> None:
        """Write the entry for ``key``; problems writing are ignored (the next build traces again)."""
        payload = {
            "trace": to_plain(trace),
            "touched": sorted([repo, path] for repo, path in touched),
            "reads": sorted([repo, path, digest] for (repo, path), digest in deps.reads.items()),
            "probes": sorted([repo, path, state] for (repo, path), state in deps.probes.items()),
            "scans": sorted([repo, kind, digest] for (repo, kind), digest in scans.items()),
        }
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        entry = {"format": FORMAT, "key": key, "sha": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        _write_atomic(self._file(key), json.dumps({**entry, "payload": text}))


__all__ = ["SCANS", "Checker", "Hit", "TraceCache", "code_version", "trace_from_plain", "trace_key"]
