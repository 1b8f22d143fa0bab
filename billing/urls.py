from django.urls import path

from billing.views import invoices

app_name = "billing"

urlpatterns = [
    path("", invoices.invoice_list, name="invoice-list"),
    path("<int:pk>.pdf", invoices.invoice_download, name="invoice-pdf"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice-detail"),
    path("invoices/<int:pk>/pay/card/", invoices.invoice_pay_by_card, name="invoice-checkout"),
]
