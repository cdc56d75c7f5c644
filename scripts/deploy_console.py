#!/usr/bin/env python3
"""Uploads the built console (console/dist) and its config.json to a deployed stack.

`make deploy` runs it after `sam deploy`; run it alone after changing only the console:
    scripts/deploy_console.py --stack-name NAME [--region REGION]
The configuration comes from the stack's outputs, so the console's code is the same everywhere and
only config.json differs (the local stack serves its own: infra/local/servers/console_server.py).

`--outputs-json FILE --print-config` prints the config.json a stack's outputs give, without AWS
(tests/tests/console_deploy.rs checks it against what the console reads).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "console" / "dist"

# connect_sources and pin_connect_src are shared with the local console server
# (infra/local/servers/console_server.py), which pins index.html the same way: they live in
# infra/shared/console_csp.py, the folder of Python both the deploy scripts and the local stack
# import (see its docstring). Still importable from here: deploy_console.pin_connect_src.
sys.path.insert(0, str(ROOT / "infra" / "shared"))
from console_csp import connect_sources, pin_connect_src  # noqa: E402,F401

# Output key -> config.json key. Nothing else is in config.json: no secret, no key, no URL with a
# signature; every value is an identifier a signed-in browser learns anyway.
OUTPUTS = {
    "ApiUrl": "apiUrl",
    "ConsoleUserPoolId": "userPoolId",
    "ConsoleUserPoolClientId": "userPoolClientId",
    "ConsoleIdentityPoolId": "identityPoolId",
    # My attachments (chat users signed in by the chat service).
    "ChatUserIdentityPoolId": "chatUserIdentityPoolId",
}
ROLE_OUTPUTS = {"ConsoleStartRoleArn": "StartDataExport", "ConsoleRetrieveRoleArn": "RetrieveDataExport",
                "ConsoleRevokeRoleArn": "RevokeDataExport"}


def config_from_outputs(outputs: dict[str, str], region: str) -> dict:
    missing = [k for k in [*OUTPUTS, *ROLE_OUTPUTS] if not outputs.get(k)]
    if missing:
        raise SystemExit(f"deploy_console: the stack has no output {', '.join(missing)}: deploy the current template.yaml first")
    config = {"region": region}
    config.update({key: outputs[output] for output, key in OUTPUTS.items()})
    config["roles"] = {group: outputs[output] for output, group in ROLE_OUTPUTS.items()}
    return config


def upload(stack_name: str, region: str | None) -> None:
    import boto3  # only for a real deploy

    session = boto3.Session(region_name=region)
    region = session.region_name
    if not region:
        raise SystemExit("deploy_console: no region: pass --region or set AWS_REGION")
    stack = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    config = config_from_outputs(outputs, region)
    if not (DIST / "index.html").is_file():
        raise SystemExit("deploy_console: console/dist is not built: run `make console` first")
    # Before any upload: an API URL that cannot be pinned stops the deploy with nothing changed.
    index = pin_connect_src((DIST / "index.html").read_text(encoding="utf-8"), config).encode("utf-8")
    s3 = session.client("s3")
    bucket = outputs["ConsoleBucketName"]
    files = [p for p in sorted(DIST.rglob("*")) if p.is_file() and p.name != "config.json"]
    for path in files:
        key = path.relative_to(DIST).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = index if key == "index.html" else path.read_bytes()
        # no-cache: browsers and CloudFront revalidate, so a new release is seen at once.
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, CacheControl="no-cache")
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps(config, indent=2).encode(),
                  ContentType="application/json", CacheControl="no-cache")
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"console-{time.time_ns()}"},
    )
    print(f"deploy_console: {len(files)} files and config.json uploaded; the console is at {outputs['ConsoleUrl']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name")
    parser.add_argument("--region")
    parser.add_argument("--outputs-json", type=Path, help="a stack's outputs as {key: value} (no AWS call)")
    parser.add_argument("--print-config", action="store_true")
    parser.add_argument("--print-index", action="store_true", help="print index.html as it would be uploaded")
    args = parser.parse_args()
    if args.outputs_json:
        config = config_from_outputs(json.loads(args.outputs_json.read_text()), args.region or "us-east-1")
        if args.print_index:
            sys.stdout.write(pin_connect_src((ROOT / "console/static/index.html").read_text(), config))
            return
        json.dump(config, sys.stdout, indent=2)
        print()
        return
    if not args.stack_name:
        parser.error("--stack-name is required")
    upload(args.stack_name, args.region)


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        raise SystemExit(str(error)) from None
