"""What the local stand-ins share as HTTP servers: a threading server that takes bursts, and a
request handler that logs nothing by itself (each server logs its own lines, never a body) and
replies JSON, and `serve` to run one on loopback until stopped. Used by the invoke proxy, the
local gateway, the identity-pool stand-in, the console server and runtime_api.py."""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_LOG_LOCK = threading.Lock()


def log_line(text: str) -> None:
    """`text` as one whole line of the server's log. The servers are threaded, and print() writes
    the text and the newline apart, so two requests' lines could interleave in the log."""
    with _LOG_LOCK:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


class Server(ThreadingHTTPServer):
    # The default listen backlog (5) resets connections under load; API Gateway and Lambda don't.
    request_queue_size = 1024
    daemon_threads = True


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the default logs every request line; servers log their own
        pass

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """`body` (JSON unless `headers` names another Content-Type) with its length."""
        self.send_response(status)
        headers = headers or {}
        if "content-type" not in {k.lower() for k in headers}:
            self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(port: int, handler: type[BaseHTTPRequestHandler], banner: str) -> None:
    """Serves `handler` on 127.0.0.1:`port` (never another interface) until interrupted; prints
    `banner` once listening, for the server's log."""
    server = Server(("127.0.0.1", port), handler)
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
