"""The one module that talks to Stripe.

Everything else in the project calls the functions here and gets plain dicts back, or one of the
exceptions below. Rules this module keeps (docs/architecture.md, "One gateway"):

- One `StripeClient`, built from settings: key, pinned API version, base address (empty means
  real Stripe), explicit `max_network_retries` (a StripeClient without it retries nothing),
  connect and read timeouts.
- Every write carries an idempotency key chosen by the caller from the business operation
  (`core.keys.idempotency_key("order", 12, "payment-intent")` → `order:12:payment-intent:v1`), so the SDK's
  own retries, ours and a Celery retry all reach Stripe as the same request.
- The SDK retries connection errors, 409s, 5xx and 429s marked `Stripe-Should-Retry: true`.
  It does not retry rate-limit 429s: we do, with exponential backoff, jitter and a cap, unless
  Stripe says `Stripe-Should-Retry: false`.
- Every call is logged with Stripe's request id, the operation, our ids and its priority; never
  a key, a client secret or card data (the logging filter masks them as a second line of defence).
- Every request (each attempt, each page) first takes a token from the account's API budget
  (`payments/stripe_budget.py`), shared by every process: customers first, background calls wait.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import stripe
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from payments import stripe_budget

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# Error messages are shown to staff and logged: they name the operation, never the request body.
MESSAGE_UNAVAILABLE = "Stripe did not answer {operation}; the outcome is unknown, retry with the same key."
MESSAGE_RATE_LIMITED = "Stripe rate-limited {operation} {attempts} times in a row."
MESSAGE_INVALID = "Stripe refused {operation}: {code}."
MESSAGE_SIGNATURE = "The Stripe-Signature header does not match any configured webhook secret."
MESSAGE_NO_KEY = "every write to Stripe needs an idempotency key from its business operation"
MESSAGE_SUBMIT_UNSAID = "a dispute update must say submit=True or submit=False (Stripe defaults to true)"


# ---------------------------------------------------------------------------- exceptions


class StripeGatewayError(Exception):
    """Base of every error this module raises. `str()` is safe to log and to show staff."""

    def __init__(self, message: str, *, request_id: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.code = code


class CardDeclined(StripeGatewayError):
    """The card was declined (402). `code` is Stripe's error code, `decline_code` the issuer's."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        code: str | None = None,
        decline_code: str | None = None,
        payment_intent: JsonDict | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, code=code)
        self.decline_code = decline_code
        self.payment_intent = payment_intent


class AuthenticationRequired(CardDeclined):
    """The payment needs the customer to authenticate (3-D Secure) before it can go through."""


class RateLimited(StripeGatewayError):
    """Stripe kept answering 429 after our retries."""


class StripeUnavailable(StripeGatewayError):
    """Network failure, timeout, 5xx or a 409 key-in-use: the outcome is unknown. Retry the same
    operation with the same idempotency key, or look the object up."""


class InvalidRequest(StripeGatewayError):
    """Stripe refused the request (400/404, including an idempotency key reused with other
    parameters). Retrying the same request will not help."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, code=code)
        self.param = param


class SignatureInvalid(StripeGatewayError):
    """A webhook body whose signature or timestamp does not verify."""


# ---------------------------------------------------------------------------- client


@functools.cache
def get_client() -> stripe.StripeClient:
    base_addresses: dict[str, str] = {}
    if settings.STRIPE_API_BASE:
        # The SDK sends file uploads to its "files" base (files.stripe.com), not to "api": point
        # both at the same place, so an evidence upload never leaves for the real Stripe.
        base = settings.STRIPE_API_BASE.rstrip("/")
        base_addresses = {"api": base, "files": base}
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(
            timeout=(settings.STRIPE_CONNECT_TIMEOUT, settings.STRIPE_READ_TIMEOUT)
        ),
    )


@receiver(setting_changed)
def _reset_client(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("STRIPE_"):
        get_client.cache_clear()


# ---------------------------------------------------------------------------- calling


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, times U[0.5, 1]."""
    ceiling = min(settings.STRIPE_RETRY_BASE_DELAY * 2 ** (attempt - 1), settings.STRIPE_RETRY_MAX_DELAY)
    return ceiling * random.uniform(0.5, 1.0)


def _header(error: stripe.StripeError, name: str) -> str | None:
    headers = error.headers or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _translate(error: stripe.StripeError, operation: str) -> StripeGatewayError:
    """Turn an SDK error into one of ours, keeping Stripe's codes and never the request body."""
    request_id = error.request_id
    # Stripe's error body (an ErrorObject, every field present, None when absent), or None when the
    # answer had none (a proxy's 5xx). The SDK copies `code` onto some of its errors only: read it here.
    details = error.error
    code = details.code if details else None
    if isinstance(error, stripe.CardError) and details:  # a 402 from Stripe always has its body
        payment_intent = details.payment_intent
        pi_dict = payment_intent.to_dict() if isinstance(payment_intent, stripe.StripeObject) else None
        cls = AuthenticationRequired if code == "authentication_required" else CardDeclined
        return cls(
            f"Card declined during {operation}: {code}.",
            request_id=request_id,
            code=code,
            decline_code=details.decline_code,
            payment_intent=pi_dict,
        )
    if isinstance(error, stripe.APIConnectionError | stripe.APIError):
        return StripeUnavailable(
            MESSAGE_UNAVAILABLE.format(operation=operation), request_id=request_id, code=code
        )
    if isinstance(error, stripe.IdempotencyError):
        code = "idempotency_error"
    return InvalidRequest(
        MESSAGE_INVALID.format(operation=operation, code=code or type(error).__name__),
        request_id=request_id,
        code=code,
        param=details.param if details else None,
    )


def _log(
    level: int, operation: str, outcome: str, *, request_id: str | None, ids: JsonDict | None, **more: Any
) -> None:
    """One line per call: operation, outcome, Stripe's request id and our own identifiers.

    The identifiers go both into the text (readable locally) and into `extra` (JSON fields)."""
    fields = {"request_id": request_id, **(ids or {}), **more}
    rendered = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
    logger.log(
        level, "stripe %s %s %s", operation, outcome, rendered, extra={"operation": operation, **fields}
    )


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)  # pragma: no mutate: log-only, needs a clock


def _call(operation: str, fn: Callable[[], Any], *, ids: JsonDict | None = None) -> Any:
    """Run one SDK call with our rate-limit retry around it, log it, translate its errors.

    Every attempt first takes a token from the account's budget (payments/stripe_budget.py) at
    the caller's priority, so the product stays below Stripe's limit on its own."""
    max_attempts = 1 + settings.STRIPE_RATE_LIMIT_RETRIES
    level = stripe_budget.current_priority()
    ids = {**(ids or {}), "priority": level}
    attempt = 0
    while True:  # ends in a return or a raise: a 429 is retried until `max_attempts`
        attempt += 1
        waited = stripe_budget.acquire(operation, sleep=_sleep)
        if waited:
            _log(logging.INFO, operation, f"waited {waited:.2f}s for the budget", request_id=None, ids=ids)
        started = time.monotonic()
        try:
            result = fn()
        except stripe.RateLimitError as error:
            # A lock on the object, not the account's limit (the SDK sets no `code` on a 429).
            if (error.error.code if error.error else None) != "lock_timeout":
                stripe_budget.rate_limited(operation, request_id=error.request_id)
            if _header(error, "Stripe-Should-Retry") == "false" or attempt == max_attempts:
                _log(
                    logging.WARNING,
                    operation,
                    "rate-limited, giving up",
                    request_id=error.request_id,
                    ids=ids,
                    attempt=attempt,
                )
                raise RateLimited(
                    MESSAGE_RATE_LIMITED.format(operation=operation, attempts=attempt),
                    request_id=error.request_id,
                ) from None
            delay = backoff_delay(attempt)
            _log(
                logging.INFO,
                operation,
                f"rate-limited, retrying in {delay:.2f}s",
                request_id=error.request_id,
                ids=ids,
                attempt=attempt,
            )
            _sleep(delay)
            continue
        except stripe.StripeError as error:
            translated = _translate(error, operation)
            _log(
                logging.WARNING,
                operation,
                f"failed: {type(translated).__name__}",
                request_id=error.request_id,
                ids=ids,
                code=translated.code,
                attempt=attempt,
            )
            raise translated from None
        # An SDK object carries its response; a raw_request answer is the response.
        response = getattr(result, "last_response", None) or result
        _log(
            logging.INFO,
            operation,
            "ok",
            request_id=getattr(response, "request_id", None),
            ids=ids,
            duration_ms=_ms_since(started),
            attempt=attempt,
        )
        return result


def _plain(obj: Any) -> JsonDict:
    return obj.to_dict(for_json=True)  # type: ignore[no-any-return,unused-ignore]


def _write(
    operation: str, service: Callable[..., Any], *, params: JsonDict | None = None, key: str, ids: JsonDict
) -> JsonDict:
    if not key:
        raise ValueError(MESSAGE_NO_KEY)
    return _plain(_call(operation, lambda: service(params=params, options={"idempotency_key": key}), ids=ids))


def _read(
    operation: str, service: Callable[..., Any], *, params: JsonDict | None = None, ids: JsonDict
) -> JsonDict:
    return _plain(_call(operation, lambda: service(params=params), ids=ids))


# ---------------------------------------------------------------------------- operations
# Each takes the business operation's idempotency key (writes) and our identifiers for the log.


def customer_create(*, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None) -> JsonDict:
    return _write(
        "customer.create", get_client().v1.customers.create, params=params, key=idempotency_key, ids=ids or {}
    )


def payment_intent_create(*, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None) -> JsonDict:
    return _write(
        "payment_intent.create",
        get_client().v1.payment_intents.create,
        params=params,
        key=idempotency_key,
        ids=ids or {},
    )


def payment_intent_update(
    *, payment_intent_id: str, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None
) -> JsonDict:
    service = functools.partial(get_client().v1.payment_intents.update, payment_intent_id)
    return _write("payment_intent.update", service, params=params, key=idempotency_key, ids=ids or {})


def payment_intent_confirm(
    *, payment_intent_id: str, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None
) -> JsonDict:
    service = functools.partial(get_client().v1.payment_intents.confirm, payment_intent_id)
    return _write("payment_intent.confirm", service, params=params, key=idempotency_key, ids=ids or {})


def payment_intent_cancel(
    *, payment_intent_id: str, idempotency_key: str, ids: JsonDict | None = None
) -> JsonDict:
    service = functools.partial(get_client().v1.payment_intents.cancel, payment_intent_id)
    return _write("payment_intent.cancel", service, key=idempotency_key, ids=ids or {})


def payment_intent_retrieve(*, payment_intent_id: str, expand: list[str] | None = None) -> JsonDict:
    service = functools.partial(get_client().v1.payment_intents.retrieve, payment_intent_id)
    params = {"expand": expand} if expand else None  # pragma: no mutate: the SDK sends no None-valued param
    return _read("payment_intent.retrieve", service, params=params, ids={"payment_intent": payment_intent_id})


def checkout_session_create(
    *, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None
) -> JsonDict:
    return _write(
        "checkout_session.create",
        get_client().v1.checkout.sessions.create,
        params=params,
        key=idempotency_key,
        ids=ids or {},
    )


def checkout_session_retrieve(*, session_id: str, expand: list[str] | None = None) -> JsonDict:
    service = functools.partial(get_client().v1.checkout.sessions.retrieve, session_id)
    params = {"expand": expand} if expand else None  # pragma: no mutate: the SDK sends no None-valued param
    return _read("checkout_session.retrieve", service, params=params, ids={"checkout_session": session_id})


def checkout_session_expire(*, session_id: str, idempotency_key: str) -> JsonDict:
    service = functools.partial(get_client().v1.checkout.sessions.expire, session_id)
    return _write(
        "checkout_session.expire",
        service,
        key=idempotency_key,
        ids={"checkout_session": session_id},
    )


def charge_retrieve(*, charge_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.charges.retrieve, charge_id)
    return _read("charge.retrieve", service, ids={"charge": charge_id})


def charge_list_for_payment_intent(*, payment_intent_id: str) -> Iterator[JsonDict]:
    """Every charge attempt of a PaymentIntent (`GET /v1/charges?payment_intent=…`), every page;
    each page goes through the same retries as any call."""
    return _list_all(
        "charge.list",
        "/v1/charges",
        params={"payment_intent": payment_intent_id},
        ids={"payment_intent": payment_intent_id},
    )


def refund_create(*, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None) -> JsonDict:
    return _write(
        "refund.create", get_client().v1.refunds.create, params=params, key=idempotency_key, ids=ids or {}
    )


def refund_retrieve(*, refund_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.refunds.retrieve, refund_id)
    return _read("refund.retrieve", service, ids={"refund": refund_id})


def event_retrieve(*, event_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.events.retrieve, event_id)
    return _read("event.retrieve", service, ids={"event": event_id})


def event_list(*, params: JsonDict) -> Iterator[JsonDict]:
    """Every event matching `params`, following pagination (newest first, as Stripe lists them;
    with `ending_before` the SDK walks towards newer events)."""
    with stripe_budget.default_priority(stripe_budget.BACKGROUND):  # recovery: nobody waits on it
        page = _call("event.list", lambda: get_client().v1.events.list(params=params))  # type: ignore[arg-type]
    for event in page.auto_paging_iter():
        yield _plain(event)


# Money after the payment (reconciliation): payouts, balance transactions and the ledger check's
# lists. Lists walk every page, each page through `_call` (so a 429 on page 500 is retried like the
# first, and each page takes its token from the budget), and yield plain dicts one at a time: a
# caller that streams keeps memory flat. Pages are fetched with `StripeClient.raw_request` and used
# as the JSON they are: stripe-python would build a StripeObject per nested dict (~17 for a
# transaction with its expanded charge), which capped listing at ~400 transactions a second
# (issue 14). raw_request raises the SDK's own errors, so `_call` translates and retries them the
# same way. No customer waits on a listing: they are background calls unless the caller says.

LIST_PAGE_SIZE = 100  # Stripe's maximum `limit`


def _list_all(operation: str, path: str, *, params: JsonDict, ids: JsonDict) -> Iterator[JsonDict]:
    """Every object of a Stripe list, page after page (`starting_after` the last id seen)."""
    query: JsonDict = {"limit": LIST_PAGE_SIZE, **params}
    while True:
        # The priority is set around each page's call only: this generator runs in its caller's
        # context, which must not stay background between pages.
        with stripe_budget.default_priority(stripe_budget.BACKGROUND):
            response = _call(
                operation, functools.partial(get_client().raw_request, "get", path, **query), ids=ids
            )
        page = response.data
        items = page.get("data") or []
        yield from items
        if not page.get("has_more") or not items:
            return
        query = {**query, "starting_after": items[-1]["id"]}


def _created_window(since: int, until: int | None) -> JsonDict:
    window: JsonDict = {"gte": since}
    if until is not None:
        window["lte"] = until
    return {"created": window}


def payout_retrieve(*, payout_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.payouts.retrieve, payout_id)
    return _read("payout.retrieve", service, ids={"payout": payout_id})


def payout_list(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    """Payouts created in [since, until] (unix seconds), newest first."""
    return _list_all("payout.list", "/v1/payouts", params=_created_window(since, until), ids={})


def balance_transaction_list(*, payout_id: str) -> Iterator[JsonDict]:
    """The balance transactions paid out in an automatic payout, its own `type=payout` one
    included, with their sources (charge, refund, dispute, …) expanded."""
    return _list_all(
        "balance_transaction.list",
        "/v1/balance_transactions",
        params={"payout": payout_id, "expand": ["data.source"]},
        ids={"payout": payout_id},
    )


def charge_list(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    return _list_all("charge.list", "/v1/charges", params=_created_window(since, until), ids={})


def refund_list(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    return _list_all("refund.list", "/v1/refunds", params=_created_window(since, until), ids={})


def dispute_list(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    return _list_all("dispute.list", "/v1/disputes", params=_created_window(since, until), ids={})


def dispute_retrieve(*, dispute_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.disputes.retrieve, dispute_id)
    return _read("dispute.retrieve", service, ids={"dispute": dispute_id})


def dispute_update(*, dispute_id: str, params: JsonDict, idempotency_key: str) -> JsonDict:
    """`POST /v1/disputes/{id}`: stage evidence (`submit: False`) or submit it (`submit: True`).
    Stripe's `submit` defaults to true, so the caller must always say which."""
    if "submit" not in params:
        raise ValueError(MESSAGE_SUBMIT_UNSAID)
    service = functools.partial(get_client().v1.disputes.update, dispute_id)
    return _write("dispute.update", service, params=params, key=idempotency_key, ids={"dispute": dispute_id})


def dispute_close(*, dispute_id: str, idempotency_key: str) -> JsonDict:
    """`POST /v1/disputes/{id}/close`: accept the dispute as lost (irreversible)."""
    service = functools.partial(get_client().v1.disputes.close, dispute_id)
    return _write("dispute.close", service, key=idempotency_key, ids={"dispute": dispute_id})


def file_create(
    *, purpose: str, filename: str, content: bytes, content_type: str, idempotency_key: str
) -> JsonDict:
    """Upload a file to Stripe's Files (`POST files.stripe.com/v1/files`, multipart). Stripe
    tells the type from the content and the file name's extension; `content_type` is for the
    log. Returns the File object (`file_…`)."""
    if not idempotency_key:
        raise ValueError(MESSAGE_NO_KEY)

    def upload() -> Any:
        # A fresh stream per attempt: our rate-limit retry calls this again, and a read stream
        # would send an empty file the second time.
        stream = io.BytesIO(content)
        stream.name = filename
        return get_client().v1.files.create(
            params={"purpose": purpose, "file": stream},
            options={"idempotency_key": idempotency_key},
        )

    ids = {"purpose": purpose, "content_type": content_type, "bytes": len(content)}
    with stripe_budget.default_priority(stripe_budget.BACKGROUND):  # evidence: nobody waits on it
        return _plain(_call("file.create", upload, ids=ids))


# Re-sync: fetch any object we mirror by its id prefix.
_RETRIEVERS: dict[str, Callable[[str], JsonDict]] = {
    # With its latest charge expanded, so one fetch refreshes that attempt's mirror too.
    "pi_": lambda object_id: payment_intent_retrieve(payment_intent_id=object_id, expand=["latest_charge"]),
    "ch_": lambda object_id: charge_retrieve(charge_id=object_id),
    "re_": lambda object_id: refund_retrieve(refund_id=object_id),
    "cs_": lambda object_id: checkout_session_retrieve(session_id=object_id),
    "evt_": lambda object_id: event_retrieve(event_id=object_id),
    "du_": lambda object_id: dispute_retrieve(dispute_id=object_id),
    "dp_": lambda object_id: dispute_retrieve(dispute_id=object_id),
}


def object_retrieve(*, object_id: str) -> JsonDict:
    """Fetch a Stripe object by id (pi_, ch_, re_, cs_, evt_, du_/dp_). Unknown prefixes are refused."""
    for prefix, retrieve in _RETRIEVERS.items():
        if object_id.startswith(prefix):
            return retrieve(object_id)
    raise InvalidRequest(MESSAGE_INVALID.format(operation="object.retrieve", code="unsupported_object"))


# ---------------------------------------------------------------------------- webhooks


def webhook_verify(*, payload: bytes, sig_header: str) -> None:
    """Check `Stripe-Signature` against every configured secret (rotation), with the SDK's
    tolerance. Raises SignatureInvalid; never says which secret or what was expected."""
    for secret in settings.STRIPE_WEBHOOK_SECRETS:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode(), sig_header, secret, settings.STRIPE_WEBHOOK_TOLERANCE
            )
            return
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            continue
    raise SignatureInvalid(MESSAGE_SIGNATURE)


def webhook_sign(*, payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, as Stripe computes it (for tests and benches)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


REAL_API_BASE = "https://api.stripe.com"
EMULATOR_OBJECT_PATH = "/_emulator/objects/"


def dashboard_url(*, object_id: str, livemode: bool) -> str:
    """Link to the same object in the Stripe Dashboard. Against the emulator (`STRIPE_API_BASE`
    set to anything but real Stripe) the Dashboard has never seen the object, so the link goes to
    the emulator's own read-only page for it instead."""
    base = settings.STRIPE_API_BASE.rstrip("/")
    if base and base != REAL_API_BASE:
        path = quote(object_id, safe="")  # pragma: no mutate: letters are never quoted, safe or not
        return f"{base}{EMULATOR_OBJECT_PATH}{path}"
    paths = {
        "pi_": "payments",
        "ch_": "payments",
        "cus_": "customers",
        "re_": "refunds",
        "po_": "payouts",
        "txn_": "balance/transactions",
        "dp_": "disputes",
        "du_": "disputes",
        "evt_": "events",
        "cs_": "checkout/sessions",
    }
    mode = "" if livemode else "test/"
    section = next((path for prefix, path in paths.items() if object_id.startswith(prefix)), "search?query=")
    separator = "" if section.endswith("=") else "/"
    return f"https://dashboard.stripe.com/{mode}{section}{separator}{object_id}"


# ---------------------------------------------------------------------------- billing


def subscription_create(*, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None) -> JsonDict:
    return _write(
        "subscription.create",
        get_client().v1.subscriptions.create,
        params=params,
        key=idempotency_key,
        ids=ids or {},
    )


def subscription_retrieve(*, subscription_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.subscriptions.retrieve, subscription_id)
    return _read("subscription.retrieve", service, ids={"subscription": subscription_id})


def subscription_update(
    *, subscription_id: str, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None
) -> JsonDict:
    service = functools.partial(get_client().v1.subscriptions.update, subscription_id)
    return _write(
        "subscription.update",
        service,
        params=params,
        key=idempotency_key,
        ids={"subscription": subscription_id, **(ids or {})},
    )


def subscription_list(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    """Subscriptions created in [since, until], whatever their status (canceled ones included)."""
    return _list_all(
        "subscription.list",
        "/v1/subscriptions",
        params={"status": "all", **_created_window(since, until)},
        ids={},
    )


def invoice_retrieve(*, invoice_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.invoices.retrieve, invoice_id)
    return _read("invoice.retrieve", service, ids={"invoice": invoice_id})


def invoice_list(*, subscription_id: str) -> Iterator[JsonDict]:
    return _list_all(
        "invoice.list",
        "/v1/invoices",
        params={"subscription": subscription_id},
        ids={"subscription": subscription_id},
    )


def invoice_list_created(*, since: int, until: int | None = None) -> Iterator[JsonDict]:
    """Invoices created in [since, until] (the ledger check's window)."""
    return _list_all("invoice.list", "/v1/invoices", params=_created_window(since, until), ids={})


def invoice_payment_list(*, invoice_id: str) -> Iterator[JsonDict]:
    """An invoice's payments with their PaymentIntents (API basil+: invoices have no
    `payment_intent` field any more)."""
    return _list_all(
        "invoice_payment.list",
        "/v1/invoice_payments",
        params={"invoice": invoice_id, "expand": ["data.payment.payment_intent"]},
        ids={"invoice": invoice_id},
    )


def setup_intent_create(*, params: JsonDict, idempotency_key: str, ids: JsonDict | None = None) -> JsonDict:
    return _write(
        "setup_intent.create",
        get_client().v1.setup_intents.create,
        params=params,
        key=idempotency_key,
        ids=ids or {},
    )


def setup_intent_retrieve(*, setup_intent_id: str) -> JsonDict:
    service = functools.partial(get_client().v1.setup_intents.retrieve, setup_intent_id)
    return _read("setup_intent.retrieve", service, ids={"setup_intent": setup_intent_id})


def product_create(*, params: JsonDict, idempotency_key: str) -> JsonDict:
    return _write(
        "product.create", get_client().v1.products.create, params=params, key=idempotency_key, ids={}
    )


def price_create(*, params: JsonDict, idempotency_key: str) -> JsonDict:
    return _write("price.create", get_client().v1.prices.create, params=params, key=idempotency_key, ids={})
