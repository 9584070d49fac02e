"""Evidence assembled from the order the moment a dispute opens, staged on Stripe with
submit=false under one key per revision, retried with that key, refused when over Stripe's
limits; and the 3-D Secure liability shift."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail

from config.celery import app as celery_app
from disputes import tasks
from disputes.evidence import ERROR_FIELD_TOO_LONG, ERROR_FILE_TOO_LARGE, evidence_problems
from disputes.liability import liability_shift_assess
from disputes.models import Dispute, EvidenceDraft
from disputes.services import (
    dispute_evidence_prepare,
    dispute_sync,
    evidence_draft_build,
    evidence_draft_stage,
)
from disputes.services.drafts import draft_create, liability_of
from payments import stripe_gateway
from payments.stripe_gateway import RateLimited, StripeUnavailable
from tests.disputes.factories import NOW, ChargeFactory, FakeStripe, dispute_object, paid_order
from tests.factories import OrderItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _alerts(alert_settings: Any) -> None:
    pass


def opened(fake: FakeStripe, charge: Any, **fields: Any) -> Dispute:
    """A dispute mirrored (its task not run: each test runs it)."""
    obj = fake.add(dispute_object(charge, **fields))
    return dispute_sync(obj=obj, seen_at=NOW - 50).dispute


# ---------------------------------------------------------------------------- liability shift


@pytest.mark.parametrize(
    ("result", "reason", "eci", "applies", "says"),
    [
        ("authenticated", "fraudulent", "05", True, "The liability shift applies"),
        ("attempt_acknowledged", "fraudulent", "06", True, "The liability shift applies"),
        ("exempted", "fraudulent", "", False, "only an authenticated or attempted 3-D Secure shifts it"),
        ("failed", "fraudulent", "", False, "3-D Secure failed"),
        ("not_supported", "fraudulent", "", False, "does not support 3-D Secure"),
        ("processing_error", "fraudulent", "", False, "processing error"),
        ("", "fraudulent", "", False, "3-D Secure was not used on this charge"),
        ("authenticated", "product_not_received", "05", False, "the shift covers fraud disputes only"),
        ("authenticated", "fraudulent", "07", False, "ECI 07 says the payment was not authenticated"),
    ],
)
def test_the_liability_shift_applies_only_to_an_authenticated_or_attempted_3ds_on_a_fraud_dispute(
    result: str, reason: str, eci: str, applies: bool, says: str
) -> None:
    shift = liability_shift_assess(
        result=result,
        authentication_flow="challenge",
        version="2.2.0",
        electronic_commerce_indicator=eci,
        card_brand="visa",
        dispute_reason=reason,
    )
    assert shift.applies is applies
    assert says in shift.explanation


# ---------------------------------------------------------------------------- assembly and staging


def test_the_evidence_comes_from_the_order_and_is_staged_with_submit_false(
    fake_stripe: FakeStripe, settings: Any
) -> None:
    # given a paid, fulfilled, confirmed order, paid with 3-D Secure
    order = paid_order(
        email="ada@example.org",
        name="Ada King",
        shipping_address={"line1": "1 Ockham Road", "city": "Surrey", "postal_code": "KT24", "country": "GB"},
        customer_ip="198.51.100.23",
        user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0",
    )
    order.paid_at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    order.fulfilled_at = datetime(2026, 11, 20, 10, 1, tzinfo=UTC)
    order.confirmation_sent_at = datetime(2026, 11, 20, 10, 2, tzinfo=UTC)
    order.save()
    charge = ChargeFactory(order=order)
    dispute = opened(fake_stripe, charge, reason="fraudulent")

    # when the task runs
    assert tasks.prepare_evidence.apply(args=[dispute.pk]).get() == "staged"

    # then the draft holds the order's checkout data, as Stripe names the fields
    draft = EvidenceDraft.objects.get(dispute=dispute)
    fields = draft.fields
    assert draft.revision == 1 and draft.staged_at is not None
    assert fields["customer_email_address"] == "ada@example.org"
    assert fields["customer_name"] == "Ada King"
    assert fields["billing_address"] == "12 St James's Square\nSW1Y 4JH London\nGB"
    assert fields["shipping_address"] == "1 Ockham Road\nKT24 Surrey\nGB"
    assert fields["customer_purchase_ip"] == "198.51.100.23"
    assert (
        fields["product_description"]
        == f"1 × Analytical Engine poster (POSTER-1), £42.00\nTotal £42.00, order {order.number}."
    )
    assert "Firefox/140.0" in fields["access_activity_log"]
    assert fields["refund_policy_disclosure"] == settings.DISPUTE_REFUND_POLICY_DISCLOSURE
    assert fields["cancellation_policy_disclosure"] == settings.DISPUTE_CANCELLATION_POLICY_DISCLOSURE
    text = fields["uncategorized_text"]
    assert "The order confirmation email was sent to the customer's address on 2026-11-20 10:02 UTC." in text
    assert "The order was fulfilled on 2026-11-20 10:01 UTC." in text
    assert "3-D Secure: the customer authenticated with their bank" in text
    assert "The liability shift applies" in text
    assert settings.DISPUTE_REFUND_POLICY in text
    assert draft.liability_shift is True
    # the receipt is a PDF uploaded with purpose=dispute_evidence
    (upload,) = fake_stripe.calls_of("file_create")
    assert upload["purpose"] == "dispute_evidence"
    assert upload["key"] == f"dispute:{dispute.pk}:receipt:v1"
    assert upload["content"].startswith(b"%PDF-") and b"Ada King" in upload["content"]
    assert f"Payment: {charge.stripe_id}".encode() in upload["content"]  # the charge disputed
    assert fields["receipt"] == fake_stripe.files[upload["key"]]["id"]
    # staged, not submitted, under the draft's own key
    (staged,) = fake_stripe.calls_of("dispute_update")
    assert staged["submit"] is False
    assert staged["key"] == f"dispute:{dispute.pk}:evidence-draft:v1"
    assert staged["evidence"] == fields
    dispute.refresh_from_db()
    assert dispute.has_evidence is True and dispute.submission_count == 0


def test_building_revision_1_again_returns_the_one_stored_first(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))
    first = evidence_draft_build(dispute=dispute)
    again = evidence_draft_build(dispute=dispute)  # another run, late: its insert conflicts
    assert first is not None and again is not None
    assert (again.pk, again.revision) == (first.pk, 1)
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 1


def test_preparing_twice_stages_once(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))

    dispute_evidence_prepare(dispute_pk=dispute.pk)
    dispute_evidence_prepare(dispute_pk=dispute.pk)

    assert len(fake_stripe.calls_of("dispute_update")) == 1
    assert len(fake_stripe.calls_of("file_create")) == 1
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 1


def test_a_500_on_the_receipt_upload_is_retried_with_the_same_key(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))
    fake_stripe.fail_next = [StripeUnavailable("Stripe did not answer file.create")]

    assert tasks.prepare_evidence.apply(args=[dispute.pk]).get() == "staged"

    keys = [call["key"] for call in fake_stripe.calls_of("file_create")]
    assert keys == [f"dispute:{dispute.pk}:receipt:v1"] * 2
    assert len(fake_stripe.files) == 1


def test_a_500_or_a_429_on_staging_is_retried_with_the_same_key(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))
    failures: list[Exception] = [StripeUnavailable("down"), RateLimited("slow down")]

    def flaky(**kwargs: Any) -> Any:
        if failures:
            fake_stripe.calls.append(
                ("dispute_update", {"key": kwargs["idempotency_key"], **kwargs["params"]})
            )
            raise failures.pop(0)
        return FakeStripe.dispute_update(fake_stripe, **kwargs)

    monkeypatch.setattr(stripe_gateway, "dispute_update", flaky)

    assert tasks.prepare_evidence.apply(args=[dispute.pk]).get() == "staged"

    calls = fake_stripe.calls_of("dispute_update")
    assert [call["key"] for call in calls] == [f"dispute:{dispute.pk}:evidence-draft:v1"] * 3
    assert calls[0]["evidence"] == calls[2]["evidence"]
    assert EvidenceDraft.objects.get(dispute=dispute).staged_at is not None
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 1


def test_evidence_over_stripe_limits_is_not_sent_and_says_why(fake_stripe: FakeStripe) -> None:
    order = paid_order()
    for _ in range(90):
        OrderItemFactory(order=order, product_name="Poster " + "x" * 240, unit_amount=100, currency="gbp")
    dispute = opened(fake_stripe, ChargeFactory(order=order))

    assert tasks.prepare_evidence.apply(args=[dispute.pk]).get() == "refused"

    draft = EvidenceDraft.objects.get(dispute=dispute)
    length = len(draft.fields["product_description"])
    assert draft.problem == ERROR_FIELD_TOO_LONG.format(
        field="product_description", length=length, limit=20000
    )
    assert draft.staged_at is None
    assert fake_stripe.calls_of("dispute_update") == []
    assert fake_stripe.calls_of("file_create") == []
    (alert,) = [m for m in mail.outbox if "limits" in m.subject]
    assert alert.subject == (
        f"[payments] Evidence r1 for dispute {dispute.stripe_id} (order {order.number}) is over "
        "Stripe's limits and was not sent; see the draft in the admin"
    )


def test_a_receipt_over_the_file_size_limit_is_not_sent(fake_stripe: FakeStripe, settings: Any) -> None:
    settings.DISPUTE_EVIDENCE_MAX_FILE_BYTES = 100
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))

    dispute_evidence_prepare(dispute_pk=dispute.pk)

    draft = EvidenceDraft.objects.get(dispute=dispute)
    assert draft.problem.startswith(ERROR_FILE_TOO_LARGE.split("{field}")[0] + "receipt")
    assert draft.problem.endswith("Stripe accepts at most 100. Nothing was sent to Stripe.")  # one problem
    assert fake_stripe.calls_of("file_create") == [] and fake_stripe.calls_of("dispute_update") == []


def test_the_combined_limit_of_150000_characters() -> None:
    fields = {
        name: "x" * 19_000
        for name in (
            "access_activity_log",
            "cancellation_rebuttal",
            "product_description",
            "refund_policy_disclosure",
            "refund_refusal_explanation",
            "uncategorized_text",
            "duplicate_charge_explanation",
            "cancellation_policy_disclosure",
        )
    }
    assert evidence_problems(fields) == [
        "The evidence has 152000 characters in all and Stripe accepts at most 150000: shorten the longest "
        "fields. Nothing was sent to Stripe."
    ]


def test_a_dispute_that_takes_no_response_gets_no_evidence(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()), status="under_review")

    assert dispute_evidence_prepare(dispute_pk=dispute.pk) is None
    assert fake_stripe.calls == []


def test_a_draft_stripe_refuses_says_why_and_is_not_retried(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.stripe_gateway import InvalidRequest

    order = paid_order()
    dispute = opened(fake_stripe, ChargeFactory(order=order))
    refusal = InvalidRequest("Stripe refused dispute.update: evidence_invalid.", code="evidence_invalid")
    calls_before = len(fake_stripe.calls)

    def refuse(**kwargs: Any) -> Any:
        fake_stripe.calls.append(("dispute_update", {"key": kwargs["idempotency_key"], **kwargs["params"]}))
        raise refusal

    monkeypatch.setattr(stripe_gateway, "dispute_update", refuse)
    assert tasks.prepare_evidence.apply(args=[dispute.pk]).get() == "refused"

    draft = EvidenceDraft.objects.get(dispute=dispute)
    assert draft.staged_at is None
    assert draft.problem.startswith(
        "Stripe refused this draft: Stripe refused dispute.update: evidence_invalid."
    )
    assert len(fake_stripe.calls_of("dispute_update")) == 1 and len(fake_stripe.calls) > calls_before
    assert any(
        f"Evidence r1 for dispute {dispute.stripe_id} (order {order.number}) was refused by Stripe "
        "(evidence_invalid)" in m.subject
        for m in mail.outbox
    )


def test_a_dispute_whose_order_is_found_later_gets_its_evidence(
    fake_stripe: FakeStripe, evidence_queued: list[int]
) -> None:
    from django.test import TestCase

    order = paid_order()
    unsaved = ChargeFactory.build(order=order)
    obj = fake_stripe.add(dispute_object(unsaved, payment_intent=None))
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute_sync(obj=obj, seen_at=NOW - 50)
    assert evidence_queued == []  # no order known: nothing to assemble from

    ChargeFactory(order=order)  # the Charge mirror arrives
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = dispute_sync(obj=obj, seen_at=NOW - 40)

    assert result.dispute.order == order
    assert evidence_queued == [result.dispute.pk]
    assert EvidenceDraft.objects.get(dispute=result.dispute).staged_at is not None


# ---------------------------------------------------------------------------- lost tasks


def test_a_broker_that_does_not_answer_does_not_break_the_event_and_the_sweep_stages_later(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    from django.test import TestCase
    from django.utils import timezone

    from disputes.services import dispute_evidence_sweep

    def broker_down(name: str, **options: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", broker_down)
    obj = fake_stripe.add(dispute_object(ChargeFactory(order=paid_order())))
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    assert "dispute evidence task not queued" in caplog.text
    assert not EvidenceDraft.objects.filter(dispute=dispute).exists()

    # the broker is back; the sweep finds the dispute once it has waited long enough
    evidence_queued: list[int] = []

    def send(name: str, args: Any = (), **options: Any) -> None:
        evidence_queued.append(args[0])
        tasks.prepare_evidence.apply(args=list(args))

    monkeypatch.setattr(celery_app, "send_task", send)
    assert dispute_evidence_sweep(now=timezone.now()) == 0
    assert dispute_evidence_sweep(now=timezone.now() + timedelta(minutes=11)) == 1
    assert evidence_queued == [dispute.pk]
    assert EvidenceDraft.objects.get(dispute=dispute).staged_at is not None
    # staged now: the next sweeps leave it alone
    assert dispute_evidence_sweep(now=timezone.now() + timedelta(minutes=30)) == 0


def test_the_sweep_leaves_refused_submitted_and_orderless_disputes_alone(fake_stripe: FakeStripe) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from disputes.services import dispute_evidence_sweep

    refused = opened(fake_stripe, ChargeFactory(order=paid_order()))
    EvidenceDraft.objects.create(dispute=refused, revision=1, fields={}, problem="too long")
    submitted = opened(
        fake_stripe, ChargeFactory(order=paid_order()), submission_count=1, status="under_review"
    )
    orphan = ChargeFactory.build(
        order=None, stripe_id="ch_nobody", amount=100, amount_captured=100, currency="usd"
    )
    opened(fake_stripe, orphan)
    assert submitted.status == "under_review"

    assert dispute_evidence_sweep(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_revision_over_two_limits_names_both_one_per_line(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))
    fields = {"product_description": "x" * 20001, "uncategorized_text": "y" * 20001}

    draft = draft_create(dispute=dispute, revision=1, fields=fields, liability=liability_of(dispute))

    assert draft.problem.split("\n") == evidence_problems(fields)
    assert len(evidence_problems(fields)) == 2 and draft.created_by is None


def test_two_stagings_of_one_draft_keep_the_time_stripe_first_had_it(fake_stripe: FakeStripe) -> None:
    # given a draft two workers picked up at once (a redelivered task), both before either staged it
    dispute = opened(fake_stripe, ChargeFactory(order=paid_order()))
    draft = evidence_draft_build(dispute=dispute)
    assert draft is not None
    read_by_second = EvidenceDraft.objects.get(pk=draft.pk)

    first = evidence_draft_stage(draft=draft)
    second = evidence_draft_stage(draft=read_by_second)

    # then both sent the same request (Stripe answers the second from its idempotency record)
    # and the draft keeps its first staging time
    assert first.staged_at is not None and second.staged_at == first.staged_at
    keys = {call["key"] for call in fake_stripe.calls_of("dispute_update")}
    assert keys == {f"dispute:{dispute.pk}:evidence-draft:v1"}
