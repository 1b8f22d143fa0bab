"""Paying an invoice on Stripe's hosted Checkout page: we open the session, the customer pays
there, and the webhook (``checkout.session.completed``) records the payment.

Like a card charge, in three steps so no lock is held across a call to Stripe: a transaction
creates (or finds) the ``pending`` Payment for what the invoice owes, Stripe is asked for the
session with no transaction open, and a second transaction keeps the session id on the payment
(``reference``, ``cs_...``). The Stripe idempotency key is the payment's own, one per invoice,
amount and attempt: asking again for the same amount re-sends the same key, so Stripe answers
with the same session instead of opening a second page that could be paid as well. A new amount
(a transfer arrived meanwhile) retires the open attempt and opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from accounts.models import User
from billing.models import IN_FLIGHT, Gateway, Invoice, Payment, PaymentStatus
from billing.payments.charges import check_payable
from billing.payments.errors import CardPaymentsUnavailable, GatewayFailed, PaymentInFlight
from billing.payments.gateways import ChargeOutcome, ChargeResult, GatewayError, card_gateway
from billing.payments.gateways.stripe_gateway import CHECKOUT_KEY_PREFIX, to_fen
from billing.payments.outcomes import payment_apply_outcome, record_event


@dataclass(frozen=True)
class CheckoutStart:
    payment: Payment
    url: str  # the hosted payment page: redirect the customer here


def _checkout_payment(*, invoice_id: int, actor: User | None) -> Payment:
    """Transaction 1: the pending checkout payment for what the invoice owes now."""
    with transaction.atomic(durable=True):
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        check_payable(invoice)
        amount = invoice.amount_due
        in_flight = invoice.payments.filter(status__in=IN_FLIGHT).first()
        if in_flight is not None:
            if not in_flight.idempotency_key.startswith(CHECKOUT_KEY_PREFIX):
                raise PaymentInFlight(
                    gettext("A payment of invoice %(number)s is already being processed.")
                    % {"number": invoice.number}
                )
            if in_flight.amount == amount:
                return in_flight  # the same page again
            before = in_flight.status
            in_flight.status = PaymentStatus.FAILED
            in_flight.failure_code = "checkout_superseded"
            in_flight.failure_message = "A new payment page was opened for a different amount."
            in_flight.save(update_fields=["status", "failure_code", "failure_message"])
            record_event(
                in_flight,
                before,
                actor=actor,
                actor_label="checkout",
                reason=in_flight.failure_message,
            )
        attempt = invoice.payments.filter(gateway=Gateway.STRIPE).count() + 1
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    invoice=invoice,
                    gateway=Gateway.STRIPE,
                    amount=amount,
                    status=PaymentStatus.PENDING,
                    attempt=attempt,
                    idempotency_key=(
                        f"{CHECKOUT_KEY_PREFIX}invoice-{invoice.pk}-fen-{to_fen(amount)}-attempt-{attempt}"
                    ),
                    recorded_by=actor if actor is not None and actor.is_authenticated else None,
                )
        except IntegrityError as exc:  # a concurrent twin opened a page first
            raise PaymentInFlight(
                gettext("A payment of invoice %(number)s is already being processed.")
                % {"number": invoice.number}
            ) from exc
        record_event(payment, "", actor=actor, actor_label="checkout", reason="payment page")
    return payment


def checkout_start(
    *, invoice: Invoice, actor: User | None, success_url: str, cancel_url: str
) -> CheckoutStart:
    """Open (or reopen) the hosted payment page for what ``invoice`` still owes.

    Refuses (DomainError) an invoice that is paid or not payable, another kind of payment in
    flight, or a platform without card payments. Must not run inside a transaction.
    """
    gateway = card_gateway()
    if gateway is None:
        raise CardPaymentsUnavailable(
            gettext("Card payments are not available on this platform; pay by bank transfer.")
        )
    payment = _checkout_payment(invoice_id=invoice.pk, actor=actor)
    payment = Payment.objects.select_related("invoice").get(pk=payment.pk)
    try:
        result = gateway.create_checkout(payment, success_url=success_url, cancel_url=cancel_url)
    except GatewayError as exc:
        # The customer never got a page: free the invoice for a new attempt (a new key).
        payment_apply_outcome(
            payment_id=payment.pk,
            result=ChargeResult(
                ChargeOutcome.DECLINED,
                failure_code="checkout_not_opened",
                failure_message=str(exc)[:500],
            ),
            actor=actor,
            actor_label="checkout",
        )
        raise GatewayFailed(
            gettext("The card payment page could not be opened; please try again later.")
        ) from exc
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk, reference="").update(reference=result.session_id)
    payment.refresh_from_db()
    return CheckoutStart(payment=payment, url=result.url)
