"""Incremental Sphinx builds by content, not modification time.

Sphinx re-reads a page when its source or any file it depends on has a newer modification time. A fresh CI
checkout (with the doctree cache restored) gives every file a new mtime, so every traced page would be read
and traced again although nothing changed. This module records, after each read, a SHA-256 of the source and
of every dependency of each page that holds a ``codetrace`` directive, and before the next read drops from
Sphinx's list the pages whose recorded files all still hash the same. A changed configuration disables the
check (Sphinx then rebuilds everything, as it should).

Env data: ``env.codetrace_hashes`` (docname -> {path: digest}); purged and merged like any env data, so it is
right under ``-j`` and when documents are removed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import CONFIG_OK, BuildEnvironment

ATTR = "codetrace_hashes"
_READING: dict[int, list[str]] = {}  # id(env) -> the docnames this build reads


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _store(env: BuildEnvironment) -> dict[str, dict[str, str | None]]:
    store = getattr(env, ATTR, None)
    if store is None:
        store = {}
        setattr(env, ATTR, store)
    return store


def note_traced(env: BuildEnvironment) -> None:
    """Called by the directive: this document's freshness is tracked by content (hashes taken after reading)."""
    _store(env).setdefault(env.docname, {})


def _files(env: BuildEnvironment, docname: str) -> list[Path]:
    srcdir = Path(env.srcdir)
    paths = [Path(env.doc2path(docname))]
    paths += [srcdir / dep for dep in sorted(str(d) for d in env.dependencies.get(docname, ()))]
    return paths


def skip_unchanged(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: keep out of ``docnames`` the traced pages whose files hash as recorded."""
    store = _store(env)
    if env.config_status == CONFIG_OK:
        for docname in list(docnames):
            recorded = store.get(docname)
            if recorded and all(_digest(Path(p)) == h for p, h in recorded.items()):
                docnames.remove(docname)
    _READING[id(env)] = list(docnames)


def record(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``: hash the source and dependencies of every traced page read in this build."""
    store = _store(env)
    for docname in _READING.pop(id(env), []):
        if docname in store:
            store[docname] = {str(p): _digest(p) for p in _files(env, docname)}


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _store(env).pop(docname, None)


def merge(app: Sphinx, env: BuildEnvironment, docnames: Any, other: BuildEnvironment) -> None:
    theirs = getattr(other, ATTR, {})
    store = _store(env)
    for docname in docnames:
        if docname in theirs:
            store[docname] = theirs[docname]


def setup(app: Sphinx) -> None:
    app.connect("env-before-read-docs", skip_unchanged)
    app.connect("env-updated", record)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
