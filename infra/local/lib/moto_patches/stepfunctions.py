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

**The history quota is not enforced.** moto lets an execution's history grow without bound (a
28,000-event execution SUCCEEDS). AWS fails an execution at its 25,000th history event unless that
event is ExecutionSucceeded. The replacement does the same (`patch_history_quota`, one check per
recorded event): the execution ends FAILED (States.Runtime) with the ExecutionFailed event, no
event follows it, and no Catch or Retry sees it. (The payload quota moto does check: a state's
output and a Lambda task's result over 256 KiB fail with States.DataLimitExceeded. It does not
check a state's effective input after Parameters; our payloads carry ids and counts only.)

**States.ALL catches everything.** On AWS it "can't catch the States.DataLimitExceeded terminal
error type and runtime error types" (States.Runtime); an ErrorEquals that names them still does.
The replacement matches as AWS does (`patch_states_all_excludes_terminal_errors`), so a Catch on
States.ALL cannot turn a quota into an ordinary failure locally either.

**A Distributed Map's ItemReader signs its S3 calls with moto's dummy key `ak`.** On AWS it reads
with the state machine's role; locally the S3 server (s3s-fs) knows one key, the stack's, and
refuses `ak`. The replacement (`patch_item_reader_credentials`) reads with the stack's key from the
environment up.sh gives moto (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3); the template grants the
state machine's role exactly that read (tests/tests/template_security.rs checks it).

**A Distributed Map's children are not run as AWS runs them** (`patch_distributed_map`):
- a failed child leaves the Map Run SUCCEEDED: moto counts failures but ignores the tolerated-failure
  thresholds. AWS fails the Map Run with States.ExceedToleratedFailureThreshold once more items
  failed than ToleratedFailureCount, or a larger share than ToleratedFailurePercentage (both 0 by
  default). The replacement checks both when the items are done.
- all children of a Map Run write one shared history: on AWS each child execution has its own
  (and its own 25,000-event quota). The replacement gives each child its own.
- each worker runs its items by recursion, one frame per item, and raises RecursionError near
  1,000 items. The replacement loops.

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


# AWS's quota (Step Functions developer guide, "Service quotas" and "Avoid reaching the history
# quota"); tests lower it through the module attribute to keep executions short.
HISTORY_EVENTS = 25_000
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events (25000)."



def _failure(error: str, cause: str):
    """A FailureEventException of one of the States errors below, raised where moto has no
    environment at hand (a Map Run's end)."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    # FailureEvent's constructor reads the environment, which the event manager does not have.
    event = FailureEvent.__new__(FailureEvent)
    event.state_name = ""
    event.source_event_id = 0
    # (moto's enum spells the second one StatesStatesDataLimitExceeded, so no lookup by name.)
    typ = {
        "States.Runtime": StatesErrorNameType.StatesRuntime,
        "States.DataLimitExceeded": StatesErrorNameType.StatesStatesDataLimitExceeded,
        "States.ExceedToleratedFailureThreshold": StatesErrorNameType.StatesExceedToleratedFailureThreshold,
    }[error]
    event.error_name = StatesErrorName(typ=typ)
    event.event_type = HistoryEventType.ExecutionFailed
    details = ExecutionFailedEventDetails(error=error, cause=cause)
    event.event_details = EventDetails(executionFailedEventDetails=details)

    class StatesFailure(FailureEventException):
        # As given: moto would prefix a States.Runtime cause with the (here unknown) state.
        def get_execution_failed_event_details(self):
            return ExecutionFailedEventDetails(error=error, cause=cause)

    return StatesFailure(event)


def patch_history_quota() -> None:
    """The 25,000th event of an execution is ExecutionSucceeded, or ExecutionFailed in its place;
    nothing is recorded after it, and the execution (every Map iteration and branch in it) ends.

    The event manager stops the execution through its root environment (set when the program, or
    a Distributed Map child, starts): raising through moto's states instead reached handlers that
    record more events, and an inline Map's worker that caught it left the execution RUNNING."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    original_add = EventManager.add_event

    def add_event(self, context, event_type, event_details=None, timestamp=None, update_source_event_id=True):
        if getattr(self, "_quota_failure", None) is not None:
            return self._event_id_gen._next_id - 1  # nothing is recorded after the quota
        name = getattr(event_type, "value", event_type)
        if self._event_id_gen._next_id < HISTORY_EVENTS or name == "ExecutionSucceeded":
            return original_add(self, context, event_type, event_details, timestamp, update_source_event_id)
        failure = ExecutionFailedEventDetails(error="States.Runtime", cause=HISTORY_LIMIT_CAUSE)
        event_id = original_add(
            self, context, HistoryEventType.ExecutionFailed,
            EventDetails(executionFailedEventDetails=failure), timestamp, update_source_event_id,
        )
        self._quota_failure = failure
        root = getattr(self, "_root_env", None)
        if root is not None:
            root.set_error(failure)  # reaches every frame: nothing runs on
        return event_id

    EventManager.add_event = add_event

    original_eval = Program.eval

    def eval(self, env) -> None:
        if not env.is_frame():
            env.event_manager._root_env = env
        original_eval(self, env)

    Program.eval = eval

    original_set_error = Environment.set_error

    def set_error(self, error) -> None:
        # What stops after the quota may report an error of its own; the execution's is the quota's.
        quota = getattr(self.event_manager, "_quota_failure", None)
        original_set_error(self, quota if quota is not None else error)

    Environment.set_error = set_error


def patch_states_error_names_from_failures() -> None:
    """moto rebuilds a failed iteration's or branch's error as a custom error name, which may not
    begin with "States.", so a States error (a quota, a tolerated-failure threshold) failing inside a
    Map or Parallel raised ValueError instead and left the execution RUNNING. The States errors
    themselves are accepted; any other "States." name is still refused."""
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    known = {t.to_name() for t in StatesErrorNameType} | {"States.DataLimitExceeded"}
    original = custom_error_name.CustomErrorName.__init__

    def __init__(self, error_name) -> None:
        if error_name in known:
            ErrorName.__init__(self, error_name=error_name)
        else:
            original(self, error_name)

    custom_error_name.CustomErrorName.__init__ = __init__


def patch_states_all_excludes_terminal_errors() -> None:
    """States.ALL matches every error but States.Runtime and States.DataLimitExceeded, as on AWS."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

    original = ErrorEqualsDecl._eval_body
    terminal = ("States.Runtime", "States.DataLimitExceeded")

    def _eval_body(self, env) -> None:
        error_name = env.stack[-1] if env.stack else None
        name = getattr(error_name, "error_name", None)
        if name in terminal and not any(n.error_name == name for n in self.error_names):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body


def patch_item_reader_credentials() -> None:
    """The ItemReader's S3 client signs with the stack's key, at the stack's S3 endpoint."""
    import os

    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import resource_eval_s3

    # Read now, before mock_aws replaces the environment's credentials with its own fake ones.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")

    def _get_s3_client(resource_runtime_part, state_credentials):
        if not (endpoint and key and secret):
            raise RuntimeError("the local ItemReader needs AWS_ENDPOINT_URL_S3 and the stack's key")
        client = boto3.client(
            "s3",
            region_name=resource_runtime_part.region,
            endpoint_url=endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
        # To the stack's S3 server, not to moto's own S3 (mock_aws intercepts every client).
        from moto.core.models import botocore_stubber

        client.meta.events.unregister("before-send", botocore_stubber)
        return client

    resource_eval_s3.ResourceEvalS3._get_s3_client = staticmethod(_get_s3_client)


TOLERATED_FAILURE_CAUSE = "The specified tolerated failure threshold was exceeded"


def exceeds_tolerance(failed: int, total: int, count: int, percentage: float) -> bool:
    """AWS's rule: the Map Run fails once failures exceed either threshold."""
    if failed == 0:
        return False
    return failed > (count or 0) or (total > 0 and 100.0 * failed / total > (percentage or 0.0))


def patch_distributed_map() -> None:
    """Tolerated-failure thresholds applied, one history per child, and workers that loop."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    original_map_run = component.DistributedIterationComponent._map_run

    def _map_run(self, env, eval_input) -> None:
        original_map_run(self, env, eval_input)
        items = eval_input.map_run_record.item_counter
        failed = items.failed.get() + items.timed_out.get() + items.aborted.get()
        if exceeds_tolerance(
            failed,
            items.total.get(),
            eval_input.tolerated_failure_count,
            eval_input.tolerated_failure_percentage,
        ):
            raise _failure("States.ExceedToleratedFailureThreshold", TOLERATED_FAILURE_CAUSE)

    component.DistributedIterationComponent._map_run = _map_run

    original_eval_job = worker.DistributedItemProcessorWorker._eval_job

    def _eval_job(self, env, job) -> None:
        # The job's frame gets its own history: a child execution's, with its own quota, which
        # stops the child (not the parent) when it is reached.
        env.event_manager = EventManager()
        env.event_manager._root_env = env
        original_eval_job(self, env, job)

    worker.DistributedItemProcessorWorker._eval_job = _eval_job

    def _eval_pool(self, job, worker_frame) -> None:
        # moto's own body, as a loop instead of one recursive call per item.
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return
            job_frame = worker_frame.open_inner_frame()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    worker.DistributedItemProcessorWorker._eval_pool = _eval_pool


def apply() -> None:
    patch_serial_asl_parse()
    patch_paged_execution_history()
    patch_history_quota()
    patch_states_error_names_from_failures()
    patch_states_all_excludes_terminal_errors()
    patch_item_reader_credentials()
    patch_distributed_map()
