"""Voice notes, photos and files between two real browsers, through Daphne.

Chromium's fake microphone (fed a generated speech-like WAV) gives MediaRecorder real
Opus audio, so the whole path runs: record → upload → server decode → live push → play
with Range.
"""

import re
import wave

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from approvals.models import MessageReview
from chat.services import session_open
from samia_chat.models import Role
from tests.browser.conftest import CHROMIUM_ARGS, PASSWORD, SCREENSHOTS, person, save_side_by_side

pytestmark = pytest.mark.browser
FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def reading():
    admin = person("adam", "Adam", Role.ADMIN)
    return session_open(
        opened_by=admin,
        client=person("layla", "Layla", Role.CLIENT),
        reader=person("noor", "Noor", Role.READER),
        booking_ref="BK-2001",
        service_name="Three-card reading",
    )


def _speech_like_wav(path, seconds: float = 4.0, rate: int = 48_000) -> None:
    """Syllables of a voiced tone with harmonics, so a recording has a waveform worth
    looking at (Chromium's default fake microphone only beeps once a second)."""
    rng = np.random.default_rng(7)
    signal = np.zeros(int(seconds * rate))
    at = int(0.05 * rate)
    while at < signal.size:
        length = int(rng.uniform(0.12, 0.3) * rate)
        t = np.arange(length) / rate
        f0 = rng.uniform(140, 220) * (1 + 0.08 * np.sin(2 * np.pi * 3 * t))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(w * np.sin(k * phase) for k, w in enumerate((1, 0.5, 0.3, 0.2), start=1))
        loudness = rng.uniform(0.25, 0.6)
        chunk = loudness * np.hanning(length) * voiced / 2
        end = min(signal.size, at + length)
        signal[at:end] = chunk[: end - at]
        at = end + int(rng.choice([0.04, 0.08, 0.35]) * rate)  # a word gap now and then
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def media_browser(browser, tmp_path_factory):
    """Chromium with a fake microphone that needs no permission prompt.

    Launched through the shared browser's Playwright: one thread can run only one.
    """
    voice = tmp_path_factory.mktemp("voice") / "speech.wav"
    _speech_like_wav(voice)
    instance = browser.browser_type.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[*CHROMIUM_ARGS, *FAKE_MEDIA_ARGS, f"--use-file-for-fake-audio-capture={voice}"],
    )
    yield instance
    instance.close()


@pytest.fixture
def open_thread(media_browser, daphne_server, reading):
    """A signed-in page on the reading's thread, with the microphone allowed."""
    contexts = []

    def _open(username: str, *, width: int = 390, height: int = 760, init_script: str = ""):
        context = media_browser.new_context(
            viewport={"width": width, "height": height}, permissions=["microphone"]
        )
        contexts.append(context)
        page = context.new_page()
        if init_script:
            page.add_init_script(init_script)
        page.goto(daphne_server.url + "/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(daphne_server.url + "/")
        page.click(f".session-item[data-session-id='{reading.pk}'] a")
        page.wait_for_selector("body[data-realtime=open]")
        return page

    yield _open
    for context in contexts:
        context.close()


def _last_message(page, session_id: int) -> dict:
    return page.evaluate(
        """async (id) => {
            const res = await fetch(`/api/sessions/${id}/messages?limit=1`);
            return (await res.json()).messages.pop();
        }""",
        session_id,
    )


def _night_sky_png(path, width=640, height=420) -> None:
    """A photo-like test image: a violet gradient with a moon and a few stars."""
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(40 + 60 * t), int(25 + 30 * t), int(90 + 70 * t)))
    draw.ellipse((430, 60, 540, 170), fill=(245, 196, 81))
    draw.ellipse((460, 45, 570, 155), fill=(52, 34, 112))
    for x, y in [(80, 60), (200, 120), (320, 40), (150, 250), (560, 300), (380, 220), (60, 340)]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(255, 255, 255))
    draw.polygon(
        [(0, 420), (180, 300), (330, 380), (470, 290), (640, 400), (640, 420)], fill=(24, 16, 58)
    )
    img.save(path, "PNG")


def test_reader_voice_note_and_client_photo_arrive_live_and_play(
    media_browser, open_thread, login, reading, tmp_path
):
    client = open_thread("layla")
    reader = open_thread("noor", width=1024)
    client.fill("#composer-input", "I drew the Moon again. What does it mean for me?")
    client.keyboard.press("Enter")
    reader.locator("#messages").get_by_text("I drew the Moon again.").wait_for()
    reader.wait_for_selector("#typing:empty")

    reader.click("#mic-btn")
    reader.wait_for_selector("#recorder:not([hidden])")
    assert reader.locator("#composer-input").is_hidden()
    # The fake microphone speaks: the meter must move, and the timer must run.
    reader.wait_for_function(
        "() => [...document.querySelectorAll('#rec-meter span')]"
        ".some(b => parseFloat(b.style.getPropertyValue('--level')) > 0.3)"
    )
    # The screenshot takes a while; it is taken at 0:01 so the note still ends near 2 s.
    timer_reads = "t => document.getElementById('rec-time').textContent === t"
    reader.wait_for_function(timer_reads, arg="0:01")
    reader.locator("#thread").screenshot(path=str(SCREENSHOTS / "voice-recorder.png"))
    reader.wait_for_function(timer_reads, arg="0:02")
    reader.click("#rec-pause")
    reader.wait_for_selector("#recorder[data-state=paused]")
    reader.get_by_role("button", name="Resume recording").click()
    reader.wait_for_selector("#recorder[data-state=recording]")
    reader.click("#rec-stop")

    preview = reader.locator("#rec-preview")
    preview.wait_for()
    assert preview.locator("audio").get_attribute("src").startswith("blob:")
    reader.click("#rec-send")
    reader.wait_for_selector("#rec-preview", state="hidden")
    reader.locator("#messages li.msg--mine.msg--voice").wait_for()
    assert reader.locator("#composer-input").is_visible()

    # A reader's note reaches the client once a reviewer releases it (see test_approvals).
    _, reviewer = login("adam", PASSWORD)
    approved = reviewer.evaluate(
        """async (id) => (await fetch(`/api/approvals/voice-notes/${id}/approve`, {
            method: "POST",
            headers: {"X-CSRFToken": document.cookie.match(/csrftoken=([^;]+)/)[1]},
        })).status""",
        MessageReview.objects.get(message__session=reading).pk,
    )
    assert approved == 200
    note = client.locator("#messages li.msg--theirs.msg--voice")
    note.locator(".vp").wait_for()
    sent = _last_message(client, reading.pk)
    assert sent["kind"] == "voice"
    assert 1500 <= sent["attachment"]["duration_ms"] <= 3000
    assert len(sent["attachment"]["waveform"]) == 64
    total = sent["attachment"]["duration_ms"] / 1000
    assert re.fullmatch(r"0:00 / 0:0[123]", note.locator(".vp-time").inner_text())
    expect(client.locator(".session-item .session-preview").first).to_have_text(
        re.compile(r"🎤 Voice note \(0:0[123]\)")
    )

    audio = note.locator("audio")
    audio.evaluate(
        "a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))"
    )
    assert abs(audio.evaluate("a => a.duration") - total) < 0.5
    assert 1.5 <= audio.evaluate("a => a.duration") <= 3.0

    note.get_by_role("button", name="Play voice note").click()
    client.wait_for_function("a => a.currentTime > 0.6", arg=audio.element_handle(), timeout=10_000)
    note.get_by_role("button", name="Pause voice note").click()
    expect(note.locator(".vp")).to_have_attribute("data-state", "paused")
    played = note.locator(".vp-bar.is-played").count()
    assert 0 < played < note.locator(".vp-bar").count()

    # Speed cycles 1x → 1.5x → 2x → 1x.
    speed = note.locator(".vp-speed")
    for rate in (1.5, 2, 1):
        speed.click()
        assert speed.inner_text() == f"{rate}\N{MULTIPLICATION SIGN}"
        assert audio.evaluate("a => a.playbackRate") == rate
    # The waveform is a slider: the keyboard seeks, a click seeks to the place clicked.
    wave = note.locator(".vp-wave")
    wave.focus()
    client.keyboard.press("Home")
    assert audio.evaluate("a => a.currentTime") == 0
    box = wave.bounding_box()
    client.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    assert abs(audio.evaluate("a => a.currentTime") - total * 0.75) < 0.3
    client.keyboard.press("Home")

    # A reply quotes the note by what it is (its body is empty).
    note.locator(".bubble").focus()
    note.get_by_role("button", name="Reply").click()
    client.fill("#composer-input", "Thank you, that helps!")
    client.keyboard.press("Enter")
    quoted = reader.locator("#messages li.msg--theirs", has_text="Thank you, that helps!")
    expect(quoted.locator(".quote")).to_contain_text("🎤 Voice note (0:0")

    # The client sends a photo back; the reader sees it inline.
    photo = tmp_path / "spread.png"
    _night_sky_png(photo)
    client.set_input_files("#file-input", str(photo))
    client.locator("#messages li.msg--mine.msg--image").wait_for()
    client.wait_for_selector("#upload-tray .upload-item", state="detached")
    image = reader.locator("#messages li.msg--theirs.msg--image img")
    image.wait_for()
    reader.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 640
    expect(client.locator(".session-item .session-preview").first).to_have_text("You: 🖼 Photo")

    # Tap → full size in a lightbox; Escape closes it.
    image.click()
    reader.wait_for_selector("dialog.lightbox[open]")
    reader.keyboard.press("Escape")
    reader.wait_for_selector("dialog.lightbox", state="hidden")

    # The reader plays part of the note, for the picture.
    mine = reader.locator("#messages li.msg--mine.msg--voice")
    mine.get_by_role("button", name="Play voice note").click()
    reader.wait_for_function(
        "a => a.currentTime > 1.0", arg=mine.locator("audio").element_handle(), timeout=10_000
    )
    mine.get_by_role("button", name="Pause voice note").click()
    expect(mine.locator(".vp")).to_have_attribute("data-state", "paused")
    reader.wait_for_selector("#typing:empty")
    for page in (client, reader):
        page.mouse.move(0, 0)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.wait_for_timeout(300)  # the hover actions fade out
    save_side_by_side(media_browser, [client, reader], SCREENSHOTS / "voice-note-player.png")


def test_a_refused_file_shows_why_and_sends_nothing(open_thread, reading, tmp_path):
    client = open_thread("layla")
    reader = open_thread("noor", width=1024)

    fake = tmp_path / "reading.png"
    fake.write_text("<!doctype html><html><script>alert('hi')</script></html>")
    client.set_input_files("#file-input", str(fake))

    refused = client.locator("#upload-tray .upload-item[data-state=error]")
    refused.wait_for()
    assert refused.get_attribute("data-error-code") == "UNSUPPORTED_TYPE"
    assert refused.locator(".upload-status").inner_text().strip()
    assert refused.locator(".upload-retry").is_hidden()  # retrying cannot help

    # Nothing was sent: the next text is the only message either side sees.
    client.fill("#composer-input", "Sorry, wrong file")
    client.keyboard.press("Enter")
    reader.locator("#messages").get_by_text("Sorry, wrong file").wait_for()
    for page in (client, reader):
        assert page.locator("#messages li.msg--media").count() == 0

    refused.get_by_role("button", name="Remove reading.png").click()
    assert client.locator("#upload-tray .upload-item").count() == 0

    # A real document, dropped onto the conversation, goes through as a file card.
    dropped = client.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            const text = "The Moon, the Star, the Sun.\\n".repeat(40);
            data.items.add(new File([text], "my cards.txt", {type: "text/plain"}));
            return data;
        }"""
    )
    client.dispatch_event("#messages-wrap", "dragenter", {"dataTransfer": dropped})
    expect(client.locator(".drop-zone")).to_be_visible()
    client.dispatch_event("#messages-wrap", "drop", {"dataTransfer": dropped})
    expect(client.locator(".drop-zone")).to_be_hidden()
    card = reader.locator("#messages li.msg--theirs.msg--file .att-file")
    card.wait_for()
    assert card.locator(".att-file-name").inner_text() == "my cards.txt"
    assert card.locator(".att-file-size").inner_text() == "1 KB"
    href = card.locator("a.att-file-download").get_attribute("href")
    status = reader.evaluate("async (url) => (await fetch(url)).status", href)
    assert status == 200


def test_a_blocked_microphone_is_explained_inline(open_thread):
    blocked = """
        navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    """
    client = open_thread("layla", init_script=blocked)

    client.click("#mic-btn")
    note = client.locator("#media-note")
    note.wait_for()
    assert "Microphone access is blocked" in note.inner_text()
    assert client.locator("#recorder").is_hidden()
    assert client.locator("#composer-input").is_visible()
