"""The one small interface every payment gateway implements, and the plain results it returns.

A gateway talks to the outside world and nothing else: it never opens a transaction, locks a
row or saves a model. ``billing.payments`` decides what to charge, commits, calls the gateway
with no lock held, then records the result in a new transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from billing.models import BillingAccount, Payment


class GatewayError(Exception):
    """The gateway cannot do what was asked (not supported, not configured, refused)."""


class GatewayOutcomeUnknown(GatewayError):
    """No answer (timeout, 5xx): the request may or may not have run. Ask again with the same
    idempotency key; never with a new one."""


class ChargeOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"  # the money moved
    DECLINED = "declined"  # definitely not charged: declined, or refused before running
    UNKNOWN = "unknown"  # may or may not have moved: ask again with the same idempotency key


@dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    external_id: str = ""  # the gateway's id for the attempt (Stripe: the PaymentIntent id)
    failure_code: str = ""  # machine code (decline code, error code)
    failure_message: str = ""  # for people; also explains an UNKNOWN outcome


@dataclass(frozen=True)
class SetupResult:
    """A started card setup: the browser confirms it with ``client_secret`` (Stripe.js)."""

    external_id: str
    client_secret: str


@dataclass(frozen=True)
class CheckoutResult:
    """A hosted payment page opened for one payment: send the customer to ``url``."""

    session_id: str
    url: str


@dataclass(frozen=True)
class RefundResult:
    external_id: str
    amount: Decimal  # CNY actually refunded by this call
    status: str  # the gateway's status ("succeeded", "pending", ...)


@runtime_checkable
class PaymentGateway(Protocol):
    """What billing needs from a way of collecting money."""

    name: str  # a ``billing.models.Gateway`` value
    can_charge: bool  # False for offline gateways: money arrives and an admin records it

    def ensure_customer(self, account: BillingAccount) -> str:
        """The gateway's customer id for ``account``, created if it has none (idempotent)."""
        ...

    def create_setup_intent(self, account: BillingAccount) -> SetupResult:
        """Start saving a card for off-session charges."""
        ...

    def charge(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        """Charge ``payment.amount`` for ``payment.invoice`` off-session, idempotent on
        ``payment.idempotency_key``: calling it again never charges twice."""
        ...

    def retrieve(self, payment: Payment, account: BillingAccount) -> ChargeResult:
        """The settled outcome of an earlier ``charge`` of ``payment``, for reconciliation.
        Never charges with a new key."""
        ...

    def refund(self, payment: Payment, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        """Give back ``amount`` (CNY) of a succeeded ``payment``."""
        ...

    def create_checkout(
        self, payment: Payment, *, success_url: str, cancel_url: str
    ) -> CheckoutResult:
        """Open a hosted payment page for ``payment.amount``, idempotent on
        ``payment.idempotency_key`` (the same payment gets the same page back)."""
        ...
