"""faas.store.keys: API keys as stored, round-tripped through a real file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faas.exceptions import StoreError
from faas.store import KeyRow, KeyStore, SQLiteStore


def _key(key_id: str, *, created: float, secret_hash: str | None = None, plan: str | None = None) -> KeyRow:
    return KeyRow(id=key_id, name=f"name of {key_id}", plan=plan, secret_hash=secret_hash or f"hash-{key_id}",
                  secret_enc=b"\x00sealed\xff" + key_id.encode(), created_at=created, revoked_at=None)


def test_keys_round_trip_in_creation_order(tmp_path: Path) -> None:
    older, newer = _key("k2", created=10.0, plan="gold"), _key("k1", created=20.0)

    async def scenario() -> list[KeyRow]:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            keys = KeyStore(store)
            assert await keys.all() == []
            await keys.insert(newer)
            await keys.insert(older)
        async with SQLiteStore(tmp_path / "faas.db") as store:  # and they outlive the connection
            return await KeyStore(store).all()

    assert asyncio.run(scenario()) == [older, newer]


def test_revoke_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            keys = KeyStore(store)
            await keys.insert(_key("k1", created=1.0))
            assert await keys.revoke("k1", 50.0) is True
            assert await keys.revoke("k1", 60.0) is False  # the first revocation time stays
            assert await keys.revoke("nope", 60.0) is False
            assert [k.revoked_at for k in await keys.all()] == [50.0]

    asyncio.run(scenario())


def test_a_duplicate_secret_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            keys = KeyStore(store)
            await keys.insert(_key("k1", created=1.0, secret_hash="same"))
            with pytest.raises(StoreError, match="storing the API key failed"):
                await keys.insert(_key("k2", created=2.0, secret_hash="same"))
            assert [k.id for k in await keys.all()] == ["k1"]

    asyncio.run(scenario())
