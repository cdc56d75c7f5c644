#!/usr/bin/env bash
# Builds the console into console/dist/: app.js (one bundle), app.css, index.html.
# Idempotent: `npm ci` runs only when package-lock.json changed or node_modules is missing.
# Prints little; exits non-zero on any failure. Used by `make console` and console/run-tests.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
# Playwright's own browser download cannot be reached: the tests drive Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

stamp=node_modules/.stamp-npm-ci
want="$(sha256sum package-lock.json | cut -c1-16)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "console: npm ci (package-lock.json changed or node_modules missing)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > "$stamp"
fi

npx --no-install tsc --noEmit -p tsconfig.json
npx --no-install tsc --noEmit -p tests/tsconfig.json
# No module imports another in a cycle, and none imports the entry point src/main.ts.
node tests/no-import-cycles.mjs

rm -rf dist.tmp
mkdir -p dist.tmp
npx --no-install esbuild src/main.ts \
    --bundle --format=iife --platform=browser --target=es2022,chrome109,firefox115,safari16 \
    --minify --sourcemap=linked --legal-comments=linked --charset=utf8 \
    --define:global=globalThis \
    --outfile=dist.tmp/app.js --log-level=warning
cp static/index.html dist.tmp/index.html
[[ -f dist.tmp/app.css ]] || { echo "console: the bundle produced no app.css" >&2; exit 1; }
# The CSP forbids inline scripts and styles: refuse a build that has any.
if grep -qiE '<script>|<script [^>]*>[^<]|style=|<style' dist.tmp/index.html; then
    echo "console: index.html has an inline script or style (the CSP forbids them)" >&2
    exit 1
fi
if grep -qE '\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write' src/*.ts; then
    echo "console: src/ uses an HTML sink (innerHTML, insertAdjacentHTML, outerHTML, document.write): build DOM with createElement/textContent" >&2
    exit 1
fi
rm -rf dist
mv dist.tmp dist
