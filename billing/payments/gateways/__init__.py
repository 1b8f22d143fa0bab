"""Payment gateways behind one interface (``base.PaymentGateway``), chosen by settings: Stripe
when ``STRIPE_API_KEY`` is set, otherwise the offline bank-transfer gateway (the embedded
default). ``settings.PAYMENTS_GATEWAY`` is derived the same way."""

from __future__ import annotations

from django.conf import settings

from billing.models import Gateway
from billing.payments.gateways.bank_transfer import BankTransferGateway
from billing.payments.gateways.base import (
    ChargeOutcome,
    ChargeResult,
    CheckoutResult,
    GatewayError,
    GatewayOutcomeUnknown,
    PaymentGateway,
    RefundResult,
    SetupResult,
)
from billing.payments.gateways.stripe_gateway import StripeGateway

__all__ = [
    "BankTransferGateway",
    "ChargeOutcome",
    "ChargeResult",
    "CheckoutResult",
    "GatewayError",
    "GatewayOutcomeUnknown",
    "PaymentGateway",
    "RefundResult",
    "SetupResult",
    "StripeGateway",
    "card_gateway",
    "configured_gateway_name",
    "get_gateway",
]


def configured_gateway_name() -> str:
    return Gateway.STRIPE if settings.STRIPE_API_KEY else Gateway.BANK_TRANSFER


def get_gateway(name: str | None = None) -> PaymentGateway:
    """The gateway called ``name`` (a ``Gateway`` value), or the configured one."""
    name = name or configured_gateway_name()
    if name == Gateway.STRIPE:
        return StripeGateway.from_settings()
    if name == Gateway.BANK_TRANSFER:
        return BankTransferGateway()
    raise ValueError(f"unknown payment gateway {name!r}")


def card_gateway() -> PaymentGateway | None:
    """The gateway that charges saved cards, or None when card payments are not configured."""
    gateway = get_gateway()
    return gateway if gateway.can_charge else None
