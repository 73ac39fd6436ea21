"""faas/keys.py on its own: API keys created, looked up, listed and revoked through a ``Keyring`` over
a real SQLite file and a real master key in ``tmp_path``; internal keys; the create-request check.
(The keys' behaviour seen through a running server is in tests/e2e/test_keys.py.)"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from faas.config import UsagePlanConfig
from faas.exceptions import FaaSError, InvalidRequest, KeyNotFound
from faas.keys import ApiKey, Keyring, hash_secret, new_key_id, new_secret, validate_new_key
from faas.secretbox import SecretBox
from faas.store import SQLiteStore
from faas.store import KeyStore

T = TypeVar("T")


def with_ring(data_dir: Path, body: Callable[[Keyring], Awaitable[T]], box: SecretBox | None = None) -> T:
    """Run ``body`` with a started keyring over ``data_dir/faas.db`` and ``data_dir/master.key``."""

    async def scenario() -> T:
        async with SQLiteStore(data_dir / "faas.db") as store:
            async with Keyring(KeyStore(store), box or SecretBox.load(data_dir)) as ring:
                return await body(ring)

    return asyncio.run(scenario())


def test_create_then_look_up_by_secret_and_by_id(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> tuple[ApiKey, str, ApiKey | None, tuple[ApiKey, str] | None]:
        key, secret = await ring.create("ci", "gold")
        return key, secret, ring.by_secret(secret), ring.by_id(key.id)

    before = time.time()
    key, secret, by_secret, by_id = with_ring(tmp_path, body)
    assert re.fullmatch(r"FK[A-Z0-9]{18}", key.id)
    assert (key.name, key.plan, key.revoked_at, key.internal) == ("ci", "gold", None, False)
    assert before <= key.created_at <= time.time()
    assert len(secret) >= 40
    assert by_secret == key
    assert by_id == (key, secret)  # SigV4 needs the secret itself


def test_wrong_secrets_and_ids_find_nothing(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> list[object]:
        key, secret = await ring.create("ci", None)
        return [ring.by_secret(secret + "x"), ring.by_secret(secret[:-1]), ring.by_secret(""), ring.by_secret(key.id),
                ring.by_id("FK" + "0" * 18), ring.by_id(key.id.lower()), ring.by_id(secret)]

    assert with_ring(tmp_path, body) == [None] * 7


def test_each_key_is_its_own(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> list[tuple[ApiKey, str]]:
        return [await ring.create(f"k{i}", None) for i in range(5)]

    created = with_ring(tmp_path, body)
    assert len({k.id for k, _ in created}) == 5
    assert len({s for _, s in created}) == 5


def test_no_secret_reaches_the_disk_in_the_clear(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> tuple[str, str]:
        key, secret = await ring.create("ci", None)
        return key.id, secret

    key_id, secret = with_ring(tmp_path, body)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert key_id.encode() in on_disk  # the key is there...
    assert secret.encode() not in on_disk  # ...its secret is not
    assert base64.b64encode(secret.encode()) not in on_disk

    async def rows() -> list[tuple[str, bytes]]:
        async with SQLiteStore(tmp_path / "faas.db") as store:
            return [(r.secret_hash, r.secret_enc) for r in await KeyStore(store).all()]

    [(stored_hash, stored_enc)] = asyncio.run(rows())
    assert stored_hash == hash_secret(secret)
    assert SecretBox.load(tmp_path).decrypt(stored_enc, key_id) == secret
    with pytest.raises(FaaSError):  # the ciphertext is bound to its key id
        SecretBox.load(tmp_path).decrypt(stored_enc, "FK" + "X" * 18)


def test_list_shows_every_key_oldest_first_and_never_a_secret(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> tuple[list[ApiKey], list[str]]:
        secrets_ = []
        for name in ("first", "second", "third"):
            secrets_.append((await ring.create(name, None))[1])
            await asyncio.sleep(0.002)  # distinct creation times
        return await ring.list(), secrets_

    keys, made = with_ring(tmp_path, body)
    assert [k.name for k in keys] == ["first", "second", "third"]
    public = keys[0].public()
    assert set(public) == {"id", "name", "plan", "created_at", "revoked", "revoked_at"}
    assert public["revoked"] is False and public["revoked_at"] is None
    assert not any(s in repr(k.public()) for k in keys for s in made)


def test_revoke_stops_the_key_at_once(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> tuple[ApiKey, object, object, list[ApiKey], ApiKey | None]:
        key, secret = await ring.create("ci", None)
        other, other_secret = await ring.create("other", None)
        revoked = await ring.revoke(key.id)
        return revoked, ring.by_secret(secret), ring.by_id(key.id), await ring.list(), ring.by_secret(other_secret)

    before = time.time()
    revoked, by_secret, by_id, listed, other = with_ring(tmp_path, body)
    assert by_secret is None and by_id is None
    assert revoked.revoked_at is not None and before <= revoked.revoked_at <= time.time()
    assert revoked.public()["revoked"] is True
    assert [(k.name, k.revoked_at is not None) for k in listed] == [("ci", True), ("other", False)]
    assert other is not None and other.name == "other"  # the others keep working


def test_revoking_twice_keeps_the_first_time(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> tuple[ApiKey, ApiKey]:
        key, _ = await ring.create("ci", None)
        first = await ring.revoke(key.id)
        await asyncio.sleep(0.01)
        return first, await ring.revoke(key.id)

    first, second = with_ring(tmp_path, body)
    assert second.revoked_at == first.revoked_at


def test_revoking_an_unknown_key(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> KeyNotFound:
        with pytest.raises(KeyNotFound) as caught:
            await ring.revoke("FK" + "Z" * 18)
        return caught.value

    exc = with_ring(tmp_path, body)
    assert isinstance(exc, LookupError)
    assert exc.key_id == "FK" + "Z" * 18


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    async def make(ring: Keyring) -> tuple[str, str, str]:
        kept, kept_secret = await ring.create("kept", "gold")
        gone, gone_secret = await ring.create("gone", None)
        await ring.revoke(gone.id)
        return kept.id, kept_secret, gone_secret

    kept_id, kept_secret, gone_secret = with_ring(tmp_path, make)

    async def look(ring: Keyring) -> tuple[ApiKey | None, ApiKey | None, tuple[ApiKey, str] | None]:
        return ring.by_secret(kept_secret), ring.by_secret(gone_secret), ring.by_id(kept_id)

    kept, gone, by_id = with_ring(tmp_path, look)
    assert kept is not None and (kept.id, kept.name, kept.plan) == (kept_id, "kept", "gold")
    assert gone is None
    assert by_id == (kept, kept_secret)


def test_a_key_revoked_by_another_process_stops_on_reload(tmp_path: Path) -> None:
    """``faas keys revoke`` with the server down writes the database; the server's next reload sees it."""

    async def scenario() -> tuple[ApiKey | None, ApiKey | None, ApiKey | None]:
        box = SecretBox.load(tmp_path)
        async with SQLiteStore(tmp_path / "faas.db") as server_store, SQLiteStore(tmp_path / "faas.db") as cli_store:
            async with Keyring(KeyStore(server_store), box) as server:
                key, secret = await server.create("ci", None)
                async with Keyring(KeyStore(cli_store), box) as cli:
                    seen_by_cli = cli.by_secret(secret)  # loaded at start
                    await cli.revoke(key.id)
                still = server.by_secret(secret)  # the server has not reloaded yet
                await server.reload()
                return seen_by_cli, still, server.by_secret(secret)

    seen_by_cli, before_reload, after_reload = asyncio.run(scenario())
    assert seen_by_cli is not None and before_reload is not None
    assert after_reload is None


def test_a_key_created_by_another_process_works_after_reload(tmp_path: Path) -> None:
    async def scenario() -> tuple[ApiKey | None, ApiKey | None]:
        box = SecretBox.load(tmp_path)
        async with SQLiteStore(tmp_path / "faas.db") as server_store, SQLiteStore(tmp_path / "faas.db") as cli_store:
            async with Keyring(KeyStore(server_store), box) as server:
                async with Keyring(KeyStore(cli_store), box) as cli:
                    _, secret = await cli.create("from-cli", None)
                before = server.by_secret(secret)
                await server.reload()
                return before, server.by_secret(secret)

    before, after = asyncio.run(scenario())
    assert before is None
    assert after is not None and after.name == "from-cli"


def test_a_row_that_does_not_decrypt_locks_out_only_itself(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def make(ring: Keyring) -> str:
        return (await ring.create("old-master-key", None))[0].id

    old_id = with_ring(tmp_path, make)
    other_box = SecretBox(secrets.token_bytes(32))

    async def body(ring: Keyring) -> tuple[tuple[ApiKey, str] | None, ApiKey | None, list[str]]:
        key, secret = await ring.create("new-master-key", None)
        await ring.reload()
        return ring.by_id(old_id), ring.by_secret(secret), [k.name for k in await ring.list()]

    with caplog.at_level(logging.ERROR, logger="faas.keys"):
        old, new, listed = with_ring(tmp_path, body, box=other_box)
    assert old is None
    assert new is not None and new.name == "new-master-key"
    assert listed == ["old-master-key", "new-master-key"]  # still listed, so it can be revoked
    assert old_id in caplog.text


# --- internal keys (one per function, memory only) -----------------------------------------------


def test_internal_keys(tmp_path: Path) -> None:
    async def body(ring: Keyring) -> str:
        key_id, secret = ring.add_internal("thumbs")
        assert re.fullmatch(r"FI[A-Z0-9]{18}", key_id)
        assert ring.add_internal("thumbs") == (key_id, secret)  # one per function
        assert ring.add_internal("other")[0] != key_id
        key = ring.by_secret(secret)
        assert key is not None
        assert (key.id, key.name, key.plan, key.internal) == (key_id, "function:thumbs", None, True)
        assert ring.by_id(key_id) == (key, secret)
        assert [k.name for k in await ring.list()] == []  # never stored
        await ring.reload()
        assert ring.by_secret(secret) == key  # a reload keeps them
        ring.drop_internal("thumbs")
        assert ring.by_secret(secret) is None and ring.by_id(key_id) is None
        ring.drop_internal("thumbs")  # dropping twice is harmless
        assert ring.add_internal("thumbs")[0] != key_id  # a new start gets a new key
        return key_id

    key_id = with_ring(tmp_path, body)
    assert not any(key_id.encode() in p.read_bytes() for p in tmp_path.iterdir() if p.is_file())


# --- the create request and the small pieces ------------------------------------------------------

PLANS = {"gold": UsagePlanConfig(name="gold", rate=10.0, burst=10), "free": UsagePlanConfig(name="free", quota=100)}


@pytest.mark.parametrize(
    ("name", "plan", "expected"),
    [
        ("ci", None, ("ci", None)),
        ("  padded  ", "gold", ("padded", "gold")),
        ("x" * 128, "free", ("x" * 128, "free")),
    ],
)
def test_valid_create_requests(name: str, plan: str | None, expected: tuple[str, str | None]) -> None:
    assert validate_new_key(name, plan, PLANS) == expected


@pytest.mark.parametrize(
    ("name", "plan", "plans", "message"),
    [
        ("", None, PLANS, "name: a key needs a name, 1-128 characters"),
        ("   ", None, PLANS, "name: a key needs a name"),
        ("x" * 129, None, PLANS, "name: a key needs a name"),
        (None, None, PLANS, "name: a key needs a name"),
        (5, None, PLANS, "name: a key needs a name"),
        ("ci", "platinum", PLANS, "plan: no usage plan 'platinum' in the config (known: free, gold)"),
        ("ci", 3, PLANS, "plan: no usage plan 3 in the config"),
        ("ci", "gold", {}, "plan: no usage plan 'gold' in the config (known: none are configured)"),
    ],
)
def test_invalid_create_requests_name_the_field(name: object, plan: object, plans: dict[str, UsagePlanConfig], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_new_key(name, plan, plans)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_ids_secrets_and_hashes() -> None:
    assert re.fullmatch(r"FK[A-Z0-9]{18}", new_key_id())
    assert re.fullmatch(r"FI[A-Z0-9]{18}", new_key_id("FI"))
    assert len({new_key_id() for _ in range(100)}) == 100
    secret = new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", secret)
    assert new_secret() != secret
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256
