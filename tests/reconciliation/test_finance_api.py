"""The finance API's payout and discrepancy endpoints, held to their contract: auth, roles, field
names and types, money as integers, times as ISO 8601 UTC, pages as {"results", "next"}."""

import csv
import io
import re
import time
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.roles import FINANCE, SUPPORT
from reconciliation.models import Discrepancy, Payout
from reconciliation.services.payouts import payout_reconcile, payout_sync
from tests.factories import OrderFactory
from tests.reconciliation.factories import (
    ChargeFactory,
    FakeStripe,
    charge_txn,
    refund_txn,
    stripe_charge,
    stripe_payout,
    stripe_refund,
)

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
PAYOUT_FIELDS = {"id", "amount", "currency", "status", "arrival_date", "reconciled", "unexplained"}
LINE_FIELDS = {
    "balance_transaction",
    "type",
    "reporting_category",
    "source",
    "order",
    "amount",
    "fee",
    "net",
    "currency",
    "created",
    "available_on",
}
SUMMARY_FIELDS = {"charges", "refunds", "disputes", "fees", "adjustments", "net"}
DISCREPANCY_FIELDS = {"id", "kind", "object", "order", "status", "detail", "opened_at"}


def client_for(*roles: str, username: str = "staff") -> APIClient:
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    for role in roles:
        # get_or_create: a transactional test earlier in the run empties the migration's groups.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def reconciled_payout(fake: FakeStripe, *, lines: int = 2) -> tuple[Payout, list[Any]]:
    order = OrderFactory(amount=5000)
    charge = ChargeFactory(order=order, amount=5000)
    txns = [charge_txn(stripe_charge(id=charge.stripe_id, amount=5000), fee=175)]
    txns += [charge_txn(stripe_charge(amount=1000 + i), fee=59) for i in range(lines - 2)]
    txns.append(refund_txn(stripe_refund(amount=700, charge=charge.stripe_id)))
    obj = fake.add_payout(stripe_payout(amount=sum(t["net"] for t in txns)), txns)
    payout_sync(obj=obj, source="test")
    payout_reconcile(payout_id=obj["id"])
    return Payout.objects.get(stripe_id=obj["id"]), txns


@pytest.mark.parametrize(
    "path",
    [
        "/api/finance/payouts/",
        "/api/finance/payouts/po_x/",
        "/api/finance/payouts/po_x/lines.csv",
        "/api/finance/discrepancies/",
    ],
)
def test_anonymous_gets_401_and_a_user_without_a_role_403(path: str) -> None:
    assert APIClient().get(path).status_code == 401
    assert client_for().get(path).status_code == 403


def test_the_payout_list_is_newest_first_with_the_contract_fields(fake_stripe: FakeStripe) -> None:
    older, _ = reconciled_payout(fake_stripe)
    newer_obj = stripe_payout(amount=999, status="in_transit", created=int(time.time()))
    payout_sync(obj=newer_obj, source="test")

    response = client_for(SUPPORT).get("/api/finance/payouts/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"} and body["next"] is None
    assert [p["id"] for p in body["results"]] == [newer_obj["id"], older.stripe_id]
    first, second = body["results"]
    assert set(first) >= PAYOUT_FIELDS
    assert isinstance(second["amount"], int) and second["currency"] == "gbp"
    assert ISO_UTC.match(second["arrival_date"])
    assert (second["reconciled"], second["unexplained"]) == (True, 0)
    # Not reconciled yet: nothing explains its amount.
    assert (first["reconciled"], first["unexplained"]) == (False, 999)


def test_the_payout_list_pages_with_a_next_link(fake_stripe: FakeStripe) -> None:
    for i in range(3):
        payout_sync(obj=stripe_payout(amount=100 + i, created=1_700_000_000 + i), source="test")
    client = client_for(SUPPORT)

    first = client.get("/api/finance/payouts/?limit=2").json()
    second = client.get(first["next"]).json()

    assert [p["amount"] for p in first["results"]] == [102, 101]
    assert [p["amount"] for p in second["results"]] == [100] and second["next"] is None


def test_a_reconciled_payout_shows_its_summary_adding_up_to_its_amount_and_lines_with_orders(
    fake_stripe: FakeStripe,
) -> None:
    payout, txns = reconciled_payout(fake_stripe, lines=3)

    response = client_for(FINANCE).get(f"/api/finance/payouts/{payout.stripe_id}/")

    assert response.status_code == 200
    body = response.json()
    assert PAYOUT_FIELDS | {"summary", "lines"} <= set(body)
    assert body["trace_id"] == "TRACE-0001"
    assert set(body["summary"]) == SUMMARY_FIELDS
    assert body["reconciled"] is True and body["unexplained"] == 0
    assert body["summary"]["net"] == body["amount"] == payout.amount
    assert body["summary"]["charges"] == 5000 + 1000 and body["summary"]["refunds"] == -700
    assert body["summary"]["fees"] == -(175 + 59)
    assert len(body["lines"]) == 4
    for line in body["lines"]:
        assert set(line) >= LINE_FIELDS
        assert all(isinstance(line[k], int) for k in ("amount", "fee", "net"))
        assert ISO_UTC.match(line["created"]) and ISO_UTC.match(line["available_on"])
    by_id = {line["balance_transaction"]: line for line in body["lines"]}
    mirrored = by_id[txns[0]["id"]]
    assert mirrored["order"] == payout.balance_transactions.get(stripe_id=txns[0]["id"]).order.number  # type: ignore[union-attr]
    assert mirrored["order"].startswith("ORD-") and mirrored["source"] == txns[0]["source"]["id"]
    assert by_id[txns[2]["id"]]["order"] == mirrored["order"]  # the refund of that charge
    assert by_id[txns[1]["id"]]["order"] is None  # a charge of no order of ours
    components = [line for line in body["lines"] if line["type"] != "payout"]
    assert sum(line["net"] for line in components) == body["amount"]


def test_a_payout_that_does_not_add_up_shows_the_unexplained_remainder(fake_stripe: FakeStripe) -> None:
    txn = charge_txn(stripe_charge(amount=10000), fee=300)
    obj = fake_stripe.add_payout(stripe_payout(amount=12000), [txn])
    payout_sync(obj=obj, source="test")
    payout_reconcile(payout_id=obj["id"])

    client = client_for(SUPPORT)
    detail = client.get(f"/api/finance/payouts/{obj['id']}/").json()
    listed = client.get("/api/finance/payouts/").json()["results"][0]

    assert detail["reconciled"] is False
    assert detail["unexplained"] == 12000 - 9700 == listed["unexplained"]
    assert detail["summary"]["net"] == 9700


def test_a_payout_with_many_lines_answers_a_page_of_them_and_a_link_to_the_next(
    fake_stripe: FakeStripe,
) -> None:
    payout, _ = reconciled_payout(fake_stripe, lines=250)
    client = client_for(SUPPORT)

    first = client.get(f"/api/finance/payouts/{payout.stripe_id}/").json()
    seen = [line["balance_transaction"] for line in first["lines"]]
    next_url = first["lines_next"]
    while next_url:
        page = client.get(next_url).json()
        seen += [line["balance_transaction"] for line in page["lines"]]
        next_url = page["lines_next"]

    assert len(first["lines"]) == 100
    assert len(seen) == len(set(seen)) == 251
    assert first["summary"]["net"] == payout.amount  # the summary covers every line, not one page


def test_an_unknown_payout_is_a_404_with_an_error_sentence() -> None:
    response = client_for(SUPPORT).get("/api/finance/payouts/po_nope/")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def test_the_lines_csv_has_a_header_and_one_row_per_line(fake_stripe: FakeStripe) -> None:
    payout, txns = reconciled_payout(fake_stripe, lines=3)

    response = client_for(SUPPORT).get(f"/api/finance/payouts/{payout.stripe_id}/lines.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    header, lines = rows[0], rows[1:]
    for column in (
        "order",
        "source",
        "type",
        "reporting_category",
        "amount",
        "fee",
        "net",
        "currency",
        "created",
        "available_on",
    ):
        assert column in header
    assert len(lines) == 4
    record = dict(zip(header, lines[0], strict=True))
    first = txns[0]
    assert record["source"] == first["source"]["id"] and record["order"].startswith("ORD-")
    assert (record["amount"], record["fee"], record["net"]) == (
        str(first["amount"]),
        str(first["fee"]),
        str(first["net"]),
    )
    assert ISO_UTC.match(record["created"])
    assert (
        sum(int(dict(zip(header, row, strict=True))["net"]) for row in lines) == 0
    )  # with the payout's own line


def test_discrepancies_are_listed_by_status(fake_stripe: FakeStripe) -> None:
    order = OrderFactory()
    Discrepancy.objects.create(
        kind="missing_remote", object_id="ch_gone", order=order, detail="ch_gone: ours"
    )
    Discrepancy.objects.create(kind="missing_local", object_id="re_new", status="auto_fixed", detail="re_new")
    client = client_for(SUPPORT)

    open_cases = client.get("/api/finance/discrepancies/?status=open").json()
    every = client.get("/api/finance/discrepancies/").json()
    bad = client.get("/api/finance/discrepancies/?status=closed")

    assert set(open_cases) == {"results", "next"}
    [case] = open_cases["results"]
    assert set(case) >= DISCREPANCY_FIELDS
    assert (case["kind"], case["object"], case["order"], case["status"]) == (
        "missing_remote",
        "ch_gone",
        order.number,
        "open",
    )
    assert isinstance(case["id"], int) and ISO_UTC.match(case["opened_at"])
    assert {c["object"] for c in every["results"]} == {"ch_gone", "re_new"}
    assert bad.status_code == 400 and set(bad.json()) == {"error"}


def test_the_schema_names_the_finance_paths() -> None:
    response = client_for(FINANCE).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/finance/payouts/",
        "/api/finance/payouts/{payout_id}/",
        "/api/finance/payouts/{payout_id}/lines.csv",
        "/api/finance/discrepancies/",
    ):
        assert path in paths
