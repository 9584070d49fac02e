"""`Idempotency-Key` handling for every write of the finance API, in one place.

The key is claimed (a committed row) before the work runs, and the work is handed that row: a
service that calls Stripe keys its own records on it (for example one refund request per API
key), so a retry after a crash mid-call redoes the same operation with the same Stripe
idempotency key instead of a new one (invariant 2). The work's own transactions commit as they
go; no transaction is held open across a Stripe call."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import ApiIdempotencyKey

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255

ERROR_MISSING = "Send an Idempotency-Key header with a unique value for this request."
ERROR_TOO_LONG = f"The Idempotency-Key header is longer than {MAX_KEY_LENGTH} characters."
ERROR_REUSED = (
    "This Idempotency-Key was already used with a different request body; use a new key for a new request."
)


def request_fingerprint(data: Any) -> str:
    body = json.dumps(
        data,
        sort_keys=True,
        separators=(",", ":"),  # pragma: no mutate: any fixed separators hash every request alike
        default=str,  # pragma: no mutate: the JSON parser yields only JSON types; str guards other parsers
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _claim(*, user: Any, scope: str, key: str, fingerprint: str) -> ApiIdempotencyKey:
    try:
        with transaction.atomic():
            return ApiIdempotencyKey.objects.create(user=user, scope=scope, key=key, fingerprint=fingerprint)
    except IntegrityError:
        return ApiIdempotencyKey.objects.get(user=user, scope=scope, key=key)


def idempotent_write(
    *, request: Request, scope: str, run: Callable[[ApiIdempotencyKey], Response]
) -> Response:
    """Run `run` for this (user, scope, Idempotency-Key) until it has answered once; afterwards the
    same body gets the stored answer with 200, another body a 409, and no key a 400. An error
    answer (4xx, nothing changed) releases the key, so the corrected request can use it."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        return Response({"error": ERROR_MISSING}, status=status.HTTP_400_BAD_REQUEST)
    if len(key) > MAX_KEY_LENGTH:
        return Response({"error": ERROR_TOO_LONG}, status=status.HTTP_400_BAD_REQUEST)
    fingerprint = request_fingerprint(request.data)
    record = _claim(user=request.user, scope=scope, key=key, fingerprint=fingerprint)
    if record.fingerprint != fingerprint:
        return Response({"error": ERROR_REUSED}, status=status.HTTP_409_CONFLICT)
    if record.response is not None:
        return Response(record.response, status=status.HTTP_200_OK)  # pragma: no mutate: DRF's default is 200
    response = run(record)
    if response.status_code >= 400:
        ApiIdempotencyKey.objects.filter(
            pk=record.pk,
            response__isnull=True,  # pragma: no mutate: only a concurrent run of this key could have answered
        ).delete()
        return response
    ApiIdempotencyKey.objects.filter(
        pk=record.pk,
        response__isnull=True,  # pragma: no mutate: only a concurrent run of this key could have answered
    ).update(status_code=response.status_code, response=response.data)
    return response
