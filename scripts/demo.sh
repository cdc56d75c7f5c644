#!/usr/bin/env bash
# `make demo`: the product's main job, end to end on the local stack, as an administrator would do
# it: seed an Enterprise account, request an export through the API, follow it, fetch the manifest
# through RetrieveDataExport, download and verify every file, and see that a second request is
# refused for 7 days; a Team member, once removed from the Team, gets their own files through the
# Assistant (the demo plays the chat service). Then the console: a second Enterprise account, whose 7-day window stays open,
# with its console users, and a headless browser that downloads the walkthrough's manifest in the
# console. Stops the stack at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

ATTACHMENTS="${ATTACHMENTS:-300}"
OUT="${OUT:-.local/demo}"
# Bold headings on a terminal; plain text in logs and pipes, or when NO_COLOR is set (no-color.org).
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    say() { printf '\n%s\n' "$*"; }
fi
# field NAME < JSON: one top-level field of a JSON object (python3 is a prerequisite; jq is not).
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

started_stack=0
if [[ -f .local/stack.env ]] && infra/local/up.sh --check >/dev/null 2>&1; then
    say "Using the local stack that is already running"
else
    say "Starting the local AWS stack (first run installs the pinned tools)"
    infra/local/up.sh | sed -n '/local stack up/,$p'
    started_stack=1
fi
finish() {
    if [[ "${KEEP:-0}" == 1 || $started_stack == 0 ]]; then
        say "The stack is still running (make down stops it; source .local/stack.env to use it)"
    else
        say "Stopping the local stack (KEEP=1 make demo leaves it running)"
        infra/local/down.sh
    fi
}
trap finish EXIT
set -a
# shellcheck source=/dev/null
source .local/stack.env
set +a

say "Building the attachment-export command"
cargo build --quiet --bin attachment-export
CLI=target/debug/attachment-export
demo_started=$SECONDS

say "1. Seeding an Enterprise account with $ATTACHMENTS attachments (and a Team account)"
seed_json="$($CLI seed --attachments "$ATTACHMENTS" --sizes small --json)"
account="$(field accountId <<<"$seed_json")"
team="$(field teamAccountId <<<"$seed_json")"
expected="$(field expectedInExport <<<"$seed_json")"
echo "   account $account: $(field users <<<"$seed_json") users ($(field managedUsers <<<"$seed_json") managed), $(field rooms <<<"$seed_json") rooms, $(field attachments <<<"$seed_json") attachments ($(field deleted <<<"$seed_json") deleted)"
echo "   the scope rule says an export must list $expected of them"

say "2. A Team account is refused, with guidance"
$CLI start --account-id "$team" 2>&1 | sed 's/^/   /' || true

say "3. Requesting the export (POST /accounts/$account/data-exports)"
start_json="$($CLI start --account-id "$account" --client-token demo-1 --json)"
export_id="$(field exportId <<<"$start_json")"
echo "   export $export_id accepted; snapshot at $(field cutoff <<<"$start_json")"

say "4. Waiting for it (GET /accounts/$account/data-exports/$export_id)"
$CLI status --account-id "$account" --export-id "$export_id" --wait | sed 's/^/   /'

say "5. Fetching the manifest through RetrieveDataExport"
mkdir -p "$OUT"
$CLI manifest --account-id "$account" --export-id "$export_id" --out "$OUT/manifest.csv" | sed 's/^/   /'
listed=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))))' "$OUT/manifest.csv") - 1))
echo "   the manifest lists $listed attachments (expected $expected)"
[[ "$listed" == "$expected" ]] || { echo "   MISMATCH: the manifest does not hold exactly the in-scope set" >&2; exit 1; }

say "6. Downloading and verifying every file (SHA-256 against the manifest)"
rm -rf "$OUT/files"
$CLI download "$OUT/manifest.csv" --out "$OUT/files" | sed 's/^/   /'
echo "   and the whole export against its signed, chained statement (attachment-export verify):"
$CLI verify "$OUT/manifest.csv" --key-id "$STATEMENT_KEY_ID" --files "$OUT/files" | sed 's/^/   /'

say "7. A second request inside the 7-day window is refused"
$CLI start --account-id "$account" 2>&1 | sed 's/^/   /' && { echo "   expected a refusal" >&2; exit 1; } || true

say "8. A Team member gets their own attachments through the Assistant, once removed from the Team"
member="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["selfService"]["teamMemberId"])' <<<"$seed_json")"
member_expected="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["selfService"]["teamMemberExpectedInExport"])' <<<"$seed_json")"
# assistant TEXT: the chat service delivering the member's 1:1 message (its role's key locally:
# AKIALOCALCHATSVC0001, which may invoke the Assistant and nothing else); prints the reply.
assistant() {
    python3 -c 'import json,sys; print(json.dumps({"userId": sys.argv[1], "text": sys.argv[2]}))' "$member" "$1" \
        > "$OUT/assistant-message.json"
    AWS_ACCESS_KEY_ID=AKIALOCALCHATSVC0001 aws lambda invoke --function-name assistant \
        --payload "fileb://$OUT/assistant-message.json" "$OUT/assistant-reply.json" >/dev/null
    field reply < "$OUT/assistant-reply.json"
}
mkdir -p "$OUT"
echo "   user $member writes \"Get my attachments\"; the Assistant answers:"
assistant "Get my attachments" | sed 's/^/     /'
echo "   the Team's administrator removes them from the Team (the chat service deletes their USER# item)"
aws dynamodb delete-item --table-name "$ACCOUNTS_TABLE" \
    --key "{\"pk\": {\"S\": \"ACCOUNT#$team\"}, \"sk\": {\"S\": \"USER#$member\"}}"
echo "   \"Get my attachments\" again:"
reply="$(assistant "Get my attachments")"
sed 's/^/     /' <<<"$reply"
code="$(sed -n 's/.*Get my attachments \([a-z]\{6\}\).*/\1/p' <<<"$reply" | head -1)"
[[ -n "$code" ]] || { echo "   no confirmation code in the reply" >&2; exit 1; }
# The chat service's subscription to the Assistant's replies: an SQS queue behind a rule on the
# stack's reply bus (moto serves both), made before the export can end.
replies_queue="$(aws sqs create-queue --endpoint-url "$AWS_ENDPOINT_URL_EVENTS" --queue-name "demo-replies-$member" \
    --query QueueUrl --output text)"
aws events put-rule --event-bus-name "$ASSISTANT_REPLY_BUS" --name "demo-replies-${member:0:8}" \
    --event-pattern "{\"source\": [\"attachment-export\"], \"detail\": {\"userId\": [\"$member\"]}}" >/dev/null
aws events put-targets --event-bus-name "$ASSISTANT_REPLY_BUS" --rule "demo-replies-${member:0:8}" \
    --targets "Id=q,Arn=arn:aws:sqs:$AWS_REGION:000000000000:demo-replies-$member" >/dev/null
echo "   they send the command back:"
assistant "Get my attachments $code" | sed 's/^/     /'
member_export="$($CLI list --user-id "$member" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["exports"][0]["exportId"])')"
$CLI status --user-id "$member" --export-id "$member_export" --wait | sed 's/^/   /'
# The Assistant's reply, as the chat service receives it (the link shown without its token).
for _ in $(seq 20); do
    aws sqs receive-message --endpoint-url "$AWS_ENDPOINT_URL_EVENTS" --queue-url "$replies_queue" \
        --wait-time-seconds 1 --query 'Messages[0].Body' --output text > "$OUT/assistant-reply-event.json"
    grep -q '"Assistant Reply"' "$OUT/assistant-reply-event.json" && break
done
grep -q '"Assistant Reply"' "$OUT/assistant-reply-event.json" || { echo "   no Assistant Reply event" >&2; exit 1; }
echo "   when the export ends, the Assistant's reply (an \"Assistant Reply\" event on $ASSISTANT_REPLY_BUS):"
python3 -c 'import json,sys,re; print(re.sub(r"/m/[A-Za-z0-9_-]+", "/m/<token>", json.load(open(sys.argv[1]))["detail"]["reply"]))' \
    "$OUT/assistant-reply-event.json" | sed 's/^/     /'
reply_link="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["detail"]["link"])' "$OUT/assistant-reply-event.json")"
curl -sfL "$reply_link" -o "$OUT/member-manifest-from-reply.csv"
$CLI manifest --user-id "$member" --export-id "$member_export" --out "$OUT/member-manifest.csv" | sed 's/^/   /'
cmp -s "$OUT/member-manifest.csv" "$OUT/member-manifest-from-reply.csv" \
    || { echo "   the reply's link did not give the export's manifest" >&2; exit 1; }
echo "   the reply's link gives that same manifest (a counted hand-out in the export's history)"
member_listed=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))))' "$OUT/member-manifest.csv") - 1))
echo "   their manifest lists $member_listed attachments (expected $member_expected), each saying why it is theirs"
[[ "$member_listed" == "$member_expected" ]] || { echo "   MISMATCH: not exactly the user's files" >&2; exit 1; }
rm -rf "$OUT/member-files"
$CLI download "$OUT/member-manifest.csv" --out "$OUT/member-files" | grep 'files downloaded' | sed 's/^/   /'
$CLI verify "$OUT/member-manifest.csv" --key-id "$STATEMENT_KEY_ID" --files "$OUT/member-files" | tail -1 | sed 's/^/   /'

say "9. Seeding the console's account: another Enterprise account, whose 7-day window stays open"
console_json="$($CLI seed --attachments "$ATTACHMENTS" --sizes small --json)"
console_account="$(field accountId <<<"$console_json")"
echo "   account $console_account: $(field attachments <<<"$console_json") attachments, no export yet"
echo "   console users (the local Cognito user pool) in $OUT/console-users.json:"
# An administrator and a retrieve-only user of the console's account, and an administrator of the
# walkthrough's account (another account's administrator, who can download its export). Replaced
# on every run: their accounts are new each time.
users=()
while read -r username account_id groups; do
    users+=("$(.local/venv/bin/python infra/local/tools/console_users.py create --replace \
        --username "$username" --account-id "$account_id" --groups "$groups")")
done <<USERS
demo-admin $console_account StartDataExport,RetrieveDataExport
demo-auditor $console_account RetrieveDataExport
other-admin $account StartDataExport,RetrieveDataExport
USERS
(umask 077; printf '%s\n' "${users[@]}" | python3 -c 'import json,sys; json.dump([json.loads(l) for l in sys.stdin], sys.stdout, indent=2)' \
    > "$OUT/console-users.json")
chmod 600 "$OUT/console-users.json"
for user in "${users[@]}"; do
    python3 -c 'import json,sys; u=json.loads(sys.argv[1]); print("   %s: account %s, groups %s" % (u["username"], u["accountId"], ",".join(u["groups"])))' "$user"
done

say "10. The console, in a headless browser"
# console/tests/demo.spec.ts (tagged @demo): other-admin downloads the manifest of step 5 with
# Download file; demo-admin is offered Request attachments, not confirmed. Playwright's output is
# shown only on failure.
manifest_sha256="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$OUT/manifest.csv")"
log="$OUT/console-check.log"
(umask 077; rm -f "$log"; : >"$log")  # a failure's messages may quote a password
browser_started=$SECONDS
if ! DEMO_EXPORT_USERNAME="$(field username <<<"${users[2]}")" DEMO_EXPORT_PASSWORD="$(field password <<<"${users[2]}")" \
    DEMO_EXPORT_ACCOUNT_ID="$account" DEMO_EXPORT_ID="$export_id" DEMO_MANIFEST_SHA256="$manifest_sha256" \
    DEMO_CONSOLE_USERNAME="$(field username <<<"${users[0]}")" DEMO_CONSOLE_PASSWORD="$(field password <<<"${users[0]}")" \
    DEMO_CONSOLE_ACCOUNT_ID="$console_account" \
    console/run-tests.sh --grep @demo --reporter=line >"$log" 2>&1; then
    sed 's/^/   /' "$log" >&2
    echo "   the console check failed (above; traces in console/test-results)" >&2
    exit 1
fi
echo "   other-admin opened the export's page, $CONSOLE_URL/#/accounts/$account/exports/$export_id,"
echo "     and chose Download file: the saved manifest's SHA-256 is $manifest_sha256, the one step 5 verified"
echo "   demo-admin's account page offers Account actions → Request attachments, enabled (left unconfirmed)"
echo "   (Chromium, $((SECONDS - browser_started))s with the console's build)"

say "Done in $((SECONDS - demo_started))s: $listed files in $OUT/files (originals' names in $OUT/files/index.csv)"

say "The console: $CONSOLE_URL"
echo "   sign in as $(field username <<<"${users[0]}") with the password $(field password <<<"${users[0]}")"
echo "   its account has no export yet: choose Account actions → Request attachments, then Download file"
echo "   (demo-auditor, who may only retrieve, and other-admin, of the walkthrough's account: $OUT/console-users.json)"
