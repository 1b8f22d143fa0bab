"""Hypothesis throws bad input at every write endpoint of accounts, inventory and marketplace.

Each example takes a valid request and spoils one or more of its fields with a value of the
wrong kind: malformed JSON, huge and tiny numbers, NaN and Infinity, wrong types, NUL and other
control characters, lone surrogates, overlong strings and impossible dates. Every one must get
a 4xx in the API's error shape, with the errors under the fields, and leave the database as it
was (rows counted in every table of our apps, and the target object compared field by field).
"""

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.forms.models import model_to_dict
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import limits
from inventory.models import Outage
from inventory.services import outage_record
from tests.factories import future_start
from tests.fuzz.conftest import World, row_counts

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    # The same examples on every run, so CI is repeatable; FUZZ_RANDOM=1 explores new ones.
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=None,
    database=None,  # no example database written into the work tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # every example expects the same, unchanged world
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# --- Bad values by kind of field ------------------------------------------------------------
CONTROL = [chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
WRONG_CONTAINERS = st.sampled_from([{}, {"a": 1}, [], [1, 2], [["nested"]]])


def _with(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Ordinary text with something bad put in somewhere."""
    return st.tuples(st.text(max_size=8), bad, st.text(max_size=8)).map("".join)


def bad_text(max_length: int, *, nullable: bool = False, multiline: bool = False):
    controls = [c for c in CONTROL if not (multiline and c in "\t\n\r")]
    options = [
        st.integers(max_length + 1, max_length + 50).map(lambda n: "y" * n),
        st.just("z" * 100_000),
        _with(st.just("\x00")),
        _with(st.sampled_from(controls)),
        _with(SURROGATES),
        st.booleans(),
        WRONG_CONTAINERS,
    ]
    if not nullable:
        options.append(st.none())
    return st.one_of(options)


def bad_int(minimum: int, maximum: int):
    return st.one_of(
        st.integers(maximum + 1, 10**30),
        st.integers(-(10**30), minimum - 1),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
        st.just(1e300),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "", "seven", "1\x00"]),
        st.booleans(),
        WRONG_CONTAINERS,
        st.none(),
    )


def bad_decimal(minimum, maximum, places: int, *, nullable: bool = False):
    options = [
        st.just(str(maximum + 1)),
        st.just("99999999999999.999999"),
        st.just(str(minimum - 1)),
        st.just("0." + "0" * places + "1"),  # more places than allowed
        st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "1e999", "1e-999"]),
        st.sampled_from(["", "abc", "1,000", "1\x00", "\ud800"]),
        st.booleans(),
        WRONG_CONTAINERS,
    ]
    if not nullable:
        options.append(st.none())
    return st.one_of(options)


def bad_date(*, nullable: bool = False, moment: bool = False):
    suffix = "T00:00:00+08:00" if moment else ""
    options = [
        st.sampled_from(["9999-12-31", "0001-01-01", "2019-12-31", "2027-02-30", "2027-13-01"]).map(
            lambda d: d + suffix
        ),
        st.integers(limits.HORIZON_YEARS + 1, 7000).map(
            lambda years: (
                (timezone.localdate() + timedelta(days=366 * years)).isoformat() + suffix
                if years < 7900
                else "9999-01-01" + suffix
            )
        ),
        st.sampled_from(["", "tomorrow", "2027-01-01\x00", "\ud800", "27/01/2027"]),
        st.integers(),
        st.booleans(),
        WRONG_CONTAINERS,
    ]
    if not nullable:
        options.append(st.none())
    return st.one_of(options)


def bad_code(*, nullable: bool = False):
    options = [
        _with(st.just("\x00")),
        _with(st.sampled_from(CONTROL)),
        _with(SURROGATES),
        st.just("x" * (limits.MAX_CODE_LENGTH + 1)),
        st.sampled_from(["NOPE-1", "a800 80g", "A800/80G", "../etc", "%00"]),
        st.integers(),
        WRONG_CONTAINERS,
    ]
    if not nullable:
        options += [st.none(), st.just("")]  # DRF reads "" as null where null is allowed
    return st.one_of(options)


def bad_code_list(*, allow_empty: bool):
    options = [
        st.lists(bad_code(), min_size=1, max_size=3),
        st.just(["A800-80G"] * (limits.MAX_CODES_PER_LIST + 1)),
        st.just("A800-80G"),  # a string, not a list
        st.integers(),
        st.just({"code": "A800-80G"}),
        st.none(),
    ]
    if not allow_empty:
        options.append(st.just([]))
    return st.one_of(options)


def bad_choice(*, nullable: bool = False):
    options = [
        st.sampled_from(["", "bogus", "LISTED", "infiniband\x00", "\ud800"]),
        st.integers(),
        st.booleans(),
        WRONG_CONTAINERS,
    ]
    if not nullable:
        options.append(st.none())
    return st.one_of(options)


BAD_BOOL = st.one_of(
    st.sampled_from(["maybe", "", "truthy", "tru\x00e", "\ud800"]),
    st.integers(2, 10**30),
    st.integers(-(10**30), -1),
    st.just(0.5),
    WRONG_CONTAINERS,
    st.none(),
)

BAD_EMAIL = st.one_of(
    st.sampled_from(["not-an-email", "a@", "@b.cn", "a\x00@b.cn"]),
    st.just("a" * 250 + "@b.cn"),
    st.integers(),
    WRONG_CONTAINERS,
)

MALFORMED_BODIES = st.one_of(
    st.sampled_from(
        [
            "{",
            "{not json}",
            '{"a": 1,}',
            "[1, 2",
            '{"price_per_p_year": NaN}',
            '{"params": Infinity}',
            '{"a": -Infinity}',
            "\x00",
            "'single quotes'",
            '{"a": "\\ud800\\"}',
            "1" * 5000,  # an integer longer than Python will parse
        ]
    ),
    st.text(min_size=1, max_size=40).filter(lambda text: not _is_json(text)),
)
INVALID_UTF8 = st.sampled_from([b'{"name": "\xff"}', b"\xc3\x28", b'{"a": "\xed\xa0\x80"}'])


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- The endpoints --------------------------------------------------------------------------
@dataclass
class Endpoint:
    id: str
    role: str
    method: str
    path: str
    valid: dict  # a body that would succeed (empty for PATCH: only spoiled fields are sent)
    fields: dict = field(default_factory=dict)  # name (dots for nesting) -> bad-value strategy
    target: str | None = None  # the World attribute whose row must stay the same


def _cluster_fields(*, partial: bool) -> dict:
    return {
        "name": bad_text(limits.MAX_NAME_LENGTH),
        "region": bad_code(),
        "gpu_model": bad_code(),
        "gpus_per_server": bad_int(1, limits.MAX_GPUS_PER_SERVER),
        "server_count": bad_int(0, limits.MAX_SERVERS_PER_CLUSTER),
        "interconnect": bad_choice(),
        "interconnect_gbps": bad_int(0, limits.MAX_INTERCONNECT_GBPS),
        "price_per_p_year": bad_decimal(
            limits.MIN_PRICE_PER_P_YEAR, limits.MAX_PRICE_PER_P_YEAR, 6
        ),
        "min_term_months": bad_int(limits.MIN_TERM_MONTHS, limits.MAX_TERM_MONTHS),
        "available_from": bad_date(),
        "available_until": bad_date(nullable=True),
        "sla_uptime_percent": bad_decimal(limits.MIN_SLA_UPTIME_PERCENT, 100, 3),
        "status": bad_choice(),
        "description": bad_text(limits.MAX_NOTE_LENGTH, multiline=True),
    }


def _outage_valid() -> dict:
    now = timezone.now()
    return {
        "start": (now - timedelta(hours=3)).isoformat(),
        "end": (now - timedelta(hours=2)).isoformat(),
        "servers_affected": 1,
        "description": "Power supply",
    }


OUTAGE_FIELDS = {
    "start": bad_date(moment=True),
    "end": bad_date(moment=True),
    "servers_affected": bad_int(1, limits.MAX_OUTAGE_SERVERS),
    "description": bad_text(limits.MAX_NOTE_LENGTH, multiline=True),
}

ENDPOINTS = [
    Endpoint(
        "register",
        "anonymous",
        "post",
        "/api/v1/auth/register/",
        {
            "username": "fuzzer",
            "password": "a-long-and-unusual-passphrase-2027",
            "email": "fuzzer@example.cn",
            "organization": {"name": "Fuzz Org", "roles": ["customer"]},
        },
        {
            "username": st.one_of(
                bad_text(150), st.sampled_from(["", "has space", "semi;colon", "a/b"])
            ),
            "password": bad_text(limits.MAX_PASSWORD_LENGTH),
            "email": BAD_EMAIL,
            "organization": st.one_of(st.none(), st.just("Org"), st.just([]), st.integers()),
            "organization.name": bad_text(limits.MAX_NAME_LENGTH),
            "organization.roles": st.one_of(
                st.just([]),
                st.lists(bad_choice(), min_size=1, max_size=3),
                st.just(["admin"]),
                st.just("customer"),
            ),
        },
    ),
    Endpoint(
        "token",
        "anonymous",
        "post",
        "/api/v1/auth/token/",
        {"username": "nobody", "password": "wrong"},
        {"username": bad_text(150), "password": bad_text(limits.MAX_PASSWORD_LENGTH)},
    ),
    Endpoint(
        "organization PATCH",
        "provider",
        "patch",
        "/api/v1/organizations/{provider_org}/",
        {},
        {
            "name": bad_text(200),
            "legal_name": bad_text(200),
            "unified_social_credit_code": st.one_of(
                bad_text(18), st.sampled_from(["91350100M000100Y44", "12345", "IOSVZ0000000000000"])
            ),
            "registered_address": bad_text(300),
            "phone": bad_text(40),
            "bank_name": bad_text(200),
            "bank_account": bad_text(64),
            "contact_name": bad_text(100),
            "contact_email": BAD_EMAIL,
        },
        target="provider_org",
    ),
    Endpoint(
        "organization verify",
        "staff",
        "post",
        "/api/v1/organizations/{customer_org}/verify/",
        {},
        target="customer_org",
    ),
    Endpoint(
        "cluster create",
        "provider",
        "post",
        "/api/v1/clusters/",
        {
            "name": "Fuzz",
            "region": "hefei",
            "gpu_model": "A800-80G",
            "gpus_per_server": 8,
            "server_count": 4,
            "interconnect": "infiniband",
            "price_per_p_year": "120000",
            "available_from": "2027-01-01",
        },
        _cluster_fields(partial=False),
    ),
    Endpoint(
        "cluster PATCH",
        "provider",
        "patch",
        "/api/v1/clusters/{cluster}/",
        {},
        _cluster_fields(partial=True),
        target="cluster",
    ),
    Endpoint(
        "outage create",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/outages/",
        _outage_valid(),
        OUTAGE_FIELDS,
    ),
    Endpoint(
        "outage PATCH",
        "provider",
        "patch",
        "/api/v1/outages/{outage}/",
        {},
        {**OUTAGE_FIELDS, "reason": bad_text(limits.MAX_REASON_LENGTH, multiline=True)},
        target="outage",
    ),
    Endpoint(
        "maintenance",
        "provider",
        "post",
        "/api/v1/clusters/{cluster}/maintenance/",
        {"start": "2027-01-01", "end": "2027-02-01", "servers": 1, "note": "firmware"},
        {
            "start": bad_date(),
            "end": bad_date(),
            "servers": bad_int(1, limits.MAX_SERVERS_PER_CLUSTER),
            "note": bad_text(300),
        },
    ),
    Endpoint(
        "capacity request create",
        "customer",
        "post",
        "/api/v1/capacity-requests/",
        {"gpu_models": ["A800-80G"], "servers": 1, "start_date": "", "term_months": 12},
        {
            "gpu_models": bad_code_list(allow_empty=False),
            "servers": bad_int(1, limits.MAX_SERVERS_PER_REQUEST),
            "region": bad_code(nullable=True),
            "regions": bad_code_list(allow_empty=True),
            "interconnect": bad_choice(),
            "single_cluster": BAD_BOOL,
            "start_date": bad_date(),
            "term_months": bad_int(limits.MIN_TERM_MONTHS, limits.MAX_TERM_MONTHS),
            "max_price_per_p_year": bad_decimal(
                limits.MIN_PRICE_PER_P_YEAR, limits.MAX_PRICE_PER_P_YEAR, 6, nullable=True
            ),
            "note": bad_text(500, multiline=True),
        },
    ),
    Endpoint(
        "quotes",
        "customer",
        "post",
        "/api/v1/capacity-requests/{request}/quotes/",
        {},
        target="request",
    ),
    Endpoint(
        "request cancel",
        "customer",
        "post",
        "/api/v1/capacity-requests/{request}/cancel/",
        {},
        target="request",
    ),
    Endpoint("accept", "customer", "post", "/api/v1/quotes/{quote}/accept/", {}, target="quote"),
    Endpoint(
        "approve", "staff", "post", "/api/v1/contracts/{contract}/approve/", {}, target="contract"
    ),
    Endpoint(
        "contract cancel",
        "customer",
        "post",
        "/api/v1/contracts/{contract}/cancel/",
        {"reason": "changed plans"},
        {"reason": bad_text(limits.MAX_REASON_LENGTH, multiline=True)},
        target="contract",
    ),
    Endpoint(
        "terminate",
        "staff",
        "post",
        "/api/v1/contracts/{contract}/terminate/",
        {"reason": "fraud", "effective_date": ""},
        {
            "reason": bad_text(limits.MAX_REASON_LENGTH, multiline=True),
            "effective_date": bad_date(),
        },
        target="contract",
    ),
    Endpoint(
        "resale listing",
        "customer",
        "post",
        "/api/v1/contracts/{contract}/resale-listings/",
        {
            "cluster": 1,
            "servers": 1,
            "start": "2027-06-01",
            "end": "2027-12-01",
            "price_per_p_year": "1000.00",
            "min_term_months": 1,
        },
        {
            "cluster": bad_int(1, limits.MAX_ID),
            "servers": bad_int(1, limits.MAX_SERVERS_PER_REQUEST),
            "start": bad_date(),
            "end": bad_date(),
            "price_per_p_year": bad_decimal(
                limits.MIN_PRICE_PER_P_YEAR, limits.MAX_PRICE_PER_P_YEAR, 6
            ),
            "min_term_months": bad_int(limits.MIN_TERM_MONTHS, limits.MAX_TERM_MONTHS),
        },
        target="contract",
    ),
    Endpoint(
        "sizing",
        "anonymous",
        "post",
        "/api/v1/sizing/",
        {
            "workload": "inference",
            "params": 70_000_000_000,
            "daily_visits": 1_000_000,
            "questions_per_visit": 10,
            "tokens_per_question": 1000,
        },
        {
            "workload": bad_choice(),
            "params": bad_int(1, int(limits.MAX_MODEL_PARAMS)),
            "daily_visits": bad_int(1, int(limits.MAX_DAILY_VISITS)),
            "questions_per_visit": bad_int(1, int(limits.MAX_QUESTIONS_PER_VISIT)),
            "tokens_per_question": bad_int(1, int(limits.MAX_TOKENS_PER_QUESTION)),
            "precision": bad_choice(),
            "utilisation": bad_decimal(limits.MIN_UTILISATION, 1, 3),
            "gpu_models": bad_code_list(allow_empty=True),
            "gpus_per_server": bad_int(1, limits.MAX_GPUS_PER_SERVER),
            "activation_recomputation": BAD_BOOL,
        },
    ),
]


@pytest.fixture
def fuzz_world(world: World) -> World:
    world.outage = outage_record(
        cluster=world.cluster,
        by=world.provider,
        description="Fan",
        servers_affected=1,
        start=timezone.now() - timedelta(days=2),
        end=timezone.now() - timedelta(days=1),
    )
    return world


def _valid_body(endpoint: Endpoint) -> dict:
    body = json.loads(json.dumps(endpoint.valid))
    if "start_date" in body:
        body["start_date"] = future_start().isoformat()
    if "effective_date" in body:
        body["effective_date"] = (timezone.localdate() + timedelta(days=40)).isoformat()
    return body


def _put(body: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = body
    for name in parents:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[leaf] = value
    return body


def _snapshot(world: World, endpoint: Endpoint):
    if endpoint.target is None:
        return None
    obj = getattr(world, endpoint.target)
    return model_to_dict(type(obj).objects.get(pk=obj.pk))


def _send(world: World, endpoint: Endpoint, raw: bytes | str):
    path = endpoint.path.format(
        cluster=world.cluster.pk,
        request=world.request.pk,
        quote=world.quote.pk,
        contract=world.contract.pk,
        provider_org=world.provider_org.pk,
        customer_org=world.customer_org.pk,
        outage=getattr(world, "outage", Outage(pk=0)).pk,
    )
    send = getattr(world.client(endpoint.role), endpoint.method)
    return send(path, raw, content_type="application/json")


def _assert_refused(world: World, endpoint: Endpoint, raw, *, fields: set[str] | None = None):
    cache.clear()  # login throttles count per test; each example starts from zero
    before, target = row_counts(), _snapshot(world, endpoint)
    response = _send(world, endpoint, raw)
    assert 400 <= response.status_code < 500, (response.status_code, raw[:300])
    body = response.json()
    assert set(body) >= {"errors", "code", "detail"}, body
    assert body["errors"] and all(
        isinstance(messages, list) and messages for messages in body["errors"].values()
    ), body
    if fields is not None and response.status_code == 400:
        named = {name.split(".")[0] for name in body["errors"]}
        spoiled = {name.split(".")[0] for name in fields}
        assert named & (spoiled | {"non_field_errors"}), (body["errors"], fields)
    assert row_counts() == before
    assert _snapshot(world, endpoint) == target


FIELD_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.fields]


@pytest.mark.parametrize("endpoint", FIELD_ENDPOINTS, ids=[e.id for e in FIELD_ENDPOINTS])
def test_spoiled_fields_get_a_4xx_and_change_nothing(fuzz_world, endpoint):
    @FUZZ
    @given(data=st.data())
    def run(data):
        names = data.draw(
            st.lists(st.sampled_from(sorted(endpoint.fields)), min_size=1, max_size=3, unique=True),
            label="spoiled",
        )
        body = _valid_body(endpoint)
        for name in names:
            _put(body, name, data.draw(endpoint.fields[name], label=name))
        _assert_refused(fuzz_world, endpoint, json.dumps(body), fields=set(names))

    run()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.id for e in ENDPOINTS])
def test_malformed_bodies_get_a_400_and_change_nothing(fuzz_world, endpoint):
    @FUZZ
    @given(raw=st.one_of(MALFORMED_BODIES, INVALID_UTF8))
    def run(raw):
        _assert_refused(fuzz_world, endpoint, raw)

    run()
