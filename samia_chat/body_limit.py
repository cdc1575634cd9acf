"""A cap on request bodies, applied before Django reads them.

Django's ASGI handler spools a whole request body to a temporary file before any view or
upload handler runs, so without this a client could make the server write gigabytes to
disk. Requests announcing a larger Content-Length get 413 at once; a body that grows past
the cap without announcing its length is cut off (the request is abandoned).
"""

import json

from django.conf import settings

# Multipart framing and the small form fields beside the file.
FORM_OVERHEAD_BYTES = 1024 * 1024


def max_request_bytes() -> int:
    return settings.FILE_UPLOAD_MAX_BYTES + FORM_OVERHEAD_BYTES


class RequestBodyLimit:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max_request_bytes()
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "FILE_TOO_LARGE",
                "message": f"Requests can be at most {limit // (1024 * 1024)} MB.",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
