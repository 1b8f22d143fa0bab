from celery import shared_task

from inventory import services


@shared_task(name="inventory.purge_expired_holds", time_limit=300, soft_time_limit=280)
def purge_expired_holds() -> int:
    """Delete expired holds. Idempotent: a second run finds nothing to delete."""
    return services.holds_purge_expired()
