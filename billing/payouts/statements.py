"""Provider payout statements: per provider and calendar month, what its customers paid.

A statement's month is the provider's accounting month of cash collected (payments received
from 1st to 1st), not a contract's billing period: one provider's contracts each have their own
anchor. Each line names the invoice and the contract month it paid for. Over a contract's life
the lines' amounts collected add up to what its invoices charged (``marketplace.pricing``
rounds once). Each amount collected is split into VAT and the VAT-exclusive amount.

Statements: open -> closed -> paid (``payout_transition``), each change audited. A statement
is closed only once its month has ended in the platform's time zone: ``payouts_build`` never
touches a closed statement, so a payment received later in the month would reach no statement
and its seller would never be paid for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from accounts.errors import DomainError
from accounts.models import User
from accounts.money import ZERO, quantize_money
from billing.ledger.audit import billing_event_record
from billing.models import (
    BillingEvent,
    CommissionBase,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    PayoutLine,
    PayoutStatement,
    PayoutStatus,
    SlaCredit,
)
from billing.payouts.proceeds import payout_to_balance
from billing.periods import local_midnight
from marketplace.models import ContractLine
from marketplace.terms import months_after


class InvalidPayoutTransition(DomainError):
    code = "invalid_transition"
    status = 409


class PayoutPeriodNotEnded(DomainError):
    """Closing a statement whose month has not ended yet: the rest of the month's payments
    would reach no statement."""

    code = "period_not_ended"
    status = 409


# A statement's amounts: each the sum of its lines'.
SUMMED_FIELDS = (
    "collected",
    "vat",
    "collected_net_of_vat",
    "commission",
    "sla_withheld",
    "payable",
)

PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.OPEN: frozenset({PayoutStatus.CLOSED}),
    PayoutStatus.CLOSED: frozenset({PayoutStatus.PAID}),
    PayoutStatus.PAID: frozenset(),
}


@dataclass
class _PayoutLine:
    contract_id: int
    invoice_id: int
    description: str
    collected: Decimal  # tax included
    vat: Decimal  # the VAT in ``collected``
    sla_withheld: Decimal


def commission_base_amount(*, collected: Decimal, vat: Decimal, base: str) -> Decimal:
    """What the commission is taken on (``PLATFORM_COMMISSION_BASE``, the one home of the
    rule): the VAT-exclusive amount collected, or the amount collected tax included."""
    if base == CommissionBase.COLLECTED:
        return collected
    if base == CommissionBase.NET_OF_VAT:
        return collected - vat
    raise ValueError(f"unknown commission base {base!r}")


def _split_pro_rata(amount: Decimal, weights: dict[int, Decimal]) -> dict[int, Decimal]:
    """Split ``amount`` by ``weights`` to the fen; the largest weight takes the rounding."""
    total = sum(weights.values(), ZERO)
    if not weights:
        return {}
    if total == ZERO:
        weights = dict.fromkeys(weights, Decimal(1))
        total = Decimal(len(weights))
    ordered = sorted(weights, key=lambda key: (weights[key], -key))
    *others, largest = ordered
    shares = {key: quantize_money(amount * weights[key] / total) for key in others}
    shares[largest] = amount - sum(shares.values(), ZERO)
    return shares


def _credit_seller() -> Coalesce:
    """Who an SLA credit is withheld from: the seller of the contract's line on the outage's
    cluster (the reseller, for resold servers), else the cluster's provider."""
    seller = ContractLine.objects.filter(
        contract_id=OuterRef("contract_id"), cluster_id=OuterRef("outage__cluster_id")
    ).values("provider_id")[:1]
    return Coalesce(
        Subquery(seller), F("outage__cluster__provider_id"), output_field=BigIntegerField()
    )


def payouts_build(*, month: date, actor_label: str = "") -> list[PayoutStatement]:
    """Build (or rebuild, while open) every provider's statement for the month of ``month``.

    Collected (tax included): invoices paid in full during the month, their rental charges less
    credit notes issued before payment, split between the contract's providers pro rata by the
    annual value of their lines (P x price per P per year); credit notes issued during the month
    on invoices paid earlier count negative. Their VAT is split the same way, so each line's
    ``collected_net_of_vat + vat == collected`` and the parts add up to the invoices' VAT.
    Commission: ``PLATFORM_COMMISSION_RATE`` of the ``PLATFORM_COMMISSION_BASE`` amount.
    SLA withheld: the SLA credits on those invoices for each provider's clusters, and those
    settled by credit notes issued during the month (a contract's last month: see
    ``sla_final_credits_settle``; such credit notes do not count in gross). Closed and paid
    statements are never touched. Idempotent.
    """
    tz = timezone.get_current_timezone()
    period_start = month.replace(day=1)
    period_end = months_after(period_start, 1)
    since, until = local_midnight(period_start, tz), local_midnight(period_end, tz)
    paid = list(
        Invoice.objects.filter(status=InvoiceStatus.PAID, paid_at__gte=since, paid_at__lt=until)
        .select_related("contract")
        .order_by("pk")
    )
    refunds = list(
        CreditNote.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            invoice__status=InvoiceStatus.PAID,
            invoice__paid_at__lt=F("created_at"),
            sla_credits__isnull=True,  # SLA credit notes are withheld, below
        )
        .select_related("invoice")
        .order_by("pk")
    )
    sla_notes = list(
        CreditNote.objects.filter(
            created_at__gte=since, created_at__lt=until, sla_credits__isnull=False
        )
        .distinct()
        .select_related("invoice")
        .order_by("pk")
    )
    invoice_ids = [i.pk for i in paid] + [n.invoice_id for n in refunds]
    contract_ids = {i.contract_id for i in paid} | {n.invoice.contract_id for n in refunds}
    weights: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for contract_id, provider_id, p, price in ContractLine.objects.filter(
        contract_id__in=contract_ids
    ).values_list("contract_id", "provider_id", "p", "price_per_p_year"):
        weights[contract_id][provider_id] += p * price
    # Sums of fen amounts, quantised because SQLite adds decimals as floats.
    charges: dict[int, tuple[Decimal, Decimal]] = {
        invoice_id: (quantize_money(total), quantize_money(tax))
        for invoice_id, total, tax in InvoiceLine.objects.filter(
            invoice_id__in=invoice_ids,
            kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT],
        )
        .values("invoice_id")
        .annotate(total=Sum("amount"), tax=Sum("tax"))
        .values_list("invoice_id", "total", "tax")
    }
    credited_before: dict[int, Decimal] = defaultdict(Decimal)
    credited_before_tax: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount, tax, created_at, paid_at in CreditNote.objects.filter(
        invoice_id__in=[i.pk for i in paid], sla_credits__isnull=True
    ).values_list("invoice_id", "amount", "tax", "created_at", "invoice__paid_at"):
        if created_at <= paid_at:
            credited_before[invoice_id] += amount
            credited_before_tax[invoice_id] += tax
    withheld: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for invoice_id, provider_id, amount in (
        SlaCredit.objects.filter(invoice_line__invoice_id__in=[i.pk for i in paid])
        .annotate(seller=_credit_seller())
        .values_list("invoice_line__invoice_id", "seller", "amount")
    ):
        withheld[(invoice_id, provider_id)] += amount
    note_withheld: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for note_id, provider_id, amount in (
        SlaCredit.objects.filter(credit_note_id__in=[n.pk for n in sla_notes])
        .annotate(seller=_credit_seller())
        .values_list("credit_note_id", "seller", "amount")
    ):
        note_withheld[(note_id, provider_id)] += amount

    lines: dict[int, list[_PayoutLine]] = defaultdict(list)
    for invoice in paid:
        charged, charged_tax = charges.get(invoice.pk, (ZERO, ZERO))
        collected = charged - credited_before[invoice.pk]
        vat = charged_tax - credited_before_tax[invoice.pk]
        providers = weights[invoice.contract_id]
        vat_shares = _split_pro_rata(vat, providers)
        for provider_id, share in _split_pro_rata(collected, providers).items():
            lines[provider_id].append(
                _PayoutLine(
                    contract_id=invoice.contract_id,
                    invoice_id=invoice.pk,
                    description=(
                        f"{invoice.number} paid {timezone.localtime(invoice.paid_at, tz):%Y-%m-%d}"
                        f" (period {invoice.period_start:%Y-%m-%d} to "
                        f"{invoice.period_end - timedelta(days=1):%Y-%m-%d})"
                    ),
                    collected=share,
                    vat=vat_shares[provider_id],
                    sla_withheld=withheld[(invoice.pk, provider_id)],
                )
            )
    for note in refunds:
        providers = weights[note.invoice.contract_id]
        vat_shares = _split_pro_rata(note.tax, providers)
        for provider_id, share in _split_pro_rata(note.amount, providers).items():
            lines[provider_id].append(
                _PayoutLine(
                    contract_id=note.invoice.contract_id,
                    invoice_id=note.invoice_id,
                    description=f"Credit note {note.number} on {note.invoice.number}",
                    collected=-share,
                    vat=-vat_shares[provider_id],
                    sla_withheld=ZERO,
                )
            )
    notes = {n.pk: n for n in sla_notes}
    for (note_id, provider_id), amount in sorted(note_withheld.items()):
        note = notes[note_id]
        lines[provider_id].append(
            _PayoutLine(
                contract_id=note.invoice.contract_id,
                invoice_id=note.invoice_id,
                description=f"SLA credit note {note.number} on {note.invoice.number}",
                collected=ZERO,
                vat=ZERO,
                sla_withheld=amount,
            )
        )
    return [
        statement
        for provider_id, provider_lines in sorted(lines.items())
        if (
            statement := _statement_write(
                provider_id, period_start, period_end, provider_lines, actor_label
            )
        )
        is not None
    ]


def _statement_write(
    provider_id: int,
    period_start: date,
    period_end: date,
    lines: list[_PayoutLine],
    actor_label: str,
) -> PayoutStatement | None:
    rate = settings.PLATFORM_COMMISSION_RATE
    base = settings.PLATFORM_COMMISSION_BASE
    with transaction.atomic():
        statement, created = PayoutStatement.objects.select_for_update().get_or_create(
            provider_id=provider_id,
            period_start=period_start,
            defaults={"period_end": period_end, "commission_rate": rate, "commission_base": base},
        )
        if statement.status != PayoutStatus.OPEN:
            return None  # closed statements are final
        statement.lines.all().delete()
        rows = []
        for line in lines:
            commission = quantize_money(
                commission_base_amount(collected=line.collected, vat=line.vat, base=base) * rate
            )
            rows.append(
                PayoutLine(
                    statement=statement,
                    contract_id=line.contract_id,
                    invoice_id=line.invoice_id,
                    description=line.description[:300],
                    collected=line.collected,
                    vat=line.vat,
                    collected_net_of_vat=line.collected - line.vat,
                    commission_base=base,
                    commission=commission,
                    sla_withheld=line.sla_withheld,
                    payable=line.collected - commission - line.sla_withheld,
                )
            )
        PayoutLine.objects.bulk_create(rows)
        statement.commission_rate = rate
        statement.commission_base = base
        for name in SUMMED_FIELDS:
            setattr(statement, name, sum((getattr(r, name) for r in rows), ZERO))
        statement.save(update_fields=["commission_rate", "commission_base", *SUMMED_FIELDS])
        if created:
            billing_event_record(
                BillingEvent.Subject.PAYOUT,
                statement.pk,
                "",
                PayoutStatus.OPEN,
                actor_label=actor_label,
                reason=f"Statement for {period_start:%Y-%m}.",
            )
    return statement


def payout_period_ended(statement: PayoutStatement, *, now: datetime | None = None) -> bool:
    """Whether the statement's month has ended (its ``period_end``, exclusive, has begun in the
    platform's time zone): only then may it be closed."""
    now = now or timezone.now()
    return local_midnight(statement.period_end, timezone.get_current_timezone()) <= now


def check_period_ended(statement: PayoutStatement, *, now: datetime | None = None) -> None:
    """Raise ``PayoutPeriodNotEnded`` (with the field error on ``period_end``) while the
    statement's month is still running."""
    if payout_period_ended(statement, now=now):
        return
    message = gettext(
        "The statement for %(month)s cannot be closed before its month has ended: payments "
        "received until then belong on it. It can be closed from %(day)s."
    ) % {
        "month": date_format(statement.period_start, "YEAR_MONTH_FORMAT"),
        "day": date_format(statement.period_end, "DATE_FORMAT"),
    }
    raise PayoutPeriodNotEnded(message, details={"period_end": [message]})


def payout_transition(
    *,
    statement: PayoutStatement,
    to: str,
    actor: User | None = None,
    actor_label: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> PayoutStatement:
    """The one place a payout statement changes state: lock, check the table (and, to close
    it, that its month has ended: ``PayoutPeriodNotEnded``), save, audit. ``now``: the
    moment of the change (default: now)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = PayoutStatement.objects.select_for_update().get(pk=statement.pk)
        if to not in PAYOUT_TRANSITIONS[locked.status]:
            raise InvalidPayoutTransition(
                f"A statement that is {locked.status} cannot become {to}.",
                details={"status": [f"Cannot go from {locked.status} to {to}."]},
            )
        if to == PayoutStatus.CLOSED:
            check_period_ended(locked, now=now)
        previous = locked.status
        locked.status = to
        fields = ["status"]
        if to == PayoutStatus.CLOSED:
            locked.closed_at = now
            fields.append("closed_at")
        locked.save(update_fields=fields)
        billing_event_record(
            BillingEvent.Subject.PAYOUT,
            locked.pk,
            previous,
            to,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
        )
    return locked


def payout_close(
    *,
    statement: PayoutStatement,
    by: User | None = None,
    actor_label: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> PayoutStatement:
    """Close a statement: final and immutable from now on. Refused (``PayoutPeriodNotEnded``,
    nothing written) before the statement's month has ended. A seller that chose to receive
    its proceeds as balance gets the payable amount credited at once and the statement paid
    (``billing.payouts.proceeds``), in the same transaction."""
    with transaction.atomic():
        closed = payout_transition(
            statement=statement,
            to=PayoutStatus.CLOSED,
            actor=by,
            actor_label=actor_label,
            reason=reason,
            now=now,
        )
        if payout_to_balance(statement=closed, actor=by, actor_label=actor_label) is not None:
            closed.refresh_from_db()
    return closed
