"""Shared by the fidelity tests: where Stripe's full spec lives, and a response validator.

A helper module rather than a conftest, so it cannot clash with the emulator's own fixtures.

The response validator checks an object against the pruned spec's component schema the way a
client would notice a difference: required fields, types, nullability, enums, and no field Stripe
does not send. The spec (API 2026-08-26.dahlia) is a little older than the SDK the project pins
(2026-10-28.endive), so a field or enum value that the SDK's generated classes know is allowed
too: the SDK's types win where the two differ.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import typing
from pathlib import Path
from typing import Any

import pytest
import stripe
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from stripe._stripe_object import StripeObject

from stripe_emulator.openapi.validate import SPEC_PATH, find_operation

SOURCE_DIR = Path(os.environ.get("STRIPE_OPENAPI_DIR", "/work/shared/stripe-openapi"))

# Component schema → SDK resource class whose annotations may add fields and enum values.
SDK_CLASSES: dict[str, type[StripeObject]] = {
    "balance_transaction": stripe.BalanceTransaction,
    "charge": stripe.Charge,
    "checkout.session": stripe.checkout.Session,
    "customer": stripe.Customer,
    "dispute": stripe.Dispute,
    "invoice": stripe.Invoice,
    "invoice_payment": stripe.InvoicePayment,
    "setup_intent": stripe.SetupIntent,
    "subscription": stripe.Subscription,
    "subscription_item": stripe.SubscriptionItem,
    "event": stripe.Event,
    "item": stripe.LineItem,
    "payment_intent": stripe.PaymentIntent,
    "payment_method": stripe.PaymentMethod,
    "payout": stripe.Payout,
    "price": stripe.Price,
    "product": stripe.Product,
    "refund": stripe.Refund,
    "webhook_endpoint": stripe.WebhookEndpoint,
}

_SCHEMA_KEYS = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf")


def source_file(name: str) -> Path:
    """A file of Stripe's full OpenAPI repository, or skip: a fresh clone does not have it."""
    path = SOURCE_DIR / name
    if not path.is_file():
        pytest.skip(
            f"{path} is absent: Stripe's full OpenAPI description is only on the shared dev machine "
            "(set STRIPE_OPENAPI_DIR to a checkout of github.com/stripe/openapi/openapi to run this)"
        )
    return path


@functools.cache
def pruned_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return typing.cast(dict[str, Any], json.load(handle))


# --- the SDK side ----------------------------------------------------------------------------


def sdk_fields(cls: type) -> dict[str, Any]:
    """The response fields a generated SDK class declares (its own annotations, no ClassVars)."""
    own = cls.__dict__.get("__annotations__", {})
    return {
        name: hint
        for name, hint in own.items()
        if not name.startswith("_") and typing.get_origin(hint) is not typing.ClassVar
    }


def _walk_hint(hint: Any) -> typing.Iterator[Any]:
    yield hint
    for arg in typing.get_args(hint):
        yield from _walk_hint(arg)


def _nested_classes(hint: Any) -> list[type]:
    """SDK classes nested in a resource (`PaymentIntent.NextAction`) that a field's hint mentions.

    Top-level resources reached through `ExpandableField["Charge"]` are forward references and
    are skipped: they get their own schema pairing through SDK_CLASSES.
    """
    return [
        part
        for part in _walk_hint(hint)
        if isinstance(part, type) and issubclass(part, StripeObject) and "." in part.__qualname__
    ]


def _literals(hint: Any) -> list[str]:
    values: list[str] = []
    for part in _walk_hint(hint):
        if typing.get_origin(part) is typing.Literal:
            values.extend(str(value) for value in typing.get_args(part))
    return values


# --- spec → JSON Schema ----------------------------------------------------------------------


class _SdkMerger:
    """Adds what the SDK knows and the spec does not to a copy of the component schemas."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.seen: set[tuple[str, type]] = set()
        self.sdk_only: set[str] = set()  # "schema.field" added from the SDK, for reporting

    def pair(self, node: dict[str, Any], cls: type, where: str) -> None:
        ref = node.get("$ref")
        if ref is not None:
            name = ref.rsplit("/", 1)[-1]
            if (name, cls) not in self.seen:
                self.seen.add((name, cls))
                self.pair(self.schemas[name], cls, name)
            return
        for alt in node.get("anyOf", ()):
            self.pair(alt, cls, where)
        if isinstance(node.get("items"), dict):
            self.pair(node["items"], cls, where)
        props = node.get("properties")
        if props is None:
            return
        for field, hint in sdk_fields(cls).items():
            if field not in props:
                props[field] = {}  # any value: the newer API sends it, its shape is the SDK's business
                self.sdk_only.add(f"{where}.{field}")
                continue
            _extend_enum(props[field], _literals(hint))
            for nested in _nested_classes(hint):
                self.pair(props[field], nested, f"{where}.{field}")


def _extend_enum(node: dict[str, Any], values: list[str]) -> None:
    """Union newer SDK enum values into wherever the field's schema has an enum."""
    if not values:
        return
    if "enum" in node:
        node["enum"] = sorted(set(node["enum"]) | set(values), key=str)
    if isinstance(node.get("items"), dict):
        _extend_enum(node["items"], values)
    for alt in node.get("anyOf", ()):
        _extend_enum(alt, values)


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema draft 7, closed objects.

    `nullable: true` becomes `anyOf[..., null]` (jsonschema does not know `nullable`, and
    openapi-schema-validator 0.6 ignores it on `anyOf` and `enum`); an object that declares
    properties gets `additionalProperties: false` so an invented field is an error.
    """
    if not isinstance(node, dict):
        return node
    out = {key: value for key, value in node.items() if key != "nullable"}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: to_json_schema(sub) for name, sub in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    for key in _SCHEMA_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = to_json_schema(out[key])
    for key in _SCHEMA_LISTS:
        if key in out:
            out[key] = [to_json_schema(alt) for alt in out[key]]
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class ResponseSchemas:
    """Validates wire JSON against the pruned spec's component schemas (plus SDK-known fields)."""

    def __init__(self, spec: dict[str, Any], sdk_classes: dict[str, type[StripeObject]]) -> None:
        schemas = copy.deepcopy(spec["components"]["schemas"])
        merger = _SdkMerger(schemas)
        for name, cls in sdk_classes.items():
            merger.pair({"$ref": f"#/components/schemas/{name}"}, cls, name)
        self.sdk_only = frozenset(merger.sdk_only)
        self._root = {"components": {"schemas": {n: to_json_schema(s) for n, s in schemas.items()}}}
        self._validators: dict[str, Draft7Validator] = {}

    def response_validator(self, method: str, path: str, status: int) -> Draft7Validator:
        """The validator for what an operation answers with this status (its `default` for errors)."""
        found = find_operation(method, path)
        if found is None:
            raise KeyError(f"{method} {path} is not an operation of the pruned spec")
        key = f"{found[0]} {found[1]} {status}"
        validator = self._validators.get(key)
        if validator is None:
            responses = pruned_spec()["paths"][found[1]][found[0].lower()]["responses"]
            response = responses.get(str(status)) or responses["default"]
            schema = to_json_schema(response["content"]["application/json"]["schema"])
            validator = Draft7Validator({**schema, **self._root})
            self._validators[key] = validator
        return validator

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Problems of a wire response against the operation's response schema in the spec."""
        label = f"{method} {path} → {status}"
        validator = self.response_validator(method, path, status)
        return sorted(_explain(label, error) for error in validator.iter_errors(body))

    def names(self) -> list[str]:
        return sorted(self._root["components"]["schemas"])

    def validator(self, name: str) -> Draft7Validator:
        validator = self._validators.get(name)
        if validator is None:
            if name not in self._root["components"]["schemas"]:
                raise KeyError(f"no schema {name!r} in the pruned spec")
            validator = Draft7Validator({"$ref": f"#/components/schemas/{name}", **self._root})
            self._validators[name] = validator
        return validator

    def errors(self, name: str, instance: Any) -> list[str]:
        """One line per problem: `<schema>.<path>: <what is wrong>`, sorted."""
        return sorted(_explain(name, error) for error in self.validator(name).iter_errors(instance))

    def check(self, name: str, instance: Any) -> None:
        problems = self.errors(name, instance)
        assert not problems, f"{name} {instance.get('id', '') if isinstance(instance, dict) else ''}" + (
            "".join(f"\n  {line}" for line in problems)
        )


def _explain(name: str, error: ValidationError) -> str:
    """The most specific reason: for anyOf, the alternative that got furthest into the value."""
    while error.context:
        error = max(
            error.context,
            key=lambda sub: (len(sub.absolute_path), sub.validator != "type", -len(sub.schema_path)),
        )
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
    return f"{name}{path}: {message}"


@functools.cache
def response_schemas() -> ResponseSchemas:
    return ResponseSchemas(pruned_spec(), SDK_CLASSES)


@functools.cache
def _fixtures() -> dict[str, Any] | None:
    path = SOURCE_DIR / "fixtures3.json"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as handle:
        return typing.cast(dict[str, Any], json.load(handle)["resources"])


def always_present_fields(name: str) -> frozenset[str]:
    """Fields Stripe sends on every `name` object (null when empty), or none known.

    The spec's `required` lists are minimal (a payment_intent only requires id, object, created,
    livemode and status), yet Stripe sends every documented field, and `pi.amount` raises
    AttributeError in the SDK when the JSON lacks it. Stripe's example object for the resource
    (fixtures3.json) shows which fields always come; includable ones (`line_items`, `sources`) are
    absent from it. Without the fixtures (fresh clone) this check is skipped: empty set.
    """
    fixtures = _fixtures()
    if fixtures is None or name not in fixtures:
        return frozenset()
    declared = pruned_spec()["components"]["schemas"][name].get("properties", {})
    return frozenset(field for field in fixtures[name] if field in declared)


def missing_fields(name: str, instance: dict[str, Any]) -> list[str]:
    return [
        f"{name}.{field}: missing (Stripe always sends it)"
        for field in sorted(always_present_fields(name) - set(instance))
    ]


def form_encode(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding, as stripe-python does it: `a[b]`, indexed arrays, lower-case booleans."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(form_encode(value, name))
        elif isinstance(value, list | tuple):
            pairs.extend(form_encode(dict(enumerate(value)), name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs
