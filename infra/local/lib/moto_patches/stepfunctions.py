"""moto 5.2.5's Step Functions, where its interpreter differs from AWS (replacements of moto internals).

**The ASL parser is not thread-safe.** Each execution runs on its own thread, and each parses the
state machine's definition with ANTLR when it starts (`ExecutionWorker._get_evaluation_entrypoint`
→ `AmazonStateLanguageParser.parse`). Under many simultaneous StartExecution calls (the load test
starts fifty at once) two parses interleave and one raises (seen: `IndexError: list index out of
range` inside the preprocessor); that execution's thread dies, and the execution stays RUNNING with
no history: something AWS never does. The replacement parses under one lock; the parse takes
milliseconds, and the executions still run in parallel once parsed.

**GetExecutionHistory ignores `reverseOrder`, `maxResults` and `nextToken`.** moto answers every
event, oldest first, in one page. AWS pages (100 events by default, at most 1,000) and, with
`reverseOrder`, answers the newest first: write-manifest's failure step reads the newest pages only
(at most five), to see that the execution itself entered `RecordFailure` (DESIGN §6). The replacement pages and
orders as AWS does; its page token is an offset, opaque to the caller as AWS's is.

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


def paged_history(events: list, reverse: bool, max_results, next_token) -> dict:
    """One page of an execution's events, as GetExecutionHistory answers it on AWS."""
    ordered = list(reversed(events)) if reverse else list(events)
    size = int(max_results or 0) or 100  # 0 or absent: AWS's default page
    if not 1 <= size <= 1000:
        raise ValueError(f"maxResults {size} is outside 1..1000")
    start = int(next_token or 0)
    page = {"events": ordered[start:start + size]}
    if start + size < len(ordered):
        page["nextToken"] = str(start + size)
    return page


def patch_paged_execution_history() -> None:
    """Replaces StepFunctionResponse.get_execution_history with one that pages and orders."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import ValidationException
    from moto.stepfunctions.responses import StepFunctionResponse

    def get_execution_history(self):
        history = self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))
        try:
            page = paged_history(
                history["events"],
                bool(self._get_param("reverseOrder")),
                self._get_param("maxResults"),
                self._get_param("nextToken"),
            )
        except ValueError as error:
            raise ValidationException(str(error))
        return ActionResult(page)

    StepFunctionResponse.get_execution_history = get_execution_history


def apply() -> None:
    patch_serial_asl_parse()
    patch_paged_execution_history()
