"""A reader's voice note held for review, in three real browsers through Daphne: the
client sees only its place, the reader hears it with a badge, an admin decides it in the
Django admin, and both chat pages follow the decision without a reload."""

import re

import pytest
from playwright.sync_api import expect

from chat.services import session_open
from samia_chat.models import Role
from tests.browser.conftest import PASSWORD, ROOT, person

# Chromium with a fake microphone speaking a generated voice, as test_media makes it.
from tests.browser.test_media import media_browser  # noqa: F401

pytestmark = pytest.mark.browser
IMG = ROOT / "docs" / "img"
QUEUE = "/admin/approvals/messagereview/"
REASON = "Please don't name other clients in a reading."


@pytest.fixture
def reading():
    admin = person("adam", "Adam", Role.ADMIN)
    return session_open(
        opened_by=admin,
        client=person("layla", "Layla", Role.CLIENT),
        reader=person("noor", "Noor", Role.READER),
        booking_ref="BK-3001",
        service_name="Three-card reading",
    )


@pytest.fixture
def sign_in(media_browser, daphne_server):  # noqa: F811
    """A signed-in page (microphone allowed); `thread` opens the reading's conversation."""
    contexts = []

    def _sign_in(username: str, *, width: int = 390, height: int = 760, thread=None):
        context = media_browser.new_context(
            viewport={"width": width, "height": height}, permissions=["microphone"]
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(daphne_server.url + "/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(daphne_server.url + "/")
        if thread is not None:
            page.click(f".session-item[data-session-id='{thread.pk}'] a")
        page.wait_for_selector("body[data-realtime=open]")
        return page

    yield _sign_in
    for context in contexts:
        context.close()


def _record_and_send(reader) -> None:
    """The reader records about two seconds with the composer's recorder and sends it."""
    reader.click("#mic-btn")
    reader.wait_for_selector("#recorder:not([hidden])")
    reader.wait_for_function("() => document.getElementById('rec-time').textContent === '0:02'")
    reader.click("#rec-stop")
    reader.locator("#rec-preview").wait_for()
    reader.click("#rec-send")
    reader.wait_for_selector("#rec-preview", state="hidden")


def _open_queue(staff_home):
    """From the staff chat page, follow the review counter to the admin queue (new tab)."""
    queue = staff_home.context.new_page()
    queue.set_viewport_size({"width": 1440, "height": 640})  # the queue is a wide table
    queue.goto(staff_home.locator("#review-counter").evaluate("a => a.href"))
    expect(queue).to_have_url(re.compile(re.escape(QUEUE)))
    return queue


def _run_action(queue, action: str) -> None:
    """Tick the one held note in the changelist and run an admin action on it."""
    rows = queue.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("input.action-select").check()
    queue.select_option("select[name=action]", action)
    queue.click("button[name=index], input[name=index]")


def _quiet(*pages) -> None:
    """No hover actions or focus rings in the screenshots."""
    for page in pages:
        page.mouse.move(0, 0)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.wait_for_timeout(250)


def _status_for(page, url: str) -> int:
    return page.evaluate("async (u) => (await fetch(u)).status", url)


def test_a_held_voice_note_reaches_the_client_only_once_approved(sign_in, reading):
    IMG.mkdir(parents=True, exist_ok=True)
    client = sign_in("layla", thread=reading)
    reader = sign_in("noor", width=1024, thread=reading)
    staff = sign_in("adam", width=1280, height=800)
    counter = staff.locator("#review-counter")
    expect(counter).to_have_text(re.compile(r"Voice notes to review:\s*0"))

    _record_and_send(reader)

    # The reader hears their own note, marked as waiting for review.
    mine = reader.locator("#messages li.msg--mine.msg--voice")
    expect(mine.locator(".held-badge")).to_have_text("Pending review")
    expect(mine.locator(".vp audio")).to_have_attribute("src", re.compile(r"/files/"))

    # The client sees its place, nothing to play, and no file address anywhere.
    held = client.locator("#messages li.msg--theirs.msg--voice")
    expect(held.locator(".held--placeholder")).to_contain_text("Voice note awaiting review")
    assert client.locator("#messages audio, #messages .vp").count() == 0
    assert "/files/" not in client.content()
    expect(client.locator(".session-item .session-preview").first).to_have_text(
        "🎤 Voice note awaiting review"
    )

    # Staff see the queue grow, live.
    expect(counter).to_have_text(re.compile(r"Voice notes to review:\s*1"))
    expect(counter).to_have_class(re.compile(r"\bhas-items\b"))

    _quiet(client, reader, staff)
    client.screenshot(path=str(IMG / "approval-client-placeholder.png"))
    reader.screenshot(path=str(IMG / "approval-reader-pending.png"))
    staff.screenshot(path=str(IMG / "approval-staff-counter.png"))

    queue = _open_queue(staff)
    expect(queue.locator("#result_list tbody")).to_contain_text(re.compile(r"noor.*layla", re.I))
    queue.screenshot(path=str(IMG / "approval-admin-queue.png"))
    _run_action(queue, "approve_selected")
    expect(queue.locator(".messagelist")).to_be_visible()

    # Released: the placeholder turns into the player on the client's page, no reload.
    player = held.locator(".vp")
    player.wait_for()
    expect(held.locator(".held--placeholder")).to_have_count(0)
    src = held.locator(".vp audio").get_attribute("src")
    assert "/files/" in src
    assert _status_for(client, src) == 200
    assert held.locator(".vp-bar").count() > 0
    expect(held.locator(".vp-time")).to_have_text(re.compile(r"0:00 / 0:0[123]"))
    # The reader's badge is gone; staff see the queue empty again.
    expect(mine.locator(".held-badge")).to_have_count(0)
    expect(mine.locator(".vp")).to_have_count(1)
    expect(counter).to_have_text(re.compile(r"Voice notes to review:\s*0"))

    _quiet(client)
    client.screenshot(path=str(IMG / "approval-client-released.png"))


def test_a_rejected_voice_note_tells_the_reader_why_and_stays_hidden_from_the_client(
    sign_in, reading
):
    client = sign_in("layla", thread=reading)
    reader = sign_in("noor", width=1024, thread=reading)
    staff = sign_in("adam", width=1280, height=800)

    _record_and_send(reader)
    mine = reader.locator("#messages li.msg--mine.msg--voice")
    expect(mine.locator(".held-badge")).to_have_text("Pending review")
    held = client.locator("#messages li.msg--theirs.msg--voice")
    expect(held).to_contain_text("Voice note awaiting review")
    expect(staff.locator("#review-counter")).to_have_text(re.compile(r"Voice notes to review:\s*1"))

    queue = _open_queue(staff)
    _run_action(queue, "reject_selected")
    # The intermediate page asks why; the reason is what the reader reads.
    queue.fill("textarea[name=reason]", REASON)
    queue.click("input[name=apply]")
    expect(queue.locator(".messagelist")).to_be_visible()

    # The reader learns the decision and the reason without a reload, and can record again.
    expect(mine.locator(".held-verdict")).to_have_text(f"Not approved: {REASON}")
    expect(mine).to_contain_text("You can record a new voice note.")
    expect(mine.locator(".held-badge")).to_have_count(0)
    expect(reader.locator("#mic-btn")).to_be_enabled()

    # The client keeps the note's place, marked not approved, and still no file.
    expect(held.locator(".held--placeholder")).to_have_text(re.compile("Voice note not approved"))
    assert client.locator("#messages audio, #messages .vp").count() == 0
    assert "/files/" not in client.content()
    assert REASON not in client.content()
    expect(staff.locator("#review-counter")).to_have_text(re.compile(r"Voice notes to review:\s*0"))
    _quiet(client, reader)
    reader.screenshot(path=str(IMG / "approval-reader-rejected.png"))
    client.screenshot(path=str(IMG / "approval-client-rejected.png"))


def test_a_note_released_while_the_client_was_offline_plays_once_they_are_back(sign_in, reading):
    client = sign_in("layla", thread=reading)
    reader = sign_in("noor", width=1024, thread=reading)
    staff = sign_in("adam", width=1280, height=800)
    _record_and_send(reader)
    held = client.locator("#messages li.msg--theirs.msg--voice")
    expect(held).to_contain_text("Voice note awaiting review")

    client.context.set_offline(True)
    client.wait_for_selector("#conn-banner:not([hidden])")
    _run_action(_open_queue(staff), "approve_selected")
    expect(reader.locator("#messages li.msg--mine .held-badge")).to_have_count(0)
    client.context.set_offline(False)

    # The release was pushed while the socket was down: the reconnect brings it back.
    client.wait_for_selector("#conn-banner", state="hidden")
    held.locator(".vp").wait_for()
    expect(held.locator(".held--placeholder")).to_have_count(0)
