"""``EventStore``: the event sources' tables (async queue, dead letters, schedule state and runs,
bucket manifests), and how durably each write commits.

It has a connection of its own to the same SQLite file, so its transactions never interleave with
the metering writer's on the main one. What we acknowledge to someone outside (an event answered
with 202, a file announced) commits with ``synchronous=FULL``: on disk before we say so.
Bookkeeping (claims, finished tries, schedule fires and runs) commits with the WAL's
``synchronous=NORMAL``: it survives a crash or SIGKILL of the server, and only a power loss can
take its last moments back (a fire is then caught up by the misfire logic, a try is run again).
An fsync per schedule run would cap a few hundred runs a second and make every fire late.
Every method holds one lock, so each is one transaction. The schema is in ``faas.store.schema``,
applied on opening like the main store's.
"""

from __future__ import annotations

from faas.store.buckets import BucketStore
from faas.store.queue import QueueStore
from faas.store.schedules import ScheduleStore

__all__ = ["EventStore"]


class EventStore(QueueStore, ScheduleStore, BucketStore):
    """Async access to the event-source tables. Use as ``async with EventStore(path) as events``.

    One class over three modules (one per table family), because a schedule's fire and a bucket's
    announcement queue their events in the same transaction as their own rows."""
