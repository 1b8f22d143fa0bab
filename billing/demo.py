"""Demo invoices for `manage.py seed_demo`: bill the demo contracts up to today (idempotent)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from billing.invoicing.issue import invoices_issue_chunk
from billing.models import Invoice
from marketplace.models import Contract


@dataclass(frozen=True)
class DemoBilling:
    invoices: list[Invoice]
    issued_now: int  # 0 when the demo was already billed


def seed_billing(contracts: Iterable[Contract], *, today: date | None = None) -> DemoBilling:
    """Issue every invoice due by ``today`` (default: today) for the demo contracts.

    The same service as the daily run, so the demo shows real invoices: the current month's,
    and earlier months' for contracts that started before it. Contracts not yet approved are
    left alone. Running it again issues nothing new.
    """
    today = today or timezone.localdate()
    ids = sorted(contract.pk for contract in contracts)
    result = invoices_issue_chunk(contract_ids=ids, today=today, actor_label="seed_demo")
    invoices = list(
        Invoice.objects.filter(contract_id__in=ids).select_related("customer").order_by("pk")
    )
    return DemoBilling(invoices=invoices, issued_now=result.invoices)
