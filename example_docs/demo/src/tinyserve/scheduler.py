"""Continuous batching: admit waiting sequences, reserve cache slots, step the model, retire finished ones."""

from __future__ import annotations

import asyncio

from .cache import RadixCache
from .protocol import CacheFullError, Sequence
from .runner import ModelRunner


class Scheduler:
    def __init__(self, runner: ModelRunner, *, kv_capacity: int = 4096, max_batch: int = 8) -> None:
        self.runner = runner
        self.cache = RadixCache(kv_capacity)
        self.waiting: asyncio.Queue[Sequence] = asyncio.Queue()
        self.running: list[Sequence] = []
        self.max_batch = max_batch

    async def submit(self, seq: Sequence) -> None:
        """Queue a sequence; refuse it at once when it could never fit in the cache."""
        if len(seq.prompt_ids) + seq.max_new_tokens > self.cache.capacity:
            raise CacheFullError(f"sequence needs more than the {self.cache.capacity} cache slots")
        await self.waiting.put(seq)

    def cancel(self, seq: Sequence) -> None:
        """Stop generating for ``seq``; the loop retires it at the next step."""
        seq.max_new_tokens = len(seq.output_ids)

    async def run_forever(self) -> None:
        while True:
            await self._admit()
            next_ids = await self.runner.forward(self.running)
            self._advance(next_ids)

    async def _admit(self) -> None:
        if not self.running:
            self.running.append(await self.waiting.get())
        while len(self.running) < self.max_batch and not self.waiting.empty():
            self.running.append(self.waiting.get_nowait())
        for seq in self.running:
            if seq.reserved:
                continue
            try:
                self._reserve(seq)
            except CacheFullError as exc:
                seq.error = exc
        self._retire()

    def _reserve(self, seq: Sequence) -> None:
        """Reuse the longest cached prefix of the prompt and make room for the rest."""
        seq.cached_len = self.cache.match_prefix(seq.prompt_ids)
        needed = len(seq.prompt_ids) - seq.cached_len + seq.max_new_tokens
        shortfall = needed - self.cache.free_slots()
        if shortfall > 0:
            self.cache.evict(shortfall)
        self.cache.insert(seq.prompt_ids)
        seq.reserved = True

    def _advance(self, next_ids: list[int]) -> None:
        for seq, token in zip(self.running, next_ids):
            seq.output_ids.append(token)
        self._retire()

    def _retire(self) -> None:
        still_running = []
        for seq in self.running:
            if seq.finished:
                seq.done.set()
            else:
                still_running.append(seq)
        self.running = still_running
