"""A loopback HTTP server that answers what Stripe answers on a bad day, for the gateway's tests
(`fault_server` and `sleeps` fixtures in tests/conftest.py)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PI_JSON = {
    "id": "pi_123",
    "object": "payment_intent",
    "amount": 4200,
    "currency": "gbp",
    "status": "succeeded",
}


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: PI_JSON)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass
class Seen:
    path: str
    idempotency_key: str | None
    authorization: str
    stripe_version: str | None
    body: str


class FaultServer:
    """Answers each request with the next scripted Reply (the last one repeats)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply()]
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                server.seen.append(
                    Seen(
                        path=self.path,
                        idempotency_key=self.headers.get("Idempotency-Key"),
                        authorization=self.headers.get("Authorization", ""),
                        stripe_version=self.headers.get("Stripe-Version"),
                        body=body,
                    )
                )
                reply = server.replies[min(len(server.seen) - 1, len(server.replies) - 1)]
                if reply.delay:
                    threading.Event().wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", f"req_{len(server.seen)}")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll, so that stopping it (after every test that uses it) takes no half second.
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def error_body(status_type: str, **fields: Any) -> dict[str, Any]:
    return {"error": {"type": status_type, "message": "scripted", **fields}}


RATE_LIMITED = Reply(429, error_body("invalid_request_error", code="rate_limit"))
LOCK_TIMEOUT = Reply(
    429, error_body("invalid_request_error", code="lock_timeout"), {"Stripe-Should-Retry": "true"}
)
SERVER_ERROR = Reply(500, error_body("api_error"))
