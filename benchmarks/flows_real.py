"""Score the real-world flows (example_docs/flows/) against their reference chains (tests/data/flows/).

Usage::

    CODETRACE_DYNAMO=/src/dynamo CODETRACE_SGLANG=/src/sglang python benchmarks/flows_real.py [FLOW...]
        [--details] [--json] [--cache-dir DIR]

For each flow whose checkouts are set, runs the directives of its docs page through the engine and prints a
table: recall of the reference steps, whether the flow's end is reached, how many steps the traces have and
the first reference step they miss (where the trace stops or diverges). ``--details`` lists every missing
step with what the trace did instead at that call site (the resolution that failed). Flows whose variables are
unset are listed as skipped. Exit status 0 when every flow that ran meets the target (recall >= 90 % and its
end reached), 1 otherwise. The scoring rules are in :mod:`sphinxext.codetrace.flowscore`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sphinxext.codetrace.flowscore import (
    checkouts,
    engine_for,
    format_details,
    format_table,
    load_references,
    page_directives,
    trace_flow_specs,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "tests" / "data" / "flows"
DOCS = ROOT / "example_docs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flows", nargs="*", metavar="FLOW", help="flow names (default: all)")
    parser.add_argument("--details", action="store_true", help="list the missing steps and why")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--cache-dir", type=Path, help="keep parsed facts here between runs")
    args = parser.parse_args(argv)
    refs = [r for r in load_references(REFERENCES) if not args.flows or r.name in args.flows]
    unknown = set(args.flows) - {r.name for r in refs}
    if unknown:
        parser.error(f"unknown flows: {', '.join(sorted(unknown))}")
    scores, skipped = [], []
    for ref in refs:
        paths, unset = checkouts(ref, os.environ)
        if unset:
            skipped.append(f"{ref.name}: set {', '.join(unset)}")
            continue
        start = time.perf_counter()
        score = trace_flow_specs(ref, page_directives(DOCS / ref.page), engine_for(paths, args.cache_dir))
        print(f"{ref.name}: traced in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        scores.append(score)
    if args.json:
        data = [
            {
                "flow": s.ref.name,
                "found": len(s.found),
                "reference_steps": len(s.results),
                "recall": round(s.recall, 3),
                "end_reached": s.end_reached,
                "trace_steps": s.trace_steps,
                "missing": [{"step": r.ref.label(), "why": r.why} for r in s.missing],
                "errors": s.errors,
            }
            for s in scores
        ]
        print(json.dumps({"flows": data, "skipped": skipped}, indent=2))
    else:
        if scores:
            print(format_table(scores))
        for line in skipped:
            print(f"skipped {line}")
        if args.details:
            for s in scores:
                print()
                print(format_details(s))
    return 0 if all(s.meets_target for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
