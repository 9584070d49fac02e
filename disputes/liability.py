"""Whether 3-D Secure shifted a dispute's liability to the card issuer, and why.

A pure function of the charge's `payment_method_details.card.three_d_secure` fields (as the
Charge mirror keeps them) and the dispute's reason, following the shared fact sheet
(money-after-payment.md §2, with Stripe's support article on the liability shift):

- the shift happens only when 3-D Secure was attempted and the customer authenticated
  (`authenticated`), or when the issuer acknowledged the attempt (`attempt_acknowledged`);
- exemptions, failures, unsupported cards and processing errors do not shift it;
- it covers fraud disputes only: another reason (product not received, …) is not covered;
- the network's final ECI can be downgraded; a "no authentication" ECI (Visa 07, Mastercard 00)
  means the shift may not hold, whatever the 3-D Secure result says.
"""

from __future__ import annotations

from dataclasses import dataclass

SHIFTING_RESULTS = frozenset({"authenticated", "attempt_acknowledged"})
# Stripe's fraud categories. `unrecognized` is the cardholder not recognising the payment; the
# networks file it under fraud (Visa 10.4 "card-absent fraud"), so it is covered too.
FRAUD_REASONS = frozenset({"fraudulent", "unrecognized"})
# ECI values that mean "not authenticated", by network.
NO_AUTHENTICATION_ECI = {"visa": "07", "mastercard": "00"}

RESULT_WORDS = {
    "authenticated": "the customer authenticated with their bank",
    "attempt_acknowledged": "the bank acknowledged the 3-D Secure attempt (attempted authentication)",
    "exempted": "the charge was exempted from 3-D Secure",
    "failed": "3-D Secure failed",
    "not_supported": "the card does not support 3-D Secure",
    "processing_error": "3-D Secure hit a processing error",
}


@dataclass(frozen=True)
class LiabilityShift:
    applies: bool
    outcome: str  # the 3-D Secure result as Stripe gives it, or "none"
    explanation: str


def liability_shift_assess(
    *,
    result: str,
    result_reason: str = "",
    authentication_flow: str = "",
    version: str = "",
    electronic_commerce_indicator: str = "",
    card_brand: str = "",
    dispute_reason: str = "",
) -> LiabilityShift:
    """Whether the liability shift applies to a dispute on this charge, with a sentence for staff
    (and for the text evidence) that says why."""
    if not result:
        return LiabilityShift(False, "none", "No liability shift: 3-D Secure was not used on this charge.")
    how = RESULT_WORDS.get(result, f"3-D Secure result {result}")
    details = [
        part
        for part in (
            f"version {version}" if version else "",
            f"{authentication_flow} flow" if authentication_flow else "",
            f"reason {result_reason}" if result_reason else "",
            f"ECI {electronic_commerce_indicator}" if electronic_commerce_indicator else "",
        )
        if part
    ]
    said = f"3-D Secure: {how}" + (f" ({', '.join(details)})" if details else "") + "."
    if result not in SHIFTING_RESULTS:
        return LiabilityShift(
            False,
            result,
            f"{said} No liability shift: only an authenticated or attempted 3-D Secure shifts it.",
        )
    if dispute_reason and dispute_reason not in FRAUD_REASONS:
        return LiabilityShift(
            False,
            result,
            f"{said} No liability shift for this dispute: the reason is {dispute_reason}, and the "
            "shift covers fraud disputes only.",
        )
    downgraded = NO_AUTHENTICATION_ECI.get(card_brand.lower())
    if downgraded and electronic_commerce_indicator == downgraded:
        return LiabilityShift(
            False,
            result,
            f"{said} The network's final ECI {electronic_commerce_indicator} says the payment was not "
            "authenticated, so the shift may not hold.",
        )
    return LiabilityShift(
        True,
        result,
        f"{said} The liability shift applies: the card issuer, not the shop, bears a fraud dispute.",
    )
