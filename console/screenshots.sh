#!/usr/bin/env bash
# `make screenshots`: builds the console and saves a PNG of each screen to docs/console/
# (1100x820, en-GB, Europe/Berlin; one at 360 px), against the running local stack (make up).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCREENSHOTS=1 exec "$HERE/run-tests.sh" --grep @screenshots "$@"
