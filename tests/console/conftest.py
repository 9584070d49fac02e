"""Staff users of each role and a paid order at the emulator, for the staff console's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.roles import FINANCE, SUPPORT
from orders.models import Order
from tests.conftest import otp_login
from tests.payments.refund_support import paid_at_stripe


def make_staff(username: str, *roles: str) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def finance_user(db: Any) -> User:
    return make_staff("fiona", FINANCE)


@pytest.fixture
def support_user(db: Any) -> User:
    return make_staff("sam", SUPPORT)


@pytest.fixture
def no_role_user(db: Any) -> User:
    return make_staff("nora")


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def login(user: User) -> Client:
        client = Client()
        otp_login(client, user)
        return client

    return login


@pytest.fixture
def api_for() -> Callable[[User], APIClient]:
    def token(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    return token


@pytest.fixture
def paid_order(emulator: Any) -> Order:
    """£42.00 paid at the emulator and applied to our books."""
    return paid_at_stripe(emulator)
