import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client, settings):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_says_which_part_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    from config.celery import app

    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = "memory://"

    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "down"}
    assert "redis://" not in response.content.decode()


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405
