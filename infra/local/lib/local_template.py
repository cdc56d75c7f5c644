"""template.yaml for the local stack: read with its CloudFormation tags, its intrinsic functions
resolved to local values, and the local stack's globals (account, region, stack name, API id).

The local IAM (local_iam.py) evaluates the policies read here; the console's Cognito resources
(local_cognito.py) and the servers read the rest of the template through it, so nothing of the
template is restated locally: a change to the template changes the local stack.

Resolves the intrinsic functions the policies use: !Sub, !Ref, !GetAtt (functions, rules, roles),
with the local values in PSEUDO_PARAMETERS; a function's local name is its Metadata Binary. Also the
function URLs (AWS::Lambda::Url), which the function URL stand-in serves and the invoke proxy
authorizes.
"""

import os
import re
from functools import lru_cache
from pathlib import Path

import yaml

from . import ROOT

TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "000000000000"
REGION = os.environ.get("AWS_REGION") or "us-east-1"
STACK_NAME = "attachment-export"
API_ID = "local"  # the local gateway's apiId (and stage)
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK_NAME,
    "AWS::URLSuffix": "amazonaws.com",
}


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !If, …) as plain values: `!Sub x` -> {"Sub": x}."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


CloudFormationLoader.add_multi_constructor("!", _any_tag)


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=CloudFormationLoader)


# The template parameters the local stack sets otherwise than their defaults, each with why. The
# console's suite signs its users in without an authenticator, so the local pool leaves two-step
# sign-in OPTIONAL; the required path (MFA_SETUP, then a code at every sign-in) is a console test
# of its own, which switches the pool to ON (console/tests/helpers.ts requireMfa).
# Every local client has one address, 127.0.0.1 (the test suite, Schemathesis, the console's browser,
# the CLI), where on AWS each caller has its own: the web ACL's per-address rule would count the
# whole suite as one caller, so locally it takes WAF's largest limit. The per-session rule and the
# stage's throttle keep the template's values (tests/tests/noisy_neighbour.rs floods them); the
# per-address rule's counting is unit-tested (infra/local/tests/test_local_limits.py).
LOCAL_PARAMETERS = {"ConsoleMfa": "OPTIONAL", "IpRequestsPerMinute": "2000000000"}


class Template:
    """template.yaml's resources, with the intrinsic functions the policies use resolved locally."""

    def __init__(self, document: dict):
        self.document = document
        self.resources: dict[str, dict] = document["Resources"]

    def of_type(self, kind: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}

    def function_name(self, logical_id: str) -> str:
        """The function's local name: its crate binary (start-export, …)."""
        return self.resources[logical_id]["Metadata"]["BuildProperties"]["Binary"]

    def ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in LOCAL_PARAMETERS:
            return LOCAL_PARAMETERS[name]
        if name in self.document.get("Parameters", {}):
            return str(self.document["Parameters"][name].get("Default", ""))
        resource = self.resources.get(name)
        if resource is None:
            raise ValueError(f"local_template: !Ref {name} names nothing in template.yaml")
        kind = resource["Type"]
        if name == "ExportApi":
            return API_ID
        if kind == "AWS::Serverless::Function":
            return self.function_name(name)
        if kind == "AWS::Events::Rule":
            return self.resolve(resource["Properties"]["Name"])
        return name  # other resources: their logical id is a fine local name

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name)
        if resource is None or attribute != "Arn":
            raise ValueError(f"local_template: cannot resolve !GetAtt {name}.{attribute}")
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name(name)}"
        if kind == "AWS::Events::Rule":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.ref(name)}"
        if kind == "AWS::IAM::Role":
            return self.role_arn(name)
        # Named in the state machine role's policies. Locally the S3 server knows one key (the
        # stack's), so no S3 or KMS request is decided by them; their ARNs only need to parse.
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.ref(name)}"
        raise ValueError(f"local_template: cannot resolve !GetAtt {name}.Arn ({kind})")

    def sub(self, text: str, variables: dict | None = None) -> str:
        variables = variables or {}

        def one(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):  # ${!Literal}: Fn::Sub leaves `${Literal}` (an IAM variable)
                return "${" + inner[1:] + "}"
            if inner in variables:
                return self.resolve(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                return self.get_att(*inner.split(".", 1))
            return self.ref(inner)

        return re.sub(r"\$\{([^}]*)\}", one, text)

    def resolve(self, value):
        """The value with !Sub, !Ref and !GetAtt (short or long form) replaced by local strings."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key in ("Sub", "Fn::Sub"):
                return self.sub(arg) if isinstance(arg, str) else self.sub(arg[0], arg[1])
            if key in ("Ref", "Fn::Ref"):
                return self.ref(arg)
            if key in ("GetAtt", "Fn::GetAtt"):
                name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(name, attribute)
        return {k: self.resolve(v) for k, v in value.items()}

    def managed_policies(self) -> dict[str, dict]:
        """Short name (ManagedPolicyName without `<stack>-`) -> policy document."""
        policies = {}
        for resource in self.of_type("AWS::IAM::ManagedPolicy").values():
            props = resource["Properties"]
            name = self.resolve(props["ManagedPolicyName"]).removeprefix(f"{STACK_NAME}-")
            policies[name] = self.resolve(props["PolicyDocument"])
        return policies

    def role_name(self, logical_id: str) -> str:
        """A role's local name: its RoleName, else its logical id (the state machine's role is
        arn:aws:iam::000000000000:role/ExportStateMachineRole the same way)."""
        props = self.resources[logical_id].get("Properties", {})
        return self.resolve(props["RoleName"]) if "RoleName" in props else logical_id

    def role_arn(self, logical_id: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.role_name(logical_id)}"

    def role_logical_id(self, arn: str) -> str | None:
        """The AWS::IAM::Role of template.yaml whose local ARN is `arn`, or None."""
        return next((k for k in self.of_type("AWS::IAM::Role") if self.role_arn(k) == arn), None)

    def role_identity_policies(self, role: str) -> list[dict]:
        """Every identity policy of a role: its ManagedPolicyArns that name the template's managed
        policies (!Ref) and its inline policies. A managed policy ARN from outside the template
        (an AWS managed policy) has no local document and grants nothing locally."""
        documents = []
        for entry in self.resources[role]["Properties"].get("ManagedPolicyArns", []):
            if isinstance(entry, dict) and len(entry) == 1:
                (key, target), = entry.items()
                resource = self.resources.get(target) if key in ("Ref", "Fn::Ref") else None
                if resource and resource["Type"] == "AWS::IAM::ManagedPolicy":
                    documents.append(self.resolve(resource["Properties"]["PolicyDocument"]))
        return documents + self.role_policies(role)

    def role_policies(self, role: str) -> list[dict]:
        """A role's inline policies and the AWS::IAM::RolePolicy resources attached to it."""
        documents = [p["PolicyDocument"] for p in self.resources[role]["Properties"].get("Policies", [])]
        for resource in self.of_type("AWS::IAM::RolePolicy").values():
            if resource["Properties"]["RoleName"] in ({"Ref": role}, {"Fn::Ref": role}):
                documents.append(resource["Properties"]["PolicyDocument"])
        return [self.resolve(d) for d in documents]

    def function_policies(self) -> dict[str, dict]:
        """Function ARN -> its resource-based policy, one statement per AWS::Lambda::Permission,
        shaped as `lambda add-permission` writes it."""
        policies: dict[str, dict] = {}
        for logical_id, resource in self.of_type("AWS::Lambda::Permission").items():
            props = self.resolve(resource["Properties"])
            function = props["FunctionName"]
            if not function.startswith("arn:"):
                function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
            condition: dict = {}
            if "SourceArn" in props:
                condition["ArnLike"] = {"AWS:SourceArn": props["SourceArn"]}
            if "SourceAccount" in props:
                condition["StringEquals"] = {"AWS:SourceAccount": props["SourceAccount"]}
            # A function URL's permissions, as `add-permission --function-url-auth-type` and
            # `--invoked-via-function-url` write them: conditions on the keys Lambda sets when its
            # function URL service invokes (the invoke proxy supplies them for the local stand-in).
            if "FunctionUrlAuthType" in props:
                condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
            if "InvokedViaFunctionUrl" in props:
                condition["Bool"] = {"lambda:InvokedViaFunctionUrl": str(props["InvokedViaFunctionUrl"]).lower()}
            principal = props["Principal"]
            statement = {
                "Sid": logical_id,
                "Effect": "Allow",
                "Principal": "*" if principal == "*"
                else {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": props["Action"],
                "Resource": function,
            }
            if condition:
                statement["Condition"] = condition
            policies.setdefault(function, {"Version": "2012-10-17", "Statement": []})["Statement"].append(statement)
        return policies

    def function_urls(self) -> dict[str, dict]:
        """Function ARN -> its AWS::Lambda::Url's properties (TargetFunctionArn resolved), with the
        URL's logical id under "LogicalId"."""
        urls: dict[str, dict] = {}
        for logical_id, resource in self.of_type("AWS::Lambda::Url").items():
            props = self.resolve(resource["Properties"])
            if props.get("Qualifier"):
                raise ValueError(f"local_template: {logical_id}: a function URL of an alias is not implemented locally")
            urls[props["TargetFunctionArn"]] = dict(props, LogicalId=logical_id)
        return urls


@lru_cache(maxsize=1)
def template() -> Template:
    return Template(load_template())
