from datetime import UTC, datetime, timedelta

import pytest

from core.stripe_objects import id_of, time_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ch_1", "ch_1"),
        ({"id": "ch_1", "object": "charge", "amount": 500}, "ch_1"),
        (None, ""),
        ("", ""),
        ({"object": "charge"}, ""),
        ({"id": None}, ""),
    ],
)
def test_a_field_that_is_an_id_or_an_expanded_object_gives_the_id(value, expected):
    assert id_of(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1796170615, datetime(2026, 12, 2, 0, 16, 55, tzinfo=UTC)),
        (1, datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (0, None),  # Stripe's "no such time" (a dispute's due_by when no answer is allowed)
        (None, None),
        ("1796170615", None),
        (True, None),
        (-5, None),
    ],
)
def test_a_stripe_time_is_an_aware_utc_datetime_or_none(value, expected):
    got = time_of(value)
    assert got == expected
    assert got is None or got.utcoffset() == timedelta(0)
