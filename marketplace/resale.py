"""Writes of the secondary market: list and withdraw resale listings, sell them on, and end
resale contracts with their parent. Each service is one transaction.

Locks, in this order: the reseller's contract row (listing only), then the cluster row (the
same lock every provider-capacity write takes), then the listing row. Every write that changes
what a listing has free (a sale, a withdrawal, a hold for quotes) holds the underlying cluster's
row lock while it checks and writes, so they run one after another. A sale shrinks the
reseller's booking on the cluster by the servers and window sold and books the buyer for them
in the same transaction, so the ledger's total on the cluster never changes and its peak never
exceeds the cluster's servers.
"""

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts import limits
from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import User
from accounts.selectors import is_platform_admin, organization_of
from inventory import services as inventory
from inventory.capacity import Usage, peak_usage, usage_steps
from inventory.errors import CapacityUnavailable
from inventory.models import Allocation, AllocationKind, Cluster
from marketplace import resale_history
from marketplace.models import Contract, ResaleHold, ResaleListing, ResaleStatus
from marketplace.resale_history import ENDED_BY_PARENT
from marketplace.resale_selectors import (
    RESELLABLE_STATUSES,
    effective_end,
    held_servers,
    holds_usages,
    listable_servers,
    listing_free,
    sales_usages,
)
from marketplace.terms import contract_end_date


class ResaleNotAllowed(DomainError):
    code = "resale_not_allowed"
    status = 409


class ListingNotOpen(DomainError):
    code = "listing_not_open"
    status = 409


def _day(value: date) -> str:
    return date_format(value, "DATE_FORMAT")


def check_reseller(contract: Contract, by: User) -> None:
    """Only the contract's customer may resell it: raise ``PermissionDeniedError`` otherwise.
    Callers check this before validating input, so the provider or an admin who can see the
    contract gets a 403, not field errors."""
    organization = organization_of(by)
    if organization is None or organization.pk != contract.customer_id:
        raise PermissionDeniedError(gettext("Only the contract's customer may resell it."))


def resale_list(
    *,
    contract: Contract,
    by: User,
    cluster: Cluster,
    servers: int,
    start: date,
    end: date,
    price_per_p_year: Decimal,
    min_term_months: int = 1,
    today: date | None = None,
) -> ResaleListing:
    """Offer ``servers`` of the contract's servers on ``cluster`` over ``[start, end)``."""
    check_reseller(contract, by)
    today = today or timezone.localdate()
    if servers < 1:
        raise InvalidInput("servers", gettext("List at least one server."))
    if not Decimal(0) < price_per_p_year <= limits.MAX_PRICE_PER_P_YEAR:
        raise InvalidInput("price_per_p_year", gettext("Give a price above 0 within the limit."))
    if not 1 <= min_term_months <= limits.MAX_TERM_MONTHS:
        raise InvalidInput(
            "min_term_months",
            gettext("Must be between 1 and %(maximum)d months.")
            % {"maximum": limits.MAX_TERM_MONTHS},
        )
    if end <= start:
        raise InvalidInput("end", gettext("The window must end after it starts."))
    if start < today:
        raise InvalidInput("start", gettext("Must not be in the past."))
    if contract_end_date(start, min_term_months) > end:
        raise InvalidInput(
            "min_term_months", gettext("The window is shorter than the minimum term.")
        )
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if locked.status not in RESELLABLE_STATUSES:
            raise ResaleNotAllowed(gettext("Only approved or active contracts can be resold."))
        if start < locked.start_date or end > effective_end(locked):
            raise InvalidInput(
                "end",
                gettext("The window must lie inside the contract's term (%(start)s to %(end)s).")
                % {"start": _day(locked.start_date), "end": _day(effective_end(locked))},
            )
        inventory.clusters_lock(cluster_ids=[cluster.pk])
        if held_servers(locked, cluster.pk) == 0:
            raise InvalidInput("cluster", gettext("The contract holds no servers on this cluster."))
        listable = listable_servers(locked, cluster.pk, start=start, end=end)
        if servers > listable:
            raise InvalidInput(
                "servers",
                ngettext(
                    "Only %(count)d server of this contract is free to list over this window.",
                    "Only %(count)d servers of this contract are free to list over this window.",
                    listable,
                )
                % {"count": listable},
            )
        listing = ResaleListing.objects.create(
            contract=locked,
            cluster=cluster,
            servers=servers,
            start=start,
            end=end,
            price_per_p_year=price_per_p_year,
            min_term_months=min_term_months,
            created_by=by,
        )
        resale_history.record_listed(listing=listing, contract=locked, by=by)
        return listing


def resale_withdraw(*, listing: ResaleListing, by: User) -> ResaleListing:
    """Take back the unsold part of a listing; what was sold stays sold."""
    if not is_platform_admin(by):
        check_reseller(listing.contract, by)
    with transaction.atomic():
        inventory.clusters_lock(cluster_ids=[listing.cluster_id])
        locked = ResaleListing.objects.select_for_update().get(pk=listing.pk)
        if locked.status != ResaleStatus.LISTED:
            raise ListingNotOpen(
                gettext("The listing is %(status)s; only open listings can be withdrawn.")
                % {"status": ResaleStatus(locked.status).label}
            )
        locked.status = ResaleStatus.WITHDRAWN
        locked.save(update_fields=["status", "updated_at"])
        status = Contract.objects.values_list("status", flat=True).get(pk=locked.contract_id)
        resale_history.record_withdrawn(listing=locked, status=status, by=by)
    return locked


def _shrink_booking(reference: str, cluster_id: int, servers: int, start: date, end: date) -> None:
    """Take ``servers`` over ``[start, end)`` out of the bookings under ``reference``."""
    rows = Allocation.objects.filter(
        reference=reference, cluster_id=cluster_id, kind=AllocationKind.BOOKING
    )
    usages = [Usage(a.start, a.end, a.servers) for a in rows]
    if servers > _least(usages, start, end):
        raise ListingNotOpen(gettext("The reseller no longer holds these servers."))
    remaining = usage_steps([*usages, Usage(start, end, -servers)])
    rows.delete()
    Allocation.objects.bulk_create(
        Allocation(
            cluster_id=cluster_id,
            kind=AllocationKind.BOOKING,
            servers=step.servers,
            start=step.start,
            end=step.end,
            reference=reference,
        )
        for step in remaining
    )


def _least(usages: list[Usage], start: date, end: date) -> int:
    """Fewest servers in use at any moment of ``[start, end)``."""
    moments = {start}
    moments.update(u.start for u in usages if start < u.start < end)
    moments.update(u.end for u in usages if start < u.end < end)
    return min(sum(u.servers for u in usages if u.start <= moment < u.end) for moment in moments)


def resale_sell(
    *,
    listing_id: int,
    servers: int,
    start: date,
    end: date,
    buyer: Contract,
    now: datetime | None = None,
) -> ResaleListing:
    """Move ``servers`` of a listing over ``[start, end)`` from the reseller to a buyer.

    The caller holds the cluster's row lock, has released the buyer's own holds and has
    created the buyer's contract and its lines in the same transaction. Raises ListingNotOpen
    when the listing can no longer supply them (sold, withdrawn, or held for another request's
    open quotes since this quote expired).
    """
    now = now or timezone.now()
    listing = (
        ResaleListing.objects.select_for_update(of=("self",))
        .select_related("contract")
        .get(pk=listing_id)
    )
    parent = listing.contract
    if parent.status not in RESELLABLE_STATUSES or end > effective_end(parent):
        raise ListingNotOpen(gettext("The contract behind this resale offer has ended."))
    free = listing_free(listing, start=start, end=end, now=now, exclude_contract_id=buyer.pk)
    if free < servers:
        raise ListingNotOpen(
            gettext("This resale offer has been sold or withdrawn since it was quoted.")
        )
    _shrink_booking(parent.booking_reference, listing.cluster_id, servers, start, end)
    Allocation.objects.create(
        cluster_id=listing.cluster_id,
        kind=AllocationKind.BOOKING,
        servers=servers,
        start=start,
        end=end,
        reference=buyer.booking_reference,
    )
    resale_history.record_sold(
        listing=listing,
        status=parent.status,
        servers=servers,
        buyer=buyer,
        buyer_name=buyer.customer.name,
    )
    return listing


def resale_holds_place(
    *,
    holds: Mapping[int, int],
    start: date,
    end: date,
    reference: str,
    expires_at: datetime,
    now: datetime,
) -> list[ResaleHold]:
    """Hold servers of resale listings (listing id -> servers) over ``[start, end)`` for a
    request's open quotes until ``expires_at``: all or nothing.

    The caller holds the underlying clusters' row locks (taken with any provider clusters it
    holds in the same transaction, in one ascending pass). Under them, for each listing: check
    that it is still open, that its contract still runs through ``end``, and that its servers
    less the peak of its sales and live holds over the window cover the hold; raise
    :class:`CapacityUnavailable` at the first shortfall (the caller matches again); else insert
    the holds. Four queries, whatever the number of listings in the market.
    """
    ids = sorted(holds)
    if not ids:
        return []
    listings = ResaleListing.objects.filter(pk__in=ids).select_related("contract")
    sales = sales_usages(ids)
    held = holds_usages(ids, start=start, end=end, now=now)
    for listing in sorted(listings, key=lambda row: row.pk):
        wanted = holds[listing.pk]
        parent = listing.contract
        open_for_window = (
            listing.status == ResaleStatus.LISTED
            and listing.start <= start
            and end <= listing.end
            and parent.status in RESELLABLE_STATUSES
            and end <= effective_end(parent)
        )
        used = [*sales[listing.pk], *held.get(listing.pk, [])]
        taken = peak_usage(used, start=start, end=end) if used else 0
        free = listing.servers - taken if open_for_window else 0
        if free < wanted:
            raise CapacityUnavailable(
                cluster_id=listing.cluster_id,
                requested=wanted,
                free_servers=max(free, 0),
                start=start,
                end=end,
            )
    return ResaleHold.objects.bulk_create(
        ResaleHold(
            listing_id=listing_id,
            servers=holds[listing_id],
            start=start,
            end=end,
            expires_at=expires_at,
            reference=reference,
        )
        for listing_id in ids
    )


def resale_holds_release(*, reference: str) -> int:
    """Drop every resale hold under ``reference``. Returns the rows removed. Freeing servers
    needs no cluster lock: a concurrent check sees the hold or not, and either is safe."""
    deleted, _ = ResaleHold.objects.filter(reference=reference).delete()
    return deleted


def resale_holds_purge_expired(*, now: datetime | None = None) -> int:
    """Delete resale holds past their expiry. They already count as free; this only tidies."""
    now = now or timezone.now()
    deleted, _ = ResaleHold.objects.filter(expires_at__lte=now).delete()
    return deleted


def resale_listing_refresh(*, listing_ids: list[int]) -> None:
    """Recompute sold servers and status of these listings from their sales."""
    sales = sales_usages(listing_ids)
    listings = ResaleListing.objects.select_for_update(of=("self",)).select_related("contract")
    for listing in listings.filter(pk__in=listing_ids):
        usages = sales[listing.pk]
        sold = peak_usage(usages, start=listing.start, end=listing.end) if usages else 0
        fully = bool(usages) and _least(usages, listing.start, listing.end) >= listing.servers
        listing.sold_servers = sold
        if listing.status == ResaleStatus.LISTED and fully:
            listing.status = ResaleStatus.SOLD
        elif (
            listing.status == ResaleStatus.SOLD
            and not fully
            and listing.contract.status in RESELLABLE_STATUSES
            and listing.end <= effective_end(listing.contract)
        ):
            listing.status = ResaleStatus.LISTED  # a sale ended early: its months are for sale
        listing.save(update_fields=["sold_servers", "status", "updated_at"])


def resale_end_with_parent(
    *, parent: Contract, effective: date, now: datetime | None = None
) -> list[Contract]:
    """The parent contract ended early at ``effective``: its open listings close from then,
    and every resale contract of it ends with it (prorated by billing), with a reason naming
    the parent in both parties' history. Called inside the parent's termination."""
    from marketplace.services import contract_transition  # services imports this module

    ended: list[Contract] = []
    for listing in ResaleListing.objects.select_for_update().filter(
        contract=parent, status=ResaleStatus.LISTED
    ):
        if listing.start >= effective:
            listing.status = ResaleStatus.WITHDRAWN
            listing.save(update_fields=["status", "updated_at"])
        elif listing.end > effective:
            listing.end = effective
            listing.save(update_fields=["end", "updated_at"])
    cut = list(ResaleListing.objects.filter(contract=parent).values_list("pk", flat=True))
    reason = gettext("Contract %(parent)s, which this resale sells on, ended on %(day)s.") % {
        "parent": parent.pk,
        "day": _day(effective),
    }
    children = Contract.objects.filter(parent_contract=parent).exclude(
        status__in=["completed", "cancelled", "terminated"]
    )
    for child in children:
        if effective >= effective_end(child):
            continue
        not_started = child.status == "pending_approval" or (
            child.status == "approved" and child.start_date >= effective
        )
        if not_started:
            child = contract_transition(
                contract=child, to="cancelled", actor_label=ENDED_BY_PARENT, reason=reason
            )
            inventory.capacity_release(reference=child.booking_reference)
        else:
            end = max(effective, child.start_date)
            child = contract_transition(
                contract=child,
                to="terminated",
                actor_label=ENDED_BY_PARENT,
                reason=reason,
                changes={"termination_date": end, "termination_reason": reason},
            )
            inventory.allocations_truncate(reference=child.booking_reference, end=end)
        resale_end_with_parent(parent=child, effective=effective, now=now)
        transaction.on_commit(lambda pk=child.pk: _enqueue_mail(pk))
        ended.append(child)
    resale_listing_refresh(listing_ids=cut)
    return ended


def _enqueue_mail(contract_id: int) -> None:
    from marketplace.tasks import mail_resale_ended  # tasks import this module

    mail_resale_ended.delay(contract_id)


def resale_ended_mail(*, contract_id: int) -> int:
    """Mail the members of the buyer and of the reseller of a resale contract that ended with
    its parent. Returns the number of mails sent (0 when it did not end that way)."""
    contract = (
        Contract.objects.filter(pk=contract_id, kind="resale")
        .select_related("customer", "parent_contract__customer")
        .first()
    )
    if contract is None or not contract.history.filter(actor_label=ENDED_BY_PARENT).exists():
        return 0
    sent = 0
    for organization in (contract.customer, contract.parent_contract.customer):
        emails = [
            m.user.email for m in organization.memberships.select_related("user") if m.user.email
        ]
        if not emails:
            continue
        subject = gettext("Resale contract %(number)s has ended") % {"number": contract.pk}
        body = gettext(
            "Resale contract %(number)s is now %(status)s: the contract it resold, "
            "%(parent)s, ended early on %(day)s. It is billed for the days served only."
        ) % {
            "number": contract.pk,
            "status": contract.get_status_display(),
            "parent": contract.parent_contract_id,
            "day": _day(contract.termination_date or contract.start_date),
        }
        mail.send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails)
        sent += 1
    return sent


def resale_give_back(*, contract: Contract, since: date) -> int:
    """A resale contract ended early on its own (cancelled or terminated while its parent
    runs): the servers it no longer uses from ``since`` go back to the reseller's booking,
    which still pays for them. Returns the allocation rows written."""
    parent = contract.parent_contract
    if contract.kind != "resale" or parent is None:
        return 0
    until = min(contract.end_date, effective_end(parent))
    lines = [line for line in contract.lines.all() if line.resale_listing_id is not None]
    rows = [
        Allocation(
            cluster_id=line.cluster_id,
            kind=AllocationKind.BOOKING,
            servers=line.servers,
            start=max(since, contract.start_date),
            end=until,
            reference=parent.booking_reference,
        )
        for line in lines
        if max(since, contract.start_date) < until
    ]
    if not rows:
        return 0
    with transaction.atomic():
        inventory.clusters_lock(cluster_ids=[row.cluster_id for row in rows])
        Allocation.objects.bulk_create(rows)
        inventory.usage_steps_rebuild(cluster_ids=[row.cluster_id for row in rows])
        resale_listing_refresh(listing_ids=[line.resale_listing_id for line in lines])
    return len(rows)


def resale_lock_chain(*, contract_ids: list[int]) -> list[int]:
    """Lock these contracts and every resale contract sold on from them, all the way down, in
    ascending id order per generation. Taken before any cluster lock by whoever ends a contract
    or sells on from one, so the two never wait on each other in a cycle (a sale inserts a row
    pointing at its parent, which needs the parent row). Returns the ids locked."""
    locked: list[int] = []
    generation = sorted(set(contract_ids))
    while generation:
        rows = Contract.objects.select_for_update().filter(pk__in=generation).order_by("pk")
        locked.extend(rows.values_list("pk", flat=True))
        generation = sorted(
            Contract.objects.filter(parent_contract_id__in=generation)
            .exclude(pk__in=locked)
            .values_list("pk", flat=True)
        )
    return locked
