"""Payouts: automatic payouts on the clock, their states and events, and the ?payout= ledger."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

DAY = 86400


def _pay(client: Any, amount: int, card: str = "pm_card_bypassPending", currency: str = "gbp") -> Any:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "payment_method": card, "confirm": True}
    )


def _types(client: Any, prefix: str = "payout.") -> list[str]:
    events = client.v1.events.list(params={"type": prefix + "*", "limit": 100}).data
    return [e.type for e in reversed(events)]


def _listed(client: Any, payout_id: str, **params: Any) -> list[Any]:
    query = {"payout": payout_id, "limit": 100, "expand": ["data.source"], **params}
    return list(client.v1.balance_transactions.list(params=query).auto_paging_iter())


def test_clock_passing_the_payout_time_pays_out_the_available_balance(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    # given charges whose funds become available after two days, and one refund
    first = _pay(client, 10000, "pm_card_gb")
    second = _pay(client, 5000, "pm_card_gb")
    refund = client.v1.refunds.create(params={"payment_intent": second.id, "amount": 1000})
    assert client.v1.payouts.list().data == []

    # when the clock passes the day their funds become available
    stripe_emulator.advance_clock(3 * DAY)

    # then one payout pays exactly the available balance, and the balance is empty
    (payout,) = client.v1.payouts.list().data
    expected = (10000 - 170) + (5000 - 95) - 1000
    assert (payout.amount, payout.currency, payout.automatic) == (expected, "gbp", True)
    assert payout.status == "paid" and payout.reconciliation_status == "completed"
    available = next(a.amount for a in client.v1.balance.retrieve().available if a.currency == "gbp")
    assert available == 0
    own = client.v1.balance_transactions.retrieve(payout.balance_transaction)
    assert (own.type, own.reporting_category, own.amount, own.net, own.fee) == (
        "payout",
        "payout",
        -expected,
        -expected,
        0,
    )
    listed = _listed(client, payout.id)
    sources = {t.source.id for t in listed}
    assert sources == {first.latest_charge, second.latest_charge, refund.id, payout.id}
    assert sum(t.net for t in listed) == 0
    assert listed[0].id == own.id  # newest first: the payout's own transaction
    assert _types(client) == [
        "payout.created",
        "payout.updated",
        "payout.reconciliation_completed",
        "payout.updated",
        "payout.paid",
    ]


def test_payout_moves_pending_in_transit_paid_with_previous_attributes(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    stripe_emulator.configure_account(payout_in_transit_seconds=600, payout_arrival_days=2)
    _pay(client, 4000)
    (payout_id,) = stripe_emulator.run_payouts()
    payout = client.v1.payouts.retrieve(payout_id)
    assert payout.status == "pending" and payout.reconciliation_status == "in_progress"
    now = stripe_emulator.advance_clock(0)["now"]
    assert payout.arrival_date == now - now % DAY + 2 * DAY

    stripe_emulator.advance_clock(600)
    assert client.v1.payouts.retrieve(payout_id).status == "in_transit"
    stripe_emulator.advance_clock(payout.arrival_date - now - 600)
    paid = client.v1.payouts.retrieve(payout_id)
    assert paid.status == "paid" and paid.trace_id.status == "supported"

    updates = client.v1.events.list(params={"type": "payout.updated"}).data
    previous = [e.data.previous_attributes.to_dict() for e in reversed(updates)]
    assert previous[0] == {"status": "pending", "reconciliation_status": "in_progress"}
    assert previous[1]["status"] == "in_transit"


def test_payouts_run_pays_now_without_moving_the_clock(client: Any, stripe_emulator: EmulatorHandle) -> None:
    before = stripe_emulator.advance_clock(0)["now"]
    _pay(client, 3000)
    _pay(client, 2000, currency="eur")
    _pay(client, 2500, card="pm_card_gb")  # still pending: not paid out
    ids = stripe_emulator.run_payouts()
    payouts = {client.v1.payouts.retrieve(i).currency: client.v1.payouts.retrieve(i) for i in ids}
    assert sorted(payouts) == ["eur", "gbp"]
    assert payouts["gbp"].amount == 3000 - (98 + 20)
    assert stripe_emulator.advance_clock(0)["now"] - before < 60
    assert stripe_emulator.run_payouts() == []  # nothing left to pay


def test_listing_a_payout_pages_with_limit_and_starting_after(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    charges = [_pay(client, 1000 + n).latest_charge for n in range(7)]
    (payout_id,) = stripe_emulator.run_payouts()
    first = client.v1.balance_transactions.list(params={"payout": payout_id, "limit": 3})
    assert len(first.data) == 3 and first.has_more
    second = client.v1.balance_transactions.list(
        params={"payout": payout_id, "limit": 3, "starting_after": first.data[-1].id}
    )
    assert second.data[0].id not in {t.id for t in first.data}
    every = _listed(client, payout_id, limit=3)
    assert len(every) == 8
    assert [t.source.id for t in every if t.type == "charge"] == list(reversed(charges))
    assert every[1].source.object == "charge" and every[1].source.amount == 1006


def test_payout_filter_lists_only_that_payouts_transactions(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    _pay(client, 1000)
    (first,) = stripe_emulator.run_payouts()
    later = _pay(client, 2000)
    (second,) = stripe_emulator.run_payouts()
    assert next(t.source.id for t in _listed(client, second) if t.type == "charge") == later.latest_charge
    assert len(_listed(client, first)) == 2 and len(_listed(client, second)) == 2
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.balance_transactions.list(params={"payout": "po_missing"})
    assert exc.value.http_status == 404


def test_failed_payout_returns_the_funds(client: Any, stripe_emulator: EmulatorHandle) -> None:
    _pay(client, 5000)
    (payout_id,) = stripe_emulator.run_payouts()
    stripe_emulator.advance_clock(3600)
    stripe_emulator.fail_payout(payout_id, "account_closed")
    failed = client.v1.payouts.retrieve(payout_id, params={"expand": ["failure_balance_transaction"]})
    assert failed.status == "failed" and failed.failure_code == "account_closed"
    assert failed.failure_message == "The bank account has been closed."
    back = failed.failure_balance_transaction
    assert (back.type, back.amount, back.net) == ("payout_failure", failed.amount, failed.amount)
    available = next(a.amount for a in client.v1.balance.retrieve().available if a.currency == "gbp")
    assert available == failed.amount
    assert _types(client)[-2:] == ["payout.updated", "payout.failed"]
    # the returned funds go out in the next payout
    (again,) = stripe_emulator.run_payouts()
    assert client.v1.payouts.retrieve(again).amount == failed.amount


def test_payout_update_and_lists(client: Any, stripe_emulator: EmulatorHandle) -> None:
    _pay(client, 5000)
    (payout_id,) = stripe_emulator.run_payouts()
    updated = client.v1.payouts.update(
        payout_id, params={"metadata": {"batch": "7"}}, options={"idempotency_key": "po-upd-1"}
    )
    assert updated.metadata.to_dict() == {"batch": "7"}
    event = client.v1.events.list(params={"type": "payout.updated"}).data[0]
    assert event.data.previous_attributes.to_dict() == {"metadata": {}}
    assert [p.id for p in client.v1.payouts.list(params={"status": "pending"}).data] == [payout_id]
    assert client.v1.payouts.list(params={"status": "paid"}).data == []
    created = client.v1.payouts.retrieve(payout_id).created
    assert [p.id for p in client.v1.payouts.list(params={"created": {"gte": created}}).data] == [payout_id]


def test_manual_payouts_need_the_manual_schedule_and_funds(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    _pay(client, 5000)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payouts.create(params={"amount": 100, "currency": "gbp"})
    stripe_emulator.configure_account(payout_schedule="manual")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payouts.create(params={"amount": 999999, "currency": "gbp"})
    assert exc.value.code == "balance_insufficient"
    payout = client.v1.payouts.create(
        params={"amount": 1000, "currency": "gbp"}, options={"idempotency_key": "m1"}
    )
    again = client.v1.payouts.create(
        params={"amount": 1000, "currency": "gbp"}, options={"idempotency_key": "m1"}
    )
    assert again.id == payout.id and payout.automatic is False
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.balance_transactions.list(params={"payout": payout.id})
    assert "automatic" in str(exc.value.user_message)
    stripe_emulator.advance_clock(5 * DAY)  # manual schedule: no automatic payout
    assert [p.id for p in client.v1.payouts.list().data] == [payout.id]


def test_seeded_payout_of_many_transactions(client: Any, stripe_emulator: EmulatorHandle) -> None:
    seeded = stripe_emulator.seed_payout(2500, currency="gbp", amount=1000)
    assert seeded["balance_transactions"] == 2501
    payout = client.v1.payouts.retrieve(seeded["payout"])
    assert payout.amount == 2500 * (1000 - 35) == seeded["amount"]
    listed = _listed(client, payout.id)
    assert len(listed) == 2501 and sum(t.net for t in listed) == 0
    charge = listed[-1].source
    assert charge.object == "charge" and charge.amount == 1000 and charge.balance_transaction == listed[-1].id
    assert client.v1.charges.retrieve(charge.id).id == charge.id


def test_seeded_transactions_can_wait_for_the_next_payout_run(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    _pay(client, 2000)  # other available funds join the same payout
    seeded = stripe_emulator.seed_payout(300, amount=500, pay_out=False)
    assert seeded["payout"] is None and client.v1.payouts.list().data == []
    (payout_id,) = stripe_emulator.run_payouts()
    listed = _listed(client, payout_id)
    assert len(listed) == 300 + 1 + 1
    assert client.v1.payouts.retrieve(payout_id).amount == 300 * (500 - 28) + (2000 - 85)


def test_listing_a_payout_backwards_and_with_a_type_filter(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    for n in range(5):
        _pay(client, 1000 + n)
    (payout_id,) = stripe_emulator.run_payouts()
    every = _listed(client, payout_id)
    before = client.v1.balance_transactions.list(
        params={"payout": payout_id, "limit": 2, "ending_before": every[4].id}
    )
    assert [t.id for t in before.data] == [every[2].id, every[3].id] and before.has_more
    charges = client.v1.balance_transactions.list(
        params={"payout": payout_id, "type": "charge", "limit": 100}
    )
    assert [t.id for t in charges.data] == [t.id for t in every[1:]]
