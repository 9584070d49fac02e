"""Card testing: a burst of declined cards from one browser, one address or one email is cut
off with a clear message, and staff hear of a wave of declines (counts only)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import Client

from orders.models import Order
from payments.card_testing import MESSAGE_TOO_MANY_ATTEMPTS
from tests.orders.checkout_support import add_to_cart, catalog_fixture, place, shop_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

DECLINED_CARDS = [
    "pm_card_visa_chargeDeclined",
    "pm_card_visa_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_visa_chargeDeclinedLostCard",
    "pm_card_visa_chargeDeclinedStolenCard",
]


def decline(emulator: Any, order: Order, card: str, process: Any) -> None:
    """What a card tester's browser does on our card page (Stripe.js confirms with Stripe), then
    the payment_intent.payment_failed event Stripe sends us, processed as the worker would."""
    order.refresh_from_db()
    client = emulator.client()
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(
            order.payment_intent_id,
            {"payment_method": card, "return_url": f"http://testserver/orders/{order.public_token}/"},
        )
    events = client.v1.events.list({"type": "payment_intent.payment_failed", "limit": 1}).data
    process(events[0].to_dict())


def test_a_burst_of_declined_cards_from_one_browser_is_cut_off(
    client: Client, shop: Any, catalog: Any, process: Any
) -> None:
    # given a customer (or a card tester) at our card page
    add_to_cart(client, catalog["POSTER"])
    order = place(client)
    pages, refused = 0, None
    # when card after card is declined, the page reloaded for each next try
    for n in range(20):
        response = client.get(f"/orders/{order.public_token}/pay/")
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 200
        pages += 1
        decline(shop, order, DECLINED_CARDS[n % len(DECLINED_CARDS)], process)
    # then the page is refused well before 20 tries, with words a person understands
    assert refused is not None, "20 declined cards in a row were never cut off"
    assert 3 <= pages <= 10
    assert MESSAGE_TOO_MANY_ATTEMPTS in refused.content.decode()
    # and no new order or payment page opens for that browser either
    add_to_cart(client, catalog["MUG"])
    again = client.post("/checkout/", {"email": "other@example.com"})
    assert again.status_code in (400, 429)


def test_one_email_is_limited_whatever_the_browser(
    client: Client, shop: Any, catalog: Any, settings: Any
) -> None:
    settings.CARD_TESTING_MAX_PER_EMAIL = 3
    for n in range(3):
        browser = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        add_to_cart(browser, catalog["POSTER"])
        place(browser, email="tester@example.com")
    fresh = Client(REMOTE_ADDR="198.51.100.99")
    add_to_cart(fresh, catalog["POSTER"])
    page = fresh.get("/checkout/").content.decode()
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    from tests.orders.checkout_support import checkout_data

    response = fresh.post("/checkout/", checkout_data(form_token=token, email="tester@example.com"))
    assert response.status_code == 429 and MESSAGE_TOO_MANY_ATTEMPTS in response.content.decode()
    assert Order.objects.filter(email="tester@example.com").count() == 3
    # another email from that browser goes on
    ok = fresh.post("/checkout/", checkout_data(form_token=token, email="ada@example.com"))
    assert ok.status_code in (302, 303)


def test_one_address_is_limited_across_browsers(shop: Any, catalog: Any, settings: Any) -> None:
    settings.CARD_TESTING_MAX_PER_ADDRESS = 4
    statuses = []
    for n in range(6):
        browser = Client(REMOTE_ADDR="203.0.113.66")
        add_to_cart(browser, catalog["POSTER"])
        page = browser.get("/checkout/").content.decode()
        token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
        from tests.orders.checkout_support import checkout_data

        response = browser.post("/checkout/", checkout_data(form_token=token, email=f"c{n}@example.com"))
        statuses.append(response.status_code)
    # four orders placed from that address, then refused, whatever the browser and email
    assert statuses == [302, 302, 302, 302, 429, 429]


def test_a_wave_of_declines_for_the_shop_alerts_staff_once_with_counts_only(
    shop: Any, catalog: Any, settings: Any, process: Any
) -> None:
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.CARD_TESTING_DECLINE_ALERT_THRESHOLD = 5
    # given declines from five different customers, addresses and browsers within minutes
    for n in range(7):
        browser = Client(REMOTE_ADDR=f"192.0.2.{n + 10}")
        add_to_cart(browser, catalog["POSTER"])
        order = place(browser, email=f"buyer{n}@example.com")
        assert browser.get(f"/orders/{order.public_token}/pay/").status_code == 200
        decline(shop, order, "pm_card_visa_chargeDeclined", process)
    # then one card-testing alert, with counts and no customer's email or address
    alerts = [m for m in mail.outbox if "card testing" in m.subject]
    assert len(alerts) == 1
    text = alerts[0].subject + alerts[0].body
    assert "5 declined payments within 10 minutes" in text
    assert "@example.com" not in text and "192.0.2." not in text


def test_the_limits_hold_with_the_production_cache_in_redis(shop: Any, catalog: Any, settings: Any) -> None:
    # given the counters in Redis, as production keeps them for every web process and worker
    import os

    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/10"),
        }
    }
    cache.clear()
    settings.CARD_TESTING_MAX_PER_SESSION = 2
    browser = Client()
    add_to_cart(browser, catalog["POSTER"])
    order = place(browser)
    # when the card page is opened past the session's limit, it is refused
    assert browser.get(f"/orders/{order.public_token}/pay/").status_code == 200
    assert browser.get(f"/orders/{order.public_token}/pay/").status_code == 429
    keys = cache._cache.get_client().keys("*")  # type: ignore[attr-defined]
    assert any(key.startswith(b":1:card-testing:session:") for key in keys)
    assert not any(b"@" in key or b"127.0.0.1" in key for key in keys)  # hashes, not the values
    cache.clear()


def test_a_decline_counts_once_even_when_stripe_sends_two_events_for_it(
    client: Client, shop: Any, catalog: Any, settings: Any, process: Any
) -> None:
    settings.CARD_TESTING_MAX_PER_EMAIL = 4
    add_to_cart(client, catalog["POSTER"])
    order = place(client)  # 1 attempt
    assert client.get(f"/orders/{order.public_token}/pay/").status_code == 200  # 2
    order.refresh_from_db()
    stripe_client = shop.client()
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(
            order.payment_intent_id, {"payment_method": "pm_card_visa_chargeDeclined"}
        )
    event = (
        stripe_client.v1.events.list({"type": "payment_intent.payment_failed", "limit": 1}).data[0].to_dict()
    )
    # the order page's own refresh sees the failure first, then two Event objects arrive for it
    client.get(f"/orders/{order.public_token}/")
    process(event)  # 3
    process({**event, "id": event["id"] + "_twin"})  # the same decline: still 3
    assert client.get(f"/orders/{order.public_token}/pay/").status_code == 200  # 4
    assert client.get(f"/orders/{order.public_token}/pay/").status_code == 429
