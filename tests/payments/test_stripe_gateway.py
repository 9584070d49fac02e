"""The gateway against a loopback HTTP server that answers what Stripe answers on a bad day."""

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from core.keys import idempotency_key
from payments import stripe_gateway
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
    with pytest.raises(ValueError, match="idempotency key"):
        create(key="")


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
        ("po_1", True, "https://dashboard.stripe.com/payouts/po_1"),
        ("zz_1", True, "https://dashboard.stripe.com/search?query=zz_1"),
    ],
)
@pytest.mark.parametrize("api_base", ["", "https://api.stripe.com"])
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
