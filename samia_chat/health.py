"""Liveness and readiness for load balancers and orchestrators."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was written")


def _check_storage() -> None:
    # Reaching the private store is enough: a missing object is a normal answer.
    storages["chat-files"].exists("readyz")


def _check_channel_layer() -> None:
    layer = get_channel_layer()
    async_to_sync(layer.group_send)("readyz", {"type": "noop"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency answers: database, cache (Redis in production), channel layer."""
    checks = {
        "database": _check_database,
        "cache": _check_cache,
        "channel_layer": _check_channel_layer,
        "storage": _check_storage,
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready, whatever raised it
            results[name] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
