"""Addresses for people to read. Orders keep Stripe's address shape (line1, line2, city, state,
postal_code, country as an ISO 3166-1 alpha-2 code); pages, emails and the admin show it as lines,
with the country's name instead of its code. Country names come from pycountry (ISO 3166)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pycountry


def country_name(code: str | None) -> str:
    """`GB` → `United Kingdom`, `KR` → `South Korea` (ISO's common name where it has one). An
    empty code gives ""; a code ISO does not know comes back as it was given."""
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code.strip().upper())
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    """The address as the lines of an envelope: street lines, then town, state and postcode on
    one line, then the country's name. Empty parts are left out."""
    if not address:
        return []
    town = " ".join(str(address[key]) for key in ("city", "state", "postal_code") if address.get(key))
    lines = [str(address.get("line1") or ""), str(address.get("line2") or ""), town]
    lines.append(country_name(address.get("country")))
    return [line for line in lines if line]
