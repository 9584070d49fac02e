"""Payments services, by entity: `events` (the webhook inbox, a module per job), `checkout`
(paying an order through the Payment Element or Stripe Checkout), `objects` (applying Stripe
objects to our books), `refunds` (the refund mirror), `staff` (the audit trail)."""
