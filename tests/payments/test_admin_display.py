"""What staff read on the payments admin pages: ids exactly as Stripe gives them, money
formatted, read-only pages without Save buttons."""

from typing import Any

import pytest
from django.urls import reverse

from payments.models import EventCheckpoint, Refund, StaffAction
from tests.factories import OrderFactory, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db

EVENTS_URL = reverse("admin:payments_stripeevent_changelist")


def test_messages_show_ids_exactly_as_stripe_gives_them(admin_client: Any, pay: Any) -> None:
    # given an event whose object staff re-sync
    order = OrderFactory(payment_intent_id=None)
    pi_id = pay(order)
    order.refresh_from_db()
    row = stored_event(event("payment_intent.processing", payment_intent(order, status="processing")))
    # when the admin reports it
    response = admin_client.post(EVENTS_URL, {"action": "resync", "_selected_action": [row.pk]}, follow=True)
    page = response.content.decode()
    # then the id in the message can be copied as it is
    assert f"{pi_id} re-synced: {order.number} is fulfilled" in page
    assert pi_id.capitalize() not in page


def test_refunds_show_money_formatted_and_no_save_button(admin_client: Any) -> None:
    order = OrderFactory()
    refund = Refund.objects.create(
        stripe_id="re_test_shown", order=order, amount=500, currency="gbp", status=Refund.Status.SUCCEEDED
    )
    listing = admin_client.get(reverse("admin:payments_refund_changelist")).content.decode()
    assert "£5.00" in listing and ">500<" not in listing
    page = admin_client.get(reverse("admin:payments_refund_change", args=[refund.pk])).content.decode()
    assert "£5.00" in page and ">500<" not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_event_checkpoint_and_audit_pages_are_read_only(admin_client: Any, admin_user: Any) -> None:
    row = stored_event(event("charge.failed", {"id": "ch_1", "object": "charge"}))
    checkpoint = EventCheckpoint.objects.create(name="events")
    action = StaffAction.objects.create(actor=admin_user, action="replay_event", target=row.stripe_id)
    for url in (
        reverse("admin:payments_stripeevent_change", args=[row.pk]),
        reverse("admin:payments_eventcheckpoint_change", args=[checkpoint.pk]),
        reverse("admin:payments_staffaction_change", args=[action.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert 'name="_save"' not in page and 'name="_continue"' not in page, url
        assert admin_client.post(url, {}).status_code == 403, url


def test_the_replay_action_still_works_on_a_read_only_list(admin_client: Any) -> None:
    row = stored_event(event("charge.failed", {"id": "ch_2", "object": "charge"}), status="dead")
    listing = admin_client.get(EVENTS_URL).content.decode()
    assert 'value="replay"' in listing
    response = admin_client.post(EVENTS_URL, {"action": "replay", "_selected_action": [row.pk]}, follow=True)
    assert "1 event(s) queued" in response.content.decode()
