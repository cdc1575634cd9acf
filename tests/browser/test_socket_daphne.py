"""The socket through a real Daphne process: what the in-process test client cannot show
(Daphne's own rules on handshakes and close codes)."""

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from samia_chat.models import Role, User
from samia_chat.tokens import access_token_issue


@pytest.fixture
def token():
    user = User.objects.create(username="layla", role=Role.CLIENT)
    return access_token_issue(user=user)


def _ws(server, token, **kwargs):
    url = server.url.replace("http://", "ws://") + "/ws/"
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_a_bearer_socket_without_origin_connects_and_pongs(daphne_server, token):
    with _ws(daphne_server, token) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}


def test_an_oversized_frame_closes_with_4409(daphne_server, token):
    with _ws(daphne_server, token) as ws:
        ws.send(json.dumps({"type": "typing", "pad": "x" * 40_000}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4409


def test_a_frame_flood_closes_with_4408(daphne_server, token):
    with _ws(daphne_server, token) as ws, pytest.raises(ConnectionClosed) as closed:
        for _ in range(100):
            ws.send('{"type":"ping"}')
        while True:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4408


def test_a_forged_token_is_closed_with_4401(daphne_server):
    with _ws(daphne_server, "not-a-token") as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_a_foreign_origin_is_refused_at_the_handshake(daphne_server, token):
    with pytest.raises(InvalidStatus) as refused:
        _ws(daphne_server, token, origin="https://evil.example")
    assert refused.value.response.status_code == 403
