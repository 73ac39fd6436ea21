"""API keys: create, list, revoke, and look up callers by secret (hash) or by key id (SigV4).

A key is an id (``FK`` + 18 characters, the shape of an AWS access key id) and a secret. The secret
is shown once at creation, stored encrypted (SecretBox) and indexed by its SHA-256, so a lookup by
secret is a dict look-up by hash and never compares secrets with ``==``. SigV4 needs the secret
itself, which is why it is kept encrypted rather than only hashed.

Every key the server knows is held in memory; the server reloads the table every few seconds, so
a key revoked straight in the database (``faas keys revoke`` with the server unreachable) stops
working within that window, and one revoked through the server stops at once.
Internal keys (one per function, for workers calling back into the platform) live in memory only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import string
import time
from dataclasses import dataclass

from collections.abc import Mapping

from faas.background import WakeLoop
from faas.config import UsagePlanConfig
from faas.exceptions import InvalidRequest, KeyNotFound, StoreError
from faas.secretbox import SecretBox
from faas.store import KeyRow, KeyStore

log = logging.getLogger(__name__)

ID_ALPHABET = string.ascii_uppercase + string.digits
RELOAD_SECONDS = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    id: str
    name: str
    plan: str | None
    created_at: float
    revoked_at: float | None = None
    internal: bool = False

    def public(self) -> dict[str, object]:
        """What ``keys list`` shows: never the secret."""
        return {
            "id": self.id,
            "name": self.name,
            "plan": self.plan,
            "created_at": self.created_at,
            "revoked": self.revoked_at is not None,
            "revoked_at": self.revoked_at,
        }


def validate_new_key(name: object, plan: object, plans: Mapping[str, UsagePlanConfig]) -> tuple[str, str | None]:
    """Check a create request; the message names the bad field."""
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidRequest("name: a key needs a name, 1-128 characters")
    if plan is not None:
        if not isinstance(plan, str) or plan not in plans:
            known = ", ".join(sorted(plans)) or "none are configured"
            raise InvalidRequest(f"plan: no usage plan {plan!r} in the config (known: {known})")
    return name.strip(), plan


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_id(prefix: str = "FK") -> str:
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(18))


def new_secret() -> str:
    return secrets.token_urlsafe(30)


class Keyring:
    def __init__(self, store: KeyStore, box: SecretBox) -> None:
        self.store = store
        self.box = box
        self._by_hash: dict[str, ApiKey] = {}
        self._by_id: dict[str, tuple[ApiKey, str]] = {}
        self._internal: dict[str, tuple[ApiKey, str]] = {}
        self._reloader = WakeLoop(
            self.reload, name="API keys", interval=RELOAD_SECONDS, errors=(StoreError,), retry=RELOAD_SECONDS,
            on_error=_reload_failed,
        )
        # A reload reads the table while create/revoke may change it; the lock keeps a reload from
        # installing a snapshot taken before a change it did not see.
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> "Keyring":
        await self.reload()
        self._reloader.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._reloader.stop()  # a reload in progress finishes; none is cut off mid-read

    async def reload(self) -> None:
        async with self._lock:
            await self._reload()

    async def _reload(self) -> None:
        by_hash: dict[str, ApiKey] = {}
        by_id: dict[str, tuple[ApiKey, str]] = {}
        for row in await self.store.all():
            if row.revoked_at is not None:
                continue
            key = _key(row)
            try:
                secret = self.box.decrypt(row.secret_enc, row.id)
            except Exception as exc:  # one bad row must not lock everyone out
                log.error("API key %s unusable: %s", row.id, exc)
                continue
            by_hash[row.secret_hash] = key
            by_id[row.id] = (key, secret)
        for key, secret in self._internal.values():
            by_hash[hash_secret(secret)] = key
            by_id[key.id] = (key, secret)
        self._by_hash, self._by_id = by_hash, by_id

    # --- look-ups (hot path: no I/O) --------------------------------------------------------------

    def by_secret(self, secret: str) -> ApiKey | None:
        return self._by_hash.get(hash_secret(secret))

    def by_id(self, key_id: str) -> tuple[ApiKey, str] | None:
        return self._by_id.get(key_id)

    # --- management -----------------------------------------------------------------------------

    async def create(self, name: str, plan: str | None) -> tuple[ApiKey, str]:
        key_id, secret = new_key_id(), new_secret()
        now = time.time()
        row = KeyRow(
            id=key_id, name=name, plan=plan, secret_hash=hash_secret(secret),
            secret_enc=self.box.encrypt(secret, key_id), created_at=now, revoked_at=None,
        )
        async with self._lock:
            await self.store.insert(row)
            key = _key(row)
            self._by_hash[row.secret_hash] = key
            self._by_id[key_id] = (key, secret)
        return key, secret

    async def revoke(self, key_id: str) -> ApiKey:
        async with self._lock:
            await self.store.revoke(key_id, time.time())
            rows = {r.id: r for r in await self.store.all()}
            if key_id not in rows:
                raise KeyNotFound(key_id)
            entry = self._by_id.pop(key_id, None)
            if entry is not None:
                self._by_hash.pop(hash_secret(entry[1]), None)
        return _key(rows[key_id])

    async def list(self) -> list[ApiKey]:
        return [_key(r) for r in await self.store.all()]

    def add_internal(self, function: str) -> tuple[str, str]:
        """The in-memory key a function's workers call the platform with (one per function and run)."""
        existing = self._internal.get(function)
        if existing is not None:
            return existing[0].id, existing[1]
        key = ApiKey(id=new_key_id("FI"), name=f"function:{function}", plan=None, created_at=time.time(), internal=True)
        secret = new_secret()
        self._internal[function] = (key, secret)
        self._by_id[key.id] = (key, secret)
        self._by_hash[hash_secret(secret)] = key
        return key.id, secret

    def drop_internal(self, function: str) -> None:
        old = self._internal.pop(function, None)
        if old is not None:
            self._by_id.pop(old[0].id, None)
            self._by_hash.pop(hash_secret(old[1]), None)


def _reload_failed(exc: Exception) -> None:
    log.error("reloading API keys failed: %s", exc)


def _key(row: KeyRow) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, plan=row.plan, created_at=row.created_at, revoked_at=row.revoked_at)
