"""Payout statement pages: a provider's monthly statements (admins: all), one with its lines,
and its PDF and CSV. Thin: selectors and ``billing.documents.payouts``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.selectors import is_platform_admin
from billing import selectors
from billing.documents.payouts import commission_label, payout_csv, payout_pdf

LIST_LIMIT = 120


@login_required
@require_GET
def payout_list(request: HttpRequest) -> HttpResponse:
    statements = list(selectors.payout_list(user=request.user, with_lines=False)[:LIST_LIMIT])
    return render(
        request,
        "billing/payout_list.html",
        {"statements": statements, "staff": is_platform_admin(request.user)},
    )


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
