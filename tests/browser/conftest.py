"""A real Daphne process serving the test database, and Debian's Chromium through Playwright."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from samia_chat.models import User
from tests.factories import consents_give
from tests.processes import child_process_env

# Playwright's sync API keeps an event loop running in this thread; the test's own ORM
# calls (fixtures creating people) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


PASSWORD = "a-long-test-password-42"


def person(username: str, display_name: str, role: str) -> User:
    """A user who signs in with PASSWORD through the real login page."""
    user = User(username=username, display_name=display_name, role=role)
    user.set_password(PASSWORD)
    user.save()
    consents_give(user)
    return user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / "var" / f"browser-server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "samia_chat.asgi:application",
            ],
            cwd=ROOT,
            env=child_process_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start; see " + self.log.name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def daphne_server(transactional_db):
    server = LiveServer()
    server.start()
    yield server
    server.stop()
    server.log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def login(browser, daphne_server):
    """Open a new browser context signed in as `username`; returns (context, page)."""
    contexts = []

    def _login(username: str, password: str, *, width: int = 390, height: int = 760):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.goto(daphne_server.url + "/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(daphne_server.url + "/")
        return context, page

    yield _login
    for context in contexts:
        context.close()


def save_side_by_side(browser, pages, path: Path) -> None:
    """One picture of several windows, for docs/: screenshot each, lay them out in a page."""
    import base64

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [base64.b64encode(p.screenshot()).decode() for p in pages]
    html = "".join(
        f'<img src="data:image/png;base64,{s}" style="margin:12px;border-radius:12px;'
        f'box-shadow:0 8px 30px rgba(0,0,0,.5);vertical-align:top">'
        for s in shots
    )
    widths = sum(p.viewport_size["width"] for p in pages) + 24 * len(pages)
    height = max(p.viewport_size["height"] for p in pages) + 24
    context = browser.new_context(viewport={"width": widths, "height": height})
    page = context.new_page()
    page.set_content(f'<body style="margin:0;background:#0b0920;white-space:nowrap">{html}</body>')
    page.screenshot(path=str(path))
    context.close()
