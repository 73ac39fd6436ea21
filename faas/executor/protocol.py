"""Wire protocol between the gateway process and a worker (and the zygote).

Standard library only: both ends import it, and a worker must start fast.

A frame is a 5-byte header, ``!IB`` = payload length and frame type, followed by the payload.
Payloads are raw bytes so the event and the result are never re-encoded in transit.

gateway -> worker
  INVOKE   ``!H`` meta length, meta JSON (request id, deadline, arn, client context), event bytes

worker -> gateway
  READY    ``!dB`` init duration ms, ok flag; then ``!I`` log length, log bytes, error JSON if not ok
  RESULT   ``!BdI`` status, duration ms, max RSS KiB; then ``!I`` log length, log bytes, body bytes

Neither end accepts a frame longer than ``MAX_FRAME``: a reader that meets one cannot trust the
stream any more and drops the connection (the gateway kills the worker; a worker exits).

gateway -> zygote (control channel, below): ``spawn`` carries a ``WorkerSpec`` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from collections.abc import Mapping

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

# Largest frame either side accepts: a corrupt or hostile length must not take all memory.
MAX_FRAME = 64 * 1024 * 1024


class FrameTooLarge(ValueError):
    """A frame header announced more than ``MAX_FRAME`` bytes."""

    def __init__(self, length: int) -> None:
        super().__init__(f"a frame of {length} bytes is over the limit of {MAX_FRAME} bytes")
        self.length = length


def unpack_header(data: bytes | bytearray) -> tuple[int, int]:
    """The payload length and frame type at the start of ``data``; raises FrameTooLarge."""
    length, kind = HEADER.unpack_from(data)
    if length > MAX_FRAME:
        raise FrameTooLarge(length)
    return length, kind


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


# --- what a worker is: built by the pool, carried to the zygote, read by the worker ----------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSpec:
    """Everything the zygote and the worker need to start one worker of one function."""

    worker_id: str
    function: str
    handler: str
    version: str = "$LATEST"
    memory_mb: int
    env: Mapping[str, str]  # the function's environment; ``environ()`` adds the worker's own part
    dir: str  # the worker's own folder: its output log and its ``tmp/``, removed when it exits
    # The function's code: put first on ``sys.path`` by the worker after fork, before it imports the
    # handler (the zygote's own path is the environment's folders, the runtime, the standard
    # library); the first is the working directory and LAMBDA_TASK_ROOT.
    code_paths: tuple[str, ...]
    log_stream: str
    log_cap: int  # bytes of output kept per call
    max_processes: int
    max_open_files: int
    max_file_bytes: int
    uid: int | None = None  # run as this user (and ``gid``) when the executor has one
    gid: int | None = None

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"

    @property
    def tmp_dir(self) -> str:
        return os.path.join(self.dir, "tmp")

    def environ(self) -> dict[str, str]:
        """The worker process's whole environment, put together here and nowhere else: the
        function's (``faas.registry.worker_environment``, the same for all its workers) plus this
        worker's own log stream and temporary folder."""
        env = dict(self.env)
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = self.log_stream
        env["TMPDIR"] = self.tmp_dir
        env["HOME"] = self.tmp_dir
        return env

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> WorkerSpec:
        fields = json.loads(data)
        fields["code_paths"] = tuple(fields["code_paths"])
        return cls(**fields)


# --- control channel: gateway <-> zygote -----------------------------------------------------
# A control message is ``!II`` (total length, JSON length), a JSON object, then raw bytes (a log
# tail on exit notices, the WorkerSpec on spawn requests). A spawn request carries the worker's
# socket as SCM_RIGHTS ancillary data.

CONTROL_HEAD = struct.Struct("!II")


def encode_control(message: dict[str, object], raw: bytes = b"") -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return CONTROL_HEAD.pack(len(body) + len(raw), len(body)) + body + raw


class ControlReader:
    """Incremental decoder of control messages from a byte stream."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[dict[str, object], bytes]]:
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
