"""Pure capacity arithmetic over half-open date windows ``[start, end)``.

A cluster's free servers at a moment is ``server_count`` minus the servers in use at that moment;
over a window it is the *minimum* of that, i.e. ``server_count`` minus the **peak** usage in the
window (not the sum of overlapping rows: 3 servers booked January-March and 3 booked April-June
never run at the same time). Outside the cluster's availability window nothing is free.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Usage:
    start: date
    end: date  # exclusive
    servers: int


@dataclass(frozen=True)
class FreeSpan:
    start: date
    end: date  # exclusive
    free_servers: int


def _usage_steps(usages: Iterable[Usage], start: date, end: date) -> list[tuple[date, int]]:
    """Change points of usage within ``[start, end)``: [(moment, servers in use from then)]."""
    deltas: dict[date, int] = {}
    for usage in usages:
        if usage.end <= start or usage.start >= end:
            continue
        first = max(usage.start, start)
        deltas[first] = deltas.get(first, 0) + usage.servers
        if usage.end < end:
            deltas[usage.end] = deltas.get(usage.end, 0) - usage.servers
    deltas.setdefault(start, 0)
    steps, in_use = [], 0
    for moment in sorted(deltas):
        in_use += deltas[moment]
        steps.append((moment, in_use))
    return steps


def usage_steps(usages: Iterable[Usage]) -> list[Usage]:
    """The usage step function: contiguous spans of constant servers in use, zeros left out."""
    deltas: dict[date, int] = {}
    for usage in usages:
        deltas[usage.start] = deltas.get(usage.start, 0) + usage.servers
        deltas[usage.end] = deltas.get(usage.end, 0) - usage.servers
    steps: list[Usage] = []
    moments = sorted(deltas)
    in_use = 0
    for index, moment in enumerate(moments[:-1]):
        in_use += deltas[moment]
        following = moments[index + 1]
        if in_use <= 0:
            continue
        if steps and steps[-1].end == moment and steps[-1].servers == in_use:
            steps[-1] = Usage(steps[-1].start, following, in_use)
        else:
            steps.append(Usage(moment, following, in_use))
    return steps


def peak_usage(usages: Iterable[Usage], *, start: date, end: date) -> int:
    """Most servers in use at any single moment of ``[start, end)``."""
    return max(in_use for _, in_use in _usage_steps(usages, start, end))


def free_timeline(
    *,
    server_count: int,
    usages: Iterable[Usage],
    start: date,
    end: date,
    available_from: date,
    available_until: date | None,
) -> list[FreeSpan]:
    """Free servers over ``[start, end)`` as contiguous spans of constant value, merged."""
    if end <= start:
        return []
    steps = _usage_steps(usages, start, end)
    boundaries = {moment for moment, _ in steps}
    for edge in (available_from, available_until):
        if edge is not None and start < edge < end:
            boundaries.add(edge)
    points = sorted(boundaries)
    spans: list[FreeSpan] = []
    step_index, in_use = 0, 0
    for index, moment in enumerate(points):
        while step_index < len(steps) and steps[step_index][0] <= moment:
            in_use = steps[step_index][1]
            step_index += 1
        span_end = points[index + 1] if index + 1 < len(points) else end
        available = moment >= available_from and (
            available_until is None or moment < available_until
        )
        free = max(server_count - in_use, 0) if available else 0
        if spans and spans[-1].free_servers == free:
            spans[-1] = FreeSpan(spans[-1].start, span_end, free)
        else:
            spans.append(FreeSpan(moment, span_end, free))
    return spans


def min_free(spans: Iterable[FreeSpan]) -> int:
    return min((span.free_servers for span in spans), default=0)
