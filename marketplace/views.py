"""Pages of the market: home, sizing, capacity requests and their quotes, accepting a quote,
contracts. Thin: a form validates, one service writes, one selector reads; domain errors become
messages or field errors in the reader's language."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from accounts import charts, limits
from accounts.errors import DomainError, InvalidInput, PermissionDeniedError
from accounts.formatting import format_rate
from accounts.readcache import public_page
from accounts.selectors import is_platform_admin, organization_of
from inventory.selectors import clusters_by_ids
from marketplace import documents, index, selectors, services, sizing
from marketplace.eligibility import Reason
from marketplace.forms import (
    CapacityRequestForm,
    ContractFilterForm,
    MarketSearchForm,
    SizingForm,
    TerminationForm,
)
from marketplace.models import CapacityRequest, ContractStatus, QuoteStatus, RequestStatus
from marketplace.resale_forms import ResaleListingForm
from marketplace.resale_selectors import contract_resale

REQUESTS_PER_PAGE = 20
CONTRACTS_PER_PAGE = 25
REASONS_PER_PAGE = 5


# --- Home -----------------------------------------------------------------------------------
@public_page
def home(request: HttpRequest) -> HttpResponse:
    """The market for everyone; signed-in people also get links to their work."""
    names = selectors.display_names()
    rows = [
        {"row": row, "gpu": names.gpu(row.gpu_model), "region": names.region(row.region)}
        for row in selectors.market_view()
    ]
    return render(
        request,
        "marketplace/home.html",
        {
            "rows": rows,
            "horizons": selectors.MARKET_HORIZONS_DAYS,
            "signed_window_days": selectors.SIGNED_WINDOW_DAYS,
            "min_contracts_for_median": selectors.MIN_CONTRACTS_FOR_MEDIAN,
            "references": selectors.reference_figures(),
            "search_form": MarketSearchForm(auto_id="search_%s"),
            "organization": organization_of(request.user),
            "index_charts": _index_charts(names),
            "index_window_days": index.WINDOW_DAYS,
            "index_min_organizations": index.MIN_ORGANIZATIONS,
        },
    )


INDEX_CHART_DAYS = 365


def _thousands(value) -> str:
    """An axis label for a price per P per year in thousands of yuan: ``¥120k``."""
    thousands = f"{Decimal(value) / 1000:,.1f}".removesuffix(".0")
    return gettext("¥%(thousands)sk") % {"thousands": thousands}


def _index_charts(names) -> list:
    """One line chart per GPU model: its price index over the last year (one query)."""
    since = timezone.localdate() - timedelta(days=INDEX_CHART_DAYS)
    points: dict[str, list] = {}
    for row in index.index_history(since=since):
        points.setdefault(row.gpu_model.code, []).append((row.day, row.index_price_per_p_year))
    return [
        charts.line_chart(
            series,
            key=f"index-{code}",
            title=gettext("%(gpu)s: price index per P per year") % {"gpu": names.gpu(code)},
            description=gettext(
                "P-weighted median price per P per year signed in the trailing 30 days."
            ),
            series_name=gettext("Index price per P per year"),
            value_label=format_rate,
            axis_label=_thousands,
            date_label=lambda day: date_format(day, "DATE_FORMAT"),
            tick_label=lambda day: date_format(day, "M"),
            empty_text=gettext("Too few organisations traded to show an index yet."),
        )
        for code, series in sorted(points.items())
    ]


# --- Sizing ---------------------------------------------------------------------------------
# Worked examples offered on the empty calculator (the source article's kind of workloads).
SIZING_EXAMPLES = {
    "training": {
        "workload": "training",
        "mode": "deadline",
        "params_billions": 70,
        "training_tokens_billions": 2000,
        "activation_recomputation": "no",
        "days": 30,
        "utilisation_percent": 45,
        "gpus_per_server": 8,
        "gpu_models": ["A800-80G", "H800-80G"],
    },
    "inference": {
        "workload": "inference",
        "mode": "deadline",
        "params_billions": 175,
        "daily_visits": 10_000_000,
        "questions_per_visit": 10,
        "tokens_per_question": 1000,
        "precision": "int8",
        "utilisation_percent": 45,
        "gpus_per_server": 8,
        "gpu_models": ["A800-80G", "H800-80G"],
    },
    "duration": {
        "workload": "training",
        "mode": "duration",
        "params_billions": 70,
        "training_tokens_billions": 2000,
        "activation_recomputation": "no",
        "servers": 64,
        "utilisation_percent": 45,
        "gpus_per_server": 8,
        "gpu_models": ["A800-80G", "H800-80G"],
    },
}


def sizing_calculator(request: HttpRequest) -> HttpResponse:
    """Open to everyone. A GET form, so a result can be linked to and bookmarked."""
    form = SizingForm(request.GET or None)
    result = prices = None
    options = []
    if form.is_bound and form.is_valid():
        inputs = form.service_inputs()
        try:
            result, prices = services.workload_size(**inputs)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            options = [
                {
                    "option": option,
                    "median_ask": prices.get(option.code),
                    "request_url": _prefill_url(inputs, option),
                    "too_long": getattr(option, "term_months", 0) > limits.MAX_TERM_MONTHS,
                }
                for option in result.options
            ]
    return render(
        request,
        "marketplace/sizing.html",
        {
            "form": form,
            "result": result,
            "options": options,
            "duration": isinstance(result, sizing.DurationResult),
            "max_term_months": limits.MAX_TERM_MONTHS,
            "examples": {
                name: urlencode(query, doseq=True) for name, query in SIZING_EXAMPLES.items()
            },
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _prefill_url(inputs: dict, option) -> str | None:
    """The request form, pre-filled with this option's servers (and, for training, the term
    that covers the run); None when no request could be that large."""
    if option.servers > limits.MAX_SERVERS_PER_REQUEST:
        return None
    training = inputs["workload"] == "training"
    query = {"gpu_model": option.code, "servers": option.servers}
    query["single_cluster"] = "1" if training else "0"
    term = getattr(option, "term_months", None)
    if term is None and training and inputs.get("days"):
        term = sizing.months_to_cover(inputs["days"])
    if term is not None and term <= limits.MAX_TERM_MONTHS:
        query["term_months"] = term
    return f"{reverse('marketplace:request-create')}?{urlencode(query)}"


# --- Capacity requests ----------------------------------------------------------------------
def _customer_organization(request: HttpRequest):
    organization = organization_of(request.user)
    if organization is None or not organization.is_customer:
        raise PermissionDenied(gettext("Only customer organisations request capacity."))
    return organization


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """My capacity requests, newest first (admins: everyone's)."""
    page = Paginator(selectors.request_list(user=request.user), REQUESTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    organization = organization_of(request.user)
    return render(
        request,
        "marketplace/request_list.html",
        {
            "page": page,
            "can_request": organization is not None and organization.is_customer,
            "open_quotes": selectors.open_quote_summary([r.pk for r in page.object_list]),
        },
    )


@login_required
def request_create(request: HttpRequest) -> HttpResponse:
    organization = _customer_organization(request)
    if request.method == "POST":
        form = CapacityRequestForm(request.POST)
        if form.is_valid():
            try:
                submission = services.request_submit(
                    customer=organization, by=request.user, **form.service_inputs()
                )
            except InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            except PermissionDeniedError as exc:
                raise PermissionDenied(exc.message) from exc
            else:
                _report_match(request, submission.result, submission.error)
                return redirect("marketplace:request-detail", pk=submission.capacity_request.pk)
    else:
        form = CapacityRequestForm(
            initial=CapacityRequestForm.initial_from(request.GET, today=timezone.localdate())
        )
    return render(
        request,
        "marketplace/request_form.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


def _report_match(request: HttpRequest, result, error: str = "") -> None:
    if result is None:
        messages.error(request, error)
    elif result.quotes:
        expires = timezone.localtime(result.quotes[0].expires_at)
        messages.success(
            request,
            ngettext(
                "%(count)d offer, its capacity held until %(time)s.",
                "%(count)d offers, their capacity held until %(time)s.",
                len(result.quotes),
            )
            % {"count": len(result.quotes), "time": date_format(expires, "TIME_FORMAT")},
        )
    else:
        messages.warning(
            request, gettext("No cluster can serve this request now. The reasons are below.")
        )


@dataclass
class ReasonGroup:
    code: Reason
    title: str
    count: int
    page: Page
    rows: list[dict]

    @property
    def anchor(self) -> str:
        return f"reasons-{self.code.value}"


def _reason_groups(
    capacity_request: CapacityRequest, *, reason: str | None, number
) -> tuple[list[ReasonGroup], int]:
    """Every reason that applies, with one page of the clusters and resale listings it rejects
    (the first page, or page ``number`` of group ``reason``), and how many were rejected in
    all."""
    rejections = services.request_rejections(capacity_request=capacity_request)
    groups = []
    for code, count in rejections.reasons():
        group = rejections.group(code)
        page = Paginator(group, REASONS_PER_PAGE).get_page(number if reason == code.value else 1)
        groups.append(
            ReasonGroup(code=code, title=group.title, count=count, page=page, rows=page.object_list)
        )
    clusters = clusters_by_ids(subject.cluster_id for group in groups for subject, _ in group.rows)
    names = rejections.names
    for group in groups:
        group.rows = [
            {
                "cluster": clusters[subject.cluster_id],
                "region": names.region(clusters[subject.cluster_id].region.code),
                "message": rejection.message,
                "resale": subject if subject.is_resale else None,
            }
            for subject, rejection in group.rows
        ]
    return groups, len(rejections)


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The quotes page: ranked offers, and why every other cluster did not match."""
    capacity_request = get_object_or_404(selectors.request_list(user=request.user), pk=pk)
    views = selectors.quote_views(capacity_request)
    is_open = capacity_request.status == RequestStatus.OPEN
    groups, rejected = (
        _reason_groups(
            capacity_request, reason=request.GET.get("reason"), number=request.GET.get("page")
        )
        if is_open
        else ([], 0)
    )
    organization = organization_of(request.user)
    return render(
        request,
        "marketplace/request_detail.html",
        {
            "capacity_request": capacity_request,
            "offers": [v for v in views if v.quote.status == QuoteStatus.OPEN],
            "accepted": next((v for v in views if v.quote.status == QuoteStatus.ACCEPTED), None),
            "is_open": is_open,
            "is_owner": organization is not None
            and organization.pk == capacity_request.customer_id,
            "groups": groups,
            "rejected": rejected,
        },
    )


@login_required
def request_reasons(request: HttpRequest, pk: int) -> HttpResponse:
    """One page of one reason's clusters: the part htmx swaps in. Without htmx, the same page
    of the full quotes page."""
    capacity_request = get_object_or_404(selectors.request_list(user=request.user), pk=pk)
    reason, number = request.GET.get("reason", ""), request.GET.get("page", "1")
    if not request.htmx:
        query = urlencode({"reason": reason, "page": number})
        detail = reverse("marketplace:request-detail", args=[pk])
        return redirect(f"{detail}?{query}#reasons-{reason}")
    groups, _ = _reason_groups(capacity_request, reason=reason, number=number)
    group = next((g for g in groups if g.code.value == reason), None)
    if group is None:
        return HttpResponse(status=404)
    return render(
        request,
        "marketplace/_reason_group.html",
        {"group": group, "capacity_request": capacity_request},
    )


def _owned_request(request: HttpRequest, pk: int) -> CapacityRequest:
    """A request the user may act on: visible (else 404) and their organisation's (else 403)."""
    capacity_request = get_object_or_404(selectors.request_list(user=request.user), pk=pk)
    organization = organization_of(request.user)
    if organization is None or organization.pk != capacity_request.customer_id:
        raise PermissionDenied(gettext("Only the customer who made the request may do this."))
    return capacity_request


@login_required
@require_POST
def request_quote(request: HttpRequest, pk: int) -> HttpResponse:
    """Regenerate: run matching again (replaces the open quotes and their holds)."""
    capacity_request = _owned_request(request, pk)
    try:
        result = services.quotes_generate(capacity_request=capacity_request, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        _report_match(request, result)
    return redirect("marketplace:request-detail", pk=pk)


@login_required
@require_POST
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    capacity_request = _owned_request(request, pk)
    try:
        services.request_cancel(capacity_request=capacity_request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("marketplace:request-detail", pk=pk)
    messages.success(
        request, gettext("Request %(number)s cancelled; its holds are released.") % {"number": pk}
    )
    return redirect("marketplace:request-list")


# --- Accepting a quote ----------------------------------------------------------------------
@login_required
def quote_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what is about to be signed, with a confirm button. POST: sign (once)."""
    quote = get_object_or_404(selectors.quote_list(user=request.user), pk=pk)
    organization = organization_of(request.user)
    if organization is None or organization.pk != quote.request.customer_id:
        raise PermissionDenied(gettext("Only the customer who made the request may accept."))
    if request.method == "POST":
        try:
            contract = services.quote_accept(quote=quote, by=request.user)
        except DomainError as exc:
            contract_ids = exc.details.get("contract") if exc.details else None
            if contract_ids:  # already accepted: a double submit lands on its contract
                messages.info(request, exc.message)
                return redirect("marketplace:contract-detail", pk=int(contract_ids[0]))
            messages.error(request, exc.message)
            return redirect("marketplace:request-detail", pk=quote.request_id)
        if contract.status == ContractStatus.PENDING_APPROVAL:
            text = gettext("Contract %(number)s signed; it awaits approval by the platform.")
        else:
            text = gettext("Contract %(number)s signed and approved.")
        messages.success(request, text % {"number": contract.pk})
        return redirect("marketplace:contract-detail", pk=contract.pk)
    if quote.status == QuoteStatus.ACCEPTED:
        messages.info(request, gettext("This quote was already accepted."))
        return redirect("marketplace:contract-detail", pk=quote.contract.pk)
    if quote.status != QuoteStatus.OPEN:
        messages.error(
            request,
            gettext(
                "This quote is no longer open: newer quotes replaced it or another was accepted."
            ),
        )
        return redirect("marketplace:request-detail", pk=quote.request_id)
    return render(
        request, "marketplace/quote_accept.html", {"signing": selectors.quote_signing(quote)}
    )


# --- Contracts ------------------------------------------------------------------------------
@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    """Customers: their contracts; providers: those on their clusters (their lines only, no
    totals); admins: all."""
    contracts = selectors.contract_list(user=request.user)
    filter_form = ContractFilterForm(request.GET or None)
    query = ""
    if filter_form.is_valid() and filter_form.cleaned_data["status"]:
        contracts = contracts.filter(status=filter_form.cleaned_data["status"])
        query = urlencode({"status": filter_form.cleaned_data["status"]})
    page = Paginator(contracts, CONTRACTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for contract in page.object_list:
        view = selectors.contract_view(contract, user=request.user)
        rows.append({"contract": contract, "view": view, "servers": view.servers, "p": view.p})
    return render(
        request,
        "marketplace/contract_list.html",
        {"page": page, "rows": rows, "filter_form": filter_form, "query": query},
    )


def contract_page(
    request: HttpRequest, contract, *, form=None, resale_form=None, status: int = 200
):
    view = selectors.contract_view(contract, user=request.user)
    resale_view = contract_resale(contract, user=request.user)
    if resale_form is None and resale_view is not None and resale_view.can_list:
        resale_form = ResaleListingForm(contract=contract, auto_id="resale_%s")
    admin = is_platform_admin(request.user)
    can_end = contract.status in (ContractStatus.APPROVED, ContractStatus.ACTIVE)
    provider_viewer = not admin and not view.is_customer
    return render(
        request,
        "marketplace/contract_detail.html",
        {
            "contract": contract,
            "view": view,
            "history": selectors.contract_history(contract),
            "parties": selectors.contract_parties(contract, view),
            "monthly_price": selectors.contract_monthly_price(contract),
            "tax_split": selectors.contract_tax_split(contract),
            "can_approve": admin and contract.status == ContractStatus.PENDING_APPROVAL,
            "can_terminate": admin and can_end,
            "can_give_notice": provider_viewer and view.is_sole_provider and can_end,
            "shared_contract": (
                provider_viewer
                and not view.is_sole_provider
                and can_end
                and contract.kind == "primary"
            ),
            "earliest_notice": services.provider_notice_earliest(),
            "form": form or TerminationForm(),
            "resale": resale_view,
            "resale_form": resale_form,
        },
        status=status,
    )


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(selectors.contract_detail(user=request.user), pk=pk)
    return contract_page(request, contract)


@login_required
def contract_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(selectors.contract_detail(user=request.user), pk=pk)
    view = selectors.contract_view(contract, user=request.user)
    data = documents.contract_pdf(
        contract,
        view=view,
        parties=selectors.contract_parties(contract, view),
        history=selectors.contract_history(contract),
        monthly_price=selectors.contract_monthly_price(contract),
        tax_split=selectors.contract_tax_split(contract),
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="contract-{contract.pk}.pdf"'
    return response


@login_required
@require_POST
def contract_approve(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(selectors.contract_list(user=request.user), pk=pk)
    if not is_platform_admin(request.user):
        raise PermissionDenied(gettext("Only platform admins approve contracts."))
    try:
        services.contract_approve(contract=contract, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Contract %(number)s approved.") % {"number": pk})
    return redirect("marketplace:contract-detail", pk=pk)


@login_required
@require_POST
def contract_terminate(request: HttpRequest, pk: int) -> HttpResponse:
    """Admins terminate at any date in the term; the contract's only provider gives notice
    (the service enforces the notice period)."""
    contract = get_object_or_404(selectors.contract_detail(user=request.user), pk=pk)
    admin = is_platform_admin(request.user)
    as_provider = (
        not admin and selectors.contract_view(contract, user=request.user).is_sole_provider
    )
    if not (admin or as_provider):
        raise PermissionDenied(gettext("Only an admin or the contract's provider may end it."))
    form = TerminationForm(request.POST)
    if form.is_valid():
        try:
            services.contract_terminate(
                contract=contract, by=request.user, as_provider=as_provider, **form.cleaned_data
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("marketplace:contract-detail", pk=pk)
        else:
            messages.success(
                request,
                gettext("Contract %(number)s ends on %(date)s.")
                % {
                    "number": pk,
                    "date": date_format(form.cleaned_data["effective_date"], "DATE_FORMAT"),
                },
            )
            return redirect("marketplace:contract-detail", pk=pk)
    return contract_page(request, contract, form=form, status=400)
