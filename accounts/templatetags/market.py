"""Template filters for money, rates, P and states: ``{% load market %}``.

``{{ invoice.total|money }}`` → ``¥599,040.00``; ``{{ cluster.price_per_p_year|rate }}``;
``{{ cluster.rated_p|p }}`` → ``4.992``; ``{{ contract|state }}`` → the status in words (the
model's translated choice label); ``{% state_badge contract %}`` adds its colour.
"""

from django import template
from django.utils.html import format_html

from accounts import formatting

register = template.Library()

# Bootstrap colour per state value, shared by every model with a ``status`` field.
STATE_TONES = {
    "listed": "success",
    "verified": "success",
    "active": "success",
    "approved": "primary",
    "paid": "success",
    "succeeded": "success",
    "booked": "success",
    "open": "primary",
    "issued": "primary",
    "requested": "primary",
    "pending_approval": "warning",
    "draft": "secondary",
    "delisted": "secondary",
    "expired": "secondary",
    "withdrawn": "secondary",
    "completed": "secondary",
    "closed": "secondary",
    "void": "secondary",
    "cancelled": "secondary",
    "overdue": "danger",
    "failed": "danger",
    "terminated": "danger",
    "rejected": "danger",
    "credited": "success",
    "unknown": "warning",
    "processing": "info",
    "disputed": "warning",
    "pending": "warning",
    "accepted": "success",
    "revoked": "secondary",
}


@register.filter
def money(amount, currency: str = "CNY") -> str:
    return formatting.format_money(amount, currency or "CNY")


@register.filter
def rate(value, currency: str = "CNY") -> str:
    return formatting.format_rate(value, currency or "CNY")


@register.filter
def p(value) -> str:
    return formatting.format_p(value)


@register.filter
def percent(value, places: int = 1) -> str:
    return formatting.format_percent(value, int(places))


@register.filter
def state(obj, field: str = "status") -> str:
    """The translated label of ``obj.<field>`` (a choices field), never its raw code."""
    display = getattr(obj, f"get_{field}_display", None)
    return str(display()) if display else str(getattr(obj, field, ""))


@register.simple_tag
def state_badge(obj, field: str = "status") -> str:
    value = getattr(obj, field, "")
    tone = STATE_TONES.get(str(value), "secondary")
    return format_html('<span class="badge text-bg-{}">{}</span>', tone, state(obj, field))
