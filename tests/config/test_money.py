from decimal import Decimal

import pytest

from config.money import decimals, format_money, to_major, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4200, "gbp", "£42.00"),
        (123456, "eur", "€1,234.56"),
        (5, "usd", "$0.05"),
        (4200, "jpy", "¥4,200"),
        (1250, "kwd", "KWD 1.250"),
        (-310, "EUR", "-€3.10"),
        (0, "gbp", "£0.00"),
        (1999, "chf", "CHF 19.99"),
    ],
)
def test_amounts_are_shown_with_the_currencys_own_decimals(amount, currency, shown):
    assert format_money(amount, currency) == shown


@pytest.mark.parametrize(("currency", "places"), [("gbp", 2), ("eur", 2), ("usd", 2), ("jpy", 0), ("kwd", 3)])
def test_decimals(currency, places):
    assert decimals(currency) == places


def test_major_units_are_exact_decimals():
    assert to_major(4200, "gbp") == Decimal("42.00")
    assert to_major(4200, "jpy") == Decimal("4200")
    assert to_major(1001, "kwd") == Decimal("1.001")


@pytest.mark.parametrize(
    ("text", "currency", "minor"), [("42.50", "gbp", 4250), ("4200", "jpy", 4200), ("1.001", "kwd", 1001)]
)
def test_parsing_major_units(text, currency, minor):
    assert to_minor(text, currency) == minor


@pytest.mark.parametrize(("text", "currency"), [("42.505", "gbp"), ("1.5", "jpy"), ("0.0001", "kwd")])
def test_extra_precision_is_refused(text, currency):
    with pytest.raises(ValueError, match="more decimals"):
        to_minor(text, currency)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        to_major(42.0, "gbp")  # type: ignore[arg-type]
