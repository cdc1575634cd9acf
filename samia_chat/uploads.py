"""Uploads stream to a temporary file and stop being written once they pass the limit.

The request body as a whole is capped before Django reads it (body_limit.py); within
that cap, past FILE_UPLOAD_MAX_BYTES this handler drops the rest of the file and flags
the request, so the view answers 413 with a clear error and no second copy on disk.
"""

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest

from samia_chat.errors import Invalid, TooLarge

TOO_LARGE_FLAG = "upload_too_large"


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > settings.FILE_UPLOAD_MAX_BYTES:
            self.too_large = True
            return
        self.file.write(raw_data)

    def file_complete(self, file_size: int):
        if not self.too_large:
            return super().file_complete(file_size)
        setattr(self.request, TOO_LARGE_FLAG, True)
        self.upload_interrupted()
        return None


def uploaded_path(request: HttpRequest, uploaded: UploadedFile | None) -> Path:
    """The temporary file holding the request's `file` field, or a clear refusal."""
    limit_mb = settings.FILE_UPLOAD_MAX_BYTES // (1024 * 1024)
    if getattr(request, TOO_LARGE_FLAG, False):
        raise TooLarge(f"Files can be at most {limit_mb} MB.")
    if uploaded is None:
        raise Invalid("Send the file in a multipart field named 'file'.", code="FILE_REQUIRED")
    if uploaded.size == 0:
        raise Invalid("The file is empty.", code="EMPTY_FILE")
    return Path(uploaded.temporary_file_path())
