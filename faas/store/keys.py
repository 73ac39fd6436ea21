"""The ``api_keys`` table: API keys as stored (the secret hashed for lookup, encrypted for display)."""

from __future__ import annotations

from dataclasses import dataclass

from faas.store._db import Database

__all__ = ["KeyRow", "KeyStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRow:
    id: str
    name: str
    plan: str | None
    secret_hash: str
    secret_enc: bytes
    created_at: float
    revoked_at: float | None


class KeyStore:
    def __init__(self, store: Database) -> None:
        self.store = store

    async def insert(self, row: KeyRow) -> None:
        async with self.store.transaction("storing the API key") as db:
            await db.execute(
                "INSERT INTO api_keys (id, name, plan, secret_hash, secret_enc, created_at, revoked_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (row.id, row.name, row.plan, row.secret_hash, row.secret_enc, row.created_at, row.revoked_at),
            )

    async def all(self) -> list[KeyRow]:
        sql = "SELECT id, name, plan, secret_hash, secret_enc, created_at, revoked_at FROM api_keys ORDER BY created_at"
        async with self.store.db.execute(sql) as cur:
            rows = await cur.fetchall()
        return [KeyRow(id=r[0], name=r[1], plan=r[2], secret_hash=r[3], secret_enc=bytes(r[4]),
                       created_at=r[5], revoked_at=r[6]) for r in rows]

    async def revoke(self, key_id: str, when: float) -> bool:
        async with self.store.transaction("revoking the API key") as db:
            cur = await db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (when, key_id)
            )
            return cur.rowcount > 0
