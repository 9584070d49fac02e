"""Cut Stripe's full OpenAPI description down to what the emulator implements.

Dev tool, not runtime code: it reads Stripe's `spec3.json` (which a fresh clone does not have) and
writes `spec.json` beside this file, which ships in the package and is all the emulator reads.

    .venv/bin/python -m stripe_emulator.openapi.prune /work/shared/stripe-openapi/spec3.json

Kept: the operations in `OPERATIONS`, every component schema they reach through `$ref`
(transitively), and every schema keyword validation needs. Dropped: prose (`description`,
`summary`), other operations, and per-schema operation listings, so the file stays small enough to
load at emulator start-up.
"""

from __future__ import annotations

import argparse
import json
import sys
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
    ("get", "/v1/refunds"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds/{refund}"),
    ("post", "/v1/refunds/{refund}"),
    ("get", "/v1/checkout/sessions"),
    ("post", "/v1/checkout/sessions"),
    ("get", "/v1/checkout/sessions/{session}"),
    ("post", "/v1/checkout/sessions/{session}/expire"),
    ("get", "/v1/checkout/sessions/{session}/line_items"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{id}"),
    ("get", "/v1/webhook_endpoints"),
    ("post", "/v1/webhook_endpoints"),
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


def prune(spec: dict[str, Any]) -> dict[str, Any]:
    """The pruned description: kept operations, reachable schemas, no prose."""
    paths: dict[str, dict[str, Any]] = {}
    for method, template in OPERATIONS:
        try:
            operation = spec["paths"][template][method]
        except KeyError:
            raise KeyError(f"{method.upper()} {template} is not in the source spec") from None
        paths.setdefault(template, {})[method] = _strip(operation)
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
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


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
