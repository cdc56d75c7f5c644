"""The API's request limits as the deployed stack enforces them, for the local gateway
(servers/local_gateway.py), read from template.yaml through local_template (so the local stack's
LOCAL_PARAMETERS apply):

* the web ACL in front of the API's stage (ApiWebAcl, associated with ExportApi's stage by a
  WAFv2 WebACLAssociation): rate-based rules, in priority order, each counting the requests of
  each aggregation key over its evaluation window and blocking a key that is past its limit, with
  the rule's custom response (or, without one, API Gateway's WAF_FILTERED 403). WAF runs before API
  Gateway, so a blocked request reaches neither the stage's throttle nor IAM nor a function;
* the stage's throttle (ExportApi's MethodSettings `/*` `*`): a token bucket of each method (route
  template and HTTP method), shared by every caller, starting full; an empty bucket is API
  Gateway's 429 `{"message":"Too Many Requests"}`.

What this does not implement (a scope-down statement, forwarded-IP, cookie, label or fingerprint
keys, text transformations other than NONE and LOWERCASE, other statements or actions, method
settings other than the stage-wide one) is refused when the template is read, never skipped: the
local stack then fails at start instead of enforcing less than AWS would.

Where this differs from AWS (docs/DESIGN.md §11): WAF estimates each key's rate, weighing recent
requests more, and acts on its estimate some seconds after the rate crosses the limit (usually
within 30 s, AWS says, sometimes minutes), and stops some seconds after it falls back; here the
count is exact and takes effect with the request that crosses the limit. API Gateway's buckets are
best-effort targets; here they are exact.
"""

import collections
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import local_template

Clock = Callable[[], float]

# API Gateway's own reply to a throttled request (gateway response THROTTLED).
THROTTLED_BODY = b'{"message":"Too Many Requests"}'
THROTTLED_HEADERS = {"x-amzn-ErrorType": "TooManyRequestsException"}
# What a web ACL's Block without a custom response is on a REST API: API Gateway's WAF_FILTERED.
WAF_FILTERED_BODY = b'{"message":"Forbidden"}'
WAF_FILTERED_HEADERS = {"x-amzn-ErrorType": "ForbiddenException"}
CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}
# WAF's settings (AWS::WAFv2::WebACL RateBasedStatement).
EVALUATION_WINDOWS = (60, 120, 300, 600)
DEFAULT_WINDOW = 300
MIN_LIMIT = 10
MAX_LIMIT = 2_000_000_000
TRANSFORMATIONS = {"NONE": lambda s: s, "LOWERCASE": str.lower}
CONSOLE_ORIGIN = "https://${ConsoleDistribution.DomainName}"


class Unsupported(ValueError):
    """A template setting the local limits do not implement (the local stack refuses to start)."""


@dataclass(frozen=True)
class Request:
    """What WAF sees of a request: method, path, query, headers (any letter case), source address."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    source_ip: str

    def header(self, name: str) -> str | None:
        """The first header of this name, whatever its letter case; None when absent."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True)
class Block:
    """A web ACL's reply to a blocked request. `kind` is API Gateway's gateway response type when
    API Gateway answers for WAF (no custom response: WAF_FILTERED), None for a custom response,
    which takes precedence over the protected resource's own responses."""

    rule: str
    status: int
    body: bytes
    headers: dict[str, str]
    kind: str | None = None


class TokenBucket:
    """`burst` tokens at most, `rate` more a second; a request takes one. Starts full."""

    def __init__(self, rate: float, burst: int, clock: Clock):
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a positive rate and burst: {rate}, {burst}")
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.tokens = self.burst
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class StageThrottle:
    """The stage's default method throttling: one bucket for each method, all callers together."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic, parameters: dict | None = None):
        self.rate, self.burst, self.clock = rate, burst, clock
        # The template parameters the rate and burst come from (`rateLimit`, `burstLimit`), if any.
        self.parameters = parameters or {}
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self.lock = threading.Lock()

    def allow(self, method: str, resource: str) -> bool:
        """Whether API Gateway passes a request of `method` on the route template `resource`."""
        with self.lock:
            bucket = self.buckets.get((method, resource))
            if bucket is None:
                bucket = self.buckets[(method, resource)] = TokenBucket(self.rate, self.burst, self.clock)
            return bucket.take()

    def describe(self) -> dict:
        return {"rateLimit": self.rate, "burstLimit": self.burst, "per": "method",
                "parameters": dict(self.parameters)}


@dataclass
class RateRule:
    """A rate-based rule: requests counted for each aggregation key over the last `window`
    seconds, the one that takes a key past `limit` and every one after it blocked while the count
    stays past it. Blocked requests count too (a flood that goes on stays blocked). A request
    without every component of the key is not counted nor limited by this rule."""

    name: str
    priority: int
    limit: int
    window: int
    key: Callable[[Request], tuple | None]
    block: Block | None  # None: a Count action, which never blocks
    described: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def evaluate(self, request: Request, now: float) -> bool:
        """Counts `request` and says whether the rule applies its action to it."""
        key = self.key(request)
        if key is None:
            return False
        stamps = self.counts.get(key)
        if stamps is None:
            if len(self.counts) >= 10_000:
                self.forget(now)
            stamps = self.counts[key] = collections.deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        stamps.append(now)
        return len(stamps) > self.limit

    def forget(self, now: float) -> None:
        """Drops the keys with no request in the window (random session tokens must not grow it)."""
        for key in [k for k, s in self.counts.items() if not s or s[-1] <= now - self.window]:
            del self.counts[key]


class WebAcl:
    """Rules in priority order; the first that blocks a request ends its evaluation (later rules
    neither see nor count it). Default action Allow."""

    def __init__(self, name: str, rules: list[RateRule], clock: Clock = time.monotonic):
        self.name, self.clock = name, clock
        self.rules = sorted(rules, key=lambda r: r.priority)
        self.lock = threading.Lock()

    def evaluate(self, request: Request) -> Block | None:
        with self.lock:
            now = self.clock()
            for rule in self.rules:
                if rule.evaluate(request, now) and rule.block is not None:
                    return rule.block
        return None

    def describe(self) -> dict:
        return {"name": self.name, "rules": [dict(r.described, name=r.name, priority=r.priority,
                                                   limit=r.limit, windowSeconds=r.window) for r in self.rules]}


# --- Reading them from template.yaml.

def _transform(transformations: list, where: str) -> Callable[[str], str]:
    steps = []
    for step in sorted(transformations or [{"Type": "NONE", "Priority": 0}], key=lambda t: int(t["Priority"])):
        kind = step["Type"]
        if kind not in TRANSFORMATIONS:
            raise Unsupported(f"{where}: text transformation {kind} is not implemented locally")
        steps.append(TRANSFORMATIONS[kind])

    def apply(value: str) -> str:
        for one in steps:
            value = one(value)
        return value

    return apply


def _component(custom_key: dict, where: str) -> tuple[str, Callable[[Request], str | None]]:
    """(description, extractor) of one CustomKeys entry: the extractor answers None when the
    request lacks the component."""
    if len(custom_key) != 1:
        raise ValueError(f"{where}: a custom key names exactly one component: {custom_key}")
    (kind, settings), = custom_key.items()
    settings = settings or {}
    if kind == "Header":
        name, transform = settings["Name"], _transform(settings.get("TextTransformations"), where)
        return f"header:{name.lower()}", lambda r: None if r.header(name) is None else transform(r.header(name))
    if kind == "IP":
        return "ip", lambda r: r.source_ip
    if kind == "HTTPMethod":
        return "method", lambda r: r.method
    if kind == "UriPath":
        transform = _transform(settings.get("TextTransformations"), where)
        return "uri-path", lambda r: transform(r.path)
    if kind == "QueryString":
        transform = _transform(settings.get("TextTransformations"), where)
        return "query-string", lambda r: transform(r.query) if r.query else None
    if kind == "QueryArgument":
        name, transform = settings["Name"], _transform(settings.get("TextTransformations"), where)

        def argument(r: Request) -> str | None:
            found = [v for k, v in urllib.parse.parse_qsl(r.query, keep_blank_values=True) if k == name]
            return transform(found[0]) if found else None

        return f"query-argument:{name}", argument
    raise Unsupported(f"{where}: the aggregation key {kind} is not implemented locally")


def _aggregation(statement: dict, where: str) -> tuple[list[str], Callable[[Request], tuple | None]]:
    kind = statement.get("AggregateKeyType", "IP")
    if kind == "IP":
        return ["ip"], lambda r: ("ip", r.source_ip)
    if kind == "CONSTANT":
        return ["constant"], lambda r: ("constant",)
    if kind != "CUSTOM_KEYS":
        raise Unsupported(f"{where}: AggregateKeyType {kind} is not implemented locally")
    keys = statement.get("CustomKeys") or []
    if not 1 <= len(keys) <= 5:
        raise ValueError(f"{where}: CUSTOM_KEYS takes 1 to 5 keys, not {len(keys)}")
    components = [_component(k, where) for k in keys]
    if len(components) == 1 and components[0][0] == "ip":
        raise ValueError(f"{where}: an IP custom key needs another key (or AggregateKeyType IP)")

    def key(request: Request) -> tuple | None:
        values = tuple(extract(request) for _, extract in components)
        return None if any(v is None for v in values) else values

    return [d for d, _ in components], key


def _block(action: dict, bodies: dict, console_url: str, template: local_template.Template, where: str):
    if set(action) == {"Count"}:
        return None
    if set(action) != {"Block"}:
        raise Unsupported(f"{where}: only Block and Count actions are implemented locally: {action}")
    custom = (action["Block"] or {}).get("CustomResponse")
    if not custom:
        return Block(where, 403, WAF_FILTERED_BODY, dict(WAF_FILTERED_HEADERS), kind="WAF_FILTERED")
    headers = {}
    for header in custom.get("ResponseHeaders") or []:
        headers[header["Name"]] = _local_value(header["Value"], console_url, template)
    body = b""
    key = custom.get("CustomResponseBodyKey")
    if key is not None:
        if key not in bodies:
            raise ValueError(f"{where}: no CustomResponseBodies entry {key}")
        content = bodies[key]
        headers["Content-Type"] = CONTENT_TYPES[content["ContentType"]]
        body = _local_value(content["Content"], console_url, template).encode()
        if content["ContentType"] == "APPLICATION_JSON":
            json.loads(body)  # WAF refuses a JSON body that does not parse
    return Block(where, int(template.resolve(custom["ResponseCode"])), body, headers)


def _local_value(value, console_url: str, template: local_template.Template) -> str:
    """A template string with the deployed console's origin mapped to the local console's."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Sub", "Fn::Sub"):
        text = next(iter(value.values()))
        if isinstance(text, str):
            value = {"Sub": text.replace(CONSOLE_ORIGIN, console_url)}
    resolved = template.resolve(value)
    if not isinstance(resolved, str):
        raise Unsupported(f"a value the local limits cannot resolve: {value}")
    return resolved


def _parameter(value) -> str | None:
    """The parameter a property refers to (`!Ref Name`), if it does."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Ref"):
        return next(iter(value.values()))
    return None


def api_web_acl_id(template: local_template.Template) -> str | None:
    """The logical id of the web ACL associated with ExportApi's stage, or None."""
    for logical_id, association in template.of_type("AWS::WAFv2::WebACLAssociation").items():
        props = association["Properties"]
        arn = props["ResourceArn"]
        text = next(iter(arn.values())) if isinstance(arn, dict) and len(arn) == 1 else arn
        if isinstance(text, list):
            text = text[0]
        if not isinstance(text, str) or "/restapis/${ExportApi}/stages/" not in text:
            continue
        target = props["WebACLArn"]
        attribute = (target.get("GetAtt") or target.get("Fn::GetAtt")) if isinstance(target, dict) else None
        if isinstance(attribute, str):
            attribute = attribute.split(".", 1)
        if not attribute or attribute[1] != "Arn":
            raise Unsupported(f"{logical_id}: WebACLArn is not a !GetAtt of this template's web ACL")
        return attribute[0]
    return None


def web_acl(template: local_template.Template, console_url: str, clock: Clock = time.monotonic) -> WebAcl | None:
    """The web ACL in front of the API's stage, as template.yaml defines it; None without one."""
    logical_id = api_web_acl_id(template)
    if logical_id is None:
        return None
    resource = template.resources[logical_id]
    if resource["Type"] != "AWS::WAFv2::WebACL":
        raise ValueError(f"{logical_id} is not an AWS::WAFv2::WebACL")
    props = resource["Properties"]
    if template.resolve(props["Scope"]) != "REGIONAL":
        raise ValueError(f"{logical_id}: a REST API stage takes a REGIONAL web ACL")
    if set(props["DefaultAction"]) != {"Allow"}:
        raise Unsupported(f"{logical_id}: only the default action Allow is implemented locally")
    bodies = props.get("CustomResponseBodies") or {}
    rules = []
    for rule in props.get("Rules") or []:
        where = rule["Name"]
        statement = rule["Statement"]
        if set(statement) != {"RateBasedStatement"}:
            raise Unsupported(f"{where}: only rate-based rules are implemented locally")
        rate = statement["RateBasedStatement"]
        if "ScopeDownStatement" in rate:
            raise Unsupported(f"{where}: a scope-down statement is not implemented locally")
        limit = int(template.resolve(rate["Limit"]))
        window = int(template.resolve(rate.get("EvaluationWindowSec", DEFAULT_WINDOW)))
        if not MIN_LIMIT <= limit <= MAX_LIMIT:
            raise ValueError(f"{where}: WAF takes a limit of {MIN_LIMIT} to {MAX_LIMIT}, not {limit}")
        if window not in EVALUATION_WINDOWS:
            raise ValueError(f"{where}: WAF takes an evaluation window of {EVALUATION_WINDOWS}, not {window}")
        keys, key = _aggregation(rate, where)
        described = {"keys": keys, "limitParameter": _parameter(rate["Limit"])}
        rules.append(RateRule(where, int(rule["Priority"]), limit, window, key,
                              _block(rule["Action"], bodies, console_url, template, where), described))
    return WebAcl(template.resolve(props.get("Name", logical_id)), rules, clock)


def stage_throttle(template: local_template.Template, clock: Clock = time.monotonic) -> StageThrottle | None:
    """ExportApi's stage-wide method throttling, or None when it sets none (then only the account's
    limits apply, which the local stack does not enforce)."""
    found = None
    for setting in template.resources["ExportApi"]["Properties"].get("MethodSettings") or []:
        throttles = {"ThrottlingRateLimit", "ThrottlingBurstLimit"} & set(setting)
        if not throttles:
            continue
        if (setting.get("ResourcePath"), setting.get("HttpMethod")) != ("/*", "*"):
            raise Unsupported(f"method-specific throttling is not implemented locally: {setting}")
        if throttles != {"ThrottlingRateLimit", "ThrottlingBurstLimit"}:
            raise Unsupported(f"the stage sets one of rate and burst only: {setting}")
        found = (float(template.resolve(setting["ThrottlingRateLimit"])),
                 int(template.resolve(setting["ThrottlingBurstLimit"])),
                 _parameter(setting["ThrottlingRateLimit"]), _parameter(setting["ThrottlingBurstLimit"]))
    if found is None:
        return None
    return StageThrottle(found[0], found[1], clock, {"rateLimit": found[2], "burstLimit": found[3]})
