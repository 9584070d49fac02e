import pytest

from core.stripe_objects import id_of


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
