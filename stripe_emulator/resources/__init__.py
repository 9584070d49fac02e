"""Resource modules; importing this package registers every /v1 route."""

from . import (  # noqa: F401
    balance,
    catalog,
    charges,
    checkout,
    customers,
    events,
    money,
    payment_intents,
    payment_methods,
    refunds,
)
