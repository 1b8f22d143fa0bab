"""Why a cluster was not offered: reason codes with plain-language messages (pure).

Every cluster the customer can see and that is not part of an offer gets at least one reason.
Static reasons (GPU model, region, network, price, term, availability window) come first;
capacity reasons need the cluster's free servers over the whole term.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from accounts.money import quantize_money


class Reason(StrEnum):
    GPU_MODEL = "gpu_model"
    REGION = "region"
    INTERCONNECT = "interconnect"
    PRICE_ABOVE_MAX = "price_above_max"
    TERM_BELOW_MINIMUM = "term_below_minimum"
    OUTSIDE_AVAILABILITY = "outside_availability"
    NOT_FREE_FOR_TERM = "not_free_for_term"
    TOO_SMALL_FOR_SINGLE_CLUSTER = "too_small_for_single_cluster"
    PROVIDER_NOT_VERIFIED = "provider_not_verified"
    NOT_LISTED = "not_listed"
    OUTRANKED = "outranked"
    MARKET_TOO_SMALL = "market_too_small"


# Which network each requirement accepts.
ACCEPTED_INTERCONNECTS = {
    "any": {"infiniband", "roce", "ethernet"},
    "rdma": {"infiniband", "roce"},
    "infiniband": {"infiniband"},
    "roce": {"roce"},
}


@dataclass(frozen=True)
class RequestSpec:
    gpu_codes: frozenset[str]
    region_codes: frozenset[str]  # empty: any region
    interconnect: str  # a key of ACCEPTED_INTERCONNECTS
    max_price_per_p_year: Decimal | None
    start: date
    end: date  # exclusive
    term_months: int
    single_cluster: bool
    min_p: Decimal | None
    servers: int | None


@dataclass(slots=True)  # not frozen: built for every cluster on every quote run, so cheap
class ClusterFacts:
    cluster_id: int
    gpu_code: str
    region_code: str
    interconnect: str
    price_per_p_year: Decimal
    min_term_months: int
    available_from: date
    available_until: date | None
    p_per_server: Decimal
    provider_verified: bool = True
    listed: bool = True
    free_servers: int | None = None  # over the whole term; None when not computed


@dataclass(frozen=True)
class Rejection:
    code: Reason
    message: str


def servers_to_cover(spec: RequestSpec, p_per_server: Decimal) -> int:
    """Whole servers of this size that cover the demand alone."""
    if spec.servers is not None:
        return spec.servers
    assert spec.min_p is not None  # nosec B101 # narrows a type; input is validated upstream
    whole, remainder = divmod(spec.min_p, p_per_server)
    return int(whole) + (1 if remainder else 0)


def _price(value: Decimal) -> str:
    return f"{quantize_money(value):,}"


def static_reason_codes(spec: RequestSpec, facts: ClusterFacts) -> list[Reason]:
    """Reasons that need no capacity figures, as codes (cheap: runs for every cluster)."""
    codes = []
    if not facts.listed:
        codes.append(Reason.NOT_LISTED)
    if not facts.provider_verified:
        codes.append(Reason.PROVIDER_NOT_VERIFIED)
    if facts.gpu_code not in spec.gpu_codes:
        codes.append(Reason.GPU_MODEL)
    if spec.region_codes and facts.region_code not in spec.region_codes:
        codes.append(Reason.REGION)
    if facts.interconnect not in ACCEPTED_INTERCONNECTS[spec.interconnect]:
        codes.append(Reason.INTERCONNECT)
    if spec.max_price_per_p_year is not None and facts.price_per_p_year > spec.max_price_per_p_year:
        codes.append(Reason.PRICE_ABOVE_MAX)
    if spec.term_months < facts.min_term_months:
        codes.append(Reason.TERM_BELOW_MINIMUM)
    if facts.available_from > spec.start or (
        facts.available_until is not None and facts.available_until < spec.end
    ):
        codes.append(Reason.OUTSIDE_AVAILABILITY)
    return codes


def capacity_reason_codes(spec: RequestSpec, facts: ClusterFacts) -> list[Reason]:
    """Reasons from the cluster's free servers over the whole term."""
    free = facts.free_servers or 0
    if free <= 0:
        return [Reason.NOT_FREE_FOR_TERM]
    if spec.single_cluster and free < servers_to_cover(spec, facts.p_per_server):
        return [Reason.TOO_SMALL_FOR_SINGLE_CLUSTER]
    return []


def reason_codes(spec: RequestSpec, facts: ClusterFacts, *, any_offer: bool) -> list[Reason]:
    """Why a cluster not used in any offer was not used: at least one reason, always."""
    return (
        static_reason_codes(spec, facts)
        or capacity_reason_codes(spec, facts)
        or [Reason.OUTRANKED if any_offer else Reason.MARKET_TOO_SMALL]
    )


def explain(spec: RequestSpec, facts: ClusterFacts, code: Reason) -> str:
    """The reason in plain language, with the figures that decided it."""
    match code:
        case Reason.NOT_LISTED:
            return "The cluster is not listed."
        case Reason.PROVIDER_NOT_VERIFIED:
            return "The provider has not been verified yet."
        case Reason.GPU_MODEL:
            return f"It has {facts.gpu_code}; you asked for {', '.join(sorted(spec.gpu_codes))}."
        case Reason.REGION:
            wanted = ", ".join(sorted(spec.region_codes))
            return f"It is in {facts.region_code}; you asked for {wanted}."
        case Reason.INTERCONNECT:
            return f"Its network is {facts.interconnect}; you require {spec.interconnect}."
        case Reason.PRICE_ABOVE_MAX:
            assert spec.max_price_per_p_year is not None  # nosec B101 # narrows a type; input is validated upstream
            return (
                f"It asks {_price(facts.price_per_p_year)} CNY per P per year, above your "
                f"maximum of {_price(spec.max_price_per_p_year)}."
            )
        case Reason.TERM_BELOW_MINIMUM:
            return (
                f"It rents for at least {facts.min_term_months} months; you asked for "
                f"{spec.term_months}."
            )
        case Reason.OUTSIDE_AVAILABILITY:
            until = facts.available_until.isoformat() if facts.available_until else "open-ended"
            return (
                f"It is offered from {facts.available_from} until {until}, which does not "
                f"cover {spec.start} to {spec.end}."
            )
        case Reason.NOT_FREE_FOR_TERM:
            return f"No server is free for the whole term {spec.start} to {spec.end}."
        case Reason.TOO_SMALL_FOR_SINGLE_CLUSTER:
            return (
                f"Only {facts.free_servers} server(s) are free for the whole term; a "
                f"single-cluster booking needs {servers_to_cover(spec, facts.p_per_server)}."
            )
        case Reason.OUTRANKED:
            return (
                "It qualifies, but the offers made cover your demand at a lower price (or with "
                "less excess P, fewer clusters or better uptime)."
            )
        case Reason.MARKET_TOO_SMALL:
            return (
                "It qualifies, but all qualifying clusters together cannot cover your demand "
                "for the whole term."
            )
    raise ValueError(code)


def explained(spec: RequestSpec, facts: ClusterFacts, codes: list[Reason]) -> list[Rejection]:
    return [Rejection(code, explain(spec, facts, code)) for code in codes]
