"""Wiring: build the object graph once."""

from __future__ import annotations

from typing import Any

from .protocol import Response
from .runner import ModelRunner
from .scheduler import Scheduler
from .server import Server
from .tokenizer import ByteTokenizer as DefaultTokenizer


def build_server(kv_capacity: int = 4096, max_batch: int = 8) -> Server:
    tokenizer = DefaultTokenizer()
    runner = ModelRunner(vocab_size=tokenizer.vocab_size)
    scheduler = Scheduler(runner, kv_capacity=kv_capacity, max_batch=max_batch)
    return Server(scheduler, tokenizer)


async def serve_one(body: Any) -> Response:
    """Build a server and answer one request (for tests and the docs)."""
    server = build_server()
    return await server.handle(body)
