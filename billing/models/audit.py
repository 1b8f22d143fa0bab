"""The audit trail of billing: state changes, and the daily run's steps as they ran."""

from django.conf import settings
from django.db import models


class BillingEvent(models.Model):
    """Audit: every state change of an invoice, payment, credit note, payout statement, refund
    or dispute."""

    class Subject(models.TextChoices):
        INVOICE = "invoice"
        PAYMENT = "payment"
        CREDIT_NOTE = "credit_note"
        PAYOUT = "payout"
        REFUND = "refund"
        DISPUTE = "dispute"
        FAPIAO_REQUEST = "fapiao_request"

    subject = models.CharField(max_length=16, choices=Subject.choices)
    subject_id = models.BigIntegerField()
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)  # task name, "webhook", ...
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["subject", "subject_id"], name="billing_event_subject")]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_id}: {self.from_status or '-'} -> {self.to_status}"


class BillingRunStep(models.Model):
    """One step of a day's billing run as it ran: when it started and finished, where, and what
    it returned. Written by the step itself (``billing.tasks``), one row per execution, so a
    step that ran twice shows twice; operators read it in the admin, and the ordering test
    reads it to prove that no step starts before the steps it follows have finished."""

    run_date = models.DateField()  # the day billed (``run_billing --date``), not the clock's
    step = models.CharField(max_length=40)  # "issue_invoices", "mark_overdue", ...
    chunk = models.PositiveIntegerField(null=True, blank=True)  # invoice chunks: 0, 1, ...
    worker = models.CharField(max_length=200, blank=True)  # host and process id
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)  # None: running, or it died
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["run_date", "step"], name="billing_run_step_day")]

    def __str__(self) -> str:
        chunk = f" #{self.chunk}" if self.chunk is not None else ""
        return f"{self.run_date:%Y-%m-%d} {self.step}{chunk}"
