def reserve(order_id: str) -> None:
    pass
