from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from billing import selectors
from billing.documents import invoice_pdf


@login_required
def invoice_list(request):
    """The organisation's invoices (admins: all), newest first."""
    invoices = selectors.invoice_list(user=request.user).select_related("customer", "contract")[
        :200
    ]
    payouts = selectors.payout_list(user=request.user)[:24]
    return render(request, "billing/invoice_list.html", {"invoices": invoices, "payouts": payouts})


@login_required
def invoice_download(request, pk: int):
    invoice = get_object_or_404(selectors.invoice_list(user=request.user), pk=pk)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number or invoice.pk}.pdf"'
    return response
