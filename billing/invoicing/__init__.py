"""Invoicing: issuing each contract month's invoice in advance (with the SLA credits due), and
marking unpaid invoices overdue and their contracts flagged."""
