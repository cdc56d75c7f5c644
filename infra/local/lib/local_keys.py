"""The local stack's static access keys and whom each one is (principal ARN, identity policies from
template.yaml). The stand-ins that authorize a caller by its key (the invoke proxy for Lambda, the
identity-pool stand-in for GetOpenIdTokenForDeveloperIdentity) read them here, so a key is the same
principal, with the same policies, at every door:

  AKIALOCALEXPORT00001  the operator (the stack's key), holding LOCAL_OPERATOR_POLICIES
                        (default DataExportOperator)
  ak                    moto's Step Functions (the state machine's calls), ExportStateMachineRole
  AKIALOCALCHATSVC0001  the chat service's role: ChatServiceAssistant (invoke the Assistant) and
                        ChatServiceConsoleSignIn (sign a chat user in to My attachments)

Like the invoke proxy, these doors name the caller by the key in the Authorization header's
Credential and do not check the signature: every key's secret is the stack's one local secret.
"""

import os

from . import local_cognito, local_template

ACCOUNT = local_template.ACCOUNT
OPERATOR_KEY = "AKIALOCALEXPORT00001"
STATE_MACHINE_KEY = "ak"
CHAT_SERVICE_KEY = "AKIALOCALCHATSVC0001"
CHAT_SERVICE_POLICIES = ("ChatServiceAssistant", "ChatServiceConsoleSignIn")


def identities(operator_policies: str | None = None) -> dict[str, tuple[str, list[dict]]]:
    """Access key id -> (principal ARN, identity policies)."""
    # The Cognito template: ChatServiceConsoleSignIn names the chat users' pool by its local id.
    template = local_cognito.template()
    managed = template.managed_policies()
    if operator_policies is None:
        operator_policies = os.environ.get("LOCAL_OPERATOR_POLICIES") or "DataExportOperator"
    names = [n.strip() for n in operator_policies.split(",") if n.strip()]
    unknown = [n for n in names if n not in managed]
    if unknown:
        raise SystemExit(f"LOCAL_OPERATOR_POLICIES names unknown policies {unknown}; known: {sorted(managed)}")
    return {
        OPERATOR_KEY: (f"arn:aws:iam::{ACCOUNT}:user/local-admin", [managed[n] for n in names]),
        STATE_MACHINE_KEY: (f"arn:aws:sts::{ACCOUNT}:assumed-role/ExportStateMachineRole/local",
                            template.role_policies("ExportStateMachineRole")),
        CHAT_SERVICE_KEY: (f"arn:aws:sts::{ACCOUNT}:assumed-role/chat-service/local",
                           [managed[n] for n in CHAT_SERVICE_POLICIES]),
    }
