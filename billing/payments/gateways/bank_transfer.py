"""The offline gateway, the embedded default: customers pay by bank transfer (common for Chinese
enterprises) and an admin records what arrived (``payments.transfers.bank_transfer_record``).
Nothing is ever charged, so the charge side of the interface refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from billing.models import Gateway, PaymentStatus
from billing.payments.gateways.base import (
    ChargeOutcome,
    ChargeResult,
    CheckoutResult,
    GatewayError,
    RefundResult,
    SetupResult,
)

if TYPE_CHECKING:
    from billing.models import BillingAccount, Payment


class BankTransferGateway:
    name = Gateway.BANK_TRANSFER
    can_charge = False

    def ensure_customer(self, account: BillingAccount) -> str:
        return ""  # no customer object outside our own database

    def create_setup_intent(self, account: BillingAccount) -> SetupResult:
        raise GatewayError("Bank transfer has no card to save.")

    def charge(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        raise GatewayError("Bank transfers are not charged: an admin records the money received.")

    def retrieve(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        # Recorded by an admin once the money is in the bank: already settled.
        if payment.status == PaymentStatus.SUCCEEDED:
            return ChargeResult(ChargeOutcome.SUCCEEDED, external_id=payment.external_id)
        return ChargeResult(ChargeOutcome.UNKNOWN, external_id=payment.external_id)

    def refund(self, payment: Payment, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        # The admin pays the money back by bank transfer; recording it is the whole refund.
        return RefundResult(external_id="", amount=amount, status="succeeded")

    def create_checkout(
        self, payment: Payment, *, success_url: str, cancel_url: str
    ) -> CheckoutResult:
        raise GatewayError("Bank transfers have no hosted payment page.")
