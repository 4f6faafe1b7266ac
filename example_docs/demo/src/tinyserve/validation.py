"""Turn an untrusted JSON body into a :class:`GenerateRequest`, or raise :class:`ValidationError`."""

from __future__ import annotations

from typing import Any

from .protocol import GenerateRequest, ValidationError

MAX_PROMPT_CHARS = 8192
MAX_NEW_TOKENS = 512


def validate_request(body: Any) -> GenerateRequest:
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    prompt = _require_str(body, "prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValidationError(f"'prompt' is longer than {MAX_PROMPT_CHARS} characters")
    max_new_tokens = _optional_int(body, "max_new_tokens", default=16, low=1, high=MAX_NEW_TOKENS)
    temperature = _optional_float(body, "temperature", default=1.0, low=0.0, high=2.0)
    return GenerateRequest(prompt, max_new_tokens, temperature)


def _require_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key!r} must be a non-empty string")
    return value


def _optional_int(body: dict[str, Any], key: str, *, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{key!r} must be an integer")
    if not low <= value <= high:
        raise ValidationError(f"{key!r} must be between {low} and {high}")
    return value


def _optional_float(body: dict[str, Any], key: str, *, default: float, low: float, high: float) -> float:
    try:
        value = float(body.get(key, default))
    except (TypeError, ValueError):
        raise ValidationError(f"{key!r} must be a number") from None
    if not low <= value <= high:
        raise ValidationError(f"{key!r} must be between {low} and {high}")
    return value
