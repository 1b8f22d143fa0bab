"""Celery entry points of accounts: thin, ids in, bounded retries."""

import smtplib

from celery import shared_task
from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Invitation
from accounts.outbox import outbox_flush


@shared_task(
    name="accounts.send_invitation_email",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=10,
    max_retries=5,
    time_limit=120,
    soft_time_limit=100,
)
def send_invitation_email(invitation_id: int, accept_url: str, language: str) -> bool:
    """Mail the invitation's link, in the inviter's language. Nothing is sent for an
    invitation that was meanwhile accepted, revoked or replaced, or has expired."""
    invitation = (
        Invitation.objects.pending(timezone.now())
        .select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        return False
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter": invitation.invited_by,
        "accept_url": accept_url,
    }
    with translation.override(language):
        subject = render_to_string("accounts/email/invitation_subject.txt", context)
        body = render_to_string("accounts/email/invitation.txt", context)
    mail.send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    return True


@shared_task(name="accounts.flush_task_outbox", time_limit=300, soft_time_limit=280)
def flush_task_outbox() -> int:
    """Hand tasks kept while the broker was down to the broker. Idempotent: a second run finds
    an empty outbox."""
    return outbox_flush()
