"""`/favicon.ico`, which every browser asks for on every site, whatever the page links to.

Served by Django itself (not the static files app) so that it answers in production too, where
nothing else serves files: one 178-byte file, read once, cached by the browser for a day.
"""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

FAVICON_PATH = Path(__file__).resolve().parent.parent / "orders" / "static" / "favicon.ico"
_FAVICON = FAVICON_PATH.read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_FAVICON, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
