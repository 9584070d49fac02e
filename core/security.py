"""Staff accounts that can move money: login throttling, the second factor, session limits and a
fresh password or code before a money action.

- **Throttling** is django-axes (settings `AXES_*`): the lockout page is here, the alert in
  `payments.alerts.alert_login_locked_out` (core imports none of the apps).
- **Second factor**: every staff account needs a confirmed TOTP device (django-otp) and must
  have used it in this session before any admin page does anything (`StaffSecurityMiddleware`)
  or the API accepts its session (`VerifiedSessionAuthentication`). API tokens are unchanged.
- **Sessions**: a staff session ends after `STAFF_SESSION_IDLE_SECONDS` without a request and
  `STAFF_SESSION_MAX_SECONDS` after its login, whatever happens in between.
- **Recent authentication**: `require_recent_auth` on a money action sends staff whose last
  password or code is older than `RECENT_AUTH_SECONDS` to confirm one first.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import user_has_device
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

logger = logging.getLogger(__name__)

# Session keys (epoch seconds).
LOGIN_AT_KEY = "security_login_at"
SEEN_AT_KEY = "security_seen_at"
RECENT_AUTH_KEY = "security_recent_auth_at"
# How often a staff request writes its "last seen" time to the session (not on every request).
SEEN_RESOLUTION_SECONDS = 30

MESSAGE_LOCKED_OUT = (
    "Too many failed logins for this account or from this address. Logins are refused for "
    "{minutes} minutes; ask an administrator to unlock the account sooner."
)
MESSAGE_SESSION_IDLE = "Your session ended after {minutes} minutes without activity. Log in again."
MESSAGE_SESSION_MAX = "Your session ended {hours} hours after you logged in. Log in again."
MESSAGE_NEEDS_OTP = "This needs a staff session verified with a second factor (an authenticator code)."


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one the first of `TRUSTED_PROXY_COUNT` proxies
    saw (X-Forwarded-For's Nth entry from the right). A client can write X-Forwarded-For itself,
    so it is read only when our own proxies are known to rewrite it."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    hops = [
        hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()
    ]
    return hops[-proxies] if len(hops) >= proxies else remote


def _is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


def _is_verified(user: Any) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def mark_recent_auth(request: HttpRequest) -> None:
    request.session[RECENT_AUTH_KEY] = int(time.time())


# ---------------------------------------------------------------------------- throttling


def login_locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): 429 and a page that says why."""
    minutes = _cooloff_minutes()
    return render(
        request,
        "security/locked_out.html",
        {"message": MESSAGE_LOCKED_OUT.format(minutes=minutes), "title": "Login refused"},
        status=429,
    )


def _cooloff_minutes() -> int:
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    return int(cooloff.total_seconds() // 60) if isinstance(cooloff, timedelta) else 0


def cooloff_seconds() -> int:
    return max(60, _cooloff_minutes() * 60)


@receiver(user_logged_in, dispatch_uid="core.security.logged_in")
def _on_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    # A password login is a fresh authentication; the session's clocks start here.
    if request is None or not hasattr(request, "session"):
        return
    now = int(time.time())
    request.session[LOGIN_AT_KEY] = now
    request.session[SEEN_AT_KEY] = now
    request.session[RECENT_AUTH_KEY] = now


# ---------------------------------------------------------------------------- middleware


def _exempt(path: str) -> bool:
    """Paths an unverified staff session may use: logging in and out, and the second-factor pages."""
    admin_root = reverse("admin:index")
    exempt = (
        reverse("admin:login"),
        reverse("admin:logout"),
        admin_root + "jsi18n/",
        reverse("security:enrol"),
        reverse("security:verify"),
    )
    return path.startswith(exempt) or not path.startswith(admin_root)


def second_factor_url(request: HttpRequest) -> str:
    """Where an unverified staff session goes: enrolment first, then verification."""
    name = "security:verify" if user_has_device(request.user, confirmed=True) else "security:enrol"
    return reverse(name) + "?" + urlencode({"next": request.get_full_path()})


class StaffSecurityMiddleware:
    """After django-otp's OTPMiddleware: ends staff sessions that were idle or are too old, and
    sends a staff session without a verified second factor from any admin page to enrolment or
    verification."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if _is_staff(user):
            ended = self._session_ended(request)
            if ended:
                logout(request)
                if not request.path.startswith(reverse("admin:index")):
                    return self.get_response(request)  # the API answers 401, a shop page goes on
                messages.warning(request, ended)
                return HttpResponseRedirect(
                    reverse("admin:login") + "?" + urlencode({"next": request.get_full_path()})
                )
            if not _is_verified(user) and not _exempt(request.path):
                return HttpResponseRedirect(second_factor_url(request))
        return self.get_response(request)

    @staticmethod
    def _session_ended(request: HttpRequest) -> str:
        now = int(time.time())
        session = request.session
        login_at = int(session.get(LOGIN_AT_KEY) or 0)
        seen_at = int(session.get(SEEN_AT_KEY) or login_at)
        if not login_at:  # a session from before these limits: its clock starts now
            session[LOGIN_AT_KEY] = session[SEEN_AT_KEY] = now
            return ""
        idle = int(settings.STAFF_SESSION_IDLE_SECONDS)
        if now - seen_at > idle:
            return MESSAGE_SESSION_IDLE.format(minutes=idle // 60)
        longest = int(settings.STAFF_SESSION_MAX_SECONDS)
        if now - login_at > longest:
            return MESSAGE_SESSION_MAX.format(hours=longest // 3600)
        if now - seen_at >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT_KEY] = now
        return ""


class VerifiedSessionAuthentication(SessionAuthentication):
    """DRF's session auth, refusing a session whose user has not passed the second factor."""

    def authenticate(self, request: Any) -> Any:
        result = super().authenticate(request)
        if result is None:
            return None
        if not _is_verified(getattr(request._request, "user", None)):
            raise exceptions.AuthenticationFailed(MESSAGE_NEEDS_OTP)
        return result


# ---------------------------------------------------------------------------- recent authentication

F = TypeVar("F", bound=Callable[..., Any])


def has_recent_auth(request: HttpRequest) -> bool:
    """True when this session's last password or code is at most RECENT_AUTH_SECONDS old."""
    at = int(request.session.get(RECENT_AUTH_KEY) or 0)
    return at > 0 and time.time() - at <= int(settings.RECENT_AUTH_SECONDS)


def reauth_redirect(request: HttpRequest) -> HttpResponseRedirect:
    """Send staff to confirm their password or a code, then back to this page (GET)."""
    messages.info(request, "Confirm it is you (your password or a fresh code) to do this.")
    return HttpResponseRedirect(
        reverse("security:confirm") + "?" + urlencode({"next": request.get_full_path()})
    )


def require_recent_auth(view: F) -> F:
    """For money actions: run `view` only if the staff member entered their password or a code
    in the last RECENT_AUTH_SECONDS; otherwise redirect to the confirmation page, which sends
    them back here. Works on a view `(request, ...)` and on an admin action
    `(modeladmin, request, queryset)`: the request is the first HttpRequest argument.
    A POST is not replayed: after confirming, the staff member repeats the action."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request = next((arg for arg in args if isinstance(arg, HttpRequest)), None)
        if request is None:
            raise TypeError("require_recent_auth needs the view's HttpRequest as a positional argument")
        if not has_recent_auth(request):
            return reauth_redirect(request)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def safe_next(request: HttpRequest, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse("admin:index")
