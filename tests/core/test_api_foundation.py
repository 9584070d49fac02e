"""The finance API's shared parts: roles, tokens, anonymous requests and Idempotency-Key."""

from importlib import import_module
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.test import APIClient, force_authenticate

from core.idempotency import ERROR_MISSING, ERROR_REUSED, ERROR_TOO_LONG, MAX_KEY_LENGTH, idempotent_write
from core.models import ApiIdempotencyKey
from core.roles import FINANCE, SUPPORT, role_group, user_is_finance, user_is_support

pytestmark = pytest.mark.django_db

create_roles = import_module("core.migrations.0001_staff_roles").create_roles


def staff(username: str, *roles: str) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    for role in roles:
        user.groups.add(role_group(role))
    return user


def test_the_migration_creates_the_two_roles() -> None:
    # A flushed database (after transactional tests) lost them: run the migration's own step.
    create_roles(django_apps, None)
    create_roles(django_apps, None)  # and again: idempotent
    assert set(Group.objects.filter(name__in=[SUPPORT, FINANCE]).values_list("name", flat=True)) == {
        SUPPORT,
        FINANCE,
    }


def test_finance_has_support_rights_and_support_has_no_finance_rights() -> None:
    support, finance, nobody = staff("s", SUPPORT), staff("f", FINANCE), staff("n")
    assert user_is_support(support) and not user_is_finance(support)
    assert user_is_support(finance) and user_is_finance(finance)
    assert not user_is_support(nobody) and not user_is_finance(nobody)
    nobody.is_active = False
    finance.is_active = False
    assert not user_is_finance(finance)


def test_api_token_prints_a_40_hex_key_on_its_last_line_and_the_same_one_again() -> None:
    staff("finance", FINANCE)
    out = StringIO()
    call_command("api_token", "finance", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert len(key) == 40 and int(key, 16) >= 0
    again = StringIO()
    call_command("api_token", "finance", stdout=again)
    assert again.getvalue().strip().splitlines()[-1] == key


@pytest.mark.parametrize("username", ["ghost", "customer", "support", "nobody"])
def test_api_token_refuses_everyone_but_finance_staff(username: str) -> None:
    # Tokens skip the staff second factor: only the role that moves money may have one.
    User.objects.create_user(username="customer", password="pw")
    staff("support", SUPPORT)
    staff("nobody")
    with pytest.raises(CommandError, match=r"Finance group|No user named"):
        call_command("api_token", username, stdout=StringIO())
    assert not Token.objects.filter(user__username=username).exists()


def test_the_schema_needs_a_role_and_names_the_api() -> None:
    client = APIClient()
    assert client.get("/api/schema/").status_code == status.HTTP_401_UNAUTHORIZED
    user = staff("finance", FINANCE)
    out = StringIO()
    call_command("api_token", user.username, stdout=out)
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert b"openapi" in response.content


calls: list[Any] = []


@api_view(["POST"])
def _write(request: Any) -> Response:
    def run(record: ApiIdempotencyKey) -> Response:
        calls.append(record.pk)
        if request.data.get("bad"):
            return Response({"error": "bad"}, status=400)
        return Response({"done": len(calls)}, status=201)

    return idempotent_write(request=request, scope="test:1", run=run)


@api_view(["POST"])
def _write_elsewhere(request: Any) -> Response:
    """Another endpoint (scope) that takes the same keys."""
    return idempotent_write(
        request=request, scope="test:2", run=lambda record: Response({"elsewhere": record.pk}, status=201)
    )


def post(user: User, body: dict[str, Any], key: str | None, view: Any = _write) -> Response:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    request = RequestFactory().post("/x", body, content_type="application/json", **headers)
    force_authenticate(request, user=user)
    return view(request)


def test_a_write_runs_once_per_key_and_the_repeat_answers_the_first_answer() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    first = post(user, {"amount": 5}, "k1")
    second = post(user, {"amount": 5}, "k1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.data == second.data == {"done": 1}
    assert len(calls) == 1


def test_the_same_key_with_another_body_is_a_409_and_runs_nothing() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    post(user, {"amount": 5}, "k1")
    response = post(user, {"amount": 6}, "k1")
    assert response.status_code == 409
    assert response.data == {"error": ERROR_REUSED}
    assert len(calls) == 1


def test_no_key_is_a_400_and_runs_nothing() -> None:
    calls.clear()
    response = post(staff("finance", FINANCE), {"amount": 5}, None)
    assert response.status_code == 400 and response.data == {"error": ERROR_MISSING}
    assert calls == [] and not ApiIdempotencyKey.objects.exists()


def test_a_refused_request_releases_its_key_for_the_corrected_one() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    assert post(user, {"bad": True}, "k1").status_code == 400
    assert not ApiIdempotencyKey.objects.exists()


def test_keys_are_per_user() -> None:
    calls.clear()
    post(staff("a", FINANCE), {"amount": 5}, "k1")
    post(staff("b", FINANCE), {"amount": 5}, "k1")
    assert len(calls) == 2


def test_the_stored_answer_records_its_status_for_staff() -> None:
    calls.clear()
    post(staff("finance", FINANCE), {"amount": 5}, "k1")
    row = ApiIdempotencyKey.objects.get()
    assert (row.status_code, row.response) == (201, {"done": 1})
    assert str(row) == "test:1 · k1 · 201"


def test_the_same_body_with_its_keys_in_another_order_is_the_same_request() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    post(user, {"amount": 5, "reason": "duplicate"}, "k1")
    again = post(user, {"reason": "duplicate", "amount": 5}, "k1")
    assert (again.status_code, again.data) == (200, {"done": 1})
    assert len(calls) == 1


def test_a_key_longer_than_the_limit_is_a_400_and_runs_nothing() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    too_long = post(user, {"amount": 5}, "k" * (MAX_KEY_LENGTH + 1))
    assert too_long.status_code == 400 and too_long.data == {"error": ERROR_TOO_LONG}
    assert calls == [] and not ApiIdempotencyKey.objects.exists()
    assert post(user, {"amount": 5}, "k" * MAX_KEY_LENGTH).status_code == 201


def test_a_repeat_finds_its_own_key_among_other_users_endpoints_and_keys() -> None:
    calls.clear()
    a, b = staff("a", FINANCE), staff("b", FINANCE)
    post(a, {"amount": 5}, "k1")
    post(b, {"amount": 5}, "k1")
    post(a, {"amount": 6}, "k2")
    elsewhere = post(a, {"amount": 5}, "k1", view=_write_elsewhere)
    assert elsewhere.status_code == 201
    assert [post(a, {"amount": 5}, "k1").data, post(b, {"amount": 5}, "k1").data] == [
        {"done": 1},
        {"done": 2},
    ]
    assert post(a, {"amount": 6}, "k2").data == {"done": 3}
    assert post(a, {"amount": 5}, "k1", view=_write_elsewhere).data == elsewhere.data
    assert len(calls) == 3


def test_one_request_s_answer_or_refusal_leaves_another_key_in_flight_alone() -> None:
    calls.clear()
    user = staff("finance", FINANCE)
    # given another request of this user's, claimed and still running
    in_flight = ApiIdempotencyKey.objects.create(user=user, scope="test:1", key="running", fingerprint="f")
    # when one request is refused and another answers
    assert post(user, {"bad": True}, "k1").status_code == 400
    assert post(user, {"amount": 5}, "k2").status_code == 201
    # then the one in flight is still claimed, with no answer
    in_flight.refresh_from_db()
    assert (in_flight.status_code, in_flight.response) == (None, None)
