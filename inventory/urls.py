from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.cluster_list, name="cluster-list"),
    path("mine/", views.cluster_mine, name="cluster-mine"),
    path("new/", views.cluster_create, name="cluster-create"),
    path("rating/", views.cluster_rating, name="cluster-rating"),
    path("<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("<int:pk>/edit/", views.cluster_edit, name="cluster-edit"),
    path("<int:pk>/status/", views.cluster_status, name="cluster-status"),
    path("<int:pk>/maintenance/new/", views.maintenance_create, name="maintenance-create"),
    path("<int:pk>/outages/new/", views.outage_create, name="outage-create"),
    path("outages/<int:pk>/edit/", views.outage_edit, name="outage-edit"),
]
