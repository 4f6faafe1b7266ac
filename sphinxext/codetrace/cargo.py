"""Cargo: which Rust crates a checkout holds, their names and root files.

:func:`discover_crates` reads every ``Cargo.toml`` of a repository (build output, VCS and virtualenv folders
skipped) and returns its crates: the library (``[lib] path``/``name``, else ``src/lib.rs``) and the binaries
(``[[bin]]`` tables, ``src/main.rs``, ``src/bin/*.rs`` and ``src/bin/*/main.rs``, unless ``autobins = false``)
of every package that belongs to a Cargo workspace (``[workspace] members`` globs minus ``exclude``), is a
workspace of its own, or lies outside every workspace. Crate names are package names with ``-`` written
``_``. Dependencies renamed with ``package = "..."`` are recorded so ``use alias::x`` finds the crate.

It does not read ``Cargo.lock``, evaluate features or ``cfg``, nor look at examples, tests and benches
targets; it never runs cargo. Paths are POSIX and relative to the repository root; output is sorted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .workspace import SKIP_DIRS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: How deep below the repository root manifests are looked for.
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Crate:
    """One compilation unit: a package's library or one of its binaries."""

    name: str  # as written in paths: ``dynamo_llm``
    package: str  # the package name: ``dynamo-llm``
    kind: str  # "lib" | "bin"
    root: str  # the crate root file, relative to the repo: ``lib/llm/src/lib.rs``
    manifest: str  # the package's Cargo.toml, relative to the repo
    deps: tuple[tuple[str, str], ...] = ()  # (name used in code, crate name of the package) for renamed deps

    @property
    def directory(self) -> str:
        return str(PurePosixPath(self.manifest).parent)


def crate_name(package: str) -> str:
    return package.replace("-", "_")


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _manifests(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        if "Cargo.toml" in filenames:
            found.append(here / "Cargo.toml")
    return sorted(found)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _members(root: Path, manifest: Path, table: dict[str, Any]) -> tuple[set[Path], set[Path]]:
    """Directories a ``[workspace]`` table names as members and as excluded (globs expanded)."""
    base = manifest.parent

    def expand(patterns: list[str]) -> set[Path]:
        out: set[Path] = set()
        for pattern in patterns:
            pattern = pattern.strip().rstrip("/")
            if not pattern or pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
                continue
            matches = sorted(base.glob(pattern)) if any(c in pattern for c in "*?[") else [base / pattern]
            for m in matches:
                resolved = m.resolve()
                if resolved.is_dir() and (resolved == root or root in resolved.parents):
                    out.add(resolved)
        return out

    return expand(_strings(table.get("members"))), expand(_strings(table.get("exclude")))


def _renamed_deps(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    deps: dict[str, str] = {}
    tables = [data.get(k) for k in ("dependencies", "dev-dependencies", "build-dependencies")]
    for target in (data.get("target") or {}).values() if isinstance(data.get("target"), dict) else ():
        if isinstance(target, dict):
            tables += [target.get(k) for k in ("dependencies", "dev-dependencies", "build-dependencies")]
    for table in tables:
        if not isinstance(table, dict):
            continue
        for alias, spec in table.items():
            if isinstance(spec, dict) and isinstance(spec.get("package"), str):
                deps.setdefault(crate_name(alias), crate_name(spec["package"]))
    return tuple(sorted(deps.items()))


def _package_crates(root: Path, manifest: Path, data: dict[str, Any]) -> list[Crate]:
    package = data.get("package")
    if not isinstance(package, dict) or not isinstance(package.get("name"), str):
        return []
    pkg = package["name"]
    base = manifest.parent
    rel_manifest = manifest.relative_to(root).as_posix()
    deps = _renamed_deps(data)
    crates: list[Crate] = []

    def add(name: str, kind: str, path: Path) -> None:
        resolved = path.resolve()
        if resolved.is_file() and (root in resolved.parents):
            rel = resolved.relative_to(root).as_posix()
            if all(c.root != rel for c in crates):
                crates.append(Crate(crate_name(name), pkg, kind, rel, rel_manifest, deps))

    lib = data.get("lib") if isinstance(data.get("lib"), dict) else {}
    lib_path = lib.get("path") if isinstance(lib.get("path"), str) else "src/lib.rs"
    lib_name = lib.get("name") if isinstance(lib.get("name"), str) else pkg
    add(lib_name, "lib", base / lib_path)
    bins = data.get("bin") if isinstance(data.get("bin"), list) else []
    for entry in bins:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            name = entry["name"]
            if isinstance(entry.get("path"), str):
                add(name, "bin", base / entry["path"])
            else:
                for candidate in (base / "src/bin" / f"{name}.rs", base / "src/bin" / name / "main.rs"):
                    if candidate.is_file():
                        add(name, "bin", candidate)
                        break
                else:
                    if name == pkg:
                        add(name, "bin", base / "src/main.rs")
    if package.get("autobins", True) is not False:
        add(pkg, "bin", base / "src/main.rs")
        bin_dir = base / "src" / "bin"
        if bin_dir.is_dir():
            for child in sorted(bin_dir.iterdir()):
                if child.is_file() and child.suffix == ".rs":
                    add(child.stem, "bin", child)
                elif child.is_dir() and (child / "main.rs").is_file():
                    add(child.name, "bin", child / "main.rs")
    return crates


def discover_crates(root: Path) -> tuple[Crate, ...]:
    """The crates of the checkout at ``root`` (an absolute, resolved path), sorted by root file."""
    manifests = {m: _load(m) for m in _manifests(root)}
    workspaces: dict[Path, tuple[set[Path], set[Path]]] = {}
    for manifest, data in manifests.items():
        if data is not None and isinstance(data.get("workspace"), dict):
            workspaces[manifest.parent.resolve()] = _members(root, manifest, data["workspace"])
    crates: list[Crate] = []
    for manifest, data in manifests.items():
        if data is None or not isinstance(data.get("package"), dict):
            continue
        here = manifest.parent.resolve()
        owners = [w for w in workspaces if w == here or w in here.parents]
        included = (
            here in workspaces
            or not owners
            or any(here in workspaces[w][0] and here not in workspaces[w][1] for w in owners)
        )
        if included:
            crates.extend(_package_crates(root, manifest, data))
    return tuple(sorted(crates, key=lambda c: (c.root, c.kind, c.name)))


__all__ = ["Crate", "crate_name", "discover_crates"]
