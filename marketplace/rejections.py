"""Why the rest of the market was not offered: every visible cluster and every resale listing
the customer could buy that no offer uses, with its reasons, paged without reading it all.

Rows are keyed as the matching engine keys its candidates: a cluster by its id, a resale listing
by ``resale_selectors.candidate_id`` (far above any cluster id). Slicing answers
``(Subject, reasons)`` rows, so callers see which are resale, of which listing, on which
cluster, until when.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Value

from inventory.models import Cluster
from marketplace.eligibility import (
    REASON_TITLES,
    ClusterFacts,
    Names,
    Reason,
    Rejection,
    RequestSpec,
    Subject,
    explained,
    reason_codes,
    static_reason_codes,
)
from marketplace.models import ResaleListing
from marketplace.resale_selectors import (
    ResaleCandidate,
    candidate_id,
    listing_of_candidate,
    resale_facts_of,
    resale_reason_conditions,
    resale_rejection_summary,
    resale_statically_rejected,
)
from marketplace.selectors import (
    display_names,
    facts_of,
    static_reason_conditions,
    static_rejection_summary,
    statically_rejected,
)

# Columns a statically rejected row is ranked by, the same for clusters and listings: rules
# failed, then price, then clusters before listings, then id.
_RANK = ("failed_rules", "price_per_p_year", "resale", "id")


def _static_window(
    clusters: QuerySet[Cluster], listings: QuerySet[ResaleListing], first: int, last: int
) -> list[int]:
    """Keys of rows ``first`` to ``last`` of the statically rejected clusters and listings,
    merged closest first: one query (a UNION ALL of both, ordered and cut in SQL)."""
    ranked_clusters = clusters.order_by().annotate(resale=Value(0)).values_list(*_RANK)
    ranked_listings = listings.order_by().annotate(resale=Value(1)).values_list(*_RANK)
    merged = ranked_clusters.union(ranked_listings, all=True).order_by(*_RANK)
    return [candidate_id(pk) if resale else pk for _, _, resale, pk in merged[first:last]]


@dataclass
class Rejections:
    """Every visible cluster and resale listing not used by an offer, with its reasons, closest
    first: those that qualified but were not needed (or could not cover the demand) first, then
    those that fail a static rule, by rules failed and price. Only the rows shown are read and
    explained; the rest are counted in SQL. Supports ``len()`` and slicing, so it paginates;
    ``group`` gives the rows failing one rule, which paginates the same way."""

    spec: RequestSpec
    facts: dict[int, ClusterFacts]  # by key: the clusters and listings passing static rules
    unused: list[tuple[int, list[Reason]]]  # of those, the ones no offer uses
    static: QuerySet  # clusters failing a static rule, closest first
    static_resale: QuerySet  # listings failing a static rule, closest first
    static_count: int  # clusters and listings failing a static rule
    static_summary: dict[Reason, int]
    _names: Names | None = None

    def __len__(self) -> int:
        return len(self.unused) + self.static_count

    def count(self) -> int:
        return len(self)

    @property
    def names(self) -> Names:
        """Names for the codes in the explanations, in the active language (read once)."""
        if self._names is None:
            self._names = display_names()
        return self._names

    @property
    def counts(self) -> dict[Reason, int]:
        """How many rows each reason applies to (a row may fail several rules)."""
        counts = dict(self.static_summary)
        for _, codes in self.unused:
            for code in codes:
                counts[code] = counts.get(code, 0) + 1
        return counts

    @property
    def summary(self) -> dict[str, int]:
        return {code.value: n for code, n in self.counts.items()}

    def reasons(self) -> list[tuple[Reason, int]]:
        """The reasons that apply, each with its number of rows: most rows first."""
        order = list(Reason)
        return sorted(self.counts.items(), key=lambda item: (-item[1], order.index(item[0])))

    def group(self, code: Reason) -> "RejectionGroup":
        return RejectionGroup(self, code)

    def subject(self, key: int, facts: ClusterFacts) -> Subject:
        listing_id = listing_of_candidate(key)
        if listing_id is None:
            return Subject(cluster_id=key)
        return Subject(
            cluster_id=facts.cluster_id,
            resale_listing_id=listing_id,
            resale_until=facts.available_until,
        )

    def static_facts(self, keys: list[int]) -> dict[int, ClusterFacts]:
        """Facts of statically rejected rows, by key: a query for the clusters among them and
        one for the listings, only when there are any."""
        listing_ids = [listing_of_candidate(key) for key in keys]
        cluster_ids = [key for key, listing in zip(keys, listing_ids, strict=True) if not listing]
        by_key: dict[int, ClusterFacts] = {}
        if cluster_ids:
            facts, _ = facts_of(Cluster.objects.filter(pk__in=cluster_ids))
            by_key.update({fact.cluster_id: fact for fact in facts})
        wanted = [listing for listing in listing_ids if listing is not None]
        if wanted:
            by_key.update(
                {candidate_id(pk): row.facts for pk, row in resale_facts_of(wanted).items()}
            )
        return by_key

    def static_window(self, first: int, last: int, code: Reason | None = None) -> list[int]:
        clusters, listings = self.static, self.static_resale
        if code is not None:
            clusters = clusters.filter(static_reason_conditions(self.spec)[code])
            listings = listings.filter(resale_reason_conditions(self.spec)[code])
        return _static_window(clusters, listings, first, last)

    def __getitem__(self, window: slice) -> list[tuple[Subject, list[Rejection]]]:
        start, stop, _ = window.indices(len(self))
        rows = [
            (
                self.subject(key, self.facts[key]),
                explained(self.spec, self.facts[key], codes, self.names),
            )
            for key, codes in self.unused[start:stop]
        ]
        first = max(start - len(self.unused), 0)
        last = stop - len(self.unused)
        if last > first:
            keys = self.static_window(first, last)
            by_key = self.static_facts(keys)
            rows += [
                (
                    self.subject(key, by_key[key]),
                    explained(
                        self.spec,
                        by_key[key],
                        static_reason_codes(self.spec, by_key[key]),
                        self.names,
                    ),
                )
                for key in keys
            ]
        return rows


@dataclass
class RejectionGroup:
    """The rows one rule rejects, closest first, each with that reason explained.
    Supports ``len()`` and slicing (so it paginates); reads only the rows asked for."""

    rejections: Rejections
    code: Reason

    def __post_init__(self) -> None:
        self._unused = [key for key, codes in self.rejections.unused if self.code in codes]

    def __len__(self) -> int:
        return len(self._unused) + self.rejections.static_summary.get(self.code, 0)

    def count(self) -> int:
        return len(self)

    @property
    def title(self) -> str:
        return str(REASON_TITLES[self.code])

    def __getitem__(self, window: slice) -> list[tuple[Subject, Rejection]]:
        rejections, spec = self.rejections, self.rejections.spec
        start, stop, _ = window.indices(len(self))
        rows = [
            (
                rejections.subject(key, rejections.facts[key]),
                explained(spec, rejections.facts[key], [self.code], rejections.names)[0],
            )
            for key in self._unused[start:stop]
        ]
        first = max(start - len(self._unused), 0)
        last = stop - len(self._unused)
        if last > first:
            keys = rejections.static_window(first, last, self.code)
            by_key = rejections.static_facts(keys)
            rows += [
                (
                    rejections.subject(key, by_key[key]),
                    explained(spec, by_key[key], [self.code], rejections.names)[0],
                )
                for key in keys
            ]
        return rows


def rejections_build(
    spec: RequestSpec,
    facts: Sequence[ClusterFacts],
    resold: Sequence[ResaleCandidate],
    used: set[int],
    *,
    visible_resale: Q,
) -> Rejections:
    """The rejections of one match: ``facts`` of the clusters and ``resold`` listings that
    passed the static rules (with their free servers), ``used`` the keys the offers use, and
    ``visible_resale`` the condition for the listings the customer may see. Two aggregate
    queries; the statically rejected rows are read only when shown."""
    by_key: dict[int, ClusterFacts] = {fact.cluster_id: fact for fact in facts}
    by_key.update({candidate_id(offer.listing_id): offer.facts for offer in resold})
    any_offer = bool(used)
    unused = [
        (key, reason_codes(spec, fact, any_offer=any_offer))
        for key, fact in by_key.items()
        if key not in used
    ]
    unused.sort(key=lambda row: (len(row[1]), by_key[row[0]].price_per_p_year, row[0]))
    cluster_count, summary = static_rejection_summary(spec)
    resale_count, resale_summary = resale_rejection_summary(spec, visible=visible_resale)
    for code, count in resale_summary.items():
        summary[code] = summary.get(code, 0) + count
    return Rejections(
        spec=spec,
        facts=by_key,
        unused=unused,
        static=statically_rejected(spec),
        static_resale=resale_statically_rejected(spec, visible=visible_resale),
        static_count=cluster_count + resale_count,
        static_summary=summary,
    )
