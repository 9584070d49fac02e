"""Payout reconciliation and the ledger check proven under faults, end to end: the Stripe emulator
(its payouts on its own clock) delivering webhooks to the live Django server, PostgreSQL, Redis
and a real Celery worker process that runs the payout handlers and `reconciliation.*` tasks.

- payout webhooks dropped: the ledger check still finds the payout and reconciles it;
- a refund event lost: the ledger check mirrors it (auto-fixed); a charge we hold that Stripe
  does not: `missing_remote`;
- payout events duplicated, doubled and reordered: one reconciliation, Stripe's numbers;
- 200 orders with refunds and disputes paid out over four days under drops and duplicates:
  every payout reconciled, every line linked to its order, nothing unexplained.
"""

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orders.models import Fulfillment, Order
from payments.models import Refund
from payments.services.events.recovery import stripe_event_recover
from reconciliation.models import BalanceTransaction, Discrepancy, Payout
from reconciliation.services.ledger import ledger_check
from tests.e2e_support import Worker, open_events, pay, wait_until
from tests.factories import OrderFactory
from tests.reconciliation.factories import ChargeFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

DAY = 86_400
# Charges are available 2 days later at 00:00 UTC, paid out at the next 00:00, in transit an
# hour and paid the day after: five days of clock pays out everything available, from any hour.
PAID_OUT = 5 * DAY
# The many-orders story: 4 days of 50 orders. 200 take 44 s on the 2-core machine when it is
# quiet, ~100 s when other jobs load it (load average 8); lower ORDERS_PER_DAY to go faster.
DAYS, ORDERS_PER_DAY = 4, 50


@pytest.fixture
def worker(emulator: Any, live_server: Any, settings: Any, start_worker: Callable[..., Worker]) -> Worker:
    """The emulator delivering every event to the live server, and a real worker behind it."""
    endpoint = emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/")
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    return start_worker()


def pay_all(emulator: Any, orders: list[Order], cards: list[str] | None = None) -> list[str]:
    """Customers pay (4 at a time); each order keeps its PaymentIntent. Returns their ids."""
    client = emulator.client()
    cards = cards or ["pm_card_visa"] * len(orders)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: pay(client, *pair), zip(orders, cards, strict=True)))
    for order, (pi_id, ok) in zip(orders, results, strict=True):
        assert ok, order.number
        Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    return [pi_id for pi_id, _ in results]


def settle(emulator: Any, worker: Worker) -> None:
    """Every delivery made, every stored event processed, every reconciliation it queued run."""
    assert emulator.wait_for_deliveries(timeout=120)
    wait_until(lambda: open_events() == 0, 120, "the worker to process the events", worker)
    wait_until(
        lambda: not Payout.objects.filter(status=Payout.Status.PAID, reconciled=False).exists(),
        120,
        "the worker to reconcile the paid payouts",
        worker,
    )


def refund(emulator: Any, payment_intent_id: str, amount: int) -> str:
    created = emulator.client().v1.refunds.create(
        params={"payment_intent": payment_intent_id, "amount": amount},
        options={"idempotency_key": f"test:{payment_intent_id}:refund:v1"},
    )
    return str(created.id)


def stripe_payouts(emulator: Any) -> list[Any]:
    client = emulator.client()
    return [p for p in client.v1.payouts.list(params={"limit": 100}).auto_paging_iter() if p.automatic]


def stripe_lines(emulator: Any, payout_id: str) -> list[Any]:
    client = emulator.client()
    params = {"payout": payout_id, "limit": 100}
    return list(client.v1.balance_transactions.list(params=params).auto_paging_iter())


def emulator_now(emulator: Any) -> datetime:
    return datetime.fromtimestamp(int(emulator.advance_clock(0)["now"]), tz=UTC)


def assert_reconciled_as_stripe_says(emulator: Any, payout_id: str, orders: set[int]) -> None:
    """Our payout agrees with Stripe's to the penny, and every line but its own is an order's."""
    payout = Payout.objects.get(stripe_id=payout_id)
    assert (payout.status, payout.reconciled, payout.unexplained) == (Payout.Status.PAID, True, 0)
    theirs = {t.id: (t.type, t.amount, t.fee, t.net) for t in stripe_lines(emulator, payout_id)}
    rows = BalanceTransaction.objects.filter(payout=payout)
    ours = {r.stripe_id: (r.type, r.amount, r.fee, r.net) for r in rows}
    assert ours == theirs and payout.lines_count == len(theirs)
    assert sum(net for kind, _, _, net in ours.values() if kind != "payout") == payout.amount
    unlinked = rows.exclude(type="payout").filter(order=None)
    assert list(unlinked.values_list("stripe_id", "type")) == []
    assert set(rows.exclude(type="payout").values_list("order_id", flat=True)) <= orders


def test_payout_webhooks_dropped_the_ledger_check_finds_the_payout_and_reconciles_it(
    emulator: Any, worker: Worker
) -> None:
    # given five paid orders, their events delivered and processed
    orders = [OrderFactory(payment_intent_id=None, amount=1000 + 250 * i) for i in range(5)]
    pay_all(emulator, orders)
    settle(emulator, worker)
    assert Fulfillment.objects.filter(order__in=orders).count() == 5
    # when every webhook from here on is lost, and Stripe pays the balance out
    emulator.set_faults(drop_rate=1.0)
    emulator.advance_clock(PAID_OUT)
    settle(emulator, worker)
    [payout] = stripe_payouts(emulator)
    assert payout.status == "paid" and not Payout.objects.exists()
    # then the ledger check finds the payout, syncs it and reconciles it
    result = ledger_check(window=timedelta(days=7), now=emulator_now(emulator))
    assert result.payouts_reconciled == 1
    assert_reconciled_as_stripe_says(emulator, payout.id, {o.pk for o in orders})
    assert Payout.objects.get().amount == payout.amount
    assert not Discrepancy.objects.filter(status=Discrepancy.Status.OPEN).exists(), result
    # ... and a second run changes nothing
    again = ledger_check(window=timedelta(days=7), now=emulator_now(emulator))
    assert (again.opened, again.payouts_reconciled) == (0, 0)


def test_a_lost_refund_event_is_fixed_and_a_charge_stripe_does_not_have_is_missing_remote(
    emulator: Any, worker: Worker
) -> None:
    # given three paid orders, their events delivered and processed
    orders = [OrderFactory(payment_intent_id=None, amount=4200) for _ in range(3)]
    pay_all(emulator, orders)
    settle(emulator, worker)
    # ... a refund made at Stripe (the Dashboard, say) whose events are all lost
    emulator.set_faults(drop_rate=1.0)
    orders[0].refresh_from_db()
    refund_id = refund(emulator, orders[0].payment_intent_id, 1500)
    settle(emulator, worker)
    assert not Refund.objects.filter(stripe_id=refund_id).exists()
    # ... and a charge we hold that Stripe has never heard of
    ours_only = ChargeFactory(stripe_id="ch_ours_only_e2e")
    # when the ledger check runs once the grace period has passed
    emulator.advance_clock(2 * 3600)
    result = ledger_check(window=timedelta(days=2), now=emulator_now(emulator))
    # then the refund is mirrored through the webhook's own service and recorded as auto-fixed
    mirrored = Refund.objects.get(stripe_id=refund_id)
    assert (mirrored.order_id, mirrored.amount, mirrored.status) == (orders[0].pk, 1500, "succeeded")
    orders[0].refresh_from_db()
    assert (orders[0].amount_refunded, orders[0].status) == (1500, Order.Status.PARTIALLY_REFUNDED)
    cases = {(d.kind, d.object_id): d for d in Discrepancy.objects.all()}
    assert cases[("missing_local", refund_id)].status == Discrepancy.Status.AUTO_FIXED
    missing = cases[("missing_remote", "ch_ours_only_e2e")]
    assert (missing.status, missing.order_id) == (Discrepancy.Status.OPEN, ours_only.order_id)
    assert set(cases) == {("missing_local", refund_id), ("missing_remote", "ch_ours_only_e2e")}
    assert (result.auto_fixed, result.opened) == (1, 1)
    # ... and a second run opens nothing new and fixes nothing twice
    again = ledger_check(window=timedelta(days=2), now=emulator_now(emulator))
    assert (again.opened, again.auto_fixed) == (0, 0)
    assert Discrepancy.objects.count() == 2
    assert Refund.objects.filter(order=orders[0]).count() == 1


def test_duplicated_and_reordered_payout_events_give_one_reconciliation_with_stripes_numbers(
    emulator: Any, worker: Worker
) -> None:
    # given paid orders and a refund, their events processed
    orders = [OrderFactory(payment_intent_id=None, amount=2000 + 333 * i) for i in range(6)]
    payment_intents = pay_all(emulator, orders)
    refund(emulator, payment_intents[2], 700)
    settle(emulator, worker)
    # when every payout event is delivered twice, sent again as a second Event object, and
    # shuffled (payout.paid may come before payout.created)
    emulator.set_faults(duplicate_rate=1.0, double_event_rate=1.0, reorder_window=8)
    emulator.advance_clock(PAID_OUT)
    settle(emulator, worker)
    # then one payout, reconciled once, with Stripe's lines and amounts
    [payout] = stripe_payouts(emulator)
    types = Counter(t.type for t in stripe_lines(emulator, payout.id))
    assert types == {"charge": 6, "refund": 1, "payout": 1}
    payout_events = Counter(
        d["type"] for d in emulator.deliveries() if str(d.get("type", "")).startswith("payout.")
    )
    assert payout_events["payout.paid"] >= 2, payout_events  # the faults did happen
    assert Payout.objects.count() == 1
    assert_reconciled_as_stripe_says(emulator, payout.id, {o.pk for o in orders})
    first = Payout.objects.get()
    assert first.trace_id == payout.trace_id.value and first.trace_id  # the bank reference
    # ... and whatever the late copies queued changed nothing (reconciled at the same moment)
    wait_until(lambda: open_events() == 0, 60, "the late copies to be processed", worker)
    assert emulator.wait_for_deliveries(timeout=30)
    again = Payout.objects.get()
    assert (again.reconciled_at, again.lines_count, again.unexplained) == (
        first.reconciled_at,
        first.lines_count,
        0,
    )
    assert BalanceTransaction.objects.count() == first.lines_count
    assert not Discrepancy.objects.exists()


def test_many_orders_with_refunds_and_disputes_paid_out_over_days_under_drops_and_duplicates(
    emulator: Any, worker: Worker
) -> None:
    # given a shop whose webhooks are dropped (25%) and duplicated (30%)
    emulator.set_faults(drop_rate=0.25, duplicate_rate=0.3)
    orders: list[Order] = []
    refunds = disputes = 0
    # when 200 customers pay over four days (every 10th with a card its issuer disputes), a
    # refund now and then, and the clock moves on until everything available is paid out
    for day in range(DAYS):
        batch = [
            OrderFactory(payment_intent_id=None, amount=1000 + 37 * (day * ORDERS_PER_DAY + i))
            for i in range(ORDERS_PER_DAY)
        ]
        cards = ["pm_card_createDispute" if i % 10 == 3 else "pm_card_visa" for i in range(ORDERS_PER_DAY)]
        payment_intents = pay_all(emulator, batch, cards)
        disputes += cards.count("pm_card_createDispute")
        for i in range(0, ORDERS_PER_DAY, 7):
            if cards[i] == "pm_card_visa":
                refund(emulator, payment_intents[i], batch[i].amount if i % 2 else 500)
                refunds += 1
        orders += batch
        emulator.advance_clock(DAY)
    emulator.advance_clock(PAID_OUT)
    assert emulator.wait_for_deliveries(timeout=120)
    wait_until(lambda: open_events() == 0, 120, "the worker to process the delivered events", worker)
    # ... and the recovery job fetches what was dropped (payout events included)
    recovered = stripe_event_recover()
    settle(emulator, worker)

    # then every payout is reconciled, every line linked to its order, nothing unexplained
    assert len(recovered.recovered) > 0, "a 25% drop rate lost nothing?"
    payouts = stripe_payouts(emulator)
    assert len(payouts) >= 4, [p.id for p in payouts]
    pks = {o.pk for o in orders}
    for payout in payouts:
        assert payout.status == "paid"
        assert_reconciled_as_stripe_says(emulator, payout.id, pks)
    assert Payout.objects.count() == len(payouts)
    lines = BalanceTransaction.objects.exclude(type="payout")
    assert Counter(lines.values_list("type", flat=True)) == {
        "charge": DAYS * ORDERS_PER_DAY,
        "refund": refunds,
        "adjustment": disputes,
    }
    assert set(lines.filter(type="charge").values_list("order_id", flat=True)) == pks
    assert not Discrepancy.objects.exists()
    assert Fulfillment.objects.filter(order__in=orders).count() == DAYS * ORDERS_PER_DAY
