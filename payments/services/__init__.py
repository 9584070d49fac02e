"""Payments services, by entity: `events` (the webhook inbox), `objects` (applying Stripe objects
to our books), `refunds` (the refund mirror), `staff` (the audit trail)."""
