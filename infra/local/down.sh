#!/usr/bin/env bash
# Stops what up.sh started, by PID (each server's whole process group). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PIDS="$ROOT/.local/pids"

shopt -s nullglob
files=("$PIDS"/*.pid)
if ((${#files[@]} == 0)); then
    echo "local stack: nothing running"
    exit 0
fi

for file in "${files[@]}"; do
    name="$(basename "$file" .pid)"
    pid="$(cat "$file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        echo "  $name: stopping (pid $pid)"
    fi
done

# Give each group a few seconds, then make sure.
for file in "${files[@]}"; do
    pid="$(cat "$file")"
    for _ in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$file"
done
echo "local stack: stopped"
