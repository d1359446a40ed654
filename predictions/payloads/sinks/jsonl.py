"""The file sink: one JSON object per line and exchange, rotated by size.

Every worker process of every replica on the host may append to the same file, so a
batch is appended under an exclusive lock (flock on ``<file>.lock``), which also makes
the size check and the rotation atomic: ``payloads.jsonl`` becomes ``payloads.jsonl.1``,
``.1`` becomes ``.2``, ... and the oldest beyond PAYLOAD_LOG_FILE_BACKUPS is deleted.
The file is reopened for each batch, so a worker never writes into a file another one
has just rotated away.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path

from predictions.payloads.records import PayloadRecord


class JsonLinesSink:
    name = "file"

    def __init__(self, path: str | Path, *, max_bytes: int, backups: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups

    def write(self, records: Sequence[PayloadRecord]) -> int:
        data = b"".join(record.as_json_line() for record in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the lock file is closed
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate()
            with open(self.path, "ab") as file:
                file.write(data)
        return len(records)

    def _rotate(self) -> None:
        if self.backups <= 0:
            self.path.unlink(missing_ok=True)
            return
        oldest = self._backup(self.backups)
        oldest.unlink(missing_ok=True)
        for number in range(self.backups - 1, 0, -1):
            if self._backup(number).exists():
                os.replace(self._backup(number), self._backup(number + 1))
        os.replace(self.path, self._backup(1))

    def _backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")
