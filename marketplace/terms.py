"""A contract's term in dates: its months, anchored on the start date. Pure: no ORM.

The one home of "a contract's end date" and of the contract-month boundaries billing uses.
Month k of a contract starts ``k`` months after the start, with the day of month clamped to the
last day of a shorter month, and is always counted from the start, never from the previous
boundary (as Stripe's billing cycle anchor): from 31 January the boundaries are 31 Jan, 28 Feb
(29 in a leap year), 31 Mar, 30 Apr, 31 May, ... A term of N months ends, exclusive, at month N.
"""

from datetime import date

from dateutil.relativedelta import relativedelta


def months_after(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, the day clamped to the month's last day."""
    if months < 0:
        raise ValueError("months must not be negative")
    return start + relativedelta(months=months)


def contract_end_date(start: date, term_months: int) -> date:
    """Exclusive end of a term: ``term_months`` contract months after ``start``."""
    if term_months < 1:
        raise ValueError("term_months must be at least 1")
    return months_after(start, term_months)


def contract_month_index(start: date, day: date) -> int:
    """The 0-based contract month containing ``day`` (negative before ``start``)."""
    if day < start:
        return -1
    months = (day.year - start.year) * 12 + day.month - start.month
    # ``months`` counts calendar months; the contract month starting then may begin after
    # ``day`` (start on the 20th, day on the 5th), and clamping never moves a boundary later.
    while months > 0 and months_after(start, months) > day:
        months -= 1
    return months
