"""Who may reach what: every URL pattern, every kind of user, the expected status.

The patterns come from the URL resolver, so a new page or endpoint without a row in MATRIX fails
``test_every_url_pattern_has_a_row``. One shared world, built once in one test: objects belong to
the "A" organisations; the "B" ones must get 404 on them (never a 403 that admits the object
exists, never its data). GETs are tried for real; a POST only where it must be refused ("-"
marks an actor allowed to do it, not tried, so nothing is written).

Adding a row: ``"<url name>": (METHOD, object, "anon provA provB custA custB both staff")``;
another method on the same URL: ``"<url name>@POST"``. ``object`` names what the URL's ``pk``
(or ``code``) points at in ``_world()``; ``None`` for a URL without one; a further parameter
(``<int:dispute_pk>``, the work queue's ``<slug:kind>`` and ``<slug:action>``) is looked up in
the world's objects by its own name.

Statuses: pages answer anonymous visitors with a redirect to the login (302), the API with 401.
Listed clusters and their outages are public (the market shows them); what an organisation
owns (requests, quotes, contracts, invoices, payouts, members, tokens) is 404 to the others.
Admin-only actions answer 403 before looking the object up, the same for every id, so that 403
tells nothing about A's objects. A GET on a POST-only page or action answers 405 (Django's
``require_POST`` and DRF's method check come first). Withdrawing a resale listing is its
reseller's or an admin's (moderation); requesting a fapiao or disputing is the customer's only.
The schema is the same document for everyone (tried as
anonymous and staff only: it is the slowest page).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.members import invitation_create
from accounts.models import Organization
from accounts.services import api_token_create
from billing.credits.disputes import dispute_open
from billing.fapiao.requests import fapiao_request_create
from billing.invoicing.issue import invoices_issue_chunk
from billing.models import Invoice, PayoutStatement
from billing.payments.transfers import bank_transfer_record
from inventory.models import Outage
from marketplace.resale import resale_list
from tests.billing.conftest import BUYER_CODE, make_contract
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    ProviderFactory,
    UserFactory,
    capacity_request,
    member_of,
)

ACTORS = ("anon", "provider_a", "provider_b", "customer_a", "customer_b", "both", "staff")

# Left out, with the reason: Django's admin has its own tests (tests/config/test_admin*.py) and
# lets staff only; i18n's set_language changes a cookie, nothing of anyone's.
EXCLUDED_PREFIXES = ("admin/", "i18n/")

# fmt: off
MATRIX: dict[str, tuple[str, str | None, str]] = {
    # --- pages -----------------------------------------------------------------------------
    "home":                                ("GET",   None,          "200 200 200 200 200 200 200"),
    "accounts:login":                      ("GET",   None,          "200 302 302 302 302 302 302"),
    "accounts:logout":                     ("GET",   None,          "405 405 405 405 405 405 405"),
    "accounts:register":                   ("GET",   None,          "200 302 302 302 302 302 302"),
    "accounts:password-change":            ("GET",   None,          "302 200 200 200 200 200 200"),
    "accounts:password-reset":             ("GET",   None,          "200 200 200 200 200 200 200"),
    "accounts:password-reset-sent":        ("GET",   None,          "200 200 200 200 200 200 200"),
    "accounts:password-reset-confirm":     ("GET",   None,          "200 200 200 200 200 200 200"),
    "accounts:password-reset-complete":    ("GET",   None,          "200 200 200 200 200 200 200"),
    "accounts:organization":               ("GET",   None,          "302 200 200 200 200 200 302"),
    "accounts:organization-detail":        ("GET",   "org",         "302 404 404 200 404 404 200"),
    "accounts:organization-members":       ("GET",   "org",         "302 404 404 200 404 404 200"),
    "accounts:members":                    ("GET",   None,          "302 200 200 200 200 200 302"),
    "accounts:member-role":                ("GET",   "member",      "302 405 405 405 405 405 405"),
    "accounts:member-remove":              ("GET",   "member",      "302 405 405 405 405 405 405"),
    "accounts:invitation-revoke":          ("GET",   "invitation",  "302 405 405 405 405 405 405"),
    "accounts:invitation-accept":          ("GET",   "invite_token", "200 200 200 200 200 200 200"),
    "accounts:tokens":                     ("GET",   None,          "302 200 200 200 200 200 200"),
    "accounts:token-revoke":               ("GET",   "token",       "302 405 405 405 405 405 405"),
    "inventory:cluster-list":              ("GET",   None,          "200 200 200 200 200 200 200"),
    "inventory:cluster-mine":              ("GET",   None,          "302 200 200 403 403 200 403"),
    "inventory:cluster-create":            ("GET",   None,          "302 200 200 403 403 200 403"),
    "inventory:cluster-rating":            ("GET",   None,          "302 200 200 200 200 200 200"),
    "inventory:cluster-detail":            ("GET",   "cluster",     "200 200 200 200 200 200 200"),
    "inventory:cluster-edit":              ("GET",   "cluster",     "302 200 403 403 403 403 200"),
    "inventory:cluster-status":            ("GET",   "cluster",     "302 405 405 405 405 405 405"),
    "inventory:maintenance-create":        ("GET",   "cluster",     "302 200 403 403 403 403 200"),
    "inventory:outage-create":             ("GET",   "cluster",     "302 200 403 403 403 403 200"),
    "inventory:outage-edit":               ("GET",   "outage",      "302 200 403 403 403 403 200"),
    "marketplace:sizing":                  ("GET",   None,          "200 200 200 200 200 200 200"),
    "marketplace:request-list":            ("GET",   None,          "302 200 200 200 200 200 200"),
    "marketplace:request-create":          ("GET",   None,          "302 403 403 200 200 200 403"),
    "marketplace:request-detail":          ("GET",   "request",     "302 404 404 200 404 404 200"),
    "marketplace:request-reasons":         ("GET",   "request",     "302 404 404 302 404 404 302"),
    "marketplace:request-quote":           ("GET",   "request",     "302 405 405 405 405 405 405"),
    "marketplace:request-cancel":          ("GET",   "request",     "302 405 405 405 405 405 405"),
    "marketplace:quote-accept":            ("GET",   "quote",       "302 404 404 302 404 404 403"),
    "marketplace:contract-list":           ("GET",   None,          "302 200 200 200 200 200 200"),
    "marketplace:contract-detail":         ("GET",   "contract",    "302 200 404 200 404 404 200"),
    "marketplace:contract-pdf":            ("GET",   "contract",    "302 200 404 200 404 404 200"),
    "marketplace:contract-approve":        ("GET",   "contract",    "302 405 405 405 405 405 405"),
    "marketplace:contract-terminate":      ("GET",   "contract",    "302 405 405 405 405 405 405"),
    "billing:invoice-list":                ("GET",   None,          "302 200 200 200 200 200 200"),
    "billing:invoice-pdf":                 ("GET",   "invoice",     "302 404 404 200 404 404 200"),
    "marketplace:contract-resale-create":  ("GET",   "contract",    "302 405 405 405 405 405 405"),
    "marketplace:resale-withdraw":         ("GET",   "listing",     "302 405 405 405 405 405 405"),
    "billing:invoice-detail":              ("GET",   "invoice",     "302 404 404 200 404 404 200"),
    "billing:invoice-checkout":            ("GET",   "invoice",     "302 405 405 405 405 405 405"),
    "billing:invoice-refund":              ("GET",   "invoice",     "302 405 405 405 405 405 405"),
    "billing:invoice-dispute-open":        ("GET",   "invoice",     "302 405 405 405 405 405 405"),
    "billing:invoice-dispute-resolve":     ("GET",   "invoice",     "302 405 405 405 405 405 405"),
    "billing:fapiao-request":              ("GET",   "invoice",     "302 404 404 200 404 404 403"),
    "billing:payout-list":                 ("GET",   None,          "302 200 200 200 200 200 200"),
    "billing:payout-proceeds":             ("GET",   None,          "302 405 405 405 405 405 405"),
    "billing:payout-detail":               ("GET",   "payout",      "302 200 404 404 404 404 200"),
    "billing:payout-pdf":                  ("GET",   "payout",      "302 200 404 404 404 404 200"),
    "billing:payout-csv":                  ("GET",   "payout",      "302 200 404 404 404 404 200"),
    "billing:fapiao-list":                 ("GET",   None,          "302 200 200 200 200 200 200"),
    "billing:fapiao-export":               ("GET",   None,          "302 403 403 403 403 403 200"),
    "billing:fapiao-issued":               ("GET",   "fapiao",      "302 405 405 405 405 405 405"),
    "billing:fapiao-reject":               ("GET",   "fapiao",      "302 405 405 405 405 405 405"),
    "dashboard":                           ("GET",   None,          "302 200 200 200 200 200 200"),
    "queue":                               ("GET",   None,          "302 403 403 403 403 403 200"),
    "queue-action":                        ("GET",   "contract",    "302 403 403 403 403 403 405"),
    "healthz":                             ("GET",   None,          "200 200 200 200 200 200 200"),
    # --- API -------------------------------------------------------------------------------
    "api-root":                            ("GET",   None,          "200 200 200 200 200 200 200"),
    "schema":                              ("GET",   None,          "200 - - - - - 200"),
    "swagger-ui":                          ("GET",   None,          "200 200 200 200 200 200 200"),
    "api-register":                        ("GET",   None,          "405 405 405 405 405 405 405"),
    "api-token":                           ("GET",   None,          "405 405 405 405 405 405 405"),
    "api-me":                              ("GET",   None,          "401 200 200 200 200 200 200"),
    "organization-list":                   ("GET",   None,          "401 200 200 200 200 200 200"),
    "organization-detail":                 ("GET",   "org",         "401 404 404 200 404 404 200"),
    "organization-verify":                 ("GET",   "org",         "401 403 403 403 403 403 405"),
    "gpu-model-list":                      ("GET",   None,          "200 200 200 200 200 200 200"),
    "gpu-model-detail":                    ("GET",   "gpu",         "200 200 200 200 200 200 200"),
    "region-list":                         ("GET",   None,          "200 200 200 200 200 200 200"),
    "region-detail":                       ("GET",   "region",      "200 200 200 200 200 200 200"),
    "cluster-list":                        ("GET",   None,          "401 200 200 200 200 200 200"),
    "cluster-detail":                      ("GET",   "cluster",     "401 200 200 200 200 200 200"),
    "cluster-allocations":                 ("GET",   "cluster",     "401 200 403 403 403 403 200"),
    "cluster-availability":                ("GET",   "cluster",     "401 400 400 400 400 400 400"),
    "cluster-maintenance":                 ("GET",   "cluster",     "401 405 405 405 405 405 405"),
    "cluster-outages":                     ("GET",   "cluster",     "401 200 200 200 200 200 200"),
    "outage-list":                         ("GET",   None,          "401 200 200 200 200 200 200"),
    "outage-detail":                       ("GET",   "outage",      "401 200 200 200 200 200 200"),
    "market":                              ("GET",   None,          "401 200 200 200 200 200 200"),
    "sizing":                              ("GET",   None,          "405 405 405 405 405 405 405"),
    "capacity-request-list":               ("GET",   None,          "401 200 200 200 200 200 200"),
    "capacity-request-detail":             ("GET",   "request",     "401 404 404 200 404 404 200"),
    "capacity-request-cancel":             ("GET",   "request",     "401 405 405 405 405 405 405"),
    "capacity-request-quotes":             ("GET",   "request",     "401 405 405 405 405 405 405"),
    "capacity-request-rejections":         ("GET",   "request",     "401 404 404 200 404 404 200"),
    "quote-list":                          ("GET",   None,          "401 200 200 200 200 200 200"),
    "quote-detail":                        ("GET",   "quote",       "401 404 404 200 404 404 200"),
    "quote-accept":                        ("GET",   "quote",       "401 405 405 405 405 405 405"),
    "contract-list":                       ("GET",   None,          "401 200 200 200 200 200 200"),
    "contract-detail":                     ("GET",   "contract",    "401 200 404 200 404 404 200"),
    "contract-approve":                    ("GET",   "contract",    "401 403 403 403 403 403 405"),
    "contract-cancel":                     ("GET",   "contract",    "401 405 405 405 405 405 405"),
    "contract-terminate":                  ("GET",   "contract",    "401 405 405 405 405 405 405"),
    "invoice-export":                      ("GET",   None,          "401 403 403 403 403 403 200"),
    "invoice-pay":                         ("GET",   "invoice",     "401 405 405 405 405 405 405"),
    "invoice-mark-paid":                   ("GET",   "invoice",     "401 403 403 403 403 403 405"),
    "stripe-webhook":                      ("GET",   None,          "405 405 405 405 405 405 405"),
    "invoice-list":                        ("GET",   None,          "401 200 200 200 200 200 200"),
    "invoice-detail":                      ("GET",   "invoice",     "401 404 404 200 404 404 200"),
    "invoice-credit-notes":                ("GET",   "invoice",     "401 403 403 403 403 403 405"),
    "invoice-pdf":                         ("GET",   "invoice",     "401 404 404 200 404 404 200"),
    "payout-list":                         ("GET",   None,          "401 200 200 200 200 200 200"),
    "payout-detail":                       ("GET",   "payout",      "401 200 404 404 404 404 200"),
    "market-index":                        ("GET",   None,          "200 200 200 200 200 200 200"),
    "contract-resale-listings":            ("GET",   "contract",    "401 405 405 405 405 405 405"),
    "resale-listing-list":                 ("GET",   None,          "401 200 200 200 200 200 200"),
    "resale-listing-detail":               ("GET",   "listing",     "401 404 404 200 404 404 200"),
    "resale-listing-withdraw":             ("GET",   "listing",     "401 405 405 405 405 405 405"),
    "invoice-fapiao-requests":             ("GET",   "invoice",     "401 403 403 405 405 405 405"),
    "fapiao-export":                       ("GET",   None,          "401 403 403 403 403 403 200"),
    "invoice-disputes":                    ("GET",   "invoice",     "401 405 405 405 405 405 405"),
    "payment-refund":                      ("GET",   "payment",     "401 405 405 405 405 405 405"),
    "dispute-list":                        ("GET",   None,          "401 200 200 200 200 200 200"),
    "dispute-detail":                      ("GET",   "dispute",     "401 404 404 200 404 404 200"),
    "dispute-resolve":                     ("GET",   "dispute",     "401 405 405 405 405 405 405"),
    "fapiao-request-list":                 ("GET",   None,          "401 200 200 200 200 200 200"),
    "fapiao-request-detail":               ("GET",   "fapiao",      "401 404 404 200 404 404 200"),
    "fapiao-request-issued":               ("GET",   "fapiao",      "401 403 403 403 403 403 405"),
    "fapiao-request-reject":               ("GET",   "fapiao",      "401 403 403 403 403 403 405"),
    # --- writes: refused where they must be ("-": allowed, not tried) ----------------------
    "accounts:member-role@POST":           ("POST",  "member",      "302 404 404 - 404 404 302"),
    "accounts:member-remove@POST":         ("POST",  "member",      "302 404 404 - 404 404 302"),
    "accounts:invitation-revoke@POST":     ("POST",  "invitation",  "302 404 404 - 404 404 302"),
    "accounts:token-revoke@POST":          ("POST",  "token",       "302 404 404 - 404 404 404"),
    "billing:payout-proceeds@POST":        ("POST",  None,          "302 - - - - - 403"),
    "inventory:cluster-status@POST":       ("POST",  "cluster",     "302 - 403 403 403 403 -"),
    "marketplace:request-quote@POST":      ("POST",  "request",     "302 404 404 - 404 404 -"),
    "marketplace:request-cancel@POST":     ("POST",  "request",     "302 404 404 - 404 404 -"),
    "marketplace:quote-accept@POST":       ("POST",  "quote",       "302 404 404 - 404 404 -"),
    "marketplace:contract-approve@POST":   ("POST",  "contract",    "302 403 404 403 404 404 -"),
    "marketplace:contract-terminate@POST": ("POST",  "contract",    "302 - 404 403 404 404 -"),
    "organization-detail@PATCH":           ("PATCH", "org",         "401 404 404 - 404 404 -"),
    "organization-verify@POST":            ("POST",  "org",         "401 403 403 403 403 403 -"),
    "cluster-list@POST":                   ("POST",  None,          "401 - - 403 403 - 400"),
    "cluster-detail@PATCH":                ("PATCH", "cluster",     "401 - 403 403 403 403 -"),
    "cluster-maintenance@POST":            ("POST",  "cluster",     "401 - 403 403 403 403 -"),
    "cluster-outages@POST":                ("POST",  "cluster",     "401 - 403 403 403 403 -"),
    "outage-detail@PATCH":                 ("PATCH", "outage",      "401 - 403 403 403 403 -"),
    "capacity-request-list@POST":          ("POST",  None,          "401 403 403 - - - 400"),
    "capacity-request-cancel@POST":        ("POST",  "request",     "401 404 404 - 404 404 -"),
    "capacity-request-quotes@POST":        ("POST",  "request",     "401 404 404 - 404 404 -"),
    "quote-accept@POST":                   ("POST",  "quote",       "401 404 404 - 404 404 -"),
    "contract-approve@POST":               ("POST",  "contract",    "401 403 403 403 403 403 -"),
    "contract-cancel@POST":                ("POST",  "contract",    "401 403 404 - 404 404 -"),
    "contract-terminate@POST":             ("POST",  "contract",    "401 - 404 403 404 404 -"),
    "invoice-pay@POST":                    ("POST",  "invoice",     "401 404 404 - 404 404 -"),
    "invoice-mark-paid@POST":              ("POST",  "invoice",     "401 403 403 403 403 403 -"),
    "invoice-credit-notes@POST":           ("POST",  "invoice",     "401 403 403 403 403 403 -"),
    "marketplace:contract-resale-create@POST": ("POST", "contract", "302 403 404 - 404 404 403"),
    "marketplace:resale-withdraw@POST":    ("POST",  "listing",     "302 404 404 - 404 404 -"),
    "billing:invoice-checkout@POST":       ("POST",  "invoice",     "302 404 404 - 404 404 403"),
    "billing:invoice-refund@POST":         ("POST",  "invoice",     "302 403 403 403 403 403 -"),
    "billing:invoice-dispute-open@POST":   ("POST",  "invoice",     "302 404 404 - 404 404 403"),
    "billing:invoice-dispute-resolve@POST": ("POST", "invoice",     "302 403 403 403 403 403 -"),
    "billing:fapiao-request@POST":         ("POST",  "invoice",     "302 404 404 - 404 404 403"),
    "billing:fapiao-issued@POST":          ("POST",  "fapiao",      "302 403 403 403 403 403 -"),
    "billing:fapiao-reject@POST":          ("POST",  "fapiao",      "302 403 403 403 403 403 -"),
    "queue-action@POST":                   ("POST",  "contract",    "302 403 403 403 403 403 -"),
    "contract-resale-listings@POST":       ("POST",  "contract",    "401 403 404 - 404 404 403"),
    "resale-listing-withdraw@POST":        ("POST",  "listing",     "401 404 404 - 404 404 -"),
    "invoice-fapiao-requests@POST":        ("POST",  "invoice",     "401 403 403 - 404 404 403"),
    "invoice-disputes@POST":               ("POST",  "invoice",     "401 404 404 - 404 404 403"),
    "payment-refund@POST":                 ("POST",  "payment",     "401 403 403 403 403 403 -"),
    "dispute-resolve@POST":                ("POST",  "dispute",     "401 403 403 403 403 403 -"),
    "fapiao-request-issued@POST":          ("POST",  "fapiao",      "401 403 403 403 403 403 -"),
    "fapiao-request-reject@POST":          ("POST",  "fapiao",      "401 403 403 403 403 403 -"),
}
# fmt: on


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}" if entry.name else None


def url_patterns() -> dict[str, str]:
    """Every named URL pattern outside the excluded prefixes: name -> route."""
    found = {}
    for route, name in _walk(get_resolver().url_patterns):
        if route.startswith(EXCLUDED_PREFIXES):
            continue
        assert name, f"URL pattern {route!r} has no name: name it so it can have a row"
        found.setdefault(name, route)
    return found


def test_every_url_pattern_has_a_row():
    names = set(url_patterns())
    rows = {key.split("@")[0] for key in MATRIX}
    missing = sorted(names - rows)
    assert not missing, "URL patterns without a row in MATRIX: " + ", ".join(missing)
    stale = sorted(rows - names)
    assert not stale, "MATRIX rows for URL patterns that no longer exist: " + ", ".join(stale)


# --- the world ----------------------------------------------------------------------------------
def _world() -> dict:
    provider_a = ProviderFactory(name="Provider A")
    provider_b = ProviderFactory(name="Provider B")
    customer_a = OrganizationFactory(name="Customer A")
    customer_b = OrganizationFactory(name="Customer B")
    both = ProviderFactory(name="Both", is_customer=True)
    users = {
        "provider_a": member_of(provider_a),
        "provider_b": member_of(provider_b),
        "customer_a": member_of(customer_a),
        "customer_b": member_of(customer_b),
        "both": member_of(both),
        "staff": UserFactory(is_staff=True),
    }
    cluster = ClusterFactory(provider=provider_a, available_from=date(2020, 1, 1))
    now = timezone.now()
    outage = Outage.objects.create(
        cluster=cluster,
        start=now - timedelta(hours=3),
        end=now - timedelta(hours=2),
        servers_affected=1,
        description="Power",
    )
    today = timezone.localdate()
    contract = make_contract(customer_a, start=today.replace(day=1), stakes=[(cluster, 1)])
    invoices_issue_chunk(contract_ids=[contract.pk], today=today)
    invoice = Invoice.objects.filter(contract=contract).first()
    open_request = capacity_request(customer_a)
    payment = bank_transfer_record(invoice=invoice, amount=invoice.total, reference="TR-1").payment
    owner_a = users["customer_a"]
    fapiao = fapiao_request_create(
        invoice=invoice, kind="ordinary", title="Customer A", tax_id=BUYER_CODE, by=owner_a
    )
    dispute = dispute_open(invoice=invoice, reason="Wrong period", by=owner_a)
    listing = resale_list(
        contract=contract,
        by=owner_a,
        cluster=cluster,
        servers=1,
        start=today + timedelta(days=1),
        end=today + timedelta(days=70),
        price_per_p_year=cluster.price_per_p_year,
    )
    payout = PayoutStatement.objects.create(
        provider=provider_a,
        period_start=today.replace(day=1),
        period_end=(today.replace(day=1) + timedelta(days=32)).replace(day=1),
        commission_rate=settings.PLATFORM_COMMISSION_RATE,
    )
    invitation, invitation_token = invitation_create(
        organization=customer_a,
        by=owner_a,
        email="new@example.com",
        role="member",
        site_url="http://testserver",
    )
    token, _key = api_token_create(user=owner_a, name="matrix")
    return {
        "users": users,
        "objects": {
            "cluster": cluster.pk,
            "outage": outage.pk,
            "request": open_request.pk,
            "quote": contract.quote_id,
            "contract": contract.pk,
            "invoice": invoice.pk,
            "payout": payout.pk,
            "payment": payment.pk,
            "fapiao": fapiao.pk,
            "dispute": dispute.pk,
            "dispute_pk": dispute.pk,
            "listing": listing.pk,
            "kind": "contract",
            "action": "approve",
            "org": customer_a.pk,
            "provider_org": provider_a.pk,
            "member": owner_a.membership.pk,
            "invitation": invitation.pk,
            "invite_token": invitation_token,
            "token": token.pk,
            "gpu": cluster.gpu_model.code,
            "region": cluster.region.code,
            "both_org": Organization.objects.get(pk=both.pk).pk,
        },
    }


_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>")


def _path(name: str, route: str, obj: str | None, objects: dict) -> str:
    """The URL for a row: ``pk``/``code`` are the row's object; another parameter is the world
    object of that name (``objects["dispute_pk"]``), or a placeholder ("x") if there is none."""
    kwargs = {}
    for match in _PARAMETER.finditer(route):
        key = match.group(1) or match.group(2)
        if key in ("pk", "code"):
            kwargs[key] = objects[obj]
        elif key == "token" and obj == "invite_token":
            kwargs[key] = objects["invite_token"]
        else:
            kwargs[key] = objects.get(key, "x")
    return reverse(name, kwargs=kwargs)


def _request(client: Client, method: str, path: str):
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):  # the API reads JSON only
        return client.generic(method, path, "{}", content_type="application/json")
    return client.generic(method, path, "", content_type="application/x-www-form-urlencoded")


@pytest.mark.django_db
def test_permission_matrix():
    world = _world()
    routes = url_patterns()
    clients = {"anon": Client()}
    for actor, user in world["users"].items():
        clients[actor] = Client()
        clients[actor].force_login(user)

    observed_rows = {}
    failures = []
    # GETs first: a POST that wrongly succeeded must not change what later GETs see.
    order = sorted(MATRIX.items(), key=lambda item: item[1][0] != "GET")
    for key, (method, obj, expected) in order:
        name = key.split("@")[0]
        if name not in routes:
            continue
        path = _path(name, routes[name], obj, world["objects"])
        cache.clear()  # sign-up and token share a per-address rate limit
        observed = []
        for actor, want in zip(ACTORS, expected.split(), strict=True):
            if want == "-":
                observed.append("-")
                continue
            response = _request(clients[actor], method, path)
            got = str(response.status_code)
            observed.append(got)
            if got != want:
                failures.append(f"{method} {path} ({key}) as {actor}: {got}, expected {want}")
        observed_rows[key] = " ".join(observed)
    assert not failures, "\n".join(
        failures
        + ["", "observed:"]
        + [
            f'    "{n}": ("{MATRIX[n][0]}", {MATRIX[n][1]!r}, "{o}"),'
            for n, o in observed_rows.items()
        ]
    )
