"""Creates the local stack's tables, buckets, statement and link keys, event buses and state machine from the definitions the deployable
template uses: the tables of template.yaml (keys, GSIs) and the ASL of infra/statemachine. Nothing
here restates a table's shape, so the two cannot drift (tests/tests/template_drift.rs checks it).

Also the console's Cognito user pool, app client and groups, in moto (local_cognito.py).

Idempotent: existing tables and buckets are left alone; the state machine's definition is updated.
Reads endpoints and names from the environment written to .local/stack.env.
"""

import json
import os
import re
import sys
from pathlib import Path

import boto3

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/tools/provision.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import ROOT, local_cognito, local_template  # noqa: E402
from lib.local_template import load_template  # noqa: E402

ACCOUNT = "000000000000"
# Logical id in template.yaml -> the stack variable naming its local resource.
TABLE_VARIABLES = {"AccountsTable": "ACCOUNTS_TABLE", "AttachmentsTable": "ATTACHMENTS_TABLE", "ExportsTable": "EXPORTS_TABLE"}
BUCKET_VARIABLES = {"AttachmentBucket": "ATTACHMENT_BUCKET", "ExportBucket": "EXPORT_BUCKET"}
# Buckets of AWS-only features, with no local counterpart: the CloudTrail trail of direct
# invocations (parameter InvokeTrailEnabled) has nothing to deliver locally. The console's bucket
# (behind CloudFront in AWS) is console/dist/ locally, served by console_server.py.
NOT_LOCAL_BUCKETS = {"InvokeTrailBucket", "ConsoleBucket"}
# KMS keys the local stack creates in moto, by the stack variable naming the alias the functions
# use. The others encrypt S3 objects, secrets, logs and the invoke trail's log files on AWS, which
# the local servers do not.
KEY_VARIABLES = {"StatementKey": "STATEMENT_KEY_ID"}
# The link key (HMAC, docs/proposals/revocable-links.md): under its alias from the template, but the
# functions name it by its ARN (LINK_KEY_IDS, as the template passes !GetAtt LinkKey.Arn), which
# moto makes up; so it goes to .local/link-key.env, which up.sh appends to the functions' env.
LINK_KEYS = {"LinkKey": "LinkKeyAlias"}
LINK_KEY_ENV = ROOT / ".local/link-key.env"
NOT_LOCAL_KEYS = {"ExportKey", "SigningSecretKey", "LogsKey", "InvokeTrailKey"}
STATE_MACHINE_NAME = "ExportStateMachine"
# EventBridge buses of template.yaml -> the stack variable naming the local one.
BUS_VARIABLES = {"AssistantReplyBus": "ASSISTANT_REPLY_BUS"}


def template_resources(kind: str) -> dict:
    template = load_template(ROOT / "template.yaml")
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def provision_tables(region: str) -> None:
    ddb = boto3.client("dynamodb", region_name=region)
    existing = set(ddb.list_tables()["TableNames"])
    tables = template_resources("AWS::DynamoDB::Table")
    unknown = set(tables) - set(TABLE_VARIABLES)
    if unknown:
        sys.exit(f"provision: template.yaml has tables the local stack does not name: {sorted(unknown)}")
    for logical_id, resource in tables.items():
        name = os.environ[TABLE_VARIABLES[logical_id]]
        if name in existing:
            print(f"  table {name}: exists")
            continue
        props = resource["Properties"]
        request = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in props["GlobalSecondaryIndexes"]
            ]
        ddb.create_table(**request)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        print(f"  table {name}: created")


def provision_buckets(region: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for logical_id in template_resources("AWS::S3::Bucket"):
        if logical_id in NOT_LOCAL_BUCKETS:
            continue
        if logical_id not in BUCKET_VARIABLES:
            sys.exit(f"provision: template.yaml has a bucket the local stack does not name: {logical_id}")
        name = os.environ[BUCKET_VARIABLES[logical_id]]
        if name in existing:
            print(f"  bucket {name}: exists")
        else:
            s3.create_bucket(Bucket=name)
            print(f"  bucket {name}: created")


def provision_keys(region: str) -> None:
    """The template's asymmetric statement key, with its KeySpec and KeyUsage, in moto's KMS, under
    the alias STATEMENT_KEY_ID names (moto's key ids are random; an alias is stable)."""
    kms = boto3.client("kms", region_name=region)
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    if not set(LINK_KEYS) & set(template_resources("AWS::KMS::Key")):
        LINK_KEY_ENV.unlink(missing_ok=True)  # no link key: up.sh must not hand the functions a stale one
    for logical_id, resource in template_resources("AWS::KMS::Key").items():
        if logical_id in NOT_LOCAL_KEYS:
            continue
        if logical_id in LINK_KEYS:
            provision_link_key(kms, logical_id, resource["Properties"])
            continue
        if logical_id not in KEY_VARIABLES:
            sys.exit(f"provision: template.yaml has a KMS key the local stack does not name: {logical_id}")
        alias = os.environ[KEY_VARIABLES[logical_id]]
        if alias in aliases:
            print(f"  key {alias}: exists")
            continue
        props = resource["Properties"]
        key = kms.create_key(KeySpec=props["KeySpec"], KeyUsage=props["KeyUsage"], Description=props["Description"])
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"])
        print(f"  key {alias}: created ({props['KeySpec']}, {props['KeyUsage']})")


def provision_link_key(kms, logical_id: str, props: dict) -> None:
    """The HMAC link key with the template's KeySpec and KeyUsage under the template's alias
    (created once; an existing alias keeps its key), and its ARN in .local/link-key.env as
    LINK_KEY_IDS."""
    template = local_template.template()
    alias = template.resolve(template.resources[LINK_KEYS[logical_id]]["Properties"]["AliasName"])
    existing = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    if existing.get(alias):
        key_id = existing[alias]
        print(f"  key {alias}: exists")
    else:
        key_id = kms.create_key(KeySpec=props["KeySpec"], KeyUsage=props["KeyUsage"],
                                Description=props["Description"])["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        print(f"  key {alias}: created ({props['KeySpec']}, {props['KeyUsage']})")
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    LINK_KEY_ENV.write_text(f"export LINK_KEY_IDS={arn}\n")


def provision_buses(region: str) -> None:
    """The template's own EventBridge buses, in moto (the default bus is always there)."""
    events = boto3.client("events", region_name=region)
    buses = template_resources("AWS::Events::EventBus")
    unknown = set(buses) - set(BUS_VARIABLES)
    if unknown:
        sys.exit(f"provision: template.yaml has event buses the local stack does not name: {sorted(unknown)}")
    existing = {b["Name"] for b in events.list_event_buses()["EventBuses"]}
    for logical_id in buses:
        name = os.environ[BUS_VARIABLES[logical_id]]
        if name in existing:
            print(f"  event bus {name}: exists")
        else:
            events.create_event_bus(Name=name)
            print(f"  event bus {name}: created")


def crate_name(pascal: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", pascal).lower()


def state_machine_definition(region: str) -> str:
    asl = (ROOT / "infra/statemachine/export.asl.json").read_text()

    def substitute(match: re.Match) -> str:
        placeholder = match.group(1)
        if not placeholder.endswith("FunctionArn"):
            sys.exit(f"provision: unknown placeholder ${{{placeholder}}} in export.asl.json")
        crate = crate_name(placeholder[: -len("FunctionArn")])
        if not (ROOT / "functions" / crate / "Cargo.toml").exists():
            sys.exit(f"provision: ${{{placeholder}}} names no function crate ({crate})")
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{crate}"

    definition = re.sub(r"\$\{(\w+)\}", substitute, asl)
    json.loads(definition)  # fail here, not in moto, if the ASL is not JSON
    return definition


def provision_state_machine(region: str) -> str:
    sfn = boto3.client("stepfunctions", region_name=region)
    definition = state_machine_definition(region)
    role = f"arn:aws:iam::{ACCOUNT}:role/ExportStateMachineRole"
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == STATE_MACHINE_NAME:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
            print(f"  state machine {STATE_MACHINE_NAME}: updated")
            return machine["stateMachineArn"]
    arn = sfn.create_state_machine(name=STATE_MACHINE_NAME, definition=definition, roleArn=role)["stateMachineArn"]
    print(f"  state machine {STATE_MACHINE_NAME}: created")
    return arn


def main() -> None:
    if sys.argv[1:] == ["--print-definition"]:
        # The definition as deployed locally (placeholders substituted), for asl-validator.
        print(state_machine_definition(os.environ.get("AWS_REGION", "us-east-1")))
        return
    region = os.environ["AWS_REGION"]
    provision_tables(region)
    provision_buckets(region)
    provision_keys(region)
    provision_buses(region)
    arn = provision_state_machine(region)
    expected = os.environ.get("STATE_MACHINE_ARN")
    if expected and expected != arn:
        sys.exit(f"provision: state machine ARN {arn} differs from STATE_MACHINE_ARN {expected}")
    provision_console(region)


def provision_console(region: str) -> None:
    """The console's user pool, client and groups in moto (local_cognito.py); their ids go to
    .local/cognito.env, which up.sh appends to stack.env (they exist only once moto has them)."""
    out = ROOT / ".local/cognito.env"
    if not template_resources("AWS::Cognito::UserPool"):
        out.unlink(missing_ok=True)
        print("  console user pool: none in template.yaml")
        return
    variables = local_cognito.provision(region)
    out.write_text("".join(f"export {k}={v}\n" for k, v in variables.items()))


if __name__ == "__main__":
    main()
