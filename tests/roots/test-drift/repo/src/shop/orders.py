from .mail import notify
from .payments import charge
from .stock import reserve


def place_order(order_id: str) -> None:
    reserve(order_id)
    charge(order_id)
    notify(order_id)
