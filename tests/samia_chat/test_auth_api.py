"""Token auth of the JSON API: sign-in, refresh rotation, logout, password change, and
how a bad token is answered."""

import time

import jwt
import pytest

from samia_chat.models import AccessEvent, RefreshToken, Role
from samia_chat.tokens import access_token_issue, token_pair_issue
from tests.factories import user_create

PASSWORD = "crystal-ball-42"


@pytest.fixture
def layla(db):
    return user_create(role=Role.CLIENT, username="layla", password=PASSWORD)


def _sign_in(api, username="layla", password=PASSWORD):
    return api().post("/api/auth/token", {"username": username, "password": password})


# --- POST /api/auth/token -----------------------------------------------------------------


def test_signing_in_returns_an_access_and_a_refresh_token(api, layla):
    response = _sign_in(api)

    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    me = api(token=pair["access"]).get("/api/me")
    assert me.status_code == 200
    assert RefreshToken.objects.filter(user=layla, revoked_at__isnull=True).count() == 1
    assert AccessEvent.objects.filter(action=AccessEvent.Action.TOKEN_ISSUED, actor=layla).exists()


@pytest.mark.parametrize(
    ("username", "password"), [("layla", "wrong-password"), ("nobody", PASSWORD)]
)
def test_signing_in_with_wrong_credentials_is_a_401(api, code_of, layla, username, password):
    response = _sign_in(api, username, password)

    assert response.status_code == 401
    assert code_of(response) == "INVALID_CREDENTIALS"
    assert not RefreshToken.objects.exists()
    failed = AccessEvent.objects.get(action=AccessEvent.Action.LOGIN_FAILED)
    assert failed.detail == {"username": username}


def test_signing_in_after_five_failures_is_a_429_with_retry_after(
    api, code_of, fresh_rate_window, layla
):
    fresh_rate_window(group="login-failures", key="username:layla", rate="5/15m")
    failures = [_sign_in(api, password="guess").status_code for _ in range(5)]

    # Even the right password is refused until the window passes.
    response = _sign_in(api)

    assert failures == [401] * 5
    assert response.status_code == 429
    assert code_of(response) == "RATE_LIMITED"
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert not RefreshToken.objects.exists()


def test_a_successful_sign_in_does_not_count_as_a_failure(api, layla):
    statuses = [_sign_in(api).status_code for _ in range(7)]

    assert statuses == [200] * 7


# --- POST /api/auth/refresh ---------------------------------------------------------------


def test_refreshing_rotates_the_refresh_token(api, layla):
    old = _sign_in(api).json()

    response = api().post("/api/auth/refresh", {"refresh": old["refresh"]})

    assert response.status_code == 200
    new = response.json()
    assert new["refresh"] != old["refresh"]
    assert api(token=new["access"]).get("/api/me").status_code == 200
    rows = RefreshToken.objects.order_by("id")
    assert [row.used_at is not None for row in rows] == [True, False]
    assert rows[0].family == rows[1].family


def test_reusing_a_rotated_refresh_token_is_a_401_and_revokes_its_family(api, code_of, layla):
    old = _sign_in(api).json()
    new = api().post("/api/auth/refresh", {"refresh": old["refresh"]}).json()

    replay = api().post("/api/auth/refresh", {"refresh": old["refresh"]})
    after = api().post("/api/auth/refresh", {"refresh": new["refresh"]})

    assert replay.status_code == 401
    assert code_of(replay) == "TOKEN_REUSED"
    assert after.status_code == 401
    assert not RefreshToken.objects.filter(revoked_at__isnull=True).exists()


def test_refreshing_with_an_unknown_token_is_a_401(api, code_of, layla):
    response = api().post("/api/auth/refresh", {"refresh": "made-up"})

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


def test_a_refresh_token_reuse_leaves_other_devices_signed_in(api, layla):
    phone = _sign_in(api).json()
    laptop = _sign_in(api).json()
    api().post("/api/auth/refresh", {"refresh": phone["refresh"]})
    api().post("/api/auth/refresh", {"refresh": phone["refresh"]})  # replayed: family revoked

    response = api().post("/api/auth/refresh", {"refresh": laptop["refresh"]})

    assert response.status_code == 200


# --- POST /api/auth/logout ----------------------------------------------------------------


def test_logging_out_revokes_the_refresh_token(api, code_of, layla):
    pair = _sign_in(api).json()

    logout = api().post("/api/auth/logout", {"refresh": pair["refresh"]})
    refresh = api().post("/api/auth/refresh", {"refresh": pair["refresh"]})

    assert logout.status_code == 204
    assert refresh.status_code == 401
    assert code_of(refresh) == "TOKEN_INVALID"
    assert RefreshToken.objects.get().revoked_at is not None


# --- password change ------------------------------------------------------------------------


def test_a_password_change_invalidates_access_and_refresh_tokens(api, code_of, layla):
    pair = _sign_in(api).json()

    layla.set_password("a-brand-new-secret")
    layla.save()

    me = api(token=pair["access"]).get("/api/me")
    refresh = api().post("/api/auth/refresh", {"refresh": pair["refresh"]})
    assert (me.status_code, refresh.status_code) == (401, 401)
    assert code_of(me) == "TOKEN_INVALID"
    assert code_of(refresh) == "TOKEN_INVALID"
    assert RefreshToken.objects.get().revoked_at is not None
    assert _sign_in(api, password="a-brand-new-secret").status_code == 200


# --- bad access tokens ----------------------------------------------------------------------


def test_an_expired_access_token_is_a_401(api, code_of, settings, layla):
    settings.JWT_ACCESS_TTL_SECONDS = -1
    token = access_token_issue(user=layla)

    response = api(token=token).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_EXPIRED"


def test_an_access_token_signed_with_another_key_is_a_401(api, code_of, layla):
    claims = jwt.decode(access_token_issue(user=layla), options={"verify_signature": False})
    forged = jwt.encode(claims, "not-our-secret-key-but-long-enough-for-hs256", "HS256")

    response = api(token=forged).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


def test_an_access_token_naming_someone_else_is_a_401(api, code_of, settings, layla, monitor):
    claims = jwt.decode(access_token_issue(user=layla), options={"verify_signature": False})
    claims["sub"] = str(monitor.pk)  # keep layla's fingerprint, claim to be the monitor
    tampered = jwt.encode(claims, settings.SECRET_KEY, "HS256")

    response = api(token=tampered).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_a_malformed_access_token_is_a_401(api, code_of, layla, token):
    response = api(token=token).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


def test_a_refresh_token_is_not_an_access_token(api, code_of, layla):
    refresh = token_pair_issue(user=layla)["refresh"]

    response = api(token=refresh).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


def test_a_token_of_a_deactivated_user_is_a_401(api, code_of, layla):
    token = access_token_issue(user=layla)
    layla.is_active = False
    layla.save()

    response = api(token=token).get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "TOKEN_INVALID"


def test_a_call_without_credentials_is_a_401(api, code_of, db):
    response = api().get("/api/me")

    assert response.status_code == 401
    assert code_of(response) == "UNAUTHENTICATED"


# --- GET /api/me ----------------------------------------------------------------------------


def test_me_names_the_caller_and_their_role(api, layla):
    response = api(layla).get("/api/me")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "username", "role")} == {
        "id": layla.pk,
        "username": "layla",
        "role": "client",
    }


def test_access_tokens_expire_after_the_configured_lifetime(settings, layla):
    token = access_token_issue(user=layla)

    claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])

    assert claims["exp"] - claims["iat"] == settings.JWT_ACCESS_TTL_SECONDS
    assert claims["exp"] > time.time()


# --- sign out everywhere, and the audit of token use ------------------------------------------


def test_signing_out_everywhere_ends_every_token_and_browser_session(api, code_of, layla):
    from django.test import Client

    phone, laptop = _sign_in(api).json(), _sign_in(api).json()
    browser = Client()
    browser.force_login(layla)
    assert browser.get("/privacy/").status_code == 200

    response = api(token=phone["access"]).post("/api/auth/logout-all")

    assert response.status_code == 204
    for pair in (phone, laptop):
        assert code_of(api(token=pair["access"]).get("/api/me")) == "TOKEN_INVALID"
        assert api().post("/api/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401
    assert browser.get("/privacy/").status_code == 302  # back to the sign-in page
    assert _sign_in(api).status_code == 200  # the password still works


def test_the_browser_button_signs_out_everywhere(api, code_of, layla):
    from django.test import Client

    pair = _sign_in(api).json()
    browser = Client()
    browser.force_login(layla)

    response = browser.post("/privacy/sign-out-everywhere")

    assert response.status_code == 302 and response["Location"] == "/login/"
    assert code_of(api(token=pair["access"]).get("/api/me")) == "TOKEN_INVALID"


def test_refreshes_and_revocations_are_audited(api, layla):
    pair = _sign_in(api).json()

    renewed = api().post("/api/auth/refresh", {"refresh": pair["refresh"]}).json()
    api().post("/api/auth/logout", {"refresh": renewed["refresh"]})

    actions = set(AccessEvent.objects.filter(actor=layla).values_list("action", flat=True))
    assert {"token_issued", "token_refreshed", "token_revoked"} <= actions
