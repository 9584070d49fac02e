"""The gateway against a loopback HTTP server that answers what Stripe answers on a bad day."""

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.keys import idempotency_key
from payments import stripe_budget, stripe_gateway
from payments.stripe_gateway import (
    AuthenticationRequired,
    CardDeclined,
    InvalidRequest,
    RateLimited,
    StripeUnavailable,
)
from tests.fault_server import LOCK_TIMEOUT, PI_JSON, RATE_LIMITED, SERVER_ERROR, Reply, error_body


def create(key: str = "order:1:payment-intent:v1") -> dict[str, Any]:
    return stripe_gateway.payment_intent_create(
        params={"amount": 4200, "currency": "gbp"}, idempotency_key=key, ids={"order": "ORD-000001"}
    )


def test_a_write_sends_the_callers_key_the_pinned_version_and_returns_a_plain_dict(fault_server, settings):
    # when
    result = create()

    # then
    assert result == PI_JSON
    assert isinstance(result, dict)
    (seen,) = fault_server.seen
    assert seen.path == "/v1/payment_intents"
    assert seen.idempotency_key == "order:1:payment-intent:v1"
    assert seen.stripe_version == settings.STRIPE_API_VERSION
    assert seen.authorization == f"Bearer {settings.STRIPE_SECRET_KEY}"
    assert "amount=4200" in seen.body


def test_a_rate_limit_429_is_retried_by_us_with_growing_jittered_delays_and_the_same_key(
    fault_server, sleeps, settings
):
    fault_server.replies = [RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, Reply()]

    result = create()

    assert result["id"] == "pi_123"
    assert len(fault_server.seen) == 4
    assert {s.idempotency_key for s in fault_server.seen} == {"order:1:payment-intent:v1"}
    base = settings.STRIPE_RETRY_BASE_DELAY
    for attempt, delay in enumerate(sleeps, start=1):
        ceiling = min(base * 2 ** (attempt - 1), settings.STRIPE_RETRY_MAX_DELAY)
        assert ceiling / 2 <= delay <= ceiling
    assert len(sleeps) == 3


def test_a_rate_limited_call_waits_its_backoff_delay_before_the_retry(fault_server, monkeypatch, settings):
    # given Stripe's rate limit once, and the gateway's clock recording its waits
    fault_server.replies = [RATE_LIMITED, Reply()]
    waits: list[float] = []
    monkeypatch.setattr(stripe_gateway, "time", SimpleNamespace(sleep=waits.append, monotonic=time.monotonic))

    # when
    result = create()

    # then the retry came after one real wait of the first attempt's backoff
    assert result["id"] == "pi_123"
    assert len(fault_server.seen) == 2
    (wait,) = waits
    assert settings.STRIPE_RETRY_BASE_DELAY / 2 <= wait <= settings.STRIPE_RETRY_BASE_DELAY


def test_backoff_is_capped(settings):
    settings.STRIPE_RETRY_BASE_DELAY = 1.0
    settings.STRIPE_RETRY_MAX_DELAY = 4.0

    delays = [stripe_gateway.backoff_delay(attempt) for attempt in range(1, 12)]

    assert max(delays) <= 4.0
    assert min(delays[5:]) >= 2.0


def test_rate_limiting_that_never_stops_ends_in_rate_limited_after_the_cap(fault_server, sleeps):
    fault_server.replies = [RATE_LIMITED]

    with pytest.raises(RateLimited) as caught:
        create()

    assert len(fault_server.seen) == 4  # 1 + STRIPE_RATE_LIMIT_RETRIES
    assert len(sleeps) == 3
    assert caught.value.request_id == "req_4"


def test_stripe_should_retry_false_is_honoured(fault_server, sleeps):
    fault_server.replies = [Reply(429, error_body("invalid_request_error"), {"Stripe-Should-Retry": "false"})]

    with pytest.raises(RateLimited):
        create()

    assert len(fault_server.seen) == 1
    assert sleeps == []


def test_a_lock_timeout_is_retried_by_the_sdk_with_the_same_key(fault_server, sleeps):
    fault_server.replies = [LOCK_TIMEOUT, Reply()]

    assert create()["id"] == "pi_123"

    assert [s.idempotency_key for s in fault_server.seen] == ["order:1:payment-intent:v1"] * 2
    assert sleeps == []  # the SDK's own retry, not ours


def test_500s_are_retried_with_the_same_key_then_reported_as_unavailable(fault_server):
    fault_server.replies = [SERVER_ERROR]

    with pytest.raises(StripeUnavailable) as caught:
        create()

    assert len(fault_server.seen) == 3  # 1 + STRIPE_MAX_NETWORK_RETRIES
    assert {s.idempotency_key for s in fault_server.seen} == {"order:1:payment-intent:v1"}
    assert "unknown" in str(caught.value)


def test_a_500_then_success_succeeds(fault_server):
    fault_server.replies = [SERVER_ERROR, Reply()]

    assert create()["status"] == "succeeded"
    assert len(fault_server.seen) == 2


def test_a_slow_answer_times_out_and_is_retried_with_the_same_key(fault_server):
    fault_server.replies = [Reply(delay=1.5), Reply()]

    assert create()["id"] == "pi_123"
    assert len(fault_server.seen) == 2
    assert fault_server.seen[0].idempotency_key == fault_server.seen[1].idempotency_key


def test_a_dropped_connection_is_retried_with_the_same_key(fault_server):
    fault_server.replies = [Reply(drop=True), Reply()]

    assert create()["id"] == "pi_123"
    assert len(fault_server.seen) == 2
    assert fault_server.seen[0].idempotency_key == fault_server.seen[1].idempotency_key


def test_a_decline_carries_code_and_decline_code(fault_server):
    fault_server.replies = [
        Reply(
            402,
            error_body(
                "card_error",
                code="card_declined",
                decline_code="insufficient_funds",
                payment_intent={
                    "id": "pi_123",
                    "object": "payment_intent",
                    "status": "requires_payment_method",
                },
            ),
        )
    ]

    with pytest.raises(CardDeclined) as caught:
        create()

    assert caught.value.code == "card_declined"
    assert caught.value.decline_code == "insufficient_funds"
    assert caught.value.payment_intent["id"] == "pi_123"
    assert len(fault_server.seen) == 1


def test_authentication_required_is_its_own_error(fault_server):
    fault_server.replies = [Reply(402, error_body("card_error", code="authentication_required"))]

    with pytest.raises(AuthenticationRequired):
        create()


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (
            Reply(400, error_body("invalid_request_error", code="parameter_missing", param="amount")),
            "parameter_missing",
        ),
        (Reply(404, error_body("invalid_request_error", code="resource_missing")), "resource_missing"),
        (Reply(400, error_body("idempotency_error")), "idempotency_error"),
    ],
)
def test_refusals_are_invalid_requests_and_are_not_retried(fault_server, sleeps, reply, code):
    fault_server.replies = [reply]

    with pytest.raises(InvalidRequest) as caught:
        create()

    assert caught.value.code == code
    assert len(fault_server.seen) == 1


def test_errors_and_logs_never_carry_the_secret_key(fault_server, settings, caplog):
    settings.STRIPE_SECRET_KEY = "sk_test_" + "S3cr3tValue" * 3
    fault_server.replies = [SERVER_ERROR]

    with caplog.at_level("DEBUG"), pytest.raises(StripeUnavailable) as caught:
        create()

    assert "S3cr3tValue" not in str(caught.value)
    assert "S3cr3tValue" not in caplog.text
    assert "req_" in caplog.text  # the request id is logged
    assert "ORD-000001" in caplog.text  # and our own identifier


def test_every_write_needs_a_key():
    with pytest.raises(ValueError) as caught:
        create(key="")
    assert str(caught.value) == stripe_gateway.MESSAGE_NO_KEY


def test_idempotency_keys_come_from_the_business_operation():
    assert idempotency_key("order", 12, "payment-intent") == "order:12:payment-intent:v1"
    assert idempotency_key("order", 12, "payment-intent", version=2) == "order:12:payment-intent:v2"


def test_gets_send_no_idempotency_key(fault_server):
    stripe_gateway.payment_intent_retrieve(payment_intent_id="pi_123")

    assert fault_server.seen[0].idempotency_key is None
    assert fault_server.seen[0].path == "/v1/payment_intents/pi_123"


def test_webhook_verification_accepts_any_configured_secret_and_refuses_others(settings):
    payload = b'{"id": "evt_1"}'
    for secret in settings.STRIPE_WEBHOOK_SECRETS:
        stripe_gateway.webhook_verify(
            payload=payload, sig_header=stripe_gateway.webhook_sign(payload=payload, secret=secret)
        )

    forged = stripe_gateway.webhook_sign(payload=payload, secret="whsec_attacker")
    with pytest.raises(stripe_gateway.SignatureInvalid) as caught:
        stripe_gateway.webhook_verify(payload=payload, sig_header=forged)
    assert "whsec_" not in str(caught.value)


def test_webhook_verification_refuses_a_stale_timestamp(settings):
    payload = b'{"id": "evt_1"}'
    stale = stripe_gateway.webhook_sign(
        payload=payload, secret=settings.STRIPE_WEBHOOK_SECRETS[0], timestamp=1_000_000
    )

    with pytest.raises(stripe_gateway.SignatureInvalid):
        stripe_gateway.webhook_verify(payload=payload, sig_header=stale)


@pytest.mark.parametrize(
    ("object_id", "livemode", "url"),
    [
        ("pi_1", False, "https://dashboard.stripe.com/test/payments/pi_1"),
        ("ch_1", True, "https://dashboard.stripe.com/payments/ch_1"),
        ("cus_1", True, "https://dashboard.stripe.com/customers/cus_1"),
        ("re_1", True, "https://dashboard.stripe.com/refunds/re_1"),
        ("po_1", True, "https://dashboard.stripe.com/payouts/po_1"),
        ("txn_1", True, "https://dashboard.stripe.com/balance/transactions/txn_1"),
        ("dp_1", True, "https://dashboard.stripe.com/disputes/dp_1"),
        ("du_1", False, "https://dashboard.stripe.com/test/disputes/du_1"),
        ("evt_1", True, "https://dashboard.stripe.com/events/evt_1"),
        ("cs_1", True, "https://dashboard.stripe.com/checkout/sessions/cs_1"),
        ("zz_1", True, "https://dashboard.stripe.com/search?query=zz_1"),
    ],
)
@pytest.mark.parametrize("api_base", ["", "https://api.stripe.com", "https://api.stripe.com/"])
def test_dashboard_links(
    object_id: str, livemode: bool, url: str, api_base: str, settings: Any, *_: Callable[..., Any]
) -> None:
    settings.STRIPE_API_BASE = api_base
    assert stripe_gateway.dashboard_url(object_id=object_id, livemode=livemode) == url


def test_against_the_emulator_links_open_the_emulators_own_page_for_the_object(emulator: Any) -> None:
    # given a PaymentIntent that exists only in the emulator
    intent = stripe_gateway.payment_intent_create(
        params={"amount": 2400, "currency": "gbp"}, idempotency_key="test:dashboard-link:v1"
    )
    # when staff follow its "Stripe Dashboard" link, in a browser with no key
    url = stripe_gateway.dashboard_url(object_id=intent["id"], livemode=False)
    assert url == f"{emulator.url}/_emulator/objects/{intent['id']}"
    with urllib.request.urlopen(url, timeout=5) as response:
        page = response.read().decode()
    # then they see that object, without its client secret
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert intent["id"] in page and "payment_intent" in page and "2400" in page
    assert "_secret_" not in page
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{emulator.url}/_emulator/objects/pi_nothing", timeout=5)
    assert missing.value.code == 404


# ---------------------------------------------------------------------------- every operation on the wire
# Each operation's endpoint, the caller's key, what it sends, and its log line (support finds a
# call by our identifiers and Stripe's request id, at the priority it ran at).

KEY = "order:1:op:v1"
ORDER = {"order": "ORD-000001"}


def call_log(caplog: pytest.LogCaptureFixture, operation: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == stripe_gateway.__name__ and getattr(r, "operation", None) == operation
    ]


def asked(seen: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(seen.path).query)


PRICE = {"id": "price_1", "object": "price", "unit_amount": 1200, "unit_amount_decimal": "1200"}

WRITES = [
    (
        lambda: stripe_gateway.customer_create(
            params={"email": "a@example.org"}, idempotency_key=KEY, ids=ORDER
        ),
        "customer.create",
        "/v1/customers",
        {"email": ["a@example.org"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.payment_intent_create(params={"amount": 4200}, idempotency_key=KEY, ids=ORDER),
        "payment_intent.create",
        "/v1/payment_intents",
        {"amount": ["4200"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.payment_intent_update(
            payment_intent_id="pi_123", params={"amount": 4300}, idempotency_key=KEY, ids=ORDER
        ),
        "payment_intent.update",
        "/v1/payment_intents/pi_123",
        {"amount": ["4300"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.payment_intent_confirm(
            payment_intent_id="pi_123",
            params={"payment_method": "pm_card_visa"},
            idempotency_key=KEY,
            ids=ORDER,
        ),
        "payment_intent.confirm",
        "/v1/payment_intents/pi_123/confirm",
        {"payment_method": ["pm_card_visa"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.payment_intent_cancel(
            payment_intent_id="pi_123", idempotency_key=KEY, ids=ORDER
        ),
        "payment_intent.cancel",
        "/v1/payment_intents/pi_123/cancel",
        {},
        ORDER,
    ),
    (
        lambda: stripe_gateway.checkout_session_create(
            params={"mode": "payment"}, idempotency_key=KEY, ids=ORDER
        ),
        "checkout_session.create",
        "/v1/checkout/sessions",
        {"mode": ["payment"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.checkout_session_expire(session_id="cs_1", idempotency_key=KEY),
        "checkout_session.expire",
        "/v1/checkout/sessions/cs_1/expire",
        {},
        {"checkout_session": "cs_1"},
    ),
    (
        lambda: stripe_gateway.refund_create(params={"amount": 1000}, idempotency_key=KEY, ids=ORDER),
        "refund.create",
        "/v1/refunds",
        {"amount": ["1000"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.dispute_update(
            dispute_id="du_1", params={"submit": True}, idempotency_key=KEY
        ),
        "dispute.update",
        "/v1/disputes/du_1",
        {"submit": ["true"]},
        {"dispute": "du_1"},
    ),
    (
        lambda: stripe_gateway.dispute_close(dispute_id="du_1", idempotency_key=KEY),
        "dispute.close",
        "/v1/disputes/du_1/close",
        {},
        {"dispute": "du_1"},
    ),
    (
        lambda: stripe_gateway.subscription_create(
            params={"customer": "cus_1"}, idempotency_key=KEY, ids={"subscriber": "7"}
        ),
        "subscription.create",
        "/v1/subscriptions",
        {"customer": ["cus_1"]},
        {"subscriber": "7"},
    ),
    (
        lambda: stripe_gateway.subscription_update(
            subscription_id="sub_1",
            params={"cancel_at_period_end": True},
            idempotency_key=KEY,
            ids={"subscriber": "7"},
        ),
        "subscription.update",
        "/v1/subscriptions/sub_1",
        {"cancel_at_period_end": ["true"]},
        {"subscription": "sub_1", "subscriber": "7"},
    ),
    (
        lambda: stripe_gateway.setup_intent_create(
            params={"customer": "cus_1"}, idempotency_key=KEY, ids=ORDER
        ),
        "setup_intent.create",
        "/v1/setup_intents",
        {"customer": ["cus_1"]},
        ORDER,
    ),
    (
        lambda: stripe_gateway.product_create(params={"name": "Mug"}, idempotency_key=KEY),
        "product.create",
        "/v1/products",
        {"name": ["Mug"]},
        {},
    ),
    (
        lambda: stripe_gateway.price_create(params={"unit_amount": 1200}, idempotency_key=KEY),
        "price.create",
        "/v1/prices",
        {"unit_amount": ["1200"]},
        {},
    ),
]


@pytest.mark.parametrize(("call", "operation", "path", "sent", "ids"), WRITES, ids=[w[1] for w in WRITES])
def test_every_write_posts_to_its_endpoint_with_the_callers_key_and_logs_our_ids(
    fault_server, caplog, call, operation, path, sent, ids
):
    fault_server.replies = [Reply(body=PRICE)]
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    # a plain dict, exactly the JSON Stripe sent (a decimal string stays a string, storable as JSON)
    assert call() == PRICE

    (seen,) = fault_server.seen
    assert (seen.path, seen.idempotency_key) == (path, KEY)
    assert parse_qs(seen.body) == sent
    (record,) = call_log(caplog, operation)
    assert record.levelno == logging.INFO
    assert {name: getattr(record, name, None) for name in ids} == ids
    assert (record.request_id, record.priority, record.attempt) == ("req_1", "customer", 1)
    assert record.duration_ms >= 0  # how long Stripe took, for the latency dashboards
    words = [
        "stripe",
        operation,
        "ok",
        "request_id=req_1",
        *(f"{name}={value}" for name, value in ids.items()),
    ]
    assert record.getMessage().startswith(" ".join([*words, "priority=customer"]))


READS = [
    (
        lambda: stripe_gateway.payment_intent_retrieve(payment_intent_id="pi_123", expand=["latest_charge"]),
        "payment_intent.retrieve",
        "/v1/payment_intents/pi_123",
        {"expand[0]": ["latest_charge"]},
        {"payment_intent": "pi_123"},
    ),
    (
        lambda: stripe_gateway.checkout_session_retrieve(session_id="cs_1", expand=["payment_intent"]),
        "checkout_session.retrieve",
        "/v1/checkout/sessions/cs_1",
        {"expand[0]": ["payment_intent"]},
        {"checkout_session": "cs_1"},
    ),
    (
        lambda: stripe_gateway.checkout_session_retrieve(session_id="cs_1"),
        "checkout_session.retrieve",
        "/v1/checkout/sessions/cs_1",
        {},
        {"checkout_session": "cs_1"},
    ),
    (
        lambda: stripe_gateway.charge_retrieve(charge_id="ch_1"),
        "charge.retrieve",
        "/v1/charges/ch_1",
        {},
        {"charge": "ch_1"},
    ),
    (
        lambda: stripe_gateway.refund_retrieve(refund_id="re_1"),
        "refund.retrieve",
        "/v1/refunds/re_1",
        {},
        {"refund": "re_1"},
    ),
    (
        lambda: stripe_gateway.event_retrieve(event_id="evt_1"),
        "event.retrieve",
        "/v1/events/evt_1",
        {},
        {"event": "evt_1"},
    ),
    (
        lambda: stripe_gateway.payout_retrieve(payout_id="po_1"),
        "payout.retrieve",
        "/v1/payouts/po_1",
        {},
        {"payout": "po_1"},
    ),
    (
        lambda: stripe_gateway.dispute_retrieve(dispute_id="du_1"),
        "dispute.retrieve",
        "/v1/disputes/du_1",
        {},
        {"dispute": "du_1"},
    ),
    (
        lambda: stripe_gateway.subscription_retrieve(subscription_id="sub_1"),
        "subscription.retrieve",
        "/v1/subscriptions/sub_1",
        {},
        {"subscription": "sub_1"},
    ),
    (
        lambda: stripe_gateway.invoice_retrieve(invoice_id="in_1"),
        "invoice.retrieve",
        "/v1/invoices/in_1",
        {},
        {"invoice": "in_1"},
    ),
    (
        lambda: stripe_gateway.setup_intent_retrieve(setup_intent_id="seti_1"),
        "setup_intent.retrieve",
        "/v1/setup_intents/seti_1",
        {},
        {"setup_intent": "seti_1"},
    ),
]


@pytest.mark.parametrize(("call", "operation", "path", "query", "ids"), READS, ids=[r[1] for r in READS])
def test_every_read_gets_its_object_with_what_it_expands_and_logs_our_ids(
    fault_server, caplog, call, operation, path, query, ids
):
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    assert call() == PI_JSON

    (seen,) = fault_server.seen
    assert (urlsplit(seen.path).path, asked(seen), seen.idempotency_key) == (path, query, None)
    (record,) = call_log(caplog, operation)
    assert {name: getattr(record, name, None) for name in ids} == ids
    assert record.request_id == "req_1"


@pytest.mark.parametrize(
    ("object_id", "path"),
    [
        ("pi_1", "/v1/payment_intents/pi_1"),
        ("ch_1", "/v1/charges/ch_1"),
        ("re_1", "/v1/refunds/re_1"),
        ("cs_1", "/v1/checkout/sessions/cs_1"),
        ("evt_1", "/v1/events/evt_1"),
        ("du_1", "/v1/disputes/du_1"),
        ("dp_1", "/v1/disputes/dp_1"),
    ],
)
def test_a_resync_fetches_any_mirrored_object_by_its_id(fault_server, object_id, path):
    assert stripe_gateway.object_retrieve(object_id=object_id) == PI_JSON

    (seen,) = fault_server.seen
    assert urlsplit(seen.path).path == path
    if object_id.startswith("pi_"):  # with the latest charge attempt, to refresh its mirror too
        assert asked(seen) == {"expand[0]": ["latest_charge"]}


def test_a_resync_of_an_object_we_do_not_mirror_is_refused_without_a_call(fault_server):
    with pytest.raises(InvalidRequest) as caught:
        stripe_gateway.object_retrieve(object_id="cus_1")

    assert str(caught.value) == "Stripe refused object.retrieve: unsupported_object."
    assert fault_server.seen == []


def empty_page(url: str, data: list[dict[str, Any]] | None = None) -> Reply:
    return Reply(body={"object": "list", "url": url, "has_more": False, "data": data or []})


LISTS = [
    (
        lambda: stripe_gateway.charge_list_for_payment_intent(payment_intent_id="pi_123"),
        "charge.list",
        "/v1/charges",
        {"payment_intent": ["pi_123"]},
        {"payment_intent": "pi_123"},
    ),
    (
        lambda: stripe_gateway.balance_transaction_list(payout_id="po_1"),
        "balance_transaction.list",
        "/v1/balance_transactions",
        {"payout": ["po_1"], "expand[0]": ["data.source"]},
        {"payout": "po_1"},
    ),
    (
        lambda: stripe_gateway.payout_list(since=1_700_000_000),
        "payout.list",
        "/v1/payouts",
        {"created[gte]": ["1700000000"]},
        {},
    ),
    (
        lambda: stripe_gateway.charge_list(since=1_700_000_000, until=1_700_000_100),
        "charge.list",
        "/v1/charges",
        {"created[gte]": ["1700000000"], "created[lte]": ["1700000100"]},
        {},
    ),
    (
        lambda: stripe_gateway.refund_list(since=1_700_000_000, until=1_700_000_100),
        "refund.list",
        "/v1/refunds",
        {"created[gte]": ["1700000000"], "created[lte]": ["1700000100"]},
        {},
    ),
    (
        lambda: stripe_gateway.dispute_list(since=1_700_000_000, until=1_700_000_100),
        "dispute.list",
        "/v1/disputes",
        {"created[gte]": ["1700000000"], "created[lte]": ["1700000100"]},
        {},
    ),
    (
        lambda: stripe_gateway.subscription_list(since=1_700_000_000, until=1_700_000_100),
        "subscription.list",
        "/v1/subscriptions",
        {"status": ["all"], "created[gte]": ["1700000000"], "created[lte]": ["1700000100"]},
        {},
    ),
    (
        lambda: stripe_gateway.invoice_list(subscription_id="sub_1"),
        "invoice.list",
        "/v1/invoices",
        {"subscription": ["sub_1"]},
        {"subscription": "sub_1"},
    ),
    (
        lambda: stripe_gateway.invoice_list_created(since=1_700_000_000, until=1_700_000_100),
        "invoice.list",
        "/v1/invoices",
        {"created[gte]": ["1700000000"], "created[lte]": ["1700000100"]},
        {},
    ),
    (
        lambda: stripe_gateway.invoice_payment_list(invoice_id="in_1"),
        "invoice_payment.list",
        "/v1/invoice_payments",
        {"invoice": ["in_1"], "expand[0]": ["data.payment.payment_intent"]},
        {"invoice": "in_1"},
    ),
]


@pytest.mark.parametrize(
    ("call", "operation", "path", "query", "ids"), LISTS, ids=[f"{i}-{x[1]}" for i, x in enumerate(LISTS)]
)
def test_every_list_asks_for_its_filter_in_pages_of_100_in_the_background(
    fault_server, caplog, call, operation, path, query, ids
):
    fault_server.replies = [empty_page(path, [{"id": "x_1", "object": "thing"}])]
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    assert list(call()) == [{"id": "x_1", "object": "thing"}]

    (seen,) = fault_server.seen
    assert (urlsplit(seen.path).path, asked(seen)) == (path, {"limit": ["100"], **query})
    (record,) = call_log(caplog, operation)
    assert {name: getattr(record, name, None) for name in ids} == ids
    assert (record.request_id, record.priority) == ("req_1", "background")


def test_a_list_page_that_says_more_but_is_empty_ends_the_listing(fault_server):
    fault_server.replies = [
        Reply(body={"object": "list", "url": "/v1/charges", "has_more": True, "data": []})
    ]

    assert list(stripe_gateway.charge_list(since=0)) == []
    assert len(fault_server.seen) == 1


def test_missed_events_are_listed_page_after_page_in_the_background(fault_server, caplog):
    fault_server.replies = [
        Reply(
            body={
                "object": "list",
                "url": "/v1/events",
                "has_more": True,
                "data": [{"id": "evt_2", "object": "event"}],
            }
        ),
        empty_page("/v1/events", [{"id": "evt_1", "object": "event"}]),
    ]
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    events = list(stripe_gateway.event_list(params={"type": "charge.refunded"}))

    assert events == [{"id": "evt_2", "object": "event"}, {"id": "evt_1", "object": "event"}]
    assert all(isinstance(event, dict) for event in events)
    first, second = fault_server.seen
    assert asked(first) == {"type": ["charge.refunded"]}
    assert asked(second)["starting_after"] == ["evt_2"]
    (record,) = call_log(caplog, "event.list")  # the first page; the SDK walks the rest
    assert record.priority == "background"


# ---------------------------------------------------------------------------- errors staff see


def test_a_decline_tells_staff_the_operation_and_the_code_with_stripes_request_id(fault_server):
    fault_server.replies = [
        Reply(402, error_body("card_error", code="card_declined", decline_code="do_not_honor"))
    ]

    with pytest.raises(CardDeclined) as caught:
        create()

    assert type(caught.value) is CardDeclined  # not "needs authentication": the customer must change card
    assert str(caught.value) == "Card declined during payment_intent.create: card_declined."
    assert (caught.value.request_id, caught.value.decline_code) == ("req_1", "do_not_honor")
    assert caught.value.payment_intent is None


def test_a_refusal_names_the_operation_the_code_and_the_parameter(fault_server):
    fault_server.replies = [
        Reply(400, error_body("invalid_request_error", code="amount_too_small", param="amount"))
    ]

    with pytest.raises(InvalidRequest) as caught:
        create()

    assert str(caught.value) == "Stripe refused payment_intent.create: amount_too_small."
    assert (caught.value.request_id, caught.value.param) == ("req_1", "amount")


def test_a_refusal_without_a_code_names_the_kind_of_error(fault_server):
    fault_server.replies = [Reply(404, error_body("invalid_request_error"))]

    with pytest.raises(InvalidRequest) as caught:
        create()

    assert str(caught.value) == "Stripe refused payment_intent.create: InvalidRequestError."
    assert caught.value.code is None


def test_an_unavailable_stripe_keeps_the_request_id_and_code_for_support(fault_server, settings, caplog):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fault_server.replies = [Reply(500, error_body("api_error", code="processing_error"))]
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    with pytest.raises(StripeUnavailable) as caught:
        create()

    assert str(caught.value) == stripe_gateway.MESSAGE_UNAVAILABLE.format(operation="payment_intent.create")
    assert (caught.value.request_id, caught.value.code) == ("req_1", "processing_error")
    (record,) = call_log(caplog, "payment_intent.create")
    assert record.levelno == logging.WARNING
    assert (record.request_id, record.code, record.order) == ("req_1", "processing_error", "ORD-000001")
    assert record.attempt == 1
    assert record.getMessage().startswith(
        "stripe payment_intent.create failed: StripeUnavailable request_id=req_1"
    )


def test_rate_limiting_that_never_stops_tells_staff_how_many_times(fault_server, sleeps, caplog):
    fault_server.replies = [RATE_LIMITED]
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    with pytest.raises(RateLimited) as caught:
        create()

    assert str(caught.value) == "Stripe rate-limited payment_intent.create 4 times in a row."
    records = call_log(caplog, "payment_intent.create")
    assert [(r.levelno, r.attempt, r.request_id) for r in records] == [
        (logging.INFO, 1, "req_1"),
        (logging.INFO, 2, "req_2"),
        (logging.INFO, 3, "req_3"),
        (logging.WARNING, 4, "req_4"),
    ]
    # every line names the order it was for, and the last says the call gave up
    assert [r.order for r in records] == ["ORD-000001"] * 4
    assert all(" rate-limited, retrying in " in r.getMessage() for r in records[:3])
    assert (
        records[3]
        .getMessage()
        .startswith("stripe payment_intent.create rate-limited, giving up request_id=req_4")
    )


def test_a_lock_timeout_is_not_counted_against_the_accounts_rate_limit(fault_server, settings, sleeps):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # so the lock timeout reaches our own retry
    settings.STRIPE_RATE_LIMIT_URL = ""
    stripe_budget.reset_memory()
    fault_server.replies = [LOCK_TIMEOUT, RATE_LIMITED, Reply()]

    assert create()["id"] == "pi_123"

    assert len(sleeps) == 2
    assert stripe_budget.usage()["rate_limited"]["customer"] == 1  # the real 429 only


def test_a_call_that_waited_for_the_budget_says_so_in_the_log(fault_server, settings, sleeps, caplog):
    settings.STRIPE_RATE_LIMIT_URL = ""
    settings.STRIPE_RATE_LIMITS = {
        mode: {"default": 1.0, "search": 1.0, "files": 1.0} for mode in ("test", "live")
    }
    settings.STRIPE_RATE_LIMIT_MAX_WAIT = {"customer": 0.5, "background": 0.5}
    stripe_budget.reset_memory()
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)

    create()
    create(key="order:2:payment-intent:v1")

    assert sleeps  # the wait went through the gateway's sleep, not a real one
    waited = [r for r in call_log(caplog, "payment_intent.create") if "for the budget" in r.getMessage()]
    (record,) = waited
    assert record.levelno == logging.INFO and record.order == "ORD-000001" and record.priority == "customer"
    assert "request_id=" not in record.getMessage()  # no request was sent yet: nothing to show
    assert record.getMessage().startswith("stripe payment_intent.create waited ")


def test_the_client_points_every_base_address_at_the_configured_one(fault_server, settings, sleeps):
    # a trailing slash in the setting, and the files base (an evidence upload) goes there too
    settings.STRIPE_API_BASE = fault_server.url + "/"
    fault_server.replies = [Reply(body={"id": "file_1", "object": "file"})]

    upload = stripe_gateway.file_create(
        purpose="dispute_evidence",
        filename="receipt.pdf",
        content=b"%PDF-1.4",
        content_type="application/pdf",
        idempotency_key="dispute:7:receipt:v1",
    )

    assert upload["id"] == "file_1"
    (seen,) = fault_server.seen
    assert seen.path == "/v1/files"
    assert 'name="file"; filename="receipt.pdf"' in seen.body


def test_a_file_upload_is_background_work_in_the_files_budget(fault_server, settings, caplog):
    caplog.set_level(logging.INFO, logger=stripe_gateway.__name__)
    fault_server.replies = [Reply(body={"id": "file_1", "object": "file"})]
    settings.STRIPE_API_BASE = fault_server.url

    stripe_gateway.file_create(
        purpose="dispute_evidence",
        filename="r.pdf",
        content=b"1234",
        content_type="application/pdf",
        idempotency_key="k",
    )

    (record,) = call_log(caplog, "file.create")
    assert (record.priority, record.purpose, record.content_type, record.bytes) == (
        "background",
        "dispute_evidence",
        "application/pdf",
        4,
    )


def test_an_upload_needs_a_key():
    with pytest.raises(ValueError) as caught:
        stripe_gateway.file_create(
            purpose="dispute_evidence", filename="r.pdf", content=b"1", content_type="x", idempotency_key=""
        )
    assert str(caught.value) == stripe_gateway.MESSAGE_NO_KEY


def test_webhook_verification_refuses_a_body_that_is_not_utf8(settings):
    payload = b'{"id": "\xff"}'
    header = stripe_gateway.webhook_sign(payload=payload, secret=settings.STRIPE_WEBHOOK_SECRETS[0])

    with pytest.raises(stripe_gateway.SignatureInvalid) as caught:
        stripe_gateway.webhook_verify(payload=payload, sig_header=header)
    assert str(caught.value) == stripe_gateway.MESSAGE_SIGNATURE


@pytest.mark.parametrize(
    ("api_base", "base"),
    [("http://127.0.0.1:12111/", "http://127.0.0.1:12111"), ("http://proxy/MOCKX/", "http://proxy/MOCKX")],
    ids=["trailing-slash", "path-ending-in-x"],
)
def test_against_the_emulator_a_link_keeps_an_odd_id_inside_its_path(settings: Any, api_base, base) -> None:
    settings.STRIPE_API_BASE = api_base

    url = stripe_gateway.dashboard_url(object_id="pi_1/../x", livemode=False)

    assert url == f"{base}/_emulator/objects/pi_1%2F..%2Fx"


@pytest.mark.parametrize("status", [402, 400, 429, 500])
def test_an_answer_without_stripes_error_body_is_an_unknown_outcome_not_a_crash(
    fault_server, settings, status
):
    # what a proxy or a load balancer in front of Stripe may answer
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    fault_server.replies = [Reply(status, {})]

    with pytest.raises(StripeUnavailable) as caught:
        create()

    assert caught.value.code is None
    assert str(caught.value) == stripe_gateway.MESSAGE_UNAVAILABLE.format(operation="payment_intent.create")
    assert len(fault_server.seen) == 1
