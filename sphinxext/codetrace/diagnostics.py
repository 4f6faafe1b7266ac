"""Problems the engine reports, independent of how they are shown.

The engine never logs and never raises past its public functions for bad input: it raises
:class:`CodetraceError` for a problem that stops one trace (a bad spec, an entry that does not exist) and
collects :class:`Diagnostic` values for problems it can step over (a file with a syntax error). The Sphinx
layer turns both into warnings with ``type="codetrace"`` and ``subtype=Diagnostic.subtype``; the CLI prints
them to stderr.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: ``subtype`` is the warning subtype (``spec``, ``repo``, ``unresolved``, ``drift``,
    ``parse``, ``read``, ``truncated``), ``hint`` says what to do about it."""

    subtype: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class CodetraceError(Exception):
    """A problem that stops one trace; carries a :class:`Diagnostic`."""

    def __init__(self, subtype: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(subtype, message, hint)

    def __str__(self) -> str:
        return str(self.diagnostic)


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """``"did you mean: a, b?"`` for the closest of ``choices`` to ``name``, or ``""``."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=n, cutoff=0.6)
    if not close:
        # A rename keeps the last component more often than the prefix: try that too.
        tail = name.rpartition(".")[2].rpartition(":")[2]
        close = [c for c in options if c.rpartition(".")[2] == tail][:n]
    return f"did you mean: {', '.join(close)}?" if close else ""
