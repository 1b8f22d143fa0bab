"""Collecting money: card charges through the configured gateway, bank transfers recorded by an
admin, customer balances, daily collection and dunning, and reconciliation of unknown outcomes.

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

A success is never undone: a failure reported after it (a late webhook) changes nothing, while a
success reported after a failure is recorded (the money moved). Every payment state change
writes a BillingEvent. Lock order everywhere: organisation, then invoice, then payment.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.errors import DomainError, InvalidInput
from accounts.models import Organization
from accounts.money import ZERO, quantize_money
from billing import services
from billing.gateways import (
    ChargeOutcome,
    ChargeResult,
    GatewayError,
    PaymentGateway,
    SetupResult,
    card_gateway,
    get_gateway,
)
from billing.models import (
    IN_FLIGHT,
    BalanceEntry,
    BillingAccount,
    BillingEvent,
    Gateway,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

PAYABLE = [InvoiceStatus.OPEN, InvoiceStatus.OVERDUE]
# Pending or unknown payments untouched for this long are settled by ``reconcile_unknown``.
# Well above STRIPE_TIMEOUT_SECONDS, so a charge still waiting for Stripe is left alone.
RECONCILE_AFTER_SECONDS = 300
PAYMENT = BillingEvent.Subject.PAYMENT
INVOICE = BillingEvent.Subject.INVOICE


# --- errors -------------------------------------------------------------------------------------


class InvoiceNotPayable(DomainError):
    code = "invoice_not_payable"
    status = 409


class InvoiceAlreadyPaid(DomainError):
    code = "invoice_already_paid"
    status = 409


class PaymentInFlight(DomainError):
    code = "payment_in_flight"
    status = 409


class NoCardOnFile(DomainError):
    code = "no_card_on_file"
    status = 409


class BankTransferAccount(DomainError):
    code = "bank_transfer_account"
    status = 400


class CardPaymentsUnavailable(DomainError):
    code = "card_payments_unavailable"
    status = 503


class DuplicateTransferReference(DomainError):
    code = "duplicate_reference"
    status = 409


class PaymentNotRefundable(DomainError):
    code = "payment_not_refundable"
    status = 409


class GatewayFailed(DomainError):
    code = "gateway_error"
    status = 502


# --- reads --------------------------------------------------------------------------------------


def _billing_account(organization_id: int) -> BillingAccount | None:
    return BillingAccount.objects.filter(organization_id=organization_id).first()


def _card_channel() -> Q:
    """Invoices collected by charging a saved card (the rest are dunned by email)."""
    return Q(customer__billing_account__payment_method=PaymentMethod.STRIPE_CARD) & ~Q(
        customer__billing_account__stripe_payment_method_id=""
    )


def _unpaid() -> Q:
    return Q(status__in=PAYABLE, total__gt=F("amount_paid"))


# --- outcomes -----------------------------------------------------------------------------------


def _record_event(
    payment: Payment, from_status: str, *, actor: User | None, actor_label: str, reason: str = ""
) -> None:
    services.billing_event_record(
        subject=PAYMENT,
        subject_id=payment.pk,
        from_status=from_status,
        to_status=payment.status,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )


def _apply_to_invoice(
    invoice: Invoice, payment: Payment, *, actor: User | None, actor_label: str
) -> Decimal:
    """Apply ``payment`` to the locked ``invoice``; what does not fit (all of it, if the invoice
    was paid by other means meanwhile or voided) goes to the customer's balance, so nothing
    received is ever lost. Returns the amount put on the balance."""
    excess = services.invoice_apply_payment(
        invoice=invoice, amount=payment.amount, actor=actor, actor_label=actor_label
    )
    if excess > 0:
        BalanceEntry.objects.create(
            organization_id=invoice.customer_id,
            amount=excess,
            payment=payment,
            invoice=invoice,
            description=f"Over-payment of invoice {invoice.number} (payment {payment.pk})",
        )
    return excess


def _email_payment_failed(invoice: Invoice, reason: str) -> None:
    from billing import emails  # emails render invoices and payments: import when used

    emails.send_payment_failed(invoice, reason)


def _failure_reason(invoice: Invoice, payment: Payment) -> str:
    reason = payment.failure_message or "Your card payment did not go through."
    if invoice.next_collection_on:
        return f"{reason} We will try again on {invoice.next_collection_on:%Y-%m-%d}."
    return f"{reason} Please update your card or pay by bank transfer."


def _save_failure(payment: Payment, status: str, result: ChargeResult) -> None:
    payment.status = status
    payment.failure_code = result.failure_code[:64]
    payment.failure_message = result.failure_message[:500]
    payment.save(
        update_fields=["status", "external_id", "failure_code", "failure_message", "updated_at"]
    )


def payment_apply_outcome(
    *,
    payment_id: int,
    result: ChargeResult,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
) -> Payment:
    """Record what the gateway said about a payment, idempotently, in one transaction (the
    caller's, if any: the webhook handler records inside its event's transaction).

    pending/unknown -> succeeded | failed | unknown; failed -> succeeded (the money moved after
    all); a succeeded or refunded payment never changes here. Returns the payment as it is now.
    """
    with transaction.atomic():
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = payment.status
        if result.external_id and not payment.external_id:
            payment.external_id = result.external_id

        if result.outcome == ChargeOutcome.SUCCEEDED and before in (
            *IN_FLIGHT,
            PaymentStatus.FAILED,
        ):
            payment.status = PaymentStatus.SUCCEEDED
            payment.save(update_fields=["status", "external_id", "updated_at"])
            _record_event(payment, before, actor=actor, actor_label=actor_label, reason=reason)
            _apply_to_invoice(invoice, payment, actor=actor, actor_label=actor_label)
        elif result.outcome == ChargeOutcome.DECLINED and before in IN_FLIGHT:
            _save_failure(payment, PaymentStatus.FAILED, result)
            _record_event(
                payment,
                before,
                actor=actor,
                actor_label=actor_label,
                reason=reason or f"{payment.failure_code}: {payment.failure_message}",
            )
            if invoice.status in PAYABLE:  # no dunning mail for an invoice paid meanwhile
                transaction.on_commit(
                    partial(_email_payment_failed, invoice, _failure_reason(invoice, payment)),
                    robust=True,
                )
        elif result.outcome == ChargeOutcome.UNKNOWN and before in IN_FLIGHT:
            _save_failure(payment, PaymentStatus.UNKNOWN, result)
            if before != PaymentStatus.UNKNOWN:
                _record_event(
                    payment,
                    before,
                    actor=actor,
                    actor_label=actor_label,
                    reason=reason or f"Outcome unknown: {payment.failure_message}",
                )
        return payment


# --- card charges -------------------------------------------------------------------------------


def _require_card_gateway() -> PaymentGateway:
    gateway = card_gateway()
    if gateway is None:
        raise CardPaymentsUnavailable("Card payments are not configured; pay by bank transfer.")
    return gateway


def _check_payable(invoice: Invoice) -> None:
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


def _next_collection(today: date, attempts_made: int) -> date | None:
    """After the n-th automatic attempt, retry DUNNING_RETRY_DAYS[n-1] days later; after the
    last one, stop (None) and leave the invoice for an admin."""
    delays = settings.DUNNING_RETRY_DAYS
    if attempts_made <= len(delays):
        return today + timedelta(days=delays[attempts_made - 1])
    return None


def _payment_start(
    *,
    invoice_id: int,
    actor: User | None,
    actor_label: str,
    idempotency_key: str | None = None,
    scheduled_on: date | None = None,
) -> Payment | None:
    """Transaction 1: check the invoice and create the pending payment. With ``scheduled_on``
    (automatic collection) only when due, claiming the attempt in the dunning schedule; None
    when not due."""
    with transaction.atomic(durable=True):
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        _check_payable(invoice)
        account = _check_card(_billing_account(invoice.customer_id))
        if invoice.payments.filter(status__in=IN_FLIGHT).exists():
            raise PaymentInFlight(f"A payment of invoice {invoice.number} is already in flight.")
        if scheduled_on is not None:
            if not _is_due(invoice, scheduled_on):
                return None
            invoice.collection_attempts += 1
            invoice.next_collection_on = _next_collection(scheduled_on, invoice.collection_attempts)
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
        _record_event(payment, "", actor=actor, actor_label=actor_label, reason=reason)
    return payment


def _payment_send(
    payment: Payment, gateway: PaymentGateway, *, actor: User | None, actor_label: str
) -> Payment:
    """Steps 2 and 3: call the gateway (no transaction open), then record the outcome."""
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    account = _billing_account(payment.invoice.customer_id)
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
    gateway = _require_card_gateway()
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
            services.billing_event_record(
                subject=INVOICE,
                subject_id=invoice.pk,
                from_status=invoice.status,
                to_status=invoice.status,
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
    if not payment.external_id and payment.invoice.status not in PAYABLE:
        result = ChargeResult(
            ChargeOutcome.UNKNOWN,
            failure_code="needs_manual_reconciliation",
            failure_message=(
                f"Invoice {payment.invoice.number} was settled meanwhile; re-sending the charge "
                "could take money for a paid invoice. Check Stripe (metadata payment_id)."
            ),
        )
    else:
        result = gateway.retrieve(payment, _billing_account(payment.invoice.customer_id))
    return payment_apply_outcome(
        payment_id=payment.pk, result=result, actor_label=actor_label, reason="reconciled"
    )


def reconcile_unknown(*, older_than_seconds: int = RECONCILE_AFTER_SECONDS) -> dict[str, int]:
    """Settle every card payment left pending or unknown for ``older_than_seconds``."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    payment_ids = list(
        Payment.objects.filter(
            gateway=Gateway.STRIPE, status__in=IN_FLIGHT, updated_at__lte=cutoff
        ).values_list("pk", flat=True)
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


# --- cards on file ------------------------------------------------------------------------------


def card_setup_start(*, organization: Organization) -> SetupResult:
    """Start saving a card: the Stripe customer (created once), then a SetupIntent whose client
    secret the browser confirms with Stripe.js. The card is stored by ``card_save`` when Stripe
    reports ``setup_intent.succeeded``."""
    gateway = _require_card_gateway()
    account, _ = BillingAccount.objects.get_or_create(organization=organization)
    if not account.stripe_customer_id:
        try:
            customer_id = gateway.ensure_customer(account)  # idempotent per organisation
        except GatewayError as exc:
            raise GatewayFailed(str(exc)) from exc
        BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(
            stripe_customer_id=customer_id
        )
        account.refresh_from_db()
    try:
        return gateway.create_setup_intent(account)
    except GatewayError as exc:
        raise GatewayFailed(str(exc)) from exc


def card_save(*, stripe_customer_id: str, payment_method_id: str) -> BillingAccount | None:
    """Store a confirmed card as the account's card on file and switch it to card payments."""
    with transaction.atomic():
        account = (
            BillingAccount.objects.select_for_update()
            .filter(stripe_customer_id=stripe_customer_id)
            .first()
        )
        if account is None:
            return None
        account.stripe_payment_method_id = payment_method_id
        account.payment_method = PaymentMethod.STRIPE_CARD
        account.save(update_fields=["stripe_payment_method_id", "payment_method"])
        return account


# --- refunds ------------------------------------------------------------------------------------


def payment_refund(
    *, payment: Payment, amount: Decimal, actor: User | None = None, actor_label: str = ""
) -> Payment:
    """Give back ``amount`` of a succeeded payment through its gateway. Updates the payment only;
    the accounting (credit note, balance) is the caller's. Retrying after a lost answer re-sends
    the same key (derived from what was refunded before), so it never refunds twice."""
    amount = _valid_amount(amount)
    with transaction.atomic(durable=True):
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.SUCCEEDED:
            raise PaymentNotRefundable(
                f"Only a succeeded payment can be refunded ({locked.status})."
            )
        if amount > locked.amount - locked.amount_refunded:
            raise InvalidInput("amount", "More than what is left to refund on this payment.")
        refunded_before = locked.amount_refunded
    key = f"refund-payment-{locked.pk}-after-{refunded_before}-of-{amount}"
    try:
        result = get_gateway(locked.gateway).refund(locked, amount, idempotency_key=key)
    except GatewayError as exc:
        raise GatewayFailed(str(exc)) from exc
    with transaction.atomic():
        Invoice.objects.select_for_update().get(pk=locked.invoice_id)
        locked = Payment.objects.select_for_update().get(pk=locked.pk)
        if locked.amount_refunded == refunded_before:  # a webhook may have recorded it already
            _set_refunded(
                locked, refunded_before + result.amount, actor=actor, actor_label=actor_label
            )
        return locked


def _set_refunded(
    payment: Payment, amount_refunded: Decimal, *, actor: User | None, actor_label: str
) -> None:
    """Raise ``amount_refunded`` (never lower it: refund reports are cumulative and may arrive
    out of order); a full refund moves the payment to ``refunded``. Caller holds the lock."""
    if amount_refunded <= payment.amount_refunded:
        return
    before = payment.status
    payment.amount_refunded = min(amount_refunded, payment.amount)
    if payment.amount_refunded >= payment.amount:
        payment.status = PaymentStatus.REFUNDED
    payment.save(update_fields=["amount_refunded", "status", "updated_at"])
    _record_event(
        payment,
        before,
        actor=actor,
        actor_label=actor_label,
        reason=f"Refunded {payment.amount_refunded} of {payment.amount}",
    )


def payment_record_refund(
    *, payment_id: int, amount_refunded: Decimal, actor_label: str = ""
) -> Payment:
    """Record a gateway's cumulative refunded amount for a payment (webhook ``charge.refunded``)."""
    with transaction.atomic():
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        Invoice.objects.select_for_update().get(pk=invoice_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            _set_refunded(payment, amount_refunded, actor=None, actor_label=actor_label)
        return payment


# --- bank transfers and balances ----------------------------------------------------------------


def _valid_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise InvalidInput("amount", "Enter a positive amount.")
    if quantize_money(amount) != amount:
        raise InvalidInput("amount", "At most two decimal places (fen).")
    return quantize_money(amount)


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
    amount = _valid_amount(amount)
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
        _record_event(
            payment, "", actor=actor, actor_label=actor_label, reason=f"Bank transfer {reference}"
        )
        to_balance = _apply_to_invoice(invoice, payment, actor=actor, actor_label=actor_label)
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
        balance = services.customer_balance(organization=organization)
        if balance <= 0:
            return ZERO
        applied = ZERO
        invoices = (
            Invoice.objects.select_for_update()
            .filter(_unpaid(), customer=organization)
            .order_by(F("due_date").asc(nulls_last=True), "pk")
        )
        for invoice in invoices:
            take = min(balance - applied, invoice.amount_due)
            BalanceEntry.objects.create(
                organization=organization,
                amount=-take,
                invoice=invoice,
                description=f"Applied to invoice {invoice.number}",
            )
            excess = services.invoice_apply_payment(
                invoice=invoice, amount=take, actor=actor, actor_label=actor_label
            )
            if excess > 0:  # defensive: whatever did not fit goes back
                BalanceEntry.objects.create(
                    organization=organization,
                    amount=excess,
                    invoice=invoice,
                    description=f"Not applicable to invoice {invoice.number}",
                )
            applied += take - excess
            if applied >= balance:
                break
        return applied


# --- daily collection and dunning ---------------------------------------------------------------


def collect_due(*, today: date) -> dict[str, int]:
    """Daily: apply customers' balances, then charge the card of every unpaid invoice whose
    collection is due (first attempt once issued, retries on the dunning schedule).

    Each charge runs in its own ``billing.charge_invoice`` task, enqueued on commit; the task
    re-checks due-ness under lock, so running this twice a day charges nothing twice.
    """
    from billing.payment_tasks import charge_invoice  # tasks import this module

    with_balance = (
        BalanceEntry.objects.values("organization")
        .annotate(balance=Sum("amount"))
        .filter(balance__gt=0)
        .values_list("organization", flat=True)
    )
    balances_applied = 0
    for organization in Organization.objects.filter(pk__in=list(with_balance)).order_by("pk"):
        if balance_apply(organization=organization, actor_label="collect_due") > 0:
            balances_applied += 1
    if card_gateway() is None:
        return {"balances_applied": balances_applied, "charges_enqueued": 0}
    due = (
        Invoice.objects.filter(_unpaid(), _card_channel())
        .filter(
            Q(next_collection_on__lte=today)
            | Q(next_collection_on__isnull=True, collection_attempts=0)
            & (Q(issue_date__lte=today) | Q(issue_date__isnull=True))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    invoice_ids = list(due)
    for invoice_id in invoice_ids:
        transaction.on_commit(
            partial(charge_invoice.delay, invoice_id, today.isoformat()), robust=True
        )
    return {"balances_applied": balances_applied, "charges_enqueued": len(invoice_ids)}


def dunning_run(*, today: date) -> dict[str, int]:
    """Daily: remind customers who are not charged automatically (bank transfer, or no card)
    of unpaid invoices past their due date, on the dunning schedule: the first reminder
    DUNNING_RETRY_DAYS[0] days after the due date, each next one DUNNING_RETRY_DAYS[n] days
    after the previous, then stop. Each reminder is claimed with a conditional update, so a
    second run on the same day sends nothing again. Card customers are dunned by
    ``collect_due``: every failed charge emails them."""
    delays = settings.DUNNING_RETRY_DAYS
    if not delays:
        return {"reminders_sent": 0}
    candidates = Invoice.objects.filter(_unpaid(), due_date__isnull=False).filter(
        Q(next_collection_on__lte=today)
        | Q(
            next_collection_on__isnull=True,
            collection_attempts=0,
            due_date__lte=today - timedelta(days=delays[0]),
        )
    )
    if card_gateway() is not None:
        candidates = candidates.exclude(_card_channel())
    sent = 0
    for invoice in candidates.order_by("pk"):
        reminder = invoice.collection_attempts + 1
        if reminder > len(delays):
            continue
        next_on = today + timedelta(days=delays[reminder]) if reminder < len(delays) else None
        with transaction.atomic():
            claimed = Invoice.objects.filter(
                pk=invoice.pk,
                collection_attempts=invoice.collection_attempts,
                next_collection_on=invoice.next_collection_on,
            ).update(
                collection_attempts=reminder, next_collection_on=next_on, updated_at=timezone.now()
            )
            if not claimed:
                continue
            reason = (
                f"Invoice {invoice.number} of {invoice.total} {invoice.currency} was due on "
                f"{invoice.due_date:%Y-%m-%d}; {invoice.amount_due} is still unpaid "
                f"(reminder {reminder} of {len(delays)})."
            )
            invoice.collection_attempts, invoice.next_collection_on = reminder, next_on
            transaction.on_commit(partial(_email_payment_failed, invoice, reason), robust=True)
        sent += 1
    return {"reminders_sent": sent}
