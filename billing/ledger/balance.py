"""Customers' balances: money the platform holds for them (``BalanceEntry`` rows).

The rule "what does not fit an invoice goes to the balance" lives here and only here
(``balance_credit``, called by ``billing.ledger.invoices.invoice_receive``): nothing received or
credited is ever lost; it is applied to later invoices (``billing.payments.balances``) or
refunded.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from accounts.models import Organization
from accounts.money import ZERO
from billing.models import BalanceEntry, Invoice, Payment, PayoutStatement


def balance_credit(
    *,
    organization_id: int,
    amount: Decimal,
    description: str,
    invoice: Invoice | None = None,
    payment: Payment | None = None,
    payout: PayoutStatement | None = None,
) -> BalanceEntry | None:
    """Put ``amount`` (> 0) on the customer's balance; nothing for a zero amount. ``payout``:
    the statement paid out this way (one entry per statement, a unique column)."""
    if amount <= ZERO:
        return None
    return BalanceEntry.objects.create(
        organization_id=organization_id,
        amount=amount,
        invoice=invoice,
        payment=payment,
        payout=payout,
        description=description[:300],
    )


def balance_debit(
    *, organization_id: int, amount: Decimal, invoice: Invoice, description: str
) -> BalanceEntry:
    """Take ``amount`` (> 0) off the balance, to pay ``invoice``. The caller holds the
    organisation's row lock and has checked the balance covers it."""
    return BalanceEntry.objects.create(
        organization_id=organization_id, amount=-amount, invoice=invoice, description=description
    )


def customer_balance(*, organization: Organization) -> Decimal:
    """What the platform holds for a customer (over-payments and credits not yet used)."""
    total = BalanceEntry.objects.filter(organization=organization).aggregate(total=Sum("amount"))
    return total["total"] or ZERO
