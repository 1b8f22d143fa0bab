"""A terminated contract gives back what was paid in advance for days it will not be served.

The period containing the effective date is billed by the days served at that period's price
per day; later periods are dropped (``billing.periods.terminated_schedule``). A period not yet
invoiced is billed that way by the regular run; this settles periods invoiced in advance
before the termination, with one credit note per period that was invoiced for more.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from accounts.money import ZERO
from billing import selectors
from billing.credits.credit_notes import credit_note_create
from billing.models import CreditNote, Invoice, InvoiceLine, InvoiceLineKind, InvoiceStatus
from billing.periods import termination_adjustment
from marketplace.models import Contract


def terminations_settle(*, today: date, actor_label: str = "task:billing") -> int:
    """Credit what terminated contracts were invoiced for service after their effective date.

    Idempotent: amounts invoiced are counted net of earlier credit notes, so a settled
    contract owes nothing more. Returns the number of credit notes issued.
    """
    beyond = Invoice.objects.filter(
        contract_id=OuterRef("pk"),
        period_end__gt=OuterRef("termination_date"),
        status__in=[InvoiceStatus.OPEN, InvoiceStatus.OVERDUE, InvoiceStatus.PAID],
    )
    # Settled: a credit note on such an invoice since the termination (the contract's last
    # change). Anything else is looked at again; settling twice issues nothing.
    settled = CreditNote.objects.filter(
        invoice__contract_id=OuterRef("pk"),
        invoice__period_end__gt=OuterRef("termination_date"),
        created_at__gte=OuterRef("updated_at"),
        sla_credits__isnull=True,  # SLA credit notes compensate outages, not unused service
    )
    candidates = (
        Contract.objects.filter(
            termination_date__isnull=False, status__in=selectors.BILLABLE_STATUSES
        )
        .filter(Exists(beyond), ~Exists(settled))
        .values_list("pk", flat=True)
    )
    return sum(
        contract_termination_settle(contract_id=pk, today=today, actor_label=actor_label)
        for pk in list(candidates)
    )


def contract_termination_settle(
    *, contract_id: int, today: date | None = None, actor_label: str = ""
) -> int:
    """Settle one terminated contract (see ``terminations_settle``); one transaction."""
    today = today or timezone.localdate()
    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update().prefetch_related("lines").get(pk=contract_id)
        )
        if contract.termination_date is None:
            return 0
        invoices = {
            invoice.period_index: invoice
            for invoice in Invoice.objects.select_for_update()
            .filter(contract=contract)
            .exclude(status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT])
            .order_by("period_start")
        }
        if not invoices:
            return 0
        ids = [invoice.pk for invoice in invoices.values()]
        charged = dict(
            InvoiceLine.objects.filter(
                invoice_id__in=ids,
                kind__in=[InvoiceLineKind.RENTAL, InvoiceLineKind.ADJUSTMENT],
            )
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        )
        credited = dict(
            CreditNote.objects.filter(invoice_id__in=ids, sla_credits__isnull=True)
            .values("invoice_id")
            .annotate(total=Sum("amount"))
            .values_list("invoice_id", "total")
        )
        adjustment = termination_adjustment(
            selectors.contract_periods(contract),
            effective_date=contract.termination_date,
            amounts_invoiced={
                index: charged.get(invoice.pk, ZERO) - credited.get(invoice.pk, ZERO)
                for index, invoice in invoices.items()
            },
        )
        issued = 0
        for line in adjustment.lines:
            if line.difference < ZERO and line.index in invoices:
                invoice = invoices[line.index]
                unserved_from = max(contract.termination_date, invoice.period_start)
                days = (invoice.period_end - unserved_from).days
                last_day = invoice.period_end - timedelta(days=1)
                credit_note_create(
                    invoice,
                    -line.difference,
                    reason=(
                        f"Contract {contract.pk} terminated effective "
                        f"{contract.termination_date:%Y-%m-%d}: {days} day(s) of the contract "
                        f"month {invoice.period_start:%Y-%m-%d} to {last_day:%Y-%m-%d} "
                        "not provided."
                    ),
                    by=None,
                    actor_label=actor_label,
                    today=today,
                )
                issued += 1
    return issued
