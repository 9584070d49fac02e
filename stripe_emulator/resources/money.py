"""Currency tables: Stripe's minimum charge amounts, zero-decimal currencies, amount formatting."""

from __future__ import annotations

from ..errors import invalid

# Minimum charge amounts per currency (Stripe's table, abbreviated): (minimum, symbol).
MINIMUMS: dict[str, tuple[int, str]] = {
    "usd": (50, "$"),
    "eur": (50, "€"),
    "gbp": (30, "£"),
    "cad": (50, "$"),
    "aud": (50, "$"),
    "chf": (50, "CHF "),
    "nzd": (50, "$"),
    "sgd": (50, "$"),
    "hkd": (400, "$"),
    "jpy": (50, "¥"),
    "dkk": (250, "kr "),
    "nok": (300, "kr "),
    "sek": (300, "kr "),
    "pln": (200, "zł"),
    "mxn": (1000, "$"),
    "inr": (50, "₹"),
    "brl": (50, "R$"),
    "czk": (1500, "Kč"),
    "huf": (17500, "Ft"),
    "thb": (1000, "฿"),
}
ZERO_DECIMAL = {
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
}
MAX_AMOUNT = 99999999


def fmt_amount(amount: int, cur: str) -> str:
    symbol = MINIMUMS.get(cur, (0, ""))[1]
    if cur in ZERO_DECIMAL:
        return f"{symbol}{amount:,}"
    return f"{symbol}{amount / 100:,.2f}"


def check_amount(amount: int, cur: str, param: str = "amount") -> None:
    minimum = MINIMUMS.get(cur, (50, ""))[0]
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {fmt_amount(minimum, cur)} {cur}", code="amount_too_small", param=param
        )
    if amount > MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {fmt_amount(MAX_AMOUNT, cur)}", code="amount_too_large", param=param
        )
