"""Config of the event sources: [[schedules]], [[buckets]], retry keys and async routes, each bad
value refused with the key path; bucket keys checked the same way by the gateway and the watcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faas.buckets import check_key, object_path
from faas.config import load_config
from faas.exceptions import BucketKeyError, ConfigError

BASE = '[functions.f]\nhandler = "f.handler"\n'
SCHEDULE = BASE + '[[schedules]]\nname = "s"\nfunction = "f"\n'
BUCKET = BASE + '[[buckets]]\nname = "ups"\n'


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + '[[routes]]\npath = "/x"\nfunction = "f"\n'
                  '[[schedules]]\nname = "s"\nexpression = "rate(1 second)"\nfunction = "f"\n'
                  '[[buckets]]\nname = "uploads"\nfunction = "f"\n[[buckets]]\nname = "plain"\n')
    fn = config.functions["f"]
    assert (fn.max_retries, fn.retry_base_delay, fn.max_event_age) == (2, 60.0, 21600.0)
    assert config.routes[0].asynchronous is False
    (s,) = config.schedules
    assert (s.input, s.enabled, s.timezone, s.max_concurrency, s.misfire_grace_seconds) == (None, True, "UTC", 1, 300.0)
    uploads, plain = config.buckets
    assert (uploads.events, uploads.prefix, uploads.suffix, uploads.auth) == (("s3:ObjectCreated:*",), "", "", "api_key")
    assert plain.function is None and not plain.wants("ObjectCreated:Put", "a")
    assert uploads.wants("ObjectCreated:Put", "a") and not uploads.wants("ObjectRemoved:Delete", "a")


def test_values(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + 'max_retries = 0\nretry_base_delay = 0.5\nmax_event_age = 60\n'
                  '[[routes]]\npath = "/x"\nfunction = "f"\nasync = true\n'
                  '[[schedules]]\nname = "nightly.job-1"\nexpression = "cron(0 3 ? * MON-FRI *)"\nfunction = "f"\n'
                  'timezone = "Europe/Paris"\nenabled = false\nmax_concurrency = 3\nmisfire_grace_seconds = 0\n'
                  'input = { a = 1, b = ["x"] }\n'
                  '[[schedules]]\nname = "t"\nexpression = "*/5 * * * *"\nfunction = "f"\ninput = \'{"k": true}\'\n'
                  '[[buckets]]\nname = "up.loads-1"\nfunction = "f"\nevents = ["s3:ObjectRemoved:*"]\n'
                  'prefix = "in/"\nsuffix = ".jpg"\nauth = "none"\nsettle_seconds = 0.1\nmax_object_bytes = 10\n')
    fn = config.functions["f"]
    assert (fn.max_retries, fn.retry_base_delay, fn.max_event_age) == (0, 0.5, 60.0)
    assert config.routes[0].asynchronous is True
    nightly, crontab = config.schedules
    assert json.loads(nightly.input or "") == {"a": 1, "b": ["x"]} and crontab.input == '{"k": true}'
    assert (nightly.timezone, nightly.enabled, nightly.max_concurrency, nightly.misfire_grace_seconds) == (
        "Europe/Paris", False, 3, 0.0)
    (b,) = config.buckets
    assert b.wants("ObjectRemoved:Delete", "in/a.jpg") and not b.wants("ObjectRemoved:Delete", "in/a.png")
    assert not b.wants("ObjectRemoved:Delete", "out/a.jpg") and not b.wants("ObjectCreated:Put", "in/a.jpg")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "max_retries = 3\n", "functions.f.max_retries = 3: must be an integer from 0 to 2"),
        (BASE + "retry_base_delay = -1\n", "functions.f.retry_base_delay = -1: must be a number from 0 to 21600"),
        (BASE + "max_event_age = 0\n", "functions.f.max_event_age = 0: must be a number from 1 to 21600"),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "f"\nasync = "yes"\n', 'routes[0].async = "yes": must be true or false'),
        (BASE + '[[routes]]\npath = "/buckets/x"\nfunction = "f"\n', "/buckets is reserved for the platform"),
        ("schedules = 1\n", "schedules: must be an array of tables ([[schedules]])"),
        (SCHEDULE + 'expression = "cron(0 12 * * * *)"\n',
         'schedules[0].expression = "cron(0 12 * * * *)": day-of-month and day-of-week cannot both be "*"'),
        (SCHEDULE + 'expression = "rate(1 hours)"\n', 'schedules[0].expression = "rate(1 hours)": unit must be singular'),
        (SCHEDULE + 'expression = "cron(0 25 * * ? *)"\n', 'schedules[0].expression = "cron(0 25 * * ? *)": hours'),
        (SCHEDULE + 'expression = "every day"\n', 'schedules[0].expression = "every day"'),
        (SCHEDULE + 'expression = "rate(1 second)"\ntimezone = "Mars/Base"\n',
         'schedules[0].timezone = "Mars/Base": not a known IANA time zone'),
        (SCHEDULE, "schedules[0].expression: missing, a string is required"),
        (BASE + '[[schedules]]\nname = "s"\nexpression = "rate(1 day)"\nfunction = "g"\n',
         'schedules[0].function = "g": no such function (known: f)'),
        (BASE + '[[schedules]]\nname = "a b"\nexpression = "rate(1 day)"\nfunction = "f"\n',
         'schedules[0].name = "a b": must be 1-64 letters'),
        (SCHEDULE + 'expression = "rate(1 day)"\n[[schedules]]\nname = "s"\nexpression = "rate(1 day)"\nfunction = "f"\n',
         'schedules[1].name = "s": already used by schedules[0]'),
        (SCHEDULE + 'expression = "rate(1 day)"\ninput = "{nope"\n', 'schedules[0].input = "{nope": not valid JSON'),
        (SCHEDULE + 'expression = "rate(1 day)"\ninput = 3\n', "schedules[0].input = 3: must be a table or a string of JSON"),
        (SCHEDULE + 'expression = "rate(1 day)"\nmax_concurrency = 0\n',
         "schedules[0].max_concurrency = 0: must be an integer from 1 to 100"),
        (SCHEDULE + 'expression = "rate(1 day)"\nmisfire_grace_seconds = -5\n',
         "schedules[0].misfire_grace_seconds = -5: must be a number from 0 to 86400"),
        (SCHEDULE + 'expression = "rate(1 day)"\nenabled = 1\n', "schedules[0].enabled = 1: must be true or false"),
        (SCHEDULE + 'expression = "rate(1 day)"\ncolour = "red"\n', "schedules[0].colour: unknown key"),
        ("[[buckets]]\nfunction = 1\n", "buckets[0].name: missing, a string is required"),
        ('[[buckets]]\nname = "Up"\n', 'buckets[0].name = "Up": must be 3-63 lower-case letters'),
        ('[[buckets]]\nname = "a..b"\n', 'buckets[0].name = "a..b": must be 3-63'),
        (BUCKET + 'function = "g"\n', 'buckets[0].function = "g": no such function (known: f)'),
        (BUCKET + 'function = "f"\nevents = ["s3:ObjectCreated:Copy"]\n',
         'buckets[0].events: "s3:ObjectCreated:Copy" is not one of "s3:ObjectCreated:*"'),
        (BUCKET + 'function = "f"\nevents = []\n', "buckets[0].events = []: name at least one event"),
        (BUCKET + 'auth = "open"\n', "buckets[0].auth = \"open\": must be one of 'api_key', 'none'"),
        (BUCKET + "settle_seconds = 0\n", "buckets[0].settle_seconds = 0: must be a number from 0.05 to 3600"),
        (BUCKET + '[[buckets]]\nname = "ups"\n', 'buckets[1].name = "ups": already used by buckets[0]'),
        (BUCKET + 'prefix = 1\n', "buckets[0].prefix = 1: must be a string"),
    ],
)
def test_rejected_with_key_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert message in str(info.value)
    assert str(info.value).startswith("config.toml: ")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "the object key is empty"),
        ("a/../b", "contains '..': path traversal is refused"),
        ("..", "path traversal is refused"),
        ("/etc/passwd", "is absolute"),
        ("a\x00b", "contains a NUL byte"),
        ("a//b", "has an empty or '.' segment"),
        ("a/./b", "has an empty or '.' segment"),
        (".env", "hidden names are never objects"),
        ("x" * 1025, "longer than 1024 bytes"),
    ],
)
def test_bad_object_keys(key: str, message: str) -> None:
    with pytest.raises(BucketKeyError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        check_key(key)


def test_symlinks_out_of_the_bucket(tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    (bucket / "dir").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (bucket / "out").symlink_to(tmp_path / "outside")
    (bucket / "in").symlink_to(bucket / "dir")
    assert object_path(bucket, "photos/a b (1).jpg") == bucket / "photos/a b (1).jpg"
    assert object_path(bucket, "in/x") == bucket / "in/x"  # a symlink that stays inside is fine
    with pytest.raises(BucketKeyError, match="resolves outside the bucket through a symlink"):
        object_path(bucket, "out/x")
