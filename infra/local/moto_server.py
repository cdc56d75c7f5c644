"""moto's server, in-process, with Step Functions executing state machines for real.

This is the only way moto 5.2 runs ASL: inside mock_aws(config=...), a ThreadedMotoServer's
interpreter sends Lambda tasks to AWS_ENDPOINT_URL_LAMBDA (the invoke proxy). A plain `moto_server`
sends them to itself. Serves Step Functions and EventBridge for the local stack.
"""

import argparse
import signal
import threading

from moto import mock_aws
from moto.server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        print(f"moto listening on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
        server.stop()


if __name__ == "__main__":
    main()
