#!/usr/bin/env python3
"""Fixtures for the console's browser tests, against the running local stack (.local/stack.env).

  put-export --account-id A --kind FAILED|EXPIRED   writes an export record into ExportsTable
  enable-totp --username U --password P             turns on TOTP MFA for a console user (moto)
  totp-code                                         the current code of moto's fixed TOTP secret
  require-mfa                                       sets the console's user pool to MfaConfiguration ON
                                                    (prints the MFA configuration it replaced)
  restore-mfa --config JSON                         puts back what require-mfa printed
  token-lifetime --minutes N                        sets the app client's ID and access tokens to N
                                                    minutes (prints the client settings it replaced)
  restore-client --config JSON                      puts back what token-lifetime printed
  disable-user --username U                         AdminDisableUser, as an operator does
  refresh --token T                                 REFRESH_TOKEN_AUTH with T: {"refreshed": true}
                                                    or {"refused": "<error code>"}
  call-as --username U --password P --group G --method M --path P
                                                    signs in as the console does (SRP), takes the
                                                    identity pool's credentials of group G's role
                                                    (CustomRoleArn), and sends M P to the API signed
                                                    with them (SigV4, execute-api), as the console
                                                    would: {"status", "body"}

Prints one JSON object. The record format is crates/core/src/domain/model.rs (ExportRecord) as
serde_dynamo writes it: camelCase attributes, numbers as N, times as fixed-width RFC 3339 UTC.
"""
import argparse
import base64
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# moto's fixed TOTP secret (moto/cognitoidp/models.py COGNITO_TOTP_MFA_SECRET).
MOTO_TOTP_SECRET = "asdfasdfasdf"


def stamp(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def ulid(t: datetime) -> str:
    value = (int(t.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def put_export(account_id: str, kind: str, hours_ago: float | None = None, expires_in: float = 10) -> dict:
    """FAILED, EXPIRED (links died 3 days ago), or EXPIRING: delivered, links dying in EXPIRES_IN s."""
    now = datetime.now(timezone.utc)
    if hours_ago is None:
        hours_ago = 9 * 24 if kind == "EXPIRED" else 2
    requested = now - timedelta(hours=hours_ago)
    export_id = ulid(requested)
    item = {
        "accountId": {"S": account_id},
        "sk": {"S": f"EXPORT#{export_id}"},
        "exportId": {"S": export_id},
        "format": {"S": "csv"},
        "requestedAt": {"S": stamp(requested)},
        "cutoff": {"S": stamp(requested)},
        "requestedBy": {"M": {"principal": {"S": "arn:aws:sts::000000000000:assumed-role/console-fixture/admin"}, "via": {"S": "api"}}},
        "startedAt": {"S": stamp(requested + timedelta(seconds=1))},
        "completedAt": {"S": stamp(requested + timedelta(seconds=30))},
        "progress": {"M": {"attachmentsListed": {"N": "20"}, "partsWritten": {"N": "1"}}},
        "retrievals": {"N": "0"},
    }
    out = {"exportId": export_id, "requestedAt": stamp(requested)}
    if kind == "FAILED":
        message = ("The export could not list the account's attachments: the attachment catalog did not answer "
                   "in time. Request a new export; the 7-day window was given back.")
        item["status"] = {"S": "FAILED"}
        item["error"] = {"M": {"code": {"S": "States.Timeout"}, "message": {"S": message}}}
        out["message"] = message
    else:
        expires = requested + timedelta(days=6) if kind == "EXPIRED" else now + timedelta(seconds=expires_in)
        item["status"] = {"S": "SUCCEEDED"}
        item["retrievals"] = {"N": "2"}
        item["lastRetrievedAt"] = {"S": stamp(requested + timedelta(hours=1))}
        item["lastRetrievedBy"] = {"S": "arn:aws:sts::000000000000:assumed-role/console-fixture/admin"}
        item["result"] = {"M": {
            "attachmentCount": {"N": "3"},
            "totalBytes": {"N": "3000"},
            "byConversationType": {"M": {
                "DIRECT": {"M": {"count": {"N": "2"}, "bytes": {"N": "2000"}}},
                "ROOM": {"M": {"count": {"N": "1"}, "bytes": {"N": "1000"}}},
            }},
            "manifestKey": {"S": f"exports/{account_id}/{export_id}/manifest.csv"},
            "manifestBytes": {"N": "512"},
            "manifestSha256": {"S": "0" * 64},
            "summaryKey": {"S": f"exports/{account_id}/{export_id}/summary.json"},
            "urlsExpireAt": {"S": stamp(expires)},
            "errorCount": {"N": "0"},
        }}
        out["urlsExpireAt"] = stamp(expires)
    ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    ddb.put_item(TableName=os.environ.get("EXPORTS_TABLE", "ExportsTable"), Item=item)
    return out


def totp_code() -> str:
    """The current code, from a period with at least 8 s left: moto accepts the current period's
    code only, so a code taken at the end of one would be refused a moment later (as the TS
    helper totpFor does, it waits out the period's end)."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    left = 30 - time.time() % 30
    if left < 8:
        time.sleep(left + 0.2)

    key = MOTO_TOTP_SECRET + "=" * ((8 - len(MOTO_TOTP_SECRET) % 8) % 8)
    totp = TOTP(base64.b32decode(key, casefold=True), 6, SHA1(), 30, enforce_key_length=False)
    return totp.generate(int(time.time())).decode()


def console_config() -> dict:
    url = os.environ["CONSOLE_URL"].rstrip("/") + "/config.json"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the local console)
        return json.load(response)


def srp_sign_in(idp, config: dict, username: str, password: str) -> dict:
    """USER_SRP_AUTH, the flow the template's app client allows (the local stack checks the proof
    and refuses other flows): local_srp.client_sign_in, as console_users.py sign-in."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra" / "local"))
    from lib import local_srp

    reply = local_srp.client_sign_in(idp, config["userPoolId"], config["userPoolClientId"], username, password)
    return reply["AuthenticationResult"]


def enable_totp(username: str, password: str) -> dict:
    config = console_config()
    idp = boto3.client("cognito-idp", endpoint_url=config.get("cognitoIdpEndpoint") or os.environ.get("COGNITO_IDP_ENDPOINT"),
                       region_name=config["region"])
    access = srp_sign_in(idp, config, username, password)["AccessToken"]
    idp.associate_software_token(AccessToken=access)
    idp.verify_software_token(AccessToken=access, UserCode=totp_code(), FriendlyDeviceName="console-test")
    idp.admin_set_user_mfa_preference(UserPoolId=config["userPoolId"], Username=username,
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return {"username": username, "code": totp_code()}


def idp_client():
    config = console_config()
    idp = boto3.client("cognito-idp", endpoint_url=config.get("cognitoIdpEndpoint") or os.environ.get("COGNITO_IDP_ENDPOINT"),
                       region_name=config["region"])
    return idp, config["userPoolId"]


MFA_KEYS = ("SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration", "MfaConfiguration")


def require_mfa() -> dict:
    """SetUserPoolMfaConfig ON with TOTP, as an operator does (docs/DEPLOY.md "Requiring MFA")."""
    idp, pool_id = idp_client()
    before = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="ON",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    return {k: before[k] for k in MFA_KEYS if before.get(k) is not None}


def restore_mfa(previous: dict) -> dict:
    idp, pool_id = idp_client()
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, **{k: v for k, v in previous.items() if k in MFA_KEYS})
    return {k: v for k, v in idp.get_user_pool_mfa_config(UserPoolId=pool_id).items() if k in MFA_KEYS}


# What UpdateUserPoolClient takes: Cognito resets any setting the call leaves out, so every
# update sends them all, as read from DescribeUserPoolClient.
CLIENT_SETTINGS = ("ClientName", "RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity", "TokenValidityUnits",
                   "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows", "SupportedIdentityProviders",
                   "PreventUserExistenceErrors", "EnableTokenRevocation", "AuthSessionValidity")


def client_settings(idp, pool_id: str, client_id: str) -> dict:
    client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    return {k: client[k] for k in CLIENT_SETTINGS if k in client}


def token_lifetime(minutes: int) -> dict:
    """The console's app client with ID and access tokens of MINUTES (Cognito's minimum is 5)."""
    idp, pool_id = idp_client()
    client_id = console_config()["userPoolClientId"]
    before = client_settings(idp, pool_id, client_id)
    units = dict(before.get("TokenValidityUnits") or {}, IdToken="minutes", AccessToken="minutes")
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id,
                                **dict(before, IdTokenValidity=minutes, AccessTokenValidity=minutes, TokenValidityUnits=units))
    return before


def restore_client(previous: dict) -> dict:
    idp, pool_id = idp_client()
    client_id = console_config()["userPoolClientId"]
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id, **previous)
    return client_settings(idp, pool_id, client_id)


def disable_user(username: str) -> dict:
    idp, pool_id = idp_client()
    idp.admin_disable_user(UserPoolId=pool_id, Username=username)
    return {"username": username, "enabled": False}


def refresh(token: str) -> dict:
    idp, _ = idp_client()
    try:
        idp.initiate_auth(ClientId=console_config()["userPoolClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": token})
    except idp.exceptions.ClientError as error:
        return {"refused": error.response["Error"]["Code"]}
    return {"refreshed": True}


def call_as(username: str, password: str, group: str, method: str, path: str) -> dict:
    """One API call with a console user's own temporary credentials (group GROUP's role)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    config = console_config()
    idp = boto3.client("cognito-idp", endpoint_url=config.get("cognitoIdpEndpoint") or os.environ.get("COGNITO_IDP_ENDPOINT"),
                       region_name=config["region"])
    id_token = srp_sign_in(idp, config, username, password)["IdToken"]
    identity = boto3.client("cognito-identity", endpoint_url=config.get("cognitoIdentityEndpoint") or os.environ.get("COGNITO_IDENTITY_ENDPOINT"),
                            region_name=config["region"])
    logins = {f"cognito-idp.{config['region']}.amazonaws.com/{config['userPoolId']}": id_token}
    identity_id = identity.get_id(IdentityPoolId=config["identityPoolId"], Logins=logins)["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins,
                                                  CustomRoleArn=config["roles"][group])["Credentials"]
    url = config["apiUrl"].rstrip("/") + path
    request = AWSRequest(method=method, url=url, data=b"", headers={})
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]), "execute-api",
              config["region"]).add_auth(request)
    prepared = urllib.request.Request(url, data=b"" if method != "GET" else None, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:  # noqa: S310 (the local API)
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        parsed = body.decode(errors="replace")
    return {"status": status, "body": parsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("put-export")
    p.add_argument("--account-id", required=True)
    p.add_argument("--kind", choices=["FAILED", "EXPIRED", "EXPIRING"], required=True)
    p.add_argument("--expires-in", type=float, default=10, help="EXPIRING: seconds until the links die")
    p.add_argument("--hours-ago", type=float, help="when it was requested (default: 2 h, EXPIRED 9 days)")
    t = sub.add_parser("enable-totp")
    t.add_argument("--username", required=True)
    t.add_argument("--password", required=True)
    sub.add_parser("totp-code")
    sub.add_parser("require-mfa")
    r = sub.add_parser("restore-mfa")
    r.add_argument("--config", required=True, help="the JSON require-mfa printed")
    lifetime = sub.add_parser("token-lifetime")
    lifetime.add_argument("--minutes", type=int, required=True)
    rc = sub.add_parser("restore-client")
    rc.add_argument("--config", required=True, help="the JSON token-lifetime printed")
    d = sub.add_parser("disable-user")
    d.add_argument("--username", required=True)
    f = sub.add_parser("refresh")
    f.add_argument("--token", required=True)
    c = sub.add_parser("call-as")
    c.add_argument("--username", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--group", required=True, help="whose role's credentials: StartDataExport, RetrieveDataExport, RevokeDataExport")
    c.add_argument("--method", required=True)
    c.add_argument("--path", required=True, help="the API path, e.g. /accounts/A/data-exports/E/revoke")
    args = parser.parse_args()
    if args.command == "put-export":
        out = put_export(args.account_id, args.kind, args.hours_ago, args.expires_in)
    elif args.command == "enable-totp":
        out = enable_totp(args.username, args.password)
    elif args.command == "require-mfa":
        out = require_mfa()
    elif args.command == "restore-mfa":
        out = restore_mfa(json.loads(args.config))
    elif args.command == "token-lifetime":
        out = token_lifetime(args.minutes)
    elif args.command == "restore-client":
        out = restore_client(json.loads(args.config))
    elif args.command == "disable-user":
        out = disable_user(args.username)
    elif args.command == "refresh":
        out = refresh(args.token)
    elif args.command == "call-as":
        out = call_as(args.username, args.password, args.group, args.method, args.path)
    else:
        out = {"code": totp_code()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
