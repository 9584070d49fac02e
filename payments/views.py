"""The Stripe webhook endpoint. It checks, stores once and answers: nothing else happens in the
request (no Stripe call, no handler), so Stripe gets its 2xx in milliseconds."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.services.events import WebhookRejected, stripe_event_receive

logger = logging.getLogger(__name__)

REASON_STORE_FAILED = "could not store the event; retry"


@csrf_exempt  # Stripe signs the body instead: https://docs.stripe.com/webhooks
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    # Read at most one byte past the limit from the stream, whatever Content-Length claims; the
    # service refuses anything longer than the limit.
    payload = request.read(settings.STRIPE_WEBHOOK_MAX_BYTES + 1)
    try:
        stripe_event_receive(
            payload=payload,
            sig_header=request.headers.get("Stripe-Signature"),
            content_type=request.content_type or "",
        )
    except WebhookRejected as rejection:
        logger.info("stripe webhook refused: %s", rejection.reason)
        return HttpResponse(rejection.reason, status=rejection.status, content_type="text/plain")
    except DatabaseError as error:
        # Not stored, so not acknowledged: Stripe will deliver it again (invariant 4).
        logger.error("stripe webhook not stored: %s", type(error).__name__)
        return HttpResponse(REASON_STORE_FAILED, status=503, content_type="text/plain")
    return HttpResponse(status=200)
