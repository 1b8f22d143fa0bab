from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.cluster_list, name="cluster-list"),
    path("<int:pk>/", views.cluster_detail, name="cluster-detail"),
]
