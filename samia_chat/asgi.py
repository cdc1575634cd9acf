"""ASGI entry point: HTTP goes to Django, WebSockets to the chat consumer."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samia_chat.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.worker import InServerWorker  # noqa: E402
from samia_chat.body_limit import RequestBodyLimit  # noqa: E402
from samia_chat.ws_auth import WebSocketAuthMiddleware  # noqa: E402

application = InServerWorker(
    ProtocolTypeRouter(
        {
            "http": RequestBodyLimit(django_asgi_app),
            "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)

# Everything loaded so far (Django, the apps, the URL and template machinery) lives as long
# as the process. Frozen, the collector no longer walks it on every full collection: with a
# thousand sockets per process, full collections went from about 150 ms to 80 ms at the
# worst, and every one of them stalls every socket of the process (docs/performance.md).
gc.collect()
gc.freeze()
