"""Fapiao requests: a customer asks, the finance team issues in the tax-control software and
records the number and date, or rejects with a reason. Every change audited.

Rules (this module is their one home):
- only a paid invoice gets a fapiao (409 ``invoice_not_paid``);
- one open request per invoice (409 ``fapiao_request_open``), and none once one is issued
  (409 ``fapiao_already_issued``); a rejected request may be followed by a new one;
- the taxpayer ID is a unified social credit code (validated by the model's field);
- a special VAT fapiao (专票) carries the buyer's address, phone, bank and account, taken from
  the organisation's legal profile when requested: it must be complete (400 on ``kind``);
- requested -> issued (with a number unique across fapiao, dated today or earlier) or
  requested -> rejected (with a reason); both final.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import DomainError, InvalidInput
from accounts.models import Organization, User
from billing.ledger.audit import billing_event_record
from billing.models import (
    BillingEvent,
    FapiaoKind,
    FapiaoRequest,
    FapiaoStatus,
    Invoice,
    InvoiceStatus,
)


class InvoiceNotPaid(DomainError):
    code = "invoice_not_paid"
    status = 409


class FapiaoRequestOpen(DomainError):
    code = "fapiao_request_open"
    status = 409


class FapiaoAlreadyIssued(DomainError):
    code = "fapiao_already_issued"
    status = 409


class InvalidFapiaoRequest(DomainError):
    code = "invalid"
    status = 400


class FapiaoRequestDecided(DomainError):
    code = "fapiao_request_decided"
    status = 409


def fapiao_defaults(organization: Organization) -> dict[str, str]:
    """What a request from ``organization`` is pre-filled with: its legal profile."""
    return {
        "title": organization.legal_name or organization.name,
        "tax_id": organization.unified_social_credit_code,
    }


def _joined(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())


def fapiao_request_create(
    *, invoice: Invoice, kind: str, title: str, tax_id: str, by: User | None = None
) -> FapiaoRequest:
    """Request a fapiao for ``invoice`` (see the module's rules)."""
    if kind not in FapiaoKind.values:
        raise InvalidInput("kind", _("Choose a special or an ordinary VAT fapiao."))
    title, tax_id = title.strip(), tax_id.strip().upper()
    if not title:
        raise InvalidInput("title", _("Enter the name the fapiao should carry."))
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
        if locked.status != InvoiceStatus.PAID:
            raise InvoiceNotPaid(
                _("A fapiao can be requested only for a paid invoice."),
                details={"invoice": [_("This invoice is not paid yet.")]},
            )
        existing = set(
            FapiaoRequest.objects.filter(invoice=locked).values_list("status", flat=True)
        )
        if FapiaoStatus.ISSUED in existing:
            raise FapiaoAlreadyIssued(
                _("A fapiao has already been issued for this invoice."),
                details={"invoice": [_("A fapiao has already been issued for this invoice.")]},
            )
        if FapiaoStatus.REQUESTED in existing:
            raise FapiaoRequestOpen(
                _("A fapiao request for this invoice is already waiting to be issued."),
                details={"invoice": [_("A request for this invoice is already open.")]},
            )
        customer = locked.customer
        request = FapiaoRequest(
            invoice=locked,
            kind=kind,
            title=title,
            tax_id=tax_id,
            address_phone=_joined(customer.registered_address, customer.phone)[:300],
            bank_account=_joined(customer.bank_name, customer.bank_account)[:300],
            requested_by=by if by is not None and by.is_authenticated else None,
        )
        profile = (customer.registered_address, customer.phone, customer.bank_name)
        if kind == FapiaoKind.SPECIAL and not all(
            p.strip() for p in (*profile, customer.bank_account)
        ):
            raise InvalidInput(
                "kind",
                _(
                    "A special VAT fapiao needs your organisation's registered address, phone, "
                    "bank and account: complete the organisation profile first."
                ),
            )
        try:
            request.full_clean(exclude=["invoice", "requested_by", "decided_by"])
        except ValidationError as exc:
            raise InvalidFapiaoRequest(
                _("The fapiao request is not valid."), details=exc.message_dict
            ) from None
        request.save()
        billing_event_record(
            BillingEvent.Subject.FAPIAO_REQUEST,
            request.pk,
            "",
            FapiaoStatus.REQUESTED,
            actor=by,
            reason=f"{request.get_kind_display()} for {locked.number}",
        )
    return request


def _decide(request: FapiaoRequest) -> FapiaoRequest:
    locked = FapiaoRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != FapiaoStatus.REQUESTED:
        raise FapiaoRequestDecided(
            _("This fapiao request has already been decided."),
            details={"status": [locked.get_status_display()]},
        )
    return locked


def fapiao_mark_issued(
    *, request: FapiaoRequest, fapiao_number: str, issued_on: date, by: User | None = None
) -> FapiaoRequest:
    """Record the fapiao the tax-control software issued for ``request``."""
    fapiao_number = fapiao_number.strip()
    if not fapiao_number:
        raise InvalidInput("fapiao_number", _("Enter the fapiao's number."))
    if issued_on > timezone.localdate():
        raise InvalidInput("issued_on", _("A fapiao cannot be issued in the future."))
    with transaction.atomic():
        locked = _decide(request)
        if FapiaoRequest.objects.filter(fapiao_number=fapiao_number).exclude(pk=locked.pk).exists():
            raise InvalidInput(
                "fapiao_number", _("This fapiao number is already recorded on another request.")
            )
        locked.status = FapiaoStatus.ISSUED
        locked.fapiao_number = fapiao_number
        locked.issued_on = issued_on
        locked.decided_by = by if by is not None and by.is_authenticated else None
        locked.decided_at = timezone.now()
        locked.save(
            update_fields=["status", "fapiao_number", "issued_on", "decided_by", "decided_at"]
        )
        billing_event_record(
            BillingEvent.Subject.FAPIAO_REQUEST,
            locked.pk,
            FapiaoStatus.REQUESTED,
            FapiaoStatus.ISSUED,
            actor=by,
            reason=f"Fapiao {fapiao_number} issued on {issued_on:%Y-%m-%d}",
        )
    return locked


def fapiao_reject(*, request: FapiaoRequest, reason: str, by: User | None = None) -> FapiaoRequest:
    """Reject ``request`` with a reason the customer sees; it may then request again."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why the request is rejected."))
    with transaction.atomic():
        locked = _decide(request)
        locked.status = FapiaoStatus.REJECTED
        locked.rejection_reason = reason
        locked.decided_by = by if by is not None and by.is_authenticated else None
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "rejection_reason", "decided_by", "decided_at"])
        billing_event_record(
            BillingEvent.Subject.FAPIAO_REQUEST,
            locked.pk,
            FapiaoStatus.REQUESTED,
            FapiaoStatus.REJECTED,
            actor=by,
            reason=reason,
        )
    return locked
