"""SigV4 (AWS4-HMAC-SHA256, Authorization header) verification for the local API gateway, as
API Gateway does it for an AWS_IAM route, against the temporary credentials the identity-pool
stand-in (local_identity.py) minted and recorded in .local/identity/sessions.json.

Checks, in API Gateway's order and with its 403 bodies: the Authorization header's parts, the
date (X-Amz-Date, within 15 minutes), the credential scope (date, region, service execute-api,
aws4_request), the access key (known, not expired), X-Amz-Security-Token (the session's), and the
signature over the canonical request (method, URI, query, signed headers, SHA-256 of the body).
"""

import hashlib
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = timedelta(minutes=15)
INVALID_TOKEN = "The security token included in the request is invalid."
UNRESERVED = "-_.~"


@dataclass
class Refusal:
    """API Gateway's own 403: its gateway response type, x-amzn-ErrorType and message."""

    kind: str
    error_type: str
    message: str
    status: int = 403

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()


class Sessions:
    """The minted credentials, reread when the identity stand-in rewrites the file."""

    def __init__(self, path: Path):
        self.path = path
        self.mtime: float | None = None
        self.sessions: dict[str, dict] = {}

    def get(self, access_key: str) -> dict | None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if mtime != self.mtime:
            try:
                self.sessions = json.loads(self.path.read_text())
                self.mtime = mtime
            except ValueError:
                return None
        return self.sessions.get(access_key)


def authorization_parts(header: str) -> dict[str, str] | Refusal:
    """Credential, SignedHeaders and Signature of an `AWS4-HMAC-SHA256 …` Authorization header."""
    rest = header[len(ALGORITHM):].strip()
    parts = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key.strip()] = value.strip()
    missing = [k for k in ("Credential", "Signature", "SignedHeaders") if not parts.get(k)]
    if missing:
        message = " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        # API Gateway echoes the header; never its signature.
        shown = re.split(r",?\s*Signature=", header)[0]
        message += f" Authorization={shown}"
        return Refusal("MISSING_AUTHENTICATION_TOKEN", "IncompleteSignatureException", message)
    return parts


def uri_encode(text: str) -> str:
    return urllib.parse.quote(text, safe=UNRESERVED)


def canonical_uri(raw_path: str) -> str:
    """Each segment of the path as received (still percent-encoded) encoded once more, as the AWS
    SDKs sign for every service but S3."""
    if not raw_path:
        return "/"
    return "/".join(uri_encode(segment) for segment in raw_path.split("/"))


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote_plus(key)), uri_encode(urllib.parse.unquote_plus(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers, signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = headers.get_all(name) or []
        joined = ",".join(re.sub(r"\s+", " ", v.strip()) for v in values)
        lines.append(f"{name}:{joined}\n")
    return "".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(method: str, raw_path: str, raw_query: str, headers, body: bytes, region: str,
           sessions: Sessions, now: datetime | None = None) -> dict | Refusal:
    """The session that signed this request, or API Gateway's refusal."""
    now = now or datetime.now(timezone.utc)
    parts = authorization_parts(headers.get("Authorization", ""))
    if isinstance(parts, Refusal):
        return parts
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        return Refusal("MISSING_AUTHENTICATION_TOKEN", "IncompleteSignatureException",
                       "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return Refusal("INVALID_SIGNATURE", "IncompleteSignatureException",
                       f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                       "See http://en.wikipedia.org/wiki/ISO_8601")
    stamp = lambda t: t.strftime("%Y%m%dT%H%M%SZ")  # noqa: E731
    if signed_at < now - MAX_SKEW:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       f"Signature expired: {amz_date} is now earlier than {stamp(now - MAX_SKEW)} "
                       f"({stamp(now)} - 15 min.)")
    if signed_at > now + MAX_SKEW:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       f"Signature not yet current: {amz_date} is still later than {stamp(now + MAX_SKEW)} "
                       f"({stamp(now)} + 15 min.)")
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        return Refusal("INVALID_SIGNATURE", "IncompleteSignatureException",
                       "Credential should be scoped to a valid region. ")
    access_key, date, scope_region, service, terminal = scope
    if date != amz_date[:8]:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                       f"'{date}' != '{amz_date[:8]}', from '{amz_date}'.")
    if scope_region != region:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       "Credential should be scoped to a valid region. ")
    if service != SERVICE:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminal != "aws4_request":
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       "Credential should be scoped with a valid terminator: 'aws4_request'. ")
    session = sessions.get(access_key)
    if session is None:
        return Refusal("UNAUTHORIZED", "UnrecognizedClientException", INVALID_TOKEN)
    if session["expiration"] <= time.time():
        return Refusal("EXPIRED_TOKEN", "ExpiredTokenException", "The security token included in the request is expired")
    token = headers.get("X-Amz-Security-Token")
    if token is None or not hmac.compare_digest(token, session["sessionToken"]):
        return Refusal("UNAUTHORIZED", "UnrecognizedClientException", INVALID_TOKEN)
    signed = parts["SignedHeaders"].lower().split(";")
    if "host" not in signed:
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    canonical = "\n".join([
        method,
        canonical_uri(raw_path),
        canonical_query(raw_query),
        canonical_headers(headers, signed),
        ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, amz_date, "/".join(scope[1:]), digest])
    expected = hmac.new(signing_key(session["secretAccessKey"], date, scope_region, service),
                        string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["Signature"]):
        # API Gateway's text, with the canonical request and string to sign it computed (they hold
        # no secret: the caller sent every part of them).
        return Refusal("INVALID_SIGNATURE", "InvalidSignatureException",
                       "The request signature we calculated does not match the signature you provided. Check your "
                       "AWS Secret Access Key and signing method. Consult the service documentation for details."
                       f"\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                       f"The String-to-Sign should have been\n'{string_to_sign}'\n")
    return session
