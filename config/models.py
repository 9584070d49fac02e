"""Abstract models shared by the apps."""

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class StripeMirror(TimeStampedModel):
    """A local copy of a Stripe object: its id, mode, Stripe's creation time, our last sync."""

    stripe_id = models.CharField(max_length=255, unique=True, db_index=True)
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
