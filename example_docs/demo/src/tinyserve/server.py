"""The request handler: validate, tokenize, hand over to the scheduler, wait, detokenize."""

from __future__ import annotations

import asyncio
from typing import Any

from .protocol import CacheFullError, Response, Sequence, ServeError, ValidationError
from .scheduler import Scheduler
from .tokenizer import ByteTokenizer
from .validation import validate_request


class Server:
    def __init__(self, scheduler: Scheduler, tokenizer: ByteTokenizer, *, timeout_s: float = 30.0) -> None:
        self.scheduler = scheduler
        self.tokenizer = tokenizer
        self.timeout_s = timeout_s
        self._loop_task: asyncio.Task[None] | None = None

    async def handle(self, body: Any) -> Response:
        try:
            request = validate_request(body)
        except ValidationError as exc:
            return self._error(exc)
        self._ensure_started()
        seq = Sequence.from_request(request, self.tokenizer.encode(request.prompt))
        try:
            await self.scheduler.submit(seq)
            await asyncio.wait_for(seq.done.wait(), timeout=self.timeout_s)
        except CacheFullError as exc:
            return self._error(exc)
        except asyncio.TimeoutError:
            self.scheduler.cancel(seq)
            return Response(504, {"error": "generation timed out"})
        if seq.error is not None:
            return self._error(seq.error)
        text = self.tokenizer.decode(seq.output_ids)
        return Response(200, {"id": seq.seq_id, "text": text, "cached_tokens": seq.cached_len})

    def _ensure_started(self) -> None:
        """Start the scheduling loop on first use (and again if it ever died)."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self.scheduler.run_forever())

    def _error(self, exc: ServeError) -> Response:
        return Response(exc.status, {"error": str(exc)})
