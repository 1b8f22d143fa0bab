from datetime import date
from decimal import Decimal

import pytest

from marketplace import services
from tests.conftest import client_for
from tests.factories import (
    ClusterFactory,
    OrganizationFactory,
    capacity_request,
    gpu,
    member_of,
    region,
)

pytestmark = pytest.mark.django_db
SINCE = date(2020, 1, 1)


def row_for(rows, gpu_code, region_code):
    return next(r for r in rows if r["gpu_model"] == gpu_code and r["region"] == region_code)


def test_market_view_aggregates_free_p_and_asks(customer_client):
    ClusterFactory(server_count=2, price_per_p_year=100_000, available_from=SINCE)
    ClusterFactory(server_count=4, price_per_p_year=120_000, available_from=SINCE)
    ClusterFactory(server_count=1, price_per_p_year=200_000, available_from=SINCE)
    ClusterFactory(
        gpu_model=gpu("H800-80G"), region=region("wuhu"), server_count=1, available_from=SINCE
    )
    response = customer_client.get("/api/v1/market/")
    assert response.status_code == 200
    a800 = row_for(response.json(), "A800-80G", "hefei")
    assert a800["clusters"] == 3
    assert a800["free_p_30d"] == "34.944"  # 7 servers x 4.992 P
    assert a800["lowest_ask_per_p_year"] == "100000.00"
    assert a800["median_ask_per_p_year"] == "120000.00"
    assert a800["median_signed_per_p_year_90d"] is None  # no contracts: nothing to reveal
    assert row_for(response.json(), "H800-80G", "wuhu")["free_p_365d"] == "15.832"


def test_market_median_signed_price_needs_three_contracts(customer_client):
    ClusterFactory(server_count=10, price_per_p_year=100_000, available_from=SINCE)
    prices = []
    for index in range(3):
        buyer = OrganizationFactory(name=f"Buyer {index}")
        user = member_of(buyer)
        request = capacity_request(buyer, servers=1)
        quote = services.quotes_generate(capacity_request=request, by=user).quotes[0]
        services.quote_accept(quote=quote, by=user)
        prices.append(quote.price_per_p_year)
        rows = customer_client.get("/api/v1/market/").json()
        median = row_for(rows, "A800-80G", "hefei")["median_signed_per_p_year_90d"]
        assert (median is None) == (index < 2)
    assert median == "100000.00"


def test_market_view_needs_login(api_client):
    assert api_client.get("/api/v1/market/").status_code == 401


def test_sizing_training_shows_p_servers_cost_and_formulas(api_client):
    ClusterFactory(gpu_model=gpu("H800-80G"), price_per_p_year=130_000, available_from=SINCE)
    response = api_client.post(
        "/api/v1/sizing/",
        {
            "workload": "training",
            "params": 70_000_000_000,
            "training_tokens": 2_000_000_000_000,
            "days": "30",
            "utilisation": "0.45",
            "gpu_models": ["H800-80G", "A800-80G"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    h800 = next(o for o in body["options"] if o["gpu_model"] == "H800-80G")
    # 6 x 70e9 x 2e12 / (30 x 86,400) / 0.45 = 720.165 PFLOPS dense; / 989 TFLOPS -> 729 cards
    assert body["required_pflops"] == "720.165"
    assert h800["cards"] == 729
    assert h800["servers"] == 92
    assert h800["rated_p"] == "1456.544"  # 92 x 15.832
    assert h800["median_ask_per_p_year"] == "130000.00"
    assert h800["annual_cost"] == "189350720.00"
    a800 = next(o for o in body["options"] if o["gpu_model"] == "A800-80G")
    assert a800["annual_cost"] is None  # no A800 on the market to price from
    assert any(formula.startswith("training FLOPs = 6 x") for formula in body["formulas"])


def test_sizing_inference_int8(api_client):
    response = api_client.post(
        "/api/v1/sizing/",
        {
            "workload": "inference",
            "params": 175_000_000_000,
            "daily_visits": 10_000_000,
            "questions_per_visit": 10,
            "tokens_per_question": 1000,
            "precision": "int8",
            "gpu_models": ["A800-80G"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    option = response.json()["options"][0]
    # 2 x 175e9 x 1e11 / 86,400 / 0.45 = 900.206 PFLOPS; INT8 624 TOPS -> 1,443 cards
    assert option["cards"] == 1443
    assert option["servers"] == 181
    assert Decimal(option["rated_p"]) == Decimal("903.552")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"workload": "training", "params": 1, "days": "3"}, "training_tokens"),
        ({"workload": "inference", "params": 1}, "daily_visits"),
        ({"workload": "mining", "params": 1}, "workload"),
        (
            {
                "workload": "training",
                "params": 1,
                "training_tokens": 1,
                "days": "1",
                "utilisation": "1.5",
            },
            "utilisation",
        ),
        ({"workload": "training", "params": 1, "training_tokens": 1, "days": "0"}, "days"),
    ],
)
def test_sizing_validation(api_client, payload, field):
    response = api_client.post("/api/v1/sizing/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_sizing_is_open_to_logged_in_users_too(customer_user):
    response = client_for(customer_user).post(
        "/api/v1/sizing/",
        {"workload": "training", "params": 1_000_000_000, "training_tokens": 10**11, "days": "7"},
        format="json",
    )
    assert response.status_code == 200
    assert len(response.json()["options"]) == 7


def test_sizing_days_on_n_servers_through_the_api(api_client):
    ClusterFactory(gpu_model=gpu("H800-80G"), price_per_p_year=135_000, available_from=SINCE)
    response = api_client.post(
        "/api/v1/sizing/",
        {
            "workload": "training",
            "mode": "duration",
            "params": 70_000_000_000,
            "training_tokens": 2_000_000_000_000,
            "servers": 64,
            "gpu_models": ["H800-80G"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["mode"] == "duration" and body["required_pflops"] is None
    assert body["total_flops"] == "840000000000000000000000"
    option = body["options"][0]
    assert (option["servers"], option["cards"], option["days"]) == (64, 512, "42.7")
    assert option["term_months"] == 2
    assert option["rated_p"] == "1013.248"
    assert option["term_cost"] == "22798080.00"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"workload": "inference", "mode": "duration", "params": 1, "servers": 1}, "mode"),
        (
            {"workload": "training", "mode": "duration", "params": 1, "training_tokens": 1},
            "servers",
        ),
        (
            {"workload": "training", "mode": "duration", "params": 10**16, "training_tokens": 1},
            "params",
        ),
        (
            {
                "workload": "training",
                "mode": "duration",
                "params": 1,
                "training_tokens": 1,
                "servers": 10**6,
            },
            "servers",
        ),
    ],
)
def test_sizing_modes_and_bounds_are_validated(api_client, payload, field):
    response = api_client.post("/api/v1/sizing/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_schema_documents_the_sizing_modes(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    request = schema["components"]["schemas"]["SizingRequestRequest"]["properties"]
    assert "duration" in request["mode"]["description"]
    assert "servers" in request
    option = schema["components"]["schemas"]["SizingOption"]["properties"]
    assert {"days", "term_months", "term_cost"} <= set(option)
