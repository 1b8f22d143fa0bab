"""Bank transfers recorded by an admin, and customers' balances applied to their invoices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from accounts.errors import InvalidInput
from accounts.models import Organization, User
from accounts.money import ZERO
from billing.ledger.balance import balance_debit, customer_balance
from billing.ledger.invoices import PAYABLE, invoice_receive
from billing.models import Gateway, Invoice, InvoiceStatus, Payment, PaymentStatus
from billing.payments.errors import DuplicateTransferReference, InvoiceNotPayable, valid_amount
from billing.payments.outcomes import payment_receive, record_event, unpaid


@dataclass(frozen=True)
class TransferResult:
    payment: Payment
    invoice: Invoice
    to_balance: Decimal  # what exceeded the invoice and was credited to the customer


def bank_transfer_record(
    *,
    invoice: Invoice,
    amount: Decimal,
    reference: str,
    actor: User | None = None,
    actor_label: str = "",
) -> TransferResult:
    """An admin records a bank transfer received for ``invoice``, in one transaction.

    A succeeded Payment (gateway bank_transfer) is recorded every time. A partial payment leaves
    the invoice open with ``amount_paid`` raised; a payment that covers it marks it paid; what
    exceeds it (or all of it, if the invoice was already paid) becomes a BalanceEntry, never
    lost. The same bank reference is not recorded twice for one invoice.
    """
    amount = valid_amount(amount)
    reference = reference.strip()
    if not reference:
        raise InvalidInput("reference", "Enter the bank transfer reference.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status not in (*PAYABLE, InvoiceStatus.PAID):
            raise InvoiceNotPayable(f"Invoice {invoice} is {invoice.status}; nothing is owed.")
        transfers = invoice.payments.filter(gateway=Gateway.BANK_TRANSFER)
        if transfers.filter(reference=reference).exists():
            raise DuplicateTransferReference(
                f"Transfer {reference} is already recorded for invoice {invoice.number}."
            )
        number = transfers.count() + 1
        payment = Payment.objects.create(
            invoice=invoice,
            gateway=Gateway.BANK_TRANSFER,
            amount=amount,
            status=PaymentStatus.SUCCEEDED,
            attempt=number,
            idempotency_key=f"bank-transfer-invoice-{invoice.pk}-{number}",
            reference=reference,
            recorded_by=actor,
        )
        record_event(
            payment, "", actor=actor, actor_label=actor_label, reason=f"Bank transfer {reference}"
        )
        to_balance = payment_receive(invoice, payment, actor=actor, actor_label=actor_label)
    invoice.refresh_from_db()
    return TransferResult(payment=payment, invoice=invoice, to_balance=to_balance)


def balance_apply(
    *, organization: Organization, actor: User | None = None, actor_label: str = ""
) -> Decimal:
    """Apply ``organization``'s positive balance to its unpaid invoices, oldest due first, in
    one transaction. Returns the amount applied. The organisation row lock serialises appliers,
    so a balance is never spent twice."""
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=organization.pk)
        balance = customer_balance(organization=organization)
        if balance <= 0:
            return ZERO
        applied = ZERO
        invoices = (
            Invoice.objects.select_for_update()
            .filter(unpaid(), customer=organization)
            .order_by(F("due_date").asc(nulls_last=True), "pk")
        )
        for invoice in invoices:
            take = min(balance - applied, invoice.amount_due)
            balance_debit(
                organization_id=organization.pk,
                amount=take,
                invoice=invoice,
                description=f"Applied to invoice {invoice.number}",
            )
            excess = invoice_receive(  # whatever does not fit goes back (defensive)
                invoice,
                take,
                excess_description=f"Not applicable to invoice {invoice.number}",
                actor=actor,
                actor_label=actor_label,
                reason=f"Balance of {take} {invoice.currency} applied.",
            )
            applied += take - excess
            if applied >= balance:
                break
        return applied
