"""tinyserve: a toy text-generation server.

A request travels ``endpoints.handle_http`` -> ``Server.handle`` -> validation -> tokenizer -> ``Scheduler``
(a waiting queue, a radix prefix cache with LRU eviction) -> ``ModelRunner``. The "model" is a deterministic
stand-in; the point is the shape of the code, not the text it produces.
"""

from .app import build_server, serve_one
from .protocol import GenerateRequest, Response, ServeError, ValidationError
from .server import Server

__all__ = [
    "GenerateRequest",
    "Response",
    "ServeError",
    "Server",
    "ValidationError",
    "build_server",
    "serve_one",
]
