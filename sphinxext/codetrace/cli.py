"""Command line: the same engine as the directive, from a shell.

``python -m sphinxext.codetrace trace --repo NAME=PATH --entry SYMBOL [--stop-at S]... [--depth N]
[--max-steps N] [--bridge 'A -> B (label)']... [--paths-only [+1]] [--format json|mermaid|flowchart]`` prints
one trace. The JSON follows the schema
``codetrace.trace/1`` documented in the README. Problems go to stderr; the exit status is 0 on success,
1 when the trace could not be made, 2 for bad arguments.

``callgraph PATH... --format pycg`` prints the whole call graph of the given files or folders as PyCG's
JSON (see :mod:`sphinxext.codetrace.callgraph`); module names are relative to the current directory.

``check DOCS_DIR [--diff]`` and ``lock DOCS_DIR [--update]`` run every directive of a docs tree without a
Sphinx build (see :mod:`sphinxext.codetrace.docs_check`): ``check`` prints one ``file:line`` line per
problem and exits 1 when there is any; ``lock`` records the traces in the docs' lock file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .diagnostics import CodetraceError
from .render import flowchart, sequence_diagram
from .spec import GROUP_BY, parse_options
from .trace import Engine
from .workspace import RepoConfig, Workspace


def _repo(text: str) -> RepoConfig:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return RepoConfig(name=name, path=Path(path).expanduser().absolute())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codetrace", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("trace", help="trace one flow and print it")
    t.add_argument(
        "--repo",
        action="append",
        type=_repo,
        required=True,
        metavar="NAME=PATH",
        help="a checked-out repository (repeatable)",
    )
    t.add_argument("--entry", required=True, help="the function to start from")
    t.add_argument(
        "--stop-at",
        action="append",
        default=[],
        metavar="SYMBOL",
        help="a symbol or glob where the trace stops (repeatable)",
    )
    t.add_argument("--depth", type=int)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--include", action="append", default=[], metavar="GLOB")
    t.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    t.add_argument(
        "--bridge",
        action="append",
        default=[],
        metavar="'A -> B (label)'",
        help="a hand-off no analysis can see: when the walk reaches A it goes on in B (repeatable)",
    )
    t.add_argument(
        "--paths-only",
        nargs="?",
        const="",
        metavar="+1",
        help="keep only the calls on a path from the entry to a --stop-at point; '+1': and the calls off it",
    )
    t.add_argument("--group-by", choices=GROUP_BY, default="class")
    t.add_argument("--title", default="")
    t.add_argument(
        "--format",
        choices=("json", "mermaid", "flowchart"),
        default="json",
        help="json (schema codetrace.trace/1), mermaid (sequence diagram) or flowchart",
    )
    t.add_argument("--cache-dir", type=Path, help="keep parsed facts here between runs")
    t.add_argument(
        "--time-budget", type=float, metavar="SECONDS", help="truncate a trace that takes longer (default: none)"
    )
    c = sub.add_parser("check", help="run every codetrace directive of a docs tree; exit 1 on drift or errors")
    c.add_argument("docs_dir", type=Path, metavar="DOCS_DIR", help="the Sphinx source directory (with conf.py)")
    c.add_argument("--diff", action="store_true", help="print the changed steps under each lock drift")
    c.add_argument("--cache-dir", type=Path, help="keep parsed facts here (default: codetrace_cache_dir)")
    cg = sub.add_parser("callgraph", help="print the call graph of Python files as PyCG-format JSON")
    cg.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="Python files or folders")
    cg.add_argument("--format", choices=("pycg",), default="pycg", help="pycg: {caller: [callees]}")
    cg.add_argument("--cache-dir", type=Path, help="keep parsed facts here between runs")
    lk = sub.add_parser("lock", help="record every flow's trace in the docs' lock file")
    lk.add_argument("docs_dir", type=Path, metavar="DOCS_DIR", help="the Sphinx source directory (with conf.py)")
    lk.add_argument("--update", action="store_true", help="accept changed traces and drop flows that are gone")
    lk.add_argument("--cache-dir", type=Path, help="keep parsed facts here (default: codetrace_cache_dir)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "callgraph":
        from .callgraph import build_callgraph

        try:
            graph = build_callgraph(args.paths, Path.cwd(), args.cache_dir)
        except CodetraceError as exc:
            print(f"codetrace: error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(graph, indent=None, sort_keys=True))
        return 0
    if args.command in ("check", "lock"):
        from .docs_check import check_docs, lock_docs

        if args.command == "check":
            return check_docs(args.docs_dir, diff=args.diff, cache_dir=args.cache_dir)
        return lock_docs(args.docs_dir, update=args.update, cache_dir=args.cache_dir)
    options: dict[str, str | None] = {"entry": args.entry, "group-by": args.group_by}
    if args.stop_at:
        options["stop-at"] = ",".join(args.stop_at)
    if args.include:
        options["include"] = ",".join(args.include)
    if args.exclude:
        options["exclude"] = ",".join(args.exclude)
    if args.depth is not None:
        options["depth"] = str(args.depth)
    if args.max_steps is not None:
        options["max-steps"] = str(args.max_steps)
    if args.bridge:
        options["bridge"] = "\n".join(args.bridge)
    if args.paths_only is not None:
        options["paths-only"] = args.paths_only
    try:
        spec = parse_options(args.title, options)
    except CodetraceError as exc:
        print(f"codetrace: error: {exc}", file=sys.stderr)
        return 2
    try:
        workspace, errors = Workspace.from_configs(args.repo)
        for error in errors:
            print(f"codetrace: warning: {error}", file=sys.stderr)
        engine = Engine(workspace, args.cache_dir, args.time_budget)
        try:
            trace = engine.trace(spec)
        finally:
            engine.close()
    except CodetraceError as exc:
        print(f"codetrace: error: {exc}", file=sys.stderr)
        return 1
    for warning in trace.warnings:
        print(f"codetrace: warning: {warning}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(trace.to_json(), indent=2, sort_keys=False))
    elif args.format == "mermaid":
        sys.stdout.write(sequence_diagram(trace, spec.group_by, link=lambda r, p, n: workspace.repos[r].link(p, n)))
    else:
        sys.stdout.write(
            flowchart(trace, spec.group_by, lambda repo, path, line: workspace.repos[repo].link(path, line))
        )
    return 0
