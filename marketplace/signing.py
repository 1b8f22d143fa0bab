"""Signing an accepted quote: one contract per seller (the provider, or each reseller).

Called by ``marketplace.services.quote_accept`` inside its transaction, under its locks.
"""

from collections.abc import Sequence

from django.conf import settings

from accounts.models import User
from inventory.models import Cluster
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractKind,
    ContractLine,
    ContractStatus,
    Quote,
    QuoteLine,
    ResaleListing,
)
from marketplace.pricing import PricedLine, price_quote


def seller_groups(lines: Sequence[QuoteLine]) -> list[tuple[Contract | None, list[QuoteLine]]]:
    """The quote's lines by seller: provider capacity first (parent None), then the resale
    lines of each parent contract. Each group becomes one contract."""
    listing_ids = [line.resale_listing_id for line in lines if line.resale_listing_id]
    parents = {
        listing.pk: listing.contract
        for listing in ResaleListing.objects.filter(pk__in=listing_ids).select_related("contract")
    }
    groups: dict[int, tuple[Contract | None, list[QuoteLine]]] = {}
    for line in lines:
        parent = parents[line.resale_listing_id] if line.resale_listing_id else None
        key = parent.pk if parent is not None else 0
        groups.setdefault(key, (parent, []))[1].append(line)
    return [groups[key] for key in sorted(groups)]


def contract_sign(
    capacity_request: CapacityRequest,
    quote: Quote | None,
    lines: list[QuoteLine],
    parent: Contract | None,
    by: User,
    *,
    whole_quote: bool,
) -> Contract:
    """One contract for one seller's lines of an accepted quote, with its lines and history.

    A quote covering one seller keeps its frozen totals; a quote mixing sellers is priced per
    seller (the same rounding, once per contract)."""
    if whole_quote:
        assert quote is not None  # nosec B101 # the first group always carries the quote
        totals = {
            "total_p": quote.total_p,
            "price_per_p_year": quote.price_per_p_year,
            "annual_price": quote.annual_price,
            "total_price": quote.total_price,
            "vat_rate": quote.vat_rate,
            "currency": quote.currency,
        }
    else:
        price = price_quote(
            [
                PricedLine(line.cluster_id, line.servers, line.p, line.price_per_p_year)
                for line in lines
            ],
            term_months=capacity_request.term_months,
            vat_rate=settings.VAT_RATE,
        )
        totals = {
            "total_p": price.total_p,
            "price_per_p_year": price.price_per_p_year,
            "annual_price": price.annual_price,
            "total_price": price.total_price,
            "vat_rate": settings.VAT_RATE,
            "currency": settings.CURRENCY,
        }
    quote_id = quote.pk if quote is not None else lines[0].quote_id
    contract = Contract.objects.create(
        customer=capacity_request.customer,
        request=capacity_request,
        quote=quote,
        kind=ContractKind.PRIMARY if parent is None else ContractKind.RESALE,
        parent_contract=parent,
        start_date=capacity_request.start_date,
        end_date=capacity_request.end_date,
        term_months=capacity_request.term_months,
        signed_by=by,
        **totals,
    )
    providers = dict(
        Cluster.objects.filter(pk__in=[line.cluster_id for line in lines]).values_list(
            "pk", "provider_id"
        )
    )
    ContractLine.objects.bulk_create(
        ContractLine(
            contract=contract,
            cluster_id=line.cluster_id,
            # The seller: the cluster's provider, or the reseller for resale capacity.
            provider_id=providers[line.cluster_id] if parent is None else parent.customer_id,
            servers=line.servers,
            p=line.p,
            price_per_p_year=line.price_per_p_year,
            resale_listing_id=line.resale_listing_id,
        )
        for line in lines
    )
    ContractEvent.objects.create(
        contract=contract,
        from_status="",
        to_status=ContractStatus.PENDING_APPROVAL,
        actor=by,
        reason=f"Signed from quote {quote_id}.",
    )
    return contract
