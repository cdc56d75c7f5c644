"""The Cognito patch's MFA preferences (lib/moto_patches/cognito_idp.py,
patch_cognito_mfa_preference), in-process against moto with every Cognito patch applied, as
servers/moto_server.py applies them. The attack: a user's access token turns TOTP off through the
Cognito API (SetUserMFAPreference, SoftwareTokenMfaSettings Enabled false). In a pool that requires
MFA (ON), Cognito answers success and the user keeps the authenticator; in an OPTIONAL pool it is
turned off. And an operator's reset of a lost authenticator, AdminDeleteSoftwareToken."""

import base64
import os
import sys
import time
import unittest
from pathlib import Path
from unittest import mock

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from cryptography.hazmat.primitives.hashes import SHA1  # noqa: E402
from cryptography.hazmat.primitives.twofactor.totp import TOTP  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.cognitoidp import models as cognito  # noqa: E402
from moto.cognitoidp.responses import CognitoIdpResponse  # noqa: E402

from lib import local_srp  # noqa: E402
from lib.moto_patches import cognito_idp  # noqa: E402

# What cognito_idp.apply() replaces or adds, by class: saved before each test, put back after it.
PATCHED = {
    cognito.CognitoIdpBackend: ("initiate_auth", "admin_initiate_auth", "respond_to_auth_challenge",
                                "verify_software_token", "admin_set_user_mfa_preference",
                                "admin_delete_software_token"),
    cognito.CognitoIdpUserPool: ("create_jwt", "create_refresh_token", "create_tokens_from_refresh_token"),
    CognitoIdpResponse: ("revoke_token", "admin_delete_software_token"),
}
MISSING = object()
DISABLE_TOTP = {"Enabled": False, "PreferredMfa": False}


def code(secret: str) -> str:
    """The authenticator's current code (RFC 6238: SHA-1, 6 digits, 30 s). moto accepts the current
    period's code only: near a period's end, wait for the next one."""
    left = 30 - time.time() % 30
    if left < 2:
        time.sleep(left + 0.1)
    key = secret.upper() + "=" * ((8 - len(secret) % 8) % 8)
    return TOTP(base64.b32decode(key), 6, SHA1(), 30, enforce_key_length=False).generate(int(time.time())).decode()


class MfaPreferenceTest(unittest.TestCase):
    USER = "jane"
    PASSWORD = "Correct-Horse-9!"

    def setUp(self):
        saved = {(cls, name): cls.__dict__.get(name, MISSING) for cls, names in PATCHED.items() for name in names}

        def restore():
            for (cls, name), value in saved.items():
                if value is MISSING:
                    if name in cls.__dict__:
                        delattr(cls, name)
                else:
                    setattr(cls, name, value)
        self.addCleanup(restore)
        env = mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                           "AWS_DEFAULT_REGION": "us-east-1",
                                           "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true"})
        env.start()
        self.addCleanup(env.stop)
        cognito_idp.apply()
        aws = mock_aws()
        aws.start()
        self.addCleanup(aws.stop)
        self.idp = boto3.client("cognito-idp", region_name="us-east-1")
        self.pool = self.idp.create_user_pool(PoolName="p", MfaConfiguration="OPTIONAL")["UserPool"]["Id"]
        self.require("OPTIONAL")
        self.client = self.idp.create_user_pool_client(UserPoolId=self.pool, ClientName="c")["UserPoolClient"]["ClientId"]
        self.idp.admin_create_user(UserPoolId=self.pool, Username=self.USER, MessageAction="SUPPRESS")
        self.idp.admin_set_user_password(UserPoolId=self.pool, Username=self.USER, Password=self.PASSWORD,
                                         Permanent=True)

    def require(self, mode: str) -> None:
        """The pool's MfaConfiguration (the template's ConsoleMfa), TOTP its one factor."""
        self.idp.set_user_pool_mfa_config(UserPoolId=self.pool, MfaConfiguration=mode,
                                          SoftwareTokenMfaConfiguration={"Enabled": True})

    def sign_in(self) -> dict:
        return local_srp.client_sign_in(self.idp, self.pool, self.client, self.USER, self.PASSWORD)

    def sign_in_with_totp(self, secret: str) -> str:
        """A sign-in that asks for the authenticator's code, answered: the access token."""
        asked = self.sign_in()
        self.assertEqual(asked.get("ChallengeName"), "SOFTWARE_TOKEN_MFA")
        done = self.idp.respond_to_auth_challenge(
            ClientId=self.client, ChallengeName="SOFTWARE_TOKEN_MFA", Session=asked["Session"],
            ChallengeResponses={"USERNAME": self.USER, "SOFTWARE_TOKEN_MFA_CODE": code(secret)})
        return done["AuthenticationResult"]["AccessToken"]

    def enrolled(self, mode: str) -> tuple[str, str]:
        """The user turns TOTP on for themselves, as on the console's Sign-in security page (an
        OPTIONAL pool), then the operator sets the pool to `mode`; the user signs in with a code.
        Returns the authenticator's secret and that sign-in's access token."""
        access = self.sign_in()["AuthenticationResult"]["AccessToken"]
        secret = self.idp.associate_software_token(AccessToken=access)["SecretCode"]
        self.idp.verify_software_token(AccessToken=access, UserCode=code(secret), FriendlyDeviceName="phone")
        self.idp.set_user_mfa_preference(AccessToken=access,
                                         SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        self.require(mode)
        return secret, self.sign_in_with_totp(secret)

    def assert_totp(self, access: str, on: bool) -> None:
        """GetUser (the user's view, the console's usesTotp) and AdminGetUser (the operator's)."""
        for user in (self.idp.get_user(AccessToken=access),
                     self.idp.admin_get_user(UserPoolId=self.pool, Username=self.USER)):
            self.assertEqual(user.get("UserMFASettingList", []), ["SOFTWARE_TOKEN_MFA"] if on else [])
            self.assertEqual(user.get("PreferredMfaSetting", ""), "SOFTWARE_TOKEN_MFA" if on else "")

    def test_required_mfa_an_access_token_does_not_turn_totp_off(self):
        secret, access = self.enrolled("ON")
        self.assert_totp(access, on=True)
        answer = self.idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings=DISABLE_TOTP)
        # Cognito answers success (no error to tell the caller) and changes nothing.
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assert_totp(access, on=True)
        # The next sign-in still asks for the same authenticator's code, and it still signs in.
        self.assertTrue(self.sign_in_with_totp(secret))

    def test_required_mfa_the_operator_call_does_not_turn_totp_off_either(self):
        secret, access = self.enrolled("ON")
        self.idp.admin_set_user_mfa_preference(UserPoolId=self.pool, Username=self.USER,
                                               SoftwareTokenMfaSettings=DISABLE_TOTP)
        self.assert_totp(access, on=True)
        self.assertEqual(self.sign_in().get("ChallengeName"), "SOFTWARE_TOKEN_MFA")

    def test_optional_mfa_an_access_token_turns_totp_off(self):
        secret, access = self.enrolled("OPTIONAL")
        answer = self.idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings=DISABLE_TOTP)
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assert_totp(access, on=False)
        # The password alone signs in (moto itself still asked for a code).
        access = self.sign_in()["AuthenticationResult"]["AccessToken"]
        # Turned on again, the same authenticator is asked for.
        self.idp.set_user_mfa_preference(AccessToken=access,
                                         SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        self.assert_totp(access, on=True)
        self.assertTrue(self.sign_in_with_totp(secret))

    def test_required_mfa_a_user_enrolled_at_sign_in_keeps_the_authenticator(self):
        self.require("ON")
        setup = self.sign_in()
        self.assertEqual(setup["ChallengeName"], "MFA_SETUP")
        associated = self.idp.associate_software_token(Session=setup["Session"])
        secret = associated["SecretCode"]
        verified = self.idp.verify_software_token(Session=associated["Session"], UserCode=code(secret))
        access = self.idp.respond_to_auth_challenge(
            ClientId=self.client, ChallengeName="MFA_SETUP", Session=verified["Session"],
            ChallengeResponses={"USERNAME": self.USER})["AuthenticationResult"]["AccessToken"]
        self.idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings=DISABLE_TOTP)
        # Neither tokens for the password alone nor a new enrolment (MFA_SETUP): the same code.
        self.assertTrue(self.sign_in_with_totp(secret))

    def test_required_mfa_enabling_and_preferring_totp_still_work(self):
        secret, access = self.enrolled("ON")
        self.idp.admin_set_user_mfa_preference(UserPoolId=self.pool, Username=self.USER,
                                               SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False})
        user = self.idp.get_user(AccessToken=access)
        self.assertEqual(user["UserMFASettingList"], ["SOFTWARE_TOKEN_MFA"])
        self.assertEqual(user.get("PreferredMfaSetting", ""), "")
        self.idp.set_user_mfa_preference(AccessToken=access,
                                         SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        self.assert_totp(access, on=True)

    def test_the_operator_resets_a_lost_authenticator_and_the_user_enrols_again(self):
        _, access = self.enrolled("ON")
        answer = self.idp.admin_delete_software_token(UserPoolId=self.pool, Username=self.USER)
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assert_totp(access, on=False)
        # MFA required: the next sign-in enrols a new authenticator, which then signs in.
        setup = self.sign_in()
        self.assertEqual(setup["ChallengeName"], "MFA_SETUP")
        associated = self.idp.associate_software_token(Session=setup["Session"])
        verified = self.idp.verify_software_token(Session=associated["Session"],
                                                  UserCode=code(associated["SecretCode"]))
        done = self.idp.respond_to_auth_challenge(ClientId=self.client, ChallengeName="MFA_SETUP",
                                                  Session=verified["Session"], ChallengeResponses={"USERNAME": self.USER})
        self.assertIn("AccessToken", done["AuthenticationResult"])
        self.assertEqual(self.sign_in().get("ChallengeName"), "SOFTWARE_TOKEN_MFA")

    def test_a_reset_in_an_optional_pool_leaves_the_password_and_an_unknown_user_is_refused(self):
        self.enrolled("OPTIONAL")
        self.idp.admin_delete_software_token(UserPoolId=self.pool, Username=self.USER)
        self.assertIn("AccessToken", self.sign_in()["AuthenticationResult"])
        with self.assertRaises(self.idp.exceptions.UserNotFoundException):
            self.idp.admin_delete_software_token(UserPoolId=self.pool, Username="nobody")


if __name__ == "__main__":
    unittest.main()
