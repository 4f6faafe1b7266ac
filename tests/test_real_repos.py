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


@needs_sglang
def test_tokenizer_manager_hands_a_generate_request_to_the_scheduler(tmp_path: Path) -> None:
    """TokenizerManager._send_one_request passes its tokenized request (typed
    ``Union[TokenizedGenerateReqInput, TokenizedEmbeddingReqInput]``) through _dispatch_to_scheduler and
    io_struct.sock_send (``obj: Any``) to ``socket.send_pyobj``. Scheduler.init_request_dispatcher registers
    ``(TokenizedGenerateReqInput, self.handle_generate_request)`` in a TypeBasedDispatcher that
    process_input_requests runs, called by event_loop_normal's ``while True`` before get_next_batch_to_run and
    run_batch, which calls the model worker's forward_batch_generation."""
    workspace, errors = Workspace.from_configs([RepoConfig("sglang", Path(SGLANG or ""))])
    assert not errors
    engine = Engine(workspace, tmp_path)
    trace = engine.trace(
        parse_options(
            "hand-off",
            {
                "entry": "sglang.srt.managers.tokenizer_manager.TokenizerManager._send_one_request",
                "depth": "4",
                "max-steps": "1000",
                "stop-at": "Scheduler.get_next_batch_to_run, *.forward_batch_generation",
            },
        )
    )
    scheduler = "sglang.srt.managers.scheduler.Scheduler."
    sends = [s for s in trace.steps if s.kind.value == "queue" and s.candidate_of == 0]
    assert [(s.caller.name, s.site.path) for s in sends] == [
        ("sglang.srt.managers.io_struct.sock_send", "python/sglang/srt/managers/io_struct.py")
    ]
    handlers = {c.name for c in sends[0].candidates}
    assert {scheduler + "handle_generate_request", scheduler + "handle_embedding_request"} <= handlers
    assert "TokenizedGenerateReqInput" in sends[0].note
    generate = next(s for s in trace.steps if s.callee and s.callee.name == scheduler + "handle_generate_request")
    assert generate.entered and generate.kind.value == "queue"

    loop = next(s for s in trace.steps if s.caller.name == scheduler + "event_loop_normal")
    assert loop.note.startswith("consumer loop: while True") and "Scheduler.event_loop_overlap" in loop.note
    assert loop.callee is not None and loop.callee.name == scheduler + "process_input_requests"
    after = trace.steps[loop.n :]
    links = [s.callee.name for s in after if s.caller.name == scheduler + "process_input_requests"]
    assert scheduler + "handle_generate_request" in links
    in_loop = [s for s in after if s.caller.name == scheduler + "event_loop_normal"]
    names = [s.callee.name if s.callee else s.target for s in in_loop]
    assert names.index(scheduler + "get_next_batch_to_run") < names.index(scheduler + "run_batch")
    run_batch = in_loop[names.index(scheduler + "run_batch")]
    assert run_batch.entered and run_batch.depth == loop.depth
    forward = [
        s
        for s in trace.steps[run_batch.n :]
        if s.caller.name == scheduler + "run_batch" and s.target.endswith("forward_batch_generation")
    ]
    assert forward and forward[0].note == "stop"
    assert "sglang.srt.managers.tp_worker.TpModelWorker.forward_batch_generation" in {
        c.name for c in forward[0].candidates
    }
