"""Issuing invoices: monthly in advance, catch-up, numbering, VAT, immutability, overdue,
termination, credit notes, the day's pipeline and its command."""

import re
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import errors
from accounts.money import ZERO, quantize_money, split_tax
from billing import selectors
from billing.credits import credit_notes, terminations
from billing.invoicing import issue
from billing.ledger import balance
from billing.ledger import invoices as ledger
from billing.ledger.invoices import INVOICE_TRANSITIONS, InvalidInvoiceTransition
from billing.models import (
    BalanceEntry,
    BillingEvent,
    ContractOverdueFlag,
    CreditNote,
    DocumentSequence,
    FinalisedInvoiceError,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from marketplace import services as market
from marketplace.models import Contract
from marketplace.pricing import exact_annual_price, monthly_price
from tests.billing.conftest import make_contract, new_customer
from tests.factories import ClusterFactory, capacity_request

pytestmark = pytest.mark.django_db

MARCH = date(2027, 3, 1)
A800_SERVER_YEAR = Decimal("599040.00")  # 4.992 P x 120,000
A800_SERVER_MONTH = Decimal("49920.00")


def invoices_of(contract: Contract) -> list[Invoice]:
    return list(Invoice.objects.filter(contract=contract).order_by("period_start"))


def rental_sum(contract: Contract) -> Decimal:
    return sum(
        (
            line.amount
            for line in InvoiceLine.objects.filter(invoice__contract=contract, kind="rental")
        ),
        ZERO,
    )


# --- Monthly in advance ---------------------------------------------------------------------
def test_a_contract_starting_on_the_1st_is_billed_a_full_month_in_advance_that_day(
    customer, cluster, run_day, settings
):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    assert contract.annual_price == A800_SERVER_YEAR

    summary = run_day(MARCH)

    assert summary["invoices"] == 1
    [invoice] = invoices_of(contract)
    assert (invoice.period_start, invoice.period_end) == (MARCH, date(2027, 4, 1))
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number == "INV-2027-000001"
    assert invoice.issue_date == MARCH
    assert invoice.due_date == MARCH + timedelta(days=settings.INVOICE_NET_DAYS)
    assert invoice.total == A800_SERVER_MONTH
    assert invoice.customer == customer


def test_the_day_before_the_start_bills_nothing_and_the_next_day_nothing_more(
    customer, cluster, run_day
):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH - timedelta(days=1))
    assert invoices_of(contract) == []
    run_day(MARCH)
    run_day(MARCH + timedelta(days=1))
    run_day(date(2027, 3, 31))
    assert len(invoices_of(contract)) == 1
    run_day(date(2027, 4, 1))
    assert [i.period_start for i in invoices_of(contract)] == [MARCH, date(2027, 4, 1)]


def test_a_mid_month_start_bills_a_whole_contract_month_from_its_start(customer, cluster, run_day):
    start = date(2027, 3, 17)
    contract = make_contract(customer, start=start, term_months=3, stakes=[(cluster, 1)])
    run_day(start)
    [invoice] = invoices_of(contract)
    assert (invoice.period_start, invoice.period_end) == (start, date(2027, 4, 17))
    assert invoice.total == A800_SERVER_MONTH
    [line] = invoice.lines.all()
    assert (line.period_start, line.period_end) == (start, date(2027, 4, 17))
    assert "2027-03-17 to 2027-04-16 (contract month 1 of 3)" in line.description
    run_day(date(2027, 4, 16))
    assert len(invoices_of(contract)) == 1  # the next contract month starts on the 17th
    run_day(date(2027, 4, 17))
    assert [i.period_start for i in invoices_of(contract)] == [start, date(2027, 4, 17)]


def test_a_start_on_the_31st_is_billed_on_each_months_last_day_when_shorter(
    customer, cluster, run_day
):
    start = date(2027, 1, 31)
    contract = make_contract(customer, start=start, term_months=4, stakes=[(cluster, 1)])
    run_day(date(2027, 6, 1))
    assert [(i.period_start, i.period_end) for i in invoices_of(contract)] == [
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2027, 2, 28), date(2027, 3, 31)),
        (date(2027, 3, 31), date(2027, 4, 30)),
        (date(2027, 4, 30), date(2027, 5, 31)),
    ]
    assert [i.total for i in invoices_of(contract)] == [A800_SERVER_MONTH] * 4


@pytest.mark.parametrize("status", ["pending_approval", "cancelled"])
def test_contracts_not_approved_or_cancelled_are_not_billed(customer, cluster, run_day, status):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)], status=status)
    run_day(date(2027, 6, 1))
    assert invoices_of(contract) == []


def test_a_contract_approved_late_is_caught_up_from_its_start(customer, cluster, run_day):
    contract = make_contract(
        customer, start=MARCH, stakes=[(cluster, 1)], status="pending_approval"
    )
    run_day(date(2027, 4, 1))
    assert invoices_of(contract) == []
    Contract.objects.filter(pk=contract.pk).update(status="approved")
    run_day(date(2027, 4, 10))
    assert [i.period_start for i in invoices_of(contract)] == [MARCH, date(2027, 4, 1)]
    assert {i.issue_date for i in invoices_of(contract)} == {date(2027, 4, 10)}


def test_billing_a_far_future_day_issues_every_period_due_by_then_once(customer, cluster, run_day):
    contract = make_contract(
        customer, start=date(2027, 1, 20), term_months=6, stakes=[(cluster, 2)]
    )
    run_day(date(2030, 1, 1))
    invoices = invoices_of(contract)
    # Six contract months, 20th to 20th.
    assert len(invoices) == 6
    assert invoices[0].period_start == date(2027, 1, 20)
    assert invoices[-1].period_end == date(2027, 7, 20)
    assert rental_sum(contract) == contract.total_price
    run_day(date(2030, 1, 1))
    run_day(date(2031, 1, 1))
    assert len(invoices_of(contract)) == 6


def test_a_contract_signed_through_quotes_is_billed(customer, cluster, run_day):
    user = customer.memberships.first().user
    request = capacity_request(customer, servers=2)
    quote = market.quotes_generate(capacity_request=request, by=user).quotes[0]
    contract = market.quote_accept(quote=quote, by=user)
    market.contract_transition(contract=contract, to="approved", actor_label="test")
    run_day(contract.start_date)
    [invoice] = invoices_of(contract)
    assert invoice.total == selectors.contract_schedule(contract)[0].amount
    assert invoice.total == monthly_price(
        exact_annual_price((line.p, line.price_per_p_year) for line in contract.lines.all())
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    term_months=st.integers(min_value=1, max_value=60),
    servers=st.integers(min_value=1, max_value=10),
    price=st.decimals(min_value=Decimal("1000"), max_value=Decimal("400000"), places=2),
)
def test_every_contracts_invoices_add_up_to_its_price_and_each_invoice_to_its_lines(
    cluster, start, term_months, servers, price
):
    contract = make_contract(
        new_customer(),
        start=start,
        term_months=term_months,
        stakes=[(cluster, servers)],
        price_per_p_year=price,
    )
    # Billed month by month as the daily run would, then caught up to the end in one go.
    for day in (start, start + timedelta(days=40), contract.end_date):
        issue.invoices_issue_chunk(contract_ids=[contract.pk], today=day)

    invoices = invoices_of(contract)
    assert rental_sum(contract) == contract.total_price  # to the fen
    assert sum((i.total for i in invoices), ZERO) == contract.total_price
    assert invoices[0].period_start == start and invoices[-1].period_end == contract.end_date
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert sum((line.amount for line in lines), ZERO) == invoice.total
        assert sum((line.net for line in lines), ZERO) == invoice.subtotal
        assert sum((line.tax for line in lines), ZERO) == invoice.tax
        assert invoice.subtotal + invoice.tax == invoice.total
        for line in lines:
            assert line.tax_rate == Decimal("0.06")
            assert (line.net, line.tax) == split_tax(line.amount, Decimal("0.06"))


def test_lines_carry_the_vat_rate_and_split_the_tax_included_price(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    [line] = invoice.lines.all()
    # 49,920.00 tax included = 47,094.34 net + 2,825.66 VAT at 6 %.
    assert (line.amount, line.net, line.tax) == (
        Decimal("49920.00"),
        Decimal("47094.34"),
        Decimal("2825.66"),
    )
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("47094.34"),
        Decimal("2825.66"),
        Decimal("49920.00"),
    )


# --- Numbering ------------------------------------------------------------------------------
def test_numbers_are_sequential_and_gap_free_per_year(cluster, run_day):
    contracts = [
        make_contract(new_customer(), start=date(2027, 11, 1), term_months=4, stakes=[(cluster, 1)])
        for _ in range(3)
    ]
    for day in (date(2027, 11, 1), date(2027, 12, 1), date(2028, 1, 1), date(2028, 2, 1)):
        run_day(day)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2027-{n:06d}" for n in range(1, 7)] + [
        f"INV-2028-{n:06d}" for n in range(1, 7)
    ]
    by_year = {
        (s.prefix, s.year): s.last_number for s in DocumentSequence.objects.filter(prefix="INV")
    }
    assert by_year == {("INV", 2027): 6, ("INV", 2028): 6}
    # Numbers follow issue order within a year.
    january = Invoice.objects.filter(issue_date=date(2028, 1, 1)).order_by("number")
    assert [i.contract_id for i in january] == [c.pk for c in contracts]


def test_finalising_a_draft_takes_the_next_number_and_totals_its_lines(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    draft = Invoice.objects.create(
        customer=customer,
        contract=contract,
        period_index=99,
        period_start=date(2027, 3, 15),
        period_end=date(2027, 3, 16),
    )
    InvoiceLine.objects.create(
        invoice=draft,
        kind="adjustment",
        description="Extra cross-connect",
        amount=Decimal("106.00"),
        tax_rate=Decimal("0.06"),
        net=Decimal("100.00"),
        tax=Decimal("6.00"),
    )
    opened = ledger.invoice_transition(
        invoice=draft, to="open", actor_label="test", today=date(2027, 3, 15)
    )
    assert opened.number == "INV-2027-000002"
    assert (opened.subtotal, opened.tax, opened.total) == (
        Decimal("100.00"),
        Decimal("6.00"),
        Decimal("106.00"),
    )
    assert opened.due_date == date(2027, 3, 30)


# --- Immutability ---------------------------------------------------------------------------
def test_a_finalised_invoice_refuses_edits_at_the_model_layer(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)

    invoice.total = Decimal("1.00")
    invoice.subtotal = Decimal("1.00")
    invoice.tax = ZERO
    with pytest.raises(FinalisedInvoiceError):
        invoice.save()
    fresh = Invoice.objects.get(pk=invoice.pk)
    fresh.due_date = date(2030, 1, 1)
    with pytest.raises(FinalisedInvoiceError):
        fresh.save(update_fields=["due_date"])
    with pytest.raises(FinalisedInvoiceError):
        Invoice.objects.get(pk=invoice.pk).delete()
    line = InvoiceLine.objects.get(invoice=invoice)
    line.description = "something else"
    with pytest.raises(FinalisedInvoiceError):
        line.save()
    with pytest.raises(FinalisedInvoiceError):
        line.delete()
    assert Invoice.objects.get(pk=invoice.pk).total == A800_SERVER_MONTH
    # Its state may still move.
    ledger.invoice_transition(invoice=invoice, to="void", actor_label="test")
    assert Invoice.objects.get(pk=invoice.pk).status == "void"


def test_a_draft_invoice_may_be_edited(customer, cluster):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    draft = Invoice.objects.create(
        customer=customer, contract=contract, period_index=0, period_start=MARCH, period_end=MARCH
    )
    draft.period_end = date(2027, 4, 1)
    draft.save()
    draft.refresh_from_db()
    assert draft.period_end == date(2027, 4, 1)
    draft.delete()
    assert not Invoice.objects.filter(pk=draft.pk).exists()


# --- State machine --------------------------------------------------------------------------
STATES = list(InvoiceStatus.values)


@pytest.mark.parametrize("source", STATES)
@pytest.mark.parametrize("target", STATES)
def test_every_invoice_transition_is_allowed_or_refused_by_the_table(
    customer, cluster, staff_user, run_day, source, target
):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    Invoice.objects.filter(pk=invoice.pk).update(status=source)
    if target in INVOICE_TRANSITIONS[source]:
        moved = ledger.invoice_transition(invoice=invoice, to=target, actor=staff_user)
        assert moved.status == target
        event = BillingEvent.objects.filter(subject="invoice", subject_id=invoice.pk).last()
        assert (event.from_status, event.to_status, event.actor) == (source, target, staff_user)
    else:
        with pytest.raises(InvalidInvoiceTransition):
            ledger.invoice_transition(invoice=invoice, to=target, actor=staff_user)
        assert Invoice.objects.get(pk=invoice.pk).status == source


def test_paid_and_void_are_terminal():
    assert INVOICE_TRANSITIONS["paid"] == frozenset()
    assert INVOICE_TRANSITIONS["void"] == frozenset()


def test_issuing_is_audited_with_the_task_that_did_it(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    [event] = BillingEvent.objects.filter(subject="invoice", subject_id=invoice.pk)
    assert (event.from_status, event.to_status) == ("", "open")
    assert event.actor_label == "task:billing.issue_invoices_chunk"
    assert "2027-03-01" in event.reason


# --- Payments applied -----------------------------------------------------------------------
def test_payments_add_up_to_paid_and_the_excess_comes_back(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    excess = ledger.invoice_apply_payment(
        invoice=invoice, amount=Decimal("20000.00"), actor_label="test"
    )
    assert excess == ZERO
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
        "open",
        Decimal("20000.00"),
        Decimal("29920.00"),
    )
    excess = ledger.invoice_apply_payment(
        invoice=invoice, amount=Decimal("30000.00"), actor_label="webhook:stripe"
    )
    assert excess == Decimal("80.00")
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.amount_paid == invoice.total
    assert invoice.paid_at is not None
    # A paid invoice takes nothing more.
    assert ledger.invoice_apply_payment(invoice=invoice, amount=Decimal("5")) == Decimal("5.00")
    assert BillingEvent.objects.filter(
        subject="invoice", subject_id=invoice.pk, to_status="paid", actor_label="webhook:stripe"
    ).exists()


# --- Overdue --------------------------------------------------------------------------------
def test_unpaid_invoices_become_overdue_the_day_after_their_due_date_and_customers_are_told(
    customer, cluster, run_day, django_capture_on_commit_callbacks
):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    run_day(invoice.due_date)
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run_day(invoice.due_date + timedelta(days=1))
    assert Invoice.objects.get(pk=invoice.pk).status == "overdue"
    event = BillingEvent.objects.filter(subject="invoice", subject_id=invoice.pk).last()
    assert (event.from_status, event.to_status) == ("open", "overdue")
    [message] = [m for m in mail.outbox if "overdue" in m.subject]
    assert invoice.number in message.subject
    assert message.to == [customer.memberships.first().user.email]
    # Paid invoices never become overdue.
    run_day(date(2027, 4, 1))
    april = invoices_of(contract)[-1]
    ledger.invoice_apply_payment(invoice=april, amount=april.total)
    run_day(april.due_date + timedelta(days=5))
    assert Invoice.objects.get(pk=april.pk).status == "paid"


def test_contracts_unpaid_past_the_grace_period_are_flagged_once_and_cleared_when_paid(
    customer, cluster, run_day, settings
):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    grace_ends = invoice.due_date + timedelta(days=settings.OVERDUE_GRACE_DAYS)
    run_day(grace_ends)
    assert not ContractOverdueFlag.objects.exists()
    run_day(grace_ends + timedelta(days=1))
    run_day(grace_ends + timedelta(days=2))
    [flag] = ContractOverdueFlag.objects.all()
    assert (flag.contract, flag.invoice, flag.resolved_at) == (contract, invoice, None)
    ledger.invoice_apply_payment(invoice=invoice, amount=invoice.total)
    flag.refresh_from_db()
    assert flag.resolved_at is not None


# --- Issued emails --------------------------------------------------------------------------
def test_customers_are_emailed_when_an_invoice_is_issued(
    customer, cluster, run_day, django_capture_on_commit_callbacks
):
    make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        run_day(MARCH)
    [message] = mail.outbox
    assert message.subject.startswith("Invoice INV-2027-000001")
    assert "49920.00" in message.body and "2027-03-16" in message.body


def test_a_failed_payment_is_mailed_after_the_transaction_commits(
    customer, cluster, run_day, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from billing.notifications import emails

    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        emails.send_payment_failed(invoice, "Your card was declined.")
        assert mail.outbox == []  # nothing before the commit
    [message] = mail.outbox
    assert message.subject == f"Payment for invoice {invoice.number} failed"
    assert "Your card was declined." in message.body


def test_billing_mail_goes_to_the_billing_address_when_there_is_one(customer):
    from billing.models import BillingAccount
    from billing.notifications import emails

    owner = customer.memberships.first().user
    assert emails.recipients([customer.pk]) == {customer.pk: [owner.email]}
    BillingAccount.objects.create(organization=customer, billing_email="ap@moonshot.example")
    assert emails.recipients([customer.pk]) == {customer.pk: ["ap@moonshot.example"]}


# --- Termination ----------------------------------------------------------------------------
def terminate(contract: Contract, effective: date, staff_user) -> Contract:
    return market.contract_terminate(
        contract=contract, by=staff_user, reason="Customer asked", effective_date=effective
    )


def test_termination_before_the_period_is_billed_gives_a_final_prorated_invoice(
    customer, cluster, staff_user, run_day
):
    contract = make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 1)])
    run_day(MARCH)
    contract = terminate(contract, date(2027, 4, 11), staff_user)  # 10 days of April
    run_day(date(2027, 4, 1))
    run_day(date(2028, 6, 1))
    invoices = invoices_of(contract)
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (MARCH, date(2027, 4, 1)),
        (date(2027, 4, 1), date(2027, 4, 11)),
    ]
    assert invoices[1].total == quantize_money(A800_SERVER_MONTH * 10 / 30)
    assert "service ends 2027-04-11" in invoices[1].lines.get().description
    assert not CreditNote.objects.exists()


def test_termination_after_the_period_was_billed_in_advance_credits_the_unserved_days(
    customer, cluster, staff_user, run_day
):
    contract = make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 1)])
    run_day(date(2027, 4, 1))
    [march, april] = invoices_of(contract)
    ledger.invoice_apply_payment(invoice=april, amount=april.total)  # paid in advance
    contract = terminate(contract, date(2027, 4, 11), staff_user)

    run_day(date(2027, 4, 12))
    run_day(date(2027, 4, 13))  # settling again finds nothing more
    run_day(date(2027, 5, 1))  # and nothing more is billed

    [note] = CreditNote.objects.all()
    served = quantize_money(A800_SERVER_MONTH * 10 / 30)
    assert note.invoice == april
    assert note.amount == A800_SERVER_MONTH - served
    assert note.number == "CN-2027-000001"
    assert note.net + note.tax == note.amount
    assert len(invoices_of(contract)) == 2
    # Paid in full already: the credit is the customer's balance.
    assert balance.customer_balance(organization=customer) == note.amount
    assert rental_sum(contract) - note.amount == march.total + served


def test_a_settled_termination_is_not_looked_at_again(
    customer, cluster, staff_user, run_day, monkeypatch
):
    contract = make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 1)])
    run_day(date(2027, 4, 1))
    terminate(contract, date(2027, 4, 11), staff_user)
    assert terminations.terminations_settle(today=date(2027, 4, 12)) == 1

    def must_not_run(**kwargs):
        raise AssertionError("a settled contract was settled again")

    monkeypatch.setattr(terminations, "contract_termination_settle", must_not_run)
    assert terminations.terminations_settle(today=date(2027, 4, 13)) == 0


def test_termination_credit_on_an_unpaid_invoice_reduces_what_is_due(
    customer, cluster, staff_user, run_day
):
    contract = make_contract(customer, start=MARCH, term_months=12, stakes=[(cluster, 1)])
    run_day(MARCH)
    [march] = invoices_of(contract)
    terminate(contract, date(2027, 3, 11), staff_user)
    run_day(date(2027, 3, 12))
    march.refresh_from_db()
    served = quantize_money(A800_SERVER_MONTH * 10 / 31)
    assert march.amount_due == served
    assert march.status == "open"


# --- Credit notes ---------------------------------------------------------------------------
def test_a_full_credit_of_an_unpaid_invoice_voids_it(customer, cluster, staff_user, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    note = credit_notes.credit_note_issue(
        invoice=invoice, amount=invoice.total, reason="Goodwill", by=staff_user
    )
    invoice.refresh_from_db()
    assert invoice.status == "void"
    assert note.created_by == staff_user
    assert BillingEvent.objects.filter(subject="credit_note", subject_id=note.pk).exists()
    # A void invoice still closes its period: it is not billed again.
    run_day(date(2027, 3, 20))
    assert len(invoices_of(contract)) == 1


def test_credit_notes_cannot_exceed_what_is_left_to_credit(customer, cluster, run_day):
    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    [invoice] = invoices_of(contract)
    day = date(2027, 3, 5)
    credit_notes.credit_note_issue(
        invoice=invoice, amount=Decimal("40000.00"), reason="Part", today=day
    )
    with pytest.raises(errors.InvalidInput):
        credit_notes.credit_note_issue(
            invoice=invoice, amount=Decimal("9920.01"), reason="Too much", today=day
        )
    credit_notes.credit_note_issue(
        invoice=invoice, amount=Decimal("9920.00"), reason="Rest", today=day
    )
    assert list(CreditNote.objects.order_by("number").values_list("number", flat=True)) == [
        "CN-2027-000001",
        "CN-2027-000002",
    ]
    invoice.refresh_from_db()
    assert invoice.amount_due == ZERO and invoice.status == "paid"
    assert not BalanceEntry.objects.exists()


# --- The day's pipeline ---------------------------------------------------------------------
def test_the_day_run_calls_collection_and_dunning_for_that_day(run_day, payments_calls):
    run_day(date(2027, 5, 3))
    assert payments_calls == [("collect_due", date(2027, 5, 3)), ("dunning_run", date(2027, 5, 3))]


def test_run_billing_command_bills_any_day_and_prints_a_summary(customer, cluster, payments_calls):
    contract = make_contract(customer, start=MARCH, term_months=2, stakes=[(cluster, 1)])
    out = StringIO()
    call_command("run_billing", "--date", "2027-04-01", stdout=out)
    text = out.getvalue()
    assert "Billing run for 2027-04-01" in text
    assert re.search(r"invoices issued: 2 in 1 chunk", text)
    assert len(invoices_of(contract)) == 2
    assert ("collect_due", date(2027, 4, 1)) in payments_calls


def test_run_billing_refuses_a_malformed_date():
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        call_command("run_billing", "--date", "01/04/2027")


def test_issuing_a_chunk_takes_a_constant_number_of_queries(
    cluster, payments_calls, django_assert_max_num_queries
):
    small = [make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)]).pk for _ in range(2)]
    large = [
        make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)]).pk for _ in range(30)
    ]
    first = make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)])
    issue.invoices_issue_chunk(contract_ids=[first.pk], today=MARCH)  # the year's sequence
    with django_assert_max_num_queries(16) as small_run:
        issue.invoices_issue_chunk(contract_ids=small, today=date(2027, 4, 1))
    with django_assert_max_num_queries(16) as large_run:
        result = issue.invoices_issue_chunk(contract_ids=large, today=date(2027, 4, 1))
    assert result.invoices == 60

    def reads_and_locks(run) -> int:  # SQLite may split a bulk INSERT by its variable limit
        return sum(1 for q in run.captured_queries if not q["sql"].startswith("INSERT"))

    assert reads_and_locks(large_run) == reads_and_locks(small_run)


def test_seed_billing_bills_the_demo_contracts_once(customer, cluster):
    from billing.demo import seed_billing

    contract = make_contract(customer, start=MARCH, stakes=[(cluster, 1)])
    first = seed_billing([contract], today=date(2027, 4, 2))
    again = seed_billing([contract], today=date(2027, 4, 2))
    assert first.issued_now == 2 and again.issued_now == 0
    assert len(again.invoices) == 2


def test_a_contract_on_two_clusters_is_billed_its_whole_price(customer, provider, run_day):
    one = ClusterFactory(provider=provider, available_from=date(2020, 1, 1))
    two = ClusterFactory(
        provider=provider, available_from=date(2020, 1, 1), price_per_p_year=Decimal("100000")
    )
    contract = make_contract(customer, start=MARCH, term_months=5, stakes=[(one, 1), (two, 2)])
    run_day(date(2027, 8, 1))
    assert rental_sum(contract) == contract.total_price
