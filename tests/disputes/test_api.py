"""The finance API's disputes endpoints, as finance-api.md spells them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.idempotency import ERROR_MISSING
from disputes.evidence import ALL_FIELDS, ERROR_FIELD_TOO_LONG
from disputes.models import Dispute
from disputes.services import dispute_evidence_prepare, dispute_sync
from tests.disputes.factories import DAY, NOW, ChargeFactory, FakeStripe, dispute_object, paid_order

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "charge",
    "order",
    "status",
    "reason",
    "amount",
    "currency",
    "due_by",
    "evidence_staged",
    "submitted",
    "liability_shift",
}


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def open_dispute(fake: FakeStripe, *, stage: bool = True, **fields: Any) -> Dispute:
    obj = fake.add(dispute_object(ChargeFactory(order=paid_order()), **fields))
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    if stage:
        dispute_evidence_prepare(dispute_pk=dispute.pk)
    return Dispute.objects.get(pk=dispute.pk)


def submit_calls(fake: FakeStripe) -> list[dict[str, Any]]:
    return [call for call in fake.calls_of("dispute_update") if call["submit"]]


def test_anonymous_requests_get_401(fake_stripe: FakeStripe) -> None:
    dispute = open_dispute(fake_stripe)
    anonymous = client_for(None)
    base = f"/api/finance/disputes/{dispute.stripe_id}"
    assert anonymous.get("/api/finance/disputes/").status_code == 401
    assert anonymous.get(f"{base}/evidence/").status_code == 401
    assert anonymous.post(f"{base}/submit/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 401
    assert anonymous.post(f"{base}/accept/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 401


def test_support_reads_the_list_but_not_the_evidence_and_can_not_act(
    fake_stripe: FakeStripe, support_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    support = client_for(support_user)
    base = f"/api/finance/disputes/{dispute.stripe_id}"
    fake_stripe.calls.clear()

    assert support.get("/api/finance/disputes/").status_code == 200
    assert support.get(f"{base}/evidence/").status_code == 403
    assert support.post(f"{base}/submit/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 403
    assert support.post(f"{base}/accept/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 403
    assert fake_stripe.calls == []


def test_the_list_has_the_contracts_fields_open_first_by_deadline(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    later = open_dispute(fake_stripe, due_in=10 * DAY)
    sooner = open_dispute(fake_stripe, due_in=2 * DAY)
    won = open_dispute(fake_stripe, stage=False, status="won")

    response = client_for(finance_user).get("/api/finance/disputes/")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [row["id"] for row in body["results"]] == [sooner.stripe_id, later.stripe_id, won.stripe_id]
    row = body["results"][0]
    assert set(row) >= LIST_FIELDS
    assert row == {
        **row,
        "id": sooner.stripe_id,
        "charge": sooner.charge_id,
        "order": sooner.order.number,  # type: ignore[union-attr]
        "status": "needs_response",
        "reason": "fraudulent",
        "amount": 4200,
        "currency": "gbp",
        "due_by": sooner.evidence_due_by.strftime("%Y-%m-%dT%H:%M:%SZ"),  # type: ignore[union-attr]
        "evidence_staged": True,
        "submitted": False,
        "liability_shift": True,
    }


def test_the_list_filters_by_stripe_status_and_refuses_an_unknown_one(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    open_dispute(fake_stripe)
    won = open_dispute(fake_stripe, stage=False, status="won")
    client = client_for(finance_user)

    rows = client.get("/api/finance/disputes/?status=won").json()["results"]
    refused = client.get("/api/finance/disputes/?status=pending")

    assert [row["id"] for row in rows] == [won.stripe_id]
    assert refused.status_code == 400 and "status must be one of" in refused.json()["error"]


def test_finance_reads_the_staged_evidence_as_stripe_names_it(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)

    response = client_for(finance_user).get(f"/api/finance/disputes/{dispute.stripe_id}/evidence/")

    assert response.status_code == 200
    body = response.json()
    assert set(ALL_FIELDS) <= set(body)
    assert body["customer_email_address"] == dispute.order.email  # type: ignore[union-attr]
    assert body["billing_address"].startswith("12 St James's Square")
    assert body["receipt"].startswith("file_")
    assert body["staged"] is True and body["revision"] == 1


def test_an_unknown_dispute_is_a_404_with_an_error(finance_user: User) -> None:
    response = client_for(finance_user).get("/api/finance/disputes/du_nope/evidence/")
    assert response.status_code == 404
    assert response.json() == {"error": "No dispute with the id du_nope is mirrored here."}


def test_submit_needs_an_idempotency_key(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = open_dispute(fake_stripe)

    response = client_for(finance_user).post(
        f"/api/finance/disputes/{dispute.stripe_id}/submit/", {}, format="json"
    )

    assert response.status_code == 400 and response.json() == {"error": ERROR_MISSING}
    assert submit_calls(fake_stripe) == []


def test_submitting_again_with_any_key_answers_the_same_and_calls_stripe_once(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    client = client_for(finance_user)
    url = f"/api/finance/disputes/{dispute.stripe_id}/submit/"
    body = {"uncategorized_text": "Delivered and signed for."}

    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
    same_key = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
    other_key = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="submit-2")

    expected = {"id": dispute.stripe_id, "status": "under_review", "submitted": True, "submission_count": 1}
    assert (first.status_code, same_key.status_code, other_key.status_code) == (200, 200, 200)
    assert first.json() == same_key.json() == other_key.json() == expected
    (call,) = submit_calls(fake_stripe)
    assert call["evidence"]["uncategorized_text"].endswith("Delivered and signed for.")


def test_evidence_over_the_limit_is_a_400_and_nothing_is_sent(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    url = f"/api/finance/disputes/{dispute.stripe_id}/submit/"

    response = client_for(finance_user).post(
        url, {"uncategorized_text": "x" * 20_001}, format="json", HTTP_IDEMPOTENCY_KEY="big"
    )

    assert response.status_code == 400
    assert ERROR_FIELD_TOO_LONG.split("{field}")[0] in response.json()["error"]
    assert submit_calls(fake_stripe) == []
    assert Dispute.objects.get(pk=dispute.pk).submit_claimed_at is None


def test_stripe_down_is_a_503_and_the_retry_sends_the_same_request(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from payments.stripe_gateway import MESSAGE_UNAVAILABLE, StripeUnavailable

    dispute = open_dispute(fake_stripe)
    client = client_for(finance_user)
    url = f"/api/finance/disputes/{dispute.stripe_id}/submit/"
    fake_stripe.fail_next = [StripeUnavailable(MESSAGE_UNAVAILABLE.format(operation="dispute.update"))]

    down = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    retry = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="s1")

    assert down.status_code == 503 and "retry" in down.json()["error"]
    assert retry.status_code == 200 and retry.json()["submitted"] is True
    first, second = submit_calls(fake_stripe)
    assert first == second


def test_accept_closes_the_dispute(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = open_dispute(fake_stripe)
    client = client_for(finance_user)
    url = f"/api/finance/disputes/{dispute.stripe_id}/accept/"

    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="a1")
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="a2")

    expected = {"id": dispute.stripe_id, "status": "lost", "submitted": False, "submission_count": 0}
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == expected
    assert len(fake_stripe.calls_of("dispute_close")) == 1


def test_the_schema_names_the_dispute_paths(finance_user: User) -> None:
    response = client_for(finance_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path in (
        "/api/finance/disputes/",
        "/api/finance/disputes/{dispute_id}/evidence/",
        "/api/finance/disputes/{dispute_id}/submit/",
        "/api/finance/disputes/{dispute_id}/accept/",
    ):
        assert path in paths
