"""Billing documents: the customer's statement PDF (``pdf``, 账单 / Statement), the admins'
invoice CSV (``export``) and the provider's payout statement PDF and CSV (``payouts``)."""

from billing.documents.export import invoices_csv
from billing.documents.pdf import invoice_pdf

__all__ = ["invoice_pdf", "invoices_csv"]
