"""Shared by the browser tests: Chromium through Playwright, and a tiny "shop" on another origin.

A helper module rather than a conftest, so its fixtures reach only the modules that import them.
The shop runs on its own loopback port so every call the Stripe.js stand-in makes to the emulator
is cross-origin, as it is between the Django shop and the emulator.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Every Content-Security-Policy violation of every frame, reported on the console where the
# tests collect it (Chromium also logs "Refused to ..." for each, which is collected too).
CSP_PROBE = """document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
                " on " + e.documentURI);
});"""


def watch_csp(context: Any) -> list[str]:
    """Collect the CSP violations of every page of a browser context, as they happen."""
    violations: list[str] = []
    context.add_init_script(CSP_PROBE)

    def on_console(message: Any) -> None:
        text = message.text
        if message.type == "error" and (
            text.startswith("CSP violation") or "Content Security Policy" in text
        ):
            violations.append(text)

    context.on("console", on_console)
    return violations


browser_marks = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]


@dataclass
class Shop:
    """Serves `pages[path]` (query string ignored); any other path gets `fallback`."""

    url: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    fallback: str = "<!doctype html><title>Shop</title><h1>Shop page</h1>"
    # The emulator's address: pages are served with the product's own Content-Security-Policy
    # for that Stripe (core.csp), their inline scripts with the response's nonce.
    stripe_url: str = ""


def _start_shop() -> tuple[Shop, ThreadingHTTPServer]:
    shop = Shop()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            text = shop.pages.get(self.path.split("?", 1)[0], shop.fallback)
            policy = ""
            if shop.stripe_url:
                from core.csp import policy_for

                nonce = secrets.token_urlsafe(16)
                text = text.replace("<script>", f'<script nonce="{nonce}">')
                policy = policy_for(js_url=shop.stripe_url + "/v3/", api_base=shop.stripe_url, nonce=nonce)
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if policy:
                self.send_header("Content-Security-Policy", policy)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    shop.url = f"http://127.0.0.1:{server.server_address[1]}"
    return shop, server


@pytest.fixture(scope="module")
def shop_server() -> Iterator[Shop]:
    shop, server = _start_shop()
    yield shop
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop(shop_server: Shop, stripe_emulator: Any) -> Shop:
    shop_server.pages.clear()
    shop_server.stripe_url = stripe_emulator.url
    return shop_server


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright's sync API. Callers hold it for one test module at
    most: the sync API runs an event loop in this thread while it is open, and a second one cannot
    start until it is closed."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module: launching costs about a second, a fresh context almost nothing."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; its final state is saved to test-artifacts/<test name>.png."""
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    page.csp_violations = violations  # type: ignore[attr-defined]
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"
