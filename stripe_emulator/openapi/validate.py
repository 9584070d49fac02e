"""Placeholder until the spec-driven validator lands: accepts everything."""

from typing import Any


def validate_request(method: str, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
    return None
