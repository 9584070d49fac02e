"""The finance API's order and refund endpoints and the staff search endpoint, as finance tooling
calls them: token auth, roles, Idempotency-Key, the contract's fields. Stripe is the emulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from console.apis import ERROR_EMPTY_QUERY
from core.idempotency import ERROR_MISSING, ERROR_REUSED
from disputes.models import Dispute
from orders.models import Order
from payments.models import Charge, RefundRequest, StaffAction
from payments.services.refund_requests import ERROR_DISPUTED, ERROR_NOT_PAID, ERROR_OVER_REST
from tests.factories import OrderFactory
from tests.payments.refund_support import stripe_refunds

pytestmark = pytest.mark.django_db

ApiFor = Callable[[User], APIClient]


def refunds_url(order: Order) -> str:
    return f"/api/finance/orders/{order.number}/refunds/"


def post_refund(client: APIClient, order: Order, body: dict[str, Any], key: str | None = "key-1") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(refunds_url(order), body, format="json", **headers)


def test_a_partial_refund_answers_201_with_the_contracts_fields(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    response = post_refund(
        api_for(finance_user), paid_order, {"amount": 1000, "reason": "requested_by_customer"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    (refund,) = stripe_refunds(emulator, paid_order)
    request = RefundRequest.objects.get()
    assert body == {
        "refund_request": request.pk,
        "id": refund.id,
        "amount": 1000,
        "currency": "gbp",
        "status": "succeeded",
        "reason": "requested_by_customer",
    }
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.amount_refunded) == ("partially_refunded", 1000)
    assert StaffAction.objects.get(action="refund").actor == finance_user
    # the order's history names the token's user
    history = paid_order.history.filter(amount_refunded=1000).get()  # type: ignore[attr-defined]
    assert history.history_user == finance_user


def test_the_same_key_and_body_answer_the_first_answer_and_refund_once(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    client = api_for(finance_user)
    first = post_refund(client, paid_order, {"amount": 500, "reason": "duplicate"})
    again = post_refund(client, paid_order, {"amount": 500, "reason": "duplicate"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert len(stripe_refunds(emulator, paid_order)) == 1


def test_the_same_key_with_another_body_is_a_409(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    client = api_for(finance_user)
    post_refund(client, paid_order, {"amount": 500, "reason": "duplicate"})
    response = post_refund(client, paid_order, {"amount": 600, "reason": "duplicate"})
    assert response.status_code == 409 and response.json() == {"error": ERROR_REUSED}
    assert len(stripe_refunds(emulator, paid_order)) == 1


def test_two_keys_for_equal_amounts_are_two_refunds(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    client = api_for(finance_user)
    post_refund(client, paid_order, {"amount": 500, "reason": "duplicate"}, key="a")
    post_refund(client, paid_order, {"amount": 500, "reason": "duplicate"}, key="b")
    assert [r.amount for r in stripe_refunds(emulator, paid_order)] == [500, 500]


def test_no_amount_refunds_the_rest(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    response = post_refund(api_for(finance_user), paid_order, {"reason": "requested_by_customer"})
    assert response.status_code == 201 and response.json()["amount"] == 4200
    paid_order.refresh_from_db()
    assert paid_order.status == "refunded"


def test_a_missing_key_is_a_400(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    response = post_refund(api_for(finance_user), paid_order, {"reason": "duplicate"}, key=None)
    assert response.status_code == 400 and response.json() == {"error": ERROR_MISSING}
    assert stripe_refunds(emulator, paid_order) == []


def test_more_than_the_rest_is_a_400_and_changes_nothing(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    response = post_refund(api_for(finance_user), paid_order, {"amount": 4201, "reason": "duplicate"})
    assert response.status_code == 400
    assert response.json() == {"error": ERROR_OVER_REST.format(number=paid_order.number, rest="£42.00")}
    assert stripe_refunds(emulator, paid_order) == [] and not RefundRequest.objects.exists()


def test_an_unpaid_order_is_a_400(emulator: Any, finance_user: User, api_for: ApiFor) -> None:
    order = OrderFactory()
    response = post_refund(api_for(finance_user), order, {"reason": "duplicate"})
    assert response.status_code == 400 and response.json() == {
        "error": ERROR_NOT_PAID.format(number=order.number)
    }


def test_a_disputed_charge_is_a_400(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor
) -> None:
    Dispute.objects.create(
        stripe_id="du_api", charge_id=paid_order.charge_id, amount=4200, currency="gbp", status="under_review"
    )
    response = post_refund(api_for(finance_user), paid_order, {"reason": "duplicate"})
    assert response.status_code == 400
    assert response.json() == {"error": ERROR_DISPUTED.format(number=paid_order.number)}
    assert stripe_refunds(emulator, paid_order) == []


def test_a_bad_reason_or_amount_is_a_400(paid_order: Order, finance_user: User, api_for: ApiFor) -> None:
    client = api_for(finance_user)
    bad_reason = post_refund(client, paid_order, {"reason": "changed_mind"})
    assert bad_reason.status_code == 400 and bad_reason.json()["error"].startswith("reason:")
    bad_amount = post_refund(client, paid_order, {"amount": 0, "reason": "duplicate"}, key="key-2")
    assert bad_amount.status_code == 400 and bad_amount.json()["error"].startswith("amount:")


def test_support_is_refused_with_403_and_anonymous_with_401(
    emulator: Any, paid_order: Order, support_user: User, api_for: ApiFor
) -> None:
    assert post_refund(api_for(support_user), paid_order, {"reason": "duplicate"}).status_code == 403
    assert post_refund(APIClient(), paid_order, {"reason": "duplicate"}).status_code == 401
    assert stripe_refunds(emulator, paid_order) == [] and not RefundRequest.objects.exists()


def test_a_lost_answer_is_a_503_and_the_retry_with_the_same_key_refunds_once(
    emulator: Any, paid_order: Order, finance_user: User, api_for: ApiFor, settings: Any
) -> None:
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    emulator.set_faults(api=[{"kind": "drop_after", "path": "^/v1/refunds", "method": "POST", "count": 1}])
    client = api_for(finance_user)
    lost = post_refund(client, paid_order, {"amount": 900, "reason": "duplicate"})
    assert lost.status_code == 503 and "retry" in lost.json()["error"]
    retried = post_refund(client, paid_order, {"amount": 900, "reason": "duplicate"})
    assert retried.status_code == 201
    (refund,) = stripe_refunds(emulator, paid_order)
    assert retried.json()["id"] == refund.id and RefundRequest.objects.count() == 1


def test_the_order_lists_every_charge_attempt_refund_and_dispute(
    emulator: Any, paid_order: Order, finance_user: User, support_user: User, api_for: ApiFor
) -> None:
    # given a declined attempt before the card that worked, a refund and an inquiry
    Charge.objects.create(
        stripe_id="ch_declined_first", order=paid_order, status="failed", amount=4200, currency="gbp",
        failure_code="card_declined", stripe_created=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    # (the card that worked is mirrored already, by the re-sync that applied the payment)
    paid = Charge.objects.get(stripe_id=paid_order.charge_id)
    assert (paid.order, paid.status) == (paid_order, "succeeded")
    Dispute.objects.create(
        stripe_id="du_inquiry", charge_id=paid_order.charge_id, amount=4200, currency="gbp",
        status="warning_needs_response", evidence_due_by=datetime(2026, 2, 1, tzinfo=UTC),
    )  # fmt: skip
    post_refund(api_for(finance_user), paid_order, {"amount": 1500, "reason": "requested_by_customer"})

    response = api_for(support_user).get(f"/api/finance/orders/{paid_order.number}/")

    assert response.status_code == 200
    body = response.json()
    (refund,) = stripe_refunds(emulator, paid_order)
    assert {
        k: body[k] for k in ("number", "status", "amount", "currency", "amount_refunded", "payment_intent")
    } == {
        "number": paid_order.number,
        "status": "partially_refunded",
        "amount": 4200,
        "currency": "gbp",
        "amount_refunded": 1500,
        "payment_intent": paid_order.payment_intent_id,
    }
    assert [(c["id"], c["status"], c["failure_code"]) for c in body["charges"]] == [
        ("ch_declined_first", "failed", "card_declined"),
        (paid_order.charge_id, "succeeded", ""),
    ]
    assert set(body["charges"][0]) >= {
        "id",
        "status",
        "amount",
        "amount_refunded",
        "disputed",
        "failure_code",
    }
    assert [(r["id"], r["amount"], r["status"], r["reason"]) for r in body["refunds"]] == [
        (refund.id, 1500, "succeeded", "requested_by_customer")
    ]
    assert body["disputes"] == [
        {
            "id": "du_inquiry",
            "status": "warning_needs_response",
            "amount": 4200,
            "due_by": "2026-02-01T00:00:00Z",
        }
    ]


def test_an_unknown_order_is_a_404(support_user: User, api_for: ApiFor) -> None:
    response = api_for(support_user).get("/api/finance/orders/ORD-999999/")
    assert response.status_code == 404 and "ORD-999999" in response.json()["error"]


def test_search_finds_an_order_by_its_payment_intent(support_user: User, api_for: ApiFor) -> None:
    order = OrderFactory()
    response = api_for(support_user).get("/api/staff/search/", {"q": order.payment_intent_id})
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "kind": "payment_intent",
                "id": order.payment_intent_id,
                "order": order.number,
                "admin_url": f"/admin/orders/order/{order.pk}/change/",
            }
        ]
    }


def test_search_with_nothing_found_is_an_empty_list_and_an_empty_query_a_400(
    support_user: User, no_role_user: User, api_for: ApiFor
) -> None:
    client = api_for(support_user)
    assert client.get("/api/staff/search/", {"q": "pi_unknown"}).json() == {"results": []}
    empty = client.get("/api/staff/search/", {"q": "  "})
    assert empty.status_code == 400 and empty.json() == {"error": ERROR_EMPTY_QUERY}
    assert APIClient().get("/api/staff/search/", {"q": "pi_x"}).status_code == 401
    assert api_for(no_role_user).get("/api/staff/search/", {"q": "pi_x"}).status_code == 403
