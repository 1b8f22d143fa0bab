"""Bad input at billing's newer write endpoints (disputes, fapiao requests), as
tests/fuzz/test_fuzz_writes.py does for the others: each spoiled body gets a 4xx in the API's
error shape naming a spoiled field, and no row anywhere changes."""

import json

import pytest
from django.core.cache import cache
from hypothesis import given
from hypothesis import strategies as st

from accounts import limits
from billing.credits.disputes import dispute_open
from tests.billing.test_payments import contract, invoice  # noqa: F401 (fixtures)
from tests.conftest import client_for
from tests.fuzz.conftest import row_counts
from tests.fuzz.test_fuzz_writes import (
    FUZZ,
    INVALID_UTF8,
    MALFORMED_BODIES,
    _put,
    bad_choice,
    bad_decimal,
    bad_text,
)

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "dispute open": (
        "customer",
        "/api/v1/invoices/{invoice}/disputes/",
        {"reason": "Billed for servers we never received"},
        {"reason": bad_text(limits.MAX_NOTE_LENGTH, multiline=True)},
    ),
    "dispute resolve": (
        "staff",
        "/api/v1/disputes/{dispute}/resolve/",
        {"outcome": "credited", "amount": "10.00", "reason": "Confirmed"},
        {
            "outcome": bad_choice(),
            "amount": bad_decimal(0.01, limits.MAX_AMOUNT, 2),
            "reason": bad_text(limits.MAX_NOTE_LENGTH, multiline=True),
        },
    ),
    "fapiao request": (
        "customer",
        "/api/v1/invoices/{invoice}/fapiao-requests/",
        {"kind": "ordinary", "title": "Hefei Compute Buyer", "tax_id": "91340100MA2N0A1B2C"},
        {"kind": bad_choice(), "title": bad_text(200), "tax_id": bad_text(18)},
    ),
}


@pytest.fixture
def billing_world(invoice, customer_user, staff_user):  # noqa: F811
    dispute = dispute_open(invoice=invoice, reason="Wrong month", by=customer_user)
    users = {"customer": customer_user, "staff": staff_user}
    return invoice, dispute, users


def _refused(world, name: str, raw, fields: set[str] | None = None):
    target, dispute, users = world
    role, path, _, _ = ENDPOINTS[name]
    cache.clear()
    before = row_counts()
    response = client_for(users[role]).post(
        path.format(invoice=target.pk, dispute=dispute.pk), raw, content_type="application/json"
    )
    assert 400 <= response.status_code < 500, (response.status_code, raw[:300])
    body = response.json()
    assert set(body) >= {"errors", "code", "detail"}, body
    if fields is not None and response.status_code == 400:
        named = {field.split(".")[0] for field in body["errors"]}
        assert named & (fields | {"non_field_errors"}), (body["errors"], fields)
    assert row_counts() == before


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_spoiled_fields_get_a_4xx_and_change_nothing(billing_world, name):
    _, _, valid, spoilers = ENDPOINTS[name]

    @FUZZ
    @given(data=st.data())
    def run(data):
        names = data.draw(
            st.lists(st.sampled_from(sorted(spoilers)), min_size=1, max_size=3, unique=True)
        )
        body = json.loads(json.dumps(valid))
        for field in names:
            _put(body, field, data.draw(spoilers[field], label=field))
        _refused(billing_world, name, json.dumps(body), set(names))

    run()


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_malformed_bodies_get_a_400_and_change_nothing(billing_world, name):
    @FUZZ
    @given(raw=st.one_of(MALFORMED_BODIES, INVALID_UTF8))
    def run(raw):
        _refused(billing_world, name, raw)

    run()
