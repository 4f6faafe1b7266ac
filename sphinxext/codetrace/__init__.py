"""sphinx-codetrace: trace a call chain through checked-out code and render it as linked mermaid diagrams.

The pipeline, one module (or package) per stage, each knowing nothing of the stages after it::

    spec ──> workspace ──> index ──> resolve ──> trace ──> render ──> directive
    spec.py  workspace.py  index/    resolve/    trace.py  render/    directive.py

Only :mod:`.directive` imports Sphinx; the CLI (``python -m sphinxext.codetrace``) drives the same engine.
Add ``"sphinxext.codetrace"`` to ``extensions`` in conf.py to use the directive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx entry point; imported lazily so the CLI does not pay for Sphinx."""
    from .directive import setup as _setup

    return _setup(app)
