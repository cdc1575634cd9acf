"""A legacy message's file: found in the buckets, decoded and normalised exactly like a new
upload (voice notes through the same transcoder, images and documents through the same
cleaner), and stored encrypted in `chat-files`.

The same bytes are processed once per run and stored once (by content hash): a file
present in both buckets, or named by several messages, is one stored object.
"""

import hashlib
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from audio.processing import voice_note_transcode
from audio.services import voice_note_draft
from chat.attachments import AttachmentDraft
from chat.files import file_clean
from samia_chat.errors import ServiceError
from samia_chat.filecrypt import StoredFile
from samia_chat.legacy.rules import file_resolve

# Old notes were not capped at five minutes; an hour keeps any real recording.
LEGACY_VOICE_MAX_MS = 3_600_000
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Processed:
    draft: AttachmentDraft
    source_sha256: str


class FileProblem(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LegacyFiles:
    """Finds and processes legacy files; keeps each processed rendition for the run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = Path(tempfile.mkdtemp(prefix="samia-import-"))
        self.done: dict[str, Processed] = {}
        self.failed: dict[str, FileProblem] = {}
        # sha256 of the legacy bytes -> the object stored for them in this run
        self.sealed: dict[str, StoredFile] = {}

    def forget(self, storage_key: str) -> None:
        """A stored object was removed again (its conversation failed)."""
        for digest, sealed in list(self.sealed.items()):
            if sealed.storage_key == storage_key:
                del self.sealed[digest]

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def locate(self, refs: list[str]) -> Path | None:
        for ref in refs:
            path = file_resolve(self.root, ref)
            if path is not None:
                return path
        return None

    def prepare(self, wanted: list[tuple[Path, str, str]], progress) -> None:
        """Decode and check every file the messages name, bucket by bucket (a progress bar
        each), before any conversation is written; the results wait in the cache."""
        by_bucket: dict[str, list[tuple[Path, str, str]]] = {}
        base = self.root.resolve()
        for path, kind, name in wanted:
            bucket = path.relative_to(base).parts[0]
            by_bucket.setdefault(bucket, []).append((path, kind, name))
        for bucket, files in sorted(by_bucket.items()):
            for path, kind, name in progress(files, f"bucket {bucket}", total=len(files)):
                # A file that cannot be used is reported with the message that names it.
                with suppress(FileProblem):
                    self.process(path, kind=kind, name=name)

    def process(self, path: Path, *, kind: str, name: str) -> Processed:
        """The rendition to store for `path`, or FileProblem when it cannot be used."""
        digest = _sha256(path)
        if digest in self.failed:
            raise self.failed[digest]
        if digest not in self.done:
            try:
                self.done[digest] = self._process(path, digest, kind=kind, name=name)
            except FileProblem as problem:
                self.failed[digest] = problem
                raise
        return self.done[digest]

    def _process(self, path: Path, digest: str, *, kind: str, name: str) -> Processed:
        target = self.work / digest
        if kind == "voice":
            try:
                rendition = voice_note_transcode(path, max_duration_ms=LEGACY_VOICE_MAX_MS)
            except ServiceError as exc:
                raise FileProblem("undecodable_audio", exc.message) from None
            shutil.move(rendition.path, target)
            name = f"voice-note-{digest[:12]}.m4a"
            return Processed(voice_note_draft(rendition, name=name, path=target), digest)
        try:
            clean = file_clean(path, original_name=name or path.name)
        except ServiceError as exc:
            raise FileProblem("undecodable_file", exc.message) from None
        shutil.move(clean.path, target)
        return Processed(AttachmentDraft.of_clean_file(clean, name or path.name, target), digest)
