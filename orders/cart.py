"""The session cart: product ids and quantities only.

Nothing about money is kept in the session or read from a form: every amount is looked up in the
catalog (`Product`) each time the cart is read, and totals are computed here on the server. A cart
holds one currency; adding a product priced in another is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from config.money import format_money
from orders.models import Product

SESSION_KEY = "cart"
MAX_QUANTITY = 20

MESSAGE_OTHER_CURRENCY = (
    "Your cart is in {cart}; {product} is priced in {other}. Pay for your cart first, or empty it to "
    "buy {product}."
)
MESSAGE_UNKNOWN_PRODUCT = "That product is not available."
MESSAGE_QUANTITY = f"Choose a quantity from 1 to {MAX_QUANTITY}."


class CartError(Exception):
    """A change the cart refuses; `str()` is a message for the customer."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total(self) -> int:
        return self.product.unit_amount * self.quantity

    @property
    def line_total_display(self) -> str:
        return format_money(self.line_total, self.product.currency)


class Cart:
    """A view of `request.session["cart"]` = {"<product pk>": quantity}."""

    def __init__(self, session: MutableMapping[str, Any]) -> None:
        self.session = session
        raw = session.get(SESSION_KEY) or {}
        self._quantities: dict[str, int] = {
            str(pk): int(qty) for pk, qty in raw.items() if str(pk).isdigit() and int(qty) > 0
        }
        self._lines: list[CartLine] | None = None

    # ------------------------------------------------------------------ reading

    def lines(self) -> list[CartLine]:
        """The cart's lines priced from the catalog; products gone inactive drop out."""
        if self._lines is None:
            products = Product.objects.filter(pk__in=[int(pk) for pk in self._quantities], active=True)
            by_pk = {str(product.pk): product for product in products}
            self._lines = [
                CartLine(product=by_pk[pk], quantity=qty)
                for pk, qty in self._quantities.items()
                if pk in by_pk
            ]
        return self._lines

    def __iter__(self) -> Iterator[CartLine]:
        return iter(self.lines())

    def __len__(self) -> int:
        return sum(line.quantity for line in self.lines())

    @property
    def is_empty(self) -> bool:
        return not self.lines()

    @property
    def currency(self) -> str | None:
        lines = self.lines()
        return lines[0].product.currency if lines else None

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines())

    @property
    def total_display(self) -> str:
        return format_money(self.total, self.currency) if self.currency else ""

    def signature(self) -> list[tuple[int, int]]:
        """The cart's content as (product pk, quantity) pairs, for comparing with an order."""
        return sorted((line.product.pk, line.quantity) for line in self.lines())

    # ------------------------------------------------------------------ changing

    def add(self, *, product_id: int, quantity: int = 1) -> Product:
        product = Product.objects.filter(pk=product_id, active=True).first()
        if product is None:
            raise CartError(MESSAGE_UNKNOWN_PRODUCT)
        currency = self.currency
        if currency and currency != product.currency:
            raise CartError(
                MESSAGE_OTHER_CURRENCY.format(
                    cart=currency.upper(), product=product.name, other=product.currency.upper()
                )
            )
        new_quantity = self._quantities.get(str(product.pk), 0) + quantity
        if quantity < 1 or new_quantity > MAX_QUANTITY:
            raise CartError(MESSAGE_QUANTITY)
        self._quantities[str(product.pk)] = new_quantity
        self._save()
        return product

    def set_quantity(self, *, product_id: int, quantity: int) -> None:
        """Set a line's quantity; 0 removes it."""
        if quantity < 0 or quantity > MAX_QUANTITY:
            raise CartError(MESSAGE_QUANTITY)
        key = str(product_id)
        if key not in self._quantities:
            raise CartError(MESSAGE_UNKNOWN_PRODUCT)
        if quantity == 0:
            del self._quantities[key]
        else:
            self._quantities[key] = quantity
        self._save()

    def clear(self) -> None:
        self._quantities = {}
        self._save()

    def _save(self) -> None:
        self.session[SESSION_KEY] = dict(self._quantities)
        self._lines = None
        if hasattr(self.session, "modified"):
            self.session.modified = True
