"""One search for any id staff are given: routed by prefix, longest first, to indexed lookups."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console import search
from console.search import SearchResult, record_find, record_kind_register, record_prefixes
from disputes.models import Dispute
from payments.models import Charge, PaymentIntent, Refund, RefundRequest
from reconciliation.models import BalanceTransaction, Payout
from tests.factories import OrderFactory, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db


def order_url(order: Any) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def test_an_order_number_finds_the_order_whatever_its_case() -> None:
    order, _ = OrderFactory(), OrderFactory()
    expected = [SearchResult("order", order.number, order.number, order_url(order))]
    assert record_find(query=order.number) == expected
    assert record_find(query=f"  {order.number.lower()} ") == expected
    assert record_find(query="ORD-999999") == []


def test_a_payment_intent_finds_its_order_or_its_mirror() -> None:
    order = OrderFactory()
    assert record_find(query=order.payment_intent_id) == [
        SearchResult("payment_intent", order.payment_intent_id, order.number, order_url(order))
    ]
    # a PaymentIntent we mirror whose order does not name it (yet)
    other = OrderFactory(payment_intent_id=None)
    PaymentIntent.objects.create(
        stripe_id="pi_mirror_only", order=other, status="succeeded", amount=1, currency="gbp"
    )
    assert record_find(query="pi_mirror_only")[0].order == other.number


@pytest.mark.parametrize("charge_id", ["ch_find_me", "py_find_me"])
def test_a_charge_finds_its_order(charge_id: str) -> None:
    order = OrderFactory(charge_id=charge_id)
    assert record_find(query=charge_id) == [SearchResult("charge", charge_id, order.number, order_url(order))]


def test_a_declined_charge_attempt_is_found_through_its_mirror() -> None:
    order = OrderFactory(charge_id="ch_paid")
    Charge.objects.create(stripe_id="ch_declined", order=order, status="failed", amount=4200, currency="gbp")
    assert record_find(query="ch_declined")[0].order == order.number


def test_a_refund_opens_its_own_page_and_names_its_order() -> None:
    order = OrderFactory()
    refund = Refund.objects.create(
        stripe_id="re_find", order=order, amount=100, currency="gbp", status="succeeded"
    )
    (result,) = record_find(query="re_find")
    assert (result.kind, result.order, result.admin_url) == (
        "refund",
        order.number,
        f"/admin/payments/refund/{refund.pk}/change/",
    )


def test_a_refund_we_asked_for_is_found_before_its_webhook() -> None:
    order = OrderFactory()
    RefundRequest.objects.create(
        order=order, amount=100, currency="gbp", reason="duplicate", stripe_refund_id="pyr_requested"
    )
    assert record_find(query="pyr_requested") == [
        SearchResult("refund", "pyr_requested", order.number, order_url(order))
    ]


def test_a_checkout_session_and_a_customer_find_their_orders() -> None:
    first = OrderFactory(checkout_session_id="cs_test_1", stripe_customer_id="cus_many")
    second = OrderFactory(stripe_customer_id="cus_many")
    assert [r.order for r in record_find(query="cs_test_1")] == [first.number]
    assert [(r.kind, r.order) for r in record_find(query="cus_many")] == [
        ("customer", second.number),
        ("customer", first.number),
    ]


def test_an_event_opens_its_page_and_names_the_order_of_its_object() -> None:
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    assert record_find(query=row.stripe_id) == [
        SearchResult("event", row.stripe_id, order.number, f"/admin/payments/stripeevent/{row.pk}/change/")
    ]


@pytest.mark.parametrize("dispute_id", ["du_find", "dp_find"])
def test_a_dispute_names_the_order_of_its_charge(dispute_id: str) -> None:
    order = OrderFactory(charge_id="ch_disputed")
    Dispute.objects.create(
        stripe_id=dispute_id, charge_id="ch_disputed", amount=4200, currency="gbp", status="lost"
    )
    (result,) = record_find(query=dispute_id)
    assert (result.kind, result.order) == ("dispute", order.number)
    assert result.admin_url.startswith("/admin/")


def test_a_payout_and_a_balance_transaction_open_their_own_pages() -> None:
    order = OrderFactory()
    payout = Payout.objects.create(
        stripe_id="po_search", amount=4070, currency="gbp", status=Payout.Status.PAID
    )
    txn = BalanceTransaction.objects.create(
        stripe_id="txn_search", type="charge", reporting_category="charge", amount=4200, fee=130,
        net=4070, currency="gbp", payout=payout, order=order,
    )  # fmt: skip
    assert record_find(query="po_search") == [
        SearchResult("payout", "po_search", None, f"/admin/reconciliation/payout/{payout.pk}/change/")
    ]
    assert record_find(query="txn_search") == [
        SearchResult(
            "balance_transaction",
            "txn_search",
            order.number,
            f"/admin/reconciliation/balancetransaction/{txn.pk}/change/",
        )
    ]
    assert record_find(query="po_unknown") == [] and record_find(query="txn_unknown") == []


def test_a_payment_method_finds_every_order_it_was_tried_on() -> None:
    first, second, other = OrderFactory(), OrderFactory(), OrderFactory()
    for index, order in enumerate((first, second, second)):  # declined, then paid, on `second`
        Charge.objects.create(
            stripe_id=f"ch_pm{index}", order=order, payment_method_id="pm_card_search", status="failed",
            amount=order.amount, currency=order.currency,
        )  # fmt: skip
    Charge.objects.create(
        stripe_id="ch_other", order=other, payment_method_id="pm_other", status="succeeded",
        amount=other.amount, currency=other.currency,
    )  # fmt: skip
    results = record_find(query="pm_card_search")
    assert [(r.kind, r.order) for r in results] == [
        ("payment_method", second.number),
        ("payment_method", first.number),
    ]
    assert record_find(query="pm_unknown") == []


def test_an_email_finds_every_order_of_it_whatever_its_case() -> None:
    first = OrderFactory(email="Ada@Example.com")
    second = OrderFactory(email="ada@example.com")
    OrderFactory(email="someone@example.com")
    assert [r.order for r in record_find(query="ADA@example.COM")] == [second.number, first.number]


def test_unknown_ids_and_prefixes_find_nothing() -> None:
    OrderFactory()
    for query in ("pi_nope", "evt_nope", "re_nope", "cus_nope", "pm_card_visa", "sub_1", "in_1", "hello", ""):
        assert record_find(query=query) == [], query


def test_prefixes_are_tried_longest_first() -> None:
    prefixes = record_prefixes()
    assert prefixes.index("pyr_") < prefixes.index("py_")
    assert all(len(a) >= len(b) for a, b in itertools.pairwise(prefixes))


@pytest.fixture
def restore_routes() -> Iterator[None]:
    saved = dict(search._ROUTES)
    yield
    search._ROUTES.clear()
    search._ROUTES.update(saved)


def test_a_new_kind_is_one_registration(restore_routes: None) -> None:
    # a longer prefix than an existing one wins: sub_sched_ before sub_
    record_kind_register(
        prefixes=("sub_sched_",),
        kind="subscription",
        find=lambda value: [SearchResult("subscription", value, None, "/admin/")],
    )
    assert record_find(query="sub_sched_123") == [
        SearchResult("subscription", "sub_sched_123", None, "/admin/")
    ]


def test_each_lookup_is_a_few_indexed_queries() -> None:
    order = OrderFactory(checkout_session_id="cs_q", charge_id="ch_q", stripe_customer_id="cus_q")
    for query in (order.number, order.payment_intent_id, "cs_q", "ch_q", "cus_q", order.email):
        with CaptureQueriesContext(connection) as queries:
            assert record_find(query=query)
        assert len(queries) <= 2, (query, [q["sql"] for q in queries])


def test_every_lookup_can_use_an_index() -> None:
    # given seq scans priced out, a lookup whose column has no index still shows a Seq Scan
    order = OrderFactory(checkout_session_id="cs_i", charge_id="ch_i", stripe_customer_id="cus_i")
    Refund.objects.create(stripe_id="re_i", order=order, amount=1, currency="gbp", status="succeeded")
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    queries_seen = (
        order.number,
        order.payment_intent_id,
        "cs_i",
        "ch_i",
        "cus_i",
        "re_i",
        row.stripe_id,
        order.email,
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries_seen:
            with CaptureQueriesContext(connection) as queries:
                record_find(query=query)
            for captured in queries:
                cursor.execute("EXPLAIN " + captured["sql"])
                plan = "\n".join(line for (line,) in cursor.fetchall())
                assert "Seq Scan" not in plan, (query, captured["sql"], plan)
