"""Helpers shared by the resource modules: routing with parameter checks, coercion, lists, expand."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from ..errors import StripeError, invalid, missing, no_such
from ..server import Request, Response, register
from ..state import Emulator, render

ApiHandler = Callable[[Request], "dict[str, Any] | Response"]


def route(method: str, template: str, handler: ApiHandler) -> None:
    """Register a /v1 route given Stripe's path template (`/v1/customers/{customer}`).

    Unknown parameters are refused by the OpenAPI validation hook (stripe_emulator/openapi), the
    one place that knows Stripe's parameter lists; handlers then apply `expand[]` to their answer.
    """
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)

    def wrapped(req: Request) -> dict[str, Any] | Response:
        result = handler(req)
        if isinstance(result, dict) and "expand" in req.params:
            result = expand(req.emu, result, as_list(req.params["expand"], "expand"))
        return result

    register(method, pattern, wrapped, api=True)


# coercion -------------------------------------------------------------------------------------


def as_int(
    params: dict[str, Any], name: str, *, required: bool = False, default: int | None = None
) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name) from None


def as_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid(f"Invalid boolean: {value}", param=name)


def as_str(params: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {value!r}", param=name)
    return value


def as_list(value: Any, name: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise invalid(f"Invalid array: {name}", param=name)


def as_dict(params: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {name}", param=name)
    return value


def currency(params: dict[str, Any], name: str = "currency", *, required: bool = True) -> str | None:
    value = as_str(params, name, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"[a-zA-Z]{3}", value):
        raise invalid(f"Invalid currency: {value}", param=name)
    return value.lower()


def apply_metadata(obj: dict[str, Any], params: dict[str, Any], prev: dict[str, Any] | None = None) -> None:
    """Stripe's metadata update: keys merge, an empty value unsets a key, `metadata=""` clears all."""
    if "metadata" not in params:
        return
    value = params["metadata"]
    before = dict(obj.get("metadata") or {})
    if value == "":
        obj["metadata"] = {}
    elif isinstance(value, dict):
        meta = dict(before)
        for k, v in value.items():
            if v == "":
                meta.pop(k, None)
            else:
                meta[k] = str(v)
        obj["metadata"] = meta
    else:
        raise invalid("Invalid metadata: must be a hash", param="metadata")
    if prev is not None and obj["metadata"] != before:
        prev["metadata"] = before


def set_fields(obj: dict[str, Any], params: dict[str, Any], names: list[str], prev: dict[str, Any]) -> None:
    """Copy updatable scalar/hash fields, recording previous values for `*.updated` events."""
    for name in names:
        if name in params:
            value = params[name]
            if value == "":
                value = None
            if obj.get(name) != value:
                prev[name] = copy.deepcopy(obj.get(name))
                obj[name] = value


def get_object(
    emu: Emulator, kind: str, obj_id: str, label: str | None = None, param: str = "id"
) -> dict[str, Any]:
    obj = emu.store.get(obj_id, kind)
    if obj is None:
        raise no_such(label or kind, obj_id, param)
    return obj


# lists ------------------------------------------------------------------------------------------


def list_response(
    req: Request,
    objects: list[dict[str, Any]],
    url: str,
    *,
    render_fn: Callable[[dict[str, Any]], dict[str, Any]] = render,
) -> dict[str, Any]:
    """Stripe's cursor pagination over `objects` (already newest first)."""
    params = req.params
    limit = as_int(params, "limit", default=10)
    assert limit is not None
    if not 1 <= limit <= 100:
        raise invalid(
            "This value must be greater than or equal to 1 and less than or equal to 100.", param="limit"
        )
    starting_after = as_str(params, "starting_after")
    ending_before = as_str(params, "ending_before")
    ids = [o["id"] for o in objects]
    if starting_after:
        if starting_after not in ids:
            raise no_such("object", starting_after, "starting_after")
        start = ids.index(starting_after) + 1
        page = objects[start : start + limit]
        has_more = start + limit < len(objects)
    elif ending_before:
        if ending_before not in ids:
            raise no_such("object", ending_before, "ending_before")
        end = ids.index(ending_before)
        page = objects[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = objects[:limit]
        has_more = len(objects) > limit
    return {"object": "list", "data": [render_fn(o) for o in page], "has_more": has_more, "url": url}


def created_filter(
    objects: list[dict[str, Any]], params: dict[str, Any], name: str = "created"
) -> list[dict[str, Any]]:
    value = params.get(name)
    if value is None:
        return objects
    if isinstance(value, str):
        exact = as_int(params, name)
        return [o for o in objects if o[name] == exact]
    if not isinstance(value, dict):
        raise invalid(f"Invalid {name}", param=name)
    out = objects
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    for op, fn in ops.items():
        if op in value:
            bound = as_int(value, op)
            assert bound is not None
            out = [o for o in out if fn(o[name], bound)]
    return out


# expand -----------------------------------------------------------------------------------------

# Fields that are not ids in the stored object but appear when expanded (the name → builder).
VIRTUAL: dict[str, dict[str, Callable[[Emulator, dict[str, Any]], Any]]] = {}


def expand(emu: Emulator, obj: dict[str, Any], paths: list[Any]) -> dict[str, Any]:
    """`obj` with `paths` expanded. Copy-on-write: only the dicts on an expanded path are copied,
    so the stored objects are never changed and a 100-item page does not deep-copy 100 charges."""
    obj = dict(obj)
    for path in paths:
        if not isinstance(path, str):
            raise invalid("Invalid expand", param="expand")
        _expand_path(emu, obj, path.split("."), path)
    return obj


def _expand_path(emu: Emulator, obj: dict[str, Any], parts: list[str], full: str) -> None:
    if obj.get("object") == "list" and parts[0] == "data":
        if parts[1:]:
            obj["data"] = [dict(item) for item in obj["data"]]
            for item in obj["data"]:
                _expand_path(emu, item, parts[1:], full)
        return
    head, rest = parts[0], parts[1:]
    builders = VIRTUAL.get(obj.get("object", ""), {})
    if head in builders and (head not in obj or isinstance(obj.get(head), str) or obj.get(head) is None):
        obj[head] = builders[head](emu, obj)
    elif head not in obj:
        raise invalid(f"This property cannot be expanded ({full}).", param="expand")
    value = obj[head]
    if isinstance(value, str):
        target = emu.store.get(value)
        if target is None:
            raise invalid(f"This property cannot be expanded ({full}).", param="expand")
        value = render(target)  # a fresh top-level dict; nested ones are copied below if changed
        obj[head] = value
    elif isinstance(value, dict):
        value = dict(value)
        obj[head] = value
    elif value is not None:
        raise invalid(f"This property cannot be expanded ({full}).", param="expand")
    if rest and isinstance(value, dict):
        _expand_path(emu, value, rest, full)


def snapshot(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(render(obj))


__all__ = ["Request", "Response", "StripeError"]
