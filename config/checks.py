"""Start-up refusals for dangerous Stripe key combinations."""

from django.core.exceptions import ImproperlyConfigured

LIVE_KEY_IN_DEBUG = "Refusing to start: STRIPE_SECRET_KEY is a live key while DJANGO_DEBUG is on."
MIXED_MODES = (
    "Refusing to start: STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are not both test or both live."
)


def key_mode(key: str) -> str | None:
    """Return "live" or "test" for a Stripe key (sk_, rk_, pk_), None when the prefix is unknown."""
    for mode in ("live", "test"):
        if key.startswith((f"sk_{mode}_", f"rk_{mode}_", f"pk_{mode}_")):
            return mode
    return None


def check_stripe_keys(*, secret_key: str, publishable_key: str, debug: bool) -> None:
    """Raise ImproperlyConfigured (naming no key value) for a live key in DEBUG or mixed modes."""
    secret_mode, publishable_mode = key_mode(secret_key), key_mode(publishable_key)
    if debug and secret_mode == "live":
        raise ImproperlyConfigured(LIVE_KEY_IN_DEBUG)
    if secret_mode and publishable_mode and secret_mode != publishable_mode:
        raise ImproperlyConfigured(MIXED_MODES)
