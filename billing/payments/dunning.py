"""The dunning schedule: when an unpaid invoice is chased next. Pure; the one home of the rule.

``DUNNING_RETRY_DAYS`` (a setting, e.g. ``[1, 3, 7]``) lists the gaps between steps. The first
step of a card invoice is its first charge, on issue; of a bank-transfer invoice, the first
reminder, ``delays[0]`` days after the due date. After ``n`` further steps (failed retries or
reminders), the next comes ``delays[n]`` days after the last, until the list runs out; then
chasing stops and the invoice is left for an admin. So a card invoice is charged at most
``1 + len(delays)`` times and a bank-transfer invoice reminded at most ``len(delays)`` times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta


def next_step_on(last: date, steps_done: int, delays: Sequence[int]) -> date | None:
    """When the step after ``steps_done`` steps (the last on ``last``) is due, or None."""
    if steps_done < 0:
        raise ValueError("steps_done must not be negative")
    if steps_done >= len(delays):
        return None
    return last + timedelta(days=delays[steps_done])


def next_charge_on(today: date, attempts_made: int, delays: Sequence[int]) -> date | None:
    """After the ``attempts_made``-th charge of a card invoice (today), the next, or None."""
    return next_step_on(today, attempts_made - 1, delays)


def first_reminder_due_by(today: date, delays: Sequence[int]) -> date | None:
    """Invoices due on or before this date have their first reminder due by ``today``
    (``delays[0]`` days after the due date); None when there are no reminders at all."""
    return today - timedelta(days=delays[0]) if delays else None


def may_remind(reminder_number: int, delays: Sequence[int]) -> bool:
    """Whether a ``reminder_number``-th reminder (1-based) is on the schedule at all."""
    return 1 <= reminder_number <= len(delays)


def next_reminder_on(today: date, reminders_sent: int, delays: Sequence[int]) -> date | None:
    """After ``reminders_sent`` reminders (the last today), the next one, or None."""
    return next_step_on(today, reminders_sent, delays)
