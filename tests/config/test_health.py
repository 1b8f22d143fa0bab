import os

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_reports_unreachable_broker_as_503(client):
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0"
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["database"]["ok"] is True


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL"), reason="needs a real broker (CELERY_BROKER_URL)"
)
@pytest.mark.django_db
def test_healthz_reaches_the_real_broker(client):
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"]
    ):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"]["mode"] == "broker"


@pytest.mark.django_db
def test_healthz_reports_broken_database_as_503(client, monkeypatch):
    from config import health

    def broken_cursor(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {
        "ok": False,
        "vendor": health.connection.vendor,
        "error": "connection refused",
    }
