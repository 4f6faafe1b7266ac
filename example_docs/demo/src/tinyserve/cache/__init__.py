"""KV-cache bookkeeping."""

from .radix import RadixCache

__all__ = ["RadixCache"]
