"""Billing: SetupIntents, Subscriptions, Invoices and invoice payments, renewals on the clock.

Subscription: incomplete → active (first invoice paid) | incomplete_expired (23 h unpaid);
    active → past_due (a renewal failed, retries run) → active (a retry or the customer paid)
    | canceled / unpaid / past_due (the last retry failed: `subscription_after_retries`);
    cancel now (DELETE) or at the period's end (`cancel_at_period_end`).
Invoice: draft → open (finalized at once) → paid | uncollectible | void.

The 2025 shapes (API basil and later): an invoice has no `payment_intent`, `charge` or
`subscription`; its payments are `invoice_payment` objects (`GET /v1/invoice_payments?invoice=`)
and its subscription is `parent.subscription_details.subscription`. The first invoice of a
`default_incomplete` subscription carries `confirmation_secret` (the PaymentIntent's secret) for
the Payment Element.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from .. import cards
from ..errors import StripeError, invalid, missing, no_such, unexpected_state
from ..server import Request
from ..state import Emulator, render
from . import payment_intents, payment_methods
from .common import (
    apply_metadata,
    as_bool,
    as_dict,
    as_list,
    as_str,
    created_filter,
    get_object,
    list_response,
    route,
)

INCOMPLETE_EXPIRY_SECONDS = 23 * 3600
LIVE = ("active", "past_due", "trialing", "unpaid")


def add_interval(ts: int, interval: str, count: int) -> int:
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    months = count * (12 if interval == "year" else 1)
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


def _needs_auth_off_session(pm: dict[str, Any]) -> bool:
    b = payment_methods.card_of(pm).behaviour
    return b in (cards.THREE_DS, cards.THREE_DS_THEN_DECLINE) or (
        b == cards.THREE_DS_UNLESS_SETUP and not pm.get("customer")
    )


# SetupIntents ---------------------------------------------------------------------------------


def _new_setup_intent(emu: Emulator, p: dict[str, Any]) -> dict[str, Any]:
    customer = as_str(p, "customer")
    if customer:
        from .customers import get_customer

        get_customer(emu, customer)
    seti_id = emu.new_id("seti")
    seti: dict[str, Any] = {
        "id": seti_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{seti_id}_secret_{emu.new_id('x', 25)[2:]}",
        "created": emu.now(),
        "customer": customer,
        "customer_account": None,
        "description": as_str(p, "description"),
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": emu.ctx.livemode,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": as_list(p.get("payment_method_types"), "payment_method_types") or ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": as_str(p, "usage") or "off_session",
    }
    apply_metadata(seti, p)
    pm_ref = as_str(p, "payment_method")
    if pm_ref:
        seti["payment_method"] = payment_methods.resolve(emu, pm_ref)["id"]
        seti["status"] = "requires_confirmation"
    emu.store.put(seti)
    emu.emit("setup_intent.created", seti)
    return seti


def setup_intent_confirm(emu: Emulator, seti: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    if seti["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected_state(
            f"You cannot confirm this SetupIntent because it has a status of {seti['status']}.", render(seti)
        )
    ref = as_str(p, "payment_method") or seti.get("payment_method")
    pmd = as_dict(p, "payment_method_data")
    if pmd and isinstance(pmd.get("card"), dict):
        pm = payment_methods.from_card_params(emu, pmd["card"], pmd.get("billing_details"))
    elif ref:
        pm = payment_methods.resolve(emu, ref)
    else:
        raise missing("payment_method")
    seti["payment_method"] = pm["id"]
    seti["last_setup_error"] = None
    card = payment_methods.card_of(pm)
    b = card.behaviour
    if b == cards.DECLINE or not card.attachable:
        err = payment_methods.card_error(card, card.code or "card_declined", card.decline_code)
        seti["status"] = "requires_payment_method"
        seti["payment_method"] = None
        seti["last_setup_error"] = {**err.body()["error"], "payment_method": render(pm)}
        emu.store.put(seti)
        emu.emit("setup_intent.setup_failed", seti)
        raise StripeError(402, "card_error", err.message, code=err.code, setup_intent=render(seti))
    if b in (
        cards.THREE_DS,
        cards.THREE_DS_UNLESS_SETUP,
        cards.THREE_DS_ON_SESSION,
        cards.THREE_DS_THEN_DECLINE,
    ):
        url = f"{emu.base_url}/_emulator/setup_intents/{seti['id']}/3ds"
        seti["status"] = "requires_action"
        seti["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": pm["id"]},
        }
        emu.store.put(seti)
        emu.emit("setup_intent.requires_action", seti)
        return seti
    return _setup_succeed(emu, seti, pm)


def _setup_succeed(emu: Emulator, seti: dict[str, Any], pm: dict[str, Any]) -> dict[str, Any]:
    if seti.get("customer"):
        payment_methods.attach_to(emu, pm["id"], seti["customer"])
    seti["status"] = "succeeded"
    seti["next_action"] = None
    emu.store.put(seti)
    emu.emit("setup_intent.succeeded", seti)
    return seti


def setup_intent_authenticate(emu: Emulator, seti_id: str, outcome: str) -> dict[str, Any]:
    seti = get_object(emu, "setup_intent", seti_id, "setup_intent")
    if seti["status"] != "requires_action":
        raise unexpected_state("This SetupIntent is not awaiting authentication.", render(seti))
    pm = payment_methods.resolve(emu, seti["payment_method"])
    if outcome != "complete":
        seti["status"] = "requires_payment_method"
        seti["next_action"] = None
        seti["payment_method"] = None
        seti["last_setup_error"] = {
            "code": "setup_intent_authentication_failure",
            "message": "The latest attempt to set up the payment method has failed because authentication "
            "failed.",
            "type": "invalid_request_error",
        }
        emu.store.put(seti)
        emu.emit("setup_intent.setup_failed", seti)
        return seti
    return _setup_succeed(emu, seti, pm)


def _get_seti(req: Request) -> dict[str, Any]:
    seti = req.emu.store.get(req.args["intent"], "setup_intent")
    if seti is None:
        raise no_such("setup_intent", req.args["intent"], "intent")
    if (
        req.api_key
        and req.api_key.startswith("pk_")
        and req.params.get("client_secret") != seti["client_secret"]
    ):
        raise invalid("The client_secret provided does not match this SetupIntent.", param="client_secret")
    return seti


def create_seti(req: Request) -> dict[str, Any]:
    seti = _new_setup_intent(req.emu, req.params)
    if as_bool(req.params, "confirm"):
        seti = setup_intent_confirm(req.emu, seti, {})
    return render(seti)


def retrieve_seti(req: Request) -> dict[str, Any]:
    return render(_get_seti(req))


def confirm_seti(req: Request) -> dict[str, Any]:
    return render(setup_intent_confirm(req.emu, _get_seti(req), req.params))


def cancel_seti(req: Request) -> dict[str, Any]:
    seti = _get_seti(req)
    if seti["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            f"You cannot cancel this SetupIntent because it has a status of {seti['status']}.", render(seti)
        )
    seti["status"] = "canceled"
    seti["cancellation_reason"] = as_str(req.params, "cancellation_reason")
    seti["next_action"] = None
    req.emu.store.put(seti)
    req.emu.emit("setup_intent.canceled", seti)
    return render(seti)


def list_setis(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("setup_intent")
    customer = as_str(req.params, "customer")
    if customer:
        objs = [o for o in objs if o.get("customer") == customer]
    return list_response(req, created_filter(objs, req.params), "/v1/setup_intents")


# Invoices -------------------------------------------------------------------------------------


def _default_pm(emu: Emulator, sub: dict[str, Any]) -> dict[str, Any] | None:
    ref = sub.get("default_payment_method")
    if not ref:
        cus = emu.store.get(sub["customer"], "customer") or {}
        ref = (cus.get("invoice_settings") or {}).get("default_payment_method")
    return emu.store.get(ref, "payment_method") if ref else None


def _new_invoice(
    emu: Emulator, sub: dict[str, Any], price: dict[str, Any], start: int, end: int, reason: str
) -> dict[str, Any]:
    cus = emu.store.get(sub["customer"], "customer") or {}
    amount = int(price["unit_amount"]) * int(sub["items"]["data"][0]["quantity"])
    inv_id = emu.new_id("in")
    number = f"{cus.get('invoice_prefix', 'EMU')}-{cus.get('next_invoice_sequence', 1):04d}"
    cus["next_invoice_sequence"] = cus.get("next_invoice_sequence", 1) + 1
    if cus:
        emu.store.put(cus)
    inv: dict[str, Any] = {
        "id": inv_id,
        "object": "invoice",
        "account_country": "GB",
        "account_name": "Emulated account",
        "account_tax_ids": None,
        "amount_due": amount,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": amount,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "confirmation_secret": None,
        "created": emu.now(),
        "currency": price["currency"],
        "custom_fields": None,
        "customer": sub["customer"],
        "customer_account": None,
        "customer_address": cus.get("address"),
        "customer_email": cus.get("email"),
        "customer_name": cus.get("name"),
        "customer_phone": cus.get("phone"),
        "customer_shipping": cus.get("shipping"),
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": emu.new_id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": price["currency"],
                    "description": f"1 × subscription ({price.get('nickname') or price['id']})",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": inv_id,
                    "livemode": emu.ctx.livemode,
                    "metadata": {},
                    "parent": {
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": sub["id"],
                            "subscription_item": sub["items"]["data"][0]["id"],
                        },
                        "type": "subscription_item_details",
                    },
                    "period": {"end": end, "start": start},
                    "pretax_credit_amounts": [],
                    "pricing": {
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "type": "price_details",
                        "unit_amount_decimal": str(price["unit_amount"]),
                    },
                    "quantity": 1,
                    "subtotal": amount,
                    "taxes": [],
                }
            ],
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": emu.ctx.livemode,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub.get("metadata") or {}), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": start,
        "period_start": start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "test_clock": None,
        "total": amount,
        "total_discount_amounts": [],
        "total_excluding_tax": amount,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
        "_number_on_finalize": number,
    }
    emu.store.put(inv)
    emu.emit("invoice.created", inv)
    # Finalize at once (Stripe waits about an hour for renewals; the state is what matters here).
    pi = payment_intents.new_payment_intent(
        emu,
        {
            "amount": str(amount),
            "currency": price["currency"],
            "customer": sub["customer"],
            "setup_future_usage": "off_session",
            "payment_method_types": ["card"],
            "description": f"Invoice {number}",
        },
    )
    pi["_invoice"] = inv_id
    emu.store.put(pi)
    inv["status"] = "open"
    inv["number"] = inv.pop("_number_on_finalize")
    inv["effective_at"] = emu.now()
    inv["status_transitions"]["finalized_at"] = emu.now()
    inv["hosted_invoice_url"] = f"{emu.base_url}/_emulator/objects/{inv_id}"
    inv["confirmation_secret"] = {"client_secret": pi["client_secret"], "type": "payment_intent"}
    inv["_payment_intent"] = pi["id"]
    emu.store.put(inv)
    ip = emu.base_object(
        "inpay",
        "invoice_payment",
        amount_paid=None,
        amount_requested=amount,
        currency=price["currency"],
        invoice=inv_id,
        is_default=True,
        payment={"payment_intent": pi["id"], "type": "payment_intent"},
        status="open",
        status_transitions={"canceled_at": None, "paid_at": None},
    )
    emu.store.put(ip)
    inv["_invoice_payment"] = ip["id"]
    emu.store.put(inv)
    emu.emit("invoice.finalized", inv)
    return inv


def _subscription_of(emu: Emulator, inv: dict[str, Any]) -> dict[str, Any] | None:
    sub_id = ((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    return emu.store.get(sub_id, "subscription") if sub_id else None


def _set_sub_status(emu: Emulator, sub: dict[str, Any], status: str, **extra: Any) -> None:
    prev = {"status": sub["status"], **{k: sub.get(k) for k in extra}}
    if sub["status"] == status and all(sub.get(k) == v for k, v in extra.items()):
        return
    sub["status"] = status
    sub.update(extra)
    emu.store.put(sub)
    if status == "canceled":
        emu.emit("customer.subscription.deleted", sub)
    else:
        emu.emit("customer.subscription.updated", sub, prev)


def on_payment_succeeded(emu: Emulator, pi: dict[str, Any]) -> None:
    """Called by payment_intents when an invoice's PaymentIntent succeeds (on or off session)."""
    inv = emu.store.get(pi["_invoice"], "invoice")
    if inv is None or inv["status"] != "open":
        return
    now = emu.now()
    inv.update(
        status="paid",
        amount_paid=inv["amount_due"],
        amount_remaining=0,
        attempted=True,
        next_payment_attempt=None,
    )
    inv["status_transitions"]["paid_at"] = now
    emu.store.put(inv)
    ip = emu.store.get(inv["_invoice_payment"], "invoice_payment")
    if ip is not None:
        ip.update(status="paid", amount_paid=inv["amount_due"])
        ip["status_transitions"]["paid_at"] = now
        emu.store.put(ip)
        emu.emit("invoice_payment.paid", ip)
    emu.emit("invoice.paid", inv)
    emu.emit("invoice.payment_succeeded", inv)
    sub = _subscription_of(emu, inv)
    if sub is None:
        return
    if sub.get("_save_default_pm") and pi.get("payment_method") and not sub.get("default_payment_method"):
        sub["default_payment_method"] = pi["payment_method"]
    if sub["status"] in ("incomplete", "past_due", "unpaid"):
        _set_sub_status(emu, sub, "active")
    else:
        emu.store.put(sub)


def _attempt_invoice(emu: Emulator, inv: dict[str, Any], *, first: bool, at: int) -> None:
    """An off-session collection attempt (renewal or retry)."""
    sub = _subscription_of(emu, inv)
    pi = get_object(emu, "payment_intent", inv["_payment_intent"])
    pm = _default_pm(emu, sub) if sub else None
    inv["attempted"] = True
    if not first:
        inv["attempt_count"] += 1
    else:
        inv["attempt_count"] = 1 if inv["attempt_count"] == 0 else inv["attempt_count"]
    if pi["status"] == "requires_action":
        pi["status"] = "requires_payment_method"
        pi["next_action"] = None
    failed_type: str | None = None
    if pm is None:
        failed_type = "invoice.payment_failed"
    elif _needs_auth_off_session(pm):
        pi["payment_method"] = pm["id"]
        payment_intents.require_action(emu, pi, pm)
        failed_type = "invoice.payment_action_required"
    else:
        pi["payment_method"] = pm["id"]
        try:
            payment_intents.attempt(emu, pi, pm, off_session=True)
        except StripeError:
            failed_type = "invoice.payment_failed"
    inv = get_object(emu, "invoice", inv["id"])
    if inv["status"] == "paid" or failed_type is None:
        return
    schedule = emu.money.invoice_retry_hours
    done = inv["attempt_count"]  # attempts made so far, the first included
    if done <= len(schedule):
        first_at = inv.get("_first_failed_at") or at
        inv["_first_failed_at"] = first_at
        inv["next_payment_attempt"] = first_at + int(schedule[done - 1] * 3600)
    else:
        inv["next_payment_attempt"] = None
    emu.store.put(inv)
    emu.emit("invoice.payment_failed", inv)
    if failed_type == "invoice.payment_action_required":
        emu.emit("invoice.payment_action_required", inv)
    if sub is None:
        return
    if inv["next_payment_attempt"] is not None:
        if sub["status"] == "active":
            _set_sub_status(emu, sub, "past_due")
        return
    after = emu.money.subscription_after_retries
    if after == "cancel":
        _end(emu, sub, reason="payment_failed")
    elif after == "unpaid":
        _set_sub_status(emu, sub, "unpaid")
    elif sub["status"] == "active":
        _set_sub_status(emu, sub, "past_due")


def _end(emu: Emulator, sub: dict[str, Any], *, reason: str) -> None:
    now = emu.now()
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
    sub["canceled_at"] = sub.get("canceled_at") or now
    sub["ended_at"] = now
    sub["cancel_at"] = None
    _set_sub_status(emu, sub, "canceled")


# Subscriptions --------------------------------------------------------------------------------


def create_sub(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    from .customers import get_customer

    cus_id = as_str(p, "customer", required=True)
    assert cus_id is not None
    get_customer(emu, cus_id)
    items = as_list(p.get("items"), "items")
    if not items or not isinstance(items[0], dict) or not items[0].get("price"):
        raise missing("items[0][price]")
    if len(items) > 1:
        raise invalid("The emulator supports one item per subscription.", param="items")
    price = get_object(emu, "price", str(items[0]["price"]), "price", "items[0][price]")
    if not price.get("recurring"):
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with "
            "`type=recurring`.",
            param="items[0][price]",
        )
    behaviour = as_str(p, "payment_behavior") or "allow_incomplete"
    now = emu.now()
    rec = price["recurring"]
    end = add_interval(now, rec["interval"], rec["interval_count"])
    sub_id = emu.new_id("sub")
    item: dict[str, Any] = {
        "id": emu.new_id("si"),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": now,
        "current_period_end": end,
        "current_period_start": now,
        "discounts": [],
        "metadata": {},
        "plan": {
            "id": price["id"],
            "object": "plan",
            "active": True,
            "amount": price["unit_amount"],
            "amount_decimal": str(price["unit_amount"]),
            "billing_scheme": "per_unit",
            "created": price["created"],
            "currency": price["currency"],
            "interval": rec["interval"],
            "interval_count": rec["interval_count"],
            "livemode": price["livemode"],
            "metadata": {},
            "meter": None,
            "nickname": price.get("nickname"),
            "product": price["product"],
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "price": render(price),
        "quantity": int(items[0].get("quantity") or 1),
        "subscription": sub_id,
        "tax_rates": [],
    }
    pm_ref = as_str(p, "default_payment_method")
    sub: dict[str, Any] = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": as_bool(p, "cancel_at_period_end"),
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": price["currency"],
        "customer": cus_id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": payment_methods.resolve(emu, pm_ref)["id"] if pm_ref else None,
        "default_source": None,
        "default_tax_rates": [],
        "description": as_str(p, "description"),
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": emu.ctx.livemode,
        "metadata": {},
        "managed_payments": None,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": (
                (as_dict(p, "payment_settings") or {}).get("save_default_payment_method") or "off"
            ),
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": "incomplete",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
        "_price": price["id"],
        "_save_default_pm": (as_dict(p, "payment_settings") or {}).get("save_default_payment_method")
        == "on_subscription",
    }
    apply_metadata(sub, p)
    emu.store.put(sub)
    emu.emit("customer.subscription.created", sub)
    inv = _new_invoice(emu, sub, price, now, end, "subscription_create")
    sub["latest_invoice"] = inv["id"]
    emu.store.put(sub)
    if behaviour != "default_incomplete" and _default_pm(emu, sub) is not None:
        pi = get_object(emu, "payment_intent", inv["_payment_intent"])
        pm = _default_pm(emu, sub)
        assert pm is not None
        try:
            payment_intents.confirm(emu, pi, {"payment_method": pm["id"], "off_session": "true"})
        except StripeError:
            if behaviour == "error_if_incomplete":
                raise
    return render(get_object(emu, "subscription", sub_id))


def _get_sub(req: Request) -> dict[str, Any]:
    sub = req.emu.store.get(req.args["subscription_exposed_id"], "subscription")
    if sub is None:
        raise no_such("subscription", req.args["subscription_exposed_id"], "subscription_exposed_id")
    return sub


def retrieve_sub(req: Request) -> dict[str, Any]:
    return render(_get_sub(req))


def update_sub(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    sub = _get_sub(req)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise unexpected_state(
            "A canceled subscription can only update its cancellation_details and metadata.", render(sub)
        )
    prev: dict[str, Any] = {}
    if "cancel_at_period_end" in p:
        flag = as_bool(p, "cancel_at_period_end")
        if flag != sub["cancel_at_period_end"]:
            prev.update(
                cancel_at_period_end=sub["cancel_at_period_end"],
                cancel_at=sub["cancel_at"],
                canceled_at=sub["canceled_at"],
            )
            sub["cancel_at_period_end"] = flag
            end = sub["items"]["data"][0]["current_period_end"]
            sub["cancel_at"] = end if flag else None
            sub["canceled_at"] = emu.now() if flag else None
    if "default_payment_method" in p:
        ref = as_str(p, "default_payment_method")
        new = payment_methods.resolve(emu, ref)["id"] if ref else None
        if new != sub["default_payment_method"]:
            prev["default_payment_method"] = sub["default_payment_method"]
            sub["default_payment_method"] = new
    apply_metadata(sub, p, prev)
    emu.store.put(sub)
    if prev:
        emu.emit("customer.subscription.updated", sub, prev)
    return render(sub)


def cancel_sub(req: Request) -> dict[str, Any]:
    sub = _get_sub(req)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise unexpected_state("This subscription has already been canceled.", render(sub))
    if sub["status"] == "incomplete":
        inv = req.emu.store.get(sub.get("latest_invoice") or "", "invoice")
        if inv and inv["status"] == "open":
            _void(req.emu, inv)
    _end(req.emu, sub, reason="cancellation_requested")
    return render(sub)


def list_subs(req: Request) -> dict[str, Any]:
    p = req.params
    objs = req.emu.store.all("subscription")
    for name in ("customer", "price"):
        value = as_str(p, name)
        if value:
            key = "customer" if name == "customer" else "_price"
            objs = [o for o in objs if o.get(key) == value]
    status = as_str(p, "status")
    if status and status != "all":
        objs = [o for o in objs if o["status"] == status]
    elif not status:
        objs = [o for o in objs if o["status"] not in ("canceled", "incomplete_expired")]
    return list_response(req, created_filter(objs, p), "/v1/subscriptions")


def _void(emu: Emulator, inv: dict[str, Any]) -> None:
    inv["status"] = "void"
    inv["next_payment_attempt"] = None
    inv["amount_remaining"] = 0
    inv["status_transitions"]["voided_at"] = emu.now()
    emu.store.put(inv)
    pi = emu.store.get(inv["_payment_intent"], "payment_intent")
    if pi is not None and pi["status"] in payment_intents.CANCELABLE:
        payment_intents.cancel(emu, pi, None)
    ip = emu.store.get(inv["_invoice_payment"], "invoice_payment")
    if ip is not None:
        ip["status"] = "canceled"
        ip["status_transitions"]["canceled_at"] = emu.now()
        emu.store.put(ip)
    emu.emit("invoice.voided", inv)


def _get_inv(req: Request) -> dict[str, Any]:
    return get_object(req.emu, "invoice", req.args["invoice"], "invoice", "invoice")


def retrieve_inv(req: Request) -> dict[str, Any]:
    return render(_get_inv(req))


def list_invs(req: Request) -> dict[str, Any]:
    p = req.params
    objs = req.emu.store.all("invoice")
    customer, sub_id, status = as_str(p, "customer"), as_str(p, "subscription"), as_str(p, "status")
    if customer:
        objs = [o for o in objs if o["customer"] == customer]
    if sub_id:
        objs = [o for o in objs if (o["parent"]["subscription_details"] or {}).get("subscription") == sub_id]
    if status:
        objs = [o for o in objs if o["status"] == status]
    return list_response(req, created_filter(objs, p), "/v1/invoices")


def pay_inv(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    inv = _get_inv(req)
    if inv["status"] != "open":
        raise unexpected_state(f"Invoice is already {inv['status']}.", render(inv))
    pi = get_object(emu, "payment_intent", inv["_payment_intent"])
    if pi["status"] == "requires_action":
        pi["status"] = "requires_payment_method"
        pi["next_action"] = None
    ref = as_str(p, "payment_method")
    if ref is None:
        sub = _subscription_of(emu, inv)
        pm = _default_pm(emu, sub) if sub else None
        if pm is None:
            raise invalid("This invoice has no payment method to pay with.", param="payment_method")
        ref = pm["id"]
    off = as_bool(p, "off_session", True)
    try:
        payment_intents.confirm(emu, pi, {"payment_method": ref, "off_session": "true" if off else "false"})
    except StripeError as exc:
        inv["attempted"] = True
        emu.store.put(inv)
        emu.emit("invoice.payment_failed", inv)
        raise exc
    return render(get_object(emu, "invoice", inv["id"]))


def void_inv(req: Request) -> dict[str, Any]:
    inv = _get_inv(req)
    if inv["status"] != "open":
        raise unexpected_state(
            f"You can only pass in open invoices. This invoice is {inv['status']}.", render(inv)
        )
    _void(req.emu, inv)
    return render(inv)


def uncollectible_inv(req: Request) -> dict[str, Any]:
    inv = _get_inv(req)
    if inv["status"] != "open":
        raise unexpected_state(
            f"You can only pass in open invoices. This invoice is {inv['status']}.", render(inv)
        )
    inv["status"] = "uncollectible"
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["marked_uncollectible_at"] = req.emu.now()
    req.emu.store.put(inv)
    req.emu.emit("invoice.marked_uncollectible", inv)
    return render(inv)


def retrieve_ip(req: Request) -> dict[str, Any]:
    return render(get_object(req.emu, "invoice_payment", req.args["invoice_payment"], "invoice_payment"))


def list_ips(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("invoice_payment")
    inv = as_str(req.params, "invoice")
    if inv:
        objs = [o for o in objs if o["invoice"] == inv]
    return list_response(req, objs, "/v1/invoice_payments")


# Time ----------------------------------------------------------------------------------------


def sweep(emu: Emulator) -> None:
    """Due renewals, retries, expiries and upcoming notices, earliest first."""
    for _ in range(1000):
        now = emu.now()
        due: list[tuple[int, str, dict[str, Any]]] = []
        for sub in emu.store.all("subscription"):
            status = sub["status"]
            end = sub["items"]["data"][0]["current_period_end"]
            if status == "incomplete" and sub["created"] + INCOMPLETE_EXPIRY_SECONDS <= now:
                due.append((sub["created"] + INCOMPLETE_EXPIRY_SECONDS, "expire", sub))
            elif status in LIVE and end <= now:
                due.append((end, "renew", sub))
            elif status in LIVE and not sub.get("cancel_at_period_end"):
                notice = end - emu.money.invoice_upcoming_days * 86400
                if notice <= now and sub.get("_upcoming_sent") != end:
                    due.append((notice, "upcoming", sub))
        for inv in emu.store.all("invoice"):
            nxt = inv.get("next_payment_attempt")
            if inv["status"] == "open" and nxt is not None and nxt <= now:
                due.append((nxt, "retry", inv))
        if not due:
            return
        due.sort(key=lambda d: (d[0], d[1]))
        _, kind, obj = due[0]
        if kind == "expire":
            first = emu.store.get(obj.get("latest_invoice") or "", "invoice")
            if first and first["status"] == "open":
                _void(emu, first)
            obj["ended_at"] = now
            _set_sub_status(emu, obj, "incomplete_expired")
        elif kind == "renew":
            _renew(emu, obj)
        elif kind == "upcoming":
            obj["_upcoming_sent"] = obj["items"]["data"][0]["current_period_end"]
            emu.store.put(obj)
            _emit_upcoming(emu, obj)
        else:
            _attempt_invoice(emu, obj, first=False, at=due[0][0])


def _renew(emu: Emulator, sub: dict[str, Any]) -> None:
    item = sub["items"]["data"][0]
    start = item["current_period_end"]
    if sub.get("cancel_at_period_end"):
        sub["ended_at"] = start
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
        _set_sub_status(emu, sub, "canceled")
        return
    price = get_object(emu, "price", sub["_price"])
    rec = price["recurring"]
    end = add_interval(start, rec["interval"], rec["interval_count"])
    prev = {"items": {"data": [dict(item)]}, "latest_invoice": sub["latest_invoice"]}
    item["current_period_start"], item["current_period_end"] = start, end
    inv = _new_invoice(emu, sub, price, start, end, "subscription_cycle")
    sub["latest_invoice"] = inv["id"]
    emu.store.put(sub)
    emu.emit("customer.subscription.updated", sub, prev)
    _attempt_invoice(emu, inv, first=True, at=start)


def _emit_upcoming(emu: Emulator, sub: dict[str, Any]) -> None:
    """`invoice.upcoming`: a preview of the next invoice, which has no id (Stripe's shape)."""
    price = get_object(emu, "price", sub["_price"])
    amount = int(price["unit_amount"])
    end = sub["items"]["data"][0]["current_period_end"]
    preview = {
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": 0,
        "amount_remaining": amount,
        "billing_reason": "upcoming",
        "created": emu.now(),
        "currency": price["currency"],
        "customer": sub["customer"],
        "livemode": sub["livemode"],
        "next_payment_attempt": end,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub.get("metadata") or {}), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "period_end": end,
        "period_start": end,
        "status": "draft",
        "total": amount,
    }
    emu.emit("invoice.upcoming", preview)


route("POST", "/v1/setup_intents", create_seti)
route("GET", "/v1/setup_intents", list_setis)
route("GET", "/v1/setup_intents/{intent}", retrieve_seti)
route("POST", "/v1/setup_intents/{intent}/confirm", confirm_seti)
route("POST", "/v1/setup_intents/{intent}/cancel", cancel_seti)
route("POST", "/v1/subscriptions", create_sub)
route("GET", "/v1/subscriptions", list_subs)
route("GET", "/v1/subscriptions/{subscription_exposed_id}", retrieve_sub)
route("POST", "/v1/subscriptions/{subscription_exposed_id}", update_sub)
route("DELETE", "/v1/subscriptions/{subscription_exposed_id}", cancel_sub)
route("GET", "/v1/invoices", list_invs)
route("GET", "/v1/invoices/{invoice}", retrieve_inv)
route("POST", "/v1/invoices/{invoice}/pay", pay_inv)
route("POST", "/v1/invoices/{invoice}/void", void_inv)
route("POST", "/v1/invoices/{invoice}/mark_uncollectible", uncollectible_inv)
route("GET", "/v1/invoice_payments", list_ips)
route("GET", "/v1/invoice_payments/{invoice_payment}", retrieve_ip)
