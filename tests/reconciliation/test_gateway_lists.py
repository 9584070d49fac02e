"""The gateway's list functions for reconciliation, against a loopback server speaking Stripe's
list shape: every page is fetched (`starting_after` the last id), the payout filter and the
expanded sources are asked for, and a rate limit on a later page is retried like the first."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

from payments import stripe_gateway
from tests.fault_server import RATE_LIMITED, FaultServer, Reply
from tests.reconciliation.factories import charge_txn, stripe_charge, stripe_payout


def page(items: list[dict[str, Any]], *, has_more: bool, url: str = "/v1/balance_transactions") -> Reply:
    return Reply(200, {"object": "list", "data": items, "has_more": has_more, "url": url})


def query(server: FaultServer, i: int) -> dict[str, list[str]]:
    return parse_qs(urlsplit(server.seen[i].path).query)


def test_balance_transactions_of_a_payout_are_listed_page_after_page_with_sources_expanded(
    fault_server: FaultServer, sleeps: list[float]
) -> None:
    first = [charge_txn(stripe_charge()) for _ in range(2)]
    second = [charge_txn(stripe_charge())]
    fault_server.replies = [page(first, has_more=True), RATE_LIMITED, page(second, has_more=False)]

    listed = list(stripe_gateway.balance_transaction_list(payout_id="po_123"))

    assert [t["id"] for t in listed] == [t["id"] for t in first + second]
    assert listed[0]["source"]["object"] == "charge"  # a plain dict, the source expanded
    assert len(fault_server.seen) == 3 and len(sleeps) == 1  # the 429 on page 2 was retried by us
    for i in range(3):
        asked = query(fault_server, i)
        assert fault_server.seen[i].path.startswith("/v1/balance_transactions?")
        assert (
            asked["payout"] == ["po_123"]
            and asked["expand[0]"] == ["data.source"]
            and asked["limit"] == ["100"]
        )
    assert "starting_after" not in query(fault_server, 0)
    assert query(fault_server, 2)["starting_after"] == [first[-1]["id"]]


def test_payouts_and_charges_are_listed_for_a_created_window(fault_server: FaultServer) -> None:
    fault_server.replies = [page([stripe_payout()], has_more=False, url="/v1/payouts")]

    payouts = list(stripe_gateway.payout_list(since=1_700_000_000, until=1_700_086_400))

    assert payouts[0]["object"] == "payout"
    asked = query(fault_server, 0)
    assert asked["created[gte]"] == ["1700000000"] and asked["created[lte]"] == ["1700086400"]
    for fn, path in (
        (stripe_gateway.charge_list, "/v1/charges"),
        (stripe_gateway.refund_list, "/v1/refunds"),
        (stripe_gateway.dispute_list, "/v1/disputes"),
    ):
        fault_server.replies = [page([], has_more=False, url=path)]
        before = len(fault_server.seen)
        assert list(fn(since=1_700_000_000)) == []
        assert fault_server.seen[before].path.startswith(path + "?")


def test_a_payout_is_fetched_by_id_as_a_plain_dict(fault_server: FaultServer) -> None:
    fault_server.replies = [Reply(200, stripe_payout(id="po_123", amount=4200))]

    payout = stripe_gateway.payout_retrieve(payout_id="po_123")

    assert (payout["id"], payout["amount"], payout["trace_id"]["value"]) == ("po_123", 4200, "TRACE-0001")
    assert fault_server.seen[0].path == "/v1/payouts/po_123"
