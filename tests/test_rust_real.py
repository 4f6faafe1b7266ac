"""A Rust trace over the real Dynamo checkout; it runs only when CODETRACE_DYNAMO points at one.

The expected first-level chain of ``KvRouter::find_best_match`` was written by reading the code (references,
not copied code): it bails out without a context id, hashes the request's blocks (inside a tracing span's
closure), logs them, computes sequence hashes through the router config, awaits the indexer's matches and the
scheduler's decision (both through ``.instrument``), then records the routing overhead metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sphinxext.codetrace.model import Resolution, StepKind
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

DYNAMO = os.environ.get("CODETRACE_DYNAMO")
needs_dynamo = pytest.mark.skipif(not DYNAMO, reason="set CODETRACE_DYNAMO to a Dynamo checkout to run")


@needs_dynamo
def test_find_best_match_first_level(tmp_path: Path) -> None:
    workspace, errors = Workspace.from_configs([RepoConfig("dynamo", Path(DYNAMO or ""))])
    assert not errors
    engine = Engine(workspace, tmp_path)
    trace = engine.trace(
        parse_options("route", {"entry": "dynamo_llm::kv_router::KvRouter::find_best_match", "depth": "1"})
    )
    assert (trace.entry.path, trace.entry.lang.value) == ("lib/llm/src/kv_router.rs", "rust")
    first = [s for s in trace.steps if s.resolution is not Resolution.EXTERNAL]
    got = [(s.kind, s.callee.name if s.callee else s.target) for s in first]
    assert got[0][0] is StepKind.RAISE
    assert got[1:] == [
        (StepKind.CALL, "dynamo_kv_router::protocols::compute_block_hash_for_seq"),
        (StepKind.CALL, "dynamo_llm::kv_router::log_routing_input_hashes"),
        (StepKind.CALL, "dynamo_kv_router::scheduling::config::KvRouterConfig::compute_seq_hashes_for_tracking"),
        (StepKind.AWAIT, "dynamo_llm::kv_router::indexer::Indexer::find_matches"),
        (StepKind.AWAIT, "dynamo_llm::kv_router::scheduler::KvScheduler::schedule"),
        (StepKind.CALL, "dynamo_llm::kv_router::metrics::RoutingOverheadMetrics::get"),
        (StepKind.CALL, "dynamo_llm::kv_router::metrics::RoutingOverheadMetrics::observe"),
    ]
    assert all(s.propagates for s in first if s.kind is StepKind.AWAIT)
