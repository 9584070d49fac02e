"""Stripe's error envelope and the exceptions handlers raise to produce it."""

from __future__ import annotations

from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"

# Codes that mean "the request never started executing": Stripe does not store these under the
# idempotency key, so a corrected retry with the same key is allowed.
VALIDATION_CODES = frozenset(
    {
        "parameter_missing",
        "parameter_unknown",
        "parameter_invalid_integer",
        "parameter_invalid_empty",
        "parameter_invalid_string_empty",
        "parameters_exclusive",
        "url_invalid",
    }
)


class StripeError(Exception):
    """Raised anywhere below the dispatcher; rendered as `{"error": {...}}` with `status`."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.headers = headers or {}
        self.extra = extra

    @property
    def stored_by_idempotency(self) -> bool:
        return self.code not in VALIDATION_CODES and self.status not in (401, 429)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param:
            err["param"] = self.param
        if self.decline_code:
            err["decline_code"] = self.decline_code
        err.update(self.extra)
        return {"error": err}


def invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown(param: str) -> StripeError:
    return invalid(f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def no_such(kind: str, obj_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404, "invalid_request_error", f"No such {kind}: '{obj_id}'", code="resource_missing", param=param
    )


def unexpected_state(message: str, obj: dict[str, Any] | None = None) -> StripeError:
    extra: dict[str, Any] = {}
    if obj is not None and obj.get("object") == "payment_intent":
        extra["payment_intent"] = obj
    return StripeError(400, "invalid_request_error", message, code="payment_intent_unexpected_state", **extra)
