"""What people do on the invoice page besides paying: admins refund payments; customers dispute
the invoice and admins resolve the dispute. Thin: a form validates, one service writes; domain
errors become field errors or messages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, InvalidInput
from accounts.formatting import format_money
from accounts.selectors import is_platform_admin
from billing import selectors
from billing.credits.disputes import dispute_open, dispute_resolve
from billing.payments.refunds import refund_issue, refund_unanswered
from billing.views.forms import DisputeForm, DisputeResolveForm, RefundForm
from billing.views.invoices import invoice_for, invoice_page


def _form_error(form, exc: InvalidInput) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@require_POST
def invoice_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: refund one of the invoice's payments, in full or in part."""
    if not is_platform_admin(request.user):  # before the lookup: the same 403 for every id
        raise PermissionDenied(gettext("Only platform admins refund payments."))
    invoice = invoice_for(request, pk)
    payments = selectors.refundable_payments(invoice)
    form = RefundForm(request.POST, payments=payments)
    if form.is_valid():
        payment = next(p for p in payments if p.pk == form.cleaned_data["payment"])
        try:
            outcome = refund_issue(
                payment=payment,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                actor_label="page",
            )
        except InvalidInput as exc:
            _form_error(form, exc)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("billing:invoice-detail", pk=invoice.pk)
        else:
            refund = outcome.refund
            if refund_unanswered(refund):
                text = gettext(
                    "Stripe did not answer the refund of %(amount)s. It stays pending until "
                    "Stripe confirms it; check the Stripe dashboard before refunding again."
                )
            elif refund.status == "pending":
                text = gettext(
                    "Refund of %(amount)s sent to Stripe; it shows as refunded once "
                    "Stripe confirms it."
                )
            else:
                text = gettext(
                    "Refund of %(amount)s recorded; send the bank transfer to the customer."
                )
            messages.success(request, text % {"amount": format_money(refund.amount)})
            return redirect("billing:invoice-detail", pk=invoice.pk)
    return invoice_page(request, invoice, status=400, refund_form=form)


@login_required
@require_POST
def invoice_dispute_open(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer disputes its invoice: reminders pause until an admin resolves it."""
    invoice = invoice_for(request, pk)
    if is_platform_admin(request.user):
        raise PermissionDenied(gettext("Only the invoice's customer disputes it."))
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            dispute_open(invoice=invoice, reason=form.cleaned_data["reason"], by=request.user)
        except InvalidInput as exc:
            _form_error(form, exc)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("billing:invoice-detail", pk=invoice.pk)
        else:
            messages.success(
                request,
                gettext(
                    "Your dispute is open. We send no reminders for this invoice until "
                    "our team has answered it."
                ),
            )
            return redirect("billing:invoice-detail", pk=invoice.pk)
    return invoice_page(request, invoice, status=400, dispute_form=form)


@login_required
@require_POST
def invoice_dispute_resolve(request: HttpRequest, pk: int, dispute_pk: int) -> HttpResponse:
    """Staff: resolve the invoice's open dispute with a credit note or a rejection."""
    if not is_platform_admin(request.user):  # before the lookup: the same 403 for every id
        raise PermissionDenied(gettext("Only platform admins resolve disputes."))
    invoice = invoice_for(request, pk)
    dispute = get_object_or_404(invoice.disputes, pk=dispute_pk)
    form = DisputeResolveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            resolved = dispute_resolve(
                dispute=dispute,
                outcome=data["outcome"],
                amount=data["amount"] if data["outcome"] == "credited" else None,
                reason=data["reason"],
                by=request.user,
            )
        except InvalidInput as exc:
            _form_error(form, exc)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("billing:invoice-detail", pk=invoice.pk)
        else:
            if resolved.credit_note:
                text = gettext(
                    "Dispute resolved: credit note %(number)s for %(amount)s issued."
                ) % {
                    "number": resolved.credit_note.number,
                    "amount": format_money(resolved.credit_note.amount),
                }
            else:
                text = gettext("Dispute rejected; reminders for this invoice resume.")
            messages.success(request, text)
            return redirect("billing:invoice-detail", pk=invoice.pk)
    return invoice_page(request, invoice, status=400, resolve_form=form)
