"""The dispute staff flow in Chromium against the Stripe emulator, not a patched gateway: the
emulator's fraudulent-dispute card opens a real dispute, its signed events reach the live
server's webhook endpoint (processed in the request, see conftest), the evidence is staged on
the emulator with nobody touching it; a Finance user reads it, saves a new revision (staged on
the emulator), submits it once behind its confirmation page, and sees the bank's decision on
the dispute and on its order."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from disputes.models import Dispute, EvidenceDraft
from orders.models import Order
from payments.models import StaffAction
from tests.browser.steps import staff_log_in, wait_for
from tests.disputes.e2e_support import FRAUD_CARD, pay, shop_order

PASSWORD = "correct horse battery staple"


def test_finance_answers_an_emulator_dispute_in_the_admin_and_wins_it(page: Any, site: Any) -> None:
    # given a customer's payment with the fraudulent-dispute card, disputed by their bank
    user = User.objects.create_user(username="fiona", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Finance")[0])
    order = shop_order()
    pay(site.emulator, order, FRAUD_CARD)
    assert site.emulator.wait_for_deliveries(timeout=20)
    drafts = EvidenceDraft.objects.filter(dispute__order=order, staged_at__isnull=False)
    assert wait_for(drafts.exists)
    dispute = Dispute.objects.get(order=order)
    stripe = site.emulator.client()
    assert stripe.v1.disputes.retrieve(dispute.stripe_id).evidence_details.has_evidence is True

    # the Finance user finds it at the top of the open disputes, with the hours left
    staff_log_in(page, site.url, user.username, PASSWORD, next_path="/admin/disputes/dispute/")
    row = page.locator("#result_list tbody tr").first
    assert dispute.stripe_id in row.inner_text()
    assert " h (" in row.inner_text()

    # its page: no 3-D Secure on this card, so no liability shift, and it says so
    row.locator(f"a:has-text('{dispute.stripe_id}')").click()
    # (waits for the new page: #content is on the list page too)
    no_shift = "No liability shift: 3-D Secure was not used on this charge."
    page.locator("#content", has_text=no_shift).wait_for()

    # the evidence as staged: the customer's email; add the carrier, saved as revision 2 and staged
    page.click("text=Read and edit the evidence (Finance)")
    assert page.input_value("#id_customer_email_address") == order.email
    page.fill("#id_shipping_carrier", "Royal Mail")
    page.fill("#id_shipping_tracking_number", "RM123456785GB")
    page.click("input[value='Save as a new revision and stage it']")
    assert "Evidence revision 2 staged on Stripe." in page.locator(".messagelist").inner_text()
    staged = stripe.v1.disputes.retrieve(dispute.stripe_id)
    assert staged.evidence.shipping_tracking_number == "RM123456785GB"
    assert staged.evidence_details.submission_count == 0

    # submit: the confirmation page first (nothing sent yet), then once
    page.goto(f"{site.url}/admin/disputes/dispute/")
    page.check(f"input[name='_selected_action'][value='{dispute.pk}']")
    page.select_option("select[name='action']", "submit_evidence")
    page.click("button[name='index']")
    page.locator("#content", has_text="Stripe takes one submission per dispute").wait_for()
    assert stripe.v1.disputes.retrieve(dispute.stripe_id).evidence_details.submission_count == 0
    page.fill("#id_extra_text", "winning_evidence: signed for on delivery.")
    page.click("input[value='Yes, submit the evidence']")
    assert "evidence submitted, now under_review" in page.locator(".messagelist").inner_text()

    # a second go submits nothing more
    page.check(f"input[name='_selected_action'][value='{dispute.pk}']")
    page.select_option("select[name='action']", "submit_evidence")
    page.click("button[name='index']")
    page.click("input[value='Yes, submit the evidence']")
    submitted = stripe.v1.disputes.retrieve(dispute.stripe_id)
    assert submitted.evidence_details.submission_count == 1
    assert submitted.evidence.uncategorized_text.endswith("winning_evidence: signed for on delivery.")
    assert StaffAction.objects.filter(action="dispute_evidence_submit", actor=user).count() == 1

    # the bank decides a minute later; the dispute and its order show the outcome
    site.emulator.advance_clock(61)
    assert site.emulator.wait_for_deliveries(timeout=20)
    assert wait_for(lambda: Dispute.objects.filter(pk=dispute.pk, status="won").exists())
    page.goto(f"{site.url}/admin/orders/order/{order.pk}/change/")
    content = page.locator("#content").inner_text()
    assert f"{dispute.stripe_id} · won" in content
    assert Order.objects.get(pk=order.pk).status == Order.Status.DISPUTED
