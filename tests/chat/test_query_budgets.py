"""Hot read paths cost a fixed number of queries, whatever the size of the data (no N+1)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from samia_chat.models import Role
from tests.factories import message_create, session_create, user_create

# Bearer user lookup, memberships with unread counts, sessions with their last message,
# members of those sessions.
INBOX_QUERIES = 4
# Bearer user lookup, "is this staff member in any session?", recent sessions, members.
STAFF_INBOX_QUERIES = 4
# Bearer user lookup, the caller's membership with its session, one page of messages.
MESSAGE_PAGE_QUERIES = 3


def _busy_session(client, reader):
    """A session whose last message quotes another, so every related row is needed."""
    session = session_create(client=client, reader=reader)
    question = message_create(session=session, sender=client)
    message_create(session=session, sender=reader, reply_to=question)
    return session


def _queries(api_client, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get(path, **params)
    assert response.status_code == 200, response.content
    return len(captured)


def test_inbox_costs_the_same_queries_for_one_session_as_for_ten(
    api, client_user, django_assert_max_num_queries
):
    client_api = api(client_user)
    _busy_session(client_user, user_create(role=Role.READER))
    with django_assert_max_num_queries(INBOX_QUERIES) as for_one:
        one = client_api.get("/api/sessions")
    for _ in range(9):
        _busy_session(client_user, user_create(role=Role.READER))

    with django_assert_max_num_queries(INBOX_QUERIES) as for_ten:
        ten = client_api.get("/api/sessions")

    assert (len(one.json()), len(ten.json())) == (1, 10)
    assert len(for_ten) == len(for_one)


def test_inbox_of_staff_costs_the_same_queries_for_one_session_as_for_ten(
    api, monitor, django_assert_max_num_queries
):
    monitor_api = api(monitor)
    people = [(user_create(role=Role.CLIENT), user_create(role=Role.READER)) for _ in range(10)]
    _busy_session(*people[0])
    one = _queries(monitor_api, "/api/sessions")
    for client, reader in people[1:]:
        _busy_session(client, reader)

    with django_assert_max_num_queries(STAFF_INBOX_QUERIES) as captured:
        response = monitor_api.get("/api/sessions")

    assert len(response.json()) == 10
    assert len(captured) == one


def test_message_page_costs_the_same_queries_for_five_messages_as_for_a_hundred(
    api, reading, client_user, reader_user, django_assert_max_num_queries
):
    client_api = api(client_user)
    path = f"/api/sessions/{reading.pk}/messages"
    first = message_create(session=reading, sender=client_user)
    for _ in range(4):
        message_create(session=reading, sender=reader_user, reply_to=first)
    small = _queries(client_api, path, limit=100)
    for i in range(95):
        sender = reader_user if i % 2 else client_user
        message_create(session=reading, sender=sender, reply_to=first)

    with django_assert_max_num_queries(MESSAGE_PAGE_QUERIES) as captured:
        response = client_api.get(path, limit=100)

    assert len(response.json()["messages"]) == 100
    assert len(captured) == small
    assert first.pk == response.json()["messages"][0]["id"]


# The membership with the session row locked, the replay check, the INSERT, the session's
# last-message UPDATE and the sender's read pointer: five statements in one transaction
# (BEGIN and COMMIT in production; here the test's transaction makes them a savepoint).
TEXT_SEND_STATEMENTS = 5


def test_a_text_send_costs_five_statements_in_one_transaction(
    reading, client_user, reader_user, django_assert_max_num_queries
):
    from chat.sending import text_message_post

    for i in range(20):
        message_create(session=reading, sender=reader_user if i % 2 else client_user)

    with django_assert_max_num_queries(TEXT_SEND_STATEMENTS + 2) as captured:
        message, created = text_message_post(
            client_user, reading.pk, body="Is the tower card bad?", client_msg_id="budget-1"
        )

    assert created and message.body == "Is the tower card bad?"
    sql = [q["sql"] for q in captured.captured_queries]
    statements = [q for q in sql if "SAVEPOINT" not in q]
    assert len(statements) == TEXT_SEND_STATEMENTS, sql
    if connection.vendor == "postgresql":  # SQLite has no row locks; it locks the file
        assert "FOR UPDATE" in statements[0]  # the access check takes the session lock
