"""Request bodies are capped before Django spools them to disk."""

import json

import pytest
from channels.testing import HttpCommunicator

from samia_chat.asgi import application
from samia_chat.body_limit import max_request_bytes

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_body_announced_over_the_cap_is_refused_with_413_before_it_is_read():
    communicator = HttpCommunicator(
        application,
        "POST",
        "/api/sessions/1/files",
        body=b"x" * 10,
        headers=[(b"content-length", str(max_request_bytes() + 1).encode())],
    )

    response = await communicator.get_response(timeout=5)

    assert response["status"] == 413
    assert json.loads(response["body"])["error"]["code"] == "FILE_TOO_LARGE"


async def test_requests_under_the_cap_reach_the_application():
    communicator = HttpCommunicator(
        application, "GET", "/healthz", headers=[(b"host", b"127.0.0.1")]
    )
    response = await communicator.get_response(timeout=5)
    assert response["status"] == 200
