"""A minimal AWS Lambda Runtime API, to run one function binary as Lambda runs it.

    runtime_api.py [--runs N] [--event FILE ...] [--out FILE] -- BINARY [ARGS...]

For each run: listens on 127.0.0.1 (a free port), starts BINARY with AWS_LAMBDA_RUNTIME_API pointing
here, hands it the events in order on `GET /2018-06-01/runtime/invocation/next`, records each
`/response` or `/error`, and stops the process (by PID) at its next `/next` after the last event.
Prints (or writes to --out) JSON:

    {"runs": [{"ready_ms": ..., "results": [{"kind": "response"|"error", "body": ...}, ...]}]}

`ready_ms` is the cold start: from process start to its first request for an event. `make bench`
uses it for cold starts of the release binaries; a test uses it to show that a panic in a handler is
reported to Lambda as an error and the process lives on.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/runtime_api.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.local_http import JsonHandler  # noqa: E402

PREFIX = "/2018-06-01/runtime"


class Run:
    def __init__(self, events: list[bytes]):
        self.events = list(events)
        self.results: list[dict] = []
        self.started = 0.0
        self.ready_ms: float | None = None
        self.done = threading.Event()
        self.answered = threading.Condition()
        self.pending: str | None = None


def handler_for(run: Run):
    class Handler(JsonHandler):

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                self.reply(404, b"{}")
                return
            if run.ready_ms is None:
                run.ready_ms = (time.monotonic() - run.started) * 1000
            with run.answered:
                # One event at a time, as Lambda does: the next waits for the previous answer.
                run.answered.wait_for(lambda: run.pending is None)
                if not run.events:
                    run.done.set()
                    # Never answered: the process is stopped while it waits, as Lambda freezes it.
                    return
                request_id = str(uuid.uuid4())
                run.pending = request_id
                event = run.events.pop(0)
            deadline = str(int(time.time() * 1000) + 60_000)
            self.reply(200, event, {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": deadline,
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:local",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            })

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = self.path.removeprefix(f"{PREFIX}/").split("/")
            if parts[:1] == ["init"]:
                run.results.append({"kind": "init_error", "body": decode(body)})
                run.done.set()
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                with run.answered:
                    run.results.append({"kind": parts[2], "body": decode(body)})
                    run.pending = None
                    run.answered.notify_all()
            self.reply(202, b'{"status": "OK"}')

    return Handler


def decode(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def one_run(command: list[str], events: list[bytes], timeout: float) -> dict:
    run = Run(events)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(run))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(command[0]),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_GROUP_NAME": "local",
    })
    run.started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = run.done.wait(timeout)
    exited = process.poll()
    process.kill()
    _, stderr = process.communicate()
    server.shutdown()
    server.server_close()
    outcome = {"ready_ms": run.ready_ms, "results": run.results}
    if not finished:
        outcome["error"] = f"no answer within {timeout}s (exit status {exited}); stderr: {stderr.decode(errors='replace')[-2000:]}"
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--event", action="append", default=[], help="a JSON event file, in order")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--out")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    events = [open(path, "rb").read() for path in args.event]
    runs = [one_run(args.command, events, args.timeout) for _ in range(args.runs)]
    text = json.dumps({"runs": runs}, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)
    sys.exit(1 if any("error" in r for r in runs) else 0)


if __name__ == "__main__":
    main()
