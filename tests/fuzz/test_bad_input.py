"""Every kind of bad input named in issue 9 is refused with a 4xx and field errors, and writes
nothing. Each row: who asks, what they send, the status and the field the error is under."""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import limits
from marketplace.models import RequestStatus
from tests.factories import future_start
from tests.fuzz.conftest import World, row_counts

pytestmark = pytest.mark.django_db

START = future_start().isoformat()
HUGE_PRICE = "99999999999999.999999"
LONG_TEXT = "x" * 100_000


def cluster_body(**overrides) -> dict:
    body = {
        "name": "Bad input",
        "region": "hefei",
        "gpu_model": "A800-80G",
        "gpus_per_server": 8,
        "server_count": 4,
        "interconnect": "infiniband",
        "price_per_p_year": "120000",
        "available_from": "2027-01-01",
    }
    body.update(overrides)
    return body


def request_body(**overrides) -> dict:
    body = {"gpu_models": ["A800-80G"], "servers": 1, "start_date": START, "term_months": 12}
    body.update(overrides)
    return body


def sizing_body(**overrides) -> dict:
    body = {
        "workload": "inference",
        "params": 70_000_000_000,
        "daily_visits": 1_000_000,
        "questions_per_visit": 10,
        "tokens_per_question": 1000,
    }
    body.update(overrides)
    return body


def outage_body(**overrides) -> dict:
    now = timezone.now()
    body = {
        "start": (now - timedelta(hours=2)).isoformat(),
        "end": (now - timedelta(hours=1)).isoformat(),
        "servers_affected": 1,
        "description": "PSU",
    }
    body.update(overrides)
    return body


@dataclass
class Case:
    id: str
    role: str
    method: str
    path: str
    body: object = None  # a dict is sent as JSON; a str is sent as the raw body
    headers: dict = field(default_factory=dict)
    status: int = 400
    field: str | None = None


CASES = [
    # NUL bytes and control characters in codes, lookups and filters.
    Case("gpu-model lookup NUL", "anonymous", "get", "/api/v1/gpu-models/A800%0080G/", status=404),
    Case("region lookup NUL", "anonymous", "get", "/api/v1/regions/he%00fei/", status=404),
    Case("gpu-model lookup C0", "anonymous", "get", "/api/v1/gpu-models/A800%01/", status=404),
    Case(
        "clusters gpu_model NUL",
        "customer",
        "get",
        "/api/v1/clusters/?gpu_model=A800%00",
        field="gpu_model",
    ),
    Case(
        "clusters region NUL",
        "customer",
        "get",
        "/api/v1/clusters/?region=he%00fei",
        field="region",
    ),
    Case(
        "clusters region control",
        "customer",
        "get",
        "/api/v1/clusters/?region=hefei,%1b",
        field="region",
    ),
    Case(
        "request gpu_models NUL",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(gpu_models=["A800\x0080G"]),
        field="gpu_models",
    ),
    Case(
        "request region NUL",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(region="he\x00fei"),
        field="region",
    ),
    Case(
        "request regions control",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(regions=["hefei\x07"]),
        field="regions",
    ),
    Case(
        "sizing gpu_models NUL",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(gpu_models=["\x00"]),
        field="gpu_models",
    ),
    Case(
        "cluster gpu_model NUL",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(gpu_model="A800\x00"),
        field="gpu_model",
    ),
    Case(
        "cluster name control",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(name="bell\x07"),
        field="name",
    ),
    Case(
        "cluster description NUL",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(description="a\x00b"),
        field="description",
    ),
    # Dates beyond the horizon.
    Case(
        "request start 9999",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(start_date="9999-12-31"),
        field="start_date",
    ),
    Case(
        "cluster available_from 9999",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(available_from="9999-12-31"),
        field="available_from",
    ),
    Case(
        "cluster available_until 9999",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(available_until="9999-12-31"),
        field="available_until",
    ),
    Case(
        "cluster PATCH available_until 9999",
        "provider",
        "patch",
        "/api/v1/clusters/{cluster}/",
        {"available_until": "9999-12-31"},
        field="available_until",
    ),
    Case(
        "availability end 9999",
        "customer",
        "get",
        "/api/v1/clusters/{cluster}/availability/?start=2027-01-01&end=9999-12-31",
        field="end",
    ),
    Case(
        "availability start 0001",
        "customer",
        "get",
        "/api/v1/clusters/{cluster}/availability/?start=0001-01-01&end=2027-01-01",
        field="start",
    ),
    Case(
        "search window 9999",
        "customer",
        "get",
        "/api/v1/clusters/?start=2027-01-01&end=9999-12-31",
        field="end",
    ),
    Case(
        "maintenance end 9999",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/maintenance/",
        {"start": "2027-01-01", "end": "9999-12-31", "servers": 1},
        field="end",
    ),
    Case(
        "outage end 9999",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/outages/",
        outage_body(end="9999-12-31T00:00:00+08:00"),
        field="end",
    ),
    Case(
        "terminate 9999",
        "staff",
        "post",
        "/api/v1/contracts/{contract}/terminate/",
        {"reason": "x", "effective_date": "9999-12-31"},
        field="effective_date",
    ),
    Case(
        "impossible date",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(start_date="2027-02-30"),
        field="start_date",
    ),
    # Sizing with absurd numbers.
    Case(
        "sizing params 1e18",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(params=10**18),
        field="params",
    ),
    Case(
        "sizing params 1e30",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(params=10**30),
        field="params",
    ),
    Case(
        "sizing visits 1e30",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(daily_visits=10**30),
        field="daily_visits",
    ),
    Case(
        "sizing tokens 1e20",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        {"workload": "training", "params": 10**12, "training_tokens": 10**20, "days": "30"},
        field="training_tokens",
    ),
    Case(
        "sizing float params",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(params=1e300),
        field="params",
    ),
    # Prices above the maximum.
    Case(
        "cluster price huge",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(price_per_p_year=HUGE_PRICE),
        field="price_per_p_year",
    ),
    Case(
        "cluster price above max",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(price_per_p_year=str(limits.MAX_PRICE_PER_P_YEAR + Decimal("0.01"))),
        field="price_per_p_year",
    ),
    Case(
        "cluster PATCH price huge",
        "provider",
        "patch",
        "/api/v1/clusters/{cluster}/",
        {"price_per_p_year": HUGE_PRICE},
        field="price_per_p_year",
    ),
    Case(
        "request max price huge",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(max_price_per_p_year=HUGE_PRICE),
        field="max_price_per_p_year",
    ),
    Case(
        "request min_p huge",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(servers=None, min_p="99999999.999999"),
        field="min_p",
    ),
    Case(
        "request H800 servers beyond max P",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(gpu_models=["H800-80G"], servers=limits.MAX_SERVERS_PER_REQUEST),
        field="servers",
    ),
    Case(
        "outage servers huge",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/outages/",
        outage_body(servers_affected=10**12),
        field="servers_affected",
    ),
    Case(
        "maintenance servers huge",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/maintenance/",
        {"start": "2027-01-01", "end": "2027-02-01", "servers": 10**12},
        field="servers",
    ),
    Case(
        "cluster gbps huge",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(interconnect_gbps=10**12),
        field="interconnect_gbps",
    ),
    # Malformed JSON never acts.
    Case(
        "request cancel bad JSON",
        "customer",
        "post",
        "/api/v1/capacity-requests/{request}/cancel/",
        "{not json",
        field="non_field_errors",
    ),
    Case(
        "quotes bad JSON",
        "customer",
        "post",
        "/api/v1/capacity-requests/{request}/quotes/",
        "{not json",
        field="non_field_errors",
    ),
    Case(
        "accept bad JSON",
        "customer",
        "post",
        "/api/v1/quotes/{quote}/accept/",
        "[1,",
        field="non_field_errors",
    ),
    Case(
        "contract cancel bad JSON",
        "customer",
        "post",
        "/api/v1/contracts/{contract}/cancel/",
        '{"reason": ',
        field="non_field_errors",
    ),
    Case(
        "approve bad JSON",
        "staff",
        "post",
        "/api/v1/contracts/{contract}/approve/",
        "nope",
        field="non_field_errors",
    ),
    Case(
        "verify bad JSON",
        "staff",
        "post",
        "/api/v1/organizations/{provider_org}/verify/",
        "{",
        field="non_field_errors",
    ),
    Case(
        "token bad JSON",
        "anonymous",
        "post",
        "/api/v1/auth/token/",
        '{"username"',
        field="non_field_errors",
    ),
    Case(
        "bare NaN",
        "provider",
        "post",
        "/api/v1/clusters/",
        '{"name": "n", "price_per_p_year": NaN}',
        field="non_field_errors",
    ),
    Case(
        "bare Infinity",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        '{"workload": "inference", "params": Infinity}',
        field="non_field_errors",
    ),
    Case(
        "JSON not an object",
        "customer",
        "post",
        "/api/v1/contracts/{contract}/cancel/",
        "[1, 2]",
        field="non_field_errors",
    ),
    # Pagination, booleans, unknown choices and formats.
    Case(
        "page_size negative", "customer", "get", "/api/v1/clusters/?page_size=-5", field="page_size"
    ),
    Case(
        "page_size garbage",
        "customer",
        "get",
        "/api/v1/contracts/?page_size=lots",
        field="page_size",
    ),
    Case(
        "page_size above max",
        "customer",
        "get",
        "/api/v1/quotes/?page_size=100000",
        field="page_size",
    ),
    Case("page garbage", "customer", "get", "/api/v1/clusters/?page=%00", field="page"),
    Case(
        "boolean garbage",
        "staff",
        "get",
        "/api/v1/organizations/?is_provider=maybe",
        field="is_provider",
    ),
    Case(
        "status unknown requests",
        "customer",
        "get",
        "/api/v1/capacity-requests/?status=bogus",
        field="status",
    ),
    Case(
        "status unknown contracts",
        "customer",
        "get",
        "/api/v1/contracts/?status=bogus",
        field="status",
    ),
    Case(
        "status unknown quotes", "customer", "get", "/api/v1/quotes/?status=bogus", field="status"
    ),
    Case(
        "status unknown clusters",
        "customer",
        "get",
        "/api/v1/clusters/?status=bogus",
        field="status",
    ),
    Case(
        "interconnect unknown",
        "customer",
        "get",
        "/api/v1/clusters/?interconnect=smoke",
        field="interconnect",
    ),
    Case(
        "ordering unknown",
        "customer",
        "get",
        "/api/v1/clusters/?ordering=password",
        field="ordering",
    ),
    Case("format unknown", "customer", "get", "/api/v1/clusters/?format=xlsx", field="format"),
    Case("max_price NaN", "customer", "get", "/api/v1/clusters/?max_price=NaN", field="max_price"),
    Case(
        "max_price huge",
        "customer",
        "get",
        "/api/v1/clusters/?max_price=1e999999",
        field="max_price",
    ),
    Case(
        "provider huge",
        "customer",
        "get",
        "/api/v1/clusters/?provider=99999999999999999999999",
        field="provider",
    ),
    Case(
        "min_free_p Infinity",
        "customer",
        "get",
        "/api/v1/clusters/?start=2027-01-01&end=2027-02-01&min_free_p=Infinity",
        field="min_free_p",
    ),
    Case(
        "bool body garbage",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(single_cluster="maybe"),
        field="single_cluster",
    ),
    # Overlong text.
    Case(
        "cluster description 100k",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(description=LONG_TEXT),
        field="description",
    ),
    Case(
        "cluster PATCH description 100k",
        "provider",
        "patch",
        "/api/v1/clusters/{cluster}/",
        {"description": LONG_TEXT},
        field="description",
    ),
    Case(
        "outage description 100k",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/outages/",
        outage_body(description=LONG_TEXT),
        field="description",
    ),
    Case(
        "request note 100k",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(note=LONG_TEXT),
        field="note",
    ),
    Case(
        "cancel reason 100k",
        "customer",
        "post",
        "/api/v1/contracts/{contract}/cancel/",
        {"reason": LONG_TEXT},
        field="reason",
    ),
    Case(
        "terminate reason 100k",
        "staff",
        "post",
        "/api/v1/contracts/{contract}/terminate/",
        {"reason": LONG_TEXT, "effective_date": START},
        field="reason",
    ),
    Case(
        "register name 100k",
        "anonymous",
        "post",
        "/api/v1/auth/register/",
        {
            "username": "u1",
            "password": "pw-long-enough-1234",
            "organization": {"name": LONG_TEXT, "roles": ["customer"]},
        },
        field="organization.name",
    ),
    Case(
        "register roles 100k",
        "anonymous",
        "post",
        "/api/v1/auth/register/",
        {
            "username": "u2",
            "password": "pw-long-enough-1234",
            "organization": {"name": "Org", "roles": [LONG_TEXT]},
        },
        field="organization.roles.0",
    ),
    Case(
        "token username 100k",
        "anonymous",
        "post",
        "/api/v1/auth/token/",
        {"username": LONG_TEXT, "password": "x"},
        field="username",
    ),
    Case(
        "profile address 100k",
        "provider",
        "patch",
        "/api/v1/organizations/{provider_org}/",
        {"registered_address": LONG_TEXT},
        field="registered_address",
    ),
    Case(
        "register password control",
        "anonymous",
        "post",
        "/api/v1/auth/register/",
        {
            "username": "u3",
            "password": "long-enough-\x11-passphrase",
            "organization": {"name": "Org 3", "roles": ["customer"]},
        },
        field="password",
    ),
    # Idempotency-Key too long or unprintable: 400, never 409.
    Case(
        "idempotency key 256",
        "customer",
        "post",
        "/api/v1/quotes/{quote}/accept/",
        headers={"HTTP_IDEMPOTENCY_KEY": "k" * 256},
        field="idempotency_key",
    ),
    Case(
        "idempotency key NUL",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/maintenance/",
        {"start": "2027-01-01", "end": "2027-02-01", "servers": 1},
        headers={"HTTP_IDEMPOTENCY_KEY": "a\x00b"},
        field="idempotency_key",
    ),
    # Lone surrogates (sent as JSON escapes, as a client would).
    Case(
        "surrogate in name",
        "provider",
        "post",
        "/api/v1/clusters/",
        json.dumps(cluster_body()).replace('"Bad input"', '"\\ud800"'),
        field="name",
    ),
    Case(
        "surrogate in code",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        json.dumps(request_body()).replace('"A800-80G"', '"\\udfff"'),
        field="gpu_models",
    ),
    Case(
        "surrogate in sizing code",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        json.dumps(sizing_body(gpu_models=["X"])).replace('"X"', '"\\ud83d"'),
        field="gpu_models",
    ),
    Case(
        "surrogate echoed in a choice error",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        json.dumps(sizing_body(precision="X")).replace('"X"', '"\\ud800"'),
        field="precision",
    ),
    # NaN and Infinity as strings.
    Case(
        "price NaN string",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(price_per_p_year="NaN"),
        field="price_per_p_year",
    ),
    Case(
        "price Infinity string",
        "provider",
        "post",
        "/api/v1/clusters/",
        cluster_body(price_per_p_year="-Infinity"),
        field="price_per_p_year",
    ),
    Case(
        "min_p NaN",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        request_body(servers=None, min_p="NaN"),
        field="min_p",
    ),
    Case(
        "utilisation Infinity",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        sizing_body(utilisation="Infinity"),
        field="utilisation",
    ),
    Case(
        "days NaN",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        {"workload": "training", "params": 10**9, "training_tokens": 10**9, "days": "NaN"},
        field="days",
    ),
]


def _path(case: Case, world: World) -> str:
    return case.path.format(
        cluster=world.cluster.pk,
        request=world.request.pk,
        quote=world.quote.pk,
        contract=world.contract.pk,
        provider_org=world.provider_org.pk,
    )


def _send(world: World, case: Case):
    client = world.client(case.role)
    send = getattr(client, case.method)
    path = _path(case, world)
    if case.body is None:
        return send(path, **case.headers)
    raw = case.body if isinstance(case.body, str) else json.dumps(case.body)
    return send(path, raw, content_type="application/json", **case.headers)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_field_errors_and_writes_nothing(world, case):
    before = row_counts()
    response = _send(world, case)
    assert response.status_code == case.status, response.content[:500]
    body = response.json()
    assert set(body) >= {"errors", "code", "detail"}, body
    if case.field is not None:
        assert case.field in body["errors"], body["errors"]
        assert all(isinstance(m, str) and m for m in body["errors"][case.field])
    assert row_counts() == before


def test_malformed_json_on_cancel_leaves_the_request_open(world):
    client = world.client("customer")
    url = f"/api/v1/capacity-requests/{world.request.pk}/cancel/"
    response = client.post(url, "{oops", content_type="application/json")
    assert response.status_code == 400
    world.request.refresh_from_db()
    assert world.request.status == RequestStatus.OPEN
    # An empty body still cancels: the action takes no input.
    assert client.post(url).status_code == 200
    world.request.refresh_from_db()
    assert world.request.status == RequestStatus.CANCELLED


def test_the_last_dates_and_largest_numbers_allowed_are_accepted(world):
    """The bounds are inclusive: the horizon's last day and the maximum price are fine."""
    last_day = limits.latest_date(timezone.localdate())
    client = world.client("provider")
    response = client.post(
        "/api/v1/clusters/",
        cluster_body(
            price_per_p_year=str(limits.MAX_PRICE_PER_P_YEAR),
            available_from=limits.EARLIEST_DATE.isoformat(),
            available_until=last_day.isoformat(),
            server_count=limits.MAX_SERVERS_PER_CLUSTER,
            gpus_per_server=limits.MAX_GPUS_PER_SERVER,
            description="x" * limits.MAX_NOTE_LENGTH,
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    sizing = world.client("anonymous").post(
        "/api/v1/sizing/",
        {
            "workload": "training",
            "params": 10**12,
            "training_tokens": 10**13,
            "days": "90",
        },
        format="json",
    )
    assert sizing.status_code == 200, sizing.json()


def test_sizing_that_needs_more_servers_than_allowed_is_a_400(world):
    response = world.client("anonymous").post(
        "/api/v1/sizing/",
        sizing_body(
            params=int(limits.MAX_MODEL_PARAMS),
            daily_visits=int(limits.MAX_DAILY_VISITS),
            questions_per_visit=int(limits.MAX_QUESTIONS_PER_VISIT),
            tokens_per_question=int(limits.MAX_TOKENS_PER_QUESTION),
            utilisation=str(limits.MIN_UTILISATION),
        ),
        format="json",
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


def test_request_start_on_the_horizon_is_accepted(world):
    last_day = limits.latest_date(timezone.localdate())
    response = world.client("customer").post(
        "/api/v1/capacity-requests/",
        request_body(start_date=last_day.isoformat(), term_months=limits.MAX_TERM_MONTHS),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["end_date"] > last_day.isoformat()


def test_earliest_date_is_the_documented_one():
    assert date(2020, 1, 1) == limits.EARLIEST_DATE
