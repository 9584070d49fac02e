"""The Content-Security-Policy of every page: our own origin and the configured Stripe only.

The fixed part is `CONTENT_SECURITY_POLICY` in settings (django-csp 4). The Stripe origins are
added here, per response, from the settings as they are at that moment (`STRIPE_JS_URL`,
`STRIPE_API_BASE`), because they are configuration: the emulator on the embedded default and in
tests (one origin serves Stripe.js, its API, the hosted Checkout page and the 3-D Secure page),
real Stripe in production (what https://docs.stripe.com/security/guide#content-security-policy
lists for Stripe.js and Checkout).

Inline `<script>` and `<style>` need `nonce="{{ request.csp_nonce }}"`; nothing else inline runs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import build_policy, default_config
from django.conf import settings

REAL_STRIPE_JS_URL = "https://js.stripe.com/v3/"
# Stripe.js's own frames and scripts come from js.stripe.com and its subdomains; 3-D Secure
# challenges from hooks.stripe.com; its API calls go to api.stripe.com. Checkout is a redirect
# after our form's POST, and Chromium checks the redirect against form-action.
REAL_STRIPE = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
    "form-action": ["https://checkout.stripe.com"],
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def stripe_js_url() -> str:
    return str(settings.STRIPE_JS_URL or REAL_STRIPE_JS_URL)


def stripe_sources(*, js_url: str, api_base: str) -> dict[str, list[str]]:
    """The sources to add for Stripe, by directive: Stripe.js at `js_url`, the API at `api_base`
    (empty: real Stripe)."""
    js = _origin(js_url or REAL_STRIPE_JS_URL)
    api = _origin(api_base)
    if not api:
        sources = {key: list(value) for key, value in REAL_STRIPE.items()}
        if js not in sources["script-src"]:
            sources["script-src"].append(js)
        return sources
    # The emulator: its origin serves Stripe.js and its stylesheet, answers the stand-in's calls,
    # and serves the hosted Checkout page and the 3-D Secure page (a frame or a redirect).
    origins = list(dict.fromkeys([js, api]))
    return {
        "script-src": origins,
        "style-src": origins,
        "connect-src": origins,
        "frame-src": origins,
        "form-action": origins,
    }


class StripeCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the configured Stripe origins added to the policy."""

    def get_policy_parts(self, request: Any, response: Any, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only:
            update: dict[str, Any] = dict(parts.update or {})
            sources_now = stripe_sources(js_url=stripe_js_url(), api_base=str(settings.STRIPE_API_BASE or ""))
            for directive, sources in sources_now.items():
                update[directive] = [*sources, *(update.get(directive) or [])]
            parts.update = update
        return parts


def policy_for(*, js_url: str, api_base: str, nonce: str) -> str:
    """The whole policy a page gets with these Stripe settings (for pages served outside Django,
    such as the emulator tests' stand-in shop)."""
    config = default_config(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"])
    return build_policy(config=config, update=stripe_sources(js_url=js_url, api_base=api_base), nonce=nonce)
