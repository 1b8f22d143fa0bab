"""The SVG charts: their bars, steps and points match the numbers; empty data says so."""

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from accounts import charts
from accounts.charts import PLOT_BOTTOM, PLOT_HEIGHT, PLOT_LEFT, PLOT_WIDTH, Series

SVG = "{http://www.w3.org/2000/svg}"


def render(chart, **context) -> str:
    return render_to_string(chart.template, {"chart": chart, **context})


def svg_of(html: str) -> ET.Element:
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ET.fromstring(html[start:end])


def height_of(value, top) -> Decimal:
    return Decimal(value) / Decimal(top) * PLOT_HEIGHT


def close(a, b, tolerance="0.1") -> bool:
    return abs(Decimal(a) - Decimal(b)) <= Decimal(tolerance)


# --- bar chart ------------------------------------------------------------------------------
def test_bar_heights_are_proportional_to_the_values():
    chart = charts.bar_chart(
        ["Jan", "Feb", "Mar"],
        [Series("Booked P", [Decimal("4.992"), Decimal("9.984"), 0])],
        key="t",
        title="Booked",
    )
    top = Decimal(chart.y_ticks[-1].label)
    assert top == 10  # round scale above the highest value
    heights = [Decimal(bar.height) for bar in chart.bars]
    assert close(heights[0], height_of("4.992", top))
    assert close(heights[1], height_of("9.984", top))
    assert heights[2] == 0
    for bar in chart.bars:  # every bar stands on the baseline
        assert close(Decimal(bar.y) + Decimal(bar.height), PLOT_BOTTOM)


def test_rendered_svg_has_one_rect_per_value_with_the_same_geometry():
    chart = charts.bar_chart(
        ["Jan", "Feb"], [Series("Free", [3, 1]), Series("Booked", [1, None])], key="x", title="T"
    )
    svg = svg_of(render(chart))
    rects = svg.findall(f".//{SVG}g[@class='bars']/{SVG}rect")
    assert len(rects) == 3  # the missing value draws nothing
    assert [(r.get("x"), r.get("height")) for r in rects] == [
        (bar.x, bar.height) for bar in chart.bars
    ]
    titles = [r.find(f"{SVG}title").text for r in rects]
    assert titles == ["Jan · Free: 3", "Jan · Booked: 1", "Feb · Free: 1"]


def test_two_series_stand_side_by_side_without_overlap():
    chart = charts.bar_chart(
        ["A", "B"], [Series("one", [2, 4]), Series("two", [4, 2])], key="s", title="T"
    )
    first, second = chart.bars[0], chart.bars[1]
    assert first.width == second.width
    assert close(Decimal(first.x) + Decimal(first.width), second.x)
    assert chart.bars[0].css.endswith("series-0") and chart.bars[1].css.endswith("series-1")


def test_stacked_bars_sit_on_each_other_and_total_the_sum():
    chart = charts.bar_chart(
        ["Jan"],
        [Series("Booked", [3]), Series("Free", [5])],
        key="st",
        title="T",
        stacked=True,
    )
    booked, free = chart.bars
    assert booked.x == free.x and booked.width == free.width
    assert close(Decimal(free.y) + Decimal(free.height), booked.y)  # free on top of booked
    top = Decimal(chart.y_ticks[-1].label)
    assert close(Decimal(booked.height) + Decimal(free.height), height_of(8, top), "0.2")


def test_max_value_fixes_the_scale():
    chart = charts.bar_chart(["Jan"], [Series("%", [40])], key="m", title="T", max_value=100)
    assert chart.y_ticks[-1].label == "100"
    assert close(chart.bars[0].height, height_of(40, 100))


def test_values_are_formatted_by_the_caller_in_ticks_and_table():
    chart = charts.bar_chart(
        ["Jan"],
        [Series("P", [Decimal("4.992")])],
        key="f",
        title="T",
        value_label=lambda v: f"{Decimal(v):.3f} P",
        category_heading="Month",
    )
    assert chart.table_head == ["Month", "P"]
    assert chart.table_rows == [["Jan", "4.992 P"]]
    assert chart.y_ticks[0].label == "0.000 P"


def test_series_must_have_a_value_per_category():
    with pytest.raises(ValueError, match="2 values for 3 categories"):
        charts.bar_chart(["a", "b", "c"], [Series("x", [1, 2])], key="k", title="T")


@pytest.mark.parametrize(
    ("categories", "series"),
    [([], []), (["Jan", "Feb"], [Series("x", [None, None])]), (["Jan"], [])],
)
def test_bar_chart_without_figures_shows_no_data(categories, series):
    chart = charts.bar_chart(categories, series, key="e", title="Nothing")
    assert chart.empty
    html = render(chart)
    svg = svg_of(html)
    assert svg.findall(f".//{SVG}rect[@class='bar series-0']") == []
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["No data"]


def test_no_data_text_is_translated():
    with translation.override("zh-hans"):
        chart = charts.bar_chart([], [], key="e", title="无")
    assert chart.empty_text != "No data"


# --- step chart -----------------------------------------------------------------------------
SPANS = [
    (date(2027, 1, 1), date(2027, 3, 1), 4),
    (date(2027, 3, 1), date(2027, 7, 1), 1),
    (date(2027, 7, 1), date(2028, 1, 1), 4),
]


def x_of(moment: date, start=date(2027, 1, 1), end=date(2028, 1, 1)) -> Decimal:
    return PLOT_LEFT + Decimal((moment - start).days) / Decimal((end - start).days) * PLOT_WIDTH


def y_of(value, top) -> Decimal:
    return PLOT_BOTTOM - height_of(value, top)


def path_points(d: str) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(x), Decimal(y))
        for x, y in (part.lstrip("ML").split(",") for part in d.split() if part not in {"Z"})
    ]


def test_step_line_follows_the_spans():
    chart = charts.step_chart(
        SPANS,
        key="a",
        title="Free servers",
        start=date(2027, 1, 1),
        end=date(2028, 1, 1),
        series_name="Free servers",
        max_value=4,
    )
    top = Decimal(chart.y_ticks[-1].label)
    assert top == 4
    points = path_points(chart.line)
    expected = []
    for start, end, value in SPANS:
        expected += [(x_of(start), y_of(value, top)), (x_of(end), y_of(value, top))]
    assert len(points) == len(expected)
    for (x, y), (ex, ey) in zip(points, expected, strict=True):
        assert close(x, ex) and close(y, ey)


def test_step_chart_clips_spans_to_the_window_and_reads_ends_inclusively():
    chart = charts.step_chart(
        [(date(2026, 6, 1), date(2027, 2, 1), 2), (date(2027, 2, 1), date(2030, 1, 1), 5)],
        key="c",
        title="T",
        start=date(2027, 1, 1),
        end=date(2028, 1, 1),
        series_name="Free servers",
    )
    assert chart.table_rows == [
        ["2027-01-01", "2027-01-31", "2"],
        ["2027-02-01", "2027-12-31", "5"],
    ]
    xs = [x for x, _ in path_points(chart.line)]
    assert close(min(xs), PLOT_LEFT) and close(max(xs), PLOT_LEFT + PLOT_WIDTH)


def test_step_chart_table_columns_and_headings():
    chart = charts.step_chart(
        SPANS[:1],
        key="c",
        title="T",
        start=date(2027, 1, 1),
        end=date(2027, 3, 1),
        series_name="Free servers",
        table_columns=[("Free servers", str), ("Free P", lambda n: f"{n * Decimal('4.992')}")],
        from_heading="Since",
        to_heading="Until",
        date_label=lambda d: d.strftime("%d/%m/%Y"),
    )
    assert chart.table_head == ["Since", "Until", "Free servers", "Free P"]
    assert chart.table_rows == [["01/01/2027", "28/02/2027", "4", "19.968"]]


def test_step_chart_ticks_mark_months_and_years():
    chart = charts.step_chart(
        SPANS,
        key="t",
        title="T",
        start=date(2027, 1, 1),
        end=date(2028, 1, 1),
        series_name="x",
        tick_label=lambda d: d.strftime("%b"),
    )
    labels = [(tick.label, tick.sublabel) for tick in chart.x_ticks]
    assert labels[0] == ("Jan", "2027")
    assert ("Jan", "2028") in labels
    assert len(labels) <= charts.MAX_AXIS_LABELS + 1


def test_gaps_in_step_spans_close_the_area_down_to_the_baseline():
    chart = charts.step_chart(
        [(date(2027, 1, 1), date(2027, 2, 1), 3), (date(2027, 3, 1), date(2027, 4, 1), 3)],
        key="g",
        title="T",
        start=date(2027, 1, 1),
        end=date(2027, 4, 1),
        series_name="x",
    )
    assert chart.line.count("M") == 2  # two separate runs
    assert chart.area.count("Z") == 2


def test_step_chart_without_spans_shows_no_data():
    chart = charts.step_chart(
        [], key="n", title="T", start=date(2027, 1, 1), end=date(2028, 1, 1), series_name="x"
    )
    assert chart.empty
    svg = svg_of(render(chart))
    assert svg.find(f".//{SVG}path") is None
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["No data"]


# --- line chart -----------------------------------------------------------------------------
def test_line_points_match_dates_and_values():
    points = [
        (date(2027, 1, 1), Decimal("120000")),
        (date(2027, 2, 1), Decimal("118000")),
        (date(2027, 4, 1), Decimal("125000")),
    ]
    chart = charts.line_chart(points, key="p", title="Index", series_name="¥ per P per year")
    bottom, top = Decimal(chart.y_ticks[0].label), Decimal(chart.y_ticks[-1].label)
    assert bottom <= 118000 and top >= 125000 and bottom > 0  # not forced down to zero
    (segment,) = chart.segments
    drawn = [tuple(Decimal(v) for v in pair.split(",")) for pair in segment.split()]
    start, end = points[0][0], points[-1][0]
    for (x, y), (moment, value) in zip(drawn, points, strict=True):
        assert close(x, x_of(moment, start, end))
        assert close(y, PLOT_BOTTOM - (value - bottom) / (top - bottom) * PLOT_HEIGHT)
    svg = svg_of(render(chart))
    assert len(svg.findall(f".//{SVG}circle")) == 3


def test_missing_values_break_the_line():
    chart = charts.line_chart(
        [(date(2027, 1, 1), 1), (date(2027, 2, 1), None), (date(2027, 3, 1), 2)],
        key="b",
        title="T",
        series_name="x",
    )
    assert len(chart.segments) == 2
    assert chart.table_rows[1] == ["2027-02-01", ""]


def test_a_single_point_is_centred():
    chart = charts.line_chart([(date(2027, 1, 1), 5)], key="o", title="T", series_name="x")
    (segment,) = chart.segments
    x, _ = segment.split(",")
    assert close(x, PLOT_LEFT + PLOT_WIDTH / 2)
    assert Decimal(chart.y_ticks[0].label) < 5 < Decimal(chart.y_ticks[-1].label)


def test_line_chart_without_values_shows_no_data():
    chart = charts.line_chart(
        [(date(2027, 1, 1), None)], key="n", title="T", series_name="x", empty_text="Nothing yet"
    )
    assert chart.empty
    assert "Nothing yet" in render(chart)


# --- every chart ----------------------------------------------------------------------------
def every_chart(key: str):
    return [
        charts.bar_chart(["a"], [Series("x", [1])], key=f"{key}b", title="Bars", description="D"),
        charts.step_chart(
            SPANS,
            key=f"{key}s",
            title="Steps",
            start=SPANS[0][0],
            end=SPANS[-1][1],
            series_name="x",
        ),
        charts.line_chart([(date(2027, 1, 1), 1)], key=f"{key}l", title="Line", series_name="x"),
        charts.bar_chart([], [], key=f"{key}e", title="Empty"),
    ]


@pytest.mark.parametrize("index", range(4))
def test_charts_are_named_images_without_inline_styles(index):
    chart = every_chart("z")[index]
    html = render(chart)
    assert "style=" not in html
    svg = svg_of(html)
    assert svg.get("role") == "img"
    assert svg.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"
    assert svg.get("width") is None and svg.get("height") is None  # scales to its container
    ids = svg.get("aria-labelledby").split()
    found = {element.get("id"): element for element in svg.iter() if element.get("id")}
    assert found[ids[0]].tag == f"{SVG}title" and found[ids[0]].text == chart.title
    if chart.description:
        assert found[ids[1]].tag == f"{SVG}desc"


def test_the_text_table_is_hidden_visually_unless_shown():
    chart = every_chart("h")[0]
    assert 'table-wrap visually-hidden"' in render(chart)
    shown = render(chart, show_table=True)
    assert "visually-hidden" not in shown and "<caption>Bars</caption>" in shown


@given(
    st.lists(
        st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False),
        min_size=1,
        max_size=24,
    )
)
def test_bars_fit_the_plot_and_keep_their_order(values):
    chart = charts.bar_chart(
        [str(i) for i in range(len(values))], [Series("x", values)], key="h", title="T"
    )
    top = Decimal(chart.y_ticks[-1].label)
    assert top >= max(values)
    for bar, value in zip(chart.bars, values, strict=True):
        assert Decimal(bar.y) >= charts.PLOT_TOP - Decimal("0.1")
        assert close(bar.height, height_of(value, top) if top else 0, "0.11")


@given(st.decimals(min_value="0.001", max_value=10**9, places=3), st.integers(2, 8))
def test_nice_step_is_round_and_covers_the_span(span, parts):
    step = charts.nice_step(span, parts)
    assert step * parts >= span
    digits = step.normalize().as_tuple().digits
    assert digits[0] in (1, 2, 5) and all(d == 0 for d in digits[1:])
