"""The admin key: from ``FAAS_ADMIN_KEY``, or generated once into ``data_dir/admin.key`` (mode 0600)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "FAAS_ADMIN_KEY"
FILE_NAME = "admin.key"


def load_admin_key(data_dir: Path, environ: Mapping[str, str], *, create: bool = True) -> str | None:
    """Return the admin key, creating the key file if ``create`` and no key exists yet."""
    from_env = environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    path = data_dir / FILE_NAME
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    if not create:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "faas_admin_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
