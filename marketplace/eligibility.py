"""Why a cluster was not offered: reason codes with plain-language messages (pure).

Every cluster the customer can see and that is not part of an offer gets at least one reason,
and so does every resale listing it could be offered (the same rules, on the underlying
cluster's GPU model, region and network and on the listing's ask, minimum term and window).
Static reasons (GPU model, region, network, price, term, availability window) come first;
capacity reasons need the cluster's free servers over the whole term. Codes are for machines
(the API keeps them); messages are in the reader's language, with names and figures in words.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts.formatting import format_rate


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


@dataclass(frozen=True)
class Subject:
    """What a rejection is about: a provider's cluster, or a resale listing of servers on one
    (the listing's facts are the underlying cluster's, at the listing's ask, term and window)."""

    cluster_id: int
    resale_listing_id: int | None = None  # set for a resale listing
    resale_until: date | None = None  # the end of the listing's window (exclusive)

    @property
    def is_resale(self) -> bool:
        return self.resale_listing_id is not None


def servers_to_cover(spec: RequestSpec, p_per_server: Decimal) -> int:
    """Whole servers of this size that cover the demand alone."""
    if spec.servers is not None:
        return spec.servers
    assert spec.min_p is not None  # nosec B101 # narrows a type; input is validated upstream
    whole, remainder = divmod(spec.min_p, p_per_server)
    return int(whole) + (1 if remainder else 0)


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


@dataclass(frozen=True)
class Names:
    """Display names for the codes a reason mentions, in the reader's language.

    Built by the caller (``marketplace.selectors.reason_names``: this module reads no
    database); a code without a name is shown as it is.
    """

    gpus: Mapping[str, str] = field(default_factory=dict)  # GPU model code -> name
    regions: Mapping[str, str] = field(default_factory=dict)  # region code -> name
    networks: Mapping[str, str] = field(default_factory=dict)  # cluster interconnect -> label
    requirements: Mapping[str, str] = field(default_factory=dict)  # request interconnect -> label

    def gpu(self, code: str) -> str:
        return str(self.gpus.get(code, code))

    def region(self, code: str) -> str:
        return str(self.regions.get(code, code))

    def network(self, code: str) -> str:
        return str(self.networks.get(code, code))

    def requirement(self, code: str) -> str:
        return str(self.requirements.get(code, code))


CODES_AS_NAMES = Names()

# A short title per reason, for grouping reasons on a page (in the reader's language).
REASON_TITLES: dict[Reason, str] = {
    Reason.NOT_LISTED: gettext_lazy("Not listed"),
    Reason.PROVIDER_NOT_VERIFIED: gettext_lazy("Provider not verified yet"),
    Reason.GPU_MODEL: gettext_lazy("A different GPU model"),
    Reason.REGION: gettext_lazy("In another region"),
    Reason.INTERCONNECT: gettext_lazy("Network does not meet your requirement"),
    Reason.PRICE_ABOVE_MAX: gettext_lazy("Price above your maximum"),
    Reason.TERM_BELOW_MINIMUM: gettext_lazy("Your term is below its minimum term"),
    Reason.OUTSIDE_AVAILABILITY: gettext_lazy("Not offered for your dates"),
    Reason.NOT_FREE_FOR_TERM: gettext_lazy("Fully booked for your term"),
    Reason.TOO_SMALL_FOR_SINGLE_CLUSTER: gettext_lazy("Too few free servers for one cluster"),
    Reason.OUTRANKED: gettext_lazy("Qualifies, but the offers made are better"),
    Reason.MARKET_TOO_SMALL: gettext_lazy("Qualifies, but the market cannot cover your demand"),
}


def _day(value: date) -> str:
    return date_format(value, "DATE_FORMAT")


def _listing(names: list[str]) -> str:
    return gettext(", ").join(names)


def explain(
    spec: RequestSpec, facts: ClusterFacts, code: Reason, names: Names = CODES_AS_NAMES
) -> str:
    """The reason in plain language (the active language), with the figures that decided it."""
    match code:
        case Reason.NOT_LISTED:
            return gettext("The cluster is not listed.")
        case Reason.PROVIDER_NOT_VERIFIED:
            return gettext("The provider has not been verified yet.")
        case Reason.GPU_MODEL:
            return gettext("It has %(gpu)s; you asked for %(wanted)s.") % {
                "gpu": names.gpu(facts.gpu_code),
                "wanted": _listing(sorted(names.gpu(code) for code in spec.gpu_codes)),
            }
        case Reason.REGION:
            return gettext("It is in %(region)s; you asked for %(wanted)s.") % {
                "region": names.region(facts.region_code),
                "wanted": _listing(sorted(names.region(code) for code in spec.region_codes)),
            }
        case Reason.INTERCONNECT:
            return gettext("Its network is %(network)s; you require %(required)s.") % {
                "network": names.network(facts.interconnect),
                "required": names.requirement(spec.interconnect),
            }
        case Reason.PRICE_ABOVE_MAX:
            assert spec.max_price_per_p_year is not None  # nosec B101 # narrows a type; input is validated upstream
            return gettext(
                "It asks %(price)s per P per year, above your maximum of %(maximum)s."
            ) % {
                "price": format_rate(facts.price_per_p_year),
                "maximum": format_rate(spec.max_price_per_p_year),
            }
        case Reason.TERM_BELOW_MINIMUM:
            return ngettext(
                "It rents for at least %(minimum)d month; you asked for %(term)d.",
                "It rents for at least %(minimum)d months; you asked for %(term)d.",
                facts.min_term_months,
            ) % {"minimum": facts.min_term_months, "term": spec.term_months}
        case Reason.OUTSIDE_AVAILABILITY:
            values = {
                "start": _day(spec.start),
                "end": _day(spec.end),
                "available_from": _day(facts.available_from),
            }
            if facts.available_until is None:
                return (
                    gettext("It is offered from %(available_from)s, after your start on %(start)s.")
                    % values
                )
            values["available_until"] = _day(facts.available_until)
            return (
                gettext(
                    "It is offered from %(available_from)s until %(available_until)s, which does "
                    "not cover %(start)s to %(end)s."
                )
                % values
            )
        case Reason.NOT_FREE_FOR_TERM:
            return gettext("No server is free for the whole term %(start)s to %(end)s.") % {
                "start": _day(spec.start),
                "end": _day(spec.end),
            }
        case Reason.TOO_SMALL_FOR_SINGLE_CLUSTER:
            return ngettext(
                "Only %(free)d server is free for the whole term; a single-cluster booking "
                "needs %(needed)d.",
                "Only %(free)d servers are free for the whole term; a single-cluster booking "
                "needs %(needed)d.",
                facts.free_servers or 0,
            ) % {
                "free": facts.free_servers or 0,
                "needed": servers_to_cover(spec, facts.p_per_server),
            }
        case Reason.OUTRANKED:
            return gettext(
                "It qualifies, but the offers made cover your demand at a lower price (or with "
                "less excess P, fewer clusters or better uptime)."
            )
        case Reason.MARKET_TOO_SMALL:
            return gettext(
                "It qualifies, but all qualifying clusters together cannot cover your demand "
                "for the whole term."
            )
    raise ValueError(code)


def explained(
    spec: RequestSpec,
    facts: ClusterFacts,
    codes: list[Reason],
    names: Names = CODES_AS_NAMES,
) -> list[Rejection]:
    return [Rejection(code, explain(spec, facts, code, names)) for code in codes]
