from django.urls import path

from billing.views import fapiao, invoice_actions, invoices, payouts

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
    path("invoices/<int:pk>/fapiao/", fapiao.fapiao_request_new, name="fapiao-request"),
    path("payouts/", payouts.payout_list, name="payout-list"),
    path("payouts/proceeds/", payouts.payout_proceeds_set, name="payout-proceeds"),
    path("payouts/<int:pk>/", payouts.payout_detail, name="payout-detail"),
    path("payouts/<int:pk>/pdf/", payouts.payout_download_pdf, name="payout-pdf"),
    path("payouts/<int:pk>/csv/", payouts.payout_download_csv, name="payout-csv"),
    path("fapiao/", fapiao.fapiao_list, name="fapiao-list"),
    path("fapiao/export.csv", fapiao.fapiao_export, name="fapiao-export"),
    path("fapiao/<int:pk>/issued/", fapiao.fapiao_issued, name="fapiao-issued"),
    path("fapiao/<int:pk>/reject/", fapiao.fapiao_reject, name="fapiao-reject"),
]
