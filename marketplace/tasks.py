from celery import shared_task

from marketplace import index, services


@shared_task(name="marketplace.advance_contracts", time_limit=600, soft_time_limit=570)
def advance_contracts() -> dict[str, int]:
    """Activate approved contracts on their start date; complete them at their end. Idempotent."""
    return services.contracts_advance()


@shared_task(name="marketplace.record_price_index", time_limit=600, soft_time_limit=570)
def record_price_index() -> int:
    """Record today's compute price index (replaces today's rows: idempotent)."""
    return index.index_record()
