"""moto's server, in-process, with Step Functions executing state machines for real.

This is the only way moto 5.2 runs ASL: inside mock_aws(config=...), a ThreadedMotoServer's
interpreter sends Lambda tasks to AWS_ENDPOINT_URL_LAMBDA (the invoke proxy). A plain `moto_server`
sends them to itself. Serves Step Functions, EventBridge, KMS and the console's Cognito user pool
for the local stack, with moto's internals replaced where moto differs from AWS
(lib/moto_patches/): real SRP sign-in and the app client's ExplicitAuthFlows enforced, MFA_SETUP
(enrolling an authenticator at sign-in) held to what Cognito requires, tokens that live as long
as the app client says and refresh tokens refused as Cognito refuses them, a TOTP that a user
cannot turn off while the pool requires MFA, and AdminDeleteSoftwareToken; and Step Functions
parsing each execution's definition one at a time (moto's ASL parser is not thread-safe, and a
failed parse left an execution RUNNING forever).

Refuses to start unless the installed moto is the one infra/local/requirements.lock pins: the
patches replace moto's private functions, which another release may have changed.
"""

import argparse
import signal
import sys
import threading
from pathlib import Path

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/moto_server.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import moto_patches  # noqa: E402

# Before anything of moto is imported: the patches below are written for the pinned moto only.
try:
    moto_patches.require_pinned_moto()
except moto_patches.MotoVersionError as error:
    raise SystemExit(f"moto_server: {error}") from None

from moto import mock_aws  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from lib.moto_patches import cognito_idp, stepfunctions  # noqa: E402

# One module of patches per moto service the local stack corrects (lib/moto_patches/).
PATCHED_SERVICES = (cognito_idp, stepfunctions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    for service in PATCHED_SERVICES:
        service.apply()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        print(f"moto listening on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
        server.stop()


if __name__ == "__main__":
    main()
