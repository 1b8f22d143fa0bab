"""Server-side SVG charts: geometry from plain numbers, drawn by ``templates/charts/*.html``.

The charts show without JavaScript, scale to their container (a ``viewBox``, CSS width 100%),
carry no ``style=`` attribute (colours are classes in ``static/css/site.css``) and are
accessible: the ``<svg>`` is ``role="img"`` named by its ``<title>`` and ``<desc>``, and every
chart comes with a text table of the same figures (shown, or visually hidden for screen
readers). Pure Python: no ORM, no request; numbers are ``int`` or ``Decimal`` (never float), and
every label is text the caller has already translated and formatted.

API, three builders (everything after the data is keyword-only)::

    bar_chart(categories, series, *, key, title, description="", stacked=False,
              max_value=None, value_label=str, category_heading=None,
              empty_text=None) -> BarChart
    step_chart(spans, *, key, title, start, end, series_name, description="", max_value=None,
               value_label=str, date_label=date.isoformat, tick_label=None,
               table_columns=None, from_heading=None, to_heading=None,
               empty_text=None) -> StepChart
    line_chart(points, *, key, title, series_name, description="", value_label=str,
               date_label=date.isoformat, tick_label=None, date_heading=None,
               empty_text=None) -> LineChart

- ``bar_chart``: ``categories`` are the bars' labels (e.g. month names); ``series`` one or more
  ``Series(name, values)`` with one value (or ``None``: no figure) per category. Several series
  stand side by side, or on top of each other with ``stacked=True`` ("booked" and "free";
  stacked values are non-negative). ``max_value`` keeps the scale up to at least that value
  (a cluster's size, 100 for percentages).
- ``step_chart``: ``spans`` are ``(start, end, value)`` with ``end`` exclusive, a value that holds
  over each span (free servers over time: the availability calendar), drawn over
  ``[start, end)``. The table reads each span's last day inclusively. ``table_columns`` replaces
  the value column with several: ``[(heading, value -> text), ...]``.
- ``line_chart``: ``points`` are ``(date, value)`` (a price over dates); ``None`` values are gaps.
- ``key`` makes the element ids unique on a page; ``value_label`` formats a value for the axis and
  the table (``accounts.formatting.format_p``, ``format_rate``...); ``date_label`` formats dates
  in the table and ``tick_label`` the month ticks of the date axis (e.g.
  ``lambda d: date_format(d, "M")``; the year is added under the first tick and each January).
- Table headings default to translated "Category", "From", "To" and "Date".
- With nothing to draw, ``chart.empty`` is true and the template shows ``empty_text`` (default:
  "No data", translated).

Render with ``{% include chart.template with chart=chart %}``; add ``show_table=True`` to show
the text table under the chart instead of hiding it visually.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.utils.translation import gettext

Number = int | Decimal

# The drawing area in viewBox units; the SVG scales to its container's width.
WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 84
MARGIN_RIGHT = 36
MARGIN_TOP = 14
MARGIN_BOTTOM = 48
PLOT_LEFT = Decimal(MARGIN_LEFT)
PLOT_RIGHT = Decimal(WIDTH - MARGIN_RIGHT)
PLOT_TOP = Decimal(MARGIN_TOP)
PLOT_BOTTOM = Decimal(HEIGHT - MARGIN_BOTTOM)
PLOT_WIDTH = PLOT_RIGHT - PLOT_LEFT
PLOT_HEIGHT = PLOT_BOTTOM - PLOT_TOP
# Share of each category's band the bars fill; at most this many labels on an axis.
BAR_FILL = Decimal("0.72")
MAX_AXIS_LABELS = 12
MAX_MARKERS = 60  # points drawn as dots on a line chart (beyond this only the line)
SERIES_CLASSES = 4  # series-0 ... series-3 in site.css; more series reuse the colours
COORDINATE = Decimal("0.1")


def plain(value: Decimal) -> Decimal:
    """No exponent, no trailing zeros: ``1.18E+5`` -> ``118000``, ``2.50`` -> ``2.5``."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _coordinate(value: Decimal) -> str:
    """A coordinate as SVG text: one decimal place, no exponent (``12.5``, ``0.0``)."""
    return f"{value.quantize(COORDINATE, rounding=ROUND_HALF_UP):f}"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number | None]


@dataclass(frozen=True)
class Tick:
    """An axis mark at ``position`` (y for the value axis, x for the category/date axis)."""

    position: str
    label: str
    sublabel: str = ""


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    css: str
    title: str  # "series: value", shown as a tooltip


@dataclass(frozen=True)
class Marker:
    x: str
    y: str
    title: str


@dataclass(frozen=True)
class LegendItem:
    name: str
    css: str


@dataclass
class Chart:
    key: str
    title: str
    description: str
    empty_text: str
    template: str = ""
    empty: bool = False
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: str = _coordinate(PLOT_LEFT)
    plot_right: str = _coordinate(PLOT_RIGHT)
    plot_top: str = _coordinate(PLOT_TOP)
    plot_bottom: str = _coordinate(PLOT_BOTTOM)
    plot_width: str = _coordinate(PLOT_WIDTH)
    plot_height: str = _coordinate(PLOT_HEIGHT)
    label_x: str = _coordinate(PLOT_LEFT - 6)  # right edge of the value labels
    tick_label_y: str = _coordinate(PLOT_BOTTOM + 19)
    tick_sublabel_y: str = _coordinate(PLOT_BOTTOM + 41)
    center_x: str = _coordinate(Decimal(WIDTH) / 2)
    center_y: str = _coordinate(Decimal(HEIGHT) / 2)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    label_columns: int = 1  # leading table columns that name a row (the rest are figures)

    @property
    def title_id(self) -> str:
        return f"chart-{self.key}-title"

    @property
    def desc_id(self) -> str:
        return f"chart-{self.key}-desc"


@dataclass
class BarChart(Chart):
    template: str = "charts/bar.html"
    bars: list[Bar] = field(default_factory=list)


@dataclass
class StepChart(Chart):
    template: str = "charts/step.html"
    line: str = ""  # SVG path of the step function
    area: str = ""  # the same, closed down to the baseline


@dataclass
class LineChart(Chart):
    template: str = "charts/line.html"
    segments: list[str] = field(default_factory=list)  # polyline points, one per unbroken run
    markers: list[Marker] = field(default_factory=list)


# --- Scales ---------------------------------------------------------------------------------
def nice_step(span: Decimal, parts: int = 4) -> Decimal:
    """A round step (1, 2 or 5 times a power of ten) cutting ``span`` into about ``parts``."""
    if span <= 0:
        return Decimal(1)
    raw = span / parts
    magnitude = Decimal(1).scaleb(raw.adjusted())
    for factor in (1, 2, 5, 10):
        step = magnitude * factor
        if step >= raw:
            return plain(step)
    return plain(magnitude * 10)  # pragma: no cover - the loop always returns


def nice_range(low: Decimal, high: Decimal, *, from_zero: bool) -> tuple[Decimal, Decimal, Decimal]:
    """``(bottom, top, step)``: round bounds that hold ``[low, high]``, and the tick step."""
    if from_zero:
        low = min(low, Decimal(0))
    if high == low:  # a flat line still gets an axis around it
        pad = abs(high) / 10 if high else Decimal(1)
        low, high = (low if from_zero else low - pad), high + pad
    step = nice_step(high - low)
    bottom = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
    top = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    if top == bottom:
        top = bottom + step
    return bottom, top, step


def _value_ticks(bottom: Decimal, top: Decimal, step: Decimal, label) -> list[Tick]:
    ticks, value = [], bottom
    while value <= top:
        ticks.append(Tick(position=_coordinate(_y(value, bottom, top)), label=label(plain(value))))
        value += step
    return ticks


def _y(value: Decimal, bottom: Decimal, top: Decimal) -> Decimal:
    return PLOT_BOTTOM - (Decimal(value) - bottom) / (top - bottom) * PLOT_HEIGHT


def _x_of_date(moment: date, start: date, end: date) -> Decimal:
    days = Decimal((end - start).days) or Decimal(1)
    return PLOT_LEFT + Decimal((moment - start).days) / days * PLOT_WIDTH


def _month_starts(start: date, end: date) -> list[date]:
    """The first days of months in ``[start, end]`` (the start itself when it is one)."""
    months, moment = [], date(start.year, start.month, 1)
    while moment <= end:
        if moment >= start:
            months.append(moment)
        moment = date(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
    return months


def _date_ticks(
    start: date, end: date, tick_label: Callable[[date], str] | None, *, x_of
) -> list[Tick]:
    label = tick_label or (lambda moment: moment.strftime("%m"))
    months = _month_starts(start, end)
    every = max(1, -(-len(months) // MAX_AXIS_LABELS))  # ceiling division
    ticks = []
    for index, moment in enumerate(months[::every]):
        year = str(moment.year) if index == 0 or moment.month <= every else ""
        ticks.append(Tick(position=_coordinate(x_of(moment)), label=label(moment), sublabel=year))
    return ticks


def _present(values) -> list[Decimal]:
    return [Decimal(value) for value in values if value is not None]


def _empty_text(text: str | None) -> str:
    return text if text is not None else gettext("No data")


# --- Bar chart ------------------------------------------------------------------------------
def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    key: str,
    title: str,
    description: str = "",
    stacked: bool = False,
    max_value: Number | None = None,
    value_label: Callable[[Number], str] = str,
    category_heading: str | None = None,
    empty_text: str | None = None,
) -> BarChart:
    """Bars per category: one per series side by side, or the series stacked per category."""
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(
                f"Series {one.name!r} has {len(one.values)} values for "
                f"{len(categories)} categories."
            )
    chart = BarChart(
        key=key, title=title, description=description, empty_text=_empty_text(empty_text)
    )
    chart.legend = [
        LegendItem(one.name, f"series-{i % SERIES_CLASSES}") for i, one in enumerate(series)
    ]
    chart.table_head = [
        category_heading if category_heading is not None else gettext("Category"),
        *(one.name for one in series),
    ]
    chart.table_rows = [
        [category, *("" if one.values[i] is None else value_label(one.values[i]) for one in series)]
        for i, category in enumerate(categories)
    ]
    values = [value for one in series for value in _present(one.values)]
    if not categories or not values:
        chart.empty = True
        return chart
    if stacked:
        totals = [
            sum(_present(one.values[i] for one in series), Decimal(0))
            for i in range(len(categories))
        ]
        high = max(totals)
    else:
        high = max(values)
    if max_value is not None:
        high = max(high, Decimal(max_value))
    low = min(min(values), Decimal(0))
    bottom, top, step = nice_range(low, high, from_zero=True)
    chart.y_ticks = _value_ticks(bottom, top, step, value_label)
    band = PLOT_WIDTH / len(categories)
    group = band * BAR_FILL
    lanes = 1 if stacked else len(series)
    bar_width = group / lanes
    zero = _y(Decimal(0), bottom, top)
    every = max(1, -(-len(categories) // MAX_AXIS_LABELS))
    for index, category in enumerate(categories):
        left = PLOT_LEFT + band * index + (band - group) / 2
        if index % every == 0:
            chart.x_ticks.append(
                Tick(position=_coordinate(PLOT_LEFT + band * index + band / 2), label=category)
            )
        base = Decimal(0)
        for lane, one in enumerate(series):
            value = one.values[index]
            if value is None:
                continue
            value = Decimal(value)
            css = f"bar series-{lane % SERIES_CLASSES}"
            if stacked:
                y_low, y_high = _y(base, bottom, top), _y(base + value, bottom, top)
                base += value
                x = left
            else:
                y_low, y_high = zero, _y(value, bottom, top)
                x = left + bar_width * lane
            chart.bars.append(
                Bar(
                    x=_coordinate(x),
                    y=_coordinate(min(y_low, y_high)),
                    width=_coordinate(bar_width),
                    height=_coordinate(abs(y_low - y_high)),
                    css=css,
                    title=f"{category} · {one.name}: {value_label(value)}",
                )
            )
    return chart


# --- Step chart -----------------------------------------------------------------------------
def step_chart(
    spans: Sequence[tuple[date, date, Number]],
    *,
    key: str,
    title: str,
    start: date,
    end: date,
    series_name: str,
    description: str = "",
    max_value: Number | None = None,
    value_label: Callable[[Number], str] = str,
    date_label: Callable[[date], str] = date.isoformat,
    tick_label: Callable[[date], str] | None = None,
    table_columns: Sequence[tuple[str, Callable[[Number], str]]] | None = None,
    from_heading: str | None = None,
    to_heading: str | None = None,
    empty_text: str | None = None,
) -> StepChart:
    """A value held over spans of time, drawn as steps over ``[start, end)``."""
    chart = StepChart(
        key=key,
        title=title,
        description=description,
        empty_text=_empty_text(empty_text),
        label_columns=2,
    )
    columns = list(table_columns or [(series_name, value_label)])
    chart.table_head = [
        from_heading if from_heading is not None else gettext("From"),
        to_heading if to_heading is not None else gettext("To"),
        *(heading for heading, _ in columns),
    ]
    inside = [
        (max(span_start, start), min(span_end, end), Decimal(value))
        for span_start, span_end, value in sorted(spans, key=lambda span: span[0])
        if span_end > start and span_start < end and span_end > span_start
    ]
    chart.table_rows = [
        [
            date_label(first),
            date_label(last - timedelta(days=1)),
            *(fmt(value) for _, fmt in columns),
        ]
        for first, last, value in inside
    ]
    if end <= start or not inside:
        chart.empty = True
        return chart
    high = max(value for _, _, value in inside)
    if max_value is not None:
        high = max(high, Decimal(max_value))
    low = min(min(value for _, _, value in inside), Decimal(0))
    bottom, top, step = nice_range(low, high, from_zero=True)
    chart.y_ticks = _value_ticks(bottom, top, step, value_label)

    def x_of(moment: date) -> Decimal:
        return _x_of_date(moment, start, end)

    chart.x_ticks = _date_ticks(start, end, tick_label, x_of=x_of)
    commands: list[str] = []
    baseline = _coordinate(_y(bottom, bottom, top))
    for index, (first, last, value) in enumerate(inside):
        x0, x1, y = (
            _coordinate(x_of(first)),
            _coordinate(x_of(last)),
            _coordinate(_y(value, bottom, top)),
        )
        joined = index > 0 and inside[index - 1][1] == first
        commands.append(f"{'L' if joined else 'M'}{x0},{y} L{x1},{y}")
    chart.line = " ".join(commands)
    area: list[str] = []
    for index, (first, last, value) in enumerate(inside):
        x0, x1, y = (
            _coordinate(x_of(first)),
            _coordinate(x_of(last)),
            _coordinate(_y(value, bottom, top)),
        )
        joined = index > 0 and inside[index - 1][1] == first
        if not joined:
            if area:
                area.append("Z")
            area.append(f"M{x0},{baseline}")
        area.append(f"L{x0},{y} L{x1},{y}")
        following = inside[index + 1] if index + 1 < len(inside) else None
        if following is None or following[0] != last:
            area.append(f"L{x1},{baseline}")
    area.append("Z")
    chart.area = " ".join(area)
    return chart


# --- Line chart -----------------------------------------------------------------------------
def line_chart(
    points: Sequence[tuple[date, Number | None]],
    *,
    key: str,
    title: str,
    series_name: str,
    description: str = "",
    value_label: Callable[[Number], str] = str,
    date_label: Callable[[date], str] = date.isoformat,
    tick_label: Callable[[date], str] | None = None,
    date_heading: str | None = None,
    empty_text: str | None = None,
    axis_label: Callable[[Number], str] | None = None,
) -> LineChart:
    """Values over dates, joined by a line (gaps where a value is ``None``), on a round scale
    that fits them (not forced to zero, so a price's movements show). ``axis_label`` writes the
    value axis (default ``value_label``), e.g. shorter for large amounts."""
    chart = LineChart(
        key=key, title=title, description=description, empty_text=_empty_text(empty_text)
    )
    ordered = sorted(points, key=lambda point: point[0])
    chart.table_head = [date_heading if date_heading is not None else gettext("Date"), series_name]
    chart.table_rows = [
        [date_label(moment), "" if value is None else value_label(value)]
        for moment, value in ordered
    ]
    values = _present(value for _, value in ordered)
    if not values:
        chart.empty = True
        return chart
    bottom, top, step = nice_range(min(values), max(values), from_zero=False)
    chart.y_ticks = _value_ticks(bottom, top, step, axis_label or value_label)
    first, last = ordered[0][0], ordered[-1][0]
    single = first == last

    def x_of(moment: date) -> Decimal:
        if single:
            return PLOT_LEFT + PLOT_WIDTH / 2
        return _x_of_date(moment, first, last)

    chart.x_ticks = (
        [Tick(_coordinate(x_of(first)), (tick_label or date.isoformat)(first), str(first.year))]
        if single
        else _date_ticks(first, last, tick_label, x_of=x_of)
    )
    run: list[str] = []
    for moment, value in ordered:
        if value is None:
            if run:
                chart.segments.append(" ".join(run))
            run = []
            continue
        x, y = _coordinate(x_of(moment)), _coordinate(_y(Decimal(value), bottom, top))
        run.append(f"{x},{y}")
        if len(values) <= MAX_MARKERS:
            chart.markers.append(
                Marker(x=x, y=y, title=f"{date_label(moment)}: {value_label(value)}")
            )
    if run:
        chart.segments.append(" ".join(run))
    return chart
