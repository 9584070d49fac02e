"""Events (created on every state change, listed and retrieved for 30 days) and webhook endpoints."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import invalid, missing, no_such
from ..server import Request
from ..state import EVENT_RETENTION_SECONDS, Emulator, render
from .common import apply_metadata, as_bool, as_list, as_str, created_filter, get_object, list_response, route


def create_event(
    emu: Emulator, event_type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record an event with a snapshot of `obj` and queue it for every matching endpoint."""
    event = _new_event(emu, event_type, copy.deepcopy(render(obj)), previous_attributes)
    # Fault: Stripe sometimes generates two distinct Event objects for one change.
    if emu.faults.chance(emu.faults.webhook.double_event_rate):
        _new_event(emu, event_type, copy.deepcopy(event["data"]["object"]), previous_attributes)
    return event


def _new_event(
    emu: Emulator, event_type: str, data_object: dict[str, Any], previous_attributes: dict[str, Any] | None
) -> dict[str, Any]:
    ctx = emu.ctx
    endpoints = [
        we["id"]
        for we in emu.store.all("webhook_endpoint")
        if we.get("status") == "enabled"
        and ("*" in we["enabled_events"] or event_type in we["enabled_events"])
    ]
    data: dict[str, Any] = {"object": data_object}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    event = {
        "id": emu.new_id("evt"),
        "object": "event",
        "api_version": emu.api_version,
        "created": emu.now(),
        "data": data,
        "livemode": bool(data_object.get("livemode", ctx.livemode)),
        "pending_webhooks": len(endpoints),
        "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
        "type": event_type,
        "_deliveries": {we: "pending" for we in endpoints},
    }
    emu.store.put(event)
    # Endpoints are ordered oldest first so deliveries go out in creation order.
    emu.webhooks.enqueue(event, list(reversed(endpoints)))
    return event


def _visible(emu: Emulator) -> list[dict[str, Any]]:
    cutoff = emu.now() - EVENT_RETENTION_SECONDS
    return [e for e in emu.store.all("event") if e["created"] >= cutoff]


def retrieve(req: Request) -> dict[str, Any]:
    emu = req.emu
    event = emu.store.get(req.args["id"], "event")
    if event is None or event["created"] < emu.now() - EVENT_RETENTION_SECONDS:
        raise no_such("event", req.args["id"])
    return render(event)


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def list_(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    emu.sweep()  # time-driven events (payouts, disputes) due by now exist before they are listed
    objs = _visible(emu)
    event_type = as_str(p, "type")
    if event_type:
        objs = [e for e in objs if _type_matches(event_type, e["type"])]
    types = as_list(p.get("types"), "types")
    if types:
        if event_type:
            raise invalid("You may only specify one of these parameters: type, types.", param="types")
        if len(types) > 20:
            raise invalid("You may pass at most 20 types.", param="types")
        objs = [e for e in objs if any(_type_matches(t, e["type"]) for t in types)]
    if "delivery_success" in p:
        success = as_bool(p, "delivery_success")
        objs = [e for e in objs if (e["pending_webhooks"] == 0) == success]
    return list_response(req, created_filter(objs, p), "/v1/events")


# webhook endpoints ------------------------------------------------------------------------------


def _events_param(p: dict[str, Any]) -> list[str]:
    events = as_list(p.get("enabled_events"), "enabled_events")
    for i, name in enumerate(events):
        if not isinstance(name, str) or not name or (name != "*" and "." not in name):
            raise invalid(
                f"Invalid enabled_events[{i}]: {name!r} is not a known event type.", param="enabled_events"
            )
    return events


def new_endpoint(
    emu: Emulator, url: str, events: list[str], secret: str | None = None, **fields: Any
) -> dict[str, Any]:
    secret = secret or "whsec_" + emu.new_id("x", 32)[2:]
    we = emu.base_object(
        "we",
        "webhook_endpoint",
        api_version=fields.get("api_version"),
        application=None,
        description=fields.get("description"),
        enabled_events=events,
        metadata={},
        status="enabled",
        url=url,
        _secrets=[{"secret": secret, "expires": None}],
    )
    emu.store.put(we)
    return we


def create_endpoint(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    url = as_str(p, "url", required=True)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise invalid(f"Invalid URL: {url}", code="url_invalid", param="url")
    if "enabled_events" not in p:
        raise missing("enabled_events")
    we = new_endpoint(
        emu, url, _events_param(p), description=as_str(p, "description"), api_version=as_str(p, "api_version")
    )
    apply_metadata(we, p)
    emu.store.put(we)
    out = render(we)
    out["secret"] = we["_secrets"][-1]["secret"]  # only ever shown on create
    return out


def update_endpoint(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    we = get_object(emu, "webhook_endpoint", req.args["webhook_endpoint"], "webhook_endpoint")
    if "url" in p:
        we["url"] = as_str(p, "url", required=True)
    if "enabled_events" in p:
        we["enabled_events"] = _events_param(p)
    if "description" in p:
        we["description"] = as_str(p, "description")
    if "disabled" in p:
        we["status"] = "disabled" if as_bool(p, "disabled") else "enabled"
    apply_metadata(we, p)
    emu.store.put(we)
    return render(we)


def delete_endpoint(req: Request) -> dict[str, Any]:
    emu = req.emu
    we = get_object(emu, "webhook_endpoint", req.args["webhook_endpoint"], "webhook_endpoint")
    emu.store.delete(we["id"])
    return {"id": we["id"], "object": "webhook_endpoint", "deleted": True}


def roll_secret(emu: Emulator, we_id: str, expire_in: float = 0) -> dict[str, Any]:
    """New secret now; the old ones keep signing for `expire_in` seconds of emulator time."""
    we = emu.store.get(we_id, "webhook_endpoint")
    if we is None:
        raise no_such("webhook_endpoint", we_id)
    expires = emu.clock.time() + float(expire_in)
    for s in we["_secrets"]:
        if s["expires"] is None or s["expires"] > expires:
            s["expires"] = expires
    secret = "whsec_" + emu.new_id("x", 32)[2:]
    we["_secrets"].append({"secret": secret, "expires": None})
    emu.store.put(we)
    out = render(we)
    out["secret"] = secret
    return out


route("GET", "/v1/events", list_)
route("GET", "/v1/events/{id}", retrieve)
route("POST", "/v1/webhook_endpoints", create_endpoint)
route(
    "GET",
    "/v1/webhook_endpoints",
    lambda req: list_response(req, req.emu.store.all("webhook_endpoint"), "/v1/webhook_endpoints"),
)
route(
    "GET",
    "/v1/webhook_endpoints/{webhook_endpoint}",
    lambda req: render(
        get_object(req.emu, "webhook_endpoint", req.args["webhook_endpoint"], "webhook_endpoint")
    ),
)
route("POST", "/v1/webhook_endpoints/{webhook_endpoint}", update_endpoint)
route("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}", delete_endpoint)
