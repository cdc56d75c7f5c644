"""Plays the chat service's side of "My attachments" on the local stack (docs/DEPLOY.md "Chat users
and the chat service"): a chat user opens My attachments from the chat app, and the chat service,
which knows who they are, signs them in to the console.

  chat_service.py console-link --user-id U [--duration SECONDS]
      GetOpenIdTokenForDeveloperIdentity on ChatUserIdentityPool (CHAT_USER_IDENTITY_POOL_ID),
      signed with the chat service's key (AKIALOCALCHATSVC0001, whose role holds
      ChatServiceConsoleSignIn), with Logins {CHAT_USER_DEVELOPER_PROVIDER: U} and the principal
      tag chatUserId = U; prints {"identityId", "path"}: the console address to open,
      `/#/my-attachments/sign-in?user=U&token=…`. The token is valid SECONDS (default 300): it
      is a credential, so this prints it only to stdout, for the caller (a test, the demo) that
      plays the user's browser, as the chat service puts it only in the address it opens.

Run with the stack's environment: `set -a; source .local/stack.env; set +a`.
"""

import argparse
import json
import os
import re
import sys
import urllib.parse

import boto3

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CHAT_SERVICE_KEY = "AKIALOCALCHATSVC0001"


def console_link(user_id: str, duration: int) -> dict:
    identity = boto3.client(
        "cognito-identity", region_name=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=os.environ["COGNITO_IDENTITY_ENDPOINT"], aws_access_key_id=CHAT_SERVICE_KEY,
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    reply = identity.get_open_id_token_for_developer_identity(
        IdentityPoolId=os.environ["CHAT_USER_IDENTITY_POOL_ID"],
        Logins={os.environ["CHAT_USER_DEVELOPER_PROVIDER"]: user_id},
        PrincipalTags={"chatUserId": user_id},
        TokenDuration=duration)
    query = urllib.parse.urlencode({"user": user_id, "token": reply["Token"]})
    return {"identityId": reply["IdentityId"], "path": f"/#/my-attachments/sign-in?{query}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    link = sub.add_parser("console-link", help="sign a chat user in to My attachments")
    link.add_argument("--user-id", required=True)
    link.add_argument("--duration", type=int, default=300)
    args = parser.parse_args()
    if not UUID.match(args.user_id):
        sys.exit(f"--user-id: {args.user_id!r} is not a chat user id (a lowercase UUID)")
    print(json.dumps(console_link(args.user_id, args.duration)))


if __name__ == "__main__":
    main()
