from django.urls import path

from marketplace import views

app_name = "marketplace"

urlpatterns = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/<int:pk>/quote/", views.request_quote, name="request-quote"),
    path("quotes/<int:pk>/accept/", views.quote_accept, name="quote-accept"),
    path("contracts/", views.contract_list, name="contract-list"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract-detail"),
    path("contracts/<int:pk>/approve/", views.contract_approve, name="contract-approve"),
]
