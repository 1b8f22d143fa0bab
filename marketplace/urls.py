from django.urls import path

from marketplace import resale_views, views

app_name = "marketplace"

urlpatterns = [
    path("sizing/", views.sizing_calculator, name="sizing"),
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_create, name="request-create"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/reasons/", views.request_reasons, name="request-reasons"),
    path("requests/<int:pk>/quote/", views.request_quote, name="request-quote"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("quotes/<int:pk>/accept/", views.quote_accept, name="quote-accept"),
    path("contracts/", views.contract_list, name="contract-list"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract-detail"),
    path("contracts/<int:pk>/pdf/", views.contract_pdf, name="contract-pdf"),
    path("contracts/<int:pk>/approve/", views.contract_approve, name="contract-approve"),
    path("contracts/<int:pk>/terminate/", views.contract_terminate, name="contract-terminate"),
    path(
        "contracts/<int:pk>/resale/",
        resale_views.contract_resale_create,
        name="contract-resale-create",
    ),
    path("resale/<int:pk>/withdraw/", resale_views.resale_withdraw, name="resale-withdraw"),
]
