"""The operators' file commands: key rotation and sweeping unreferenced files."""

import os
import secrets
import time
from io import StringIO

import pytest
from django.core.management import call_command

from chat.models import Attachment
from samia_chat.models import AccessEvent
from tests.samples import files as samples


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def three_files(api, reading, client_user, tmp_path):
    urls = []
    for n in range(3):
        text = samples.text_file(tmp_path, f"card {n}\n" * 50, name=f"n{n}.txt")
        sent = api(client_user).upload(
            f"/api/sessions/{reading.pk}/files", text, client_msg_id=f"f{n}"
        )
        urls.append((sent.json()["attachment"]["url"], f"card {n}\n" * 50))
    return urls


def test_rotation_rewraps_every_key_and_every_file_stays_readable(
    api, settings, client_user, three_files
):
    old_ids = set(Attachment.objects.values_list("key_id", flat=True))
    new_key = secrets.token_bytes(32)
    settings.FILE_MASTER_KEYS = {**settings.FILE_MASTER_KEYS, "k2": new_key}

    output = run("rotate_file_keys")

    assert "Re-wrapped 3 data keys under master key 'k2'" in output
    assert set(Attachment.objects.values_list("key_id", flat=True)) == {"k2"}
    assert old_ids != {"k2"}
    # The old master key can now be retired.
    settings.FILE_MASTER_KEYS = {"k2": new_key}
    for url, text in three_files:
        response, body = api(client_user).download(url)
        assert response.status_code == 200 and body == text.encode()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FILE_KEYS_ROTATED).exists()
    assert "Re-wrapped 0 data keys" in run("rotate_file_keys")


def _orphan(file_store, name: str, *, age_seconds: int) -> str:
    path = file_store / "999" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(64))
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return f"999/{name}"


def test_sweep_lists_old_unreferenced_files_and_removes_them_only_when_asked(
    three_files, file_store
):
    old = _orphan(file_store, "left-behind", age_seconds=2 * 3600)
    _orphan(file_store, "upload-in-flight", age_seconds=60)
    referenced = set(Attachment.objects.values_list("storage_key", flat=True))

    dry = run("sweep_files")

    assert old in dry and "upload-in-flight" not in dry
    assert "1 unreferenced files; run with --delete" in dry
    assert (file_store / old).exists()

    run("sweep_files", "--delete")

    assert not (file_store / old).exists()
    assert (file_store / "999" / "upload-in-flight").exists()
    assert all((file_store / key).exists() for key in referenced)
    assert AccessEvent.objects.get(action=AccessEvent.Action.FILES_SWEPT).detail == {"removed": 1}
