"""The cluster pages: public search and cluster page, a provider's clusters, create and edit with
the live rating, list / delist, maintenance and outages. Through the test client."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Organization
from inventory import services
from inventory.models import (
    Allocation,
    AllocationKind,
    Cluster,
    ClusterStatus,
    Outage,
    OutageCorrection,
)
from inventory.sla_tiers import sla_tiers_create_defaults
from tests.factories import ClusterFactory, ProviderFactory, gpu, member_of, region
from tests.translations import data_words, untranslated_words

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def book(cluster: Cluster, servers: int, start: date, end: date, reference: str = "contract:1"):
    return services.capacity_reserve(
        cluster_id=cluster.pk,
        servers=servers,
        start=start,
        end=end,
        kind=AllocationKind.BOOKING,
        reference=reference,
    )


def html_of(response) -> str:
    return response.content.decode()


def names_in(html: str) -> list[str]:
    """Cluster names linked from a results table, in order."""
    return re.findall(r'<a href="/clusters/\d+/">([^<]+)</a>', html)


def chinese_page_has_no_english(client, url: str) -> list[str]:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    return untranslated_words(html_of(response), data_words())


@pytest.fixture
def market():
    """A listed cluster, a draft and one listed by an unverified provider."""
    provider = ProviderFactory(name="Hefei Compute")
    listed = ClusterFactory(
        provider=provider, name="Hefei IB", server_count=4, available_from=date(2020, 1, 1)
    )
    draft = ClusterFactory(provider=provider, name="Jinan Draft", status=ClusterStatus.DRAFT)
    hidden = ClusterFactory(provider=ProviderFactory(verified_at=None), name="Hidden Listed")
    return {"provider": provider, "listed": listed, "draft": draft, "hidden": hidden}


# --- Search ---------------------------------------------------------------------------------
def test_anyone_may_search_listed_clusters_of_verified_providers(client, market):
    response = client.get("/clusters/")
    html = html_of(response)
    assert response.status_code == 200
    assert names_in(html) == ["Hefei IB"]
    assert "Sign up to book" in html
    assert "/market/requests/new/" not in html  # booking needs an account


def test_providers_also_find_their_own_clusters_in_any_status(client, market):
    client.force_login(member_of(market["provider"]))
    html = html_of(client.get("/clusters/"))
    assert sorted(names_in(html)) == ["Hefei IB", "Jinan Draft"]
    assert "Draft" in html  # its status, in words


def test_admins_find_every_cluster(client, market, staff_user):
    client.force_login(staff_user)
    html = html_of(client.get("/clusters/"))
    assert sorted(names_in(html)) == ["Hefei IB", "Hidden Listed", "Jinan Draft"]


def test_search_shows_free_servers_and_p_over_the_window(client, market, customer_user):
    start = date(2027, 1, 1)
    book(market["listed"], 3, start, date(2027, 4, 1))
    client.force_login(customer_user)
    html = html_of(client.get("/clusters/", {"start": "2027-01-01", "end": "2027-07-01"}))
    assert "1 of 4 servers" in html
    assert "4.992 P" in html  # one A800 server free for the whole window
    assert "Jan. 1, 2027" in html and "July 1, 2027" in html
    later = html_of(client.get("/clusters/", {"start": "2027-04-01", "end": "2027-07-01"}))
    assert "4 of 4 servers" in later and "19.968 P" in later


def test_search_without_dates_uses_a_window_from_today(client, market):
    html = html_of(client.get("/clusters/"))
    end = TODAY + timedelta(days=90)
    assert f'name="start" value="{TODAY.isoformat()}"' in html  # the inputs show the window
    assert f'name="end" value="{end.isoformat()}"' in html
    assert "4 of 4 servers" in html
    later = html_of(client.get("/clusters/", {"start": "2027-05-01", "end": ""}))
    assert 'name="end" value="2027-07-30"' in later


def test_filters_narrow_the_results_cheapest_first(client, db):
    provider = ProviderFactory()
    ClusterFactory(provider=provider, name="A800 Hefei 120k", price_per_p_year=Decimal("120000"))
    ClusterFactory(provider=provider, name="A800 Hefei 90k", price_per_p_year=Decimal("90000"))
    ClusterFactory(
        provider=provider, name="H800 Wuhu", gpu_model=gpu("H800-80G"), region=region("wuhu")
    )
    ClusterFactory(provider=provider, name="A800 RoCE", interconnect="roce")
    assert names_in(html_of(client.get("/clusters/"))) == [
        "A800 Hefei 90k",
        "A800 Hefei 120k",
        "H800 Wuhu",
        "A800 RoCE",
    ]
    assert names_in(html_of(client.get("/clusters/", {"gpu_model": "H800-80G"}))) == ["H800 Wuhu"]
    assert names_in(html_of(client.get("/clusters/", {"region": "wuhu"}))) == ["H800 Wuhu"]
    assert names_in(html_of(client.get("/clusters/", {"interconnect": "roce"}))) == ["A800 RoCE"]
    cheap = names_in(html_of(client.get("/clusters/", {"max_price": "100000"})))
    assert cheap == ["A800 Hefei 90k"]


def test_results_are_cheapest_first(client, db):
    provider = ProviderFactory()
    for price in ("130000", "90000", "110000"):
        ClusterFactory(provider=provider, name=f"Price {price}", price_per_p_year=Decimal(price))
    assert names_in(html_of(client.get("/clusters/"))) == [
        "Price 90000",
        "Price 110000",
        "Price 130000",
    ]


def test_minimum_free_p_leaves_out_clusters_with_less(client, db):
    provider = ProviderFactory()
    small = ClusterFactory(provider=provider, name="Small", server_count=1)
    ClusterFactory(provider=provider, name="Big", server_count=10)
    book(small, 1, date(2027, 1, 1), date(2027, 2, 1))
    html = html_of(
        client.get("/clusters/", {"start": "2027-01-01", "end": "2027-03-01", "min_free_p": "5"})
    )
    assert names_in(html) == ["Big"]


def test_customers_get_a_request_link_for_the_free_capacity(client, market, customer_user):
    client.force_login(customer_user)
    html = html_of(client.get("/clusters/", {"start": "2027-01-01", "end": "2027-03-01"}))
    assert (
        "/market/requests/new/?gpu_model=A800-80G&amp;region=hefei&amp;servers=4"
        "&amp;start_date=2027-01-01"
    ) in html
    assert "Request this capacity" in html


@pytest.mark.parametrize(
    ("query", "field_error"),
    [
        ({"start": "2027-03-01", "end": "2027-01-01"}, "Must be after the start."),
        ({"gpu_model": "Z999"}, "Select a valid choice."),
        ({"gpu_model": "A800\x0080G"}, "Null characters are not allowed."),
        ({"max_price": "10000000.01"}, "less than or equal to 10000000"),
        ({"max_price": "0"}, "greater than or equal to 0.01"),
        ({"start": "9999-12-31"}, "Give a date from 2020-01-01"),
        ({"start": "2027-02-30"}, "Enter a valid date."),
        ({"min_free_p": "-1"}, "greater than or equal to 0"),
        ({"min_free_p": "NaN"}, "Enter a number."),
    ],
)
def test_bad_filters_are_field_errors_not_failures(client, market, query, field_error):
    response = client.get("/clusters/", query)
    assert response.status_code == 200
    html = html_of(response)
    assert field_error in html
    assert "invalid-feedback" in html  # inline, beside the field
    assert names_in(html) == []


def test_htmx_asks_for_the_results_only(client, market):
    response = client.get("/clusters/", {"region": "hefei"}, HTTP_HX_REQUEST="true")
    html = html_of(response)
    assert "<html" not in html and "Hefei IB" in html
    assert "HX-Request" in response["Vary"]
    full = client.get("/clusters/", {"region": "hefei"})
    assert "<html" in html_of(full) and 'hx-get="/clusters/"' in html_of(full)


def test_htmx_history_restore_gets_the_whole_page(client, market):
    response = client.get(
        "/clusters/",
        {"region": "hefei"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in html_of(response)


def test_htmx_results_say_what_is_wrong_with_the_filters(client, market):
    response = client.get("/clusters/", {"end": "2019-01-01"}, HTTP_HX_REQUEST="true")
    assert "Correct the filters" in html_of(response)


def test_search_pages_through_many_clusters(client, db):
    provider = ProviderFactory()
    for index in range(45):
        ClusterFactory(provider=provider, price_per_p_year=Decimal(100000 + index))
    first = html_of(client.get("/clusters/"))
    assert len(names_in(first)) == 20 and "Page 1 of 3" in first
    last = html_of(client.get("/clusters/", {"page": 3}))
    assert len(names_in(last)) == 5
    assert html_of(client.get("/clusters/", {"page": "x"})).count("Page 1 of 3") == 1


@pytest.mark.parametrize("clusters", [3, 60])
def test_search_runs_a_constant_number_of_queries(
    client, customer_user, django_assert_max_num_queries, clusters
):
    provider = ProviderFactory()
    for index in range(clusters):
        cluster = ClusterFactory(provider=provider, price_per_p_year=Decimal(100000 + index))
        book(cluster, 1, date(2027, 1, 1), date(2027, 2, 1), reference=f"c:{index}")
        Outage.objects.create(
            cluster=cluster,
            start=timezone.now() - timedelta(days=3),
            end=timezone.now() - timedelta(days=2),
            servers_affected=1,
            description="x",
        )
    client.force_login(customer_user)
    with django_assert_max_num_queries(9):
        response = client.get("/clusters/", {"start": "2027-01-01", "end": "2027-03-01"})
    assert response.status_code == 200


def test_search_page_reads_in_chinese(client, market, customer_user):
    client.force_login(customer_user)
    assert chinese_page_has_no_english(client, "/clusters/?start=2027-01-01&end=2027-03-01") == []


def test_search_page_reads_in_chinese_for_visitors_and_errors(client, market):
    assert chinese_page_has_no_english(client, "/clusters/") == []
    assert chinese_page_has_no_english(client, "/clusters/?start=2027-03-01&end=2027-01-01") == []


# --- Cluster page ---------------------------------------------------------------------------
def test_cluster_page_shows_specs_prices_and_uptime(client, market):
    cluster = market["listed"]
    Outage.objects.create(
        cluster=cluster,
        start=timezone.now() - timedelta(days=5, hours=6),
        end=timezone.now() - timedelta(days=5),
        servers_affected=1,
        description="Switch failure",
    )
    html = html_of(client.get(f"/clusters/{cluster.pk}/"))
    assert "4.992 P" in html  # per server: 8 x 624 TFLOPS
    assert "19.968 P" in html  # four servers
    assert "¥120,000.00" in html and "¥599,040.00 per server-year" in html
    assert "Minimum term 1 month" in html
    assert "Promised monthly uptime: 99.900%" in html
    assert "Credit: the hours beyond the promise" in html  # a cluster without tiers
    sla_tiers_create_defaults(cluster=cluster)
    html = html_of(client.get(f"/clusters/{cluster.pk}/"))
    for below, credit in (("99.900%", "10%"), ("99.000%", "25%"), ("95.000%", "100%")):
        assert f"Uptime below {below}: {credit} of the affected servers' monthly" in html
    assert "99.931%" in html  # 1 of 4 servers down 6 hours in 90 days: 1 - 6 / 8,640
    assert "Switch failure" in html
    assert "Sign up to book" in html


def test_cluster_page_draws_the_availability_calendar_with_a_table(client, market):
    cluster = market["listed"]
    start = TODAY + timedelta(days=10)
    book(cluster, 3, start, start + timedelta(days=30))
    html = html_of(client.get(f"/clusters/{cluster.pk}/"))
    assert 'role="img"' in html and 'class="step-line"' in html
    assert "Free servers, next 12 months" in html
    table = html[html.index("<caption>Free servers, next 12 months</caption>") :]
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S)
    assert len(rows) == 3  # 4 free, 1 free during the booking, 4 again
    assert ">1</td>" in rows[1] and ">4.992</td>" in rows[1]


def test_hidden_clusters_answer_404(client, market, customer_user):
    for key in ("draft", "hidden"):
        assert client.get(f"/clusters/{market[key].pk}/").status_code == 404
    client.force_login(customer_user)
    assert client.get(f"/clusters/{market['draft'].pk}/").status_code == 404


def test_owners_and_admins_see_any_of_their_clusters_with_actions(client, market, staff_user):
    draft = market["draft"]
    client.force_login(member_of(market["provider"]))
    html = html_of(client.get(f"/clusters/{draft.pk}/"))
    assert "Edit" in html and "Block servers for maintenance" in html and "Record an outage" in html
    assert 'value="listed"' in html  # a draft can be listed
    client.force_login(staff_user)
    assert client.get(f"/clusters/{market['hidden'].pk}/").status_code == 200


def test_visitors_see_no_owner_actions(client, market, customer_user):
    client.force_login(customer_user)
    html = html_of(client.get(f"/clusters/{market['listed'].pk}/"))
    assert "Record an outage" not in html and "/edit/" not in html
    assert "Request this capacity" in html


def test_cluster_page_runs_a_bounded_number_of_queries(
    client, market, django_assert_max_num_queries
):
    client.force_login(member_of(market["provider"]))
    cluster = market["listed"]
    for index in range(20):
        day = TODAY + timedelta(days=index * 7)
        book(cluster, 1, day, day + timedelta(days=5), reference=f"c:{index}")
        Outage.objects.create(
            cluster=cluster,
            start=timezone.now() - timedelta(days=index + 1),
            end=timezone.now() - timedelta(days=index + 1) + timedelta(hours=1),
            servers_affected=1,
            description="x",
        )
    with django_assert_max_num_queries(10):
        assert client.get(f"/clusters/{cluster.pk}/").status_code == 200


def test_cluster_page_reads_in_chinese(client, market):
    assert chinese_page_has_no_english(client, f"/clusters/{market['listed'].pk}/") == []
    client.force_login(member_of(market["provider"]))
    assert chinese_page_has_no_english(client, f"/clusters/{market['draft'].pk}/") == []


# --- My clusters ----------------------------------------------------------------------------
def test_my_clusters_needs_a_provider(client, customer_user):
    response = client.get("/clusters/mine/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(customer_user)
    assert client.get("/clusters/mine/").status_code == 403


def test_my_clusters_lists_mine_with_listed_and_booked_p(client, market):
    listed = market["listed"]
    book(listed, 2, TODAY - timedelta(days=3), TODAY + timedelta(days=30))
    book(listed, 1, TODAY + timedelta(days=40), TODAY + timedelta(days=60), reference="later")
    ClusterFactory(name="Somebody else's")
    client.force_login(member_of(market["provider"]))
    html = html_of(client.get("/clusters/mine/"))
    assert sorted(names_in(html)) == ["Hefei IB", "Jinan Draft"]
    assert "9.984 P" in html  # booked today: 2 servers x 4.992 (the later booking not yet)
    assert "2 servers" in html
    assert "19.968" in html  # listed P: only the listed cluster counts
    assert "Draft" in html and "Listed" in html


def test_my_clusters_tells_unverified_providers_about_verification(client, db):
    provider = ProviderFactory(verified_at=None, name="Wuhu Cloud")
    client.force_login(member_of(provider))
    html = html_of(client.get("/clusters/mine/"))
    assert "Wuhu Cloud is awaiting verification" in html


def test_my_clusters_runs_a_bounded_number_of_queries(
    client, market, django_assert_max_num_queries
):
    for index in range(30):
        cluster = ClusterFactory(
            provider=market["provider"], name=f"More {index}", available_from=date(2020, 1, 1)
        )
        book(cluster, 1, TODAY, TODAY + timedelta(days=5), reference=f"c:{index}")
    client.force_login(member_of(market["provider"]))
    with django_assert_max_num_queries(6):
        assert client.get("/clusters/mine/").status_code == 200


def test_my_clusters_reads_in_chinese(client, market):
    client.force_login(member_of(market["provider"]))
    assert chinese_page_has_no_english(client, "/clusters/mine/") == []


# --- Create and edit ------------------------------------------------------------------------
def cluster_post(**overrides) -> dict:
    data = {
        "name": "Wuhu H800 IB-07",
        "region": "wuhu",
        "gpu_model": "H800-80G",
        "gpus_per_server": "8",
        "server_count": "10",
        "price_per_p_year": "130000",
        "interconnect": "infiniband",
        "interconnect_gbps": "3200",
        "min_term_months": "3",
        "available_from": "2027-01-01",
        "available_until": "",
        "sla_uptime_percent": "99.9",
        "description": "三级机房",
    }
    data.update(overrides)
    return data


@pytest.fixture
def provider_client(client, market):
    client.force_login(member_of(market["provider"]))
    return client


def test_a_provider_creates_a_draft_cluster(provider_client, market):
    response = provider_client.post("/clusters/new/", cluster_post())
    cluster = Cluster.objects.get(name="Wuhu H800 IB-07")
    assert response.status_code == 302 and response["Location"] == f"/clusters/{cluster.pk}/"
    assert cluster.provider == market["provider"] and cluster.status == ClusterStatus.DRAFT
    assert cluster.rated_p == Decimal("158.32")
    assert (cluster.min_term_months, cluster.interconnect_gbps) == (3, 3200)
    page = html_of(provider_client.get(response["Location"]))
    assert "is saved as a draft" in page and "158.320 P" in page


def test_the_create_form_shows_the_rating_without_javascript(provider_client):
    response = provider_client.post("/clusters/new/", cluster_post(name=""))
    html = html_of(response)
    assert response.status_code == 200
    assert "This field is required." in html
    assert "15.832 P per server" in html  # rated from what was typed
    assert "158.320 P in all, over 10 servers" in html
    assert "¥2,058,160.00 per server-year" in html  # 15.832 x 130,000
    assert 'value="H800-80G" selected' in html  # keeps what the user typed
    assert not Cluster.objects.filter(name="").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"gpus_per_server": "17"}, "gpus_per_server", "less than or equal to 16"),
        ({"server_count": "0"}, "server_count", "greater than or equal to 1"),
        ({"server_count": "100001"}, "server_count", "less than or equal to 100000"),
        ({"price_per_p_year": "10000000.01"}, "price_per_p_year", "less than or equal to"),
        ({"price_per_p_year": "1.0000001"}, "price_per_p_year", "6 decimal places"),
        ({"min_term_months": "61"}, "min_term_months", "less than or equal to 60"),
        ({"available_until": "2026-12-31"}, "available_until", "Must be after the first"),
        ({"available_from": "2019-12-31"}, "available_from", "Give a date from 2020-01-01"),
        ({"sla_uptime_percent": "100.5"}, "sla_uptime_percent", "less than or equal to 100"),
        ({"gpu_model": "nope"}, "gpu_model", "Select a valid choice"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"description": "x" * 2001}, "description", "at most 2000 characters"),
        ({"interconnect_gbps": "100001"}, "interconnect_gbps", "less than or equal to 100000"),
    ],
)
def test_cluster_input_out_of_bounds_is_refused_inline(provider_client, overrides, field, message):
    response = provider_client.post("/clusters/new/", cluster_post(**overrides))
    html = html_of(response)
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in html and message in html
    assert not Cluster.objects.filter(name=cluster_post(**overrides)["name"]).exists()


def test_only_providers_create_clusters(client, customer_user):
    client.force_login(customer_user)
    assert client.get("/clusters/new/").status_code == 403
    assert client.post("/clusters/new/", cluster_post()).status_code == 403
    assert not Cluster.objects.filter(name="Wuhu H800 IB-07").exists()


def test_live_rating_follows_the_hardware(provider_client):
    response = provider_client.get(
        "/clusters/rating/",
        {"gpu_model": "A800-80G", "gpus_per_server": "8", "server_count": "2"},
    )
    html = html_of(response)
    assert "<html" not in html
    assert "4.992 P per server" in html and "9.984 P in all, over 2 servers" in html
    assert "per server-year" not in html  # no price typed yet
    html = html_of(
        provider_client.get(
            "/clusters/rating/",
            {"gpu_model": "H800-80G", "gpus_per_server": "4", "price_per_p_year": "120000"},
        )
    )
    assert "7.916 P per server" in html and "¥949,920.00 per server-year" in html


def test_live_rating_explains_what_it_needs(provider_client):
    html = html_of(provider_client.get("/clusters/rating/", {"gpus_per_server": "8"}))
    assert "Choose a GPU model" in html
    html = html_of(
        provider_client.get("/clusters/rating/", {"gpu_model": "A800-80G", "gpus_per_server": "99"})
    )
    assert "Choose a GPU model" in html


def test_edit_form_changes_only_what_was_changed(provider_client, market):
    cluster = market["listed"]
    data = cluster_post(
        name="Hefei IB renamed",
        region="hefei",
        gpu_model="A800-80G",
        server_count="4",
        price_per_p_year="125000",
        interconnect="infiniband",
        interconnect_gbps="400",
        min_term_months="1",
        available_from="2020-01-01",
        sla_uptime_percent="99.9",
        description="",
    )
    response = provider_client.post(f"/clusters/{cluster.pk}/edit/", data)
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.name == "Hefei IB renamed" and cluster.price_per_p_year == Decimal("125000")
    response = provider_client.post(f"/clusters/{cluster.pk}/edit/", data, follow=True)
    assert "Nothing was changed." in html_of(response)


def test_edit_form_starts_from_the_cluster(provider_client, market):
    html = html_of(provider_client.get(f"/clusters/{market['listed'].pk}/edit/"))
    assert 'value="Hefei IB"' in html and 'value="120000"' in html
    assert "4.992 P per server" in html


def edit_data(cluster: Cluster, **overrides) -> dict:
    data = cluster_post(
        name=cluster.name,
        region=cluster.region.code,
        gpu_model=cluster.gpu_model.code,
        gpus_per_server=str(cluster.gpus_per_server),
        server_count=str(cluster.server_count),
        price_per_p_year="120000",
        interconnect=cluster.interconnect,
        interconnect_gbps=str(cluster.interconnect_gbps),
        min_term_months=str(cluster.min_term_months),
        available_from=cluster.available_from.isoformat(),
        sla_uptime_percent="99.9",
        description="",
    )
    data.update(overrides)
    return data


def test_shrinking_below_booked_servers_is_a_field_error_with_the_figure(provider_client, market):
    cluster = market["listed"]
    book(cluster, 3, TODAY + timedelta(days=5), TODAY + timedelta(days=50))
    response = provider_client.post(
        f"/clusters/{cluster.pk}/edit/", edit_data(cluster, server_count="2")
    )
    html = html_of(response)
    assert response.status_code == 200
    assert 'id="id_server_count_error"' in html and "cannot shrink below 3" in html
    cluster.refresh_from_db()
    assert cluster.server_count == 4


def test_hardware_changes_while_booked_are_a_field_error(provider_client, market):
    cluster = market["listed"]
    book(cluster, 1, TODAY + timedelta(days=5), TODAY + timedelta(days=50))
    response = provider_client.post(
        f"/clusters/{cluster.pk}/edit/", edit_data(cluster, gpu_model="H800-80G")
    )
    html = html_of(response)
    assert 'id="id_gpu_model_error"' in html and "hardware cannot change" in html
    cluster.refresh_from_db()
    assert cluster.gpu_model.code == "A800-80G"


def test_service_errors_read_in_chinese(provider_client, market):
    cluster = market["listed"]
    book(cluster, 3, TODAY + timedelta(days=5), TODAY + timedelta(days=50))
    response = provider_client.post(
        f"/clusters/{cluster.pk}/edit/",
        edit_data(cluster, server_count="2"),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    html = html_of(response)
    assert "cannot shrink" not in html
    assert untranslated_words(html, data_words()) == []


def test_other_providers_cannot_edit(client, market):
    client.force_login(member_of(ProviderFactory()))
    assert client.get(f"/clusters/{market['listed'].pk}/edit/").status_code == 403
    assert client.get(f"/clusters/{market['draft'].pk}/edit/").status_code == 404
    response = client.post(f"/clusters/{market['listed'].pk}/status/", {"status": "delisted"})
    assert response.status_code == 403
    market["listed"].refresh_from_db()
    assert market["listed"].status == ClusterStatus.LISTED


def test_create_and_edit_forms_read_in_chinese(provider_client, market):
    assert chinese_page_has_no_english(provider_client, "/clusters/new/") == []
    assert (
        chinese_page_has_no_english(provider_client, f"/clusters/{market['listed'].pk}/edit/") == []
    )
    response = provider_client.post(
        "/clusters/new/", cluster_post(gpus_per_server="17"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert untranslated_words(html_of(response), data_words()) == []


# --- List / delist --------------------------------------------------------------------------
def test_a_draft_is_listed_then_delisted_then_listed_again(provider_client, market):
    cluster = market["draft"]
    url = f"/clusters/{cluster.pk}/status/"
    response = provider_client.post(url, {"status": "listed"}, follow=True)
    assert "is listed: customers can find and book it." in html_of(response)
    cluster.refresh_from_db()
    assert cluster.status == ClusterStatus.LISTED
    provider_client.post(url, {"status": "delisted"})
    cluster.refresh_from_db()
    assert cluster.status == ClusterStatus.DELISTED
    response = provider_client.post(url, {"status": "listed", "next": "mine"})
    assert response["Location"] == "/clusters/mine/"
    cluster.refresh_from_db()
    assert cluster.status == ClusterStatus.LISTED


def test_a_listed_cluster_cannot_go_back_to_draft(provider_client, market):
    cluster = market["listed"]
    response = provider_client.post(
        f"/clusters/{cluster.pk}/status/", {"status": "draft"}, follow=True
    )
    assert "A listed cluster cannot become draft." in html_of(response)
    cluster.refresh_from_db()
    assert cluster.status == ClusterStatus.LISTED


def test_unverified_providers_are_told_their_listing_shows_once_verified(client, db):
    provider = ProviderFactory(verified_at=None, name="Wuhu Cloud")
    cluster = ClusterFactory(provider=provider, status=ClusterStatus.DRAFT)
    client.force_login(member_of(provider))
    response = client.post(f"/clusters/{cluster.pk}/status/", {"status": "listed"}, follow=True)
    assert "once a platform admin has verified Wuhu Cloud" in html_of(response)
    client.logout()
    assert client.get(f"/clusters/{cluster.pk}/").status_code == 404  # not public yet
    Organization.objects.filter(pk=provider.pk).update(verified_at=timezone.now())
    assert client.get(f"/clusters/{cluster.pk}/").status_code == 200


def test_status_changes_are_posts(provider_client, market):
    assert provider_client.get(f"/clusters/{market['draft'].pk}/status/").status_code == 405
    response = provider_client.post(f"/clusters/{market['draft'].pk}/status/", {"status": "x"})
    assert response.status_code == 302
    market["draft"].refresh_from_db()
    assert market["draft"].status == ClusterStatus.DRAFT


# --- Maintenance ----------------------------------------------------------------------------
def test_a_provider_blocks_servers_for_maintenance(provider_client, market):
    cluster = market["listed"]
    start = TODAY + timedelta(days=10)
    response = provider_client.post(
        f"/clusters/{cluster.pk}/maintenance/new/",
        {"servers": "2", "start": start, "end": start + timedelta(days=2), "note": "Firmware"},
        follow=True,
    )
    assert "The maintenance block is saved." in html_of(response)
    block = Allocation.objects.get(cluster=cluster, kind=AllocationKind.MAINTENANCE)
    assert (block.servers, block.start, block.note) == (2, start, "Firmware")
    assert "Firmware" in html_of(response)  # listed on the cluster page


def test_maintenance_over_booked_servers_is_refused_with_the_figure(provider_client, market):
    cluster = market["listed"]
    start = TODAY + timedelta(days=10)
    book(cluster, 3, start, start + timedelta(days=30))
    response = provider_client.post(
        f"/clusters/{cluster.pk}/maintenance/new/",
        {"servers": "2", "start": start, "end": start + timedelta(days=2), "note": ""},
    )
    html = html_of(response)
    assert response.status_code == 200
    assert 'id="id_servers_error"' in html and "Only 1 server is free from" in html
    assert not Allocation.objects.filter(kind=AllocationKind.MAINTENANCE).exists()
    zh = provider_client.post(
        f"/clusters/{cluster.pk}/maintenance/new/",
        {"servers": "2", "start": start, "end": start + timedelta(days=2), "note": ""},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert untranslated_words(html_of(zh), data_words()) == []


def test_maintenance_needs_a_window(provider_client, market):
    cluster = market["listed"]
    response = provider_client.post(
        f"/clusters/{cluster.pk}/maintenance/new/",
        {"servers": "1", "start": "2027-03-01", "end": "2027-03-01"},
    )
    assert "Must be after the first day." in html_of(response)
    assert (
        chinese_page_has_no_english(provider_client, f"/clusters/{cluster.pk}/maintenance/new/")
        == []
    )


# --- Outages --------------------------------------------------------------------------------
def test_a_provider_records_an_outage(provider_client, market):
    cluster = market["listed"]
    response = provider_client.post(
        f"/clusters/{cluster.pk}/outages/new/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T11:30",
            "servers_affected": "2",
            "description": "Power feed A lost",
        },
        follow=True,
    )
    assert "The outage is recorded." in html_of(response)
    outage = Outage.objects.get(cluster=cluster)
    assert outage.servers_affected == 2
    assert timezone.localtime(outage.start).hour == 8  # in the project's time zone
    assert outage.end - outage.start == timedelta(hours=3, minutes=30)


def test_outage_on_more_servers_than_the_cluster_has_is_refused(provider_client, market):
    cluster = market["listed"]
    response = provider_client.post(
        f"/clusters/{cluster.pk}/outages/new/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T09:00",
            "servers_affected": "5",
            "description": "x",
        },
    )
    html = html_of(response)
    assert 'id="id_servers_affected_error"' in html and "only 4 servers" in html
    assert not Outage.objects.exists()
    response = provider_client.post(
        f"/clusters/{cluster.pk}/outages/new/",
        {"start": "2026-11-02T08:00", "end": "2026-11-02T07:00", "servers_affected": "1"},
    )
    assert "An outage must end after it starts." in html_of(response)


@pytest.fixture
def outage(market):
    start = timezone.now() - timedelta(days=3)
    return Outage.objects.create(
        cluster=market["listed"],
        start=start,
        end=start + timedelta(hours=2),
        servers_affected=1,
        description="Switch",
    )


def outage_data(outage: Outage, **overrides) -> dict:
    data = {
        "start": timezone.localtime(outage.start).strftime("%Y-%m-%dT%H:%M"),
        "end": timezone.localtime(outage.end).strftime("%Y-%m-%dT%H:%M"),
        "servers_affected": str(outage.servers_affected),
        "description": outage.description,
    }
    data.update(overrides)
    return data


def test_a_provider_corrects_an_outage_not_yet_invoiced(provider_client, outage):
    response = provider_client.post(
        f"/clusters/outages/{outage.pk}/edit/", outage_data(outage, servers_affected="3")
    )
    assert response.status_code == 302
    outage.refresh_from_db()
    assert outage.servers_affected == 3
    assert not OutageCorrection.objects.exists()


def test_an_invoiced_outage_is_closed_to_its_provider(provider_client, outage):
    services.outages_mark_invoiced(outage_ids=[outage.pk])
    response = provider_client.get(f"/clusters/outages/{outage.pk}/edit/")
    assert response.status_code == 403
    assert "only a platform admin can correct it" in html_of(response)
    response = provider_client.post(
        f"/clusters/outages/{outage.pk}/edit/", outage_data(outage, servers_affected="3")
    )
    assert response.status_code == 403
    outage.refresh_from_db()
    assert outage.servers_affected == 1


def test_admins_correct_an_invoiced_outage_with_a_reason(client, staff_user, outage):
    services.outages_mark_invoiced(outage_ids=[outage.pk])
    client.force_login(staff_user)
    url = f"/clusters/outages/{outage.pk}/edit/"
    response = client.post(url, outage_data(outage, servers_affected="2", reason=""))
    assert 'id="id_reason_error"' in html_of(response)
    response = client.post(
        url, outage_data(outage, servers_affected="2", reason="Provider's log shows 2 nodes")
    )
    assert response.status_code == 302
    outage.refresh_from_db()
    assert outage.servers_affected == 2
    correction = OutageCorrection.objects.get(outage=outage)
    assert correction.before["servers_affected"] == 1 and correction.after["servers_affected"] == 2
    assert set(correction.after) == {"start", "end", "servers_affected", "description"}
    assert correction.before["start"] == correction.after["start"]  # untouched


def test_outages_of_others_are_hidden_or_forbidden(client, market, outage):
    client.force_login(member_of(ProviderFactory()))
    assert client.get(f"/clusters/outages/{outage.pk}/edit/").status_code == 403
    hidden = Outage.objects.create(
        cluster=market["hidden"],
        start=timezone.now() - timedelta(days=1),
        end=timezone.now(),
        servers_affected=1,
        description="x",
    )
    assert client.get(f"/clusters/outages/{hidden.pk}/edit/").status_code == 404


def test_outage_pages_read_in_chinese(provider_client, market, outage):
    cluster = market["listed"]
    assert (
        chinese_page_has_no_english(provider_client, f"/clusters/{cluster.pk}/outages/new/") == []
    )
    assert (
        chinese_page_has_no_english(provider_client, f"/clusters/outages/{outage.pk}/edit/") == []
    )
