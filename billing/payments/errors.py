"""Why a payment is refused, as domain errors (each with its code and HTTP status), and the
one check of an amount of money typed by a person."""

from __future__ import annotations

from decimal import Decimal

from accounts.errors import DomainError, InvalidInput
from accounts.money import quantize_money


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


def valid_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise InvalidInput("amount", "Enter a positive amount.")
    if quantize_money(amount) != amount:
        raise InvalidInput("amount", "At most two decimal places (fen).")
    return quantize_money(amount)
