"""gateway.sigv4 against signatures made by botocore itself, as they would arrive on the wire."""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from urllib3.response import HTTPResponse

from gateway.sigv4 import SigV4Credential, SigV4Error, looks_signed, parse_authorization, verify

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ENDPOINT = "http://127.0.0.1:9"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
# The path botocore's rest-json serializer builds for Invoke(FunctionName=ARN): ":" -> "%3A".
INVOKE_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireRequest:
    """A request as the gateway sees it: ASGI raw path and query, lower-cased headers, body bytes."""

    method: str
    raw_path: str
    query_string: str
    headers: dict[str, str]
    body: bytes

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def with_headers(self, **changes: str) -> WireRequest:
        return replace(self, headers={**self.headers, **{k.replace("_", "-"): v for k, v in changes.items()}})


def on_the_wire(prepared: AWSPreparedRequest) -> WireRequest:
    """What urllib3 sends for a prepared botocore request: the URL's path and query verbatim, plus Host."""
    url = urlsplit(prepared.url)
    headers = {
        name.lower(): value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }
    headers.setdefault("host", url.netloc)  # urllib3 adds it; botocore signed the same netloc
    body = prepared.body or b""
    return WireRequest(
        method=prepared.method,
        raw_path=url.path,
        query_string=url.query,
        headers=headers,
        body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
    )


def signed(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "lambda",
    region: str = "us-east-1",
) -> WireRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=body)
    SigV4Auth(Credentials(AKID, SECRET), service, region).add_auth(request)
    return on_the_wire(request.prepare())


def check(wire: WireRequest, *, secret: str = SECRET, now: datetime | None = None) -> SigV4Credential:
    credential = parse_authorization(wire.headers["authorization"])
    verify(
        method=wire.method,
        raw_path=wire.raw_path,
        query_string=wire.query_string,
        headers=wire.headers,
        body=wire.body,
        secret=secret,
        credential=credential,
        now=wire.signed_at if now is None else now,
    )
    return credential


def rejected(wire: WireRequest, *, secret: str = SECRET, now: datetime | None = None) -> SigV4Error:
    with pytest.raises(SigV4Error) as info:
        check(wire, secret=secret, now=now)
    return info.value


def invoke_request(body: bytes = b'{"name": "world"}') -> WireRequest:
    return signed("POST", f"{ENDPOINT}{INVOKE_PATH}?Qualifier=%24LATEST", body=body)


# -- accepted -----------------------------------------------------------------------------------


def test_lambda_invoke_with_arn_and_qualifier_verifies() -> None:
    wire = invoke_request()
    assert wire.raw_path == INVOKE_PATH
    assert wire.query_string == "Qualifier=%24LATEST"

    credential = check(wire)

    assert credential.access_key_id == AKID
    assert credential.date == wire.headers["x-amz-date"][:8]
    assert (credential.region, credential.service) == ("us-east-1", "lambda")
    assert credential.signed_headers == ("host", "x-amz-date")
    assert credential.scope == f"{credential.date}/us-east-1/lambda/aws4_request"


def test_canonical_request_encodes_the_received_path_once_more() -> None:
    wire = invoke_request()
    amz_date = wire.headers["x-amz-date"]

    error = rejected(wire, secret="not-the-secret")

    canonical = "\n".join(
        [
            "POST",
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Ahello/invocations",
            "Qualifier=%24LATEST",
            f"host:127.0.0.1:9\nx-amz-date:{amz_date}\n",
            "host;x-amz-date",
            hashlib.sha256(b'{"name": "world"}').hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            f"{amz_date[:8]}/us-east-1/lambda/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    assert error.code == "InvalidSignatureException"
    assert error.message == (
        f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
        f"The String-to-Sign should have been\n'{string_to_sign}'\n"
    )
    assert str(error) == error.message


def test_aws_documentation_example_verifies() -> None:
    # The worked example from the AWS General Reference ("Examples of the complete Signature Version 4
    # signing process"): IAM ListUsers, independent of botocore.
    credential = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    verify(
        method="GET",
        raw_path="/",
        query_string="Action=ListUsers&Version=2010-05-08",
        headers={
            "host": "iam.amazonaws.com",
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            "x-amz-date": "20150830T123600Z",
        },
        body=b"",
        secret=SECRET,
        credential=credential,
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )


def test_execute_api_connections_post_verifies() -> None:
    wire = signed("POST", f"{ENDPOINT}/ws/@connections/abc%3D", body=b'{"msg": "hi"}', service="execute-api")
    assert wire.raw_path == "/ws/@connections/abc%3D"

    assert check(wire).service == "execute-api"


def test_empty_body_verifies() -> None:
    wire = signed("GET", f"{ENDPOINT}/2015-03-31/functions/hello")
    assert wire.body == b""

    check(wire)


def test_unicode_body_verifies() -> None:
    check(invoke_request(body='{"greeting": "héllo wörld ☃ 🚀"}'.encode()))


def test_header_values_are_trimmed_and_spaces_collapsed() -> None:
    wire = signed(
        "POST",
        f"{ENDPOINT}{INVOKE_PATH}",
        headers={"X-Amz-Client-Context": "  a   b \t c  ", "Content-Type": "application/json;  charset=utf-8"},
    )
    credential = check(wire)

    assert credential.signed_headers == ("content-type", "host", "x-amz-client-context", "x-amz-date")
    # An HTTP server strips the outer whitespace but keeps the inner runs.
    check(wire.with_headers(x_amz_client_context="a   b \t c"))


def test_repeated_and_unusual_query_keys_verify() -> None:
    query = "tag=b&tag=a&Qualifier=%24LATEST&empty=&flag&path=%2Fx%20y~&tag=%C3%A9"
    wire = signed("GET", f"{ENDPOINT}/2015-03-31/functions/hello?{query}")
    assert wire.query_string == query

    check(wire)
    # Order on the wire does not matter, and an escape for an unreserved character is canonicalised.
    check(replace(wire, query_string="tag=%C3%A9&fl%61g&tag=a&path=%2Fx%20y%7E&empty=&Qualifier=%24LATEST&tag=b"))


def test_dot_segments_and_double_slashes_are_normalised_like_botocore() -> None:
    wire = signed("POST", f"{ENDPOINT}/ws//@connections/./x/../abc%3D", body=b"m", service="execute-api")
    assert wire.raw_path == "/ws//@connections/./x/../abc%3D"

    check(wire)


def test_only_the_listed_signed_headers_count() -> None:
    wire = invoke_request()
    assert "user-agent" not in parse_authorization(wire.headers["authorization"]).signed_headers

    check(wire.with_headers(user_agent="something/else", x_forwarded_for="10.0.0.1"))


def test_timestamp_exactly_five_minutes_off_is_accepted() -> None:
    wire = invoke_request()

    check(wire, now=wire.signed_at + timedelta(minutes=5))
    check(wire, now=wire.signed_at - timedelta(minutes=5))


def test_unsigned_payload_accepts_any_body() -> None:
    wire = signed("POST", f"{ENDPOINT}{INVOKE_PATH}", body=b"x", headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})

    check(replace(wire, body=b"anything at all"))


def test_declared_content_sha256_is_used_and_checked_against_the_body() -> None:
    body = b'{"k": "v"}'
    wire = signed(
        "POST",
        f"{ENDPOINT}{INVOKE_PATH}",
        body=body,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
    )
    check(wire)

    error = rejected(replace(wire, body=b'{"k": "tampered"}'))
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )


# -- end to end: real boto3 clients, stopped at the socket ---------------------------------------


class Captured:
    """A ``before-send`` handler: keeps the final request and answers it without any network."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.requests: list[AWSPreparedRequest] = []
        self._status, self._headers, self._body = status, headers, body

    def __call__(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        self.requests.append(request)
        raw = HTTPResponse(
            body=io.BytesIO(self._body), headers=self._headers, status=self._status, preload_content=False
        )
        return AWSResponse(request.url, self._status, self._headers, raw)


def client(service: str, endpoint_url: str, captured: Captured) -> Any:
    c = boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )
    c.meta.events.register("before-send", captured)
    return c


def test_boto3_lambda_invoke_end_to_end() -> None:
    captured = Captured(200, {"X-Amz-Executed-Version": "$LATEST"}, b'{"ok": true}')
    lam = client("lambda", ENDPOINT, captured)

    response = lam.invoke(FunctionName=ARN, Qualifier="$LATEST", Payload='{"name": "wörld"}'.encode())

    assert response["Payload"].read() == b'{"ok": true}'
    (request,) = captured.requests
    wire = on_the_wire(request)
    assert (wire.raw_path, wire.query_string) == (INVOKE_PATH, "Qualifier=%24LATEST")
    assert wire.body == '{"name": "wörld"}'.encode()
    credential = parse_authorization(wire.headers["authorization"])
    assert "host" in credential.signed_headers
    # The real clock: boto3 signed just now.
    verify(
        method=wire.method,
        raw_path=wire.raw_path,
        query_string=wire.query_string,
        headers=wire.headers,
        body=wire.body,
        secret=SECRET,
        credential=credential,
    )
    assert rejected(replace(wire, body=b'{"name": "mallory"}')).message.startswith(MISMATCH)


def test_boto3_post_to_connection_end_to_end() -> None:
    captured = Captured(200, {}, b"")
    api = client("apigatewaymanagementapi", f"{ENDPOINT}/ws", captured)

    api.post_to_connection(ConnectionId="abc=", Data="héllo".encode())

    (request,) = captured.requests
    wire = on_the_wire(request)
    assert wire.raw_path == "/ws/@connections/abc%3D"
    assert check(wire).service == "execute-api"


# -- rejected ------------------------------------------------------------------------------------


def test_wrong_secret_is_rejected() -> None:
    error = rejected(invoke_request(), secret="wrong")
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith(MISMATCH)


def test_tampered_body_is_rejected() -> None:
    error = rejected(replace(invoke_request(), body=b'{"name": "mallory"}'))
    assert (error.code, error.message.startswith(MISMATCH)) == ("InvalidSignatureException", True)


def test_tampered_path_is_rejected() -> None:
    error = rejected(replace(invoke_request(), raw_path=INVOKE_PATH.replace("hello", "other")))
    assert error.code == "InvalidSignatureException"
    assert "000000000000%253Afunction%253Aother/invocations" in error.message


def test_decoded_path_is_not_the_signed_path() -> None:
    # A gateway that hands over the percent-decoded path would break every ARN invocation.
    decoded = INVOKE_PATH.replace("%3A", ":")
    assert rejected(replace(invoke_request(), raw_path=decoded)).message.startswith(MISMATCH)


def test_tampered_query_is_rejected() -> None:
    error = rejected(replace(invoke_request(), query_string="Qualifier=prod"))
    assert error.message.startswith(MISMATCH)


def test_tampered_signed_header_is_rejected() -> None:
    wire = signed("POST", f"{ENDPOINT}{INVOKE_PATH}", headers={"X-Amz-Invocation-Type": "RequestResponse"})
    check(wire)

    error = rejected(wire.with_headers(x_amz_invocation_type="Event"))
    assert (error.code, error.message.startswith(MISMATCH)) == ("InvalidSignatureException", True)


def test_missing_signed_header_is_rejected() -> None:
    wire = signed("POST", f"{ENDPOINT}{INVOKE_PATH}", headers={"X-Amz-Invocation-Type": "Event"})
    headers = {k: v for k, v in wire.headers.items() if k != "x-amz-invocation-type"}

    error = rejected(replace(wire, headers=headers))
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Signed header 'x-amz-invocation-type' is missing from the request.",
    )


def test_missing_x_amz_date_is_rejected() -> None:
    wire = invoke_request()
    credential = parse_authorization(wire.headers["authorization"])
    headers = {k: v for k, v in wire.headers.items() if k != "x-amz-date"}

    with pytest.raises(SigV4Error) as info:
        verify(
            method=wire.method,
            raw_path=wire.raw_path,
            query_string=wire.query_string,
            headers=headers,
            body=wire.body,
            secret=SECRET,
            credential=credential,
            now=wire.signed_at,
        )
    assert (info.value.code, info.value.message) == (
        "IncompleteSignatureException",
        "Authorization header requires existence of a 'X-Amz-Date' header.",
    )


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", "20260101T000000", "20261301T000000Z", "２０２６0101T000000Z"]
)
def test_malformed_x_amz_date_is_rejected(value: str) -> None:
    wire = invoke_request().with_headers(x_amz_date=value)

    error = rejected(wire, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert (error.code, error.message) == (
        "IncompleteSignatureException",
        f"X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z'). Got '{value}'.",
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def test_signature_six_minutes_old_is_expired() -> None:
    wire = invoke_request()
    now = wire.signed_at + timedelta(minutes=6)

    error = rejected(wire, now=now)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        f"Signature expired: {stamp(wire.signed_at)} is now earlier than "
        f"{stamp(wire.signed_at + timedelta(minutes=1))} ({stamp(now)} - 5 min.)",
    )


def test_signature_six_minutes_ahead_is_not_yet_current() -> None:
    wire = invoke_request()
    now = wire.signed_at - timedelta(minutes=6)

    error = rejected(wire, now=now)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        f"Signature not yet current: {stamp(wire.signed_at)} is still later than "
        f"{stamp(wire.signed_at - timedelta(minutes=1))} ({stamp(now)} + 5 min.)",
    )


def test_skew_uses_the_wall_clock_in_utc_and_max_skew() -> None:
    wire = invoke_request()
    # The same instant seen from UTC+01:00 is no skew at all.
    check(wire, now=wire.signed_at.astimezone(timezone(timedelta(hours=1))))

    with pytest.raises(SigV4Error) as info:
        verify(
            method=wire.method,
            raw_path=wire.raw_path,
            query_string=wire.query_string,
            headers=wire.headers,
            body=wire.body,
            secret=SECRET,
            credential=parse_authorization(wire.headers["authorization"]),
            now=wire.signed_at + timedelta(seconds=91),
            max_skew=timedelta(seconds=90),
        )
    assert info.value.message.endswith(f"({stamp(wire.signed_at + timedelta(seconds=91))} - 90 sec.)")


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(invoke_request(), now=datetime(2026, 1, 1))


def test_scope_date_mismatch_is_rejected() -> None:
    wire = invoke_request()
    credential_date = wire.headers["x-amz-date"][:8]
    next_day = wire.signed_at + timedelta(days=1)
    tampered = wire.with_headers(x_amz_date=stamp(next_day))

    error = rejected(tampered, now=next_day)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{credential_date}' != '{stamp(next_day)[:8]}', from '{stamp(next_day)}'.",
    )


def test_host_must_be_signed() -> None:
    wire = invoke_request()
    auth = wire.headers["authorization"].replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date")

    error = rejected(wire.with_headers(authorization=auth))
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    )


def test_streaming_payload_is_not_supported() -> None:
    wire = invoke_request().with_headers(x_amz_content_sha256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")

    error = rejected(wire)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Unsupported x-amz-content-sha256 value 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': expected a hex SHA-256 "
        "or 'UNSIGNED-PAYLOAD' (aws-chunked streaming payloads are not supported).",
    )


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    wire = invoke_request()
    credential = parse_authorization(wire.headers["authorization"])
    forged = replace(credential, signature="é" * 64)

    with pytest.raises(SigV4Error) as info:
        verify(
            method=wire.method,
            raw_path=wire.raw_path,
            query_string=wire.query_string,
            headers=wire.headers,
            body=wire.body,
            secret=SECRET,
            credential=forged,
            now=wire.signed_at,
        )
    assert info.value.message.startswith(MISMATCH)


# -- parse_authorization -------------------------------------------------------------------------

SCOPE = "AKID/20260101/us-east-1/lambda/aws4_request"
SIG = "0" * 64


def test_parse_authorization_reads_every_field() -> None:
    header = f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=host;X-Amz-Date,  Signature={SIG}"

    assert parse_authorization(header) == SigV4Credential(
        access_key_id="AKID",
        date="20260101",
        region="us-east-1",
        service="lambda",
        signed_headers=("host", "x-amz-date"),
        signature=SIG,
    )


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        ("", "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ("   ", "MissingAuthenticationTokenException", "Missing Authentication Token"),
        (
            "Bearer abc",
            "IncompleteSignatureException",
            "Unsupported Authorization algorithm 'Bearer'; expected 'AWS4-HMAC-SHA256'.",
        ),
        (
            "AWS4-HMAC-SHA256",
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. Authorization header requires "
            "'SignedHeaders' parameter. Authorization header requires 'Signature' parameter.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date",
            "IncompleteSignatureException",
            "Authorization header requires 'Signature' parameter.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders, Signature={SIG}",
            "IncompleteSignatureException",
            "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header: "
            f"'AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders, Signature={SIG}'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={SIG}, Signature={SIG}",
            "IncompleteSignatureException",
            "Authorization header has a duplicate 'Signature' parameter.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=, Signature=",
            "IncompleteSignatureException",
            "Authorization header has an empty 'SignedHeaders' parameter. "
            "Authorization header has an empty 'Signature' parameter.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;;x-amz-date, Signature={SIG}",
            "IncompleteSignatureException",
            "SignedHeaders has an empty header name: 'host;;x-amz-date'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda, SignedHeaders=host, Signature={SIG}",
            "IncompleteSignatureException",
            "Credential should have 5 '/'-separated parts (AKID/YYYYMMDD/region/service/aws4_request), "
            "got 'AKID/20260101/us-east-1/lambda'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws5_request, SignedHeaders=host, "
            f"Signature={SIG}",
            "IncompleteSignatureException",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=AKID/2026-01-01/us-east-1/lambda/aws4_request, SignedHeaders=host, "
            f"Signature={SIG}",
            "IncompleteSignatureException",
            "Credential should be scoped to a date in YYYYMMDD format, not '2026-01-01'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=AKID/20260101//lambda/aws4_request, SignedHeaders=host, Signature={SIG}",
            "IncompleteSignatureException",
            "Credential has an empty region: 'AKID/20260101//lambda/aws4_request'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature={SIG}",
            "IncompleteSignatureException",
            "Credential has an empty access key id: '/20260101/us-east-1/lambda/aws4_request'.",
        ),
    ],
)
def test_malformed_authorization_is_rejected(header: str, code: str, message: str) -> None:
    with pytest.raises(SigV4Error) as info:
        parse_authorization(header)

    assert (info.value.code, info.value.message) == (code, message)


def test_error_pickles_with_its_code() -> None:
    error = pickle.loads(pickle.dumps(SigV4Error("InvalidSignatureException", "nope")))
    assert (error.code, error.message, str(error)) == ("InvalidSignatureException", "nope", "nope")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={SIG}"}, True),
        ({"authorization": "Bearer admin-key"}, False),
        ({"authorization": ""}, False),
        ({}, False),
    ],
)
def test_looks_signed(headers: dict[str, str], expected: bool) -> None:
    assert looks_signed(headers) is expected
