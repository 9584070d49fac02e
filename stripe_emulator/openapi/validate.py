"""Validate request parameters against Stripe's OpenAPI description, the way Stripe rejects them.

The emulator calls `validate_request` with the decoded form (or query string) of every request it
serves; a non-None answer is the `error` object of a 400 `invalid_request_error`. The rules come
from `spec.json` beside this file (pruned from Stripe's spec by `prune.py`), so an integration that
sends a parameter real Stripe would refuse fails here too, instead of passing locally and breaking
in production.

Stdlib only, on purpose: the emulator has no runtime dependencies. Request schemas use a small,
regular subset of OpenAPI (type, properties, required, additionalProperties, items, enum, anyOf,
maxLength, format), which is what is compiled below into `_Node` trees at import, once, so each
request is a walk over plain attributes (see the README for the timing).

Error shapes follow what Stripe answers (codes from the `api_errors.code` enum of the spec): unknown
→ `parameter_unknown`, missing → `parameter_missing`, non-integer → `parameter_invalid_integer`,
an empty string where a value cannot be unset → `parameter_invalid_empty`. Stripe sends no code for
a bad enum value, boolean, array or object, only `param` and a message; so do we.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("spec.json")

_ERROR_TYPE = "invalid_request_error"
_DOC_URL = "https://stripe.com/docs/error-codes/"
_INTEGER_RE = re.compile(r"-?[0-9]+\Z")
_DECIMAL_RE = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")
_NUMBER_RE = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")

# Node kinds.
_ANY, _OBJECT, _ARRAY, _STRING, _INTEGER, _NUMBER, _BOOLEAN, _ANYOF = range(8)
_SCALARS = frozenset({_STRING, _INTEGER, _NUMBER, _BOOLEAN})
_TYPE_KINDS = {
    "object": _OBJECT,
    "array": _ARRAY,
    "string": _STRING,
    "integer": _INTEGER,
    "number": _NUMBER,
    "boolean": _BOOLEAN,
}


class _Node:
    """One compiled schema. Plain slots rather than dict lookups: this is the per-request hot path."""

    __slots__ = (
        "alts",
        "decimal",
        "enum",
        "enum_text",
        "extra",
        "items",
        "kind",
        "max_length",
        "props",
        "required",
    )

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.props: dict[str, _Node] | None = None  # object: known properties
        self.required: tuple[str, ...] = ()
        # object: schema of undeclared keys (metadata); None means undeclared keys are unknown params.
        self.extra: _Node | None = None
        self.items: _Node | None = None  # array: item schema
        self.enum: frozenset[str] | None = None  # string: allowed values, when Stripe enforces them
        self.enum_text = ""  # the "a, b, or c" of the error message
        self.max_length: int | None = None
        self.decimal = False  # string with format decimal ("12.50")
        self.alts: tuple[_Node, ...] = ()  # anyOf alternatives

    def accepts_empty(self) -> bool:
        """Whether "" is a valid value: a free string, or an enum (of an anyOf) listing ""."""
        if self.kind == _STRING:
            return self.enum is None or "" in self.enum
        if self.kind == _ANYOF:
            return any(alt.accepts_empty() for alt in self.alts)
        return self.kind == _ANY


class _Compiler:
    """Turns spec schemas into `_Node`s, resolving `$ref` within the spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
        self._refs: dict[str, _Node] = {}

    def compile(self, schema: dict[str, Any]) -> _Node:
        ref = schema.get("$ref")
        if ref is not None:
            return self._ref(ref)
        if "anyOf" in schema:
            node = _Node(_ANYOF)
            node.alts = tuple(self.compile(alt) for alt in schema["anyOf"])
            return node
        kind = _TYPE_KINDS.get(schema.get("type", "string" if "enum" in schema else ""), _ANY)
        node = _Node(kind)
        if kind == _OBJECT:
            self._object(node, schema)
        elif kind == _ARRAY:
            node.items = self.compile(schema.get("items", {}))
        elif kind == _STRING:
            self._string(node, schema)
        return node

    def _ref(self, ref: str) -> _Node:
        # Memoised before filling in, so a recursive schema compiles to a cycle instead of looping.
        node = self._refs.get(ref)
        if node is None:
            name = ref.rsplit("/", 1)[-1]
            target = self.compile(self._schemas[name])
            node = self._refs.setdefault(ref, target)
        return node

    def _object(self, node: _Node, schema: dict[str, Any]) -> None:
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            node.extra = self.compile(extra)
        elif props is None and extra is not False:
            # A bare `type: object` is free-form (e.g. a hash Stripe does not describe).
            node.kind = _ANY
            return
        # Stripe rejects undeclared nested keys although only the top level says
        # `additionalProperties: false`, so declared properties close the object.
        node.props = {name: self.compile(sub) for name, sub in (props or {}).items()}
        node.required = tuple(schema.get("required", ()))

    @staticmethod
    def _string(node: _Node, schema: dict[str, Any]) -> None:
        enum = schema.get("enum")
        # x-stripeBypassValidation marks enums Stripe documents but does not enforce on input.
        if enum is not None and not schema.get("x-stripeBypassValidation"):
            node.enum = frozenset(enum)
            node.enum_text = _one_of([value for value in enum if value != ""])
        node.max_length = schema.get("maxLength")
        node.decimal = schema.get("format") == "decimal"


def _one_of(values: list[str]) -> str:
    """Stripe's list in "must be one of a, b, or c" ("a or b" for two)."""
    if len(values) <= 2:
        return " or ".join(values)
    return ", ".join(values[:-1]) + ", or " + values[-1]


def _error(param: str, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": _ERROR_TYPE, "param": param, "message": message}
    if code is not None:
        error["code"] = code
        error["doc_url"] = _DOC_URL + code.replace("_", "-")
    return error


def _empty(param: str) -> dict[str, Any]:
    return _error(
        param,
        f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a "
        f"parameter; however '{param}' cannot be unset. You should remove '{param}' from your request "
        "or supply a non-empty value.",
        "parameter_invalid_empty",
    )


def _check(node: _Node, value: Any, param: str) -> dict[str, Any] | None:
    """The first error in `value` against `node`, or None. `param` is the bracket name of `value`."""
    kind = node.kind
    if kind == _STRING:
        return _check_string(node, value, param)
    if kind == _OBJECT:
        return _check_object(node, value, param)
    if kind == _INTEGER:
        if isinstance(value, str) and _INTEGER_RE.match(value):
            return None
        if value == "":
            return _empty(param)
        return _error(param, f"Invalid integer: {_show(value)}", "parameter_invalid_integer")
    if kind == _BOOLEAN:
        if value == "true" or value == "false":
            return None
        return _empty(param) if value == "" else _error(param, f"Invalid boolean: {_show(value)}")
    if kind == _ANYOF:
        return _check_anyof(node, value, param)
    if kind == _ARRAY:
        return _check_array(node, value, param)
    if kind == _NUMBER:
        if isinstance(value, str) and _NUMBER_RE.match(value):
            return None
        return _empty(param) if value == "" else _error(param, f"Invalid float: {_show(value)}")
    return None  # _ANY


def _check_string(node: _Node, value: Any, param: str) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return _error(param, f"Invalid string: {_show(value)}")
    enum = node.enum
    if enum is not None and value not in enum:
        if value == "":
            return _empty(param)
        return _error(param, f"Invalid {param}: must be one of {node.enum_text}")
    if node.max_length is not None and len(value) > node.max_length:
        return _error(param, f"Invalid string: {value[:20]}...; must be at most {node.max_length} characters")
    if node.decimal and value and not _DECIMAL_RE.match(value):
        return _error(param, f"Invalid decimal: {value}")
    return None


def _check_object(node: _Node, value: Any, param: str) -> dict[str, Any] | None:
    if isinstance(value, list):
        # `metadata[0]=x` decodes to a list; for a hash those indices are just keys.
        value = {str(index): item for index, item in enumerate(value)}
    elif not isinstance(value, dict):
        return _empty(param) if value == "" else _error(param, "Invalid object")
    props = node.props
    extra = node.extra
    if props is not None:
        # Names before values: an unknown or missing parameter is reported even when a sibling's
        # value is also wrong (Stripe does not document its order between several errors).
        if extra is None:
            for key in value:
                if key not in props:
                    name = f"{param}[{key}]" if param else key
                    return _error(name, f"Received unknown parameter: {name}", "parameter_unknown")
        for key in node.required:
            if key not in value:
                name = f"{param}[{key}]" if param else key
                return _error(name, f"Missing required param: {name}.", "parameter_missing")
        for key, item in value.items():
            sub = props.get(key)
            if sub is not None:
                error = _check(sub, item, f"{param}[{key}]" if param else key)
            elif extra is not None:
                error = _check_free_member(extra, item, param, key)
            else:
                continue  # unreachable: an undeclared key of a closed object was refused above
            if error is not None:
                return error
    elif extra is not None:
        for key, item in value.items():
            error = _check_free_member(extra, item, param, key)
            if error is not None:
                return error
    return None


def _check_free_member(extra: _Node, item: Any, param: str, key: str) -> dict[str, Any] | None:
    """A value under a key the schema does not name (a metadata entry)."""
    if extra.kind == _STRING and not isinstance(item, str):
        # Stripe names the hash, not the key, when a metadata value is not a string.
        return _error(param, f"Invalid value type: {_show(item)} must be a string")
    return _check(extra, item, f"{param}[{key}]" if param else key)


def _check_array(node: _Node, value: Any, param: str) -> dict[str, Any] | None:
    if not isinstance(value, list):
        return _empty(param) if value == "" else _error(param, "Invalid array")
    items = node.items
    if items is None or items.kind == _ANY:
        return None
    for index, item in enumerate(value):
        error = _check(items, item, f"{param}[{index}]")
        if error is not None:
            return error
    return None


def _check_anyof(node: _Node, value: Any, param: str) -> dict[str, Any] | None:
    if value == "" and node.accepts_empty():
        return None  # the empty string unsets the field
    # Try the alternatives shaped like the value first, and report the first one's error: that
    # is the alternative the caller evidently meant (a hash for `address[...]`, a string for `address=`).
    first_error: dict[str, Any] | None = None
    for alt in _candidates(node, value):
        error = _check(alt, value, param)
        if error is None:
            return None
        if first_error is None:
            first_error = error
    if first_error is not None:
        return first_error
    if isinstance(value, dict):
        return _error(param, "Invalid string: " + _show(value))
    return _error(param, "Invalid object" if isinstance(value, str) else "Invalid array")


def _candidates(node: _Node, value: Any) -> list[_Node]:
    """The alternatives of an anyOf that could take a value of this shape, unset-only enums last."""
    if isinstance(value, dict):
        wanted = {_OBJECT, _ANY}
    elif isinstance(value, list):
        wanted = {_ARRAY, _OBJECT, _ANY}
    else:
        wanted = {*_SCALARS, _ANYOF, _ANY}
    fitting = [alt for alt in node.alts if alt.kind in wanted]
    fitting.sort(key=lambda alt: alt.enum == frozenset({""}))
    return fitting


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Operation:
    __slots__ = ("method", "root", "template")

    def __init__(self, method: str, template: str, root: _Node) -> None:
        self.method = method
        self.template = template
        self.root = root


def _request_schema(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The parameters of an operation as one object schema (form body, or query for GET)."""
    if method != "get":
        body = operation.get("requestBody", {}).get("content", {})
        form = body.get("application/x-www-form-urlencoded") or body.get("multipart/form-data")
        if form is not None:
            return dict(form["schema"])
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in operation.get("parameters", ()):
        if parameter.get("in") != "query":
            continue
        properties[parameter["name"]] = parameter.get("schema", {})
        if parameter.get("required"):
            required.append(parameter["name"])
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^/{}]+\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts) + r"\Z")


class _Index:
    """Every operation of the pruned spec, by method: literal paths in a dict, templates by prefix."""

    def __init__(self, spec: dict[str, Any]) -> None:
        compiler = _Compiler(spec)
        self.literal: dict[tuple[str, str], _Operation] = {}
        # (method, segment count, first segment after /v1) → [(regex, operation)]
        self.templated: dict[tuple[str, int, str], list[tuple[re.Pattern[str], _Operation]]] = {}
        for template, operations in spec["paths"].items():
            for method, operation in operations.items():
                schema = _request_schema(method, operation)
                # expand is accepted everywhere (Stripe documents it on almost every operation).
                schema.setdefault("properties", {}).setdefault(
                    "expand", {"type": "array", "items": {"type": "string"}}
                )
                op = _Operation(method.upper(), template, compiler.compile(schema))
                if "{" not in template:
                    self.literal[(op.method, template)] = op
                else:
                    key = (op.method, *_bucket(template))
                    self.templated.setdefault(key, []).append((_path_regex(template), op))

    def find(self, method: str, path: str) -> _Operation | None:
        op = self.literal.get((method, path))
        if op is not None:
            return op
        for regex, candidate in self.templated.get((method, *_bucket(path)), ()):
            if regex.match(path):
                return candidate
        return None


def _bucket(path: str) -> tuple[int, str]:
    segments = path.split("/")
    return len(segments), segments[2] if len(segments) > 2 else ""


def _load() -> _Index:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return _Index(json.load(handle))


_INDEX = _load()


def find_operation(method: str, path: str) -> tuple[str, str] | None:
    """(METHOD, path template) of the spec operation serving a concrete path, or None."""
    op = _INDEX.find(method.upper(), path)
    return None if op is None else (op.method, op.template)


def validate_request(method: str, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """Stripe's `error` object for parameters Stripe would refuse, or None when they are acceptable.

    None too for an operation the spec does not list: the emulator's own routing answers those.
    """
    op = _INDEX.find(method.upper(), path)
    if op is None:
        return None
    return _check(op.root, params, "")
