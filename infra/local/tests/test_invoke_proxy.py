"""The invoke proxy's fault control (`POST /__faults`), without a running stack: the body is
validated before a fault is stored (a fault without `times` once made every later invocation fail
with KeyError: 'times'), on servers/invoke_proxy.py's own handler, on an ephemeral port:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
"""

import json
import sys
import threading
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_http, local_template  # noqa: E402
from servers import invoke_proxy  # noqa: E402
from servers.invoke_proxy import FaultError, parse_fault  # noqa: E402

FUNCTIONS = {"sweep-exports", "write-manifest"}
GOOD = {"function": "write-manifest", "match": {"job.accountId": "a"}, "errorType": "States.TaskFailed", "times": 2}


def body(value) -> bytes:
    return json.dumps(value).encode()


class ParseFaultTest(unittest.TestCase):
    def refused(self, raw: bytes, functions=FUNCTIONS) -> str:
        with self.assertRaises(FaultError) as refused:
            parse_fault(raw, functions)
        return str(refused.exception)

    def test_a_fault_that_fails_and_one_that_holds(self):
        self.assertEqual(parse_fault(body(GOOD), FUNCTIONS), GOOD)
        held = {"function": "write-manifest", "match": {"mode": "part"}, "hold": True, "times": 1}
        self.assertEqual(parse_fault(body(held), FUNCTIONS), held)
        # `match` is optional (every invocation of the function); "hold": false is a failing fault.
        self.assertEqual(parse_fault(body({"function": "sweep-exports", "errorType": "X", "times": 1, "hold": False})),
                         {"function": "sweep-exports", "match": {}, "errorType": "X", "times": 1})

    def test_times_is_required_and_a_positive_integer(self):
        for times in (None, 0, -1, 1.5, "2", True, [1]):
            fault = dict(GOOD, times=times) if times is not None else {k: v for k, v in GOOD.items() if k != "times"}
            self.assertIn('"times" is required', self.refused(body(fault)), times)

    def test_function_is_required_and_served(self):
        for function in (None, "", 7, ["write-manifest"]):
            fault = dict(GOOD, function=function) if function is not None else {k: v for k, v in GOOD.items()
                                                                                 if k != "function"}
            self.assertIn('"function" is required', self.refused(body(fault)), function)
        message = self.refused(body(dict(GOOD, function="no-such-function")))
        self.assertIn("'no-such-function' is not served here", message)
        self.assertIn("sweep-exports, write-manifest", message)
        self.assertEqual(parse_fault(body(dict(GOOD, function="any-name")), ())["function"], "any-name")

    def test_error_type_or_hold(self):
        without = {k: v for k, v in GOOD.items() if k != "errorType"}
        self.assertIn('"errorType" is required', self.refused(body(without)))
        self.assertIn('"errorType" is required', self.refused(body(dict(GOOD, errorType=""))))
        self.assertIn('"errorType" is required', self.refused(body(dict(GOOD, errorType=3))))
        self.assertIn("not both", self.refused(body(dict(GOOD, hold=True))))
        self.assertIn('"hold" is true or false', self.refused(body(dict(without, hold="yes"))))

    def test_match_unknown_fields_and_shape(self):
        for match in ([], "job.accountId", {"": 1}):
            self.assertIn('"match" is an object', self.refused(body(dict(GOOD, match=match))), match)
        self.assertIn("unknown field 'time'", self.refused(body(dict(GOOD, time=1))))
        self.assertIn("unknown field 'id'", self.refused(body(dict(GOOD, id=9))))
        self.assertIn("not JSON", self.refused(b"{times: 1}"))
        self.assertIn("not JSON", self.refused(b"\xff"))
        self.assertIn("a fault is a JSON object", self.refused(body([GOOD])))


class FaultControlTest(unittest.TestCase):
    """POST /__faults on the proxy's handler: a bad fault is a 400 and leaves the faults as they were;
    invocations go on meeting the good ones. Behind the proxy, a stand-in for `cargo lambda watch`
    that answers every invocation {"swept": 0}."""

    def setUp(self):
        state = (invoke_proxy.FAULTS, invoke_proxy.FUNCTIONS, invoke_proxy.FUNCTION_POLICIES, invoke_proxy.SLOTS)
        saved = [type(live)(live) for live in state]

        def restore():
            for live, copy in zip(state, saved):
                live.clear()
                if isinstance(live, list):
                    live.extend(copy)
                else:
                    live.update(copy)

        self.addCleanup(restore)
        invoke_proxy.FAULTS.clear()
        invoke_proxy.FUNCTIONS.clear()
        invoke_proxy.FUNCTIONS.update(FUNCTIONS)
        invoke_proxy.FUNCTION_POLICIES.update(local_template.template().function_policies())
        invoke_proxy.SLOTS.update({f: threading.BoundedSemaphore(2) for f in FUNCTIONS})
        self.logged: list[str] = []
        logging = mock.patch.object(invoke_proxy, "log_line", self.logged.append)
        logging.start()
        self.addCleanup(logging.stop)

        class Watch(local_http.JsonHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(200, b'{"swept": 0}')

        self.base = self.serve(invoke_proxy.Handler)
        watch = mock.patch.object(invoke_proxy, "WATCH_URL", self.serve(Watch))
        watch.start()
        self.addCleanup(watch.stop)

    def serve(self, handler) -> str:
        server = local_http.Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def post(self, path: str, data: bytes, headers: dict[str, str] | None = None):
        request = urllib.request.Request(self.base + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def invoke_sweep(self, payload: dict):
        # As the sweep's EventBridge rule invokes it (its AWS::Lambda::Permission allows that).
        source = f"arn:aws:events:{local_template.REGION}:{local_template.ACCOUNT}:rule/attachment-export-sweep"
        return self.post("/2015-03-31/functions/sweep-exports/invocations", body(payload),
                         {"X-Local-Source-Service": "events.amazonaws.com", "X-Local-Source-Arn": source})

    def test_a_fault_without_times_is_refused_and_invocations_go_on(self):
        status, _, out = self.post("/__faults", body({"function": "sweep-exports", "errorType": "Boom"}))
        self.assertEqual(status, 400)
        self.assertIn('"times" is required', json.loads(out)["message"])
        self.assertEqual(invoke_proxy.FAULTS, [])
        self.assertTrue(self.logged[-1].startswith('refused fault: "times" is required'), self.logged)
        status, _, out = self.post("/__faults", body({"function": "sweep-exports", "match": {"run": 1},
                                                      "errorType": "Boom", "times": 1}))
        self.assertEqual((status, json.loads(out)), (200, {"id": 1}))
        status, _, out = self.post("/__faults", b"not json")
        self.assertEqual(status, 400)
        self.assertEqual(len(invoke_proxy.FAULTS), 1)
        # The good fault fails the matching invocation, as a crashed function would look.
        status, headers, out = self.invoke_sweep({"run": 1})
        self.assertEqual(status, 200, out)
        self.assertEqual(headers.get("X-Amz-Function-Error"), "Unhandled")
        self.assertEqual(json.loads(out)["errorType"], "Boom")
        # Spent: the next matching invocation reaches the function.
        status, headers, out = self.invoke_sweep({"run": 1})
        self.assertEqual((status, out), (200, b'{"swept": 0}'))
        self.assertNotIn("X-Amz-Function-Error", headers)
        self.assertEqual(invoke_proxy.FAULTS[0]["times"], 0)

    def test_every_refusal_leaves_the_faults_as_they_were(self):
        self.assertEqual(self.post("/__faults", body(GOOD))[0], 200)
        before = [dict(f, released=None) for f in invoke_proxy.FAULTS]
        for bad in (b"", b"[]", body(dict(GOOD, times="2")), body(dict(GOOD, function="nope")),
                    body(dict(GOOD, hold=True)), body(dict(GOOD, match=["x"]))):
            status, headers, out = self.post("/__faults", bad)
            self.assertEqual(status, 400, bad)
            self.assertTrue(json.loads(out)["message"].startswith("not a fault: "), out)
        self.assertEqual([dict(f, released=None) for f in invoke_proxy.FAULTS], before)
        self.assertEqual(self.post("/__faults", body(dict(GOOD, function="sweep-exports")))[2], b'{"id": 2}')


if __name__ == "__main__":
    unittest.main()
