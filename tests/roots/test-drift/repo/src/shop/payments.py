def charge(order_id: str) -> None:
    _gateway(order_id)


def _gateway(order_id: str) -> None:
    pass
