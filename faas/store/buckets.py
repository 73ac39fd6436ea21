"""Bucket manifests: what each watched bucket held when last announced (size, mtime, ETag), and a
sequencer per bucket for the notifications' ordering. An object's change and its notifications
commit together, with an fsync: a file announced is never announced twice, nor lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from faas.events import BucketObject, QueuedEvent
from faas.store._db import EventDatabase
from faas.store.queue import insert_events

__all__ = ["BucketStore"]


class BucketStore(EventDatabase):
    """The ``bucket_objects`` and ``bucket_sequencers`` tables, on the event sources' connection."""

    async def bucket_objects(self) -> dict[tuple[str, str], BucketObject]:
        rows = await self.read("SELECT bucket, key, size, mtime_ns, etag FROM bucket_objects")
        return {(r[0], r[1]): BucketObject(bucket=r[0], key=r[1], size=r[2], mtime_ns=r[3], etag=r[4]) for r in rows}

    async def object_changed(
        self, obj: BucketObject, *, removed: bool, make_events: Callable[[int], Sequence[QueuedEvent]]
    ) -> None:
        """Record a created/overwritten (or removed) object and queue its notifications, atomically.
        ``make_events(sequencer)`` builds them from the bucket's next sequencer value."""
        async with self.transaction("announcing a bucket object", durable=True) as db:
            await db.execute(
                "INSERT INTO bucket_sequencers (bucket, last) VALUES (?, 1) "
                "ON CONFLICT (bucket) DO UPDATE SET last = last + 1",
                (obj.bucket,),
            )
            async with db.execute("SELECT last FROM bucket_sequencers WHERE bucket = ?", (obj.bucket,)) as cur:
                row = await cur.fetchone()
            sequencer = int(row[0]) if row else 1
            if removed:
                await db.execute("DELETE FROM bucket_objects WHERE bucket = ? AND key = ?", (obj.bucket, obj.key))
            else:
                await db.execute(
                    "INSERT OR REPLACE INTO bucket_objects (bucket, key, size, mtime_ns, etag, announced_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (obj.bucket, obj.key, obj.size, obj.mtime_ns, obj.etag, time.time()),
                )
            await insert_events(db, make_events(sequencer))

    async def object_touched(self, obj: BucketObject) -> None:
        """Same content, new mtime (e.g. ``touch``): remember it without announcing anything."""
        async with self.transaction("updating a bucket object") as db:
            await db.execute(
                "UPDATE bucket_objects SET size = ?, mtime_ns = ? WHERE bucket = ? AND key = ?",
                (obj.size, obj.mtime_ns, obj.bucket, obj.key),
            )
