"""Staff actions: submit the evidence once (a second click, a retry, a race or Stripe's "already
submitted" submits nothing more), accept the dispute, Finance only, every action audited."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from disputes.models import Dispute, EvidenceDraft
from disputes.services import (
    ERROR_NOT_FINANCE,
    DisputeActionRefused,
    dispute_accept,
    dispute_evidence_prepare,
    dispute_evidence_submit,
    dispute_sync,
)
from payments.models import StaffAction
from payments.stripe_gateway import InvalidRequest, StripeUnavailable
from tests.disputes.factories import NOW, ChargeFactory, FakeStripe, dispute_object, paid_order

pytestmark = pytest.mark.django_db

NOW_DT = datetime.fromtimestamp(NOW, tz=UTC)


def staged(fake: FakeStripe, **fields: Any) -> Dispute:
    """A dispute with its evidence staged, as it is a few seconds after it opened."""
    obj = fake.add(dispute_object(ChargeFactory(order=paid_order()), **fields))
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    dispute_evidence_prepare(dispute_pk=dispute.pk)
    fake.calls.clear()
    return Dispute.objects.get(pk=dispute.pk)


def submits(fake: FakeStripe) -> list[dict[str, Any]]:
    return [call for call in fake.calls_of("dispute_update") if call["submit"]]


def test_finance_submits_the_staged_evidence_once(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = staged(fake_stripe)

    first = dispute_evidence_submit(dispute=dispute, user=finance_user)
    again = dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert first.status == again.status == "under_review"
    assert first.submission_count == again.submission_count == 1
    assert first.submitted is True
    (call,) = submits(fake_stripe)
    assert call["key"] == f"dispute:{dispute.pk}:evidence-submit:v1"
    assert call["evidence"] == EvidenceDraft.objects.get(dispute=dispute, revision=1).fields
    action = StaffAction.objects.get(action="dispute_evidence_submit")
    assert (action.actor, action.target, action.outcome) == (
        finance_user,
        dispute.stripe_id,
        "submitted revision 1",
    )


def test_extra_text_becomes_a_new_revision_that_is_submitted(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)

    dispute_evidence_submit(
        dispute=dispute, user=finance_user, extra_text="The customer signed for the parcel."
    )

    second = EvidenceDraft.objects.get(dispute=dispute, revision=2)
    assert second.fields["uncategorized_text"].endswith("\n\nThe customer signed for the parcel.")
    assert second.created_by == finance_user
    (call,) = submits(fake_stripe)
    assert call["evidence"] == second.fields


def test_support_can_not_submit_or_accept(fake_stripe: FakeStripe, support_user: User) -> None:
    dispute = staged(fake_stripe)

    with pytest.raises(DisputeActionRefused, match=ERROR_NOT_FINANCE):
        dispute_evidence_submit(dispute=dispute, user=support_user)
    with pytest.raises(DisputeActionRefused, match=ERROR_NOT_FINANCE):
        dispute_accept(dispute=dispute, user=support_user)

    assert fake_stripe.calls == []
    assert Dispute.objects.get(pk=dispute.pk).submit_claimed_at is None


def test_a_lost_answer_is_sent_again_with_the_same_key_and_the_same_evidence(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.fail_next = [StripeUnavailable("Stripe did not answer dispute.update")]

    with pytest.raises(StripeUnavailable):
        dispute_evidence_submit(dispute=dispute, user=finance_user)
    assert Dispute.objects.get(pk=dispute.pk).submit_claimed_at is not None

    result = dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert result.submission_count == 1
    first, second = submits(fake_stripe)
    assert first == second
    assert fake_stripe.disputes[dispute.stripe_id]["evidence_details"]["submission_count"] == 1


def test_stripe_saying_already_submitted_counts_as_submitted(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    # submitted meanwhile in the Dashboard
    fake_stripe.disputes[dispute.stripe_id]["evidence_details"]["submission_count"] = 1
    fake_stripe.disputes[dispute.stripe_id]["status"] = "under_review"

    result = dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert result.submitted is True and result.status == "under_review"
    assert len(submits(fake_stripe)) == 1
    assert dispute_evidence_submit(dispute=dispute, user=finance_user).submission_count == 1
    assert len(submits(fake_stripe)) == 1
    assert "already submitted on Stripe" in StaffAction.objects.get(action="dispute_evidence_submit").outcome


def test_a_refusal_staff_can_fix_releases_the_claim_with_a_new_key_next_time(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.fail_next = [
        InvalidRequest("Stripe refused dispute.update: invalid_evidence.", code="invalid")
    ]

    with pytest.raises(DisputeActionRefused, match="invalid_evidence"):
        dispute_evidence_submit(dispute=dispute, user=finance_user)
    dispute.refresh_from_db()
    assert dispute.submit_claimed_at is None and dispute.submit_attempt == 2

    dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert [call["key"] for call in submits(fake_stripe)] == [
        f"dispute:{dispute.pk}:evidence-submit:v1",
        f"dispute:{dispute.pk}:evidence-submit:v2",
    ]


def test_finance_accepts_the_dispute_once(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = staged(fake_stripe)

    first = dispute_accept(dispute=dispute, user=finance_user)
    again = dispute_accept(dispute=dispute, user=finance_user)

    assert first.status == again.status == "lost"
    (call,) = fake_stripe.calls_of("dispute_close")
    assert call["key"] == f"dispute:{dispute.pk}:close:v1"
    assert StaffAction.objects.get(action="dispute_accept").outcome == "closed: lost"
    # and nothing can be submitted after it
    with pytest.raises(DisputeActionRefused, match="lost"):
        dispute_evidence_submit(dispute=dispute, user=finance_user)


def test_a_submitted_dispute_can_not_be_accepted(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = staged(fake_stripe)
    dispute_evidence_submit(dispute=dispute, user=finance_user)

    with pytest.raises(DisputeActionRefused):
        dispute_accept(dispute=dispute, user=finance_user)
    assert fake_stripe.calls_of("dispute_close") == []


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_the_same_moment_submit_once(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = staged(fake_stripe)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def click() -> None:
        try:
            barrier.wait()
            results.append(dispute_evidence_submit(dispute=dispute, user=finance_user))
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [r for r in results if isinstance(r, Exception)]
    assert len(submits(fake_stripe)) == 1
    assert StaffAction.objects.filter(action="dispute_evidence_submit").count() == 1


# ---------------------------------------------------------------------------- inquiry refund


def test_an_inquiry_can_be_refunded_instead_once(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]]
) -> None:
    from disputes.services import dispute_refund_inquiry
    from payments.models import Refund

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)

    first = dispute_refund_inquiry(dispute=dispute, user=finance_user)
    again = dispute_refund_inquiry(dispute=dispute, user=finance_user)

    assert first.refund_id == again.refund_id == "re_inquiry1"
    (call,) = refunds
    assert call["key"] == f"dispute:{dispute.pk}:inquiry-refund:v1"
    assert call["charge"] == dispute.charge_id and call["metadata"]["dispute"] == dispute.stripe_id
    refund = Refund.objects.get(stripe_id="re_inquiry1")
    assert refund.order == dispute.order and refund.status == "succeeded"
    assert dispute.order is not None
    dispute.order.refresh_from_db()
    assert dispute.order.amount_refunded == 4200
    assert StaffAction.objects.get(action="dispute_refund_inquiry").outcome == "refund re_inquiry1 succeeded"
    # and the inquiry can not be submitted or accepted any more
    with pytest.raises(DisputeActionRefused):
        dispute_accept(dispute=dispute, user=finance_user)


@pytest.mark.parametrize(
    ("status", "refundable"), [("needs_response", True), ("warning_needs_response", False)]
)
def test_a_chargeback_or_an_unrefundable_charge_is_not_refunded(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]], status: str, refundable: bool
) -> None:
    from disputes.services import ERROR_NOT_REFUNDABLE, dispute_refund_inquiry

    dispute = staged(fake_stripe, status=status, is_charge_refundable=refundable)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_refund_inquiry(dispute=dispute, user=finance_user)

    assert str(refused.value) == ERROR_NOT_REFUNDABLE.format(dispute=dispute.stripe_id)
    assert refunds == []


def test_two_editors_saving_the_same_revision_the_second_is_told_to_reload(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from disputes.services import ERROR_REVISION_TAKEN, dispute_evidence_revise, drafts

    dispute = staged(fake_stripe)
    first = EvidenceDraft.objects.get(dispute=dispute, revision=1)
    dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "DHL"})
    # the second editor's page was loaded before the first one saved
    monkeypatch.setattr(drafts, "evidence_draft_latest", lambda dispute: first)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "UPS"})

    assert str(refused.value) == ERROR_REVISION_TAKEN.format(dispute=dispute.stripe_id)
    assert EvidenceDraft.objects.get(dispute=dispute, revision=2).fields["shipping_carrier"] == "DHL"


def test_a_dispute_closed_meanwhile_is_not_counted_as_submitted(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    # lost at the deadline on Stripe's side, before our mirror heard of it
    fake_stripe.disputes[dispute.stripe_id]["status"] = "lost"

    with pytest.raises(DisputeActionRefused, match="is lost: Stripe takes no response"):
        dispute_evidence_submit(dispute=dispute, user=finance_user)

    dispute.refresh_from_db()
    assert dispute.status == "lost" and dispute.submitted is False
    assert dispute.submit_claimed_at is None
    assert (
        StaffAction.objects.get(action="dispute_evidence_submit").outcome
        == "not submitted: the dispute is lost"
    )


# ---------------------------------------------------------------------------- accepting, sharper


def test_accepting_records_who_claimed_it_and_touches_no_other_dispute(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    other = staged(fake_stripe)

    dispute_accept(dispute=dispute, user=finance_user)

    dispute.refresh_from_db()
    assert dispute.accept_claimed_at is not None and dispute.accept_claimed_by == finance_user
    untouched = Dispute.objects.get(pk=other.pk)
    assert untouched.accept_claimed_at is None and untouched.status == "needs_response"
    action = StaffAction.objects.get(action="dispute_accept")
    assert (action.actor, action.target) == (finance_user, dispute.stripe_id)


def test_a_dispute_whose_submission_is_in_flight_can_not_be_accepted(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from disputes.services import ERROR_ALREADY_SUBMITTED

    dispute = staged(fake_stripe)
    Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=dispute.created_at)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_accept(dispute=dispute, user=finance_user)

    assert str(refused.value) == ERROR_ALREADY_SUBMITTED.format(dispute=dispute.stripe_id)
    assert fake_stripe.calls_of("dispute_close") == []


def test_a_dispute_under_review_can_not_be_accepted(fake_stripe: FakeStripe, finance_user: User) -> None:
    from disputes.services import ERROR_NOT_RESPONDABLE

    dispute = staged(fake_stripe)
    Dispute.objects.filter(pk=dispute.pk).update(status="under_review")

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_accept(dispute=dispute, user=finance_user)

    expected = ERROR_NOT_RESPONDABLE.format(dispute=dispute.stripe_id, status="under_review")
    assert str(refused.value) == expected
    assert fake_stripe.calls_of("dispute_close") == []


def test_an_accept_in_flight_sends_nothing_and_an_old_claim_is_sent_again_with_the_same_key(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from django.utils import timezone

    from disputes.services.actions import CLAIM_RESEND_AFTER

    dispute = staged(fake_stripe)
    Dispute.objects.filter(pk=dispute.pk).update(accept_claimed_at=timezone.now())

    assert dispute_accept(dispute=dispute, user=finance_user).status == "needs_response"
    assert fake_stripe.calls_of("dispute_close") == []

    Dispute.objects.filter(pk=dispute.pk).update(
        accept_claimed_at=timezone.now() - CLAIM_RESEND_AFTER - CLAIM_RESEND_AFTER
    )
    assert dispute_accept(dispute=dispute, user=finance_user).status == "lost"

    (call,) = fake_stripe.calls_of("dispute_close")
    assert call == {"dispute_id": dispute.stripe_id, "key": f"dispute:{dispute.pk}:close:v1"}
    action = StaffAction.objects.get(action="dispute_accept")
    assert (action.actor, action.target, action.outcome) == (finance_user, dispute.stripe_id, "closed: lost")


def test_an_accept_whose_answer_was_lost_is_sent_again_at_once(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.fail_next = [StripeUnavailable("Stripe did not answer dispute.close")]

    with pytest.raises(StripeUnavailable):
        dispute_accept(dispute=dispute, user=finance_user)

    assert StaffAction.objects.get(action="dispute_accept").outcome == (
        "no answer from Stripe; the next attempt sends the same request again"
    )
    assert dispute_accept(dispute=dispute, user=finance_user).status == "lost"
    first, second = fake_stripe.calls_of("dispute_close")
    assert first == second == {"dispute_id": dispute.stripe_id, "key": f"dispute:{dispute.pk}:close:v1"}


def test_an_accept_refused_because_stripe_closed_it_already_shows_the_outcome(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.disputes[dispute.stripe_id]["status"] = "won"
    fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.close.", code="dispute_closed")]

    result = dispute_accept(dispute=dispute, user=finance_user)

    assert result.status == "won" and Dispute.objects.get(pk=dispute.pk).status == "won"
    assert fake_stripe.calls_of("dispute_retrieve") == [{"dispute_id": dispute.stripe_id}]
    assert StaffAction.objects.get(action="dispute_accept").outcome == "already closed on Stripe: won"


def test_an_accept_refused_by_stripe_releases_the_claim(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.close: try later.")]

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_accept(dispute=dispute, user=finance_user)

    assert str(refused.value) == "Stripe refused dispute.close: try later."
    dispute.refresh_from_db()
    assert dispute.accept_claimed_at is None and dispute.accept_claimed_by is None
    assert dispute.status == "needs_response"
    assert StaffAction.objects.get(action="dispute_accept").outcome == "refused by Stripe: invalid request"


# ---------------------------------------------------------------------------- inquiry refund, sharper


def test_the_inquiry_refund_carries_the_order_and_touches_no_other_dispute(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]]
) -> None:
    from disputes.services import dispute_refund_inquiry

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    other = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    assert dispute.order is not None

    dispute_refund_inquiry(dispute=dispute, user=finance_user)

    (call,) = refunds
    assert call["metadata"] == {
        "dispute": dispute.stripe_id,
        "order_id": str(dispute.order.pk),
        "order_number": dispute.order.number,
    }
    assert Dispute.objects.get(pk=other.pk).refund_claimed_at is None
    action = StaffAction.objects.get(action="dispute_refund_inquiry")
    assert (action.actor, action.target) == (finance_user, dispute.stripe_id)


def test_an_inquiry_refund_in_flight_sends_nothing_and_an_old_claim_is_sent_again(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]]
) -> None:
    from django.utils import timezone

    from disputes.services import dispute_refund_inquiry
    from disputes.services.actions import CLAIM_RESEND_AFTER

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    Dispute.objects.filter(pk=dispute.pk).update(refund_claimed_at=timezone.now())

    assert dispute_refund_inquiry(dispute=dispute, user=finance_user).refund_id == ""
    assert refunds == []

    Dispute.objects.filter(pk=dispute.pk).update(
        refund_claimed_at=timezone.now() - CLAIM_RESEND_AFTER - CLAIM_RESEND_AFTER
    )
    assert dispute_refund_inquiry(dispute=dispute, user=finance_user).refund_id == "re_inquiry1"

    (call,) = refunds
    assert call["key"] == f"dispute:{dispute.pk}:inquiry-refund:v1"
    action = StaffAction.objects.get(action="dispute_refund_inquiry")
    assert (action.actor, action.target, action.outcome) == (
        finance_user,
        dispute.stripe_id,
        "refund re_inquiry1 succeeded",
    )


def test_an_inquiry_refund_refused_by_stripe_releases_the_claim(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from disputes.services import dispute_refund_inquiry
    from payments import stripe_gateway

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)

    def refused(**kwargs: Any) -> Any:
        raise InvalidRequest("Stripe refused refund.create: charge_already_refunded.")

    monkeypatch.setattr(stripe_gateway, "refund_create", refused)

    with pytest.raises(DisputeActionRefused) as error:
        dispute_refund_inquiry(dispute=dispute, user=finance_user)

    assert str(error.value) == "Stripe refused refund.create: charge_already_refunded."
    dispute.refresh_from_db()
    assert dispute.refund_claimed_at is None and dispute.refund_id == ""
    assert StaffAction.objects.get(action="dispute_refund_inquiry").outcome == (
        "refused by Stripe: invalid request"
    )


def test_an_inquiry_refund_whose_answer_was_lost_is_sent_again_at_once(
    fake_stripe: FakeStripe,
    finance_user: User,
    refunds: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from disputes.services import dispute_refund_inquiry
    from payments import stripe_gateway

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    refund_create = stripe_gateway.refund_create

    def unavailable(**kwargs: Any) -> Any:
        monkeypatch.setattr(stripe_gateway, "refund_create", refund_create)
        raise StripeUnavailable("Stripe did not answer refund.create")

    monkeypatch.setattr(stripe_gateway, "refund_create", unavailable)

    with pytest.raises(StripeUnavailable):
        dispute_refund_inquiry(dispute=dispute, user=finance_user)
    assert StaffAction.objects.get(action="dispute_refund_inquiry").outcome == (
        "no answer from Stripe; the next attempt sends the same request again"
    )

    assert dispute_refund_inquiry(dispute=dispute, user=finance_user).refund_id == "re_inquiry1"
    (call,) = refunds
    assert call["key"] == f"dispute:{dispute.pk}:inquiry-refund:v1"


# ---------------------------------------------------------------------------- while Stripe is called


@pytest.fixture
def during_call(
    fake_stripe: FakeStripe, refunds: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """What the audit trail and each dispute's claim say at the moment our request is with
    Stripe (and stay saying if the worker dies there), one entry per call."""
    from payments import stripe_gateway

    seen: list[dict[str, Any]] = []

    def recording(send: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append(
                {
                    "audit": list(
                        StaffAction.objects.order_by("pk").values_list("actor", "action", "outcome")
                    ),
                    "disputes": list(
                        Dispute.objects.order_by("pk").values(
                            "submit_claimed_by", "submitted_revision", "accept_claimed_by", "updated_at"
                        )
                    ),
                }
            )
            return send(*args, **kwargs)

        return call

    for name in ("dispute_update", "dispute_close", "refund_create"):
        monkeypatch.setattr(stripe_gateway, name, recording(getattr(stripe_gateway, name)))
    return seen


def test_while_a_submission_is_with_stripe_its_claim_and_audit_row_say_who_sends_which_revision(
    fake_stripe: FakeStripe, finance_user: User, during_call: list[dict[str, Any]]
) -> None:
    # given a staged dispute and another one
    dispute = staged(fake_stripe)
    other = staged(fake_stripe)
    before = Dispute.objects.get(pk=dispute.pk).updated_at
    during_call.clear()

    # when Finance submits, adding a sentence
    result = dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="Signed for.")

    # then, during the call, the claim names Finance and revision 2, and only this dispute's
    (seen,) = during_call
    assert seen["audit"] == [(finance_user.pk, "dispute_evidence_submit", "submitting revision 2")]
    claimed, untouched = seen["disputes"]
    assert (claimed["submit_claimed_by"], claimed["submitted_revision"]) == (finance_user.pk, 2)
    assert claimed["updated_at"] > before
    assert (untouched["submit_claimed_by"], untouched["submitted_revision"]) == (None, None)
    # and afterwards it is submitted, this dispute only
    assert result.submitted_at is not None and result.submit_claimed_at is not None
    assert Dispute.objects.get(pk=other.pk).submitted_at is None


@pytest.mark.parametrize(
    "meanwhile",
    [
        {"submit_claimed_at": NOW_DT},
        {"accept_claimed_at": NOW_DT},
        {"refund_claimed_at": NOW_DT},
        {"submission_count": 1},
        {"status": "lost"},
    ],
    ids=["submitted", "accepted", "refunded", "submitted-in-the-dashboard", "closed"],
)
def test_a_submission_claimed_or_answered_elsewhere_between_our_read_and_our_claim_sends_nothing(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch, meanwhile: dict[str, Any]
) -> None:
    from disputes.services import actions

    dispute = staged(fake_stripe)
    latest = actions.evidence_draft_latest

    def read_then_someone_else_acts(*, dispute: Dispute) -> Any:
        Dispute.objects.filter(pk=dispute.pk).update(**meanwhile)
        return latest(dispute=dispute)

    monkeypatch.setattr(actions, "evidence_draft_latest", read_then_someone_else_acts)

    dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert submits(fake_stripe) == []
    assert not StaffAction.objects.exists()


def test_a_submission_in_flight_sends_nothing_and_a_resend_is_audited_as_one(
    fake_stripe: FakeStripe, finance_user: User, during_call: list[dict[str, Any]]
) -> None:
    from django.utils import timezone

    from disputes.services.actions import CLAIM_RESEND_AFTER

    dispute = staged(fake_stripe)
    Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=timezone.now(), submitted_revision=1)
    during_call.clear()

    assert dispute_evidence_submit(dispute=dispute, user=finance_user).submitted is False
    assert during_call == []

    Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=timezone.now() - 2 * CLAIM_RESEND_AFTER)
    assert dispute_evidence_submit(dispute=dispute, user=finance_user).submitted is True

    (seen,) = during_call
    assert seen["audit"] == [
        (finance_user.pk, "dispute_evidence_submit", "sending the claimed submission again")
    ]
    assert list(StaffAction.objects.values_list("actor", "outcome")) == [
        (finance_user.pk, "submitted revision 1")
    ]


def test_accepting_and_resending_an_accept_are_audited_while_stripe_is_called(
    fake_stripe: FakeStripe, finance_user: User, during_call: list[dict[str, Any]]
) -> None:
    dispute = staged(fake_stripe)
    before = Dispute.objects.get(pk=dispute.pk).updated_at
    during_call.clear()
    fake_stripe.fail_next = [StripeUnavailable("Stripe did not answer dispute.close")]

    with pytest.raises(StripeUnavailable):
        dispute_accept(dispute=dispute, user=finance_user)
    dispute_accept(dispute=dispute, user=finance_user)

    first, second = during_call
    assert first["audit"] == [(finance_user.pk, "dispute_accept", "closing")]
    assert first["disputes"][0]["accept_claimed_by"] == finance_user.pk
    assert first["disputes"][0]["updated_at"] > before
    assert second["audit"][1] == (finance_user.pk, "dispute_accept", "sending the claimed close again")


def test_refunding_an_inquiry_and_resending_it_are_audited_while_stripe_is_called(
    fake_stripe: FakeStripe,
    finance_user: User,
    refunds: list[dict[str, Any]],
    during_call: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from disputes.services import actions, dispute_refund_inquiry
    from payments import stripe_gateway

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    before = Dispute.objects.get(pk=dispute.pk).updated_at
    during_call.clear()
    send = stripe_gateway.refund_create

    def unanswered(**kwargs: Any) -> Any:
        send(**kwargs)
        monkeypatch.setattr(stripe_gateway, "refund_create", send)
        raise StripeUnavailable("Stripe did not answer refund.create")

    monkeypatch.setattr(stripe_gateway, "refund_create", unanswered)
    # the answer is lost, and the retry comes at the very same instant
    frozen = actions.timezone.now()
    monkeypatch.setattr(actions, "timezone", type("Frozen", (), {"now": staticmethod(lambda: frozen)}))

    with pytest.raises(StripeUnavailable):
        dispute_refund_inquiry(dispute=dispute, user=finance_user)
    assert dispute_refund_inquiry(dispute=dispute, user=finance_user).refund_id == "re_inquiry1"

    first, second = during_call
    assert first["audit"] == [(finance_user.pk, "dispute_refund_inquiry", "refunding")]
    assert first["disputes"][0]["updated_at"] > before
    assert second["audit"][1] == (
        finance_user.pk,
        "dispute_refund_inquiry",
        "sending the claimed refund again",
    )
    assert [call["key"] for call in refunds] == [f"dispute:{dispute.pk}:inquiry-refund:v1"] * 2


# ---------------------------------------------------------------------------- submitting, sharper


@pytest.mark.parametrize(
    ("count", "status"), [(1, "needs_response"), (0, "under_review")], ids=["counted", "under-review"]
)
def test_a_code_less_refusal_of_a_submission_stripe_already_has_counts_as_submitted(
    fake_stripe: FakeStripe, finance_user: User, count: int, status: str
) -> None:
    # given a dispute submitted meanwhile in the Dashboard (Stripe's snapshot may lag one way or
    # the other), and another dispute
    dispute = staged(fake_stripe)
    other = staged(fake_stripe)
    fake_stripe.disputes[dispute.stripe_id]["evidence_details"]["submission_count"] = count
    fake_stripe.disputes[dispute.stripe_id]["status"] = status
    fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.update.")]

    # when Finance submits
    result = dispute_evidence_submit(dispute=dispute, user=finance_user)

    # then
    assert result.submitted_at is not None
    assert Dispute.objects.get(pk=other.pk).submitted_at is None
    assert StaffAction.objects.get().outcome == "already submitted on Stripe (refused)"


def test_a_code_less_refusal_staff_can_fix_releases_the_whole_claim(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.update: evidence rejected.")]

    with pytest.raises(DisputeActionRefused, match="evidence rejected"):
        dispute_evidence_submit(dispute=dispute, user=finance_user)

    released = Dispute.objects.get(pk=dispute.pk)
    assert (released.submit_claimed_at, released.submit_claimed_by, released.submitted_revision) == (
        None,
        None,
        None,
    )
    assert StaffAction.objects.get().outcome == "refused by Stripe: invalid request"


def test_a_submission_refused_because_the_dispute_closed_meanwhile_names_it_and_releases_the_claim(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from disputes.services import ERROR_NOT_RESPONDABLE

    dispute = staged(fake_stripe)
    fake_stripe.disputes[dispute.stripe_id]["status"] = "lost"

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert str(refused.value) == ERROR_NOT_RESPONDABLE.format(dispute=dispute.stripe_id, status="lost")
    released = Dispute.objects.get(pk=dispute.pk)
    assert (released.submit_claimed_at, released.submit_claimed_by) == (None, None)


def test_a_closed_dispute_or_one_without_an_order_is_refused_with_its_id(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from disputes.services import ERROR_NO_EVIDENCE, ERROR_NOT_RESPONDABLE

    won = staged(fake_stripe, status="won")
    obj = fake_stripe.add(
        dispute_object(
            ChargeFactory.build(
                order=None, stripe_id="ch_unknown", amount=500, amount_captured=500, currency="usd"
            )
        )
    )
    orderless = dispute_sync(obj=obj, seen_at=NOW - 50).dispute

    with pytest.raises(DisputeActionRefused) as closed:
        dispute_evidence_submit(dispute=won, user=finance_user)
    with pytest.raises(DisputeActionRefused) as no_order:
        dispute_evidence_submit(dispute=orderless, user=finance_user)

    assert str(closed.value) == ERROR_NOT_RESPONDABLE.format(dispute=won.stripe_id, status="won")
    assert str(no_order.value) == ERROR_NO_EVIDENCE.format(dispute=orderless.stripe_id)
    assert submits(fake_stripe) == []


def test_submitting_before_the_evidence_task_ran_builds_revision_1_and_submits_it(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    obj = fake_stripe.add(dispute_object(ChargeFactory(order=paid_order())))
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute

    result = dispute_evidence_submit(dispute=dispute, user=finance_user)

    assert result.submitted is True
    (call,) = submits(fake_stripe)
    assert call["evidence"] == EvidenceDraft.objects.get(dispute=dispute, revision=1).fields


def test_extra_text_on_a_draft_without_free_text_is_the_free_text(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = staged(fake_stripe)
    draft = EvidenceDraft.objects.get(dispute=dispute, revision=1)
    EvidenceDraft.objects.filter(pk=draft.pk).update(
        fields={k: v for k, v in draft.fields.items() if k != "uncategorized_text"}
    )

    dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="  Signed for by A. King.  ")

    (call,) = submits(fake_stripe)
    assert call["evidence"]["uncategorized_text"] == "Signed for by A. King."


def test_a_draft_with_a_problem_or_fields_stripe_refuses_is_not_submitted_and_says_why(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    from disputes.evidence import ERROR_UNKNOWN_FIELD

    refused_draft = staged(fake_stripe)
    EvidenceDraft.objects.filter(dispute=refused_draft).update(problem="Stripe refused this draft: too long.")
    unknown_fields = staged(fake_stripe)
    EvidenceDraft.objects.filter(dispute=unknown_fields).update(fields={"colour": "red", "mood": "calm"})

    with pytest.raises(DisputeActionRefused) as problem:
        dispute_evidence_submit(dispute=refused_draft, user=finance_user)
    with pytest.raises(DisputeActionRefused) as unknown:
        dispute_evidence_submit(dispute=unknown_fields, user=finance_user)

    assert str(problem.value) == "Stripe refused this draft: too long."
    # (jsonb keeps shorter keys first)
    assert str(unknown.value) == " ".join(
        [ERROR_UNKNOWN_FIELD.format(field="mood"), ERROR_UNKNOWN_FIELD.format(field="colour")]
    )
    assert submits(fake_stripe) == []


def test_extra_text_saved_as_a_revision_a_colleague_took_meanwhile_is_refused_with_a_reload(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from disputes.services import ERROR_REVISION_TAKEN, actions, dispute_evidence_revise, drafts

    dispute = staged(fake_stripe)
    first = EvidenceDraft.objects.get(dispute=dispute, revision=1)
    dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "DHL"})
    fake_stripe.calls.clear()
    # our page was loaded before the colleague saved revision 2
    monkeypatch.setattr(actions, "evidence_draft_latest", lambda dispute: first)
    monkeypatch.setattr(drafts, "evidence_draft_latest", lambda dispute: first)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="Signed for.")

    assert str(refused.value) == ERROR_REVISION_TAKEN.format(dispute=dispute.stripe_id)
    assert submits(fake_stripe) == []
    assert Dispute.objects.get(pk=dispute.pk).submit_claimed_at is None


# ---------------------------------------------------------------------------- inquiry refund, sharpest


@pytest.mark.parametrize("claim", ["submit_claimed_at", "accept_claimed_at"])
def test_an_inquiry_whose_submission_or_accept_is_in_flight_is_not_refunded(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]], claim: str
) -> None:
    from disputes.services import ERROR_NOT_REFUNDABLE, dispute_refund_inquiry

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    Dispute.objects.filter(pk=dispute.pk).update(**{claim: NOW_DT})

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_refund_inquiry(dispute=dispute, user=finance_user)

    assert str(refused.value) == ERROR_NOT_REFUNDABLE.format(dispute=dispute.stripe_id)
    assert refunds == []


def test_the_inquiry_refund_call_is_logged_with_the_dispute_and_charge_and_a_status_less_answer_is_audited(
    fake_stripe: FakeStripe,
    finance_user: User,
    refunds: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from disputes.services import dispute_refund_inquiry
    from payments import stripe_gateway

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    send = stripe_gateway.refund_create
    # an answer without a status: the audit row then just names the refund
    monkeypatch.setattr(stripe_gateway, "refund_create", lambda **kwargs: {**send(**kwargs), "status": None})

    dispute_refund_inquiry(dispute=dispute, user=finance_user)

    (call,) = refunds
    assert call["ids"] == {"dispute": dispute.stripe_id, "charge": dispute.charge_id}
    assert StaffAction.objects.get().outcome == "refund re_inquiry1"


@pytest.mark.parametrize("action", ["accept", "refund"])
def test_a_colleague_claiming_between_our_read_and_our_claim_means_we_send_nothing(
    fake_stripe: FakeStripe,
    finance_user: User,
    refunds: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    from django.utils import timezone

    from disputes.services import actions, dispute_refund_inquiry

    dispute = staged(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    claim = {"accept": "accept_claimed_at", "refund": "refund_claimed_at"}[action]

    def now() -> datetime:
        # the colleague's claim commits just before ours is sent
        Dispute.objects.filter(pk=dispute.pk).update(**{claim: NOW_DT})
        return timezone.now()

    monkeypatch.setattr(actions, "timezone", type("Clock", (), {"now": staticmethod(now)}))

    if action == "accept":
        dispute_accept(dispute=dispute, user=finance_user)
    else:
        with pytest.raises(DisputeActionRefused):
            dispute_refund_inquiry(dispute=dispute, user=finance_user)

    assert fake_stripe.calls_of("dispute_close") == [] and refunds == []
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize("stripe_answers", ["the submitted dispute again", "already submitted"])
def test_two_resends_of_a_lost_submission_keep_the_time_stripe_first_confirmed_it(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch, stripe_answers: str
) -> None:
    # given a submission whose answer was lost, and two resends that both read the dispute before
    # either had Stripe's answer (two tabs, or a tab and a retry)
    from django.utils import timezone

    from disputes.services import actions

    dispute = staged(fake_stripe)
    lost = timezone.now() - 2 * actions.CLAIM_RESEND_AFTER
    Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=lost, submitted_revision=1)
    read_by_second = Dispute.objects.get(pk=dispute.pk)
    first = dispute_evidence_submit(dispute=dispute, user=finance_user)
    if stripe_answers == "already submitted":
        fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.update.")]

    # when the second resend goes through with what it read
    monkeypatch.setattr(actions, "dispute_fresh", lambda _: read_by_second)
    second = dispute_evidence_submit(dispute=dispute, user=finance_user)

    # then the dispute keeps the time of Stripe's first confirmation
    assert first.submitted_at is not None
    assert second.submitted_at == first.submitted_at
    assert [call["key"] for call in submits(fake_stripe)] == [f"dispute:{dispute.pk}:evidence-submit:v1"] * 2
