"""`manage.py seed_demo`: load demo data for every app, in layer order. Safe to run repeatedly.

The command lives in the top app so it may call each lower app's seeding function.
"""

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from accounts.demo import DEMO_LOGINS, seed_accounts
from billing.demo import seed_billing, seed_mid_month_contract
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
        mid_month = seed_mid_month_contract(accounts)
        contracts = [*market.contracts, *([mid_month] if mid_month else [])]
        billing = seed_billing(contracts)
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
            self.stdout.write(
                f"Invoice {invoice.number}: {invoice.period_start} to {invoice.period_end}, "
                f"CNY {invoice.total:,} ({invoice.status}, due {invoice.due_date})."
            )
        if resold.listing is not None:
            self.stdout.write(
                f"Resale listing {resold.listing.pk}: {resold.listing.servers} servers of "
                f"contract {resold.listing.contract_id}, {resold.listing.sold_servers} sold"
                + (f" (resale contract {resold.sale.pk})." if resold.sale else ".")
            )
        self.stdout.write(
            f"Open request {market.open_request.pk} with "
            f"{market.open_request.quotes.count()} quote(s)."
        )
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Demo logins:"))
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<12} {login.password:<24} {login.what}")
