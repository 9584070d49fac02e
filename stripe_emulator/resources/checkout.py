"""Checkout Sessions (mode=payment): create, retrieve (expand line_items), list, expire, and pay.

`pay()` is what the hosted page (`/c/pay/{id}`, another module) calls when a card is submitted:
it creates or reuses the session's PaymentIntent, confirms it, and the session completes when the
PaymentIntent succeeds, immediately or after 3-D Secure.
"""

from __future__ import annotations

from typing import Any

from ..errors import StripeError, invalid, missing, no_such
from ..server import Request
from ..state import Emulator, render
from . import catalog, money, payment_intents, payment_methods
from .common import VIRTUAL, apply_metadata, as_dict, as_int, as_str, created_filter, list_response, route

MIN_EXPIRY = 30 * 60
MAX_EXPIRY = 24 * 3600


def _line_item(
    emu: Emulator, price: dict[str, Any], product: dict[str, Any] | None, quantity: int
) -> dict[str, Any]:
    subtotal = price["unit_amount"] * quantity
    return {
        "id": emu.new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": subtotal,
        "amount_tax": 0,
        "amount_total": subtotal,
        "currency": price["currency"],
        "description": product["name"] if product else None,
        "metadata": {},
        "price": render(price),
        "quantity": quantity,
    }


def _build_line_items(emu: Emulator, raw: Any) -> list[dict[str, Any]]:
    if not raw:
        raise missing("line_items")
    if not isinstance(raw, list):
        raise invalid("Invalid array", param="line_items")
    items = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise invalid("Invalid hash", param=f"line_items[{i}]")
        quantity = as_int(entry, "quantity")
        if quantity is None:
            raise missing(f"line_items[{i}][quantity]")
        if quantity < 1:
            raise invalid("Quantity must be at least 1.", param=f"line_items[{i}][quantity]")
        price_id = as_str(entry, "price")
        price_data = as_dict(entry, "price_data")
        if price_id:
            price = emu.store.get(price_id, "price")
            if price is None:
                raise no_such("price", price_id, f"line_items[{i}][price]")
            if not price["active"]:
                raise invalid(
                    f"The price specified ({price_id}) is inactive.", param=f"line_items[{i}][price]"
                )
        elif price_data:
            product_id = as_str(price_data, "product")
            if product_id:
                if emu.store.get(product_id, "product") is None:
                    raise no_such("product", product_id, f"line_items[{i}][price_data][product]")
            else:
                product_data = as_dict(price_data, "product_data")
                if not product_data:
                    raise missing(f"line_items[{i}][price_data][product_data]")
                if not as_str(product_data, "name"):
                    raise missing(f"line_items[{i}][price_data][product_data][name]")
                product_id = catalog.new_product(emu, product_data)["id"]
            if as_str(price_data, "currency") is None:
                raise missing(f"line_items[{i}][price_data][currency]")
            if price_data.get("unit_amount") is None and price_data.get("unit_amount_decimal") is None:
                raise missing(f"line_items[{i}][price_data][unit_amount]")
            # Inline prices exist as objects but are inactive, as Stripe makes them.
            price = catalog.new_price(emu, price_data, product_id, active=False)
        else:
            raise missing(f"line_items[{i}][price]")
        if price["unit_amount"] is None:
            raise invalid("The price has no unit_amount.", param=f"line_items[{i}][price]")
        items.append(_line_item(emu, price, emu.store.get(price["product"], "product"), quantity))
    currencies = {it["currency"] for it in items}
    if len(currencies) > 1:
        raise invalid("All line items must use the same currency.", param="line_items")
    return items


def create(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    mode = as_str(p, "mode", required=True)
    if mode != "payment":
        raise invalid(f"The emulator supports only mode=payment (got {mode}).", param="mode")
    customer = as_str(p, "customer")
    customer_email = as_str(p, "customer_email")
    if customer and customer_email:
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            code="parameters_exclusive",
            param="customer_email",
        )
    if customer:
        from .customers import get_customer

        get_customer(emu, customer)
    items = _build_line_items(emu, p.get("line_items"))
    cur = items[0]["currency"]
    total = sum(it["amount_total"] for it in items)
    money.check_amount(total, cur, "line_items")
    now = emu.now()
    expires_at = as_int(p, "expires_at", default=now + MAX_EXPIRY)
    assert expires_at is not None
    if expires_at - now > MAX_EXPIRY:
        raise invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            param="expires_at",
        )
    if expires_at - now < MIN_EXPIRY:
        raise invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            param="expires_at",
        )
    pid = as_dict(p, "payment_intent_data") or {}
    cs_id = emu.new_id("cs_live" if emu.ctx.livemode else "cs_test", 58)
    cs: dict[str, Any] = {
        "id": cs_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": as_str(p, "billing_address_collection"),
        "cancel_url": as_str(p, "cancel_url"),
        "client_reference_id": as_str(p, "client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": cur,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": customer,
        "customer_account": None,
        "customer_creation": None if customer else "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": emu.ctx.livemode,
        "locale": as_str(p, "locale"),
        "managed_payments": None,
        "metadata": {},
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"request_three_d_secure": payment_intents.request_three_d_secure_of(p) or "automatic"}
        },
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "origin_context": None,
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": as_str(p, "submit_type"),
        "subscription": None,
        "success_url": as_str(p, "success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": as_str(p, "ui_mode") or "hosted_page",
        "url": f"{emu.base_url}/c/pay/{cs_id}",
        "wallet_options": None,
        "_line_items": items,
        "_payment_intent_data": pid,
    }
    apply_metadata(cs, p)
    emu.store.put(cs)
    return render(cs)


def _line_items_list(emu: Emulator, cs: dict[str, Any]) -> dict[str, Any]:
    items = cs.get("_line_items", [])
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{cs['id']}/line_items",
    }


VIRTUAL["checkout.session"] = {
    "line_items": lambda emu, obj: _line_items_list(emu, emu.store.get(obj["id"], "checkout.session") or obj)
}


def get_session(emu: Emulator, cs_id: str, param: str = "session") -> dict[str, Any]:
    cs = emu.store.get(cs_id, "checkout.session")
    if cs is None:
        raise no_such("checkout.session", cs_id, param)
    if cs["status"] == "open" and cs["expires_at"] <= emu.now():
        expire(emu, cs)
    return cs


def expire(emu: Emulator, cs: dict[str, Any]) -> None:
    cs["status"] = "expired"
    cs["url"] = None
    pi_id = cs.get("_payment_intent_id")
    if pi_id:
        pi = emu.store.get(pi_id, "payment_intent")
        if pi is not None and pi["status"] in payment_intents.CANCELABLE:
            payment_intents.cancel(emu, pi, "abandoned", via_checkout=True)
    emu.store.put(cs)
    emu.emit("checkout.session.expired", cs)


def expire_due_sessions(emu: Emulator) -> None:
    now = emu.now()
    for cs in emu.store.all("checkout.session"):
        if cs["status"] == "open" and cs["expires_at"] <= now:
            expire(emu, cs)


def complete(emu: Emulator, cs_id: str, pi: dict[str, Any]) -> None:
    """Called when the session's PaymentIntent succeeds (or is authorized, for manual capture)."""
    cs = emu.store.get(cs_id, "checkout.session")
    if cs is None or cs["status"] != "open":
        return
    pm = emu.store.get(pi.get("payment_method") or "", "payment_method") or {}
    details = pm.get("billing_details") or {}
    email = cs.get("customer_email") or details.get("email")
    if cs.get("customer") and not email:
        cus = emu.store.get(cs["customer"], "customer") or {}
        email = cus.get("email")
    cs["customer_details"] = {
        "address": details.get("address")
        or {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": details.get("name"),
        "phone": details.get("phone"),
        "tax_exempt": "none",
        "tax_ids": [],
    }
    cs["status"] = "complete"
    cs["payment_status"] = "paid" if pi["status"] == "succeeded" else "unpaid"
    cs["payment_intent"] = pi["id"]
    cs["url"] = None
    emu.store.put(cs)
    emu.emit("checkout.session.completed", cs)


def success_redirect(cs: dict[str, Any]) -> str | None:
    url = cs.get("success_url")
    return url.replace("{CHECKOUT_SESSION_ID}", cs["id"]) if url else None


def pay(emu: Emulator, session_id: str, card_number_or_pm: str) -> dict[str, Any]:
    """Pay like the hosted page. Returns {status, redirect_url, session, payment_intent, error}.

    status: "complete" (redirect_url = success_url), "requires_action" (redirect_url = 3DS page),
    "failed" (error = Stripe's error hash; the session stays open for another card), or the
    session's status when it is no longer open.
    """
    with emu.lock:
        cs = get_session(emu, session_id)
        if cs["status"] != "open":
            return {
                "status": cs["status"],
                "redirect_url": None,
                "session": render(cs),
                "payment_intent": None,
                "error": {
                    "type": "invalid_request_error",
                    "message": f"This Checkout Session is {cs['status']}.",
                },
            }
        try:
            ref = card_number_or_pm.strip()
            if ref.startswith(("pm_", "tok_")):
                pm = payment_methods.resolve(emu, ref)
            else:
                pm = payment_methods.new_card_pm(emu, ref)
        except StripeError as exc:
            return {
                "status": "failed",
                "redirect_url": None,
                "session": render(cs),
                "payment_intent": None,
                "error": exc.body()["error"],
            }
        pi = emu.store.get(cs.get("_payment_intent_id") or "", "payment_intent")
        if pi is None or pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            pid = cs.get("_payment_intent_data") or {}
            params: dict[str, Any] = {
                "amount": str(cs["amount_total"]),
                "currency": cs["currency"],
                "payment_method_types": ["card"],
            }
            for key in (
                "description",
                "capture_method",
                "receipt_email",
                "setup_future_usage",
                "shipping",
                "statement_descriptor",
                "statement_descriptor_suffix",
                "transfer_group",
                "metadata",
            ):
                if key in pid:
                    params[key] = pid[key]
            three_ds = cs["payment_method_options"]["card"]["request_three_d_secure"]
            params["payment_method_options"] = {"card": {"request_three_d_secure": three_ds}}
            if cs.get("customer"):
                params["customer"] = cs["customer"]
            if cs.get("customer_email") and "receipt_email" not in params:
                params["receipt_email"] = cs["customer_email"]
            pi = payment_intents.new_payment_intent(emu, params)
            pi["_checkout_session"] = cs["id"]
            pi["_return_url"] = f"{emu.base_url}/c/pay/{cs['id']}"
            emu.store.put(pi)
            cs["_payment_intent_id"] = pi["id"]
            emu.store.put(cs)
        error = None
        try:
            payment_intents.confirm(emu, pi, {"payment_method": pm["id"]}, via_checkout=True)
        except StripeError as exc:
            error = exc.body()["error"]
            error.pop("payment_intent", None)
        cs = emu.store.get(cs["id"], "checkout.session") or cs
        if error is not None:
            status, redirect = "failed", None
        elif pi["status"] == "requires_action":
            status, redirect = "requires_action", pi["next_action"]["redirect_to_url"]["url"]
        else:
            status, redirect = "complete", success_redirect(cs)
        return {
            "status": status,
            "redirect_url": redirect,
            "session": render(cs),
            "payment_intent": render(pi),
            "error": error,
        }


def retrieve(req: Request) -> dict[str, Any]:
    return render(get_session(req.emu, req.args["session"]))


def expire_api(req: Request) -> dict[str, Any]:
    emu = req.emu
    cs = get_session(emu, req.args["session"])
    if cs["status"] != "open":
        raise invalid(
            'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a '
            "status "
            f'of "{cs["status"]}".',
        )
    expire(emu, cs)
    return render(cs)


def update(req: Request) -> dict[str, Any]:
    emu = req.emu
    cs = get_session(emu, req.args["session"])
    apply_metadata(cs, req.params)
    emu.store.put(cs)
    return render(cs)


def list_(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    expire_due_sessions(emu)
    objs = emu.store.all("checkout.session")
    for name in ("payment_intent", "customer", "status"):
        value = as_str(p, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, p), "/v1/checkout/sessions")


def line_items(req: Request) -> dict[str, Any]:
    cs = get_session(req.emu, req.args["session"])
    return list_response(
        req, cs.get("_line_items", []), f"/v1/checkout/sessions/{cs['id']}/line_items", render_fn=lambda o: o
    )


route("POST", "/v1/checkout/sessions", create)
route("GET", "/v1/checkout/sessions", list_)
route("GET", "/v1/checkout/sessions/{session}", retrieve)
route("POST", "/v1/checkout/sessions/{session}", update)
route("POST", "/v1/checkout/sessions/{session}/expire", expire_api)
route("GET", "/v1/checkout/sessions/{session}/line_items", line_items)
