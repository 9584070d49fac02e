"""Products and prices: enough of the catalog for Checkout's `line_items` and the demo shop."""

from __future__ import annotations

from typing import Any

from ..errors import invalid, missing
from ..server import Request
from ..state import Emulator, render
from .common import (
    apply_metadata,
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_str,
    created_filter,
    currency,
    get_object,
    list_response,
    route,
    set_fields,
)


def new_product(emu: Emulator, p: dict[str, Any], *, id_: str | None = None) -> dict[str, Any]:
    name = as_str(p, "name", required=True)
    prod = emu.base_object(
        "prod",
        "product",
        active=as_bool(p, "active", True),
        default_price=None,
        description=as_str(p, "description"),
        images=as_list(p.get("images"), "images"),
        marketing_features=[],
        metadata={},
        name=name,
        package_dimensions=None,
        shippable=None,
        statement_descriptor=as_str(p, "statement_descriptor"),
        tax_code=None,
        type="service",
        unit_label=as_str(p, "unit_label"),
        updated=emu.now(),
        url=as_str(p, "url"),
    )
    if id_:
        if emu.store.get(id_) is not None:
            raise invalid("Product already exists.", code="resource_already_exists", param="id")
        prod["id"] = id_
    apply_metadata(prod, p)
    emu.store.put(prod)
    emu.emit("product.created", prod)
    return prod


def new_price(emu: Emulator, p: dict[str, Any], product_id: str, *, active: bool = True) -> dict[str, Any]:
    cur = currency(p)
    unit_amount = as_int(p, "unit_amount")
    if unit_amount is None and p.get("unit_amount_decimal"):
        unit_amount = int(float(p["unit_amount_decimal"]))
    if unit_amount is None:
        raise missing("unit_amount")
    if unit_amount < 0:
        raise invalid("Invalid unit_amount: must be at least 0", param="unit_amount")
    recurring = as_dict(p, "recurring")
    price = emu.base_object(
        "price",
        "price",
        active=as_bool(p, "active", active),
        billing_scheme="per_unit",
        currency=cur,
        custom_unit_amount=None,
        lookup_key=as_str(p, "lookup_key"),
        metadata={},
        nickname=as_str(p, "nickname"),
        product=product_id,
        recurring=(
            {
                "interval": recurring.get("interval", "month"),
                "interval_count": int(recurring.get("interval_count", 1)),
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            }
            if recurring
            else None
        ),
        tax_behavior=p.get("tax_behavior", "unspecified"),
        tiers_mode=None,
        transform_quantity=None,
        type="recurring" if recurring else "one_time",
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
    )
    apply_metadata(price, p)
    emu.store.put(price)
    emu.emit("price.created", price)
    return price


def create_product(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    prod = new_product(emu, p, id_=as_str(p, "id"))
    default_price_data = as_dict(p, "default_price_data")
    if default_price_data:
        price = new_price(emu, default_price_data, prod["id"])
        prod["default_price"] = price["id"]
        emu.store.put(prod)
    return render(prod)


def update_product(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    prod = get_object(emu, "product", req.args["id"])
    prev: dict[str, Any] = {}
    if "active" in p:
        p = {**p, "active": as_bool(p, "active")}
    set_fields(prod, p, ["name", "description", "active", "default_price", "url", "unit_label"], prev)
    apply_metadata(prod, p, prev)
    if prev:
        prod["updated"] = emu.now()
        emu.store.put(prod)
        emu.emit("product.updated", prod, prev)
    return render(prod)


def list_products(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("product")
    if "active" in req.params:
        active = as_bool(req.params, "active")
        objs = [o for o in objs if o["active"] == active]
    return list_response(req, created_filter(objs, req.params), "/v1/products")


def create_price(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    product_id = as_str(p, "product")
    product_data = as_dict(p, "product_data")
    if product_id:
        get_object(emu, "product", product_id, param="product")
    elif product_data:
        product_id = new_product(emu, product_data)["id"]
    else:
        raise missing("product")
    return render(new_price(emu, p, product_id))


def update_price(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    price = get_object(emu, "price", req.args["price"])
    prev: dict[str, Any] = {}
    if "active" in p:
        p = {**p, "active": as_bool(p, "active")}
    set_fields(price, p, ["active", "nickname", "lookup_key"], prev)
    apply_metadata(price, p, prev)
    if prev:
        emu.store.put(price)
        emu.emit("price.updated", price, prev)
    return render(price)


def list_prices(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("price")
    p = req.params
    if "active" in p:
        active = as_bool(p, "active")
        objs = [o for o in objs if o["active"] == active]
    if p.get("product"):
        objs = [o for o in objs if o["product"] == p["product"]]
    if p.get("currency"):
        objs = [o for o in objs if o["currency"] == str(p["currency"]).lower()]
    if p.get("type"):
        objs = [o for o in objs if o["type"] == p["type"]]
    if p.get("lookup_keys"):
        keys = set(as_list(p["lookup_keys"], "lookup_keys"))
        objs = [o for o in objs if o.get("lookup_key") in keys]
    return list_response(req, created_filter(objs, p), "/v1/prices")


route("POST", "/v1/products", create_product)
route("GET", "/v1/products", list_products)
route("GET", "/v1/products/{id}", lambda req: render(get_object(req.emu, "product", req.args["id"])))
route("POST", "/v1/products/{id}", update_product)
route("POST", "/v1/prices", create_price)
route("GET", "/v1/prices", list_prices)
route("GET", "/v1/prices/{price}", lambda req: render(get_object(req.emu, "price", req.args["price"])))
route("POST", "/v1/prices/{price}", update_price)
