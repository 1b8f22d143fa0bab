from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api_root import api_root
from config.health import healthz
from marketplace import views as market_views

api_v1 = [
    path("", api_root, name="api-root"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("accounts.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("marketplace.api.urls")),
    path("", include("billing.api.urls")),
]

urlpatterns = [
    path("", market_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("clusters/", include("inventory.urls")),
    path("market/", include("marketplace.urls")),
    path("billing/", include("billing.urls")),
    path("dashboard/", include("billing.dashboard_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
]

# Under /api/ these answer in the API's JSON error shape; elsewhere Django's pages.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
