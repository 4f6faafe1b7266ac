"""Workspace: the checked-out repositories a trace may read, and how to link into them.

This stage knows where each repository lives, which commit it is at, how a ``path:line`` becomes a URL, where
its Python source roots are, and it is the only place that opens source files: every read goes through
:meth:`Repo.read`, which refuses anything outside the repository root (after resolving symlinks), anything
over the size cap, and anything that is not UTF-8 text.

It does not parse: it hands bytes to the index. Git metadata is read directly from ``.git`` (HEAD, packed
refs, the ``origin`` remote in ``config``); no subprocess is started. A ``.git`` file that points elsewhere (a
worktree or submodule) is followed for those metadata files only.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterable, Mapping
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


def parse_repo_configs(raw: Mapping[str, Any], base: Path) -> tuple[list[RepoConfig], list[str]]:
    """Validate ``codetrace_repos``: ``{name: {"path": ..., "url": ..., "python_roots": [...]}}`` or
    ``{name: "path"}``. Returns the configs and a list of problems (each one a repo left out)."""
    configs: list[RepoConfig] = []
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        return [], [f"codetrace_repos must be a dict of name -> {{'path': ...}}, not {type(raw).__name__}"]
    for name in sorted(raw):
        value = raw[name]
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            problems.append(f"repo name {name!r} must be an identifier-like string")
            continue
        if isinstance(value, (str, os.PathLike)):
            value = {"path": value}
        if not isinstance(value, Mapping) or "path" not in value:
            problems.append(f"repo {name!r}: expected {{'path': ...}}, got {value!r}")
            continue
        unknown = sorted(set(value) - {"path", "url", "python_roots", "commit"})
        if unknown:
            problems.append(
                f"repo {name!r}: unknown keys {', '.join(unknown)} (known: path, url, python_roots, commit)"
            )
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


@dataclass
class Repo:
    """One checked-out repository: its root, commit, link scheme and Python source roots."""

    name: str
    root: Path
    commit: str | None = None
    link_template: str | None = None
    python_roots: tuple[Path, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    _module_cache: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    #: Paths refused because they lead outside the repository, in the order met (the trace reports them).
    refused: list[Diagnostic] = field(default_factory=list, repr=False)

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
        is outside the repo, missing, too large, binary or not UTF-8."""
        path = self.contained(self.root / relpath)
        if path is None:
            raise CodetraceError(
                "read",
                f"{self.name}:{relpath} is outside the repository",
                "codetrace only reads files inside the configured repos",
            )
        try:
            size = path.stat().st_size
            if size > self.max_file_bytes:
                raise CodetraceError(
                    "read",
                    f"{self.name}:{relpath} is {size} bytes, over the {self.max_file_bytes}-byte cap; not parsed",
                    "raise codetrace_max_file_bytes to include it",
                )
            data = path.read_bytes()
        except OSError as exc:
            raise CodetraceError("read", f"cannot read {self.name}:{relpath}: {exc.strerror}") from None
        if b"\0" in data[:8192]:
            raise CodetraceError("read", f"{self.name}:{relpath} looks binary; not parsed")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CodetraceError("read", f"{self.name}:{relpath} is not UTF-8 (byte {exc.start}); not parsed") from None

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
            return cached
        parts = module.split(".")
        found: list[Path] = []
        if all(p.isidentifier() for p in parts):
            for root in self.python_roots:
                base = root.joinpath(*parts)
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if not candidate.is_file():
                        continue
                    if self.contained(candidate) is None:
                        self.refuse(candidate)
                        continue
                    found.append(candidate)
                    break
        self._module_cache[module] = found
        return found

    def is_package_dir(self, module: str) -> bool:
        """Whether ``module`` is a directory (regular or namespace package) under some root."""
        parts = module.split(".")
        return any(root.joinpath(*parts).is_dir() for root in self.python_roots)

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
