"""config.toml validation: every bad key or value is refused with a message naming the key path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from faas.config import (
    BillingConfig,
    BucketConfig,
    CorsConfig,
    ExecutorConfig,
    FunctionConfig,
    RouteConfig,
    ScheduleConfig,
    ServerConfig,
    UsagePlanConfig,
    WebSocketConfig,
    load_config,
    parse_config,
)
from faas.exceptions import ConfigError

BASE = '[functions.hello]\nhandler = "hello.handler"\n'


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + '[[routes]]\npath = "/hi/{name}"\nfunction = "hello"\n')
    assert config.server.port == 8080 and config.server.host == "127.0.0.1"
    assert config.server.data_dir == tmp_path / "data"
    assert config.server.functions_dir == tmp_path / "functions"
    assert config.server.max_body_bytes == 6 * 1024 * 1024
    fn = config.functions["hello"]
    assert (fn.memory, fn.timeout, fn.concurrency, dict(fn.environment)) == (128, 3.0, 10, {})
    assert config.routes[0].method == "ANY" and config.routes[0].auth == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[server]\nport = 70000\n", "server.port = 70000: must be an integer from 0 to 65535"),
        ("[server]\nport = \"80\"\n", 'server.port = "80": must be an integer from 0 to 65535'),
        ("[executor]\nmax_workers = 0\n", "executor.max_workers = 0: must be an integer from 1 to 10000"),
        ("[executor]\npreload = \"json\"\n", 'executor.preload = "json": must be a list of strings'),
        ("[functions.hello]\nmemory = 256\n", "functions.hello.handler: missing, a string is required"),
        (BASE + "memory = 64\n", "functions.hello.memory = 64: must be an integer from 128 to 10240"),
        (BASE + "memory = 20000\n", "functions.hello.memory = 20000: must be an integer from 128 to 10240"),
        (BASE + "timeout = 0.5\n", "functions.hello.timeout = 0.5: must be a number from 1 to 900"),
        (BASE + "timeout = 901\n", "functions.hello.timeout = 901: must be a number from 1 to 900"),
        (BASE + "concurrency = true\n", "functions.hello.concurrency = true: must be an integer from 1 to 10000"),
        (BASE + "colour = 1\n", "functions.hello.colour: unknown key"),
        ('[functions.hello]\nhandler = "hello"\n', 'functions.hello.handler = "hello": must be module.attribute'),
        (BASE + "[functions.hello.environment]\nPORT = 80\n", "functions.hello.environment.PORT = 80: must be a string"),
        (BASE + '[functions.hello.environment]\n_HANDLER = "x"\n', "functions.hello.environment._HANDLER: reserved"),
        ('[functions."bad name"]\nhandler = "a.b"\n', 'a function name must be 1-64 letters'),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "nope"\n', 'routes[0].function = "nope": no such function (known: hello)'),
        (BASE + '[[routes]]\npath = "x"\nfunction = "hello"\n', 'routes[0].path = "x": must start with "/"'),
        (BASE + '[[routes]]\npath = "/a/{p+}/b"\nfunction = "hello"\n', "a greedy {p+} must be the last segment"),
        (BASE + '[[routes]]\npath = "/a/x{id}"\nfunction = "hello"\n', '"x{id}" must be a whole segment'),
        (BASE + '[[routes]]\npath = "/healthz"\nfunction = "hello"\n', "/healthz is reserved for the platform"),
        (BASE + '[[routes]]\nmethod = "FETCH"\npath = "/x"\nfunction = "hello"\n', 'routes[0].method = "FETCH": must be one of GET'),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "hello"\nauth = "magic"\n', "routes[0].auth = \"magic\": must be one of 'none', 'api_key'"),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "hello"\n[[routes]]\npath = "/x"\nfunction = "hello"\n', 'routes[1]: "ANY /x" is already routed by routes[0]'),
        ("routes = 3\n", "routes: must be an array of tables"),
        ("[nonsense]\n", "nonsense: unknown key"),
        ("[server\n", "invalid TOML"),
    ],
)
def test_rejected_with_key_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert message in str(info.value)
    assert str(info.value).startswith("config.toml: ") or "invalid TOML" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "config.toml")
    assert {"hello", "echo", "webapp", "slow", "thumbnail"} <= set(config.functions)
    assert {b.name for b in config.buckets} == {"uploads", "thumbnails"}


# Every message, byte for byte, and which one wins when a config has several problems: the parser reads
# keys in a fixed order, so the first problem reported is part of its behaviour too.
F = '[functions.f]\nhandler = "f.handler"\n'
R = F + '[[routes]]\nfunction = "f"\npath = '
W = F + '[[websockets]]\n'
P = '[usage_plans.p]\n'
S = F + '[[schedules]]\nname = "s"\nfunction = "f"\nexpression = "rate(1 day)"\n'
K = F + '[[buckets]]\nname = "ups"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('server = 3\n', 'server: must be a table, got 3'),
        ('[server]\nhost = 1\n', 'server.host = 1: must be a string'),
        ('[server]\nport = [1]\n', 'server.port = a list: must be an integer from 0 to 65535'),
        ('[server]\nport = []\n', 'server.port = []: must be an integer from 0 to 65535'),
        ('[server]\nport = {a = 1}\n', 'server.port = a table: must be an integer from 0 to 65535'),
        ('[server]\nport = 1.5\n', 'server.port = 1.5: must be an integer from 0 to 65535'),
        ('[server]\nport = 1979-05-27\n',
         'server.port = datetime.date(1979, 5, 27): must be an integer from 0 to 65535'),
        ('[server]\nport = -1\n', 'server.port = -1: must be an integer from 0 to 65535'),
        ('[server]\ndata_dir = 1\n', 'server.data_dir = 1: must be a string'),
        ('[server]\nmax_body_bytes = 0\n', 'server.max_body_bytes = 0: must be an integer from 1 to 1073741824'),
        ('[server]\nmax_header_bytes = 1023\n',
         'server.max_header_bytes = 1023: must be an integer from 1024 to 1048576'),
        ('[server]\nbody_timeout = 0.5\n', 'server.body_timeout = 0.5: must be a number from 1 to 3600'),
        ('[server]\naccess_log = "no"\n', 'server.access_log = "no": must be true or false'),
        ('[server]\nmetrics_auth = 0\n', 'server.metrics_auth = 0: must be true or false'),
        ('[server]\nregion = 1\n', 'server.region = 1: must be a string'),
        ('[server]\naccount_id = "123"\n', 'server.account_id = "123": must be 12 digits'),
        ('[server]\naccount_id = 123\n', 'server.account_id = 123: must be a string'),
        ('[executor]\nuser = 1\n', 'executor.user = 1: must be a string'),
        ('[executor]\nidle_timeout = 0\n', 'executor.idle_timeout = 0: must be a number from 1 to 86400'),
        ('[executor]\nqueue_wait_ms = -1\n', 'executor.queue_wait_ms = -1: must be an integer from 0 to 900000'),
        ('[executor]\ninit_timeout = 901\n', 'executor.init_timeout = 901: must be a number from 1 to 900'),
        ('[executor]\npreload = [1]\n', 'executor.preload = a list: must be a list of strings'),
        ('[executor]\nlog_cap_bytes = 1\n', 'executor.log_cap_bytes = 1: must be an integer from 1024 to 67108864'),
        ('[executor]\nmax_processes = 0\n', 'executor.max_processes = 0: must be an integer from 1 to 1000000'),
        ('[executor]\nmax_open_files = 15\n', 'executor.max_open_files = 15: must be an integer from 16 to 1000000'),
        ('[executor]\nmax_file_bytes = 1023\n',
         'executor.max_file_bytes = 1023: must be an integer from 1024 to 1125899906842624'),
        ('[executor]\nspeed = 1\n', 'executor.speed: unknown key'),
        ('functions = 1\n', 'functions: must be a table, got 1'),
        ('[functions]\nf = 1\n', 'functions.f: must be a table, got 1'),
        ('[functions]\n"a b" = 1\n', 'functions.a b: must be a table, got 1'),
        ('[usage_plans]\n"a b" = 1\n', 'usage_plans.a b: must be a table, got 1'),
        ('[functions."a b"]\nhandler = "a.b"\n',
         'functions."a b": a function name must be 1-64 letters, digits, "-" or "_"'),
        ('[functions.f]\nhandler = "f"\n',
         'functions.f.handler = "f": must be module.attribute, e.g. "hello.handler" for functions/hello.py or "pkg.app.handler" for functions/pkg/app.py'),
        ('[functions.f]\nhandler = 1\n', 'functions.f.handler = 1: must be a string'),
        (F + 'environment = 1\n', 'functions.f.environment: must be a table, got 1'),
        (F + '[functions.f.environment]\n"1X" = "a"\n',
         'functions.f.environment.1X: not a valid environment variable name'),
        (F + '[functions.f.environment]\nTMPDIR = "/x"\n',
         'functions.f.environment.TMPDIR: reserved, the platform sets it'),
        (F + '[functions.f.environment]\n_X_AMZN_TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793"\n',
         'functions.f.environment._X_AMZN_TRACE_ID: reserved, the platform sets it'),
        (F + '[functions.f.environment]\nX = true\n', 'functions.f.environment.X = true: must be a string'),
        (F + 'description = 1\n', 'functions.f.description = 1: must be a string'),
        (F + 'max_retries = -1\n', 'functions.f.max_retries = -1: must be an integer from 0 to 2'),
        ('routes = [1]\n', 'routes[0]: must be a table, got 1'),
        ('routes = {a = 1}\n', 'routes: must be an array of tables ([[routes]])'),
        (F + '[[routes]]\npath = "/x"\n', 'routes[0].function: missing, a string is required'),
        (F + '[[routes]]\nfunction = "f"\n', 'routes[0].path: missing, a string is required'),
        (R + '"/x"\nmethod = "fetch"\n',
         'routes[0].method = "FETCH": must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY'),
        (R + '"/x"\nmethod = 1\n', 'routes[0].method = 1: must be a string'),
        (R + '"/healthz"\n', 'routes[0].path = "/healthz": /healthz is reserved for the platform'),
        (R + '"/healthz/x"\n', 'routes[0].path = "/healthz/x": /healthz is reserved for the platform'),
        (R + '"/2015-03-31/functions"\n',
         'routes[0].path = "/2015-03-31/functions": /2015-03-31/ is reserved for the platform'),
        (R + '"/2015-03-31"\n', 'routes[0].path = "/2015-03-31": /2015-03-31/ is reserved for the platform'),
        (R + '"/admin"\n', 'routes[0].path = "/admin": /admin is reserved for the platform'),
        (R + '"/metrics"\n', 'routes[0].path = "/metrics": /metrics is reserved for the platform'),
        (R + '"/openapi.json"\n', 'routes[0].path = "/openapi.json": /openapi.json is reserved for the platform'),
        (R + '"/buckets"\n', 'routes[0].path = "/buckets": /buckets is reserved for the platform'),
        (R + '"/bucketsx"\n', 'routes[0].path = "/bucketsx": /buckets is reserved for the platform'),
        (R + '"x"\n', 'routes[0].path = "x": must start with "/"'),
        (R + '"/a//b"\n', 'routes[0].path = "/a//b": empty path segment'),
        (R + '"/a/x{id}"\n', 'routes[0].path = "/a/x{id}": "x{id}" must be a whole segment like {id} or {proxy+}'),
        (R + '"/a/{p+}/b"\n', 'routes[0].path = "/a/{p+}/b": a greedy {p+} must be the last segment'),
        (R + '"/a/{id}/{id}"\n', 'routes[0].path = "/a/{id}/{id}": parameter {id} appears twice'),
        (R + '"/a/{1d}"\n', 'routes[0].path = "/a/{1d}": "{1d}" must be a whole segment like {id} or {proxy+}'),
        (R + '"/x"\nauth = "magic"\n', 'routes[0].auth = "magic": must be one of \'none\', \'api_key\''),
        (R + '"/x"\nasync = 1\n', 'routes[0].async = 1: must be true or false'),
        (R + '"/x"\npayload = "3.0"\n', 'routes[0].payload = "3.0": must be one of \'1.0\', \'2.0\''),
        (R + '"/x"\npayload = 1.0\n', 'routes[0].payload = 1.0: must be a string'),
        (R + '"/x"\napi = "soap"\n', 'routes[0].api = "soap": must be one of \'http\', \'rest\''),
        (R + '"/x"\napi = "rest"\npayload = "2.0"\n',
         'routes[0].payload = "2.0": a REST route (api = "rest") sends payload format "1.0" only'),
        (R + '"/a/{p+}/{q+}"\napi = "rest"\n',
         'routes[0].path = "/a/{p+}/{q+}": at most one greedy parameter ({p+}, {q+}), as the last segment'),
        (R + '"/a/{p+}/b"\napi = "rest"\n', 'routes[0].path = "/a/{p+}/b": a greedy {p+} must be the last segment'),
        ('[server]\nrest_stage = "a/b"\n', 'server.rest_stage = "a/b": must be 1-128 letters, digits, "-" or "_"'),
        ('[server]\nrest_stage = ""\n', 'server.rest_stage = "": must be 1-128 letters, digits, "-" or "_"'),
        (R + '"/x"\ncolour = 1\n', 'routes[0].colour: unknown key'),
        (F + '[[routes]]\nfunction = "g"\npath = "/x"\n', 'routes[0].function = "g": no such function (known: f)'),
        ('[[routes]]\nfunction = "g"\npath = "/x"\n',
         'routes[0].function = "g": no such function (known: none are configured)'),
        (R + '"/x"\n[[routes]]\nfunction = "f"\npath = "/x"\nmethod = "any"\n',
         'routes[1]: "ANY /x" is already routed by routes[0]'),
        (R + '"/x"\nmethod = "GET"\n[[routes]]\nfunction = "f"\npath = "/x"\nmethod = "GET"\n',
         'routes[1]: "GET /x" is already routed by routes[0]'),
        ('usage_plans = 1\n', 'usage_plans: must be a table, got 1'),
        ('[usage_plans]\np = 1\n', 'usage_plans.p: must be a table, got 1'),
        ('[usage_plans."a b"]\n', 'usage_plans."a b": a plan name must be 1-64 letters, digits, "-" or "_"'),
        (P + 'rate = 0\n', 'usage_plans.p.rate = 0: must be a number of requests per second above 0'),
        (P + 'rate = "fast"\n', 'usage_plans.p.rate = "fast": must be a number of requests per second above 0'),
        (P + 'rate = true\n', 'usage_plans.p.rate = true: must be a number of requests per second above 0'),
        (P + 'rate = 1000001\n', 'usage_plans.p.rate = 1000001: must be a number of requests per second above 0'),
        (P + 'rate = 1\nburst = 0\n', 'usage_plans.p.burst = 0: must be an integer from 1 to 1000000'),
        (P + 'rate = 1\nburst = 1.5\n', 'usage_plans.p.burst = 1.5: must be an integer from 1 to 1000000'),
        (P + 'burst = 2\n', 'usage_plans.p.burst: needs a rate as well'),
        (P + 'quota = 0\n', 'usage_plans.p.quota = 0: must be a positive integer (requests per period)'),
        (P + 'quota = 1.5\n', 'usage_plans.p.quota = 1.5: must be a positive integer (requests per period)'),
        (P + 'quota_period = "year"\n',
         'usage_plans.p.quota_period = "year": must be one of \'day\', \'week\', \'month\''),
        (P + 'colour = 1\n', 'usage_plans.p.colour: unknown key'),
        ('websockets = 1\n', 'websockets: must be an array of tables ([[websockets]])'),
        ('websockets = [1]\n', 'websockets[0]: must be a table, got 1'),
        (W + 'auth = "none"\n', 'websockets[0].path: missing, a string is required'),
        (W + 'path = "ws"\n', 'websockets[0].path = "ws": must be like "/ws": "/" and letters, digits, "_", "-", "."'),
        (W + 'path = "/a b"\n',
         'websockets[0].path = "/a b": must be like "/ws": "/" and letters, digits, "_", "-", "."'),
        (W + 'path = "/admin"\n', 'websockets[0].path = "/admin": /admin is reserved for the platform'),
        (W + 'path = "/admin/ws"\n', 'websockets[0].path = "/admin/ws": /admin is reserved for the platform'),
        (W + 'path = "/buckets"\n', 'websockets[0].path = "/buckets": /buckets is reserved for the platform'),
        (W + 'path = "/ws"\nroute_selection = "$request.body"\n',
         'websockets[0].route_selection = "$request.body": must be $request.body.FIELD (dots for nested fields)'),
        (W + 'path = "/ws"\nroute_selection = "$request.header.x"\n',
         'websockets[0].route_selection = "$request.header.x": must be $request.body.FIELD (dots for nested fields)'),
        (W + 'path = "/ws"\nroutes = 1\n', 'websockets[0].routes: must be a table, got 1'),
        (W + 'path = "/ws"\n[websockets.routes]\n"a b" = "f"\n',
         'websockets[0].routes.a b: not a valid route key (use $connect, $disconnect, $default or a name)'),
        (W + 'path = "/ws"\n[websockets.routes]\n"$connect" = 1\n',
         'websockets[0].routes.$connect = 1: must be a function name'),
        (W + 'path = "/ws"\n[websockets.routes]\n"$connect" = "g"\n',
         'websockets[0].routes.$connect = "g": no such function (known: f)'),
        ('[[websockets]]\npath = "/ws"\n[websockets.routes]\n"$connect" = "g"\n',
         'websockets[0].routes.$connect = "g": no such function (known: none are configured)'),
        (W + 'path = "/ws"\nauth = "open"\n', 'websockets[0].auth = "open": must be one of \'none\', \'api_key\''),
        (W + 'path = "/ws"\ncolour = 1\n', 'websockets[0].colour: unknown key'),
        (W + 'path = "/ws"\n[[websockets]]\npath = "/ws"\n',
         'websockets[1].path = "/ws": already used by websockets[0]'),
        ('billing = 1\n', 'billing: must be a table, got 1'),
        ('[billing]\nprice_per_request = true\n', 'billing.price_per_request = true: must be a number of 0 or more'),
        ('[billing]\nprice_per_request = "nan"\n', 'billing.price_per_request = "nan": must be a number of 0 or more'),
        ('[billing]\nprice_per_request = "inf"\n', 'billing.price_per_request = "inf": must be a number of 0 or more'),
        ('[billing]\nprice_per_gb_second = [1]\n',
         'billing.price_per_gb_second = a list: must be a number of 0 or more'),
        ('[billing]\nfree_requests = -1\n',
         'billing.free_requests = -1: must be an integer from 0 to 1000000000000000'),
        ('[billing]\nfree_gb_seconds = 1.5\n',
         'billing.free_gb_seconds = 1.5: must be an integer from 0 to 1000000000000000'),
        ('schedules = 1\n', 'schedules: must be an array of tables ([[schedules]])'),
        ('schedules = [1]\n', 'schedules[0]: must be a table, got 1'),
        ('[[schedules]]\nexpression = "rate(1 day)"\n', 'schedules[0].name: missing, a string is required'),
        ('[[schedules]]\nname = 1\n', 'schedules[0].name = 1: must be a string'),
        ('[[schedules]]\nname = "a b"\n', 'schedules[0].name = "a b": must be 1-64 letters, digits, ".", "-" or "_"'),
        (F + '[[schedules]]\nname = "s"\nexpression = "rate(1 day)"\n',
         'schedules[0].function: missing, a string is required'),
        (F + '[[schedules]]\nname = "s"\nfunction = "f"\nexpression = 1\n',
         'schedules[0].expression = 1: must be a string'),
        (F + '[[schedules]]\nname = "s"\nfunction = "f"\nexpression = "rate(0 days)"\n',
         'schedules[0].expression = "rate(0 days)": value must be a positive integer, got "0"'),
        (F + '[[schedules]]\nname = "s"\nfunction = "f"\nexpression = " every day "\n',
         'schedules[0].expression = " every day ": expected "cron(...)", "rate(...)" or a 5-field crontab line (minute hour day-of-month month day-of-week), got 2 fields'),
        (S + 'timezone = 1\n', 'schedules[0].timezone = 1: must be a string'),
        (S + 'timezone = "Mars/Base"\n',
         'schedules[0].timezone = "Mars/Base": not a known IANA time zone, e.g. "Europe/Paris"'),
        ('[[schedules]]\nname = "s"\nfunction = "g"\nexpression = "rate(1 day)"\n',
         'schedules[0].function = "g": no such function (known: none are configured)'),
        (S + 'input = [1]\n', 'schedules[0].input = a list: must be a table or a string of JSON'),
        (S + 'input = "{nope"\n',
         'schedules[0].input = "{nope": not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)'),
        (S + 'enabled = "yes"\n', 'schedules[0].enabled = "yes": must be true or false'),
        (S + '[[schedules]]\nname = "s"\n', 'schedules[1].name = "s": already used by schedules[0]'),
        ('buckets = 1\n', 'buckets: must be an array of tables ([[buckets]])'),
        ('buckets = [1]\n', 'buckets[0]: must be a table, got 1'),
        ('[[buckets]]\nname = 1\n', 'buckets[0].name = 1: must be a string'),
        ('[[buckets]]\nname = "ab"\n',
         'buckets[0].name = "ab": must be 3-63 lower-case letters, digits, "." or "-", starting and ending with a letter or digit'),
        ('[[buckets]]\nname = "-ab"\n',
         'buckets[0].name = "-ab": must be 3-63 lower-case letters, digits, "." or "-", starting and ending with a letter or digit'),
        (K + 'function = "g"\n', 'buckets[0].function = "g": no such function (known: f)'),
        (K + 'function = 1\n', 'buckets[0].function = 1: must be a string'),
        (K + 'events = "s3:ObjectCreated:*"\n', 'buckets[0].events = "s3:ObjectCreated:*": must be a list of strings'),
        (K + 'events = ["s3:Nope"]\n',
         'buckets[0].events: "s3:Nope" is not one of "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete"'),
        (K + 'function = "f"\nevents = []\n', 'buckets[0].events = []: name at least one event, or leave out function'),
        (K + 'suffix = 1\n', 'buckets[0].suffix = 1: must be a string'),
        (K + 'settle_seconds = 3601\n', 'buckets[0].settle_seconds = 3601: must be a number from 0.05 to 3600'),
        (K + 'max_object_bytes = 0\n', 'buckets[0].max_object_bytes = 0: must be an integer from 1 to 1099511627776'),
        (K + 'colour = 1\n', 'buckets[0].colour: unknown key'),
        ('a = 1\n', 'a: unknown key'),
        ('[server]\naccount_id = "1"\ncolour = 1\n', 'server.account_id = "1": must be 12 digits'),
        ('[server]\ncolour = 1\n[executor]\nmax_workers = 0\n', 'server.colour: unknown key'),
        ('[executor]\nmax_workers = 0\nuser = 1\n', 'executor.user = 1: must be a string'),
        ('[functions.f]\nhandler = "f"\nmemory = 1\n[functions.f.environment]\nTMPDIR = "x"\n',
         'functions.f.handler = "f": must be module.attribute, e.g. "hello.handler" for functions/hello.py or "pkg.app.handler" for functions/pkg/app.py'),
        (F + 'memory = 1\n[functions.f.environment]\nTMPDIR = "x"\n',
         'functions.f.environment.TMPDIR: reserved, the platform sets it'),
        (R + '"x"\nmethod = "FETCH"\n',
         'routes[0].method = "FETCH": must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY'),
        (F + '[[routes]]\nfunction = "g"\npath = "x"\n', 'routes[0].path = "x": must start with "/"'),
        (R + '"/x"\n[[routes]]\nfunction = "f"\npath = "/x"\n[[routes]]\nfunction = "f"\npath = "/y"\ncolour = 1\n',
         'routes[2].colour: unknown key'),
        (W + 'path = "/ws"\n[[websockets]]\npath = "/ws"\n[[websockets]]\npath = "/w2"\ncolour = 1\n',
         'websockets[2].colour: unknown key'),
        (P + 'rate = 0\nquota = 0\n', 'usage_plans.p.rate = 0: must be a number of requests per second above 0'),
        (P + 'burst = 2\nquota = 0\n', 'usage_plans.p.burst: needs a rate as well'),
        ('[[schedules]]\nname = "a b"\nfunction = "g"\n',
         'schedules[0].name = "a b": must be 1-64 letters, digits, ".", "-" or "_"'),
        (F + '[[schedules]]\nname = "s"\nexpression = "rate(0 days)"\ntimezone = "Mars/Base"\n',
         'schedules[0].expression = "rate(0 days)": value must be a positive integer, got "0"'),
        ('[[schedules]]\nname = "s"\nexpression = "rate(1 day)"\ntimezone = "Mars/Base"\nfunction = "g"\n',
         'schedules[0].timezone = "Mars/Base": not a known IANA time zone, e.g. "Europe/Paris"'),
        (K + 'function = "g"\nevents = ["s3:Nope"]\n', 'buckets[0].function = "g": no such function (known: f)'),
        ('[billing]\ncolour = 1\n[[schedules]]\nname = 1\n', 'billing.colour: unknown key'),
        ('a = 1\nbuckets = 1\n', 'buckets: must be an array of tables ([[buckets]])'),
    ],
)
def test_exact_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert str(info.value) == f"config.toml: {message}"


def test_exact_file_messages(tmp_path: Path) -> None:
    for text, message in [("[server\n", "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)")]:
        with pytest.raises(ConfigError) as info:
            load(tmp_path, text)
        assert str(info.value) == f"{tmp_path / 'config.toml'}: {message}"
    (tmp_path / "config.toml").write_bytes(b"a = '\xff'\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.toml")
    assert str(info.value) == (
        f"{tmp_path / 'config.toml'}: not UTF-8 text: "
        "'utf-8' codec can't decode byte 0xff in position 5: invalid start byte"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: config file not found"
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "dir.toml")
    assert str(info.value) == f"{tmp_path / 'dir.toml'}: cannot read: Is a directory"


def test_every_default(tmp_path: Path) -> None:
    """Each default written out, so moving where the parser finds them cannot change one."""
    config = load(tmp_path, F + '[[routes]]\npath = "/x"\nfunction = "f"\n[usage_plans.p]\n[usage_plans.r]\nrate = 2.5\n'
                  '[usage_plans.s]\nrate = 0.5\n[[websockets]]\npath = "/ws"\n'
                  '[[schedules]]\nname = "s"\nexpression = "rate(1 day)"\nfunction = "f"\n[[buckets]]\nname = "ups"\n')
    assert config.server == ServerConfig(
        host="127.0.0.1", port=8080, data_dir=tmp_path / "data", functions_dir=tmp_path / "functions",
        max_body_bytes=6 * 1024 * 1024, max_header_bytes=16 * 1024, body_timeout=30.0, region="us-east-1",
        account_id="000000000000", access_log=False, metrics_auth=True, rest_stage="Prod",
    )
    assert config.executor == ExecutorConfig(
        max_workers=64, idle_timeout=600.0, queue_wait_ms=1000, init_timeout=10.0, preload=(),
        log_cap_bytes=256 * 1024, max_processes=1024, max_open_files=1024, max_file_bytes=512 * 1024 * 1024,
        user=None,
    )
    assert config.functions == {"f": FunctionConfig(
        name="f", handler="f.handler", memory=128, timeout=3.0, concurrency=10, environment={}, description="",
        max_retries=2, retry_base_delay=60.0, max_event_age=21600.0,
    )}
    assert config.routes == (RouteConfig(
        method="ANY", path="/x", function="f", auth="none", asynchronous=False, api="http", payload="2.0", cors=True,
    ),)
    assert config.usage_plans == {
        "p": UsagePlanConfig(name="p", rate=None, burst=None, quota=None, quota_period="month"),
        "r": UsagePlanConfig(name="r", rate=2.5, burst=3, quota=None, quota_period="month"),
        "s": UsagePlanConfig(name="s", rate=0.5, burst=1, quota=None, quota_period="month"),
    }
    assert config.websockets == (
        WebSocketConfig(path="/ws", route_selection="$request.body.action", routes={}, auth="none"),
    )
    assert config.billing == BillingConfig(
        price_per_request=Decimal("0.0000002"), price_per_gb_second=Decimal("0.0000166667"),
        free_requests=1_000_000, free_gb_seconds=400_000, granularity_ms=1, bill_init=True,
    )
    assert config.schedules == (ScheduleConfig(
        name="s", expression="rate(1 day)", function="f", input=None, enabled=True, timezone="UTC",
        max_concurrency=1, misfire_grace_seconds=300.0,
    ),)
    assert config.buckets == (BucketConfig(
        name="ups", function=None, events=("s3:ObjectCreated:*",), prefix="", suffix="", auth="api_key",
        settle_seconds=1.0, max_object_bytes=100 * 1024 * 1024,
    ),)
    empty = parse_config({}, tmp_path / "c.toml")
    assert (empty.functions, empty.routes, empty.usage_plans, empty.websockets, empty.schedules, empty.buckets) == (
        {}, (), {}, (), (), ())
    assert (empty.server, empty.executor, empty.billing) == (config.server, config.executor, config.billing)


def test_route_api_and_payload(tmp_path: Path) -> None:
    config = load(tmp_path, F + '[server]\nrest_stage = "v1"\n'
                  '[[routes]]\npath = "/a"\nfunction = "f"\napi = "rest"\n'
                  '[[routes]]\npath = "/b"\nfunction = "f"\napi = "rest"\npayload = "1.0"\n'
                  '[[routes]]\npath = "/c"\nfunction = "f"\npayload = "1.0"\n')
    assert config.server.rest_stage == "v1"
    assert [(r.api, r.payload) for r in config.routes] == [("rest", "1.0"), ("rest", "1.0"), ("http", "1.0")]


def test_executor_user(tmp_path: Path) -> None:
    assert load(tmp_path, '[executor]\nuser = ""\n').executor.user is None
    assert load(tmp_path, '[executor]\nuser = "nobody"\n').executor.user == "nobody"


def test_code_requirements_and_layers_exact_messages(tmp_path: Path) -> None:
    """Issue 11's bad input that the config itself can tell: more than 5 layers, a layer not defined,
    a ``code`` or ``requirements`` path that does not exist (named as written and as resolved)."""
    layers = "".join(f'[layers.l{i}]\npath = "l{i}"\n' for i in range(6))
    for i in range(6):
        (tmp_path / f"l{i}" / "python").mkdir(parents=True)
    cases = [
        (layers + F + 'layers = ["l0", "l1", "l2", "l3", "l4", "l5"]\n',
         "functions.f.layers: 6 layers; a function may use at most 5"),
        (layers + F + 'layers = ["l0", "pillow"]\n',
         'functions.f.layers[1] = "pillow": no such layer (known: l0, l1, l2, l3, l4, l5)'),
        (F + 'layers = ["pillow"]\n', 'functions.f.layers[0] = "pillow": no such layer (known: none are defined)'),
        (layers + F + 'layers = ["l0", "l0"]\n', 'functions.f.layers[1] = "l0": already listed at [0]'),
        (F + 'code = "dist/f.zip"\n', f'functions.f.code = "dist/f.zip": no such folder or .zip ({tmp_path / "dist" / "f.zip"})'),
        (F + 'code = "config.toml"\n',
         f'functions.f.code = "config.toml": must be a folder or a .zip file ({tmp_path / "config.toml"})'),
        (F + 'requirements = "req.txt"\n', f'functions.f.requirements = "req.txt": no such file ({tmp_path / "req.txt"})'),
        (F + 'requirements = "l0"\n', f'functions.f.requirements = "l0": not a file ({tmp_path / "l0"})'),
        ('[layers.x]\npath = "nope.zip"\n', f'layers.x.path = "nope.zip": no such folder or .zip ({tmp_path / "nope.zip"})'),
        ('[layers.x]\npath = "x.zip"\nrequirements = "r.txt"\n',
         f'layers.x.requirements = "r.txt": no such file ({tmp_path / "r.txt"})'),
    ]
    for text, message in cases:
        with pytest.raises(ConfigError) as info:
            load(tmp_path, text)
        assert str(info.value) == f"config.toml: {message}"
    ok = load(tmp_path, layers + F + 'layers = ["l4", "l0", "l1", "l2", "l3"]\n')
    assert ok.functions["f"].layers == ("l4", "l0", "l1", "l2", "l3")
    assert ok.layers["l4"].path == tmp_path / "l4"


C = F + '[[routes]]\npath = "/x"\nfunction = "f"\n[cors]\n'


def test_cors_table(tmp_path: Path) -> None:
    assert load(tmp_path, F).cors is None  # no [cors]: no CORS headers at all
    assert load(tmp_path, C).cors == CorsConfig(
        allow_origins=(), allow_methods=(), allow_headers=(), expose_headers=(), max_age=0, allow_credentials=False)
    config = load(tmp_path, C + 'allow_origins = ["https://App.Example.com", "http://localhost:3000", "http://[::1]:8080"]\n'
                  'allow_methods = ["get", "POST", "*"]\nallow_headers = ["Authorization", "*"]\n'
                  'expose_headers = ["x-request-id"]\nmax_age = 300\nallow_credentials = true\n'
                  '[[routes]]\npath = "/y"\nfunction = "f"\ncors = false\n')
    assert config.cors == CorsConfig(
        allow_origins=("https://app.example.com", "http://localhost:3000", "http://[::1]:8080"),
        allow_methods=("GET", "POST", "*"), allow_headers=("Authorization", "*"), expose_headers=("x-request-id",),
        max_age=300, allow_credentials=True,
    )
    assert [r.cors for r in config.routes] == [True, False]


RULE = 'must be "*" or scheme://host[:port], like "https://app.example.com" or "http://localhost:3000"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('allow_origins = ["example.com"]\n', f'cors.allow_origins[0] = "example.com": no scheme; {RULE}'),
        ('allow_origins = ["*", "https://a.com/"]\n',
         f'cors.allow_origins[1] = "https://a.com/": a trailing "/" is not part of an origin; {RULE}'),
        ('allow_origins = ["https://a.com/app"]\n',
         f'cors.allow_origins[0] = "https://a.com/app": a path is not part of an origin; {RULE}'),
        ('allow_origins = ["https://a.com?x=1"]\n',
         f'cors.allow_origins[0] = "https://a.com?x=1": a query is not part of an origin; {RULE}'),
        ('allow_origins = ["https://*.a.com"]\n', f'cors.allow_origins[0] = "https://*.a.com": not an origin; {RULE}'),
        ('allow_origins = ["https://a.com:x"]\n', f'cors.allow_origins[0] = "https://a.com:x": not an origin; {RULE}'),
        ('allow_origins = "*"\n', 'cors.allow_origins = "*": must be a list of strings'),
        ('allow_origins = ["*"]\nallow_credentials = true\n',
         'cors.allow_credentials = true: not allowed with "*" in cors.allow_origins '
         "(browsers refuse credentials from a wildcard origin); list the origins instead"),
        ('allow_methods = ["GET", "FETCH"]\n',
         'cors.allow_methods[1] = "FETCH": must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, *'),
        ('allow_headers = ["x api"]\n', 'cors.allow_headers[0] = "x api": must be a header name like "x-api-key", or "*"'),
        ('expose_headers = ["a:b"]\n', 'cors.expose_headers[0] = "a:b": must be a header name like "x-api-key", or "*"'),
        ('max_age = 86401\n', 'cors.max_age = 86401: must be an integer from 0 to 86400'),
        ('max_age = -1\n', 'cors.max_age = -1: must be an integer from 0 to 86400'),
        ('allow_credentials = "yes"\n', 'cors.allow_credentials = "yes": must be true or false'),
        ('allow_origin = ["*"]\n', 'cors.allow_origin: unknown key'),
    ],
)
def test_cors_exact_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, C + text)
    assert str(info.value) == f"config.toml: {message}"


def test_route_cors_opt_out_exact_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, R + '"/x"\ncors = "no"\n')
    assert str(info.value) == 'config.toml: routes[0].cors = "no": must be true or false'
    with pytest.raises(ConfigError) as info:
        load(tmp_path, 'cors = 3\n')
    assert str(info.value) == "config.toml: cors: must be a table, got 3"
