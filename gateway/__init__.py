"""The HTTP and WebSocket gateway (Starlette)."""
