"""What the apps share: the finance API's idempotency keys (key → request fingerprint → the answer
given) and the drain wake-up rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config.models import TimeStampedModel


class ApiIdempotencyKey(TimeStampedModel):
    """One write request to the finance API, by its `Idempotency-Key` header, per user and
    endpoint. The same key with the same body answers `response` again; another body is a 409.
    Kept at least 24 hours (core.idempotency.KEEP_FOR)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    scope = models.CharField(max_length=128, help_text="The endpoint and its target: refunds:ORD-000123.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical request body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="api_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} · {self.key} · {self.status_code or 'in progress'}"


class DrainWakeup(models.Model):
    """A drain task of this name (stored events, confirmation emails) is queued and has not
    started yet: new work queues one only when it adds this row, so a burst costs one broker
    message, not one each (core.wakeups)."""

    name = models.CharField(primary_key=True, max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} since {self.created_at:%Y-%m-%d %H:%M:%S}"
