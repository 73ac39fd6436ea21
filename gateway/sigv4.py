"""Server-side AWS Signature Version 4 verification for header-signed requests.

Pure and synchronous: no I/O, no clock unless ``now`` is left out. The gateway parses the
``Authorization`` header with :func:`parse_authorization`, looks up the secret for
``credential.access_key_id`` (and checks ``credential.service`` against what the endpoint expects;
the region is not checked), then calls :func:`verify` with the request exactly as it arrived.

The canonical request is rebuilt the way botocore's ``SigV4Auth`` builds it for non-S3 services
(lambda, execute-api), so a request signed by boto3 verifies byte for byte:

- the canonical URI is the path as received, dot segments and repeated slashes removed, then
  percent-encoded once more (``arn%3A...`` is signed as ``arn%253A...``);
- the canonical query is every ``key=value`` pair percent-decoded and re-encoded with the safe set
  ``-_.~``, sorted by key then value (``+`` is a literal plus, as in RFC 3986);
- only the headers listed in ``SignedHeaders`` count, in the order listed; clients add others
  (User-Agent, Content-Length) after signing;
- the payload hash is ``X-Amz-Content-SHA256`` when sent (``UNSIGNED-PAYLOAD`` included), else the
  hex SHA-256 of the body. A hex value in that header must match the body, or the signature would
  not cover the body at all.

Errors are :class:`SigV4Error` carrying the AWS error code and AWS-style wording.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote_to_bytes

__all__ = ["SigV4Credential", "SigV4Error", "looks_signed", "parse_authorization", "verify"]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_INCOMPLETE = "IncompleteSignatureException"
_INVALID = "InvalidSignatureException"
_MISSING_TOKEN = "MissingAuthenticationTokenException"

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z", re.ASCII)
_SCOPE_DATE = re.compile(r"\d{8}", re.ASCII)
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_REQUIRED_PARAMETERS = ("Credential", "SignedHeaders", "Signature")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class SigV4Error(Exception):
    """A request failed SigV4 authentication.

    ``code`` is the AWS error code a client expects (``IncompleteSignatureException``,
    ``InvalidSignatureException`` or ``MissingAuthenticationTokenException``); ``message`` names the
    problem in AWS's wording.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True, kw_only=True)
class SigV4Credential:
    """What an ``Authorization: AWS4-HMAC-SHA256 ...`` header claims.

    ``date`` is the credential scope date (YYYYMMDD); ``signed_headers`` are lower-cased, in the
    order the client listed them; ``signature`` is the hex signature as sent.
    """

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        """The credential scope, ``date/region/service/aws4_request``."""
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


def looks_signed(headers: Mapping[str, str]) -> bool:
    """Whether the request carries a SigV4 ``Authorization`` header (names lower-cased)."""
    return headers.get("authorization", "").lstrip().startswith(ALGORITHM)


def parse_authorization(header: str) -> SigV4Credential:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    Raises :class:`SigV4Error`: ``MissingAuthenticationTokenException`` for an empty header,
    ``IncompleteSignatureException`` naming what is missing or malformed otherwise.
    """
    text = header.strip()
    if not text:
        raise SigV4Error(_MISSING_TOKEN, "Missing Authentication Token")
    algorithm, _, rest = text.partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(
            _INCOMPLETE,
            f"Unsupported Authorization algorithm '{algorithm}'; expected '{ALGORITHM}'.",
        )
    parameters: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals:
            raise SigV4Error(
                _INCOMPLETE,
                f"'{item}' not a valid key=value pair (missing equal-sign) in Authorization header: '{text}'.",
            )
        name = name.strip()
        if name in parameters:
            raise SigV4Error(_INCOMPLETE, f"Authorization header has a duplicate '{name}' parameter.")
        # Unknown parameters are ignored: nothing outside these three takes part in the signature.
        parameters[name] = value.strip()
    missing = [name for name in _REQUIRED_PARAMETERS if name not in parameters]
    if missing:
        raise SigV4Error(
            _INCOMPLETE,
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
        )
    empty = [name for name in _REQUIRED_PARAMETERS if not parameters[name]]
    if empty:
        raise SigV4Error(
            _INCOMPLETE,
            " ".join(f"Authorization header has an empty '{name}' parameter." for name in empty),
        )
    access_key_id, date, region, service = _parse_credential(parameters["Credential"])
    signed_headers = tuple(name.strip().lower() for name in parameters["SignedHeaders"].split(";"))
    if not all(signed_headers):
        raise SigV4Error(
            _INCOMPLETE,
            f"SignedHeaders has an empty header name: '{parameters['SignedHeaders']}'.",
        )
    return SigV4Credential(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=parameters["Signature"],
    )


def verify(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    credential: SigV4Credential,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=5),
) -> None:
    """Check ``credential`` against the request as it arrived; return quietly when it holds.

    ``raw_path`` and ``query_string`` are the request target as sent on the wire (ASGI
    ``raw_path`` / ``query_string`` decoded as latin-1, query without ``?``); ``headers`` has
    lower-cased names, repeated headers joined with ``","``. ``now`` must be timezone-aware
    (default: the current UTC time).

    Raises :class:`SigV4Error` (``InvalidSignatureException`` or ``IncompleteSignatureException``).
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")

    if "host" not in credential.signed_headers:
        raise SigV4Error(_INVALID, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = headers.get("x-amz-date")
    if amz_date is None:
        raise SigV4Error(_INCOMPLETE, "Authorization header requires existence of a 'X-Amz-Date' header.")
    signed_at = _parse_amz_date(amz_date)
    if credential.date != amz_date[:8]:
        raise SigV4Error(
            _INVALID,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{credential.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    _check_skew(signed_at, amz_date, now, max_skew)

    canonical_headers = []
    for name in credential.signed_headers:
        value = headers.get(name)
        if value is None:
            raise SigV4Error(_INVALID, f"Signed header '{name}' is missing from the request.")
        canonical_headers.append(f"{name}:{' '.join(value.split())}\n")

    canonical_request = "\n".join(
        [
            method.upper(),
            _canonical_uri(raw_path),
            _canonical_query(query_string),
            "".join(canonical_headers),
            ";".join(credential.signed_headers),
            _payload_hash(headers, body),
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, credential.scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    expected = _signature(secret, credential, string_to_sign)
    if not hmac.compare_digest(expected.encode("ascii"), credential.signature.encode("utf-8")):
        # Like API Gateway, show the client what was signed here so it can diff its own.
        raise SigV4Error(
            _INVALID,
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )


def _parse_credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5:
        raise SigV4Error(
            _INCOMPLETE,
            f"Credential should have 5 '/'-separated parts (AKID/YYYYMMDD/region/service/aws4_request), got '{value}'.",
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise SigV4Error(
            _INCOMPLETE,
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'.",
        )
    if not _SCOPE_DATE.fullmatch(date):
        raise SigV4Error(_INCOMPLETE, f"Credential should be scoped to a date in YYYYMMDD format, not '{date}'.")
    for label, part in (("access key id", access_key_id), ("region", region), ("service", service)):
        if not part:
            raise SigV4Error(_INCOMPLETE, f"Credential has an empty {label}: '{value}'.")
    return access_key_id, date, region, service


def _parse_amz_date(value: str) -> datetime:
    try:
        if not _AMZ_DATE.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error(
            _INCOMPLETE,
            f"X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z'). Got '{value}'.",
        ) from None


def _check_skew(signed_at: datetime, amz_date: str, now: datetime, max_skew: timedelta) -> None:
    now = now.astimezone(UTC)
    if signed_at < now - max_skew:
        raise SigV4Error(
            _INVALID,
            f"Signature expired: {amz_date} is now earlier than {_stamp(now - max_skew)} "
            f"({_stamp(now)} - {_describe(max_skew)})",
        )
    if signed_at > now + max_skew:
        raise SigV4Error(
            _INVALID,
            f"Signature not yet current: {amz_date} is still later than {_stamp(now + max_skew)} "
            f"({_stamp(now)} + {_describe(max_skew)})",
        )


def _stamp(moment: datetime) -> str:
    return moment.strftime(_AMZ_DATE_FORMAT)


def _describe(skew: timedelta) -> str:
    seconds = int(skew.total_seconds())
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


def _wire_bytes(text: str) -> bytes:
    # ASGI gives bytes; callers decode them as latin-1, which round-trips exactly. A caller that
    # passed already-decoded UTF-8 text gets the UTF-8 bytes a client would have sent.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _canonical_uri(raw_path: str) -> str:
    # botocore's SigV4Auth (every service but S3) signs the path with dot segments and empty
    # segments removed, then quotes the already percent-encoded path once more.
    return quote(_wire_bytes(_remove_dot_segments(raw_path)), safe="/~")


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


def _canonical_query(query_string: str) -> str:
    pairs = []
    for item in _wire_bytes(query_string).split(b"&"):
        if not item:
            continue
        key, _, value = item.partition(b"=")
        pairs.append((_encode(key), _encode(value)))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _encode(component: bytes) -> str:
    return quote(unquote_to_bytes(component), safe="-_.~")


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD:
        return declared
    if not _HEX_SHA256.fullmatch(declared):
        raise SigV4Error(
            _INVALID,
            f"Unsupported x-amz-content-sha256 value '{declared}': expected a hex SHA-256 or "
            f"'{UNSIGNED_PAYLOAD}' (aws-chunked streaming payloads are not supported).",
        )
    if declared.lower() != actual:
        raise SigV4Error(_INVALID, "The provided 'x-amz-content-sha256' header does not match what was computed.")
    return declared


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _signature(secret: str, credential: SigV4Credential, string_to_sign: str) -> str:
    key = _hmac(f"AWS4{secret}".encode(), credential.date)
    for part in (credential.region, credential.service, TERMINATOR):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
