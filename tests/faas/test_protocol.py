"""The wire protocol's two guards, read without a server: the worker spec survives its trip to the
zygote, and a worker refuses a frame over the limit instead of reading it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from faas.executor import protocol
from faas.executor.protocol import WorkerSpec
from faas.executor.worker import Worker


def spec(tmp_path: Path, **changes: object) -> WorkerSpec:
    fields: dict[str, object] = {
        "worker_id": "w1", "function": "hello", "handler": "hello.handler", "memory_mb": 256,
        "env": {"AWS_REGION": "eu-west-1", "GREETING": "hi"}, "dir": str(tmp_path / "w1"),
        "code_paths": (str(tmp_path),), "log_stream": "2026/01/01/[$LATEST]w1", "log_cap": 4096,
        "max_processes": 8, "max_open_files": 64, "max_file_bytes": 1 << 20,
    }
    fields.update(changes)
    return WorkerSpec(**fields)  # type: ignore[arg-type]


def test_worker_spec_round_trips_through_json(tmp_path: Path) -> None:
    for one in (spec(tmp_path), spec(tmp_path, uid=1234, gid=1235)):
        assert WorkerSpec.from_json(one.to_json()) == one


def test_worker_environment_is_the_functions_plus_its_own_log_stream_and_tmp(tmp_path: Path) -> None:
    s = spec(tmp_path)
    tmp = str(tmp_path / "w1" / "tmp")
    assert s.environ() == {
        "AWS_REGION": "eu-west-1", "GREETING": "hi",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]w1", "TMPDIR": tmp, "HOME": tmp,
    }
    assert s.log_group == "/aws/lambda/hello"


def test_header_over_the_limit_is_refused() -> None:
    assert protocol.unpack_header(protocol.HEADER.pack(protocol.MAX_FRAME, protocol.RESULT)) == (
        protocol.MAX_FRAME, protocol.RESULT,
    )
    with pytest.raises(protocol.FrameTooLarge, match=f"over the limit of {protocol.MAX_FRAME} bytes"):
        protocol.unpack_header(protocol.HEADER.pack(protocol.MAX_FRAME + 1, protocol.RESULT))


def test_worker_stops_at_an_oversized_frame_without_reading_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = socket.socketpair()
    log_fd = os.open(tmp_path / "output.log", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    worker = Worker(theirs, spec(tmp_path), log_fd)
    try:
        ours.sendall(protocol.HEADER.pack(protocol.MAX_FRAME + 1, protocol.INVOKE) + b"x" * 1024)
        with pytest.raises(SystemExit) as stopped:
            worker.serve()
        assert stopped.value.code == 1
        assert f"a frame of {protocol.MAX_FRAME + 1} bytes is over the limit" in capsys.readouterr().out
    finally:
        worker.rfile.close()
        os.close(log_fd)
        ours.close()
        theirs.close()
