"""Receiving a version archive: streamed to a file in the model repository, size-limited.

Django's default upload handlers keep small files in memory and spill larger ones to
the system temporary folder, which in the containers is a small memory-backed /tmp.
This handler writes the archive straight into the repository's ``.incoming/`` folder
(the volume that will hold the version anyway), in the parser's 64 KiB chunks, and
stops at PUBLISH_MAX_ARCHIVE_BYTES: a body that declares more is refused before a byte
is read, one that grows past it is cut off there.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from predictions.deployments import repository
from predictions.deployments.errors import ArchiveTooLarge, InvalidDeployment

ARCHIVE_FIELD = "archive"
# The form around the file (boundaries, the version and wait fields) is small.
_FORM_OVERHEAD_BYTES = 64 * 1024


class ArchiveUploadHandler(FileUploadHandler):
    """Accepts one file, in the ``archive`` field, of at most ``max_bytes``."""

    def __init__(self, max_bytes: int, request: Any = None) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self._file: IO[bytes] | None = None
        self._received = 0

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        if content_length > self.max_bytes + _FORM_OVERHEAD_BYTES:
            raise _too_large(self.max_bytes)

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != ARCHIVE_FIELD or self._file is not None:
            raise InvalidDeployment(f"Send one file, in the form field {ARCHIVE_FIELD!r}")
        folder = repository.root() / repository.INCOMING
        folder.mkdir(parents=True, exist_ok=True)
        # Open until close() (end of the request): the parser returns it as the upload.
        self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            dir=folder, prefix="upload-", suffix=".part"
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self._file is not None
        self._received += len(raw_data)
        if self._received > self.max_bytes:
            raise _too_large(self.max_bytes)
        with repository.storage_errors():
            self._file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        return UploadedFile(
            file=self._file,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
        )

    def close(self) -> None:
        """Delete the received file (a NamedTemporaryFile goes when closed)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _too_large(max_bytes: int) -> ArchiveTooLarge:
    return ArchiveTooLarge(
        f"The archive is larger than {max_bytes} bytes (PUBLISH_MAX_ARCHIVE_BYTES)"
    )


def archive_path(uploaded: UploadedFile) -> Path:
    return Path(uploaded.file.name)
