"""`manage.py seed_demo`: load demo data for every app, in layer order. Safe to run repeatedly.

The command lives in the top app so it may call each lower app's seeding function.
"""

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from accounts.demo import DEMO_LOGINS, seed_accounts
from billing.demo import (
    seed_billing,
    seed_fapiao_and_payouts,
    seed_mid_month_contract,
    seed_overdue_invoice,
    seed_paid_month,
    seed_refund_and_dispute,
    seed_resale_proceeds,
    seed_unknown_payment,
)
from inventory.demo import seed_inventory
from marketplace.demo import seed_market
from marketplace.demo_resale import seed_resale


class Command(BaseCommand):
    help = "Create (or keep) the demo organisations, users and data. Idempotent."

    def handle(self, *args, **options):
        # Demo invoices would each print an "invoice issued" mail on the console backend and
        # bury the logins below; the demo's mails go nowhere instead.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            self._seed()

    def _seed(self):
        accounts = seed_accounts()
        inventory = seed_inventory(accounts)
        market = seed_market(accounts)
        resold = seed_resale(accounts)
        proceeds = seed_resale_proceeds(accounts, sale=resold.sale, own=resold.own)
        mid_month = seed_mid_month_contract(accounts)
        contracts = [
            *market.contracts,
            *([mid_month] if mid_month else []),
            *([resold.sale] if resold.sale else []),
            *([resold.own] if resold.own else []),
        ]
        seed_overdue_invoice(mid_month)
        billing = seed_billing(contracts)
        disputes = seed_refund_and_dispute(accounts, mid_month)
        running = market.contracts[0] if market.contracts else None
        seed_paid_month(running, admin=accounts.admin)
        seed_unknown_payment(mid_month)
        paid = seed_fapiao_and_payouts(accounts)
        self.stdout.write(
            f"Clusters: {len(inventory.clusters)} listed or drafted by {accounts.provider}."
        )
        for contract in contracts:
            self.stdout.write(
                f"Contract {contract.pk}: {contract.total_p.normalize()} P, "
                f"{contract.start_date} to {contract.end_date}, CNY {contract.total_price:,} "
                f"({contract.status})."
            )
        for invoice in billing.invoices:
            invoice.refresh_from_db()
            self.stdout.write(
                f"Invoice {invoice.number}: {invoice.period_start} to {invoice.period_end}, "
                f"CNY {invoice.total:,} ({invoice.status}, due {invoice.due_date})."
            )
        if disputes.refund is not None:
            self.stdout.write(
                f"Refund of CNY {disputes.refund.amount:,} on invoice "
                f"{disputes.refund.payment.invoice.number} ({disputes.refund.status})."
            )
        if disputes.dispute is not None:
            self.stdout.write(
                f"Dispute of invoice {disputes.dispute.invoice.number} ({disputes.dispute.status})."
            )
        for request in paid.fapiao_requests:
            self.stdout.write(
                f"Fapiao request {request.pk} for {request.invoice.number}: {request.status}"
                f"{f' ({request.fapiao_number})' if request.fapiao_number else ''}."
            )
        for statement in paid.payouts:
            self.stdout.write(
                f"Payout {statement.provider} {statement.period_start:%Y-%m}: collected CNY "
                f"{statement.collected:,} (VAT {statement.vat:,}), commission "
                f"{statement.commission:,} on {statement.commission_base}, payable "
                f"{statement.payable:,}."
            )
        if resold.listing is not None:
            self.stdout.write(
                f"Resale listing {resold.listing.pk}: {resold.listing.servers} servers of "
                f"contract {resold.listing.contract_id}, {resold.listing.sold_servers} sold"
                + (f" (resale contract {resold.sale.pk})." if resold.sale else ".")
            )
        if proceeds.statement is not None and proceeds.invoice is not None:
            self.stdout.write(
                f"Resale proceeds of {proceeds.statement.provider} "
                f"{proceeds.statement.period_start:%Y-%m}: CNY {proceeds.statement.payable:,} "
                f"applied to balance ({proceeds.statement.status}), paying invoice "
                f"{proceeds.invoice.number} ({proceeds.invoice.status})."
            )
        self.stdout.write(
            f"Open request {market.open_request.pk} with "
            f"{market.open_request.quotes.count()} quote(s)."
        )
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Demo logins:"))
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<12} {login.password:<24} {login.what}")
