"""The work queue's items: each waiting object with its action forms and its audit trail, as
the page and the htmx partials render them (``templates/billing/_queue_item.html``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _

from billing import work_queue
from billing.views.queue_forms import (
    BankTransferForm,
    ConfirmForm,
    CreditNoteForm,
    TerminationForm,
    VoidForm,
)
from billing.work_queue import TrailRow


# --- Items ----------------------------------------------------------------------------------
@dataclass
class Item:
    kind: str  # provider | contract | invoice | flag | payment | listing
    obj: Any
    forms: dict[str, forms.Form]
    trail: list[TrailRow] = field(default_factory=list)
    invoice_trail: list[TrailRow] = field(default_factory=list)  # a flag's invoice
    notice: str = ""  # what the last action did, shown on the item

    @property
    def dom_id(self) -> str:
        return f"queue-{self.kind}-{self.obj.pk}"

    def action_url(self, action: str) -> str:
        return reverse("queue-action", args=[self.kind, self.obj.pk, action])

    @property
    def urls(self) -> dict[str, str]:
        return {action: self.action_url(action) for action in self.forms}


def prefix(kind: str, pk: int, action: str) -> str:
    return f"{kind}-{pk}-{action}"


def _forms(kind: str, pk: int, actions: dict[str, type[forms.Form]], bound) -> dict:
    made = {}
    for action, form_class in actions.items():
        if bound is not None and bound[0] == action:
            made[action] = bound[1]
        else:
            made[action] = form_class(prefix=prefix(kind, pk, action))
    return made


def can_void(invoice) -> bool:
    """Voiding is a full credit of an invoice nothing was paid on (``credit_note_issue``)."""
    return invoice.amount_paid == 0 and not invoice.credit_notes.all()


def _invoice_actions(invoice) -> dict[str, type[forms.Form]]:
    actions = {"transfer": BankTransferForm, "credit": CreditNoteForm}
    if can_void(invoice):
        actions["void"] = VoidForm
    return actions


def provider_item(organization, queue=None, bound=None) -> Item:
    signed_up = TrailRow(
        at=organization.created_at, from_status="", to_status=_("Signed up"), by="", reason=""
    )
    return Item(
        "provider",
        organization,
        _forms("provider", organization.pk, {"verify": ConfirmForm}, bound),
        trail=[signed_up],
    )


def contract_item(contract, queue=None, bound=None) -> Item:
    return Item(
        "contract",
        contract,
        _forms("contract", contract.pk, {"approve": ConfirmForm}, bound),
        trail=work_queue.contract_trail(contract),
    )


def invoice_item(invoice, queue=None, bound=None) -> Item:
    trails = queue.invoice_trails if queue else work_queue.invoice_trails([invoice.pk])
    return Item(
        "invoice",
        invoice,
        _forms("invoice", invoice.pk, _invoice_actions(invoice), bound),
        trail=trails.get(invoice.pk, []),
    )


def flag_item(flag, queue=None, bound=None) -> Item:
    invoice_id = flag.invoice_id
    trails = queue.invoice_trails if queue else work_queue.invoice_trails([invoice_id])
    return Item(
        "flag",
        flag,
        _forms("flag", flag.pk, {"terminate": TerminationForm}, bound),
        trail=work_queue.contract_trail(flag.contract),
        invoice_trail=trails.get(invoice_id, []),
    )


def listing_item(listing, queue=None, bound=None) -> Item:
    if queue is None:  # one listing again, after an action: its trail is read now
        listing = work_queue.listings_open().prefetch_related("history__actor").get(pk=listing.pk)
    return Item(
        "listing",
        listing,
        _forms("listing", listing.pk, {"withdraw": ConfirmForm}, bound),
        trail=work_queue.listing_trail(listing),
    )


def payment_item(payment, queue=None, bound=None) -> Item:
    trails = queue.payment_trails if queue else work_queue.billing_trails("payment", [payment.pk])
    return Item(
        "payment",
        payment,
        _forms("payment", payment.pk, {"reconcile": ConfirmForm}, bound),
        trail=trails.get(payment.pk, []),
    )
