"""Resource modules; importing this package registers every /v1 route."""

from . import catalog, checkout, customers, events, payment_methods, payments  # noqa: F401
