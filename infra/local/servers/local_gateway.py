"""The local stand-in for API Gateway (REST API, AWS_IAM authorization).

Routes the API's routes (DESIGN §5) to the functions through the Lambda Invoke API (the invoke
proxy), sending the REST-API proxy event AWS sends, so handlers are tested on the real event shape.
The routes are read from the deployed API's own OpenAPI document (infra/api/openapi.yaml): method,
path template, and the function its integration URI names (StartExportApiFunction ->
start-export-api).

It stands in for IAM as well (infra/local/lib/local_iam.py evaluates template.yaml's managed policies):
before a function is invoked, the caller must be allowed `execute-api:Invoke` on
`arn:aws:execute-api:us-east-1:000000000000:local/local/{METHOD}{path}`. Requests are not signed
locally; these headers name the caller instead, and are removed before the event is built:
  X-Local-Principal       the caller's ARN (default: LOCAL_PRINCIPAL, else
                          arn:aws:iam::000000000000:user/local-admin); `none` = an unsigned request
  X-Local-Principal-Tags  the principal's tags, `k=v,k=v` (e.g. `chatAccountId=<uuid>`); default none
  X-Local-Policies        managed policies attached to it, by short name (`StartDataExport,
                          RetrieveDataExport`; the ManagedPolicyName less `<stack>-`); default
                          DataExportOperator; present but empty: none. An unknown name is a 400
                          naming the known ones.
Requests signed (SigV4, Authorization header) with temporary credentials of the identity-pool
stand-in (local_identity.py; the console's users) are verified as API Gateway verifies them
(local_sigv4.py: signature, date within 15 minutes, scope, session token, expiry): the caller is
then `arn:aws:sts::000000000000:assumed-role/<Role>/CognitoIdentityCredentials` with the session's
principal tags and the role's policies from template.yaml, and X-Local-* headers are ignored. A bad
signature, unknown key or expired token gets API Gateway's 403. Requests signed with the stack's
static key, and unsigned ones, still name their caller by X-Local-* (the CLI, curl, the tests).

CORS, from the same OpenAPI document: `options` operations with a mock integration are answered
by the gateway itself with their integration response's static headers (no signature needed), and
the gateway's own refusals carry the headers of x-amazon-apigateway-gateway-responses (the type's,
else DEFAULT_4XX/5XX). The deployed console's origin, https://${ConsoleDistribution.DomainName},
is the local console's, CONSOLE_URL. The functions add CORS to their own replies (CONSOLE_ORIGIN).

Refusals are API Gateway's: 403 `{"message":"Missing Authentication Token"}`
(MissingAuthenticationTokenException) unsigned, 403 `{"Message":"User: <arn> is not authorized to
perform: execute-api:Invoke on resource: <arn, account id masked>"}` (AccessDeniedException) when no
policy allows. A refused request never reaches a function. The function is invoked as API Gateway
is: headers X-Local-Source-Service/X-Local-Source-Arn tell the invoke proxy which Lambda permission
applies.

Limits, as deployed (lib/local_limits.py reads them from template.yaml): first the web ACL in front
of the stage (ApiWebAcl's rate-based rules, per session token and per source address; a blocked
request gets the rule's custom 429 and reaches nothing else, not even the stage's throttle, as WAF
sits before API Gateway), then the stage's throttle (a token bucket per method, shared by every
caller: API Gateway's 429 `{"message":"Too Many Requests"}`), then IAM. The local stack's
LOCAL_PARAMETERS apply (its per-address limit is WAF's largest: every local client is 127.0.0.1).
`GET /__limits` answers what is enforced, with the local values named.

Logs one JSON line per request in the deployed API's own access log format (template.yaml,
ExportApi's AccessLogSetting.Format, read at start-up): the same fields, each $context variable filled
from the request context the function's event carries (requestContext, identity included: the
caller's ARN and principal id, and for a console user the Cognito identity, pool and provider), and
the reply's status, length, latency and gateway response type; "-" where API Gateway has no value.
Never a body, a header other than the User-Agent, or a query string ($context.path is the path).
A request the web ACL blocks is logged as WAF would log it instead (rule, action, route template,
source IP).
"""

import argparse
import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import yaml

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/local_gateway.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import ROOT, local_iam, local_limits, local_sigv4, local_template  # noqa: E402
from lib.local_http import JsonHandler, log_line, serve  # noqa: E402

OPENAPI = ROOT / "infra/api/openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# The integration URI names the function by its logical id in template.yaml.
INTEGRATION_FUNCTION = re.compile(r"\$\{(?P<logical_id>\w+)Function\.Arn\}")


def crate_name(pascal: str) -> str:
    """StartExport -> start-export: the function's crate, which is its local name."""
    return re.sub(r"(?<!^)([A-Z])", r"-\1", pascal).lower()


def operations(document: dict):
    """(METHOD, resource template, operation) of every operation of the OpenAPI document."""
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), template, operation


def load_routes(document: dict) -> list[tuple[str, str, str]]:
    """(method, resource template, function) of every Lambda-integrated operation in the OpenAPI
    document, so the local gateway serves exactly the routes API Gateway serves. Mock integrations
    (the CORS preflight `options` operations) are load_mocks'."""
    routes = []
    for method, template, operation in operations(document):
        integration = operation["x-amazon-apigateway-integration"]
        if integration.get("type") == "mock":
            continue
        uri = integration["uri"]
        if isinstance(uri, dict):
            uri = uri.get("Fn::Sub", "")
        found = INTEGRATION_FUNCTION.search(uri if isinstance(uri, str) else "")
        if not found:
            raise SystemExit(f"local gateway: {method} {template} has no Lambda integration: {uri!r}")
        routes.append((method, template, crate_name(found["logical_id"])))
    return routes


def header_value(value, console_url: str) -> str | None:
    """A static header value of a responseParameters map (`'text'`, or {"Fn::Sub": "'text'"}) with
    the deployed console's origin, https://${ConsoleDistribution.DomainName}, mapped to the local
    console (CONSOLE_URL). None for a value API Gateway computes (method.request.…): not supported."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Fn::Sub", "Sub"):
        value = next(iter(value.values()))
        value = value[0] if isinstance(value, list) else value
        value = re.sub(r"https://\$\{ConsoleDistribution\.DomainName\}", console_url, value)
        value = local_template.template().sub(value)
    if not isinstance(value, str) or len(value) < 2 or not (value.startswith("'") and value.endswith("'")):
        return None
    return value[1:-1]


def response_headers(parameters: dict | None, prefix: str, console_url: str) -> dict[str, str]:
    """`{prefix}header.X: 'v'` entries of a responseParameters map as {X: v}."""
    out = {}
    for key, value in (parameters or {}).items():
        if key.startswith(prefix + "header."):
            text = header_value(value, console_url)
            if text is not None:
                out[key.removeprefix(prefix + "header.")] = text
    return out


def load_mocks(document: dict) -> list[tuple[str, str, bool, int, dict]]:
    """(method, resource template, needs a signature, status, response parameters) of every mock
    integration (the CORS preflight `options` operations): API Gateway answers them itself, with
    the static headers of the integration response's responseParameters."""
    mocks = []
    for method, template, operation in operations(document):
        integration = operation["x-amazon-apigateway-integration"]
        if integration.get("type") != "mock":
            continue
        response = (integration.get("responses") or {}).get("default") or {}
        status = int(response.get("statusCode", 200))
        signed = bool(operation.get("security", document.get("security")))
        mocks.append((method, template, signed, status, response.get("responseParameters") or {}))
    return mocks


OPENAPI_DOCUMENT = yaml.safe_load(OPENAPI.read_text())
# (method, resource template, function)
ROUTES = load_routes(OPENAPI_DOCUMENT)
MOCKS = load_mocks(OPENAPI_DOCUMENT)
# x-amazon-apigateway-gateway-responses: response type -> {statusCode?, responseParameters}
GATEWAY_RESPONSES = OPENAPI_DOCUMENT.get("x-amazon-apigateway-gateway-responses") or {}
# The local console's origin (up.sh passes CONSOLE_URL): the deployed console's origin maps to it.
CONSOLE_URL = os.environ.get("CONSOLE_URL", "http://127.0.0.1:18007")
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_PRINCIPAL = "arn:aws:iam::000000000000:user/local-admin"
LAMBDA_URL = ""
STAGE = "local"
ACCOUNT = local_template.ACCOUNT
REGION = local_template.REGION
API_ID = local_template.API_ID
DEFAULT_POLICIES = "DataExportOperator"
POLICIES = local_template.template().managed_policies()
INTERNAL_ERROR = b'{"message": "Internal server error"}'
MISSING_TOKEN = (b'{"message":"Missing Authentication Token"}',
                 {"x-amzn-ErrorType": "MissingAuthenticationTokenException"})
# The stack's static key (stack.env): requests signed with it keep naming their caller by X-Local-*.
STATIC_ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID") or "AKIALOCALEXPORT00001"
SESSIONS = local_sigv4.Sessions(ROOT / ".local/identity/sessions.json")
CREDENTIAL_KEY = re.compile(r"Credential=([^/,\s]+)/")
# The deployed stack's limits (None where the template sets none): the web ACL associated with the
# stage, and the stage's method throttling.
WEB_ACL = local_limits.web_acl(local_template.template(), CONSOLE_URL)
STAGE_THROTTLE = local_limits.stage_throttle(local_template.template())


def limits() -> dict:
    """What GET /__limits answers: the limits enforced, and the local stack's own parameter values
    among those they are read from (the rest are the template's defaults)."""
    names = [r.described.get("limitParameter") for r in (WEB_ACL.rules if WEB_ACL else [])]
    names += list((STAGE_THROTTLE.parameters if STAGE_THROTTLE else {}).values())
    return {
        "webAcl": WEB_ACL.describe() if WEB_ACL else None,
        "stageThrottle": STAGE_THROTTLE.describe() if STAGE_THROTTLE else None,
        "localParameters": {n: local_template.LOCAL_PARAMETERS[n] for n in names if n in local_template.LOCAL_PARAMETERS},
    }


def compile_route(template: str) -> re.Pattern:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}/?$")


COMPILED = [(method, template, compile_route(template), function) for method, template, function in ROUTES]
COMPILED_MOCKS = [(method, template, compile_route(template), signed, status, params)
                  for method, template, signed, status, params in MOCKS]


def match_mock(method: str, path: str):
    """(template, needs a signature, status, response parameters) of a mock route, or None."""
    for route_method, template, pattern, signed, status, params in COMPILED_MOCKS:
        if route_method == method and pattern.match(path):
            return template, signed, status, params
    return None


def gateway_response(kind: str, status: int) -> tuple[int, dict[str, str]]:
    """(status, headers) of API Gateway's own reply of type `kind` (MISSING_AUTHENTICATION_TOKEN,
    ACCESS_DENIED, INVALID_SIGNATURE, …): the type's gateway response if the API defines one, else
    DEFAULT_4XX / DEFAULT_5XX; their responseParameters' headers (CORS for the console) added."""
    fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    headers: dict[str, str] = {}
    for name in (fallback, kind):  # the specific type's headers win
        response = GATEWAY_RESPONSES.get(name) or {}
        headers.update(response_headers(response.get("responseParameters"), "gatewayresponse.", CONSOLE_URL))
    specific = GATEWAY_RESPONSES.get(kind) or {}
    return int(specific.get("statusCode", status)), headers


def match_route(method: str, path: str):
    """(template, function, path parameters), or None when no route has this path and method."""
    for route_method, template, pattern, function in COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
            return template, function, params
    return None


def identity(principal: str | None, source_ip: str, user_agent: str | None, session: dict | None = None) -> dict:
    if session is not None:
        # What API Gateway puts in the event for credentials of a Cognito identity pool.
        caller = f"{session['roleId']}:CognitoIdentityCredentials"
        provider = session["provider"]
        return {
            "cognitoIdentityPoolId": session["identityPoolId"],
            "accountId": ACCOUNT,
            "cognitoIdentityId": session["identityId"],
            "caller": caller,
            "sourceIp": source_ip,
            "principalOrgId": None,
            "accessKey": session["accessKeyId"],
            "cognitoAuthenticationType": "authenticated",
            "cognitoAuthenticationProvider": f"{provider},{provider}:CognitoSignIn:{session['sub']}",
            "userArn": principal,
            "userAgent": user_agent,
            "user": caller,
        }
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


def request_context(method: str, path: str, template: str | None, principal: str | None, source_ip: str,
                    user_agent: str | None, request_id: str, session: dict | None, now: datetime) -> dict:
    """The proxy event's requestContext: API Gateway's $context variables for this request (its keys
    are the variables' names), which the access log line is written from too. `template` is the
    route's resource path, None when no route matched."""
    return {
        "resourceId": "local",
        "resourcePath": template,
        "httpMethod": method,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        # The path as called, with the stage: never the query string.
        "path": f"/{STAGE}{path}",
        "accountId": "000000000000",
        "protocol": "HTTP/1.1",
        "stage": STAGE,
        "domainPrefix": "localhost",
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": identity(principal, source_ip, user_agent, session),
        "domainName": "localhost",
        "apiId": "local",
    }


def proxy_event(method, path, query, headers, body, template, params, context: dict) -> dict:
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
        "requestContext": context,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def invoke(function: str, event: dict, source_arn: str) -> tuple[int, dict | None]:
    """Calls the function through the Lambda Invoke API as API Gateway does: the service principal
    apigateway.amazonaws.com, from this route's execute-api ARN (the Lambda permissions' SourceArn).
    (HTTP status, proxy result or None)."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
    request = urllib.request.Request(
        f"{LAMBDA_URL}/2015-03-31/functions/{urllib.parse.quote(arn, safe='')}/invocations",
        data=json.dumps(event).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Local-Source-Service": "apigateway.amazonaws.com",
            "X-Local-Source-Arn": source_arn,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            if response.headers.get("X-Amz-Function-Error"):
                return 502, None
            return 200, json.loads(response.read())
    except (urllib.error.URLError, ValueError):
        return 502, None


class ToolError(Exception):
    """A malformed X-Local-* header: the caller's mistake, not an IAM decision."""


def caller_of(headers) -> tuple[str | None, dict[str, str], list[dict]]:
    """(principal ARN or None when unsigned, principal tags, identity policies) from X-Local-*."""
    principal = headers.get("X-Local-Principal") or os.environ.get("LOCAL_PRINCIPAL") or DEFAULT_PRINCIPAL
    tags = {}
    for pair in (headers.get("X-Local-Principal-Tags") or "").split(","):
        if pair.strip():
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ToolError(f"X-Local-Principal-Tags: {pair.strip()!r} is not key=value")
            tags[key.strip()] = value.strip()
    # Absent: the default; present but empty: no policy at all (so nothing is allowed).
    raw = headers.get("X-Local-Policies")
    names = [n.strip() for n in (DEFAULT_POLICIES if raw is None else raw).split(",") if n.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ToolError(f"X-Local-Policies: unknown policy {', '.join(unknown)}; known: {', '.join(sorted(POLICIES))}")
    return (None if principal == "none" else principal), tags, [POLICIES[n] for n in names]


def execute_api_arn(method: str, path: str) -> str:
    """The method ARN IAM and Lambda see: `.../{stage}/{METHOD}{path}` (a trailing `/` is routed
    as the same resource, so it is not part of the ARN)."""
    if len(path) > 1:
        path = path.removesuffix("/")
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"


def session_caller(session: dict) -> tuple[str, dict[str, str], list[dict]]:
    """(principal ARN, principal tags, identity policies) of credentials the identity-pool
    stand-in minted: the role session, its tags, the role's policies from template.yaml."""
    template = local_template.template()
    role = template.role_logical_id(session["roleArn"])
    policies = template.role_identity_policies(role) if role else []
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{session['roleName']}/CognitoIdentityCredentials"
    return principal, dict(session.get("principalTags") or {}), policies


def signed_by_session(headers) -> bool:
    """A SigV4 Authorization header with a key other than the stack's static one: the signature
    is verified (temporary credentials of the identity-pool stand-in). The static key and unsigned
    requests keep naming their caller by X-Local-* (the existing tests and the CLI)."""
    header = headers.get("Authorization") or ""
    if not header.startswith(local_sigv4.ALGORITHM):
        return False
    found = CREDENTIAL_KEY.search(header)
    return not (found and found[1] == STATIC_ACCESS_KEY)


def authorize(method: str, raw_path: str, query: str, headers, body: bytes
              ) -> tuple[str | None, dict | None, tuple[int, bytes, dict[str, str], str] | None]:
    """(caller, session, None) if IAM allows the caller `execute-api:Invoke` on this route, else
    (caller, session, API Gateway's refusal: status, body, headers, gateway response type)."""
    path = raw_path
    session = None
    if signed_by_session(headers):
        verified = local_sigv4.verify(method, raw_path, query, headers, body, REGION, SESSIONS)
        if isinstance(verified, local_sigv4.Refusal):
            refusal = (verified.status, verified.body(), {"x-amzn-ErrorType": verified.error_type}, verified.kind)
            return None, None, refusal
        session = dict(verified, accessKeyId=CREDENTIAL_KEY.search(headers["Authorization"])[1])
        principal, tags, policies = session_caller(session)
    else:
        principal, tags, policies = caller_of(headers)
    if principal is None:
        return None, None, (403, *MISSING_TOKEN, "MISSING_AUTHENTICATION_TOKEN")
    resource = execute_api_arn(method, path)
    request = local_iam.Request("execute-api:Invoke", resource, {"AWS": principal},
                                local_iam.identity_context(principal, tags))
    if local_iam.is_allowed(policies, request):
        return principal, session, None
    # API Gateway masks the account id in the resource, not in the principal.
    masked = resource.replace(f":{ACCOUNT}:", f":{'*' * 8}{ACCOUNT[-4:]}:", 1)
    message = f"User: {principal} is not authorized to perform: execute-api:Invoke on resource: {masked}"
    return principal, session, (403, json.dumps({"Message": message}).encode(),
                                {"x-amzn-ErrorType": "AccessDeniedException"}, "ACCESS_DENIED")


# The deployed API's access log format: field -> its text, holding $context variables.
ACCESS_LOG_FORMAT: dict[str, str] = json.loads(
    local_template.template().resources["ExportApi"]["Properties"]["AccessLogSetting"]["Format"])
CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
# What is known of a request once it is answered, besides its request context: the variables'
# names without `$context.`.
OUTCOME_VARIABLES = ("status", "responseLength", "responseLatency", "integrationLatency", "integration.status",
                     "error.responseType")


def context_variables(context: dict, prefix: str = "") -> dict:
    """requestContext as $context variables: {"requestId": …, "identity.userArn": …, …}."""
    variables = {}
    for key, value in context.items():
        if isinstance(value, dict):
            variables.update(context_variables(value, f"{prefix}{key}."))
        else:
            variables[prefix + key] = value
    return variables


def unknown_access_log_variables() -> list[str]:
    """The format's $context variables this gateway cannot fill (it then refuses to start)."""
    sample = request_context("GET", "/", "/", None, "127.0.0.1", None, "id", None, datetime.now(timezone.utc))
    known = set(context_variables(sample)) | set(OUTCOME_VARIABLES)
    return sorted({name for text in ACCESS_LOG_FORMAT.values() for name in CONTEXT_VARIABLE.findall(text)} - known)


def access_log_line(context: dict, outcome: dict) -> str:
    """The access log line of one request: the deployed format's fields, each variable replaced by
    its value from the request context or the outcome (OUTCOME_VARIABLES), as text ("-" when
    there is none, as API Gateway writes it)."""
    variables = {**context_variables(context), **outcome}

    def value(match: re.Match) -> str:
        found = variables[match[1]]
        return "-" if found is None or found == "" else str(found)

    return json.dumps({field: CONTEXT_VARIABLE.sub(value, text) for field, text in ACCESS_LOG_FORMAT.items()})


def access_log(context: dict, outcome: dict) -> None:
    log_line(access_log_line(context, outcome))


def waf_log(request_id, blocked: local_limits.Block, method, resource, source_ip) -> None:
    """One JSON line for a request the web ACL blocked (API Gateway never sees it, so it has no
    access log line): the web ACL, the rule, the route template and the source address, as a WAF
    log names them; never a header (the session token is a credential)."""
    log_line(json.dumps({
        "requestId": request_id,
        "timestamp": datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "webAcl": WEB_ACL.name if WEB_ACL else "-",
        "terminatingRuleId": blocked.rule,
        "action": "BLOCK",
        "status": blocked.status,
        "httpMethod": method,
        "resourcePath": resource,
        "sourceIp": source_ip,
    }))


class Handler(JsonHandler):
    def handle_any(self):
        started = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/__health":
            self.reply(200, b'{"ok": true}', {})
            return
        if path == "/__limits":
            self.reply(200, json.dumps(limits()).encode(), {})
            return
        length = int(self.headers.get("Content-Length") or 0)
        too_large = length > MAX_BODY
        now = datetime.now(timezone.utc)
        route = match_route(self.command, path)
        mock = match_mock(self.command, path) if route is None else None
        template = route[0] if route else mock[0] if mock else None
        request_id = str(uuid.uuid4())
        source_ip = self.client_address[0]
        # AWS WAF, in front of the stage: every request as sent, a route or not, before API Gateway
        # reads it. A blocked request is counted by its rules but never reaches the stage's throttle.
        blocked = WEB_ACL.evaluate(local_limits.Request(self.command, path, url.query, self.headers, source_ip)) \
            if WEB_ACL is not None else None
        if blocked is not None:
            headers = dict(blocked.headers)
            status = blocked.status
            if blocked.kind is not None:  # no custom response: API Gateway's WAF_FILTERED
                status, extra = gateway_response(blocked.kind, blocked.status)
                headers.update(extra)
            if 0 < length <= MAX_BODY:
                self.rfile.read(length)
            elif length:
                self.close_connection = True
            self.reply(status, blocked.body, headers)
            waf_log(request_id, blocked, self.command, template or "?", source_ip)
            return
        body = self.rfile.read(length) if length and not too_large else b""
        principal = session = None
        # The type of API Gateway's own reply (its gateway response), None for a function's.
        kind = None
        # The function's own reply: its status and how long the invocation took.
        integration_status = integration_latency = None
        # The request context, which the function's event and the access log line share.
        context = None
        if too_large:
            # Unread: the connection is closed after the reply.
            status, out, headers, kind = 413, b'{"message": "Request Too Long"}', {}, "REQUEST_TOO_LARGE"
            self.close_connection = True
        elif route is None and mock is None:
            # What API Gateway answers for an unknown path or a method the path does not have.
            status, (out, headers), kind = 403, MISSING_TOKEN, "MISSING_AUTHENTICATION_TOKEN"
        elif STAGE_THROTTLE is not None and not STAGE_THROTTLE.allow(self.command, template):
            # The stage's throttle: this method's bucket is empty, whoever the caller is. Before
            # authorization, so a refused request takes a token too.
            status, out, headers = 429, local_limits.THROTTLED_BODY, dict(local_limits.THROTTLED_HEADERS)
            kind = "THROTTLED"
        else:
            try:
                refusal = None
                if route is not None or mock[1]:
                    principal, session, refusal = authorize(self.command, path, url.query, self.headers, body)
            except ToolError as error:
                principal, refusal = None, (400, json.dumps({"message": str(error)}).encode(), {}, "DEFAULT_4XX")
            if refusal is not None:
                status, out, headers, kind = refusal
                headers = dict(headers)
            elif mock is not None:
                # A mock integration (CORS preflight): API Gateway's static reply, no function.
                _, _, status, parameters = mock
                out = b""
                headers = {"Content-Type": "application/json",
                           **response_headers(parameters, "method.response.", CONSOLE_URL)}
            else:
                template, function, params = route
                headers_in = {k: v for k, v in self.headers.items() if not k.lower().startswith("x-local-")}
                context = request_context(self.command, path, template, principal, source_ip,
                                          self.headers.get("User-Agent"), request_id, session, now)
                event = proxy_event(self.command, path, url.query, headers_in, body, template, params, context)
                called = time.monotonic()
                status, out, headers = self.call(function, event, execute_api_arn(self.command, path))
                integration_latency = round((time.monotonic() - called) * 1000)
                if status == 502 and out == INTERNAL_ERROR:
                    kind = "DEFAULT_5XX"
                else:
                    integration_status = status
        if kind is not None:
            status, extra = gateway_response(kind, status)
            headers.update(extra)
        self.reply(status, out, headers)
        if context is None:  # no function was called (a refusal, a mock, an unknown route)
            context = request_context(self.command, path, template, principal, source_ip,
                                      self.headers.get("User-Agent"), request_id, session, now)
        access_log(context, {
            "status": status,
            "responseLength": len(out),
            "responseLatency": round((time.monotonic() - started) * 1000),
            "integrationLatency": integration_latency,
            "integration.status": integration_status,
            "error.responseType": kind,
        })

    def call(self, function: str, event: dict, source_arn: str) -> tuple[int, bytes, dict[str, str]]:
        """The function's proxy result as an HTTP reply, or API Gateway's 502."""
        _, result = invoke(function, event, source_arn)
        if result is None or not isinstance(result, dict) or "statusCode" not in result:
            return 502, INTERNAL_ERROR, {}
        headers = dict(result.get("headers") or {})
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ",".join(values)
        raw = result.get("body") or ""
        return int(result["statusCode"]), base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode(), headers

    def __getattr__(self, name: str):
        # Every method, even one the standard library does not know (QUERY, PROPFIND, …), gets API
        # Gateway's answer rather than the library's HTML 501.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


def main() -> None:
    global LAMBDA_URL
    unknown = unknown_access_log_variables()
    if unknown:
        sys.exit(f"local gateway: template.yaml's access log format has variables it cannot fill: {unknown}")
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", required=True)
    args = parser.parse_args()
    LAMBDA_URL = args.lambda_url.rstrip("/")
    serve(args.port, Handler, f"local API gateway on 127.0.0.1:{args.port} -> {LAMBDA_URL}")


if __name__ == "__main__":
    main()
