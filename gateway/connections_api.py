"""The @connections management API: ``/{stage}/@connections/{connectionId}`` (POST send, GET info,
DELETE disconnect), as boto3's ``apigatewaymanagementapi`` client calls it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from faas.runtime import Runtime
from gateway.auth import CONNECTIONS, REFUSALS, authorize
from gateway.errors import aws_error, connections_error
from gateway.websocket import WebSocketApi

MAX_POST_BYTES = 131072


class ConnectionsApi:
    def __init__(self, runtime: Runtime, sockets: WebSocketApi) -> None:
        self.runtime = runtime
        self.sockets = sockets

    async def handle(self, request: Request) -> Response:
        stage = request.path_params["stage"]
        conn_id = request.path_params["connectionId"]
        body = await request.body() if request.method == "POST" else b""
        try:
            await authorize(self.runtime, request.scope, CONNECTIONS, body)
        except REFUSALS as exc:
            return connections_error(exc)
        ws = self.sockets.stage(stage)
        if ws is None:
            return JSONResponse({"message": "Not Found"}, 404)
        conn = self.sockets.connections.get(conn_id)
        if conn is None or conn.ws.path != ws.path or not conn.open:
            return aws_error(410, "GoneException", f"Connection {conn_id} is gone")
        if request.method == "GET":
            return JSONResponse(conn.info())
        if request.method == "DELETE":
            await conn.close(1000)
            return Response(status_code=204)
        if len(body) > MAX_POST_BYTES:
            return aws_error(413, "PayloadTooLargeException", f"Message of {len(body)} bytes is over the limit of {MAX_POST_BYTES} bytes")
        if not await conn.send_text_or_bytes(body):
            return aws_error(410, "GoneException", f"Connection {conn_id} is gone")
        return Response(status_code=200)
