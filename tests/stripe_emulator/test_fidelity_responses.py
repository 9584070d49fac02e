"""Every object the emulator answers with, checked against Stripe's OpenAPI description.

The flows run through the real SDK (`StripeClient.raw_request`, so the SDK encodes the parameters
and the wire JSON is what gets checked); error cases go over urllib to see the status. Each response
is validated against the *operation's* response schema in the pruned spec (lists, expandables,
deleted objects and error envelopes included): required fields, types, nullability, enums, and no
field Stripe does not document or the SDK does not know. Top-level objects must also carry every
field Stripe always sends (see `always_present_fields`).
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

import pytest

from tests.stripe_emulator.fidelity_helpers import (
    SDK_CLASSES,
    form_encode,
    missing_fields,
    pruned_spec,
    response_schemas,
    sdk_fields,
    source_file,
)

_DEFAULT_KEY = object()
# `object` values whose schema is named differently in the spec.
_SCHEMA_OF_OBJECT = {"line_item": "item"}


def schema_name(obj: dict[str, Any]) -> str:
    name = _SCHEMA_OF_OBJECT.get(obj["object"], obj["object"])
    return f"deleted_{name}" if obj.get("deleted") is True else name


def expandable_ids(name: str) -> list[str]:
    """Fields that are an id unless expanded: `anyOf` a string and a `$ref`.

    (`x-expandableFields` also lists plain sub-objects that merely contain expandables, such as
    `billing_details`, so it is not the list wanted here.)
    """
    props = pruned_spec()["components"]["schemas"][name].get("properties", {})
    return [
        field
        for field, schema in props.items()
        if any(alt.get("type") == "string" for alt in schema.get("anyOf", ()))
        and any("$ref" in alt for alt in schema.get("anyOf", ()))
    ]


def expanded_fields(expand: Iterable[str]) -> frozenset[str]:
    """The fields an expand list expands on the answer (`data.` kept for lists).

    `latest_charge.balance_transaction` expands `latest_charge` too.
    """
    fields: set[str] = set()
    for path in expand:
        parts = path.split(".")
        fields.add(".".join(parts[:2]) if parts[0] == "data" else parts[0])
    return frozenset(fields)


class Api:
    """Talks to the emulator and records every way its answers differ from the spec."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.sdk = emulator.client()
        self.schemas = response_schemas()
        self.problems: list[str] = []  # schema violations: types, nullability, enums, invented fields
        self.gaps: list[str] = []  # fields Stripe always sends that the answer lacks

    # -- calls ------------------------------------------------------------------------------

    def call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        """A successful call through the SDK; the raw body is checked and returned."""
        response = self.sdk.raw_request(method.lower(), path, **params)
        body: dict[str, Any] = json.loads(response.body)
        self.record(method, path, response.code, body, params.get("expand", ()))
        return body

    def wire(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        key: Any = _DEFAULT_KEY,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """A call over urllib, for error cases the SDK would raise on; the body is checked."""
        encoded = urllib.parse.urlencode(form_encode(params or {}))
        url = self.emulator.url.rstrip("/") + path
        data = None
        if method == "POST":
            data = encoded.encode()
        elif encoded:
            url += "?" + encoded
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        secret = self.emulator.secret_key if key is _DEFAULT_KEY else key
        if secret is not None:
            request.add_header("Authorization", f"Bearer {secret}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        body: dict[str, Any] = json.loads(raw)
        self.record(method, path, status, body, (params or {}).get("expand", ()))
        return status, body

    # -- checks -----------------------------------------------------------------------------

    def record(
        self, method: str, path: str, status: int, body: dict[str, Any], expand: Iterable[str] = ()
    ) -> None:
        if status >= 400:
            # Every error, whatever the route, is Stripe's error envelope.
            self.problems += self.schemas.errors("error", body)
            return
        self.problems += self.schemas.response_errors(method, path, status, body)
        self.complete(body, expanded_fields(expand))

    def complete(self, obj: dict[str, Any], expand: frozenset[str] = frozenset()) -> None:
        """Fields Stripe always sends are there and expandables are ids unless expanded; lists too."""
        if obj.get("object") == "list":
            inner = frozenset(path[5:] for path in expand if path.startswith("data."))
            for item in obj.get("data", ()):
                self.complete(item, inner)
            return
        name = schema_name(obj)
        if name in self.schemas.names():
            self.gaps += missing_fields(name, obj)
            self.check_expandables(name, obj, expand)
        if name == "event":
            self.check_event_data(obj)

    def check_expandables(self, name: str, obj: dict[str, Any], expand: frozenset[str]) -> None:
        """Stripe sends an id for an expandable field unless asked to expand it, an object if asked.

        Both shapes satisfy the schema's anyOf, so this is checked apart: code that reads
        `pi.latest_charge` as an id breaks on an object, and `pi.latest_charge.amount` on an id.
        """
        for field in expandable_ids(name):
            value = obj.get(field)
            if value is None:
                continue
            if field in expand and not isinstance(value, dict):
                self.problems.append(f"{name}.{field}: not expanded although expand[]={field} was asked")
            elif field not in expand and isinstance(value, dict):
                self.problems.append(f"{name}.{field}: an object although not expanded (Stripe sends the id)")

    def check_event_data(self, event: dict[str, Any]) -> None:
        """An event's `data.object` is a whole object of its kind; previous_attributes its fields."""
        data = event.get("data") or {}
        obj = data.get("object")
        if not isinstance(obj, dict) or "object" not in obj:
            self.problems.append(f"event {event.get('type')}: data.object is not a Stripe object")
            return
        name = schema_name(obj)
        where = f"event {event.get('type')} data.object"
        self.problems += [f"{where}: {line}" for line in self.schemas.errors(name, obj)]
        self.gaps += [f"{where}: {line}" for line in missing_fields(name, obj)]
        before = len(self.problems)
        self.check_expandables(name, obj, frozenset())
        self.problems[before:] = [f"{where}: {line}" for line in self.problems[before:]]
        previous = data.get("previous_attributes") or {}
        known = set(pruned_spec()["components"]["schemas"][name].get("properties", {}))
        if name in SDK_CLASSES:
            known |= set(sdk_fields(SDK_CLASSES[name]))
        self.problems += [
            f"{where}: previous_attributes.{field} is not a field of {name}"
            for field in previous
            if field not in known
        ]

    def assert_clean(self) -> None:
        problems = sorted(set(self.problems))
        assert not problems, f"{len(problems)} difference(s) from Stripe's spec:\n" + "\n".join(problems)

    def assert_complete(self) -> None:
        gaps = sorted({line.split(": ", 1)[-1] if line.startswith("event ") else line for line in self.gaps})
        assert not gaps, f"{len(gaps)} field(s) Stripe always sends are missing:\n" + "\n".join(gaps)


@pytest.fixture
def api(stripe_emulator: Any) -> Api:
    return Api(stripe_emulator)


# --- flows ---------------------------------------------------------------------------------


def new_customer(api: Api) -> dict[str, Any]:
    return api.call(
        "POST",
        "/v1/customers",
        email="ada@example.com",
        name="Ada Lovelace",
        metadata={"user": "42"},
        address={"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"},
    )


def new_payment_intent(api: Api, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "amount": 2000,
        "currency": "eur",
        "payment_method_types": ["card"],
        "metadata": {"order": "ORD-1"},
    }
    return api.call("POST", "/v1/payment_intents", **{**base, **params})


def retrieve_payment_intent(api: Api, pi_id: str) -> dict[str, Any]:
    api.call("GET", f"/v1/payment_intents/{pi_id}")
    return api.call(
        "GET", f"/v1/payment_intents/{pi_id}", expand=["latest_charge", "payment_method", "customer"]
    )


def succeeded_payment(api: Api, **params: Any) -> dict[str, Any]:
    pi = new_payment_intent(api, payment_method="pm_card_visa", confirm=True, **params)
    assert pi["status"] == "succeeded", pi["status"]
    return pi


def new_checkout_session(api: Api, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://shop.example/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancel",
        "client_reference_id": "ORD-7",
        "metadata": {"order": "ORD-7"},
        "line_items": [
            {
                "price_data": {"currency": "eur", "unit_amount": 1250, "product_data": {"name": "Tea"}},
                "quantity": 2,
            }
        ],
    }
    return api.call("POST", "/v1/checkout/sessions", **{**base, **params})


# --- customers, catalogue, payment methods -------------------------------------------------


def test_customer_responses(api: Api) -> None:
    customer = new_customer(api)
    path = f"/v1/customers/{customer['id']}"
    api.call("GET", path)
    api.call("POST", path, description="VIP", metadata={"user": "", "tier": "gold"})
    api.call("GET", "/v1/customers", limit=3)
    api.call("GET", "/v1/customers", email="ada@example.com")
    deleted = api.call("DELETE", path)
    assert deleted.get("deleted") is True
    api.call("GET", path)  # a deleted customer is still retrievable, as deleted_customer
    api.assert_clean()


def test_product_and_price_responses(api: Api) -> None:
    product = api.call("POST", "/v1/products", name="Tea", description="Green", metadata={"sku": "T-1"})
    api.call("GET", f"/v1/products/{product['id']}")
    api.call("POST", f"/v1/products/{product['id']}", description="Green tea")
    api.call("GET", "/v1/products", limit=5)
    price = api.call("POST", "/v1/prices", product=product["id"], unit_amount=1250, currency="eur")
    api.call("POST", "/v1/prices", product_data={"name": "Coffee"}, unit_amount=300, currency="eur")
    api.call("GET", f"/v1/prices/{price['id']}")
    api.call("GET", f"/v1/prices/{price['id']}", expand=["product"])
    api.call("POST", f"/v1/prices/{price['id']}", metadata={"shelf": "A"})
    api.call("GET", "/v1/prices", product=product["id"])
    api.assert_clean()


def test_payment_method_responses(api: Api) -> None:
    customer = new_customer(api)
    pm = api.call(
        "POST",
        "/v1/payment_methods",
        type="card",
        card={"token": "tok_visa"},
        billing_details={"name": "Ada Lovelace", "email": "ada@example.com"},
    )
    path = f"/v1/payment_methods/{pm['id']}"
    api.call("GET", path)
    api.call("POST", path, metadata={"label": "work"})
    api.call("POST", f"{path}/attach", customer=customer["id"])
    api.call("GET", "/v1/payment_methods", customer=customer["id"], type="card")
    api.call("POST", f"{path}/detach")
    api.assert_clean()


# --- payment intents in each reachable status ----------------------------------------------


def test_payment_intent_requires_payment_method(api: Api) -> None:
    pi = new_payment_intent(api)
    assert pi["status"] == "requires_payment_method"
    retrieve_payment_intent(api, pi["id"])
    api.call("POST", f"/v1/payment_intents/{pi['id']}", description="Order 1", metadata={"step": "2"})
    api.call("GET", "/v1/payment_intents", limit=10)
    api.assert_clean()


def test_payment_intent_requires_confirmation_then_succeeded(api: Api) -> None:
    customer = new_customer(api)
    pi = new_payment_intent(api, customer=customer["id"], payment_method="pm_card_visa")
    assert pi["status"] == "requires_confirmation"
    confirmed = api.call("POST", f"/v1/payment_intents/{pi['id']}/confirm", expand=["latest_charge"])
    assert confirmed["status"] == "succeeded"
    retrieve_payment_intent(api, pi["id"])
    api.assert_clean()


def test_payment_intent_requires_action_then_succeeded(api: Api) -> None:
    pi = new_payment_intent(
        api,
        payment_method="pm_card_threeDSecure2Required",
        confirm=True,
        return_url="https://shop.example/return",
    )
    assert pi["status"] == "requires_action"
    assert pi["next_action"]["type"] == "redirect_to_url"
    retrieve_payment_intent(api, pi["id"])
    api.emulator.complete_3ds(pi["id"])
    assert retrieve_payment_intent(api, pi["id"])["status"] == "succeeded"
    api.assert_clean()


def test_payment_intent_requires_capture_then_captured(api: Api) -> None:
    pi = new_payment_intent(api, payment_method="pm_card_visa", confirm=True, capture_method="manual")
    assert pi["status"] == "requires_capture"
    retrieve_payment_intent(api, pi["id"])
    captured = api.call("POST", f"/v1/payment_intents/{pi['id']}/capture", amount_to_capture=1500)
    assert captured["status"] == "succeeded"
    retrieve_payment_intent(api, pi["id"])
    api.assert_clean()


def test_payment_intent_canceled(api: Api) -> None:
    pi = new_payment_intent(api, payment_method="pm_card_visa")
    canceled = api.call(
        "POST", f"/v1/payment_intents/{pi['id']}/cancel", cancellation_reason="requested_by_customer"
    )
    assert canceled["status"] == "canceled"
    retrieve_payment_intent(api, pi["id"])
    api.assert_clean()


def test_payment_intent_declined(api: Api) -> None:
    status, body = api.wire(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 2000,
            "currency": "eur",
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa_chargeDeclined",
            "confirm": True,
        },
    )
    assert status == 402
    error = body["error"]
    assert (error["type"], error.get("code"), error.get("decline_code")) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    pi = retrieve_payment_intent(api, error["payment_intent"]["id"])
    assert pi["status"] == "requires_payment_method"
    assert pi["last_payment_error"]["code"] == "card_declined"
    api.assert_clean()


# --- charges, refunds ----------------------------------------------------------------------


def test_charge_responses_succeeded_and_failed(api: Api) -> None:
    succeeded_payment(api)
    api.wire(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 500,
            "currency": "eur",
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa_chargeDeclined",
            "confirm": True,
        },
    )
    charges = api.call("GET", "/v1/charges", limit=10)
    assert {charge["status"] for charge in charges["data"]} == {"succeeded", "failed"}
    for charge in charges["data"]:
        api.call("GET", f"/v1/charges/{charge['id']}")
        api.call("GET", f"/v1/charges/{charge['id']}", expand=["payment_intent"])
    api.assert_clean()


def test_refund_responses(api: Api) -> None:
    pi = succeeded_payment(api)
    partial = api.call(
        "POST", "/v1/refunds", payment_intent=pi["id"], amount=500, reason="requested_by_customer"
    )
    api.call("POST", "/v1/refunds", charge=pi["latest_charge"], metadata={"why": "rest"})
    api.call("GET", f"/v1/refunds/{partial['id']}")
    api.call("GET", f"/v1/refunds/{partial['id']}", expand=["charge"])
    api.call("POST", f"/v1/refunds/{partial['id']}", metadata={"ticket": "T-9"})
    api.call("GET", "/v1/refunds", payment_intent=pi["id"])
    api.call("GET", f"/v1/charges/{pi['latest_charge']}")
    api.assert_clean()


def test_charge_update_and_balance_transactions(api: Api) -> None:
    pi = succeeded_payment(api)
    api.call("POST", "/v1/refunds", payment_intent=pi["id"], amount=500)
    charge = api.call(
        "POST", f"/v1/charges/{pi['latest_charge']}", metadata={"order": "ORD-1"}, description="x"
    )
    api.call("GET", f"/v1/charges/{charge['id']}", expand=["balance_transaction"])
    api.call("GET", f"/v1/payment_intents/{pi['id']}", expand=["latest_charge.balance_transaction"])
    api.call("GET", "/v1/charges", expand=["data.payment_intent"])
    transactions = api.call("GET", "/v1/balance_transactions", limit=10)
    assert transactions["data"], "no balance transaction for a captured charge"
    for transaction in transactions["data"]:
        api.call("GET", f"/v1/balance_transactions/{transaction['id']}")
    api.call("GET", "/v1/balance_transactions", type="charge", source=charge["id"])
    api.assert_clean()


# --- checkout sessions ---------------------------------------------------------------------


def test_checkout_session_open_complete_expired(api: Api) -> None:
    product = api.call("POST", "/v1/products", name="Mug")
    price = api.call("POST", "/v1/prices", product=product["id"], unit_amount=900, currency="eur")
    session = new_checkout_session(
        api,
        line_items=[
            {"price": price["id"], "quantity": 1},
            {
                "price_data": {"currency": "eur", "unit_amount": 1250, "product_data": {"name": "Tea"}},
                "quantity": 2,
            },
        ],
        customer_email="ada@example.com",
    )
    assert session["status"] == "open"
    path = f"/v1/checkout/sessions/{session['id']}"
    api.call("GET", path)
    api.call("GET", path, expand=["line_items"])
    api.call("GET", f"{path}/line_items")
    api.emulator.pay_checkout_session(session["id"], "4242424242424242")
    complete = api.call("GET", path, expand=["line_items", "payment_intent"])
    assert complete["status"] == "complete"
    assert complete["payment_status"] == "paid"

    api.call("POST", path, metadata={"paid": "yes"})
    other = new_checkout_session(api)
    expired = api.call("POST", f"/v1/checkout/sessions/{other['id']}/expire")
    assert expired["status"] == "expired"
    api.call("GET", "/v1/checkout/sessions", limit=10)
    api.call("GET", "/v1/checkout/sessions", payment_intent=complete["payment_intent"]["id"])
    api.assert_clean()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def payout_flow(api: Api) -> None:
    """Two available charges and a refund paid out, the payout moved to paid, another failed."""
    for _ in range(2):
        new_payment_intent(api, payment_method="pm_card_bypassPending", confirm=True)
    pi = new_payment_intent(api, payment_method="pm_card_bypassPending", confirm=True)
    api.call("POST", "/v1/refunds", payment_intent=pi["id"], amount=500)
    (payout_id,) = api.emulator.run_payouts()
    api.call("POST", f"/v1/payouts/{payout_id}", metadata={"batch": "1"})
    api.emulator.advance_clock(3 * 86400)
    new_payment_intent(api, payment_method="pm_card_bypassPending", confirm=True)
    (failing,) = api.emulator.run_payouts()
    api.emulator.fail_payout(failing, "account_closed")
    # a manual payout, and a refund that fails (refund.failed, charge.refund.updated)
    api.emulator.configure_account(payout_schedule="manual")
    new_payment_intent(api, payment_method="pm_card_bypassPending", confirm=True)
    api.call("POST", "/v1/payouts", amount=100, currency="eur", description="manual")
    api.emulator.configure_account(payout_schedule="daily")
    refunded = new_payment_intent(api, payment_method="pm_card_refundFail", confirm=True)
    refund = api.call("POST", "/v1/refunds", payment_intent=refunded["id"])
    deadline = time.monotonic() + 5
    while api.call("GET", f"/v1/refunds/{refund['id']}")["status"] != "failed":
        assert time.monotonic() < deadline, "the refund never failed"
        time.sleep(0.05)


def dispute_flow(api: Api) -> None:
    """A chargeback won with evidence and a file, one lost by closing, an inquiry, a fraud warning."""
    won = new_payment_intent(api, payment_method="pm_card_createDispute", confirm=True)
    lost = new_payment_intent(api, payment_method="pm_card_createDisputeProductNotReceived", confirm=True)
    new_payment_intent(api, payment_method="pm_card_createDisputeInquiry", confirm=True)
    new_payment_intent(api, payment_method="pm_card_createIssuerFraudRecord", confirm=True)
    document = io.BytesIO(PDF)
    document.name = "receipt.pdf"
    upload = api.emulator.client().v1.files.create(params={"purpose": "dispute_evidence", "file": document})
    api.call("GET", f"/v1/files/{upload.id}")
    (du,) = api.call("GET", "/v1/disputes", payment_intent=won["id"])["data"]
    api.call("POST", f"/v1/disputes/{du['id']}", evidence={"receipt": upload.id}, submit=False)
    api.call("POST", f"/v1/disputes/{du['id']}", evidence={"uncategorized_text": "winning_evidence"})
    (other,) = api.call("GET", "/v1/disputes", payment_intent=lost["id"])["data"]
    api.call("POST", f"/v1/disputes/{other['id']}/close")
    api.emulator.advance_clock(3600)


@pytest.mark.parametrize(
    ("path", "flow"),
    [("/v1/payouts", payout_flow), ("/v1/disputes", dispute_flow)],
)
def test_payout_and_dispute_responses(api: Api, path: str, flow: Any) -> None:
    flow(api)
    listed = api.call("GET", path, limit=10)
    assert listed["data"], f"{path} listed nothing"
    for item in listed["data"]:
        api.call("GET", f"{path}/{item['id']}")
    if path == "/v1/payouts":
        for item in listed["data"]:
            if item["automatic"]:
                api.call(
                    "GET", "/v1/balance_transactions", payout=item["id"], expand=["data.source"], limit=100
                )
            else:  # Stripe cannot say which transactions a manual payout paid: an error envelope
                status, _ = api.wire("GET", "/v1/balance_transactions", {"payout": item["id"]})
                assert status == 400
    else:
        for efw in api.call("GET", "/v1/radar/early_fraud_warnings", limit=10)["data"]:
            api.call("GET", f"/v1/radar/early_fraud_warnings/{efw['id']}")
        api.call("GET", "/v1/files", limit=10)
    api.call("GET", "/v1/balance_transactions", limit=100)
    api.call("GET", "/v1/balance")
    api.assert_clean()


# --- webhook endpoints, events and delivered payloads --------------------------------------


def test_webhook_endpoint_responses(api: Api) -> None:
    endpoint = api.call(
        "POST",
        "/v1/webhook_endpoints",
        url="https://shop.example/stripe/webhook",
        enabled_events=["payment_intent.succeeded", "charge.refunded"],
        description="shop",
        metadata={"env": "test"},
    )
    assert endpoint["secret"].startswith("whsec_")
    path = f"/v1/webhook_endpoints/{endpoint['id']}"
    # Stripe returns the signing secret only when the endpoint is created.
    assert "secret" not in api.call("GET", path)
    assert "secret" not in api.call("POST", path, enabled_events=["*"], disabled=True)
    assert all("secret" not in item for item in api.call("GET", "/v1/webhook_endpoints", limit=10)["data"])
    assert api.call("DELETE", path)["deleted"] is True
    api.assert_clean()


def billing_flow(api: Api) -> None:
    """Part 3: a SetupIntent, a subscription paid, renewed, declined, retried and canceled."""
    customer = new_customer(api)
    seti = api.call(
        "POST",
        "/v1/setup_intents",
        customer=customer["id"],
        payment_method="pm_card_authenticationRequiredOnSetup",
        confirm=True,
    )
    api.emulator.complete_setup_3ds(seti["id"])
    api.call("GET", f"/v1/setup_intents/{seti['id']}")
    api.call("GET", "/v1/setup_intents", customer=customer["id"])
    api.call("POST", f"/v1/setup_intents/{api.call('POST', '/v1/setup_intents')['id']}/cancel")
    price = api.call(
        "POST",
        "/v1/prices",
        product_data={"name": "Club"},
        unit_amount=900,
        currency="gbp",
        recurring={"interval": "month"},
    )
    sub = api.call(
        "POST",
        "/v1/subscriptions",
        customer=customer["id"],
        items=[{"price": price["id"]}],
        payment_behavior="default_incomplete",
        payment_settings={"save_default_payment_method": "on_subscription"},
        expand=["latest_invoice.confirmation_secret"],
    )
    invoice = sub["latest_invoice"]
    payments = api.call(
        "GET", "/v1/invoice_payments", invoice=invoice["id"], expand=["data.payment.payment_intent"]
    )
    api.call("GET", f"/v1/invoice_payments/{payments['data'][0]['id']}")
    pi = payments["data"][0]["payment"]["payment_intent"]
    api.call("POST", f"/v1/payment_intents/{pi['id']}/confirm", payment_method="pm_card_visa")
    api.call("GET", f"/v1/subscriptions/{sub['id']}")
    api.call("GET", f"/v1/invoices/{invoice['id']}")
    api.call("POST", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end=True)
    api.call("POST", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end=False, metadata={"k": "v"})
    declining = api.call(
        "POST", "/v1/payment_methods/pm_card_chargeCustomerFail/attach", customer=customer["id"]
    )
    api.call("POST", f"/v1/subscriptions/{sub['id']}", default_payment_method=declining["id"])
    api.emulator.configure_account(invoice_retry_hours=[24])
    assert "invoice.paid" in {e["type"] for e in all_events(api)}  # listing checks each event
    api.emulator.advance_clock(33 * 86400)
    api.call("GET", "/v1/invoices", subscription=sub["id"])
    api.call("GET", "/v1/subscriptions", status="all")
    other = api.call(
        "POST", "/v1/subscriptions", customer=customer["id"], items=[{"price": price["id"]}],
        payment_behavior="default_incomplete",
    )  # fmt: skip
    api.call("POST", f"/v1/invoices/{other['latest_invoice']}/void")
    api.call("DELETE", f"/v1/subscriptions/{other['id']}")
    third = api.call(
        "POST", "/v1/subscriptions", customer=customer["id"], items=[{"price": price["id"]}],
        payment_behavior="default_incomplete",
    )  # fmt: skip
    api.call("POST", f"/v1/invoices/{third['latest_invoice']}/mark_uncollectible")


def test_billing_responses(api: Api) -> None:
    billing_flow(api)
    events = all_events(api)
    assert {"invoice.payment_failed", "customer.subscription.deleted"} <= {e["type"] for e in events}
    # invoice.upcoming's object is a preview without an id, as Stripe sends it
    api.problems = [p for p in api.problems if not p.startswith("event invoice.upcoming")]
    api.gaps = [g for g in api.gaps if not g.startswith("event invoice.upcoming")]
    api.assert_clean()
    api.assert_complete()


def run_every_flow(api: Api) -> None:
    """One of each thing the emulator does, so each event type it emits gets emitted."""
    customer = new_customer(api)
    api.call("POST", f"/v1/customers/{customer['id']}", metadata={"tier": "gold"})
    product = api.call("POST", "/v1/products", name="Tea")
    api.call("POST", f"/v1/products/{product['id']}", description="Green")
    price = api.call("POST", "/v1/prices", product=product["id"], unit_amount=1250, currency="eur")
    api.call("POST", f"/v1/prices/{price['id']}", metadata={"shelf": "A"})
    pm = api.call("POST", "/v1/payment_methods", type="card", card={"token": "tok_visa"})
    api.call("POST", f"/v1/payment_methods/{pm['id']}/attach", customer=customer["id"])
    api.call("POST", f"/v1/payment_methods/{pm['id']}", metadata={"label": "work"})
    api.call("POST", f"/v1/payment_methods/{pm['id']}/detach")

    pi = succeeded_payment(api, customer=customer["id"])
    api.call("POST", "/v1/refunds", payment_intent=pi["id"], amount=500)
    held = new_payment_intent(api, payment_method="pm_card_visa", confirm=True, capture_method="manual")
    api.call("POST", f"/v1/payment_intents/{held['id']}/capture")
    api.call("POST", f"/v1/payment_intents/{new_payment_intent(api)['id']}/cancel")
    action = new_payment_intent(
        api, payment_method="pm_card_threeDSecure2Required", confirm=True, return_url="https://shop.example/r"
    )
    api.emulator.complete_3ds(action["id"])
    api.wire(
        "POST",
        "/v1/payment_intents",
        {"amount": 700, "currency": "eur", "payment_method": "pm_card_visa_chargeDeclined", "confirm": True},
    )
    session = new_checkout_session(api)
    api.emulator.pay_checkout_session(session["id"], "4242424242424242")
    api.call("POST", f"/v1/checkout/sessions/{new_checkout_session(api)['id']}/expire")
    api.call("DELETE", f"/v1/customers/{new_customer(api)['id']}")
    payout_flow(api)
    dispute_flow(api)


def all_events(api: Api) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = api.call("GET", "/v1/events", **params)
        events += page["data"]
        if not page["has_more"]:
            return events
        params["starting_after"] = page["data"][-1]["id"]


def test_every_emitted_event_and_its_object(api: Api) -> None:
    run_every_flow(api)
    events = all_events(api)
    assert events, "no events emitted"
    for event in events[:3]:
        api.call("GET", f"/v1/events/{event['id']}")
    api.call("GET", "/v1/events", types=["payment_intent.succeeded", "charge.succeeded"])
    api.call("GET", "/v1/events", type="payment_intent.*", created={"gte": 0})
    api.assert_clean()


def test_objects_carry_every_field_stripe_always_sends(api: Api) -> None:
    # Separate from the schema checks: the spec's `required` lists are minimal, but a client
    # reading `pi.customer_account` gets AttributeError from the SDK when the JSON lacks the key.
    source_file("fixtures3.json")  # the list of always-sent fields comes from Stripe's examples
    run_every_flow(api)
    all_events(api)
    for path in ("/v1/customers", "/v1/products", "/v1/prices", "/v1/payment_intents", "/v1/charges",
                 "/v1/refunds", "/v1/checkout/sessions", "/v1/payment_methods", "/v1/payouts",
                 "/v1/disputes", "/v1/balance_transactions", "/v1/files"):  # fmt: skip
        api.call("GET", path, limit=100)
    api.assert_complete()


def test_delivered_webhook_payloads(api: Api, webhook_receiver: Any) -> None:
    api.emulator.add_webhook_endpoint(webhook_receiver.url)
    run_every_flow(api)
    api.emulator.wait_for_deliveries()
    delivered = webhook_receiver.events()
    assert delivered, "no webhook delivered"
    for event in delivered:
        api.problems += [f"delivered: {line}" for line in api.schemas.errors("event", event)]
        api.complete(event)
    api.assert_clean()


# --- error envelopes -----------------------------------------------------------------------

_PI = {"amount": 2000, "currency": "eur", "payment_method_types": ["card"]}
_KEY = _DEFAULT_KEY
_INVALID = "invalid_request_error"
_DECLINED = {**_PI, "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds", "confirm": True}


@pytest.mark.parametrize(
    ("method", "path", "params", "key", "status", "error_type"),
    [
        pytest.param(
            "POST", "/v1/payment_intents", {**_PI, "colour": "blue"}, _KEY, 400, _INVALID, id="400-unknown"
        ),
        pytest.param(
            "POST", "/v1/payment_intents", {"currency": "eur"}, _KEY, 400, _INVALID, id="400-missing"
        ),
        pytest.param(
            "POST",
            "/v1/payment_intents",
            {**_PI, "capture_method": "x"},
            _KEY,
            400,
            _INVALID,
            id="400-bad-enum",
        ),
        pytest.param("GET", "/v1/customers", {}, None, 401, _INVALID, id="401-no-key"),
        pytest.param("GET", "/v1/customers", {}, "sk_test_wrong", 401, _INVALID, id="401-bad-key"),
        pytest.param("POST", "/v1/payment_intents", _DECLINED, _KEY, 402, "card_error", id="402-declined"),
        pytest.param("GET", "/v1/customers/cus_nope", {}, _KEY, 404, _INVALID, id="404-no-such-customer"),
        pytest.param(
            "POST", "/v1/refunds", {"payment_intent": "pi_nope"}, _KEY, 404, _INVALID, id="404-no-such-pi"
        ),
        pytest.param("GET", "/v1/nothing_here", {}, _KEY, 404, _INVALID, id="404-unknown-route"),
    ],
)
def test_error_envelopes(
    api: Api, method: str, path: str, params: dict[str, Any], key: Any, status: int, error_type: str
) -> None:
    got, body = api.wire(method, path, params, key=key)
    assert got == status, body
    assert body["error"]["type"] == error_type
    api.assert_clean()


def test_error_envelopes_of_refused_state_changes(api: Api) -> None:
    pi = succeeded_payment(api)
    status, body = api.wire("POST", f"/v1/payment_intents/{pi['id']}/capture")
    assert status == 400, body
    assert body["error"].get("code") == "payment_intent_unexpected_state"
    status, body = api.wire("POST", "/v1/refunds", {"payment_intent": pi["id"], "amount": 999999})
    assert status == 400, body
    key = {"Idempotency-Key": "fidelity-1"}
    status, _ = api.wire("POST", "/v1/customers", {"email": "a@example.com"}, headers=key)
    assert status == 200
    status, body = api.wire("POST", "/v1/customers", {"email": "b@example.com"}, headers=key)
    assert status == 400, body
    assert body["error"]["type"] == "idempotency_error"
    api.assert_clean()


def test_payment_intent_after_failed_3ds(api: Api) -> None:
    pi = new_payment_intent(
        api,
        payment_method="pm_card_threeDSecure2Required",
        confirm=True,
        return_url="https://shop.example/return",
    )
    api.emulator.fail_3ds(pi["id"])
    failed = retrieve_payment_intent(api, pi["id"])
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"] is not None
    all_events(api)
    api.assert_clean()


# --- the validator itself ------------------------------------------------------------------

FIXTURE_RESOURCES = (
    "balance_transaction",
    "charge",
    "checkout.session",
    "customer",
    "deleted_customer",
    "deleted_webhook_endpoint",
    "dispute",
    "event",
    "item",
    "payment_intent",
    "payment_method",
    "payout",
    "price",
    "product",
    "refund",
    "webhook_endpoint",
)


def stripe_fixtures() -> dict[str, Any]:
    with source_file("fixtures3.json").open(encoding="utf-8") as handle:
        resources: dict[str, Any] = json.load(handle)["resources"]
    return resources


@pytest.mark.parametrize("name", FIXTURE_RESOURCES)
def test_stripes_own_example_objects_validate(name: str) -> None:
    # Proves the helper (nullable, expandables, SDK-known fields) accepts what Stripe sends.
    assert response_schemas().errors(name, stripe_fixtures()[name]) == []


def test_validator_catches_what_a_client_would_notice() -> None:
    pi = json.loads(json.dumps(stripe_fixtures()["payment_intent"]))
    del pi["status"]
    pi["invented"] = 1
    pi["capture_method"] = "sometimes"
    pi["currency"] = None
    pi["amount"] = "2000"
    pi["latest_charge"] = {"id": "ch_1", "object": "charge"}
    assert response_schemas().errors("payment_intent", pi) == [
        "payment_intent.amount: '2000' is not of type 'integer'",
        "payment_intent.capture_method: 'sometimes' is not one of ['automatic', 'automatic_async', 'manual']",
        "payment_intent.currency: None is not of type 'string'",
        "payment_intent.latest_charge: 'amount' is a required property",
        "payment_intent: 'status' is a required property",
        "payment_intent: Additional properties are not allowed ('invented' was unexpected)",
    ]
