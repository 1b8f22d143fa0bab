"""Pages of the secondary market: list part of a contract for resale, withdraw a listing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from inventory.models import Cluster
from marketplace import resale, selectors
from marketplace.resale_forms import ResaleListingForm
from marketplace.resale_selectors import resale_listing_list
from marketplace.views import contract_page


@login_required
@require_POST
def contract_resale_create(request: HttpRequest, pk: int) -> HttpResponse:
    """List some of the contract's servers for resale (its customer)."""
    contract = get_object_or_404(selectors.contract_detail(user=request.user), pk=pk)
    try:
        resale.check_reseller(contract, request.user)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from None
    form = ResaleListingForm(request.POST, contract=contract)
    if form.is_valid():
        data = dict(form.cleaned_data)
        cluster = get_object_or_404(Cluster, pk=data.pop("cluster"))
        try:
            listing = resale.resale_list(
                contract=contract, by=request.user, cluster=cluster, **data
            )
        except InvalidInput as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("marketplace:contract-detail", pk=pk)
        else:
            messages.success(
                request,
                gettext("%(servers)s servers listed for resale (listing %(number)s).")
                % {"servers": listing.servers, "number": listing.pk},
            )
            return redirect("marketplace:contract-detail", pk=pk)
    return contract_page(request, contract, resale_form=form, status=400)


@login_required
@require_POST
def resale_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw the unsold part of a listing (its reseller, or an admin)."""
    listing = get_object_or_404(resale_listing_list(user=request.user), pk=pk)
    try:
        resale.resale_withdraw(listing=listing, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Listing %(number)s withdrawn.") % {"number": listing.pk})
    return redirect("marketplace:contract-detail", pk=listing.contract_id)
