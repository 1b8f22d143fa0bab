"""The OpenAPI schema says what the API does: error answers on every operation
(accounts.api.schema), nullable fields, pagination where there is a page, and the input
rules the fields enforce.

The live proof is schemathesis against the running stack (.ci/api_contract.py, in .ci/run); these
pin the rules it relies on, fast.
"""

import re

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from accounts.api.schema import horizon_date_pattern
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator(api_version="v1").get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def test_every_operation_documents_its_error_answers(schema):
    for path, method, operation in operations(schema):
        codes = set(operation["responses"])
        where = f"{method} {path}"
        assert "503" in codes, where
        if method != "GET":
            assert {"400", "409"} <= codes, where
        if "{" in path:
            assert "404" in codes, where
        # Sign-up and Stripe's webhook read no credentials; everything else answers 401.
        if path not in ("/api/v1/auth/register/", "/api/v1/billing/stripe/webhook/"):
            assert "401" in codes, where
        for code in codes - {"200", "201", "202", "204"}:
            content = operation["responses"][code]["content"]
            assert list(content) == ["application/json"], where
            assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_error_shape_is_a_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"errors", "code", "detail"}
    assert error["properties"]["errors"]["additionalProperties"]["type"] == "array"


def test_statuses_follow_the_views_own_settings(schema):
    paths = schema["paths"]
    assert "429" in paths["/api/v1/auth/register/"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token/"]["post"]["responses"]
    assert "429" not in paths["/api/v1/clusters/"]["get"]["responses"]
    # Admin-only: 403 even on a read.
    assert "403" in paths["/api/v1/invoices/export.csv"]["get"]["responses"]
    # A list with pages: a page past the last is a 404, a bad page number a 400.
    assert {"400", "404"} <= set(paths["/api/v1/contracts/"]["get"]["responses"])
    # Nothing to validate and nothing to page: no 400.
    assert "400" not in paths["/api/v1/me/"]["get"]["responses"]
    # A new endpoint that says nothing gets them too: the schema class is the default.
    from django.conf import settings

    schema_class = settings.REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]
    assert schema_class == "accounts.api.schema.StandardAutoSchema"


def test_nullable_fields_and_pages_as_served(schema):
    components = schema["components"]["schemas"]
    cluster = components["Cluster"]["properties"]
    assert cluster["free_servers"]["nullable"] is True
    assert cluster["free_p"]["nullable"] is True
    contract = components["Contract"]["properties"]
    for name in ("total_p", "price_per_p_year", "annual_price", "total_price"):
        assert contract[name]["nullable"] is True, name
    availability = schema["paths"]["/api/v1/clusters/{id}/availability/"]["get"]
    body = availability["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"  # a bare list, as the view answers


def test_input_rules_are_in_the_schema(schema):
    components = schema["components"]["schemas"]
    request = components["CapacityRequestCreateRequest"]["properties"]
    assert request["gpu_models"]["minItems"] == 1
    assert re.fullmatch(request["start_date"]["pattern"], "2027-01-31")
    assert not re.fullmatch(request["start_date"]["pattern"], "9999-12-31")
    reason = components["ReasonRequest"]["properties"]["reason"]["oneOf"][0]["pattern"]
    assert re.fullmatch(reason, "line one\nline two")
    assert not re.fullmatch(reason, "bell\x07")
    clusters = {p["name"]: p for p in schema["paths"]["/api/v1/clusters/"]["get"]["parameters"]}
    assert clusters["page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1_000_000}
    assert "-price_per_p_year" in clusters["ordering"]["schema"]["enum"]
    assert clusters["provider"]["schema"]["minimum"] == 1


def test_horizon_pattern_spans_whole_years():
    from datetime import date

    pattern = horizon_date_pattern(date(2026, 12, 1))
    assert re.fullmatch(pattern, "2020-01-01")
    assert re.fullmatch(pattern, "2035-12-31")
    assert not re.fullmatch(pattern, "2036-01-01")  # the horizon ends 2036-12-01
    assert not re.fullmatch(pattern, "2027-02-30")


# --- what the schema promises, the server does --------------------------------------------------
def test_a_query_parameter_without_a_value_is_refused(customer_user):
    response = client_for(customer_user).get("/api/v1/contracts/?status=")
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": ["Give a value, or leave the parameter out."]}


def test_a_form_encoded_body_is_refused(customer_user):
    response = client_for(customer_user).post(
        "/api/v1/sizing/", "params=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_booleans_and_lists_are_json_types(customer_user):
    client = client_for(customer_user)
    body = {"workload": "inference", "params": 1, "daily_visits": 1}
    response = client.post("/api/v1/sizing/", {**body, "activation_recomputation": 0})
    assert response.status_code == 400
    assert "activation_recomputation" in response.json()["errors"]
    response = client.post("/api/v1/sizing/", {**body, "gpu_models": {}})
    assert response.status_code == 400
    assert "gpu_models" in response.json()["errors"]


def test_filter_by_a_related_id_that_matches_nothing_is_an_empty_page(customer_user):
    response = client_for(customer_user).get("/api/v1/invoices/?contract=999999")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_an_error_on_a_file_endpoint_answers_json(customer_user):
    response = client_for(customer_user).get(
        "/api/v1/invoices/999999/pdf/", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


def test_a_csv_endpoint_refuses_in_json(customer_user):
    response = client_for(customer_user).get(
        "/api/v1/market/index/", {"format": "csv", "gpu_model": "no-such-model"}
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "gpu_model" in response.json()["errors"]


def test_new_billing_endpoints_tell_the_truth(schema):
    components = schema["components"]["schemas"]
    for name in ("Dispute", "Refund"):
        assert components[name]["properties"]["credit_note"]["nullable"] is True, name
    # Reasons and fapiao fields are house text: no control characters in the schema either.
    for name, field in (
        ("DisputeOpenRequest", "reason"),
        ("DisputeResolveRequest", "reason"),
        ("RefundRequestRequest", "reason"),
        ("FapiaoRequestCreateRequest", "title"),
        ("FapiaoIssuedRequest", "fapiao_number"),
        ("FapiaoRejectRequest", "reason"),
    ):
        pattern = components[name]["properties"][field]["pattern"]
        assert not re.fullmatch(pattern, "bell\x07"), name
    issued_on = components["FapiaoIssuedRequest"]["properties"]["issued_on"]
    assert not re.fullmatch(issued_on["pattern"], "9999-12-31")
    export = schema["paths"]["/api/v1/fapiao-requests/export.csv"]["get"]["responses"]
    assert list(export["403"]["content"]) == ["application/json"]


def test_cluster_search_window_is_the_serializer(customer_user):
    client = client_for(customer_user)
    response = client.get(reverse("cluster-list"), {"start": "2027-01-01", "end": "2026-12-31"})
    assert response.status_code == 400
    assert "end" in response.json()["errors"]


def test_decimal_inputs_are_strings_or_whole_numbers(schema, customer_user):
    amount = schema["components"]["schemas"]["MarkPaidRequest"]["properties"]["amount"]
    text, whole = amount["oneOf"]
    assert (text["type"], whole["type"]) == ("string", "integer")
    assert whole["minimum"] == 1
    client = client_for(customer_user)
    body = {"gpu_models": ["A800-80G"], "start_date": "2027-06-01", "term_months": 12}
    response = client.post("/api/v1/capacity-requests/", {**body, "min_p": 4.5})
    assert response.status_code == 400
    assert "min_p" in response.json()["errors"]
