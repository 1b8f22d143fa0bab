"""The resale events in a contract's history: a listing created, withdrawn, or sold from.

They are written on the reseller's (parent) contract by the resale services, in the same
transaction as the change they record, and leave its state as it is. The figures go in
``details`` so the history reads in the reader's language; ``reason`` keeps an English sentence
for the API, exports and the Django admin.
"""

from datetime import date
from decimal import Decimal

from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts.formatting import format_rate
from accounts.models import User
from marketplace.models import Contract, ContractEvent, ContractEventKind, ResaleListing

# The actor of a sale's row: the buyer signs its own contract, not the reseller's.
SOLD_BY = "resale:sale"
# The actor of a resale contract's ending because the contract it resold ended.
ENDED_BY_PARENT = "resale:parent-ended"


def _record(
    *,
    kind: str,
    listing: ResaleListing,
    status: str,
    details: dict,
    reason: str,
    by: User | None = None,
    actor_label: str = "",
) -> ContractEvent:
    return ContractEvent.objects.create(
        contract_id=listing.contract_id,
        from_status=status,
        to_status=status,
        kind=kind,
        resale_listing=listing,
        details=details,
        reason=reason,
        actor=by,
        actor_label=actor_label,
    )


def record_listed(*, listing: ResaleListing, contract: Contract, by: User) -> ContractEvent:
    details = {
        "servers": listing.servers,
        "cluster": listing.cluster.name,
        "start": listing.start.isoformat(),
        "end": listing.end.isoformat(),
        "price_per_p_year": str(listing.price_per_p_year),
    }
    reason = (
        f"Listed {listing.servers} servers on cluster {listing.cluster.name} from "
        f"{listing.start} to {listing.end} at {listing.price_per_p_year} per P per year."
    )
    return _record(
        kind=ContractEventKind.RESALE_LISTED,
        listing=listing,
        status=contract.status,
        details=details,
        reason=reason,
        by=by,
    )


def record_withdrawn(*, listing: ResaleListing, status: str, by: User) -> ContractEvent:
    return _record(
        kind=ContractEventKind.RESALE_WITHDRAWN,
        listing=listing,
        status=status,
        details={"listing": listing.pk},
        reason=f"Withdrew resale listing {listing.pk}.",
        by=by,
    )


def record_sold(
    *, listing: ResaleListing, status: str, servers: int, buyer: Contract, buyer_name: str
) -> ContractEvent:
    details = {"servers": servers, "buyer": buyer_name, "contract": buyer.pk}
    reason = f"Sold {servers} servers to {buyer_name}, resale contract {buyer.pk}."
    return _record(
        kind=ContractEventKind.RESALE_SOLD,
        listing=listing,
        status=status,
        details=details,
        reason=reason,
        actor_label=SOLD_BY,
    )


def _day(value: str) -> str:
    parsed: date | None = parse_date(value)
    return date_format(parsed, "DATE_FORMAT") if parsed else value


def describe(event: ContractEvent) -> str:
    """A resale event in the reader's language."""
    d = event.details
    match event.kind:
        case ContractEventKind.RESALE_LISTED:
            return ngettext(
                "Listed %(count)d server on cluster %(cluster)s from %(start)s to %(end)s "
                "at %(price)s per P per year.",
                "Listed %(count)d servers on cluster %(cluster)s from %(start)s to %(end)s "
                "at %(price)s per P per year.",
                d["servers"],
            ) % {
                "count": d["servers"],
                "cluster": d["cluster"],
                "start": _day(d["start"]),
                "end": _day(d["end"]),
                "price": format_rate(Decimal(d["price_per_p_year"])),
            }
        case ContractEventKind.RESALE_WITHDRAWN:
            return gettext("Withdrew resale listing %(listing)s.") % {"listing": d["listing"]}
        case ContractEventKind.RESALE_SOLD:
            return ngettext(
                "Sold %(count)d server to %(buyer)s, resale contract %(contract)s.",
                "Sold %(count)d servers to %(buyer)s, resale contract %(contract)s.",
                d["servers"],
            ) % {"count": d["servers"], "buyer": d["buyer"], "contract": d["contract"]}
    return event.reason
