"""`manage.py seed_demo`: load demo data for every app, in layer order. Safe to run repeatedly.

The command lives in the top app so it may call each lower app's seeding function.
"""

from django.core.management.base import BaseCommand

from accounts.demo import DEMO_LOGINS, seed_accounts
from inventory.demo import seed_inventory
from marketplace.demo import seed_market


class Command(BaseCommand):
    help = "Create (or keep) the demo organisations, users and data. Idempotent."

    def handle(self, *args, **options):
        accounts = seed_accounts()
        inventory = seed_inventory(accounts)
        market = seed_market(accounts)
        self.stdout.write(
            f"Clusters: {len(inventory.clusters)} listed or drafted by {accounts.provider}."
        )
        for contract in market.contracts:
            self.stdout.write(
                f"Contract {contract.pk}: {contract.total_p.normalize()} P, "
                f"{contract.start_date} to {contract.end_date}, CNY {contract.total_price:,} "
                f"({contract.status})."
            )
        self.stdout.write(
            f"Open request {market.open_request.pk} with "
            f"{market.open_request.quotes.count()} quote(s)."
        )
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Demo logins:"))
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<12} {login.password:<24} {login.what}")
