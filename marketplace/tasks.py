import smtplib

from celery import shared_task

from marketplace import index, resale, services


@shared_task(name="marketplace.advance_contracts", time_limit=600, soft_time_limit=570)
def advance_contracts() -> dict[str, int]:
    """Activate approved contracts on their start date; complete them at their end. Idempotent."""
    return services.contracts_advance()


@shared_task(name="marketplace.purge_expired_resale_holds", time_limit=300, soft_time_limit=280)
def purge_expired_resale_holds() -> int:
    """Delete expired resale holds. Idempotent: a second run finds nothing to delete."""
    return resale.resale_holds_purge_expired()


@shared_task(name="marketplace.record_price_index", time_limit=600, soft_time_limit=570)
def record_price_index() -> int:
    """Record today's compute price index (replaces today's rows: idempotent)."""
    return index.index_record()


@shared_task(
    name="marketplace.mail_resale_ended",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=10,
    max_retries=5,
    time_limit=120,
    soft_time_limit=100,
)
def mail_resale_ended(contract_id: int) -> int:
    """Tell the buyer and the reseller that a resale contract ended with its parent. Sends
    nothing for a contract that did not end that way; returns the number of mails sent."""
    return resale.resale_ended_mail(contract_id=contract_id)
