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


if __name__ == "__main__":
    unittest.main()
