"""Find ``codetrace`` directives in a docs tree, and read its conf.py, without running a Sphinx build.

:func:`read_docs_config` evaluates ``conf.py`` the way Sphinx does (``sphinx.config.eval_config_file``: conf.py
is trusted code, as in any Sphinx build) and keeps what the command line needs: ``codetrace_repos``, the other
``codetrace_*`` values, the source suffixes and ``exclude_patterns``.

:func:`find_directives` reads every source file of the tree (``.rst``, and ``.md`` when MyST is enabled, minus
``exclude_patterns``) and returns each directive's title, raw options and ``file:line`` (the line of the
``.. codetrace::`` marker or of the opening fence, as Sphinx reports it). It is a line scanner, not a parser:

* reStructuredText: ``.. codetrace:: Title`` followed by indented ``:option: value`` lines (continuation
  lines join with newlines). Blocks that docutils treats as literal are skipped: the content of
  ``code-block``/``code``/``literalinclude``/``parsed-literal``/``raw``/... directives, ``::`` literal blocks
  and comments. Content of other directives (``note``, ``only``, ``tab``...) is scanned, so nested flows are
  found.
* MyST Markdown: fenced blocks (backticks, tildes or a ``:::`` colon fence) whose info string is
  ``{codetrace} Title``, with ``:option: value`` lines at the top or a YAML block between ``---`` lines
  (read with PyYAML when it is installed, which MyST requires; otherwise as flat ``key: value`` lines).
  Repeated ``:bridge:`` lines are joined, as the directive joins them.
  Fences of other languages are literal and skipped; other ``{directive}`` fences are scanned for nested
  flows, and ``{eval-rst}`` content is scanned as reStructuredText.

Not seen: directives produced by other extensions or by ``.. include::`` of a file outside the scan, and
``:option:`` values spread over several lines in MyST's colon form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import CodetraceError
from .drift import LOCK_FILE
from .spec import REPEATABLE
from .workspace import DEFAULT_MAX_FILE_BYTES

#: Directives whose content docutils does not parse as reStructuredText.
LITERAL_DIRECTIVES = frozenset(
    {
        "code",
        "code-block",
        "sourcecode",
        "literalinclude",
        "parsed-literal",
        "raw",
        "math",
        "highlight",
        "csv-table",
        "doctest",
        "testcode",
        "testoutput",
        "testsetup",
        "testcleanup",
        "productionlist",
        "graphviz",
        "digraph",
        "graph",
        "mermaid",
        "jupyter-execute",
        "ipython",
        "code-cell",
        "codetrace",
    }
)
#: Sphinx's own exclusions on top of ``exclude_patterns`` (see ``BuildEnvironment.find_files``).
DEFAULT_EXCLUDES = ("**/_sources", ".#*", "**/.#*", "*.lproj/**")

_RST_DIRECTIVE = re.compile(r"^(?P<indent>[ ]*)\.\.[ ]+(?P<name>[\w.:+-]+?)::(?:[ ]+(?P<arg>.*?))?[ ]*$")
_RST_COMMENT = re.compile(r"^(?P<indent>[ ]*)\.\.(?:[ ]+(?P<text>.*))?$")
_OPTION = re.compile(r"^:(?P<name>[^:\s][^:]*):(?:[ ]+(?P<value>.*?))?[ ]*$")
_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,}|:{3,})[ ]*(?P<info>[^`]*?)[ ]*$")
_MYST_NAME = re.compile(r"^\{(?P<name>[\w.:+-]+)\}[ ]*(?P<arg>.*)$")


@dataclass(frozen=True)
class DirectiveSite:
    """One ``codetrace`` directive found in a source file."""

    path: Path  # the source file
    relpath: str  # relative to the source dir, POSIX
    docname: str  # relpath without its suffix: the Sphinx docname, part of the lock key
    line: int  # 1-based line of the marker or opening fence
    title: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return f"{self.relpath}:{self.line}"


@dataclass
class DocsConfig:
    """What the command line takes from a docs tree's conf.py."""

    confdir: Path
    srcdir: Path
    repos: Any = field(default_factory=dict)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    cache_dir: Path | None = None
    lock_file: Path | None = None
    suffixes: tuple[str, ...] = (".rst",)
    exclude_patterns: tuple[str, ...] = ()


def read_docs_config(docs_dir: Path) -> DocsConfig:
    """Evaluate ``docs_dir/conf.py``; raises :class:`CodetraceError` (subtype ``config``) when it is missing
    or fails."""
    from sphinx.config import eval_config_file
    from sphinx.errors import ConfigError
    from sphinx.util.tags import Tags

    conf = docs_dir / "conf.py"
    if not conf.is_file():
        raise CodetraceError("config", f"no conf.py in {docs_dir}", "pass the Sphinx source directory")
    try:
        namespace = eval_config_file(conf.resolve(), Tags())
    except ConfigError as exc:
        raise CodetraceError("config", f"{conf}: {exc}") from None
    confdir = conf.parent.resolve()
    extensions = [str(e) for e in namespace.get("extensions", []) or []]
    suffixes = _suffixes(namespace.get("source_suffix", {".rst": "restructuredtext"}))
    if any(e in ("myst_parser", "myst_nb") for e in extensions) and ".md" not in suffixes:
        suffixes = (*suffixes, ".md")
    cache = namespace.get("codetrace_cache_dir")
    lock = namespace.get("codetrace_lock_file", LOCK_FILE)
    return DocsConfig(
        confdir=confdir,
        srcdir=confdir,
        repos=namespace.get("codetrace_repos", {}),
        max_file_bytes=int(namespace.get("codetrace_max_file_bytes", DEFAULT_MAX_FILE_BYTES)),
        cache_dir=confdir / cache if cache else None,
        lock_file=confdir / lock if lock else None,
        suffixes=suffixes,
        exclude_patterns=tuple(
            str(p) for p in [*namespace.get("exclude_patterns", []), *namespace.get("templates_path", [])]
        ),
    )


def _suffixes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        return tuple(str(k) for k in value)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    return (".rst",)


def source_files(srcdir: Path, suffixes: Iterable[str], exclude_patterns: Iterable[str] = ()) -> list[Path]:
    """The tree's source files, sorted, minus excluded ones (Sphinx glob semantics) and hidden folders."""
    from sphinx.util.matching import Matcher

    excluded = Matcher([*exclude_patterns, *DEFAULT_EXCLUDES])
    ends = tuple(sorted(set(suffixes), key=len, reverse=True))
    found = []
    for dirpath, dirnames, filenames in os.walk(srcdir):
        here = Path(dirpath)
        rel_dir = here.relative_to(srcdir).as_posix()
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not excluded(d if rel_dir == "." else f"{rel_dir}/{d}")
        )
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if name.endswith(ends) and not excluded(rel):
                found.append(here / name)
    return found


def find_directives(config: DocsConfig) -> list[DirectiveSite]:
    """Every ``codetrace`` directive of the docs tree, by file then line."""
    sites: list[DirectiveSite] = []
    ends = sorted(config.suffixes, key=len, reverse=True)
    for path in source_files(config.srcdir, config.suffixes, config.exclude_patterns):
        relpath = path.relative_to(config.srcdir).as_posix()
        suffix = next(s for s in ends if relpath.endswith(s))
        docname = relpath[: -len(suffix)]
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        found = scan_markdown(text) if suffix == ".md" else scan_rst(text)
        sites.extend(DirectiveSite(path, relpath, docname, line, title, options) for line, title, options in found)
    return sites


# -- reStructuredText ----------------------------------------------------------------------------------------------

Found = tuple[int, str, dict[str, str]]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index of the first line at or after ``start`` that is not blank and not indented past ``indent``."""
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
        i += 1
    return i


def scan_rst(text: str, first_line: int = 1) -> list[Found]:
    """``(line, title, options)`` of every ``.. codetrace::`` in reStructuredText ``text``."""
    lines = text.expandtabs(8).splitlines()
    found: list[Found] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _RST_DIRECTIVE.match(line)
        if directive:
            indent = len(directive["indent"])
            end = _block_end(lines, i + 1, indent)
            name = directive["name"]
            if name == "codetrace":
                title, options = _rst_directive_block(directive["arg"] or "", lines[i + 1 : end])
                found.append((first_line + i, title, options))
            if name in LITERAL_DIRECTIVES:
                i = end
                continue
            i += 1  # other directives: their content is reStructuredText, scan it
            continue
        comment = _RST_COMMENT.match(line)
        if comment and not (comment["text"] or "").startswith(("_", "[", "|")):
            i = _block_end(lines, i + 1, len(comment["indent"]))
            continue
        if line.rstrip().endswith("::"):  # a literal block follows
            i = _block_end(lines, i + 1, _indent(line))
            continue
        i += 1
    return found


def _rst_directive_block(argument: str, block: list[str]) -> tuple[str, dict[str, str]]:
    """The title (argument lines up to the options) and the ``:name: value`` options of a directive block."""
    title_parts = [argument.strip()] if argument.strip() else []
    options: dict[str, str] = {}
    base: int | None = None
    current: str | None = None
    for line in block:
        if not line.strip():
            if options or title_parts or current:
                break  # the options end at the first blank line; content (none for codetrace) follows
            continue
        if base is None:
            base = _indent(line)
        stripped = line.strip()
        option = _OPTION.match(stripped) if _indent(line) == base else None
        if option:
            current = option["name"]
            options[current] = option["value"] or ""
        elif current is not None and _indent(line) > base:
            options[current] = f"{options[current]}\n{stripped}".strip()
        elif not options:
            title_parts.append(stripped)
        else:
            break
    return " ".join(title_parts), options


# -- MyST Markdown -------------------------------------------------------------------------------------------------


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        _indent(line) <= 3 and len(stripped) >= len(fence) and set(stripped) == {fence[0]} and stripped[0] == fence[0]
    )


def scan_markdown(text: str, first_line: int = 1) -> list[Found]:
    """``(line, title, options)`` of every ``{codetrace}`` fenced block in MyST ``text``."""
    lines = text.expandtabs(4).splitlines()
    found: list[Found] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        marker, info = fence["fence"], fence["info"].strip()
        end = i + 1
        while end < len(lines) and not _closes(lines[end], marker):
            end += 1
        body = lines[i + 1 : end]
        named = _MYST_NAME.match(info)
        if named and named["name"] == "codetrace":
            found.append((first_line + i, named["arg"].strip(), _myst_options(body)))
        elif named and named["name"] == "eval-rst":
            found.extend(scan_rst("\n".join(body), first_line + i + 1))
        elif named and named["name"] not in LITERAL_DIRECTIVES:
            found.extend(scan_markdown("\n".join(body), first_line + i + 1))
        i = end + 1
    return found


def _myst_options(body: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is None:
            return options
        return _yaml_options("\n".join(body[1:end]))
    for line in body:
        option = _OPTION.match(line.strip())
        if not option:
            break
        name, value = option["name"], option["value"] or ""
        options[name] = f"{options[name]}\n{value}" if name in REPEATABLE and name in options else value
    return options


def _yaml_options(text: str) -> dict[str, str]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - MyST depends on PyYAML
        data: Any = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() and not line.startswith((" ", "#")):
                data[key.strip()] = value.strip()
    else:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


__all__ = [
    "DirectiveSite",
    "DocsConfig",
    "find_directives",
    "read_docs_config",
    "scan_markdown",
    "scan_rst",
    "source_files",
]
