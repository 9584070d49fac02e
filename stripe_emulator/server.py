"""HTTP server and routing.

Routes are a table of (method, path regex) → handler. Resource modules register `/v1` routes with
`api=True` (auth, validation hook, idempotency, faults and the state lock apply); control and
browser routes register plain handlers. Another module adds routes the same way:

    from stripe_emulator.server import register, Request, Response
    register("GET", r"/c/pay/(?P<session_id>cs_\\w+)", my_handler)

A handler takes a `Request` and returns a `Response` (or a dict, sent as JSON with status 200).
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import json
import random
import re
import socket
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import wire
from .errors import StripeError, invalid
from .ratelimit import MESSAGE as RATE_LIMIT_MESSAGE
from .state import Emulator, RequestContext

Handler = Callable[["Request"], "Response | dict[str, Any]"]

_REQ_ALPHABET = string.ascii_letters + string.digits
_req_rng = random.Random()

PRETTY_PRINT_LIMIT = 32 * 1024  # bytes of compact JSON above which answers stay compact


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    api: bool


ROUTES: list[Route] = []


def register(method: str, pattern: str, handler: Handler, *, api: bool = False) -> None:
    """Add a route. `pattern` must match the whole path; named groups land in `Request.args`."""
    ROUTES.append(Route(method.upper(), re.compile(pattern), handler, api))


@dataclass
class Request:
    emu: Emulator
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    args: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    request_id: str = ""
    uploads: dict[str, wire.Upload] = field(default_factory=dict)

    @property
    def livemode(self) -> bool:
        return bool(self.api_key and "_live_" in self.api_key)

    def json(self) -> dict[str, Any]:
        """A control endpoint's body: JSON, or form-encoded as a convenience."""
        if not self.body.strip():
            return {}
        if self.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(self.body)
            if not isinstance(data, dict):
                raise invalid("JSON body must be an object")
            return data
        return wire.decode(self.body.decode())

    def form(self) -> dict[str, Any]:
        return wire.decode(self.body.decode()) if self.body else wire.decode(self.query)


@dataclass
class Response:
    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        # Stripe pretty-prints. json's indenting encoder is pure Python, ~10x slower than the
        # compact C one: pretty-print what a person might read, not a 100-item page of charges.
        compact = json.dumps(self.body, separators=(",", ":"))
        if len(compact) > PRETTY_PRINT_LIMIT:
            return compact.encode()
        return json.dumps(self.body, indent=2).encode()


def html(text: str, status: int = 200) -> Response:
    return Response(status, text, content_type="text/html; charset=utf-8")


def redirect(url: str, status: int = 303) -> Response:
    return Response(status, b"", {"Location": url}, content_type="text/plain")


def new_request_id() -> str:
    return "req_" + "".join(_req_rng.choice(_REQ_ALPHABET) for _ in range(14))


class _DropConnection(Exception):
    """Close the socket without an answer (the `drop` / `drop_after` API faults)."""


def _error(exc: StripeError) -> Response:
    return Response(exc.status, exc.body(), dict(exc.headers))


NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, "
    "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
)
PUBLISHABLE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a "
    "list of your API keys at https://dashboard.stripe.com/account/apikeys."
)
KEY_RE = re.compile(r"^(sk|rk|pk)_(test|live)_[A-Za-z0-9_]+$")
# What Stripe.js does with a publishable key: create PaymentMethods, read and confirm a
# PaymentIntent with its client_secret. Everything else refuses pk_ keys.
PK_ALLOWED = [
    ("POST", re.compile(r"/v1/payment_methods")),
    ("GET", re.compile(r"/v1/payment_intents/[^/]+")),
    ("POST", re.compile(r"/v1/payment_intents/[^/]+/confirm")),
    ("GET", re.compile(r"/v1/setup_intents/[^/]+")),
    ("POST", re.compile(r"/v1/setup_intents/[^/]+/confirm")),
]


def _api_key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return user.split(":", 1)[0] or None
    return None


def _authenticate(req: Request) -> None:
    key = _api_key(req.headers)
    if key is None:
        raise StripeError(401, "invalid_request_error", NO_KEY)
    if not KEY_RE.match(key) or (req.emu.api_keys is not None and key not in req.emu.api_keys):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
        raise StripeError(
            401, "invalid_request_error", f"Invalid API Key provided: {masked}", code="api_key_invalid"
        )
    if key.startswith("pk_"):
        if req.method == "POST" and req.path == "/v1/payment_methods":
            allowed = True
        else:
            allowed = bool(req.params.get("client_secret")) and any(
                m == req.method and p.fullmatch(req.path) for m, p in PK_ALLOWED
            )
        if not allowed:
            raise StripeError(401, "invalid_request_error", PUBLISHABLE, code="secret_key_required")
    req.api_key = key


def _fingerprint(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def dispatch(emu: Emulator, req: Request) -> Response:
    """Route a request; never raises except `_DropConnection`."""
    route, allowed = None, False
    for r in ROUTES:
        m = r.pattern.fullmatch(req.path)
        if m is None:
            continue
        allowed = True
        if r.method == req.method:
            route = r
            req.args = m.groupdict()
            break
    if route is None:
        if req.path.startswith("/v1/") or not allowed:
            msg = (
                f"Unrecognized request URL ({req.method}: {req.path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/."
            )
            return _error(StripeError(404, "invalid_request_error", msg))
        return _error(
            StripeError(405, "invalid_request_error", f"Method {req.method} not allowed for {req.path}")
        )
    try:
        if route.api:
            return _dispatch_api(emu, req, route)
        result = route.handler(req)
        return result if isinstance(result, Response) else Response(200, result)
    except StripeError as exc:
        return _error(exc)
    except (ValueError, KeyError, TypeError) as exc:
        if route.api:
            raise
        return _error(invalid(f"Bad request: {exc}"))


def _dispatch_api(emu: Emulator, req: Request, route: Route) -> Response:
    from .openapi.validate import validate_request

    # Faults run first: Stripe's rate limiter answers before the idempotency layer sees the key.
    fault = emu.faults.match_api(req.method, req.path)
    if fault is not None:
        if fault.kind == "drop":
            raise _DropConnection
        if fault.kind == "rate_limit":
            return _error(
                StripeError(
                    429,
                    "invalid_request_error",
                    RATE_LIMIT_MESSAGE,
                    code="rate_limit",
                    headers={"Stripe-Rate-Limited-Reason": "global-rate"},
                )
            )
        if fault.kind == "lock_timeout":
            return _error(
                StripeError(
                    429,
                    "invalid_request_error",
                    "This object cannot be accessed right now because another API request or Stripe process "
                    "is currently accessing it. If you see this error intermittently, retry the request. If "
                    "you see this error frequently and are making multiple concurrent requests to a single "
                    "object, make your requests serially or at a lower rate.",
                    code="lock_timeout",
                    headers={"Stripe-Should-Retry": "true"},
                )
            )
        if fault.kind == "error":
            return _error(StripeError(500, "api_error", "An unknown error occurred (injected fault)."))
    # Then the rate limiter (off unless asked for), per mode (the key's) and kind of endpoint.
    key = _api_key(req.headers) or ""
    reason = emu.rate_limits.take("_live_" in key, req.path)
    if reason is not None:
        return _error(
            StripeError(
                429,
                "invalid_request_error",
                RATE_LIMIT_MESSAGE,
                code="rate_limit",
                headers={"Stripe-Rate-Limited-Reason": reason},
            )
        )
    try:
        if req.method == "GET" or req.method == "DELETE":
            req.params = wire.decode(req.query)
        else:
            ctype = req.headers.get("content-type", "")
            if ctype.startswith("application/json"):
                raise invalid(
                    "Invalid request: Stripe's v1 API takes application/x-www-form-urlencoded bodies."
                )
            if ctype.startswith("multipart/form-data"):
                req.params, req.uploads = wire.decode_multipart(req.body, ctype)
            else:
                req.params = wire.decode(req.body.decode("utf-8"))
            if req.query:
                req.params = {**wire.decode(req.query), **req.params}
    except (wire.WireError, UnicodeDecodeError) as exc:
        return _error(invalid(str(exc)))
    try:
        _authenticate(req)
    except StripeError as exc:
        return _error(exc)
    error = validate_request(req.method, req.path, req.params)
    if error is not None:
        return Response(400, {"error": error})

    idem_key = req.headers.get("idempotency-key") if req.method == "POST" else None
    account = req.api_key or ""
    if idem_key is not None:
        if len(idem_key) > 255:
            return _error(
                invalid("Idempotency keys must be 255 characters or fewer.", param="idempotency_key")
            )
        outcome = emu.idempotency.begin(account, idem_key, req.method, req.path, _fingerprint(req.params))
        if outcome == "in_flight":
            return _error(
                StripeError(
                    409,
                    "invalid_request_error",
                    "There is currently another in-progress request using this Stripe-Idempotency-Key. "
                    "Please try again later.",
                    code="idempotency_key_in_use",
                )
            )
        if outcome == "mismatch":
            return _error(
                StripeError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{idem_key}' if you meant to execute a different "
                    "request.",
                )
            )
        if not isinstance(outcome, str):
            headers = dict(outcome.headers)
            headers["Idempotent-Replayed"] = "true"
            headers["Original-Request"] = outcome.headers.get("Request-Id", "")
            return Response(outcome.status or 200, outcome.body, headers)

    if fault is not None and fault.kind == "slow":
        time.sleep(fault.seconds)
    ctx = RequestContext(req.request_id, idem_key, req.livemode, req.headers.get("stripe-version"))
    emu.note_api_version(ctx.api_version)
    stored = True
    try:
        with emu.lock, emu.request_context(ctx):
            result = route.handler(req)
        resp = result if isinstance(result, Response) else Response(200, result)
    except StripeError as exc:
        resp = _error(exc)
        stored = exc.stored_by_idempotency
    except Exception as exc:  # a handler bug: answer like Stripe's 500, and keep serving
        resp = _error(
            StripeError(500, "api_error", f"An unknown error occurred ({type(exc).__name__}: {exc})")
        )
    if idem_key is not None:
        if stored:
            body = resp.encode()
            resp.body = body
            emu.idempotency.finish(account, idem_key, resp.status, body, {"Request-Id": req.request_id})
        else:
            emu.idempotency.forget(account, idem_key)
    if fault is not None and fault.kind == "drop_after":
        raise _DropConnection
    return resp


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-emulator"
    sys_version = ""
    emu: Emulator  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        # One write per response already; NODELAY also avoids delayed-ACK stalls on keep-alive.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and benches
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            emu=self.emu,
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            request_id=new_request_id(),
        )
        try:
            resp = dispatch(self.emu, req)
        except _DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = resp.encode()
        headers = {
            "Content-Type": resp.content_type,
            "Content-Length": str(len(payload)),
            "Request-Id": req.request_id,
            "Cache-Control": "no-cache, no-store",
        }
        if req.path.startswith("/v1/"):
            headers["Stripe-Version"] = req.headers.get("stripe-version") or "2026-08-26.dahlia"
        headers.update(resp.headers)
        if self.close_connection:
            headers["Connection"] = "close"
        head = f"HTTP/1.1 {resp.status} {self.responses.get(resp.status, ('',))[0]}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.wfile.write(head.encode("latin-1") + (b"" if self.command == "HEAD" else payload))

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = do_PATCH = do_OPTIONS = _handle


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def make_server(emu: Emulator, host: str = "127.0.0.1", port: int = 12111) -> EmulatorServer:
    """Bind (port 0 = any free port) and point the emulator's own URLs at the bound address."""
    from . import control, resources  # noqa: F401  (importing registers the routes)

    # Browser routes (Stripe.js stand-in, hosted Checkout) live in an optional module.
    if importlib.util.find_spec(f"{__package__}.browser") is not None:
        importlib.import_module(f"{__package__}.browser")

    handler = type("Handler", (_HTTPHandler,), {"emu": emu})
    server = EmulatorServer((host, port), handler)
    if not emu.base_url:
        emu.base_url = f"http://{host}:{server.server_address[1]}"
    return server


def serve_in_thread(server: EmulatorServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread
