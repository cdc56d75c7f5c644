#!/usr/bin/env bash
# Builds the seven functions for Lambda (arm64, cargo-lambda) and deploys the stack with SAM
# (docs/DEPLOY.md). With no arguments the deploy is guided: SAM asks for the stack name, region and
# parameters, and offers to save the answers in samconfig.toml. Arguments are passed to
# `sam deploy` instead of --guided, e.g. `scripts/deploy.sh --config-env prod`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() { printf 'deploy: %s\n' "$*" >&2; exit 1; }

# The pinned tools live in .local/venv (infra/local/install.sh): sam, cargo-lambda and zig, which
# cargo-lambda uses to link for arm64. A sam on PATH works too.
if [[ -d .local/venv/bin ]]; then
    export PATH="$ROOT/.local/venv/bin:$PATH"
fi
command -v sam >/dev/null 2>&1 || die "the AWS SAM CLI is missing. Run 'make setup' (infra/local/install.sh), which installs the pinned aws-sam-cli into .local/venv, or install SAM yourself."
command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust (stable) first."
cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda is missing. Run 'make setup' (infra/local/install.sh)."
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "deploy: adding the Rust target aarch64-unknown-linux-gnu (Lambda runs the functions on arm64)"
    rustup target add aarch64-unknown-linux-gnu
fi

# A shell that sourced .local/stack.env points every SDK at the local stack: deploying there would
# fail in confusing ways, and its keys are not AWS keys.
for var in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do unset "$var"; done
if [[ "${AWS_ACCESS_KEY_ID:-}" == AKIALOCAL* ]]; then
    die "AWS_ACCESS_KEY_ID is the local stack's key (from .local/stack.env). Open a fresh shell, or unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY, and use your AWS credentials."
fi

# Credentials: ask STS who we are, with whatever the SDK's default chain finds (environment,
# AWS_PROFILE, SSO, instance role).
python="$(command -v python3 || true)"
[[ -x .local/venv/bin/python ]] && python=.local/venv/bin/python
# (STS answers in any region; the fallback only matters when no region is configured yet.)
if [[ -n "$python" ]] && "$python" -c 'import boto3' 2>/dev/null; then
    identity="$("$python" -c '
import boto3
session = boto3.Session()
print(session.client("sts", region_name=session.region_name or "us-east-1").get_caller_identity()["Arn"])
' 2>/dev/null)" || identity=""
elif command -v aws >/dev/null 2>&1; then
    identity="$(aws sts get-caller-identity --region "${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}" \
        --query Arn --output text 2>/dev/null)" || identity=""
else
    identity="(not checked: neither the AWS CLI nor boto3 is available)"
fi
[[ -n "$identity" ]] || die "no usable AWS credentials. Configure them first, e.g. 'aws configure', 'aws sso login --profile NAME' and 'export AWS_PROFILE=NAME', or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. The deploying principal needs CloudFormation, IAM, Lambda, API Gateway, Step Functions, DynamoDB, S3, KMS, Secrets Manager, EventBridge, CloudWatch and Logs permissions."
echo "deploy: deploying as $identity"

echo "deploy: sam build (cargo lambda build --release --arm64, one function at a time; LTO makes this slow)"
sam build --template-file template.yaml

# The console is built before anything is deployed, so a broken build deploys nothing.
echo "deploy: building the console (console/build.sh)"
console/build.sh

# The template names IAM resources (managed policies), so it needs CAPABILITY_NAMED_IAM.
if [[ $# -eq 0 ]]; then
    sam deploy --guided --capabilities CAPABILITY_NAMED_IAM
else
    sam deploy --capabilities CAPABILITY_NAMED_IAM "$@"
fi

# The console's files and its config.json (from the stack's outputs) into the console bucket.
# The stack name and region: STACK_NAME / AWS_REGION, else what `sam deploy --guided` saved.
toml_value() { sed -n "s/^$1 *= *\"\(.*\)\"/\1/p" samconfig.toml 2>/dev/null | head -1; }
stack_name="${STACK_NAME:-$(toml_value stack_name)}"
region="${AWS_REGION:-$(toml_value region)}"
[[ -n "$stack_name" ]] || die "the stack is deployed, but its name is unknown here: run STACK_NAME=<name> scripts/deploy_console.py --stack-name <name> to upload the console."
echo "deploy: uploading the console to stack $stack_name"
"$python" scripts/deploy_console.py --stack-name "$stack_name" ${region:+--region "$region"}
