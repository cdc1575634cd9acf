"""Sign-up, My privacy and the applicant's view in a real browser through Daphne."""

import json
import zipfile

import pytest
from playwright.sync_api import expect

from approvals.models import ReaderApplication
from chat.services import session_open
from samia_chat.models import Consent, Role, User
from tests.browser.conftest import PASSWORD, ROOT, person

pytestmark = pytest.mark.browser
IMG = ROOT / "docs" / "img"


def test_a_reader_signs_up_as_an_applicant_and_hears_the_approval_live(
    browser, daphne_server, login
):
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(daphne_server.url + "/signup/")

    page.get_by_label("a reader, applying to give readings").check()
    page.fill("#id_username", "amal")
    page.fill("#id_display_name", "Amal")
    page.fill("#id_email", "amal@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_about", "Fifteen years of Lenormand and tarot readings.")
    page.check("#id_accept_terms")
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / "signup.png"), full_page=True)
    page.click("button[type=submit]")

    page.wait_for_url(daphne_server.url + "/")
    switch = page.locator("#on-call")
    expect(switch).to_be_disabled()
    expect(page.locator("#on-call-hint")).to_contain_text("awaiting approval")
    page.screenshot(path=str(IMG / "applicant-waiting.png"))
    amal = User.objects.get(username="amal")
    assert amal.role == Role.READER
    assert ReaderApplication.objects.get(user=amal).status == "pending"
    consents = dict(Consent.objects.filter(user=amal).values_list("kind", "granted"))
    assert consents == {"terms": True, "voice": False}  # the voice box was left unticked

    person("adam", "Adam", Role.ADMIN)
    _, console = login("adam", PASSWORD, width=1280, height=800)
    console.goto(daphne_server.url + "/admin/approvals/readerapplication/")
    console.locator("#result_list tbody tr").first.locator("input.action-select").check()
    console.select_option("select[name=action]", "approve_selected")
    console.click("button[name=index]")
    expect(console.locator(".messagelist")).to_contain_text("1")

    expect(switch).to_be_enabled()  # without a reload
    expect(page.locator("#on-call-hint")).to_contain_text("approved")
    context.close()


def test_withdrawing_voice_consent_turns_the_recorder_off_and_data_downloads(login, daphne_server):
    admin = person("adam", "Adam", Role.ADMIN)
    session = session_open(
        opened_by=admin,
        client=person("layla", "Layla", Role.CLIENT),
        reader=person("noor", "Noor", Role.READER),
        booking_ref="BK-4001",
        service_name="Three-card reading",
    )
    _, page = login("layla", PASSWORD)

    page.click("text=My privacy")
    page.click("text=Withdraw voice consent")
    expect(page.locator("#voice-consent-state")).to_contain_text("Withdrawn on")
    page.screenshot(path=str(IMG / "my-privacy.png"), full_page=True)
    page.goto(f"{daphne_server.url}/s/{session.pk}/")
    page.click("#mic-btn")
    expect(page.locator("#media-note")).to_contain_text("withdrew your consent")
    expect(page.locator("#recorder")).to_be_hidden()

    page.goto(daphne_server.url + "/privacy/")
    page.click("text=Prepare my data")
    expect(page.locator(".notice")).to_contain_text("ready to download")
    with page.expect_download() as download:
        page.click(".exports a")
    archive = zipfile.ZipFile(download.value.path())
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["username"] == "layla"
    assert [s["booking_ref"] for s in data["sessions"]] == ["BK-4001"]
