"""Trace ids: the ``X-Amzn-Trace-Id`` every call carries, in X-Ray's format.

``Root=1-{8 hex epoch seconds}-{24 hex random};Parent={16 hex};Sampled=0|1``. A call whose request
brought a trace id (or a W3C ``traceparent``) runs under that Root; any other call starts a new one.
Each call gets its own Parent (a new segment id) under its Root: the worker sets the header as
``_X_AMZN_TRACE_ID`` for the call, so the X-Ray SDK's segment and a boto3 call back into faas carry it
on, and a chain of calls shares one Root. Pure functions, cheap: minting is ``os.urandom`` and hex.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

HEADER = "X-Amzn-Trace-Id"
ENV = "_X_AMZN_TRACE_ID"

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Trace:
    root: str  # "1-5759e988-bd862e3fe1be46a994272793"
    parent: str  # the segment id of this call (16 hex), or of the caller's for an incoming header
    sampled: str = "0"  # "0" or "1"
    extra: tuple[str, ...] = ()  # other fields of an incoming header ("Lineage=...", "Self=..."), kept

    @property
    def header(self) -> str:
        """The header value: ``Root=...;Parent=...;Sampled=...`` then any other fields as they came."""
        head = f"Root={self.root};Parent={self.parent};Sampled={self.sampled}"
        return head + "".join(";" + f for f in self.extra) if self.extra else head


def new_root() -> str:
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def new_segment() -> str:
    return os.urandom(8).hex()


def mint() -> Trace:
    """A new trace: a new Root (now + random) and a new segment (one ``os.urandom`` for both)."""
    h = os.urandom(20).hex()
    return Trace(f"1-{int(time.time()):08x}-{h[:24]}", h[24:])


def child(incoming: Trace) -> Trace:
    """A call's own trace under ``incoming``: the same Root, sampling and other fields, a new Parent."""
    return Trace(incoming.root, new_segment(), incoming.sampled, incoming.extra)


def _is_hex(s: str) -> bool:
    return all(c in _HEX for c in s)


def valid_root(root: str) -> bool:
    """``1-{8 hex}-{24 hex}`` (lower case)."""
    return len(root) == 35 and root[:2] == "1-" and root[10] == "-" and _is_hex(root[2:10]) and _is_hex(root[11:])


def parse(value: str) -> Trace | None:
    """An ``X-Amzn-Trace-Id`` value (fields in any order, other fields kept); None without a valid Root.
    A missing or bad Parent becomes a new one; a Sampled other than 0/1 (``?``: the caller left the
    decision to us) becomes 0."""
    root = parent = sampled = ""
    extra: list[str] = []
    for field in value.split(";"):
        key, eq, val = field.strip().partition("=")
        if not eq:
            continue
        k = key.strip().lower()
        val = val.strip()
        if k == "root":
            root = val.lower()
        elif k == "parent":
            parent = val.lower()
        elif k == "sampled":
            sampled = val
        elif key.strip() and ";" not in val and '"' not in field and "\\" not in field:
            extra.append(f"{key.strip()}={val}")
    if not valid_root(root):
        return None
    if len(parent) != 16 or not _is_hex(parent):
        parent = new_segment()
    return Trace(root, parent, sampled if sampled in ("0", "1") else "0", tuple(extra))


def from_traceparent(value: str) -> Trace | None:
    """A W3C ``traceparent`` (``00-{32 hex trace id}-{16 hex parent id}-{2 hex flags}``) as a trace:
    Root ``1-{first 8 hex}-{other 24}``, Parent the parent id, Sampled the flags' sampled bit."""
    parts = value.strip().lower().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_id, parent, flags = parts[0], parts[1], parts[2], parts[3]
    if version == "00" and len(parts) != 4:
        return None
    if len(trace_id) != 32 or len(parent) != 16 or len(flags) != 2:
        return None
    if not (_is_hex(version) and _is_hex(trace_id) and _is_hex(parent) and _is_hex(flags)):
        return None
    if trace_id == "0" * 32 or parent == "0" * 16:
        return None
    return Trace(f"1-{trace_id[:8]}-{trace_id[8:]}", parent, "1" if int(flags, 16) & 1 else "0")


def for_call(amzn: str | None = None, traceparent: str | None = None) -> Trace:
    """The trace of one call: under the incoming ``X-Amzn-Trace-Id`` if valid, else under a
    ``traceparent``'s trace id, else a new trace; always with a new Parent of its own."""
    if amzn:
        incoming = parse(amzn)
        if incoming is not None:
            return child(incoming)
    if traceparent:
        incoming = from_traceparent(traceparent)
        if incoming is not None:
            return child(incoming)
    return mint()


def from_scope_headers(headers: list[tuple[bytes, bytes]]) -> Trace:
    """``for_call`` on an ASGI request's (lower-case) headers."""
    amzn = parent = None
    for name, value in headers:
        if name == b"x-amzn-trace-id":
            amzn = value.decode("latin-1")
        elif name == b"traceparent":
            parent = value.decode("latin-1")
    if amzn is None and parent is None:
        return mint()
    return for_call(amzn, parent)
