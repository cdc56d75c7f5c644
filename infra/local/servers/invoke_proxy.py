"""The Lambda Invoke API in front of `cargo lambda watch`.

Step Functions (moto), the local gateway and any SDK call
`POST /2015-03-31/functions/{name or URL-encoded ARN[:qualifier]}/invocations`. `cargo lambda watch`
only knows bare function names and answers a function error with HTTP 500, which SDK clients retry
on their own, so a state machine's Retry/Catch would never see the errorType. This proxy maps ARNs
to names and answers function errors as real Lambda does: HTTP 200 with
`X-Amz-Function-Error: Unhandled` and the `{"errorType", "errorMessage"}` body.

For fault tests, `POST /__faults {"function", "match": {"job.accountId": ...}, "errorType", "times"}`
makes the next `times` matching invocations fail with that errorType, as a crashed or throttled
function would look to Step Functions. With `"hold": true` instead of an errorType, the matching
invocations wait before reaching the function until `POST /__faults/{id}/release`, so a test can
break a server while a step is in flight; `GET /__faults/{id}` tells how many are waiting. The reply
to `POST /__faults` is `{"id": ...}`; a fault that is not one (parse_fault: `function`, a served
function; `times`, an integer >= 1; `errorType`, a name, unless `"hold": true`; `match`, an object)
is refused with 400 `{"message": ...}` and changes nothing.

Every invocation is authorized first, as Lambda does (infra/local/lib/local_iam.py, on template.yaml's policies);
`/__faults` and `/health` are the local stack's own controls and stay open. The caller is either
  - a service principal, named by the headers `X-Local-Source-Service` (e.g.
    apigateway.amazonaws.com: the local gateway; events.amazonaws.com: a test acting as an
    EventBridge rule) and `X-Local-Source-Arn`: allowed iff one of the function's
    AWS::Lambda::Permission resources names that principal and its SourceArn matches (ArnLike);
  - the function URL service, named by the header `X-Local-Invoked-Via-Function-Url: true` (the
    local stand-in, servers/local_function_url.py): as Lambda does for a URL of AuthType NONE, the
    caller is anonymous, and the invocation is allowed iff the function has an AWS::Lambda::Url of
    AuthType NONE and its resource policy allows principal `*` both lambda:InvokeFunctionUrl
    (with lambda:FunctionUrlAuthType NONE) and lambda:InvokeFunction (with
    lambda:InvokedViaFunctionUrl true). The AuthType is read from the template, never from the
    request, and the header never falls through to another caller: anyone may send it, and then
    reaches only what anyone reaches through a public function URL (with an event of their own
    making, which the function's trust path checks as it checks any request);
  - or an IAM identity, named by the access key id of the SigV4 `Authorization` header
    (`Credential=<KEY>/...`). Signatures are NOT verified locally: the key id alone names the
    caller (lib/local_keys.py): AKIALOCALEXPORT00001 (the stack's key) is the operator, holding the
    managed policies in LOCAL_OPERATOR_POLICIES (default DataExportOperator); `ak`, the key moto's
    Step Functions interpreter signs with (moto.stepfunctions.parser.asl.utils.boto_client), is
    ExportStateMachineRole; AKIALOCALCHATSVC0001 is the chat service's role, whose only Lambda
    power is invoking the Assistant (ChatServiceAssistant).
Refusals are Lambda's: 403 MissingAuthenticationTokenException (neither), 403
UnrecognizedClientException (unknown key), 403 AccessDeniedException (no policy allows), with the
header `x-amzn-ErrorType`. A qualifier `:$LATEST` is authorized as the unqualified function.

Logs one line per invocation (function, status, milliseconds) and one per refusal (function,
caller), never a payload: payloads and replies can hold pre-signed URLs.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/invoke_proxy.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_iam, local_keys, local_template  # noqa: E402
from lib.local_http import JsonHandler, log_line, serve  # noqa: E402

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")
FUNCTIONS: set[str] = set()
# Injected faults (tests), each as parse_fault returns it: {"function", "match": {dotted.path: value},
# "errorType" or "hold": True, "times"}, plus its id and counters.
FAULTS: list[dict] = []
FAULTS_LOCK = threading.Lock()
# Held invocations wait on their fault's event (tests release them); never longer than this.
HOLD_SECONDS = 300
WATCH_URL = ""
TIMEOUT_SECONDS = 900
# At most this many invocations of one function reach watch at a time (its --concurrency): with
# more waiting inside watch, it stops handing events to its instances and everything hangs. The
# rest wait here, as invocations wait for a free instance on Lambda.
SLOTS: dict[str, threading.BoundedSemaphore] = {}

REGION = local_template.REGION
ACCOUNT = local_template.ACCOUNT
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# Access key id -> (principal ARN, identity policies); filled in main() from template.yaml.
IDENTITIES: dict[str, tuple[str, list[dict]]] = {}
# Function ARN -> its resource-based policy (the template's AWS::Lambda::Permission resources).
FUNCTION_POLICIES: dict[str, dict] = {}
# Function ARN -> its function URL's properties (the template's AWS::Lambda::Url resources).
FUNCTION_URLS: dict[str, dict] = {}
FUNCTION_URL_HEADER = "X-Local-Invoked-Via-Function-Url"


class FaultError(ValueError):
    """A body of `POST /__faults` that is no fault: the message says what is wrong."""


FAULT_FIELDS = ("function", "match", "errorType", "hold", "times")


def parse_fault(body: bytes, functions=()) -> dict:
    """The fault a `POST /__faults` body describes, with only its own fields: {"function",
    "match", "times"} and either "errorType" or "hold": True. `functions`: the functions served
    (empty: any name). Raises FaultError naming the first thing wrong, so that no malformed fault
    ever reaches take_fault (one without `times` made every later invocation fail)."""
    try:
        fault = json.loads(body)
    except ValueError:
        raise FaultError("the body is not JSON: send a fault object") from None
    if not isinstance(fault, dict):
        raise FaultError('a fault is a JSON object: {"function", "times", "errorType" or "hold": true, "match"}')
    unknown = sorted(set(fault) - set(FAULT_FIELDS))
    if unknown:
        raise FaultError(f"unknown field {', '.join(map(repr, unknown))}; a fault has {', '.join(FAULT_FIELDS)}")
    function = fault.get("function")
    if not isinstance(function, str) or not function:
        raise FaultError('"function" is required: the name of the function whose invocations fail')
    if functions and function not in functions:
        raise FaultError(f'"function": {function[:100]!r} is not served here; the functions are {", ".join(sorted(functions))}')
    times = fault.get("times")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise FaultError('"times" is required: how many matching invocations the fault takes, an integer of at least 1')
    match = fault.get("match", {})
    if not isinstance(match, dict) or not all(isinstance(key, str) and key for key in match):
        raise FaultError('"match" is an object of dotted paths in the payload to values, e.g. {"job.accountId": "..."}')
    hold = fault.get("hold", False)
    if not isinstance(hold, bool):
        raise FaultError('"hold" is true or false')
    if hold:
        if "errorType" in fault:
            raise FaultError('a fault holds invocations ("hold": true) or fails them with an "errorType", not both')
        return {"function": function, "match": match, "hold": True, "times": times}
    error_type = fault.get("errorType")
    if not isinstance(error_type, str) or not error_type:
        raise FaultError('"errorType" is required (the error the invocations fail with), unless "hold" is true')
    return {"function": function, "match": match, "errorType": error_type, "times": times}


def function_arn(raw: str) -> str:
    """The ARN Lambda authorizes: the one named, or the name's in this region and account;
    `:$LATEST` is the unqualified function."""
    name = urllib.parse.unquote(raw)
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return arn.removesuffix(":$LATEST")


def refusal(status: int, error_type: str, body: dict) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(body).encode(), {"x-amzn-ErrorType": error_type}


def authorize(headers, arn: str) -> tuple[str, tuple[int, bytes, dict[str, str]] | None]:
    """(caller, None) if the caller may lambda:InvokeFunction this function, else (caller, refusal)."""
    unqualified = ":".join(arn.split(":")[:7])
    resource_policy = [FUNCTION_POLICIES[unqualified]] if unqualified in FUNCTION_POLICIES else []
    service = headers.get("X-Local-Source-Service")
    if headers.get(FUNCTION_URL_HEADER) is not None:
        return authorize_function_url(headers.get(FUNCTION_URL_HEADER), unqualified, resource_policy)
    if service:
        source_arn = headers.get("X-Local-Source-Arn") or ""
        context = {"aws:SourceArn": source_arn} if source_arn else {}
        if source_arn.count(":") >= 5:
            context["aws:SourceAccount"] = source_arn.split(":")[4]
        request = local_iam.Request("lambda:InvokeFunction", unqualified, {"Service": service}, context)
        if local_iam.is_allowed(resource_policy, request):
            return service, None
        reason = "no resource-based policy allows"
        caller = service
    else:
        found = CREDENTIAL.search(headers.get("Authorization") or "")
        if not found:
            return "unsigned", refusal(403, "MissingAuthenticationTokenException",
                                       {"message": "Missing Authentication Token"})
        key = found.group(1)
        if key not in IDENTITIES:
            return f"key {key}", refusal(403, "UnrecognizedClientException",
                                         {"message": "The security token included in the request is invalid."})
        caller, policies = IDENTITIES[key]
        request = local_iam.Request("lambda:InvokeFunction", arn, {"AWS": caller},
                                    local_iam.identity_context(caller))
        # Same account: the identity's policies and the function's resource policy both grant.
        if local_iam.is_allowed(policies, request) or local_iam.is_allowed(resource_policy, request):
            return caller, None
        reason = "no identity-based policy allows"
    message = (f"User: {caller} is not authorized to perform: lambda:InvokeFunction on resource: {arn} "
               f"because {reason} the lambda:InvokeFunction action")
    return caller, refusal(403, "AccessDeniedException", {"Type": "User", "Message": message})


def authorize_function_url(value: str, arn: str, resource_policy: list[dict]) -> tuple[str, tuple | None]:
    """As Lambda authorizes a request to a function URL of AuthType NONE: the anonymous caller
    needs lambda:InvokeFunctionUrl and lambda:InvokeFunction from the function's resource policy
    alone, under the condition keys Lambda sets for it. A function without a URL, or with an
    AWS_IAM one (SigV4 at the URL, not implemented by the stand-in), is refused."""
    caller = "anonymous (function URL)"
    url = FUNCTION_URLS.get(arn)
    if value.lower() != "true":
        reason = f"{FUNCTION_URL_HEADER} is {value[:20]!r}, not true"
    elif url is None:
        reason = "the function has no function URL"
    elif url.get("AuthType") != "NONE":
        reason = f"its function URL's AuthType is {url.get('AuthType')}, which the local stack does not serve"
    else:
        context = {"lambda:FunctionUrlAuthType": "NONE", "lambda:InvokedViaFunctionUrl": "true"}
        missing = [action for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction")
                   if not local_iam.is_allowed(resource_policy, local_iam.Request(action, arn, {}, context))]
        if not missing:
            return caller, None
        reason = f"no resource-based policy allows {' and '.join(missing)} through its function URL"
    message = f"Forbidden: {arn} cannot be invoked through a function URL because {reason}"
    return caller, refusal(403, "AccessDeniedException", {"Type": "User", "Message": message})


def function_name(raw: str) -> str:
    """`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` or `NAME[:QUALIFIER]` -> NAME."""
    name = urllib.parse.unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else ""
    return name.split(":")[0]


def call_watch(name: str, body: bytes) -> tuple[int, bytes]:
    with SLOTS[name]:
        return forward(name, body)


def forward(name: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{WATCH_URL}/2015-03-31/functions/{name}/invocations",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Handler(JsonHandler):

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, json.dumps({"functions": sorted(FUNCTIONS)}).encode())
        elif fault := fault_at(self.path):
            with FAULTS_LOCK:
                state = {"held": fault["held"], "passed": fault["passed"], "times": fault["times"]}
            self.reply(200, json.dumps(state).encode())
        else:
            self.reply(404, b'{"message": "not found"}')

    def do_POST(self):
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b"{}"
        if self.path == "/__faults":
            try:
                fault = parse_fault(body, FUNCTIONS)
            except FaultError as error:
                self.reply(400, json.dumps({"message": f"not a fault: {error}"}).encode())
                log_line(f"refused fault: {error}")
                return
            with FAULTS_LOCK:
                fault.update(id=len(FAULTS) + 1, held=0, passed=0, released=threading.Event())
                FAULTS.append(fault)
            self.reply(200, json.dumps({"id": fault["id"]}).encode())
            return
        if self.path.endswith("/release") and (fault := fault_at(self.path.removesuffix("/release"))):
            fault["released"].set()
            self.reply(204, b"")
            return
        match = INVOKE_PATH.match(urllib.parse.urlsplit(self.path).path)
        if not match:
            self.reply(404, b'{"Type": "User", "message": "Unknown operation"}')
            return
        name = function_name(match.group("function"))
        caller, refused = authorize(self.headers, function_arn(match.group("function")))
        if refused is not None:
            status, out, headers = refused
            self.reply(status, out, headers)
            log_line(f"refused invoke {name}: {caller} ({headers['x-amzn-ErrorType']})")
            return
        if name not in FUNCTIONS:
            message = f"Function not found: {urllib.parse.unquote(match.group('function'))}"
            self.reply(404, json.dumps({"Type": "User", "Message": message}).encode(),
                       {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self.reply(204, b"")
            return
        if invocation_type == "Event":
            threading.Thread(target=call_watch, args=(name, body), daemon=True).start()
            self.reply(202, b"")
            log(name, 202, started)
            return
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        fault = take_fault(name, body)
        if fault is not None and fault.get("hold"):
            hold(fault)
        elif fault is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            error = {"errorType": fault["errorType"], "errorMessage": "injected by the local stack's fault control"}
            self.reply(200, json.dumps(error).encode(), headers)
            log(name, 200, started)
            return
        status, payload = call_watch(name, body)
        if status == 200:
            self.reply(200, payload, headers)
        elif status == 500 and is_function_error(payload):
            headers["X-Amz-Function-Error"] = "Unhandled"
            self.reply(200, payload, headers)
        else:
            # watch itself failed (e.g. the function did not compile): a service error.
            detail = payload.decode(errors="replace")[:500]
            self.reply(502, json.dumps({"Type": "Service", "Message": f"cargo lambda watch answered {status}: {detail}"}).encode(),
                       {"x-amzn-ErrorType": "ServiceException"})
        log(name, status, started)


def take_fault(name: str, body: bytes) -> dict | None:
    """The first injected fault matching this invocation, counted down; None if none matches."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None

    def value_at(path: str):
        node = payload
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    with FAULTS_LOCK:
        for fault in FAULTS:
            if fault["function"] == name and fault["times"] > 0 and all(
                value_at(k) == v for k, v in fault.get("match", {}).items()
            ):
                fault["times"] -= 1
                return fault
    return None


def fault_at(path: str) -> dict | None:
    match = re.fullmatch(r"/__faults/(\d+)", path)
    with FAULTS_LOCK:
        return FAULTS[int(match.group(1)) - 1] if match and int(match.group(1)) <= len(FAULTS) else None


def hold(fault: dict) -> None:
    """Waits until the test releases this fault's invocations, then lets this one through."""
    with FAULTS_LOCK:
        fault["held"] += 1
    fault["released"].wait(HOLD_SECONDS)
    with FAULTS_LOCK:
        fault["held"] -= 1
        fault["passed"] += 1


def is_function_error(payload: bytes) -> bool:
    try:
        return "errorType" in json.loads(payload)
    except ValueError:
        return False


def log(name: str, status: int, started: float) -> None:
    log_line(f"invoke {name} -> {status} in {(time.monotonic() - started) * 1000:.0f} ms")


def main() -> None:
    global WATCH_URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--watch-port", type=int, required=True)
    parser.add_argument("--functions", required=True, help="comma-separated function names")
    parser.add_argument("--concurrency", type=int, default=4, help="watch's --concurrency")
    args = parser.parse_args()
    IDENTITIES.update(local_keys.identities())
    FUNCTION_POLICIES.update(local_template.template().function_policies())
    FUNCTION_URLS.update(local_template.template().function_urls())
    WATCH_URL = f"http://127.0.0.1:{args.watch_port}"
    FUNCTIONS.update(f for f in args.functions.split(",") if f)
    SLOTS.update({f: threading.BoundedSemaphore(args.concurrency) for f in FUNCTIONS})
    serve(args.port, Handler, f"invoke proxy on 127.0.0.1:{args.port} -> {WATCH_URL} for {sorted(FUNCTIONS)}")
    sys.exit(0)


if __name__ == "__main__":
    main()
