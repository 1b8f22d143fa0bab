from django.urls import path

from billing.views import fapiao, invoices

app_name = "billing"

urlpatterns = [
    path("", invoices.invoice_list, name="invoice-list"),
    path("<int:pk>.pdf", invoices.invoice_download, name="invoice-pdf"),
    path("invoices/<int:pk>/fapiao/", fapiao.fapiao_request_new, name="fapiao-request"),
    path("fapiao/", fapiao.fapiao_list, name="fapiao-list"),
    path("fapiao/export.csv", fapiao.fapiao_export, name="fapiao-export"),
    path("fapiao/<int:pk>/issued/", fapiao.fapiao_issued, name="fapiao-issued"),
    path("fapiao/<int:pk>/reject/", fapiao.fapiao_reject, name="fapiao-reject"),
]
