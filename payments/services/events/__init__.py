"""The Stripe event inbox, a module per job:

- `receive`: the webhook's request path: check a delivery, store it once, wake the drain;
- `wakeup`: waking the drain, one broker message per burst (`core.wakeups`);
- `drain`: the drain task's work: pending events in arrival order, a page per transaction;
- `process`: one event: lock it, dispatch it through `payments.handlers.HANDLERS`, record the
  outcome or the failure (dead letter, alert);
- `retry`: which failures are tried again, the backoff, queuing the one-event task;
- `recovery`: the beat jobs' safety nets: re-queue stale rows, recover missed events;
- `replay`: staff replay.

Imports go one way: views, tasks, commands and the admin call these services (the names below);
the services call the handler table; the handlers call the order services. The services publish
tasks by name and never import `payments.tasks`.
"""

from payments.services.events.drain import stripe_events_drain
from payments.services.events.process import stripe_event_process
from payments.services.events.receive import WebhookRejected, stripe_event_receive
from payments.services.events.recovery import (
    RecoverySummary,
    stripe_event_recover,
    stripe_event_requeue_stale,
)
from payments.services.events.replay import stripe_event_replay

__all__ = [
    "RecoverySummary",
    "WebhookRejected",
    "stripe_event_process",
    "stripe_event_receive",
    "stripe_event_recover",
    "stripe_event_replay",
    "stripe_event_requeue_stale",
    "stripe_events_drain",
]
