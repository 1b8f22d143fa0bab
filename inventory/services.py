"""Writes of the inventory. Each service is one transaction.

Capacity invariant: at no moment does a cluster have more servers in active allocations than
``server_count``. Every write that could break it locks the cluster row(s) first
(``SELECT ... FOR UPDATE``, in ascending id order to avoid deadlocks) and checks the peak usage
over the affected window under that lock; concurrent reservations of one cluster therefore run
one after another.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.models import Organization, User
from inventory.capacity import Usage, usage_steps
from inventory.errors import CapacityUnavailable, ClusterStatusChangeRefused, OutageLocked
from inventory.models import (
    DEPRECIATION_YEARS_DEFAULT,
    DEPRECIATION_YEARS_MAX,
    DEPRECIATION_YEARS_MIN,
    Allocation,
    AllocationKind,
    Cluster,
    ClusterStatus,
    GpuModel,
    Outage,
    OutageCorrection,
    Region,
    UsageStep,
)
from inventory.selectors import (
    active_allocations_q,
    cluster_peak_from,
    free_servers_from_ledger,
)
from inventory.sla_tiers import sla_tiers_create_defaults, sla_tiers_follow_promise


@dataclass(frozen=True)
class ReservationRequest:
    cluster_id: int
    servers: int
    start: date
    end: date  # exclusive


# --- Clusters -------------------------------------------------------------------------------
CLUSTER_EDITABLE_FIELDS = {
    "name",
    "region",
    "gpu_model",
    "gpus_per_server",
    "server_count",
    "interconnect",
    "interconnect_gbps",
    "price_per_p_year",
    "min_term_months",
    "available_from",
    "available_until",
    "sla_uptime_percent",
    "status",
    "description",
    "server_cost_per_server",
    "depreciation_years",
}


# Listing changes a provider may make: a draft is listed once; listed and delisted alternate.
# A cluster never goes back to draft (customers may have seen it, contracts may name it).
CLUSTER_STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    ClusterStatus.DRAFT: frozenset({ClusterStatus.LISTED}),
    ClusterStatus.LISTED: frozenset({ClusterStatus.DELISTED}),
    ClusterStatus.DELISTED: frozenset({ClusterStatus.LISTED}),
}


def cluster_status_can_change(*, current: str, new: str) -> bool:
    return new == current or new in CLUSTER_STATUS_TRANSITIONS.get(current, frozenset())


def _check_window(available_from: date, available_until: date | None) -> None:
    if available_until is not None and available_until <= available_from:
        raise InvalidInput("available_until", _("Must be after the first available day."))


def _check_economics(changes: dict) -> None:
    """The provider's own figures for its payback view: a positive cost, a 5-7 year life."""
    cost = changes.get("server_cost_per_server")
    if cost is not None and cost <= 0:
        raise InvalidInput("server_cost_per_server", _("Must be more than 0."))
    years = changes.get("depreciation_years", DEPRECIATION_YEARS_DEFAULT)
    if not DEPRECIATION_YEARS_MIN <= years <= DEPRECIATION_YEARS_MAX:
        raise InvalidInput(
            "depreciation_years",
            _("Between %(min)s and %(max)s years.")
            % {"min": DEPRECIATION_YEARS_MIN, "max": DEPRECIATION_YEARS_MAX},
        )


@transaction.atomic
def cluster_create(
    *,
    provider: Organization,
    name: str,
    region: Region,
    gpu_model: GpuModel,
    gpus_per_server: int,
    server_count: int,
    interconnect: str,
    price_per_p_year: Decimal,
    available_from: date,
    available_until: date | None = None,
    interconnect_gbps: int = 0,
    min_term_months: int = 1,
    sla_uptime_percent: Decimal = Decimal("99.9"),
    status: str = ClusterStatus.DRAFT,
    description: str = "",
    server_cost_per_server: Decimal | None = None,
    depreciation_years: int = DEPRECIATION_YEARS_DEFAULT,
) -> Cluster:
    if not provider.is_provider:
        raise PermissionDeniedError(_("Only provider organisations list clusters."))
    _check_window(available_from, available_until)
    _check_economics(
        {"server_cost_per_server": server_cost_per_server, "depreciation_years": depreciation_years}
    )
    cluster = Cluster.objects.create(
        provider=provider,
        name=name,
        region=region,
        gpu_model=gpu_model,
        gpus_per_server=gpus_per_server,
        server_count=server_count,
        interconnect=interconnect,
        interconnect_gbps=interconnect_gbps,
        price_per_p_year=price_per_p_year,
        min_term_months=min_term_months,
        available_from=available_from,
        available_until=available_until,
        sla_uptime_percent=sla_uptime_percent,
        status=status,
        description=description,
        server_cost_per_server=server_cost_per_server,
        depreciation_years=depreciation_years,
    )
    sla_tiers_create_defaults(cluster=cluster)
    return cluster


def cluster_update(*, cluster: Cluster, changes: dict, now: datetime | None = None) -> Cluster:
    """Change a cluster for the future. Price changes apply to new quotes only (quotes freeze
    prices). Shrinking below what is already booked or held is refused with the figure; the
    status moves only as ``CLUSTER_STATUS_TRANSITIONS`` allows.
    """
    unknown = set(changes) - CLUSTER_EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(sorted(unknown)[0], _("This field cannot be changed."))
    _check_economics(changes)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if "status" in changes and not cluster_status_can_change(
            current=locked.status, new=changes["status"]
        ):
            message = _("A %(current)s cluster cannot become %(new)s.") % {
                "current": ClusterStatus(locked.status).label.lower(),
                "new": ClusterStatus(changes["status"]).label.lower(),
            }
            raise ClusterStatusChangeRefused(message, details={"status": [message]})
        today = timezone.localdate(now)
        in_use = Allocation.objects.filter(active_allocations_q(now), cluster=locked, end__gt=today)
        if "server_count" in changes and changes["server_count"] < locked.server_count:
            peak = cluster_peak_from(locked, since=today, now=now)
            if changes["server_count"] < peak:
                raise InvalidInput(
                    "server_count",
                    ngettext(
                        "%(peak)s server is booked, held or blocked at some moment from "
                        "%(today)s on; the cluster cannot shrink below %(peak)s.",
                        "%(peak)s servers are booked, held or blocked at some moment from "
                        "%(today)s on; the cluster cannot shrink below %(peak)s.",
                        peak,
                    )
                    % {"peak": peak, "today": date_format(today, "DATE_FORMAT")},
                )
        rating_changed = (
            "gpu_model" in changes and changes["gpu_model"].pk != locked.gpu_model_id
        ) or ("gpus_per_server" in changes and changes["gpus_per_server"] != locked.gpus_per_server)
        if (
            rating_changed
            and in_use.filter(kind__in=[AllocationKind.BOOKING, AllocationKind.HOLD]).exists()
        ):
            raise InvalidInput(
                "gpu_model" if "gpu_model" in changes else "gpus_per_server",
                _("The cluster's servers are booked or held; their hardware cannot change."),
            )
        available_from = changes.get("available_from", locked.available_from)
        available_until = changes.get("available_until", locked.available_until)
        _check_window(available_from, available_until)
        outside = in_use.filter(start__lt=available_from)
        if available_until is not None:
            outside = in_use.filter(start__lt=available_from) | in_use.filter(
                end__gt=available_until
            )
        if ("available_from" in changes or "available_until" in changes) and outside.exists():
            raise InvalidInput(
                "available_until" if "available_until" in changes else "available_from",
                _("Servers are booked or held outside the new availability window."),
            )
        promised = locked.sla_uptime_percent
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*changes, "updated_at"])
        if locked.sla_uptime_percent != promised:
            sla_tiers_follow_promise(cluster=locked, previous=promised)
    return locked


# --- Capacity ledger ------------------------------------------------------------------------
def _lock_clusters(cluster_ids: Sequence[int]) -> dict[int, Cluster]:
    """Lock cluster rows in ascending id order (a consistent order cannot deadlock)."""
    ids = sorted(set(cluster_ids))
    locked = Cluster.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    clusters = {cluster.pk: cluster for cluster in locked}
    missing = set(ids) - set(clusters)
    if missing:
        raise InvalidInput(
            "cluster",
            ngettext("Unknown cluster: %(ids)s.", "Unknown clusters: %(ids)s.", len(missing))
            % {"ids": ", ".join(str(pk) for pk in sorted(missing))},
        )
    return clusters


def clusters_lock(*, cluster_ids: Sequence[int]) -> dict[int, Cluster]:
    """Lock these clusters' rows for the rest of the transaction (ascending id order).

    Callers that will release and reserve capacity on several clusters in one transaction take
    all the locks up front, so two such transactions can never wait on each other in a cycle.
    """
    return _lock_clusters(cluster_ids)


def usage_steps_rebuild(*, cluster_ids: Sequence[int]) -> int:
    """Recompute the derived usage steps of these clusters from their bookings and maintenance.

    Callers hold the clusters' row locks (every ledger write does), so the steps always match
    the ledger when the transaction commits. Returns the number of step rows written.
    """
    ids = sorted(set(cluster_ids))
    usages: dict[int, list[Usage]] = {cluster_id: [] for cluster_id in ids}
    rows = (
        Allocation.objects.filter(cluster_id__in=ids)
        .exclude(kind=AllocationKind.HOLD)
        .values_list("cluster_id", "start", "end", "servers")
    )
    for cluster_id, start, end, servers in rows:
        usages[cluster_id].append(Usage(start, end, servers))
    UsageStep.objects.filter(cluster_id__in=ids).delete()
    steps = [
        UsageStep(cluster_id=cluster_id, start=step.start, end=step.end, used=step.servers)
        for cluster_id in ids
        for step in usage_steps(usages[cluster_id])
    ]
    UsageStep.objects.bulk_create(steps, batch_size=5000)
    return len(steps)


def _validate_request(request: ReservationRequest) -> None:
    if request.servers < 1:
        raise InvalidInput("servers", _("Reserve at least one server."))
    if request.end <= request.start:
        raise InvalidInput("end", _("The window must end after it starts."))


def capacity_reserve_many(
    *,
    requests: Sequence[ReservationRequest],
    kind: str,
    reference: str,
    expires_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> list[Allocation]:
    """Reserve servers on one or more clusters atomically: all or nothing.

    Steps: lock every cluster row involved (ascending id); for each request compute the free
    servers over its window under the lock (requests for the same cluster are applied in turn);
    raise :class:`CapacityUnavailable` at the first shortfall (rolling everything back); else
    insert the allocation rows.
    """
    if kind == AllocationKind.HOLD and expires_at is None:
        raise InvalidInput("expires_at", _("A hold needs an expiry."))
    if kind != AllocationKind.HOLD and expires_at is not None:
        raise InvalidInput("expires_at", _("Only holds expire."))
    now = now or timezone.now()
    for request in requests:
        _validate_request(request)
    with transaction.atomic():
        clusters = _lock_clusters([request.cluster_id for request in requests])
        windows = sorted({(request.start, request.end) for request in requests})
        if len(windows) > 1 and len(requests) != len({r.cluster_id for r in requests}):
            # Requests for one cluster over different windows may or may not overlap: check
            # them one after another against the ledger as it grows.
            return _reserve_sequentially(requests, clusters, kind, reference, expires_at, note, now)
        # One ledger sweep per distinct window (quotes and contracts use one), then check each
        # request against it, counting earlier requests of this call on the same cluster.
        free: dict[tuple[date, date], dict[int, int]] = {}
        for window in windows:
            ids = sorted({r.cluster_id for r in requests if (r.start, r.end) == window})
            free[window] = free_servers_from_ledger(
                Cluster.objects.filter(pk__in=ids), start=window[0], end=window[1], now=now
            )
        taken: dict[tuple[int, tuple[date, date]], int] = {}
        for request in requests:
            window = (request.start, request.end)
            available = free[window].get(request.cluster_id, 0) - taken.get(
                (request.cluster_id, window), 0
            )
            if available < request.servers:
                raise CapacityUnavailable(
                    cluster_id=request.cluster_id,
                    requested=request.servers,
                    free_servers=max(available, 0),
                    start=request.start,
                    end=request.end,
                )
            taken[(request.cluster_id, window)] = (
                taken.get((request.cluster_id, window), 0) + request.servers
            )
        created = Allocation.objects.bulk_create(
            Allocation(
                cluster_id=request.cluster_id,
                kind=kind,
                servers=request.servers,
                start=request.start,
                end=request.end,
                expires_at=expires_at,
                reference=reference,
                note=note,
            )
            for request in requests
        )
        if kind != AllocationKind.HOLD:
            usage_steps_rebuild(cluster_ids=list(clusters))
    return created


def _reserve_sequentially(
    requests: Sequence[ReservationRequest],
    clusters: dict[int, Cluster],
    kind: str,
    reference: str,
    expires_at: datetime | None,
    note: str,
    now: datetime,
) -> list[Allocation]:
    """Check and insert one request at a time (the ledger sweep sees the rows inserted before)."""
    created = []
    for request in requests:
        free = free_servers_from_ledger(
            Cluster.objects.filter(pk=request.cluster_id),
            start=request.start,
            end=request.end,
            now=now,
        ).get(request.cluster_id, 0)
        if free < request.servers:
            raise CapacityUnavailable(
                cluster_id=request.cluster_id,
                requested=request.servers,
                free_servers=max(free, 0),
                start=request.start,
                end=request.end,
            )
        created.append(
            Allocation.objects.create(
                cluster=clusters[request.cluster_id],
                kind=kind,
                servers=request.servers,
                start=request.start,
                end=request.end,
                expires_at=expires_at,
                reference=reference,
                note=note,
            )
        )
    if kind != AllocationKind.HOLD:
        usage_steps_rebuild(cluster_ids=list(clusters))
    return created


def capacity_reserve(
    *,
    cluster_id: int,
    servers: int,
    start: date,
    end: date,
    kind: str,
    reference: str,
    expires_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Allocation:
    """Reserve ``servers`` of one cluster over ``[start, end)`` or raise CapacityUnavailable."""
    return capacity_reserve_many(
        requests=[ReservationRequest(cluster_id, servers, start, end)],
        kind=kind,
        reference=reference,
        expires_at=expires_at,
        note=note,
        now=now,
    )[0]


def capacity_release(*, reference: str) -> int:
    """Free everything held or booked under ``reference``. Returns the rows removed."""
    with transaction.atomic():
        rows = Allocation.objects.filter(reference=reference)
        touched = list(rows.values_list("cluster_id", "kind").distinct())
        _lock_clusters([cluster_id for cluster_id, _ in touched])
        deleted, _ = rows.delete()
        # Holds are not in the usage steps: only bookings and maintenance change them.
        stepped = {cluster_id for cluster_id, kind in touched if kind != AllocationKind.HOLD}
        if stepped:
            usage_steps_rebuild(cluster_ids=sorted(stepped))
    return deleted


def holds_confirm(
    *, hold_reference: str, booking_reference: str, now: datetime | None = None
) -> list[Allocation]:
    """Turn the holds under ``hold_reference`` into bookings under ``booking_reference``.

    A hold still valid becomes a booking in place. A hold that has expired no longer protects
    anything: its servers are booked again only if still free, else CapacityUnavailable and
    nothing changes. Raises DomainError("no_holds") if there are no holds at all.
    """
    now = now or timezone.now()
    with transaction.atomic():
        holds = list(Allocation.objects.filter(reference=hold_reference, kind=AllocationKind.HOLD))
        if not holds:
            raise DomainError(_("There is no capacity held for this quote."), code="no_holds")
        _lock_clusters([hold.cluster_id for hold in holds])
        expired = [hold for hold in holds if hold.expires_at <= now]
        if expired:
            Allocation.objects.filter(pk__in=[hold.pk for hold in expired]).delete()
            for hold in expired:
                capacity_reserve(
                    cluster_id=hold.cluster_id,
                    servers=hold.servers,
                    start=hold.start,
                    end=hold.end,
                    kind=AllocationKind.BOOKING,
                    reference=booking_reference,
                    now=now,
                )
        valid = [hold for hold in holds if hold.expires_at > now]
        Allocation.objects.filter(pk__in=[hold.pk for hold in valid]).update(
            kind=AllocationKind.BOOKING, expires_at=None, reference=booking_reference
        )
        usage_steps_rebuild(cluster_ids=[hold.cluster_id for hold in holds])
        return list(Allocation.objects.filter(reference=booking_reference))


def allocations_truncate(*, reference: str, end: date) -> int:
    """Release capacity under ``reference`` from ``end`` on (termination). Returns rows changed."""
    with transaction.atomic():
        rows = Allocation.objects.filter(reference=reference)
        cluster_ids = list(rows.values_list("cluster_id", flat=True).distinct())
        _lock_clusters(cluster_ids)
        removed, _ = rows.filter(start__gte=end).delete()
        shortened = rows.filter(end__gt=end).update(end=end)
        usage_steps_rebuild(cluster_ids=cluster_ids)
        return removed + shortened


def holds_purge_expired(*, now: datetime | None = None) -> int:
    """Delete holds past their expiry. They already count as free; this only tidies the ledger."""
    now = now or timezone.now()
    deleted, _ = Allocation.objects.filter(kind=AllocationKind.HOLD, expires_at__lte=now).delete()
    return deleted


def maintenance_block(
    *,
    cluster: Cluster,
    servers: int,
    start: date,
    end: date,
    note: str,
    by: User,
    submission_key: str = "",
) -> Allocation:
    """Block servers for planned maintenance; refused if they are already sold or held.

    ``submission_key`` is a page form's one-time key: sending the same form twice (a double
    click, a reload) returns the block the first submission made instead of blocking twice.
    """
    reference = f"maintenance:{by.pk}" + (f":{submission_key}" if submission_key else "")
    with transaction.atomic():
        if submission_key:
            _lock_clusters([cluster.pk])  # a concurrent twin waits here, then finds the block
            existing = Allocation.objects.filter(
                cluster=cluster, kind=AllocationKind.MAINTENANCE, reference=reference
            ).first()
            if existing is not None:
                return existing
        return capacity_reserve(
            cluster_id=cluster.pk,
            servers=servers,
            start=start,
            end=end,
            kind=AllocationKind.MAINTENANCE,
            reference=reference,
            note=note,
        )


# --- Outages --------------------------------------------------------------------------------
OUTAGE_EDITABLE_FIELDS = {"start", "end", "servers_affected", "description"}


def _check_outage(cluster: Cluster, start: datetime, end: datetime, servers: int) -> None:
    if end <= start:
        raise InvalidInput("end", _("An outage must end after it starts."))
    if servers < 1:
        raise InvalidInput("servers_affected", _("At least one server is affected."))
    if servers > cluster.server_count:
        raise InvalidInput(
            "servers_affected",
            ngettext(
                "The cluster has only %(count)s server.",
                "The cluster has only %(count)s servers.",
                cluster.server_count,
            )
            % {"count": cluster.server_count},
        )


def outage_record(
    *,
    cluster: Cluster,
    start: datetime,
    end: datetime,
    servers_affected: int,
    description: str,
    by: User,
    submission_key: str = "",
) -> Outage:
    """Record an outage. ``submission_key`` (a page form's one-time key) makes a repeated
    submission return the outage the first one recorded: an outage counted twice would credit
    customers twice."""
    _check_outage(cluster, start, end, servers_affected)
    if submission_key:
        existing = Outage.objects.filter(cluster=cluster, submission_key=submission_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return Outage.objects.create(
                cluster=cluster,
                start=start,
                end=end,
                servers_affected=servers_affected,
                description=description,
                recorded_by=by,
                submission_key=submission_key,
            )
    except IntegrityError:
        if not submission_key:
            raise
        # A concurrent twin won the unique index: its outage is this submission's outage.
        return Outage.objects.get(cluster=cluster, submission_key=submission_key)


def _outage_snapshot(outage: Outage) -> dict:
    data = model_to_dict(outage, fields=sorted(OUTAGE_EDITABLE_FIELDS))
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in data.items()
    }


def outage_update(*, outage: Outage, changes: dict, by: User, reason: str = "") -> Outage:
    """Change an outage. Once billed, only admins may, with a reason, and it is audited."""
    unknown = set(changes) - OUTAGE_EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(sorted(unknown)[0], _("This field cannot be changed."))
    with transaction.atomic():
        locked = Outage.objects.select_for_update().select_related("cluster").get(pk=outage.pk)
        if locked.is_locked:
            if not by.is_staff:
                raise OutageLocked()
            if not reason.strip():
                raise InvalidInput(
                    "reason", _("A correction to an invoiced outage needs a reason.")
                )
        before = _outage_snapshot(locked)
        for field, value in changes.items():
            setattr(locked, field, value)
        _check_outage(locked.cluster, locked.start, locked.end, locked.servers_affected)
        locked.save(update_fields=list(changes))
        if locked.is_locked:
            OutageCorrection.objects.create(
                outage=locked,
                corrected_by=by,
                reason=reason,
                before=before,
                after=_outage_snapshot(locked),
            )
    return locked


def outages_mark_invoiced(*, outage_ids: Sequence[int], at: datetime | None = None) -> int:
    """Billing calls this when it has used outages in an invoice; they become immutable."""
    return Outage.objects.filter(pk__in=list(outage_ids), invoiced_at__isnull=True).update(
        invoiced_at=at or timezone.now()
    )
