"""Helpers for the secondary-market tests: a signed contract ready to resell."""

from datetime import date
from decimal import Decimal

from inventory.capacity import Usage, peak_usage
from inventory.models import Allocation, AllocationKind
from marketplace import resale, services
from marketplace.models import Contract, ContractStatus, ResaleListing
from marketplace.terms import months_after
from tests.factories import ClusterFactory, OrganizationFactory, capacity_request, member_of


def signed_contract(customer, *, cluster, servers, term_months=12, start=None) -> Contract:
    """``customer`` books ``servers`` of ``cluster``; the contract is approved."""
    user = customer.memberships.first().user
    fields = {"servers": servers, "single_cluster": True, "term_months": term_months}
    if start is not None:
        fields["start_date"] = start
    request = capacity_request(customer, **fields)
    quotes = services.quotes_generate(capacity_request=request, by=user).quotes
    quote = next(q for q in quotes if q.lines.get().cluster_id == cluster.pk)
    contract = services.quote_accept(quote=quote, by=user)
    Contract.objects.filter(pk=contract.pk).update(status=ContractStatus.APPROVED)
    contract.refresh_from_db()
    return contract


def reseller_setup(*, cluster_servers=4, contract_servers=4, term_months=12):
    """A cluster fully booked by one customer (the reseller), whose contract is approved."""
    cluster = ClusterFactory(server_count=cluster_servers, available_from=date(2020, 1, 1))
    reseller = OrganizationFactory(name="Reseller Co")
    reseller_user = member_of(reseller)
    contract = signed_contract(
        reseller, cluster=cluster, servers=contract_servers, term_months=term_months
    )
    return cluster, reseller, reseller_user, contract


def buyer(name=None):
    organization = OrganizationFactory(**({"name": name} if name else {}))
    return organization, member_of(organization)


def ledger_peak(cluster) -> int:
    rows = Allocation.objects.filter(cluster=cluster).exclude(kind=AllocationKind.HOLD)
    usages = [Usage(a.start, a.end, a.servers) for a in rows]
    if not usages:
        return 0
    return peak_usage(usages, start=date(2000, 1, 1), end=date(2100, 1, 1))


def booked(reference: str, at: date) -> int:
    rows = Allocation.objects.filter(reference=reference, kind=AllocationKind.BOOKING)
    return sum(a.servers for a in rows if a.start <= at < a.end)


def months_later(start: date, months: int) -> date:
    return months_after(start, months)


def list_servers(
    contract, user, cluster, servers=2, offset=3, months=6, price="90000", min_term=1
) -> ResaleListing:
    """List ``servers`` of ``contract`` on ``cluster`` for ``months`` from ``offset`` months
    into its term, at ``price`` per P per year."""
    start = months_later(contract.start_date, offset)
    return resale.resale_list(
        contract=contract,
        by=user,
        cluster=cluster,
        servers=servers,
        start=start,
        end=months_later(start, months),
        price_per_p_year=Decimal(price),
        min_term_months=min_term,
    )
