"""Encryption at rest for API key secrets, with a master key kept in ``data_dir/master.key`` (0600).

AES-256-GCM from ``cryptography``: the stdlib has no authenticated cipher, and SigV4 needs the
secret itself back (it signs with it), so a one-way hash alone cannot do. The key id is bound in as
associated data, so a ciphertext moved to another key's row does not decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faas.exceptions import SecretBoxError

MASTER_KEY_FILE = "master.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretBoxError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, data_dir: Path, *, create: bool = True) -> "SecretBox":
        path = data_dir / MASTER_KEY_FILE
        try:
            return cls(base64.b64decode(path.read_text().strip(), validate=True))
        except FileNotFoundError:
            if not create:
                raise SecretBoxError(f"no master key at {path}") from None
        except (ValueError, OSError) as exc:
            raise SecretBoxError(f"cannot read the master key {path}: {exc}") from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load(data_dir, create=False)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(key).decode() + "\n")
        return cls(key)

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretBoxError(f"the secret of {context} does not decrypt with this master key") from exc
