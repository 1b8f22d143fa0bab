"""Billing pages, one module per concern (invoices, payments, payouts, fapiao, dashboards...)."""
