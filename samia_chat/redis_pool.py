"""Django's Redis cache, with one connection pool and one client per process.

Django keeps cache objects per request context under ASGI, and each new RedisCache makes a
connection pool of its own, so every request (and every socket frame that counts a rate
limit) opened a fresh TCP connection to Redis. It also builds a new redis-py client object
for every command. Here both are made once per URL and shared: redis-py pools and clients
are safe across threads, and a pool resets itself in a forked child.
"""

import threading

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_lock = threading.Lock()
_pools: dict[tuple, redis.ConnectionPool] = {}
_clients: dict[int, redis.Redis] = {}


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs) -> redis.ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = redis.ConnectionPool.from_url(url, **kwargs)
        return pool


class SharedRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, **options) -> None:
        options.setdefault("pool_class", SharedConnectionPool)
        super().__init__(servers, **options)

    def get_client(self, key=None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        client = _clients.get(id(pool))
        if client is None:
            with _lock:
                client = _clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient
