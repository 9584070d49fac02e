"""A Finance user answers a dispute in Chromium, through the real admin pages served by
`live_server`: the list with the deadline, the dispute with its liability shift, the evidence
edited into a new staged revision, then Submit evidence behind its confirmation page, once.

Stripe is the gateway's dispute and file functions patched with the disputes tests' fake, so
the test can open a dispute with any 3-D Secure outcome (here: authenticated, the liability
shift applies); the live server runs in a thread of this process, so the patch reaches it. The
same journey against the emulator is test_dispute_staff_flow_emulator.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from disputes.models import Dispute, EvidenceDraft
from disputes.services import dispute_evidence_prepare, dispute_sync
from payments import stripe_gateway
from payments.models import StaffAction
from tests.browser.steps import staff_log_in
from tests.disputes.factories import DAY, NOW, ChargeFactory, FakeStripe, dispute_object, paid_order
from tests.stripe_emulator.browser_helpers import ARTIFACTS

PASSWORD = "correct horse battery staple"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    for name in ("dispute_update", "dispute_close", "dispute_retrieve", "file_create"):
        monkeypatch.setattr(stripe_gateway, name, getattr(fake, name))
    return fake


@pytest.fixture
def admin_page(
    browser: Any, live_server: Any, transactional_db: Any, request: pytest.FixtureRequest
) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.set_default_timeout(15_000)
    errors: list[str] = []
    context.on("page", lambda new: new.on("pageerror", lambda exc: errors.append(str(exc))))
    page = context.new_page()
    page.base_url = live_server.url
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def finance_user() -> User:
    user = User.objects.create_user(username="fiona", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Finance")[0])
    return user


def test_finance_reads_edits_and_submits_the_evidence_once_in_the_admin(
    admin_page: Any, fake: FakeStripe
) -> None:
    # given a dispute opened two days before its deadline, its evidence staged
    user = finance_user()
    order = paid_order()
    obj = fake.add(dispute_object(ChargeFactory(order=order), due_in=2 * DAY))
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    dispute_evidence_prepare(dispute_pk=dispute.pk)
    page = admin_page
    base = page.base_url

    # the Finance user signs in and finds it at the top of the list, with the hours left
    staff_log_in(page, base, user.username, PASSWORD, next_path="/admin/disputes/dispute/")
    row = page.locator("#result_list tbody tr").first
    assert dispute.stripe_id in row.inner_text()
    assert " h (" in row.inner_text()

    # the dispute's page says whether the liability shift applies and why
    row.locator(f"a:has-text('{dispute.stripe_id}')").click()
    shift = "The liability shift applies: the card issuer, not the shop, bears a fraud dispute."
    page.locator("#content", has_text=shift).wait_for()  # #content is on the list page too

    # the evidence: add the carrier and tracking number, saved as revision 2 and staged
    page.click("text=Read and edit the evidence (Finance)")
    assert page.input_value("#id_customer_email_address") == order.email
    page.fill("#id_shipping_carrier", "Royal Mail")
    page.fill("#id_shipping_tracking_number", "RM123456785GB")
    page.click("input[value='Save as a new revision and stage it']")
    assert "Evidence revision 2 staged on Stripe." in page.locator(".messagelist").inner_text()

    # submit: the confirmation page first, then once
    page.goto(f"{base}/admin/disputes/dispute/")
    page.check(f"input[name='_selected_action'][value='{dispute.pk}']")
    page.select_option("select[name='action']", "submit_evidence")
    page.click("button[name='index']")
    page.locator("#content", has_text="Stripe takes one submission per dispute").wait_for()
    assert [c for c in fake.calls_of("dispute_update") if c["submit"]] == []
    page.fill("#id_extra_text", "Signed for on delivery.")
    page.click("input[value='Yes, submit the evidence']")
    assert "evidence submitted, now under_review" in page.locator(".messagelist").inner_text()

    # a second go submits nothing more
    page.check(f"input[name='_selected_action'][value='{dispute.pk}']")
    page.select_option("select[name='action']", "submit_evidence")
    page.click("button[name='index']")
    page.click("input[value='Yes, submit the evidence']")

    (submitted,) = [c for c in fake.calls_of("dispute_update") if c["submit"]]
    assert submitted["key"] == f"dispute:{dispute.pk}:evidence-submit:v1"
    assert submitted["evidence"]["shipping_tracking_number"] == "RM123456785GB"
    assert submitted["evidence"]["uncategorized_text"].endswith("Signed for on delivery.")
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 3
    assert Dispute.objects.get(pk=dispute.pk).status == "under_review"
    assert StaffAction.objects.filter(action="dispute_evidence_submit", actor=user).count() == 1
