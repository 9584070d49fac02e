"""Every page's Content-Security-Policy (our origin and the configured Stripe only, nonces for
inline code) and the production settings' HTTPS defences (`manage.py check --deploy`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.orders.checkout_support import add_to_cart, catalog_fixture, place, shop_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


@pytest.mark.parametrize("path", ["/", "/cart/", "/checkout/", "/admin/login/", "/healthz", "/no-such-page/"])
def test_every_page_gets_a_policy_that_allows_only_our_origin_by_default(client: Client, path: str) -> None:
    csp = policy(client.get(path))
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    header = client.get(path)["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header


def test_the_inline_style_and_script_carry_the_nonce_of_their_own_response(
    client: Client, catalog: Any
) -> None:
    first, second = client.get("/"), client.get("/")
    nonce = re.search(r'<style nonce="([^"]+)">', first.content.decode())
    assert nonce, "the shop's stylesheet has no nonce"
    assert f"'nonce-{nonce.group(1)}'" in policy(first)["style-src"]
    assert f"'nonce-{nonce.group(1)}'" not in second["Content-Security-Policy"]  # fresh per response


def test_the_card_page_allows_the_configured_stripe_origin_and_no_other(
    client: Client, shop: Any, catalog: Any
) -> None:
    # given the emulator as Stripe (its origin serves Stripe.js, the API, the 3-D Secure page)
    add_to_cart(client, catalog["POSTER"])
    order = place(client)
    # when the customer opens the card page
    response = client.get(f"/orders/{order.public_token}/pay/")
    page = response.content.decode()
    csp = policy(response)
    # then Stripe.js loads from the emulator and the inline script runs by its nonce
    assert f'<script src="{shop.url}/v3/"></script>' in page
    nonce = re.search(r'<script nonce="([^"]+)">', page)
    assert nonce and f"'nonce-{nonce.group(1)}'" in csp["script-src"]
    assert csp["script-src"] == ["'self'", f"'nonce-{nonce.group(1)}'", shop.url]
    for directive in ("connect-src", "frame-src", "form-action", "style-src"):
        assert shop.url in csp[directive], directive
    assert "js.stripe.com" not in response["Content-Security-Policy"]


def test_real_stripe_gets_the_origins_stripe_documents(client: Client, settings: Any) -> None:
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    csp = policy(client.get("/"))
    assert "https://js.stripe.com" in csp["script-src"]
    assert {"https://js.stripe.com", "https://hooks.stripe.com"} <= set(csp["frame-src"])
    assert csp["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert csp["form-action"] == ["'self'", "https://checkout.stripe.com"]
    assert "127.0.0.1" not in client.get("/")["Content-Security-Policy"]


def test_other_defensive_headers(client: Client) -> None:
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "check-deploy-" + "k7Qm2pX9vR4tZ8wB3nL6yH1cF5jD0sG" * 2,
    "DJANGO_ALLOWED_HOSTS": "shop.example",
    "SITE_URL": "https://shop.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/payments",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_" + "a" * 24,
    "STRIPE_PUBLISHABLE_KEY": "pk_live_" + "b" * 24,
    "STRIPE_WEBHOOK_SECRETS": "whsec_" + "c" * 24,
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "DJANGO_", "DATABASE_", "SECURE_", "AXES_", "CACHE_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_on_the_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_https_redirect_and_hsts_are_on_in_production_and_configurable() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)"
    )
    default = manage("shell", "-c", code)
    assert default.stdout.split()[-4:] == ["True", "31536000", "True", "False"], default.stderr
    changed = manage(
        "shell",
        "-c",
        code,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="300",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        SECURE_HSTS_PRELOAD="true",
    )
    assert changed.stdout.split()[-4:] == ["False", "300", "False", "True"], changed.stderr
    # and check --deploy names what was turned off
    off = manage("check", "--deploy", "--fail-level", "WARNING", SECURE_SSL_REDIRECT="false")
    assert off.returncode != 0 and "security.W008" in off.stdout + off.stderr
