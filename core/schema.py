"""The finance API's OpenAPI schema (drf-spectacular): component names and the auth schemes.

Every API view keeps its own nested `InputSerializer` / `OutputSerializer`, so plain
class names clash across views; a nested serializer's component is named after its view."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.openapi import AutoSchema


class FinanceAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Literal["request", "response"]) -> str:
        qualname = type(serializer).__qualname__
        return (
            qualname.replace(".", "")
            if "." in qualname
            else super().get_serializer_name(serializer, direction)
        )


class VerifiedSessionScheme(SessionScheme):
    """The admin session, once its second factor is verified (core.security)."""

    target_class = "core.security.VerifiedSessionAuthentication"
