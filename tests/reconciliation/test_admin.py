"""A payout's admin page walks finance from the bank deposit to its orders; discrepancies are
resolved with a note, by Finance only, with who and when recorded and audited."""

import csv
import io
import time
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.urls import reverse
from django.utils import formats

from core.roles import FINANCE, SUPPORT
from core.security import RECENT_AUTH_KEY
from payments.models import StaffAction
from reconciliation.models import Discrepancy, Payout
from reconciliation.services.discrepancies import (
    ERROR_NOT_FINANCE,
    ERROR_NOT_OPEN,
    ERROR_NOTE_REQUIRED,
    discrepancy_resolve,
)
from reconciliation.services.payouts import payout_reconcile, payout_sync
from tests.factories import OrderFactory
from tests.reconciliation.factories import (
    ChargeFactory,
    FakeStripe,
    capture_reconciliations,
    charge_txn,
    refund_txn,
    stripe_charge,
    stripe_payout,
    stripe_refund,
    stripe_txn,
)

pytestmark = pytest.mark.django_db


def a_payout(fake: FakeStripe, *, reconcile: bool = True) -> tuple[Payout, Any]:
    order = OrderFactory(amount=5000)
    charge = ChargeFactory(order=order, amount=5000)
    lines = [
        charge_txn(stripe_charge(id=charge.stripe_id, amount=5000), fee=175),
        refund_txn(stripe_refund(amount=1200, charge=charge.stripe_id)),
        stripe_txn(amount=-300, type="stripe_fee", source=None, reporting_category="fee"),
    ]
    obj = fake.add_payout(stripe_payout(amount=sum(line["net"] for line in lines)), lines)
    payout_sync(obj=obj, source="test")
    if reconcile:
        payout_reconcile(payout_id=obj["id"])
    return Payout.objects.get(stripe_id=obj["id"]), order


def test_a_payouts_page_shows_what_the_deposit_is_made_of_and_links_each_line_to_its_order(
    admin_client: Any, fake_stripe: FakeStripe
) -> None:
    payout, order = a_payout(fake_stripe)

    page = admin_client.get(reverse("admin:reconciliation_payout_change", args=[payout.pk])).content.decode()

    assert payout.amount == 5000 - 175 - 1200 - 300
    for text in (
        "Charges",
        "£50.00",
        "Refunds",
        "-£12.00",
        "Fees",
        "-£4.75",
        "Net",
        "£33.25",
        "Net equals the payout amount (£33.25)",
        "TRACE-0001",
        "Download the lines (CSV)",
    ):
        assert text in page
    order_url = reverse("admin:orders_order_change", args=[order.pk])
    assert page.count(f'href="{order_url}"') == 2  # the charge and its refund
    assert payout.arrival_date is not None and formats.localize(payout.arrival_date) in page


def test_the_admin_csv_download_has_every_line(admin_client: Any, fake_stripe: FakeStripe) -> None:
    payout, order = a_payout(fake_stripe)

    response = admin_client.get(reverse("admin:reconciliation_payout_lines_csv", args=[payout.pk]))

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 4
    assert [row["order"] for row in rows if row["type"] in ("charge", "refund")] == [order.number] * 2


def test_payouts_are_read_only_and_found_by_trace_id(admin_client: Any, fake_stripe: FakeStripe) -> None:
    payout, _ = a_payout(fake_stripe)

    assert admin_client.get(reverse("admin:reconciliation_payout_add")).status_code == 403
    listing = admin_client.get(reverse("admin:reconciliation_payout_changelist"), {"q": "TRACE-0001"})
    assert payout.stripe_id in listing.content.decode()


def test_the_reconcile_action_reconciles_and_leaves_an_audit_row(
    admin_client: Any, fake_stripe: FakeStripe
) -> None:
    payout, _ = a_payout(fake_stripe, reconcile=False)

    admin_client.post(
        reverse("admin:reconciliation_payout_changelist"),
        {"action": "reconcile", "_selected_action": [payout.pk]},
    )

    payout.refresh_from_db()
    assert payout.reconciled and payout.unexplained == 0
    audit = StaffAction.objects.get(action="payout_reconcile")
    assert (audit.target, audit.outcome) == (payout.stripe_id, "adds up")


def test_finance_resolves_an_open_discrepancy_with_a_note_and_it_is_audited(admin_client: Any) -> None:
    case = Discrepancy.objects.create(kind="missing_remote", object_id="ch_gone", detail="ch_gone: ours")
    url = reverse("admin:reconciliation_discrepancy_change", args=[case.pk])

    empty = admin_client.post(url, {"note": ""})
    assert empty.status_code == 200  # the form again: a note is required
    admin_client.post(url, {"note": "Charge was voided at the bank; written off."})

    case.refresh_from_db()
    assert case.status == "resolved"
    assert case.resolved_by is not None and case.resolved_by.is_superuser and case.resolved_at is not None
    assert case.note == "Charge was voided at the bank; written off."
    audit = StaffAction.objects.get(action="discrepancy_resolve")
    assert audit.target == "ch_gone" and audit.actor == case.resolved_by


def test_only_finance_resolves_and_only_open_cases_with_a_note() -> None:
    support = User.objects.create_user(username="support", password="pw", is_staff=True)
    support.groups.add(Group.objects.get_or_create(name=SUPPORT)[0])
    finance = User.objects.create_user(username="finance", password="pw", is_staff=True)
    finance.groups.add(Group.objects.get_or_create(name=FINANCE)[0])
    case = Discrepancy.objects.create(kind="amount_mismatch", object_id="ch_1", detail="ch_1")

    with pytest.raises(PermissionDenied, match=ERROR_NOT_FINANCE):
        discrepancy_resolve(discrepancy=case, user=support, note="looked")
    with pytest.raises(ValidationError, match=ERROR_NOTE_REQUIRED):
        discrepancy_resolve(discrepancy=case, user=finance, note="  ")
    resolved = discrepancy_resolve(discrepancy=case, user=finance, note="Partial capture, as agreed.")
    with pytest.raises(ValidationError, match=ERROR_NOT_OPEN):
        discrepancy_resolve(discrepancy=case, user=finance, note="again")

    assert (resolved.status, resolved.resolved_by) == ("resolved", finance)
    audit = StaffAction.objects.get(action="discrepancy_resolve")
    assert (audit.actor, audit.target) == (finance, "ch_1")
    assert audit.outcome == f"discrepancy {case.pk} (amount_mismatch) resolved"
    # Resolved, the object may open a new case of the same kind later.
    assert (
        Discrepancy.objects.create(kind="amount_mismatch", object_id="ch_1", detail="again").status == "open"
    )


def test_the_resync_action_fetches_the_payout_applies_it_queues_its_reconciliation_and_audits(
    admin_client: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments import stripe_gateway

    payout, _ = a_payout(fake_stripe, reconcile=False)
    Payout.objects.filter(pk=payout.pk).update(status="in_transit", trace_id="")
    fetched = {payout.stripe_id: {**fake_stripe.payouts[payout.stripe_id], "status": "paid"}}
    monkeypatch.setattr(stripe_gateway, "payout_retrieve", lambda *, payout_id: fetched[payout_id])
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)

    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(
            reverse("admin:reconciliation_payout_changelist"),
            {"action": "resync", "_selected_action": [payout.pk]},
        )

    payout.refresh_from_db()
    assert (payout.status, payout.trace_id) == ("paid", "TRACE-0001")
    assert queued == [payout.stripe_id]
    audit = StaffAction.objects.get(action="resync")
    assert (audit.target, audit.outcome) == (payout.stripe_id, "paid")
    assert audit.actor is not None and audit.actor.is_superuser


def test_resolving_asks_for_the_password_again_after_ten_minutes(admin_client: Any) -> None:
    case = Discrepancy.objects.create(kind="missing_remote", object_id="ch_late", detail="ch_late: ours")
    session = admin_client.session
    session[RECENT_AUTH_KEY] = int(time.time()) - 11 * 60
    session.save()

    response = admin_client.post(
        reverse("admin:reconciliation_discrepancy_change", args=[case.pk]), {"note": "Written off."}
    )

    assert response.status_code == 302 and response["Location"].startswith(reverse("security:confirm"))
    case.refresh_from_db()
    assert case.status == "open"
