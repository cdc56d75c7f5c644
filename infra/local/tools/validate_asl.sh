#!/usr/bin/env bash
# Validates the state machine definition with asl-validator, as deployed (placeholders substituted
# by function ARNs), so ARNs and JSONPath expressions are checked too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
definition="$("$ROOT/.local/venv/bin/python" "$ROOT/infra/local/tools/provision.py" --print-definition)"
"$ROOT/.local/node/node_modules/.bin/asl-validator" --json-definition "$definition"
