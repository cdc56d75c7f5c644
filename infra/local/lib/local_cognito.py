"""The console's Cognito resources for the local stack, read from template.yaml: the user pool, its
app client and groups (created in moto's cognito-idp by provision.py) and the identity pool, role
mapping and principal tags (served by the identity-pool stand-in, local_identity.py). Nothing here
restates a setting of the template: a change there changes the local pool.

What moto 5.2's cognito-idp does (checked against moto/cognitoidp/models.py; the console and the
tests rely on it):
  - InitiateAuth USER_SRP_AUTH answers PASSWORD_VERIFIER, but RespondToAuthChallenge does not check
    the SRP proof at all (any PASSWORD_CLAIM_SIGNATURE signs in), and its USER_ID_FOR_SRP (the sub)
    is a name its own PASSWORD_VERIFIER cannot find. moto_patches/cognito_idp.py replaces both:
    real SALT, SRP_B and a base64 SECRET_BLOCK, USER_ID_FOR_SRP = the user name (as Cognito for a
    pool without username attributes), and the proof checked (local_srp.py): a wrong password is
    refused as in AWS. Checked against amazon-cognito-identity-js's AuthenticationHelper.
  - InitiateAuth and AdminInitiateAuth do not check the app client's ExplicitAuthFlows: moto signs
    in with USER_PASSWORD_AUTH although the template's client allows only SRP and refresh.
    moto_patches/cognito_idp.py refuses a flow the client does not allow, as Cognito does
    (InvalidParameterException "USER_PASSWORD_AUTH flow not enabled for this client"; a client
    created without ExplicitAuthFlows allows SRP, custom and refresh, AWS's default).
  - NEW_PASSWORD_REQUIRED after an AdminCreateUser with a temporary password (also on the SRP
    flow); the new password is checked against the pool's password policy.
  - TOTP: AssociateSoftwareToken returns one fixed secret for every user; with
    MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true (up.sh sets it) VerifySoftwareToken and the
    SOFTWARE_TOKEN_MFA challenge check the code against that secret. SMS is not used.
  - MFA_SETUP: with MfaConfiguration ON, a user without a verified authenticator gets MFA_SETUP
    after PASSWORD_VERIFIER (and after NEW_PASSWORD_REQUIRED); AssociateSoftwareToken and
    VerifySoftwareToken take its Session, as in Cognito. moto then signs in on any session;
    moto_patches/cognito_idp.py accepts only the one VerifySoftwareToken returned after a correct
    code, spends it, and sends MFAS_CAN_SETUP as Cognito does (a JSON string). Afterwards the user gets
    SOFTWARE_TOKEN_MFA at each sign-in. GetUser does not list TOTP for a user enrolled this way
    (UserMFASettingList empty) until SetUserMFAPreference enables it; what Cognito lists is not
    checked here.
  - Turning TOTP off (SetUserMFAPreference with the user's access token, AdminSetUserMFAPreference;
    SoftwareTokenMfaSettings Enabled false): moto turns it off in any pool, and its USER_SRP_AUTH
    still asks a user who once verified an authenticator for a code. Cognito leaves TOTP on when
    the pool requires MFA (ON), answering success, and in an OPTIONAL pool signs in a user who
    turned it off with the password: moto_patches/cognito_idp.py does both. moto has no
    AdminDeleteSoftwareToken (an operator's reset of a lost authenticator): added there.
  - The ID token (RS256, kid "dummy"; moto's single, publicly known key, so locally anyone can
    mint a valid token: the stand-in still verifies it, as AWS would) carries iss
    (https://cognito-idp.us-east-1.amazonaws.com/<poolId>), sub, aud (the client id), token_use
    "id", iat, auth_time, exp (1 h), jti, origin_jti, cognito:username, custom:chatAccountId and
    cognito:groups. It has NO cognito:roles and NO cognito:preferred_role (AWS adds them when the
    groups have roles): the stand-in derives them from the groups (ListGroups), as AWS would.
  - JWKS at {moto}/{poolId}/.well-known/jwks.json; OpenID configuration beside it.
  - Answers CORS for any origin (flask-cors), so the browser can call it directly.
  - MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH (up.sh): the pool and client ids are hashes of
    their definitions, stable across restarts of moto (a long id: us-east-1_<hex>).
"""

import os
import uuid
from functools import lru_cache

import boto3

from . import local_iam, local_template

REGION = local_template.REGION
ACCOUNT = local_template.ACCOUNT
USER_POOL = "ConsoleUserPool"
USER_POOL_CLIENT = "ConsoleUserPoolClient"
IDENTITY_POOL = "ConsoleIdentityPool"
# The chat users' pool (My attachments): developer-authenticated identities the chat service signs in.
CHAT_IDENTITY_POOL = "ChatUserIdentityPool"
# The managed policy each console group's role carries, by group name (config.json's "roles").
GROUP_NAMES = ("StartDataExport", "RetrieveDataExport", "RevokeDataExport")


class CognitoTemplate(local_template.Template):
    """template.yaml with the console's Cognito ids resolved to the local ones."""

    def __init__(self, document: dict, user_pool_id: str = "", client_id: str = ""):
        super().__init__(document)
        self.values = {USER_POOL: user_pool_id, USER_POOL_CLIENT: client_id, IDENTITY_POOL: identity_pool_id(),
                       CHAT_IDENTITY_POOL: identity_pool_id(CHAT_IDENTITY_POOL)}

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        return super().ref(name)

    def get_att(self, name: str, attribute: str) -> str:
        if name == USER_POOL and attribute == "ProviderName":
            return provider_name(self.values[USER_POOL])
        if name == USER_POOL and attribute == "Arn":
            return f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{self.values[USER_POOL]}"
        return super().get_att(name, attribute)

    def one(self, kind: str) -> tuple[str, dict]:
        found = self.of_type(kind)
        if len(found) != 1:
            raise SystemExit(f"local_cognito: template.yaml has {len(found)} {kind}; the local stack expects one")
        (logical_id, resource), = found.items()
        return logical_id, resource

    def properties(self, logical_id: str) -> dict:
        return self.resolve(self.resources[logical_id].get("Properties", {}))


def identity_pool_id(logical_id: str = IDENTITY_POOL) -> str:
    """A stable id (AWS form `<region>:<uuid>`) of one of the template's identity pools."""
    return f"{REGION}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{local_template.STACK_NAME}/{logical_id}')}"


def provider_name(user_pool_id: str) -> str:
    """The user pool's provider name, the key of GetId's Logins map."""
    return f"cognito-idp.{REGION}.amazonaws.com/{user_pool_id}"


def template(user_pool_id: str = "", client_id: str = "") -> CognitoTemplate:
    return CognitoTemplate(local_template.load_template(), user_pool_id, client_id)


@lru_cache(maxsize=1)
def role_arns_by_group() -> dict[str, str]:
    """Group name -> its role's local ARN (config.json's "roles"), from the template's groups."""
    t = template()
    out = {}
    for resource in t.of_type("AWS::Cognito::UserPoolGroup").values():
        props = resource["Properties"]
        out[t.resolve(props["GroupName"])] = t.resolve(props["RoleArn"])
    return out


# --- Provisioning in moto (provision.py)

# CloudFormation properties of AWS::Cognito::UserPool that CreateUserPool takes under the same name.
POOL_PROPERTIES = ("Policies", "AdminCreateUserConfig", "UsernameConfiguration", "MfaConfiguration",
                   "AccountRecoverySetting", "Schema", "AutoVerifiedAttributes", "UsernameAttributes",
                   "AliasAttributes", "DeletionProtection", "UserAttributeUpdateSettings", "UserPoolAddOns")
CLIENT_PROPERTIES = ("GenerateSecret", "ExplicitAuthFlows", "PreventUserExistenceErrors", "EnableTokenRevocation",
                     "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
                     "ReadAttributes", "WriteAttributes", "AuthSessionValidity", "SupportedIdentityProviders",
                     "CallbackURLs", "LogoutURLs", "AllowedOAuthFlows", "AllowedOAuthScopes",
                     "AllowedOAuthFlowsUserPoolClient", "EnablePropagateAdditionalUserContextData")


def cognito_client(region: str):
    # COGNITO_IDP_ENDPOINT: moto (stack.env); boto3 reads no AWS_ENDPOINT_URL_* for it here.
    return boto3.client("cognito-idp", region_name=region, endpoint_url=os.environ["COGNITO_IDP_ENDPOINT"])


def provision(region: str) -> dict[str, str]:
    """Creates (or finds) the user pool, its client and groups in moto. Returns the stack.env
    variables naming them."""
    idp = cognito_client(region)
    t = template()
    pool_logical, _ = t.one("AWS::Cognito::UserPool")
    props = t.properties(pool_logical)
    name = props["UserPoolName"]
    pool_id = next((p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name), None)
    if pool_id:
        print(f"  user pool {name}: exists")
    else:
        request = {k: props[k] for k in POOL_PROPERTIES if k in props}
        # StringAttributeConstraints are strings in the API, numbers or strings in a template.
        for attribute in request.get("Schema", []):
            for key in ("StringAttributeConstraints", "NumberAttributeConstraints"):
                if key in attribute:
                    attribute[key] = {k: str(v) for k, v in attribute[key].items()}
        pool_id = idp.create_user_pool(PoolName=name, **request)["UserPool"]["Id"]
        print(f"  user pool {name}: created")
    # EnabledMfas has no CreateUserPool counterpart: SetUserPoolMfaConfig turns TOTP on.
    if "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", []):
        idp.set_user_pool_mfa_config(UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True},
                                     MfaConfiguration=props.get("MfaConfiguration", "OFF"))

    t = template(pool_id)
    client_logical, _ = t.one("AWS::Cognito::UserPoolClient")
    client_props = t.properties(client_logical)
    client_name = client_props["ClientName"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == client_name), None)
    if client_id:
        print(f"  user pool client {client_name}: exists")
    else:
        request = {k: client_props[k] for k in CLIENT_PROPERTIES if k in client_props}
        client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=client_name, **request)[
            "UserPoolClient"]["ClientId"]
        print(f"  user pool client {client_name}: created")

    existing = {g["GroupName"]: g for g in idp.list_groups(UserPoolId=pool_id)["Groups"]}
    for logical_id in t.of_type("AWS::Cognito::UserPoolGroup"):
        group = t.properties(logical_id)
        request = {k: group[k] for k in ("Description", "RoleArn", "Precedence") if k in group}
        if group["GroupName"] in existing:
            idp.update_group(UserPoolId=pool_id, GroupName=group["GroupName"], **request)
            print(f"  group {group['GroupName']}: exists ({request.get('RoleArn', 'no role')})")
        else:
            idp.create_group(UserPoolId=pool_id, GroupName=group["GroupName"], **request)
            print(f"  group {group['GroupName']}: created ({request.get('RoleArn', 'no role')})")
    chat = ChatUserPool()
    return {"USER_POOL_ID": pool_id, "USER_POOL_CLIENT_ID": client_id, "IDENTITY_POOL_ID": identity_pool_id(),
            "CHAT_USER_IDENTITY_POOL_ID": chat.id, "CHAT_USER_DEVELOPER_PROVIDER": chat.developer_provider}


# --- The identity pool (local_identity.py)


class Pool:
    """What both identity pools share: the id, the default roles of its role attachment, and the
    trust and policies of a role it hands out."""

    def __init__(self, t: CognitoTemplate, logical_id: str):
        self.template = t
        self.id = identity_pool_id(logical_id)
        self.props = t.properties(logical_id)
        self.roles: dict[str, str] = {}
        self.attachments: list[dict] = []
        for attachment_id in t.of_type("AWS::Cognito::IdentityPoolRoleAttachment"):
            attachment = t.properties(attachment_id)
            if attachment["IdentityPoolId"] == self.id:
                self.roles.update(attachment.get("Roles") or {})
                self.attachments.append(attachment)

    def role_logical_id(self, arn: str) -> str | None:
        return self.template.role_logical_id(arn)

    def trusts(self, role_arn: str, with_tags: bool) -> bool:
        """Whether the role's trust policy lets this identity pool's authenticated identities assume
        it (sts:AssumeRoleWithWebIdentity, and sts:TagSession when tags are set), aud = the pool."""
        logical_id = self.role_logical_id(role_arn)
        if logical_id is None:
            return False
        trust = self.template.properties(logical_id).get("AssumeRolePolicyDocument", {})
        for statement in local_iam.as_list(trust.get("Statement")):
            federated = local_iam.as_list((statement.get("Principal") or {}).get("Federated"))
            actions = [a.lower() for a in local_iam.as_list(statement.get("Action"))]
            if statement.get("Effect") != "Allow" or "cognito-identity.amazonaws.com" not in federated:
                continue
            if "sts:assumerolewithwebidentity" not in actions or (with_tags and "sts:tagsession" not in actions):
                continue
            condition = statement.get("Condition") or {}
            audience = (condition.get("StringEquals") or {}).get("cognito-identity.amazonaws.com:aud")
            if audience is not None and self.id not in local_iam.as_list(audience):
                continue
            amr = (condition.get("ForAnyValue:StringLike") or {}).get("cognito-identity.amazonaws.com:amr")
            if amr is not None and "authenticated" not in local_iam.as_list(amr):
                continue
            return True
        return False

    def role_policies(self, role_arn: str) -> list[dict]:
        logical_id = self.role_logical_id(role_arn)
        return self.template.role_identity_policies(logical_id) if logical_id else []

    def max_session_seconds(self, role_arn: str) -> int:
        logical_id = self.role_logical_id(role_arn)
        props = self.template.properties(logical_id) if logical_id else {}
        return int(props.get("MaxSessionDuration", 3600))


class ChatUserPool(Pool):
    """The chat users' identity pool (ChatUserIdentityPool): developer-authenticated identities
    only, whose logins the chat service vouches for; every identity gets the authenticated role."""

    def __init__(self):
        super().__init__(template(), CHAT_IDENTITY_POOL)
        self.developer_provider: str = self.props["DeveloperProviderName"]
        self.allow_unauthenticated = bool(self.props.get("AllowUnauthenticatedIdentities", False))
        if self.props.get("CognitoIdentityProviders") or self.props.get("OpenIdConnectProviderARNs"):
            raise SystemExit("local_cognito: the stand-in serves ChatUserIdentityPool's developer logins only")

    def arn(self) -> str:
        return f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{self.id}"


class IdentityPool(Pool):
    """The console's identity pool (ConsoleIdentityPool): role mapping and principal tags, with the local ids."""

    def __init__(self, user_pool_id: str, client_id: str):
        t = template(user_pool_id, client_id)
        super().__init__(t, IDENTITY_POOL)
        props = self.props
        self.allow_unauthenticated = bool(props.get("AllowUnauthenticatedIdentities", False))
        # provider name -> the app client ids it accepts (the token's aud)
        self.providers: dict[str, set[str]] = {}
        self.server_side_token_check: dict[str, bool] = {}
        for provider in props.get("CognitoIdentityProviders", []):
            self.providers.setdefault(provider["ProviderName"], set()).add(provider["ClientId"])
            self.server_side_token_check[provider["ProviderName"]] = bool(provider.get("ServerSideTokenCheck"))
        # provider name -> {tag: claim}
        self.principal_tags: dict[str, dict[str, str]] = {}
        for logical_id in t.of_type("AWS::Cognito::IdentityPoolPrincipalTag"):
            tag = t.properties(logical_id)
            if tag["IdentityPoolId"] != self.id:
                continue
            mapping = dict(tag.get("PrincipalTags") or {})
            if tag.get("UseDefaults") and not mapping:
                # AWS's defaults for a user pool: the client id and the subject.
                mapping = {"client": "aud", "username": "sub"}
            self.principal_tags[tag["IdentityProviderName"]] = mapping
        # "provider:client" -> {"Type", "AmbiguousRoleResolution"}; default roles are Pool.roles.
        self.role_mappings: dict[str, dict] = {}
        for attachment in self.attachments:
            for key, mapping in (attachment.get("RoleMappings") or {}).items():
                self.role_mappings[mapping.get("IdentityProvider", key)] = mapping

