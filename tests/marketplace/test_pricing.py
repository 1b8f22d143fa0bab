"""Quote price maths: annual and term totals to the fen, blended rate, tax split. Pure."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.money import quantize_money
from marketplace.pricing import (
    PricedLine,
    QuotePrice,
    exact_annual_price,
    monthly_price,
    price_quote,
    term_price,
)

VAT = Decimal("0.06")
A800_SERVER = PricedLine(
    cluster_id=1, servers=1, p=Decimal("4.992"), price_per_p_year=Decimal("120000")
)


def test_one_a800_server_for_a_year_is_599_040():
    price = price_quote([A800_SERVER], term_months=12, vat_rate=VAT)
    assert price == QuotePrice(
        total_p=Decimal("4.992"),
        price_per_p_year=Decimal("120000.000000"),
        annual_price=Decimal("599040.00"),
        total_price=Decimal("599040.00"),
        net=Decimal("565132.08"),  # 599,040 / 1.06, to the fen
        tax=Decimal("33907.92"),
    )


def test_term_total_is_the_annual_price_times_months_over_twelve():
    assert price_quote([A800_SERVER], term_months=36, vat_rate=VAT).total_price == Decimal(
        "1797120.00"
    )
    # 599,040 x 7 / 12 = 349,440 exactly.
    assert price_quote([A800_SERVER], term_months=7, vat_rate=VAT).total_price == Decimal(
        "349440.00"
    )


def test_the_term_total_is_rounded_once_from_the_exact_price():
    # 60 months of one A800 server at 120,000.000801: 599,040.003998592 a year.
    line = PricedLine(
        cluster_id=1, servers=1, p=Decimal("4.992"), price_per_p_year=Decimal("120000.000801")
    )
    price = price_quote([line], term_months=60, vat_rate=VAT)
    assert price.annual_price == Decimal("599040.00")  # shown only
    assert price.total_price == Decimal("2995200.02")  # not 599,040.00 x 5
    assert monthly_price(Decimal("4.992") * Decimal("120000.000801")) == Decimal("49920.00")


def test_term_price_refuses_a_negative_term():
    with pytest.raises(ValueError):
        term_price(Decimal("1"), -1)


def test_two_clusters_at_different_prices_blend_to_a_p_weighted_rate():
    lines = [
        PricedLine(
            cluster_id=1, servers=3, p=Decimal("14.976"), price_per_p_year=Decimal("118000")
        ),
        PricedLine(
            cluster_id=2, servers=1, p=Decimal("15.832"), price_per_p_year=Decimal("125000.50")
        ),
    ]
    price = price_quote(lines, term_months=5, vat_rate=VAT)
    # 14.976 x 118,000 = 1,767,168; 15.832 x 125,000.50 = 1,979,007.916; sum 3,746,175.916.
    assert price.total_p == Decimal("30.808")
    assert price.annual_price == Decimal("3746175.92")
    # 3,746,175.916 / 30.808 = 121,597.5044144...
    assert price.price_per_p_year == Decimal("121597.504414")
    # 3,746,175.916 x 5 / 12 = 1,560,906.6316... -> .63
    assert price.total_price == Decimal("1560906.63")
    assert price.net + price.tax == price.total_price
    assert price.net == quantize_money(price.total_price / Decimal("1.06"))


def test_rate_and_amounts_round_half_up():
    # 0.005 P at 1 CNY: annual 0.005 -> 0.01; a month of 0.01 = 0.000833 -> 0.00.
    line = PricedLine(cluster_id=1, servers=1, p=Decimal("0.005"), price_per_p_year=Decimal("1"))
    price = price_quote([line], term_months=1, vat_rate=VAT)
    assert (price.annual_price, price.total_price) == (Decimal("0.01"), Decimal("0.00"))
    # Rate: (1 x 1 + 1 x 1.000001) / 2 = 1.0000005, exactly half at the 7th place: rounds up.
    lines = [
        PricedLine(cluster_id=1, servers=1, p=Decimal("1"), price_per_p_year=Decimal("1")),
        PricedLine(cluster_id=2, servers=1, p=Decimal("1"), price_per_p_year=Decimal("1.000001")),
    ]
    assert price_quote(lines, term_months=12, vat_rate=VAT).price_per_p_year == Decimal("1.000001")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"lines": []}, ValueError),
        ({"term_months": 0}, ValueError),
        ({"vat_rate": Decimal("-0.01")}, ValueError),
        ({"vat_rate": 0.06}, ValueError),
        ({"lines": [PricedLine(1, 1, 4.992, Decimal("120000"))]}, TypeError),
        ({"lines": [PricedLine(1, 0, Decimal("4.992"), Decimal("120000"))]}, ValueError),
    ],
)
def test_inputs_are_validated(kwargs, error):
    arguments = {"lines": [A800_SERVER], "term_months": 12, "vat_rate": VAT, **kwargs}
    with pytest.raises(error):
        price_quote(arguments.pop("lines"), **arguments)


lines_strategy = st.lists(
    st.builds(
        PricedLine,
        cluster_id=st.integers(1, 1000),
        servers=st.integers(1, 64),
        p=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3),
        price_per_p_year=st.decimals(min_value=0, max_value=Decimal("500000"), places=2),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300)
@given(
    lines=lines_strategy,
    term_months=st.integers(1, 120),
    vat_rate=st.sampled_from([Decimal("0.06"), Decimal("0.13"), Decimal("0")]),
)
def test_total_is_the_exact_price_pro_rata_rounded_once_and_net_plus_tax_is_total(
    lines, term_months, vat_rate
):
    price = price_quote(lines, term_months=term_months, vat_rate=vat_rate)
    exact = sum(Fraction(line.p) * Fraction(line.price_per_p_year) for line in lines)
    assert price.annual_price == quantize_money(Decimal(exact.numerator) / exact.denominator)
    total = exact * term_months / 12  # rounded once, half-up, from the exact fraction
    fen = total * 100
    assert price.total_price == Decimal(int(fen + Fraction(1, 2))) / 100
    assert price.total_price == term_price(
        exact_annual_price((line.p, line.price_per_p_year) for line in lines), term_months
    )
    assert price.net + price.tax == price.total_price
    assert price.total_p == sum(line.p for line in lines)
    assert (
        min(line.price_per_p_year for line in lines) - Decimal("0.000001") <= price.price_per_p_year
    )
    assert price.price_per_p_year <= max(line.price_per_p_year for line in lines) + Decimal(
        "0.000001"
    )
