"""A client of the HTTP endpoint, as another process runs it: its request crosses the network."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000") -> None:
        self.base_url = base_url

    def generate(self, prompt: str, max_new_tokens: int = 16) -> str:
        """POST /generate and return the generated text."""
        body = json.dumps({"prompt": prompt, "max_new_tokens": max_new_tokens}).encode("utf-8")
        return self._post("/generate", body)["text"]

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        request = urllib.request.Request(self.base_url + path, data=body, method="POST")
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())
