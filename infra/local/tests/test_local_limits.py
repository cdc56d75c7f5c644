"""The local gateway's limits (lib/local_limits.py, servers/local_gateway.py): the stage's token
buckets, the web ACL's rate-based rules (keys, windows, priorities, what a blocked request is and is
not counted by), reading them from template.yaml, and the gateway putting WAF before the stage."""

import json
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_http, local_limits, local_template  # noqa: E402
from servers import local_gateway  # noqa: E402

CONSOLE = "http://127.0.0.1:18007"


class Clock:
    """A clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(token: str | None = None, ip: str = "192.0.2.1", path: str = "/accounts/a/data-exports",
            method: str = "GET") -> local_limits.Request:
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential=ASIA/{uuid.uuid4()}"}
    if token is not None:
        headers["X-Amz-Security-Token"] = token
    return local_limits.Request(method, path, "", headers, ip)


def acl_template(rules: list, bodies: dict | None = None) -> local_template.Template:
    """A template with ExportApi, a web ACL of `rules` associated with its stage, and the
    parameters the rules refer to (`SessionLimit` 10, `AddressLimit` 25)."""
    return local_template.Template({
        "Parameters": {"SessionLimit": {"Type": "Number", "Default": 10},
                       "AddressLimit": {"Type": "Number", "Default": 25}},
        "Resources": {
            "ExportApi": {"Type": "AWS::Serverless::Api", "Properties": {}},
            "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
                "Name": {"Sub": "${AWS::StackName}-api"}, "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
                "CustomResponseBodies": bodies if bodies is not None else {
                    "slow-down": {"ContentType": "APPLICATION_JSON",
                                  "Content": {"Sub": '{"code": "TooManyRequestsException", "message": "over ${SessionLimit}"}'}}},
                "Rules": rules}},
            "Association": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
                "ResourceArn": {"Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${ExportApi}/stages/${ExportApi.Stage}"},
                "WebACLArn": {"GetAtt": "Acl.Arn"}}},
        },
    })


def rate_rule(name: str, priority: int, statement: dict, action: dict | None = None) -> dict:
    return {"Name": name, "Priority": priority, "Statement": {"RateBasedStatement": statement},
            "Action": action or {"Block": {"CustomResponse": {
                "ResponseCode": 429, "CustomResponseBodyKey": "slow-down",
                "ResponseHeaders": [{"Name": "Access-Control-Allow-Origin",
                                     "Value": {"Sub": "https://${ConsoleDistribution.DomainName}"}}]}}},
            "VisibilityConfig": {"CloudWatchMetricsEnabled": True, "MetricName": name, "SampledRequestsEnabled": False}}


PER_SESSION = rate_rule("per-session", 0, {
    "AggregateKeyType": "CUSTOM_KEYS", "Limit": {"Ref": "SessionLimit"}, "EvaluationWindowSec": 60,
    "CustomKeys": [{"Header": {"Name": "x-amz-security-token", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]})
PER_ADDRESS = rate_rule("per-address", 1, {"AggregateKeyType": "IP", "Limit": {"Ref": "AddressLimit"}, "EvaluationWindowSec": 60})


def passes(acl: local_limits.WebAcl, n: int, **kwargs) -> int:
    """How many of `n` requests like `request(**kwargs)` the web ACL lets through."""
    return sum(acl.evaluate(request(**kwargs)) is None for _ in range(n))


class TokenBucketTest(unittest.TestCase):
    def test_a_full_bucket_passes_its_burst_then_refuses(self):
        clock = Clock()
        bucket = local_limits.TokenBucket(rate=4, burst=5, clock=clock)
        self.assertEqual([bucket.take() for _ in range(6)], [True] * 5 + [False])

    def test_it_refills_at_its_rate_and_never_beyond_its_burst(self):
        clock = Clock()
        bucket = local_limits.TokenBucket(rate=4, burst=5, clock=clock)
        for _ in range(5):
            bucket.take()
        clock.now += 0.5  # two tokens at 4 a second
        self.assertEqual([bucket.take() for _ in range(3)], [True, True, False])
        clock.now += 3600
        self.assertEqual(sum(bucket.take() for _ in range(10)), 5)


class StageThrottleTest(unittest.TestCase):
    def test_each_method_has_its_bucket_and_every_caller_shares_it(self):
        clock = Clock()
        stage = local_limits.StageThrottle(rate=1, burst=3, clock=clock)
        listed = [stage.allow("GET", "/accounts/{accountId}/data-exports") for _ in range(4)]
        self.assertEqual(listed, [True, True, True, False])
        # Another method, or another route template, is not drained by that one.
        self.assertTrue(stage.allow("POST", "/accounts/{accountId}/data-exports"))
        self.assertTrue(stage.allow("GET", "/accounts/{accountId}/data-exports/{exportId}"))
        clock.now += 1
        self.assertEqual([stage.allow("GET", "/accounts/{accountId}/data-exports") for _ in range(2)], [True, False])


class RateRuleTest(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.acl = local_limits.web_acl(acl_template([PER_SESSION, PER_ADDRESS]), CONSOLE, self.clock)

    def test_a_session_past_its_limit_gets_the_rules_response_and_another_session_does_not(self):
        self.assertEqual(passes(self.acl, 10, token="A", ip="192.0.2.1"), 10)
        blocked = self.acl.evaluate(request(token="A", ip="192.0.2.1"))
        self.assertIsNotNone(blocked)
        self.assertEqual((blocked.rule, blocked.status, blocked.kind), ("per-session", 429, None))
        self.assertEqual(json.loads(blocked.body), {"code": "TooManyRequestsException", "message": "over 10"})
        self.assertEqual(blocked.headers["Content-Type"], "application/json")
        self.assertEqual(blocked.headers["Access-Control-Allow-Origin"], CONSOLE)
        # Another session, from another address, is not affected.
        self.assertEqual(passes(self.acl, 10, token="B", ip="192.0.2.2"), 10)

    def test_the_key_is_the_session_not_the_path_so_flooding_another_tenants_path_spends_the_floods_own_count(self):
        self.assertEqual(passes(self.acl, 10, token="A", ip="192.0.2.1", path="/accounts/b/data-exports"), 10)
        # Tenant A is past its limit on every path, its own included; tenant B on its own is not.
        self.assertEqual(passes(self.acl, 5, token="A", ip="192.0.2.1", path="/accounts/b/data-exports"), 0)
        self.assertEqual(passes(self.acl, 1, token="A", ip="192.0.2.1", path="/accounts/a/data-exports"), 0)
        self.assertEqual(passes(self.acl, 10, token="B", ip="192.0.2.2", path="/accounts/b/data-exports"), 10)

    def test_the_header_name_is_matched_in_any_letter_case_and_its_value_exactly(self):
        for _ in range(10):
            self.acl.evaluate(local_limits.Request("GET", "/", "", {"x-amz-security-token": "A"}, "192.0.2.1"))
        self.assertIsNotNone(self.acl.evaluate(local_limits.Request("GET", "/", "", {"X-AMZ-SECURITY-TOKEN": "A"}, "192.0.2.1")))
        self.assertIsNone(self.acl.evaluate(local_limits.Request("GET", "/", "", {"X-Amz-Security-Token": "a"}, "192.0.2.3")))

    def test_a_request_without_the_header_is_left_to_the_address_rule(self):
        self.assertEqual(passes(self.acl, 25, token=None, ip="192.0.2.1"), 25)
        blocked = self.acl.evaluate(request(token=None, ip="192.0.2.1"))
        self.assertEqual(blocked.rule, "per-address")
        self.assertEqual(passes(self.acl, 5, token=None, ip="192.0.2.9"), 5)

    def test_the_window_slides_and_a_flood_that_goes_on_stays_blocked(self):
        self.assertEqual(passes(self.acl, 10, token="A", ip="192.0.2.1"), 10)
        self.clock.now += 30
        self.assertEqual(passes(self.acl, 10, token="A", ip="192.0.2.2"), 0)  # counted, and blocked
        self.clock.now += 31  # the first ten are out of the window; the blocked ten are not
        self.assertEqual(passes(self.acl, 1, token="A", ip="192.0.2.3"), 0)
        self.clock.now += 61  # nothing left in the window, that last one included
        self.assertEqual(passes(self.acl, 10, token="A", ip="192.0.2.4"), 10)

    def test_a_request_one_rule_blocks_is_not_counted_by_the_rules_after_it(self):
        # 40 requests of one session from one address: 10 pass, 30 are blocked per session. Had the
        # per-address rule counted them all, the address would be past its 25 as well.
        self.assertEqual(passes(self.acl, 40, token="A", ip="192.0.2.1"), 10)
        self.assertEqual(passes(self.acl, 15, token=None, ip="192.0.2.1"), 15)
        self.assertEqual(self.acl.evaluate(request(token=None, ip="192.0.2.1")).rule, "per-address")

    def test_a_session_minting_new_tokens_is_held_by_its_address(self):
        allowed = sum(self.acl.evaluate(request(token=f"T{n}", ip="192.0.2.1")) is None for n in range(40))
        self.assertEqual(allowed, 25)

    def test_random_tokens_do_not_grow_the_counts_past_the_window(self):
        rule = self.acl.rules[0]
        for n in range(10_050):
            self.acl.evaluate(request(token=f"T{n}", ip=f"198.51.100.{n % 250}"))
        self.clock.now += 61
        self.acl.evaluate(request(token="fresh", ip="203.0.113.1"))
        rule.forget(self.clock.now)
        self.assertEqual(list(rule.counts), [("fresh",)])

    def test_a_block_without_custom_response_is_api_gateways_waf_filtered_403(self):
        rule = rate_rule("plain", 0, {"AggregateKeyType": "IP", "Limit": 10, "EvaluationWindowSec": 60},
                         action={"Block": {}})
        acl = local_limits.web_acl(acl_template([rule]), CONSOLE, Clock())
        passes(acl, 10)
        blocked = acl.evaluate(request())
        self.assertEqual((blocked.status, blocked.kind, blocked.body), (403, "WAF_FILTERED", b'{"message":"Forbidden"}'))

    def test_a_count_action_counts_and_never_blocks(self):
        rule = rate_rule("count", 0, {"AggregateKeyType": "IP", "Limit": 10, "EvaluationWindowSec": 60},
                         action={"Count": {}})
        acl = local_limits.web_acl(acl_template([rule]), CONSOLE, Clock())
        self.assertEqual(passes(acl, 30), 30)
        self.assertEqual(len(acl.rules[0].counts[("ip", "192.0.2.1")]), 30)

    def test_what_is_not_implemented_or_not_waf_is_refused_when_read(self):
        header = {"Header": {"Name": "x-amz-security-token", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}
        cases = {
            "scope-down": {"AggregateKeyType": "IP", "Limit": 10, "EvaluationWindowSec": 60,
                           "ScopeDownStatement": {"ByteMatchStatement": {}}},
            "label key": {"AggregateKeyType": "CUSTOM_KEYS", "Limit": 10, "EvaluationWindowSec": 60,
                          "CustomKeys": [{"LabelNamespace": {"Namespace": "awswaf:"}}]},
            "forwarded ip": {"AggregateKeyType": "FORWARDED_IP", "Limit": 10, "EvaluationWindowSec": 60},
            "ip alone as a custom key": {"AggregateKeyType": "CUSTOM_KEYS", "Limit": 10, "EvaluationWindowSec": 60,
                                         "CustomKeys": [{"IP": {}}]},
            "transformation": {"AggregateKeyType": "CUSTOM_KEYS", "Limit": 10, "EvaluationWindowSec": 60,
                               "CustomKeys": [{"Header": {"Name": "h", "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}]},
            "a limit under 10": {"AggregateKeyType": "CUSTOM_KEYS", "Limit": 9, "EvaluationWindowSec": 60, "CustomKeys": [header]},
            "a 30-second window": {"AggregateKeyType": "IP", "Limit": 10, "EvaluationWindowSec": 30},
        }
        for what, statement in cases.items():
            with self.subTest(what), self.assertRaises(ValueError):
                local_limits.web_acl(acl_template([rate_rule("r", 0, statement)]), CONSOLE, Clock())
        with self.assertRaises(ValueError):
            local_limits.web_acl(acl_template([PER_SESSION], bodies={}), CONSOLE, Clock())

    def test_no_association_with_the_stage_is_no_web_acl(self):
        template = acl_template([PER_SESSION])
        del template.resources["Association"]
        self.assertIsNone(local_limits.web_acl(template, CONSOLE, Clock()))


class TheTemplatesLimitsTest(unittest.TestCase):
    """What the local gateway enforces is what template.yaml deploys, read independently here."""

    def setUp(self):
        self.document = yaml.load((local_template.TEMPLATE).read_text(), Loader=local_template.CloudFormationLoader)
        self.parameters = self.document["Parameters"]
        self.acl = local_limits.web_acl(local_template.Template(self.document), CONSOLE, Clock())

    def default(self, name: str) -> int:
        return int(self.parameters[name]["Default"])

    def test_the_rules_are_the_templates_with_the_local_address_limit(self):
        rules = {r.name: r for r in self.acl.rules}
        self.assertEqual(set(rules), {"per-session", "per-address"})
        session, address = rules["per-session"], rules["per-address"]
        self.assertEqual(session.described["keys"], ["header:x-amz-security-token"])
        self.assertEqual(address.described["keys"], ["ip"])
        self.assertEqual((session.limit, session.window), (self.default("SessionRequestsPerMinute"), 60))
        self.assertEqual(address.window, 60)
        self.assertEqual(address.limit, int(local_template.LOCAL_PARAMETERS["IpRequestsPerMinute"]))
        self.assertEqual(address.limit, local_limits.MAX_LIMIT)
        self.assertLess(session.priority, address.priority)
        body = json.loads(session.block.body)
        self.assertEqual(body["code"], "TooManyRequestsException")
        self.assertIn(str(self.default("SessionRequestsPerMinute")), body["message"])
        self.assertEqual(session.block.status, 429)
        self.assertNotIn("Retry-After", session.block.headers)
        self.assertEqual(session.block.headers["Access-Control-Allow-Origin"], CONSOLE)

    def test_the_per_session_rule_stops_one_session_at_the_templates_limit(self):
        limit = self.default("SessionRequestsPerMinute")
        self.assertEqual(passes(self.acl, limit + 50, token="tenant-a", ip="192.0.2.1"), limit)
        self.assertEqual(passes(self.acl, 20, token="tenant-b", ip="192.0.2.1"), 20)

    def test_the_stage_throttle_is_the_templates(self):
        stage = local_limits.stage_throttle(local_template.Template(self.document), Clock())
        self.assertEqual((stage.rate, stage.burst), (self.default("ApiThrottleRate"), self.default("ApiThrottleBurst")))
        self.assertEqual(stage.parameters, {"rateLimit": "ApiThrottleRate", "burstLimit": "ApiThrottleBurst"})
        # One session's whole minute fits in one method's burst, with room for everyone else.
        self.assertGreater(stage.burst, self.default("SessionRequestsPerMinute"))


class FakeLambda(BaseHTTPRequestHandler):
    """The Lambda Invoke API, answering every invocation with a 200 proxy result."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"statusCode": 200, "headers": {"content-type": "application/json"},
                           "body": '{"exports": []}'}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class GatewayOrderTest(unittest.TestCase):
    """local_gateway.Handler with small limits: WAF first, the stage's buckets after it."""

    def setUp(self):
        self.clock = Clock()
        template = acl_template([PER_SESSION, PER_ADDRESS])
        self.saved = (local_gateway.WEB_ACL, local_gateway.STAGE_THROTTLE, local_gateway.LAMBDA_URL)
        local_gateway.WEB_ACL = local_limits.web_acl(template, CONSOLE, self.clock)
        local_gateway.STAGE_THROTTLE = local_limits.StageThrottle(rate=0.001, burst=15, clock=self.clock)
        self.servers = [local_http.Server(("127.0.0.1", 0), FakeLambda),
                        local_http.Server(("127.0.0.1", 0), local_gateway.Handler)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        local_gateway.LAMBDA_URL = f"http://127.0.0.1:{self.servers[0].server_address[1]}"
        self.base = f"http://127.0.0.1:{self.servers[1].server_address[1]}"
        self.log = []
        self.saved_log = local_gateway.log_line
        local_gateway.log_line = self.log.append

    def tearDown(self):
        local_gateway.log_line = self.saved_log
        for server in self.servers:
            server.shutdown()
            server.server_close()
        local_gateway.WEB_ACL, local_gateway.STAGE_THROTTLE, local_gateway.LAMBDA_URL = self.saved

    def wait_for_lines(self, n: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.log) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.log), n)

    def get(self, path: str, token: str | None = None):
        headers = {"X-Amz-Security-Token": token} if token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers)) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def test_a_blocked_request_reaches_neither_the_stage_nor_a_function(self):
        path = f"/accounts/{uuid.uuid4()}/data-exports"
        statuses = [self.get(path, "tenant-a")[0] for _ in range(40)]
        self.assertEqual(statuses, [200] * 10 + [429] * 30)
        status, headers, body = self.get(path, "tenant-a")
        self.assertEqual(json.loads(body)["code"], "TooManyRequestsException")
        self.assertEqual(headers["Access-Control-Allow-Origin"], CONSOLE)
        # The stage's bucket (15) took only tenant A's 10: tenant B gets the other 5, then the stage
        # itself refuses, as API Gateway does, whoever asks.
        statuses = [self.get(path, "tenant-b")[0] for _ in range(6)]
        self.assertEqual(statuses, [200] * 5 + [429])
        status, headers, body = self.get(path, "tenant-c")
        self.assertEqual((status, body), (429, b'{"message":"Too Many Requests"}'))
        self.assertEqual(headers["x-amzn-ErrorType"], "TooManyRequestsException")
        self.assertEqual(headers["Access-Control-Allow-Origin"], CONSOLE)  # DEFAULT_4XX's gateway response
        # Each request has one log line: WAF's for the blocked, the access log's for the others
        # (written just after the reply).
        self.wait_for_lines(48)
        lines = [json.loads(line) for line in self.log]
        blocked = [line for line in lines if line.get("action") == "BLOCK"]
        self.assertEqual(len(blocked), 31)
        self.assertEqual({b["terminatingRuleId"] for b in blocked}, {"per-session"})
        self.assertEqual({b["resourcePath"] for b in blocked}, {"/accounts/{accountId}/data-exports"})
        self.assertNotIn("tenant-a", "\n".join(self.log))
        # The access log writes every value as text, as API Gateway's does.
        self.assertEqual(sorted(int(line["status"]) for line in lines if "action" not in line), [200] * 15 + [429] * 2)

    def test_an_unknown_route_is_counted_by_waf_but_takes_no_stage_token(self):
        for _ in range(12):
            self.get("/nowhere", "tenant-a")
        self.assertEqual(self.get("/nowhere", "tenant-a")[0], 429)
        statuses = {self.get(f"/accounts/{uuid.uuid4()}/data-exports", f"t{n}")[0] for n in range(15)}
        self.assertEqual(statuses, {200})

    def test_limits_names_the_local_values(self):
        local_gateway.WEB_ACL = local_limits.web_acl(local_template.template(), CONSOLE, self.clock)
        status, _, body = self.get("/__limits")
        self.assertEqual(status, 200)
        limits = json.loads(body)
        self.assertEqual(limits["localParameters"], {"IpRequestsPerMinute": "2000000000"})
        rules = {r["name"]: r for r in limits["webAcl"]["rules"]}
        self.assertEqual(rules["per-session"]["limitParameter"], "SessionRequestsPerMinute")
        self.assertEqual(rules["per-address"]["limit"], 2_000_000_000)


if __name__ == "__main__":
    unittest.main()
