"""Tiny pure-Python wheels built on the spot, so tests never depend on a package registry.

A wheel (PEP 427) is a zip holding the package's files and ``NAME-VERSION.dist-info/`` with
``METADATA`` (name, version, ``Requires-Dist``), ``WHEEL`` (the tag: ``py3-none-any``, purelib) and
``RECORD`` (every file with its sha256 and size; RECORD itself without). uv checks the hashes and
the tag, so all three must be right. Point ``find_links`` at the folder and set ``offline = true``::

    build_wheel(tmp_path / "wheels", "humanize", "4.9.0", {"humanize/__init__.py": "VERSION = '4.9.0'\\n"})
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["build_wheel"]

# A fixed timestamp: the same inputs give the same bytes (zip entries carry a date).
_DATE = (2020, 1, 1, 0, 0, 0)


def _escape(name: str) -> str:
    """The distribution name as wheel filenames and dist-info folders spell it (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    files: Mapping[str, str],
    requires: Sequence[str] = (),
) -> Path:
    """Write ``NAME-VERSION-py3-none-any.whl`` into ``dest_dir`` (created if missing) and return it.

    ``files`` maps paths inside the wheel (``"pkg/__init__.py"``) to their text; ``requires`` are
    ``Requires-Dist`` lines (``"other>=1"``).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{_escape(name)}-{version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires)]
    )
    wheel = "Wheel-Version: 1.0\nGenerator: tests.wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = {**{path: text.encode() for path, text in files.items()},
               f"{dist_info}/METADATA": metadata.encode(), f"{dist_info}/WHEEL": wheel.encode()}
    record = "".join(f"{path},{_hash(data)},{len(data)}\n" for path, data in entries.items())
    record += f"{dist_info}/RECORD,,\n"
    entries[f"{dist_info}/RECORD"] = record.encode()

    path = dest_dir / f"{_escape(name)}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in entries.items():
            info = zipfile.ZipInfo(member, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path
