"""The fake Stripe server, driven by the real stripe-python client over loopback."""

import json
import time

import pytest
import requests
import stripe

from tests.fakes.stripe_server import TEST_API_KEY, FakeStripe, decode_form

WEBHOOK_SECRET = "whsec_test_0123456789"


@pytest.fixture
def fake():
    with FakeStripe(hold_seconds=2.0) as server:
        yield server


@pytest.fixture
def client(fake):
    return fake.client(timeout=0.5)


def charge_params(payment_method="pm_card_visa", **overrides):
    params = {
        "amount": 4992000,  # CNY 49,920.00 in fen
        "currency": "cny",
        "payment_method": payment_method,
        "confirm": True,
        "off_session": True,
        "metadata": {"invoice_id": "INV-2027-0001"},
    }
    params.update(overrides)
    return params


def test_form_decoding_builds_nested_dicts_and_lists():
    pairs = [
        ("amount", "100"),
        ("metadata[invoice_id]", "7"),
        ("invoice_settings[default_payment_method]", "pm_1"),
        ("payment_method_types[0]", "card"),
        ("payment_method_types[1]", "alipay"),
        ("expand[]", "latest_charge"),
    ]

    assert decode_form(pairs) == {
        "amount": "100",
        "metadata": {"invoice_id": "7"},
        "invoice_settings": {"default_payment_method": "pm_1"},
        "payment_method_types": ["card", "alipay"],
        "expand": ["latest_charge"],
    }


def test_customer_is_created_and_retrieved(fake, client):
    customer = client.v1.customers.create(
        params={"email": "ops@example.cn", "name": "Hefei AI Lab", "metadata": {"org_id": "42"}}
    )

    assert customer.id.startswith("cus_")
    assert customer.object == "customer"
    assert customer.livemode is False
    assert customer.metadata["org_id"] == "42"
    assert client.v1.customers.retrieve(customer.id).email == "ops@example.cn"
    method, path, params, key = fake.requests[0]
    assert (method, path) == ("POST", "/v1/customers")
    assert params["metadata"] == {"org_id": "42"}
    assert key  # stripe-python sends an Idempotency-Key on every POST


def test_unknown_customer_is_a_404_invalid_request(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.retrieve("cus_missing")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_requests_without_a_test_secret_key_are_refused(fake):
    with pytest.raises(stripe.AuthenticationError) as raised:
        fake.client(api_key="sk_live_not_here").v1.customers.create(params={})
    assert raised.value.http_status == 401

    session = requests.Session()
    session.trust_env = False
    response = session.post(f"{fake.api_base}/v1/customers", data={"email": "x@example.cn"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.customers == {}


def test_setup_intent_saves_a_card_for_off_session_use(fake, client):
    customer = client.v1.customers.create(params={"email": "ops@example.cn"})

    setup_intent = client.v1.setup_intents.create(
        params={"customer": customer.id, "usage": "off_session"}
    )
    assert setup_intent.status == "requires_payment_method"
    assert setup_intent.client_secret.startswith(f"{setup_intent.id}_secret_")

    confirmed = client.v1.setup_intents.confirm(
        setup_intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"
    saved = confirmed.payment_method
    assert saved.startswith("pm_") and saved != "pm_card_visa"  # a copy, as on Stripe
    assert fake.payment_methods[saved]["customer"] == customer.id
    assert fake.events[-1]["type"] == "setup_intent.succeeded"


def test_card_that_always_declines_cannot_be_saved(client):
    customer = client.v1.customers.create(params={})
    setup_intent = client.v1.setup_intents.create(params={"customer": customer.id})

    with pytest.raises(stripe.CardError) as raised:
        client.v1.setup_intents.confirm(
            setup_intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )

    assert raised.value.code == "card_declined"
    assert client.v1.setup_intents.retrieve(setup_intent.id).status == "requires_payment_method"


def test_payment_method_attach_copies_the_test_card_to_the_customer(fake, client):
    customer = client.v1.customers.create(params={})

    payment_method = client.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": customer.id}
    )

    assert payment_method.customer == customer.id
    assert payment_method.card.last4 == "4242"
    assert client.v1.payment_methods.retrieve(payment_method.id).customer == customer.id


def test_off_session_payment_succeeds_and_takes_the_money_once(fake, client):
    customer = client.v1.customers.create(params={})

    intent = client.v1.payment_intents.create(params=charge_params(customer=customer.id))

    assert intent.status == "succeeded"
    assert (intent.amount, intent.amount_received, intent.currency) == (4992000, 4992000, "cny")
    assert intent.customer == customer.id
    assert intent.metadata["invoice_id"] == "INV-2027-0001"
    assert intent.latest_charge.startswith("ch_")
    assert fake.charges_count() == 1
    assert fake.payment_intents[intent.id]["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert fake.events[-1]["type"] == "payment_intent.succeeded"
    assert fake.requests[-2].params["amount"] == "4992000"  # form-encoded strings on the wire


def test_payment_intent_without_confirm_waits_for_confirmation(fake, client):
    intent = client.v1.payment_intents.create(
        params={"amount": 100, "currency": "cny", "payment_method": "pm_card_visa"}
    )
    assert intent.status == "requires_confirmation"
    assert fake.charges_count() == 0

    confirmed = client.v1.payment_intents.confirm(intent.id)

    assert confirmed.status == "succeeded"
    assert fake.charges_count() == 1


def test_declining_card_surfaces_as_card_error_and_leaves_the_intent_unpaid(fake, client):
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(params=charge_params("pm_card_chargeCustomerFail"))

    error = raised.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error.decline_code == "generic_decline"
    intent_id = error.error.payment_intent.id
    assert error.error.payment_intent.status == "requires_payment_method"
    stored = fake.payment_intents[intent_id]
    assert stored["status"] == "requires_payment_method"
    assert stored["last_payment_error"]["code"] == "card_declined"
    assert fake.charges_count() == 0
    assert fake.events[-1]["type"] == "payment_intent.payment_failed"


def test_insufficient_funds_card_declines_with_its_decline_code(client):
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params=charge_params("pm_card_chargeDeclinedInsufficientFunds")
        )

    assert raised.value.error.decline_code == "insufficient_funds"


def test_injected_decline_fails_the_next_charge_only(fake, client):
    fake.fail_next("card_declined", decline_code="do_not_honor")
    client.v1.customers.create(params={})  # not a charge: the fault waits

    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(params=charge_params())
    assert raised.value.error.decline_code == "do_not_honor"

    assert client.v1.payment_intents.create(params=charge_params()).status == "succeeded"
    assert fake.charges_count() == 1


def test_server_error_surfaces_as_api_error_and_is_not_stored(fake, client):
    fake.fail_next("server_error")

    with pytest.raises(stripe.APIError) as raised:
        client.v1.payment_intents.create(
            params=charge_params(), options={"idempotency_key": "inv-1-attempt-1"}
        )
    assert raised.value.http_status == 500
    assert fake.charges_count() == 0
    assert len(fake.requests) == 1  # max_network_retries=0: no retry

    intent = client.v1.payment_intents.create(
        params=charge_params(), options={"idempotency_key": "inv-1-attempt-1"}
    )
    assert intent.status == "succeeded"
    assert fake.charges_count() == 1


def test_rate_limit_surfaces_as_rate_limit_error(fake, client):
    fake.fail_next("rate_limit", path="/v1/payment_intents")

    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.payment_intents.create(params=charge_params())

    assert raised.value.http_status == 429
    assert fake.charges_count() == 0


def test_client_retries_reuse_the_idempotency_key(fake):
    retrying = fake.client(timeout=0.5, max_network_retries=1)
    fake.fail_next("server_error")

    intent = retrying.v1.payment_intents.create(params=charge_params())

    assert intent.status == "succeeded"
    first, second = fake.requests
    assert first.idempotency_key == second.idempotency_key
    assert fake.charges_count() == 1


def test_same_idempotency_key_replays_without_a_second_charge(fake, client):
    options = {"idempotency_key": "invoice-17-charge-1"}

    first = client.v1.payment_intents.create(params=charge_params(), options=options)
    second = client.v1.payment_intents.create(params=charge_params(), options=options)

    assert second.id == first.id
    assert second.status == "succeeded"
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert fake.charges_count() == 1
    assert len(fake.payment_intents) == 1


def test_same_idempotency_key_with_other_parameters_is_an_idempotency_error(fake, client):
    options = {"idempotency_key": "invoice-17-charge-1"}
    client.v1.payment_intents.create(params=charge_params(), options=options)

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(params=charge_params(amount=100), options=options)

    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"
    assert fake.charges_count() == 1


def test_a_decline_is_replayed_for_the_same_key_so_a_new_attempt_needs_a_new_key(fake, client):
    options = {"idempotency_key": "invoice-17-charge-1"}
    fake.fail_next("card_declined")
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(params=charge_params(), options=options)

    with pytest.raises(stripe.CardError):  # stored result, no new attempt
        client.v1.payment_intents.create(params=charge_params(), options=options)
    assert len(fake.charges) == 1

    retried = client.v1.payment_intents.create(
        params=charge_params(), options={"idempotency_key": "invoice-17-charge-2"}
    )
    assert retried.status == "succeeded"


def test_timeout_after_charge_then_retry_with_the_same_key_returns_the_success(fake, client):
    options = {"idempotency_key": "invoice-17-charge-1"}
    fake.fail_next("timeout_after_charge")

    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.payment_intents.create(params=charge_params(), options=options)
    assert time.monotonic() - started < fake.hold_seconds  # the client gave up, not the server
    assert raised.value.should_retry is True
    [charged] = fake.payment_intents.values()
    assert charged["status"] == "succeeded"  # the money moved although the client saw an error

    intent = client.v1.payment_intents.create(params=charge_params(), options=options)

    assert intent.id == charged["id"]
    assert intent.status == "succeeded"
    assert intent.last_response.headers["Idempotent-Replayed"] == "true"
    assert fake.charges_count() == 1


def test_timeout_after_charge_is_absorbed_by_the_client_own_retry(fake):
    retrying = fake.client(timeout=0.5, max_network_retries=1)
    fake.fail_next("timeout_after_charge")

    intent = retrying.v1.payment_intents.create(params=charge_params())

    assert intent.status == "succeeded"
    assert fake.charges_count() == 1


def test_timeout_before_effect_leaves_nothing_behind(fake, client):
    options = {"idempotency_key": "invoice-17-charge-1"}
    fake.fail_next("timeout_before_effect")

    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(params=charge_params(), options=options)
    assert fake.payment_intents == {}

    assert client.v1.payment_intents.create(params=charge_params(), options=options).status == (
        "succeeded"
    )
    assert fake.charges_count() == 1


def test_refunds_partial_then_the_rest_and_no_more(fake, client):
    intent = client.v1.payment_intents.create(params=charge_params())

    partial = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000000})
    assert (partial.object, partial.status, partial.amount) == ("refund", "succeeded", 1000000)
    assert partial.payment_intent == intent.id
    assert client.v1.refunds.retrieve(partial.id).amount == 1000000

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4000000})
    assert raised.value.code == "amount_too_large"

    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 3992000
    assert fake.charges[intent.latest_charge]["refunded"] is True
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert raised.value.code == "charge_already_refunded"


def test_refund_of_an_unpaid_intent_is_refused(client):
    intent = client.v1.payment_intents.create(params={"amount": 100, "currency": "cny"})

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": intent.id})


def test_signed_event_verifies_with_stripe_webhook(fake, client):
    intent = client.v1.payment_intents.create(params=charge_params())
    payload = json.dumps(fake.event("payment_intent.succeeded", fake.payment_intents[intent.id]))
    body = payload.encode("utf-8")

    header = fake.sign_payload(body, WEBHOOK_SECRET)
    event = stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET)

    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    assert client.construct_event(body, header, WEBHOOK_SECRET).type == "payment_intent.succeeded"


def test_signed_event_helper_returns_body_and_header(fake):
    body, header = fake.signed_event("charge.refunded", {"id": "ch_1", "object": "charge"}, "s")

    assert stripe.Webhook.construct_event(body, header, "s").data.object.id == "ch_1"


def test_wrong_secret_or_stale_timestamp_is_rejected_by_stripe(fake):
    body = json.dumps(fake.event("payment_intent.succeeded", {"id": "pi_1"})).encode("utf-8")

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, fake.sign_payload(body, "whsec_other"), WEBHOOK_SECRET)
    stale = fake.sign_payload(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, stale, WEBHOOK_SECRET)  # default tolerance 300 s
    tampered = body.replace(b"pi_1", b"pi_2")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            tampered, fake.sign_payload(body, WEBHOOK_SECRET), WEBHOOK_SECRET
        )


def test_reset_forgets_state_and_faults(fake, client):
    client.v1.payment_intents.create(params=charge_params())
    fake.fail_next("server_error")

    fake.reset()

    assert (fake.payment_intents, fake.requests, fake.charges_count()) == ({}, [], 0)
    assert client.v1.customers.create(params={}).id.startswith("cus_")


def test_default_test_key_and_api_base(fake):
    assert TEST_API_KEY.startswith("sk_test_")
    assert fake.api_base.startswith("http://127.0.0.1:")


def test_timeout_after_effect_on_a_refund_then_retry_returns_the_same_refund(fake, client):
    intent = client.v1.payment_intents.create(params=charge_params())
    options = {"idempotency_key": "credit-note-3-refund"}
    fake.fail_next("timeout_after_effect", path="/v1/refunds")

    with pytest.raises(stripe.APIConnectionError):
        client.v1.refunds.create(params={"payment_intent": intent.id}, options=options)
    [refunded] = fake.refunds.values()

    refund = client.v1.refunds.create(params={"payment_intent": intent.id}, options=options)

    assert refund.id == refunded["id"]
    assert len(fake.refunds) == 1


def test_confirm_without_a_payment_method_is_refused_and_creates_nothing(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "cny", "confirm": True})

    assert raised.value.param == "payment_method"
    assert fake.payment_intents == {}
