"""The worker runtime: what runs inside a worker process, between the gateway and the handler.

It plays the part of the AWS Lambda Python runtime interface client: import the handler once (the
init phase), then serve one invocation at a time over the wire protocol. Standard library only.

Output: file descriptors 1 and 2 point at one append-only log file, so ``print``, ``logging``, C
extensions and child processes all land in the call's log, and the gateway can still read what a
killed worker wrote. After each call the worker reads the file and truncates it.
"""

from __future__ import annotations

import asyncio
import decimal
import importlib
import inspect
import io
import json
import logging
import os
import resource
import socket
import sys
import time
import traceback
from typing import Any, Callable

from faas.executor import protocol
from faas.executor.protocol import WorkerSpec
from faas.executor.worker_context import LambdaContext

Handler = Callable[[Any, LambdaContext], Any]

_TRACE_ENV = "_X_AMZN_TRACE_ID"  # the call's X-Amzn-Trace-Id, set for the duration of each call
environ = os.environ


class CappedOutput(io.TextIOBase):
    """A text stream over fd 1 that stops writing once a call has written ``cap`` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__()
        self._fd = fd
        self._cap = cap
        self.written = 0
        self.truncated = False

    def write(self, s: str) -> int:
        data = s.encode("utf-8", "replace")
        room = self._cap - self.written
        if room <= 0:
            self.truncated = True
            return len(s)
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except OSError:  # fd 1 closed or full (RLIMIT_FSIZE): output is lost, the call is not
                self.truncated = True
                return len(s)
            view = view[n:]
        self.written += len(data)
        return len(s)

    def fileno(self) -> int:
        return self._fd

    def flush(self) -> None:
        pass  # unbuffered: every write went straight to the fd

    def close(self) -> None:
        pass  # a handler closing sys.stdout must not silence the next calls (or break logging)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def buffer(self) -> "_BinaryView":
        return _BinaryView(self)


class _BinaryView:
    """``sys.stdout.buffer`` for code that writes bytes."""

    def __init__(self, text: CappedOutput) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        pass


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _RequestIdFilter.request_id
        return True


class _LambdaFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )


def _decimal_default(o: object) -> object:
    if isinstance(o, decimal.Decimal):
        return float(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def error_body(error_type: str, message: str, request_id: str | None, stack: list[str]) -> bytes:
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id is not None:
        body["requestId"] = request_id
    body["stackTrace"] = stack
    return json.dumps(body).encode()


def _stack(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop our own frames so the trace starts in user code, as on Lambda.
    frames = traceback.StackSummary.from_list([f for f in frames if f.filename != __file__])
    return traceback.format_list(frames)


class InitError(Exception):
    def __init__(self, error_type: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack


def load_handler(handler: str) -> Handler:
    """Import ``module.attr`` the way the Lambda runtime does, with its error types."""
    modname, dot, attr = handler.rpartition(".")
    if not dot or not modname or not attr:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack", [])
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise InitError(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {modname} as a handler module",
                [],
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}", []) from exc
    except SyntaxError as exc:
        stack = [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").rstrip()}\n']
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", stack) from exc
    except InitError:
        raise
    except Exception as exc:
        raise InitError(type(exc).__name__, str(exc), _stack(exc)) from exc
    fn = getattr(module, attr, None)
    if fn is None:
        message = f"Handler '{attr}' missing on module '{modname}'"
        origin = getattr(module, "__file__", None) or "built in"
        root = os.environ.get("LAMBDA_TASK_ROOT", "")
        if root and not str(origin).startswith(root):
            message += (
                f" (the module '{modname}' that loaded is {origin}, not your file: a function module must not "
                "share its name with a standard library or installed module)"
            )
        raise InitError("Runtime.HandlerNotFound", message, [])
    if not callable(fn):
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attr}' on module '{modname}' is not callable", [])
    return fn  # type: ignore[no-any-return]


class Worker:
    """Serves invocations for one function over one socket until the socket closes."""

    def __init__(self, sock: socket.socket, spec: WorkerSpec, log_fd: int) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.spec = spec
        self.log_fd = log_fd
        self.cap = spec.log_cap
        st = os.fstat(log_fd)
        self.log_id = (st.st_ino, st.st_dev)
        self.out = CappedOutput(1, self.cap)
        self.handler: Handler | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.memory = str(spec.memory_mb)
        self.log_group = spec.log_group
        # The first call's deadline moves by the init time: its timeout (the gateway's kill timer)
        # starts once init is done, as Lambda's does, while the Invoker set the deadline before it.
        self.init_grace_ms = 0.0

    # --- output -------------------------------------------------------------------------------

    def _take_log(self) -> bytes:
        sys.stdout.flush()
        sys.stderr.flush()
        size = os.fstat(self.log_fd).st_size
        if size == 0 and not self.out.truncated:
            return b""
        data = os.pread(self.log_fd, min(size, self.cap), 0) if size else b""
        os.ftruncate(self.log_fd, 0)
        if self.out.truncated or size > self.cap:
            data += b"\n[faas] log output truncated: more than %d bytes in one invocation\n" % self.cap
        self.out.written = 0
        self.out.truncated = False
        return data

    # --- phases -------------------------------------------------------------------------------

    def init(self) -> None:
        start = time.perf_counter()
        ok = True
        error = b""
        try:
            self.handler = load_handler(self.spec.handler)
        except InitError as exc:
            ok = False
            print(f"[ERROR] {exc.error_type}: {exc.message}", file=sys.stdout)
            error = error_body(exc.error_type, exc.message, None, exc.stack)
        init_ms = (time.perf_counter() - start) * 1000.0
        self.init_grace_ms = init_ms
        self.sock.sendall(protocol.encode_ready(init_ms, ok, self._take_log(), error))

    def serve(self) -> None:
        read = self.rfile.read
        while True:
            head = read(protocol.HEADER_SIZE)
            if len(head) < protocol.HEADER_SIZE:
                return
            try:
                length, kind = protocol.unpack_header(head)
            except protocol.FrameTooLarge as exc:
                # The stream cannot be trusted past a corrupt length: stop, and say why in the log.
                print(f"[faas] worker stopped: {exc}", file=sys.stdout)
                raise SystemExit(1) from None
            payload = read(length)
            if len(payload) < length:
                return
            if kind == protocol.INVOKE:
                self.sock.sendall(self.invoke(payload))

    def invoke(self, payload: bytes) -> bytes:
        meta_raw, event_raw = protocol.decode_invoke(payload)
        meta = json.loads(meta_raw)
        request_id: str = meta["id"]
        _RequestIdFilter.request_id = request_id
        spec = self.spec
        context = LambdaContext(
            aws_request_id=request_id,
            function_name=spec.function,
            function_version=spec.version,
            invoked_function_arn=meta["arn"],
            memory_limit_in_mb=self.memory,
            log_group_name=self.log_group,
            log_stream_name=spec.log_stream,
            deadline_ms=meta["deadline"] + self.init_grace_ms,
            client_context=meta.get("cc"),
        )
        self.init_grace_ms = 0.0
        status = protocol.STATUS_OK
        # The call's trace id, for this call only: the X-Ray SDK and boto3 read it from the environment.
        trace = meta.get("trace")
        saved_trace = environ.get(_TRACE_ENV)
        if trace:
            environ[_TRACE_ENV] = trace
        start = time.perf_counter()
        try:
            event = json.loads(event_raw) if event_raw else None
            assert self.handler is not None
            result = self.handler(event, context)
            if inspect.isawaitable(result):
                result = self._run_async(result)
            if isinstance(result, (bytes, bytearray)):
                body = bytes(result)
            else:
                try:
                    body = json.dumps(result, default=_decimal_default).encode()
                except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                    status = protocol.STATUS_ERROR
                    message = f"Unable to marshal response: {exc}"
                    print(f"[ERROR] Runtime.MarshalError: {message}", file=sys.stdout)
                    body = error_body("Runtime.MarshalError", message, request_id, [])
        except SystemExit:
            raise
        except BaseException as exc:  # the handler's own failure, reported the Lambda way
            status = protocol.STATUS_ERROR
            stack = _stack(exc)
            print(f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n{''.join(stack)}", end="")
            body = error_body(type(exc).__name__, str(exc), request_id, stack)
        duration_ms = (time.perf_counter() - start) * 1000.0
        if trace:
            if saved_trace is None:
                environ.pop(_TRACE_ENV, None)
            else:
                environ[_TRACE_ENV] = saved_trace
        max_rss = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        self._repair_output()
        return protocol.encode_result(status, duration_ms, max_rss, self._take_log(), body)

    def _repair_output(self) -> None:
        """A handler may close or replace stdout/stderr (or fds 1 and 2): put ours back for the next call."""
        try:
            out, err = os.fstat(1), os.fstat(2)
            ok = (out.st_ino, out.st_dev) == self.log_id == (err.st_ino, err.st_dev)
        except OSError:
            ok = False
        if not ok:
            os.dup2(self.log_fd, 1)
            os.dup2(self.log_fd, 2)
        if sys.stdout is not self.out or sys.stderr is not self.out:
            sys.stdout = self.out
            sys.stderr = self.out

    def _run_async(self, awaitable: Any) -> Any:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(awaitable)


def install_output(log_fd: int, cap: int) -> CappedOutput:
    """Point fds 1 and 2, ``sys.stdout``/``sys.stderr`` and the root logger at the log file."""
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = CappedOutput(1, cap)
    sys.stdout = out
    sys.stderr = out
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(out)
    handler.setFormatter(_LambdaFormatter())
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    return out


def run(sock: socket.socket, spec: WorkerSpec, log_fd: int) -> None:
    """Entry point in a freshly forked worker: set up output, init the handler, serve."""
    worker = Worker(sock, spec, log_fd)
    worker.out = install_output(log_fd, worker.cap)
    # The function's code goes before everything the zygote had (its environment, the runtime, the
    # standard library), as /var/task does on Lambda.
    code = list(spec.code_paths)
    sys.path[:] = [*code, *(p for p in sys.path if p not in code)]
    worker.init()
    if worker.handler is None:
        # Init failed and READY said why. Stay until the gateway hangs up (it kills us): exiting now
        # could fail the gateway's write of the first invoke frame, and with it the READY unread.
        while worker.rfile.read(65536):
            pass
        return
    worker.serve()
