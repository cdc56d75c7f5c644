"""moto's server, in-process, with Step Functions executing state machines for real.

This is the only way moto 5.2 runs ASL: inside mock_aws(config=...), a ThreadedMotoServer's
interpreter sends Lambda tasks to AWS_ENDPOINT_URL_LAMBDA (the invoke proxy). A plain `moto_server`
sends them to itself. Serves Step Functions, EventBridge and the console's Cognito user pool for
the local stack, with real SRP sign-in (patch_cognito_sign_in).
"""

import argparse
import os
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
# The client setting (ExplicitAuthFlows) that allows each flow of InitiateAuth.
FLOW_SETTINGS = {
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
}


def patch_cognito_sign_in(enforce_flows: bool) -> None:
    """Real SRP for moto's USER_SRP_AUTH (moto accepts any password on it): the challenge carries
    a real SALT and SRP_B, and PASSWORD_VERIFIER checks the client's proof (local_srp.py). With
    enforce_flows, InitiateAuth also refuses a flow the app client's ExplicitAuthFlows do not allow,
    as Cognito does (moto does not check them)."""
    initiate_auth = cognito.CognitoIdpBackend.initiate_auth
    respond = cognito.CognitoIdpBackend.respond_to_auth_challenge

    def initiate(self, client_id, auth_flow, auth_parameters):
        if enforce_flows:
            pool = next((p for p in self.user_pools.values() if client_id in p.clients), None)
            allowed = pool.clients[client_id].extended_config.get("ExplicitAuthFlows") if pool else None
            setting = FLOW_SETTINGS.get(auth_flow)
            if allowed and setting and setting not in allowed and auth_flow not in allowed:
                raise InvalidParameterException(f"{auth_flow} flow not enabled for this client")
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
    cognito.CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    patch_cognito_sign_in(enforce_flows=os.environ.get("LOCAL_COGNITO_ENFORCE_AUTH_FLOWS") == "1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        print(f"moto listening on 127.0.0.1:{args.port}", flush=True)
        stop.wait()
        server.stop()


if __name__ == "__main__":
    main()
