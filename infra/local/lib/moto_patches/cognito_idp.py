"""Cognito user pools (moto.cognitoidp) as the console meets them in AWS: where moto 5.2.5 differs
from Cognito, the local stack replaces moto's function. Each replacement wraps moto's own (called
for everything it does not change) and says which function it replaces and why; apply() installs
them all, in order (servers/moto_server.py, before moto's server starts). What moto does and does not do
is listed in local_cognito.py.

  patch_cognito_sign_in    real SRP for USER_SRP_AUTH; ExplicitAuthFlows enforced
      CognitoIdpBackend.initiate_auth, .admin_initiate_auth, .respond_to_auth_challenge
  patch_cognito_mfa_setup  MFA_SETUP only with the session of a verified authenticator
      CognitoIdpBackend.verify_software_token, .respond_to_auth_challenge
  patch_cognito_tokens     token lifetimes of the app client; refresh refused as Cognito refuses it
      CognitoIdpUserPool.create_jwt, .create_refresh_token, .create_tokens_from_refresh_token;
      CognitoIdpResponse.revoke_token (moto has no RevokeToken)
  patch_cognito_mfa_preference  TOTP stays on when the pool requires MFA, off when a user of an
      OPTIONAL pool turns it off; AdminDeleteSoftwareToken
      CognitoIdpBackend.admin_set_user_mfa_preference (SetUserMFAPreference calls it too),
      .respond_to_auth_challenge; CognitoIdpBackend.admin_delete_software_token,
      CognitoIdpResponse.admin_delete_software_token (moto has no AdminDeleteSoftwareToken)

They also read moto's private state (the backend's sessions, user_pools and _log_user_in, a pool's
clients, users, refresh_tokens, mfa_config and _get_user, a client's extended_config, a user's
password, enabled, token_verified, software_token_mfa_enabled and preferred_mfa_setting):
require_pinned_moto() refuses any moto but the pinned one before moto is imported.
"""

import json
import threading
import time

from . import require_pinned_moto

require_pinned_moto()

from moto.cognitoidp import models as cognito  # noqa: E402
from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError  # noqa: E402
from moto.cognitoidp.responses import CognitoIdpResponse  # noqa: E402
from moto.core.responses import EmptyResult  # noqa: E402

from .. import local_srp  # noqa: E402

# --- Sign-in: SRP and the app client's auth flows

# SECRET_BLOCK -> its sign-in's SRP state (local_srp.ServerSession), until the challenge's answer.
SRP_SESSIONS: dict[str, local_srp.ServerSession] = {}
SRP_LOCK = threading.Lock()
# The app client setting (ExplicitAuthFlows) that allows each flow, for InitiateAuth and for
# AdminInitiateAuth. The legacy values (before ALLOW_*) count as their ALLOW_* counterparts.
USER_FLOW_SETTINGS = {
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
}
ADMIN_FLOW_SETTINGS = {
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
}
LEGACY_SETTINGS = {
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY": "ALLOW_CUSTOM_AUTH",
}
# A client created without ExplicitAuthFlows allows these (CreateUserPoolClient's reference).
DEFAULT_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


def flow_refusal(explicit_auth_flows: list[str] | None, auth_flow: str, admin: bool) -> str | None:
    """Cognito's InvalidParameterException message when the app client does not allow auth_flow
    (None: allowed, or a flow moto itself refuses, by its own validation, as AWS does)."""
    setting = (ADMIN_FLOW_SETTINGS if admin else USER_FLOW_SETTINGS).get(auth_flow)
    if setting is None:
        return None
    flows = explicit_auth_flows or DEFAULT_FLOWS
    allowed = {LEGACY_SETTINGS.get(f, f) for f in flows}
    if not any(f.startswith("ALLOW_") for f in flows):
        # Only legacy values: SRP and refresh were always on before ALLOW_* existed.
        allowed |= {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    if setting in allowed:
        return None
    # AWS's wording: InitiateAuth names the flow, AdminInitiateAuth does not.
    return "Auth flow not enabled for this client" if admin else f"{auth_flow} flow not enabled for this client"


def patch_cognito_sign_in() -> None:
    """Real SRP for moto's USER_SRP_AUTH (moto accepts any password on it): the challenge carries
    a real SALT and SRP_B, and PASSWORD_VERIFIER checks the client's proof (local_srp.py). And
    InitiateAuth and AdminInitiateAuth refuse a flow the app client's ExplicitAuthFlows do not
    allow, as Cognito does (moto does not check them)."""
    initiate_auth = cognito.CognitoIdpBackend.initiate_auth
    admin_initiate_auth = cognito.CognitoIdpBackend.admin_initiate_auth
    respond = cognito.CognitoIdpBackend.respond_to_auth_challenge

    # Replaces CognitoIdpBackend.admin_initiate_auth. moto signs in with any flow; Cognito refuses
    # (InvalidParameterException) a flow the app client's ExplicitAuthFlows do not allow.
    def admin_initiate(self, user_pool_id, client_id, auth_flow, auth_parameters):
        pool = self.user_pools.get(user_pool_id)
        client = pool.clients.get(client_id) if pool else None
        if client is not None:  # otherwise moto's own ResourceNotFoundException
            refusal = flow_refusal(client.extended_config.get("ExplicitAuthFlows"), auth_flow, admin=True)
            if refusal:
                raise InvalidParameterException(refusal)
        return admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)

    # Replaces CognitoIdpBackend.initiate_auth. The same refusal for InitiateAuth; and for
    # USER_SRP_AUTH, moto's PASSWORD_VERIFIER challenge has random strings for SALT and SRP_B, a
    # UUID SECRET_BLOCK and the sub as USER_ID_FOR_SRP (which its own PASSWORD_VERIFIER cannot
    # find): Cognito's has the SRP values of the user's verifier and the user name.
    def initiate(self, client_id, auth_flow, auth_parameters):
        pool = next((p for p in self.user_pools.values() if client_id in p.clients), None)
        if pool is not None:
            refusal = flow_refusal(pool.clients[client_id].extended_config.get("ExplicitAuthFlows"), auth_flow,
                                   admin=False)
            if refusal:
                raise InvalidParameterException(refusal)
        result = initiate_auth(self, client_id, auth_flow, auth_parameters)
        if auth_flow == "USER_SRP_AUTH" and result.get("ChallengeName") == "PASSWORD_VERIFIER":
            username, pool = self.sessions.pop(result["Session"])
            user = pool._get_user(username)
            # USER_ID_FOR_SRP: the user name, as Cognito sends it for a pool without username
            # attributes (moto sends the sub, which its own PASSWORD_VERIFIER then cannot find).
            try:
                srp = local_srp.ServerSession(pool.id, user.username, user.password or "", auth_parameters["SRP_A"])
            except (ValueError, KeyError):
                raise NotAuthorizedError("Incorrect username or password.")
            with SRP_LOCK:
                while len(SRP_SESSIONS) >= 1000:  # sign-ins never answered: forget the oldest
                    SRP_SESSIONS.pop(next(iter(SRP_SESSIONS)))
                SRP_SESSIONS[srp.secret_block] = srp
            # moto finds the sign-in by PASSWORD_CLAIM_SECRET_BLOCK: the secret block is the session.
            self.sessions[srp.secret_block] = (username, pool)
            result["Session"] = srp.secret_block
            result["ChallengeParameters"].update(srp.challenge(), USER_ID_FOR_SRP=user.username)
        return result

    # Replaces CognitoIdpBackend.respond_to_auth_challenge for PASSWORD_VERIFIER. moto accepts any
    # PASSWORD_CLAIM_SIGNATURE (every password signs in); Cognito checks the SRP proof and answers
    # NotAuthorizedException "Incorrect username or password." to a wrong one.
    def respond_to_auth_challenge(self, session, client_id, challenge_name, challenge_responses):
        if challenge_name == "PASSWORD_VERIFIER":
            # The proof must be this sign-in's (its secret block), for its user (USERNAME).
            block = (challenge_responses or {}).get("PASSWORD_CLAIM_SECRET_BLOCK", "")
            with SRP_LOCK:
                srp = SRP_SESSIONS.pop(block, None)
            answer = challenge_responses or {}
            if srp is None or not srp.verifies(answer.get("USERNAME", ""), answer.get("TIMESTAMP", ""),
                                               answer.get("PASSWORD_CLAIM_SIGNATURE", "")):
                self.sessions.pop(block, None)
                raise NotAuthorizedError("Incorrect username or password.")
        return respond(self, session, client_id, challenge_name, challenge_responses)

    cognito.CognitoIdpBackend.initiate_auth = initiate
    cognito.CognitoIdpBackend.admin_initiate_auth = admin_initiate
    cognito.CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge


# --- MFA_SETUP: enrolling an authenticator at sign-in

# Sessions VerifySoftwareToken returned after a correct code (the only ones MFA_SETUP accepts).
ENROLLED_SESSIONS: set[str] = set()


def patch_cognito_mfa_setup() -> None:
    """moto 5.2 already answers MFA_SETUP when the pool's MfaConfiguration is ON and the user has
    no verified authenticator, and AssociateSoftwareToken / VerifySoftwareToken take its Session.
    Two differences from Cognito remain, fixed here:
      - RespondToAuthChallenge MFA_SETUP signs in whatever the session (even the MFA_SETUP one
        itself, before any code was verified): Cognito needs the session VerifySoftwareToken
        returned after a correct code, and then the session is spent.
      - MFAS_CAN_SETUP is a list: Cognito's ChallengeParameters are strings, this one JSON,
        e.g. "[\"SOFTWARE_TOKEN_MFA\"]".
    (A wrong code: moto says CodeMismatchException, Cognito EnableSoftwareTokenMFAException; the
    console reads both.)"""
    respond = cognito.CognitoIdpBackend.respond_to_auth_challenge
    verify = cognito.CognitoIdpBackend.verify_software_token

    # Replaces CognitoIdpBackend.verify_software_token. moto leaves the session it was given usable;
    # Cognito spends it and answers with the session that MFA_SETUP then accepts (recorded here).
    def verify_software_token(self, access_token, session, user_code, friendly_device_name):
        result = verify(self, access_token, session, user_code, friendly_device_name)
        if session:
            self.sessions.pop(session, None)  # Cognito's answer carries the next session
            ENROLLED_SESSIONS.add(result["Session"])
        return result

    # Replaces CognitoIdpBackend.respond_to_auth_challenge (after patch_cognito_sign_in's). MFA_SETUP:
    # moto signs in on any session; Cognito only on the one VerifySoftwareToken returned, once. Any
    # other challenge's answer: moto's MFAS_CAN_SETUP is a list, Cognito's a JSON string.
    def respond_to_auth_challenge(self, session, client_id, challenge_name, challenge_responses):
        if challenge_name == "MFA_SETUP":
            if session not in ENROLLED_SESSIONS:
                raise NotAuthorizedError("Invalid session for the user.")
            ENROLLED_SESSIONS.discard(session)
            result = respond(self, session, client_id, challenge_name, challenge_responses)
            self.sessions.pop(session, None)
            return result
        result = respond(self, session, client_id, challenge_name, challenge_responses)
        params = result.get("ChallengeParameters") or {}
        if isinstance(params.get("MFAS_CAN_SETUP"), list):
            params["MFAS_CAN_SETUP"] = json.dumps(params["MFAS_CAN_SETUP"])
        return result

    cognito.CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge
    cognito.CognitoIdpBackend.verify_software_token = verify_software_token


# --- Tokens: lifetimes, refresh, revocation

# Seconds in each of TokenValidityUnits' units, and Cognito's defaults when the client names none.
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}
DEFAULT_VALIDITY = {"AccessToken": 1, "IdToken": 1, "RefreshToken": 30}


def validity_seconds(client_config: dict, token: str) -> int:
    """How long the app client's tokens of one kind ("AccessToken", "IdToken", "RefreshToken")
    live: its <token>Validity in its TokenValidityUnits, or Cognito's defaults."""
    value = client_config.get(f"{token}Validity") or DEFAULT_VALIDITY[token]
    unit = (client_config.get("TokenValidityUnits") or {}).get(token) or DEFAULT_UNITS[token]
    return int(value) * UNIT_SECONDS[unit]


# Refresh token -> when it was issued (its expiry is the client's RefreshTokenValidity after that).
REFRESH_ISSUED: dict[str, float] = {}


def patch_cognito_tokens() -> None:
    """moto issues every ID and access token for one hour and refreshes with any refresh token it
    once issued. Cognito, as the console meets it:
      - ID and access tokens live the app client's IdTokenValidity / AccessTokenValidity;
      - REFRESH_TOKEN_AUTH refuses, with NotAuthorizedException, a refresh token it does not know
        (moto: an internal error), one older than RefreshTokenValidity, one revoked, and one of a
        user who has since been disabled (moto refreshes them);
      - RevokeToken (which moto lacks) revokes a refresh token of the client that names it, as the
        console does at sign-out; Cognito answers success for a token it does not know too."""
    create_jwt = cognito.CognitoIdpUserPool.create_jwt
    create_refresh_token = cognito.CognitoIdpUserPool.create_refresh_token
    from_refresh_token = cognito.CognitoIdpUserPool.create_tokens_from_refresh_token

    # Replaces CognitoIdpUserPool.create_jwt. moto: every ID and access token lives one hour;
    # Cognito: the app client's IdTokenValidity / AccessTokenValidity in its TokenValidityUnits.
    def jwt(self, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
        client = self.clients.get(client_id)
        if client is not None and token_use in ("id", "access"):
            expires_in = validity_seconds(client.extended_config, "IdToken" if token_use == "id" else "AccessToken")
        return create_jwt(self, client_id, username, token_use, expires_in, extra_data)

    # Replaces CognitoIdpUserPool.create_refresh_token. moto does not record when a refresh token
    # was issued; recorded here, so that RefreshTokenValidity can end it as in Cognito.
    def refresh_token(self, client_id, username):
        token, origin_jti = create_refresh_token(self, client_id, username)
        REFRESH_ISSUED[token] = time.time()
        return token, origin_jti

    # Replaces CognitoIdpUserPool.create_tokens_from_refresh_token. moto: an internal error
    # (KeyError) for a token it never issued, and new tokens from an expired one or for a
    # disabled user; Cognito: NotAuthorizedException for each, and for a revoked one.
    def tokens_from_refresh_token(self, refresh_token):
        known = self.refresh_tokens.get(refresh_token) if isinstance(refresh_token, str) else None
        if known is None:  # never issued by this pool, or revoked
            raise NotAuthorizedError("Invalid Refresh Token")
        client_id, username, _ = known
        client = self.clients.get(client_id)
        issued = REFRESH_ISSUED.get(refresh_token, 0.0)
        if client is None or time.time() - issued > validity_seconds(client.extended_config, "RefreshToken"):
            raise NotAuthorizedError("Refresh Token has expired")
        user = self.users.get(username)
        if user is None or not user.enabled:
            raise NotAuthorizedError("User is disabled." if user is not None else "Invalid Refresh Token")
        return from_refresh_token(self, refresh_token)

    # Adds CognitoIdpResponse.revoke_token: moto 5.2.5 has no RevokeToken (the console calls it at
    # sign-out). Cognito revokes a refresh token of the client that names it, and answers success
    # for a token it does not know too.
    def revoke_token(response):
        token, client_id = response._get_param("Token"), response._get_param("ClientId")
        for pool in response.backend.user_pools.values():
            known = pool.refresh_tokens.get(token) if isinstance(token, str) else None
            if known is not None and known[0] == client_id:
                pool.refresh_tokens[token] = None
        return EmptyResult()

    CognitoIdpResponse.revoke_token = revoke_token
    cognito.CognitoIdpUserPool.create_jwt = jwt
    cognito.CognitoIdpUserPool.create_refresh_token = refresh_token
    cognito.CognitoIdpUserPool.create_tokens_from_refresh_token = tokens_from_refresh_token


# --- MFA preferences: turning TOTP off, and resetting a lost authenticator

# (pool id, user name) of each user who turned TOTP off in a pool that does not require MFA, until
# they turn it on again: USER_SRP_AUTH signs them in without a code.
TOTP_TURNED_OFF: set[tuple[str, str]] = set()


def patch_cognito_mfa_preference() -> None:
    """SetUserMFAPreference (with the user's access token) and AdminSetUserMFAPreference with
    SoftwareTokenMfaSettings Enabled false. Cognito, when the pool requires MFA (ON): "You can't turn
    off TOTP MFA for any of your users when MFA is required in your user pool; you can only set the
    type that your user prefers" (SoftwareTokenMfaSettingsType, in the API reference and in
    botocore's cognito-idp model). It does not refuse the call either: it answers success (HTTP
    200, an empty body; the reference lists no error for it, and users report the 200, e.g. Stack
    Overflow question 50497388) and the user keeps the authenticator, so the next sign-in still asks
    for its code. In an OPTIONAL pool it turns TOTP off: the next sign-in needs the password only.
    moto differs both ways, fixed here:
      - ON: moto turns TOTP off (GetUser and AdminGetUser then list no MFA; its USER_SRP_AUTH still
        asks for the code, a verified authenticator being enough): the local stack leaves the
        user's TOTP as it was, enabled and preferred, and answers success.
      - OPTIONAL: moto lists TOTP off, but its USER_SRP_AUTH still asks for a code of any user who
        once verified an authenticator: the local stack signs in a user who turned it off with the
        password, as Cognito does, until they turn it on again.
    SMS is not used here and is left to moto.

    And AdminDeleteSoftwareToken, which moto 5.2.5 lacks: Cognito's reset of a lost authenticator
    (an operator's, with IAM credentials). It removes the user's software token and any
    preference for TOTP; at the next sign-in a pool that requires MFA answers MFA_SETUP (the user
    enrols a new authenticator), an OPTIONAL one signs in with the password. A user who has no
    software token: AWS does not document the answer; success here."""
    admin_set_user_mfa_preference = cognito.CognitoIdpBackend.admin_set_user_mfa_preference
    respond = cognito.CognitoIdpBackend.respond_to_auth_challenge

    # Replaces CognitoIdpBackend.admin_set_user_mfa_preference (SetUserMFAPreference calls it with
    # the access token's user). moto: Enabled false turns TOTP off in any pool; Cognito, in a pool
    # whose MfaConfiguration is ON, answers success and leaves it on.
    def set_mfa_preference(self, user_pool_id, username, software_token_mfa_settings, sms_mfa_settings):
        pool = self.describe_user_pool(user_pool_id)  # moto's ResourceNotFoundException otherwise
        if pool.mfa_config == "ON" and software_token_mfa_settings and not software_token_mfa_settings.get("Enabled"):
            software_token_mfa_settings = None  # the user's TOTP stays as it was
        result = admin_set_user_mfa_preference(self, user_pool_id, username, software_token_mfa_settings,
                                               sms_mfa_settings)
        if software_token_mfa_settings:  # applied: the user exists
            key = (pool.id, pool._get_user(username).username)
            if software_token_mfa_settings.get("Enabled"):
                TOTP_TURNED_OFF.discard(key)
            else:
                TOTP_TURNED_OFF.add(key)
        return result

    # Replaces CognitoIdpBackend.respond_to_auth_challenge (after patch_cognito_mfa_setup's) for
    # PASSWORD_VERIFIER. moto asks for a TOTP code whenever the pool has TOTP and the user once
    # verified an authenticator; Cognito, in a pool that does not require MFA, not of a user who
    # turned TOTP off.
    def respond_to_auth_challenge(self, session, client_id, challenge_name, challenge_responses):
        result = respond(self, session, client_id, challenge_name, challenge_responses)
        if challenge_name == "PASSWORD_VERIFIER" and result.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            username, pool = self.sessions.get(result.get("Session"), (None, None))
            user = pool._get_user(username) if pool is not None else None
            if (user is not None and pool.mfa_config != "ON" and not user.software_token_mfa_enabled
                    and (pool.id, user.username) in TOTP_TURNED_OFF):
                self.sessions.pop(result["Session"], None)
                return self._log_user_in(pool, pool.clients[client_id], username)
        return result

    # Adds CognitoIdpBackend.admin_delete_software_token: the user's verified authenticator and any
    # TOTP preference removed (moto's user keeps one flag for a verified token, one for TOTP enabled).
    def delete_software_token(self, user_pool_id, username):
        user = self.admin_get_user(user_pool_id, username)  # moto's UserNotFoundException otherwise
        user.token_verified = False
        user.software_token_mfa_enabled = False
        if user.preferred_mfa_setting == "SOFTWARE_TOKEN_MFA":
            user.preferred_mfa_setting = ""
        TOTP_TURNED_OFF.discard((user_pool_id, user.username))

    # Adds CognitoIdpResponse.admin_delete_software_token: moto 5.2.5 has no AdminDeleteSoftwareToken.
    def admin_delete_software_token(response):
        response.backend.admin_delete_software_token(response._get_param("UserPoolId"), response._get_param("Username"))
        return EmptyResult()

    cognito.CognitoIdpBackend.admin_set_user_mfa_preference = set_mfa_preference
    cognito.CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge
    cognito.CognitoIdpBackend.admin_delete_software_token = delete_software_token
    CognitoIdpResponse.admin_delete_software_token = admin_delete_software_token


def apply() -> None:
    """Installs every replacement, in order: patch_cognito_mfa_setup wraps the respond_to_auth_challenge
    that patch_cognito_sign_in installed, patch_cognito_mfa_preference the one patch_cognito_mfa_setup
    installed."""
    patch_cognito_sign_in()
    patch_cognito_mfa_setup()
    patch_cognito_tokens()
    patch_cognito_mfa_preference()
