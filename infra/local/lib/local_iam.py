"""IAM for the local stack: template.yaml's policies (local_template.py reads them), evaluated as IAM
evaluates them, so local refusals are the deployed stack's.

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
"""

import re
from dataclasses import dataclass, field

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
