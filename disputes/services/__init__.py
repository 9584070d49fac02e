"""Writes to disputes, one module per concern: `sync` (the mirrors), `drafts` (evidence),
`actions` (what Finance does), `deadlines` (the warnings). Everything public is re-exported here,
so callers import from `disputes.services`."""

from disputes.services.actions import dispute_accept, dispute_evidence_submit, dispute_refund_inquiry
from disputes.services.common import (
    ERROR_ALREADY_SUBMITTED,
    ERROR_NO_EVIDENCE,
    ERROR_NOT_FINANCE,
    ERROR_NOT_REFUNDABLE,
    ERROR_NOT_RESPONDABLE,
    ERROR_REVISION_TAKEN,
    ERROR_STAGING_REFUSED,
    DisputeActionRefused,
)
from disputes.services.deadlines import WARNING_THRESHOLDS, dispute_deadlines_check
from disputes.services.drafts import (
    EvidenceUpload,
    dispute_evidence_prepare,
    dispute_evidence_revise,
    dispute_evidence_sweep,
    evidence_draft_build,
    evidence_draft_latest,
    evidence_draft_stage,
)
from disputes.services.sync import DisputeSyncResult, dispute_resync, dispute_sync, early_fraud_warning_sync

__all__ = [
    "ERROR_ALREADY_SUBMITTED",
    "ERROR_NOT_FINANCE",
    "ERROR_NOT_REFUNDABLE",
    "ERROR_NOT_RESPONDABLE",
    "ERROR_NO_EVIDENCE",
    "ERROR_REVISION_TAKEN",
    "ERROR_STAGING_REFUSED",
    "WARNING_THRESHOLDS",
    "DisputeActionRefused",
    "DisputeSyncResult",
    "EvidenceUpload",
    "dispute_accept",
    "dispute_deadlines_check",
    "dispute_evidence_prepare",
    "dispute_evidence_revise",
    "dispute_evidence_submit",
    "dispute_evidence_sweep",
    "dispute_refund_inquiry",
    "dispute_resync",
    "dispute_sync",
    "early_fraud_warning_sync",
    "evidence_draft_build",
    "evidence_draft_latest",
    "evidence_draft_stage",
]
