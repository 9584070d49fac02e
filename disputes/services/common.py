"""What the dispute services share: the messages staff see, the audit action names, the
refusal exception, the role check and a fresh read of a dispute."""

from __future__ import annotations

from typing import Any

from core.roles import user_is_finance
from disputes.models import Dispute

JsonDict = dict[str, Any]


ERROR_NOT_FINANCE = "Only Finance staff can act on disputes; Support can read them."
ERROR_NOT_RESPONDABLE = "Dispute {dispute} is {status}: Stripe takes no response to it any more."
ERROR_NO_EVIDENCE = (
    "Dispute {dispute} has no evidence draft yet: its order is unknown, so add the evidence by hand."
)
ERROR_STAGING_REFUSED = "Stripe refused this draft: {error} Change the evidence to stage a new revision."
ERROR_REVISION_TAKEN = (
    "Someone saved a newer revision of the evidence for dispute {dispute} meanwhile: reload the page "
    "and make your change again."
)
ERROR_ALREADY_SUBMITTED = "Evidence for dispute {dispute} has been submitted: it cannot be edited any more."

ACTION_SUBMIT = "dispute_evidence_submit"
ACTION_ACCEPT = "dispute_accept"
ACTION_REVISE = "dispute_evidence_revise"

ERROR_NOT_REFUNDABLE = (
    "Dispute {dispute} can not be answered with a refund: only an inquiry still awaiting a response, "
    "whose charge Stripe says is refundable, can."
)
ACTION_REFUND = "dispute_refund_inquiry"


class DisputeActionRefused(Exception):
    """A staff action that cannot be done; `str()` is a sentence for staff, with ids only."""


def refuse_unless_finance(user: Any) -> None:
    if not user_is_finance(user):
        raise DisputeActionRefused(ERROR_NOT_FINANCE)


def dispute_fresh(dispute: Dispute) -> Dispute:
    """The dispute as stored now, with its order, before a staff action decides on it."""
    with_order = Dispute.objects.select_related("order")  # pragma: no mutate: it only saves queries
    return with_order.get(pk=dispute.pk)
