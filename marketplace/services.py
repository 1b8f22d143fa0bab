"""Writes of the marketplace. Each service is one transaction.

Capacity for quotes is held per request: for each cluster, the most servers any of the
request's open quotes uses, under the reference ``request:<id>`` until the quotes expire. The
customer accepts one quote, so holding the maximum (not the sum) is enough. Resale capacity is
held the same way, per listing (``ResaleHold``, under the same reference and the underlying
clusters' row locks), so a listing's servers quoted to one customer are not quoted to another
meanwhile. Accepting releases the request's holds and books the accepted quote's servers in
the same transaction, under the clusters' row locks, so nobody can take them in between.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts import limits
from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import Organization, User
from inventory import services as inventory
from inventory.errors import CapacityUnavailable
from inventory.models import Allocation, AllocationKind, GpuModel, Region
from inventory.selectors import marketable_clusters, uptime_by_cluster_id
from marketplace import matching, resale, signing, sizing
from marketplace.eligibility import (
    ClusterFacts,
    Reason,
    RequestSpec,
    capacity_reason_codes,
    static_reason_codes,
)
from marketplace.models import (
    CapacityRequest,
    Contract,
    ContractEvent,
    ContractStatus,
    MarketSettings,
    Quote,
    QuoteLine,
    QuoteStatus,
    RequestStatus,
    ResaleListing,
)
from marketplace.pricing import PricedLine, price_quote
from marketplace.rejections import Rejections, rejections_build
from marketplace.resale_selectors import (
    ResaleCandidate,
    candidate_id,
    listing_of_candidate,
    resale_candidates,
    resale_visible_q,
)
from marketplace.selectors import cluster_facts, median_ask_by_gpu, request_spec
from marketplace.terms import contract_end_date

MAX_TERM_MONTHS = limits.MAX_TERM_MONTHS
HOLD_ATTEMPTS = 3


class QuoteNotOpen(DomainError):
    code = "quote_not_open"
    status = 409


class QuoteExpired(DomainError):
    code = "quote_expired"
    status = 409


class RequestNotOpen(DomainError):
    code = "request_not_open"
    status = 409


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


# --- Capacity requests ----------------------------------------------------------------------
def request_create(
    *,
    customer: Organization,
    by: User,
    gpu_models: Sequence[GpuModel],
    start_date: date,
    term_months: int,
    min_p: Decimal | None = None,
    servers: int | None = None,
    regions: Sequence[Region] = (),
    interconnect: str = "any",
    single_cluster: bool = True,
    max_price_per_p_year: Decimal | None = None,
    note: str = "",
    today: date | None = None,
) -> CapacityRequest:
    if not customer.is_customer:
        raise PermissionDeniedError(gettext("Only customer organisations request capacity."))
    today = today or timezone.localdate()
    if not gpu_models:
        raise InvalidInput("gpu_models", gettext("Choose at least one GPU model."))
    if (min_p is None) == (servers is None):
        raise InvalidInput(
            "non_field_errors", gettext("Give either the P you need or a number of servers.")
        )
    if min_p is not None and min_p <= 0:
        raise InvalidInput("min_p", gettext("Must be more than 0."))
    if servers is not None and servers < 1:
        raise InvalidInput("servers", gettext("Must be at least 1."))
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise InvalidInput(
            "term_months",
            gettext("Must be between 1 and %(maximum)d months.") % {"maximum": MAX_TERM_MONTHS},
        )
    if start_date < today:
        raise InvalidInput(
            "start_date",
            gettext("Must not be in the past (today is %(today)s).") % {"today": _day(today)},
        )
    with transaction.atomic():
        capacity_request = CapacityRequest.objects.create(
            customer=customer,
            created_by=by,
            min_p=min_p,
            servers=servers,
            interconnect=interconnect,
            single_cluster=single_cluster,
            start_date=start_date,
            term_months=term_months,
            end_date=contract_end_date(start_date, term_months),
            max_price_per_p_year=max_price_per_p_year,
            note=note,
        )
        capacity_request.gpu_models.set(gpu_models)
        capacity_request.regions.set(regions)
    return capacity_request


@dataclass(frozen=True)
class Submission:
    capacity_request: CapacityRequest
    result: "MatchResult | None"  # None when matching failed; ``error`` says why
    error: str = ""


def request_submit(*, customer: Organization, by: User, **fields) -> Submission:
    """Create a request and match it at once, as the request form does.

    The request is saved first (its own transaction: it stands even when matching then fails,
    e.g. because the market moved); the customer can regenerate quotes later. Input errors
    raise from ``request_create`` as usual.
    """
    capacity_request = request_create(customer=customer, by=by, **fields)
    try:
        result = quotes_generate(capacity_request=capacity_request, by=by)
    except DomainError as exc:
        return Submission(capacity_request=capacity_request, result=None, error=exc.message)
    return Submission(capacity_request=capacity_request, result=result)


def request_cancel(*, capacity_request: CapacityRequest) -> CapacityRequest:
    with transaction.atomic():
        locked = CapacityRequest.objects.select_for_update().get(pk=capacity_request.pk)
        if locked.status != RequestStatus.OPEN:
            raise RequestNotOpen(
                gettext("The request is %(status)s; only open requests can be cancelled.")
                % {"status": RequestStatus(locked.status).label}
            )
        _supersede_open_quotes(locked)
        locked.status = RequestStatus.CANCELLED
        locked.save(update_fields=["status"])
    return locked


def _hold_reference(capacity_request: CapacityRequest) -> str:
    return f"request:{capacity_request.pk}"


def _supersede_open_quotes(capacity_request: CapacityRequest) -> None:
    inventory.capacity_release(reference=_hold_reference(capacity_request))
    resale.resale_holds_release(reference=_hold_reference(capacity_request))
    Quote.objects.filter(request=capacity_request, status=QuoteStatus.OPEN).update(
        status=QuoteStatus.SUPERSEDED
    )


# --- Matching and quotes --------------------------------------------------------------------
@dataclass
class MatchResult:
    quotes: list[Quote]
    rejections: Rejections


def _demand(capacity_request: CapacityRequest) -> matching.Demand:
    return matching.Demand(
        min_p=capacity_request.min_p,
        servers=capacity_request.servers,
        single_cluster=capacity_request.single_cluster,
    )


def quotes_generate(
    *, capacity_request: CapacityRequest, by: User, now: datetime | None = None
) -> MatchResult:
    """Match the request against the market, price the best offers and hold their capacity.

    Replaces the request's open quotes (releasing their holds). If capacity moves between
    reading the market and holding it, the match is re-run (a bounded number of times).
    """
    for attempt in range(HOLD_ATTEMPTS):
        try:
            return _quotes_generate_once(capacity_request=capacity_request, by=by, now=now)
        except (CapacityUnavailable, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not _is_deadlock(exc):
                raise
            if attempt == HOLD_ATTEMPTS - 1:
                raise DomainError(
                    gettext(
                        "The market is moving fast: capacity changed while quoting. Try again."
                    ),
                    code="capacity_moved",
                ) from None
    raise AssertionError("unreachable")


def _is_deadlock(exc: OperationalError) -> bool:
    """PostgreSQL broke a lock cycle by aborting us (SQLSTATE 40P01): safe to retry."""
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "40P01"


def _quotes_generate_once(
    *, capacity_request: CapacityRequest, by: User, now: datetime | None
) -> MatchResult:
    now = now or timezone.now()
    with transaction.atomic():
        locked = CapacityRequest.objects.select_for_update().get(pk=capacity_request.pk)
        if locked.status != RequestStatus.OPEN:
            raise RequestNotOpen(
                gettext("The request is %(status)s; it gets no new quotes.")
                % {"status": RequestStatus(locked.status).label}
            )
        _supersede_open_quotes(locked)
        spec = request_spec(capacity_request)
        facts, uptime = cluster_facts(spec, now=now)
        listings = resale_candidates(spec, exclude_customer_id=locked.customer_id, now=now)
        resold = _resale_offers(spec, listings, now)
        # A single-cluster demand may take one cluster's free servers and its resale listings
        # together: candidates too small alone stay in when their cluster has resale capacity.
        shared = {offer.cluster_id for offer, _ in resold}
        candidates = [  # facts are of clusters that pass every static rule
            matching.Candidate(
                cluster_id=fact.cluster_id,
                free_servers=fact.free_servers or 0,
                p_per_server=fact.p_per_server,
                price_per_p_year=fact.price_per_p_year,
                uptime=uptime.get(fact.cluster_id, Decimal(100)),
            )
            for fact in facts
            if (fact.free_servers or 0) > 0
            and _usable(spec, fact, combinable=fact.cluster_id in shared)
            # A listing priced beyond what the API accepts (written around it, e.g. before the
            # bound existed) is never quoted: its totals could overflow and fail the whole run.
            and fact.price_per_p_year <= limits.MAX_PRICE_PER_P_YEAR
        ]
        candidates += [
            matching.Candidate(
                cluster_id=candidate_id(offer.listing_id),
                free_servers=offer.free_servers,
                p_per_server=offer.facts.p_per_server,
                price_per_p_year=offer.facts.price_per_p_year,
                uptime=offer_uptime,
            )
            for offer, offer_uptime in resold
        ]
        offers = matching.match(
            _demand(locked),
            candidates,
            limit=settings.QUOTES_PER_REQUEST,
            groups={candidate_id(offer.listing_id): offer.cluster_id for offer, _ in resold},
        )
        by_id = {fact.cluster_id: fact for fact in facts}
        by_id.update({candidate_id(offer.listing_id): offer.facts for offer, _ in resold})
        expires_at = now + timedelta(minutes=settings.QUOTE_VALIDITY_MINUTES)
        quotes = [
            _quote_create(locked, rank, offer, by_id, expires_at)
            for rank, offer in enumerate(offers, start=1)
        ]
        _hold(locked, spec, offers, by_id, expires_at, now)
        used = {a.cluster_id for offer in offers for a in offer.allocations}
        return MatchResult(
            quotes=quotes,
            rejections=rejections_build(
                spec, facts, listings, used, visible_resale=_visible_resale(locked, now)
            ),
        )


def _hold(
    capacity_request: CapacityRequest,
    spec: RequestSpec,
    offers: Sequence[matching.Offer],
    facts: dict[int, ClusterFacts],
    expires_at: datetime,
    now: datetime,
) -> None:
    """Hold what the offers use until they expire: per cluster and per resale listing, the most
    servers any one offer takes. All the clusters involved are locked first, in one ascending
    pass, then each hold is checked under the locks; a shortfall raises CapacityUnavailable
    (the caller matches again)."""
    held: dict[int, int] = {}
    resold: dict[int, int] = {}
    for offer in offers:
        for allocation in offer.allocations:
            listing_id = listing_of_candidate(allocation.cluster_id)
            into, key = (
                (held, allocation.cluster_id) if listing_id is None else (resold, listing_id)
            )
            into[key] = max(into.get(key, 0), allocation.servers)
    if not held and not resold:
        return
    inventory.clusters_lock(
        cluster_ids=[
            *held,
            *(facts[candidate_id(listing_id)].cluster_id for listing_id in resold),
        ]
    )
    if held:
        inventory.capacity_reserve_many(
            requests=[
                inventory.ReservationRequest(cluster_id, servers, spec.start, spec.end)
                for cluster_id, servers in sorted(held.items())
            ],
            kind=AllocationKind.HOLD,
            reference=_hold_reference(capacity_request),
            expires_at=expires_at,
            now=now,
        )
    resale.resale_holds_place(
        holds=resold,
        start=spec.start,
        end=spec.end,
        reference=_hold_reference(capacity_request),
        expires_at=expires_at,
        now=now,
    )


def _visible_resale(capacity_request: CapacityRequest, now: datetime) -> Q:
    return resale_visible_q(
        exclude_customer_id=capacity_request.customer_id, today=timezone.localdate(now)
    )


def _usable(spec: RequestSpec, fact: ClusterFacts, *, combinable: bool) -> bool:
    """Whether a candidate's free servers may serve the request: no capacity reason against
    it, or (``combinable``: other capacity on the same cluster may add up) only that it is too
    small for a single-cluster demand on its own."""
    codes = capacity_reason_codes(spec, fact)
    return not codes or (combinable and codes == [Reason.TOO_SMALL_FOR_SINGLE_CLUSTER])


def _resale_offers(
    spec: RequestSpec, listings: Sequence[ResaleCandidate], now: datetime
) -> list[tuple[ResaleCandidate, Decimal]]:
    """The listings (passing the static rules) whose free servers may serve the request, with
    the measured uptime of their underlying clusters: one query, whatever their number."""
    offers = [
        offer
        for offer in listings
        if offer.free_servers > 0
        and not static_reason_codes(spec, offer.facts)
        and _usable(spec, offer.facts, combinable=True)
    ]
    if not offers:
        return []
    uptime = uptime_by_cluster_id({o.cluster_id: o.server_count for o in offers}, now=now)
    return [(offer, uptime.get(offer.cluster_id, Decimal(100))) for offer in offers]


def _quote_create(
    capacity_request: CapacityRequest,
    rank: int,
    offer: matching.Offer,
    facts: dict[int, ClusterFacts],
    expires_at: datetime,
) -> Quote:
    lines = [
        PricedLine(
            cluster_id=facts[allocation.cluster_id].cluster_id,
            servers=allocation.servers,
            p=allocation.p,
            price_per_p_year=facts[allocation.cluster_id].price_per_p_year,
        )
        for allocation in offer.allocations
    ]
    listings = [listing_of_candidate(allocation.cluster_id) for allocation in offer.allocations]
    price = price_quote(lines, term_months=capacity_request.term_months, vat_rate=settings.VAT_RATE)
    quote = Quote.objects.create(
        request=capacity_request,
        rank=rank,
        total_p=price.total_p,
        price_per_p_year=price.price_per_p_year,
        annual_price=price.annual_price,
        total_price=price.total_price,
        net_amount=price.net,
        tax_amount=price.tax,
        vat_rate=settings.VAT_RATE,
        currency=settings.CURRENCY,
        expires_at=expires_at,
    )
    QuoteLine.objects.bulk_create(
        QuoteLine(
            quote=quote,
            cluster_id=line.cluster_id,
            servers=line.servers,
            p=line.p,
            price_per_p_year=line.price_per_p_year,
            resale_listing_id=listing_id,
        )
        for line, listing_id in zip(lines, listings, strict=True)
    )
    return quote


def request_rejections(
    *, capacity_request: CapacityRequest, now: datetime | None = None
) -> Rejections:
    """Why each visible cluster and resale listing cannot serve the request now (those in its
    open quotes are left out). Reads only."""
    now = now or timezone.now()
    spec = request_spec(capacity_request)
    facts, _ = cluster_facts(spec, now=now)
    listings = resale_candidates(spec, exclude_customer_id=capacity_request.customer_id, now=now)
    used = {
        cluster_id if listing_id is None else candidate_id(listing_id)
        for cluster_id, listing_id in QuoteLine.objects.filter(
            quote__request=capacity_request, quote__status=QuoteStatus.OPEN
        ).values_list("cluster_id", "resale_listing_id")
    }
    return rejections_build(
        spec, facts, listings, used, visible_resale=_visible_resale(capacity_request, now)
    )


def quote_accept(*, quote: Quote, by: User, now: datetime | None = None) -> Contract:
    """Book the quote's capacity and sign the contract, in one transaction.

    A quote still valid books the servers its request holds (provider and resale alike). An
    expired quote no longer holds anything: it is accepted only if its servers are still free
    (resale servers: neither sold nor held for another request's open quotes) and no cluster
    has raised its ask price since (the quoted price is honoured, never worse for either side);
    otherwise 409.
    """
    now = now or timezone.now()
    with transaction.atomic():
        capacity_request = CapacityRequest.objects.select_for_update().get(pk=quote.request_id)
        locked = Quote.objects.select_for_update().get(pk=quote.pk)
        if locked.status == QuoteStatus.ACCEPTED:
            raise QuoteNotOpen(
                gettext("This quote was already accepted (contract %(contract)s).")
                % {"contract": locked.contract.pk},
                details={"contract": [str(locked.contract.pk)]},
            )
        if locked.status != QuoteStatus.OPEN or capacity_request.status != RequestStatus.OPEN:
            raise QuoteNotOpen(
                gettext(
                    "This quote is no longer open: newer quotes replaced it or another was "
                    "accepted."
                )
            )
        lines = list(locked.lines.all())
        # Parents of resale lines first (the row a sale points at), then the clusters: the
        # order in which terminations lock too (``resale.resale_lock_chain``).
        resale.resale_lock_chain(
            contract_ids=list(
                ResaleListing.objects.filter(
                    pk__in=[line.resale_listing_id for line in lines if line.resale_listing_id]
                ).values_list("contract_id", flat=True)
            )
        )
        hold_clusters = Allocation.objects.filter(
            reference=_hold_reference(capacity_request)
        ).values_list("cluster_id", flat=True)
        inventory.clusters_lock(cluster_ids=[*hold_clusters, *(line.cluster_id for line in lines)])
        expired = locked.expires_at <= now
        if expired:
            _check_price_not_raised([line for line in lines if line.resale_listing_id is None])
        groups = signing.seller_groups(lines)
        contracts = [
            signing.contract_sign(
                capacity_request,
                locked if index == 0 else None,
                group_lines,
                parent,
                by,
                whole_quote=len(groups) == 1,
            )
            for index, (parent, group_lines) in enumerate(groups)
        ]
        inventory.capacity_release(reference=_hold_reference(capacity_request))
        resale.resale_holds_release(reference=_hold_reference(capacity_request))
        try:
            for contract, (parent, group_lines) in zip(contracts, groups, strict=True):
                if parent is None:
                    inventory.capacity_reserve_many(
                        requests=[
                            inventory.ReservationRequest(
                                line.cluster_id,
                                line.servers,
                                contract.start_date,
                                contract.end_date,
                            )
                            for line in group_lines
                        ],
                        kind=AllocationKind.BOOKING,
                        reference=contract.booking_reference,
                        now=now,
                    )
                    continue
                for line in group_lines:
                    resale.resale_sell(
                        listing_id=line.resale_listing_id,
                        servers=line.servers,
                        start=contract.start_date,
                        end=contract.end_date,
                        buyer=contract,
                        now=now,
                    )
        except CapacityUnavailable as exc:
            raise QuoteExpired(
                gettext(
                    "The quote expired and its capacity has been taken since. Generate new quotes."
                ),
                details={"non_field_errors": [exc.message]},
            ) from exc
        sold = [line.resale_listing_id for line in lines if line.resale_listing_id is not None]
        if sold:
            inventory.usage_steps_rebuild(cluster_ids=[line.cluster_id for line in lines])
            resale.resale_listing_refresh(listing_ids=sold)
        locked.status = QuoteStatus.ACCEPTED
        locked.save(update_fields=["status"])
        Quote.objects.filter(request=capacity_request, status=QuoteStatus.OPEN).update(
            status=QuoteStatus.SUPERSEDED
        )
        capacity_request.status = RequestStatus.BOOKED
        capacity_request.save(update_fields=["status"])
        if MarketSettings.load().auto_approve_contracts:
            contracts = [
                contract_transition(
                    contract=contract,
                    to=ContractStatus.APPROVED,
                    actor_label="auto-approval",
                    reason="Auto-approval is enabled.",
                )
                for contract in contracts
            ]
    return contracts[0]


def _check_price_not_raised(lines: Sequence[QuoteLine]) -> None:
    current = dict(
        marketable_clusters()
        .filter(pk__in=[line.cluster_id for line in lines])
        .values_list("pk", "price_per_p_year")
    )
    for line in lines:
        if line.cluster_id not in current:
            raise QuoteExpired(
                gettext("The quote expired and a cluster in it is no longer offered.")
            )
        if current[line.cluster_id] > line.price_per_p_year:
            raise QuoteExpired(
                gettext(
                    "The quote expired and the provider has raised its price since. Generate "
                    "new quotes."
                )
            )


# --- Contract lifecycle ---------------------------------------------------------------------
def _day(value: date) -> str:
    """A date in messages, in the reader's language."""
    return date_format(value, "DATE_FORMAT")


def provider_notice_earliest(*, today: date | None = None) -> date:
    """The earliest effective date a provider may give for ending a contract early: today
    plus the notice period in settings."""
    today = today or timezone.localdate()
    return today + timedelta(days=settings.PROVIDER_TERMINATION_NOTICE_DAYS)


ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    ContractStatus.PENDING_APPROVAL: frozenset({ContractStatus.APPROVED, ContractStatus.CANCELLED}),
    ContractStatus.APPROVED: frozenset(
        {ContractStatus.ACTIVE, ContractStatus.CANCELLED, ContractStatus.TERMINATED}
    ),
    ContractStatus.ACTIVE: frozenset({ContractStatus.COMPLETED, ContractStatus.TERMINATED}),
    ContractStatus.COMPLETED: frozenset(),
    ContractStatus.CANCELLED: frozenset(),
    ContractStatus.TERMINATED: frozenset(),
}


def contract_transition(
    *,
    contract: Contract,
    to: str,
    by: User | None = None,
    actor_label: str = "",
    reason: str = "",
    changes: dict | None = None,
) -> Contract:
    """The one place a contract changes state: lock, check the table, save, record history."""
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if to not in ALLOWED_TRANSITIONS[locked.status]:
            names = {
                "from": ContractStatus(locked.status).label,
                "to": ContractStatus(to).label,
            }
            raise InvalidTransition(
                gettext("A contract that is %(from)s cannot become %(to)s.") % names,
                details={"status": [gettext("Cannot go from %(from)s to %(to)s.") % names]},
            )
        previous = locked.status
        locked.status = to
        for name, value in (changes or {}).items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", "updated_at", *(changes or {})])
        ContractEvent.objects.create(
            contract=locked,
            from_status=previous,
            to_status=to,
            actor=by,
            actor_label=actor_label,
            reason=reason,
        )
    return locked


def contract_approve(*, contract: Contract, by: User) -> Contract:
    if not by.is_staff:
        raise PermissionDeniedError(gettext("Only platform admins approve contracts."))
    return contract_transition(contract=contract, to=ContractStatus.APPROVED, by=by)


def contract_cancel(
    *, contract: Contract, by: User, reason: str = "", today: date | None = None
) -> Contract:
    """Withdraw a contract before it starts; its capacity is released."""
    today = today or timezone.localdate()
    if contract.start_date <= today and not by.is_staff:
        raise InvalidTransition(gettext("The contract has started; ask an admin to terminate it."))
    with transaction.atomic():
        contract = contract_transition(
            contract=contract, to=ContractStatus.CANCELLED, by=by, reason=reason
        )
        resale.resale_lock_chain(contract_ids=[contract.pk])  # before any cluster lock
        inventory.capacity_release(reference=contract.booking_reference)
        resale.resale_give_back(contract=contract, since=contract.start_date)
        resale.resale_end_with_parent(parent=contract, effective=contract.start_date)
    return contract


def contract_terminate(
    *,
    contract: Contract,
    by: User,
    reason: str,
    effective_date: date,
    as_provider: bool = False,
    today: date | None = None,
) -> Contract:
    """End a contract early from ``effective_date`` (exclusive end of service).

    Admins may terminate at any date within the term; a provider only with the notice period
    in settings. Capacity from the effective date on is released; the price already signed is
    unchanged (billing prorates the last month).
    """
    today = today or timezone.localdate()
    if not reason.strip():
        raise InvalidInput("reason", gettext("Give a reason for the termination."))
    if not contract.start_date < effective_date < contract.end_date:
        raise InvalidInput(
            "effective_date",
            gettext("Must fall after the start (%(start)s) and before the end (%(end)s).")
            % {"start": _day(contract.start_date), "end": _day(contract.end_date)},
        )
    if as_provider:
        earliest = provider_notice_earliest(today=today)
        if effective_date < earliest:
            raise InvalidInput(
                "effective_date",
                ngettext(
                    "Providers must give %(days)d day's notice: the earliest effective date is "
                    "%(earliest)s.",
                    "Providers must give %(days)d days' notice: the earliest effective date is "
                    "%(earliest)s.",
                    settings.PROVIDER_TERMINATION_NOTICE_DAYS,
                )
                % {
                    "days": settings.PROVIDER_TERMINATION_NOTICE_DAYS,
                    "earliest": _day(earliest),
                },
            )
    elif not by.is_staff:
        raise PermissionDeniedError(gettext("Only platform admins or the provider may terminate."))
    with transaction.atomic():
        contract = contract_transition(
            contract=contract,
            to=ContractStatus.TERMINATED,
            by=by,
            reason=reason,
            changes={"termination_date": effective_date, "termination_reason": reason},
        )
        resale.resale_lock_chain(contract_ids=[contract.pk])  # before any cluster lock
        inventory.allocations_truncate(reference=contract.booking_reference, end=effective_date)
        resale.resale_give_back(contract=contract, since=effective_date)
        resale.resale_end_with_parent(parent=contract, effective=effective_date)
    return contract


def contracts_advance(*, today: date | None = None) -> dict[str, int]:
    """Start approved contracts on their start date and complete active ones at their end.

    Idempotent: each contract moves at most once per state, under its row lock, and a contract
    already moved by a concurrent run is skipped.
    """
    today = today or timezone.localdate()
    moved = {"activated": 0, "completed": 0}
    due = [
        (pk, ContractStatus.ACTIVE, "activated")
        for pk in Contract.objects.filter(
            status=ContractStatus.APPROVED, start_date__lte=today, end_date__gt=today
        ).values_list("pk", flat=True)
    ] + [
        (pk, ContractStatus.COMPLETED, "completed")
        for pk in Contract.objects.filter(
            status__in=[ContractStatus.ACTIVE, ContractStatus.APPROVED], end_date__lte=today
        ).values_list("pk", flat=True)
    ]
    for pk, to, counter in due:
        contract = Contract(pk=pk)
        try:
            if to == ContractStatus.COMPLETED:
                current = Contract.objects.get(pk=pk)
                if current.status == ContractStatus.APPROVED:
                    contract_transition(
                        contract=contract, to=ContractStatus.ACTIVE, actor_label="task:contracts"
                    )
            contract_transition(
                contract=contract,
                to=to,
                actor_label="task:contracts",
                reason=f"Scheduled on {today}.",
            )
        except InvalidTransition:
            continue  # a concurrent run moved it first
        moved[counter] += 1
    return moved


def market_settings_update(*, by: User, auto_approve_contracts: bool) -> MarketSettings:
    if not by.is_staff:
        raise PermissionDeniedError(gettext("Only platform admins change market settings."))
    current = MarketSettings.load()
    current.auto_approve_contracts = auto_approve_contracts
    current.save(update_fields=["auto_approve_contracts", "updated_at"])
    return current


# --- Sizing ---------------------------------------------------------------------------------
SIZING_MODES = ("deadline", "duration")


def workload_size(
    *,
    workload: str,
    mode: str = "deadline",
    gpu_models: Sequence[GpuModel] | None = None,
    **inputs,
) -> tuple[sizing.SizingResult | sizing.DurationResult, dict[str, Decimal]]:
    """Size a workload on each GPU model (all of the catalog by default) and price it at
    today's median ask. Returns the result and the median asks used.

    ``mode`` "deadline": how many servers finish the work in time (inference: keep up with the
    daily load; training: finish within ``days``). "duration" (training only): how many days the
    run takes on ``servers`` servers, and the term that covers it.
    """
    if mode not in SIZING_MODES:
        raise InvalidInput("mode", gettext("Choose how to size the workload."))
    if mode == "duration" and workload != "training":
        raise InvalidInput("mode", gettext("Days on a number of servers applies to training only."))
    models = list(gpu_models) if gpu_models else list(GpuModel.objects.all())
    specs = [
        sizing.GpuSpec(
            code=model.code,
            name=model.name,
            fp16_dense_tflops=model.fp16_dense_tflops,
            fp16_sparse_tflops=model.fp16_sparse_tflops,
        )
        for model in models
    ]
    prices = median_ask_by_gpu()
    common = {
        "params": inputs["params"],
        "utilisation": inputs["utilisation"],
        "gpus": specs,
        "gpus_per_server": inputs["gpus_per_server"],
        "price_per_p_year_by_code": prices,
    }
    try:
        if workload == "inference":
            result = sizing.size_inference(
                daily_visits=inputs["daily_visits"],
                questions_per_visit=inputs["questions_per_visit"],
                tokens_per_question=inputs["tokens_per_question"],
                precision=inputs["precision"],
                **common,
            )
        elif mode == "duration":
            result = sizing.training_duration(
                training_tokens=inputs["training_tokens"],
                servers=inputs["servers"],
                activation_recomputation=inputs["activation_recomputation"],
                **common,
            )
        else:
            result = sizing.size_training(
                training_tokens=inputs["training_tokens"],
                days=inputs["days"],
                activation_recomputation=inputs["activation_recomputation"],
                **common,
            )
    except ValueError as exc:
        raise InvalidInput("non_field_errors", str(exc)) from exc
    fewest = min(option.servers for option in result.options)
    if fewest > limits.MAX_SIZING_SERVERS:
        raise InvalidInput(
            "non_field_errors",
            f"This workload needs at least {fewest:,} servers; sizing covers up to "
            f"{limits.MAX_SIZING_SERVERS:,}. Check the figures, or size a part of it.",
        )
    return result, prices
