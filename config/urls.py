from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.favicon import favicon
from config.health import healthz
from config.metrics import metrics_view
from orders import urls as orders_urls
from payments import urls as payments_urls

# The shop's pages, all named `orders:…`: the catalog and cart come from orders, the checkout,
# payment and order pages from payments (which builds on orders; orders does not import it).
shop = (orders_urls.urlpatterns + payments_urls.shop_urlpatterns, "orders")

urlpatterns = [
    # The staff console's admin pages (search, refund), before the admin's own catch-all.
    path("admin/", include("console.urls")),
    path("admin/", admin.site.urls),
    # Staff second factor and re-authentication (core/security.py).
    path("staff/security/", include("core.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/finance/orders/", include("console.finance_urls")),
    path("api/staff/", include("console.staff_urls")),
    path("api/finance/disputes/", include("disputes.urls")),
    path("api/finance/", include("reconciliation.urls")),
    path("stripe/", include("payments.urls")),
    path("billing/", include("billing.urls")),
    path("", include(shop)),
]
