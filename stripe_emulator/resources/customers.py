"""Customers: create, retrieve, update, delete (a tombstone, as Stripe keeps), list."""

from __future__ import annotations

from typing import Any

from ..errors import no_such
from ..server import Request
from ..state import Emulator, render
from . import payment_methods
from .common import apply_metadata, as_str, created_filter, list_response, route, set_fields

UPDATABLE = [
    "email",
    "name",
    "description",
    "phone",
    "address",
    "shipping",
    "preferred_locales",
    "tax_exempt",
]


def get_customer(emu: Emulator, customer_id: str, param: str = "customer") -> dict[str, Any]:
    obj = emu.store.get(customer_id, "customer")
    if obj is None or obj.get("deleted"):
        raise no_such("customer", customer_id, param)
    return obj


def create(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    cus = emu.base_object(
        "cus",
        "customer",
        address=None,
        balance=0,
        currency=None,
        default_source=None,
        delinquent=False,
        description=None,
        discount=None,
        email=None,
        invoice_prefix="".join(emu.rng.choice("ABCDEF0123456789") for _ in range(8)),
        invoice_settings={
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        metadata={},
        name=None,
        next_invoice_sequence=1,
        phone=None,
        preferred_locales=[],
        shipping=None,
        tax_exempt="none",
        test_clock=None,
    )
    set_fields(cus, p, UPDATABLE, {})
    apply_metadata(cus, p)
    emu.store.put(cus)
    emu.emit("customer.created", cus)
    pm_id = as_str(p, "payment_method")
    if pm_id:
        payment_methods.attach_to(emu, pm_id, cus["id"], param="payment_method")
    default_pm = (
        (p.get("invoice_settings") or {}).get("default_payment_method")
        if isinstance(p.get("invoice_settings"), dict)
        else None
    )
    if default_pm:
        cus["invoice_settings"]["default_payment_method"] = default_pm
        emu.store.put(cus)
    return render(cus)


def retrieve(req: Request) -> dict[str, Any]:
    obj = req.emu.store.get(req.args["customer"], "customer")
    if obj is None:
        raise no_such("customer", req.args["customer"])
    return render(obj)


def update(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    cus = get_customer(emu, req.args["customer"], "id")
    prev: dict[str, Any] = {}
    set_fields(cus, p, UPDATABLE, prev)
    apply_metadata(cus, p, prev)
    settings = p.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        before = dict(cus["invoice_settings"])
        cus["invoice_settings"]["default_payment_method"] = settings["default_payment_method"] or None
        if before != cus["invoice_settings"]:
            prev["invoice_settings"] = before
    emu.store.put(cus)
    if prev:
        emu.emit("customer.updated", cus, prev)
    return render(cus)


def delete(req: Request) -> dict[str, Any]:
    emu = req.emu
    cus = get_customer(emu, req.args["customer"], "id")
    tomb = {"id": cus["id"], "object": "customer", "deleted": True}
    emu.emit("customer.deleted", cus)
    emu.store.put(tomb)
    return tomb


def list_(req: Request) -> dict[str, Any]:
    objs = [o for o in req.emu.store.all("customer") if not o.get("deleted")]
    email = as_str(req.params, "email")
    if email:
        objs = [o for o in objs if o.get("email") == email]
    return list_response(req, created_filter(objs, req.params), "/v1/customers")


route("POST", "/v1/customers", create)
route("GET", "/v1/customers", list_)
route("GET", "/v1/customers/{customer}", retrieve)
route("POST", "/v1/customers/{customer}", update)
route("DELETE", "/v1/customers/{customer}", delete)
