"""Emergency readings and safety alerts between real browsers, through Daphne.

Readers on call are rung by a siren and the first to accept gets the client; a request no
reader answers is escalated by the worker (a separate process, as in production) to staff,
who take it themselves; a safety alert raised in a thread reaches a monitor live.
"""

import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from chat.models import EmergencyRequest, SafetyAlert
from chat.services import session_open
from samia_chat.models import Role
from tests.browser.conftest import PASSWORD, ROOT, SCREENSHOTS, person, save_side_by_side
from tests.processes import child_process_env

pytestmark = pytest.mark.browser
SESSION_URL = re.compile(r"/s/\d+/$")
# Headless Chromium lets any page play sound (and Playwright's own calls count as gestures).
# This stand-in for AudioContext keeps the rule real browsers apply: audio stays suspended
# until the person has tapped or typed on the page.
AUTOPLAY_RULE = """
(() => {
    let touched = false;
    for (const type of ["pointerdown", "keydown"]) {
        window.addEventListener(type, (e) => { if (e.isTrusted) touched = true; }, true);
    }
    const Real = window.AudioContext;
    window.AudioContext = class extends Real {
        constructor() {
            super();
            this.held = !touched;
            if (this.held) super.suspend();
        }
        get state() { return this.held ? "suspended" : super.state; }
        resume() {
            if (touched) this.held = false;
            if (this.held) return Promise.resolve();
            return super.resume().then(() => this.onstatechange && this.onstatechange());
        }
    };
})();
"""


def _ready(page) -> None:
    page.wait_for_selector("body[data-realtime=open]")


def _go_on_call(page) -> None:
    switch = page.get_by_role("switch", name="On call")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")


def _ask_for_emergency(page, reason: str = "") -> None:
    page.get_by_role("button", name="Emergency reading").click()
    dialog = page.get_by_role("dialog", name="Emergency reading")
    if reason:
        dialog.get_by_label("What's happening?").fill(reason)
        expect(dialog.locator("#em-reason-count")).to_have_text(f"{len(reason)} / 500")
    dialog.get_by_role("button", name="Ring readers now").click()


def _send(page, text: str) -> None:
    page.fill("#composer-input", text)
    page.keyboard.press("Enter")


def _still(page) -> None:
    """No hover or focus ring in a picture."""
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)


def test_two_on_call_readers_are_rung_and_the_first_to_accept_gets_the_client(
    browser, daphne_server, login
):
    person("layla", "Layla Haddad", Role.CLIENT)
    person("noor", "Noor", Role.READER)
    person("rami", "Rami", Role.READER)
    _, noor = login("noor", PASSWORD)
    _, rami = login("rami", PASSWORD, width=1024)
    _, layla = login("layla", PASSWORD)
    for page in (noor, rami, layla):
        _ready(page)
    for page in (noor, rami):
        _go_on_call(page)

    reason = "I keep drawing the Tower and I can't sleep. Please, someone."
    _ask_for_emergency(layla, reason)
    waiting = layla.get_by_role("dialog", name="Ringing 2 readers…")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text(reason)

    for page in (noor, rami):
        siren = page.get_by_role("alertdialog", name="Emergency reading")
        expect(siren).to_be_visible()
        expect(siren.locator(".siren-who")).to_have_text("Layla needs a reader now")
        expect(siren).to_contain_text(reason)
        expect(siren.locator(".siren-timer-value")).to_have_text(re.compile(r"0:[0-3]\d"))
    # Noor tapped "On call" on this page, which lets the browser play the alarm.
    noor.wait_for_selector("body[data-alarm=siren]")

    for page in (noor, layla):
        _still(page)
    layla.wait_for_timeout(1200)  # the ripples are mid-way, for the picture
    layla.screenshot(path=str(SCREENSHOTS / "emergency-waiting.png"))
    save_side_by_side(browser, [noor, rami], SCREENSHOTS / "emergency-siren.png")

    noor.get_by_role("button", name="Accept the emergency reading with Layla").click()
    noor.wait_for_url(SESSION_URL)
    request = EmergencyRequest.objects.select_related("accepted_by").get()
    assert request.status == EmergencyRequest.Status.ACCEPTED
    assert request.accepted_by.username == "noor"
    assert request.response_ms is not None
    session_url = f"{daphne_server.url}/s/{request.session_id}/"
    assert noor.url == session_url

    # Rami's siren says why it closes, then goes.
    expect(rami.locator("#em-siren .siren-note")).to_have_text("Taken by another reader")
    expect(rami.locator("#em-siren")).to_be_hidden()
    assert not rami.evaluate("() => document.body.dataset.alarm")
    expect(rami.get_by_role("switch", name="On call")).to_have_attribute("aria-checked", "true")

    # The client is told who answered and taken into the new session.
    layla.wait_for_url(session_url)
    for page in (noor, layla):
        _ready(page)
        expect(page.locator("#peer-sub")).to_contain_text("Emergency reading")
    expect(layla.locator("#peer-name")).to_have_text("Noor")
    # Noor is in an emergency reading now: off call until it is over.
    expect(noor.locator("#on-call")).to_have_attribute("aria-checked", "false")
    assert not noor.evaluate("() => document.body.dataset.alarm")

    _send(layla, "Thank you for answering so fast.")
    noor.locator("#messages").get_by_text("Thank you for answering so fast.").wait_for()
    _send(noor, "I'm here, Layla. Tell me about the Tower.")
    layla.locator("#messages").get_by_text("I'm here, Layla. Tell me about the Tower.").wait_for()


def test_a_reader_who_declines_is_not_rung_again_and_a_client_can_cancel(
    browser, daphne_server, login
):
    person("layla", "Layla Haddad", Role.CLIENT)
    person("noor", "Noor", Role.READER)
    _, noor = login("noor", PASSWORD)
    _, layla = login("layla", PASSWORD)
    for page in (noor, layla):
        _ready(page)
    _go_on_call(noor)

    _ask_for_emergency(layla)
    expect(layla.get_by_role("dialog", name="Ringing 1 reader…")).to_be_visible()
    siren = noor.get_by_role("alertdialog")
    expect(siren).to_contain_text("No reason given.")
    noor.get_by_role("button", name="Decline the emergency reading with Layla").click()
    expect(noor.locator("#em-siren")).to_be_hidden()

    # A reload (or a reconnect) does not ring a declined request again...
    noor.context.add_init_script(AUTOPLAY_RULE)
    noor.reload()
    _ready(noor)
    expect(noor.get_by_role("switch", name="On call")).to_have_attribute("aria-checked", "true")
    noor.wait_for_timeout(500)
    expect(noor.locator("#em-siren")).to_be_hidden()

    # ...while the client, reloading, finds the waiting screen again, and can cancel.
    layla.reload()
    _ready(layla)
    expect(layla.locator("#em-wait-status")).to_have_text("Ringing 1 reader…")
    layla.get_by_role("button", name="Cancel request").click()
    expect(layla.locator("#em-wait-status")).to_have_text("Request cancelled.")
    expect(layla.locator("#em-waiting")).to_be_hidden()
    assert EmergencyRequest.objects.get().status == EmergencyRequest.Status.CANCELLED

    # Nothing is open now: the client may ask again, and the reader is rung.
    _ask_for_emergency(layla, "Sorry, I do need someone after all.")
    expect(noor.get_by_role("alertdialog")).to_contain_text("Sorry, I do need someone")
    # Nobody has touched Noor's reloaded page, so the browser holds the sound back: the
    # siren says so, and one tap turns the alarm on.
    turn_on = noor.get_by_role("button", name="Turn on the alarm sound")
    expect(turn_on).to_have_text("Turn on sound")
    assert noor.evaluate("() => document.body.dataset.alarm") is None
    turn_on.click()
    noor.wait_for_selector("body[data-alarm=siren]")
    expect(noor.get_by_role("button", name="Mute the alarm")).to_be_visible()
    layla.get_by_role("button", name="Cancel request").click()
    expect(noor.locator("#em-siren .siren-note")).to_have_text("The client cancelled")
    expect(noor.locator("#em-siren")).to_be_hidden()
    assert noor.evaluate("() => document.body.dataset.alarm") is None


@pytest.fixture
def fast_ladder(monkeypatch):
    """Escalate to staff after 2 s instead of 30 (the server reads it when it starts)."""
    monkeypatch.setenv("EMERGENCY_ESCALATE_STAFF_SECONDS", "2")
    monkeypatch.setenv("EMERGENCY_ESCALATE_SUPER_ADMINS_SECONDS", "300")


@pytest.fixture
def emergency_worker(daphne_server):
    """The escalation worker beside the server, with the server's settings and database.

    Without Redis the server applies the ladder itself (as `make run` does), so no
    separate worker is started there.
    """
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    log = open(ROOT / "var" / f"emergency-worker-{daphne_server.port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_emergency_worker"],
        cwd=ROOT,
        env=child_process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.mark.usefixtures("fast_ladder")
def test_a_monitor_sees_a_safety_alert_live_and_takes_an_escalated_request(
    browser, daphne_server, login, emergency_worker
):
    client = person("layla", "Layla Haddad", Role.CLIENT)
    reader = person("noor", "Noor", Role.READER)
    person("mona", "Mona", Role.MONITOR)
    reading = session_open(
        opened_by=person("adam", "Adam", Role.ADMIN),
        client=client,
        reader=reader,
        booking_ref="BK-3001",
        service_name="Celtic Cross reading",
    )
    _, mona = login("mona", PASSWORD, width=1100, height=800)
    _, layla = login("layla", PASSWORD)
    _ready(mona)
    expect(mona.locator("#em-list-empty")).to_be_visible()
    expect(mona.locator("#sa-list-empty")).to_be_visible()

    # A safety alert from inside the client's reading.
    layla.click(f".session-item[data-session-id='{reading.pk}'] a")
    _ready(layla)
    layla.get_by_role("button", name="Raise a safety alert").click()
    dialog = layla.get_by_role("dialog", name="Safety alert")
    dialog.get_by_label("What's wrong?").fill("The reader keeps asking for my bank details.")
    dialog.get_by_role("button", name="Send alert").click()
    expect(dialog.get_by_role("heading", name="Our team has been alerted.")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    alert = mona.locator("#sa-list .sa-item")
    expect(alert).to_contain_text("The reader keeps asking for my bank details.")
    expect(alert).to_contain_text("Raised by Layla Haddad (client)")
    expect(alert.get_by_role("link")).to_have_attribute("href", f"/s/{reading.pk}/")
    expect(mona.get_by_role("alert").filter(has_text="Safety alert in")).to_be_visible()
    expect(mona.locator("#sa-count")).to_have_text("1")

    # An emergency no reader is on call for: the worker escalates it to staff after 2 s.
    layla.click(".back")
    _ready(layla)
    _ask_for_emergency(layla, "Something frightening happened tonight.")
    expect(layla.locator("#em-wait-status")).to_have_text("Looking for a reader…")
    request = EmergencyRequest.objects.get()
    assert (request.next_step_at - request.created_at).total_seconds() == 2

    siren = mona.get_by_role("alertdialog", name="No reader has answered")
    expect(siren).to_be_visible(timeout=20_000)
    expect(siren).to_contain_text("Layla is still waiting")
    expect(siren).to_contain_text("Something frightening happened tonight.")
    expect(layla.locator("#em-wait-status")).to_have_text("Escalated to our team…", timeout=20_000)
    siren.get_by_role("button", name="Not now").click()
    expect(mona.locator("#em-siren")).to_be_hidden()

    item = mona.locator("#em-list .em-item")
    expect(item).to_have_class(re.compile(r"\bis-escalated\b"))
    expect(item).to_contain_text("Escalated")
    expect(item).to_contain_text("0 readers rung")
    expect(item.locator("select option")).to_contain_text(["Assign to…", "Noor"])
    mona.locator(".em-toast-close").evaluate_all("buttons => buttons.forEach(b => b.click())")
    _still(mona)
    mona.screenshot(path=str(SCREENSHOTS / "emergency-staff.png"))

    alert.get_by_role("button", name=re.compile(r"^Acknowledge")).click()
    expect(alert).to_contain_text("acknowledged by you")
    expect(alert.get_by_role("button", name=re.compile(r"^Acknowledge"))).to_be_hidden()
    assert SafetyAlert.objects.get().status == SafetyAlert.Status.ACKNOWLEDGED

    item.get_by_role("button", name=re.compile(r"^Take it myself")).click()
    mona.wait_for_url(SESSION_URL)
    request.refresh_from_db()
    assert request.status == EmergencyRequest.Status.ACCEPTED
    assert request.accepted_by.username == "mona"
    session_url = f"{daphne_server.url}/s/{request.session_id}/"
    layla.wait_for_url(session_url)
    for page in (mona, layla):
        _ready(page)
    _send(mona, "I'm Mona from SAMIA. I'm here with you, Layla.")
    layla.locator("#messages").get_by_text("I'm Mona from SAMIA.").wait_for()
    _send(layla, "Thank you, Mona.")
    mona.locator("#messages").get_by_text("Thank you, Mona.").wait_for()
    # The alert is still open in the panel, for whoever resolves it.
    expect(mona.locator("#sa-list .sa-item")).to_contain_text("acknowledged by you")
