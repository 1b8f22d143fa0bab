from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.money import quantize_money, split_tax


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.005", "0.01"), ("0.004", "0.00"), ("599040", "599040.00"), ("-0.005", "-0.01")],
)
def test_quantize_money_rounds_half_up_to_the_fen(amount, expected):
    assert quantize_money(Decimal(amount)) == Decimal(expected)


def test_quantize_money_refuses_floats():
    with pytest.raises(TypeError):
        quantize_money(0.1)


def test_split_tax_of_a_year_of_one_a800_server():
    net, tax = split_tax(Decimal("599040.00"), Decimal("0.06"))
    assert (net, tax) == (Decimal("565132.08"), Decimal("33907.92"))


@given(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    st.sampled_from([Decimal("0.06"), Decimal("0.13"), Decimal("0")]),
)
def test_net_plus_tax_is_gross(gross, rate):
    net, tax = split_tax(gross, rate)
    assert net + tax == gross
    assert net == net.quantize(Decimal("0.01")) and tax == tax.quantize(Decimal("0.01"))
