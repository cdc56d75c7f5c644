#!/usr/bin/env bash
# `make test`: install what is missing, check formatting and lints, start the local stack, run every
# test against it, and stop the stack again, whether the tests pass or not. A stack that was already
# running (a developer's `make up`) is reused and left running.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> [%4ds] %s\n' "$SECONDS" "$*"; }

step "install pinned tools (idempotent)"
infra/local/install.sh
if ! command -v cargo-nextest >/dev/null; then
    step "cargo-nextest missing: installing it into .local/tools"
    cargo install cargo-nextest --version 0.9.143 --locked --root .local/tools
fi
export PATH="$PWD/.local/tools/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo machete: no unused dependencies"
.local/tools/bin/cargo-machete

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "asl-validator: the state machine definition"
infra/local/tools/validate_asl.sh

step "the local stand-ins' own unit tests (SigV4, SRP, identity pool, console server, S3's download headers; no stack)"
# LOCAL_S3_SERVER: test_s3_server.py fails, not skips, if install.sh left no s3s-fs.
LOCAL_S3_SERVER="$PWD/.local/tools/bin/s3s-fs" .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'

step "cfn-lint and sam validate: the deployable template (offline)"
infra/check_template.sh

step "build tests"
# nextest builds everything first and releases cargo's lock before running, so `cargo lambda
# watch` (which runs cargo for the functions on demand) never waits on the test run.
cargo nextest run --workspace --no-run

started_stack=0
if [[ -f .local/stack.env ]] && infra/local/up.sh --check >/dev/null 2>&1; then
    step "local stack already up: reusing it"
else
    step "start the local stack"
    trap 'step "stop the local stack"; infra/local/down.sh' EXIT
    started_stack=1
    infra/local/up.sh
fi

step "run all tests"
set -a
# shellcheck source=/dev/null
source .local/stack.env
set +a
# Every test but the fault and load tests, in parallel; then those, which stop and pause the shared
# servers or load them on purpose (noisy_neighbour floods the gateway's shared throttle), alone and
# one at a time.
status=0
alone='binary(faults) | binary(load) | binary(api_conformance) | binary(sweep) | binary(noisy_neighbour)'
cargo nextest run --workspace --no-fail-fast -E "not ($alone)" || status=$?
step "run the fault and load tests (servers stopped, paused, loaded: alone, one at a time)"
# --workspace again: the same feature resolution as the build above, so nothing is rebuilt.
cargo nextest run --workspace --no-fail-fast --test-threads 1 -E "$alone" || status=$?
step "the console in a real browser (Playwright driving Debian's Chromium)"
console/run-tests.sh || status=$?
if [[ $started_stack == 0 ]]; then echo "(stack left running; make down stops it)"; fi
exit $status
