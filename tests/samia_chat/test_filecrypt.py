"""Encryption at rest: what lands in the store is sealed, reads back byte-exact, and
refuses to decrypt anything tampered with."""

import os
import secrets

import pytest

from samia_chat.filecrypt import (
    CHUNK_BYTES,
    FileCorrupt,
    current_key_id,
    data_key_rewrap,
    file_delete,
    file_read,
    file_storage,
)
from samia_chat.filecrypt import file_store as store_encrypted

MARKER = b"SAMIA-PLAINTEXT-MARKER"


def _key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def source(tmp_path):
    """Plaintext of two and a half chunks with a marker in every chunk."""
    body = bytearray(os.urandom(CHUNK_BYTES * 2 + CHUNK_BYTES // 2))
    for offset in (100, CHUNK_BYTES + 100, 2 * CHUNK_BYTES + 100):
        body[offset : offset + len(MARKER)] = MARKER
    path = tmp_path / "plain.bin"
    path.write_bytes(bytes(body))
    return path


def _store(source):
    return store_encrypted(source, folder="42")


def _read(stored, **bounds) -> bytes:
    return b"".join(
        file_read(
            storage_key=stored.storage_key,
            key_id=stored.key_id,
            wrapped_key=stored.wrapped_key,
            **bounds,
        )
    )


def _sealed(stored, file_store) -> bytes:
    return (file_store / stored.storage_key).read_bytes()


def test_stored_object_is_not_plaintext_and_reads_back_exactly(source, file_store):
    stored = _store(source)
    assert stored.storage_key.startswith("42/")
    assert stored.size_bytes == source.stat().st_size
    assert MARKER not in _sealed(stored, file_store)
    assert _read(stored) == source.read_bytes()


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (0, 99), (100, 121), (CHUNK_BYTES - 5, CHUNK_BYTES + 5), (150_000, None)],
)
def test_a_range_returns_exactly_those_bytes(source, start, end):
    stored = _store(source)
    plain = source.read_bytes()
    expected = plain[start : (end + 1 if end is not None else None)]
    assert _read(stored, start=start, end=end) == expected


def test_each_file_gets_its_own_key_and_nonces(source, file_store):
    first, second = _store(source), _store(source)
    assert first.wrapped_key != second.wrapped_key
    assert _sealed(first, file_store) != _sealed(second, file_store)


def test_a_flipped_bit_fails_authentication(source, file_store):
    stored = _store(source)
    path = file_store / stored.storage_key
    sealed = bytearray(path.read_bytes())
    sealed[CHUNK_BYTES + 500] ^= 1
    path.write_bytes(bytes(sealed))
    with pytest.raises(FileCorrupt):
        _read(stored)


def test_a_truncated_file_fails_even_at_a_chunk_boundary(source, file_store):
    stored = _store(source)
    path = file_store / stored.storage_key
    sealed = path.read_bytes()
    # Drop the last chunk whole: the chunk before it was not sealed as the last one.
    path.write_bytes(sealed[: 20 + 2 * (CHUNK_BYTES + 16)])
    with pytest.raises(FileCorrupt):
        _read(stored)


def test_rotation_rewraps_under_the_newest_key_and_keeps_files_readable(source, settings):
    stored = _store(source)
    old_id = stored.key_id
    settings.FILE_MASTER_KEYS = {**settings.FILE_MASTER_KEYS, "k2": _key()}
    assert current_key_id() == "k2"
    new_id, new_wrapped = data_key_rewrap(key_id=old_id, wrapped_key=stored.wrapped_key)
    assert new_id == "k2" and new_wrapped != stored.wrapped_key
    # Once re-wrapped, the old master key can go.
    settings.FILE_MASTER_KEYS = {"k2": settings.FILE_MASTER_KEYS["k2"]}
    chunks = file_read(
        storage_key=stored.storage_key, key_id=new_id, wrapped_key=new_wrapped, start=0
    )
    assert b"".join(chunks) == source.read_bytes()


def test_a_key_wrapped_by_a_missing_master_key_is_refused(source, settings):
    stored = _store(source)
    settings.FILE_MASTER_KEYS = {"other": _key()}
    with pytest.raises(FileCorrupt):
        _read(stored)


def test_delete_removes_the_object_and_tolerates_a_second_call(source):
    stored = _store(source)
    file_delete(stored.storage_key)
    assert not file_storage().exists(stored.storage_key)
    file_delete(stored.storage_key)
