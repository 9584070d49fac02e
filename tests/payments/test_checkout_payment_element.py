"""Checkout with the Payment Element, server side, against the emulator: what Stripe is told,
one PaymentIntent per order whatever is resubmitted, cart changes, declines, retries and the
return page. The customer's card steps are played with the emulator's API as Stripe.js would."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import stripe
from django.test import Client
from django.utils import timezone

from orders.cart import CartLine
from orders.models import Fulfillment, Order, OrderCheckout, Product
from payments import stripe_gateway
from payments.services import checkout as checkout_services
from tests.factories import OrderFactory
from tests.orders.checkout_support import (  # noqa: F401  (fixtures)
    SECRET_MARKERS,
    add_to_cart,
    catalog_fixture,
    checkout_data,
    form_token,
    place,
    shop_fixture,
    stripe_list,
    stripe_writes_fixture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkout_services, "SYNC_INTERVAL", timedelta(0))


def confirm(emulator: Any, order: Order, payment_method: str) -> dict[str, Any] | None:
    """What Stripe.js does when the customer presses Pay; returns the card error, if any."""
    order.refresh_from_db()
    try:
        emulator.client().v1.payment_intents.confirm(
            order.payment_intent_id,
            {
                "payment_method": payment_method,
                "return_url": f"http://testserver/orders/{order.public_token}/",
            },
        )
    except stripe.CardError as error:
        return {"code": error.code, "decline_code": getattr(error.error, "decline_code", None)}
    return None


def test_checkout_creates_one_order_and_a_payment_intent_with_the_data_that_wins_disputes(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given a cart of 2 posters and a mug
    add_to_cart(client, catalog["POSTER"], 2)
    add_to_cart(client, catalog["MUG"], 1)
    # when the customer checks out
    order = place(client, billing_line2="Flat 3", REMOTE_ADDR="203.0.113.9")
    # then the order is priced from the catalog and keeps the customer's data
    assert order.amount == 2 * 2400 + 1250
    assert order.currency == "gbp"
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.email == "ada@example.com"
    assert order.name == "Ada Lovelace"
    assert order.billing_address["line2"] == "Flat 3"
    assert order.shipping_address == order.billing_address
    assert order.customer_ip == "127.0.0.1"  # the test client's REMOTE_ADDR; a form field can't set it
    assert order.user_agent == "Mozilla/5.0 (checkout test)"
    assert sorted((i.sku, i.unit_amount, i.quantity) for i in order.items.all()) == [
        ("MUG", 1250, 1),
        ("POSTER", 2400, 2),
    ]
    # and Stripe got one PaymentIntent with the order's key, customer, receipt email, shipping...
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["id"] == order.payment_intent_id
    assert order.payment_intent_idempotency_key == f"order:{order.pk}:payment-intent:v1"
    assert intent["amount"] == 6050
    assert intent["currency"] == "gbp"
    assert intent["customer"] == order.stripe_customer_id
    assert intent["receipt_email"] == "ada@example.com"
    assert intent["metadata"]["order_number"] == order.number
    assert "POSTER × 2" in intent["metadata"]["lines"]
    assert intent["description"].startswith(order.number)
    assert "2 × Analytical Engine poster" in intent["description"]
    assert intent["shipping"]["name"] == "Ada Lovelace"
    assert intent["shipping"]["address"]["postal_code"] == "SW1Y 4JH"
    assert intent["statement_descriptor_suffix"] == order.number
    assert intent["payment_method_types"] == ["card"]
    [customer] = stripe_list(shop, "customers")
    assert customer["email"] == "ada@example.com"
    assert customer["address"]["line1"] == "12 St James's Square"


def test_tampered_prices_and_amounts_in_forms_change_nothing(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given forms carrying prices and amounts of the attacker's choosing
    add_to_cart(client, catalog["POSTER"], 1, unit_amount=1, price=1, amount=1)
    order = place(client, amount="1", unit_amount="1", price="0.01", total="1", currency="jpy")
    # then the catalog's price is what the order and Stripe say
    assert order.amount == 2400
    assert order.currency == "gbp"
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["amount"] == 2400


def test_a_double_submitted_checkout_form_makes_one_order_and_one_payment_intent(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    # when the same form is submitted twice (a double click), and again from a second tab
    token = form_token(client)
    first = place(client, form_token=token)
    second = place(client, form_token=token)
    other_tab = Client()
    other_tab.cookies = client.cookies
    third = place(other_tab, form_token=token)
    # then
    assert first.pk == second.pk == third.pk
    assert Order.objects.filter(pk__gte=first.pk).count() == 1
    assert len(stripe_list(shop, "payment_intents")) == 1


def test_an_empty_cart_places_no_order() -> None:
    details = checkout_services.CustomerDetails(email="ada@example.com", name="Ada Lovelace")
    with pytest.raises(ValueError, match=r"^an order needs at least one line$"):
        checkout_services.checkout_order_place(
            form_token="empty", method="payment_element", lines=[], details=details, customer_ip=None,
            user_agent="",
        )  # fmt: skip
    assert not Order.objects.exists() and not OrderCheckout.objects.exists()


def test_a_form_sent_again_after_the_cart_changed_answers_the_order_it_made_unchanged(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given an order placed from a form, and then a mug added to the cart
    add_to_cart(client, catalog["POSTER"], 1)
    token = form_token(client)
    first = place(client, form_token=token)
    add_to_cart(client, catalog["MUG"], 1)
    # when the browser sends that same form again (back, then resubmit)
    again = place(client, form_token=token)
    # then it is the same order for the poster alone, and Stripe is asked for the poster's price
    again.refresh_from_db()
    assert again.pk == first.pk and again.amount == first.amount == 2400
    assert [item.sku for item in again.items.all()] == ["POSTER"]
    assert [intent["amount"] for intent in stripe_list(shop, "payment_intents")] == [2400]


def test_two_payment_intent_creates_with_the_stored_key_reach_stripe_as_one(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given an order whose PaymentIntent id was lost after Stripe created it (a crash, a timeout)
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    first_id = order.payment_intent_id
    Order.objects.filter(pk=order.pk).update(payment_intent_id=None)
    order.refresh_from_db()
    # when the page asks again, it sends the stored key: Stripe answers with the same intent
    intent = checkout_services.payment_element_intent(order=order)
    assert intent["id"] == first_id
    assert len(stripe_list(shop, "payment_intents")) == 1
    # and reloading the payment page reuses it too
    assert client.get(f"/orders/{order.public_token}/pay/").status_code == 200
    assert len(stripe_list(shop, "payment_intents")) == 1


def test_the_stripe_customer_is_stored_on_the_order_once_and_never_over_another(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given an order placed: its Stripe Customer is stored on it
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    assert order.stripe_customer_id.startswith("cus_")
    # when another page, still holding the order as it was before any customer, asks again
    # while the row has since been given another customer (a Checkout Session's)
    Order.objects.filter(pk=order.pk).update(payment_intent_id=None, stripe_customer_id="cus_elsewhere")
    stale = Order.objects.get(pk=order.pk)
    stale.stripe_customer_id = ""
    checkout_services.payment_element_intent(order=stale)
    # then the row keeps the customer it was given
    order.refresh_from_db()
    assert order.stripe_customer_id == "cus_elsewhere"


def test_a_changed_cart_updates_the_open_payment_intent(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given an order waiting for payment
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    # when the customer adds a mug and checks out again (a new form)
    add_to_cart(client, catalog["MUG"], 2)
    revised = place(client)
    # then it is the same order, with new lines, and the same PaymentIntent with the new amount
    assert revised.pk == order.pk
    revised.refresh_from_db()
    assert revised.amount == 2400 + 2 * 1250
    assert revised.items.count() == 2
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["id"] == order.payment_intent_id
    assert intent["amount"] == 4900
    assert "MUG × 2" in intent["metadata"]["lines"]
    assert OrderCheckout.objects.get(order=order).revision == 2


def test_a_revised_cart_reaches_stripe_under_the_revisions_own_key_with_the_new_lines_and_shipping(
    client: Client, shop: Any, catalog: dict[str, Product], stripe_writes: list[Any]
) -> None:
    # given an order waiting for payment
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    # when the customer adds a mug and checks out again, shipping elsewhere under another name
    add_to_cart(client, catalog["MUG"], 2)
    place(
        client,
        name="Augusta King",
        shipping_same="",
        shipping_line1="1 Hucknall Road",
        shipping_city="Nottingham",
        shipping_postal_code="NG15 7AA",
        shipping_country="GB",
    )
    # then one update, under the key of revision 2, names the order and its PaymentIntent
    [(name, call)] = stripe_writes
    assert name == "payment_intent_update"
    assert call["payment_intent_id"] == order.payment_intent_id
    assert call["idempotency_key"] == f"order:{order.pk}:payment-intent-update:v2"
    assert call["ids"] == {"order": order.number, "payment_intent": order.payment_intent_id}
    # and Stripe holds the new lines, amount and shipping
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["amount"] == 4900
    assert intent["description"] == f"{order.number}: 1 × Analytical Engine poster, 2 × Note G mug"
    assert intent["metadata"] == {
        "order_number": order.number,
        "order_id": str(order.pk),
        "lines": "POSTER × 1, MUG × 2",
    }
    assert intent["shipping"]["name"] == "Augusta King"
    assert intent["shipping"]["address"]["line1"] == "1 Hucknall Road"
    # and so does the order, billed at the old address, shipped to the new one
    order.refresh_from_db()
    assert order.name == "Augusta King"
    assert order.billing_address["line1"] == "12 St James's Square"
    assert order.shipping_address == {
        "line1": "1 Hucknall Road",
        "city": "Nottingham",
        "postal_code": "NG15 7AA",
        "country": "GB",
    }
    assert OrderCheckout.objects.get(order=order).revision == 2


@pytest.mark.parametrize(
    "changed",
    [
        {"email": "augusta@example.com"},
        {"name": "Augusta King"},
        {"billing_line1": "1 Hucknall Road"},
    ],
    ids=["email", "name", "billing address"],
)
def test_changed_customer_details_alone_revise_the_open_order(
    client: Client, shop: Any, catalog: dict[str, Product], changed: dict[str, str]
) -> None:
    # given an order shipped to an address of its own
    shipping = {
        "shipping_same": "",
        "shipping_line1": "2 Ockham Park",
        "shipping_city": "Ockham",
        "shipping_postal_code": "GU23 6NR",
        "shipping_country": "GB",
    }
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client, **shipping)
    # when the same cart is checked out again with one customer detail changed
    revised = place(client, **shipping, **changed)
    # then the same order holds the new detail, and its PaymentIntent was revised
    assert revised.pk == order.pk
    assert OrderCheckout.objects.get(order=order).revision == 2
    assert revised.email == changed.get("email", "ada@example.com")
    assert revised.name == changed.get("name", "Ada Lovelace")
    assert revised.billing_address["line1"] == changed.get("billing_line1", "12 St James's Square")
    assert revised.shipping_address["line1"] == "2 Ockham Park"


def test_a_revision_without_a_name_ships_to_the_customers_email(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    details = checkout_services.CustomerDetails(
        email="augusta@example.com",
        name="",
        billing_address=order.billing_address,
        shipping_address=order.shipping_address,
    )
    cart = [CartLine(product=catalog["POSTER"], quantity=1)]
    revised = checkout_services.payment_element_revise(order=order, lines=cart, details=details)
    assert revised is not None
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["receipt_email"] == "augusta@example.com"
    assert intent["shipping"]["name"] == "augusta@example.com"


def test_switching_to_stripe_checkout_cancels_the_open_payment_intent(
    client: Client, shop: Any, catalog: dict[str, Product], stripe_writes: list[Any]
) -> None:
    # given an order waiting for payment through the Payment Element
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    # when the customer goes back and chooses Stripe Checkout
    new = place(client, method="checkout")
    # then the old PaymentIntent is canceled under the order's cancel key, and can take no money
    assert new.pk != order.pk
    [(name, call)] = stripe_writes
    assert name == "payment_intent_cancel"
    assert call["payment_intent_id"] == order.payment_intent_id
    assert call["idempotency_key"] == f"order:{order.pk}:payment-intent-cancel:v1"
    assert call["ids"] == {"order": order.number}
    intent = shop.client().v1.payment_intents.retrieve(order.payment_intent_id)
    assert intent.status == "canceled"


def test_a_paid_payment_intent_is_not_canceled_when_the_customer_starts_over(
    client: Client, shop: Any, catalog: dict[str, Product], stripe_writes: list[Any]
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    assert confirm(shop, order, "pm_card_visa") is None
    place(client, method="checkout")
    assert [name for name, _ in stripe_writes] == []
    assert shop.client().v1.payment_intents.retrieve(order.payment_intent_id).status == "succeeded"


def test_a_cart_changed_after_payment_starts_a_new_order(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    assert confirm(shop, order, "pm_card_visa") is None
    # the customer pays in one tab, changes the cart in another (before the order page)
    add_to_cart(client, catalog["MUG"], 1)
    new = place(client)
    assert new.pk != order.pk
    paid = stripe_list(shop, "payment_intents")
    assert {pi["id"]: pi["amount"] for pi in paid}[order.payment_intent_id] == 2400
    order.refresh_from_db()
    assert order.amount == 2400


def test_paid_with_4242_the_order_page_shows_paid_and_fulfills_once(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    assert confirm(shop, order, "pm_card_visa") is None
    # when Stripe.js brings the customer back (with query parameters we ignore)
    page = client.get(f"/orders/{order.public_token}/?payment_intent=pi_forged&redirect_status=succeeded")
    again = client.get(f"/orders/{order.public_token}/")
    # then
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    # fulfilled once, recorded for staff as the return page's own fetch from Stripe
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == ["return-page"]
    assert 'data-outcome="paid"' in page.content.decode()
    assert "£24.00" in page.content.decode()
    assert again.status_code == 200
    # and the cart is emptied once the order is paid
    assert "Your cart is empty" in client.get("/cart/").content.decode()


def test_a_redirect_saying_succeeded_is_not_proof_of_payment(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    page = client.get(
        f"/orders/{order.public_token}/?payment_intent={order.payment_intent_id}&redirect_status=succeeded"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert 'data-outcome="awaiting"' in page.content.decode()
    assert not Fulfillment.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    ("payment_method", "message"),
    [
        ("pm_card_visa_chargeDeclined", "Your card was declined."),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "Your card has insufficient funds. Try another card.",
        ),
        ("pm_card_visa_chargeDeclinedLostCard", "Your card was declined."),
        ("pm_card_visa_chargeDeclinedStolenCard", "Your card was declined."),
        ("pm_card_chargeDeclinedExpiredCard", "Your card has expired."),
        ("pm_card_chargeDeclinedIncorrectCvc", "security code (CVC) is incorrect"),
        ("pm_card_chargeDeclinedProcessingError", "An error occurred while processing your card."),
    ],
)
def test_a_decline_shows_a_human_message_then_a_retry_on_the_same_payment_intent_pays(
    client: Client,
    shop: Any,
    catalog: dict[str, Product],
    no_rate_limit: None,
    payment_method: str,
    message: str,
) -> None:
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    # when the card is declined
    assert confirm(shop, order, payment_method) is not None
    page = client.get(f"/orders/{order.public_token}/").content.decode()
    # then the page explains it in words (lost/stolen read as a plain decline)
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert message in page
    assert "lost" not in page.lower() and "stolen" not in page.lower()
    assert "Try again" in page
    # when the customer retries from the payment page with another card
    retry = client.get(f"/orders/{order.public_token}/pay/").content.decode()
    assert order.payment_intent_id in retry  # the same PaymentIntent's client secret
    assert message in retry
    assert confirm(shop, order, "pm_card_visa") is None
    client.get(f"/orders/{order.public_token}/")
    # then it is paid, through the one PaymentIntent
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert len(stripe_list(shop, "payment_intents")) == 1


def test_3ds_failed_then_retried(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    assert confirm(shop, order, "pm_card_threeDSecure2Required") is None
    assert client.get(f"/orders/{order.public_token}/status/").json()["outcome"] == "requires_action"
    shop.fail_3ds(order.payment_intent_id)
    page = client.get(f"/orders/{order.public_token}/").content.decode()
    assert 'data-outcome="authentication_failed"' in page
    assert "3-D Secure" in page
    assert confirm(shop, order, "pm_card_threeDSecure2Required") is None
    shop.complete_3ds(order.payment_intent_id)
    assert client.get(f"/orders/{order.public_token}/status/").json()["outcome"] == "paid"


def test_the_status_endpoint_answers_the_order_state(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    add_to_cart(client, catalog["TENUGUI"], 3)
    order = place(client)
    body = client.get(f"/orders/{order.public_token}/status/").json()
    assert body == {
        "number": order.number,
        "status": "awaiting_payment",
        "amount": 5400,
        "currency": "jpy",
        "amount_display": "¥5,400",
        "final": False,
        "outcome": "awaiting",
        "title": "Awaiting payment",
        "message": f"Order {order.number} for ¥5,400 is not paid yet.",
    }
    confirm(shop, order, "pm_card_visa")
    body = client.get(f"/orders/{order.public_token}/status/").json()
    assert body["final"] is True
    assert body["status"] == "fulfilled"
    assert client.get("/orders/not-a-real-token/status/").status_code == 404


def test_the_status_endpoint_asks_stripe_at_most_once_every_two_seconds_per_order(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    calls: list[str] = []
    real = checkout_services.stripe_gateway.payment_intent_retrieve

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["payment_intent_id"])
        return real(**kwargs)

    monkeypatch.setattr(checkout_services.stripe_gateway, "payment_intent_retrieve", counting)
    for _ in range(5):
        assert client.get(f"/orders/{order.public_token}/status/").status_code == 200
    assert calls == [order.payment_intent_id]
    # two seconds later it may ask again
    OrderCheckout.objects.filter(order=order).update(
        synced_at=OrderCheckout.objects.get(order=order).synced_at - timedelta(seconds=2)
    )
    client.get(f"/orders/{order.public_token}/status/")
    assert len(calls) == 2


def test_the_pages_never_show_a_secret_key(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any
) -> None:
    settings.STRIPE_SECRET_KEY = shop.secret_key
    add_to_cart(client, catalog["POSTER"], 1)
    checkout_page = client.get("/checkout/")
    order = place(client)
    pages = [
        client.get("/"),
        client.get("/cart/"),
        checkout_page,
        client.get(f"/orders/{order.public_token}/pay/"),
        client.get(f"/orders/{order.public_token}/"),
        client.get(f"/orders/{order.public_token}/status/"),
        client.get(f"/orders/{order.public_token}/checkout/cancel/"),
        client.get(f"/orders/{order.public_token}/checkout/success/?session_id=cs_test_x"),
    ]
    for response in pages:
        assert response.status_code == 200, response
        assert not SECRET_MARKERS.search(response.content.decode())
    pay_page = pages[3].content.decode()
    assert shop.publishable_key in pay_page
    assert shop.url + "/v3/" in pay_page
    assert "js.stripe.com" not in pay_page


def test_the_real_stripe_js_is_used_when_no_stand_in_is_configured(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any
) -> None:
    settings.STRIPE_JS_URL = ""
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    assert (
        '<script src="https://js.stripe.com/v3/">'
        in client.get(f"/orders/{order.public_token}/pay/").content.decode()
    )


def test_an_unknown_order_token_is_a_404(client: Client, shop: Any) -> None:
    assert client.get("/orders/unknown-token/").status_code == 404
    assert client.get("/orders/unknown-token/pay/").status_code == 404


def test_a_form_token_from_another_session_is_refused(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given someone's checkout form token
    add_to_cart(client, catalog["POSTER"], 1)
    victim = place(client)
    token = victim.checkout.form_token
    # when another browser submits it
    attacker = Client()
    add_to_cart(attacker, catalog["MUG"], 1)
    response = attacker.post("/checkout/", checkout_data(form_token=token, email="eve@example.com"))
    # then it is refused and the victim's order is not revealed
    assert response.status_code == 400
    assert victim.public_token not in response.content.decode()
    assert "This checkout form has expired" in response.content.decode()
    assert attacker.session.get("open_order") is None


def test_checkout_forms_need_a_csrf_token(client: Client, shop: Any, catalog: dict[str, Product]) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/cart/add/", {"product_id": catalog["POSTER"].pk, "quantity": 1}).status_code == 403
    assert (
        strict.post("/cart/update/", {"product_id": catalog["POSTER"].pk, "quantity": 1}).status_code == 403
    )
    assert strict.post("/checkout/", checkout_data()).status_code == 403
    # and every POST form on the pages carries one
    add_to_cart(client, catalog["POSTER"], 1)
    for url in ("/", "/cart/", "/checkout/"):
        page = client.get(url).content.decode()
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, flags=re.S)
        assert forms, url
        assert all("csrfmiddlewaretoken" in form for form in forms), url


def test_a_long_cart_is_cut_to_stripes_limits_on_the_payment_intent_and_its_revision(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given forty products with long names (Stripe refuses a description over 1,000 characters
    # and a metadata value over 500)
    long = [
        Product.objects.create(sku=f"PRINT-{n:02}", name=f"Plate {n:02} " + "of the Difference Engine " * 3,
                               unit_amount=100, currency="gbp")
        for n in range(40)
    ]  # fmt: skip
    for product in long:
        add_to_cart(client, product, 1)
    order = place(client)
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["description"] == described(order)[:1000]
    assert intent["metadata"]["lines"] == ", ".join(f"{item.sku} × 1" for item in order.items.all())[:500]
    assert (len(intent["description"]), len(intent["metadata"]["lines"])) == (1000, 500)
    # when the cart is revised with all of them twice
    details = checkout_services.CustomerDetails(
        email=order.email, name=order.name, billing_address=order.billing_address,
        shipping_address=order.shipping_address,
    )  # fmt: skip
    cart = [CartLine(product=product, quantity=2) for product in long]
    assert checkout_services.payment_element_revise(order=order, lines=cart, details=details) is not None
    # then Stripe holds the new lines, cut the same way
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["description"] == described(order).replace("1 × ", "2 × ")[:1000]
    assert intent["metadata"]["lines"] == ", ".join(f"{item.sku} × 2" for item in order.items.all())[:500]
    assert (len(intent["description"]), len(intent["metadata"]["lines"]), intent["amount"]) == (
        1000,
        500,
        8000,
    )


def described(order: Order) -> str:
    return f"{order.number}: " + ", ".join(
        f"{item.quantity} × {item.product_name}" for item in order.items.all()
    )


def test_the_payment_page_of_an_order_paid_meanwhile_fulfills_it_and_restarts_the_status_limit(
    client: Client, shop: Any, catalog: dict[str, Product], caplog: pytest.LogCaptureFixture
) -> None:
    # given an order paid at Stripe whose webhook has not come, and whose return page asked
    # Stripe a moment ago (the status endpoint's rate limit)
    caplog.set_level("INFO", logger="payments.stripe_gateway")
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client)
    created = [r.getMessage() for r in caplog.records if "payment_intent.create" in r.getMessage()]
    assert confirm(shop, order, "pm_card_visa") is None
    OrderCheckout.objects.filter(order=order).update(synced_at=timezone.now())
    # when the customer opens the payment page again
    assert client.get(f"/orders/{order.public_token}/pay/").status_code in (200, 302)
    # then the order is fulfilled once, recorded as the checkout's own fetch, and the next
    # status check may ask Stripe at once
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == ["checkout"]
    assert OrderCheckout.objects.get(order=order).synced_at is None
    # and the PaymentIntent's creation was logged with the order's number
    assert len(created) == 1 and f"order={order.number}" in created[0]


def test_an_order_without_a_stored_key_gets_no_payment_intent(shop: Any) -> None:
    order = OrderFactory(payment_intent_id=None)
    Order.objects.filter(pk=order.pk).update(payment_intent_idempotency_key="")  # an order from before keys
    order.refresh_from_db()
    with pytest.raises(ValueError, match=f"^{order.number} has no stored PaymentIntent key$"):
        checkout_services.payment_element_intent(order=order)
    assert stripe_list(shop, "payment_intents") == []


def test_the_customer_is_created_once_under_the_orders_key_and_names_the_order(
    client: Client,
    shop: Any,
    catalog: dict[str, Product],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="payments.stripe_gateway")
    waiting = OrderFactory(stripe_customer_id="")  # another order with no customer yet
    calls: list[dict[str, Any]] = []
    real = stripe_gateway.customer_create
    monkeypatch.setattr(stripe_gateway, "customer_create", lambda **kw: calls.append(kw) or real(**kw))
    add_to_cart(client, catalog["POSTER"], 1)

    order = place(client)

    (call,) = calls
    assert call["idempotency_key"] == f"order:{order.pk}:customer:v1"
    [customer] = stripe_list(shop, "customers")
    assert customer["metadata"] == {"order_number": order.number, "order_id": str(order.pk)}
    assert customer["shipping"]["address"]["postal_code"] == "SW1Y 4JH"
    assert Order.objects.get(pk=order.pk).stripe_customer_id == customer["id"]
    assert Order.objects.get(pk=waiting.pk).stripe_customer_id == ""
    (logged,) = [r.getMessage() for r in caplog.records if "customer.create" in r.getMessage()]
    assert f"order={order.number}" in logged
