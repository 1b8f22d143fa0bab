"""How amounts, rates and P read on pages, PDFs and emails, the same in every language.

Money reads ``¥599,040.00`` (the fen always shown), rates keep up to their six stored places
(``¥120,000.00``, ``¥120,000.000801``), P has three places (``4.992``). Pure functions of
``Decimal``; the template filters in ``accounts.templatetags.market`` call these.
"""

from decimal import Decimal

from accounts.money import quantize_money

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€"}
P_PLACES = Decimal("0.001")


def _signed(text: str, negative: bool) -> str:
    return f"-{text}" if negative else text


def format_money(amount: Decimal | int | None, currency: str = "CNY") -> str:
    """``¥599,040.00``: grouped, rounded half-up to the fen, sign before the symbol."""
    if amount is None:
        return ""
    value = quantize_money(Decimal(amount))
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    return _signed(f"{symbol}{abs(value):,.2f}", value < 0)


def format_rate(rate: Decimal | None, currency: str = "CNY") -> str:
    """A price per P per year: at least two places, more only where the rate has them."""
    if rate is None:
        return ""
    value = Decimal(rate)
    places = max(2, -value.normalize().as_tuple().exponent) if value != value.to_integral() else 2
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    return _signed(f"{symbol}{abs(value):,.{min(places, 6)}f}", value < 0)


def format_p(value: Decimal | int | None) -> str:
    """P (PFLOPS) to three places, grouped: ``4.992``, ``1,583.200``."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(P_PLACES):,}"


def format_percent(value: Decimal | int | float | None, places: int = 1) -> str:
    """``99.9%`` from a value already in percent."""
    if value is None:
        return ""
    return f"{Decimal(str(value)):.{places}f}%"
