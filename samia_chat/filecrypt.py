"""Encryption at rest for the private `chat-files` store.

Each file gets its own random 256-bit data key. The body is AES-256-GCM in 64 KiB chunks,
each sealed separately, so a file is written and read (including an HTTP range) without
holding it in memory. A chunk's nonce is a random per-file prefix plus its index, and its
associated data names its index and whether it is the last one: chunks cannot be
reordered, dropped or the file truncated without decryption failing.

The data key is stored in the database, wrapped (AES-256-GCM) by a master key taken from
the environment, together with that master key's id. Rotating master keys re-wraps the
data keys and never touches a file body.

Stored object: MAGIC (8) | chunk size (4, big-endian) | nonce prefix (8) | sealed chunks.
"""

import os
import secrets
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

MAGIC = b"SAMIAF1\x00"
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
HEADER = struct.Struct(">8sI8s")
WRAP_NONCE_BYTES = 12
STORE_ALIAS = "chat-files"


class FileCorrupt(Exception):
    """A stored file or its wrapped key failed authentication: tampered with or damaged."""


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    key_id: str
    wrapped_key: bytes
    size_bytes: int


def file_storage() -> Storage:
    return storages[STORE_ALIAS]


def _master_key(key_id: str) -> bytes:
    try:
        return settings.FILE_MASTER_KEYS[key_id]
    except KeyError:
        raise FileCorrupt(f"Master key {key_id!r} is not configured.") from None


def current_key_id() -> str:
    # The last key listed is the newest; older ones stay to unwrap what they wrapped.
    return next(reversed(settings.FILE_MASTER_KEYS))


def _wrap(data_key: bytes, key_id: str) -> bytes:
    nonce = secrets.token_bytes(WRAP_NONCE_BYTES)
    return nonce + AESGCM(_master_key(key_id)).encrypt(nonce, data_key, key_id.encode())


def _unwrap(wrapped_key: bytes, key_id: str) -> bytes:
    nonce, sealed = wrapped_key[:WRAP_NONCE_BYTES], wrapped_key[WRAP_NONCE_BYTES:]
    try:
        return AESGCM(_master_key(key_id)).decrypt(nonce, sealed, key_id.encode())
    except InvalidTag:
        raise FileCorrupt("The data key does not unwrap with its master key.") from None


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">I?", index, last)


def _encrypt_to(source: Path, sink, data_key: bytes) -> int:
    """Write the sealed form of `source` to `sink`; return the plaintext size."""
    aead = AESGCM(data_key)
    prefix = secrets.token_bytes(8)
    sink.write(HEADER.pack(MAGIC, CHUNK_BYTES, prefix))
    size = 0
    with open(source, "rb") as plain:
        chunk = plain.read(CHUNK_BYTES)
        index = 0
        while True:
            following = plain.read(CHUNK_BYTES)
            last = not following
            sink.write(aead.encrypt(_nonce(prefix, index), chunk, _aad(index, last)))
            size += len(chunk)
            if last:
                return size
            chunk, index = following, index + 1


def file_store(source: Path, *, folder: str) -> StoredFile:
    """Encrypt `source` into the private store under `<folder>/<random id>`.

    The sealed copy is staged in a temporary file, so memory stays bounded whatever the
    size and whichever storage backend is configured.
    """
    data_key = AESGCM.generate_key(bit_length=256)
    key_id = current_key_id()
    with tempfile.TemporaryFile() as sealed:
        size = _encrypt_to(source, sealed, data_key)
        sealed.seek(0)
        name = file_storage().save(f"{folder}/{secrets.token_urlsafe(18)}", File(sealed))
    return StoredFile(
        storage_key=name, key_id=key_id, wrapped_key=_wrap(data_key, key_id), size_bytes=size
    )


def file_read(
    *, storage_key: str, key_id: str, wrapped_key: bytes, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Yield the plaintext bytes start..end (inclusive) of a stored file.

    Only the chunks that cover the range are read and decrypted. Raises FileCorrupt on the
    first chunk that fails authentication.
    """
    aead = AESGCM(_unwrap(wrapped_key, key_id))
    with file_storage().open(storage_key, "rb") as sealed:
        magic, chunk_bytes, prefix = HEADER.unpack(sealed.read(HEADER.size))
        if magic != MAGIC:
            raise FileCorrupt("Not a sealed SAMIA file.")
        index = start // chunk_bytes
        sealed.seek(HEADER.size + index * (chunk_bytes + TAG_BYTES))
        position = index * chunk_bytes
        while end is None or position <= end:
            block = sealed.read(chunk_bytes + TAG_BYTES)
            if not block:
                # The last chunk is marked as such, so running out early means truncation.
                raise FileCorrupt("The stored file is truncated.")
            last = len(block) < chunk_bytes + TAG_BYTES or not sealed.read(1)
            if not last:
                sealed.seek(-1, os.SEEK_CUR)
            try:
                plain = aead.decrypt(_nonce(prefix, index), block, _aad(index, last))
            except InvalidTag:
                raise FileCorrupt(f"Chunk {index} failed authentication.") from None
            lo = max(start - position, 0)
            hi = len(plain) if end is None else min(end - position + 1, len(plain))
            if lo < hi:
                yield plain[lo:hi]
            if last:
                return
            position += len(plain)
            index += 1


def file_delete(storage_key: str) -> None:
    """Remove a stored file; a file already gone is not an error."""
    storage = file_storage()
    if storage.exists(storage_key):
        storage.delete(storage_key)


def data_key_rewrap(*, key_id: str, wrapped_key: bytes) -> tuple[str, bytes]:
    """Return (newest key id, the same data key wrapped by it)."""
    newest = current_key_id()
    if key_id == newest:
        return key_id, wrapped_key
    return newest, _wrap(_unwrap(wrapped_key, key_id), newest)
