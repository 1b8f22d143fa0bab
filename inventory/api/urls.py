from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("gpu-models", views.GpuModelViewSet, basename="gpu-model")
router.register("regions", views.RegionViewSet, basename="region")
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("outages", views.OutageViewSet, basename="outage")

urlpatterns = router.urls
