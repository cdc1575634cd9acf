"""People: one account per legacy profile, matched on legacy id, then on email."""

import re

from django.db import transaction
from django.utils import timezone

from samia_chat.legacy.records import RecordIndex
from samia_chat.legacy.report import Report
from samia_chat.legacy.shapes import Person
from samia_chat.models import STAFF_ROLES, User

_USERNAME_CHARS = re.compile(r"[^\w.@+-]")


def people_import(
    people: dict[str, Person], *, records: RecordIndex, report: Report
) -> dict[str, User]:
    """One account per legacy profile; profiles sharing an email share the first's, and
    an account that already exists here with that email is reused."""
    users: dict[str, User] = {}
    earlier = {p: t for p in people if (t := records.get("profiles", p)) is not None}
    accounts = User.objects.in_bulk([t.id for t in earlier.values()])
    by_email = {u.email.lower(): u for u in User.objects.exclude(email="")}
    taken = set(User.objects.values_list("username", flat=True))
    new: list[tuple[Person, User]] = []
    for person in people.values():
        if person.legacy_id in earlier:
            users[person.legacy_id] = accounts[earlier[person.legacy_id].id]
            report.outcome("profiles", "already")
        elif person.merged_into is None:
            existing = by_email.get(person.email.lower()) if person.email else None
            if existing is not None:
                users[person.legacy_id] = existing
                records.stage("profiles", person.legacy_id, "user", existing.pk, outcome="merged")
                report.merge("profiles", person.legacy_id, f"existing user {existing.pk}")
                continue
            user = User(
                username=_username(person, taken),
                email=person.email,
                display_name=person.display_name,
                role=person.role,
                is_active=person.active,
                # What User.save() would set: bulk_create does not call it.
                is_staff=person.role in STAFF_ROLES,
                date_joined=person.created_at or timezone.now(),
            )
            # Passwords stayed with the old auth service: a reset sets a new one.
            user.set_unusable_password()
            new.append((person, user))
    with transaction.atomic():
        User.objects.bulk_create([user for _, user in new], batch_size=500)
        for person, user in new:
            users[person.legacy_id] = user
            records.stage("profiles", person.legacy_id, "user", user.pk)
        report.outcome("profiles", "created", len(new))
        report.made["users"] += len(new)
        for person in people.values():
            if person.merged_into is None or person.legacy_id in earlier:
                continue
            user = users[person.merged_into]
            users[person.legacy_id] = user
            records.stage(
                "profiles",
                person.legacy_id,
                "user",
                user.pk,
                merged_into=person.merged_into,
                outcome="merged",
            )
            report.merge("profiles", person.legacy_id, person.merged_into)
        records.flush()
    records.commit()
    return users


def _username(person: Person, taken: set[str]) -> str:
    base = _USERNAME_CHARS.sub("", (person.email or "").lower())[:140]
    base = base or f"legacy-{person.legacy_id[:8]}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate
