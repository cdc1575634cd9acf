"""Retention: removing messages (and their files) once their kind's period has passed.

Periods come from settings.RETENTION_DAYS. A message past its period is removed outright,
row and file; a tombstone (deleted or redacted) keeps its place in the thread for a
while, then its row goes too. Sessions under an active legal hold, and every session of a
person under one, keep everything.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from chat.models import Attachment, LegalHold, Membership, Message
from chat.removal import stored_files_release

BATCH = 500
TOMBSTONES = (Message.Status.DELETED, Message.Status.REDACTED)


@dataclass(frozen=True)
class Expired:
    """One message retention removes, and why."""

    message_id: int
    session_id: int
    kind: str
    status: str
    created_at: datetime
    rule: str
    storage_key: str | None


def held_session_ids() -> set[int]:
    """Sessions under an active legal hold, directly or through one of their members."""
    holds = LegalHold.objects.filter(lifted_at__isnull=True)
    direct = set(holds.filter(session__isnull=False).values_list("session_id", flat=True))
    people = holds.filter(user__isnull=False).values_list("user_id", flat=True)
    through_people = set(
        Membership.objects.filter(user_id__in=people).values_list("session_id", flat=True)
    )
    return direct | through_people


def _due(now: datetime) -> QuerySet[Message]:
    days = settings.RETENTION_DAYS
    by_kind = Q()
    for kind in Message.Kind.values:
        cutoff = now - timedelta(days=days[kind])
        by_kind |= Q(kind=kind, created_at__lt=cutoff) & ~Q(status__in=TOMBSTONES)
    tombstones = Q(status__in=TOMBSTONES, deleted_at__lt=now - timedelta(days=days["tombstone"]))
    return Message.objects.filter(by_kind | tombstones).exclude(session_id__in=held_session_ids())


def retention_plan(*, now: datetime | None = None) -> Iterator[Expired]:
    """What a run at `now` removes, oldest first, without removing anything."""
    now = now or timezone.now()
    rows = (
        _due(now)
        .order_by("id")
        .values_list("id", "session_id", "kind", "status", "created_at", "attachment__storage_key")
    )
    for message_id, session_id, kind, status, created_at, key in rows.iterator(chunk_size=2000):
        rule = "tombstone" if status in TOMBSTONES else kind
        yield Expired(message_id, session_id, kind, status, created_at, rule, key)


def retention_apply(*, now: datetime | None = None) -> Counter:
    """Remove what the plan names, in batches; files go after each batch commits.

    Returns how many messages each rule removed, and `files`.
    """
    now = now or timezone.now()
    removed: Counter = Counter()
    while True:
        with transaction.atomic():
            # Re-read under the lock each batch: a hold placed meanwhile is respected.
            ids = list(_due(now).order_by("id").values_list("id", flat=True)[:BATCH])
            if not ids:
                break
            batch = list(
                Message.objects.select_for_update(of=("self",))
                .filter(pk__in=ids)
                .values_list("status", "kind", "attachment_id")
            )
            attachment_ids = [a for _, _, a in batch if a is not None]
            keys = list(
                Attachment.objects.filter(pk__in=attachment_ids).values_list(
                    "storage_key", flat=True
                )
            )
            Message.objects.filter(pk__in=ids).delete()
            Attachment.objects.filter(pk__in=attachment_ids).delete()
            for status, kind, _ in batch:
                removed["tombstone" if status in TOMBSTONES else kind] += 1
            removed["files"] += len(keys)
            stored_files_release(keys)
    return removed


def person_on_hold(user_id: int) -> bool:
    """Whether a legal hold covers this person: on them, or on a session they are in."""
    holds = LegalHold.objects.filter(lifted_at__isnull=True)
    if holds.filter(user_id=user_id).exists():
        return True
    sessions = Membership.objects.filter(user_id=user_id).values("session_id")
    return holds.filter(session_id__in=sessions).exists()
