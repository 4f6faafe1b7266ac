"""Workspace: the checked-out repositories a trace may read, and how to link into them.

This stage knows where each repository lives, which commit it is at, how a ``path:line`` becomes a URL, where
its Python source roots are, and it is the only place that opens source files: every read goes through
:meth:`Repo.read`, which refuses anything outside the repository root (after resolving symlinks), anything
over the size cap, and anything that is not UTF-8 text.

Inside :meth:`Workspace.recording`, everything learned from the repositories is recorded as :class:`Deps`:
the content digest of every file read, what was found at every path probed (a module that did not exist
counts), the file listings used; the trace cache checks a stored trace against them.

It does not parse: it hands bytes to the index. Git metadata is read directly from ``.git`` (HEAD, packed
refs, the ``origin`` remote in ``config``); no subprocess is started. A ``.git`` file that points elsewhere (a
worktree or submodule) is followed for those metadata files only.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import CodetraceError, Diagnostic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Files larger than this are not parsed (a warning says so); configurable per workspace.
DEFAULT_MAX_FILE_BYTES = 2_000_000

#: Directories never searched for Python roots or modules.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "target",
        "build",
        "dist",
        "__pycache__",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
    }
)

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_REMOTE_RES = (
    re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+?)(?:\.git)?/?$"),
    re.compile(r"^(?:[^@/]+@)?(?P<host>[^/:]+):(?P<path>[^/].+?)(?:\.git)?/?$"),
)


@dataclass(frozen=True, slots=True)
class RepoConfig:
    """What conf.py (or the CLI) says about one repository."""

    name: str
    path: Path
    url: str | None = None  # link template with {commit}, {path}, {line}
    python_roots: tuple[str, ...] | None = None  # relative to the repo; detected when None
    commit: str | None = None  # overrides detection (e.g. CI that checks out without .git)


#: The keys a ``codetrace_repos`` entry may have.
REPO_KEYS = ("path", "url", "python_roots", "commit", "env")
_ENV_NAME = re.compile(r"[A-Za-z_]\w*")


def _unchecked(value: Any) -> bool:
    """Whether a repo entry declares a repo that is not checked out: its path is ``None`` or empty (read from
    an unset environment variable, typically)."""
    path = value.get("path") if isinstance(value, Mapping) else value
    return path is None or (isinstance(path, str) and not path.strip())


def unchecked_repos(raw: Any) -> dict[str, str | None]:
    """The repos of ``codetrace_repos`` declared without a checkout (``"path": None`` or ``""``), each with
    the environment variable its ``"env"`` key names (``None`` without one). A flow that needs one of them
    is shown as a placeholder saying how to enable it, not as a warning."""
    if not isinstance(raw, Mapping):
        return {}
    found: dict[str, str | None] = {}
    for name, value in raw.items():
        if isinstance(name, str) and (value is None or isinstance(value, (str, Mapping))) and _unchecked(value):
            env = value.get("env") if isinstance(value, Mapping) else None
            found[name] = env if isinstance(env, str) and _ENV_NAME.fullmatch(env) else None
    return dict(sorted(found.items()))


def parse_repo_configs(raw: Mapping[str, Any], base: Path) -> tuple[list[RepoConfig], list[str]]:
    """Validate ``codetrace_repos``: ``{name: {"path": ..., "url": ..., "python_roots": [...]}}`` or
    ``{name: "path"}``. Returns the configs and a list of problems (each one a repo left out). A repo whose
    path is ``None`` or empty is declared but not checked out (see :func:`unchecked_repos`): left out
    without a problem."""
    configs: list[RepoConfig] = []
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        return [], [f"codetrace_repos must be a dict of name -> {{'path': ...}}, not {type(raw).__name__}"]
    for name in sorted(raw):
        value = raw[name]
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            problems.append(f"repo name {name!r} must be an identifier-like string")
            continue
        if isinstance(value, (str, os.PathLike)) or value is None:
            value = {"path": value}
        if not isinstance(value, Mapping) or "path" not in value:
            problems.append(f"repo {name!r}: expected {{'path': ...}}, got {value!r}")
            continue
        unknown = sorted(set(value) - set(REPO_KEYS))
        if unknown:
            problems.append(f"repo {name!r}: unknown keys {', '.join(unknown)} (known: {', '.join(REPO_KEYS)})")
        env = value.get("env")
        if env is not None and (not isinstance(env, str) or not _ENV_NAME.fullmatch(env)):
            problems.append(f"repo {name!r}: env must name an environment variable, got {env!r}")
        if _unchecked(value):
            continue
        path = Path(os.path.expanduser(str(value["path"])))
        if not path.is_absolute():
            path = base / path
        roots = value.get("python_roots")
        if roots is not None and (isinstance(roots, str) or not all(isinstance(r, str) for r in roots)):
            problems.append(f"repo {name!r}: python_roots must be a list of paths")
            roots = None
        url = value.get("url")
        if url is not None and not _is_safe_template(str(url)):
            problems.append(f"repo {name!r}: url template must start with http:// or https://")
            url = None
        configs.append(
            RepoConfig(
                name=name,
                path=path,
                url=url,
                python_roots=tuple(roots) if roots is not None else None,
                commit=value.get("commit"),
            )
        )
    return configs, problems


def _is_safe_template(url: str) -> bool:
    return url.startswith(("https://", "http://"))


@dataclass(eq=False)
class Deps:
    """What a computation learned from the repositories, so it can be checked later without redoing it:
    ``reads`` the content digest of every file it read (``(repo, relpath) -> digest``, see
    :meth:`Repo.content_digest`), ``probes`` what it found at every path it looked at (``(repo, path) ->
    state``, see :meth:`Repo.probe`: a module that did not exist counts as much as one that did), ``scans``
    the file listings it used (``(repo, kind)``, see :meth:`Repo.note_scan`)."""

    reads: dict[tuple[str, str], str] = field(default_factory=dict)
    probes: dict[tuple[str, str], str] = field(default_factory=dict)
    scans: set[tuple[str, str]] = field(default_factory=set)
    replayed: dict[int, Deps] = field(default_factory=dict, repr=False)  # see Workspace.replay_once

    def update(self, other: Deps) -> None:
        self.reads.update(other.reads)
        self.probes.update(other.probes)
        self.scans |= other.scans


@dataclass
class Repo:
    """One checked-out repository: its root, commit, link scheme and Python source roots."""

    name: str
    root: Path
    commit: str | None = None
    link_template: str | None = None
    python_roots: tuple[Path, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: module -> (files found, the probes that found them): a cache hit records the same probes again
    _module_cache: dict[str, tuple[list[Path], tuple[tuple[str, str], ...]]] = field(default_factory=dict, repr=False)
    #: Paths refused because they lead outside the repository, in the order met (the trace reports them).
    refused: list[Diagnostic] = field(default_factory=list, repr=False)
    #: relpath -> content digest of every file read (see :meth:`read_text`), the last read's.
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    #: relpath -> (size, mtime_ns, when it was read in ns) of every file read, the last read's.
    stats: dict[str, tuple[int, int, int]] = field(default_factory=dict, repr=False)
    #: The active :class:`Deps` recorders (shared by the repos of a workspace; see :meth:`Workspace.recording`).
    recorders: list[Deps] = field(default_factory=list, repr=False)
    _real_dirs: dict[str, str] = field(default_factory=dict, repr=False)  # directory -> resolved ("": outside)
    #: Python root -> (its path as a string, its probe key with a trailing "/"): see :meth:`probe_in_root`
    _root_strings: dict[Path, tuple[str, str]] = field(default_factory=dict, repr=False)
    #: While a trace runs (see :meth:`Workspace.listed`): directory -> the names in it, so that a module lookup
    #: that finds nothing (most of them) costs no system call. Shared by the repos of a workspace.
    listings: dict[str, frozenset[str]] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: RepoConfig, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Repo:
        """Inspect a checkout; raises :class:`CodetraceError` when the path is not a directory."""
        root = config.path.resolve()
        if not root.is_dir():
            raise CodetraceError(
                "repo",
                f"repo {config.name!r}: {config.path} is not a directory",
                "check codetrace_repos in conf.py (relative paths are relative to conf.py)",
            )
        commit = config.commit or read_git_commit(root)
        template = config.url or remote_link_template(read_git_remote(root))
        repo = cls(name=config.name, root=root, commit=commit, link_template=template, max_file_bytes=max_file_bytes)
        if config.python_roots is not None:
            roots = []
            for rel in config.python_roots:
                inside = repo.contained(root / rel)
                if inside is None:
                    repo.refuse(root / rel)
                elif inside.is_dir():
                    roots.append(inside)
            repo.python_roots = tuple(roots)
        else:
            repo.python_roots = detect_python_roots(root)
        return repo

    # -- containment and reading ------------------------------------------------------------------------------

    def contained(self, path: Path) -> Path | None:
        """``path`` resolved (symlinks followed), or None when that lands outside the repository."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # symlink loops
            return None
        if resolved == self.root or self.root in resolved.parents:
            return resolved
        return None

    def relpath(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read_text(self, relpath: str) -> str:
        """The text of a file in this repo; raises :class:`CodetraceError` (subtype ``read``) when the file
        is outside the repo, missing, too large, binary or not UTF-8. The content's digest (see
        :meth:`content_digest`) is kept in :attr:`digests` and recorded as a dependency."""
        try:
            data = self._read_bytes(relpath, self.stats)
        except CodetraceError as exc:
            self._note_read(relpath, "!" + exc.diagnostic.message)
            raise
        self._note_read(relpath, hashlib.sha256(data).hexdigest())
        if b"\0" in data[:8192]:
            raise CodetraceError("read", f"{self.name}:{relpath} looks binary; not parsed")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CodetraceError("read", f"{self.name}:{relpath} is not UTF-8 (byte {exc.start}); not parsed") from None

    def content_digest(self, relpath: str) -> str:
        """What :meth:`read_text` would record for ``relpath`` now: the SHA-256 of its bytes, or ``!`` and the
        reason it cannot be read (outside the repo, missing, over the size cap). Nothing is recorded."""
        try:
            return hashlib.sha256(self._read_bytes(relpath)).hexdigest()
        except CodetraceError as exc:
            return "!" + exc.diagnostic.message

    def note_read(self, relpath: str, digest: str) -> None:
        """Record that what was learned from ``relpath`` came from the content with ``digest`` (known without
        reading it again: an index kept by digest)."""
        self._note_read(relpath, digest)

    def _note_read(self, relpath: str, digest: str) -> None:
        self.digests[relpath] = digest
        for deps in self.recorders:
            deps.reads[self.name, relpath] = digest

    def _read_bytes(self, relpath: str, stats: dict[str, tuple[int, int, int]] | None = None) -> bytes:
        """The bytes of ``relpath`` (containment and size checked); ``stats`` gets its ``(size, mtime_ns,
        time read)``."""
        read_at = time.time_ns()
        path = self._inside(relpath)
        if path is None:
            raise CodetraceError(
                "read",
                f"{self.name}:{relpath} is outside the repository",
                "codetrace only reads files inside the configured repos",
            )
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                size = st.st_size
                if stats is not None:
                    stats[relpath] = (size, st.st_mtime_ns, read_at)
                if size > self.max_file_bytes:
                    raise CodetraceError(
                        "read",
                        f"{self.name}:{relpath} is {size} bytes, over the {self.max_file_bytes}-byte cap; not parsed",
                        "raise codetrace_max_file_bytes to include it",
                    )
                return handle.read()
        except OSError as exc:
            raise CodetraceError("read", f"cannot read {self.name}:{relpath}: {exc.strerror}") from None

    def _inside(self, relpath: str, not_link: bool = False) -> str | None:
        """:meth:`contained` for ``root / relpath``, as a string, resolving each directory once: a file that is
        not a symlink is where its resolved directory says (warm builds check thousands of files)."""
        full = os.path.join(self.root, relpath)
        head, tail = os.path.split(full)
        if tail in ("", ".", "..") or (not not_link and os.path.islink(full)):
            resolved = self.contained(Path(full))
            return str(resolved) if resolved is not None else None
        real = self._real_dirs.get(head)
        if real is None:
            inside = self.contained(Path(head))
            real = self._real_dirs[head] = str(inside) if inside is not None else ""
        return os.path.join(real, tail) if real else None

    def stat_key(self, relpath: str) -> tuple[int, int] | None:
        """``(size, mtime_ns)`` of a file inside the repo, None when it is not there (or not inside)."""
        full = os.path.join(self.root, relpath)
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                path = self._inside(relpath)
                if path is None:
                    return None
                st = os.stat(path)
            elif self._inside(relpath, not_link=True) is None:
                return None
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def probe(self, path: Path) -> str:
        """What is at ``path`` (inside this repo's root): ``"file"``, ``"dir"``, ``"none"``, or ``"outside"``
        when it exists but resolves outside the repository. Recorded as a dependency, so a module that appears
        where a lookup found none invalidates what was computed from its absence."""
        state = self.probe_state(path)
        self._note_probe(self._probe_key(path), state)
        return state

    def probe_state(self, path: Path | str) -> str:
        """:meth:`probe` without recording it."""
        if not os.path.lexists(path):
            return "none"
        if self.contained(Path(path)) is None:
            return "outside"
        return "file" if os.path.isfile(path) else "dir" if os.path.isdir(path) else "none"

    def probe_in_root(self, root: Path, relpath: str) -> tuple[str, str]:
        """:meth:`probe` of ``root / relpath`` (``root`` a Python root, ``relpath`` POSIX), and its key (the
        path relative to the repository), with strings only: module lookups probe every root for every
        module, thousands of paths that are mostly not there."""
        base = self._root_strings.get(root)
        if base is None:
            prefix = self._probe_key(root)
            base = self._root_strings[root] = (str(root).rstrip("/"), "" if prefix == "." else prefix + "/")
        key = base[1] + relpath
        path = f"{base[0]}/{relpath}"
        listings = self.listings
        if listings is not None:
            folder, _, name = path.rpartition("/")
            if name not in _listed(listings, folder, base[0]):
                self._note_probe(key, "none")
                return key, "none"
        state = self.probe_state(path)
        self._note_probe(key, state)
        return key, state

    def _probe_key(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _note_probe(self, key: str, state: str) -> None:
        for deps in self.recorders:
            deps.probes[self.name, key] = state

    def note_scan(self, kind: str) -> None:
        """Record that a result was computed from a listing of this repo's files (``kind`` names the listing:
        ``"pyfiles"`` the Python files under its roots, ``"cargo"`` its crates): a file added or removed there
        is a change."""
        for deps in self.recorders:
            deps.scans.add((self.name, kind))

    # -- Python modules -----------------------------------------------------------------------------------------

    def refuse(self, path: Path) -> None:
        """Record that ``path`` (a symlink or a configured root) leads outside the repository."""
        try:
            shown = path.relative_to(self.root).as_posix()
        except ValueError:
            shown = str(path)
        self.refused.append(
            Diagnostic(
                "read",
                f"{self.name}:{shown} leads outside the repository; not read",
                "codetrace only reads files inside the configured repos (symlinks are resolved first)",
            )
        )

    def module_files(self, module: str) -> list[Path]:
        """Files that define the dotted ``module`` under any Python root: ``a/b.py``, ``a/b.pyi`` or
        ``a/b/__init__.py``. More than one when roots overlap (namespace packages)."""
        cached = self._module_cache.get(module)
        if cached is not None:
            for key, state in cached[1]:
                self._note_probe(key, state)
            return cached[0]
        parts = module.split(".")
        found: list[Path] = []
        probes: list[tuple[str, str]] = []
        if all(p.isidentifier() for p in parts):
            tail = "/".join(parts)
            for root in self.python_roots:
                for relpath in (f"{tail}.py", f"{tail}/__init__.py"):
                    key, state = self.probe_in_root(root, relpath)
                    probes.append((key, state))
                    if state == "outside" and (root / relpath).is_file():
                        self.refuse(root / relpath)
                    if state != "file":
                        continue
                    found.append(root / relpath)
                    break
        self._module_cache[module] = (found, tuple(probes))
        return found

    def is_package_dir(self, module: str) -> bool:
        """Whether ``module`` is a directory (regular or namespace package) under some root."""
        tail = module.replace(".", "/")
        return any(self.probe_in_root(root, tail)[1] == "dir" for root in self.python_roots)

    def module_name(self, path: Path) -> str | None:
        """The dotted module name of a file under one of the Python roots (the innermost root wins)."""
        best: str | None = None
        best_len = -1
        for root in self.python_roots:
            if root == path or root in path.parents:
                rel = path.relative_to(root).with_suffix("")
                parts = list(rel.parts)
                if parts and parts[-1] == "__init__":
                    parts.pop()
                if len(root.parts) > best_len and all(p.isidentifier() for p in parts):
                    best, best_len = ".".join(parts), len(root.parts)
        return best

    # -- links --------------------------------------------------------------------------------------------------

    def link(self, relpath: str, line: int) -> str | None:
        """A URL to ``relpath`` at ``line`` pinned to the commit, or None when no scheme is known."""
        if not self.link_template:
            return None
        needs_commit = "{commit}" in self.link_template
        if needs_commit and not self.commit:
            return None
        try:
            url = self.link_template.format(commit=self.commit or "", path=relpath, line=line)
        except (KeyError, IndexError, ValueError):
            return None
        return url if _is_safe_template(url) else None


# --------------------------------------------------------------------------------------------------------------
# Git metadata, read without a subprocess.


def _git_dir(root: Path) -> Path | None:
    dotgit = root / ".git"
    if dotgit.is_dir():
        return dotgit
    if dotgit.is_file():
        try:
            text = dotgit.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:") :].strip())
            target = target if target.is_absolute() else (root / target)
            return target if target.is_dir() else None
    return None


def _common_dir(gitdir: Path) -> Path:
    common = gitdir / "commondir"
    if common.is_file():
        try:
            rel = common.read_text(encoding="utf-8").strip()
            return (gitdir / rel).resolve()
        except (OSError, UnicodeDecodeError):
            pass
    return gitdir


def read_git_commit(root: Path) -> str | None:
    """The commit HEAD points at, following one symbolic ref through loose and packed refs."""
    gitdir = _git_dir(root)
    if gitdir is None:
        return None
    try:
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if _COMMIT_RE.match(head):
        return head
    if not head.startswith("ref:"):
        return None
    ref = head[4:].strip()
    for base in (gitdir, _common_dir(gitdir)):
        loose = base / ref
        if loose.is_file():
            try:
                value = loose.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if _COMMIT_RE.match(value):
                return value
        packed = base / "packed-refs"
        if packed.is_file():
            try:
                lines = packed.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                sha, _, name = line.partition(" ")
                if name.strip() == ref and _COMMIT_RE.match(sha):
                    return sha
    return None


def read_git_remote(root: Path) -> str | None:
    """The URL of the ``origin`` remote (or the first remote) from the git config."""
    gitdir = _git_dir(root)
    if gitdir is None:
        return None
    config_path = _common_dir(gitdir) / "config"
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    remotes = sorted(s for s in parser.sections() if s.startswith('remote "'))
    remotes.sort(key=lambda s: s != 'remote "origin"')
    for section in remotes:
        url = parser.get(section, "url", fallback=None)
        if url:
            return url.strip()
    return None


def remote_link_template(remote: str | None) -> str | None:
    """A ``{commit}/{path}#L{line}`` blob template for GitHub and GitLab remotes (https, ssh, scp-style)."""
    if not remote:
        return None
    for pattern in _REMOTE_RES:
        m = pattern.match(remote.strip())
        if not m:
            continue
        host, repo_path = m["host"].lower(), m["path"]
        if not re.fullmatch(r"[\w.\-/]+", repo_path):
            return None
        if host == "github.com" or host.startswith("github."):
            return f"https://{host}/{repo_path}/blob/{{commit}}/{{path}}#L{{line}}"
        if host == "gitlab.com" or host.startswith("gitlab."):
            return f"https://{host}/{repo_path}/-/blob/{{commit}}/{{path}}#L{{line}}"
        return None
    return None


# --------------------------------------------------------------------------------------------------------------
# Python source roots.


def _pyproject_roots(project_dir: Path) -> list[Path]:
    """Source roots a pyproject.toml declares (hatch, maturin, setuptools), or its conventional ones."""
    try:
        data = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    roots: list[Path] = []
    maturin = tool.get("maturin", {})
    if isinstance(maturin, dict) and isinstance(maturin.get("python-source"), str):
        roots.append(project_dir / maturin["python-source"])
    hatch = tool.get("hatch", {})
    wheel = hatch.get("build", {}).get("targets", {}).get("wheel", {}) if isinstance(hatch, dict) else {}
    if isinstance(wheel, dict):
        for pkg in wheel.get("packages", []) or []:
            if isinstance(pkg, str):
                roots.append((project_dir / pkg).parent)
    setuptools = tool.get("setuptools", {})
    if isinstance(setuptools, dict):
        find = setuptools.get("packages", {})
        if isinstance(find, dict):
            where = find.get("find", {}).get("where") if isinstance(find.get("find"), dict) else None
            for w in where or []:
                if isinstance(w, str):
                    roots.append(project_dir / w)
        pkg_dir = setuptools.get("package-dir", {})
        if isinstance(pkg_dir, dict) and isinstance(pkg_dir.get(""), str):
            roots.append(project_dir / pkg_dir[""])
    if not roots:
        roots.append(project_dir / "src" if (project_dir / "src").is_dir() else project_dir)
    return roots


def _listed(listings: dict[str, frozenset[str]], folder: str, root: str) -> frozenset[str]:
    """The names in ``folder`` (a directory under ``root``), listed once; none when it is not a directory. A
    folder its parent does not list is not read at all (most module lookups probe folders that are not
    there)."""
    names = listings.get(folder)
    if names is None:
        parent, _, name = folder.rpartition("/")
        if len(folder) > len(root) and parent.startswith(root) and name not in _listed(listings, parent, root):
            names = frozenset()
        else:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:  # not there, or not a directory: nothing is in it
                names = frozenset()
        listings[folder] = names
    return names


def detect_python_roots(root: Path, max_depth: int = 4) -> tuple[Path, ...]:
    """Python source roots of a checkout: those its pyproject files declare, plus the repo root itself.

    Only ``pyproject.toml`` files up to ``max_depth`` directories deep are read; the walk skips build
    output, virtualenvs and VCS folders. The result is sorted (deepest first, so the innermost root names a
    module) and contained in the repo.
    """
    found: set[Path] = {root}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= max_depth:
            dirnames[:] = []
        if "pyproject.toml" in filenames:
            for candidate in _pyproject_roots(here):
                resolved = candidate.resolve()
                if resolved.is_dir() and (resolved == root or root in resolved.parents):
                    found.add(resolved)
    return tuple(sorted(found, key=lambda p: (-len(p.parts), p.as_posix())))


class Workspace:
    """The configured repositories, by name, in a fixed order."""

    def __init__(self, repos: Iterable[Repo]) -> None:
        self.repos: dict[str, Repo] = {r.name: r for r in sorted(repos, key=lambda r: r.name)}
        # A repo nested inside another (a demo workspace inside the docs' own repo) owns its files: the outer
        # repo drops the Python roots that lie in it, so every module has one home.
        for repo in self.repos.values():
            repo.python_roots = tuple(r for r in repo.python_roots if self.repo_of(r) is repo)
        self._recorders: list[Deps] = []
        for repo in self.repos.values():
            repo.recorders = self._recorders

    @contextlib.contextmanager
    def recording(self) -> Iterator[Deps]:
        """Collect the :class:`Deps` of everything read from the repos inside the block (nested blocks each
        get all of it)."""
        deps = Deps()
        self._recorders.append(deps)
        try:
            yield deps
        finally:
            self._recorders.remove(deps)

    @contextlib.contextmanager
    def listed(self) -> Iterator[None]:
        """Inside the block, :meth:`Repo.probe_in_root` answers "none" from directory listings, each read once
        (a trace's module lookups probe 60,000 paths, mostly absent). For the duration of a trace only: a
        file that appears later is seen by the next one, and by the freshness checks, which never list."""
        listings: dict[str, frozenset[str]] = {}
        saved = [repo.listings for repo in self.repos.values()]
        for repo in self.repos.values():
            repo.listings = listings
        try:
            yield
        finally:
            for repo, previous in zip(self.repos.values(), saved, strict=True):
                repo.listings = previous

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Record nothing inside the block (work done ahead of need, recorded when it is used)."""
        saved = self._recorders[:]
        self._recorders.clear()
        try:
            yield
        finally:
            self._recorders[:] = saved

    def replay(self, deps: Deps) -> None:
        """Record ``deps`` in the active recorders, as if read again (what a cached result depends on)."""
        for recorder in self._recorders:
            recorder.update(deps)

    def replay_once(self, deps: Deps) -> None:
        """:meth:`replay`, skipping the recorders ``deps`` was replayed into already (for a result used often)."""
        for recorder in self._recorders:
            if id(deps) not in recorder.replayed:
                recorder.replayed[id(deps)] = deps
                recorder.update(deps)

    @classmethod
    def from_configs(
        cls, configs: Iterable[RepoConfig], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> tuple[Workspace, list[CodetraceError]]:
        repos, errors = [], []
        for config in configs:
            try:
                repos.append(Repo.open(config, max_file_bytes))
            except CodetraceError as exc:
                errors.append(exc)
        return cls(repos), errors

    def python_files(self, repo: Repo) -> list[Path]:
        """``.py`` and ``.pyi`` files under the repo's Python roots, sorted, skipping build and VCS folders and
        repos nested in it. What is computed from the listing depends on it: recorded as the ``pyfiles`` scan."""
        return [repo.root / relpath for relpath in self.python_relpaths(repo)]

    def python_relpaths(self, repo: Repo) -> list[str]:
        """:meth:`python_files` as POSIX paths relative to the repo root (cheap enough to list on every build)."""
        repo.note_scan("pyfiles")
        top = str(repo.root)
        nested = [
            str(r.root) + os.sep
            for r in self.repos.values()
            if r is not repo and len(r.root.parts) > len(repo.root.parts) and repo.root in r.root.parents
        ]
        seen: set[str] = set()
        found: list[str] = []
        for root in sorted(repo.python_roots):
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
                if dirpath in seen or (nested and (dirpath + os.sep).startswith(tuple(nested))):
                    dirnames[:] = []
                    continue
                seen.add(dirpath)
                rel = os.path.relpath(dirpath, top).replace(os.sep, "/")
                prefix = "" if rel == "." else rel + "/"
                found.extend(prefix + name for name in sorted(filenames) if name.endswith((".py", ".pyi")))
        return found

    def repo(self, name: str) -> Repo:
        try:
            return self.repos[name]
        except KeyError:
            known = ", ".join(self.repos) or "none configured"
            raise CodetraceError(
                "repo", f"unknown repo {name!r} (known: {known})", "add it to codetrace_repos in conf.py"
            ) from None

    def repo_of(self, path: Path) -> Repo | None:
        """The repository containing an absolute, resolved ``path`` (the innermost when nested)."""
        best = None
        for repo in self.repos.values():
            if (repo.root == path or repo.root in path.parents) and (
                best is None or len(repo.root.parts) > len(best.root.parts)
            ):
                best = repo
        return best
