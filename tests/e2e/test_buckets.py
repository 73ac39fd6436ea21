"""Buckets with real files: uploads and hand copies announced once, complete, in the S3 event shape;
bad keys refused; files that land (or go) while the server is down announced after it starts."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import S3Model

from tests.conftest import ADMIN_KEY, Server, http, wait_for, wire
from tests.event_helpers import RECORDER, kill, records, servers, wait_records  # noqa: F401 (fixture)

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def config(out: Path, settle: float = 0.5) -> str:
    return f"""
[functions.rec]
handler = "rec.handler"
[functions.rec.environment]
OUT = "{out}"

[[buckets]]
name = "uploads"
function = "rec"
events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
auth = "none"
settle_seconds = {settle}

[[buckets]]
name = "private"
function = "rec"
prefix = "in/"
suffix = ".txt"
settle_seconds = 0.2
"""


def s3_records(out: Path, bucket: str | None = None) -> list[dict[str, Any]]:
    found = []
    for r in records(out):
        if "Records" in r["event"]:
            (record,) = r["event"]["Records"]
            if bucket is None or record["s3"]["bucket"]["name"] == bucket:
                found.append(record)
    return found


def announced(out: Path, key: str, event_name: str = "ObjectCreated:Put") -> list[dict[str, Any]]:
    return [r for r in s3_records(out) if unquote_plus(r["s3"]["object"]["key"]) == key and r["eventName"] == event_name]


def wait_announced(out: Path, key: str, event_name: str = "ObjectCreated:Put", timeout: float = 15) -> dict[str, Any]:
    found = wait_for(lambda: announced(out, key, event_name), timeout, what=f"{event_name} of {key}")
    return found[0]  # type: ignore[no-any-return]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_put_get_delete_announced_in_the_s3_shape(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    key = "photos/my photo (1).jpg"
    r = srv.client.put("/buckets/uploads/photos/my photo (1).jpg", content=b"first")
    assert r.status_code == 200 and r.headers["etag"] == f'"{md5(b"first")}"', r.text
    assert (srv.data_dir / "buckets" / "uploads" / key).read_bytes() == b"first"
    record = wait_announced(out, key)
    event = {"Records": [record]}
    model = S3Model(**event)  # the contract's shape, validated strictly
    obj = model.Records[0].s3.object
    assert record["s3"]["object"]["key"] == "photos/my+photo+%281%29.jpg"  # form-URL-encoded
    assert (obj.size, obj.eTag) == (5, md5(b"first"))
    assert record["eventName"] == "ObjectCreated:Put" and record["eventSource"] == "aws:s3"
    assert record["eventVersion"] == "2.1" and record["eventTime"].endswith("Z")
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::uploads"
    first_seq = int(record["s3"]["object"]["sequencer"], 16)

    # overwritten with other content: announced again, with a greater sequencer
    srv.client.put("/buckets/uploads/photos/my photo (1).jpg", content=b"second!")
    wait_for(lambda: len(announced(out, key)) == 2, what="second announcement")
    second = announced(out, key)[1]
    assert second["s3"]["object"]["eTag"] == md5(b"second!") and second["s3"]["object"]["size"] == 7
    assert int(second["s3"]["object"]["sequencer"], 16) > first_seq
    assert len(second["s3"]["object"]["sequencer"]) == len(record["s3"]["object"]["sequencer"])

    got = srv.client.get("/buckets/uploads/photos/my photo (1).jpg")
    assert got.status_code == 200 and got.content == b"second!"
    assert srv.client.head("/buckets/uploads/photos/my photo (1).jpg").status_code == 200
    missing = srv.client.get("/buckets/uploads/photos/none.jpg")
    assert missing.status_code == 404 and missing.json() == {"message": "no object 'photos/none.jpg' in bucket 'uploads'"}

    assert srv.client.delete("/buckets/uploads/photos/my photo (1).jpg").status_code == 204
    removed = wait_announced(out, key, "ObjectRemoved:Delete")
    S3Model(**{"Records": [removed]})
    assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"]
    assert srv.client.delete("/buckets/uploads/photos/my photo (1).jpg").status_code == 204  # as S3: idempotent
    # each announcement went through the Invoker: metered with trigger = bucket
    wait_for(lambda: srv.db_rows("SELECT trigger, COUNT(*) FROM invocations GROUP BY trigger") == [("bucket", 3)],
             what="three metered bucket invocations")


def test_bad_keys_and_auth_are_refused(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    private = srv.data_dir / "buckets" / "private"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")

    assert srv.client.put("/buckets/private/in/a.txt", content=b"a").status_code == 403  # auth = api_key
    assert srv.client.get("/buckets/private/in/a.txt").status_code == 403
    assert srv.client.put("/buckets/nope/a.txt", content=b"a", headers=AUTH).json() == {"message": "no bucket named 'nope'"}
    # an API key works too, an unknown one does not
    created = srv.client.post("/admin/api/keys", json={"name": "uploader"}, headers=AUTH)
    assert created.status_code == 201, created.text
    with_key = {"x-api-key": created.json()["secret"]}
    assert srv.client.put("/buckets/private/in/keyed.txt", content=b"k", headers=with_key).status_code == 200
    assert srv.client.get("/buckets/private/in/keyed.txt", headers=with_key).content == b"k"
    assert srv.client.put("/buckets/private/in/a.txt", content=b"a", headers={"x-api-key": "nope"}).status_code == 403

    def refused(method: str, path: str, message: str) -> None:
        r = srv.client.request(method, path, content=b"x", headers=AUTH)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert message in r.json()["message"], r.json()

    refused("PUT", "/buckets/private/%2E%2E/escape.txt", "contains '..': path traversal is refused")
    body = '{"message": "the object key \'in/.hidden.txt\' has a segment starting with \'.\': hidden names are never objects"}'
    assert wire(srv, "PUT", "/buckets/private/in/.hidden.txt", AUTH, b"x") == http(
        "400 Bad Request", f"content-length: {len(body)}", "content-type: application/json", body=body)
    assert wire(srv, "GET", "/buckets/nope/a.txt") == http(
        "404 Not Found", "content-length: 37", "content-type: application/json", body='{"message": "no bucket named \'nope\'"}')
    refused("PUT", "/buckets/private/in/%2E%2E/%2E%2E/%2E%2E/escape.txt", "path traversal is refused")
    refused("GET", "/buckets/private/%2E%2E/%2E%2E/faas.db", "path traversal is refused")
    refused("PUT", "/buckets/private/in/a%00b.txt", "contains a NUL byte")
    refused("PUT", "/buckets/private//etc/passwd", "is absolute")
    refused("PUT", "/buckets/private/in/.hidden.txt", "hidden names are never objects")
    (private / "link").symlink_to(outside)
    refused("PUT", "/buckets/private/link/planted.txt", "resolves outside the bucket through a symlink")
    refused("GET", "/buckets/private/link/secret.txt", "resolves outside the bucket through a symlink")
    refused("DELETE", "/buckets/private/link/secret.txt", "resolves outside the bucket through a symlink")
    assert not (outside / "planted.txt").exists() and (outside / "secret.txt").exists()
    assert not (srv.data_dir / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()

    # a symlinked file pointing out of the bucket is never announced; prefix and suffix filter the rest
    (private / "in").mkdir(exist_ok=True)
    (private / "in" / "leak.txt").symlink_to(outside / "secret.txt")
    for key in ("in/skip.png", "out/skip.txt", "in/take.txt"):
        assert srv.client.put(f"/buckets/private/{key}", content=key.encode(), headers=AUTH).status_code == 200
    wait_for(lambda: len(srv.db_rows("SELECT key FROM bucket_objects WHERE bucket = 'private'")) == 4,
             what="four objects in the manifest")
    wait_announced(out, "in/take.txt")
    wait_announced(out, "in/keyed.txt")  # uploaded first, but events are not delivered in order
    assert sorted(unquote_plus(r["s3"]["object"]["key"]) for r in s3_records(out, "private")) == [
        "in/keyed.txt", "in/take.txt"]
    assert "in/leak.txt' resolves outside the bucket through a symlink: not announced" in srv.log()

    # a bucket added to the config while the server runs: its folder is made and watched
    srv.config_path.write_text(srv.config_path.read_text() + '\n[[buckets]]\nname = "later"\nfunction = "rec"\n'
                               'auth = "none"\nsettle_seconds = 0.2\n')
    wait_for(lambda: (srv.data_dir / "buckets" / "later").is_dir(), what="the new bucket's folder")
    (srv.data_dir / "buckets" / "later" / "hand-copied.txt").write_bytes(b"hello")
    later = wait_announced(out, "hand-copied.txt")
    assert later["s3"]["bucket"]["name"] == "later"


def test_slow_writer_is_announced_once_when_complete(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    srv = servers(tmp_path / "srv", {"rec.py": RECORDER}, config(out))
    target = srv.data_dir / "buckets" / "uploads" / "big" / "slow.bin"
    target.parent.mkdir(parents=True)
    chunks = [os.urandom(4096) for _ in range(20)]
    finished = threading.Event()

    def writer() -> None:  # a copy that takes over 1 s, pausing well under the settle window
        with open(target, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                f.flush()
                time.sleep(0.06)
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        record = wait_announced(out, "big/slow.bin", timeout=20)
        assert finished.is_set(), "announced before the writer finished"
    finally:
        thread.join()
    data = b"".join(chunks)
    assert record["s3"]["object"]["size"] == len(data) and record["s3"]["object"]["eTag"] == md5(data)
    # a later object is announced after it: by then a second announcement of slow.bin would be in
    srv.client.put("/buckets/uploads/marker", content=b"m")
    wait_announced(out, "marker")
    assert len(announced(out, "big/slow.bin")) == 1
    # a touch (same content, new mtime) is not a new object
    os.utime(target)
    srv.client.put("/buckets/uploads/marker2", content=b"m2")
    wait_announced(out, "marker2")
    assert len(announced(out, "big/slow.bin")) == 1


def test_files_landing_while_down_are_announced_after_start(servers: Callable[..., Server], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    root = tmp_path / "srv"
    srv = servers(root, {"rec.py": RECORDER}, config(out))
    uploads = srv.data_dir / "buckets" / "uploads"
    for name in ("keep.txt", "gone.txt"):
        srv.client.put(f"/buckets/uploads/{name}", content=name.encode())
        wait_announced(out, name)
    # the recorder ran, but its event is done only once the dispatcher has recorded it: a kill
    # before that would (rightly, at least once) run it again after the restart
    wait_for(lambda: srv.db_rows("SELECT count(*) FROM async_queue")[0][0] == 0, what="the queue to drain")
    # SIGKILL in the settle window of a file just written: it was not announced yet
    (uploads / "racing.txt").write_bytes(b"racing")
    kill(srv)
    assert not announced(out, "racing.txt")

    (uploads / "gone.txt").unlink()
    (uploads / ".faas-upload-0123").write_bytes(b"half an upload cut short by the kill")
    (uploads / "new").mkdir()
    (uploads / "new" / "while down.txt").write_bytes(b"landed while the server was down")
    srv = servers(root, {}, config(out))
    wait_announced(out, "new/while down.txt")
    wait_announced(out, "racing.txt")
    removed = wait_announced(out, "gone.txt", "ObjectRemoved:Delete")
    assert removed["s3"]["object"]["key"] == "gone.txt"
    srv.client.put("/buckets/uploads/marker", content=b"m")
    wait_announced(out, "marker")
    for key in ("keep.txt", "gone.txt", "racing.txt", "new/while down.txt"):
        assert len(announced(out, key)) == 1, key  # once each, across the kill and the restart
    assert not (uploads / ".faas-upload-0123").exists()  # removed at start, never announced
