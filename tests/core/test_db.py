"""core.db.insert_or_skip: one statement that stores a row once, whoever else tries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.db import insert_or_skip
from core.models import DrainWakeup

pytestmark = pytest.mark.django_db


def add(name: str) -> str | None:
    return insert_or_skip(
        model=DrainWakeup,
        values={"name": name, "created_at": timezone.now()},
        conflict=["name"],
        returning="name",
    )


def test_the_first_insert_returns_the_row_and_a_second_one_nothing_in_one_statement_each() -> None:
    first_seen = DrainWakeup.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert add("probe") == "probe"
        assert add("probe") is None
    assert len(queries) == 2
    assert DrainWakeup.objects.count() == first_seen + 1
    # and a conflict raised nothing that would have spoiled the surrounding transaction
    assert add("another") == "another"
