"""A local, stateful Stripe API emulator (stdlib only). See README.md."""

from .server import Request, Response, make_server, register, serve_in_thread
from .state import Emulator, checkout_session_pay

__all__ = [
    "Emulator",
    "Request",
    "Response",
    "checkout_session_pay",
    "make_server",
    "register",
    "serve_in_thread",
]
