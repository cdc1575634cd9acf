"""People and sessions for a run, made with the project's own services and tokens."""

from dataclasses import dataclass


@dataclass
class Person:
    user_id: int
    username: str
    token: str
    session_id: int | None = None
    peer_id: int | None = None


def seed_pairs(n_sessions: int, *, prefix: str) -> list[tuple[Person, Person]]:
    """n_sessions reading sessions, each between a new client and a new reader."""
    from django.contrib.auth.hashers import make_password

    from chat.models import ChatSession
    from chat.services import session_open
    from samia_chat.models import Role, User
    from samia_chat.tokens import access_token_issue

    password = make_password(None)  # unusable: bench people only use tokens
    users = User.objects.bulk_create(
        [
            User(username=f"{prefix}-{kind}-{i}", role=role, password=password)
            for i in range(n_sessions)
            for kind, role in (("c", Role.CLIENT), ("r", Role.READER))
        ]
    )
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"role": Role.ADMIN})
    pairs = []
    for i in range(n_sessions):
        client, reader = users[2 * i], users[2 * i + 1]
        session = session_open(
            opened_by=admin, client=client, reader=reader, booking_ref=f"{prefix}-{i}"
        )
        a = Person(
            client.pk, client.username, access_token_issue(user=client), session.pk, reader.pk
        )
        b = Person(
            reader.pk, reader.username, access_token_issue(user=reader), session.pk, client.pk
        )
        pairs.append((a, b))
    # A full run sends about a hundred messages into each session; a session's text
    # allowance (10,000 characters by default) would stop its client part-way and the run
    # would measure the allowance, not the server.
    ChatSession.objects.filter(pk__in=[a.session_id for a, _ in pairs]).update(
        client_text_quota_chars=2_000_000_000
    )
    return pairs


def seed_loners(n: int, *, prefix: str) -> list[Person]:
    """n users with no session (idle sockets)."""
    from django.contrib.auth.hashers import make_password

    from samia_chat.models import Role, User
    from samia_chat.tokens import access_token_issue

    password = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"{prefix}-{i}", role=Role.CLIENT, password=password) for i in range(n)]
    )
    return [Person(u.pk, u.username, access_token_issue(user=u)) for u in users]
