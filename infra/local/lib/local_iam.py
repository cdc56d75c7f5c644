"""IAM for the local stack, read from template.yaml, so local refusals are the deployed stack's.

The local API gateway asks it whether a caller may `execute-api:Invoke` a route (the managed
policies StartDataExport, RetrieveDataExport, DataExportFullAccess, DataExportOperator), and the
invoke proxy whether a caller may `lambda:InvokeFunction` a function (identity policies, and the
functions' AWS::Lambda::Permission resources as Lambda's resource-based policies). Nothing here
restates a policy: a change to the template changes what the local stack allows.

What it evaluates, as IAM does: an explicit Deny wins, otherwise any Allow allows, otherwise the
request is implicitly denied. Action/NotAction (case-insensitive, `*` and `?`), Resource/
NotResource (`*` and `?`, matching across `/` and `:`), Principal (`*`, `AWS`, `Service`), the
policy variable `${aws:PrincipalTag/K}` (and `${*}`, `${?}`, `${$}`), and the condition operators
in CONDITION_OPERATORS (with `...IfExists`). What it does not: SCPs, permission boundaries, session
policies, and condition keys other than those the callers supply (aws:PrincipalTag/*,
aws:PrincipalArn, aws:SourceArn, aws:SourceAccount): an unknown operator fails closed.

Resolves the intrinsic functions the policies use: !Sub, !Ref, !GetAtt (functions, rules),
with the local values in PSEUDO_PARAMETERS; a function's local name is its Metadata Binary.
"""

import os
import re
from dataclasses import dataclass, field
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
        if name in self.document.get("Parameters", {}):
            return str(self.document["Parameters"][name].get("Default", ""))
        resource = self.resources.get(name)
        if resource is None:
            raise ValueError(f"local_iam: !Ref {name} names nothing in template.yaml")
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
            raise ValueError(f"local_iam: cannot resolve !GetAtt {name}.{attribute}")
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name(name)}"
        if kind == "AWS::Events::Rule":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.ref(name)}"
        if kind == "AWS::IAM::Role":
            return self.role_arn(name)
        raise ValueError(f"local_iam: cannot resolve !GetAtt {name}.Arn ({kind})")

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
            principal = props["Principal"]
            statement = {
                "Sid": logical_id,
                "Effect": "Allow",
                "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": props["Action"],
                "Resource": function,
            }
            if condition:
                statement["Condition"] = condition
            policies.setdefault(function, {"Version": "2012-10-17", "Statement": []})["Statement"].append(statement)
        return policies


@lru_cache(maxsize=1)
def template() -> Template:
    return Template(load_template())


# --- Evaluation


@dataclass
class Request:
    """One request to authorize. `principal`: {"AWS": arn} or {"Service": name}; `context`: the
    condition keys the caller supplies (aws:PrincipalTag/K, aws:SourceArn, …), any letter case."""

    action: str
    resource: str
    principal: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        """A condition key's value; key names are case-insensitive, as in IAM."""
        wanted = key.lower()
        return next((v for k, v in self.context.items() if k.lower() == wanted), None)


def identity_context(principal_arn: str, tags: dict[str, str] | None = None) -> dict[str, str]:
    """The global condition keys of an IAM identity: aws:PrincipalArn (an assumed-role session's
    is its role's ARN, as in IAM) and one aws:PrincipalTag/K per tag."""
    found = re.fullmatch(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/.+", principal_arn)
    role_arn = f"arn:aws:iam::{found[1]}:role/{found[2]}" if found else principal_arn
    context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": principal_arn.split(":")[4]}
    context.update({f"aws:PrincipalTag/{k}": v for k, v in (tags or {}).items()})
    return context


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def pattern(text: str, request: Request | None, *, wildcards: bool = True, ignore_case: bool = False) -> re.Pattern | None:
    """A policy string as a regex: `*`/`?` are wildcards (when allowed), `${key}` policy variables
    are replaced by the request's value, matched literally (a `*` in a tag value is no wildcard).
    None when a variable has no value: that entry then matches nothing."""
    out = []
    position = 0
    for match in _VARIABLE.finditer(text):
        out.append(_glob(text[position:match.start()], wildcards))
        name = match.group(1)
        value = _SPECIAL.get(name) if name in _SPECIAL else (request.value(name) if request else None)
        if value is None:
            return None
        out.append(re.escape(value))
        position = match.end()
    out.append(_glob(text[position:], wildcards))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def matches(patterns, value: str, request: Request | None, *, ignore_case: bool = False, wildcards: bool = True) -> bool:
    for text in as_list(patterns):
        compiled = pattern(str(text), request, wildcards=wildcards, ignore_case=ignore_case)
        if compiled is not None and compiled.fullmatch(value):
            return True
    return False


def _string_equals(values, actual, request):
    return matches(values, actual, request, wildcards=False)


def _string_equals_ignore_case(values, actual, request):
    return matches(values, actual, request, wildcards=False, ignore_case=True)


def _string_like(values, actual, request):
    return matches(values, actual, request)


def _bool(values, actual, _request):
    return any(str(v).lower() == actual.lower() for v in as_list(values))


# operator -> (test of one present value, negated). ArnEquals and ArnLike both take wildcards in IAM.
CONDITION_OPERATORS = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string_like, False),
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
}


class UnknownOperator(Exception):
    pass


def condition_holds(condition: dict, request: Request) -> bool:
    """Every operator, every key in it (AND); any of a key's values (OR). A missing key satisfies
    only negated operators, `...IfExists`, and `Null: true`."""
    for operator, keys in condition.items():
        if_exists = operator.endswith("IfExists") and operator != "IfExists"
        base = operator.removesuffix("IfExists") if if_exists else operator
        for key, values in keys.items():
            actual = request.value(key)
            if base == "Null":
                if not any((actual is None) == (str(v).lower() == "true") for v in as_list(values)):
                    return False
                continue
            if base not in CONDITION_OPERATORS:
                raise UnknownOperator(operator)
            test, negated = CONDITION_OPERATORS[base]
            if actual is None:
                if not (negated or if_exists):
                    return False
                continue
            if test(values, actual, request) == negated:
                return False
    return True


def principal_matches(statement: dict, request: Request) -> bool:
    if "Principal" not in statement:  # an identity policy: it applies to the identity holding it
        return True
    principal = statement["Principal"]
    if principal == "*":
        return True
    for kind, names in principal.items():
        for name in as_list(names):
            if name == "*" or request.principal.get(kind) == name:
                return True
            if kind == "AWS" and re.fullmatch(r"\d{12}", name) and request.principal.get("AWS", "").split(":")[4:5] == [name]:
                return True
    return False


def statement_applies(statement: dict, request: Request) -> bool:
    if not principal_matches(statement, request):
        return False
    if "Action" in statement:
        if not matches(statement["Action"], request.action, None, ignore_case=True):
            return False
    elif "NotAction" in statement:
        if matches(statement["NotAction"], request.action, None, ignore_case=True):
            return False
    else:
        return False
    if "Resource" in statement:
        if not matches(statement["Resource"], request.resource, request):
            return False
    elif "NotResource" in statement and matches(statement["NotResource"], request.resource, request):
        return False
    try:
        return condition_holds(statement.get("Condition", {}), request)
    except UnknownOperator:
        # Fail closed: an Allow we cannot evaluate allows nothing; a Deny we cannot evaluate denies.
        return statement.get("Effect") == "Deny"


def decide(policies: list[dict], request: Request) -> str:
    """"Deny" (an explicit Deny applies), "Allow" (an Allow applies and no Deny), or
    "ImplicitDeny" (nothing applies)."""
    allowed = False
    for policy in policies:
        for statement in as_list(policy.get("Statement")):
            if statement_applies(statement, request):
                if statement.get("Effect") == "Deny":
                    return "Deny"
                allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


def is_allowed(policies: list[dict], request: Request) -> bool:
    return decide(policies, request) == "Allow"
