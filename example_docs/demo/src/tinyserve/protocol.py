"""Types shared by the server, the scheduler and the runner."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

_seq_ids = itertools.count(1)


class ServeError(Exception):
    """Base class of the errors a request can end with; ``status`` is the HTTP status to answer."""

    status = 500


class ValidationError(ServeError):
    """The request body is malformed."""

    status = 400


class CacheFullError(ServeError):
    """The KV cache cannot hold the sequence, even after eviction."""

    status = 503


@dataclass(frozen=True)
class GenerateRequest:
    """A validated request."""

    prompt: str
    max_new_tokens: int = 16
    temperature: float = 1.0


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


@dataclass
class Sequence:
    """One request as the scheduler sees it: prompt token ids in, generated token ids out."""

    seq_id: int
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    output_ids: list[int] = field(default_factory=list)
    cached_len: int = 0
    reserved: bool = False
    error: ServeError | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_request(cls, request: GenerateRequest, prompt_ids: list[int]) -> Sequence:
        return cls(next(_seq_ids), prompt_ids, request.max_new_tokens, request.temperature)

    @property
    def finished(self) -> bool:
        return self.error is not None or len(self.output_ids) >= self.max_new_tokens

    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids
