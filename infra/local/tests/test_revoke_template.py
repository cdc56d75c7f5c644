"""RevokeDataExport (issue 25) as the local stack reads it from template.yaml and
infra/api/openapi.yaml, without a running stack: the local gateway routes the revoke route to
revoke-export-api, IAM (lib/local_iam.py, as the gateway and the invoke proxy evaluate it) lets only
RevokeDataExport (and DataExportFullAccess, and the operator) revoke, and only the tagged account's
exports, RetrieveDataExport alone never; the console's RevokeDataExport group maps to its own role,
which can also read the exports; only API Gateway may invoke revoke-export-api, for the revoke route
only, and only DataExportOperator may invoke revoke-export.
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
"""

import sys
import unittest
from pathlib import Path

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_cognito, local_template  # noqa: E402
from lib.local_iam import Request, identity_context, is_allowed  # noqa: E402
from servers import local_gateway  # noqa: E402

ACCOUNT = "000000000000"
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
EXPORT = "01KAW6ZQ5V0000000000000000"
REVOKE_ROUTE = "/accounts/{accountId}/data-exports/{exportId}/revoke"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ConsoleRevokeRole/CognitoIdentityCredentials"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:user/operator"


def route_arn(method: str, account: str, rest: str = "") -> str:
    return f"arn:aws:execute-api:us-east-1:{ACCOUNT}:local/local/{method}/accounts/{account}/data-exports{rest}"


def revoke_arn(account: str, export: str = EXPORT) -> str:
    return route_arn("POST", account, f"/{export}/revoke")


class GatewayRouteTest(unittest.TestCase):
    def test_the_gateway_routes_the_revoke_route_to_revoke_export_api(self):
        self.assertIn(("POST", REVOKE_ROUTE, "revoke-export-api"), local_gateway.ROUTES)
        # The other routes stay on their functions: a revoke path is not an export's GET.
        self.assertIn(("GET", "/accounts/{accountId}/data-exports/{exportId}", "retrieve-export-api"),
                      local_gateway.ROUTES)
        methods = {m for m, template, _ in local_gateway.ROUTES if template == REVOKE_ROUTE}
        self.assertEqual(methods, {"POST"})

    def test_the_revoke_route_has_a_preflight_for_post(self):
        mocks = [m for m in local_gateway.MOCKS if m[1] == REVOKE_ROUTE]
        self.assertEqual(len(mocks), 1)
        method, _, signed, status, parameters = mocks[0]
        self.assertEqual((method, signed, status), ("OPTIONS", False, 204))
        allowed = parameters["method.response.header.Access-Control-Allow-Methods"].strip("'").split(",")
        self.assertEqual(sorted(allowed), ["OPTIONS", "POST"])


class RevokePoliciesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = local_template.template()
        cls.managed = cls.template.managed_policies()
        cls.functions = cls.template.function_policies()

    def may(self, policies: list[str], resource: str, tags=None, principal=SESSION) -> bool:
        request = Request("execute-api:Invoke", resource, {"AWS": principal}, identity_context(principal, tags))
        return is_allowed([self.managed[n] for n in policies], request)

    def test_revoke_is_its_own_policy_for_the_tagged_account_only(self):
        tag = {"chatAccountId": A}
        self.assertIn("RevokeDataExport", self.managed)
        self.assertTrue(self.may(["RevokeDataExport"], revoke_arn(A), tags=tag))
        self.assertFalse(self.may(["RevokeDataExport"], revoke_arn(B), tags=tag), "another account's export")
        self.assertFalse(self.may(["RevokeDataExport"], revoke_arn(A)), "no tag: the Null condition fails")
        self.assertFalse(self.may(["RevokeDataExport"], revoke_arn(A), tags={"chatAccountId": "*"}))
        # Revoking grants nothing else: no GET, no start.
        self.assertFalse(self.may(["RevokeDataExport"], route_arn("GET", A, f"/{EXPORT}"), tags=tag))
        self.assertFalse(self.may(["RevokeDataExport"], route_arn("POST", A), tags=tag))

    def test_retrieve_alone_cannot_revoke_and_start_cannot_either(self):
        tag = {"chatAccountId": A}
        self.assertTrue(self.may(["RetrieveDataExport"], route_arn("GET", A, f"/{EXPORT}"), tags=tag))
        self.assertFalse(self.may(["RetrieveDataExport"], revoke_arn(A), tags=tag))
        self.assertFalse(self.may(["StartDataExport"], revoke_arn(A), tags=tag))
        self.assertFalse(self.may(["StartDataExport", "RetrieveDataExport"], revoke_arn(A), tags=tag))

    def test_full_access_and_the_operator_may_revoke(self):
        tag = {"chatAccountId": A}
        self.assertTrue(self.may(["DataExportFullAccess"], revoke_arn(A), tags=tag))
        self.assertFalse(self.may(["DataExportFullAccess"], revoke_arn(B), tags=tag))
        self.assertTrue(self.may(["DataExportOperator"], revoke_arn(B), principal=OPERATOR))

    def test_only_the_operator_invokes_revoke_export_directly(self):
        function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:revoke-export"

        def invokes(names: list[str]) -> bool:
            request = Request("lambda:InvokeFunction", function, {"AWS": OPERATOR}, identity_context(OPERATOR))
            return is_allowed([self.managed[n] for n in names], request)

        self.assertTrue(invokes(["DataExportOperator"]))
        for tenant in ("StartDataExport", "RetrieveDataExport", "RevokeDataExport", "DataExportFullAccess"):
            self.assertFalse(invokes([tenant]), tenant)

    def test_only_api_gateway_invokes_revoke_export_api_and_for_the_revoke_route_only(self):
        api = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:revoke-export-api"
        policy_of = [self.functions[api]]

        def invoke(service: str, source: str) -> bool:
            context = {"aws:SourceArn": source, "aws:SourceAccount": source.split(":")[4]}
            return is_allowed(policy_of, Request("lambda:InvokeFunction", api, {"Service": service}, context))

        self.assertTrue(invoke("apigateway.amazonaws.com", revoke_arn(A)))
        self.assertFalse(invoke("apigateway.amazonaws.com", route_arn("GET", A, f"/{EXPORT}")))
        self.assertFalse(invoke("apigateway.amazonaws.com", route_arn("POST", A)))
        self.assertFalse(invoke("events.amazonaws.com", revoke_arn(A)))
        # The direct function has no resource policy: no service may invoke it.
        self.assertNotIn(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:revoke-export", self.functions)


class ConsoleGroupTest(unittest.TestCase):
    def test_the_revoke_group_has_its_own_role_which_may_also_read(self):
        roles = local_cognito.role_arns_by_group()
        self.assertEqual(roles.get("RevokeDataExport"), f"arn:aws:iam::{ACCOUNT}:role/ConsoleRevokeRole")
        self.assertIn("RevokeDataExport", local_cognito.GROUP_NAMES)
        t = local_template.template()
        policies = t.role_identity_policies("ConsoleRevokeRole")
        tag = {"chatAccountId": A}

        def may(resource: str) -> bool:
            request = Request("execute-api:Invoke", resource, {"AWS": SESSION}, identity_context(SESSION, tag))
            return is_allowed(policies, request)

        self.assertTrue(may(revoke_arn(A)))
        self.assertTrue(may(route_arn("GET", A)), "the console lists the exports with this role")
        self.assertTrue(may(route_arn("GET", A, f"/{EXPORT}")))
        self.assertFalse(may(route_arn("POST", A)), "revoking does not start exports")
        self.assertFalse(may(revoke_arn(B)))

    def test_the_retrieve_role_cannot_revoke(self):
        t = local_template.template()
        policies = t.role_identity_policies("ConsoleRetrieveRole")
        principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/ConsoleRetrieveRole/CognitoIdentityCredentials"
        request = Request("execute-api:Invoke", revoke_arn(A), {"AWS": principal},
                          identity_context(principal, {"chatAccountId": A}))
        self.assertFalse(is_allowed(policies, request))


if __name__ == "__main__":
    unittest.main()
