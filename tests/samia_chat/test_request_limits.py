"""Every HTTP request counts against a budget (per user; per IP when anonymous), and every
response carries the security headers."""

import pytest
from django.test import Client

from samia_chat.tokens import token_pair_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings):
    settings.CHAT = {**settings.CHAT, "RATE_REQUESTS": "3/m", "RATE_ANONYMOUS_REQUESTS": "2/m"}


def test_an_api_caller_over_budget_gets_429_json_with_retry_after(api, tight, client_user):
    caller = api(client_user)
    answers = [caller.get("/api/sessions").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    refused = caller.get("/api/me")
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert int(refused["Retry-After"]) > 0


def test_each_user_has_a_budget_of_their_own(api, tight, client_user, reader_user):
    for _ in range(3):
        api(client_user).get("/api/me")

    assert api(client_user).get("/api/me").status_code == 429
    assert api(reader_user).get("/api/me").status_code == 200


def test_a_bearer_token_is_counted_for_its_user_not_its_address(api, tight, client_user):
    token = token_pair_issue(user=client_user)["access"]
    for _ in range(3):
        assert api(token=token).get("/api/me").status_code == 200

    assert api(token=token).get("/api/me").status_code == 429


def test_pages_and_downloads_count_too_and_anonymous_callers_share_their_address(tight):
    browser = Client()

    assert browser.get("/login/").status_code == 200
    assert browser.get("/login/").status_code == 200
    refused = browser.get("/login/")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert browser.get("/files/anything").status_code == 429


def test_health_and_metrics_are_exempt(tight):
    browser = Client()
    for _ in range(5):
        assert browser.get("/healthz").status_code == 200
        assert browser.get("/metrics").status_code == 200


def test_pages_carry_a_content_security_policy_without_inline_scripts(client_user):
    browser = Client()
    browser.force_login(client_user)

    for path in ("/", "/login/", "/privacy/", "/admin/login/"):
        response = browser.get(path)
        policy = dict(
            part.strip().split(" ", 1)
            for part in response["Content-Security-Policy"].split(";")
            if part.strip()
        )
        assert policy["script-src"] == "'self'", path
        assert "unsafe-inline" not in policy["script-src"]
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"


def test_pages_still_answer_when_the_counters_store_is_down(settings, client_user):
    # Nothing listens on port 9: the cache (Redis) is unreachable.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }
    from django.core.cache import caches

    caches._connections.__dict__.pop("default", None)
    try:
        assert Client().get("/login/").status_code == 200
    finally:
        caches._connections.__dict__.pop("default", None)
