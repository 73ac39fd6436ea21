"""Wire protocol between the gateway process and a worker (and the zygote).

Standard library only: both ends import it, and a worker must start fast.

A frame is a 5-byte header, ``!IB`` = payload length and frame type, followed by the payload.
Payloads are raw bytes so the event and the result are never re-encoded in transit.

gateway -> worker
  INVOKE   ``!H`` meta length, meta JSON (request id, deadline, arn, client context), event bytes

worker -> gateway
  READY    ``!dB`` init duration ms, ok flag; then ``!I`` log length, log bytes, error JSON if not ok
  RESULT   ``!BdI`` status, duration ms, max RSS KiB; then ``!I`` log length, log bytes, body bytes
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!IB")
HEADER_SIZE = HEADER.size

INVOKE = 1
READY = 2
RESULT = 3

INVOKE_META = struct.Struct("!H")
READY_HEAD = struct.Struct("!dBI")
RESULT_HEAD = struct.Struct("!BdII")

# RESULT status values
STATUS_OK = 0
STATUS_ERROR = 1  # the handler raised or its result could not be marshalled: body is the error JSON

# Largest frame either side accepts; guards against a corrupt length taking all memory.
MAX_FRAME = 64 * 1024 * 1024


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def encode_invoke(meta: bytes, event: bytes) -> bytes:
    return HEADER.pack(INVOKE_META.size + len(meta) + len(event), INVOKE) + INVOKE_META.pack(len(meta)) + meta + event


def decode_invoke(payload: bytes) -> tuple[bytes, bytes]:
    (meta_len,) = INVOKE_META.unpack_from(payload)
    start = INVOKE_META.size
    return payload[start : start + meta_len], payload[start + meta_len :]


def encode_ready(init_ms: float, ok: bool, log: bytes, error: bytes) -> bytes:
    return frame(READY, READY_HEAD.pack(init_ms, 1 if ok else 0, len(log)) + log + error)


def decode_ready(payload: bytes) -> tuple[float, bool, bytes, bytes]:
    init_ms, ok, log_len = READY_HEAD.unpack_from(payload)
    start = READY_HEAD.size
    return init_ms, bool(ok), payload[start : start + log_len], payload[start + log_len :]


def encode_result(status: int, duration_ms: float, max_rss_kib: int, log: bytes, body: bytes) -> bytes:
    head = RESULT_HEAD.pack(status, duration_ms, max_rss_kib, len(log))
    return HEADER.pack(len(head) + len(log) + len(body), RESULT) + head + log + body


def decode_result(payload: bytes) -> tuple[int, float, int, bytes, bytes]:
    status, duration_ms, max_rss_kib, log_len = RESULT_HEAD.unpack_from(payload)
    start = RESULT_HEAD.size
    return status, duration_ms, max_rss_kib, payload[start : start + log_len], payload[start + log_len :]


# --- control channel: gateway <-> zygote -----------------------------------------------------
# A control message is ``!II`` (total length, JSON length), a JSON object, then raw bytes (a log
# tail on exit notices). A spawn request carries the worker's socket as SCM_RIGHTS ancillary data.

CONTROL_HEAD = struct.Struct("!II")


def encode_control(message: dict[str, object], raw: bytes = b"") -> bytes:
    import json

    body = json.dumps(message, separators=(",", ":")).encode()
    return CONTROL_HEAD.pack(len(body) + len(raw), len(body)) + body + raw


class ControlReader:
    """Incremental decoder of control messages from a byte stream."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[dict[str, object], bytes]]:
        import json

        self._buf += data
        out: list[tuple[dict[str, object], bytes]] = []
        head = CONTROL_HEAD.size
        while len(self._buf) >= head:
            total, json_len = CONTROL_HEAD.unpack_from(self._buf)
            if len(self._buf) < head + total:
                break
            body = bytes(self._buf[head : head + json_len])
            raw = bytes(self._buf[head + json_len : head + total])
            del self._buf[: head + total]
            out.append((json.loads(body), raw))
        return out
