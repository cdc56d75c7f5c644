"""The local stand-in for API Gateway (REST API, AWS_IAM authorization).

Routes the API's routes (DESIGN §5) to the functions through the Lambda Invoke API (the invoke
proxy), sending the REST-API proxy event AWS sends, so handlers are tested on the real event shape.
The routes are read from the deployed API's own OpenAPI document (infra/api/openapi.yaml): method,
path template, and the function its integration URI names (StartExportFunction -> start-export).
It stands in for IAM: the caller is LOCAL_PRINCIPAL, or the `X-Local-Principal` header's value;
the value `none` sends no identity at all (an unsigned request).

Logs one line per request (method, resource, status, milliseconds), never a body.
"""

import argparse
import base64
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

OPENAPI = Path(__file__).resolve().parents[2] / "infra/api/openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# The integration URI names the function by its logical id in template.yaml.
INTEGRATION_FUNCTION = re.compile(r"\$\{(?P<logical_id>\w+)Function\.Arn\}")


def crate_name(pascal: str) -> str:
    """StartExport -> start-export: the function's crate, which is its local name."""
    return re.sub(r"(?<!^)([A-Z])", r"-\1", pascal).lower()


def load_routes(path: Path = OPENAPI) -> list[tuple[str, str, str]]:
    """(method, resource template, function) of every operation in the OpenAPI document, so the
    local gateway serves exactly the routes API Gateway serves."""
    document = yaml.safe_load(path.read_text())
    routes = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            uri = operation["x-amazon-apigateway-integration"]["uri"]
            if isinstance(uri, dict):
                uri = uri.get("Fn::Sub", "")
            found = INTEGRATION_FUNCTION.search(uri if isinstance(uri, str) else "")
            if not found:
                raise SystemExit(f"local gateway: {method.upper()} {template} has no Lambda integration: {uri!r}")
            routes.append((method.upper(), template, crate_name(found["logical_id"])))
    return routes


class Server(ThreadingHTTPServer):
    # The default listen backlog (5) resets connections under load; API Gateway and Lambda don't.
    request_queue_size = 1024
    daemon_threads = True

# (method, resource template, function)
ROUTES = load_routes()
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_PRINCIPAL = "arn:aws:iam::000000000000:user/local-admin"
LAMBDA_URL = ""
STAGE = "local"


def compile_route(template: str) -> re.Pattern:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}/?$")


COMPILED = [(method, template, compile_route(template), function) for method, template, function in ROUTES]


def match_route(method: str, path: str):
    """(template, function, path parameters), or None when no route has this path and method."""
    for route_method, template, pattern, function in COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
            return template, function, params
    return None


def identity(principal: str | None, source_ip: str, user_agent: str | None) -> dict:
    signed = principal is not None
    user = principal.rsplit("/", 1)[-1] if signed else None
    return {
        "cognitoIdentityPoolId": None,
        "accountId": "000000000000" if signed else None,
        "cognitoIdentityId": None,
        "caller": f"AIDALOCAL{user.upper()}" if signed else None,
        "sourceIp": source_ip,
        "principalOrgId": None,
        "accessKey": "AKIALOCALEXPORT00001" if signed else None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": principal,
        "userAgent": user_agent,
        "user": f"AIDALOCAL{user.upper()}" if signed else None,
    }


def proxy_event(method, path, query, headers, body, template, params, principal, source_ip) -> dict:
    now = datetime.now(timezone.utc)
    single_headers = {k: v for k, v in headers.items()}
    multi_headers: dict[str, list[str]] = {}
    for k, v in headers.items():
        multi_headers.setdefault(k, []).append(v)
    query_pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    single_query = {k: v for k, v in query_pairs} or None
    multi_query: dict[str, list[str]] = {}
    for k, v in query_pairs:
        multi_query.setdefault(k, []).append(v)
    is_base64 = False
    text = None
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode()
            is_base64 = True
    request_id = str(uuid.uuid4())
    return {
        "resource": template,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": template,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": identity(principal, source_ip, headers.get("User-Agent")),
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def invoke(function: str, event: dict) -> tuple[int, dict | None]:
    """Calls the function through the Lambda Invoke API. (HTTP status, proxy result or None)."""
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    request = urllib.request.Request(
        f"{LAMBDA_URL}/2015-03-31/functions/{urllib.parse.quote(arn, safe='')}/invocations",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            if response.headers.get("X-Amz-Function-Error"):
                return 502, None
            return 200, json.loads(response.read())
    except (urllib.error.URLError, ValueError):
        return 502, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        lower = {k.lower() for k in headers}
        if "content-type" not in lower:
            self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        started = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/__health":
            self.send(200, b'{"ok": true}', {})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send(413, b'{"message": "Request Too Long"}', {})
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        route = match_route(self.command, path)
        template = route[0] if route else "?"
        if route is None:
            # What API Gateway answers for an unknown path or a method the path does not have.
            status, out, headers = 403, b'{"message":"Missing Authentication Token"}', {}
        else:
            template, function, params = route
            header_principal = self.headers.get("X-Local-Principal")
            principal = header_principal or os.environ.get("LOCAL_PRINCIPAL") or DEFAULT_PRINCIPAL
            if principal == "none":
                principal = None
            headers_in = {k: v for k, v in self.headers.items() if k.lower() != "x-local-principal"}
            event = proxy_event(self.command, path, url.query, headers_in, body, template, params,
                                principal, self.client_address[0])
            code, result = invoke(function, event)
            if result is None or not isinstance(result, dict) or "statusCode" not in result:
                status, out, headers = 502, b'{"message": "Internal server error"}', {}
            else:
                status = int(result["statusCode"])
                headers = dict(result.get("headers") or {})
                for key, values in (result.get("multiValueHeaders") or {}).items():
                    headers[key] = ",".join(values)
                raw = result.get("body") or ""
                out = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        self.send(status, out, headers)
        elapsed = (time.monotonic() - started) * 1000
        print(f"{self.command} {template} -> {status} in {elapsed:.0f} ms", flush=True)

    def __getattr__(self, name: str):
        # Every method, even one the standard library does not know (QUERY, PROPFIND, …), gets API
        # Gateway's answer rather than the library's HTML 501.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


def main() -> None:
    global LAMBDA_URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", required=True)
    args = parser.parse_args()
    LAMBDA_URL = args.lambda_url.rstrip("/")
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"local API gateway on 127.0.0.1:{args.port} -> {LAMBDA_URL}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
