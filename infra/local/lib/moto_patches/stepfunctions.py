"""moto 5.2.5's Step Functions, where its interpreter differs from AWS (replacements of moto internals).

**The ASL parser is not thread-safe.** Each execution runs on its own thread, and each parses the
state machine's definition with ANTLR when it starts (`ExecutionWorker._get_evaluation_entrypoint`
→ `AmazonStateLanguageParser.parse`). Under many simultaneous StartExecution calls (the load test
starts fifty at once) two parses interleave and one raises (seen: `IndexError: list index out of
range` inside the preprocessor); that execution's thread dies, and the execution stays RUNNING with
no history: something AWS never does. The replacement parses under one lock; the parse takes
milliseconds, and the executions still run in parallel once parsed.

require_pinned_moto() refuses any moto but the pinned one before moto is imported.
"""

import threading

from . import require_pinned_moto

require_pinned_moto()

from moto.stepfunctions.parser.asl.parse import asl_parser  # noqa: E402

_PARSE = threading.Lock()


def patch_serial_asl_parse() -> None:
    """Replaces AmazonStateLanguageParser.parse (a staticmethod) with the same parse under a lock."""
    parser = asl_parser.AmazonStateLanguageParser
    original = parser.parse

    def parse(*args, **kwargs):
        with _PARSE:
            return original(*args, **kwargs)

    parser.parse = staticmethod(parse)


def apply() -> None:
    patch_serial_asl_parse()
