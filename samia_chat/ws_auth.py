"""Who is on the other end of a WebSocket, decided before the consumer runs.

Browsers authenticate with the Django session cookie, and then the Origin header must be
one of ours (a foreign page could otherwise ride the user's cookie). Other clients send
`Authorization: Bearer <access JWT>`; they may omit Origin, but a foreign one is still
refused. Tokens never travel in the URL, where proxies and logs would keep them.
"""

from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from samia_chat.errors import Unauthenticated
from samia_chat.tokens import user_from_access_token


def _allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


class WebSocketAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)
        self.origins = OriginValidator(inner, _allowed_origins())

    def _origin_ok(self, origin: bytes | None) -> bool:
        if origin is None:
            return False
        try:
            parsed = urlparse(origin.decode("latin1"))
        except UnicodeDecodeError:
            return False
        return self.origins.valid_origin(parsed)

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        authorization = headers.get(b"authorization", b"").decode("latin1")
        if authorization:
            if origin is not None and not self._origin_ok(origin):
                return await WebsocketDenier()(scope, receive, send)
            scheme, _, token = authorization.partition(" ")
            scope = dict(scope)
            scope["user"] = AnonymousUser()
            if scheme.lower() != "bearer" or not token:
                scope["auth_error"] = "TOKEN_INVALID"
            else:
                try:
                    scope["user"] = await database_sync_to_async(user_from_access_token)(token)
                except Unauthenticated as exc:
                    scope["auth_error"] = exc.code
            return await self.inner(scope, receive, send)
        if not self._origin_ok(origin):
            return await WebsocketDenier()(scope, receive, send)
        return await self.with_session(scope, receive, send)
