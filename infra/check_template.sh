#!/usr/bin/env bash
# Checks the deployable template offline, with the pinned tools of .local/venv (infra/local/install.sh):
#   1. cfn-lint template.yaml (SAM resources against SAM's schemas, everything else against
#      CloudFormation's);
#   2. sam validate: the SAM transform itself, as CloudFormation will run it (cfn-lint 1.x no
#      longer runs it, so `--lint` alone misses transform errors);
#   3. sam validate --lint;
#   4. the OpenAPI document against the OpenAPI 3.0 schema;
#   5. cfn-lint on the transformed template with the OpenAPI document inlined, so the generated
#      functions, API stage and state machine are checked as plain CloudFormation too;
#   6. AWS's serverless rules for cfn-lint (cfn-lint-serverless: tracing, log retention, access logs,
#      dead-letter targets...) on template.yaml;
#   7. checkov (framework cloudformation, SAM resources included) on template.yaml.
# 6 and 7 run from their own venv (.local/scanners, infra/local/requirements-scanners.lock), print
# their counts and fail on any finding. A finding that is not fixed is suppressed in template.yaml
# itself, on the resource, with its reason (Metadata checkov.skip / cfn-lint ignore_checks), and
# listed in docs/DEPLOY.md ("Scanners").
# No AWS account is needed: the region is given, the credentials are dummies, and nothing is sent.
# VENV=/path/to/venv runs the same checks with another venv; SCANNERS=/path/to/venv for 6 and 7.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.local/venv}"
SCANNERS="${SCANNERS:-$ROOT/.local/scanners}"
cd "$ROOT"

for tool in cfn-lint sam openapi-spec-validator python; do
    [[ -x "$VENV/bin/$tool" ]] || { echo "check_template: $VENV/bin/$tool missing; run infra/local/install.sh" >&2; exit 1; }
done
for tool in cfn-lint checkov python; do
    [[ -x "$SCANNERS/bin/$tool" ]] || { echo "check_template: $SCANNERS/bin/$tool missing; run infra/local/install.sh" >&2; exit 1; }
done

# Offline and anonymous: dummy keys, no profile, no telemetry; SAM writes its settings into a
# throwaway home instead of ~/.aws-sam.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=AKIAOFFLINECHECK0000 AWS_SECRET_ACCESS_KEY=offline-check
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0
# checkov: no download of guidelines or of the platform's id mapping (offline, deterministic).
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch"

echo "1/7 cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'): template.yaml"
"$VENV/bin/cfn-lint" --regions us-east-1 -- template.yaml

echo "2/7 sam validate ($("$VENV/bin/sam" --version)): the SAM transform"
# (Without network SAM says its feature toggles are unavailable: that line is noise.)
if ! out="$("$VENV/bin/sam" validate --region us-east-1 --template-file template.yaml 2>&1)"; then
    echo "$out" >&2
    exit 1
fi
grep -v "not available in Feature Toggle Config" <<<"$out" || true

echo "3/7 sam validate --lint"
"$VENV/bin/sam" validate --lint --region us-east-1 --template-file template.yaml

echo "4/7 openapi-spec-validator: infra/api/openapi.yaml"
"$VENV/bin/openapi-spec-validator" infra/api/openapi.yaml

echo "5/7 cfn-lint: the transformed template, OpenAPI inlined"
"$VENV/bin/python" - "$scratch/transformed.json" <<'PY'
import json
import logging
import sys

import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


# Offline, SAM's feature toggles are unavailable and it says so; that is not a finding.
logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)


class NoManagedPolicies:
    def load(self):
        return {}


template = yaml_parse(open("template.yaml").read())
# What `sam package` and CloudFormation do before the SAM transform: local artifacts become S3
# locations, and AWS::Include inlines the OpenAPI document.
template["Globals"]["Function"]["CodeUri"] = "s3://artifact-bucket/functions.zip"
template["Resources"]["ExportStateMachine"]["Properties"]["DefinitionUri"] = "s3://artifact-bucket/export.asl.json"
api = template["Resources"]["ExportApi"]["Properties"]
location = api["DefinitionBody"]["Fn::Transform"]["Parameters"]["Location"]
api["DefinitionBody"] = yaml.safe_load(open(location))
out = transform(template, {}, NoManagedPolicies())
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
print(f"  {len(out['Resources'])} CloudFormation resources")

# cfn-lint does not check IAM action names; a misspelt action (or one IAM does not have, such as
# dynamodb:TransactWriteItems) fails silently at run time. Check each against cfn-lint's IAM data.
import fnmatch
from importlib.resources import files

known = json.loads(files("cfnlint").joinpath("data/AdditionalSpecs/Policies.json").read_text())


def statements(node):
    if isinstance(node, dict):
        if "Statement" in node and isinstance(node["Statement"], list):
            yield from (s for s in node["Statement"] if isinstance(s, dict))
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


unknown = []
checked = 0
for logical_id, resource in out["Resources"].items():
    for statement in statements(resource.get("Properties", {})):
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if not isinstance(action, str) or action == "*":
                continue
            prefix, _, name = action.lower().partition(":")
            service = known.get(prefix, {}).get("Actions", {})
            checked += 1
            if not fnmatch.filter(service, name):
                unknown.append(f"{logical_id}: {action}")
if unknown:
    sys.exit("  IAM actions that do not exist:\n    " + "\n    ".join(unknown))
print(f"  {checked} IAM actions, all known to IAM")
PY
"$VENV/bin/cfn-lint" --regions us-east-1 -- "$scratch/transformed.json"

echo "6/7 cfn-lint-serverless $("$SCANNERS/bin/python" -c 'from importlib.metadata import version; print(version("cfn-lint-serverless"))') (cfn-lint $("$SCANNERS/bin/cfn-lint" --version | awk '{print $2}')): template.yaml"
status=0
"$SCANNERS/bin/cfn-lint" --format parseable --append-rules cfn_lint_serverless.rules --regions us-east-1 \
    -- template.yaml > "$scratch/serverless.txt" || status=$?
findings=$(grep -c . "$scratch/serverless.txt" || true)
suppressed=$(grep -cE '^ +- (WS|ES)[0-9]{4}\b' template.yaml || true)
echo "  findings: $findings; suppressed in template.yaml (Metadata cfn-lint ignore_checks): $suppressed"
if [[ $findings != 0 || $status != 0 ]]; then
    cat "$scratch/serverless.txt" >&2
    echo "check_template: cfn-lint-serverless found $findings problem(s) (exit $status)" >&2
    exit 1
fi

echo "7/7 checkov $("$SCANNERS/bin/checkov" --version) (framework cloudformation): template.yaml"
status=0
"$SCANNERS/bin/checkov" --file template.yaml --framework cloudformation --skip-download --output json \
    > "$scratch/checkov.json" 2> "$scratch/checkov.err" || status=$?
"$SCANNERS/bin/python" - "$scratch/checkov.json" "$status" <<'PY' || { cat "$scratch/checkov.err" >&2; exit 1; }
import json
import sys

with open(sys.argv[1]) as f:
    reports = json.load(f)
reports = reports if isinstance(reports, list) else [reports]
summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
failed = []
for report in reports:
    for key in summary:
        summary[key] += report.get("summary", {}).get(key, 0)
    failed += report.get("results", {}).get("failed_checks", [])
print(f"  passed: {summary['passed']}; failed: {summary['failed']}; parsing errors: {summary['parsing_errors']}; "
      f"suppressed in template.yaml (Metadata checkov.skip): {summary['skipped']}")
for check in failed:
    lines = check.get("file_line_range") or ["?", "?"]
    print(f"  {check['check_id']} {check['resource']} (template.yaml:{lines[0]}-{lines[1]}): {check['check_name']}",
          file=sys.stderr)
if summary["failed"] or summary["parsing_errors"] or summary["passed"] == 0 or sys.argv[2] != "0":
    sys.exit(f"check_template: checkov found {summary['failed']} problem(s), {summary['parsing_errors']} parsing "
             f"error(s), {summary['passed']} passed checks (exit {sys.argv[2]})")
PY
echo "check_template: template.yaml and infra/api/openapi.yaml are clean"
