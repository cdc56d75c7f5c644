"""The local stand-in for the console's two Cognito identity pools (template.yaml): ConsoleIdentityPool,
whose administrators sign in to the user pool, and ChatUserIdentityPool, whose chat users the chat
service signs in (developer-authenticated identities, "My attachments").

Speaks Cognito Identity's JSON protocol (POST /, Content-Type application/x-amz-json-1.1,
X-Amz-Target AWSCognitoIdentityService.<Operation>; errors are HTTP 400
{"__type": "NotAuthorizedException", "message": ...}), so the console's AWS SDK client works
against it unchanged, only pointed at COGNITO_IDENTITY_ENDPOINT:
  GetId {IdentityPoolId, Logins: {"cognito-idp.<region>.amazonaws.com/<poolId>": idToken}}
      -> {IdentityId}: `<region>:<uuid>`, stable per user (derived from the token's sub).
  GetCredentialsForIdentity {IdentityId, Logins, CustomRoleArn?}
      -> {IdentityId, Credentials: {AccessKeyId (ASIA…), SecretKey, SessionToken, Expiration}}.
  GetOpenIdTokenForDeveloperIdentity {IdentityPoolId, Logins: {<DeveloperProviderName>: chatUserId},
      PrincipalTags?, TokenDuration?, IdentityId?}  (ChatUserIdentityPool; IAM-signed)
      -> {IdentityId, Token}: an OpenID token (RS256, iss https://cognito-identity.amazonaws.com,
      aud = the pool, sub = the identity, amr ["authenticated", provider, provider:pool:login],
      the principal tags as STS's session-tag claim), valid TokenDuration seconds (default 900,
      at most 86,400). Only a caller whose IAM policies allow
      cognito-identity:GetOpenIdTokenForDeveloperIdentity on the pool's ARN gets one: locally the
      chat service's key (lib/local_keys.py), named by its key id as the invoke proxy names it.
  GetCredentialsForIdentity {IdentityId, Logins: {"cognito-identity.amazonaws.com": token}}
      -> credentials of the pool's authenticated role (ChatUserConsoleRole), tagged with the
      token's principal tags; the token verified (signature, iss, aud = this pool, exp, sub =
      IdentityId). CustomRoleArn is refused: the pool has one role and no mapping.
      The signing key is made when the stand-in starts: a restart ends every unspent token, as a
      key rotation would (the console then asks the user to open My attachments from the chat again).
The user-pool logins verify the ID token as the identity pool does: RS256 signature against the user pool's JWKS
(moto's), iss = the provider, aud = an app client of the pool's CognitoIdentityProviders,
token_use = id, exp; and, with ServerSideTokenCheck, that the user still exists and is enabled.

The role is chosen as a pool with Token-based role mapping does (the template's
ConsoleIdentityPoolRoles): the token's cognito:roles (moto's tokens lack them, so they are derived
from cognito:groups and the pool's groups, ListGroups, as Cognito derives them); CustomRoleArn must
be one of them; without it, cognito:preferred_role (the role of the group with the lowest
Precedence). None, with AmbiguousRoleResolution Deny: no credentials. The role must trust the
identity pool (its AssumeRolePolicyDocument). The principal tags are the template's
ConsoleIdentityPoolPrincipalTag mapping (chatAccountId <- custom:chatAccountId); a claim the token
lacks gives no tag.

Minted credentials are recorded, with their role and tags, in .local/identity/sessions.json
(mode 0600), which the local gateway reads to verify SigV4 signatures and to know the caller.
Nothing secret is logged: one line per request (operation, status, identity id, milliseconds).
The browser calls this server directly: CORS for the console's origin (CONSOLE_URL) only.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import string
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/local_identity.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import ROOT, local_cognito, local_iam, local_keys  # noqa: E402
from lib.local_http import JsonHandler, log_line, serve  # noqa: E402
from lib.stack_env import STACK_ENV, read_stack_env  # noqa: E402

SESSIONS = ROOT / ".local/identity/sessions.json"
REGION = local_cognito.REGION
JSON_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSCognitoIdentityService."
# How far a token's iat may be in the future (clock skew), seconds.
SKEW = 300
LOCK = threading.Lock()


class CognitoError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def not_authorized(message: str) -> CognitoError:
    return CognitoError("NotAuthorizedException", message)


class Config:
    """The user pool's ids (stack.env, appended once provision.py has created the pool) and the
    identity pool built from them; reloaded when stack.env changes."""

    def __init__(self):
        self.mtime = None
        self.pool: local_cognito.IdentityPool | None = None
        self.env: dict[str, str] = {}
        self.jwks: dict[str, KeySet] = {}
        self.groups: tuple[float, dict[str, dict]] | None = None

    def current(self) -> "Config":
        try:
            mtime = STACK_ENV.stat().st_mtime
        except FileNotFoundError:
            raise CognitoError("InternalErrorException", "the local stack has no stack.env", 500)
        with LOCK:
            if mtime != self.mtime:
                env = read_stack_env(STACK_ENV)
                if "USER_POOL_ID" not in env:
                    raise CognitoError("InternalErrorException", "the console user pool is not provisioned", 500)
                self.env = env
                self.pool = local_cognito.IdentityPool(env["USER_POOL_ID"], env["USER_POOL_CLIENT_ID"])
                self.jwks, self.groups, self.mtime = {}, None, mtime
        return self

    def idp(self):
        return boto3.client("cognito-idp", region_name=REGION, endpoint_url=self.env["COGNITO_IDP_ENDPOINT"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def key_set(self, user_pool_id: str) -> KeySet:
        if user_pool_id not in self.jwks:
            url = f"{self.env['COGNITO_IDP_ENDPOINT']}/{user_pool_id}/.well-known/jwks.json"
            with urllib.request.urlopen(url, timeout=10) as response:
                self.jwks[user_pool_id] = KeySet.import_key_set(json.loads(response.read()))
        return self.jwks[user_pool_id]

    def pool_groups(self, user_pool_id: str) -> dict[str, dict]:
        """Group name -> {RoleArn, Precedence}, cached a few seconds."""
        now = time.monotonic()
        if self.groups is None or now - self.groups[0] > 5:
            groups = self.idp().list_groups(UserPoolId=user_pool_id)["Groups"]
            self.groups = (now, {g["GroupName"]: g for g in groups})
        return self.groups[1]


CONFIG = Config()
CHAT_POOL = local_cognito.ChatUserPool()
# The key that signs the chat users' OpenID tokens (made at start: see the module's docstring).
DEVELOPER_TOKEN_KEY = RSAKey.generate_key(2048, {"kid": "local-chat-users", "use": "sig", "alg": "RS256"})
DEVELOPER_ISSUER = "https://cognito-identity.amazonaws.com"
DEVELOPER_LOGIN = "cognito-identity.amazonaws.com"
# STS's claim of session tags in a web identity token.
TAGS_CLAIM = "https://aws.amazon.com/tags"
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verified_login(config: Config, logins) -> tuple[str, dict]:
    """(provider name, claims) of the one login of this pool's providers, its ID token verified."""
    pool = config.pool
    if not isinstance(logins, dict) or not logins:
        if pool.allow_unauthenticated:
            raise CognitoError("InvalidParameterException", "Unauthenticated identities are not served locally.")
        raise not_authorized("Unauthenticated access is not supported for this identity pool.")
    unknown = [p for p in logins if p not in pool.providers]
    if unknown or len(logins) != 1:
        raise not_authorized("Invalid login token. Token is not from a supported provider of this identity pool.")
    (provider, token), = logins.items()
    if not isinstance(token, str) or token.count(".") != 2:
        raise not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    user_pool_id = provider.rsplit("/", 1)[-1]
    try:
        header = b64json(token.split(".", 1)[0])
        if header.get("alg") != "RS256":
            raise not_authorized("Invalid login token. Couldn't verify signed token.")
        claims = jwt.decode(token, config.key_set(user_pool_id), algorithms=["RS256"]).claims
    except (JoseError, ValueError, KeyError):
        raise not_authorized("Invalid login token. Couldn't verify signed token.")
    now = time.time()
    if claims.get("iss") != f"https://{provider}":
        raise not_authorized("Invalid login token. Issuer doesn't match providerName")
    if claims.get("aud") not in pool.providers[provider]:
        raise not_authorized("Invalid login token. Incorrect token audience.")
    if claims.get("token_use") != "id":
        raise not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        raise not_authorized(f"Invalid login token. Token expired: {claims.get('exp')} >= {int(now)}")
    if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now + SKEW:
        raise not_authorized("Invalid login token. Token is not yet valid.")
    if not claims.get("sub"):
        raise not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    if pool.server_side_token_check.get(provider):
        # What ServerSideTokenCheck adds: the user pool still knows the user and it is enabled.
        try:
            user = config.idp().admin_get_user(UserPoolId=user_pool_id, Username=claims.get("cognito:username", ""))
        except Exception:
            raise not_authorized("Invalid login token. The user does not exist.")
        if not user.get("Enabled", True):
            raise not_authorized("Invalid login token. User is disabled.")
    return provider, claims


def identity_id(config: Config, provider: str, claims: dict) -> str:
    """A stable identity per user of a provider, as the identity pool keeps one."""
    name = f"{config.pool.id}/{provider}/{claims['sub']}"
    return f"{REGION}:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def roles_of(config: Config, provider: str, claims: dict) -> tuple[list[str], str | None]:
    """(cognito:roles, cognito:preferred_role) of the token; derived from its groups when the
    token lacks them (moto's do), as the user pool derives them: every group's role, and the role
    of the group with the lowest Precedence (none when two share it)."""
    if "cognito:roles" in claims:
        return list(claims["cognito:roles"]), claims.get("cognito:preferred_role")
    groups = config.pool_groups(provider.rsplit("/", 1)[-1])
    mine = [groups[g] for g in claims.get("cognito:groups", []) if g in groups and groups[g].get("RoleArn")]
    roles = [g["RoleArn"] for g in mine]
    ranked = sorted((g for g in mine if "Precedence" in g), key=lambda g: g["Precedence"])
    preferred = None
    if ranked and (len(ranked) == 1 or ranked[0]["Precedence"] < ranked[1]["Precedence"]):
        preferred = ranked[0]["RoleArn"]
    return roles, preferred


def choose_role(config: Config, provider: str, claims: dict, custom_role: str | None) -> str:
    pool = config.pool
    client = claims.get("aud")
    mapping = pool.role_mappings.get(f"{provider}:{client}")
    if mapping is None or mapping.get("Type") != "Token":
        # No role mapping: the pool's authenticated role (not used by this template).
        role = pool.roles.get("authenticated")
        if role is None:
            raise CognitoError("InvalidIdentityPoolConfigurationException",
                               "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
        return role
    roles, preferred = roles_of(config, provider, claims)
    if custom_role is not None:
        if custom_role in roles:
            return custom_role
        chosen = None
    else:
        chosen = preferred
    if chosen is None:
        if mapping.get("AmbiguousRoleResolution") == "AuthenticatedRole" and pool.roles.get("authenticated"):
            return pool.roles["authenticated"]
        raise not_authorized("The ambiguous role mapping rules denied this request."
                             if custom_role is None else
                             "Invalid CustomRoleArn: not one of the roles of the token (cognito:roles).")
    return chosen


def random_id(prefix: str, length: int) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def record_session(access_key: str, session: dict) -> None:
    """Adds one session to SESSIONS (mode 0600, replaced atomically), dropping expired ones."""
    SESSIONS.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with LOCK:
        try:
            sessions = json.loads(SESSIONS.read_text())
        except (FileNotFoundError, ValueError):
            sessions = {}
        now = time.time()
        sessions = {k: v for k, v in sessions.items() if v.get("expiration", 0) > now}
        sessions[access_key] = session
        fd, temp = tempfile.mkstemp(dir=SESSIONS.parent, prefix=".sessions-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(sessions, out)
            os.replace(temp, SESSIONS)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def role_unique_id(role_arn: str) -> str:
    """An IAM role id (AROA…) that stays the same for a role, as IAM's does."""
    digest = hashlib.sha256(role_arn.encode()).digest()
    return "AROA" + base64.b32encode(digest).decode()[:17]


def get_id(config: Config, request: dict, headers=None) -> dict:
    require(request, "IdentityPoolId")
    if request["IdentityPoolId"] != config.pool.id:
        raise CognitoError("ResourceNotFoundException", f"IdentityPool '{request['IdentityPoolId']}' not found.")
    provider, claims = verified_login(config, request.get("Logins"))
    return {"IdentityId": identity_id(config, provider, claims)}


def get_credentials(config: Config, request: dict, headers=None) -> dict:
    require(request, "IdentityId")
    logins = request.get("Logins")
    if isinstance(logins, dict) and list(logins) == [DEVELOPER_LOGIN]:
        return developer_credentials(request)
    provider, claims = verified_login(config, logins)
    identity = identity_id(config, provider, claims)
    if request["IdentityId"] != identity:
        raise not_authorized("Logins don't match. Please include at least one valid login for this identity or "
                             "identity pool.")
    custom_role = request.get("CustomRoleArn")
    role_arn = choose_role(config, provider, claims, custom_role)
    tags = {tag: str(claims[claim]) for tag, claim in config.pool.principal_tags.get(provider, {}).items()
            if claim in claims}
    if not config.pool.trusts(role_arn, with_tags=bool(tags)):
        raise CognitoError("InvalidIdentityPoolConfigurationException",
                           "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    return mint(role_arn, tags, identity, config.pool.id, provider, claims["sub"],
                config.pool.max_session_seconds(role_arn))


def mint(role_arn: str, tags: dict, identity: str, pool_id: str, provider: str, sub: str, max_seconds: int) -> dict:
    """Temporary credentials of ROLE_ARN with TAGS, recorded for the gateway (record_session)."""
    expiration = int(time.time()) + min(3600, max_seconds)
    access_key = random_id("ASIA", 16)
    secret_key = base64.b64encode(secrets.token_bytes(30)).decode()
    session_token = "IQoJb3JpZ2luX2VjL" + base64.b64encode(secrets.token_bytes(256)).decode()
    role_name = role_arn.rsplit("/", 1)[-1]
    record_session(access_key, {
        "secretAccessKey": secret_key,
        "sessionToken": session_token,
        "expiration": expiration,
        "roleArn": role_arn,
        "roleName": role_name,
        "roleId": role_unique_id(role_arn),
        "principalTags": tags,
        "identityId": identity,
        "identityPoolId": pool_id,
        "provider": provider,
        "sub": sub,
    })
    return {
        "IdentityId": identity,
        "Credentials": {"AccessKeyId": access_key, "SecretKey": secret_key, "SessionToken": session_token,
                        "Expiration": expiration},
    }


def developer_identity_id(login: str) -> str:
    """A stable identity per chat user, as the pool keeps one per developer login."""
    return f"{REGION}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{CHAT_POOL.id}/{CHAT_POOL.developer_provider}/{login}')}"


def signer_of(headers) -> tuple[str, list[dict]]:
    """(principal ARN, identity policies) of the IAM caller, named by its key (lib/local_keys.py)."""
    found = CREDENTIAL.search(headers.get("Authorization") or "")
    if not found:
        raise CognitoError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    identities = local_keys.identities()
    if found[1] not in identities:
        raise CognitoError("UnrecognizedClientException", "The security token included in the request is invalid.")
    return identities[found[1]]


def get_open_id_token_for_developer_identity(config: Config, request: dict, headers) -> dict:
    caller, policies = signer_of(headers)
    require(request, "IdentityPoolId")
    pool_id = request["IdentityPoolId"]
    resource = f"arn:aws:cognito-identity:{REGION}:{local_cognito.ACCOUNT}:identitypool/{pool_id}"
    action = "cognito-identity:GetOpenIdTokenForDeveloperIdentity"
    allowed = local_iam.is_allowed(policies, local_iam.Request(action, resource, {"AWS": caller},
                                                               local_iam.identity_context(caller)))
    if not allowed:
        raise CognitoError("AccessDeniedException",
                           f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
                           "because no identity-based policy allows the action")
    if pool_id != CHAT_POOL.id:
        raise CognitoError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
    logins = request.get("Logins")
    if not isinstance(logins, dict) or list(logins) != [CHAT_POOL.developer_provider]:
        raise not_authorized("Invalid login token. The only login is the pool's developer provider, "
                             f"{CHAT_POOL.developer_provider!r}.")
    login = logins[CHAT_POOL.developer_provider]
    if not isinstance(login, str) or not 1 <= len(login) <= 128:
        raise CognitoError("InvalidParameterException", "A developer user identifier is 1 to 128 characters.")
    tags = request.get("PrincipalTags") or {}
    if (not isinstance(tags, dict) or len(tags) > 50
            or not all(isinstance(k, str) and 1 <= len(k) <= 128 and isinstance(v, str) and len(v) <= 256
                       for k, v in tags.items())):
        raise CognitoError("InvalidParameterException",
                           "PrincipalTags: at most 50 tags, keys of 1 to 128 characters, values of at most 256.")
    duration = request.get("TokenDuration", 900)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 86_400:
        raise CognitoError("InvalidParameterException", "TokenDuration is 1 to 86400 seconds.")
    identity = developer_identity_id(login)
    if request.get("IdentityId") not in (None, identity):
        raise CognitoError("DeveloperUserAlreadyRegisteredException",
                           "The developer user identifier is already registered with another identity.")
    now = int(time.time())
    claims = {"iss": DEVELOPER_ISSUER, "aud": CHAT_POOL.id, "sub": identity, "iat": now, "exp": now + duration,
              "amr": ["authenticated", CHAT_POOL.developer_provider,
                      f"{CHAT_POOL.developer_provider}:{CHAT_POOL.id}:{login}"],
              TAGS_CLAIM: {"principal_tags": {k: [v] for k, v in tags.items()}}}
    token = jwt.encode({"alg": "RS256", "kid": DEVELOPER_TOKEN_KEY.kid}, claims, DEVELOPER_TOKEN_KEY)
    return {"IdentityId": identity, "Token": token}


def verified_developer_token(token) -> dict:
    """The claims of an OpenID token this stand-in minted for ChatUserIdentityPool."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    try:
        claims = jwt.decode(token, DEVELOPER_TOKEN_KEY, algorithms=["RS256"]).claims
    except (JoseError, ValueError, KeyError):
        raise not_authorized("Invalid login token. Couldn't verify signed token.")
    if claims.get("iss") != DEVELOPER_ISSUER or claims.get("aud") != CHAT_POOL.id:
        raise not_authorized("Invalid login token. Incorrect token audience.")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= time.time():
        raise not_authorized(f"Invalid login token. Token expired: {claims.get('exp')} >= {int(time.time())}")
    return claims


def developer_credentials(request: dict) -> dict:
    claims = verified_developer_token(request["Logins"][DEVELOPER_LOGIN])
    if request["IdentityId"] != claims.get("sub"):
        raise not_authorized("Logins don't match. Please include at least one valid login for this identity or "
                             "identity pool.")
    role_arn = CHAT_POOL.roles.get("authenticated")
    if role_arn is None:
        raise CognitoError("InvalidIdentityPoolConfigurationException",
                           "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    if request.get("CustomRoleArn") not in (None, role_arn):
        raise not_authorized("Invalid CustomRoleArn: this pool has no role mapping.")
    tags = {k: v[0] for k, v in ((claims.get(TAGS_CLAIM) or {}).get("principal_tags") or {}).items() if v}
    if not CHAT_POOL.trusts(role_arn, with_tags=bool(tags)):
        raise CognitoError("InvalidIdentityPoolConfigurationException",
                           "Invalid identity pool configuration. Check assigned IAM roles for this pool.")
    return mint(role_arn, tags, claims["sub"], CHAT_POOL.id, CHAT_POOL.developer_provider, claims["sub"],
                CHAT_POOL.max_session_seconds(role_arn))


def require(request: dict, *names: str) -> None:
    for name in names:
        if not isinstance(request.get(name), str) or not request[name]:
            field = name[0].lower() + name[1:]
            raise CognitoError("InvalidParameterException",
                               f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: "
                               "Member must not be null")


OPERATIONS = {"GetId": get_id, "GetCredentialsForIdentity": get_credentials,
              "GetOpenIdTokenForDeveloperIdentity": get_open_id_token_for_developer_identity}
CONSOLE_ORIGIN = ""


class Handler(JsonHandler):
    def cors(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        if not origin or origin != CONSOLE_ORIGIN:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Expose-Headers": "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"}

    def do_OPTIONS(self):
        headers = {"Content-Type": "text/plain"}
        cors = self.cors()
        if cors:
            requested = self.headers.get("Access-Control-Request-Headers", "")
            allowed = ",".join(h.strip() for h in requested.split(",") if h.strip() and all(
                c.isalnum() or c in "-_" for c in h.strip()))
            headers.update(cors)
            headers.update({"Access-Control-Allow-Methods": "POST,OPTIONS", "Access-Control-Max-Age": "600"})
            if allowed:
                headers["Access-Control-Allow-Headers"] = allowed
        self.reply(200, b"", headers)

    def do_GET(self):
        if self.path == "/__health":
            self.reply(200, b'{"ok": true}')
        else:
            self.reply(404, b'{"__type": "UnknownOperationException"}', self.cors())

    def do_POST(self):
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        target = self.headers.get("X-Amz-Target", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        identity = "-"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= 1024 * 1024 else b""
        try:
            if operation not in OPERATIONS:
                raise CognitoError("UnknownOperationException", f"Unknown operation {target!r}")
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                raise CognitoError("SerializationException", "The request body is not JSON")
            if not isinstance(request, dict):
                raise CognitoError("SerializationException", "The request body is not a JSON object")
            result = OPERATIONS[operation](CONFIG.current(), request, self.headers)
            identity = result.get("IdentityId", "-")
            status, out = 200, json.dumps(result).encode()
            headers = {}
        except CognitoError as error:
            status = error.status
            out = json.dumps({"__type": error.kind, "message": error.message}).encode()
            headers = {"x-amzn-ErrorType": f"{error.kind}:", "x-amzn-ErrorMessage": error.message}
        headers.update({"Content-Type": JSON_TYPE, "x-amzn-RequestId": request_id, **self.cors()})
        self.reply(status, out, headers)
        # Never a token, key or body: the operation, its outcome and the identity.
        log_line(json.dumps({"requestId": request_id, "operation": operation or target[:64], "status": status,
                             "identityId": identity, "ms": round((time.monotonic() - started) * 1000)}))


def main() -> None:
    global CONSOLE_ORIGIN
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--console-origin", required=True, help="the one origin CORS allows (CONSOLE_URL)")
    args = parser.parse_args()
    CONSOLE_ORIGIN = args.console_origin.rstrip("/")
    serve(args.port, Handler, f"identity pool stand-in on 127.0.0.1:{args.port}")


if __name__ == "__main__":
    main()
