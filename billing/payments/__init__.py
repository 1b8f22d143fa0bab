"""Payments: card charges through a gateway (Stripe) and their reconciliation, bank transfers,
customers' balances, refunds, cards on file, Stripe webhooks, and daily collection and dunning
on one schedule (``dunning``). Gateways live in ``gateways``, one small interface each."""
