"""Fapiao requests for paid invoices (``requests``) and the admins' bulk-issue CSV (``export``)."""
