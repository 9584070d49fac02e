"""Browser tests: Debian's Chromium through Playwright, against the real Django pages served by
pytest-django's `live_server`, the emulator's Stripe.js stand-in and hosted Checkout page, and
the emulator's signed webhooks delivered to our real `/stripe/webhook/` endpoint.

Webhook processing: the Celery app runs tasks eagerly for these tests, so the inbox's own task
(`payments.process_stripe_event` → `stripe_event_process`) and the confirmation email task run
inside the webhook request, through exactly the code a worker runs, with no broker to wait for.
What a worker adds (acks, retries across processes) is tested elsewhere; here the point is what
the customer sees and what the books say afterwards.

Nothing leaves the machine: every request the page makes to anything but 127.0.0.1 is aborted
and fails the test (so js.stripe.com is never loaded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from orders.models import Product
from tests.stripe_emulator.browser_helpers import ARTIFACTS, CHROMIUM, chromium, watch_csp

LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|about:|blob:)")
WEBHOOK_SECRET = "whsec_browser_tests_0000000000000000"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                reason = f"browser tests need Debian's Chromium at {CHROMIUM}"
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Any]:
    """One Chromium per module (see `chromium`).

    Playwright's sync API runs an event loop in this thread for as long as the browser lives, and
    Django refuses ORM calls from a thread with a running loop. The ORM calls made here (the tests'
    own queries, the database flush after each test) are still synchronous and safe, so they are
    allowed for exactly that span; and the test database is created before the loop starts.
    """
    with pytest.MonkeyPatch.context() as patch, chromium() as browser:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield browser


@dataclass
class Site:
    url: str
    emulator: Any
    products: dict[str, Product]
    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def site(
    live_server: Any, emulator: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, transactional_db: Any
) -> Iterator[Site]:
    settings.SITE_URL = live_server.url
    settings.STRIPE_JS_URL = emulator.url + "/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = emulator.publishable_key
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/", secret=WEBHOOK_SECRET)
    from config.celery import app

    # Celery reads the namespaced Django setting first, so that is the key to override (setting
    # `app.conf.task_always_eager` is silently shadowed by it).
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    products = {
        "POSTER": Product.objects.create(
            sku="POSTER", name="Analytical Engine poster", unit_amount=2400, currency="gbp"
        ),
        "MUG": Product.objects.create(sku="MUG", name="Note G mug", unit_amount=1250, currency="gbp"),
    }
    yield Site(url=live_server.url, emulator=emulator, products=products)
    emulator.wait_for_deliveries(timeout=5)


@pytest.fixture
def page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page in a fresh browser context (phone-sized for tests whose name ends in "paid" or
    "message", so both layouts are seen).

    The test's final page is saved to test-artifacts/<test name>.png: the page opened last in the
    context that is still open. A test that closes its tab and comes back in a new one
    (`page.context.new_page()`) gets the new one saved, with nothing to declare. JavaScript errors
    on any page of the context fail the test, and so does any Content-Security-Policy violation
    (every page is served with its policy on). `@pytest.mark.no_javascript` turns JavaScript off."""
    phone = request.node.name.endswith(("paid", "message"))
    viewport = {"width": 390, "height": 844} if phone else {"width": 1100, "height": 900}
    javascript = request.node.get_closest_marker("no_javascript") is None
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
    context.set_default_timeout(15_000)

    def guard(route: Any) -> None:
        if LOCAL.match(route.request.url):
            route.continue_()
        else:
            site.blocked.append(route.request.url)
            route.abort()

    errors: list[str] = []
    context.route("**/*", guard)
    context.on("page", lambda new: new.on("pageerror", lambda exc: errors.append(f"{new.url}: {exc}")))
    violations = watch_csp(context)
    page = context.new_page()
    page.csp_violations = violations
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        if context.pages:
            context.pages[-1].screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert site.blocked == [], f"the page tried to leave the machine: {site.blocked}"
    assert errors == [], f"JavaScript errors: {errors}"
    assert violations == [], f"Content-Security-Policy violations: {violations}"
