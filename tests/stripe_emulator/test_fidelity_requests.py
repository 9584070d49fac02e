"""validate_request against real operations of the pruned spec: Stripe's parameter errors, exactly.

Params are given as the emulator's form decoder leaves them: nested dicts and lists of strings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_emulator.openapi import prune
from stripe_emulator.openapi.validate import SPEC_PATH, find_operation, validate_request
from tests.stripe_emulator.fidelity_helpers import source_file

PI_CREATE: dict[str, Any] = {
    "amount": "2000",
    "currency": "usd",
    "metadata": {"order": "ORD-1"},
    "expand": ["latest_charge"],
    "capture_method": "manual",
    "payment_method": "pm_card_visa",
    "confirm": "true",
    "return_url": "https://shop.example/return",
    "automatic_payment_methods": {"enabled": "true", "allow_redirects": "never"},
}


def checkout_create(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://shop.example/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancel",
        "client_reference_id": "ORD-7",
        "customer_email": "ada@example.com",
        "metadata": {"order": "ORD-7"},
        "payment_intent_data": {"capture_method": "automatic", "metadata": {"order": "ORD-7"}},
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "1250",
                    "product_data": {"name": "Tea", "metadata": {"sku": "T-1"}},
                },
                "quantity": "2",
            },
            {"price": "price_123", "quantity": "1"},
        ],
        "expand": ["line_items"],
    }
    params.update(overrides)
    return params


def test_valid_payment_intent_create_is_accepted() -> None:
    assert validate_request("POST", "/v1/payment_intents", PI_CREATE) is None


def test_unknown_top_level_parameter() -> None:
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "colour": "blue"})
    assert error is not None
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "parameter_unknown"
    assert error["param"] == "colour"
    assert error["message"] == "Received unknown parameter: colour"


def test_unknown_nested_parameter_is_named_in_bracket_form() -> None:
    params = {**PI_CREATE, "payment_method_data": {"type": "card", "foo": "1"}}
    error = validate_request("POST", "/v1/payment_intents", params)
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_unknown", "payment_method_data[foo]")
    assert error["message"] == "Received unknown parameter: payment_method_data[foo]"


def test_missing_required_parameters() -> None:
    error = validate_request("POST", "/v1/payment_intents", {"currency": "usd"})
    assert error == {
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
        "param": "amount",
        "message": "Missing required param: amount.",
    }
    error = validate_request("POST", "/v1/payment_intents", {"amount": "2000"})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_missing", "currency")


def test_missing_nested_required_parameter() -> None:
    price_data = {"currency": "eur", "product_data": {"description": "no name"}}
    line_item = {"price_data": price_data, "quantity": "1"}
    error = validate_request("POST", "/v1/checkout/sessions", checkout_create(line_items=[line_item]))
    assert error is not None
    assert (error["code"], error["param"]) == (
        "parameter_missing",
        "line_items[0][price_data][product_data][name]",
    )
    assert error["message"] == "Missing required param: line_items[0][price_data][product_data][name]."


@pytest.mark.parametrize("value", ["20.00", "abc", "1e3", " 1"])
def test_integer_field_given_a_non_integer(value: str) -> None:
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "amount": value})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_invalid_integer", "amount")
    assert error["message"] == f"Invalid integer: {value}"


def test_negative_integer_is_an_integer() -> None:
    # Range rules (amount must be positive) are the handler's business, not the schema's.
    assert validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "amount": "-5"}) is None


def test_boolean_must_be_true_or_false() -> None:
    assert validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "confirm": "false"}) is None
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "confirm": "yes"})
    assert error is not None
    assert error["param"] == "confirm"
    assert error["message"] == "Invalid boolean: yes"
    assert "code" not in error


def test_enum_value_outside_the_list() -> None:
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "capture_method": "sometimes"})
    assert error == {
        "type": "invalid_request_error",
        "param": "capture_method",
        "message": "Invalid capture_method: must be one of automatic, automatic_async, or manual",
    }


def test_enum_of_two_values_reads_a_or_b() -> None:
    params = {"metadata": {"a": "b"}, "tax_behavior": "maybe", "currency": "usd"}
    error = validate_request("POST", "/v1/prices", params)
    assert error is not None
    assert error["message"] == "Invalid tax_behavior: must be one of exclusive, inclusive, or unspecified"
    error = validate_request("POST", "/v1/refunds/re_1", {"metadata": {"a": "b"}, "expand": "x"})
    assert error is not None
    assert (error["param"], error["message"]) == ("expand", "Invalid array")


def test_enum_that_stripe_does_not_enforce_is_accepted() -> None:
    # cancellation_reason is marked x-stripeBypassValidation in the spec.
    params = {"cancellation_reason": "something_new"}
    assert validate_request("POST", "/v1/payment_intents/pi_1/cancel", params) is None


def test_nested_enum_inside_line_items() -> None:
    params = checkout_create()
    params["line_items"][0]["price_data"]["tax_behavior"] = "sideways"
    error = validate_request("POST", "/v1/checkout/sessions", params)
    assert error is not None
    assert error["param"] == "line_items[0][price_data][tax_behavior]"
    assert error["message"].startswith("Invalid line_items[0][price_data][tax_behavior]: must be one of ")


def test_unknown_parameter_under_line_items() -> None:
    params = checkout_create()
    params["line_items"][1]["amount"] = "100"  # the pre-2022 line item shape
    error = validate_request("POST", "/v1/checkout/sessions", params)
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_unknown", "line_items[1][amount]")


def test_bad_integer_deep_in_line_items() -> None:
    params = checkout_create()
    params["line_items"][0]["price_data"]["unit_amount"] = "12.50"
    error = validate_request("POST", "/v1/checkout/sessions", params)
    assert error is not None
    assert (error["code"], error["param"]) == (
        "parameter_invalid_integer",
        "line_items[0][price_data][unit_amount]",
    )


def test_deep_valid_checkout_session_create_is_accepted() -> None:
    assert validate_request("POST", "/v1/checkout/sessions", checkout_create()) is None


def test_metadata_takes_any_keys_but_only_string_values() -> None:
    metadata = {"order": "ORD-1", "any key at all": "x", "0": "zero"}
    assert validate_request("POST", "/v1/customers", {"metadata": metadata}) is None
    error = validate_request("POST", "/v1/customers", {"metadata": {"nested": {"a": "b"}}})
    assert error is not None
    assert error["param"] == "metadata"
    assert error["message"] == 'Invalid value type: {"a": "b"} must be a string'


def test_metadata_with_numeric_keys_decoded_as_a_list_is_still_a_hash() -> None:
    # `metadata[0]=a&metadata[1]=b` comes out of the form decoder as a list.
    assert validate_request("POST", "/v1/customers", {"metadata": ["a", "b"]}) is None


def test_expand_is_accepted_everywhere() -> None:
    expand = ["latest_charge", "customer", "payment_method"]
    assert validate_request("POST", "/v1/payment_intents/pi_1/confirm", {"expand": expand}) is None
    assert validate_request("GET", "/v1/payment_intents/pi_1", {"expand": expand}) is None
    assert validate_request("GET", "/v1/checkout/sessions/cs_1", {"expand": ["line_items"]}) is None


def test_list_filters_on_get() -> None:
    params = {"created": {"gte": "1700000000", "lt": "1800000000"}, "limit": "3", "types": ["a.b", "c.d"]}
    assert validate_request("GET", "/v1/events", params) is None
    assert validate_request("GET", "/v1/events", {"created": "1700000000", "type": "charge.*"}) is None
    assert validate_request("GET", "/v1/payment_intents", {"customer": "cus_1", "limit": "100"}) is None


def test_list_filters_are_typed_and_closed() -> None:
    error = validate_request("GET", "/v1/events", {"created": {"gte": "yesterday"}})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_invalid_integer", "created[gte]")
    error = validate_request("GET", "/v1/events", {"created": {"since": "1"}})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_unknown", "created[since]")
    error = validate_request("GET", "/v1/events", {"limit": "ten"})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_invalid_integer", "limit")
    error = validate_request("GET", "/v1/charges", {"status": "succeeded"})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_unknown", "status")


def test_empty_string_unsets_where_the_spec_allows_it() -> None:
    assert validate_request("POST", "/v1/payment_intents/pi_1", {"metadata": ""}) is None
    assert validate_request("POST", "/v1/payment_intents/pi_1", {"receipt_email": ""}) is None
    assert validate_request("POST", "/v1/payment_intents/pi_1", {"setup_future_usage": ""}) is None
    assert validate_request("POST", "/v1/customers/cus_1", {"address": "", "tax_exempt": ""}) is None
    assert validate_request("POST", "/v1/customers/cus_1", {"description": ""}) is None


def test_empty_string_where_a_value_cannot_be_unset() -> None:
    error = validate_request("POST", "/v1/payment_intents/pi_1", {"amount": ""})
    assert error is not None
    assert (error["code"], error["param"]) == ("parameter_invalid_empty", "amount")
    assert error["message"].startswith("You passed an empty string for 'amount'.")
    error = validate_request("POST", "/v1/payment_intents/pi_1", {"capture_method": ""})
    assert error is not None
    assert error["code"] == "parameter_invalid_empty"


def test_any_of_takes_either_shape() -> None:
    # off_session: boolean, or "one_off"/"recurring".
    for value in ("true", "one_off"):
        params = {**PI_CREATE, "off_session": value}
        assert validate_request("POST", "/v1/payment_intents", params) is None
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, "off_session": "sometimes"})
    assert error is not None
    assert error["param"] == "off_session"
    # address: a hash, or "" to unset; a non-empty string is neither.
    address = {"line1": "1 Main St", "city": "Paris", "country": "FR"}
    assert validate_request("POST", "/v1/customers/cus_1", {"address": address}) is None
    error = validate_request("POST", "/v1/customers/cus_1", {"address": "1 Main St"})
    assert error is not None
    assert error["param"] == "address"


def test_concrete_paths_match_their_templates() -> None:
    assert find_operation("post", "/v1/payment_intents/pi_123/confirm") == (
        "POST",
        "/v1/payment_intents/{intent}/confirm",
    )
    assert find_operation("GET", "/v1/checkout/sessions/cs_1/line_items") == (
        "GET",
        "/v1/checkout/sessions/{session}/line_items",
    )
    assert find_operation("GET", "/v1/checkout/sessions") == ("GET", "/v1/checkout/sessions")
    assert find_operation("DELETE", "/v1/customers/cus_1") == ("DELETE", "/v1/customers/{customer}")
    assert find_operation("POST", "/v1/disputes/dp_1/close") == ("POST", "/v1/disputes/{dispute}/close")


def test_each_operation_validates_its_own_parameters() -> None:
    # capture has amount_to_capture, confirm does not.
    capture = {"amount_to_capture": "500"}
    assert validate_request("POST", "/v1/payment_intents/pi_1/capture", capture) is None
    error = validate_request("POST", "/v1/payment_intents/pi_1/confirm", capture)
    assert error is not None
    assert error["code"] == "parameter_unknown"
    error = validate_request("DELETE", "/v1/customers/cus_1", {"force": "true"})
    assert error is not None
    assert error["code"] == "parameter_unknown"


def test_unknown_operations_are_left_to_the_router() -> None:
    assert validate_request("GET", "/v1/nothing_here", {"x": "1"}) is None
    assert validate_request("PATCH", "/v1/customers/cus_1", {"x": "1"}) is None
    assert validate_request("GET", "/v1/customers/cus_1/balance_transactions", {}) is None


def test_pruned_spec_is_in_sync_with_stripes_description() -> None:
    source = source_file("spec3.json")
    expected = prune.render(json.loads(source.read_text(encoding="utf-8")))
    assert SPEC_PATH.read_text(encoding="utf-8") == expected, (
        "stripe_emulator/openapi/spec.json is stale: run "
        f"`.venv/bin/python -m stripe_emulator.openapi.prune {source}`"
    )


def test_pruned_spec_keeps_every_listed_operation_and_is_small() -> None:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    kept = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    assert kept == set(prune.OPERATIONS)
    assert "error" in spec["components"]["schemas"]
    assert SPEC_PATH.stat().st_size < 3_000_000


def test_parameters_only_the_newer_sdk_knows_are_accepted() -> None:
    # stripe-python 16 speaks a newer API than the spec: Stripe accepts what its SDK sends.
    card_options = {"payment_method_options": {"card": {"moto": "true"}}}
    assert validate_request("POST", "/v1/payment_intents", {**PI_CREATE, **card_options}) is None
    assert validate_request("POST", "/v1/customers", {"validate": "false"}) is None
    params = checkout_create(allowed_payment_method_types=["card"])
    assert validate_request("POST", "/v1/checkout/sessions", params) is None
    # ...but not anything at all.
    unknown = {"payment_method_options": {"card": {"mojo": "true"}}}
    error = validate_request("POST", "/v1/payment_intents", {**PI_CREATE, **unknown})
    assert error is not None
    assert error["param"] == "payment_method_options[card][mojo]"


def test_emulator_accepts_what_stripe_accepts(stripe_emulator: Any) -> None:
    # End to end through the SDK: parameters Stripe takes (some known only to the newer SDK)
    # must not be refused by the emulator's own checks either.
    client = stripe_emulator.client()
    customer = client.v1.customers.create(params={"email": "ada@example.com", "validate": False})
    assert customer.email == "ada@example.com"
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "eur",
            "payment_method_types": ["card"],
            "payment_method_options": {"card": {"moto": True, "request_three_d_secure": "automatic"}},
        }
    )
    assert pi.status == "requires_payment_method"


def test_emulator_answers_with_the_validators_error(stripe_emulator: Any) -> None:
    client = stripe_emulator.client()
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params={"amount": 2000, "currency": "eur", "capture_method": "x"})
    assert raised.value.http_status == 400
    assert raised.value.param == "capture_method"
    assert raised.value.user_message == (
        "Invalid capture_method: must be one of automatic, automatic_async, or manual"
    )


_FORM_VALUES = st.recursive(
    st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
_OPERATIONS = [(method.upper(), template) for method, template in prune.OPERATIONS]


@settings(max_examples=200, deadline=None, database=None)
@given(
    operation=st.sampled_from(_OPERATIONS),
    params=st.dictionaries(
        st.sampled_from(["amount", "metadata", "expand", "line_items", "created", "limit", "x", ""])
        | st.text(),
        _FORM_VALUES,
        max_size=4,
    ),
)
def test_any_decoded_form_gets_an_answer_not_an_exception(operation: tuple[str, str], params: Any) -> None:
    # The emulator validates every request before its handlers: an exception here would be a 500.
    method, template = operation
    path = template.replace("{", "x_").replace("}", "")
    error = validate_request(method, path, params)
    assert error is None or (error["type"] == "invalid_request_error" and error["message"])
