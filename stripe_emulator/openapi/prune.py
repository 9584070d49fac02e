"""Cut Stripe's full OpenAPI description down to what the emulator implements.

Dev tool, not runtime code: it reads Stripe's `spec3.json` (which a fresh clone does not have) and
writes `spec.json` beside this file, which ships in the package and is all the emulator reads.

    .venv/bin/python -m stripe_emulator.openapi.prune /work/shared/stripe-openapi/spec3.json

Kept: the operations in `OPERATIONS`, every component schema they reach through `$ref`
(transitively), and every schema keyword validation needs. Dropped: prose (`description`,
`summary`), other operations, and per-schema operation listings, so the file stays small enough to
load at emulator start-up.

Added: request parameters that the pinned stripe-python knows and the spec does not (the SDK speaks
a newer API version, and keeps deprecated parameters Stripe still accepts), each as an any-value
schema marked `"x-sdk-only": true`. Stripe accepts them, so the emulator must not answer
`parameter_unknown`. They come from the SDK's service methods (`params: "PaymentIntentCreateParams"`
next to `self._request("post", "/v1/payment_intents")`), read with `ast` because the params
classes are imported only under TYPE_CHECKING.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

# The operations the emulator serves, as (method, path template) exactly as spelled in the spec.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/v1/customers"),
    ("post", "/v1/customers"),
    ("get", "/v1/customers/{customer}"),
    ("post", "/v1/customers/{customer}"),
    ("delete", "/v1/customers/{customer}"),
    ("get", "/v1/products"),
    ("post", "/v1/products"),
    ("get", "/v1/products/{id}"),
    ("post", "/v1/products/{id}"),
    ("get", "/v1/prices"),
    ("post", "/v1/prices"),
    ("get", "/v1/prices/{price}"),
    ("post", "/v1/prices/{price}"),
    ("get", "/v1/payment_methods"),
    ("post", "/v1/payment_methods"),
    ("get", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}"),
    ("post", "/v1/payment_methods/{payment_method}/attach"),
    ("post", "/v1/payment_methods/{payment_method}/detach"),
    ("get", "/v1/payment_intents"),
    ("post", "/v1/payment_intents"),
    ("get", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}"),
    ("post", "/v1/payment_intents/{intent}/confirm"),
    ("post", "/v1/payment_intents/{intent}/capture"),
    ("post", "/v1/payment_intents/{intent}/cancel"),
    ("get", "/v1/charges"),
    ("get", "/v1/charges/{charge}"),
    (
        "post",
        "/v1/charges/{charge}",
    ),  # served by the emulator (metadata, description) though not in the issue
    ("get", "/v1/refunds"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds/{refund}"),
    ("post", "/v1/refunds/{refund}"),
    ("get", "/v1/checkout/sessions"),
    ("post", "/v1/checkout/sessions"),
    ("get", "/v1/checkout/sessions/{session}"),
    ("post", "/v1/checkout/sessions/{session}"),  # likewise served by the emulator
    ("post", "/v1/checkout/sessions/{session}/expire"),
    ("get", "/v1/checkout/sessions/{session}/line_items"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{id}"),
    ("get", "/v1/webhook_endpoints"),
    ("post", "/v1/webhook_endpoints"),
    # part 3: billing
    ("get", "/v1/setup_intents"),
    ("post", "/v1/setup_intents"),
    ("get", "/v1/setup_intents/{intent}"),
    ("post", "/v1/setup_intents/{intent}/confirm"),
    ("post", "/v1/setup_intents/{intent}/cancel"),
    ("get", "/v1/subscriptions"),
    ("post", "/v1/subscriptions"),
    ("get", "/v1/subscriptions/{subscription_exposed_id}"),
    ("post", "/v1/subscriptions/{subscription_exposed_id}"),
    ("delete", "/v1/subscriptions/{subscription_exposed_id}"),
    ("get", "/v1/invoices"),
    ("get", "/v1/invoices/{invoice}"),
    ("post", "/v1/invoices/{invoice}/pay"),
    ("post", "/v1/invoices/{invoice}/void"),
    ("post", "/v1/invoices/{invoice}/mark_uncollectible"),
    ("get", "/v1/invoice_payments"),
    ("get", "/v1/invoice_payments/{invoice_payment}"),
    ("get", "/v1/webhook_endpoints/{webhook_endpoint}"),
    ("post", "/v1/webhook_endpoints/{webhook_endpoint}"),
    ("delete", "/v1/webhook_endpoints/{webhook_endpoint}"),
    # Payouts and disputes (the later issue): kept now so the spec need not be regenerated then.
    ("get", "/v1/balance_transactions"),
    ("get", "/v1/balance_transactions/{id}"),
    ("get", "/v1/payouts"),
    ("post", "/v1/payouts"),
    ("get", "/v1/payouts/{payout}"),
    ("post", "/v1/payouts/{payout}"),
    ("get", "/v1/disputes"),
    ("get", "/v1/disputes/{dispute}"),
    ("post", "/v1/disputes/{dispute}"),
    ("post", "/v1/disputes/{dispute}/close"),
    ("get", "/v1/balance"),
    ("get", "/v1/files"),
    ("post", "/v1/files"),
    ("get", "/v1/files/{file}"),
    ("get", "/v1/radar/early_fraud_warnings"),
    ("get", "/v1/radar/early_fraud_warnings/{early_fraud_warning}"),
)

# Schemas the tests validate against although no kept operation returns them directly.
EXTRA_SCHEMAS: tuple[str, ...] = ("error",)

# Prose keys: dropped only when their value is a string, so a *property* named `description`
# (whose value is a schema object) survives.
_PROSE_KEYS = frozenset({"description", "summary"})
# Per-schema lists of the operations that touch a resource: documentation, not shape.
_DROPPED_KEYS = frozenset({"x-stripeOperations"})

OUTPUT = Path(__file__).with_name("spec.json")
_REF_PREFIX = "#/components/schemas/"


def _strip(node: Any) -> Any:
    """Copy `node` without prose and operation listings."""
    if isinstance(node, dict):
        return {
            key: _strip(value)
            for key, value in node.items()
            if key not in _DROPPED_KEYS and not (key in _PROSE_KEYS and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def _refs(node: Any, found: set[str]) -> None:
    """Collect the component schema names `node` refers to (not transitively)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


def _reachable(schemas: dict[str, Any], roots: set[str]) -> list[str]:
    """Every schema reachable from `roots` through `$ref`, sorted for a stable file."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in schemas:
            raise KeyError(f"$ref to missing schema {name!r}")
        seen.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - seen)
    return sorted(seen)


# --- SDK-known request parameters ------------------------------------------------------------

_SDK_ONLY: dict[str, Any] = {"x-sdk-only": True}


def _string_constants(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _request_call(function: ast.FunctionDef) -> tuple[str, str] | None:
    """(method, path template) of the `self._request("post", "/v1/...")` call in a service method."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "_request"
            and len(node.args) >= 2
        ):
            method = node.args[0]
            paths = [text for text in _string_constants(node.args[1]) if text.startswith("/v1/")]
            if isinstance(method, ast.Constant) and paths:
                return str(method.value), paths[0]
    return None


def sdk_params_classes() -> dict[tuple[str, str], type]:
    """(method, template) → the SDK's params TypedDict for that operation, from its services."""
    import stripe

    found: dict[tuple[str, str], type] = {}
    for source in sorted(Path(stripe.__file__).parent.rglob("_*_service.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        modules = {
            alias.asname or alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            annotations = [arg.annotation for arg in function.args.args if arg.arg == "params"]
            call = _request_call(function)
            if not annotations or annotations[0] is None or call is None:
                continue
            names = [name for name in _string_constants(annotations[0]) if name in modules]
            if names:
                module = importlib.import_module(modules[names[0]])
                found.setdefault(call, getattr(module, names[0]))
    return found


def _typeddicts(hint: Any, namespace: dict[str, Any]) -> list[type]:
    """TypedDicts a field's hint mentions directly or as list items (not as dict values)."""
    if isinstance(hint, typing.ForwardRef):
        hint = hint.__forward_arg__
    if isinstance(hint, str):
        # "Literal['']|PaymentIntentCreateParamsPaymentMethodOptionsCard": the names in it.
        named = (namespace.get(name) for name in re.findall(r"[A-Za-z_]\w*", hint))
        return [cls for cls in named if isinstance(cls, type) and hasattr(cls, "__required_keys__")]
    if isinstance(hint, type) and hasattr(hint, "__required_keys__"):
        return [hint]
    if typing.get_origin(hint) is dict:
        return []
    return [found for arg in typing.get_args(hint) for found in _typeddicts(arg, namespace)]


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a parameter can take: itself, its anyOf alternatives, its array items."""
    found = [schema] if "properties" in schema else []
    for alt in schema.get("anyOf", ()):
        found += _objects(alt)
    if isinstance(schema.get("items"), dict):
        found += _objects(schema["items"])
    return found


def _overlay(schema: dict[str, Any], params: type, skip: frozenset[str]) -> None:
    objects = _objects(schema)
    if not objects:
        return
    namespace = vars(sys.modules[params.__module__])
    for field, hint in params.__annotations__.items():
        if field in skip:
            continue
        owner = next((obj for obj in objects if field in obj["properties"]), None)
        if owner is None:
            objects[0]["properties"][field] = dict(_SDK_ONLY)
            continue
        for nested in _typeddicts(hint, namespace):
            _overlay(owner["properties"][field], nested, frozenset())


def add_sdk_params(method: str, template: str, operation: dict[str, Any], params: type) -> None:
    """Add the SDK-only parameters of an operation to its (already copied) request description."""
    from stripe._request_options import RequestOptions

    skip = frozenset(RequestOptions.__annotations__)  # api_key, idempotency_key: not parameters
    if method != "get":
        form = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
        if form is not None:
            _overlay(form["schema"], params, skip)
        return
    query = {p["name"]: p for p in operation.get("parameters", ()) if p.get("in") == "query"}
    schema = {"properties": {name: p["schema"] for name, p in query.items()}}
    _overlay(schema, params, skip)
    for name, sub in schema["properties"].items():
        if name not in query:
            operation.setdefault("parameters", []).append({"in": "query", "name": name, "schema": sub})


# --- the pruned description ------------------------------------------------------------------


def prune(spec: dict[str, Any]) -> dict[str, Any]:
    """The pruned description: kept operations, reachable schemas, no prose, SDK-known params."""
    sdk_params = sdk_params_classes()
    paths: dict[str, dict[str, Any]] = {}
    for method, template in OPERATIONS:
        try:
            operation = _strip(spec["paths"][template][method])
        except KeyError:
            raise KeyError(f"{method.upper()} {template} is not in the source spec") from None
        if (method, template) in sdk_params:
            add_sdk_params(method, template, operation, sdk_params[(method, template)])
        paths.setdefault(template, {})[method] = operation
    roots: set[str] = set(EXTRA_SCHEMAS)
    _refs(paths, roots)
    all_schemas = spec["components"]["schemas"]
    schemas = {name: _strip(all_schemas[name]) for name in _reachable(all_schemas, roots)}
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "x-pruned-from": "github.com/stripe/openapi spec3.json (MIT licence, see LICENSE)",
            "x-sdk-params-from": f"stripe-python {_sdk_version()}",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _sdk_version() -> str:
    import stripe

    return str(stripe.VERSION)


def render(spec: dict[str, Any]) -> str:
    """Compact, key-sorted JSON, so regenerating from the same source gives the same bytes."""
    return json.dumps(prune(spec), separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="Stripe's full spec3.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render(json.loads(args.source.read_text(encoding="utf-8")))
    args.output.write_text(text, encoding="utf-8")
    pruned = json.loads(text)
    print(
        f"wrote {args.output}: {len(text.encode()) / 1e6:.2f} MB, "
        f"{sum(len(ops) for ops in pruned['paths'].values())} operations, "
        f"{len(pruned['components']['schemas'])} schemas",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
