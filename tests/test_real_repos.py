"""Traces over the real SGLang checkout; they run only when CODETRACE_SGLANG points at one.

The expected chains were written by reading the code (references, not copied code): Scheduler.run_batch
first consults the scripted hook, then the profiler predicate, logs and sleeps when asked to, handles the
pre-built (PD decode) batch, and sends cached prefix chunks for PD prefill.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.workspace import RepoConfig, Workspace

SGLANG = os.environ.get("CODETRACE_SGLANG")
needs_sglang = pytest.mark.skipif(not SGLANG, reason="set CODETRACE_SGLANG to an SGLang checkout to run")


@needs_sglang
def test_scheduler_run_batch_first_calls(tmp_path: Path) -> None:
    workspace, errors = Workspace.from_configs([RepoConfig("sglang", Path(SGLANG or ""))])
    assert not errors
    engine = Engine(workspace, tmp_path)
    trace = engine.trace(
        parse_options("run_batch", {"entry": "sglang.srt.managers.scheduler.Scheduler.run_batch", "depth": "1"})
    )
    assert trace.entry.path == "python/sglang/srt/managers/scheduler.py"
    targets = [s.target for s in trace.steps[:7]]
    assert targets == [
        "sglang.test.scripted_runtime.scheduler_hook.ScriptedSchedulerHook.on_run_batch",
        "sglang.srt.managers.scheduler_components.profiler_manager.SchedulerProfilerManager._profile_batch_predicate",
        "logging.getLogger().info",
        "time.sleep",
        "sglang.srt.model_executor.forward_batch_info.ForwardMode.is_prebuilt",
        "sglang.srt.disaggregation.decode.SchedulerDisaggregationDecodeMixin._run_batch_prebuilt",
        "sglang.srt.disaggregation.prefill.SchedulerDisaggregationPrefillMixin.maybe_send_cached_prefix_chunk",
    ]
    # every resolved callee's line is its def line
    for step in trace.steps:
        if step.callee is not None:
            line = (Path(SGLANG or "") / step.callee.path).read_text().splitlines()[step.callee.line - 1]
            assert line.lstrip().startswith(("def ", "async def ", "class ")), (step.callee, line)
