"""Cluster pages in a real browser: a provider lists a cluster through the pages and a visitor
finds it once the provider is verified; every page axe-clean, not scrolling sideways at 390 px,
in Chinese and English (screenshots of each)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from inventory import services
from inventory.models import AllocationKind, Cluster, ClusterStatus, Outage
from tests.e2e.conftest import log_in, scrolls_sideways, serious_axe_violations, snap
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    ProviderFactory,
    UserFactory,
    gpu,
    member_of,
)

pytestmark = pytest.mark.django_db(transaction=True)


def check(page) -> None:
    """What every page must be: no script errors, no serious axe findings, no sideways scroll."""
    assert page.errors == []
    assert serious_axe_violations(page) == []
    assert not scrolls_sideways(page)


def test_provider_lists_a_cluster_and_a_visitor_finds_it_once_verified(new_page):
    provider = ProviderFactory(name="Anhui Compute", verified_at=None)
    user = member_of(provider)
    admin = UserFactory(username="admin", is_staff=True)
    today = timezone.localdate()

    page = new_page(lang="en")
    log_in(page, user.username, TEST_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My clusters").click()
    page.get_by_role("link", name="Add a cluster").click()

    # The rating follows the hardware as it is typed (htmx), before anything is saved.
    rating = page.locator("#rating")
    page.get_by_label("Name").fill("Hefei H800 IB-10")
    page.get_by_label("Region").select_option("hefei")
    page.get_by_label("GPU model").select_option("A800-80G")
    page.get_by_label(re.compile(r"^Servers")).fill("10")
    rating.get_by_text("4.992 P per server").wait_for()
    rating.get_by_text("49.920 P in all, over 10 servers").wait_for()
    page.get_by_label("GPU model").select_option("H800-80G")
    rating.get_by_text("15.832 P per server").wait_for()
    page.get_by_label("Price per P per year").fill("120000")
    rating.get_by_text("¥1,899,840.00 per server-year").wait_for()
    page.get_by_label("Network bandwidth").fill("3200")
    page.get_by_role("button", name="Save as draft").click()

    page.get_by_text("is saved as a draft").wait_for()
    cluster = Cluster.objects.get(name="Hefei H800 IB-10")
    assert cluster.status == ClusterStatus.DRAFT
    assert cluster.rated_p_per_server == Decimal("15.832")
    assert page.get_by_text("158.320 P").count() == 1
    check(page)

    # List it: it shows once the provider is verified.
    page.get_by_role("button", name="List").click()
    page.get_by_text("Customers will see it once a platform admin has verified").wait_for()
    cluster.refresh_from_db()
    assert cluster.status == ClusterStatus.LISTED

    # Maintenance: refused with the figure where servers are booked, saved where free.
    start = today + timedelta(days=30)
    services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=9,
        start=start,
        end=start + timedelta(days=60),
        kind=AllocationKind.BOOKING,
        reference="contract:e2e",
    )
    page.get_by_role("link", name="Block servers for maintenance").click()
    page.get_by_label(re.compile(r"^Servers")).fill("2")
    page.get_by_label("First day").fill(start.isoformat())
    page.get_by_label("Back in service on").fill((start + timedelta(days=2)).isoformat())
    page.get_by_label("What is being done").fill("Fabric firmware")
    page.get_by_role("button", name="Block the servers").click()
    page.get_by_text("Only 1 server is free from").wait_for()
    check(page)
    page.get_by_label("First day").fill((start - timedelta(days=5)).isoformat())
    page.get_by_label("Back in service on").fill((start - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Block the servers").click()
    page.get_by_text("The maintenance block is saved.").wait_for()
    assert page.get_by_role("cell", name="Fabric firmware").count() == 1

    # An outage, in the project's time zone.
    page.get_by_role("link", name="Record an outage").click()
    down = timezone.localtime() - timedelta(days=2)
    page.get_by_label("Down from").fill(down.strftime("%Y-%m-%dT08:00"))
    page.get_by_label("Back up at").fill(down.strftime("%Y-%m-%dT09:30"))
    page.get_by_label("Servers affected").fill("1")
    page.get_by_label("What happened").fill("Leaf switch replaced")
    page.get_by_role("button", name="Record the outage").click()
    page.get_by_text("The outage is recorded.").wait_for()
    outage = Outage.objects.get(cluster=cluster)
    assert timezone.localtime(outage.start).hour == 8
    assert page.get_by_role("cell", name="Leaf switch replaced").count() == 1
    check(page)

    # A visitor does not find it yet; after the admin verifies the provider, they do.
    visitor = new_page(lang="en")
    visitor.goto("/clusters/")
    assert visitor.get_by_role("link", name="Hefei H800 IB-10").count() == 0
    account_services.organization_verify(organization=provider, by=admin)
    ClusterFactory(name="Wuhu A800 other", available_from=today - timedelta(days=30))
    visitor.goto("/clusters/")
    visitor.get_by_role("link", name="Hefei H800 IB-10").wait_for()
    # Filters update the results in place (htmx) and the address follows.
    visitor.get_by_label("GPU model").select_option("H800-80G")
    visitor.wait_for_url(re.compile(r"gpu_model=H800-80G"))
    visitor.locator("#results").get_by_text("1 cluster;").wait_for()
    assert visitor.get_by_role("link", name="Wuhu A800 other").count() == 0
    assert visitor.get_by_role("link", name="Sign up to book").count() == 1
    check(visitor)
    visitor.get_by_role("link", name="Hefei H800 IB-10").click()
    visitor.get_by_role("heading", name="Availability, next 12 months").wait_for()
    assert visitor.locator("svg.chart[role=img]").count() == 1
    assert visitor.get_by_role("cell", name="Leaf switch replaced").count() == 1
    assert visitor.get_by_role("link", name="Sign up to book").count() == 1
    check(visitor)


def test_search_works_without_javascript(browser, live_server):
    ClusterFactory(name="Qinghai H20", gpu_model=gpu("H20-96G"))
    ClusterFactory(name="Hefei A800")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/clusters/")
    page.get_by_label("GPU model").select_option("H20-96G")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"gpu_model=H20-96G"))
    assert page.get_by_role("link", name="Qinghai H20").count() == 1
    assert page.get_by_role("link", name="Hefei A800").count() == 0
    context.close()


@pytest.fixture
def provider_pages():
    """A verified provider with a listed cluster (booked, maintained, an outage) and a draft."""
    provider = ProviderFactory(name="Hefei Compute Co.")
    user = member_of(provider)
    today = timezone.localdate()
    listed = ClusterFactory(
        provider=provider,
        name="Hefei A800 IB-01",
        server_count=32,
        available_from=today - timedelta(days=400),
        description="Tier III data centre",
    )
    ClusterFactory(
        provider=provider,
        name="Jinan L40S Eth-05",
        status=ClusterStatus.DRAFT,
        gpu_model=gpu("L40S-48G"),
        interconnect="ethernet",
    )
    services.capacity_reserve(
        cluster_id=listed.pk,
        servers=12,
        start=today - timedelta(days=20),
        end=today + timedelta(days=200),
        kind=AllocationKind.BOOKING,
        reference="contract:1",
    )
    services.maintenance_block(
        cluster=listed,
        servers=2,
        start=today + timedelta(days=20),
        end=today + timedelta(days=22),
        note="Firmware",
        by=user,
    )
    outage = services.outage_record(
        cluster=listed,
        start=timezone.now() - timedelta(days=12),
        end=timezone.now() - timedelta(days=12) + timedelta(hours=5),
        servers_affected=2,
        description="Switch failure",
        by=user,
    )
    return {"user": user, "listed": listed, "outage": outage}


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_every_cluster_page_in_both_languages_and_widths(new_page, provider_pages, lang, phone):
    listed = provider_pages["listed"]
    pages = {
        "clusters-search": "/clusters/",
        "cluster-detail": f"/clusters/{listed.pk}/",
        "clusters-mine": "/clusters/mine/",
        "cluster-create": "/clusters/new/",
        "cluster-edit": f"/clusters/{listed.pk}/edit/",
        "cluster-maintenance": f"/clusters/{listed.pk}/maintenance/new/",
        "cluster-outage": f"/clusters/{listed.pk}/outages/new/",
        "outage-edit": f"/clusters/outages/{provider_pages['outage'].pk}/edit/",
    }
    visitor = new_page(lang=lang, phone=phone)
    visitor.goto("/clusters/")
    check(visitor)
    snap(visitor, "clusters-search-visitor")
    visitor.goto(f"/clusters/{listed.pk}/")
    check(visitor)

    page = new_page(lang=lang, phone=phone)
    log_in(page, provider_pages["user"].username, TEST_PASSWORD)
    for name, path in pages.items():
        page.goto(path)
        assert page.evaluate("document.documentElement.lang") == lang
        check(page)
        snap(page, name)
    # A form with errors inline, as people see it.
    page.goto(f"/clusters/{listed.pk}/maintenance/new/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".invalid-feedback").count() >= 3
    check(page)
    snap(page, "cluster-maintenance-errors")
