"""Money and unit helpers shared by every app: the one place where amounts are quantised.

Amounts are ``Decimal`` CNY, settled to the fen (0.01). Rates (price per P per year, per hour)
and P keep more places and are never rounded except for display. Rounding is half-up, as on
Chinese invoices (四舍五入).
"""

from decimal import ROUND_HALF_UP, Decimal

# Model field shapes, project-wide.
MONEY_MAX_DIGITS = 16  # up to 99,999,999,999,999.99 CNY
MONEY_DECIMAL_PLACES = 2
RATE_MAX_DIGITS = 20  # price per P per year and other rates
RATE_DECIMAL_PLACES = 6
P_MAX_DIGITS = 14  # P (PFLOPS), exact: 8 x 1979 TFLOPS = 15.832 P
P_DECIMAL_PLACES = 6
TFLOPS_MAX_DIGITS = 10
TFLOPS_DECIMAL_PLACES = 3

FEN = Decimal("0.01")
ZERO = Decimal("0")
TFLOPS_PER_P = Decimal(1000)


def quantize_money(amount: Decimal) -> Decimal:
    """Round an amount to the fen, half-up. The only rounding of money in the project."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def split_tax(gross: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """Split a tax-included amount into (net, tax), each to the fen, with net + tax == gross.

    net = gross / (1 + rate) rounded to the fen; tax = gross - net (so the parts always add up).
    """
    gross = quantize_money(gross)
    net = quantize_money(gross / (Decimal(1) + rate))
    return net, gross - net
