#!/usr/bin/env bash
# `make bench [N=100000]`: DESIGN §12's measurements, in one run on this machine, as ratios.
#   1. the link maker and manifest writing (CPU, release build): links vs aws-sdk-s3's presigner and
#      the floor (the link's one HMAC); allocations per link
#   2. end to end on the local stack, at N/10 and N attachments: a bare read of the account's
#      catalog at the export's parallelism (its 32 slices of time, 8 Queries at once: the read
#      ceiling) vs a full export from POST to SUCCEEDED; peak RSS of each function
#   3. cold start of each function's release binary under a minimal Runtime API (process start to
#      its first request for an event; median of 10) and the binaries' sizes
# Results: bench/results/<UTC time>.json and .md (the README's performance section quotes them).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/$stamp"
say() { printf '\n==> %s\n' "$*"; }

say "release build of the benchmark"
cargo build --quiet --release -p bench
say "link maker and manifest writing (one core)"
cpu_json="$(target/release/bench cpu)"
echo "$cpu_json"
# The scale model (export_core::scale): AWS's figures for 1M to 1B attachments, from the state
# machine definition and the code's constants; not a measurement.
scale_json="$(target/release/bench scale)"

started_stack=0
if [[ -f .local/stack.env ]] && infra/local/up.sh --check >/dev/null 2>&1; then
    say "reusing the running local stack"
else
    say "starting the local stack (release builds of the functions, as on Lambda)"
    # The template's assembly groups and Finalize passes, not the test suite's small ones.
    WATCH_RELEASE=1 ASSEMBLY_GROUP_PARTS=100 FINALIZE_PASS_BYTES=0 infra/local/up.sh >/dev/null
    started_stack=1
    trap 'infra/local/down.sh >/dev/null' EXIT
fi
set -a
# shellcheck source=/dev/null
source .local/stack.env
set +a
cargo build --quiet --bin attachment-export
CLI=target/debug/attachment-export

say "cold starts of the release binaries (median of 10 under infra/local/servers/runtime_api.py)"
FUNCTION_BINS=(start-export enumerate-attachments write-manifest retrieve-export)
cargo build --quiet --release "${FUNCTION_BINS[@]/#/--bin=}"
cold="$(
    set -a
    # shellcheck source=/dev/null
    source .local/functions.env
    set +a
    for f in "${FUNCTION_BINS[@]}"; do
        .local/venv/bin/python infra/local/servers/runtime_api.py --runs 10 --out "/tmp/cold-$f.json" -- "target/release/$f" >/dev/null
    done
    python3 - "${FUNCTION_BINS[@]}" <<'PY'
import json, os, statistics, sys
out = {"cold_start_ms": {}, "binary_bytes": {}}
for f in sys.argv[1:]:
    runs = json.load(open(f"/tmp/cold-{f}.json"))["runs"]
    out["cold_start_ms"][f] = round(statistics.median(r["ready_ms"] for r in runs), 1)
    out["binary_bytes"][f] = os.path.getsize(f"target/release/{f}")
print(json.dumps(out))
PY
)"
echo "$cold"

# peak_rss: the largest VmHWM (MiB) of each function's processes so far.
peak_rss() {
    python3 - <<'PY'
import json, os
peaks = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        continue
    name = os.path.basename(cmd)
    if cmd.startswith(("target/debug/", "target/release/")) and name in ("start-export", "enumerate-attachments", "write-manifest", "retrieve-export"):
        hwm = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
        peaks[name] = max(peaks.get(name, 0), round(hwm, 1))
print(json.dumps(peaks))
PY
}

# run_e2e SIZE: seeds SIZE catalog items, times the raw read and the export; prints one JSON line.
run_e2e() {
    local n="$1"
    local seed account raw started export_id status elapsed
    seed="$($CLI seed --attachments "$n" --sizes small --no-objects --users 50 --rooms 10 --json)"
    account="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["accountId"])' <<<"$seed")"
    expected="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["expectedInExport"])' <<<"$seed")"
    raw="$(target/release/bench raw-read "$account")"
    started=$(date +%s.%N)
    # --no-objects seeds the catalog only: the objects are not HEADed (the row checks' cost is
    # measured apart, by checks_ratio).
    export_id="$($CLI start --account-id "$account" --no-verify-objects --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["exportId"])')"
    while :; do
        status="$($CLI status --account-id "$account" --export-id "$export_id" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d.get("result", {}).get("attachmentCount", ""))')"
        case "$status" in SUCCEEDED*|FAILED*) break ;; esac
        sleep 0.2
    done
    elapsed="$(python3 -c "import sys; print(round($(date +%s.%N) - $started, 3))")"
    [[ "$status" == "SUCCEEDED $expected" ]] || { echo "export ended $status, expected SUCCEEDED $expected" >&2; exit 1; }
    python3 -c 'import json,sys; raw=json.loads(sys.argv[2]); print(json.dumps({"n": int(sys.argv[1]), "in_scope": int(sys.argv[4]), "raw_read_s": round(raw["raw_read_s"], 3), "export_s": float(sys.argv[3])}))' \
        "$n" "$raw" "$elapsed" "$expected"
}

# export_seconds ACCOUNT [START FLAGS...]: POST → delivered, in seconds; prints "SECONDS STATUS COUNT".
export_seconds() {
    local account="$1" started export_id status
    shift
    started=$(date +%s.%N)
    export_id="$($CLI start --account-id "$account" "$@" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["exportId"])')"
    while :; do
        status="$($CLI status --account-id "$account" --export-id "$export_id" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d.get("result", {}).get("attachmentCount", ""))')"
        case "$status" in SUCCEEDED*|FAILED*) break ;; esac
        sleep 0.2
    done
    echo "$(python3 -c "import sys; print(round($(date +%s.%N) - $started, 3))") $status"
}

# The row checks' overhead (issue 17): the same account, with its objects uploaded, exported
# without the HEAD of each object, then with it, in the same run. The 7-day window between the two
# requests is given back by deleting the account's THROTTLE item (a local-stack shortcut).
checks_ratio() {
    local m="$1" seed account expected off on
    seed="$($CLI seed --attachments "$m" --sizes small --users 50 --rooms 10 --json)"
    account="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["accountId"])' <<<"$seed")"
    expected="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["expectedInExport"])' <<<"$seed")"
    off="$(export_seconds "$account" --no-verify-objects)"
    aws dynamodb delete-item --table-name "$EXPORTS_TABLE" \
        --key "{\"accountId\": {\"S\": \"$account\"}, \"sk\": {\"S\": \"THROTTLE\"}}" >/dev/null
    on="$(export_seconds "$account")"
    for run in "$off" "$on"; do
        [[ "${run#* }" == "SUCCEEDED $expected" ]] || { echo "export ended ${run#* }, expected SUCCEEDED $expected" >&2; exit 1; }
    done
    python3 -c 'import json,sys; off, on = float(sys.argv[3]), float(sys.argv[4]); print(json.dumps({"n": int(sys.argv[1]), "in_scope": int(sys.argv[2]), "without_checks_s": off, "with_checks_s": on, "ratio": round(on / off, 2)}))' \
        "$m" "$expected" "${off%% *}" "${on%% *}"
}

say "end to end at N/10 = $((N / 10))"
small="$(run_e2e $((N / 10)))"
echo "$small"
say "end to end at N = $N"
large="$(run_e2e "$N")"
echo "$large"
rss="$(peak_rss)"

# After the end-to-end runs, so every function is warm (a first invocation under cargo lambda watch
# starts its process, which would be charged to whichever export came first).
CHECKS_N="${CHECKS_N:-$((N / 10 < 20000 ? N / 10 : 20000))}"
say "row checks: the same $CHECKS_N attachments (objects uploaded) exported without and with the HEAD of each object"
checks="$(checks_ratio "$CHECKS_N")"
echo "$checks"

mkdir -p bench/results
profile=debug
grep -q -- '--release' "/proc/$(cat .local/pids/lambda-watch.pid)/cmdline" 2>/dev/null && profile=release
python3 - "$out" "$cpu_json" "$small" "$large" "$rss" "$cold" "$checks" "$scale_json" "make bench N=$N" "$profile" <<'PY'
import json, platform, sys, os
out, cpu, small, large, rss, cold, checks, scale, command, profile = sys.argv[1], *map(json.loads, sys.argv[2:9]), sys.argv[9], sys.argv[10]
info = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), platform.processor())
flags = next((l for l in info.splitlines() if l.startswith("flags")), "")
mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
machine = f"{model}, {os.cpu_count()} cores, {mem_gib} GiB, SHA extensions: {'yes' if ' sha_ni' in flags else 'no'}, {platform.system()} {platform.release()}"
e2e = dict(large, peak_rss_mb=rss, ratio_export_vs_raw_read=round(large["export_s"] / large["raw_read_s"], 2),
           growth_from_n_over_10=round(large["export_s"] / small["export_s"], 2), small=small,
           note=f"functions run as {profile} builds under cargo lambda watch; Step Functions is moto's interpreter")
result = dict(cpu, e2e=e2e, row_checks=checks, cold_start=cold, scale=scale, machine=machine, command=command)
json.dump(result, open(out + ".json", "w"), indent=2)
l = cpu["links"]
m = cpu["manifest"]
md = f"""| measurement | result | target |
| --- | --- | --- |
| link maker ({l['bytes']}-byte links) | {l['per_sec']:,.0f} links/s | |
| aws-sdk-s3 presigner (what a function would call per file instead) | {cpu['sdk_presigner_per_sec']:,.0f} URLs/s | |
| link maker ÷ SDK presigner | **{l['vs_sdk']:.1f}×** | ≥ 30× |
| link floor (one HMAC over 61 bytes) ÷ link maker (best of 5 alternating rounds each) | **{l['floor_vs_ours']:.2f}×** | ≤ 1.25× |
| a link's id decode: ours ÷ uuid crate's parse_str | {l['uuid_decode']['ours_ns']:.1f} ns ÷ {l['uuid_decode']['uuid_crate_ns']:.1f} ns | < 1 |
| a link's base64url: encode_slice + push ÷ encode_string | {l['base64']['encode_slice_then_push_ns']:.1f} ns ÷ {l['base64']['encode_string_ns']:.1f} ns | < 1 |
| allocations per link (steady state) | **{l['allocs_per_link']:g}** | 0 |
| manifest CSV incl. links, one core | {m['csv']['lines_per_sec']:,.0f} lines/s, {m['csv']['mb_per_sec']} MB/s | |
| manifest JSONL incl. links, one core | {m['jsonl']['lines_per_sec']:,.0f} lines/s, {m['jsonl']['mb_per_sec']} MB/s | |
| raw read of {large['n']:,} catalog items (the export's 32 slices of time, 8 Queries at once) | {large['raw_read_s']} s | |
| export of the same account ({large['in_scope']:,} in scope), POST → SUCCEEDED | {large['export_s']} s | |
| export ÷ raw read | **{e2e['ratio_export_vs_raw_read']}×** | ≤ 1.1× |
| row checks: export with ÷ without the HEAD of each object ({checks['in_scope']:,} in scope, same account) | **{checks['ratio']}×** ({checks['without_checks_s']} s → {checks['with_checks_s']} s) | |
| export time growth N/10 → N | {e2e['growth_from_n_over_10']}× ({small['export_s']} s → {large['export_s']} s) | ≤ 11× |
| peak RSS per function (MiB) | {', '.join(f'{k} {v}' for k, v in sorted(rss.items()))} | flat in N |
| cold start, release build (median of 10) | {', '.join(f'{k} {v} ms' for k, v in cold['cold_start_ms'].items())} | < 100 ms |
| release binary size (x86_64 here) | {', '.join(f"{k} {v / 2**20:.1f} MiB" for k, v in cold['binary_bytes'].items())} | small |

Machine: {machine}. Command: `{command}`. Local functions are {profile} builds under `cargo lambda watch`; Step Functions is moto's interpreter.
"""
open(out + ".md", "w").write(md)
print(md)
PY
say "results: $out.json and $out.md"
