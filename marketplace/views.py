from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.errors import DomainError
from accounts.selectors import organization_of
from marketplace import selectors, services
from marketplace.models import QuoteStatus


@login_required
def request_list(request):
    """The customer's capacity requests, each with its current quotes."""
    requests = selectors.request_list(user=request.user).prefetch_related(
        "quotes__lines__cluster__provider", "quotes__lines__cluster__region"
    )[:50]
    return render(request, "marketplace/request_list.html", {"requests": requests})


@login_required
@require_POST
def request_quote(request, pk: int):
    capacity_request = get_object_or_404(selectors.request_list(user=request.user), pk=pk)
    try:
        result = services.quotes_generate(capacity_request=capacity_request, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if result.quotes:
            messages.success(request, f"{len(result.quotes)} offer(s), capacity held.")
        else:
            summary = ", ".join(f"{code}: {n}" for code, n in result.rejections.summary.items())
            messages.error(request, f"No cluster can serve this request now ({summary}).")
    return redirect("marketplace:request-list")


@login_required
@require_POST
def quote_accept(request, pk: int):
    quote = get_object_or_404(
        selectors.quote_list(user=request.user), pk=pk, status=QuoteStatus.OPEN
    )
    try:
        contract = services.quote_accept(quote=quote, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("marketplace:request-list")
    messages.success(request, f"Contract {contract.pk} signed; it awaits approval.")
    return redirect("marketplace:contract-detail", pk=contract.pk)


@login_required
def contract_list(request):
    contracts = selectors.contract_list(user=request.user)[:100]
    return render(
        request,
        "marketplace/contract_list.html",
        {"contracts": contracts, "organization": organization_of(request.user)},
    )


@login_required
def contract_detail(request, pk: int):
    contract = get_object_or_404(selectors.contract_list(user=request.user), pk=pk)
    view = selectors.contract_view(contract, user=request.user)
    return render(
        request,
        "marketplace/contract_detail.html",
        {"contract": contract, "lines": view.lines, "show_totals": view.show_totals},
    )


@login_required
@require_POST
def contract_approve(request, pk: int):
    contract = get_object_or_404(selectors.contract_list(user=request.user), pk=pk)
    try:
        services.contract_approve(contract=contract, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Contract {contract.pk} approved.")
    return redirect("marketplace:contract-detail", pk=pk)
