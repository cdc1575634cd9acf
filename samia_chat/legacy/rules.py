"""How legacy values map onto ours: roles, kinds, statuses, and where a file URL points.

Every value the old data holds that these tables do not know is mapped to a safe default
and reported, never guessed silently.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from chat.models import ChatSession, Message
from samia_chat.models import Role

ROLES = {
    "client": Role.CLIENT,
    "reader": Role.READER,
    "monitor": Role.MONITOR,
    "admin": Role.ADMIN,
    "super_admin": Role.SUPER_ADMIN,
    "superadmin": Role.SUPER_ADMIN,
}

SESSION_KINDS = {
    "booking": ChatSession.Kind.READING,
    "emergency": ChatSession.Kind.EMERGENCY,
    "general": ChatSession.Kind.SUPPORT,
    "support": ChatSession.Kind.SUPPORT,
}

# Ours, and the stray values the old tables hold (all of them mean the chat is over).
SESSION_STATUSES = {
    "active": ChatSession.Status.ACTIVE,
    "paused": ChatSession.Status.PAUSED,
    "locked": ChatSession.Status.LOCKED,
    "ended": ChatSession.Status.ENDED,
    "archived": ChatSession.Status.ENDED,
    "completed": ChatSession.Status.ENDED,
    "terminated": ChatSession.Status.ENDED,
    "closed": ChatSession.Status.ENDED,
}
STRAY_SESSION_STATUSES = {"archived", "completed", "terminated", "closed"}

MESSAGE_KINDS = {
    "text": Message.Kind.TEXT,
    "audio": Message.Kind.VOICE,
    "voice": Message.Kind.VOICE,
    "voice_note": Message.Kind.VOICE,
    "image": Message.Kind.IMAGE,
    "file": Message.Kind.FILE,
    "video": Message.Kind.FILE,
    "document": Message.Kind.FILE,
    "system": Message.Kind.SYSTEM,
    "emergency": Message.Kind.EMERGENCY,
}

# Generation 3 statuses; "approved" and "sent" are both delivered messages.
MESSAGE_STATUSES = {
    "sent": "sent",
    "delivered": "sent",
    "read": "sent",
    "approved": "approved",
    "pending_approval": "pending",
    "pending": "pending",
    "rejected": "rejected",
    "deleted": "deleted",
}

BUCKETS = ("chat-files", "chat-attachments")
_OBJECT_PATH = re.compile(r"/storage/v1/object/(?:public|sign|authenticated)/([^/]+)/(.+)$")


def file_candidates(url_or_path: str | None) -> list[tuple[str, str]]:
    """(bucket, key) pairs a legacy file reference may name, most likely first.

    Full URLs name their bucket; bare paths (voice_notes.file_path) may start with a
    bucket name or be a key in either bucket.
    """
    if not url_or_path:
        return []
    value = url_or_path.strip()
    if value.startswith(("http://", "https://")):
        match = _OBJECT_PATH.search(unquote(urlparse(value).path))
        return [(match.group(1), match.group(2))] if match else []
    value = value.lstrip("/")
    first, _, rest = value.partition("/")
    if first in BUCKETS and rest:
        return [(first, rest)]
    return [(bucket, value) for bucket in BUCKETS]


def file_resolve(root: Path, url_or_path: str | None) -> Path | None:
    """The file on disk a reference names, or None. Never leaves `root`."""
    base = root.resolve()
    for bucket, key in file_candidates(url_or_path):
        path = (base / bucket / key).resolve()
        if base in path.parents and path.is_file():
            return path
    return None
