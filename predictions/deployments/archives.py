"""Unpacking an uploaded version archive (.tar, .tar.gz/.tgz/.bz2/.xz or .zip), safely.

The archive comes from a client, so nothing in it is trusted: entries are read one at
a time and copied in chunks (memory stays bounded whatever the size), every name must
be a relative path without ``..`` (no absolute paths, drive letters or backslashes),
only regular files and folders are accepted (no symbolic or hard links, devices,
FIFOs, sparse files or encrypted zip entries), and the unpacked size and the number of
entries are limited. Files are created with O_EXCL | O_NOFOLLOW, so an entry can never
write outside the destination or over another one, and made readable by everyone
(0644, folders 0755) whatever the umask: the model server runs as another user. The
format is recognised from the content, not the file name.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from predictions.deployments.errors import ArchiveTooLarge, InvalidArchive
from predictions.deployments.repository import has_saved_model

CHUNK_BYTES = 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_COMPRESSED_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_TAR_MAGIC_OFFSET = 257


@dataclass(frozen=True)
class UnpackLimits:
    max_bytes: int
    max_entries: int


@dataclass(frozen=True)
class Unpacked:
    """The version folder found in the archive, with what it holds."""

    folder: Path
    total_bytes: int
    file_count: int


def archive_format(archive: BinaryIO) -> str:
    """ "zip", "tar" or "" (neither), from the first bytes; the position is kept."""
    position = archive.tell()
    head = archive.read(_TAR_MAGIC_OFFSET + 8)
    archive.seek(position)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_COMPRESSED_TAR_MAGIC) or head[_TAR_MAGIC_OFFSET:].startswith(b"ustar"):
        return "tar"
    return ""


def unpack(archive: BinaryIO, destination: Path, limits: UnpackLimits) -> Unpacked:
    """Unpack ``archive`` into the empty folder ``destination`` and find the version in it.

    The SavedModel may be at the top of the archive or in its one top-level folder
    (``tar czf v3.tar.gz 3/`` and ``tar czf v3.tar.gz -C 3 .`` both work).
    """
    kind = archive_format(archive)
    if not kind:
        raise InvalidArchive("The upload is not a .tar.gz, .tar or .zip archive")
    destination.chmod(0o755)  # it may become the version folder itself
    budget = _Budget(limits)
    try:
        if kind == "zip":
            _unpack_zip(archive, destination, budget)
        else:
            _unpack_tar(archive, destination, budget)
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
    ) as error:
        raise InvalidArchive(f"The archive is damaged or truncated: {error}") from error
    return Unpacked(_version_folder(destination), budget.bytes, budget.files)


class _Budget:
    def __init__(self, limits: UnpackLimits) -> None:
        self.limits = limits
        self.bytes = 0
        self.files = 0
        self.entries = 0

    def expect_entries(self, count: int) -> None:
        if self.entries + count > self.limits.max_entries:
            raise ArchiveTooLarge(
                f"The archive has more than {self.limits.max_entries} entries (PUBLISH_MAX_FILES)"
            )

    def entry(self) -> None:
        self.expect_entries(1)
        self.entries += 1

    def expect_bytes(self, count: int) -> None:
        """Refuse before reading when the declared sizes already exceed the limit."""
        if self.bytes + count > self.limits.max_bytes:
            raise ArchiveTooLarge(
                f"The archive unpacks to more than {self.limits.max_bytes} bytes "
                "(PUBLISH_MAX_UNPACKED_BYTES)"
            )

    def add_bytes(self, count: int) -> None:
        self.expect_bytes(count)
        self.bytes += count


def safe_relative_path(name: str) -> PurePosixPath:
    """An entry's name as a path inside the destination, or InvalidArchive naming it."""
    if "\x00" in name or "\\" in name:
        raise InvalidArchive(f"Entry name {name!r} has a NUL or backslash character")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise InvalidArchive(f"Entry {name!r} has an absolute path")
    parts = [part for part in path.parts if part != "."]
    if ".." in parts:
        raise InvalidArchive(f"Entry {name!r} leaves the archive's folder (..)")
    return PurePosixPath(*parts)


def _make_dirs(destination: Path, relative: PurePosixPath) -> Path:
    folder = destination
    for part in relative.parts:
        folder = folder / part
        try:
            folder.mkdir()
        except FileExistsError:
            if folder.is_symlink() or not folder.is_dir():
                raise InvalidArchive(f"Entry {relative} is both a file and a folder") from None
        else:
            folder.chmod(0o755)
    return folder


def _write_file(
    destination: Path, relative: PurePosixPath, chunks: Iterator[bytes], budget: _Budget
) -> None:
    if not relative.parts:
        raise InvalidArchive("A file entry has an empty name")
    folder = _make_dirs(destination, relative.parent)
    target = folder / relative.name
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise InvalidArchive(f"Entry {relative} appears twice in the archive") from None
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "wb") as output:
        for chunk in chunks:
            budget.add_bytes(len(chunk))
            output.write(chunk)
    budget.files += 1


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


def _unpack_tar(archive: BinaryIO, destination: Path, budget: _Budget) -> None:
    # "r|*" reads the stream front to back (no seeking, no member index in memory).
    with tarfile.open(fileobj=archive, mode="r|*") as tar:
        for member in tar:
            budget.entry()
            relative = safe_relative_path(member.name)
            if member.issym() or member.islnk():
                raise InvalidArchive(f"Entry {member.name!r} is a link; links are not allowed")
            if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                raise InvalidArchive(f"Entry {member.name!r} is a device file or FIFO")
            if member.issparse():
                raise InvalidArchive(f"Entry {member.name!r} is a sparse file")
            if member.isdir():
                _make_dirs(destination, relative)
            elif member.isreg():
                budget.expect_bytes(member.size)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has data
                _write_file(destination, relative, _chunks(source), budget)
            else:
                raise InvalidArchive(f"Entry {member.name!r} is not a file or a folder")


def _unpack_zip(archive: BinaryIO, destination: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as bundle:
        infos = bundle.infolist()  # from the central directory, before any data is read
        budget.expect_entries(len(infos))
        budget.expect_bytes(sum(info.file_size for info in infos))
        for info in infos:
            budget.entry()
            relative = safe_relative_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidArchive(f"Entry {info.filename!r} is a link; links are not allowed")
            if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise InvalidArchive(f"Entry {info.filename!r} is not a file or a folder")
            if info.flag_bits & 0x1:
                raise InvalidArchive(f"Entry {info.filename!r} is encrypted")
            if info.is_dir():
                _make_dirs(destination, relative)
                continue
            # ZipExtFile stops at the declared size and checks the CRC at the end, and the
            # budget counts what is really written.
            with bundle.open(info) as source:
                _write_file(destination, relative, _chunks(source), budget)


def _version_folder(destination: Path) -> Path:
    if has_saved_model(destination):
        return destination
    entries = list(destination.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and has_saved_model(entries[0]):
        return entries[0]
    raise InvalidArchive(
        "The archive has no saved_model.pb (or saved_model.pbtxt) at its top or in its "
        "one top-level folder"
    )
