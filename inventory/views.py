from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.selectors import organization_of
from inventory import selectors
from inventory.forms import ClusterSearchForm

PAGE_SIZE = 25


@login_required
def cluster_list(request):
    """Browse and search clusters, cheapest first; with a window, show free capacity."""
    form = ClusterSearchForm(request.GET or None)
    clusters = selectors.cluster_list(user=request.user)
    free: dict[int, int] = {}
    window = None
    if form.is_valid():
        data = form.cleaned_data
        if data["gpu_model"]:
            clusters = clusters.filter(gpu_model=data["gpu_model"])
        if data["region"]:
            clusters = clusters.filter(region=data["region"])
        if data["interconnect"]:
            clusters = clusters.filter(interconnect=data["interconnect"])
        if data["max_price"] is not None:
            clusters = clusters.filter(price_per_p_year__lte=data["max_price"])
        organization = organization_of(request.user)
        if data["mine"] and organization is not None:
            clusters = clusters.filter(provider=organization)
        if data["start"]:
            window = (data["start"], data["end"])
            free = selectors.free_servers(
                clusters, start=data["start"], end=data["end"], min_free_p=data["min_free_p"] or 0
            )
            page = Paginator(list(free), PAGE_SIZE).get_page(request.GET.get("page"))
            by_id = selectors.clusters_by_ids(page.object_list)
            rows = [by_id[pk] for pk in page.object_list]
        else:
            page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
            rows = list(page.object_list)
    else:
        page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
    uptime = selectors.uptime_by_cluster(rows)
    table = [
        {
            "cluster": cluster,
            "uptime": uptime[cluster.pk],
            "free_servers": free.get(cluster.pk),
            "free_p": (
                free[cluster.pk] * cluster.rated_p_per_server if cluster.pk in free else None
            ),
        }
        for cluster in rows
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/cluster_list.html",
        {"form": form, "page": page, "table": table, "window": window, "query": query.urlencode()},
    )


@login_required
def cluster_detail(request, pk: int):
    cluster = get_object_or_404(selectors.cluster_list(user=request.user), pk=pk)
    today = timezone.localdate()
    end = today.replace(year=today.year + 1)
    spans = selectors.cluster_availability(cluster, start=today, end=end)
    outages = selectors.outage_list(user=request.user, cluster=cluster)[:20]
    return render(
        request,
        "inventory/cluster_detail.html",
        {
            "cluster": cluster,
            "spans": spans,
            "outages": outages,
            "uptime": selectors.uptime_by_cluster([cluster])[cluster.pk],
            "owned": selectors.cluster_owned_by(cluster, request.user),
        },
    )
