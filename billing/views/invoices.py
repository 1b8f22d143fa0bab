"""Invoice pages: the list, one invoice with its payments, credits and audit trail, its PDF.
Thin: selectors read, services write; domain errors become messages in the reader's language."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.errors import DomainError
from accounts.money import ZERO
from accounts.selectors import is_platform_admin
from billing import selectors
from billing.documents import invoice_pdf
from billing.documents.words import line_words
from billing.ledger.invoices import PAYABLE
from billing.models import DisputeStatus, InvoiceStatus
from billing.payments.checkout import checkout_start
from billing.payments.gateways import card_gateway
from billing.views.forms import DisputeForm, DisputeResolveForm, RefundForm

ONE_DAY = timedelta(days=1)
DISPUTABLE = (*PAYABLE, InvoiceStatus.PAID)


@login_required
def invoice_list(request):
    """The organisation's invoices (admins: all), newest first."""
    invoices = selectors.invoice_list(user=request.user).select_related("customer", "contract")[
        :200
    ]
    rows = [{"invoice": i, "last_day": i.period_end - ONE_DAY} for i in invoices]
    has_payouts = selectors.sells_capacity(user=request.user)
    return render(request, "billing/invoice_list.html", {"rows": rows, "has_payouts": has_payouts})


def invoice_for(request: HttpRequest, pk: int):
    """The invoice ``pk`` if the user may see it (its customer's members, admins), else 404."""
    return get_object_or_404(
        selectors.invoice_list(user=request.user).select_related("contract"), pk=pk
    )


def invoice_page(request: HttpRequest, invoice, *, status: int = 200, **forms) -> HttpResponse:
    """Render the invoice page; ``forms`` replace the empty ones (a form with its errors)."""
    payments = selectors.invoice_payments(invoice)
    staff = is_platform_admin(request.user)
    payable = invoice.status in PAYABLE and invoice.amount_due > 0
    context = {
        "invoice": invoice,
        "lines": [
            {
                "line": line,
                "words": line_words(line, invoice),
                "last_day": line.period_end - ONE_DAY if line.period_end else None,
            }
            for line in invoice.lines.all()
        ],
        "period_last_day": invoice.period_end - ONE_DAY,
        "amount_due": max(invoice.amount_due, ZERO),
        "credit_notes": list(invoice.credit_notes.all()),
        "payments": payments,
        "history": selectors.invoice_history(invoice, payments=payments),
        "is_staff": staff,
        "can_pay": payable and not staff,
        "card_available": card_gateway() is not None,
        "bank": {
            "beneficiary": settings.PLATFORM_LEGAL_NAME,
            "beneficiary_en": settings.PLATFORM_LEGAL_NAME_EN,
            "bank_name": settings.PLATFORM_BANK_NAME,
            "account": settings.PLATFORM_BANK_ACCOUNT,
            "reference": invoice.number,
        },
    }
    if staff:
        refundable = selectors.refundable_payments(invoice)
        context["refund_form"] = RefundForm(payments=refundable) if refundable else None
    context["refunds"] = selectors.invoice_refunds(invoice)
    disputes = selectors.invoice_disputes(invoice)
    open_dispute = next((d for d in disputes if d.status == DisputeStatus.OPEN), None)
    context["disputes"] = disputes
    context["open_dispute"] = open_dispute
    context["dispute_form"] = (
        DisputeForm()
        if not staff and open_dispute is None and invoice.status in DISPUTABLE
        else None
    )
    context["resolve_form"] = DisputeResolveForm() if staff and open_dispute else None
    context.update(forms)
    response = render(request, "billing/invoice_detail.html", context, status=status)
    if context["card_available"] and context["can_pay"]:
        # The pay button's POST is answered with a redirect to Stripe's hosted page: the
        # page's form-action must allow that origin.
        response._csp_update = {"form-action": [settings.STRIPE_CHECKOUT_ORIGIN]}
    return response


@login_required
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = invoice_for(request, pk)
    returned = request.GET.get("checkout")
    if returned == "done":
        messages.info(
            request,
            gettext("Thank you. The payment shows here as soon as Stripe confirms it."),
        )
    elif returned == "cancelled":
        messages.warning(request, gettext("The card payment was cancelled; nothing was charged."))
    return invoice_page(request, invoice)


@login_required
@require_POST
def invoice_pay_by_card(request: HttpRequest, pk: int) -> HttpResponse:
    """Customers: open Stripe's hosted payment page for what the invoice owes and go there."""
    invoice = invoice_for(request, pk)
    if is_platform_admin(request.user):
        raise PermissionDenied(gettext("Only the customer pays its invoices."))
    page = request.build_absolute_uri(reverse("billing:invoice-detail", args=[invoice.pk]))
    try:
        started = checkout_start(
            invoice=invoice,
            actor=request.user,
            success_url=f"{page}?checkout=done",
            cancel_url=f"{page}?checkout=cancelled",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing:invoice-detail", pk=invoice.pk)
    return redirect(started.url)


@login_required
def invoice_download(request, pk: int):
    invoice = get_object_or_404(selectors.invoice_list(user=request.user), pk=pk)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number or invoice.pk}.pdf"'
    return response
