"""The dashboard and the admins' work queue, under /dashboard/ (names without a namespace:
``dashboard``, ``queue``, ``queue-action``)."""

from django.urls import path

from billing.views import dashboard, queue

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("queue/", queue.queue, name="queue"),
    path(
        "queue/<slug:kind>/<int:pk>/<slug:action>/",
        queue.queue_action,
        name="queue-action",
    ),
]
