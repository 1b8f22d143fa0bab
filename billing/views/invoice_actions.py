"""What people do on the invoice page besides paying: admins refund payments. Thin: a form
validates, one service writes; domain errors become field errors or messages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, InvalidInput
from accounts.formatting import format_money
from accounts.selectors import is_platform_admin
from billing import selectors
from billing.payments.refunds import refund_issue
from billing.views.forms import RefundForm
from billing.views.invoices import invoice_for, invoice_page


def _form_error(form, exc: InvalidInput) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@require_POST
def invoice_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: refund one of the invoice's payments, in full or in part."""
    invoice = invoice_for(request, pk)
    if not is_platform_admin(request.user):
        raise PermissionDenied(gettext("Only platform admins refund payments."))
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
            if refund.status == "pending":
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
