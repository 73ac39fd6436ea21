"""``PUT`` / ``GET`` / ``HEAD`` / ``DELETE /buckets/NAME/KEY``: upload, download and remove objects.

An upload streams into a hidden ``.faas-upload-*`` file next to its destination, is flushed to disk,
and is then renamed into place, so the bucket watcher never sees it half-written; the watcher
announces it like any file that lands in the bucket. ``auth = "api_key"`` buckets need an API key
(``x-api-key``, which also passes its usage plan) or the admin key (``Authorization: Bearer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import IO

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from faas.buckets import UPLOAD_PREFIX, bucket_root, object_path
from faas.config import BucketConfig
from faas.exceptions import BucketKeyError
from faas.runtime import Runtime
from gateway.auth import BUCKETS, REFUSALS, authorize
from gateway.errors import gateway_error

log = logging.getLogger(__name__)


def _message(status: int, message: str) -> Response:
    """The bucket API's own answers, in the API Gateway style of gateway/errors.py."""
    return Response(json.dumps({"message": message}), status, media_type="application/json")


class BucketApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _target(self, request: Request) -> tuple[BucketConfig, Path] | Response:
        """The bucket and the object's path, or the error response that refuses the request."""
        name = request.path_params["name"]
        buckets = {b.name: b for b in self.runtime.config.buckets}
        bucket = buckets.get(name)
        if bucket is None:
            return _message(404, f"no bucket named {name!r}")
        if bucket.auth != "none":
            try:
                await authorize(self.runtime, request.scope, BUCKETS)
            except REFUSALS as exc:
                return gateway_error(exc)
        root = bucket_root(self.runtime.config.server.data_dir, name)
        try:
            return bucket, object_path(root, request.path_params["key"])
        except BucketKeyError as exc:
            return gateway_error(exc)

    async def get(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        _, path = target
        if not path.is_file():
            return _message(404, f"no object {request.path_params['key']!r} in bucket {request.path_params['name']!r}")
        return FileResponse(path, media_type="application/octet-stream")

    async def delete(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        _, path = target
        if path.is_dir():
            return _message(409, f"{request.path_params['key']!r} is a folder of other keys, not an object")
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        return Response(status_code=204)  # as S3: deleting a missing key succeeds

    async def put(self, request: Request) -> Response:
        target = await self._target(request)
        if isinstance(target, Response):
            return target
        bucket, path = target
        key = request.path_params["key"]
        limit = bucket.max_object_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _message(413, f"object of {declared} bytes is over the bucket's max_object_bytes of {limit}")
        if path.is_dir():
            return _message(409, f"{key!r} is a folder of other keys, not an object")
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            return _message(409, f"a parent of {key!r} is an object, so it cannot hold other keys")
        temp = path.parent / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        f: IO[bytes] = await asyncio.to_thread(open, temp, "wb")
        try:
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return _message(413, f"object over the bucket's max_object_bytes of {limit}")
                    digest.update(chunk)
                    await asyncio.to_thread(f.write, chunk)
                await asyncio.to_thread(_flush, f)
            finally:
                await asyncio.to_thread(f.close)
            await asyncio.to_thread(os.replace, temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        etag = digest.hexdigest()
        log.info("bucket %s: stored %s (%d bytes)", bucket.name, key, size)
        return Response(json.dumps({"bucket": bucket.name, "key": key, "size": size, "eTag": etag}), 200,
                        {"ETag": f'"{etag}"'}, media_type="application/json")


def _flush(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())
