def notify(order_id: str) -> None:
    pass
