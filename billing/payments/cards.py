"""Billing accounts: cards on file (saved through a SetupIntent, stored once Stripe confirms)
and the address billing mail goes to."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Organization
from billing.models import BillingAccount, PaymentMethod
from billing.payments.charges import require_card_gateway
from billing.payments.errors import GatewayFailed
from billing.payments.gateways import GatewayError, SetupResult


def card_setup_start(*, organization: Organization) -> SetupResult:
    """Start saving a card: the Stripe customer (created once), then a SetupIntent whose client
    secret the browser confirms with Stripe.js. The card is stored by ``card_save`` when Stripe
    reports ``setup_intent.succeeded``."""
    gateway = require_card_gateway()
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


def billing_account_update(*, account: BillingAccount, billing_email: str) -> BillingAccount:
    """Change where an account's billing mail goes (blank: its owners and billing members)."""
    account.billing_email = billing_email.strip()
    account.save(update_fields=["billing_email"])
    return account
