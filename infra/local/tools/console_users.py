"""Console users of the local stack's user pool (moto's cognito-idp; USER_POOL_ID of stack.env),
created as an operator creates them in AWS (docs/DEPLOY.md): AdminCreateUser with the chat
account in custom:chatAccountId, then the groups.

  console_users.py create --username U --account-id A --groups StartDataExport,RetrieveDataExport
      [--name "Jane Doe"] [--email jane@example.com]
                          [--temporary] [--replace]
      prints {"username", "password", "accountId", "groups"}. The password is random and meets the
      pool's policy; it is permanent (AdminSetUserPassword) unless --temporary, which leaves the
      first sign-in's NEW_PASSWORD_REQUIRED challenge. --replace deletes a user of that name first.
  console_users.py delete --username U
  console_users.py sign-in --username U --password P [--client-id C]
      signs in as the console does (USER_SRP_AUTH; the app client allows no other password flow)
      through USER_POOL_CLIENT_ID or C, and prints {"idToken", "accessToken", "refreshToken"}.
      A refused sign-in, or one that asks for a challenge (a new password, a TOTP code), exits 1
      with the reason on stderr.

Run with the stack's environment: `set -a; source .local/stack.env; set +a`.
"""

import argparse
import json
import os
import re
import secrets
import string
import sys

import boto3
from pathlib import Path

from botocore.exceptions import ClientError

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/tools/console_users.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_srp  # noqa: E402

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Symbols Cognito counts as such, less quotes and backslash (easier to paste into a shell).
SYMBOLS = "^$*.[]{}()?!@#%&/,><:;|_~=+-"


def strong_password(length: int = 24) -> str:
    """Random, with every class the pool's password policy requires."""
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, SYMBOLS]
    chars = [secrets.choice(c) for c in classes]
    everything = "".join(classes)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def client():
    endpoint = os.environ.get("COGNITO_IDP_ENDPOINT")
    if not endpoint or not os.environ.get("USER_POOL_ID"):
        sys.exit("console_users: COGNITO_IDP_ENDPOINT and USER_POOL_ID are not set; source .local/stack.env (make up)")
    return boto3.client("cognito-idp", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def create(args) -> None:
    if not UUID.match(args.account_id):
        sys.exit(f"console_users: --account-id {args.account_id!r} is not a lowercase UUID")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    idp = client()
    pool = os.environ["USER_POOL_ID"]
    known = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool)["Groups"]}
    unknown = [g for g in groups if g not in known]
    if unknown:
        sys.exit(f"console_users: unknown group(s) {', '.join(unknown)}; the pool has {', '.join(sorted(known))}")
    if args.replace:
        try:
            idp.admin_delete_user(UserPoolId=pool, Username=args.username)
        except idp.exceptions.UserNotFoundException:
            pass
    password = strong_password()
    idp.admin_create_user(
        UserPoolId=pool,
        Username=args.username,
        # The name and email are the operator's to set (the app client writes neither): the audit
        # trail names people by them.
        UserAttributes=[{"Name": "custom:chatAccountId", "Value": args.account_id}]
        + [{"Name": name, "Value": value} for name, value in (("name", args.name), ("email", args.email)) if value],
        TemporaryPassword=password,
        MessageAction="SUPPRESS",  # nothing to deliver locally; the caller hands the password over
    )
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool, Username=args.username, GroupName=group)
    if not args.temporary:
        idp.admin_set_user_password(UserPoolId=pool, Username=args.username, Password=password, Permanent=True)
    print(json.dumps({"username": args.username, "password": password, "accountId": args.account_id,
                      "groups": groups}))


def delete(args) -> None:
    idp = client()
    idp.admin_delete_user(UserPoolId=os.environ["USER_POOL_ID"], Username=args.username)


def sign_in(args) -> None:
    idp = client()
    client_id = args.client_id or os.environ.get("USER_POOL_CLIENT_ID")
    if not client_id:
        sys.exit("console_users: USER_POOL_CLIENT_ID is not set; source .local/stack.env (make up)")
    try:
        reply = local_srp.client_sign_in(idp, os.environ["USER_POOL_ID"], client_id, args.username, args.password)
    except ClientError as e:
        error = e.response.get("Error", {})
        sys.exit(f"console_users: sign-in refused: {error.get('Code')}: {error.get('Message')}")
    if "AuthenticationResult" not in reply:
        sys.exit(f"console_users: the sign-in asks for {reply.get('ChallengeName')}; sign in with the console")
    tokens = reply["AuthenticationResult"]
    print(json.dumps({"idToken": tokens["IdToken"], "accessToken": tokens["AccessToken"],
                      "refreshToken": tokens.get("RefreshToken")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("create", help="create a console user")
    made.add_argument("--username", required=True)
    made.add_argument("--account-id", required=True)
    made.add_argument("--groups", required=True, help="comma-separated: StartDataExport,RetrieveDataExport")
    made.add_argument("--name", help="the person's name, as the console and the audit trail show it")
    made.add_argument("--email", help="the person's email address")
    made.add_argument("--temporary", action="store_true", help="leave the first sign-in's new-password challenge")
    made.add_argument("--replace", action="store_true", help="delete a user of that name first")
    made.set_defaults(run=create)
    gone = commands.add_parser("delete", help="delete a console user")
    gone.add_argument("--username", required=True)
    gone.set_defaults(run=delete)
    signed = commands.add_parser("sign-in", help="sign in with USER_SRP_AUTH; prints the tokens as JSON")
    signed.add_argument("--username", required=True)
    signed.add_argument("--password", required=True)
    signed.add_argument("--client-id", help="the app client (default: USER_POOL_CLIENT_ID)")
    signed.set_defaults(run=sign_in)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
