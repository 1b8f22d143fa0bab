"""The ledger core every billing concern builds on: the audit trail, gap-free document numbers,
the invoice state machine with money received, and customers' balances."""
