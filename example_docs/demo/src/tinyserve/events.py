"""KV events: the radix cache reports stored blocks; the Rust publisher hashes them and calls back."""

from __future__ import annotations

from ._native import EventPublisher


class KvEventLog:
    """Keeps the events the publisher reports, newest last (a router would consume them)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int]] = []
        self.publisher = EventPublisher(self.on_event)

    def block_stored(self, tokens: list[int]) -> int:
        """Called when the cache stores a block of tokens; returns the block's hash."""
        return self.publisher.block_stored(tokens)

    def on_event(self, event_id: int, block_hash: int) -> None:
        self.events.append((event_id, block_hash))
