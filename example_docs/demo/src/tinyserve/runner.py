"""The model runner: one decoding step for a batch. The "model" is a deterministic stand-in."""

from __future__ import annotations

import asyncio
import math
import random

from .protocol import Sequence


class ModelRunner:
    def __init__(self, vocab_size: int, seed: int = 0) -> None:
        self.vocab_size = vocab_size
        self.steps = 0
        self._rng = random.Random(seed)

    async def forward(self, batch: list[Sequence]) -> list[int]:
        """Next token id of every sequence in ``batch``; the compute runs off the event loop."""
        logits = await asyncio.to_thread(self._compute_logits, batch)
        self.steps += 1
        return [self._sample(row, seq.temperature) for row, seq in zip(logits, batch)]

    def _compute_logits(self, batch: list[Sequence]) -> list[list[float]]:
        return [self._fake_logits(seq.all_ids()) for seq in batch]

    def _fake_logits(self, ids: list[int]) -> list[float]:
        last = ids[-1] if ids else 0
        return [math.cos((last * 31 + i * 17) % 101) for i in range(self.vocab_size)]

    def _sample(self, logits: list[float], temperature: float) -> int:
        if temperature == 0.0:
            return max(range(len(logits)), key=logits.__getitem__)
        weights = [math.exp(x / temperature) for x in logits]
        return self._rng.choices(range(len(logits)), weights=weights)[0]
