class Store:
    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.items.get(key)


class CachedStore(Store):
    def lookup(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value
