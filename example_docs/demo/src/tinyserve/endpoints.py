"""The HTTP-ish edge: route, decode JSON, call the server, encode the answer."""

from __future__ import annotations

import json

from .server import Server


async def handle_http(server: Server, method: str, path: str, raw_body: bytes) -> tuple[int, bytes]:
    if (method, path) != ("POST", "/generate"):
        return 404, b'{"error": "not found"}'
    try:
        body = json.loads(raw_body)
    except json.JSONDecodeError:
        body = None  # validation answers 400 for a body that is not an object
    response = await server.handle(body)
    return response.status, json.dumps(response.body).encode("utf-8")
