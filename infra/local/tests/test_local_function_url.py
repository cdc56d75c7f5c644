"""The function URL stand-in (servers/local_function_url.py) in front of the real invoke proxy
(servers/invoke_proxy.py), both on ephemeral ports, with template.yaml's permissions and URL; behind
the proxy, a stand-in for `cargo lambda watch` that records each event and answers what a test sets.
No stack needed:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
"""

import base64
import json
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_http, local_template  # noqa: E402
from servers import invoke_proxy, local_function_url  # noqa: E402

REGION, ACCOUNT = local_template.REGION, local_template.ACCOUNT
DOWNLOAD = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:download-export"
TOKEN = "A" * 103  # the shape of a link token: 103 URL-safe characters


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Stack(unittest.TestCase):
    """The stand-in -> the invoke proxy (template.yaml's permissions and URLs) -> a fake watch."""

    def setUp(self):
        live = (invoke_proxy.FUNCTIONS, invoke_proxy.FUNCTION_POLICIES, invoke_proxy.FUNCTION_URLS,
                invoke_proxy.SLOTS)
        saved = [dict(x) if isinstance(x, dict) else set(x) for x in live]

        def restore():
            for x, copy in zip(live, saved):
                x.clear()
                x.update(copy)

        self.addCleanup(restore)
        template = local_template.template()
        functions = {"download-export", "start-export-api"}
        invoke_proxy.FUNCTIONS.update(functions)
        invoke_proxy.FUNCTION_POLICIES.update(template.function_policies())
        invoke_proxy.FUNCTION_URLS.update(template.function_urls())
        invoke_proxy.SLOTS.update({f: threading.BoundedSemaphore(2) for f in functions})
        # The proxy's lines and the stand-in's apart: the stand-in logs once its answer is sent,
        # so a test waits for its line (url_log_line).
        self.logged: list[str] = []
        self.url_logged: list[str] = []
        for module, lines in ((invoke_proxy, self.logged), (local_function_url, self.url_logged)):
            patch = mock.patch.object(module, "log_line", lines.append)
            patch.start()
            self.addCleanup(patch.stop)

        self.events: list[tuple[str, dict]] = []
        self.answer = b'{"statusCode": 204}'
        test = self

        class Watch(local_http.JsonHandler):
            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                test.events.append((self.path.split("/")[3], event))
                status = 500 if b"errorType" in test.answer else 200
                self.reply(status, test.answer)

        watch = mock.patch.object(invoke_proxy, "WATCH_URL", self.serve(Watch))
        watch.start()
        self.addCleanup(watch.stop)
        self.proxy = self.serve(invoke_proxy.Handler)
        for name, value in (("LAMBDA_URL", self.proxy), ("TARGET", local_function_url.target_of(template))):
            patch = mock.patch.object(local_function_url, name, value)
            patch.start()
            self.addCleanup(patch.stop)
        self.url = self.serve(local_function_url.Handler)

    def serve(self, handler) -> str:
        server = local_http.Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def request(self, path: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with OPENER.open(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def url_log_line(self, count: int) -> dict:
        """The stand-in's `count`-th log line (1-based), once written."""
        deadline = time.monotonic() + 5
        while len(self.url_logged) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return json.loads(self.url_logged[count - 1])

    def invoke_directly(self, function: str, headers: dict) -> int:
        request = urllib.request.Request(f"{self.proxy}/2015-03-31/functions/{function}/invocations",
                                         data=b"{}", method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


class FunctionUrlTest(Stack):

    def test_the_stand_in_fronts_the_templates_function_url(self):
        self.assertEqual(local_function_url.target_of(local_template.template()), DOWNLOAD)
        document = local_template.load_template()
        url = document["Resources"]["DownloadExportUrl"]["Properties"]
        for change in ({"AuthType": "AWS_IAM"}, {"InvokeMode": "RESPONSE_STREAM"}, {"Cors": {"AllowOrigins": ["*"]}}):
            changed = json.loads(json.dumps(document))
            changed["Resources"]["DownloadExportUrl"]["Properties"] = dict(url, **change)
            with self.assertRaises(SystemExit) as refused:
                local_function_url.target_of(local_template.Template(changed))
            self.assertIn("does not implement", str(refused.exception), change)

    def test_a_get_is_the_documented_payload_2_0_event(self):
        status, _, _ = self.request(f"/f/{TOKEN}?a=1&a=2&b=", headers={
            "User-Agent": "curl/8", "Cookie": "c1=x; c2=y", "X-Custom": "v"})
        self.assertEqual(status, 204)
        (function, event), = self.events
        self.assertEqual(function, "download-export", "the template's TargetFunctionArn, by its name")
        self.assertEqual((event["version"], event["routeKey"]), ("2.0", "$default"))
        self.assertEqual((event["rawPath"], event["rawQueryString"]), (f"/f/{TOKEN}", "a=1&a=2&b="))
        self.assertEqual(event["queryStringParameters"], {"a": "1,2", "b": ""})
        self.assertEqual(event["cookies"], ["c1=x", "c2=y"])
        self.assertNotIn("cookie", event["headers"])
        self.assertEqual(event["headers"]["x-custom"], "v")
        self.assertEqual(event["headers"]["x-forwarded-for"], "127.0.0.1")
        self.assertRegex(event["headers"]["x-amzn-trace-id"], r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")
        self.assertIs(event["isBase64Encoded"], False)
        self.assertNotIn("body", event)
        context = event["requestContext"]
        self.assertEqual(context["http"], {"method": "GET", "path": f"/f/{TOKEN}", "protocol": "HTTP/1.1",
                                           "sourceIp": "127.0.0.1", "userAgent": "curl/8"})
        self.assertEqual((context["accountId"], context["stage"]), ("anonymous", "$default"))
        self.assertEqual(context["domainPrefix"], context["apiId"])
        self.assertRegex(context["time"], r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")
        self.assertIsInstance(context["timeEpoch"], int)

    def test_bodies_text_as_it_is_binary_in_base64(self):
        self.request("/f/x", "POST", b'{"k": 1}', {"Content-Type": "application/json"})
        self.request("/f/x", "POST", b"\x00\xff", {"Content-Type": "application/octet-stream"})
        (_, text), (_, binary) = self.events
        self.assertEqual((text["body"], text["isBase64Encoded"]), ('{"k": 1}', False))
        self.assertEqual((base64.b64decode(binary["body"]), binary["isBase64Encoded"]), (b"\x00\xff", True))

    def test_a_redirect_with_its_headers_and_cookies_and_the_log_never_holds_the_token(self):
        location = "http://127.0.0.1:1/bucket/key?X-Amz-Signature=abc"
        self.answer = json.dumps({"statusCode": 302, "headers": {"Location": location, "Cache-Control": "no-store"},
                                  "cookies": ["a=1", "b=2"], "body": ""}).encode()
        status, headers, body = self.request(f"/f/{TOKEN}")
        self.assertEqual((status, headers["Location"], headers["Cache-Control"], body), (302, location, "no-store", b""))
        self.assertEqual(headers.get_all("Set-Cookie"), ["a=1", "b=2"])
        line = self.url_log_line(1)
        self.assertEqual((line["method"], line["route"], line["status"]), ("GET", "/f/{token}", 302))
        self.assertEqual(sorted(line), ["method", "ms", "route", "status"])
        self.request(f"/other/{TOKEN}?q={TOKEN}")
        self.assertEqual(self.url_log_line(2)["route"], "-")
        for logged in self.logged + self.url_logged:
            self.assertNotIn(TOKEN, logged)
            self.assertNotIn("X-Amz-Signature", logged)

    def test_a_base64_answer_is_decoded_and_an_answer_without_status_code_is_a_200_body(self):
        self.answer = json.dumps({"statusCode": 200, "headers": {"Content-Type": "application/pdf"},
                                  "body": base64.b64encode(b"%PDF\x00").decode(), "isBase64Encoded": True}).encode()
        status, headers, body = self.request("/f/x")
        self.assertEqual((status, headers["Content-Type"], body), (200, "application/pdf", b"%PDF\x00"))
        for answer in (b'"hello"', b"[1, 2]", b'{"message": "no statusCode"}', b"42"):
            self.answer = answer
            status, headers, body = self.request("/f/x")
            self.assertEqual((status, headers["Content-Type"], body), (200, "application/json", answer), answer)

    def test_a_function_error_or_a_bad_answer_is_a_502(self):
        for answer in (b'{"errorType": "Boom", "errorMessage": "x"}', b'{"statusCode": "302"}',
                       b'{"statusCode": 200, "body": {"not": "a string"}}'):
            self.answer = answer
            self.assertEqual(self.request("/f/x")[0], 502, answer)

    def test_only_the_function_url_permissions_let_the_url_in_and_the_header_reaches_nothing_else(self):
        via_url = {local_function_url.FUNCTION_URL_HEADER: "true"}
        self.assertEqual(self.invoke_directly("download-export", via_url), 200)
        # start-export-api has no function URL and no public permission: the header gets nothing.
        self.assertEqual(self.invoke_directly("start-export-api", via_url), 403)
        self.assertEqual(self.invoke_directly("download-export", {local_function_url.FUNCTION_URL_HEADER: "yes"}), 403)
        # download-export is public through its URL only: not to the operator's key, nor to a service.
        operator = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIALOCALEXPORT00001/20260101/us-east-1/lambda/aws4_request"}
        self.assertEqual(self.invoke_directly("download-export", operator), 403)
        gateway = {"X-Local-Source-Service": "apigateway.amazonaws.com",
                   "X-Local-Source-Arn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/prod/GET/f"}
        self.assertEqual(self.invoke_directly("download-export", gateway), 403)
        self.assertEqual(len(self.events), 1, "only the function URL's invocation reached the function")

    def test_without_either_permission_the_url_is_refused(self):
        for missing in ("DownloadExportUrlPermission", "DownloadExportUrlInvokePermission"):
            policy = local_template.template().function_policies()[DOWNLOAD]
            kept = [s for s in policy["Statement"] if s["Sid"] != missing]
            self.assertEqual(len(kept), len(policy["Statement"]) - 1, missing)
            with mock.patch.dict(invoke_proxy.FUNCTION_POLICIES, {DOWNLOAD: dict(policy, Statement=kept)}):
                status, _, body = self.request("/f/x")
            self.assertEqual((status, json.loads(body)), (403, {"Message": "Forbidden"}), missing)
        self.assertEqual(self.events, [])


class PermissionsTest(unittest.TestCase):
    def test_the_templates_url_permissions_are_shaped_as_lambda_writes_them(self):
        statements = {s["Sid"]: s for s in local_template.template().function_policies()[DOWNLOAD]["Statement"]}
        self.assertEqual(statements["DownloadExportUrlPermission"]["Principal"], "*")
        self.assertEqual(statements["DownloadExportUrlPermission"]["Condition"],
                         {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
        self.assertEqual(statements["DownloadExportUrlInvokePermission"]["Condition"],
                         {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}})


if __name__ == "__main__":
    unittest.main()
