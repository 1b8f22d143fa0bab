from django.urls import path
from rest_framework.routers import SimpleRouter

from marketplace.api import views

router = SimpleRouter()
router.register("capacity-requests", views.CapacityRequestViewSet, basename="capacity-request")
router.register("quotes", views.QuoteViewSet, basename="quote")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("resale-listings", views.ResaleListingViewSet, basename="resale-listing")

urlpatterns = [
    path("market/", views.MarketView.as_view(), name="market"),
    path("market/index/", views.MarketIndexView.as_view(), name="market-index"),
    path("sizing/", views.SizingView.as_view(), name="sizing"),
    *router.urls,
]
