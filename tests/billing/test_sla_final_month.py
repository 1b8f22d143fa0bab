"""SLA credits of a contract's last month: no next invoice carries them, so once its service is
over the daily run credits them by a credit note on the contract's last invoice, and the
provider's payout withholds them in the month the credit note is issued.

Figures by hand, as in ``test_sla_credits``: 10 A800 servers (4.992 P each) at CNY 120,000
per P per year, 99.9 % SLA. One server-hour costs 4.992 x 120,000 / 8,760 = CNY 68.38356...
June has 720 h, so its allowance is 0.72 h.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.money import ZERO
from billing.credits import sla_credits
from billing.ledger import invoices as ledger
from billing.models import BalanceEntry, CreditNote, Invoice, SlaCredit
from billing.payouts import statements
from inventory.models import Outage
from tests.billing.conftest import make_contract

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAY, JUNE, JULY, AUGUST = date(2027, 5, 1), date(2027, 6, 1), date(2027, 7, 1), date(2027, 8, 1)
TWO_SERVERS_MONTH = Decimal("99840.00")  # 2 x 4.992 P x 120,000 / 12
# 5 of 10 servers down 2 h: the contract's share is 2 x 5 / 10 = 1 server. Beyond the
# allowance: 2 - 0.72 = 1.28 h. 1 x 68.38356... x 1.28 = 87.5309... -> CNY 87.53.
CREDIT = Decimal("87.53")


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=SHANGHAI)


def outage(cluster, start: datetime, end: datetime, servers: int) -> Outage:
    return Outage.objects.create(
        cluster=cluster, start=start, end=end, servers_affected=servers, description="PSU fault"
    )


@pytest.fixture
def contract(customer, cluster):
    """Two of the ten servers for May and June: June is the last month."""
    return make_contract(customer, start=MAY, term_months=2, stakes=[(cluster, 2)])


def june_invoice(contract) -> Invoice:
    return Invoice.objects.get(contract=contract, period_start=JUNE)


def test_an_outage_in_the_last_month_is_credited_by_a_credit_note(contract, cluster, run_day):
    down = outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JUNE)  # May and June invoiced; June is not over
    run_day(date(2027, 6, 20))
    assert not CreditNote.objects.exists() and not SlaCredit.objects.exists()

    run_day(JULY)

    june = june_invoice(contract)
    assert not Invoice.objects.filter(contract=contract, period_start=JULY).exists()
    assert june.lines.filter(kind="sla_credit").count() == 0  # issued before: unchanged
    [note] = CreditNote.objects.all()
    assert note.invoice == june
    assert note.amount == CREDIT
    assert note.net + note.tax == note.amount
    assert "1.28 h beyond the 99.9% allowance of the contract month" in note.reason
    [credit] = SlaCredit.objects.all()
    assert (credit.contract, credit.outage, credit.amount) == (contract, down, CREDIT)
    assert credit.credited_hours == Decimal("1.2800")
    assert credit.credit_note == note and credit.invoice_line is None
    down.refresh_from_db()
    assert down.invoiced_at is not None
    # June was unpaid: the credit comes off what is due.
    assert june.total == TWO_SERVERS_MONTH
    assert june.amount_due == TWO_SERVERS_MONTH - CREDIT
    assert june.status in ("open", "overdue")  # 30 days on: overdue by now


def test_running_the_day_again_creates_nothing_new(contract, cluster, run_day):
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JUNE)
    run_day(JULY)
    run_day(JULY)
    run_day(AUGUST)
    assert sla_credits.sla_final_credits_settle(today=AUGUST) == 0
    assert CreditNote.objects.count() == 1
    assert SlaCredit.objects.count() == 1
    assert june_invoice(contract).amount_due == TWO_SERVERS_MONTH - CREDIT


def test_an_outage_within_the_allowance_earns_no_credit_note(contract, cluster, run_day):
    down = outage(cluster, at(6, 10, 8), at(6, 10, 8, 30), servers=10)  # 0.5 h < 0.72 h
    run_day(JUNE)
    run_day(JULY)
    assert not CreditNote.objects.exists()
    [credit] = SlaCredit.objects.all()  # looked at once, worth nothing
    assert credit.amount == ZERO and credit.credit_note is None
    down.refresh_from_db()
    assert down.invoiced_at is not None
    assert june_invoice(contract).amount_due == TWO_SERVERS_MONTH
    run_day(AUGUST)
    assert SlaCredit.objects.count() == 1 and not CreditNote.objects.exists()


def test_a_paid_last_invoice_credits_the_customers_balance(customer, contract, cluster, run_day):
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JUNE)
    june = june_invoice(contract)
    ledger.invoice_apply_payment(invoice=june, amount=june.total, actor_label="test")
    run_day(JULY)
    [note] = CreditNote.objects.all()
    assert note.amount == CREDIT
    [entry] = BalanceEntry.objects.all()
    assert (entry.organization, entry.amount) == (customer, CREDIT)


def test_earlier_months_are_still_credited_on_the_next_invoice(contract, cluster, run_day):
    outage(cluster, at(5, 10, 8), at(5, 10, 10), servers=5)  # May: 744 h, allowance 0.744 h
    run_day(JUNE)
    run_day(JULY)
    # 1 x 68.38356... x (2 - 0.744) = 85.889... -> CNY 85.89, on June's invoice.
    lines = [line.amount for line in june_invoice(contract).lines.filter(kind="sla_credit")]
    assert lines == [Decimal("-85.89")]
    assert not CreditNote.objects.exists()


def test_the_providers_payout_withholds_the_credit_note(provider, contract, cluster, run_day):
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)
    run_day(JUNE)
    run_day(JULY)
    june = june_invoice(contract)
    ledger.invoice_apply_payment(invoice=june, amount=june.amount_due, actor_label="test")
    june.refresh_from_db()
    assert june.status == "paid"

    # Payments and credit notes are dated when recorded: the statement of this month.
    [statement] = statements.payouts_build(month=timezone.localdate().replace(day=1))

    assert statement.provider == provider
    assert statement.collected == TWO_SERVERS_MONTH  # the credit note is withheld, not refunded
    assert statement.commission == Decimal("9418.87")  # 10 % of 94,188.68, excluding VAT
    assert statement.sla_withheld == CREDIT
    assert statement.payable == Decimal("90333.60")
    # The customer paid exactly what the provider gets plus the platform's commission.
    assert statement.payable + statement.commission == TWO_SERVERS_MONTH - CREDIT
    note = CreditNote.objects.get()
    withheld = statement.lines.get(sla_withheld__gt=0)
    assert (withheld.invoice, withheld.collected, withheld.payable) == (june, ZERO, -CREDIT)
    assert note.number in withheld.description


def test_a_terminated_contracts_last_month_is_credited_too(customer, cluster, staff_user, run_day):
    from marketplace import services as market

    contract = make_contract(customer, start=MAY, term_months=12, stakes=[(cluster, 2)])
    outage(cluster, at(6, 10, 8), at(6, 10, 10), servers=5)  # inside the service: 87.53
    run_day(JUNE)  # June billed in advance, in full
    market.contract_terminate(
        contract=contract, by=staff_user, reason="Customer asked", effective_date=date(2027, 6, 16)
    )
    run_day(date(2027, 6, 17))  # service is over: the unserved half of June and the outage
    termination = CreditNote.objects.get(sla_credits__isnull=True)
    assert termination.amount == TWO_SERVERS_MONTH / 2
    note = CreditNote.objects.exclude(pk=termination.pk).get()
    assert note.invoice == june_invoice(contract)
    # The served part of the last contract month, 1-16 June (360 h), allows 0.36 h: 1.64 h
    # beyond it, x 68.38356... = 112.147... -> CNY 112.15.
    assert note.amount == Decimal("112.15")
    assert SlaCredit.objects.get().credit_note == note

    run_day(JULY)
    run_day(AUGUST)  # neither settlement is repeated
    assert CreditNote.objects.count() == 2
