"""Bucket watches: files that land in ``data_dir/buckets/NAME/`` announced as S3 notifications.

However a file gets there (``PUT /buckets/NAME/KEY``, a copy by hand, a function writing it), it is
announced once, and only when complete:

- watchfiles says a path changed (added, modified, deleted); the path is looked at at once and
  again after the bucket's ``settle_seconds``; it is announced only when its size and mtime held
  still across that window, and again after hashing it. A slow copy keeps moving the window on.
  Hidden names (a segment starting with ``.``) are never objects, so writing ``.name.part`` and
  renaming it is the way to be announced without waiting for any window to pass.
- the manifest in SQLite (bucket, key, size, mtime, eTag) says what was announced. At start, and
  every ``RESCAN_SECONDS`` in case the OS dropped a notification, every bucket is compared with it:
  files that landed, changed or went while the server was down are announced then.
- an announcement is one transaction: the manifest row and the queued S3 event(s). The async queue
  runs them with ``trigger = "bucket"`` and retries them per the function's ``max_retries``.
- an object whose content (eTag) did not change is not announced again (a ``touch``, a restart).

The event is the S3 ``ObjectCreated:Put`` / ``ObjectRemoved:Delete`` notification, version 2.1 of
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import watchfiles

from faas.background import TaskSet
from faas.buckets import BUCKETS_DIR, UPLOAD_PREFIX, is_hidden, md5_file, object_path
from faas.config import BucketConfig, Config
from faas.events import BucketObject, QueuedEvent, iso_time
from faas.exceptions import BucketKeyError, FaaSError
from faas.records import Trigger
from faas.runtime import Runtime

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0
CREATED = "ObjectCreated:Put"
REMOVED = "ObjectRemoved:Delete"

Key = tuple[str, str]  # (bucket, key)
Signature = tuple[int, int] | None  # (size, mtime_ns) of a regular file, None when there is none


def s3_event(
    config: Config, bucket: BucketConfig, event_name: str, key: str, *, sequencer: int,
    event_time: float, size: int | None = None, etag: str | None = None,
) -> bytes:
    """The S3 event notification for one object (a ``Records`` list of one)."""
    server = config.server
    obj: dict[str, object] = {"key": quote_plus(key, safe="/")}
    if event_name.startswith("ObjectCreated"):
        obj.update(size=size, eTag=etag)
    obj["sequencer"] = f"{sequencer:016X}"
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": server.region,
        "eventTime": iso_time(event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": "faas"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": f"{bucket.name}-{bucket.function}",
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": server.account_id},
                "arn": f"arn:aws:s3:::{bucket.name}",
            },
            "object": obj,
        },
    }
    return json.dumps({"Records": [record]}).encode()


@dataclass(slots=True)
class _Pending:
    seen: Signature | bool  # False: not looked at yet
    due: float


class BucketWatcher:
    """Watches every configured bucket; an async context manager started by ``faas serve``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = runtime.events
        self.queue = runtime.asyncq
        self.root = runtime.config.server.data_dir / BUCKETS_DIR
        self._manifest: dict[Key, BucketObject] = {}
        self._pending: dict[Key, _Pending] = {}
        self._refused: set[Key] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks = TaskSet("bucket watch")
        self._config_changed = False
        self.announced = 0

    def _buckets(self) -> dict[str, BucketConfig]:
        return {b.name: b for b in self.runtime.registry.config.buckets}

    async def __aenter__(self) -> "BucketWatcher":
        await asyncio.to_thread(self._make_folders)
        await asyncio.to_thread(self._remove_stale_uploads)
        self._manifest = await self.store.bucket_objects()
        ready = asyncio.get_running_loop().create_future()
        self._tasks.spawn(self._watch(ready))
        self._tasks.spawn(self._settle())
        await ready
        # A file landing before the watch is active and after this scan is found by the next rescan.
        await self._scan()
        self.runtime.registry.subscribe(self._on_config)
        return self

    def _on_config(self, config: Config, changed: set[str]) -> None:
        """A reloaded config may name new buckets: make their folders and look at them (in _settle)."""
        self._config_changed = True
        self._wake.set()

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await self._tasks.cancel()

    def _make_folders(self) -> None:
        for name in self._buckets():
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def _remove_stale_uploads(self) -> None:
        """Uploads cut short by a crash. Only at start: none can be in progress before HTTP is served."""
        for stale in self.root.glob(f"*/**/{UPLOAD_PREFIX}*"):
            with contextlib.suppress(OSError):
                stale.unlink()
                log.info("removed %s, an upload cut short", stale)

    # --- noticing changes ---------------------------------------------------------------------

    async def _watch(self, ready: asyncio.Future[None]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ready.set_result(None)
        async for changes in watchfiles.awatch(
            self.root, stop_event=self._stop, debounce=50, step=25, recursive=True, watch_filter=None
        ):
            for _, raw in changes:
                await self._changed(Path(raw))

    async def _changed(self, path: Path) -> None:
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return
        buckets = self._buckets()
        if not parts or parts[0] not in buckets:
            return
        bucket, key = parts[0], "/".join(parts[1:])
        if key and is_hidden(key):
            return
        if not key or path.is_dir():  # a folder came (or a whole bucket): everything in it
            await self._dirty_prefix(bucket, key + "/" if key else "")
            return
        self._dirty((bucket, key))
        # a folder removed or renamed away takes its objects with it
        await self._dirty_prefix(bucket, key + "/", only_known=True)

    def _dirty(self, k: Key) -> None:
        pending = self._pending.get(k)
        now = asyncio.get_running_loop().time()
        if pending is None:
            self._pending[k] = _Pending(seen=False, due=now)
        elif pending.seen is False:
            pending.due = now
        # else a check is already due settle_seconds after the last change we saw; it will notice
        # this one. Checking now instead could compare two looks a moment apart and call a file
        # that is still being written "settled" (watch events arrive late and in batches).
        self._wake.set()

    async def _dirty_prefix(self, bucket: str, prefix: str, *, only_known: bool = False) -> None:
        for k in [k for k in self._manifest if k[0] == bucket and k[1].startswith(prefix)]:
            self._dirty(k)
        if not only_known:
            for key in await asyncio.to_thread(_walk, self.root / bucket, prefix):
                self._dirty((bucket, key))

    async def _scan(self) -> None:
        """Compare every bucket with the manifest: what changed while we were not looking is dirty."""
        buckets = self._buckets()
        found = await asyncio.to_thread(_scan, self.root, list(buckets))
        for k, sig in found.items():
            known = self._manifest.get(k)
            if known is None or (known.size, known.mtime_ns) != sig:
                self._dirty(k)
        for k in list(self._manifest):
            if k[0] in buckets and k not in found:
                self._dirty(k)

    # --- settling and announcing ----------------------------------------------------------------

    async def _settle(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = loop.time() + RESCAN_SECONDS
        while True:
            self._wake.clear()
            now = loop.time()
            for k in [k for k, p in self._pending.items() if p.due <= now]:
                try:
                    await self._check(k)
                except FaaSError as exc:  # the store failed: look again later
                    log.error("bucket %s: %s: %s; trying again", k[0], k[1], exc)
                    self._pending[k] = _Pending(seen=False, due=loop.time() + 1.0)
            if self._config_changed:
                self._config_changed = False
                await asyncio.to_thread(self._make_folders)
                next_scan = loop.time()
            if loop.time() >= next_scan:
                next_scan = loop.time() + RESCAN_SECONDS
                await self._scan()
            wake_at = min([p.due for p in self._pending.values()] + [next_scan])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - loop.time()))

    async def _check(self, k: Key) -> None:
        bucket = self._buckets().get(k[0])
        pending = self._pending.get(k)
        if bucket is None or pending is None:
            self._pending.pop(k, None)
            return
        loop = asyncio.get_running_loop()
        sig = await asyncio.to_thread(self._signature, k)
        if pending.seen is False or sig != pending.seen:
            pending.seen, pending.due = sig, loop.time() + bucket.settle_seconds  # still moving: wait
            return
        del self._pending[k]
        known = self._manifest.get(k)
        if sig is None:
            if known is not None:
                await self._announce(bucket, known, removed=True)
            return
        if known is not None and (known.size, known.mtime_ns) == sig:
            return
        path = self.root / k[0] / k[1]
        try:
            etag, size = await asyncio.to_thread(md5_file, path)
        except OSError:
            self._dirty(k)
            return
        if await asyncio.to_thread(self._signature, k) != sig:
            self._dirty(k)  # changed while it was read
            return
        obj = BucketObject(bucket=k[0], key=k[1], size=size, mtime_ns=sig[1], etag=etag)
        if known is not None and known.etag == etag:
            await self.store.object_touched(obj)
            self._manifest[k] = obj
            return
        await self._announce(bucket, obj, removed=False)

    def _signature(self, k: Key) -> Signature:
        """(size, mtime_ns) of the object's file; None if there is no regular file in the bucket there."""
        bucket_dir = self.root / k[0]
        try:
            path = object_path(bucket_dir, k[1])
            st = path.stat()
        except BucketKeyError as exc:
            if k not in self._refused:
                self._refused.add(k)
                log.warning("bucket %s: %s: not announced", k[0], exc)
            return None
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return st.st_size, st.st_mtime_ns

    async def _announce(self, bucket: BucketConfig, obj: BucketObject, *, removed: bool) -> None:
        config = self.runtime.registry.config
        event_name = REMOVED if removed else CREATED
        function = bucket.function

        def make_events(sequencer: int) -> list[QueuedEvent]:
            if function is None or not bucket.wants(event_name, obj.key):
                return []
            payload = s3_event(
                config, bucket, event_name, obj.key, sequencer=sequencer,
                event_time=time.time() if removed else obj.mtime_ns / 1e9,
                size=obj.size, etag=obj.etag,
            )
            return [self.queue.new_event(function, payload, trigger=Trigger.BUCKET)]

        await self.store.object_changed(obj, removed=removed, make_events=make_events)
        k = (obj.bucket, obj.key)
        if removed:
            self._manifest.pop(k, None)
        else:
            self._manifest[k] = obj
        self.announced += 1
        self.queue.wake()
        log.info("bucket %s: %s %s", obj.bucket, event_name, obj.key)


def _walk(folder: Path, prefix: str) -> list[str]:
    """Keys of the regular files under ``folder/prefix`` (hidden names left out). Blocking."""
    out: list[str] = []
    base = folder / prefix if prefix else folder
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = Path(dirpath).relative_to(folder)
        for name in filenames:
            if name.startswith("."):
                continue
            key = (rel / name).as_posix()
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                log.warning("bucket folder %s: %r is not a UTF-8 name; not announced", folder, key)
                continue
            out.append(key)
    return out


def _scan(root: Path, buckets: list[str]) -> dict[Key, tuple[int, int]]:
    """Every regular file of every bucket with its (size, mtime_ns). Blocking."""
    found: dict[Key, tuple[int, int]] = {}
    for bucket in buckets:
        folder = root / bucket
        for key in _walk(folder, ""):
            try:
                st = (folder / key).stat()
            except OSError:
                continue
            found[(bucket, key)] = (st.st_size, st.st_mtime_ns)
    return found
