"""Money is an integer number of minor units plus an ISO 4217 currency. No floats.

Stripe's list of zero-decimal and three-decimal currencies:
https://docs.stripe.com/currencies#special-cases
"""

from decimal import Decimal

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
SYMBOLS = {"gbp": "£", "eur": "€", "usd": "$", "jpy": "¥"}


def decimals(currency: str) -> int:
    """How many minor-unit digits `currency` has (0 for JPY, 3 for KWD, 2 otherwise)."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """The amount in major units as an exact Decimal: 4200 GBP → Decimal('42.00')."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("money amounts are integers of minor units")
    places = decimals(currency)
    return Decimal(amount).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_minor(value: str | Decimal, currency: str) -> int:
    """Parse a major-unit string ("42.50") into minor units, refusing extra precision."""
    exact = Decimal(value).scaleb(decimals(currency))
    if exact != exact.to_integral_value():
        raise ValueError(f"{value} has more decimals than {currency.upper()} allows")
    return int(exact)


def format_money(amount: int, currency: str) -> str:
    """Human form with the currency's own decimals: £42.00, ¥4,200, KWD 1.250, -€3.10."""
    major = to_major(amount, currency)
    sign = "-" if major < 0 else ""
    places = decimals(currency)
    digits = f"{abs(major):,.{places}f}"
    symbol = SYMBOLS.get(currency.lower())
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{currency.upper()} {digits}"
