"""Gap-free document numbers per kind and year: ``INV-2027-000001``, ``CN-2027-000001``."""

from __future__ import annotations

from billing.models import DocumentSequence

INVOICE_PREFIX = "INV"
CREDIT_NOTE_PREFIX = "CN"


def numbers_reserve(prefix: str, year: int, count: int) -> list[str]:
    """Take the next ``count`` numbers of the year's sequence, gap-free.

    Must run inside the transaction that creates the documents: the sequence row stays locked
    until it commits, and a rollback returns the numbers. One lock for a whole block.
    """
    if count < 1:
        return []
    sequence, _ = DocumentSequence.objects.select_for_update().get_or_create(
        prefix=prefix, year=year
    )
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{prefix}-{year}-{number:06d}" for number in range(first, first + count)]
