"""The dunning schedule, the one rule both card retries and reminders follow."""

from datetime import date

from billing.payments import dunning

DELAYS = [1, 3, 7]
DAY = date(2027, 5, 10)


def test_a_card_invoice_is_charged_on_issue_then_retried_after_each_delay_then_left():
    assert dunning.next_charge_on(DAY, 1, DELAYS) == date(2027, 5, 11)
    assert dunning.next_charge_on(DAY, 2, DELAYS) == date(2027, 5, 13)
    assert dunning.next_charge_on(DAY, 3, DELAYS) == date(2027, 5, 17)
    assert dunning.next_charge_on(DAY, 4, DELAYS) is None  # 1 + 3 attempts, then an admin


def test_a_bank_transfer_invoice_is_reminded_after_each_delay_then_left():
    assert dunning.first_reminder_due_by(DAY, DELAYS) == date(2027, 5, 9)  # due a day ago
    assert [dunning.may_remind(n, DELAYS) for n in range(5)] == [False, True, True, True, False]
    assert dunning.next_reminder_on(DAY, 1, DELAYS) == date(2027, 5, 13)
    assert dunning.next_reminder_on(DAY, 2, DELAYS) == date(2027, 5, 17)
    assert dunning.next_reminder_on(DAY, 3, DELAYS) is None


def test_no_delays_means_no_chasing():
    assert dunning.first_reminder_due_by(DAY, []) is None
    assert dunning.next_charge_on(DAY, 1, []) is None
