from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.health import healthz
from core.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    # Staff second factor and re-authentication (core/security.py).
    path("staff/security/", include("core.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("stripe/", include("payments.urls")),
    path("", include("orders.urls")),
]
