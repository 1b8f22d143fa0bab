"""Billing documents: the invoice PDF (``pdf``) and the admins' CSV export (``export``)."""

from billing.documents.export import invoices_csv
from billing.documents.pdf import invoice_pdf

__all__ = ["invoice_pdf", "invoices_csv"]
