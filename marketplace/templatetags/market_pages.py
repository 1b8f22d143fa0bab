"""Filters for the marketplace pages: ``{% load market_pages %}``."""

from decimal import Decimal

from django import template

from accounts.formatting import format_percent
from marketplace.selectors import region_label

register = template.Library()


@register.filter
def region_name(region) -> str:
    """A region in the reader's language: ``合肥`` in Chinese, ``Hefei`` in English."""
    if region is None:
        return ""
    return region_label(region.name, region.name_zh)


@register.filter
def organization_name(organization) -> str:
    """An organisation's legal name where it has one, else its name on the platform."""
    if organization is None:
        return ""
    return organization.legal_name or organization.name


@register.filter
def get_item(mapping, key):
    """``{{ mapping|get_item:key }}``: a dict's value, or None."""
    return mapping.get(key) if mapping else None


@register.filter
def percent_of_one(value) -> str:
    """A fraction as a percentage: ``0.06`` → ``6%``, ``0.065`` → ``6.5%``."""
    if value is None:
        return ""
    percent = (Decimal(value) * 100).normalize()
    places = max(0, -percent.as_tuple().exponent)
    return format_percent(percent, places)
