"""The Step Functions patch (lib/moto_patches/stepfunctions.py): moto's ASL parser, which is not
thread-safe, parses one definition at a time, and many executions starting at once all parse."""

import json
import sys
import threading
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "infra" / "local"))

from lib.moto_patches import stepfunctions  # noqa: E402

stepfunctions.apply()

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser  # noqa: E402


def definition() -> str:
    """The project's state machine, its placeholders filled as the template's Sub fills them."""
    text = (ROOT / "infra" / "statemachine" / "export.asl.json").read_text()
    for name in ("EnumerateAttachmentsFunctionArn", "WriteManifestFunctionArn"):
        text = text.replace("${" + name + "}", f"arn:aws:lambda:us-east-1:000000000000:function:{name}")
    json.loads(text)
    return text


class SerialParse(unittest.TestCase):
    def test_the_parse_runs_under_the_lock(self):
        seen = []
        original = stepfunctions.asl_parser.AmazonStateLanguageParser.parse
        try:
            # The replacement calls whatever parse it wrapped: record whether the lock was held.
            stepfunctions.asl_parser.AmazonStateLanguageParser.parse = staticmethod(
                lambda d: seen.append(stepfunctions._PARSE.locked()) or ("parsed", d)
            )
            stepfunctions.patch_serial_asl_parse()
            self.assertEqual(AmazonStateLanguageParser.parse("x"), ("parsed", "x"))
            self.assertEqual(seen, [True])
        finally:
            stepfunctions.asl_parser.AmazonStateLanguageParser.parse = original

    def test_many_executions_starting_at_once_all_parse(self):
        text = definition()
        errors = []

        def start():
            try:
                for _ in range(3):
                    program, _tree = AmazonStateLanguageParser.parse(text)
                    self.assertIsNotNone(program)
            except Exception as error:  # the race surfaced as IndexError inside ANTLR
                errors.append(repr(error))

        threads = [threading.Thread(target=start) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class PagedHistory(unittest.TestCase):
    """GetExecutionHistory as AWS answers it: pages of 100 by default, newest first on request."""

    EVENTS = [{"id": n} for n in range(1, 251)]

    def test_the_default_page_is_100_events_oldest_first_with_a_token(self):
        page = stepfunctions.paged_history(self.EVENTS, False, None, None)
        self.assertEqual([e["id"] for e in page["events"]], list(range(1, 101)))
        self.assertEqual(page["nextToken"], "100")

    def test_reverse_order_answers_the_newest_first_and_pages_on(self):
        first = stepfunctions.paged_history(self.EVENTS, True, 10, None)
        self.assertEqual([e["id"] for e in first["events"]], list(range(250, 240, -1)))
        second = stepfunctions.paged_history(self.EVENTS, True, 10, first["nextToken"])
        self.assertEqual(second["events"][0]["id"], 240)

    def test_the_last_page_has_no_token_and_a_page_size_outside_1_to_1000_is_refused(self):
        last = stepfunctions.paged_history(self.EVENTS, False, 1000, None)
        self.assertEqual(len(last["events"]), 250)
        self.assertNotIn("nextToken", last)
        with self.assertRaises(ValueError):
            stepfunctions.paged_history(self.EVENTS, False, 1001, None)

    def test_the_server_answers_with_the_replacement(self):
        from moto.stepfunctions.responses import StepFunctionResponse

        self.assertEqual(StepFunctionResponse.get_execution_history.__name__, "get_execution_history")
        self.assertIn("paged_history", StepFunctionResponse.get_execution_history.__code__.co_names)


if __name__ == "__main__":
    unittest.main()


class Quotas(unittest.TestCase):
    """AWS's history and payload quotas, enforced on executions moto really runs (in-process)."""

    def setUp(self):
        from moto import mock_aws

        self.mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self.mock.start()
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        # A smaller history quota keeps the executions short; the rule is the same at 25,000.
        self.saved = stepfunctions.HISTORY_EVENTS
        stepfunctions.HISTORY_EVENTS = 200

    def tearDown(self):
        stepfunctions.HISTORY_EVENTS = self.saved
        self.mock.stop()

    def run_machine(self, states: dict, start: str, execution_input: dict) -> tuple[dict, list]:
        import time

        machine = self.sfn.create_state_machine(
            name=f"quota-{time.monotonic_ns()}",
            definition=json.dumps({"StartAt": start, "States": states}),
            roleArn="arn:aws:iam::123456789012:role/quota-test",
        )["stateMachineArn"]
        arn = self.sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))["executionArn"]
        deadline = time.monotonic() + 60
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            self.assertLess(time.monotonic(), deadline, "the execution never ended")
            time.sleep(0.05)
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return described, events

    @staticmethod
    def loop(iterations: int, catch_all: bool) -> dict:
        """A counting loop of Pass and Choice states: four history events an iteration."""
        count = {
            "Type": "Pass",
            "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
            "Next": "More",
        }
        if catch_all:
            # A Pass cannot Catch: the counting step is a Parallel, which can.
            count = {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Add", "States": {"Add": {**count, "End": True}}}],
                "OutputPath": "$[0]",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                "Next": "More",
            }
            del count["Branches"][0]["States"]["Add"]["Next"]
        return {
            "Count": count,
            "More": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": iterations, "Next": "Count"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "Result": "caught", "End": True},
        }

    def test_an_execution_under_the_history_quota_succeeds(self):
        described, events = self.run_machine(self.loop(20, False), "Count", {"n": 0})
        self.assertEqual(described["status"], "SUCCEEDED")
        self.assertLess(len(events), stepfunctions.HISTORY_EVENTS)

    def test_the_event_at_the_quota_is_execution_failed_and_nothing_follows(self):
        described, events = self.run_machine(self.loop(1000, False), "Count", {"n": 0})
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "States.Runtime")
        self.assertEqual(described["cause"], stepfunctions.HISTORY_LIMIT_CAUSE)
        self.assertEqual(len(events), stepfunctions.HISTORY_EVENTS, "exactly the quota, none after")
        self.assertEqual(events[-1]["type"], "ExecutionFailed")
        self.assertEqual(events[-1]["id"], stepfunctions.HISTORY_EVENTS)

    def test_no_catch_or_retry_on_states_all_sees_the_history_quota(self):
        described, events = self.run_machine(self.loop(1000, True), "Count", {"n": 0})
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "States.Runtime")
        self.assertNotIn("Caught", json.dumps([e for e in events if "stateEnteredEventDetails" in e], default=str))

    def test_a_state_output_over_256_kib_fails_the_execution(self):
        # moto's own check (quotas.is_within_size_quota), which the quota tests rely on.
        states = {"Double": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}}
        described, _ = self.run_machine(states, "Double", {"s": "x" * (140 * 1024)})
        self.assertEqual((described["status"], described["error"]), ("FAILED", "States.DataLimitExceeded"))
        described, _ = self.run_machine(states, "Double", {"s": "x" * (100 * 1024)})
        self.assertEqual(described["status"], "SUCCEEDED")

    def test_states_all_matches_neither_terminal_error_but_a_named_one_does(self):
        from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType as T,
        )

        class Env:
            def __init__(self, error):
                self.stack = [error]

        def matches(equals, error) -> bool:
            env = Env(error)
            ErrorEqualsDecl(error_names=equals)._eval_body(env)
            return env.stack[-1]

        everything = [StatesErrorName(typ=T.StatesALL)]
        runtime, data = StatesErrorName(typ=T.StatesRuntime), StatesErrorName(typ=T.StatesStatesDataLimitExceeded)
        self.assertFalse(matches(everything, runtime))
        self.assertFalse(matches(everything, data))
        self.assertTrue(matches(everything, StatesErrorName(typ=T.StatesTaskFailed)))
        self.assertTrue(matches(everything, CustomErrorName("TransientError")))
        self.assertTrue(matches([StatesErrorName(typ=T.StatesStatesDataLimitExceeded)], data))

    def test_an_inline_map_that_crosses_the_quota_ends_the_execution_failed(self):
        # 4 events an iteration (MapIterationStarted, PassStateEntered/Exited, …Succeeded).
        states = {
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                                  "States": {"P": {"Type": "Pass", "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
        described, events = self.run_machine(states, "Each", {"items": list(range(100))})
        self.assertEqual((described["status"], described["error"]), ("FAILED", "States.Runtime"))
        self.assertEqual(described["cause"], stepfunctions.HISTORY_LIMIT_CAUSE)
        self.assertEqual(len(events), stepfunctions.HISTORY_EVENTS)
        described, _ = self.run_machine(states, "Each", {"items": list(range(20))})
        self.assertEqual(described["status"], "SUCCEEDED")

    def test_a_distributed_maps_child_has_its_own_quota_and_its_failure_fails_the_map_run(self):
        # Each child counts to `n` in a loop (4 events a turn): 30 children of 40 turns each would
        # be 4,800 events in one shared history; each child's own stays under 200.
        child = {"StartAt": "Count", "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "to.$": "$.to"}, "Next": "More"},
            "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThanPath": "$.to", "Next": "Count"}],
                     "Default": "Done"},
            "Done": {"Type": "Succeed"}}}
        states = {
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4,
                "ItemSelector": {"n": 0, "to.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **child},
                "ResultPath": None,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
        described, events = self.run_machine(states, "Each", {"items": [40] * 30})
        self.assertEqual(described["status"], "SUCCEEDED")
        self.assertNotIn("error", json.loads(described["output"]))
        self.assertLess(len(events), 20, "the children's events are theirs, not the parent's")
        # One child counting past its own quota fails, and with it the Map Run: the Catch sees it.
        described, _ = self.run_machine(states, "Each", {"items": [40] * 5 + [100]})
        self.assertEqual(described["status"], "SUCCEEDED")
        self.assertEqual(json.loads(described["output"])["error"]["Error"], "States.ExceedToleratedFailureThreshold")
