"""The local gateway's access log (servers/local_gateway.py) against the deployed API's format
(template.yaml, ExportApi's AccessLogSetting.Format), without a running stack: the gateway's own
handler on an ephemeral port, in front of a stand-in for the Lambda Invoke API that records each
event and answers 200.
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'

Each line has the template's fields, no more and no fewer, and each field holds what its $context
variable holds: the value the function's event carries in requestContext for the same request. A
console user (credentials of the identity-pool stand-in, SigV4-signed) is named by its Cognito
identity, pool and provider, allowed or refused; the path is logged without its query string.
"""

import json
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_http, local_sigv4, local_template  # noqa: E402
from servers import local_gateway  # noqa: E402

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
POOL = "us-east-1:0e7e6b32-6f55-4d4c-9a36-000000000001"
PROVIDER = "cognito-idp.us-east-1.amazonaws.com/us-east-1_LocalPool"
IDENTITY = "us-east-1:5a1c0d7e-1c5e-4a9b-8d2f-00000000000a"
SUB = "c5cb2f6e-0000-4000-8000-000000000001"
ACCESS_KEY = "ASIALOCALCONSOLE0001"


def format_fields() -> dict[str, str]:
    document = local_template.load_template()
    return json.loads(document["Resources"]["ExportApi"]["Properties"]["AccessLogSetting"]["Format"])


class FormatTest(unittest.TestCase):
    def test_the_gateway_fills_every_variable_of_the_deployed_format(self):
        self.assertEqual(local_gateway.ACCESS_LOG_FORMAT, format_fields())
        self.assertEqual(local_gateway.unknown_access_log_variables(), [])

    def test_the_format_names_the_path_and_the_cognito_identity(self):
        variables = set(format_fields().values())
        for needed in ("$context.path", "$context.resourcePath", "$context.identity.userArn",
                       "$context.identity.caller", "$context.identity.cognitoIdentityId",
                       "$context.identity.cognitoIdentityPoolId", "$context.identity.cognitoAuthenticationType",
                       "$context.identity.cognitoAuthenticationProvider"):
            self.assertIn(needed, variables)

    def test_the_path_holds_ids_only(self):
        # $context.path is the path as called: every variable segment of every route is an id.
        for _, template, _ in local_gateway.ROUTES:
            for segment in template.split("/"):
                if segment.startswith("{"):
                    self.assertIn(segment, ("{accountId}", "{userId}", "{exportId}"), template)


class AccessLogTest(unittest.TestCase):
    def setUp(self):
        self.events: list[dict] = []
        self.logged: list[str] = []
        events = self.events

        class Lambda(local_http.JsonHandler):
            def do_POST(self):
                events.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
                self.reply(200, json.dumps({"statusCode": 200, "headers": {}, "body": "{\"exports\": []}"}).encode())

        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        sessions = Path(directory.name) / "sessions.json"
        role_arn = local_template.template().role_arn("ConsoleRetrieveRole")
        # What the identity-pool stand-in records for a console user's credentials (local_identity.py).
        sessions.write_text(json.dumps({ACCESS_KEY: {
            "secretAccessKey": "console-secret",
            "sessionToken": "console-token",
            "expiration": time.time() + 600,
            "roleArn": role_arn,
            "roleName": role_arn.rsplit("/", 1)[-1],
            "roleId": "AROALOCALCONSOLERETRIEVE",
            "principalTags": {"chatAccountId": A},
            "identityId": IDENTITY,
            "identityPoolId": POOL,
            "provider": PROVIDER,
            "sub": SUB,
        }}))
        for patch in (mock.patch.object(local_gateway, "SESSIONS", local_sigv4.Sessions(sessions)),
                      mock.patch.object(local_gateway, "log_line", self.logged.append),
                      mock.patch.object(local_gateway, "LAMBDA_URL", self.serve(Lambda))):
            patch.start()
            self.addCleanup(patch.stop)
        self.base = self.serve(local_gateway.Handler)

    def serve(self, handler) -> str:
        server = local_http.Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def get(self, path: str, headers: dict[str, str] | None = None, signed: bool = False) -> tuple[int, dict]:
        """(status, its access log line) of GET `path` (with its query), as a console user if `signed`."""
        url = self.base + path
        headers = dict(headers or {}, **{"User-Agent": "console-test/1"})
        if signed:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            request = AWSRequest(method="GET", url=url, headers=headers)
            SigV4Auth(Credentials(ACCESS_KEY, "console-secret", "console-token"), "execute-api",
                      local_gateway.REGION).add_auth(request)
            headers = dict(request.headers.items())
        before = len(self.logged)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        # The line is written after the reply, as API Gateway delivers it after the reply.
        deadline = time.monotonic() + 5
        while len(self.logged) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.logged), before + 1, "one access log line per request")
        return status, json.loads(self.logged[-1])

    def assert_fields_mean_their_variables(self, line: dict, context: dict) -> None:
        """Every field whose variable is one of requestContext's holds that value ("-" for none);
        the others are the reply's (status, length, latencies, gateway response type)."""
        self.assertEqual(list(line), list(format_fields()))
        variables = local_gateway.context_variables(context)
        for field, text in format_fields().items():
            name = text.removeprefix("$context.")
            if name in variables:
                expected = variables[name]
                self.assertEqual(line[field], "-" if expected in (None, "") else str(expected), field)
            else:
                self.assertIn(name, local_gateway.OUTCOME_VARIABLES, field)

    def test_a_console_user_is_named_by_cognito_identity_and_the_path_without_its_query(self):
        status, line = self.get(f"/accounts/{A}/data-exports?maxResults=3&nextToken=X-Amz-Signature", signed=True)
        self.assertEqual(status, 200)
        event, = self.events
        self.assert_fields_mean_their_variables(line, event["requestContext"])
        self.assertEqual(line["cognitoIdentityId"], IDENTITY)
        self.assertEqual(line["cognitoIdentityPoolId"], POOL)
        self.assertEqual(line["cognitoAuthenticationType"], "authenticated")
        self.assertEqual(line["cognitoAuthenticationProvider"], f"{PROVIDER},{PROVIDER}:CognitoSignIn:{SUB}")
        self.assertTrue(line["userArn"].endswith("/CognitoIdentityCredentials"), line["userArn"])
        self.assertEqual(line["caller"], "AROALOCALCONSOLERETRIEVE:CognitoIdentityCredentials")
        self.assertEqual(line["path"], f"/local/accounts/{A}/data-exports")
        self.assertEqual(line["resourcePath"], "/accounts/{accountId}/data-exports")
        self.assertEqual((line["status"], line["integrationStatus"], line["errorType"]), ("200", "200", "-"))
        self.assertNotIn("maxResults", json.dumps(line))
        self.assertNotIn("X-Amz-Signature", json.dumps(line))

    def test_a_console_user_refused_by_iam_is_named_too(self):
        status, line = self.get(f"/accounts/{B}/data-exports/01JD0000000000000000000000", signed=True)
        self.assertEqual(status, 403)
        self.assertEqual(self.events, [], "a refused request reaches no function")
        self.assertEqual(line["errorType"], "ACCESS_DENIED")
        self.assertEqual(line["cognitoIdentityId"], IDENTITY)
        self.assertEqual(line["path"], f"/local/accounts/{B}/data-exports/01JD0000000000000000000000")
        self.assertEqual(line["resourcePath"], "/accounts/{accountId}/data-exports/{exportId}")
        self.assertEqual((line["integrationStatus"], line["integrationLatency"]), ("-", "-"))

    def test_an_iam_caller_has_no_cognito_identity_and_an_unsigned_one_no_identity(self):
        principal = "arn:aws:iam::000000000000:user/tenant-admin"
        status, line = self.get(f"/accounts/{A}/data-exports", {
            "X-Local-Principal": principal,
            "X-Local-Principal-Tags": f"chatAccountId={A}",
            "X-Local-Policies": "RetrieveDataExport",
        })
        self.assertEqual(status, 200)
        self.assert_fields_mean_their_variables(line, self.events[-1]["requestContext"])
        self.assertEqual((line["userArn"], line["callerAccountId"]), (principal, "000000000000"))
        for field in ("cognitoIdentityId", "cognitoIdentityPoolId", "cognitoAuthenticationType",
                      "cognitoAuthenticationProvider"):
            self.assertEqual(line[field], "-", field)

        status, line = self.get(f"/accounts/{A}/data-exports", {"X-Local-Principal": "none"})
        self.assertEqual(status, 403)
        self.assertEqual(line["errorType"], "MISSING_AUTHENTICATION_TOKEN")
        self.assertEqual((line["userArn"], line["caller"], line["cognitoIdentityId"]), ("-", "-", "-"))
        self.assertEqual(line["sourceIp"], "127.0.0.1")

    def test_a_request_too_large_is_logged_too(self):
        import http.client

        before = len(self.logged)
        connection = http.client.HTTPConnection(self.base.removeprefix("http://"), timeout=10)
        self.addCleanup(connection.close)
        connection.putrequest("POST", f"/accounts/{A}/data-exports")
        connection.putheader("Content-Length", str(local_gateway.MAX_BODY + 1))
        connection.endheaders()  # the body is never sent: the gateway answers without reading it
        self.assertEqual(connection.getresponse().status, 413)
        deadline = time.monotonic() + 5
        while len(self.logged) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        line = json.loads(self.logged[-1])
        self.assertEqual((line["status"], line["errorType"]), ("413", "REQUEST_TOO_LARGE"))
        self.assertEqual(line["path"], f"/local/accounts/{A}/data-exports")
        self.assertEqual(self.events, [])

    def test_an_unknown_route_logs_the_path_and_no_route(self):
        status, line = self.get("/accounts/a/b/c?x=1", {"X-Local-Principal": "none"})
        self.assertEqual(status, 403)
        self.assertEqual((line["resourcePath"], line["path"]), ("-", "/local/accounts/a/b/c"))


if __name__ == "__main__":
    unittest.main()
