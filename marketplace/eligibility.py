"""Why a cluster was not offered: reason codes with plain-language messages (pure).

Every cluster the customer can see and that is not part of an offer gets at least one reason.
Static reasons (GPU model, region, network, price, term, availability window) come first;
capacity reasons need the cluster's free servers over the whole term.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from accounts.money import FEN


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


@dataclass(frozen=True)
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
    assert spec.min_p is not None
    whole, remainder = divmod(spec.min_p, p_per_server)
    return int(whole) + (1 if remainder else 0)


def _price(value: Decimal) -> str:
    return f"{value.quantize(FEN):,}"


def static_reasons(spec: RequestSpec, facts: ClusterFacts) -> list[Rejection]:
    """Reasons that need no capacity figures."""
    reasons = []
    if not facts.listed:
        reasons.append(Rejection(Reason.NOT_LISTED, "The cluster is not listed."))
    if not facts.provider_verified:
        reasons.append(
            Rejection(Reason.PROVIDER_NOT_VERIFIED, "The provider has not been verified yet.")
        )
    if facts.gpu_code not in spec.gpu_codes:
        reasons.append(
            Rejection(
                Reason.GPU_MODEL,
                f"It has {facts.gpu_code}; you asked for {', '.join(sorted(spec.gpu_codes))}.",
            )
        )
    if spec.region_codes and facts.region_code not in spec.region_codes:
        reasons.append(
            Rejection(
                Reason.REGION,
                f"It is in {facts.region_code}; you asked for "
                f"{', '.join(sorted(spec.region_codes))}.",
            )
        )
    if facts.interconnect not in ACCEPTED_INTERCONNECTS[spec.interconnect]:
        reasons.append(
            Rejection(
                Reason.INTERCONNECT,
                f"Its network is {facts.interconnect}; you require {spec.interconnect}.",
            )
        )
    if spec.max_price_per_p_year is not None and facts.price_per_p_year > spec.max_price_per_p_year:
        reasons.append(
            Rejection(
                Reason.PRICE_ABOVE_MAX,
                f"It asks {_price(facts.price_per_p_year)} CNY per P per year, above your "
                f"maximum of {_price(spec.max_price_per_p_year)}.",
            )
        )
    if spec.term_months < facts.min_term_months:
        reasons.append(
            Rejection(
                Reason.TERM_BELOW_MINIMUM,
                f"It rents for at least {facts.min_term_months} months; you asked for "
                f"{spec.term_months}.",
            )
        )
    if facts.available_from > spec.start or (
        facts.available_until is not None and facts.available_until < spec.end
    ):
        until = facts.available_until.isoformat() if facts.available_until else "open-ended"
        reasons.append(
            Rejection(
                Reason.OUTSIDE_AVAILABILITY,
                f"It is offered from {facts.available_from} until {until}, which does not "
                f"cover {spec.start} to {spec.end}.",
            )
        )
    return reasons


def capacity_reasons(spec: RequestSpec, facts: ClusterFacts) -> list[Rejection]:
    """Reasons from the cluster's free servers over the whole term."""
    free = facts.free_servers or 0
    if free <= 0:
        return [
            Rejection(
                Reason.NOT_FREE_FOR_TERM,
                f"No server is free for the whole term {spec.start} to {spec.end}.",
            )
        ]
    if spec.single_cluster:
        needed = servers_to_cover(spec, facts.p_per_server)
        if free < needed:
            return [
                Rejection(
                    Reason.TOO_SMALL_FOR_SINGLE_CLUSTER,
                    f"Only {free} server(s) are free for the whole term; a single-cluster "
                    f"booking needs {needed}.",
                )
            ]
    return []


OUTRANKED = Rejection(
    Reason.OUTRANKED,
    "It qualifies, but the offers made cover your demand at a lower price (or with less "
    "excess P, fewer clusters or better uptime).",
)


MARKET_TOO_SMALL = Rejection(
    Reason.MARKET_TOO_SMALL,
    "It qualifies, but all qualifying clusters together cannot cover your demand for the "
    "whole term.",
)
