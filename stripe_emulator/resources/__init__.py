"""Resource modules; importing this package registers every /v1 route."""

from . import (  # noqa: F401
    balance,
    billing,
    catalog,
    charges,
    checkout,
    customers,
    disputes,
    events,
    files,
    money,
    payment_intents,
    payment_methods,
    payouts,
    refunds,
)
