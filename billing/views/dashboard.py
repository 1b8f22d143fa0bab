"""The dashboard: where a signed-in person lands. A provider sees its bookings, utilisation,
revenue, payout and each cluster's payback; a customer its contracts, bookings, invoices and
requests; an organisation with both roles sees both. Platform admins are sent to the work
queue's link from here."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import charts
from accounts.formatting import format_p
from accounts.selectors import is_platform_admin, organization_of
from billing import dashboards, work_queue


def utilisation_chart(board: dashboards.ProviderDashboard) -> charts.BarChart:
    """Booked and free P per month over the next 12 months, stacked: the bar's height is what
    is on offer, its lower part what is booked."""
    months = board.months
    return charts.bar_chart(
        [date_format(month.month, "M") for month in months],
        [
            charts.Series(_("Booked P"), [month.booked_p for month in months]),
            charts.Series(_("Free P"), [month.free_p for month in months]),
        ],
        key="utilisation",
        title=_("Utilisation, next 12 months"),
        description=_(
            "Average P booked and free in each month from %(first)s to %(last)s, of the P your "
            "listed and delisted clusters offer."
        )
        % {
            "first": date_format(months[0].month, "YEAR_MONTH_FORMAT") if months else "",
            "last": date_format(months[-1].month, "YEAR_MONTH_FORMAT") if months else "",
        },
        stacked=True,
        value_label=format_p,
        category_heading=_("Month"),
        empty_text=_("No capacity on offer in the next 12 months."),
    )


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    organization = organization_of(request.user)
    context = {"organization": organization, "today": today}
    if organization is not None and organization.is_provider:
        board = dashboards.provider_dashboard(organization=organization, today=today)
        context["provider"] = board
        context["utilisation"] = utilisation_chart(board)
    if organization is not None and organization.is_customer:
        context["customer"] = dashboards.customer_dashboard(organization=organization, today=today)
    if is_platform_admin(request.user):
        context["queue_counts"] = work_queue.queue_counts()
    return render(request, "billing/dashboard.html", context)
