"""Card charges through the configured gateway, and reconciliation of unknown outcomes.

A card charge takes three steps, so that no row lock is ever held across a call to Stripe:

1. one transaction locks the invoice, checks it is open with money due and nothing in flight,
   and creates a ``pending`` Payment whose ``idempotency_key`` is derived from our own rows
   (``stripe-invoice-<id>-attempt-<n>``); commit. The partial unique index
   ``one_payment_in_flight_per_invoice`` backs the "nothing in flight" check;
2. the gateway is called with that key and no transaction open (the first transaction is
   ``durable``: calling a charge inside a caller's transaction is an error, not a silent lock);
3. a new transaction records the outcome (``payment_apply_outcome``): ``succeeded`` is applied to
   the invoice, anything beyond what it owes goes to the customer's balance; ``failed`` stores
   the decline and emails the customer on commit; ``unknown`` (timeout, 5xx, 429) keeps the
   invoice's in-flight slot.

Stripe 5xx and 429 are recorded as ``unknown``, not ``failed``: a 5xx is indeterminate on Stripe
and neither says the card was declined, so the customer is not emailed and no new attempt (new
key) may start. ``charge_invoice`` retries a few times and ``reconcile_unknown`` then settles the
payment by asking again with the *same* key; Stripe replays the stored result, or runs the
charge once if it never ran. Nothing ever charges again with a new key while an outcome is
unknown.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.credits.disputes import has_open_dispute
from billing.ledger.audit import billing_event_record
from billing.ledger.invoices import PAYABLE
from billing.models import (
    IN_FLIGHT,
    BillingAccount,
    BillingEvent,
    Gateway,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.payments import dunning
from billing.payments.errors import (
    BankTransferAccount,
    CardPaymentsUnavailable,
    InvoiceAlreadyPaid,
    InvoiceNotPayable,
    NoCardOnFile,
    PaymentInFlight,
)
from billing.payments.gateways import (
    ChargeOutcome,
    ChargeResult,
    PaymentGateway,
    card_gateway,
    get_gateway,
)
from billing.payments.gateways.stripe_gateway import CHECKOUT_SESSION_PREFIX, is_checkout
from billing.payments.outcomes import billing_account, payment_apply_outcome, record_event

logger = logging.getLogger(__name__)

# Pending or unknown payments untouched for this long are settled by ``reconcile_unknown``.
# Well above STRIPE_TIMEOUT_SECONDS, so a charge still waiting for Stripe is left alone.
RECONCILE_AFTER_SECONDS = 300
# Stripe expires a Checkout Session 24 hours after it is created unless told otherwise.
CHECKOUT_LIFETIME = timedelta(hours=24)


def require_card_gateway() -> PaymentGateway:
    gateway = card_gateway()
    if gateway is None:
        raise CardPaymentsUnavailable("Card payments are not configured; pay by bank transfer.")
    return gateway


def check_payable(invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.PAID or (
        invoice.status in PAYABLE and invoice.amount_due <= 0
    ):
        raise InvoiceAlreadyPaid(f"Invoice {invoice.number} is already paid.")
    if invoice.status not in PAYABLE:
        raise InvoiceNotPayable(f"Invoice {invoice} is {invoice.status} and cannot be paid.")


def _check_card(account: BillingAccount | None) -> BillingAccount:
    if account is None or account.payment_method == PaymentMethod.BANK_TRANSFER:
        raise BankTransferAccount(
            "This account pays by bank transfer; the invoice shows the bank details."
        )
    if not (account.stripe_customer_id and account.stripe_payment_method_id):
        raise NoCardOnFile("No card on file: save a card first.")
    return account


def _is_due(invoice: Invoice, today: date) -> bool:
    if invoice.next_collection_on is not None:
        return invoice.next_collection_on <= today
    never_tried = invoice.collection_attempts == 0
    return never_tried and (invoice.issue_date is None or invoice.issue_date <= today)


def _payment_start(
    *,
    invoice_id: int,
    actor: User | None,
    actor_label: str,
    idempotency_key: str | None = None,
    scheduled_on: date | None = None,
) -> Payment | None:
    """Transaction 1: check the invoice and create the pending payment. With ``scheduled_on``
    (automatic collection) only when due and not under dispute, claiming the attempt in the
    dunning schedule; None when not due."""
    with transaction.atomic(durable=True):
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        check_payable(invoice)
        account = _check_card(billing_account(invoice.customer_id))
        if invoice.payments.filter(status__in=IN_FLIGHT).exists():
            raise PaymentInFlight(f"A payment of invoice {invoice.number} is already in flight.")
        if scheduled_on is not None:
            if not _is_due(invoice, scheduled_on) or has_open_dispute(invoice.pk):
                return None
            invoice.collection_attempts += 1
            invoice.next_collection_on = dunning.next_charge_on(
                scheduled_on, invoice.collection_attempts, settings.DUNNING_RETRY_DAYS
            )
            invoice.save(update_fields=["collection_attempts", "next_collection_on", "updated_at"])
        attempt = invoice.payments.filter(gateway=Gateway.STRIPE).count() + 1
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    invoice=invoice,
                    gateway=Gateway.STRIPE,
                    amount=invoice.amount_due,
                    status=PaymentStatus.PENDING,
                    attempt=attempt,
                    idempotency_key=idempotency_key
                    or f"stripe-invoice-{invoice.pk}-attempt-{attempt}",
                    reference=account.stripe_payment_method_id,  # the card charged
                    recorded_by=actor,
                )
        except IntegrityError as exc:  # a concurrent twin won the in-flight slot or the key
            raise PaymentInFlight(
                f"A payment of invoice {invoice.number} is already in flight."
            ) from exc
        reason = "automatic collection" if scheduled_on else "charge requested"
        record_event(payment, "", actor=actor, actor_label=actor_label, reason=reason)
    return payment


def _payment_send(
    payment: Payment, gateway: PaymentGateway, *, actor: User | None, actor_label: str
) -> Payment:
    """Steps 2 and 3: call the gateway (no transaction open), then record the outcome."""
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    account = billing_account(payment.invoice.customer_id)
    result = gateway.charge(payment, account)
    return payment_apply_outcome(
        payment_id=payment.pk, result=result, actor=actor, actor_label=actor_label
    )


def payment_charge(
    *,
    invoice: Invoice,
    actor: User | None = None,
    actor_label: str = "",
    idempotency_key: str | None = None,
) -> Payment:
    """Charge the card on file, now, for what ``invoice`` still owes (the pay button).

    Refuses (DomainError) an invoice that is paid, not payable, already has a payment in flight,
    or whose customer pays by bank transfer or has no card. Returns the payment: ``succeeded``,
    ``failed`` or ``unknown`` (left for reconciliation). Must not run inside a transaction.
    """
    gateway = require_card_gateway()
    payment = _payment_start(
        invoice_id=invoice.pk, actor=actor, actor_label=actor_label, idempotency_key=idempotency_key
    )
    assert payment is not None  # only scheduled starts can be "not due"
    return _payment_send(payment, gateway, actor=actor, actor_label=actor_label)


@dataclass(frozen=True)
class PayResult:
    payment: Payment
    replayed: bool  # an earlier request with the same Idempotency-Key made this payment


def _client_payment_key(*, user: User, invoice: Invoice, request_key: str) -> str:
    digest = hashlib.sha256(f"{user.pk}:{invoice.pk}:{request_key}".encode()).hexdigest()
    return f"api-pay-{digest[:48]}"


def invoice_pay(
    *, invoice: Invoice, user: User, request_key: str = "", actor_label: str = "api"
) -> PayResult:
    """``POST /invoices/{id}/pay/``: ``payment_charge`` honouring the client's Idempotency-Key.

    The key is folded into the Payment's own idempotency key, so the Payment row is the
    idempotency record and the Stripe key at once: a repeat returns that payment as it is now
    and never charges again. (The generic ``idempotent`` decorator would wrap the Stripe call in
    its transaction and hold the invoice lock across it.)
    """
    key = (
        _client_payment_key(user=user, invoice=invoice, request_key=request_key)
        if request_key
        else None
    )
    if key:
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return PayResult(existing, replayed=True)
    payment = payment_charge(
        invoice=invoice, actor=user, actor_label=actor_label, idempotency_key=key
    )
    return PayResult(payment, replayed=False)


def invoice_collect(
    *, invoice_id: int, today: date, actor_label: str = "task:billing.charge_invoice"
) -> Payment | None:
    """One automatic collection attempt for an invoice, if it is due on ``today``.

    Safe to run twice: the attempt is claimed in the same transaction that creates the payment
    (``collection_attempts`` and ``next_collection_on`` move on), so a twin finds it not due. If
    an earlier attempt's outcome is still unknown, that payment is reconciled instead (same
    key). Returns the payment, or None when there was nothing to do.
    """
    gateway = card_gateway()
    if gateway is None:
        return None
    try:
        payment = _payment_start(
            invoice_id=invoice_id, actor=None, actor_label=actor_label, scheduled_on=today
        )
    except PaymentInFlight:
        unknown = Payment.objects.filter(invoice_id=invoice_id, status=PaymentStatus.UNKNOWN)
        in_flight = unknown.first()
        return payment_reconcile(payment=in_flight, actor_label=actor_label) if in_flight else None
    except (InvoiceAlreadyPaid, InvoiceNotPayable, BankTransferAccount, NoCardOnFile):
        return None
    if payment is None:
        return None
    payment = _payment_send(payment, gateway, actor=None, actor_label=actor_label)
    if payment.status == PaymentStatus.FAILED:
        invoice = Invoice.objects.get(pk=invoice_id)
        if invoice.next_collection_on is None:
            billing_event_record(
                BillingEvent.Subject.INVOICE,
                invoice.pk,
                invoice.status,
                invoice.status,
                actor_label=actor_label,
                reason=(
                    f"Automatic card collection stopped after {invoice.collection_attempts} "
                    "failed attempts; left for an admin."
                ),
            )
    return payment


def payment_reconcile(*, payment: Payment, actor_label: str = "reconciliation") -> Payment:
    """Settle a pending or unknown payment by asking its gateway, with the same idempotency key
    (never a new one). Returns the payment as it is now; it may still be ``unknown``.

    Without a PaymentIntent id, asking means re-sending the create, which charges if the first
    request never reached Stripe. That is the attempt completing, once, unless the invoice was
    settled meanwhile: then nothing is re-sent (a paid invoice is never charged) and the payment
    is left ``unknown`` for an admin to check in Stripe by its ``payment_id`` metadata.
    """
    if payment.status not in IN_FLIGHT:
        return payment
    gateway = get_gateway(payment.gateway)
    if not gateway.can_charge:
        return payment
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    resend = not (payment.external_id or is_checkout(payment))  # a session is only read
    if resend and payment.invoice.status not in PAYABLE:
        result = ChargeResult(
            ChargeOutcome.UNKNOWN,
            failure_code="needs_manual_reconciliation",
            failure_message=(
                f"Invoice {payment.invoice.number} was settled meanwhile; re-sending the charge "
                "could take money for a paid invoice. Check Stripe (metadata payment_id)."
            ),
        )
    else:
        result = gateway.retrieve(payment, billing_account(payment.invoice.customer_id))
    return payment_apply_outcome(
        payment_id=payment.pk, result=result, actor_label=actor_label, reason="reconciled"
    )


def reconcile_unknown(*, older_than_seconds: int = RECONCILE_AFTER_SECONDS) -> dict[str, int]:
    """Settle every card payment left pending or unknown for ``older_than_seconds``."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    payment_ids = list(
        Payment.objects.filter(gateway=Gateway.STRIPE, status__in=IN_FLIGHT, updated_at__lte=cutoff)
        # A customer may take a while on the hosted page: open sessions are left until they
        # could have expired (or their webhook settles them first).
        .exclude(
            reference__startswith=CHECKOUT_SESSION_PREFIX,
            updated_at__gt=timezone.now() - CHECKOUT_LIFETIME,
        )
        .values_list("pk", flat=True)
    )
    outcomes: Counter[str] = Counter()
    if payment_ids and card_gateway() is None:
        logger.error(
            "%d card payments await reconciliation but Stripe is not configured", len(payment_ids)
        )
        return {"checked": 0, "succeeded": 0, "failed": 0, "unknown": len(payment_ids)}
    for payment_id in payment_ids:
        payment = Payment.objects.get(pk=payment_id)
        settled = payment_reconcile(payment=payment, actor_label="task:billing.reconcile_payments")
        outcomes[settled.status] += 1
    return {
        "checked": len(payment_ids),
        "succeeded": outcomes[PaymentStatus.SUCCEEDED],
        "failed": outcomes[PaymentStatus.FAILED],
        "unknown": outcomes[PaymentStatus.UNKNOWN] + outcomes[PaymentStatus.PENDING],
    }
