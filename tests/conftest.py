"""Shared fixtures: a clean cache per test, the personas, and the JSON API as each sees it."""

import json
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import Client
from django_ratelimit.core import get_usage

from samia_chat.models import Role
from samia_chat.tokens import token_pair_issue
from tests.factories import session_create, user_create

BROWSER_TESTS = Path(__file__).parent / "browser"


def pytest_configure(config):
    # Tests run with DEBUG off and no collectstatic: WhiteNoise notes the missing folder.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and presence live in the cache: every test starts from zero."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def file_store(request, tmp_path_factory):
    """Each test stores attachments in a private folder of its own (the browser tests'
    server process keeps the project's, which it shares with the test process)."""
    if BROWSER_TESTS in request.node.path.parents:
        yield None
        return
    settings = request.getfixturevalue("settings")
    location = tmp_path_factory.mktemp("chat-files")
    settings.STORAGES = {
        **settings.STORAGES,
        "chat-files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    yield location


@pytest.fixture(autouse=True)
def _no_worker_in_test_servers(request):
    """The ASGI application under test does not start the emergency ladder on its own:
    ladder tests drive it with a controlled clock."""
    if BROWSER_TESTS in request.node.path.parents:
        return
    settings = request.getfixturevalue("settings")
    settings.EMERGENCY = {**settings.EMERGENCY, "IN_SERVER_WORKER": False}


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    # The browser tests share their users with a separate server process, which must be
    # able to check the passwords with the real hasher.
    if BROWSER_TESTS in request.node.path.parents:
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- personas ---------------------------------------------------------------------------


@pytest.fixture
def client_user(db):
    return user_create(role=Role.CLIENT, username="layla", display_name="Layla")


@pytest.fixture
def reader_user(db):
    return user_create(role=Role.READER, username="noor", display_name="Noor")


@pytest.fixture
def outsider(db):
    """A client who takes no part in the reading."""
    return user_create(role=Role.CLIENT, username="omar")


@pytest.fixture
def outsider_reader(db):
    return user_create(role=Role.READER, username="samir")


@pytest.fixture
def monitor(db):
    return user_create(role=Role.MONITOR, username="mona")


@pytest.fixture
def admin(db):
    return user_create(role=Role.ADMIN, username="adam")


@pytest.fixture
def super_admin(db):
    return user_create(role=Role.SUPER_ADMIN, username="sara")


@pytest.fixture
def reading(client_user, reader_user):
    """An active reading between the client and the reader."""
    return session_create(client=client_user, reader=reader_user)


# --- the JSON API -----------------------------------------------------------------------


class JsonApi:
    """The JSON API as one user sees it, with an `Authorization: Bearer` access token."""

    def __init__(self, user=None, *, token: str = "") -> None:
        if user is not None and not token:
            token = token_pair_issue(user=user)["access"]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = Client(headers=headers)

    def get(self, path: str, **params):
        return self.http.get(path, params)

    def post(self, path: str, payload: dict | None = None):
        return self.http.post(path, json.dumps(payload or {}), content_type="application/json")

    def upload(self, path: str, file_path, **fields):
        """A multipart POST with `file` read from `file_path` (None: no file part)."""
        data = {key: value for key, value in fields.items() if value is not None}
        if file_path is None:
            return self.http.post(path, data)
        with open(file_path, "rb") as handle:
            return self.http.post(path, {**data, "file": handle})

    def download(self, path: str, **headers) -> tuple:
        """GET a file; returns (response, body bytes). Downloads stream asynchronously."""
        response = self.http.get(path, headers=headers)
        if not response.streaming:
            return response, response.content

        async def collect() -> bytes:
            return b"".join([chunk async for chunk in response.streaming_content])

        return response, async_to_sync(collect)()

    def post_raw(self, path: str, body: str):
        return self.http.post(path, body, content_type="application/json")

    def delete(self, path: str):
        return self.http.delete(path)


@pytest.fixture
def api(db):
    """`api(user)` is the API as that user sees it; `api()` is anonymous."""

    def as_user(user=None, *, token: str = "") -> JsonApi:
        return JsonApi(user, token=token)

    return as_user


def error_code(response) -> str:
    """The machine code of an error response, after checking the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]


@pytest.fixture
def code_of():
    """`code_of(response)`: the error code, asserting the {"error": {code, message}} shape."""
    return error_code


@pytest.fixture
def fresh_rate_window():
    """`fresh_rate_window(group=, key=, rate=)` waits, if need be, until the rate-limit
    window of that key has long enough left that it cannot roll over mid-test."""

    def wait(*, group: str, key: str, rate: str, seconds: int = 10) -> None:
        usage = get_usage(None, group=group, key=lambda _g, _r: key, rate=rate)
        if usage["time_left"] < seconds:
            time.sleep(usage["time_left"] + 1)

    return wait
