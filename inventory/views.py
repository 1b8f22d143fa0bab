"""Cluster pages: the public capacity search and cluster pages, and the provider's own pages
(my clusters, create and edit with the live P rating, list / delist, maintenance, outages).

Views are thin: a form validates, a service writes, a selector reads; a domain error becomes a
field error or a message in the user's language.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import charts
from accounts.errors import DomainError, InvalidInput
from accounts.formatting import format_p
from accounts.readcache import public_page
from accounts.selectors import is_platform_admin, organization_of
from inventory import selectors, services
from inventory.errors import CapacityUnavailable, OutageLocked
from inventory.forms import (
    ClusterForm,
    ClusterSearchForm,
    ClusterStatusForm,
    MaintenanceForm,
    OutageCorrectionForm,
    OutageForm,
    OutageRecordForm,
    RatingForm,
)
from inventory.models import Cluster, ClusterStatus, Outage

PAGE_SIZE = 20


def _form_error(form, exc: DomainError) -> None:
    """Put a service's refusal on the field it names (or above the form)."""
    fields = [name for name in exc.details if name in form.fields]
    if isinstance(exc, InvalidInput) and exc.field in form.fields:
        form.add_error(exc.field, exc.message)
    elif fields:
        for name in fields:
            for message in exc.details[name]:
                form.add_error(name, message)
    else:
        form.add_error(None, exc.message)


def _visible_cluster(request: HttpRequest, pk: int) -> Cluster:
    return get_object_or_404(selectors.cluster_list(user=request.user), pk=pk)


def _owned_cluster(request: HttpRequest, pk: int) -> Cluster:
    """The cluster if the user may change it: 404 when not visible, 403 when not theirs."""
    cluster = _visible_cluster(request, pk)
    if not selectors.cluster_owned_by(cluster, request.user):
        raise PermissionDenied
    return cluster


# --- Everyone -------------------------------------------------------------------------------
@require_GET
@public_page
def cluster_list(request: HttpRequest) -> HttpResponse:
    """Search listed capacity, cheapest first, with free servers and P over a window."""
    today = timezone.localdate()
    form = ClusterSearchForm.for_query(request.GET, today=today)
    rows, page = [], None
    if form.is_valid():
        filters = form.cleaned_data
        free = selectors.cluster_search(
            user=request.user,
            start=filters["start"],
            end=filters["end"],
            gpu_model=filters["gpu_model"],
            region=filters["region"],
            interconnect=filters["interconnect"],
            max_price=filters["max_price"],
            min_free_p=filters["min_free_p"],
        )
        page = Paginator(list(free), PAGE_SIZE).get_page(request.GET.get("page"))
        rows = selectors.search_rows(list(page.object_list), free)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "rows": rows,
        "page": page,
        "query": query.urlencode(),
        "organization": organization_of(request.user),
    }
    # htmx swaps the results in place; restoring history (back button) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "inventory/_cluster_results.html" if partial else "inventory/cluster_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _availability_chart(page: selectors.ClusterPage) -> charts.StepChart:
    """The availability calendar: free servers per span, drawn as steps, with a table."""
    per_server = page.cluster.rated_p_per_server
    return charts.step_chart(
        [(span.start, span.end, span.free_servers) for span in page.availability],
        key="availability",
        title=_("Free servers, next 12 months"),
        description=_("Servers free for booking over time, of %(total)s in the cluster.")
        % {"total": page.cluster.server_count},
        start=page.calendar_start,
        end=page.calendar_end,
        series_name=_("Free servers"),
        max_value=page.cluster.server_count,
        date_label=lambda day: date_format(day, "DATE_FORMAT"),
        tick_label=lambda day: date_format(day, "M"),
        table_columns=[
            (_("Free servers"), str),
            (_("Free P"), lambda servers: format_p(servers * per_server)),
        ],
    )


@require_GET
@public_page
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = _visible_cluster(request, pk)
    page = selectors.cluster_page(cluster, user=request.user, today=timezone.localdate())
    return render(
        request,
        "inventory/cluster_detail.html",
        {"page": page, "cluster": cluster, "calendar": _availability_chart(page)},
    )


# --- Providers ------------------------------------------------------------------------------
def _provider_of(request: HttpRequest):
    organization = organization_of(request.user)
    if organization is None or not organization.is_provider:
        raise PermissionDenied
    return organization


@login_required
@require_GET
def cluster_mine(request: HttpRequest) -> HttpResponse:
    organization = _provider_of(request)
    clusters = selectors.provider_clusters(organization=organization, today=timezone.localdate())
    return render(
        request,
        "inventory/cluster_mine.html",
        {"clusters": clusters, "organization": organization},
    )


def _rating_context(form: ClusterForm | RatingForm) -> dict:
    """The live rating from whatever part of the form is valid (nothing if no GPU yet)."""
    data = form.data
    rating = RatingForm(
        {name: data.get(name, "") for name in ClusterForm.RATING_FIELDS}
        if form.is_bound
        else {name: form[name].value() or "" for name in ClusterForm.RATING_FIELDS}
    )
    if not rating.is_valid():
        return {"rating": None}
    return {"rating": selectors.rating_preview(**rating.cleaned_data)}


@login_required
@require_GET
def cluster_rating(request: HttpRequest) -> HttpResponse:
    """The P rating of the hardware typed so far (htmx partial of the cluster form)."""
    rating = RatingForm(request.GET)
    preview = selectors.rating_preview(**rating.cleaned_data) if rating.is_valid() else None
    return render(request, "inventory/_rating.html", {"rating": preview})


@login_required
@require_http_methods(["GET", "POST"])
def cluster_create(request: HttpRequest) -> HttpResponse:
    organization = _provider_of(request)
    today = timezone.localdate()
    form = ClusterForm(request.POST or None, today=today, initial={"available_from": today})
    if request.method == "POST" and form.is_valid():
        try:
            cluster = services.cluster_create(provider=organization, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is saved as a draft. List it when you are ready to take bookings.")
                % {"name": cluster.name},
            )
            return redirect("inventory:cluster-detail", pk=cluster.pk)
    return render(
        request,
        "inventory/cluster_form.html",
        {"form": form, "cluster": None, **_rating_context(form)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def cluster_edit(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = _owned_cluster(request, pk)
    form = ClusterForm.for_cluster(
        cluster, request.POST if request.method == "POST" else None, today=timezone.localdate()
    )
    if request.method == "POST" and form.is_valid():
        try:
            changes = form.changes()
            if changes:
                services.cluster_update(cluster=cluster, changes=changes)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            if changes:
                messages.success(request, _("Your changes are saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("inventory:cluster-detail", pk=cluster.pk)
    return render(
        request,
        "inventory/cluster_form.html",
        {"form": form, "cluster": cluster, **_rating_context(form)},
    )


def _status_message(cluster: Cluster) -> tuple[int, str]:
    names = {"name": cluster.name, "provider": cluster.provider.name}
    if cluster.status == ClusterStatus.DELISTED:
        return messages.SUCCESS, _(
            "%(name)s is delisted: it takes no new bookings; existing bookings stay."
        ) % names
    if cluster.provider.is_verified:
        return messages.SUCCESS, _("%(name)s is listed: customers can find and book it.") % names
    return messages.WARNING, _(
        "%(name)s is listed. Customers will see it once a platform admin has verified %(provider)s."
    ) % names


@login_required
@require_POST
def cluster_status(request: HttpRequest, pk: int) -> HttpResponse:
    """List or delist a cluster (the service decides which changes are allowed)."""
    cluster = _owned_cluster(request, pk)
    form = ClusterStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether to list or delist the cluster."))
    else:
        try:
            cluster = services.cluster_update(
                cluster=cluster, changes={"status": form.cleaned_data["status"]}
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            level, text = _status_message(cluster)
            messages.add_message(request, level, text)
    if request.POST.get("next") == "mine":
        return redirect("inventory:cluster-mine")
    return redirect("inventory:cluster-detail", pk=cluster.pk)


@login_required
@require_http_methods(["GET", "POST"])
def maintenance_create(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = _owned_cluster(request, pk)
    form = MaintenanceForm(request.POST or None, today=timezone.localdate())
    if request.method == "POST" and form.is_valid():
        try:
            services.maintenance_block(cluster=cluster, by=request.user, **form.cleaned_data)
        except CapacityUnavailable as exc:
            form.add_error("servers", exc.shortfall_message)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The maintenance block is saved."))
            return redirect("inventory:cluster-detail", pk=cluster.pk)
    return render(request, "inventory/maintenance_form.html", {"form": form, "cluster": cluster})


@login_required
@require_http_methods(["GET", "POST"])
def outage_create(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = _owned_cluster(request, pk)
    form = OutageRecordForm(request.POST or None, today=timezone.localdate())
    if request.method == "POST" and form.is_valid():
        try:
            services.outage_record(cluster=cluster, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The outage is recorded."))
            return redirect("inventory:cluster-detail", pk=cluster.pk)
    return render(
        request,
        "inventory/outage_form.html",
        {"form": form, "cluster": cluster, "outage": None},
    )


@login_required
@require_http_methods(["GET", "POST"])
def outage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct an outage: its provider until it is invoiced, then admins only, with a reason."""
    outage = get_object_or_404(
        Outage.objects.select_related("cluster"),
        pk=pk,
        cluster__in=selectors.cluster_list(user=request.user),
    )
    cluster = outage.cluster
    if not selectors.cluster_owned_by(cluster, request.user):
        raise PermissionDenied
    admin = is_platform_admin(request.user)
    context = {"cluster": cluster, "outage": outage}
    if outage.is_locked and not admin:
        return render(
            request, "inventory/outage_form.html", {**context, "locked": True}, status=403
        )
    form_class = OutageCorrectionForm if outage.is_locked else OutageForm
    form = form_class.for_outage(
        outage, request.POST if request.method == "POST" else None, today=timezone.localdate()
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.outage_update(
                outage=outage,
                changes=form.changes(),
                by=request.user,
                reason=form.cleaned_data.get("reason", ""),
            )
        except OutageLocked as exc:
            messages.error(request, exc.message)
            return redirect("inventory:cluster-detail", pk=cluster.pk)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The outage is corrected."))
            return redirect("inventory:cluster-detail", pk=cluster.pk)
    return render(request, "inventory/outage_form.html", {**context, "form": form})
