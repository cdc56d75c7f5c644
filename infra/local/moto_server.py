"""moto's server, in-process, with Step Functions executing state machines for real.

This is the only way moto 5.2 runs ASL: inside mock_aws(config=...), a ThreadedMotoServer's
interpreter sends Lambda tasks to AWS_ENDPOINT_URL_LAMBDA (the invoke proxy). A plain `moto_server`
sends them to itself. Serves Step Functions, EventBridge and the console's Cognito user pool for
the local stack, with real SRP sign-in and the app client's ExplicitAuthFlows enforced
(patch_cognito_sign_in), and MFA_SETUP (enrolling an authenticator at sign-in) held to what
Cognito requires (patch_cognito_mfa_setup).
"""

import argparse
import json
import signal
import threading

from moto import mock_aws
from moto.cognitoidp import models as cognito
from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError
from moto.server import ThreadedMotoServer

import local_srp

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

    def admin_initiate(self, user_pool_id, client_id, auth_flow, auth_parameters):
        pool = self.user_pools.get(user_pool_id)
        client = pool.clients.get(client_id) if pool else None
        if client is not None:  # otherwise moto's own ResourceNotFoundException
            refusal = flow_refusal(client.extended_config.get("ExplicitAuthFlows"), auth_flow, admin=True)
            if refusal:
                raise InvalidParameterException(refusal)
        return admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)

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

    def verify_software_token(self, access_token, session, user_code, friendly_device_name):
        result = verify(self, access_token, session, user_code, friendly_device_name)
        if session:
            self.sessions.pop(session, None)  # Cognito's answer carries the next session
            ENROLLED_SESSIONS.add(result["Session"])
        return result

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    patch_cognito_sign_in()
    patch_cognito_mfa_setup()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        print(f"moto listening on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
        server.stop()


if __name__ == "__main__":
    main()
