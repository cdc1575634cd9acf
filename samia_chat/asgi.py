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
# as the process. Frozen, the collector no longer walks it on every full collection, and
# full collections come after 100 younger ones instead of 10. Each full pass stops every
# socket of the process (80-150 ms with a thousand sockets, measured), and at 100 messages/s
# per process they came several times a minute, each delaying the messages that arrived
# meanwhile: the worst of the delivery tail. Cyclic garbage old enough for the oldest
# generation (a few thousand objects per pass under load) now waits longer to be freed.
gc.collect()
gc.freeze()
gc.set_threshold(700, 10, 100)
