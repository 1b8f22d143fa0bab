from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api import dispute_views, fapiao, payment_views, refund_views, views

router = SimpleRouter()
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("payouts", views.PayoutViewSet, basename="payout")
router.register("disputes", dispute_views.DisputeViewSet, basename="dispute")
router.register("fapiao-requests", fapiao.FapiaoRequestViewSet, basename="fapiao-request")

urlpatterns = [
    path("invoices/export.csv", views.InvoiceExportView.as_view(), name="invoice-export"),
    path(
        "invoices/<int:pk>/fapiao-requests/",
        fapiao.InvoiceFapiaoRequestView.as_view(),
        name="invoice-fapiao-requests",
    ),
    path("fapiao-requests/export.csv", fapiao.FapiaoExportView.as_view(), name="fapiao-export"),
    path("invoices/<int:pk>/pay/", payment_views.InvoicePayView.as_view(), name="invoice-pay"),
    path(
        "invoices/<int:pk>/mark-paid/",
        payment_views.InvoiceMarkPaidView.as_view(),
        name="invoice-mark-paid",
    ),
    path(
        "invoices/<int:pk>/disputes/",
        dispute_views.InvoiceDisputeCreateView.as_view(),
        name="invoice-disputes",
    ),
    path(
        "payments/<int:pk>/refund/",
        refund_views.PaymentRefundView.as_view(),
        name="payment-refund",
    ),
    path(
        "billing/stripe/webhook/",
        payment_views.StripeWebhookView.as_view(),
        name="stripe-webhook",
    ),
    *router.urls,
]
