"""IAM's evaluation logic, as lib/local_iam.py implements it, checked statement by statement against
what AWS documents (IAM User Guide: policy evaluation logic, the Condition operators, policy
variables, Principal); then template.yaml's own policies, as the local gateway and the invoke
proxy evaluate them. No running stack:
    .local/venv/bin/python -m unittest discover -s infra/local/tests -p 'test_*.py'
"""

import sys
import unittest
from pathlib import Path

# infra/local on sys.path, once, as the servers do: the shared library is the package `lib`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import local_iam, local_template  # noqa: E402
from lib.local_iam import Request, decide, identity_context, is_allowed  # noqa: E402

ACCOUNT = "000000000000"
USER = f"arn:aws:iam::{ACCOUNT}:user/ada"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ConsoleStartRole/CognitoIdentityCredentials"
BUCKET = "arn:aws:s3:::bucket"


def policy(*statements: dict, version: str | None = "2012-10-17") -> dict:
    document: dict = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def allow(action="s3:GetObject", resource=f"{BUCKET}/*", **more) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action="s3:GetObject", resource=f"{BUCKET}/*", **more) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def request(action="s3:GetObject", resource=f"{BUCKET}/key", principal=USER, context=None, tags=None) -> Request:
    ctx = identity_context(principal, tags) if principal.startswith("arn:") else {}
    ctx.update(context or {})
    kind = "AWS" if principal.startswith("arn:") else "Service"
    return Request(action, resource, {kind: principal}, ctx)


class DecisionTest(unittest.TestCase):
    """Explicit deny, allow, implicit (default) deny."""

    def test_nothing_applies_is_an_implicit_deny(self):
        self.assertEqual(decide([], request()), "ImplicitDeny")
        self.assertEqual(decide([policy(allow(action="s3:PutObject"))], request()), "ImplicitDeny")
        self.assertEqual(decide([policy(allow(resource=f"{BUCKET}-other/*"))], request()), "ImplicitDeny")
        self.assertFalse(is_allowed([policy()], request()))

    def test_an_allow_allows(self):
        self.assertEqual(decide([policy(allow())], request()), "Allow")
        self.assertTrue(is_allowed([policy(allow())], request()))

    def test_an_explicit_deny_beats_any_allow_in_any_policy_in_any_order(self):
        for policies in ([policy(allow(), deny())], [policy(deny(), allow())],
                         [policy(allow()), policy(deny())], [policy(deny()), policy(allow(action="s3:*"))]):
            self.assertEqual(decide(policies, request()), "Deny", policies)
            self.assertFalse(is_allowed(policies, request()))

    def test_a_deny_that_does_not_apply_leaves_the_allow(self):
        policies = [policy(allow(action="s3:*"), deny(action="s3:DeleteObject"))]
        self.assertEqual(decide(policies, request()), "Allow")
        self.assertEqual(decide(policies, request(action="s3:DeleteObject")), "Deny")

    def test_an_effect_other_than_allow_grants_nothing(self):
        self.assertEqual(decide([policy({"Effect": "allow ", "Action": "*", "Resource": "*"})], request()),
                         "ImplicitDeny")


class ActionTest(unittest.TestCase):
    def test_wildcards_and_letter_case(self):
        for action in ("s3:GetObject", "S3:getobject", "s3:*", "s3:Get*", "s3:G?tObject", "*", ["iam:*", "s3:Get*"]):
            self.assertTrue(is_allowed([policy(allow(action=action))], request()), action)
        for action in ("s3:Put*", "s3:G?Object", "s3:GetObjectAcl", "s3", "ec2:*", "s3:GetObject*x"):
            self.assertFalse(is_allowed([policy(allow(action=action))], request()), action)

    def test_not_action_applies_to_every_other_action(self):
        everything_but_s3 = policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
        self.assertFalse(is_allowed([everything_but_s3], request()))
        self.assertTrue(is_allowed([everything_but_s3], request(action="sqs:SendMessage")))
        deny_all_but_reads = [policy(allow(action="*", resource="*"),
                                     {"Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"})]
        self.assertTrue(is_allowed(deny_all_but_reads, request()))
        self.assertEqual(decide(deny_all_but_reads, request(action="s3:PutObject")), "Deny")

    def test_a_statement_needs_exactly_one_of_action_and_not_action(self):
        # Invalid in IAM (it refuses such a policy); here it fails closed: grants nothing, denies.
        no_action = {"Resource": "*"}
        both = {"Action": "s3:*", "NotAction": "sqs:*", "Resource": "*"}
        for shape in (no_action, both):
            self.assertEqual(decide([policy({"Effect": "Allow", **shape})], request()), "ImplicitDeny", shape)
            self.assertEqual(decide([policy(allow(action="*", resource="*"), {"Effect": "Deny", **shape})],
                                    request()), "Deny", shape)


class ResourceTest(unittest.TestCase):
    def test_wildcards_span_slashes_and_colons_and_match_case(self):
        arn = "arn:aws:execute-api:us-east-1:000000000000:local/local/GET/accounts/a/data-exports/b"
        for resource in (arn, "*", "arn:aws:execute-api:*", "arn:aws:execute-api:us-east-1:000000000000:local/*/GET/*",
                         "arn:aws:execute-api:*:*:local/local/GET/accounts/?/data-exports/*"):
            self.assertTrue(is_allowed([policy(allow(action="*", resource=resource))], request(resource=arn)), resource)
        for resource in (arn.upper(), arn + "/", "arn:aws:execute-api:us-east-1:000000000000:local/*/POST/*",
                         "arn:aws:execute-api:*:*:local/local/GET/accounts/??/data-exports/*"):
            self.assertFalse(is_allowed([policy(allow(action="*", resource=resource))], request(resource=arn)), resource)

    def test_not_resource_applies_to_every_other_resource(self):
        others = policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"})
        self.assertTrue(is_allowed([others], request()))
        self.assertFalse(is_allowed([others], request(resource=f"{BUCKET}/secret/key")))
        only_public = [policy(allow(resource="*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/public/*"})]
        self.assertTrue(is_allowed(only_public, request(resource=f"{BUCKET}/public/a")))
        self.assertEqual(decide(only_public, request(resource=f"{BUCKET}/private/a")), "Deny")

    def test_a_statement_needs_exactly_one_of_resource_and_not_resource(self):
        for shape in ({}, {"Resource": "*", "NotResource": f"{BUCKET}/x"}):
            statement = {"Action": "s3:*", **shape}
            self.assertEqual(decide([policy({"Effect": "Allow", **statement})], request()), "ImplicitDeny", shape)
            self.assertEqual(decide([policy(allow(action="*", resource="*"), {"Effect": "Deny", **statement})],
                                    request()), "Deny", shape)


class ConditionTest(unittest.TestCase):
    def allowed(self, condition: dict, context: dict | None = None, **req) -> bool:
        return is_allowed([policy(allow(Condition=condition))], request(context=context, **req))

    def test_string_equals_is_exact_and_case_sensitive_and_keys_are_not(self):
        condition = {"StringEquals": {"aws:PrincipalTag/team": "blue"}}
        self.assertTrue(self.allowed(condition, tags={"team": "blue"}))
        self.assertFalse(self.allowed(condition, tags={"team": "Blue"}))
        self.assertFalse(self.allowed(condition, tags={"team": "blue2"}))
        self.assertFalse(self.allowed({"StringEquals": {"aws:PrincipalTag/team": "b*"}}, tags={"team": "blue"}))
        self.assertTrue(self.allowed({"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "blue"}}, tags={"team": "blue"}))

    def test_values_are_ored_keys_and_operators_anded(self):
        self.assertTrue(self.allowed({"StringEquals": {"aws:PrincipalTag/team": ["red", "blue"]}}, tags={"team": "blue"}))
        both = {"StringEquals": {"aws:PrincipalTag/team": "blue", "aws:PrincipalTag/site": "x"}}
        self.assertTrue(self.allowed(both, tags={"team": "blue", "site": "x"}))
        self.assertFalse(self.allowed(both, tags={"team": "blue", "site": "y"}))
        two_operators = {"StringEquals": {"aws:PrincipalTag/team": "blue"}, "StringLike": {"aws:PrincipalTag/site": "e*"}}
        self.assertTrue(self.allowed(two_operators, tags={"team": "blue", "site": "east"}))
        self.assertFalse(self.allowed(two_operators, tags={"team": "blue", "site": "west"}))

    def test_an_absent_key_satisfies_only_negated_operators(self):
        for operator in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnLike", "ArnEquals", "Bool"):
            self.assertFalse(self.allowed({operator: {"aws:PrincipalTag/team": "x"}}), operator)
        for operator in ("StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase", "ArnNotLike", "ArnNotEquals"):
            self.assertTrue(self.allowed({operator: {"aws:PrincipalTag/team": "x"}}), operator)

    def test_negated_and_case_insensitive_operators(self):
        self.assertFalse(self.allowed({"StringNotEquals": {"aws:PrincipalTag/team": ["red", "blue"]}}, tags={"team": "blue"}))
        self.assertTrue(self.allowed({"StringNotEquals": {"aws:PrincipalTag/team": ["red", "blue"]}}, tags={"team": "green"}))
        self.assertTrue(self.allowed({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "BLUE"}}, tags={"team": "blue"}))
        self.assertFalse(self.allowed({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "BLUE"}}, tags={"team": "blue"}))
        self.assertTrue(self.allowed({"StringLike": {"aws:PrincipalTag/team": "b?u*"}}, tags={"team": "blue"}))
        self.assertFalse(self.allowed({"StringNotLike": {"aws:PrincipalTag/team": "b*"}}, tags={"team": "blue"}))
        self.assertTrue(self.allowed({"StringNotLike": {"aws:PrincipalTag/team": "r*"}}, tags={"team": "blue"}))

    def test_arn_operators_match_component_by_component(self):
        source = {"aws:SourceArn": "arn:aws:execute-api:us-east-1:000000000000:local/local/GET/accounts/a:b"}
        for operator in ("ArnLike", "ArnEquals"):
            for value in ("arn:aws:execute-api:us-east-1:000000000000:local/*",
                          "arn:aws:execute-api:*:000000000000:local/*/GET/*",
                          "arn:aws:execute-api:us-east-?:*:*"):
                self.assertTrue(self.allowed({operator: {"aws:SourceArn": value}}, source), (operator, value))
            # A wildcard stays inside its component: five components never match six, whatever the `*`.
            for value in ("arn:aws:execute-api:*:local/*", "arn:aws:*:local/*", "arn:aws:execute-api:us-east-1:*",
                          "arn:aws:execute-api:us-east-1:000000000000:local/*/POST/*",
                          "arn:aws:execute-api:US-EAST-1:000000000000:local/*"):
                self.assertFalse(self.allowed({operator: {"aws:SourceArn": value}}, source), (operator, value))
        self.assertFalse(self.allowed({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, {"aws:SourceArn": "not-an-arn"}))
        self.assertTrue(self.allowed({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, source))
        self.assertFalse(self.allowed({"ArnNotLike": {"aws:SourceArn": "arn:aws:execute-api:*:*:*"}}, source))

    def test_an_arn_operator_value_that_is_no_arn_fails_closed(self):
        source = {"aws:SourceArn": "arn:aws:sns:us-east-1:000000000000:topic"}
        self.assertFalse(self.allowed({"ArnNotLike": {"aws:SourceArn": "*"}}, source))
        self.assertFalse(self.allowed({"ArnLike": {"aws:SourceArn": "*"}}, source))
        self.assertEqual(decide([policy(allow(), deny(Condition={"ArnNotLike": {"aws:SourceArn": "*"}}))],
                                request(context=source)), "Deny")

    def test_bool(self):
        for written in ("true", "True", True, ["true"]):
            self.assertTrue(self.allowed({"Bool": {"aws:SecureTransport": written}}, {"aws:SecureTransport": "true"}), written)
            self.assertFalse(self.allowed({"Bool": {"aws:SecureTransport": written}}, {"aws:SecureTransport": "false"}), written)
        self.assertTrue(self.allowed({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"}))

    def test_if_exists_is_true_for_an_absent_key_and_tests_a_present_one(self):
        condition = {"StringEqualsIfExists": {"aws:PrincipalTag/team": "blue"}}
        self.assertTrue(self.allowed(condition))
        self.assertTrue(self.allowed(condition, tags={"team": "blue"}))
        self.assertFalse(self.allowed(condition, tags={"team": "red"}))
        self.assertTrue(self.allowed({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:t"}}))
        self.assertFalse(self.allowed({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:t"}},
                                      {"aws:SourceArn": "arn:aws:sns:us-east-1:1:u"}))
        self.assertTrue(self.allowed({"BoolIfExists": {"aws:SecureTransport": "true"}}))
        self.assertFalse(self.allowed({"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "blue"}}, tags={"team": "blue"}))

    def test_null(self):
        self.assertTrue(self.allowed({"Null": {"aws:PrincipalTag/team": "true"}}))
        self.assertFalse(self.allowed({"Null": {"aws:PrincipalTag/team": "true"}}, tags={"team": "x"}))
        self.assertTrue(self.allowed({"Null": {"aws:PrincipalTag/team": "false"}}, tags={"team": "x"}))
        self.assertFalse(self.allowed({"Null": {"aws:PrincipalTag/team": False}}))

    def test_what_is_not_implemented_fails_closed(self):
        # Operators this evaluator does not implement (numeric, date, IP, binary, multivalued set
        # operators), Null with IfExists (not an operator IAM has) or with a value that is no
        # boolean, a Condition that is not a map: an Allow grants nothing, a Deny denies.
        context = {"aws:SourceIp": "127.0.0.1", "aws:CurrentTime": "2026-01-01T00:00:00Z", "s3:max-keys": "5",
                   "aws:TagKeys": "team", "aws:PrincipalTag/team": "x"}
        unimplemented = [
            {"NumericLessThan": {"s3:max-keys": "10"}},
            {"NumericLessThanIfExists": {"s3:max-keys": "10"}},
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
            {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"BinaryEquals": {"aws:PrincipalTag/team": "eA=="}},
            {"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}},
            {"ForAllValues:StringLike": {"aws:TagKeys": "*"}},
            {"NullIfExists": {"aws:PrincipalTag/team": "false"}},
            {"Null": {"aws:PrincipalTag/team": "maybe"}},
            {"StringEquals": "aws:PrincipalTag/team"},
        ]
        for condition in unimplemented:
            self.assertFalse(self.allowed(condition, context), condition)
            self.assertEqual(decide([policy(allow(), deny(Condition=condition))], request(context=context)), "Deny",
                             condition)


class VariableTest(unittest.TestCase):
    def test_a_principal_tag_in_a_resource_is_the_callers(self):
        mine = policy(allow(resource=f"{BUCKET}/${{aws:PrincipalTag/team}}/*"))
        self.assertTrue(is_allowed([mine], request(resource=f"{BUCKET}/blue/a", tags={"team": "blue"})))
        self.assertFalse(is_allowed([mine], request(resource=f"{BUCKET}/red/a", tags={"team": "blue"})))

    def test_a_value_is_matched_literally(self):
        mine = policy(allow(resource=f"{BUCKET}/${{aws:PrincipalTag/team}}/*"))
        self.assertFalse(is_allowed([mine], request(resource=f"{BUCKET}/blue/a", tags={"team": "*"})))
        self.assertTrue(is_allowed([mine], request(resource=f"{BUCKET}/*/a", tags={"team": "*"})))
        self.assertFalse(is_allowed([mine], request(resource=f"{BUCKET}/bl/a", tags={"team": "b?"})))

    def test_a_resource_with_a_variable_without_value_matches_nothing(self):
        mine = policy(allow(resource=[f"{BUCKET}/${{aws:PrincipalTag/team}}/*", f"{BUCKET}/shared/*"]))
        self.assertFalse(is_allowed([mine], request(resource=f"{BUCKET}//a")))
        self.assertFalse(is_allowed([mine], request(resource=f"{BUCKET}/${{aws:PrincipalTag/team}}/a")))
        self.assertTrue(is_allowed([mine], request(resource=f"{BUCKET}/shared/a")))
        # In NotResource, likewise: that entry excludes nothing (AWS: it "will not match any resource").
        others = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/${{aws:PrincipalTag/team}}/*"})
        self.assertTrue(is_allowed([others], request(resource=f"{BUCKET}/blue/a")))
        self.assertFalse(is_allowed([others], request(resource=f"{BUCKET}/blue/a", tags={"team": "blue"})))

    def test_a_condition_value_with_a_variable_without_value(self):
        # AWS: StringEquals/StringLike do not match a null value; StringNotEquals/StringNotLike do.
        equals = {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
        not_equals = {"StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
        resource_tag = {"aws:ResourceTag/team": "blue"}
        self.assertTrue(is_allowed([policy(allow(Condition=equals))], request(context=resource_tag, tags={"team": "blue"})))
        self.assertFalse(is_allowed([policy(allow(Condition=equals))], request(context=resource_tag, tags={"team": "red"})))
        self.assertFalse(is_allowed([policy(allow(Condition=equals))], request(context=resource_tag)))
        self.assertTrue(is_allowed([policy(allow(Condition=not_equals))], request(context=resource_tag)))
        self.assertFalse(is_allowed([policy(allow(Condition=not_equals))],
                                    request(context=resource_tag, tags={"team": "blue"})))
        # The AWS example: no Team tag on the principal, the Deny applies.
        self.assertEqual(decide([policy(allow(), deny(Condition=not_equals))], request(context=resource_tag)), "Deny")

    def test_aws_username_is_an_iam_users_and_no_roles(self):
        own = policy(allow(action="iam:*AccessKey*", resource=f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))
        self.assertTrue(is_allowed([own], request(action="iam:CreateAccessKey", resource=USER)))
        self.assertFalse(is_allowed([own], request(action="iam:CreateAccessKey", resource=f"arn:aws:iam::{ACCOUNT}:user/bob")))
        self.assertEqual(identity_context(f"arn:aws:iam::{ACCOUNT}:user/division/ada")["aws:username"], "ada")
        self.assertNotIn("aws:username", identity_context(SESSION))
        self.assertFalse(is_allowed([own], request(action="iam:CreateAccessKey", principal=SESSION,
                                                   resource=f"arn:aws:iam::{ACCOUNT}:user/CognitoIdentityCredentials")))

    def test_special_characters(self):
        literal = policy(allow(resource=f"{BUCKET}/a${{*}}b${{?}}c${{$}}d"))
        self.assertTrue(is_allowed([literal], request(resource=f"{BUCKET}/a*b?c$d")))
        self.assertFalse(is_allowed([literal], request(resource=f"{BUCKET}/axxbycd")))

    def test_a_default_value(self):
        team = policy(allow(resource=f"{BUCKET}-${{aws:PrincipalTag/team, 'company-wide'}}/*"))
        self.assertTrue(is_allowed([team], request(resource=f"{BUCKET}-yellow/a", tags={"team": "yellow"})))
        self.assertFalse(is_allowed([team], request(resource=f"{BUCKET}-company-wide/a", tags={"team": "yellow"})))
        self.assertTrue(is_allowed([team], request(resource=f"{BUCKET}-company-wide/a")))
        self.assertFalse(is_allowed([team], request(resource=f"{BUCKET}-yellow/a")))

    def test_variables_need_the_2012_version(self):
        # Without Version 2012-10-17, `${aws:username}` is a literal string (IAM: Version element).
        old = policy(allow(resource=f"{BUCKET}/${{aws:username}}/*"), version=None)
        self.assertFalse(is_allowed([old], request(resource=f"{BUCKET}/ada/a")))
        self.assertTrue(is_allowed([old], request(resource=f"{BUCKET}/${{aws:username}}/a")))
        dated = policy(allow(resource=f"{BUCKET}/${{aws:username}}/*"), version="2008-10-17")
        self.assertFalse(is_allowed([dated], request(resource=f"{BUCKET}/ada/a")))
        self.assertTrue(is_allowed([policy(allow(resource=f"{BUCKET}/${{aws:username}}/*"))],
                                   request(resource=f"{BUCKET}/ada/a")))


class PrincipalTest(unittest.TestCase):
    FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"

    def resource_policy(self, principal, effect="Allow", **more) -> dict:
        return policy({"Effect": effect, "Principal": principal, "Action": "lambda:InvokeFunction",
                       "Resource": self.FUNCTION, **more})

    def invoke(self, principal: str) -> Request:
        return request(action="lambda:InvokeFunction", resource=self.FUNCTION, principal=principal)

    def test_service_and_arn_principals(self):
        by_events = self.resource_policy({"Service": "events.amazonaws.com"})
        self.assertTrue(is_allowed([by_events], self.invoke("events.amazonaws.com")))
        self.assertFalse(is_allowed([by_events], self.invoke("apigateway.amazonaws.com")))
        self.assertFalse(is_allowed([by_events], self.invoke(USER)))
        by_ada = self.resource_policy({"AWS": [f"arn:aws:iam::{ACCOUNT}:user/bob", USER]})
        self.assertTrue(is_allowed([by_ada], self.invoke(USER)))
        self.assertFalse(is_allowed([by_ada], self.invoke(f"arn:aws:iam::{ACCOUNT}:user/eve")))
        for anyone in ("*", {"AWS": "*"}):
            self.assertTrue(is_allowed([self.resource_policy(anyone)], self.invoke(USER)), anyone)

    def test_an_identity_policy_applies_to_its_holder(self):
        self.assertTrue(is_allowed([policy(allow(action="lambda:*", resource=self.FUNCTION))], self.invoke(USER)))

    def test_an_account_principal_delegates_to_the_accounts_own_policies(self):
        # IAM: naming an account in a resource-based policy grants nothing to its users and roles
        # by itself (their identity policies must allow); a Deny naming it applies to all of them.
        for account in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"):
            self.assertFalse(is_allowed([self.resource_policy({"AWS": account})], self.invoke(USER)), account)
            self.assertFalse(is_allowed([self.resource_policy({"AWS": account})], self.invoke(SESSION)), account)
            self.assertTrue(is_allowed([self.resource_policy({"AWS": account})],
                                       self.invoke(f"arn:aws:iam::{ACCOUNT}:root")), account)
            refused = [policy(allow(action="lambda:*", resource="*")), self.resource_policy({"AWS": account}, "Deny")]
            self.assertEqual(decide(refused, self.invoke(USER)), "Deny", account)
            self.assertEqual(decide(refused, self.invoke(f"arn:aws:iam::111111111111:user/ada")), "Allow", account)

    def test_not_principal_fails_closed(self):
        everyone_but_bob = policy({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
                                   "Action": "lambda:InvokeFunction", "Resource": self.FUNCTION})
        self.assertFalse(is_allowed([everyone_but_bob], self.invoke(USER)))
        self.assertFalse(is_allowed([everyone_but_bob], self.invoke(f"arn:aws:iam::{ACCOUNT}:user/bob")))
        deny_but_ada = policy({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "lambda:*", "Resource": "*"})
        self.assertEqual(decide([self.resource_policy("*"), deny_but_ada], self.invoke(USER)), "Deny")

    def test_a_principal_is_matched_only_for_its_action_and_resource(self):
        elsewhere = policy({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "s3:*", "Resource": "*"})
        self.assertEqual(decide([self.resource_policy("*"), elsewhere], self.invoke(USER)), "Allow")


class IdentityContextTest(unittest.TestCase):
    def test_an_assumed_role_session_is_its_role(self):
        context = identity_context(SESSION, {"chatAccountId": "a"})
        self.assertEqual(context["aws:PrincipalArn"], f"arn:aws:iam::{ACCOUNT}:role/ConsoleStartRole")
        self.assertEqual(context["aws:PrincipalAccount"], ACCOUNT)
        self.assertEqual(context["aws:PrincipalTag/chatAccountId"], "a")
        self.assertEqual(context["aws:PrincipalType"], "AssumedRole")
        self.assertEqual(identity_context(USER)["aws:PrincipalArn"], USER)
        self.assertEqual(identity_context(USER)["aws:PrincipalType"], "User")

    def test_principal_arn_conditions(self):
        by_role = policy(allow(Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Console*"}}))
        self.assertTrue(is_allowed([by_role], request(principal=SESSION)))
        self.assertFalse(is_allowed([by_role], request(principal=USER)))


class TemplatePoliciesTest(unittest.TestCase):
    """template.yaml's own policies, as the local gateway and the invoke proxy evaluate them."""

    ROUTE = "arn:aws:execute-api:us-east-1:000000000000:local/local/{method}/accounts/{account}/data-exports{rest}"
    A = "11111111-1111-4111-8111-111111111111"
    B = "22222222-2222-4222-8222-222222222222"

    @classmethod
    def setUpClass(cls):
        cls.template = local_template.template()
        cls.managed = cls.template.managed_policies()
        cls.functions = cls.template.function_policies()

    def route(self, method: str, account: str, rest: str = "") -> str:
        return self.ROUTE.format(method=method, account=account, rest=rest)

    def may(self, policies: list[str], method: str, account: str, rest: str = "", tags=None) -> bool:
        return is_allowed([self.managed[n] for n in policies],
                          request("execute-api:Invoke", self.route(method, account, rest), SESSION, tags=tags))

    def test_a_console_start_role_starts_exports_of_its_tagged_account_only(self):
        tag = {"chatAccountId": self.A}
        self.assertTrue(self.may(["StartDataExport"], "POST", self.A, tags=tag))
        self.assertFalse(self.may(["StartDataExport"], "POST", self.B, tags=tag))
        self.assertFalse(self.may(["StartDataExport"], "GET", self.A, tags=tag))
        self.assertFalse(self.may(["StartDataExport"], "POST", self.A))  # no tag: Null "false" fails
        self.assertFalse(self.may(["StartDataExport"], "POST", self.A, tags={"chatAccountId": "*"}))

    def test_retrieve_and_full_access_and_the_operator(self):
        tag = {"chatAccountId": self.A}
        self.assertTrue(self.may(["RetrieveDataExport"], "GET", self.A, "/x", tags=tag))
        self.assertTrue(self.may(["RetrieveDataExport"], "GET", self.A, tags=tag))
        self.assertFalse(self.may(["RetrieveDataExport"], "GET", self.B, "/x", tags=tag))
        self.assertFalse(self.may(["RetrieveDataExport"], "POST", self.A, tags=tag))
        self.assertTrue(self.may(["DataExportFullAccess"], "POST", self.A, tags=tag))
        self.assertTrue(self.may(["DataExportFullAccess"], "GET", self.A, "/x", tags=tag))
        self.assertTrue(self.may(["DataExportOperator"], "POST", self.B))
        self.assertFalse(self.may(["DataExportOperator"], "DELETE", self.B, "/x"))
        self.assertFalse(self.may([], "GET", self.A, tags=tag))

    def test_lambda_permissions_need_their_service_and_source(self):
        api = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:start-export-api"
        policy_of = [self.functions[api]]

        def invoke(service, source):
            context = {"aws:SourceArn": source, "aws:SourceAccount": source.split(":")[4]}
            return is_allowed(policy_of, Request("lambda:InvokeFunction", api, {"Service": service}, context))

        self.assertTrue(invoke("apigateway.amazonaws.com", self.route("POST", self.A)))
        self.assertFalse(invoke("apigateway.amazonaws.com", self.route("GET", self.A)))
        self.assertFalse(invoke("events.amazonaws.com", self.route("POST", self.A)))
        self.assertFalse(invoke("apigateway.amazonaws.com",
                                self.route("POST", self.A).replace(ACCOUNT, "111111111111")))
        self.assertFalse(is_allowed(policy_of, Request("lambda:InvokeFunction", api, {"Service": "apigateway.amazonaws.com"})))


if __name__ == "__main__":
    unittest.main()
