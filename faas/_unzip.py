"""Unpacking a code or layer zip once, safely, into a content-addressed folder (``faas.packages``).

A zip comes from whoever writes the config, but it is unpacked by the server, under ``data_dir``, so
it is read as hostile: every entry is checked before a byte is written, and the writing itself is
bounded.

- Size: at most ``MAX_ZIPPED_BYTES`` (50 MB, Lambda's limit for a direct upload) read, then at most
  ``MAX_UNZIPPED_BYTES`` (250 MB) by the sizes the entries declare, and again by the bytes actually
  written, so a zip bomb that lies about its sizes stops at the limit. (Python's zipfile already
  stops each entry at its declared size and then fails its CRC; the second count does not rely on it.)
- At most ``MAX_ENTRIES`` entries: a zip of a million empty files exhausts inodes, not bytes.
- Paths: a backslash is read as a separator (zips made on Windows use it), and an entry whose path is
  absolute, names a drive (``C:``) or has a ``..`` component is refused — ``a/../b`` too: it stays
  inside, but no packaging tool writes it, and refusing every ``..`` needs no resolution to be right.
- Symlinks (entries whose Unix mode is S_IFLNK) are refused, every one, not only those pointing out:
  a link's target is resolved when a worker opens it, through whatever other links the package holds
  (``a -> d/../x`` with ``d -> .`` leaves the folder though each target looks inside), and neither
  wheels nor ``pip install -t`` write them. The message says where the link points.
- Encrypted entries are refused (there is no password to give).
- Modes: a file keeps its executable bits; setuid, setgid, sticky and write-for-others are dropped;
  every file and folder is readable by all (a worker may run as its own user, and reads the
  package, never writes it). Zips made on Windows carry no mode: their files get 0644.

The bytes are read into memory once (at most 50 MB) and hashed, and those same bytes are unpacked,
so a zip replaced mid-unpack cannot put one zip's files under another's hash. The folder is written
beside its final place as ``.HASH.XXXX.partial`` and renamed into place: a reader sees a whole folder
or none, two concurrent unpacks of the same bytes both succeed (the second rename loses and its copy
is removed), and a crash leaves only a ``.partial`` folder, swept an hour later.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from faas.exceptions import PackageError

__all__ = ["MAX_ENTRIES", "MAX_UNZIPPED_BYTES", "MAX_ZIPPED_BYTES", "mb", "unpack_zip"]

MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
MAX_ENTRIES = 50_000  # botocore's data is ~3,000 files; a numpy + pandas + scipy layer ~10,000
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"[A-Za-z]:")
_PARTIAL_SUFFIX = ".partial"
_STALE_PARTIAL_SECONDS = 3600.0
# Reading a zip's own structure or its compressed data can fail in any of these ways.
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, RuntimeError)


def mb(size: int) -> str:
    """A size in MB (MiB, as Lambda counts), one decimal: "262.1 MB"."""
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True, slots=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # the checked relative path; () for the root itself
    folder: bool


def unpack_zip(zip_path: Path, packages_dir: Path, *, what: str) -> Path:
    """Validate ``zip_path`` and unpack it once into ``packages_dir/<sha256 of its bytes>/``.

    ``what`` names whose zip it is in messages, e.g. ``function "thumbnail" code`` or
    ``layer "pillow"``. A folder already there for the same bytes is reused as it is. Raises
    ``PackageError`` naming ``what``, the file and the problem. Blocking: call it off the event loop.
    """
    where = f"{what} ({zip_path})"
    data = _read(zip_path, where)
    dest = packages_dir / hashlib.sha256(data).hexdigest()
    if dest.is_dir():
        return dest
    try:
        packages_dir.mkdir(parents=True, exist_ok=True)
        _sweep_partials(packages_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name[:16]}.", suffix=_PARTIAL_SUFFIX, dir=packages_dir))
    except OSError as exc:
        raise PackageError(f"{where}: cannot unpack into {packages_dir}: {exc.strerror}") from None
    try:
        _extract(data, tmp, where)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp)  # the same bytes were unpacked meanwhile; that copy is identical
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PackageError(f"{where}: cannot unpack into {packages_dir}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _read(zip_path: Path, where: str) -> bytes:
    try:
        with zip_path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_ZIPPED_BYTES:
                raise PackageError(_too_big_zipped(where, size))
            data = f.read(MAX_ZIPPED_BYTES + 1)
    except FileNotFoundError:
        raise PackageError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise PackageError(f"{where}: a folder, not a .zip file") from None
    except OSError as exc:
        raise PackageError(f"{where}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_ZIPPED_BYTES:  # it grew after fstat
        raise PackageError(_too_big_zipped(where, len(data)))
    return data


def _too_big_zipped(where: str, size: int) -> str:
    return f"{where}: {mb(size)} zipped; the limit is {mb(MAX_ZIPPED_BYTES)} per zip (Lambda's, for a direct upload)"


def _too_big_unzipped(where: str, size: int, how: str) -> str:
    return (
        f"{where}: {how} {mb(size)} unzipped; the limit is {mb(MAX_UNZIPPED_BYTES)} "
        "(Lambda's, for code and layers together)"
    )


def _extract(data: bytes, dest: Path, where: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _CORRUPT as exc:
        raise PackageError(f"{where}: not a readable zip file: {exc}") from None
    with archive:
        entries = _checked_entries(archive, where)
        written = 0
        for entry in entries:
            target = dest.joinpath(*entry.parts)
            try:
                (target if entry.folder else target.parent).mkdir(mode=0o755, parents=True, exist_ok=True)
            except OSError as exc:  # e.g. "a" is a file and "a/b" follows
                raise PackageError(f'{where}: entry "{entry.info.filename}" cannot be written: {exc.strerror}') from None
            if not entry.folder:
                written = _write(archive, entry, target, written, where)
    _open_folders(dest)


def _checked_entries(archive: zipfile.ZipFile, where: str) -> list[_Entry]:
    """Every entry checked (path, type, encryption, declared sizes) before anything is written."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise PackageError(f"{where}: {len(infos)} entries; at most {MAX_ENTRIES} are unpacked")
    entries: list[_Entry] = []
    for info in infos:
        parts = _entry_parts(info.filename, where)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise PackageError(_symlink_message(archive, info, parts, where))
        if info.flag_bits & 0x1:
            raise PackageError(f'{where}: entry "{info.filename}" is encrypted')
        folder = info.filename.replace("\\", "/").endswith("/") or not parts
        entries.append(_Entry(info, parts, folder))
    declared = _declared_size(entries)
    if declared > MAX_UNZIPPED_BYTES:
        raise PackageError(_too_big_unzipped(where, declared, "its entries declare"))
    return entries


def _declared_size(entries: list[_Entry]) -> int:
    """What the entries say they unzip to (folders hold no bytes and are not read)."""
    return sum(entry.info.file_size for entry in entries if not entry.folder)


def _entry_parts(name: str, where: str) -> tuple[str, ...]:
    clean = name.replace("\\", "/")
    if clean.startswith("/"):
        raise PackageError(f'{where}: entry "{name}" is an absolute path; entries must be relative to the zip root')
    if _DRIVE.match(clean):
        raise PackageError(f'{where}: entry "{name}" names a drive; entries must be relative to the zip root')
    parts = tuple(p for p in clean.split("/") if p not in ("", "."))
    if ".." in parts:
        raise PackageError(f'{where}: entry "{name}" has a ".." component, which could lead out of the package folder')
    return parts


def _symlink_message(archive: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], where: str) -> str:
    """Where the link points (its content), and whether that is outside the package folder."""
    try:
        target = archive.read(info)[:1024].decode("utf-8", "replace") if info.file_size <= 1024 else "?"
    except _CORRUPT:
        target = "?"
    depth = len(parts) - 1  # folders above the link inside the package
    outside = target.startswith("/") or bool(_DRIVE.match(target))
    for part in target.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            outside = outside or depth < 0
        elif part not in ("", "."):
            depth += 1
    place = "outside the package folder" if outside else "inside the package folder"
    return (
        f'{where}: entry "{info.filename}" is a symlink to "{target}" ({place}); '
        "a package may hold only files and folders"
    )


def _write(archive: zipfile.ZipFile, entry: _Entry, target: Path, written: int, where: str) -> int:
    """Copy one entry to ``target``, counting the bytes really produced; return the new total."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise PackageError(f'{where}: entry "{entry.info.filename}" cannot be written: {exc.strerror}') from None
    with os.fdopen(fd, "wb") as out:
        try:
            with archive.open(entry.info) as src:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > MAX_UNZIPPED_BYTES:
                        raise PackageError(_too_big_unzipped(where, written, "unpacking stopped at"))
                    out.write(chunk)
        except PackageError:
            raise
        except _CORRUPT as exc:
            raise PackageError(f'{where}: entry "{entry.info.filename}" is corrupt: {exc}') from None
    os.chmod(target, _file_mode(entry.info))
    return written


def _file_mode(info: zipfile.ZipInfo) -> int:
    perms = (info.external_attr >> 16) & 0o777
    if not perms:  # made on Windows, or by a tool that records no Unix mode
        return 0o644
    return (perms & 0o775) | 0o644  # keeps x bits; drops o+w (setuid/setgid/sticky are above 0o777)


def _open_folders(root: Path) -> None:
    """Folders readable and searchable by all (mkdtemp makes 0700; the umask may narrow mkdir's)."""
    os.chmod(root, 0o755)
    for folder, subfolders, _ in os.walk(root):
        for name in subfolders:
            os.chmod(os.path.join(folder, name), 0o755)


def _sweep_partials(packages_dir: Path) -> None:
    """Remove ``.partial`` folders a crashed unpack left, once they are an hour old (a live unpack
    takes seconds)."""
    cutoff = time.time() - _STALE_PARTIAL_SECONDS
    for path in packages_dir.glob(f".*{_PARTIAL_SUFFIX}"):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
