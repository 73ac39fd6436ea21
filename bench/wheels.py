"""Tiny pure-Python wheels made on the spot, so the environment rows need no package registry.

A wheel (PEP 427) is a zip with the package's files and ``NAME-VERSION.dist-info/`` holding
``METADATA`` (name, version, ``Requires-Dist``), ``WHEEL`` (tag ``py3-none-any``, purelib) and
``RECORD`` (each file's sha256 and size). uv checks the hashes and the tag, so all three are real.
Point ``find_links`` at the folder and set ``offline = true``. (``tests/wheels.py`` does the same for
the tests; bench/ does not import from tests/.)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

_DATE = (2020, 1, 1, 0, 0, 0)  # fixed: the same inputs give the same bytes


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest_dir: Path, name: str, version: str, files: Mapping[str, str], requires: Sequence[str] = ()) -> Path:
    """Write ``NAME-VERSION-py3-none-any.whl`` into ``dest_dir``; ``files`` maps paths in the wheel
    (``"pkg/__init__.py"``) to their text, ``requires`` are ``Requires-Dist`` lines."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{_escape(name)}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    wheel = "Wheel-Version: 1.0\nGenerator: bench.wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = {**{path: text.encode() for path, text in files.items()},
               f"{dist_info}/METADATA": metadata.encode(), f"{dist_info}/WHEEL": wheel.encode()}
    record = "".join(f"{path},{_hash(data)},{len(data)}\n" for path, data in entries.items())
    entries[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = dest_dir / f"{_escape(name)}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in entries.items():
            info = zipfile.ZipInfo(member, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


@contextlib.contextmanager
def uv_cache(folder: Path) -> Iterator[None]:
    """Builds in this block use a throwaway uv cache (``UV_CACHE_DIR``; uv runs as a child process
    and inherits it), so the bench neither reads nor fills the user's cache."""
    saved = os.environ.get("UV_CACHE_DIR")
    os.environ["UV_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("UV_CACHE_DIR", None)
        else:
            os.environ["UV_CACHE_DIR"] = saved
