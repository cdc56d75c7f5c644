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
