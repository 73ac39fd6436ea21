"""Buckets on disk: the folder of each bucket and the keys that may be used in it.

A bucket is the folder ``data_dir/buckets/NAME/``; an object's key is its path under that folder,
with ``/`` between segments. The gateway (PUT/GET/DELETE) and the bucket watcher share these rules:

- a key is 1..1024 bytes of UTF-8, relative, without NUL bytes, ``.``/``..`` or empty segments;
- no segment starts with ``.``: hidden names are how an upload in progress hides (the gateway
  writes ``.faas-upload-*`` then renames; a copy tool can do the same), so they are never objects;
- a key never leads out of its bucket, also not through a symlink.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from faas.exceptions import BucketKeyError

__all__ = ["BUCKETS_DIR", "UPLOAD_PREFIX", "bucket_root", "check_key", "is_hidden", "md5_file", "object_path"]

BUCKETS_DIR = "buckets"
UPLOAD_PREFIX = ".faas-upload-"  # an upload being written, renamed into place when complete
MAX_KEY_BYTES = 1024
CHUNK = 1024 * 1024


def bucket_root(data_dir: Path, name: str) -> Path:
    return data_dir / BUCKETS_DIR / name


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise BucketKeyError saying why."""
    if not key:
        raise BucketKeyError("the object key is empty")
    if "\x00" in key:
        raise BucketKeyError("the object key contains a NUL byte")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise BucketKeyError(f"the object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise BucketKeyError(f"the object key {key!r} is absolute; keys are relative to the bucket")
    for segment in key.split("/"):
        if segment == "..":
            raise BucketKeyError(f"the object key {key!r} contains '..': path traversal is refused")
        if segment in ("", "."):
            raise BucketKeyError(f"the object key {key!r} has an empty or '.' segment")
        if segment.startswith("."):
            raise BucketKeyError(
                f"the object key {key!r} has a segment starting with '.': hidden names are never objects"
            )
    return key


def object_path(root: Path, key: str) -> Path:
    """The file of ``key`` in the bucket at ``root``, refusing a key that resolves out of it."""
    check_key(key)
    path = root / key
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise BucketKeyError(f"the object key {key!r} resolves outside the bucket through a symlink")
    return path


def is_hidden(relative: str) -> bool:
    """Whether a path relative to a bucket is (inside) a hidden name, which is never an object."""
    return any(part.startswith(".") for part in relative.split("/"))


def md5_file(path: Path) -> tuple[str, int]:
    """The MD5 hex digest (S3's eTag for a single-part upload) and size of a file. Blocking."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
