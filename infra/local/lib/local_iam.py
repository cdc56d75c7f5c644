"""IAM for the local stack: template.yaml's policies (local_template.py reads them), evaluated as IAM
evaluates them, so local refusals are the deployed stack's.

The local API gateway asks it whether a caller may `execute-api:Invoke` a route (the managed
policies StartDataExport, RetrieveDataExport, DataExportFullAccess, DataExportOperator), and the
invoke proxy whether a caller may `lambda:InvokeFunction` a function (identity policies, and the
functions' AWS::Lambda::Permission resources as Lambda's resource-based policies). Nothing here
restates a policy: a change to the template changes what the local stack allows.

What it evaluates, as IAM does (tests/test_local_iam.py checks each point): an explicit Deny wins,
otherwise any Allow allows, otherwise the request is implicitly denied. Action/NotAction
(case-insensitive, `*` and `?`), Resource/NotResource (`*` and `?`, matching across `/` and `:`),
Principal (`*`, `AWS`, `Service`; an account principal delegates to the account), policy variables
(`${aws:PrincipalTag/K}`, `${aws:username}`, any key the caller supplies, `${key, 'default'}`,
`${*}`, `${?}`, `${$}`; only in a policy of Version 2012-10-17; one without a value matches nothing),
and the condition operators in CONDITION_OPERATORS (with `...IfExists`) and Null; ArnLike/ArnEquals
component by component. What it does not: SCPs, permission boundaries, session policies,
NotPrincipal, the numeric, date, IP, binary and multivalued (ForAnyValue/ForAllValues) operators,
and condition keys other than those the callers supply (aws:PrincipalTag/*, aws:PrincipalArn,
aws:PrincipalAccount, aws:PrincipalType, aws:username, aws:SourceArn, aws:SourceAccount). What it
cannot evaluate (those, or a statement IAM would refuse) fails closed: such an Allow allows
nothing, such a Deny denies.
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
    is its role's ARN, as in IAM), aws:PrincipalAccount, aws:PrincipalType, aws:username (an IAM
    user's friendly name; IAM has none for a role session or the root) and one aws:PrincipalTag/K
    per tag."""
    session = re.fullmatch(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/.+", principal_arn)
    user = re.fullmatch(r"arn:aws:iam::\d+:user/(?:.*/)?([^/]+)", principal_arn)
    role_arn = f"arn:aws:iam::{session[1]}:role/{session[2]}" if session else principal_arn
    context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": principal_arn.split(":")[4]}
    if session:
        context["aws:PrincipalType"] = "AssumedRole"
    elif user:
        context.update({"aws:PrincipalType": "User", "aws:username": user[1]})
    elif re.fullmatch(r"arn:aws:iam::\d+:root", principal_arn):
        context["aws:PrincipalType"] = "Account"
    context.update({f"aws:PrincipalTag/{k}": v for k, v in (tags or {}).items()})
    return context


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Unevaluable(Exception):
    """A statement this evaluator cannot evaluate as IAM would: an element or operator it does not
    implement, or a statement IAM would refuse to store. It fails closed: such an Allow allows
    nothing, such a Deny denies (statement_applies)."""


class UnknownOperator(Unevaluable):
    pass


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
# `${key, 'default'}`: the default when the request has no value for the key (IAM's default values).
_DEFAULT = re.compile(r"(.*?), '(.*)'", re.DOTALL)
POLICY_VARIABLES_VERSION = "2012-10-17"  # a policy of another (or no) Version has no variables


def variable_value(name: str, request: Request | None) -> str | None:
    """The value of the policy variable `${name}`: a special character, the request's value of the
    key, or the variable's default; None when it has none."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    key, default = name, None
    found = _DEFAULT.fullmatch(name)
    if found:
        key, default = found[1], found[2]
    value = request.value(key) if request is not None else None
    return default if value is None else value


def pattern(text: str, request: Request | None, *, wildcards: bool = True, ignore_case: bool = False,
            variables: bool = True) -> re.Pattern | None:
    """A policy string as a regex: `*`/`?` are wildcards (when allowed), `${key}` policy variables
    (when the policy's Version has them) are replaced by the request's value, matched literally (a
    `*` in a tag value is no wildcard). None when a variable has no value: as in IAM, that entry
    then matches nothing."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    if not variables:
        return re.compile(_glob(text, wildcards), flags)
    out = []
    position = 0
    for match in _VARIABLE.finditer(text):
        out.append(_glob(text[position:match.start()], wildcards))
        value = variable_value(match.group(1), request)
        if value is None:
            return None
        out.append(re.escape(value))
        position = match.end()
    out.append(_glob(text[position:], wildcards))
    return re.compile("".join(out), flags)


def _glob(text: str, wildcards: bool) -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def matches(patterns, value: str, request: Request | None, *, ignore_case: bool = False, wildcards: bool = True,
            variables: bool = True) -> bool:
    for text in as_list(patterns):
        compiled = pattern(str(text), request, wildcards=wildcards, ignore_case=ignore_case, variables=variables)
        if compiled is not None and compiled.fullmatch(value):
            return True
    return False


def _string_equals(values, actual, request, variables):
    return matches(values, actual, request, wildcards=False, variables=variables)


def _string_equals_ignore_case(values, actual, request, variables):
    return matches(values, actual, request, wildcards=False, ignore_case=True, variables=variables)


def _string_like(values, actual, request, variables):
    return matches(values, actual, request, variables=variables)


_ARN_COLON = re.compile(r"\$\{[^}]*\}|:")


def arn_components(text: str, variables: bool = True) -> list[str] | None:
    """The six colon-delimited components of an ARN, the sixth (the resource) to the end, colons
    and all; a colon inside a policy variable (`${aws:SourceArn}`) is none. None: not six."""
    parts: list[str] = []
    start = 0
    for found in _ARN_COLON.finditer(text) if variables else re.finditer(":", text):
        if len(parts) == 5:
            break
        if found.group() == ":":
            parts.append(text[start:found.start()])
            start = found.end()
    parts.append(text[start:])
    return parts if len(parts) == 6 else None


def _arn_like(values, actual, request, variables):
    """ArnLike and ArnEquals (identical in IAM): "each of the six colon-delimited components of the
    ARN is checked separately", case-sensitively, each with `*` and `?` (a `*` never reaches into
    the next component). A value that is no ARN cannot be evaluated (fails closed); a key's value
    that is no ARN is like none."""
    expected = []
    for text in as_list(values):
        components = arn_components(str(text), variables)
        if components is None:
            raise Unevaluable(f"{text!r} is not an ARN")
        expected.append(components)
    parts = actual.split(":", 5)
    if len(parts) != 6:
        return False
    for components in expected:
        compiled = [pattern(c, request, variables=variables) for c in components]
        if all(c is not None and c.fullmatch(p) for c, p in zip(compiled, parts)):
            return True
    return False


def _bool(values, actual, _request, _variables):
    return any(str(v).lower() == actual.lower() for v in as_list(values))


# operator -> (test of one present value, negated).
CONDITION_OPERATORS = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
}


def _null_expects_absent(value) -> bool:
    """Null's value: true (the key must be absent) or false (present); nothing else."""
    text = str(value).lower()
    if text not in ("true", "false"):
        raise Unevaluable(f"Null takes true or false, not {value!r}")
    return text == "true"


def condition_holds(condition: dict, request: Request, variables: bool = True) -> bool:
    """Every operator, every key in it (AND); any of a key's values (OR). A missing key satisfies
    only negated operators, `...IfExists`, and `Null: true`. Raises Unevaluable for an operator
    not in CONDITION_OPERATORS (nor Null), for Null with IfExists, and for a malformed block."""
    if not isinstance(condition, dict):
        raise Unevaluable("Condition is not a map")
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            raise Unevaluable(f"{operator} is not a map of keys")
        if_exists = operator.endswith("IfExists") and operator != "IfExists"
        base = operator.removesuffix("IfExists") if if_exists else operator
        if base == "Null" and if_exists:
            raise UnknownOperator(operator)  # IAM has no NullIfExists
        if base != "Null" and base not in CONDITION_OPERATORS:
            raise UnknownOperator(operator)
        for key, values in keys.items():
            actual = request.value(key)
            if base == "Null":
                if not any((actual is None) == _null_expects_absent(v) for v in as_list(values)):
                    return False
                continue
            test, negated = CONDITION_OPERATORS[base]
            if actual is None:
                if not (negated or if_exists):
                    return False
                continue
            if test(values, actual, request, variables) == negated:
                return False
    return True


def _account_principal(name: str) -> str | None:
    """The account an `AWS` principal names as an account (`123456789012` or its root user's ARN)."""
    found = re.fullmatch(r"(\d{12})|arn:aws:iam::(\d{12}):root", name)
    return (found[1] or found[2]) if found else None


def principal_matches(statement: dict, request: Request) -> bool:
    """Whether the statement's Principal names the caller. An identity policy's statements (no
    Principal) apply to the identity holding them. An account principal in an Allow delegates to
    the account (its identities need their own policies to allow: it grants nothing by itself but
    to the root), in a Deny it names every principal of the account. NotPrincipal is not
    implemented: Unevaluable."""
    if "NotPrincipal" in statement:
        raise Unevaluable("NotPrincipal")
    if "Principal" not in statement:
        return True
    principal = statement["Principal"]
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise Unevaluable(f"Principal {principal!r}")
    caller_arn = request.principal.get("AWS", "")
    for kind, names in principal.items():
        for name in as_list(names):
            if name == "*":
                return True
            account = _account_principal(str(name)) if kind == "AWS" else None
            if account is not None:
                if caller_arn == f"arn:aws:iam::{account}:root":
                    return True
                if statement.get("Effect") == "Deny" and caller_arn.split(":")[4:5] == [account]:
                    return True
            elif request.principal.get(kind) == name:
                return True
    return False


def _exactly_one(statement: dict, element: str, negated: str) -> str:
    present = [k for k in (element, negated) if k in statement]
    if len(present) != 1:
        raise Unevaluable(f"a statement has exactly one of {element} and {negated}")
    return present[0]


def statement_applies(statement: dict, request: Request, variables: bool = True) -> bool:
    """Whether the statement applies to the request: its Action (or NotAction), Resource (or
    NotResource), Principal and Condition all match. A statement that cannot be evaluated fails
    closed: an Allow we cannot evaluate allows nothing; a Deny we cannot evaluate denies (once its
    action and resource, when those can be evaluated, are the request's)."""
    try:
        action = _exactly_one(statement, "Action", "NotAction")
        resource = _exactly_one(statement, "Resource", "NotResource")
        if matches(statement[action], request.action, None, ignore_case=True, variables=variables) != (action == "Action"):
            return False
        if matches(statement[resource], request.resource, request, variables=variables) != (resource == "Resource"):
            return False
        if not principal_matches(statement, request):
            return False
        return condition_holds(statement.get("Condition", {}), request, variables)
    except Unevaluable:
        return statement.get("Effect") == "Deny"


def decide(policies: list[dict], request: Request) -> str:
    """"Deny" (an explicit Deny applies), "Allow" (an Allow applies and no Deny), or
    "ImplicitDeny" (nothing applies)."""
    allowed = False
    for policy in policies:
        variables = policy.get("Version") == POLICY_VARIABLES_VERSION
        for statement in as_list(policy.get("Statement")):
            if isinstance(statement, dict) and statement_applies(statement, request, variables):
                if statement.get("Effect") == "Deny":
                    return "Deny"
                allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


def is_allowed(policies: list[dict], request: Request) -> bool:
    return decide(policies, request) == "Allow"
