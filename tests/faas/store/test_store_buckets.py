"""faas.store.buckets: bucket manifests and per-bucket sequencers, announced with their events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from faas.events import BucketObject, QueuedEvent
from faas.store.buckets import BucketStore


def _obj(key: str, *, size: int = 3, mtime_ns: int = 1_000, etag: str = "e1", bucket: str = "photos") -> BucketObject:
    return BucketObject(bucket=bucket, key=key, size=size, mtime_ns=mtime_ns, etag=etag)


def _events_for(obj: BucketObject, sequencers: list[int]) -> Callable[[int], Sequence[QueuedEvent]]:
    def make_events(sequencer: int) -> Sequence[QueuedEvent]:
        sequencers.append(sequencer)
        return [QueuedEvent(id=f"{obj.bucket}/{obj.key}#{sequencer}", function="on-upload", trigger="bucket",
                            caller=None, payload=b"{}", enqueued_at=1.0, next_at=1.0)]

    return make_events


async def _queued(buckets: BucketStore) -> list[str]:
    return [str(r[0]) for r in await buckets.read("SELECT id FROM async_queue ORDER BY id")]


def test_changes_are_remembered_and_announced_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        seq: list[int] = []
        async with BucketStore(tmp_path / "faas.db") as buckets:
            assert await buckets.bucket_objects() == {}
            a, b, other = _obj("a.jpg"), _obj("b.jpg", size=5), _obj("x", bucket="docs")
            for obj in (a, b, other):
                await buckets.object_changed(obj, removed=False, make_events=_events_for(obj, seq))
            a2 = _obj("a.jpg", size=9, mtime_ns=2_000, etag="e2")
            await buckets.object_changed(a2, removed=False, make_events=_events_for(a2, seq))
            assert seq == [1, 2, 1, 3]  # one sequencer per bucket
            await buckets.object_changed(b, removed=True, make_events=_events_for(b, seq))
            assert seq[-1] == 4
        async with BucketStore(tmp_path / "faas.db") as buckets:  # durable
            assert await buckets.bucket_objects() == {("photos", "a.jpg"): a2, ("docs", "x"): other}
            assert await _queued(buckets) == [
                "docs/x#1", "photos/a.jpg#1", "photos/a.jpg#3", "photos/b.jpg#2", "photos/b.jpg#4"
            ]

    asyncio.run(scenario())


def test_a_touch_is_remembered_without_an_announcement(tmp_path: Path) -> None:
    async def scenario() -> None:
        seq: list[int] = []
        async with BucketStore(tmp_path / "faas.db") as buckets:
            a = _obj("a.jpg")
            await buckets.object_changed(a, removed=False, make_events=_events_for(a, seq))
            touched = _obj("a.jpg", mtime_ns=5_000)
            await buckets.object_touched(touched)
            assert await buckets.bucket_objects() == {("photos", "a.jpg"): touched}
            assert await _queued(buckets) == ["photos/a.jpg#1"] and seq == [1]

    asyncio.run(scenario())


def test_an_announcement_whose_events_fail_is_not_recorded(tmp_path: Path) -> None:
    def broken(sequencer: int) -> Sequence[QueuedEvent]:
        raise RuntimeError("no events")

    async def scenario() -> None:
        seq: list[int] = []
        async with BucketStore(tmp_path / "faas.db") as buckets:
            with pytest.raises(RuntimeError):
                await buckets.object_changed(_obj("a.jpg"), removed=False, make_events=broken)
            assert await buckets.bucket_objects() == {}
            b = _obj("b.jpg")
            await buckets.object_changed(b, removed=False, make_events=_events_for(b, seq))
            assert seq == [1]  # the failed announcement did not use up a sequencer value

    asyncio.run(scenario())
