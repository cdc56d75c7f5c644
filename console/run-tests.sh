#!/usr/bin/env bash
# Builds the console, then runs its Playwright tests (Debian's Chromium) against the running local
# stack (`make up`): CONSOLE_URL and the rest come from .local/stack.env. Extra arguments go to
# Playwright (e.g. `console/run-tests.sh -g "Team account"`). Exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

[[ -f "$ROOT/.local/stack.env" ]] || { echo "console tests: no .local/stack.env: start the local stack first (make up)" >&2; exit 1; }
set -a
# shellcheck source=/dev/null
source "$ROOT/.local/stack.env"
set +a
[[ -n "${CONSOLE_URL:-}" ]] || { echo "console tests: CONSOLE_URL is not in .local/stack.env (the local stack serves no console)" >&2; exit 1; }
[[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]] || { echo "console tests: /usr/bin/chromium is missing: run infra/local/install.sh" >&2; exit 1; }
if [[ ! -x "$ROOT/target/debug/attachment-export" ]]; then
    echo "console tests: building the attachment-export CLI (seeds the test accounts)"
    (cd "$ROOT" && cargo build --quiet --bin attachment-export)
fi

"$HERE/build.sh"
cd "$HERE"
exec npx --no-install playwright test --reporter=list "$@"
