"""The project's URLs plus one small money view behind `require_recent_auth`, for its tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from core.security import require_recent_auth

calls: list[str] = []


@require_recent_auth
def money_view(request: HttpRequest) -> HttpResponse:
    calls.append(request.method or "")
    return HttpResponse("money moved")


urlpatterns = [path("test/money/", money_view), *project_urlpatterns]
