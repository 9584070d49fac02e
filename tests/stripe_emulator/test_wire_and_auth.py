"""Wire format (nested brackets, expand, pagination) and authentication, through the real SDK."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import LIVE_SECRET_KEY, PUBLISHABLE_KEY, RESTRICTED_KEY, EmulatorHandle
from stripe_emulator.wire import decode


def test_decode_nested_brackets_lists_and_hashes() -> None:
    params = decode(
        "metadata[order_id]=42&expand[]=a&expand[]=b&items[0][price]=p1&items[1][price]=p2"
        "&line_items[0][price_data][unit_amount]=500&types[0]=x&types[1]=y&empty="
    )
    assert params == {
        "metadata": {"order_id": "42"},
        "expand": ["a", "b"],
        "items": [{"price": "p1"}, {"price": "p2"}],
        "line_items": [{"price_data": {"unit_amount": "500"}}],
        "types": ["x", "y"],
        "empty": "",
    }


def test_nested_metadata_and_update_semantics(client: Any) -> None:
    cus = client.v1.customers.create(
        params={"email": "a@example.com", "metadata": {"order_id": "7", "x": "1"}}
    )
    assert cus.metadata.to_dict() == {"order_id": "7", "x": "1"}
    cus = client.v1.customers.update(cus.id, params={"metadata": {"x": "", "y": "2"}})
    assert cus.metadata.to_dict() == {"order_id": "7", "y": "2"}
    assert cus.object == "customer" and cus.id.startswith("cus_") and cus.livemode is False


def test_expand_on_object_and_list(client: Any) -> None:
    cus = client.v1.customers.create(params={"email": "e@example.com"})
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "eur",
            "customer": cus.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "expand": ["latest_charge.balance_transaction", "customer", "payment_method"],
        }
    )
    assert pi.customer.email == "e@example.com"
    assert pi.latest_charge.object == "charge"
    assert pi.latest_charge.balance_transaction.object == "balance_transaction"
    assert pi.latest_charge.balance_transaction.amount == 1500
    assert pi.payment_method.card.last4 == "4242"
    charges = client.v1.charges.list(params={"payment_intent": pi.id, "expand": ["data.payment_intent"]})
    assert charges.data[0].payment_intent.id == pi.id
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.payment_intents.retrieve(pi.id, params={"expand": ["nope"]})


def test_list_pagination_newest_first(client: Any) -> None:
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    page = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == [ids[4], ids[3]]
    assert page.has_more is True and page.url == "/v1/customers"
    page2 = client.v1.customers.list(params={"limit": 2, "starting_after": ids[3]})
    assert [c.id for c in page2.data] == [ids[2], ids[1]]
    last = client.v1.customers.list(params={"limit": 2, "starting_after": ids[1]})
    assert [c.id for c in last.data] == [ids[0]] and last.has_more is False
    before = client.v1.customers.list(params={"limit": 2, "ending_before": ids[1]})
    assert [c.id for c in before.data] == [ids[3], ids[2]]
    assert [c.id for c in client.v1.customers.list().auto_paging_iter()] == ids[::-1]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.list(params={"limit": 101})


def test_customer_delete_and_missing(client: Any) -> None:
    cus = client.v1.customers.create(params={"name": "gone"})
    deleted = client.v1.customers.delete(cus.id)
    assert deleted.deleted is True and deleted.id == cus.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.update(cus.id, params={"name": "x"})
    assert exc.value.code == "resource_missing" and exc.value.http_status == 404


def test_parameter_errors(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": 10, "currency": "usd"})
    assert exc.value.code == "amount_too_small" and exc.value.error.param == "amount"
    assert "Amount must be at least $0.50 usd" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "colour": "blue"})
    assert exc.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.create(params={"amount": "ten", "currency": "usd"})
    assert exc.value.code == "parameter_invalid_integer"


def test_no_key_is_401(raw: Any) -> None:
    status, headers, body = raw.request("GET", "/v1/customers", key=None)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert headers["request-id"].startswith("req_")


def test_wrong_key_is_refused_through_sdk(stripe_emulator: EmulatorHandle) -> None:
    bad = stripe.StripeClient(
        "sk_test_wrong", base_addresses={"api": stripe_emulator.url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.list()


def test_publishable_key_refused_except_stripe_js_paths(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    status, _, body = raw.request("GET", "/v1/customers", key=PUBLISHABLE_KEY)
    assert status == 401 and "publishable API key" in body["error"]["message"]
    pi = stripe_emulator.client().v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    status, _, _ = raw.request("GET", f"/v1/payment_intents/{pi.id}", key=PUBLISHABLE_KEY)
    assert status == 401
    status, _, body = raw.request(
        "GET", f"/v1/payment_intents/{pi.id}", {"client_secret": pi.client_secret}, key=PUBLISHABLE_KEY
    )
    assert status == 200 and body["id"] == pi.id
    status, _, body = raw.request(
        "POST",
        f"/v1/payment_intents/{pi.id}/confirm",
        {"client_secret": pi.client_secret, "payment_method": "pm_card_visa"},
        key=PUBLISHABLE_KEY,
    )
    assert status == 200 and body["status"] == "succeeded"


def test_basic_auth_restricted_and_live_keys(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    token = base64.b64encode(f"{stripe_emulator.secret_key}:".encode()).decode()
    status, _, body = raw.request(
        "GET", "/v1/customers", key=None, headers={"Authorization": f"Basic {token}"}
    )
    assert status == 200 and body["object"] == "list"
    status, _, _ = raw.request("GET", "/v1/customers", key=RESTRICTED_KEY)
    assert status == 200
    status, _, body = raw.request("POST", "/v1/customers", {"name": "live"}, key=LIVE_SECRET_KEY)
    assert status == 200 and body["livemode"] is True


def test_request_id_on_every_answer_and_unknown_route(raw: Any) -> None:
    status, headers, body = raw.request("GET", "/v1/nothing_here")
    assert status == 404 and headers["request-id"].startswith("req_")
    assert "Unrecognized request URL" in body["error"]["message"]
    status, headers, body = raw.request("GET", "/healthz", key=None)
    assert status == 200 and headers["request-id"].startswith("req_")
