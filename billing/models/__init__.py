"""Billing's models, one module per concern; every model is importable from here."""

from billing.models.audit import BillingEvent, BillingRunStep
from billing.models.disputes import DisputeStatus, InvoiceDispute, Refund, RefundStatus
from billing.models.fapiao import FapiaoKind, FapiaoRequest, FapiaoStatus
from billing.models.invoices import (
    INVOICE_FINANCIAL_FIELDS,
    TAX_RATE_DIGITS,
    ContractOverdueFlag,
    CreditNote,
    DocumentSequence,
    FinalisedInvoiceError,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    SlaCredit,
)
from billing.models.payments import (
    IN_FLIGHT,
    BalanceEntry,
    BillingAccount,
    Gateway,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ResaleProceeds,
    WebhookEvent,
)
from billing.models.payouts import CommissionBase, PayoutLine, PayoutStatement, PayoutStatus

__all__ = [
    "INVOICE_FINANCIAL_FIELDS",
    "IN_FLIGHT",
    "TAX_RATE_DIGITS",
    "BalanceEntry",
    "BillingAccount",
    "BillingEvent",
    "BillingRunStep",
    "CommissionBase",
    "ContractOverdueFlag",
    "CreditNote",
    "DisputeStatus",
    "DocumentSequence",
    "FapiaoKind",
    "FapiaoRequest",
    "FapiaoStatus",
    "FinalisedInvoiceError",
    "Gateway",
    "Invoice",
    "InvoiceDispute",
    "InvoiceLine",
    "InvoiceLineKind",
    "InvoiceStatus",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "PayoutLine",
    "PayoutStatement",
    "PayoutStatus",
    "Refund",
    "RefundStatus",
    "ResaleProceeds",
    "SlaCredit",
    "WebhookEvent",
]
