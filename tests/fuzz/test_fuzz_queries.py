"""Hypothesis throws garbage query strings and path codes at every read endpoint of accounts,
inventory and marketplace: each answers 200, 400, 403 or 404 in the API's shape, never a 5xx."""

from urllib.parse import quote

import pytest
from django.core.cache import cache
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import World, row_counts
from tests.fuzz.test_fuzz_writes import CONTROL, FUZZ

pytestmark = pytest.mark.django_db

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
NASTY = st.one_of(
    TEXT,
    st.sampled_from([*CONTROL, "\x00", "%00", "NaN", "Infinity", "-1", "0", "1e999999", ""]),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", "2027-02-30", "true", "maybe", "A800-80G,,"]),
    st.lists(TEXT, min_size=2, max_size=60).map(",".join),
)
COMMON = ["page", "page_size", "ordering", "format"]

READS = {
    "/api/v1/clusters/": [
        "gpu_model",
        "region",
        "interconnect",
        "max_price",
        "status",
        "provider",
        "start",
        "end",
        "min_free_p",
    ],
    "/api/v1/clusters/{cluster}/": [],
    "/api/v1/clusters/{cluster}/availability/": ["start", "end"],
    "/api/v1/clusters/{cluster}/outages/": [],
    "/api/v1/clusters/{cluster}/allocations/": [],
    "/api/v1/outages/": ["cluster"],
    "/api/v1/gpu-models/": [],
    "/api/v1/regions/": [],
    "/api/v1/organizations/": ["is_provider", "is_customer"],
    "/api/v1/me/": [],
    "/api/v1/capacity-requests/": ["status"],
    "/api/v1/capacity-requests/{request}/rejections/": [],
    "/api/v1/quotes/": ["request", "status"],
    "/api/v1/contracts/": ["status"],
    "/api/v1/market/": [],
}


def _path(world: World, template: str) -> str:
    return template.format(cluster=world.cluster.pk, request=world.request.pk)


# Staff read every endpoint (and every row); customers and providers read through their own
# scoped selectors on the busiest lists.
PROBES = [(template, "staff") for template in sorted(READS)] + [
    ("/api/v1/clusters/", "customer"),
    ("/api/v1/clusters/", "provider"),
    ("/api/v1/contracts/", "provider"),
    ("/api/v1/quotes/", "customer"),
]


@pytest.mark.parametrize(("template", "role"), PROBES)
def test_garbage_query_strings_never_fail_the_server(world, template, role):
    names = sorted({*READS[template], *COMMON})

    @FUZZ
    @given(
        params=st.dictionaries(
            st.one_of(st.sampled_from(names), TEXT), NASTY, min_size=1, max_size=4
        )
    )
    def run(params):
        cache.clear()
        before = row_counts()
        response = world.client(role).get(_path(world, template), params)
        assert response.status_code in (200, 400, 403, 404), (response.status_code, params)
        if response.status_code != 200:
            assert set(response.json()) >= {"errors", "code", "detail"}
        assert row_counts() == before

    run()


@FUZZ
@given(code=st.one_of(TEXT, st.sampled_from([*CONTROL, "\x00", "A800\x0080G", "..", "%"])))
def test_garbage_catalog_codes_are_not_found(world, code):
    client = world.client("anonymous")
    for collection in ("gpu-models", "regions"):
        response = client.get(f"/api/v1/{collection}/{quote(code, safe='')}/")
        assert response.status_code in (200, 404), (collection, code, response.status_code)
        if response.status_code == 404:
            assert response.json()["code"] == "not_found"
