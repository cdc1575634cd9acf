"""Uploading an honest file under a hostile name: the name may change, the upload may be
refused with a clear 4xx, but the name never reaches the file system, and the name
offered back in Content-Disposition is safe for any browser and any operating system.

The multipart body is written by hand: Django's test client would keep only the basename
of the name and could not send the exact bytes a hostile client sends.
"""

import os
import re
import time
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from django.conf import settings
from django.test import Client

from chat.files import display_name
from chat.models import Attachment
from samia_chat.tokens import token_pair_issue
from tests.samples import files as samples

PROJECT = Path(settings.BASE_DIR)
NAME_MAX_CHARS = 120  # chat.files.display_name: "at most 120 characters"
EXTENSION = {"png": ".png", "pdf": ".pdf", "text": ".txt"}
# What a name offered for download must not contain: path separators, and control,
# format (bidi overrides, zero-width joiners) or line/paragraph separator characters.
UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
WINDOWS_DEVICES = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")

# U2 (fixed): a multipart part whose headers pass Django's 1024-byte limit (a file name of
# 1,000 characters) raised MultiPartParserError, answered 500: now 400 INVALID_UPLOAD.

HOSTILE_NAMES = [
    # path traversal
    pytest.param("../../etc/passwd", "text", id="dot-dot-slash"),
    pytest.param("..\\..\\win.ini", "text", id="dot-dot-backslash"),
    pytest.param("/etc/passwd", "text", id="absolute"),
    pytest.param("..%2F..%2Fescaped.png", "png", id="percent-encoded-slash"),
    pytest.param("..&#47;..&#47;entity.png", "png", id="html-entity-slash"),
    pytest.param("C:\\Windows\\System32\\evil.png", "png", id="windows-absolute"),
    # overlong
    pytest.param("a" * 400, "png", id="400-chars-no-extension"),
    pytest.param("b" * 396 + ".png", "png", id="400-chars-with-extension"),
    pytest.param("é" * 150 + ".pdf", "pdf", id="150-non-ascii-chars"),
    pytest.param("a" * 1000, "png", id="1000-chars-no-extension"),
    pytest.param("b" * 996 + ".png", "png", id="1000-chars-with-extension"),
    pytest.param("é" * 1000 + ".pdf", "pdf", id="1000-non-ascii-chars"),
    # unicode and control characters
    pytest.param("invoice\u202egpj.exe", "png", id="rlo-bidi-override"),
    pytest.param("photo\u2066\u2067.png\u2069", "png", id="bidi-isolates"),
    pytest.param("evil\x00.png", "png", id="nul"),
    pytest.param("line\nbreak.png", "png", id="newline"),
    pytest.param("header\r\nX-Injected: 1.png", "png", id="crlf"),
    pytest.param("tab\there.png", "png", id="tab"),
    pytest.param("ze\u200dro\u200bwi\u200cdth\ufeff.png", "png", id="zero-width"),
    pytest.param("esc\x1b[31mred\x9b.png", "png", id="terminal-escapes"),
    pytest.param("para\u2028graph\u2029.png", "png", id="line-separators"),
    pytest.param("تاروت الحب.pdf", "pdf", id="arabic"),
    pytest.param('quote"; filename="evil.html', "png", id="quote-breakout"),
    pytest.param("semi;colon,comma'apos.png", "png", id="header-delimiters"),
    # nothing but dots or spaces
    pytest.param(".", "png", id="dot"),
    pytest.param("..", "png", id="dot-dot"),
    pytest.param("....", "png", id="dots"),
    pytest.param("     ", "png", id="spaces"),
    pytest.param(". . .", "png", id="dots-and-spaces"),
    pytest.param(".htaccess", "text", id="hidden-file"),
    # Windows devices and reserved characters
    pytest.param("CON.txt", "text", id="windows-device"),
    pytest.param('a<b>c:d"e|f?g*h.png', "png", id="windows-reserved-chars"),
]
# How the name travels: verbatim inside filename="..." (no escaping at all, as a hostile
# client may send it), or percent-encoded in RFC 2231's filename*= (exact characters,
# NUL and line breaks included, reach the server's parser).
WIRE_FORMS = ("verbatim", "rfc2231")


@pytest.fixture
def sample(tmp_path):
    """`sample(kind)`: an honest small file, stored under a harmless name."""
    made = {
        "png": lambda: samples.image_file(tmp_path, "PNG", (40, 30), name="sample.png"),
        "pdf": lambda: samples.pdf_file(tmp_path, name="sample.pdf"),
        "text": lambda: samples.text_file(tmp_path, "The Star: hope.\n", name="sample.txt"),
    }
    return lambda kind: made[kind]()


def _multipart(name: str, content: bytes, wire: str, client_msg_id: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    if wire == "verbatim":
        disposition = b'form-data; name="file"; filename="' + name.encode() + b'"'
    else:
        disposition = b"form-data; name=\"file\"; filename*=UTF-8''" + quote(name).encode()
    body = b"".join(
        [
            b"--%s\r\n" % boundary.encode(),
            b'Content-Disposition: form-data; name="client_msg_id"\r\n\r\n',
            client_msg_id.encode() + b"\r\n",
            b"--%s\r\n" % boundary.encode(),
            b"Content-Disposition: " + disposition + b"\r\n",
            b"Content-Type: application/octet-stream\r\n\r\n",
            content + b"\r\n",
            b"--%s--\r\n" % boundary.encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _upload(user, session, name: str, path: Path, wire: str):
    body, content_type = _multipart(name, path.read_bytes(), wire, uuid.uuid4().hex)
    token = token_pair_issue(user=user)["access"]
    http = Client(headers={"Authorization": f"Bearer {token}"})
    return http.post(f"/api/sessions/{session.pk}/files", body, content_type=content_type)


# One quoted ASCII `filename` (RFC 9110 quoted-string), or one RFC 5987 `filename*` in
# UTF-8 (attr-chars and percent escapes only); nothing before or after it.
QUOTED_FILENAME = re.compile(r'(?:attachment|inline); filename="((?:[^"\\\x00-\x1f\x7f]|\\.)*)"')
EXTENDED_FILENAME = re.compile(
    r"(?:attachment|inline); filename\*=utf-8''([\w!#$&+.^`|~%-]+)", re.ASCII
)


def _offered_name(disposition: str) -> str:
    """The file name a Content-Disposition value offers, parsed strictly."""
    assert not set(disposition) & {"\r", "\n", "\x00"}, disposition
    if quoted := QUOTED_FILENAME.fullmatch(disposition):
        return re.sub(r"\\(.)", r"\1", quoted[1])
    extended = EXTENDED_FILENAME.fullmatch(disposition)
    assert extended, f"not a safe Content-Disposition: {disposition!r}"
    return unquote(extended[1], errors="strict")


def _files_named_like(name: str, since_ns: int, skip: Path) -> list[Path]:
    """Files changed since `since_ns` under /tmp or the project whose name is the hostile
    name, or its last path segment (outside `skip`, the test's own file store)."""
    leaves = {name, *re.split(r"[\\/]", name)} - {"", ".", ".."}
    wanted = {leaf.casefold() for leaf in leaves} | {leaf.strip().casefold() for leaf in leaves}
    found = []
    for root in (Path("/tmp"), PROJECT):
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in {".venv", ".git", "node_modules"}]
            if Path(folder).is_relative_to(skip):
                continue
            for file in files:
                path = Path(folder) / file
                if file.casefold() in wanted and _changed_since(path, since_ns):
                    found.append(path)
    return found


def _identity(path: Path) -> tuple:
    """What a write would change (not the access time, which any reader moves)."""
    status = path.stat()
    return (status.st_ino, status.st_size, status.st_mtime_ns)


def _changed_since(path: Path, since_ns: int) -> bool:
    try:
        return path.lstat().st_mtime_ns >= since_ns
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("wire", WIRE_FORMS)
@pytest.mark.parametrize(("name", "kind"), HOSTILE_NAMES)
def test_a_hostile_name_is_made_safe_or_refused(
    api, code_of, reading, client_user, sample, file_store, name, kind, wire
):
    passwd_before = _identity(Path("/etc/passwd"))
    # A second early: file times can lag the clock by a tick.
    started_ns = time.time_ns() - 1_000_000_000
    honest = sample(kind)

    response = _upload(client_user, reading, name, honest, wire)

    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        # A refusal says why, in the one error shape, and stores nothing.
        assert code_of(response)
        assert not Attachment.objects.exists()
    else:
        assert response.status_code == 201, response.content
        offered = response.json()["attachment"]["name"]
        assert not set(offered) & {"/", "\\"}, offered
        assert not [c for c in offered if unicodedata.category(c) in UNSAFE_CATEGORIES], offered
        assert len(offered) <= NAME_MAX_CHARS, len(offered)
        assert not set(offered) & set('<>:"|?*'), offered  # refused by Windows
        assert offered.endswith(EXTENSION[kind]), offered
        assert offered[: -len(EXTENSION[kind])].strip(". "), offered  # a stem is left
        assert not offered.startswith("."), offered  # hidden on Unix

        download, body = api(client_user).download(response.json()["attachment"]["url"])
        assert download.status_code == 200
        assert kind == "png" or body == honest.read_bytes()  # images are re-encoded
        disposition = download["Content-Disposition"]
        assert _offered_name(disposition) == offered
        if not offered.isascii():
            assert "filename*=utf-8''" in disposition  # RFC 5987 for non-ASCII

    # Nothing reached the file system but sealed objects under the test's store.
    for attachment in Attachment.objects.all():
        stored = (file_store / attachment.storage_key).resolve()
        assert stored.is_relative_to(file_store.resolve()), attachment.storage_key
        assert stored.is_file()
        assert re.fullmatch(rf"{reading.pk}/[A-Za-z0-9_-]+", attachment.storage_key)
    assert _files_named_like(name, started_ns, skip=file_store) == []
    assert _identity(Path("/etc/passwd")) == passwd_before


def test_the_scan_would_see_a_file_written_under_the_hostile_name(tmp_path, file_store):
    started_ns = time.time_ns() - 1_000_000_000
    (tmp_path / "passwd").write_text("leaked")

    assert _files_named_like("../../etc/passwd", started_ns, skip=file_store) == [
        tmp_path / "passwd"
    ]


def test_the_name_rule_is_the_one_documented():
    """The limit asserted above is display_name's own."""
    assert len(display_name("x" * 1000, ".png")) == NAME_MAX_CHARS
    assert display_name("", ".pdf") == "file.pdf"


@pytest.mark.parametrize("name", ["CON.txt", "nul.txt", "Com1.txt", "LPT9.txt", "aux"])
def test_a_windows_device_name_is_not_offered(api, reading, client_user, sample, name):
    response = _upload(client_user, reading, name, sample("text"), "verbatim")

    assert response.status_code == 201, response.content
    offered = response.json()["attachment"]["name"]
    assert not WINDOWS_DEVICES.match(offered), offered
