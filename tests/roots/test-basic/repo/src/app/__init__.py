from .service import Service

__all__ = ["Service"]
