from django.urls import path

from billing.views import invoice_actions, invoices

app_name = "billing"

urlpatterns = [
    path("", invoices.invoice_list, name="invoice-list"),
    path("<int:pk>.pdf", invoices.invoice_download, name="invoice-pdf"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice-detail"),
    path("invoices/<int:pk>/pay/card/", invoices.invoice_pay_by_card, name="invoice-checkout"),
    path("invoices/<int:pk>/refund/", invoice_actions.invoice_refund, name="invoice-refund"),
    path(
        "invoices/<int:pk>/disputes/",
        invoice_actions.invoice_dispute_open,
        name="invoice-dispute-open",
    ),
    path(
        "invoices/<int:pk>/disputes/<int:dispute_pk>/resolve/",
        invoice_actions.invoice_dispute_resolve,
        name="invoice-dispute-resolve",
    ),
]
