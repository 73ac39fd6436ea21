"""The Lambda Invoke API: ``POST /2015-03-31/functions/{name}/invocations``, as boto3 calls it."""

from __future__ import annotations

import base64
import binascii
import json

from starlette.requests import Request
from starlette.responses import Response

from faas.asyncq import ASYNC_PAYLOAD_LIMIT
from faas.exceptions import FaaSError, FunctionNotFound, InvalidRequest, PayloadTooLarge
from faas.invoke import new_request_id
from faas.records import Trigger
from faas.registry import arn
from faas.runtime import Runtime
from faas.trace import for_call
from gateway.auth import INVOKE_API, REFUSALS, authorize
from gateway.errors import aws_error, lambda_error

SYNC_LIMIT = 6 * 1024 * 1024
LOG_TAIL = 4096
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def parse_function_name(raw: str, qualifier: str | None) -> tuple[str, str | None]:
    """Accept ``name``, ``name:qualifier``, ``arn:aws:lambda:r:acct:function:name[:qualifier]``."""
    if raw.startswith("arn:"):
        parts = raw.split(":")
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise FunctionNotFound(raw)
        name = parts[6]
        qual = parts[7] if len(parts) > 7 else None
    elif ":function:" in raw:  # partial ARN: 123456789012:function:name[:qualifier]
        rest = raw.split(":function:", 1)[1].split(":")
        name, qual = rest[0], (rest[1] if len(rest) > 1 else None)
    else:
        name, _, qual_part = raw.partition(":")
        qual = qual_part or None
    if qual and qualifier and qual != qualifier:
        raise InvalidRequest("The derived qualifier from the function name does not match the specified qualifier.")
    return name, (qual or qualifier)


class InvokeApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def invoke(self, request: Request) -> Response:
        rid = new_request_id()
        is_event = request.headers.get("x-amz-invocation-type") == "Event"
        try:
            payload = await self._read(request, ASYNC_PAYLOAD_LIMIT if is_event else SYNC_LIMIT)
        except PayloadTooLarge as exc:
            return lambda_error(exc, rid)
        try:
            caller = await authorize(self.runtime, request.scope, INVOKE_API, payload)
        except REFUSALS as exc:
            return lambda_error(exc, rid)
        invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES:
            return aws_error(400, "InvalidParameterValueException",
                             f"Invalid invocation type {invocation_type!r}: must be RequestResponse, Event or DryRun", rid)
        try:
            name, qualifier = parse_function_name(request.path_params["name"], request.query_params.get("Qualifier"))
            self.runtime.registry.config_of(name)
            fn_arn = arn(self.runtime.config, name)
            if qualifier not in (None, "$LATEST"):
                raise FunctionNotFound(f"{fn_arn}:{qualifier}")
            if invocation_type == "DryRun":
                return Response(status_code=204, headers={"x-amzn-RequestId": rid})
            payload = _validate_json(payload)
            # boto3 sends X-Amzn-Trace-Id when _X_AMZN_TRACE_ID is set (as in a function): a chain of
            # calls shares its Root.
            trace = for_call(request.headers.get("x-amzn-trace-id"), request.headers.get("traceparent"))
            if invocation_type == "Event":
                # 202 once the event is durably queued; the async queue runs it (and retries).
                await self.runtime.asyncq.enqueue(name, payload, trigger=Trigger.ASYNC, caller=caller.id,
                                                  event_id=rid, trace=trace.header)
                return Response(status_code=202, headers={"x-amzn-RequestId": rid, "X-Amzn-Trace-Id": trace.header})
            client_context = _client_context(request.headers.get("x-amz-client-context"))
            result = await self.runtime.invoker.invoke(
                name, payload, trigger=Trigger.INVOKE, caller=caller.id, client_context=client_context,
                invoked_arn=fn_arn if qualifier is None else f"{fn_arn}:{qualifier}", request_id=rid, trace=trace,
            )
        except FaaSError as exc:
            return lambda_error(exc, rid)
        body = result.body
        headers = {"x-amzn-RequestId": rid, "X-Amz-Executed-Version": "$LATEST", "X-Amzn-Trace-Id": trace.header}
        if not result.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if request.headers.get("x-amz-log-type", "None") == "Tail":
            tail = result.log.encode("utf-8")[-LOG_TAIL:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode("ascii")
        return Response(body, 200, headers, media_type="application/json")

    async def _read(self, request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(int(declared), limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _validate_json(payload: bytes) -> bytes:
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"Could not parse request body into json: {exc}") from exc
    return payload


def _client_context(header: str | None) -> str | None:
    if not header:
        return None
    try:
        data = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("Client context must be a valid Base64-encoded JSON object.") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("Client context must be a valid Base64-encoded JSON object.")
    return json.dumps(data)
