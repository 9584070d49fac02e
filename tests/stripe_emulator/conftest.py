"""Shared fixtures for the emulator's own tests (the plugin's fixtures come from tests/conftest.py)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_emulator.wire import encode


@pytest.fixture
def client(stripe_emulator: EmulatorHandle) -> Any:
    return stripe_emulator.client()


class Raw:
    """Plain HTTP to the emulator, for headers and wire details the SDK hides."""

    def __init__(self, url: str, key: str | None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        key: str | None = "default",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = dict(headers or {})
        use_key = self.key if key == "default" else key
        if use_key:
            hdrs["Authorization"] = f"Bearer {use_key}"
        form = urlencode(encode(params or {}))
        if method == "GET" and form:
            path += "?" + form
        elif method == "POST":
            body = form if body is None else body
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        data = json.loads(raw) if ctype.startswith("application/json") and raw else raw.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


@pytest.fixture
def raw(stripe_emulator: EmulatorHandle) -> Raw:
    return Raw(stripe_emulator.url, stripe_emulator.secret_key)
