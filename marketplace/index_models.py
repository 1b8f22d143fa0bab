"""The public compute price index, one row per day, GPU model and (optionally) region.

Recorded daily by ``marketplace.index.index_record`` (idempotent: a day's rows are replaced),
so the asks and free P beside the index are as they stood that day.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.money import P_DECIMAL_PLACES, P_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from inventory.models import GpuModel, Region


def _rate(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, null=True, **kwargs
    )


def _p(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=P_MAX_DIGITS, decimal_places=P_DECIMAL_PLACES, default=0, **kwargs
    )


class MarketIndexDay(models.Model):
    day = models.DateField(verbose_name=_("date"))
    gpu_model = models.ForeignKey(GpuModel, on_delete=models.CASCADE, related_name="+")
    # Null: every region.
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # P-weighted median price per P per year signed in the trailing 30 days; null when fewer
    # than three organisations traded.
    index_price_per_p_year = _rate(verbose_name=_("index price per P per year"))
    trades = models.PositiveIntegerField(verbose_name=_("trades"), default=0)
    organizations = models.PositiveIntegerField(verbose_name=_("organisations"), default=0)
    lowest_ask = _rate(verbose_name=_("lowest ask"))
    median_ask = _rate(verbose_name=_("median ask"))
    free_p_30d = _p(verbose_name=_("free P, 30 days"))
    free_p_90d = _p(verbose_name=_("free P, 90 days"))
    free_p_365d = _p(verbose_name=_("free P, 365 days"))

    class Meta:
        ordering = ["day", "gpu_model_id", "region_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "gpu_model", "region"],
                nulls_distinct=False,
                name="index_one_row_per_day_gpu_region",
            ),
            models.CheckConstraint(
                condition=Q(index_price_per_p_year__isnull=True) | Q(organizations__gte=3),
                name="index_shown_only_with_three_organisations",
            ),
        ]

    def __str__(self) -> str:
        return f"Index {self.day} {self.gpu_model_id}/{self.region_id or '*'}"
