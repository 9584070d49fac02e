"""Addresses as people read them: lines, and the country's name instead of its ISO code."""

from config.addresses import address_lines, country_name


def test_country_codes_become_names() -> None:
    assert country_name("GB") == "United Kingdom"
    assert country_name("us") == "United States"
    assert country_name("KR") == "South Korea"  # ISO's common name, not "Korea, Republic of"
    assert country_name("ZZ") == "ZZ"  # unknown: shown as given rather than lost
    assert country_name("") == "" and country_name(None) == ""


def test_an_address_becomes_envelope_lines() -> None:
    address = {"line1": "1 Main St", "line2": "", "city": "Springfield", "state": "IL"}
    address["postal_code"] = "62701"
    lines = address_lines({**address, "country": "US"})
    assert lines == ["1 Main St", "Springfield IL 62701", "United States"]
    assert address_lines(None) == [] and address_lines({}) == []
