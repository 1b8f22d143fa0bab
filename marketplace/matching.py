"""Matching engine: which clusters, and how many servers of each, cover a demand best.

Pure domain code: frozen dataclasses in and out, ``Decimal`` at the edges, exact integers inside,
no ORM and no float anywhere (P, prices and uptimes are scaled to integers exactly).

Ranking key of an offer, lexicographic and exact:

1. lowest ``annual_cost`` (tax included, unrounded);
2. least ``excess_p`` (P above ``min_p``; a ``servers`` demand gets exactly that many servers,
   so its excess is 0);
3. fewest clusters;
4. highest P-weighted mean uptime, compared as an exact fraction (``Offer.uptime`` shows it to
   six places);
5. the sorted tuple of cluster ids, then the tuple of their server counts, smaller first. This
   is a total order on allocations, so the best offer is unique and does not depend on the order
   of the candidates.

``single_cluster=True``: the best ``limit`` candidates that can cover the demand alone, each with
the fewest servers that do, ranked by the key. ``single_cluster=False``: the first offer is the
exact optimum of the integer programme below; the further offers are good, distinct alternatives
(the best single-cluster offers, and the best split offers without one of the clusters the best
one uses), ranked by the same key.

Algorithm for a split demand (``_best_split``):

1. Scale to integers. P per server becomes an integer weight in units of the gcd of all ratings
   (a unit is 0.004-0.008 P for real servers) and the demand ``target = ceil(min_p / unit)``;
   for a ``servers`` demand the state counts servers instead. The annual cost of one server
   (P x price) and the uptime become exact integers.
2. Group candidates by P per server. All servers of a group weigh the same, so the cheapest n
   servers of a group are its cheapest n: the group cost f(n) is convex piecewise linear, and
   among equally priced clusters (a price class) the fewest clusters holding the marginal servers
   is the count of largest free sizes that reach them. An optimal cover is minimal (dropping a
   server lowers cost or excess), so n <= ceil(target / weight) and the final total lies in a
   band [target, target + largest weight).
3. Lagrangian windows. The LP relaxation (fill the target by price per unit) gives a multiplier
   lambda and a lower bound LB; for any cover, cost - LB = sum over groups of delta_g(n_g) +
   lambda x excess, each delta_g >= 0 and convex. For a gap budget B, each group's n lies in an
   interval (its window) and partial covers whose deltas sum above B are pruned. A run is exact
   once its best cover has gap <= B (every cover left out is dearer), or when nothing was pruned
   and a budget of that gap would give the same windows (nothing cheaper was left out). B starts
   at 1 and grows x8 (capped at the gap found, then at the greedy cover's gap, which always
   holds a cover), so a run is cheap when the optimum is near the bound.
4. Dynamic programme over the groups (numpy, exact integers): state = units covered so far,
   value = reduced cost x M + clusters (one integer orders both). Each group is a min-plus
   convolution over its window, one vectorised add-and-min per n. After some groups only
   multiples of the gcd of their weights are reachable, so states are stored on that grid (H20
   and A800 ratings share a factor of 8 units or more: an array that many times smaller). The
   order of the groups minimises passes x states: a shortest path over subsets of groups. The
   integer type is the narrowest that holds the budget (int16 when prices are flat; int32,
   int64 or Python integers as needed).
5. The final state minimising (cost, excess, clusters) gives the optimum of keys 1-3.
6. Walk back every tight edge from that state: a DAG of all covers that tie on keys 1-3. On it,
   maximise the P-weighted uptime exactly (Dinkelbach steps on integer ratios; with a P demand
   the total P is fixed, so one step settles it). Which clusters of a marginal price class take
   the servers is solved exactly per (group, n) by ``_PriceClass.pick``.
7. Tie-break on the DAG of covers tying on keys 1-4: fix the smallest cluster id that a
   remaining cover can use next, drop edges that cannot, repeat; then the same for server counts.

Complexity, for N candidates, G groups, U target units and windows W_g <= U / weight_g + 1:
steps 1-3 take O(N log N + sum_g U / weight_g) per budget, step 4 O(sum_g W_g x U / unit_g)
vectorised cell updates (unit_g the grid before group g) plus O(2^G x G) to order the groups,
and steps 6-7 time proportional to the tie DAG, a few nodes unless prices tie across groups.
When prices differ the windows are a few servers wide and the optimum takes milliseconds; flat
prices (one price per P everywhere: every window spans every n) are the hard case. With 2,000
candidates in 6 groups and 2,000 P the best offer takes about 15-35 ms (limit=1); figures for
several sizes and price regimes come from ``benchmarks/solver.py``. ``_PriceClass.pick`` is
exponential only in contrived cases (one price class holding many clusters of many different
free sizes).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from fractions import Fraction
from itertools import accumulate, groupby
from typing import NamedTuple

import numpy as np

UPTIME_DISPLAY_PLACES = 6
# Decimal precision for the exact sums of an offer: P (14 digits) x price (20 digits) x servers.
_EXACT_PRECISION = 100
# Growth of the gap budget between Lagrangian windows that held no cover.
_BUDGET_GROWTH = 8
# Largest node x window block walked back at once in step 6 (bounds memory).
_BLOCK_CELLS = 1 << 20
# Fixed cost of one numpy pass, in array cells, for choosing the order of groups; above this
# many groups the order is not searched (2^G subsets).
_PASS_OVERHEAD = 2_000
_MAX_ORDERED_GROUPS = 8


@dataclass(frozen=True)
class Candidate:
    """A cluster that passed every eligibility check (region, GPU class, term, interconnect)."""

    cluster_id: int
    free_servers: int  # servers free for the WHOLE term, >= 0
    p_per_server: Decimal  # exact rated P per server, e.g. Decimal("4.992")
    price_per_p_year: Decimal  # CNY per P per year, tax included, e.g. Decimal("120000")
    uptime: Decimal  # measured uptime percent over 90 days, e.g. Decimal("99.95")

    def __post_init__(self) -> None:
        _require_int("free_servers", self.free_servers, minimum=0)
        _require_decimal("p_per_server", self.p_per_server, positive=True)
        _require_decimal("price_per_p_year", self.price_per_p_year)
        _require_decimal("uptime", self.uptime)


@dataclass(frozen=True)
class Demand:
    """What a customer asks for: at least ``min_p`` P, or exactly ``servers`` servers."""

    min_p: Decimal | None = None  # exactly one of min_p / servers is set
    servers: int | None = None
    single_cluster: bool = True  # True: the whole demand from ONE cluster

    def __post_init__(self) -> None:
        if (self.min_p is None) == (self.servers is None):
            raise ValueError("a demand sets exactly one of min_p or servers")
        if self.min_p is not None:
            _require_decimal("min_p", self.min_p, positive=True)
        else:
            _require_int("servers", self.servers, minimum=1)


@dataclass(frozen=True)
class Allocation:
    cluster_id: int
    servers: int
    p: Decimal  # servers x p_per_server, exact


@dataclass(frozen=True)
class Offer:
    allocations: tuple[Allocation, ...]  # sorted by cluster_id, each servers >= 1
    total_p: Decimal
    annual_cost: Decimal  # exact, unrounded: sum of servers x p_per_server x price_per_p_year
    excess_p: Decimal  # total_p - min_p; 0 for a servers demand
    cluster_count: int
    uptime: Decimal  # P-weighted mean uptime, half-up to six places (ranked exactly)


def match(
    demand: Demand,
    candidates: Sequence[Candidate],
    *,
    limit: int = 5,
    groups: Mapping[int, int] | None = None,
) -> list[Offer]:
    """Offers covering ``demand``, best first, at most ``limit``; empty when it cannot be covered.

    See the module docstring for the ranking key and the algorithm. ``groups`` maps candidate
    ids to the physical cluster they sit on (candidates not in it are their own cluster): a
    ``single_cluster`` demand may then also be served by several candidates of one cluster
    together (a provider's free servers and resale listings of the same servers' cluster).
    """
    _require_int("limit", limit, minimum=1)
    by_id: dict[int, Candidate] = {}
    for candidate in candidates:
        if candidate.cluster_id in by_id:
            raise ValueError(f"cluster {candidate.cluster_id} is a candidate twice")
        by_id[candidate.cluster_id] = candidate
    usable = [candidate for candidate in candidates if candidate.free_servers > 0]
    if not usable:
        return []
    instance = _Instance.build(demand, usable)

    ranked: dict[tuple[tuple[int, int], ...], tuple[tuple, Offer]] = {}

    def consider(allocation: dict[int, int]) -> None:
        key, offer = _offer(demand, by_id, allocation)
        ranked.setdefault(tuple(sorted(allocation.items())), (key, offer))

    for allocation in instance.single_cluster_allocations(limit):
        consider(allocation)
    if demand.single_cluster and groups:
        for allocation in instance.grouped_allocations(groups, limit):
            consider(allocation)
    if not demand.single_cluster:
        best = _best_split(instance)
        if best is None:
            return []
        consider(best)
        # Alternatives: the best cover without each of the best one's largest clusters.
        for cluster_id in sorted(best, key=lambda cid: (-best[cid], cid))[: limit - 1]:
            alternative = _best_split(instance.without(cluster_id))
            if alternative is not None:
                consider(alternative)
    ordered = sorted(ranked.values(), key=lambda pair: pair[0])
    return [offer for _, offer in ordered[:limit]]


# --- Offers and their exact key -------------------------------------------------------------


def _offer(
    demand: Demand, by_id: dict[int, Candidate], allocation: dict[int, int]
) -> tuple[tuple, Offer]:
    """The offer for ``allocation`` (cluster id -> servers) and its exact ranking key."""
    ids = tuple(sorted(allocation))
    servers = tuple(allocation[cid] for cid in ids)
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        allocations = tuple(
            Allocation(cid, count, by_id[cid].p_per_server * count)
            for cid, count in zip(ids, servers, strict=True)
        )
        total_p = sum((a.p for a in allocations), Decimal(0))
        annual_cost = sum(
            (a.p * by_id[a.cluster_id].price_per_p_year for a in allocations), Decimal(0)
        )
        weighted_uptime = sum((a.p * by_id[a.cluster_id].uptime for a in allocations), Decimal(0))
        excess_p = total_p - demand.min_p if demand.min_p is not None else Decimal(0)
    uptime = Fraction(weighted_uptime) / Fraction(total_p)
    offer = Offer(
        allocations=allocations,
        total_p=total_p,
        annual_cost=annual_cost,
        excess_p=excess_p,
        cluster_count=len(ids),
        uptime=_round_half_up(uptime, UPTIME_DISPLAY_PLACES),
    )
    return (annual_cost, excess_p, len(ids), -uptime, ids, servers), offer


def _round_half_up(value: Fraction, places: int) -> Decimal:
    """A non-negative fraction rounded half-up to ``places`` decimals."""
    return Decimal(math.floor(value * 10**places + Fraction(1, 2))).scaleb(-places)


# --- Exact integer instance -----------------------------------------------------------------


class _Item(NamedTuple):
    cluster_id: int
    free: int
    weight: int  # P per server, in P units (the gcd of all ratings)
    cost: int  # annual cost of one server, in cost units
    uptime: int  # uptime, in uptime units


@dataclass(frozen=True)
class _Instance:
    items: tuple[_Item, ...]
    target: int  # state units to reach: P units for a P demand, servers for a servers demand
    counts_p: bool  # True: the state counts P units; False: it counts servers

    @classmethod
    def build(cls, demand: Demand, usable: Sequence[Candidate]) -> _Instance:
        extra = [demand.min_p] if demand.min_p is not None else []
        raw_p = _integers([c.p_per_server for c in usable] + extra)
        p_unit = math.gcd(*raw_p[: len(usable)])
        raw_price = _integers([c.price_per_p_year for c in usable])
        raw_cost = [p * price for p, price in zip(raw_p, raw_price, strict=False)]
        cost_unit = math.gcd(*raw_cost) or 1
        uptimes = _integers([c.uptime for c in usable])
        items = tuple(
            _Item(c.cluster_id, c.free_servers, p // p_unit, cost // cost_unit, uptime)
            for c, p, cost, uptime in zip(usable, raw_p, raw_cost, uptimes, strict=False)
        )
        if demand.min_p is not None:
            return cls(items=items, target=-(-raw_p[-1] // p_unit), counts_p=True)
        assert demand.servers is not None  # nosec B101 # narrows a type; input is validated upstream
        return cls(items=items, target=demand.servers, counts_p=False)

    def without(self, cluster_id: int) -> _Instance:
        return replace(self, items=tuple(i for i in self.items if i.cluster_id != cluster_id))

    def step(self, weight: int) -> int:
        """State units one server of ``weight`` adds."""
        return weight if self.counts_p else 1

    def single_cluster_allocations(self, limit: int) -> list[dict[int, int]]:
        """The ``limit`` best clusters able to cover the demand alone, fewest servers each.

        Ranked on the integer instance by the same key: cost, excess (P, as the target is
        common), uptime, cluster id.
        """
        ranked = []
        for item in self.items:
            need = -(-self.target // item.weight) if self.counts_p else self.target
            if need <= item.free:
                excess = need * item.weight if self.counts_p else 0
                ranked.append((need * item.cost, excess, -item.uptime, item.cluster_id, need))
        return [{cid: need} for *_, cid, need in heapq.nsmallest(limit, ranked)]

    def grouped_allocations(self, groups: Mapping[int, int], limit: int) -> list[dict[int, int]]:
        """The ``limit`` best covers by several candidates of one physical cluster.

        All servers of one cluster weigh the same and share its uptime, so the best cover of a
        group takes its cheapest servers (keys 1-2), from the largest candidates first within a
        price (key 3), then smaller ids (key 5). Ranked by the same key on the integer instance.
        """
        members: dict[int, list[_Item]] = {}
        for item in self.items:
            members.setdefault(groups.get(item.cluster_id, item.cluster_id), []).append(item)
        ranked = []
        for items in members.values():
            if len(items) < 2 or len({item.weight for item in items}) > 1:
                continue
            weight = items[0].weight
            need = -(-self.target // weight) if self.counts_p else self.target
            if sum(item.free for item in items) < need:
                continue
            chosen: dict[int, int] = {}
            cost = 0
            left = need
            for item in sorted(items, key=lambda it: (it.cost, -it.free, it.cluster_id)):
                take = min(item.free, left)
                chosen[item.cluster_id] = take
                cost += take * item.cost
                left -= take
                if not left:
                    break
            if len(chosen) < 2:
                continue  # one candidate alone: already among the single-cluster offers
            excess = need * weight if self.counts_p else 0
            ranked.append((cost, excess, len(chosen), tuple(sorted(chosen)), chosen))
        return [chosen for *_, chosen in heapq.nsmallest(limit, ranked, key=lambda r: r[:4])]


def _integers(values: Sequence[Decimal]) -> list[int]:
    """The values times one common scale (a power of 2 and 5), as exact integers."""
    ratios = [value.as_integer_ratio() for value in values]
    scale = math.lcm(*{denominator for _, denominator in ratios})
    return [numerator * (scale // denominator) for numerator, denominator in ratios]


# --- One group: servers of one rating ---------------------------------------------------------


class _Group:
    """Candidates with the same P per server, cheapest servers first, up to ``cap`` servers.

    ``cost[n]`` is the least cost of n servers (convex in n) and ``clusters[n]`` the fewest
    clusters among the selections of that cost; ``pick(n)`` resolves keys 4-5 within the group.
    """

    def __init__(self, items: Sequence[_Item], *, step: int, cap: int) -> None:
        ordered = sorted(items, key=lambda it: (it.cost, it.cluster_id))
        self.weight = ordered[0].weight
        self.step = step
        self.classes: list[_PriceClass] = []  # equal cost per server, cheapest first
        self.starts: list[int] = []  # servers taken before each class
        unit_costs: list[int] = []
        clusters = [0]
        taken = used = 0
        for cost, members in groupby(ordered, key=lambda it: it.cost):
            if taken >= cap:
                break
            price_class = _PriceClass(list(members))
            take = min(price_class.reach[-1], cap - taken)
            self.classes.append(price_class)
            self.starts.append(taken)
            unit_costs.extend([cost] * take)
            # The k-th marginal server needs the fewest largest clusters that reach k.
            reach = price_class.reach
            clusters.extend(used + 1 + bisect_left(reach, k) for k in range(1, take + 1))
            taken += take
            used += len(price_class.members)
        self.cap = taken
        self.cost = [0, *accumulate(unit_costs)]
        self.clusters = clusters
        self._picks: dict[int, tuple[int, dict[int, int]]] = {}

    @property
    def cluster_ids(self) -> Iterator[int]:
        return (item.cluster_id for c in self.classes for item in c.members)

    def pick(self, n: int) -> tuple[int, dict[int, int]]:
        """Best (P-weighted uptime sum, cluster id -> servers) for n servers of least cost."""
        if n not in self._picks:
            chosen: dict[int, int] = {}
            uptime_sum = 0
            if n:
                j = bisect_right(self.starts, n - 1) - 1
                for price_class in self.classes[:j]:
                    for item in price_class.members:
                        chosen[item.cluster_id] = item.free
                        uptime_sum += item.free * item.uptime
                marginal_sum, marginal = self.classes[j].pick(n - self.starts[j])
                chosen.update(marginal)
                uptime_sum += marginal_sum
            self._picks[n] = (uptime_sum * self.weight, dict(sorted(chosen.items())))
        return self._picks[n]


class _PriceClass:
    """Clusters of one group at one price: which of them take k servers (keys 3-5)."""

    def __init__(self, members: list[_Item]) -> None:
        self.members = members
        self.frees = sorted((item.free for item in members), reverse=True)
        self.reach = list(accumulate(self.frees))  # most servers on the j largest clusters
        self._by_free: dict[int, list[_Item]] | None = None  # by free size, best uptime first
        self._fill_rank: dict[int, int] = {}  # cluster id -> order of extra servers

    def pick(self, k: int) -> tuple[int, dict[int, int]]:
        """Place k servers: fewest clusters, then best uptime, then smallest ids and counts.

        Minimise (clusters m, -sum of servers x uptime, sorted ids, server counts). m is the
        count of largest free sizes that reach k. Clusters of the same free size differ only in
        uptime and id, so an optimal choice takes the a_v best (uptime desc, id asc) clusters of
        each free size v: enumerate the count vectors (a_v) of m clusters that hold k, pruned by
        the largest capacity still reachable (only vectors near the top survive). A chosen set
        gives each cluster one server and the rest by uptime desc; among equal uptimes to larger
        ids first, which keeps the counts of smaller ids least.
        Returns (sum of servers x uptime, cluster id -> servers).
        """
        if self._by_free is None:
            self._by_free = {}
            for item in sorted(self.members, key=lambda it: (-it.uptime, it.cluster_id)):
                self._by_free.setdefault(item.free, []).append(item)
            fill_order = sorted(self.members, key=lambda it: (-it.uptime, -it.cluster_id))
            self._fill_rank = {item.cluster_id: rank for rank, item in enumerate(fill_order)}
        by_free = self._by_free
        frees = self.frees
        m = bisect_left(self.reach, k) + 1
        sizes = sorted(by_free, reverse=True)
        offsets = list(accumulate((len(by_free[v]) for v in sizes), initial=0))
        prefix = [0, *self.reach]

        best: tuple | None = None
        best_pick: tuple[int, dict[int, int]] = (0, {})
        stack: list[tuple[int, int, int, tuple[int, ...]]] = [(0, m, 0, ())]
        while stack:
            index, left, capacity, counts = stack.pop()
            if left == 0:
                chosen = [it for v, a in zip(sizes, counts, strict=False) for it in by_free[v][:a]]
                chosen.sort(key=lambda it: self._fill_rank[it.cluster_id])
                extra = k - m
                servers = {}
                uptime_sum = 0
                for it in chosen:
                    add = min(it.free - 1, extra)
                    extra -= add
                    servers[it.cluster_id] = 1 + add
                    uptime_sum += (1 + add) * it.uptime
                if best is not None and -uptime_sum > best[0]:
                    continue
                ids = tuple(sorted(servers))
                key = (-uptime_sum, ids, tuple(servers[cid] for cid in ids))
                if best is None or key < best:
                    best, best_pick = key, (uptime_sum, {cid: servers[cid] for cid in ids})
                continue
            size = sizes[index]
            for a in range(min(len(by_free[size]), left), -1, -1):
                rest = left - a
                # Fewer of this size leaves more to pick from smaller sizes: once the rest cannot
                # be picked, or cannot reach k, no smaller a can either.
                following = offsets[index + 1]
                if following + rest > len(frees):
                    break
                if capacity + a * size + prefix[following + rest] - prefix[following] < k:
                    break
                stack.append((index + 1, rest, capacity + a * size, (*counts, a)))
        return best_pick


# --- Steps 3-5: Lagrangian windows and the dynamic programme ---------------------------------


@dataclass
class _Layer:
    group: _Group
    lo: int  # window of n for this group
    hi: int
    packed: np.ndarray  # (delta x M + clusters) for n = lo..hi
    low: int  # states after this layer: low, low + unit, ..., high
    high: int
    unit: int  # gcd of the steps of the groups so far: no other state is reachable
    values: np.ndarray  # best packed value per state, INF when pruned


@dataclass
class _Run:
    layers: list[_Layer]
    state: int  # final state of the optimum
    reduced: int  # its gap over the lower bound, in denominator-scaled cost units
    modulus: int  # M: packed = reduced cost x M + clusters
    pruned: bool  # whether the budget cut off any partial cover
    root: np.ndarray = field(repr=False)


def _best_split(instance: _Instance) -> dict[int, int] | None:
    """The optimal split cover of ``instance`` (cluster id -> servers), or None."""
    target = instance.target
    by_weight: dict[int, list[_Item]] = {}
    for item in instance.items:
        by_weight.setdefault(item.weight, []).append(item)
    groups = []
    for weight in sorted(by_weight):
        step = instance.step(weight)
        groups.append(_Group(by_weight[weight], step=step, cap=-(-target // step)))
    if sum(g.cap * g.step for g in groups) < target:
        return None

    # LP relaxation over the servers each group may use, in order of price per state unit
    # (cost / step, compared exactly as cost x (lcm / step)); the same order in whole servers
    # gives the greedy cover, whose gap bounds every budget.
    common = math.lcm(*(g.step for g in groups))
    lots = sorted(
        (c.members[0].cost * (common // g.step), g.step, c.members[0].cost, take)
        for g in groups
        for c, take in zip(g.classes, _class_takes(g), strict=True)
    )
    remaining = target
    greedy_cost = 0
    multiplier = Fraction(0)
    for _, step, cost, count in lots:
        if remaining <= 0:
            break
        multiplier = Fraction(cost, step)
        servers = min(count, -(-remaining // step))
        greedy_cost += servers * cost
        remaining -= servers * step
    numer, denom = multiplier.numerator, multiplier.denominator

    # delta_g(n) = reduced cost of n servers above the group's least (convex, least is 0).
    deltas: list[_Delta] = []
    bound = numer * target
    for g in groups:
        reduced = [denom * cost - numer * g.step * n for n, cost in enumerate(g.cost)]
        least = min(reduced)
        bound += least
        deltas.append(_Delta([value - least for value in reduced], reduced.index(least)))
    greedy_gap = denom * greedy_cost - bound
    modulus = sum(g.clusters[-1] for g in groups) + 1

    budget = 1  # grown x8: narrow windows are cheap, and most optima are close to the bound
    while True:
        windows = [delta.window(budget) for delta in deltas]
        run = _run(instance, groups, deltas, windows, budget, modulus, numer)
        if run is not None:
            if run.reduced <= budget:
                return _resolve_ties(run)  # every cover left out is dearer
            wider = [delta.window(run.reduced) for delta in deltas]
            if not run.pruned and wider == windows:
                return _resolve_ties(run)  # a budget of its gap would explore the same covers
            if _passes(wider) <= 2 * _passes(windows):
                budget = run.reduced  # hardly wider: one last run at the gap found is exact
                continue
        if budget >= greedy_gap:  # the greedy cover lies inside this budget's windows
            raise RuntimeError("matching: no cover inside the greedy gap; this is a bug")
        budget = min(greedy_gap if run is None else run.reduced, budget * _BUDGET_GROWTH)


def _passes(windows: list[tuple[int, int]]) -> int:
    return sum(hi - lo + 1 for lo, hi in windows)


def _class_takes(group: _Group) -> list[int]:
    ends = [*group.starts[1:], group.cap]
    return [end - start for start, end in zip(group.starts, ends, strict=True)]


class _Delta(NamedTuple):
    values: list[int]  # delta(n), n = 0..cap: convex, 0 at ``lowest``
    lowest: int

    def window(self, budget: int) -> tuple[int, int]:
        """The interval of n with delta(n) <= budget: delta falls to ``lowest``, then rises."""
        lo = bisect_left(self.values, -budget, 0, self.lowest + 1, key=lambda v: -v)
        hi = bisect_right(self.values, budget, self.lowest) - 1
        return lo, hi


def _dtype_for(largest: int) -> type:
    for dtype in (np.int16, np.int32, np.int64):
        if largest <= np.iinfo(dtype).max:
            return dtype
    return object


def _span(
    chosen: int, sums: dict[int, tuple[int, int, int]], target: int, top: int
) -> tuple[int, int, int] | None:
    """States (low, high, unit) after the groups in bitmask ``chosen``, None when empty.

    ``sums[mask]`` = (sum of lo x step, sum of hi x step, gcd of steps) over the groups in mask.
    The rest must still be able to reach the target without passing ``top``.
    """
    done_low, done_high, unit = sums[chosen]
    rest_low, rest_high, _ = sums[max(sums) ^ chosen]
    low = max(done_low, target - rest_high, 0)
    high = min(done_high, top - rest_low)
    low = -(-low // unit) * unit
    high = high // unit * unit
    return (low, high, unit) if low <= high else None


def _order(
    groups: list[_Group], windows: list[tuple[int, int]], target: int, top: int
) -> tuple[list[int], dict[int, tuple[int, int, int]]]:
    """The order of groups that minimises the DP's work, and the subset sums behind it.

    A layer costs its window (passes) x the previous layer's states, which are multiples of the
    gcd of the steps so far: groups whose ratings share a large factor go first, and the group
    left for last only fills the band above the target. Work depends only on which groups came
    before, so a shortest path over subsets finds the best order (2^G x G for G groups).
    """
    count = len(groups)
    sums = {0: (0, 0, 0)}
    for mask in range(1, 1 << count):
        k = mask.bit_length() - 1
        low, high, unit = sums[mask ^ (1 << k)]
        lo, hi = windows[k]
        step = groups[k].step
        sums[mask] = (low + lo * step, high + hi * step, math.gcd(unit, step))
    full = (1 << count) - 1
    if count > _MAX_ORDERED_GROUPS:  # 2^G subsets too many: widest window first, the rest as is
        widest = max(range(count), key=lambda k: windows[k][1] - windows[k][0])
        return [widest, *(k for k in range(count) if k != widest)], sums
    work = {0: 0}
    came_from: dict[int, int] = {}
    for mask in range(1 << count):
        if mask not in work:
            continue
        if mask:
            span = _span(mask, sums, target, top)
            if span is None:
                continue
            states = (span[1] - span[0]) // span[2] + 1
        else:
            states = 1
        for k in range(count):
            if mask & (1 << k):
                continue
            passes = windows[k][1] - windows[k][0] + 1
            total = work[mask] + passes * (states + _PASS_OVERHEAD)
            following = mask | (1 << k)
            if total < work.get(following, total + 1):
                work[following] = total
                came_from[following] = k
    if full not in came_from:  # no order reaches the target in these windows: _run says None
        return list(range(count)), sums
    order: list[int] = []
    mask = full
    while mask:
        order.append(came_from[mask])
        mask ^= 1 << came_from[mask]
    return order[::-1], sums


def _run(
    instance: _Instance,
    groups: list[_Group],
    deltas: list[_Delta],
    windows: list[tuple[int, int]],
    budget: int,
    modulus: int,
    numer: int,
) -> _Run | None:
    """Steps 4-5 for one budget: the lexicographic best (cost, excess, clusters) inside it."""
    limit = budget * modulus + modulus - 1  # packed values above this are pruned
    # A sum of two unpruned values is at most 2 x limit; INF marks pruned states above that,
    # and INF plus a step must still fit the integer type.
    inf = 2 * limit + 1
    dtype = _dtype_for(inf + limit)
    target = instance.target
    top = target + max(g.step for g in groups) - 1  # a minimal cover ends below this + 1
    order, sums = _order(groups, windows, target, top)

    root = np.zeros(1, dtype=dtype)
    prev_low, prev_unit, prev_values = 0, 0, root
    pruned = False
    layers: list[_Layer] = []
    mask = 0
    for i in order:
        group, (lo, hi) = groups[i], windows[i]
        mask |= 1 << i
        span = _span(mask, sums, target, top)
        if span is None:
            return None
        low, high, unit = span
        packed = np.array(
            [deltas[i].values[n] * modulus + group.clusters[n] for n in range(lo, hi + 1)],
            dtype=dtype,
        )
        # State low + j x unit lives at grid[j % r, j // r], r = prev_unit / unit: a previous
        # state plus n servers moves by r cells per previous cell, so each n updates one
        # contiguous run of one row.
        r = prev_unit // unit if prev_unit else 1
        length = (high - low) // unit + 1
        grid = np.full((r, -(-length // r)), inf, dtype=dtype)
        scratch = np.empty(len(prev_values), dtype=dtype)
        for n in range(lo, hi + 1):
            b = (prev_low + n * group.step - low) // unit  # cell of the previous state 0
            first = max(0, -(b // r))
            last = min(len(prev_values) - 1, (length - 1 - b) // r)
            if first > last:
                continue
            out = scratch[: last - first + 1]
            np.add(prev_values[first : last + 1], packed[n - lo], out=out)
            column = b // r + first
            target_run = grid[b % r, column : column + len(out)]
            np.minimum(target_run, out, out=target_run)
        values = grid[0] if r == 1 else grid.T.reshape(-1)[:length]
        over = values > limit
        if not pruned:
            pruned = bool((values[over] < inf).any())
        values[over] = inf
        layers.append(_Layer(group, lo, hi, packed, low, high, unit, values))
        prev_low, prev_unit, prev_values = low, unit, values

    last_layer = layers[-1]
    best: tuple[int, int, int] | None = None
    for index in np.nonzero(last_layer.values <= limit)[0].tolist():
        value = int(last_layer.values[index])
        state = last_layer.low + index * last_layer.unit
        key = (value // modulus + numer * (state - target), state, value % modulus)
        if best is None or key < best:
            best = key
    if best is None:
        return None
    return _Run(
        layers=layers,
        state=best[1],
        reduced=best[0],
        modulus=modulus,
        pruned=pruned,
        root=root,
    )


# --- Steps 6-7: uptime and tie-break on the DAG of tied covers --------------------------------

_Edge = tuple[int, int, int]  # (state before, n servers of the layer's group, state after)


def _tight_edges(run: _Run) -> list[list[_Edge]]:
    """Every edge on a cover tying with the optimum on (cost, excess, clusters), per layer."""
    edges: list[list[_Edge]] = [[] for _ in run.layers]
    nodes = np.array([run.state], dtype=np.int64)
    for k in reversed(range(len(run.layers))):
        layer = run.layers[k]
        if k:
            before = run.layers[k - 1]
            prev_low, prev_high, prev_unit = before.low, before.high, before.unit
            prev_values = before.values
        else:
            prev_low, prev_high, prev_unit, prev_values = 0, 0, 1, run.root
        ns = np.arange(layer.lo, layer.hi + 1, dtype=np.int64)
        block = max(1, _BLOCK_CELLS // len(ns))
        found = []
        for start in range(0, len(nodes), block):
            chunk = nodes[start : start + block]
            goal = layer.values[(chunk - layer.low) // layer.unit]
            prev = chunk[:, None] - ns[None, :] * layer.group.step
            offset = prev - prev_low
            inside = (prev >= prev_low) & (prev <= prev_high) & (offset % prev_unit == 0)
            cells = np.where(inside, offset // prev_unit, 0)
            totals = prev_values[cells] + layer.packed[None, :]
            rows, cols = np.nonzero(inside & (totals == goal[:, None]))
            found.append((prev[rows, cols], ns[cols], chunk[rows]))
        before_states = np.concatenate([f[0] for f in found])
        edges[k] = list(
            zip(
                before_states.tolist(),
                np.concatenate([f[1] for f in found]).tolist(),
                np.concatenate([f[2] for f in found]).tolist(),
                strict=True,
            )
        )
        nodes = np.unique(before_states)
    return edges


def _longest(
    edges: list[list[_Edge]], weight: Callable[[int, int], int]
) -> tuple[list[dict[int, int]], list[dict[int, int]]]:
    """Best path weight into (forward) and out of (backward) every node, per layer boundary."""
    forward: list[dict[int, int]] = [{0: 0}]
    for k, layer_edges in enumerate(edges):
        into: dict[int, int] = {}
        for before, n, after in layer_edges:
            if before in forward[k]:
                value = forward[k][before] + weight(k, n)
                if after not in into or value > into[after]:
                    into[after] = value
        forward.append(into)
    backward: list[dict[int, int]] = [{} for _ in range(len(edges) + 1)]
    backward[-1] = dict.fromkeys(forward[-1], 0)
    for k in reversed(range(len(edges))):
        out = backward[k]
        for before, n, after in edges[k]:
            if after in backward[k + 1]:
                value = backward[k + 1][after] + weight(k, n)
                if before not in out or value > out[before]:
                    out[before] = value
    return forward, backward


def _on_best_paths(
    edges: list[list[_Edge]], weight: Callable[[int, int], int]
) -> list[list[_Edge]]:
    forward, backward = _longest(edges, weight)
    best = backward[0][0]
    return [
        [
            (before, n, after)
            for before, n, after in layer_edges
            if before in forward[k]
            and after in backward[k + 1]
            and forward[k][before] + weight(k, n) + backward[k + 1][after] == best
        ]
        for k, layer_edges in enumerate(edges)
    ]


def _prune(edges: list[list[_Edge]], final: int) -> list[list[_Edge]]:
    """Keep the edges on some complete path from the source (state 0) to ``final``."""
    reach = {0}
    kept = []
    for layer_edges in edges:
        alive = [e for e in layer_edges if e[0] in reach]
        reach = {e[2] for e in alive}
        kept.append(alive)
    reach = {final}
    for k in reversed(range(len(kept))):
        kept[k] = [e for e in kept[k] if e[2] in reach]
        reach = {e[0] for e in kept[k]}
    return kept


def _resolve_ties(run: _Run) -> dict[int, int]:
    """Keys 4 and 5 among the covers tying on keys 1-3 (steps 6-7)."""
    layers = run.layers
    edges = _tight_edges(run)

    def uptime_sum(k: int, n: int) -> int:
        return layers[k].group.pick(n)[0]

    def p_units(k: int, n: int) -> int:
        return n * layers[k].group.weight

    # Dinkelbach: theta = a / b, the best ratio so far; stop when no cover beats it.
    a, b = 0, 1
    while True:

        def excess_weight(k: int, n: int, a: int = a, b: int = b) -> int:
            return b * uptime_sum(k, n) - a * p_units(k, n)

        _, backward = _longest(edges, excess_weight)
        if backward[0][0] <= 0:
            break
        path = _some_path(_on_best_paths(edges, excess_weight), run.state)
        total_uptime = sum(uptime_sum(k, n) for k, (_, n, _) in enumerate(path))
        total_p = sum(p_units(k, n) for k, (_, n, _) in enumerate(path))
        ratio = Fraction(total_uptime, total_p)
        a, b = ratio.numerator, ratio.denominator
    edges = _prune(_on_best_paths(edges, excess_weight), run.state)

    level_of = {cid: k for k, layer in enumerate(layers) for cid in layer.group.cluster_ids}

    def chosen(k: int, n: int) -> dict[int, int]:
        return layers[k].group.pick(n)[1]

    fixed: list[int] = []
    while True:
        last = fixed[-1] if fixed else None
        following = None
        for k, layer_edges in enumerate(edges):
            for _, n, _ in layer_edges:
                ids = list(chosen(k, n))
                i = bisect_right(ids, last) if last is not None else 0
                if i < len(ids) and (following is None or ids[i] < following):
                    following = ids[i]
        if following is None:
            break
        k = level_of[following]
        edges[k] = [e for e in edges[k] if following in chosen(k, e[1])]
        edges = _prune(edges, run.state)
        fixed.append(following)
    for cid in fixed:
        k = level_of[cid]
        least = min(chosen(k, e[1])[cid] for e in edges[k])
        edges[k] = [e for e in edges[k] if chosen(k, e[1])[cid] == least]
        edges = _prune(edges, run.state)

    allocation: dict[int, int] = {}
    for k, (_, n, _) in enumerate(_some_path(edges, run.state)):
        allocation.update(chosen(k, n))
    return allocation


def _some_path(edges: list[list[_Edge]], final: int) -> list[_Edge]:
    path: list[_Edge] = []
    state = final
    for k in reversed(range(len(edges))):
        edge = next(e for e in edges[k] if e[2] == state)
        path.append(edge)
        state = edge[0]
    return path[::-1]


# --- Validation -------------------------------------------------------------------------------


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


def _require_decimal(name: str, value: object, *, positive: bool = False) -> None:
    # Hot path (every candidate of every quote run): one type check, one comparison.
    if type(value) is not Decimal and not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or (value <= 0 if positive else value < 0):
        if not value.is_finite():
            raise ValueError(f"{name} must be finite, got {value}")
        if positive:
            raise ValueError(f"{name} must be positive, got {value}")
        raise ValueError(f"{name} must not be negative, got {value}")
