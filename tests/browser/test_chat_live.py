"""Two people chatting in two real browsers, through Daphne, with a network drop."""

import pytest

from chat.services import session_open
from samia_chat.models import Role
from tests.browser.conftest import PASSWORD, SCREENSHOTS, person, save_side_by_side

pytestmark = pytest.mark.browser


@pytest.fixture
def reading():
    client = person("layla", "Layla", Role.CLIENT)
    reader = person("noor", "Noor", Role.READER)
    admin = person("adam", "Adam", Role.ADMIN)
    return session_open(
        opened_by=admin,
        client=client,
        reader=reader,
        booking_ref="BK-1001",
        service_name="Celtic Cross reading",
    )


def _texts(page) -> list[str]:
    """The text of every chat bubble, top to bottom (quotes and times left out)."""
    bubbles = page.locator("#messages li.msg--mine .bubble, #messages li.msg--theirs .bubble")
    return bubbles.evaluate_all(
        "nodes => nodes.map(n => [...n.childNodes].find(c => c.nodeType === 3).textContent)"
    )


def _open_thread(page, reading) -> None:
    page.click(f".session-item[data-session-id='{reading.pk}'] a")
    page.wait_for_selector("body[data-realtime=open]")


def _open_both(login, reading):
    """The client on a phone and the reader on a laptop, both in the reading's thread."""
    _, client = login("layla", PASSWORD)
    _, reader = login("noor", PASSWORD, width=1024)
    for page in (client, reader):
        _open_thread(page, reading)
    return client, reader


def _send(page, text: str) -> None:
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")


def test_client_and_reader_chat_live_and_nothing_is_lost_while_offline(
    browser, daphne_server, login, reading
):
    _, client = login("layla", PASSWORD, width=390, height=760)
    reader_ctx, reader = login("noor", PASSWORD, width=1024, height=760)
    for page in (client, reader):
        page.click(f".session-item[data-session-id='{reading.pk}'] a")
        page.wait_for_selector("body[data-realtime=open]")

    _send(client, "Good evening Noor, I have a question about my work.")
    reader.locator("#messages").get_by_text("I have a question about my work.").wait_for()
    reader.fill("#composer-input", "Welcome Layla")
    client.get_by_text("Noor is typing…").wait_for()
    reader.keyboard.press("Enter")
    client.locator("#messages").get_by_text("Welcome Layla").wait_for()
    # The client has read the reader's message: the reader's ticks turn to read.
    reader.locator("#messages li.msg--mine .ticks--read").wait_for()

    reader_ctx.set_offline(True)
    reader.wait_for_selector("#conn-banner:not([hidden])")
    for n in (1, 2, 3):
        _send(client, f"While you were away, part {n}")
    # The client's copies are acknowledged (no clock icon left).
    client.wait_for_function(
        "() => document.querySelectorAll('#messages .msg--pending').length === 0"
        " && [...document.querySelectorAll('#messages .bubble')]"
        ".filter(b => b.textContent.includes('part 3')).length === 1"
    )
    assert reader.locator("#messages").get_by_text("While you were away").count() == 0

    reader_ctx.set_offline(False)
    reader.wait_for_selector("#conn-banner", state="hidden")
    reader.locator("#messages").get_by_text("While you were away, part 3").wait_for()

    texts = [t for t in _texts(reader) if "While you were away" in t]
    assert texts == [f"While you were away, part {n}" for n in (1, 2, 3)]
    assert _texts(reader) == _texts(client)
    # The reader has now read everything: no unread badge, and the client sees read ticks.
    reader.wait_for_selector(".session-item .unread", state="detached")
    client.locator("#messages li.msg--mine").last.locator(".ticks--read").wait_for()

    save_side_by_side(browser, [client, reader], SCREENSHOTS / "chat-client-and-reader.png")


def test_reader_locks_session_and_both_sides_turn_read_only(browser, daphne_server, login, reading):
    client, reader = _open_both(login, reading)

    reader.once("dialog", lambda dialog: dialog.accept())
    reader.click("#status-actions button:text('lock')")

    for page in (client, reader):
        page.get_by_text("This reading is over. The conversation is read-only.").wait_for()
        assert page.locator("#composer-input").is_disabled()
        assert page.locator("#status-pill").inner_text().lower() == "locked"
    client.locator("#messages").get_by_text("locked the session").wait_for()


def test_reply_quotes_and_deleted_messages_show_on_both_sides(
    browser, daphne_server, login, reading
):
    client, reader = _open_both(login, reading)

    _send(reader, "Draw one card and tell me what you see.")
    question = client.locator("#messages li.msg--theirs", has_text="Draw one card")
    question.wait_for()
    question.locator(".bubble").focus()
    question.get_by_role("button", name="Reply").click()
    assert "Draw one card" in client.locator("#reply-bar").inner_text()
    _send(client, "The Star, upright.")
    quoted = reader.locator("#messages li.msg--theirs", has_text="The Star, upright.")
    quoted.locator(".quote", has_text="Draw one card").wait_for()

    _send(client, "Oops, wrong chat")
    mine = client.locator("#messages li.msg--mine", has_text="Oops, wrong chat")
    mine.wait_for()
    reader.locator("#messages").get_by_text("Oops, wrong chat").wait_for()
    client.once("dialog", lambda dialog: dialog.accept())
    mine.locator(".bubble").focus()
    mine.get_by_role("button", name="Delete").click()
    for page in (client, reader):
        page.locator("#messages li.msg--tombstone", has_text="Message deleted").wait_for()
        assert page.locator("#messages").get_by_text("Oops, wrong chat").count() == 0


def test_a_monitor_reads_a_session_read_only(browser, daphne_server, login, reading):
    from samia_chat.models import AccessEvent

    person("mona", "Mona", Role.MONITOR)
    _, monitor = login("mona", PASSWORD, width=1024)
    _, client = login("layla", PASSWORD)
    monitor.click(f".session-item[data-session-id='{reading.pk}'] a")
    monitor.get_by_text("You are viewing this conversation read-only.").wait_for()
    monitor.wait_for_selector("body[data-realtime=open]")
    assert monitor.locator("#composer").is_hidden()
    assert monitor.locator("#status-actions button").count() >= 2  # pause, lock, end

    _open_thread(client, reading)
    _send(client, "Can someone help me?")
    # The monitor's read-only view is live too.
    monitor.locator("#messages").get_by_text("Can someone help me?").wait_for()
    assert AccessEvent.objects.filter(
        action=AccessEvent.Action.STAFF_READ, actor__username="mona"
    ).exists()


def test_the_server_dies_mid_chat_and_nothing_is_lost_or_doubled(
    browser, daphne_server, login, reading
):
    import signal

    client, reader = _open_both(login, reading)
    _send(client, "Before the crash")
    reader.locator("#messages").get_by_text("Before the crash").wait_for()

    daphne_server.proc.send_signal(signal.SIGKILL)
    daphne_server.proc.wait()
    for page in (client, reader):
        page.wait_for_selector("#conn-banner:not([hidden])")
    # Typed while the server is down: kept in the outbox, shown as sending.
    _send(client, "Sent into the void")
    client.locator("#messages li.msg--pending", has_text="Sent into the void").wait_for()

    daphne_server.start()
    for page in (client, reader):
        page.wait_for_selector("#conn-banner", state="hidden", timeout=30_000)
    reader.locator("#messages").get_by_text("Sent into the void").wait_for(timeout=30_000)
    client.wait_for_function("() => !document.querySelector('#messages .msg--pending')")
    _send(reader, "Still here")
    client.locator("#messages").get_by_text("Still here").wait_for()

    expected = ["Before the crash", "Sent into the void", "Still here"]
    assert _texts(client) == expected
    assert _texts(reader) == expected
