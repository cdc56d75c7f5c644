"""Checks of the local stack's Python stand-ins that need no running stack:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
(tests/tests/console_identity.rs checks them end to end against the running stack)."""

import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import unittest
from datetime import datetime, timedelta, timezone
from email.message import Message
from pathlib import Path

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_http, local_sigv4, local_srp, moto_patches  # noqa: E402
from lib.moto_patches import cognito_idp  # noqa: E402
from servers import console_server  # noqa: E402

LOCAL = Path(__file__).resolve().parents[1]


class SrpTest(unittest.TestCase):
    POOL = "us-east-1_abcdef123"

    def sign_in(self, password_known: str, password_typed: str) -> bool:
        a = secrets.randbelow(local_srp.N - 1) + 1
        srp_a = format(pow(local_srp.G, a, local_srp.N), "x")
        server = local_srp.ServerSession(self.POOL, "ada", password_known, srp_a)
        stamp = "Thu Nov 26 12:00:00 UTC 2026"
        signature = local_srp.client_signature(self.POOL, "ada", password_typed, server.challenge(), a, stamp)
        return server.verifies("ada", stamp, signature)

    def test_the_right_password_verifies_and_a_wrong_one_does_not(self):
        self.assertTrue(self.sign_in("Correct-Horse-9!", "Correct-Horse-9!"))
        self.assertFalse(self.sign_in("Correct-Horse-9!", "Correct-Horse-9?"))

    def test_the_group_is_rfc5054_3072(self):
        self.assertEqual(local_srp.N.bit_length(), 3072)
        self.assertEqual(pow(2, local_srp.N - 1, local_srp.N), 1)  # Fermat: N is (probably) prime

    def test_pad_hex_is_the_sdks(self):
        self.assertEqual(local_srp.pad_hex(0x7F), "7f")
        self.assertEqual(local_srp.pad_hex(0x80), "0080")
        self.assertEqual(local_srp.pad_hex(0xABC), "0abc")


class AuthFlowTest(unittest.TestCase):
    """cognito_idp.flow_refusal: the app client's ExplicitAuthFlows, as Cognito enforces them."""

    CONSOLE = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]  # template.yaml's ConsoleUserPoolClient

    def test_the_console_client_allows_srp_and_refresh_only(self):
        for flow in ("USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            self.assertIsNone(cognito_idp.flow_refusal(self.CONSOLE, flow, admin=False), flow)
        self.assertEqual(cognito_idp.flow_refusal(self.CONSOLE, "USER_PASSWORD_AUTH", admin=False),
                         "USER_PASSWORD_AUTH flow not enabled for this client")
        self.assertEqual(cognito_idp.flow_refusal(self.CONSOLE, "CUSTOM_AUTH", admin=False),
                         "CUSTOM_AUTH flow not enabled for this client")
        self.assertEqual(cognito_idp.flow_refusal(self.CONSOLE, "ADMIN_USER_PASSWORD_AUTH", admin=True),
                         "Auth flow not enabled for this client")
        self.assertIsNone(cognito_idp.flow_refusal(self.CONSOLE, "REFRESH_TOKEN_AUTH", admin=True))

    def test_no_setting_is_awss_default_and_legacy_values_count(self):
        self.assertIsNone(cognito_idp.flow_refusal(None, "USER_SRP_AUTH", admin=False))
        self.assertIsNone(cognito_idp.flow_refusal([], "CUSTOM_AUTH", admin=False))
        self.assertIsNotNone(cognito_idp.flow_refusal(None, "USER_PASSWORD_AUTH", admin=False))
        self.assertIsNone(cognito_idp.flow_refusal(["ALLOW_USER_PASSWORD_AUTH"], "USER_PASSWORD_AUTH", admin=False))
        self.assertIsNone(cognito_idp.flow_refusal(["ADMIN_NO_SRP_AUTH"], "ADMIN_USER_PASSWORD_AUTH", admin=True))
        self.assertIsNone(cognito_idp.flow_refusal(["ADMIN_NO_SRP_AUTH"], "USER_SRP_AUTH", admin=False))
        # Flows moto itself refuses (unknown, or on the wrong operation) are left to it.
        self.assertIsNone(cognito_idp.flow_refusal(self.CONSOLE, "NO_SUCH_FLOW", admin=False))
        self.assertIsNone(cognito_idp.flow_refusal(self.CONSOLE, "ADMIN_USER_PASSWORD_AUTH", admin=False))

    def test_the_client_timestamp_is_the_sdks(self):
        stamp = local_srp.client_timestamp(datetime(2026, 11, 6, 9, 5, 1, tzinfo=timezone.utc))
        self.assertEqual(stamp, "Fri Nov 6 09:05:01 UTC 2026")


def headers(pairs: dict[str, str]) -> Message:
    message = Message()
    for k, v in pairs.items():
        message[k] = v
    return message


class SigV4Test(unittest.TestCase):
    """Against botocore's signer, which the AWS SDKs agree with."""

    def setUp(self):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        self.dir = tempfile.TemporaryDirectory()
        path = Path(self.dir.name) / "sessions.json"
        self.session = {"secretAccessKey": "secret", "sessionToken": "token", "expiration": time.time() + 600}
        path.write_text(json.dumps({"ASIATEST": self.session}))
        self.sessions = local_sigv4.Sessions(path)
        self.now = datetime.now(timezone.utc)

        def sign(method, url, body=b""):
            request = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
            auth = SigV4Auth(Credentials("ASIATEST", "secret", "token"), "execute-api", "us-east-1")
            auth.add_auth(request)
            return dict(request.headers.items(), Host="127.0.0.1:18005")

        self.sign = sign

    def tearDown(self):
        self.dir.cleanup()

    def verify(self, method, path, query, signed, body=b""):
        return local_sigv4.verify(method, path, query, headers(signed), body, "us-east-1", self.sessions)

    def test_a_signed_request_verifies_with_its_query(self):
        signed = self.sign("GET", "http://127.0.0.1:18005/accounts/a/data-exports?maxResults=5&nextToken=a%2Fb%3D")
        result = self.verify("GET", "/accounts/a/data-exports", "maxResults=5&nextToken=a%2Fb%3D", signed)
        self.assertEqual(result, self.session)

    def test_a_changed_body_query_or_token_is_refused(self):
        signed = self.sign("POST", "http://127.0.0.1:18005/accounts/a/data-exports", b"{}")
        self.assertEqual(self.verify("POST", "/accounts/a/data-exports", "", signed, b"{ }").error_type,
                         "InvalidSignatureException")
        signed = self.sign("GET", "http://127.0.0.1:18005/accounts/a/data-exports?maxResults=5")
        refused = self.verify("GET", "/accounts/a/data-exports", "maxResults=6", signed)
        self.assertEqual(refused.kind, "INVALID_SIGNATURE")
        signed["X-Amz-Security-Token"] = "other"
        self.assertEqual(self.verify("GET", "/accounts/a/data-exports", "maxResults=5", signed).message,
                         "The security token included in the request is invalid.")

    def test_an_old_signature_is_refused(self):
        signed = self.sign("GET", "http://127.0.0.1:18005/x")
        signed["X-Amz-Date"] = (self.now - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
        self.assertTrue(self.verify("GET", "/x", "", signed).message.startswith("Signature expired:"))


class ConsoleServerTest(unittest.TestCase):
    """console_server.py on an ephemeral port, serving a temporary dist/ and stack.env."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        root = Path(self.dir.name)
        (root / "dist/assets").mkdir(parents=True)
        (root / "stack.env").write_text(
            "export AWS_REGION=us-east-1\nexport API_URL=http://127.0.0.1:18005\n"
            "export COGNITO_IDP_ENDPOINT=http://127.0.0.1:18002\nexport COGNITO_IDENTITY_ENDPOINT=http://127.0.0.1:18006\n"
            "export USER_POOL_ID=us-east-1_abc\nexport USER_POOL_CLIENT_ID=client\n"
            "export IDENTITY_POOL_ID=us-east-1:00000000-0000-0000-0000-000000000000\n")
        self.saved = console_server.DIST, console_server.STACK_ENV
        console_server.DIST, console_server.STACK_ENV = root / "dist", root / "stack.env"
        self.server = local_http.Server(("127.0.0.1", 0), console_server.Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.root = root

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        console_server.DIST, console_server.STACK_ENV = self.saved
        self.dir.cleanup()

    def get(self, path: str):
        try:
            with urllib.request.urlopen(self.base + path) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def test_without_a_build_pages_are_503_and_config_is_served(self):
        status, headers, body = self.get("/")
        self.assertEqual(status, 503)
        self.assertIn(b"make console", body)
        status, headers, body = self.get("/config.json")
        self.assertEqual(status, 200)
        config = json.loads(body)
        self.assertEqual(config["userPoolId"], "us-east-1_abc")
        self.assertEqual(config["roles"]["StartDataExport"], "arn:aws:iam::000000000000:role/ConsoleStartRole")
        self.assertIn("http://127.0.0.1:18006", headers["Content-Security-Policy"])
        self.assertNotIn("amazonaws.com", headers["Content-Security-Policy"])

    def test_files_routes_and_refusals(self):
        (self.root / "dist/index.html").write_text('<!doctype html><meta charset="utf-8"><title>console</title>')
        (self.root / "dist/app.js").write_text("console.log(1)")
        status, headers, body = self.get("/app.js")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Referrer-Policy"], "no-referrer")
        self.assertTrue(headers["Strict-Transport-Security"].startswith("max-age="))
        for route in ("/", "/accounts/x/exports/y", "/assets/"):
            status, headers, body = self.get(route)
            self.assertEqual((status, headers["Content-Type"]), (200, "text/html; charset=utf-8"), route)
            self.assertIn(b"<title>console</title>", body)
            # connect-src pinned to the stack's endpoints, as `make deploy` pins it.
            self.assertIn(b'<meta http-equiv="Content-Security-Policy" content="connect-src &#x27;self&#x27; http://', body)
        self.assertEqual(self.get("/missing.js")[0], 404)
        self.assertEqual(self.get("/%2e%2e/stack.env")[0], 404)

    def test_no_path_leaves_dist(self):
        for path in ("/../README.md", "/%2e%2e/README.md", "/..%2fREADME.md", "/.hidden", "/a\\..\\b"):
            self.assertIsNone(console_server.resolve_file(path), path)


class MfaSetupTest(unittest.TestCase):
    """cognito_idp.patch_cognito_mfa_setup, in-process against moto: a pool that requires MFA, a
    user without an authenticator: MFA_SETUP, enrolment with the challenge's session, then TOTP."""

    def setUp(self):
        import base64
        import os
        from unittest import mock

        import boto3
        from cryptography.hazmat.primitives.hashes import SHA1
        from cryptography.hazmat.primitives.twofactor.totp import TOTP
        from moto import mock_aws
        from moto.cognitoidp import models as cognito

        saved = {name: getattr(cognito.CognitoIdpBackend, name) for name in
                 ("initiate_auth", "admin_initiate_auth", "respond_to_auth_challenge", "verify_software_token")}
        self.addCleanup(lambda: [setattr(cognito.CognitoIdpBackend, k, v) for k, v in saved.items()])
        env = mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                           "AWS_DEFAULT_REGION": "us-east-1",
                                           "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true"})
        env.start()
        self.addCleanup(env.stop)
        cognito_idp.patch_cognito_sign_in()
        cognito_idp.patch_cognito_mfa_setup()
        aws = mock_aws()
        aws.start()
        self.addCleanup(aws.stop)
        self.idp = boto3.client("cognito-idp", region_name="us-east-1")
        self.pool = self.idp.create_user_pool(PoolName="p", MfaConfiguration="OPTIONAL")["UserPool"]["Id"]
        self.idp.set_user_pool_mfa_config(UserPoolId=self.pool, MfaConfiguration="ON",
                                          SoftwareTokenMfaConfiguration={"Enabled": True})
        self.client = self.idp.create_user_pool_client(UserPoolId=self.pool, ClientName="c")["UserPoolClient"]["ClientId"]
        self.password = "Correct-Horse-9!"
        self.idp.admin_create_user(UserPoolId=self.pool, Username="jane", MessageAction="SUPPRESS")
        self.idp.admin_set_user_password(UserPoolId=self.pool, Username="jane", Password=self.password, Permanent=True)

        def code(secret: str, offset: int = 0) -> str:
            key = secret.upper() + "=" * ((8 - len(secret) % 8) % 8)
            totp = TOTP(base64.b32decode(key), 6, SHA1(), 30, enforce_key_length=False)
            return totp.generate(int(time.time()) + offset).decode()
        self.code = code

    def sign_in(self):
        return local_srp.client_sign_in(self.idp, self.pool, self.client, "jane", self.password)

    def test_enrolment_then_totp(self):
        setup = self.sign_in()
        self.assertEqual(setup["ChallengeName"], "MFA_SETUP")
        self.assertEqual(json.loads(setup["ChallengeParameters"]["MFAS_CAN_SETUP"]), ["SOFTWARE_TOKEN_MFA"])
        # Without a verified code, MFA_SETUP is refused.
        with self.assertRaises(self.idp.exceptions.NotAuthorizedException):
            self.idp.respond_to_auth_challenge(ClientId=self.client, ChallengeName="MFA_SETUP",
                                               Session=setup["Session"], ChallengeResponses={"USERNAME": "jane"})
        associated = self.idp.associate_software_token(Session=setup["Session"])
        secret = associated["SecretCode"]
        with self.assertRaises(self.idp.exceptions.CodeMismatchException):
            self.idp.verify_software_token(Session=associated["Session"], UserCode=self.code(secret, 300))
        verified = self.idp.verify_software_token(Session=associated["Session"], UserCode=self.code(secret),
                                                  FriendlyDeviceName="attachment-export console")
        self.assertEqual(verified["Status"], "SUCCESS")
        done = self.idp.respond_to_auth_challenge(ClientId=self.client, ChallengeName="MFA_SETUP",
                                                  Session=verified["Session"], ChallengeResponses={"USERNAME": "jane"})
        self.assertIn("IdToken", done["AuthenticationResult"])
        # The session is spent.
        with self.assertRaises(self.idp.exceptions.NotAuthorizedException):
            self.idp.respond_to_auth_challenge(ClientId=self.client, ChallengeName="MFA_SETUP",
                                               Session=verified["Session"], ChallengeResponses={"USERNAME": "jane"})
        self.assertEqual(self.sign_in()["ChallengeName"], "SOFTWARE_TOKEN_MFA")


class MotoPinTest(unittest.TestCase):
    """The moto patches are written for the moto requirements.lock pins: moto_server.py refuses any other."""

    def test_the_pin_is_read_from_requirements_lock_and_is_installed(self):
        lock = (LOCAL / "requirements.lock").read_text()
        self.assertIn(f"\nmoto=={moto_patches.pinned_moto_version()}\n", lock)
        self.assertEqual(moto_patches.installed_moto_version(), moto_patches.pinned_moto_version())
        moto_patches.require_pinned_moto()

    def test_another_version_is_refused_with_what_to_do(self):
        for installed in ("5.2.4", "5.3.0", ""):
            with self.assertRaises(moto_patches.MotoVersionError) as refused:
                moto_patches.require_pinned_moto(installed=installed, pinned="5.2.5")
            message = str(refused.exception)
            self.assertIn("moto 5.2.5, the version infra/local/requirements.lock pins", message)
            self.assertIn(f"moto {installed or '(none)'} is installed", message)
            self.assertIn("make setup", message)
        moto_patches.require_pinned_moto(installed="5.2.5", pinned="5.2.5")

    def test_moto_server_refuses_to_start_on_another_moto(self):
        server = LOCAL / "servers/moto_server.py"
        started = subprocess.run([sys.executable, str(server), "--help"], capture_output=True, text=True, timeout=120)
        self.assertEqual(started.returncode, 0, started.stderr)
        # The same script with the installed moto's metadata saying 5.3.0.
        code = ("import importlib.metadata as m, runpy, sys; m.version = lambda name: '5.3.0'; "
                f"sys.argv = [{str(server)!r}, '--port', '1']; runpy.run_path({str(server)!r}, run_name='__main__')")
        refused = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("moto_server: moto 5.3.0 is installed", refused.stderr)
        self.assertNotIn("Traceback", refused.stderr)


if __name__ == "__main__":
    unittest.main()
