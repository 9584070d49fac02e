"""Stripe's documented test cards (docs.stripe.com/testing) and how the emulator treats each.

One row per card: the raw number, the `pm_card_*` alias (if Stripe has one) and the behaviour.
Behaviours are data, not code, so a later issue (disputes, early fraud warnings) only adds
fields here and reads them where the charge is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Behaviour of a payment attempt with the card.
SUCCEED = "succeed"
DECLINE = "decline"  # declined at once, with `code` / `decline_code`
THREE_DS = "three_ds"  # challenge on every on-session payment (and off-session ones fail)
THREE_DS_UNLESS_SETUP = "three_ds_unless_setup"  # challenge on-session; off-session ok once attached
THREE_DS_ON_SESSION = "three_ds_on_session"  # challenge on-session; off-session always succeeds
THREE_DS_FRICTIONLESS = "three_ds_frictionless"  # 3DS runs and passes with no challenge
THREE_DS_THEN_DECLINE = "three_ds_then_decline"  # challenge, then the charge declines anyway

MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "card_velocity_exceeded": "Your card was declined.",
    "fraudulent": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "incorrect_number": "Your card number is incorrect.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}

SELLER_MESSAGES = {
    "generic_decline": "The bank did not return any further details with this decline.",
    "insufficient_funds": "The bank returned the decline code `insufficient_funds`.",
    "lost_card": "The bank returned the decline code `lost_card`.",
    "stolen_card": "The bank returned the decline code `stolen_card`.",
    "card_velocity_exceeded": "The bank returned the decline code `card_velocity_exceeded`.",
    "expired_card": "The bank returned the decline code `expired_card`.",
    "incorrect_cvc": "The bank returned the decline code `incorrect_cvc`.",
    "processing_error": "The bank returned the decline code `processing_error`.",
    "authentication_required": "The bank returned the decline code `authentication_required`.",
    "fraudulent": "Stripe blocked this payment as too risky.",
}


@dataclass(frozen=True)
class TestCard:
    number: str
    pm_alias: str | None
    brand: str
    behaviour: str = SUCCEED
    code: str | None = None  # error.code on decline (card_declined, expired_card, ...)
    decline_code: str | None = None
    attachable: bool = True  # issuer-decline cards cannot be attached to a customer
    blocked: bool = False  # Radar block: outcome.type=blocked, never sent to the network
    refund: str | None = None  # None | "pending" | "fail"
    dispute: str | None = None  # reason a later issue opens a dispute with
    early_fraud_warning: bool = False
    bypass_pending: bool = False  # the charge's funds are available at once
    funding: str = "credit"
    country: str = "US"
    extra: dict[str, str] = field(default_factory=dict)


def _decline(number: str, alias: str | None, code: str, decline_code: str | None, **kw: object) -> TestCard:
    return TestCard(number, alias, "visa", DECLINE, code, decline_code, attachable=False, **kw)  # type: ignore[arg-type]


CARDS: list[TestCard] = [
    # Successes, by brand
    TestCard("4242424242424242", "pm_card_visa", "visa"),
    TestCard("4000056655665556", "pm_card_visa_debit", "visa", funding="debit"),
    TestCard("5555555555554444", "pm_card_mastercard", "mastercard"),
    TestCard("2223003122003222", "pm_card_mastercard_2series", "mastercard"),
    TestCard("5200828282828210", "pm_card_mastercard_debit", "mastercard", funding="debit"),
    TestCard("6011111111111117", "pm_card_discover", "discover"),
    TestCard("3056930009020004", "pm_card_diners", "diners"),
    TestCard("3566002020360505", "pm_card_jcb", "jcb"),
    TestCard("6200000000000005", "pm_card_unionpay", "unionpay"),
    # By country (docs.stripe.com/testing#international-cards): they decide the fee tier.
    TestCard("4000008260000000", "pm_card_gb", "visa", country="GB"),
    TestCard("4000058260000005", "pm_card_gb_debit", "visa", funding="debit", country="GB"),
    TestCard("4000002500000003", "pm_card_fr", "visa", country="FR"),
    TestCard("4000002760000016", "pm_card_de", "visa", country="DE"),
    # Funds go to the available balance at once (no pending period).
    TestCard("4000000000000077", "pm_card_bypassPending", "visa", bypass_pending=True),
    TestCard(
        "4000003720000278", "pm_card_bypassPendingInternational", "visa", country="GB", bypass_pending=True
    ),
    # Declines
    _decline("4000000000000002", "pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
    _decline(
        "4000000000009995",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        "card_declined",
        "insufficient_funds",
    ),
    _decline("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card"),
    _decline("4000000000009979", "pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    _decline("4000000000000069", "pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    _decline("4000000000000127", "pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    _decline(
        "4000000000000119", "pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"
    ),
    _decline(
        "4000000000006975",
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
        "card_declined",
        "card_velocity_exceeded",
    ),
    # Attaches fine, every charge fails.
    TestCard(
        "4000000000000341",
        "pm_card_chargeCustomerFail",
        "visa",
        DECLINE,
        "card_declined",
        "generic_decline",
        attachable=True,
    ),
    # Radar always blocks.
    TestCard(
        "4100000000000019", "pm_card_radarBlock", "visa", DECLINE, "card_declined", "fraudulent", blocked=True
    ),
    # 3-D Secure
    TestCard("4000002500003155", "pm_card_authenticationRequiredOnSetup", "visa", THREE_DS_UNLESS_SETUP),
    TestCard("4000002760003184", "pm_card_authenticationRequired", "visa", THREE_DS),
    TestCard(
        "4000003800000446", "pm_card_authenticationRequiredSetupForOffSession", "visa", THREE_DS_ON_SESSION
    ),
    TestCard(
        "4000008260003178",
        "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
        "visa",
        THREE_DS_THEN_DECLINE,
        "card_declined",
        "insufficient_funds",
        country="GB",
    ),
    TestCard("4000000000003220", "pm_card_threeDSecure2Required", "visa", THREE_DS, country="IE"),
    TestCard("4000008400000027", None, "visa", THREE_DS),
    TestCard(
        "4000008400001629",
        "pm_card_threeDSecureRequiredChargeDeclined",
        "visa",
        THREE_DS_THEN_DECLINE,
        "card_declined",
        "card_declined",
    ),
    TestCard(
        "4000008400001280",
        "pm_card_threeDSecureRequiredProcessingError",
        "visa",
        DECLINE,
        "card_declined",
        "processing_error",
    ),
    TestCard("4000000000003055", "pm_card_threeDSecureOptional", "visa"),
    TestCard("4000000000003097", "pm_card_threeDSecureOptionalProcessingError", "visa"),
    TestCard("378282246310005", "pm_card_amex_threeDSecureNotSupported", "amex"),
    TestCard("371449635398431", "pm_card_amex", "amex"),
    TestCard("4000000032200000", None, "visa", THREE_DS_FRICTIONLESS),
    # Disputes and fraud warnings: succeed for now; the reason is kept for the disputes issue.
    TestCard("4000000000000259", "pm_card_createDispute", "visa", dispute="fraudulent"),
    TestCard(
        "4000000000002685", "pm_card_createDisputeProductNotReceived", "visa", dispute="product_not_received"
    ),
    TestCard("4000000000001976", "pm_card_createDisputeInquiry", "visa", dispute="inquiry"),
    TestCard("4000000404000079", "pm_card_createMultipleDisputes", "visa", dispute="multiple"),
    TestCard("4000000404000038", "pm_card_createCe3EligibleDispute", "visa", dispute="ce3_eligible"),
    TestCard("4000008400000779", "pm_card_createComplianceDispute", "visa", dispute="visa_compliance"),
    TestCard(
        "5105008400000002",
        "pm_card_createMastercardComplianceDispute",
        "mastercard",
        dispute="mastercard_compliance",
    ),
    TestCard(
        "4000000001000043",
        "pm_card_createAutoRepresentmentEligibleDispute",
        "visa",
        dispute="auto_representment",
    ),
    TestCard("4000000000005423", "pm_card_createIssuerFraudRecord", "visa", early_fraud_warning=True),
    # Asynchronous refunds
    TestCard("4000000000007726", "pm_card_pendingRefund", "visa", refund="pending"),
    TestCard("4000000000005126", "pm_card_refundFail", "visa", refund="fail"),
]

BY_NUMBER: dict[str, TestCard] = {c.number: c for c in CARDS}
BY_ALIAS: dict[str, TestCard] = {c.pm_alias: c for c in CARDS if c.pm_alias}
# Stripe's legacy token aliases (tok_visa, tok_chargeDeclined, ...) map onto the same rows.
BY_ALIAS.update(
    {
        "pm_card_" + a.removeprefix("pm_card_visa_"): c
        for a, c in list(BY_ALIAS.items())
        if a.startswith("pm_card_visa_")
    }
)

INCORRECT_NUMBER = "4242424242424241"


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65", "644")):
        return "discover"
    if number.startswith("35"):
        return "jcb"
    if number.startswith(("36", "30", "38")):
        return "diners"
    if number.startswith("62"):
        return "unionpay"
    return "unknown"


def lookup_number(number: str) -> TestCard:
    """The table row for a raw number; any other Luhn-valid number behaves like a plain success."""
    card = BY_NUMBER.get(number)
    if card is not None:
        return card
    return TestCard(number, None, brand_of(number))


def lookup_alias(alias: str) -> TestCard | None:
    """`pm_card_visa`, or the `tok_visa` spelling of the same card."""
    if alias.startswith("tok_"):
        alias = "pm_card_" + alias.removeprefix("tok_")
    return BY_ALIAS.get(alias)
