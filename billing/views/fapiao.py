"""Fapiao pages: a customer requests a fapiao for a paid invoice and follows its status;
admins see the pending requests, download them for bulk issue and record each fapiao's number
and date (or reject) on the same page. Thin: forms, one service call, a redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.errors import DomainError, InvalidInput
from accounts.selectors import is_platform_admin, organization_of
from billing import selectors
from billing.fapiao import requests as fapiao
from billing.fapiao.export import fapiao_amounts, fapiao_requests_csv
from billing.models import FapiaoKind, InvoiceStatus
from billing.views.fapiao_forms import FapiaoIssuedForm, FapiaoRejectForm, FapiaoRequestForm

LIST_LIMIT = 200


def _form_error(form, exc: DomainError) -> None:
    """Put a service's refusal on the field it names (or above the form)."""
    if isinstance(exc, InvalidInput) and exc.field in form.fields:
        form.add_error(exc.field, exc.message)
        return
    fields = [name for name in exc.details if name in form.fields]
    for name in fields:
        for message in exc.details[name]:
            form.add_error(name, message)
    if not fields:
        form.add_error(None, exc.message)


def _list_page(request: HttpRequest, *, bound: dict | None = None) -> HttpResponse:
    staff = is_platform_admin(request.user)
    requests = list(selectors.fapiao_request_list(user=request.user)[:LIST_LIMIT])
    bound = bound or {}
    rows = []
    for item in requests:
        row = {"request": item}
        if staff and item.status == "requested":
            row["issued_form"] = bound.get(("issued", item.pk)) or FapiaoIssuedForm(
                prefix=f"issued-{item.pk}", initial={"issued_on": timezone.localdate()}
            )
            row["reject_form"] = bound.get(("reject", item.pk)) or FapiaoRejectForm(
                prefix=f"reject-{item.pk}"
            )
        rows.append(row)
    pending = [row for row in rows if row["request"].status == "requested"]
    decided = [row for row in rows if row["request"].status != "requested"]
    return render(
        request,
        "billing/fapiao_list.html",
        {"staff": staff, "pending": pending, "decided": decided},
        status=400 if bound else 200,
    )


@login_required
@require_GET
def fapiao_list(request: HttpRequest) -> HttpResponse:
    """Customers: their requests and statuses. Admins: every request, pending ones first."""
    return _list_page(request)


@login_required
@require_http_methods(["GET", "POST"])
def fapiao_request_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Request a fapiao for a paid invoice, pre-filled from the organisation's legal profile."""
    invoice = get_object_or_404(selectors.invoice_list(user=request.user), pk=pk)
    organization = organization_of(request.user)
    if organization is None or not organization.is_customer:
        raise PermissionDenied
    if request.method == "POST":
        form = FapiaoRequestForm(request.POST)
    else:
        complete = not organization.missing_legal_fields
        form = FapiaoRequestForm(
            initial={
                **fapiao.fapiao_defaults(organization),
                "kind": FapiaoKind.SPECIAL if complete else FapiaoKind.ORDINARY,
            }
        )
    if request.method == "POST" and form.is_valid():
        try:
            fapiao.fapiao_request_create(invoice=invoice, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Your fapiao request is sent to our finance team."))
            return redirect("billing:fapiao-list")
    return render(
        request,
        "billing/fapiao_request.html",
        {
            "form": form,
            "invoice": invoice,
            "paid": invoice.status == InvoiceStatus.PAID,
            "amounts": fapiao_amounts(invoice),
            "organization": organization,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _staff_request(request: HttpRequest, pk: int):
    if not is_platform_admin(request.user):
        raise PermissionDenied
    return get_object_or_404(selectors.fapiao_request_list(user=request.user), pk=pk)


@login_required
@require_POST
def fapiao_issued(request: HttpRequest, pk: int) -> HttpResponse:
    """Admins: record the number and date of the fapiao issued for a request."""
    target = _staff_request(request, pk)
    form = FapiaoIssuedForm(request.POST, prefix=f"issued-{pk}")
    if form.is_valid():
        try:
            fapiao.fapiao_mark_issued(request=target, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("Fapiao %(number)s is recorded.")
                % {"number": form.cleaned_data["fapiao_number"]},
            )
            return redirect("billing:fapiao-list")
    return _list_page(request, bound={("issued", pk): form})


@login_required
@require_POST
def fapiao_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """Admins: reject a request with a reason the customer sees."""
    target = _staff_request(request, pk)
    form = FapiaoRejectForm(request.POST, prefix=f"reject-{pk}")
    if form.is_valid():
        try:
            fapiao.fapiao_reject(request=target, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The request is rejected."))
            return redirect("billing:fapiao-list")
    return _list_page(request, bound={("reject", pk): form})


@login_required
@require_GET
def fapiao_export(request: HttpRequest) -> StreamingHttpResponse:
    """Admins: the pending requests as CSV for bulk issue in the tax-control software."""
    if not is_platform_admin(request.user):
        raise PermissionDenied
    response = StreamingHttpResponse(
        fapiao_requests_csv(selectors.fapiao_requests_pending().iterator(chunk_size=500)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="fapiao-requests.csv"'
    return response
