"""Contract price maths: from priced lines to the term total and the monthly charge (pure).

Amounts are CNY ``Decimal``, tax included, quantised to the fen through ``accounts.money``, each
exactly once, from the exact (unrounded) annual price ``sum(P x price per P per year)``:

- ``total_price = quantize(exact annual x term_months / 12)``: one rounding, whatever the term;
- ``monthly_price = quantize(exact annual / 12)``: what one contract month bills (``billing``);
- ``annual_price = quantize(exact annual)``: shown on quotes and contracts, never used to
  derive another amount (deriving the total from it would round twice, and the error grows
  with the term: 60 months of one A800 server at 120,000.000801 per P per year is 2,995,200.02,
  not 2,995,200.00).

The blended rate is a rate, not an amount: six places (``RATE_DECIMAL_PLACES``), half-up, from
its exact value. Quotes, contracts, invoices and payouts all take their amounts from here.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from accounts.money import RATE_DECIMAL_PLACES, quantize_money, split_tax

MONTHS_PER_YEAR = 12
# P (14 digits) x price per P per year (20 digits), summed over lines, stays exact in this many;
# a quotient by 12 is then rounded at this precision, far below the fen, before quantising
# (an exact half fen is a terminating decimal and survives; anything else is far from one).
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
    annual_price: Decimal  # CNY a year, to the fen: shown only
    total_price: Decimal  # exact annual x term_months / 12, to the fen
    net: Decimal  # total_price = net + tax, split at the VAT rate
    tax: Decimal


def exact_annual_price(lines: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """``sum(P x price per P per year)`` over ``(p, price_per_p_year)`` pairs, unrounded."""
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        return sum((p * price for p, price in lines), Decimal(0))


def term_price(exact_annual: Decimal, months: int) -> Decimal:
    """What ``months`` contract months cost: ``exact_annual x months / 12``, rounded once."""
    if months < 0:
        raise ValueError("months must not be negative")
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        return quantize_money(exact_annual * months / MONTHS_PER_YEAR)


def monthly_price(exact_annual: Decimal) -> Decimal:
    """One contract month's charge: ``exact_annual / 12``, rounded once."""
    return term_price(exact_annual, 1)


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

    exact_annual = exact_annual_price((line.p, line.price_per_p_year) for line in lines)
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        total_p = sum((line.p for line in lines), Decimal(0))
    total_price = term_price(exact_annual, term_months)
    net, tax = split_tax(total_price, vat_rate)
    return QuotePrice(
        total_p=total_p,
        price_per_p_year=_rate(Fraction(exact_annual) / Fraction(total_p)),
        annual_price=quantize_money(exact_annual),
        total_price=total_price,
        net=net,
        tax=tax,
    )


def _rate(value: Fraction) -> Decimal:
    """A non-negative rate rounded half-up to RATE_DECIMAL_PLACES, from its exact value."""
    scaled = value * 10**RATE_DECIMAL_PLACES
    return Decimal(int(scaled + Fraction(1, 2))).scaleb(-RATE_DECIMAL_PLACES)
