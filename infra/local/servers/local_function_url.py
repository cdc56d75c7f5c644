"""The local stand-in for a Lambda function URL (AuthType NONE, InvokeMode BUFFERED).

The function it fronts is template.yaml's one AWS::Lambda::Url (its TargetFunctionArn: today
download-export, behind the manifest's links, docs/proposals/revocable-links.md). For any request,
as the function URL service does (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html):
  - builds the payload format 2.0 event: `version` "2.0", `routeKey`/`stage` "$default", `rawPath`,
    `rawQueryString`, `queryStringParameters` (repeated keys joined by commas), `cookies` (the
    Cookie header, split; no `cookie` in `headers`), `headers` (lower-case names, repeated ones
    joined by commas, plus x-forwarded-for/-proto/-port and x-amzn-trace-id),
    `requestContext` (`accountId` "anonymous", `apiId`/`domainPrefix` the URL id, `domainName`,
    `http` {method, path, protocol, sourceIp, userAgent}, `requestId`, `time`, `timeEpoch`), and
    `body` with `isBase64Encoded` (text types as they are, anything else base64; no body: none);
  - invokes the function through the Lambda Invoke API (the invoke proxy) as the function URL
    service: the header X-Local-Invoked-Via-Function-Url tells the proxy, which authorizes the call
    as Lambda does, from the function's own permissions (lambda:InvokeFunctionUrl with
    FunctionUrlAuthType NONE, lambda:InvokeFunction with InvokedViaFunctionUrl);
  - turns the function's answer into HTTP: an object with `statusCode` gives the status,
    `headers`, `cookies` (one Set-Cookie each) and `body` (base64-decoded if `isBase64Encoded`);
    any other answer (an object without `statusCode`, a string, a list, a number) is a 200 whose
    body is the answer itself, `application/json`. A function error is a 502, a refusal by the
    proxy the URL's 403, a request body over 6 MB a 413.

What it does not do, and refuses to start on: an AWS_IAM URL (SigV4 at the URL), CORS, response
streaming, an alias qualifier. Nor does it throttle (AWS caps a URL at 10 requests a second per
unit of reserved concurrency; the invoke proxy queues instead). `GET /__health` is its own (the
function serves `/f/{token}` only).

Logs one JSON line per request: method, the route template (`/f/{token}`, or `-` for a path the
function does not serve), status and milliseconds. Never the path as called, the query or a body:
the token in the path is a credential, and the answer's Location is a pre-signed URL.
"""

import argparse
import base64
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/local_function_url.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_template  # noqa: E402
from lib.local_http import JsonHandler, log_line, serve  # noqa: E402

# A function URL has no routes: every path reaches the function. These are the ones the fronted
# function serves (the download function's GET /f/{token}), only so that the log can name a route
# without the path's token.
ROUTES = [("/f/{token}", re.compile(r"/f/[^/]+"))]
# A function URL id is 32 lower-case letters and digits; the local one is fixed.
URL_ID = "localfunctionurl0000000000000000"
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # the function URL's (Lambda's synchronous) request payload limit
# Content types passed to the function as text (isBase64Encoded false); anything else is base64.
TEXT_TYPES = re.compile(r"text/.*|application/(json|xml|javascript|x-www-form-urlencoded)|.*\+(json|xml)",
                        re.IGNORECASE)
LAMBDA_URL = ""
TARGET = ""  # the fronted function's ARN
FUNCTION_URL_HEADER = "X-Local-Invoked-Via-Function-Url"


def target_of(template: local_template.Template) -> str:
    """The one function URL's TargetFunctionArn; SystemExit naming what this stand-in cannot serve."""
    urls = template.function_urls()
    if len(urls) != 1:
        raise SystemExit(f"local function URL: template.yaml has {len(urls)} AWS::Lambda::Url resources; "
                         "the stand-in serves exactly one")
    (arn, url), = urls.items()
    unsupported = [f"{key} {url.get(key)}" for key, allowed in
                   (("AuthType", "NONE"), ("InvokeMode", "BUFFERED")) if url.get(key, allowed) != allowed]
    if "Cors" in url:
        unsupported.append("Cors")
    if unsupported:
        raise SystemExit(f"local function URL: {url['LogicalId']} has {', '.join(unsupported)}, "
                         "which the stand-in does not implement")
    return arn


def route_of(path: str) -> str:
    return next((name for name, pattern in ROUTES if pattern.fullmatch(path)), "-")


def request_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str,
                  host: str) -> dict:
    """The payload format 2.0 event of one request; `target` is the raw request target (path?query)."""
    raw_path, _, raw_query = target.partition("?")
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    now = time.time()
    merged.update({
        "host": host,
        "x-forwarded-for": source_ip,
        "x-forwarded-proto": "http",
        "x-forwarded-port": host.rpartition(":")[2] if ":" in host else "80",
        "x-amzn-trace-id": f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}",
    })
    event: dict = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    query: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": "anonymous",
        "apiId": URL_ID,
        "domainName": host,
        "domainPrefix": URL_ID,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    is_text = TEXT_TYPES.fullmatch(merged.get("content-type", "").split(";")[0].strip()) is not None
    as_text = is_text and _is_utf8(body)
    if body:
        event["body"] = body.decode() if as_text else base64.b64encode(body).decode()
    event["isBase64Encoded"] = bool(body) and not as_text
    return event


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
        return True
    except UnicodeDecodeError:
        return False


class BadAnswer(ValueError):
    """A function answer the function URL service cannot turn into HTTP (it answers 502)."""


def http_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the function's answer, as the function URL service makes them."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise BadAnswer("the answer is not JSON") from None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # Lambda infers the response: 200, application/json, the answer itself as the body.
        return 200, [("Content-Type", "application/json")], payload
    status = answer["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadAnswer("statusCode is not an HTTP status")
    headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(c)) for c in answer.get("cookies") or []]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = answer.get("body") or ""
    if not isinstance(body, str):
        raise BadAnswer("body is not a string")
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    return status, headers, data


def invoke(event: dict) -> tuple[int, bytes, dict]:
    """Invokes the fronted function through the Invoke API as the function URL service: (HTTP
    status of the Invoke call, payload, response headers)."""
    request = urllib.request.Request(
        f"{LAMBDA_URL}/2015-03-31/functions/{urllib.parse.quote(TARGET, safe='')}/invocations",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json", FUNCTION_URL_HEADER: "true"},
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def message(status: int, text: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps({"Message": text}).encode()


class Handler(JsonHandler):

    def handle_any(self):
        started = time.monotonic()
        raw_path = self.path.partition("?")[0]
        if raw_path == "/__health" and self.command == "GET":
            self.reply(200, json.dumps({"function": TARGET}).encode())
            return
        status, headers, body = self.answer()
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log_line(json.dumps({"method": self.command, "route": route_of(raw_path), "status": status,
                             "ms": round((time.monotonic() - started) * 1000)}))

    def answer(self) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            return message(413, f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation")
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        event = request_event(self.command, self.path, list(self.headers.items()), body,
                              self.client_address[0], host)
        try:
            status, payload, headers = invoke(event)
        except (urllib.error.URLError, OSError):
            return message(502, "Internal Server Error")
        if status == 403:
            return message(403, "Forbidden")
        if status != 200 or headers.get("X-Amz-Function-Error"):
            return message(502, "Internal Server Error")
        try:
            return http_response(payload)
        except BadAnswer:
            return message(502, "Internal Server Error")

    def __getattr__(self, name):
        # Every method, even one the standard library does not know, reaches the function, as on AWS.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


def main() -> None:
    global LAMBDA_URL, TARGET
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", required=True)
    args = parser.parse_args()
    LAMBDA_URL = args.lambda_url.rstrip("/")
    TARGET = target_of(local_template.template())
    serve(args.port, Handler, f"local function URL on 127.0.0.1:{args.port} -> {TARGET} via {LAMBDA_URL}")


if __name__ == "__main__":
    main()
