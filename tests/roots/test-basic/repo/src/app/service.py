import asyncio

from . import store as storage
from .broken import never_parsed


class Service:
    def __init__(self) -> None:
        self.store = storage.CachedStore()

    async def handle(self, key: str) -> str:
        try:
            value = self.store.lookup(key)
        except KeyError:
            value = await self.fallback(key)
        asyncio.create_task(self.audit(key))
        return value

    async def fallback(self, key: str) -> str:
        return never_parsed(key)

    async def audit(self, key: str) -> None:
        await asyncio.sleep(0)
