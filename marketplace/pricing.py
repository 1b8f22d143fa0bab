"""Quote price maths: from priced lines to annual and term totals, tax included (pure, no ORM).

Amounts are CNY ``Decimal``, quantised at two points, through ``accounts.money``: the annual price
and the term total, to the fen, half-up. The blended rate is a rate, not an amount: six places
(``RATE_DECIMAL_PLACES``), half-up, from its exact value. The term total is computed from the
rounded annual price, so a quote reads consistently: ``total_price = annual_price x term_months
/ 12``, to the fen.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from accounts.money import RATE_DECIMAL_PLACES, quantize_money, split_tax

MONTHS_PER_YEAR = 12
# P (14 digits) x price per P per year (20 digits), summed over lines, stays exact in this many.
_EXACT_PRECISION = 80


@dataclass(frozen=True)
class PricedLine:
    cluster_id: int
    servers: int
    p: Decimal  # the line's P: servers x P per server, exact
    price_per_p_year: Decimal  # CNY per P per year, tax included, fixed for the term


@dataclass(frozen=True)
class QuotePrice:
    total_p: Decimal
    price_per_p_year: Decimal  # P-weighted across lines, a rate: six places, half-up
    annual_price: Decimal  # CNY a year, to the fen
    total_price: Decimal  # annual_price x term_months / 12, to the fen
    net: Decimal  # total_price = net + tax, split at the VAT rate
    tax: Decimal


def price_quote(lines: Sequence[PricedLine], *, term_months: int, vat_rate: Decimal) -> QuotePrice:
    """Price a quote's lines for a term of ``term_months`` at ``vat_rate`` (e.g. 0.06)."""
    if not lines:
        raise ValueError("a quote needs at least one line")
    if not isinstance(term_months, int) or isinstance(term_months, bool) or term_months < 1:
        raise ValueError(f"term_months must be a positive int, got {term_months!r}")
    if not isinstance(vat_rate, Decimal) or vat_rate < 0:
        raise ValueError(f"vat_rate must be a non-negative Decimal, got {vat_rate!r}")
    for line in lines:
        if not isinstance(line.p, Decimal) or not isinstance(line.price_per_p_year, Decimal):
            raise TypeError(f"line of cluster {line.cluster_id}: P and price must be Decimal")
        if line.servers < 1 or line.p <= 0 or line.price_per_p_year < 0:
            raise ValueError(f"line of cluster {line.cluster_id}: servers and P must be positive")

    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        total_p = sum((line.p for line in lines), Decimal(0))
        exact_annual = sum((line.p * line.price_per_p_year for line in lines), Decimal(0))
        annual_price = quantize_money(exact_annual)
        # annual_price x months / 12 is a multiple of 1/1200 CNY: exactly on a half fen or at
        # least 1/12 fen from one, so rounding the division at this precision cannot cross it.
        total_price = quantize_money(annual_price * term_months / MONTHS_PER_YEAR)
    net, tax = split_tax(total_price, vat_rate)
    return QuotePrice(
        total_p=total_p,
        price_per_p_year=_rate(Fraction(exact_annual) / Fraction(total_p)),
        annual_price=annual_price,
        total_price=total_price,
        net=net,
        tax=tax,
    )


def _rate(value: Fraction) -> Decimal:
    """A non-negative rate rounded half-up to RATE_DECIMAL_PLACES, from its exact value."""
    scaled = value * 10**RATE_DECIMAL_PLACES
    return Decimal(int(scaled + Fraction(1, 2))).scaleb(-RATE_DECIMAL_PLACES)
