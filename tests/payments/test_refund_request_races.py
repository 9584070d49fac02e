"""Refund requests racing on real PostgreSQL connections: eight staff refunding the rest of one
order at once, and eight submits of one admin form at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from core.roles import FINANCE
from orders.models import Order
from payments.models import RefundRequest
from payments.services.refund_requests import ERROR_NOTHING_LEFT, RefundRefused, refund_request_create
from tests.payments.refund_support import CONCURRENCY, paid_at_stripe, race, stripe_refunds

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(emulator: Any) -> tuple[Order, User]:
    user = User.objects.create_user(username="fiona", password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=FINANCE)[0])
    return paid_at_stripe(emulator), user


def test_eight_staff_refunding_the_rest_at_once_refund_it_once(
    emulator: Any, paid: tuple[Order, User]
) -> None:
    order, user = paid
    results = race(
        lambda i: refund_request_create(order=order, amount=None, reason="duplicate", requested_by=user)
    )
    made = [r for r in results if isinstance(r, RefundRequest)]
    refused = [r for r in results if isinstance(r, RefundRefused)]
    assert len(made) == 1 and len(refused) == CONCURRENCY - 1, results
    assert {str(r) for r in refused} == {ERROR_NOTHING_LEFT.format(number=order.number)}
    assert [r.amount for r in stripe_refunds(emulator, order)] == [4200]


def test_eight_submits_of_one_form_at_once_make_one_request(emulator: Any, paid: tuple[Order, User]) -> None:
    order, user = paid
    results = race(
        lambda i: refund_request_create(
            order=order, amount=1000, reason="duplicate", requested_by=user, form_token="one-form"
        ).pk
    )
    assert len(set(results)) == 1 and all(isinstance(r, int) for r in results), results
    assert [r.amount for r in stripe_refunds(emulator, order)] == [1000]
