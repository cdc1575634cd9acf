"""Who is online: a connection count per user in the shared cache.

Every open socket counts once; the key expires unless a connection of the user pings, so
a process that dies without closing its sockets stops showing its users online within
PRESENCE_TTL_SECONDS.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache


def _key(user_id: int) -> str:
    return f"presence:{user_id}"


def _ttl() -> int:
    return settings.CHAT["PRESENCE_TTL_SECONDS"]


def presence_connect(user_id: int) -> int:
    """Count a new connection; returns how many the user now has (1: just came online)."""
    key = _key(user_id)
    cache.add(key, 0, _ttl())
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, _ttl())
        count = 1
    cache.touch(key, _ttl())
    return count


def presence_disconnect(user_id: int) -> bool:
    """Count a closed connection; True when the user just went offline."""
    key = _key(user_id)
    try:
        count = cache.decr(key)
    except ValueError:
        return True
    if count <= 0:
        cache.delete(key)
        return True
    return False


def presence_refresh(user_id: int) -> None:
    cache.touch(_key(user_id), _ttl())


def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    ids = list(user_ids)
    found = cache.get_many([_key(uid) for uid in ids])
    return {uid for uid in ids if (found.get(_key(uid)) or 0) > 0}
