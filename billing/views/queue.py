"""The platform admins' work queue: every item that waits for a person, with its action on the
page and its audit trail.

Each action posts to its own URL and calls the one service that does it: verify a provider
(``accounts.services``), approve or terminate a contract (``marketplace.services``), record a
bank transfer, issue a credit note, void an invoice by crediting it in full (billing), ask the
gateway again about a payment. With htmx the item is replaced in place (the form with its errors,
or the item as it is now, or a note that it left the queue); without JavaScript the post
redirects back to the queue, or shows the queue with the form's errors. A service's refusal is
a form error, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import services as accounts_services
from accounts.errors import DomainError, InvalidInput
from accounts.formatting import format_money
from accounts.models import IdempotencyRecord
from accounts.selectors import is_platform_admin
from billing import work_queue
from billing.credits.credit_notes import credit_note_issue, creditable
from billing.payments.charges import payment_reconcile
from billing.payments.gateways import card_gateway
from billing.payments.transfers import bank_transfer_record
from billing.views.queue_forms import (
    BankTransferForm,
    ConfirmForm,
    CreditNoteForm,
    OnceForm,
    TerminationForm,
    VoidForm,
)
from billing.views.queue_items import (
    Item,
    can_void,
    contract_item,
    flag_item,
    invoice_item,
    listing_item,
    payment_item,
    prefix,
    provider_item,
)
from marketplace import resale
from marketplace import services as market_services

# Refusals of the billing services, in the reader's language (their own texts are English).
BILLING_REFUSALS = {
    "duplicate_reference": lambda: _("This bank reference is already recorded for the invoice."),
    "invoice_not_payable": lambda: _("Nothing is owed on this invoice any more."),
    "invoice_not_creditable": lambda: _("This invoice is void or a draft: nothing to credit."),
    "invalid_transition": lambda: _("The invoice has changed meanwhile; reload the queue."),
}


def staff_required(view):
    """Anonymous visitors go to the login page; signed-in people who are not admins get 403."""

    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_platform_admin(request.user):
            raise PermissionDenied(_("Only platform admins see the work queue."))
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


# --- Actions --------------------------------------------------------------------------------
def _verify(request, organization, data) -> str:
    accounts_services.organization_verify(organization=organization, by=request.user)
    return _("%(name)s is verified: customers now see its listed clusters.") % {
        "name": organization.name
    }


def _approve(request, contract, data) -> str:
    market_services.contract_approve(contract=contract, by=request.user)
    return _("Contract %(number)s approved.") % {"number": contract.pk}


def _terminate(request, flag, data) -> str:
    market_services.contract_terminate(
        contract=flag.contract,
        by=request.user,
        reason=data["reason"],
        effective_date=data["effective_date"],
    )
    return _("Contract %(number)s terminated from %(date)s.") % {
        "number": flag.contract_id,
        "date": data["effective_date"].isoformat(),
    }


def _transfer(request, invoice, data) -> str:
    result = bank_transfer_record(
        invoice=invoice, amount=data["amount"], reference=data["reference"], actor=request.user
    )
    text = _("Bank transfer %(reference)s of %(amount)s recorded on %(invoice)s.") % {
        "reference": result.payment.reference,
        "amount": format_money(result.payment.amount),
        "invoice": invoice.number,
    }
    if result.to_balance:
        text += " " + _("%(amount)s beyond what was due went to the customer's balance.") % {
            "amount": format_money(result.to_balance)
        }
    return text


def _credit(request, invoice, data) -> str:
    left = creditable(invoice)
    if data["amount"] > left:
        raise InvalidInput(
            "amount",
            _("At most %(amount)s can be credited on this invoice.")
            % {"amount": format_money(left)},
        )
    note = credit_note_issue(
        invoice=invoice, amount=data["amount"], reason=data["reason"], by=request.user
    )
    return _("Credit note %(number)s of %(amount)s issued on %(invoice)s.") % {
        "number": note.number,
        "amount": format_money(note.amount),
        "invoice": invoice.number,
    }


def _void(request, invoice, data) -> str:
    if not can_void(invoice):
        raise DomainError(_("Money was paid or credited on it: issue a credit note."))
    note = credit_note_issue(
        invoice=invoice, amount=creditable(invoice), reason=data["reason"], by=request.user
    )
    return _("Invoice %(invoice)s is void (credit note %(number)s).") % {
        "invoice": invoice.number,
        "number": note.number,
    }


def _reconcile(request, payment, data) -> str:
    if card_gateway() is None:
        raise DomainError(
            _("Card payments are not configured here: check the payment in Stripe by its id.")
        )
    payment = payment_reconcile(payment=payment, actor_label=f"admin:{request.user.username}")
    return _("The gateway says: %(status)s.") % {"status": payment.get_status_display()}


def _withdraw(request, listing, data) -> str:
    resale.resale_withdraw(listing=listing, by=request.user)
    return _("Resale listing %(number)s withdrawn; what was sold stays sold.") % {
        "number": listing.pk
    }


@dataclass(frozen=True)
class Kind:
    queryset: Callable  # the queue's items of this kind
    item: Callable  # (obj, queue, bound) -> Item
    actions: dict[str, tuple[type[forms.Form], Callable]]
    billing: bool = False  # its services speak English: translate their refusals by code


KINDS = {
    "provider": Kind(
        work_queue.providers_to_verify, provider_item, {"verify": (ConfirmForm, _verify)}
    ),
    "contract": Kind(
        work_queue.contracts_awaiting_approval,
        contract_item,
        {"approve": (ConfirmForm, _approve)},
    ),
    "invoice": Kind(
        work_queue.invoices_overdue,
        invoice_item,
        {
            "transfer": (BankTransferForm, _transfer),
            "credit": (CreditNoteForm, _credit),
            "void": (VoidForm, _void),
        },
        billing=True,
    ),
    "flag": Kind(
        work_queue.contracts_flagged, flag_item, {"terminate": (TerminationForm, _terminate)}
    ),
    "payment": Kind(
        work_queue.payments_unknown, payment_item, {"reconcile": (ConfirmForm, _reconcile)}
    ),
    "listing": Kind(work_queue.listings_open, listing_item, {"withdraw": (ConfirmForm, _withdraw)}),
}


def _refusal(form: forms.Form, exc: DomainError, *, billing: bool) -> None:
    """Put a service's refusal on the field it names, or above the form."""
    message = BILLING_REFUSALS[exc.code]() if billing and exc.code in BILLING_REFUSALS else None
    if isinstance(exc, InvalidInput) and exc.field in form.fields:
        form.add_error(exc.field, message or exc.message)
        return
    named = [name for name in exc.details if name in form.fields]
    if named and message is None:
        for name in named:
            for text in exc.details[name]:
                form.add_error(name, text)
    else:
        form.add_error(None, message or exc.message)


class AlreadyDone(Exception):
    """This form (its one-time key) was submitted before: nothing is done twice."""


def _run_once(request: HttpRequest, form: forms.Form, run: Callable, obj) -> str:
    """Run the action; a money-creating form's key is recorded in the same transaction, so a
    repeat finds it (and a refused action leaves no key behind: it may be tried again)."""
    if not isinstance(form, OnceForm) or not form.cleaned_data.get("submission_key"):
        return run(request, obj, form.cleaned_data)
    with transaction.atomic():
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    user=request.user,
                    key=form.cleaned_data["submission_key"],
                    scope=f"POST {request.path}",
                    request_fingerprint="",
                )
        except IntegrityError as exc:
            raise AlreadyDone from exc
        return run(request, obj, form.cleaned_data)


def _one(kind: Kind, pk: int):
    """The queue's item ``pk`` of this kind, or None once it has left the queue."""
    return kind.queryset().filter(pk=pk).first()


@staff_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return _queue_page(request)


def _queue_page(request: HttpRequest, *, replace: Item | None = None, status: int = 200):
    data = work_queue.work_queue()
    sections = [
        ("providers", _("Providers to verify"), [provider_item(o, data) for o in data.providers]),
        (
            "contracts",
            _("Contracts awaiting approval"),
            [contract_item(c, data) for c in data.pending_contracts],
        ),
        ("invoices", _("Invoices overdue"), [invoice_item(i, data) for i in data.overdue_invoices]),
        ("flags", _("Contracts flagged"), [flag_item(f, data) for f in data.flags]),
        (
            "payments",
            _("Payments in unknown state"),
            [payment_item(p, data) for p in data.unknown_payments],
        ),
        (
            "listings",
            _("Secondary market: open resale listings"),
            [listing_item(listing, data) for listing in data.listings],
        ),
    ]
    if replace is not None:
        for _key, _title, items in sections:
            for index, item in enumerate(items):
                if item.dom_id == replace.dom_id:
                    items[index] = replace
    return render(
        request,
        "billing/queue.html",
        {"sections": sections, "total": data.total, "limit": work_queue.QUEUE_LIMIT},
        status=status,
    )


@staff_required
@require_POST
def queue_action(request: HttpRequest, kind: str, pk: int, action: str) -> HttpResponse:
    spec = KINDS.get(kind)
    if spec is None or action not in spec.actions:
        raise Http404
    obj = _one(spec, pk)
    partial = bool(request.htmx)
    if obj is None:
        text = _("This item has already left the queue.")
        if partial:
            return render(request, "billing/_queue_done.html", {"text": text, "dom_id": ""})
        messages.info(request, text)
        return redirect("queue")
    form_class, run = spec.actions[action]
    form = form_class(request.POST, prefix=prefix(kind, pk, action))
    text = None
    if form.is_valid():
        try:
            text = _run_once(request, form, run, obj)
        except AlreadyDone:
            text = _("This was already done; it was not done twice.")
        except DomainError as exc:
            _refusal(form, exc, billing=spec.billing)
    if text is None:  # invalid input or refused: the form again, with its errors
        item = spec.item(obj, None, (action, form))
        if partial:
            return render(request, "billing/_queue_item.html", {"item": item})
        return _queue_page(request, replace=item, status=400)
    if not partial:
        messages.success(request, text)
        return redirect("queue")
    still = _one(spec, pk)
    if still is None:
        dom_id = f"queue-{kind}-{pk}"
        return render(request, "billing/_queue_done.html", {"text": text, "dom_id": dom_id})
    item = spec.item(still, None, None)
    item.notice = text
    return render(request, "billing/_queue_item.html", {"item": item})
