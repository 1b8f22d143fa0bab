from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.invoice_list, name="invoice-list"),
    path("<int:pk>.pdf", views.invoice_download, name="invoice-pdf"),
]
