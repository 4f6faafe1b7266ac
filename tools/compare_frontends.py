"""Run both Python frontends over a tree and diff their facts, file by file.

The index reads Python with the ``ast`` frontend (``index/python_ast.py``); the libcst frontend
(``index/python.py``) is the reference it must agree with exactly: same definitions, imports, call sites
(order, text, chain, column, handlers, arguments, kind), raises, bindings, ``__all__``, flow trees, lines and
columns. Counted apart: files the interpreter's ``ast`` cannot parse but libcst can (newer grammar), which go
to libcst in both runs, and files libcst refuses but CPython's parser accepts (a libcst parser limitation,
or its visitor's recursion limit on a huge literal), which only the ``ast`` frontend indexes.

Usage::

    python tools/compare_frontends.py PATH... [--sample N] [--seed S] [--exclude PATH]... [--show N]

``PATH`` is a ``.py`` file or a folder (searched recursively for ``.py`` and ``.pyi``). ``--sample N`` keeps a
deterministic random sample of N files of all those found (``--seed``, default 0). Prints one block per
differing file (the first difference of each kind of fact), then a summary; exit status 1 when any file
differs. The libcst run is the slow one: about 40 CPU-minutes for all of SGLang's ``python/sglang/srt``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from sphinxext.codetrace.index import python as cst_frontend
from sphinxext.codetrace.index import python_ast as ast_frontend
from sphinxext.codetrace.index.guard import python_parse
from sphinxext.codetrace.model import FileFacts

FIELDS = ("error", "definitions", "imports", "calls", "raises", "bindings", "all_names", "flow")


def python_files(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> list[Path]:
    """The ``.py``/``.pyi`` files under ``paths``, sorted, without those under ``exclude``."""
    skip = [p.resolve() for p in exclude]
    found: set[Path] = set()
    for path in paths:
        candidates = [path] if path.is_file() else [*path.rglob("*.py"), *path.rglob("*.pyi")]
        for file in candidates:
            resolved = file.resolve()
            if not any(resolved.is_relative_to(s) for s in skip):
                found.add(file)
    return sorted(found)


def module_of(file: Path, root: Path) -> tuple[str, bool]:
    """A dotted module name for ``file`` relative to ``root`` (both frontends get the same), and whether it
    is a package's ``__init__``."""
    rel = file.relative_to(root) if file.is_relative_to(root) else Path(file.name)
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:399] + "…"


def diff_facts(reference: FileFacts, candidate: FileFacts) -> list[str]:
    """The first difference of each field of the facts (empty when they are identical)."""
    out: list[str] = []
    for name in FIELDS:
        a, b = getattr(reference, name), getattr(candidate, name)
        if a == b:
            continue
        if isinstance(a, tuple) and isinstance(b, tuple) and name != "all_names":
            index = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            x = _short(a[index]) if index < len(a) else "(none)"
            y = _short(b[index]) if index < len(b) else "(none)"
            out.append(f"  {name}[{index}] ({len(a)} vs {len(b)} entries)\n    libcst: {x}\n    ast:    {y}")
        else:
            out.append(f"  {name}\n    libcst: {_short(a)}\n    ast:    {_short(b)}")
    return out


def classify(source: str, reference: FileFacts, candidate: FileFacts) -> tuple[str, list[str]]:
    """How a file went, and the differences: ``"same"``; ``"newer-grammar"`` (only libcst parses it, so both
    runs used libcst); ``"error"`` (both refuse it, with the same message); ``"only-ast"`` (libcst fails where
    CPython's parser does not: a libcst parser limitation or its visitor's recursion limit, the ast frontend
    is no worse); ``"different"``."""
    if reference.error is not None and candidate.error is None:
        return ("newer-grammar" if python_parse(source).newer_grammar else "only-ast"), []
    differences = diff_facts(reference, candidate)
    if differences:
        return "different", differences
    return ("error" if reference.error else "same"), []


def ast_facts(source: str, path: str, module: str, is_package: bool) -> FileFacts:
    """The ast frontend's facts without its safety net: an exception in its walk propagates instead of
    falling back to libcst (which would hide the bug from the comparison)."""
    parsed = python_parse(source)
    if parsed.tree is not None:
        with contextlib.suppress(RecursionError):
            return ast_frontend.facts_from_tree(parsed.tree, source, path, module, is_package)
    return ast_frontend.parse_python(source, path, module, is_package)


def compare_source(source: str, path: str, module: str, is_package: bool) -> tuple[list[str], str]:
    """The differences between the frontends' facts for ``source``, and how the file went (see
    :func:`classify`)."""
    reference = cst_frontend.parse_python(source, path, module, is_package)
    candidate = ast_facts(source, path, module, is_package)
    outcome, differences = classify(source, reference, candidate)
    return differences, outcome


@dataclasses.dataclass
class Report:
    files: int = 0
    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    different: list[tuple[Path, list[str]]] = dataclasses.field(default_factory=list)
    only_ast: list[tuple[Path, str]] = dataclasses.field(default_factory=list)  # with libcst's error
    seconds_libcst: float = 0.0
    seconds_ast: float = 0.0


def compare(files: list[Path], root: Path | None = None) -> Report:
    report = Report()
    for file in files:
        try:
            source = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        module, is_package = module_of(file, root or file.parent)
        report.files += 1
        start = time.perf_counter()
        reference = cst_frontend.parse_python(source, str(file), module, is_package)
        middle = time.perf_counter()
        try:
            candidate = ast_facts(source, str(file), module, is_package)
        except Exception as exc:  # a bug of the ast frontend: report it with the file, go on
            report.outcomes["different"] += 1
            report.different.append((file, [f"  ast frontend raised {exc!r}"]))
            continue
        report.seconds_libcst += middle - start
        report.seconds_ast += time.perf_counter() - middle
        outcome, differences = classify(source, reference, candidate)
        report.outcomes[outcome] += 1
        if differences:
            report.different.append((file, differences))
        elif outcome == "only-ast":
            report.only_ast.append((file, reference.error or ""))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=0, help="compare a deterministic sample of N files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude", type=Path, action="append", default=[])
    parser.add_argument("--show", type=int, default=20, help="print at most N differing files (default 20)")
    args = parser.parse_args(argv)
    files = python_files(args.paths, args.exclude)
    if args.sample and args.sample < len(files):
        files = sorted(random.Random(args.seed).sample(files, args.sample))
    root = args.paths[0] if len(args.paths) == 1 and args.paths[0].is_dir() else None
    report = compare(files, root)
    for file, differences in report.different[: args.show]:
        print(f"{file}:")
        print("\n".join(differences))
    for file, error in report.only_ast[: args.show]:
        print(f"{file}: only the ast frontend parses it (libcst: {error})")
    counts = report.outcomes
    print(
        f"{report.files} files: {counts['same']} identical, {counts['different']} different, "
        f"{counts['newer-grammar']} newer grammar (libcst in both), {counts['error']} refused by both, "
        f"{counts['only-ast']} refused by libcst only; libcst {report.seconds_libcst:.1f} s, "
        f"ast {report.seconds_ast:.1f} s"
    )
    return 1 if report.different else 0


if __name__ == "__main__":
    sys.exit(main())
