"""Provider payouts: what customers paid in the month, split by the contract's line values,
less the platform's commission and the SLA credits of the provider's clusters."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.money import ZERO
from billing.credits import credit_notes
from billing.ledger import invoices as ledger
from billing.models import BillingEvent, Invoice, PayoutStatement
from billing.payouts import statements
from billing.payouts.statements import InvalidPayoutTransition
from billing.periods import local_midnight
from billing.tasks import daily
from inventory.models import Outage
from marketplace.terms import months_after
from tests.billing.conftest import make_contract, new_customer
from tests.conftest import client_for
from tests.factories import ClusterFactory, ProviderFactory, member_of

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH, JULY = date(2027, 3, 1), date(2027, 7, 1)


def this_month() -> date:
    """Payments are dated when they are recorded, so statements are built for this month."""
    return timezone.localdate().replace(day=1)


def month_over() -> datetime:
    """The first moment this month's statements may be closed: midnight on the 1st of next
    month, in the platform's time zone."""
    return local_midnight(months_after(this_month(), 1), timezone.get_current_timezone())


def pay(invoice: Invoice) -> None:
    ledger.invoice_apply_payment(invoice=invoice, amount=invoice.total, actor_label="test")


@pytest.fixture
def paid_july(customer, cluster, run_day):
    """Two servers since March; 5 servers down 2 h in June (credit 87.53 on July's invoice);
    July's invoice paid in full."""
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 2)])
    Outage.objects.create(
        cluster=cluster,
        start=datetime(2027, 6, 10, 8, tzinfo=SHANGHAI),
        end=datetime(2027, 6, 10, 10, tzinfo=SHANGHAI),
        servers_affected=5,
        description="Switch fault",
    )
    run_day(JULY)
    july = Invoice.objects.get(contract=contract, period_start=JULY)
    pay(july)
    return contract, july


def test_a_statement_pays_the_provider_what_was_paid_less_commission_and_sla_credits(
    provider, paid_july, settings
):
    contract, july = paid_july
    assert july.total == Decimal("99752.47")  # 99,840.00 less the 87.53 credit

    [statement] = statements.payouts_build(month=this_month())

    assert statement.provider == provider
    assert statement.period_start == this_month()
    assert statement.commission_rate == settings.PLATFORM_COMMISSION_RATE == Decimal("0.10")
    # Collected tax included, and its VAT at 6 %: 99,840.00 = 94,188.68 + 5,651.32.
    assert statement.collected == Decimal("99840.00")
    assert (statement.collected_net_of_vat, statement.vat) == (
        Decimal("94188.68"),
        Decimal("5651.32"),
    )
    # The commission is taken on the VAT-exclusive amount by default: 10 % of 94,188.68.
    assert statement.commission_base == settings.PLATFORM_COMMISSION_BASE == "net_of_vat"
    assert statement.commission == Decimal("9418.87")
    assert statement.sla_withheld == Decimal("87.53")
    assert statement.payable == Decimal("90333.60")
    # The customer paid exactly what the provider gets plus the platform's commission.
    assert statement.payable + statement.commission == july.total
    [line] = statement.lines.all()
    assert (line.contract, line.invoice, line.payable) == (contract, july, statement.payable)
    assert july.number in line.description


def test_a_payment_is_split_between_providers_by_their_lines_annual_value(customer, run_day):
    first, second = ProviderFactory(name="Hefei Compute"), ProviderFactory(name="Wuhu DC")
    a800 = ClusterFactory(provider=first, available_from=date(2020, 1, 1))  # 120,000 / P / yr
    cheaper = ClusterFactory(
        provider=second, available_from=date(2020, 1, 1), price_per_p_year=Decimal("100000")
    )
    # 1 x 4.992 P x 120,000 = 599,040 a year; 2 x 4.992 P x 100,000 = 998,400 a year.
    contract = make_contract(customer, start=MARCH, stakes=[(a800, 1), (cheaper, 2)])
    run_day(MARCH)
    march = Invoice.objects.get(contract=contract)
    assert march.total == Decimal("133120.00")
    pay(march)

    by_provider = {s.provider: s for s in statements.payouts_build(month=this_month())}

    assert by_provider[first].collected == Decimal("49920.00")  # 599,040 / 12
    assert by_provider[second].collected == Decimal("83200.00")  # 998,400 / 12
    # The invoice's VAT (7,535.09) split the same way: 2,825.66 and 4,709.43.
    assert by_provider[first].vat + by_provider[second].vat == march.tax
    assert by_provider[first].vat == Decimal("2825.66")
    assert by_provider[first].commission == Decimal("4709.43")  # 10 % of 47,094.34
    assert by_provider[second].payable == Decimal("83200.00") - by_provider[second].commission


def test_only_paid_invoices_count_and_building_again_changes_nothing(
    provider, customer, cluster, paid_july, run_day
):
    other = make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)])
    run_day(JULY)  # issued, unpaid: not in the statement
    [first] = statements.payouts_build(month=this_month())
    [again] = statements.payouts_build(month=this_month())
    assert first.pk == again.pk
    assert again.lines.count() == 1
    assert not again.lines.filter(contract=other).exists()
    assert PayoutStatement.objects.count() == 1
    events = BillingEvent.objects.filter(subject="payout", subject_id=first.pk)
    assert [(e.from_status, e.to_status) for e in events] == [("", "open")]


def test_a_closed_statement_is_final(provider, cluster, paid_july, run_day, staff_user):
    [statement] = statements.payouts_build(month=this_month())
    closed = statements.payout_close(statement=statement, by=staff_user, now=month_over())
    assert closed.status == "closed" and closed.closed_at is not None

    late = make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    pay(Invoice.objects.get(contract=late))
    assert statements.payouts_build(month=this_month()) == []
    closed.refresh_from_db()
    assert closed.payable == Decimal("90333.60") and closed.lines.count() == 1
    with pytest.raises(InvalidPayoutTransition):
        statements.payout_close(statement=closed, by=staff_user, now=month_over())
    paid_out = statements.payout_transition(statement=closed, to="paid", actor=staff_user)
    assert paid_out.status == "paid"
    assert [
        (e.from_status, e.to_status)
        for e in BillingEvent.objects.filter(subject="payout", subject_id=closed.pk)
    ] == [("", "open"), ("open", "closed"), ("closed", "paid")]


def test_a_credit_note_after_payment_comes_off_the_providers_statement(
    provider, paid_july, staff_user
):
    _, july = paid_july
    credit_notes.credit_note_issue(
        invoice=july, amount=Decimal("1000.00"), reason="Goodwill", by=staff_user
    )
    [statement] = statements.payouts_build(month=this_month())
    refund = statement.lines.get(collected__lt=0)
    # The credit note's 1,000.00 is 943.40 + 56.60 VAT; commission comes back on 943.40.
    assert (refund.collected, refund.vat, refund.commission, refund.payable) == (
        Decimal("-1000.00"),
        Decimal("-56.60"),
        Decimal("-94.34"),
        Decimal("-905.66"),
    )
    assert statement.collected == Decimal("98840.00")
    assert statement.payable == Decimal("90333.60") - Decimal("905.66")


def test_the_run_on_the_1st_builds_the_previous_months_statements(run_day, monkeypatch):
    months = []
    monkeypatch.setattr(
        daily, "payouts_build", lambda *, month, actor_label="": months.append(month) or []
    )
    run_day(date(2027, 5, 2))
    run_day(date(2027, 5, 1))
    assert months == [date(2027, 4, 1)]


# --- API ------------------------------------------------------------------------------------
def test_providers_see_their_own_statements_only(provider, paid_july, staff_client, customer):
    [statement] = statements.payouts_build(month=this_month())
    mine = client_for(member_of(provider))
    response = mine.get("/api/v1/payouts/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == statement.pk
    assert (
        row["collected"],
        row["vat"],
        row["collected_net_of_vat"],
        row["commission_base"],
        row["commission"],
        row["sla_withheld"],
        row["payable"],
    ) == ("99840.00", "5651.32", "94188.68", "net_of_vat", "9418.87", "87.53", "90333.60")
    line = mine.get(f"/api/v1/payouts/{statement.pk}/").json()["lines"][0]
    assert (line["vat"], line["payable"]) == ("5651.32", "90333.60")

    stranger = client_for(member_of(ProviderFactory(name="Someone else")))
    assert stranger.get("/api/v1/payouts/").json()["results"] == []
    assert stranger.get(f"/api/v1/payouts/{statement.pk}/").status_code == 404
    payer = client_for(customer.memberships.first().user)
    assert payer.get(f"/api/v1/payouts/{statement.pk}/").status_code == 404
    assert staff_client.get("/api/v1/payouts/").json()["count"] == 1


def test_statement_totals_are_the_sum_of_their_lines(provider, paid_july):
    [statement] = statements.payouts_build(month=this_month())
    lines = list(statement.lines.all())
    for name in statements.SUMMED_FIELDS:
        assert sum((getattr(line, name) for line in lines), ZERO) == getattr(statement, name)


def test_the_commission_base_is_a_setting(provider, paid_july, settings):
    settings.PLATFORM_COMMISSION_BASE = "collected"
    [statement] = statements.payouts_build(month=this_month())
    assert statement.commission_base == "collected"
    assert statement.commission == Decimal("9984.00")  # 10 % of 99,840.00, tax included
    assert statement.payable == Decimal("89768.47")


@pytest.mark.parametrize(
    ("field", "value"),
    [("vat", Decimal("1.00")), ("payable", Decimal("1.00")), ("commission_base", "gross")],
)
def test_check_constraints_keep_the_sums(provider, paid_july, field, value):
    from django.db import IntegrityError, transaction

    [statement] = statements.payouts_build(month=this_month())
    line = statement.lines.get()
    for model, pk in ((PayoutStatement, statement.pk), (type(line), line.pk)):
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.filter(pk=pk).update(**{field: value})
