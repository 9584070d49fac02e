"""Fees and the balance: a charge's balance transaction, pending → available on the clock, GET /v1/balance."""

from __future__ import annotations

from typing import Any

from stripe_emulator.testing import EmulatorHandle

DAY = 86400


def _pay(client: Any, card: str, amount: int = 10000, currency: str = "gbp") -> Any:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "payment_method": card, "confirm": True}
    )


def _balance(client: Any, currency: str = "gbp") -> tuple[int, int]:
    bal = client.v1.balance.retrieve()
    available = next(a.amount for a in bal.available if a.currency == currency)
    pending = next(a.amount for a in bal.pending if a.currency == currency)
    return available, pending


def test_charge_fee_follows_uk_pricing_by_card_country(client: Any) -> None:
    # Stripe UK standard pricing: UK cards 1.5% + 20p, EEA cards 2.5% + 20p, others 3.25% + 20p.
    expected = {"pm_card_gb": 150 + 20, "pm_card_fr": 250 + 20, "pm_card_visa": 325 + 20}
    for card, fee in expected.items():
        pi = _pay(client, card)
        charge = client.v1.charges.retrieve(pi.latest_charge, params={"expand": ["balance_transaction"]})
        txn = charge.balance_transaction
        assert (txn.type, txn.reporting_category, txn.source) == ("charge", "charge", charge.id)
        assert txn.amount == 10000 and txn.fee == fee and txn.net == 10000 - fee
        assert [(d.type, d.amount, d.currency) for d in txn.fee_details] == [("stripe_fee", fee, "gbp")]


def test_fee_rounds_half_up_in_integers(client: Any) -> None:
    # 1.5% of 1,033p is 15.495p → 15p; 1.5% of 1,100p is 16.5p → 17p; plus 20p each.
    fees = []
    for amount in (1033, 1100):
        pi = _pay(client, "pm_card_gb", amount)
        charge = client.v1.charges.retrieve(pi.latest_charge, params={"expand": ["balance_transaction"]})
        fees.append(charge.balance_transaction.fee)
    assert fees == [35, 37]


def test_funds_become_available_when_the_clock_passes_available_on(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    stripe_emulator.configure_account(available_days=3, payout_schedule="manual")
    pi = _pay(client, "pm_card_gb")
    txn = client.v1.balance_transactions.list(params={"source": pi.latest_charge}).data[0]
    now = stripe_emulator.advance_clock(0)["now"]
    assert txn.status == "pending"
    assert txn.available_on == now - now % DAY + 3 * DAY
    assert _balance(client) == (0, 9830)

    stripe_emulator.advance_clock(txn.available_on - now - 1)
    assert client.v1.balance_transactions.retrieve(txn.id).status == "pending"
    stripe_emulator.advance_clock(1)
    assert client.v1.balance_transactions.retrieve(txn.id).status == "available"
    assert _balance(client) == (9830, 0)
    assert client.v1.events.list(params={"type": "balance.available"}).data


def test_bypass_pending_card_is_available_at_once(client: Any) -> None:
    pi = _pay(client, "pm_card_bypassPending")
    txn = client.v1.balance_transactions.list(params={"source": pi.latest_charge}).data[0]
    assert txn.status == "available" and txn.available_on == txn.created
    assert _balance(client) == (txn.net, 0)


def test_balance_agrees_with_the_balance_transactions(client: Any) -> None:
    _pay(client, "pm_card_gb", 5000)
    paid = _pay(client, "pm_card_bypassPending", 7000)
    client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 2000})
    _pay(client, "pm_card_visa", 3000, currency="eur")
    txns = list(client.v1.balance_transactions.list(params={"limit": 100}).auto_paging_iter())
    for currency in ("gbp", "eur"):
        sums = {"available": 0, "pending": 0}
        for txn in txns:
            if txn.currency == currency:
                sums[txn.status] += txn.net
        assert _balance(client, currency) == (sums["available"], sums["pending"])
    # The refund is taken from the available balance at once, and Stripe keeps the charge's fee.
    assert _balance(client, "gbp")[0] == 7000 - (228 + 20) - 2000


def test_refund_balance_transaction_is_negative_and_stripe_keeps_the_fee(client: Any) -> None:
    pi = _pay(client, "pm_card_gb", 4000)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id}, options={"idempotency_key": "r-1"})
    again = client.v1.refunds.create(params={"payment_intent": pi.id}, options={"idempotency_key": "r-1"})
    assert again.id == refund.id
    txn = client.v1.balance_transactions.retrieve(refund.balance_transaction)
    assert (txn.amount, txn.fee, txn.net) == (-4000, 0, -4000)
    assert (txn.type, txn.reporting_category) == ("refund", "refund")
    charge_txn = client.v1.balance_transactions.list(params={"source": pi.latest_charge}).data[0]
    assert charge_txn.fee == 80 and charge_txn.net == 3920


def test_expanding_never_changes_the_stored_objects(client: Any) -> None:
    pi = _pay(client, "pm_card_gb")
    expanded = client.v1.payment_intents.retrieve(
        pi.id, params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert expanded.latest_charge.balance_transaction.object == "balance_transaction"
    listed = client.v1.balance_transactions.list(params={"expand": ["data.source"]}).data
    assert listed[0].source.id == pi.latest_charge
    # the same objects, unexpanded: ids again
    assert isinstance(client.v1.payment_intents.retrieve(pi.id).latest_charge, str)
    assert isinstance(client.v1.charges.retrieve(pi.latest_charge).balance_transaction, str)
    assert isinstance(client.v1.balance_transactions.list().data[0].source, str)
