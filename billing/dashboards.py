"""Reads for the dashboards: a provider's bookings, utilisation, revenue, payout and payback; a
customer's contracts, bookings, invoices and requests. A bounded number of queries whatever the
number of clusters or contracts (aggregates, not loops over rows).

Payback (DOMAIN.md, provider economics): a cluster's investment is its cost per server times its
servers, depreciated straight-line over its life (5-7 years). Today's bookings earn the rent
their contracts were signed at (P x price per P per year, tax included, before the platform's
commission), and the payback period is the investment over that rent a month. The same figure
at full utilisation uses the cluster's ask price for every server: an 8-card A800 server at
CNY 1.2 million renting for CNY 599,040 a year pays back in about two years.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from django.db.models import Count, F, Q, Sum

from accounts.models import Organization
from accounts.money import ZERO, quantize_money
from billing.models import Invoice, InvoiceStatus, PayoutStatement, PayoutStatus
from inventory.models import Allocation, AllocationKind, Cluster, ClusterStatus
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractLine,
    ContractStatus,
    RequestStatus,
)
from marketplace.selectors import OpenQuotes, open_quote_summary
from marketplace.terms import months_after

UTILISATION_MONTHS = 12
MONTHS_PER_YEAR = 12
PAYBACK_PLACES = Decimal("0.1")  # months
PERCENT_PLACES = Decimal("0.1")
# Contracts whose service may run today (a terminated one until its effective date).
SERVING = (ContractStatus.APPROVED, ContractStatus.ACTIVE, ContractStatus.TERMINATED)
# Contracts a customer still has ahead or running.
LIVE = (ContractStatus.PENDING_APPROVAL, ContractStatus.APPROVED, ContractStatus.ACTIVE)
UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.OVERDUE)
LIST_LIMIT = 10  # rows of a list shown on a dashboard (the full lists have their own pages)


def serving_on(today: date, prefix: str = "") -> Q:
    """Contracts (or, with ``prefix="contract__"``, their lines) in service on ``today``."""
    return Q(
        **{
            f"{prefix}status__in": SERVING,
            f"{prefix}start_date__lte": today,
        }
    ) & (
        Q(**{f"{prefix}termination_date__isnull": True, f"{prefix}end_date__gt": today})
        | Q(**{f"{prefix}termination_date__gt": today})
    )


# --- Provider -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payback:
    cluster: Cluster
    booked_servers: int  # under contract today
    booked_p: Decimal
    booked_annual: Decimal  # rent a year of today's bookings, at their signed prices
    booked_monthly: Decimal
    full_annual: Decimal  # every server rented at the ask price
    investment: Decimal | None  # None: the provider has not entered a cost
    depreciation_yearly: Decimal | None
    depreciation_monthly: Decimal | None
    margin_monthly: Decimal | None  # booked rent less depreciation, a month
    payback_months: Decimal | None  # at today's bookings; None without cost or bookings
    full_payback_months: Decimal | None  # fully booked at the ask price


def _months(investment: Decimal | None, annual: Decimal) -> Decimal | None:
    if investment is None or annual <= 0:
        return None
    return (investment * MONTHS_PER_YEAR / annual).quantize(PAYBACK_PLACES)


def payback(cluster: Cluster, *, booked_servers: int, booked_annual: Decimal) -> Payback:
    """The payback view of one cluster from its cost, life and today's bookings."""
    full_annual = quantize_money(cluster.rated_p * cluster.price_per_p_year)
    booked_annual = quantize_money(booked_annual)
    booked_monthly = quantize_money(booked_annual / MONTHS_PER_YEAR)
    investment = yearly = monthly = margin = None
    if cluster.server_cost_per_server is not None:
        investment = quantize_money(cluster.server_cost_per_server * cluster.server_count)
        yearly = quantize_money(investment / cluster.depreciation_years)
        monthly = quantize_money(investment / (cluster.depreciation_years * MONTHS_PER_YEAR))
        margin = booked_monthly - monthly
    return Payback(
        cluster=cluster,
        booked_servers=booked_servers,
        booked_p=booked_servers * cluster.rated_p_per_server,
        booked_annual=booked_annual,
        booked_monthly=booked_monthly,
        full_annual=full_annual,
        investment=investment,
        depreciation_yearly=yearly,
        depreciation_monthly=monthly,
        margin_monthly=margin,
        payback_months=_months(investment, booked_annual),
        full_payback_months=_months(investment, full_annual),
    )


@dataclass(frozen=True)
class MonthUse:
    month: date  # first day
    capacity_p: Decimal  # average P on offer over the month
    booked_p: Decimal  # average P under contract over the month
    utilisation: Decimal | None  # percent; None when nothing is on offer

    @property
    def free_p(self) -> Decimal:
        return max(self.capacity_p - self.booked_p, ZERO)


@dataclass(frozen=True)
class ProviderDashboard:
    organization: Organization
    paybacks: list[Payback]
    listed_p: Decimal
    booked_p: Decimal
    months: list[MonthUse]
    invoiced_this_month: Decimal  # the provider's share of invoices issued this month
    invoiced_count: int
    next_payout: PayoutStatement | None  # the earliest statement not yet paid out
    last_payout: PayoutStatement | None  # the latest paid out

    @property
    def utilisation_now(self) -> Decimal | None:
        return self.months[0].utilisation if self.months else None

    @property
    def with_cost(self) -> list[Payback]:
        return [row for row in self.paybacks if row.investment is not None]


def _overlap(start: date, end: date, low: date, high: date) -> int:
    return max((min(end, high) - max(start, low)).days, 0)


def _utilisation(clusters: list[Cluster], *, today: date) -> list[MonthUse]:
    """Average P on offer and booked for each of the next 12 calendar months (this one first),
    from the clusters' availability windows and the booking ledger (one query)."""
    first = today.replace(day=1)
    starts = [months_after(first, i) for i in range(UTILISATION_MONTHS + 1)]
    offered = [c for c in clusters if c.status != ClusterStatus.DRAFT]
    per_server = {c.pk: c.rated_p_per_server for c in clusters}
    bookings = Allocation.objects.filter(
        cluster_id__in=[c.pk for c in offered],
        kind=AllocationKind.BOOKING,
        start__lt=starts[-1],
        end__gt=first,
    ).values_list("cluster_id", "servers", "start", "end")
    rows = list(bookings)
    months = []
    for low, high in pairwise(starts):
        days = (high - low).days
        capacity = sum(
            (
                c.rated_p * _overlap(c.available_from, c.available_until or date.max, low, high)
                for c in offered
            ),
            ZERO,
        )
        booked = sum(
            (
                servers * per_server[cluster_id] * _overlap(start, end, low, high)
                for cluster_id, servers, start, end in rows
            ),
            ZERO,
        )
        months.append(
            MonthUse(
                month=low,
                capacity_p=capacity / days,
                booked_p=booked / days,
                utilisation=(booked * 100 / capacity).quantize(PERCENT_PLACES)
                if capacity
                else None,
            )
        )
    return months


def _invoiced_this_month(organization: Organization, *, today: date) -> tuple[Decimal, int]:
    """The provider's share of the invoices issued this month: each invoice's total split by
    the annual value of the contract's lines (P x price), as payouts split what is paid."""
    first = today.replace(day=1)
    invoices = list(
        Invoice.objects.filter(
            issue_date__gte=first,
            issue_date__lt=months_after(first, 1),
            contract__in=ContractLine.objects.filter(provider=organization).values("contract_id"),
        )
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .values_list("contract_id", "total")
    )
    weights: dict[int, dict[bool, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    lines = ContractLine.objects.filter(
        contract_id__in={contract_id for contract_id, _ in invoices}
    ).values_list("contract_id", "provider_id", "p", "price_per_p_year")
    for contract_id, provider_id, p, price in lines:
        weights[contract_id][provider_id == organization.pk] += p * price
    total = ZERO
    count = 0
    for contract_id, amount in invoices:
        mine, all_ = weights[contract_id][True], sum(weights[contract_id].values(), ZERO)
        if all_:
            total += quantize_money(amount * mine / all_)
            count += 1
    return total, count


def provider_dashboard(*, organization: Organization, today: date) -> ProviderDashboard:
    clusters = list(
        Cluster.objects.filter(provider=organization)
        .select_related("gpu_model", "region")
        .order_by("name", "id")
    )
    lines = ContractLine.objects.filter(serving_on(today, "contract__"), provider=organization)
    booked = {
        row["cluster_id"]: row
        for row in lines.values("cluster_id")
        .annotate(servers=Sum("servers"), annual=Sum(F("p") * F("price_per_p_year")))
        .order_by()
    }
    paybacks = [
        payback(
            cluster,
            booked_servers=booked.get(cluster.pk, {}).get("servers") or 0,
            booked_annual=booked.get(cluster.pk, {}).get("annual") or ZERO,
        )
        for cluster in clusters
    ]
    invoiced, invoiced_count = _invoiced_this_month(organization, today=today)
    statements = PayoutStatement.objects.filter(provider=organization)
    return ProviderDashboard(
        organization=organization,
        paybacks=paybacks,
        listed_p=sum((c.rated_p for c in clusters if c.status == ClusterStatus.LISTED), ZERO),
        booked_p=sum((row.booked_p for row in paybacks), ZERO),
        months=_utilisation(clusters, today=today),
        invoiced_this_month=invoiced,
        invoiced_count=invoiced_count,
        next_payout=statements.exclude(status=PayoutStatus.PAID).order_by("period_start").first(),
        last_payout=statements.filter(status=PayoutStatus.PAID).order_by("-period_start").first(),
    )


# --- Customer -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenRequest:
    request: CapacityRequest
    quotes: OpenQuotes | None


@dataclass(frozen=True)
class CustomerDashboard:
    organization: Organization
    contracts: list[Contract]  # live: awaiting approval, approved or running (first rows)
    live_count: int
    running_count: int
    booked_p: Decimal  # P under contract today
    next_invoice: Invoice | None  # the unpaid invoice due first
    unpaid_total: Decimal
    unpaid_count: int
    overdue_count: int
    requests: list[OpenRequest]  # open requests with their live quotes (first rows)
    open_request_count: int


def customer_dashboard(*, organization: Organization, today: date) -> CustomerDashboard:
    contracts = Contract.objects.filter(customer=organization)
    live = contracts.filter(status__in=LIVE)
    serving = contracts.filter(serving_on(today)).aggregate(
        p=Sum("total_p", default=ZERO), count=Count("id")
    )
    unpaid = Invoice.objects.filter(customer=organization, status__in=UNPAID)
    totals = unpaid.aggregate(
        due=Sum(F("total") - F("amount_paid"), default=ZERO),
        count=Count("id"),
        overdue=Count("id", filter=Q(status=InvoiceStatus.OVERDUE)),
    )
    requests = CapacityRequest.objects.filter(customer=organization, status=RequestStatus.OPEN)
    first_requests = list(requests.order_by("-created_at", "-id")[:LIST_LIMIT])
    quotes = open_quote_summary([r.pk for r in first_requests])
    return CustomerDashboard(
        organization=organization,
        contracts=list(live.order_by("start_date", "id")[:LIST_LIMIT]),
        live_count=live.count(),
        running_count=serving["count"],
        booked_p=serving["p"],
        next_invoice=unpaid.order_by(F("due_date").asc(nulls_last=True), "id").first(),
        unpaid_total=totals["due"],
        unpaid_count=totals["count"],
        overdue_count=totals["overdue"],
        requests=[OpenRequest(r, quotes.get(r.pk)) for r in first_requests],
        open_request_count=requests.count(),
    )
