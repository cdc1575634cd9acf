"""Factories for the people and conversations the tests talk about.

Users get an unusable password unless a test needs to sign in with one: hashing is the
slowest thing a test can do, and most tests authenticate with a token or force_login.
"""

import itertools
import uuid

from django.conf import settings

from chat import services
from chat.models import ChatSession, Membership, Message
from samia_chat.models import Consent, Role, User

_sequence = itertools.count(1)


def consents_give(user: User) -> None:
    """The consents sign-up records: the current terms, and voice recording."""
    Consent.objects.bulk_create(
        [
            Consent(
                user=user, kind=Consent.Kind.TERMS, version=settings.TERMS_VERSION, granted=True
            ),
            Consent(
                user=user,
                kind=Consent.Kind.VOICE,
                version=settings.VOICE_CONSENT_VERSION,
                granted=True,
            ),
        ]
    )


def user_create(
    *,
    role: str = Role.CLIENT,
    username: str = "",
    password: str = "",
    consents: bool = True,
    **fields,
):
    """A user; clients and readers have given the consents sign-up asks for, unless
    `consents=False`."""
    username = username or f"{role}{next(_sequence)}"
    user = User(username=username, role=role, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if consents and role in (Role.CLIENT, Role.READER):
        consents_give(user)
    return user


def session_create(
    *,
    client: User,
    reader: User,
    status: str = ChatSession.Status.ACTIVE,
    booking_ref: str = "",
    **fields,
) -> ChatSession:
    """A reading between `client` and `reader`, written directly (no system message)."""
    session = ChatSession.objects.create(
        kind=ChatSession.Kind.READING,
        status=status,
        booking_ref=booking_ref or f"BK-{next(_sequence)}",
        service_name="Three-card spread",
        **fields,
    )
    Membership.objects.bulk_create(
        [Membership(session=session, user=client), Membership(session=session, user=reader)]
    )
    return session


def message_create(
    *,
    session: ChatSession,
    sender: User,
    body: str = "",
    client_msg_id: str = "",
    reply_to: Message | None = None,
) -> Message:
    """A text message sent through the real service, so every pointer moves as in use."""
    message, _created = services.message_send(
        session=session,
        sender=sender,
        body=body or f"message {next(_sequence)}",
        client_msg_id=client_msg_id or uuid.uuid4().hex,
        reply_to_id=reply_to.pk if reply_to is not None else None,
    )
    return message


def new_client_msg_id() -> str:
    return uuid.uuid4().hex
