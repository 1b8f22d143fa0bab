"""`manage.py run_billing [--date YYYY-MM-DD]`: run a day's billing now, synchronously.

Exactly the steps the daily Celery job runs, in its order (``billing.tasks.daily.day_plan``),
for any day, past or future: issuing for a future day issues everything due by then. Safe to
repeat.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.tasks.daily import run_day_now


class Command(BaseCommand):
    help = "Run the billing pipeline for one day, synchronously (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to bill, YYYY-MM-DD (default: today).")

    def handle(self, *args, **options):
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD: {exc}") from exc
        summary = run_day_now(today or timezone.localdate())
        self.stdout.write(f"Billing run for {summary.pop('date')}:")
        self.stdout.write(
            f"  invoices issued: {summary.pop('invoices')} in {summary.pop('chunks')} chunk(s), "
            f"with {summary.pop('sla_credits')} SLA credit line(s)"
        )
        for step, result in summary.items():
            self.stdout.write(f"  {step.replace('_', ' ')}: {result}")
        self.stdout.write(self.style.SUCCESS("Done."))
