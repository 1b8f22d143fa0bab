"""How a seller receives its payout: paid out to it (the default), or, if it chose so (a
reseller that also buys), credited to its balance and applied to its own invoices.

The choice is ``BillingAccount.resale_proceeds``, changed only by ``resale_proceeds_set``.
``payout_to_balance`` runs when a statement is closed (``statements.payout_close``): the
payable amount becomes one ``BalanceEntry`` tied to the statement (unique, so never twice), the
statement becomes paid (audited, reason "Applied to balance"), and once the transaction commits
the balance is applied to the seller's unpaid invoices (``billing.apply_balance``).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.errors import InvalidInput, PermissionDeniedError
from accounts.models import MembershipRole, Organization, User
from accounts.money import ZERO
from accounts.selectors import organization_of
from billing import dispatch
from billing.ledger.balance import balance_credit
from billing.models import (
    BalanceEntry,
    BillingAccount,
    PayoutStatement,
    PayoutStatus,
    ResaleProceeds,
)

APPLIED_TO_BALANCE = "Applied to balance"
# Who decides where the organisation's money goes: those who see and pay its invoices.
CHOOSING_ROLES = (MembershipRole.OWNER, MembershipRole.BILLING)


def may_choose_resale_proceeds(user: User | None) -> bool:
    """Whether ``user`` may change how its organisation receives its proceeds."""
    membership = getattr(user, "membership", None) if organization_of(user) else None
    return membership is not None and membership.role in CHOOSING_ROLES


def resale_proceeds_choice(*, organization: Organization) -> str:
    """How ``organization`` receives its proceeds (``ResaleProceeds``); payout by default."""
    chosen = (
        BillingAccount.objects.filter(organization=organization)
        .values_list("resale_proceeds", flat=True)
        .first()
    )
    return chosen or ResaleProceeds.PAYOUT


def resale_proceeds_set(
    *, organization: Organization, choice: str, by: User | None = None
) -> BillingAccount:
    """Choose how ``organization`` receives its proceeds from statements closed from now on.
    ``by``: the member choosing (an owner or billing member of ``organization``); None for
    the platform itself (demo data, tests)."""
    if by is not None and (
        organization_of(by) != organization or not may_choose_resale_proceeds(by)
    ):
        raise PermissionDeniedError(
            "Only the organisation's owners and billing members choose how it is paid."
        )
    if choice not in ResaleProceeds.values:
        raise InvalidInput("resale_proceeds", "Choose payout or balance.")
    with transaction.atomic():
        account, _ = BillingAccount.objects.select_for_update().get_or_create(
            organization=organization
        )
        if account.resale_proceeds != choice:
            account.resale_proceeds = choice
            account.save(update_fields=["resale_proceeds"])
    return account


def payout_balance_entry(statement: PayoutStatement) -> BalanceEntry | None:
    """The balance entry a statement was paid out as, if it was."""
    return BalanceEntry.objects.filter(payout=statement).first()


def payout_to_balance(
    *, statement: PayoutStatement, actor: User | None = None, actor_label: str = ""
) -> BalanceEntry | None:
    """If the statement's seller chose balance, credit its payable amount to the seller's
    balance and mark it paid, once; returns the entry (None when nothing was credited: payout
    chosen, nothing payable, not closed, or already credited). Call inside or outside a
    transaction; it makes its own."""
    with transaction.atomic():
        locked = PayoutStatement.objects.select_for_update().get(pk=statement.pk)
        if (
            locked.status != PayoutStatus.CLOSED
            or locked.payable <= ZERO
            or resale_proceeds_choice(organization=locked.provider) != ResaleProceeds.BALANCE
            or BalanceEntry.objects.filter(payout=locked).exists()
        ):
            return None
        try:
            with transaction.atomic():
                entry = balance_credit(
                    organization_id=locked.provider_id,
                    amount=locked.payable,
                    description=f"Payout statement {locked.period_start:%Y-%m} applied to balance",
                    payout=locked,
                )
        except IntegrityError:  # another process credited it first
            return None
        # The one place a statement changes state (it imports this module, hence here).
        from billing.payouts.statements import payout_transition

        payout_transition(
            statement=locked,
            to=PayoutStatus.PAID,
            actor=actor,
            actor_label=actor_label,
            reason=f"{APPLIED_TO_BALANCE}: {locked.payable} CNY.",
        )
        dispatch.send_on_commit(dispatch.APPLY_BALANCE, locked.provider_id)
    return entry
