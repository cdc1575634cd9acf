"""The web UI calls the same API with its session cookie, and then CSRF is enforced."""

import json
import secrets

import pytest
from django.test import Client

from chat.models import Message
from samia_chat.models import AccessEvent
from tests.factories import user_create


@pytest.fixture
def browser(client_user):
    """A browser signed in as the client, with Django's CSRF checks switched on."""
    http = Client(enforce_csrf_checks=True)
    http.force_login(client_user)
    return http


def _send(http, session, **headers):
    payload = {"kind": "text", "body": "from the web", "client_msg_id": secrets.token_hex(8)}
    return http.post(
        f"/api/sessions/{session.pk}/messages",
        json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def test_a_browser_session_reads_the_api_without_a_token(browser, reading):
    response = browser.get("/api/sessions")

    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [reading.pk]


def test_a_browser_post_without_the_csrf_token_is_a_403(browser, code_of, reading):
    response = _send(browser, reading)

    assert response.status_code == 403
    assert code_of(response) == "CSRF_FAILED"
    assert not Message.objects.exists()


def test_a_browser_post_with_the_csrf_token_is_accepted(browser, reading):
    token = secrets.token_hex(16)
    browser.cookies["csrftoken"] = token

    response = _send(browser, reading, X_CSRFToken=token)

    assert response.status_code == 201
    assert Message.objects.get().body == "from the web"


def test_a_bearer_call_needs_no_csrf_token(api, reading, client_user):
    payload = {"kind": "text", "body": "from the app", "client_msg_id": "app-1"}

    response = api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload)

    assert response.status_code == 201


def test_signing_in_through_the_form_is_audited(client, db):
    user = user_create(username="reader9", role="reader", password="moonlight-99")

    response = client.post("/login/", {"username": "reader9", "password": "moonlight-99"})

    assert response.status_code == 302
    assert AccessEvent.objects.filter(action=AccessEvent.Action.LOGIN, actor=user).exists()


def test_the_sign_in_form_shares_the_failed_login_limit(client, db, fresh_rate_window):
    user_create(username="reader9", role="reader", password="moonlight-99")
    fresh_rate_window(group="login-failures", key="username:reader9", rate="5/15m")
    for _ in range(5):
        client.post("/login/", {"username": "reader9", "password": "guess"})

    response = client.post("/login/", {"username": "reader9", "password": "moonlight-99"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_the_admin_sign_in_shares_the_failed_login_limit(client, db, fresh_rate_window):
    user_create(username="admin9", role="admin", password="moonlight-99")
    fresh_rate_window(group="login-failures", key="username:admin9", rate="5/15m")
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin9", "password": "guess"})

    response = client.post("/admin/login/", {"username": "admin9", "password": "moonlight-99"})

    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-in attempts" in response.content.decode()
