"""A payout statement is closed only once its month has ended (in the platform's time zone):
closed statements are never rebuilt, so a payment received later in the month would reach no
statement and its seller would never be paid for it. Refused closes write nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.api.exceptions import api_exception_handler
from billing.ledger.balance import customer_balance
from billing.models import (
    BalanceEntry,
    BillingEvent,
    Invoice,
    PayoutStatement,
    PayoutStatus,
    ResaleProceeds,
)
from billing.payouts import proceeds, statements
from billing.payouts.statements import PayoutPeriodNotEnded
from tests.billing.conftest import make_contract, new_customer
from tests.billing.test_payouts import MARCH, month_over, paid_july, pay, this_month
from tests.billing.test_resale_proceeds import resale

pytestmark = pytest.mark.django_db

__all__ = ["paid_july", "resale"]  # fixtures


def _events(statement: PayoutStatement) -> list[tuple[str, str]]:
    return [
        (e.from_status, e.to_status)
        for e in BillingEvent.objects.filter(subject="payout", subject_id=statement.pk)
    ]


def test_this_months_statement_cannot_be_closed_and_nothing_is_written(
    provider, paid_july, staff_user
):
    [statement] = statements.payouts_build(month=this_month())

    with pytest.raises(PayoutPeriodNotEnded) as refused:
        statements.payout_close(statement=statement, by=staff_user)

    assert refused.value.status == 409 and refused.value.code == "period_not_ended"
    assert list(refused.value.details) == ["period_end"]
    assert "cannot be closed before its month has ended" in refused.value.message
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.OPEN and statement.closed_at is None
    assert _events(statement) == [("", "open")]
    # Nor through the transition itself.
    with pytest.raises(PayoutPeriodNotEnded):
        statements.payout_transition(statement=statement, to=PayoutStatus.CLOSED)
    assert PayoutStatement.objects.get(pk=statement.pk).status == PayoutStatus.OPEN


def test_the_month_ends_at_midnight_in_the_platforms_time_zone(provider, paid_july):
    [statement] = statements.payouts_build(month=this_month())
    end = month_over()  # midnight on the 1st of next month, Asia/Shanghai (16:00 UTC before)
    assert timezone.localtime(end).hour == 0 and end.utcoffset() == timedelta(hours=8)

    with pytest.raises(PayoutPeriodNotEnded):
        statements.payout_close(statement=statement, now=end - timedelta(microseconds=1))
    assert not statements.payout_period_ended(statement, now=end - timedelta(microseconds=1))

    closed = statements.payout_close(statement=statement, now=end)
    assert closed.status == PayoutStatus.CLOSED and closed.closed_at == end


def test_a_payment_late_in_the_month_reaches_the_statement_closed_after_it(
    provider, cluster, paid_july, run_day, staff_user
):
    [statement] = statements.payouts_build(month=this_month())
    with pytest.raises(PayoutPeriodNotEnded):
        statements.payout_close(statement=statement, by=staff_user)

    late = make_contract(new_customer(), start=MARCH, stakes=[(cluster, 1)])
    run_day(MARCH)
    pay(Invoice.objects.get(contract=late))  # still this month, after the refused close
    [rebuilt] = statements.payouts_build(month=this_month())

    closed = statements.payout_close(statement=rebuilt, by=staff_user, now=month_over())
    assert closed.pk == statement.pk and closed.lines.count() == 2
    assert closed.collected == Decimal("99840.00") + Decimal("49920.00")


def test_a_reseller_taking_balance_is_credited_nothing_before_the_month_ends(resale):
    reseller, statement, _ = resale
    proceeds.resale_proceeds_set(organization=reseller, choice=ResaleProceeds.BALANCE)

    with pytest.raises(PayoutPeriodNotEnded):
        statements.payout_close(statement=statement, actor_label="test")

    assert not BalanceEntry.objects.filter(organization=reseller).exists()
    assert customer_balance(organization=reseller) == 0
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.OPEN


def test_the_message_is_translated(provider, paid_july):
    [statement] = statements.payouts_build(month=this_month())
    with translation.override("zh-hans"), pytest.raises(PayoutPeriodNotEnded) as refused:
        statements.payout_close(statement=statement)
    assert "月份结束之前" in refused.value.message
    assert refused.value.details["period_end"] == [refused.value.message]


def test_the_api_answers_409_with_the_field_error(provider, paid_july):
    """No API endpoint closes statements (``/api/v1/payouts/`` only reads); should one call
    ``payout_close``, the API's handler answers with the field error."""
    [statement] = statements.payouts_build(month=this_month())
    with pytest.raises(PayoutPeriodNotEnded) as refused:
        statements.payout_close(statement=statement)
    response = api_exception_handler(refused.value, {})
    assert response.status_code == 409
    assert response.data["code"] == "period_not_ended"
    assert response.data["errors"]["period_end"] == [refused.value.message]


# --- Django admin ---------------------------------------------------------------------------
def _close_action(admin_client, statement: PayoutStatement):
    return admin_client.post(
        reverse("admin:billing_payoutstatement_changelist"),
        {"action": "close_statements", "_selected_action": [statement.pk]},
        follow=True,
    )


def test_the_admin_action_refuses_this_month_with_a_message(admin_client, provider, paid_july):
    [statement] = statements.payouts_build(month=this_month())

    page = _close_action(admin_client, statement).content.decode()

    assert "cannot be closed before its month has ended" in page
    assert "1 done." not in page
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.OPEN and statement.closed_at is None
    assert _events(statement) == [("", "open")]


def test_the_admin_action_closes_last_months_statement(admin_client, provider):
    last_month = (this_month() - timedelta(days=1)).replace(day=1)
    statement = PayoutStatement.objects.create(
        provider=provider,
        period_start=last_month,
        period_end=this_month(),
        commission_rate=Decimal("0.1000"),
    )

    page = _close_action(admin_client, statement).content.decode()

    assert "1 done." in page and "cannot be closed" not in page
    statement.refresh_from_db()
    assert statement.status == PayoutStatus.CLOSED and statement.closed_at is not None
