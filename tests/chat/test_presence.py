"""chat.presence: a connection count per user in the shared cache."""

import time

from chat.presence import (
    online_user_ids,
    presence_connect,
    presence_disconnect,
)


def test_the_first_connection_brings_a_user_online():
    assert presence_connect(1) == 1
    assert online_user_ids([1, 2]) == {1}


def test_a_second_connection_changes_nothing_visible():
    presence_connect(1)

    assert presence_connect(1) == 2
    assert online_user_ids([1]) == {1}


def test_the_user_goes_offline_when_the_last_connection_closes():
    presence_connect(1)
    presence_connect(1)

    assert presence_disconnect(1) is False
    assert online_user_ids([1]) == {1}
    assert presence_disconnect(1) is True
    assert online_user_ids([1]) == set()


def test_a_user_whose_connections_stop_pinging_goes_offline_after_the_ttl(settings):
    settings.CHAT = {**settings.CHAT, "PRESENCE_TTL_SECONDS": 1}
    presence_connect(7)  # and then the process dies without closing the socket

    time.sleep(1.5)

    assert online_user_ids([7]) == set()
