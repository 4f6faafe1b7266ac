"""A radix tree over token ids: which prompt prefixes already have KV entries, and which to drop first.

Each edge holds a run of token ids; a node's ``last_used`` is bumped whenever a lookup passes through it.
Eviction removes least-recently-used leaves until enough slots are free.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Sequence

from ..protocol import CacheFullError


class _Node:
    __slots__ = ("children", "key", "last_used", "parent")

    def __init__(self, key: tuple[int, ...] = (), parent: _Node | None = None) -> None:
        self.key = key
        self.parent = parent
        self.children: dict[int, _Node] = {}
        self.last_used = time.monotonic()

    def touch(self) -> None:
        self.last_used = time.monotonic()


def _common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class RadixCache:
    """Prefix cache with a fixed number of token slots."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.root = _Node()
        self.used = 0

    def free_slots(self) -> int:
        return self.capacity - self.used

    def match_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading tokens of ``tokens`` are cached."""
        node, matched = self.root, 0
        while matched < len(tokens):
            child = node.children.get(tokens[matched])
            if child is None:
                break
            common = _common_prefix_len(child.key, tokens[matched:])
            child.touch()
            matched += common
            if common < len(child.key):
                break
            node = child
        return matched

    def insert(self, tokens: Sequence[int]) -> int:
        """Store ``tokens``; returns how many slots the new suffix took."""
        node, pos = self.root, 0
        while pos < len(tokens):
            child = node.children.get(tokens[pos])
            if child is None:
                added = len(tokens) - pos
                if added > self.free_slots():
                    raise CacheFullError(f"{added} tokens do not fit in {self.free_slots()} free slots")
                node.children[tokens[pos]] = _Node(tuple(tokens[pos:]), node)
                self.used += added
                return added
            common = _common_prefix_len(child.key, tokens[pos:])
            if common < len(child.key):
                child = self._split(child, common)
            child.touch()
            node, pos = child, pos + common
        return 0

    def _split(self, node: _Node, at: int) -> _Node:
        head = _Node(node.key[:at], node.parent)
        node.parent.children[head.key[0]] = head
        node.key = node.key[at:]
        node.parent = head
        head.children[node.key[0]] = node
        return head

    def evict(self, num_tokens: int) -> int:
        """Drop least-recently-used leaves until ``num_tokens`` slots are freed; returns the slots freed."""

        def leaves(node: _Node) -> Iterator[_Node]:
            if not node.children and node is not self.root:
                yield node
            for child in node.children.values():
                yield from leaves(child)

        heap = [(leaf.last_used, id(leaf), leaf) for leaf in leaves(self.root)]
        heapq.heapify(heap)
        freed = 0
        while freed < num_tokens and heap:
            _, _, leaf = heapq.heappop(heap)
            parent = leaf.parent
            freed += self._remove_leaf(leaf)
            if parent is not self.root and not parent.children:
                heapq.heappush(heap, (parent.last_used, id(parent), parent))
        return freed

    def _remove_leaf(self, leaf: _Node) -> int:
        del leaf.parent.children[leaf.key[0]]
        self.used -= len(leaf.key)
        return len(leaf.key)
