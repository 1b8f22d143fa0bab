"""Payout statement pages: a provider's monthly statements (admins: all), one with its lines,
and its PDF and CSV. Thin: selectors and ``billing.documents.payouts``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import InvalidInput
from accounts.selectors import is_platform_admin, organization_of
from billing import selectors
from billing.documents.payouts import commission_label, payout_csv, payout_pdf
from billing.payouts.proceeds import (
    may_choose_resale_proceeds,
    payout_balance_entry,
    resale_proceeds_choice,
    resale_proceeds_set,
)
from billing.views.forms import ResaleProceedsForm

LIST_LIMIT = 120


def _payout_list_page(
    request: HttpRequest, *, proceeds_form: ResaleProceedsForm | None = None, status: int = 200
) -> HttpResponse:
    statements = list(selectors.payout_list(user=request.user, with_lines=False)[:LIST_LIMIT])
    organization = organization_of(request.user)
    if proceeds_form is None and organization is not None:
        proceeds_form = ResaleProceedsForm(
            initial={"resale_proceeds": resale_proceeds_choice(organization=organization)}
        )
    return render(
        request,
        "billing/payout_list.html",
        {
            "statements": statements,
            "staff": is_platform_admin(request.user),
            "proceeds_form": proceeds_form,
            "may_choose": may_choose_resale_proceeds(request.user),
        },
        status=status,
    )


@login_required
@require_GET
def payout_list(request: HttpRequest) -> HttpResponse:
    return _payout_list_page(request)


@login_required
@require_POST
def payout_proceeds_set(request: HttpRequest) -> HttpResponse:
    """An owner or billing member chooses how its organisation receives its resale proceeds."""
    organization = organization_of(request.user)
    if organization is None or not may_choose_resale_proceeds(request.user):
        raise PermissionDenied(
            gettext("Only the organisation's owners and billing members choose how it is paid.")
        )
    form = ResaleProceedsForm(request.POST)
    if form.is_valid():
        try:
            resale_proceeds_set(
                organization=organization,
                choice=form.cleaned_data["resale_proceeds"],
                by=request.user,
            )
        except InvalidInput as exc:
            form.add_error("resale_proceeds", exc.message)
        else:
            messages.success(request, gettext("Saved: statements closed from now on follow it."))
            return redirect("billing:payout-list")
    return _payout_list_page(request, proceeds_form=form, status=400)


def _statement(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.payout_list(user=request.user), pk=pk)


@login_required
@require_GET
def payout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement(request, pk)
    return render(
        request,
        "billing/payout_detail.html",
        {
            "statement": statement,
            "lines": list(statement.lines.all()),
            "commission_label": commission_label(statement),
            "balance_entry": payout_balance_entry(statement),
        },
    )


def _filename(statement, extension: str) -> str:
    return f"payout-{statement.provider_id}-{statement.period_start:%Y-%m}.{extension}"


@login_required
@require_GET
def payout_download_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement(request, pk)
    response = HttpResponse(payout_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(statement, "pdf")}"'
    return response


@login_required
@require_GET
def payout_download_csv(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement(request, pk)
    response = HttpResponse(payout_csv(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "csv")}"'
    return response
